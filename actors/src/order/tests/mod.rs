//! Tests of the order state machine: shared fixtures here, one file per concern.

mod cancel;
mod placement;
mod scan_table;
mod scans;
mod shipping;
mod validate;

use super::*;
use crate::ids::SkuIdx;
use crate::shipping::tracking_number;

/// Rates with no carriers: no fulfillment gets a ship plan.
fn none() -> Rates {
    Rates::default()
}

const T: Millis = 1_000_000;
const NO: OrderNo = OrderNo(7);
const F0: FacilityIdx = FacilityIdx(0);
const F1: FacilityIdx = FacilityIdx(1);
const A: SkuIdx = SkuIdx(10);
const B: SkuIdx = SkuIdx(11);
const C: SkuIdx = SkuIdx(12);
const D: SkuIdx = SkuIdx(13);

fn request(lines: &[(SkuIdx, u32)]) -> PlaceRequest {
    PlaceRequest {
        order_id: "o-7".into(),
        channel: "web".into(),
        lat: 40.0,
        lon: -74.0,
        service_level: ServiceLevel::Standard,
        lines: lines
            .iter()
            .map(|&(sku, qty)| OrderLine { sku, qty })
            .collect(),
        allow_backorder: true,
    }
}

/// An order placed and routed with a hand-made placement outcome.
fn routed(
    lines: &[(SkuIdx, u32)],
    fulfillments: Vec<(FacilityIdx, Vec<u16>)>,
    backordered: Vec<u16>,
) -> OrderState {
    let (mut o, _) = OrderState::place(NO, request(lines), T);
    let (event, _) = o.decide_routed(
        PlacementOutcome {
            fulfillments,
            backordered,
            rejected: None,
        },
        T,
        &none(),
    );
    o.apply(&event);
    o.check_invariants().unwrap();
    o
}

fn rejected_order() -> OrderState {
    let (mut o, _) = OrderState::place(NO, request(&[(A, 1)]), T);
    let (event, effects) = o.decide_routed(
        PlacementOutcome {
            fulfillments: vec![],
            backordered: vec![],
            rejected: Some("no stock and allow_backorder is false".into()),
        },
        T,
        &none(),
    );
    assert!(effects.is_empty(), "a rejected order has nothing to do");
    o.apply(&event);
    o
}

fn line(l: u16) -> LineRef {
    LineRef { order: NO, line: l }
}

fn fref(n: u16) -> FulfillmentRef {
    FulfillmentRef { order: NO, n }
}

fn cell(sku: SkuIdx, facility: FacilityIdx) -> CellKey {
    CellKey { sku, facility }
}

fn scan(id: &str, kind: ScanKind, n: u16) -> Scan {
    Scan {
        event_id: id.into(),
        kind,
        fulfillment: n,
        facility: F0,
        sku: None,
        qty: None,
        carrier: None,
        tracking: None,
        reason: None,
        disposition: None,
        at: T + 10,
    }
}

fn pick(id: &str, n: u16, sku: SkuIdx, qty: u32) -> Scan {
    Scan {
        sku: Some(sku),
        qty: Some(qty),
        ..scan(id, ScanKind::Pick, n)
    }
}

fn ship(id: &str, n: u16) -> Scan {
    Scan {
        carrier: Some("UPS".into()),
        tracking: Some("1Z999".into()),
        ..scan(id, ScanKind::Ship, n)
    }
}

fn exception(id: &str, n: u16) -> Scan {
    Scan {
        reason: Some("address not found".into()),
        ..scan(id, ScanKind::DeliveryException, n)
    }
}

fn ret(id: &str, n: u16, sku: SkuIdx, qty: u32, d: Disposition) -> Scan {
    Scan {
        sku: Some(sku),
        qty: Some(qty),
        disposition: Some(d),
        ..scan(id, ScanKind::ReturnReceived, n)
    }
}

/// A scan of `kind` with every field it needs, for fulfillment 1 at F0.
fn well_formed(kind: ScanKind, id: &str) -> Scan {
    match kind {
        ScanKind::Pick => pick(id, 1, A, 1),
        ScanKind::Ship => ship(id, 1),
        ScanKind::DeliveryException => exception(id, 1),
        ScanKind::ReturnReceived => ret(id, 1, A, 1, Disposition::Restock),
        k => scan(id, k, 1),
    }
}

/// Decides and, when accepted, applies; a refusal must change nothing.
fn try_scan(o: &mut OrderState, s: &Scan) -> Result<ScanDecision, OrderRefusal> {
    let before = o.clone();
    let d = o.decide_scan(s, &none());
    match &d {
        Ok(ScanDecision::Apply { event, .. }) => o.apply(event),
        _ => assert_eq!(*o, before, "{s:?} was not applied but changed the order"),
    }
    o.check_invariants().unwrap();
    d
}

fn must_apply(o: &mut OrderState, s: &Scan) -> Vec<Effect> {
    match try_scan(o, s) {
        Ok(ScanDecision::Apply { effects, .. }) => effects,
        other => panic!("{s:?} should apply, got {other:?}"),
    }
}

fn must_refuse(o: &mut OrderState, s: &Scan) -> String {
    match try_scan(o, s) {
        Err(OrderRefusal::Rejected(m)) => m,
        other => panic!("{s:?} should be refused, got {other:?}"),
    }
}

fn release(o: &mut OrderState, n: u16) {
    let e = o.decide_wave(n, "DC-W000001".into(), T + 5).unwrap();
    o.apply(&e);
}

fn fstatus(o: &OrderState, n: u16) -> FulfillmentStatus {
    o.fulfillment(n).unwrap().status
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Routed,
    Released,
    PickingPartial,
    PickingDone,
    Packed,
    Shipped,
    InTransit,
    OutForDelivery,
    Exception,
    Delivered,
    Returned,
    Cancelled,
}

const STAGES: [Stage; 12] = [
    Stage::Routed,
    Stage::Released,
    Stage::PickingPartial,
    Stage::PickingDone,
    Stage::Packed,
    Stage::Shipped,
    Stage::InTransit,
    Stage::OutForDelivery,
    Stage::Exception,
    Stage::Delivered,
    Stage::Returned,
    Stage::Cancelled,
];

/// One fulfillment at F0 with lines A x2 and B x1, driven to `stage` by valid scans.
fn at_stage(stage: Stage) -> OrderState {
    use Stage as St;
    let mut o = routed(&[(A, 2), (B, 1)], vec![(F0, vec![0, 1])], vec![]);
    if stage == St::Routed {
        return o;
    }
    if stage == St::Cancelled {
        release(&mut o, 1);
        let (e, _) = o.decide_cancel(T + 20).unwrap().unwrap();
        o.apply(&e);
        return o;
    }
    release(&mut o, 1);
    if stage == St::Released {
        return o;
    }
    must_apply(&mut o, &pick("s-pick-b", 1, B, 1));
    if stage == St::PickingPartial {
        return o;
    }
    must_apply(&mut o, &pick("s-pick-a", 1, A, 2));
    if stage == St::PickingDone {
        return o;
    }
    must_apply(&mut o, &scan("s-pack", ScanKind::Pack, 1));
    if stage == St::Packed {
        return o;
    }
    must_apply(&mut o, &ship("s-ship", 1));
    if stage == St::Shipped {
        return o;
    }
    must_apply(&mut o, &scan("s-transit", ScanKind::InTransit, 1));
    if stage == St::InTransit {
        return o;
    }
    must_apply(&mut o, &scan("s-ofd", ScanKind::OutForDelivery, 1));
    if stage == St::OutForDelivery {
        return o;
    }
    if stage == St::Exception {
        must_apply(&mut o, &exception("s-exc", 1));
        return o;
    }
    must_apply(&mut o, &scan("s-delivered", ScanKind::Delivered, 1));
    if stage == St::Delivered {
        return o;
    }
    must_apply(&mut o, &ret("s-ret-a", 1, A, 2, Disposition::Restock));
    must_apply(&mut o, &ret("s-ret-b", 1, B, 1, Disposition::Dispose));
    assert_eq!(stage, St::Returned);
    o
}
