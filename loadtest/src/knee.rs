//! `loadtest knee`: steady runs at rising rates, each on a fresh core with
//! the full BF-1 mix (the floor simulator, 20 reads per order), until a step
//! fails. A step passes when the achieved rate is at least 99% of the
//! offered one, place p99 is at most the limit (10 ms), and the generator
//! sent no more than 0.1% of its arrivals later than the lateness tolerance
//! (a generator that fell behind did not offer the rate). The knee is the
//! highest passing step.

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
    /// Least share of the offered rate a passing step achieves (0.99).
    pub achieved_share_min: f64,
    /// Most share of arrivals a passing step may send late (0.001).
    pub late_share_max: f64,
}

/// Why a step passes or not.
pub fn step_verdict(
    offered_per_s: f64,
    achieved_per_s: f64,
    p99_ms: f64,
    late_arrivals: u64,
    arrivals: u64,
    o: &KneeOptions,
) -> Result<(), String> {
    let mut why = Vec::new();
    if achieved_per_s < o.achieved_share_min * offered_per_s {
        why.push(format!(
            "achieved {achieved_per_s}/s < {}% of offered {offered_per_s}/s",
            o.achieved_share_min * 100.0
        ));
    }
    if p99_ms > o.p99_limit_ms {
        why.push(format!("place p99 {p99_ms} ms > {} ms", o.p99_limit_ms));
    }
    if late_arrivals as f64 > o.late_share_max * arrivals as f64 {
        why.push(format!(
            "{late_arrivals} of {arrivals} arrivals late (more than {}%)",
            o.late_share_max * 100.0
        ));
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why.join("; "))
    }
}

/// One step.
#[derive(Debug, Clone, Serialize)]
pub struct KneeStep {
    /// Target rate.
    pub rate: f64,
    /// Orders offered per second.
    pub offered_per_s: f64,
    /// Orders acknowledged per second (achieved).
    pub placed_per_s: f64,
    /// Acknowledged within the objective per second.
    pub goodput_per_s: f64,
    /// Arrivals dropped (in-flight limit).
    pub dropped: u64,
    /// Arrivals later than the tolerance.
    pub late_arrivals: u64,
    /// Latest arrival, ms.
    pub lateness_max_ms: f64,
    /// Whether the step passed, and if not why.
    pub verdict: String,
    /// Place p50, ms.
    pub place_p50_ms: f64,
    /// Place p99, ms.
    pub place_p99_ms: f64,
    /// Every invariant held.
    pub invariants_passed: bool,
    /// The failed invariants' names.
    pub invariants_failed: Vec<String>,
}

/// `knee.json`.
#[derive(Debug, Clone, Serialize)]
pub struct KneeReport {
    /// Highest passing step's rate, if any.
    pub knee_rate: Option<f64>,
    /// Its achieved rate.
    pub knee_achieved_per_s: Option<f64>,
    /// Its place p99, ms.
    pub knee_p99_ms: Option<f64>,
    /// BF-1 scale.
    pub scale: f64,
    /// Reads per order.
    pub reads_per_order: u32,
    /// Mode (in_process or http).
    pub mode: String,
    /// Load average (1, 5, 15 min) when the knee started and ended.
    pub load_average: Vec<String>,
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
    let mut knee: Option<KneeStep> = None;
    let mut loads = vec![load_average()];
    while rate <= o.max_rate {
        let mut opts = o.base.clone();
        opts.peak_rate = rate;
        opts.report_dir = o
            .base
            .report_dir
            .as_ref()
            .map(|d| d.join(format!("rate-{rate:.0}")));
        let r = run(&opts).await?;
        let verdict = step_verdict(
            r.throughput.orders_offered_per_s,
            r.throughput.orders_achieved_per_s,
            r.latency_ms.place.p99,
            r.generator.late_arrivals,
            r.generator.arrivals,
            o,
        );
        let step = KneeStep {
            rate,
            offered_per_s: r.throughput.orders_offered_per_s,
            placed_per_s: r.throughput.orders_achieved_per_s,
            goodput_per_s: r.throughput.goodput_per_s,
            dropped: r.counts.orders_dropped,
            late_arrivals: r.generator.late_arrivals,
            lateness_max_ms: r.generator.max_ms,
            verdict: match &verdict {
                Ok(()) => "passed".into(),
                Err(e) => e.clone(),
            },
            place_p50_ms: r.latency_ms.place.p50,
            place_p99_ms: r.latency_ms.place.p99,
            invariants_passed: r.passed,
            invariants_failed: r
                .invariants
                .iter()
                .filter(|(_, k)| !k.passed)
                .map(|(n, _)| n.clone())
                .collect(),
        };
        println!(
            "rate {:>8.0}/s  offered {:>8.1}/s  achieved {:>8.1}/s  goodput {:>8.1}/s  place p99 {:>8.2} ms  \
             late {:>6}  invariants {}  -> {}",
            step.rate,
            step.offered_per_s,
            step.placed_per_s,
            step.goodput_per_s,
            step.place_p99_ms,
            step.late_arrivals,
            if step.invariants_passed {
                "passed".to_string()
            } else {
                format!("FAILED {:?}", step.invariants_failed)
            },
            step.verdict
        );
        let passed = verdict.is_ok();
        if passed {
            knee = Some(step.clone());
        }
        steps.push(step);
        if !passed {
            break;
        }
        rate = (rate * o.factor).round();
    }
    loads.push(load_average());
    Ok(KneeReport {
        knee_rate: knee.as_ref().map(|k| k.rate),
        knee_achieved_per_s: knee.as_ref().map(|k| k.placed_per_s),
        knee_p99_ms: knee.as_ref().map(|k| k.place_p99_ms),
        scale: o.base.scale,
        reads_per_order: o.base.reads_per_order,
        mode: if o.base.target.is_some() {
            "http"
        } else {
            "in_process"
        }
        .into(),
        load_average: loads,
        p99_limit_ms: o.p99_limit_ms,
        durability: o.base.durability.as_str().into(),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        passed: steps.iter().all(|s| s.invariants_passed),
        steps,
    })
}

/// `/proc/loadavg`'s first three fields ("n/a" elsewhere).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".into())
}

/// Writes knee.json and knee.md into `dir`.
pub fn write(dir: &Path, k: &KneeReport) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = serde_json::to_string_pretty(k).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("knee.json"), json).map_err(|e| e.to_string())?;
    let mut md = format!(
        "# Knee\n\nHighest step with achieved >= 99% of offered, place p99 <= {} ms and no late \
         arrivals: **{}** (achieved {}/s, p99 {} ms). Scale {}, {} reads per order, {}, {} cores, \
         durability {}, load average {}.\n\n\
         | rate | offered/s | achieved/s | goodput/s | p50 ms | p99 ms | late | dropped | verdict | invariants |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        k.p99_limit_ms,
        k.knee_rate
            .map_or("none".into(), |r| format!("{r} orders/s")),
        k.knee_achieved_per_s.map_or("n/a".into(), |v| v.to_string()),
        k.knee_p99_ms.map_or("n/a".into(), |v| v.to_string()),
        k.scale,
        k.reads_per_order,
        k.mode,
        k.cores,
        k.durability,
        k.load_average.join(" -> ")
    );
    for s in &k.steps {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.rate,
            s.offered_per_s,
            s.placed_per_s,
            s.goodput_per_s,
            s.place_p50_ms,
            s.place_p99_ms,
            s.late_arrivals,
            s.dropped,
            s.verdict,
            if s.invariants_passed {
                "passed".to_string()
            } else {
                format!("FAILED: {}", s.invariants_failed.join(", "))
            }
        ));
    }
    std::fs::write(dir.join("knee.md"), md).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use std::time::Duration;

    #[test]
    fn a_step_passes_only_when_achieved_latency_and_lateness_all_hold() {
        let o = KneeOptions {
            base: RunOptions::new(Profile::steady(), 0.1, 1.0, Duration::from_secs(1), 1),
            start_rate: 1.0,
            factor: 2.0,
            max_rate: 2.0,
            p99_limit_ms: 10.0,
            achieved_share_min: 0.99,
            late_share_max: 0.001,
        };
        assert!(step_verdict(1000.0, 995.0, 9.0, 0, 10_000, &o).is_ok());
        let e = step_verdict(1000.0, 980.0, 9.0, 0, 10_000, &o).unwrap_err();
        assert!(e.contains("achieved"), "{e}");
        let e = step_verdict(1000.0, 1000.0, 11.0, 0, 10_000, &o).unwrap_err();
        assert!(e.contains("p99"), "{e}");
        assert!(step_verdict(1000.0, 1000.0, 9.0, 10, 10_000, &o).is_ok());
        let e = step_verdict(1000.0, 1000.0, 9.0, 11, 10_000, &o).unwrap_err();
        assert!(e.contains("late"), "{e}");
    }
}
