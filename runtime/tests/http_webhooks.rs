//! Webhooks over real HTTP: the registration API (201/200/422/404, the
//! secret never shown), deliveries to a local receiver that checks every
//! Standard Webhooks signature and each order's `order_seq` order, and a
//! restart on the same data directory (the registration and its cursor
//! survive; what was not delivered before is delivered after; repeats
//! allowed, nothing lost).

mod http_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_common::{order, quiet_config, TestServer};
use orch_config::{Config, DurabilityMode};
use serde_json::{json, Value};

const SECRET: &str = "whsec-test-secret";

/// One request the receiver took.
#[derive(Debug, Clone)]
struct Received {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook receiver on 127.0.0.1: keeps every request, answers 200, or
/// 503 while `failing`.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(AtomicBool::new(false));
        let (g, f) = (got.clone(), failing.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (g, f) = (g.clone(), f.clone());
                std::thread::spawn(move || serve(conn, &g, &f));
            }
        });
        Receiver { addr, got, failing }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until the events with these ids have all arrived (at least once).
    fn wait_for(&self, ids: &BTreeSet<String>) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let got = self.received();
            let seen: BTreeSet<String> = got
                .iter()
                .map(|r| r.json()["id"].as_str().unwrap().to_string())
                .collect();
            if ids.is_subset(&seen) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "missing deliveries: {:?}",
                ids.difference(&seen).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// HTTP/1.1 with keep-alive: one request after another on a connection.
fn serve(conn: TcpStream, got: &Mutex<Vec<Received>>, failing: &AtomicBool) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = BTreeMap::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let n: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; n];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let fail = failing.load(Ordering::Acquire);
        if !fail {
            got.lock().unwrap().push(Received { headers, body });
        }
        let status = if fail {
            "503 Service Unavailable"
        } else {
            "200 OK"
        };
        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn delete(t: &TestServer, path: &str) -> http_common::Resp {
    t.send("DELETE", path, &[], None)
}

/// Every event of the feed after `after` (a short long-poll per page, until
/// one comes back empty).
fn feed_after(t: &TestServer, after: u64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after = after;
    loop {
        let r = t.get(&format!("/v1/events?after={after}&limit=1000&wait_s=1"));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let page = v["events"].as_array().unwrap().clone();
        if page.is_empty() {
            return out;
        }
        after = v["next"].as_u64().unwrap();
        out.extend(page);
    }
}

fn ids(events: &[Value]) -> BTreeSet<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

fn last_seq(t: &TestServer) -> u64 {
    feed_after(t, 0)
        .last()
        .map_or(0, |e| e["seq"].as_u64().unwrap())
}

/// Every delivery is signed with the secret over its exact body, its
/// `webhook-id` is the event's id, and one order's events arrived in
/// `order_seq` order (repeats allowed), each order starting after its last
/// event in `before` (the events from before the registration), from 1 for
/// the others.
fn check_deliveries(got: &[Received], before: &[Value]) {
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    for e in before {
        if let (Some(o), Some(n)) = (e["order_id"].as_str(), e["order_seq"].as_u64()) {
            last.insert(o.to_string(), n);
        }
    }
    for r in got {
        let id = &r.headers["webhook-id"];
        let ts: u64 = r.headers["webhook-timestamp"].parse().unwrap();
        let sig = &r.headers["webhook-signature"];
        assert!(sig.starts_with("v1,"), "{sig}");
        assert!(
            orch_events::sign::verify(SECRET, id, ts, &r.body, sig),
            "bad signature on {id}"
        );
        assert!(!orch_events::sign::verify("other", id, ts, &r.body, sig));
        let now = orch_runtime::clock::now_ms() / 1000;
        assert!(ts <= now && now - ts < 120, "timestamp {ts} vs now {now}");
        let v = r.json();
        assert_eq!(v["id"], id.as_str());
        assert_eq!(r.headers["content-type"], "application/json");
        if let Some(o) = v["order_id"].as_str() {
            let seq = v["order_seq"].as_u64().unwrap();
            let prev = last.get(o).copied().unwrap_or(0);
            assert!(
                seq == prev + 1 || seq <= prev,
                "order {o}: order_seq {seq} after {prev}"
            );
            last.insert(o.to_string(), seq.max(prev));
        }
    }
}

fn place(t: &TestServer, id: &str, sku: &str) {
    let (_f, lat, lon) = t.stocked(sku, 1).expect("a stocked facility");
    let r = t.post("/v1/orders", &order(id, lat, lon, &[(sku, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
}

#[test]
fn registration_api_answers_and_deliveries_are_signed_and_in_order_per_order() {
    registration_and_deliveries(quiet_config());
}

#[test]
fn the_actix_shells_deliver_webhooks_too() {
    let mut cfg = quiet_config();
    cfg.runtime.engine = orch_config::EngineKind::Shells;
    registration_and_deliveries(cfg);
}

fn registration_and_deliveries(cfg: Config) {
    orch_runtime::metrics::render();
    let t = TestServer::with(cfg);
    let rx = Receiver::start();
    // Before the registration: never delivered.
    place(&t, "o-before", "SKU-000000");
    let before = feed_after(&t, 0);
    assert!(!before.is_empty());

    let body = json!({"url": rx.url(), "secret": SECRET, "types": [], "enabled": true});
    let r = t.put("/v1/webhooks/wh-1", &body);
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    assert_eq!(v["webhook_id"], "wh-1");
    assert_eq!(v["status"], "active");
    assert!(v.get("secret").is_none(), "{v}");
    // The registration starts at the feed's end when it was made (a wave
    // may have added events to o-before meanwhile).
    let cursor = v["cursor"].as_u64().unwrap();
    assert!(
        cursor >= before.last().unwrap()["seq"].as_u64().unwrap(),
        "{v}"
    );
    let before: Vec<Value> = feed_after(&t, 0)
        .into_iter()
        .filter(|e| e["seq"].as_u64().unwrap() <= cursor)
        .collect();
    let r = t.put("/v1/webhooks/wh-1", &body);
    assert_eq!(r.status, 200, "a replacement: {}", r.text());

    // Bad bodies: 422 naming the field; nothing registered.
    for (bad, field) in [
        (json!({"url": "https://", "secret": "s"}), "url"),
        (json!({"url": "ftp://example.com/x", "secret": "s"}), "url"),
        (json!({"url": "http://host:0/", "secret": "s"}), "url"),
        (json!({"url": rx.url(), "secret": ""}), "secret"),
        (
            json!({"url": rx.url(), "secret": "s", "types": ["order.teleported"]}),
            "types[0]",
        ),
        (
            json!({"url": rx.url(), "secret": "s", "colour": "red"}),
            "colour",
        ),
        (json!({"secret": "s"}), "url"),
    ] {
        let r = t.put("/v1/webhooks/wh-bad", &bad);
        http_common::assert_error_body(&r, 422, &bad.to_string());
        assert!(r.message().starts_with(field), "{bad}: {}", r.message());
    }
    let r = t.put("/v1/webhooks/bad%20id", &body);
    http_common::assert_error_body(&r, 422, "a bad webhook_id");
    assert!(r.message().starts_with("webhook_id"), "{}", r.message());

    // A second one, for order.placed only.
    let only = json!({"url": rx.url(), "secret": SECRET, "types": ["order.placed"]});
    assert_eq!(t.put("/v1/webhooks/wh-2", &only).status, 201);
    let list = t.get("/v1/webhooks").json();
    let hooks = list["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 2, "{list}");
    for h in hooks {
        for f in [
            "webhook_id",
            "url",
            "types",
            "enabled",
            "status",
            "cursor",
            "last_attempt_at",
            "failures_in_row",
        ] {
            assert!(h.get(f).is_some(), "{f} in {h}");
        }
        assert!(h.get("secret").is_none());
        assert!(!h.to_string().contains(SECRET), "{h}");
    }
    assert_eq!(hooks[1]["types"], json!(["order.placed"]));

    // Orders with several events each, interleaved.
    for i in 0..4 {
        place(&t, &format!("o-{i}"), "SKU-000001");
    }
    assert_eq!(t.post_empty("/v1/orders/o-1/cancel").status, 200);
    assert_eq!(t.post_empty("/v1/orders/o-3/cancel").status, 200);
    let after = feed_after(&t, cursor);
    assert!(after.len() >= 10, "{after:#?}");
    let placed: Vec<Value> = after
        .iter()
        .filter(|e| e["type"] == "order.placed")
        .cloned()
        .collect();
    let got = rx.wait_for(&ids(&after));
    check_deliveries(&got, &before);
    let by_id: BTreeSet<String> = got
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(
        by_id.is_disjoint(&ids(&before)),
        "an event from before the registration came"
    );
    // wh-2 got the order.placed events a second time, and nothing else.
    let count = |id: &str| got.iter().filter(|r| r.headers["webhook-id"] == id).count();
    for e in &after {
        let want = if e["type"] == "order.placed" { 2 } else { 1 };
        let id = e["id"].as_str().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while count(id) < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            rx.received()
                .iter()
                .filter(|r| r.headers["webhook-id"] == id)
                .count()
                >= want
        );
    }
    assert_eq!(placed.len(), 4);

    // The cursors catch up with the feed.
    let last = after.last().unwrap()["seq"].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = t.get("/v1/webhooks").json();
        let cursors: Vec<u64> = list["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["cursor"].as_u64().unwrap())
            .collect();
        if cursors.iter().all(|&c| c == last) {
            assert!(list["webhooks"][0]["last_attempt_at"].is_string());
            assert_eq!(list["webhooks"][0]["failures_in_row"], 0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cursors {cursors:?}, feed at {last}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_eq!(delete(&t, "/v1/webhooks/wh-2").status, 200);
    let r = delete(&t, "/v1/webhooks/wh-2");
    http_common::assert_error_body(&r, 404, "deleted already");
    assert_eq!(r.code(), "webhook_not_found");
    assert_eq!(
        t.get("/v1/webhooks").json()["webhooks"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let metrics = orch_runtime::metrics::render();
    assert!(
        metrics.contains("orchestrator_webhook_deliveries_total{result=\"delivered\"}"),
        "{metrics}"
    );
}

fn durable_config(dir: &std::path::Path) -> Config {
    let mut cfg = quiet_config();
    cfg.durability.mode = DurabilityMode::Fsync;
    cfg.durability.data_dir = dir.display().to_string();
    cfg.durability.snapshot_interval_ms = 3_600_000;
    cfg.durability.snapshot_events_max = 1 << 40;
    cfg
}

#[test]
fn a_restart_keeps_the_registration_and_cursor_and_delivers_what_was_missed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = durable_config(dir.path());
    let rx = Receiver::start();
    let (first, missed, cursor) = {
        let t = TestServer::with(cfg.clone());
        let body = json!({"url": rx.url(), "secret": SECRET, "types": []});
        assert_eq!(t.put("/v1/webhooks/wh-1", &body).status, 201);
        place(&t, "o-1", "SKU-000000");
        let first = feed_after(&t, 0);
        rx.wait_for(&ids(&first));
        let last = first.last().unwrap()["seq"].as_u64().unwrap();
        // The receiver goes down: these are not delivered before the stop.
        rx.failing.store(true, Ordering::Release);
        place(&t, "o-2", "SKU-000001");
        let missed = feed_after(&t, last);
        assert!(!missed.is_empty());
        let deadline = Instant::now() + Duration::from_secs(10);
        let cursor = loop {
            let h = t.get("/v1/webhooks").json()["webhooks"][0].clone();
            if h["failures_in_row"].as_u64() >= Some(1) {
                break h["cursor"].as_u64().unwrap();
            }
            assert!(Instant::now() < deadline, "no failed attempt yet: {h}");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            cursor, last,
            "the cursor stops before the undelivered events"
        );
        (first, missed, cursor)
    };
    // On disk after the stop: the cursor written at shutdown, no further
    // than what was delivered.
    let path = dir.path().join("webhooks").join("webhooks.json");
    let stored: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored["webhooks"][0]["webhook_id"], "wh-1");
    assert_eq!(
        stored["webhooks"][0]["cursor"].as_u64(),
        Some(cursor),
        "{stored}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the file holds secrets: {mode:o}");
    }
    rx.failing.store(false, Ordering::Release);
    let t = TestServer::with(cfg);
    let list = t.get("/v1/webhooks").json();
    let h = &list["webhooks"][0];
    assert_eq!(h["webhook_id"], "wh-1");
    assert_eq!(h["url"], rx.url().as_str());
    assert!(h["cursor"].as_u64().unwrap() >= cursor, "{h}");
    let got = rx.wait_for(&ids(&missed));
    check_deliveries(&got, &[]);
    assert_eq!(
        last_seq(&t),
        missed.last().unwrap()["seq"].as_u64().unwrap()
    );
    // Nothing of the first run's delivered events is needed again (repeats
    // are allowed, so only that every one arrived at least once is checked).
    let seen: BTreeSet<String> = got
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert!(ids(&first).is_subset(&seen));
}

#[test]
fn a_receiver_that_never_answers_is_cut_off_at_the_timeout_and_others_go_on() {
    orch_runtime::metrics::render();
    let t = TestServer::with(quiet_config());
    // Accepts connections and reads nothing, answers nothing.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming() {
            match conn {
                Ok(c) => held.push(c),
                Err(_) => return,
            }
        }
    });
    let rx = Receiver::start();
    let start = Instant::now();
    let hook = |url: &str| json!({"url": url, "secret": SECRET});
    assert_eq!(
        t.put("/v1/webhooks/wh-silent", &hook(&silent_url)).status,
        201
    );
    assert_eq!(t.put("/v1/webhooks/wh-ok", &hook(&rx.url())).status, 201);
    place(&t, "o-1", "SKU-000000");
    place(&t, "o-2", "SKU-000001");
    let events = feed_after(&t, 0);
    check_deliveries(&rx.wait_for(&ids(&events)), &[]);
    let silent_state = |t: &TestServer| {
        t.get("/v1/webhooks").json()["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["webhook_id"] == "wh-silent")
            .cloned()
            .unwrap()
    };
    assert_eq!(
        silent_state(&t)["failures_in_row"],
        0,
        "the other endpoint was served before the silent one timed out"
    );
    let deadline = start + Duration::from_secs(30);
    let h = loop {
        let h = silent_state(&t);
        if h["failures_in_row"].as_u64() >= Some(1) {
            break h;
        }
        assert!(Instant::now() < deadline, "never timed out: {h}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(4_900),
        "cut off after {waited:?}"
    );
    assert_eq!(h["status"], "active", "retried, not disabled: {h}");
    assert_eq!(h["cursor"], 0);
    let metrics = orch_runtime::metrics::render();
    assert!(
        metrics.contains("orchestrator_webhook_deliveries_total{result=\"timeout\"}"),
        "{metrics}"
    );
}

/// A figure, not a check: `cargo test -p orch-runtime --test http_webhooks
/// -- --ignored --nocapture throughput`. Orders placed in batches of 100
/// with one webhook to a local receiver; prints events delivered per second
/// from the first placement to the last delivery.
#[test]
#[ignore]
fn throughput() {
    let orders: usize = std::env::var("WEBHOOK_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let mut cfg = quiet_config();
    cfg.network = orch_config::bf1::generate(&orch_config::bf1::Bf1Params {
        scale: 0.1,
        seed: 7,
    });
    let t = TestServer::with(cfg);
    let rx = Receiver::start();
    let body = json!({"url": rx.url(), "secret": SECRET});
    assert_eq!(t.put("/v1/webhooks/wh-1", &body).status, 201);
    let (_f, lat, lon) = t.stocked("SKU-000000", 1).expect("a stocked facility");
    let start = Instant::now();
    for b in 0..orders.div_ceil(100) {
        let batch: Vec<Value> = (0..100.min(orders - b * 100))
            .map(|i| order(&format!("o-{b}-{i}"), lat, lon, &[("SKU-000002", 1)]))
            .collect();
        let r = t.post("/v1/orders/batch", &json!({ "orders": batch }));
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let placed = start.elapsed();
    let events = feed_after(&t, 0);
    let got = rx.wait_for(&ids(&events));
    let all = start.elapsed();
    check_deliveries(&got, &[]);
    println!(
        "webhooks: {orders} orders placed in {placed:?}, {} events delivered ({} requests) in {all:?}: {:.0} events/s",
        events.len(),
        got.len(),
        events.len() as f64 / all.as_secs_f64()
    );
}
