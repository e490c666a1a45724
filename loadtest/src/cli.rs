//! The command line: `loadtest run ...` and `loadtest knee ...`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use orch_config::{DurabilityMode, EngineKind};

use crate::knee::{self, KneeOptions};
use crate::profile::Profile;
use crate::runner::{run, RunOptions};

/// The BF-1 Black Friday simulator.
#[derive(Debug, Parser)]
#[command(name = "loadtest", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One run of a profile; exits non-zero when an invariant fails.
    Run(RunArgs),
    /// Measures the HTTP driver alone against a trivial local endpoint (or
    /// --target): how many orders per second it can offer.
    HttpDriver(HttpDriverArgs),
    /// Steady runs at rising rates with the full BF-1 mix; the knee is the
    /// highest step with achieved >= 99% of offered, place p99 <= 10 ms and
    /// no late arrivals.
    Knee(KneeArgs),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("'{s}' is not a duration like 20s or 5m: {e}"))
}

fn parse_engine(s: &str) -> Result<EngineKind, String> {
    match s {
        "host" => Ok(EngineKind::Host),
        "shells" => Ok(EngineKind::Shells),
        _ => Err(format!("'{s}': must be host or shells")),
    }
}

fn parse_durability(s: &str) -> Result<DurabilityMode, String> {
    DurabilityMode::parse(s).ok_or_else(|| format!("'{s}': must be fsync, os or none"))
}

/// Options every run shares.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// BF-1 network scale (0.01 for CI, 1.0 for the full network; default
    /// 0.01 for `run`, 0.1, the orchestrator's embedded network, for `knee`).
    #[arg(long)]
    pub scale: Option<f64>,
    /// Seed of the network, the order stream and the floor.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Drive a running orchestrator over HTTP (e.g. http://127.0.0.1:8080)
    /// instead of an embedded core.
    #[arg(long)]
    pub target: Option<String>,
    /// HTTP mode: seed of the network the target serves (`orchestrator
    /// serve` generates seed 42).
    #[arg(long, default_value_t = 42)]
    pub network_seed: u64,
    /// Journal durability of the embedded core: fsync, os or none.
    #[arg(long, default_value = "fsync", value_parser = parse_durability)]
    pub durability: DurabilityMode,
    /// What runs the embedded core's flows: host (the shard engine) or
    /// shells (one actix actor per order, cell, facility and desk).
    #[arg(long, default_value = "host", value_parser = parse_engine)]
    pub engine: EngineKind,
    /// Journal directory of the embedded core (default: a temporary one,
    /// removed at the end).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where report.json, report.md and chart.svg go.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Availability reads per order placed.
    #[arg(long, default_value_t = 20)]
    pub reads_per_order: u32,
    /// Longest wait for the floor to finish after the last arrival.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Arbiters of the embedded core (0: one per core).
    #[arg(long, default_value_t = 0)]
    pub workers: u32,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub quiet: bool,
    /// The latency objective, ms: goodput counts orders acknowledged within
    /// it, and a knee step's place p99 must stay under it.
    #[arg(long, default_value_t = 10.0)]
    pub slo_ms: f64,
    /// Most orders outstanding at once; arrivals beyond are dropped (never
    /// queued). The default keeps the tester's own memory far under 1 GB
    /// (about 4 KB per outstanding order and its reads).
    #[arg(long, default_value_t = crate::runner::MAX_IN_FLIGHT_DEFAULT)]
    pub max_in_flight: usize,
    /// Tries of an order the core refuses (429 / Busy), the first included,
    /// each after the answer's Retry-After; then it is counted as shed.
    #[arg(long, default_value_t = 3)]
    pub max_tries: u32,
    /// Arrivals sent later than this after their intended time are late
    /// (a knee step with late arrivals cannot pass).
    #[arg(long, default_value_t = 50.0)]
    pub late_tolerance_ms: f64,
    /// HTTP mode: pid of the server on this machine, to report its peak RSS
    /// apart from the tester's.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// HTTP mode: measure the driver alone against a trivial local endpoint
    /// this long before the run (0s: skip); the figure goes in the notes.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub driver_calibration: Duration,
    /// How late the floor's carriers deliver: comma-separated shares of
    /// deliveries 1, 2, 3, ... days after the service's transit (the rest
    /// on time), drawn per fulfillment from --seed. "0" for none late,
    /// "0,0,1" for every parcel 3 days late.
    #[arg(long, default_value = "0.07,0.02,0.01", value_parser = crate::transit::LatenessSpec::parse)]
    pub lateness: crate::transit::LatenessSpec,
    /// Compressed milliseconds per simulated day of transit (the floor
    /// waits this per calendar day between ship and out for delivery; the
    /// delivered scan carries the simulated date).
    #[arg(long, default_value_t = crate::simulator::SIM_DAY_MS_DEFAULT)]
    pub sim_day_ms: f64,
    /// Share of arrivals that go through a cart first (a hold, then the
    /// order naming it after the checkout delay); 0 disables carts. Drawn
    /// per arrival from --seed. On --engine shells carts are disabled (the
    /// report's notes say so).
    #[arg(long, default_value_t = crate::carts::CART_SHARE_DEFAULT)]
    pub cart_share: f64,
    /// Share of all carts that are abandoned: on top of the orders, they
    /// hold an order's lines, are never ordered, and their holds expire.
    #[arg(long, default_value_t = crate::carts::CART_ABANDON_DEFAULT)]
    pub cart_abandon: f64,
    /// TTL of a cart's hold, s (short, so abandoned carts expire within
    /// the run; the drain waits for the last one).
    #[arg(long, default_value_t = crate::carts::CART_TTL_S_DEFAULT)]
    pub cart_ttl_s: u32,
    /// Longest checkout delay, ms: each converting cart orders a seeded
    /// delay from 0 to this after its hold's answer (at most half the TTL).
    #[arg(long, default_value_t = crate::carts::CART_CHECKOUT_MS_DEFAULT)]
    pub cart_checkout_ms: u64,
    /// Run without the webhook receiver. By default the run starts one on
    /// 127.0.0.1 (a free port), registers it for every event type before
    /// the load (PUT /v1/webhooks/{id}, or in-process), checks every
    /// delivery's signature, and reports events/s, delivery lag and what
    /// was not delivered by the end of the drain. The events feed is
    /// audited either way. Over HTTP the server must reach this machine's
    /// 127.0.0.1.
    #[arg(long)]
    pub no_webhooks: bool,
}

/// `loadtest run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// bf-1, steady, doorbuster, overload, or a TOML file (see
    /// loadtest/profiles/). `overload` offers 3× the rate for the first half
    /// of the run, then the rate (120 s by default: 60 s + 60 s).
    #[arg(long, default_value = "bf-1")]
    pub profile: String,
    /// Orders per second at the hold (500; for `overload` the base rate,
    /// by default the knee, found first with `knee`'s defaults).
    #[arg(long)]
    pub peak_rate: Option<f64>,
    /// Length of the arrival phase, e.g. 20s or 5m (20s; 120s for overload).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

/// `loadtest http-driver`.
#[derive(Debug, Clone, Args)]
pub struct HttpDriverArgs {
    /// Orders per batch request.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// How long to measure.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Measure against this server instead of the trivial endpoint (its
    /// answers count; it must accept the ids `bench-N` again and again).
    #[arg(long)]
    pub target: Option<String>,
}

async fn run_http_driver(a: &HttpDriverArgs) -> Result<bool, String> {
    if a.batch == 0 || a.batch > crate::driver_http::ORDERS_PER_BATCH_MAX {
        return Err(format!(
            "--batch: must be 1 to {}, got {}",
            crate::driver_http::ORDERS_PER_BATCH_MAX,
            a.batch
        ));
    }
    if a.concurrency == 0 {
        return Err("--concurrency: must be at least 1".into());
    }
    let (f, against) = match &a.target {
        None => (
            crate::http_bench::measure_alone(a.batch, a.concurrency, a.duration).await?,
            "a trivial local endpoint".to_string(),
        ),
        Some(t) => {
            let d = crate::driver_http::HttpDriver::new(t);
            (
                crate::http_bench::measure(&d, a.batch, a.concurrency, a.duration).await,
                t.clone(),
            )
        }
    };
    println!(
        "{} (load average {})",
        f.note(&against),
        knee::load_average()
    );
    Ok(f.errors == 0)
}

/// `loadtest knee`.
#[derive(Debug, Clone, Args)]
pub struct KneeArgs {
    /// Profile of each step (steady by default).
    #[arg(long, default_value = "steady")]
    pub profile: String,
    /// First rate, orders/s.
    #[arg(long, default_value_t = 250.0)]
    pub start_rate: f64,
    /// Each step multiplies the rate by this.
    #[arg(long, default_value_t = 1.5)]
    pub factor: f64,
    /// Highest rate tried.
    #[arg(long, default_value_t = 50_000.0)]
    pub max_rate: f64,
    /// Length of each step.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub step_duration: Duration,
    /// The limit on place p99, ms.
    #[arg(long, default_value_t = 10.0)]
    pub p99_limit_ms: f64,
    /// Least achieved / offered of a passing step.
    #[arg(long, default_value_t = 0.99)]
    pub achieved_share_min: f64,
    /// Most share of arrivals a passing step may send later than
    /// --late-tolerance-ms.
    #[arg(long, default_value_t = 0.001)]
    pub late_share_max: f64,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

impl KneeArgs {
    /// `knee`'s defaults with these shared options.
    fn defaults(common: Common) -> KneeArgs {
        KneeArgs {
            profile: "steady".into(),
            start_rate: 250.0,
            factor: 1.5,
            max_rate: 50_000.0,
            step_duration: Duration::from_secs(10),
            p99_limit_ms: 10.0,
            achieved_share_min: 0.99,
            late_share_max: 0.001,
            common,
        }
    }
}

fn options(
    profile: &str,
    rate: f64,
    duration: Duration,
    scale: f64,
    c: &Common,
) -> Result<RunOptions, String> {
    let mut o = RunOptions::new(Profile::resolve(profile)?, scale, rate, duration, c.seed);
    o.target = c.target.clone();
    o.network_seed = c.network_seed;
    o.durability = c.durability;
    o.engine = c.engine;
    o.data_dir = c.data_dir.clone();
    o.report_dir = c.report.clone();
    o.reads_per_order = c.reads_per_order;
    o.drain_timeout = c.drain_timeout;
    o.workers = c.workers;
    o.progress = !c.quiet;
    o.slo = ms_option("--slo-ms", c.slo_ms)?;
    o.late_tolerance = ms_option("--late-tolerance-ms", c.late_tolerance_ms)?;
    o.max_in_flight = c.max_in_flight;
    o.max_tries = c.max_tries;
    o.server_pid = c.server_pid;
    o.lateness = c.lateness.clone();
    if !(0.0..=60_000.0).contains(&c.sim_day_ms) {
        return Err(format!(
            "--sim-day-ms: must be 0 to 60000, got {}",
            c.sim_day_ms
        ));
    }
    o.sim_day = Duration::from_secs_f64(c.sim_day_ms / 1000.0);
    o.driver_calibration = Some(c.driver_calibration);
    o.carts = crate::carts::CartSpec {
        share: c.cart_share,
        abandon: c.cart_abandon,
        ttl_s: c.cart_ttl_s,
        checkout_max: Duration::from_millis(c.cart_checkout_ms),
    };
    o.carts.check()?;
    o.webhooks = !c.no_webhooks;
    Ok(o)
}

fn ms_option(name: &str, v: f64) -> Result<Duration, String> {
    if v > 0.0 && v.is_finite() && v < 3.6e6 {
        Ok(Duration::from_secs_f64(v / 1000.0))
    } else {
        Err(format!("{name}: must be > 0 and under an hour, got {v}"))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the tokio runtime: {e}"))
}

fn knee_options(a: &KneeArgs) -> Result<KneeOptions, String> {
    let scale = a.common.scale.unwrap_or(0.1);
    let base = options(&a.profile, a.start_rate, a.step_duration, scale, &a.common)?;
    if !(0.0..=1.0).contains(&a.achieved_share_min) {
        return Err(format!(
            "--achieved-share-min: must be 0 to 1, got {}",
            a.achieved_share_min
        ));
    }
    if !(0.0..=1.0).contains(&a.late_share_max) {
        return Err(format!(
            "--late-share-max: must be 0 to 1, got {}",
            a.late_share_max
        ));
    }
    Ok(KneeOptions {
        base,
        start_rate: a.start_rate,
        factor: a.factor,
        max_rate: a.max_rate,
        p99_limit_ms: a.p99_limit_ms,
        achieved_share_min: a.achieved_share_min,
        late_share_max: a.late_share_max,
    })
}

async fn run_knee(a: &KneeArgs) -> Result<knee::KneeReport, String> {
    let o = knee_options(a)?;
    let k = knee::knee(&o).await?;
    println!(
        "knee: {} (achieved {}/s, place p99 {} ms; limit {} ms, scale {}, {} reads per order, {} cores, \
         durability {}, load average {})",
        k.knee_rate
            .map_or("none".into(), |r| format!("{r} orders/s")),
        k.knee_achieved_per_s.map_or("n/a".into(), |v| v.to_string()),
        k.knee_p99_ms.map_or("n/a".into(), |v| v.to_string()),
        k.p99_limit_ms,
        k.scale,
        k.reads_per_order,
        k.cores,
        k.durability,
        k.load_average.join(" -> ")
    );
    if let Some(d) = &o.base.report_dir {
        knee::write(d, &k)?;
        println!("report: {}", d.display());
    }
    Ok(k)
}

async fn run_once(a: &RunArgs) -> Result<bool, String> {
    let overload = Profile::resolve(&a.profile)?.overload.is_some();
    let scale = a.common.scale.unwrap_or(0.01);
    let rate = match (a.peak_rate, overload) {
        (Some(r), _) => r,
        (None, false) => 500.0,
        (None, true) => {
            println!("overload: no --peak-rate, finding the knee first");
            let mut common = a.common.clone();
            common.scale = Some(scale);
            common.report = a.common.report.as_ref().map(|d| d.join("knee"));
            let k = run_knee(&KneeArgs::defaults(common)).await?;
            k.knee_rate
                .ok_or("overload: no knee found (even the first step failed): pass --peak-rate")?
        }
    };
    let duration = a
        .duration
        .unwrap_or(Duration::from_secs(if overload { 120 } else { 20 }));
    let o = options(&a.profile, rate, duration, scale, &a.common)?;
    let r = run(&o).await?;
    println!("{}", summary(&r));
    if let Some(d) = &o.report_dir {
        println!("report: {}", d.display());
    }
    Ok(r.passed)
}

/// Runs the command line; the exit code is 0 only when every invariant held.
pub fn main_with(cli: Cli) -> ExitCode {
    let result = runtime().and_then(|rt| match cli.command {
        Command::Run(a) => rt.block_on(run_once(&a)),
        Command::Knee(a) => rt.block_on(run_knee(&a)).map(|k| k.passed),
        Command::HttpDriver(a) => rt.block_on(run_http_driver(&a)),
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("loadtest: {e}");
            ExitCode::from(2)
        }
    }
}

/// A few lines for the terminal.
pub fn summary(r: &crate::report::Report) -> String {
    let t = &r.throughput;
    let n = &r.counts;
    let mut s = format!(
        "{} {} at {}/s for {} s ({}, durability {}, {} cores): offered {}/s, achieved {}/s, \
         goodput {}/s (within {} ms); dropped {}, refused {}, shed {}, failed {}; \
         generator late by {} ms max, {} ms mean ({} arrivals over {} ms); scans {}/s, reads {}/s; \
         place p50 {} ms p99 {} ms; scan p99 {} ms; read p99 {} ms",
        if r.passed { "PASSED" } else { "FAILED" },
        r.config.profile,
        r.config.peak_rate,
        r.config.duration_s,
        r.config.mode,
        r.config.durability,
        r.config.cores,
        t.orders_offered_per_s,
        t.orders_achieved_per_s,
        t.goodput_per_s,
        t.slo_ms,
        n.orders_dropped,
        n.orders_refused,
        n.orders_shed,
        n.orders_failed,
        r.generator.max_ms,
        r.generator.mean_ms,
        r.generator.late_arrivals,
        r.generator.tolerance_ms,
        r.throughput.scans_applied_per_s,
        r.throughput.reads_per_s,
        r.latency_ms.place.p50,
        r.latency_ms.place.p99,
        r.latency_ms.scan.p99,
        r.latency_ms.read.p99,
    );
    s.push_str(&shipping_summary(&r.shipping));
    if let Some(c) = &r.carts {
        s.push_str(&format!(
            "\n  carts: created {}, converted {} (ratio {}), not converted {}, abandoned {}, \
             expired {}, refused {}, shed {}, failed {}; hold create p50 {} ms p99 {} ms",
            c.created,
            c.converted,
            c.conversion_ratio.map_or("n/a".into(), |v| v.to_string()),
            c.not_converted,
            c.abandoned,
            c.expired,
            c.refused,
            c.shed,
            c.failed,
            c.hold_create_ms.p50,
            c.hold_create_ms.p99
        ));
    }
    if let Some(e) = &r.events {
        s.push_str(&format!(
            "\n  events: {} in the feed, {} acknowledged changes checked, {} refused orders",
            e.feed_events, e.changes_checked, e.refused_orders
        ));
        if let Some(w) = &e.webhooks {
            s.push_str(&format!(
                "; webhooks delivered {} ({} outstanding), {} events/s, lag p50 {} ms p99 {} ms \
                 max {} ms, {} repeats, {} bad signatures",
                w.delivered,
                w.outstanding,
                w.events_per_s,
                w.lag_ms.p50,
                w.lag_ms.p99,
                w.lag_ms.max,
                w.repeats,
                w.bad_signatures
            ));
        }
    }
    for n in r.notes.iter().filter(|n| n.starts_with("carts disabled")) {
        s.push_str(&format!("\n  {n}"));
    }
    for (name, k) in &r.invariants {
        s.push_str(&format!(
            "\n  {name}: {} ({} violations)",
            if k.passed { "passed" } else { "FAILED" },
            k.violations
        ));
        if !k.passed {
            for e in k.examples.iter().take(3) {
                s.push_str(&format!("\n    {e}"));
            }
        }
    }
    s
}

/// The shipping line of the terminal summary.
pub fn shipping_summary(f: &crate::delivery::ShippingFigures) -> String {
    let c = &f.cost_per_order;
    let ratio = |r: Option<f64>| r.map_or("n/a".into(), |v| v.to_string());
    let levels: Vec<String> = f
        .promise_by_service_level
        .iter()
        .map(|(l, p)| format!("{l} {} ({}/{})", ratio(p.kept_ratio), p.kept, p.delivered))
        .collect();
    let mix: Vec<String> = f
        .carrier_mix
        .iter()
        .map(|(k, m)| format!("{k} {}", m.fulfillments))
        .collect();
    format!(
        "\n  shipping: cost per order mean {} p50 {} p99 {} ({} orders); split ratio {} ({}/{}); \
         promise kept {} ({}/{}): {}; mix {}; lateness {}",
        c.mean,
        c.p50,
        c.p99,
        c.orders,
        f.split_ratio,
        f.orders_split,
        f.orders_placed,
        ratio(f.promise_total.kept_ratio),
        f.promise_total.kept,
        f.promise_total.delivered,
        if levels.is_empty() {
            "none delivered".to_string()
        } else {
            levels.join(", ")
        },
        mix.join(", "),
        f.lateness
    )
}
