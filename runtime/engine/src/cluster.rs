//! The serial driver: N shards on one thread, a seed choosing which shard
//! ticks next, how many messages it takes, which batch in flight between
//! two shards is delivered next (one sender's batches to one receiver stay
//! in order), and when the in-memory journal becomes durable. Replies are
//! released only once the entries of the tick that made them are durable.
//!
//! Its API mirrors `World`'s (place, cancel, scan, receive, adjust,
//! release a wave, set a status, advance time), each call running the
//! cluster until it is quiescent, plus `offer_*` calls that only admit a
//! request, for drivers that keep many in flight. The property tests and,
//! later, the simulator drive the engine through it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use orch_actors::audit::{audit, audit_holds, AuditReport};
use orch_actors::backorder::DeskState;
use orch_actors::cell::CellState;
use orch_actors::facility::{FacilityState, Wave, WaveTrigger};
use orch_actors::hold::{HoldNo, HoldRequest, HoldState};
use orch_actors::log::LogEntry;
use orch_actors::order::{validate_request, OrderRefusal, OrderState, PlaceRequest, Scan};
use orch_actors::routing::{FacilityInfo, Router};
use orch_actors::{CellKey, FacilityIdx, OrderNo, SkuIdx};
use orch_config::{Config, Millis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::msg::{ActorRef, Answer, Envelope, HoldError, Msg, RequestId, ScanAnswer, StockAnswer};
use crate::ownership::{Ownership, ShardIdx};
use crate::shard::{board_of, Overloaded, Shard, ShardLimits, TickOutput};
use crate::view::{first_choice, View};

/// Why a placement was not admitted.
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceRefusal {
    /// Invalid: the reason names the field. Nothing changed.
    Invalid(String),
    /// The home shard's inbox is full: the request, handed back.
    Overloaded(PlaceRequest),
}

/// How the driver schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Number of shards (at least 1).
    pub shards: usize,
    /// Seed of every scheduling choice.
    pub seed: u64,
    /// Bounds of each shard.
    pub limits: ShardLimits,
    /// Random interleavings: the seed picks the next shard or delivery,
    /// tick sizes and the durable point. Off: round robin, full ticks,
    /// every tick durable at once (benchmarks).
    pub shuffle: bool,
    /// Keep the journal in memory (tests, replay). Off: entries are counted
    /// and dropped, as with durability `none`.
    pub keep_journal: bool,
}

impl Default for ClusterOptions {
    /// One shard, seed 0, default limits, no shuffling.
    fn default() -> Self {
        ClusterOptions {
            shards: 1,
            seed: 0,
            limits: ShardLimits::default(),
            shuffle: false,
            keep_journal: true,
        }
    }
}

/// N shards driven serially; see the module doc.
#[derive(Debug)]
pub struct Cluster {
    own: Ownership,
    options: ClusterOptions,
    shards: Vec<Shard>,
    view: View,
    /// Batches in flight from shard `s` to shard `d` at `s * n + d`.
    channels: Vec<VecDeque<Vec<Envelope>>>,
    journal: Vec<LogEntry>,
    journaled: usize,
    durable: usize,
    held: VecDeque<(usize, crate::msg::Reply)>,
    answers: HashMap<RequestId, Answer>,
    waves: Vec<Wave>,
    next_request: RequestId,
    order_k: Vec<u64>,
    rng: ChaCha8Rng,
    now: Millis,
    router: Arc<Router>,
    infos: Vec<FacilityInfo>,
    skus: usize,
    lines_max: usize,
    qty_max: u32,
    check_cells: bool,
    violations: Vec<String>,
    ticks: u64,
    hold: bool,
    /// Client hold ids to hold numbers (the facade's map, later).
    hold_ids: HashMap<Arc<str>, HoldNo>,
    hold_k: Vec<u64>,
}

impl Cluster {
    /// A cluster with the configured network and stock, at time `now`.
    pub fn new(cfg: &Config, options: ClusterOptions, now: Millis) -> Cluster {
        let own = Ownership::new(options.shards);
        let n = own.shards();
        let router = Arc::new(Router::new(
            &cfg.routing,
            &cfg.network.facilities,
            &cfg.carriers,
        ));
        let shards: Vec<Shard> = (0..n)
            .map(|i| Shard::new(cfg, own, i, router.clone(), options.limits, now))
            .collect();
        let mut boards = Vec::new();
        for (i, f) in cfg.network.facilities.iter().enumerate() {
            let s = FacilityState::new(FacilityIdx(i as u16), f, now);
            boards.push(board_of(&s, now));
        }
        let available = shards.iter().flat_map(|s| {
            s.cells()
                .map(|(k, c)| (k, c.available()))
                .collect::<Vec<_>>()
        });
        let view = View::new(boards, available);
        let infos = FacilityInfo::all(&cfg.network.facilities);
        Cluster {
            own,
            options,
            shards,
            view,
            channels: (0..n * n).map(|_| VecDeque::new()).collect(),
            journal: Vec::new(),
            journaled: 0,
            durable: 0,
            held: VecDeque::new(),
            answers: HashMap::new(),
            waves: Vec::new(),
            next_request: 0,
            order_k: vec![0; n],
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            now,
            router,
            infos,
            skus: cfg.network.skus.len(),
            lines_max: cfg.limits.order_lines_max as usize,
            qty_max: cfg.limits.qty_max,
            check_cells: false,
            violations: Vec::new(),
            ticks: 0,
            hold: false,
            hold_ids: HashMap::new(),
            hold_k: vec![0; n],
        }
    }

    /// Check every cell's invariants after every tick (tests); violations
    /// are kept in [`Cluster::violations`].
    pub fn check_cells_every_tick(&mut self, on: bool) {
        self.check_cells = on;
    }

    /// Stall the journal: while held, nothing more becomes durable and no
    /// reply is released (a disk that does not answer). Releasing it makes
    /// everything appended durable.
    /// While held, drive the cluster with the `offer*` calls and
    /// [`Cluster::take_answer`]: the calls that wait for their answer
    /// (`place`, `cancel`, ...) would find none and panic.
    pub fn hold_durability(&mut self, hold: bool) {
        self.hold = hold;
        if !hold {
            self.make_durable(self.journaled);
        }
    }

    /// Drop the oldest batch in flight between two shards (a deliberate
    /// bug for the simulator); `false` when nothing is in flight.
    #[cfg(feature = "sim-bugs")]
    pub fn drop_one_in_flight(&mut self) -> bool {
        match self.channels.iter_mut().find(|c| !c.is_empty()) {
            Some(c) => c.pop_front().is_some(),
            None => false,
        }
    }

    /// The driver's disk reports the journal durable up to `to` entries
    /// (clamped to what was appended), even while durability is held:
    /// the replies that waited for it are released. For a simulated disk.
    pub fn mark_durable(&mut self, to: usize) {
        let hold = std::mem::replace(&mut self.hold, false);
        self.make_durable(to);
        self.hold = hold;
    }

    /// Cell invariants found broken after a tick.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The ownership function.
    pub fn ownership(&self) -> Ownership {
        self.own
    }

    /// The clock.
    pub fn now(&self) -> Millis {
        self.now
    }

    /// Ticks run so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    // ---- admission ----

    fn request_id(&mut self) -> RequestId {
        self.next_request += 1;
        self.next_request
    }

    /// Admit a message from outside to its shard's inbox.
    pub fn offer(&mut self, to: ActorRef, msg: Msg) -> Result<(), Overloaded> {
        let shard = self.own.shard_of(to);
        self.shards[shard].offer(Envelope { to, msg })
    }

    /// The shard a new order should live on: that of its first-choice
    /// facility by the router's score (stock aside).
    fn home_shard(&mut self, req: &PlaceRequest) -> ShardIdx {
        if self.own.shards() == 1 {
            return 0;
        }
        let view = &self.view;
        match first_choice(&self.router, &mut self.infos, req, self.now, |f| {
            view.board(f).copied()
        }) {
            Some(f) => self.own.facility(f),
            None => (self.next_request % self.own.shards() as u64) as usize,
        }
    }

    /// Admit a placement: validates it (nothing changes when invalid),
    /// gives it a number on its home shard and queues it. A full inbox
    /// hands the request back.
    pub fn offer_place(&mut self, req: PlaceRequest) -> Result<(RequestId, OrderNo), PlaceRefusal> {
        if let Err(reason) = validate_request(&req, self.lines_max, self.qty_max) {
            return Err(PlaceRefusal::Invalid(reason));
        }
        let shard = self.home_shard(&req);
        let no = self.own.order_no(shard, self.order_k[shard]);
        let to = ActorRef::Order(no);
        if self.shards[shard].room() == 0 {
            return Err(PlaceRefusal::Overloaded(req));
        }
        let reply = self.request_id();
        self.offer(to, Msg::Place { req, reply })
            .expect("room was checked");
        self.order_k[shard] += 1;
        Ok((reply, no))
    }

    /// The answer to a request, once released (taken out).
    pub fn take_answer(&mut self, id: RequestId) -> Option<Answer> {
        self.answers.remove(&id)
    }

    /// Answers released so far and not taken.
    pub fn take_answers(&mut self) -> impl Iterator<Item = (RequestId, Answer)> + '_ {
        self.answers.drain()
    }

    fn call(
        &mut self,
        to: ActorRef,
        make: impl FnOnce(RequestId) -> Msg,
    ) -> Result<Answer, Overloaded> {
        let id = self.request_id();
        self.offer(to, make(id))?;
        self.run_until_quiescent();
        Ok(self
            .answers
            .remove(&id)
            .expect("every request is answered by quiescence (durability held?)"))
    }

    // ---- World's API, each call run to quiescence ----

    /// Place an order. `Ok(Err(reason))`: invalid, nothing changed.
    pub fn place(&mut self, req: PlaceRequest) -> Result<Result<OrderNo, String>, Overloaded> {
        let (id, _) = match self.offer_place(req) {
            Ok(x) => x,
            Err(PlaceRefusal::Invalid(reason)) => return Ok(Err(reason)),
            Err(PlaceRefusal::Overloaded(_)) => return Err(Overloaded),
        };
        self.run_until_quiescent();
        match self.answers.remove(&id) {
            Some(Answer::Placed(r)) => Ok(r),
            other => panic!("placement answered {other:?}"),
        }
    }

    /// Cancel an order.
    pub fn cancel(&mut self, no: OrderNo) -> Result<Result<(), OrderRefusal>, Overloaded> {
        match self.call(ActorRef::Order(no), |reply| Msg::Cancel { reply })? {
            Answer::Cancelled(r) => Ok(r),
            other => panic!("cancel answered {other:?}"),
        }
    }

    /// Apply a scan to an order.
    pub fn scan(&mut self, no: OrderNo, scan: Scan) -> Result<ScanAnswer, Overloaded> {
        match self.call(ActorRef::Order(no), |reply| Msg::Scan { scan, reply })? {
            Answer::Scanned(r) => Ok(r),
            other => panic!("scan answered {other:?}"),
        }
    }

    // ---- holds ----

    fn hold_call(&mut self, no: HoldNo, make: impl FnOnce(RequestId) -> Msg) -> HoldResult {
        match self.call(ActorRef::Hold(no), make)? {
            Answer::Hold(r) => Ok(r),
            other => panic!("hold request answered {other:?}"),
        }
    }

    /// Create a hold (a replay of its `hold_id` with the same request
    /// answers the hold; another request is a conflict). Invalid lines
    /// change nothing.
    pub fn create_hold(&mut self, req: HoldRequest) -> HoldResult {
        if req.lines.is_empty() || req.lines.len() > self.lines_max {
            return Ok(Err(HoldError::Invalid(format!(
                "lines: from 1 to {} lines",
                self.lines_max
            ))));
        }
        for (i, l) in req.lines.iter().enumerate() {
            if l.qty == 0 || l.qty > self.qty_max {
                return Ok(Err(HoldError::Invalid(format!(
                    "lines[{i}].qty: from 1 to {}",
                    self.qty_max
                ))));
            }
            if l.sku.0 as usize >= self.skus {
                return Ok(Err(HoldError::Invalid(format!("lines[{i}].sku: unknown"))));
            }
        }
        let no = match self.hold_ids.get(&req.hold_id) {
            Some(&no) => no,
            None => {
                let shard = (self.hold_ids.len() % self.own.shards()) as ShardIdx;
                let no = HoldNo(self.own.order_no(shard, self.hold_k[shard]).0);
                self.hold_k[shard] += 1;
                self.hold_ids.insert(req.hold_id.clone(), no);
                no
            }
        };
        self.hold_call(no, |reply| Msg::CreateHold { req, reply })
    }

    fn hold_no(&self, hold_id: &str) -> Option<HoldNo> {
        self.hold_ids.get(hold_id).copied()
    }

    /// A hold as it stands.
    pub fn read_hold(&mut self, hold_id: &str) -> HoldResult {
        match self.hold_no(hold_id) {
            Some(no) => self.hold_call(no, |reply| Msg::ReadHold { reply }),
            None => Ok(Err(HoldError::Unknown)),
        }
    }

    /// A new expiry `ttl_s` from now.
    pub fn extend_hold(&mut self, hold_id: &str, ttl_s: u32) -> HoldResult {
        match self.hold_no(hold_id) {
            Some(no) => self.hold_call(no, |reply| Msg::ExtendHold { ttl_s, reply }),
            None => Ok(Err(HoldError::Unknown)),
        }
    }

    /// Let a hold go.
    pub fn release_hold(&mut self, hold_id: &str) -> HoldResult {
        match self.hold_no(hold_id) {
            Some(no) => self.hold_call(no, |reply| Msg::ReleaseHold { reply }),
            None => Ok(Err(HoldError::Unknown)),
        }
    }

    /// Place an order naming a hold: it takes the held units in place and
    /// places the rest as usual; a hold that is unknown or no longer active
    /// does not fail it.
    pub fn place_with_hold(
        &mut self,
        req: PlaceRequest,
        hold_id: &str,
    ) -> Result<Result<OrderNo, String>, Overloaded> {
        let Some(hold) = self.hold_no(hold_id) else {
            return self.place(req);
        };
        if let Err(reason) = validate_request(&req, self.lines_max, self.qty_max) {
            return Ok(Err(reason));
        }
        let shard = self.home_shard(&req);
        let no = self.own.order_no(shard, self.order_k[shard]);
        let reply = self.request_id();
        self.offer(
            ActorRef::Hold(hold),
            Msg::ConvertHold {
                order: no,
                req,
                reply,
            },
        )?;
        self.order_k[shard] += 1;
        self.run_until_quiescent();
        match self.answers.remove(&reply) {
            Some(Answer::Placed(r)) => Ok(r),
            other => panic!("placement answered {other:?}"),
        }
    }

    /// Every hold record.
    pub fn holds(&self) -> impl Iterator<Item = &HoldState> {
        self.shards.iter().flat_map(|s| s.holds())
    }

    fn check_cell_key(&self, key: CellKey) -> Result<(), String> {
        if usize::from(key.facility.0) >= self.view.facilities() {
            return Err(format!("facility: unknown index {}", key.facility.0));
        }
        if key.sku.0 as usize >= self.skus {
            return Err(format!("sku: unknown index {}", key.sku.0));
        }
        Ok(())
    }

    /// Receive stock at a cell under an idempotency id.
    pub fn receive(
        &mut self,
        key: CellKey,
        qty: u32,
        receipt_id: Arc<str>,
    ) -> Result<StockAnswer, Overloaded> {
        if qty == 0 || qty > self.qty_max {
            return Ok(StockAnswer::Rejected(format!(
                "qty: must be 1 to {}, got {qty}",
                self.qty_max
            )));
        }
        if let Err(e) = self.check_cell_key(key) {
            return Ok(StockAnswer::Rejected(e));
        }
        let msg = |reply| Msg::Receive {
            facility: key.facility,
            qty,
            restock: false,
            receipt_id: Some(receipt_id),
            reply: Some(reply),
        };
        match self.call(ActorRef::Desk(key.sku), msg)? {
            Answer::Stock(r) => Ok(r),
            other => panic!("receipt answered {other:?}"),
        }
    }

    /// Cycle count: set on hand (never below reserved) under an idempotency id.
    pub fn adjust(
        &mut self,
        key: CellKey,
        on_hand: u32,
        adjustment_id: Arc<str>,
    ) -> Result<StockAnswer, Overloaded> {
        if let Err(e) = self.check_cell_key(key) {
            return Ok(StockAnswer::Rejected(e));
        }
        let msg = |reply| Msg::Adjust {
            sku: key.sku,
            on_hand,
            adjustment_id,
            reply,
        };
        match self.call(ActorRef::Cells(key.facility), msg)? {
            Answer::Stock(r) => Ok(r),
            other => panic!("adjustment answered {other:?}"),
        }
    }

    /// Release one wave at a facility now.
    pub fn release_wave(
        &mut self,
        facility: FacilityIdx,
        trigger: WaveTrigger,
    ) -> Result<Option<Wave>, Overloaded> {
        match self.call(ActorRef::Facility(facility), |reply| Msg::ReleaseWave {
            trigger,
            reply,
        })? {
            Answer::Wave(w) => Ok(w),
            other => panic!("wave answered {other:?}"),
        }
    }

    /// Enable or disable a facility for routing.
    pub fn set_status(
        &mut self,
        facility: FacilityIdx,
        enabled: bool,
        until: Option<Millis>,
    ) -> Result<Result<(), String>, Overloaded> {
        match self.call(ActorRef::Facility(facility), |reply| Msg::SetStatus {
            enabled,
            until,
            reply,
        })? {
            Answer::Status(r) => Ok(r),
            other => panic!("status answered {other:?}"),
        }
    }

    /// Move the clock to `now` (never back) and run until quiescent: the
    /// facilities' timers release what is due. Returns those waves.
    pub fn advance(&mut self, now: Millis) -> Vec<Wave> {
        self.now = self.now.max(now);
        self.run_until_quiescent();
        std::mem::take(&mut self.waves)
    }

    /// Move the clock to `now` (never back) without running anything: the
    /// timers fire in the ticks that follow (for a driver that steps).
    pub fn set_now(&mut self, now: Millis) {
        self.now = self.now.max(now);
    }

    // ---- scheduling ----

    /// Runs until no shard has work and nothing is in flight; then the
    /// journal is durable and every reply released.
    pub fn run_until_quiescent(&mut self) {
        while self.step() {}
        self.make_durable(self.journaled);
    }

    /// One scheduling step: a tick or a delivery. `false` when quiescent.
    pub fn step(&mut self) -> bool {
        let n = self.own.shards();
        if !self.options.shuffle {
            let mut did = false;
            for s in 0..n {
                if self.shards[s].has_work(self.now) {
                    self.tick_shard(s, usize::MAX);
                    did = true;
                }
            }
            for c in 0..n * n {
                while let Some(batch) = self.channels[c].pop_front() {
                    self.shards[c % n].deliver(batch);
                    did = true;
                }
            }
            return did;
        }
        let mut choices: Vec<usize> = Vec::new();
        for s in 0..n {
            if self.shards[s].has_work(self.now) {
                choices.push(s);
            }
        }
        for c in 0..n * n {
            if !self.channels[c].is_empty() {
                choices.push(n + c);
            }
        }
        if choices.is_empty() {
            return false;
        }
        let pick = choices[self.rng.random_range(0..choices.len())];
        if pick < n {
            let max = self
                .rng
                .random_range(1..=self.options.limits.tick_max.clamp(1, 8));
            self.tick_shard(pick, max);
        } else {
            let c = pick - n;
            let batch = self.channels[c].pop_front().expect("chosen non-empty");
            self.shards[c % n].deliver(batch);
        }
        if self.rng.random_bool(0.5) {
            let to = self.rng.random_range(self.durable..=self.journaled);
            self.make_durable(to);
        }
        true
    }

    fn tick_shard(&mut self, s: ShardIdx, max: usize) {
        let out: TickOutput = self.shards[s].tick_up_to(self.now, &self.view, max);
        self.ticks += 1;
        self.journaled += out.entries.len();
        if self.options.keep_journal {
            self.journal.extend(out.entries);
        }
        let end = self.journaled;
        for r in out.replies {
            self.held.push_back((end, r));
        }
        self.view.apply(&out.view);
        self.waves.extend(out.waves);
        let n = self.own.shards();
        for (d, batch) in out.outbound {
            self.channels[s * n + d].push_back(batch);
        }
        if self.check_cells {
            for (k, c) in self.shards[s].cells() {
                if let Err(e) = c.check_invariants() {
                    self.violations.push(format!("{k:?}: {e}"));
                }
            }
        }
        if !self.options.shuffle {
            self.make_durable(end);
        }
    }

    /// The journal is durable up to `to` entries: release the replies that
    /// waited for it.
    fn make_durable(&mut self, to: usize) {
        if self.hold {
            return;
        }
        self.durable = self.durable.max(to.min(self.journaled));
        while let Some((end, _)) = self.held.front() {
            if *end > self.durable {
                break;
            }
            let (_, r) = self.held.pop_front().expect("front exists");
            self.answers.insert(r.id, r.answer);
        }
    }

    // ---- the journal and the states ----

    /// How many entries were journaled (kept or not).
    pub fn journaled(&self) -> usize {
        self.journaled
    }

    /// Everything journaled, in order (empty unless `keep_journal`).
    pub fn journal(&self) -> &[LogEntry] {
        &self.journal
    }

    /// How many entries are durable.
    pub fn durable(&self) -> usize {
        self.durable
    }

    /// Replies made but not yet released (waiting for durability).
    pub fn held_replies(&self) -> usize {
        self.held.len()
    }

    /// The shards.
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// An order.
    pub fn order(&self, no: OrderNo) -> Option<&OrderState> {
        self.shards[self.own.order(no)].order(no)
    }

    /// Every order.
    pub fn orders(&self) -> impl Iterator<Item = &OrderState> {
        self.shards.iter().flat_map(Shard::orders)
    }

    /// A cell.
    pub fn cell(&self, key: CellKey) -> Option<&CellState> {
        self.shards[self.own.facility(key.facility)]
            .cells()
            .find(|(k, _)| *k == key)
            .map(|x| x.1)
    }

    /// Every cell.
    pub fn cells(&self) -> impl Iterator<Item = (CellKey, &CellState)> {
        self.shards.iter().flat_map(Shard::cells)
    }

    /// Every desk.
    pub fn desks(&self) -> impl Iterator<Item = (SkuIdx, &DeskState)> {
        self.shards.iter().flat_map(Shard::desks)
    }

    /// A desk.
    pub fn desk(&self, sku: SkuIdx) -> Option<&DeskState> {
        self.shards[self.own.desk(sku)]
            .desks()
            .find(|(k, _)| *k == sku)
            .map(|x| x.1)
    }

    /// A facility.
    pub fn facility(&self, f: FacilityIdx) -> Option<&FacilityState> {
        self.shards[self.own.facility(f)]
            .facilities()
            .find(|s| s.idx() == f)
    }

    /// Every anomaly any shard met (empty when healthy).
    pub fn anomalies(&self) -> Vec<String> {
        self.shards
            .iter()
            .flat_map(|s| s.anomalies().iter().cloned())
            .collect()
    }

    /// Audit every invariant now (call at a quiescent point).
    pub fn audit(&self) -> AuditReport {
        let mut report = audit(self.cells(), self.orders(), self.desks());
        report.push("holds_match_cells", audit_holds(self.cells(), self.holds()));
        report
    }
}

impl Cluster {
    /// A cluster restarted from a durable journal at time `now`: its
    /// entries are replayed by `World::replay` (the recovery path), the
    /// state is split among the shards, and the journal starts as those
    /// entries, all durable. Order numbering resumes after the highest
    /// number of each shard.
    pub fn restore(
        cfg: &Config,
        options: ClusterOptions,
        now: Millis,
        journal: Vec<LogEntry>,
    ) -> Result<Cluster, String> {
        let mut world = orch_actors::sim::World::new(cfg, now);
        for (i, e) in journal.iter().enumerate() {
            world.replay(e).map_err(|err| format!("entry {i}: {err}"))?;
        }
        let mut c = Cluster::new(cfg, options, now);
        for s in c.shards.iter_mut() {
            s.load(&world, &journal);
        }
        c.adopt(&world, now, journal);
        Ok(c)
    }

    /// A cluster restarted from a snapshot and the durable journal after
    /// it, as the threaded host restarts: `world` is the state the snapshot
    /// held (with `receipts` and `adjustments`, the ids it had applied),
    /// the `journal` entries after it are replayed onto it by
    /// `World::replay`, and each shard takes its part through
    /// [`Shard::restore_from`]. The journal starts as those entries, all
    /// durable.
    pub fn restore_from_snapshot(
        cfg: &Config,
        options: ClusterOptions,
        now: Millis,
        mut world: orch_actors::sim::World,
        mut receipts: Vec<Arc<str>>,
        mut adjustments: Vec<Arc<str>>,
        journal: Vec<LogEntry>,
    ) -> Result<Cluster, String> {
        for (i, e) in journal.iter().enumerate() {
            match e {
                LogEntry::Received { receipt_id, .. } => receipts.push(receipt_id.clone()),
                LogEntry::Adjusted { adjustment_id, .. } => adjustments.push(adjustment_id.clone()),
                _ => {}
            }
            world.replay(e).map_err(|err| format!("entry {i}: {err}"))?;
        }
        let mut c = Cluster::new(cfg, options, now);
        for s in c.shards.iter_mut() {
            s.restore_from(&world, &receipts, &adjustments);
        }
        c.adopt(&world, now, journal);
        Ok(c)
    }

    /// The view, numbering and journal of a cluster whose shards were
    /// loaded from `world`.
    fn adopt(&mut self, world: &orch_actors::sim::World, now: Millis, journal: Vec<LogEntry>) {
        let c = self;
        let options = c.options;
        let n = c.own.shards();
        let boards = (0..c.view.facilities())
            .map(|i| {
                let s = &world.facilities[i];
                board_of(s, now)
            })
            .collect();
        let available = world.cells.iter().map(|(k, c)| (*k, c.available()));
        c.view = View::new(boards, available);
        for no in world.orders.keys() {
            let s = c.own.order(*no);
            // Inverse of `Ownership::order_no` (shard 0 skips number 0).
            let next = no.0 / n as u64 + u64::from(s != 0);
            c.order_k[s] = c.order_k[s].max(next);
        }
        for (no, h) in &world.holds {
            let s = c.own.hold(*no);
            c.hold_ids.insert(h.request().hold_id.clone(), *no);
            let next = no.0 / n as u64 + u64::from(s != 0);
            c.hold_k[s] = c.hold_k[s].max(next);
            // A conversion can be durable before the order that made it
            // (another shard's batch): its number is never given again.
            if let Some(order) = h.order() {
                let s = c.own.order(order);
                let next = order.0 / n as u64 + u64::from(s != 0);
                c.order_k[s] = c.order_k[s].max(next);
            }
        }
        c.journaled = journal.len();
        c.durable = journal.len();
        if options.keep_journal {
            c.journal = journal;
        }
    }
}

/// The answer to a hold call: `Err(Overloaded)` when not admitted.
pub type HoldResult = Result<Result<Box<HoldState>, HoldError>, Overloaded>;
