//! What a decision answers besides its event: the effects the caller carries
//! out on other actors, a scan's decision, and why a request was refused.

use super::OrderEvent;
use crate::ids::{CellKey, FacilityIdx, FulfillmentRef, LineRef, SkuIdx};

/// What the caller must do on other actors for a decision to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Commit `qty` of the line's reservation at the cell (must succeed).
    Pick {
        /// Cell.
        cell: CellKey,
        /// Line.
        line: LineRef,
        /// Units.
        qty: u32,
    },
    /// Release whatever the line still holds at the cell.
    Release {
        /// Cell.
        cell: CellKey,
        /// Line.
        line: LineRef,
    },
    /// Put units back on a cell's shelf.
    Restock {
        /// Cell.
        cell: CellKey,
        /// Units.
        qty: u32,
    },
    /// Queue a fulfillment at its facility.
    Enqueue {
        /// Fulfillment.
        fulfillment: FulfillmentRef,
    },
    /// Take a queued fulfillment out of its facility's queue.
    Dequeue {
        /// Facility.
        facility: FacilityIdx,
        /// Fulfillment.
        fulfillment: FulfillmentRef,
    },
    /// Mark a released fulfillment finished at its facility (wave progress).
    Close {
        /// Facility.
        facility: FacilityIdx,
        /// Fulfillment.
        fulfillment: FulfillmentRef,
    },
    /// Wait in the SKU's backorder queue.
    Backorder {
        /// SKU.
        sku: SkuIdx,
        /// Line.
        line: LineRef,
        /// Units.
        qty: u32,
    },
    /// Leave the SKU's backorder queue.
    Unbackorder {
        /// SKU.
        sku: SkuIdx,
        /// Line.
        line: LineRef,
    },
}

/// Answer to a scan.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanDecision {
    /// Seen before: nothing changes.
    Duplicate,
    /// Apply `event` after carrying out `effects`.
    Apply {
        /// The event.
        event: OrderEvent,
        /// Effects, in order.
        effects: Vec<Effect>,
    },
}

/// Why a request to an order was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderRefusal {
    /// The scan does not fit the state; the text says why.
    #[error("{0}")]
    Rejected(String),
    /// Cancel after shipping.
    #[error("order has shipped: {0}")]
    AlreadyShipped(String),
    /// Cancel of a rejected, delivered or returned order.
    #[error("order is {0} and can no longer be cancelled")]
    Final(&'static str),
}

pub(super) fn reject<T>(msg: impl Into<String>) -> Result<T, OrderRefusal> {
    Err(OrderRefusal::Rejected(msg.into()))
}
