//! Durability: what the core acknowledged comes back after a restart, the
//! exact state of every actor is rebuilt from the journal, a journal that
//! cannot write never acknowledges, and mid-journal corruption stops start-up.

use orch_actors::cell::CellState;
use orch_actors::order::OrderState;
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, DurabilityMode};
use orch_runtime::dto::*;
use orch_runtime::facade::States;
use orch_runtime::{ErrorKind, Orchestrator};

fn config(dir: &std::path::Path, mode: DurabilityMode) -> Config {
    let mut cfg = Config::with_network(generate(&Bf1Params {
        scale: 0.01,
        seed: 21,
    }));
    cfg.runtime.workers = 2;
    cfg.durability.mode = mode;
    cfg.durability.data_dir = dir.display().to_string();
    cfg
}

fn order(i: usize, skus: &[String]) -> PlaceOrder {
    let lines = (0..1 + i % 3)
        .map(|k| LineInput {
            sku: skus[(i * 7 + k * 13) % 40].clone(),
            qty: 1 + (i % 2) as i64,
        })
        .collect();
    PlaceOrder {
        order_id: format!("r-{i}"),
        channel: ["web", "app", "store"][i % 3].into(),
        ship_to: ShipTo {
            lat: 30.0 + (i % 15) as f64,
            lon: -120.0 + (i % 50) as f64,
        },
        service_level: ["same_day", "next_day", "standard"][i % 3].into(),
        lines,
        allow_backorder: None,
    }
}

fn scan(v: &OrderView, f: &FulfillmentView, id: String, kind: &str) -> ScanInput {
    ScanInput {
        event_id: id,
        kind: kind.into(),
        order_id: v.order_id.clone(),
        fulfillment_id: f.fulfillment_id.clone(),
        facility_id: f.facility_id.clone(),
        ..Default::default()
    }
}

/// Several thousand mixed operations: placements, cancels, receipts,
/// adjustments, a closure, waves, the floor and the carriers, returns.
async fn drive(core: &Orchestrator, cfg: &Config, n: usize) {
    let skus = &cfg.network.skus;
    let orders: Vec<PlaceOrder> = (0..n).map(|i| order(i, skus)).collect();
    for chunk in orders.chunks(250) {
        for r in core.place_batch(chunk).await {
            r.unwrap();
        }
    }
    for i in (0..n).step_by(37) {
        core.cancel(&format!("r-{i}")).await.unwrap();
    }
    let receipts: Vec<ReceiptInput> = (0..40)
        .map(|k| ReceiptInput {
            sku: skus[k].clone(),
            facility_id: cfg.network.facilities[k % 3].id.clone(),
            qty: 5,
            receipt_id: format!("rc-{k}"),
        })
        .collect();
    core.receive(&receipts).await.unwrap();
    let adjustments: Vec<AdjustmentInput> = (40..60)
        .map(|k| AdjustmentInput {
            sku: skus[k].clone(),
            facility_id: cfg.network.facilities[0].id.clone(),
            on_hand: 7,
            adjustment_id: format!("ad-{k}"),
        })
        .collect();
    core.adjust(&adjustments).await.unwrap();
    core.set_facility_status(
        &cfg.network.facilities[1].id,
        &FacilityStatusInput {
            enabled: false,
            until: Some("2999-01-01T00:00:00Z".into()),
        },
    )
    .await
    .unwrap();
    core.release_all_waves().await;
    let mut events = Vec::new();
    let mut e = 0;
    for i in 0..n {
        let v = core.order(&format!("r-{i}")).await.unwrap();
        for f in v.fulfillments.iter().filter(|f| f.status == "released") {
            for l in &f.lines {
                let mut p = scan(&v, f, format!("e{e}"), "pick");
                e += 1;
                p.sku = Some(l.sku.clone());
                p.qty = Some(i64::from(l.qty));
                events.push(p);
            }
            if i % 4 == 0 {
                continue; // picked, not packed
            }
            events.push(scan(&v, f, format!("e{e}"), "pack"));
            e += 1;
            let mut s = scan(&v, f, format!("e{e}"), "ship");
            e += 1;
            s.carrier = Some("UPS".into());
            s.tracking = Some(format!("T{e}"));
            events.push(s);
            if i % 3 == 0 {
                continue; // shipped, still moving
            }
            events.push(scan(&v, f, format!("e{e}"), "delivered"));
            e += 1;
            if i % 5 == 1 {
                for l in &f.lines {
                    let mut r = scan(&v, f, format!("e{e}"), "return_received");
                    e += 1;
                    r.sku = Some(l.sku.clone());
                    r.qty = Some(i64::from(l.qty));
                    r.disposition = Some(if i % 2 == 0 { "dispose" } else { "restock" }.into());
                    events.push(r);
                }
            }
        }
    }
    for chunk in events.chunks(1000) {
        for r in core.scans(chunk).await {
            assert_ne!(r.result, "rejected", "{r:?}");
        }
    }
}

/// The parts of the states that must survive: cells without the
/// oversell-attempt counter (a metric, not journaled), orders in full,
/// waiting lines, facility queues and status.
fn comparable(s: &States) -> (Vec<String>, Vec<OrderState>, Vec<String>, Vec<String>) {
    let cells = s
        .cells
        .iter()
        .filter(|(_, c)| *c != CellState::default())
        .map(|(k, c)| {
            let mut ledger = *c.ledger();
            ledger.oversell_refusals = 0;
            let mut res: Vec<_> = c.reservations().collect();
            res.sort();
            format!(
                "{k:?} {} {} {} {res:?} {ledger:?}",
                c.on_hand(),
                c.reserved(),
                c.safety_stock()
            )
        })
        .collect();
    let orders = s.orders.clone();
    let desks = s
        .desks
        .iter()
        .filter(|(_, d)| d.waiting() > 0)
        .map(|(k, d)| format!("{k:?} {:?}", d.queue().collect::<Vec<_>>()))
        .collect();
    let facilities = s
        .facilities
        .iter()
        .map(|f| {
            format!(
                "{} q{} w{} {:?}",
                f.id(),
                f.queued(),
                f.open_waves(),
                f.disabled_until()
            )
        })
        .collect();
    (cells, orders, desks, facilities)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_rebuilds_the_exact_state_of_every_actor() {
    for mode in [DurabilityMode::Fsync, DurabilityMode::Os] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path(), mode);
        let mut cfg = cfg;
        cfg.durability.segment_bytes_max = 64 * 1024;
        let core = Orchestrator::try_start(&cfg).unwrap();
        drive(&core, &cfg, 1500).await;
        // A snapshot in the middle: recovery loads it and replays only what
        // came after; the segments it covers are gone.
        let snap = core.checkpoint_now().unwrap();
        assert!(snap.meta.seq > 0 && snap.segments_deleted > 0, "{snap:?}");
        for i in 0..60 {
            core.place(&order(50_000 + i, &cfg.network.skus))
                .await
                .unwrap();
        }
        core.cancel("r-50001").await.unwrap();
        let before = core.states().await;
        let audit = core.audit().await;
        assert!(audit.passed(), "{}", audit.failures());
        core.shutdown();

        let core = same_after_restart(&cfg, &before, &format!("{mode:?}")).await;
        let info = core.recovery_info();
        assert_eq!(info.snapshot_seq, snap.meta.seq, "{info:?}");
        assert!(info.records > 0 && info.records < 200, "{info:?}");
        // Idempotency keys survive too, and the core goes on working.
        let again = core.place(&order(3, &cfg.network.skus)).await.unwrap();
        assert!(again.replay);
        let r = core
            .receive(&[ReceiptInput {
                sku: cfg.network.skus[0].clone(),
                facility_id: cfg.network.facilities[0].id.clone(),
                qty: 5,
                receipt_id: "rc-0".into(),
            }])
            .await
            .unwrap();
        assert_eq!(r[0].result, "duplicate");
        let fresh = core
            .place(&order(100_000, &cfg.network.skus))
            .await
            .unwrap();
        assert!(!fresh.replay);
        core.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_cannot_write_never_acknowledges() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), DurabilityMode::Fsync);
    let fault = orch_journal::FaultInjector::new();
    let opts = orch_journal::JournalOptions {
        mode: orch_journal::Mode::Fsync,
        fault: Some(fault.clone()),
        retry_failed_batches: true,
        ..orch_journal::JournalOptions::default()
    };
    let (durability, opened) = orch_runtime::persist::Durability::open_with(
        DurabilityMode::Fsync,
        dir.path().join("journal"),
        opts,
    )
    .unwrap();
    let core = Orchestrator::start_with(&cfg, durability, opened).unwrap();
    let skus = cfg.network.skus.clone();
    core.place(&order(1, &skus)).await.unwrap();

    fault.fail_writes(true);
    let pending = {
        let core = core.clone();
        let o = order(2, &skus);
        tokio::spawn(async move { core.place(&o).await })
    };
    // Wait until the writer has met the fault (it then holds the batch).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while core.journal_stats().healthy && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        !pending.is_finished(),
        "acknowledged while the journal cannot write"
    );
    let e = core.place(&order(3, &skus)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable, "{e:?}");
    assert!(e.message.contains("journal"), "{e:?}");
    let e = core
        .try_scans(&[ScanInput {
            event_id: "x".into(),
            ..Default::default()
        }])
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unavailable);

    fault.fail_writes(false);
    let placed = pending.await.unwrap().unwrap();
    assert_eq!(placed.order.order_id, "r-2");
    core.place(&order(4, &skus)).await.unwrap();
    assert!(core.journal_stats().healthy);
    core.shutdown();

    // What was acknowledged is there after a restart; what was refused is not.
    let core = Orchestrator::try_start(&cfg).unwrap();
    for id in ["r-1", "r-2", "r-4"] {
        core.order(id).await.unwrap();
    }
    assert_eq!(
        core.order("r-3").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    core.shutdown();
}

#[test]
fn corruption_in_the_middle_is_a_startup_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), DurabilityMode::Fsync);
    cfg.durability.segment_bytes_max = 1 << 30;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let core = Orchestrator::try_start(&cfg).unwrap();
    rt.block_on(async {
        let skus = cfg.network.skus.clone();
        for i in 0..50 {
            core.place(&order(i, &skus)).await.unwrap();
        }
    });
    core.shutdown();
    let seg = std::fs::read_dir(dir.path().join("journal"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&seg, bytes).unwrap();
    let err = Orchestrator::try_start(&cfg)
        .err()
        .expect("a corrupt journal must not start");
    let name = seg.file_name().unwrap().to_string_lossy().to_string();
    assert!(err.contains(&name), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_idle_orders_leave_memory_and_come_back_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), DurabilityMode::Os);
    cfg.durability.passivate_after_ms = 0;
    let core = Orchestrator::try_start(&cfg).unwrap();
    drive(&core, &cfg, 400).await;
    let before = core.states().await;
    let finished = before
        .orders
        .iter()
        .filter(|o| o.status().is_final())
        .count();
    assert!(finished > 50, "{finished}");
    let resident = core.shared().orders.len();
    core.checkpoint_now().unwrap();
    // Passivation is asked by message; wait until the actors have gone.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while core.shared().orders.len() > resident - finished && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let left = core.shared().orders.len();
    assert_eq!(
        left,
        resident - finished,
        "every finished order left memory"
    );
    // Still answered, and still takes events (a return of a delivered order).
    let delivered = before
        .orders
        .iter()
        .find(|o| o.status() == orch_actors::order::OrderStatus::Delivered)
        .expect("a delivered order");
    let id = delivered.request().order_id.to_string();
    let v = core.order(&id).await.unwrap();
    assert_eq!(v.status, "delivered");
    let f = &v.fulfillments[0];
    let mut r = scan(&v, f, "late-return".into(), "return_received");
    r.sku = Some(f.lines[0].sku.clone());
    r.qty = Some(1);
    r.disposition = Some("restock".into());
    assert_eq!(core.scans(&[r]).await[0].result, "applied");
    assert_eq!(
        core.shared().orders.len(),
        left + 1,
        "brought back on demand"
    );
    // The audit sees passive orders too, and so does a restart.
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    let before = core.states().await;
    core.shutdown();
    let core = Orchestrator::try_start(&cfg).unwrap();
    assert!(core.shared().orders.len() < before.orders.len());
    let after = core.states().await;
    assert!(
        after.orders == before.orders,
        "orders differ after a restart with passive orders"
    );
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_snapshot_conf_is_rebuilt_and_the_core_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), DurabilityMode::Fsync);
    cfg.durability.segment_bytes_max = 64 * 1024;
    let core = Orchestrator::try_start(&cfg).unwrap();
    drive(&core, &cfg, 300).await;
    let snap = core.checkpoint_now().unwrap();
    assert!(snap.segments_deleted > 0, "{snap:?}");
    let before = comparable(&core.states().await);
    core.shutdown();

    // sled never fsyncs its 62-byte conf: a power cut can leave it torn.
    let conf = dir.path().join("snapshots").join("conf");
    let good = std::fs::read(&conf).unwrap();
    let mut torn = good[..40].to_vec();
    torn.extend_from_slice(&[0xa5; 9]);
    std::fs::write(&conf, &torn).unwrap();

    let core = Orchestrator::try_start(&cfg).expect("starts with a torn snapshots/conf");
    assert_eq!(core.recovery_info().snapshot_seq, snap.meta.seq);
    let after = comparable(&core.states().await);
    assert!(
        before == after,
        "the state differs after the conf was rebuilt"
    );
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
    assert_eq!(
        std::fs::read(&conf).unwrap(),
        good,
        "conf is rebuilt as sled wrote it"
    );
}

/// Restarts on `cfg` and checks the state equals `before` (cells, orders,
/// waiting lines, facilities) and the audit passes; answers the core.
async fn same_after_restart(cfg: &Config, before: &States, what: &str) -> Orchestrator {
    let core = Orchestrator::try_start(cfg).unwrap();
    let after = core.states().await;
    let (b, a) = (comparable(before), comparable(&after));
    let only_after: Vec<_> = a.0.iter().filter(|c| !b.0.contains(c)).collect();
    let only_before: Vec<_> = b.0.iter().filter(|c| !a.0.contains(c)).collect();
    assert!(
        only_after.is_empty() && only_before.is_empty(),
        "{what}: cells differ after recovery:\nbefore: {only_before:#?}\nafter: {only_after:#?}"
    );
    assert_eq!(a.1.len(), b.1.len(), "{what}: orders after recovery");
    for (x, y) in a.1.iter().zip(&b.1) {
        assert!(
            x == y,
            "{what}: an order differs after recovery:\n{x:?}\n{y:?}"
        );
    }
    assert_eq!(a.2, b.2, "{what}: waiting lines differ after recovery");
    assert_eq!(a.3, b.3, "{what}: facilities differ after recovery");
    let audit = core.audit().await;
    assert!(audit.passed(), "{what}: {}", audit.failures());
    core
}

/// A checkpoint after the first writes only the chunks of the orders that
/// changed (a delta layer); older deltas are folded into the base, and a
/// restart over base + delta + journal tail rebuilds the exact state. The
/// snapshot keeps only the last `seen_ids_max` receipt ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_writes_only_the_orders_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), DurabilityMode::Fsync);
    cfg.limits.seen_ids_max = 30;
    let core = Orchestrator::try_start(&cfg).unwrap();
    drive(&core, &cfg, 1500).await;
    let plain: Vec<PlaceOrder> = (0..3000)
        .map(|i| order(10_000 + i, &cfg.network.skus))
        .collect();
    for chunk in plain.chunks(250) {
        for r in core.place_batch(chunk).await {
            r.unwrap();
        }
    }
    // Every queued fulfillment released now, so no timer's wave names
    // orders between the checkpoints.
    core.release_all_waves().await;
    let first = core.checkpoint_now().unwrap();
    assert!(first.full, "{first:?}");
    assert!(first.orders_written >= 4500, "{first:?}");

    // One order changes (a pack scan: no stock moves, no other order is
    // touched): the next checkpoint writes its chunk alone.
    let mut packed = false;
    for i in (0..1500).step_by(4) {
        let v = core.order(&format!("r-{i}")).await.unwrap();
        let picked = |f: &&FulfillmentView| !["released", "cancelled"].contains(&&*f.status);
        if let Some(f) = v.fulfillments.first().filter(picked) {
            let r = core.scans(&[scan(&v, f, "late-pack".into(), "pack")]).await;
            packed = r[0].result == "applied";
            break;
        }
    }
    assert!(packed, "a picked fulfillment was packed");
    let second = core.checkpoint_now().unwrap();
    assert!(!second.full, "{second:?}");
    assert!(
        (1..=1024).contains(&second.orders_written),
        "one chunk, not every order: {second:?}"
    );
    // Changes in other chunks: the first delta is folded into the base.
    core.cancel("r-12990").await.unwrap();
    for i in 0..40 {
        core.place(&order(20_000 + i, &cfg.network.skus))
            .await
            .unwrap();
    }
    let third = core.checkpoint_now().unwrap();
    assert!(
        !third.full && third.orders_written < first.orders_written,
        "{third:?}"
    );
    assert!(third.meta.seq > second.meta.seq);
    // And a journal tail after it.
    core.cancel("r-10500").await.unwrap();
    let before = core.states().await;
    core.shutdown();

    let core = same_after_restart(&cfg, &before, "base + delta + tail").await;
    assert_eq!(core.recovery_info().snapshot_seq, third.meta.seq);
    core.shutdown();
    let store = orch_runtime::persist::snapshot::SnapshotStore::open(&dir.path().join("snapshots"))
        .unwrap();
    let loaded = store.load().unwrap().expect("a snapshot");
    assert_eq!(loaded.receipts.len(), 30, "the last seen_ids_max ids");
    assert_eq!(loaded.orders.len(), before.orders.len());
}
