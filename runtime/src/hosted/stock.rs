//! Receipts and cycle counts (`/v1/inventory/receipts`,
//! `/v1/inventory/adjustments`). Every item is checked first: one bad item
//! refuses the whole request, nothing changed. The ids are idempotent in
//! the engine: a facility's cells remember the receipt and adjustment ids
//! they applied (the last `seen_ids_max`), and answer a repeat
//! `Duplicate` without changing anything.
//!
//! Unlike the Orchestrator: an id is remembered per facility (the same
//! `receipt_id` at another facility applies), only the last
//! `seen_ids_max` ids are. A receipt's `backorders_served` counts the
//! waiting lines its cell reserved for; an adjustment has none.

use std::sync::Arc;

use orch_engine::msg::StockAnswer;
use orch_engine::{ActorRef, Answer, Msg};

use super::{durable, overloaded, unexpected, HostedCore};
use crate::dto::{AdjustmentInput, ItemResult, ReceiptInput};
use crate::error::ApiError;
use crate::validate;

/// One item's result from the engine's answer (`backorders_served` on an
/// applied receipt only).
fn item(id: &str, answer: StockAnswer, receipt: bool) -> ItemResult {
    let (result, reason, served) = match answer {
        StockAnswer::Applied { served } => ("applied", None, receipt.then_some(served as usize)),
        StockAnswer::Duplicate => ("duplicate", None, None),
        StockAnswer::Rejected(why) => ("rejected", Some(why), None),
    };
    ItemResult {
        id: id.into(),
        result: result.into(),
        reason,
        backorders_served: served,
    }
}

impl HostedCore {
    /// Receives stock (`POST /v1/inventory/receipts`): waiting backorders
    /// are served first; a `receipt_id` applied before answers
    /// `duplicate`. One result per receipt, in order, once durable. 429
    /// when a shard is full: the receipts before it were applied (a retry
    /// answers them `duplicate`), none after it.
    pub async fn receive(&self, receipts: &[ReceiptInput]) -> Result<Vec<ItemResult>, ApiError> {
        let checked = receipts
            .iter()
            .enumerate()
            .map(|(i, r)| validate::receipt(&self.catalog, &self.limits, i, r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(checked.len());
        for (r, (key, qty)) in receipts.iter().zip(checked) {
            let receipt_id: Arc<str> = Arc::from(r.receipt_id.as_str());
            let msg = |reply| Msg::Receive {
                facility: key.facility,
                qty,
                restock: false,
                receipt_id: Some(receipt_id),
                reply: Some(reply),
            };
            let answer = self.stock_call(ActorRef::Desk(key.sku), msg).await?;
            out.push(item(&r.receipt_id, answer, true));
        }
        Ok(out)
    }

    /// Cycle counts (`POST /v1/inventory/adjustments`): sets on hand, never
    /// below what is reserved (that item is `rejected` with the reason);
    /// an `adjustment_id` applied before answers `duplicate`. 429 as for
    /// receipts.
    pub async fn adjust(&self, items: &[AdjustmentInput]) -> Result<Vec<ItemResult>, ApiError> {
        let checked = items
            .iter()
            .enumerate()
            .map(|(i, a)| validate::adjustment(&self.catalog, &self.limits, i, a))
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::with_capacity(checked.len());
        for (a, (key, on_hand)) in items.iter().zip(checked) {
            let adjustment_id: Arc<str> = Arc::from(a.adjustment_id.as_str());
            let msg = |reply| Msg::Adjust {
                sku: key.sku,
                on_hand,
                adjustment_id,
                reply,
            };
            let answer = self.stock_call(ActorRef::Cells(key.facility), msg).await?;
            out.push(item(&a.adjustment_id, answer, false));
        }
        Ok(out)
    }

    async fn stock_call(
        &self,
        to: ActorRef,
        make: impl FnOnce(orch_engine::RequestId) -> Msg,
    ) -> Result<StockAnswer, ApiError> {
        let pending = self.host.offer(to, make).map_err(|_| overloaded())?;
        match durable(pending).await? {
            Answer::Stock(a) => Ok(a),
            other => Err(unexpected("stock", &other)),
        }
    }
}
