//! In-process mode: the core runs in this process and the load tester calls
//! it directly (`orch_runtime::Core`: the shard engine or the actix shells,
//! `--engine`). Released waves come from the core's wave broadcast, as the
//! warehouse floor would hear them.

use orch_runtime::app::ReleasedWave;
use orch_runtime::dto::{HoldInput, HoldView, PlaceOrder};
use orch_runtime::{ApiError, Core, ErrorKind};

use crate::driver::{
    released_fulfillments, HeldPlaceAnswer, PlaceError, ReleasedFulfillment, RETRY_AFTER_DEFAULT,
};

/// `Busy` (the core's 429) is a refusal, anything else a failure.
fn place_error(e: ApiError) -> PlaceError {
    match e.kind {
        ErrorKind::Busy => PlaceError::Refused {
            retry_after: RETRY_AFTER_DEFAULT,
            reason: e.to_string(),
        },
        _ => PlaceError::Failed(e.to_string()),
    }
}

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

    /// Places orders concurrently through the core, each naming its
    /// cart's hold or none; `Busy` (the core's 429) is a refusal, anything
    /// else a failure.
    pub async fn place_batch(
        &self,
        orders: &[(PlaceOrder, Option<String>)],
    ) -> Vec<HeldPlaceAnswer> {
        self.core
            .place_batch(orders)
            .await
            .into_iter()
            .map(|r| r.map(|p| (p.order, p.hold)).map_err(place_error))
            .collect()
    }

    /// Creates a cart's hold.
    pub async fn create_hold(&self, h: &HoldInput) -> Result<HoldView, PlaceError> {
        self.core
            .create_hold(h)
            .await
            .map(|a| a.hold)
            .map_err(place_error)
    }

    /// A hold; `Ok(None)` when the core does not know it.
    pub async fn hold(&self, hold_id: &str) -> Result<Option<HoldView>, String> {
        match self.core.hold(hold_id).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Whether the engine serves holds (the shells answer `not_supported`).
    pub async fn holds_supported(&self) -> bool {
        !matches!(self.core.hold("lt-probe").await, Err(e) if e.kind == ErrorKind::NotSupported)
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
