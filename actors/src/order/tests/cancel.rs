//! Cancels: refused once shipped; what a cancel releases, restocks and dequeues.

use super::*;

#[test]
fn cancel_after_ship_is_refused_and_changes_nothing() {
    for stage in [
        Stage::Shipped,
        Stage::InTransit,
        Stage::OutForDelivery,
        Stage::Exception,
        Stage::Delivered,
        Stage::Returned,
    ] {
        let o = at_stage(stage);
        assert!(
            matches!(
                o.decide_cancel(T + 99),
                Err(OrderRefusal::AlreadyShipped(_))
            ),
            "{stage:?}"
        );
    }
    // One fulfillment shipped, another still routed: refused too.
    let mut o = routed(
        &[(A, 1), (B, 1)],
        vec![(F0, vec![0]), (F1, vec![1])],
        vec![],
    );
    release(&mut o, 1);
    must_apply(&mut o, &pick("a1", 1, A, 1));
    must_apply(&mut o, &scan("a2", ScanKind::Pack, 1));
    must_apply(&mut o, &ship("a3", 1));
    assert!(matches!(
        o.decide_cancel(T + 99),
        Err(OrderRefusal::AlreadyShipped(_))
    ));
    assert_eq!(
        rejected_order().decide_cancel(T + 99),
        Err(OrderRefusal::Final("rejected"))
    );
}

#[test]
fn cancel_releases_unpicked_restocks_picked_and_unbackorders_waiting() {
    // Line 0: A x3 and line 1: B x1 at F0 (released, A 1 of 3 picked,
    // B picked); line 2: C x2 waiting; line 3: D x1 at F1 (routed).
    let mut o = routed(
        &[(A, 3), (B, 1), (C, 2), (D, 1)],
        vec![(F0, vec![0, 1]), (F1, vec![3])],
        vec![2],
    );
    assert_eq!(o.status(), OrderStatus::PartiallyBackordered);
    release(&mut o, 1);
    must_apply(&mut o, &pick("q1", 1, A, 1));
    must_apply(&mut o, &pick("q2", 1, B, 1));
    let (event, effects) = o.decide_cancel(T + 40).unwrap().unwrap();
    assert_eq!(event, OrderEvent::Cancelled { at: T + 40 });
    assert_eq!(
        effects,
        vec![
            Effect::Unbackorder {
                sku: C,
                line: line(2)
            },
            Effect::Release {
                cell: cell(A, F0),
                line: line(0)
            },
            Effect::Restock {
                cell: cell(A, F0),
                qty: 1
            },
            Effect::Restock {
                cell: cell(B, F0),
                qty: 1
            },
            Effect::Close {
                facility: F0,
                fulfillment: fref(1)
            },
            Effect::Release {
                cell: cell(D, F1),
                line: line(3)
            },
            Effect::Dequeue {
                facility: F1,
                fulfillment: fref(2)
            },
        ]
    );
    o.apply(&event);
    o.check_invariants().unwrap();
    assert_eq!(o.status(), OrderStatus::Cancelled);
    assert!(o.status().is_final());
    assert!(o.backordered().is_empty());
    assert!(o.expected_reservations().is_empty());
    assert!(o
        .fulfillments()
        .iter()
        .all(|f| f.status == FulfillmentStatus::Cancelled));
    let moved: Vec<_> = o.units_moved().collect();
    assert_eq!(moved, vec![(A, 1, 1), (B, 1, 1), (D, 0, 0)]);
    assert_eq!(o.timeline().last().unwrap().what, "cancelled");
    // Twice: nothing to do.
    let before = o.clone();
    assert_eq!(o.decide_cancel(T + 41), Ok(None));
    assert_eq!(o, before);
    // A cancelled order takes no stock, no wave.
    assert!(o.decide_fill(2, F0, T + 42, &none()).is_err());
    assert!(o.decide_wave(2, "W".into(), T + 42).is_err());
}

#[test]
fn cancel_before_wave_and_after_pack() {
    let o = at_stage(Stage::Routed);
    let (_, effects) = o.decide_cancel(T).unwrap().unwrap();
    assert_eq!(
        effects,
        vec![
            Effect::Release {
                cell: cell(A, F0),
                line: line(0)
            },
            Effect::Release {
                cell: cell(B, F0),
                line: line(1)
            },
            Effect::Dequeue {
                facility: F0,
                fulfillment: fref(1)
            },
        ]
    );
    let o = at_stage(Stage::Packed);
    let (_, effects) = o.decide_cancel(T).unwrap().unwrap();
    assert_eq!(
        effects,
        vec![
            Effect::Restock {
                cell: cell(A, F0),
                qty: 2
            },
            Effect::Restock {
                cell: cell(B, F0),
                qty: 1
            },
            Effect::Close {
                facility: F0,
                fulfillment: fref(1)
            },
        ]
    );
}
