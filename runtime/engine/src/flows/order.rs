//! The order actor: place (route, reserve all-or-nothing per facility,
//! split, backorder), fills from desks, waves, scans and cancel.
//!
//! The order is the source of truth for what it causes (see
//! `orch_actors::log`): it journals `Placed`+`Routed` once the cells
//! answered, `BackorderFilled`, `Scanned` and `Cancelled`, and tells the
//! other actors what follows as messages sent after the entry is in the
//! tick's batch. It never touches a cell, facility or desk directly.

use orch_actors::facility::QueuedFulfillment;
use orch_actors::log::LogEntry;
use orch_actors::order::{Effect, OrderRefusal, OrderState, PlaceRequest, ScanDecision};
use orch_actors::placement::{Placement, Step};
use orch_actors::routing::RouteRequest;
use orch_actors::{CellKey, FacilityIdx, LineRef, OrderNo, SkuIdx};

use crate::msg::{ActorRef, Answer, Msg, RequestId, ScanAnswer};
use crate::shard::{OrderActor, Placing, Shard};
use crate::view::View;

impl Shard {
    pub(crate) fn order_msg(&mut self, no: OrderNo, msg: Msg, view: &View) {
        if let Msg::Place { req, reply } = msg {
            return self.place(no, req, reply, view);
        }
        let Some(actor) = self.orders.get_mut(&no) else {
            return self.order_unknown(no, msg);
        };
        let waiting = actor.placing.is_some();
        match msg {
            Msg::Reserved { answers } if waiting => {
                let p = actor.placing.as_mut().expect("checked");
                p.placement.on_answers(&answers);
                self.drive(no);
            }
            other if waiting => actor.deferred.push_back(other),
            Msg::Fill {
                line,
                sku,
                facility,
            } => self.fill(no, line, sku, facility),
            Msg::WaveOf { n, wave_id, at } => {
                if let Ok(e) = actor.state.decide_wave(n, wave_id, at) {
                    actor.state.apply(&e);
                }
            }
            Msg::Scan { scan, reply } => {
                let answer = match actor.state.decide_scan(&scan) {
                    Ok(ScanDecision::Duplicate) => ScanAnswer::Duplicate,
                    Ok(ScanDecision::Apply { event, effects }) => {
                        actor.state.apply(&event);
                        self.journal(LogEntry::Order(no, event));
                        self.effects(no, effects);
                        ScanAnswer::Applied
                    }
                    Err(e) => ScanAnswer::Rejected(e.to_string()),
                };
                self.reply(reply, Answer::Scanned(answer));
            }
            Msg::Cancel { reply } => {
                let answer = match actor.state.decide_cancel(self.now) {
                    Ok(Some((event, effects))) => {
                        actor.state.apply(&event);
                        self.journal(LogEntry::Order(no, event));
                        self.effects(no, effects);
                        Ok(())
                    }
                    Ok(None) => Ok(()),
                    Err(e) => Err(e),
                };
                self.reply(reply, Answer::Cancelled(answer));
            }
            other => self.anomaly(format!("order {no:?} got {other:?}")),
        }
    }

    /// A message for an order this shard does not hold.
    fn order_unknown(&mut self, no: OrderNo, msg: Msg) {
        match msg {
            Msg::Scan { reply, .. } => self.reply(
                reply,
                Answer::Scanned(ScanAnswer::Rejected("unknown order".into())),
            ),
            Msg::Cancel { reply } => self.reply(
                reply,
                Answer::Cancelled(Err(OrderRefusal::Final("unknown"))),
            ),
            // Stock held for a line nobody waits for goes back.
            Msg::Fill {
                line,
                sku,
                facility,
            } => self.send(
                ActorRef::Cells(facility),
                Msg::Release {
                    lines: vec![(sku, LineRef { order: no, line })],
                    drain: true,
                },
            ),
            other => self.anomaly(format!("unknown order {no:?} got {other:?}")),
        }
    }

    fn place(&mut self, no: OrderNo, req: PlaceRequest, reply: RequestId, view: &View) {
        if self.orders.contains_key(&no) {
            return self.reply(
                reply,
                Answer::Placed(Err(format!("order number {} is taken", no.0))),
            );
        }
        let (state, placed) = OrderState::place(no, req, self.now);
        let lines: Vec<(SkuIdx, u32)> = state
            .request()
            .lines
            .iter()
            .map(|l| (l.sku, l.qty))
            .collect();
        let now = self.now;
        let mut infos = std::mem::take(&mut self.infos);
        for info in infos.iter_mut() {
            let f = info.idx;
            match &self.facilities[usize::from(f.0)] {
                Some(s) => {
                    info.enabled = s.enabled_at(now);
                    info.capacity_used = s.capacity_used();
                }
                None => {
                    let b = view.board(f);
                    info.enabled = b.is_some_and(|b| b.enabled_at(now));
                    info.capacity_used = b.map_or(0.0, |b| b.capacity_used);
                }
            }
        }
        let r = state.request();
        let plan = self.router.plan(
            &RouteRequest {
                lines: &lines,
                lat: r.lat,
                lon: r.lon,
                service_level: r.service_level,
                channel: &r.channel,
            },
            &infos,
            |sku, facility| self.available(CellKey { sku, facility }, view),
        );
        self.infos = infos;
        let placement =
            Placement::new(plan, lines.iter().map(|l| l.1).collect(), r.allow_backorder);
        self.orders.insert(
            no,
            Box::new(OrderActor {
                state,
                placing: Some(Box::new(Placing {
                    placement,
                    lines,
                    placed,
                    reply,
                })),
                deferred: Default::default(),
            }),
        );
        self.drive(no);
    }

    /// Runs the placement until it waits for answers or is done.
    fn drive(&mut self, no: OrderNo) {
        loop {
            let actor = self.orders.get_mut(&no).expect("placing order exists");
            let p = actor.placing.as_mut().expect("placing");
            match p.placement.next_step() {
                Step::Reserve { facility, lines } => {
                    let lines = lines
                        .into_iter()
                        .map(|l| {
                            let (sku, qty) = p.lines[usize::from(l)];
                            (l, sku, qty)
                        })
                        .collect();
                    self.send(ActorRef::Cells(facility), Msg::Reserve { order: no, lines });
                    return;
                }
                Step::Release { facility, lines } => {
                    #[cfg(feature = "sim-bugs")]
                    if crate::bugs::active(crate::bugs::Bug::SkipRelease) {
                        continue;
                    }
                    let lines = lines
                        .into_iter()
                        .map(|l| (p.lines[usize::from(l)].0, LineRef { order: no, line: l }))
                        .collect();
                    // A failed all-or-nothing attempt gives back what it
                    // got; as in `World`, that is not offered to the desks.
                    self.send(
                        ActorRef::Cells(facility),
                        Msg::Release {
                            lines,
                            drain: false,
                        },
                    );
                }
                Step::Done => {
                    let p = *actor.placing.take().expect("placing");
                    let (event, effects) =
                        actor.state.decide_routed(p.placement.outcome(), self.now);
                    actor.state.apply(&event);
                    self.journal(LogEntry::Order(no, p.placed));
                    self.journal(LogEntry::Order(no, event));
                    self.effects(no, effects);
                    self.reply(p.reply, Answer::Placed(Ok(no)));
                    return self.resume_order(no);
                }
            }
        }
    }

    /// Handles what arrived while the order placed, in arrival order.
    fn resume_order(&mut self, no: OrderNo) {
        loop {
            let Some(actor) = self.orders.get_mut(&no) else {
                return;
            };
            if actor.placing.is_some() {
                return;
            }
            let Some(msg) = actor.deferred.pop_front() else {
                return;
            };
            // No view is needed: only `Place` routes, and it never waits here.
            self.order_msg(no, msg, &View::default());
        }
    }

    fn fill(&mut self, no: OrderNo, line: u16, sku: SkuIdx, facility: FacilityIdx) {
        let actor = self.orders.get_mut(&no).expect("checked by the caller");
        match actor.state.decide_fill(line, facility, self.now) {
            Ok((event, effects)) => {
                actor.state.apply(&event);
                self.journal(LogEntry::Order(no, event));
                self.effects(no, effects);
            }
            // The line no longer waits (its order was cancelled meanwhile):
            // the stock held for it goes back and is offered to the others.
            Err(_) => self.send(
                ActorRef::Cells(facility),
                Msg::Release {
                    lines: vec![(sku, LineRef { order: no, line })],
                    drain: true,
                },
            ),
        }
    }

    /// Carries out an order's effects as messages, in order.
    fn effects(&mut self, no: OrderNo, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Pick { cell, line, qty } => self.send(
                    ActorRef::Cells(cell.facility),
                    Msg::Pick {
                        sku: cell.sku,
                        line,
                        qty,
                    },
                ),
                Effect::Release { cell, line } => self.send(
                    ActorRef::Cells(cell.facility),
                    Msg::Release {
                        lines: vec![(cell.sku, line)],
                        drain: true,
                    },
                ),
                Effect::Restock { cell, qty } => self.send(
                    ActorRef::Desk(cell.sku),
                    Msg::Receive {
                        facility: cell.facility,
                        qty,
                        restock: true,
                        receipt_id: None,
                        reply: None,
                    },
                ),
                Effect::Enqueue { fulfillment } => {
                    let order = &self.orders[&no].state;
                    let Some(f) = order.fulfillment(fulfillment.n) else {
                        self.anomaly(format!("enqueue of unknown {fulfillment:?}"));
                        continue;
                    };
                    let q = QueuedFulfillment {
                        fulfillment,
                        lines: f.lines.iter().map(|l| (l.sku, l.qty)).collect(),
                        service_level: order.request().service_level,
                        queued_at: self.now,
                    };
                    self.send(ActorRef::Facility(f.facility), Msg::Enqueue(q));
                }
                Effect::Dequeue {
                    facility,
                    fulfillment,
                }
                | Effect::Close {
                    facility,
                    fulfillment,
                } => self.send(ActorRef::Facility(facility), Msg::Dequeue(fulfillment)),
                Effect::Backorder { sku, line, qty } => {
                    let order = &self.orders[&no].state;
                    let (priority, placed_at) = (order.priority(), order.placed_at());
                    self.send(
                        ActorRef::Desk(sku),
                        Msg::Queue {
                            line,
                            qty,
                            priority,
                            placed_at,
                        },
                    );
                }
                Effect::Unbackorder { sku, line } => {
                    self.send(ActorRef::Desk(sku), Msg::Remove { line })
                }
            }
        }
    }
}
