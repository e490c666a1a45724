//! Rate shopping over random times, places and parcels: the choice is the
//! cheapest service meeting the level, or the fastest when none does; the
//! promised date is never earlier than the fastest service could deliver,
//! and nothing ships before it is handed over.

use orch_actors::shipping::{day_of, deadline, quotes, shop};
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{carriers, ServiceLevel};
use proptest::prelude::*;
use std::sync::LazyLock;

static NET: LazyLock<(orch_config::Network, orch_config::carriers::Carriers)> =
    LazyLock::new(|| {
        let net = generate(&Bf1Params {
            scale: 0.01,
            ..Bf1Params::default()
        });
        let c = carriers::bf1(&net);
        (net, c)
    });

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn shopping_is_cheapest_meeting_else_fastest(
        now in 1_700_000_000_000u64..1_900_000_000_000,
        facility in 0usize..6,
        distance in 0.0f64..7000.0,
        units in 1u32..20,
        level in 0usize..3,
    ) {
        let (net, c) = &*NET;
        let c = c.clone();
        let facility = facility % net.facilities.len();
        let level = ServiceLevel::ALL[level];
        let all = quotes(&c, facility, distance, units, now);
        let choice = shop(&c, facility, distance, units, level, now);
        prop_assert_eq!(choice.is_none(), all.is_empty());
        let Some(choice) = choice else { return Ok(()) };
        let due = deadline(level, day_of(now));
        let fastest = all.iter().map(|q| q.delivery_day).min().unwrap();
        prop_assert!(choice.quote.delivery_day >= fastest);
        prop_assert!(choice.quote.ship_by > now);
        prop_assert!(day_of(choice.quote.ship_by) <= choice.quote.delivery_day);
        if choice.meets_level {
            prop_assert!(choice.quote.delivery_day <= due);
            for q in all.iter().filter(|q| q.delivery_day <= due) {
                prop_assert!(choice.quote.cost <= q.cost);
            }
        } else {
            prop_assert!(all.iter().all(|q| q.delivery_day > due));
            prop_assert_eq!(choice.quote.delivery_day, fastest);
        }
    }
}
