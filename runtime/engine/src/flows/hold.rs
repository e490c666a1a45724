//! The hold actor: a shopper's cart reservation with an expiry.
//!
//! Create routes and holds like an order (one facility when one can hold
//! it all, splits within the routing rules) but never backorders: lines
//! nothing can hold are `unavailable`; with `allow_partial: false` a hold
//! that cannot cover every line holds nothing and is not created. The
//! record journals every change (`LogEntry::Hold`) before it is answered;
//! the shard's clock expires it (see `Shard::expire_holds`). Its units
//! come back through the SKU's desk, which serves waiting lines first, as
//! with a receipt. A converting order is told which units it takes in
//! place; it sends the cells the conversion itself, ahead of anything
//! else it tells them.

use std::collections::VecDeque;

use orch_actors::hold::{check_ttl, decide_create, HoldEvent, HoldLine, HoldNo, HoldState};
use orch_actors::log::LogEntry;
use orch_actors::order::PlaceRequest;
use orch_actors::placement::{Placement, Step};
use orch_actors::OrderNo;

use crate::msg::{ActorRef, Answer, HoldError, Msg, RequestId};
use crate::shard::{HoldActor, HoldCreating, Shard};
use crate::view::View;

impl Shard {
    pub(crate) fn hold_msg(&mut self, no: HoldNo, msg: Msg, view: &View) {
        let creating = self.holds.get(&no).is_some_and(|a| a.creating.is_some());
        match msg {
            Msg::Reserved { answers } if creating => {
                let actor = self.holds.get_mut(&no).expect("checked");
                let c = actor.creating.as_mut().expect("checked");
                c.placement.on_answers(&answers);
                self.drive_hold(no);
            }
            other if creating => {
                let actor = self.holds.get_mut(&no).expect("checked");
                actor.deferred.push_back(other);
            }
            Msg::CreateHold { req, reply } => {
                if let Some(s) = self.holds.get(&no).and_then(|a| a.state.as_ref()) {
                    let answer = if s.request() == &req {
                        Ok(Box::new(s.clone()))
                    } else {
                        Err(HoldError::Conflict)
                    };
                    return self.reply(reply, Answer::Hold(answer));
                }
                if self.expiries.len() >= self.holds_max {
                    return self.reply(reply, Answer::Hold(Err(HoldError::Overloaded)));
                }
                if let Err(e) = check_ttl(req.ttl_s, self.hold_ttl_s_max) {
                    return self.reply(reply, Answer::Hold(Err(HoldError::Refused(e))));
                }
                let lines: Vec<_> = req.lines.iter().map(|l| (l.sku, l.qty)).collect();
                let plan = self.route(&lines, req.lat, req.lon, req.service_level, "", view);
                let placement =
                    Placement::new(plan, lines.iter().map(|l| l.1).collect(), req.allow_partial);
                let actor = self.holds.entry(no).or_insert_with(|| {
                    Box::new(HoldActor {
                        state: None,
                        creating: None,
                        deferred: VecDeque::new(),
                    })
                });
                actor.creating = Some(Box::new(HoldCreating {
                    placement,
                    request: req,
                    reply,
                }));
                self.drive_hold(no);
            }
            Msg::ReadHold { reply } => {
                let answer = self.hold_answer(no);
                self.reply(reply, Answer::Hold(answer));
            }
            Msg::ExtendHold { ttl_s, reply } => {
                let Some(s) = self.hold_state(no) else {
                    return self.reply(reply, Answer::Hold(Err(HoldError::Unknown)));
                };
                match s.decide_extend(ttl_s, self.now, self.hold_ttl_s_max) {
                    Ok(e) => {
                        let before = s.expires_at();
                        self.expiries.remove(&(before, no));
                        let s = self.hold_state_mut(no).expect("checked");
                        s.apply(&e);
                        let at = s.expires_at();
                        self.expiries.insert((at, no));
                        self.journal(LogEntry::Hold(no, e));
                        let answer = self.hold_answer(no);
                        self.reply(reply, Answer::Hold(answer));
                    }
                    Err(e) => self.reply(reply, Answer::Hold(Err(HoldError::Refused(e)))),
                }
            }
            Msg::ReleaseHold { reply } => {
                let Some(s) = self.hold_state(no) else {
                    return self.reply(reply, Answer::Hold(Err(HoldError::Unknown)));
                };
                match s.decide_release(self.now) {
                    Ok(Some(e)) => {
                        self.end_hold(no, e);
                        let answer = self.hold_answer(no);
                        self.reply(reply, Answer::Hold(answer));
                    }
                    Ok(None) => {
                        let answer = self.hold_answer(no);
                        self.reply(reply, Answer::Hold(answer));
                    }
                    Err(e) => self.reply(reply, Answer::Hold(Err(HoldError::Refused(e)))),
                }
            }
            Msg::ConvertHold { order, req, reply } => self.convert_hold(no, order, req, reply),
            other => self.anomaly(format!("hold {no:?} got {other:?}")),
        }
    }

    fn hold_state(&self, no: HoldNo) -> Option<&HoldState> {
        self.holds.get(&no).and_then(|a| a.state.as_ref())
    }

    fn hold_state_mut(&mut self, no: HoldNo) -> Option<&mut HoldState> {
        self.holds.get_mut(&no).and_then(|a| a.state.as_mut())
    }

    fn hold_answer(&self, no: HoldNo) -> Result<Box<HoldState>, HoldError> {
        self.hold_state(no)
            .map(|s| Box::new(s.clone()))
            .ok_or(HoldError::Unknown)
    }

    /// Runs the hold's placement until it waits for answers or is done.
    fn drive_hold(&mut self, no: HoldNo) {
        loop {
            let actor = self.holds.get_mut(&no).expect("creating hold exists");
            let c = actor.creating.as_mut().expect("creating");
            match c.placement.next_step() {
                Step::Reserve { facility, lines } => {
                    let lines = lines
                        .into_iter()
                        .map(|l| {
                            let ol = c.request.lines[usize::from(l)];
                            (l, ol.sku, ol.qty)
                        })
                        .collect();
                    self.send(
                        ActorRef::Cells(facility),
                        Msg::HoldUnits { hold: no, lines },
                    );
                    return;
                }
                Step::Release { facility, lines } => {
                    let lines: Vec<_> = lines
                        .into_iter()
                        .map(|l| {
                            let line = c.request.lines[usize::from(l)];
                            (l, line.sku, line.qty)
                        })
                        .collect();
                    // Through the desk: the units go to waiting lines first.
                    for (l, sku, qty) in lines {
                        self.send(
                            ActorRef::Desk(sku),
                            Msg::ReturnHeld {
                                facility,
                                hold: HoldLine { hold: no, line: l },
                                qty,
                            },
                        );
                    }
                }
                Step::Done => {
                    let c = *actor.creating.take().expect("creating");
                    let outcome = c.placement.outcome();
                    match decide_create(c.request, outcome, self.now, self.hold_ttl_s_max) {
                        Ok(e) => {
                            let state = HoldState::from_created(no, &e).expect("a Created event");
                            let at = state.expires_at();
                            actor.state = Some(state);
                            self.expiries.insert((at, no));
                            self.journal(LogEntry::Hold(no, e));
                            let answer = self.hold_answer(no);
                            self.reply(c.reply, Answer::Hold(answer));
                        }
                        // The placement gave back everything it held.
                        Err(e) => self.reply(c.reply, Answer::Hold(Err(HoldError::Refused(e)))),
                    }
                    return self.resume_hold(no);
                }
            }
        }
    }

    /// Handles what arrived while the hold was being created; forgets a
    /// hold that was not created.
    fn resume_hold(&mut self, no: HoldNo) {
        loop {
            let Some(actor) = self.holds.get_mut(&no) else {
                return;
            };
            if actor.creating.is_some() {
                return;
            }
            let Some(msg) = actor.deferred.pop_front() else {
                if actor.state.is_none() {
                    self.holds.remove(&no);
                }
                return;
            };
            self.hold_msg(no, msg, &View::default());
        }
    }

    /// Forgets the ended holds `old` (released, expired or converted past
    /// retention): one in memory, ended, with nothing being created or
    /// waiting at it, is gone for good; a later message for it answers as
    /// for an unknown hold. Answers those forgotten.
    pub fn forget_holds(&mut self, old: &[HoldNo]) -> Vec<HoldNo> {
        let mut gone = Vec::new();
        for &no in old {
            let ended = self.holds.get(&no).is_some_and(|a| {
                a.creating.is_none()
                    && a.deferred.is_empty()
                    && a.state
                        .as_ref()
                        .is_some_and(|s| s.status() != orch_actors::hold::HoldStatus::Active)
            });
            if ended {
                self.holds.remove(&no);
                gone.push(no);
            }
        }
        gone
    }

    /// Ends an active hold (released, expired or converted): journal it,
    /// and unless converted, send its units back through their desks.
    fn end_hold(&mut self, no: HoldNo, event: HoldEvent) {
        let s = self.hold_state_mut(no).expect("an active hold");
        let units: Vec<_> = s.units_held().collect();
        let expires_at = s.expires_at();
        s.apply(&event);
        self.expiries.remove(&(expires_at, no));
        let converted = matches!(event, HoldEvent::Converted { .. });
        self.journal(LogEntry::Hold(no, event));
        if !converted {
            for (facility, line, ol) in units {
                self.send(
                    ActorRef::Desk(ol.sku),
                    Msg::ReturnHeld {
                        facility,
                        hold: HoldLine { hold: no, line },
                        qty: ol.qty,
                    },
                );
            }
        }
    }

    /// The shard's clock: every active hold whose `expires_at` has come expires now.
    pub(crate) fn expire_holds(&mut self) {
        while let Some(&(at, no)) = self.expiries.first() {
            if at > self.now {
                return;
            }
            let e = self.hold_state(no).and_then(|s| s.decide_expire(self.now));
            match e {
                Some(e) => self.end_hold(no, e),
                None => {
                    self.expiries.remove(&(at, no));
                }
            }
        }
    }

    /// An order names this hold: when active, it converts, and the order is
    /// told which units it takes (an order line of the same SKU asking at
    /// most what a hold line holds, each used once) and which go back.
    fn convert_hold(&mut self, no: HoldNo, order: OrderNo, req: PlaceRequest, reply: RequestId) {
        let now = self.now;
        if let Some(e) = self.hold_state(no).and_then(|s| s.decide_expire(now)) {
            self.end_hold(no, e);
        }
        let mut taken = Vec::new();
        let mut give_back = Vec::new();
        let status = match self
            .hold_state(no)
            .map(|s| (s.decide_convert(order, now), s))
        {
            None => None,
            Some((Err(_), s)) => Some(s.status()),
            Some((Ok(e), s)) => {
                let mut used = vec![false; req.lines.len()];
                for (f, hl, ol) in s.units_held() {
                    let hold = HoldLine { hold: no, line: hl };
                    let pick = req
                        .lines
                        .iter()
                        .enumerate()
                        .find(|(i, l)| !used[*i] && l.sku == ol.sku && l.qty <= ol.qty);
                    match pick {
                        Some((i, l)) => {
                            used[i] = true;
                            taken.push((f, hold, ol.sku, i as u16, l.qty));
                        }
                        None => give_back.push((f, hold, ol.sku, ol.qty)),
                    }
                }
                self.end_hold(no, e);
                self.hold_state(no).map(HoldState::status)
            }
        };
        self.send(
            ActorRef::Order(order),
            Msg::PlaceTaking {
                req,
                reply,
                status,
                taken,
                give_back,
            },
        );
    }
}
