//! The tail: durable records in, feed events out; and the thread that runs
//! it on the batches the journal hook sends.
//!
//! What it never does: read anything but the records handed to it (at
//! start, recovery's replay; then the journal's durable batches), block a
//! reader for longer than one append, or drop a batch it was sent (it
//! drains its channel before it stops).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use orch_actors::log::LogEntry;
use orch_actors::order::OrderState;
use orch_config::Millis;
use orch_events::feed::{Feed, Retention};
use orch_journal::DurableRecords;

use super::mirror::{Mirror, Numbered};
use super::Events;
use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::persist::codec;
use crate::persist::recovery::ReplaySink;

/// How often an idle tail trims the feed by age.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// The feed's builder: the order mirror and the feed it appends to.
pub struct Tail {
    mirror: Mirror,
    names: Arc<Catalog>,
    retention: Retention,
    events: Arc<Events>,
    /// Records that did not decode (logged; recovery would refuse them).
    undecodable: u64,
}

impl Tail {
    /// An empty feed whose first event is `seq` 1.
    pub fn new(names: Arc<Catalog>, retention: Retention) -> Tail {
        Tail {
            mirror: Mirror::new(),
            names,
            retention,
            events: Arc::new(Events::new(Feed::new(retention, 1))),
            undecodable: 0,
        }
    }

    /// What readers page.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// Orders mirrored.
    pub fn orders(&self) -> usize {
        self.mirror.len()
    }

    /// Applies one record's entries and appends their events.
    pub fn take_entries(&mut self, entries: &[LogEntry], now: Millis) {
        let mut drafts: Vec<Numbered> = Vec::new();
        for e in entries {
            drafts.extend(self.apply(e, now));
        }
        self.publish(drafts, now);
    }

    /// One entry through the mirror; an entry for an order it does not
    /// know is skipped and logged.
    fn apply(&mut self, entry: &LogEntry, now: Millis) -> Vec<Numbered> {
        let unknown = self.mirror.unknown();
        let out = self.mirror.apply(entry, &*self.names, now);
        if self.mirror.unknown() > unknown {
            tracing::warn!(
                ?entry,
                "events: an entry for an order the tail does not know"
            );
        }
        out
    }

    /// Decodes and applies one durable batch.
    pub fn take_batch(&mut self, records: DurableRecords, now: Millis) {
        let mut drafts: Vec<Numbered> = Vec::new();
        for (seq, payload) in records {
            match codec::decode(&payload) {
                Ok(entries) => {
                    for e in &entries {
                        drafts.extend(self.apply(e, now));
                    }
                }
                Err(e) => {
                    self.undecodable += 1;
                    tracing::error!(seq, error = %e, "events: a durable record does not decode; \
                        its events are missing");
                }
            }
        }
        self.publish(drafts, now);
    }

    /// Drops what is older than the retention.
    pub fn trim(&self, now: Millis) {
        let size = self.events.with_feed(|f| {
            f.trim(now);
            f.size()
        });
        crate::metrics::events_feed_size(size.0, size.1);
    }

    fn publish(&self, drafts: Vec<Numbered>, now: Millis) {
        if drafts.is_empty() {
            return;
        }
        for (d, _) in &drafts {
            crate::metrics::event_emitted(d.kind);
        }
        let (last, size) = self.events.with_feed(|f| {
            for (d, order_seq) in drafts {
                f.append(d, order_seq);
            }
            f.trim(now);
            (f.last_seq(), f.size())
        });
        crate::metrics::events_feed_size(size.0, size.1);
        self.events.announce(last);
    }
}

impl ReplaySink for Tail {
    fn snapshot(
        &mut self,
        orders: &mut dyn Iterator<Item = &OrderState>,
        snapshot_seq: u64,
        now: Millis,
    ) {
        self.mirror.seed(orders);
        if snapshot_seq > 0 {
            // The retention gap (see the module doc): numbering restarts
            // above anything a previous run issued.
            let base = orch_events::feed::first_seq_after_snapshot(now);
            self.events = Arc::new(Events::new(Feed::new(self.retention, base)));
            tracing::warn!(
                snapshot_seq,
                first_seq = base,
                "events: started from a snapshot; events of the records it covers are not in \
                 the feed, and older cursors are gone (410)"
            );
        }
    }

    fn record(&mut self, _seq: u64, entries: &[LogEntry], now: Millis) {
        self.take_entries(entries, now);
    }
}

/// The running tail thread.
pub struct TailThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TailThread {
    /// Runs `tail` on the batches from `rx` until [`TailThread::stop`].
    pub fn start(mut tail: Tail, rx: Receiver<DurableRecords>) -> Result<TailThread, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("orchestrator-events-tail".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(TRIM_EVERY) {
                        Ok(batch) => tail.take_batch(batch, now_ms()),
                        Err(RecvTimeoutError::Timeout) => tail.trim(now_ms()),
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if stop2.load(Ordering::Acquire) {
                        // Whatever the journal handed over still counts.
                        while let Ok(batch) = rx.try_recv() {
                            tail.take_batch(batch, now_ms());
                        }
                        break;
                    }
                }
                tracing::debug!("events tail stopped");
            })
            .map_err(|e| format!("cannot start the events tail thread: {e}"))?;
        Ok(TailThread {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread after it has taken every batch already sent.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TailThread {
    fn drop(&mut self) {
        self.stop();
    }
}
