//! The catalog keeps its naming rules, `docs/metrics.md` documents exactly
//! the catalog, and the Grafana dashboard and the Prometheus rules name only
//! metrics of the catalog (a renamed metric breaks this test, not a panel
//! at 3 a.m.).

use std::collections::BTreeSet;
use std::path::PathBuf;

use orch_runtime::metrics::catalog::{spec, MetricKind, CATALOG};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every `orchestrator_...` token of a text (recording rules, which use
/// `orchestrator:...`, are not metric names of the core).
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(at) = text[i..].find("orchestrator_") {
        let start = i + at;
        let boundary = start == 0 || {
            let b = bytes[start - 1];
            !(b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        };
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        // A bare `orchestrator_` is prose about the prefix, not a name.
        if boundary && end > start + "orchestrator_".len() {
            out.insert(text[start..end].to_string());
        }
        i = end;
    }
    out
}

/// The catalog metric a name in a query refers to (`_bucket`, `_sum`,
/// `_count` of a histogram are the histogram).
fn resolve(name: &str) -> Option<&'static str> {
    if let Some(s) = spec(name) {
        return Some(s.name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        spec(base)
            .filter(|s| s.kind == MetricKind::Histogram)
            .map(|s| s.name)
    })
}

#[test]
fn catalog_follows_the_naming_rules() {
    let mut seen = BTreeSet::new();
    for m in CATALOG {
        assert!(seen.insert(m.name), "{} twice", m.name);
        assert!(m.name.starts_with("orchestrator_"), "{}", m.name);
        assert!(
            m.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{} is not snake_case",
            m.name
        );
        assert_eq!(
            m.kind == MetricKind::Counter,
            m.name.ends_with("_total"),
            "{}: counters and only counters end in _total",
            m.name
        );
        for bad in ["_ms", "_milliseconds", "_us", "_count", "_sum", "_bucket"] {
            assert!(
                !m.name.ends_with(bad),
                "{}: unit or reserved suffix",
                m.name
            );
        }
        assert!(
            m.help.len() > 20 && m.help.ends_with('.'),
            "{}: help",
            m.name
        );
        for l in m.labels {
            assert!(
                !["le", "quantile", "sku", "order", "order_id", "event_id", "sku_id"].contains(l),
                "{}: label {l} is reserved or unbounded",
                m.name
            );
        }
        if m.kind == MetricKind::Histogram {
            assert!(!m.buckets.is_empty(), "{}: buckets", m.name);
            assert!(
                m.buckets.windows(2).all(|w| w[0] < w[1]),
                "{}: buckets ascend",
                m.name
            );
        } else {
            assert!(m.buckets.is_empty(), "{}", m.name);
        }
    }
    // Latency histograms reach below a millisecond and up to seconds, with
    // a bound at the 10 ms place SLO the alert uses.
    let place = spec("orchestrator_place_duration_seconds").unwrap();
    assert!(place.buckets[0] < 0.001 && *place.buckets.last().unwrap() >= 5.0);
    assert!(place.buckets.contains(&0.01));
}

#[test]
fn docs_list_exactly_the_catalog() {
    let doc = read("docs/metrics.md");
    let documented: BTreeSet<String> = names_in(&doc)
        .into_iter()
        .map(|n| {
            resolve(&n)
                .unwrap_or_else(|| panic!("docs/metrics.md names {n}, not in the catalog"))
                .to_string()
        })
        .collect();
    for m in CATALOG {
        assert!(
            doc.contains(&format!("`{}`", m.name)),
            "{} is not documented in docs/metrics.md",
            m.name
        );
        assert!(documented.contains(m.name));
    }
}

fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if k == "expr" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                }
                exprs(x, out);
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| exprs(x, out)),
        _ => {}
    }
}

#[test]
fn dashboard_queries_name_only_catalog_metrics() {
    let text = read("ops/grafana/orchestrator.json");
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert!(dash["title"].is_string());
    let panels = dash["panels"].as_array().expect("panels");
    assert!(panels.len() >= 10, "{} panels", panels.len());
    let mut queries = Vec::new();
    exprs(&dash, &mut queries);
    assert!(queries.len() >= panels.len() - panels.iter().filter(|p| p["type"] == "row").count());
    let mut used = BTreeSet::new();
    for q in &queries {
        let names = names_in(q);
        assert!(
            !names.is_empty() || q.contains("up{"),
            "query names no metric: {q}"
        );
        for n in names {
            let m = resolve(&n)
                .unwrap_or_else(|| panic!("dashboard query names {n}, not in the catalog: {q}"));
            used.insert(m);
        }
    }
    // The panels: throughput, latency by operation, backlog,
    // waves, scans, KPIs, journal and snapshot health.
    for must in [
        "orchestrator_orders_placed_total",
        "orchestrator_place_duration_seconds",
        "orchestrator_operation_duration_seconds",
        "orchestrator_facility_queued_fulfillments",
        "orchestrator_waves_released_total",
        "orchestrator_scans_total",
        "orchestrator_lines_reserved_total",
        "orchestrator_routing_decisions_total",
        "orchestrator_oversell_total",
        "orchestrator_journal_batch_duration_seconds",
        "orchestrator_snapshot_age_seconds",
    ] {
        assert!(used.contains(must), "no panel shows {must}");
    }
}

#[test]
fn rules_name_only_catalog_metrics() {
    for file in [
        "ops/alerts.yml",
        "ops/alerts.test.yml",
        "ops/prometheus.yml",
    ] {
        for n in names_in(&read(file)) {
            assert!(
                resolve(&n).is_some(),
                "{file} names {n}, not in the catalog"
            );
        }
    }
}
