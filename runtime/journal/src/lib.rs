//! `orch-journal`: a generic, payload-agnostic write-ahead journal.
//!
//! # What it owns
//!
//! * The on-disk format: segment files `journal-{first_seq:020}.log` in one
//!   directory, each a run of checksummed, versioned records (see
//!   [`record`] for the byte layout and [`segment`] for the files).
//!   Sequence numbers start at 1 and grow by exactly 1 across segments.
//! * One writer thread that group-commits: it takes everything queued (up
//!   to [`JournalOptions::batch_bytes_max`], waiting at most
//!   [`JournalOptions::batch_wait_us_max`] for more), writes the batch
//!   with one write call, fdatasyncs once in [`Mode::Fsync`], and only then
//!   acknowledges every record of the batch ([`Ticket`], or a callback).
//! * Recovery at [`Journal::open`]: every record is verified; a torn or
//!   corrupt tail is cut (with a warning naming file and offset); corruption
//!   anywhere else is a startup error ([`JournalError::Corrupt`]), never a
//!   silent skip. [`read_from`] then replays records from a sequence number.
//! * Disk faults: a batch whose write or fdatasync fails is rejected as a
//!   whole (every ticket gets [`JournalError::Io`]), cut back off the
//!   segment, and reported through [`Journal::stats`]; the next batch tries
//!   again.
//! * Back-pressure: callers hand records to the writer through a bounded
//!   queue of [`QUEUE_CAPACITY`] messages; when it is full, appending
//!   blocks the calling thread until the writer catches up.
//! * Trimming: [`Journal::delete_segments_before`] drops whole segments
//!   that a checkpoint has made unnecessary.
//!
//! # What it never does
//!
//! It knows nothing of events, actors, snapshots or sled: payloads are
//! opaque `Vec<u8>` (the runtime encodes its events elsewhere), and
//! deciding which sequence numbers are still needed is the caller's job.
//! It never retries a failed record on its own and never acknowledges a
//! record before it is written in the configured [`Mode`] (except with the
//! test-only feature `bug-ack-before-fsync`, a deliberate bug that proves
//! the power-loss crash test catches it).
//!
//! # Power-loss tests
//!
//! With [`JournalOptions::durable_log`] set, every fdatasync of a segment
//! records the segment's durable length (see [`durable_log`]) before the
//! records it covers are acknowledged, so that a harness can cut the files
//! back to what a power cut would have kept.
//!
//! # Limits
//!
//! * Unix only (positioned writes, `fdatasync`).
//! * One journal per directory: nothing stops a second process from
//!   opening the same directory, so the caller must not.
//! * Segments are read whole into memory during recovery and replay.
//!
//! # Example
//!
//! ```
//! use orch_journal::{read_from, Journal, JournalOptions, Mode};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let opts = JournalOptions { mode: Mode::Fsync, ..JournalOptions::default() };
//! let (journal, recovery) = Journal::open(dir.path(), opts).unwrap();
//! assert_eq!(recovery.last_seq, 0);
//! let seq = journal.append(b"event".to_vec()).wait().unwrap();
//! assert_eq!(seq, 1);
//! journal.close().unwrap();
//! let records: Vec<_> = read_from(dir.path(), 1).unwrap().collect::<Result<_, _>>().unwrap();
//! assert_eq!(records, vec![(1, b"event".to_vec())]);
//! ```

#![warn(missing_docs)]

pub mod durable_log;
pub mod record;
pub mod segment;

mod reader;
mod ticket;
mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{SendError, Sender};
use tokio::sync::oneshot;

pub use durable_log::DurableLog;
pub use reader::{read_from, Reader};
pub use record::FORMAT_VERSION;
pub use ticket::Ticket;
pub use writer::{DoneCallback, QUEUE_CAPACITY};

use record::{encoded_len, MAX_PAYLOAD_LEN};
use segment::ActiveSegment;
use writer::{Done, Msg, Payloads, Shared, Writer, WriterConfig};

/// When an append counts as done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Write, then fdatasync, once per batch, before acknowledging.
    /// Survives a machine crash.
    Fsync,
    /// Write to the OS (page cache) and acknowledge; no fdatasync except on
    /// [`Journal::flush`] and at shutdown. Survives a process crash, not a
    /// machine crash (which may lose the tail, or rarely leave a hole that
    /// recovery reports as corrupt).
    Os,
    /// Nothing touches disk: appends are acknowledged at once on the
    /// calling thread, still with sequence numbers. For in-memory benchmarks.
    None,
}

impl Mode {
    /// `fsync`, `os` or `none` (the names used in config and reports).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Fsync => "fsync",
            Mode::Os => "os",
            Mode::None => "none",
        }
    }

    /// Parses `fsync`, `os` or `none`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "fsync" => Some(Mode::Fsync),
            "os" => Some(Mode::Os),
            "none" => Some(Mode::None),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fault injection for tests: while set, the writer's disk operations
/// fail with an ENOSPC-like error, exactly as a full disk would make them
/// fail. Always compiled (an atomic load per batch); production code
/// leaves [`JournalOptions::fault`] at `None`.
#[derive(Debug, Clone, Default)]
pub struct FaultInjector {
    flags: Arc<FaultFlags>,
}

#[derive(Debug, Default)]
struct FaultFlags {
    writes: AtomicBool,
    truncates: AtomicBool,
}

impl FaultInjector {
    /// A new injector with no fault set.
    pub fn new() -> FaultInjector {
        FaultInjector::default()
    }

    /// While `true`, every batch write (and fdatasync) fails; a write first
    /// puts half of the batch on disk, like a disk filling up mid-write.
    pub fn fail_writes(&self, on: bool) {
        self.flags.writes.store(on, Ordering::SeqCst);
    }

    /// While `true`, cutting a failed write off the segment fails too, so
    /// the writer has to fall back to starting a new segment.
    pub fn fail_truncates(&self, on: bool) {
        self.flags.truncates.store(on, Ordering::SeqCst);
    }

    pub(crate) fn writes_failing(&self) -> bool {
        self.flags.writes.load(Ordering::SeqCst)
    }

    pub(crate) fn truncates_failing(&self) -> bool {
        self.flags.truncates.load(Ordering::SeqCst)
    }

    pub(crate) fn error() -> io::Error {
        io::Error::new(
            io::ErrorKind::StorageFull,
            "no space left on device (injected fault)",
        )
    }
}

/// Journal settings.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// When an append counts as done.
    pub mode: Mode,
    /// Most encoded bytes in one group-commit batch (one write call);
    /// capped at `segment_bytes_max`. A single `append_batch` larger than
    /// this still goes in one batch.
    pub batch_bytes_max: usize,
    /// Longest the writer waits for more records after the first one of a
    /// batch, in microseconds (0: take only what is already queued).
    pub batch_wait_us_max: u64,
    /// A segment is closed and a new one started when the next batch would
    /// take it past this many bytes (a single batch larger than this gets a
    /// segment of its own).
    pub segment_bytes_max: u64,
    /// Test hook: see [`FaultInjector`]. `None` in production.
    pub fault: Option<FaultInjector>,
    /// When a batch cannot be written, keep it and retry (with backoff)
    /// until it can, instead of failing its tickets: nothing later is
    /// written before it, so the disk never misses an event that memory
    /// has. Tickets stay pending meanwhile (callers time out and answer
    /// "unavailable"); `stats().healthy` is false. The runtime sets this.
    pub retry_failed_batches: bool,
    /// Called on the writer thread after every batch that wrote records,
    /// with its write+sync time and record count (metrics). Must be cheap.
    pub on_batch: Option<BatchHook>,
    /// Test instrumentation (power-loss tests): after every fdatasync of a
    /// segment, and before the records it covers are acknowledged, its
    /// durable length is recorded here. `None` in production.
    pub durable_log: Option<Arc<DurableLog>>,
    /// Called with every batch's non-empty records once they are durable
    /// in the configured [`Mode`] (see [`DurableHook`]).
    pub on_durable: Option<DurableHook>,
}

/// A callback for the records of each batch once durable: `(seq, payload)`
/// in sequence order, empty payloads (barriers) left out.
///
/// Runs on the writer thread after the write (and fdatasync in
/// [`Mode::Fsync`]) and before the batch's tickets are completed, so a
/// record reaches it exactly when it is acknowledged, never earlier. It may
/// block (a bounded channel that is full): that holds the writer back,
/// which is the journal's ordinary back-pressure. In [`Mode::None`] it runs
/// on the appending thread at once; appends from different threads may
/// then reach it out of sequence order (one thread's appends stay in order).
#[derive(Clone)]
pub struct DurableHook(pub Arc<dyn Fn(DurableRecords) + Send + Sync>);

/// Records handed to a [`DurableHook`]: `(seq, payload)`, in order.
pub type DurableRecords = Vec<(u64, Vec<u8>)>;

impl std::fmt::Debug for DurableHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DurableHook")
    }
}

/// A callback for each written batch: (write + sync time, records).
#[derive(Clone)]
pub struct BatchHook(pub Arc<dyn Fn(Duration, usize) + Send + Sync>);

impl std::fmt::Debug for BatchHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BatchHook")
    }
}

impl Default for JournalOptions {
    /// fsync, 1 MiB batches, no batch wait, 64 MiB segments, no fault.
    ///
    /// The batch wait defaults to 0 because group commit happens anyway:
    /// whatever arrives while a batch is being written and fdatasynced
    /// forms the next batch. A wait only adds latency when the callers are
    /// all blocked on the batch in progress (measured on the 2-core dev VM
    /// with one synchronous caller: ~7,000 appends/s at 0 µs, ~2,500 at
    /// 100 µs); raise it to trade latency for fewer fsyncs under sparse load.
    fn default() -> JournalOptions {
        JournalOptions {
            mode: Mode::Fsync,
            batch_bytes_max: 1 << 20,
            batch_wait_us_max: 0,
            segment_bytes_max: 64 << 20,
            fault: None,
            retry_failed_batches: false,
            on_batch: None,
            durable_log: None,
            on_durable: None,
        }
    }
}

/// Everything that can go wrong. Cloneable: a failed batch hands the same
/// error to every ticket in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// A file-system operation failed.
    #[error("journal I/O error: {op} {}: {message}", path.display())]
    Io {
        /// What was being done (`write`, `fdatasync`, `create segment`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The kind of the underlying `io::Error`.
        kind: io::ErrorKind,
        /// The underlying error's text.
        message: String,
    },
    /// The journal on disk is damaged somewhere other than its tail.
    #[error("corrupt journal: {} at offset {offset}: {reason}", file.display())]
    Corrupt {
        /// The segment file.
        file: PathBuf,
        /// Byte offset of the bad record within it.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// [`read_from`] was asked for records whose segments were deleted.
    #[error("journal records from seq {from_seq} were deleted; the first one left is seq {first_available}")]
    Missing {
        /// The seq asked for.
        from_seq: u64,
        /// The first seq still in the directory.
        first_available: u64,
    },
    /// A payload exceeds [`record::MAX_PAYLOAD_LEN`]; nothing was appended.
    #[error("journal payload of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The journal was closed (or its writer thread is gone).
    #[error("the journal is closed")]
    Closed,
}

impl JournalError {
    pub(crate) fn io(op: &'static str, path: &Path, e: &io::Error) -> JournalError {
        JournalError::Io {
            op,
            path: path.to_path_buf(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// What [`Journal::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// The journal's mode.
    pub mode: Mode,
    /// The format version this build writes and reads.
    pub format_version: u8,
    /// Sequence number of the last good record (0 if none). Appends
    /// continue at `last_seq + 1`.
    pub last_seq: u64,
    /// Good records verified.
    pub records_scanned: u64,
    /// Segment files found.
    pub segments: usize,
    /// The last segment's torn or corrupt tail, if one was cut: the file
    /// and the offset it was truncated to.
    pub truncated: Option<(PathBuf, u64)>,
    /// Debris of failed writes cut from the ends of earlier segments (see
    /// [`Journal::open`]): file and offset truncated to.
    pub residues_cut: Vec<(PathBuf, u64)>,
}

/// A snapshot of the journal's counters (cheap: atomic loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalStats {
    /// The journal's mode.
    pub mode: Mode,
    /// The format version written.
    pub format_version: u8,
    /// Records acknowledged since open.
    pub records: u64,
    /// Encoded bytes acknowledged since open (written to disk, except in
    /// [`Mode::None`]).
    pub bytes: u64,
    /// Batches written since open (0 in [`Mode::None`]).
    pub batches: u64,
    /// fdatasync calls that succeeded since open.
    pub fsyncs: u64,
    /// Highest sequence number acknowledged (including recovered ones).
    pub last_seq: u64,
    /// Highest sequence number known to be fdatasynced: equal to
    /// `last_seq` in [`Mode::Fsync`], advanced only by [`Journal::flush`]
    /// in [`Mode::Os`], 0 in [`Mode::None`].
    pub durable_seq: u64,
    /// Encoded bytes queued to the writer and not yet completed.
    pub pending_bytes: u64,
    /// False from a failed batch until a batch succeeds again.
    pub healthy: bool,
    /// The text of the most recent failure, if any (kept after recovery).
    pub last_error: Option<String>,
    /// Total time spent writing and fdatasyncing batches, in nanoseconds.
    pub commit_ns_total: u64,
    /// `first_seq` of the segment being written (0 in [`Mode::None`]).
    pub active_segment_first_seq: u64,
}

/// The journal: a handle callers share (put it in an `Arc`) to append from
/// any thread or task. Dropping it (or [`Journal::close`]) drains the queue
/// and stops the writer thread.
pub struct Journal {
    dir: PathBuf,
    mode: Mode,
    tx: Option<Sender<Msg>>,
    writer: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// Last sequence number handed out, in [`Mode::None`].
    none_seq: AtomicU64,
    /// [`JournalOptions::on_durable`], called at append in [`Mode::None`].
    none_hook: Option<DurableHook>,
}

impl fmt::Debug for Journal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`, recovers it, and
    /// starts the writer thread.
    ///
    /// Recovery verifies every record of every segment in order:
    ///
    /// * a torn or corrupt tail of the last segment (the last record
    ///   incomplete or failing its checksum, or garbage after the last good
    ///   record, with no valid record after it) is cut: the file is truncated
    ///   to the last good record, a `tracing::warn!` names the file and
    ///   offset, and [`Recovery::truncated`] says so;
    /// * in an earlier segment, whatever follows the record just before the
    ///   next segment's first sequence number is cut (warning,
    ///   [`Recovery::residues_cut`]): the writer starts a segment at `S` only
    ///   when every acknowledged record is below `S`, so that is the debris
    ///   of a failed batch it could not truncate (see "Disk faults" below);
    /// * anything else — a bad record followed by good ones, a bad record in
    ///   an earlier segment, a sequence gap, a record of another format
    ///   version — fails with [`JournalError::Corrupt`] naming the file and
    ///   offset, and nothing is modified.
    ///
    /// Records of a batch that was being written when the process or machine
    /// died may survive (complete records before the torn one): they were
    /// never acknowledged, and are kept like any complete record.
    ///
    /// # Disk faults
    ///
    /// When a batch's write or fdatasync fails, every ticket of the batch
    /// gets [`JournalError::Io`], `stats().healthy` turns false and a
    /// `tracing::error!` says why. The writer cuts the segment back to its
    /// last acknowledged record; if even that fails it continues in a new
    /// segment (named after the next sequence number), and if that fails
    /// too it writes nothing until one of the two succeeds. Sequence numbers
    /// of a failed batch are given to the next one. The next batch simply
    /// tries again; when it succeeds, `healthy` turns true.
    ///
    /// In [`Mode::None`] the directory is not touched at all (not even
    /// read): sequence numbers start at 1 and no thread is started.
    pub fn open(dir: &Path, opts: JournalOptions) -> Result<(Journal, Recovery), JournalError> {
        let mut journal = Journal {
            dir: dir.to_path_buf(),
            mode: opts.mode,
            tx: None,
            writer: None,
            shared: Arc::new(Shared::default()),
            none_seq: AtomicU64::new(0),
            none_hook: opts.on_durable.clone(),
        };
        let mut recovery = Recovery {
            mode: opts.mode,
            format_version: FORMAT_VERSION,
            last_seq: 0,
            records_scanned: 0,
            segments: 0,
            truncated: None,
            residues_cut: Vec::new(),
        };
        if opts.mode == Mode::None {
            return Ok((journal, recovery));
        }

        if !dir.is_dir() {
            std::fs::create_dir_all(dir)
                .map_err(|e| JournalError::io("create directory", dir, &e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                segment::sync_dir(parent)
                    .map_err(|e| JournalError::io("fsync directory", parent, &e))?;
            }
        }
        let found = reader::recover(dir)?;
        let segment = match found.last {
            Some((info, len)) => ActiveSegment::open(info.path.clone(), info.first_seq, len)
                .map_err(|e| JournalError::io("open segment", &info.path, &e))?,
            None => {
                let seg = ActiveSegment::create(dir, found.last_seq + 1).map_err(|e| {
                    JournalError::io(
                        "create segment",
                        &dir.join(segment::segment_file_name(found.last_seq + 1)),
                        &e,
                    )
                })?;
                segment::sync_dir(dir).map_err(|e| JournalError::io("fsync directory", dir, &e))?;
                seg
            }
        };
        if opts.mode == Mode::Fsync {
            // Records a killed process wrote but never fdatasynced may still
            // sit in the page cache: they are replayed and built upon, so
            // they are made durable before anything else happens.
            segment
                .sync_data()
                .map_err(|e| JournalError::io("fdatasync", &segment.path, &e))?;
            if let Some(log) = &opts.durable_log {
                log.record(&segment.path, segment.len);
            }
        }
        recovery.last_seq = found.last_seq;
        recovery.records_scanned = found.records_scanned;
        recovery.segments = found.segments;
        recovery.truncated = found.truncated;
        recovery.residues_cut = found.residues_cut;

        journal
            .shared
            .last_seq
            .store(found.last_seq, Ordering::Release);
        journal
            .shared
            .durable_seq
            .store(found.last_seq, Ordering::Release);
        let (tx, rx) = crossbeam_channel::bounded(QUEUE_CAPACITY);
        let cfg = WriterConfig {
            dir: dir.to_path_buf(),
            mode: opts.mode,
            // A batch never needs more than a segment (so segments stay
            // within their limit unless one message alone is larger).
            batch_bytes_max: opts
                .batch_bytes_max
                .min(usize::try_from(opts.segment_bytes_max).unwrap_or(usize::MAX))
                .max(1),
            batch_wait: Duration::from_micros(opts.batch_wait_us_max),
            segment_bytes_max: opts.segment_bytes_max.max(1),
            fault: opts.fault,
            retry: opts.retry_failed_batches,
            on_batch: opts.on_batch,
            durable_log: opts.durable_log,
            on_durable: opts.on_durable,
        };
        let writer = Writer::new(cfg, rx, journal.shared.clone(), segment, found.last_seq + 1);
        let handle = std::thread::Builder::new()
            .name("orch-journal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| JournalError::io("spawn writer thread", dir, &e))?;
        journal.tx = Some(tx);
        journal.writer = Some(handle);
        tracing::info!(dir = %dir.display(), mode = %opts.mode, last_seq = found.last_seq,
            records = found.records_scanned, segments = found.segments, "journal opened");
        Ok((journal, recovery))
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The journal's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Hands `msg` to the writer, or completes it with
    /// [`JournalError::Closed`] if the writer is gone.
    fn send(&self, msg: Msg, bytes: usize) {
        self.shared
            .pending_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
        let Some(tx) = &self.tx else {
            unreachable!("the sender lives as long as the journal");
        };
        if let Err(SendError(msg)) = tx.send(msg) {
            self.shared
                .pending_bytes
                .fetch_sub(bytes as u64, Ordering::Relaxed);
            match msg {
                Msg::Append { done, .. } | Msg::Flush { done } => {
                    done.complete(Err(JournalError::Closed))
                }
            }
        }
    }

    fn none_assign(&self, records: u64, bytes: usize) -> u64 {
        self.shared.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        self.none_seq.fetch_add(records, Ordering::AcqRel) + records
    }

    /// Mode none: numbers `payloads` and hands them to the durable hook.
    fn none_append(&self, payloads: Vec<Vec<u8>>, bytes: usize) -> u64 {
        let last = self.none_assign(payloads.len() as u64, bytes);
        if let Some(hook) = &self.none_hook {
            let first = last + 1 - payloads.len() as u64;
            let records: Vec<(u64, Vec<u8>)> = (first..)
                .zip(payloads)
                .filter(|(_, p)| !p.is_empty())
                .collect();
            if !records.is_empty() {
                (hook.0)(records);
            }
        }
        last
    }

    fn too_large(len: usize) -> JournalError {
        JournalError::TooLarge {
            len,
            max: MAX_PAYLOAD_LEN,
        }
    }

    /// Appends one record. The [`Ticket`] resolves to its sequence number
    /// once it is durable in the configured [`Mode`].
    ///
    /// Does not block, except when the writer's queue ([`QUEUE_CAPACITY`]
    /// messages) is full: then the calling thread waits for room.
    pub fn append(&self, payload: Vec<u8>) -> Ticket {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Ticket::ready(Err(Self::too_large(payload.len())));
        }
        let bytes = encoded_len(payload.len());
        if self.mode == Mode::None {
            return Ticket::ready(Ok(self.none_append(vec![payload], bytes)));
        }
        let (tx, rx) = oneshot::channel();
        let msg = Msg::Append {
            payloads: Payloads::One(payload),
            bytes,
            done: Done::Ticket(tx),
        };
        self.send(msg, bytes);
        Ticket::pending(rx)
    }

    /// Appends several records with consecutive sequence numbers, in one
    /// batch. The ticket resolves to the LAST sequence number once all are
    /// durable; on failure none of them is written. An empty batch
    /// resolves to the last sequence number acknowledged before it.
    pub fn append_batch(&self, payloads: Vec<Vec<u8>>) -> Ticket {
        if let Some(p) = payloads.iter().find(|p| p.len() > MAX_PAYLOAD_LEN) {
            return Ticket::ready(Err(Self::too_large(p.len())));
        }
        let bytes: usize = payloads.iter().map(|p| encoded_len(p.len())).sum();
        if self.mode == Mode::None {
            return Ticket::ready(Ok(self.none_append(payloads, bytes)));
        }
        let (tx, rx) = oneshot::channel();
        let msg = Msg::Append {
            payloads: Payloads::Many(payloads),
            bytes,
            done: Done::Ticket(tx),
        };
        self.send(msg, bytes);
        Ticket::pending(rx)
    }

    /// Appends one record and calls `done` with its sequence number (or
    /// the error) once it is durable.
    ///
    /// `done` runs on the writer thread, between batches: it must be cheap
    /// and must not block (send a message, bump a counter); a slow callback
    /// delays every other append. A panic in it is caught and logged. In
    /// [`Mode::None`], and when the payload is too large or the journal is
    /// closed, `done` runs at once on the calling thread.
    pub fn append_with(&self, payload: Vec<u8>, done: DoneCallback) {
        if payload.len() > MAX_PAYLOAD_LEN {
            return done(Err(Self::too_large(payload.len())));
        }
        let bytes = encoded_len(payload.len());
        if self.mode == Mode::None {
            return done(Ok(self.none_append(vec![payload], bytes)));
        }
        let msg = Msg::Append {
            payloads: Payloads::One(payload),
            bytes,
            done: Done::Callback(done),
        };
        self.send(msg, bytes);
    }

    /// Barrier: resolves, with the last sequence number acknowledged, once
    /// every append enqueued before it has completed. In [`Mode::Os`] it
    /// also fdatasyncs the active segment. Resolves to an error if the
    /// batch it rode in failed.
    pub fn flush(&self) -> Ticket {
        if self.mode == Mode::None {
            return Ticket::ready(Ok(self.none_seq.load(Ordering::Acquire)));
        }
        let (tx, rx) = oneshot::channel();
        self.send(
            Msg::Flush {
                done: Done::Ticket(tx),
            },
            0,
        );
        Ticket::pending(rx)
    }

    /// The journal's counters.
    pub fn stats(&self) -> JournalStats {
        let s = &self.shared;
        let (records, last_seq) = if self.mode == Mode::None {
            let n = self.none_seq.load(Ordering::Acquire);
            (n, n)
        } else {
            (
                s.records.load(Ordering::Relaxed),
                s.last_seq.load(Ordering::Acquire),
            )
        };
        JournalStats {
            mode: self.mode,
            format_version: FORMAT_VERSION,
            records,
            bytes: s.bytes.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            last_seq,
            durable_seq: s.durable_seq.load(Ordering::Acquire),
            pending_bytes: s.pending_bytes.load(Ordering::Relaxed),
            healthy: !s.unhealthy.load(Ordering::Acquire),
            last_error: s
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            commit_ns_total: s.commit_ns.load(Ordering::Relaxed),
            active_segment_first_seq: s.active_first_seq.load(Ordering::Acquire),
        }
    }

    /// Deletes the segments all of whose records have a sequence number
    /// below `seq` (i.e. that recovery from `seq` on does not need). The
    /// segment being written is never deleted. Returns how many files
    /// were removed (always 0 in [`Mode::None`]).
    pub fn delete_segments_before(&self, seq: u64) -> Result<usize, JournalError> {
        if self.mode == Mode::None {
            return Ok(0);
        }
        let segs = segment::list_segments(&self.dir)
            .map_err(|e| JournalError::io("list segments", &self.dir, &e))?;
        let active = self.shared.active_first_seq.load(Ordering::Acquire);
        let mut removed = 0;
        for pair in segs.windows(2) {
            let (seg, next) = (&pair[0], &pair[1]);
            // seg holds seqs first_seq..next.first_seq-1.
            if seg.first_seq >= active || next.first_seq > seq {
                break;
            }
            std::fs::remove_file(&seg.path)
                .map_err(|e| JournalError::io("remove segment", &seg.path, &e))?;
            tracing::debug!(file = %seg.path.display(), "journal: segment deleted");
            removed += 1;
        }
        if removed > 0 && self.mode == Mode::Fsync {
            segment::sync_dir(&self.dir)
                .map_err(|e| JournalError::io("fsync directory", &self.dir, &e))?;
        }
        Ok(removed)
    }

    /// Flushes (see [`Journal::flush`]), then stops the writer thread.
    /// Returns the last sequence number acknowledged, or the flush error.
    /// Blocks: do not call from inside an async runtime.
    pub fn close(self) -> Result<u64, JournalError> {
        self.flush().wait()
    }
}

impl Drop for Journal {
    /// Closes the queue, lets the writer finish everything already queued
    /// (fdatasyncing at the end in [`Mode::Os`]) and joins it.
    fn drop(&mut self) {
        // A writer retrying a failed batch gives up now and fails its tickets.
        self.shared.closing.store(true, Ordering::Release);
        drop(self.tx.take());
        if let Some(handle) = self.writer.take() {
            if handle.join().is_err() {
                tracing::error!("journal writer thread panicked");
            }
        }
    }
}
