//! Placing the same BF-1 orders through the bare state machines
//! (`orch_actors::sim::World`, one thread) and through the actors (the
//! `Orchestrator` facade, `place_batch`); the ratio of their throughputs is
//! the actor overhead. A small criterion version of the `place_overhead`
//! binary (which places 200,000 orders outside criterion).
//!
//! `cargo bench -p orch-benches --bench place`
//!
//! Every iteration starts from a fresh state (a clone of the starting
//! `World`; a newly started `Orchestrator`), places the first `WARM` orders
//! of the stream untimed, then times the next `BATCH`. Both paths see
//! exactly the same orders against the same stock. The actor path includes
//! what the bare path has not: validation of the DTO and id mapping,
//! activation of every cell and order actor on its first message, and the
//! cross-thread hand-offs. BF-1 scale 0.1, durability none.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use orch_actors::sim::World;
use orch_benches::{bf1_config, bf1_orders, bf1_requests, load_note};
use orch_runtime::Orchestrator;

/// Orders placed untimed before the measured batch.
const WARM: usize = 2_000;
/// Orders in the measured batch.
const BATCH: usize = 1_000;
/// Batches of 250 orders in flight on the actor path.
const CHUNK: usize = 250;

fn place(c: &mut Criterion) {
    eprintln!("place: {}", load_note());
    let cfg = bf1_config(0.1);
    let orders = bf1_orders(&cfg, WARM + BATCH, "p-");
    let requests = bf1_requests(&cfg, &orders);
    let now = orch_runtime::clock::now_ms();
    let start = World::new(&cfg, now);

    let mut g = c.benchmark_group("place/bf1_scale_0.1");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("bare_state_machines_1_thread", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let mut world = start.clone();
                for r in &requests[..WARM] {
                    world.place(r.clone(), now).expect("placed");
                }
                let batch: Vec<_> = requests[WARM..].to_vec();
                let t = Instant::now();
                for r in batch {
                    world.place(r, now).expect("placed");
                }
                timed += t.elapsed();
            }
            timed
        })
    });

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
    g.bench_function("actors_place_batch", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                let core = Orchestrator::start(&cfg);
                rt.block_on(async {
                    for r in core.place_batch(&orders[..WARM]).await {
                        r.expect("placed");
                    }
                    let chunks: Vec<Vec<_>> =
                        orders[WARM..].chunks(CHUNK).map(<[_]>::to_vec).collect();
                    let t = Instant::now();
                    let handles: Vec<_> = chunks
                        .into_iter()
                        .map(|chunk| {
                            let core = core.clone();
                            tokio::spawn(async move { core.place_batch(&chunk).await })
                        })
                        .collect();
                    for h in handles {
                        for r in h.await.expect("batch") {
                            r.expect("placed");
                        }
                    }
                    timed += t.elapsed();
                });
                core.shutdown();
            }
            timed
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = place
}
criterion_main!(benches);
