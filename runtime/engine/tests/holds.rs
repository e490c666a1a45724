//! Cart holds through the serial cluster: expiry by the injected clock,
//! conversion in place, refused transitions, scarce stock under many
//! concurrent holds, released units to waiting backorders first, and a
//! seeded random walk checking held + reserved <= on hand after every step,
//! a clean audit and replay equal to the live state.

use std::sync::Arc;

use orch_actors::hold::{HoldNo, HoldRefusal, HoldRequest, HoldStatus};
use orch_actors::order::{OrderLine, PlaceRequest};
use orch_actors::sim::World;
use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_config::{
    Config, FacilityConfig, FacilityKind, Millis, Network, ServiceLevel, StockEntry, WavePolicy,
};
use orch_engine::cluster::{Cluster, ClusterOptions};
use orch_engine::msg::{ActorRef, HoldError, Msg};

const T0: Millis = 1_700_000_000_000;

fn facility(id: &str, lat: f64, lon: f64) -> FacilityConfig {
    FacilityConfig {
        id: id.into(),
        kind: FacilityKind::Dc,
        lat,
        lon,
        capacity_per_hour: 100,
        cost_per_fulfillment: 1.0,
        zones: vec!["A".into()],
        wave: WavePolicy {
            size_max: 50,
            wait_ms_max: 3_600_000,
        },
        cutoffs: vec![],
        enabled: true,
    }
}

fn config() -> Config {
    let stock = |sku, facility, on_hand| StockEntry {
        sku,
        facility,
        on_hand,
        safety_stock: 0,
    };
    Config::with_network(Network {
        facilities: vec![
            facility("DC-01", 40.7, -74.0),
            facility("DC-02", 41.9, -87.6),
        ],
        skus: (0..3).map(|i| format!("SKU-{i:06}")).collect(),
        stock: vec![
            stock(0, 0, 3),
            stock(0, 1, 2),
            stock(1, 0, 4),
            stock(2, 1, 1),
        ],
    })
}

fn cluster(shards: usize, seed: u64) -> Cluster {
    let mut c = Cluster::new(
        &config(),
        ClusterOptions {
            shards,
            seed,
            shuffle: true,
            ..ClusterOptions::default()
        },
        T0,
    );
    c.check_cells_every_tick(true);
    c
}

fn hold_req(id: &str, ttl_s: u32, lines: &[(u32, u32)], allow_partial: bool) -> HoldRequest {
    HoldRequest {
        hold_id: Arc::from(id),
        lat: 40.7,
        lon: -74.0,
        service_level: ServiceLevel::Standard,
        ttl_s,
        lines: lines
            .iter()
            .map(|&(sku, qty)| OrderLine {
                sku: SkuIdx(sku),
                qty,
            })
            .collect(),
        allow_partial,
    }
}

fn order_req(id: &str, lines: &[(u32, u32)], allow_backorder: bool) -> PlaceRequest {
    PlaceRequest {
        order_id: Arc::from(id),
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
        allow_backorder,
    }
}

fn held(c: &Cluster, sku: u32) -> u32 {
    c.cells()
        .filter(|(k, _)| k.sku.0 == sku)
        .map(|(_, s)| s.held())
        .sum()
}

fn check(c: &Cluster) {
    for (k, s) in c.cells() {
        assert!(
            s.held() + s.reserved() <= s.on_hand(),
            "{k:?}: held {} + reserved {} > on hand {}",
            s.held(),
            s.reserved(),
            s.on_hand()
        );
    }
    assert!(c.violations().is_empty(), "{:?}", c.violations());
    assert!(c.anomalies().is_empty(), "{:?}", c.anomalies());
    let audit = c.audit();
    assert!(audit.passed(), "{}", audit.failures());
}

/// Replays the cluster's journal into a `World` and compares cells and holds.
fn check_replay(c: &Cluster) {
    let mut w = World::new(&config(), T0);
    for e in c.journal() {
        w.replay(e)
            .unwrap_or_else(|err| panic!("replay failed: {err}"));
    }
    let mut live: Vec<_> = c
        .cells()
        .map(|(k, s)| (k, s.on_hand(), s.reserved(), s.held()))
        .collect();
    let mut again: Vec<_> = w
        .cells
        .iter()
        .map(|(k, s)| (*k, s.on_hand(), s.reserved(), s.held()))
        .collect();
    live.sort_by_key(|x| x.0);
    again.sort_by_key(|x| x.0);
    assert_eq!(live, again, "cells differ after replay");
    for h in c.holds() {
        assert_eq!(w.holds.get(&h.no()), Some(h), "hold differs after replay");
    }
    assert_eq!(w.holds.len(), c.holds().count());
}

#[test]
fn a_hold_expires_by_the_injected_clock_and_its_units_come_back() {
    let mut c = cluster(1, 1);
    let h = c
        .create_hold(hold_req("h-1", 10, &[(0, 3)], true))
        .unwrap()
        .unwrap();
    assert_eq!(h.status(), HoldStatus::Active);
    assert_eq!(held(&c, 0), 3);
    let key = CellKey {
        sku: SkuIdx(0),
        facility: FacilityIdx(0),
    };
    assert_eq!(
        c.cell(key).unwrap().available(),
        0,
        "held units are not available"
    );
    c.advance(h.expires_at() - 1);
    c.run_until_quiescent();
    assert_eq!(held(&c, 0), 3, "still held a millisecond before expiry");
    c.advance(h.expires_at());
    c.run_until_quiescent();
    assert_eq!(held(&c, 0), 0, "an expired hold holds nothing");
    let h = c.read_hold("h-1").unwrap().unwrap();
    assert_eq!(h.status(), HoldStatus::Expired);
    assert_eq!(c.cell(key).unwrap().available(), 3);
    check(&c);
    check_replay(&c);
}

#[test]
fn conversion_takes_the_held_units_in_place_and_places_the_rest() {
    for shards in [1, 2] {
        let mut c = cluster(shards, 7);
        let h = c
            .create_hold(hold_req("h-1", 900, &[(0, 2), (2, 1)], true))
            .unwrap()
            .unwrap();
        let at: Vec<_> = h.held().to_vec();
        // Someone else buys everything else of SKU 0: the hold's units stay.
        let other = c
            .place(order_req("o-x", &[(0, 3)], false))
            .unwrap()
            .unwrap();
        assert!(c.order(other).is_some());
        let no = c
            .place_with_hold(order_req("o-1", &[(0, 2), (1, 1), (2, 1)], false), "h-1")
            .unwrap()
            .unwrap();
        let o = c.order(no).unwrap();
        assert_eq!(o.status().as_str(), "routed", "{o:?}");
        for (f, lines) in &at {
            for &l in lines {
                let sku = h.request().lines[usize::from(l)].sku;
                let line = o.request().lines.iter().position(|x| x.sku == sku).unwrap() as u16;
                let cell = c.cell(CellKey { sku, facility: *f }).unwrap();
                assert!(
                    cell.reservation(orch_actors::LineRef { order: no, line }) > 0,
                    "line {line} reserved where the hold held it"
                );
            }
        }
        assert_eq!(held(&c, 0) + held(&c, 2), 0);
        let h = c.read_hold("h-1").unwrap().unwrap();
        assert_eq!((h.status(), h.order()), (HoldStatus::Converted, Some(no)));
        // Refused transitions of a converted hold.
        assert_eq!(
            c.release_hold("h-1").unwrap(),
            Err(HoldError::Refused(HoldRefusal::Converted))
        );
        assert_eq!(
            c.extend_hold("h-1", 60).unwrap(),
            Err(HoldError::Refused(HoldRefusal::NotActive("converted")))
        );
        // A second order naming it is placed as usual and takes nothing of it.
        let again = c
            .place_with_hold(order_req("o-2", &[(1, 1)], true), "h-1")
            .unwrap()
            .unwrap();
        assert!(c.order(again).is_some());
        check(&c);
        check_replay(&c);
    }
}

#[test]
fn refused_creations_and_an_expired_hold_does_not_fail_the_order() {
    let mut c = cluster(1, 3);
    assert_eq!(
        c.create_hold(hold_req("h-big", 60, &[(0, 4), (1, 1)], false))
            .unwrap(),
        Err(HoldError::Refused(HoldRefusal::InsufficientStock)),
        "holding more than is available is refused without allow_partial"
    );
    assert_eq!(held(&c, 0) + held(&c, 1), 0, "a refused hold holds nothing");
    assert_eq!(c.read_hold("h-big").unwrap(), Err(HoldError::Unknown));
    assert!(matches!(
        c.create_hold(hold_req("h-ttl", 14_401, &[(0, 1)], true))
            .unwrap(),
        Err(HoldError::Refused(HoldRefusal::Ttl { .. }))
    ));
    let h = c
        .create_hold(hold_req("h-1", 5, &[(0, 5)], true))
        .unwrap()
        .unwrap();
    assert_eq!(
        h.unavailable(),
        [0],
        "a line no single cell can hold is unavailable"
    );
    let h = c
        .create_hold(hold_req("h-2", 5, &[(1, 2)], true))
        .unwrap()
        .unwrap();
    assert_eq!(
        c.create_hold(hold_req("h-2", 5, &[(1, 2)], true))
            .unwrap()
            .unwrap()
            .no(),
        h.no(),
        "hold_id is idempotent"
    );
    assert_eq!(
        c.create_hold(hold_req("h-2", 5, &[(1, 3)], true)).unwrap(),
        Err(HoldError::Conflict)
    );
    c.advance(h.expires_at() + 10);
    let no = c
        .place_with_hold(order_req("o-1", &[(1, 2)], false), "h-2")
        .unwrap()
        .unwrap();
    assert_eq!(c.order(no).unwrap().status().as_str(), "routed");
    assert_eq!(
        c.read_hold("h-2").unwrap().unwrap().status(),
        HoldStatus::Expired
    );
    assert_eq!(
        c.extend_hold("h-2", 60).unwrap(),
        Err(HoldError::Refused(HoldRefusal::NotActive("expired")))
    );
    check(&c);
    check_replay(&c);
}

/// Found by the simulator (orch-sim seeds 14 and 24): a hold covering
/// every line of its order left nothing to route, and the plan's facility
/// became a second fulfillment without lines (an anomaly, or a panic once
/// its facility queued it).
#[test]
fn a_hold_covering_every_line_converts_into_no_empty_fulfillment() {
    // SKU 2 is only at DC-02; the ship-to is next to DC-01.
    let mut c = cluster(2, 3);
    c.create_hold(hold_req("h-1", 900, &[(2, 1)], true))
        .unwrap()
        .unwrap();
    let no = c
        .place_with_hold(order_req("o-1", &[(2, 1)], true), "h-1")
        .unwrap()
        .unwrap();
    let o = c.order(no).unwrap();
    assert_eq!(o.fulfillments().len(), 1, "{o:?}");
    assert!(
        o.fulfillments().iter().all(|f| !f.lines.is_empty()),
        "{o:?}"
    );
    assert!(c.anomalies().is_empty(), "{:?}", c.anomalies());
    check(&c);
    check_replay(&c);
}

#[test]
fn released_units_go_to_waiting_backorders_first() {
    let mut c = cluster(2, 5);
    c.create_hold(hold_req("h-1", 900, &[(2, 1)], true))
        .unwrap()
        .unwrap();
    let waiting = c.place(order_req("o-1", &[(2, 1)], true)).unwrap().unwrap();
    assert_eq!(c.order(waiting).unwrap().status().as_str(), "backordered");
    c.release_hold("h-1").unwrap().unwrap();
    assert_eq!(
        c.order(waiting).unwrap().status().as_str(),
        "routed",
        "the released unit went to the waiting line"
    );
    check(&c);
    check_replay(&c);
}

#[test]
fn many_holds_for_one_scarce_sku_never_hold_more_than_its_stock() {
    for seed in 0..8 {
        let mut c = cluster(2, seed);
        for k in 1..=40u64 {
            let req = hold_req(
                &format!("h-{k}"),
                900,
                &[(0, 1 + (k % 2) as u32)],
                k % 3 != 0,
            );
            c.offer(ActorRef::Hold(HoldNo(k)), Msg::CreateHold { req, reply: k })
                .unwrap();
        }
        c.run_until_quiescent();
        assert!(held(&c, 0) <= 5, "held {} of 5", held(&c, 0));
        assert!(held(&c, 0) >= 4, "stock was left unheld: {}", held(&c, 0));
        check(&c);
        check_replay(&c);
    }
}

#[test]
fn a_seeded_walk_keeps_every_hold_invariant() {
    for seed in 0..6u64 {
        let mut c = cluster(1 + (seed % 2) as usize, seed);
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = |m: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % m
        };
        let mut now = T0;
        for step in 0..120 {
            let id = format!("h-{}", next(12));
            match next(7) {
                0 | 1 => {
                    let lines = [(next(3) as u32, 1 + next(3) as u32)];
                    let _ = c.create_hold(hold_req(&id, 1 + next(30) as u32, &lines, next(2) == 0));
                }
                2 => {
                    let _ = c.extend_hold(&id, 1 + next(30) as u32);
                }
                3 => {
                    let _ = c.release_hold(&id);
                }
                4 => {
                    let lines = [(next(3) as u32, 1 + next(2) as u32)];
                    let _ = c.place_with_hold(order_req(&format!("o-{step}"), &lines, true), &id);
                }
                5 => {
                    let lines = [(next(3) as u32, 1)];
                    if let Ok(Ok(no)) = c.place(order_req(&format!("p-{step}"), &lines, true)) {
                        if next(2) == 0 {
                            let _ = c.cancel(no);
                        }
                    }
                }
                _ => {
                    now += next(15_000);
                    c.advance(now);
                    c.run_until_quiescent();
                }
            }
            check(&c);
            for h in c.holds() {
                if h.status() != HoldStatus::Active {
                    assert_eq!(h.units_held().count(), 0);
                }
                assert!(
                    h.status() != HoldStatus::Active || h.expires_at() > c.now(),
                    "an active hold past its expiry after a tick: {h:?}"
                );
            }
            // A converted hold's units belong to exactly one order.
            for h in c.holds().filter(|h| h.status() == HoldStatus::Converted) {
                let no = h.order().unwrap();
                assert!(c.order(no).is_some(), "converted by an order that exists");
            }
        }
        check_replay(&c);
    }
}

#[test]
fn holds_survive_a_restart_and_those_that_expired_while_down_are_released() {
    for shards in [1, 2] {
        let mut c = cluster(shards, 3);
        let short = c
            .create_hold(hold_req("h-short", 10, &[(0, 2)], true))
            .unwrap()
            .unwrap();
        let long = c
            .create_hold(hold_req("h-long", 900, &[(1, 1)], true))
            .unwrap()
            .unwrap();
        c.run_until_quiescent();
        let journal = c.journal().to_vec();
        let down_until = short.expires_at() + 5_000;
        let options = ClusterOptions {
            shards,
            seed: 4,
            shuffle: true,
            keep_journal: true,
            ..ClusterOptions::default()
        };
        let mut r = Cluster::restore(&config(), options, down_until, journal).unwrap();
        assert_eq!(held(&r, 0), 2, "restored as it was journaled");
        assert_eq!(held(&r, 1), 1);
        r.advance(down_until);
        r.run_until_quiescent();
        assert_eq!(held(&r, 0), 0, "expired while the core was down: released");
        assert_eq!(held(&r, 1), 1, "still active");
        let s = r.read_hold("h-short").unwrap().unwrap();
        assert_eq!(s.status(), HoldStatus::Expired);
        let l = r.read_hold("h-long").unwrap().unwrap();
        assert_eq!((l.status(), l.no()), (HoldStatus::Active, long.no()));
        let again = r
            .create_hold(hold_req("h-new", 60, &[(1, 1)], true))
            .unwrap()
            .unwrap();
        assert_ne!(
            again.no(),
            long.no(),
            "hold numbers resume after the restart"
        );
        check(&r);
    }
}
