//! Snapshots on the simulated disk: what the production snapshot holds
//! (`runtime/src/persist/snapshot.rs`, `Loaded`: cells, orders, desks
//! with waiting lines, facilities, receipt and adjustment ids, hold
//! records, the journal position and the next order number), encoded with
//! bincode as one `[len u32][crc32 u32][body]` record per generation file
//! `snap-G`, and a `current` file of `[generation u64][seq u64][crc32 u32]`
//! records naming the current generation (the last whole one). Every file
//! has the power-loss semantics of [`SimFile`].
//!
//! Loading follows `persist::recovery::base`: the configured world with
//! the snapshot's parts put in, the active holds' units held again (a
//! cell's stored form leaves them out). A generation the `current` file
//! names but whose record is torn or fails its checksum is ignored: the
//! one named before it is loaded instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use orch_actors::backorder::DeskState;
use orch_actors::cell::{CellEvent, CellState};
use orch_actors::facility::FacilityState;
use orch_actors::hold::{HoldLine, HoldState};
use orch_actors::order::OrderState;
use orch_actors::sim::World;
use orch_actors::{CellKey, SkuIdx};
use orch_config::{Config, Millis};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::files::SimFile;

/// One snapshot: the state as of journal position `seq` (every entry
/// before it applied).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its generation (names its file).
    pub generation: u64,
    /// Journal entries it covers (absolute position of the first one
    /// after it).
    pub seq: u64,
    /// The next order number at that point.
    pub next_order: u64,
    /// When it was taken.
    pub taken_at: Millis,
    /// Cells, by key.
    pub cells: Vec<(CellKey, CellState)>,
    /// Orders, by number.
    pub orders: Vec<OrderState>,
    /// Desks with waiting lines.
    pub desks: Vec<(SkuIdx, DeskState)>,
    /// Facilities by index.
    pub facilities: Vec<FacilityState>,
    /// Receipt ids applied.
    pub receipts: Vec<Arc<str>>,
    /// Adjustment ids applied.
    pub adjustments: Vec<Arc<str>>,
    /// Hold records, by number.
    pub holds: Vec<HoldState>,
}

/// A world with the ids it applied (what recovery rebuilt).
pub struct Base {
    /// The state machines.
    pub world: World,
    /// Receipt ids applied.
    pub receipts: Vec<Arc<str>>,
    /// Adjustment ids applied.
    pub adjustments: Vec<Arc<str>>,
}

impl Snapshot {
    /// `world` (with its ids) as generation `generation` covering `seq`
    /// entries, as the production store writes it (sorted; empty desks
    /// left out).
    pub fn of(base: &Base, generation: u64, seq: u64, taken_at: Millis) -> Snapshot {
        let w = &base.world;
        let mut cells: Vec<(CellKey, CellState)> =
            w.cells.iter().map(|(k, c)| (*k, c.clone())).collect();
        cells.sort_by_key(|c| c.0);
        let mut orders: Vec<OrderState> = w.orders.values().cloned().collect();
        orders.sort_by_key(|o| o.no());
        let mut desks: Vec<(SkuIdx, DeskState)> = w
            .desks
            .iter()
            .filter(|(_, d)| d.waiting() > 0)
            .map(|(s, d)| (*s, d.clone()))
            .collect();
        desks.sort_by_key(|d| d.0);
        let mut holds: Vec<HoldState> = w.holds.values().cloned().collect();
        holds.sort_by_key(|h| h.no());
        Snapshot {
            generation,
            seq,
            next_order: w.next_order_no(),
            taken_at,
            cells,
            orders,
            desks,
            facilities: w.facilities.clone(),
            receipts: base.receipts.clone(),
            adjustments: base.adjustments.clone(),
            holds,
        }
    }

    /// The world it holds, loaded as `persist::recovery::base` loads one.
    pub fn load(self, cfg: &Config, now: Millis) -> Result<Base, String> {
        let mut world = World::new(cfg, now);
        if self.facilities.len() != world.facilities.len() {
            return Err(format!(
                "the snapshot holds {} facilities, the configuration {}",
                self.facilities.len(),
                world.facilities.len()
            ));
        }
        world.cells = self.cells.into_iter().collect();
        world.orders = self.orders.into_iter().map(|o| (o.no(), o)).collect();
        world.desks = self.desks.into_iter().collect();
        world.facilities = self.facilities;
        world.set_next_order_no(self.next_order);
        for hold in self.holds {
            for (facility, line, ol) in hold.units_held() {
                let key = CellKey {
                    sku: ol.sku,
                    facility,
                };
                world.cells.entry(key).or_default().apply(&CellEvent::Held {
                    hold: HoldLine {
                        hold: hold.no(),
                        line,
                    },
                    qty: ol.qty,
                });
            }
            world.holds.insert(hold.no(), hold);
        }
        Ok(Base {
            world,
            receipts: self.receipts,
            adjustments: self.adjustments,
        })
    }
}

/// A `current` record: the generation it names and the seq it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    /// The generation.
    pub generation: u64,
    /// The journal position it covers.
    pub seq: u64,
}

const CURRENT_LEN: usize = 20;

fn current_record(c: Current) -> [u8; CURRENT_LEN] {
    let mut out = [0; CURRENT_LEN];
    out[..8].copy_from_slice(&c.generation.to_le_bytes());
    out[8..16].copy_from_slice(&c.seq.to_le_bytes());
    let crc = crc32fast::hash(&out[..16]);
    out[16..].copy_from_slice(&crc.to_le_bytes());
    out
}

fn file_name(generation: u64) -> String {
    format!("snap-{generation}")
}

/// What loading found.
#[derive(Debug, Default)]
pub struct Found {
    /// The newest whole snapshot the `current` file names.
    pub snapshot: Option<Snapshot>,
    /// Generations named but ignored, with the reason.
    pub ignored: Vec<String>,
}

/// The simulated snapshot directory.
#[derive(Debug, Default)]
pub struct SnapDir {
    files: BTreeMap<String, SimFile>,
    current: SimFile,
}

impl SnapDir {
    /// Writes generation `s.generation` as a fresh file (not yet durable).
    pub fn write(&mut self, s: &Snapshot) {
        let body = bincode::serde::encode_to_vec(s, bincode::config::standard())
            .expect("a snapshot encodes");
        let mut f = SimFile::default();
        f.append(&(body.len() as u32).to_le_bytes());
        f.append(&crc32fast::hash(&body).to_le_bytes());
        f.append(&body);
        self.files.insert(file_name(s.generation), f);
    }

    /// Fsyncs generation `generation`'s file.
    pub fn fsync(&mut self, generation: u64) {
        if let Some(f) = self.files.get_mut(&file_name(generation)) {
            f.fsync();
        }
    }

    /// Appends a `current` record naming `c` (not yet durable).
    pub fn mark_current(&mut self, c: Current) {
        self.current.append(&current_record(c));
    }

    /// Fsyncs the `current` file.
    pub fn fsync_current(&mut self) {
        self.current.fsync();
    }

    /// Deletes the files of generations older than `keep_from`.
    pub fn delete_before(&mut self, keep_from: u64) {
        self.files.retain(|name, _| {
            name.strip_prefix("snap-")
                .and_then(|g| g.parse::<u64>().ok())
                .is_none_or(|g| g >= keep_from)
        });
    }

    /// Power loss on every file; returns the torn bytes kept.
    pub fn power_loss(&mut self, r: &mut ChaCha8Rng) -> usize {
        let mut torn = self.current.power_loss(r);
        for f in self.files.values_mut() {
            torn += f.power_loss(r);
        }
        torn
    }

    /// The whole `current` records, oldest first.
    pub fn currents(&self) -> Vec<Current> {
        let b = self.current.bytes();
        let mut out = Vec::new();
        for rec in b.chunks_exact(CURRENT_LEN) {
            let crc = u32::from_le_bytes(rec[16..].try_into().expect("4 bytes"));
            if crc32fast::hash(&rec[..16]) != crc {
                break;
            }
            out.push(Current {
                generation: u64::from_le_bytes(rec[..8].try_into().expect("8 bytes")),
                seq: u64::from_le_bytes(rec[8..16].try_into().expect("8 bytes")),
            });
        }
        out
    }

    /// Cuts the `current` file after its last whole record (at restart,
    /// as the journal cuts its torn tail).
    pub fn cut_torn(&mut self) {
        let n = self.currents().len();
        self.current.truncate(n * CURRENT_LEN);
    }

    /// One generation's snapshot, if its file is whole and checksums.
    pub fn read(&self, c: Current) -> Result<Snapshot, String> {
        let f = self
            .files
            .get(&file_name(c.generation))
            .ok_or_else(|| format!("generation {}: no file", c.generation))?;
        let b = f.bytes();
        if b.len() < 8 {
            return Err(format!(
                "generation {}: {} bytes, torn",
                c.generation,
                b.len()
            ));
        }
        let len = u32::from_le_bytes(b[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(b[4..8].try_into().expect("4 bytes"));
        let body = b.get(8..8 + len).ok_or_else(|| {
            format!(
                "generation {}: torn at {} of {} bytes",
                c.generation,
                b.len(),
                len + 8
            )
        })?;
        if crc32fast::hash(body) != crc {
            return Err(format!("generation {}: checksum fails", c.generation));
        }
        let (s, _): (Snapshot, usize) =
            bincode::serde::decode_from_slice(body, bincode::config::standard())
                .map_err(|e| format!("generation {}: checksum holds but {e}", c.generation))?;
        if s.generation != c.generation || s.seq != c.seq {
            return Err(format!(
                "generation {}: holds generation {} seq {}, named as seq {}",
                c.generation, s.generation, s.seq, c.seq
            ));
        }
        Ok(s)
    }

    /// The newest snapshot that is named current and whole; the named
    /// ones skipped on the way, with why.
    pub fn load(&self) -> Found {
        let mut found = Found::default();
        for c in self.currents().into_iter().rev() {
            match self.read(c) {
                Ok(s) => {
                    found.snapshot = Some(s);
                    break;
                }
                Err(why) => found.ignored.push(why),
            }
        }
        found
    }

    /// The generation a new snapshot takes: after the last one named.
    pub fn next_generation(&self) -> u64 {
        self.currents().last().map_or(1, |c| c.generation + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn snapshot(generation: u64, seq: u64) -> Snapshot {
        let cfg = Config::with_network(orch_config::Network {
            facilities: Vec::new(),
            skus: Vec::new(),
            stock: Vec::new(),
        });
        let base = Base {
            world: World::new(&cfg, 0),
            receipts: vec![format!("r-{generation}").into()],
            adjustments: Vec::new(),
        };
        Snapshot::of(&base, generation, seq, 0)
    }

    fn durable(dir: &mut SnapDir, s: &Snapshot) {
        dir.write(s);
        dir.fsync(s.generation);
        dir.mark_current(Current {
            generation: s.generation,
            seq: s.seq,
        });
        dir.fsync_current();
    }

    #[test]
    fn a_durable_snapshot_survives_and_reads_back() {
        for seed in 0..50 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut dir = SnapDir::default();
            durable(&mut dir, &snapshot(1, 5));
            dir.power_loss(&mut r);
            dir.cut_torn();
            let s = dir.load().snapshot.expect("durable");
            assert_eq!(
                (s.generation, s.seq, &s.receipts[..]),
                (1, 5, &["r-1".into()][..])
            );
        }
    }

    /// A snapshot named current before it was fsynced is torn by a power
    /// loss: loading ignores it and falls back to the one named before.
    #[test]
    fn a_torn_snapshot_named_current_falls_back_to_the_previous() {
        for seed in 0..50 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut dir = SnapDir::default();
            durable(&mut dir, &snapshot(1, 5));
            dir.write(&snapshot(2, 9));
            dir.mark_current(Current {
                generation: 2,
                seq: 9,
            });
            dir.fsync_current();
            dir.power_loss(&mut r);
            dir.cut_torn();
            let found = dir.load();
            assert_eq!(found.snapshot.map(|s| s.seq), Some(5), "seed {seed}");
            assert_eq!(found.ignored.len(), 1, "seed {seed}");
            assert!(
                found.ignored[0].starts_with("generation 2"),
                "{:?}",
                found.ignored
            );
            assert_eq!(dir.next_generation(), 3);
        }
    }

    /// A durable snapshot whose `current` record was not fsynced is not
    /// current after a power loss; its generation number is taken again.
    #[test]
    fn an_unsynced_mark_is_lost_whole() {
        for seed in 0..50 {
            let mut r = ChaCha8Rng::seed_from_u64(seed);
            let mut dir = SnapDir::default();
            durable(&mut dir, &snapshot(1, 5));
            dir.write(&snapshot(2, 9));
            dir.fsync(2);
            dir.mark_current(Current {
                generation: 2,
                seq: 9,
            });
            dir.power_loss(&mut r);
            dir.cut_torn();
            assert_eq!(dir.currents().len(), 1, "seed {seed}");
            assert_eq!(dir.load().snapshot.map(|s| s.generation), Some(1));
            assert_eq!(dir.next_generation(), 2);
        }
    }

    #[test]
    fn older_generations_go_the_previous_stays() {
        let mut dir = SnapDir::default();
        for g in 1..=3 {
            durable(&mut dir, &snapshot(g, g * 10));
        }
        dir.delete_before(2);
        let names: Vec<&String> = dir.files.keys().collect();
        assert_eq!(names, ["snap-2", "snap-3"]);
    }
}
