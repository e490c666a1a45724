//! Places the same stream of BF-1 orders through the bare state machines
//! (`World`, one thread) and through the serial engine cluster (one
//! thread, no durability: the in-memory journal is durable at the end of
//! every tick), and prints both throughputs and their ratio: the cost of
//! the engine's messages, inboxes, ticks and views over direct calls.
//!
//! `cargo run --release -p orch-engine --example engine_vs_bare -- [ORDERS] [SCALE] [SHARDS] [ROUNDS]`
//!
//! Each round places the whole stream into a fresh `World` and a fresh
//! cluster; the best round of each is reported (the machine is shared).

use std::time::Instant;

/// The same allocator as the `orchestrator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use orch_actors::order::PlaceRequest;
use orch_actors::sim::World;
use orch_config::bf1::{generate, Bf1Params};
use orch_config::Config;
use orch_engine::cluster::{Cluster, ClusterOptions, PlaceRefusal};
use orch_engine::msg::Answer;
use orch_engine::ShardLimits;
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::Orchestrator;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let shards: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let rounds: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(3);
    let mut cfg = Config::with_network(generate(&Bf1Params { scale, seed: 42 }));
    cfg.durability.mode = orch_config::DurabilityMode::None;
    let mut stream = Bf1Stream::new(&cfg.network, 1);
    let orders: Vec<_> = (0..n)
        .map(|i| stream.next_order(format!("o-{i}")))
        .collect();
    // The facade's validation, once, outside the timed part.
    let core = Orchestrator::start(&cfg);
    let requests: Vec<PlaceRequest> = orders
        .iter()
        .map(|o| core.validate_order(o).expect("valid order"))
        .collect();
    core.shutdown();
    let now = orch_runtime::clock::now_ms();
    println!(
        "BF-1 scale {scale}, {n} orders, engine: {shards} shard(s) on one thread, durability none"
    );

    let (mut best_bare, mut best_engine) = (0f64, 0f64);
    for round in 1..=rounds {
        let reqs = requests.clone();
        let mut world = World::new(&cfg, now);
        let t = Instant::now();
        for r in reqs {
            world.place(r, now).expect("placed");
        }
        let bare = n as f64 / t.elapsed().as_secs_f64();

        let reqs = requests.clone();
        let limits = ShardLimits::default();
        let mut cluster = Cluster::new(
            &cfg,
            ClusterOptions {
                shards,
                seed: round as u64,
                limits,
                shuffle: false,
                keep_journal: false,
            },
            now,
        );
        let t = Instant::now();
        let mut placed = 0usize;
        let mut reqs = reqs.into_iter();
        let mut next = reqs.next();
        while next.is_some() {
            // Fill the inboxes to their bound, then run: admission as a try-send.
            while let Some(r) = next.take() {
                match cluster.offer_place(r) {
                    Ok(_) => next = reqs.next(),
                    Err(PlaceRefusal::Invalid(e)) => panic!("invalid order: {e}"),
                    Err(PlaceRefusal::Overloaded(r)) => {
                        next = Some(r);
                        break;
                    }
                }
            }
            cluster.run_until_quiescent();
            for (_, a) in cluster.take_answers() {
                match a {
                    Answer::Placed(Ok(_)) => placed += 1,
                    other => panic!("placement answered {other:?}"),
                }
            }
        }
        let engine = n as f64 / t.elapsed().as_secs_f64();
        assert_eq!(placed, n);
        assert!(cluster.anomalies().is_empty());
        println!(
            "round {round}: bare {bare:>10.0} orders/s, engine {engine:>10.0} orders/s, ratio {:.2} ({} ticks, {} journal entries)",
            engine / bare,
            cluster.ticks(),
            cluster.journaled()
        );
        best_bare = best_bare.max(bare);
        best_engine = best_engine.max(engine);
    }
    println!("bare state machines: {best_bare:>12.0} orders/s (best of {rounds})");
    println!("engine cluster:      {best_engine:>12.0} orders/s (best of {rounds})");
    println!("ratio engine/bare:   {:>12.2}", best_engine / best_bare);
}
