//! Stock reads. The fast ones (`/v1/availability`, `/v1/promise`) come
//! from the availability the shards publish each tick
//! ([`crate::host::Host::view`]): no shard is touched, so they may lag a
//! change by a tick. Inventory (`/v1/inventory/{sku}`) needs on hand,
//! reserved and held, which the view does not carry: it reads the shards.

use std::collections::BTreeMap;

use orch_actors::{CellKey, FacilityIdx, SkuIdx};

use super::{overloaded, HostedCore};
use crate::dto::{AvailabilityAnswer, CellView, InventoryView, PromiseAnswer};
use crate::error::{quote, ApiError};

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
        crate::nearby::availability(&self.catalog, sku_id, lat, lon, radius_km, |sku, i| {
            self.published(sku, i)
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
        let now = self.host.clock().now();
        crate::nearby::promise(
            &self.catalog,
            &self.carriers,
            sku_id,
            qty,
            lat,
            lon,
            now,
            |sku, i| self.published(sku, i),
        )
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
