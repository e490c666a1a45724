//! The Facility actor: queue of routed fulfillments, waves, routing status.
//! It releases due waves on a timer and tells each order of its wave (fire
//! and forget), then announces the wave to subscribers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use orch_actors::facility::{
    FacilityEvent, FacilityRefusal, FacilityState, QueuedFulfillment, Wave, WaveTrigger,
};
use orch_actors::log::LogEntry;
use orch_actors::{FacilityIdx, FulfillmentRef};
use orch_config::Millis;

use crate::clock::now_ms;
use crate::shared::{Shared, WaveAnnouncement};
use crate::shell::order::WaveAssigned;
use crate::view::FacilityBoard;

/// Publishes a facility's routing state for the router and the API.
pub fn publish_board(b: &FacilityBoard, s: &FacilityState, now: Millis) {
    b.enabled.store(s.enabled_at(now), Ordering::Release);
    b.disabled_until
        .store(s.disabled_until().unwrap_or(0), Ordering::Release);
    b.capacity_used_ppm.store(
        (s.capacity_used() * 1e6).min(f64::from(u32::MAX)) as u32,
        Ordering::Relaxed,
    );
    b.capacity_left.store(s.capacity_left(), Ordering::Relaxed);
    b.queued.store(s.queued() as u32, Ordering::Relaxed);
    b.open_waves.store(s.open_waves() as u32, Ordering::Relaxed);
    b.released_today
        .store(s.released_today(), Ordering::Relaxed);
}

/// The actor of one facility.
pub struct FacilityActor {
    idx: FacilityIdx,
    state: FacilityState,
    shared: Arc<Shared>,
}

impl FacilityActor {
    /// A facility in its configured state.
    pub fn new(idx: FacilityIdx, state: FacilityState, shared: Arc<Shared>) -> FacilityActor {
        FacilityActor { idx, state, shared }
    }

    fn publish(&self, now: Millis) {
        publish_board(
            &self.shared.boards[usize::from(self.idx.0)],
            &self.state,
            now,
        );
    }

    fn release(&mut self, trigger: WaveTrigger, now: Millis) -> Option<Wave> {
        let event = self.state.decide_release(trigger, now)?;
        let FacilityEvent::WaveReleased {
            wave_id,
            fulfillments,
            ..
        } = &event
        else {
            unreachable!("decide_release answers a wave")
        };
        let wave = Wave {
            wave_id: wave_id.clone(),
            trigger,
            released_at: now,
            pick_list: self.state.pick_list(fulfillments),
            fulfillments: fulfillments.clone(),
        };
        self.state.apply(&event);
        // Journaled before any order hears of it: the orders' wave state is
        // derived from this record on replay.
        self.shared
            .durability
            .log(&[LogEntry::Facility(self.idx, event)]);
        for &FulfillmentRef { order, n } in &wave.fulfillments {
            if let Ok(Some(addr)) = self.shared.order_addr(order) {
                self.shared.pending.fetch_add(1, Ordering::AcqRel);
                crate::metrics::sending(crate::metrics::ActorKind::Order);
                addr.do_send(WaveAssigned {
                    fulfillment: n,
                    wave_id: wave.wave_id.clone(),
                    at: now,
                });
            }
        }
        // Announced after the orders were told, so a subscriber's scans
        // always reach an order that knows its wave.
        let _ = self.shared.waves.send(Arc::new(WaveAnnouncement {
            facility: self.idx,
            wave: wave.clone(),
        }));
        Some(wave)
    }

    fn tick(&mut self) {
        let now = now_ms();
        while let Some(trigger) = self.state.due_trigger(now) {
            if self.release(trigger, now).is_none() {
                break;
            }
        }
        self.state.advance_clock(now);
        self.publish(now);
    }
}

impl Actor for FacilityActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.publish(now_ms());
        ctx.run_interval(Duration::from_millis(self.shared.wave_tick_ms), |act, _| {
            act.tick()
        });
    }
}

/// Queue a routed fulfillment (fire and forget: counted in `Shared::pending`).
#[derive(Message)]
#[rtype(result = "Result<(), FacilityRefusal>")]
pub struct Enqueue(pub QueuedFulfillment);

impl Handler<Enqueue> for FacilityActor {
    type Result = Result<(), FacilityRefusal>;
    fn handle(&mut self, msg: Enqueue, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Facility);
        let result = self.state.decide_enqueue(msg.0).map(|e| {
            self.state.apply(&e);
            let now = now_ms();
            if self.state.due_trigger(now) == Some(WaveTrigger::Size) {
                self.release(WaveTrigger::Size, now);
            }
            self.publish(now);
        });
        self.shared.handled();
        result
    }
}

/// A fulfillment leaves: dequeued if still queued, closed if released (fire
/// and forget: counted in `Shared::pending`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Finish(pub FulfillmentRef);

impl Handler<Finish> for FacilityActor {
    type Result = ();
    fn handle(&mut self, msg: Finish, _: &mut Context<Self>) {
        crate::metrics::handled(crate::metrics::ActorKind::Facility);
        let e = self
            .state
            .decide_dequeue(msg.0)
            .or_else(|| self.state.decide_close(msg.0));
        if let Some(e) = e {
            self.state.apply(&e);
            self.publish(now_ms());
        }
        self.shared.handled();
    }
}

/// Release a wave now (on demand).
#[derive(Message)]
#[rtype(result = "Option<Wave>")]
pub struct ReleaseNow;

impl Handler<ReleaseNow> for FacilityActor {
    type Result = Option<Wave>;
    fn handle(&mut self, _: ReleaseNow, _: &mut Context<Self>) -> Option<Wave> {
        crate::metrics::handled(crate::metrics::ActorKind::Facility);
        let now = now_ms();
        let w = self.release(WaveTrigger::Manual, now);
        self.publish(now);
        w
    }
}

/// Enable or disable routing, optionally until a time.
#[derive(Message)]
#[rtype(result = "Result<(), FacilityRefusal>")]
pub struct SetStatus {
    /// Enabled?
    pub enabled: bool,
    /// Until when (disable only).
    pub until: Option<Millis>,
}

impl Handler<SetStatus> for FacilityActor {
    type Result = Result<(), FacilityRefusal>;
    fn handle(&mut self, msg: SetStatus, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Facility);
        let now = now_ms();
        let e = self.state.decide_status(msg.enabled, msg.until, now)?;
        self.state.apply(&e);
        self.shared
            .durability
            .log(&[LogEntry::Facility(self.idx, e)]);
        // Published before answering: routing skips it from the next order on.
        self.publish(now);
        Ok(())
    }
}

/// A copy of the facility's state.
#[derive(Message)]
#[rtype(result = "FacilityState")]
pub struct GetFacility;

impl Handler<GetFacility> for FacilityActor {
    type Result = MessageResult<GetFacility>;
    fn handle(&mut self, _: GetFacility, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Facility);
        MessageResult(self.state.clone())
    }
}
