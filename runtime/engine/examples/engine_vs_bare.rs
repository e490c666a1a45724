//! Places the same stream of BF-1 orders through the bare state machines
//! (`World`, one thread) and through the serial engine cluster (one
//! thread, no durability: the in-memory journal is durable at the end of
//! every tick), and prints both throughputs and their ratio: the cost of
//! the engine's messages, inboxes, ticks and views over direct calls.
//!
//! `cargo run --release -p orch-engine --example engine_vs_bare -- [ORDERS] [SCALE] [SHARDS] [ROUNDS] [both|bare|engine]`
//!
//! Each round places the whole stream into a fresh `World` and a fresh
//! cluster (odd rounds `World` first, even rounds the cluster first); the
//! best round of each is reported. Rates are given per second
//! of wall time and per second of this thread's CPU time (the machine is
//! shared: CPU time leaves out the time spent waiting for a core).

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

/// CPU seconds this thread has used (user + system), from procfs; 0 when
/// unavailable.
fn thread_cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which ends with ')'): utime is the
    // 12th, stime the 13th, in clock ticks of 1/100 s.
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `f`, returning (orders per wall second, orders per CPU second).
fn rate(n: usize, f: impl FnOnce()) -> (f64, f64) {
    let cpu = thread_cpu_s();
    let t = Instant::now();
    f();
    let wall = t.elapsed().as_secs_f64();
    let cpu = (thread_cpu_s() - cpu).max(0.01);
    (n as f64 / wall, n as f64 / cpu)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let shards: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let rounds: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(3);
    let only = args.get(5).map_or("both", String::as_str);
    let (run_bare, run_engine) = (only != "engine", only != "bare");
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

    let mut best = [(0f64, 0f64); 2];
    for round in 1..=rounds {
        let run_world = || {
            if !run_bare {
                return (0.0, 0.0);
            }
            let reqs = requests.clone();
            let mut world = World::new(&cfg, now);
            rate(n, || {
                for r in reqs {
                    world.place(r, now).expect("placed");
                }
            })
        };
        let run_cluster = || {
            if !run_engine {
                return (0.0, 0.0);
            }
            let reqs = requests.clone();
            let mut cluster = Cluster::new(
                &cfg,
                ClusterOptions {
                    shards,
                    seed: round as u64,
                    limits: ShardLimits::default(),
                    shuffle: false,
                    keep_journal: false,
                },
                now,
            );
            let mut placed = 0usize;
            let r = rate(n, || {
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
            });
            assert_eq!(placed, n);
            assert!(cluster.anomalies().is_empty());
            r
        };
        // Alternate who goes first: the second runs in memory the first freed.
        let (bare, engine) = if round % 2 == 1 {
            let b = run_world();
            (b, run_cluster())
        } else {
            let e = run_cluster();
            (run_world(), e)
        };
        println!(
            "round {round}: bare {:>8.0}/s wall {:>8.0}/s cpu; engine {:>8.0}/s wall {:>8.0}/s cpu; ratio wall {:.2} cpu {:.2}",
            bare.0, bare.1, engine.0, engine.1,
            engine.0 / bare.0, engine.1 / bare.1
        );
        for (b, x) in best.iter_mut().zip([bare, engine]) {
            b.0 = b.0.max(x.0);
            b.1 = b.1.max(x.1);
        }
    }
    let [b, e] = best;
    println!(
        "bare state machines: {:>10.0} orders/s wall, {:>10.0} per CPU second (best of {rounds})",
        b.0, b.1
    );
    println!(
        "engine cluster:      {:>10.0} orders/s wall, {:>10.0} per CPU second (best of {rounds})",
        e.0, e.1
    );
    println!(
        "ratio engine/bare:   {:>10.2} wall, {:>10.2} CPU",
        e.0 / b.0,
        e.1 / b.1
    );
}
