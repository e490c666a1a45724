//! The routing decision (`Router::plan`) per facility count: BF-1-like
//! networks of 6, 20, 50, 100 and 200 facilities.
//!
//! `cargo bench -p orch-benches --bench routing`
//!
//! Networks are BF-1 (`orch_config::bf1::generate`, seed 42) at scales 0.1
//! (2 DCs + 4 stores, the generator's floor), 0.5 (4 + 16), 1.25 (10 + 40),
//! 2.5 (20 + 80) and 5 (40 + 160); the catalog grows with the scale, as in
//! BF-1. Carriers are `orch_config::carriers::bf1` for each network, so
//! every candidate facility is rate-shopped over all 6 carrier services.
//! Each iteration plans the next of 1,000 BF-1 orders of 1-3 lines (the
//! stream's orders of 4-6 lines are skipped): score and rank every
//! facility, then snapshot availability of every line at every candidate
//! from the runtime's own `AvailabilityView` (the dashmap the router reads
//! in production), loaded with the network's whole starting stock.
//! Criterion reports the time per decision; after it, each network prints
//! the p50 / p99 / max of 3,000 individually timed decisions.
//! Run as a test (`cargo test --all-targets`), only the 6-facility case runs.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use orch_actors::routing::{FacilityInfo, RouteRequest, Router};
use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_benches::{bench_mode, bf1_config, bf1_orders, load_note};
use orch_config::ServiceLevel;
use orch_runtime::view::{AvailabilityView, CellCounts};

/// (facilities, BF-1 scale that generates exactly that many).
const NETWORKS: [(usize, f64); 5] = [(6, 0.1), (20, 0.5), (50, 1.25), (100, 2.5), (200, 5.0)];

/// Orders planned in turn by each network's bench.
const ORDERS: usize = 1_000;

/// Most lines of a benched order.
const MAX_LINES: usize = 3;

struct Req {
    lines: Vec<(SkuIdx, u32)>,
    lat: f64,
    lon: f64,
    level: ServiceLevel,
    channel: String,
}

fn routing(c: &mut Criterion) {
    eprintln!("routing: {}", load_note());
    let mut g = c.benchmark_group("routing/plan");
    g.throughput(Throughput::Elements(1));
    // Run as a test, only the smallest network: the larger ones take a
    // minute to generate in a debug build.
    let networks: &[(usize, f64)] = if bench_mode() {
        &NETWORKS
    } else {
        &NETWORKS[..1]
    };
    for &(facilities, scale) in networks {
        let cfg = bf1_config(scale);
        let net = &cfg.network;
        assert_eq!(net.facilities.len(), facilities, "BF-1 scale {scale}");
        let view = AvailabilityView::default();
        for s in &net.stock {
            view.publish(
                CellKey {
                    sku: SkuIdx(s.sku),
                    facility: FacilityIdx(s.facility),
                },
                CellCounts {
                    on_hand: s.on_hand,
                    reserved: 0,
                    available: s.on_hand,
                },
            );
        }
        let router = Router::new(&cfg.routing, &net.facilities, &cfg.carriers);
        let infos: Vec<FacilityInfo> = FacilityInfo::all(&net.facilities);
        // 90% of BF-1 orders have 1-3 lines: 2 * ORDERS is plenty.
        let reqs: Vec<Req> = bf1_orders(&cfg, 2 * ORDERS, "r-")
            .into_iter()
            .filter(|o| o.lines.len() <= MAX_LINES)
            .take(ORDERS)
            .map(|o| Req {
                lines: o
                    .lines
                    .iter()
                    .map(|l| {
                        let sku = net.sku_index(&l.sku).expect("BF-1 SKU");
                        (SkuIdx(sku), l.qty as u32)
                    })
                    .collect(),
                lat: o.ship_to.lat,
                lon: o.ship_to.lon,
                level: ServiceLevel::parse(&o.service_level).expect("service level"),
                channel: o.channel,
            })
            .collect();
        assert_eq!(reqs.len(), ORDERS, "BF-1 orders of 1-{MAX_LINES} lines");
        let plan = |r: &Req| {
            router.plan(
                &RouteRequest {
                    lines: &r.lines,
                    lat: r.lat,
                    lon: r.lon,
                    service_level: r.level,
                    channel: &r.channel,
                },
                &infos,
                NOW,
                |sku, facility| view.available(sku, facility),
            )
        };
        let mut i = 0usize;
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{facilities}_facilities")),
            &(),
            |b, ()| {
                b.iter(|| {
                    let r = &reqs[i % reqs.len()];
                    i += 1;
                    plan(r)
                })
            },
        );
        if bench_mode() {
            eprintln!(
                "routing/plan/{facilities}_facilities: {} ({})",
                tail(&reqs, plan),
                load_note()
            );
        }
    }
    g.finish();
}

/// p50 / p99 / max of 3 passes over `reqs`, each decision timed alone
/// (`Instant` adds some tens of ns to each).
fn tail<P>(reqs: &[Req], plan: impl Fn(&Req) -> P) -> String {
    let mut ns: Vec<u128> = (0..3)
        .flat_map(|_| reqs.iter())
        .map(|r| {
            let t = Instant::now();
            std::hint::black_box(plan(r));
            t.elapsed().as_nanos()
        })
        .collect();
    ns.sort_unstable();
    let at = |q: f64| ns[((ns.len() - 1) as f64 * q) as usize] as f64 / 1_000.0;
    format!(
        "{} decisions: p50 {:.2} us, p99 {:.2} us, max {:.2} us",
        ns.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Decisions are priced as at 2026-11-27 10:00 UTC (a Friday, before every cutoff).
const NOW: u64 = 20_784 * 86_400_000 + 10 * 3_600_000;

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = routing
}
criterion_main!(benches);
