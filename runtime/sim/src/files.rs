//! A simulated file with the journal's power-loss semantics: appended
//! bytes sit in the page cache until an fsync makes them durable; a power
//! loss keeps the durable bytes plus, sometimes, a torn prefix of what was
//! not synced, or a few garbage bytes. Creating and deleting a file are
//! taken as durable at once (the directory's fsync is not modelled).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One simulated file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimFile {
    bytes: Vec<u8>,
    durable: usize,
}

impl SimFile {
    /// Appends `b` (in the page cache until [`SimFile::fsync`]).
    pub fn append(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }

    /// Makes every byte written so far durable.
    pub fn fsync(&mut self) {
        self.durable = self.bytes.len();
    }

    /// Whether every byte written is durable.
    pub fn synced(&self) -> bool {
        self.durable == self.bytes.len()
    }

    /// The bytes as a reader sees them now.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Cuts the file to its first `len` bytes (a reader cutting a torn
    /// tail), durable.
    pub fn truncate(&mut self, len: usize) {
        self.bytes.truncate(len);
        self.durable = self.bytes.len();
    }

    /// Power loss: the unsynced bytes are lost, except (often) a strict
    /// prefix of them, or (sometimes) a few garbage bytes. Returns how many
    /// bytes past the durable ones survived.
    pub fn power_loss(&mut self, r: &mut ChaCha8Rng) -> usize {
        let tail = self.bytes.split_off(self.durable);
        let torn = if tail.len() >= 2 && r.random_bool(0.7) {
            let keep = r.random_range(1..tail.len());
            self.bytes.extend_from_slice(&tail[..keep]);
            keep
        } else if r.random_bool(0.3) {
            let n = r.random_range(1..12);
            for _ in 0..n {
                self.bytes.push(r.random());
            }
            n
        } else {
            0
        };
        self.durable = self.bytes.len();
        torn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn only_fsynced_bytes_survive_whole() {
        for seed in 0..100 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut f = SimFile::default();
            f.append(b"durable");
            f.fsync();
            f.append(b"in the page cache");
            assert!(!f.synced());
            f.power_loss(&mut r);
            assert!(f.bytes().starts_with(b"durable"), "seed {seed}");
            assert_ne!(f.bytes(), b"durablein the page cache", "seed {seed}");
            assert!(f.synced());
        }
    }
}
