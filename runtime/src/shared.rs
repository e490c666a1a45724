//! What every actor shell and the facade share: the catalog, the views, the
//! router, and the registry that activates an actor on its first message.
//!
//! Placement: every actor lives on one of N actix arbiters (one per core by
//! default), chosen by a hash of its key, so one key's messages are always
//! handled by one thread and different keys spread over all of them.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use actix::prelude::*;
use dashmap::DashMap;
use orch_actors::backorder::DeskState;
use orch_actors::cell::CellState;
use orch_actors::facility::Wave;
use orch_actors::order::OrderState;
use orch_actors::routing::{FacilityInfo, Router};
use orch_actors::{CellKey, FacilityIdx, OrderNo, SkuIdx};
use orch_config::{Config, Limits};

use crate::catalog::Catalog;
use crate::persist::snapshot::SnapshotStore;
use crate::persist::Durability;
use crate::shell::cell::CellActor;
use crate::shell::desk::{DeskActor, Drain, DrainScope};
use crate::shell::facility::FacilityActor;
use crate::shell::order::OrderActor;
use crate::view::{AvailabilityView, CellCounts, FacilityBoard};

/// A released wave as announced to subscribers (the warehouse simulator).
#[derive(Debug, Clone)]
pub struct WaveAnnouncement {
    /// Facility index.
    pub facility: FacilityIdx,
    /// The wave.
    pub wave: Wave,
}

/// State shared by the actors and the facade.
pub struct Shared {
    /// Ids and indices.
    pub catalog: Arc<Catalog>,
    /// Cells' published counts.
    pub view: AvailabilityView,
    /// Facilities' published routing state, by index.
    pub boards: Vec<FacilityBoard>,
    /// The routing planner.
    pub router: Router,
    /// Static facility facts for routing, by index.
    pub facility_infos: Vec<FacilityInfo>,
    /// Request limits.
    pub limits: Limits,
    /// Mailbox capacity of every actor.
    pub mailbox_capacity: usize,
    /// Wave tick period.
    pub wave_tick_ms: u64,
    /// Lines waiting per SKU (published by desks).
    pub desk_waiting: DashMap<SkuIdx, usize>,
    /// Fire-and-forget messages not yet handled (for `quiesce`).
    pub pending: AtomicI64,
    /// Released waves, for subscribers.
    pub waves: tokio::sync::broadcast::Sender<Arc<WaveAnnouncement>>,
    arbiters: Vec<ArbiterHandle>,
    /// Cell states not yet activated as actors (recovered or configured).
    dormant: DashMap<CellKey, CellState>,
    /// The journal.
    pub durability: Arc<Durability>,
    cells: DashMap<CellKey, Addr<CellActor>>,
    desks: DashMap<SkuIdx, Addr<DeskActor>>,
    /// Orders by number.
    pub orders: DashMap<OrderNo, Addr<OrderActor>>,
    /// Orders recovered but not activated yet: an actor starts on the first
    /// message (recovery does not start a million actors).
    pub dormant_orders: DashMap<OrderNo, OrderState>,
    /// Where passivated orders are read back from.
    pub passive: std::sync::Mutex<Option<SnapshotStore>>,
    /// Order numbers by client id.
    pub order_ids: DashMap<Arc<str>, OrderNo>,
    /// Client ids by order number.
    pub order_names: DashMap<OrderNo, Arc<str>>,
    next_order: AtomicU64,
    facilities: std::sync::OnceLock<Vec<Addr<FacilityActor>>>,
}

fn slot<K: Hash>(key: &K, n: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    (h.finish() % n as u64) as usize
}

impl Shared {
    /// Builds the shared state for a config on these arbiters, with the cell
    /// states recovery reached (or the configured starting stock), and
    /// publishes them to the availability view, so routing sees stock before
    /// any cell actor exists.
    pub fn new(
        cfg: &Config,
        arbiters: Vec<ArbiterHandle>,
        durability: Arc<Durability>,
        cells: HashMap<CellKey, CellState>,
        next_order: u64,
    ) -> Shared {
        let catalog = Arc::new(Catalog::new(&cfg.network));
        let view = AvailabilityView::default();
        let dormant = DashMap::with_capacity(cells.len());
        for (key, cell) in cells {
            view.publish(
                key,
                CellCounts {
                    on_hand: cell.on_hand(),
                    reserved: cell.reserved(),
                    available: cell.available(),
                },
            );
            dormant.insert(key, cell);
        }
        let facility_infos = FacilityInfo::all(&cfg.network.facilities);
        let boards = cfg
            .network
            .facilities
            .iter()
            .map(|f| {
                let b = FacilityBoard::default();
                b.enabled.store(f.enabled, Ordering::Release);
                b.capacity_left
                    .store(f.capacity_per_hour, Ordering::Release);
                b
            })
            .collect();
        Shared {
            catalog,
            view,
            boards,
            router: Router::new(&cfg.routing, &cfg.network.facilities),
            facility_infos,
            limits: cfg.limits,
            mailbox_capacity: cfg.runtime.mailbox_capacity.max(16) as usize,
            wave_tick_ms: cfg.runtime.wave_tick_ms.max(1),
            desk_waiting: DashMap::new(),
            pending: AtomicI64::new(0),
            waves: tokio::sync::broadcast::channel(4096).0,
            arbiters,
            dormant,
            durability,
            cells: DashMap::new(),
            desks: DashMap::new(),
            orders: DashMap::new(),
            dormant_orders: DashMap::new(),
            passive: std::sync::Mutex::new(None),
            order_ids: DashMap::new(),
            order_names: DashMap::new(),
            next_order: AtomicU64::new(next_order.max(1)),
            facilities: std::sync::OnceLock::new(),
        }
    }

    /// The arbiter a key lives on.
    pub fn arbiter_for<K: Hash>(&self, key: &K) -> &ArbiterHandle {
        &self.arbiters[slot(key, self.arbiters.len())]
    }

    /// Every arbiter.
    pub fn arbiters(&self) -> &[ArbiterHandle] {
        &self.arbiters
    }

    /// The cell actor of `key`, activated on first use with its configured
    /// starting stock (or empty).
    pub fn cell(self: &Arc<Self>, key: CellKey) -> Addr<CellActor> {
        if let Some(a) = self.cells.get(&key) {
            return a.clone();
        }
        self.cells
            .entry(key)
            .or_insert_with(|| {
                let state = self
                    .dormant
                    .remove(&key)
                    .map(|(_, s)| s)
                    .unwrap_or_default();
                let shared = self.clone();
                let cap = self.mailbox_capacity;
                CellActor::start_in_arbiter(self.arbiter_for(&key), move |ctx| {
                    ctx.set_mailbox_capacity(cap);
                    CellActor::new(key, state, shared)
                })
            })
            .clone()
    }

    /// The cell actor of `key` if it was ever activated.
    pub fn existing_cell(&self, key: CellKey) -> Option<Addr<CellActor>> {
        self.cells.get(&key).map(|a| a.clone())
    }

    /// Cells not activated yet, with their states (audit).
    pub fn dormant_cells(&self) -> Vec<(CellKey, CellState)> {
        self.dormant
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    /// Every activated cell.
    pub fn cells(&self) -> Vec<(CellKey, Addr<CellActor>)> {
        self.cells
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    /// The backorder desk of `sku`, activated on first use.
    pub fn desk(self: &Arc<Self>, sku: SkuIdx) -> Addr<DeskActor> {
        if let Some(a) = self.desks.get(&sku) {
            return a.clone();
        }
        self.desks
            .entry(sku)
            .or_insert_with(|| {
                let shared = self.clone();
                let cap = self.mailbox_capacity;
                DeskActor::start_in_arbiter(self.arbiter_for(&sku), move |ctx| {
                    ctx.set_mailbox_capacity(cap);
                    DeskActor::new(sku, shared)
                })
            })
            .clone()
    }

    /// Starts the desk of `sku` with a recovered queue.
    pub fn restore_desk(self: &Arc<Self>, sku: SkuIdx, state: DeskState) {
        let shared = self.clone();
        let cap = self.mailbox_capacity;
        self.desk_waiting.insert(sku, state.waiting());
        let addr = DeskActor::start_in_arbiter(self.arbiter_for(&sku), move |ctx| {
            ctx.set_mailbox_capacity(cap);
            DeskActor::with_state(sku, state, shared)
        });
        self.desks.insert(sku, addr);
    }

    /// The actor of order `no`, activated from its dormant or passivated
    /// state if it has none; `None` when no such order exists. Activation
    /// holds the registry entry, so one order never gets two actors.
    pub fn order_addr(self: &Arc<Self>, no: OrderNo) -> Result<Option<Addr<OrderActor>>, String> {
        if let Some(a) = self.orders.get(&no) {
            return Ok(Some(a.clone()));
        }
        match self.orders.entry(no) {
            dashmap::Entry::Occupied(e) => Ok(Some(e.get().clone())),
            dashmap::Entry::Vacant(v) => {
                let state = match self.dormant_orders.remove(&no) {
                    Some((_, s)) => Some(s),
                    None => {
                        let store = self.passive.lock().ok().and_then(|s| s.clone());
                        store.map(|st| st.order(no)).transpose()?.flatten()
                    }
                };
                let Some(state) = state else {
                    return Ok(None);
                };
                let shared = self.clone();
                let cap = self.mailbox_capacity;
                let addr = OrderActor::start_in_arbiter(self.arbiter_for(&no), move |ctx| {
                    ctx.set_mailbox_capacity(cap);
                    OrderActor::resume(state, shared)
                });
                v.insert(addr.clone());
                Ok(Some(addr))
            }
        }
    }

    /// Every activated desk.
    pub fn desks(&self) -> Vec<(SkuIdx, Addr<DeskActor>)> {
        self.desks
            .iter()
            .map(|e| (*e.key(), e.value().clone()))
            .collect()
    }

    /// The client id of order `no`, when it is known here.
    pub fn order_name(&self, no: OrderNo) -> Option<Arc<str>> {
        self.order_names.get(&no).map(|n| n.clone())
    }

    /// Lines waiting for `sku`.
    pub fn waiting(&self, sku: SkuIdx) -> usize {
        self.desk_waiting.get(&sku).map_or(0, |w| *w)
    }

    /// Stock became available at a cell (a release, a cycle count up): if
    /// lines wait for its SKU, the desk offers it to them.
    pub fn stock_freed(self: &Arc<Self>, key: CellKey) {
        if self.waiting(key.sku) > 0 {
            self.pending.fetch_add(1, Ordering::AcqRel);
            crate::metrics::sending(crate::metrics::ActorKind::Desk);
            self.desk(key.sku)
                .do_send(Drain(DrainScope::Facility(key.facility)));
        }
    }

    /// Offers every available unit of `sku` to its waiting lines (after recovery).
    pub fn drain_all(self: &Arc<Self>, sku: SkuIdx) {
        if self.waiting(sku) > 0 {
            self.pending.fetch_add(1, Ordering::AcqRel);
            crate::metrics::sending(crate::metrics::ActorKind::Desk);
            self.desk(sku).do_send(Drain(DrainScope::All));
        }
    }

    /// Next internal order number.
    pub fn next_order_no(&self) -> OrderNo {
        OrderNo(self.next_order.fetch_add(1, Ordering::Relaxed))
    }

    /// Sets the facility actors (once, at start).
    pub fn set_facilities(&self, addrs: Vec<Addr<FacilityActor>>) {
        let _ = self.facilities.set(addrs);
    }

    /// The facility actor of an index.
    pub fn facility(&self, f: FacilityIdx) -> &Addr<FacilityActor> {
        &self.facilities.get().expect("facilities started")[usize::from(f.0)]
    }

    /// Every facility actor.
    pub fn facilities(&self) -> &[Addr<FacilityActor>] {
        self.facilities.get().map_or(&[], Vec::as_slice)
    }

    /// Facility facts for routing at `now`.
    pub fn routing_infos(&self, now: u64) -> Vec<FacilityInfo> {
        self.facility_infos
            .iter()
            .zip(&self.boards)
            .map(|(i, b)| FacilityInfo {
                enabled: b.enabled_at(now),
                capacity_used: f64::from(b.capacity_used_ppm.load(Ordering::Relaxed)) / 1e6,
                ..*i
            })
            .collect()
    }

    /// Marks a fire-and-forget message handled.
    pub fn handled(&self) {
        self.pending.fetch_sub(1, Ordering::AcqRel);
    }
}
