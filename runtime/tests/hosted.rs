//! The application over the engine host (`orch_runtime::hosted`), in
//! process: placements with replay and conflict, order reads and cancels,
//! holds created, read, extended, released and expired by the injected
//! clock, refusals naming their field, and client ids that survive a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use orch_config::{Config, Network, StockEntry};
use orch_engine::ShardLimits;
use orch_journal::FaultInjector;
use orch_runtime::dto::{
    AdjustmentInput, FacilityStatusInput, HoldInput, LineInput, PlaceOrder, ReceiptInput,
    ScanInput, ShipTo,
};
use orch_runtime::host::{Clock, Host, HostOptions, ManualClock};
use orch_runtime::hosted::HostedCore;
use orch_runtime::persist::Durability;
use orch_runtime::ErrorKind;

mod host_common;
use host_common::{facility, faulty_journal, hold, T0};

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
            facility("DC-01", 40.7, -74.0, 3_600_000),
            facility("DC-02", 41.9, -87.6, 3_600_000),
        ],
        skus: vec!["SKU-0".into(), "SKU-1".into()],
        stock: vec![stock(0), stock(1)],
    })
}

fn journal(dir: &std::path::Path) -> Arc<Durability> {
    faulty_journal(dir, &FaultInjector::new())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_takes_its_hold_and_an_inactive_or_unknown_hold_does_not_fail_it() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    core.create_hold(&hold("h-1", 2)).await.unwrap();
    let placed = core
        .place_holding(&order("o-1", 2), Some("h-1"))
        .await
        .unwrap();
    assert!(!placed.replay);
    let h = placed.hold.expect("the answer carries the hold");
    assert_eq!(
        (h.hold_id.as_str(), h.status.as_str()),
        ("h-1", "converted")
    );
    assert_eq!(placed.order.fulfillments[0].facility_id, "DC-01");
    assert_eq!(core.hold("h-1").await.unwrap().status, "converted");
    // The hold's 2 units became the order's: 4 of 6 are left, not 2.
    let again = core
        .place_holding(&order("o-2", 1), Some("h-1"))
        .await
        .unwrap();
    assert_eq!(
        again.hold.unwrap().status,
        "converted",
        "not active: placed as usual"
    );
    assert_eq!(again.order.status, placed.order.status);
    let e = core.create_hold(&hold("h-2", 4)).await.unwrap_err();
    assert_eq!(e.code, "insufficient_stock");
    assert_eq!(
        core.create_hold(&hold("h-3", 3)).await.unwrap().hold.status,
        "active"
    );
    let unknown = core
        .place_holding(&order("o-3", 1), Some("h-none"))
        .await
        .unwrap();
    assert_eq!(unknown.hold, None);
    assert_eq!(unknown.order.order_id, "o-3");
    let replay = core
        .place_holding(&order("o-1", 2), Some("h-1"))
        .await
        .unwrap();
    assert!(replay.replay);
    assert_eq!(replay.hold.unwrap().status, "converted");
    let e = core
        .place_holding(&order("o-4", 1), Some("h 1"))
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Invalid, "invalid_id"));
    assert!(e.message.starts_with("hold_id:"), "{}", e.message);
    assert_eq!(core.order("o-4").await.unwrap_err().code, "order_not_found");
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_answers_each_order_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let batch = [
        order("o-1", 1),
        order("o-2", 0),
        order("o-3", 2),
        order("o-1", 1),
    ];
    let results = core.place_batch(&batch).await;
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().order.order_id, "o-1");
    let e = results[1].as_ref().unwrap_err();
    assert!(e.message.starts_with("lines[0].qty:"), "{}", e.message);
    assert_eq!(results[2].as_ref().unwrap().order.order_id, "o-3");
    // The same order twice in a batch: one placement, the other a replay.
    let replays = [&results[0], &results[3]]
        .iter()
        .filter(|r| r.as_ref().unwrap().replay)
        .count();
    assert_eq!(replays, 1);
    assert_eq!(core.order("o-2").await.unwrap_err().code, "order_not_found");
    core.host().shutdown();
}

fn receipt(id: &str, facility: &str, qty: i64) -> ReceiptInput {
    ReceiptInput {
        sku: "SKU-0".into(),
        facility_id: facility.into(),
        qty,
        receipt_id: id.into(),
    }
}

fn count(id: &str, facility: &str, on_hand: i64) -> AdjustmentInput {
    AdjustmentInput {
        sku: "SKU-0".into(),
        facility_id: facility.into(),
        on_hand,
        adjustment_id: id.into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_and_counts_apply_once_and_refuse_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    // One bad receipt refuses the request: r-2 is not applied.
    let e = core
        .receive(&[receipt("r-2", "DC-02", 1), receipt("r-3", "DC-02", 0)])
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Invalid, "invalid_quantity"));
    assert!(e.message.starts_with("receipts[1].qty:"), "{}", e.message);
    let e = core
        .receive(&[receipt("r-1", "DC-9", 1)])
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("receipts[0].facility_id:"),
        "{}",
        e.message
    );
    let r = core
        .receive(&[receipt("r-1", "DC-02", 4), receipt("r-1", "DC-02", 4)])
        .await
        .unwrap();
    let results: Vec<_> = r
        .iter()
        .map(|i| (i.id.as_str(), i.result.as_str()))
        .collect();
    assert_eq!(results, [("r-1", "applied"), ("r-1", "duplicate")]);
    let r = core.receive(&[receipt("r-2", "DC-02", 1)]).await.unwrap();
    assert_eq!(r[0].result, "applied", "not applied by the refused request");
    // A line is held at one facility: DC-02 has 3 + 4 + 1, the duplicate
    // added nothing.
    assert_eq!(
        core.create_hold(&hold("h-1", 9)).await.unwrap_err().code,
        "insufficient_stock"
    );
    assert_eq!(
        core.create_hold(&hold("h-2", 8)).await.unwrap().hold.status,
        "active"
    );
    core.release_hold("h-2").await.unwrap();
    // Counts: on hand never below reserved.
    core.place(&order("o-1", 2)).await.unwrap();
    let e = core.adjust(&[count("a-0", "DC-01", -1)]).await.unwrap_err();
    assert_eq!(e.code, "invalid_quantity");
    assert!(
        e.message.starts_with("adjustments[0].on_hand:"),
        "{}",
        e.message
    );
    let r = core
        .adjust(&[
            count("a-1", "DC-01", 1),
            count("a-2", "DC-01", 12),
            count("a-2", "DC-01", 20),
        ])
        .await
        .unwrap();
    assert_eq!(r[0].result, "rejected", "{:?}", r[0]);
    assert!(r[0].reason.is_some());
    assert_eq!(
        (r[1].result.as_str(), r[2].result.as_str()),
        ("applied", "duplicate")
    );
    // DC-01 now holds 12 with 2 reserved: 10 are free, not 18.
    assert_eq!(
        core.create_hold(&hold("h-3", 11)).await.unwrap_err().code,
        "insufficient_stock"
    );
    assert_eq!(
        core.create_hold(&hold("h-4", 10))
            .await
            .unwrap()
            .hold
            .status,
        "active"
    );
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facilities_read_close_reopen_and_release_waves() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let all = core.facilities().await.unwrap();
    let ids: Vec<_> = all.iter().map(|f| f.facility_id.as_str()).collect();
    assert_eq!(ids, ["DC-01", "DC-02"]);
    assert!(all.iter().all(|f| f.enabled));
    let e = core.facility("DC-9").await.unwrap_err();
    assert_eq!(
        (e.kind, e.code),
        (ErrorKind::NotFound, "facility_not_found")
    );
    let closed = FacilityStatusInput {
        enabled: false,
        until: Some("tomorrow".into()),
    };
    let e = core
        .set_facility_status("DC-01", &closed)
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::Invalid, "invalid_time"));
    assert!(e.message.starts_with("until:"), "{}", e.message);
    assert!(
        core.facility("DC-01").await.unwrap().enabled,
        "nothing changed"
    );
    let closed = FacilityStatusInput {
        enabled: false,
        until: Some("2026-11-28T00:00:00Z".into()),
    };
    let view = core.set_facility_status("DC-01", &closed).await.unwrap();
    assert!(!view.enabled);
    assert_eq!(
        view.disabled_until.as_deref(),
        Some("2026-11-28T00:00:00.000Z")
    );
    // Routing skips DC-01 while it is closed.
    let placed = core.place(&order("o-1", 1)).await.unwrap();
    assert_eq!(placed.order.fulfillments[0].facility_id, "DC-02");
    let open = FacilityStatusInput {
        enabled: true,
        until: None,
    };
    assert!(
        core.set_facility_status("DC-01", &open)
            .await
            .unwrap()
            .enabled
    );
    let placed = core.place(&order("o-2", 1)).await.unwrap();
    assert_eq!(placed.order.fulfillments[0].facility_id, "DC-01");
    assert_eq!(core.facility("DC-01").await.unwrap().queued_fulfillments, 1);
    let wave = core.release_wave("DC-01").await.unwrap();
    assert!(wave.wave_id.is_some());
    assert_eq!(wave.trigger.as_deref(), Some("manual"));
    let fid = &placed.order.fulfillments[0].fulfillment_id;
    assert_eq!(wave.fulfillment_ids, vec![fid.clone()]);
    assert_eq!(wave.pick_list.len(), 1);
    // Once it answers, the wave's orders know their wave.
    let o2 = core.order("o-2").await.unwrap();
    assert_eq!(o2.fulfillments[0].wave_id, wave.wave_id);
    assert_eq!(o2.fulfillments[0].status, "released");
    let after = core.facility("DC-01").await.unwrap();
    assert_eq!((after.queued_fulfillments, after.open_waves), (0, 1));
    let none = core.release_wave("DC-01").await.unwrap();
    assert_eq!((none.wave_id, none.fulfillment_ids.len()), (None, 0));
    assert_eq!(
        core.release_wave("DC-9").await.unwrap_err().code,
        "facility_not_found"
    );
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_and_promise_read_the_published_view() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let a = core.availability("SKU-0", 40.7, -74.0, 100.0).unwrap();
    assert_eq!((a.network_available, a.nearby_available), (6, 3));
    let near: Vec<_> = a
        .facilities
        .iter()
        .map(|f| f.facility_id.as_str())
        .collect();
    assert_eq!(near, ["DC-01"]);
    let e = core.availability("SKU-0", 91.0, -74.0, 100.0).unwrap_err();
    assert!(e.message.starts_with("lat:"), "{}", e.message);
    let e = core.availability("SKU-0", 40.7, -74.0, -1.0).unwrap_err();
    assert_eq!(e.code, "invalid_radius");
    let e = core.availability("SKU-X", 40.7, -74.0, 1.0).unwrap_err();
    assert_eq!((e.code, &e.message[..4]), ("unknown_sku", "sku:"));
    assert_eq!(
        core.promise("SKU-0", 0, 40.7, -74.0).unwrap_err().code,
        "invalid_quantity"
    );
    let p = core.promise("SKU-0", 3, 40.7, -74.0).unwrap();
    assert!(!p.promises.is_empty());
    assert!(p.promises.iter().all(|l| l.facility_id == "DC-01"), "{p:?}");
    core.place(&order("o-1", 2)).await.unwrap();
    // Published once the tick that reserved it ran.
    let mut a = core.availability("SKU-0", 40.7, -74.0, 100.0).unwrap();
    for _ in 0..200 {
        if a.nearby_available == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        a = core.availability("SKU-0", 40.7, -74.0, 100.0).unwrap();
    }
    assert_eq!((a.network_available, a.nearby_available), (4, 1));
    let p = core.promise("SKU-0", 3, 40.7, -74.0).unwrap();
    assert!(p.promises.iter().all(|l| l.facility_id == "DC-02"), "{p:?}");
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_apply_in_order_once_and_reject_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let placed = core.place(&order("o-1", 1)).await.unwrap();
    let f = placed.order.fulfillments[0].clone();
    core.release_wave(&f.facility_id).await.unwrap();
    let ev = |id: &str, kind: &str| ScanInput {
        event_id: id.into(),
        kind: kind.into(),
        order_id: "o-1".into(),
        fulfillment_id: f.fulfillment_id.clone(),
        facility_id: f.facility_id.clone(),
        ..Default::default()
    };
    let mut pick = ev("p1", "pick");
    pick.sku = Some("SKU-0".into());
    pick.qty = Some(2);
    let unknown = ScanInput {
        order_id: "o-none".into(),
        ..ev("k0", "pack")
    };
    let r = core
        .scans(&[pick.clone(), ev("k1", "frobnicate"), unknown])
        .await;
    assert!(r.iter().all(|x| x.result == "rejected"), "{r:?}");
    assert!(
        r[1].reason.as_deref().unwrap().starts_with("kind:"),
        "{r:?}"
    );
    assert!(
        r[2].reason.as_deref().unwrap().starts_with("order_id:"),
        "{r:?}"
    );
    pick.qty = Some(1);
    // In array order: the pick before the pack, the repeat a duplicate.
    let r = core
        .try_scans(&[pick.clone(), ev("k2", "pack"), pick])
        .await
        .unwrap();
    let results: Vec<_> = r.iter().map(|x| x.result.as_str()).collect();
    assert_eq!(results, ["applied", "applied", "duplicate"], "{r:?}");
    let order = core.order("o-1").await.unwrap();
    assert_eq!(order.fulfillments[0].status, "packed", "{order:?}");
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_shows_on_hand_reserved_and_held_per_facility() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    core.create_hold(&hold("h-1", 2)).await.unwrap();
    let placed = core.place(&order("o-1", 1)).await.unwrap();
    assert_eq!(placed.order.fulfillments[0].facility_id, "DC-01");
    let inv = core.inventory("SKU-0").await.unwrap();
    let rows: Vec<_> = inv
        .facilities
        .iter()
        .map(|c| {
            let counts = (c.on_hand, c.reserved, c.held, c.available);
            (c.facility_id.as_str(), counts)
        })
        .collect();
    assert_eq!(
        rows,
        [("DC-01", (3, 1, Some(2), 0)), ("DC-02", (3, 0, Some(0), 3))]
    );
    assert_eq!(inv.network_available, 3);
    core.release_hold("h-1").await.unwrap();
    let inv = core.inventory("SKU-0").await.unwrap();
    assert_eq!(
        (inv.facilities[0].held, inv.network_available),
        (Some(0), 5)
    );
    assert!(core.inventory("SKU-1").await.unwrap().facilities.is_empty());
    let e = core.inventory("SKU-X").await.unwrap_err();
    assert_eq!((e.kind, e.code), (ErrorKind::NotFound, "sku_not_found"));
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_pages_in_id_order() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    assert_eq!(
        core.skus(1, None),
        (vec!["SKU-0".into()], Some("SKU-0".into()))
    );
    assert_eq!(core.skus(1, Some("SKU-0")), (vec!["SKU-1".into()], None));
    assert_eq!(core.skus(0, None).0.len(), 1, "a limit of 0 reads 1");
    core.host().shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_shard_answers_429_and_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (clock, _hand) = Clock::manual(T0);
    let tight = HostOptions {
        in_flight_max: 1,
        ..options()
    };
    let host = Host::start(&config(), tight, journal(dir.path()), clock, None).unwrap();
    let core = HostedCore::over(host, &config()).await.unwrap();
    // Offered in one poll: the first is admitted, the others find the
    // shard with its one request unanswered.
    let ids: Vec<String> = (0..20).map(|i| format!("r-{i}")).collect();
    let bodies: Vec<[ReceiptInput; 1]> = ids.iter().map(|id| [receipt(id, "DC-01", 1)]).collect();
    let answers = futures::future::join_all(bodies.iter().map(|b| core.receive(b))).await;
    let refused: Vec<&String> = ids
        .iter()
        .zip(&answers)
        .filter_map(|(id, a)| match a {
            Err(e) => {
                assert_eq!((e.kind, e.code), (ErrorKind::Busy, "overloaded"));
                Some(id)
            }
            Ok(r) => {
                assert_eq!(r[0].result, "applied");
                None
            }
        })
        .collect();
    assert!(!refused.is_empty(), "in_flight_max 1 refuses some of 20");
    for id in refused {
        let r = core.receive(&[receipt(id, "DC-01", 1)]).await.unwrap();
        assert_eq!(r[0].result, "applied", "{id} was not queued when refused");
    }
    core.host().shutdown();
}

#[test]
fn the_published_view_learns_cells_created_after_start() {
    use orch_actors::{CellKey, FacilityIdx, SkuIdx};
    use orch_engine::view::{Board, ViewUpdate};
    use orch_runtime::host::PublishedView;
    let stocked = CellKey {
        sku: SkuIdx(0),
        facility: FacilityIdx(0),
    };
    let late = CellKey {
        sku: SkuIdx(1),
        facility: FacilityIdx(0),
    };
    let board = Board {
        enabled: true,
        disabled_until: None,
        capacity_used: 0.0,
    };
    let view = PublishedView::new([(stocked, 3)], &[board]);
    assert_eq!(view.available(late), None);
    let update = ViewUpdate {
        cells: vec![(stocked, 3), (late, 5)],
        boards: vec![],
    };
    let changed = view.apply(&update);
    assert_eq!(changed.cells, vec![(late, 5)], "only what changed");
    assert_eq!((view.available(late), view.cells()), (Some(5), 2));
    assert_eq!(view.to_view().available(late), 5);
    assert!(view.apply(&update).cells.is_empty(), "published already");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_received_where_none_was_stocked_is_available() {
    let dir = tempfile::tempdir().unwrap();
    let (core, _hand) = core(dir.path()).await;
    let r = ReceiptInput {
        sku: "SKU-1".into(),
        ..receipt("r-1", "DC-02", 5)
    };
    assert_eq!(core.receive(&[r]).await.unwrap()[0].result, "applied");
    let read = || core.availability("SKU-1", 41.9, -87.6, 10.0).unwrap();
    let mut a = read();
    for _ in 0..200 {
        if a.nearby_available == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        a = read();
    }
    assert_eq!((a.network_available, a.nearby_available), (5, 5));
    core.host().shutdown();
}
