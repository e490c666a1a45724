//! Criterion benchmarks for the orchestration core; see `benches/README.md`.
//!
//! This library holds what the benches and the helper binaries share: the
//! BF-1 configuration at a scale, the order stream, and a note of the
//! machine's load, since every figure here comes from a shared machine.

use orch_actors::order::PlaceRequest;
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode};
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::dto::PlaceOrder;
use orch_runtime::Orchestrator;

/// Seed of every network the benches generate (the embedded default's).
pub const NETWORK_SEED: u64 = 42;
/// Seed of every order stream the benches draw.
pub const STREAM_SEED: u64 = 1;

/// The BF-1 configuration at `scale`, durability `none` (the journal is not
/// wired into placement yet, so every mode is in memory anyway).
pub fn bf1_config(scale: f64) -> Config {
    let mut cfg = Config::with_network(generate(&Bf1Params {
        scale,
        seed: NETWORK_SEED,
    }));
    cfg.durability.mode = DurabilityMode::None;
    cfg
}

/// The first `n` orders of the BF-1 stream over `cfg`'s network, with ids
/// `{prefix}{i}`.
pub fn bf1_orders(cfg: &Config, n: usize, prefix: &str) -> Vec<PlaceOrder> {
    let mut stream = Bf1Stream::new(&cfg.network, STREAM_SEED);
    (0..n)
        .map(|i| stream.next_order(format!("{prefix}{i}")))
        .collect()
}

/// The state machines' requests for `orders`, validated by the facade
/// (started and stopped here) exactly as the actor path validates them.
pub fn bf1_requests(cfg: &Config, orders: &[PlaceOrder]) -> Vec<PlaceRequest> {
    let core = Orchestrator::start(cfg);
    let requests = orders
        .iter()
        .map(|o| core.validate_order(o).expect("valid BF-1 order"))
        .collect();
    core.shutdown();
    requests
}

/// `/proc/loadavg`'s three averages, or `?` off Linux: printed with every
/// figure because the machine is shared.
pub fn load_note() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .map_or_else(|| "load ?".into(), |l| format!("load {l}"))
}

/// Resident set size of this process in bytes (`VmRSS`), `None` off Linux.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(0, |c| c.get())
}

/// Whether the bench binary runs as a benchmark (`cargo bench` passes
/// `--bench`) rather than as a test (`cargo test --all-targets`, which runs
/// each bench once): benches keep their expensive set-up for the former.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}
