//! The routing decision (`Router::plan`) with 10, 40 and 200 facilities.
//!
//! `cargo bench -p orch-benches --bench routing`
//!
//! Networks are BF-1 (`orch_config::bf1::generate`, seed 42) at scales
//! 0.25 (2 DCs + 8 stores), 1 (8 + 32) and 5 (40 + 160). Each iteration
//! plans the next of 1,000 BF-1 orders: score and rank every facility,
//! then snapshot availability of every line at every candidate from the
//! runtime's own `AvailabilityView` (the dashmap the router reads in
//! production), loaded with the network's starting stock. Run as a test
//! (`cargo test --all-targets`), only the 10-facility case runs.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use orch_actors::routing::{FacilityInfo, RouteRequest, Router};
use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_benches::{bench_mode, bf1_config, bf1_orders, load_note};
use orch_config::ServiceLevel;
use orch_runtime::view::{AvailabilityView, CellCounts};

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
    // Run as a test, only the small network: scale 5 takes a minute to
    // generate in a debug build.
    let scales: &[f64] = if bench_mode() {
        &[0.25, 1.0, 5.0]
    } else {
        &[0.25]
    };
    for &scale in scales {
        let cfg = bf1_config(scale);
        let net = &cfg.network;
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
        let reqs: Vec<Req> = bf1_orders(&cfg, 1_000, "r-")
            .into_iter()
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
        let mut i = 0usize;
        g.bench_with_input(
            BenchmarkId::from_parameter(format!("{}_facilities", net.facilities.len())),
            &(),
            |b, ()| {
                b.iter(|| {
                    let r = &reqs[i % reqs.len()];
                    i += 1;
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
                })
            },
        );
    }
    g.finish();
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
