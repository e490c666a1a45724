//! The HTTP API over real HTTP: every endpoint's happy path and the status
//! codes API.md lists for it, idempotent replays and conflicts, auth,
//! readiness and backpressure.

mod http_common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http_common::{config, order, TestServer};
use serde_json::json;

const SKU: &str = "SKU-000000";
const SKU2: &str = "SKU-000001";

#[test]
fn health_readiness_and_unrouted_paths() {
    let t = TestServer::start();
    let r = t.get("/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "ok");
    assert_eq!(t.get("/readyz").status, 200);
    // /metrics is the Prometheus text (runtime/tests/metrics_endpoint.rs).
    let r = t.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("# TYPE orchestrator_"), "{}", r.text());
    let r = t.get("/v1/nothing/here");
    assert_eq!((r.status, r.code().as_str()), (404, "route_not_found"));
    let r = t.send("DELETE", "/v1/orders", &[], None);
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));
    assert_eq!(r.header("allow"), Some("POST"));
    let r = t.get("/v1/scans");
    assert_eq!((r.status, r.code().as_str()), (405, "method_not_allowed"));

    t.server().set_ready(false);
    let r = t.get("/readyz");
    assert_eq!((r.status, r.code().as_str()), (503, "not_ready"));
    assert_eq!(r.header("retry-after"), Some("1"));
    let r = t.get("/v1/facilities");
    assert_eq!((r.status, r.code().as_str()), (503, "not_ready"));
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(t.get("/healthz").status, 200);
    t.server().set_ready(true);
    assert_eq!(t.get("/readyz").status, 200);
    assert_eq!(t.get("/v1/facilities").status, 200);
}

#[test]
fn order_lifecycle() {
    let t = TestServer::start();
    let (_fac, lat, lon) = t.stocked(SKU, 2).expect("a stocked facility");
    let body = order("o-1001", lat, lon, &[(SKU, 2)]);

    let r = t.post("/v1/orders", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json();
    assert_eq!(placed["order_id"], "o-1001");
    assert_eq!(placed["status"], "routed", "{placed}");
    assert_eq!(r.header("location"), Some("/v1/orders/o-1001"));
    let f = placed["fulfillments"][0].clone();
    assert_eq!(f["fulfillment_id"], "o-1001/1");
    let fac = f["facility_id"].as_str().unwrap().to_string();
    assert_eq!(placed["backordered"], json!([]));

    // Idempotent replay, then a conflicting body.
    let r = t.post("/v1/orders", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["order_id"], "o-1001");
    let r = t.post("/v1/orders", &order("o-1001", lat, lon, &[(SKU, 3)]));
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "order_conflict"),
        "{}",
        r.text()
    );
    assert!(r.message().contains("order_id"));

    // Invalid orders: 422 naming the field, 400 for malformed JSON.
    let r = t.post("/v1/orders", &order("o-bad", lat, lon, &[("SKU-NOPE", 1)]));
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_sku"));
    assert!(r.message().contains("lines[0].sku"), "{}", r.message());
    let many: Vec<(String, i64)> = (0..201).map(|i| (format!("SKU-{i:06}"), 1)).collect();
    let many: Vec<(&str, i64)> = many.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let r = t.post("/v1/orders", &order("o-many", lat, lon, &many));
    assert_eq!((r.status, r.code().as_str()), (422, "too_many_lines"));
    let r = t.send(
        "POST",
        "/v1/orders",
        &[("Content-Type", "application/json")],
        Some(b"{\"order_id\": "),
    );
    assert_eq!((r.status, r.code().as_str()), (400, "malformed_json"));
    assert!(r.message().contains("line 1"), "{}", r.message());
    let mut wrong = body.clone();
    wrong["lines"][0]["qty"] = json!("two");
    let r = t.post("/v1/orders", &wrong);
    // A value of the wrong type is malformed.
    assert_eq!((r.status, r.code().as_str()), (400, "wrong_type"));
    assert!(r.message().starts_with("lines[0].qty"), "{}", r.message());
    let r = t.send(
        "POST",
        "/v1/orders",
        &[("Content-Type", "text/plain")],
        Some(b"{}"),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (415, "unsupported_media_type")
    );

    // Status with its timeline; unknown order.
    let r = t.get("/v1/orders/o-1001");
    assert_eq!(r.status, 200);
    let o = r.json();
    assert_eq!(o["status"], "routed");
    assert!(!o["timeline"].as_array().unwrap().is_empty(), "{o}");
    let r = t.get("/v1/orders/o-nope");
    assert_eq!((r.status, r.code().as_str()), (404, "order_not_found"));

    // Wave, then scans up to ship.
    let r = t.post_empty(&format!("/v1/facilities/{fac}/waves/release"));
    assert_eq!(r.status, 200, "{}", r.text());
    let w = r.json();
    assert!(w["wave_id"].is_string(), "{w}");
    assert_eq!(w["fulfillment_ids"], json!(["o-1001/1"]));
    let r = t.post_empty(&format!("/v1/facilities/{fac}/waves/release"));
    assert_eq!(r.status, 200);
    assert!(r.json()["wave_id"].is_null());
    let r = t.post_empty("/v1/facilities/NOPE/waves/release");
    assert_eq!((r.status, r.code().as_str()), (404, "facility_not_found"));

    let ev = |id: &str, kind: &str| json!({"event_id": id, "kind": kind, "order_id": "o-1001", "fulfillment_id": "o-1001/1", "facility_id": fac});
    let mut pick = ev("e-1", "pick");
    pick["sku"] = json!(SKU);
    pick["qty"] = json!(2);
    pick["at"] = json!("2026-11-27T09:15:00Z");
    let mut ship = ev("e-3", "ship");
    ship["carrier"] = json!("UPS");
    ship["tracking"] = json!("1Z999");
    let mut bad_qty = ev("e-bad", "pick");
    bad_qty["qty"] = json!("lots");
    let r = t.post(
        "/v1/scans",
        &json!({"events": [pick, bad_qty, ev("e-2", "pack"), json!(17), ship, pick, ev("e-4", "teleport"),
                {"event_id": "e-5", "kind": "pack", "order_id": "o-none", "fulfillment_id": "o-none/1", "facility_id": fac}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let res = r.json()["results"].as_array().unwrap().clone();
    let kinds: Vec<&str> = res.iter().map(|x| x["result"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        vec![
            "applied",
            "rejected",
            "applied",
            "rejected",
            "applied",
            "duplicate",
            "rejected",
            "rejected"
        ],
        "{res:?}"
    );
    assert_eq!(res[1]["event_id"], "e-bad");
    assert!(
        res[1]["reason"]
            .as_str()
            .unwrap()
            .starts_with("events[1].qty"),
        "{res:?}"
    );
    assert!(
        res[3]["reason"].as_str().unwrap().contains("events[3]"),
        "{res:?}"
    );
    assert!(
        res[6]["reason"].as_str().unwrap().contains("kind"),
        "{res:?}"
    );
    assert!(
        res[7]["reason"].as_str().unwrap().contains("order_id"),
        "{res:?}"
    );
    let r = t.post("/v1/scans", &json!({"events": {"not": "an array"}}));
    assert_eq!((r.status, r.code().as_str()), (400, "wrong_type"));
    assert!(r.message().starts_with("events"), "{}", r.message());

    assert_eq!(t.get("/v1/orders/o-1001").json()["status"], "shipped");
    // Cancel: 409 once shipped, 404 unknown, 200 for a fresh order.
    let r = t.post_empty("/v1/orders/o-1001/cancel");
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "already_shipped"),
        "{}",
        r.text()
    );
    let r = t.post_empty("/v1/orders/o-nope/cancel");
    assert_eq!((r.status, r.code().as_str()), (404, "order_not_found"));
    let before = t.get(&format!("/v1/inventory/{SKU2}")).json()["network_available"]
        .as_u64()
        .unwrap();
    let r = t.post("/v1/orders", &order("o-1002", lat, lon, &[(SKU2, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
    let after_place = t.get(&format!("/v1/inventory/{SKU2}")).json()["network_available"]
        .as_u64()
        .unwrap();
    let r = t.post_empty("/v1/orders/o-1002/cancel");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "cancelled");
    let after_cancel = t.get(&format!("/v1/inventory/{SKU2}")).json()["network_available"]
        .as_u64()
        .unwrap();
    if t.get("/v1/orders/o-1002").json()["backordered"] == json!([]) {
        assert_eq!(after_place + 1, before);
    }
    assert_eq!(after_cancel, before);
}

#[test]
fn batch_orders() {
    let mut cfg = config();
    cfg.limits.batch_orders_max = 3;
    cfg.limits.scan_events_max = 2;
    let t = TestServer::with(cfg);
    let (_fac, lat, lon) = t.stocked(SKU, 1).unwrap();
    let mut bad = order("b-2", lat, lon, &[(SKU, 1)]);
    bad["lines"][0]["qty"] = json!("x");
    let batch = json!({"orders": [order("b-1", lat, lon, &[(SKU, 1)]), bad, order("b-3", lat, lon, &[("SKU-NOPE", 1)])]});
    let r = t.post("/v1/orders/batch", &batch);
    assert_eq!(r.status, 200, "{}", r.text());
    let res = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(res.len(), 3);
    assert_eq!(res[0]["order_id"], "b-1");
    assert_eq!(res[0]["status"], "routed");
    assert_eq!(res[1]["order_id"], "b-2");
    assert_eq!(res[1]["error"]["code"], "wrong_type");
    assert!(
        res[1]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("orders[1].lines[0].qty"),
        "{res:?}"
    );
    assert_eq!(res[2]["order_id"], "b-3");
    assert_eq!(res[2]["error"]["code"], "unknown_sku");
    assert!(
        res[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("orders[2].lines[0].sku"),
        "{res:?}"
    );
    assert_eq!(t.get("/v1/orders/b-2").status, 404);
    assert_eq!(t.get("/v1/orders/b-3").status, 404);
    // Replay in a batch answers the same order.
    let r = t.post(
        "/v1/orders/batch",
        &json!({"orders": [order("b-1", lat, lon, &[(SKU, 1)])]}),
    );
    assert_eq!(r.json()["results"][0]["status"], "routed");
    // Over the limit: refused whole.
    let four: Vec<_> = (0..4)
        .map(|i| order(&format!("c-{i}"), lat, lon, &[(SKU, 1)]))
        .collect();
    let r = t.post("/v1/orders/batch", &json!({ "orders": four }));
    assert_eq!((r.status, r.code().as_str()), (422, "too_many_orders"));
    assert_eq!(t.get("/v1/orders/c-0").status, 404);
    let r = t.post("/v1/scans", &json!({"events": [{}, {}, {}]}));
    assert_eq!((r.status, r.code().as_str()), (422, "too_many_events"));
    let r = t.post("/v1/orders/batch", &json!({"orders": []}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["results"], json!([]));
}

#[test]
fn a_receipt_answers_the_backorders_it_served() {
    let t = TestServer::start();
    let (fac, lat, lon) = t.stocked(SKU, 1).unwrap();
    let n = t.get(&format!("/v1/inventory/{SKU}")).json()["network_available"]
        .as_i64()
        .unwrap();
    // More than the whole network has: the line waits at the desk.
    let r = t.post("/v1/orders", &order("o-wait", lat, lon, &[(SKU, n + 2)]));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["status"], "backordered", "{}", r.text());
    let receipt = json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": n + 2, "receipt_id": "r-fill"}]});
    let r = t.post("/v1/inventory/receipts", &receipt);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["results"][0]["result"], "applied");
    assert_eq!(
        r.json()["results"][0]["backorders_served"],
        1,
        "{}",
        r.text()
    );
    // Nothing waits any more: the next receipt serves none.
    let more =
        json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": 1, "receipt_id": "r-more"}]});
    let r = t.post("/v1/inventory/receipts", &more);
    assert_eq!(
        r.json()["results"][0]["backorders_served"],
        0,
        "{}",
        r.text()
    );
    let mut routed = false;
    for _ in 0..100 {
        if t.get("/v1/orders/o-wait").json()["status"] == "routed" {
            routed = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(routed, "the served line reaches its order");
}

#[test]
fn inventory_receipts_and_adjustments() {
    let t = TestServer::start();
    let (fac, lat, lon) = t.stocked(SKU, 3).unwrap();
    let cell = |t: &TestServer| -> serde_json::Value {
        let inv = t.get(&format!("/v1/inventory/{SKU}")).json();
        inv["facilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["facility_id"] == fac.as_str())
            .unwrap()
            .clone()
    };
    let inv = t.get(&format!("/v1/inventory/{SKU}"));
    assert_eq!(inv.status, 200);
    assert_eq!(inv.json()["sku"], SKU);
    assert!(inv.json()["network_available"].as_u64().unwrap() >= 3);
    let r = t.get("/v1/inventory/SKU-NOPE");
    assert_eq!((r.status, r.code().as_str()), (404, "sku_not_found"));

    let before = cell(&t);
    let receipt =
        json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": 5, "receipt_id": "r-1"}]});
    let r = t.post("/v1/inventory/receipts", &receipt);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["results"][0]["result"], "applied");
    assert_eq!(r.json()["results"][0]["id"], "r-1");
    let r = t.post("/v1/inventory/receipts", &receipt);
    assert_eq!(r.json()["results"][0]["result"], "duplicate");
    let after = cell(&t);
    assert_eq!(
        after["on_hand"].as_u64().unwrap(),
        before["on_hand"].as_u64().unwrap() + 5
    );
    // One bad receipt refuses the request whole.
    let r = t.post(
        "/v1/inventory/receipts",
        &json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": 5, "receipt_id": "r-2"}, {"sku": SKU, "facility_id": fac, "qty": 0, "receipt_id": "r-3"}]}),
    );
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_quantity"));
    assert!(r.message().contains("receipts[1].qty"));
    assert_eq!(cell(&t), after);
    let r = t.post(
        "/v1/inventory/receipts",
        &json!({"receipts": [{"sku": SKU, "facility_id": "NOPE", "qty": 1, "receipt_id": "r-4"}]}),
    );
    assert_eq!((r.status, r.code().as_str()), (422, "unknown_facility"));

    // Adjustments: set on hand; duplicate; below reserved is 409.
    let target = after["on_hand"].as_u64().unwrap() + 10;
    let adj = json!({"adjustments": [{"sku": SKU, "facility_id": fac, "on_hand": target, "adjustment_id": "a-1"}]});
    let r = t.post("/v1/inventory/adjustments", &adj);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["results"][0]["result"], "applied");
    assert_eq!(
        t.post("/v1/inventory/adjustments", &adj).json()["results"][0]["result"],
        "duplicate"
    );
    assert_eq!(cell(&t)["on_hand"].as_u64().unwrap(), target);
    // Reserve some, then try to count that cell below what is reserved.
    let r = t.post("/v1/orders", &order("o-res", lat, lon, &[(SKU, 2)]));
    assert_eq!(r.status, 201);
    let at = r.json()["fulfillments"][0]["facility_id"]
        .as_str()
        .unwrap()
        .to_string();
    let cell_at = |t: &TestServer| -> serde_json::Value {
        let inv = t.get(&format!("/v1/inventory/{SKU}")).json();
        inv["facilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["facility_id"] == at.as_str())
            .unwrap()
            .clone()
    };
    let c = cell_at(&t);
    assert!(c["reserved"].as_u64().unwrap() >= 2, "{c}");
    let r = t.post("/v1/inventory/adjustments", &json!({"adjustments": [{"sku": SKU, "facility_id": at, "on_hand": 0, "adjustment_id": "a-2"}]}));
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "below_reserved"),
        "{}",
        r.text()
    );
    assert!(r.message().contains("adjustments[0].on_hand"));
    assert_eq!(cell_at(&t), c);
    // Mixed: one applies, one is refused: 200 with per-item results.
    let r = t.post(
        "/v1/inventory/adjustments",
        &json!({"adjustments": [{"sku": SKU, "facility_id": at, "on_hand": 0, "adjustment_id": "a-4"}, {"sku": SKU2, "facility_id": at, "on_hand": 50, "adjustment_id": "a-5"}]}),
    );
    if r.status == 200 {
        let res = r.json()["results"].as_array().unwrap().clone();
        assert_eq!(res[0]["result"], "rejected", "{res:?}");
        assert_eq!(res[1]["result"], "applied", "{res:?}");
    } else {
        // SKU2 has no cell there: refused whole.
        assert_eq!(r.status, 422, "{}", r.text());
    }
    let r = t.post("/v1/inventory/adjustments", &json!({"adjustments": [{"sku": SKU, "facility_id": fac, "on_hand": -1, "adjustment_id": "a-3"}]}));
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_quantity"));
}

#[test]
fn catalog_availability_and_facilities() {
    let t = TestServer::start();
    let r = t.get("/v1/skus?limit=2");
    assert_eq!(r.status, 200);
    let p = r.json();
    assert_eq!(p["skus"], json!(["SKU-000000", "SKU-000001"]));
    assert_eq!(p["next"], "SKU-000001");
    let p2 = t.get("/v1/skus?limit=2&after=SKU-000001").json();
    assert_eq!(p2["skus"][0], "SKU-000002");
    let all = t.get("/v1/skus?limit=1000").json();
    let n = all["skus"].as_array().unwrap().len();
    assert_eq!(n, t.cfg.network.skus.len().min(1000));
    let last = t.cfg.network.skus.last().unwrap();
    let end = t.get(&format!("/v1/skus?after={last}")).json();
    assert_eq!(end["skus"], json!([]));
    assert!(end["next"].is_null());
    assert_eq!(
        t.get("/v1/skus").json()["skus"].as_array().unwrap().len(),
        100.min(t.cfg.network.skus.len())
    );
    for bad in ["limit=0", "limit=abc", "limit=-1", "limit=1001"] {
        let r = t.get(&format!("/v1/skus?{bad}"));
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, "invalid_field"),
            "{bad}"
        );
        assert!(r.message().starts_with("limit"));
    }

    let (fac, lat, lon) = t.stocked(SKU, 1).unwrap();
    let r = t.get(&format!("/v1/availability?sku={SKU}&lat={lat}&lon={lon}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let a = r.json();
    assert_eq!(a["sku"], SKU);
    assert!(a["nearby_available"].as_u64().unwrap() >= 1);
    assert_eq!(a["facilities"][0]["facility_id"], fac.as_str());
    let d: Vec<f64> = a["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["distance_km"].as_f64().unwrap())
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]), "{d:?}");
    assert!(d.iter().all(|x| *x <= 100.0));
    let wide = t
        .get(&format!(
            "/v1/availability?sku={SKU}&lat={lat}&lon={lon}&radius_km=20000"
        ))
        .json();
    assert_eq!(wide["nearby_available"], wide["network_available"]);
    let refused = [
        (format!("lat={lat}&lon={lon}"), "missing_field"),
        (format!("sku={SKU}&lat=abc&lon={lon}"), "invalid_field"),
        (format!("sku={SKU}&lon={lon}"), "missing_field"),
        (format!("sku={SKU}&lat=91&lon={lon}"), "invalid_point"),
        (
            format!("sku={SKU}&lat={lat}&lon={lon}&radius_km=-1"),
            "invalid_radius",
        ),
        (format!("sku=SKU-NOPE&lat={lat}&lon={lon}"), "unknown_sku"),
    ];
    assert_each_refused(&t, "/v1/availability", &refused);

    let r = t.get("/v1/facilities");
    assert_eq!(r.status, 200);
    let fs = r.json()["facilities"].as_array().unwrap().clone();
    assert_eq!(fs.len(), t.cfg.network.facilities.len());
    assert!(fs.iter().any(|f| f["facility_id"] == "DC-01"));
    let r = t.get("/v1/facilities/DC-01");
    assert_eq!(r.status, 200);
    let f = r.json();
    for k in [
        "facility_id",
        "kind",
        "lat",
        "lon",
        "enabled",
        "queued_fulfillments",
        "open_waves",
        "released_today",
        "capacity_left",
    ] {
        assert!(f.get(k).is_some(), "{k} in {f}");
    }
    let r = t.get("/v1/facilities/NOPE");
    assert_eq!((r.status, r.code().as_str()), (404, "facility_not_found"));

    let r = t.put(
        "/v1/facilities/DC-01/status",
        &json!({"enabled": false, "until": "2099-01-01T00:00:00Z"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["enabled"], false);
    assert_eq!(t.get("/v1/facilities/DC-01").json()["enabled"], false);
    let r = t.put("/v1/facilities/DC-01/status", &json!({"enabled": true}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["enabled"], true);
    let r = t.put("/v1/facilities/NOPE/status", &json!({"enabled": false}));
    assert_eq!((r.status, r.code().as_str()), (404, "facility_not_found"));
    let r = t.put(
        "/v1/facilities/DC-01/status",
        &json!({"enabled": false, "until": "soon"}),
    );
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_time"));
    let r = t.put("/v1/facilities/DC-01/status", &json!({"enabled": "no"}));
    assert_eq!((r.status, r.code().as_str()), (400, "wrong_type"));
    assert!(r.message().starts_with("enabled"));
    assert_eq!(t.get("/v1/facilities/DC-01").json()["enabled"], true);
}

#[test]
fn bearer_token() {
    let mut cfg = config();
    cfg.auth.token = Some("s3cret-token".into());
    let mut t = TestServer::with(cfg);
    assert_eq!(t.get("/v1/facilities").status, 200);
    assert_eq!(
        t.send(
            "GET",
            "/v1/facilities",
            &[("Authorization", "bearer s3cret-token")],
            None
        )
        .status,
        200
    );
    t.token = None;
    let r = t.get("/v1/facilities");
    assert_eq!((r.status, r.code().as_str()), (401, "unauthorized"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    for bad in [
        "Bearer wrong",
        "Bearer s3cret-toke",
        "Bearer s3cret-token-and-more",
        "Basic czNjcmV0",
        "s3cret-token",
        "Bearer",
    ] {
        let r = t.send("GET", "/v1/facilities", &[("Authorization", bad)], None);
        assert_eq!(
            (r.status, r.code().as_str()),
            (401, "unauthorized"),
            "{bad}"
        );
    }
    // Refused before anything is read or changed.
    let r = t.post("/v1/orders", &order("o-auth", 40.7, -74.0, &[(SKU, 1)]));
    assert_eq!(r.status, 401);
    assert_eq!(t.get("/v1/openapi.json").status, 401);
    assert_eq!(t.get("/healthz").status, 200);
    assert_eq!(t.get("/readyz").status, 200);
    assert_eq!(t.get("/metrics").status, 200, "open like /healthz");
    t.token = Some("s3cret-token".into());
    assert_eq!(t.get("/v1/orders/o-auth").status, 404);
}

#[test]
fn backpressure_answers_429_with_retry_after() {
    let mut cfg = config();
    cfg.limits.inflight_requests_max = 1;
    let t = TestServer::with(cfg);
    assert_eq!(t.get("/v1/facilities").status, 200);
    // Hold one /v1 request in flight: headers sent, body not yet. It counts
    // once the sampler's gauge (once a second) says so; a held request the
    // server refused or answered (it cannot be counted then) is sent again.
    let body = serde_json::to_vec(&json!({"receipts": []})).unwrap();
    let counted = |t: &TestServer| {
        t.get("/metrics")
            .text()
            .lines()
            .any(|l| l == "orchestrator_http_requests_inflight 1")
    };
    let mut held = None;
    for _ in 0..5 {
        let mut s = TcpStream::connect(t.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(
            s,
            "POST /v1/inventory/receipts HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(&body[..3]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !counted(&t) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if counted(&t) {
            held = Some(s);
            break;
        }
    }
    let mut held = held.expect("a held request counted in flight");
    // No probe was in flight while the held request came in: the probe is
    // the second request in flight and is refused.
    let deadline = Instant::now() + Duration::from_secs(10);
    let busy = loop {
        let r = t.get("/v1/openapi.json");
        if r.status == 429 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        (busy.status, busy.code().as_str()),
        (429, "too_many_requests")
    );
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert_eq!(t.get("/healthz").status, 200);
    // Finish the held request; the slot frees.
    held.write_all(&body[3..]).unwrap();
    let mut out = Vec::new();
    held.read_to_end(&mut out).unwrap();
    assert_eq!(http_common::parse_response(&out).status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = t.get("/v1/facilities");
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still {}", r.status);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn promise_per_service_level_from_the_view() {
    let t = TestServer::start();
    let (_, lat, lon) = t.stocked(SKU, 1).unwrap();
    let wide = t
        .get(&format!(
            "/v1/availability?sku={SKU}&lat={lat}&lon={lon}&radius_km=20000"
        ))
        .json();
    let stock: HashMap<String, u64> = wide["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["facility_id"].as_str().unwrap().to_string(),
                f["available"].as_u64().unwrap(),
            )
        })
        .collect();
    let r = t.get(&format!("/v1/promise?sku={SKU}&qty=1&lat={lat}&lon={lon}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(p["sku"], SKU);
    let promises = p["promises"].as_array().unwrap();
    let levels: Vec<&str> = promises
        .iter()
        .map(|x| x["service_level"].as_str().unwrap())
        .collect();
    assert!(levels.contains(&"standard"), "{p}");
    let order = ["same_day", "next_day", "standard"];
    let ranks: Vec<usize> = levels
        .iter()
        .map(|l| order.iter().position(|o| o == l).unwrap())
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{levels:?}");
    for x in promises {
        let fac = x["facility_id"].as_str().unwrap();
        assert!(stock.get(fac).copied().unwrap_or(0) >= 1, "{x}");
        let date = x["delivery_date"].as_str().unwrap();
        assert_eq!(date.len(), 10, "{date}");
        assert!(x["shipping_cost"].as_f64().unwrap() > 0.0);
        assert!(!x["carrier"].as_str().unwrap().is_empty());
        assert!(!x["service"].as_str().unwrap().is_empty());
    }
    // More than any one facility has: no stock can ship it whole, 200 and empty.
    let most = stock.values().max().copied().unwrap_or(0);
    let r = t.get(&format!(
        "/v1/promise?sku={SKU}&qty={}&lat={lat}&lon={lon}",
        most + 1
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["promises"], json!([]));
    let refused = [
        (
            format!("sku={SKU}&qty=0&lat={lat}&lon={lon}"),
            "invalid_quantity",
        ),
        (
            format!("sku={SKU}&qty=abc&lat={lat}&lon={lon}"),
            "invalid_field",
        ),
        (format!("sku={SKU}&lon={lon}"), "missing_field"),
        (format!("sku={SKU}&lat=91&lon={lon}"), "invalid_point"),
        (format!("sku=SKU-NOPE&lat={lat}&lon={lon}"), "unknown_sku"),
    ];
    assert_each_refused(&t, "/v1/promise", &refused);
}

/// Each query string on `path` is refused 422 with its error code.
fn assert_each_refused(t: &TestServer, path: &str, cases: &[(String, &str)]) {
    for (q, code) in cases {
        let r = t.get(&format!("{path}?{q}"));
        assert_eq!(
            (r.status, r.code().as_str()),
            (422, *code),
            "{q}: {}",
            r.text()
        );
    }
}

/// Places `id` and walks fulfillment 1 to packed; returns (order view, facility).
fn packed(t: &TestServer, id: &str, lat: f64, lon: f64) -> (serde_json::Value, String) {
    let r = t.post("/v1/orders", &order(id, lat, lon, &[(SKU, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
    let fac = r.json()["fulfillments"][0]["facility_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t.post_empty(&format!("/v1/facilities/{fac}/waves/release"));
    assert_eq!(r.status, 200, "{}", r.text());
    let ev = |e: &str, kind: &str| json!({"event_id": format!("{id}-{e}"), "kind": kind, "order_id": id, "fulfillment_id": format!("{id}/1"), "facility_id": fac});
    let mut pick = ev("pick", "pick");
    pick["sku"] = json!(SKU);
    pick["qty"] = json!(1);
    let r = t.post("/v1/scans", &json!({"events": [pick, ev("pack", "pack")]}));
    let res = r.json()["results"].clone();
    assert_eq!(res[0]["result"], "applied", "{res}");
    assert_eq!(res[1]["result"], "applied", "{res}");
    (t.get(&format!("/v1/orders/{id}")).json(), fac)
}

fn ship_scan(id: &str, fac: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut s = json!({"event_id": format!("{id}-ship"), "kind": "ship", "order_id": id,
                       "fulfillment_id": format!("{id}/1"), "facility_id": fac});
    for (k, v) in extra.as_object().unwrap() {
        s[k] = v.clone();
    }
    s
}

#[test]
fn fulfillments_carry_their_ship_plan_and_ship_scans_get_tracking_numbers() {
    let t = TestServer::start();
    let (_, lat, lon) = t.stocked(SKU, 3).expect("a stocked facility");
    let promise = t
        .get(&format!("/v1/promise?sku={SKU}&qty=1&lat={lat}&lon={lon}"))
        .json();
    let standard = promise["promises"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["service_level"] == "standard")
        .expect("standard is promised")["delivery_date"]
        .as_str()
        .unwrap()
        .to_string();
    let (o, fac) = packed(&t, "o-plan", lat, lon);
    let f = &o["fulfillments"][0];
    let carrier = f["carrier"]
        .as_str()
        .expect("a planned carrier")
        .to_string();
    assert!(["NWP", "BBP", "MTC"].contains(&carrier.as_str()), "{f}");
    assert!(!f["service"].as_str().unwrap().is_empty(), "{f}");
    assert!(f["shipping_cost"].as_f64().unwrap() > 0.0, "{f}");
    assert_eq!(f["service_level_met"], true, "{f}");
    let date = f["promised_delivery_date"].as_str().unwrap();
    assert_eq!(date.len(), 10, "{date}");
    assert!(
        *date >= *standard.as_str(),
        "never earlier than promised: {date} < {standard}"
    );
    let ship_by = f["ship_by"].as_str().unwrap();
    assert!(
        ship_by.ends_with('Z') && ship_by[..10] <= *date,
        "{ship_by} after {date}"
    );
    assert!(f["tracking"].is_null(), "{f}");
    // The routing entry of the timeline names the same plan.
    let routed = o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "routed")
        .unwrap()
        .clone();
    for k in [
        "carrier",
        "service",
        "shipping_cost",
        "ship_by",
        "promised_delivery_date",
    ] {
        assert_eq!(routed[k], f[k], "{k}: {routed}");
    }

    // A bad carrier is refused naming the field, and changes nothing.
    let r = t.post(
        "/v1/scans",
        &json!({"events": [ship_scan("o-plan", &fac, json!({"carrier": ""}))]}),
    );
    let res = r.json()["results"][0].clone();
    assert_eq!(res["result"], "rejected", "{res}");
    assert!(res["reason"].as_str().unwrap().contains("carrier"), "{res}");
    // Neither carrier nor tracking: the planned carrier, an issued number.
    let r = t.post(
        "/v1/scans",
        &json!({"events": [ship_scan("o-plan", &fac, json!({}))]}),
    );
    assert_eq!(r.json()["results"][0]["result"], "applied", "{}", r.text());
    let shipped = t.get("/v1/orders/o-plan").json()["fulfillments"][0].clone();
    assert_eq!(shipped["status"], "shipped");
    assert_eq!(shipped["carrier"], carrier.as_str());
    let tracking = shipped["tracking"].as_str().unwrap().to_string();
    assert!(
        tracking.starts_with(&format!("{carrier}1C")) && tracking.len() == carrier.len() + 18,
        "{tracking}"
    );
    assert_eq!(shipped["shipping_cost"], f["shipping_cost"], "as planned");

    // Another order, shipped naming the other parcel carrier without
    // tracking: re-rated for it, with a number of its own.
    let (o2, fac2) = packed(&t, "o-rerate", lat, lon);
    let planned = o2["fulfillments"][0]["carrier"]
        .as_str()
        .unwrap()
        .to_string();
    let other = if planned == "NWP" { "BBP" } else { "NWP" };
    let r = t.post(
        "/v1/scans",
        &json!({"events": [ship_scan("o-rerate", &fac2, json!({"carrier": other}))]}),
    );
    assert_eq!(r.json()["results"][0]["result"], "applied", "{}", r.text());
    let o2 = t.get("/v1/orders/o-rerate").json();
    let f2 = &o2["fulfillments"][0];
    assert_eq!(f2["carrier"], other, "{f2}");
    let t2 = f2["tracking"].as_str().unwrap();
    assert!(t2.starts_with(&format!("{other}1C")), "{t2}");
    assert_ne!(t2, tracking, "unique per fulfillment");
    let ship_entry = o2["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "ship")
        .unwrap()
        .clone();
    assert_eq!(ship_entry["carrier"], other, "{ship_entry}");
    assert_eq!(
        ship_entry["shipping_cost"], f2["shipping_cost"],
        "{ship_entry}"
    );
    assert!(f2["shipping_cost"].as_f64().unwrap() > 0.0);
}
