//! The metric catalog: every name the core exports, its type, its labels,
//! its help text and (for histograms) its buckets. One table, read by the
//! recorder (descriptions and buckets), by `docs/metrics.md`'s test and by
//! the dashboard's test, so a name cannot exist in one place only.
//!
//! Naming: `orchestrator_` first, the unit last (`_seconds`, `_bytes`,
//! `_ratio`, or what is counted: `_records`, `_fulfillments`), counters end
//! in `_total`. Label values are bounded: facility ids, channels (capped to a
//! known set), kinds, results, triggers; never a SKU, order or event id.

/// The Prometheus type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up (reset at restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations in buckets (`_bucket`, `_sum`, `_count`).
    Histogram,
}

impl MetricKind {
    /// The Prometheus `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct MetricSpec {
    /// Exported name.
    pub name: &'static str,
    /// Type.
    pub kind: MetricKind,
    /// Label names (values are bounded; see the module doc).
    pub labels: &'static [&'static str],
    /// `# HELP` text.
    pub help: &'static str,
    /// Bucket upper bounds (histograms only).
    pub buckets: &'static [f64],
}

/// Latency: 50 µs to 10 s, with a bound at the 10 ms place SLO.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];
/// Journal records per batch (group commit).
pub const BATCH_RECORD_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];
/// Snapshot duration: 10 ms to 10 min.
pub const SNAPSHOT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
];
/// Order cycle time: 1 s (compressed load tests) to 7 days.
pub const CYCLE_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0,
    86400.0, 172_800.0, 259_200.0, 432_000.0, 604_800.0,
];
/// Fulfillments per wave.
pub const WAVE_BUCKETS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];
/// Shipping cost of an order's fulfillments at placement, in the carriers'
/// currency: 1 to 500.
pub const SHIPPING_COST_BUCKETS: &[f64] = &[
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 75.0, 100.0,
    200.0, 500.0,
];

// Counters.
/// Placements by channel and outcome.
pub const ORDERS_PLACED: &str = "orchestrator_orders_placed_total";
/// Lines of new orders.
pub const LINES_ORDERED: &str = "orchestrator_lines_ordered_total";
/// Lines reserved at placement.
pub const LINES_RESERVED: &str = "orchestrator_lines_reserved_total";
/// Lines backordered at placement.
pub const LINES_BACKORDERED: &str = "orchestrator_lines_backordered_total";
/// Reservation requests answered by cells, by result.
pub const RESERVATIONS: &str = "orchestrator_reservations_total";
/// Messages handled by actors, by kind (the shard engine).
pub const ACTOR_MESSAGES: &str = "orchestrator_actor_messages_total";
/// Reservations refused because they would have oversold.
pub const OVERSELL_REFUSALS: &str = "orchestrator_oversell_refusals_total";
/// Cells seen with reserved above on hand: must stay zero.
pub const OVERSELL: &str = "orchestrator_oversell_total";
/// Placements by number of fulfillments.
pub const ROUTING_DECISIONS: &str = "orchestrator_routing_decisions_total";
/// Fulfillments routed to each facility at placement.
pub const FULFILLMENTS_ROUTED: &str = "orchestrator_fulfillments_routed_total";
/// Fulfillments routed at placement, by planned carrier and service.
pub const FULFILLMENTS_PLANNED: &str = "orchestrator_fulfillments_planned_total";
/// Delivered fulfillments by service level and whether the promise was kept.
pub const DELIVERIES: &str = "orchestrator_deliveries_total";
/// Waves released by facility and trigger.
pub const WAVES_RELEASED: &str = "orchestrator_waves_released_total";
/// Scan events by kind and result.
pub const SCANS: &str = "orchestrator_scans_total";
/// Cancel requests by result.
pub const CANCELLATIONS: &str = "orchestrator_cancellations_total";
/// Returns received by disposition.
pub const RETURNS: &str = "orchestrator_returns_total";
/// Receipts by result.
pub const RECEIPTS: &str = "orchestrator_receipts_total";
/// Backordered lines served by receipts.
pub const BACKORDERS_SERVED: &str = "orchestrator_backorder_lines_served_total";
/// Cycle counts by result.
pub const ADJUSTMENTS: &str = "orchestrator_adjustments_total";
/// HTTP requests by route, method and status.
pub const HTTP_REQUESTS: &str = "orchestrator_http_requests_total";
/// Journal records acknowledged.
pub const JOURNAL_RECORDS: &str = "orchestrator_journal_records_total";
/// Journal bytes acknowledged.
pub const JOURNAL_BYTES: &str = "orchestrator_journal_bytes_total";
/// Journal fsyncs.
pub const JOURNAL_FSYNCS: &str = "orchestrator_journal_fsyncs_total";

// Histograms.
/// Place latency at the facade.
pub const PLACE_DURATION: &str = "orchestrator_place_duration_seconds";
/// One cell reservation round trip.
pub const RESERVE_DURATION: &str = "orchestrator_reserve_duration_seconds";
/// Planning a route.
pub const ROUTE_DURATION: &str = "orchestrator_route_duration_seconds";
/// Applying one scan event.
pub const SCAN_APPLY_DURATION: &str = "orchestrator_scan_apply_duration_seconds";
/// The other facade operations.
pub const OPERATION_DURATION: &str = "orchestrator_operation_duration_seconds";
/// HTTP request latency by route.
pub const HTTP_REQUEST_DURATION: &str = "orchestrator_http_request_duration_seconds";
/// Journal batch write + fsync.
pub const JOURNAL_BATCH_DURATION: &str = "orchestrator_journal_batch_duration_seconds";
/// Feed events appended, by type.
pub const EVENTS_EMITTED: &str = "orchestrator_events_emitted_total";
/// Events kept in the feed.
pub const EVENTS_FEED_EVENTS: &str = "orchestrator_events_feed_events";
/// JSON bytes of the events kept in the feed.
pub const EVENTS_FEED_BYTES: &str = "orchestrator_events_feed_bytes";
/// Kept events whose body is in memory (the newest; the others on disk).
pub const EVENTS_MEMORY_EVENTS: &str = "orchestrator_events_memory_events";
/// Bytes of the event store's files.
pub const EVENTS_DISK_BYTES: &str = "orchestrator_events_disk_bytes";
/// Reads of kept events from the event store (pages older than memory).
pub const EVENTS_DISK_READS: &str = "orchestrator_events_disk_reads_total";
/// Webhook delivery attempts by result.
pub const WEBHOOK_DELIVERIES: &str = "orchestrator_webhook_deliveries_total";
/// Webhook endpoints resumed at the oldest kept event (their next ones were gone).
pub const WEBHOOK_CURSOR_RESETS: &str = "orchestrator_webhook_cursor_resets_total";
/// Age of the oldest event a webhook endpoint has not delivered.
pub const WEBHOOK_DELIVERY_LAG: &str = "orchestrator_webhook_delivery_lag_seconds";
/// Webhook endpoints by status.
pub const WEBHOOK_ENDPOINTS: &str = "orchestrator_webhook_endpoints";
/// Webhook endpoints disabled after an event failed its last attempt.
pub const WEBHOOK_ENDPOINTS_DISABLED: &str = "orchestrator_webhook_endpoints_disabled";
/// Journal records per batch.
pub const JOURNAL_BATCH_RECORDS: &str = "orchestrator_journal_batch_records";
/// Snapshot duration.
pub const SNAPSHOT_DURATION: &str = "orchestrator_snapshot_duration_seconds";
/// Orders written by snapshots, by kind (whole, delta).
pub const SNAPSHOT_ORDERS_WRITTEN: &str = "orchestrator_snapshot_orders_written_total";
/// Placed to shipped / delivered, per fulfillment.
pub const ORDER_CYCLE_DURATION: &str = "orchestrator_order_cycle_duration_seconds";
/// Shipping cost per order at placement.
pub const SHIPPING_COST: &str = "orchestrator_shipping_cost";
/// Fulfillments per released wave.
pub const WAVE_FULFILLMENTS: &str = "orchestrator_wave_fulfillments";

// Gauges.
/// Actors in memory by kind.
pub const RESIDENT_ACTORS: &str = "orchestrator_resident_actors";
/// Orders out of memory (passivated), their state in the snapshot store.
pub const PASSIVE_ORDERS: &str = "orchestrator_passive_orders";
/// Messages waiting in the mailboxes of all actors of a kind (sent, not yet
/// handled), the highest seen since the last sample.
pub const MAILBOX_DEPTH_MAX: &str = "orchestrator_mailbox_depth_max";
/// Fire-and-forget messages in flight.
pub const MESSAGES_PENDING: &str = "orchestrator_messages_pending";
/// Fulfillments waiting for a wave, per facility.
pub const FACILITY_QUEUED: &str = "orchestrator_facility_queued_fulfillments";
/// Waves released and not finished, per facility.
pub const FACILITY_OPEN_WAVES: &str = "orchestrator_facility_open_waves";
/// Share of this hour's capacity used, per facility.
pub const FACILITY_CAPACITY_USED: &str = "orchestrator_facility_capacity_used_ratio";
/// Whether routing may use the facility.
pub const FACILITY_ENABLED: &str = "orchestrator_facility_enabled";
/// Lines waiting for stock (open backorders).
pub const BACKORDER_LINES_WAITING: &str = "orchestrator_backorder_lines_waiting";
/// Journal bytes queued, not yet durable.
pub const JOURNAL_PENDING_BYTES: &str = "orchestrator_journal_pending_bytes";
/// Journal health.
pub const JOURNAL_HEALTHY: &str = "orchestrator_journal_healthy";
/// Seconds since the last snapshot completed.
pub const SNAPSHOT_AGE: &str = "orchestrator_snapshot_age_seconds";
/// How long the last recovery took.
pub const RECOVERY_DURATION: &str = "orchestrator_recovery_duration_seconds";
/// Journal events replayed by the last recovery.
pub const RECOVERY_EVENTS_REPLAYED: &str = "orchestrator_recovery_events_replayed";
/// 1 when the core takes traffic.
pub const READY: &str = "orchestrator_ready";
/// `/v1` requests in flight.
pub const HTTP_REQUESTS_INFLIGHT: &str = "orchestrator_http_requests_inflight";
/// Counter: holds by outcome.
pub const HOLDS: &str = "orchestrator_holds_total";
/// Gauge: holds active.
pub const HOLDS_ACTIVE: &str = "orchestrator_holds_active";
/// Gauge: units held by active holds.
pub const HOLDS_UNITS: &str = "orchestrator_held_units";
/// Gauge: the configured hold limits.
pub const HOLD_LIMITS: &str = "orchestrator_hold_limit";
/// Gauge: requests admitted to the engine's shards, not yet answered.
pub const SHARD_IN_FLIGHT: &str = "orchestrator_shard_requests_inflight";
/// Gauge: the configured bounds of each engine shard.
pub const SHARD_LIMITS: &str = "orchestrator_shard_limit";
/// Counter: requests the engine's shards refused as overloaded.
pub const SHARD_OVERLOADED: &str = "orchestrator_shard_overloaded_total";

const fn counter(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricSpec {
    MetricSpec {
        name,
        kind: MetricKind::Counter,
        labels,
        help,
        buckets: &[],
    }
}

const fn gauge(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricSpec {
    MetricSpec {
        name,
        kind: MetricKind::Gauge,
        labels,
        help,
        buckets: &[],
    }
}

const fn histogram(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
    buckets: &'static [f64],
) -> MetricSpec {
    MetricSpec {
        name,
        kind: MetricKind::Histogram,
        labels,
        help,
        buckets,
    }
}

/// Every metric the core exports.
pub const CATALOG: &[MetricSpec] = &[
    counter(ORDERS_PLACED, &["channel", "outcome"], "Order placements by sales channel (web, app, marketplace, store, other) and outcome (routed, partially_backordered, backordered, rejected for new orders; replay, invalid, conflict, error otherwise)."),
    counter(LINES_ORDERED, &[], "Order lines in new placements (the denominator of the fill rate)."),
    counter(LINES_RESERVED, &[], "Order lines reserved at a facility at placement (the numerator of the fill rate)."),
    counter(LINES_BACKORDERED, &[], "Order lines backordered at placement (waiting for stock)."),
    counter(RESERVATIONS, &["result"], "Reservation requests answered by stock cells, by result (reserved, short, refused)."),
    counter(ACTOR_MESSAGES, &["kind"], "Messages handled by actors of a kind (order, cell, facility, desk, hold), on the shard engine."),
    counter(OVERSELL_REFUSALS, &[], "Reservations a stock cell refused because they would have taken available-to-sell below zero (expected under contention)."),
    counter(OVERSELL, &[], "Stock cells seen with more reserved than on hand. Must stay zero: anything else is an oversell bug."),
    counter(ROUTING_DECISIONS, &["fulfillments"], "New placements by number of fulfillments (0 when nothing was routed, 5+ capped); split shipments have 2 or more."),
    counter(FULFILLMENTS_ROUTED, &["facility"], "Fulfillments routed to each facility at placement."),
    counter(FULFILLMENTS_PLANNED, &["carrier", "service"], "Fulfillments routed at placement, by the carrier and service of their ship plan (none, none when no service ships from the facility to the destination): the carrier mix."),
    counter(DELIVERIES, &["service_level", "promise"], "Delivered scans applied to fulfillments with a ship plan, by the order's service level (same_day, next_day, standard) and promise (kept: delivered by the promised UTC day; missed: later)."),
    counter(WAVES_RELEASED, &["facility", "trigger"], "Pick waves released by facility and trigger (size, max_wait, cutoff, manual)."),
    counter(SCANS, &["kind", "result"], "Scan events by kind (pick, pack, ship, in_transit, out_for_delivery, delivered, delivery_exception, return_received, invalid) and result (applied, duplicate, rejected)."),
    counter(CANCELLATIONS, &["result"], "Cancel requests by result (cancelled, refused, not_found, error)."),
    counter(RETURNS, &["disposition"], "Returned fulfillment lines applied, by disposition (restock, dispose)."),
    counter(RECEIPTS, &["result"], "Stock receipts by result (applied, duplicate, rejected)."),
    counter(BACKORDERS_SERVED, &[], "Backordered lines served by stock receipts."),
    counter(ADJUSTMENTS, &["result"], "Cycle counts by result (applied, duplicate, rejected)."),
    counter(HTTP_REQUESTS, &["route", "method", "status"], "HTTP requests by route template, method and status code."),
    counter(JOURNAL_RECORDS, &[], "Journal records acknowledged since the journal opened."),
    counter(JOURNAL_BYTES, &[], "Encoded journal bytes acknowledged since the journal opened."),
    counter(JOURNAL_FSYNCS, &[], "Journal fdatasync calls that succeeded since the journal opened."),
    counter(SNAPSHOT_ORDERS_WRITTEN, &["kind"], "Orders written by snapshots: kind whole (every order, at start and hourly) or delta (the chunks of the orders that changed since the last snapshot)."),
    counter(EVENTS_DISK_READS, &[], "Reads of the event store for a page that starts before the events kept in memory (durability.events_memory_max), by GET /v1/events, the SSE stream or a webhook endpoint catching up."),
    counter(EVENTS_EMITTED, &["type"], "Order status events appended to the feed from durable journal records, by type (order.placed, fulfillment.shipped, ...); counts the replay at start-up too."),
    histogram(PLACE_DURATION, &[], "Time to answer one placement at the facade (validation, routing, reservations, enqueue).", LATENCY_BUCKETS),
    histogram(RESERVE_DURATION, &[], "Time for one reservation request to a stock cell, as the order sees it (mailbox wait included).", LATENCY_BUCKETS),
    histogram(ROUTE_DURATION, &[], "Time to plan the route of one order from the availability view.", LATENCY_BUCKETS),
    histogram(SCAN_APPLY_DURATION, &["kind"], "Time to apply one scan event at its order, by kind.", LATENCY_BUCKETS),
    histogram(OPERATION_DURATION, &["operation"], "Time of the other facade operations (cancel, receive, adjust, release_wave, availability).", LATENCY_BUCKETS),
    histogram(HTTP_REQUEST_DURATION, &["route", "method"], "HTTP request latency by route template and method.", LATENCY_BUCKETS),
    histogram(JOURNAL_BATCH_DURATION, &[], "Time to write and fsync one journal batch (group commit).", LATENCY_BUCKETS),
    histogram(JOURNAL_BATCH_RECORDS, &[], "Records per journal batch (group commit size).", BATCH_RECORD_BUCKETS),
    histogram(SNAPSHOT_DURATION, &[], "Time to make one snapshot (load, replay, write; whole or delta).", SNAPSHOT_BUCKETS),
    histogram(ORDER_CYCLE_DURATION, &["until"], "Time from placement to a fulfillment's ship or delivery scan (until: shipped, delivered).", CYCLE_BUCKETS),
    histogram(SHIPPING_COST, &[], "Shipping cost of one order at placement: the sum of its fulfillments' planned shipping costs (orders with no planned service are not recorded; backorder fills later are not added).", SHIPPING_COST_BUCKETS),
    histogram(WAVE_FULFILLMENTS, &[], "Fulfillments per released pick wave.", WAVE_BUCKETS),
    gauge(RESIDENT_ACTORS, &["kind"], "Actors in memory by kind (order, cell, desk, facility; hold on the shard engine)."),
    gauge(PASSIVE_ORDERS, &[], "Finished, idle orders out of memory (passivated after durability.passivate_after_ms): their state is in the snapshot store and is read back on demand. Shard engine only."),
    gauge(MAILBOX_DEPTH_MAX, &["kind"], "Messages waiting in the mailboxes of all actors of a kind (sent, not yet handled), highest since the previous sample."),
    gauge(MESSAGES_PENDING, &[], "Fire-and-forget messages between actors not yet handled (backorder fills, wave notices, drains)."),
    gauge(FACILITY_QUEUED, &["facility"], "Fulfillments queued for a wave, per facility (the facility backlog)."),
    gauge(FACILITY_OPEN_WAVES, &["facility"], "Waves released and not finished, per facility."),
    gauge(FACILITY_CAPACITY_USED, &["facility"], "Share of this hour's fulfillment capacity used, per facility."),
    gauge(FACILITY_ENABLED, &["facility"], "1 when routing may use the facility, 0 while it is closed."),
    gauge(BACKORDER_LINES_WAITING, &[], "Order lines waiting for stock network-wide (open backorders)."),
    gauge(JOURNAL_PENDING_BYTES, &[], "Journal bytes queued to the writer and not yet durable."),
    gauge(JOURNAL_HEALTHY, &[], "1 while journal batches succeed, 0 from a failed batch until one succeeds."),
    gauge(SNAPSHOT_AGE, &[], "Seconds since the last snapshot completed (absent before the first)."),
    gauge(RECOVERY_DURATION, &[], "How long the last start-up recovery took (snapshot load and journal replay)."),
    gauge(RECOVERY_EVENTS_REPLAYED, &[], "Journal events replayed by the last start-up recovery."),
    gauge(READY, &[], "1 when the core takes traffic (/readyz answers 200), 0 before and while stopping."),
    gauge(HTTP_REQUESTS_INFLIGHT, &[], "/v1 HTTP requests in flight (bounded by limits.inflight_requests_max)."),
    gauge(EVENTS_FEED_EVENTS, &[], "Events kept in the event feed (GET /v1/events), within its retention."),
    counter(HOLDS, &["outcome"], "Holds (cart reservations) by outcome: created (every hold created since start, counting those recovered), converted (an order took it), released, expired. Sampled from the engine's shards each second; runtime.engine = \"host\" only."),
    gauge(HOLDS_ACTIVE, &[], "Holds active now (created, not yet converted, released or expired)."),
    gauge(HOLDS_UNITS, &[], "Units held by active holds, network-wide (excluded from every availability read)."),
    gauge(HOLD_LIMITS, &["limit"], "The configured hold limits: ttl_s_max (seconds), per_shard_max (holds per shard, active or ended and remembered), lines_max (lines per hold, as per order)."),
    gauge(SHARD_IN_FLIGHT, &["shard"], "Requests admitted to an engine shard and not yet answered (bounded by its in-flight limit; past it, 429)."),
    gauge(SHARD_LIMITS, &["limit"], "The configured bounds of each engine shard: inbox_max (requests waiting), in_flight_max (admitted, not yet answered), seen_ids_max (receipt and adjustment ids remembered), order_events_max (timeline entries one order keeps; its further scans are rejected)."),
    counter(SHARD_OVERLOADED, &[], "Requests the engine's shards refused as overloaded (answered 429, nothing queued)."),
    gauge(EVENTS_MEMORY_EVENTS, &[], "Kept events whose body is in memory: the newest, at most durability.events_memory_max once stored; older kept events are read from the event store."),
    gauge(EVENTS_DISK_BYTES, &[], "Bytes of the event store's files on disk (<data_dir>/events), sampled when the feed is trimmed."),
    gauge(EVENTS_FEED_BYTES, &[], "JSON bytes of the events kept in the event feed (bounded by the retention's byte budget)."),
    counter(WEBHOOK_DELIVERIES, &["result"], "Webhook delivery attempts by result (delivered, http_error, timeout, connect_error); retries count again."),
    counter(WEBHOOK_CURSOR_RESETS, &[], "Times a webhook endpoint resumed at the oldest kept event because the feed no longer held its next events (behind the retention, or renumbered by a restart from a snapshot): events were missed."),
    gauge(WEBHOOK_DELIVERY_LAG, &["webhook_id"], "Seconds since the oldest event a webhook endpoint has not delivered was created; 0 when caught up (at most 100 endpoints)."),
    gauge(WEBHOOK_ENDPOINTS, &["status"], "Registered webhook endpoints by status (active, paused_pending_limit, disabled_after_failures, off)."),
    gauge(WEBHOOK_ENDPOINTS_DISABLED, &[], "Webhook endpoints disabled because an event failed its last attempt; a PUT of the registration enables one again."),
];

/// The catalog entry of a name, if any.
pub fn spec(name: &str) -> Option<&'static MetricSpec> {
    CATALOG.iter().find(|m| m.name == name)
}

/// The channels reported as themselves; any other channel is `other`, so a
/// client cannot grow the label set.
pub const CHANNELS: [&str; 4] = ["web", "app", "marketplace", "store"];

/// A client-provided channel as a bounded label value.
pub fn channel_label(channel: &str) -> &'static str {
    CHANNELS
        .iter()
        .find(|c| **c == channel)
        .copied()
        .unwrap_or("other")
}

/// The `promise` label of a delivery: `kept` or `missed`.
pub fn promise_label(kept: bool) -> &'static str {
    if kept {
        "kept"
    } else {
        "missed"
    }
}

/// The `fulfillments` label of a routing decision.
pub fn fulfillments_label(n: usize) -> &'static str {
    match n {
        0 => "0",
        1 => "1",
        2 => "2",
        3 => "3",
        4 => "4",
        _ => "5+",
    }
}
