//! The single writer thread: group commit, segment rolling, disk faults.
//!
//! Callers enqueue [`Msg`]s on a bounded crossbeam channel. The writer
//! takes the first message, then everything else already queued (or
//! arriving within `batch_wait_us_max` of the first) up to
//! `batch_bytes_max` encoded bytes, assigns sequence numbers, encodes the
//! whole batch into one buffer, writes it with one positioned write,
//! fdatasyncs once (in [`Mode::Fsync`]) and only then completes every
//! ticket of the batch, in order.
//!
//! Sequence numbers are assigned here, on the one thread, so a batch
//! appended with [`crate::Journal::append_batch`] gets consecutive
//! numbers, and numbers given to a failed batch are handed out again to
//! the next one (a failed record is never on disk, so there is no gap).

use std::os::unix::fs::FileExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use tokio::sync::oneshot;

use crate::record;
use crate::segment::{self, ActiveSegment};
use crate::{FaultInjector, JournalError, Mode};

/// Capacity of the channel between callers and the writer, in messages
/// (an `append_batch` is one message). When it is full, `append*` and
/// `flush` block the calling thread until the writer catches up: that is
/// the journal's back-pressure.
pub const QUEUE_CAPACITY: usize = 16 * 1024;

/// Completion callback of [`crate::Journal::append_with`].
pub type DoneCallback = Box<dyn FnOnce(Result<u64, JournalError>) + Send>;

/// How a message reports its outcome.
pub(crate) enum Done {
    Ticket(oneshot::Sender<Result<u64, JournalError>>),
    Callback(DoneCallback),
}

impl Done {
    pub(crate) fn complete(self, result: Result<u64, JournalError>) {
        match self {
            // The receiver may have been dropped: nobody is waiting.
            Done::Ticket(tx) => {
                let _ = tx.send(result);
            }
            Done::Callback(f) => {
                if panic::catch_unwind(AssertUnwindSafe(|| f(result))).is_err() {
                    tracing::error!(
                        "journal: an append_with callback panicked on the writer thread"
                    );
                }
            }
        }
    }
}

/// Payloads of one append message.
pub(crate) enum Payloads {
    One(Vec<u8>),
    Many(Vec<Vec<u8>>),
    /// Handed to the durable hook already; this many records.
    Taken(u64),
}

impl Payloads {
    fn count(&self) -> u64 {
        match self {
            Payloads::One(_) => 1,
            Payloads::Many(v) => v.len() as u64,
            Payloads::Taken(n) => *n,
        }
    }
}

/// One request to the writer.
pub(crate) enum Msg {
    /// Append records; `bytes` is their encoded size.
    Append {
        payloads: Payloads,
        bytes: usize,
        done: Done,
    },
    /// Barrier: completes once everything queued before it has.
    Flush { done: Done },
}

impl Msg {
    fn bytes(&self) -> usize {
        match self {
            Msg::Append { bytes, .. } => *bytes,
            Msg::Flush { .. } => 0,
        }
    }
}

/// State shared between the journal handle and the writer: counters read
/// by [`crate::Journal::stats`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) last_seq: AtomicU64,
    pub(crate) durable_seq: AtomicU64,
    pub(crate) pending_bytes: AtomicU64,
    pub(crate) commit_ns: AtomicU64,
    pub(crate) unhealthy: AtomicBool,
    pub(crate) last_error: Mutex<Option<String>>,
    /// first_seq of the segment being written.
    pub(crate) active_first_seq: AtomicU64,
    /// The journal is closing: stop retrying failed batches.
    pub(crate) closing: AtomicBool,
}

/// Settings the writer needs.
pub(crate) struct WriterConfig {
    pub(crate) dir: PathBuf,
    pub(crate) mode: Mode,
    pub(crate) batch_bytes_max: usize,
    pub(crate) batch_wait: Duration,
    pub(crate) segment_bytes_max: u64,
    pub(crate) fault: Option<FaultInjector>,
    /// Retry a failed batch until it succeeds instead of failing it.
    pub(crate) retry: bool,
    /// Called after each batch that wrote records.
    pub(crate) on_batch: Option<crate::BatchHook>,
    /// Where durable lengths are recorded (power-loss tests).
    pub(crate) durable_log: Option<Arc<crate::DurableLog>>,
    /// Handed each batch's records once durable.
    pub(crate) on_durable: Option<crate::DurableHook>,
}

pub(crate) struct Writer {
    cfg: WriterConfig,
    rx: Receiver<Msg>,
    shared: Arc<Shared>,
    segment: ActiveSegment,
    next_seq: u64,
    /// The active segment may hold debris of a failed write past
    /// `segment.len` that could not be cut yet: no batch is written until
    /// it is.
    dirty: bool,
    /// The active segment's file was removed by [`Writer::repair`] (it held
    /// no good record) and a new one could not be created yet: nothing may
    /// be written to the old handle.
    segment_removed: bool,
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(
        cfg: WriterConfig,
        rx: Receiver<Msg>,
        shared: Arc<Shared>,
        segment: ActiveSegment,
        next_seq: u64,
    ) -> Writer {
        shared
            .active_first_seq
            .store(segment.first_seq, Ordering::Release);
        Writer {
            cfg,
            rx,
            shared,
            segment,
            next_seq,
            dirty: false,
            segment_removed: false,
            buf: Vec::new(),
        }
    }

    /// The thread body: runs until every sender is gone and the queue is
    /// drained.
    pub(crate) fn run(mut self) {
        let mut batch: Vec<Msg> = Vec::new();
        let mut carry: Option<Msg> = None;
        loop {
            let first = match carry.take() {
                Some(m) => m,
                None => match self.rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            let mut bytes = first.bytes();
            let mut has_append = matches!(first, Msg::Append { .. });
            batch.push(first);
            let deadline = Instant::now() + self.cfg.batch_wait;
            while bytes < self.cfg.batch_bytes_max {
                let m = match self.rx.try_recv() {
                    Ok(m) => m,
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        if !has_append || self.cfg.batch_wait.is_zero() {
                            break;
                        }
                        match self.rx.recv_deadline(deadline) {
                            Ok(m) => m,
                            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                                break
                            }
                        }
                    }
                };
                if bytes + m.bytes() > self.cfg.batch_bytes_max {
                    carry = Some(m);
                    break;
                }
                bytes += m.bytes();
                has_append |= matches!(m, Msg::Append { .. });
                batch.push(m);
            }
            self.commit(&mut batch, bytes);
        }
        if self.cfg.mode == Mode::Os && !self.dirty {
            match self.segment.sync_data() {
                Ok(()) => self.note_durable(),
                Err(e) => tracing::error!(file = %self.segment.path.display(), error = %e,
                    "journal: fdatasync at shutdown failed"),
            }
        }
        tracing::debug!(last_seq = self.next_seq - 1, "journal writer stopped");
    }

    /// Writes one batch and completes its messages.
    fn commit(&mut self, batch: &mut Vec<Msg>, queued_bytes: usize) {
        let started = Instant::now();
        let start_seq = self.next_seq;
        let mut has_flush = false;
        self.buf.clear();
        for m in batch.iter() {
            match m {
                Msg::Append { payloads, .. } => match payloads {
                    Payloads::One(p) => {
                        record::encode(&mut self.buf, self.next_seq, p);
                        self.next_seq += 1;
                    }
                    Payloads::Many(ps) => {
                        for p in ps {
                            record::encode(&mut self.buf, self.next_seq, p);
                            self.next_seq += 1;
                        }
                    }

                    // Only after a successful commit; never written again.
                    Payloads::Taken(_) => {}
                },
                Msg::Flush { .. } => has_flush = true,
            }
        }
        let records = self.next_seq - start_seq;
        // A deliberate bug that only the power-loss tests enable: the batch
        // is acknowledged after its write and before its fdatasync.
        let ack_early =
            cfg!(feature = "bug-ack-before-fsync") && self.cfg.mode == Mode::Fsync && records > 0;
        let mut result = self.persist(start_seq, has_flush, ack_early);
        let mut backoff = Duration::from_millis(5);
        while let Err(e) = &result {
            if !self.cfg.retry || self.shared.closing.load(Ordering::Acquire) {
                break;
            }
            // Keep the batch: nothing after it may reach the disk first.
            self.note_failure(
                e,
                records,
                "journal: batch failed; retrying until it can be written",
            );
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(1));
            result = self.persist(start_seq, has_flush, ack_early);
        }
        let elapsed = started.elapsed().as_nanos() as u64;
        let shared = &self.shared;
        shared.commit_ns.fetch_add(elapsed, Ordering::Relaxed);
        match result {
            Ok(synced) => {
                let last = self.next_seq - 1;
                if records > 0 {
                    shared.records.fetch_add(records, Ordering::Relaxed);
                    shared
                        .bytes
                        .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
                    shared.batches.fetch_add(1, Ordering::Relaxed);
                    shared.last_seq.store(last, Ordering::Release);
                }
                if records > 0 {
                    if let Some(hook) = &self.cfg.on_batch {
                        (hook.0)(Duration::from_nanos(elapsed), records as usize);
                    }
                }
                if synced {
                    shared.fsyncs.fetch_add(1, Ordering::Relaxed);
                    shared.durable_seq.store(last, Ordering::Release);
                }
                if (records > 0 || synced) && shared.unhealthy.swap(false, Ordering::AcqRel) {
                    tracing::info!(last_seq = last, "journal: writes succeed again; healthy");
                }
                if let Some(hook) = &self.cfg.on_durable {
                    // Before any ticket completes: a record reaches the hook
                    // exactly when it is acknowledged.
                    let mut seq = start_seq;
                    let mut durable = Vec::new();
                    for m in batch.iter_mut() {
                        if let Msg::Append { payloads, .. } = m {
                            let taken = std::mem::replace(payloads, Payloads::Taken(0));
                            let n = taken.count();
                            let ps = match taken {
                                Payloads::One(p) => vec![p],
                                Payloads::Many(ps) => ps,
                                Payloads::Taken(_) => Vec::new(),
                            };
                            *payloads = Payloads::Taken(n);
                            for p in ps {
                                if !p.is_empty() {
                                    durable.push((seq, p));
                                }
                                seq += 1;
                            }
                        }
                    }
                    if !durable.is_empty() {
                        (hook.0)(durable);
                    }
                }
                let mut seq = start_seq - 1;
                for m in batch.drain(..) {
                    match m {
                        Msg::Append { payloads, done, .. } => {
                            seq += payloads.count();
                            done.complete(Ok(seq));
                        }
                        Msg::Flush { done } => done.complete(Ok(seq)),
                    }
                }
                if ack_early {
                    match self.sync_segment() {
                        Ok(()) => {
                            self.note_durable();
                            shared.fsyncs.fetch_add(1, Ordering::Relaxed);
                            shared.durable_seq.store(last, Ordering::Release);
                        }
                        Err(e) => tracing::error!(error = %e, "journal: fdatasync failed"),
                    }
                }
            }
            Err(e) => {
                // Nothing of this batch is on disk: its numbers are reused.
                self.next_seq = start_seq;
                self.note_failure(
                    &e,
                    records,
                    "journal: batch failed; every record in it is rejected",
                );
                for m in batch.drain(..) {
                    match m {
                        Msg::Append { done, .. } | Msg::Flush { done } => {
                            done.complete(Err(e.clone()))
                        }
                    }
                }
            }
        }
        shared
            .pending_bytes
            .fetch_sub(queued_bytes as u64, Ordering::Relaxed);
    }

    /// Marks the journal unhealthy and logs the error: one line per outage
    /// (and per new kind of failure), not one per batch while the disk
    /// stays full.
    fn note_failure(&self, e: &JournalError, records: u64, what: &str) {
        let shared = &self.shared;
        let text = e.to_string();
        let mut last_error = shared.last_error.lock().unwrap_or_else(|p| p.into_inner());
        let was_unhealthy = shared.unhealthy.swap(true, Ordering::AcqRel);
        if !was_unhealthy || last_error.as_deref() != Some(text.as_str()) {
            tracing::error!(error = %e, records, "{what}");
        } else {
            tracing::debug!(error = %e, records, "journal: batch failed again");
        }
        *last_error = Some(text);
    }

    /// Records the active segment's length as durable (power-loss tests);
    /// called right after it was fdatasynced, before anything is
    /// acknowledged on the strength of it.
    fn note_durable(&self) {
        if let Some(log) = &self.cfg.durable_log {
            log.record(&self.segment.path, self.segment.len);
        }
    }

    /// Puts `self.buf` on disk per the mode. Returns whether it fdatasynced
    /// (never when `skip_sync`). On error nothing of the buffer is left in
    /// the segment (or, if it could not be cut, the segment is abandoned or
    /// marked dirty).
    fn persist(
        &mut self,
        start_seq: u64,
        has_flush: bool,
        skip_sync: bool,
    ) -> Result<bool, JournalError> {
        if self.dirty {
            self.repair(start_seq)?;
        }
        let sync = !skip_sync
            && ((self.cfg.mode == Mode::Fsync && !self.buf.is_empty())
                || (self.cfg.mode == Mode::Os && has_flush));
        if !self.buf.is_empty()
            && self.segment.len > 0
            && self.segment.len + self.buf.len() as u64 > self.cfg.segment_bytes_max
        {
            self.roll(start_seq)?;
        }
        let written = self
            .write_buf()
            .and_then(|()| if sync { self.sync_segment() } else { Ok(()) });
        match written {
            Ok(()) => {
                self.segment.len += self.buf.len() as u64;
                if sync {
                    self.note_durable();
                }
                Ok(sync)
            }
            Err(e) => {
                if !self.buf.is_empty() {
                    self.dirty = true;
                    if let Err(re) = self.repair(start_seq) {
                        tracing::error!(error = %re, "journal: could not remove a failed write; \
                            no batch will be written until that succeeds");
                    }
                }
                Err(e)
            }
        }
    }

    fn write_buf(&self) -> Result<(), JournalError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let seg = &self.segment;
        if let Some(f) = &self.cfg.fault {
            if f.writes_failing() {
                // Simulate a write that got half way, then the disk filled.
                let half = &self.buf[..self.buf.len() / 2];
                let _ = seg.file.write_all_at(half, seg.len);
                return Err(JournalError::io(
                    "write",
                    &seg.path,
                    &FaultInjector::error(),
                ));
            }
        }
        seg.write_at_end(&self.buf)
            .map_err(|e| JournalError::io("write", &seg.path, &e))
    }

    fn sync_segment(&self) -> Result<(), JournalError> {
        let seg = &self.segment;
        if let Some(f) = &self.cfg.fault {
            if f.writes_failing() {
                return Err(JournalError::io(
                    "fdatasync",
                    &seg.path,
                    &FaultInjector::error(),
                ));
            }
        }
        seg.sync_data()
            .map_err(|e| JournalError::io("fdatasync", &seg.path, &e))
    }

    /// Starts a new segment whose first record will be `first_seq`.
    fn roll(&mut self, first_seq: u64) -> Result<(), JournalError> {
        let dir = &self.cfg.dir;
        let seg = ActiveSegment::create(dir, first_seq).map_err(|e| {
            JournalError::io(
                "create segment",
                &dir.join(segment::segment_file_name(first_seq)),
                &e,
            )
        })?;
        if self.cfg.mode == Mode::Fsync {
            segment::sync_dir(dir).map_err(|e| JournalError::io("fsync directory", dir, &e))?;
            if let Some(log) = &self.cfg.durable_log {
                log.record(&seg.path, 0);
            }
        }
        tracing::debug!(file = %seg.path.display(), "journal: new segment");
        self.shared
            .active_first_seq
            .store(first_seq, Ordering::Release);
        self.segment = seg;
        self.segment_removed = false;
        Ok(())
    }

    /// Removes debris of a failed write past `segment.len`: truncate, or
    /// if that fails, continue in a new segment starting at `first_seq`
    /// (recovery recognises the abandoned debris because the new segment
    /// starts right after the last good record).
    fn repair(&mut self, first_seq: u64) -> Result<(), JournalError> {
        if !self.segment_removed {
            let truncated = match &self.cfg.fault {
                Some(f) if f.truncates_failing() => Err(FaultInjector::error()),
                // In Fsync mode the cut itself is made durable, so that no
                // debris can reappear after a machine crash.
                _ => self.segment.truncate_to_len().and_then(|()| {
                    if self.cfg.mode == Mode::Fsync {
                        self.segment.sync_data()
                    } else {
                        Ok(())
                    }
                }),
            };
            match truncated {
                Ok(()) => {
                    if self.cfg.mode == Mode::Fsync {
                        self.note_durable();
                    }
                    self.dirty = false;
                    return Ok(());
                }
                Err(e) => tracing::error!(file = %self.segment.path.display(),
                    offset = self.segment.len, error = %e,
                    "journal: cannot truncate a failed write; starting a new segment"),
            }
            if self.segment.len == 0 && self.segment.first_seq == first_seq {
                // The segment holds no good record and has the name the new
                // segment needs: replace it.
                std::fs::remove_file(&self.segment.path)
                    .map_err(|e| JournalError::io("remove segment", &self.segment.path, &e))?;
                self.segment_removed = true;
            }
        }
        self.roll(first_seq)?;
        self.dirty = false;
        Ok(())
    }
}
