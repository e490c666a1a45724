//! Durable placement through the engine host: the same BF-1 order stream
//! as `place_overhead`, offered from one thread to N shard threads with a
//! bounded window (an `Overloaded` answer makes the offerer wait for its
//! oldest outstanding order), each acknowledged once its tick's journal
//! batch is durable in the mode asked for.
//!
//! `cargo run --release -p orch-benches --bin host_place -- [ORDERS] [SCALE] [MODE] [SHARDS]`
//! (defaults: 200,000 orders, scale 0.1, fsync, one shard per core).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// The same allocator as the `orchestrator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use orch_actors::order::PlaceRequest;
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode};
use orch_engine::Answer;
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::host::{Clock, Host, HostOptions, Pending, PlaceRefusal};
use orch_runtime::persist::Durability;
use orch_runtime::Orchestrator;

fn acknowledged(p: Pending) -> bool {
    matches!(p.blocking_recv(), Ok(Ok(Answer::Placed(Ok(_)))))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let scale: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0.1);
    let mode = args
        .get(3)
        .and_then(|m| DurabilityMode::parse(m))
        .unwrap_or(DurabilityMode::Fsync);
    let mut cfg = Config::with_network(generate(&Bf1Params { scale, seed: 42 }));
    if let Some(s) = args.get(4).and_then(|a| a.parse().ok()) {
        cfg.runtime.workers = s;
    }
    let data = std::env::temp_dir().join(format!("host-place-{}", std::process::id()));
    let mut stream = Bf1Stream::new(&cfg.network, 1);
    let orders: Vec<_> = (0..n)
        .map(|i| stream.next_order(format!("o-{i}")))
        .collect();
    // The facade's validation turns the DTOs into requests (not timed).
    cfg.durability.mode = DurabilityMode::None;
    let core = Orchestrator::start(&cfg);
    let requests: Vec<PlaceRequest> = orders
        .iter()
        .map(|o| core.validate_order(o).expect("valid order"))
        .collect();
    core.shutdown();

    cfg.durability.mode = mode;
    cfg.durability.data_dir = data.display().to_string();
    let (durability, _) = Durability::open(&cfg.durability).expect("journal");
    let durability = Arc::new(durability);
    let options = HostOptions::from_config(&cfg);
    let host = Host::start(&cfg, options, durability.clone(), Clock::wall(), None).expect("host");
    println!(
        "BF-1 scale {scale}, {n} orders, {} shards, durability {}",
        options.shards,
        mode.as_str()
    );
    let t = Instant::now();
    let mut window: VecDeque<Pending> = VecDeque::new();
    let (mut ok, mut refused) = (0usize, 0usize);
    for r in requests {
        loop {
            match host.place(r.clone()) {
                Ok((_, p)) => {
                    window.push_back(p);
                    break;
                }
                Err(PlaceRefusal::Overloaded) => {
                    refused += 1;
                    match window.pop_front() {
                        Some(p) => ok += usize::from(acknowledged(p)),
                        None => std::thread::yield_now(),
                    }
                }
                Err(PlaceRefusal::Invalid(e)) => panic!("invalid: {e}"),
            }
        }
    }
    for p in window {
        ok += usize::from(acknowledged(p));
    }
    let secs = t.elapsed().as_secs_f64();
    let stats = host.stats();
    let j = durability.stats();
    let ticks: u64 = stats.ticks.iter().sum();
    let entries: u64 = stats.entries.iter().sum();
    println!(
        "host: {:>10.0} orders/s acknowledged durable ({ok} of {n} in {secs:.2} s; {refused} \
         Overloaded answers waited out)",
        ok as f64 / secs
    );
    println!(
        "ticks {ticks} ({:.1} messages, {:.1} entries each); journal {} records, {} batches, \
         {} fsyncs",
        stats.taken.iter().sum::<u64>() as f64 / ticks.max(1) as f64,
        entries as f64 / ticks.max(1) as f64,
        j.records,
        j.batches,
        j.fsyncs
    );
    host.shutdown();
    drop(durability);
    let _ = std::fs::remove_dir_all(&data);
}
