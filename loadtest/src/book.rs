//! The load tester's own record of what it sent and had acknowledged: the
//! starting stock of the network it generated, every acknowledged order
//! with its fulfillments (facility and lines, from the placement answer or
//! from the wave that released them), what the simulator did since
//! (cancelled, picked, delivered, returned), and every receipt, adjustment,
//! restocked and disposed return per (SKU, facility). The end-of-run audit
//! computes from this book alone what every cell and order must say, and
//! compares it with the core's answers.
//!
//! Shipping too: each fulfillment's ship plan as the core answered it
//! (carrier, service, cost, promised date), each order's ship-to and
//! service level, and the day the floor scanned each parcel delivered, so
//! the book says itself whether each promise was kept
//! ([`FulfillmentTrack::promise_kept`]).
//!
//! SKUs and facilities are kept as indices of the network (a few bytes per
//! line), so the book of a long run stays small.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use orch_config::Network;
use orch_runtime::dto::{HoldView, OrderView};

use crate::book_events::EventBook;
use crate::book_holds::{held_at, HoldTrack};
use crate::driver::ReleasedFulfillment;

/// A fulfillment's ship plan, as the core answered it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanTrack {
    /// Carrier id (`NWP`).
    pub carrier: String,
    /// Service id within the carrier (`ground`).
    pub service: String,
    /// Price of the parcel, in cents.
    pub cost_cents: i64,
    /// The promised delivery day (days since the epoch); `None` when the
    /// answer named no date it could read.
    pub promised_day: Option<u64>,
    /// The core said the date meets the order's service level.
    pub service_level_met: bool,
}

impl PlanTrack {
    /// The plan of a fulfillment as answered; `None` when it has none
    /// (no carrier service ships from its facility to the ship-to).
    pub fn of(f: &orch_runtime::dto::FulfillmentView) -> Option<PlanTrack> {
        let (Some(carrier), Some(service), Some(cost)) =
            (&f.carrier, &f.ship.service, f.ship.shipping_cost)
        else {
            return None;
        };
        Some(PlanTrack {
            carrier: carrier.clone(),
            service: service.clone(),
            cost_cents: (cost * 100.0).round() as i64,
            promised_day: f
                .ship
                .promised_delivery_date
                .as_deref()
                .and_then(crate::transit::parse_date),
            service_level_met: f.ship.service_level_met,
        })
    }
}

/// How the floor delivered a parcel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveredOn {
    /// The delivered scan's day (days since the epoch).
    pub day: u64,
    /// Days late the carrier was drawn to be.
    pub late_days: u32,
    /// Shipped after the plan's pickup: the carrier took it a pickup later.
    pub late_pickup: bool,
}

/// One fulfillment as the book knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FulfillmentTrack {
    /// `order_id/n`.
    pub fulfillment_id: String,
    /// Facility index.
    pub facility: u16,
    /// (SKU index, units, units picked).
    pub lines: Vec<(u32, u32, u32)>,
    /// The floor delivered it.
    pub delivered: bool,
    /// The floor returned every line.
    pub returned: bool,
    /// Its ship plan, once the book heard it (placement answer or a read).
    pub plan: Option<PlanTrack>,
    /// The book heard from an answer of the core whether it has a plan
    /// (false: it knows the fulfillment only from a wave).
    pub plan_heard: bool,
    /// Where and how late the floor delivered it (a delivery with a plan).
    pub delivered_on: Option<DeliveredOn>,
}

impl FulfillmentTrack {
    /// Whether the floor delivered it on or before the promised day:
    /// `None` while not delivered, or when nothing was promised.
    pub fn promise_kept(&self) -> Option<bool> {
        if !self.delivered {
            return None;
        }
        let promised = self.plan.as_ref()?.promised_day?;
        Some(self.delivered_on?.day <= promised)
    }
}

/// What the load tester knows of one acknowledged order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderTrack {
    /// The placement answer came back (false: the book heard of the order
    /// only from a wave that overtook its answer).
    pub acknowledged: bool,
    /// Status in the placement answer.
    pub status_at_ack: String,
    /// A cancel succeeded.
    pub cancelled: bool,
    /// Fulfillments the book learned (at ack, or when released).
    pub fulfillments: Vec<FulfillmentTrack>,
    /// The order's service level, as answered.
    pub service_level: String,
    /// Fulfillments in the placement answer.
    pub placed_fulfillments: u32,
    /// Shipping cost of the placement answer's planned fulfillments, in
    /// cents (`None`: none was planned).
    pub placed_cost_cents: Option<i64>,
}

impl OrderTrack {
    /// Fulfillment by id.
    pub fn fulfillment(&self, id: &str) -> Option<&FulfillmentTrack> {
        self.fulfillments.iter().find(|f| f.fulfillment_id == id)
    }

    fn fulfillment_mut(&mut self, id: &str) -> Option<&mut FulfillmentTrack> {
        self.fulfillments
            .iter_mut()
            .find(|f| f.fulfillment_id == id)
    }
}

/// Movements of one cell the load tester sent and had acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellMoves {
    /// On hand at the start (the generated network).
    pub start: i64,
    /// Set by a cycle count (the tester sends them before any order).
    pub adjusted_to: Option<i64>,
    /// Received by applied receipts.
    pub received: i64,
    /// Picked by applied pick scans.
    pub picked: i64,
    /// Put back by restocked returns.
    pub restocked: i64,
    /// Returned and disposed of (no change to on hand).
    pub disposed: i64,
}

impl CellMoves {
    /// On hand the book expects.
    pub fn on_hand(&self) -> i64 {
        self.adjusted_to.unwrap_or(self.start) + self.received + self.restocked - self.picked
    }
}

/// What the book expects of one cell at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CellExpect {
    /// On hand.
    pub on_hand: i64,
    /// Reserved by live, unpicked fulfillment lines.
    pub reserved: i64,
    /// Held by carts' holds active now (not converted, not expired).
    pub held: i64,
}

/// The book. Every method takes `&self` (the runner, the simulator and the
/// place tasks write it concurrently).
#[derive(Debug, Default)]
pub struct Book {
    skus: Vec<String>,
    sku_index: HashMap<String, u32>,
    facilities: Vec<String>,
    orders: Mutex<HashMap<String, OrderTrack>>,
    cells: Mutex<HashMap<(u32, u16), CellMoves>>,
    ship_to: Mutex<HashMap<String, (f64, f64)>>,
    holds: Mutex<HashMap<String, HoldTrack>>,
    events: EventBook,
}

impl Book {
    /// A book of `net`: its SKUs, facilities and starting stock.
    pub fn new(net: &Network) -> Book {
        let cells = net
            .stock
            .iter()
            .map(|e| {
                (
                    (e.sku, e.facility),
                    CellMoves {
                        start: i64::from(e.on_hand),
                        ..CellMoves::default()
                    },
                )
            })
            .collect();
        Book {
            skus: net.skus.clone(),
            sku_index: net
                .skus
                .iter()
                .enumerate()
                .map(|(i, s)| (s.clone(), i as u32))
                .collect(),
            facilities: net.facilities.iter().map(|f| f.id.clone()).collect(),
            orders: Mutex::new(HashMap::new()),
            cells: Mutex::new(cells),
            ship_to: Mutex::new(HashMap::new()),
            holds: Mutex::new(HashMap::new()),
            events: EventBook::default(),
        }
    }

    /// The changes that must each have one event in the feed, and the
    /// refused orders that must have none.
    pub fn events(&self) -> &EventBook {
        &self.events
    }

    /// SKU ids, by index.
    pub fn skus(&self) -> &[String] {
        &self.skus
    }

    /// Facility ids, by index.
    pub fn facilities(&self) -> &[String] {
        &self.facilities
    }

    fn sku(&self, id: &str) -> Option<u32> {
        self.sku_index.get(id).copied()
    }

    fn facility(&self, id: &str) -> Option<u16> {
        self.facilities
            .iter()
            .position(|f| f == id)
            .map(|i| i as u16)
    }

    fn track_of(&self, f_id: &str, facility_id: &str, lines: &[(String, u32)]) -> FulfillmentTrack {
        FulfillmentTrack {
            fulfillment_id: f_id.to_string(),
            facility: self.facility(facility_id).unwrap_or(u16::MAX),
            lines: lines
                .iter()
                .map(|(s, q)| (self.sku(s).unwrap_or(u32::MAX), *q, 0))
                .collect(),
            delivered: false,
            returned: false,
            plan: None,
            plan_heard: false,
            delivered_on: None,
        }
    }

    /// Facility index of an id, if the network has it.
    pub fn facility_index(&self, id: &str) -> Option<u16> {
        self.facility(id)
    }

    /// An order is about to be sent to this ship-to.
    pub fn ship_to(&self, order_id: &str, lat: f64, lon: f64) {
        self.ship_to
            .lock()
            .expect("book lock")
            .insert(order_id.to_string(), (lat, lon));
    }

    /// Where an order ships to, if the book saw it sent.
    pub fn ship_to_of(&self, order_id: &str) -> Option<(f64, f64)> {
        self.ship_to
            .lock()
            .expect("book lock")
            .get(order_id)
            .copied()
    }

    /// The plan the book knows for a fulfillment.
    pub fn plan_of(&self, order_id: &str, fulfillment_id: &str) -> Option<PlanTrack> {
        self.plan_heard(order_id, fulfillment_id).flatten()
    }

    /// The plan of a fulfillment if the book heard from the core whether it
    /// has one (`Some(None)`: it has none); `None` when it did not.
    pub fn plan_heard(&self, order_id: &str, fulfillment_id: &str) -> Option<Option<PlanTrack>> {
        let orders = self.orders.lock().expect("book lock");
        let f = orders.get(order_id)?.fulfillment(fulfillment_id)?;
        f.plan_heard.then(|| f.plan.clone())
    }

    /// An order read: the book learns the plans (and the service level) of
    /// fulfillments it knows without one (a backordered line served later,
    /// or a wave that overtook the placement answer).
    pub fn learn_plans(&self, v: &OrderView) {
        let mut orders = self.orders.lock().expect("book lock");
        let Some(t) = orders.get_mut(&v.order_id) else {
            return;
        };
        if t.service_level.is_empty() {
            t.service_level = v.service_level.clone();
        }
        for f in &v.fulfillments {
            if let Some(k) = t.fulfillment_mut(&f.fulfillment_id) {
                if !k.plan_heard {
                    k.plan = PlanTrack::of(f);
                    k.plan_heard = true;
                }
            }
        }
    }

    /// An order was acknowledged with this answer (status and fulfillments).
    /// What the floor already did to it (its wave and picks may overtake
    /// the answer under load) is kept.
    pub fn acknowledged(&self, v: &OrderView) {
        let tracks: Vec<FulfillmentTrack> = v
            .fulfillments
            .iter()
            .filter(|f| f.status != "cancelled")
            .map(|f| {
                let lines: Vec<(String, u32)> =
                    f.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect();
                FulfillmentTrack {
                    plan: PlanTrack::of(f),
                    plan_heard: true,
                    ..self.track_of(&f.fulfillment_id, &f.facility_id, &lines)
                }
            })
            .collect();
        let cost: Vec<i64> = tracks
            .iter()
            .filter_map(|f| f.plan.as_ref().map(|p| p.cost_cents))
            .collect();
        let mut orders = self.orders.lock().expect("book lock");
        let t = orders.entry(v.order_id.clone()).or_default();
        t.acknowledged = true;
        t.status_at_ack = v.status.clone();
        t.service_level = v.service_level.clone();
        t.placed_fulfillments = tracks.len() as u32;
        t.placed_cost_cents = (!cost.is_empty()).then(|| cost.iter().sum());
        for f in tracks {
            match t.fulfillment_mut(&f.fulfillment_id) {
                None => t.fulfillments.push(f),
                // A wave overtook the answer: keep what the floor did, learn
                // the plan.
                Some(k) if !k.plan_heard => {
                    k.plan = f.plan;
                    k.plan_heard = true;
                }
                Some(_) => {}
            }
        }
    }

    /// A wave released this fulfillment: the book learns it if it did not
    /// know it (a backordered line served by a receipt, or an order whose
    /// placement answer the wave overtook).
    pub fn released(&self, f: &ReleasedFulfillment) {
        if f.order_id == "?" {
            // The core named no order: nothing to learn.
            return;
        }
        let track = self.track_of(&f.fulfillment_id, &f.facility_id, &f.lines);
        let mut orders = self.orders.lock().expect("book lock");
        let t = orders.entry(f.order_id.clone()).or_default();
        if t.fulfillment(&f.fulfillment_id).is_none() {
            t.fulfillments.push(track);
        }
    }

    /// A cancel of an acknowledged order succeeded.
    pub fn cancelled(&self, order_id: &str) {
        if let Some(t) = self.orders.lock().expect("book lock").get_mut(order_id) {
            t.cancelled = true;
        }
    }

    /// The floor delivered a fulfillment (`on`: when, for one with a plan).
    pub fn delivered(&self, order_id: &str, fulfillment_id: &str, on: Option<DeliveredOn>) {
        self.with_fulfillment(order_id, fulfillment_id, |f| {
            f.delivered = true;
            f.delivered_on = on;
        });
    }

    /// The floor returned every line of a fulfillment.
    pub fn returned(&self, order_id: &str, fulfillment_id: &str) {
        self.with_fulfillment(order_id, fulfillment_id, |f| f.returned = true);
    }

    fn with_fulfillment(&self, order_id: &str, fid: &str, g: impl FnOnce(&mut FulfillmentTrack)) {
        if let Some(t) = self.orders.lock().expect("book lock").get_mut(order_id) {
            if let Some(f) = t.fulfillment_mut(fid) {
                g(f);
            }
        }
    }

    fn cell(&self, sku: &str, facility: &str, g: impl FnOnce(&mut CellMoves)) {
        let (Some(s), Some(f)) = (self.sku(sku), self.facility(facility)) else {
            return;
        };
        g(self
            .cells
            .lock()
            .expect("book lock")
            .entry((s, f))
            .or_default());
    }

    /// A pick scan of `qty` units of `sku` was applied.
    pub fn picked(
        &self,
        order_id: &str,
        fulfillment_id: &str,
        facility: &str,
        sku: &str,
        qty: u32,
    ) {
        self.cell(sku, facility, |c| c.picked += i64::from(qty));
        let s = self.sku(sku);
        self.with_fulfillment(order_id, fulfillment_id, |f| {
            if let Some(l) = f.lines.iter_mut().find(|l| Some(l.0) == s) {
                l.2 += qty;
            }
        });
    }

    /// A receipt of `qty` units was applied.
    pub fn received(&self, sku: &str, facility: &str, qty: u64) {
        self.cell(sku, facility, |c| c.received += qty as i64);
    }

    /// A cycle count set on hand (before any order).
    pub fn adjusted(&self, sku: &str, facility: &str, on_hand: i64) {
        self.cell(sku, facility, |c| c.adjusted_to = Some(on_hand));
    }

    /// Returned units went back on the shelf.
    pub fn restocked(&self, sku: &str, facility: &str, units: u64) {
        self.cell(sku, facility, |c| c.restocked += units as i64);
    }

    /// Returned units were disposed of.
    pub fn disposed(&self, sku: &str, facility: &str, units: u64) {
        self.cell(sku, facility, |c| c.disposed += units as i64);
    }

    fn sum_over_cells(&self, sku: &str, g: impl Fn(&CellMoves) -> i64) -> i64 {
        let Some(s) = self.sku(sku) else {
            return 0;
        };
        self.cells
            .lock()
            .expect("book lock")
            .iter()
            .filter(|((k, _), _)| *k == s)
            .map(|(_, c)| g(c))
            .sum()
    }

    /// Units of `sku` received so far (every facility).
    pub fn received_units(&self, sku: &str) -> u64 {
        self.sum_over_cells(sku, |c| c.received) as u64
    }

    /// Units of `sku` restocked so far (every facility).
    pub fn restocked_units(&self, sku: &str) -> u64 {
        self.sum_over_cells(sku, |c| c.restocked) as u64
    }

    /// The movements of every cell the book knows, by (SKU, facility) id.
    pub fn moves(&self) -> BTreeMap<(String, String), CellMoves> {
        self.cells
            .lock()
            .expect("book lock")
            .iter()
            .map(|(&(s, f), c)| ((self.sku_name(s), self.facility_name(f)), *c))
            .collect()
    }

    fn sku_name(&self, i: u32) -> String {
        self.skus
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("sku#{i}"))
    }

    fn facility_name(&self, i: u16) -> String {
        self.facilities
            .get(i as usize)
            .cloned()
            .unwrap_or_else(|| format!("facility#{i}"))
    }

    /// A cart's hold for `order_id` was acknowledged with this answer (what
    /// it holds where, and until when); `abandoned`: no order will name it.
    pub fn hold_acknowledged(
        &self,
        order_id: &str,
        v: &HoldView,
        abandoned: bool,
    ) -> Result<(), String> {
        let t = HoldTrack::of(order_id, v, abandoned, SystemTime::now(), |f, s| {
            Some((self.facility(f)?, self.sku(s)?))
        })?;
        self.holds
            .lock()
            .expect("book lock")
            .insert(v.hold_id.clone(), t);
        Ok(())
    }

    /// The order naming this hold is about to be sent (again): the hold
    /// lasted at least until now.
    pub fn hold_ordered(&self, hold_id: &str) {
        if let Some(h) = self.holds.lock().expect("book lock").get_mut(hold_id) {
            h.ordered_at = Some(SystemTime::now());
        }
    }

    /// The order naming this hold was acknowledged; `status` is the hold's
    /// status in the answer (`converted` when it took the hold).
    pub fn hold_answered(&self, hold_id: &str, status: Option<&str>, v: &OrderView) {
        if let Some(h) = self.holds.lock().expect("book lock").get_mut(hold_id) {
            h.answered(status, v, |f, s| (self.facility_name(f), self.sku_name(s)));
        }
    }

    /// A copy of every acknowledged hold's record.
    pub fn holds(&self) -> Vec<HoldTrack> {
        self.holds
            .lock()
            .expect("book lock")
            .values()
            .cloned()
            .collect()
    }

    /// The latest `expires_at` of a hold no order converted.
    pub fn last_hold_expiry(&self) -> Option<SystemTime> {
        self.holds
            .lock()
            .expect("book lock")
            .values()
            .filter(|h| h.fate != crate::book_holds::HoldFate::Converted)
            .map(|h| h.expires_at)
            .max()
    }

    /// SKU and facility ids of a (facility, SKU) index pair.
    pub fn cell_names(&self, facility: u16, sku: u32) -> (String, String) {
        (self.sku_name(sku), self.facility_name(facility))
    }

    /// What every cell must say once the floor has finished: on hand from
    /// the movements, reserved from the lines of live orders' fulfillments
    /// not picked yet, held from carts' holds active now.
    pub fn expected_cells(&self) -> BTreeMap<(String, String), CellExpect> {
        let mut reserved: HashMap<(u32, u16), i64> = HashMap::new();
        for t in self.orders.lock().expect("book lock").values() {
            if t.cancelled || t.status_at_ack == "rejected" {
                continue;
            }
            for f in &t.fulfillments {
                for &(s, q, picked) in &f.lines {
                    *reserved.entry((s, f.facility)).or_default() +=
                        i64::from(q.saturating_sub(picked));
                }
            }
        }
        let mut out: BTreeMap<(String, String), CellExpect> = BTreeMap::new();
        for (&(s, f), c) in self.cells.lock().expect("book lock").iter() {
            out.entry((self.sku_name(s), self.facility_name(f)))
                .or_default()
                .on_hand = c.on_hand();
        }
        for ((s, f), r) in reserved {
            out.entry((self.sku_name(s), self.facility_name(f)))
                .or_default()
                .reserved += r;
        }
        let holds = self.holds();
        for ((f, s), h) in held_at(&holds, SystemTime::now()) {
            out.entry((self.sku_name(s), self.facility_name(f)))
                .or_default()
                .held += h;
        }
        out
    }

    /// A copy of every acknowledged order's record.
    pub fn orders(&self) -> Vec<(String, OrderTrack)> {
        self.orders
            .lock()
            .expect("book lock")
            .iter()
            .filter(|(_, v)| v.acknowledged)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// How many orders were acknowledged.
    pub fn len(&self) -> usize {
        self.orders
            .lock()
            .expect("book lock")
            .values()
            .filter(|v| v.acknowledged)
            .count()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::bf1::{generate, Bf1Params};
    use orch_runtime::dto::{FulfillmentView, LineView};

    /// Order `id`, routed in one fulfillment of `qty` units of `sku` at `fac`.
    fn routed(id: &str, sku: &str, fac: &str, qty: u32) -> OrderView {
        OrderView {
            order_id: id.into(),
            status: "routed".into(),
            reason: None,
            channel: "web".into(),
            service_level: "standard".into(),
            fulfillments: vec![FulfillmentView {
                fulfillment_id: format!("{id}/1"),
                facility_id: fac.into(),
                status: "routed".into(),
                wave_id: None,
                carrier: None,
                tracking: None,
                lines: vec![LineView {
                    sku: sku.into(),
                    qty,
                }],
                ship: Default::default(),
            }],
            backordered: Vec::new(),
            timeline: Vec::new(),
        }
    }

    #[test]
    fn cells_follow_what_was_sent() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 3,
        });
        let b = Book::new(&net);
        let e = &net.stock[0];
        let (sku, fac) = (
            net.skus[e.sku as usize].clone(),
            net.facilities[e.facility as usize].id.clone(),
        );
        let start = i64::from(e.on_hand);
        b.acknowledged(&routed("o", &sku, &fac, 2));
        let key = (sku.clone(), fac.clone());
        assert_eq!(
            b.expected_cells()[&key],
            CellExpect {
                on_hand: start,
                reserved: 2,
                held: 0
            }
        );
        b.picked("o", "o/1", &fac, &sku, 2);
        b.received(&sku, &fac, 5);
        b.restocked(&sku, &fac, 1);
        b.disposed(&sku, &fac, 1);
        assert_eq!(
            b.expected_cells()[&key],
            CellExpect {
                on_hand: start - 2 + 5 + 1,
                reserved: 0,
                held: 0
            }
        );
        b.adjusted(&sku, &fac, 7);
        assert_eq!(b.expected_cells()[&key].on_hand, 7 - 2 + 5 + 1);
        b.cancelled("o");
        assert_eq!(b.received_units(&sku), 5);
        assert_eq!(b.restocked_units(&sku), 1);
    }

    #[test]
    fn plans_come_from_the_answers_and_delivery_days_judge_the_promise() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 3,
        });
        let b = Book::new(&net);
        let e = &net.stock[0];
        let (sku, fac) = (
            net.skus[e.sku as usize].clone(),
            net.facilities[e.facility as usize].id.clone(),
        );
        let mut v = routed("o", &sku, &fac, 2);
        v.fulfillments[0].carrier = Some("NWP".into());
        v.fulfillments[0].ship = orch_runtime::dto::ShipPlanView {
            service: Some("ground".into()),
            shipping_cost: Some(7.35),
            ship_by: None,
            promised_delivery_date: Some("2026-12-07".into()),
            service_level_met: true,
        };
        // A fulfillment known only from a wave: nothing heard of its plan.
        b.released(&ReleasedFulfillment {
            order_id: "o".into(),
            fulfillment_id: "o/2".into(),
            facility_id: fac.clone(),
            lines: vec![(sku.clone(), 1)],
        });
        b.acknowledged(&v);
        let p = b.plan_of("o", "o/1").expect("the answer's plan");
        assert_eq!((p.carrier.as_str(), p.cost_cents), ("NWP", 735));
        assert_eq!(p.promised_day, crate::transit::parse_date("2026-12-07"));
        assert_eq!(b.plan_heard("o", "o/2"), None, "only a wave named it");
        let t = &b.orders()[0].1;
        assert_eq!((t.placed_fulfillments, t.placed_cost_cents), (1, Some(735)));
        assert_eq!(t.service_level, "standard");

        let day = p.promised_day.unwrap();
        let on = |d: u64| DeliveredOn {
            day: d,
            late_days: 0,
            late_pickup: false,
        };
        b.delivered("o", "o/1", Some(on(day)));
        assert_eq!(
            b.orders()[0].1.fulfillment("o/1").unwrap().promise_kept(),
            Some(true)
        );
        b.delivered("o", "o/1", Some(on(day + 1)));
        assert_eq!(
            b.orders()[0].1.fulfillment("o/1").unwrap().promise_kept(),
            Some(false)
        );
    }

    #[test]
    fn a_wave_and_picks_heard_before_the_acknowledgment_are_kept() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 3,
        });
        let b = Book::new(&net);
        let e = &net.stock[0];
        let (sku, fac) = (
            net.skus[e.sku as usize].clone(),
            net.facilities[e.facility as usize].id.clone(),
        );
        // Under load the wave (and the floor's picks) can come before the
        // place task records the acknowledgment.
        b.released(&ReleasedFulfillment {
            order_id: "o".into(),
            fulfillment_id: "o/1".into(),
            facility_id: fac.clone(),
            lines: vec![(sku.clone(), 2)],
        });
        b.picked("o", "o/1", &fac, &sku, 2);
        assert!(b.orders().is_empty(), "not acknowledged yet");
        b.acknowledged(&routed("o", &sku, &fac, 2));
        assert_eq!(b.expected_cells()[&(sku.clone(), fac.clone())].reserved, 0);
        assert_eq!(b.orders().len(), 1);
        assert_eq!(
            b.orders()[0].1.fulfillments[0].lines[0].2,
            2,
            "the pick kept"
        );
    }

    #[test]
    fn holds_are_held_until_converted_or_expired() {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 3,
        });
        let b = Book::new(&net);
        let e = &net.stock[0];
        let (sku, fac) = (
            net.skus[e.sku as usize].clone(),
            net.facilities[e.facility as usize].id.clone(),
        );
        let key = (sku.clone(), fac.clone());
        let hold = |id: &str, in_s: i64| HoldView {
            hold_id: format!("{id}-cart"),
            status: "active".into(),
            expires_at: humantime::format_rfc3339_millis(if in_s >= 0 {
                SystemTime::now() + std::time::Duration::from_secs(in_s as u64)
            } else {
                SystemTime::now() - std::time::Duration::from_secs((-in_s) as u64)
            })
            .to_string(),
            holds: vec![orch_runtime::dto::HeldAtView {
                facility_id: fac.clone(),
                lines: vec![LineView {
                    sku: sku.clone(),
                    qty: 2,
                }],
            }],
            unavailable: Vec::new(),
        };
        b.hold_acknowledged("c", &hold("c", 60), false).unwrap();
        b.hold_acknowledged("a", &hold("a", 60), true).unwrap();
        b.hold_acknowledged("x", &hold("x", -1), true).unwrap();
        assert_eq!(b.expected_cells()[&key].held, 4, "c and a; x expired");
        assert_eq!(b.holds().len(), 3);
        b.hold_ordered("c-cart");
        let v = routed("c", &sku, &fac, 2);
        b.acknowledged(&v);
        b.hold_answered("c-cart", Some("converted"), &v);
        let cell = b.expected_cells()[&key];
        assert_eq!((cell.held, cell.reserved), (2, 2), "c's units reserved now");
        let h = b.holds().into_iter().find(|h| h.order_id == "c").unwrap();
        assert_eq!(h.fate, crate::book_holds::HoldFate::Converted);
        assert!(h.rerouted.is_empty() && h.ordered_at.is_some());
        assert!(
            b.last_hold_expiry().unwrap() > SystemTime::now(),
            "a is still active"
        );
        let mut bad = hold("y", 60);
        bad.holds[0].facility_id = "nowhere".into();
        assert!(b.hold_acknowledged("y", &bad, true).is_err());
    }
}
