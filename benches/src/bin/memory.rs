//! Resident memory at a BF-1 scale: after start, with every stock cell's
//! actor resident, and with ORDERS orders placed (each an actor); prints
//! RSS at each step and the bytes per resident actor of each kind.
//!
//! `cargo run --release -p orch-benches --bin memory -- [SCALE] [ORDERS]`
//! (default scale 1, 1,000,000 orders). Durability none (the journal is
//! not wired into placement yet). RSS is read from `/proc/self/status`;
//! the order stream is generated up front and counted in the baseline.

use std::time::Instant;

use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_benches::{bf1_config, bf1_orders, cores, load_note, rss_bytes};
use orch_runtime::Orchestrator;

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn rss() -> u64 {
    rss_bytes().expect("VmRSS (Linux only)")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scale: f64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(1.0);
    let n: usize = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    println!(
        "BF-1 scale {scale}, {n} orders, {} cores, durability none, {}",
        cores(),
        load_note()
    );
    let cfg = bf1_config(scale);
    let r_cfg = rss();
    println!(
        "config (network, stock):        RSS {:>9.1} MiB",
        mib(r_cfg)
    );
    let orders = bf1_orders(&cfg, n, "m-");
    let keys: Vec<CellKey> = cfg
        .network
        .stock
        .iter()
        .map(|s| CellKey {
            sku: SkuIdx(s.sku),
            facility: FacilityIdx(s.facility),
        })
        .collect();
    let r0 = rss();
    println!(
        "+ order stream (harness only):  RSS {:>9.1} MiB (+{:.1})",
        mib(r0),
        mib(r0.saturating_sub(r_cfg))
    );

    let core = Orchestrator::start(&cfg);
    let r1 = rss();
    println!(
        "started (views, registry):      RSS {:>9.1} MiB (+{:.1})",
        mib(r1),
        mib(r1 - r0)
    );

    let t = Instant::now();
    let shared = core.shared().clone();
    for k in &keys {
        drop(shared.cell(*k));
    }
    let cells = keys.len();
    let r2 = rss();
    println!(
        "{cells} cell actors resident:  RSS {:>9.1} MiB (+{:.1}; {:.0} bytes/cell actor; activated in {:.1} s)",
        mib(r2),
        mib(r2.saturating_sub(r1)),
        r2.saturating_sub(r1) as f64 / cells.max(1) as f64,
        t.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio runtime");
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
    let secs = t.elapsed().as_secs_f64();
    let resident_orders = shared.orders.len();
    let r3 = rss();
    println!(
        "{resident_orders} order actors resident: RSS {:>9.1} MiB (+{:.1}; {:.0} bytes/order actor incl. its reservations, fulfillments, queues and id maps; placed at {:.0} orders/s)",
        mib(r3),
        mib(r3.saturating_sub(r2)),
        r3.saturating_sub(r2) as f64 / resident_orders.max(1) as f64,
        n as f64 / secs
    );
    println!(
        "end: RSS {:.2} GB ({:.2} GiB), {:.2} GB without the harness's order stream, against the 4 GB goal; {}",
        r3 as f64 / 1e9,
        r3 as f64 / (1024.0 * 1024.0 * 1024.0),
        r3.saturating_sub(r0 - r_cfg) as f64 / 1e9,
        load_note()
    );
    drop(shared);
    core.shutdown();
}
