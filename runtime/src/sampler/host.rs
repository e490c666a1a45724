//! The sampler of the engine host (`runtime.engine = "host"`): once a
//! second, the holds and the stock cells' held units read on each shard
//! (one read job per shard, never an actor message), the host's in-flight
//! and overload counters, the journal's statistics and the last snapshot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::metrics::{counter, gauge};
use orch_actors::hold::HoldStatus;

use super::{InflightFn, JournalTotals};
use crate::hosted::start::HostedRuntime;
use crate::metrics::catalog::*;

/// Holds by status and units held, on one shard.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HoldCounts {
    /// Every hold the shard knows (each was created).
    pub created: u64,
    /// Active now.
    pub active: u64,
    /// Converted by an order.
    pub converted: u64,
    /// Released before expiry.
    pub released: u64,
    /// Expired.
    pub expired: u64,
    /// Units the shard's cells hold for active holds.
    pub units: u64,
}

impl HoldCounts {
    fn add(&mut self, o: &HoldCounts) {
        self.created += o.created;
        self.active += o.active;
        self.converted += o.converted;
        self.released += o.released;
        self.expired += o.expired;
        self.units += o.units;
    }
}

/// One facility as a shard holds it, for the gauges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FacilityGauges {
    /// Its index in the configuration.
    pub idx: usize,
    /// Fulfillments queued for a wave.
    pub queued: usize,
    /// Waves released and not finished.
    pub open_waves: usize,
    /// Share of this hour's capacity used.
    pub capacity_used: f64,
    /// Whether routing may use it now.
    pub enabled: bool,
}

/// What one shard holds, for the gauges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardGauges {
    /// Its holds.
    pub holds: HoldCounts,
    /// Its facilities.
    pub facilities: Vec<FacilityGauges>,
    /// Backordered lines waiting on its desks.
    pub waiting: usize,
    /// Its actors by kind: orders, cells, desks, holds.
    pub actors: [usize; 4],
    /// Its orders out of memory (passivated).
    pub passive: usize,
}

/// The gauges of one shard at `now`.
pub fn shard_gauges(s: &orch_engine::Shard, now: orch_config::Millis) -> ShardGauges {
    ShardGauges {
        holds: hold_counts(s),
        facilities: s
            .facilities()
            .map(|f| FacilityGauges {
                idx: usize::from(f.idx().0),
                queued: f.queued(),
                open_waves: f.open_waves(),
                capacity_used: f.capacity_used(),
                enabled: f.enabled_at(now),
            })
            .collect(),
        waiting: s.desks().map(|(_, d)| d.waiting()).sum(),
        actors: [
            s.orders().count(),
            s.cells().count(),
            s.desks().count(),
            s.holds().count(),
        ],
        passive: s.passive_orders(),
    }
}

/// The hold counts of one shard.
pub fn hold_counts(s: &orch_engine::Shard) -> HoldCounts {
    let mut c = HoldCounts::default();
    for h in s.holds() {
        c.created += 1;
        match h.status() {
            HoldStatus::Active => c.active += 1,
            HoldStatus::Converted => c.converted += 1,
            HoldStatus::Released => c.released += 1,
            HoldStatus::Expired => c.expired += 1,
        }
    }
    c.units = s.cells().map(|(_, cell)| u64::from(cell.held())).sum();
    c
}

pub(super) fn run(rt: Arc<HostedRuntime>, inflight: Option<InflightFn>, stop: &AtomicBool) {
    let Ok(tokio) = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    else {
        tracing::warn!("metrics: the host sampler has no runtime; hold gauges will not move");
        return;
    };
    let recovered = rt.recovery_info();
    crate::metrics::recovery_finished(recovered.duration, recovered.events);
    for id in rt.facility_ids() {
        counter!(FULFILLMENTS_ROUTED, "facility" => id.clone()).absolute(0);
        for t in crate::facade::Orchestrator::wave_triggers() {
            counter!(WAVES_RELEASED, "facility" => id.clone(), "trigger" => t).increment(0);
        }
    }
    let limits = rt.limits();
    gauge!(HOLD_LIMITS, "limit" => "ttl_s_max").set(f64::from(limits.hold_ttl_s_max));
    gauge!(HOLD_LIMITS, "limit" => "per_shard_max").set(f64::from(limits.holds_per_shard_max));
    gauge!(HOLD_LIMITS, "limit" => "lines_max").set(f64::from(limits.order_lines_max));
    gauge!(SHARD_LIMITS, "limit" => "inbox_max").set(f64::from(limits.shard_inbox_max));
    gauge!(SHARD_LIMITS, "limit" => "in_flight_max").set(f64::from(limits.shard_in_flight_max));
    gauge!(SHARD_LIMITS, "limit" => "seen_ids_max").set(f64::from(limits.seen_ids_max));
    gauge!(SHARD_LIMITS, "limit" => "order_events_max").set(f64::from(limits.order_events_max));
    let mut journal = JournalTotals::default();
    let mut snapshot_generation = None;
    let host = rt.core().host().clone();
    let ids: Vec<String> = rt.facility_ids();
    while !stop.load(Ordering::Acquire) {
        let now = host.clock().now();
        let read = tokio.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(1),
                host.read_all(move |s| shard_gauges(s, now)),
            )
            .await
        });
        if let Ok(Ok(per_shard)) = read {
            let mut all = HoldCounts::default();
            let mut waiting = 0;
            let mut actors = [0usize; 4];
            for g in &per_shard {
                all.add(&g.holds);
                waiting += g.waiting;
                for (a, n) in actors.iter_mut().zip(g.actors) {
                    *a += n;
                }
                for f in &g.facilities {
                    let id = ids.get(f.idx).cloned().unwrap_or_default();
                    gauge!(FACILITY_QUEUED, "facility" => id.clone()).set(f.queued as f64);
                    gauge!(FACILITY_OPEN_WAVES, "facility" => id.clone()).set(f.open_waves as f64);
                    gauge!(FACILITY_CAPACITY_USED, "facility" => id.clone()).set(f.capacity_used);
                    gauge!(FACILITY_ENABLED, "facility" => id).set(if f.enabled {
                        1.0
                    } else {
                        0.0
                    });
                }
            }
            gauge!(BACKORDER_LINES_WAITING).set(waiting as f64);
            let passive: usize = per_shard.iter().map(|g| g.passive).sum();
            gauge!(PASSIVE_ORDERS).set(passive as f64);
            let facilities = per_shard.iter().map(|g| g.facilities.len()).sum::<usize>();
            for (kind, n) in [
                ("order", actors[0]),
                ("cell", actors[1]),
                ("desk", actors[2]),
                ("hold", actors[3]),
                ("facility", facilities),
            ] {
                gauge!(RESIDENT_ACTORS, "kind" => kind).set(n as f64);
            }
            counter!(HOLDS, "outcome" => "created").absolute(all.created);
            counter!(HOLDS, "outcome" => "converted").absolute(all.converted);
            counter!(HOLDS, "outcome" => "released").absolute(all.released);
            counter!(HOLDS, "outcome" => "expired").absolute(all.expired);
            gauge!(HOLDS_ACTIVE).set(all.active as f64);
            gauge!(HOLDS_UNITS).set(all.units as f64);
        }
        let stats = host.stats();
        for (i, n) in stats.in_flight.iter().enumerate() {
            gauge!(SHARD_IN_FLIGHT, "shard" => i.to_string()).set(*n as f64);
        }
        counter!(SHARD_OVERLOADED).absolute(stats.overloaded);
        if let Some(f) = inflight.as_deref() {
            gauge!(HTTP_REQUESTS_INFLIGHT).set(f() as f64);
        }
        journal.sample(&rt.durability().stats());
        if let Some(s) = rt.snapshot_info() {
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
        crate::metrics::publish_process_gauges();
        for _ in 0..10 {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
