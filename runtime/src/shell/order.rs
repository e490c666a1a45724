//! The Order actor: placement, scans, cancel, backorder fills and waves of
//! one order. Each request is handled atomically (no other message of this
//! order interleaves), with the state machine moved into the future while it
//! waits on cells, desks and facilities.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix::prelude::*;
use futures::future::join_all;
use orch_actors::cell::ReserveAnswer;
use orch_actors::facility::QueuedFulfillment;
use orch_actors::log::LogEntry;
use orch_actors::order::{
    Effect, OrderEvent, OrderRefusal, OrderState, Scan, ScanDecision, ScanKind,
};
use orch_actors::placement::{Placement, Step};
use orch_actors::routing::RouteRequest;
use orch_actors::sim::ScanOutcome;
use orch_actors::{CellKey, FacilityIdx, FulfillmentRef, LineRef, SkuIdx};
use orch_config::Millis;
use tokio::sync::oneshot;

use crate::clock::now_ms;
use crate::shared::Shared;
use crate::shell::cell::{Pick, Release, Reserve};
use crate::shell::desk::{ArriveAt, Queue, Remove};
use crate::shell::facility::{Enqueue, Finish};

/// The actor of one order.
pub struct OrderActor {
    state: Option<OrderState>,
    placing: Option<(OrderEvent, oneshot::Sender<OrderState>)>,
    shared: Arc<Shared>,
}

/// Journals one event of order `no`.
fn log(shared: &Shared, no: orch_actors::OrderNo, event: OrderEvent) {
    shared.durability.log(&[LogEntry::Order(no, event)]);
}

impl OrderActor {
    /// A new order that places itself as soon as it starts (before any
    /// other message is handled) and sends its state to `placed`.
    /// `placed_event` is the state's `Placed` event, journaled with the
    /// placement's outcome once the cells have answered.
    pub fn placing(
        state: OrderState,
        placed_event: OrderEvent,
        placed: oneshot::Sender<OrderState>,
        shared: Arc<Shared>,
    ) -> OrderActor {
        OrderActor {
            state: Some(state),
            placing: Some((placed_event, placed)),
            shared,
        }
    }

    /// An order brought back from its state (recovery, passivation).
    pub fn resume(state: OrderState, shared: Arc<Shared>) -> OrderActor {
        OrderActor {
            state: Some(state),
            placing: None,
            shared,
        }
    }

    fn take(&mut self) -> OrderState {
        self.state
            .take()
            .expect("order state is home between messages")
    }
}

impl Actor for OrderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some((placed_event, reply)) = self.placing.take() else {
            return;
        };
        let state = self.take();
        let shared = self.shared.clone();
        ctx.wait(
            async move {
                let now = now_ms();
                let outcome = place(&shared, &state, now).await;
                let (event, effects) = state.decide_routed(outcome, now, shared.router.rates());
                let mut state = state;
                state.apply(&event);
                // After the reservations (they only take stock away), before
                // anything the outcome causes: see `orch_actors::log`.
                shared.durability.log(&[
                    LogEntry::Order(state.no(), placed_event),
                    LogEntry::Order(state.no(), event),
                ]);
                let cmds = commands(&state, effects, now);
                let _ = execute(&shared, cmds).await;
                state
            }
            .into_actor(self)
            .map(move |state, act, _| {
                let _ = reply.send(state.clone());
                act.state = Some(state);
            }),
        );
    }
}

/// Runs the placement driver against the cells.
async fn place(
    shared: &Arc<Shared>,
    state: &OrderState,
    now: Millis,
) -> orch_actors::placement::PlacementOutcome {
    let r = state.request();
    let lines: Vec<(SkuIdx, u32)> = r.lines.iter().map(|l| (l.sku, l.qty)).collect();
    let infos = shared.routing_infos(now);
    let routing_started = std::time::Instant::now();
    let plan = shared.router.plan(
        &RouteRequest {
            lines: &lines,
            lat: r.lat,
            lon: r.lon,
            service_level: r.service_level,
            channel: &r.channel,
        },
        &infos,
        now,
        |sku, facility| shared.view.available(sku, facility),
    );
    crate::metrics::route_duration(routing_started.elapsed());
    let mut placement =
        Placement::new(plan, lines.iter().map(|l| l.1).collect(), r.allow_backorder);
    let no = state.no();
    loop {
        match placement.next_step() {
            Step::Reserve {
                facility,
                lines: ls,
            } => {
                let asks = ls.iter().map(|&l| {
                    let (sku, qty) = lines[usize::from(l)];
                    let cell = shared.cell(CellKey { sku, facility });
                    async move {
                        let asked = std::time::Instant::now();
                        crate::metrics::sending(crate::metrics::ActorKind::Cell);
                        let answer = cell
                            .send(Reserve {
                                line: LineRef { order: no, line: l },
                                qty,
                            })
                            .await
                            .unwrap_or(ReserveAnswer::Short { available: 0 });
                        crate::metrics::reserve_duration(asked.elapsed());
                        (l, answer)
                    }
                });
                let answers = join_all(asks).await;
                placement.on_answers(&answers);
            }
            Step::Release {
                facility,
                lines: ls,
            } => {
                let releases = ls.iter().map(|&l| {
                    let cell = shared.cell(CellKey {
                        sku: lines[usize::from(l)].0,
                        facility,
                    });
                    async move {
                        crate::metrics::sending(crate::metrics::ActorKind::Cell);
                        let _ = cell
                            .send(Release {
                                line: LineRef { order: no, line: l },
                            })
                            .await;
                    }
                });
                join_all(releases).await;
            }
            Step::Done => return placement.outcome(),
        }
    }
}

/// An effect with what it needs from the order's state resolved.
enum Command {
    Pick(CellKey, LineRef, u32),
    Release(CellKey, LineRef),
    Restock(CellKey, u32),
    Enqueue(FacilityIdx, QueuedFulfillment),
    Finish(FacilityIdx, FulfillmentRef),
    Backorder(SkuIdx, LineRef, u32, u8, Millis),
    Unbackorder(SkuIdx, LineRef),
}

fn commands(state: &OrderState, effects: Vec<Effect>, now: Millis) -> Vec<Command> {
    effects
        .into_iter()
        .map(|e| match e {
            Effect::Pick { cell, line, qty } => Command::Pick(cell, line, qty),
            Effect::Release { cell, line } => Command::Release(cell, line),
            Effect::Restock { cell, qty } => Command::Restock(cell, qty),
            Effect::Enqueue { fulfillment } => {
                let f = state
                    .fulfillment(fulfillment.n)
                    .expect("an enqueued fulfillment exists");
                Command::Enqueue(
                    f.facility,
                    QueuedFulfillment {
                        fulfillment,
                        lines: f.lines.iter().map(|l| (l.sku, l.qty)).collect(),
                        service_level: state.request().service_level,
                        queued_at: now,
                    },
                )
            }
            Effect::Dequeue {
                facility,
                fulfillment,
            }
            | Effect::Close {
                facility,
                fulfillment,
            } => Command::Finish(facility, fulfillment),
            Effect::Backorder { sku, line, qty } => {
                Command::Backorder(sku, line, qty, state.priority(), state.placed_at())
            }
            Effect::Unbackorder { sku, line } => Command::Unbackorder(sku, line),
        })
        .collect()
}

/// Carries out commands in order; stops at the first that fails (only a
/// pick can) and says why.
async fn execute(shared: &Arc<Shared>, cmds: Vec<Command>) -> Result<(), String> {
    for cmd in cmds {
        match cmd {
            Command::Pick(cell, line, qty) => {
                crate::metrics::sending(crate::metrics::ActorKind::Cell);
                match shared.cell(cell).send(Pick { line, qty }).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(format!("cell refused the pick: {e}")),
                    Err(e) => return Err(format!("cell unavailable: {e}")),
                }
            }
            Command::Release(cell, line) => {
                crate::metrics::sending(crate::metrics::ActorKind::Cell);
                let _ = shared.cell(cell).send(Release { line }).await;
            }
            Command::Restock(cell, qty) => {
                crate::metrics::sending(crate::metrics::ActorKind::Desk);
                let _ = shared
                    .desk(cell.sku)
                    .send(ArriveAt {
                        facility: cell.facility,
                        qty,
                        restock: true,
                        receipt_id: None,
                    })
                    .await;
            }
            // Queue changes at facilities and desks cannot fail and the
            // journal derives them from the order's event, so nobody waits
            // for them: fire and forget, counted for `quiesce`. One sender's
            // messages to one actor arrive in order, so a later dequeue or
            // removal from this order never overtakes them.
            Command::Enqueue(facility, q) => {
                shared.pending.fetch_add(1, Ordering::AcqRel);
                crate::metrics::sending(crate::metrics::ActorKind::Facility);
                shared.facility(facility).do_send(Enqueue(q));
            }
            Command::Finish(facility, f) => {
                shared.pending.fetch_add(1, Ordering::AcqRel);
                crate::metrics::sending(crate::metrics::ActorKind::Facility);
                shared.facility(facility).do_send(Finish(f));
            }
            Command::Backorder(sku, line, qty, priority, placed_at) => {
                shared.pending.fetch_add(1, Ordering::AcqRel);
                crate::metrics::sending(crate::metrics::ActorKind::Desk);
                shared.desk(sku).do_send(Queue {
                    line,
                    qty,
                    priority,
                    placed_at,
                });
            }
            Command::Unbackorder(sku, line) => {
                shared.pending.fetch_add(1, Ordering::AcqRel);
                crate::metrics::sending(crate::metrics::ActorKind::Desk);
                shared.desk(sku).do_send(Remove { line });
            }
        }
    }
    Ok(())
}

/// Apply a scan event.
#[derive(Message, Clone)]
#[rtype(result = "ScanOutcome")]
pub struct ApplyScan(pub Scan);

impl Handler<ApplyScan> for OrderActor {
    type Result = AtomicResponse<Self, ScanOutcome>;
    fn handle(&mut self, msg: ApplyScan, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Order);
        let mut state = self.take();
        let shared = self.shared.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let full = orch_engine::bounds::timeline_full(
                    state.timeline().len(),
                    shared.limits.order_events_max,
                );
                let outcome = match state.decide_scan(&msg.0, shared.router.rates()) {
                    Ok(ScanDecision::Duplicate) => ScanOutcome::Duplicate,
                    Err(e) => ScanOutcome::Rejected(e.to_string()),
                    Ok(ScanDecision::Apply { .. }) if full.is_some() => {
                        ScanOutcome::Rejected(full.unwrap_or_default())
                    }
                    Ok(ScanDecision::Apply { event, effects }) => {
                        let cmds = commands(&state, effects, msg.0.at);
                        if msg.0.kind == ScanKind::ReturnReceived {
                            // Journaled before its stock can serve anyone.
                            state.apply(&event);
                            log(&shared, state.no(), event);
                            let _ = execute(&shared, cmds).await;
                            ScanOutcome::Applied
                        } else {
                            // After the cell effect, which can only take stock away.
                            match execute(&shared, cmds).await {
                                Ok(()) => {
                                    state.apply(&event);
                                    log(&shared, state.no(), event);
                                    match msg.0.kind {
                                        ScanKind::Ship => crate::metrics::fulfillment_shipped(
                                            state.placed_at(),
                                            msg.0.at,
                                        ),
                                        ScanKind::Delivered => {
                                            crate::metrics::fulfillment_delivered(
                                                state.placed_at(),
                                                msg.0.at,
                                            )
                                        }
                                        _ => {}
                                    }
                                    ScanOutcome::Applied
                                }
                                Err(reason) => ScanOutcome::Rejected(reason),
                            }
                        }
                    }
                };
                (state, outcome)
            }
            .into_actor(self)
            .map(|(state, outcome), act, _| {
                act.state = Some(state);
                outcome
            }),
        ))
    }
}

/// Cancel the order; answers its state after the cancel.
#[derive(Message, Clone)]
#[rtype(result = "Result<OrderState, OrderRefusal>")]
pub struct Cancel;

impl Handler<Cancel> for OrderActor {
    type Result = AtomicResponse<Self, Result<OrderState, OrderRefusal>>;
    fn handle(&mut self, _: Cancel, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Order);
        let mut state = self.take();
        let shared = self.shared.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let now = now_ms();
                let result = match state.decide_cancel(now) {
                    Ok(Some((event, effects))) => {
                        // Applied and journaled first: stock released below is
                        // never offered back to it, and never freed unjournaled.
                        state.apply(&event);
                        log(&shared, state.no(), event);
                        let cmds = commands(&state, effects, now);
                        let _ = execute(&shared, cmds).await;
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                (state, result)
            }
            .into_actor(self)
            .map(|(state, result), act, _| {
                let answer = result.map(|()| state.clone());
                act.state = Some(state);
                answer
            }),
        ))
    }
}

/// A desk reserved stock for a backordered line (fire and forget).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Fill {
    /// Line.
    pub line: u16,
    /// Where the stock is reserved.
    pub facility: FacilityIdx,
}

impl Handler<Fill> for OrderActor {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, msg: Fill, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Order);
        let mut state = self.take();
        let shared = self.shared.clone();
        AtomicResponse::new(Box::pin(
            async move {
                let now = now_ms();
                match state.decide_fill(msg.line, msg.facility, now, shared.router.rates()) {
                    Ok((event, effects)) => {
                        state.apply(&event);
                        log(&shared, state.no(), event);
                        let cmds = commands(&state, effects, now);
                        let _ = execute(&shared, cmds).await;
                    }
                    Err(_) => {
                        // No longer wanted (cancelled meanwhile): give it back.
                        let sku = state.request().lines[usize::from(msg.line)].sku;
                        let line = LineRef {
                            order: state.no(),
                            line: msg.line,
                        };
                        let cell = CellKey {
                            sku,
                            facility: msg.facility,
                        };
                        crate::metrics::sending(crate::metrics::ActorKind::Cell);
                        let _ = shared.cell(cell).send(Release { line }).await;
                    }
                }
                state
            }
            .into_actor(self)
            .map(|state, act, _| {
                act.state = Some(state);
                act.shared.handled();
            }),
        ))
    }
}

/// A facility released one of this order's fulfillments (fire and forget).
#[derive(Message)]
#[rtype(result = "()")]
pub struct WaveAssigned {
    /// Fulfillment number.
    pub fulfillment: u16,
    /// Wave.
    pub wave_id: Arc<str>,
    /// When.
    pub at: Millis,
}

impl Handler<WaveAssigned> for OrderActor {
    type Result = ();
    fn handle(&mut self, msg: WaveAssigned, _: &mut Context<Self>) {
        crate::metrics::handled(crate::metrics::ActorKind::Order);
        let state = self.state.as_mut().expect("home");
        if let Ok(e) = state.decide_wave(msg.fulfillment, msg.wave_id, msg.at) {
            state.apply(&e);
        }
        self.shared.handled();
    }
}

/// A copy of the order's state.
#[derive(Message, Clone)]
#[rtype(result = "OrderState")]
pub struct GetOrder;

impl Handler<GetOrder> for OrderActor {
    type Result = MessageResult<GetOrder>;
    fn handle(&mut self, _: GetOrder, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Order);
        MessageResult(self.state.clone().expect("home"))
    }
}

/// Leave memory if the state is still the one a snapshot holds (same number
/// of timeline entries: every event adds one) and the order is finished;
/// answers whether it did. It is read back from the snapshot on demand.
#[derive(Message, Clone)]
#[rtype(result = "bool")]
pub struct Passivate {
    /// Timeline length of the snapshot's copy.
    pub timeline_len: usize,
}

impl Handler<Passivate> for OrderActor {
    type Result = bool;
    fn handle(&mut self, msg: Passivate, ctx: &mut Context<Self>) -> bool {
        crate::metrics::handled(crate::metrics::ActorKind::Order);
        let state = self.state.as_ref().expect("home");
        if !state.status().is_final() || state.timeline().len() != msg.timeline_len {
            return false;
        }
        // Out of the registry first: a request that still finds this address
        // gets a closed mailbox and reads the order back from the snapshot.
        let no = state.no();
        self.shared.orders.remove(&no);
        ctx.stop();
        true
    }
}

/// Asks each idle order still in memory to leave it (see `Passivate`).
/// The shells' side of the checkpoint thread's retirements: they
/// passivate, and keep every order forever (`orders_retention_ms` is the
/// shard engine's).
pub struct Retirement(pub Arc<Shared>);

impl crate::persist::checkpoint::Retire for Retirement {
    fn passivate(&self, idle: &crate::persist::checkpoint::Idle) -> usize {
        passivate(&self.0, idle)
    }

    fn forget(&self, _: &[crate::persist::checkpoint::Old]) -> Vec<orch_actors::OrderNo> {
        Vec::new()
    }
}

pub fn passivate(shared: &Shared, idle: &crate::persist::checkpoint::Idle) -> usize {
    let mut asked = 0;
    for &(no, timeline_len) in idle {
        if let Some(addr) = shared.orders.get(&no) {
            crate::metrics::sending(crate::metrics::ActorKind::Order);
            addr.do_send(Passivate { timeline_len });
            asked += 1;
        } else if shared
            .dormant_orders
            .remove_if(&no, |_, o| {
                o.status().is_final() && o.timeline().len() == timeline_len
            })
            .is_some()
        {
            asked += 1; // never woke up: the snapshot holds it as it is
        }
    }
    asked
}
