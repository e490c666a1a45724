//! The shard's contract: a full inbox answers `Overloaded` and queues
//! nothing, replies wait for durability, a reservation crosses shards,
//! views carry closures across shards, timers release waves, and a
//! duplicate receipt is never vouched for before its original is durable.

use orch_actors::facility::WaveTrigger;
use orch_actors::order::{OrderLine, PlaceRequest};
use orch_actors::routing::Router;
use orch_actors::{CellKey, FacilityIdx, OrderNo, SkuIdx};
use orch_config::{
    Config, FacilityConfig, FacilityKind, Millis, Network, ServiceLevel, StockEntry, WavePolicy,
};
use orch_engine::cluster::{Cluster, ClusterOptions, PlaceRefusal};
use orch_engine::msg::{Answer, StockAnswer};
use orch_engine::{ActorRef, Envelope, Msg, Overloaded, Ownership, Shard, ShardLimits};

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
            wait_ms_max: 1_000,
        },
        cutoffs: vec![],
        enabled: true,
    }
}

/// DC-01 (New York, shard 0 of 2) holds nothing of SKU 0; DC-02 (Chicago,
/// shard 1 of 2) holds 5; both hold 5 of SKU 1.
fn config() -> Config {
    Config::with_network(Network {
        facilities: vec![
            facility("DC-01", 40.7, -74.0),
            facility("DC-02", 41.9, -87.6),
        ],
        skus: vec!["SKU-0".into(), "SKU-1".into()],
        stock: vec![
            StockEntry {
                sku: 0,
                facility: 1,
                on_hand: 5,
                safety_stock: 0,
            },
            StockEntry {
                sku: 1,
                facility: 0,
                on_hand: 5,
                safety_stock: 0,
            },
            StockEntry {
                sku: 1,
                facility: 1,
                on_hand: 5,
                safety_stock: 0,
            },
        ],
    })
}

/// An order shipping to New York (first choice DC-01).
fn request(id: &str, lines: &[(u32, u32)]) -> PlaceRequest {
    PlaceRequest {
        order_id: id.into(),
        channel: "web".into(),
        lat: 40.7,
        lon: -74.0,
        service_level: ServiceLevel::Standard,
        lines: lines
            .iter()
            .map(|&(sku, qty)| OrderLine {
                sku: SkuIdx(sku),
                qty,
            })
            .collect(),
        allow_backorder: true,
    }
}

fn cluster(shards: usize, seed: u64) -> Cluster {
    let mut c = Cluster::new(
        &config(),
        ClusterOptions {
            shards,
            seed,
            limits: ShardLimits {
                inbox_max: 4,
                tick_max: 8,
                seen_ids_max: 100,
            },
            shuffle: true,
            keep_journal: true,
        },
        T0,
    );
    c.check_cells_every_tick(true);
    c
}

#[test]
fn a_full_inbox_answers_overloaded_and_queues_nothing() {
    let cfg = config();
    let own = Ownership::new(1);
    let router = std::sync::Arc::new(Router::new(
        &cfg.routing,
        &cfg.network.facilities,
        &cfg.carriers,
    ));
    let limits = ShardLimits {
        inbox_max: 2,
        tick_max: 8,
        seen_ids_max: 10,
    };
    let mut shard = Shard::new(&cfg, own, 0, router, limits, T0);
    let place = |n: u64| Envelope {
        to: ActorRef::Order(OrderNo(n)),
        msg: Msg::Place {
            req: request(&format!("o-{n}"), &[(1, 1)]),
            reply: n,
        },
    };
    assert_eq!(shard.offer(place(1)), Ok(()));
    assert_eq!(shard.offer(place(2)), Ok(()));
    assert_eq!(shard.offer(place(3)), Err(Overloaded));
    assert_eq!(shard.backlog(), 2, "a refused message is not queued");
    let out = shard.tick(T0, &orch_engine::view::View::default());
    assert_eq!(out.replies.len(), 2);
    assert!(shard.order(OrderNo(3)).is_none());
    // One journal batch for the whole tick: Placed + Routed per order.
    assert_eq!(out.entries.len(), 4);
    // Room again.
    assert_eq!(shard.offer(place(3)), Ok(()));
}

#[test]
fn the_cluster_refuses_past_the_inbox_bound() {
    let mut c = cluster(1, 1);
    let mut refused = 0;
    for i in 0..10 {
        match c.offer_place(request(&format!("o-{i}"), &[(1, 1)])) {
            Ok(_) => {}
            Err(PlaceRefusal::Overloaded(_)) => refused += 1,
            Err(PlaceRefusal::Invalid(e)) => panic!("valid order refused: {e}"),
        }
    }
    assert_eq!(refused, 6, "inbox of 4: the 6 others are refused");
    c.run_until_quiescent();
    assert_eq!(c.orders().count(), 4);
    assert!(c.audit().passed());
}

#[test]
fn replies_wait_until_their_entries_are_durable() {
    let mut c = cluster(2, 3);
    c.hold_durability(true);
    let (id, no) = c.offer_place(request("o-1", &[(1, 1)])).unwrap();
    c.run_until_quiescent();
    assert!(c.order(no).is_some(), "the order is placed in memory");
    assert_eq!(c.journal().len(), 2, "Placed and Routed are appended");
    assert_eq!(c.take_answer(id), None, "not durable: no answer yet");
    assert_eq!(c.held_replies(), 1);
    c.hold_durability(false);
    assert_eq!(c.take_answer(id), Some(Answer::Placed(Ok(no))));
}

#[test]
fn a_reservation_crosses_shards() {
    for seed in 0..8 {
        let mut c = cluster(2, seed);
        // SKU 0 is only at DC-02 (shard 1); the order ships to New York,
        // so it lives on DC-01's shard 0 and reserves across.
        let no = c.place(request("o-1", &[(0, 2)])).unwrap().unwrap();
        assert_eq!(c.ownership().order(no), 0);
        let o = c.order(no).unwrap();
        assert_eq!(o.fulfillments().len(), 1);
        assert_eq!(o.fulfillments()[0].facility, FacilityIdx(1));
        let cell = c
            .cell(CellKey {
                sku: SkuIdx(0),
                facility: FacilityIdx(1),
            })
            .unwrap();
        assert_eq!(cell.reserved(), 2);
        assert!(c.shards()[0]
            .cells()
            .all(|(k, _)| k.facility == FacilityIdx(0)));
        // All-or-nothing across shards: both lines at DC-02, none at DC-01.
        let no = c.place(request("o-2", &[(0, 1), (1, 1)])).unwrap().unwrap();
        let o = c.order(no).unwrap();
        assert_eq!(o.fulfillments().len(), 1, "one facility can ship it all");
        assert_eq!(o.fulfillments()[0].facility, FacilityIdx(1));
        assert!(c.audit().passed(), "{}", c.audit().failures());
        assert!(c.anomalies().is_empty());
    }
}

#[test]
fn a_closure_on_one_shard_steers_routing_on_another() {
    let mut c = cluster(2, 5);
    c.set_status(FacilityIdx(0), false, None).unwrap().unwrap();
    // SKU 1 is at both; DC-01 is nearer but closed.
    let no = c.place(request("o-1", &[(1, 1)])).unwrap().unwrap();
    assert_eq!(
        c.order(no).unwrap().fulfillments()[0].facility,
        FacilityIdx(1)
    );
    c.set_status(FacilityIdx(0), true, None).unwrap().unwrap();
    let no = c.place(request("o-2", &[(1, 1)])).unwrap().unwrap();
    assert_eq!(
        c.order(no).unwrap().fulfillments()[0].facility,
        FacilityIdx(0)
    );
}

#[test]
fn the_clock_drives_max_wait_waves() {
    let mut c = cluster(2, 9);
    let no = c.place(request("o-1", &[(1, 1)])).unwrap().unwrap();
    assert!(c.advance(T0 + 999).is_empty(), "not due before max wait");
    let waves = c.advance(T0 + 1_000);
    assert_eq!(waves.len(), 1);
    assert_eq!(waves[0].trigger, WaveTrigger::MaxWait);
    let f = &c.order(no).unwrap().fulfillments()[0];
    assert_eq!(f.wave_id.as_deref(), Some(&*waves[0].wave_id));
}

#[test]
fn a_duplicate_receipt_is_not_vouched_for_before_its_original_is_durable() {
    let mut c = cluster(2, 11);
    c.hold_durability(true);
    let key = CellKey {
        sku: SkuIdx(0),
        facility: FacilityIdx(0),
    };
    let receive = |reply| Msg::Receive {
        facility: key.facility,
        qty: 3,
        restock: false,
        receipt_id: Some("r-1".into()),
        reply: Some(reply),
    };
    c.offer(ActorRef::Desk(key.sku), receive(1)).unwrap();
    c.offer(ActorRef::Desk(key.sku), receive(2)).unwrap();
    c.run_until_quiescent();
    assert_eq!(c.take_answer(1), None);
    assert_eq!(
        c.take_answer(2),
        None,
        "the duplicate waits for the original"
    );
    c.hold_durability(false);
    assert!(matches!(
        c.take_answer(1),
        Some(Answer::Stock(StockAnswer::Applied { .. }))
    ));
    assert_eq!(
        c.take_answer(2),
        Some(Answer::Stock(StockAnswer::Duplicate))
    );
    assert_eq!(c.cell(key).unwrap().on_hand(), 3, "received once");
}

#[test]
fn a_backorder_is_filled_by_a_receipt_on_another_shard() {
    for seed in 0..8 {
        let mut c = cluster(2, seed);
        // 5 of SKU 0 at DC-02; the sixth unit waits.
        let first = c.place(request("o-1", &[(0, 5)])).unwrap().unwrap();
        let waiting = c.place(request("o-2", &[(0, 1)])).unwrap().unwrap();
        assert_eq!(c.order(waiting).unwrap().backordered(), &[0]);
        // The desk of SKU 0 and both orders are on shard 0; DC-02 on shard 1.
        assert_eq!(c.ownership().desk(SkuIdx(0)), 0);
        assert_eq!(c.ownership().order(waiting), 0);
        let key = CellKey {
            sku: SkuIdx(0),
            facility: FacilityIdx(1),
        };
        let r = c.receive(key, 1, "r-1".into()).unwrap();
        assert!(matches!(r, StockAnswer::Applied { .. }), "{r:?}");
        let o = c.order(waiting).unwrap();
        assert!(o.backordered().is_empty(), "served by the receipt");
        assert_eq!(o.fulfillments()[0].facility, FacilityIdx(1));
        // Cancel the first: its 5 go back and nobody waits for them.
        c.cancel(first).unwrap().unwrap();
        let cell = c
            .cell(CellKey {
                sku: SkuIdx(0),
                facility: FacilityIdx(1),
            })
            .unwrap();
        assert_eq!(cell.available(), 5);
        assert!(c.audit().passed(), "{}", c.audit().failures());
    }
}

/// Runs a fixed mix of operations on 3 shards and returns the journal.
fn fixed_run(seed: u64) -> Vec<orch_actors::log::LogEntry> {
    let mut c = cluster(3, seed);
    let mut nos = Vec::new();
    for i in 0..12u32 {
        let lines = [(i % 2, 1 + i % 3), ((i + 1) % 2, 1)];
        nos.push(
            c.place(request(&format!("o-{i}"), &lines))
                .unwrap()
                .unwrap(),
        );
    }
    c.cancel(nos[0]).unwrap().unwrap();
    c.cancel(nos[3]).unwrap().unwrap();
    let key = CellKey {
        sku: SkuIdx(0),
        facility: FacilityIdx(0),
    };
    c.receive(key, 4, "r-1".into()).unwrap();
    c.advance(T0 + 5_000);
    assert!(c.audit().passed(), "{}", c.audit().failures());
    c.journal().to_vec()
}

#[test]
fn the_same_seed_gives_the_same_journal() {
    for seed in 0..4 {
        assert_eq!(fixed_run(seed), fixed_run(seed), "seed {seed}");
    }
}

/// The only shard of the test network, 8 messages in its inbox at most.
fn lone_shard() -> Shard {
    let cfg = config();
    let router = std::sync::Arc::new(Router::new(
        &cfg.routing,
        &cfg.network.facilities,
        &cfg.carriers,
    ));
    let limits = ShardLimits {
        inbox_max: 8,
        tick_max: 8,
        seen_ids_max: 10,
    };
    Shard::new(&cfg, Ownership::new(1), 0, router, limits, T0)
}

/// A stopwatch that moves 7 ns on every reading.
fn ticking() -> u64 {
    static NS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NS.fetch_add(7, std::sync::atomic::Ordering::Relaxed)
}

#[test]
fn a_tick_reports_what_it_saw_for_the_metrics() {
    let mut shard = lone_shard();
    let place = |n: u64, qty: u32| Envelope {
        to: ActorRef::Order(OrderNo(n)),
        msg: Msg::Place {
            req: request(&format!("o-{n}"), &[(1, qty)]),
            reply: n,
        },
    };
    // Without a stopwatch: counts, no durations.
    shard.offer(place(1, 2)).unwrap();
    shard.offer(place(2, 2)).unwrap();
    let f = shard
        .tick_up_to(T0, &orch_engine::view::View::default(), 1)
        .facts;
    assert_eq!(f.waiting, [1, 0, 0, 0, 0], "the second order still waits");
    assert_eq!(f.reserved, 1);
    assert_eq!(f.handled[0], 2, "the place and the cells' answer");
    assert_eq!(f.handled[1], 1, "the reservation request");
    assert!(f.route_ns.is_empty() && f.reserve_ns.is_empty());
    // With one: each route and each round trip timed.
    shard.set_stopwatch(ticking);
    shard.offer(place(3, 9)).unwrap();
    let f = shard.tick(T0, &orch_engine::view::View::default()).facts;
    assert_eq!(f.waiting, [0; 5]);
    assert_eq!(f.reserved, 1, "order 2 takes 2 of the 3 left at DC-01");
    assert_eq!(f.short + f.refused, 0, "order 3 is backordered by the plan");
    assert_eq!(f.route_ns.len(), 2);
    assert!(f.route_ns.iter().all(|&ns| ns > 0));
    assert!(!f.reserve_ns.is_empty() && f.reserve_ns.iter().all(|&ns| ns > 0));
}

#[test]
fn a_passivated_order_waits_for_its_state_and_then_handles_what_came() {
    let view = orch_engine::view::View::default();
    let mut shard = lone_shard();
    let no = OrderNo(1);
    let offer = |shard: &mut Shard, msg: Msg| {
        shard.offer(Envelope {
            to: ActorRef::Order(no),
            msg,
        })
    };
    offer(
        &mut shard,
        Msg::Place {
            req: request("o-1", &[(1, 1)]),
            reply: 1,
        },
    )
    .unwrap();
    offer(&mut shard, Msg::Cancel { reply: 2 }).unwrap();
    shard.tick(T0, &view);
    let stored = shard.order(no).expect("placed").clone();
    assert!(stored.status().is_final());
    let len = stored.timeline().len();
    // Changed since the snapshot (another timeline length): it stays.
    assert_eq!(shard.passivate(&[(no, len - 1)]), 0);
    assert_eq!(shard.passivate(&[(no, len)]), 1);
    assert!(shard.order(no).is_none() && shard.is_passive(no));
    // Two messages while it is out: one wake asked, nothing answered yet.
    offer(&mut shard, Msg::Cancel { reply: 3 }).unwrap();
    offer(&mut shard, Msg::Cancel { reply: 4 }).unwrap();
    let out = shard.tick(T0, &view);
    assert_eq!(out.wake, vec![no]);
    assert!(out.replies.is_empty(), "{:?}", out.replies);
    // The host's read brings it back: both answered, in order.
    shard.deliver(vec![Envelope {
        to: ActorRef::Order(no),
        msg: Msg::Woken {
            state: Some(Box::new(stored.clone())),
        },
    }]);
    let out = shard.tick(T0, &view);
    let ids: Vec<_> = out.replies.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![3, 4]);
    assert!(out.wake.is_empty());
    assert_eq!(shard.order(no), Some(&stored));
    assert!(!shard.is_passive(no) && shard.anomalies().is_empty());
}
