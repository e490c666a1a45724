//! The engine host on its own (in-process, no HTTP): round trips of
//! place, cancel, scan and receive across two shard threads, admission
//! (`Overloaded` when a shard's channel is full or it has too much in
//! flight), replies and reads held until the journal says durable, and
//! timers driven by the injected clock.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use orch_actors::cell::CellState;
use orch_actors::facility::WaveTrigger;
use orch_actors::order::{OrderLine, OrderState, PlaceRequest, Scan, ScanKind};
use orch_actors::{CellKey, FacilityIdx, OrderNo, SkuIdx};
use orch_config::{Config, DurabilityMode, Network, ServiceLevel, StockEntry};
use orch_engine::msg::{ScanAnswer, StockAnswer};
use orch_engine::{ActorRef, Answer, Msg, ShardLimits};
use orch_journal::{FaultInjector, JournalOptions, Mode};
use orch_runtime::host::{Answered, Clock, Host, HostOptions, ManualClock, Pending, PlaceRefusal};
use orch_runtime::persist::Durability;

mod host_common;
use host_common::{facility, faulty_journal, T0};

/// DC-01 (New York, shard 0 of 2) holds 5 of SKU 1 and none of SKU 0;
/// DC-02 (Chicago, shard 1 of 2) holds 5 of each.
fn config() -> Config {
    let stock = |sku, facility| StockEntry {
        sku,
        facility,
        on_hand: 5,
        safety_stock: 0,
    };
    Config::with_network(Network {
        facilities: vec![
            facility("DC-01", 40.7, -74.0, 1_000),
            facility("DC-02", 41.9, -87.6, 1_000),
        ],
        skus: vec!["SKU-0".into(), "SKU-1".into()],
        stock: vec![stock(0, 1), stock(1, 0), stock(1, 1)],
    })
}

/// An order shipping to New York (first choice DC-01).
fn request(id: &str, sku: u32, qty: u32) -> PlaceRequest {
    PlaceRequest {
        order_id: id.into(),
        channel: "web".into(),
        lat: 40.7,
        lon: -74.0,
        service_level: ServiceLevel::Standard,
        lines: vec![OrderLine {
            sku: SkuIdx(sku),
            qty,
        }],
        allow_backorder: true,
    }
}

fn memory_journal() -> Arc<Durability> {
    let dir = std::env::temp_dir().join("orch-host-test-none");
    let opts = JournalOptions {
        mode: Mode::None,
        ..JournalOptions::default()
    };
    Arc::new(
        Durability::open_with(DurabilityMode::None, dir, opts)
            .unwrap()
            .0,
    )
}

fn options(shards: usize) -> HostOptions {
    HostOptions {
        shards,
        limits: ShardLimits {
            inbox_max: 8,
            tick_max: 8,
            seen_ids_max: 100,
        },
        channel_max: 8,
        in_flight_max: 64,
        idle_tick: Duration::from_millis(5),
    }
}

fn host(shards: usize, durability: Arc<Durability>) -> (Host, ManualClock) {
    let (clock, hand) = Clock::manual(T0);
    let h = Host::start(&config(), options(shards), durability, clock, None).unwrap();
    (h, hand)
}

fn answer(p: Pending) -> Answer {
    let r: Answered = p.blocking_recv().expect("the host answers");
    r.expect("durable")
}

fn place(h: &Host, req: PlaceRequest) -> OrderNo {
    let (no, p) = h.place(req).expect("admitted");
    match answer(p) {
        Answer::Placed(Ok(n)) => {
            assert_eq!(n, no);
            n
        }
        other => panic!("placement answered {other:?}"),
    }
}

fn order(h: &Host, no: OrderNo) -> OrderState {
    let shard = h.ownership().order(no);
    let rx = h.read(shard, move |s| s.order(no).cloned()).unwrap();
    rx.blocking_recv().unwrap().expect("the order exists")
}

fn cell(h: &Host, key: CellKey) -> CellState {
    let shard = h.ownership().facility(key.facility);
    let rx = h
        .read(shard, move |s| {
            s.cells().find(|(k, _)| *k == key).map(|(_, c)| c.clone())
        })
        .unwrap();
    rx.blocking_recv().unwrap().expect("the cell exists")
}

fn scan(event: &str, kind: ScanKind, f: FacilityIdx, sku: Option<u32>, qty: Option<u32>) -> Scan {
    Scan {
        event_id: event.into(),
        kind,
        fulfillment: 1,
        facility: f,
        sku: sku.map(SkuIdx),
        qty,
        carrier: None,
        tracking: None,
        reason: None,
        disposition: None,
        at: T0,
    }
}

#[test]
fn place_cancel_scan_and_receive_round_trip_across_two_shard_threads() {
    let (h, _hand) = host(2, memory_journal());
    let dc1 = FacilityIdx(0);
    let dc2 = FacilityIdx(1);
    // SKU 1 at DC-01: placed, reserved and queued on shard 0.
    let a = place(&h, request("a", 1, 2));
    let sku1_dc1 = CellKey {
        sku: SkuIdx(1),
        facility: dc1,
    };
    assert_eq!(cell(&h, sku1_dc1).reserved(), 2);
    assert_eq!(h.view().available(sku1_dc1), Some(3));
    // SKU 0 only at DC-02: the order's home is shard 0, its cell on shard 1.
    let b = place(&h, request("b", 0, 1));
    assert_eq!(h.ownership().order(b), 0);
    let sku0_dc2 = CellKey {
        sku: SkuIdx(0),
        facility: dc2,
    };
    assert_eq!(cell(&h, sku0_dc2).reserved(), 1);
    assert_eq!(order(&h, b).fulfillments()[0].facility, dc2);
    // A manual wave at DC-01 releases order a; a pick scan applies once.
    let wave = h
        .offer(ActorRef::Facility(dc1), |reply| Msg::ReleaseWave {
            trigger: WaveTrigger::Manual,
            reply,
        })
        .unwrap();
    match answer(wave) {
        Answer::Wave(Some(w)) => assert_eq!(w.fulfillments.len(), 1),
        other => panic!("wave answered {other:?}"),
    }
    let pick = scan("e-1", ScanKind::Pick, dc1, Some(1), Some(2));
    for expect in [ScanAnswer::Applied, ScanAnswer::Duplicate] {
        let s = pick.clone();
        let p = h
            .offer(ActorRef::Order(a), |reply| Msg::Scan { scan: s, reply })
            .unwrap();
        assert_eq!(answer(p), Answer::Scanned(expect));
    }
    let c = cell(&h, sku1_dc1);
    assert_eq!((c.on_hand(), c.reserved()), (3, 0));
    // Cancelling b gives its unit back at DC-02 (across shards).
    let p = h
        .offer(ActorRef::Order(b), |reply| Msg::Cancel { reply })
        .unwrap();
    assert_eq!(answer(p), Answer::Cancelled(Ok(())));
    assert_eq!(cell(&h, sku0_dc2).reserved(), 0);
    // A receipt at DC-01 applies once under its id (SKU 1's desk is on
    // shard 1, the cell on shard 0).
    for expect in [StockAnswer::Applied { served: 0 }, StockAnswer::Duplicate] {
        let p = h
            .offer(ActorRef::Desk(SkuIdx(1)), |reply| Msg::Receive {
                facility: dc1,
                qty: 4,
                restock: false,
                receipt_id: Some("r-1".into()),
                reply: Some(reply),
            })
            .unwrap();
        assert_eq!(answer(p), Answer::Stock(expect));
    }
    assert_eq!(cell(&h, sku1_dc1).on_hand(), 7);
    assert_eq!(h.view().available(sku1_dc1), Some(7));
    // Invalid input changes nothing.
    match h.place(request("c", 1, 0)) {
        Err(PlaceRefusal::Invalid(why)) => assert!(why.contains("qty"), "{why}"),
        other => panic!("an invalid placement was {other:?}"),
    }
    assert!(h.stats().in_flight.iter().all(|&n| n == 0));
    h.shutdown();
}

/// Blocks shard `shard`'s thread inside a read until the returned sender
/// is used (or dropped).
fn block_shard(h: &Host, shard: usize) -> mpsc::Sender<()> {
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let _done = h
        .read(shard, move |_| {
            started_tx.send(()).unwrap();
            let _ = go_rx.recv();
        })
        .unwrap();
    started_rx.recv().unwrap();
    go_tx
}

#[test]
fn a_full_channel_answers_overloaded_and_queues_nothing() {
    let (h, _hand) = host(1, memory_journal());
    let go = block_shard(&h, 0);
    // The shard thread is busy: its channel (8) fills, then Overloaded.
    let mut admitted = Vec::new();
    let mut refused = 0;
    for i in 0..20 {
        match h.place(request(&format!("o-{i}"), 1, 1)) {
            Ok(x) => admitted.push(x),
            Err(PlaceRefusal::Overloaded) => refused += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(admitted.len(), 8);
    assert_eq!(refused, 12);
    assert_eq!(h.stats().overloaded, 12);
    drop(go);
    for (no, p) in admitted {
        assert_eq!(answer(p), Answer::Placed(Ok(no)));
    }
    // Nothing refused was queued: exactly the admitted orders exist.
    let rx = h.read(0, |s| s.orders().count()).unwrap();
    assert_eq!(rx.blocking_recv().unwrap(), 8);
    h.shutdown();
}

#[test]
fn replies_and_reads_wait_until_the_journal_says_durable() {
    let dir = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let (h, _hand) = host(2, faulty_journal(dir.path(), &fault));
    let a = place(&h, request("a", 1, 1));
    fault.fail_writes(true);
    let (b, mut pending) = h.place(request("b", 1, 1)).unwrap();
    let shard = h.ownership().order(b);
    let mut read = h.read(shard, move |s| s.order(b).is_some()).unwrap();
    let mut read_a = {
        let shard = h.ownership().order(a);
        h.read(shard, move |s| s.order(a).is_some()).unwrap()
    };
    // The disk refuses every write: nothing is let out, not even a read
    // of an order that was durable before (it could show what is not).
    std::thread::sleep(Duration::from_millis(300));
    assert!(pending.try_recv().is_err(), "answered before durable");
    assert!(read.try_recv().is_err(), "read answered before durable");
    assert!(read_a.try_recv().is_err(), "read answered before durable");
    assert_eq!(h.stats().in_flight.iter().sum::<usize>(), 1);
    fault.fail_writes(false);
    let got = pending.blocking_recv().unwrap().unwrap();
    assert_eq!(got, Answer::Placed(Ok(b)));
    assert!(read.blocking_recv().unwrap());
    assert!(read_a.blocking_recv().unwrap());
    h.shutdown();
}

#[test]
fn too_many_requests_in_flight_answer_overloaded_until_answered() {
    let dir = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let (clock, _hand) = Clock::manual(T0);
    let opts = HostOptions {
        in_flight_max: 3,
        ..options(1)
    };
    let h = Host::start(
        &config(),
        opts,
        faulty_journal(dir.path(), &fault),
        clock,
        None,
    )
    .unwrap();
    fault.fail_writes(true);
    let admitted: Vec<_> = (0..3)
        .map(|i| h.place(request(&format!("o-{i}"), 1, 1)).unwrap())
        .collect();
    // The channel has room, but three answers wait for the disk.
    assert_eq!(
        h.place(request("o-3", 1, 1)).unwrap_err(),
        PlaceRefusal::Overloaded
    );
    fault.fail_writes(false);
    for (no, p) in admitted {
        assert_eq!(p.blocking_recv().unwrap().unwrap(), Answer::Placed(Ok(no)));
    }
    assert!(h.place(request("o-3", 1, 1)).is_ok());
    h.shutdown();
}

#[test]
fn timers_run_on_the_injected_clock_and_an_idle_host_sleeps() {
    let (clock, hand) = Clock::manual(T0);
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let sink: orch_runtime::host::WaveSink = Arc::new(move |w| {
        let _ = tx.lock().unwrap().send(w);
    });
    let mut cfg = config();
    for f in &mut cfg.network.facilities {
        f.wave.wait_ms_max = 60_000;
    }
    let h = Host::start(&cfg, options(2), memory_journal(), clock, Some(sink)).unwrap();
    let a = place(&h, request("a", 1, 1));
    // The wave's max wait is 60 s of the host's clock, not of the wall's.
    std::thread::sleep(Duration::from_millis(200));
    assert!(rx.try_recv().is_err(), "a wave before its time");
    hand.advance(60_001);
    let w = rx.recv_timeout(Duration::from_secs(10)).expect("the wave");
    assert_eq!(w.trigger, WaveTrigger::MaxWait);
    assert_eq!(w.fulfillments[0].order, a);
    // Idle: the loops wake once per idle tick (5 ms), they do not spin.
    let before: u64 = h.stats().ticks.iter().sum();
    std::thread::sleep(Duration::from_millis(300));
    let after: u64 = h.stats().ticks.iter().sum();
    assert!(
        after - before < 400,
        "{} ticks in 300 ms idle",
        after - before
    );
    h.shutdown();
}

/// Every order and cell, sorted, as the shards hold them.
fn states(h: &Host) -> (Vec<OrderState>, Vec<(CellKey, CellState)>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let per_shard = rt
        .block_on(h.read_all(|s| {
            let orders: Vec<OrderState> = s.orders().cloned().collect();
            let cells: Vec<(CellKey, CellState)> = s.cells().map(|(k, c)| (k, c.clone())).collect();
            (orders, cells)
        }))
        .unwrap();
    let (mut orders, mut cells) = (Vec::new(), Vec::new());
    for (o, c) in per_shard {
        orders.extend(o);
        cells.extend(c);
    }
    orders.sort_by_key(OrderState::no);
    cells.sort_by_key(|c| c.0);
    (orders, cells)
}

#[test]
fn a_restarted_host_resumes_from_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let cfg = config();
    let receipt = |h: &Host| {
        let p = h
            .offer(ActorRef::Desk(SkuIdx(1)), |reply| Msg::Receive {
                facility: FacilityIdx(0),
                qty: 2,
                restock: false,
                receipt_id: Some("r-1".into()),
                reply: Some(reply),
            })
            .unwrap();
        answer(p)
    };
    let (before, numbers) = {
        let (h, _hand) = host(2, faulty_journal(dir.path(), &fault));
        let a = place(&h, request("a", 1, 2));
        let b = place(&h, request("b", 0, 1));
        let c = place(&h, request("c", 1, 1));
        let p = h
            .offer(ActorRef::Order(c), |reply| Msg::Cancel { reply })
            .unwrap();
        assert_eq!(answer(p), Answer::Cancelled(Ok(())));
        assert!(matches!(
            receipt(&h),
            Answer::Stock(StockAnswer::Applied { .. })
        ));
        let s = states(&h);
        h.shutdown();
        (s, [a, b, c])
    };
    let durability = faulty_journal(dir.path(), &fault);
    let recovered = orch_runtime::persist::recovery::recover(&cfg, &durability, None, T0).unwrap();
    assert!(recovered.records >= 4, "{} records", recovered.records);
    let (clock, _hand) = Clock::manual(T0);
    let opts = options(2);
    let shards = orch_runtime::host::restored_shards(&cfg, &opts, &recovered, T0);
    let h = Host::start_with(&cfg, opts, durability, clock, None, shards).unwrap();
    assert_eq!(states(&h), before);
    // The receipt's id is remembered; numbering resumes past the old orders.
    assert_eq!(receipt(&h), Answer::Stock(StockAnswer::Duplicate));
    let d = place(&h, request("d", 1, 1));
    // All four live on shard 0 (New York's DC-01 is their first choice).
    assert!(numbers.iter().all(|&n| h.ownership().order(n) == 0));
    assert!(
        d.0 > numbers.iter().map(|n| n.0).max().unwrap(),
        "{d:?} reused"
    );
    h.shutdown();
}

#[test]
fn an_active_hold_survives_a_snapshot_that_covers_its_journal_records() {
    use orch_actors::hold::{HoldRequest, HoldStatus};
    use orch_runtime::persist::checkpoint::checkpoint;
    use orch_runtime::persist::snapshot::SnapshotStore;
    let dir = tempfile::tempdir().unwrap();
    let fault = FaultInjector::new();
    let cfg = config();
    let key = CellKey {
        sku: SkuIdx(1),
        facility: FacilityIdx(0),
    };
    let read_hold = |h: &Host, no| {
        let p = h
            .offer(ActorRef::Hold(no), |reply| Msg::ReadHold { reply })
            .unwrap();
        match answer(p) {
            Answer::Hold(Ok(state)) => state,
            other => panic!("the hold answered {other:?}"),
        }
    };
    let (no, hold_before, cell_before) = {
        let (h, _hand) = host(2, faulty_journal(dir.path(), &fault));
        let no = h.new_hold_no();
        let req = HoldRequest {
            hold_id: "cart-1".into(),
            lat: 40.7,
            lon: -74.0,
            service_level: ServiceLevel::Standard,
            ttl_s: 3_600,
            lines: vec![OrderLine {
                sku: SkuIdx(1),
                qty: 2,
            }],
            allow_partial: false,
        };
        let p = h
            .offer(ActorRef::Hold(no), |reply| Msg::CreateHold { req, reply })
            .unwrap();
        assert!(matches!(answer(p), Answer::Hold(Ok(_))));
        let hold = read_hold(&h, no);
        assert_eq!(hold.status(), HoldStatus::Active);
        let held = cell(&h, key);
        assert_eq!(held.held(), 2, "DC-01 holds the cart's units");
        h.shutdown();
        (no, hold, held)
    };
    // A checkpoint covers every record so far: recovery starts from the
    // snapshot and replays nothing, so the hold must be in the snapshot.
    let durability = faulty_journal(dir.path(), &fault);
    let store = SnapshotStore::open(&dir.path().join("snapshots")).unwrap();
    let info = checkpoint(
        &cfg,
        &store,
        &durability,
        &orch_runtime::persist::checkpoint::KeepAll,
    )
    .unwrap();
    assert!(info.meta.seq >= 1);
    let recovered =
        orch_runtime::persist::recovery::recover(&cfg, &durability, Some(&store), T0).unwrap();
    assert_eq!(recovered.records, 0, "everything came from the snapshot");
    let (clock, _hand) = Clock::manual(T0);
    let opts = options(2);
    let shards = orch_runtime::host::restored_shards(&cfg, &opts, &recovered, T0);
    let h = Host::start_with(&cfg, opts, durability, clock, None, shards).unwrap();
    assert_eq!(read_hold(&h, no), hold_before);
    let after = cell(&h, key);
    assert_eq!(
        (after.held(), after.available()),
        (cell_before.held(), cell_before.available())
    );
    h.shutdown();
}
