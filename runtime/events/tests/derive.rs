//! The events an order's life reports, derived from its journaled events
//! exactly as the runtime will: apply the event, then derive.

use std::sync::Arc;

use orch_actors::order::{
    Disposition, OrderEvent, OrderLine, OrderState, PlaceRequest, Scan, ScanDecision, ScanKind,
};
use orch_actors::placement::PlacementOutcome;
use orch_actors::shipping::Rates;
use orch_actors::{FacilityIdx, OrderNo, SkuIdx};
use orch_config::carriers::{CarrierConfig, Carriers, RateBand, ServiceConfig, WEEKDAYS};
use orch_config::ServiceLevel;
use orch_events::derive::{facility_status_draft, order_drafts, Names};
use orch_events::{Draft, EventType};
use serde_json::json;

struct Ids;

impl Names for Ids {
    fn facility(&self, f: FacilityIdx) -> &str {
        ["DC-01", "DC-02"][usize::from(f.0)]
    }
    fn sku(&self, s: SkuIdx) -> &str {
        ["SKU-0", "SKU-1", "SKU-2"][s.0 as usize]
    }
}

/// One carrier, `NWP` ground: 6.50 + 0.50 a unit, 2 weekdays, picked up
/// at 18:00 UTC at both facilities (DC-01 in New Jersey, DC-02 in Ohio).
fn rates() -> Rates {
    let carriers = Carriers {
        carriers: vec![CarrierConfig {
            id: "NWP".into(),
            services: vec![ServiceConfig {
                id: "ground".into(),
                bands: vec![RateBand {
                    km_max: 5_000.0,
                    base: 6.5,
                    per_unit: 0.5,
                    transit_days: 2,
                }],
                delivery_days: WEEKDAYS,
                cutoffs: vec![Some(18 * 60), Some(18 * 60)],
            }],
        }],
    };
    Rates::from_sites(&carriers, vec![(40.5, -74.3), (40.0, -83.0)])
}

fn request(lines: &[(u32, u32)]) -> PlaceRequest {
    PlaceRequest {
        order_id: Arc::from("o-1001"),
        channel: Arc::from("web"),
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

/// Applies `event` and returns the drafts it reports.
fn step(order: &mut OrderState, event: OrderEvent) -> Vec<Draft> {
    order.apply(&event);
    order_drafts(order, &event, &Ids)
}

fn scan(
    order: &OrderState,
    id: &str,
    kind: ScanKind,
    sku: Option<u32>,
    qty: Option<u32>,
) -> OrderEvent {
    let s = Scan {
        event_id: Arc::from(id),
        kind,
        fulfillment: 1,
        facility: FacilityIdx(0),
        sku: sku.map(SkuIdx),
        qty,
        carrier: (kind == ScanKind::Ship).then(|| Arc::from("UPS")),
        tracking: (kind == ScanKind::Ship).then(|| Arc::from("1Z999")),
        reason: None,
        disposition: (kind == ScanKind::ReturnReceived).then_some(Disposition::Restock),
        at: 5_000,
    };
    match order.decide_scan(&s, &rates()).expect("the scan fits") {
        ScanDecision::Apply { event, .. } => event,
        ScanDecision::Duplicate => panic!("not a duplicate"),
    }
}

fn kinds(d: &[Draft]) -> Vec<EventType> {
    d.iter().map(|d| d.kind).collect()
}

#[test]
fn a_whole_life_reports_one_event_per_change_in_order() {
    let (mut o, placed) = OrderState::place(OrderNo(1), request(&[(0, 2), (1, 1), (2, 1)]), 1_000);
    assert!(
        order_drafts(&o, &placed, &Ids).is_empty(),
        "placement reports with its routing"
    );
    let outcome = PlacementOutcome {
        fulfillments: vec![(FacilityIdx(0), vec![0, 1])],
        backordered: vec![2],
        rejected: None,
    };
    let (routed, _) = o.decide_routed(outcome, 1_001, &rates());
    let d = step(&mut o, routed);
    assert_eq!(
        kinds(&d),
        [
            EventType::OrderPlaced,
            EventType::FulfillmentRouted,
            EventType::OrderBackordered
        ]
    );
    assert_eq!(d[0].data["status"], "partially_backordered");
    assert_eq!(
        d[0].data["fulfillments"],
        json!([{"fulfillment_id": "o-1001/1", "facility_id": "DC-01",
                "lines": [{"sku": "SKU-0", "qty": 2}, {"sku": "SKU-1", "qty": 1}],
                // Thursday 1970-01-01: the 18:00 pickup, Friday and Monday in transit.
                "carrier": "NWP", "service": "ground", "shipping_cost": 8.0,
                "ship_by": "1970-01-01T18:00:00Z",
                "promised_delivery_date": "1970-01-05", "service_level_met": true}])
    );
    assert_eq!(
        d[1].data, d[0].data["fulfillments"][0],
        "fulfillment.routed says the same"
    );
    assert_eq!(d[2].data["lines"], json!([{"sku": "SKU-2", "qty": 1}]));
    assert!(d
        .iter()
        .all(|d| d.order_id.as_deref() == Some("o-1001") && d.at == 1_001));

    let (filled, _) = o.decide_fill(2, FacilityIdx(1), 2_000, &rates()).unwrap();
    let d = step(&mut o, filled);
    assert_eq!(kinds(&d), [EventType::FulfillmentRouted]);
    assert_eq!(d[0].data["fulfillment_id"], "o-1001/2");
    assert_eq!(d[0].data["facility_id"], "DC-02");
    assert_eq!(d[0].data["shipping_cost"], 7.0, "one unit");
    assert_eq!(d[0].data["promised_delivery_date"], "1970-01-05");

    let wave = o.decide_wave(1, Arc::from("DC-01-w1"), 3_000).unwrap();
    let d = step(&mut o, wave);
    assert_eq!(kinds(&d), [EventType::FulfillmentReleased]);
    assert_eq!(d[0].data["wave_id"], "DC-01-w1");

    // Picks report once, when the last line is complete.
    let e = scan(&o, "p1", ScanKind::Pick, Some(0), Some(1));
    assert!(step(&mut o, e).is_empty());
    let e = scan(&o, "p2", ScanKind::Pick, Some(0), Some(1));
    assert!(step(&mut o, e).is_empty());
    let e = scan(&o, "p3", ScanKind::Pick, Some(1), Some(1));
    assert_eq!(kinds(&step(&mut o, e)), [EventType::FulfillmentPicked]);

    let e = scan(&o, "k", ScanKind::Pack, None, None);
    assert_eq!(kinds(&step(&mut o, e)), [EventType::FulfillmentPacked]);
    let e = scan(&o, "s", ScanKind::Ship, None, None);
    let d = step(&mut o, e);
    assert_eq!(kinds(&d), [EventType::FulfillmentShipped]);
    assert_eq!(
        (d[0].data["carrier"].clone(), d[0].data["tracking"].clone()),
        (json!("UPS"), json!("1Z999"))
    );
    for (id, kind, ty) in [
        ("t", ScanKind::InTransit, EventType::FulfillmentInTransit),
        (
            "f",
            ScanKind::OutForDelivery,
            EventType::FulfillmentOutForDelivery,
        ),
        ("d", ScanKind::Delivered, EventType::FulfillmentDelivered),
    ] {
        let e = scan(&o, id, kind, None, None);
        assert_eq!(kinds(&step(&mut o, e)), [ty]);
    }
    let e = scan(&o, "r", ScanKind::ReturnReceived, Some(1), Some(1));
    let d = step(&mut o, e);
    assert_eq!(kinds(&d), [EventType::ReturnReceived]);
    assert_eq!(d[0].data["disposition"], "restock");
    assert_eq!(d[0].data["sku"], "SKU-1");
}

#[test]
fn cancel_and_rejection_report_too() {
    let (mut o, _) = OrderState::place(OrderNo(2), request(&[(0, 1)]), 1_000);
    let (routed, _) = o.decide_routed(
        PlacementOutcome {
            fulfillments: vec![(FacilityIdx(0), vec![0])],
            backordered: vec![],
            rejected: None,
        },
        1_000,
        &Rates::default(),
    );
    assert_eq!(
        kinds(&step(&mut o, routed)),
        [EventType::OrderPlaced, EventType::FulfillmentRouted]
    );
    let (cancel, _) = o
        .decide_cancel(2_000)
        .unwrap()
        .expect("something to cancel");
    let d = step(&mut o, cancel);
    assert_eq!(kinds(&d), [EventType::OrderCancelled]);
    assert_eq!(d[0].data["status"], "cancelled");

    let (mut r, _) = OrderState::place(OrderNo(3), request(&[(0, 1)]), 1_000);
    let (routed, _) = r.decide_routed(
        PlacementOutcome {
            fulfillments: vec![],
            backordered: vec![],
            rejected: Some("no stock and allow_backorder is false".into()),
        },
        1_000,
        &Rates::default(),
    );
    let d = step(&mut r, routed);
    assert_eq!(kinds(&d), [EventType::OrderPlaced]);
    assert_eq!(d[0].data["status"], "rejected");
    assert_eq!(d[0].data["reason"], "no stock and allow_backorder is false");
}

#[test]
fn facility_status_reports_without_an_order() {
    let d = facility_status_draft("DC-01", false, Some(1_795_771_702_000), 9);
    assert_eq!(d.kind, EventType::FacilityStatusChanged);
    assert_eq!(d.order_id, None);
    assert_eq!(
        d.data,
        json!({"facility_id": "DC-01", "enabled": false, "until": "2026-11-27T09:28:22Z"})
    );
}
