//! The simulated journal file. Records are appended as
//! `[len u32][crc32 u32][bincode of the entry]`; an fsync takes a few steps
//! and may fail (then it is retried); a write may fail (retried next step).
//! Power loss keeps the bytes durable at the last completed fsync and tears
//! the next record at a random offset; recovery reads records until one is
//! short or fails its checksum, and cuts the file there.
//!
//! Entries are counted by their absolute journal position: a checkpoint
//! deletes the prefix its snapshot covers ([`Disk::delete_before`]), and
//! the file then starts at [`Disk::first`].

use orch_actors::log::LogEntry;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// An fsync in progress.
#[derive(Debug, Clone, Copy)]
struct Fsync {
    entries: usize,
    bytes: usize,
    steps_left: u32,
}

/// The simulated journal file and its durability.
#[derive(Debug, Default)]
pub struct Disk {
    bytes: Vec<u8>,
    /// Position of the file's first entry (the prefix before was deleted).
    first: usize,
    /// Entries written (in the page cache or durable).
    written: usize,
    durable_bytes: usize,
    durable_entries: usize,
    fsync: Option<Fsync>,
    /// Failed writes and fsyncs so far (retried).
    pub failures: u64,
}

fn encode(e: &LogEntry) -> Vec<u8> {
    let body = bincode::serde::encode_to_vec(e, bincode::config::standard())
        .expect("a journal entry encodes");
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

impl Disk {
    /// A disk holding `entries` from position `first`, all durable (after
    /// a recovery).
    pub fn with(first: usize, entries: &[LogEntry]) -> Disk {
        let mut d = Disk {
            first,
            ..Disk::default()
        };
        for e in entries {
            d.bytes.extend(encode(e));
        }
        d.written = first + entries.len();
        d.durable_bytes = d.bytes.len();
        d.durable_entries = d.written;
        d
    }

    /// Position of the file's first entry.
    pub fn first(&self) -> usize {
        self.first
    }

    /// Entries written so far (the position after the last).
    pub fn written(&self) -> usize {
        self.written
    }

    /// Entries durable so far.
    pub fn durable(&self) -> usize {
        self.durable_entries
    }

    /// One step of the disk: write what the journal appended (unless the
    /// write fails), start an fsync if none runs, and move the running one
    /// on. `journal` holds the entries from position `base` on. Returns
    /// the position an fsync made durable in this step, or, with
    /// `ack_early`, the position an fsync just started for.
    pub fn step(
        &mut self,
        journal: &[LogEntry],
        base: usize,
        r: &mut ChaCha8Rng,
        write_fail: f64,
        delay_max: u32,
        ack_early: bool,
    ) -> Option<usize> {
        assert!(
            self.written >= base,
            "the journal starts after the file ends"
        );
        if self.written < base + journal.len() {
            if write_fail > 0.0 && r.random_bool(write_fail) {
                self.failures += 1;
            } else {
                for e in &journal[self.written - base..] {
                    self.bytes.extend(encode(e));
                }
                self.written = base + journal.len();
            }
        }
        match self.fsync {
            None if self.written > self.durable_entries => {
                self.fsync = Some(Fsync {
                    entries: self.written,
                    bytes: self.bytes.len(),
                    steps_left: r.random_range(0..=delay_max),
                });
                ack_early.then_some(self.written)
            }
            None => None,
            Some(mut f) if f.steps_left > 0 => {
                f.steps_left -= 1;
                self.fsync = Some(f);
                None
            }
            Some(f) => {
                if write_fail > 0.0 && r.random_bool(write_fail) {
                    self.failures += 1;
                    self.fsync = Some(Fsync {
                        steps_left: r.random_range(0..=delay_max),
                        ..f
                    });
                    return None;
                }
                self.fsync = None;
                self.durable_bytes = f.bytes;
                self.durable_entries = f.entries;
                (!ack_early).then_some(f.entries)
            }
        }
    }

    /// Power loss: what was not fsynced is lost, except a torn prefix of
    /// the next record (at a random offset) or a few garbage bytes.
    pub fn power_loss(&mut self, r: &mut ChaCha8Rng) -> usize {
        let next_len = self
            .bytes
            .get(self.durable_bytes..self.durable_bytes + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize + 8);
        let tail = self.bytes.split_off(self.durable_bytes);
        let torn = match next_len {
            Some(len) if len >= 2 && r.random_bool(0.7) => {
                // The next record was in the page cache: a prefix survives.
                let keep = r.random_range(1..len.min(tail.len()));
                self.bytes.extend_from_slice(&tail[..keep]);
                keep
            }
            _ if r.random_bool(0.3) => {
                let n = r.random_range(1..12);
                for _ in 0..n {
                    self.bytes.push(r.random());
                }
                n
            }
            _ => 0,
        };
        self.fsync = None;
        self.written = self.durable_entries;
        torn
    }

    /// The durable entries, from position [`Disk::first`] (what a
    /// checkpoint reads: every one decodes, or the file is damaged).
    pub fn durable_entries(&self) -> Result<Vec<LogEntry>, String> {
        let (out, at) = read(&self.bytes[..self.durable_bytes])?;
        if at != self.durable_bytes {
            return Err(format!(
                "journal: a durable record at byte {at} does not read back"
            ));
        }
        Ok(out)
    }

    /// Deletes the entries before position `seq` (the prefix a snapshot
    /// covers; they must be durable), at once.
    pub fn delete_before(&mut self, seq: usize) -> Result<(), String> {
        if seq <= self.first {
            return Ok(());
        }
        if seq > self.durable_entries {
            return Err(format!(
                "journal: deleting before {seq}, only {} durable",
                self.durable_entries
            ));
        }
        let mut at = 0;
        for _ in self.first..seq {
            let b = &self.bytes[at..at + 4];
            at += 8 + u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        }
        self.bytes.drain(..at);
        self.durable_bytes -= at;
        if let Some(f) = &mut self.fsync {
            f.bytes -= at;
        }
        self.first = seq;
        Ok(())
    }

    /// Read the file back: every whole record whose checksum holds, up to
    /// the first that does not; the file is cut there. Returns the
    /// position of the first entry and the entries.
    pub fn recover(&mut self) -> Result<(usize, Vec<LogEntry>), String> {
        let (out, at) = read(&self.bytes)?;
        self.bytes.truncate(at);
        self.written = self.first + out.len();
        self.durable_entries = self.written;
        self.durable_bytes = at;
        Ok((self.first, out))
    }
}

/// Every whole record of `bytes` whose checksum holds, up to the first
/// that does not, and the byte offset after the last one read.
fn read(bytes: &[u8]) -> Result<(Vec<LogEntry>, usize), String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let b = &bytes[at..];
        let len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        let crc = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
        let Some(body) = b.get(8..8 + len) else { break };
        if crc32fast::hash(body) != crc {
            break;
        }
        let (e, _): (LogEntry, usize) =
            bincode::serde::decode_from_slice(body, bincode::config::standard())
                .map_err(|e| format!("record at byte {at}: checksum holds but {e}"))?;
        out.push(e);
        at += 8 + len;
    }
    Ok((out, at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_actors::facility::FacilityEvent;
    use orch_actors::FacilityIdx;
    use rand::SeedableRng;

    fn entry(i: u64) -> LogEntry {
        LogEntry::Facility(
            FacilityIdx(0),
            FacilityEvent::StatusSet {
                enabled: i < 5,
                until: Some(i),
            },
        )
    }

    #[test]
    fn power_loss_keeps_exactly_what_was_fsynced() {
        for seed in 0..50 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut d = Disk::default();
            let journal: Vec<LogEntry> = (0..10).map(entry).collect();
            let mut durable = 0;
            for n in 1..=journal.len() {
                if let Some(k) = d.step(&journal[..n], 0, &mut r, 0.3, 2, false) {
                    durable = k;
                }
            }
            assert_eq!(d.durable(), durable);
            d.power_loss(&mut r);
            let (first, back) = d.recover().unwrap();
            assert_eq!((first, &back[..]), (0, &journal[..durable]), "seed {seed}");
            assert_eq!(Disk::with(0, &back).bytes, d.bytes, "the torn tail is cut");
        }
    }

    /// After a checkpoint deletes the prefix it covers, the file starts
    /// there; appends, fsyncs and power losses count positions as before.
    #[test]
    fn a_deleted_prefix_moves_the_start_not_the_positions() {
        for seed in 0..50 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let journal: Vec<LogEntry> = (0..12).map(entry).collect();
            let mut d = Disk::with(0, &journal[..6]);
            assert!(d.delete_before(7).is_err(), "only durable entries go");
            d.delete_before(4).unwrap();
            assert_eq!((d.first(), d.durable()), (4, 6));
            assert_eq!(d.durable_entries().unwrap(), journal[4..6]);
            let mut durable = 6;
            for n in 7..=journal.len() {
                if let Some(k) = d.step(&journal[2..n], 2, &mut r, 0.3, 2, false) {
                    durable = k;
                }
            }
            d.power_loss(&mut r);
            let (first, back) = d.recover().unwrap();
            assert_eq!((first, &back[..]), (4, &journal[4..durable]), "seed {seed}");
        }
    }
}
