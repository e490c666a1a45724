//! Releasing a tick's answers once its journal batch is durable.
//!
//! Each shard hands its ticks, in order, to its own releaser thread: the
//! tick's ticket, its replies, the answers of the reads run after it and
//! the waves its timers released. The releaser waits for each ticket in
//! turn (the journal acknowledges batches in the order they were
//! appended) and only then lets anything of that tick out. A failed
//! batch answers its replies unavailable and drops its reads and waves:
//! nothing unacknowledged is ever visible. Whatever else a tick must
//! publish once durable (events, later) rides in the same [`Release`].

use std::sync::Arc;

use crossbeam_channel::Receiver;
use orch_actors::facility::Wave;
use orch_engine::Reply;
use orch_journal::Ticket;

use super::waiters::{Unavailable, Waiters};

/// Runs a read's answer out to its caller (made on the shard thread,
/// called by the releaser once everything before the read is durable).
pub(crate) type ReadDone = Box<dyn FnOnce() + Send>;

/// Where the waves released by timers go once durable.
pub type WaveSink = Arc<dyn Fn(Wave) + Send + Sync>;

/// One tick's output waiting for durability.
pub(crate) struct Release {
    /// The tick's journal batch (a barrier when it had no entries).
    pub(crate) ticket: Ticket,
    /// Answers to requests from outside.
    pub(crate) replies: Vec<Reply>,
    /// Reads run after the tick.
    pub(crate) reads: Vec<ReadDone>,
    /// Waves released by the tick's timers.
    pub(crate) waves: Vec<Wave>,
    /// The orders the tick placed, as it left them, by the placement's
    /// request (handed over with the answer).
    pub(crate) placed: Vec<(orch_engine::RequestId, Box<orch_actors::order::OrderState>)>,
}

/// The releaser of one shard: runs until the shard loop drops its sender
/// and everything queued is released.
pub(crate) fn run(rx: Receiver<Release>, waiters: Arc<Waiters>, sink: Option<WaveSink>) {
    while let Ok(r) = rx.recv() {
        match r.ticket.wait() {
            Ok(_) => {
                let mut placed = r.placed;
                for reply in r.replies {
                    match placed.iter().position(|(id, _)| *id == reply.id) {
                        Some(i) => {
                            let (_, order) = placed.swap_remove(i);
                            waiters.answer_placed(reply.id, Ok(reply.answer), order);
                        }
                        None => waiters.answer(reply.id, Ok(reply.answer)),
                    }
                }
                for done in r.reads {
                    done();
                }
                if let Some(sink) = &sink {
                    for w in r.waves {
                        sink(w);
                    }
                }
            }
            Err(e) => {
                let why = Unavailable(format!("the journal could not write: {e}"));
                for reply in r.replies {
                    waiters.answer(reply.id, Err(why.clone()));
                }
            }
        }
    }
}
