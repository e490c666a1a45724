//! A shard: many actors, one thread, one tick at a time.
//!
//! A `Shard` owns the state machines of the actors [`crate::ownership`]
//! gives it: orders, the stock cells and facilities of its facilities, and
//! desks. Each actor handles its messages one at a time and shares nothing;
//! an actor waiting for an answer (an order placing, a desk serving) keeps
//! the messages that arrive meanwhile and handles them afterwards, in
//! order, as an atomic actix handler would.
//!
//! [`Shard::tick`] takes up to `tick_max` messages (peer batches first:
//! they finish work already admitted), runs them and everything they cause
//! on this shard, fires the facilities' timers when `now` moved, and
//! returns one [`TickOutput`]: the tick's journal entries (one
//! `append_batch`), one batch per destination shard, the replies (to be
//! released only once the entries are durable), the view update and the
//! waves its timers released.
//!
//! A shard never reads the wall clock, sleeps, spawns, blocks or sends
//! anything itself: time comes in as `now`, and everything that leaves it
//! is in the `TickOutput`. Admission is [`Shard::offer`]: a full inbox
//! answers [`Overloaded`], never a longer queue.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use orch_actors::backorder::DeskState;
use orch_actors::cell::CellState;
use orch_actors::facility::{FacilityState, Wave};
use orch_actors::hold::{HoldNo, HoldRequest, HoldState};
use orch_actors::log::LogEntry;
use orch_actors::order::OrderState;
use orch_actors::placement::Placement;
use orch_actors::routing::{FacilityInfo, Router};
use orch_actors::{CellKey, FacilityIdx, LineRef, OrderNo, SkuIdx};
use orch_config::{Config, Millis};

use crate::msg::{ActorRef, Envelope, Msg, Reply, RequestId};
use crate::ownership::{Ownership, ShardIdx};
use crate::seen::SeenIds;
use crate::view::{Board, View, ViewUpdate};

/// The inbox is full: try again later. Nothing was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overloaded;

impl std::fmt::Display for Overloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("overloaded: the shard's inbox is full")
    }
}

impl std::error::Error for Overloaded {}

/// Bounds of one shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardLimits {
    /// Most messages from outside waiting in the inbox.
    pub inbox_max: usize,
    /// Most inbox and peer messages taken in one tick.
    pub tick_max: usize,
    /// Receipt and adjustment ids remembered per shard (oldest forgotten
    /// first): a retry older than this many newer ids applies again.
    pub seen_ids_max: usize,
}

impl Default for ShardLimits {
    /// 65,536 waiting, 1,024 per tick, 1,000,000 ids remembered.
    fn default() -> Self {
        ShardLimits {
            inbox_max: 65_536,
            tick_max: 1_024,
            seen_ids_max: 1_000_000,
        }
    }
}

/// Everything one tick produced.
#[derive(Debug, Clone, Default)]
pub struct TickOutput {
    /// The tick's journal entries, in order: one `append_batch`.
    pub entries: Vec<LogEntry>,
    /// One batch per destination shard, in sending order.
    pub outbound: Vec<(ShardIdx, Vec<Envelope>)>,
    /// Answers to requests from outside; release once `entries` are durable.
    pub replies: Vec<Reply>,
    /// Availability and boards touched by the tick.
    pub view: ViewUpdate,
    /// Waves released by timers (size, max wait, cutoff).
    pub waves: Vec<Wave>,
    /// Messages taken from the inbox and peer batches.
    pub taken: usize,
    /// What the tick saw happen, for metrics.
    pub facts: crate::facts::TickFacts,
    /// Passivated orders a message is waiting for: the host reads each
    /// back from its snapshot store and delivers it as `Msg::Woken`.
    pub wake: Vec<OrderNo>,
}

/// An order actor: its state machine, a placement in progress, and the
/// messages that arrived while it placed.
#[derive(Debug)]
pub(crate) struct OrderActor {
    pub(crate) state: OrderState,
    pub(crate) placing: Option<Box<Placing>>,
    pub(crate) deferred: VecDeque<Msg>,
}

/// A placement waiting for the cells' answers.
#[derive(Debug)]
pub(crate) struct Placing {
    pub(crate) placement: Placement,
    pub(crate) lines: Vec<(SkuIdx, u32)>,
    pub(crate) placed: orch_actors::order::OrderEvent,
    pub(crate) reply: RequestId,
    /// When the pending reservation request was sent (stopwatch ns; 0
    /// without a stopwatch).
    pub(crate) sent_ns: u64,
    /// Routed line to order line, when some lines came from a hold.
    pub(crate) map: Option<Vec<u16>>,
    /// Lines taken from a hold, per facility (reserved already).
    pub(crate) taken: Vec<(FacilityIdx, Vec<u16>)>,
}

/// A hold actor: its record (once created), a placement in progress, and
/// the messages that arrived while it placed.
#[derive(Debug)]
pub(crate) struct HoldActor {
    pub(crate) state: Option<HoldState>,
    pub(crate) creating: Option<Box<HoldCreating>>,
    pub(crate) deferred: VecDeque<Msg>,
}

/// A hold's placement waiting for the cells' answers.
#[derive(Debug)]
pub(crate) struct HoldCreating {
    pub(crate) placement: Placement,
    pub(crate) request: HoldRequest,
    pub(crate) reply: RequestId,
}

/// What a desk waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeskWait {
    /// The cell's answer to an arrival.
    Arrive,
    /// The cell's answer to a drain.
    Drain,
    /// The cell's answer for one new line; `rest` are the next facilities to try.
    Serve {
        line: LineRef,
        qty: u32,
        rest: Vec<FacilityIdx>,
    },
}

/// A desk actor: its queue, what it waits for, and what arrived meanwhile.
#[derive(Debug)]
pub(crate) struct DeskActor {
    pub(crate) state: DeskState,
    pub(crate) wait: Option<DeskWait>,
    pub(crate) deferred: VecDeque<Msg>,
}

/// One shard of the engine; see the module doc.
#[derive(Debug)]
pub struct Shard {
    pub(crate) idx: ShardIdx,
    pub(crate) own: Ownership,
    pub(crate) limits: ShardLimits,
    pub(crate) router: Arc<Router>,
    /// Static facility data for routing (enabled and capacity filled per use).
    pub(crate) infos: Vec<FacilityInfo>,
    /// Boxed: a growing map moves pointers, not whole orders.
    pub(crate) orders: HashMap<OrderNo, Box<OrderActor>>,
    pub(crate) cells: HashMap<CellKey, CellState>,
    /// Facilities by index; `None` where another shard owns it.
    pub(crate) facilities: Vec<Option<FacilityState>>,
    pub(crate) desks: HashMap<SkuIdx, DeskActor>,
    pub(crate) holds: HashMap<HoldNo, Box<HoldActor>>,
    /// Active holds by expiry: the shard's clock releases them.
    pub(crate) expiries: BTreeSet<(Millis, HoldNo)>,
    /// Most active holds (`limits.holds_per_shard_max`).
    pub(crate) holds_max: usize,
    /// Longest TTL (`limits.hold_ttl_s_max`).
    pub(crate) hold_ttl_s_max: u32,
    /// Timeline entries an order keeps (`limits.order_events_max`).
    pub(crate) order_events_max: u32,
    pub(crate) receipts: SeenIds,
    pub(crate) adjustments: SeenIds,
    inbox: VecDeque<Envelope>,
    peer: VecDeque<Envelope>,
    local: VecDeque<Envelope>,
    pub(crate) now: Millis,
    pub(crate) timers_at: Millis,
    pub(crate) out: TickOutput,
    outbound: Vec<Vec<Envelope>>,
    touched_cells: Vec<CellKey>,
    touched_facilities: Vec<FacilityIdx>,
    /// Publish touched cells and boards in the view update (always with
    /// more than one shard; a lone shard only when a reader outside asks).
    publish: bool,
    /// Messages that found no actor to take them, or effects a state
    /// machine refused although they must hold: bugs, counted, never hidden.
    pub(crate) anomalies: Vec<String>,
    /// Messages waiting in the inbox and peer batches, by kind.
    waiting: [u32; 5],
    /// Orders that left memory (passivated): their state is in the
    /// host's snapshot store.
    pub(crate) passive: HashSet<OrderNo>,
    /// Messages for passivated orders being read back, in arrival order.
    pub(crate) waking: HashMap<OrderNo, VecDeque<Msg>>,
    /// Times routing and reservations when a host gives one.
    pub(crate) stopwatch: Option<crate::facts::Stopwatch>,
    /// No new order takes a number below this (restored: the snapshot's
    /// next number, which stays above orders forgotten since).
    pub(crate) order_floor: u64,
}

impl Shard {
    /// Shard `idx` of a cluster, with the configured network and stock it
    /// owns, at time `now`.
    pub fn new(
        cfg: &Config,
        own: Ownership,
        idx: ShardIdx,
        router: Arc<Router>,
        limits: ShardLimits,
        now: Millis,
    ) -> Shard {
        let net = &cfg.network;
        let infos = FacilityInfo::all(&net.facilities);
        let facilities = net
            .facilities
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let fi = FacilityIdx(i as u16);
                (own.facility(fi) == idx).then(|| FacilityState::new(fi, f, now))
            })
            .collect();
        let cells = net
            .stock
            .iter()
            .filter(|s| own.facility(FacilityIdx(s.facility)) == idx)
            .map(|s| {
                (
                    CellKey {
                        sku: SkuIdx(s.sku),
                        facility: FacilityIdx(s.facility),
                    },
                    CellState::new(s.on_hand, s.safety_stock),
                )
            })
            .collect();
        Shard {
            idx,
            own,
            limits,
            router,
            infos,
            orders: HashMap::new(),
            cells,
            facilities,
            desks: HashMap::new(),
            holds: HashMap::new(),
            expiries: BTreeSet::new(),
            holds_max: cfg.limits.holds_per_shard_max as usize,
            hold_ttl_s_max: cfg.limits.hold_ttl_s_max,
            order_events_max: cfg.limits.order_events_max,
            receipts: SeenIds::new(limits.seen_ids_max),
            adjustments: SeenIds::new(limits.seen_ids_max),
            inbox: VecDeque::new(),
            peer: VecDeque::new(),
            local: VecDeque::new(),
            now,
            timers_at: now,
            out: TickOutput::default(),
            outbound: vec![Vec::new(); own.shards()],
            touched_cells: Vec::new(),
            touched_facilities: Vec::new(),
            publish: own.shards() > 1,
            anomalies: Vec::new(),
            waiting: [0; 5],
            passive: HashSet::new(),
            waking: HashMap::new(),
            stopwatch: None,
            order_floor: 1,
        }
    }

    /// Time routing and reservation round trips with `clock` (a threaded
    /// host's; serial drivers give none and record no durations).
    pub fn set_stopwatch(&mut self, clock: crate::facts::Stopwatch) {
        self.stopwatch = Some(clock);
    }

    /// No new order may take a number below this.
    pub fn order_floor(&self) -> u64 {
        self.order_floor
    }

    /// The stopwatch's reading, 0 without one.
    pub(crate) fn lap(&self) -> u64 {
        self.stopwatch.map_or(0, |f| f())
    }

    /// Publish every touched cell and board in each tick's view update,
    /// even as the only shard (a threaded host publishes them for readers
    /// outside the engine, such as the availability API).
    pub fn publish_every_change(&mut self) {
        self.publish = true;
    }

    /// This shard's index.
    pub fn idx(&self) -> ShardIdx {
        self.idx
    }

    /// Admit a message from outside: `Overloaded` when the inbox is full
    /// (nothing queued then).
    pub fn offer(&mut self, env: Envelope) -> Result<(), Overloaded> {
        if self.inbox.len() >= self.limits.inbox_max {
            return Err(Overloaded);
        }
        self.waiting[crate::facts::kind_index(env.to)] += 1;
        self.inbox.push_back(env);
        Ok(())
    }

    /// Take a batch from another shard. Always accepted: it is work already
    /// admitted, and its volume is bounded by the admitted requests times
    /// the fan-out of one flow.
    pub fn deliver(&mut self, batch: Vec<Envelope>) {
        for env in &batch {
            self.waiting[crate::facts::kind_index(env.to)] += 1;
        }
        self.peer.extend(batch);
    }

    /// Room left in the inbox.
    pub fn room(&self) -> usize {
        self.limits.inbox_max.saturating_sub(self.inbox.len())
    }

    /// Messages waiting (inbox and peer batches).
    pub fn backlog(&self) -> usize {
        self.inbox.len() + self.peer.len()
    }

    /// Whether the next tick has anything to do at `now` (messages, or
    /// timers since the clock moved).
    pub fn has_work(&self, now: Millis) -> bool {
        self.backlog() > 0 || now > self.timers_at
    }

    /// Runs one tick at `now`; see the module doc. `view` is the last
    /// published view of the other shards' cells and facilities.
    pub fn tick(&mut self, now: Millis, view: &View) -> TickOutput {
        self.tick_up_to(now, view, self.limits.tick_max)
    }

    /// A tick that takes at most `max` messages (and at most `tick_max`).
    pub fn tick_up_to(&mut self, now: Millis, view: &View, max: usize) -> TickOutput {
        let max = max.clamp(1, self.limits.tick_max.max(1));
        self.now = self.now.max(now);
        if self.now > self.timers_at {
            self.timers_at = self.now;
            self.run_timers();
            self.drain_local(view);
        }
        // Sized for the usual two entries and one reply per message.
        let expect = max.min(self.backlog());
        self.out.entries.reserve(2 * expect);
        self.out.replies.reserve(expect);
        let mut taken = 0;
        while taken < max {
            let Some(env) = self.peer.pop_front().or_else(|| self.inbox.pop_front()) else {
                break;
            };
            taken += 1;
            let kind = crate::facts::kind_index(env.to);
            self.waiting[kind] = self.waiting[kind].saturating_sub(1);
            self.dispatch(env, view);
            self.drain_local(view);
        }
        self.finish_tick(taken)
    }

    fn drain_local(&mut self, view: &View) {
        while let Some(env) = self.local.pop_front() {
            self.dispatch(env, view);
        }
    }

    fn finish_tick(&mut self, taken: usize) -> TickOutput {
        let mut out = std::mem::take(&mut self.out);
        out.taken = taken;
        out.facts.waiting = self.waiting;
        for (shard, batch) in self.outbound.iter_mut().enumerate() {
            if !batch.is_empty() {
                out.outbound.push((shard, std::mem::take(batch)));
            }
        }
        self.touched_cells.sort_unstable();
        self.touched_cells.dedup();
        out.view.cells = self
            .touched_cells
            .drain(..)
            .map(|k| (k, self.cells.get(&k).map_or(0, CellState::available)))
            .collect();
        self.touched_facilities.sort_unstable();
        self.touched_facilities.dedup();
        let now = self.now;
        out.view.boards = self
            .touched_facilities
            .drain(..)
            .filter_map(|f| {
                self.facilities[usize::from(f.0)]
                    .as_ref()
                    .map(|s| (f, board_of(s, now)))
            })
            .collect();
        out
    }

    /// Sends a message: handled later in this tick when this shard owns the
    /// addressee, else batched for its shard.
    pub(crate) fn send(&mut self, to: ActorRef, msg: Msg) {
        let shard = self.own.shard_of(to);
        let env = Envelope { to, msg };
        if shard == self.idx {
            self.local.push_back(env);
        } else {
            self.outbound[shard].push(env);
        }
    }

    pub(crate) fn journal(&mut self, entry: LogEntry) {
        self.out.entries.push(entry);
    }

    pub(crate) fn reply(&mut self, id: RequestId, answer: crate::msg::Answer) {
        self.out.replies.push(Reply { id, answer });
    }

    /// A cell changed: publish it at the end of the tick (only read by
    /// other shards, so a lone shard publishes nothing unless asked).
    pub(crate) fn touch_cell(&mut self, key: CellKey) {
        if self.publish {
            self.touched_cells.push(key);
        }
    }

    /// A facility changed: publish its board at the end of the tick.
    pub(crate) fn touch_facility(&mut self, f: FacilityIdx) {
        if self.publish {
            self.touched_facilities.push(f);
        }
    }

    pub(crate) fn anomaly(&mut self, what: String) {
        self.anomalies.push(what);
    }

    /// Units available at a cell: live when this shard owns it, else as
    /// last published.
    pub(crate) fn available(&self, key: CellKey, view: &View) -> u32 {
        if self.own.facility(key.facility) == self.idx {
            self.cells.get(&key).map_or(0, CellState::available)
        } else {
            view.available(key)
        }
    }

    /// Whether a facility takes work at `now`: live when owned, else as published.
    pub(crate) fn enabled(&self, f: FacilityIdx, view: &View) -> bool {
        match self.facilities.get(usize::from(f.0)) {
            Some(Some(s)) => s.enabled_at(self.now),
            Some(None) => view.board(f).is_some_and(|b| b.enabled_at(self.now)),
            None => false,
        }
    }

    fn dispatch(&mut self, env: Envelope, view: &View) {
        self.out.facts.handled[crate::facts::kind_index(env.to)] += 1;
        match env.to {
            ActorRef::Order(no) => self.order_msg(no, env.msg, view),
            ActorRef::Cells(f) => self.cells_msg(f, env.msg),
            ActorRef::Facility(f) => self.facility_msg(f, env.msg),
            ActorRef::Desk(sku) => self.desk_msg(sku, env.msg, view),
            ActorRef::Hold(no) => self.hold_msg(no, env.msg, view),
        }
    }

    /// The timers: expire the holds whose time ran out, then release the
    /// facilities' due waves (size, max wait, cutoff) and move their clocks
    /// to `now`.
    fn run_timers(&mut self) {
        let now = self.now;
        self.expire_holds();
        for i in 0..self.facilities.len() {
            if self.facilities[i].is_none() {
                continue;
            }
            let f = FacilityIdx(i as u16);
            while let Some(trigger) = self.facilities[i].as_ref().and_then(|s| s.due_trigger(now)) {
                match self.release_wave(f, trigger) {
                    Some(w) => self.out.waves.push(w),
                    None => break,
                }
            }
            if let Some(s) = self.facilities[i].as_mut() {
                // Hour windows and closures may have moved: publish.
                s.advance_clock(now);
                self.touch_facility(f);
            }
        }
    }

    // ---- read access for audits and tests ----

    /// Orders on this shard.
    pub fn orders(&self) -> impl Iterator<Item = &OrderState> {
        self.orders.values().map(|a| &a.state)
    }

    /// An order on this shard.
    pub fn order(&self, no: OrderNo) -> Option<&OrderState> {
        self.orders.get(&no).map(|a| &a.state)
    }

    /// Cells on this shard.
    pub fn cells(&self) -> impl Iterator<Item = (CellKey, &CellState)> {
        self.cells.iter().map(|(k, c)| (*k, c))
    }

    /// Hold records on this shard (those being created aside).
    pub fn holds(&self) -> impl Iterator<Item = &HoldState> {
        self.holds.values().filter_map(|a| a.state.as_ref())
    }

    /// Desks on this shard.
    pub fn desks(&self) -> impl Iterator<Item = (SkuIdx, &DeskState)> {
        self.desks.iter().map(|(k, d)| (*k, &d.state))
    }

    /// Facilities this shard owns.
    pub fn facilities(&self) -> impl Iterator<Item = &FacilityState> {
        self.facilities.iter().flatten()
    }

    /// What went wrong that must not (see the field doc); empty when healthy.
    pub fn anomalies(&self) -> &[String] {
        &self.anomalies
    }

    /// The boards of the facilities this shard owns, at `now`.
    pub fn boards(&self) -> Vec<(FacilityIdx, Board)> {
        self.facilities
            .iter()
            .flatten()
            .map(|s| (s.idx(), board_of(s, self.now)))
            .collect()
    }

    /// Whether any actor waits for an answer or holds deferred messages.
    pub fn busy_actors(&self) -> usize {
        self.orders
            .values()
            .filter(|o| o.placing.is_some() || !o.deferred.is_empty())
            .count()
            + self
                .desks
                .values()
                .filter(|d| d.wait.is_some() || !d.deferred.is_empty())
                .count()
            + self
                .holds
                .values()
                .filter(|h| h.creating.is_some() || !h.deferred.is_empty())
                .count()
    }
}

/// The board a facility publishes at `now`.
pub(crate) fn board_of(s: &FacilityState, now: Millis) -> Board {
    Board {
        enabled: s.enabled_at(now),
        disabled_until: s.disabled_until(),
        capacity_used: s.capacity_used(),
    }
}
