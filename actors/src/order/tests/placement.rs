//! Placement, routing, backorder fills, waves and the derived status.

use super::*;

#[test]
fn status_is_derived_from_the_parts() {
    use OrderStatus as O;
    let (o, _) = OrderState::place(NO, request(&[(A, 1)]), T);
    assert_eq!(o.status(), O::Received);
    assert!(!o.status().is_final());
    assert_eq!(rejected_order().status(), O::Rejected);
    assert!(rejected_order().expected_reservations().is_empty());

    let o = routed(&[(A, 1), (B, 1)], vec![], vec![0, 1]);
    assert_eq!(o.status(), O::Backordered);
    let o = routed(&[(A, 1), (B, 1)], vec![(F0, vec![0])], vec![1]);
    assert_eq!(o.status(), O::PartiallyBackordered);
    let o = routed(&[(A, 1), (B, 1)], vec![(F0, vec![0, 1])], vec![]);
    assert_eq!(o.status(), O::Routed);

    // The least advanced live fulfillment.
    let mut o = routed(
        &[(A, 1), (B, 1)],
        vec![(F0, vec![0]), (F1, vec![1])],
        vec![],
    );
    release(&mut o, 1);
    assert_eq!(o.status(), O::Routed);
    must_apply(&mut o, &pick("d1", 1, A, 1));
    must_apply(&mut o, &scan("d2", ScanKind::Pack, 1));
    must_apply(&mut o, &ship("d3", 1));
    assert_eq!(o.status(), O::Routed);
    release(&mut o, 2);
    assert_eq!(o.status(), O::Released);
    let at_f1 = |s: Scan| Scan { facility: F1, ..s };
    must_apply(&mut o, &at_f1(pick("d4", 2, B, 1)));
    assert_eq!(o.status(), O::Picking);
    // An open exception anywhere shows.
    must_apply(&mut o, &exception("d5", 1));
    assert_eq!(o.status(), O::Exception);
    must_apply(&mut o, &scan("d6", ScanKind::Delivered, 1));
    assert_eq!(o.status(), O::Picking);
    must_apply(&mut o, &at_f1(scan("d7", ScanKind::Pack, 2)));
    must_apply(&mut o, &at_f1(ship("d8", 2)));
    assert_eq!(o.status(), O::Shipped);
    must_apply(&mut o, &scan("d9", ScanKind::OutForDelivery, 2));
    assert_eq!(o.status(), O::OutForDelivery);
    must_apply(&mut o, &scan("d10", ScanKind::Delivered, 2));
    assert_eq!(o.status(), O::Delivered);
    assert!(o.status().is_final());
    // Returned only once every fulfillment came back.
    must_apply(&mut o, &ret("d11", 1, A, 1, Disposition::Restock));
    assert_eq!(fstatus(&o, 1), FulfillmentStatus::Returned);
    assert_eq!(o.status(), O::Delivered);
    must_apply(&mut o, &ret("d12", 2, B, 1, Disposition::Dispose));
    assert_eq!(o.status(), O::Returned);

    // An exception shows even while a line waits.
    let mut o = routed(&[(A, 1), (B, 1)], vec![(F0, vec![0])], vec![1]);
    release(&mut o, 1);
    must_apply(&mut o, &pick("b1", 1, A, 1));
    must_apply(&mut o, &scan("b2", ScanKind::Pack, 1));
    must_apply(&mut o, &ship("b3", 1));
    assert_eq!(o.status(), O::PartiallyBackordered);
    must_apply(&mut o, &exception("b4", 1));
    assert_eq!(o.status(), O::Exception);
    must_apply(&mut o, &scan("b5", ScanKind::Delivered, 1));
    assert_eq!(o.status(), O::PartiallyBackordered, "still waits for B");
    assert!(!o.status().is_final());
}

#[test]
fn decide_routed_enqueues_fulfillments_and_backorders_lines() {
    let (o, placed) = OrderState::place(NO, request(&[(A, 2), (B, 1), (C, 4)]), T);
    assert_eq!(
        placed,
        OrderEvent::Placed {
            request: o.request().clone(),
            at: T
        }
    );
    assert_eq!(OrderState::from_placed(NO, &placed), Some(o.clone()));
    assert_eq!(
        OrderState::from_placed(NO, &OrderEvent::Cancelled { at: T }),
        None
    );
    let (event, effects) = o.decide_routed(
        PlacementOutcome {
            fulfillments: vec![(F0, vec![0]), (F1, vec![2])],
            backordered: vec![1],
            rejected: None,
        },
        T + 1,
        &none(),
    );
    assert_eq!(
        effects,
        vec![
            Effect::Enqueue {
                fulfillment: fref(1)
            },
            Effect::Enqueue {
                fulfillment: fref(2)
            },
            Effect::Backorder {
                sku: B,
                line: line(1),
                qty: 1
            },
        ]
    );
    let mut o = o;
    o.apply(&event);
    assert_eq!(o.fulfillments().len(), 2);
    assert_eq!(o.fulfillment(2).unwrap().facility, F1);
    assert_eq!(o.fulfillment(2).unwrap().lines[0].qty, 4);
    assert_eq!(o.backordered(), &[1]);
    assert_eq!(
        o.expected_reservations(),
        vec![(cell(A, F0), line(0), 2), (cell(C, F1), line(2), 4)]
    );
    let what: Vec<&str> = o.timeline().iter().map(|t| &*t.what).collect();
    assert_eq!(what, vec!["placed", "routed", "routed", "backordered"]);
}

#[test]
fn decide_fill_only_for_a_line_that_waits() {
    let mut o = routed(&[(A, 1), (B, 2)], vec![(F0, vec![0])], vec![1]);
    let before = o.clone();
    assert!(
        o.decide_fill(0, F1, T, &none()).is_err(),
        "line 0 is routed"
    );
    assert!(o.decide_fill(5, F1, T, &none()).is_err(), "no such line");
    assert_eq!(o, before);
    let (event, effects) = o.decide_fill(1, F1, T + 3, &none()).unwrap();
    assert_eq!(
        event,
        OrderEvent::BackorderFilled {
            line: 1,
            facility: F1,
            plan: None,
            at: T + 3
        }
    );
    assert_eq!(
        effects,
        vec![Effect::Enqueue {
            fulfillment: fref(2)
        }]
    );
    o.apply(&event);
    o.check_invariants().unwrap();
    assert!(o.backordered().is_empty());
    assert_eq!(o.status(), OrderStatus::Routed);
    let f = o.fulfillment(2).unwrap();
    assert_eq!((f.facility, f.lines[0].sku, f.lines[0].qty), (F1, B, 2));
    assert_eq!(o.timeline().last().unwrap().what, "backorder_filled");
    // Served once: a second fill is refused.
    assert!(o.decide_fill(1, F0, T + 4, &none()).is_err());
}

#[test]
fn decide_wave_only_for_a_routed_fulfillment() {
    let mut o = at_stage(Stage::Routed);
    assert!(o.decide_wave(2, "W".into(), T).is_err());
    release(&mut o, 1);
    assert_eq!(
        o.fulfillment(1).unwrap().wave_id.as_deref(),
        Some("DC-W000001")
    );
    assert!(o.decide_wave(1, "W2".into(), T).is_err(), "released twice");
}

#[test]
fn backorder_priority_follows_service_level() {
    let mut r = request(&[(A, 1)]);
    for (level, p) in [
        (ServiceLevel::SameDay, 0),
        (ServiceLevel::NextDay, 1),
        (ServiceLevel::Standard, 2),
    ] {
        r.service_level = level;
        assert_eq!(OrderState::place(NO, r.clone(), T).0.priority(), p);
    }
}

#[test]
fn names_round_trip() {
    for k in ScanKind::ALL {
        assert_eq!(ScanKind::parse(k.as_str()), Some(k));
    }
    assert_eq!(ScanKind::parse("teleported"), None);
    assert_eq!(
        FulfillmentStatus::OutForDelivery.as_str(),
        "out_for_delivery"
    );
}
