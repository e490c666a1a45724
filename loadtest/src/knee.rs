//! `loadtest knee`: steady runs at rising rates until place p99 passes the
//! limit (10 ms), each on a fresh core; the knee is the highest rate whose
//! p99 stayed under it (WORKLOAD.md).

use std::path::Path;

use serde::Serialize;

use crate::runner::{run, RunOptions};

/// How to step.
#[derive(Debug, Clone)]
pub struct KneeOptions {
    /// Every step's run (its `peak_rate` is replaced).
    pub base: RunOptions,
    /// First rate, orders/s.
    pub start_rate: f64,
    /// Each step multiplies the rate by this (> 1).
    pub factor: f64,
    /// Stop after this rate.
    pub max_rate: f64,
    /// The limit on place p99, ms.
    pub p99_limit_ms: f64,
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct KneeStep {
    /// Target rate.
    pub rate: f64,
    /// Orders acknowledged per second.
    pub placed_per_s: f64,
    /// Place p50, ms.
    pub place_p50_ms: f64,
    /// Place p99, ms.
    pub place_p99_ms: f64,
    /// Every invariant held.
    pub invariants_passed: bool,
}

/// `knee.json`.
#[derive(Debug, Clone, Serialize)]
pub struct KneeReport {
    /// Highest rate with place p99 under the limit, if any.
    pub knee_rate: Option<f64>,
    /// The limit, ms.
    pub p99_limit_ms: f64,
    /// Durability mode.
    pub durability: String,
    /// Cores.
    pub cores: usize,
    /// Every step.
    pub steps: Vec<KneeStep>,
    /// Every step's invariants held.
    pub passed: bool,
}

/// Steps the rate up; prints one line per step.
pub async fn knee(o: &KneeOptions) -> Result<KneeReport, String> {
    if o.factor <= 1.0 {
        return Err(format!("--factor: must be > 1, got {}", o.factor));
    }
    let mut steps = Vec::new();
    let mut rate = o.start_rate;
    let mut knee_rate = None;
    while rate <= o.max_rate {
        let mut opts = o.base.clone();
        opts.peak_rate = rate;
        opts.report_dir = o
            .base
            .report_dir
            .as_ref()
            .map(|d| d.join(format!("rate-{rate:.0}")));
        let r = run(&opts).await?;
        let step = KneeStep {
            rate,
            placed_per_s: r.throughput.orders_placed_per_s,
            place_p50_ms: r.latency_ms.place.p50,
            place_p99_ms: r.latency_ms.place.p99,
            invariants_passed: r.passed,
        };
        println!(
            "rate {:>8.0}/s  placed {:>8.1}/s  place p50 {:>7.2} ms  p99 {:>8.2} ms  invariants {}",
            step.rate,
            step.placed_per_s,
            step.place_p50_ms,
            step.place_p99_ms,
            if step.invariants_passed {
                "passed"
            } else {
                "FAILED"
            }
        );
        let under = step.place_p99_ms <= o.p99_limit_ms;
        steps.push(step);
        if !under {
            break;
        }
        knee_rate = Some(rate);
        rate = (rate * o.factor).round();
    }
    Ok(KneeReport {
        knee_rate,
        p99_limit_ms: o.p99_limit_ms,
        durability: o.base.durability.as_str().into(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        passed: steps.iter().all(|s| s.invariants_passed),
        steps,
    })
}

/// Writes knee.json and knee.md into `dir`.
pub fn write(dir: &Path, k: &KneeReport) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(k).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("knee.json"), json).map_err(|e| e.to_string())?;
    let mut md = format!(
        "# Knee\n\nHighest rate with place p99 under {} ms: **{}** ({} cores, durability {}).\n\n\
         | rate | placed/s | p50 ms | p99 ms | invariants |\n| --- | --- | --- | --- | --- |\n",
        k.p99_limit_ms,
        k.knee_rate
            .map_or("none".into(), |r| format!("{r} orders/s")),
        k.cores,
        k.durability
    );
    for s in &k.steps {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            s.rate,
            s.placed_per_s,
            s.place_p50_ms,
            s.place_p99_ms,
            if s.invariants_passed {
                "passed"
            } else {
                "FAILED"
            }
        ));
    }
    std::fs::write(dir.join("knee.md"), md).map_err(|e| e.to_string())
}
