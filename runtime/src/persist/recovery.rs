//! Recovery: replay the journal into the state machines before any traffic.
//!
//! Replay goes through [`orch_actors::sim::World::replay`], which derives what
//! each order event implies for cells, desks and facility queues; what it
//! reaches is then handed to the actors. A torn tail was already cut by the
//! journal when it opened; a record that does not decode is a startup error
//! naming its sequence number, never skipped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use orch_actors::log::LogEntry;
use orch_actors::sim::World;
use orch_config::{Config, DurabilityMode, Millis};

use super::codec;
use super::Durability;

/// What recovery rebuilt.
pub struct Recovered {
    /// Every state machine as of the last durable record.
    pub world: World,
    /// Receipt ids already applied (idempotency).
    pub receipts: Vec<Arc<str>>,
    /// Adjustment ids already applied (idempotency).
    pub adjustments: Vec<Arc<str>>,
    /// Journal records read.
    pub records: u64,
    /// Entries replayed.
    pub entries: u64,
    /// Sequence number of the last record.
    pub last_seq: u64,
    /// Time spent reading and replaying.
    pub duration: Duration,
}

/// Replays the journal of `durability` onto the configured network.
pub fn recover(cfg: &Config, durability: &Durability, now: Millis) -> Result<Recovered, String> {
    let started = Instant::now();
    let mut world = World::new(cfg, now);
    let (mut receipts, mut adjustments) = (Vec::new(), Vec::new());
    let (mut records, mut replayed, mut last_seq) = (0u64, 0u64, 0u64);
    if durability.mode() != DurabilityMode::None {
        let reader = orch_journal::read_from(durability.dir(), 1).map_err(|e| e.to_string())?;
        for record in reader {
            let (seq, payload) = record.map_err(|e| e.to_string())?;
            let entries = codec::decode(&payload).map_err(|e| {
                format!("{}: journal record {seq}: {e}", durability.dir().display())
            })?;
            for entry in &entries {
                match entry {
                    LogEntry::Received { receipt_id, .. } => receipts.push(receipt_id.clone()),
                    LogEntry::Adjusted { adjustment_id, .. } => {
                        adjustments.push(adjustment_id.clone())
                    }
                    _ => {}
                }
                world.replay(entry).map_err(|e| {
                    format!("{}: journal record {seq}: {e}", durability.dir().display())
                })?;
            }
            records += 1;
            replayed += entries.len() as u64;
            last_seq = seq;
        }
    }
    Ok(Recovered {
        world,
        receipts,
        adjustments,
        records,
        entries: replayed,
        last_seq,
        duration: started.elapsed(),
    })
}
