//! Journal and recovery figures for the end state of a BF-1 run:
//! places N BF-1 orders (1,000-order batches), releases the waves, takes
//! half of the fulfillments through pick, pack, ship and delivery, then
//! restarts on the same data dir twice: from the journal alone, and from a
//! snapshot (a whole one, then a delta after a little more traffic). Prints
//! what it measured.
//!
//! `cargo run --release -p orch-runtime --example recovery_figures -- [ORDERS] [SCALE] [MODE]`

use std::time::Instant;

use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode};
use orch_runtime::dto::{LineInput, PlaceOrder, ScanInput, ShipTo};
use orch_runtime::Orchestrator;
use rand::{Rng, SeedableRng};

/// Waits until the event store covers every journal record (a checkpoint
/// snapshots no further than it, waiting 2 s at most), so that the
/// snapshot figures cover the whole journal; answers the wait.
fn events_caught_up(core: &Orchestrator) -> f64 {
    let t = Instant::now();
    let d = &core.shared().durability;
    while d.events_covered().get() < d.stats().last_seq {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    t.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let mode = args
        .get(3)
        .and_then(|m| DurabilityMode::parse(m))
        .unwrap_or(DurabilityMode::Fsync);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfg = Config::with_network(generate(&Bf1Params { scale, seed: 42 }));
    cfg.durability.mode = mode;
    cfg.durability.data_dir = dir.path().display().to_string();
    cfg.durability.snapshot_interval_ms = u64::MAX / 2; // snapshots only when asked
    cfg.durability.snapshot_events_max = u64::MAX / 2;
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!(
        "BF-1 scale {scale}, {n} orders, durability {}, {cores} cores",
        mode.as_str()
    );

    // A simple BF-1-like stream: Zipf-ish SKU choice, 1-3 lines.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let skus = cfg.network.skus.len();
    let orders: Vec<PlaceOrder> = (0..n)
        .map(|i| {
            let lines = (0..rng.random_range(1..=3))
                .map(|k| {
                    let r = ((skus as f64).powf(rng.random::<f64>()) as usize).min(skus - 1);
                    LineInput {
                        sku: cfg.network.skus[(r + k * 7) % skus].clone(),
                        qty: 1,
                    }
                })
                .collect::<Vec<_>>();
            let mut lines = lines;
            lines.sort_by(|a, b| a.sku.cmp(&b.sku));
            lines.dedup_by(|a, b| a.sku == b.sku);
            PlaceOrder {
                order_id: format!("o-{i}"),
                channel: "web".into(),
                ship_to: ShipTo {
                    lat: rng.random_range(26.0..48.0),
                    lon: rng.random_range(-123.0..-68.0),
                },
                service_level: "standard".into(),
                lines,
                allow_backorder: None,
            }
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let core = Orchestrator::try_start(&cfg).expect("start");
    let t = Instant::now();
    rt.block_on(async {
        for chunk in orders.chunks(1_000) {
            for r in core.place_batch(chunk).await {
                r.expect("placed");
            }
        }
    });
    let place_s = t.elapsed().as_secs_f64();
    let s = core.journal_stats();
    println!(
        "placement: {:.0} orders/s; journal {} records, {:.1} MB, {} batches, {} fsyncs, mean batch {:.1} records",
        n as f64 / place_s,
        s.records,
        s.bytes as f64 / 1e6,
        s.batches,
        s.fsyncs,
        s.records as f64 / s.batches.max(1) as f64
    );
    println!(
        "journal during placement: {:.0} records/s, {:.1} MB/s, {:.0} fsyncs/s",
        s.records as f64 / place_s,
        s.bytes as f64 / 1e6 / place_s,
        s.fsyncs as f64 / place_s
    );
    rt.block_on(async {
        core.release_all_waves().await;
        let mut events = Vec::new();
        for (i, o) in orders.iter().enumerate().step_by(2) {
            let v = core.order(&o.order_id).await.expect("order");
            for f in v.fulfillments.iter().filter(|f| f.status == "released") {
                let ev = |kind: &str, n: usize| ScanInput {
                    event_id: format!("e{i}-{}-{kind}{n}", f.fulfillment_id.replace('/', "_")),
                    kind: kind.into(),
                    order_id: v.order_id.clone(),
                    fulfillment_id: f.fulfillment_id.clone(),
                    facility_id: f.facility_id.clone(),
                    ..Default::default()
                };
                for (k, l) in f.lines.iter().enumerate() {
                    let mut p = ev("pick", k);
                    p.sku = Some(l.sku.clone());
                    p.qty = Some(i64::from(l.qty));
                    events.push(p);
                }
                events.push(ev("pack", 0));
                let mut s = ev("ship", 0);
                s.carrier = Some("UPS".into());
                s.tracking = Some(format!("T{i}"));
                events.push(s);
                events.push(ev("delivered", 0));
            }
        }
        for chunk in events.chunks(5_000) {
            core.scans(chunk).await;
        }
    });
    let s = core.journal_stats();
    core.shutdown();
    drop(core);
    println!(
        "end state: {} journal records, {:.1} MB on disk",
        s.records,
        s.bytes as f64 / 1e6
    );

    let t = Instant::now();
    let core = Orchestrator::try_start(&cfg).expect("recover");
    let ready = t.elapsed().as_secs_f64();
    let info = core.recovery_info();
    println!(
        "recovery from the journal: ready in {:.2} s; {} events replayed from {} records in {:.2} s ({:.0} events/s)",
        ready,
        info.events,
        info.records,
        info.duration.as_secs_f64(),
        info.events as f64 / info.duration.as_secs_f64().max(1e-9)
    );
    println!(
        "events caught up with the journal {:.2} s after the start",
        events_caught_up(&core) + ready
    );
    let snap = core.checkpoint_now().expect("snapshot");
    println!(
        "snapshot (whole, the first after a start): {:.2} s, {} orders written (generation {}, seq {})",
        snap.duration.as_secs_f64(),
        snap.orders_written,
        snap.meta.generation,
        snap.meta.seq
    );
    // The next checkpoint after a little traffic writes what changed: the
    // chunks of 1,000 new orders and of 1,000 cancels.
    rt.block_on(async {
        let more: Vec<PlaceOrder> = orders[..1_000]
            .iter()
            .map(|o| PlaceOrder {
                order_id: format!("{}-again", o.order_id),
                ..o.clone()
            })
            .collect();
        for r in core.place_batch(&more).await {
            r.expect("placed");
        }
        // A peak's changes fall on recent orders: cancels of the newest.
        for o in orders.iter().rev().take(1_000) {
            let _ = core.cancel(&o.order_id).await;
        }
    });
    events_caught_up(&core);
    let delta = core.checkpoint_now().expect("snapshot");
    println!(
        "next snapshot (delta, after 1,000 placements and up to 1,000 cancels of the newest orders): {:.2} s, {} orders written, {} records replayed",
        delta.duration.as_secs_f64(),
        delta.orders_written,
        delta.records
    );
    core.shutdown();
    drop(core);
    let t = Instant::now();
    let core = Orchestrator::try_start(&cfg).expect("recover");
    println!(
        "recovery from the snapshot: ready in {:.2} s ({} records replayed after it)",
        t.elapsed().as_secs_f64(),
        core.recovery_info().records
    );
    core.shutdown();
}
