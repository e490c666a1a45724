//! The load tester's own record of the changes that must each appear in
//! the events feed exactly once: what it had acknowledged (an order placed,
//! a cancel, a floor step whose scans all applied) and what it heard (a
//! fulfillment released in a wave), with when it saw each, and the orders
//! the core refused on every try. Kept in the [`crate::book::Book`];
//! `feed_audit` checks the feed and the webhook receiver against it.
//!
//! Which event each change reports follows `orch_events::derive`: a
//! placement answer gives `order.placed`, one `fulfillment.routed` per
//! fulfillment and `order.backordered` when lines wait; a cancel
//! `order.cancelled`; the pick step (every line picked) `fulfillment.picked`;
//! pack, ship, in transit, out for delivery and delivered their
//! `fulfillment.*` event; a return one `return.received` per SKU line; a
//! released fulfillment `fulfillment.released` (and, known only from a
//! wave, its `fulfillment.routed` from the backorder it filled).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use orch_runtime::dto::OrderView;

use crate::driver::ReleasedFulfillment;
use crate::simulator::Step;

/// One change that reports one event: its order, the event type and what
/// in the order it concerns (empty for the order itself, the fulfillment
/// id, or `fulfillment id#SKU` for a returned line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Change {
    /// The order's client id.
    pub order_id: String,
    /// The event type's contract name (`order.placed`).
    pub kind: &'static str,
    /// `""`, `order/n`, or `order/n#SKU`.
    pub subject: String,
}

impl Change {
    fn new(order_id: &str, kind: &'static str, subject: impl Into<String>) -> Change {
        Change {
            order_id: order_id.to_string(),
            kind,
            subject: subject.into(),
        }
    }
}

/// The subject of a returned line (see [`Change::subject`]).
pub fn line_subject(fulfillment_id: &str, sku: &str) -> String {
    format!("{fulfillment_id}#{sku}")
}

/// What the tester saw of every change, and the refusals.
#[derive(Debug, Default)]
pub struct EventBook {
    /// Each change and when the tester saw it acknowledged (`None`: known
    /// only by inference, e.g. the routing of a backorder filled later,
    /// heard of only from its wave; no lag is measured from it).
    changes: Mutex<HashMap<Change, Option<Instant>>>,
    /// Orders refused (429 / `Busy`) on every try: never created.
    refused: Mutex<HashSet<String>>,
    /// Orders whose placement failed otherwise (transport, 5xx): the
    /// tester cannot tell whether the core created them.
    failed: Mutex<HashSet<String>>,
}

/// A copy of the event book at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct EventBookCopy {
    /// Every change, with when it was acknowledged.
    pub changes: HashMap<Change, Option<Instant>>,
    /// Orders refused on every try.
    pub refused: HashSet<String>,
    /// Orders whose placement failed otherwise.
    pub failed: HashSet<String>,
}

impl EventBookCopy {
    /// Orders with an acknowledged placement.
    pub fn placed(&self) -> HashSet<&str> {
        self.changes
            .keys()
            .filter(|c| c.kind == "order.placed")
            .map(|c| c.order_id.as_str())
            .collect()
    }
}

impl EventBook {
    fn note(&self, c: Change, at: Option<Instant>) {
        let mut m = self.changes.lock().expect("event book lock");
        let e = m.entry(c).or_insert(at);
        if e.is_none() {
            *e = at;
        }
    }

    /// A placement was acknowledged with this answer at `at`.
    pub fn placed(&self, v: &OrderView, at: Instant) {
        let id = &v.order_id;
        self.note(Change::new(id, "order.placed", ""), Some(at));
        for f in &v.fulfillments {
            self.note(
                Change::new(id, "fulfillment.routed", f.fulfillment_id.clone()),
                Some(at),
            );
        }
        if !v.backordered.is_empty() {
            self.note(Change::new(id, "order.backordered", ""), Some(at));
        }
    }

    /// A cancel was acknowledged (`cancelled`) at `at`.
    pub fn cancelled(&self, order_id: &str, at: Instant) {
        self.note(Change::new(order_id, "order.cancelled", ""), Some(at));
    }

    /// The tester heard `f` released in a wave at `at`. A fulfillment the
    /// placement answer did not name was routed later (a backorder filled):
    /// its routing is expected too, with no time.
    pub fn released(&self, f: &ReleasedFulfillment, at: Instant) {
        if f.order_id == "?" {
            return;
        }
        let id = &f.order_id;
        self.note(
            Change::new(id, "fulfillment.released", f.fulfillment_id.clone()),
            Some(at),
        );
        self.note(
            Change::new(id, "fulfillment.routed", f.fulfillment_id.clone()),
            None,
        );
    }

    /// Every scan of a floor step of `f` was answered applied (or duplicate
    /// of one applied before) at `at`.
    pub fn step_done(&self, f: &ReleasedFulfillment, step: Step, at: Instant) {
        let (id, fid) = (&f.order_id, &f.fulfillment_id);
        let kind = match step {
            Step::Pick => "fulfillment.picked",
            Step::Pack => "fulfillment.packed",
            Step::Ship => "fulfillment.shipped",
            Step::InTransit => "fulfillment.in_transit",
            Step::OutForDelivery => "fulfillment.out_for_delivery",
            Step::Delivered => "fulfillment.delivered",
            Step::Return => {
                for (sku, _) in &f.lines {
                    self.note(
                        Change::new(id, "return.received", line_subject(fid, sku)),
                        Some(at),
                    );
                }
                return;
            }
        };
        self.note(Change::new(id, kind, fid.clone()), Some(at));
    }

    /// An order was refused on every try (never acknowledged).
    pub fn refused(&self, order_id: &str) {
        self.refused
            .lock()
            .expect("event book lock")
            .insert(order_id.to_string());
    }

    /// An order's placement failed otherwise (it may or may not exist).
    pub fn failed(&self, order_id: &str) {
        self.failed
            .lock()
            .expect("event book lock")
            .insert(order_id.to_string());
    }

    /// Changes recorded so far.
    pub fn len(&self) -> usize {
        self.changes.lock().expect("event book lock").len()
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of everything recorded.
    pub fn copy(&self) -> EventBookCopy {
        EventBookCopy {
            changes: self.changes.lock().expect("event book lock").clone(),
            refused: self.refused.lock().expect("event book lock").clone(),
            failed: self.failed.lock().expect("event book lock").clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_runtime::dto::{FulfillmentView, LineView};

    fn answer(id: &str, fulfillments: u16, backordered: bool) -> OrderView {
        OrderView {
            order_id: id.into(),
            status: "routed".into(),
            reason: None,
            channel: "web".into(),
            service_level: "standard".into(),
            fulfillments: (1..=fulfillments)
                .map(|n| FulfillmentView {
                    fulfillment_id: format!("{id}/{n}"),
                    facility_id: "DC-01".into(),
                    status: "routed".into(),
                    wave_id: None,
                    carrier: None,
                    tracking: None,
                    lines: vec![LineView {
                        sku: "S".into(),
                        qty: 1,
                    }],
                    ship: Default::default(),
                })
                .collect(),
            backordered: if backordered {
                vec![LineView {
                    sku: "T".into(),
                    qty: 1,
                }]
            } else {
                Vec::new()
            },
            timeline: Vec::new(),
        }
    }

    #[test]
    fn each_change_names_the_event_derive_reports() {
        let b = EventBook::default();
        let t = Instant::now();
        b.placed(&answer("o", 2, true), t);
        b.placed(&answer("p", 1, false), t);
        let f = ReleasedFulfillment {
            order_id: "o".into(),
            fulfillment_id: "o/3".into(),
            facility_id: "DC-01".into(),
            lines: vec![("S".into(), 1), ("U".into(), 2)],
        };
        let later = t + std::time::Duration::from_millis(5);
        b.released(&f, later);
        b.step_done(&f, Step::Pick, later);
        b.step_done(&f, Step::Return, later);
        b.cancelled("p", later);
        b.refused("q");
        let c = b.copy();
        let kinds = |o: &str| {
            let mut v: Vec<(&str, &str)> = c
                .changes
                .keys()
                .filter(|k| k.order_id == o)
                .map(|k| (k.kind, k.subject.as_str()))
                .collect();
            v.sort();
            v
        };
        assert_eq!(
            kinds("o"),
            vec![
                ("fulfillment.picked", "o/3"),
                ("fulfillment.released", "o/3"),
                ("fulfillment.routed", "o/1"),
                ("fulfillment.routed", "o/2"),
                ("fulfillment.routed", "o/3"),
                ("order.backordered", ""),
                ("order.placed", ""),
                ("return.received", "o/3#S"),
                ("return.received", "o/3#U"),
            ]
        );
        assert_eq!(
            kinds("p"),
            vec![
                ("fulfillment.routed", "p/1"),
                ("order.cancelled", ""),
                ("order.placed", "")
            ]
        );
        // The backorder's routing is known only from the wave: no time.
        assert_eq!(
            c.changes[&Change::new("o", "fulfillment.routed", "o/3")],
            None
        );
        assert_eq!(
            c.changes[&Change::new("o", "fulfillment.routed", "o/1")],
            Some(t)
        );
        assert_eq!(c.placed(), HashSet::from(["o", "p"]));
        assert!(c.refused.contains("q"));
    }

    #[test]
    fn a_wave_heard_twice_is_one_change_at_its_first_hearing() {
        let b = EventBook::default();
        let t = Instant::now();
        let f = ReleasedFulfillment {
            order_id: "o".into(),
            fulfillment_id: "o/1".into(),
            facility_id: "DC-01".into(),
            lines: vec![("S".into(), 1)],
        };
        b.released(&f, t);
        b.released(&f, t + std::time::Duration::from_secs(1));
        b.placed(
            &answer("o", 1, false),
            t + std::time::Duration::from_secs(2),
        );
        let c = b.copy();
        assert_eq!(c.changes.len(), 3);
        assert_eq!(
            c.changes[&Change::new("o", "fulfillment.released", "o/1")],
            Some(t)
        );
        // The answer's time replaces the unknown one.
        assert_eq!(
            c.changes[&Change::new("o", "fulfillment.routed", "o/1")],
            Some(t + std::time::Duration::from_secs(2))
        );
        let unnamed = ReleasedFulfillment {
            order_id: "?".into(),
            ..f
        };
        b.released(&unnamed, t);
        assert_eq!(b.len(), 3, "a fulfillment naming no order is not learned");
    }
}
