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

use crate::derive::{facility_status_draft, order_drafts, Names};
use crate::Draft;
use orch_actors::facility::FacilityEvent;
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

/// Every order the journal holds, and its event count.
#[derive(Debug, Default)]
pub struct Mirror {
    orders: HashMap<OrderNo, Tracked>,
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
            // Stock, counts, holds and a facility's queue (which its
            // orders' events imply) report no order status; hold.expired
            // is not derived yet.
            LogEntry::Received { .. }
            | LogEntry::Adjusted { .. }
            | LogEntry::Hold(..)
            | LogEntry::Facility(..) => Vec::new(),
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
        fn facility(&self, _: FacilityIdx) -> &str {
            "DC-1"
        }
        fn sku(&self, _: SkuIdx) -> &str {
            "SKU-1"
        }
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
