//! The sampler: a thread that turns what the core already publishes (the
//! facility boards, the desks' waiting counts, the registry, `pending`, the
//! wave broadcast, the journal's statistics, what recovery replayed, the
//! checkpointer's last snapshot) into
//! gauges and counters, so that no actor pays for metrics on its hot path.
//!
//! One sampler per HTTP server (started and stopped with it). Two cores in
//! one process share the recorder, so their gauges overwrite each other:
//! run one core per process where the numbers matter.
//!
//! Must never: send a message to an actor (a slow mailbox must not slow the
//! gauges, nor the gauges the mailbox).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::metrics::{counter, gauge};
use tokio::sync::broadcast::error::TryRecvError;

use crate::app::Core;
use crate::facade::Orchestrator;
use crate::metrics::catalog::*;

pub mod host;

/// How often waves are drained from the broadcast.
const TICK: Duration = Duration::from_millis(100);
/// Gauges are sampled every this many ticks (1 s).
const GAUGE_TICKS: u32 = 10;

/// Reads `/v1` requests in flight (the HTTP server's counter).
pub type InflightFn = Box<dyn Fn() -> usize + Send>;

/// A running sampler; stops (and joins its thread) when dropped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling `core` (installs the recorder if needed).
    pub fn start(core: Core, inflight: Option<InflightFn>) -> std::io::Result<Sampler> {
        crate::metrics::install();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("orchestrator-metrics".into())
            .spawn(move || match core {
                Core::Shells(o) => run(o, inflight, &flag),
                Core::Host(h) => host::run(h, inflight, &flag),
            })?;
        Ok(Sampler {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(core: Orchestrator, inflight: Option<InflightFn>, stop: &AtomicBool) {
    let mut waves = core.subscribe_waves();
    let recovered = core.recovery_info();
    crate::metrics::recovery_finished(recovered.duration, recovered.events);
    let shared = core.shared().clone();
    let ids: Vec<String> = shared
        .catalog
        .facilities()
        .iter()
        .map(|f| f.id.clone())
        .collect();
    // Every facility's series exist from the start, so a rate over them
    // starts at 0 rather than at the first event.
    for id in &ids {
        counter!(FULFILLMENTS_ROUTED, "facility" => id.clone()).absolute(0);
        for t in Orchestrator::wave_triggers() {
            counter!(WAVES_RELEASED, "facility" => id.clone(), "trigger" => t).increment(0);
        }
    }
    let mut journal = JournalTotals::default();
    // The generation of the last snapshot reported.
    let mut snapshot_generation = None;
    // Ticks since the last gauge sample; the first tick samples.
    let mut since_sample = GAUGE_TICKS;
    while !stop.load(Ordering::Acquire) {
        loop {
            match waves.try_recv() {
                Ok(w) => {
                    let id = ids
                        .get(usize::from(w.facility.0))
                        .map_or("unknown", String::as_str);
                    crate::metrics::wave_released(
                        id,
                        w.wave.trigger.as_str(),
                        w.wave.fulfillments.len(),
                    );
                }
                Err(TryRecvError::Lagged(n)) => {
                    tracing::warn!(waves = n, "metrics: missed waves (broadcast lagged)");
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if since_sample >= GAUGE_TICKS {
            sample(&core, &ids, inflight.as_deref());
            journal.sample(&core.journal_stats());
            if let Some(s) = core.snapshot_info() {
                if snapshot_generation != Some(s.meta.generation) {
                    snapshot_generation = Some(s.meta.generation);
                    crate::metrics::snapshot_taken(
                        s.meta.taken_at,
                        s.duration,
                        s.full,
                        s.orders_written,
                    );
                }
            }
            registry(&core);
            since_sample = 0;
        }
        since_sample += 1;
        std::thread::sleep(TICK);
    }
}

fn sample(core: &Orchestrator, ids: &[String], inflight: Option<&(dyn Fn() -> usize + Send)>) {
    let shared = core.shared();
    for (i, b) in shared.boards.iter().enumerate() {
        let id = ids.get(i).cloned().unwrap_or_default();
        gauge!(FACILITY_QUEUED, "facility" => id.clone())
            .set(f64::from(b.queued.load(Ordering::Relaxed)));
        gauge!(FACILITY_OPEN_WAVES, "facility" => id.clone())
            .set(f64::from(b.open_waves.load(Ordering::Relaxed)));
        gauge!(FACILITY_CAPACITY_USED, "facility" => id.clone())
            .set(f64::from(b.capacity_used_ppm.load(Ordering::Relaxed)) / 1e6);
        let enabled = b.enabled_at(crate::clock::now_ms());
        gauge!(FACILITY_ENABLED, "facility" => id).set(if enabled { 1.0 } else { 0.0 });
    }
    let waiting: usize = shared.desk_waiting.iter().map(|e| *e.value()).sum();
    gauge!(BACKORDER_LINES_WAITING).set(waiting as f64);
    gauge!(MESSAGES_PENDING).set(shared.pending.load(Ordering::Acquire).max(0) as f64);
    if let Some(f) = inflight {
        gauge!(HTTP_REQUESTS_INFLIGHT).set(f() as f64);
    }
    crate::metrics::publish_process_gauges();
}

/// The journal's totals at the previous sample, for the derived batch
/// histograms (see `metrics::journal_batches_derived`).
#[derive(Default)]
pub(crate) struct JournalTotals {
    batches: u64,
    commit_ns: u64,
    records: u64,
}

impl JournalTotals {
    fn sample(&mut self, s: &orch_journal::JournalStats) {
        crate::metrics::journal_stats(s);
        crate::metrics::journal_batches_derived(
            s.batches.saturating_sub(self.batches),
            s.commit_ns_total.saturating_sub(self.commit_ns),
            s.records.saturating_sub(self.records),
        );
        self.batches = s.batches;
        self.commit_ns = s.commit_ns_total;
        self.records = s.records;
    }
}

fn registry(core: &Orchestrator) {
    let shared = core.shared();
    // TODO(durability owner): `cells()`/`desks()` copy the registry; a
    // `len()` on Shared would make this free.
    let counts = [
        ("order", shared.orders.len()),
        ("cell", shared.cells().len()),
        ("desk", shared.desks().len()),
        ("facility", shared.facilities().len()),
    ];
    for (kind, n) in counts {
        gauge!(RESIDENT_ACTORS, "kind" => kind).set(n as f64);
    }
}
