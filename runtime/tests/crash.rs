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

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Kills (or power cuts) per test; `ORCH_CRASH_CUTS` raises it (CI does, for
/// the run with the deliberate bug, which stops at the first lost change).
const KILLS: usize = 6;

fn kills() -> usize {
    std::env::var("ORCH_CRASH_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(KILLS)
        .max(2)
}
/// Concurrent clients: enough that the journal is nearly always in the
/// middle of a batch when the server is killed.
const WORKERS: usize = 6;

/// One request; `Err` when the connection fails (the server is gone).
fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let body = body.map(|b| serde_json::to_vec(b).expect("json"));
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(b) = &body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(&b);
    }
    s.write_all(&bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line in {text:?}"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    Ok((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server: the process, and a signal for every snapshot after
/// which journal segments were deleted.
struct Server {
    child: Child,
    snapshots: mpsc::Receiver<()>,
}

/// A failing test (the deliberate-bug run fails on purpose) must not leave
/// its server behind, stopped or running: SIGKILL works on both.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the server with `durable_log` as its `ORCH_DURABLE_LOG`, if any,
/// and waits until it is ready.
// The child is returned to the caller, which kills and waits for it.
#[allow(clippy::zombie_processes)]
fn start(config: &Path, addr: SocketAddr, durable_log: Option<&Path>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    cmd.args([
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        &addr.to_string(),
    ])
    .env("RUST_LOG", "warn,orch_runtime::persist::checkpoint=info")
    .env_remove("ORCH_DURABLE_LOG")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    if let Some(p) = durable_log {
        cmd.env("ORCH_DURABLE_LOG", p);
    }
    let mut child = cmd.spawn().expect("start the orchestrator");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, snapshots) = mpsc::channel();
    let stderr = child.stderr.take().expect("piped");
    let log2 = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("snapshot written") && !line.contains("segments_deleted=0") {
                let _ = tx.send(());
            }
            let mut l = log2.lock().unwrap();
            l.push(line);
            if l.len() > 40 {
                l.remove(0);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, _)) = request(addr, "GET", "/readyz", None) {
            return Server { child, snapshots };
        }
        if Instant::now() >= deadline || child.try_wait().ok().flatten().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "the orchestrator did not become ready; its last log lines:\n{}",
                log.lock().unwrap().join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the server acknowledged.
#[derive(Default)]
struct Acked {
    orders: HashMap<String, Value>,
    receipts: Vec<String>,
    scans: Vec<Value>,
}

fn order_body(id: &str, sku: &str, qty: i64) -> Value {
    json!({"order_id": id, "channel": "web", "ship_to": {"lat": 40.0, "lon": -90.0},
           "service_level": "standard", "lines": [{"sku": sku, "qty": qty}]})
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

/// How the server is stopped between rounds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// SIGKILL: the page cache keeps everything written.
    Kill,
    /// SIGKILL, then every file is cut back to what was made durable.
    PowerLoss,
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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("orchestrator.toml");
    let durable_log = dir.path().join("durable.log");
    let durable_log = (cut == Cut::PowerLoss).then_some(durable_log.as_path());
    std::fs::write(
        &config,
        format!(
            "[network]\ngenerate = {{ profile = \"bf-1\", scale = 0.01, seed = 5 }}\n\
             [durability]\nmode = \"fsync\"\ndata_dir = \"{}\"\n{durability_extra}\
             [runtime]\nworkers = 2\n",
            data.display()
        ),
    )
    .unwrap();
    let cfg = orch_config::load_file(&config).unwrap();
    let facilities: Vec<String> = cfg
        .network
        .facilities
        .iter()
        .map(|f| f.id.clone())
        .collect();
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

/// What a power cut leaves of the data directory: every file is cut back to
/// the last length the server recorded as durable; a file never recorded
/// is removed (its directory entry was never made durable either); where
/// bytes had been written past the durable length, a torn tail of random
/// bytes (at most as many as were written) takes their place. Files that
/// were fully durable are left as they are: a power cut does not add bytes
/// to a file nobody was writing.
fn power_cut(data: &Path, log: &Path, rng: &mut impl Rng) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let durable = orch_journal::durable_log::last_durable_lengths(&text);
    let mut files = Vec::new();
    walk(data, &mut files);
    for path in files {
        let len = std::fs::metadata(&path).unwrap().len();
        match durable.get(&path) {
            None => std::fs::remove_file(&path).unwrap(),
            Some(&kept) if kept < len => {
                let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                f.set_len(kept).unwrap();
                let torn: Vec<u8> = (0..rng.random_range(1..=(len - kept).min(512)))
                    .map(|_| rng.random())
                    .collect();
                use std::os::unix::fs::FileExt;
                f.write_all_at(&torn, kept).unwrap();
            }
            Some(_) => {}
        }
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            walk(&e.path(), out);
        } else {
            out.push(e.path());
        }
    }
}

/// Sends a signal by name (`-TERM`, `-STOP`; std only offers SIGKILL).
fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status();
}
