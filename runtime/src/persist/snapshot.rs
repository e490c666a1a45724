//! Snapshots in sled: every state machine as of one journal sequence number.
//!
//! A snapshot is made by a checkpoint thread that runs the recovery
//! procedure in the background (load the previous snapshot, replay the
//! journal records written since, up to the last durable one) and writes the
//! result as a new generation of sled trees; the live actors are never
//! paused or asked anything, so the snapshot is fuzzy with respect to them
//! and exact with respect to the journal. A generation becomes current only
//! once it is completely written and durable (one `meta` record names it);
//! then older generations and the journal segments it covers are deleted.
//!
//! Durable means fsynced by this module, not flushed by sled: sled 0.34
//! never fsyncs its blob files and its `flush()` is `sync_file_range` (see
//! `durable`). Every file under the store's directory, and the directories,
//! are fsynced after the store opens, after a generation is written (before
//! `meta` names it) and after `meta` is written (before `write` returns and
//! the caller deletes journal segments). A torn `conf` is rebuilt on open
//! (see `sled_conf`).
//!
//! Finished, idle orders that a snapshot holds can leave memory: their
//! state is read back from here on demand (passivation).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use orch_actors::backorder::DeskState;
use orch_actors::cell::CellState;
use orch_actors::facility::FacilityState;
use orch_actors::hold::HoldState;
use orch_actors::order::OrderState;
use orch_actors::sim::World;
use orch_actors::{CellKey, OrderNo, SkuIdx};
use orch_journal::DurableLog;
use serde::{Deserialize, Serialize};

use super::{durable, sled_conf};

/// What the `meta` tree says of the current generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Generation number (names its trees).
    pub generation: u64,
    /// Journal sequence number of the last record it includes.
    pub seq: u64,
    /// Next order number at that point.
    pub next_order: u64,
    /// When it was taken (ms since epoch).
    pub taken_at: u64,
}

/// A snapshot as loaded.
pub struct Loaded {
    /// Its meta record.
    pub meta: SnapshotMeta,
    /// Cells.
    pub cells: Vec<(CellKey, CellState)>,
    /// Orders.
    pub orders: Vec<OrderState>,
    /// Desks.
    pub desks: Vec<(SkuIdx, DeskState)>,
    /// Facilities by index.
    pub facilities: Vec<FacilityState>,
    /// Receipt ids applied.
    pub receipts: Vec<Arc<str>>,
    /// Adjustment ids applied.
    pub adjustments: Vec<Arc<str>>,
    /// Hold records, active and ended (cells do not carry held units in
    /// their stored form: loading re-holds the active ones' units).
    pub holds: Vec<HoldState>,
}

/// The sled database holding the snapshots.
#[derive(Clone)]
pub struct SnapshotStore {
    db: sled::Db,
    /// The store's directory (every file sled writes is below it).
    dir: PathBuf,
    /// Durable lengths are recorded here in power-loss tests.
    durable_log: Option<Arc<DurableLog>>,
    /// Readers of one generation hold it shared; switching generations
    /// (and dropping the old one) holds it exclusively.
    switch: Arc<std::sync::RwLock<()>>,
}

fn enc<T: Serialize>(v: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).expect("encoding cannot fail")
}

fn dec<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T, String> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| format!("snapshot {what} does not decode: {e}"))
}

/// The layout and encoding of the values this build writes. 1: before
/// the `format` key; 2: hold records, and fulfillments carry their ship
/// plan.
pub const SNAPSHOT_FORMAT: u32 = 2;

/// Cells per sled value.
const CELL_CHUNK: usize = 8192;
/// Order numbers per sled value (an order is found by `no / ORDER_CHUNK`).
const ORDER_CHUNK: u64 = 1024;
/// Ids per sled value.
const ID_CHUNK: usize = 16384;
/// Hold records per sled value.
const HOLD_CHUNK: usize = 4096;

fn tree_name(generation: u64, part: &str) -> String {
    format!("g{generation}-{part}")
}

const PARTS: [&str; 7] = [
    "cells",
    "orders",
    "desks",
    "facilities",
    "receipts",
    "adjustments",
    "holds",
];

fn err(e: sled::Error) -> String {
    format!("snapshot store: {e}")
}

impl SnapshotStore {
    /// The store of a core on `cfg` (`<data_dir>/snapshots`); none in
    /// durability mode `none`.
    pub fn for_config(
        cfg: &orch_config::DurabilityConfig,
    ) -> Result<Option<SnapshotStore>, String> {
        if cfg.mode == orch_config::DurabilityMode::None {
            return Ok(None);
        }
        SnapshotStore::open(&Path::new(&cfg.data_dir).join("snapshots")).map(Some)
    }

    /// Opens (or creates) the store under `dir`, rebuilding a torn `conf`
    /// first, and makes everything sled wrote while opening durable.
    pub fn open(dir: &Path) -> Result<SnapshotStore, String> {
        if let Some(why) = sled_conf::remove_if_torn(dir)? {
            tracing::warn!(dir = %dir.display(), damage = %why,
                "the snapshot store's conf file is torn; sled rebuilds it");
        }
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|e| format!("{}: cannot open the snapshot store: {e}", dir.display()))?;
        let store = SnapshotStore {
            db,
            dir: dir.to_path_buf(),
            durable_log: durable::durable_log()?,
            switch: Arc::new(std::sync::RwLock::new(())),
        };
        store.sync()?;
        Ok(store)
    }

    /// Flushes sled, then fsyncs every file and directory of the store.
    fn sync(&self) -> Result<(), String> {
        self.db.flush().map_err(err)?;
        durable::sync_tree(&self.dir, self.durable_log.as_deref())
            .map(drop)
            .map_err(|e| format!("snapshot store: cannot make it durable: {e}"))
    }

    /// The current generation's meta record, if any snapshot exists.
    ///
    /// A store written in another format ([`SNAPSHOT_FORMAT`]) is an
    /// error: its values would not decode, or worse, decode wrong.
    pub fn meta(&self) -> Result<Option<SnapshotMeta>, String> {
        let Some(v) = self.db.get("current").map_err(err)? else {
            return Ok(None);
        };
        let format = match self.db.get("format").map_err(err)? {
            Some(f) => dec::<u32>(&f, "format")?,
            None => 1,
        };
        if format != SNAPSHOT_FORMAT {
            return Err(format!(
                "{}: snapshot format {format}, this build reads format {SNAPSHOT_FORMAT} \
                 (move the data directory aside to start empty)",
                self.dir.display()
            ));
        }
        dec(&v, "meta").map(Some)
    }

    /// Loads the current snapshot.
    pub fn load(&self) -> Result<Option<Loaded>, String> {
        let Some(meta) = self.meta()? else {
            return Ok(None);
        };
        let g = meta.generation;
        let tree = |part: &str| self.db.open_tree(tree_name(g, part)).map_err(err);
        let mut cells = Vec::new();
        for kv in tree("cells")?.iter() {
            let chunk: Vec<(CellKey, CellState)> = dec(&kv.map_err(err)?.1, "cells")?;
            cells.extend(chunk);
        }
        let mut orders = Vec::new();
        for kv in tree("orders")?.iter() {
            let chunk: Vec<OrderState> = dec(&kv.map_err(err)?.1, "orders")?;
            orders.extend(chunk);
        }
        let mut desks = Vec::new();
        for kv in tree("desks")?.iter() {
            let (k, v) = kv.map_err(err)?;
            let sku = u32::from_be_bytes(k[..4].try_into().map_err(|_| "bad desk key")?);
            desks.push((SkuIdx(sku), dec(&v, "desk")?));
        }
        let mut facilities = Vec::new();
        for kv in tree("facilities")?.iter() {
            facilities.push(dec(&kv.map_err(err)?.1, "facility")?);
        }
        let ids = |part: &str| -> Result<Vec<Arc<str>>, String> {
            let mut out = Vec::new();
            for kv in tree(part)?.iter() {
                let chunk: Vec<Arc<str>> = dec(&kv.map_err(err)?.1, part)?;
                out.extend(chunk);
            }
            Ok(out)
        };
        // A generation written before holds has no `holds` tree: none.
        let mut holds = Vec::new();
        for kv in tree("holds")?.iter() {
            let chunk: Vec<HoldState> = dec(&kv.map_err(err)?.1, "holds")?;
            holds.extend(chunk);
        }
        Ok(Some(Loaded {
            holds,
            receipts: ids("receipts")?,
            adjustments: ids("adjustments")?,
            meta,
            cells,
            orders,
            desks,
            facilities,
        }))
    }

    /// Writes `world` (with the ids) as a new generation covering journal
    /// records up to `seq`, makes it current, and drops older generations.
    ///
    /// Cells, orders and ids are stored in chunks (thousands per sled
    /// value): one sled entry per actor made a BF-1 scale-1 snapshot take a
    /// minute to write and half a minute to load.
    pub fn write(
        &self,
        world: &World,
        receipts: &[Arc<str>],
        adjustments: &[Arc<str>],
        seq: u64,
        taken_at: u64,
    ) -> Result<SnapshotMeta, String> {
        let previous = self.meta()?;
        let generation = previous.as_ref().map_or(1, |m| m.generation + 1);
        let tree = |part: &str| self.db.open_tree(tree_name(generation, part)).map_err(err);
        // A generation left half-written by a crash is cleared first.
        for part in PARTS {
            tree(part)?.clear().map_err(err)?;
        }
        let mut cells: Vec<(&CellKey, &CellState)> = world.cells.iter().collect();
        cells.sort_by_key(|c| *c.0);
        let mut batch = sled::Batch::default();
        for (i, chunk) in cells.chunks(CELL_CHUNK).enumerate() {
            batch.insert(&(i as u32).to_be_bytes()[..], enc(&chunk));
        }
        tree("cells")?.apply_batch(batch).map_err(err)?;
        let mut by_chunk: std::collections::BTreeMap<u64, Vec<&OrderState>> = Default::default();
        for (no, o) in &world.orders {
            by_chunk.entry(no.0 / ORDER_CHUNK).or_default().push(o);
        }
        let mut batch = sled::Batch::default();
        for (c, orders) in &by_chunk {
            batch.insert(&c.to_be_bytes()[..], enc(orders));
        }
        tree("orders")?.apply_batch(batch).map_err(err)?;
        let mut batch = sled::Batch::default();
        for (sku, d) in &world.desks {
            if d.waiting() > 0 {
                batch.insert(&sku.0.to_be_bytes()[..], enc(d));
            }
        }
        tree("desks")?.apply_batch(batch).map_err(err)?;
        let mut batch = sled::Batch::default();
        for (i, f) in world.facilities.iter().enumerate() {
            batch.insert(&(i as u16).to_be_bytes()[..], enc(f));
        }
        tree("facilities")?.apply_batch(batch).map_err(err)?;
        for (part, ids) in [("receipts", receipts), ("adjustments", adjustments)] {
            let mut batch = sled::Batch::default();
            for (i, chunk) in ids.chunks(ID_CHUNK).enumerate() {
                batch.insert(&(i as u32).to_be_bytes()[..], enc(&chunk));
            }
            tree(part)?.apply_batch(batch).map_err(err)?;
        }
        let mut holds: Vec<&HoldState> = world.holds.values().collect();
        holds.sort_by_key(|h| h.no());
        let mut batch = sled::Batch::default();
        for (i, chunk) in holds.chunks(HOLD_CHUNK).enumerate() {
            batch.insert(&(i as u32).to_be_bytes()[..], enc(&chunk));
        }
        tree("holds")?.apply_batch(batch).map_err(err)?;
        // Durable before `meta` may name it.
        self.sync()?;
        let meta = SnapshotMeta {
            generation,
            seq,
            next_order: world.next_order_no(),
            taken_at,
        };
        let _switching = self.switch.write().unwrap_or_else(|p| p.into_inner());
        self.db
            .insert("format", enc(&SNAPSHOT_FORMAT))
            .map_err(err)?;
        self.db.insert("current", enc(&meta)).map_err(err)?;
        if let Some(old) = previous {
            for part in PARTS {
                self.db
                    .drop_tree(tree_name(old.generation, part))
                    .map_err(err)?;
            }
        }
        // Durable before the caller deletes the journal segments it covers.
        self.sync()?;
        Ok(meta)
    }

    /// One order as the current snapshot holds it (passivated orders are
    /// read back from here).
    pub fn order(&self, no: OrderNo) -> Result<Option<OrderState>, String> {
        let _reading = self.switch.read().unwrap_or_else(|p| p.into_inner());
        let Some(meta) = self.meta()? else {
            return Ok(None);
        };
        let tree = self
            .db
            .open_tree(tree_name(meta.generation, "orders"))
            .map_err(err)?;
        match tree.get((no.0 / ORDER_CHUNK).to_be_bytes()).map_err(err)? {
            Some(v) => {
                let chunk: Vec<OrderState> = dec(&v, "orders")?;
                Ok(chunk.into_iter().find(|o| o.no() == no))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod cell_layout_tests {
    use super::*;
    use orch_actors::hold::{HoldLine, HoldNo};

    /// Held units are not in a cell's serialized form (the hold records
    /// are their source of truth), so a snapshot written by the builds
    /// before holds decodes, and a cell holding units encodes exactly as
    /// it did before.
    #[test]
    fn a_cell_snapshot_keeps_the_layout_before_holds() {
        let plain = CellState::new(10, 1);
        let before = enc(&plain);
        let mut holding = plain.clone();
        holding.restore_held(
            HoldLine {
                hold: HoldNo(7),
                line: 0,
            },
            4,
        );
        assert_eq!(holding.available(), 5);
        assert_eq!(
            enc(&holding),
            before,
            "held units add nothing to the layout"
        );
        let back: CellState = dec(&before, "cells").unwrap();
        assert_eq!(back, plain);
        assert_eq!(back.held(), 0);
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    /// A store written in another format is refused by name, never read.
    #[test]
    fn a_store_in_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        let cfg = orch_config::Config::with_network(orch_config::Network {
            facilities: Vec::new(),
            skus: Vec::new(),
            stock: Vec::new(),
        });
        let world = World::new(&cfg, 0);
        store.write(&world, &[], &[], 7, 0).unwrap();
        assert_eq!(store.meta().unwrap().map(|m| m.seq), Some(7));
        for older in [Some(1u32), None] {
            match older {
                Some(f) => store.db.insert("format", enc(&f)).unwrap(),
                None => store.db.remove("format").unwrap(),
            };
            let e = store.meta().unwrap_err();
            assert!(
                e.contains("snapshot format 1, this build reads format 2"),
                "{e}"
            );
            assert!(store.load().is_err());
        }
    }
}
