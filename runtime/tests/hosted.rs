//! The application over the engine host (`orch_runtime::hosted`), in
//! process: placements with replay and conflict, order reads and cancels,
//! holds created, read, extended, released and expired by the injected
//! clock, refusals naming their field, and client ids that survive a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use orch_config::{
    Config, DurabilityMode, FacilityConfig, FacilityKind, Millis, Network, StockEntry, WavePolicy,
};
use orch_engine::ShardLimits;
use orch_journal::{JournalOptions, Mode};
use orch_runtime::dto::{HoldInput, LineInput, PlaceOrder, ShipTo};
use orch_runtime::host::{Clock, Host, HostOptions, ManualClock};
use orch_runtime::hosted::HostedCore;
use orch_runtime::persist::Durability;
use orch_runtime::ErrorKind;

/// Midnight UTC, 2026-11-27.
const T0: Millis = 1_795_737_600_000;

fn facility(id: &str, lat: f64, lon: f64) -> FacilityConfig {
    FacilityConfig {
        id: id.into(),
        kind: FacilityKind::Dc,
        lat,
        lon,
        capacity_per_hour: 1_000,
        cost_per_fulfillment: 1.0,
        zones: vec!["A".into()],
        wave: WavePolicy {
            size_max: 100,
            wait_ms_max: 3_600_000,
        },
        cutoffs: vec![],
        enabled: true,
    }
}

/// DC-01 (New York) and DC-02 (Chicago) hold 3 units of SKU-0 each.
fn config() -> Config {
    let stock = |facility| StockEntry {
        sku: 0,
        facility,
        on_hand: 3,
        safety_stock: 0,
    };
    Config::with_network(Network {
        facilities: vec![
            facility("DC-01", 40.7, -74.0),
            facility("DC-02", 41.9, -87.6),
        ],
        skus: vec!["SKU-0".into(), "SKU-1".into()],
        stock: vec![stock(0), stock(1)],
    })
}

fn journal(dir: &std::path::Path) -> Arc<Durability> {
    let opts = JournalOptions {
        mode: Mode::Fsync,
        ..JournalOptions::default()
    };
    let d = Durability::open_with(DurabilityMode::Fsync, dir.join("journal"), opts);
    Arc::new(d.unwrap().0)
}

fn options() -> HostOptions {
    HostOptions {
        shards: 2,
        limits: ShardLimits {
            inbox_max: 64,
            tick_max: 64,
            seen_ids_max: 100,
        },
        channel_max: 64,
        in_flight_max: 256,
        idle_tick: Duration::from_millis(5),
    }
}

async fn core(dir: &std::path::Path) -> (HostedCore, ManualClock) {
    let (clock, hand) = Clock::manual(T0);
    let host = Host::start(&config(), options(), journal(dir), clock, None).unwrap();
    (HostedCore::over(host, &config()).await.unwrap(), hand)
}

fn order(id: &str, qty: i64) -> PlaceOrder {
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
            qty,
        }],
        allow_backorder: Some(false),
    }
}

fn hold(id: &str, qty: i64) -> HoldInput {
    HoldInput {
        hold_id: id.into(),
        ship_to: ShipTo {
            lat: 40.7,
            lon: -74.0,
        },
        service_level: None,
        ttl_s: Some(600),
        lines: vec![LineInput {
            sku: "SKU-0".into(),
            qty,
        }],
        allow_partial: Some(false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_place_replay_conflict_read_and_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let first = core.place(&order("o-1", 2)).await.unwrap();
    assert!(!first.replay);
    assert_eq!(first.order.order_id, "o-1");
    let again = core.place(&order("o-1", 2)).await.unwrap();
    assert!(again.replay, "same body: the order again");
    assert_eq!(again.order.status, first.order.status);
    let e = core.place(&order("o-1", 1)).await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Conflict, "order_conflict"));
    let e = core.place(&order("o 2", 1)).await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Invalid, "invalid_id"));
    assert!(e.message.starts_with("order_id:"), "{}", e.message);
    let e = core.place(&order("o-3", 0)).await.unwrap_err();
    assert!(e.message.starts_with("lines[0].qty:"), "{}", e.message);
    let read = core.order("o-1").await.unwrap();
    assert_eq!(read.order_id, "o-1");
    let e = core.order("o-none").await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::NotFound, "order_not_found"));
    let cancelled = core.cancel("o-1").await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_create_replay_extend_release_and_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let created = core.create_hold(&hold("h-1", 2)).await.unwrap();
    assert!(!created.replay);
    assert_eq!(created.hold.status, "active");
    assert_eq!(created.hold.holds.len(), 1, "{:?}", created.hold);
    assert_eq!(created.hold.holds[0].facility_id, "DC-01");
    assert_eq!(created.hold.expires_at, "2026-11-27T00:10:00.000Z");
    let again = core.create_hold(&hold("h-1", 2)).await.unwrap();
    assert!(again.replay);
    assert_eq!(again.hold, created.hold);
    let e = core.create_hold(&hold("h-1", 1)).await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Conflict, "hold_conflict"));
    // 6 units in all, 2 held: 5 cannot be held whole, and is not created.
    let e = core.create_hold(&hold("h-2", 5)).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::Conflict, "insufficient_stock")
    );
    let e = core.hold("h-2").await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::NotFound, "hold_not_found"));
    let e = core
        .create_hold(&HoldInput {
            ttl_s: Some(100_000),
            ..hold("h-3", 1)
        })
        .await
        .unwrap_err();
    assert_eq!((e.code, &e.message[..6]), ("invalid_ttl", "ttl_s:"));
    let extended = core.extend_hold("h-1", 1_200).await.unwrap();
    assert_eq!(extended.expires_at, "2026-11-27T00:20:00.000Z");
    let released = core.release_hold("h-1").await.unwrap();
    assert_eq!(released.status, "released");
    assert!(released.holds.is_empty());
    let e = core.extend_hold("h-1", 60).await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Conflict, "hold_not_active"));
    // What h-1 held is free again: 5 of 6 can be held now (3 + 2).
    let e = core.create_hold(&hold("h-4", 7)).await.unwrap_err();
    assert_eq!(e.code, "insufficient_stock");
    assert_eq!(
        core.create_hold(&hold("h-5", 3)).await.unwrap().hold.status,
        "active"
    );
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_expires_on_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let (core, hand) = core(dir.path()).await;
    core.create_hold(&hold("h-1", 3)).await.unwrap();
    hand.advance(599_000);
    assert_eq!(core.hold("h-1").await.unwrap().status, "active");
    hand.advance(2_000);
    let mut status = String::new();
    for _ in 0..200 {
        status = core.hold("h-1").await.unwrap().status;
        if status == "expired" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(status, "expired");
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ids_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (core, _hand) = core(dir.path()).await;
        core.place(&order("o-1", 1)).await.unwrap();
        core.create_hold(&hold("h-1", 1)).await.unwrap();
        core.host().shutdown();
    }
    let cfg = config();
    let durability = journal(dir.path());
    let recovered = orch_runtime::persist::recovery::recover(&cfg, &durability, None, T0).unwrap();
    let shards = orch_runtime::host::restored_shards(&cfg, &options(), &recovered, T0);
    let (clock, _hand) = Clock::manual(T0);
    let host = Host::start_with(&cfg, options(), durability, clock, None, shards).unwrap();
    let core = HostedCore::over(host, &cfg).await.unwrap();
    assert!(core.place(&order("o-1", 1)).await.unwrap().replay);
    assert!(core.create_hold(&hold("h-1", 1)).await.unwrap().replay);
    assert_eq!(core.order("o-1").await.unwrap().order_id, "o-1");
    core.host().shutdown();
}
