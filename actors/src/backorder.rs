//! The backorder desk of one SKU: the network-wide queue of order lines
//! waiting for that SKU, served by priority, then age.
//!
//! Stock received anywhere is offered to the desk before new orders can take
//! it: the desk decides which waiting lines a receipt serves
//! ([`DeskState::allocate`]: queue order, passing over a line the units
//! cannot cover), the cell receives and reserves for them in one step, and
//! only the rest becomes available. A line leaves the queue
//! exactly once (filled or removed), so it is never served twice.

use std::collections::{BTreeMap, HashMap};

use orch_config::Millis;
use serde::{Deserialize, Serialize};

use crate::ids::{FacilityIdx, LineRef, SkuIdx};

/// Queue position: priority (lower first), then age (placement time, then order number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueueKey {
    /// 0 = same day, 1 = next day, 2 = standard.
    pub priority: u8,
    /// When the order was placed.
    pub placed_at: Millis,
    /// Tie-break within one millisecond: the order number (assigned in
    /// arrival order), then the line.
    pub seq: u64,
}

/// A change to a desk, as journaled and replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeskEvent {
    /// A line joined the queue.
    Queued {
        /// Line.
        line: LineRef,
        /// Units wanted.
        qty: u32,
        /// Position.
        key: QueueKey,
    },
    /// A line was served at a facility.
    Filled {
        /// Line.
        line: LineRef,
        /// Where its stock is reserved.
        facility: FacilityIdx,
    },
    /// A line left without being served (its order was cancelled).
    Removed {
        /// Line.
        line: LineRef,
    },
}

/// The state of one SKU's backorder desk.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeskState {
    sku: Option<SkuIdx>,
    queue: BTreeMap<QueueKey, (LineRef, u32)>,
    index: HashMap<LineRef, QueueKey>,
    filled: u64,
}

impl DeskState {
    /// An empty desk for `sku`.
    pub fn new(sku: SkuIdx) -> DeskState {
        DeskState {
            sku: Some(sku),
            ..DeskState::default()
        }
    }

    /// Lines waiting.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Units waiting.
    pub fn units_waiting(&self) -> u64 {
        self.queue.values().map(|&(_, q)| u64::from(q)).sum()
    }

    /// Lines served so far.
    pub fn filled(&self) -> u64 {
        self.filled
    }

    /// Whether a line waits here.
    pub fn is_waiting(&self, line: LineRef) -> bool {
        self.index.contains_key(&line)
    }

    /// Waiting lines in serving order: (line, qty).
    pub fn queue(&self) -> impl Iterator<Item = (LineRef, u32)> + '_ {
        self.queue.values().copied()
    }

    /// Queue a line; `None` if it already waits.
    pub fn decide_queue(
        &self,
        line: LineRef,
        qty: u32,
        priority: u8,
        placed_at: Millis,
    ) -> Option<DeskEvent> {
        if self.index.contains_key(&line) || qty == 0 {
            return None;
        }
        Some(DeskEvent::Queued {
            line,
            qty,
            key: QueueKey {
                priority,
                placed_at,
                seq: line.order.0 << 16 | u64::from(line.line),
            },
        })
    }

    /// Remove a waiting line; `None` if it does not wait.
    pub fn decide_remove(&self, line: LineRef) -> Option<DeskEvent> {
        self.index
            .contains_key(&line)
            .then_some(DeskEvent::Removed { line })
    }

    /// Which waiting lines `qty` arriving units serve, in queue order. A
    /// line the units left cannot cover is passed over (they could not serve
    /// it anyway) and the lines behind it are still offered what remains;
    /// a later, larger arrival serves it first.
    pub fn allocate(&self, mut qty: u32) -> Vec<(LineRef, u32)> {
        let mut out = Vec::new();
        for &(line, want) in self.queue.values() {
            if qty == 0 {
                break;
            }
            if want > qty {
                continue;
            }
            qty -= want;
            out.push((line, want));
        }
        out
    }

    /// Apply an event.
    pub fn apply(&mut self, event: &DeskEvent) {
        match *event {
            DeskEvent::Queued { line, qty, key } => {
                self.queue.insert(key, (line, qty));
                self.index.insert(line, key);
            }
            DeskEvent::Filled { line, .. } => {
                if let Some(k) = self.index.remove(&line) {
                    self.queue.remove(&k);
                    self.filled += 1;
                }
            }
            DeskEvent::Removed { line } => {
                if let Some(k) = self.index.remove(&line) {
                    self.queue.remove(&k);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrderNo;

    fn l(o: u64) -> LineRef {
        LineRef {
            order: OrderNo(o),
            line: 0,
        }
    }

    fn queue(d: &mut DeskState, o: u64, qty: u32, prio: u8, at: Millis) {
        let e = d.decide_queue(l(o), qty, prio, at).unwrap();
        d.apply(&e);
    }

    #[test]
    fn serves_by_priority_then_age() {
        let mut d = DeskState::new(SkuIdx(1));
        queue(&mut d, 1, 1, 2, 10);
        queue(&mut d, 2, 1, 2, 5);
        queue(&mut d, 3, 1, 0, 20);
        let order: Vec<u64> = d.allocate(3).iter().map(|(x, _)| x.order.0).collect();
        assert_eq!(order, vec![3, 2, 1]);
        assert_eq!(d.allocate(2).len(), 2);
    }

    #[test]
    fn a_head_that_does_not_fit_is_passed_over_and_served_first_when_it_fits() {
        let mut d = DeskState::new(SkuIdx(1));
        queue(&mut d, 1, 3, 0, 1);
        queue(&mut d, 2, 1, 0, 2);
        let small: Vec<u64> = d.allocate(2).iter().map(|(l, _)| l.order.0).collect();
        assert_eq!(small, vec![2]);
        let big: Vec<u64> = d.allocate(3).iter().map(|(l, _)| l.order.0).collect();
        assert_eq!(big, vec![1], "the older line comes first when it fits");
        assert_eq!(d.allocate(4).len(), 2);
    }

    #[test]
    fn a_line_leaves_once() {
        let mut d = DeskState::new(SkuIdx(1));
        queue(&mut d, 1, 1, 0, 1);
        assert_eq!(d.decide_queue(l(1), 1, 0, 1), None, "queued twice");
        d.apply(&DeskEvent::Filled {
            line: l(1),
            facility: FacilityIdx(0),
        });
        assert_eq!(d.decide_remove(l(1)), None);
        assert!(d.allocate(10).is_empty());
        assert_eq!(d.filled(), 1);
        assert_eq!(d.decide_queue(l(2), 0, 0, 1), None, "zero units");
    }
}
