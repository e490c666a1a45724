//! Prometheus metrics: the catalog ([`catalog`]), the process-wide recorder
//! ([`recorder`]), and the functions the rest of the runtime calls to count
//! and to set gauges (the sampler thread that reads shared state into
//! gauges is `crate::sampler`, above the facade). Nothing here reads the
//! facade, the shells or the registry.
//!
//! Three kinds of caller:
//! - the facade (`facade.rs`) calls the `placed`, `scans`, `cancelled`, ...
//!   functions around its public operations;
//! - the actor shells call the hooks (`reservation`, `reserve_duration`,
//!   `route_duration`, `oversold`, `fulfillment_shipped`, ...) where only an
//!   actor sees the fact;
//! - durability (journal, snapshots, recovery) calls `journal_batch`,
//!   `watch_journal`, `snapshot_finished`, `recovery_finished`, `set_ready`.
//!
//! Every function is cheap and never fails: before [`install`] the `metrics`
//! facade drops what it is given. Durability and readiness values are also
//! kept here (atomics) and re-published by the sampler, so a value set
//! before the recorder was installed still shows.
//!
//! Must never: take a SKU, order or event id as a label value, block, or
//! allocate per call beyond the label values themselves.

pub mod catalog;
pub mod recorder;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use orch_actors::order::{OrderState, ScanKind};
use orch_config::Millis;

use crate::dto::{ItemResult, OrderView, PlaceOrder, Placed, ScanInput, ScanResult};
use crate::error::{ApiError, ErrorKind};
use catalog::*;

pub use recorder::{handle, install};

/// Registers every help text with the recorder (called once by [`install`]).
pub(crate) fn describe_all() {
    for m in CATALOG {
        match m.kind {
            MetricKind::Counter => describe_counter!(m.name, m.help),
            MetricKind::Gauge => describe_gauge!(m.name, m.help),
            MetricKind::Histogram => describe_histogram!(m.name, m.help),
        }
    }
    // Unlabelled series exist from the start (0), so alerts and panels see
    // a value rather than no data.
    for m in CATALOG.iter().filter(|m| m.labels.is_empty()) {
        match m.kind {
            MetricKind::Counter => counter!(m.name).absolute(0),
            // Absent until there is something to say (no snapshot yet, no
            // journal in memory-only mode), so no alert fires on a default.
            MetricKind::Gauge if m.name != SNAPSHOT_AGE && m.name != JOURNAL_HEALTHY => {
                gauge!(m.name).set(0.0)
            }
            _ => {}
        }
    }
    for r in ["reserved", "short", "refused"] {
        counter!(RESERVATIONS, "result" => r).absolute(0);
    }
    for kind in ["whole", "delta"] {
        counter!(SNAPSHOT_ORDERS_WRITTEN, "kind" => kind).absolute(0);
    }
    // Both sides of the promise ratio exist from the start, per level.
    for level in orch_config::ServiceLevel::ALL {
        for kept in [true, false] {
            counter!(DELIVERIES, "service_level" => level.as_str(), "promise" => promise_label(kept))
                .absolute(0);
        }
    }
    publish_kept();
}

/// The Prometheus text of every metric (installs the recorder if needed).
pub fn render() -> String {
    install().render()
}

// ---- facade ------------------------------------------------------------

/// A placement answered by the facade.
pub fn placed(o: &PlaceOrder, result: &Result<Placed, ApiError>, elapsed: Duration) {
    histogram!(PLACE_DURATION).record(elapsed);
    let channel = channel_label(&o.channel);
    let outcome = match result {
        Ok(p) if p.replay => "replay",
        Ok(p) => {
            new_order(o, &p.order);
            match p.order.status.as_str() {
                "routed" => "routed",
                "partially_backordered" => "partially_backordered",
                "backordered" => "backordered",
                "rejected" => "rejected",
                _ => "other",
            }
        }
        Err(e) => match e.kind {
            ErrorKind::Invalid | ErrorKind::BadRequest | ErrorKind::TooLarge => "invalid",
            ErrorKind::Conflict => "conflict",
            _ => "error",
        },
    };
    counter!(ORDERS_PLACED, "channel" => channel, "outcome" => outcome).increment(1);
}

/// Lines, routing decision and fulfillments of a new order.
fn new_order(o: &PlaceOrder, order: &OrderView) {
    let reserved: usize = order.fulfillments.iter().map(|f| f.lines.len()).sum();
    counter!(LINES_ORDERED).increment(o.lines.len() as u64);
    counter!(LINES_RESERVED).increment(reserved as u64);
    counter!(LINES_BACKORDERED).increment(order.backordered.len() as u64);
    if order.status == "rejected" {
        return;
    }
    counter!(ROUTING_DECISIONS, "fulfillments" => fulfillments_label(order.fulfillments.len()))
        .increment(1);
    for f in &order.fulfillments {
        counter!(FULFILLMENTS_ROUTED, "facility" => f.facility_id.clone()).increment(1);
    }
    shipping_plans(order);
}

/// The carrier mix and the shipping cost of a new order, from the ship plans
/// it was answered with. Carrier and service ids come from the network
/// config (bounded); a fulfillment without a plan counts as `none`.
fn shipping_plans(order: &OrderView) {
    let mut cost = None;
    for f in &order.fulfillments {
        let carrier = f.carrier.clone().unwrap_or_else(|| "none".into());
        let service = f.ship.service.clone().unwrap_or_else(|| "none".into());
        counter!(FULFILLMENTS_PLANNED, "carrier" => carrier, "service" => service).increment(1);
        if let Some(c) = f.ship.shipping_cost {
            *cost.get_or_insert(0.0) += c;
        }
    }
    if let Some(c) = cost {
        histogram!(SHIPPING_COST).record(c);
    }
}

/// A `delivered` scan applied to fulfillment `fulfillment` of `order` at
/// `at` (the order as it stood after the scan): counts the delivery as
/// promise kept or missed for the order's service level; a fulfillment
/// with no ship plan promised nothing and is not counted.
pub fn delivered(order: &OrderState, fulfillment: u16, at: Millis) {
    if let Some(kept) = order.promise_kept(fulfillment, at) {
        let level = order.request().service_level.as_str();
        counter!(DELIVERIES, "service_level" => level, "promise" => promise_label(kept))
            .increment(1);
    }
}

/// One scan event applied (or not) at its order, as the facade saw it.
pub fn scan_applied(kind: ScanKind, elapsed: Duration) {
    histogram!(SCAN_APPLY_DURATION, "kind" => kind.as_str()).record(elapsed);
}

/// The answers to a scan batch, one per event, in order; `None` when the
/// whole batch was refused (journal not writable): every event counts as
/// rejected.
pub fn scans(events: &[ScanInput], results: Option<&[ScanResult]>) {
    for (i, e) in events.iter().enumerate() {
        let kind = ScanKind::parse(&e.kind).map_or("invalid", ScanKind::as_str);
        let result = match results.and_then(|r| r.get(i)).map(|r| r.result.as_str()) {
            Some("applied") => "applied",
            Some("duplicate") => "duplicate",
            _ => "rejected",
        };
        counter!(SCANS, "kind" => kind, "result" => result).increment(1);
        if result == "applied" && kind == "return_received" {
            let disposition = match e.disposition.as_deref() {
                Some("dispose") => "dispose",
                _ => "restock",
            };
            counter!(RETURNS, "disposition" => disposition).increment(1);
        }
    }
}

/// A cancel answered by the facade.
pub fn cancelled(result: &Result<OrderView, ApiError>, elapsed: Duration) {
    operation("cancel", elapsed);
    let r = match result {
        Ok(_) => "cancelled",
        Err(e) if e.kind == ErrorKind::Conflict => "refused",
        Err(e) if e.kind == ErrorKind::NotFound => "not_found",
        Err(_) => "error",
    };
    counter!(CANCELLATIONS, "result" => r).increment(1);
}

fn item_results(name: &'static str, results: &[ItemResult]) {
    for r in results {
        let result = match r.result.as_str() {
            "applied" => "applied",
            "duplicate" => "duplicate",
            _ => "rejected",
        };
        counter!(name, "result" => result).increment(1);
    }
}

/// Receipts answered by the facade (a refused request counts nothing).
pub fn received(result: &Result<Vec<ItemResult>, ApiError>, elapsed: Duration) {
    operation("receive", elapsed);
    if let Ok(items) = result {
        item_results(RECEIPTS, items);
        let served: usize = items.iter().filter_map(|r| r.backorders_served).sum();
        counter!(BACKORDERS_SERVED).increment(served as u64);
    }
}

/// Cycle counts answered by the facade (a refused request counts nothing).
pub fn adjusted(result: &Result<Vec<ItemResult>, ApiError>, elapsed: Duration) {
    operation("adjust", elapsed);
    if let Ok(items) = result {
        item_results(ADJUSTMENTS, items);
    }
}

/// The latency of another facade operation (`release_wave`, `availability`).
pub fn operation(operation: &'static str, elapsed: Duration) {
    histogram!(OPERATION_DURATION, "operation" => operation).record(elapsed);
}

/// Runs a synchronous operation and records how long it took under
/// `operation` (as [`operation`] does), whatever it answered.
pub fn timed<T>(operation: &'static str, run: impl FnOnce() -> T) -> T {
    let started = std::time::Instant::now();
    let result = run();
    self::operation(operation, started.elapsed());
    result
}

/// A released wave (the sampler reads the wave broadcast and calls this).
pub fn wave_released(facility: &str, trigger: &'static str, fulfillments: usize) {
    counter!(WAVES_RELEASED, "facility" => facility.to_string(), "trigger" => trigger).increment(1);
    histogram!(WAVE_FULFILLMENTS).record(fulfillments as f64);
}

/// One HTTP request (`route` is a template of the route table or
/// `unmatched`).
pub fn http_request(route: &'static str, method: &'static str, status: u16, elapsed: Duration) {
    counter!(HTTP_REQUESTS, "route" => route, "method" => method, "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_REQUEST_DURATION, "route" => route, "method" => method).record(elapsed);
}

// ---- actor shells ------------------------------------------------------

/// Actor kinds, for per-kind gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// Order actors.
    Order,
    /// Stock cell actors.
    Cell,
    /// Backorder desks.
    Desk,
    /// Facility actors.
    Facility,
    /// Hold actors (the shard engine only).
    Hold,
}

impl ActorKind {
    /// Every kind.
    pub const ALL: [ActorKind; 5] = [
        ActorKind::Order,
        ActorKind::Cell,
        ActorKind::Desk,
        ActorKind::Facility,
        ActorKind::Hold,
    ];

    /// The kind of a label value (an unknown one counts as `order`).
    pub fn from_label(label: &str) -> ActorKind {
        ActorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == label)
            .unwrap_or(ActorKind::Order)
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Order => "order",
            ActorKind::Cell => "cell",
            ActorKind::Desk => "desk",
            ActorKind::Facility => "facility",
            ActorKind::Hold => "hold",
        }
    }
}

/// A cell answered a reservation request: `reserved`, `short` (it would
/// have oversold: counted as an oversell refusal too) or `refused` (zero
/// units, line already reserved there).
pub fn reservation(result: &'static str) {
    counter!(RESERVATIONS, "result" => result).increment(1);
    if result == "short" {
        counter!(OVERSELL_REFUSALS).increment(1);
    }
}

/// `n` unit requests answered by cells with `result` (as
/// [`reservation`], counted by the shard engine per tick).
pub fn reservations(result: &'static str, n: u64) {
    counter!(RESERVATIONS, "result" => result).increment(n);
    if result == "short" {
        counter!(OVERSELL_REFUSALS).increment(n);
    }
}

/// `n` messages handled by actors of `kind` (the shard engine's count).
pub fn messages_handled(kind: ActorKind, n: u64) {
    counter!(ACTOR_MESSAGES, "kind" => kind.as_str()).increment(n);
}

/// One reservation round trip as the order saw it.
pub fn reserve_duration(elapsed: Duration) {
    histogram!(RESERVE_DURATION).record(elapsed);
}

/// One route planned.
pub fn route_duration(elapsed: Duration) {
    histogram!(ROUTE_DURATION).record(elapsed);
}

/// A cell found itself with more reserved than on hand. Must never happen.
pub fn oversold() {
    counter!(OVERSELL).increment(1);
}

fn cycle(until: &'static str, placed_at_ms: u64, at_ms: u64) {
    let secs = at_ms.saturating_sub(placed_at_ms) as f64 / 1000.0;
    histogram!(ORDER_CYCLE_DURATION, "until" => until).record(secs);
}

/// A fulfillment's ship scan was applied (times in ms since the epoch).
pub fn fulfillment_shipped(placed_at_ms: u64, at_ms: u64) {
    cycle("shipped", placed_at_ms, at_ms);
}

/// A fulfillment's delivered scan was applied (times in ms since the epoch).
pub fn fulfillment_delivered(placed_at_ms: u64, at_ms: u64) {
    cycle("delivered", placed_at_ms, at_ms);
}

static MAILBOX_MAX: [AtomicUsize; 5] = [
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
    AtomicUsize::new(0),
];

/// An actor of `kind` saw `depth` messages waiting; the sampler publishes
/// the deepest per kind since its previous sample, then starts over.
pub fn mailbox_depth(kind: ActorKind, depth: usize) {
    MAILBOX_MAX[kind as usize].fetch_max(depth, Ordering::Relaxed);
}

static QUEUED: [std::sync::atomic::AtomicI64; 5] = [
    std::sync::atomic::AtomicI64::new(0),
    std::sync::atomic::AtomicI64::new(0),
    std::sync::atomic::AtomicI64::new(0),
    std::sync::atomic::AtomicI64::new(0),
    std::sync::atomic::AtomicI64::new(0),
];

/// A message is about to be sent to an actor of `kind`. actix 0.13 does not
/// expose a mailbox's length, so the runtime counts messages sent and not yet
/// handled, all actors of a kind together: that backlog is what
/// `orchestrator_mailbox_depth_max` reports (its highest value per sample).
pub fn sending(kind: ActorKind) {
    let n = QUEUED[kind as usize].fetch_add(1, Ordering::Relaxed) + 1;
    mailbox_depth(kind, n.max(0) as usize);
}

/// An actor of `kind` took a message out of its mailbox (or a send to it failed).
pub fn handled(kind: ActorKind) {
    QUEUED[kind as usize].fetch_sub(1, Ordering::Relaxed);
}

/// Publishes what is kept in this process rather than in a core: mailbox
/// maxima (then starts them over), readiness, recovery, snapshot age, and
/// the journal source's statistics. The sampler calls it every second.
pub fn publish_process_gauges() {
    publish_mailboxes();
    publish_kept();
    poll_journal();
}

/// Publishes and resets the per-kind mailbox maxima.
fn publish_mailboxes() {
    for k in ActorKind::ALL {
        let max = MAILBOX_MAX[k as usize].swap(0, Ordering::Relaxed);
        gauge!(MAILBOX_DEPTH_MAX, "kind" => k.as_str()).set(max as f64);
    }
}

// ---- durability --------------------------------------------------------

/// A journal statistics source the sampler polls (see [`watch_journal`]).
type JournalSource = Box<dyn Fn() -> orch_journal::JournalStats + Send + Sync>;

static READY_NOW: AtomicBool = AtomicBool::new(false);
static JOURNAL_HOOKED: AtomicBool = AtomicBool::new(false);
static RECOVERY_SECS_BITS: AtomicU64 = AtomicU64::new(0);
static RECOVERY_EVENTS: AtomicU64 = AtomicU64::new(0);
static LAST_SNAPSHOT_MS: AtomicU64 = AtomicU64::new(0);
static JOURNAL: Mutex<Option<JournalSource>> = Mutex::new(None);

// ---- events out ----------------------------------------------------------

/// One event appended to the feed (the type is a bounded label).
pub fn event_emitted(kind: orch_events::EventType) {
    counter!(EVENTS_EMITTED, "type" => kind.as_str()).increment(1);
}

/// The feed's size after an append or a trim.
pub fn events_feed_size(events: usize, bytes: u64) {
    gauge!(EVENTS_FEED_EVENTS).set(events as f64);
    gauge!(EVENTS_FEED_BYTES).set(bytes as f64);
}

/// Kept events in memory, and the event store's bytes on disk.
pub fn events_memory(resident: usize, disk_bytes: u64) {
    gauge!(EVENTS_MEMORY_EVENTS).set(resident as f64);
    gauge!(EVENTS_DISK_BYTES).set(disk_bytes as f64);
}

/// One read of old events from the event store.
pub fn events_disk_read() {
    counter!(EVENTS_DISK_READS).increment(1);
}

/// One webhook delivery attempt ended (`result`: a bounded label).
pub fn webhook_delivery(result: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "result" => result).increment(1);
}

/// A webhook endpoint resumed at the oldest kept event.
pub fn webhook_cursor_reset() {
    counter!(WEBHOOK_CURSOR_RESETS).increment(1);
}

/// A webhook endpoint's delivery lag.
pub fn webhook_lag(webhook_id: &str, seconds: f64) {
    gauge!(WEBHOOK_DELIVERY_LAG, "webhook_id" => webhook_id.to_string()).set(seconds);
}

/// A webhook was deleted: its lag series reads 0 from now on.
pub fn webhook_removed(webhook_id: &str) {
    webhook_lag(webhook_id, 0.0);
}

/// Webhook endpoints by status name.
pub fn webhook_endpoints(by_status: &[(&'static str, usize)]) {
    for (status, n) in by_status {
        gauge!(WEBHOOK_ENDPOINTS, "status" => *status).set(*n as f64);
        if *status == orch_events::delivery::EndpointStatus::Disabled.as_str() {
            gauge!(WEBHOOK_ENDPOINTS_DISABLED).set(*n as f64);
        }
    }
}

/// One journal batch written and (in fsync mode) synced. Once this is
/// called, the sampler stops deriving the batch histograms from the
/// journal's totals (see [`journal_batches_derived`]).
pub fn journal_batch(elapsed: Duration, records: usize) {
    JOURNAL_HOOKED.store(true, Ordering::Relaxed);
    histogram!(JOURNAL_BATCH_DURATION).record(elapsed);
    histogram!(JOURNAL_BATCH_RECORDS).record(records as f64);
}

/// Fallback while the journal has no per-batch hook: the batches written
/// since the previous sample (`batches`), the time they took together
/// (`commit_ns`) and their records, from [`orch_journal::JournalStats`]
/// deltas. Each batch is recorded at the interval's mean, so quantiles are
/// of one-second means (a short spike inside a busy second is flattened).
/// Does nothing once [`journal_batch`] has been called.
pub fn journal_batches_derived(batches: u64, commit_ns: u64, records: u64) {
    if batches == 0 || JOURNAL_HOOKED.load(Ordering::Relaxed) {
        return;
    }
    let n = batches as usize;
    histogram!(JOURNAL_BATCH_DURATION).record_many(commit_ns as f64 / 1e9 / batches as f64, n);
    histogram!(JOURNAL_BATCH_RECORDS).record_many(records as f64 / batches as f64, n);
}

/// Publishes the journal's running totals and pending bytes. The counters
/// are set to the journal's own totals (they restart from 0 with the
/// process, as Prometheus counters may).
pub fn journal_stats(s: &orch_journal::JournalStats) {
    counter!(JOURNAL_RECORDS).absolute(s.records);
    counter!(JOURNAL_BYTES).absolute(s.bytes);
    counter!(JOURNAL_FSYNCS).absolute(s.fsyncs);
    gauge!(JOURNAL_PENDING_BYTES).set(s.pending_bytes as f64);
    gauge!(JOURNAL_HEALTHY).set(if s.healthy { 1.0 } else { 0.0 });
}

/// Lets the sampler poll the journal's statistics every second (e.g.
/// `watch_journal(move || journal.stats())`); replaces an earlier source.
pub fn watch_journal(source: impl Fn() -> orch_journal::JournalStats + Send + Sync + 'static) {
    if let Ok(mut j) = JOURNAL.lock() {
        *j = Some(Box::new(source));
    }
}

/// Stops polling the journal (it is closing).
pub fn unwatch_journal() {
    if let Ok(mut j) = JOURNAL.lock() {
        *j = None;
    }
}

/// A snapshot of every actor completed now. (The sampler already reports
/// the checkpointer's snapshots from `Orchestrator::snapshot_info`; call this
/// only for snapshots it does not see.)
pub fn snapshot_finished(elapsed: Duration) {
    snapshot_taken(crate::clock::now_ms(), elapsed, true, 0);
}

/// A snapshot completed at `taken_at_ms` (ms since the epoch) after
/// `elapsed`, whole (every order written) or a delta, with the orders it
/// wrote.
pub fn snapshot_taken(taken_at_ms: u64, elapsed: Duration, whole: bool, orders_written: usize) {
    histogram!(SNAPSHOT_DURATION).record(elapsed);
    let kind = if whole { "whole" } else { "delta" };
    counter!(SNAPSHOT_ORDERS_WRITTEN, "kind" => kind).increment(orders_written as u64);
    LAST_SNAPSHOT_MS.fetch_max(taken_at_ms.max(1), Ordering::AcqRel);
    publish_kept();
}

/// Start-up recovery finished.
pub fn recovery_finished(elapsed: Duration, events_replayed: u64) {
    RECOVERY_SECS_BITS.store(elapsed.as_secs_f64().to_bits(), Ordering::Release);
    RECOVERY_EVENTS.store(events_replayed, Ordering::Release);
    publish_kept();
}

/// The core takes traffic (or stops taking it).
pub fn set_ready(ready: bool) {
    READY_NOW.store(ready, Ordering::Release);
    gauge!(READY).set(if ready { 1.0 } else { 0.0 });
}

/// Re-publishes the values kept here (sampler, and after each change).
pub(crate) fn publish_kept() {
    gauge!(READY).set(if READY_NOW.load(Ordering::Acquire) {
        1.0
    } else {
        0.0
    });
    gauge!(RECOVERY_DURATION).set(f64::from_bits(RECOVERY_SECS_BITS.load(Ordering::Acquire)));
    gauge!(RECOVERY_EVENTS_REPLAYED).set(RECOVERY_EVENTS.load(Ordering::Acquire) as f64);
    let last = LAST_SNAPSHOT_MS.load(Ordering::Acquire);
    if last != 0 {
        let age = crate::clock::now_ms().saturating_sub(last) as f64 / 1000.0;
        gauge!(SNAPSHOT_AGE).set(age);
    }
}

/// Polls the journal source, if one is registered (sampler only: the
/// source may take the journal's own lock).
pub(crate) fn poll_journal() {
    let stats = JOURNAL
        .lock()
        .ok()
        .and_then(|j| j.as_ref().map(|source| source()));
    if let Some(s) = stats {
        journal_stats(&s);
    }
}
