//! Messages between actors: plain values, addressed by [`ActorRef`].
//!
//! A request from outside the engine carries a [`RequestId`]; its answer
//! comes back as a [`Reply`] once the journal entries of the tick that
//! decided it are durable. Messages between actors carry no reply handle:
//! an answer is just another message to the asker.

use std::sync::Arc;

use orch_actors::cell::ReserveAnswer;
use orch_actors::facility::{QueuedFulfillment, Wave, WaveTrigger};
use orch_actors::hold::{HoldLine, HoldNo, HoldRefusal, HoldRequest, HoldState, HoldStatus};
use orch_actors::order::{OrderRefusal, OrderState, PlaceRequest, Scan};
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
    /// A hold (cart reservation) record.
    Hold(HoldNo),
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
    /// A passivated order's state, read back by the host from the snapshot
    /// store: the order returns to memory and handles what waited for it.
    Woken {
        /// Its state as the snapshot holds it (`None`: the store had none).
        state: Option<Box<OrderState>>,
    },
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
    /// Place this order, which named a hold: the hold's answer. `taken`
    /// are the hold's units this order takes in place (facility, hold
    /// line, SKU, order line, units); `give_back` the hold lines it does
    /// not take (facility, hold line, SKU, units). Both empty when the
    /// hold was not active (`status`).
    PlaceTaking {
        /// The request.
        req: PlaceRequest,
        /// Who waits for the answer.
        reply: RequestId,
        /// The hold's status after the attempt.
        status: Option<HoldStatus>,
        /// Units taken in place.
        taken: Vec<(FacilityIdx, HoldLine, SkuIdx, u16, u32)>,
        /// Hold lines given back.
        give_back: Vec<(FacilityIdx, HoldLine, SkuIdx, u32)>,
    },

    // ---- to a hold ----
    /// Create the hold under its number (or answer it, when it exists with
    /// the same request: `hold_id` is idempotent).
    CreateHold {
        /// The request.
        req: HoldRequest,
        /// Who waits.
        reply: RequestId,
    },
    /// Answer the hold's state.
    ReadHold {
        /// Who waits.
        reply: RequestId,
    },
    /// A new expiry `ttl_s` from now.
    ExtendHold {
        /// Seconds.
        ttl_s: u32,
        /// Who waits.
        reply: RequestId,
    },
    /// Let the hold go.
    ReleaseHold {
        /// Who waits.
        reply: RequestId,
    },
    /// Order `order` names this hold: convert it and tell the order what it takes.
    ConvertHold {
        /// The order's number.
        order: OrderNo,
        /// Its request.
        req: PlaceRequest,
        /// Who waits for the order's answer.
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
    /// Hold these lines of `hold` (line, sku, qty), all answered at once
    /// (to the hold, as `Reserved`).
    HoldUnits {
        /// The asker.
        hold: HoldNo,
        /// (line number, SKU, units).
        lines: Vec<(u16, SkuIdx, u32)>,
    },
    /// Give back what a hold line holds, then reserve for the desk's
    /// allocations that fit, in one step (as an arrival does); answer the
    /// desk when `from_desk`.
    Unhold {
        /// SKU.
        sku: SkuIdx,
        /// The hold line.
        hold: HoldLine,
        /// Lines the desk chose, in serving order.
        allocations: Vec<(LineRef, u32)>,
        /// Sent by the desk (answer it).
        from_desk: bool,
    },
    /// A hold line's units become an order line's reservation in place.
    ConvertHeld {
        /// SKU.
        sku: SkuIdx,
        /// The hold line.
        hold: HoldLine,
        /// The order line.
        line: LineRef,
        /// Units it takes.
        qty: u32,
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
    /// A hold line's units at `facility` come back: serve waiting lines
    /// first, as an arrival does.
    ReturnHeld {
        /// Where.
        facility: FacilityIdx,
        /// The hold line.
        hold: HoldLine,
        /// Units.
        qty: u32,
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
    /// Applied; `served` counts the waiting backorder lines a receipt
    /// reserved for (0 for an adjustment).
    Applied {
        /// Backordered lines the receipt served.
        served: u32,
    },
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
    /// A hold request: the hold as it stands, or why not.
    Hold(Result<Box<HoldState>, HoldError>),
}

/// Why a hold request was not carried out. Nothing changed.
#[derive(Debug, Clone, PartialEq)]
pub enum HoldError {
    /// The hold state machine refused (TTL, insufficient stock, not active,
    /// converted).
    Refused(HoldRefusal),
    /// No hold under that id.
    Unknown,
    /// The `hold_id` exists with another request.
    Conflict,
    /// The shard holds as many active holds as it may.
    Overloaded,
    /// Invalid request: the reason names the field.
    Invalid(String),
}

/// An answer for a request, released once durable.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The request.
    pub id: RequestId,
    /// The answer.
    pub answer: Answer,
}
