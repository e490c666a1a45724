//! `/metrics` over real HTTP after a little of every operation: the text is
//! the catalog (every family described, typed as the catalog says,
//! histograms with buckets and never summaries), label values are bounded,
//! the counters moved as the requests said, the sampler's gauges show, and
//! the separate `listen.metrics` port serves the same text.
//!
//! One test per process (the recorder is process-wide), so every count
//! below is exact.

mod http_common;
mod metrics_common;

use std::time::Duration;

use http_common::{order, TestServer};
use orch_runtime::metrics::catalog::{spec, MetricKind, CATALOG, CHANNELS};
use serde_json::json;

const SKU: &str = "SKU-000000";

#[test]
fn metrics_after_a_little_of_everything() {
    let mut cfg = http_common::config();
    cfg.listen.metrics = Some("127.0.0.1:0".into());
    cfg.auth.token = Some("s3cret".into());
    let t = TestServer::with(cfg);
    let server = t.server();
    assert!(server.metrics_addr.is_some(), "listen.metrics is served");

    // Orders: routed on three channels (one unknown), a replay, an invalid one.
    let (fac, lat, lon) = t.stocked(SKU, 3).expect("a stocked facility");
    for (i, channel) in ["web", "app", "tiktok-live"].iter().enumerate() {
        let mut body = order(&format!("m-{i}"), lat, lon, &[(SKU, 1)]);
        body["channel"] = json!(channel);
        let r = t.post("/v1/orders", &body);
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let mut replay = order("m-0", lat, lon, &[(SKU, 1)]);
    replay["channel"] = json!("web");
    assert_eq!(t.post("/v1/orders", &replay).status, 200);
    let r = t.post("/v1/orders", &order("m-bad", lat, lon, &[("SKU-NOPE", 1)]));
    assert_eq!(r.status, 422);
    // An order whose only line cannot be served anywhere now: backordered.
    let huge = order("m-back", lat, lon, &[(SKU, 999_999)]);
    let r = t.post("/v1/orders", &huge);
    assert_eq!(r.status, 201, "{}", r.text());
    let backordered = r.json()["status"] == "backordered";

    // A wave, scans (applied, duplicate, rejected, unknown kind), a cancel.
    let r = t.post_empty(&format!("/v1/facilities/{fac}/waves/release"));
    assert_eq!(r.status, 200, "{}", r.text());
    let ev = |id: &str, kind: &str| json!({"event_id": id, "kind": kind, "order_id": "m-0", "fulfillment_id": "m-0/1", "facility_id": fac});
    let mut pick = ev("e-1", "pick");
    pick["sku"] = json!(SKU);
    pick["qty"] = json!(1);
    let r = t.post(
        "/v1/scans",
        &json!({"events": [pick, pick, ev("e-2", "ship"), ev("e-3", "teleport")]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let results: Vec<String> = r.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results, ["applied", "duplicate", "rejected", "rejected"]);
    assert_eq!(t.post_empty("/v1/orders/m-1/cancel").status, 200);
    assert_eq!(t.post_empty("/v1/orders/m-nope/cancel").status, 404);
    let r = t.post(
        "/v1/inventory/receipts",
        &json!({"receipts": [{"receipt_id": "r-1", "sku": SKU, "facility_id": fac, "qty": 5}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t.get(&format!("/v1/availability?sku={SKU}&lat={lat}&lon={lon}"));
    assert_eq!(r.status, 200, "{}", r.text());
    // Without the token: counted as a 401 on its route.
    let anon = http_common::build("GET", "/v1/orders/m-0", &[], None);
    assert_eq!(http_common::raw(t.addr, anon).status, 401);

    // Let the sampler tick (gauges every second, waves every 100 ms).
    std::thread::sleep(Duration::from_millis(1300));

    // /metrics is open (no token), text/plain, on both ports.
    let r = http_common::raw(t.addr, http_common::build("GET", "/metrics", &[], None));
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        r.header("content-type")
    );
    let text = r.text();
    let m = http_common::raw(
        server.metrics_addr.unwrap(),
        http_common::build("GET", "/metrics", &[], None),
    );
    assert_eq!(m.status, 200);
    assert!(m.text().contains("orchestrator_orders_placed_total"));
    let other = http_common::raw(
        server.metrics_addr.unwrap(),
        http_common::build("GET", "/v1/facilities", &[], None),
    );
    assert_eq!(other.status, 404, "the metrics port serves /metrics only");
    let post = http_common::raw(
        t.addr,
        http_common::build("POST", "/metrics", &[], Some(b"")),
    );
    assert_eq!(
        (post.status, post.code().as_str()),
        (405, "method_not_allowed")
    );
    assert_eq!(post.header("allow"), Some("GET"));

    let e = metrics_common::parse(&text);

    // The text is the catalog: every family typed as the catalog says and
    // described; nothing outside it; histograms, never summaries.
    for (name, ty) in &e.types {
        if !name.starts_with("orchestrator_") {
            continue;
        }
        let s = spec(name).unwrap_or_else(|| panic!("{name} is not in the catalog"));
        assert_eq!(ty, s.kind.as_str(), "{name}");
        assert!(e.helps.contains_key(name), "{name} has no HELP");
    }
    assert!(
        !e.types.values().any(|t| t == "summary"),
        "a summary:\n{text}"
    );
    for s in &e.samples {
        let family = e.family(&s.name);
        let c = spec(family).unwrap_or_else(|| panic!("{} not in the catalog", s.name));
        for k in s.labels.keys().filter(|k| *k != "le") {
            assert!(c.labels.contains(&k.as_str()), "{}: label {k}", s.name);
        }
    }
    // Bounded label values: no SKU, order, fulfillment or event id anywhere.
    for needle in ["SKU-", "m-0", "m-1", "e-1", "r-1"] {
        assert!(
            !text.contains(needle),
            "{needle} leaked into a label:\n{text}"
        );
    }
    for s in e.find("orchestrator_orders_placed_total", &[]) {
        let ch = &s.labels["channel"];
        assert!(CHANNELS.contains(&ch.as_str()) || ch == "other", "{ch}");
    }

    // The counters say what the requests did.
    let placed = |ch: &str, outcome: &str| {
        e.sum(
            "orchestrator_orders_placed_total",
            &[("channel", ch), ("outcome", outcome)],
        )
    };
    assert_eq!(placed("web", "routed"), 1.0, "{text}");
    assert_eq!(placed("app", "routed"), 1.0);
    assert_eq!(placed("other", "routed"), 1.0, "tiktok-live is 'other'");
    assert_eq!(placed("web", "replay"), 1.0);
    assert_eq!(placed("web", "invalid"), 1.0);
    let back = if backordered {
        "backordered"
    } else {
        "rejected"
    };
    assert_eq!(placed("web", back), 1.0, "{text}");
    assert_eq!(e.sum("orchestrator_lines_ordered_total", &[]), 4.0);
    assert_eq!(e.sum("orchestrator_lines_reserved_total", &[]), 3.0);
    assert_eq!(
        e.sum("orchestrator_fulfillments_routed_total", &[]),
        3.0,
        "{text}"
    );
    assert_eq!(
        e.sum(
            "orchestrator_routing_decisions_total",
            &[("fulfillments", "1")]
        ),
        3.0
    );
    assert_eq!(
        e.sum(
            "orchestrator_waves_released_total",
            &[("facility", &fac), ("trigger", "manual")]
        ),
        1.0,
        "{text}"
    );
    let scans = |kind: &str, result: &str| {
        e.sum(
            "orchestrator_scans_total",
            &[("kind", kind), ("result", result)],
        )
    };
    assert_eq!(scans("pick", "applied"), 1.0);
    assert_eq!(scans("pick", "duplicate"), 1.0);
    assert_eq!(scans("ship", "rejected"), 1.0);
    assert_eq!(scans("invalid", "rejected"), 1.0);
    assert_eq!(
        e.sum(
            "orchestrator_cancellations_total",
            &[("result", "cancelled")]
        ),
        1.0
    );
    assert_eq!(
        e.sum(
            "orchestrator_cancellations_total",
            &[("result", "not_found")]
        ),
        1.0
    );
    assert_eq!(
        e.sum("orchestrator_receipts_total", &[("result", "applied")]),
        1.0
    );
    assert_eq!(
        e.sum(
            "orchestrator_http_requests_total",
            &[
                ("route", "/v1/orders/{order_id}"),
                ("method", "GET"),
                ("status", "401")
            ]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        e.sum(
            "orchestrator_http_requests_total",
            &[
                ("route", "/v1/orders"),
                ("method", "POST"),
                ("status", "201")
            ]
        ),
        4.0
    );

    // Histograms: place latency counted once per placement, with buckets
    // up to +Inf; per-operation latencies by operation.
    assert_eq!(
        e.sum("orchestrator_place_duration_seconds_count", &[]),
        6.0,
        "{text}"
    );
    let inf = e.find(
        "orchestrator_place_duration_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!(inf.len(), 1);
    assert_eq!(inf[0].value, 6.0);
    let place = spec("orchestrator_place_duration_seconds").unwrap();
    assert_eq!(
        e.find("orchestrator_place_duration_seconds_bucket", &[])
            .len(),
        place.buckets.len() + 1,
        "every bucket and +Inf"
    );
    for op in ["cancel", "receive", "release_wave", "availability"] {
        assert!(
            e.sum(
                "orchestrator_operation_duration_seconds_count",
                &[("operation", op)]
            ) >= 1.0,
            "{op}"
        );
    }
    assert_eq!(
        e.sum(
            "orchestrator_scan_apply_duration_seconds_count",
            &[("kind", "pick")]
        ),
        2.0
    );

    // The actor-level series, on either engine: every routed line was a
    // reservation granted, every placement routed and its round trips timed.
    assert!(
        e.sum("orchestrator_reservations_total", &[("result", "reserved")]) >= 3.0,
        "{text}"
    );
    assert!(e.sum("orchestrator_route_duration_seconds_count", &[]) >= 4.0);
    assert!(e.sum("orchestrator_reserve_duration_seconds_count", &[]) >= 3.0);
    if t.cfg.runtime.engine == orch_config::EngineKind::Host {
        let handled = |kind: &str| e.sum("orchestrator_actor_messages_total", &[("kind", kind)]);
        assert!(handled("order") >= 4.0, "{text}");
        assert!(handled("cell") >= 3.0);
        assert!(handled("facility") >= 1.0, "the fulfillments queued");
    }

    // The sampler's gauges.
    assert_eq!(e.sum("orchestrator_ready", &[]), 1.0);
    let facilities = t.cfg.network.facilities.len();
    assert_eq!(
        e.find("orchestrator_facility_queued_fulfillments", &[])
            .len(),
        facilities
    );
    assert_eq!(
        e.find("orchestrator_facility_enabled", &[]).len(),
        facilities
    );
    assert_eq!(
        e.sum("orchestrator_resident_actors", &[("kind", "facility")]),
        facilities as f64
    );
    assert!(e.sum("orchestrator_resident_actors", &[("kind", "order")]) >= 4.0);
    if backordered {
        assert!(e.sum("orchestrator_backorder_lines_waiting", &[]) >= 1.0);
    }
    // Journal and recovery, from the core's own figures (durability none
    // here: a healthy journal that writes nothing).
    assert_eq!(e.sum("orchestrator_journal_healthy", &[]), 1.0, "{text}");
    assert!(e
        .types
        .contains_key("orchestrator_recovery_duration_seconds"));
    // Unlabelled catalog series exist from the start.
    for m in CATALOG.iter().filter(|m| m.labels.is_empty()) {
        if m.kind == MetricKind::Histogram
            || m.name == "orchestrator_snapshot_age_seconds"
            || m.name == "orchestrator_journal_healthy"
        {
            continue;
        }
        assert!(e.types.contains_key(m.name), "{} missing:\n{text}", m.name);
    }

    // Readiness follows the server.
    server.set_ready(false);
    let e = metrics_common::parse(
        &http_common::raw(t.addr, http_common::build("GET", "/metrics", &[], None)).text(),
    );
    assert_eq!(e.sum("orchestrator_ready", &[]), 0.0);
}
