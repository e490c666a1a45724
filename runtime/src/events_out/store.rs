//! The feed on disk: every batch of events the tail derives is appended to
//! a journal of its own (`<data_dir>/events`, same durability mode as the
//! order journal), with the order journal's sequence number it covers.
//!
//! At start the kept events come back from it with their `seq` and
//! `order_seq`, so a restart from a snapshot keeps the feed (no
//! renumbering, no 410 for a cursor still kept) and webhook cursors stay
//! valid. The checkpoint thread never snapshots past what this store
//! covers (`persist::intake::Covered`), so the order journal still holds every record
//! whose events the store may lack after a crash, and the tail derives them
//! again, in the same order and with the same numbers.
//!
//! It also serves the kept events that left the feed's memory window
//! ([`EventStore::read_after`]): a sparse index (each store record's
//! number and the last event `seq` in it) finds the record to start
//! from, the journal's reader skips the segments before it (segments are
//! [`SEGMENT_BYTES_MAX`] at most, which bounds what one read goes
//! through). Reads run on the caller's thread (an HTTP worker's blocking
//! pool, the webhook thread), never on a shard or the tail.
//!
//! What it never does: decide an event (the tail does), or keep events the
//! feed's retention dropped (segments older than the oldest kept event go).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use orch_config::{DurabilityMode, Millis};
use orch_events::feed::page_over;
use orch_events::{Event, EventType, TypeSet};
use orch_journal::{Journal, JournalOptions, Mode};
use serde::{Deserialize, Serialize};

use crate::persist::intake::Covered;

#[derive(Debug, Serialize, Deserialize)]
struct StoredEvent {
    seq: u64,
    kind: String,
    at: Millis,
    created_at: String,
    order_id: Option<String>,
    order_seq: Option<u32>,
    /// The order journal record it was derived from.
    source: u64,
    data: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredBatch {
    /// The order journal's records up to here have their events stored.
    covered: u64,
    events: Vec<StoredEvent>,
}

/// One event read back: the event, when it happened, and the order
/// journal record it came from.
#[derive(Debug, Clone)]
pub struct LoadedEvent {
    /// The event as it was served.
    pub event: Arc<Event>,
    /// When the change happened (for the retention by age).
    pub at: Millis,
    /// The order journal record it was derived from.
    pub source: u64,
}

/// What the store held at start (its events went to the visitor of
/// [`EventStore::open`], one at a time).
#[derive(Debug, Default)]
pub struct Loaded {
    /// Events read back.
    pub events: u64,
    /// The order journal records whose events are all stored.
    pub covered: u64,
}

/// Largest segment of the event store: a read of old events goes through
/// at most the segment its first event is in, then on in order.
pub const SEGMENT_BYTES_MAX: u64 = 4 << 20;

/// What a read of old events found.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskPage {
    /// The events, in `seq` order.
    pub events: Vec<Arc<Event>>,
    /// The seq of the last event looked at.
    pub next: u64,
    /// Whether it holds its `limit` (when not, it looked at every event
    /// up to the bound it was given).
    pub complete: bool,
}

/// The event store.
pub struct EventStore {
    journal: Journal,
    dir: PathBuf,
    covered: Covered,
    /// (store record seq, last event seq in it), oldest first: where a
    /// read of old events starts, and which segments the retention may
    /// delete.
    index: Mutex<VecDeque<(u64, u64)>>,
    /// Reads of old events served.
    reads: AtomicU64,
}

impl std::fmt::Debug for EventStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStore")
            .field("covered", &self.covered.get())
            .finish_non_exhaustive()
    }
}

fn mode(m: DurabilityMode) -> Mode {
    match m {
        DurabilityMode::Fsync => Mode::Fsync,
        DurabilityMode::Os => Mode::Os,
        DurabilityMode::None => Mode::None,
    }
}

/// The events of one store record.
fn decode_batch(seq: u64, payload: &[u8]) -> Result<(u64, Vec<LoadedEvent>), String> {
    let batch: StoredBatch = serde_json::from_slice(payload)
        .map_err(|e| format!("the event store: record {seq} does not decode: {e}"))?;
    let mut out = Vec::with_capacity(batch.events.len());
    for e in batch.events {
        let kind = EventType::parse(&e.kind)
            .ok_or_else(|| format!("the event store: record {seq}: unknown type {}", e.kind))?;
        let data = serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null);
        out.push(LoadedEvent {
            event: Arc::new(Event {
                id: orch_events::envelope::event_id(e.seq),
                seq: e.seq,
                kind,
                created_at: e.created_at,
                order_id: e.order_id.map(Arc::from),
                order_seq: e.order_seq,
                data,
            }),
            at: e.at,
            source: e.source,
        });
    }
    Ok((batch.covered, out))
}

/// One store record decoded: its number, the order journal records it
/// covers, its events.
type Record = (u64, u64, Vec<LoadedEvent>);

/// Every record of the store in `dir` from record `from` on, decoded, in order.
fn records(dir: &Path, from: u64) -> Result<impl Iterator<Item = Result<Record, String>>, String> {
    let reader = orch_journal::read_from(dir, from).map_err(|e| format!("the event store: {e}"))?;
    Ok(reader.filter_map(|record| match record {
        Err(e) => Some(Err(format!("the event store: {e}"))),
        Ok((_, payload)) if payload.is_empty() => None,
        Ok((seq, payload)) => Some(decode_batch(seq, &payload).map(|(c, ev)| (seq, c, ev))),
    }))
}

impl EventStore {
    /// Opens (or creates) the store in `dir` and reads what it keeps, one
    /// event at a time into `visit` (oldest first; nothing is kept here);
    /// `covered` is where the checkpoint thread reads how far it covers.
    pub fn open(
        dir: &Path,
        durability: DurabilityMode,
        covered: Covered,
        visit: &mut dyn FnMut(LoadedEvent),
    ) -> Result<(EventStore, Loaded), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the event store: {e}", dir.display()))?;
        let opts = JournalOptions {
            mode: mode(durability),
            segment_bytes_max: SEGMENT_BYTES_MAX,
            // Power-loss tests: what the store made durable is recorded
            // like the order journal's, or the harness cuts it away.
            durable_log: crate::persist::durable::durable_log()?,
            ..JournalOptions::default()
        };
        let (journal, _) = Journal::open(dir, opts).map_err(|e| format!("the event store: {e}"))?;
        let mut loaded = Loaded::default();
        let mut index = VecDeque::new();
        // The retention deletes old segments: what is kept starts at the
        // first segment left, not at record 1.
        let first = orch_journal::segment::list_segments(dir)
            .map_err(|e| format!("{}: the event store: {e}", dir.display()))?
            .first()
            .map_or(1, |s| s.first_seq);
        for record in records(dir, first)? {
            let (seq, covered, events) = record?;
            loaded.covered = loaded.covered.max(covered);
            let mut last = 0;
            for e in events {
                last = e.event.seq;
                loaded.events += 1;
                visit(e);
            }
            if last > 0 {
                index.push_back((seq, last));
            }
        }
        covered.set(loaded.covered);
        Ok((
            EventStore {
                journal,
                dir: dir.to_path_buf(),
                covered,
                index: Mutex::new(index),
                reads: AtomicU64::new(0),
            },
            loaded,
        ))
    }

    /// Per order id, the highest `order_seq` among the kept events derived
    /// from order journal records up to `upto` (how far a snapshot's
    /// orders had counted): read from disk, at start.
    pub fn counts_upto(&self, upto: u64) -> Result<HashMap<String, u32>, String> {
        let mut out: HashMap<String, u32> = HashMap::new();
        let first = self.first_record().unwrap_or(1);
        for record in records(&self.dir, first)? {
            for e in record?.2.into_iter().filter(|e| e.source <= upto) {
                if let (Some(id), Some(n)) = (&e.event.order_id, e.event.order_seq) {
                    let c = out.entry(id.to_string()).or_default();
                    *c = (*c).max(n);
                }
            }
        }
        Ok(out)
    }

    fn first_record(&self) -> Option<u64> {
        let index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        index.front().map(|&(rec, _)| rec)
    }

    /// The events after `after` and before `before` (kept, stored), paged
    /// as the feed pages (`limit`, `types`). `Err` when the store no
    /// longer has the event after `after` (the retention deleted its
    /// segment meanwhile: the caller answers 410) or cannot be read.
    pub fn read_after(
        &self,
        after: u64,
        before: u64,
        limit: usize,
        types: TypeSet,
    ) -> Result<DiskPage, String> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        crate::metrics::events_disk_read();
        let start = {
            let index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            // The first record whose last event comes after `after`.
            let i = index.partition_point(|&(_, last)| last <= after);
            index.get(i).map(|&(rec, _)| rec)
        };
        let Some(start) = start else {
            return Err(format!("the event store holds no event after {after}"));
        };
        let mut events = Vec::new();
        let mut next = after;
        for record in records(&self.dir, start)? {
            let batch = record?.2;
            let wanted: Vec<Arc<Event>> = batch
                .into_iter()
                .map(|e| e.event)
                .filter(|e| e.seq > next && e.seq < before)
                .collect();
            if let Some(first) = wanted.first() {
                if first.seq != next + 1 {
                    return Err(format!(
                        "the event store lacks event {} (it starts at {})",
                        next + 1,
                        first.seq
                    ));
                }
            }
            let (page, last, complete) = page_over(&wanted, next, limit - events.len(), types);
            events.extend(page);
            next = last;
            if complete || next + 1 >= before {
                return Ok(DiskPage {
                    complete,
                    events,
                    next,
                });
            }
        }
        Err(format!(
            "the event store ends at event {next}, before {before}"
        ))
    }

    /// Reads of old events served since start.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Bytes of the store's files on disk.
    pub fn disk_bytes(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()?.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Appends the events derived from the order journal records up to
    /// `covered` (`source` per event) and, once durable, says the store
    /// covers them. Blocks until durable; an error leaves `covered` where it
    /// was (the checkpoint thread then keeps the order journal).
    pub fn append(&self, covered: u64, events: &[(Arc<Event>, Millis, u64)]) -> Result<(), String> {
        let batch = StoredBatch {
            covered,
            events: events
                .iter()
                .map(|(e, at, source)| StoredEvent {
                    seq: e.seq,
                    kind: e.kind.as_str().to_string(),
                    at: *at,
                    created_at: e.created_at.clone(),
                    order_id: e.order_id.as_ref().map(|s| s.to_string()),
                    order_seq: e.order_seq,
                    source: *source,
                    data: e.data.to_string(),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&batch).map_err(|e| e.to_string())?;
        let seq = self
            .journal
            .append(bytes)
            .wait()
            .map_err(|e| format!("the event store: {e}"))?;
        if let Some((e, _, _)) = events.last() {
            self.index
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_back((seq, e.seq));
        }
        self.covered.set(self.covered.get().max(covered));
        Ok(())
    }

    /// Deletes the segments whose events are all older than `oldest_kept`
    /// (the feed's oldest event seq): the retention on disk.
    pub fn forget_before(&self, oldest_kept: u64) {
        let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
        let mut upto = None;
        while let Some(&(rec, last)) = index.front() {
            if last >= oldest_kept {
                break;
            }
            upto = Some(rec);
            index.pop_front();
        }
        if let Some(rec) = upto {
            if let Err(e) = self.journal.delete_segments_before(rec + 1) {
                tracing::warn!(error = %e, "the event store: old segments stay");
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An `order.placed` event numbered `seq` carrying `data`.
    pub(crate) fn event(seq: u64, data: serde_json::Value) -> Arc<Event> {
        Arc::new(Event {
            id: orch_events::envelope::event_id(seq),
            seq,
            kind: EventType::parse("order.placed").expect("a type"),
            created_at: "2026-12-04T00:00:00Z".into(),
            order_id: Some(Arc::from(format!("o-{seq}"))),
            order_seq: Some(1),
            data,
        })
    }

    /// Opens the store in `dir` (mode os): the store, what it held, and
    /// the seqs of the events it read back.
    pub(crate) fn open(dir: &Path) -> Result<(EventStore, Loaded, Vec<u64>), String> {
        let mut back = Vec::new();
        let (store, loaded) =
            EventStore::open(dir, DurabilityMode::Os, Covered::default(), &mut |e| {
                back.push(e.event.seq)
            })?;
        Ok((store, loaded, back))
    }

    /// Once the retention deleted the first segments, the store opens
    /// again and brings back what it kept (it once read from record 1 and
    /// refused to start: "journal records from seq 1 were deleted").
    #[test]
    fn a_store_whose_old_segments_went_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        let pad = serde_json::json!({ "pad": "x".repeat(100_000) });
        let (store, _, _) = open(dir.path()).unwrap();
        for seq in 1..=100 {
            store
                .append(seq, &[(event(seq, pad.clone()), 0, seq)])
                .unwrap();
        }
        store.forget_before(60);
        let segments = orch_journal::segment::list_segments(dir.path()).unwrap();
        assert!(segments[0].first_seq > 1, "old segments were deleted");
        drop(store);
        let (_, loaded, back) =
            open(dir.path()).expect("opens after the retention deleted segments");
        assert_eq!(loaded.covered, 100);
        assert_eq!(back.last(), Some(&100));
        assert!(back[0] > 1 && back[0] <= 60, "{:?}", &back[..3]);
    }
}
