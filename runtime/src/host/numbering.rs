//! Numbers for new orders and holds: order `k * n + shard` on the shard
//! of its first-choice facility (see `orch_engine::ownership`), holds
//! spread round robin. Counters per shard, resumed after the highest
//! number a restored shard holds. A number taken by a request that was
//! then refused `Overloaded` is skipped: numbers may have gaps, never
//! repeats.

use std::sync::atomic::{AtomicU64, Ordering};

use orch_actors::hold::HoldNo;
use orch_actors::order::PlaceRequest;
use orch_actors::routing::{FacilityInfo, Router};
use orch_actors::OrderNo;
use orch_config::Millis;
use orch_engine::ownership::ShardIdx;
use orch_engine::view::first_choice;
use orch_engine::{Ownership, Shard};

use super::published::PublishedView;

/// The number counters of one host.
#[derive(Debug)]
pub(crate) struct Numbering {
    own: Ownership,
    router: std::sync::Arc<Router>,
    infos: Vec<FacilityInfo>,
    order_k: Vec<AtomicU64>,
    hold_k: Vec<AtomicU64>,
    holds: AtomicU64,
}

/// The next `k` after number `no` of its shard (inverse of
/// `Ownership::order_no`, which skips 0 on shard 0).
fn next_k(own: Ownership, no: u64) -> u64 {
    let n = own.shards() as u64;
    no / n + u64::from(!no.is_multiple_of(n))
}

impl Numbering {
    pub(crate) fn new(
        own: Ownership,
        router: std::sync::Arc<Router>,
        infos: Vec<FacilityInfo>,
        shards: &[Shard],
    ) -> Numbering {
        let order_k: Vec<AtomicU64> = (0..own.shards()).map(|_| AtomicU64::new(0)).collect();
        let hold_k: Vec<AtomicU64> = (0..own.shards()).map(|_| AtomicU64::new(0)).collect();
        let mut holds = 0;
        for s in shards {
            // Above every number given before, forgotten orders' too.
            for k in &order_k {
                k.fetch_max(next_k(own, s.order_floor()), Ordering::Relaxed);
            }
            for o in s.orders() {
                order_k[own.order(o.no())].fetch_max(next_k(own, o.no().0), Ordering::Relaxed);
            }
            for h in s.holds() {
                let no = h.no();
                hold_k[own.hold(no)].fetch_max(next_k(own, no.0), Ordering::Relaxed);
                holds += 1;
                // A conversion can be durable before the order that made
                // it (another shard's batch): its number is never reused.
                if let Some(order) = h.order() {
                    order_k[own.order(order)].fetch_max(next_k(own, order.0), Ordering::Relaxed);
                }
            }
        }
        Numbering {
            own,
            router,
            infos,
            order_k,
            hold_k,
            holds: AtomicU64::new(holds),
        }
    }

    /// The shard a new order lives on: that of its first-choice facility
    /// by the router's score (stock aside), from the published boards.
    pub(crate) fn home_shard(
        &self,
        req: &PlaceRequest,
        view: &PublishedView,
        now: Millis,
    ) -> ShardIdx {
        if self.own.shards() == 1 {
            return 0;
        }
        let mut infos = self.infos.clone();
        match first_choice(&self.router, &mut infos, req, now, |f| view.board(f)) {
            Some(f) => self.own.facility(f),
            None => {
                (self.holds.fetch_add(1, Ordering::Relaxed) % self.own.shards() as u64) as usize
            }
        }
    }

    /// The next order number on `shard`.
    pub(crate) fn order_no(&self, shard: ShardIdx) -> OrderNo {
        let k = self.order_k[shard].fetch_add(1, Ordering::Relaxed);
        self.own.order_no(shard, k)
    }

    /// The next hold number (shards taken in turn).
    pub(crate) fn hold_no(&self) -> HoldNo {
        let shard =
            (self.holds.fetch_add(1, Ordering::Relaxed) % self.own.shards() as u64) as usize;
        let k = self.hold_k[shard].fetch_add(1, Ordering::Relaxed);
        HoldNo(self.own.order_no(shard, k).0)
    }
}
