//! In-process mode: the core runs in this process and the load tester calls
//! the `Orchestrator` facade directly. Released waves come from the core's
//! wave broadcast, as the warehouse floor would hear them.

use std::sync::Arc;

use orch_runtime::dto::PlaceOrder;
use orch_runtime::present::wave_view;
use orch_runtime::shared::WaveAnnouncement;
use orch_runtime::Orchestrator;

use crate::driver::{
    released_fulfillments, PlaceAnswer, PlaceError, ReleasedFulfillment, RETRY_AFTER_DEFAULT,
};

/// The embedded core.
#[derive(Clone)]
pub struct InProcessDriver {
    /// The core.
    pub core: Orchestrator,
}

impl InProcessDriver {
    /// Wraps a started core.
    pub fn new(core: Orchestrator) -> InProcessDriver {
        InProcessDriver { core }
    }

    /// Places orders concurrently through the facade; `Busy` (the facade's
    /// 429) is a refusal, anything else a failure.
    pub async fn place_batch(&self, orders: &[PlaceOrder]) -> Vec<PlaceAnswer> {
        self.core
            .place_batch(orders)
            .await
            .into_iter()
            .map(|r| {
                r.map(|p| p.order).map_err(|e| match e.kind {
                    orch_runtime::ErrorKind::Busy => PlaceError::Refused {
                        retry_after: RETRY_AFTER_DEFAULT,
                        reason: e.to_string(),
                    },
                    _ => PlaceError::Failed(e.to_string()),
                })
            })
            .collect()
    }

    /// A released wave as the floor sees it (ids, SKU names, pick order).
    pub fn released(&self, ann: &WaveAnnouncement) -> Vec<ReleasedFulfillment> {
        let shared = self.core.shared();
        let view = wave_view(&shared.catalog, ann.facility, Some(&ann.wave), |no| {
            shared.order_name(no)
        });
        let facility_id = &shared.catalog.facility_config(ann.facility).id;
        released_fulfillments(facility_id, &view)
    }

    /// Actors resident in memory now: orders, activated cells and desks,
    /// facilities (from the registry).
    pub fn resident_actors(&self) -> u64 {
        let s: &Arc<_> = self.core.shared();
        (s.orders.len() + s.cells().len() + s.desks().len() + s.facilities().len()) as u64
    }
}
