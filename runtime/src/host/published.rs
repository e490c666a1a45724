//! The view published for readers outside the shards: availability per
//! cell and a board per facility, written by the owning shard once per
//! tick and read lock-free (atomics; cells created after start behind a
//! lock) by routing at admission and by the availability API. Like the engine's view it may lag the cells by a
//! tick; the cells' answers are the truth.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::RwLock;

use orch_actors::{CellKey, FacilityIdx};
use orch_engine::view::{Board, View, ViewUpdate};

/// `disabled_until` of a board with no closure end.
const NO_END: u64 = u64::MAX;

#[derive(Debug)]
struct BoardSlot {
    enabled: AtomicBool,
    disabled_until: AtomicU64,
    capacity_used_bits: AtomicU64,
}

impl BoardSlot {
    fn new(b: &Board) -> BoardSlot {
        let slot = BoardSlot {
            enabled: AtomicBool::new(false),
            disabled_until: AtomicU64::new(NO_END),
            capacity_used_bits: AtomicU64::new(0),
        };
        slot.store(b);
        slot
    }

    fn store(&self, b: &Board) {
        self.enabled.store(b.enabled, Ordering::Release);
        self.disabled_until
            .store(b.disabled_until.unwrap_or(NO_END), Ordering::Release);
        self.capacity_used_bits
            .store(b.capacity_used.to_bits(), Ordering::Release);
    }

    fn load(&self) -> Board {
        let until = self.disabled_until.load(Ordering::Acquire);
        Board {
            enabled: self.enabled.load(Ordering::Acquire),
            disabled_until: (until != NO_END).then_some(until),
            capacity_used: f64::from_bits(self.capacity_used_bits.load(Ordering::Acquire)),
        }
    }
}

/// Availability and boards as the shards last published them.
#[derive(Debug)]
pub struct PublishedView {
    /// Dense slot of every cell that existed at start.
    index: HashMap<CellKey, usize>,
    available: Vec<AtomicU32>,
    /// Cells created after start (a receipt or count at a cell the
    /// network did not stock), behind a lock: rare, and read only when a
    /// key is not in `index`.
    late: RwLock<HashMap<CellKey, u32>>,
    boards: Vec<BoardSlot>,
}

impl PublishedView {
    /// A view of these cells and boards (every cell that exists now;
    /// cells created later are published as they appear).
    pub fn new(cells: impl IntoIterator<Item = (CellKey, u32)>, boards: &[Board]) -> PublishedView {
        let mut index = HashMap::new();
        let mut available = Vec::new();
        for (k, a) in cells {
            index.insert(k, available.len());
            available.push(AtomicU32::new(a));
        }
        PublishedView {
            index,
            available,
            late: RwLock::new(HashMap::new()),
            boards: boards.iter().map(BoardSlot::new).collect(),
        }
    }

    /// Units available at a cell as last published (`None`: no such cell).
    pub fn available(&self, key: CellKey) -> Option<u32> {
        match self.index.get(&key) {
            Some(&i) => Some(self.available[i].load(Ordering::Acquire)),
            None => self.late_cells().get(&key).copied(),
        }
    }

    fn late_cells(&self) -> std::sync::RwLockReadGuard<'_, HashMap<CellKey, u32>> {
        // A writer never panics holding the lock; a poisoned map is whole.
        self.late.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A facility's board as last published (`None`: unknown index).
    pub fn board(&self, f: FacilityIdx) -> Option<Board> {
        self.boards.get(usize::from(f.0)).map(BoardSlot::load)
    }

    /// Number of facilities.
    pub fn facilities(&self) -> usize {
        self.boards.len()
    }

    /// Number of cells.
    pub fn cells(&self) -> usize {
        self.available.len() + self.late_cells().len()
    }

    /// The engine's view of everything published (a shard's replica).
    pub fn to_view(&self) -> View {
        let boards = self.boards.iter().map(BoardSlot::load).collect();
        let cells = self
            .index
            .iter()
            .map(|(k, &i)| (*k, self.available[i].load(Ordering::Acquire)))
            .chain(self.late_cells().iter().map(|(k, &a)| (*k, a)))
            .collect::<Vec<_>>();
        View::new(boards, cells)
    }

    /// Publishes one tick's update and returns what actually changed (for
    /// the other shards' replicas). Only the owning shard writes a cell or
    /// board, so comparing with the published value is exact.
    pub fn apply(&self, update: &ViewUpdate) -> ViewUpdate {
        let mut changed = ViewUpdate::default();
        for &(k, a) in &update.cells {
            let before = match self.index.get(&k) {
                Some(&i) => Some(self.available[i].swap(a, Ordering::AcqRel)),
                None => {
                    let mut late = self.late.write().unwrap_or_else(|e| e.into_inner());
                    late.insert(k, a)
                }
            };
            if before != Some(a) {
                changed.cells.push((k, a));
            }
        }
        for &(f, b) in &update.boards {
            if let Some(slot) = self.boards.get(usize::from(f.0)) {
                if slot.load() != b {
                    slot.store(&b);
                    changed.boards.push((f, b));
                }
            }
        }
        changed
    }
}
