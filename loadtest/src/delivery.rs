//! Shipping and delivery figures from the tester's own book: shipping cost
//! per order, the split ratio, the carrier/service mix, and the
//! promise-kept ratio by service level; and the cross-check of the book's
//! kept/missed against the core's `promise_missed` timeline entries.

use std::collections::BTreeMap;

use orch_runtime::dto::OrderView;
use serde::Serialize;

use crate::book::OrderTrack;

/// Shipping cost per order, in currency units.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CostFigures {
    /// Orders with at least one planned fulfillment at placement.
    pub orders: u64,
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 99th percentile (nearest rank).
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// Fulfillments of one carrier service.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MixEntry {
    /// Fulfillments planned with it.
    pub fulfillments: u64,
    /// Their share of every planned fulfillment.
    pub share: f64,
}

/// Promises of one service level (or all).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PromiseFigures {
    /// Fulfillments delivered with a promised date.
    pub delivered: u64,
    /// Of those, delivered on or before it.
    pub kept: u64,
    /// Delivered after it.
    pub missed: u64,
    /// kept / delivered (`None` when nothing was delivered).
    pub kept_ratio: Option<f64>,
}

impl PromiseFigures {
    fn add(&mut self, kept: bool) {
        self.delivered += 1;
        if kept {
            self.kept += 1;
        } else {
            self.missed += 1;
        }
    }

    fn finish(&mut self) {
        self.kept_ratio =
            (self.delivered > 0).then(|| round(self.kept as f64 / self.delivered as f64, 4));
    }
}

/// The report's shipping section, every figure from the book.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShippingFigures {
    /// Acknowledged orders that were not rejected.
    pub orders_placed: u64,
    /// Of those, placed in more than one fulfillment.
    pub orders_split: u64,
    /// orders_split / orders_placed.
    pub split_ratio: f64,
    /// Shipping cost per order at placement (the placement answer's plans).
    pub cost_per_order: CostFigures,
    /// Planned fulfillments by `carrier/service` (every fulfillment the
    /// book knows a plan of).
    pub carrier_mix: BTreeMap<String, MixEntry>,
    /// Promises by the order's service level.
    pub promise_by_service_level: BTreeMap<String, PromiseFigures>,
    /// Every service level together.
    pub promise_total: PromiseFigures,
    /// Delivered fulfillments without a promise (no plan, or no date).
    pub delivered_without_promise: u64,
    /// Delivered fulfillments by days late the carrier was drawn to be.
    pub late_days: BTreeMap<u32, u64>,
    /// Delivered fulfillments shipped after their plan's pickup.
    pub late_pickups: u64,
    /// The lateness distribution of the run (`--lateness`).
    pub lateness: String,
    /// Compressed milliseconds per simulated day (`--sim-day-ms`).
    pub sim_day_ms: f64,
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

/// Nearest-rank percentile of sorted values.
fn rank(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[i - 1]
}

/// The figures of `orders` (the book's acknowledged orders).
pub fn figures(
    orders: &[(String, OrderTrack)],
    lateness: String,
    sim_day_ms: f64,
) -> ShippingFigures {
    let mut out = ShippingFigures {
        lateness,
        sim_day_ms,
        ..ShippingFigures::default()
    };
    let mut costs = Vec::new();
    let mut planned = 0u64;
    for (_, t) in orders {
        if t.status_at_ack == "rejected" {
            continue;
        }
        out.orders_placed += 1;
        if t.placed_fulfillments > 1 {
            out.orders_split += 1;
        }
        if let Some(c) = t.placed_cost_cents {
            costs.push(c);
        }
        for f in &t.fulfillments {
            if let Some(p) = &f.plan {
                planned += 1;
                out.carrier_mix
                    .entry(format!("{}/{}", p.carrier, p.service))
                    .or_default()
                    .fulfillments += 1;
            }
            if !f.delivered {
                continue;
            }
            match f.promise_kept() {
                Some(kept) => {
                    out.promise_total.add(kept);
                    out.promise_by_service_level
                        .entry(t.service_level.clone())
                        .or_default()
                        .add(kept);
                }
                None => out.delivered_without_promise += 1,
            }
            if let Some(on) = f.delivered_on {
                *out.late_days.entry(on.late_days).or_default() += 1;
                out.late_pickups += u64::from(on.late_pickup);
            }
        }
    }
    out.split_ratio = if out.orders_placed > 0 {
        round(out.orders_split as f64 / out.orders_placed as f64, 4)
    } else {
        0.0
    };
    for m in out.carrier_mix.values_mut() {
        m.share = round(m.fulfillments as f64 / planned.max(1) as f64, 4);
    }
    out.promise_total.finish();
    for p in out.promise_by_service_level.values_mut() {
        p.finish();
    }
    costs.sort_unstable();
    let cents = |c: i64| c as f64 / 100.0;
    out.cost_per_order = CostFigures {
        orders: costs.len() as u64,
        mean: if costs.is_empty() {
            0.0
        } else {
            round(
                costs.iter().sum::<i64>() as f64 / costs.len() as f64 / 100.0,
                2,
            )
        },
        p50: cents(rank(&costs, 0.50)),
        p99: cents(rank(&costs, 0.99)),
        max: cents(costs.last().copied().unwrap_or(0)),
    };
    out
}

/// The book's kept/missed against the core's timeline: every fulfillment
/// the floor delivered with a promise is missed in the book exactly when the
/// core's order has a `promise_missed` entry for it. One line per mismatch.
pub fn promises_match(t: &OrderTrack, v: &OrderView) -> Vec<String> {
    let mut out = Vec::new();
    for f in &t.fulfillments {
        let Some(kept) = f.promise_kept() else {
            continue;
        };
        let core_missed = v.timeline.iter().any(|e| {
            e.event == "promise_missed" && e.fulfillment_id.as_deref() == Some(&f.fulfillment_id)
        });
        if core_missed == kept {
            let day = f.delivered_on.map_or(0, |d| d.day);
            let promised = f.plan.as_ref().and_then(|p| p.promised_day).unwrap_or(0);
            out.push(format!(
                "{}: delivered on {} (promised {}): the book says {}, the core {}",
                f.fulfillment_id,
                crate::transit::date(day),
                crate::transit::date(promised),
                if kept { "kept" } else { "missed" },
                if core_missed {
                    "recorded promise_missed"
                } else {
                    "recorded no promise_missed"
                }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::{DeliveredOn, FulfillmentTrack, PlanTrack};
    use orch_runtime::dto::TimelineView;

    fn plan(carrier: &str, cents: i64, promised: u64) -> PlanTrack {
        PlanTrack {
            carrier: carrier.into(),
            service: "ground".into(),
            cost_cents: cents,
            promised_day: Some(promised),
            service_level_met: true,
        }
    }

    fn delivered(id: &str, p: PlanTrack, day: u64, late: u32) -> FulfillmentTrack {
        FulfillmentTrack {
            fulfillment_id: id.into(),
            delivered: true,
            plan: Some(p),
            delivered_on: Some(DeliveredOn {
                day,
                late_days: late,
                late_pickup: false,
            }),
            ..Default::default()
        }
    }

    fn order(level: &str, fs: Vec<FulfillmentTrack>) -> OrderTrack {
        let cost: i64 = fs
            .iter()
            .filter_map(|f| f.plan.as_ref().map(|p| p.cost_cents))
            .sum();
        OrderTrack {
            acknowledged: true,
            status_at_ack: "routed".into(),
            service_level: level.into(),
            placed_fulfillments: fs.len() as u32,
            placed_cost_cents: Some(cost),
            fulfillments: fs,
            ..Default::default()
        }
    }

    #[test]
    fn kept_means_on_or_before_the_promised_day() {
        let on_day = delivered("o/1", plan("NWP", 500, 10), 10, 0);
        assert_eq!(on_day.promise_kept(), Some(true));
        assert_eq!(
            delivered("o/1", plan("NWP", 500, 10), 9, 0).promise_kept(),
            Some(true)
        );
        assert_eq!(
            delivered("o/1", plan("NWP", 500, 10), 11, 1).promise_kept(),
            Some(false)
        );
        let not_yet = FulfillmentTrack {
            delivered: false,
            ..on_day.clone()
        };
        assert_eq!(not_yet.promise_kept(), None);
        let no_plan = FulfillmentTrack {
            plan: None,
            ..on_day
        };
        assert_eq!(no_plan.promise_kept(), None, "nothing was promised");
    }

    #[test]
    fn figures_add_up_from_the_book() {
        let orders = vec![
            (
                "a".to_string(),
                order(
                    "standard",
                    vec![
                        delivered("a/1", plan("NWP", 500, 10), 10, 0),
                        delivered("a/2", plan("BBP", 700, 10), 12, 2),
                    ],
                ),
            ),
            (
                "b".to_string(),
                order(
                    "next_day",
                    vec![delivered("b/1", plan("NWP", 2000, 5), 5, 0)],
                ),
            ),
            (
                "c".to_string(),
                OrderTrack {
                    status_at_ack: "rejected".into(),
                    ..order("standard", Vec::new())
                },
            ),
        ];
        let f = figures(&orders, "x".into(), 240.0);
        assert_eq!(
            (f.orders_placed, f.orders_split),
            (2, 1),
            "the rejected one is not placed"
        );
        assert_eq!(f.split_ratio, 0.5);
        assert_eq!(f.cost_per_order.orders, 2);
        assert_eq!(f.cost_per_order.mean, 16.0, "(12 + 20) / 2");
        assert_eq!((f.cost_per_order.p50, f.cost_per_order.p99), (12.0, 20.0));
        assert_eq!(f.carrier_mix["NWP/ground"].fulfillments, 2);
        assert_eq!(f.carrier_mix["BBP/ground"].share, 0.3333);
        let std = &f.promise_by_service_level["standard"];
        assert_eq!((std.delivered, std.kept, std.missed), (2, 1, 1));
        assert_eq!(std.kept_ratio, Some(0.5));
        assert_eq!(f.promise_by_service_level["next_day"].kept_ratio, Some(1.0));
        assert_eq!(
            (f.promise_total.delivered, f.promise_total.kept),
            (3, 2),
            "the levels add up"
        );
        assert_eq!(f.late_days[&0], 2);
        assert_eq!(f.late_days[&2], 1);
    }

    #[test]
    fn a_mismatch_with_the_core_s_promise_missed_is_reported() {
        let t = order(
            "standard",
            vec![
                delivered("o/1", plan("NWP", 500, 10), 10, 0),
                delivered("o/2", plan("NWP", 500, 10), 11, 1),
            ],
        );
        let entry = |fid: &str| TimelineView {
            at: "2026-01-01T00:00:00Z".into(),
            event: "promise_missed".into(),
            fulfillment_id: Some(fid.into()),
            event_id: None,
            carrier: None,
            ship: None,
        };
        let mut v = OrderView {
            order_id: "o".into(),
            status: "delivered".into(),
            reason: None,
            channel: "web".into(),
            service_level: "standard".into(),
            fulfillments: Vec::new(),
            backordered: Vec::new(),
            timeline: vec![entry("o/2")],
        };
        assert!(promises_match(&t, &v).is_empty(), "both agree");
        v.timeline = vec![entry("o/1")];
        let m = promises_match(&t, &v);
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("o/1") && m[0].contains("the book says kept"));
        assert!(m[1].contains("o/2") && m[1].contains("recorded no promise_missed"));
    }
}
