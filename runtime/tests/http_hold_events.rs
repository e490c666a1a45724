//! `hold.expired` over HTTP on the shard engine, expiry driven by the
//! injected clock (never by sleeping): one event per expired hold, none
//! for a released or converted one, the type filter, a webhook may
//! subscribe to it, and an expiry journaled by the first tick after a
//! restart reports once, across a further restart too.

use std::sync::Arc;

use orch_config::{Config, DurabilityMode, EngineKind};
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

fn durable(dir: &std::path::Path) -> Config {
    let mut cfg: Config = config();
    cfg.runtime.engine = EngineKind::Host;
    cfg.runtime.wave_tick_ms = 3_600_000;
    cfg.durability.mode = DurabilityMode::Fsync;
    cfg.durability.data_dir = dir.display().to_string();
    cfg.durability.snapshot_interval_ms = 3_600_000;
    cfg.durability.snapshot_events_max = 1 << 40;
    // The events are dated by the test's clock, T0, while the tail trims
    // by the wall clock: a retention of years keeps them whatever today is.
    cfg.durability.events_retention_ms = 10 * 365 * 24 * 3_600_000;
    cfg
}

/// The shard engine on `cfg`'s data directory, its clock at `now` in the
/// test's hand.
fn hosted(cfg: &Config, now: u64) -> (TestServer, ManualClock) {
    let (clock, hand) = Clock::manual(now);
    let (durability, _) = Durability::open(&cfg.durability).expect("open the journal");
    let rt = HostedRuntime::start_with(
        cfg,
        HostOptions::from_config(cfg),
        Arc::new(durability),
        clock,
    )
    .expect("start the host");
    let core = Core::from(rt);
    let server = start_server(core.clone(), cfg, "127.0.0.1:0").expect("start the server");
    let addr = server.addr;
    let t = TestServer {
        core,
        server: Some(server),
        addr,
        token: None,
        cfg: cfg.clone(),
    };
    (t, hand)
}

/// A SKU with at least 4 units at one facility: (sku, facility, lat, lon).
fn stocked(t: &TestServer) -> (String, String, f64, f64) {
    for sku in &t.cfg.network.skus {
        if let Some((f, lat, lon)) = t.stocked(sku, 4) {
            return (sku.clone(), f, lat, lon);
        }
    }
    panic!("no SKU with 4 units anywhere");
}

fn hold(t: &TestServer, id: &str, (sku, lat, lon): (&str, f64, f64), qty: u64, ttl_s: u64) {
    let body = json!({"hold_id": id, "ship_to": {"lat": lat, "lon": lon}, "ttl_s": ttl_s,
                      "lines": [{"sku": sku, "qty": qty}]});
    let r = t.post("/v1/holds", &body);
    assert_eq!(r.status, 201, "{}", r.text());
}

/// The hold.expired events of the feed once it holds `n` of them (each
/// page long-polls), and after a short quiet wait for any more.
fn expired_events(t: &TestServer, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = 0;
    for _ in 0..40 {
        let wait = if out.len() >= n { 0 } else { 5 };
        let r = t.get(&format!(
            "/v1/events?after={after}&limit=1000&types=hold.expired&wait_s={wait}"
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let page = v["events"].as_array().unwrap().clone();
        let next = v["next"].as_u64().unwrap();
        if page.is_empty() && out.len() >= n {
            break;
        }
        out.extend(page);
        after = next;
    }
    out
}

fn hold_ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["data"]["hold_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_expired_hold_reports_once_and_a_released_or_converted_one_never() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = durable(dir.path());
    let (t, clock) = hosted(&cfg, T0);
    let (sku, f, lat, lon) = stocked(&t);
    let at = (sku.as_str(), lat, lon);
    hold(&t, "h-exp", at, 2, 30);
    hold(&t, "h-rel", at, 1, 30);
    hold(&t, "h-conv", at, 1, 30);
    assert_eq!(t.send("DELETE", "/v1/holds/h-rel", &[], None).status, 200);
    let mut o = order("o-conv", lat, lon, &[(sku.as_str(), 1)]);
    o["hold_id"] = json!("h-conv");
    let r = t.post("/v1/orders", &o);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["hold"]["status"], "converted");
    // A webhook may subscribe to the type.
    let r = t.put(
        "/v1/webhooks/wh-holds",
        &json!({"url": "http://127.0.0.1:9/hook", "secret": "s", "types": ["hold.expired"],
                "enabled": false}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["types"], json!(["hold.expired"]));

    clock.advance(30_000);
    let events = expired_events(&t, 1);
    assert_eq!(hold_ids(&events), ["h-exp"], "{events:?}");
    let e = &events[0];
    assert_eq!(e["type"], "hold.expired");
    assert_eq!(e["order_id"], Value::Null);
    assert_eq!(e["order_seq"], Value::Null);
    assert_eq!(e["created_at"], "2026-11-27T09:00:30Z");
    assert_eq!(
        e["data"],
        json!({"hold_id": "h-exp", "expires_at": "2026-11-27T09:00:30.000Z",
               "lines": [{"sku": sku, "facility_id": f, "qty": 2}]})
    );
    // The unfiltered feed has it once too, among the orders' events.
    let r = t.get("/v1/events?limit=1000");
    let all = r.json()["events"].as_array().unwrap().clone();
    let n = all.iter().filter(|e| e["type"] == "hold.expired").count();
    assert_eq!(n, 1);
    assert!(all.iter().any(|e| e["type"] == "order.placed"));
    // A later release of the expired hold reports nothing more.
    t.send("DELETE", "/v1/holds/h-exp", &[], None);
    clock.advance(60_000);
    assert_eq!(hold_ids(&expired_events(&t, 1)), ["h-exp"]);
}

#[test]
fn an_expiry_journaled_after_a_restart_reports_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = durable(dir.path());
    {
        let (t, _clock) = hosted(&cfg, T0);
        let (sku, _f, lat, lon) = stocked(&t);
        hold(&t, "h-down", (sku.as_str(), lat, lon), 1, 30);
        assert!(expired_events(&t, 0).is_empty());
    }
    // Down past its expiry: the first ticks expire it.
    let (t, _clock) = hosted(&cfg, T0 + 120_000);
    let events = expired_events(&t, 1);
    assert_eq!(hold_ids(&events), ["h-down"]);
    assert_eq!(events[0]["created_at"], "2026-11-27T09:02:00Z");
    let seq = events[0]["seq"].clone();
    drop(t);
    // Once more: the same event, under the same seq, and no second one.
    let (t, _clock) = hosted(&cfg, T0 + 240_000);
    let events = expired_events(&t, 1);
    assert_eq!(hold_ids(&events), ["h-down"]);
    assert_eq!(events[0]["seq"], seq);
}
