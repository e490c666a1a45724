//! Overload in-process: two threads offer placements (and receipts, some
//! repeated) to the engine host as fast as they can for three seconds,
//! far beyond what it can take; for the second half the disk stalls (every
//! write fails and is retried), the overload a fast core still meets. The
//! excess must be answered `Overloaded`, memory must stay within the
//! stated bounds, and at the end every invariant must hold, checked
//! against the test's own book of what it sent and had acknowledged.
//!
//! The memory bounds (RSS from /proc): while the disk works, growth of at
//! most 96 MiB plus 16 KiB per acknowledged order (the orders' own state;
//! the old core measured about 8 KiB per resident order); while it
//! stalls, at most 64 MiB however much is offered, since admitted but
//! unanswered work is bounded by `in_flight_max` per shard (2 x 4,096).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use orch_actors::audit::audit;
use orch_actors::backorder::DeskState;
use orch_actors::cell::CellState;
use orch_actors::order::{OrderLine, OrderState, PlaceRequest};
use orch_actors::{CellKey, FacilityIdx, OrderNo, SkuIdx};
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode, ServiceLevel};
use orch_engine::msg::StockAnswer;
use orch_engine::{ActorRef, Answer, Msg, ShardLimits};
use orch_journal::{FaultInjector, JournalOptions, Mode};
use orch_runtime::host::{Clock, Host, HostOptions, Pending, PlaceRefusal};
use orch_runtime::persist::Durability;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const OFFER_FOR: Duration = Duration::from_secs(3);

fn rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// What one offering thread sent and had acknowledged.
#[derive(Default)]
struct Book {
    placed: Vec<(OrderNo, PlaceRequest)>,
    /// Units received per cell, from receipts answered applied.
    received: HashMap<CellKey, u64>,
    overloaded: u64,
    offered: u64,
    refused_other: Vec<String>,
}

enum Sent {
    Order(OrderNo, PlaceRequest, Pending),
    Receipt(CellKey, u32, Pending),
}

fn offer_for(h: &Host, cfg: &Config, seed: u64, until: Instant, receipts: &AtomicU64) -> Book {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut book = Book::default();
    let mut sent = Vec::new();
    let skus = cfg.network.skus.len() as u32;
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        book.offered += 1;
        if n.is_multiple_of(50) {
            // A receipt; every third one repeats an earlier id. The id
            // decides the cell and quantity, so a repeat is the same receipt.
            let id = match receipts.load(Ordering::Relaxed) {
                k if k > 0 && n.is_multiple_of(150) => rng.random_range(0..k),
                _ => receipts.fetch_add(1, Ordering::Relaxed),
            };
            let stock = &cfg.network.stock;
            let s = &stock[(id as usize).wrapping_mul(7_919) % stock.len()];
            let key = CellKey {
                sku: SkuIdx(s.sku),
                facility: FacilityIdx(s.facility),
            };
            let qty = 5;
            let rid: Arc<str> = format!("r-{id}").into();
            match h.offer(ActorRef::Desk(key.sku), |reply| Msg::Receive {
                facility: key.facility,
                qty,
                restock: false,
                receipt_id: Some(rid),
                reply: Some(reply),
            }) {
                Ok(p) => sent.push(Sent::Receipt(key, qty, p)),
                Err(_) => book.overloaded += 1,
            }
            continue;
        }
        let first = rng.random_range(0..skus);
        let mut lines = vec![OrderLine {
            sku: SkuIdx(first),
            qty: rng.random_range(1..=3),
        }];
        if rng.random_bool(0.5) {
            lines.push(OrderLine {
                sku: SkuIdx((first + rng.random_range(1..skus)) % skus),
                qty: rng.random_range(1..=3),
            });
        }
        let req = PlaceRequest {
            order_id: format!("o-{seed}-{n}").into(),
            channel: "web".into(),
            lat: rng.random_range(30.0..45.0),
            lon: rng.random_range(-120.0..-75.0),
            service_level: ServiceLevel::Standard,
            lines,
            allow_backorder: true,
        };
        match h.place(req.clone()) {
            Ok((no, p)) => sent.push(Sent::Order(no, req, p)),
            Err(PlaceRefusal::Overloaded) => book.overloaded += 1,
            Err(PlaceRefusal::Invalid(e)) => book.refused_other.push(e),
        }
    }
    for s in sent {
        match s {
            Sent::Order(no, req, p) => match p.blocking_recv() {
                Ok(Ok(Answer::Placed(Ok(n)))) if n == no => book.placed.push((no, req)),
                other => book.refused_other.push(format!("{no:?}: {other:?}")),
            },
            Sent::Receipt(key, qty, p) => match p.blocking_recv() {
                Ok(Ok(Answer::Stock(StockAnswer::Applied { .. }))) => {
                    *book.received.entry(key).or_default() += u64::from(qty)
                }
                Ok(Ok(Answer::Stock(StockAnswer::Duplicate))) => {}
                other => book.refused_other.push(format!("receipt: {other:?}")),
            },
        }
    }
    book
}

type ShardState = (
    Vec<OrderState>,
    Vec<(CellKey, CellState)>,
    Vec<(SkuIdx, DeskState)>,
    usize,
);

#[test]
fn offered_far_beyond_capacity_the_host_refuses_the_excess_within_bounded_memory() {
    let mut cfg = Config::with_network(generate(&Bf1Params {
        scale: 0.01,
        seed: 7,
    }));
    cfg.runtime.workers = 2;
    let dir = tempfile::tempdir().unwrap();
    let opts = JournalOptions {
        mode: Mode::Fsync,
        retry_failed_batches: true,
        ..JournalOptions::default()
    };
    let fault = FaultInjector::new();
    let opts = JournalOptions {
        fault: Some(fault.clone()),
        ..opts
    };
    let durability =
        Durability::open_with(DurabilityMode::Fsync, dir.path().join("journal"), opts).unwrap();
    let options = HostOptions {
        shards: 2,
        limits: ShardLimits {
            inbox_max: 1_024,
            tick_max: 256,
            seen_ids_max: 100_000,
        },
        channel_max: 1_024,
        in_flight_max: 4_096,
        idle_tick: Duration::from_millis(20),
    };
    let h = Host::start(&cfg, options, Arc::new(durability.0), Clock::wall(), None).unwrap();
    let rss_start = rss_bytes();
    let peak = Arc::new(AtomicU64::new(rss_start));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                peak.fetch_max(rss_bytes(), Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let until = Instant::now() + OFFER_FOR;
    let receipts = Arc::new(AtomicU64::new(0));
    let (mut rss_stall, mut peak_works) = (0, 0);
    let books: Vec<Book> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|seed| {
                let (h, cfg, receipts) = (&h, &cfg, receipts.clone());
                s.spawn(move || offer_for(h, cfg, seed, until, &receipts))
            })
            .collect();
        std::thread::sleep(OFFER_FOR / 2);
        rss_stall = rss_bytes();
        peak_works = peak.swap(rss_stall, Ordering::AcqRel).max(rss_stall);
        fault.fail_writes(true);
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        fault.fail_writes(false);
        hs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    stop.store(true, Ordering::Release);
    sampler.join().unwrap();
    let peak_stall = peak.load(Ordering::Acquire);

    let refused: Vec<&String> = books.iter().flat_map(|b| &b.refused_other).collect();
    assert!(
        refused.is_empty(),
        "{} refused other than overloaded, first: {:?}",
        refused.len(),
        &refused[..refused.len().min(5)]
    );
    let offered: u64 = books.iter().map(|b| b.offered).sum();
    let overloaded: u64 = books.iter().map(|b| b.overloaded).sum();
    let placed: Vec<&(OrderNo, PlaceRequest)> = books.iter().flat_map(|b| &b.placed).collect();
    println!(
        "offered {offered}, overloaded {overloaded}, placed {}; RSS {} MiB, peak {} MiB \
         while the disk works, {} MiB at the stall, peak {} MiB while it stalls",
        placed.len(),
        rss_start >> 20,
        peak_works >> 20,
        rss_stall >> 20,
        peak_stall >> 20
    );
    assert!(
        overloaded > offered / 2,
        "the excess was not refused: {overloaded} of {offered}"
    );
    assert!(!placed.is_empty());
    let bound = (96 << 20) + 16 * 1024 * placed.len() as u64;
    let grew = peak_works.saturating_sub(rss_start);
    assert!(
        grew <= bound,
        "RSS grew {} MiB, bound {} MiB",
        grew >> 20,
        bound >> 20
    );
    let grew = peak_stall.saturating_sub(rss_stall);
    assert!(
        grew <= 64 << 20,
        "RSS grew {} MiB while the disk stalled",
        grew >> 20
    );

    // Every invariant at the end, from the book.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let per_shard: Vec<ShardState> = rt
        .block_on(h.read_all(|s| {
            (
                s.orders().cloned().collect(),
                s.cells().map(|(k, c)| (k, c.clone())).collect(),
                s.desks().map(|(k, d)| (k, d.clone())).collect(),
                s.busy_actors(),
            )
        }))
        .unwrap();
    let (mut orders, mut cells, mut desks) = (Vec::new(), Vec::new(), Vec::new());
    for (o, c, d, busy) in per_shard {
        assert_eq!(busy, 0, "an actor still waits after every answer");
        orders.extend(o);
        cells.extend(c);
        desks.extend(d);
    }
    // No acknowledged order lost, nothing refused placed.
    let by_no: HashMap<OrderNo, &OrderState> = orders.iter().map(|o| (o.no(), o)).collect();
    assert_eq!(
        orders.len(),
        placed.len(),
        "orders beyond the acknowledged ones"
    );
    for (no, req) in &placed {
        let o = by_no
            .get(no)
            .unwrap_or_else(|| panic!("acknowledged {no:?} lost"));
        assert_eq!(o.request(), req);
    }
    // Conservation per SKU: on hand = initial + receipts applied; ordered
    // units (book) = reserved at cells + still waiting in backorders.
    let mut on_hand: HashMap<SkuIdx, i64> = HashMap::new();
    let mut reserved: HashMap<SkuIdx, i64> = HashMap::new();
    for (k, c) in &cells {
        assert!(c.reserved() <= c.on_hand(), "oversold {k:?}");
        *on_hand.entry(k.sku).or_default() += i64::from(c.on_hand());
        *reserved.entry(k.sku).or_default() += i64::from(c.reserved());
    }
    let mut expect_on_hand: HashMap<SkuIdx, i64> = HashMap::new();
    for s in &cfg.network.stock {
        *expect_on_hand.entry(SkuIdx(s.sku)).or_default() += i64::from(s.on_hand);
    }
    for b in &books {
        for (k, q) in &b.received {
            *expect_on_hand.entry(k.sku).or_default() += *q as i64;
        }
    }
    let mut ordered: HashMap<SkuIdx, i64> = HashMap::new();
    let mut waiting: HashMap<SkuIdx, i64> = HashMap::new();
    for (no, req) in &placed {
        let o = by_no[no];
        for (i, l) in req.lines.iter().enumerate() {
            *ordered.entry(l.sku).or_default() += i64::from(l.qty);
            if o.backordered().contains(&(i as u16)) {
                *waiting.entry(l.sku).or_default() += i64::from(l.qty);
            }
        }
    }
    for sku in (0..cfg.network.skus.len() as u32).map(SkuIdx) {
        let get = |m: &HashMap<SkuIdx, i64>| m.get(&sku).copied().unwrap_or(0);
        assert_eq!(get(&on_hand), get(&expect_on_hand), "on hand of {sku:?}");
        assert_eq!(
            get(&ordered),
            get(&reserved) + get(&waiting),
            "ordered = reserved + waiting for {sku:?}"
        );
    }
    let report = audit(
        cells.iter().map(|(k, c)| (*k, c)),
        orders.iter(),
        desks.iter().map(|(k, d)| (*k, d)),
    );
    assert!(report.passed(), "{}", report.failures());
    assert!(h.stats().in_flight.iter().all(|&n| n == 0));
    h.shutdown();
}
