//! What the crash tests share: the real `orchestrator` binary started on a
//! data directory (`start`), a blocking HTTP/1.1 client (`request`), the
//! cut-count knob (`cuts`), and what a power cut leaves of the data
//! directory (`power_cut`, from the server's `ORCH_DURABLE_LOG`).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};

/// Kills (or power cuts) per test: `ORCH_CRASH_CUTS` when set (CI raises
/// it for the run with the deliberate bug), else `default`; at least 2.
pub fn cuts(default: usize) -> usize {
    std::env::var("ORCH_CRASH_CUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(2)
}

/// One request; `Err` when the connection fails (the server is gone).
pub fn request(
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

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server: the process, and a signal for every snapshot after
/// which journal segments were deleted.
pub struct Server {
    pub child: Child,
    pub snapshots: mpsc::Receiver<()>,
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
pub fn start(config: &Path, addr: SocketAddr, durable_log: Option<&Path>) -> Server {
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

pub fn order_body(id: &str, sku: &str, qty: i64) -> Value {
    json!({"order_id": id, "channel": "web", "ship_to": {"lat": 40.0, "lon": -90.0},
           "service_level": "standard", "lines": [{"sku": sku, "qty": qty}]})
}

/// How the server is stopped between rounds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// SIGKILL: the page cache keeps everything written.
    Kill,
    /// SIGKILL, then every file is cut back to what was made durable.
    PowerLoss,
}

/// What a power cut leaves of the data directory: every file is cut back to
/// the last length the server recorded as durable; a file never recorded
/// is removed (its directory entry was never made durable either); where
/// bytes had been written past the durable length, a torn tail of random
/// bytes (at most as many as were written) takes their place. Files that
/// were fully durable are left as they are: a power cut does not add bytes
/// to a file nobody was writing.
pub fn power_cut(data: &Path, log: &Path, rng: &mut impl Rng) {
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

pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
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
pub fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status();
}

/// A crash test's directory: the config file (BF-1 scale 0.01, fsync,
/// `durability_extra` added to `[durability]`), its data directory, where
/// the server records durable lengths for a power cut, and the facility ids.
pub struct Setup {
    /// Removed when the test ends.
    pub dir: tempfile::TempDir,
    /// The config file.
    pub config: PathBuf,
    /// The data directory.
    pub data: PathBuf,
    /// `ORCH_DURABLE_LOG` of a power-loss run (`None` for kill -9).
    pub durable_log: Option<PathBuf>,
    /// The network's facility ids.
    pub facilities: Vec<String>,
    /// The config as loaded.
    pub cfg: orch_config::Config,
}

impl Setup {
    /// Writes the config for `cut` with `durability_extra`.
    pub fn new(cut: Cut, durability_extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let config = dir.path().join("orchestrator.toml");
        let durable_log = (cut == Cut::PowerLoss).then(|| dir.path().join("durable.log"));
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
        let facilities = cfg
            .network
            .facilities
            .iter()
            .map(|f| f.id.clone())
            .collect();
        Setup {
            dir,
            config,
            data,
            durable_log,
            facilities,
            cfg,
        }
    }
}
