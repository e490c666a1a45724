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
//!
//! Here: [`OrderState`] and its placement, routing, wave and cancel
//! decisions. Elsewhere in this module: the statuses (`status.rs`), the
//! data (`types.rs`), the events and `apply` (`events.rs`), what decisions
//! answer (`effects.rs`), request validation (`validate.rs`), scan
//! decisions (`scans.rs`) and what the audit reads (`invariants.rs`).

mod effects;
mod events;
mod invariants;
pub mod scan_rules;
mod scans;
mod status;
mod types;
pub mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use orch_config::{Millis, ServiceLevel};
use serde::{Deserialize, Serialize};

use effects::reject;
pub use effects::{Effect, OrderRefusal, ScanDecision};
pub use events::OrderEvent;
pub use status::{FulfillmentStatus, OrderStatus};
pub use types::{
    Disposition, Fulfillment, FulfillmentLine, OrderLine, PlaceRequest, Scan, ScanKind,
    TimelineEntry,
};
pub use validate::{check_request, validate_request, RequestError, RequestProblem};

use crate::ids::{CellKey, FacilityIdx, FulfillmentRef, LineRef, OrderNo};
use crate::placement::PlacementOutcome;
use crate::shipping::{day_of, Rates, ShipPlan};

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
}
