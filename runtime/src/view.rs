//! The read-only views other parts read without touching any mailbox.
//!
//! Cells publish their counts after every change, facilities their routing
//! state; the router and the availability API read these. A view may lag
//! the actor by a message; the actor's answer is always the truth.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use dashmap::DashMap;
use orch_actors::{CellKey, FacilityIdx, SkuIdx};

/// What a cell last published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CellCounts {
    /// On hand.
    pub on_hand: u32,
    /// Reserved.
    pub reserved: u32,
    /// Available to new reservations.
    pub available: u32,
}

/// Availability of every cell that exists, by (sku, facility).
#[derive(Debug, Default)]
pub struct AvailabilityView {
    cells: DashMap<CellKey, CellCounts>,
}

impl AvailabilityView {
    /// Publishes a cell's counts.
    pub fn publish(&self, key: CellKey, counts: CellCounts) {
        self.cells.insert(key, counts);
    }

    /// A cell's last counts (`None`: the cell does not exist).
    pub fn get(&self, key: CellKey) -> Option<CellCounts> {
        self.cells.get(&key).map(|c| *c)
    }

    /// Units available at a cell (0 when it does not exist).
    pub fn available(&self, sku: SkuIdx, facility: FacilityIdx) -> u32 {
        self.cells
            .get(&CellKey { sku, facility })
            .map_or(0, |c| c.available)
    }

    /// Number of cells that exist.
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether no cell exists.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

/// What a facility last published, read by the router and the API.
#[derive(Debug, Default)]
pub struct FacilityBoard {
    /// Routing may use it.
    pub enabled: AtomicBool,
    /// Closure end, ms since epoch (0: none).
    pub disabled_until: AtomicU64,
    /// Share of this hour's capacity used, in millionths.
    pub capacity_used_ppm: AtomicU32,
    /// Capacity left this hour.
    pub capacity_left: AtomicU32,
    /// Fulfillments waiting for a wave.
    pub queued: AtomicU32,
    /// Waves released and not finished.
    pub open_waves: AtomicU32,
    /// Fulfillments released today.
    pub released_today: AtomicU32,
}

impl FacilityBoard {
    /// Whether routing may use it at `now`.
    pub fn enabled_at(&self, now: u64) -> bool {
        self.enabled.load(Ordering::Acquire) || {
            let until = self.disabled_until.load(Ordering::Acquire);
            until != 0 && now >= until
        }
    }
}
