//! Seeded decisions that do not depend on timing: every "does this order get
//! cancelled", "how long does this pick take" is a pure function of the run
//! seed, a key (an order or fulfillment id) and a salt naming the decision.
//! Two runs with one seed make the same decisions whatever order the answers
//! come back in.

/// SplitMix64 finaliser: a well-mixed 64-bit hash of one word.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of (seed, key, salt).
pub fn hash(seed: u64, key: &str, salt: u64) -> u64 {
    // FNV-1a over the key, then mixed with the seed and the salt.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h ^ mix(seed ^ mix(salt)))
}

/// A uniform number in [0, 1) for (seed, key, salt).
pub fn unit(seed: u64, key: &str, salt: u64) -> f64 {
    (hash(seed, key, salt) >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform whole number of milliseconds in `[lo, hi]` for (seed, key, salt).
pub fn millis_between(seed: u64, key: &str, salt: u64, lo: u64, hi: u64) -> u64 {
    lo + hash(seed, key, salt) % (hi.saturating_sub(lo) + 1)
}

/// The salts of every seeded decision, so that no two decisions share one.
pub mod salt {
    /// Whether an order is cancelled before pick.
    pub const CANCEL: u64 = 1;
    /// Whether a delivered order comes back.
    pub const RETURN: u64 = 2;
    /// Whether a return is disposed of rather than restocked.
    pub const DISPOSE: u64 = 3;
    /// Whether a scan is sent twice.
    pub const DUPLICATE: u64 = 4;
    /// Whether a scan is preceded by one out of order.
    pub const OUT_OF_ORDER: u64 = 5;
    /// How many days late a carrier delivers.
    pub const LATENESS: u64 = 6;
    /// Delays between steps (added to the step number).
    pub const DELAY: u64 = 100;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_answer_and_uniform_enough() {
        assert_eq!(unit(1, "o-1", 2), unit(1, "o-1", 2));
        assert_ne!(unit(1, "o-1", 2), unit(2, "o-1", 2));
        let n = 100_000;
        let hits = (0..n)
            .filter(|i| unit(7, &format!("o-{i}"), salt::CANCEL) < 0.02)
            .count();
        let share = hits as f64 / n as f64;
        assert!((share - 0.02).abs() < 0.002, "{share}");
        let m = millis_between(3, "x", 9, 10, 20);
        assert!((10..=20).contains(&m));
    }
}
