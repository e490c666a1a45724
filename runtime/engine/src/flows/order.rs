//! The order actor: place (route, reserve all-or-nothing per facility,
//! split, backorder), fills from desks, waves, scans and cancel.
//!
//! The order is the source of truth for what it causes (see
//! `orch_actors::log`): it journals `Placed`+`Routed` once the cells
//! answered, `BackorderFilled`, `Scanned` and `Cancelled`, and tells the
//! other actors what follows as messages sent after the entry is in the
//! tick's batch. It never touches a cell, facility or desk directly.

use orch_actors::facility::QueuedFulfillment;
use orch_actors::hold::HoldLine;
use orch_actors::log::LogEntry;
use orch_actors::order::{Effect, OrderRefusal, OrderState, PlaceRequest, ScanDecision, ScanKind};
use orch_actors::placement::{Placement, PlacementOutcome, Step};
use orch_actors::routing::{Plan, RouteRequest};
use orch_actors::{CellKey, FacilityIdx, LineRef, OrderNo, SkuIdx};
use orch_config::ServiceLevel;

use crate::bounds::timeline_full;
use crate::msg::{ActorRef, Answer, Msg, RequestId, ScanAnswer};
use crate::shard::{OrderActor, Placing, Shard};
use crate::view::View;

impl Shard {
    pub(crate) fn order_msg(&mut self, no: OrderNo, msg: Msg, view: &View) {
        if let Msg::Place { req, reply } = msg {
            return self.place(no, req, reply, Vec::new(), view);
        }
        if let Msg::PlaceTaking {
            req,
            reply,
            taken,
            give_back,
            ..
        } = msg
        {
            return self.place_taking(no, req, reply, taken, give_back, view);
        }
        if let Msg::Woken { state } = msg {
            return self.woken(no, state);
        }
        let Some(actor) = self.orders.get_mut(&no) else {
            if let Some(msg) = self.wait_for_wake(no, msg) {
                self.order_unknown(no, msg);
            }
            return;
        };
        let waiting = actor.placing.is_some();
        match msg {
            Msg::Reserved { mut answers } if waiting => {
                let p = actor.placing.as_mut().expect("checked");
                if let Some(map) = &p.map {
                    for (l, _) in answers.iter_mut() {
                        *l = map.iter().position(|m| m == l).unwrap_or(0) as u16;
                    }
                }
                p.placement.on_answers(&answers);
                if let Some(clock) = self.stopwatch {
                    let ns = clock().saturating_sub(p.sent_ns);
                    self.out.facts.reserve_ns.push(ns);
                }
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
                let full = timeline_full(actor.state.timeline().len(), self.order_events_max);
                let answer = match actor.state.decide_scan(&scan, self.router.rates()) {
                    Ok(ScanDecision::Duplicate) => ScanAnswer::Duplicate,
                    Ok(ScanDecision::Apply { .. }) if full.is_some() => {
                        ScanAnswer::Rejected(full.unwrap_or_default())
                    }
                    Ok(ScanDecision::Apply { event, effects }) => {
                        actor.state.apply(&event);
                        let cycle = (actor.state.placed_at(), scan.at);
                        match scan.kind {
                            ScanKind::Ship => self.out.facts.shipped.push(cycle),
                            ScanKind::Delivered => self.out.facts.delivered.push(cycle),
                            _ => {}
                        }
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
    pub(crate) fn order_unknown(&mut self, no: OrderNo, msg: Msg) {
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

    /// An order naming a hold: give back the hold lines it does not take,
    /// turn the ones it takes into its reservations in place (sent before
    /// anything else this order tells those cells, so they come first),
    /// then place the rest as usual.
    fn place_taking(
        &mut self,
        no: OrderNo,
        req: PlaceRequest,
        reply: RequestId,
        taken: Vec<(FacilityIdx, HoldLine, SkuIdx, u16, u32)>,
        give_back: Vec<(FacilityIdx, HoldLine, SkuIdx, u32)>,
        view: &View,
    ) {
        if self.orders.contains_key(&no) {
            return self.reply(
                reply,
                Answer::Placed(Err(format!("order number {} is taken", no.0))),
            );
        }
        for (facility, hold, sku, qty) in give_back {
            self.send(
                ActorRef::Desk(sku),
                Msg::ReturnHeld {
                    facility,
                    hold,
                    qty,
                },
            );
        }
        let mut lines = Vec::with_capacity(taken.len());
        for (facility, hold, sku, line, qty) in taken {
            self.send(
                ActorRef::Cells(facility),
                Msg::ConvertHeld {
                    sku,
                    hold,
                    line: LineRef { order: no, line },
                    qty,
                },
            );
            lines.push((facility, line));
        }
        self.place(no, req, reply, lines, view)
    }

    /// Routes `lines` for a ship-to: the router's plan with the facilities'
    /// live status (owned) or last published boards.
    pub(crate) fn route(
        &mut self,
        lines: &[(SkuIdx, u32)],
        lat: f64,
        lon: f64,
        service_level: ServiceLevel,
        channel: &str,
        view: &View,
    ) -> Plan {
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
        let started = self.lap();
        let plan = self.router.plan(
            &RouteRequest {
                lines,
                lat,
                lon,
                service_level,
                channel,
            },
            &infos,
            now,
            |sku, facility| self.available(CellKey { sku, facility }, view),
        );
        self.infos = infos;
        if self.stopwatch.is_some() {
            let ns = self.lap().saturating_sub(started);
            self.out.facts.route_ns.push(ns);
        }
        plan
    }

    /// Place an order; `taken` are lines already reserved in place (from a
    /// hold), which are not routed again.
    fn place(
        &mut self,
        no: OrderNo,
        req: PlaceRequest,
        reply: RequestId,
        taken: Vec<(FacilityIdx, u16)>,
        view: &View,
    ) {
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
        let (map, route_lines) = if taken.is_empty() {
            (None, None)
        } else {
            let map: Vec<u16> = (0..lines.len() as u16)
                .filter(|l| !taken.iter().any(|t| t.1 == *l))
                .collect();
            let sub: Vec<(SkuIdx, u32)> = map.iter().map(|&l| lines[usize::from(l)]).collect();
            (Some(map), Some(sub))
        };
        let r = state.request();
        let (lat, lon, sl, allow_backorder) = (r.lat, r.lon, r.service_level, r.allow_backorder);
        let channel = r.channel.clone();
        let routed = route_lines.as_deref().unwrap_or(&lines);
        let plan = self.route(routed, lat, lon, sl, &channel, view);
        let placement = Placement::new(plan, routed.iter().map(|l| l.1).collect(), allow_backorder);
        let mut by_facility: Vec<(FacilityIdx, Vec<u16>)> = Vec::new();
        for (f, l) in taken {
            match by_facility.iter_mut().find(|x| x.0 == f) {
                Some(x) => x.1.push(l),
                None => by_facility.push((f, vec![l])),
            }
        }
        self.orders.insert(
            no,
            Box::new(OrderActor {
                state,
                placing: Some(Box::new(Placing {
                    placement,
                    lines,
                    placed,
                    reply,
                    sent_ns: 0,
                    map,
                    taken: by_facility,
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
                            let l = p.map.as_ref().map_or(l, |m| m[usize::from(l)]);
                            let (sku, qty) = p.lines[usize::from(l)];
                            (l, sku, qty)
                        })
                        .collect();
                    p.sent_ns = self.stopwatch.map_or(0, |f| f());
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
                        .map(|l| {
                            let l = p.map.as_ref().map_or(l, |m| m[usize::from(l)]);
                            (p.lines[usize::from(l)].0, LineRef { order: no, line: l })
                        })
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
                    let outcome = with_taken(p.placement.outcome(), p.map.as_deref(), &p.taken);
                    if outcome.rejected.is_some() {
                        // Rejected: what it took from the hold goes back too.
                        for (f, lines) in &p.taken {
                            let lines = lines
                                .iter()
                                .map(|&l| {
                                    (p.lines[usize::from(l)].0, LineRef { order: no, line: l })
                                })
                                .collect();
                            self.send(ActorRef::Cells(*f), Msg::Release { lines, drain: true });
                        }
                    }
                    let actor = self.orders.get_mut(&no).expect("placing order exists");
                    let (event, effects) =
                        actor
                            .state
                            .decide_routed(outcome, self.now, self.router.rates());
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
    pub(crate) fn resume_order(&mut self, no: OrderNo) {
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
        match actor
            .state
            .decide_fill(line, facility, self.now, self.router.rates())
        {
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

/// A placement's outcome in the order's line numbers (`map`: routed line
/// to order line), with the lines taken from a hold in front, merged per
/// facility. Unchanged when nothing was taken.
fn with_taken(
    mut outcome: PlacementOutcome,
    map: Option<&[u16]>,
    taken: &[(FacilityIdx, Vec<u16>)],
) -> PlacementOutcome {
    let Some(map) = map else {
        return outcome;
    };
    let to_order = |l: &mut u16| *l = map[usize::from(*l)];
    for (_, lines) in outcome.fulfillments.iter_mut() {
        lines.iter_mut().for_each(to_order);
    }
    outcome.backordered.iter_mut().for_each(to_order);
    if outcome.rejected.is_some() {
        return outcome;
    }
    let mut fulfillments = taken.to_vec();
    for (f, lines) in outcome.fulfillments {
        match fulfillments.iter_mut().find(|x| x.0 == f) {
            Some(x) => x.1.extend(lines),
            None => fulfillments.push((f, lines)),
        }
    }
    for (_, lines) in fulfillments.iter_mut() {
        lines.sort_unstable();
    }
    // A hold that covers every line leaves nothing to route: the plan's
    // facility must not become a fulfillment without lines.
    fulfillments.retain(|(_, lines)| !lines.is_empty());
    outcome.fulfillments = fulfillments;
    outcome
}
