//! The warehouse floor and the carriers. Every released fulfillment gets a
//! pick scan per line, then pack, then ship; the carrier then sends
//! in_transit, out_for_delivery and delivered. Delays are seeded per
//! fulfillment and step and time-compressed (milliseconds instead of hours).
//! On top, as WORKLOAD.md asks: 2% of orders are cancelled before pick (the
//! floor never picks them), 3% of delivered orders come back (80% restocked,
//! 20% disposed), 0.1% of scans are sent twice (the second must be answered
//! `duplicate`) and 0.1% are preceded by a scan out of order (an early pack,
//! ship or in_transit, or a late pick, which must be `rejected`; the
//! in-order scan follows and must apply).
//!
//! The carriers deliver with the planned service's transit
//! ([`crate::transit`]): the ship scan names the carrier the core planned,
//! the parcel leaves at that service's next pickup cutoff and arrives after
//! its distance band's transit days (in its delivery days), plus a seeded
//! lateness (`--lateness`). The floor waits one `--sim-day-ms` of
//! compressed time per calendar day between ship and out for delivery, and
//! the delivered scan carries the simulated day as its `at`, so the core
//! judges the promise by it.
//!
//! A step starts only once the previous step of its fulfillment was
//! answered, as on a real floor; steps of different fulfillments go out
//! together, batched per wake-up, and no batch waits for another. Scan
//! latency runs from the step's due time.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orch_runtime::dto::{OrderView, ReceiptInput, ScanInput};
use tokio::sync::mpsc;

use crate::book::{Book, DeliveredOn, PlanTrack};
use crate::driver::{Driver, ReleasedFulfillment};
use crate::histo::{Counters, Metrics};
use crate::seeded::{hash, millis_between, salt, unit};
use crate::transit::{rfc3339, Delivery, LatenessSpec, Transit};

/// Shares and delays of the simulated floor.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorSpec {
    /// Seed of every decision.
    pub seed: u64,
    /// Orders cancelled before pick (0.02).
    pub cancel_share: f64,
    /// Delivered orders returned (0.03).
    pub return_share: f64,
    /// Returns disposed of rather than restocked (0.2).
    pub dispose_share: f64,
    /// Scans sent twice (0.001).
    pub duplicate_share: f64,
    /// Scans preceded by one out of order (0.001).
    pub out_of_order_share: f64,
    /// Multiplies every delay (1.0 = the compressed defaults below).
    pub delay_factor: f64,
    /// How late the carriers deliver (seeded per fulfillment).
    pub lateness: LatenessSpec,
    /// Compressed time per simulated day between ship and out for delivery
    /// (240 ms: a simulated hour is about 10 ms, like the floor's delays).
    pub sim_day: Duration,
}

/// Default `--sim-day-ms`.
pub const SIM_DAY_MS_DEFAULT: f64 = 240.0;

impl FloorSpec {
    /// WORKLOAD.md's shares with this seed.
    pub fn bf1(seed: u64) -> FloorSpec {
        FloorSpec {
            seed,
            cancel_share: 0.02,
            return_share: 0.03,
            dispose_share: 0.2,
            duplicate_share: 0.001,
            out_of_order_share: 0.001,
            delay_factor: 1.0,
            lateness: LatenessSpec::default(),
            sim_day: Duration::from_secs_f64(SIM_DAY_MS_DEFAULT / 1000.0),
        }
    }

    /// The delivery of `work`, planned with `plan`, shipped at `shipped_at`
    /// (ms since the epoch), with this spec's lateness; and whether an
    /// on-time carrier would already be after the promised day (shipped
    /// after the plan's pickup). `None` when the book lacks its ship-to or
    /// the configuration the service.
    pub fn delivery(
        &self,
        transit: &Transit,
        book: &Book,
        work: &ReleasedFulfillment,
        plan: &PlanTrack,
        shipped_at: u64,
    ) -> Option<(Delivery, bool)> {
        let facility = book.facility_index(&work.facility_id)?;
        let ship_to = book.ship_to_of(&work.order_id)?;
        let late = self.lateness.days(self.seed, &work.fulfillment_id);
        let d = transit.delivery(
            &plan.carrier,
            &plan.service,
            facility,
            ship_to,
            shipped_at,
            late,
            self.sim_day.mul_f64(self.delay_factor.max(0.0)),
        )?;
        let late_pickup = plan.promised_day.is_some_and(|p| d.leg.on_time_day > p);
        Some((d, late_pickup))
    }

    /// Whether an order is one of those cancelled before pick.
    pub fn cancels(&self, order_id: &str) -> bool {
        unit(self.seed, order_id, salt::CANCEL) < self.cancel_share
    }

    /// Whether a delivered order comes back, and if so whether it is disposed.
    pub fn returns(&self, order_id: &str) -> Option<bool> {
        (unit(self.seed, order_id, salt::RETURN) < self.return_share)
            .then(|| unit(self.seed, order_id, salt::DISPOSE) < self.dispose_share)
    }

    fn delay(&self, key: &str, step: Step) -> Duration {
        let (lo, hi) = step.delay_ms();
        let ms = millis_between(self.seed, key, salt::DELAY + step as u64, lo, hi);
        Duration::from_secs_f64(ms as f64 * self.delay_factor / 1000.0)
    }

    /// Delay between an acknowledgment and the cancel of an order.
    pub fn cancel_delay(&self, order_id: &str) -> Duration {
        let ms = millis_between(self.seed, order_id, salt::DELAY, 10, 100);
        Duration::from_secs_f64(ms as f64 * self.delay_factor / 1000.0)
    }
}

/// The steps of one fulfillment, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// One pick scan per line.
    Pick,
    /// Pack.
    Pack,
    /// Ship (carrier and tracking).
    Ship,
    /// Carrier: in transit.
    InTransit,
    /// Carrier: out for delivery.
    OutForDelivery,
    /// Carrier: delivered.
    Delivered,
    /// The customer sends every line back.
    Return,
}

impl Step {
    /// Seeded delay range before this step, in compressed milliseconds.
    pub fn delay_ms(self) -> (u64, u64) {
        match self {
            Step::Pick => (20, 200),
            Step::Pack | Step::Ship => (10, 100),
            Step::InTransit | Step::OutForDelivery | Step::Delivered => (50, 300),
            Step::Return => (100, 500),
        }
    }

    fn next(self) -> Option<Step> {
        match self {
            Step::Pick => Some(Step::Pack),
            Step::Pack => Some(Step::Ship),
            Step::Ship => Some(Step::InTransit),
            Step::InTransit => Some(Step::OutForDelivery),
            Step::OutForDelivery => Some(Step::Delivered),
            Step::Delivered | Step::Return => None,
        }
    }
}

/// The scan events of one step of one fulfillment, in order.
pub fn step_events(f: &ReleasedFulfillment, step: Step, dispose: bool) -> Vec<ScanInput> {
    let key = f.fulfillment_id.replace('/', ".");
    let base = |kind: &str, suffix: &str| ScanInput {
        event_id: format!("{key}:{kind}{suffix}"),
        kind: kind.into(),
        order_id: f.order_id.clone(),
        fulfillment_id: f.fulfillment_id.clone(),
        facility_id: f.facility_id.clone(),
        ..ScanInput::default()
    };
    let lines = |kind: &str, disposition: Option<&str>| {
        f.lines
            .iter()
            .enumerate()
            .map(|(i, (sku, qty))| ScanInput {
                sku: Some(sku.clone()),
                qty: Some(i64::from(*qty)),
                disposition: disposition.map(String::from),
                ..base(kind, &format!(":{i}"))
            })
            .collect()
    };
    match step {
        Step::Pick => lines("pick", None),
        Step::Pack => vec![base("pack", "")],
        Step::Ship => vec![ScanInput {
            carrier: Some("UPS".into()),
            tracking: Some(format!("1Z{:016X}", hash(0, &key, 7))),
            ..base("ship", "")
        }],
        Step::InTransit => vec![base("in_transit", "")],
        Step::OutForDelivery => vec![base("out_for_delivery", "")],
        Step::Delivered => vec![base("delivered", "")],
        Step::Return => lines(
            "return_received",
            Some(if dispose { "dispose" } else { "restock" }),
        ),
    }
}

/// The scan sent out of order before `e` (of step `step`): one the core
/// must reject in the fulfillment's state at that moment.
pub fn out_of_order_twin(f: &ReleasedFulfillment, step: Step, e: &ScanInput) -> ScanInput {
    let mut twin = match step {
        Step::Pick => step_events(f, Step::Pack, false).remove(0),
        Step::Pack => step_events(f, Step::Ship, false).remove(0),
        Step::Ship => step_events(f, Step::InTransit, false).remove(0),
        _ => step_events(f, Step::Pick, false).remove(0),
    };
    twin.event_id = format!("{}:ooo", e.event_id);
    twin
}

enum Job {
    Step {
        work: Arc<ReleasedFulfillment>,
        step: Step,
        attempt: u32,
    },
    Duplicate(ScanInput),
    Cancel(String),
    Receipt(ReceiptInput),
}

/// What the simulator is told.
pub enum SimInput {
    /// Fulfillments released in a wave.
    Released(Vec<ReleasedFulfillment>),
    /// An order was acknowledged (for cancels and, in HTTP mode, the sweep).
    Acknowledged(OrderView),
    /// A receipt to send at a time.
    Receipt(Instant, ReceiptInput),
    /// Stop (the runner has drained).
    Stop,
    /// Internal: schedule a job.
    #[doc(hidden)]
    Later(Instant, JobBox),
}

/// A job in flight between tasks (opaque).
pub struct JobBox(Job);

/// Shared between the simulator's tasks and the runner.
pub struct SimShared {
    /// Run metrics.
    pub metrics: Arc<Metrics>,
    /// What was acknowledged and done.
    pub book: Arc<Book>,
    /// Jobs scheduled or in flight; 0 when the floor is idle.
    pub active: AtomicI64,
    /// Fulfillments the simulator abandoned after an unexpected answer.
    pub abandoned: AtomicI64,
    /// The first unexpected answers (event, expected, got, reason).
    pub surprises: std::sync::Mutex<Vec<String>>,
    /// The first released fulfillments whose order never learned its wave.
    pub unheard: std::sync::Mutex<Vec<String>>,
    /// The carriers.
    pub transit: Transit,
    /// Shipped parcels' deliveries (and late pickup), by fulfillment id.
    pub deliveries: std::sync::Mutex<HashMap<String, (Delivery, bool)>>,
}

impl SimShared {
    fn delivery_of(&self, fulfillment_id: &str) -> Option<(Delivery, bool)> {
        self.deliveries
            .lock()
            .ok()
            .and_then(|m| m.get(fulfillment_id).copied())
    }
}

/// The handle the runner keeps.
pub struct Simulator {
    /// Send inputs here.
    pub tx: mpsc::UnboundedSender<SimInput>,
    /// Shared state.
    pub shared: Arc<SimShared>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Starts the floor on the current tokio runtime; its carriers are
    /// `transit`.
    pub fn start(
        driver: Driver,
        spec: FloorSpec,
        transit: Transit,
        metrics: Arc<Metrics>,
        book: Arc<Book>,
    ) -> Simulator {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(SimShared {
            metrics,
            book,
            active: AtomicI64::new(0),
            abandoned: AtomicI64::new(0),
            surprises: std::sync::Mutex::new(Vec::new()),
            unheard: std::sync::Mutex::new(Vec::new()),
            transit,
            deliveries: std::sync::Mutex::new(HashMap::new()),
        });
        let floor = Floor {
            driver,
            spec: Arc::new(spec),
            shared: shared.clone(),
            tx: tx.clone(),
            heap: BinaryHeap::new(),
            jobs: HashMap::new(),
            seq: 0,
            started: HashSet::new(),
            unseen: HashMap::new(),
            watch: HashMap::new(),
        };
        let task = tokio::spawn(floor.run(rx));
        Simulator { tx, shared, task }
    }

    /// Whether nothing is scheduled or in flight.
    pub fn idle(&self) -> bool {
        self.shared.active.load(Ordering::Acquire) == 0
    }

    /// Stops the floor and waits for its loop.
    pub async fn stop(self) {
        let _ = self.tx.send(SimInput::Stop);
        let _ = self.task.await;
    }
}

struct Floor {
    driver: Driver,
    spec: Arc<FloorSpec>,
    shared: Arc<SimShared>,
    tx: mpsc::UnboundedSender<SimInput>,
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    jobs: HashMap<u64, Job>,
    seq: u64,
    started: HashSet<String>,
    /// HTTP mode: fulfillments acknowledged but not seen in a polled wave,
    /// with when they were acknowledged.
    unseen: HashMap<String, (Instant, String)>,
    /// HTTP mode: orders acknowledged with backordered lines, with when
    /// they were last looked up: a line served later (by a receipt or a
    /// restocked return) gets a fulfillment the server's wave timer may
    /// release without the poller hearing it.
    watch: HashMap<String, Instant>,
}

impl Floor {
    fn schedule(&mut self, at: Instant, job: Job) {
        self.seq += 1;
        self.shared.active.fetch_add(1, Ordering::AcqRel);
        self.heap.push(Reverse((at, self.seq)));
        self.jobs.insert(self.seq, job);
    }

    fn released(&mut self, fs: Vec<ReleasedFulfillment>) {
        let now = Instant::now();
        Counters::add(&self.shared.metrics.counts.waves, 1);
        for f in fs {
            self.shared.book.released(&f);
            self.shared.book.events().released(&f, now);
            self.unseen.remove(&f.fulfillment_id);
            if self.spec.cancels(&f.order_id) || !self.started.insert(f.fulfillment_id.clone()) {
                continue;
            }
            let at = now + self.spec.delay(&f.fulfillment_id, Step::Pick);
            self.schedule(
                at,
                Job::Step {
                    work: Arc::new(f),
                    step: Step::Pick,
                    attempt: 0,
                },
            );
        }
    }

    fn acknowledged(&mut self, o: OrderView) {
        if o.status == "rejected" {
            return;
        }
        if self.spec.cancels(&o.order_id) {
            let at = Instant::now() + self.spec.cancel_delay(&o.order_id);
            self.schedule(at, Job::Cancel(o.order_id.clone()));
        }
        if matches!(self.driver, Driver::Http(_))
            && !self.spec.cancels(&o.order_id)
            && !o.backordered.is_empty()
        {
            self.watch.insert(o.order_id.clone(), Instant::now());
        }
        if matches!(self.driver, Driver::Http(_)) && !self.spec.cancels(&o.order_id) {
            for f in &o.fulfillments {
                self.unseen.insert(
                    f.fulfillment_id.clone(),
                    (Instant::now(), o.order_id.clone()),
                );
            }
        }
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<SimInput>) {
        let mut sweep_at = Instant::now() + Duration::from_secs(1);
        loop {
            let next = self
                .heap
                .peek()
                .map(|Reverse((t, _))| *t)
                .unwrap_or_else(|| Instant::now() + Duration::from_millis(50))
                .min(sweep_at);
            tokio::select! {
                m = rx.recv() => match m {
                    None | Some(SimInput::Stop) => break,
                    Some(SimInput::Released(fs)) => self.released(fs),
                    Some(SimInput::Acknowledged(o)) => self.acknowledged(o),
                    Some(SimInput::Receipt(at, r)) => self.schedule(at, Job::Receipt(r)),
                    Some(SimInput::Later(at, JobBox(j))) => {
                        // The in-flight count taken for the job that spawned
                        // this one is handed over to it.
                        self.shared.active.fetch_sub(1, Ordering::AcqRel);
                        self.schedule(at, j);
                    }
                },
                _ = tokio::time::sleep_until(next.into()) => {}
            }
            self.send_due();
            if Instant::now() >= sweep_at {
                sweep_at = Instant::now() + Duration::from_secs(1);
                self.sweep();
            }
        }
    }

    /// HTTP mode: fulfillments the server's own wave timer released never
    /// show up in a polled wave; look them up after a second.
    fn sweep(&mut self) {
        let Driver::Http(_) = &self.driver else {
            return;
        };
        let now = Instant::now();
        let mut orders: Vec<String> = self
            .unseen
            .values()
            .filter(|(t, _)| now.duration_since(*t) > Duration::from_secs(1))
            .map(|(_, o)| o.clone())
            .collect();
        let mut due: Vec<(Instant, String)> = self
            .watch
            .iter()
            .filter(|(_, t)| now.duration_since(**t) > Duration::from_secs(1))
            .map(|(o, t)| (*t, o.clone()))
            .collect();
        due.sort();
        due.truncate(250);
        for (_, o) in due {
            self.watch.insert(o.clone(), now);
            orders.push(o);
        }
        orders.sort();
        orders.dedup();
        orders.truncate(750);
        for order_id in orders {
            let driver = self.driver.clone();
            let tx = self.tx.clone();
            tokio::spawn(async move {
                if let Ok(Some(v)) = driver.order(order_id).await {
                    let fs: Vec<ReleasedFulfillment> = v
                        .fulfillments
                        .iter()
                        .filter(|f| f.status == "released")
                        .map(|f| ReleasedFulfillment {
                            order_id: v.order_id.clone(),
                            fulfillment_id: f.fulfillment_id.clone(),
                            facility_id: f.facility_id.clone(),
                            lines: f.lines.iter().map(|l| (l.sku.clone(), l.qty)).collect(),
                        })
                        .collect();
                    if !fs.is_empty() {
                        let _ = tx.send(SimInput::Released(fs));
                    }
                }
            });
        }
    }

    fn send_due(&mut self) {
        let now = Instant::now();
        // (due, work, step, index range in `events`), duplicates, twins.
        let mut events: Vec<ScanInput> = Vec::new();
        let mut plan: Vec<Sent> = Vec::new();
        while let Some(Reverse((t, id))) = self.heap.peek().copied() {
            if t > now {
                break;
            }
            self.heap.pop();
            let Some(job) = self.jobs.remove(&id) else {
                continue;
            };
            match job {
                Job::Step {
                    work,
                    step,
                    attempt,
                } => {
                    let dispose = self.spec.returns(&work.order_id) == Some(true);
                    let carrier = (step == Step::Ship)
                        .then(|| {
                            self.shared
                                .book
                                .plan_of(&work.order_id, &work.fulfillment_id)
                        })
                        .flatten()
                        .map(|p| p.carrier);
                    let delivered_at = (step == Step::Delivered)
                        .then(|| self.shared.delivery_of(&work.fulfillment_id))
                        .flatten()
                        .map(|(d, _)| d.at);
                    for mut e in step_events(&work, step, dispose) {
                        dress(&mut e, carrier.as_deref(), delivered_at);
                        if unit(self.spec.seed, &e.event_id, salt::OUT_OF_ORDER)
                            < self.spec.out_of_order_share
                        {
                            events.push(out_of_order_twin(&work, step, &e));
                            plan.push(Sent::Twin(t));
                            Counters::add(&self.shared.metrics.counts.scans_out_of_order_sent, 1);
                        }
                        events.push(e);
                        plan.push(Sent::InOrder(t));
                    }
                    plan.push(Sent::StepEnd {
                        work,
                        step,
                        attempt,
                    });
                }
                Job::Duplicate(e) => {
                    events.push(e);
                    plan.push(Sent::Duplicate(t));
                    plan.push(Sent::JobEnd);
                }
                Job::Cancel(order_id) => self.spawn_cancel(order_id),
                Job::Receipt(r) => self.spawn_receipt(r, t),
            }
        }
        if events.is_empty() {
            return;
        }
        Counters::add(&self.shared.metrics.counts.scans_sent, events.len() as u64);
        let driver = self.driver.clone();
        let shared = self.shared.clone();
        let spec = self.spec.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let answer = driver.scans(events.clone()).await;
            settle(answer, events, plan, &shared, &spec, &tx, &driver);
        });
    }

    fn spawn_cancel(&self, order_id: String) {
        let driver = self.driver.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            match driver.cancel(order_id.clone()).await {
                Ok(v) if v.status == "cancelled" => {
                    Counters::add(&shared.metrics.counts.cancelled, 1);
                    shared.book.cancelled(&order_id);
                    shared.book.events().cancelled(&order_id, Instant::now());
                }
                _ => Counters::add(&shared.metrics.counts.cancel_failed, 1),
            }
            shared.active.fetch_sub(1, Ordering::AcqRel);
        });
    }

    fn spawn_receipt(&self, r: ReceiptInput, due: Instant) {
        let driver = self.driver.clone();
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let qty = r.qty as u64;
            let sku = r.sku.clone();
            let facility = r.facility_id.clone();
            let c = &shared.metrics.counts;
            match driver.receive(vec![r]).await {
                Ok(results) => {
                    shared.metrics.scan.record_since(due);
                    for x in results.iter().filter(|x| x.result == "applied") {
                        Counters::add(&c.receipts_applied, 1);
                        Counters::add(&c.units_received, qty);
                        shared.book.received(&sku, &facility, qty);
                        Counters::add(
                            &c.backorders_served,
                            x.backorders_served.unwrap_or(0) as u64,
                        );
                    }
                }
                Err(_) => Counters::add(&c.errors, 1),
            }
            shared.active.fetch_sub(1, Ordering::AcqRel);
        });
    }
}

/// The ship scan names the planned carrier (when the book knows it); the
/// delivered scan carries the simulated delivery instant.
pub fn dress(e: &mut ScanInput, carrier: Option<&str>, delivered_at: Option<u64>) {
    if e.kind == "ship" {
        if let Some(c) = carrier {
            e.carrier = Some(c.to_string());
        }
    }
    if e.kind == "delivered" {
        e.at = delivered_at.map(rfc3339);
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

enum Sent {
    InOrder(Instant),
    Twin(Instant),
    Duplicate(Instant),
    StepEnd {
        work: Arc<ReleasedFulfillment>,
        step: Step,
        attempt: u32,
    },
    JobEnd,
}

/// Checks one batch's answers against what each event expected and
/// schedules what follows.
fn settle(
    answer: Result<Vec<orch_runtime::dto::ScanResult>, String>,
    events: Vec<ScanInput>,
    plan: Vec<Sent>,
    shared: &Arc<SimShared>,
    spec: &FloorSpec,
    tx: &mpsc::UnboundedSender<SimInput>,
    driver: &Driver,
) {
    let c = &shared.metrics.counts;
    let now = Instant::now();
    let results = match answer {
        Ok(r) if r.len() == events.len() => r,
        _ => {
            Counters::add(&c.errors, 1);
            Vec::new()
        }
    };
    let mut i = 0;
    let mut step_ok = Outcome::Done;
    for p in plan {
        let (due, expect) = match &p {
            Sent::InOrder(d) => (*d, "applied"),
            Sent::Twin(d) => (*d, "rejected"),
            Sent::Duplicate(d) => (*d, "duplicate"),
            Sent::StepEnd {
                work,
                step,
                attempt,
            } => {
                finish_step(work, *step, *attempt, step_ok, shared, spec, tx, driver);
                step_ok = Outcome::Done;
                continue;
            }
            Sent::JobEnd => {
                shared.active.fetch_sub(1, Ordering::AcqRel);
                continue;
            }
        };
        let mut got = results.get(i).map(|r| r.result.as_str()).unwrap_or("error");
        let reason = results
            .get(i)
            .and_then(|r| r.reason.as_deref())
            .unwrap_or("");
        shared
            .metrics
            .scan
            .record(now.saturating_duration_since(due));
        if got == "applied" && matches!(p, Sent::InOrder(_)) && events[i].kind == "pick" {
            let e = &events[i];
            if let (Some(sku), Some(qty)) = (&e.sku, e.qty) {
                shared.book.picked(
                    &e.order_id,
                    &e.fulfillment_id,
                    &e.facility_id,
                    sku,
                    qty.clamp(0, i64::from(u32::MAX)) as u32,
                );
            }
        }
        match got {
            "applied" => Counters::add(&c.scans_applied, 1),
            "duplicate" => Counters::add(&c.scans_duplicate, 1),
            "rejected" => Counters::add(&c.scans_rejected, 1),
            _ => {}
        }
        if matches!(p, Sent::InOrder(_)) {
            // The wave's notice to the order is fire-and-forget: a pick may
            // overtake it ("fulfillment is routed"). The floor tries again,
            // as a picker would; a re-sent event already applied is answered
            // duplicate.
            if got == "rejected" && reason.contains("fulfillment is routed") {
                if step_ok == Outcome::Done {
                    step_ok = Outcome::Retry;
                }
                Counters::add(&c.scans_retried, 1);
                got = "applied";
            } else if got == "duplicate" {
                got = "applied";
            }
        }
        if got != expect {
            if let Ok(mut v) = shared.surprises.lock() {
                if v.len() < 10 {
                    v.push(format!(
                        "{} ({}): expected {expect}, got {got}: {}",
                        events[i].event_id,
                        events[i].kind,
                        results
                            .get(i)
                            .and_then(|r| r.reason.clone())
                            .unwrap_or_default()
                    ));
                }
            }
            match p {
                Sent::InOrder(_) => {
                    step_ok = Outcome::Failed;
                    Counters::add(&c.scans_rejected_unexpected, 1);
                }
                Sent::Duplicate(_) => Counters::add(&c.scans_duplicate_unexpected, 1),
                _ => Counters::add(&c.scans_rejected_unexpected, 1),
            }
        } else if matches!(p, Sent::InOrder(_))
            && unit(spec.seed, &events[i].event_id, salt::DUPLICATE) < spec.duplicate_share
        {
            Counters::add(&c.scans_duplicate_sent, 1);
            shared.active.fetch_add(1, Ordering::AcqRel);
            let _ = tx.send(SimInput::Later(
                now + Duration::from_millis(50),
                JobBox(Job::Duplicate(events[i].clone())),
            ));
        }
        i += 1;
    }
}

/// How a step went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    Retry,
    Failed,
}

/// Tries of one step before the floor gives up on its fulfillment.
const STEP_ATTEMPTS_MAX: u32 = 150;

#[allow(clippy::too_many_arguments)]
fn finish_step(
    work: &Arc<ReleasedFulfillment>,
    step: Step,
    attempt: u32,
    outcome: Outcome,
    shared: &Arc<SimShared>,
    spec: &FloorSpec,
    tx: &mpsc::UnboundedSender<SimInput>,
    driver: &Driver,
) {
    let c = &shared.metrics.counts;
    if outcome == Outcome::Retry && attempt + 1 < STEP_ATTEMPTS_MAX {
        let _ = tx.send(SimInput::Later(
            Instant::now() + Duration::from_millis(20),
            JobBox(Job::Step {
                work: work.clone(),
                step,
                attempt: attempt + 1,
            }),
        ));
        return;
    }
    if outcome == Outcome::Retry {
        // Released in a wave, yet its order still says "routed" seconds
        // later: the wave's notice never reached the order, and no floor
        // could ever pick it.
        Counters::add(&c.waves_unheard, 1);
        if let Ok(mut v) = shared.unheard.lock() {
            if v.len() < 10 {
                v.push(format!(
                    "{} (facility {}): released in a wave, its order still says routed after {} tries",
                    work.fulfillment_id,
                    work.facility_id,
                    attempt + 1
                ));
            }
        }
        shared.active.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    if outcome == Outcome::Failed {
        if let Ok(mut v) = shared.surprises.lock() {
            if v.len() < 10 {
                v.push(format!("{} {step:?}: gave up", work.fulfillment_id));
            }
        }
        shared.abandoned.fetch_add(1, Ordering::AcqRel);
        shared.active.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    // Every scan of the step applied: its event is due in the feed.
    shared.book.events().step_done(work, step, Instant::now());
    let next = match step {
        Step::Pack
            if shared
                .book
                .plan_heard(&work.order_id, &work.fulfillment_id)
                .is_none() =>
        {
            // The book knows this fulfillment only from a wave (a
            // backordered line served later): before it ships, the core's
            // answer says which carrier service it planned.
            let (shared, spec, tx, work) = (shared.clone(), spec.clone(), tx.clone(), work.clone());
            let driver = driver.clone();
            tokio::spawn(async move {
                if let Ok(Some(v)) = driver.order(work.order_id.clone()).await {
                    shared.book.learn_plans(&v);
                }
                let at = Instant::now() + spec.delay(&work.fulfillment_id, Step::Ship);
                let _ = tx.send(SimInput::Later(
                    at,
                    JobBox(Job::Step {
                        work,
                        step: Step::Ship,
                        attempt: 0,
                    }),
                ));
            });
            return;
        }
        Step::Ship => {
            if let Some(p) = shared.book.plan_of(&work.order_id, &work.fulfillment_id) {
                remember_delivery(shared, spec, work, &p, now_ms());
            }
            Some(Step::InTransit)
        }
        Step::Delivered => {
            Counters::add(&c.delivered, 1);
            let on = shared
                .deliveries
                .lock()
                .ok()
                .and_then(|mut m| m.remove(&work.fulfillment_id))
                .map(|(d, late_pickup)| DeliveredOn {
                    day: d.day,
                    late_days: d.late_days,
                    late_pickup,
                });
            shared
                .book
                .delivered(&work.order_id, &work.fulfillment_id, on);
            spec.returns(&work.order_id).map(|_| Step::Return)
        }
        Step::Return => {
            Counters::add(&c.returned, 1);
            let dispose = spec.returns(&work.order_id) == Some(true);
            for (sku, qty) in &work.lines {
                if dispose {
                    Counters::add(&c.units_disposed, u64::from(*qty));
                    shared
                        .book
                        .disposed(sku, &work.facility_id, u64::from(*qty));
                } else {
                    Counters::add(&c.units_restocked, u64::from(*qty));
                    shared
                        .book
                        .restocked(sku, &work.facility_id, u64::from(*qty));
                }
            }
            shared.book.returned(&work.order_id, &work.fulfillment_id);
            None
        }
        s => s.next(),
    };
    match next {
        Some(n) => {
            let mut at = Instant::now() + spec.delay(&work.fulfillment_id, n);
            if n == Step::OutForDelivery {
                // The days in transit, in compressed time.
                if let Some((d, _)) = shared.delivery_of(&work.fulfillment_id) {
                    at += d.wait;
                }
            }
            let _ = tx.send(SimInput::Later(
                at,
                JobBox(Job::Step {
                    work: work.clone(),
                    step: n,
                    attempt: 0,
                }),
            ));
        }
        None => {
            shared.active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn remember_delivery(
    shared: &SimShared,
    spec: &FloorSpec,
    work: &ReleasedFulfillment,
    plan: &PlanTrack,
    shipped_at: u64,
) {
    if let Some(d) = spec.delivery(&shared.transit, &shared.book, work, plan, shipped_at) {
        if let Ok(mut m) = shared.deliveries.lock() {
            m.insert(work.fulfillment_id.clone(), d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work() -> ReleasedFulfillment {
        ReleasedFulfillment {
            order_id: "o-1".into(),
            fulfillment_id: "o-1/1".into(),
            facility_id: "DC-01".into(),
            lines: vec![("SKU-1".into(), 2), ("SKU-2".into(), 1)],
        }
    }

    #[test]
    fn steps_make_valid_event_ids_and_twins_are_out_of_order() {
        let f = work();
        let picks = step_events(&f, Step::Pick, false);
        assert_eq!(picks.len(), 2);
        assert_eq!(picks[0].event_id, "o-1.1:pick:0");
        assert_eq!(picks[0].qty, Some(2));
        let ship = step_events(&f, Step::Ship, false);
        assert!(ship[0].carrier.is_some() && ship[0].tracking.is_some());
        let ret = step_events(&f, Step::Return, true);
        assert_eq!(ret[1].disposition.as_deref(), Some("dispose"));
        assert_eq!(out_of_order_twin(&f, Step::Pick, &picks[0]).kind, "pack");
        assert_eq!(out_of_order_twin(&f, Step::Pack, &picks[0]).kind, "ship");
        assert_eq!(
            out_of_order_twin(&f, Step::Delivered, &picks[0]).kind,
            "pick"
        );
    }

    #[test]
    fn the_ship_scan_names_the_planned_carrier_and_delivered_its_simulated_date() {
        let f = work();
        let day = crate::transit::parse_date("2026-12-07").unwrap();
        let at = day * crate::transit::DAY_MS + crate::transit::DELIVERED_AT_MS;
        let mut ship = step_events(&f, Step::Ship, false).remove(0);
        dress(&mut ship, Some("NWP"), Some(at));
        assert_eq!(ship.carrier.as_deref(), Some("NWP"));
        assert_eq!(ship.at, None, "the ship scan keeps the core's now");
        let mut unplanned = step_events(&f, Step::Ship, false).remove(0);
        dress(&mut unplanned, None, None);
        assert!(unplanned.carrier.is_some(), "a carrier is still named");
        let mut delivered = step_events(&f, Step::Delivered, false).remove(0);
        dress(&mut delivered, Some("NWP"), Some(at));
        assert_eq!(delivered.at.as_deref(), Some("2026-12-07T15:00:00Z"));
        assert_eq!(delivered.carrier, None);
        let mut pick = step_events(&f, Step::Pick, false).remove(0);
        dress(&mut pick, Some("NWP"), Some(at));
        assert_eq!((pick.carrier, pick.at), (None, None));
    }

    #[test]
    fn floor_shares_match_workload_md() {
        let s = FloorSpec::bf1(5);
        let n = 100_000;
        let ids: Vec<String> = (0..n).map(|i| format!("o-{i}")).collect();
        let share =
            |f: &dyn Fn(&str) -> bool| ids.iter().filter(|i| f(i)).count() as f64 / n as f64;
        assert!((share(&|i| s.cancels(i)) - 0.02).abs() < 0.003);
        let returned = share(&|i| s.returns(i).is_some());
        assert!((returned - 0.03).abs() < 0.003);
        let disposed = share(&|i| s.returns(i) == Some(true));
        assert!((disposed / returned - 0.2).abs() < 0.03);
        let d = s.delay("o-1/1", Step::Pick);
        assert!(d >= Duration::from_millis(20) && d <= Duration::from_millis(200));
        assert_eq!(d, FloorSpec::bf1(5).delay("o-1/1", Step::Pick));
    }
}
