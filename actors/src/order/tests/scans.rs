//! Scans against every status, duplicates, and each kind's own refusals.

use super::*;

fn stage_status(stage: Stage) -> FulfillmentStatus {
    use FulfillmentStatus as S;
    match stage {
        Stage::Routed => S::Routed,
        Stage::Released => S::Released,
        Stage::PickingPartial | Stage::PickingDone => S::Picking,
        Stage::Packed => S::Packed,
        Stage::Shipped => S::Shipped,
        Stage::InTransit => S::InTransit,
        Stage::OutForDelivery => S::OutForDelivery,
        Stage::Exception => S::Exception,
        Stage::Delivered => S::Delivered,
        Stage::Returned => S::Returned,
        Stage::Cancelled => S::Cancelled,
    }
}

/// The rules of `decide_scan` for a well-formed scan: `Some(status after)`
/// when accepted, `None` when refused.
fn expected(kind: ScanKind, stage: Stage) -> Option<FulfillmentStatus> {
    use FulfillmentStatus as S;
    use Stage as St;
    match (kind, stage) {
        (ScanKind::Pick, St::Released | St::PickingPartial) => Some(S::Picking),
        (ScanKind::Pack, St::PickingDone) => Some(S::Packed),
        (ScanKind::Ship, St::Packed) => Some(S::Shipped),
        (ScanKind::InTransit, St::Shipped | St::InTransit | St::Exception) => Some(S::InTransit),
        (ScanKind::OutForDelivery, St::Shipped | St::InTransit | St::Exception) => {
            Some(S::OutForDelivery)
        }
        (ScanKind::Delivered, St::Shipped | St::InTransit | St::OutForDelivery | St::Exception) => {
            Some(S::Delivered)
        }
        (ScanKind::DeliveryException, St::Shipped | St::InTransit | St::OutForDelivery) => {
            Some(S::Exception)
        }
        // One of two A units back, B still out: stays delivered.
        (ScanKind::ReturnReceived, St::Delivered) => Some(S::Delivered),
        _ => None,
    }
}

#[test]
fn stages_are_built_as_named() {
    for stage in STAGES {
        let o = at_stage(stage);
        assert_eq!(fstatus(&o, 1), stage_status(stage), "{stage:?}");
    }
}

#[test]
fn every_scan_kind_in_every_status_is_accepted_or_refused_by_the_rules() {
    let mut accepted = 0;
    for stage in STAGES {
        for kind in ScanKind::ALL {
            let mut o = at_stage(stage);
            let before = o.clone();
            let s = well_formed(kind, "e-matrix");
            let d = try_scan(&mut o, &s);
            match expected(kind, stage) {
                Some(after) => {
                    accepted += 1;
                    let Ok(ScanDecision::Apply { event, effects }) = d else {
                        panic!("{kind:?} in {stage:?} should apply, got {d:?}");
                    };
                    assert_eq!(event, OrderEvent::Scanned(s.clone()));
                    assert_eq!(fstatus(&o, 1), after, "{kind:?} in {stage:?}");
                    let want: Vec<Effect> = match kind {
                        ScanKind::Pick => vec![Effect::Pick {
                            cell: cell(A, F0),
                            line: line(0),
                            qty: 1,
                        }],
                        ScanKind::Ship => vec![Effect::Close {
                            facility: F0,
                            fulfillment: fref(1),
                        }],
                        ScanKind::ReturnReceived => vec![Effect::Restock {
                            cell: cell(A, F0),
                            qty: 1,
                        }],
                        _ => vec![],
                    };
                    assert_eq!(effects, want, "{kind:?} in {stage:?}");
                    assert_eq!(o.timeline().len(), before.timeline().len() + 1);
                    let last = o.timeline().last().unwrap();
                    assert_eq!(last.what, kind.as_str());
                    assert_eq!(last.event_id.as_deref(), Some("e-matrix"));
                    assert_eq!(last.fulfillment, Some(1));
                    // The id is now known: a repeat is a duplicate and changes nothing.
                    let after_state = o.clone();
                    assert_eq!(try_scan(&mut o, &s), Ok(ScanDecision::Duplicate));
                    assert_eq!(o, after_state);
                }
                None => {
                    assert!(
                        matches!(d, Err(OrderRefusal::Rejected(_))),
                        "{kind:?} in {stage:?} should be refused, got {d:?}"
                    );
                    assert_eq!(o, before, "{kind:?} in {stage:?}");
                }
            }
        }
    }
    assert_eq!(accepted, 18, "accepted (kind, status) pairs");
}

#[test]
fn a_refused_event_id_is_not_remembered() {
    let mut o = at_stage(Stage::Released);
    must_refuse(&mut o, &scan("e-1", ScanKind::Pack, 1));
    // Same id later, when it fits: applied, not a duplicate.
    must_apply(&mut o, &pick("e-1", 1, A, 2));
    assert_eq!(
        o.decide_scan(&pick("e-1", 1, B, 1), &none()),
        Ok(ScanDecision::Duplicate)
    );
}

#[test]
fn duplicate_event_id_changes_nothing_whatever_it_carries() {
    let mut o = at_stage(Stage::Released);
    must_apply(&mut o, &pick("e-1", 1, A, 1));
    let before = o.clone();
    // Same id, same content; same id, other content; same id, a scan that would be refused.
    for s in [
        pick("e-1", 1, A, 1),
        pick("e-1", 1, B, 1),
        scan("e-1", ScanKind::Delivered, 1),
        scan("e-1", ScanKind::Pack, 9),
    ] {
        assert_eq!(try_scan(&mut o, &s), Ok(ScanDecision::Duplicate), "{s:?}");
        assert_eq!(o, before);
    }
    assert_eq!(o.fulfillment(1).unwrap().lines[0].picked, 1);
    // An id applied before the order was cancelled is still a duplicate after.
    let (e, _) = o.decide_cancel(T + 50).unwrap().unwrap();
    o.apply(&e);
    assert_eq!(
        o.decide_scan(&pick("e-1", 1, A, 1), &none()),
        Ok(ScanDecision::Duplicate)
    );
}

#[test]
fn pick_refusals() {
    let mut o = at_stage(Stage::Released);
    // Over the reserved quantity, zero, unknown SKU, missing fields, unknown fulfillment.
    assert!(must_refuse(&mut o, &pick("p1", 1, A, 3)).contains("over"));
    must_refuse(&mut o, &pick("p2", 1, A, 0));
    assert!(must_refuse(&mut o, &pick("p3", 1, C, 1)).contains("sku"));
    must_refuse(
        &mut o,
        &Scan {
            qty: None,
            ..pick("p4", 1, A, 1)
        },
    );
    must_refuse(
        &mut o,
        &Scan {
            sku: None,
            ..pick("p5", 1, A, 1)
        },
    );
    assert!(must_refuse(&mut o, &pick("p6", 2, A, 1)).contains("unknown fulfillment"));
    // Wrong facility.
    assert!(must_refuse(
        &mut o,
        &Scan {
            facility: F1,
            ..pick("p7", 1, A, 1)
        }
    )
    .contains("facility"));
    // Partial picks add up to the reservation, never beyond it.
    must_apply(&mut o, &pick("p8", 1, A, 1));
    must_refuse(&mut o, &pick("p9", 1, A, 2));
    must_apply(&mut o, &pick("p10", 1, A, 1));
    must_refuse(&mut o, &pick("p11", 1, A, 1));
    assert_eq!(o.fulfillment(1).unwrap().lines[0].picked, 2);
    // A routed (not released) fulfillment cannot be picked.
    let mut o = at_stage(Stage::Routed);
    assert!(must_refuse(&mut o, &pick("p12", 1, A, 1)).contains("routed"));
}

#[test]
fn warehouse_scans_need_the_fulfillments_facility_carrier_scans_do_not() {
    let at = |stage, s: Scan| {
        let mut o = at_stage(stage);
        let s = Scan { facility: F1, ..s };
        try_scan(&mut o, &s)
    };
    for (stage, s) in [
        (Stage::Released, pick("w1", 1, A, 1)),
        (Stage::PickingDone, scan("w2", ScanKind::Pack, 1)),
        (Stage::Packed, ship("w3", 1)),
    ] {
        let d = at(stage, s.clone());
        assert!(
            matches!(&d, Err(OrderRefusal::Rejected(m)) if m.contains("facility")),
            "{s:?}: {d:?}"
        );
    }
    for (stage, s) in [
        (Stage::Shipped, scan("w4", ScanKind::InTransit, 1)),
        (Stage::Shipped, scan("w5", ScanKind::OutForDelivery, 1)),
        (Stage::Shipped, scan("w6", ScanKind::Delivered, 1)),
        (Stage::Shipped, exception("w7", 1)),
    ] {
        assert!(matches!(at(stage, s), Ok(ScanDecision::Apply { .. })));
    }
    // A return may arrive at another facility: it is restocked there.
    let mut o = at_stage(Stage::Delivered);
    let effects = must_apply(
        &mut o,
        &Scan {
            facility: F1,
            ..ret("w8", 1, A, 1, Disposition::Restock)
        },
    );
    assert_eq!(
        effects,
        vec![Effect::Restock {
            cell: cell(A, F1),
            qty: 1
        }]
    );
}

#[test]
fn pack_needs_every_line_picked_and_ship_needs_pack() {
    let mut o = at_stage(Stage::Released);
    assert!(must_refuse(&mut o, &scan("k1", ScanKind::Pack, 1)).contains("not every line"));
    assert!(must_refuse(&mut o, &ship("k2", 1)).contains("released"));
    must_apply(&mut o, &pick("k3", 1, A, 2));
    must_refuse(&mut o, &scan("k4", ScanKind::Pack, 1));
    must_refuse(&mut o, &ship("k5", 1));
    must_apply(&mut o, &pick("k6", 1, B, 1));
    must_refuse(&mut o, &ship("k7", 1));
    assert_eq!(must_apply(&mut o, &scan("k8", ScanKind::Pack, 1)), vec![]);
    must_refuse(&mut o, &scan("k9", ScanKind::Pack, 1));
    // Nothing planned (no carriers): a ship scan must name the carrier.
    let why = must_refuse(
        &mut o,
        &Scan {
            carrier: None,
            ..ship("k11", 1)
        },
    );
    assert!(why.starts_with("carrier:"), "{why}");
    must_apply(&mut o, &ship("k12", 1));
    let f = o.fulfillment(1).unwrap();
    assert_eq!(f.carrier.as_deref(), Some("UPS"));
    assert_eq!(f.tracking.as_deref(), Some("1Z999"));
    // Exception needs a reason.
    must_refuse(&mut o, &scan("k13", ScanKind::DeliveryException, 1));
    assert_eq!(o.status(), OrderStatus::Shipped);
}

#[test]
fn exception_is_left_explicitly_towards_delivery() {
    let mut o = at_stage(Stage::Exception);
    assert_eq!(o.status(), OrderStatus::Exception);
    must_refuse(&mut o, &exception("x1", 1));
    must_apply(&mut o, &scan("x2", ScanKind::InTransit, 1));
    assert_eq!(o.status(), OrderStatus::InTransit);
    must_apply(&mut o, &exception("x3", 1));
    must_apply(&mut o, &scan("x4", ScanKind::Delivered, 1));
    assert_eq!(o.status(), OrderStatus::Delivered);
    // Delivered never goes back.
    for kind in [
        ScanKind::InTransit,
        ScanKind::OutForDelivery,
        ScanKind::DeliveryException,
        ScanKind::Delivered,
    ] {
        must_refuse(&mut o, &well_formed(kind, "x5"));
    }
}

#[test]
fn scans_for_cancelled_or_rejected_orders_are_refused() {
    for kind in ScanKind::ALL {
        let mut o = at_stage(Stage::Cancelled);
        assert!(must_refuse(&mut o, &well_formed(kind, "c1")).contains("cancelled"));
        let mut o = rejected_order();
        assert!(must_refuse(&mut o, &well_formed(kind, "c2")).contains("rejected"));
    }
    // Also after picking started: the cancel wins over the warehouse.
    let mut o = at_stage(Stage::PickingPartial);
    let (e, _) = o.decide_cancel(T + 30).unwrap().unwrap();
    o.apply(&e);
    must_refuse(&mut o, &pick("c3", 1, A, 1));
    must_refuse(&mut o, &scan("c4", ScanKind::Pack, 1));
}

#[test]
fn returns_up_to_what_was_delivered() {
    let mut o = at_stage(Stage::Delivered);
    assert!(must_refuse(&mut o, &ret("r1", 1, A, 3, Disposition::Restock)).contains("over"));
    must_refuse(&mut o, &ret("r2", 1, A, 0, Disposition::Restock));
    must_refuse(&mut o, &ret("r3", 1, C, 1, Disposition::Restock));
    must_refuse(
        &mut o,
        &Scan {
            disposition: None,
            ..ret("r4", 1, A, 1, Disposition::Restock)
        },
    );
    assert_eq!(
        must_apply(&mut o, &ret("r5", 1, A, 1, Disposition::Dispose)),
        vec![]
    );
    assert_eq!(fstatus(&o, 1), FulfillmentStatus::Delivered);
    must_refuse(&mut o, &ret("r6", 1, A, 2, Disposition::Restock));
    assert_eq!(
        must_apply(&mut o, &ret("r7", 1, A, 1, Disposition::Restock)),
        vec![Effect::Restock {
            cell: cell(A, F0),
            qty: 1
        }]
    );
    must_refuse(&mut o, &ret("r8", 1, A, 1, Disposition::Restock));
    assert_eq!(o.status(), OrderStatus::Delivered, "B is still out");
    must_apply(&mut o, &ret("r9", 1, B, 1, Disposition::Restock));
    assert_eq!(o.status(), OrderStatus::Returned);
    assert!(o.status().is_final());
    let l = o.fulfillment(1).unwrap().lines.clone();
    assert_eq!((l[0].picked, l[0].returned, l[0].restocked), (2, 2, 1));
    assert_eq!((l[1].picked, l[1].returned, l[1].restocked), (1, 1, 1));
    let moved: Vec<_> = o.units_moved().collect();
    assert_eq!(moved, vec![(A, 2, 1), (B, 1, 1)]);
    // Nothing is returnable any more.
    for s in [
        ret("r10", 1, A, 1, Disposition::Restock),
        ret("r11", 1, B, 1, Disposition::Dispose),
    ] {
        must_refuse(&mut o, &s);
    }
    // Returns before delivery are refused.
    for stage in [Stage::Shipped, Stage::OutForDelivery, Stage::Exception] {
        let mut o = at_stage(stage);
        must_refuse(&mut o, &ret("r12", 1, A, 1, Disposition::Restock));
    }
}
