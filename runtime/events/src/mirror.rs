//! The tail's own copy of every order's state, fed with durable journal
//! entries only, and the drafts each entry reports.
//!
//! It applies entries the way recovery does (`OrderState::from_placed`,
//! `OrderState::apply`, and a facility's `WaveReleased` told to each of its
//! orders with `decide_wave`, as `orch_actors::sim::World` replays it), so
//! the state it derives from is the state the journal says, never an
//! in-memory change that may not be durable.
//!
//! The runtime's events tail and the deterministic simulator both derive
//! the feed with it, so both read the journal the same way.
//!
//! What it never does: read the clock (`now` comes in), touch the actors,
//! log, or keep anything but order states and their event counts.

use std::collections::HashMap;

use crate::derive::{facility_status_draft, hold_expired_draft, order_drafts, Names};
use crate::Draft;
use orch_actors::facility::FacilityEvent;
use orch_actors::hold::{HoldEvent, HoldNo, HoldState, HoldStatus};
use orch_actors::log::LogEntry;
use orch_actors::order::{OrderEvent, OrderState};
use orch_actors::{FulfillmentRef, OrderNo};
use orch_config::Millis;

/// One order as the journal has it, with the number of events it reported.
#[derive(Debug, Clone)]
struct Tracked {
    state: OrderState,
    /// Events reported so far (the last one's `order_seq`).
    events: u32,
}

/// Every order the journal holds, and its event count; and every hold
/// still active as the journal has it (what its expiry reports).
#[derive(Debug, Default)]
pub struct Mirror {
    orders: HashMap<OrderNo, Tracked>,
    /// Active holds only: a hold leaves once converted, released or expired.
    holds: HashMap<HoldNo, HoldState>,
    /// Entries for an order it does not know (should stay 0).
    unknown: u64,
}

/// A draft with its `order_seq` (`None` for facility events).
pub type Numbered = (Draft, Option<u32>);

impl Mirror {
    /// An empty mirror (no order yet).
    pub fn new() -> Mirror {
        Mirror::default()
    }

    /// Orders as a snapshot holds them. Their earlier events are not known
    /// (the journal records before the snapshot are gone), so their
    /// `order_seq` counts again from 1 (the runtime's `events_out` module doc).
    pub fn seed<'a>(&mut self, orders: impl IntoIterator<Item = &'a OrderState>) {
        for o in orders {
            self.orders.insert(
                o.no(),
                Tracked {
                    state: o.clone(),
                    events: 0,
                },
            );
        }
    }

    /// Orders as a snapshot holds them, each with the events it had
    /// reported by then (`counts` by order id: what an event store keeps;
    /// an order none of whose events is kept counts again from 1).
    pub fn seed_counted<'a>(
        &mut self,
        orders: impl IntoIterator<Item = &'a OrderState>,
        counts: &HashMap<String, u32>,
    ) {
        for o in orders {
            let events = counts
                .get(o.request().order_id.as_ref())
                .copied()
                .unwrap_or(0);
            self.orders.insert(
                o.no(),
                Tracked {
                    state: o.clone(),
                    events,
                },
            );
        }
    }

    /// Holds as a snapshot holds them: the active ones are kept (their
    /// expiry, journaled after the snapshot, reports `hold.expired`).
    pub fn seed_holds<'a>(&mut self, holds: impl IntoIterator<Item = &'a HoldState>) {
        for h in holds {
            if h.status() == HoldStatus::Active {
                self.holds.insert(h.no(), h.clone());
            }
        }
    }

    /// Active holds known.
    pub fn holds(&self) -> usize {
        self.holds.len()
    }

    /// Orders known.
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether no order is known.
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Entries that named an order it did not know (skipped).
    pub fn unknown(&self) -> u64 {
        self.unknown
    }

    /// Applies one durable entry; answers the events it reports, each with
    /// its order's next `order_seq`. `now` dates what the entry does not
    /// date itself (a facility's status change).
    pub fn apply(&mut self, entry: &LogEntry, names: &impl Names, now: Millis) -> Vec<Numbered> {
        match entry {
            LogEntry::Order(no, event) => self.order_event(*no, event, names),
            LogEntry::Facility(
                _,
                FacilityEvent::WaveReleased {
                    wave_id,
                    at,
                    fulfillments,
                    ..
                },
            ) => {
                let mut out = Vec::new();
                for &FulfillmentRef { order, n } in fulfillments {
                    let Some(t) = self.orders.get(&order) else {
                        self.unknown += 1;
                        continue;
                    };
                    // The same decision the order takes when the facility
                    // tells it (and recovery replays).
                    if let Ok(e) = t.state.decide_wave(n, wave_id.clone(), *at) {
                        out.extend(self.order_event(order, &e, names));
                    }
                }
                out
            }
            LogEntry::Facility(idx, FacilityEvent::StatusSet { enabled, until }) => {
                vec![(
                    facility_status_draft(names.facility(*idx), *enabled, *until, now),
                    None,
                )]
            }
            LogEntry::Hold(no, event) => self.hold_event(*no, event, names),
            // Stock, counts and a facility's queue (which its orders'
            // events imply) report no order status.
            LogEntry::Received { .. } | LogEntry::Adjusted { .. } | LogEntry::Facility(..) => {
                Vec::new()
            }
        }
    }

    /// A hold's journaled change: only its expiry reports an event (once:
    /// the hold leaves the mirror with it); a conversion or a release
    /// ends it silently. A change of a hold it does not know (created
    /// before a snapshot it was not seeded from) reports nothing.
    fn hold_event(&mut self, no: HoldNo, event: &HoldEvent, names: &impl Names) -> Vec<Numbered> {
        match event {
            HoldEvent::Created { .. } => {
                if let Some(h) = HoldState::from_created(no, event) {
                    self.holds.insert(no, h);
                }
                Vec::new()
            }
            HoldEvent::Extended { .. } => {
                if let Some(h) = self.holds.get_mut(&no) {
                    h.apply(event);
                }
                Vec::new()
            }
            HoldEvent::Released { .. } | HoldEvent::Converted { .. } => {
                self.holds.remove(&no);
                Vec::new()
            }
            HoldEvent::Expired { at } => match self.holds.remove(&no) {
                Some(h) => vec![(hold_expired_draft(&h, *at, names), None)],
                None => Vec::new(),
            },
        }
    }

    fn order_event(
        &mut self,
        no: OrderNo,
        event: &OrderEvent,
        names: &impl Names,
    ) -> Vec<Numbered> {
        if let OrderEvent::Placed { .. } = event {
            if let Some(state) = OrderState::from_placed(no, event) {
                self.orders.insert(no, Tracked { state, events: 0 });
            }
            return Vec::new();
        }
        let Some(t) = self.orders.get_mut(&no) else {
            self.unknown += 1;
            return Vec::new();
        };
        t.state.apply(event);
        order_drafts(&t.state, event, names)
            .into_iter()
            .map(|d| {
                t.events += 1;
                (d, Some(t.events))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventType;
    use orch_actors::log::LogEntry;
    use orch_actors::{FacilityIdx, SkuIdx};

    struct Ids;
    impl Names for Ids {
        fn facility(&self, f: FacilityIdx) -> &str {
            ["DC-1", "DC-2"][usize::from(f.0) % 2]
        }
        fn sku(&self, s: SkuIdx) -> &str {
            ["SKU-1", "SKU-2", "SKU-3"][s.0 as usize % 3]
        }
    }

    /// A hold of three lines: line 0 at DC-1, line 2 at DC-2, line 1
    /// unavailable; created at 1,000, expiring at 61,000.
    fn created(id: &str) -> HoldEvent {
        use orch_actors::hold::{decide_create, HoldRequest};
        use orch_actors::order::OrderLine;
        use orch_actors::placement::PlacementOutcome;
        let line = |sku, qty| OrderLine {
            sku: SkuIdx(sku),
            qty,
        };
        let request = HoldRequest {
            hold_id: id.into(),
            lat: 40.0,
            lon: -74.0,
            service_level: orch_config::ServiceLevel::Standard,
            ttl_s: 60,
            lines: vec![line(0, 2), line(1, 5), line(2, 1)],
            allow_partial: true,
        };
        let outcome = PlacementOutcome {
            fulfillments: vec![(FacilityIdx(0), vec![0]), (FacilityIdx(1), vec![2])],
            backordered: vec![1],
            rejected: None,
        };
        decide_create(request, outcome, 1_000, 14_400).unwrap()
    }

    fn hold(m: &mut Mirror, no: u64, e: HoldEvent) -> Vec<Numbered> {
        m.apply(&LogEntry::Hold(HoldNo(no), e), &Ids, 999_999)
    }

    #[test]
    fn an_expiry_reports_hold_expired_once_and_an_ended_hold_never() {
        let mut m = Mirror::new();
        assert!(hold(&mut m, 1, created("h-1")).is_empty());
        let ext = HoldEvent::Extended {
            expires_at: 90_500,
            at: 30_500,
        };
        assert!(hold(&mut m, 1, ext).is_empty());
        let out = hold(&mut m, 1, HoldEvent::Expired { at: 91_000 });
        assert_eq!(out.len(), 1);
        let (d, order_seq) = &out[0];
        assert_eq!(
            (d.kind, d.order_id.clone(), *order_seq),
            (EventType::HoldExpired, None, None)
        );
        assert_eq!(d.at, 91_000);
        assert_eq!(
            d.data,
            serde_json::json!({"hold_id": "h-1", "expires_at": "1970-01-01T00:01:30.500Z",
                "lines": [{"sku": "SKU-1", "facility_id": "DC-1", "qty": 2},
                          {"sku": "SKU-3", "facility_id": "DC-2", "qty": 1}]})
        );
        assert!(
            hold(&mut m, 1, HoldEvent::Expired { at: 92_000 }).is_empty(),
            "an expiry is reported once"
        );
        for (no, end) in [
            (2, HoldEvent::Released { at: 5_000 }),
            (
                3,
                HoldEvent::Converted {
                    order: OrderNo(7),
                    at: 5_000,
                },
            ),
        ] {
            hold(&mut m, no, created("h-2"));
            assert!(hold(&mut m, no, end).is_empty());
            assert!(
                hold(&mut m, no, HoldEvent::Expired { at: 99_000 }).is_empty(),
                "a released or converted hold never reports an expiry"
            );
        }
        assert_eq!(m.holds(), 0, "ended holds are not kept");
        assert_eq!(m.unknown(), 0);
    }

    #[test]
    fn a_snapshot_s_active_holds_report_their_expiry() {
        let active = HoldState::from_created(HoldNo(4), &created("h-4")).unwrap();
        let mut released = HoldState::from_created(HoldNo(5), &created("h-5")).unwrap();
        released.apply(&HoldEvent::Released { at: 2_000 });
        let mut m = Mirror::new();
        m.seed_holds([&active, &released]);
        assert_eq!(m.holds(), 1, "only active holds are kept");
        let out = hold(&mut m, 4, HoldEvent::Expired { at: 61_000 });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.data["hold_id"], "h-4");
        assert_eq!(out[0].0.data["expires_at"], "1970-01-01T00:01:01.000Z");
        assert!(hold(&mut m, 5, HoldEvent::Expired { at: 61_000 }).is_empty());
    }

    #[test]
    fn facility_status_is_reported_without_an_order_and_unknown_orders_are_skipped() {
        let mut m = Mirror::new();
        let out = m.apply(
            &LogEntry::Facility(
                FacilityIdx(0),
                FacilityEvent::StatusSet {
                    enabled: false,
                    until: None,
                },
            ),
            &Ids,
            1_000,
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.kind, EventType::FacilityStatusChanged);
        assert_eq!(out[0].1, None);
        let out = m.apply(
            &LogEntry::Order(OrderNo(9), OrderEvent::Cancelled { at: 5 }),
            &Ids,
            1_000,
        );
        assert!(out.is_empty());
        assert_eq!(m.unknown(), 1);
    }
}
