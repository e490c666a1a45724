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
//! Orders are written as layers, so that a checkpoint writes what changed
//! and not every order ever placed. Each generation has whole trees of the
//! cells, desks, facilities, ids and holds (bounded by the network and the
//! configured limits), and an `orders` tree holding either every order (a
//! whole write) or only the chunks of orders that changed (a delta). The
//! root's `layers` key, written atomically with `current`, names the order
//! trees that make up the current snapshot, oldest first: a chunk's value
//! is the one in the newest layer that has it, and an empty chunk is a
//! tombstone. Before a delta is written, the older deltas are folded into
//! the base layer in place; that is safe at any point of a crash, because
//! the layers that still name those chunks are newer than the base and win.
//! So the current snapshot has at most two order layers.
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

/// Which orders a snapshot write covers.
#[derive(Debug, Clone, Copy)]
pub enum OrdersWritten<'a> {
    /// Every order of the world: a new base layer.
    All,
    /// Only these chunks (see [`chunk_of`]), as a delta layer over the
    /// current snapshot; the world holds every order of each of them.
    Chunks(&'a std::collections::BTreeSet<u64>),
}

/// What [`SnapshotStore::write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The new current meta record.
    pub meta: SnapshotMeta,
    /// Orders written (those in the chunks written).
    pub orders: usize,
}

/// The chunk an order is stored in.
pub fn chunk_of(no: OrderNo) -> u64 {
    no.0 / ORDER_CHUNK
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
    /// What the checkpoints remember from one to the next (and the lock
    /// that keeps two from running at once).
    memo: Arc<std::sync::Mutex<super::checkpoint::Memo>>,
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
/// plan; 3: order layers (the `layers` key; a format-2 store reads as one
/// layer, its generation's `orders` tree).
pub const SNAPSHOT_FORMAT: u32 = 3;

/// The oldest format this build reads.
pub const SNAPSHOT_FORMAT_MIN: u32 = 2;

/// The root key naming the order layers, oldest first.
const LAYERS_KEY: &str = "layers";

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
            memo: Arc::default(),
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
        if !(SNAPSHOT_FORMAT_MIN..=SNAPSHOT_FORMAT).contains(&format) {
            return Err(format!(
                "{}: snapshot format {format}, this build reads formats \
                 {SNAPSHOT_FORMAT_MIN} to {SNAPSHOT_FORMAT} \
                 (move the data directory aside to start empty)",
                self.dir.display()
            ));
        }
        dec(&v, "meta").map(Some)
    }

    /// The order trees of the snapshot `meta` names, oldest first.
    fn layers(&self, meta: &SnapshotMeta) -> Result<Vec<String>, String> {
        match self.db.get(LAYERS_KEY).map_err(err)? {
            Some(v) => dec(&v, "layers"),
            None => Ok(vec![tree_name(meta.generation, "orders")]),
        }
    }

    /// The current value of each order chunk, merged over the layers (the
    /// newest wins; tombstones are left out); `only` restricts it to those
    /// chunks.
    fn order_chunks(
        &self,
        meta: &SnapshotMeta,
        only: Option<&std::collections::BTreeSet<u64>>,
    ) -> Result<Vec<OrderState>, String> {
        let mut merged: std::collections::BTreeMap<u64, sled::IVec> = Default::default();
        for name in self.layers(meta)? {
            let tree = self.db.open_tree(&name).map_err(err)?;
            match only {
                None => {
                    for kv in tree.iter() {
                        let (k, v) = kv.map_err(err)?;
                        merged.insert(chunk_key(&k)?, v);
                    }
                }
                Some(chunks) => {
                    for &c in chunks {
                        if let Some(v) = tree.get(c.to_be_bytes()).map_err(err)? {
                            merged.insert(c, v);
                        }
                    }
                }
            }
        }
        let mut orders = Vec::new();
        for v in merged.values().filter(|v| !v.is_empty()) {
            let chunk: Vec<OrderState> = dec(v, "orders")?;
            orders.extend(chunk);
        }
        Ok(orders)
    }

    /// Loads the current snapshot.
    pub fn load(&self) -> Result<Option<Loaded>, String> {
        self.load_with(None)
    }

    /// Loads the current snapshot with only the orders of `chunks` (a
    /// delta checkpoint replays the journal onto those alone); every order
    /// when `None`.
    pub fn load_with(
        &self,
        chunks: Option<&std::collections::BTreeSet<u64>>,
    ) -> Result<Option<Loaded>, String> {
        let _reading = self.switch.read().unwrap_or_else(|p| p.into_inner());
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
        let orders = self.order_chunks(&meta, chunks)?;
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
    /// records up to `seq`, makes it current, and drops the trees no
    /// longer named.
    ///
    /// Cells, orders and ids are stored in chunks (thousands per sled
    /// value): one sled entry per actor made a BF-1 scale-1 snapshot take a
    /// minute to write and half a minute to load. With
    /// [`OrdersWritten::Chunks`] only those order chunks are written, as a
    /// delta layer over the current snapshot (see the module doc).
    pub fn write(
        &self,
        world: &World,
        receipts: &[Arc<str>],
        adjustments: &[Arc<str>],
        seq: u64,
        taken_at: u64,
        orders: OrdersWritten<'_>,
    ) -> Result<Written, String> {
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
        let delta_over = match (orders, &previous) {
            (OrdersWritten::Chunks(_), Some(p)) => Some(self.fold_deltas(p)?),
            _ => None,
        };
        let written = self.write_orders(world, &tree("orders")?, orders)?;
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
        let mut layers: Vec<String> = delta_over.into_iter().collect();
        layers.push(tree_name(generation, "orders"));
        let _switching = self.switch.write().unwrap_or_else(|p| p.into_inner());
        let mut root = sled::Batch::default();
        root.insert("format", enc(&SNAPSHOT_FORMAT));
        root.insert("current", enc(&meta));
        root.insert(LAYERS_KEY, enc(&layers));
        self.db.apply_batch(root).map_err(err)?;
        let live: std::collections::BTreeSet<String> = PARTS
            .iter()
            .map(|p| tree_name(generation, p))
            .chain(layers.iter().cloned())
            .collect();
        for name in self.db.tree_names() {
            let name = String::from_utf8_lossy(&name).into_owned();
            if name.starts_with('g') && name.contains('-') && !live.contains(&name) {
                self.db.drop_tree(name.as_bytes()).map_err(err)?;
            }
        }
        // Durable before the caller deletes the journal segments it covers.
        self.sync()?;
        Ok(Written {
            meta,
            orders: written,
        })
    }

    /// Folds the delta layers of the snapshot `meta` names into its base
    /// layer, in place, and answers the base layer's name. Safe at any
    /// point of a crash: until the root names other layers, the deltas,
    /// newer than the base, still win for every chunk this changes.
    fn fold_deltas(&self, meta: &SnapshotMeta) -> Result<String, String> {
        let layers = self.layers(meta)?;
        let base = self.db.open_tree(&layers[0]).map_err(err)?;
        for name in &layers[1..] {
            let delta = self.db.open_tree(name).map_err(err)?;
            let mut batch = sled::Batch::default();
            for kv in delta.iter() {
                let (k, v) = kv.map_err(err)?;
                if v.is_empty() {
                    batch.remove(k);
                } else {
                    batch.insert(k, v);
                }
            }
            base.apply_batch(batch).map_err(err)?;
        }
        Ok(layers[0].clone())
    }

    /// Writes the order chunks `which` names into `tree` (an emptied chunk
    /// as a tombstone); answers the orders written.
    fn write_orders(
        &self,
        world: &World,
        tree: &sled::Tree,
        which: OrdersWritten<'_>,
    ) -> Result<usize, String> {
        let mut by_chunk: std::collections::BTreeMap<u64, Vec<&OrderState>> = Default::default();
        if let OrdersWritten::Chunks(chunks) = which {
            for &c in chunks {
                by_chunk.insert(c, Vec::new());
            }
        }
        for (no, o) in &world.orders {
            let c = chunk_of(*no);
            if matches!(which, OrdersWritten::Chunks(chunks) if !chunks.contains(&c)) {
                continue;
            }
            by_chunk.entry(c).or_default().push(o);
        }
        let mut batch = sled::Batch::default();
        let mut written = 0;
        for (c, orders) in &by_chunk {
            written += orders.len();
            let value = if orders.is_empty() {
                Vec::new()
            } else {
                enc(orders)
            };
            batch.insert(&c.to_be_bytes()[..], value);
        }
        tree.apply_batch(batch).map_err(err)?;
        Ok(written)
    }

    /// One order as the current snapshot holds it (passivated orders are
    /// read back from here): from the newest layer that has its chunk.
    pub fn order(&self, no: OrderNo) -> Result<Option<OrderState>, String> {
        let _reading = self.switch.read().unwrap_or_else(|p| p.into_inner());
        let Some(meta) = self.meta()? else {
            return Ok(None);
        };
        for name in self.layers(&meta)?.iter().rev() {
            let tree = self.db.open_tree(name).map_err(err)?;
            if let Some(v) = tree.get(chunk_of(no).to_be_bytes()).map_err(err)? {
                if v.is_empty() {
                    return Ok(None);
                }
                let chunk: Vec<OrderState> = dec(&v, "orders")?;
                return Ok(chunk.into_iter().find(|o| o.no() == no));
            }
        }
        Ok(None)
    }

    /// What the checkpoints remember from one to the next; holding it keeps
    /// a second checkpoint from running at once.
    pub(crate) fn memo(&self) -> std::sync::MutexGuard<'_, super::checkpoint::Memo> {
        self.memo.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An order chunk's number from its sled key.
fn chunk_key(key: &[u8]) -> Result<u64, String> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| "snapshot orders: a chunk key is not 8 bytes".to_string())
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

    fn empty_world() -> World {
        let cfg = orch_config::Config::with_network(orch_config::Network {
            facilities: Vec::new(),
            skus: Vec::new(),
            stock: Vec::new(),
        });
        World::new(&cfg, 0)
    }

    /// A store written in another format is refused by name, never read;
    /// a format-2 store (one order layer, no `layers` key) is read.
    #[test]
    fn a_store_in_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(dir.path()).unwrap();
        let world = empty_world();
        store
            .write(&world, &[], &[], 7, 0, OrdersWritten::All)
            .unwrap();
        assert_eq!(store.meta().unwrap().map(|m| m.seq), Some(7));
        for other in [Some(1u32), None, Some(SNAPSHOT_FORMAT + 1)] {
            match other {
                Some(f) => store.db.insert("format", enc(&f)).unwrap(),
                None => store.db.remove("format").unwrap(),
            };
            let e = store.meta().unwrap_err();
            let f = other.unwrap_or(1);
            assert!(
                e.contains(&format!(
                    "snapshot format {f}, this build reads formats 2 to 3"
                )),
                "{e}"
            );
            assert!(store.load().is_err());
        }
        store.db.insert("format", enc(&2u32)).unwrap();
        store.db.remove(LAYERS_KEY).unwrap();
        let loaded = store.load().unwrap().expect("a format-2 snapshot loads");
        assert_eq!(loaded.meta.seq, 7);
    }
}
