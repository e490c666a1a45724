//! The crash tests of events out: the real `orchestrator` binary (fsync),
//! driven over HTTP with orders (some refused), cancels, receipts, wave
//! releases and scans, with a webhook registered to a receiver in the test
//! before the first cut, then killed (`kill -9`) or power cut (every file
//! back to what the server recorded as durable in `ORCH_DURABLE_LOG`, with
//! a torn tail) several times, restarted on the same data directory.
//!
//! After the final restart, with the feed and the deliveries drained:
//! - every acknowledged change has its event in the feed exactly once;
//! - the feed's `seq` runs 1, 2, 3... across every restart, each order's
//!   `order_seq` 1, 2, 3..., and every event read from the feed before a
//!   cut is still there, same seq, same body;
//! - each order's events are exactly what its recovered state reports (so
//!   an in-flight request cut before its answer has its events if and
//!   only if the recovered state shows its change, and a refused request
//!   never has one);
//! - the receiver got every feed event of its types at least once, each
//!   with a valid signature and the feed's exact body, nothing that is not
//!   in the feed, and each order's first deliveries in `order_seq` order.

mod crash_common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crash_common::{free_port, power_cut, request, signal, start, Cut, Setup};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Cuts per test by default (`ORCH_CRASH_CUTS` raises it); small, so the
/// suite stays fast.
const CUTS: usize = 3;

/// Concurrent clients.
const WORKERS: usize = 4;

/// The webhook's id and signing secret.
const HOOK: &str = "crash-hook";
const SECRET: &str = "whsec-crash-secret";

/// The types the webhook takes (not every type: the filter is part of
/// what is checked).
const HOOK_TYPES: &[&str] = &[
    "order.placed",
    "order.backordered",
    "order.cancelled",
    "fulfillment.routed",
    "fulfillment.picked",
    "fulfillment.shipped",
];

/// One scan the test sent (before its answer came).
#[derive(Clone)]
struct SentScan {
    order_id: String,
    fid: String,
    kind: &'static str,
    sku: String,
    qty: u64,
}

/// What the test sent and what the server acknowledged or refused.
#[derive(Default)]
struct Book {
    /// Every order id sent with a valid body, answered or not.
    sent: BTreeSet<String>,
    /// Orders answered 201 or 200.
    placed: Vec<String>,
    /// Order ids refused (422): they never exist.
    refused: BTreeSet<String>,
    /// Cancels answered 200.
    cancelled: BTreeSet<String>,
    /// Cancels answered `409 already_shipped`: the order is never cancelled.
    cancel_refused: BTreeSet<String>,
    /// Every scan sent, by event id.
    scans: BTreeMap<String, SentScan>,
    /// Scans answered `applied`.
    applied: BTreeSet<String>,
    /// Fulfillments whose every pick task of an acknowledged wave was
    /// applied: each is fully picked.
    fully_picked: BTreeSet<String>,
    /// Fulfillment ids of acknowledged wave releases.
    released: BTreeSet<String>,
}

/// One request the receiver took.
struct Arrival {
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    /// Answered 200 (else 500).
    ok: bool,
}

/// The webhook receiver: keeps every request in arrival order, answers
/// 500 to the first attempt of about one event in 12 (a retry follows),
/// 200 otherwise.
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Arrival>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let failed = Arc::new(Mutex::new(HashSet::new()));
        let g = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (g, f) = (g.clone(), failed.clone());
                std::thread::spawn(move || serve(conn, &g, &f));
            }
        });
        Receiver { addr, got }
    }
}

/// HTTP/1.1 with keep-alive: one request after another on a connection.
fn serve(conn: TcpStream, got: &Mutex<Vec<Arrival>>, failed: &Mutex<HashSet<String>>) {
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
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
        let id = headers.get("webhook-id").cloned().unwrap_or_default();
        let fail =
            id.bytes().map(u32::from).sum::<u32>() % 12 == 0 && failed.lock().unwrap().insert(id);
        got.lock().unwrap().push(Arrival {
            headers,
            body,
            ok: !fail,
        });
        let status = if fail {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let answer = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn feed_and_webhooks_survive_kill_minus_nine() {
    run(Cut::Kill, "");
}

#[test]
fn feed_and_webhooks_survive_power_loss() {
    // Small segments and frequent snapshots, as in the journal's power-loss
    // test: the event store's coverage bounds every snapshot.
    run(
        Cut::PowerLoss,
        "segment_bytes_max = 16384\nsnapshot_interval_ms = 300\n",
    );
}

fn run(cut: Cut, durability_extra: &str) {
    let setup = Setup::new(cut, durability_extra);
    let (config, data) = (setup.config.clone(), setup.data.clone());
    let facilities = setup.facilities.clone();
    let durable_log = setup.durable_log.as_deref();
    let receiver = Receiver::start();
    let book = Arc::new(Mutex::new(Book::default()));
    // Every event read from the feed before a cut, by seq.
    let seen = Arc::new(Mutex::new(BTreeMap::<u64, Value>::new()));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let cuts = crash_common::cuts(CUTS);
    let mut after_snapshot = 0;
    let mut round = 0;
    let (server, addr) = loop {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut server = start(&config, addr, durable_log);
        if round == 0 {
            let body = json!({"url": format!("http://{}/hook", receiver.addr),
                              "secret": SECRET, "types": HOOK_TYPES});
            let (status, v) =
                request(addr, "PUT", &format!("/v1/webhooks/{HOOK}"), Some(&body)).unwrap();
            assert_eq!(status, 201, "the webhook registration: {v}");
        }
        if round == cuts {
            break (server, addr);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (book, stop, facilities) = (book.clone(), stop.clone(), facilities.clone());
                std::thread::spawn(move || drive(addr, round, w, &book, &stop, &facilities))
            })
            .collect();
        let reader = {
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || read_feed(addr, &seen, &stop))
        };
        std::thread::sleep(Duration::from_millis(rng.random_range(400..1200)));
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
            // The process freezes at the cut; answers sent before count.
            signal(&server.child, "-STOP");
            std::thread::sleep(Duration::from_millis(300));
        }
        server.child.kill().expect("SIGKILL");
        let _ = server.child.wait();
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join()
                .expect("a client failed on an answer (its panic is above)");
        }
        let conflicts = reader.join().unwrap();
        assert!(
            conflicts.is_empty(),
            "the feed served {} events read before a cut with another body after the restart; \
             the first: {:?}",
            conflicts.len(),
            conflicts.first()
        );
        if let Some(log) = durable_log {
            power_cut(&data, log, &mut rng);
        }
        round += 1;
    };
    let (feed, states) = settled(addr, &book.lock().unwrap());
    let book = book.lock().unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        book.placed.len() > 30
            && !book.cancelled.is_empty()
            && !book.applied.is_empty()
            && !book.refused.is_empty(),
        "too little traffic to mean anything: {} orders, {} cancels, {} scans, {} refused",
        book.placed.len(),
        book.cancelled.len(),
        book.applied.len(),
        book.refused.len()
    );
    check_feed_numbering(&feed);
    check_seen_survived(&feed, &seen);
    let keys = check_exactly_once(&feed);
    check_acknowledged(&book, &keys);
    check_against_state(&book, &feed, &states);
    let arrivals = wait_for_deliveries(addr, &receiver, &feed);
    let (refused, repeated) = check_deliveries(&arrivals, &feed);
    assert!(refused > 0, "the receiver never made a delivery fail");
    signal(&server.child, "-TERM");
    eprintln!(
        "{cuts} {}: {} events in the feed ({} read before a cut), {} orders, {} cancels, \
         {} scans acknowledged, {} refused orders, {} webhook requests ({refused} answered \
         500, {repeated} events delivered again)",
        if cut == Cut::Kill {
            "kills".to_string()
        } else {
            format!("power cuts ({after_snapshot} right after a snapshot)")
        },
        feed.len(),
        seen.len(),
        book.placed.len(),
        book.cancelled.len(),
        book.applied.len(),
        book.refused.len(),
        arrivals.len()
    );
    drop(server);
}

/// Drives traffic until `stop` or until the server stops answering.
fn drive(
    addr: SocketAddr,
    round: usize,
    worker: usize,
    book: &Mutex<Book>,
    stop: &AtomicBool,
    facilities: &[String],
) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64((round * 10 + worker) as u64 + 1000);
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let choice = rng.random_range(0..20);
        let result = if choice < 9 {
            place(addr, book, &format!("e{round}-{worker}-{n}"), &mut rng)
        } else if choice < 10 {
            // Refused: a line of quantity 0.
            let id = format!("bad{round}-{worker}-{n}");
            let mut body = order(&id, &mut rng);
            body["lines"][0]["qty"] = json!(0);
            request(addr, "POST", "/v1/orders", Some(&body)).map(|(status, v)| {
                assert_eq!(status, 422, "an order of quantity 0: {v}");
                book.lock().unwrap().refused.insert(id);
            })
        } else if choice < 12 {
            cancel(addr, book, &mut rng)
        } else if choice < 13 {
            let id = format!("erc{round}-{worker}-{n}");
            let body = json!({"receipts": [{"sku": format!("SKU-{:06}", rng.random_range(0..30)),
                "facility_id": facilities[rng.random_range(0..facilities.len())],
                "qty": 4, "receipt_id": id}]});
            request(addr, "POST", "/v1/inventory/receipts", Some(&body)).map(|_| ())
        } else {
            let f = &facilities[rng.random_range(0..facilities.len())];
            release_and_scan(addr, book, f, &mut rng)
        };
        if result.is_err() {
            return; // killed
        }
    }
}

fn order(id: &str, rng: &mut impl Rng) -> Value {
    let a = rng.random_range(0..30);
    let mut lines = vec![json!({"sku": format!("SKU-{a:06}"), "qty": rng.random_range(1..3)})];
    if rng.random_bool(0.3) {
        let b = (a + rng.random_range(1..29)) % 30;
        lines.push(json!({"sku": format!("SKU-{b:06}"), "qty": 1}));
    }
    json!({"order_id": id, "channel": "web", "ship_to": {"lat": 40.0, "lon": -90.0},
           "service_level": "standard", "lines": lines})
}

fn place(addr: SocketAddr, book: &Mutex<Book>, id: &str, rng: &mut impl Rng) -> Result<(), String> {
    let body = order(id, rng);
    book.lock().unwrap().sent.insert(id.to_string());
    let (status, v) = request(addr, "POST", "/v1/orders", Some(&body))?;
    match status {
        200 | 201 => book.lock().unwrap().placed.push(id.to_string()),
        // Full or not ready: not acknowledged, may or may not be there.
        429 | 503 => {}
        _ => panic!("placing {id}: {status} {v}"),
    }
    Ok(())
}

fn cancel(addr: SocketAddr, book: &Mutex<Book>, rng: &mut impl Rng) -> Result<(), String> {
    let id = {
        let b = book.lock().unwrap();
        if b.placed.is_empty() {
            return Ok(());
        }
        b.placed[rng.random_range(0..b.placed.len())].clone()
    };
    let (status, v) = request(addr, "POST", &format!("/v1/orders/{id}/cancel"), None)?;
    match (status, v["error"]["code"].as_str()) {
        (200, _) => {
            book.lock().unwrap().cancelled.insert(id);
        }
        (409, Some("already_shipped")) => {
            book.lock().unwrap().cancel_refused.insert(id);
        }
        (409, _) | (429, _) | (503, _) => {}
        (404, _) => panic!("acknowledged order {id} was lost: its cancel answered {v}"),
        _ => panic!("cancelling {id}: {status} {v}"),
    }
    Ok(())
}

/// Releases a wave at `facility`, then picks what it holds, and packs and
/// ships some of its fulfillments, in one scans request.
fn release_and_scan(
    addr: SocketAddr,
    book: &Mutex<Book>,
    facility: &str,
    rng: &mut impl Rng,
) -> Result<(), String> {
    let (status, wave) = request(
        addr,
        "POST",
        &format!("/v1/facilities/{facility}/waves/release"),
        None,
    )?;
    if status != 200 {
        return Ok(());
    }
    let fids: Vec<String> = wave["fulfillment_ids"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    book.lock().unwrap().released.extend(fids.iter().cloned());
    let mut scans: Vec<(String, Value)> = Vec::new();
    let mut picks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut b = book.lock().unwrap();
    for t in wave["pick_list"].as_array().cloned().unwrap_or_default() {
        let fid = t["fulfillment_id"].as_str().unwrap_or_default().to_string();
        let order_id = fid
            .rsplit_once('/')
            .map(|x| x.0.to_string())
            .unwrap_or_default();
        let sku = t["sku"].as_str().unwrap_or_default().to_string();
        let event_id = format!("epk-{}-{sku}", fid.replace('/', "_"));
        b.scans.insert(
            event_id.clone(),
            SentScan {
                order_id: order_id.clone(),
                fid: fid.clone(),
                kind: "pick",
                sku: sku.clone(),
                qty: t["qty"].as_u64().unwrap_or(0),
            },
        );
        picks.entry(fid.clone()).or_default().push(event_id.clone());
        scans.push((
            event_id.clone(),
            json!({"event_id": event_id, "kind": "pick", "order_id": order_id,
                   "fulfillment_id": fid, "facility_id": facility,
                   "sku": sku, "qty": t["qty"]}),
        ));
    }
    for fid in picks.keys() {
        if !rng.random_bool(0.5) {
            continue;
        }
        let order_id = fid
            .rsplit_once('/')
            .map(|x| x.0.to_string())
            .unwrap_or_default();
        for kind in ["pack", "ship"] {
            let event_id = format!("e{kind}-{}", fid.replace('/', "_"));
            b.scans.insert(
                event_id.clone(),
                SentScan {
                    order_id: order_id.clone(),
                    fid: fid.clone(),
                    kind,
                    sku: String::new(),
                    qty: 0,
                },
            );
            scans.push((
                event_id.clone(),
                json!({"event_id": event_id, "kind": kind, "order_id": order_id,
                       "fulfillment_id": fid, "facility_id": facility}),
            ));
        }
    }
    drop(b);
    if scans.is_empty() {
        return Ok(());
    }
    let events: Vec<Value> = scans.iter().map(|(_, e)| e.clone()).collect();
    let (status, answer) = request(addr, "POST", "/v1/scans", Some(&json!({"events": events})))?;
    if status != 200 {
        return Ok(());
    }
    let results = answer["results"].as_array().cloned().unwrap_or_default();
    let mut b = book.lock().unwrap();
    for ((id, _), r) in scans.iter().zip(&results) {
        if r["result"] == "applied" {
            b.applied.insert(id.clone());
        }
    }
    for (fid, ids) in &picks {
        if ids.iter().all(|id| b.applied.contains(id)) {
            b.fully_picked.insert(fid.clone());
        }
    }
    Ok(())
}

/// Reads the feed as it grows (long polls) into `seen` until `stop` or
/// the server is gone; answers the events served again under a seq read
/// before with another body (before, after).
fn read_feed(
    addr: SocketAddr,
    seen: &Mutex<BTreeMap<u64, Value>>,
    stop: &AtomicBool,
) -> Vec<(Value, Value)> {
    let mut conflicts = Vec::new();
    let mut after = 0;
    while !stop.load(Ordering::Relaxed) {
        let Ok((status, v)) = request(
            addr,
            "GET",
            &format!("/v1/events?after={after}&limit=1000&wait_s=1"),
            None,
        ) else {
            return conflicts;
        };
        if status != 200 {
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let mut seen = seen.lock().unwrap();
        for e in v["events"].as_array().cloned().unwrap_or_default() {
            let seq = e["seq"].as_u64().unwrap();
            match seen.get(&seq) {
                Some(old) if *old != e => conflicts.push((old.clone(), e)),
                Some(_) => {}
                None => {
                    seen.insert(seq, e);
                }
            }
        }
        after = v["next"].as_u64().unwrap_or(after);
    }
    conflicts
}

/// The whole feed once it stops growing (the restarted tail has derived
/// what recovery replayed).
fn drained_feed(addr: SocketAddr) -> Vec<Value> {
    let mut last: Option<Vec<Value>> = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut out: Vec<Value> = Vec::new();
        let mut after = 0;
        loop {
            let (status, v) = request(
                addr,
                "GET",
                &format!("/v1/events?after={after}&limit=1000"),
                None,
            )
            .unwrap();
            assert_eq!(status, 200, "reading the feed: {v}");
            let page = v["events"].as_array().cloned().unwrap_or_default();
            if page.is_empty() {
                break;
            }
            after = v["next"].as_u64().unwrap();
            out.extend(page);
        }
        if last.as_ref().is_some_and(|l| l.len() == out.len()) {
            return out;
        }
        assert!(Instant::now() < deadline, "the feed never settled");
        last = Some(out);
        std::thread::sleep(Duration::from_millis(700));
    }
}

/// `seq` 1, 2, 3... with matching ids; each order's `order_seq` 1, 2, 3...
fn check_feed_numbering(feed: &[Value]) {
    let mut per_order: BTreeMap<String, u64> = BTreeMap::new();
    for (i, e) in feed.iter().enumerate() {
        let seq = e["seq"].as_u64().unwrap();
        assert_eq!(
            seq,
            i as u64 + 1,
            "the feed's seq has a gap or goes back after a restart: {e}"
        );
        assert_eq!(e["id"], format!("evt-{seq:015}"), "{e}");
        if let Some(o) = e["order_id"].as_str() {
            let n = per_order.entry(o.to_string()).or_default();
            *n += 1;
            assert_eq!(
                e["order_seq"].as_u64(),
                Some(*n),
                "order {o}'s order_seq has a gap or repeats: {e}"
            );
        }
    }
}

/// Every event read from the feed before a cut is still there, the same.
fn check_seen_survived(feed: &[Value], seen: &BTreeMap<u64, Value>) {
    for (seq, before) in seen {
        let after = feed.get(*seq as usize - 1);
        assert_eq!(
            after,
            Some(before),
            "event {seq}, read from the feed before a cut, is not the same after the restart"
        );
    }
}

/// An event's key: order, type and fulfillment.
type Key = (String, String, String);

fn key(e: &Value) -> Option<Key> {
    Some((
        e["order_id"].as_str()?.to_string(),
        e["type"].as_str()?.to_string(),
        e["data"]["fulfillment_id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

/// No change reported twice; answers the keys of the feed.
fn check_exactly_once(feed: &[Value]) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    for e in feed {
        if let Some(k) = key(e) {
            assert!(keys.insert(k.clone()), "reported twice: {k:?}: {e}");
        }
    }
    keys
}

fn k(order: &str, kind: &str, fid: &str) -> Key {
    (order.to_string(), kind.to_string(), fid.to_string())
}

/// Every acknowledged change has its event.
fn check_acknowledged(book: &Book, keys: &BTreeSet<Key>) {
    for id in &book.placed {
        assert!(
            keys.contains(&k(id, "order.placed", "")),
            "acknowledged order {id} has no order.placed in the feed"
        );
    }
    for id in &book.cancelled {
        assert!(
            keys.contains(&k(id, "order.cancelled", "")),
            "acknowledged cancel of {id} has no order.cancelled in the feed"
        );
    }
    for fid in &book.released {
        let order = fid.rsplit_once('/').unwrap().0;
        assert!(
            keys.contains(&k(order, "fulfillment.released", fid)),
            "acknowledged wave release of {fid} has no fulfillment.released in the feed"
        );
    }
    for fid in &book.fully_picked {
        let order = fid.rsplit_once('/').unwrap().0;
        assert!(
            keys.contains(&k(order, "fulfillment.picked", fid)),
            "acknowledged picks of {fid} have no fulfillment.picked in the feed"
        );
    }
    for id in &book.applied {
        let s = &book.scans[id];
        let kind = match s.kind {
            "pack" => "fulfillment.packed",
            "ship" => "fulfillment.shipped",
            _ => continue,
        };
        assert!(
            keys.contains(&k(&s.order_id, kind, &s.fid)),
            "acknowledged scan {id} has no {kind} in the feed"
        );
    }
}

/// The feed and the recovered state of every order it or the book names,
/// read while neither moves: timers (a wave's longest wait) still change
/// orders after the restart, and their events follow a moment later. The
/// states are taken between two readings of the feed that agree.
fn settled(addr: SocketAddr, book: &Book) -> (Vec<Value>, BTreeMap<String, Option<Value>>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let before = drained_feed(addr);
        let ids: BTreeSet<String> = book
            .sent
            .iter()
            .chain(&book.refused)
            .cloned()
            .chain(
                before
                    .iter()
                    .filter_map(|e| Some(e["order_id"].as_str()?.to_string())),
            )
            .collect();
        let mut states = BTreeMap::new();
        for id in ids {
            let (status, v) = request(addr, "GET", &format!("/v1/orders/{id}"), None).unwrap();
            assert!(
                status == 200 || status == 404,
                "reading order {id}: {status} {v}"
            );
            states.insert(id, (status == 200).then_some(v));
        }
        std::thread::sleep(Duration::from_millis(700));
        let after = drained_feed(addr);
        if after.len() == before.len() {
            return (after, states);
        }
        assert!(Instant::now() < deadline, "the orders never settled");
    }
}

/// Each order's events are exactly what its recovered state reports:
/// nothing for an order that is not there (refused, or in flight and not
/// durable), nothing for a change its timeline does not show.
fn check_against_state(book: &Book, feed: &[Value], states: &BTreeMap<String, Option<Value>>) {
    let mut by_order: BTreeMap<String, BTreeSet<Key>> = BTreeMap::new();
    for e in feed {
        if let Some(k) = key(e) {
            by_order.entry(k.0.clone()).or_default().insert(k);
        }
    }
    for (id, state) in states {
        let got = by_order.remove(id).unwrap_or_default();
        let Some(v) = state else {
            assert!(
                !book.placed.contains(id),
                "acknowledged order {id} was lost"
            );
            assert!(
                got.is_empty(),
                "events for order {id}, which does not exist: {got:?}"
            );
            continue;
        };
        assert!(!book.refused.contains(id), "refused order {id} exists: {v}");
        if book.cancel_refused.contains(id) {
            assert_ne!(v["status"], "cancelled", "refused cancel of {id} happened");
        }
        let want = expected_keys(id, v, book);
        assert_eq!(
            got, want,
            "order {id}'s events differ from its recovered state {v}"
        );
    }
}

/// The events an order's state reports (`GET /v1/orders/{id}`).
fn expected_keys(id: &str, v: &Value, book: &Book) -> BTreeSet<Key> {
    let mut want = BTreeSet::new();
    let timeline = v["timeline"].as_array().cloned().unwrap_or_default();
    let routed = timeline.iter().any(|t| {
        matches!(
            t["event"].as_str(),
            Some("routed" | "rejected" | "backordered")
        )
    });
    if routed {
        want.insert(k(id, "order.placed", ""));
    }
    let mut picked: BTreeMap<(String, String), u64> = BTreeMap::new();
    for t in &timeline {
        let fid = t["fulfillment_id"].as_str().unwrap_or_default();
        let kind = match t["event"].as_str().unwrap_or_default() {
            "routed" | "backorder_filled" => "fulfillment.routed",
            "backordered" => "order.backordered",
            "wave_released" => "fulfillment.released",
            "pack" => "fulfillment.packed",
            "ship" => "fulfillment.shipped",
            "cancelled" => "order.cancelled",
            "pick" => {
                let Some(s) = t["event_id"].as_str().and_then(|e| book.scans.get(e)) else {
                    panic!("order {id}: a pick the test never sent: {t}");
                };
                *picked.entry((s.fid.clone(), s.sku.clone())).or_default() += s.qty;
                continue;
            }
            _ => continue,
        };
        want.insert(k(id, kind, fid));
    }
    for f in v["fulfillments"].as_array().cloned().unwrap_or_default() {
        let fid = f["fulfillment_id"].as_str().unwrap().to_string();
        let lines = f["lines"].as_array().cloned().unwrap_or_default();
        let all = lines.iter().all(|l| {
            let sku = l["sku"].as_str().unwrap().to_string();
            picked.get(&(fid.clone(), sku)).copied() == l["qty"].as_u64()
        });
        if all && !lines.is_empty() {
            want.insert(k(id, "fulfillment.picked", &fid));
        }
    }
    want
}

/// Waits until the webhook's cursor is at the feed's end and the receiver
/// took every event of its types; answers what the receiver took.
fn wait_for_deliveries(addr: SocketAddr, receiver: &Receiver, feed: &[Value]) -> Vec<Arrival> {
    let last = feed.last().map_or(0, |e| e["seq"].as_u64().unwrap());
    let want: BTreeSet<String> = feed
        .iter()
        .filter(|e| HOOK_TYPES.contains(&e["type"].as_str().unwrap()))
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, v) = request(addr, "GET", "/v1/webhooks", None).unwrap();
        assert_eq!(status, 200, "{v}");
        let hook = &v["webhooks"][0];
        assert_eq!(
            hook["webhook_id"], HOOK,
            "the acknowledged webhook registration was lost: {v}"
        );
        let cursor = hook["cursor"].as_u64().unwrap_or(0);
        let got = receiver.got.lock().unwrap();
        let delivered: BTreeSet<String> = got
            .iter()
            .filter(|a| a.ok)
            .filter_map(|a| a.headers.get("webhook-id").cloned())
            .collect();
        let missing: Vec<&String> = want.difference(&delivered).collect();
        if cursor >= last && missing.is_empty() {
            drop(got);
            return std::mem::take(&mut *receiver.got.lock().unwrap());
        }
        // The cursor moves past an event only once it was delivered (the
        // receiver keeps a request before it answers): with the cursor at
        // the end, a missing event is lost, not late.
        assert!(
            Instant::now() < deadline && cursor < last,
            "webhook deliveries lost: cursor {cursor} of {last}, {} events never delivered \
             (first {:?}); the webhook: {hook}",
            missing.len(),
            missing.first()
        );
        drop(got);
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every delivery is signed over the feed's exact event, of the hook's
/// types, and each order's first deliveries come in `order_seq` order.
/// Answers how many attempts the receiver refused and how many events it
/// took more than once.
fn check_deliveries(arrivals: &[Arrival], feed: &[Value]) -> (usize, usize) {
    let mut refused = 0;
    let mut repeated = BTreeSet::new();
    let mut last: BTreeMap<String, u64> = BTreeMap::new();
    let mut first = BTreeSet::new();
    for a in arrivals {
        let id = &a.headers["webhook-id"];
        let ts: u64 = a.headers["webhook-timestamp"].parse().unwrap();
        let sig = &a.headers["webhook-signature"];
        assert!(
            orch_events::sign::verify(SECRET, id, ts, &a.body, sig),
            "bad signature on a delivery of {id}"
        );
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(v["id"], id.as_str());
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(
            feed.get(seq as usize - 1),
            Some(&v),
            "delivered event {id} is not the feed's event {seq} after the restarts"
        );
        assert!(
            HOOK_TYPES.contains(&v["type"].as_str().unwrap()),
            "delivered an event of a type the webhook did not ask for: {v}"
        );
        if !a.ok {
            refused += 1;
            continue;
        }
        if !first.insert(id.clone()) {
            repeated.insert(id.clone());
            continue;
        }
        if let (Some(o), Some(n)) = (v["order_id"].as_str(), v["order_seq"].as_u64()) {
            let prev = last.insert(o.to_string(), n).unwrap_or(0);
            assert!(
                n > prev,
                "order {o}'s event {n} was first delivered after its event {prev}"
            );
        }
    }
    (refused, repeated.len())
}
