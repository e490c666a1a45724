//! Starting a shard from a replayed state (the recovery path): the state
//! `World::replay` rebuilt from the durable journal, split by ownership.

use std::collections::VecDeque;
use std::sync::Arc;

use orch_actors::log::LogEntry;
use orch_actors::sim::World;

use orch_actors::hold::HoldStatus;

use crate::shard::{DeskActor, HoldActor, OrderActor, Shard};

impl Shard {
    /// Replace this shard's actors with those of `world` it owns, and
    /// remember the receipt and adjustment ids of `journal` for its cells.
    pub(crate) fn load(&mut self, world: &World, journal: &[LogEntry]) {
        self.load_actors(world);
        let (own, idx) = (self.own, self.idx);
        for e in journal {
            match e {
                LogEntry::Received {
                    cell, receipt_id, ..
                } if own.facility(cell.facility) == idx => self.receipts.insert(receipt_id.clone()),
                LogEntry::Adjusted {
                    cell,
                    adjustment_id,
                    ..
                } if own.facility(cell.facility) == idx => {
                    self.adjustments.insert(adjustment_id.clone())
                }
                _ => {}
            }
        }
    }

    /// Replace this shard's actors with those of `world` it owns (the
    /// state recovery rebuilt from a snapshot and the journal), and
    /// remember these receipt and adjustment ids, oldest first (within
    /// the shard's usual bound). For a threaded host's restart; the first
    /// tick runs the timers (holds that expired and waves that fell due
    /// while the core was down).
    pub fn restore_from(&mut self, world: &World, receipts: &[Arc<str>], adjustments: &[Arc<str>]) {
        self.load_actors(world);
        self.order_floor = world.next_order_no();
        for r in receipts {
            self.receipts.insert(r.clone());
        }
        for a in adjustments {
            self.adjustments.insert(a.clone());
        }
    }

    fn load_actors(&mut self, world: &World) {
        let (own, idx) = (self.own, self.idx);
        self.orders = world
            .orders
            .iter()
            .filter(|(no, _)| own.order(**no) == idx)
            .map(|(no, o)| {
                let actor = OrderActor {
                    state: o.clone(),
                    placing: None,
                    deferred: VecDeque::new(),
                };
                (*no, Box::new(actor))
            })
            .collect();
        self.cells = world
            .cells
            .iter()
            .filter(|(k, _)| own.facility(k.facility) == idx)
            .map(|(k, c)| (*k, c.clone()))
            .collect();
        for (i, slot) in self.facilities.iter_mut().enumerate() {
            if slot.is_some() {
                *slot = world.facilities.get(i).cloned();
            }
        }
        self.desks = world
            .desks
            .iter()
            .filter(|(s, _)| own.desk(**s) == idx)
            .map(|(s, d)| {
                let actor = DeskActor {
                    state: d.clone(),
                    wait: None,
                    deferred: VecDeque::new(),
                };
                (*s, actor)
            })
            .collect();
        // A restarted shard runs its timers on its first tick: holds that
        // expired and waves that fell due while the core was down.
        self.timers_at = 0;
        self.holds.clear();
        self.expiries.clear();
        for (no, h) in world.holds.iter().filter(|(no, _)| own.hold(**no) == idx) {
            #[cfg(feature = "sim-bugs")]
            let forget = crate::bugs::active(crate::bugs::Bug::ForgetHoldExpiry);
            #[cfg(not(feature = "sim-bugs"))]
            let forget = false;
            if h.status() == HoldStatus::Active && !forget {
                // Expired while down: the first tick's timers release it.
                self.expiries.insert((h.expires_at(), *no));
            }
            let actor = HoldActor {
                state: Some(h.clone()),
                creating: None,
                deferred: VecDeque::new(),
            };
            self.holds.insert(*no, Box::new(actor));
        }
    }
}
