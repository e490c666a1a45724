//! One seed's run: the workload, the disk, crashes and restarts, and the
//! checks (see the crate doc). Every choice comes from the seed, so a run
//! is a pure function of it; the trace and its hash show that.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use orch_actors::backorder::DeskState;
use orch_actors::facility::WaveTrigger;
use orch_actors::hold::{HoldRefusal, HoldRequest, HoldState, TTL_S_CEILING};
use orch_actors::log::LogEntry;
use orch_actors::order::{
    validate_request, Disposition, FulfillmentStatus, OrderLine, OrderStatus, PlaceRequest, Scan,
    ScanKind,
};
use orch_actors::{CellKey, FacilityIdx, LineRef, OrderNo, SkuIdx};
use orch_config::{Config, Millis, ServiceLevel};
use orch_engine::cluster::{ClusterOptions, PlaceRefusal};
use orch_engine::msg::{HoldError, ScanAnswer, StockAnswer};
use orch_engine::{ActorRef, Answer, Cluster, Msg, RequestId, ShardLimits};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::book::{forward, Book};
use crate::bugs::Bug;
use crate::checkpoint::{self, Checkpoint, Step};
use crate::disk::Disk;
use crate::events::{scan_event, EventStats, EventTail, Ids, InDoubt};
use crate::holds::{Fate, HoldBook};
use crate::network;
use crate::options::SimOptions;
use crate::snapshot::{Base, Current, SnapDir, Snapshot};

/// Midnight UTC, 2026-11-27.
const T0: Millis = 1_795_737_600_000;
/// Simulated time after faults stop within which every order must settle.
pub const LIVENESS_BOUND_MS: Millis = 2 * 3_600_000;
/// How long a restart takes after a power loss (simulated ms).
const DOWNTIME_MS: std::ops::RangeInclusive<Millis> = 1_000..=30_000;
/// Ids of the simulator's own requests start here (the cluster numbers
/// placements from 1).
const OWN_IDS: RequestId = 1 << 40;

/// The result of one seed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// What the seed chose.
    pub options: SimOptions,
    /// Every step, answer, crash and check, one per line.
    pub trace: Vec<String>,
    /// FNV-1a hash of the trace.
    pub hash: u64,
    /// The first check that failed (or panic), if any.
    pub failure: Option<String>,
    /// Power losses survived.
    pub crashes: u32,
    /// Requests acknowledged.
    pub acked: u64,
    /// Snapshots taken (marked current, durable).
    pub snapshots: u32,
    /// Restarts that loaded a snapshot.
    pub snapshot_restarts: u32,
    /// Power losses in the middle of a checkpoint, by the step they came
    /// before (indexed by [`Step`] as `usize`).
    pub checkpoint_cuts: [u32; 5],
    /// Events derived, and what the snapshot gap took.
    pub events: EventStats,
}

/// A request in flight.
#[derive(Debug, Clone)]
enum Pending {
    Place(Arc<str>, Vec<OrderLine>),
    Cancel(OrderNo),
    /// A scan and the cell whose stock it moves if applied (+/- units).
    Scan(OrderNo, Scan, Option<(CellKey, i64)>),
    Receive(Arc<str>, CellKey, u32),
    Adjust(Arc<str>, CellKey, u32),
    /// A hold request about this client hold id.
    Hold(Arc<str>, HoldOp),
    /// A placement naming a hold: order id, lines, hold id, order number.
    PlaceHold(Arc<str>, Vec<OrderLine>, Arc<str>, OrderNo),
    Other,
}

/// A hold request in flight.
#[derive(Debug, Clone)]
enum HoldOp {
    /// A create: the request, and whether its id was new.
    Create(HoldRequest, bool),
    Read,
    /// An extend by this TTL.
    Extend(u32),
    Release,
}

struct Sim {
    opt: SimOptions,
    bug: Option<Bug>,
    cfg: Config,
    r: ChaCha8Rng,
    dr: ChaCha8Rng,
    cluster: Cluster,
    disk: Disk,
    book: Book,
    holds: HoldBook,
    /// Orders numbered by the simulator (conversions) so far.
    conversions: u64,
    pending: BTreeMap<RequestId, Pending>,
    busy: BTreeSet<CellKey>,
    /// Orders with a cancel or a stock-moving scan in flight.
    busy_orders: BTreeSet<OrderNo>,
    next_req: RequestId,
    next_id: u64,
    now: Millis,
    faults: bool,
    restarts: u32,
    dropped: bool,
    sent_scans: Vec<(OrderNo, Scan)>,
    sent_receipts: Vec<(Arc<str>, CellKey, u32)>,
    sent_adjusts: Vec<(Arc<str>, CellKey, u32)>,
    trace: Vec<String>,
    acked: u64,
    /// Entries the disk reported durable (counted in the cluster's
    /// journal).
    ack_to: usize,
    /// Journal position of the cluster's first journal entry (the
    /// snapshot it restarted from covers the entries before).
    base: usize,
    /// The simulated snapshot directory.
    snaps: SnapDir,
    /// The checkpoint in progress.
    ckpt: Option<Checkpoint>,
    snapshots: u32,
    snapshot_restarts: u32,
    checkpoint_cuts: [u32; 5],
    /// Every entry journaled, by absolute position, up to the cluster's
    /// journal (brought up to date at a power loss): the whole journal a
    /// restart from a snapshot is compared against.
    history: Vec<LogEntry>,
    /// The event feed, derived from the disk's durable entries.
    events: EventTail,
    /// Changes whose answers power losses took.
    doubt: InDoubt,
}

/// Runs seed `seed`, with `bug` planted (if any).
pub fn run_seed(seed: u64, bug: Option<Bug>) -> Outcome {
    let opt = SimOptions::from_seed(seed);
    Bug::plant(bug);
    let mut sim = Sim::new(opt.clone(), bug);
    let res = catch_unwind(AssertUnwindSafe(|| sim.run()));
    Bug::plant(None);
    let failure = match res {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(p) => Some(format!(
            "panic: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    };
    if let Some(f) = &failure {
        sim.trace.push(format!("FAILED: {f}"));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for line in &sim.trace {
        for b in line.bytes().chain([b'\n']) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    Outcome {
        options: opt,
        trace: sim.trace,
        hash,
        failure,
        crashes: sim.restarts,
        acked: sim.acked,
        snapshots: sim.snapshots,
        snapshot_restarts: sim.snapshot_restarts,
        checkpoint_cuts: sim.checkpoint_cuts,
        events: sim.events.stats(),
    }
}

fn cluster_options(opt: &SimOptions, restarts: u32) -> ClusterOptions {
    ClusterOptions {
        shards: opt.shards,
        seed: opt.seed.wrapping_mul(31).wrapping_add(u64::from(restarts)),
        limits: ShardLimits {
            inbox_max: 64,
            tick_max: 8,
            seen_ids_max: 1_000_000,
        },
        shuffle: true,
        keep_journal: true,
    }
}

impl Sim {
    fn new(opt: SimOptions, bug: Option<Bug>) -> Sim {
        let mut r = ChaCha8Rng::seed_from_u64(opt.seed);
        let cfg = network::config(&opt, &mut r);
        let dr = ChaCha8Rng::seed_from_u64(opt.seed ^ 0xd15c);
        let mut events = EventTail::new(Ids::of(&cfg));
        if bug == Some(Bug::DropCancelEvent) {
            events.drop_type(orch_events::EventType::OrderCancelled);
        }
        let mut cluster = Cluster::new(&cfg, cluster_options(&opt, 0), T0);
        cluster.check_cells_every_tick(true);
        cluster.hold_durability(true);
        let mut book = Book::default();
        for s in &cfg.network.stock {
            let cell = CellKey {
                sku: SkuIdx(s.sku),
                facility: FacilityIdx(s.facility),
            };
            book.moved(cell, i64::from(s.on_hand), |f| {
                f.initial += i64::from(s.on_hand)
            });
        }
        Sim {
            opt,
            bug,
            cfg,
            r,
            dr,
            cluster,
            disk: Disk::default(),
            book,
            holds: HoldBook::default(),
            conversions: 0,
            pending: BTreeMap::new(),
            busy: BTreeSet::new(),
            busy_orders: BTreeSet::new(),
            next_req: OWN_IDS,
            next_id: 0,
            now: T0,
            faults: true,
            restarts: 0,
            dropped: false,
            sent_scans: Vec::new(),
            sent_receipts: Vec::new(),
            sent_adjusts: Vec::new(),
            trace: Vec::new(),
            acked: 0,
            ack_to: 0,
            base: 0,
            snaps: SnapDir::default(),
            ckpt: None,
            snapshots: 0,
            snapshot_restarts: 0,
            checkpoint_cuts: [0; 5],
            history: Vec::new(),
            events,
            doubt: InDoubt::default(),
        }
    }

    fn log(&mut self, line: String) {
        self.trace.push(line);
    }

    fn run(&mut self) -> Result<(), String> {
        let d = self.opt.describe();
        self.log(d);
        if let Some(b) = self.bug {
            self.log(format!("bug planted: {}", b.name()));
        }
        for step in 0..self.opt.steps {
            self.op()?;
            let k = self.r.random_range(1..=6);
            for _ in 0..k {
                if !self.cluster.step() {
                    break;
                }
                self.check_cells()?;
            }
            if self.bug == Some(Bug::DropMessage) && !self.dropped && step >= 10 {
                self.drop_message();
            }
            self.disk_step()?;
            self.collect()?;
            self.checkpoint_step()?;
            if self.opt.crash > 0.0 && self.dr.random_bool(self.opt.crash) {
                self.crash()?;
            }
            if self.r.random_bool(0.08) {
                self.quiesce()?;
                self.check_quiescent()?;
            }
        }
        self.faults = false;
        self.log("faults stop".into());
        self.quiesce()?;
        self.check_quiescent()?;
        self.liveness()
    }

    #[cfg(feature = "bugs")]
    fn drop_message(&mut self) {
        if self.cluster.drop_one_in_flight() {
            self.dropped = true;
            self.log("bug: dropped one cross-shard batch".into());
        }
    }

    #[cfg(not(feature = "bugs"))]
    fn drop_message(&mut self) {}

    fn fresh(&mut self, prefix: &str) -> Arc<str> {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id).into()
    }

    fn req(&mut self) -> RequestId {
        self.next_req += 1;
        self.next_req
    }

    fn offer(&mut self, to: ActorRef, make: impl FnOnce(RequestId) -> Msg, p: Pending) -> bool {
        let id = self.req();
        match self.cluster.offer(to, make(id)) {
            Ok(()) => {
                self.pending.insert(id, p);
                true
            }
            Err(_) => {
                self.log(format!("  overloaded: {to:?}"));
                false
            }
        }
    }

    fn cell(&mut self) -> CellKey {
        CellKey {
            sku: SkuIdx(self.r.random_range(0..self.opt.skus)),
            facility: FacilityIdx(self.r.random_range(0..self.opt.facilities)),
        }
    }

    // ---- the workload ----

    fn op(&mut self) -> Result<(), String> {
        let total: u32 = self.opt.mix.iter().sum();
        let mut pick = self.r.random_range(0..total);
        let mut op = 0;
        while pick >= self.opt.mix[op] {
            pick -= self.opt.mix[op];
            op += 1;
        }
        match op {
            0 => self.place(),
            1 => {
                let n = self.r.random_range(2..=5);
                self.log(format!("batch of {n}"));
                for _ in 0..n {
                    self.place();
                }
            }
            2 => self.cancel(),
            3 => self.scan(),
            4 => self.receive(),
            5 => self.adjust(),
            6 => self.status(),
            9 => self.hold(),
            7 => {
                let f = FacilityIdx(self.r.random_range(0..self.opt.facilities));
                self.log(format!("wave {}", f.0));
                self.offer(
                    ActorRef::Facility(f),
                    |reply| Msg::ReleaseWave {
                        trigger: WaveTrigger::Manual,
                        reply,
                    },
                    Pending::Other,
                );
            }
            _ => self.clock()?,
        }
        Ok(())
    }

    fn place(&mut self) {
        let id = self.fresh("o");
        let n = self.r.random_range(1..=3);
        let mut skus: Vec<u32> = (0..self.opt.skus).collect();
        let mut lines = Vec::new();
        for _ in 0..n.min(skus.len()) {
            let s = skus.swap_remove(self.r.random_range(0..skus.len()));
            lines.push(OrderLine {
                sku: SkuIdx(s),
                qty: self.r.random_range(1..=3),
            });
        }
        if self.r.random_bool(0.03) {
            lines[0].qty = 0;
        }
        let req = PlaceRequest {
            order_id: id.clone(),
            channel: "web".into(),
            lat: self.r.random_range(30.0..45.0),
            lon: self.r.random_range(-120.0..-75.0),
            service_level: [
                ServiceLevel::SameDay,
                ServiceLevel::NextDay,
                ServiceLevel::Standard,
            ][self.r.random_range(0..3)],
            lines: lines.clone(),
            allow_backorder: self.r.random_bool(0.8),
        };
        let desc: Vec<String> = lines
            .iter()
            .map(|l| format!("{}x{}", l.sku.0, l.qty))
            .collect();
        match self.cluster.offer_place(req) {
            Ok((rid, no)) => {
                self.log(format!("place {id} [{}] as {}", desc.join(" "), no.0));
                self.pending.insert(rid, Pending::Place(id, lines));
            }
            Err(PlaceRefusal::Invalid(why)) => {
                self.log(format!("place {id} refused: {why}"));
                self.book.refused.insert(id);
            }
            Err(PlaceRefusal::Overloaded(_)) => self.log(format!("place {id} overloaded")),
        }
    }

    fn ship_to(&mut self) -> (f64, f64, ServiceLevel) {
        (
            self.r.random_range(30.0..45.0),
            self.r.random_range(-120.0..-75.0),
            [
                ServiceLevel::SameDay,
                ServiceLevel::NextDay,
                ServiceLevel::Standard,
            ][self.r.random_range(0..3)],
        )
    }

    /// A hold request: a new hold (sometimes asking more than any cell
    /// has, or an invalid TTL), a duplicate of an acknowledged one (the
    /// same request or another), a read, an extend, a release, or an
    /// order converting it. Holds nobody touches again expire.
    fn hold(&mut self) {
        let choice = self.r.random_range(0..10);
        let known = self.holds.pick(self.r.random_range(0..usize::MAX));
        match (choice, known) {
            (4, Some(id)) => {
                let mut req = self.holds.holds[&id].request.clone();
                let same = self.r.random_bool(0.5);
                if !same {
                    req.ttl_s = req.ttl_s % 7_200 + 1;
                }
                self.log(format!("hold {id} again (same request: {same})"));
                self.send_hold(id, HoldOp::Create(req, false));
            }
            (5, known) => {
                let id = match (known, self.r.random_range(0..5)) {
                    (_, 0) => self.fresh("h"),
                    (_, 1) if !self.holds.refused.is_empty() => {
                        let i = self.r.random_range(0..self.holds.refused.len());
                        self.holds.refused.iter().nth(i).cloned().expect("in range")
                    }
                    (Some(id), _) => id,
                    (None, _) => return,
                };
                self.log(format!("read hold {id}"));
                self.send_hold(id, HoldOp::Read);
            }
            (6, Some(id)) => {
                let ttl = self.ttl();
                self.log(format!("extend hold {id} by {ttl} s"));
                self.send_hold(id, HoldOp::Extend(ttl));
            }
            (7, Some(id)) => {
                self.log(format!("release hold {id}"));
                self.send_hold(id, HoldOp::Release);
            }
            (8 | 9, Some(id)) => self.convert(id),
            _ => {
                let id = self.fresh("h");
                let n = self.r.random_range(1..=3);
                let mut skus: Vec<u32> = (0..self.opt.skus).collect();
                let mut lines = Vec::new();
                for _ in 0..n.min(skus.len()) {
                    let s = skus.swap_remove(self.r.random_range(0..skus.len()));
                    let qty = if self.r.random_bool(0.1) {
                        self.r.random_range(20..60)
                    } else {
                        self.r.random_range(1..=3)
                    };
                    lines.push(OrderLine {
                        sku: SkuIdx(s),
                        qty,
                    });
                }
                let (lat, lon, service_level) = self.ship_to();
                let req = HoldRequest {
                    hold_id: id.clone(),
                    lat,
                    lon,
                    service_level,
                    ttl_s: self.ttl(),
                    lines,
                    allow_partial: self.r.random_bool(0.6),
                };
                let desc: Vec<String> = req
                    .lines
                    .iter()
                    .map(|l| format!("{}x{}", l.sku.0, l.qty))
                    .collect();
                self.log(format!(
                    "hold {id} [{}] ttl {} s partial {}",
                    desc.join(" "),
                    req.ttl_s,
                    req.allow_partial
                ));
                self.send_hold(id, HoldOp::Create(req, true));
            }
        }
    }

    /// A TTL: mostly within the limit, sometimes 0 or over it.
    fn ttl(&mut self) -> u32 {
        let max = self.cfg.limits.hold_ttl_s_max.min(TTL_S_CEILING);
        match self.r.random_range(0..20) {
            0 => 0,
            1 => max + 1,
            2 => max,
            3..=9 => self.r.random_range(1..60),
            _ => self.r.random_range(60..7_200),
        }
    }

    fn send_hold(&mut self, id: Arc<str>, op: HoldOp) {
        let no = self.holds.number(&id);
        let make = |reply| match &op {
            HoldOp::Create(req, _) => Msg::CreateHold {
                req: req.clone(),
                reply,
            },
            HoldOp::Read => Msg::ReadHold { reply },
            HoldOp::Extend(ttl_s) => Msg::ExtendHold {
                ttl_s: *ttl_s,
                reply,
            },
            HoldOp::Release => Msg::ReleaseHold { reply },
        };
        let msg_for = make;
        let p = Pending::Hold(id, op.clone());
        self.offer(ActorRef::Hold(no), msg_for, p);
    }

    /// An order naming acknowledged hold `id`: some of its lines (at most
    /// what it holds) and perhaps another. The simulator numbers it, in a
    /// block per restart the cluster's own numbering never reaches.
    fn convert(&mut self, id: Arc<str>) {
        let hold = self.holds.holds[&id].request.clone();
        let mut lines = Vec::new();
        for l in &hold.lines {
            if self.r.random_bool(0.7) {
                lines.push(OrderLine {
                    sku: l.sku,
                    qty: self.r.random_range(1..=l.qty),
                });
            }
        }
        if lines.is_empty() {
            lines.push(hold.lines[0]);
        }
        if self.r.random_bool(0.3) {
            let sku = SkuIdx(self.r.random_range(0..self.opt.skus));
            if lines.iter().all(|l| l.sku != sku) {
                lines.push(OrderLine {
                    sku,
                    qty: self.r.random_range(1..=3),
                });
            }
        }
        let order_id = self.fresh("o");
        let (lat, lon, service_level) = self.ship_to();
        let req = PlaceRequest {
            order_id: order_id.clone(),
            channel: "web".into(),
            lat,
            lon,
            service_level,
            lines: lines.clone(),
            allow_backorder: self.r.random_bool(0.8),
        };
        let limits = &self.cfg.limits;
        if validate_request(&req, limits.order_lines_max as usize, limits.qty_max).is_err() {
            return;
        }
        self.conversions += 1;
        let shard = self.r.random_range(0..self.opt.shards);
        let k = ((u64::from(self.restarts) + 1) << 32) + self.conversions;
        let no = self.cluster.ownership().order_no(shard, k);
        let hold_no = self.holds.number(&id);
        let desc: Vec<String> = lines
            .iter()
            .map(|l| format!("{}x{}", l.sku.0, l.qty))
            .collect();
        self.log(format!(
            "place {order_id} [{}] with hold {id} as {}",
            desc.join(" "),
            no.0
        ));
        self.holds
            .holds
            .get_mut(&id)
            .expect("picked from the book")
            .orders
            .push(no);
        self.offer(
            ActorRef::Hold(hold_no),
            |reply| Msg::ConvertHold {
                order: no,
                req,
                reply,
            },
            Pending::PlaceHold(order_id, lines, id, no),
        );
    }

    fn known_order(&mut self) -> Option<OrderNo> {
        if self.book.orders.is_empty() {
            return None;
        }
        let i = self.r.random_range(0..self.book.orders.len());
        self.book.orders.keys().nth(i).copied()
    }

    fn cancel(&mut self) {
        let no = if self.r.random_bool(0.1) {
            Some(OrderNo(1_000_000_007))
        } else {
            self.known_order()
        };
        if let Some(no) = no {
            // A cancel puts picked units back: no other change of those
            // cells, and no scan of the order, may race it.
            let cells: Vec<CellKey> = self
                .book
                .picks
                .get(&no)
                .map(|p| p.iter().map(|x| x.0).collect())
                .unwrap_or_default();
            if self.busy_orders.contains(&no) || cells.iter().any(|c| self.busy.contains(c)) {
                return;
            }
            self.busy.extend(cells);
            self.busy_orders.insert(no);
            self.log(format!("cancel {}", no.0));
            self.offer(
                ActorRef::Order(no),
                |reply| Msg::Cancel { reply },
                Pending::Cancel(no),
            );
        }
    }

    fn base_scan(&mut self, kind: ScanKind, n: u16, facility: FacilityIdx) -> Scan {
        Scan {
            event_id: self.fresh("e"),
            kind,
            fulfillment: n,
            facility,
            sku: None,
            qty: None,
            carrier: None,
            tracking: None,
            reason: None,
            disposition: None,
            at: self.now,
        }
    }

    /// A scan: the next valid step of a live fulfillment, a duplicate of
    /// one sent before, or one out of order.
    fn scan(&mut self) {
        let choice = self.r.random_range(0..4);
        let scan = if choice == 0 && !self.sent_scans.is_empty() {
            let i = self.r.random_range(0..self.sent_scans.len());
            let (no, s) = self.sent_scans[i].clone();
            self.log(format!("duplicate scan {} of {}", s.event_id, no.0));
            Some((no, s))
        } else {
            self.next_scan(choice == 1)
        };
        let Some((no, s)) = scan else { return };
        let Some(order) = self.cluster.order(no) else {
            return;
        };
        let fac = order
            .fulfillment(s.fulfillment)
            .map_or(s.facility, |f| f.facility);
        let effect = match (s.kind, s.sku, s.qty) {
            (ScanKind::Pick, Some(sku), Some(q)) => {
                Some((CellKey { sku, facility: fac }, -i64::from(q)))
            }
            (ScanKind::ReturnReceived, Some(sku), Some(q))
                if s.disposition == Some(Disposition::Restock) =>
            {
                Some((
                    CellKey {
                        sku,
                        facility: s.facility,
                    },
                    i64::from(q),
                ))
            }
            _ => None,
        };
        if let Some((cell, _)) = effect {
            if self.busy.contains(&cell) || self.busy_orders.contains(&no) {
                return;
            }
            self.busy.insert(cell);
            self.busy_orders.insert(no);
        }
        self.log(format!(
            "scan {} {} {:?} f{} at {} sku {:?} qty {:?}",
            no.0,
            s.event_id,
            s.kind,
            s.fulfillment,
            s.facility.0,
            s.sku.map(|x| x.0),
            s.qty
        ));
        self.sent_scans.push((no, s.clone()));
        let msg_scan = s.clone();
        let sent = self.offer(
            ActorRef::Order(no),
            |reply| Msg::Scan {
                scan: msg_scan,
                reply,
            },
            Pending::Scan(no, s, effect),
        );
        if !sent {
            if let Some((cell, _)) = effect {
                self.busy.remove(&cell);
                self.busy_orders.remove(&no);
            }
        }
    }

    fn next_scan(&mut self, junk: bool) -> Option<(OrderNo, Scan)> {
        use FulfillmentStatus as S;
        let mut live: Vec<(OrderNo, u16)> = self
            .cluster
            .orders()
            .flat_map(|o| {
                let no = o.no();
                o.fulfillments()
                    .iter()
                    .filter(|f| !matches!(f.status, S::Returned | S::Cancelled | S::Routed))
                    .map(move |f| (no, f.n))
            })
            .collect();
        if live.is_empty() {
            return None;
        }
        live.sort();
        let (no, n) = live[self.r.random_range(0..live.len())];
        let f = self.cluster.order(no)?.fulfillment(n)?.clone();
        let variant: u8 = self.r.random();
        let carrier = |c: &[ScanKind]| c[usize::from(variant) % c.len()];
        let kind = if junk {
            carrier(&[
                ScanKind::Pick,
                ScanKind::Pack,
                ScanKind::Ship,
                ScanKind::InTransit,
                ScanKind::Delivered,
                ScanKind::ReturnReceived,
            ])
        } else {
            match f.status {
                S::Released | S::Picking if f.lines.iter().any(|l| l.picked < l.qty) => {
                    ScanKind::Pick
                }
                S::Released | S::Picking => ScanKind::Pack,
                S::Packed => ScanKind::Ship,
                S::Shipped | S::InTransit => carrier(&[
                    ScanKind::InTransit,
                    ScanKind::OutForDelivery,
                    ScanKind::Delivered,
                    ScanKind::DeliveryException,
                ]),
                S::OutForDelivery => carrier(&[ScanKind::Delivered, ScanKind::DeliveryException]),
                S::Exception => carrier(&[ScanKind::InTransit, ScanKind::Delivered]),
                S::Delivered => ScanKind::ReturnReceived,
                _ => return None,
            }
        };
        let mut s = self.base_scan(kind, n, f.facility);
        let line = f.lines[usize::from(variant) % f.lines.len()];
        match kind {
            ScanKind::Pick => {
                let l = f.lines.iter().find(|l| l.picked < l.qty).unwrap_or(&line);
                s.sku = Some(l.sku);
                s.qty = Some(if junk || variant % 3 == 1 {
                    1 + u32::from(variant % 4)
                } else {
                    l.qty - l.picked
                });
            }
            ScanKind::Ship => {
                s.carrier = Some("UPS".into());
                s.tracking = Some("1Z".into());
            }
            ScanKind::DeliveryException => s.reason = Some("damaged".into()),
            ScanKind::ReturnReceived => {
                let l = f
                    .lines
                    .iter()
                    .find(|l| l.returned < l.picked)
                    .unwrap_or(&line);
                s.sku = Some(l.sku);
                s.qty = Some(if junk || variant % 3 == 1 {
                    1
                } else {
                    (l.picked - l.returned).max(1)
                });
                s.disposition = Some(if variant % 2 == 1 {
                    Disposition::Dispose
                } else {
                    Disposition::Restock
                });
                s.facility = FacilityIdx(u16::from(variant) % self.opt.facilities);
            }
            _ => {}
        }
        Some((no, s))
    }

    fn receive(&mut self) {
        let (id, cell, qty) = if self.r.random_bool(0.2) && !self.sent_receipts.is_empty() {
            let i = self.r.random_range(0..self.sent_receipts.len());
            self.sent_receipts[i].clone()
        } else {
            let cell = self.cell();
            let qty = self.r.random_range(1..=4);
            (self.fresh("r"), cell, qty)
        };
        if !self.busy.insert(cell) {
            return;
        }
        self.log(format!(
            "receipt {id} {qty} at {}/{}",
            cell.sku.0, cell.facility.0
        ));
        self.sent_receipts.push((id.clone(), cell, qty));
        let rid = id.clone();
        if !self.offer(
            ActorRef::Desk(cell.sku),
            |reply| Msg::Receive {
                facility: cell.facility,
                qty,
                restock: false,
                receipt_id: Some(rid),
                reply: Some(reply),
            },
            Pending::Receive(id, cell, qty),
        ) {
            self.busy.remove(&cell);
        }
    }

    fn adjust(&mut self) {
        let (id, cell, to) = if self.r.random_bool(0.15) && !self.sent_adjusts.is_empty() {
            let i = self.r.random_range(0..self.sent_adjusts.len());
            self.sent_adjusts[i].clone()
        } else {
            let cell = self.cell();
            let have = self.book.on_hand.get(&cell).copied().unwrap_or(0);
            let to = (have + self.r.random_range(-2..=2)).max(0) as u32;
            (self.fresh("a"), cell, to)
        };
        if !self.busy.insert(cell) {
            return;
        }
        self.log(format!(
            "adjust {id} to {to} at {}/{}",
            cell.sku.0, cell.facility.0
        ));
        self.sent_adjusts.push((id.clone(), cell, to));
        let aid = id.clone();
        if !self.offer(
            ActorRef::Cells(cell.facility),
            |reply| Msg::Adjust {
                sku: cell.sku,
                on_hand: to,
                adjustment_id: aid,
                reply,
            },
            Pending::Adjust(id, cell, to),
        ) {
            self.busy.remove(&cell);
        }
    }

    fn status(&mut self) {
        let f = FacilityIdx(self.r.random_range(0..self.opt.facilities));
        let (enabled, until) = match self.r.random_range(0..5) {
            0 => (false, None),
            1 | 2 => (
                false,
                Some(self.now + self.r.random_range(1_000..7_200_000)),
            ),
            _ => (true, None),
        };
        self.log(format!("status {} enabled {enabled} until {until:?}", f.0));
        self.offer(
            ActorRef::Facility(f),
            |reply| Msg::SetStatus {
                enabled,
                until,
                reply,
            },
            Pending::Other,
        );
    }

    fn clock(&mut self) -> Result<(), String> {
        let wait_max = self
            .cfg
            .network
            .facilities
            .iter()
            .map(|f| f.wave.wait_ms_max)
            .max()
            .unwrap_or(1_000);
        let active: Vec<Millis> = self
            .holds
            .holds
            .values()
            .filter(|h| h.fate == Fate::Active && h.expires_at > self.now)
            .map(|h| h.expires_at)
            .collect();
        let dt = match self.r.random_range(0..12) {
            0..=6 => self.r.random_range(0..3_000),
            7 | 8 => wait_max + self.r.random_range(1..20_000),
            9 => self.r.random_range(3_600_000..26 * 3_600_000),
            // Just past (or just short of) an active hold's expiry.
            _ if !active.is_empty() => {
                let at = active[self.r.random_range(0..active.len())];
                (at - self.now + self.r.random_range(0..2_000)).saturating_sub(500)
            }
            _ => self.r.random_range(0..3_000),
        };
        self.now += dt;
        self.log(format!("clock +{dt} ms"));
        // The timers fire in the ticks the schedule runs next, interleaved
        // with whatever is in flight.
        self.cluster.set_now(self.now);
        // Sometimes the power goes as the clock crosses expiries.
        if self.opt.crash > 0.0 && !active.is_empty() && self.r.random_bool(0.1) {
            self.crash()?;
        }
        Ok(())
    }

    // ---- the disk, answers, crashes ----

    fn disk_step(&mut self) -> Result<(), String> {
        let (wf, dm) = if self.faults {
            (self.opt.write_fail, self.opt.fsync_delay_max)
        } else {
            (0.0, 0)
        };
        let early = self.bug == Some(Bug::AckBeforeDurable);
        if let Some(n) = self.disk.step(
            self.cluster.journal(),
            self.base,
            &mut self.dr,
            wf,
            dm,
            early,
        ) {
            self.ack_to = self.ack_to.max(n - self.base);
        }
        // Also releases replies of ticks that journaled nothing.
        self.cluster.mark_durable(self.ack_to);
        // The journal hook hands the tail what is durable (the bug: what
        // is journaled, durable or not).
        let upto = if self.bug == Some(Bug::EventsBeforeDurable) {
            self.base + self.cluster.journaled()
        } else {
            self.base + self.ack_to
        };
        self.events
            .take(self.cluster.journal(), self.base, upto, self.now);
        // The tail saves what it took to the event store, which covers
        // it once fsynced.
        let sdm = if self.faults {
            self.opt.store_delay_max
        } else {
            0
        };
        self.events.save(&mut self.dr, wf, sdm);
        Ok(())
    }

    fn collect(&mut self) -> Result<(), String> {
        let mut answers: Vec<(RequestId, Answer)> = self.cluster.take_answers().collect();
        answers.sort_by_key(|a| a.0);
        for (id, answer) in answers {
            let Some(p) = self.pending.remove(&id) else {
                return Err(format!("answer to a request never sent: {id} {answer:?}"));
            };
            self.acked += 1;
            self.log(format!("  ack {p:?} -> {answer:?}", p = short(&p)));
            self.apply(p, answer, id)?;
        }
        Ok(())
    }

    fn apply(&mut self, p: Pending, answer: Answer, rid: RequestId) -> Result<(), String> {
        match (p, answer) {
            (Pending::Place(id, lines), Answer::Placed(Ok(no))) => {
                self.book.orders.insert(no, (id, lines));
            }
            (Pending::Place(id, _), Answer::Placed(Err(_))) => {
                self.book.refused.insert(id);
            }
            (Pending::Cancel(no), Answer::Cancelled(Ok(()))) => {
                self.busy_orders.remove(&no);
                if self.book.cancelled.insert(no) {
                    for (cell, q) in self.book.picks.remove(&no).unwrap_or_default() {
                        self.book.moved(cell, q, |f| f.restocked += q);
                    }
                }
            }
            (Pending::Scan(no, scan, effect), Answer::Scanned(a)) => {
                self.busy_orders.remove(&no);
                if a == ScanAnswer::Applied {
                    self.book.scans.push((no, scan.clone()));
                }
                if let (Some((cell, d)), ScanAnswer::Applied) = (effect, &a) {
                    if d < 0 {
                        self.book.picks.entry(no).or_default().push((cell, -d));
                    }
                }
                // The pick or restock reaches the cell after the answer:
                // the cell stays busy until the next quiescent point.
                if let Some((cell, delta)) = effect {
                    if a == ScanAnswer::Applied {
                        self.book.moved(cell, delta, |f| {
                            if delta < 0 {
                                f.picked -= delta
                            } else {
                                f.restocked += delta
                            }
                        });
                    }
                }
            }
            (Pending::Receive(id, cell, qty), Answer::Stock(a)) => {
                self.busy.remove(&cell);
                if matches!(a, StockAnswer::Applied { .. }) {
                    // A receipt id is applied once, across restarts too
                    // (the snapshot carries the ids it covers).
                    if self.book.receipts.iter().any(|r| r.0 == id) {
                        return Err(format!("receipt {id} applied twice"));
                    }
                    self.book
                        .moved(cell, i64::from(qty), |f| f.received += i64::from(qty));
                    self.book.receipts.push((id, cell, qty));
                }
            }
            (Pending::Adjust(id, cell, to), Answer::Stock(a)) => {
                self.busy.remove(&cell);
                if matches!(a, StockAnswer::Applied { .. }) {
                    if self.book.adjustments.iter().any(|r| r.0 == id) {
                        return Err(format!("adjustment {id} applied twice"));
                    }
                    let have = self.book.on_hand.get(&cell).copied().unwrap_or(0);
                    let delta = i64::from(to) - have;
                    self.book.moved(cell, delta, |f| f.adjusted += delta);
                    self.book.adjustments.push((id, cell, to));
                }
            }
            (Pending::Cancel(no), Answer::Cancelled(_)) => {
                self.busy_orders.remove(&no);
            }
            (Pending::Hold(id, op), Answer::Hold(a)) => self.hold_answered(id, op, a, rid)?,
            (Pending::PlaceHold(oid, lines, hid, no), Answer::Placed(a)) => {
                match a {
                    Ok(got) if got != no => {
                        return Err(format!("order {oid} numbered {} placed as {}", no.0, got.0))
                    }
                    Ok(_) => {
                        self.book.orders.insert(no, (oid, lines));
                    }
                    Err(_) => {
                        self.book.refused.insert(oid);
                    }
                }
                // The hold was converted or had ended: read which.
                self.holds.learn(&hid, Fate::Ended, rid, self.next_req)?;
                self.log(format!("read hold {hid}"));
                self.send_hold(hid, HoldOp::Read);
            }
            (Pending::Other, _) => {}
            (p, a) => return Err(format!("{p:?} answered {a:?}", p = short(&p))),
        }
        Ok(())
    }

    /// The answer `a` to hold request `op` about `id` (request `rid`).
    fn hold_answered(
        &mut self,
        id: Arc<str>,
        op: HoldOp,
        a: Result<Box<HoldState>, HoldError>,
        rid: RequestId,
    ) -> Result<(), String> {
        let sent = self.next_req;
        let known = self.holds.holds.contains_key(&id);
        let ttl_ok = |t: u32| (1..=self.cfg.limits.hold_ttl_s_max.min(TTL_S_CEILING)).contains(&t);
        let bad = |what: &str, a: &dyn std::fmt::Debug| {
            Err(format!("{what} of hold {id} answered {a:?}"))
        };
        match (op, a) {
            (HoldOp::Create(req, true), Ok(s)) => self.holds.created(&id, &req, &s)?,
            (HoldOp::Create(req, true), Err(e)) => {
                let expected = match &e {
                    HoldError::Refused(HoldRefusal::Ttl { .. }) => !ttl_ok(req.ttl_s),
                    HoldError::Refused(HoldRefusal::InsufficientStock) => true,
                    HoldError::Overloaded => true,
                    _ => false,
                };
                if !expected {
                    return bad("create", &e);
                }
                self.holds.refused.insert(id);
            }
            (HoldOp::Create(req, false), a) => {
                let same = self.holds.holds[&id].request == req;
                match a {
                    Ok(s) if same => self.holds.observe(&id, &s, rid, sent)?,
                    Err(HoldError::Conflict) if !same => {}
                    a => return bad("a repeated create", &a),
                }
            }
            (HoldOp::Read, Ok(s)) if known => self.holds.observe(&id, &s, rid, sent)?,
            (HoldOp::Read, Err(HoldError::Unknown)) if !known => {}
            (HoldOp::Extend(_), Ok(s)) if s.status() == orch_actors::hold::HoldStatus::Active => {
                self.holds.observe(&id, &s, rid, sent)?;
                let h = self.holds.holds.get_mut(&id).expect("known");
                h.expires_at = s.expires_at();
            }
            (HoldOp::Extend(t), Err(HoldError::Refused(HoldRefusal::Ttl { .. }))) if !ttl_ok(t) => {
            }
            (HoldOp::Extend(t), Err(HoldError::Refused(HoldRefusal::NotActive(st))))
                if ttl_ok(t) =>
            {
                let seen = match st {
                    "expired" => Fate::Expired,
                    "released" => Fate::Released,
                    _ => Fate::Ended,
                };
                self.holds.learn(&id, seen, rid, sent)?;
            }
            (HoldOp::Release, Ok(s)) if s.status() != orch_actors::hold::HoldStatus::Active => {
                self.holds.observe(&id, &s, rid, sent)?;
            }
            (HoldOp::Release, Err(HoldError::Refused(HoldRefusal::Converted))) => {
                self.holds.learn(&id, Fate::Ended, rid, sent)?;
            }
            (op, a) => return bad(&format!("{op:?}"), &a),
        }
        Ok(())
    }

    fn crash(&mut self) -> Result<(), String> {
        self.history.truncate(self.base);
        self.history.extend_from_slice(self.cluster.journal());
        let torn = self.disk.power_loss(&mut self.dr);
        let snap_torn = self.snaps.power_loss(&mut self.dr);
        let store_torn = self.events.power_loss(&mut self.dr);
        let (first, entries) = self.disk.recover()?;
        // The restart comes a while later (as a real one does).
        let down = self.dr.random_range(DOWNTIME_MS);
        self.now += down;
        self.log(format!(
            "POWER LOSS: journaled {} written {} kept {} entries from {first}, torn tail {torn} bytes, snapshot files {snap_torn} torn bytes, event store {store_torn} torn bytes (covers {}); {} requests in flight lost; restart {down} ms later",
            self.base + self.cluster.journaled(),
            self.disk.written(),
            entries.len(),
            self.events.covered(),
            self.pending.len()
        ));
        if let Some(c) = self.ckpt.take() {
            let next = c.next().expect("a checkpoint in progress has a step left");
            self.checkpoint_cuts[next as usize] += 1;
            self.log(format!(
                "  checkpoint of generation {} (seq {}) cut before {:?}",
                c.generation, c.seq, next
            ));
        }
        self.snaps.cut_torn();
        let found = self.snaps.load();
        for why in &found.ignored {
            self.log(format!("  snapshot ignored: {why}"));
        }
        let end = first + entries.len();
        self.history.truncate(end);
        if self.history.get(first..) != Some(&entries[..]) {
            return Err(format!(
                "the journal kept {first}..{end}, not what was journaled there"
            ));
        }
        let from = found.snapshot.as_ref().map_or(0, |s| s.seq as usize);
        if from < first || from > end {
            // As the production journal reader refuses a start before its
            // first segment (`JournalError::Missing`).
            return Err(format!(
                "restart failed: journal records missing: the restart needs the journal from {from} ({}), it holds {first}..{end}",
                match &found.snapshot {
                    Some(s) => format!("after snapshot generation {}", s.generation),
                    None => "no snapshot".into(),
                }
            ));
        }
        let mut replay = entries[from - first..].to_vec();
        if self.bug == Some(Bug::ReceiptTwiceOnReplay) {
            replay = replay
                .into_iter()
                .flat_map(|e| {
                    let twice = matches!(e, orch_actors::log::LogEntry::Received { .. });
                    let again = twice.then(|| e.clone());
                    std::iter::once(e).chain(again)
                })
                .collect();
        }
        // What was in flight may have become durable: its events may be
        // there, once.
        for p in self.pending.values() {
            match p {
                Pending::Cancel(no) => {
                    self.doubt.cancels.insert(*no);
                }
                Pending::Scan(no, s, _) => {
                    *self
                        .doubt
                        .scans
                        .entry((*no, s.fulfillment, scan_event(s.kind)))
                        .or_default() += 1;
                }
                _ => {}
            }
        }
        self.pending.clear();
        self.busy.clear();
        self.busy_orders.clear();
        self.restarts += 1;
        let options = cluster_options(&self.opt, self.restarts);
        self.cluster = match found.snapshot {
            Some(snap) => {
                self.log(format!(
                    "  restart from snapshot generation {} (seq {}) + {} entries",
                    snap.generation,
                    snap.seq,
                    replay.len()
                ));
                self.snapshot_restarts += 1;
                let b = snap.load(&self.cfg, self.now)?;
                self.events.restart(
                    from,
                    Some((&mut b.world.orders.values(), &mut b.world.holds.values())),
                    &entries[from - first..],
                    self.now,
                )?;
                Cluster::restore_from_snapshot(
                    &self.cfg,
                    options,
                    self.now,
                    b.world,
                    b.receipts,
                    b.adjustments,
                    replay,
                )
            }
            None => {
                self.events
                    .restart(from, None, &entries[from - first..], self.now)?;
                Cluster::restore(&self.cfg, options, self.now, replay)
            }
        }
        .map_err(|e| format!("restart failed: {e}"))?;
        self.cluster.check_cells_every_tick(true);
        self.cluster.hold_durability(true);
        if from > 0 {
            self.same_as_whole_journal()?;
        }
        self.disk = Disk::with(first, &entries);
        self.base = from;
        self.ack_to = self.cluster.journaled();
        self.check_restart()?;
        // The first ticks run the timers (holds that expired while down).
        self.quiesce()?;
        self.check_quiescent()
    }

    /// A second opinion on a restart from a snapshot: the state equals
    /// what the whole journal (kept here, not on the simulated disk)
    /// replays to from the configured network.
    fn same_as_whole_journal(&self) -> Result<(), String> {
        let mut whole = orch_actors::sim::World::new(&self.cfg, self.now);
        for (i, e) in self.history.iter().enumerate() {
            whole
                .replay(e)
                .map_err(|err| format!("whole journal, entry {i}: {err}"))?;
        }
        let differs = |what: &str| {
            Err(format!(
                "restart from a snapshot differs from the whole journal's replay: {what}"
            ))
        };
        let mut cells: Vec<_> = self.cluster.cells().collect();
        cells.sort_by_key(|c| c.0);
        let mut want: Vec<_> = whole.cells.iter().map(|(k, c)| (*k, c)).collect();
        want.sort_by_key(|c| c.0);
        if cells.len() != want.len() {
            return differs(&format!("{} cells, {} replayed", cells.len(), want.len()));
        }
        if let Some((a, _)) = cells.iter().zip(&want).find(|(a, b)| a != b) {
            return differs(&format!("cell {:?}", a.0));
        }
        let mut orders: Vec<_> = self.cluster.orders().collect();
        orders.sort_by_key(|o| o.no());
        let mut want: Vec<_> = whole.orders.values().collect();
        want.sort_by_key(|o| o.no());
        if orders.len() != want.len() {
            return differs(&format!("{} orders, {} replayed", orders.len(), want.len()));
        }
        if let Some((a, _)) = orders.iter().zip(&want).find(|(a, b)| a != b) {
            return differs(&format!("order {}", a.no().0));
        }
        // Waiting lines in serving order (a desk's count of lines served
        // is a statistic: the snapshot leaves empty desks out, as the
        // production one does, so it restarts at 0 for them).
        let queues = |d: &mut dyn Iterator<Item = (SkuIdx, &DeskState)>| {
            let mut q: Vec<(SkuIdx, Vec<(LineRef, u32)>)> = d
                .filter(|d| d.1.waiting() > 0)
                .map(|(s, d)| (s, d.queue().collect()))
                .collect();
            q.sort_by_key(|d| d.0);
            q
        };
        let desks = queues(&mut self.cluster.desks());
        if desks != queues(&mut whole.desks.iter().map(|(s, d)| (*s, d))) {
            return differs("desk queues");
        }
        // Facilities by what their decisions read (the state has no
        // equality of its own).
        let seen = |f: &orch_actors::facility::FacilityState| {
            (
                f.idx(),
                f.disabled_until(),
                f.queued(),
                f.open_waves(),
                f.released_today(),
                f.capacity_left(),
            )
        };
        for w in &whole.facilities {
            let have = self.cluster.facility(w.idx()).map(seen);
            if have != Some(seen(w)) {
                return differs(&format!(
                    "facility {}: {have:?}, replayed {:?}",
                    w.idx().0,
                    seen(w)
                ));
            }
        }
        let mut holds: Vec<_> = self.cluster.holds().collect();
        holds.sort_by_key(|h| h.no());
        let mut want: Vec<_> = whole.holds.values().collect();
        want.sort_by_key(|h| h.no());
        if holds != want {
            return differs("holds");
        }
        Ok(())
    }

    // ---- checkpoints ----

    /// One step of the checkpoint in progress, or (by the seed's chance)
    /// the start of one; then, by the seed's chance, a power loss.
    fn checkpoint_step(&mut self) -> Result<(), String> {
        let step = match self.ckpt {
            None if self.dr.random_bool(self.opt.snapshot_rate) => {
                match self.start_checkpoint()? {
                    Some(g) => (g, Step::Write),
                    None => return Ok(()),
                }
            }
            None => return Ok(()),
            Some(mut c) => {
                let step = c.next().expect("a checkpoint in progress has a step left");
                let fails = self.opt.write_fail > 0.0 && self.dr.random_bool(self.opt.write_fail);
                match step {
                    Step::Fsync | Step::FsyncMark if fails => {
                        self.disk.failures += 1;
                        self.log(format!(
                            "checkpoint {}: {step:?} failed (retried)",
                            c.generation
                        ));
                        return Ok(());
                    }
                    Step::Fsync => self.snaps.fsync(c.generation),
                    Step::Mark => self.snaps.mark_current(Current {
                        generation: c.generation,
                        seq: c.seq,
                    }),
                    Step::FsyncMark => self.snaps.fsync_current(),
                    Step::DeleteJournal => {
                        self.disk.delete_before(c.seq as usize)?;
                        if let Some(p) = c.previous {
                            self.snaps.delete_before(p);
                        }
                    }
                    Step::Write => unreachable!("a checkpoint starts with its write"),
                }
                c.took();
                self.ckpt = c.next().map(|_| c);
                if self.ckpt.is_none() {
                    self.snapshots += 1;
                }
                (c.generation, step)
            }
        };
        self.log(format!("checkpoint {}: {:?} done", step.0, step.1));
        if self.opt.snapshot_crash > 0.0 && self.dr.random_bool(self.opt.snapshot_crash) {
            self.crash()?;
        }
        Ok(())
    }

    /// Takes a checkpoint's first step, as the production checkpoint
    /// thread does: the current snapshot (if any) plus the durable journal
    /// after it, replayed by `World::replay`, written as the next
    /// generation (returned). None when the journal holds nothing new.
    fn start_checkpoint(&mut self) -> Result<Option<u64>, String> {
        let found = self.snaps.load();
        let previous = found.snapshot.as_ref().map(|s| s.generation);
        let (from, mut base) = match found.snapshot {
            Some(s) => (s.seq as usize, s.load(&self.cfg, self.now)?),
            None => (
                0,
                Base {
                    world: orch_actors::sim::World::new(&self.cfg, self.now),
                    receipts: Vec::new(),
                    adjustments: Vec::new(),
                },
            ),
        };
        // Never past what the event store covers, so no journal entry is
        // deleted before its events are durable (the bug: ignore it).
        let upto = if self.bug == Some(Bug::CheckpointPastStore) {
            self.disk.durable()
        } else {
            self.disk.durable().min(self.events.covered())
        };
        if upto <= from {
            return Ok(None);
        }
        let first = self.disk.first();
        if from < first {
            return Err(format!(
                "checkpoint: the current snapshot covers up to {from}, the journal starts at {first}"
            ));
        }
        let entries = self.disk.durable_entries()?;
        for e in &entries[from - first..upto - first] {
            match e {
                orch_actors::log::LogEntry::Received { receipt_id, .. } => {
                    base.receipts.push(receipt_id.clone())
                }
                orch_actors::log::LogEntry::Adjusted { adjustment_id, .. } => {
                    base.adjustments.push(adjustment_id.clone())
                }
                _ => {}
            }
            base.world
                .replay(e)
                .map_err(|err| format!("checkpoint: replaying entry {from}+: {err}"))?;
        }
        let generation = self.snaps.next_generation();
        let snap = Snapshot::of(&base, generation, upto as u64, self.now);
        self.snaps.write(&snap);
        let order = match self.bug {
            Some(Bug::DeleteJournalEarly) => checkpoint::DELETE_EARLY,
            Some(Bug::MarkBeforeFsync) => checkpoint::MARK_EARLY,
            _ => checkpoint::ORDER,
        };
        self.ckpt = Some(Checkpoint::started(
            generation,
            upto as u64,
            previous,
            order,
        ));
        self.log(format!(
            "checkpoint {generation}: snapshot of {} entries ({}..{upto}) over generation {previous:?}",
            upto - from,
            from
        ));
        Ok(Some(generation))
    }

    /// Runs until nothing is in flight, the disk holds everything and every
    /// request is answered.
    fn quiesce(&mut self) -> Result<(), String> {
        for _ in 0..10_000 {
            let mut steps = 0;
            while self.cluster.step() {
                self.check_cells()?;
                steps += 1;
                if steps > 200_000 {
                    return Err("the cluster never went quiet (200,000 steps)".into());
                }
            }
            self.disk_step()?;
            self.collect()?;
            if self.disk.durable() == self.base + self.cluster.journaled()
                && self.cluster.held_replies() == 0
                && !self.cluster.step()
            {
                if !self.pending.is_empty() {
                    let lost: Vec<String> = self
                        .pending
                        .iter()
                        .take(5)
                        .map(|(id, p)| format!("{id}: {}", short(p)))
                        .collect();
                    return Err(format!(
                        "quiescent with {} requests never answered (held {}, journal {}, disk {}): {}",
                        self.pending.len(),
                        self.cluster.held_replies(),
                        self.cluster.journaled(),
                        self.disk.durable(),
                        lost.join("; ")
                    ));
                }
                self.busy.clear();
                return Ok(());
            }
        }
        Err(format!(
            "no quiescence within 10,000 rounds: {} pending, held {}, journal {}, disk {} written {}",
            self.pending.len(),
            self.cluster.held_replies(),
            self.cluster.journaled(),
            self.disk.durable(),
            self.disk.written()
        ))
    }

    // ---- checks ----

    fn check_cells(&mut self) -> Result<(), String> {
        match self.cluster.violations().first() {
            Some(v) => Err(format!("cell invariant broken after a tick: {v}")),
            None => Ok(()),
        }
    }

    /// After a restart: every acknowledged change is there, nothing
    /// refused or never acknowledged is.
    fn check_restart(&mut self) -> Result<(), String> {
        for (no, (id, lines)) in &self.book.orders {
            match self.cluster.order(*no) {
                None => return Err(format!("acknowledged order {id} ({}) lost", no.0)),
                Some(o) if o.request().order_id != *id || o.request().lines != *lines => {
                    return Err(format!("order {} came back as another", no.0))
                }
                Some(_) => {}
            }
        }
        let mut orders: Vec<_> = self.cluster.orders().collect();
        orders.sort_by_key(|o| o.no());
        for o in orders {
            let id = &o.request().order_id;
            if self.book.refused.contains(id) {
                return Err(format!("refused order {id} appeared after restart"));
            }
            if !self.book.orders.contains_key(&o.no()) {
                return Err(format!("unacknowledged order {id} appeared after restart"));
            }
        }
        let (now, sent) = (self.now, self.next_req);
        self.holds.check_restart(self.cluster.holds(), now, sent)?;
        self.log(format!(
            "restart checked: {} orders, {} holds, {} receipts, {} counts",
            self.book.orders.len(),
            self.holds.holds.len(),
            self.book.receipts.len(),
            self.book.adjustments.len()
        ));
        Ok(())
    }

    /// At a quiescent point: the invariants, from the book.
    fn check_quiescent(&mut self) -> Result<(), String> {
        let anomalies = self.cluster.anomalies();
        if let Some(a) = anomalies.first() {
            return Err(format!("engine anomaly: {a}"));
        }
        if self.cluster.held_replies() != 0 {
            return Err("replies held at a quiescent point".into());
        }
        // Stock on hand per cell, as the book implies it.
        let mut core: BTreeMap<CellKey, i64> = BTreeMap::new();
        let mut per_sku: BTreeMap<SkuIdx, i64> = BTreeMap::new();
        let mut reserved_lines: BTreeMap<LineRef, (CellKey, u32)> = BTreeMap::new();
        // Sorted, so that the first violation reported is the same every run.
        let mut cells: Vec<_> = self.cluster.cells().collect();
        cells.sort_by_key(|c| c.0);
        for (k, c) in cells {
            core.insert(k, i64::from(c.on_hand()));
            *per_sku.entry(k.sku).or_default() += i64::from(c.on_hand());
            if c.reserved() > c.on_hand() {
                return Err(format!(
                    "oversold {k:?}: reserved {} > on hand {}",
                    c.reserved(),
                    c.on_hand()
                ));
            }
            for (line, q) in c.reservations() {
                if let Some(prev) = reserved_lines.insert(line, (k, q)) {
                    return Err(format!("{line:?} reserved twice: at {prev:?} and {k:?}"));
                }
            }
        }
        for (k, want) in &self.book.on_hand {
            let have = core.get(k).copied().unwrap_or(0);
            if have != *want {
                return Err(format!("{k:?}: on hand {have}, the book says {want}"));
            }
        }
        for (k, have) in &core {
            if !self.book.on_hand.contains_key(k) && *have != 0 {
                return Err(format!("{k:?}: on hand {have} the book never saw"));
            }
        }
        let skus: BTreeSet<SkuIdx> = self
            .book
            .flows
            .keys()
            .chain(per_sku.keys())
            .copied()
            .collect();
        for sku in skus {
            self.book
                .conserved(sku, per_sku.get(&sku).copied().unwrap_or(0))?;
        }
        // Reservations match live, acknowledged orders.
        for (line, (k, q)) in &reserved_lines {
            let Some((id, lines)) = self.book.orders.get(&line.order) else {
                return Err(format!(
                    "{k:?} holds {q} for {line:?} of an order never acknowledged"
                ));
            };
            if self.book.cancelled.contains(&line.order) {
                return Err(format!("{k:?} holds {q} for cancelled order {id}"));
            }
            let ol = lines.get(usize::from(line.line));
            if ol.is_none_or(|l| l.sku != k.sku || l.qty < *q) {
                return Err(format!("{k:?} holds {q} for {line:?}, which asks {ol:?}"));
            }
        }
        let mut expected = BTreeSet::new();
        for o in self.cluster.orders() {
            for (k, line, q) in o.expected_reservations() {
                expected.insert((line, k, q));
            }
        }
        let actual: BTreeSet<(LineRef, CellKey, u32)> = reserved_lines
            .iter()
            .map(|(l, (k, q))| (*l, *k, *q))
            .collect();
        if let Some(x) = actual.symmetric_difference(&expected).next() {
            return Err(format!("reservations differ from the live orders at {x:?}"));
        }
        // Backorders: waiting lines of live orders, holding nothing.
        let mut desks: Vec<_> = self.cluster.desks().collect();
        desks.sort_by_key(|d| d.0);
        for (sku, d) in desks {
            let mut queue: Vec<_> = d.queue().collect();
            queue.sort();
            for (line, q) in queue {
                let Some((id, lines)) = self.book.orders.get(&line.order) else {
                    return Err(format!(
                        "desk {} waits for an unknown order {:?}",
                        sku.0, line
                    ));
                };
                if self.book.cancelled.contains(&line.order) {
                    return Err(format!("desk {} waits for cancelled order {id}", sku.0));
                }
                if lines
                    .get(usize::from(line.line))
                    .is_none_or(|l| l.sku != sku || l.qty != q)
                {
                    return Err(format!(
                        "desk {} waits {q} for {line:?}, not what it asks",
                        sku.0
                    ));
                }
                if let Some((k, _)) = reserved_lines.get(&line) {
                    return Err(format!(
                        "{line:?} waits at desk {} and is reserved at {k:?}",
                        sku.0
                    ));
                }
            }
        }
        // Statuses only move forward (seen at fully durable points).
        let mut orders: Vec<_> = self.cluster.orders().collect();
        orders.sort_by_key(|o| o.no());
        for o in orders {
            let no = o.no();
            for f in o.fulfillments() {
                if let Some(&prev) = self.book.fulfillment_status.get(&(no, f.n)) {
                    if !forward(prev, f.status) {
                        return Err(format!(
                            "{} fulfillment {} went from {prev:?} to {:?}",
                            o.request().order_id,
                            f.n,
                            f.status
                        ));
                    }
                }
            }
            if let Some(&prev) = self.book.order_status.get(&no) {
                if prev.is_final() && !o.status().is_final() {
                    return Err(format!(
                        "{} left final {prev:?} for {:?}",
                        o.request().order_id,
                        o.status()
                    ));
                }
            }
        }
        for &(no, n) in self.book.fulfillment_status.keys() {
            if self
                .cluster
                .order(no)
                .and_then(|o| o.fulfillment(n))
                .is_none()
            {
                return Err(format!("fulfillment {n} of {} disappeared", no.0));
            }
        }
        // Holds: from the book's on hand and acknowledged holds.
        let mut cells: Vec<_> = self.cluster.cells().collect();
        cells.sort_by_key(|c| c.0);
        let (now, sent) = (self.now, self.next_req);
        self.holds
            .check_cells(&cells, &self.book.on_hand, now, sent)?;
        let cluster = &self.cluster;
        self.holds
            .check_conversions(&self.book.orders, |no| cluster.order(no))?;
        let report = self.cluster.audit();
        if !report.passed() {
            // Names and counts only: the examples depend on map order.
            let failed: Vec<String> = report
                .checks
                .iter()
                .filter(|c| !c.passed)
                .map(|c| format!("{} ({} violations)", c.name, c.violations))
                .collect();
            return Err(format!("audit: {}", failed.join(", ")));
        }
        self.events.check(&self.book, &self.doubt)?;
        let seen: Vec<_> = self
            .cluster
            .orders()
            .map(|o| {
                (
                    o.no(),
                    o.status(),
                    o.fulfillments()
                        .iter()
                        .map(|f| (f.n, f.status))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        for (no, st, fs) in seen {
            self.book.order_status.insert(no, st);
            for (n, s) in fs {
                self.book.fulfillment_status.insert((no, n), s);
            }
        }
        self.log(format!(
            "quiescent ok: journal {} orders {} events {} now +{} ms",
            self.cluster.journaled(),
            self.book.orders.len(),
            self.events.len(),
            self.now - T0
        ));
        Ok(())
    }

    /// Faults have stopped: within [`LIVENESS_BOUND_MS`] of simulated time
    /// (counted from when the last active hold has lapsed, since a line
    /// may wait for the units a hold keeps) every order is final or waits
    /// (for stock, or for the warehouse's scans after its wave), and no
    /// actor is stuck.
    fn liveness(&mut self) -> Result<(), String> {
        for f in 0..self.opt.facilities {
            self.offer(
                ActorRef::Facility(FacilityIdx(f)),
                |reply| Msg::SetStatus {
                    enabled: true,
                    until: None,
                    reply,
                },
                Pending::Other,
            );
        }
        self.quiesce()?;
        // A line may wait for stock an active hold keeps until it lapses
        // (up to the longest TTL from an extend the book may not have seen
        // acknowledged): the bound starts once every such hold has gone.
        let holds_end = if self.holds.holds.values().any(|h| h.fate == Fate::Active) {
            let ttl_max = self.cfg.limits.hold_ttl_s_max.min(TTL_S_CEILING);
            let latest = self.holds.holds.values().map(|h| h.expires_at).max();
            latest
                .unwrap_or(0)
                .max(self.now + Millis::from(ttl_max) * 1_000)
                + crate::holds::RELEASE_BOUND_MS
        } else {
            self.now
        };
        let deadline = holds_end.max(self.now) + LIVENESS_BOUND_MS;
        while self.now < deadline {
            self.now += 60_000;
            self.cluster.set_now(self.now);
            self.quiesce()?;
        }
        self.check_quiescent()?;
        let busy: usize = self.cluster.shards().iter().map(|s| s.busy_actors()).sum();
        if busy > 0 {
            return Err(format!("{busy} actors still wait after the liveness bound"));
        }
        let mut orders: Vec<_> = self.cluster.orders().collect();
        orders.sort_by_key(|o| o.no());
        for o in orders {
            let st = o.status();
            let queued = o
                .fulfillments()
                .iter()
                .any(|f| f.status == FulfillmentStatus::Routed);
            if st == OrderStatus::Received || queued {
                return Err(format!(
                    "{} still {st:?} (a fulfillment queued: {queued}) {} ms after faults stopped",
                    o.request().order_id,
                    LIVENESS_BOUND_MS
                ));
            }
        }
        self.log("liveness ok".into());
        Ok(())
    }
}

fn short(p: &Pending) -> String {
    match p {
        Pending::Place(id, _) => format!("place {id}"),
        Pending::Cancel(no) => format!("cancel {}", no.0),
        Pending::Scan(no, s, _) => format!("scan {} {}", no.0, s.event_id),
        Pending::Receive(id, _, _) => format!("receipt {id}"),
        Pending::Adjust(id, _, _) => format!("adjust {id}"),
        Pending::Hold(id, op) => format!("hold {id} {op:?}"),
        Pending::PlaceHold(id, _, h, _) => format!("place {id} with hold {h}"),
        Pending::Other => "status/wave".into(),
    }
}
