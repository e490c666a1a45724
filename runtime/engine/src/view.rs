//! What shards publish once per tick for others to read: availability per
//! cell and a board per facility. Routing and desks read it to choose
//! where to ask; the cells' answers are the truth, so a stale view costs a
//! wasted round, never a wrong reservation.
//!
//! A shard reads its own cells and facilities live and everything else
//! from the last published [`View`]. The serial driver applies each tick's
//! [`ViewUpdate`] to one `View`; a threaded runtime can publish the same
//! updates into lock-free slots.

use std::collections::HashMap;

use orch_actors::{CellKey, FacilityIdx};
use orch_config::Millis;

/// A facility as routing sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Board {
    /// Enabled when published.
    pub enabled: bool,
    /// When a temporary closure ends (enabled from then on).
    pub disabled_until: Option<Millis>,
    /// Share of this hour's capacity used.
    pub capacity_used: f64,
}

impl Board {
    /// Whether routing may use the facility at `now`.
    pub fn enabled_at(&self, now: Millis) -> bool {
        self.enabled || self.disabled_until.is_some_and(|u| now >= u)
    }
}

/// The published availability and boards.
#[derive(Debug, Clone, Default)]
pub struct View {
    available: HashMap<CellKey, u32>,
    boards: Vec<Board>,
}

impl View {
    /// A view with these boards and availabilities.
    pub fn new(boards: Vec<Board>, available: impl IntoIterator<Item = (CellKey, u32)>) -> View {
        View {
            available: available.into_iter().collect(),
            boards,
        }
    }

    /// Units available at a cell, as last published (0 if never).
    pub fn available(&self, key: CellKey) -> u32 {
        self.available.get(&key).copied().unwrap_or(0)
    }

    /// A facility's board (`None` for an unknown index).
    pub fn board(&self, f: FacilityIdx) -> Option<&Board> {
        self.boards.get(usize::from(f.0))
    }

    /// How many facilities there are.
    pub fn facilities(&self) -> usize {
        self.boards.len()
    }

    /// Applies one tick's update.
    pub fn apply(&mut self, update: &ViewUpdate) {
        for &(k, a) in &update.cells {
            self.available.insert(k, a);
        }
        for &(f, b) in &update.boards {
            if let Some(slot) = self.boards.get_mut(usize::from(f.0)) {
                *slot = b;
            }
        }
    }
}

/// What changed in one tick: the cells and facilities it touched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewUpdate {
    /// (cell, available) for every cell touched.
    pub cells: Vec<(CellKey, u32)>,
    /// Boards of facilities touched.
    pub boards: Vec<(FacilityIdx, Board)>,
}

impl ViewUpdate {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.boards.is_empty()
    }
}

/// The facility a new order's router ranks first, stock aside, with each
/// facility's status and load taken from `board` at `now` (`infos` is
/// updated in place). Where a new order is numbered: its first choice's
/// shard, so most orders reserve without leaving it.
pub fn first_choice(
    router: &orch_actors::routing::Router,
    infos: &mut [orch_actors::routing::FacilityInfo],
    req: &orch_actors::order::PlaceRequest,
    now: Millis,
    board: impl Fn(FacilityIdx) -> Option<Board>,
) -> Option<FacilityIdx> {
    for info in infos.iter_mut() {
        let b = board(info.idx);
        info.enabled = b.as_ref().is_some_and(|b| b.enabled_at(now));
        info.capacity_used = b.map_or(0.0, |b| b.capacity_used);
    }
    let plan = router.plan(
        &orch_actors::routing::RouteRequest {
            lines: &[],
            lat: req.lat,
            lon: req.lon,
            service_level: req.service_level,
            channel: &req.channel,
        },
        infos,
        now,
        |_, _| 0,
    );
    plan.candidates.first().map(|c| c.facility)
}
