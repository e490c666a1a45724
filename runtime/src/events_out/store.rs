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
//! What it never does: decide an event (the tail does), or keep events the
//! feed's retention dropped (segments older than the oldest kept event go).

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use orch_config::{DurabilityMode, Millis};
use orch_events::{Event, EventType};
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

/// What the store held at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The events, oldest first.
    pub events: Vec<LoadedEvent>,
    /// The order journal records whose events are all stored.
    pub covered: u64,
}

impl Loaded {
    /// Per order id, the highest `order_seq` among the kept events derived
    /// from records up to `upto` (how far a snapshot's orders had counted).
    pub fn counts_upto(&self, upto: u64) -> HashMap<String, u32> {
        let mut out: HashMap<String, u32> = HashMap::new();
        for e in self.events.iter().filter(|e| e.source <= upto) {
            if let (Some(id), Some(n)) = (&e.event.order_id, e.event.order_seq) {
                let c = out.entry(id.to_string()).or_default();
                *c = (*c).max(n);
            }
        }
        out
    }
}

/// The event store.
pub struct EventStore {
    journal: Journal,
    covered: Covered,
    /// (store record seq, last event seq in it), oldest first: which
    /// segments the retention may delete.
    index: Mutex<VecDeque<(u64, u64)>>,
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

impl EventStore {
    /// Opens (or creates) the store in `dir` and reads what it keeps;
    /// `covered` is where the checkpoint thread reads how far it covers.
    pub fn open(
        dir: &Path,
        durability: DurabilityMode,
        covered: Covered,
    ) -> Result<(EventStore, Loaded), String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: cannot create the event store: {e}", dir.display()))?;
        let opts = JournalOptions {
            mode: mode(durability),
            // Power-loss tests: what the store made durable is recorded
            // like the order journal's, or the harness cuts it away.
            durable_log: crate::persist::durable::durable_log()?,
            ..JournalOptions::default()
        };
        let (journal, _) = Journal::open(dir, opts).map_err(|e| format!("the event store: {e}"))?;
        let mut loaded = Loaded::default();
        let mut index = VecDeque::new();
        let reader =
            orch_journal::read_from(dir, 1).map_err(|e| format!("the event store: {e}"))?;
        for record in reader {
            let (seq, payload) = record.map_err(|e| format!("the event store: {e}"))?;
            if payload.is_empty() {
                continue;
            }
            let batch: StoredBatch = serde_json::from_slice(&payload)
                .map_err(|e| format!("the event store: record {seq} does not decode: {e}"))?;
            loaded.covered = loaded.covered.max(batch.covered);
            let mut last = 0;
            for e in batch.events {
                last = e.seq;
                let kind = EventType::parse(&e.kind).ok_or_else(|| {
                    format!("the event store: record {seq}: unknown type {}", e.kind)
                })?;
                let data = serde_json::from_str(&e.data).unwrap_or(serde_json::Value::Null);
                loaded.events.push(LoadedEvent {
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
            index.push_back((seq, last));
        }
        covered.set(loaded.covered);
        Ok((
            EventStore {
                journal,
                covered,
                index: Mutex::new(index),
            },
            loaded,
        ))
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
