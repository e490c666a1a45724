//! Messages between actors: plain values, addressed by [`ActorRef`].
//!
//! A request from outside the engine carries a [`RequestId`]; its answer
//! comes back as a [`Reply`] once the journal entries of the tick that
//! decided it are durable. Messages between actors carry no reply handle:
//! an answer is just another message to the asker.

use std::sync::Arc;

use orch_actors::cell::ReserveAnswer;
use orch_actors::facility::{QueuedFulfillment, Wave, WaveTrigger};
use orch_actors::order::{OrderRefusal, PlaceRequest, Scan};
use orch_actors::{FacilityIdx, FulfillmentRef, LineRef, OrderNo, SkuIdx};
use orch_config::Millis;

/// The address of an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActorRef {
    /// An order.
    Order(OrderNo),
    /// The stock cells of one facility (each message names its SKU).
    Cells(FacilityIdx),
    /// A facility: its queue, waves and routing status.
    Facility(FacilityIdx),
    /// A SKU's backorder desk.
    Desk(SkuIdx),
}

/// Identifies a request from outside, to match its reply.
pub type RequestId = u64;

/// A message and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Addressee.
    pub to: ActorRef,
    /// Content.
    pub msg: Msg,
}

/// Every message an actor of the engine handles.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    // ---- to an order ----
    /// Place this (validated) order under its number.
    Place {
        /// The request.
        req: PlaceRequest,
        /// Who waits for the answer.
        reply: RequestId,
    },
    /// The cells' answers to the order's pending `Reserve`.
    Reserved {
        /// Answer per line asked.
        answers: Vec<(u16, ReserveAnswer)>,
    },
    /// A desk reserved stock for a waiting line at `facility`.
    Fill {
        /// Line number.
        line: u16,
        /// Its SKU.
        sku: SkuIdx,
        /// Where the stock is held.
        facility: FacilityIdx,
    },
    /// A facility released fulfillment `n` in a wave.
    WaveOf {
        /// Fulfillment number.
        n: u16,
        /// Wave.
        wave_id: Arc<str>,
        /// When.
        at: Millis,
    },
    /// A scan for the order.
    Scan {
        /// The scan.
        scan: Scan,
        /// Who waits.
        reply: RequestId,
    },
    /// Cancel the order.
    Cancel {
        /// Who waits.
        reply: RequestId,
    },

    // ---- to the cells of a facility ----
    /// Reserve these lines of `order` (line, sku, qty), all answered at once.
    Reserve {
        /// The asker.
        order: OrderNo,
        /// (line number, SKU, units).
        lines: Vec<(u16, SkuIdx, u32)>,
    },
    /// Release what these lines hold; offer the freed stock to the desks
    /// when `drain`.
    Release {
        /// (SKU, line).
        lines: Vec<(SkuIdx, LineRef)>,
        /// Offer what is freed to waiting lines.
        drain: bool,
    },
    /// Commit units of a reservation (a pick scan).
    Pick {
        /// SKU.
        sku: SkuIdx,
        /// Line.
        line: LineRef,
        /// Units.
        qty: u32,
    },
    /// Units arrive (receipt or restock): receive, then reserve for the
    /// desk's allocations that still fit, in one step; answer the desk.
    Arrive {
        /// SKU.
        sku: SkuIdx,
        /// Units.
        qty: u32,
        /// A restock (else a receipt).
        restock: bool,
        /// The receipt's idempotency id (receipts only).
        receipt_id: Option<Arc<str>>,
        /// Lines the desk chose, in serving order.
        allocations: Vec<(LineRef, u32)>,
        /// Who waits (receipts from outside).
        reply: Option<RequestId>,
    },
    /// Reserve for waiting lines in order, passing over a line that does
    /// not fit, until nothing is available; answer the desk.
    Serve {
        /// SKU.
        sku: SkuIdx,
        /// Candidates in serving order.
        candidates: Vec<(LineRef, u32)>,
    },
    /// A cycle count.
    Adjust {
        /// SKU.
        sku: SkuIdx,
        /// On hand counted.
        on_hand: u32,
        /// Idempotency id.
        adjustment_id: Arc<str>,
        /// Who waits.
        reply: RequestId,
    },

    // ---- to a facility ----
    /// Queue a routed fulfillment.
    Enqueue(QueuedFulfillment),
    /// Take a fulfillment out of the queue, or close it in its open wave.
    Dequeue(FulfillmentRef),
    /// Release a wave now.
    ReleaseWave {
        /// Why.
        trigger: WaveTrigger,
        /// Who waits.
        reply: RequestId,
    },
    /// Enable or disable routing.
    SetStatus {
        /// Enabled.
        enabled: bool,
        /// Disabled until.
        until: Option<Millis>,
        /// Who waits.
        reply: RequestId,
    },

    // ---- to a desk ----
    /// A line starts waiting.
    Queue {
        /// Line.
        line: LineRef,
        /// Units.
        qty: u32,
        /// Priority (0 first).
        priority: u8,
        /// Placement time of its order.
        placed_at: Millis,
    },
    /// A line stops waiting (its order was cancelled).
    Remove {
        /// Line.
        line: LineRef,
    },
    /// Units arrive at `facility`: serve waiting lines first.
    Receive {
        /// Where.
        facility: FacilityIdx,
        /// Units.
        qty: u32,
        /// A restock (else a receipt).
        restock: bool,
        /// The receipt's idempotency id (receipts only).
        receipt_id: Option<Arc<str>>,
        /// Who waits (receipts from outside).
        reply: Option<RequestId>,
    },
    /// Stock became available at `facility`: offer it to the queue.
    Drain {
        /// Where.
        facility: FacilityIdx,
    },
    /// The cells' answer to `Arrive` or `Serve`: these lines got stock.
    Served {
        /// Where.
        facility: FacilityIdx,
        /// Lines reserved, in serving order.
        lines: Vec<LineRef>,
    },
}

/// The answer to a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanAnswer {
    /// Applied.
    Applied,
    /// Seen before; nothing changed.
    Duplicate,
    /// Refused; nothing changed.
    Rejected(String),
}

/// The answer to a receipt or an adjustment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockAnswer {
    /// Applied.
    Applied,
    /// Its idempotency id was applied before; nothing changed.
    Duplicate,
    /// Refused; nothing changed.
    Rejected(String),
}

/// The answer to a request from outside.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A placement: the number, or why it was refused.
    Placed(Result<OrderNo, String>),
    /// A cancel.
    Cancelled(Result<(), OrderRefusal>),
    /// A scan.
    Scanned(ScanAnswer),
    /// A receipt or a cycle count.
    Stock(StockAnswer),
    /// A manual wave (`None`: nothing queued).
    Wave(Option<Wave>),
    /// A status change.
    Status(Result<(), String>),
}

/// An answer for a request, released once durable.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The request.
    pub id: RequestId,
    /// The answer.
    pub answer: Answer,
}
