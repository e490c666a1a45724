//! The journal's side of the events tail: the `on_durable` hook every
//! journal is opened with, and the bounded channel a tail attaches to
//! (`crate::events_out::tail`). Until one attaches the hook hands nothing
//! over; once attached, a full channel makes the writer wait, so no
//! durable record is ever dropped on its way to the feed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Receiver, Sender};
use orch_journal::{DurableHook, DurableRecords};

/// Capacity of the channel from the journal writer to the tail, in
/// batches (one journal group commit each). Full: the writer waits.
pub const INTAKE_BATCHES: usize = 1024;

/// The journal's side of the channel to the tail: the hook to install in
/// `JournalOptions::on_durable`, and the receiver a tail attaches to.
#[derive(Clone)]
pub struct Intake {
    tx: Arc<OnceLock<Sender<DurableRecords>>>,
}

impl Default for Intake {
    fn default() -> Self {
        Intake::new()
    }
}

impl Intake {
    /// A new, unattached intake.
    pub fn new() -> Intake {
        Intake {
            tx: Arc::new(OnceLock::new()),
        }
    }

    /// The journal hook: sends each durable batch to the attached tail
    /// (blocking while its channel is full); nothing before [`attach`].
    ///
    /// [`attach`]: Intake::attach
    pub fn hook(&self) -> DurableHook {
        let tx = self.tx.clone();
        DurableHook(Arc::new(move |records| {
            if let Some(tx) = tx.get() {
                // Err: the tail has stopped (shutdown); nothing to tell.
                let _ = tx.send(records);
            }
        }))
    }

    /// Whether a tail receives batches (mode `none` encodes entries only then).
    pub fn attached(&self) -> bool {
        self.tx.get().is_some()
    }

    /// Attaches a tail: answers the receiving end (once; `None` after).
    pub fn attach(&self) -> Option<Receiver<DurableRecords>> {
        let (tx, rx) = crossbeam_channel::bounded(INTAKE_BATCHES);
        self.tx.set(tx).ok()?;
        Some(rx)
    }
}

/// The order journal's sequence number the event store covers: the
/// checkpoint thread snapshots no further. `u64::MAX` without a store.
#[derive(Debug, Clone)]
pub struct Covered(Arc<AtomicU64>);

impl Default for Covered {
    fn default() -> Self {
        Covered(Arc::new(AtomicU64::new(u64::MAX)))
    }
}

impl Covered {
    /// How far the store covers.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// The store covers up to `seq` now.
    pub fn set(&self, seq: u64) {
        self.0.store(seq, Ordering::Release);
    }
}
