//! What a seed chooses: sizes, the op mix and the fault rates.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The options of one run, all chosen by its seed.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// The seed.
    pub seed: u64,
    /// Shards of the cluster.
    pub shards: usize,
    /// Facilities of the network.
    pub facilities: u16,
    /// SKUs of the catalog.
    pub skus: u32,
    /// Workload steps before faults stop.
    pub steps: usize,
    /// Weights of the operations, in the order of [`OPS`].
    pub mix: [u32; 10],
    /// Chance per step that a write to the journal fails (retried).
    pub write_fail: f64,
    /// Most steps an fsync takes.
    pub fsync_delay_max: u32,
    /// Chance per step of a power loss.
    pub crash: f64,
    /// Chance per step that a checkpoint starts (none runs).
    pub snapshot_rate: f64,
    /// Chance of a power loss right after each step of a checkpoint.
    pub snapshot_crash: f64,
    /// Most steps an fsync of the event store takes (the store may lag
    /// the journal by that much).
    pub store_delay_max: u32,
}

/// The operations of the mix, by name.
pub const OPS: [&str; 10] = [
    "place", "batch", "cancel", "scan", "receipt", "adjust", "status", "wave", "clock", "hold",
];

impl SimOptions {
    /// The options seed `seed` chooses.
    pub fn from_seed(seed: u64) -> SimOptions {
        let mut r = ChaCha8Rng::seed_from_u64(seed ^ 0x0005_eed0_f0b7_1005);
        let mut mix = [0; 10];
        for (i, w) in mix.iter_mut().enumerate() {
            *w = match i {
                0 | 3 => r.random_range(4..12),
                8 => r.random_range(2..6),
                9 => r.random_range(2..8),
                _ => r.random_range(1..5),
            };
        }
        SimOptions {
            seed,
            shards: r.random_range(1..=4),
            facilities: r.random_range(2..=4),
            skus: r.random_range(3..=7),
            steps: r.random_range(150..400),
            mix,
            write_fail: [0.0, 0.05, 0.2][r.random_range(0..3)],
            fsync_delay_max: r.random_range(0..6),
            crash: [0.0, 0.005, 0.02][r.random_range(0..3)],
            snapshot_rate: [0.01, 0.03, 0.08][r.random_range(0..3)],
            snapshot_crash: [0.0, 0.03, 0.1][r.random_range(0..3)],
            store_delay_max: [0, 4, 16][r.random_range(0..3)],
        }
    }

    /// One line for the trace.
    pub fn describe(&self) -> String {
        let mix: Vec<String> = OPS
            .iter()
            .zip(self.mix)
            .map(|(n, w)| format!("{n}={w}"))
            .collect();
        format!(
            "seed {} shards {} facilities {} skus {} steps {} mix [{}] write_fail {} fsync_delay_max {} crash {} snapshot_rate {} snapshot_crash {} store_delay_max {}",
            self.seed,
            self.shards,
            self.facilities,
            self.skus,
            self.steps,
            mix.join(" "),
            self.write_fail,
            self.fsync_delay_max,
            self.crash,
            self.snapshot_rate,
            self.snapshot_crash,
            self.store_delay_max
        )
    }
}
