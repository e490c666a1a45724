//! The crash tests: the real `orchestrator` binary on a temp data dir
//! (fsync), driven over HTTP with orders, receipts, wave releases and scans,
//! killed with SIGKILL at random moments, restarted on the same data dir.
//! Every change it acknowledged (a 2xx) must be there after each restart,
//! and the recovered state must pass the invariant audit.
//!
//! A kill leaves the page cache intact, so the first test would pass just
//! the same without a single fdatasync. The power-loss test adds what a
//! power cut does: the server records (`ORCH_DURABLE_LOG`) how much of each
//! journal and snapshot file it made durable before relying on it, and after
//! each kill the harness cuts every file back to that length, removes the
//! files never made durable, and leaves a torn tail where bytes were written
//! past the durable length; only then does the server restart. Half of its
//! cuts come shortly after a snapshot was written and the journal segments
//! it covers were deleted.

mod crash_common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crash_common::{free_port, order_body, power_cut, request, signal, start, Cut, Setup};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Kills (or power cuts) per test; `ORCH_CRASH_CUTS` raises it (CI does, for
/// the run with the deliberate bug, which stops at the first lost change).
const KILLS: usize = 6;

fn kills() -> usize {
    crash_common::cuts(KILLS)
}

/// Concurrent clients: enough that the journal is nearly always in the
/// middle of a batch when the server is killed.
const WORKERS: usize = 6;

/// What the server acknowledged.
#[derive(Default)]
struct Acked {
    orders: HashMap<String, Value>,
    receipts: Vec<String>,
    scans: Vec<Value>,
}

/// Drives traffic until `stop` or until the server stops answering.
fn drive(
    addr: SocketAddr,
    round: usize,
    worker: usize,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
    facilities: Vec<String>,
) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64((round * 10 + worker) as u64);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let choice = rng.random_range(0..10);
        let result = if choice < 6 {
            let id = format!("c{round}-{worker}-{n}");
            let sku = format!("SKU-{:06}", rng.random_range(0..30));
            let body = order_body(&id, &sku, rng.random_range(1..3));
            request(addr, "POST", "/v1/orders", Some(&body)).map(|(status, _)| {
                if status == 201 || status == 200 {
                    acked.lock().unwrap().orders.insert(id, body);
                }
            })
        } else if choice < 7 {
            let id = format!("rc{round}-{worker}-{n}");
            let body = json!({"receipts": [{"sku": format!("SKU-{:06}", rng.random_range(0..30)),
                "facility_id": facilities[rng.random_range(0..facilities.len())], "qty": 3, "receipt_id": id}]});
            request(addr, "POST", "/v1/inventory/receipts", Some(&body)).map(|(status, _)| {
                if status == 200 {
                    acked.lock().unwrap().receipts.push(id);
                }
            })
        } else {
            // Release a wave somewhere and pick what it holds.
            let f = &facilities[rng.random_range(0..facilities.len())];
            request(addr, "POST", &format!("/v1/facilities/{f}/waves/release"), None).and_then(|(status, wave)| {
                if status != 200 {
                    return Ok(());
                }
                let mut events = Vec::new();
                for t in wave["pick_list"].as_array().cloned().unwrap_or_default() {
                    let fid = t["fulfillment_id"].as_str().unwrap_or_default().to_string();
                    let order_id = fid.rsplit_once('/').map(|x| x.0.to_string()).unwrap_or_default();
                    events.push(json!({"event_id": format!("pk-{}-{}", fid.replace('/', "_"), t["sku"].as_str().unwrap_or("")),
                        "kind": "pick", "order_id": order_id, "fulfillment_id": fid, "facility_id": f,
                        "sku": t["sku"], "qty": t["qty"]}));
                }
                if events.is_empty() {
                    return Ok(());
                }
                let (status, answer) = request(addr, "POST", "/v1/scans", Some(&json!({"events": events})))?;
                if status == 200 {
                    let mut a = acked.lock().unwrap();
                    for (e, r) in events.iter().zip(answer["results"].as_array().cloned().unwrap_or_default()) {
                        if r["result"] == "applied" {
                            a.scans.push(e.clone());
                        }
                    }
                }
                Ok(())
            })
        };
        if result.is_err() {
            return; // killed
        }
    }
}

/// Every acknowledged change is there: orders exist with their body,
/// receipts and scans are answered as duplicates when sent again.
fn check_acked(addr: SocketAddr, acked: &Acked) {
    for (id, body) in &acked.orders {
        let (status, v) = request(addr, "GET", &format!("/v1/orders/{id}"), None).unwrap();
        assert_eq!(status, 200, "acknowledged order {id} was lost: {v}");
        let (status, _) = request(addr, "POST", "/v1/orders", Some(body)).unwrap();
        assert_eq!(
            status, 200,
            "acknowledged order {id} is not replayed as the same order"
        );
    }
    for id in &acked.receipts {
        let body = json!({"receipts": [{"sku": "SKU-000000", "facility_id": "DC-01", "qty": 3, "receipt_id": id}]});
        let (status, v) = request(addr, "POST", "/v1/inventory/receipts", Some(&body)).unwrap();
        assert_eq!(
            (status, v["results"][0]["result"].as_str()),
            (200, Some("duplicate")),
            "acknowledged receipt {id} was lost: {v}"
        );
    }
    for chunk in acked.scans.chunks(500) {
        let (status, v) =
            request(addr, "POST", "/v1/scans", Some(&json!({"events": chunk}))).unwrap();
        assert_eq!(status, 200);
        for r in v["results"].as_array().unwrap() {
            assert_eq!(r["result"], "duplicate", "acknowledged scan was lost: {r}");
        }
    }
}

#[test]
fn acknowledged_changes_survive_kill_minus_nine() {
    run(Cut::Kill, "");
}

#[test]
fn acknowledged_changes_survive_power_loss() {
    // Small segments and frequent snapshots: every snapshot deletes
    // segments, and half the cuts come right after one.
    run(
        Cut::PowerLoss,
        "segment_bytes_max = 16384\nsnapshot_interval_ms = 300\n",
    );
}

fn run(cut: Cut, durability_extra: &str) {
    let setup = Setup::new(cut, durability_extra);
    let (config, data) = (setup.config.clone(), setup.data.clone());
    let facilities = setup.facilities.clone();
    let cfg = setup.cfg.clone();
    let durable_log = setup.durable_log.as_deref();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(99);
    let mut after_snapshot = 0;
    let kills = kills();
    for round in 0..=kills {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut server = start(&config, addr, durable_log);
        check_acked(addr, &acked.lock().unwrap());
        if round == kills {
            // Stop cleanly, then audit the recovered state in-process.
            signal(&server.child, "-TERM");
            let _ = server.child.wait();
            if let Some(log) = durable_log {
                power_cut(&data, log, &mut rng);
            }
            break;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (acked, stop, facilities) = (acked.clone(), stop.clone(), facilities.clone());
                std::thread::spawn(move || drive(addr, round, w, acked, stop, facilities))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(200..900)));
        if cut == Cut::PowerLoss && round % 2 == 1 {
            // Shortly after a snapshot that deleted journal segments.
            while server.snapshots.try_recv().is_ok() {}
            if server
                .snapshots
                .recv_timeout(Duration::from_secs(20))
                .is_ok()
            {
                after_snapshot += 1;
                std::thread::sleep(Duration::from_millis(rng.random_range(0..100)));
            }
        }
        if cut == Cut::PowerLoss {
            // The moment of the cut: the process freezes (a durable length
            // it has not recorded yet is never recorded). Answers it sent
            // before that still reach the clients, and count as
            // acknowledged: each must be backed by a durable record.
            signal(&server.child, "-STOP");
            std::thread::sleep(Duration::from_millis(300));
        }
        server.child.kill().expect("SIGKILL"); // kill -9, with requests in flight
        let _ = server.child.wait();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        if let Some(log) = durable_log {
            power_cut(&data, log, &mut rng);
        }
    }
    let a = acked.lock().unwrap();
    assert!(
        a.orders.len() > 50 && !a.scans.is_empty() && !a.receipts.is_empty(),
        "too little traffic was acknowledged to mean anything: {} orders, {} scans, {} receipts",
        a.orders.len(),
        a.scans.len(),
        a.receipts.len()
    );
    if cut == Cut::PowerLoss {
        assert!(
            after_snapshot >= kills / 2 - 1,
            "only {after_snapshot} cuts came right after a snapshot that deleted segments"
        );
    }
    eprintln!(
        "{kills} {}: {} orders, {} receipts, {} picks acknowledged and found after each restart",
        if cut == Cut::Kill {
            "kills".to_string()
        } else {
            format!("power cuts ({after_snapshot} right after a snapshot)")
        },
        a.orders.len(),
        a.receipts.len(),
        a.scans.len()
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let core = orch_runtime::Orchestrator::try_start(&cfg).expect("recovers");
    let audit = rt.block_on(core.audit());
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
}
