//! The backorder desk actor of one SKU: the network-wide queue of lines
//! waiting for it. Receipts and restocks of the SKU pass through it, so
//! waiting lines are served before new orders can take new stock.

use std::sync::Arc;

use actix::prelude::*;
use orch_actors::backorder::{DeskEvent, DeskState};
use orch_actors::cell::{CellRefusal, ReserveAnswer};
use orch_actors::{CellKey, FacilityIdx, LineRef, SkuIdx};
use orch_config::Millis;

use crate::shared::Shared;
use crate::shell::cell::{Arrive, Reserve};
use crate::shell::order::Fill;

/// The actor of one SKU's backorder queue.
pub struct DeskActor {
    sku: SkuIdx,
    state: Option<DeskState>,
    shared: Arc<Shared>,
}

impl DeskActor {
    /// An empty desk.
    pub fn new(sku: SkuIdx, shared: Arc<Shared>) -> DeskActor {
        DeskActor {
            sku,
            state: Some(DeskState::new(sku)),
            shared,
        }
    }

    /// A desk with a recovered queue.
    pub fn with_state(sku: SkuIdx, state: DeskState, shared: Arc<Shared>) -> DeskActor {
        DeskActor {
            sku,
            state: Some(state),
            shared,
        }
    }

    fn state(&mut self) -> &mut DeskState {
        self.state
            .as_mut()
            .expect("desk state is home between messages")
    }

    fn publish(&self, state: &DeskState) {
        self.shared.desk_waiting.insert(self.sku, state.waiting());
    }
}

impl Actor for DeskActor {
    type Context = Context<Self>;
}

/// Serve `lines` at `facility`: leave the queue and tell each order (fire and forget).
fn filled(shared: &Arc<Shared>, state: &mut DeskState, facility: FacilityIdx, lines: &[LineRef]) {
    for &line in lines {
        state.apply(&DeskEvent::Filled { line, facility });
        if let Ok(Some(order)) = shared.order_addr(line.order) {
            shared
                .pending
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            crate::metrics::sending(crate::metrics::ActorKind::Order);
            order.do_send(Fill {
                line: line.line,
                facility,
            });
        }
    }
}

/// Queue a line (fire and forget: counted in `Shared::pending`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Queue {
    /// Line.
    pub line: LineRef,
    /// Units.
    pub qty: u32,
    /// 0 = same day first.
    pub priority: u8,
    /// Order placement time (age).
    pub placed_at: Millis,
}

impl Handler<Queue> for DeskActor {
    type Result = ();
    fn handle(&mut self, msg: Queue, ctx: &mut Context<Self>) {
        crate::metrics::handled(crate::metrics::ActorKind::Desk);
        let state = self.state();
        if let Some(e) = state.decide_queue(msg.line, msg.qty, msg.priority, msg.placed_at) {
            state.apply(&e);
        }
        let state = self.state.take().expect("home");
        self.publish(&state);
        self.state = Some(state);
        // Stock may have arrived between the order's shortage and now: try.
        // Through the mailbox (not `ctx.notify`), so that it waits behind a
        // drain or arrival already in progress.
        self.shared
            .pending
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        crate::metrics::sending(crate::metrics::ActorKind::Desk);
        ctx.address()
            .do_send(Drain(DrainScope::Line(msg.line, msg.qty)));
        self.shared.handled();
    }
}

/// Take a line out of the queue (its order was cancelled; fire and forget:
/// counted in `Shared::pending`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Remove {
    /// Line.
    pub line: LineRef,
}

impl Handler<Remove> for DeskActor {
    type Result = ();
    fn handle(&mut self, msg: Remove, _: &mut Context<Self>) {
        crate::metrics::handled(crate::metrics::ActorKind::Desk);
        let state = self.state();
        if let Some(e) = state.decide_remove(msg.line) {
            state.apply(&e);
        }
        let state = self.state.take().expect("home");
        self.publish(&state);
        self.state = Some(state);
        self.shared.handled();
    }
}

/// Stock arrives at a facility: serve waiting lines first, in one cell step.
/// Answers the number of lines served.
#[derive(Message)]
#[rtype(result = "Result<usize, CellRefusal>")]
pub struct ArriveAt {
    /// Where.
    pub facility: FacilityIdx,
    /// Units.
    pub qty: u32,
    /// A restocked return (else a receipt).
    pub restock: bool,
    /// The receipt (journaled by the cell with the stock); `None` for a restock.
    pub receipt_id: Option<Arc<str>>,
}

impl Handler<ArriveAt> for DeskActor {
    type Result = AtomicResponse<Self, Result<usize, CellRefusal>>;
    fn handle(&mut self, msg: ArriveAt, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Desk);
        let mut state = self.state.take().expect("home");
        let shared = self.shared.clone();
        let key = CellKey {
            sku: self.sku,
            facility: msg.facility,
        };
        AtomicResponse::new(Box::pin(
            async move {
                let allocations = state.allocate(msg.qty);
                let cell = shared.cell(key);
                crate::metrics::sending(crate::metrics::ActorKind::Cell);
                let result = match cell
                    .send(Arrive {
                        qty: msg.qty,
                        restock: msg.restock,
                        allocations,
                        receipt_id: msg.receipt_id,
                    })
                    .await
                {
                    Ok(Ok(lines)) => {
                        filled(&shared, &mut state, msg.facility, &lines);
                        Ok(lines.len())
                    }
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(CellRefusal::Overflow),
                };
                (state, result)
            }
            .into_actor(self)
            .map(move |(state, result), act, ctx| {
                act.publish(&state);
                let still_waiting = state.queue().next().is_some();
                act.state = Some(state);
                if result.is_ok() && still_waiting {
                    // The arrival alone is offered first; units already on
                    // the shelf plus what it left may still cover a line it
                    // could not (three returns of one unit for a line of
                    // three): offer them too, behind anything in progress.
                    act.shared
                        .pending
                        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                    crate::metrics::sending(crate::metrics::ActorKind::Desk);
                    ctx.address()
                        .do_send(Drain(DrainScope::Facility(key.facility)));
                }
                result
            }),
        ))
    }
}

/// What a drain looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainScope {
    /// One line that just started waiting, against every enabled facility.
    Line(LineRef, u32),
    /// Stock that became available at one facility, offered to the queue.
    Facility(FacilityIdx),
    /// Every waiting line against every enabled facility (after recovery).
    All,
}

/// Serve waiting lines from stock already available at enabled facilities,
/// in queue order. A line the stock cannot cover is passed over (it could
/// not serve it), so the lines behind it are still offered what is there.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain(pub DrainScope);

/// Most facilities tried for one line before the drain passes it over.
const DRAIN_TRIES_MAX: usize = 4;

/// Enabled facilities the view says can serve `qty`, most stock first.
fn options(shared: &Shared, sku: SkuIdx, qty: u32, only: Option<FacilityIdx>) -> Vec<FacilityIdx> {
    let now = crate::clock::now_ms();
    let mut v: Vec<(u32, FacilityIdx)> = (0..shared.boards.len() as u16)
        .map(FacilityIdx)
        .filter(|f| only.is_none_or(|o| o == *f))
        .filter(|f| shared.boards[usize::from(f.0)].enabled_at(now))
        .map(|f| (shared.view.available(sku, f), f))
        .filter(|&(a, _)| a >= qty)
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().take(DRAIN_TRIES_MAX).map(|x| x.1).collect()
}

impl Handler<Drain> for DeskActor {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, msg: Drain, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Desk);
        let mut state = self.state.take().expect("home");
        let shared = self.shared.clone();
        let sku = self.sku;
        AtomicResponse::new(Box::pin(
            async move {
                let (lines, only): (Vec<(LineRef, u32)>, Option<FacilityIdx>) = match msg.0 {
                    DrainScope::Line(line, qty) if state.is_waiting(line) => {
                        (vec![(line, qty)], None)
                    }
                    DrainScope::Line(..) => (Vec::new(), None),
                    DrainScope::Facility(f) => (state.queue().collect(), Some(f)),
                    DrainScope::All => (state.queue().collect(), None),
                };
                for (line, qty) in lines {
                    if let Some(f) = only {
                        if shared.view.available(sku, f) == 0 {
                            break; // what was freed is used up
                        }
                    }
                    for facility in options(&shared, sku, qty, only) {
                        let cell = shared.cell(CellKey { sku, facility });
                        crate::metrics::sending(crate::metrics::ActorKind::Cell);
                        if let Ok(ReserveAnswer::Reserved) = cell.send(Reserve { line, qty }).await
                        {
                            filled(&shared, &mut state, facility, &[line]);
                            break;
                        }
                    }
                }
                state
            }
            .into_actor(self)
            .map(|state, act, _| {
                act.publish(&state);
                act.state = Some(state);
                act.shared.handled();
            }),
        ))
    }
}

/// A copy of the desk's state (audit).
#[derive(Message)]
#[rtype(result = "DeskState")]
pub struct GetDesk;

impl Handler<GetDesk> for DeskActor {
    type Result = MessageResult<GetDesk>;
    fn handle(&mut self, _: GetDesk, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Desk);
        MessageResult(self.state().clone())
    }
}
