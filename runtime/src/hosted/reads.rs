//! Stock reads. The fast ones (`/v1/availability`, `/v1/promise`) come
//! from the availability the shards publish each tick
//! ([`crate::host::Host::view`]): no shard is touched, so they may lag a
//! change by a tick. Inventory (`/v1/inventory/{sku}`) needs on hand,
//! reserved and held, which the view does not carry: it reads the shards.

use std::collections::BTreeMap;

use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_config::geo::haversine_km;

use super::{overloaded, HostedCore};
use crate::dto::{
    AvailabilityAnswer, CellView, InventoryView, LevelPromiseView, NearbyView, PromiseAnswer,
};
use crate::error::{quote, ApiError};
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

impl HostedCore {
    /// The catalog, paged in id order (`GET /v1/skus`).
    pub fn skus(&self, limit: usize, after: Option<&str>) -> (Vec<String>, Option<String>) {
        crate::present::sku_page(&self.catalog, limit, after)
    }

    /// Inventory of a SKU by facility (`GET /v1/inventory/{sku}`): on
    /// hand, reserved, held and available, in configuration order, read
    /// on the shards that own the cells once what they report is durable.
    /// The published view carries availability only, so this read scans
    /// each owning shard's cells (one read per shard).
    pub async fn inventory(&self, sku_id: &str) -> Result<InventoryView, ApiError> {
        let sku = self.catalog.sku(sku_id).ok_or_else(|| {
            ApiError::not_found(
                "sku_not_found",
                format!("SKU {} does not exist", quote(sku_id)),
            )
        })?;
        let own = self.host.ownership();
        let mut shards: Vec<usize> = (0..self.catalog.facilities().len())
            .map(|i| own.facility(FacilityIdx(i as u16)))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        let mut cells: BTreeMap<u16, CellCounts> = BTreeMap::new();
        for shard in shards {
            let rx = self
                .host
                .read(shard, move |s| {
                    s.cells()
                        .filter(|(k, _)| k.sku == sku)
                        .map(|(k, c)| {
                            let counts = CellCounts {
                                on_hand: c.on_hand(),
                                reserved: c.reserved(),
                                held: c.held(),
                                available: c.available(),
                            };
                            (k.facility.0, counts)
                        })
                        .collect::<Vec<_>>()
                })
                .map_err(|_| overloaded())?;
            let found = rx
                .await
                .map_err(|_| ApiError::unavailable("the host stopped or the journal failed"))?;
            cells.extend(found);
        }
        let facilities: Vec<CellView> = cells
            .into_iter()
            .map(|(f, c)| CellView {
                facility_id: self.catalog.facility_config(FacilityIdx(f)).id.clone(),
                on_hand: c.on_hand,
                reserved: c.reserved,
                held: Some(c.held),
                available: c.available,
            })
            .collect();
        Ok(InventoryView {
            sku: sku_id.into(),
            network_available: facilities.iter().map(|c| u64::from(c.available)).sum(),
            facilities,
        })
    }
}

/// One cell's counts, as read on its shard.
struct CellCounts {
    on_hand: u32,
    reserved: u32,
    held: u32,
    available: u32,
}
