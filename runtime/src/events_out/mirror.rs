//! The tail's mirror of the orders: the pure part lives in
//! `orch_events::mirror` (the simulator derives the feed with it too);
//! here, the catalog's client ids for the indices it names.

use orch_actors::{FacilityIdx, SkuIdx};
use orch_events::derive::Names;
pub use orch_events::mirror::{Mirror, Numbered};

use crate::catalog::Catalog;

impl Names for Catalog {
    fn facility(&self, f: FacilityIdx) -> &str {
        &self.facility_config(f).id
    }

    fn sku(&self, s: SkuIdx) -> &str {
        self.sku_id(s)
    }
}
