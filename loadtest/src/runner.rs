//! One run: sets up the system under test (an embedded core with the
//! doorbuster's short stock, or a running server over HTTP), offers the
//! schedule's orders at their intended times whatever the answers, reads
//! availability 20 times per order, lets the floor answer every wave,
//! drains, audits, and returns the report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode, EngineKind, Network};
use orch_runtime::dto::{AdjustmentInput, PlaceOrder};
use orch_runtime::Core;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::task::JoinSet;

use crate::audit::{audit, AuditInput};
use crate::book::Book;
use crate::carts::{hold_id_of, hold_input, CartDecider, CartDecision, CartSpec};
use crate::demand::{DoorbusterPlan, OrderSource};
use crate::driver::{released_fulfillments, Driver, PlaceError, SystemUnderTest};
use crate::driver_http::HttpDriver;
use crate::driver_inprocess::InProcessDriver;
use crate::histo::{Counters, Metrics};
use crate::hooks_run::HooksRun;
use crate::profile::Profile;
use crate::report::{self, Report};
use crate::schedule::Schedule;
use crate::simulator::{FloorSpec, SimInput, Simulator, SIM_DAY_MS_DEFAULT};
use crate::transit::{LatenessSpec, Transit};
use crate::workload::Zipf;

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The load profile.
    pub profile: Profile,
    /// BF-1 network scale.
    pub scale: f64,
    /// Orders per second at the hold.
    pub peak_rate: f64,
    /// Length of the arrival phase.
    pub duration: Duration,
    /// Seed of the network (in-process), the stream and the floor.
    pub seed: u64,
    /// `http://HOST:PORT` for HTTP mode; in-process when `None`.
    pub target: Option<String>,
    /// Seed of the network the target serves (HTTP mode; `orchestrator
    /// serve` uses 42).
    pub network_seed: u64,
    /// Durability mode passed to the embedded core.
    pub durability: DurabilityMode,
    /// What runs the embedded core's flows (the shard engine by default).
    pub engine: EngineKind,
    /// Journal directory of the embedded core; a temporary one when `None`.
    pub data_dir: Option<PathBuf>,
    /// Where report.json, report.md and chart.svg go.
    pub report_dir: Option<PathBuf>,
    /// Availability reads per order placed (20).
    pub reads_per_order: u32,
    /// Longest wait for the floor to finish after the last arrival.
    pub drain_timeout: Duration,
    /// Arbiters of the embedded core (0 = one per core).
    pub workers: u32,
    /// Show the live progress bar (only on a terminal anyway).
    pub progress: bool,
    /// The latency objective: goodput counts orders acknowledged within it.
    pub slo: Duration,
    /// Most orders outstanding at once (sent, waiting to retry or being
    /// answered); arrivals beyond it are dropped, never queued. The same
    /// limit bounds outstanding availability reads (each read counted).
    pub max_in_flight: usize,
    /// Tries of an order the core refuses (429 / `Busy`), the first
    /// included; after the last it is counted as shed.
    pub max_tries: u32,
    /// Arrivals sent later than this after their intended time are late.
    pub late_tolerance: Duration,
    /// HTTP mode: pid of the server on this machine, to report its peak RSS.
    pub server_pid: Option<u32>,
    /// HTTP mode: measure the driver alone against a trivial local endpoint
    /// for this long before the run, for the report's notes.
    pub driver_calibration: Option<Duration>,
    /// How late the floor's carriers deliver (seeded per fulfillment).
    pub lateness: LatenessSpec,
    /// Compressed time per simulated day of transit.
    pub sim_day: Duration,
    /// Carts: the share of arrivals that hold first, abandoned share, hold
    /// TTL and checkout delay (share 0: none).
    pub carts: CartSpec,
    /// Register a local webhook receiver for every event type before the
    /// load (`--no-webhooks`: off); the feed is audited either way.
    pub webhooks: bool,
}

/// Default `--max-in-flight`. The tester's own cost of one outstanding
/// order is its `PlaceOrder` (ids, lines, ship-to: about 0.5 KB) and its
/// task and future (about 1-2 KB, a request body over HTTP); an outstanding
/// read (counted apart, against the same limit) about 2 KB. So 20,000 of
/// each hold about 100 MB, under the 1 GB budget with room for the book
/// (a few hundred bytes per acknowledged order) and the floor's jobs. By
/// Little's law 20,000 outstanding orders at the 10 ms objective allow 2
/// million orders/s, so the limit never binds a core that meets its
/// objective. Measured: an HTTP overload run with 20,000 read *groups* (20
/// requests each) allowed peaked at 780 MB, hence reads counted one by one.
pub const MAX_IN_FLIGHT_DEFAULT: usize = 20_000;

impl RunOptions {
    /// BF-1 defaults for a short in-process run.
    pub fn new(
        profile: Profile,
        scale: f64,
        peak_rate: f64,
        duration: Duration,
        seed: u64,
    ) -> Self {
        RunOptions {
            profile,
            scale,
            peak_rate,
            duration,
            seed,
            target: None,
            network_seed: 42,
            durability: DurabilityMode::None,
            engine: EngineKind::default(),
            data_dir: None,
            report_dir: None,
            reads_per_order: 20,
            drain_timeout: Duration::from_secs(60),
            workers: 0,
            progress: true,
            slo: Duration::from_millis(10),
            max_in_flight: MAX_IN_FLIGHT_DEFAULT,
            max_tries: 3,
            late_tolerance: Duration::from_millis(50),
            server_pid: None,
            driver_calibration: None,
            lateness: LatenessSpec::default(),
            sim_day: Duration::from_secs_f64(SIM_DAY_MS_DEFAULT / 1000.0),
            carts: CartSpec::default(),
            webhooks: true,
        }
    }
}

/// What the run set up, kept until the end.
struct Setup {
    driver: Driver,
    core: Option<Core>,
    _data_dir: Option<tempfile::TempDir>,
    data_dir: Option<String>,
    net: Network,
    /// Cycle counts applied while setting up: (SKU, facility, on hand).
    adjusted: Vec<(String, String, i64)>,
}

async fn setup(
    opts: &RunOptions,
    plan_for: impl Fn(&Network) -> Option<DoorbusterPlan>,
) -> Result<(Setup, Option<DoorbusterPlan>), String> {
    match &opts.target {
        None => {
            let mut net = generate(&Bf1Params {
                scale: opts.scale,
                seed: opts.seed,
            });
            let plan = plan_for(&net);
            if let Some(p) = &plan {
                p.shape_stock(&mut net);
            }
            let mut cfg = Config::with_network(net.clone());
            cfg.runtime.workers = opts.workers;
            cfg.durability.mode = opts.durability;
            let (tmp, dir) = match &opts.data_dir {
                Some(d) => (None, d.display().to_string()),
                None => {
                    let t = tempfile::Builder::new()
                        .prefix("loadtest-data-")
                        .tempdir()
                        .map_err(|e| format!("cannot make a temporary data dir: {e}"))?;
                    let d = t.path().display().to_string();
                    (Some(t), d)
                }
            };
            cfg.durability.data_dir = dir.clone();
            cfg.runtime.engine = opts.engine;
            let core = Core::try_start(&cfg)?;
            Ok((
                Setup {
                    driver: Driver::InProcess(InProcessDriver::new(core.clone())),
                    core: Some(core),
                    _data_dir: tmp,
                    data_dir: Some(dir),
                    net,
                    adjusted: Vec::new(),
                },
                plan,
            ))
        }
        Some(target) => {
            let http = HttpDriver::new(target);
            http.ready()
                .await
                .map_err(|e| format!("--target {target}: not ready: {e}"))?;
            let net = generate(&Bf1Params {
                scale: opts.scale,
                seed: opts.network_seed,
            });
            let skus = http.skus().await?;
            let facilities = http.facilities().await?;
            let ours: Vec<&str> = net.facilities.iter().map(|f| f.id.as_str()).collect();
            let theirs: Vec<&str> = facilities.iter().map(|f| f.facility_id.as_str()).collect();
            if skus != net.skus || ours != theirs {
                return Err(format!(
                    "--target {target}: serves {} SKUs and {} facilities, not the BF-1 network at \
                     scale {} seed {} ({} SKUs, {} facilities): pass the server's --scale and --network-seed",
                    skus.len(),
                    theirs.len(),
                    opts.scale,
                    opts.network_seed,
                    net.skus.len(),
                    ours.len()
                ));
            }
            let plan = plan_for(&net);
            let mut adjusted = Vec::new();
            if let Some(p) = &plan {
                // The server's stock cannot be set before it starts: cycle
                // counts shape it instead.
                let mut items = Vec::new();
                for sku in &p.skus {
                    let inv = http.inventory(sku.clone()).await?;
                    for c in inv.facilities {
                        let on_hand = if c.facility_id == p.facility_id {
                            p.units_each
                        } else {
                            0
                        };
                        items.push(AdjustmentInput {
                            adjustment_id: format!(
                                "lt-{}-{}-{}-{}",
                                opts.seed,
                                run_tag(),
                                sku,
                                c.facility_id
                            ),
                            sku: sku.clone(),
                            facility_id: c.facility_id,
                            on_hand: i64::from(on_hand.max(c.reserved)),
                        });
                    }
                }
                let results = http.adjust(items.clone()).await?;
                for (a, r) in items.iter().zip(&results) {
                    if r.result == "applied" {
                        adjusted.push((a.sku.clone(), a.facility_id.clone(), a.on_hand));
                    }
                }
            }
            Ok((
                Setup {
                    driver: Driver::Http(http),
                    core: None,
                    _data_dir: None,
                    data_dir: None,
                    net,
                    adjusted,
                },
                plan,
            ))
        }
    }
}

/// A tag that keeps ids of two runs against one server apart.
fn run_tag() -> String {
    use std::sync::OnceLock;
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{ms:x}")
    })
    .clone()
}

/// Availability reads: SKUs by popularity, near the order's ship-to.
struct Reads {
    rng: ChaCha8Rng,
    zipf: Zipf,
    per_order: u32,
}

impl Reads {
    fn for_order(&mut self, net: &Network, o: &PlaceOrder) -> Vec<(String, f64, f64)> {
        (0..self.per_order)
            .map(|_| {
                let sku = net.skus[self.zipf.sample(&mut self.rng)].clone();
                (sku, o.ship_to.lat, o.ship_to.lon)
            })
            .collect()
    }
}

fn progress_bar(opts: &RunOptions) -> ProgressBar {
    let pb = ProgressBar::new(opts.duration.as_secs().max(1));
    if !opts.progress || !std::io::stdout().is_terminal() {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len}s {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

fn check_options(opts: &RunOptions) -> Result<(), String> {
    opts.profile.check()?;
    if !(opts.peak_rate > 0.0 && opts.peak_rate.is_finite()) {
        return Err(format!("--peak-rate: must be > 0, got {}", opts.peak_rate));
    }
    if !(opts.scale > 0.0 && opts.scale.is_finite()) {
        return Err(format!("--scale: must be > 0, got {}", opts.scale));
    }
    if opts.max_in_flight == 0 {
        return Err("--max-in-flight: must be at least 1".into());
    }
    if opts.max_tries == 0 {
        return Err("--max-tries: must be at least 1".into());
    }
    if opts.slo.is_zero() {
        return Err("--slo-ms: must be > 0".into());
    }
    opts.lateness.check()?;
    opts.carts.check()?;
    if opts.sim_day > Duration::from_secs(60) {
        return Err(format!(
            "--sim-day-ms: must be 0 to 60000, got {}",
            opts.sim_day.as_millis()
        ));
    }
    Ok(())
}

/// Runs once and returns the report (also written to `report_dir`).
pub async fn run(opts: &RunOptions) -> Result<Report, String> {
    check_options(opts)?;
    let schedule = Schedule::new(&opts.profile, opts.peak_rate, opts.duration);
    let (setup, plan) = setup(opts, |net| {
        opts.profile
            .active_doorbuster()
            .and_then(|spec| DoorbusterPlan::new(net, &schedule, spec, opts.seed))
    })
    .await?;
    run_on(opts, schedule, setup, plan).await
}

/// Runs once against `sut` (a test's fake core) with orders drawn from
/// `net`; no doorbuster plan (the fake's stock cannot be shaped).
pub async fn run_against(
    opts: &RunOptions,
    sut: Arc<dyn SystemUnderTest>,
    net: Network,
) -> Result<Report, String> {
    check_options(opts)?;
    let schedule = Schedule::new(&opts.profile, opts.peak_rate, opts.duration);
    let setup = Setup {
        driver: Driver::Custom(sut),
        core: None,
        _data_dir: None,
        data_dir: None,
        net,
        adjusted: Vec::new(),
    };
    run_on(opts, schedule, setup, None).await
}

async fn run_on(
    opts: &RunOptions,
    schedule: Schedule,
    setup: Setup,
    plan: Option<DoorbusterPlan>,
) -> Result<Report, String> {
    let mut notes = Vec::new();
    if let (Driver::Http(_), Some(d)) = (&setup.driver, opts.driver_calibration) {
        if !d.is_zero() {
            let f = crate::http_bench::measure_alone(100, 32, d).await?;
            notes.push(f.note("a trivial local endpoint (measured before this run)"));
        }
    }
    if matches!(setup.driver, Driver::InProcess(_)) {
        notes.push(
            "in-process: the load tester and the core share this process and its cores".into(),
        );
    }
    let driver = setup.driver.clone();
    let net = setup.net.clone();
    let carts_on = opts.carts.enabled() && driver.holds_supported().await;
    if opts.carts.enabled() && !carts_on {
        notes.push(format!(
            "carts disabled: the system under test does not serve holds ({}: 501 not_supported \
             on --engine shells); every order went straight to checkout",
            driver.mode()
        ));
    }
    let hot_initial = match &plan {
        Some(p) => crate::audit::shelf(&driver, &p.skus).await?,
        None => Vec::new(),
    };

    let prefix = format!("lt-{}-{}-", opts.seed, run_tag());
    // Registered before the first arrival: every event of the run is the
    // receiver's (a new registration gets the events after its cursor).
    let hooks = HooksRun::start(
        &driver,
        opts.webhooks,
        &format!("{}-{}", opts.seed, run_tag()),
        &prefix,
    )
    .await?;

    let start = Instant::now() + Duration::from_millis(200);
    let metrics = Arc::new(Metrics::with_objective(
        start,
        opts.slo,
        opts.late_tolerance,
    ));
    let book = Arc::new(Book::new(&net));
    for (sku, facility, on_hand) in &setup.adjusted {
        book.adjusted(sku, facility, *on_hand);
    }
    let sim = Simulator::start(
        driver.clone(),
        FloorSpec {
            lateness: opts.lateness.clone(),
            sim_day: opts.sim_day,
            ..FloorSpec::bf1(opts.seed)
        },
        Transit::bf1(&net),
        metrics.clone(),
        book.clone(),
    );
    if let Some(p) = &plan {
        for (at, r) in &p.receipts {
            let _ = sim.tx.send(SimInput::Receipt(
                start + Duration::from_secs_f64(*at),
                r.clone(),
            ));
        }
    }

    // Released waves reach the floor: the core's broadcast in-process, a
    // poller of the release endpoint over HTTP.
    let feed = spawn_wave_feed(&setup, &sim, &metrics);

    let pb = progress_bar(opts);
    let ticker = spawn_ticker(pb.clone(), metrics.clone(), schedule.clone());

    let hot_share = schedule.doorbuster.map_or(0.0, |d| d.hot_line_share);
    let mut source = OrderSource::new(&net, opts.seed, &prefix, plan.as_ref(), hot_share);
    let mut reads = Reads {
        rng: ChaCha8Rng::seed_from_u64(opts.seed ^ 0x2EAD),
        zipf: Zipf::new(net.skus.len(), 1.0),
        per_order: opts.reads_per_order,
    };
    // HTTP batches what fell due in 10 ms into one request; in-process every
    // order goes out at its time.
    let window = match driver {
        Driver::Http(_) => Duration::from_millis(10),
        Driver::InProcess(_) | Driver::Custom(_) => Duration::ZERO,
    };
    let mut carts = CartDecider::new(opts.carts, opts.seed);
    let carts_in_flight = Arc::new(AtomicUsize::new(0));
    let flow = Flow {
        driver: driver.clone(),
        metrics: metrics.clone(),
        book: book.clone(),
        sim_tx: sim.tx.clone(),
        in_flight: Arc::new(AtomicUsize::new(0)),
        max_tries: opts.max_tries,
    };
    let reads_in_flight = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    let mut pending: Vec<(Instant, PlaceOrder, Option<String>)> = Vec::new();
    for t in schedule.arrivals() {
        let intended = start + Duration::from_secs_f64(t);
        if pending
            .first()
            .is_some_and(|(first, _, _)| intended > *first + window)
        {
            flow.flush(&mut pending, &mut tasks);
        }
        while tasks.try_join_next().is_some() {}
        tokio::time::sleep_until(intended.into()).await;
        metrics.arrival_lateness(Instant::now().saturating_duration_since(intended));
        // Drawn even when dropped: the stream stays the same whatever the
        // core's speed.
        let o = source.next_order(schedule.in_doorbuster(t));
        let r = (opts.reads_per_order > 0).then(|| reads.for_order(&net, &o));
        // Drawn for every arrival: the decisions stay the same whatever
        // the core's speed.
        let decision = if carts_on && carts_in_flight.load(Ordering::Acquire) < opts.max_in_flight {
            carts.decide()
        } else {
            let _ = carts.decide();
            CartDecision::DIRECT
        };
        let cart = decision.checkout.is_some();
        if decision.abandoned_cart {
            carts_in_flight.fetch_add(1, Ordering::AcqRel);
            let n = carts_in_flight.clone();
            let (flow, spec, o) = (flow.clone(), opts.carts, o.clone());
            tasks.spawn(async move {
                run_cart(&flow, spec, intended, o, None, usize::MAX).await;
                n.fetch_sub(1, Ordering::AcqRel);
            });
        }
        if !cart {
            metrics.offered(intended);
        }
        if !cart && flow.in_flight.load(Ordering::Acquire) + pending.len() >= opts.max_in_flight {
            metrics.dropped(intended);
            if r.is_some() {
                Counters::add(&metrics.counts.reads_dropped, 1);
            }
            continue;
        }
        if let Some(r) = r {
            // Each read is its own request: the limit counts reads, not
            // groups (over HTTP 20 waiting requests per order would hold
            // about 40 KB each group).
            if (reads_in_flight.load(Ordering::Acquire) + 1) * r.len() > opts.max_in_flight {
                Counters::add(&metrics.counts.reads_dropped, 1);
            } else {
                reads_in_flight.fetch_add(1, Ordering::AcqRel);
                let d = driver.clone();
                let m = metrics.clone();
                let n_in = reads_in_flight.clone();
                tasks.spawn(async move {
                    let n = r.len() as u64;
                    let answers = d.availability(r).await;
                    Counters::add(&m.counts.reads, n);
                    for a in answers {
                        match a {
                            Ok(done) => m.read.record(done.saturating_duration_since(intended)),
                            Err(_) => Counters::add(&m.counts.read_errors, 1),
                        }
                    }
                    n_in.fetch_sub(1, Ordering::AcqRel);
                });
            }
        }
        if cart {
            carts_in_flight.fetch_add(1, Ordering::AcqRel);
            let n = carts_in_flight.clone();
            let (flow, spec, max_in_flight) = (flow.clone(), opts.carts, opts.max_in_flight);
            tasks.spawn(async move {
                run_cart(&flow, spec, intended, o, decision.checkout, max_in_flight).await;
                n.fetch_sub(1, Ordering::AcqRel);
            });
            continue;
        }
        pending.push((intended, o, None));
    }
    flow.flush(&mut pending, &mut tasks);
    while tasks.join_next().await.is_some() {}
    let arrivals_done = Instant::now();
    if carts_on {
        // Abandoned carts' holds expire by the shard's clock within a
        // second of expires_at: wait for the last before draining.
        pb.set_message("waiting for abandoned carts' holds to expire");
        let deadline = Instant::now() + opts.drain_timeout;
        while !crate::audit_holds::all_expired(&book, std::time::SystemTime::now())
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    pb.set_message("draining: the floor answers the last waves");

    let floor_finished = drain(&setup, &sim, opts.drain_timeout).await;
    let drained = Instant::now();
    ticker.abort();
    feed.abort();
    let abandoned = sim.shared.abandoned.load(Ordering::Acquire);
    let surprises = sim
        .shared
        .surprises
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    let unheard = sim
        .shared
        .unheard
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    sim.stop().await;
    pb.set_message("auditing");

    if std::env::var("LOADTEST_DEBUG").is_ok() {
        for s in surprises.iter().chain(&unheard) {
            if let Some((fid, _)) = s.split_once(' ') {
                let oid = fid.rsplit_once('/').map_or(fid, |(o, _)| o);
                eprintln!("DEBUG {s}\n  {:?}", driver.order(oid.to_string()).await);
            }
        }
    }
    let core_audit = match &setup.core {
        Some(core) => core.audit().await,
        None => None,
    };
    let mut checks = audit(AuditInput {
        driver: &driver,
        book: &book,
        plan: plan.as_ref(),
        hot_initial: &hot_initial,
        core_audit,
        skus: &net.skus,
        metrics: &metrics,
        abandoned,
        surprises,
        unheard,
        carts: carts_on,
    })
    .await;
    // The book's expectations hold once the floor has finished; say so when
    // it had not.
    checks.checks.push(crate::audit::CheckResult {
        name: "floor_finished".into(),
        passed: floor_finished,
        violations: u64::from(!floor_finished),
        scope: format!(
            "the floor answered every wave within --drain-timeout ({:?}); if not, the book's \
             expectations of orders and cells still in flight do not hold yet",
            opts.drain_timeout
        ),
        examples: if floor_finished {
            Vec::new()
        } else {
            vec![format!(
                "still busy {:?} after the last arrival",
                opts.drain_timeout
            )]
        },
    });
    let events = match hooks {
        Some(h) => {
            pb.set_message("auditing the events feed and the webhook deliveries");
            let a = h.finish(&driver, &book, opts.drain_timeout).await;
            checks.checks.extend(a.checks);
            Some(a.figures)
        }
        None => None,
    };
    pb.finish_and_clear();
    let holds_expired = checks.holds_expired;
    let shipping = crate::delivery::figures(
        &book.orders(),
        opts.lateness.describe(),
        opts.sim_day.as_secs_f64() * 1000.0,
    );

    let resident = match &driver {
        Driver::InProcess(d) => Some(d.resident_actors().await),
        Driver::Http(_) | Driver::Custom(_) => None,
    };
    let report = report::build(report::Inputs {
        opts,
        schedule: &schedule,
        plan: plan.as_ref(),
        metrics: &metrics,
        checks,
        resident_actors: resident,
        data_dir: setup.data_dir.clone(),
        arrivals_s: arrivals_done.saturating_duration_since(start).as_secs_f64(),
        total_s: drained.saturating_duration_since(start).as_secs_f64(),
        journal: setup.core.as_ref().and_then(report::journal_stats),
        notes,
        shipping,
        events,
        carts: carts_on.then(|| {
            let hot_units_held = plan.as_ref().map_or(0, |p| {
                book.holds()
                    .iter()
                    .flat_map(|h| h.held.iter())
                    .filter(|&&(f, s, _)| p.skus.contains(&book.cell_names(f, s).0))
                    .map(|&(_, _, q)| u64::from(q))
                    .sum()
            });
            report::cart_figures(&opts.carts, &metrics, holds_expired, hot_units_held)
        }),
    });
    if let Some(core) = &setup.core {
        core.shutdown();
    }
    if let Some(dir) = &opts.report_dir {
        report::write(dir, &report)?;
    }
    Ok(report)
}

/// What the place tasks share: where orders go and where answers are kept.
#[derive(Clone)]
struct Flow {
    driver: Driver,
    metrics: Arc<Metrics>,
    book: Arc<Book>,
    sim_tx: tokio::sync::mpsc::UnboundedSender<SimInput>,
    /// Orders sent and not final yet (acknowledged, failed or shed).
    in_flight: Arc<AtomicUsize>,
    max_tries: u32,
}

impl Flow {
    /// Sends what is pending as one batch; refused orders are tried again
    /// after `Retry-After`, up to `max_tries`, then shed.
    fn flush(
        &self,
        pending: &mut Vec<(Instant, PlaceOrder, Option<String>)>,
        tasks: &mut JoinSet<()>,
    ) {
        if pending.is_empty() {
            return;
        }
        let batch = std::mem::take(pending);
        // Counted in flight now, not when the task starts: the arrival
        // loop checks the limit before the task may have run.
        self.in_flight.fetch_add(batch.len(), Ordering::AcqRel);
        let flow = self.clone();
        tasks.spawn(async move { flow.place(batch).await });
    }

    /// Places a batch (each order naming its cart's hold or none), already
    /// counted in `in_flight` by the caller, and records the answers;
    /// refused orders are tried again after `Retry-After`, up to
    /// `max_tries`, then shed.
    async fn place(&self, mut batch: Vec<(Instant, PlaceOrder, Option<String>)>) {
        for (_, o, _) in &batch {
            self.book.ship_to(&o.order_id, o.ship_to.lat, o.ship_to.lon);
        }
        let (d, m, b, tx, in_flight) = (
            &self.driver,
            &self.metrics,
            &self.book,
            &self.sim_tx,
            &self.in_flight,
        );
        let c = &m.counts;
        for attempt in 1..=self.max_tries {
            let orders: Vec<(PlaceOrder, Option<String>)> = batch
                .iter()
                .map(|(_, o, h)| {
                    if let Some(h) = h {
                        b.hold_ordered(h);
                    }
                    (o.clone(), h.clone())
                })
                .collect();
            let answers = d.place_batch_holding(&orders).await;
            let now = Instant::now();
            let mut again = Vec::new();
            let mut wait = Duration::ZERO;
            for ((t, o, h), a) in batch.into_iter().zip(answers) {
                match a {
                    Ok((v, hold)) => {
                        m.placed_at(t, now);
                        Counters::add(&c.orders_acknowledged, 1);
                        match v.status.as_str() {
                            "rejected" => Counters::add(&c.rejected, 1),
                            "routed" => Counters::add(&c.routed, 1),
                            _ => {}
                        }
                        if !v.backordered.is_empty() {
                            Counters::add(&c.backordered, 1);
                        }
                        b.acknowledged(&v);
                        b.events().placed(&v, now);
                        if let Some(h) = &h {
                            let status = hold.as_ref().map(|x| x.status.as_str());
                            if status == Some("converted") {
                                Counters::add(&c.carts_converted, 1);
                            } else {
                                Counters::add(&c.carts_not_converted, 1);
                            }
                            b.hold_answered(h, status, &v);
                        }
                        let _ = tx.send(SimInput::Acknowledged(v));
                        in_flight.fetch_sub(1, Ordering::AcqRel);
                    }
                    Err(PlaceError::Refused { retry_after, .. }) => {
                        Counters::add(&c.orders_refused, 1);
                        if attempt < self.max_tries {
                            wait = wait.max(retry_after);
                            again.push((t, o, h));
                        } else {
                            m.shed();
                            b.events().refused(&o.order_id);
                            in_flight.fetch_sub(1, Ordering::AcqRel);
                        }
                    }
                    Err(PlaceError::Failed(_)) => {
                        b.events().failed(&o.order_id);
                        Counters::add(&c.orders_failed, 1);
                        Counters::add(&c.errors, 1);
                        in_flight.fetch_sub(1, Ordering::AcqRel);
                    }
                }
            }
            batch = again;
            if batch.is_empty() {
                break;
            }
            Counters::add(&c.orders_retried, batch.len() as u64);
            tokio::time::sleep(wait).await;
        }
    }
}

/// One cart: holds the order's lines (refusals tried again after
/// `Retry-After`, up to `max_tries`, like orders), then checks out after
/// `checkout` (the order names the hold; it is offered then), or, when
/// `None`, is abandoned and its hold left to expire. A cart whose hold was
/// refused or failed still checks out if it was to, without a hold.
async fn run_cart(
    flow: &Flow,
    spec: CartSpec,
    intended: Instant,
    o: PlaceOrder,
    checkout: Option<Duration>,
    max_in_flight: usize,
) {
    let (m, c) = (&flow.metrics, &flow.metrics.counts);
    let abandon = checkout.is_none();
    let input = hold_input(&o, abandon, spec.ttl_s);
    let mut held = false;
    for attempt in 1..=flow.max_tries {
        match flow.driver.create_hold(&input).await {
            Ok(v) => {
                m.hold.record_since(intended);
                Counters::add(&c.carts_created, 1);
                match flow.book.hold_acknowledged(&o.order_id, &v, abandon) {
                    Ok(()) => held = true,
                    Err(_) => Counters::add(&c.errors, 1),
                }
                break;
            }
            Err(PlaceError::Refused { retry_after, .. }) => {
                Counters::add(&c.carts_refused, 1);
                if attempt == flow.max_tries {
                    Counters::add(&c.carts_shed, 1);
                } else {
                    tokio::time::sleep(retry_after).await;
                }
            }
            Err(PlaceError::Failed(_)) => {
                Counters::add(&c.carts_failed, 1);
                Counters::add(&c.errors, 1);
                break;
            }
        }
    }
    let Some(after) = checkout else {
        if held {
            Counters::add(&c.carts_abandoned, 1);
        }
        return;
    };
    let checkout = Instant::now() + after;
    tokio::time::sleep_until(checkout.into()).await;
    m.offered(checkout);
    if flow.in_flight.load(Ordering::Acquire) >= max_in_flight {
        m.dropped(checkout);
        return;
    }
    let hold = held.then(|| hold_id_of(&o.order_id, false));
    flow.in_flight.fetch_add(1, Ordering::AcqRel);
    flow.place(vec![(checkout, o, hold)]).await;
}

fn spawn_wave_feed(
    setup: &Setup,
    sim: &Simulator,
    metrics: &Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    let tx = sim.tx.clone();
    let m = metrics.clone();
    match &setup.driver {
        // A test's fake core releases no waves.
        Driver::Custom(_) => tokio::spawn(async {}),
        Driver::InProcess(d) => {
            let d = d.clone();
            let mut rx = d.core.subscribe_waves();
            tokio::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match rx.recv().await {
                        Ok(ann) => {
                            // A wave may be announced before the core has
                            // registered the client id of an order placed a
                            // moment ago (its fulfillment shows as "?/n"):
                            // look again shortly.
                            let mut fs = d.released(&ann).await;
                            for _ in 0..200 {
                                if !fs.iter().any(|f| f.order_id == "?") {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(5)).await;
                                fs = d.released(&ann).await;
                            }
                            let _ = tx.send(SimInput::Released(fs));
                        }
                        Err(RecvError::Lagged(n)) => Counters::add(&m.counts.waves_missed, n),
                        Err(RecvError::Closed) => break,
                    }
                }
            })
        }
        Driver::Http(h) => {
            let h = h.clone();
            let sim_shared = sim.shared.clone();
            let ids: Vec<String> = setup.net.facilities.iter().map(|f| f.id.clone()).collect();
            tokio::spawn(async move {
                loop {
                    for id in &ids {
                        // Release until the facility's queue is empty.
                        for _ in 0..100 {
                            match h.release(id.clone()).await {
                                Ok(w) if w.wave_id.is_some() => {
                                    let (fs, unnamed): (Vec<_>, Vec<_>) =
                                        released_fulfillments(id, &w)
                                            .into_iter()
                                            .partition(|f| f.order_id != "?");
                                    // The server named no order for these
                                    // ("?/n"): the registry race the
                                    // in-process feed waits out. Over HTTP
                                    // the answer is final: count them.
                                    if !unnamed.is_empty() {
                                        Counters::add(
                                            &m.counts.waves_unheard,
                                            unnamed.len() as u64,
                                        );
                                        if let Ok(mut v) = sim_shared.unheard.lock() {
                                            v.push(format!(
                                                "wave {} at {id}: {} fulfillments without an order id",
                                                w.wave_id.as_deref().unwrap_or(""),
                                                unnamed.len()
                                            ));
                                        }
                                    }
                                    let _ = tx.send(SimInput::Released(fs));
                                }
                                Ok(_) => break,
                                Err(_) => {
                                    Counters::add(&m.counts.errors, 1);
                                    break;
                                }
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        }
    }
}

fn spawn_ticker(pb: ProgressBar, m: Arc<Metrics>, s: Schedule) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = (Instant::now(), 0u64);
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = Instant::now();
            let t = now.saturating_duration_since(m.start).as_secs_f64();
            let answered = Counters::get(&m.counts.orders_acknowledged)
                + Counters::get(&m.counts.orders_failed);
            let rate = (answered - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
            last = (now, answered);
            pb.set_position(t as u64);
            pb.set_message(format!(
                "target {:.0}/s achieved {:.0}/s place p99 {:.2} ms errors {}",
                s.rate_at(t),
                rate,
                m.place.p99_ms(),
                Counters::get(&m.counts.errors)
                    + Counters::get(&m.counts.scans_rejected_unexpected)
            ));
        }
    })
}

/// Waits until the floor has answered every wave: in-process it releases
/// what is still queued (as the wave timer would, sooner); over HTTP the
/// poller keeps releasing. False when `timeout` passed first.
async fn drain(setup: &Setup, sim: &Simulator, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    // Over HTTP the floor learns of some fulfillments only from the
    // simulator's once-a-second sweep: stay calm for 3 s, not 0.5 s.
    let calm_needed = if matches!(setup.driver, Driver::Http(_)) {
        30
    } else {
        5
    };
    let mut calm = 0;
    while calm < calm_needed && Instant::now() < deadline {
        let released = match &setup.core {
            Some(core) => {
                core.quiesce().await;
                core.release_all_waves().await
            }
            None => 0,
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        if released == 0 && sim.idle() {
            calm += 1;
        } else {
            calm = 0;
        }
    }
    calm >= calm_needed
}
