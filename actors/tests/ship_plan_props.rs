//! Property test of the ship plan a fulfillment gets when it is routed:
//! on the BF-1 network and carriers, for any facility, ship-to, quantity,
//! service level and time, the promised delivery day is never earlier than
//! the fastest service feasible from that facility could deliver, the plan
//! says truthfully whether it meets the level, and a facility gets no plan
//! exactly when no service ships from it to there.

use std::sync::Arc;

use orch_actors::order::{OrderLine, OrderState, PlaceRequest};
use orch_actors::placement::PlacementOutcome;
use orch_actors::shipping::{day_of, deadline, quotes, Rates};
use orch_actors::{FacilityIdx, OrderNo, SkuIdx};
use orch_config::bf1::{generate, Bf1Params};
use orch_config::geo::haversine_km;
use orch_config::{carriers, Millis, ServiceLevel};
use proptest::prelude::*;

/// Midnight UTC, 2026-11-27.
const T0: Millis = 1_795_737_600_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_promise_is_never_earlier_than_the_fastest_feasible_service(
        facility in 0usize..10_000,
        lat in 25.0f64..49.0,
        lon in -124.0f64..-67.0,
        qty in 1u32..20,
        level in 0usize..3,
        offset in 0u64..(14 * 86_400_000),
    ) {
        let net = generate(&Bf1Params { scale: 0.01, ..Bf1Params::default() });
        let c = carriers::bf1(&net);
        let rates = Rates::new(&c, &net.facilities);
        let f = facility % net.facilities.len();
        let level = ServiceLevel::ALL[level];
        let now = T0 + offset;
        let request = PlaceRequest {
            order_id: Arc::from("o-1"),
            channel: Arc::from("web"),
            lat,
            lon,
            service_level: level,
            lines: vec![OrderLine { sku: SkuIdx(0), qty }],
            allow_backorder: false,
        };
        let (mut order, _) = OrderState::place(OrderNo(1), request, now);
        let (event, _) = order.decide_routed(
            PlacementOutcome {
                fulfillments: vec![(FacilityIdx(f as u16), vec![0])],
                backordered: vec![],
                rejected: None,
            },
            now,
            &rates,
        );
        order.apply(&event);
        let site = &net.facilities[f];
        let km = haversine_km(site.lat, site.lon, lat, lon);
        let fastest = quotes(&c, f, km, qty, now).iter().map(|q| q.delivery_day).min();
        let plan = order.fulfillment(1).unwrap().ship.clone();
        match (plan, fastest) {
            (None, None) => {}
            (Some(p), Some(fastest)) => {
                prop_assert!(p.delivery_day >= fastest, "{} < {}", p.delivery_day, fastest);
                prop_assert!(p.ship_by > now, "handed over after the decision");
                prop_assert_eq!(
                    p.service_level_met,
                    p.delivery_day <= deadline(level, day_of(now))
                );
            }
            (plan, fastest) => prop_assert!(false, "plan {:?} but fastest {:?}", plan, fastest),
        }
    }
}
