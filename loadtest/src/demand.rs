//! What the run asks for: the BF-1 order stream with the doorbuster laid
//! over it (hot SKUs take a share of the lines in the window), the hot SKUs'
//! short starting stock, and the replenishment receipts that arrive during
//! the doorbuster.

use orch_config::{FacilityKind, Network, StockEntry};
use orch_runtime::dto::{PlaceOrder, ReceiptInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::profile::DoorbusterSpec;
use crate::schedule::Schedule;
use crate::workload::Bf1Stream;

/// Mean lines per BF-1 order (1: 50%, 2: 25%, 3: 15%, 4–6: 10%).
pub const LINES_PER_ORDER_MEAN: f64 = 0.5 + 0.25 * 2.0 + 0.15 * 3.0 + 0.1 * 5.0;
/// Mean units per line (1 in 90%, else 2–3).
pub const UNITS_PER_LINE_MEAN: f64 = 0.9 + 0.1 * 2.5;

/// The doorbuster's hot SKUs, their stock and their receipts.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorbusterPlan {
    /// Hot SKU ids.
    pub skus: Vec<String>,
    /// Their catalog indices.
    pub sku_indices: Vec<usize>,
    /// Starting units of each hot SKU (all in one facility).
    pub units_each: u32,
    /// The facility holding them and receiving the replenishment.
    pub facility_id: String,
    /// Units the window is expected to ask for (all hot SKUs).
    pub demand_expected: f64,
    /// Receipts with their due time in seconds from the start of the run.
    pub receipts: Vec<(f64, ReceiptInput)>,
}

impl DoorbusterPlan {
    /// Plans the doorbuster of `schedule` over `net`; `None` without one.
    pub fn new(
        net: &Network,
        schedule: &Schedule,
        spec: &DoorbusterSpec,
        seed: u64,
    ) -> Option<DoorbusterPlan> {
        let w = schedule.doorbuster?;
        let n = net.skus.len();
        let count = spec.hot_skus.min(n);
        // Mid-popularity SKUs: the regular stream rarely asks for them, so
        // the window's demand is what decides how they sell out.
        let lo = n / 10;
        let hi = (n / 2).max(lo + count);
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD00B);
        let mut sku_indices: Vec<usize> = Vec::with_capacity(count);
        while sku_indices.len() < count {
            let i = rng.random_range(lo..hi.min(n)).min(n - 1);
            if !sku_indices.contains(&i) {
                sku_indices.push(i);
            }
        }
        let orders = schedule.expected_orders(w.start_s, w.end_s);
        let demand_expected =
            orders * LINES_PER_ORDER_MEAN * w.hot_line_share * UNITS_PER_LINE_MEAN;
        let per_sku = demand_expected / count as f64;
        let units_each = (spec.stock_share * per_sku).ceil().max(1.0) as u32;
        let receipt_each = (spec.receipt_share * per_sku / 3.0).ceil().max(1.0) as i64;
        let facility_id = net
            .facilities
            .iter()
            .find(|f| f.kind == FacilityKind::Dc)
            .unwrap_or(&net.facilities[0])
            .id
            .clone();
        let skus: Vec<String> = sku_indices.iter().map(|&i| net.skus[i].clone()).collect();
        let mut receipts = Vec::new();
        for (k, at) in [0.25, 0.5, 0.75].into_iter().enumerate() {
            let due = w.start_s + at * (w.end_s - w.start_s);
            for sku in &skus {
                receipts.push((
                    due,
                    ReceiptInput {
                        sku: sku.clone(),
                        facility_id: facility_id.clone(),
                        qty: receipt_each,
                        receipt_id: format!("lt-{seed}-r{k}-{sku}"),
                    },
                ));
            }
        }
        Some(DoorbusterPlan {
            skus,
            sku_indices,
            units_each,
            facility_id,
            demand_expected,
            receipts,
        })
    }

    /// Sets the hot SKUs' stock in a network before the core starts: all
    /// `units_each` in the plan's facility, none anywhere else, no safety
    /// stock.
    pub fn shape_stock(&self, net: &mut Network) {
        let f = net
            .facilities
            .iter()
            .position(|f| f.id == self.facility_id)
            .expect("the plan's facility is in the network") as u16;
        for &i in &self.sku_indices {
            let sku = i as u32;
            let mut found = false;
            for e in net.stock.iter_mut().filter(|e| e.sku == sku) {
                e.safety_stock = 0;
                e.on_hand = if e.facility == f { self.units_each } else { 0 };
                found |= e.facility == f;
            }
            if !found {
                net.stock.push(StockEntry {
                    sku,
                    facility: f,
                    on_hand: self.units_each,
                    safety_stock: 0,
                });
            }
        }
        net.stock.sort_by_key(|e| (e.sku, e.facility));
    }

    /// Whether `sku` is hot.
    pub fn is_hot(&self, sku: &str) -> bool {
        self.skus.iter().any(|s| s == sku)
    }
}

/// The orders of a run, in arrival order.
#[derive(Debug, Clone)]
pub struct OrderSource {
    stream: Bf1Stream,
    rng: ChaCha8Rng,
    hot: Vec<String>,
    hot_line_share: f64,
    prefix: String,
    next: u64,
}

impl OrderSource {
    /// Orders over `net` from `seed`, ids `{prefix}{n}`; `plan` adds the
    /// doorbuster's hot lines.
    pub fn new(
        net: &Network,
        seed: u64,
        prefix: &str,
        plan: Option<&DoorbusterPlan>,
        hot_line_share: f64,
    ) -> OrderSource {
        OrderSource {
            stream: Bf1Stream::new(net, seed),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x0707),
            hot: plan.map(|p| p.skus.clone()).unwrap_or_default(),
            hot_line_share,
            prefix: prefix.into(),
            next: 0,
        }
    }

    /// The next order; `doorbuster` says whether it arrives in the window.
    pub fn next_order(&mut self, doorbuster: bool) -> PlaceOrder {
        let id = format!("{}{}", self.prefix, self.next);
        self.next += 1;
        let mut o = self.stream.next_order(id);
        // Draw for every line whatever the window, so the stream after the
        // window does not depend on how long it was.
        for i in 0..o.lines.len() {
            let x = self.rng.random::<f64>();
            let pick = if self.hot.is_empty() {
                0
            } else {
                self.rng.random_range(0..self.hot.len())
            };
            if doorbuster && !self.hot.is_empty() && x < self.hot_line_share {
                let sku = &self.hot[pick];
                if !o.lines.iter().any(|l| &l.sku == sku) {
                    o.lines[i].sku = sku.clone();
                }
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use orch_config::bf1::{generate, Bf1Params};
    use std::time::Duration;

    fn setup() -> (Network, Schedule, DoorbusterPlan) {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 1,
        });
        let p = Profile::bf1();
        let s = Schedule::new(&p, 500.0, Duration::from_secs(20));
        let plan = DoorbusterPlan::new(&net, &s, p.doorbuster.as_ref().unwrap(), 1).unwrap();
        (net, s, plan)
    }

    #[test]
    fn plan_is_seeded_and_short_of_demand() {
        let (net, s, plan) = setup();
        let again =
            DoorbusterPlan::new(&net, &s, Profile::bf1().doorbuster.as_ref().unwrap(), 1).unwrap();
        assert_eq!(plan, again);
        assert_eq!(plan.skus.len(), 10);
        let supply = f64::from(plan.units_each) * 10.0
            + plan.receipts.iter().map(|(_, r)| r.qty as f64).sum::<f64>();
        assert!(
            supply < 0.5 * plan.demand_expected,
            "{supply} vs {}",
            plan.demand_expected
        );
        assert_eq!(plan.receipts.len(), 30);
        assert!(plan.receipts.iter().all(|(t, _)| s.in_doorbuster(*t)));
    }

    #[test]
    fn shaped_stock_puts_every_hot_unit_in_one_cell() {
        let (mut net, _, plan) = setup();
        plan.shape_stock(&mut net);
        for &i in &plan.sku_indices {
            let cells: Vec<_> = net.stock.iter().filter(|e| e.sku == i as u32).collect();
            let total: u32 = cells.iter().map(|e| e.on_hand).sum();
            assert_eq!(total, plan.units_each);
            assert!(cells.iter().all(|e| e.safety_stock == 0));
        }
        assert!(net
            .stock
            .windows(2)
            .all(|w| (w[0].sku, w[0].facility) < (w[1].sku, w[1].facility)));
    }

    #[test]
    fn hot_skus_take_their_share_in_the_window_only() {
        let (net, _, plan) = setup();
        let mut a = OrderSource::new(&net, 4, "o-", Some(&plan), 0.3);
        let mut b = OrderSource::new(&net, 4, "o-", Some(&plan), 0.3);
        let xs: Vec<_> = (0..2000).map(|i| a.next_order(i % 2 == 0)).collect();
        let ys: Vec<_> = (0..2000).map(|i| b.next_order(i % 2 == 0)).collect();
        assert_eq!(xs, ys, "same seed, same stream");
        let share = |even: bool| {
            let lines: Vec<_> = xs
                .iter()
                .enumerate()
                .filter(|(i, _)| (i % 2 == 0) == even)
                .flat_map(|(_, o)| &o.lines)
                .collect();
            lines.iter().filter(|l| plan.is_hot(&l.sku)).count() as f64 / lines.len() as f64
        };
        let inside = share(true);
        assert!((inside - 0.3).abs() < 0.04, "{inside}");
        assert!(share(false) < 0.02);
        assert!(xs.iter().all(|o| {
            let mut s: Vec<_> = o.lines.iter().map(|l| &l.sku).collect();
            s.sort();
            s.dedup();
            s.len() == o.lines.len()
        }));
    }
}
