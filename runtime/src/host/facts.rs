//! A tick's facts ([`orch_engine::TickFacts`]) into the actor-level
//! metrics: reservations by result, reserve and route latency, order cycle
//! times, messages handled and mailbox depth by actor kind. Called on the
//! shard thread after each tick; each call is a few counter increments.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use orch_engine::facts::KINDS;
use orch_engine::TickFacts;

use crate::metrics;

/// Nanoseconds since the first reading: the shards' injected stopwatch.
pub(crate) fn stopwatch() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Publishes one tick's facts.
pub(crate) fn publish(f: &TickFacts) {
    for (result, n) in [
        ("reserved", f.reserved),
        ("short", f.short),
        ("refused", f.refused),
    ] {
        if n > 0 {
            metrics::reservations(result, u64::from(n));
        }
    }
    for &ns in &f.route_ns {
        metrics::route_duration(Duration::from_nanos(ns));
    }
    for &ns in &f.reserve_ns {
        metrics::reserve_duration(Duration::from_nanos(ns));
    }
    for &(placed_at, at) in &f.shipped {
        metrics::fulfillment_shipped(placed_at, at);
    }
    for &(placed_at, at) in &f.delivered {
        metrics::fulfillment_delivered(placed_at, at);
    }
    for (i, kind) in KINDS.iter().enumerate() {
        let kind = metrics::ActorKind::from_label(kind);
        if f.handled[i] > 0 {
            metrics::messages_handled(kind, u64::from(f.handled[i]));
        }
        metrics::mailbox_depth(kind, f.waiting[i] as usize);
    }
}
