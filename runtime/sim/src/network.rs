//! The network a seed chooses: a few facilities and SKUs, little stock
//! (so that orders contend, split and wait), short wave timers and cutoffs.

use orch_config::{
    CarrierCutoff, Config, FacilityConfig, FacilityKind, Network, ServiceLevel, StockEntry,
    WavePolicy,
};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::options::SimOptions;

/// The configuration for `opt`, drawn from `r`.
pub fn config(opt: &SimOptions, r: &mut ChaCha8Rng) -> Config {
    let facilities = (0..opt.facilities)
        .map(|i| FacilityConfig {
            id: format!("F-{i:02}"),
            kind: if i % 3 == 2 {
                FacilityKind::Store
            } else {
                FacilityKind::Dc
            },
            lat: r.random_range(30.0..45.0),
            lon: r.random_range(-120.0..-75.0),
            capacity_per_hour: r.random_range(20..200),
            cost_per_fulfillment: 1.0,
            zones: vec!["A".into(), "B".into()],
            wave: WavePolicy {
                size_max: r.random_range(1..5),
                wait_ms_max: r.random_range(500..10_000),
            },
            cutoffs: vec![CarrierCutoff {
                carrier: "UPS".into(),
                minute_of_day: r.random_range(0..1440),
                service_levels: vec![ServiceLevel::SameDay, ServiceLevel::NextDay],
            }],
            enabled: true,
        })
        .collect();
    let mut stock = Vec::new();
    for sku in 0..opt.skus {
        for f in 0..opt.facilities {
            if r.random_bool(0.6) {
                stock.push(StockEntry {
                    sku,
                    facility: f,
                    on_hand: r.random_range(0..6),
                    safety_stock: if r.random_bool(0.2) { 1 } else { 0 },
                });
            }
        }
    }
    Config::with_network(Network {
        facilities,
        skus: (0..opt.skus).map(|i| format!("SKU-{i:06}")).collect(),
        stock,
    })
}
