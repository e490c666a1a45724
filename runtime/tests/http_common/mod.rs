//! A real server on an ephemeral port and a tiny blocking HTTP/1.1 client
//! over `std::net::TcpStream` (raw bytes in, status/headers/body out), shared
//! by the `http_*` tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use orch_config::Config;
use orch_runtime::http::{start_server, RunningServer};
use orch_runtime::{Core, Orchestrator};
use serde_json::Value;

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `error.code` of an error body, "" otherwise.
    pub fn code(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// `error.message` of an error body, "" otherwise.
    pub fn message(&self) -> String {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(b, b"\r\n") {
        let size = std::str::from_utf8(&b[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size else { break };
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 4 + size).min(b.len())..];
    }
    out
}

/// Parses raw response bytes.
pub fn parse_response(raw: &[u8]) -> Resp {
    let end = find(raw, b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        body.truncate(len);
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// Sends raw bytes (the request should say `Connection: close`) and reads
/// the answer to the end. Writing runs on its own thread so that a server
/// that answers early (413) and stops reading cannot block us.
pub fn raw(addr: SocketAddr, bytes: Vec<u8>) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for chunk in bytes.chunks(64 * 1024) {
            if w.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => break,
            Err(e) => panic!("read: {e}"),
        }
        // Stop once a complete response is in (the server may keep the
        // socket open while we still write a body it will not read).
        if let Some(end) = find(&out, b"\r\n\r\n") {
            let r = parse_response(&out);
            let len = r
                .header("content-length")
                .and_then(|v| v.parse::<usize>().ok());
            if let Some(len) = len {
                if out.len() >= end + 4 + len {
                    break;
                }
            }
        }
    }
    drop(s);
    let _ = writer.join();
    parse_response(&out)
}

/// Builds a request.
pub fn build(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        r.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    bytes
}

/// The small BF-1 network of the tests.
pub fn config() -> Config {
    let mut cfg = Config::with_network(orch_config::bf1::generate(&orch_config::bf1::Bf1Params {
        scale: 0.01,
        seed: 7,
    }));
    cfg.runtime.workers = 2;
    // The default engine (the shard host); ORCH_TEST_ENGINE=shells runs
    // the HTTP suites on the actix shells.
    if std::env::var("ORCH_TEST_ENGINE").as_deref() == Ok("shells") {
        cfg.runtime.engine = orch_config::EngineKind::Shells;
    }
    cfg
}

/// A core and a server on 127.0.0.1:0; stopped on drop.
pub struct TestServer {
    pub core: Core,
    pub server: Option<RunningServer>,
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub cfg: Config,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::with(config())
    }

    pub fn with(cfg: Config) -> TestServer {
        let core = Core::try_start(&cfg).expect("start the core");
        let server =
            start_server(core.clone(), &cfg, "127.0.0.1:0").expect("start the HTTP server");
        let addr = server.addr;
        TestServer {
            core,
            server: Some(server),
            addr,
            token: cfg.auth.token.clone(),
            cfg,
        }
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().unwrap()
    }

    /// A request with the configured token (if any).
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Resp {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut h: Vec<(&str, &str)> = headers.to_vec();
        if let Some(a) = &auth {
            h.push(("Authorization", a.as_str()));
        }
        raw(self.addr, build(method, path, &h, body))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.send("GET", path, &[], None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        let b = serde_json::to_vec(body).unwrap();
        self.send(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            Some(&b),
        )
    }

    pub fn post_empty(&self, path: &str) -> Resp {
        self.send("POST", path, &[], None)
    }

    pub fn put(&self, path: &str, body: &Value) -> Resp {
        let b = serde_json::to_vec(body).unwrap();
        self.send(
            "PUT",
            path,
            &[("Content-Type", "application/json")],
            Some(&b),
        )
    }

    /// Facility id and lat/lon of a facility that stocks `sku` with at
    /// least `qty` available, from `GET /v1/inventory/{sku}`.
    pub fn stocked(&self, sku: &str, qty: u64) -> Option<(String, f64, f64)> {
        let inv = self.get(&format!("/v1/inventory/{sku}")).json();
        let f = inv["facilities"]
            .as_array()?
            .iter()
            .find(|c| c["available"].as_u64().unwrap_or(0) >= qty)?;
        let id = f["facility_id"].as_str()?.to_string();
        let fac = self.get(&format!("/v1/facilities/{id}")).json();
        Some((id, fac["lat"].as_f64()?, fac["lon"].as_f64()?))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = s.stop();
        }
        self.core.shutdown();
    }
}

/// An order body.
pub fn order(id: &str, lat: f64, lon: f64, lines: &[(&str, i64)]) -> Value {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(s, q)| serde_json::json!({"sku": s, "qty": q}))
        .collect();
    serde_json::json!({"order_id": id, "channel": "web", "ship_to": {"lat": lat, "lon": lon}, "service_level": "standard", "lines": lines})
}

/// The full core state at a quiet point: every cell, order, desk and
/// facility as the actors hold them, and the idempotency tables (order,
/// receipt and adjustment ids), as one comparable text.
pub fn full_state(core: &Core) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime for the snapshot");
    let core: &Orchestrator = match core {
        Core::Shells(o) => o,
        // The shards' orders, cells, holds and desks (their facilities
        // move with the wall clock's capacity windows).
        Core::Host(h) => {
            let shards = rt
                .block_on(h.core().host().read_all(|s| {
                    let mut orders: Vec<String> = s.orders().map(|o| format!("{o:?}")).collect();
                    orders.sort();
                    let mut cells: Vec<String> =
                        s.cells().map(|(k, c)| format!("{k:?} {c:?}")).collect();
                    cells.sort();
                    let mut holds: Vec<String> = s.holds().map(|h| format!("{h:?}")).collect();
                    holds.sort();
                    let mut desks: Vec<String> =
                        s.desks().map(|(k, d)| format!("{k:?} {d:?}")).collect();
                    desks.sort();
                    format!("orders {orders:?}\ncells {cells:?}\nholds {holds:?}\ndesks {desks:?}")
                }))
                .expect("read the shards");
            return shards.join("\n");
        }
    };
    let s = rt.block_on(core.states());
    format!(
        "cells {:?}\norders {:?}\ndesks {:?}\nfacilities {:?}\nkeys {:?}",
        s.cells,
        s.orders,
        s.desks,
        s.facilities,
        core.idempotency_keys()
    )
}

/// Asserts an error answer: the status, JSON content type and exactly
/// `{"error": {"code", "message"}}` with a snake_case code.
pub fn assert_error_body(r: &Resp, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text());
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "{what}: content-type {:?}",
        r.header("content-type")
    );
    let v: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {:?}", r.text()));
    let keys: Vec<&String> = v
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec!["error"], "{what}: {v}");
    let code = v["error"]["code"].as_str().unwrap_or("");
    assert!(
        !code.is_empty()
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
        "{what}: code {code:?}"
    );
    assert!(
        !v["error"]["message"].as_str().unwrap_or("").is_empty(),
        "{what}: {v}"
    );
}

/// Asserts two [`full_state`]s are equal, showing where they first differ.
pub fn assert_same_state(before: &str, now: &str, what: &str) {
    if before == now {
        return;
    }
    let at = before
        .bytes()
        .zip(now.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(before.len().min(now.len()));
    let from = at.saturating_sub(200);
    let show = |s: &str| {
        s.get(from..(at + 200).min(s.len()))
            .unwrap_or("")
            .to_string()
    };
    panic!(
        "{what} changed state at byte {at}:\n before: …{}…\n    now: …{}…",
        show(before),
        show(now)
    );
}

/// The test network with no wave timer: state moves only on requests.
pub fn quiet_config() -> Config {
    let mut cfg = config();
    cfg.runtime.wave_tick_ms = 3_600_000;
    cfg
}
