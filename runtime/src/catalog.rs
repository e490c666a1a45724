//! Client ids (strings) to the compact keys the actors use, and back.
//!
//! Built once at start from the configuration; read-only afterwards, so it is
//! shared without locks.

use std::collections::HashMap;
use std::sync::Arc;

use orch_actors::{FacilityIdx, SkuIdx};
use orch_config::{FacilityConfig, Network};

/// The catalog and the facilities, by id and by index.
#[derive(Debug)]
pub struct Catalog {
    skus: Vec<Arc<str>>,
    sku_index: HashMap<Arc<str>, SkuIdx>,
    facilities: Vec<FacilityConfig>,
    facility_index: HashMap<Arc<str>, FacilityIdx>,
}

impl Catalog {
    /// Indexes a network.
    pub fn new(net: &Network) -> Catalog {
        let skus: Vec<Arc<str>> = net.skus.iter().map(|s| Arc::from(s.as_str())).collect();
        let sku_index = skus
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), SkuIdx(i as u32)))
            .collect();
        let facility_index = net
            .facilities
            .iter()
            .enumerate()
            .map(|(i, f)| (Arc::from(f.id.as_str()), FacilityIdx(i as u16)))
            .collect();
        Catalog {
            skus,
            sku_index,
            facilities: net.facilities.clone(),
            facility_index,
        }
    }

    /// The index of a SKU id.
    pub fn sku(&self, id: &str) -> Option<SkuIdx> {
        self.sku_index.get(id).copied()
    }

    /// The id of a SKU index.
    pub fn sku_id(&self, sku: SkuIdx) -> &Arc<str> {
        &self.skus[sku.0 as usize]
    }

    /// Every SKU id in catalog order.
    pub fn skus(&self) -> &[Arc<str>] {
        &self.skus
    }

    /// The index of a facility id.
    pub fn facility(&self, id: &str) -> Option<FacilityIdx> {
        self.facility_index.get(id).copied()
    }

    /// The configuration of a facility.
    pub fn facility_config(&self, f: FacilityIdx) -> &FacilityConfig {
        &self.facilities[usize::from(f.0)]
    }

    /// Every facility in index order.
    pub fn facilities(&self) -> &[FacilityConfig] {
        &self.facilities
    }
}
