//! Holds over HTTP (`/v1/holds`) on the shard engine, every answer of the
//! contract: create (201, replay 200, conflict 409, all-or-nothing 409 and
//! nothing created), read, extend, release, conversion by an order naming
//! the hold, held units in inventory and out of availability, expiry by
//! the injected clock (never by sleeping), the 422s naming their field,
//! the metrics, and 501 on the shells engine.

use std::sync::Arc;

use orch_config::{Config, EngineKind};
use orch_runtime::host::{Clock, HostOptions, ManualClock};
use orch_runtime::hosted::start::HostedRuntime;
use orch_runtime::http::start_server;
use orch_runtime::persist::Durability;
use orch_runtime::Core;
use serde_json::{json, Value};

mod http_common;
use http_common::{config, order, TestServer};

/// 2026-11-27 09:00 UTC.
const T0: u64 = 1_795_770_000_000;

/// The shard engine on a journal in a temporary directory, its clock in the
/// test's hand, served on an ephemeral port.
fn hosted(dir: &std::path::Path) -> (TestServer, ManualClock) {
    let mut cfg: Config = config();
    cfg.runtime.engine = EngineKind::Host;
    cfg.durability.data_dir = dir.display().to_string();
    let (clock, hand) = Clock::manual(T0);
    let (durability, _) = Durability::open(&cfg.durability).expect("open the journal");
    let rt = HostedRuntime::start_with(
        &cfg,
        HostOptions::from_config(&cfg),
        Arc::new(durability),
        clock,
    )
    .expect("start the host");
    let core = Core::from(rt);
    let server = start_server(core.clone(), &cfg, "127.0.0.1:0").expect("start the server");
    let addr = server.addr;
    let t = TestServer {
        core,
        server: Some(server),
        addr,
        token: None,
        cfg,
    };
    (t, hand)
}

fn hold(id: &str, lat: f64, lon: f64, sku: &str, qty: i64) -> Value {
    json!({"hold_id": id, "ship_to": {"lat": lat, "lon": lon}, "ttl_s": 600,
           "lines": [{"sku": sku, "qty": qty}]})
}

/// A SKU stocked somewhere with at least 3 units: (sku, facility, lat, lon).
fn stocked(t: &TestServer) -> (String, String, f64, f64) {
    for sku in &t.cfg.network.skus {
        if let Some((f, lat, lon)) = t.stocked(sku, 3) {
            return (sku.clone(), f, lat, lon);
        }
    }
    panic!("no SKU with 3 units anywhere");
}

/// (held, available) of `sku` at `facility` in `GET /v1/inventory`.
fn cell(t: &TestServer, sku: &str, facility: &str) -> (u64, u64) {
    let inv = t.get(&format!("/v1/inventory/{sku}")).json();
    let c = inv["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["facility_id"] == facility)
        .unwrap()
        .clone();
    (
        c["held"].as_u64().unwrap(),
        c["available"].as_u64().unwrap(),
    )
}

fn delete(t: &TestServer, path: &str) -> http_common::Resp {
    t.send("DELETE", path, &[], None)
}

#[test]
fn create_read_replay_conflict_and_held_units() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _clock) = hosted(dir.path());
    let (sku, f, lat, lon) = stocked(&t);
    let (held0, avail0) = cell(&t, &sku, &f);
    assert_eq!(held0, 0);

    let r = t.post("/v1/holds", &hold("h-1", lat, lon, &sku, 2));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("location"), Some("/v1/holds/h-1"));
    let h = r.json();
    assert_eq!(h["status"], "active");
    assert_eq!(h["expires_at"], "2026-11-27T09:10:00.000Z");
    assert_eq!(h["holds"][0]["facility_id"], f.as_str());
    assert_eq!(h["holds"][0]["lines"][0]["qty"], 2);
    assert_eq!(h["unavailable"], json!([]));

    // Held units are out of the available count.
    assert_eq!(cell(&t, &sku, &f), (2, avail0 - 2));
    let a = t
        .get(&format!(
            "/v1/availability?sku={sku}&lat={lat}&lon={lon}&radius_km=1"
        ))
        .json();
    let near = a["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["facility_id"] == f.as_str())
        .unwrap();
    assert_eq!(near["available"].as_u64(), Some(avail0 - 2), "{a}");

    // Replay: 200, same hold, nothing more held.
    let r = t.post("/v1/holds", &hold("h-1", lat, lon, &sku, 2));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["holds"], h["holds"]);
    assert_eq!(cell(&t, &sku, &f).0, 2);
    // Same id, another body: 409, nothing changed.
    let r = t.post("/v1/holds", &hold("h-1", lat, lon, &sku, 1));
    assert_eq!((r.status, r.code().as_str()), (409, "hold_conflict"));
    assert_eq!(cell(&t, &sku, &f).0, 2);

    let r = t.get("/v1/holds/h-1");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), h);
    let r = t.get("/v1/holds/nope");
    assert_eq!((r.status, r.code().as_str()), (404, "hold_not_found"));
}

#[test]
fn all_or_nothing_refuses_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _clock) = hosted(dir.path());
    let (sku, f, lat, lon) = stocked(&t);
    let (_, avail) = cell(&t, &sku, &f);
    let total: u64 = t.get(&format!("/v1/inventory/{sku}")).json()["network_available"]
        .as_u64()
        .unwrap();
    let mut body = hold("h-big", lat, lon, &sku, (total + 1) as i64);
    body["allow_partial"] = json!(false);
    let r = t.post("/v1/holds", &body);
    assert_eq!(
        (r.status, r.code().as_str()),
        (409, "insufficient_stock"),
        "{}",
        r.text()
    );
    assert_eq!(t.get("/v1/holds/h-big").status, 404);
    assert_eq!(cell(&t, &sku, &f), (0, avail));

    // Partial (the default): what can be held is, the rest is listed.
    body["allow_partial"] = json!(true);
    body["hold_id"] = json!("h-part");
    let r = t.post("/v1/holds", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let h = r.json();
    let held: u64 = h["holds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|x| x["lines"].as_array().unwrap().clone())
        .map(|l| l["qty"].as_u64().unwrap())
        .sum();
    let short: u64 = h["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["qty"].as_u64().unwrap())
        .sum();
    assert_eq!(held + short, total + 1, "{h}");
    assert!(short >= 1, "{h}");
}

#[test]
fn extend_release_and_the_refused_transitions() {
    let dir = tempfile::tempdir().unwrap();
    let (t, clock) = hosted(dir.path());
    let (sku, f, lat, lon) = stocked(&t);
    let (_, avail) = cell(&t, &sku, &f);
    assert_eq!(
        t.post("/v1/holds", &hold("h-2", lat, lon, &sku, 1)).status,
        201
    );

    clock.advance(60_000);
    let r = t.post("/v1/holds/h-2/extend", &json!({"ttl_s": 1200}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["expires_at"], "2026-11-27T09:21:00.000Z");

    let r = delete(&t, "/v1/holds/h-2");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "released");
    assert_eq!(r.json()["holds"], json!([]));
    assert_eq!(cell(&t, &sku, &f), (0, avail));

    let r = t.post("/v1/holds/h-2/extend", &json!({"ttl_s": 60}));
    assert_eq!((r.status, r.code().as_str()), (409, "hold_not_active"));
    let r = t.post("/v1/holds/nope/extend", &json!({"ttl_s": 60}));
    assert_eq!((r.status, r.code().as_str()), (404, "hold_not_found"));
    let r = delete(&t, "/v1/holds/nope");
    assert_eq!((r.status, r.code().as_str()), (404, "hold_not_found"));
}

#[test]
fn an_order_naming_the_hold_converts_it_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _clock) = hosted(dir.path());
    let (sku, f, lat, lon) = stocked(&t);
    let (_, avail) = cell(&t, &sku, &f);
    assert_eq!(
        t.post("/v1/holds", &hold("h-3", lat, lon, &sku, 2)).status,
        201
    );

    let mut o = order("o-3", lat, lon, &[(sku.as_str(), 2)]);
    o["hold_id"] = json!("h-3");
    let r = t.post("/v1/orders", &o);
    assert_eq!(r.status, 201, "{}", r.text());
    let placed = r.json();
    assert_eq!(
        placed["hold"],
        json!({"hold_id": "h-3", "status": "converted"})
    );
    assert_eq!(placed["fulfillments"][0]["facility_id"], f.as_str());
    // The held units became the order's reservation: nothing else moved.
    assert_eq!(cell(&t, &sku, &f), (0, avail - 2));
    assert_eq!(t.get("/v1/holds/h-3").json()["status"], "converted");

    // Converted: neither extended nor released.
    let r = t.post("/v1/holds/h-3/extend", &json!({"ttl_s": 60}));
    assert_eq!((r.status, r.code().as_str()), (409, "hold_not_active"));
    let r = delete(&t, "/v1/holds/h-3");
    assert_eq!((r.status, r.code().as_str()), (409, "hold_not_active"));

    // A hold no longer active does not fail an order: placed as usual,
    // the answer says the hold's status.
    let mut o = order("o-4", lat, lon, &[(sku.as_str(), 1)]);
    o["hold_id"] = json!("h-3");
    let r = t.post("/v1/orders", &o);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["hold"]["status"], "converted");
    assert_eq!(cell(&t, &sku, &f), (0, avail - 3));

    // In a batch too.
    assert_eq!(
        t.post("/v1/holds", &hold("h-5", lat, lon, &sku, 1)).status,
        201
    );
    let mut o = order("o-5", lat, lon, &[(sku.as_str(), 1)]);
    o["hold_id"] = json!("h-5");
    let r = t.post("/v1/orders/batch", &json!({"orders": [o]}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["results"][0]["hold"]["status"],
        "converted",
        "{}",
        r.text()
    );
    assert_eq!(cell(&t, &sku, &f), (0, avail - 4));
}

#[test]
fn a_hold_expires_by_the_clock_and_its_units_return() {
    let dir = tempfile::tempdir().unwrap();
    let (t, clock) = hosted(dir.path());
    let (sku, f, lat, lon) = stocked(&t);
    let (_, avail) = cell(&t, &sku, &f);
    let mut body = hold("h-6", lat, lon, &sku, 2);
    body["ttl_s"] = json!(30);
    assert_eq!(t.post("/v1/holds", &body).status, 201);
    clock.advance(29_000);
    assert_eq!(t.get("/v1/holds/h-6").json()["status"], "active");
    clock.advance(1_000);
    // The shard's idle timer runs within milliseconds of the clock moving.
    let mut status = Value::Null;
    for _ in 0..200 {
        status = t.get("/v1/holds/h-6").json()["status"].clone();
        if status == "expired" && cell(&t, &sku, &f) == (0, avail) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(status, "expired");
    assert_eq!(cell(&t, &sku, &f), (0, avail));
    // An expired hold converts nothing.
    let mut o = order("o-6", lat, lon, &[(sku.as_str(), 1)]);
    o["hold_id"] = json!("h-6");
    let r = t.post("/v1/orders", &o);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["hold"]["status"], "expired");
}

#[test]
fn bad_holds_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _clock) = hosted(dir.path());
    let (sku, _f, lat, lon) = stocked(&t);
    let max = t.cfg.limits.hold_ttl_s_max;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({"ttl_s": 0}), 422, "invalid_ttl", "ttl_s"),
        (json!({"ttl_s": max + 1}), 422, "invalid_ttl", "ttl_s"),
        (
            json!({"service_level": "warp"}),
            422,
            "invalid_service_level",
            "service_level",
        ),
        (json!({"lines": []}), 422, "invalid_field", "lines"),
        (
            json!({"lines": [{"sku": "NOPE", "qty": 1}]}),
            422,
            "unknown_sku",
            "lines[0].sku",
        ),
        (
            json!({"lines": [{"sku": sku, "qty": 0}]}),
            422,
            "invalid_quantity",
            "lines[0].qty",
        ),
        (
            json!({"ship_to": {"lat": 91.0, "lon": 0.0}}),
            422,
            "invalid_point",
            "ship_to.lat",
        ),
        (json!({"ttl_s": "long"}), 400, "wrong_type", "ttl_s"),
        (json!({"color": "red"}), 422, "unknown_field", "color"),
    ];
    let mut wrong = Vec::new();
    for (i, (patch, status, code, field)) in cases.into_iter().enumerate() {
        let mut body = hold(&format!("h-bad-{i}"), lat, lon, &sku, 1);
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = t.post("/v1/holds", &body);
        if (r.status, r.code().as_str()) != (status, code) || !r.message().starts_with(field) {
            wrong.push(format!("{patch}: {} {}", r.status, r.text()));
        }
        assert_eq!(t.get(&format!("/v1/holds/h-bad-{i}")).status, 404);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let r = t.post("/v1/holds/h-x/extend", &json!({"ttl_s": -5}));
    assert_eq!((r.status, r.code().as_str()), (422, "invalid_ttl"));
    let mut o = order("o-bad", lat, lon, &[(sku.as_str(), 1)]);
    o["hold_id"] = json!("");
    let r = t.post("/v1/orders", &o);
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "invalid_id"),
        "{}",
        r.text()
    );
}

#[test]
fn hold_metrics_are_sampled_from_the_shards() {
    let dir = tempfile::tempdir().unwrap();
    let (t, _clock) = hosted(dir.path());
    let (sku, _f, lat, lon) = stocked(&t);
    assert_eq!(
        t.post("/v1/holds", &hold("h-m1", lat, lon, &sku, 1)).status,
        201
    );
    assert_eq!(
        t.post("/v1/holds", &hold("h-m2", lat, lon, &sku, 2)).status,
        201
    );
    assert_eq!(delete(&t, "/v1/holds/h-m1").status, 200);
    let want = [
        "orchestrator_holds_active 1",
        "orchestrator_held_units 2",
        "orchestrator_holds_total{outcome=\"created\"} 2",
        "orchestrator_holds_total{outcome=\"released\"} 1",
        "orchestrator_hold_limit{limit=\"ttl_s_max\"} 14400",
    ];
    let mut text = String::new();
    for _ in 0..60 {
        text = t.get("/metrics").text();
        if want.iter().all(|w| text.lines().any(|l| l == *w)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let missing: Vec<_> = want
        .iter()
        .filter(|w| !text.lines().any(|l| l == **w))
        .collect();
    panic!("missing {missing:?} in\n{text}");
}

#[test]
fn the_shells_answer_501_naming_the_setting() {
    let mut cfg = config();
    cfg.runtime.engine = EngineKind::Shells;
    let t = TestServer::with(cfg);
    let r = t.post("/v1/holds", &hold("h-s", 40.0, -74.0, "SKU-000000", 1));
    assert_eq!((r.status, r.code().as_str()), (501, "not_supported"));
    assert!(r.message().contains("runtime.engine"), "{}", r.message());
    assert_eq!(t.get("/v1/holds/h-s").status, 501);
}
