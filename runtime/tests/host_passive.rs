//! Passivation on the shard engine: after a snapshot, finished idle orders
//! leave the shards' memory; reads answer them from the snapshot store, a
//! scan brings one back and applies, an order changed since the snapshot
//! stays, and a restart keeps what the woken order did.

use std::sync::Arc;

use orch_config::{Config, DurabilityMode, EngineKind, Network, StockEntry};
use orch_runtime::dto::{LineInput, PlaceOrder, ScanInput, ShipTo};
use orch_runtime::host::{Clock, HostOptions};
use orch_runtime::hosted::start::HostedRuntime;
use orch_runtime::persist::Durability;

mod host_common;
use host_common::{facility, hold, T0};

fn config(dir: &std::path::Path) -> Config {
    let mut cfg = Config::with_network(Network {
        facilities: vec![facility("DC-01", 40.7, -74.0, 3_600_000)],
        skus: vec!["SKU-0".into()],
        stock: vec![StockEntry {
            sku: 0,
            facility: 0,
            on_hand: 10,
            safety_stock: 0,
        }],
    });
    cfg.runtime.engine = EngineKind::Host;
    cfg.durability.data_dir = dir.display().to_string();
    cfg.durability.passivate_after_ms = 0;
    cfg.durability.mode = DurabilityMode::Fsync;
    cfg
}

fn start(cfg: &Config) -> HostedRuntime {
    let (clock, _hand) = Clock::manual(T0);
    let (durability, _) = Durability::open(&cfg.durability).expect("open the journal");
    HostedRuntime::start_with(
        cfg,
        HostOptions::from_config(cfg),
        Arc::new(durability),
        clock,
    )
    .expect("start")
}

fn order(id: &str) -> PlaceOrder {
    PlaceOrder {
        order_id: id.into(),
        channel: "web".into(),
        ship_to: ShipTo {
            lat: 40.7,
            lon: -74.0,
        },
        service_level: "standard".into(),
        lines: vec![LineInput {
            sku: "SKU-0".into(),
            qty: 1,
        }],
        allow_backorder: Some(false),
    }
}

fn scan(order: &str, id: &str, kind: &str) -> ScanInput {
    ScanInput {
        event_id: id.into(),
        kind: kind.into(),
        order_id: order.into(),
        fulfillment_id: format!("{order}/1"),
        facility_id: "DC-01".into(),
        ..Default::default()
    }
}

/// Every scan from pick to delivered for `order`'s one fulfillment.
fn deliver(order: &str) -> Vec<ScanInput> {
    let mut pick = scan(order, &format!("{order}-p"), "pick");
    pick.sku = Some("SKU-0".into());
    pick.qty = Some(1);
    let mut ship = scan(order, &format!("{order}-s"), "ship");
    ship.carrier = Some("UPS".into());
    ship.tracking = Some(format!("T-{order}"));
    vec![
        pick,
        scan(order, &format!("{order}-k"), "pack"),
        ship,
        scan(order, &format!("{order}-d"), "delivered"),
    ]
}

async fn passive(rt: &HostedRuntime) -> usize {
    rt.core()
        .host()
        .read_all(|s| s.passive_orders())
        .await
        .expect("read the shards")
        .into_iter()
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_orders_leave_memory_and_come_back_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let rt = start(&cfg);
    let core = rt.core();
    for id in ["o-done", "o-open", "o-cancel"] {
        core.place(&order(id)).await.expect("placed");
    }
    core.release_wave("DC-01").await.expect("released");
    let r = core.try_scans(&deliver("o-done")).await.unwrap();
    assert!(r.iter().all(|x| x.result == "applied"), "{r:?}");
    core.cancel("o-cancel").await.expect("cancelled");
    let before = core.order("o-done").await.unwrap();
    let cancelled = core.order("o-cancel").await.unwrap();
    assert_eq!(before.status, "delivered");

    rt.checkpoint_now().expect("a snapshot");
    assert_eq!(
        passive(&rt).await,
        2,
        "the delivered and the cancelled order"
    );
    // Read from the store: the same answer as from memory.
    assert_eq!(core.order("o-done").await.unwrap(), before);
    assert_eq!(core.order("o-cancel").await.unwrap(), cancelled);
    assert_eq!(core.order("o-open").await.unwrap().status, "released");

    // A return brings the delivered order back and applies.
    let mut ret = scan("o-done", "o-done-r", "return_received");
    ret.sku = Some("SKU-0".into());
    ret.qty = Some(1);
    ret.disposition = Some("restock".into());
    let r = core.try_scans(std::slice::from_ref(&ret)).await.unwrap();
    assert_eq!(r[0].result, "applied", "{r:?}");
    assert_eq!(passive(&rt).await, 1, "woken");
    let returned = core.order("o-done").await.unwrap();
    assert_ne!(returned, before);
    assert!(returned.timeline.len() > before.timeline.len());
    // A cancel of a passive cancelled order: woken, answered as before.
    let again = core.cancel("o-cancel").await;
    assert_eq!(
        again.as_ref().map(|v| v.status.clone()).ok(),
        Some("cancelled".into()),
        "{again:?}"
    );
    let audit = core.audit().await.expect("audit");
    assert!(audit.passed(), "{audit:?}");

    // The woken order changed since the snapshot: the next one keeps it
    // (and may let it go again, unchanged since then); a restart too.
    rt.checkpoint_now().expect("a snapshot");
    assert_eq!(core.order("o-done").await.unwrap(), returned);
    rt.shutdown();
    drop(rt);
    let rt = start(&cfg);
    assert_eq!(rt.core().order("o-done").await.unwrap(), returned);
    let r = rt.core().try_scans(&[ret]).await.unwrap();
    assert_eq!(r[0].result, "duplicate", "{r:?}");
    rt.shutdown();
}

/// Every order number in the shards' memory, by client id.
async fn numbers(rt: &HostedRuntime) -> std::collections::HashMap<String, u64> {
    rt.core()
        .host()
        .read_all(|s| {
            s.orders()
                .map(|o| (o.request().order_id.to_string(), o.no().0))
                .collect::<Vec<_>>()
        })
        .await
        .expect("read the shards")
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_orders_past_retention_are_forgotten_and_numbers_never_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // The orders are dated by the test's clock, days before the wall
    // clock the checkpoint reads: a day's retention has passed for them.
    cfg.durability.orders_retention_ms = 24 * 3_600_000;
    cfg.durability.passivate_after_ms = 3_600_000;
    let rt = start(&cfg);
    let core = rt.core();
    for id in ["o-old", "o-open"] {
        core.place(&order(id)).await.expect("placed");
    }
    core.cancel("o-old").await.expect("cancelled");
    let before = numbers(&rt).await;
    let info = rt.checkpoint_now().expect("a snapshot");
    assert_eq!(info.forgotten, 1, "{info:?}");
    let gone = core.order("o-old").await.expect_err("forgotten");
    assert_eq!(gone.code, "order_not_found", "{gone:?}");
    assert_eq!(core.order("o-open").await.unwrap().status, "routed");
    // Its id is free: the same id is a new order, with a new number.
    let again = core.place(&order("o-old")).await.expect("placed again");
    assert!(!again.replay);
    let after = numbers(&rt).await;
    assert!(after["o-old"] > before["o-old"] && after["o-old"] != before["o-open"]);
    // A restart after another snapshot forgets nothing more, and numbers
    // resume above every number given, forgotten ones too.
    core.cancel("o-old").await.expect("cancelled");
    core.cancel("o-open").await.expect("cancelled");
    let info = rt.checkpoint_now().expect("a snapshot");
    assert_eq!(info.forgotten, 2, "{info:?}");
    rt.shutdown();
    drop(rt);
    let rt = start(&cfg);
    assert!(numbers(&rt).await.is_empty(), "nothing left to restore");
    rt.core().place(&order("o-next")).await.expect("placed");
    let next = numbers(&rt).await["o-next"];
    assert!(
        before.values().chain(after.values()).all(|&n| next > n),
        "{next} after {before:?} {after:?}"
    );
    rt.shutdown();
}

/// Ended holds past retention leave the shards, the client ids and the
/// snapshot; an active hold stays; the same hold id is a new hold then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_holds_past_retention_are_forgotten() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    // Dated by the test's clock, days before the wall clock the
    // checkpoint reads: a day's retention has passed for them.
    cfg.durability.orders_retention_ms = 24 * 3_600_000;
    let rt = start(&cfg);
    let core = rt.core();
    for id in ["h-old", "h-open"] {
        core.create_hold(&hold(id, 1)).await.expect("held");
    }
    core.release_hold("h-old").await.expect("released");
    let info = rt.checkpoint_now().expect("a snapshot");
    assert_eq!(info.holds_forgotten, 1, "{info:?}");
    let gone = core.hold("h-old").await.expect_err("forgotten");
    assert_eq!(gone.code, "hold_not_found", "{gone:?}");
    assert_eq!(core.hold("h-open").await.unwrap().status, "active");
    core.create_hold(&hold("h-old", 1))
        .await
        .expect("a new hold");
    rt.shutdown();
    drop(rt);
    let store = orch_runtime::persist::snapshot::SnapshotStore::open(&dir.path().join("snapshots"))
        .unwrap();
    let loaded = store.load().unwrap().expect("a snapshot");
    assert_eq!(loaded.holds.len(), 1, "only the active hold was written");
}
