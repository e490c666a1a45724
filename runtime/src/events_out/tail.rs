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
use orch_actors::hold::HoldState;
use orch_actors::log::LogEntry;
use orch_actors::order::OrderState;
use orch_config::Millis;
use orch_events::feed::{Feed, Retention};
use orch_journal::DurableRecords;

use super::mirror::{Mirror, Numbered};
use super::store::{EventStore, Loaded, LoadedEvent};
use super::Events;
use crate::catalog::Catalog;
use crate::clock::now_ms;
use crate::persist::codec;
use crate::persist::recovery::{recover_into, Recovered, ReplaySink};
use crate::persist::snapshot::SnapshotStore;
use crate::persist::Durability;

/// How often an idle tail trims the feed by age.
pub const TRIM_EVERY: Duration = Duration::from_secs(1);

/// Most journal batches taken into one write to the event store.
pub const SAVE_BATCHES_MAX: usize = 256;

/// Most events in one record of the event store (a few MB of JSON; the
/// journal refuses records over 64 MiB).
pub const SAVE_EVENTS_MAX: usize = 4_096;

/// The feed's builder: the order mirror and the feed it appends to.
pub struct Tail {
    mirror: Mirror,
    names: Arc<Catalog>,
    retention: Retention,
    events: Arc<Events>,
    /// Records that did not decode (logged; recovery would refuse them).
    undecodable: u64,
    /// The feed on disk, if any, and what it held at start.
    store: Option<Arc<EventStore>>,
    loaded: Option<Loaded>,
    /// Order journal records up to here already have their events stored.
    stored_upto: u64,
    /// Events appended since the last write to the store, with their
    /// time and source record; and the last record taken.
    unsaved: Vec<(Arc<orch_events::Event>, Millis, u64)>,
    taken_upto: u64,
    /// The event store's bytes on disk, and when they were last listed.
    disk_bytes: u64,
    disk_sampled: std::time::Instant,
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
            store: None,
            loaded: None,
            stored_upto: 0,
            unsaved: Vec::new(),
            taken_upto: 0,
            disk_bytes: 0,
            disk_sampled: std::time::Instant::now(),
        }
    }

    /// A feed that continues what `store` kept: its events back with their
    /// `seq` (`feed`, as [`EventStore::open`] read them into it, the newest
    /// `memory_max` in memory), records up to what it covers not derived
    /// again.
    pub fn with_store(
        names: Arc<Catalog>,
        retention: Retention,
        store: Arc<EventStore>,
        loaded: Loaded,
        feed: Feed,
    ) -> Tail {
        let mut tail = Tail::new(names, retention);
        tail.events = Arc::new(Events::with_store(feed, store.clone()));
        tail.disk_bytes = store.disk_bytes();
        tail.stored_upto = loaded.covered;
        tail.taken_upto = loaded.covered;
        tail.store = Some(store);
        tail.loaded = Some(loaded);
        tail
    }

    /// Writes what was appended since the last call to the store, in
    /// records of [`SAVE_EVENTS_MAX`] events at most (a restart that
    /// replays millions of journal records derives millions of events at
    /// once; one record of them all would pass the journal's 64 MiB record
    /// limit and never be taken), so the checkpoint thread may snapshot
    /// that far. A failed write keeps the events not yet stored for the
    /// next call.
    pub fn save(&mut self) {
        let Some(store) = self.store.clone() else {
            self.unsaved.clear();
            return;
        };
        if self.unsaved.is_empty() && self.taken_upto <= self.stored_upto {
            return;
        }
        let mut stored = 0;
        while stored < self.unsaved.len() || self.stored_upto < self.taken_upto {
            let end = (stored + SAVE_EVENTS_MAX).min(self.unsaved.len());
            let chunk = &self.unsaved[stored..end];
            // Every event of the records before the next chunk's first
            // source is stored once this chunk is: those records are
            // covered (events come in journal order).
            let covered = match self.unsaved.get(end) {
                Some((_, _, next_source)) => next_source.saturating_sub(1).max(self.stored_upto),
                None => self.taken_upto,
            };
            if let Err(e) = store.append(covered, chunk) {
                tracing::error!(error = %e, "events: the event store did not take a \
                    batch; the order journal keeps its records until it does");
                break;
            }
            if let Some((e, _, _)) = chunk.last() {
                // Stored: the oldest may leave memory now.
                let seq = e.seq;
                let resident = self.events.with_feed(|f| {
                    f.mark_stored(seq);
                    f.resident()
                });
                // The directory is listed at most once a second.
                if self.disk_sampled.elapsed() >= TRIM_EVERY {
                    self.disk_sampled = std::time::Instant::now();
                    self.disk_bytes = store.disk_bytes();
                }
                crate::metrics::events_memory(resident, self.disk_bytes);
            }
            stored = end;
            self.stored_upto = covered;
        }
        self.unsaved.drain(..stored);
    }

    /// What readers page.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// Orders mirrored.
    pub fn orders(&self) -> usize {
        self.mirror.len()
    }

    /// Applies one record's entries (order journal record `seq`) and
    /// appends their events; a record the store already covers only moves
    /// the mirror.
    pub fn take_entries(&mut self, seq: u64, entries: &[LogEntry], now: Millis) {
        let mut drafts: Vec<(Numbered, u64)> = Vec::new();
        for e in entries {
            drafts.extend(self.apply(e, now).into_iter().map(|d| (d, seq)));
        }
        if seq > self.stored_upto || self.store.is_none() {
            self.publish(drafts, now);
        }
        self.taken_upto = self.taken_upto.max(seq);
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
        let mut drafts: Vec<(Numbered, u64)> = Vec::new();
        for (seq, payload) in records {
            self.taken_upto = self.taken_upto.max(seq);
            match codec::decode(&payload) {
                Ok(entries) => {
                    for e in &entries {
                        drafts.extend(self.apply(e, now).into_iter().map(|d| (d, seq)));
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

    /// Drops what is older than the retention (in memory and on disk).
    pub fn trim(&self, now: Millis) {
        let (size, oldest) = self.events.with_feed(|f| {
            f.trim(now);
            (f.size(), f.oldest_after() + 1)
        });
        if let Some(store) = &self.store {
            store.forget_before(oldest);
            let resident = self.events.with_feed(|f| f.resident());
            crate::metrics::events_memory(resident, store.disk_bytes());
        }
        crate::metrics::events_feed_size(size.0, size.1);
    }

    fn publish(&mut self, drafts: Vec<(Numbered, u64)>, now: Millis) {
        if drafts.is_empty() {
            return;
        }
        for ((d, _), _) in &drafts {
            crate::metrics::event_emitted(d.kind);
        }
        let keep = self.store.is_some();
        let unsaved = &mut self.unsaved;
        let (last, size) = self.events.with_feed(|f| {
            for ((d, order_seq), source) in drafts {
                let at = d.at;
                let e = f.append(d, order_seq);
                if keep {
                    unsaved.push((e, at, source));
                }
            }
            f.trim(now);
            (f.last_seq(), f.size())
        });
        crate::metrics::events_feed_size(size.0, size.1);
        self.events.announce(last);
    }
}

/// The tail of a core on `cfg`: over the event store in
/// `<data_dir>/events` (its kept events come back), or in memory only in
/// durability mode `none`.
pub fn open_tail(cfg: &orch_config::Config, durability: &Durability) -> Result<Tail, String> {
    let names = Arc::new(Catalog::new(&cfg.network));
    let retention = Retention {
        age_ms_max: cfg.durability.events_retention_ms,
        bytes_max: cfg.durability.events_bytes_max,
    };
    if cfg.durability.mode == orch_config::DurabilityMode::None {
        return Ok(Tail::new(names, retention));
    }
    let dir = std::path::Path::new(&cfg.durability.data_dir).join("events");
    let memory_max = usize::try_from(cfg.durability.events_memory_max).unwrap_or(usize::MAX);
    let mut feed = Feed::new(retention, 1).with_memory_max(memory_max);
    let (store, loaded) = EventStore::open(
        &dir,
        cfg.durability.mode,
        durability.events_covered().clone(),
        &mut |e: LoadedEvent| feed.restore(e.event, e.at),
    )?;
    tracing::info!(
        events = loaded.events,
        in_memory = feed.resident(),
        covered = loaded.covered,
        "events: the feed's kept events read back"
    );
    let store = Arc::new(store);
    crate::metrics::events_memory(feed.resident(), store.disk_bytes());
    Ok(Tail::with_store(names, retention, store, loaded, feed))
}

/// Recovery with the event feed, as both engines start: the tail of
/// [`open_tail`] is fed what recovery replays, then attached to the
/// journal's durable batches on its own thread. Answers what recovery
/// rebuilt, the feed and the running tail.
pub fn recover_with_feed(
    cfg: &orch_config::Config,
    durability: &Durability,
    store: Option<&SnapshotStore>,
    now: Millis,
) -> Result<(Recovered, Arc<Events>, TailThread), String> {
    let mut tail = open_tail(cfg, durability)?;
    let recovered = recover_into(cfg, durability, store, now, Some(&mut tail))?;
    let events = tail.events().clone();
    let intake = durability
        .events_intake()
        .attach()
        .ok_or("the journal's events intake was attached already")?;
    let tail = TailThread::start(tail, intake)?;
    Ok((recovered, events, tail))
}

impl ReplaySink for Tail {
    fn snapshot(
        &mut self,
        orders: &mut dyn Iterator<Item = &OrderState>,
        holds: &mut dyn Iterator<Item = &HoldState>,
        snapshot_seq: u64,
        now: Millis,
    ) {
        // Active holds: their expiry after the snapshot reports hold.expired.
        self.mirror.seed_holds(holds);
        if let (Some(_), Some(store)) = (self.loaded.take(), &self.store) {
            // The store has the events of the records the snapshot covers.
            let counts = store.counts_upto(snapshot_seq).unwrap_or_else(|e| {
                tracing::error!(error = %e, "events: the event store cannot be read again \
                    for the orders' event counts; order_seq counts again from 1");
                Default::default()
            });
            self.mirror.seed_counted(orders, &counts);
            self.taken_upto = self.taken_upto.max(snapshot_seq);
            return;
        }
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

    fn record(&mut self, seq: u64, entries: &[LogEntry], now: Millis) {
        self.take_entries(seq, entries, now);
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
                    // What replay derived is stored before anything new.
                    tail.save();
                    match rx.recv_timeout(TRIM_EVERY) {
                        Ok(batch) => {
                            tail.take_batch(batch, now_ms());
                            // Whatever else is waiting goes in the same
                            // write to the event store.
                            for _ in 0..SAVE_BATCHES_MAX {
                                match rx.try_recv() {
                                    Ok(b) => tail.take_batch(b, now_ms()),
                                    Err(_) => break,
                                }
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => tail.trim(now_ms()),
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                    if stop2.load(Ordering::Acquire) {
                        // Whatever the journal handed over still counts.
                        while let Ok(batch) = rx.try_recv() {
                            tail.take_batch(batch, now_ms());
                        }
                        tail.save();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events_out::store::tests::{event, open};

    /// What a restart derives at once is stored in records of at most
    /// `SAVE_EVENTS_MAX` events, each covering the journal records whose
    /// events are all in it or before (one record of everything once
    /// passed the journal's 64 MiB limit after a million orders, and the
    /// tail retried it forever).
    #[test]
    fn a_large_save_is_stored_in_bounded_records() {
        let dir = tempfile::tempdir().unwrap();
        let (store, loaded, _) = open(dir.path()).unwrap();
        let net = orch_config::Network {
            facilities: Vec::new(),
            skus: Vec::new(),
            stock: Vec::new(),
        };
        let mut tail = Tail::with_store(
            Arc::new(Catalog::new(&net)),
            Retention::default(),
            Arc::new(store),
            loaded,
            Feed::new(Retention::default(), 1),
        );
        let n = 3 * SAVE_EVENTS_MAX as u64 + 10;
        // Three events per order journal record, records 1, 2, ...
        tail.unsaved = (1..=n)
            .map(|s| (event(s, serde_json::json!({})), 0, (s - 1) / 3 + 1))
            .collect();
        tail.taken_upto = (n - 1) / 3 + 2; // a last record without events
        tail.save();
        assert!(tail.unsaved.is_empty());
        assert_eq!(tail.stored_upto, tail.taken_upto);
        drop(tail);
        let (store, loaded, back) = open(dir.path()).unwrap();
        assert_eq!(loaded.covered, (n - 1) / 3 + 2);
        assert_eq!(back, (1..=n).collect::<Vec<_>>());
        let records = orch_journal::read_from(dir.path(), 1).unwrap().count();
        assert!(records >= 4, "{records} records for {n} events");
        drop(store);
    }
}
