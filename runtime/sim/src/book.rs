//! The simulator's own book: what it sent and had acknowledged, and what
//! follows from that alone (stock on hand per cell), never read from the
//! core's ledgers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use orch_actors::order::{FulfillmentStatus, OrderLine, OrderStatus, Scan};
use orch_actors::{CellKey, OrderNo, SkuIdx};

/// Units moved per SKU, from acknowledged requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flows {
    /// Starting stock.
    pub initial: i64,
    /// Received (receipts acknowledged as applied).
    pub received: i64,
    /// Restocked by returns.
    pub restocked: i64,
    /// Net change of cycle counts.
    pub adjusted: i64,
    /// Picked (shipped, in process, or returned and disposed).
    pub picked: i64,
}

/// What the simulator knows to be true.
#[derive(Debug, Default)]
pub struct Book {
    /// On hand per cell implied by the acknowledged requests.
    pub on_hand: BTreeMap<CellKey, i64>,
    /// Units moved per SKU.
    pub flows: BTreeMap<SkuIdx, Flows>,
    /// Acknowledged orders: their client id and lines.
    pub orders: BTreeMap<OrderNo, (Arc<str>, Vec<OrderLine>)>,
    /// Client ids of placements refused as invalid.
    pub refused: BTreeSet<Arc<str>>,
    /// Units picked per order (acknowledged picks): a cancel puts them back.
    pub picks: BTreeMap<OrderNo, Vec<(CellKey, i64)>>,
    /// Scans acknowledged as applied, in the order of their answers.
    pub scans: Vec<(OrderNo, Scan)>,
    /// Orders whose cancel was acknowledged.
    pub cancelled: BTreeSet<OrderNo>,
    /// Statuses seen at fully durable points (may only move forward).
    pub order_status: BTreeMap<OrderNo, OrderStatus>,
    /// Fulfillment statuses seen at fully durable points.
    pub fulfillment_status: BTreeMap<(OrderNo, u16), FulfillmentStatus>,
    /// Receipt ids acknowledged as applied.
    pub receipts: Vec<(Arc<str>, CellKey, u32)>,
    /// Adjustment ids acknowledged as applied.
    pub adjustments: Vec<(Arc<str>, CellKey, u32)>,
}

impl Book {
    /// Units change at `cell` by `delta` (a flow of its SKU).
    pub fn moved(&mut self, cell: CellKey, delta: i64, flow: impl FnOnce(&mut Flows)) {
        *self.on_hand.entry(cell).or_default() += delta;
        flow(self.flows.entry(cell.sku).or_default());
    }

    /// The conservation check of one SKU: initial + received + restocked
    /// + adjusted = on hand + picked, with on hand as the core reports it.
    pub fn conserved(&self, sku: SkuIdx, core_on_hand: i64) -> Result<(), String> {
        let f = self.flows.get(&sku).copied().unwrap_or_default();
        let inflow = f.initial + f.received + f.restocked + f.adjusted;
        if inflow != core_on_hand + f.picked {
            return Err(format!(
                "conservation of {sku:?}: initial {} + received {} + restocked {} + adjusted {} != on hand {core_on_hand} + picked {}",
                f.initial, f.received, f.restocked, f.adjusted, f.picked
            ));
        }
        Ok(())
    }
}

/// Whether a fulfillment may reach `to` from `from` (seen at two points,
/// with any steps between): forward along the state machine, or around
/// the carrier's loop (an exception goes back in transit or out for
/// delivery, so out for delivery can reach in transit through one).
pub fn forward(from: FulfillmentStatus, to: FulfillmentStatus) -> bool {
    use FulfillmentStatus as S;
    let carrier = |s| matches!(s, S::InTransit | S::OutForDelivery | S::Exception);
    to >= from || (carrier(from) && carrier(to))
}
