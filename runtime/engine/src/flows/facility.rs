//! The facility actor: its queue by service level, waves (size, max wait,
//! carrier cutoff from the shard's timers; manual on request) and routing
//! status. It journals wave releases and status changes (queue changes are
//! derived from the orders' events on replay) and tells each order of a
//! wave its fulfillment was released. It never waits for anyone.

use orch_actors::facility::{FacilityEvent, Wave, WaveTrigger};
use orch_actors::log::LogEntry;
use orch_actors::FacilityIdx;

use crate::msg::{ActorRef, Answer, Msg};
use crate::shard::Shard;

impl Shard {
    pub(crate) fn facility_msg(&mut self, f: FacilityIdx, msg: Msg) {
        let i = usize::from(f.0);
        if self.facilities.get(i).and_then(Option::as_ref).is_none() {
            return self.facility_unknown(f, msg);
        }
        match msg {
            Msg::Enqueue(q) => {
                let fac = self.facilities[i].as_mut().expect("checked");
                let fr = q.fulfillment;
                match fac.decide_enqueue(q) {
                    Ok(e) => {
                        fac.apply(&e);
                        self.touch_facility(f);
                    }
                    Err(e) => self.anomaly(format!("enqueue of {fr:?} at {f:?}: {e}")),
                }
            }
            Msg::Dequeue(fr) => {
                let fac = self.facilities[i].as_mut().expect("checked");
                if let Some(e) = fac.decide_dequeue(fr).or_else(|| fac.decide_close(fr)) {
                    fac.apply(&e);
                }
            }
            Msg::ReleaseWave { trigger, reply } => {
                let wave = self.release_wave(f, trigger);
                self.reply(reply, Answer::Wave(wave));
            }
            Msg::SetStatus {
                enabled,
                until,
                reply,
            } => {
                let fac = self.facilities[i].as_mut().expect("checked");
                let answer = match fac.decide_status(enabled, until, self.now) {
                    Ok(e) => {
                        fac.apply(&e);
                        self.journal(LogEntry::Facility(f, e));
                        self.touch_facility(f);
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                };
                self.reply(reply, Answer::Status(answer));
            }
            other => self.anomaly(format!("facility {f:?} got {other:?}")),
        }
    }

    fn facility_unknown(&mut self, f: FacilityIdx, msg: Msg) {
        match msg {
            Msg::ReleaseWave { reply, .. } => self.reply(reply, Answer::Wave(None)),
            Msg::SetStatus { reply, .. } => self.reply(
                reply,
                Answer::Status(Err(format!("facility: unknown {f:?}"))),
            ),
            other => self.anomaly(format!("unknown facility {f:?} got {other:?}")),
        }
    }

    /// Releases one wave at `f` now, journals it and tells its orders.
    pub(crate) fn release_wave(&mut self, f: FacilityIdx, trigger: WaveTrigger) -> Option<Wave> {
        let now = self.now;
        let fac = self.facilities.get_mut(usize::from(f.0))?.as_mut()?;
        let event = fac.decide_release(trigger, now)?;
        let FacilityEvent::WaveReleased {
            wave_id,
            fulfillments,
            ..
        } = &event
        else {
            self.anomaly(format!("{f:?}: decide_release returned {event:?}"));
            return None;
        };
        let wave = Wave {
            wave_id: wave_id.clone(),
            trigger,
            released_at: now,
            pick_list: fac.pick_list(fulfillments),
            fulfillments: fulfillments.clone(),
        };
        fac.apply(&event);
        self.journal(LogEntry::Facility(f, event));
        self.touch_facility(f);
        for fr in &wave.fulfillments {
            self.send(
                ActorRef::Order(fr.order),
                Msg::WaveOf {
                    n: fr.n,
                    wave_id: wave.wave_id.clone(),
                    at: now,
                },
            );
        }
        Some(wave)
    }
}
