//! Ship plans at routing and fills, tracking numbers, re-rating, promises.

use super::*;

/// `NWP`: ground (5.00 + 1.00 a unit, 3 days) and air (20.00, 1 day);
/// `BBP`: post (12.00 + 0.50 a unit, 5 days) and express (30.00, 1
/// day); all picked up at 18:00 at F0 only.
fn nwp() -> Rates {
    use orch_config::carriers::{CarrierConfig, Carriers, RateBand, ServiceConfig, EVERY_DAY};
    let service = |id: &str, base: f64, per_unit: f64, transit_days: u32| ServiceConfig {
        id: id.into(),
        bands: vec![RateBand {
            km_max: 5_000.0,
            base,
            per_unit,
            transit_days,
        }],
        delivery_days: EVERY_DAY,
        cutoffs: vec![Some(18 * 60), None],
    };
    let carriers = Carriers {
        carriers: vec![
            CarrierConfig {
                id: "NWP".into(),
                services: vec![service("ground", 5.0, 1.0, 3), service("air", 20.0, 0.0, 1)],
            },
            CarrierConfig {
                id: "BBP".into(),
                services: vec![
                    service("post", 12.0, 0.5, 5),
                    service("express", 30.0, 0.0, 1),
                ],
            },
        ],
    };
    Rates::from_sites(&carriers, vec![(40.5, -74.3), (41.0, -75.0)])
}

#[test]
fn the_ship_plan_is_chosen_at_routing_journaled_and_replayed_as_is() {
    let (mut o, placed) = OrderState::place(NO, request(&[(A, 2), (B, 1), (C, 1)]), T);
    let (event, _) = o.decide_routed(
        PlacementOutcome {
            fulfillments: vec![(F0, vec![0, 1]), (F1, vec![2])],
            backordered: vec![],
            rejected: None,
        },
        T,
        &nwp(),
    );
    let OrderEvent::Routed { plans, .. } = &event else {
        panic!("a routing event");
    };
    // Standard: ground is the cheapest that meets it, for 3 units.
    let p = plans[0].as_ref().expect("F0 ships");
    assert_eq!((&*p.carrier, &*p.service), ("NWP", "ground"));
    assert!((p.shipping_cost - 8.0).abs() < 1e-9);
    assert_eq!(p.ship_by, 18 * 3_600_000, "day 0, 18:00");
    assert_eq!(p.delivery_day, 3);
    assert!(p.service_level_met);
    assert_eq!(plans[1], None, "nothing picks up at F1");
    o.apply(&event);
    o.check_invariants().unwrap();
    assert_eq!(o.fulfillment(1).unwrap().ship.as_ref(), Some(p));
    assert_eq!(o.fulfillment(2).unwrap().ship, None);
    let routed: Vec<_> = o.timeline().iter().filter(|t| t.what == "routed").collect();
    assert_eq!(
        routed[0].ship.as_ref(),
        Some(p),
        "the timeline says what was chosen"
    );
    assert_eq!(routed[1].ship, None);
    // Replay applies the journaled event: no rates are consulted.
    let mut again = OrderState::from_placed(NO, &placed).unwrap();
    again.apply(&event);
    assert_eq!(again, o);
}

#[test]
fn a_backorder_fill_gets_its_own_ship_plan() {
    let mut o = routed(&[(A, 1), (B, 4)], vec![(F0, vec![0])], vec![1]);
    let (event, _) = o.decide_fill(1, F0, T + 5, &nwp()).unwrap();
    let OrderEvent::BackorderFilled { plan: Some(p), .. } = &event else {
        panic!("a fill with a plan: {event:?}");
    };
    assert!((p.shipping_cost - 9.0).abs() < 1e-9, "4 units of ground");
    let p = p.clone();
    o.apply(&event);
    assert_eq!(o.fulfillment(2).unwrap().ship, Some(p.clone()));
    assert_eq!(o.timeline().last().unwrap().ship, Some(p));
}

/// Fulfillment 1 (A x2, B x1 at F0, planned NWP ground) packed.
fn packed_with_a_plan() -> OrderState {
    let (mut o, _) = OrderState::place(NO, request(&[(A, 2), (B, 1)]), T);
    let (event, _) = o.decide_routed(
        PlacementOutcome {
            fulfillments: vec![(F0, vec![0, 1])],
            backordered: vec![],
            rejected: None,
        },
        T,
        &nwp(),
    );
    o.apply(&event);
    release(&mut o, 1);
    must_apply(&mut o, &pick("p1", 1, A, 2));
    must_apply(&mut o, &pick("p2", 1, B, 1));
    must_apply(&mut o, &scan("pk", ScanKind::Pack, 1));
    o
}

fn decide_and_apply(o: &mut OrderState, s: &Scan) -> OrderEvent {
    match o.decide_scan(s, &nwp()) {
        Ok(ScanDecision::Apply { event, .. }) => {
            o.apply(&event);
            o.check_invariants().unwrap();
            event
        }
        other => panic!("{s:?} should apply, got {other:?}"),
    }
}

#[test]
fn a_ship_scan_without_carrier_and_tracking_ships_as_planned_with_an_issued_number() {
    let mut o = packed_with_a_plan();
    let plan = o.fulfillment(1).unwrap().ship.clone();
    let bare = Scan {
        carrier: None,
        tracking: None,
        ..scan("s1", ScanKind::Ship, 1)
    };
    let event = decide_and_apply(&mut o, &bare);
    let issued = tracking_number("NWP", NO.0, 1);
    let OrderEvent::Scanned(journaled) = &event else {
        panic!("no re-rating: {event:?}");
    };
    assert_eq!(
        journaled.carrier.as_deref(),
        Some("NWP"),
        "the plan's carrier"
    );
    assert_eq!(
        journaled.tracking.as_deref(),
        Some(issued.as_str()),
        "journaled"
    );
    let f = o.fulfillment(1).unwrap();
    assert_eq!(f.status, FulfillmentStatus::Shipped);
    assert_eq!(f.carrier.as_deref(), Some("NWP"));
    assert_eq!(f.tracking.as_deref(), Some(issued.as_str()));
    assert_eq!(f.ship, plan, "the plan stands");
}

#[test]
fn fulfillments_of_one_wave_at_one_facility_ship_as_one_parcel() {
    // Fulfillment 1 (A at F0) and a backorder fill (B at F0, fulfillment 2).
    let mut o = routed(&[(A, 1), (B, 4)], vec![(F0, vec![0])], vec![1]);
    let (event, _) = o.decide_fill(1, F0, T + 5, &nwp()).unwrap();
    o.apply(&event);
    let bare = |id: &str, n| Scan {
        carrier: Some("NWP".into()),
        tracking: None,
        ..scan(id, ScanKind::Ship, n)
    };
    let mut other_wave = o.clone();
    release(&mut o, 1);
    release(&mut o, 2);
    for (n, sku, qty) in [(1, A, 1), (2, B, 4)] {
        must_apply(&mut o, &pick(&format!("p{n}"), n, sku, qty));
        must_apply(&mut o, &scan(&format!("k{n}"), ScanKind::Pack, n));
    }
    decide_and_apply(&mut o, &bare("s2", 2));
    decide_and_apply(&mut o, &bare("s1", 1));
    let t = |o: &OrderState, n| o.fulfillment(n).unwrap().tracking.clone();
    assert_eq!(t(&o, 1), t(&o, 2), "one parcel, one number");
    assert_eq!(
        t(&o, 1).as_deref(),
        Some(tracking_number("NWP", NO.0, 1).as_str())
    );
    // Released in different waves: two parcels.
    release(&mut other_wave, 1);
    let e = other_wave
        .decide_wave(2, "DC-W000002".into(), T + 6)
        .unwrap();
    other_wave.apply(&e);
    for (n, sku, qty) in [(1, A, 1), (2, B, 4)] {
        must_apply(&mut other_wave, &pick(&format!("p{n}"), n, sku, qty));
        must_apply(&mut other_wave, &scan(&format!("k{n}"), ScanKind::Pack, n));
        decide_and_apply(&mut other_wave, &bare(&format!("s{n}"), n));
    }
    assert_ne!(t(&other_wave, 1), t(&other_wave, 2));
}

#[test]
fn a_ship_scan_naming_the_carrier_only_gets_a_number_for_it() {
    let mut o = packed_with_a_plan();
    let s = Scan {
        carrier: Some("NWP".into()),
        tracking: None,
        ..scan("s1", ScanKind::Ship, 1)
    };
    decide_and_apply(&mut o, &s);
    let f = o.fulfillment(1).unwrap();
    assert_eq!(
        f.tracking.as_deref(),
        Some(tracking_number("NWP", NO.0, 1).as_str())
    );
    // A given tracking number is kept as given.
    let mut o = packed_with_a_plan();
    let s = Scan {
        carrier: None,
        tracking: Some("T-1".into()),
        ..scan("s1", ScanKind::Ship, 1)
    };
    decide_and_apply(&mut o, &s);
    let f = o.fulfillment(1).unwrap();
    assert_eq!(
        (f.carrier.as_deref(), f.tracking.as_deref()),
        (Some("NWP"), Some("T-1"))
    );
}

/// A shipped fulfillment (its plan cleared unless `with_plan`).
fn shipped(with_plan: bool) -> OrderState {
    let mut o = packed_with_a_plan();
    decide_and_apply(&mut o, &scan("s1", ScanKind::Ship, 1));
    if !with_plan {
        o.fulfillments[0].ship = None;
    }
    o
}

/// [`shipped`], then delivered by scan `d1` at `at`; answers the order
/// and the timeline entries the delivery added.
fn delivered_at(at: Millis, with_plan: bool) -> (OrderState, Vec<TimelineEntry>) {
    let mut o = shipped(with_plan);
    let before = o.timeline().len();
    let event = decide_and_apply(
        &mut o,
        &Scan {
            at,
            ..scan("d1", ScanKind::Delivered, 1)
        },
    );
    // Replaying the journaled event gives the same timeline.
    let mut replayed = shipped(with_plan);
    replayed.apply(&event);
    assert_eq!(replayed.timeline(), o.timeline(), "replay agrees");
    let after = o.timeline()[before..].to_vec();
    (o, after)
}

#[test]
fn a_delivery_after_the_promised_day_records_promise_missed() {
    let promised = packed_with_a_plan().fulfillment(1).unwrap().ship.clone();
    let day = promised.expect("a plan").delivery_day;
    let last_ms_of = |d: u64| (d + 1) * crate::shipping::DAY_MS - 1;
    let whats = |t: &[TimelineEntry]| t.iter().map(|e| e.what.to_string()).collect::<Vec<_>>();

    // On time: the last millisecond of the promised day.
    let (o, t) = delivered_at(last_ms_of(day), true);
    assert_eq!(whats(&t), ["delivered"]);
    assert_eq!(o.promise_kept(1, last_ms_of(day)), Some(true));

    // One day late: the first millisecond of the next day.
    let late = (day + 1) * crate::shipping::DAY_MS;
    let (o, t) = delivered_at(late, true);
    assert_eq!(whats(&t), ["delivered", "promise_missed"]);
    assert_eq!(
        (t[1].at, t[1].fulfillment, t[1].event_id.as_deref()),
        (late, Some(1), Some("d1")),
        "the miss is the scan's"
    );
    assert_eq!(o.promise_kept(1, late), Some(false));
    assert_eq!(o.status(), OrderStatus::Delivered);

    // No plan: nothing was promised, nothing is missed.
    let (o, t) = delivered_at(late + 10 * crate::shipping::DAY_MS, false);
    assert_eq!(whats(&t), ["delivered"]);
    assert_eq!(o.promise_kept(1, late), None);
}

#[test]
fn a_ship_scan_naming_another_carrier_re_rates_the_fulfillment() {
    let mut o = packed_with_a_plan();
    let s = Scan {
        carrier: Some("BBP".into()),
        tracking: None,
        ..scan("s1", ScanKind::Ship, 1)
    };
    let event = decide_and_apply(&mut o, &s);
    let OrderEvent::ShippedRerated { plan, scan } = &event else {
        panic!("re-rated: {event:?}");
    };
    // BBP's cheapest service: post, 12.00 + 3 x 0.50, 5 days.
    assert_eq!((&*plan.carrier, &*plan.service), ("BBP", "post"));
    assert!((plan.shipping_cost - 13.5).abs() < 1e-9);
    assert_eq!(plan.delivery_day, 5);
    assert!(
        plan.service_level_met,
        "day 5 is before Thursday's standard deadline"
    );
    assert_eq!(
        scan.tracking.as_deref(),
        Some(tracking_number("BBP", NO.0, 1).as_str())
    );
    let f = o.fulfillment(1).unwrap();
    assert_eq!(f.ship.as_ref(), Some(plan));
    assert_eq!(f.carrier.as_deref(), Some("BBP"));
    let last = o.timeline().last().unwrap();
    assert_eq!((&*last.what, last.ship.as_ref()), ("ship", Some(plan)));
    // A carrier the rates do not know cannot be rated: the plan stays.
    let mut o = packed_with_a_plan();
    let before = o.fulfillment(1).unwrap().ship.clone();
    let event = decide_and_apply(&mut o, &ship("s1", 1));
    assert!(matches!(event, OrderEvent::Scanned(_)));
    let f = o.fulfillment(1).unwrap();
    assert_eq!((f.carrier.as_deref(), &f.ship), (Some("UPS"), &before));
}
