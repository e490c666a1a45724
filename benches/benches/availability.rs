//! Availability reads in process, 1 and 2 threads: reads only the
//! availability view (a dashmap the cells publish to), no mailbox.
//!
//! `cargo bench -p orch-benches --bench availability`
//!
//! - `facade`: `Orchestrator::availability(sku, lat, lon, 300 km)`, the
//!   answer of `GET /v1/availability` before JSON: every facility's ATS
//!   for the SKU, the network total, the nearby ones sorted by distance.
//! - `view_cell`: `AvailabilityView::available(sku, facility)`, one cell's
//!   ATS: the lookup the router makes per (line, candidate).
//!
//! SKUs follow the BF-1 popularity (Zipf) over the scale-0.1 catalog
//! (6 facilities); points are the BF-1 ship-to points. Durability none.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Bencher, Criterion, Throughput};
use orch_actors::{FacilityIdx, SkuIdx};
use orch_benches::{bf1_config, bf1_orders, load_note};
use orch_runtime::Orchestrator;

const RADIUS_KM: f64 = 300.0;
const READS: usize = 4_096;

/// Runs `read(i)` `iters` times on each of `threads` threads; the time is
/// the slowest thread's.
fn threaded<F: Fn(usize) + Sync>(b: &mut Bencher<'_>, threads: usize, read: F) {
    b.iter_custom(|iters| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let read = &read;
                    s.spawn(move || {
                        let start = Instant::now();
                        for i in 0..iters as usize {
                            read(i.wrapping_mul(threads) + t);
                        }
                        start.elapsed()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("reader"))
                .max()
                .unwrap_or_default()
        })
    })
}

fn availability(c: &mut Criterion) {
    eprintln!("availability: {}", load_note());
    let cfg = bf1_config(0.1);
    let core = Orchestrator::start(&cfg);
    let orders = bf1_orders(&cfg, READS, "a-");
    let reads: Vec<(String, f64, f64)> = orders
        .iter()
        .map(|o| (o.lines[0].sku.clone(), o.ship_to.lat, o.ship_to.lon))
        .collect();
    let cells: Vec<(SkuIdx, FacilityIdx)> = orders
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let sku = cfg.network.sku_index(&o.lines[0].sku).expect("BF-1 SKU");
            let f = i % cfg.network.facilities.len();
            (SkuIdx(sku), FacilityIdx(f as u16))
        })
        .collect();
    let view = &core.shared().view;

    for threads in [1usize, 2] {
        let mut g = c.benchmark_group(format!("availability/{threads}_threads"));
        g.throughput(Throughput::Elements(threads as u64));
        g.bench_function("facade", |b| {
            threaded(b, threads, |i| {
                let (sku, lat, lon) = &reads[i % READS];
                let a = core
                    .availability(sku, *lat, *lon, RADIUS_KM)
                    .expect("availability");
                std::hint::black_box(a);
            })
        });
        g.bench_function("view_cell", |b| {
            threaded(b, threads, |i| {
                let (sku, f) = cells[i % READS];
                std::hint::black_box(view.available(sku, f));
            })
        });
        g.finish();
    }
    core.shutdown();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = availability
}
criterion_main!(benches);
