//! The checkpoint thread: makes a snapshot every `snapshot_interval_ms` or
//! after `snapshot_events_max` journal records, by running recovery in the
//! background (see `snapshot`), then deletes the journal segments the new
//! snapshot covers. The actors are never paused.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orch_config::Config;

use super::recovery::{base, replay};
use super::snapshot::{SnapshotMeta, SnapshotStore};
use super::Durability;
use crate::clock::now_ms;

/// Longest a checkpoint waits for the event store to reach the journal
/// before it snapshots only as far as the store has come.
pub const EVENTS_CATCH_UP_MAX: Duration = Duration::from_secs(2);

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
/// first `owner` may forget the finished orders past retention (those it
/// lets go are not written), then, once the snapshot is current, the
/// finished idle orders it holds may leave memory.
pub fn checkpoint(
    cfg: &Config,
    store: &SnapshotStore,
    durability: &Durability,
    owner: &dyn Retire,
) -> Result<SnapshotInfo, String> {
    let started = Instant::now();
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
    let mut r = base(cfg, Some(store), now)?;
    let from = r.last_seq;
    replay(&mut r, durability.dir(), Some(upto))?;
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
    let meta = if r.last_seq == from && forgotten.is_empty() && store.meta()?.is_some() {
        store.meta()?.expect("checked")
    } else {
        store.write(&r.world, &r.receipts, &r.adjustments, r.last_seq, now)?
    };
    let segments_deleted = durability.delete_before(meta.seq + 1)?;
    let idle_before = now.saturating_sub(cfg.durability.passivate_after_ms);
    let idle = r
        .world
        .orders
        .values()
        .filter(|o| o.status().is_final() && o.last_change() <= idle_before)
        .map(|o| (o.no(), o.timeline().len()))
        .collect();
    let passivated = owner.passivate(&idle);
    Ok(SnapshotInfo {
        meta,
        duration: started.elapsed(),
        records: r.records,
        segments_deleted,
        passivated,
        forgotten: forgotten.len(),
    })
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
