//! Durability: the journal behind the actors, and recovery from it.
//!
//! Every actor hands its journal entries to [`Durability::log`] at the moment
//! it applies them (see `orch_actors::log` for which actor journals what);
//! the journal's single writer keeps them in that order and group-commits
//! them. An answer to a caller is sent only after a [`Durability::barrier`]
//! appended after the operation's last entry is durable in the configured
//! mode. A journal that cannot write keeps its batch and retries in order
//! (nothing later may reach the disk first); meanwhile writes are refused
//! with 503 and barriers time out.
//!
//! Only this module (with `snapshot`) touches the data directory.

pub mod checkpoint;
pub mod codec;
pub mod durable;
pub mod intake;
pub mod recovery;
pub mod sled_conf;
pub mod snapshot;
pub mod webhooks;

use std::path::PathBuf;
use std::time::Duration;

use orch_actors::log::LogEntry;
use orch_config::{DurabilityConfig, DurabilityMode};
use orch_journal::{Journal, JournalOptions, JournalStats, Mode};

use crate::error::ApiError;

/// Longest a caller waits for its changes to become durable before it is
/// answered "unavailable" (the change may still become durable later; every
/// write is idempotent, so the caller retries).
pub const BARRIER_WAIT_MAX: Duration = Duration::from_secs(10);

/// The journal as the actors see it.
pub struct Durability {
    mode: DurabilityMode,
    dir: PathBuf,
    journal: Journal,
    /// Where the journal hands durable records to the events tail.
    events: intake::Intake,
    /// How far the event store covers the journal (snapshots stop there).
    covered: intake::Covered,
}

impl Durability {
    /// Opens (or creates) the journal under `cfg.data_dir/journal`; in mode
    /// `none` nothing touches the disk.
    pub fn open(cfg: &DurabilityConfig) -> Result<(Durability, orch_journal::Recovery), String> {
        let dir = PathBuf::from(&cfg.data_dir).join("journal");
        let mode = match cfg.mode {
            DurabilityMode::Fsync => Mode::Fsync,
            DurabilityMode::Os => Mode::Os,
            DurabilityMode::None => Mode::None,
        };
        let opts = JournalOptions {
            mode,
            batch_bytes_max: cfg.batch_bytes_max as usize,
            batch_wait_us_max: cfg.batch_wait_us_max,
            segment_bytes_max: cfg.segment_bytes_max,
            fault: None,
            retry_failed_batches: true,
            on_batch: Some(orch_journal::BatchHook(std::sync::Arc::new(
                crate::metrics::journal_batch,
            ))),
            durable_log: durable::durable_log()?,
            on_durable: None,
        };
        Self::open_with(cfg.mode, dir, opts)
    }

    /// Opens with explicit journal options (tests inject faults here). The
    /// events hook is installed here (`opts.on_durable` is replaced).
    pub fn open_with(
        mode: DurabilityMode,
        dir: PathBuf,
        mut opts: JournalOptions,
    ) -> Result<(Durability, orch_journal::Recovery), String> {
        let events = intake::Intake::new();
        opts.on_durable = Some(events.hook());
        if mode != DurabilityMode::None {
            std::fs::create_dir_all(&dir).map_err(|e| {
                format!(
                    "{}: cannot create the journal directory: {e}",
                    dir.display()
                )
            })?;
        }
        let (journal, recovery) = Journal::open(&dir, opts).map_err(|e| e.to_string())?;
        Ok((
            Durability {
                mode,
                dir,
                journal,
                events,
                covered: intake::Covered::default(),
            },
            recovery,
        ))
    }

    /// The configured mode.
    pub fn mode(&self) -> DurabilityMode {
        self.mode
    }

    /// The journal directory.
    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// How far the event store has the events of this journal's records:
    /// a snapshot never covers more (its records would be deleted before
    /// their events are on disk). `u64::MAX` until a store says otherwise.
    pub fn events_covered(&self) -> &intake::Covered {
        &self.covered
    }

    /// Where the events tail attaches to the journal's durable records.
    pub fn events_intake(&self) -> &intake::Intake {
        &self.events
    }

    /// Hands entries to the journal, in the order of the calls. Never
    /// blocks unless the journal's queue is full (back-pressure).
    /// In mode `none` entries are encoded only while an events tail is
    /// attached (the journal hands them to it at append).
    pub fn log(&self, entries: &[LogEntry]) {
        if entries.is_empty() || (self.mode == DurabilityMode::None && !self.events.attached()) {
            return;
        }
        drop(self.journal.append(codec::encode(entries)));
    }

    /// Appends one tick's entries as one journal batch (one record; none
    /// when `entries` is empty, which makes the ticket a barrier behind
    /// everything appended before). The ticket resolves once the batch is
    /// durable in the configured mode (at once in mode `none`). Blocks
    /// only when the journal's queue is full (back-pressure).
    pub fn append_tick(&self, entries: &[LogEntry]) -> orch_journal::Ticket {
        let payloads = if entries.is_empty() {
            Vec::new()
        } else {
            vec![codec::encode(entries)]
        };
        self.journal.append_batch(payloads)
    }

    /// Refuses new changes while the journal cannot write.
    pub fn check_writable(&self) -> Result<(), ApiError> {
        if self.mode == DurabilityMode::None {
            return Ok(());
        }
        let s = self.journal.stats();
        if s.healthy {
            Ok(())
        } else {
            Err(ApiError::unavailable(format!(
                "the journal cannot write ({}); no change is accepted until it can",
                s.last_error.unwrap_or_else(|| "unknown error".into())
            )))
        }
    }

    /// Resolves once everything logged before the call is durable.
    pub async fn barrier(&self) -> Result<(), ApiError> {
        if self.mode == DurabilityMode::None {
            return Ok(());
        }
        let ticket = self.journal.append(Vec::new());
        match tokio::time::timeout(BARRIER_WAIT_MAX, ticket).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ApiError::unavailable(format!(
                "the journal could not write: {e}"
            ))),
            Err(_) => Err(ApiError::unavailable(format!(
                "the change is not durable yet after {}s: {}",
                BARRIER_WAIT_MAX.as_secs(),
                self.journal
                    .stats()
                    .last_error
                    .unwrap_or_else(|| "journal busy".into())
            ))),
        }
    }

    /// The journal's counters.
    pub fn stats(&self) -> JournalStats {
        self.journal.stats()
    }

    /// Deletes journal segments whose records all come before `seq`.
    pub fn delete_before(&self, seq: u64) -> Result<usize, String> {
        if self.mode == DurabilityMode::None {
            return Ok(0);
        }
        self.journal
            .delete_segments_before(seq)
            .map_err(|e| e.to_string())
    }
}
