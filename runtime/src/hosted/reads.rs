//! The fast reads (`/v1/availability`, `/v1/promise`): from the
//! availability the shards publish each tick ([`crate::host::Host::view`]);
//! no shard is touched, so they may lag a change by a tick.

use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_config::geo::haversine_km;

use super::HostedCore;
use crate::dto::{AvailabilityAnswer, LevelPromiseView, NearbyView, PromiseAnswer};
use crate::error::ApiError;
use crate::validate;

impl HostedCore {
    /// Units available at a cell as last published (0: no such cell).
    fn published(&self, sku: SkuIdx, i: usize) -> u32 {
        let key = CellKey {
            sku,
            facility: FacilityIdx(i as u16),
        };
        self.host.view().available(key).unwrap_or(0)
    }

    /// Availability near a point (`GET /v1/availability`): the network's
    /// and, nearest first, each facility's within `radius_km`.
    pub fn availability(
        &self,
        sku_id: &str,
        lat: f64,
        lon: f64,
        radius_km: f64,
    ) -> Result<AvailabilityAnswer, ApiError> {
        let sku = validate::sku(&self.catalog, "sku", sku_id)?;
        validate::point(lat, lon)?;
        validate::radius(radius_km)?;
        let mut network = 0u64;
        let mut nearby = 0u64;
        let mut facilities = Vec::new();
        for (i, f) in self.catalog.facilities().iter().enumerate() {
            let available = self.published(sku, i);
            network += u64::from(available);
            let d = haversine_km(f.lat, f.lon, lat, lon);
            if d <= radius_km {
                nearby += u64::from(available);
                facilities.push(NearbyView {
                    facility_id: f.id.clone(),
                    available,
                    distance_km: (d * 10.0).round() / 10.0,
                });
            }
        }
        facilities.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
        Ok(AvailabilityAnswer {
            sku: sku_id.into(),
            network_available: network,
            nearby_available: nearby,
            facilities,
        })
    }

    /// The delivery promise (`GET /v1/promise`) for `qty` units to a point
    /// at the host clock's now: per service level, the earliest date over
    /// the facilities whose published availability covers `qty`.
    pub fn promise(
        &self,
        sku_id: &str,
        qty: u32,
        lat: f64,
        lon: f64,
    ) -> Result<PromiseAnswer, ApiError> {
        let sku = validate::sku(&self.catalog, "sku", sku_id)?;
        validate::point(lat, lon)?;
        if qty == 0 {
            return Err(validate::invalid(
                "invalid_quantity",
                "qty: must be at least 1, got 0",
            ));
        }
        let facilities = self.catalog.facilities();
        let candidates: Vec<(usize, f64)> = facilities
            .iter()
            .enumerate()
            .filter(|(i, _)| self.published(sku, *i) >= qty)
            .map(|(i, f)| (i, haversine_km(f.lat, f.lon, lat, lon)))
            .collect();
        let carriers = &self.carriers;
        let now = self.host.clock().now();
        let promises = orch_actors::shipping::promise(carriers, &candidates, qty, now)
            .into_iter()
            .map(|p| {
                let carrier = &carriers.carriers[p.quote.carrier];
                LevelPromiseView {
                    service_level: p.level,
                    delivery_date: orch_actors::shipping::date_string(p.quote.delivery_day),
                    facility_id: facilities[p.facility].id.to_string(),
                    carrier: carrier.id.clone(),
                    service: carrier.services[p.quote.service].id.clone(),
                    shipping_cost: (p.quote.cost * 100.0).round() / 100.0,
                }
            })
            .collect();
        Ok(PromiseAnswer {
            sku: sku_id.into(),
            promises,
        })
    }
}
