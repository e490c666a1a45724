//! Shipping metrics through the API: the carrier mix and the shipping cost
//! of new orders come from the ship plans they were answered with, and a
//! `delivered` scan counts as promise kept or missed by its own time
//! against the promised date (and shows `promise_missed` in the timeline).
//!
//! One test per process (the recorder is process-wide), so every count
//! below is exact.

mod http_common;
mod metrics_common;

use http_common::{order, TestServer};
use orch_runtime::metrics;
use serde_json::{json, Value};

const SKU: &str = "SKU-000000";

/// Releases, picks, packs and ships `id`'s first fulfillment, then scans it
/// delivered at `at`; answers the order afterwards.
fn deliver(t: &TestServer, fac: &str, id: &str, at: &str) -> Value {
    let r = t.post_empty(&format!("/v1/facilities/{fac}/waves/release"));
    assert_eq!(r.status, 200, "{}", r.text());
    let f = format!("{id}/1");
    let ev = |kind: &str| json!({"event_id": format!("{id}-{kind}"), "kind": kind, "order_id": id, "fulfillment_id": f, "facility_id": fac});
    let mut pick = ev("pick");
    pick["sku"] = json!(SKU);
    pick["qty"] = json!(1);
    let mut delivered = ev("delivered");
    delivered["at"] = json!(at);
    let r = t.post(
        "/v1/scans",
        &json!({"events": [pick, ev("pack"), ev("ship"), delivered]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for x in r.json()["results"].as_array().unwrap() {
        assert_eq!(x["result"], "applied", "{x}");
    }
    t.get(&format!("/v1/orders/{id}")).json()
}

fn events(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn shipping_cost_carrier_mix_and_promises_kept_or_missed() {
    let t = TestServer::start();
    let (fac, lat, lon) = t.stocked(SKU, 2).expect("a stocked facility");
    let mut planned = Vec::new();
    for id in ["p-on-time", "p-late"] {
        let r = t.post("/v1/orders", &order(id, lat, lon, &[(SKU, 1)]));
        assert_eq!(r.status, 201, "{}", r.text());
        let f = r.json()["fulfillments"][0].clone();
        assert!(f["carrier"].is_string(), "a planned service: {f}");
        planned.push(f);
    }

    let date = planned[0]["promised_delivery_date"].as_str().unwrap();
    let on_time = deliver(&t, &fac, "p-on-time", &format!("{date}T23:59:59Z"));
    assert!(!events(&on_time).contains(&"promise_missed".to_string()));
    let late = deliver(&t, &fac, "p-late", "2099-01-01T00:00:00Z");
    let ev = events(&late);
    assert_eq!(
        &ev[ev.len() - 2..],
        ["delivered", "promise_missed"],
        "{ev:?}"
    );

    let e = metrics_common::parse(&metrics::render());
    let kept = |promise: &str| {
        e.sum(
            "orchestrator_deliveries_total",
            &[("service_level", "standard"), ("promise", promise)],
        )
    };
    assert_eq!((kept("kept"), kept("missed")), (1.0, 1.0));
    assert_eq!(
        e.sum(
            "orchestrator_deliveries_total",
            &[("service_level", "same_day"), ("promise", "missed")]
        ),
        0.0,
        "pre-registered at 0"
    );

    // The mix: both fulfillments under their planned carrier and service.
    let carrier = planned[0]["carrier"].as_str().unwrap();
    let service = planned[0]["service"].as_str().unwrap();
    let same = planned[1]["carrier"] == planned[0]["carrier"]
        && planned[1]["service"] == planned[0]["service"];
    assert_eq!(
        e.sum(
            "orchestrator_fulfillments_planned_total",
            &[("carrier", carrier), ("service", service)]
        ),
        if same { 2.0 } else { 1.0 }
    );
    assert_eq!(e.sum("orchestrator_fulfillments_planned_total", &[]), 2.0);

    // One cost per order, summed as answered.
    let cost: f64 = planned
        .iter()
        .map(|f| f["shipping_cost"].as_f64().unwrap())
        .sum();
    assert_eq!(e.sum("orchestrator_shipping_cost_count", &[]), 2.0);
    assert!(
        (e.sum("orchestrator_shipping_cost_sum", &[]) - cost).abs() < 1e-9,
        "sum {} vs {cost}",
        e.sum("orchestrator_shipping_cost_sum", &[])
    );
    assert_eq!(
        e.sum("orchestrator_shipping_cost_bucket", &[("le", "500")]),
        2.0
    );
}
