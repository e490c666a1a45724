//! In-process mode: the core runs in this process and the load tester calls
//! it directly (`orch_runtime::Core`: the shard engine or the actix shells,
//! `--engine`). Released waves come from the core's wave broadcast, as the
//! warehouse floor would hear them.

use orch_runtime::app::ReleasedWave;
use orch_runtime::dto::PlaceOrder;
use orch_runtime::Core;

use crate::driver::{
    released_fulfillments, PlaceAnswer, PlaceError, ReleasedFulfillment, RETRY_AFTER_DEFAULT,
};

/// The embedded core.
#[derive(Clone)]
pub struct InProcessDriver {
    /// The core.
    pub core: Core,
}

impl InProcessDriver {
    /// Wraps a started core.
    pub fn new(core: Core) -> InProcessDriver {
        InProcessDriver { core }
    }

    /// Places orders concurrently through the core; `Busy` (the core's
    /// 429) is a refusal, anything else a failure.
    pub async fn place_batch(&self, orders: &[PlaceOrder]) -> Vec<PlaceAnswer> {
        let orders: Vec<(PlaceOrder, Option<String>)> =
            orders.iter().map(|o| (o.clone(), None)).collect();
        self.core
            .place_batch(&orders)
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

    /// A released wave as the floor sees it (ids, SKU names, pick order);
    /// empty when the core cannot say.
    pub async fn released(&self, w: &ReleasedWave) -> Vec<ReleasedFulfillment> {
        match self.core.wave_view(w).await {
            Ok((facility_id, view)) => released_fulfillments(&facility_id, &view),
            Err(_) => Vec::new(),
        }
    }

    /// Actors resident in memory now.
    pub async fn resident_actors(&self) -> u64 {
        self.core.resident_actors().await
    }
}
