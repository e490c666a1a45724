//! Short end-to-end runs: in-process (3 s of BF-1 at scale 0.01) and over
//! HTTP against a server started here. Each must write its report and every
//! invariant must hold.

use std::time::Duration;

use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode};
use orch_loadtest::profile::Profile;
use orch_loadtest::report::Report;
use orch_loadtest::runner::{run, RunOptions};
use orch_runtime::Orchestrator;

fn assert_passed(r: &Report) {
    for (name, k) in &r.invariants {
        assert!(
            k.passed,
            "{name}: {} violations: {:?}",
            k.violations, k.examples
        );
    }
    for name in [
        "no_oversell",
        "inventory_matches_book",
        "conservation_per_sku",
        "no_lost_acknowledged_order",
        "doorbuster_exact",
    ] {
        assert!(r.invariants.contains_key(name), "{name} missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_seconds_in_process_pass_every_invariant() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = RunOptions::new(Profile::bf1(), 0.01, 150.0, Duration::from_secs(3), 3);
    o.durability = DurabilityMode::None;
    o.report_dir = Some(dir.path().to_path_buf());
    o.progress = false;
    o.drain_timeout = Duration::from_secs(30);
    let r = run(&o).await.expect("the run completes");
    for f in ["report.json", "report.md", "chart.svg"] {
        assert!(dir.path().join(f).is_file(), "{f} written");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    for k in [
        "config",
        "throughput",
        "latency_ms",
        "memory",
        "journal",
        "counts",
        "invariants",
    ] {
        assert!(json.get(k).is_some(), "report.json has {k}");
    }
    assert_eq!(json["config"]["mode"], "in_process");
    assert!(json["latency_ms"]["place"]["p99"].as_f64().unwrap() > 0.0);
    assert!(r.counts.orders_acknowledged > 200, "{:?}", r.counts);
    assert!(
        r.counts.delivered > 0,
        "the floor delivered: {:?}",
        r.counts
    );
    assert_eq!(r.counts.reads, 20 * r.counts.orders_offered);
    assert!(r.counts.doorbuster_units_sold.unwrap() > 0);
    assert_eq!(
        r.counts.scans_duplicate, r.counts.scans_duplicate_sent,
        "every deliberate duplicate is answered duplicate"
    );
    assert_passed(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_seconds_over_http_pass_every_invariant() {
    let net = generate(&Bf1Params {
        scale: 0.01,
        seed: 77,
    });
    let mut cfg = Config::with_network(net);
    cfg.durability.mode = DurabilityMode::None;
    let data = tempfile::tempdir().unwrap();
    cfg.durability.data_dir = data.path().display().to_string();
    let core = Orchestrator::start(&cfg);
    let server = orch_runtime::http::start_server(core.clone(), &cfg, "127.0.0.1:0").unwrap();
    let mut o = RunOptions::new(Profile::bf1(), 0.01, 60.0, Duration::from_secs(2), 5);
    o.target = Some(format!("http://{}", server.addr));
    o.network_seed = 77;
    o.reads_per_order = 2;
    o.progress = false;
    o.drain_timeout = Duration::from_secs(30);
    let r = run(&o).await.expect("the run completes");
    assert_eq!(r.config.mode, "http");
    assert!(r.counts.orders_acknowledged > 50, "{:?}", r.counts);
    assert!(r.counts.delivered > 0, "{:?}", r.counts);
    assert_passed(&r);
    tokio::task::spawn_blocking(move || server.stop())
        .await
        .unwrap()
        .unwrap();
    core.shutdown();
}
