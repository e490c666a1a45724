//! The process-wide Prometheus recorder: installed once (the `metrics`
//! facade allows one global recorder per process), with real histogram
//! buckets for every histogram of the catalog (never the exporter's default
//! summaries, whose quantiles are per-process and cannot be aggregated), and
//! an upkeep thread that drains histogram samples so memory stays bounded
//! even when nobody scrapes.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::catalog::{MetricKind, CATALOG, LATENCY_BUCKETS};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// How often the upkeep thread drains histogram samples.
const UPKEEP_PERIOD: Duration = Duration::from_secs(5);

fn builder() -> PrometheusBuilder {
    // Global buckets too, so that a histogram missing from the catalog is
    // still a histogram (the catalog test keeps that from happening).
    let mut b = PrometheusBuilder::new()
        .set_buckets(LATENCY_BUCKETS)
        .expect("latency buckets are not empty");
    for m in CATALOG.iter().filter(|m| m.kind == MetricKind::Histogram) {
        b = b
            .set_buckets_for_metric(Matcher::Full(m.name.to_string()), m.buckets)
            .expect("every catalog histogram has buckets");
    }
    b
}

/// Installs the recorder on first call and answers its handle; later calls
/// (other servers, other cores in the same process) share it. If another
/// recorder was installed first (a test's, a benchmark's), the handle of a
/// recorder that is not installed is answered: `/metrics` then shows the
/// descriptions only, and a warning says why.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let handle = match builder().install_recorder() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: another recorder is installed; /metrics will stay empty");
                builder().build_recorder().handle()
            }
        };
        super::describe_all();
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("orchestrator-metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_PERIOD);
                upkeep.run_upkeep();
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "metrics: no upkeep thread; histograms drain on scrape only");
        }
        handle
    })
}

/// The handle, if the recorder was installed.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}
