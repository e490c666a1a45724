//! Passivation on the host: after each snapshot the checkpoint thread
//! names the finished, idle orders the snapshot holds; each shard lets go
//! of those still unchanged ([`orch_engine::Shard::passivate`]). A message
//! for a passive order makes its shard ask for it (`TickOutput::wake`);
//! the waker thread reads it from the snapshot store and delivers it back
//! as `Msg::Woken`, so no shard ever reads the disk. Reads of a passive
//! order are answered from the store directly.

use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use orch_actors::order::OrderState;
use orch_actors::OrderNo;
use orch_engine::ownership::ShardIdx;
use orch_engine::{ActorRef, Envelope, Msg};

use super::shard_loop::Peer;
use crate::persist::snapshot::SnapshotStore;

/// How long a passivation request waits for a shard's count.
const ANSWER_MAX: Duration = Duration::from_secs(5);

/// The store passive orders are read back from, and the waker's queue;
/// both empty until [`super::Host::serve_passive`] (and after shutdown).
#[derive(Default)]
pub(crate) struct Passivation {
    store: Mutex<Option<SnapshotStore>>,
    wake_tx: Mutex<Option<Sender<(ShardIdx, OrderNo)>>>,
}

impl Passivation {
    /// Starts the waker thread over `store`; it delivers to `peers`.
    pub(crate) fn serve(
        &self,
        store: SnapshotStore,
        peers: Vec<Sender<Peer>>,
    ) -> Result<(), String> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let reader = store.clone();
        std::thread::Builder::new()
            .name("orch-waker".into())
            .spawn(move || wake_loop(rx, reader, peers))
            .map_err(|e| format!("cannot start the waker thread: {e}"))?;
        *self.store.lock().unwrap_or_else(|p| p.into_inner()) = Some(store);
        *self.wake_tx.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        Ok(())
    }

    /// Whether passive orders can be read back (a store is served).
    pub(crate) fn serving(&self) -> bool {
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Asks the waker for order `no` of `shard`; without one, the shard is
    /// answered at once with no state (what waited is refused, counted as
    /// an anomaly: nothing passivates without a store).
    pub(crate) fn wake(&self, shard: ShardIdx, no: OrderNo, own: &Sender<Peer>) {
        let tx = self
            .wake_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let sent = tx.is_some_and(|tx| tx.send((shard, no)).is_ok());
        if !sent {
            let _ = own.send(Peer::Batch(vec![woken(no, None)]));
        }
    }

    /// A passive order's state as the store holds it.
    pub(crate) fn read(&self, no: OrderNo) -> Result<Option<OrderState>, String> {
        let store = self.store.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match store {
            Some(s) => s.order(no),
            None => Err("no snapshot store is served".into()),
        }
    }

    /// Stops the waker (it drops its store) and lets go of the store.
    pub(crate) fn stop(&self) {
        self.wake_tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.store.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Asks each shard to let go of its `idle` orders; answers how many left
/// memory in all.
pub(crate) fn passivate(
    own: orch_engine::Ownership,
    peers: &[Sender<Peer>],
    idle: &[(OrderNo, usize)],
) -> usize {
    ask_owners(peers, idle, |&(no, _)| own.order(no), Peer::Passivate)
        .into_iter()
        .sum()
}

/// Asks each shard to forget its `old` orders; answers those forgotten.
pub(crate) fn forget(
    own: orch_engine::Ownership,
    peers: &[Sender<Peer>],
    old: &[(OrderNo, usize)],
) -> Vec<OrderNo> {
    ask_owners(peers, old, |&(no, _)| own.order(no), Peer::Forget)
        .into_iter()
        .flatten()
        .collect()
}

/// Sends each shard its part of `items` (by `owner`) in the message `ask`
/// builds, and collects the answers (a shard that does not answer within
/// [`ANSWER_MAX`] is left out).
fn ask_owners<I: Clone, T>(
    peers: &[Sender<Peer>],
    items: &[I],
    owner: impl Fn(&I) -> ShardIdx,
    ask: impl Fn(Vec<I>, Sender<T>) -> Peer,
) -> Vec<T> {
    let mut by_shard: Vec<Vec<I>> = vec![Vec::new(); peers.len()];
    for item in items {
        by_shard[owner(item)].push(item.clone());
    }
    let mut answers = Vec::new();
    for (shard, list) in by_shard.into_iter().enumerate() {
        if list.is_empty() {
            continue;
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        if peers[shard].send(ask(list, tx)).is_ok() {
            answers.push(rx);
        }
    }
    answers
        .into_iter()
        .filter_map(|rx| rx.recv_timeout(ANSWER_MAX).ok())
        .collect()
}

/// Asks each shard to forget its `old` ended holds; answers those
/// forgotten.
pub(crate) fn forget_holds(
    own: orch_engine::Ownership,
    peers: &[Sender<Peer>],
    old: &[orch_actors::hold::HoldNo],
) -> Vec<orch_actors::hold::HoldNo> {
    ask_owners(peers, old, |&no| own.hold(no), Peer::ForgetHolds)
        .into_iter()
        .flatten()
        .collect()
}

fn woken(no: OrderNo, state: Option<OrderState>) -> Envelope {
    Envelope {
        to: ActorRef::Order(no),
        msg: Msg::Woken {
            state: state.map(Box::new),
        },
    }
}

/// Reads each asked order from the store and hands it to its shard, until
/// the host stops (every sender gone).
fn wake_loop(rx: Receiver<(ShardIdx, OrderNo)>, store: SnapshotStore, peers: Vec<Sender<Peer>>) {
    while let Ok((shard, no)) = rx.recv() {
        let state = match store.order(no) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(order = no.0, error = %e, "a passive order could not be read back");
                None
            }
        };
        if let Some(tx) = peers.get(shard) {
            let _ = tx.send(Peer::Batch(vec![woken(no, state)]));
        }
    }
}
