//! Passivation: finished, idle orders that the host's snapshot holds leave
//! the shard's memory (only their number stays, in `passive`). A message
//! for one waits in `waking` while the host reads its state back from the
//! store (the tick names it in `TickOutput::wake`); `Msg::Woken` brings
//! the order back and it handles what waited, in arrival order. The shard
//! never reads the store itself, so it never blocks on disk.

use orch_actors::order::OrderState;
use orch_actors::OrderNo;

use crate::msg::Msg;
use crate::shard::{OrderActor, Shard};

impl Shard {
    /// Lets the `candidates` leave memory: each `(order, timeline length)`
    /// a snapshot holds as finished and idle. An order goes only if it is
    /// still finished, idle (placing nothing, nothing deferred) and
    /// unchanged since that snapshot (the same timeline length). Answers
    /// how many left.
    pub fn passivate(&mut self, candidates: &[(OrderNo, usize)]) -> usize {
        let mut gone = 0;
        for &(no, timeline) in candidates {
            let idle = self.orders.get(&no).is_some_and(|a| {
                a.placing.is_none()
                    && a.deferred.is_empty()
                    && a.state.status().is_final()
                    && a.state.timeline().len() == timeline
            });
            if idle {
                self.orders.remove(&no);
                self.passive.insert(no);
                gone += 1;
            }
        }
        gone
    }

    /// Forgets the `old` orders (each with its timeline length as the
    /// snapshot holds it): one passive and not being woken, or in memory,
    /// finished, idle and unchanged, is gone for good; a later message for
    /// it answers as for an unknown order. Answers those forgotten.
    pub fn forget(&mut self, old: &[(OrderNo, usize)]) -> Vec<OrderNo> {
        let mut gone = Vec::new();
        for &(no, timeline) in old {
            let passive = self.passive.contains(&no) && !self.waking.contains_key(&no);
            if passive || self.passivate(&[(no, timeline)]) == 1 {
                self.passive.remove(&no);
                gone.push(no);
            }
        }
        gone
    }

    /// Orders out of memory now (passivated or being woken).
    pub fn passive_orders(&self) -> usize {
        self.passive.len()
    }

    /// Whether order `no` is out of memory (its state is in the store).
    pub fn is_passive(&self, no: OrderNo) -> bool {
        self.passive.contains(&no)
    }

    /// A message for an order not in memory: kept for its wake when the
    /// order is passive (`None`), else handed back (an unknown order).
    pub(crate) fn wait_for_wake(&mut self, no: OrderNo, msg: Msg) -> Option<Msg> {
        if !self.passive.contains(&no) {
            return Some(msg);
        }
        let waiting = self.waking.entry(no).or_default();
        if waiting.is_empty() {
            self.out.wake.push(no);
        }
        waiting.push_back(msg);
        None
    }

    /// The host read a passive order back: it returns to memory and
    /// handles what waited. Without a state (the store had none, a bug
    /// counted as an anomaly) what waited is answered as for an unknown
    /// order.
    pub(crate) fn woken(&mut self, no: OrderNo, state: Option<Box<OrderState>>) {
        if !self.passive.remove(&no) {
            // Woken twice, or never passive: the live state stands.
            if !self.orders.contains_key(&no) {
                self.anomaly(format!("order {no:?} woken but never passivated"));
            }
            return;
        }
        let waited = self.waking.remove(&no).unwrap_or_default();
        match state {
            Some(state) if state.no() == no => {
                self.orders.insert(
                    no,
                    Box::new(OrderActor {
                        state: *state,
                        placing: None,
                        deferred: waited,
                    }),
                );
                self.resume_order(no);
            }
            other => {
                self.anomaly(format!(
                    "order {no:?} could not be read back: {:?}",
                    other.map(|s| s.no())
                ));
                for msg in waited {
                    self.order_unknown(no, msg);
                }
            }
        }
    }
}
