//! Who waits for which request: one oneshot sender per admitted request,
//! keyed by its [`RequestId`], and the count of requests in flight per
//! shard (admitted, not yet answered). A reply may be made by any shard
//! (a receipt is offered to the SKU's desk and answered by the cell), so
//! the table is shared; the count is kept against the shard the request
//! was offered to and bounds what a shard has admitted.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use dashmap::DashMap;
use orch_actors::order::OrderState;
use orch_actors::OrderNo;
use orch_engine::ownership::ShardIdx;
use orch_engine::{Answer, Overloaded, RequestId};
use tokio::sync::oneshot;

/// The journal could not make a request's changes durable, or the host
/// stopped: nothing is acknowledged (the caller may retry; every write is
/// idempotent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unavailable {}

/// What a caller finally receives for a request.
pub type Answered = Result<Answer, Unavailable>;

/// The caller's end of a request: resolves once the answer is durable.
/// A dropped sender (the host stopped) reads as unavailable.
pub type Pending = oneshot::Receiver<Answered>;

#[derive(Debug)]
struct Waiter {
    shard: ShardIdx,
    tx: oneshot::Sender<Answered>,
}

/// The table of waiting callers; see the module doc.
#[derive(Debug)]
pub(crate) struct Waiters {
    map: DashMap<RequestId, Waiter>,
    /// Orders as their placement left them, for the caller to take with
    /// its answer (saves it a read of the shard).
    placed: DashMap<OrderNo, Box<OrderState>>,
    in_flight: Vec<AtomicUsize>,
    in_flight_max: usize,
    next: AtomicU64,
}

impl Waiters {
    pub(crate) fn new(shards: usize, in_flight_max: usize) -> Waiters {
        Waiters {
            map: DashMap::new(),
            placed: DashMap::new(),
            in_flight: (0..shards).map(|_| AtomicUsize::new(0)).collect(),
            in_flight_max,
            next: AtomicU64::new(1),
        }
    }

    /// Takes a slot on `shard` and registers a waiter: `Overloaded` when
    /// the shard has as many requests in flight as it may.
    pub(crate) fn admit(&self, shard: ShardIdx) -> Result<(RequestId, Pending), Overloaded> {
        let count = &self.in_flight[shard];
        if count.fetch_add(1, Ordering::AcqRel) >= self.in_flight_max {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(Overloaded);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.map.insert(id, Waiter { shard, tx });
        Ok((id, rx))
    }

    /// The request was not handed to its shard after all: forget it.
    pub(crate) fn withdraw(&self, id: RequestId) {
        if let Some((_, w)) = self.map.remove(&id) {
            self.in_flight[w.shard].fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Hands the answer to its caller (a caller that gave up is skipped).
    pub(crate) fn answer(&self, id: RequestId, answer: Answered) {
        if let Some((_, w)) = self.map.remove(&id) {
            self.in_flight[w.shard].fetch_sub(1, Ordering::AcqRel);
            let _ = w.tx.send(answer);
        }
    }

    /// Hands a placement's answer to its caller with the order as placed
    /// (kept for [`Waiters::take_placed`]; nothing kept for a caller that
    /// gave up, nor beyond as many orders as may be in flight, so callers
    /// that never take them cost bounded memory).
    pub(crate) fn answer_placed(&self, id: RequestId, answer: Answered, order: Box<OrderState>) {
        if let Some((_, w)) = self.map.remove(&id) {
            self.in_flight[w.shard].fetch_sub(1, Ordering::AcqRel);
            let no = order.no();
            if self.placed.len() < self.in_flight_max.saturating_mul(self.in_flight.len()) {
                self.placed.insert(no, order);
            }
            if w.tx.send(answer).is_err() {
                self.placed.remove(&no);
            }
        }
    }

    /// The order as its placement left it, once (see [`Waiters::answer_placed`]).
    pub(crate) fn take_placed(&self, no: OrderNo) -> Option<Box<OrderState>> {
        self.placed.remove(&no).map(|(_, o)| o)
    }

    /// Requests admitted to `shard` and not yet answered.
    pub(crate) fn in_flight(&self, shard: ShardIdx) -> usize {
        self.in_flight[shard].load(Ordering::Acquire)
    }

    /// Every waiter gives up (the host stops): callers read unavailable.
    pub(crate) fn clear(&self) {
        self.map.clear();
        self.placed.clear();
        for c in &self.in_flight {
            c.store(0, Ordering::Release);
        }
    }
}
