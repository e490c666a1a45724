//! Recovery: load the latest snapshot, replay the journal records written
//! after it, and hand the result to the actors before any traffic.
//!
//! Replay goes through [`orch_actors::sim::World::replay`], which derives
//! what each order event implies for cells, desks and facility queues. A torn
//! tail was already cut by the journal when it opened; a record that does
//! not decode is a startup error naming its sequence number, never skipped.
//! The checkpoint thread runs the same procedure to make the next snapshot.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use orch_actors::cell::CellEvent;
use orch_actors::facility::FacilityEvent;
use orch_actors::hold::{HoldLine, HoldState};
use orch_actors::log::LogEntry;
use orch_actors::sim::World;
use orch_actors::{CellKey, OrderNo};
use orch_config::{Config, DurabilityMode, Millis};

use super::codec;
use super::snapshot::SnapshotStore;
use super::Durability;

/// What recovery rebuilt.
pub struct Recovered {
    /// Every state machine as of the last durable record.
    pub world: World,
    /// Receipt ids already applied (idempotency).
    pub receipts: Vec<Arc<str>>,
    /// Adjustment ids already applied (idempotency).
    pub adjustments: Vec<Arc<str>>,
    /// Sequence number the snapshot covered (0: none).
    pub snapshot_seq: u64,
    /// Journal records read after the snapshot.
    pub records: u64,
    /// Entries replayed.
    pub entries: u64,
    /// Sequence number of the last record applied.
    pub last_seq: u64,
    /// Time spent loading and replaying.
    pub duration: Duration,
    /// Orders with events after the snapshot (the others are as it holds them).
    pub touched: std::collections::HashSet<orch_actors::OrderNo>,
}

/// The world in the latest snapshot, or the configured network; with
/// `chunks`, only the orders of those chunks (a delta checkpoint's).
pub fn base_with(
    cfg: &Config,
    store: Option<&SnapshotStore>,
    now: Millis,
    chunks: Option<&BTreeSet<u64>>,
) -> Result<Recovered, String> {
    let started = Instant::now();
    let mut world = World::new(cfg, now);
    let (mut receipts, mut adjustments, mut snapshot_seq) = (Vec::new(), Vec::new(), 0);
    if let Some(loaded) = store.map(|s| s.load_with(chunks)).transpose()?.flatten() {
        if loaded.facilities.len() != world.facilities.len() {
            return Err(format!(
                "the snapshot holds {} facilities, the configuration {}: the network changed",
                loaded.facilities.len(),
                world.facilities.len()
            ));
        }
        world.cells = loaded.cells.into_iter().collect();
        world.orders = loaded.orders.into_iter().map(|o| (o.no(), o)).collect();
        world.desks = loaded.desks.into_iter().collect();
        world.facilities = loaded.facilities;
        world.set_next_order_no(loaded.meta.next_order);
        restore_holds(&mut world, loaded.holds);
        receipts = loaded.receipts;
        adjustments = loaded.adjustments;
        snapshot_seq = loaded.meta.seq;
    }
    Ok(Recovered {
        world,
        receipts,
        adjustments,
        snapshot_seq,
        records: 0,
        entries: 0,
        last_seq: snapshot_seq,
        duration: started.elapsed(),
        touched: Default::default(),
    })
}

/// The orders the journal records after `from` (up to `upto`, inclusive)
/// name: their own events and the fulfillments of the waves released.
/// A delta checkpoint loads these and replays onto them.
pub fn orders_named(dir: &Path, from: u64, upto: u64) -> Result<BTreeSet<OrderNo>, String> {
    let mut named = BTreeSet::new();
    for record in records(dir, from, Some(upto))? {
        let (_, entries) = record?;
        for entry in &entries {
            match entry {
                LogEntry::Order(no, _) => {
                    named.insert(*no);
                }
                LogEntry::Facility(_, FacilityEvent::WaveReleased { fulfillments, .. }) => {
                    named.extend(fulfillments.iter().map(|f| f.order));
                }
                _ => {}
            }
        }
    }
    Ok(named)
}

/// The journal records after `from` (up to `upto`, inclusive, when given),
/// decoded, in order; a record that does not decode is an error naming it.
fn records(
    dir: &Path,
    from: u64,
    upto: Option<u64>,
) -> Result<impl Iterator<Item = Result<(u64, Vec<LogEntry>), String>> + '_, String> {
    let reader = orch_journal::read_from(dir, from + 1).map_err(|e| e.to_string())?;
    Ok(reader
        .take_while(move |r| !matches!((r, upto), (Ok((seq, _)), Some(u)) if *seq > u))
        .map(move |record| {
            let (seq, payload) = record.map_err(|e| e.to_string())?;
            let entries = codec::decode(&payload)
                .map_err(|e| format!("{}: journal record {seq}: {e}", dir.display()))?;
            Ok((seq, entries))
        }))
}

/// Puts the snapshot's hold records back, with the units the active ones
/// hold in their cells (a cell's stored form leaves held units out).
fn restore_holds(world: &mut World, holds: Vec<HoldState>) {
    for hold in holds {
        for (facility, line, ol) in hold.units_held() {
            let key = CellKey {
                sku: ol.sku,
                facility,
            };
            world.cells.entry(key).or_default().apply(&CellEvent::Held {
                hold: HoldLine {
                    hold: hold.no(),
                    line,
                },
                qty: ol.qty,
            });
        }
        world.holds.insert(hold.no(), hold);
    }
}

/// What else a replay feeds: the events tail rebuilds its feed from the
/// same records recovery applies (see `crate::events_out`).
pub trait ReplaySink {
    /// The orders and holds as the snapshot holds them (every one, before
    /// any record is replayed); `snapshot_seq` 0 when there is no snapshot.
    fn snapshot(
        &mut self,
        orders: &mut dyn Iterator<Item = &orch_actors::order::OrderState>,
        holds: &mut dyn Iterator<Item = &HoldState>,
        snapshot_seq: u64,
        now: Millis,
    );
    /// One replayed record's entries, in journal order.
    fn record(&mut self, seq: u64, entries: &[LogEntry], now: Millis);
}

/// Replays journal records after `r.last_seq` (up to `upto`, inclusive,
/// when given) onto `r`.
pub fn replay(r: &mut Recovered, dir: &Path, upto: Option<u64>) -> Result<(), String> {
    replay_into(r, dir, upto, None, 0)
}

/// [`replay`], handing each record to `sink` too (dated `now`).
fn replay_into(
    r: &mut Recovered,
    dir: &Path,
    upto: Option<u64>,
    mut sink: Option<&mut dyn ReplaySink>,
    now: Millis,
) -> Result<(), String> {
    let started = Instant::now();
    for record in records(dir, r.last_seq, upto)? {
        let (seq, entries) = record?;
        for entry in &entries {
            match entry {
                LogEntry::Order(no, _) => {
                    r.touched.insert(*no);
                }
                LogEntry::Received { receipt_id, .. } => r.receipts.push(receipt_id.clone()),
                LogEntry::Adjusted { adjustment_id, .. } => {
                    r.adjustments.push(adjustment_id.clone())
                }
                _ => {}
            }
            r.world
                .replay(entry)
                .map_err(|e| format!("{}: journal record {seq}: {e}", dir.display()))?;
        }
        if let Some(sink) = sink.as_deref_mut() {
            sink.record(seq, &entries, now);
        }
        r.records += 1;
        r.entries += entries.len() as u64;
        r.last_seq = seq;
    }
    r.duration += started.elapsed();
    Ok(())
}

/// Loads the latest snapshot and replays the journal after it.
pub fn recover(
    cfg: &Config,
    durability: &Durability,
    store: Option<&SnapshotStore>,
    now: Millis,
) -> Result<Recovered, String> {
    recover_into(cfg, durability, store, now, None)
}

/// [`recover`], feeding `sink` the snapshot's orders and every record
/// replayed (the events tail).
pub fn recover_into(
    cfg: &Config,
    durability: &Durability,
    store: Option<&SnapshotStore>,
    now: Millis,
    mut sink: Option<&mut dyn ReplaySink>,
) -> Result<Recovered, String> {
    let mut r = base_with(cfg, store, now, None)?;
    if let Some(sink) = sink.as_deref_mut() {
        sink.snapshot(
            &mut r.world.orders.values(),
            &mut r.world.holds.values(),
            r.snapshot_seq,
            now,
        );
    }
    if durability.mode() != DurabilityMode::None {
        replay_into(&mut r, durability.dir(), None, sink, now)?;
    }
    Ok(r)
}
