//! The simulated event store, as the runtime's
//! (`runtime/src/events_out/store.rs`): a file of its own on the
//! simulated disk, one `[len u32][crc32 u32][bincode]` record per batch of
//! events the tail derived, each with the journal position it covers (the
//! entries before it have all their events stored). A batch is written
//! (in the page cache), fsynced (a seed-chosen number of steps, may fail
//! and is retried) and only then marks the store covered that far; the
//! checkpoint snapshots no further than [`EventStore::covered`].
//!
//! A power loss keeps what was fsynced plus, sometimes, a torn prefix or
//! garbage ([`SimFile`]); reading back stops at the first record that is
//! short or fails its checksum, and cuts the file there.

use std::collections::HashMap;
use std::sync::Arc;

use orch_config::Millis;
use orch_events::{Event, EventType};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::files::SimFile;

/// One stored event: the event as served, when it was derived, and the
/// journal position of the entry it came from.
#[derive(Debug, Clone)]
pub struct Kept {
    /// Journal position of its entry.
    pub pos: usize,
    /// When the tail derived it (the feed's retention by age).
    pub at: Millis,
    /// The event.
    pub event: Arc<Event>,
}

/// What the store holds after a restart.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The events, oldest first.
    pub events: Vec<Kept>,
    /// The journal entries before this position have all their events
    /// stored.
    pub covered: usize,
}

impl Loaded {
    /// Per order id, the highest `order_seq` among the kept events of the
    /// entries before position `upto` (how far a snapshot's orders had
    /// counted), as the runtime's `Loaded::counts_upto`.
    pub fn counts_upto(&self, upto: usize) -> HashMap<String, u32> {
        let mut out: HashMap<String, u32> = HashMap::new();
        for k in self.events.iter().filter(|k| k.pos < upto) {
            if let (Some(id), Some(n)) = (&k.event.order_id, k.event.order_seq) {
                let c = out.entry(id.to_string()).or_default();
                *c = (*c).max(n);
            }
        }
        out
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredEvent {
    seq: u64,
    kind: String,
    at: Millis,
    created_at: String,
    order_id: Option<String>,
    order_seq: Option<u32>,
    pos: u64,
    data: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Batch {
    covered: u64,
    events: Vec<StoredEvent>,
}

/// An fsync of the last batch in progress.
#[derive(Debug, Clone, Copy)]
struct Fsync {
    covered: usize,
    steps_left: u32,
}

/// The event store's file and how far it covers.
#[derive(Debug, Default)]
pub struct EventStore {
    file: SimFile,
    /// Position the last batch written covers (durable or not).
    written: usize,
    /// Position the last fsynced batch covers.
    covered: usize,
    fsync: Option<Fsync>,
    /// Failed writes and fsyncs so far (retried).
    pub failures: u64,
}

fn encode(covered: usize, events: &[Kept]) -> Vec<u8> {
    let batch = Batch {
        covered: covered as u64,
        events: events
            .iter()
            .map(|k| StoredEvent {
                seq: k.event.seq,
                kind: k.event.kind.as_str().to_string(),
                at: k.at,
                created_at: k.event.created_at.clone(),
                order_id: k.event.order_id.as_ref().map(|s| s.to_string()),
                order_seq: k.event.order_seq,
                pos: k.pos as u64,
                data: k.event.data.to_string(),
            })
            .collect(),
    };
    let body = bincode::serde::encode_to_vec(&batch, bincode::config::standard())
        .expect("a batch of events encodes");
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn decode(body: &[u8], at: usize) -> Result<(usize, Vec<Kept>), String> {
    let (b, _): (Batch, usize) =
        bincode::serde::decode_from_slice(body, bincode::config::standard())
            .map_err(|e| format!("event store: record at byte {at}: checksum holds but {e}"))?;
    let mut out = Vec::with_capacity(b.events.len());
    for e in b.events {
        let kind = EventType::parse(&e.kind).ok_or_else(|| {
            format!(
                "event store: record at byte {at}: kind: unknown type {:?}",
                e.kind
            )
        })?;
        let data = serde_json::from_str(&e.data)
            .map_err(|err| format!("event store: record at byte {at}: data: {err}"))?;
        out.push(Kept {
            pos: e.pos as usize,
            at: e.at,
            event: Arc::new(Event {
                id: orch_events::envelope::event_id(e.seq),
                seq: e.seq,
                kind,
                created_at: e.created_at,
                order_id: e.order_id.map(Arc::from),
                order_seq: e.order_seq,
                data,
            }),
        });
    }
    Ok((b.covered as usize, out))
}

impl EventStore {
    /// Journal position the fsynced batches cover (what a checkpoint may
    /// snapshot up to).
    pub fn covered(&self) -> usize {
        self.covered
    }

    /// Journal position the last batch written covers (durable or not).
    pub fn written(&self) -> usize {
        self.written
    }

    /// Whether a batch is being fsynced (the next waits for it).
    pub fn busy(&self) -> bool {
        self.fsync.is_some()
    }

    /// Writes a batch of `events` covering the entries before `upto` (in
    /// the page cache) and starts its fsync, unless the write fails
    /// (`write_fail`; the caller keeps the events for the next try).
    /// Returns whether it was written.
    pub fn write(
        &mut self,
        upto: usize,
        events: &[Kept],
        r: &mut ChaCha8Rng,
        write_fail: f64,
        delay_max: u32,
    ) -> bool {
        if write_fail > 0.0 && r.random_bool(write_fail) {
            self.failures += 1;
            return false;
        }
        self.file.append(&encode(upto, events));
        self.written = upto;
        self.fsync = Some(Fsync {
            covered: upto,
            steps_left: r.random_range(0..=delay_max),
        });
        true
    }

    /// Moves the running fsync on; returns the position it made covered,
    /// if it ended in this step.
    pub fn step(&mut self, r: &mut ChaCha8Rng, write_fail: f64, delay_max: u32) -> Option<usize> {
        let mut f = self.fsync?;
        if f.steps_left > 0 {
            f.steps_left -= 1;
            self.fsync = Some(f);
            return None;
        }
        if write_fail > 0.0 && r.random_bool(write_fail) {
            self.failures += 1;
            f.steps_left = r.random_range(0..=delay_max);
            self.fsync = Some(f);
            return None;
        }
        self.file.fsync();
        self.fsync = None;
        self.covered = self.covered.max(f.covered);
        Some(self.covered)
    }

    /// Power loss: what was not fsynced is lost, except (often) a torn
    /// prefix of it or a few garbage bytes. Returns those bytes' count.
    pub fn power_loss(&mut self, r: &mut ChaCha8Rng) -> usize {
        self.fsync = None;
        self.file.power_loss(r)
    }

    /// Reads the store back: every whole record whose checksum holds, up
    /// to the first that does not (the torn tail, cut off).
    pub fn recover(&mut self) -> Result<Loaded, String> {
        let bytes = self.file.bytes();
        let mut loaded = Loaded::default();
        let mut at = 0;
        while at + 8 <= bytes.len() {
            let b = &bytes[at..];
            let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
            let crc = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
            let Some(body) = b.get(8..8 + len) else { break };
            if crc32fast::hash(body) != crc {
                break;
            }
            let (covered, events) = decode(body, at)?;
            loaded.covered = loaded.covered.max(covered);
            loaded.events.extend(events);
            at += 8 + len;
        }
        self.file.truncate(at);
        self.fsync = None;
        self.covered = loaded.covered;
        self.written = loaded.covered;
        Ok(loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    fn kept(seq: u64, pos: usize) -> Kept {
        Kept {
            pos,
            at: 7,
            event: Arc::new(Event {
                id: orch_events::envelope::event_id(seq),
                seq,
                kind: EventType::OrderPlaced,
                created_at: "2026-12-04T00:00:00.000Z".into(),
                order_id: Some("o-1".into()),
                order_seq: Some(seq as u32),
                data: json!({"n": seq}),
            }),
        }
    }

    /// Only fsynced batches come back, whole, and mark the store covered;
    /// a batch in the page cache at a power loss is lost or torn.
    #[test]
    fn only_fsynced_batches_come_back_and_cover() {
        for seed in 0..100 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut s = EventStore::default();
            assert!(s.write(3, &[kept(1, 0), kept(2, 2)], &mut r, 0.0, 2));
            assert_eq!(s.covered(), 0, "not covered before its fsync");
            while s.step(&mut r, 0.0, 2).is_none() {}
            assert_eq!(s.covered(), 3);
            assert!(s.write(5, &[kept(3, 4)], &mut r, 0.0, 2));
            s.power_loss(&mut r);
            let back = s.recover().unwrap();
            assert_eq!(back.covered, 3, "seed {seed}");
            let seqs: Vec<_> = back.events.iter().map(|k| (k.event.seq, k.pos)).collect();
            assert_eq!(seqs, [(1, 0), (2, 2)], "seed {seed}");
            assert_eq!(back.events[1].event.data, json!({"n": 2}));
            assert_eq!(back.counts_upto(2)["o-1"], 1);
            assert_eq!(back.counts_upto(3)["o-1"], 2);
            // What was torn is cut: the next batch reads back after it.
            assert!(s.write(5, &[kept(3, 4)], &mut r, 0.0, 0));
            s.step(&mut r, 0.0, 0);
            assert_eq!(s.recover().unwrap().events.len(), 3, "seed {seed}");
        }
    }
}
