//! The BF-1 order stream: Zipf SKU popularity, the line, quantity, channel
//! and service-level mixes of WORKLOAD.md, ship-to points weighted toward
//! the facilities' surroundings. Same seed, same stream.

use orch_config::Network;
use orch_runtime::dto::{LineInput, PlaceOrder, ShipTo};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cumulative Zipf(1.0) weights over catalog ranks (index 0 most popular).
#[derive(Debug, Clone)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// Zipf with exponent `s` over `n` ranks.
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        let cumulative = (1..=n.max(1))
            .map(|k| {
                acc += 1.0 / (k as f64).powf(s);
                acc
            })
            .collect();
        Zipf { cumulative }
    }

    /// A rank drawn from the distribution.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("at least one rank");
        let x = rng.random::<f64>() * total;
        self.cumulative
            .partition_point(|&c| c < x)
            .min(self.cumulative.len() - 1)
    }
}

/// Draws BF-1 orders.
#[derive(Debug, Clone)]
pub struct Bf1Stream {
    rng: ChaCha8Rng,
    zipf: Zipf,
    skus: Vec<String>,
    points: Vec<(f64, f64)>,
}

/// Channels and their shares.
pub const CHANNELS: [(&str, f64); 4] = [
    ("web", 0.55),
    ("app", 0.25),
    ("marketplace", 0.15),
    ("store", 0.05),
];
/// Service levels and their shares.
pub const SERVICE_LEVELS: [(&str, f64); 3] =
    [("same_day", 0.10), ("next_day", 0.30), ("standard", 0.60)];

fn pick<'a>(rng: &mut impl Rng, table: &[(&'a str, f64)]) -> &'a str {
    let mut x = rng.random::<f64>();
    for (name, p) in table {
        if x < *p {
            return name;
        }
        x -= p;
    }
    table[table.len() - 1].0
}

impl Bf1Stream {
    /// A stream over a network's catalog and facilities.
    pub fn new(net: &Network, seed: u64) -> Bf1Stream {
        Bf1Stream {
            rng: ChaCha8Rng::seed_from_u64(seed),
            zipf: Zipf::new(net.skus.len(), 1.0),
            skus: net.skus.clone(),
            points: net.facilities.iter().map(|f| (f.lat, f.lon)).collect(),
        }
    }

    /// Number of lines: 1: 50%, 2: 25%, 3: 15%, 4–6: 10%.
    pub fn line_count(&mut self) -> usize {
        let x = self.rng.random::<f64>();
        if x < 0.50 {
            1
        } else if x < 0.75 {
            2
        } else if x < 0.90 {
            3
        } else {
            self.rng.random_range(4..=6)
        }
    }

    /// Quantity: 1 in 90% of lines, else 2–3.
    pub fn qty(&mut self) -> i64 {
        if self.rng.random::<f64>() < 0.9 {
            1
        } else {
            self.rng.random_range(2..=3)
        }
    }

    /// A SKU rank by popularity.
    pub fn sku_rank(&mut self) -> usize {
        self.zipf.sample(&mut self.rng)
    }

    /// The next order, with this id.
    pub fn next_order(&mut self, order_id: String) -> PlaceOrder {
        let n = self.line_count().min(self.skus.len());
        let mut ranks: Vec<usize> = Vec::with_capacity(n);
        while ranks.len() < n {
            let r = self.sku_rank();
            if !ranks.contains(&r) {
                ranks.push(r);
            }
        }
        let lines = ranks
            .into_iter()
            .map(|r| LineInput {
                sku: self.skus[r].clone(),
                qty: self.qty(),
            })
            .collect();
        let (lat, lon) = self.points[self.rng.random_range(0..self.points.len())];
        let ship_to = ShipTo {
            lat: (lat + self.rng.random_range(-1.5..1.5)).clamp(-90.0, 90.0),
            lon: (lon + self.rng.random_range(-1.5..1.5)).clamp(-180.0, 180.0),
        };
        PlaceOrder {
            order_id,
            channel: pick(&mut self.rng, &CHANNELS).into(),
            ship_to,
            service_level: pick(&mut self.rng, &SERVICE_LEVELS).into(),
            lines,
            allow_backorder: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::bf1::{generate, Bf1Params};

    fn net() -> Network {
        generate(&Bf1Params {
            scale: 0.01,
            seed: 1,
        })
    }

    #[test]
    fn same_seed_same_stream() {
        let n = net();
        let mut a = Bf1Stream::new(&n, 9);
        let mut b = Bf1Stream::new(&n, 9);
        let mut c = Bf1Stream::new(&n, 10);
        let xs: Vec<_> = (0..100).map(|i| a.next_order(format!("o{i}"))).collect();
        let ys: Vec<_> = (0..100).map(|i| b.next_order(format!("o{i}"))).collect();
        let zs: Vec<_> = (0..100).map(|i| c.next_order(format!("o{i}"))).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn mixes_match_workload_md() {
        let n = net();
        let mut s = Bf1Stream::new(&n, 3);
        let total = 20_000;
        let orders: Vec<_> = (0..total).map(|i| s.next_order(format!("o{i}"))).collect();
        let share = |f: &dyn Fn(&PlaceOrder) -> bool| {
            orders.iter().filter(|o| f(o)).count() as f64 / total as f64
        };
        assert!((share(&|o| o.lines.len() == 1) - 0.50).abs() < 0.02);
        assert!((share(&|o| o.lines.len() == 2) - 0.25).abs() < 0.02);
        assert!((share(&|o| o.lines.len() >= 4) - 0.10).abs() < 0.02);
        assert!((share(&|o| o.channel == "web") - 0.55).abs() < 0.02);
        assert!((share(&|o| o.service_level == "same_day") - 0.10).abs() < 0.02);
        let lines: Vec<_> = orders.iter().flat_map(|o| &o.lines).collect();
        let q1 = lines.iter().filter(|l| l.qty == 1).count() as f64 / lines.len() as f64;
        assert!((q1 - 0.9).abs() < 0.02);
        // Zipf(1): rank 0 is drawn about twice as often as rank 1.
        let r0 = lines.iter().filter(|l| l.sku == n.skus[0]).count() as f64;
        let r1 = lines.iter().filter(|l| l.sku == n.skus[1]).count() as f64;
        assert!((r0 / r1 - 2.0).abs() < 0.4, "{r0} / {r1}");
        assert!(orders.iter().all(|o| {
            let mut s: Vec<_> = o.lines.iter().map(|l| &l.sku).collect();
            s.sort();
            s.dedup();
            s.len() == o.lines.len()
        }));
    }
}
