//! The event feed over real HTTP: `GET /v1/events` (types, paging, filter,
//! long-poll, 410, bad parameters), `GET /v1/events/stream` (SSE, resume
//! with Last-Event-ID), and a restart on the same data directory (every
//! acknowledged change's event again, seq continuous, none for a refused
//! request; a snapshot and a restart keep the feed).

mod http_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http_common::{config, order, TestServer};
use orch_config::{Config, DurabilityMode};
use serde_json::{json, Value};

const SKU: &str = "SKU-000000";
const SKU2: &str = "SKU-000001";

/// Every event after `after` until the feed holds at least `n` more (each
/// page long-polls; the feed is built from durable records a moment after
/// they are acknowledged).
fn collect(t: &TestServer, after: u64, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = after;
    for _ in 0..50 {
        if out.len() >= n {
            break;
        }
        let r = t.get(&format!("/v1/events?after={after}&limit=1000&wait_s=5"));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        out.extend(v["events"].as_array().unwrap().iter().cloned());
        after = v["next"].as_u64().unwrap();
    }
    out
}

/// The whole feed now, paged with `limit` and the `types` filter.
fn walk(t: &TestServer, limit: usize, types: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = format!("/v1/events?limit={limit}{types}");
    loop {
        let r = t.get(&path);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let page = v["events"].as_array().unwrap().clone();
        assert!(page.len() <= limit);
        let next = v["next"].as_u64().unwrap();
        if page.is_empty() && path.contains(&format!("after={next}&")) {
            return out;
        }
        out.extend(page);
        path = format!("/v1/events?after={next}&limit={limit}{types}");
    }
}

fn kinds_of(events: &[Value], order_id: &str) -> Vec<(String, u64)> {
    events
        .iter()
        .filter(|e| e["order_id"] == order_id)
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["order_seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

/// Places o-1 and takes it through wave, pick, pack and ship; places and
/// cancels o-2; sends refused requests too. Answers how many events that is.
fn lifecycle(t: &TestServer) -> usize {
    let (_fac, lat, lon) = t.stocked(SKU, 1).expect("a stocked facility");
    let r = t.post("/v1/orders", &order("o-1", lat, lon, &[(SKU, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
    let fac = r.json()["fulfillments"][0]["facility_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Refused: no event.
    let r = t.post("/v1/orders", &order("o-bad", lat, lon, &[("SKU-NOPE", 1)]));
    assert_eq!(r.status, 422, "{}", r.text());
    let r = t.post_empty(&format!("/v1/facilities/{fac}/waves/release"));
    assert_eq!(r.status, 200, "{}", r.text());
    let ev = |id: &str, kind: &str| json!({"event_id": id, "kind": kind, "order_id": "o-1", "fulfillment_id": "o-1/1", "facility_id": fac, "at": "2026-11-27T09:15:00Z"});
    let mut pick = ev("e-1", "pick");
    pick["sku"] = json!(SKU);
    pick["qty"] = json!(1);
    let mut ship = ev("e-3", "ship");
    ship["carrier"] = json!("UPS");
    ship["tracking"] = json!("1Z999");
    let r = t.post(
        "/v1/scans",
        &json!({"events": [pick, ev("e-2", "pack"), ship, ev("e-2", "pack")]}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    // Cancelling a shipped order is refused: no event.
    assert_eq!(t.post_empty("/v1/orders/o-1/cancel").status, 409);
    let (_f, lat2, lon2) = t.stocked(SKU2, 1).expect("a stocked facility");
    let r = t.post("/v1/orders", &order("o-2", lat2, lon2, &[(SKU2, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(t.post_empty("/v1/orders/o-2/cancel").status, 200);
    9
}

const O1: [&str; 6] = [
    "order.placed",
    "fulfillment.routed",
    "fulfillment.released",
    "fulfillment.picked",
    "fulfillment.packed",
    "fulfillment.shipped",
];
const O2: [&str; 3] = ["order.placed", "fulfillment.routed", "order.cancelled"];

fn expected(kinds: &[&str]) -> Vec<(String, u64)> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, k)| (k.to_string(), i as u64 + 1))
        .collect()
}

fn quiet(cfg: &mut Config) {
    // No wave timer: waves move only on requests.
    cfg.runtime.wave_tick_ms = 3_600_000;
}

#[test]
fn feed_reports_orders_pages_filters_and_refuses_bad_parameters() {
    orch_runtime::metrics::render(); // the recorder, before anything counts
    let mut cfg = config();
    quiet(&mut cfg);
    let t = TestServer::with(cfg);
    let n = lifecycle(&t);
    let events = collect(&t, 0, n);
    assert_eq!(events.len(), n, "{events:#?}");
    assert_eq!(kinds_of(&events, "o-1"), expected(&O1));
    assert_eq!(kinds_of(&events, "o-2"), expected(&O2));
    assert!(kinds_of(&events, "o-bad").is_empty());
    assert_eq!(seqs(&events), (1..=n as u64).collect::<Vec<_>>());
    let shipped = events
        .iter()
        .find(|e| e["type"] == "fulfillment.shipped")
        .unwrap();
    assert_eq!(shipped["id"], "evt-000000000000006");
    assert_eq!(shipped["data"]["tracking"], "1Z999");
    assert_eq!(shipped["data"]["fulfillment_id"], "o-1/1");

    // Paging walks the same events, with no gap and no repeat.
    for limit in [1, 2, 4, 1000] {
        assert_eq!(walk(&t, limit, ""), events, "limit {limit}");
    }
    let placed = walk(&t, 1, "&types=order.placed,order.cancelled");
    let kinds: Vec<&str> = placed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["order.placed", "order.placed", "order.cancelled"]);

    // Bad parameters: 422 naming the field; nothing changes.
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait_s=31", "wait_s"),
        ("after=-1", "after"),
        ("types=order.placed,order.teleported", "types"),
    ] {
        let r = t.get(&format!("/v1/events?{q}"));
        http_common::assert_error_body(&r, 422, q);
        assert!(r.message().starts_with(field), "{q}: {}", r.message());
    }
    assert_eq!(walk(&t, 1000, ""), events);

    // The document holds the feed (not the endless stream), with the
    // type list as a pattern a generator can keep to.
    let doc = t.get("/v1/openapi.json").json();
    let params = doc["paths"]["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .clone();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["after", "types", "limit", "wait_s"]);
    let pattern = params[1]["schema"]["pattern"].as_str().unwrap();
    assert!(pattern.contains("order\\.placed|"), "{pattern}");
    assert!(doc["paths"]["/v1/events/stream"].is_null());

    let metrics = orch_runtime::metrics::render();
    assert!(
        metrics.contains("orchestrator_events_emitted_total{type=\"fulfillment.shipped\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("orchestrator_events_feed_events"),
        "{metrics}"
    );
}

#[test]
fn long_poll_answers_when_an_event_arrives() {
    let mut cfg = config();
    quiet(&mut cfg);
    let t = TestServer::with(cfg);
    let (_fac, lat, lon) = t.stocked(SKU, 1).expect("a stocked facility");
    // Nothing yet: a short wait answers an empty page that stays put.
    let r = t.get("/v1/events?after=0&wait_s=0");
    assert_eq!(r.json(), json!({"events": [], "next": 0}));
    let addr = t.addr;
    let poll = std::thread::spawn(move || {
        http_common::raw(
            addr,
            http_common::build("GET", "/v1/events?after=0&wait_s=30", &[], None),
        )
    });
    // Place only once the poll waits (so it must be woken, not just read).
    while t.core.events().waiting() == 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = t.post("/v1/orders", &order("o-lp", lat, lon, &[(SKU, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
    let r = poll.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    let first = &v["events"][0];
    assert_eq!(first["type"], "order.placed", "{v}");
    assert_eq!(first["order_id"], "o-lp");
    assert_eq!(first["seq"], 1);
}

/// Reads an SSE answer until `n` events are in; answers the status line
/// and the events as (id, event, data).
fn sse(
    addr: std::net::SocketAddr,
    path: &str,
    last_event_id: Option<u64>,
    n: usize,
) -> (String, Vec<(u64, String, Value)>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n");
    if let Some(id) = last_event_id {
        req.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&raw).to_string();
        let events: Vec<(u64, String, Value)> = text
            .split("\n\n")
            .filter_map(|block| {
                let mut id = None;
                let mut ev = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        ev = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).ok();
                    }
                }
                Some((id?, ev?, data?))
            })
            .collect();
        if events.len() >= n {
            let status = text.lines().next().unwrap_or("").to_string();
            return (status, events);
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => {
                let status = text.lines().next().unwrap_or("").to_string();
                return (status, events);
            }
            Ok(k) => raw.extend_from_slice(&buf[..k]),
        }
    }
}

#[test]
fn sse_streams_the_feed_and_resumes_after_last_event_id() {
    let mut cfg = config();
    quiet(&mut cfg);
    let t = TestServer::with(cfg);
    let n = lifecycle(&t);
    let events = collect(&t, 0, n);
    assert_eq!(events.len(), n);

    let (status, all) = sse(t.addr, "/v1/events/stream", None, n);
    assert!(status.contains("200"), "{status}");
    assert_eq!(all.len(), n);
    for ((id, ev, data), e) in all.iter().zip(&events) {
        assert_eq!(*id, e["seq"].as_u64().unwrap());
        assert_eq!(ev, e["type"].as_str().unwrap());
        assert_eq!(data, e);
    }
    // Resume after the 4th: the 5th on, nothing repeated.
    let (_, rest) = sse(t.addr, "/v1/events/stream", Some(4), n - 4);
    let ids: Vec<u64> = rest.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, (5..=n as u64).collect::<Vec<_>>());
    // Filtered, and resumed with ?after=.
    let (_, cancelled) = sse(
        t.addr,
        "/v1/events/stream?after=1&types=order.cancelled",
        None,
        1,
    );
    assert_eq!(cancelled[0].1, "order.cancelled");
    assert_eq!(cancelled[0].2["order_id"], "o-2");
    // A new event reaches a stream that waits at the head.
    let addr = t.addr;
    let head = n as u64;
    let subscribed = t.core.events().subscribers();
    let waiting = std::thread::spawn(move || sse(addr, "/v1/events/stream", Some(head), 1));
    // Place only once that stream is subscribed (it must be woken). The
    // earlier streams may go meanwhile, so this only waits so long.
    for _ in 0..2000 {
        if t.core.events().subscribers() > subscribed {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let (_fac, lat, lon) = t.stocked(SKU, 1).expect("a stocked facility");
    assert_eq!(
        t.post("/v1/orders", &order("o-3", lat, lon, &[(SKU, 1)]))
            .status,
        201
    );
    let (_, new) = waiting.join().unwrap();
    assert_eq!(new[0].0, head + 1);
    assert_eq!(new[0].2["order_id"], "o-3");
    let r = t.get("/v1/events/stream?types=nope");
    http_common::assert_error_body(&r, 422, "types=nope");
    let r = t.send(
        "GET",
        "/v1/events/stream",
        &[("Last-Event-ID", "abc")],
        None,
    );
    http_common::assert_error_body(&r, 422, "Last-Event-ID: abc");
    assert!(r.message().starts_with("Last-Event-ID"), "{}", r.message());
}

fn durable_config(dir: &std::path::Path) -> Config {
    let mut cfg = config();
    quiet(&mut cfg);
    cfg.durability.mode = DurabilityMode::Fsync;
    cfg.durability.data_dir = dir.display().to_string();
    // No snapshot unless the test asks for one.
    cfg.durability.snapshot_interval_ms = 3_600_000;
    cfg.durability.snapshot_events_max = 1 << 40;
    cfg
}

#[test]
fn restart_rebuilds_the_feed_and_a_snapshot_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = durable_config(dir.path());
    let before = {
        let t = TestServer::with(cfg.clone());
        let n = lifecycle(&t);
        let events = collect(&t, 0, n);
        assert_eq!(events.len(), n);
        events
    };
    // Same data directory: the same events, the same seqs and ids.
    let t = TestServer::with(cfg.clone());
    let again = walk(&t, 1000, "");
    assert_eq!(again, before);
    assert_eq!(kinds_of(&again, "o-1"), expected(&O1));
    assert_eq!(kinds_of(&again, "o-2"), expected(&O2));
    assert!(kinds_of(&again, "o-bad").is_empty());
    // New events continue the numbering.
    let (_fac, lat, lon) = t.stocked(SKU2, 1).expect("a stocked facility");
    assert_eq!(
        t.post("/v1/orders", &order("o-4", lat, lon, &[(SKU2, 1)]))
            .status,
        201
    );
    let last = before.len() as u64;
    let new = collect(&t, last, 2);
    assert_eq!(seqs(&new), [last + 1, last + 2]);
    assert_eq!(kinds_of(&new, "o-4"), expected(&O2[..2]));

    // A snapshot covers (and deletes) the journal records of every event
    // so far: the event store keeps them, so a restart serves the same
    // feed, old cursors included, and numbering and order_seq continue.
    let whole = walk(&t, 1000, "");
    t.core.checkpoint_now().expect("a snapshot");
    drop(t);
    let t = TestServer::with(cfg.clone());
    assert_eq!(
        walk(&t, 1000, ""),
        whole,
        "the feed after a snapshot and a restart"
    );
    let r = t.get(&format!("/v1/events?after={last}"));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = t.post_empty("/v1/orders/o-4/cancel");
    assert_eq!(r.status, 200, "{}", r.text());
    let head = last + 2;
    let new = collect(&t, head, 1);
    assert_eq!(new[0]["type"], "order.cancelled");
    assert_eq!(new[0]["seq"].as_u64(), Some(head + 1));
    assert_eq!(new[0]["order_seq"].as_u64(), Some(3), "o-4 had 2 events");
    // Once more, after that event: still one feed.
    let whole = walk(&t, 1000, "");
    drop(t);
    let t = TestServer::with(cfg);
    assert_eq!(walk(&t, 1000, ""), whole);
}
