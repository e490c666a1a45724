//! The backorder desk of one SKU: the network-wide queue of waiting lines,
//! served by priority, then age, never twice and never skipped.
//!
//! Arrivals (receipts, restocked returns, and a hold's units coming back
//! when it is released, expires or is converted without them) pass through the desk: it picks
//! the lines the units serve and the cell receives and reserves for them in
//! one step, so no new order takes the stock in between. Freed stock
//! (cancel, cycle count up, a refused fill) is offered to the queue at its
//! facility (`Drain`); a line that just started waiting is tried against
//! the facilities the view says can serve it (most stock first, then
//! index, at most [`SERVE_TRIES_MAX`]), as the desk shell does.
//!
//! While a desk waits for a cell's answer it keeps the messages that
//! arrive and handles them afterwards, in order: a line is in at most one
//! request to a cell at a time, so it is never served twice.

use std::collections::VecDeque;

use orch_actors::backorder::{DeskEvent, DeskState};
use orch_actors::{CellKey, FacilityIdx, LineRef, SkuIdx};

use crate::msg::{ActorRef, Msg};
use crate::shard::{DeskActor, DeskWait, Shard};
use crate::view::View;

/// Most facilities tried for one new line before it waits for an arrival.
pub const SERVE_TRIES_MAX: usize = 4;

/// Most waiting lines offered to one cell in one drain (queue order); the
/// rest wait for the next arrival or drain.
pub const DRAIN_LINES_MAX: usize = 256;

impl Shard {
    pub(crate) fn desk_msg(&mut self, sku: SkuIdx, msg: Msg, view: &View) {
        let desk = self.desks.entry(sku).or_insert_with(|| DeskActor {
            state: DeskState::new(sku),
            wait: None,
            deferred: VecDeque::new(),
        });
        match msg {
            Msg::Served { facility, lines } if desk.wait.is_some() => {
                self.served(sku, facility, lines, view);
            }
            other if desk.wait.is_some() => desk.deferred.push_back(other),
            Msg::Queue {
                line,
                qty,
                priority,
                placed_at,
            } => {
                if let Some(e) = desk.state.decide_queue(line, qty, priority, placed_at) {
                    desk.state.apply(&e);
                    // Stock may have come back between the shortage and now.
                    let options = self.serve_options(sku, qty, view);
                    self.try_serve(sku, line, qty, options);
                }
            }
            Msg::Remove { line } => {
                if let Some(e) = desk.state.decide_remove(line) {
                    desk.state.apply(&e);
                }
            }
            Msg::Receive {
                facility,
                qty,
                restock,
                receipt_id,
                reply,
            } => {
                // Every waiting line is offered (in serving order): the
                // cell reserves those its stock now covers, units it had
                // free already included, so none is left on the shelf.
                let allocations = desk.state.queue().take(DRAIN_LINES_MAX).collect();
                desk.wait = Some(DeskWait::Arrive);
                self.send(
                    ActorRef::Cells(facility),
                    Msg::Arrive {
                        sku,
                        qty,
                        restock,
                        receipt_id,
                        allocations,
                        reply,
                    },
                );
            }
            Msg::ReturnHeld {
                facility,
                hold,
                qty: _,
            } => {
                let allocations = desk.state.queue().take(DRAIN_LINES_MAX).collect();
                desk.wait = Some(DeskWait::Arrive);
                self.send(
                    ActorRef::Cells(facility),
                    Msg::Unhold {
                        sku,
                        hold,
                        allocations,
                        from_desk: true,
                    },
                );
            }
            Msg::Drain { facility } => {
                if desk.state.waiting() > 0 {
                    let candidates: Vec<(LineRef, u32)> =
                        desk.state.queue().take(DRAIN_LINES_MAX).collect();
                    desk.wait = Some(DeskWait::Drain);
                    self.send(ActorRef::Cells(facility), Msg::Serve { sku, candidates });
                }
            }
            other => self.anomaly(format!("desk {sku:?} got {other:?}")),
        }
    }

    /// Enabled facilities that can serve `qty` per the view, most stock first.
    fn serve_options(&self, sku: SkuIdx, qty: u32, view: &View) -> Vec<FacilityIdx> {
        let mut v: Vec<(u32, FacilityIdx)> = (0..self.infos.len() as u16)
            .map(FacilityIdx)
            .filter(|&f| self.enabled(f, view))
            .map(|f| (self.available(CellKey { sku, facility: f }, view), f))
            .filter(|&(a, _)| a >= qty)
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().take(SERVE_TRIES_MAX).map(|x| x.1).collect()
    }

    /// Ask the first option to serve `line`; the rest are tried if it cannot.
    fn try_serve(&mut self, sku: SkuIdx, line: LineRef, qty: u32, mut options: Vec<FacilityIdx>) {
        if options.is_empty() {
            return;
        }
        let first = options.remove(0);
        let desk = self.desks.get_mut(&sku).expect("desk exists");
        desk.wait = Some(DeskWait::Serve {
            line,
            qty,
            rest: options,
        });
        self.send(
            ActorRef::Cells(first),
            Msg::Serve {
                sku,
                candidates: vec![(line, qty)],
            },
        );
    }

    /// A cell answered: the lines it reserved leave the queue and their
    /// orders are told; then what arrived meanwhile is handled.
    fn served(&mut self, sku: SkuIdx, facility: FacilityIdx, lines: Vec<LineRef>, view: &View) {
        let desk = self.desks.get_mut(&sku).expect("desk exists");
        let wait = desk.wait.take();
        let nothing = lines.is_empty();
        for &line in &lines {
            #[cfg(feature = "sim-bugs")]
            if crate::bugs::active(crate::bugs::Bug::ServeTwice) {
                continue;
            }
            if desk.state.is_waiting(line) {
                desk.state.apply(&DeskEvent::Filled { line, facility });
            }
        }
        for line in lines {
            self.send(
                ActorRef::Order(line.order),
                Msg::Fill {
                    line: line.line,
                    sku,
                    facility,
                },
            );
        }
        if let Some(DeskWait::Serve { line, qty, rest }) = wait {
            if nothing && !rest.is_empty() {
                return self.try_serve(sku, line, qty, rest);
            }
        }
        loop {
            let desk = self.desks.get_mut(&sku).expect("desk exists");
            if desk.wait.is_some() {
                return;
            }
            let Some(msg) = desk.deferred.pop_front() else {
                return;
            };
            self.desk_msg(sku, msg, view);
        }
    }
}
