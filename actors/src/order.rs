//! The Order state machine: lines, fulfillments (one per facility it ships
//! from), backordered lines, scans, cancel, returns and the timeline.
//!
//! Each fulfillment moves forward only:
//! `routed → released → picking → packed → shipped → in_transit →
//! out_for_delivery → delivered → returned`, with `exception` an explicit
//! state a carrier can leave towards delivery, and `cancelled` final.
//! The order's status is derived from its parts (see [`OrderState::status`]).
//!
//! Decisions never mutate; the caller carries out the [`Effect`]s on other
//! actors (cells, facilities, backorder desks) and then applies the event.

use std::collections::HashSet;
use std::sync::Arc;

use orch_config::{Millis, ServiceLevel};
use serde::{Deserialize, Serialize};

use crate::ids::{CellKey, FacilityIdx, FulfillmentRef, LineRef, OrderNo, SkuIdx};
use crate::placement::PlacementOutcome;
use crate::shipping::{day_of, tracking_number, Rates, ShipPlan};

/// Status of an order, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Accepted, not placed yet.
    Received,
    /// Nothing available now; waits for stock.
    Backordered,
    /// Some lines routed, some waiting.
    PartiallyBackordered,
    /// Every line reserved at a facility.
    Routed,
    /// In a released wave.
    Released,
    /// Being picked.
    Picking,
    /// Packed.
    Packed,
    /// Handed to the carrier.
    Shipped,
    /// Moving.
    InTransit,
    /// On the truck.
    OutForDelivery,
    /// Delivered.
    Delivered,
    /// Came back.
    Returned,
    /// A delivery exception is open.
    Exception,
    /// Cancelled.
    Cancelled,
    /// Refused at placement.
    Rejected,
}

impl OrderStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Received => "received",
            OrderStatus::Backordered => "backordered",
            OrderStatus::PartiallyBackordered => "partially_backordered",
            OrderStatus::Routed => "routed",
            OrderStatus::Released => "released",
            OrderStatus::Picking => "picking",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::InTransit => "in_transit",
            OrderStatus::OutForDelivery => "out_for_delivery",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Returned => "returned",
            OrderStatus::Exception => "exception",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Rejected => "rejected",
        }
    }

    /// Delivered, returned, cancelled or rejected: nothing more will happen
    /// but (for delivered) returns.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered
                | OrderStatus::Returned
                | OrderStatus::Cancelled
                | OrderStatus::Rejected
        )
    }
}

/// Status of one fulfillment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    /// Reserved and queued at the facility.
    Routed,
    /// In a released wave.
    Released,
    /// At least one pick applied.
    Picking,
    /// Packed.
    Packed,
    /// Shipped.
    Shipped,
    /// In transit.
    InTransit,
    /// Out for delivery.
    OutForDelivery,
    /// Delivery exception open.
    Exception,
    /// Delivered.
    Delivered,
    /// Every delivered unit came back.
    Returned,
    /// Cancelled before shipping.
    Cancelled,
}

impl FulfillmentStatus {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        self.as_order().as_str()
    }

    fn as_order(self) -> OrderStatus {
        match self {
            FulfillmentStatus::Routed => OrderStatus::Routed,
            FulfillmentStatus::Released => OrderStatus::Released,
            FulfillmentStatus::Picking => OrderStatus::Picking,
            FulfillmentStatus::Packed => OrderStatus::Packed,
            FulfillmentStatus::Shipped => OrderStatus::Shipped,
            FulfillmentStatus::InTransit => OrderStatus::InTransit,
            FulfillmentStatus::OutForDelivery => OrderStatus::OutForDelivery,
            FulfillmentStatus::Exception => OrderStatus::Exception,
            FulfillmentStatus::Delivered => OrderStatus::Delivered,
            FulfillmentStatus::Returned => OrderStatus::Returned,
            FulfillmentStatus::Cancelled => OrderStatus::Cancelled,
        }
    }

    fn has_shipped(self) -> bool {
        matches!(
            self,
            FulfillmentStatus::Shipped
                | FulfillmentStatus::InTransit
                | FulfillmentStatus::OutForDelivery
                | FulfillmentStatus::Exception
                | FulfillmentStatus::Delivered
                | FulfillmentStatus::Returned
        )
    }
}

/// One line of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// SKU.
    pub sku: SkuIdx,
    /// Units ordered.
    pub qty: u32,
}

/// One line of a fulfillment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    /// Line number in the order.
    pub line: u16,
    /// SKU.
    pub sku: SkuIdx,
    /// Units reserved.
    pub qty: u32,
    /// Units picked so far.
    pub picked: u32,
    /// Units returned so far.
    pub returned: u32,
    /// Of those, units put back on a shelf.
    pub restocked: u32,
}

/// The part of an order shipped from one facility.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    /// Number within the order, from 1.
    pub n: u16,
    /// Shipping facility.
    pub facility: FacilityIdx,
    /// Lines.
    pub lines: Vec<FulfillmentLine>,
    /// Status.
    pub status: FulfillmentStatus,
    /// Wave, once released.
    pub wave_id: Option<Arc<str>>,
    /// Carrier, once shipped.
    pub carrier: Option<Arc<str>>,
    /// Tracking number, once shipped.
    pub tracking: Option<Arc<str>>,
    /// The carrier service planned when it was created (re-rated when it
    /// ships with another carrier); `None` when no service ships from its
    /// facility to the order's destination.
    pub ship: Option<ShipPlan>,
}

/// What a placement request asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceRequest {
    /// Client order id.
    pub order_id: Arc<str>,
    /// Sales channel.
    pub channel: Arc<str>,
    /// Ship-to latitude.
    pub lat: f64,
    /// Ship-to longitude.
    pub lon: f64,
    /// Service level.
    pub service_level: ServiceLevel,
    /// Lines.
    pub lines: Vec<OrderLine>,
    /// Whether lines may wait for stock.
    pub allow_backorder: bool,
}

/// Scan kinds of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// A line picked (sku, qty).
    Pick,
    /// Packed.
    Pack,
    /// Shipped (carrier, tracking).
    Ship,
    /// Carrier: in transit.
    InTransit,
    /// Carrier: out for delivery.
    OutForDelivery,
    /// Carrier: delivered.
    Delivered,
    /// Carrier: delivery exception (reason).
    DeliveryException,
    /// Return received (sku, qty, disposition).
    ReturnReceived,
}

impl ScanKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Pick => "pick",
            ScanKind::Pack => "pack",
            ScanKind::Ship => "ship",
            ScanKind::InTransit => "in_transit",
            ScanKind::OutForDelivery => "out_for_delivery",
            ScanKind::Delivered => "delivered",
            ScanKind::DeliveryException => "delivery_exception",
            ScanKind::ReturnReceived => "return_received",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<ScanKind> {
        Some(match s {
            "pick" => ScanKind::Pick,
            "pack" => ScanKind::Pack,
            "ship" => ScanKind::Ship,
            "in_transit" => ScanKind::InTransit,
            "out_for_delivery" => ScanKind::OutForDelivery,
            "delivered" => ScanKind::Delivered,
            "delivery_exception" => ScanKind::DeliveryException,
            "return_received" => ScanKind::ReturnReceived,
            _ => return None,
        })
    }

    /// Every kind.
    pub const ALL: [ScanKind; 8] = [
        ScanKind::Pick,
        ScanKind::Pack,
        ScanKind::Ship,
        ScanKind::InTransit,
        ScanKind::OutForDelivery,
        ScanKind::Delivered,
        ScanKind::DeliveryException,
        ScanKind::ReturnReceived,
    ];
}

/// What happens to a returned unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Back on the shelf.
    Restock,
    /// Thrown away.
    Dispose,
}

/// A scan event as the order receives it (ids already resolved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scan {
    /// Client event id (idempotency key).
    pub event_id: Arc<str>,
    /// Kind.
    pub kind: ScanKind,
    /// Fulfillment number within the order.
    pub fulfillment: u16,
    /// Facility that scanned.
    pub facility: FacilityIdx,
    /// SKU (pick, return).
    pub sku: Option<SkuIdx>,
    /// Quantity (pick, return).
    pub qty: Option<u32>,
    /// Carrier (ship).
    pub carrier: Option<Arc<str>>,
    /// Tracking (ship).
    pub tracking: Option<Arc<str>>,
    /// Reason (exception).
    pub reason: Option<Arc<str>>,
    /// Disposition (return).
    pub disposition: Option<Disposition>,
    /// When it happened.
    pub at: Millis,
}

/// A change to an order, as journaled and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The order was accepted.
    Placed {
        /// Request.
        request: PlaceRequest,
        /// When.
        at: Millis,
    },
    /// Placement finished: fulfillments and backorders (or a rejection).
    Routed {
        /// (facility, line numbers) per fulfillment.
        fulfillments: Vec<(FacilityIdx, Vec<u16>)>,
        /// The ship plan of each fulfillment, in the same order.
        plans: Vec<Option<ShipPlan>>,
        /// Lines waiting for stock.
        backordered: Vec<u16>,
        /// Set when rejected.
        rejected: Option<String>,
        /// When.
        at: Millis,
    },
    /// A backordered line got stock at a facility: a new fulfillment.
    BackorderFilled {
        /// Line.
        line: u16,
        /// Where.
        facility: FacilityIdx,
        /// The new fulfillment's ship plan.
        plan: Option<ShipPlan>,
        /// When.
        at: Millis,
    },
    /// A fulfillment was released in a wave.
    WaveReleased {
        /// Fulfillment number.
        fulfillment: u16,
        /// Wave.
        wave_id: Arc<str>,
        /// When.
        at: Millis,
    },
    /// A scan was applied.
    Scanned(Scan),
    /// A `ship` scan handed the parcel to another carrier than planned:
    /// the scan, and the fulfillment's ship plan re-rated for that carrier.
    ShippedRerated {
        /// The scan (carrier and tracking filled in).
        scan: Scan,
        /// The new ship plan.
        plan: ShipPlan,
    },
    /// The order was cancelled.
    Cancelled {
        /// When.
        at: Millis,
    },
}

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

fn reject<T>(msg: impl Into<String>) -> Result<T, OrderRefusal> {
    Err(OrderRefusal::Rejected(msg.into()))
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    /// When.
    pub at: Millis,
    /// What (`placed`, `routed`, `backordered`, `wave_released`, a scan kind, `cancelled`, ...).
    pub what: std::borrow::Cow<'static, str>,
    /// Fulfillment number, if it concerns one.
    pub fulfillment: Option<u16>,
    /// Scan event id, if a scan.
    pub event_id: Option<Arc<str>>,
    /// The ship plan chosen then (routing, backorder fill, a re-rating ship).
    pub ship: Option<ShipPlan>,
}

/// The state of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderState {
    no: OrderNo,
    request: PlaceRequest,
    placed_at: Millis,
    placed: bool,
    rejected: Option<String>,
    cancelled: bool,
    fulfillments: Vec<Fulfillment>,
    backordered: Vec<u16>,
    seen_events: HashSet<Arc<str>>,
    timeline: Vec<TimelineEntry>,
    last_change: Millis,
}

/// Checks a placement request; the message names the field.
pub fn validate_request(req: &PlaceRequest, lines_max: usize, qty_max: u32) -> Result<(), String> {
    if req.lines.is_empty() {
        return Err("lines: at least one line is required".into());
    }
    if req.lines.len() > lines_max {
        return Err(format!(
            "lines: {} lines exceed the limit of {lines_max}",
            req.lines.len()
        ));
    }
    for (i, l) in req.lines.iter().enumerate() {
        if l.qty == 0 || l.qty > qty_max {
            return Err(format!(
                "lines[{i}].qty: must be 1 to {qty_max}, got {}",
                l.qty
            ));
        }
    }
    for (i, l) in req.lines.iter().enumerate() {
        if req.lines[..i].iter().any(|p| p.sku == l.sku) {
            return Err(format!(
                "lines[{i}].sku: the SKU appears on an earlier line"
            ));
        }
    }
    if !(-90.0..=90.0).contains(&req.lat) || !req.lat.is_finite() {
        return Err(format!("ship_to.lat: must be -90 to 90, got {}", req.lat));
    }
    if !(-180.0..=180.0).contains(&req.lon) || !req.lon.is_finite() {
        return Err(format!("ship_to.lon: must be -180 to 180, got {}", req.lon));
    }
    Ok(())
}

impl OrderState {
    /// A new order from a validated request (see [`validate_request`]).
    /// Returns the state with its `Placed` event applied and the event.
    pub fn place(no: OrderNo, request: PlaceRequest, at: Millis) -> (OrderState, OrderEvent) {
        let event = OrderEvent::Placed {
            request: request.clone(),
            at,
        };
        let mut s = OrderState {
            no,
            request,
            placed_at: at,
            placed: false,
            rejected: None,
            cancelled: false,
            fulfillments: Vec::new(),
            backordered: Vec::new(),
            seen_events: HashSet::new(),
            timeline: Vec::new(),
            last_change: at,
        };
        s.timeline.push(TimelineEntry {
            at,
            what: "placed".into(),
            fulfillment: None,
            event_id: None,
            ship: None,
        });
        (s, event)
    }

    /// Rebuilds an order from its `Placed` event (recovery).
    pub fn from_placed(no: OrderNo, event: &OrderEvent) -> Option<OrderState> {
        match event {
            OrderEvent::Placed { request, at } => {
                Some(OrderState::place(no, request.clone(), *at).0)
            }
            _ => None,
        }
    }

    /// Internal number.
    pub fn no(&self) -> OrderNo {
        self.no
    }

    /// The request it was placed with.
    pub fn request(&self) -> &PlaceRequest {
        &self.request
    }

    /// When it was placed.
    pub fn placed_at(&self) -> Millis {
        self.placed_at
    }

    /// When it last changed.
    pub fn last_change(&self) -> Millis {
        self.last_change
    }

    /// Fulfillments.
    pub fn fulfillments(&self) -> &[Fulfillment] {
        &self.fulfillments
    }

    /// A fulfillment by number.
    pub fn fulfillment(&self, n: u16) -> Option<&Fulfillment> {
        self.fulfillments.iter().find(|f| f.n == n)
    }

    /// Backordered line numbers.
    pub fn backordered(&self) -> &[u16] {
        &self.backordered
    }

    /// Rejection reason, if rejected.
    pub fn rejected(&self) -> Option<&str> {
        self.rejected.as_deref()
    }

    /// The timeline.
    pub fn timeline(&self) -> &[TimelineEntry] {
        &self.timeline
    }

    /// Whether a fulfillment delivered at `at` kept its promise: `Some(false)`
    /// when the UTC day of `at` is after its plan's promised delivery day,
    /// `None` when it has no ship plan (nothing was promised) or does not
    /// exist. Decided from the scan's time, never the wall clock.
    pub fn promise_kept(&self, fulfillment: u16, at: Millis) -> Option<bool> {
        let plan = self.fulfillment(fulfillment)?.ship.as_ref()?;
        Some(day_of(at) <= plan.delivery_day)
    }

    /// Backorder priority: lower is served first (same day first).
    pub fn priority(&self) -> u8 {
        match self.request.service_level {
            ServiceLevel::SameDay => 0,
            ServiceLevel::NextDay => 1,
            ServiceLevel::Standard => 2,
        }
    }

    /// The order's status, derived from its parts: rejected and cancelled
    /// are final; an open exception shows as `exception`; with lines waiting
    /// it is `backordered` or `partially_backordered`; else the least
    /// advanced live fulfillment, with `returned` only once every fulfillment
    /// came back.
    pub fn status(&self) -> OrderStatus {
        if self.rejected.is_some() {
            return OrderStatus::Rejected;
        }
        if self.cancelled {
            return OrderStatus::Cancelled;
        }
        if !self.placed {
            return OrderStatus::Received;
        }
        if self
            .fulfillments
            .iter()
            .any(|f| f.status == FulfillmentStatus::Exception)
        {
            return OrderStatus::Exception;
        }
        if !self.backordered.is_empty() {
            return if self.fulfillments.is_empty() {
                OrderStatus::Backordered
            } else {
                OrderStatus::PartiallyBackordered
            };
        }
        self.fulfillments
            .iter()
            .map(|f| f.status.as_order())
            .min()
            .unwrap_or(OrderStatus::Received)
    }

    fn line_ref(&self, line: u16) -> LineRef {
        LineRef {
            order: self.no,
            line,
        }
    }

    fn fref(&self, n: u16) -> FulfillmentRef {
        FulfillmentRef { order: self.no, n }
    }

    /// The ship plan of a new fulfillment of `lines` from `facility`, chosen at `at`.
    fn plan_for(
        &self,
        rates: &Rates,
        facility: FacilityIdx,
        lines: &[u16],
        at: Millis,
    ) -> Option<ShipPlan> {
        let units = lines
            .iter()
            .filter_map(|&l| self.request.lines.get(usize::from(l)))
            .map(|l| l.qty)
            .sum();
        let r = &self.request;
        rates.plan(facility, r.lat, r.lon, units, r.service_level, at)
    }

    /// The placement result as an event, with the effects to carry out:
    /// enqueue each fulfillment, queue each backordered line. Each
    /// fulfillment's ship plan is rate-shopped by `rates` at `at`.
    pub fn decide_routed(
        &self,
        outcome: PlacementOutcome,
        at: Millis,
        rates: &Rates,
    ) -> (OrderEvent, Vec<Effect>) {
        let plans = if outcome.rejected.is_none() {
            outcome
                .fulfillments
                .iter()
                .map(|(f, lines)| self.plan_for(rates, *f, lines, at))
                .collect()
        } else {
            Vec::new()
        };
        let mut effects = Vec::new();
        if outcome.rejected.is_none() {
            for (i, _) in outcome.fulfillments.iter().enumerate() {
                effects.push(Effect::Enqueue {
                    fulfillment: self.fref(i as u16 + 1),
                });
            }
            for &l in &outcome.backordered {
                let line = self.request.lines[usize::from(l)];
                effects.push(Effect::Backorder {
                    sku: line.sku,
                    line: self.line_ref(l),
                    qty: line.qty,
                });
            }
        }
        (
            OrderEvent::Routed {
                fulfillments: outcome.fulfillments,
                plans,
                backordered: outcome.backordered,
                rejected: outcome.rejected,
                at,
            },
            effects,
        )
    }

    /// A backorder desk reserved stock for `line` at `facility`. `Err` when
    /// the line no longer waits (cancelled): the caller must release it.
    /// The new fulfillment's ship plan is rate-shopped by `rates` at `at`.
    pub fn decide_fill(
        &self,
        line: u16,
        facility: FacilityIdx,
        at: Millis,
        rates: &Rates,
    ) -> Result<(OrderEvent, Vec<Effect>), OrderRefusal> {
        if self.cancelled || !self.backordered.contains(&line) {
            return reject("line is not waiting for stock");
        }
        let n = self.fulfillments.len() as u16 + 1;
        Ok((
            OrderEvent::BackorderFilled {
                line,
                facility,
                plan: self.plan_for(rates, facility, &[line], at),
                at,
            },
            vec![Effect::Enqueue {
                fulfillment: self.fref(n),
            }],
        ))
    }

    /// A facility released fulfillment `n` in a wave. `Err` if it is not routed.
    pub fn decide_wave(
        &self,
        n: u16,
        wave_id: Arc<str>,
        at: Millis,
    ) -> Result<OrderEvent, OrderRefusal> {
        match self.fulfillment(n) {
            Some(f) if f.status == FulfillmentStatus::Routed && !self.cancelled => {
                Ok(OrderEvent::WaveReleased {
                    fulfillment: n,
                    wave_id,
                    at,
                })
            }
            _ => reject("fulfillment is not waiting for a wave"),
        }
    }

    /// The tracking number the core issues when `f` ships with `carrier`:
    /// one order's fulfillments released in one wave at one facility are
    /// one parcel, so they share the number (that of a sibling already
    /// shipped with this carrier, else the one issued for the parcel's
    /// lowest fulfillment number).
    fn parcel_tracking(&self, f: &Fulfillment, carrier: &Arc<str>) -> Arc<str> {
        let parcel: Vec<&Fulfillment> = self
            .fulfillments
            .iter()
            .filter(|g| g.facility == f.facility && g.wave_id.is_some() && g.wave_id == f.wave_id)
            .collect();
        if let Some(t) = parcel
            .iter()
            .find(|g| g.carrier.as_ref() == Some(carrier) && g.tracking.is_some())
            .and_then(|g| g.tracking.clone())
        {
            return t;
        }
        let n = parcel.iter().map(|g| g.n).min().unwrap_or(f.n).min(f.n);
        Arc::from(tracking_number(carrier, self.no.0, n))
    }

    /// Decide a scan: duplicate, refused with a reason, or an event to apply.
    ///
    /// A `ship` scan may leave out `carrier` (the planned carrier applies)
    /// and `tracking` (the core issues [`tracking_number`] for the carrier);
    /// the event carries both. Naming another carrier than planned re-rates
    /// the fulfillment with `rates` ([`Rates::rerate`]); a carrier the
    /// rates do not know cannot be rated and the plan stays as it was.
    pub fn decide_scan(&self, scan: &Scan, rates: &Rates) -> Result<ScanDecision, OrderRefusal> {
        if self.seen_events.contains(&scan.event_id) {
            return Ok(ScanDecision::Duplicate);
        }
        if self.rejected.is_some() {
            return reject("order was rejected");
        }
        if self.cancelled {
            return reject("order is cancelled");
        }
        let Some(f) = self.fulfillment(scan.fulfillment) else {
            return reject("unknown fulfillment");
        };
        use FulfillmentStatus as S;
        let warehouse = matches!(scan.kind, ScanKind::Pick | ScanKind::Pack | ScanKind::Ship);
        if warehouse && scan.facility != f.facility {
            return reject("facility_id is not the fulfillment's facility");
        }
        let mut effects = Vec::new();
        let mut event = None;
        match scan.kind {
            ScanKind::Pick => {
                let (Some(sku), Some(qty)) = (scan.sku, scan.qty) else {
                    return reject("pick needs sku and qty");
                };
                if !matches!(f.status, S::Released | S::Picking) {
                    return reject(format!("cannot pick: fulfillment is {}", f.status.as_str()));
                }
                let Some(l) = f.lines.iter().find(|l| l.sku == sku) else {
                    return reject("sku is not on this fulfillment");
                };
                if qty == 0 || qty > l.qty - l.picked {
                    return reject(format!(
                        "qty {qty} is over what is left to pick ({})",
                        l.qty - l.picked
                    ));
                }
                effects.push(Effect::Pick {
                    cell: CellKey {
                        sku,
                        facility: f.facility,
                    },
                    line: self.line_ref(l.line),
                    qty,
                });
            }
            ScanKind::Pack => {
                if !matches!(f.status, S::Picking | S::Released)
                    || f.lines.iter().any(|l| l.picked < l.qty)
                {
                    return reject(format!(
                        "cannot pack: {}",
                        if matches!(f.status, S::Picking | S::Released) {
                            "not every line is picked"
                        } else {
                            f.status.as_str()
                        }
                    ));
                }
            }
            ScanKind::Ship => {
                if f.status != S::Packed {
                    return reject(format!("cannot ship: fulfillment is {}", f.status.as_str()));
                }
                let planned = f.ship.as_ref();
                let carrier =
                    match (&scan.carrier, planned) {
                        (Some(c), _) => c.clone(),
                        (None, Some(p)) => p.carrier.clone(),
                        (None, None) => return reject(
                            "carrier: no carrier service is planned for this fulfillment, name one",
                        ),
                    };
                let tracking = scan
                    .tracking
                    .clone()
                    .unwrap_or_else(|| self.parcel_tracking(f, &carrier));
                let replan = if planned.is_some_and(|p| p.carrier == carrier) {
                    None
                } else {
                    let r = &self.request;
                    let units = f.lines.iter().map(|l| l.qty).sum();
                    rates.rerate(
                        &carrier,
                        f.facility,
                        r.lat,
                        r.lon,
                        units,
                        r.service_level,
                        day_of(self.placed_at),
                        scan.at,
                    )
                };
                let scan = Scan {
                    carrier: Some(carrier),
                    tracking: Some(tracking),
                    ..scan.clone()
                };
                event = Some(match replan {
                    Some(plan) => OrderEvent::ShippedRerated { scan, plan },
                    None => OrderEvent::Scanned(scan),
                });
                effects.push(Effect::Close {
                    facility: f.facility,
                    fulfillment: self.fref(f.n),
                });
            }
            ScanKind::InTransit => {
                if !matches!(f.status, S::Shipped | S::InTransit | S::Exception) {
                    return reject(format!(
                        "cannot be in transit: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
            }
            ScanKind::OutForDelivery => {
                if !matches!(f.status, S::Shipped | S::InTransit | S::Exception) {
                    return reject(format!(
                        "cannot be out for delivery: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
            }
            ScanKind::Delivered => {
                if !matches!(
                    f.status,
                    S::Shipped | S::InTransit | S::OutForDelivery | S::Exception
                ) {
                    return reject(format!(
                        "cannot deliver: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
            }
            ScanKind::DeliveryException => {
                if !matches!(f.status, S::Shipped | S::InTransit | S::OutForDelivery) {
                    return reject(format!(
                        "cannot raise an exception: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
                if scan.reason.is_none() {
                    return reject("delivery_exception needs a reason");
                }
            }
            ScanKind::ReturnReceived => {
                let (Some(sku), Some(qty), Some(disposition)) =
                    (scan.sku, scan.qty, scan.disposition)
                else {
                    return reject("return_received needs sku, qty and disposition");
                };
                if !matches!(f.status, S::Delivered | S::Returned) {
                    return reject(format!(
                        "cannot return: fulfillment is {}",
                        f.status.as_str()
                    ));
                }
                let Some(l) = f.lines.iter().find(|l| l.sku == sku) else {
                    return reject("sku is not on this fulfillment");
                };
                if qty == 0 || qty > l.picked - l.returned {
                    return reject(format!(
                        "qty {qty} is over what was delivered and not yet returned ({})",
                        l.picked - l.returned
                    ));
                }
                if disposition == Disposition::Restock {
                    effects.push(Effect::Restock {
                        cell: CellKey {
                            sku,
                            facility: scan.facility,
                        },
                        qty,
                    });
                }
            }
        }
        Ok(ScanDecision::Apply {
            event: event.unwrap_or_else(|| OrderEvent::Scanned(scan.clone())),
            effects,
        })
    }

    /// Decide a cancel. `Ok(None)`: already cancelled (nothing to do).
    /// Effects release what is not picked, put picked units back, and take
    /// the order out of facility and backorder queues.
    pub fn decide_cancel(
        &self,
        at: Millis,
    ) -> Result<Option<(OrderEvent, Vec<Effect>)>, OrderRefusal> {
        if self.cancelled {
            return Ok(None);
        }
        if self.rejected.is_some() {
            return Err(OrderRefusal::Final("rejected"));
        }
        if let Some(f) = self.fulfillments.iter().find(|f| f.status.has_shipped()) {
            return Err(OrderRefusal::AlreadyShipped(format!(
                "fulfillment {} is {}",
                f.n,
                f.status.as_str()
            )));
        }
        // Leave the backorder queues first, so that stock released below is
        // never offered back to this order.
        let mut effects: Vec<Effect> = self
            .backordered
            .iter()
            .map(|&l| Effect::Unbackorder {
                sku: self.request.lines[usize::from(l)].sku,
                line: self.line_ref(l),
            })
            .collect();
        for f in &self.fulfillments {
            for l in &f.lines {
                let cell = CellKey {
                    sku: l.sku,
                    facility: f.facility,
                };
                if l.picked < l.qty {
                    effects.push(Effect::Release {
                        cell,
                        line: self.line_ref(l.line),
                    });
                }
                if l.picked > 0 {
                    effects.push(Effect::Restock {
                        cell,
                        qty: l.picked,
                    });
                }
            }
            let fulfillment = self.fref(f.n);
            effects.push(if f.status == FulfillmentStatus::Routed {
                Effect::Dequeue {
                    facility: f.facility,
                    fulfillment,
                }
            } else {
                Effect::Close {
                    facility: f.facility,
                    fulfillment,
                }
            });
        }
        Ok(Some((OrderEvent::Cancelled { at }, effects)))
    }

    fn note(
        &mut self,
        at: Millis,
        what: &'static str,
        fulfillment: Option<u16>,
        event_id: Option<Arc<str>>,
    ) {
        self.note_ship(at, what, fulfillment, event_id, None);
    }

    fn note_ship(
        &mut self,
        at: Millis,
        what: &'static str,
        fulfillment: Option<u16>,
        event_id: Option<Arc<str>>,
        ship: Option<ShipPlan>,
    ) {
        self.last_change = self.last_change.max(at);
        self.timeline.push(TimelineEntry {
            at,
            what: what.into(),
            fulfillment,
            event_id,
            ship,
        });
    }

    fn new_fulfillment(
        &mut self,
        facility: FacilityIdx,
        lines: &[u16],
        ship: Option<ShipPlan>,
    ) -> u16 {
        let n = self.fulfillments.len() as u16 + 1;
        let lines = lines
            .iter()
            .map(|&l| {
                let ol = self.request.lines[usize::from(l)];
                FulfillmentLine {
                    line: l,
                    sku: ol.sku,
                    qty: ol.qty,
                    picked: 0,
                    returned: 0,
                    restocked: 0,
                }
            })
            .collect();
        self.fulfillments.push(Fulfillment {
            n,
            facility,
            lines,
            status: FulfillmentStatus::Routed,
            wave_id: None,
            carrier: None,
            tracking: None,
            ship,
        });
        n
    }

    /// Apply an event (decided here or replayed). `Placed` is applied by
    /// [`OrderState::place`] and ignored here.
    pub fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Placed { .. } => {}
            OrderEvent::Routed {
                fulfillments,
                plans,
                backordered,
                rejected,
                at,
            } => {
                self.placed = true;
                if let Some(r) = rejected {
                    self.rejected = Some(r.clone());
                    self.note(*at, "rejected", None, None);
                    return;
                }
                for (i, (facility, lines)) in fulfillments.iter().enumerate() {
                    let plan = plans.get(i).cloned().flatten();
                    let n = self.new_fulfillment(*facility, lines, plan.clone());
                    self.note_ship(*at, "routed", Some(n), None, plan);
                }
                self.backordered = backordered.clone();
                if !backordered.is_empty() {
                    self.note(*at, "backordered", None, None);
                }
            }
            OrderEvent::BackorderFilled {
                line,
                facility,
                plan,
                at,
            } => {
                self.backordered.retain(|l| l != line);
                let n = self.new_fulfillment(*facility, &[*line], plan.clone());
                self.note_ship(*at, "backorder_filled", Some(n), None, plan.clone());
            }
            OrderEvent::WaveReleased {
                fulfillment,
                wave_id,
                at,
            } => {
                if let Some(f) = self.fulfillments.iter_mut().find(|f| f.n == *fulfillment) {
                    f.status = FulfillmentStatus::Released;
                    f.wave_id = Some(wave_id.clone());
                }
                self.note(*at, "wave_released", Some(*fulfillment), None);
            }
            OrderEvent::Scanned(scan) => self.apply_scan(scan, None),
            OrderEvent::ShippedRerated { scan, plan } => self.apply_scan(scan, Some(plan)),
            OrderEvent::Cancelled { at } => {
                self.cancelled = true;
                for f in &mut self.fulfillments {
                    f.status = FulfillmentStatus::Cancelled;
                }
                self.backordered.clear();
                self.note(*at, "cancelled", None, None);
            }
        }
    }

    /// Applies a scan; `replan` is a re-rated ship plan (a ship scan only).
    fn apply_scan(&mut self, scan: &Scan, replan: Option<&ShipPlan>) {
        {
            {
                self.seen_events.insert(scan.event_id.clone());
                let f = self
                    .fulfillments
                    .iter_mut()
                    .find(|f| f.n == scan.fulfillment)
                    .expect("scan of an unknown fulfillment was decided");
                use FulfillmentStatus as S;
                match scan.kind {
                    ScanKind::Pick => {
                        let sku = scan.sku.expect("pick has a sku");
                        let l = f
                            .lines
                            .iter_mut()
                            .find(|l| l.sku == sku)
                            .expect("pick line");
                        l.picked += scan.qty.unwrap_or(0);
                        f.status = S::Picking;
                    }
                    ScanKind::Pack => f.status = S::Packed,
                    ScanKind::Ship => {
                        f.status = S::Shipped;
                        f.carrier = scan.carrier.clone();
                        f.tracking = scan.tracking.clone();
                        if let Some(p) = replan {
                            f.ship = Some(p.clone());
                        }
                    }
                    ScanKind::InTransit => f.status = S::InTransit,
                    ScanKind::OutForDelivery => f.status = S::OutForDelivery,
                    ScanKind::Delivered => f.status = S::Delivered,
                    ScanKind::DeliveryException => f.status = S::Exception,
                    ScanKind::ReturnReceived => {
                        let sku = scan.sku.expect("return has a sku");
                        let l = f
                            .lines
                            .iter_mut()
                            .find(|l| l.sku == sku)
                            .expect("return line");
                        l.returned += scan.qty.unwrap_or(0);
                        if scan.disposition == Some(Disposition::Restock) {
                            l.restocked += scan.qty.unwrap_or(0);
                        }
                        if f.lines.iter().all(|l| l.returned >= l.picked) {
                            f.status = S::Returned;
                        } else {
                            f.status = S::Delivered;
                        }
                    }
                }
                self.note_ship(
                    scan.at,
                    scan.kind.as_str(),
                    Some(scan.fulfillment),
                    Some(scan.event_id.clone()),
                    replan.cloned(),
                );
                // Derived from the journaled scan alone, so replay agrees.
                if scan.kind == ScanKind::Delivered
                    && self.promise_kept(scan.fulfillment, scan.at) == Some(false)
                {
                    self.note(
                        scan.at,
                        "promise_missed",
                        Some(scan.fulfillment),
                        Some(scan.event_id.clone()),
                    );
                }
            }
        }
    }

    /// What this order should hold in cells now: (cell, line, units reserved
    /// and not yet picked). Used by the audit.
    pub fn expected_reservations(&self) -> Vec<(CellKey, LineRef, u32)> {
        if self.cancelled || self.rejected.is_some() {
            return Vec::new();
        }
        let mut v = Vec::new();
        for f in &self.fulfillments {
            for l in &f.lines {
                if l.picked < l.qty {
                    v.push((
                        CellKey {
                            sku: l.sku,
                            facility: f.facility,
                        },
                        self.line_ref(l.line),
                        l.qty - l.picked,
                    ));
                }
            }
        }
        v
    }

    /// Units this order moved, per line: (sku, picked, put back on a shelf).
    /// Put back counts restocked returns and the picked units of a cancelled
    /// order. For the conservation audit, paired with the cells' ledgers.
    pub fn units_moved(&self) -> impl Iterator<Item = (SkuIdx, u64, u64)> + '_ {
        self.fulfillments.iter().flat_map(move |f| {
            f.lines.iter().map(move |l| {
                let back = if self.cancelled {
                    l.picked
                } else {
                    l.restocked
                };
                (l.sku, u64::from(l.picked), u64::from(back))
            })
        })
    }

    /// Checks the order's own invariants: no line in two places, no line
    /// reserved twice, a cancelled order holds nothing.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = vec![0u8; self.request.lines.len()];
        for f in &self.fulfillments {
            for l in &f.lines {
                let s = seen
                    .get_mut(usize::from(l.line))
                    .ok_or("line number out of range")?;
                *s += 1;
                if l.picked > l.qty || l.returned > l.picked {
                    return Err(format!("line {}: picked/returned beyond quantity", l.line));
                }
            }
        }
        for &l in &self.backordered {
            seen[usize::from(l)] += 1;
        }
        if seen.iter().any(|&n| n > 1) {
            return Err("a line is in two places".into());
        }
        if self.cancelled && !self.backordered.is_empty() {
            return Err("a cancelled order still waits for stock".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rates with no carriers: no fulfillment gets a ship plan.
    fn none() -> Rates {
        Rates::default()
    }

    const T: Millis = 1_000_000;
    const NO: OrderNo = OrderNo(7);
    const F0: FacilityIdx = FacilityIdx(0);
    const F1: FacilityIdx = FacilityIdx(1);
    const A: SkuIdx = SkuIdx(10);
    const B: SkuIdx = SkuIdx(11);
    const C: SkuIdx = SkuIdx(12);
    const D: SkuIdx = SkuIdx(13);

    fn request(lines: &[(SkuIdx, u32)]) -> PlaceRequest {
        PlaceRequest {
            order_id: "o-7".into(),
            channel: "web".into(),
            lat: 40.0,
            lon: -74.0,
            service_level: ServiceLevel::Standard,
            lines: lines
                .iter()
                .map(|&(sku, qty)| OrderLine { sku, qty })
                .collect(),
            allow_backorder: true,
        }
    }

    /// An order placed and routed with a hand-made placement outcome.
    fn routed(
        lines: &[(SkuIdx, u32)],
        fulfillments: Vec<(FacilityIdx, Vec<u16>)>,
        backordered: Vec<u16>,
    ) -> OrderState {
        let (mut o, _) = OrderState::place(NO, request(lines), T);
        let (event, _) = o.decide_routed(
            PlacementOutcome {
                fulfillments,
                backordered,
                rejected: None,
            },
            T,
            &none(),
        );
        o.apply(&event);
        o.check_invariants().unwrap();
        o
    }

    fn rejected_order() -> OrderState {
        let (mut o, _) = OrderState::place(NO, request(&[(A, 1)]), T);
        let (event, effects) = o.decide_routed(
            PlacementOutcome {
                fulfillments: vec![],
                backordered: vec![],
                rejected: Some("no stock and allow_backorder is false".into()),
            },
            T,
            &none(),
        );
        assert!(effects.is_empty(), "a rejected order has nothing to do");
        o.apply(&event);
        o
    }

    fn line(l: u16) -> LineRef {
        LineRef { order: NO, line: l }
    }

    fn fref(n: u16) -> FulfillmentRef {
        FulfillmentRef { order: NO, n }
    }

    fn cell(sku: SkuIdx, facility: FacilityIdx) -> CellKey {
        CellKey { sku, facility }
    }

    fn scan(id: &str, kind: ScanKind, n: u16) -> Scan {
        Scan {
            event_id: id.into(),
            kind,
            fulfillment: n,
            facility: F0,
            sku: None,
            qty: None,
            carrier: None,
            tracking: None,
            reason: None,
            disposition: None,
            at: T + 10,
        }
    }

    fn pick(id: &str, n: u16, sku: SkuIdx, qty: u32) -> Scan {
        Scan {
            sku: Some(sku),
            qty: Some(qty),
            ..scan(id, ScanKind::Pick, n)
        }
    }

    fn ship(id: &str, n: u16) -> Scan {
        Scan {
            carrier: Some("UPS".into()),
            tracking: Some("1Z999".into()),
            ..scan(id, ScanKind::Ship, n)
        }
    }

    fn exception(id: &str, n: u16) -> Scan {
        Scan {
            reason: Some("address not found".into()),
            ..scan(id, ScanKind::DeliveryException, n)
        }
    }

    fn ret(id: &str, n: u16, sku: SkuIdx, qty: u32, d: Disposition) -> Scan {
        Scan {
            sku: Some(sku),
            qty: Some(qty),
            disposition: Some(d),
            ..scan(id, ScanKind::ReturnReceived, n)
        }
    }

    /// A scan of `kind` with every field it needs, for fulfillment 1 at F0.
    fn well_formed(kind: ScanKind, id: &str) -> Scan {
        match kind {
            ScanKind::Pick => pick(id, 1, A, 1),
            ScanKind::Ship => ship(id, 1),
            ScanKind::DeliveryException => exception(id, 1),
            ScanKind::ReturnReceived => ret(id, 1, A, 1, Disposition::Restock),
            k => scan(id, k, 1),
        }
    }

    /// Decides and, when accepted, applies; a refusal must change nothing.
    fn try_scan(o: &mut OrderState, s: &Scan) -> Result<ScanDecision, OrderRefusal> {
        let before = o.clone();
        let d = o.decide_scan(s, &none());
        match &d {
            Ok(ScanDecision::Apply { event, .. }) => o.apply(event),
            _ => assert_eq!(*o, before, "{s:?} was not applied but changed the order"),
        }
        o.check_invariants().unwrap();
        d
    }

    fn must_apply(o: &mut OrderState, s: &Scan) -> Vec<Effect> {
        match try_scan(o, s) {
            Ok(ScanDecision::Apply { effects, .. }) => effects,
            other => panic!("{s:?} should apply, got {other:?}"),
        }
    }

    fn must_refuse(o: &mut OrderState, s: &Scan) -> String {
        match try_scan(o, s) {
            Err(OrderRefusal::Rejected(m)) => m,
            other => panic!("{s:?} should be refused, got {other:?}"),
        }
    }

    fn release(o: &mut OrderState, n: u16) {
        let e = o.decide_wave(n, "DC-W000001".into(), T + 5).unwrap();
        o.apply(&e);
    }

    fn fstatus(o: &OrderState, n: u16) -> FulfillmentStatus {
        o.fulfillment(n).unwrap().status
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Stage {
        Routed,
        Released,
        PickingPartial,
        PickingDone,
        Packed,
        Shipped,
        InTransit,
        OutForDelivery,
        Exception,
        Delivered,
        Returned,
        Cancelled,
    }

    const STAGES: [Stage; 12] = [
        Stage::Routed,
        Stage::Released,
        Stage::PickingPartial,
        Stage::PickingDone,
        Stage::Packed,
        Stage::Shipped,
        Stage::InTransit,
        Stage::OutForDelivery,
        Stage::Exception,
        Stage::Delivered,
        Stage::Returned,
        Stage::Cancelled,
    ];

    /// One fulfillment at F0 with lines A x2 and B x1, driven to `stage` by valid scans.
    fn at_stage(stage: Stage) -> OrderState {
        use Stage as St;
        let mut o = routed(&[(A, 2), (B, 1)], vec![(F0, vec![0, 1])], vec![]);
        if stage == St::Routed {
            return o;
        }
        if stage == St::Cancelled {
            release(&mut o, 1);
            let (e, _) = o.decide_cancel(T + 20).unwrap().unwrap();
            o.apply(&e);
            return o;
        }
        release(&mut o, 1);
        if stage == St::Released {
            return o;
        }
        must_apply(&mut o, &pick("s-pick-b", 1, B, 1));
        if stage == St::PickingPartial {
            return o;
        }
        must_apply(&mut o, &pick("s-pick-a", 1, A, 2));
        if stage == St::PickingDone {
            return o;
        }
        must_apply(&mut o, &scan("s-pack", ScanKind::Pack, 1));
        if stage == St::Packed {
            return o;
        }
        must_apply(&mut o, &ship("s-ship", 1));
        if stage == St::Shipped {
            return o;
        }
        must_apply(&mut o, &scan("s-transit", ScanKind::InTransit, 1));
        if stage == St::InTransit {
            return o;
        }
        must_apply(&mut o, &scan("s-ofd", ScanKind::OutForDelivery, 1));
        if stage == St::OutForDelivery {
            return o;
        }
        if stage == St::Exception {
            must_apply(&mut o, &exception("s-exc", 1));
            return o;
        }
        must_apply(&mut o, &scan("s-delivered", ScanKind::Delivered, 1));
        if stage == St::Delivered {
            return o;
        }
        must_apply(&mut o, &ret("s-ret-a", 1, A, 2, Disposition::Restock));
        must_apply(&mut o, &ret("s-ret-b", 1, B, 1, Disposition::Dispose));
        assert_eq!(stage, St::Returned);
        o
    }

    fn stage_status(stage: Stage) -> FulfillmentStatus {
        use FulfillmentStatus as S;
        match stage {
            Stage::Routed => S::Routed,
            Stage::Released => S::Released,
            Stage::PickingPartial | Stage::PickingDone => S::Picking,
            Stage::Packed => S::Packed,
            Stage::Shipped => S::Shipped,
            Stage::InTransit => S::InTransit,
            Stage::OutForDelivery => S::OutForDelivery,
            Stage::Exception => S::Exception,
            Stage::Delivered => S::Delivered,
            Stage::Returned => S::Returned,
            Stage::Cancelled => S::Cancelled,
        }
    }

    /// The rules of `decide_scan` for a well-formed scan: `Some(status after)`
    /// when accepted, `None` when refused.
    fn expected(kind: ScanKind, stage: Stage) -> Option<FulfillmentStatus> {
        use FulfillmentStatus as S;
        use Stage as St;
        match (kind, stage) {
            (ScanKind::Pick, St::Released | St::PickingPartial) => Some(S::Picking),
            (ScanKind::Pack, St::PickingDone) => Some(S::Packed),
            (ScanKind::Ship, St::Packed) => Some(S::Shipped),
            (ScanKind::InTransit, St::Shipped | St::InTransit | St::Exception) => {
                Some(S::InTransit)
            }
            (ScanKind::OutForDelivery, St::Shipped | St::InTransit | St::Exception) => {
                Some(S::OutForDelivery)
            }
            (
                ScanKind::Delivered,
                St::Shipped | St::InTransit | St::OutForDelivery | St::Exception,
            ) => Some(S::Delivered),
            (ScanKind::DeliveryException, St::Shipped | St::InTransit | St::OutForDelivery) => {
                Some(S::Exception)
            }
            // One of two A units back, B still out: stays delivered.
            (ScanKind::ReturnReceived, St::Delivered) => Some(S::Delivered),
            _ => None,
        }
    }

    #[test]
    fn stages_are_built_as_named() {
        for stage in STAGES {
            let o = at_stage(stage);
            assert_eq!(fstatus(&o, 1), stage_status(stage), "{stage:?}");
        }
    }

    #[test]
    fn every_scan_kind_in_every_status_is_accepted_or_refused_by_the_rules() {
        let mut accepted = 0;
        for stage in STAGES {
            for kind in ScanKind::ALL {
                let mut o = at_stage(stage);
                let before = o.clone();
                let s = well_formed(kind, "e-matrix");
                let d = try_scan(&mut o, &s);
                match expected(kind, stage) {
                    Some(after) => {
                        accepted += 1;
                        let Ok(ScanDecision::Apply { event, effects }) = d else {
                            panic!("{kind:?} in {stage:?} should apply, got {d:?}");
                        };
                        assert_eq!(event, OrderEvent::Scanned(s.clone()));
                        assert_eq!(fstatus(&o, 1), after, "{kind:?} in {stage:?}");
                        let want: Vec<Effect> = match kind {
                            ScanKind::Pick => vec![Effect::Pick {
                                cell: cell(A, F0),
                                line: line(0),
                                qty: 1,
                            }],
                            ScanKind::Ship => vec![Effect::Close {
                                facility: F0,
                                fulfillment: fref(1),
                            }],
                            ScanKind::ReturnReceived => vec![Effect::Restock {
                                cell: cell(A, F0),
                                qty: 1,
                            }],
                            _ => vec![],
                        };
                        assert_eq!(effects, want, "{kind:?} in {stage:?}");
                        assert_eq!(o.timeline().len(), before.timeline().len() + 1);
                        let last = o.timeline().last().unwrap();
                        assert_eq!(last.what, kind.as_str());
                        assert_eq!(last.event_id.as_deref(), Some("e-matrix"));
                        assert_eq!(last.fulfillment, Some(1));
                        // The id is now known: a repeat is a duplicate and changes nothing.
                        let after_state = o.clone();
                        assert_eq!(try_scan(&mut o, &s), Ok(ScanDecision::Duplicate));
                        assert_eq!(o, after_state);
                    }
                    None => {
                        assert!(
                            matches!(d, Err(OrderRefusal::Rejected(_))),
                            "{kind:?} in {stage:?} should be refused, got {d:?}"
                        );
                        assert_eq!(o, before, "{kind:?} in {stage:?}");
                    }
                }
            }
        }
        assert_eq!(accepted, 18, "accepted (kind, status) pairs");
    }

    #[test]
    fn a_refused_event_id_is_not_remembered() {
        let mut o = at_stage(Stage::Released);
        must_refuse(&mut o, &scan("e-1", ScanKind::Pack, 1));
        // Same id later, when it fits: applied, not a duplicate.
        must_apply(&mut o, &pick("e-1", 1, A, 2));
        assert_eq!(
            o.decide_scan(&pick("e-1", 1, B, 1), &none()),
            Ok(ScanDecision::Duplicate)
        );
    }

    #[test]
    fn duplicate_event_id_changes_nothing_whatever_it_carries() {
        let mut o = at_stage(Stage::Released);
        must_apply(&mut o, &pick("e-1", 1, A, 1));
        let before = o.clone();
        // Same id, same content; same id, other content; same id, a scan that would be refused.
        for s in [
            pick("e-1", 1, A, 1),
            pick("e-1", 1, B, 1),
            scan("e-1", ScanKind::Delivered, 1),
            scan("e-1", ScanKind::Pack, 9),
        ] {
            assert_eq!(try_scan(&mut o, &s), Ok(ScanDecision::Duplicate), "{s:?}");
            assert_eq!(o, before);
        }
        assert_eq!(o.fulfillment(1).unwrap().lines[0].picked, 1);
        // An id applied before the order was cancelled is still a duplicate after.
        let (e, _) = o.decide_cancel(T + 50).unwrap().unwrap();
        o.apply(&e);
        assert_eq!(
            o.decide_scan(&pick("e-1", 1, A, 1), &none()),
            Ok(ScanDecision::Duplicate)
        );
    }

    #[test]
    fn pick_refusals() {
        let mut o = at_stage(Stage::Released);
        // Over the reserved quantity, zero, unknown SKU, missing fields, unknown fulfillment.
        assert!(must_refuse(&mut o, &pick("p1", 1, A, 3)).contains("over"));
        must_refuse(&mut o, &pick("p2", 1, A, 0));
        assert!(must_refuse(&mut o, &pick("p3", 1, C, 1)).contains("sku"));
        must_refuse(
            &mut o,
            &Scan {
                qty: None,
                ..pick("p4", 1, A, 1)
            },
        );
        must_refuse(
            &mut o,
            &Scan {
                sku: None,
                ..pick("p5", 1, A, 1)
            },
        );
        assert!(must_refuse(&mut o, &pick("p6", 2, A, 1)).contains("unknown fulfillment"));
        // Wrong facility.
        assert!(must_refuse(
            &mut o,
            &Scan {
                facility: F1,
                ..pick("p7", 1, A, 1)
            }
        )
        .contains("facility"));
        // Partial picks add up to the reservation, never beyond it.
        must_apply(&mut o, &pick("p8", 1, A, 1));
        must_refuse(&mut o, &pick("p9", 1, A, 2));
        must_apply(&mut o, &pick("p10", 1, A, 1));
        must_refuse(&mut o, &pick("p11", 1, A, 1));
        assert_eq!(o.fulfillment(1).unwrap().lines[0].picked, 2);
        // A routed (not released) fulfillment cannot be picked.
        let mut o = at_stage(Stage::Routed);
        assert!(must_refuse(&mut o, &pick("p12", 1, A, 1)).contains("routed"));
    }

    #[test]
    fn warehouse_scans_need_the_fulfillments_facility_carrier_scans_do_not() {
        let at = |stage, s: Scan| {
            let mut o = at_stage(stage);
            let s = Scan { facility: F1, ..s };
            try_scan(&mut o, &s)
        };
        for (stage, s) in [
            (Stage::Released, pick("w1", 1, A, 1)),
            (Stage::PickingDone, scan("w2", ScanKind::Pack, 1)),
            (Stage::Packed, ship("w3", 1)),
        ] {
            let d = at(stage, s.clone());
            assert!(
                matches!(&d, Err(OrderRefusal::Rejected(m)) if m.contains("facility")),
                "{s:?}: {d:?}"
            );
        }
        for (stage, s) in [
            (Stage::Shipped, scan("w4", ScanKind::InTransit, 1)),
            (Stage::Shipped, scan("w5", ScanKind::OutForDelivery, 1)),
            (Stage::Shipped, scan("w6", ScanKind::Delivered, 1)),
            (Stage::Shipped, exception("w7", 1)),
        ] {
            assert!(matches!(at(stage, s), Ok(ScanDecision::Apply { .. })));
        }
        // A return may arrive at another facility: it is restocked there.
        let mut o = at_stage(Stage::Delivered);
        let effects = must_apply(
            &mut o,
            &Scan {
                facility: F1,
                ..ret("w8", 1, A, 1, Disposition::Restock)
            },
        );
        assert_eq!(
            effects,
            vec![Effect::Restock {
                cell: cell(A, F1),
                qty: 1
            }]
        );
    }

    #[test]
    fn pack_needs_every_line_picked_and_ship_needs_pack() {
        let mut o = at_stage(Stage::Released);
        assert!(must_refuse(&mut o, &scan("k1", ScanKind::Pack, 1)).contains("not every line"));
        assert!(must_refuse(&mut o, &ship("k2", 1)).contains("released"));
        must_apply(&mut o, &pick("k3", 1, A, 2));
        must_refuse(&mut o, &scan("k4", ScanKind::Pack, 1));
        must_refuse(&mut o, &ship("k5", 1));
        must_apply(&mut o, &pick("k6", 1, B, 1));
        must_refuse(&mut o, &ship("k7", 1));
        assert_eq!(must_apply(&mut o, &scan("k8", ScanKind::Pack, 1)), vec![]);
        must_refuse(&mut o, &scan("k9", ScanKind::Pack, 1));
        // Nothing planned (no carriers): a ship scan must name the carrier.
        let why = must_refuse(
            &mut o,
            &Scan {
                carrier: None,
                ..ship("k11", 1)
            },
        );
        assert!(why.starts_with("carrier:"), "{why}");
        must_apply(&mut o, &ship("k12", 1));
        let f = o.fulfillment(1).unwrap();
        assert_eq!(f.carrier.as_deref(), Some("UPS"));
        assert_eq!(f.tracking.as_deref(), Some("1Z999"));
        // Exception needs a reason.
        must_refuse(&mut o, &scan("k13", ScanKind::DeliveryException, 1));
        assert_eq!(o.status(), OrderStatus::Shipped);
    }

    #[test]
    fn exception_is_left_explicitly_towards_delivery() {
        let mut o = at_stage(Stage::Exception);
        assert_eq!(o.status(), OrderStatus::Exception);
        must_refuse(&mut o, &exception("x1", 1));
        must_apply(&mut o, &scan("x2", ScanKind::InTransit, 1));
        assert_eq!(o.status(), OrderStatus::InTransit);
        must_apply(&mut o, &exception("x3", 1));
        must_apply(&mut o, &scan("x4", ScanKind::Delivered, 1));
        assert_eq!(o.status(), OrderStatus::Delivered);
        // Delivered never goes back.
        for kind in [
            ScanKind::InTransit,
            ScanKind::OutForDelivery,
            ScanKind::DeliveryException,
            ScanKind::Delivered,
        ] {
            must_refuse(&mut o, &well_formed(kind, "x5"));
        }
    }

    #[test]
    fn scans_for_cancelled_or_rejected_orders_are_refused() {
        for kind in ScanKind::ALL {
            let mut o = at_stage(Stage::Cancelled);
            assert!(must_refuse(&mut o, &well_formed(kind, "c1")).contains("cancelled"));
            let mut o = rejected_order();
            assert!(must_refuse(&mut o, &well_formed(kind, "c2")).contains("rejected"));
        }
        // Also after picking started: the cancel wins over the warehouse.
        let mut o = at_stage(Stage::PickingPartial);
        let (e, _) = o.decide_cancel(T + 30).unwrap().unwrap();
        o.apply(&e);
        must_refuse(&mut o, &pick("c3", 1, A, 1));
        must_refuse(&mut o, &scan("c4", ScanKind::Pack, 1));
    }

    #[test]
    fn returns_up_to_what_was_delivered() {
        let mut o = at_stage(Stage::Delivered);
        assert!(must_refuse(&mut o, &ret("r1", 1, A, 3, Disposition::Restock)).contains("over"));
        must_refuse(&mut o, &ret("r2", 1, A, 0, Disposition::Restock));
        must_refuse(&mut o, &ret("r3", 1, C, 1, Disposition::Restock));
        must_refuse(
            &mut o,
            &Scan {
                disposition: None,
                ..ret("r4", 1, A, 1, Disposition::Restock)
            },
        );
        assert_eq!(
            must_apply(&mut o, &ret("r5", 1, A, 1, Disposition::Dispose)),
            vec![]
        );
        assert_eq!(fstatus(&o, 1), FulfillmentStatus::Delivered);
        must_refuse(&mut o, &ret("r6", 1, A, 2, Disposition::Restock));
        assert_eq!(
            must_apply(&mut o, &ret("r7", 1, A, 1, Disposition::Restock)),
            vec![Effect::Restock {
                cell: cell(A, F0),
                qty: 1
            }]
        );
        must_refuse(&mut o, &ret("r8", 1, A, 1, Disposition::Restock));
        assert_eq!(o.status(), OrderStatus::Delivered, "B is still out");
        must_apply(&mut o, &ret("r9", 1, B, 1, Disposition::Restock));
        assert_eq!(o.status(), OrderStatus::Returned);
        assert!(o.status().is_final());
        let l = o.fulfillment(1).unwrap().lines.clone();
        assert_eq!((l[0].picked, l[0].returned, l[0].restocked), (2, 2, 1));
        assert_eq!((l[1].picked, l[1].returned, l[1].restocked), (1, 1, 1));
        let moved: Vec<_> = o.units_moved().collect();
        assert_eq!(moved, vec![(A, 2, 1), (B, 1, 1)]);
        // Nothing is returnable any more.
        for s in [
            ret("r10", 1, A, 1, Disposition::Restock),
            ret("r11", 1, B, 1, Disposition::Dispose),
        ] {
            must_refuse(&mut o, &s);
        }
        // Returns before delivery are refused.
        for stage in [Stage::Shipped, Stage::OutForDelivery, Stage::Exception] {
            let mut o = at_stage(stage);
            must_refuse(&mut o, &ret("r12", 1, A, 1, Disposition::Restock));
        }
    }

    #[test]
    fn cancel_after_ship_is_refused_and_changes_nothing() {
        for stage in [
            Stage::Shipped,
            Stage::InTransit,
            Stage::OutForDelivery,
            Stage::Exception,
            Stage::Delivered,
            Stage::Returned,
        ] {
            let o = at_stage(stage);
            assert!(
                matches!(
                    o.decide_cancel(T + 99),
                    Err(OrderRefusal::AlreadyShipped(_))
                ),
                "{stage:?}"
            );
        }
        // One fulfillment shipped, another still routed: refused too.
        let mut o = routed(
            &[(A, 1), (B, 1)],
            vec![(F0, vec![0]), (F1, vec![1])],
            vec![],
        );
        release(&mut o, 1);
        must_apply(&mut o, &pick("a1", 1, A, 1));
        must_apply(&mut o, &scan("a2", ScanKind::Pack, 1));
        must_apply(&mut o, &ship("a3", 1));
        assert!(matches!(
            o.decide_cancel(T + 99),
            Err(OrderRefusal::AlreadyShipped(_))
        ));
        assert_eq!(
            rejected_order().decide_cancel(T + 99),
            Err(OrderRefusal::Final("rejected"))
        );
    }

    #[test]
    fn cancel_releases_unpicked_restocks_picked_and_unbackorders_waiting() {
        // Line 0: A x3 and line 1: B x1 at F0 (released, A 1 of 3 picked,
        // B picked); line 2: C x2 waiting; line 3: D x1 at F1 (routed).
        let mut o = routed(
            &[(A, 3), (B, 1), (C, 2), (D, 1)],
            vec![(F0, vec![0, 1]), (F1, vec![3])],
            vec![2],
        );
        assert_eq!(o.status(), OrderStatus::PartiallyBackordered);
        release(&mut o, 1);
        must_apply(&mut o, &pick("q1", 1, A, 1));
        must_apply(&mut o, &pick("q2", 1, B, 1));
        let (event, effects) = o.decide_cancel(T + 40).unwrap().unwrap();
        assert_eq!(event, OrderEvent::Cancelled { at: T + 40 });
        assert_eq!(
            effects,
            vec![
                Effect::Unbackorder {
                    sku: C,
                    line: line(2)
                },
                Effect::Release {
                    cell: cell(A, F0),
                    line: line(0)
                },
                Effect::Restock {
                    cell: cell(A, F0),
                    qty: 1
                },
                Effect::Restock {
                    cell: cell(B, F0),
                    qty: 1
                },
                Effect::Close {
                    facility: F0,
                    fulfillment: fref(1)
                },
                Effect::Release {
                    cell: cell(D, F1),
                    line: line(3)
                },
                Effect::Dequeue {
                    facility: F1,
                    fulfillment: fref(2)
                },
            ]
        );
        o.apply(&event);
        o.check_invariants().unwrap();
        assert_eq!(o.status(), OrderStatus::Cancelled);
        assert!(o.status().is_final());
        assert!(o.backordered().is_empty());
        assert!(o.expected_reservations().is_empty());
        assert!(o
            .fulfillments()
            .iter()
            .all(|f| f.status == FulfillmentStatus::Cancelled));
        let moved: Vec<_> = o.units_moved().collect();
        assert_eq!(moved, vec![(A, 1, 1), (B, 1, 1), (D, 0, 0)]);
        assert_eq!(o.timeline().last().unwrap().what, "cancelled");
        // Twice: nothing to do.
        let before = o.clone();
        assert_eq!(o.decide_cancel(T + 41), Ok(None));
        assert_eq!(o, before);
        // A cancelled order takes no stock, no wave.
        assert!(o.decide_fill(2, F0, T + 42, &none()).is_err());
        assert!(o.decide_wave(2, "W".into(), T + 42).is_err());
    }

    #[test]
    fn cancel_before_wave_and_after_pack() {
        let o = at_stage(Stage::Routed);
        let (_, effects) = o.decide_cancel(T).unwrap().unwrap();
        assert_eq!(
            effects,
            vec![
                Effect::Release {
                    cell: cell(A, F0),
                    line: line(0)
                },
                Effect::Release {
                    cell: cell(B, F0),
                    line: line(1)
                },
                Effect::Dequeue {
                    facility: F0,
                    fulfillment: fref(1)
                },
            ]
        );
        let o = at_stage(Stage::Packed);
        let (_, effects) = o.decide_cancel(T).unwrap().unwrap();
        assert_eq!(
            effects,
            vec![
                Effect::Restock {
                    cell: cell(A, F0),
                    qty: 2
                },
                Effect::Restock {
                    cell: cell(B, F0),
                    qty: 1
                },
                Effect::Close {
                    facility: F0,
                    fulfillment: fref(1)
                },
            ]
        );
    }

    #[test]
    fn status_is_derived_from_the_parts() {
        use OrderStatus as O;
        let (o, _) = OrderState::place(NO, request(&[(A, 1)]), T);
        assert_eq!(o.status(), O::Received);
        assert!(!o.status().is_final());
        assert_eq!(rejected_order().status(), O::Rejected);
        assert!(rejected_order().expected_reservations().is_empty());

        let o = routed(&[(A, 1), (B, 1)], vec![], vec![0, 1]);
        assert_eq!(o.status(), O::Backordered);
        let o = routed(&[(A, 1), (B, 1)], vec![(F0, vec![0])], vec![1]);
        assert_eq!(o.status(), O::PartiallyBackordered);
        let o = routed(&[(A, 1), (B, 1)], vec![(F0, vec![0, 1])], vec![]);
        assert_eq!(o.status(), O::Routed);

        // The least advanced live fulfillment.
        let mut o = routed(
            &[(A, 1), (B, 1)],
            vec![(F0, vec![0]), (F1, vec![1])],
            vec![],
        );
        release(&mut o, 1);
        assert_eq!(o.status(), O::Routed);
        must_apply(&mut o, &pick("d1", 1, A, 1));
        must_apply(&mut o, &scan("d2", ScanKind::Pack, 1));
        must_apply(&mut o, &ship("d3", 1));
        assert_eq!(o.status(), O::Routed);
        release(&mut o, 2);
        assert_eq!(o.status(), O::Released);
        let at_f1 = |s: Scan| Scan { facility: F1, ..s };
        must_apply(&mut o, &at_f1(pick("d4", 2, B, 1)));
        assert_eq!(o.status(), O::Picking);
        // An open exception anywhere shows.
        must_apply(&mut o, &exception("d5", 1));
        assert_eq!(o.status(), O::Exception);
        must_apply(&mut o, &scan("d6", ScanKind::Delivered, 1));
        assert_eq!(o.status(), O::Picking);
        must_apply(&mut o, &at_f1(scan("d7", ScanKind::Pack, 2)));
        must_apply(&mut o, &at_f1(ship("d8", 2)));
        assert_eq!(o.status(), O::Shipped);
        must_apply(&mut o, &scan("d9", ScanKind::OutForDelivery, 2));
        assert_eq!(o.status(), O::OutForDelivery);
        must_apply(&mut o, &scan("d10", ScanKind::Delivered, 2));
        assert_eq!(o.status(), O::Delivered);
        assert!(o.status().is_final());
        // Returned only once every fulfillment came back.
        must_apply(&mut o, &ret("d11", 1, A, 1, Disposition::Restock));
        assert_eq!(fstatus(&o, 1), FulfillmentStatus::Returned);
        assert_eq!(o.status(), O::Delivered);
        must_apply(&mut o, &ret("d12", 2, B, 1, Disposition::Dispose));
        assert_eq!(o.status(), O::Returned);

        // An exception shows even while a line waits.
        let mut o = routed(&[(A, 1), (B, 1)], vec![(F0, vec![0])], vec![1]);
        release(&mut o, 1);
        must_apply(&mut o, &pick("b1", 1, A, 1));
        must_apply(&mut o, &scan("b2", ScanKind::Pack, 1));
        must_apply(&mut o, &ship("b3", 1));
        assert_eq!(o.status(), O::PartiallyBackordered);
        must_apply(&mut o, &exception("b4", 1));
        assert_eq!(o.status(), O::Exception);
        must_apply(&mut o, &scan("b5", ScanKind::Delivered, 1));
        assert_eq!(o.status(), O::PartiallyBackordered, "still waits for B");
        assert!(!o.status().is_final());
    }

    #[test]
    fn decide_routed_enqueues_fulfillments_and_backorders_lines() {
        let (o, placed) = OrderState::place(NO, request(&[(A, 2), (B, 1), (C, 4)]), T);
        assert_eq!(
            placed,
            OrderEvent::Placed {
                request: o.request().clone(),
                at: T
            }
        );
        assert_eq!(OrderState::from_placed(NO, &placed), Some(o.clone()));
        assert_eq!(
            OrderState::from_placed(NO, &OrderEvent::Cancelled { at: T }),
            None
        );
        let (event, effects) = o.decide_routed(
            PlacementOutcome {
                fulfillments: vec![(F0, vec![0]), (F1, vec![2])],
                backordered: vec![1],
                rejected: None,
            },
            T + 1,
            &none(),
        );
        assert_eq!(
            effects,
            vec![
                Effect::Enqueue {
                    fulfillment: fref(1)
                },
                Effect::Enqueue {
                    fulfillment: fref(2)
                },
                Effect::Backorder {
                    sku: B,
                    line: line(1),
                    qty: 1
                },
            ]
        );
        let mut o = o;
        o.apply(&event);
        assert_eq!(o.fulfillments().len(), 2);
        assert_eq!(o.fulfillment(2).unwrap().facility, F1);
        assert_eq!(o.fulfillment(2).unwrap().lines[0].qty, 4);
        assert_eq!(o.backordered(), &[1]);
        assert_eq!(
            o.expected_reservations(),
            vec![(cell(A, F0), line(0), 2), (cell(C, F1), line(2), 4)]
        );
        let what: Vec<&str> = o.timeline().iter().map(|t| &*t.what).collect();
        assert_eq!(what, vec!["placed", "routed", "routed", "backordered"]);
    }

    #[test]
    fn decide_fill_only_for_a_line_that_waits() {
        let mut o = routed(&[(A, 1), (B, 2)], vec![(F0, vec![0])], vec![1]);
        let before = o.clone();
        assert!(
            o.decide_fill(0, F1, T, &none()).is_err(),
            "line 0 is routed"
        );
        assert!(o.decide_fill(5, F1, T, &none()).is_err(), "no such line");
        assert_eq!(o, before);
        let (event, effects) = o.decide_fill(1, F1, T + 3, &none()).unwrap();
        assert_eq!(
            event,
            OrderEvent::BackorderFilled {
                line: 1,
                facility: F1,
                plan: None,
                at: T + 3
            }
        );
        assert_eq!(
            effects,
            vec![Effect::Enqueue {
                fulfillment: fref(2)
            }]
        );
        o.apply(&event);
        o.check_invariants().unwrap();
        assert!(o.backordered().is_empty());
        assert_eq!(o.status(), OrderStatus::Routed);
        let f = o.fulfillment(2).unwrap();
        assert_eq!((f.facility, f.lines[0].sku, f.lines[0].qty), (F1, B, 2));
        assert_eq!(o.timeline().last().unwrap().what, "backorder_filled");
        // Served once: a second fill is refused.
        assert!(o.decide_fill(1, F0, T + 4, &none()).is_err());
    }

    #[test]
    fn decide_wave_only_for_a_routed_fulfillment() {
        let mut o = at_stage(Stage::Routed);
        assert!(o.decide_wave(2, "W".into(), T).is_err());
        release(&mut o, 1);
        assert_eq!(
            o.fulfillment(1).unwrap().wave_id.as_deref(),
            Some("DC-W000001")
        );
        assert!(o.decide_wave(1, "W2".into(), T).is_err(), "released twice");
    }

    #[test]
    fn validate_request_names_the_field() {
        let ok = request(&[(A, 1), (B, 2)]);
        assert_eq!(validate_request(&ok, 200, 1000), Ok(()));
        let bad = |r: PlaceRequest, field: &str| {
            let e = validate_request(&r, 2, 1000).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        };
        bad(request(&[]), "lines");
        bad(request(&[(A, 1), (B, 1), (C, 1)]), "lines");
        bad(request(&[(A, 0)]), "lines[0].qty");
        bad(request(&[(A, 1), (B, 1001)]), "lines[1].qty");
        bad(request(&[(A, 1), (A, 1)]), "lines[1].sku");
        bad(
            PlaceRequest {
                lat: 91.0,
                ..request(&[(A, 1)])
            },
            "ship_to.lat",
        );
        bad(
            PlaceRequest {
                lat: f64::NAN,
                ..request(&[(A, 1)])
            },
            "ship_to.lat",
        );
        bad(
            PlaceRequest {
                lon: -180.5,
                ..request(&[(A, 1)])
            },
            "ship_to.lon",
        );
    }

    #[test]
    fn backorder_priority_follows_service_level() {
        let mut r = request(&[(A, 1)]);
        for (level, p) in [
            (ServiceLevel::SameDay, 0),
            (ServiceLevel::NextDay, 1),
            (ServiceLevel::Standard, 2),
        ] {
            r.service_level = level;
            assert_eq!(OrderState::place(NO, r.clone(), T).0.priority(), p);
        }
    }

    #[test]
    fn names_round_trip() {
        for k in ScanKind::ALL {
            assert_eq!(ScanKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ScanKind::parse("teleported"), None);
        assert_eq!(
            FulfillmentStatus::OutForDelivery.as_str(),
            "out_for_delivery"
        );
    }

    /// `NWP`: ground (5.00 + 1.00 a unit, 3 days) and air (20.00, 1 day);
    /// `BBP`: post (12.00 + 0.50 a unit, 5 days) and express (30.00, 1
    /// day); all picked up at 18:00 at F0 only.
    fn nwp() -> Rates {
        use orch_config::carriers::{CarrierConfig, Carriers, RateBand, ServiceConfig, EVERY_DAY};
        let service = |id: &str, base: f64, per_unit: f64, transit_days: u32| ServiceConfig {
            id: id.into(),
            bands: vec![RateBand {
                km_max: 5_000.0,
                base,
                per_unit,
                transit_days,
            }],
            delivery_days: EVERY_DAY,
            cutoffs: vec![Some(18 * 60), None],
        };
        let carriers = Carriers {
            carriers: vec![
                CarrierConfig {
                    id: "NWP".into(),
                    services: vec![service("ground", 5.0, 1.0, 3), service("air", 20.0, 0.0, 1)],
                },
                CarrierConfig {
                    id: "BBP".into(),
                    services: vec![
                        service("post", 12.0, 0.5, 5),
                        service("express", 30.0, 0.0, 1),
                    ],
                },
            ],
        };
        Rates::from_sites(&carriers, vec![(40.5, -74.3), (41.0, -75.0)])
    }

    #[test]
    fn the_ship_plan_is_chosen_at_routing_journaled_and_replayed_as_is() {
        let (mut o, placed) = OrderState::place(NO, request(&[(A, 2), (B, 1), (C, 1)]), T);
        let (event, _) = o.decide_routed(
            PlacementOutcome {
                fulfillments: vec![(F0, vec![0, 1]), (F1, vec![2])],
                backordered: vec![],
                rejected: None,
            },
            T,
            &nwp(),
        );
        let OrderEvent::Routed { plans, .. } = &event else {
            panic!("a routing event");
        };
        // Standard: ground is the cheapest that meets it, for 3 units.
        let p = plans[0].as_ref().expect("F0 ships");
        assert_eq!((&*p.carrier, &*p.service), ("NWP", "ground"));
        assert!((p.shipping_cost - 8.0).abs() < 1e-9);
        assert_eq!(p.ship_by, 18 * 3_600_000, "day 0, 18:00");
        assert_eq!(p.delivery_day, 3);
        assert!(p.service_level_met);
        assert_eq!(plans[1], None, "nothing picks up at F1");
        o.apply(&event);
        o.check_invariants().unwrap();
        assert_eq!(o.fulfillment(1).unwrap().ship.as_ref(), Some(p));
        assert_eq!(o.fulfillment(2).unwrap().ship, None);
        let routed: Vec<_> = o.timeline().iter().filter(|t| t.what == "routed").collect();
        assert_eq!(
            routed[0].ship.as_ref(),
            Some(p),
            "the timeline says what was chosen"
        );
        assert_eq!(routed[1].ship, None);
        // Replay applies the journaled event: no rates are consulted.
        let mut again = OrderState::from_placed(NO, &placed).unwrap();
        again.apply(&event);
        assert_eq!(again, o);
    }

    #[test]
    fn a_backorder_fill_gets_its_own_ship_plan() {
        let mut o = routed(&[(A, 1), (B, 4)], vec![(F0, vec![0])], vec![1]);
        let (event, _) = o.decide_fill(1, F0, T + 5, &nwp()).unwrap();
        let OrderEvent::BackorderFilled { plan: Some(p), .. } = &event else {
            panic!("a fill with a plan: {event:?}");
        };
        assert!((p.shipping_cost - 9.0).abs() < 1e-9, "4 units of ground");
        let p = p.clone();
        o.apply(&event);
        assert_eq!(o.fulfillment(2).unwrap().ship, Some(p.clone()));
        assert_eq!(o.timeline().last().unwrap().ship, Some(p));
    }

    /// Fulfillment 1 (A x2, B x1 at F0, planned NWP ground) packed.
    fn packed_with_a_plan() -> OrderState {
        let (mut o, _) = OrderState::place(NO, request(&[(A, 2), (B, 1)]), T);
        let (event, _) = o.decide_routed(
            PlacementOutcome {
                fulfillments: vec![(F0, vec![0, 1])],
                backordered: vec![],
                rejected: None,
            },
            T,
            &nwp(),
        );
        o.apply(&event);
        release(&mut o, 1);
        must_apply(&mut o, &pick("p1", 1, A, 2));
        must_apply(&mut o, &pick("p2", 1, B, 1));
        must_apply(&mut o, &scan("pk", ScanKind::Pack, 1));
        o
    }

    fn decide_and_apply(o: &mut OrderState, s: &Scan) -> OrderEvent {
        match o.decide_scan(s, &nwp()) {
            Ok(ScanDecision::Apply { event, .. }) => {
                o.apply(&event);
                o.check_invariants().unwrap();
                event
            }
            other => panic!("{s:?} should apply, got {other:?}"),
        }
    }

    #[test]
    fn a_ship_scan_without_carrier_and_tracking_ships_as_planned_with_an_issued_number() {
        let mut o = packed_with_a_plan();
        let plan = o.fulfillment(1).unwrap().ship.clone();
        let bare = Scan {
            carrier: None,
            tracking: None,
            ..scan("s1", ScanKind::Ship, 1)
        };
        let event = decide_and_apply(&mut o, &bare);
        let issued = tracking_number("NWP", NO.0, 1);
        let OrderEvent::Scanned(journaled) = &event else {
            panic!("no re-rating: {event:?}");
        };
        assert_eq!(
            journaled.carrier.as_deref(),
            Some("NWP"),
            "the plan's carrier"
        );
        assert_eq!(
            journaled.tracking.as_deref(),
            Some(issued.as_str()),
            "journaled"
        );
        let f = o.fulfillment(1).unwrap();
        assert_eq!(f.status, FulfillmentStatus::Shipped);
        assert_eq!(f.carrier.as_deref(), Some("NWP"));
        assert_eq!(f.tracking.as_deref(), Some(issued.as_str()));
        assert_eq!(f.ship, plan, "the plan stands");
    }

    #[test]
    fn fulfillments_of_one_wave_at_one_facility_ship_as_one_parcel() {
        // Fulfillment 1 (A at F0) and a backorder fill (B at F0, fulfillment 2).
        let mut o = routed(&[(A, 1), (B, 4)], vec![(F0, vec![0])], vec![1]);
        let (event, _) = o.decide_fill(1, F0, T + 5, &nwp()).unwrap();
        o.apply(&event);
        let bare = |id: &str, n| Scan {
            carrier: Some("NWP".into()),
            tracking: None,
            ..scan(id, ScanKind::Ship, n)
        };
        let mut other_wave = o.clone();
        release(&mut o, 1);
        release(&mut o, 2);
        for (n, sku, qty) in [(1, A, 1), (2, B, 4)] {
            must_apply(&mut o, &pick(&format!("p{n}"), n, sku, qty));
            must_apply(&mut o, &scan(&format!("k{n}"), ScanKind::Pack, n));
        }
        decide_and_apply(&mut o, &bare("s2", 2));
        decide_and_apply(&mut o, &bare("s1", 1));
        let t = |o: &OrderState, n| o.fulfillment(n).unwrap().tracking.clone();
        assert_eq!(t(&o, 1), t(&o, 2), "one parcel, one number");
        assert_eq!(
            t(&o, 1).as_deref(),
            Some(tracking_number("NWP", NO.0, 1).as_str())
        );
        // Released in different waves: two parcels.
        release(&mut other_wave, 1);
        let e = other_wave
            .decide_wave(2, "DC-W000002".into(), T + 6)
            .unwrap();
        other_wave.apply(&e);
        for (n, sku, qty) in [(1, A, 1), (2, B, 4)] {
            must_apply(&mut other_wave, &pick(&format!("p{n}"), n, sku, qty));
            must_apply(&mut other_wave, &scan(&format!("k{n}"), ScanKind::Pack, n));
            decide_and_apply(&mut other_wave, &bare(&format!("s{n}"), n));
        }
        assert_ne!(t(&other_wave, 1), t(&other_wave, 2));
    }

    #[test]
    fn a_ship_scan_naming_the_carrier_only_gets_a_number_for_it() {
        let mut o = packed_with_a_plan();
        let s = Scan {
            carrier: Some("NWP".into()),
            tracking: None,
            ..scan("s1", ScanKind::Ship, 1)
        };
        decide_and_apply(&mut o, &s);
        let f = o.fulfillment(1).unwrap();
        assert_eq!(
            f.tracking.as_deref(),
            Some(tracking_number("NWP", NO.0, 1).as_str())
        );
        // A given tracking number is kept as given.
        let mut o = packed_with_a_plan();
        let s = Scan {
            carrier: None,
            tracking: Some("T-1".into()),
            ..scan("s1", ScanKind::Ship, 1)
        };
        decide_and_apply(&mut o, &s);
        let f = o.fulfillment(1).unwrap();
        assert_eq!(
            (f.carrier.as_deref(), f.tracking.as_deref()),
            (Some("NWP"), Some("T-1"))
        );
    }

    /// A shipped fulfillment (its plan cleared unless `with_plan`).
    fn shipped(with_plan: bool) -> OrderState {
        let mut o = packed_with_a_plan();
        decide_and_apply(&mut o, &scan("s1", ScanKind::Ship, 1));
        if !with_plan {
            o.fulfillments[0].ship = None;
        }
        o
    }

    /// [`shipped`], then delivered by scan `d1` at `at`; answers the order
    /// and the timeline entries the delivery added.
    fn delivered_at(at: Millis, with_plan: bool) -> (OrderState, Vec<TimelineEntry>) {
        let mut o = shipped(with_plan);
        let before = o.timeline().len();
        let event = decide_and_apply(
            &mut o,
            &Scan {
                at,
                ..scan("d1", ScanKind::Delivered, 1)
            },
        );
        // Replaying the journaled event gives the same timeline.
        let mut replayed = shipped(with_plan);
        replayed.apply(&event);
        assert_eq!(replayed.timeline(), o.timeline(), "replay agrees");
        let after = o.timeline()[before..].to_vec();
        (o, after)
    }

    #[test]
    fn a_delivery_after_the_promised_day_records_promise_missed() {
        let promised = packed_with_a_plan().fulfillment(1).unwrap().ship.clone();
        let day = promised.expect("a plan").delivery_day;
        let last_ms_of = |d: u64| (d + 1) * crate::shipping::DAY_MS - 1;
        let whats = |t: &[TimelineEntry]| t.iter().map(|e| e.what.to_string()).collect::<Vec<_>>();

        // On time: the last millisecond of the promised day.
        let (o, t) = delivered_at(last_ms_of(day), true);
        assert_eq!(whats(&t), ["delivered"]);
        assert_eq!(o.promise_kept(1, last_ms_of(day)), Some(true));

        // One day late: the first millisecond of the next day.
        let late = (day + 1) * crate::shipping::DAY_MS;
        let (o, t) = delivered_at(late, true);
        assert_eq!(whats(&t), ["delivered", "promise_missed"]);
        assert_eq!(
            (t[1].at, t[1].fulfillment, t[1].event_id.as_deref()),
            (late, Some(1), Some("d1")),
            "the miss is the scan's"
        );
        assert_eq!(o.promise_kept(1, late), Some(false));
        assert_eq!(o.status(), OrderStatus::Delivered);

        // No plan: nothing was promised, nothing is missed.
        let (o, t) = delivered_at(late + 10 * crate::shipping::DAY_MS, false);
        assert_eq!(whats(&t), ["delivered"]);
        assert_eq!(o.promise_kept(1, late), None);
    }

    #[test]
    fn a_ship_scan_naming_another_carrier_re_rates_the_fulfillment() {
        let mut o = packed_with_a_plan();
        let s = Scan {
            carrier: Some("BBP".into()),
            tracking: None,
            ..scan("s1", ScanKind::Ship, 1)
        };
        let event = decide_and_apply(&mut o, &s);
        let OrderEvent::ShippedRerated { plan, scan } = &event else {
            panic!("re-rated: {event:?}");
        };
        // BBP's cheapest service: post, 12.00 + 3 x 0.50, 5 days.
        assert_eq!((&*plan.carrier, &*plan.service), ("BBP", "post"));
        assert!((plan.shipping_cost - 13.5).abs() < 1e-9);
        assert_eq!(plan.delivery_day, 5);
        assert!(
            plan.service_level_met,
            "day 5 is before Thursday's standard deadline"
        );
        assert_eq!(
            scan.tracking.as_deref(),
            Some(tracking_number("BBP", NO.0, 1).as_str())
        );
        let f = o.fulfillment(1).unwrap();
        assert_eq!(f.ship.as_ref(), Some(plan));
        assert_eq!(f.carrier.as_deref(), Some("BBP"));
        let last = o.timeline().last().unwrap();
        assert_eq!((&*last.what, last.ship.as_ref()), ("ship", Some(plan)));
        // A carrier the rates do not know cannot be rated: the plan stays.
        let mut o = packed_with_a_plan();
        let before = o.fulfillment(1).unwrap().ship.clone();
        let event = decide_and_apply(&mut o, &ship("s1", 1));
        assert!(matches!(event, OrderEvent::Scanned(_)));
        let f = o.fulfillment(1).unwrap();
        assert_eq!((f.carrier.as_deref(), &f.ship), (Some("UPS"), &before));
    }
}
