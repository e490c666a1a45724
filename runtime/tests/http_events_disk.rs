//! The feed's old events served from disk: a memory window of 10 events
//! under a feed of over 100, paged over HTTP with every limit and filter,
//! answers the same pages as a feed that keeps every event in memory (no
//! gap, no repeat across the memory/disk boundary), the SSE stream resumes
//! from an old `Last-Event-ID`, the metrics say what is in memory and on
//! disk, and a restart serves the same pages again.
//!
//! One test in its own binary: the metrics recorder is global.

mod http_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http_common::{config, order, TestServer};
use orch_config::{Config, DurabilityMode};
use serde_json::Value;

/// Orders placed and cancelled: 3 events each (placed, routed, cancelled).
const ORDERS: usize = 34;
const EVENTS: usize = ORDERS * 3;
const WINDOW: u64 = 10;

fn base() -> Config {
    let mut cfg = config();
    cfg.runtime.engine = orch_config::EngineKind::Host;
    cfg.runtime.wave_tick_ms = 3_600_000;
    cfg
}

/// Every order placed and cancelled on one stocked SKU (a cancel gives
/// the unit back).
fn workload(t: &TestServer) {
    let sku = t
        .cfg
        .network
        .skus
        .iter()
        .find(|s| t.stocked(s, 1).is_some())
        .expect("a stocked SKU")
        .clone();
    let (_f, lat, lon) = t.stocked(&sku, 1).unwrap();
    for i in 0..ORDERS {
        let id = format!("o-{i}");
        let r = t.post("/v1/orders", &order(&id, lat, lon, &[(sku.as_str(), 1)]));
        assert_eq!(r.status, 201, "{}", r.text());
        let r = t.post_empty(&format!("/v1/orders/{id}/cancel"));
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

/// Waits until the feed holds `n` events.
fn wait_for(t: &TestServer, n: usize) {
    let mut after = 0;
    let mut seen = 0;
    for _ in 0..100 {
        if seen >= n {
            return;
        }
        let r = t.get(&format!("/v1/events?after={after}&limit=1000&wait_s=5"));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        seen += v["events"].as_array().unwrap().len();
        after = v["next"].as_u64().unwrap();
    }
    panic!("the feed holds {seen} events, not {n}");
}

/// Every page of the whole feed, paged with `limit` and `types`: (events
/// with `created_at` left out, as two runs date them by their own clock, next).
fn pages(t: &TestServer, limit: usize, types: &str) -> Vec<(Vec<Value>, u64)> {
    let mut out = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let cursor = after.map_or(String::new(), |a| format!("&after={a}"));
        let r = t.get(&format!("/v1/events?limit={limit}{types}{cursor}"));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        let mut page = v["events"].as_array().unwrap().clone();
        for e in &mut page {
            e.as_object_mut().unwrap().remove("created_at");
        }
        let next = v["next"].as_u64().unwrap();
        if page.is_empty() && after == Some(next) {
            return out;
        }
        out.push((page, next));
        after = Some(next);
    }
}

const TYPES: [&str; 3] = [
    "",
    "&types=order.cancelled",
    "&types=order.placed,fulfillment.routed",
];
const LIMITS: [usize; 5] = [1, 7, 10, 33, 1000];

/// The SSE events (id, data) after `last_event_id`, until `n` are in.
fn sse(t: &TestServer, last_event_id: u64, n: usize) -> Vec<(u64, Value)> {
    let mut s = TcpStream::connect(t.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "GET /v1/events/stream HTTP/1.1\r\nHost: localhost\r\nLast-Event-ID: {last_event_id}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let text = String::from_utf8_lossy(&raw).to_string();
        let events: Vec<(u64, Value)> = text
            .split("\n\n")
            .filter_map(|block| {
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).ok();
                    }
                }
                Some((id?, data?))
            })
            .collect();
        if events.len() >= n {
            return events;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return events,
            Ok(k) => raw.extend_from_slice(&buf[..k]),
        }
    }
}

/// A metric's value in `/metrics`.
fn metric(t: &TestServer, name: &str) -> f64 {
    let text = t.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// Every page of `t` equals the same page of `all_in_memory`'s.
fn same_pages(t: &TestServer, all_in_memory: &[Vec<(Vec<Value>, u64)>], what: &str) {
    let mut i = 0;
    for types in TYPES {
        for limit in LIMITS {
            let got = pages(t, limit, types);
            assert_eq!(got, all_in_memory[i], "{what}: limit {limit}{types}");
            i += 1;
        }
    }
}

#[test]
fn old_events_come_from_disk_with_the_same_pages_as_in_memory() {
    // The truth: a feed in memory only (durability none keeps every event).
    let truth = {
        let t = TestServer::with(base());
        workload(&t);
        wait_for(&t, EVENTS);
        let mut all = Vec::new();
        for types in TYPES {
            for limit in LIMITS {
                all.push(pages(&t, limit, types));
            }
        }
        all
    };
    let whole = &truth[LIMITS.len() - 1];
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0].0.len(), EVENTS);

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = base();
    cfg.durability.mode = DurabilityMode::Fsync;
    cfg.durability.data_dir = dir.path().display().to_string();
    cfg.durability.snapshot_interval_ms = 3_600_000;
    cfg.durability.snapshot_events_max = 1 << 40;
    cfg.durability.events_memory_max = WINDOW;
    let t = TestServer::with(cfg.clone());
    workload(&t);
    wait_for(&t, EVENTS);
    // The tail stores each batch a moment after it appends it; the store's
    // size is listed once a second.
    let (mut resident, mut disk) = (f64::MAX, 0.0);
    for _ in 0..300 {
        resident = metric(&t, "orchestrator_events_memory_events");
        disk = metric(&t, "orchestrator_events_disk_bytes");
        if resident <= WINDOW as f64 && disk > 0.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(resident, WINDOW as f64, "only the window stays in memory");
    assert!(disk > 0.0, "the store's bytes on disk");
    let reads = metric(&t, "orchestrator_events_disk_reads_total");
    same_pages(&t, &truth, "memory window 10");
    let more = metric(&t, "orchestrator_events_disk_reads_total");
    assert!(more > reads, "the old pages were read from disk");
    assert_eq!(
        metric(&t, "orchestrator_events_feed_events"),
        EVENTS as f64,
        "every event is still kept"
    );
    // Not gone: the oldest cursor is served, from disk.
    assert_eq!(t.get("/v1/events?after=0&limit=1").status, 200);

    // SSE from an old Last-Event-ID: everything after it, in order.
    let from = 5;
    let streamed = sse(&t, from, EVENTS - from as usize);
    let ids: Vec<u64> = streamed.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, (from + 1..=EVENTS as u64).collect::<Vec<_>>());
    for ((_, data), want) in streamed.iter().zip(&whole[0].0[from as usize..]) {
        let mut data = data.clone();
        data.as_object_mut().unwrap().remove("created_at");
        assert_eq!(&data, want);
    }
    drop(t);

    // After a restart: the same pages, the window in memory again.
    let t = TestServer::with(cfg);
    assert_eq!(
        metric(&t, "orchestrator_events_memory_events"),
        WINDOW as f64
    );
    same_pages(&t, &truth, "after a restart");
}
