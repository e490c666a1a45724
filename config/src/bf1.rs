//! The BF-1 network generator (see WORKLOAD.md): facilities, catalog and
//! starting stock, all derived from a seed.
//!
//! At scale 1: 8 distribution centres and 32 stores over a US-sized box,
//! 100,000 SKUs, about 1.28 million stock cells. `scale` multiplies SKUs and
//! facility counts (never fewer than 2 DCs and 4 stores). The same
//! parameters always give the same [`Network`].
//!
//! Popularity is Zipf by rank: SKU index 0 (`SKU-000000`) is the most
//! popular. Popular SKUs are stocked in more facilities (the top 10% in every
//! DC) and with more units.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    CarrierCutoff, FacilityConfig, FacilityKind, Network, ServiceLevel, StockEntry, WavePolicy,
};

/// Parameters of one BF-1 network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bf1Params {
    /// Multiplies SKUs and facility counts; must be finite and > 0.
    pub scale: f64,
    /// Seed of every random choice.
    pub seed: u64,
}

impl Default for Bf1Params {
    /// Scale 0.1, seed 42: the orchestrator's embedded default.
    fn default() -> Self {
        Bf1Params {
            scale: 0.1,
            seed: 42,
        }
    }
}

/// DCs at scale 1.
pub const DCS_AT_SCALE_1: usize = 8;
/// Stores at scale 1.
pub const STORES_AT_SCALE_1: usize = 32;
/// SKUs at scale 1.
pub const SKUS_AT_SCALE_1: usize = 100_000;
/// Fewest DCs at any scale.
pub const DCS_MIN: usize = 2;
/// Fewest stores at any scale.
pub const STORES_MIN: usize = 4;
/// Share of the catalog each DC stocks.
pub const DC_ASSORTMENT: f64 = 0.8;
/// Share of the catalog each store stocks.
pub const STORE_ASSORTMENT: f64 = 0.2;

/// The country-sized box facilities are spread over: (lat min, lat max).
const LAT_RANGE: (f64, f64) = (25.0, 49.0);
/// ... and (lon min, lon max).
const LON_RANGE: (f64, f64) = (-124.0, -67.0);

/// Metro points stores cluster around (lat, lon).
const METROS: [(f64, f64); 12] = [
    (40.71, -74.01),  // New York
    (34.05, -118.24), // Los Angeles
    (41.88, -87.63),  // Chicago
    (29.76, -95.37),  // Houston
    (33.45, -112.07), // Phoenix
    (39.95, -75.17),  // Philadelphia
    (32.78, -96.80),  // Dallas
    (33.75, -84.39),  // Atlanta
    (25.76, -80.19),  // Miami
    (47.61, -122.33), // Seattle
    (39.74, -104.99), // Denver
    (42.36, -71.06),  // Boston
];

/// Share of the catalog (most popular first) that every DC stocks.
const DC_ALL_SHARE: f64 = 0.1;
/// Stocking probability of the least popular SKU in a DC, chosen so that the
/// mean over the catalog is [`DC_ASSORTMENT`]:
/// `0.1 * 1 + 0.9 * (1 + p) / 2 = 0.8`.
const DC_TAIL_P: f64 = 2.0 * (DC_ASSORTMENT - DC_ALL_SHARE) / (1.0 - DC_ALL_SHARE) - 1.0;
/// Stocking probability of the most popular SKU in a store ...
const STORE_HEAD_P: f64 = 0.36;
/// ... and of the least popular; the mean is [`STORE_ASSORTMENT`].
const STORE_TAIL_P: f64 = 2.0 * STORE_ASSORTMENT - STORE_HEAD_P;

/// Starting units of a DC cell.
const DC_UNITS: (u32, u32) = (20, 500);
/// Starting units of a store cell.
const STORE_UNITS: (u32, u32) = (1, 20);

/// Facility counts and catalog size at a scale: (DCs, stores, SKUs).
///
/// Counts are rounded, then raised to the minimum (2 DCs, 4 stores, 1 SKU).
pub fn counts(scale: f64) -> (usize, usize, usize) {
    let n = |base: usize, min: usize| ((base as f64 * scale).round() as usize).max(min);
    (
        n(DCS_AT_SCALE_1, DCS_MIN),
        n(STORES_AT_SCALE_1, STORES_MIN),
        n(SKUS_AT_SCALE_1, 1),
    )
}

/// Number of decimal digits of `n` (at least 1).
fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Generates the BF-1 network for `p`.
///
/// Facilities are `DC-01`.. then `ST-001`.. (id order), SKUs `SKU-000000`..
/// (wider when there are more than a million), stock sorted by
/// (sku, facility).
///
/// # Panics
///
/// If `p.scale` is not finite and > 0, or the scale needs more than 65,536
/// facilities or 2^32 SKUs. The loader refuses such scales with a message.
pub fn generate(p: &Bf1Params) -> Network {
    assert!(
        p.scale.is_finite() && p.scale > 0.0,
        "BF-1 scale must be finite and > 0, got {}",
        p.scale
    );
    let (n_dc, n_st, n_sku) = counts(p.scale);
    assert!(n_dc + n_st <= u16::MAX as usize + 1, "too many facilities");
    assert!(n_sku <= u32::MAX as usize, "too many SKUs");
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);

    let mut facilities = Vec::with_capacity(n_dc + n_st);
    let dc_width = digits(n_dc).max(2);
    let lon_slice = (LON_RANGE.1 - LON_RANGE.0) / n_dc as f64;
    for i in 0..n_dc {
        // Stratified over longitude so that DCs cover the whole country.
        let lon = LON_RANGE.0 + (i as f64 + rng.random::<f64>()) * lon_slice;
        let lat = LAT_RANGE.0 + rng.random::<f64>() * (LAT_RANGE.1 - LAT_RANGE.0);
        facilities.push(dc(format!("DC-{:0w$}", i + 1, w = dc_width), lat, lon));
    }
    let st_width = digits(n_st).max(3);
    let metros = (n_st / 4).clamp(2, METROS.len());
    for j in 0..n_st {
        let (mlat, mlon) = METROS[j % metros];
        let lat = (mlat + rng.random_range(-0.6..0.6)).clamp(LAT_RANGE.0, LAT_RANGE.1);
        let lon = (mlon + rng.random_range(-0.8..0.8)).clamp(LON_RANGE.0, LON_RANGE.1);
        facilities.push(store(format!("ST-{:0w$}", j + 1, w = st_width), lat, lon));
    }

    let sku_width = digits(n_sku.saturating_sub(1)).max(6);
    let skus: Vec<String> = (0..n_sku)
        .map(|i| format!("SKU-{:0w$}", i, w = sku_width))
        .collect();

    let expected_cells =
        (n_sku as f64 * (n_dc as f64 * DC_ASSORTMENT + n_st as f64 * STORE_ASSORTMENT)) as usize;
    let mut stock = Vec::with_capacity(expected_cells + expected_cells / 16 + 16);
    // Scratch permutations for choosing k of n facilities (partial
    // Fisher-Yates); any permutation is a valid start, so no reset between SKUs.
    let mut dc_perm: Vec<u16> = (0..n_dc as u16).collect();
    let mut st_perm: Vec<u16> = (n_dc as u16..(n_dc + n_st) as u16).collect();
    let mut chosen: Vec<u16> = Vec::with_capacity(n_dc + n_st);
    for sku in 0..n_sku {
        // Rank in [0, 1): 0 is the most popular SKU.
        let r = sku as f64 / n_sku as f64;
        let p_dc = if r < DC_ALL_SHARE {
            1.0
        } else {
            1.0 - (1.0 - DC_TAIL_P) * (r - DC_ALL_SHARE) / (1.0 - DC_ALL_SHARE)
        };
        let p_st = STORE_HEAD_P + (STORE_TAIL_P - STORE_HEAD_P) * r;
        // Stocked units skew toward popular SKUs: u^(1 + 3r) has mean 1/(2 + 3r).
        let skew = 1.0 + 3.0 * r;

        let k_dc = stochastic_round(&mut rng, p_dc * n_dc as f64).clamp(1, n_dc);
        choose(&mut rng, &mut dc_perm, k_dc, &mut chosen);
        for &f in &chosen {
            let on_hand = units(&mut rng, DC_UNITS, skew);
            stock.push(cell(sku, f, on_hand));
        }
        let k_st = stochastic_round(&mut rng, p_st * n_st as f64).min(n_st);
        choose(&mut rng, &mut st_perm, k_st, &mut chosen);
        for &f in &chosen {
            let on_hand = units(&mut rng, STORE_UNITS, skew);
            stock.push(cell(sku, f, on_hand));
        }
    }

    Network {
        facilities,
        skus,
        stock,
    }
}

/// `floor(x)` plus one with probability `fract(x)`: expected value `x`.
fn stochastic_round(rng: &mut ChaCha8Rng, x: f64) -> usize {
    let base = x.floor();
    base as usize + usize::from(rng.random::<f64>() < x - base)
}

/// Puts `k` distinct random elements of `perm` into `out`, sorted.
fn choose(rng: &mut ChaCha8Rng, perm: &mut [u16], k: usize, out: &mut Vec<u16>) {
    out.clear();
    let n = perm.len();
    if k >= n {
        out.extend_from_slice(perm);
    } else {
        for i in 0..k {
            let j = rng.random_range(i..n);
            perm.swap(i, j);
        }
        out.extend_from_slice(&perm[..k]);
    }
    out.sort_unstable();
}

/// Starting units in `lo..=hi`, skewed low by `skew` >= 1.
fn units(rng: &mut ChaCha8Rng, (lo, hi): (u32, u32), skew: f64) -> u32 {
    let u: f64 = rng.random::<f64>().powf(skew);
    (lo + (f64::from(hi - lo + 1) * u) as u32).min(hi)
}

fn cell(sku: usize, facility: u16, on_hand: u32) -> StockEntry {
    StockEntry {
        sku: sku as u32,
        facility,
        on_hand,
        safety_stock: 0,
    }
}

fn dc(id: String, lat: f64, lon: f64) -> FacilityConfig {
    FacilityConfig {
        id,
        kind: FacilityKind::Dc,
        lat,
        lon,
        capacity_per_hour: 50_000,
        cost_per_fulfillment: 1.0,
        zones: ["A", "B", "C", "D", "E", "F"].map(String::from).to_vec(),
        wave: WavePolicy {
            size_max: 500,
            wait_ms_max: 2000,
        },
        cutoffs: vec![
            CarrierCutoff {
                carrier: "EXPRESS".to_string(),
                minute_of_day: 15 * 60,
                service_levels: vec![ServiceLevel::SameDay],
            },
            CarrierCutoff {
                carrier: "GROUND".to_string(),
                minute_of_day: 20 * 60,
                service_levels: vec![ServiceLevel::NextDay, ServiceLevel::Standard],
            },
        ],
        enabled: true,
    }
}

fn store(id: String, lat: f64, lon: f64) -> FacilityConfig {
    FacilityConfig {
        id,
        kind: FacilityKind::Store,
        lat,
        lon,
        capacity_per_hour: 500,
        cost_per_fulfillment: 1.6,
        zones: ["FRONT", "BACK"].map(String::from).to_vec(),
        wave: WavePolicy {
            size_max: 20,
            wait_ms_max: 5000,
        },
        cutoffs: vec![CarrierCutoff {
            carrier: "COURIER".to_string(),
            minute_of_day: 16 * 60,
            service_levels: ServiceLevel::ALL.to_vec(),
        }],
        enabled: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(scale: f64, seed: u64) -> Network {
        generate(&Bf1Params { scale, seed })
    }

    fn kinds(n: &Network) -> (usize, usize) {
        let dcs = n
            .facilities
            .iter()
            .filter(|f| f.kind == FacilityKind::Dc)
            .count();
        (dcs, n.facilities.len() - dcs)
    }

    /// Per-facility share of the catalog stocked.
    fn assortment(n: &Network) -> Vec<f64> {
        let mut per = vec![0usize; n.facilities.len()];
        for e in &n.stock {
            per[e.facility as usize] += 1;
        }
        per.iter()
            .map(|&c| c as f64 / n.skus.len() as f64)
            .collect()
    }

    /// Checks everything that holds at any scale.
    fn check_shape(n: &Network, dcs: usize, stores: usize, skus: usize) {
        assert_eq!(kinds(n), (dcs, stores));
        assert_eq!(n.skus.len(), skus);
        assert_eq!(n.skus[0], "SKU-000000");
        assert_eq!(n.facilities[0].id, "DC-01");
        assert_eq!(n.facilities[dcs].id, "ST-001");
        assert!(n.skus.windows(2).all(|w| w[0] < w[1]), "skus sorted");
        assert!(
            n.facilities.windows(2).all(|w| w[0].id < w[1].id),
            "facilities in id order"
        );
        assert!(
            n.stock
                .windows(2)
                .all(|w| (w[0].sku, w[0].facility) < (w[1].sku, w[1].facility)),
            "stock sorted by (sku, facility), no duplicate cell"
        );
        for f in &n.facilities {
            assert!((LAT_RANGE.0..=LAT_RANGE.1).contains(&f.lat), "{}", f.id);
            assert!((LON_RANGE.0..=LON_RANGE.1).contains(&f.lon), "{}", f.id);
            assert!(f.enabled);
        }
        let mut in_a_dc = vec![false; n.skus.len()];
        for e in &n.stock {
            let f = &n.facilities[e.facility as usize];
            let (lo, hi) = match f.kind {
                FacilityKind::Dc => {
                    in_a_dc[e.sku as usize] = true;
                    DC_UNITS
                }
                _ => STORE_UNITS,
            };
            assert!((lo..=hi).contains(&e.on_hand), "{} at {}", e.on_hand, f.id);
            assert_eq!(e.safety_stock, 0);
        }
        assert!(in_a_dc.iter().all(|&b| b), "every SKU is in some DC");
        crate::validate::validate(&crate::model::Config::with_network(n.clone()), "bf-1")
            .expect("BF-1 validates");
    }

    #[test]
    fn counts_round_and_respect_minimums() {
        assert_eq!(counts(1.0), (8, 32, 100_000));
        assert_eq!(counts(0.1), (2, 4, 10_000));
        assert_eq!(counts(0.01), (2, 4, 1_000));
        assert_eq!(counts(0.5), (4, 16, 50_000));
        assert_eq!(counts(10.0), (80, 320, 1_000_000));
        assert_eq!(counts(0.000001), (2, 4, 1));
    }

    #[test]
    fn id_widths() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(999_999), 6);
        assert_eq!(digits(1_000_000), 7);
    }

    #[test]
    fn same_seed_same_network_other_seed_other_network() {
        let a = net(0.01, 7);
        let b = net(0.01, 7);
        assert_eq!(a, b);
        let c = net(0.01, 8);
        assert_ne!(a.stock, c.stock);
        assert_ne!(a.facilities, c.facilities);
    }

    #[test]
    fn scale_0_01() {
        let n = net(0.01, 42);
        check_shape(&n, 2, 4, 1000);
        assert_eq!(n.skus[999], "SKU-000999");
        assert_eq!(n.facilities[5].id, "ST-004");
    }

    #[test]
    fn scale_0_1_shape_assortment_and_skew() {
        let n = net(0.1, 42);
        check_shape(&n, 2, 4, 10_000);
        for (i, share) in assortment(&n).into_iter().enumerate() {
            let target = if i < 2 {
                DC_ASSORTMENT
            } else {
                STORE_ASSORTMENT
            };
            assert!(
                (share - target).abs() < 0.03,
                "{} stocks {share:.3} of the catalog, want {target}",
                n.facilities[i].id
            );
        }
        // The top SKUs are in every DC.
        for sku in 0..100u32 {
            let dcs = n
                .stock
                .iter()
                .filter(|e| e.sku == sku && e.facility < 2)
                .count();
            assert_eq!(dcs, 2, "SKU {sku}");
        }
        // Popular SKUs have more stock and more cells than the tail.
        let decile = |lo: u32, hi: u32| {
            let cells: Vec<_> = n
                .stock
                .iter()
                .filter(|e| (lo..hi).contains(&e.sku) && e.facility < 2)
                .collect();
            let mean = cells.iter().map(|e| e.on_hand as f64).sum::<f64>() / cells.len() as f64;
            (cells.len(), mean)
        };
        let (head_cells, head_mean) = decile(0, 1000);
        let (tail_cells, tail_mean) = decile(9000, 10_000);
        assert!(head_cells > tail_cells);
        assert!(
            head_mean > 1.5 * tail_mean,
            "head {head_mean} tail {tail_mean}"
        );
    }

    #[test]
    fn scale_1_full_size() {
        let t = std::time::Instant::now();
        let n = net(1.0, 42);
        eprintln!("BF-1 scale 1 generated in {:?}", t.elapsed());
        check_shape(&n, 8, 32, 100_000);
        assert_eq!(n.skus[99_999], "SKU-099999");
        assert_eq!(n.facilities[39].id, "ST-032");
        let cells = n.stock.len() as f64;
        assert!(
            (cells - 1_280_000.0).abs() / 1_280_000.0 < 0.05,
            "{cells} cells"
        );
        for (i, share) in assortment(&n).into_iter().enumerate() {
            let target = if i < 8 {
                DC_ASSORTMENT
            } else {
                STORE_ASSORTMENT
            };
            assert!(
                (share - target).abs() < 0.02,
                "{} stocks {share:.3}",
                n.facilities[i].id
            );
        }
    }
}
