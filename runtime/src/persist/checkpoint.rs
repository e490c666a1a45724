//! The checkpoint thread: makes a snapshot every `snapshot_interval_ms` or
//! after `snapshot_events_max` journal records, by running recovery in the
//! background (see `snapshot`), then deletes the journal segments the new
//! snapshot covers. The actors are never paused.
//!
//! A checkpoint writes what changed since the last one: it reads which
//! orders the journal records since the snapshot name, loads only their
//! chunks, replays onto them and writes those chunks as a delta layer. A
//! whole checkpoint (every order loaded and written) runs first after a
//! start and then every [`FULL_SWEEP_MS`]: it is the one that forgets the
//! finished orders past `orders_retention_ms`. The finished orders not yet
//! idle are remembered from one checkpoint to the next ([`Memo`]), so a
//! delta lets them leave memory once they are idle without reading every
//! order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orch_config::Config;

use std::collections::{BTreeMap, BTreeSet};

use orch_actors::hold::{HoldNo, HoldStatus};
use orch_actors::OrderNo;
use orch_config::Millis;

use super::recovery::{base_with, orders_named, replay, Recovered};
use super::snapshot::{chunk_of, OrdersWritten, SnapshotMeta, SnapshotStore};
use super::Durability;
use crate::clock::now_ms;

/// Longest a checkpoint waits for the event store to reach the journal
/// before it snapshots only as far as the store has come.
pub const EVENTS_CATCH_UP_MAX: Duration = Duration::from_secs(2);

/// How often a checkpoint is whole (every order loaded and written; the
/// finished orders past retention are forgotten then) rather than a delta:
/// an hour.
pub const FULL_SWEEP_MS: Millis = 3_600_000;

/// What a checkpoint remembers for the next one (kept by the store).
#[derive(Debug, Default)]
pub struct Memo {
    /// When the last whole checkpoint ran (none yet since the start).
    full_at: Option<Millis>,
    /// Finished orders the snapshot holds that were not yet idle: their
    /// last change and timeline length.
    finished: BTreeMap<OrderNo, (Millis, usize)>,
}

/// What the last checkpoint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The snapshot it made current.
    pub meta: SnapshotMeta,
    /// Load + replay + write time.
    pub duration: Duration,
    /// Journal records replayed into it.
    pub records: u64,
    /// Journal segments deleted after it.
    pub segments_deleted: usize,
    /// Finished, idle orders that left memory after it (passivated).
    pub passivated: usize,
    /// Finished orders past `orders_retention_ms` it no longer holds.
    pub forgotten: usize,
    /// Ended holds past `orders_retention_ms` it no longer holds.
    pub holds_forgotten: usize,
    /// Orders it wrote (every order on a whole checkpoint, those of the
    /// chunks that changed on a delta; 0 when nothing changed).
    pub orders_written: usize,
    /// Whether it was whole (every order) rather than a delta.
    pub full: bool,
}

/// Orders a snapshot holds that may leave memory: finished and idle for
/// `passivate_after_ms`, with their timeline length.
pub type Idle = Vec<(orch_actors::OrderNo, usize)>;

/// A finished order past `durability.orders_retention_ms`: its number,
/// its timeline length in the snapshot and its client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Old {
    /// The order's number.
    pub no: orch_actors::OrderNo,
    /// Its timeline length as the snapshot holds it (a live order with
    /// another length changed since, and stays).
    pub timeline: usize,
    /// Its client id.
    pub order_id: Arc<str>,
}

/// What the engine does with the ended orders a checkpoint finds.
pub trait Retire: Send + Sync {
    /// The finished orders idle for `passivate_after_ms`, which the new
    /// snapshot holds, may leave memory; answers how many did.
    fn passivate(&self, idle: &Idle) -> usize;
    /// The finished orders past `orders_retention_ms` may be forgotten:
    /// answers those the engine let go (unchanged since the snapshot,
    /// nothing waiting for them). Only those leave the next snapshot.
    fn forget(&self, old: &[Old]) -> Vec<orch_actors::OrderNo>;
    /// The ended holds (released, expired, converted) past
    /// `orders_retention_ms` may be forgotten: answers those the engine
    /// let go. Only those leave the next snapshot. None by default.
    fn forget_holds(&self, _old: &[OldHold]) -> Vec<HoldNo> {
        Vec::new()
    }
}

/// An ended hold past `durability.orders_retention_ms`: its number and its
/// client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldHold {
    /// The hold's number.
    pub no: HoldNo,
    /// Its client id.
    pub hold_id: Arc<str>,
}

/// Keeps every order in memory and forever (tests, tools).
pub struct KeepAll;

impl Retire for KeepAll {
    fn passivate(&self, _: &Idle) -> usize {
        0
    }
    fn forget(&self, _: &[Old]) -> Vec<orch_actors::OrderNo> {
        Vec::new()
    }
}

/// Makes one snapshot covering every journal record written so far:
/// a whole one when due (see [`FULL_SWEEP_MS`]; first `owner` may forget
/// the finished orders past retention, those it lets go are not written),
/// else a delta of the orders that changed; then, once the snapshot is
/// current, the finished idle orders it holds may leave memory.
pub fn checkpoint(
    cfg: &Config,
    store: &SnapshotStore,
    durability: &Durability,
    owner: &dyn Retire,
) -> Result<SnapshotInfo, String> {
    let started = Instant::now();
    let mut memo = store.memo();
    // In fsync mode only what is fdatasynced: a snapshot must never cover a
    // record that a power cut could still take from the journal (its
    // sequence number would be given again to a different record).
    let stats = durability.stats();
    let upto = if durability.mode() == orch_config::DurabilityMode::Fsync {
        stats.durable_seq
    } else {
        stats.last_seq
    };
    // Nor past what the event store has the events of: the journal keeps
    // the records the feed may still have to derive again. The tail stores
    // each batch as it takes it, so it is waited for a moment.
    let covered = durability.events_covered();
    let deadline = Instant::now() + EVENTS_CATCH_UP_MAX;
    while covered.get() < upto && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let upto = upto.min(covered.get());
    let now = now_ms();
    let previous = store.meta()?;
    let full = match (&previous, memo.full_at) {
        (Some(_), Some(at)) => now.saturating_sub(at) >= FULL_SWEEP_MS,
        _ => true,
    };
    let run = Run {
        cfg,
        store,
        durability,
        owner,
        upto,
        now,
        previous: previous.as_ref(),
    };
    let (r, (forgotten, holds_forgotten), written, idle) = if full {
        run.whole(&mut memo)?
    } else {
        run.delta(&mut memo)?
    };
    let (meta, orders_written) = match (written, previous) {
        (Some(w), _) => w,
        // Nothing changed: the current snapshot stands.
        (None, Some(current)) => (current, 0),
        (None, None) => return Err("a checkpoint without a snapshot wrote none".into()),
    };
    let segments_deleted = durability.delete_before(meta.seq + 1)?;
    let passivated = owner.passivate(&idle);
    Ok(SnapshotInfo {
        meta,
        duration: started.elapsed(),
        records: r.records,
        segments_deleted,
        passivated,
        forgotten,
        holds_forgotten,
        orders_written,
        full,
    })
}

/// What a checkpoint works with.
#[derive(Clone, Copy)]
struct Run<'a> {
    cfg: &'a Config,
    store: &'a SnapshotStore,
    durability: &'a Durability,
    owner: &'a dyn Retire,
    /// The last journal record it covers.
    upto: u64,
    now: Millis,
    /// The current snapshot, if any.
    previous: Option<&'a SnapshotMeta>,
}

/// What one way of checkpointing did: the replay, the orders and holds
/// forgotten, the meta written with the orders it wrote (none when nothing
/// changed) and the idle finished orders that may leave memory.
type Made = (Recovered, (usize, usize), Wrote, Idle);

/// What a checkpoint wrote: the new current meta and the orders written;
/// none when nothing changed since the current snapshot.
type Wrote = Option<(SnapshotMeta, usize)>;

/// The receipt and adjustment ids a snapshot keeps: the last
/// `seen_ids_max` (what a restored shard remembers; older ones would be
/// dropped on loading anyway).
fn bound_ids(cfg: &Config, r: &mut Recovered) {
    let max = cfg.limits.seen_ids_max as usize;
    for ids in [&mut r.receipts, &mut r.adjustments] {
        let over = ids.len().saturating_sub(max);
        ids.drain(..over);
    }
}

/// Asks `owner` to let go of the finished orders of `r` past
/// `orders_retention_ms`, and removes those it let go; answers them.
fn forget_old(cfg: &Config, owner: &dyn Retire, r: &mut Recovered, now: Millis) -> Vec<OrderNo> {
    let retained_after = now.saturating_sub(cfg.durability.orders_retention_ms);
    let old: Vec<Old> = r
        .world
        .orders
        .values()
        .filter(|o| o.status().is_final() && o.last_change() < retained_after)
        .map(|o| Old {
            no: o.no(),
            timeline: o.timeline().len(),
            order_id: o.request().order_id.clone(),
        })
        .collect();
    let forgotten = if old.is_empty() {
        Vec::new()
    } else {
        owner.forget(&old)
    };
    for no in &forgotten {
        r.world.orders.remove(no);
    }
    forgotten
}

/// Asks `owner` to let go of the ended holds of `r` past
/// `orders_retention_ms` (the hold records are written whole by every
/// checkpoint), and removes those it let go; answers how many.
fn forget_old_holds(cfg: &Config, owner: &dyn Retire, r: &mut Recovered, now: Millis) -> usize {
    let retained_after = now.saturating_sub(cfg.durability.orders_retention_ms);
    let old: Vec<OldHold> = r
        .world
        .holds
        .values()
        .filter(|h| h.status() != HoldStatus::Active && h.last_change() < retained_after)
        .map(|h| OldHold {
            no: h.no(),
            hold_id: h.request().hold_id.clone(),
        })
        .collect();
    if old.is_empty() {
        return 0;
    }
    let gone = owner.forget_holds(&old);
    for no in &gone {
        r.world.holds.remove(no);
    }
    gone.len()
}

impl Run<'_> {
    /// Writes `r` as the new snapshot (with the ids bounded); answers its
    /// meta and the orders written.
    fn write(
        self,
        r: &mut Recovered,
        which: OrdersWritten<'_>,
    ) -> Result<(SnapshotMeta, usize), String> {
        bound_ids(self.cfg, r);
        let w = self.store.write(
            &r.world,
            &r.receipts,
            &r.adjustments,
            r.last_seq,
            self.now,
            which,
        )?;
        Ok((w.meta, w.orders))
    }

    /// Lets `owner` forget what in `r` is past retention, then writes `r`
    /// (orders as `which` says) unless nothing changed since the current
    /// snapshot; answers the orders forgotten, the holds forgotten, and
    /// what was written.
    fn forget_and_write(
        self,
        r: &mut Recovered,
        which: OrdersWritten<'_>,
    ) -> Result<(Vec<OrderNo>, usize, Wrote), String> {
        let forgotten = forget_old(self.cfg, self.owner, r, self.now);
        let holds_gone = forget_old_holds(self.cfg, self.owner, r, self.now);
        let unchanged = self.previous.is_some_and(|p| p.seq == r.last_seq)
            && forgotten.is_empty()
            && holds_gone == 0;
        let written = if unchanged {
            None
        } else {
            Some(self.write(r, which)?)
        };
        Ok((forgotten, holds_gone, written))
    }

    /// A whole checkpoint: every order loaded, replayed onto and written.
    fn whole(self, memo: &mut Memo) -> Result<Made, String> {
        let mut r = base_with(self.cfg, Some(self.store), self.now, None)?;
        replay(&mut r, self.durability.dir(), Some(self.upto))?;
        let (forgotten, holds_gone, written) = self.forget_and_write(&mut r, OrdersWritten::All)?;
        let idle_before = self
            .now
            .saturating_sub(self.cfg.durability.passivate_after_ms);
        memo.full_at = Some(self.now);
        memo.finished.clear();
        let mut idle = Vec::new();
        for o in r.world.orders.values().filter(|o| o.status().is_final()) {
            if o.last_change() <= idle_before {
                idle.push((o.no(), o.timeline().len()));
            } else {
                memo.finished
                    .insert(o.no(), (o.last_change(), o.timeline().len()));
            }
        }
        Ok((r, (forgotten.len(), holds_gone), written, idle))
    }

    /// A delta checkpoint: only the chunks of the orders the journal records
    /// since the snapshot name are loaded, replayed onto and written (the
    /// finished orders past retention among them are forgotten too).
    fn delta(self, memo: &mut Memo) -> Result<Made, String> {
        let from = self.previous.map_or(0, |m| m.seq);
        let named = orders_named(self.durability.dir(), from, self.upto)?;
        let chunks: BTreeSet<u64> = named.iter().map(|no| chunk_of(*no)).collect();
        let mut r = base_with(self.cfg, Some(self.store), self.now, Some(&chunks))?;
        replay(&mut r, self.durability.dir(), Some(self.upto))?;
        let (forgotten, holds_gone, written) =
            self.forget_and_write(&mut r, OrdersWritten::Chunks(&chunks))?;
        for no in &forgotten {
            memo.finished.remove(no);
        }
        if written.is_some() {
            for no in &named {
                match r.world.orders.get(no) {
                    Some(o) if o.status().is_final() => {
                        memo.finished
                            .insert(*no, (o.last_change(), o.timeline().len()));
                    }
                    _ => {
                        memo.finished.remove(no);
                    }
                }
            }
        }
        let idle_before = self
            .now
            .saturating_sub(self.cfg.durability.passivate_after_ms);
        let mut idle = Vec::new();
        memo.finished.retain(|&no, &mut (last, timeline)| {
            let now_idle = last <= idle_before;
            if now_idle {
                idle.push((no, timeline));
            }
            !now_idle
        });
        Ok((r, (forgotten.len(), holds_gone), written, idle))
    }
}

/// The running checkpoint thread.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    last: Arc<Mutex<Option<SnapshotInfo>>>,
}

impl Checkpointer {
    /// Starts the thread; each snapshot tells `owner` which ended orders
    /// may be forgotten and which may leave memory (see [`checkpoint`]).
    pub fn start(
        cfg: Config,
        store: SnapshotStore,
        durability: Arc<Durability>,
        owner: Arc<dyn Retire>,
    ) -> Checkpointer {
        let stop = Arc::new(AtomicBool::new(false));
        let last: Arc<Mutex<Option<SnapshotInfo>>> = Arc::new(Mutex::new(None));
        let (stop2, last2) = (stop.clone(), last.clone());
        let interval = Duration::from_millis(cfg.durability.snapshot_interval_ms.max(1));
        let events_max = cfg.durability.snapshot_events_max.max(1);
        let thread = std::thread::Builder::new()
            .name("orchestrator-checkpoint".into())
            .spawn(move || {
                let mut since = Instant::now();
                let mut covered = store.meta().ok().flatten().map_or(0, |m| m.seq);
                while !stop2.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(100));
                    let written = durability.stats().last_seq;
                    let due = since.elapsed() >= interval
                        || written.saturating_sub(covered) >= events_max;
                    if !due || written == covered || !durability.stats().healthy {
                        continue;
                    }
                    since = Instant::now();
                    match checkpoint(&cfg, &store, &durability, owner.as_ref()) {
                        Ok(info) => {
                            tracing::info!(
                                seq = info.meta.seq,
                                generation = info.meta.generation,
                                records = info.records,
                                ms = info.duration.as_millis() as u64,
                                segments_deleted = info.segments_deleted,
                                passivated = info.passivated,
                                forgotten = info.forgotten,
                                holds_forgotten = info.holds_forgotten,
                                orders_written = info.orders_written,
                                full = info.full,
                                "snapshot written"
                            );
                            covered = info.meta.seq;
                            *last2.lock().unwrap_or_else(|p| p.into_inner()) = Some(info);
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "snapshot failed; the journal is kept")
                        }
                    }
                }
            })
            .expect("spawn the checkpoint thread");
        Checkpointer {
            stop,
            thread: Some(thread),
            last,
        }
    }

    /// What the last checkpoint did, if one ran.
    pub fn last(&self) -> Option<SnapshotInfo> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Stops the thread (after the checkpoint in progress, if any).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
