//! Cell reserve, uncontended (many cells) and on one hot cell.
//!
//! `cargo bench -p orch-benches --bench cell`
//!
//! Every iteration reserves 1 unit for a new order line and releases the
//! line reserved `LIVE` iterations earlier, so stock and the number of live
//! reservations per cell stay constant: the figure counts one reservation
//! plus one release (a conservative reading of "reservations/s").
//!
//! - `state/*`: `CellState::check_reserve` + `apply`, then
//!   `decide_release` + `apply`, one thread, no messages.
//! - `actor/*`: the same through the runtime's cell actors
//!   (`Shared::cell(key)` + the `Reserve` / `Release` messages), sent from a
//!   tokio thread, `PIPELINE` requests in flight, then their releases.
//!   Durability none (the journal is not wired into the cells yet).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures::future::join_all;
use orch_actors::cell::{CellState, ReserveAnswer};
use orch_actors::{CellKey, FacilityIdx, LineRef, OrderNo, SkuIdx};
use orch_benches::{bf1_config, load_note};
use orch_runtime::shell::cell::{Release, Reserve};
use orch_runtime::Orchestrator;

/// Live reservations a cell holds in steady state.
const LIVE: u64 = 1_000;
/// Cells the uncontended case rotates over.
const CELLS: usize = 100_000;
/// Reservations in flight in the actor cases.
const PIPELINE: u64 = 512;
/// On hand of a benchmark cell: never runs out.
const DEEP_STOCK: u32 = 1_000_000_000;

fn line(i: u64) -> LineRef {
    LineRef {
        order: OrderNo(i),
        line: 0,
    }
}

/// Reserve `line(i)` and release `line(i - LIVE)` on `cell`.
fn step(cell: &mut CellState, i: u64) {
    let (answer, event) = cell.check_reserve(line(i), 1).expect("reserve");
    debug_assert_eq!(answer, ReserveAnswer::Reserved);
    cell.apply(&event.expect("reserved event"));
    if i >= LIVE {
        if let Some(e) = cell.decide_release(line(i - LIVE)) {
            cell.apply(&e);
        }
    }
}

fn state(c: &mut Criterion) {
    eprintln!("cell/state: {}", load_note());
    let mut g = c.benchmark_group("cell/state");
    g.throughput(Throughput::Elements(1));

    let mut hot = CellState::new(DEEP_STOCK, 0);
    let mut i = 0u64;
    g.bench_function("hot_cell_reserve_release", |b| {
        b.iter(|| {
            step(&mut hot, i);
            i += 1;
        })
    });

    // Many cells, each with few live reservations: the cell touched is
    // rarely in cache, as when orders spread over the catalog.
    let mut cells: Vec<CellState> = (0..CELLS).map(|_| CellState::new(DEEP_STOCK, 0)).collect();
    let mut i = 0u64;
    g.bench_function("uncontended_100k_cells_reserve_release", |b| {
        b.iter(|| {
            // Line i goes to cell i % CELLS; its release LIVE * CELLS later
            // lands on the same cell.
            let n = CELLS as u64;
            let cell = &mut cells[(i % n) as usize];
            let (_, event) = cell.check_reserve(line(i), 1).expect("reserve");
            cell.apply(&event.expect("reserved event"));
            if i >= n {
                if let Some(e) = cell.decide_release(line(i - n)) {
                    cell.apply(&e);
                }
            }
            i += 1;
        })
    });
    g.finish();
}

fn actor(c: &mut Criterion) {
    eprintln!("cell/actor: {}", load_note());
    let mut cfg = bf1_config(0.1);
    // Deep stock in the cells the benchmark uses, so nothing runs short.
    let keys: Vec<CellKey> = cfg
        .network
        .stock
        .iter_mut()
        .take(4096)
        .map(|s| {
            s.on_hand = DEEP_STOCK;
            CellKey {
                sku: SkuIdx(s.sku),
                facility: FacilityIdx(s.facility),
            }
        })
        .collect();
    let core = Orchestrator::start(&cfg);
    let shared = core.shared().clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    let mut g = c.benchmark_group("cell/actor");
    g.throughput(Throughput::Elements(PIPELINE));

    let hot = shared.cell(keys[0]);
    let mut next = 0u64;
    g.bench_function("hot_cell_reserve_release_512_in_flight", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            rt.block_on(async {
                for _ in 0..iters {
                    let lines: Vec<LineRef> = (next..next + PIPELINE).map(line).collect();
                    next += PIPELINE;
                    let answers =
                        join_all(lines.iter().map(|&l| hot.send(Reserve { line: l, qty: 1 })))
                            .await;
                    for a in answers {
                        assert_eq!(a.expect("mailbox"), ReserveAnswer::Reserved);
                    }
                    for r in join_all(lines.iter().map(|&l| hot.send(Release { line: l }))).await {
                        r.expect("mailbox");
                    }
                }
            });
            t.elapsed()
        })
    });

    let addrs: Vec<_> = keys.iter().map(|&k| shared.cell(k)).collect();
    let mut next = 1u64 << 40;
    g.bench_function(
        "uncontended_4096_cells_reserve_release_512_in_flight",
        |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        let batch: Vec<(usize, LineRef)> = (next..next + PIPELINE)
                            .map(|i| ((i as usize) % addrs.len(), line(i)))
                            .collect();
                        next += PIPELINE;
                        let answers = join_all(
                            batch
                                .iter()
                                .map(|&(c, l)| addrs[c].send(Reserve { line: l, qty: 1 })),
                        )
                        .await;
                        for a in answers {
                            assert_eq!(a.expect("mailbox"), ReserveAnswer::Reserved);
                        }
                        let released = join_all(
                            batch
                                .iter()
                                .map(|&(c, l)| addrs[c].send(Release { line: l })),
                        )
                        .await;
                        for r in released {
                            r.expect("mailbox");
                        }
                    }
                });
                t.elapsed()
            })
        },
    );
    g.finish();
    drop(addrs);
    drop(hot);
    core.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = state, actor
}
criterion_main!(benches);
