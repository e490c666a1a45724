//! Places the same stream of BF-1 orders through the bare state machines
//! (`World`, one thread) and through the actor runtime, and prints both
//! throughputs and their ratio (the actor overhead).
//!
//! `cargo run --release -p orch-benches --bin place_overhead -- [ORDERS] [SCALE]`
//! Durability: none (the journal is not wired into placement yet).

use std::time::Instant;

/// The same allocator as the `orchestrator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use orch_actors::order::PlaceRequest;
use orch_actors::sim::World;
use orch_config::bf1::{generate, Bf1Params};
use orch_config::Config;
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::Orchestrator;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let mode = args
        .get(3)
        .and_then(|m| orch_config::DurabilityMode::parse(m))
        .unwrap_or(orch_config::DurabilityMode::None);
    let mut cfg = Config::with_network(generate(&Bf1Params { scale, seed: 42 }));
    let data = std::env::temp_dir().join(format!("place-overhead-{}", std::process::id()));
    cfg.durability.mode = orch_config::DurabilityMode::None;
    let mut stream = Bf1Stream::new(&cfg.network, 1);
    let orders: Vec<_> = (0..n)
        .map(|i| stream.next_order(format!("o-{i}")))
        .collect();
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!(
        "BF-1 scale {scale}, {n} orders, {cores} cores; bare: no journal; actors: durability {}",
        mode.as_str()
    );

    // Bare state machines: the same validation and placement, no messages.
    let core = Orchestrator::start(&cfg);
    let requests: Vec<PlaceRequest> = orders
        .iter()
        .map(|o| core.validate_order(o).expect("valid order"))
        .collect();
    core.shutdown();
    let mut world = World::new(&cfg, orch_runtime::clock::now_ms());
    let t = Instant::now();
    let now = orch_runtime::clock::now_ms();
    for r in requests {
        world.place(r, now).expect("placed");
    }
    let bare = n as f64 / t.elapsed().as_secs_f64();
    println!("bare state machines: {bare:>12.0} orders/s (1 thread)");

    // Actors: the facade, 1,000-order batches, 4 batches in flight, in the
    // durability mode asked for (journal in a temporary directory).
    cfg.durability.mode = mode;
    cfg.durability.data_dir = data.display().to_string();
    let core = Orchestrator::start(&cfg);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let t = Instant::now();
    rt.block_on(async {
        let mut inflight = Vec::new();
        for chunk in orders.chunks(1_000) {
            let core = core.clone();
            let chunk = chunk.to_vec();
            inflight.push(tokio::spawn(async move {
                for r in core.place_batch(&chunk).await {
                    r.expect("placed");
                }
            }));
            if inflight.len() == 4 {
                inflight.remove(0).await.expect("batch");
            }
        }
        for h in inflight {
            h.await.expect("batch");
        }
    });
    let actors = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "actor runtime:       {actors:>12.0} orders/s ({} arbiters)",
        core.shared().arbiters().len()
    );
    println!("ratio actors/bare:   {:>12.2}", actors / bare);
    if mode != orch_config::DurabilityMode::None {
        let j = core.journal_stats();
        println!(
            "journal: {} records, {} batches, {} fsyncs, mean batch {:.1} records",
            j.records,
            j.batches,
            j.fsyncs,
            j.records as f64 / j.batches.max(1) as f64
        );
    }
    core.shutdown();
    let _ = std::fs::remove_dir_all(&data);
}
