//! The reads about one SKU near a point (`GET /v1/availability`,
//! `GET /v1/promise`), once for every engine behind the API: each engine
//! hands in how many units a facility has available for the SKU (from its
//! own view) and, for the promise, the instant. The request is checked
//! here, naming the field; nothing is changed.

use orch_actors::SkuIdx;
use orch_config::carriers::Carriers;
use orch_config::geo::haversine_km;
use orch_config::Millis;

use crate::catalog::Catalog;
use crate::dto::{AvailabilityAnswer, LevelPromiseView, NearbyView, PromiseAnswer};
use crate::error::ApiError;
use crate::validate;

/// Availability near a point: the network's and, nearest first, each
/// facility's within `radius_km`. `available(sku, i)` is facility `i`'s.
pub fn availability(
    catalog: &Catalog,
    sku_id: &str,
    lat: f64,
    lon: f64,
    radius_km: f64,
    available: impl Fn(SkuIdx, usize) -> u32,
) -> Result<AvailabilityAnswer, ApiError> {
    let sku = validate::sku(catalog, "sku", sku_id)?;
    validate::point(lat, lon)?;
    validate::radius(radius_km)?;
    let mut network = 0u64;
    let mut nearby = 0u64;
    let mut facilities = Vec::new();
    for (i, f) in catalog.facilities().iter().enumerate() {
        let units = available(sku, i);
        network += u64::from(units);
        let d = haversine_km(f.lat, f.lon, lat, lon);
        if d <= radius_km {
            nearby += u64::from(units);
            facilities.push(NearbyView {
                facility_id: f.id.clone(),
                available: units,
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

/// The delivery promise for `qty` units to a point at `now`: per service
/// level, the earliest date over the facilities whose available units
/// (`available(sku, i)`) cover `qty`.
#[allow(clippy::too_many_arguments)]
pub fn promise(
    catalog: &Catalog,
    carriers: &Carriers,
    sku_id: &str,
    qty: u32,
    lat: f64,
    lon: f64,
    now: Millis,
    available: impl Fn(SkuIdx, usize) -> u32,
) -> Result<PromiseAnswer, ApiError> {
    let sku = validate::sku(catalog, "sku", sku_id)?;
    validate::point(lat, lon)?;
    if qty == 0 {
        return Err(validate::invalid(
            "invalid_quantity",
            "qty: must be at least 1, got 0",
        ));
    }
    let facilities = catalog.facilities();
    let candidates: Vec<(usize, f64)> = facilities
        .iter()
        .enumerate()
        .filter(|(i, _)| available(sku, *i) >= qty)
        .map(|(i, f)| (i, haversine_km(f.lat, f.lon, lat, lon)))
        .collect();
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
