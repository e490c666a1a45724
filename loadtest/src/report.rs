//! The report of a run: `report.json` (the fields the load-tester issue
//! lists, plus the per-second series), `report.md` for people, and
//! `chart.svg`. Every figure carries the machine (cores) and the durability
//! mode.

use std::collections::BTreeMap;
use std::path::Path;

use orch_runtime::Core;
use serde::Serialize;

use crate::audit::AuditOutcome;
use crate::carts::CartSpec;
use crate::delivery::ShippingFigures;
use crate::demand::DoorbusterPlan;
pub use crate::feed_audit::EventFigures;
use crate::histo::{Counters, Lateness, Metrics, Percentiles, SecondPoint};
use crate::runner::RunOptions;
use crate::schedule::Schedule;

/// `config`: what was run, where.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// Profile name.
    pub profile: String,
    /// BF-1 scale.
    pub scale: f64,
    /// Seed.
    pub seed: u64,
    /// Orders per second at the hold.
    pub peak_rate: f64,
    /// Arrival phase, seconds.
    pub duration_s: f64,
    /// fsync, os or none (as configured; see `journal`).
    pub durability: String,
    /// in_process or http.
    pub mode: String,
    /// The HTTP target, if any.
    pub target: Option<String>,
    /// Cores of this machine.
    pub cores: usize,
    /// CPU model, from /proc/cpuinfo.
    pub cpu: Option<String>,
    /// Journal directory of the embedded core.
    pub data_dir: Option<String>,
    /// Availability reads per order.
    pub reads_per_order: u32,
    /// Most orders outstanding at once (arrivals beyond were dropped).
    pub max_in_flight: usize,
    /// Tries of a refused order before it is shed.
    pub max_tries: u32,
    /// The latency objective of goodput, ms.
    pub slo_ms: f64,
    /// `/proc/loadavg` (1, 5, 15 min) when the report was written: the
    /// machine may have been busy with more than this run.
    pub load_average: String,
}

/// `throughput`. Offered is over the arrival phase; achieved and goodput
/// are over the arrival phase or until the last acknowledgment, whichever
/// is longer (a core that answers late does not get the late answers
/// credited to the arrival phase); scans until drained.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Orders offered per second: every arrival that fell due, dropped ones
    /// included.
    pub orders_offered_per_s: f64,
    /// Orders acknowledged per second (achieved).
    pub orders_achieved_per_s: f64,
    /// Orders acknowledged within the objective per second (goodput).
    pub goodput_per_s: f64,
    /// The objective of goodput, ms.
    pub slo_ms: f64,
    /// Seconds achieved and goodput are taken over.
    pub achieved_window_s: f64,
    /// Same as `orders_achieved_per_s` (the name older scripts read).
    pub orders_placed_per_s: f64,
    /// Scans applied per second, arrival phase and drain.
    pub scans_applied_per_s: f64,
    /// Availability reads per second.
    pub reads_per_s: f64,
    /// Best one-second acknowledged orders.
    pub orders_placed_peak_second: u64,
}

/// `overload`: what the core refused and the tester dropped, and how long
/// latency took to come back.
#[derive(Debug, Clone, Serialize)]
pub struct OverloadFigures {
    /// Seconds at the high rate.
    pub high_s: f64,
    /// Rate multiplier of the high phase.
    pub factor: f64,
    /// The base rate, orders/s.
    pub base_rate: f64,
    /// Seconds after the high phase until place p99 (by second of
    /// acknowledgment) stays under the objective for the rest of the
    /// arrival phase; null if it never does.
    pub p99_recovery_s: Option<f64>,
}

/// `latency_ms`.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyMs {
    /// Place, from each order's intended start.
    pub place: Percentiles,
    /// Scan, from each step's due time.
    pub scan: Percentiles,
    /// Availability read, from the order's intended start.
    pub read: Percentiles,
}

/// `memory`.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Peak resident set (VmHWM) of this process: in-process mode, core
    /// and load tester together; null over HTTP.
    pub rss_peak_bytes: Option<u64>,
    /// Peak RSS of the load tester alone: over HTTP this process; null
    /// in-process (it shares the process with the core).
    pub tester_rss_peak_bytes: Option<u64>,
    /// Peak RSS of the core alone: over HTTP that of `--server-pid` when
    /// given (same machine); null in-process.
    pub core_rss_peak_bytes: Option<u64>,
    /// What the figures cover.
    pub rss_note: String,
    /// Actors resident at the end (orders, activated cells and desks,
    /// facilities).
    pub resident_actors: Option<u64>,
    /// `rss_peak_bytes / resident_actors`.
    pub bytes_per_resident_actor: Option<u64>,
}

/// `journal`: from `Core::journal_stats` (in-process only).
#[derive(Debug, Clone, Serialize, Default)]
pub struct JournalFigures {
    /// Records acknowledged per second over the run.
    pub events_per_s: Option<f64>,
    /// Journal bytes per second over the run.
    pub bytes_per_s: Option<f64>,
    /// Records per fsync.
    pub fsync_batch_mean: Option<f64>,
    /// Records.
    pub records: Option<u64>,
    /// Bytes.
    pub bytes: Option<u64>,
    /// Batches written.
    pub batches: Option<u64>,
    /// fdatasync calls.
    pub fsyncs: Option<u64>,
    /// The journal's own mode, as it reports it.
    pub mode_reported: Option<String>,
    /// Whether the journal was healthy at the end.
    pub healthy: Option<bool>,
    /// Why figures are missing, if they are.
    pub note: Option<String>,
}

/// Raw journal counters read at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JournalRaw {
    records: u64,
    bytes: u64,
    batches: u64,
    fsyncs: u64,
    healthy: bool,
    mode: &'static str,
}

/// Reads the embedded core's journal counters.
pub fn journal_stats(core: &Core) -> Option<JournalRaw> {
    let s = core.journal_stats();
    let mode = match format!("{:?}", s.mode).as_str() {
        "Fsync" => "fsync",
        "Os" => "os",
        "None" => "none",
        _ => "unknown",
    };
    Some(JournalRaw {
        records: s.records,
        bytes: s.bytes,
        batches: s.batches,
        fsyncs: s.fsyncs,
        healthy: s.healthy,
        mode,
    })
}

/// `counts`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Counts {
    /// Orders sent.
    pub orders_offered: u64,
    /// Orders answered with success.
    pub orders_acknowledged: u64,
    /// Orders answered with an error (refusals not counted).
    pub orders_failed: u64,
    /// Arrivals dropped by the in-flight limit (never sent).
    pub orders_dropped: u64,
    /// Refusals answered (429 / `Busy`), every try counted.
    pub orders_refused: u64,
    /// Tries after a refusal.
    pub orders_retried: u64,
    /// Orders refused on every try, given up.
    pub orders_shed: u64,
    /// Acknowledged within the objective.
    pub orders_within_slo: u64,
    /// Availability read groups dropped by the in-flight limit.
    pub reads_dropped: u64,
    /// Acknowledged with every line reserved.
    pub routed: u64,
    /// Acknowledged with a line waiting for stock.
    pub backordered: u64,
    /// Acknowledged as rejected.
    pub rejected: u64,
    /// Cancelled before pick.
    pub cancelled: u64,
    /// Cancels that failed.
    pub cancel_failed: u64,
    /// Fulfillments delivered.
    pub delivered: u64,
    /// Fulfillments returned.
    pub returned: u64,
    /// Units restocked by returns.
    pub units_restocked: u64,
    /// Units disposed of.
    pub units_disposed: u64,
    /// Waves the floor answered.
    pub waves: u64,
    /// Scan events sent.
    pub scans_sent: u64,
    /// Applied.
    pub scans_applied: u64,
    /// Answered duplicate.
    pub scans_duplicate: u64,
    /// Answered rejected.
    pub scans_rejected: u64,
    /// Duplicates sent on purpose.
    pub scans_duplicate_sent: u64,
    /// In-order scans tried again (they overtook the wave's notice).
    pub scans_retried: u64,
    /// Out-of-order scans sent on purpose.
    pub scans_out_of_order_sent: u64,
    /// Availability reads.
    pub reads: u64,
    /// Failed reads.
    pub read_errors: u64,
    /// Receipts applied.
    pub receipts_applied: u64,
    /// Units received.
    pub units_received: u64,
    /// Backordered lines served first by receipts.
    pub backorders_served_by_receipts: u64,
    /// Hot SKUs: stock at start + receipts + restocked returns.
    pub doorbuster_stock: Option<i64>,
    /// Hot SKUs: units held by live orders (reserved or picked).
    pub doorbuster_units_sold: Option<i64>,
    /// Transport or server errors.
    pub errors: u64,
}

/// `doorbuster`: where it fell and what it was given.
#[derive(Debug, Clone, Serialize)]
pub struct DoorbusterFigures {
    /// Window start, s.
    pub start_s: f64,
    /// Window end, s.
    pub end_s: f64,
    /// Spike end, s.
    pub spike_end_s: f64,
    /// Rate multiplier in the spike.
    pub spike_factor: f64,
    /// Hot SKUs.
    pub hot_skus: Vec<String>,
    /// Their starting units each.
    pub units_each: u32,
    /// Units the window was expected to ask for.
    pub demand_expected: f64,
}

/// `carts`: holds created by product-page visits, and what became of them.
#[derive(Debug, Clone, Serialize)]
pub struct CartFigures {
    /// Share of orders that held first (`--cart-share`).
    pub share: f64,
    /// Share of all carts abandoned (`--cart-abandon`).
    pub abandon_share: f64,
    /// Hold TTL, s (`--cart-ttl-s`).
    pub ttl_s: u32,
    /// Longest checkout delay, ms (`--cart-checkout-ms`).
    pub checkout_max_ms: u64,
    /// Holds acknowledged.
    pub created: u64,
    /// Orders that converted their cart's hold.
    pub converted: u64,
    /// Orders that found their hold no longer active (placed as usual).
    pub not_converted: u64,
    /// Carts abandoned after their hold was acknowledged.
    pub abandoned: u64,
    /// Holds no order converted that read back `expired` at the end.
    pub expired: u64,
    /// Hold requests refused (429 / Busy), each try.
    pub refused: u64,
    /// Carts given up after their last refused try.
    pub shed: u64,
    /// Hold requests that failed otherwise.
    pub failed: u64,
    /// converted / created (`None` without holds).
    pub conversion_ratio: Option<f64>,
    /// Hold create latency, from the cart's intended time.
    pub hold_create_ms: Percentiles,
    /// Units of the doorbuster's hot SKUs that carts' holds held.
    pub hot_units_held: u64,
}

/// The cart figures of a run with carts.
pub fn cart_figures(
    spec: &CartSpec,
    m: &Metrics,
    expired: u64,
    hot_units_held: u64,
) -> CartFigures {
    let c = &m.counts;
    let g = Counters::get;
    let created = g(&c.carts_created);
    let converted = g(&c.carts_converted);
    CartFigures {
        share: spec.share,
        abandon_share: spec.abandon,
        ttl_s: spec.ttl_s,
        checkout_max_ms: spec.checkout_max.as_millis() as u64,
        created,
        converted,
        not_converted: g(&c.carts_not_converted),
        abandoned: g(&c.carts_abandoned),
        expired,
        refused: g(&c.carts_refused),
        shed: g(&c.carts_shed),
        failed: g(&c.carts_failed),
        conversion_ratio: (created > 0).then(|| round(converted as f64 / created as f64, 4)),
        hold_create_ms: m.hold.percentiles(),
        hot_units_held,
    }
}

/// The carts section of `report.md`.
pub fn carts_markdown(f: &CartFigures) -> String {
    format!(
        "\n## Carts (holds)\n\n{} of orders held first, {} of all carts abandoned (on top of the orders; TTL {} s, \
         checkout within {} ms). \
         Carts created {}, converted {} (conversion ratio {}), not converted {} (hold expired before checkout), \
         abandoned {}, expired {}; hold requests refused {} (shed {}), failed {}. Hold create latency \
         p50 {} ms, p99 {} ms. Doorbuster units held by carts: {}.\n",
        f.share,
        f.abandon_share,
        f.ttl_s,
        f.checkout_max_ms,
        f.created,
        f.converted,
        f.conversion_ratio.map_or("n/a".into(), |r| r.to_string()),
        f.not_converted,
        f.abandoned,
        f.expired,
        f.refused,
        f.shed,
        f.failed,
        f.hold_create_ms.p50,
        f.hold_create_ms.p99,
        f.hot_units_held,
    )
}

/// The events section of `report.md`.
pub fn events_markdown(e: &EventFigures) -> String {
    let mut s = format!(
        "\n## Events feed and webhooks\n\n{} events of the run in the feed; {} acknowledged changes \
         checked against it (each exactly one event), {} orders refused on every try (none may have an event).",
        e.feed_events, e.changes_checked, e.refused_orders
    );
    match &e.webhooks {
        Some(w) => s.push_str(&format!(
            " Webhook receiver at {} (every type, signatures checked): {} of {} events delivered, \
             {} outstanding after a {} s drain; {} events/s over {} s; delivery lag from the \
             acknowledgement p50 {} ms, p99 {} ms, max {} ms ({} measured, {} arrived before the \
             tester read the acknowledgement, by up to {} ms, p99 {} ms); {} repeats, {} bad signatures.\n",
            w.url,
            w.delivered,
            w.feed_events,
            w.outstanding,
            w.drain_s,
            w.events_per_s,
            w.window_s,
            w.lag_ms.p50,
            w.lag_ms.p99,
            w.lag_ms.max,
            w.lag_ms.count,
            w.arrived_before_ack,
            w.early_ms.max,
            w.early_ms.p99,
            w.repeats,
            w.bad_signatures
        )),
        None => s.push_str(" No webhook receiver (--no-webhooks).\n"),
    }
    s
}

/// One invariant in the report.
#[derive(Debug, Clone, Serialize)]
pub struct Invariant {
    /// Held.
    pub passed: bool,
    /// Violations found.
    pub violations: u64,
    /// What was checked.
    pub scope: String,
    /// Up to ten examples.
    pub examples: Vec<String>,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the report was written (RFC 3339, UTC).
    pub written_at: String,
    /// What was run.
    pub config: RunConfig,
    /// Sustained rates.
    pub throughput: Throughput,
    /// How late the generator sent arrivals.
    pub generator: Lateness,
    /// The overload profile's figures, if it ran.
    pub overload: Option<OverloadFigures>,
    /// Latency percentiles.
    pub latency_ms: LatencyMs,
    /// Memory.
    pub memory: Memory,
    /// Journal.
    pub journal: JournalFigures,
    /// Counts.
    pub counts: Counts,
    /// The doorbuster, if the profile has one.
    pub doorbuster: Option<DoorbusterFigures>,
    /// Named checks.
    pub invariants: BTreeMap<String, Invariant>,
    /// Every check passed.
    pub passed: bool,
    /// Seconds from the first arrival to the last answer of the arrival
    /// phase, and to the end of the drain.
    pub arrivals_s: f64,
    /// See `arrivals_s`.
    pub total_s: f64,
    /// Notes on how to read the figures (e.g. the HTTP driver's own rate).
    pub notes: Vec<String>,
    /// Shipping cost, split ratio, carrier mix and promises kept, from the
    /// tester's book.
    pub shipping: ShippingFigures,
    /// Carts, when the run had them (`None`: `--cart-share 0`, or the
    /// system under test serves no holds; the notes say which).
    pub carts: Option<CartFigures>,
    /// The events feed and the webhook receiver (`None`: the system under
    /// test serves no feed).
    pub events: Option<EventFigures>,
    /// Per-second series (the chart's data).
    pub series: Vec<SecondPoint>,
}

/// What `build` needs.
pub struct Inputs<'a> {
    /// Options.
    pub opts: &'a RunOptions,
    /// Schedule.
    pub schedule: &'a Schedule,
    /// Doorbuster plan.
    pub plan: Option<&'a DoorbusterPlan>,
    /// Metrics.
    pub metrics: &'a Metrics,
    /// Audit.
    pub checks: AuditOutcome,
    /// Resident actors (in-process).
    pub resident_actors: Option<u64>,
    /// Journal directory.
    pub data_dir: Option<String>,
    /// Arrival phase, s.
    pub arrivals_s: f64,
    /// Until drained, s.
    pub total_s: f64,
    /// Journal counters.
    pub journal: Option<JournalRaw>,
    /// Notes for the report.
    pub notes: Vec<String>,
    /// Shipping figures from the book.
    pub shipping: ShippingFigures,
    /// Cart figures (a run with carts).
    pub carts: Option<CartFigures>,
    /// Events feed and webhook figures.
    pub events: Option<EventFigures>,
}

/// Peak RSS of this process (VmHWM), in bytes.
pub fn rss_peak_bytes() -> Option<u64> {
    rss_peak_of("self")
}

/// Peak RSS (VmHWM) of a process by pid (`self` for this one), in bytes.
pub fn rss_peak_of(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn cpu_model() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Builds the report.
pub fn build(i: Inputs<'_>) -> Report {
    let c = &i.metrics.counts;
    let g = Counters::get;
    let duration_s = i.schedule.duration_s;
    let per = |n: u64, s: f64| if s > 0.0 { round(n as f64 / s, 1) } else { 0.0 };
    let series = i.metrics.series();
    let window_s = i.metrics.achieved_window_s(duration_s);
    let rss = if i.opts.target.is_none() {
        rss_peak_bytes()
    } else {
        None
    };
    let journal = match (&i.journal, &i.opts.target) {
        (Some(j), _) => JournalFigures {
            events_per_s: Some(round(j.records as f64 / i.total_s.max(1e-9), 1)),
            bytes_per_s: Some(round(j.bytes as f64 / i.total_s.max(1e-9), 1)),
            fsync_batch_mean: (j.fsyncs > 0).then(|| round(j.records as f64 / j.fsyncs as f64, 2)),
            records: Some(j.records),
            bytes: Some(j.bytes),
            batches: Some(j.batches),
            fsyncs: Some(j.fsyncs),
            mode_reported: Some(j.mode.to_string()),
            healthy: Some(j.healthy),
            note: None,
        },
        (None, Some(_)) => JournalFigures {
            note: Some("HTTP mode: the journal belongs to the server (see its /metrics)".into()),
            ..JournalFigures::default()
        },
        (None, None) => JournalFigures {
            note: Some(
                "the core exposes no journal counters: durability mode configured, not enforced"
                    .into(),
            ),
            ..JournalFigures::default()
        },
    };
    let invariants: BTreeMap<String, Invariant> = i
        .checks
        .checks
        .iter()
        .map(|k| {
            (
                k.name.clone(),
                Invariant {
                    passed: k.passed,
                    violations: k.violations,
                    scope: k.scope.clone(),
                    examples: k.examples.clone(),
                },
            )
        })
        .collect();
    let passed = invariants.values().all(|k| k.passed);
    Report {
        written_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        config: RunConfig {
            profile: i.opts.profile.name.clone(),
            scale: i.opts.scale,
            seed: i.opts.seed,
            peak_rate: i.opts.peak_rate,
            duration_s,
            durability: i.opts.durability.as_str().into(),
            mode: if i.opts.target.is_some() {
                "http"
            } else {
                "in_process"
            }
            .into(),
            target: i.opts.target.clone(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu: cpu_model(),
            data_dir: i.data_dir.clone(),
            reads_per_order: i.opts.reads_per_order,
            max_in_flight: i.opts.max_in_flight,
            max_tries: i.opts.max_tries,
            slo_ms: i.opts.slo.as_secs_f64() * 1000.0,
            load_average: crate::knee::load_average(),
        },
        generator: i.metrics.lateness(),
        overload: overload_figures(i.opts, i.schedule, &series),
        throughput: Throughput {
            orders_offered_per_s: per(g(&c.orders_offered), duration_s),
            orders_achieved_per_s: per(g(&c.orders_acknowledged), window_s),
            goodput_per_s: per(g(&c.orders_good), window_s),
            slo_ms: i.opts.slo.as_secs_f64() * 1000.0,
            achieved_window_s: round(window_s, 3),
            orders_placed_per_s: per(g(&c.orders_acknowledged), window_s),
            scans_applied_per_s: per(g(&c.scans_applied), i.total_s),
            reads_per_s: per(g(&c.reads) - g(&c.read_errors), duration_s),
            orders_placed_peak_second: series.iter().map(|s| s.achieved).max().unwrap_or(0),
        },
        latency_ms: LatencyMs {
            place: i.metrics.place.percentiles(),
            scan: i.metrics.scan.percentiles(),
            read: i.metrics.read.percentiles(),
        },
        memory: Memory {
            rss_peak_bytes: rss,
            tester_rss_peak_bytes: i.opts.target.as_ref().and_then(|_| rss_peak_bytes()),
            core_rss_peak_bytes: match (&i.opts.target, i.opts.server_pid) {
                (Some(_), Some(pid)) => rss_peak_of(&pid.to_string()),
                _ => None,
            },
            rss_note: match (&i.opts.target, i.opts.server_pid) {
                (None, _) => {
                    "in-process: core and load tester share one process, so rss_peak_bytes \
                              is both together and neither can be told apart; run over HTTP \
                              (--target, --server-pid) to measure them apart"
                        .into()
                }
                (Some(_), None) => "HTTP: tester_rss_peak_bytes is the load tester alone; pass \
                                    --server-pid to read the server's peak RSS"
                    .into(),
                (Some(_), Some(pid)) => format!(
                    "HTTP: tester_rss_peak_bytes is the load tester alone, core_rss_peak_bytes \
                     the VmHWM of pid {pid}"
                ),
            },
            resident_actors: i.resident_actors,
            bytes_per_resident_actor: match (rss, i.resident_actors) {
                (Some(r), Some(a)) if a > 0 => Some(r / a),
                _ => None,
            },
        },
        journal,
        counts: Counts {
            orders_offered: g(&c.orders_offered),
            orders_acknowledged: g(&c.orders_acknowledged),
            orders_failed: g(&c.orders_failed),
            orders_dropped: g(&c.orders_dropped),
            orders_refused: g(&c.orders_refused),
            orders_retried: g(&c.orders_retried),
            orders_shed: g(&c.orders_shed),
            orders_within_slo: g(&c.orders_good),
            reads_dropped: g(&c.reads_dropped),
            routed: g(&c.routed),
            backordered: g(&c.backordered),
            rejected: g(&c.rejected),
            cancelled: g(&c.cancelled),
            cancel_failed: g(&c.cancel_failed),
            delivered: g(&c.delivered),
            returned: g(&c.returned),
            units_restocked: g(&c.units_restocked),
            units_disposed: g(&c.units_disposed),
            waves: g(&c.waves),
            scans_sent: g(&c.scans_sent),
            scans_applied: g(&c.scans_applied),
            scans_duplicate: g(&c.scans_duplicate),
            scans_rejected: g(&c.scans_rejected),
            scans_duplicate_sent: g(&c.scans_duplicate_sent),
            scans_retried: g(&c.scans_retried),
            scans_out_of_order_sent: g(&c.scans_out_of_order_sent),
            reads: g(&c.reads),
            read_errors: g(&c.read_errors),
            receipts_applied: g(&c.receipts_applied),
            units_received: g(&c.units_received),
            backorders_served_by_receipts: g(&c.backorders_served),
            doorbuster_stock: i.checks.doorbuster_stock,
            doorbuster_units_sold: i.checks.doorbuster_units_sold,
            errors: g(&c.errors),
        },
        doorbuster: match (i.schedule.doorbuster, i.plan) {
            (Some(w), Some(p)) => Some(DoorbusterFigures {
                start_s: round(w.start_s, 3),
                end_s: round(w.end_s, 3),
                spike_end_s: round(w.spike_end_s, 3),
                spike_factor: w.spike_factor,
                hot_skus: p.skus.clone(),
                units_each: p.units_each,
                demand_expected: round(p.demand_expected, 1),
            }),
            _ => None,
        },
        invariants,
        passed,
        arrivals_s: round(i.arrivals_s, 3),
        total_s: round(i.total_s, 3),
        notes: i.notes,
        shipping: i.shipping,
        carts: i.carts,
        events: i.events,
        series,
    }
}

/// The overload phase's figures (none for other profiles).
fn overload_figures(
    opts: &RunOptions,
    schedule: &Schedule,
    series: &[SecondPoint],
) -> Option<OverloadFigures> {
    let o = opts.profile.overload.as_ref()?;
    let high_s = schedule.duration_s * o.high_fraction;
    let slo_ms = opts.slo.as_secs_f64() * 1000.0;
    Some(OverloadFigures {
        high_s: round(high_s, 3),
        factor: o.factor,
        base_rate: opts.peak_rate,
        p99_recovery_s: recovery_s(series, high_s, schedule.duration_s, slo_ms),
    })
}

/// Seconds after `from_s` until p99 (per second of acknowledgment) is at or
/// under `limit_ms` in every second that acknowledged anything up to
/// `until_s`; `None` if the last such second is still over.
pub fn recovery_s(series: &[SecondPoint], from_s: f64, until_s: f64, limit_ms: f64) -> Option<f64> {
    let from = from_s.floor() as u64;
    let until = until_s.ceil() as u64;
    let busy: Vec<&SecondPoint> = series
        .iter()
        .filter(|p| p.second >= from && p.second < until && p.achieved > 0)
        .collect();
    let last_bad = busy.iter().rev().find(|p| p.place_p99_ms > limit_ms);
    match last_bad {
        None => Some(0.0),
        Some(p) if busy.last().is_some_and(|l| l.second == p.second) => None,
        Some(p) => Some((p.second + 1) as f64 - from_s),
    }
}

fn pct_row(name: &str, p: &Percentiles) -> String {
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} |\n",
        p.p50, p.p90, p.p99, p.p999, p.max, p.count
    )
}

/// `report.md`.
pub fn markdown(r: &Report) -> String {
    let c = &r.config;
    let mut s = String::new();
    s.push_str(&format!(
        "# Load test: {} at {} orders/s for {} s\n\n",
        c.profile, c.peak_rate, c.duration_s
    ));
    s.push_str(if r.passed {
        "**PASSED**: every invariant held.\n\n"
    } else {
        "**FAILED**: at least one invariant did not hold (see below).\n\n"
    });
    s.push_str(&format!(
        "Machine: {} cores{}, load average {}. Mode: {}{}. Durability: **{}**{}. Scale {}, seed {}, {} reads per order. Written {}.\n\n",
        c.cores,
        c.cpu.as_ref().map_or(String::new(), |m| format!(" ({m})")),
        c.load_average,
        c.mode,
        c.target.as_ref().map_or(String::new(), |t| format!(" against {t}")),
        c.durability,
        match (&r.journal.mode_reported, &r.journal.note) {
            (Some(m), _) => format!(" (journal reports {m})"),
            (None, Some(n)) => format!(" ({n})"),
            _ => String::new(),
        },
        c.scale,
        c.seed,
        c.reads_per_order,
        r.written_at
    ));
    let t = &r.throughput;
    let g = &r.generator;
    s.push_str("## Throughput\n\n| what | per second |\n| --- | --- |\n");
    s.push_str(&format!(
        "| orders offered (every arrival due, dropped ones included) | {} |\n\
         | orders achieved (acknowledged, over {} s) | {} |\n\
         | goodput (acknowledged within {} ms) | {} |\n\
         | best second, orders acknowledged | {} |\n| scans applied | {} |\n| availability reads | {} |\n\n",
        t.orders_offered_per_s,
        t.achieved_window_s,
        t.orders_achieved_per_s,
        t.slo_ms,
        t.goodput_per_s,
        t.orders_placed_peak_second,
        t.scans_applied_per_s,
        t.reads_per_s
    ));
    s.push_str(&format!(
        "Generator: arrivals sent up to {} ms late (mean {} ms); {} of {} arrivals later than {} ms. \
         At most {} orders in flight (arrivals beyond were dropped, never queued); refused orders tried \
         up to {} times after Retry-After, then shed.\n\n",
        g.max_ms, g.mean_ms, g.late_arrivals, g.arrivals, g.tolerance_ms, c.max_in_flight, c.max_tries
    ));
    if let Some(o) = &r.overload {
        s.push_str(&format!(
            "## Overload\n\n{}× {} orders/s for {} s, then {} orders/s. Dropped {}, refused {} (tries), \
             retried {}, shed {}, failed {}. Place p99 back under {} ms {} after the high phase.\n\n",
            o.factor,
            o.base_rate,
            o.high_s,
            o.base_rate,
            r.counts.orders_dropped,
            r.counts.orders_refused,
            r.counts.orders_retried,
            r.counts.orders_shed,
            r.counts.orders_failed,
            t.slo_ms,
            o.p99_recovery_s
                .map_or("never (still over at the end)".into(), |v| format!("{v} s"))
        ));
    }
    s.push_str("## Latency (ms, from the intended start: coordinated omission corrected)\n\n");
    s.push_str("| operation | p50 | p90 | p99 | p99.9 | max | samples |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    s.push_str(&pct_row("place", &r.latency_ms.place));
    s.push_str(&pct_row("scan", &r.latency_ms.scan));
    s.push_str(&pct_row("read", &r.latency_ms.read));
    s.push_str("\n![throughput and place latency per second](chart.svg)\n\n");
    s.push_str("## Invariants\n\n| check | result | violations | what was checked |\n| --- | --- | --- | --- |\n");
    for (name, k) in &r.invariants {
        s.push_str(&format!(
            "| {name} | {} | {} | {} |\n",
            if k.passed { "passed" } else { "**FAILED**" },
            k.violations,
            k.scope
        ));
    }
    for (name, k) in r.invariants.iter().filter(|(_, k)| !k.passed) {
        s.push_str(&format!("\n{name} examples:\n\n"));
        for e in &k.examples {
            s.push_str(&format!("- {e}\n"));
        }
    }
    let n = &r.counts;
    s.push_str("\n## Counts\n\n| what | count |\n| --- | --- |\n");
    for (k, v) in [
        ("orders offered", n.orders_offered),
        ("orders acknowledged", n.orders_acknowledged),
        ("orders failed", n.orders_failed),
        ("orders dropped (in-flight limit)", n.orders_dropped),
        ("refusals (429 / Busy, every try)", n.orders_refused),
        ("tries after a refusal", n.orders_retried),
        ("orders shed (refused on every try)", n.orders_shed),
        (
            "orders acknowledged within the objective",
            n.orders_within_slo,
        ),
        ("availability read groups dropped", n.reads_dropped),
        ("routed (every line reserved)", n.routed),
        ("backordered (a line waits)", n.backordered),
        ("rejected", n.rejected),
        ("cancelled before pick", n.cancelled),
        ("fulfillments delivered", n.delivered),
        ("fulfillments returned", n.returned),
        ("waves answered", n.waves),
        ("scans applied", n.scans_applied),
        ("scans duplicate (sent on purpose)", n.scans_duplicate),
        (
            "scans sent out of order on purpose",
            n.scans_out_of_order_sent,
        ),
        (
            "picks retried (overtook the wave's notice)",
            n.scans_retried,
        ),
        (
            "scans rejected (out of order + retried picks)",
            n.scans_rejected,
        ),
        ("availability reads", n.reads),
        ("receipts applied", n.receipts_applied),
        (
            "backordered lines served first by receipts",
            n.backorders_served_by_receipts,
        ),
        ("errors", n.errors),
    ] {
        s.push_str(&format!("| {k} | {v} |\n"));
    }
    if let Some(d) = &r.doorbuster {
        s.push_str(&format!(
            "\n## Doorbuster\n\n{} hot SKUs from {} s to {} s (rate ×{} until {} s), {} units each at start \
             for an expected demand of {} units. Stock + receipts + restocked: {}; sold (reserved or picked): {}.\n",
            d.hot_skus.len(),
            d.start_s,
            d.end_s,
            d.spike_factor,
            d.spike_end_s,
            d.units_each,
            d.demand_expected,
            n.doorbuster_stock.map_or("n/a".into(), |v| v.to_string()),
            n.doorbuster_units_sold.map_or("n/a".into(), |v| v.to_string()),
        ));
    }
    if let Some(c) = &r.carts {
        s.push_str(&carts_markdown(c));
    }
    if let Some(e) = &r.events {
        s.push_str(&events_markdown(e));
    }
    s.push_str(&shipping_markdown(&r.shipping));
    if !r.notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in &r.notes {
            s.push_str(&format!("- {n}\n"));
        }
    }
    let m = &r.memory;
    let j = &r.journal;
    let opt = |v: Option<f64>| v.map_or("null".into(), |x| x.to_string());
    s.push_str(&format!(
        "\n## Memory and journal\n\nPeak RSS {} bytes (tester alone {}, core alone {}; {}); {} resident actors; \
         {} bytes per resident actor. Journal: {} events/s, {} bytes/s, {} records per fsync{}.\n",
        m.rss_peak_bytes.map_or("n/a".into(), |v| v.to_string()),
        m.tester_rss_peak_bytes.map_or("n/a".into(), |v| v.to_string()),
        m.core_rss_peak_bytes.map_or("n/a".into(), |v| v.to_string()),
        m.rss_note,
        m.resident_actors.map_or("n/a".into(), |v| v.to_string()),
        m.bytes_per_resident_actor.map_or("n/a".into(), |v| v.to_string()),
        opt(j.events_per_s),
        opt(j.bytes_per_s),
        opt(j.fsync_batch_mean),
        j.note.as_ref().map_or(String::new(), |n| format!(" ({n})")),
    ));
    s
}

/// The shipping section of `report.md`.
pub fn shipping_markdown(f: &ShippingFigures) -> String {
    let c = &f.cost_per_order;
    let mut s = format!(
        "\n## Shipping and delivery promises (from the tester's book)\n\n\
         Orders placed {}, split {} (split ratio {}). Shipping cost per order ({} orders with a plan): \
         mean {}, p50 {}, p99 {}, max {}. Carriers: {} (`--lateness`), {} ms per simulated day \
         (`--sim-day-ms`); {} delivered after the plan's pickup, {} delivered without a promise.\n\n",
        f.orders_placed,
        f.orders_split,
        f.split_ratio,
        c.orders,
        c.mean,
        c.p50,
        c.p99,
        c.max,
        f.lateness,
        f.sim_day_ms,
        f.late_pickups,
        f.delivered_without_promise
    );
    s.push_str("| service level | delivered | kept | missed | kept ratio |\n| --- | --- | --- | --- | --- |\n");
    let ratio = |r: Option<f64>| r.map_or("n/a".into(), |v| v.to_string());
    for (level, p) in f
        .promise_by_service_level
        .iter()
        .chain(std::iter::once((&"all".to_string(), &f.promise_total)))
    {
        s.push_str(&format!(
            "| {level} | {} | {} | {} | {} |\n",
            p.delivered,
            p.kept,
            p.missed,
            ratio(p.kept_ratio)
        ));
    }
    s.push_str("\n| carrier/service | fulfillments | share |\n| --- | --- | --- |\n");
    for (k, m) in &f.carrier_mix {
        s.push_str(&format!("| {k} | {} | {} |\n", m.fulfillments, m.share));
    }
    let late: Vec<String> = f
        .late_days
        .iter()
        .map(|(d, n)| format!("{d} d late: {n}"))
        .collect();
    if !late.is_empty() {
        s.push_str(&format!(
            "\nDeliveries by lateness drawn: {}.\n",
            late.join(", ")
        ));
    }
    s
}

/// Writes report.json, report.md and chart.svg into `dir`.
pub fn write(dir: &Path, r: &Report) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(r).map_err(|e| e.to_string())?;
    let put = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("{}: {e}", dir.join(name).display()))
    };
    put("report.json", &json)?;
    put("report.md", &markdown(r))?;
    crate::chart::write(&dir.join("chart.svg"), r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(second: u64, p99: f64) -> SecondPoint {
        SecondPoint {
            second,
            offered: 1,
            achieved: 1,
            goodput: 0,
            dropped: 0,
            shed: 0,
            place_p50_ms: p99,
            place_p99_ms: p99,
        }
    }

    #[test]
    fn recovery_is_the_end_of_the_last_second_over_the_limit() {
        let s: Vec<SecondPoint> = [1.0, 50.0, 40.0, 30.0, 5.0, 4.0]
            .iter()
            .enumerate()
            .map(|(i, p)| point(i as u64, *p))
            .collect();
        assert_eq!(
            recovery_s(&s, 2.0, 6.0, 10.0),
            Some(2.0),
            "second 3 is the last over"
        );
        assert_eq!(recovery_s(&s, 4.0, 6.0, 10.0), Some(0.0));
        assert_eq!(
            recovery_s(&s[..4], 2.0, 6.0, 10.0),
            None,
            "still over at the end"
        );
    }
}
