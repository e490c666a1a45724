//! The loop that runs one shard on its thread (an actix arbiter's).
//!
//! Each turn: move what arrived into the shard (peer batches and view
//! updates from other shards, requests from outside while the inbox has
//! room), run one tick at the clock's `now`, append the tick's entries as
//! one journal batch, and only then send the outbound batches (so the
//! journal order stays causal: nothing a tick caused elsewhere can be
//! journaled before the tick), publish the view, run the reads that
//! waited, and hand the tick to the releaser. With nothing to do it
//! blocks on its channels until the next timer turn; it never spins, and
//! the shard itself never sees the clock except as `now`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, Receiver, Sender, TryRecvError};
use orch_engine::view::{View, ViewUpdate};
use orch_engine::Answer;
use orch_engine::{Envelope, Shard, TickOutput};

use super::clock::Clock;
use super::published::PublishedView;
use super::release::{ReadDone, Release};
use crate::persist::Durability;

/// A read of the shard's state, run between ticks on the shard thread;
/// what it returns is called once everything before it is durable.
pub(crate) type ReadJob = Box<dyn FnOnce(&Shard) -> ReadDone + Send>;

/// What comes from outside through the bounded channel.
pub(crate) enum Request {
    /// A message for an actor of this shard.
    Offer(Envelope),
    /// A read of the shard's state.
    Read(ReadJob),
}

/// What comes from the other shards (and the host) through the unbounded
/// channel: work already admitted.
pub(crate) enum Peer {
    /// One tick's messages for this shard's actors.
    Batch(Vec<Envelope>),
    /// What changed in another shard's cells and boards.
    View(Arc<ViewUpdate>),
    /// Let go of these finished, idle orders (order, timeline length as
    /// the snapshot holds it); answer how many left memory.
    Passivate(Vec<(orch_actors::OrderNo, usize)>, Sender<usize>),
    /// Forget these finished orders past retention (order, timeline length
    /// as the snapshot holds it); answer those forgotten.
    Forget(
        Vec<(orch_actors::OrderNo, usize)>,
        Sender<Vec<orch_actors::OrderNo>>,
    ),
    /// Forget these ended holds past retention; answer those forgotten.
    ForgetHolds(
        Vec<orch_actors::hold::HoldNo>,
        Sender<Vec<orch_actors::hold::HoldNo>>,
    ),
    /// Stop the loop.
    Stop,
}

/// Counters the loop keeps (read by the host's stats).
#[derive(Debug, Default)]
pub(crate) struct LoopCounters {
    pub(crate) ticks: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) taken: AtomicU64,
}

/// Everything one shard's loop owns.
pub(crate) struct ShardLoop {
    pub(crate) shard: Shard,
    /// This shard's replica of the other shards' published view.
    pub(crate) view: View,
    pub(crate) requests: Receiver<Request>,
    pub(crate) peers: Receiver<Peer>,
    pub(crate) peer_tx: Vec<Sender<Peer>>,
    pub(crate) durability: Arc<Durability>,
    pub(crate) releaser: Sender<Release>,
    pub(crate) published: Arc<PublishedView>,
    pub(crate) clock: Clock,
    pub(crate) idle: Duration,
    pub(crate) counters: Arc<LoopCounters>,
    /// Where passive orders are asked for.
    pub(crate) passive: Arc<super::passive::Passivation>,
}

impl ShardLoop {
    /// Runs until told to stop (or every sender is gone).
    pub(crate) fn run(mut self) {
        let mut reads: Vec<ReadJob> = Vec::new();
        let mut timers_due = Instant::now();
        loop {
            if !self.gather(&mut reads) {
                return;
            }
            let due = Instant::now() >= timers_due;
            if self.shard.backlog() == 0 && reads.is_empty() && !due {
                let wait = timers_due.saturating_duration_since(Instant::now());
                let alive = select! {
                    recv(self.peers) -> m => match m {
                        Ok(p) => self.peer(p),
                        Err(_) => false,
                    },
                    recv(self.requests) -> m => match m {
                        Ok(r) => { self.request(r, &mut reads); true }
                        Err(_) => false,
                    },
                    default(wait) => true,
                };
                if !alive {
                    return;
                }
                continue;
            }
            if due {
                timers_due = Instant::now() + self.idle;
            }
            let now = self.clock.now();
            let out = self.shard.tick_up_to(now, &self.view, usize::MAX);
            self.finish(out, &mut reads);
        }
    }

    /// Moves what has arrived into the shard without blocking; `false`
    /// when the loop must stop.
    fn gather(&mut self, reads: &mut Vec<ReadJob>) -> bool {
        loop {
            match self.peers.try_recv() {
                Ok(p) => {
                    if !self.peer(p) {
                        return false;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
        while self.shard.room() > 0 {
            match self.requests.try_recv() {
                Ok(r) => self.request(r, reads),
                Err(_) => break,
            }
        }
        true
    }

    fn peer(&mut self, p: Peer) -> bool {
        match p {
            Peer::Batch(b) => self.shard.deliver(b),
            Peer::View(u) => self.view.apply(&u),
            Peer::Passivate(idle, answer) => {
                let _ = answer.send(self.shard.passivate(&idle));
            }
            Peer::Forget(old, answer) => {
                let _ = answer.send(self.shard.forget(&old));
            }
            Peer::ForgetHolds(old, answer) => {
                let _ = answer.send(self.shard.forget_holds(&old));
            }
            Peer::Stop => return false,
        }
        true
    }

    fn request(&mut self, r: Request, reads: &mut Vec<ReadJob>) {
        match r {
            Request::Offer(env) => {
                // Taken only while the inbox has room, or (when blocked)
                // one at a time into an inbox the last tick emptied.
                if self.shard.offer(env).is_err() {
                    unreachable!("requests move into the inbox only while it has room");
                }
            }
            Request::Read(job) => reads.push(job),
        }
    }

    /// Ends a tick: append, then send, publish, read and release.
    fn finish(&mut self, out: TickOutput, reads: &mut Vec<ReadJob>) {
        let c = &self.counters;
        c.ticks.fetch_add(1, Ordering::Relaxed);
        c.taken.fetch_add(out.taken as u64, Ordering::Relaxed);
        c.entries
            .fetch_add(out.entries.len() as u64, Ordering::Relaxed);
        super::facts::publish(&out.facts);
        let me = self.shard.idx();
        for &no in &out.wake {
            self.passive.wake(me, no, &self.peer_tx[me]);
        }
        let release = !out.entries.is_empty()
            || !out.replies.is_empty()
            || !out.waves.is_empty()
            || !reads.is_empty();
        let ticket = release.then(|| self.durability.append_tick(&out.entries));
        for (to, batch) in out.outbound {
            // A peer that stopped takes nothing more; the host is stopping.
            let _ = self.peer_tx[to].send(Peer::Batch(batch));
        }
        if !out.view.is_empty() {
            let changed = self.published.apply(&out.view);
            if !changed.is_empty() && self.peer_tx.len() > 1 {
                let changed = Arc::new(changed);
                let me = self.shard.idx();
                for (to, tx) in self.peer_tx.iter().enumerate() {
                    if to != me {
                        let _ = tx.send(Peer::View(changed.clone()));
                    }
                }
            }
        }
        let reads: Vec<ReadDone> = reads.drain(..).map(|job| job(&self.shard)).collect();
        // A placement's caller gets the order as this tick left it with
        // its answer (durable with the same ticket), not by a read after.
        let placed = out
            .replies
            .iter()
            .filter_map(|r| match &r.answer {
                Answer::Placed(Ok(no)) => {
                    self.shard.order(*no).map(|o| (r.id, Box::new(o.clone())))
                }
                _ => None,
            })
            .collect();
        if let Some(ticket) = ticket {
            let _ = self.releaser.send(Release {
                ticket,
                replies: out.replies,
                reads,
                waves: out.waves,
                placed,
            });
        }
    }
}
