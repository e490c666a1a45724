//! The hooks the actor shells and durability call: each one shows up in
//! the rendered text under its catalog name, with bounded labels.
//! One process of its own (the recorder is process-wide).

mod metrics_common;

use std::time::Duration;

use orch_runtime::metrics::{self, ActorKind};

#[test]
fn hooks_render_under_their_catalog_names() {
    metrics::install();
    metrics::reservation("reserved");
    metrics::reservation("short");
    metrics::reservation("short");
    metrics::reserve_duration(Duration::from_micros(40));
    metrics::route_duration(Duration::from_micros(700));
    metrics::fulfillment_shipped(1_000, 61_000);
    metrics::fulfillment_delivered(1_000, 3_601_000);
    metrics::mailbox_depth(ActorKind::Cell, 7);
    metrics::mailbox_depth(ActorKind::Cell, 3);
    metrics::journal_batch(Duration::from_millis(2), 64);
    metrics::snapshot_finished(Duration::from_millis(1500));
    metrics::recovery_finished(Duration::from_millis(2500), 12_345);
    metrics::set_ready(true);
    metrics::watch_journal(|| orch_journal::JournalStats {
        mode: orch_journal::Mode::Fsync,
        format_version: 1,
        records: 100,
        bytes: 4096,
        batches: 10,
        fsyncs: 10,
        last_seq: 100,
        durable_seq: 100,
        pending_bytes: 512,
        healthy: true,
        last_error: None,
        commit_ns_total: 1_000_000,
        active_segment_first_seq: 1,
    });
    // What the sampler does each second.
    metrics::publish_process_gauges();

    let e = metrics_common::parse(&metrics::render());
    assert_eq!(
        e.sum("orchestrator_reservations_total", &[("result", "short")]),
        2.0
    );
    assert_eq!(
        e.sum("orchestrator_reservations_total", &[("result", "refused")]),
        0.0,
        "pre-registered at 0"
    );
    assert_eq!(e.sum("orchestrator_oversell_refusals_total", &[]), 2.0);
    assert_eq!(e.sum("orchestrator_oversell_total", &[]), 0.0);
    metrics::oversold();
    let e = metrics_common::parse(&metrics::render());
    assert_eq!(e.sum("orchestrator_oversell_total", &[]), 1.0);
    assert_eq!(
        e.sum("orchestrator_reserve_duration_seconds_count", &[]),
        1.0
    );
    assert_eq!(
        e.sum(
            "orchestrator_reserve_duration_seconds_bucket",
            &[("le", "0.00005")]
        ),
        1.0,
        "40 µs falls in the first bucket"
    );
    assert_eq!(
        e.sum("orchestrator_route_duration_seconds_sum", &[]),
        0.0007
    );
    assert_eq!(
        e.sum(
            "orchestrator_order_cycle_duration_seconds_sum",
            &[("until", "shipped")]
        ),
        60.0
    );
    assert_eq!(
        e.sum(
            "orchestrator_order_cycle_duration_seconds_bucket",
            &[("until", "delivered"), ("le", "3600")]
        ),
        1.0
    );
    assert_eq!(
        e.sum("orchestrator_mailbox_depth_max", &[("kind", "cell")]),
        7.0
    );
    assert_eq!(
        e.sum("orchestrator_journal_batch_records_bucket", &[("le", "64")]),
        1.0
    );
    assert_eq!(
        e.sum("orchestrator_journal_batch_duration_seconds_count", &[]),
        1.0
    );
    assert_eq!(
        e.sum("orchestrator_snapshot_duration_seconds_sum", &[]),
        1.5
    );
    assert!(e.sum("orchestrator_snapshot_age_seconds", &[]) < 5.0);
    assert_eq!(e.sum("orchestrator_recovery_duration_seconds", &[]), 2.5);
    assert_eq!(
        e.sum("orchestrator_recovery_events_replayed", &[]),
        12_345.0
    );
    assert_eq!(e.sum("orchestrator_ready", &[]), 1.0);
    assert_eq!(e.sum("orchestrator_journal_records_total", &[]), 100.0);
    assert_eq!(e.sum("orchestrator_journal_bytes_total", &[]), 4096.0);
    assert_eq!(e.sum("orchestrator_journal_pending_bytes", &[]), 512.0);
    assert_eq!(e.sum("orchestrator_journal_healthy", &[]), 1.0);
    assert!(!e.types.values().any(|t| t == "summary"));

    // The maxima start over after each sample.
    metrics::publish_process_gauges();
    let e = metrics_common::parse(&metrics::render());
    assert_eq!(
        e.sum("orchestrator_mailbox_depth_max", &[("kind", "cell")]),
        0.0
    );
    metrics::unwatch_journal();
}
