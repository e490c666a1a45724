//! Webhook delivery under random failures: every event reaches the endpoint
//! exactly once as a success, one order's events in order, within the
//! bounds, and the cursor never claims an event that was not delivered.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use orch_events::delivery::{DeliveryLimits, Endpoint, EndpointStatus};
use orch_events::feed::{Feed, Retention};
use orch_events::{Draft, EventType, TypeSet};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn run(seed: u64, events: usize, orders: usize, fail_pct: u32, limits: DeliveryLimits) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let types = TypeSet::of(&[EventType::FulfillmentShipped, EventType::OrderPlaced]);
    let mut feed = Feed::new(Retention::default(), 1);
    let mut wanted = HashSet::new();
    for i in 0..events {
        let kind = [
            EventType::FulfillmentShipped,
            EventType::OrderPlaced,
            EventType::OrderCancelled,
        ][rng.random_range(0..3)];
        let order = format!("o{}", rng.random_range(0..orders));
        let e = feed.append(
            Draft {
                kind,
                order_id: Some(Arc::from(order)),
                at: i as u64,
                data: serde_json::Value::Null,
            },
            None,
        );
        if types.contains(kind) {
            wanted.insert(e.seq);
        }
    }
    let mut ep = Endpoint::new(types, true, 0, limits);
    let mut now = 0u64;
    let mut delivered: Vec<u64> = Vec::new();
    let mut in_flight: Vec<u64> = Vec::new();
    let mut last_cursor = 0;
    let mut failing = true;
    for round in 0..100_000 {
        if round == 2_000 {
            failing = false; // faults stop: everything must get through
        }
        if let Some((after, room)) = ep.wants() {
            let page = feed.page(Some(after), room, TypeSet::ALL).unwrap();
            for e in &page.events {
                if !ep.offer(e, now) {
                    break;
                }
            }
        }
        in_flight.extend(ep.due(now).iter().map(|a| a.event.seq));
        assert!(in_flight.len() <= limits.in_flight_max);
        let (pending, outstanding) = ep.backlog();
        assert!(pending <= limits.pending_max);
        assert_eq!(outstanding, in_flight.len());
        // Answer some of what is in flight, in any order.
        let mut i = 0;
        while i < in_flight.len() {
            if rng.random_bool(0.5) {
                let seq = in_flight.swap_remove(i);
                let ok = !failing || rng.random_range(0..100) >= fail_pct;
                ep.on_result(seq, ok, now, rng.random());
                if ok {
                    delivered.push(seq);
                }
            } else {
                i += 1;
            }
        }
        assert!(ep.cursor() >= last_cursor, "the cursor never moves back");
        last_cursor = ep.cursor();
        let done: HashSet<u64> = delivered.iter().copied().collect();
        for seq in wanted.iter().filter(|&&s| s <= ep.cursor()) {
            assert!(
                done.contains(seq),
                "cursor {} passed undelivered {seq}",
                ep.cursor()
            );
        }
        if ep.status() == EndpointStatus::Disabled {
            ep.set_enabled(true, now);
        }
        if delivered.len() == wanted.len() && in_flight.is_empty() && ep.cursor() == feed.last_seq()
        {
            break;
        }
        now = match ep.next_wake() {
            Some(t) if in_flight.is_empty() => t.max(now),
            _ => now + rng.random_range(0..2_000),
        };
    }
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an event delivered twice");
    assert_eq!(unique, wanted, "every wanted event delivered");
    assert_eq!(ep.cursor(), feed.last_seq());
    let mut last_of: HashMap<Arc<str>, u64> = HashMap::new();
    for seq in delivered {
        let e = feed.page(Some(seq - 1), 1, TypeSet::ALL).unwrap().events[0].clone();
        let order = e.order_id.clone().unwrap();
        if let Some(&prev) = last_of.get(&order) {
            assert!(prev < seq, "order {order}: {seq} delivered after {prev}");
        }
        last_of.insert(order, seq);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn delivery_is_exactly_once_ordered_and_bounded(
        seed in any::<u64>(),
        events in 1usize..300,
        orders in 1usize..20,
        fail_pct in 0u32..90,
        in_flight_max in 1usize..8,
        pending_max in 1usize..50,
    ) {
        run(seed, events, orders, fail_pct, DeliveryLimits { in_flight_max, pending_max });
    }
}
