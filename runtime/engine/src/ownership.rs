//! Which shard owns which actor: one pure function, written down once.
//!
//! - **Facilities, their stock cells, their queues and waves**: shard
//!   `facility % n`. A facility's cells live with it, so a single-facility
//!   order's all-or-nothing reservation over all its lines is one message
//!   to one shard, handled in one step there, and the enqueue that follows
//!   stays on that shard too.
//! - **Orders**: shard `order_no % n`. The caller chooses the number: the
//!   driver allocates, per shard, numbers with `no % n == shard` and gives
//!   a new order a number on the shard of its first-choice facility (the
//!   best-scored facility of the router, from the static part of the view).
//!   So most single-facility orders place, reserve, journal and enqueue
//!   without leaving their shard.
//! - **Backorder desks**: shard `sku % n`. A SKU's cells are spread over
//!   every facility, so no placement of the desk saves a hop for all of
//!   them; spreading desks by SKU keeps the hot SKUs' desks apart. Desks are
//!   on the path of receipts, restocks and drains only, never of a
//!   placement that finds stock.
//!
//! The same function will later map shards to nodes. It never looks at
//! state, time or chance.

use orch_actors::hold::HoldNo;
use orch_actors::{FacilityIdx, OrderNo, SkuIdx};

use crate::msg::ActorRef;

/// Index of a shard, `0..shards`.
pub type ShardIdx = usize;

/// The ownership function of a cluster of `shards` shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ownership {
    shards: usize,
}

impl Ownership {
    /// Ownership over `shards` shards (at least 1).
    pub fn new(shards: usize) -> Ownership {
        Ownership {
            shards: shards.max(1),
        }
    }

    /// How many shards there are.
    pub fn shards(&self) -> usize {
        self.shards
    }

    /// The shard that owns an actor.
    pub fn shard_of(&self, actor: ActorRef) -> ShardIdx {
        match actor {
            ActorRef::Order(no) => self.order(no),
            ActorRef::Cells(f) | ActorRef::Facility(f) => self.facility(f),
            ActorRef::Desk(sku) => self.desk(sku),
            ActorRef::Hold(no) => self.hold(no),
        }
    }

    /// The shard of an order.
    pub fn order(&self, no: OrderNo) -> ShardIdx {
        (no.0 % self.shards as u64) as usize
    }

    /// The shard of a hold (numbered like orders, see [`Ownership::order_no`]).
    pub fn hold(&self, no: HoldNo) -> ShardIdx {
        (no.0 % self.shards as u64) as usize
    }

    /// The shard of a facility and of its cells.
    pub fn facility(&self, f: FacilityIdx) -> ShardIdx {
        usize::from(f.0) % self.shards
    }

    /// The shard of a SKU's backorder desk.
    pub fn desk(&self, sku: SkuIdx) -> ShardIdx {
        sku.0 as usize % self.shards
    }

    /// The `k`-th order number (from 0) owned by `shard`: `k * n + shard`,
    /// skipping 0 (order numbers start at 1).
    pub fn order_no(&self, shard: ShardIdx, k: u64) -> OrderNo {
        let n = self.shards as u64;
        let shard = (shard % self.shards) as u64;
        let k = if shard == 0 { k + 1 } else { k };
        OrderNo(k * n + shard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_numbers_land_on_the_shard_that_asked() {
        for n in 1..5 {
            let own = Ownership::new(n);
            for s in 0..n {
                for k in 0..10 {
                    let no = own.order_no(s, k);
                    assert!(no.0 >= 1);
                    assert_eq!(own.order(no), s);
                }
            }
        }
    }

    #[test]
    fn a_facility_and_its_cells_share_a_shard() {
        let own = Ownership::new(3);
        for f in 0..10 {
            let f = FacilityIdx(f);
            assert_eq!(
                own.shard_of(ActorRef::Cells(f)),
                own.shard_of(ActorRef::Facility(f))
            );
        }
    }
}
