//! The threaded host of the shard engine (`orch_engine`): N shards, each
//! on its own thread (an actix arbiter's), fed through bounded channels,
//! journaling one batch per tick and answering only once it is durable.
//!
//! - [`options`]: shard count, bounds and the idle timer cadence.
//! - [`clock`]: the injected clock the loops read once per tick.
//! - [`published`]: availability and boards published per tick, read
//!   lock-free by admission routing and the read API.
//! - `shard_loop`: one shard's loop (gather, tick, append, send, release).
//! - `release`: the releaser thread per shard (replies after the ticket).
//! - `waiters`: who waits for which request; in-flight bounds.
//! - `numbering`: order and hold numbers on their home shard.
//! - [`restore`]: shards from what recovery rebuilt.
//!
//! Admission is a try-send: a full channel, or a shard with
//! `in_flight_max` requests unanswered, answers [`Overloaded`] and queues
//! nothing. Peer batches between shards are unbounded channels: work
//! already admitted, bounded by the admitted requests times a flow's
//! fan-out.

pub mod clock;
mod facts;
mod numbering;
pub mod options;
mod passive;
pub mod published;
mod release;
pub mod restore;
mod shard_loop;
mod waiters;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_rt::{Arbiter, ArbiterHandle, System};
use crossbeam_channel::{Sender, TrySendError};
use orch_actors::hold::HoldNo;
use orch_actors::order::{validate_request, OrderState, PlaceRequest};
use orch_actors::routing::{FacilityInfo, Router};
use orch_actors::OrderNo;
use orch_config::Config;
use orch_engine::ownership::ShardIdx;
use orch_engine::view::Board;
use orch_engine::{ActorRef, Envelope, Msg, Overloaded, Ownership, RequestId, Shard};
use tokio::sync::oneshot;

pub use clock::{Clock, ManualClock};
pub use options::HostOptions;
pub use published::PublishedView;
pub use release::WaveSink;
pub use restore::restored_shards;
pub use waiters::{Answered, Pending, Unavailable};

use crate::persist::Durability;
use numbering::Numbering;
use shard_loop::{LoopCounters, Peer, ReadJob, Request, ShardLoop};
use waiters::Waiters;

/// Why a placement was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlaceRefusal {
    /// Invalid: the reason names the field. Nothing changed.
    Invalid(String),
    /// The home shard is full: try again later. Nothing was queued.
    Overloaded,
}

/// Counters of a running host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStats {
    /// Ticks run, per shard.
    pub ticks: Vec<u64>,
    /// Journal entries appended, per shard.
    pub entries: Vec<u64>,
    /// Messages taken from inboxes and peer batches, per shard.
    pub taken: Vec<u64>,
    /// Requests admitted and not yet answered, per shard.
    pub in_flight: Vec<usize>,
    /// Requests refused `Overloaded` since start.
    pub overloaded: u64,
    /// Requests and peer batches waiting in each shard's channels, not yet
    /// taken by its loop.
    pub queued: Vec<usize>,
}

struct Running {
    system: System,
    system_thread: JoinHandle<()>,
    arbiters: Vec<ArbiterHandle>,
    loops_done: std::sync::mpsc::Receiver<()>,
    releasers: Vec<JoinHandle<()>>,
}

struct Inner {
    own: Ownership,
    options: HostOptions,
    lines_max: usize,
    qty_max: u32,
    clock: Clock,
    requests: Vec<Sender<Request>>,
    peers: Vec<Sender<Peer>>,
    waiters: Arc<Waiters>,
    published: Arc<PublishedView>,
    numbering: Numbering,
    counters: Vec<Arc<LoopCounters>>,
    overloaded: std::sync::atomic::AtomicU64,
    running: Mutex<Option<Running>>,
    passive: Arc<passive::Passivation>,
}

/// The running shards; cheap to clone, callable from any thread.
#[derive(Clone)]
pub struct Host {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("shards", &self.inner.own.shards())
            .finish_non_exhaustive()
    }
}

/// Fresh shards with the configured network and stock at the clock's now.
pub fn fresh_shards(cfg: &Config, options: &HostOptions, now: orch_config::Millis) -> Vec<Shard> {
    let own = Ownership::new(options.shards);
    let router = Arc::new(Router::new(
        &cfg.routing,
        &cfg.network.facilities,
        &cfg.carriers,
    ));
    (0..own.shards())
        .map(|i| Shard::new(cfg, own, i, router.clone(), options.limits, now))
        .collect()
}

impl Host {
    /// Starts fresh shards of `cfg` (see [`fresh_shards`]).
    pub fn start(
        cfg: &Config,
        options: HostOptions,
        durability: Arc<Durability>,
        clock: Clock,
        waves: Option<WaveSink>,
    ) -> Result<Host, String> {
        let shards = fresh_shards(cfg, &options, clock.now());
        Host::start_with(cfg, options, durability, clock, waves, shards)
    }

    /// Starts the given shards (fresh or restored: one per
    /// `options.shards`, in index order). Numbering resumes after the
    /// highest order and hold numbers they hold.
    pub fn start_with(
        cfg: &Config,
        mut options: HostOptions,
        durability: Arc<Durability>,
        clock: Clock,
        waves: Option<WaveSink>,
        mut shards: Vec<Shard>,
    ) -> Result<Host, String> {
        let own = Ownership::new(options.shards);
        let n = own.shards();
        if shards.len() != n || shards.iter().enumerate().any(|(i, s)| s.idx() != i) {
            return Err(format!(
                "shards: expected {n} shards in index order, got {}",
                shards.len()
            ));
        }
        options.shards = n;
        options.limits.inbox_max = options.limits.inbox_max.max(1);
        options.channel_max = options.channel_max.max(1);
        options.in_flight_max = options.in_flight_max.max(1);
        let now = clock.now();
        // The published view starts as the shards stand.
        let mut boards: Vec<Option<Board>> = vec![None; cfg.network.facilities.len()];
        for s in &shards {
            for (f, b) in s.boards() {
                boards[usize::from(f.0)] = Some(b);
            }
        }
        let boards: Vec<Board> = boards
            .into_iter()
            .map(|b| {
                b.unwrap_or(Board {
                    enabled: false,
                    disabled_until: None,
                    capacity_used: 0.0,
                })
            })
            .collect();
        let cells: Vec<_> = shards
            .iter()
            .flat_map(|s| {
                s.cells()
                    .map(|(k, c)| (k, c.available()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let published = Arc::new(PublishedView::new(cells, &boards));
        let router = Arc::new(Router::new(
            &cfg.routing,
            &cfg.network.facilities,
            &cfg.carriers,
        ));
        let numbering = Numbering::new(
            own,
            router,
            FacilityInfo::all(&cfg.network.facilities),
            &shards,
        );
        let waiters = Arc::new(Waiters::new(n, options.in_flight_max));
        let (req_tx, req_rx): (Vec<_>, Vec<_>) = (0..n)
            .map(|_| crossbeam_channel::bounded(options.channel_max))
            .unzip();
        let (peer_tx, peer_rx): (Vec<_>, Vec<_>) =
            (0..n).map(|_| crossbeam_channel::unbounded()).unzip();
        let (system, system_thread, arbiters) = start_arbiters(n)?;
        let (done_tx, loops_done) = std::sync::mpsc::channel();
        let passive = Arc::new(passive::Passivation::default());
        let mut releasers = Vec::with_capacity(n);
        let mut counters = Vec::with_capacity(n);
        for (i, (shard, (requests, peers))) in shards
            .drain(..)
            .zip(req_rx.into_iter().zip(peer_rx))
            .enumerate()
        {
            let (rel_tx, rel_rx) = crossbeam_channel::unbounded();
            let w = waiters.clone();
            let sink = waves.clone();
            let releaser = std::thread::Builder::new()
                .name(format!("orch-release-{i}"))
                .spawn(move || release::run(rel_rx, w, sink))
                .map_err(|e| format!("cannot start the releaser thread of shard {i}: {e}"))?;
            releasers.push(releaser);
            let c = Arc::new(LoopCounters::default());
            counters.push(c.clone());
            let mut shard = shard;
            shard.publish_every_change();
            shard.set_stopwatch(facts::stopwatch);
            let shard_loop = ShardLoop {
                shard,
                view: published.to_view(),
                requests,
                peers,
                peer_tx: peer_tx.clone(),
                durability: durability.clone(),
                releaser: rel_tx,
                published: published.clone(),
                clock: clock.clone(),
                idle: options.idle_tick,
                counters: c,
                passive: passive.clone(),
            };
            let done = done_tx.clone();
            let started = arbiters[i].spawn_fn(move || {
                shard_loop.run();
                let _ = done.send(());
            });
            if !started {
                return Err(format!("the arbiter of shard {i} is not running"));
            }
        }
        tracing::debug!(shards = n, now, "engine host started");
        Ok(Host {
            inner: Arc::new(Inner {
                own,
                options,
                lines_max: cfg.limits.order_lines_max as usize,
                qty_max: cfg.limits.qty_max,
                clock,
                requests: req_tx,
                peers: peer_tx,
                waiters,
                published,
                numbering,
                counters,
                overloaded: std::sync::atomic::AtomicU64::new(0),
                passive,
                running: Mutex::new(Some(Running {
                    system,
                    system_thread,
                    arbiters,
                    loops_done,
                    releasers,
                })),
            }),
        })
    }

    /// Serves passivation from `store` (the snapshots the checkpoint
    /// thread writes): [`Host::passivate`] may then let orders go, and a
    /// message for one brings it back.
    pub fn serve_passive(
        &self,
        store: crate::persist::snapshot::SnapshotStore,
    ) -> Result<(), String> {
        self.inner.passive.serve(store, self.inner.peers.clone())
    }

    /// Lets the finished, idle orders a snapshot holds leave memory (each
    /// with its timeline length there: one changed since stays); answers
    /// how many left. Does nothing until [`Host::serve_passive`].
    pub fn passivate(&self, idle: &[(orch_actors::OrderNo, usize)]) -> usize {
        if !self.inner.passive.serving() {
            return 0;
        }
        passive::passivate(self.inner.own, &self.inner.peers, idle)
    }

    /// Forgets the finished orders past retention (each with its timeline
    /// length in the snapshot: one changed since stays); answers those
    /// forgotten, which no longer answer anything.
    pub fn forget(&self, old: &[(orch_actors::OrderNo, usize)]) -> Vec<orch_actors::OrderNo> {
        passive::forget(self.inner.own, &self.inner.peers, old)
    }

    /// Forgets the ended holds past retention; answers those forgotten,
    /// which no longer answer anything.
    pub fn forget_holds(
        &self,
        old: &[orch_actors::hold::HoldNo],
    ) -> Vec<orch_actors::hold::HoldNo> {
        passive::forget_holds(self.inner.own, &self.inner.peers, old)
    }

    /// A passive order's state from the snapshot store (blocking: call it
    /// off the shard threads).
    pub fn passive_order(
        &self,
        no: orch_actors::OrderNo,
    ) -> Result<Option<orch_actors::order::OrderState>, String> {
        self.inner.passive.read(no)
    }

    /// The ownership function.
    pub fn ownership(&self) -> Ownership {
        self.inner.own
    }

    /// The options the host runs with.
    pub fn options(&self) -> HostOptions {
        self.inner.options
    }

    /// The view the shards publish (availability, boards).
    pub fn view(&self) -> &PublishedView {
        &self.inner.published
    }

    /// The host's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    fn overloaded(&self) -> Overloaded {
        self.inner.overloaded.fetch_add(1, Ordering::Relaxed);
        Overloaded
    }

    /// Offers a request to the actor `to`; `make` builds its message from
    /// the request id its reply will carry. `Overloaded` (nothing queued)
    /// when the owning shard's channel is full or it has `in_flight_max`
    /// requests unanswered. The pending answer resolves once the tick
    /// that decided it is durable.
    pub fn offer(
        &self,
        to: ActorRef,
        make: impl FnOnce(RequestId) -> Msg,
    ) -> Result<Pending, Overloaded> {
        let shard = self.inner.own.shard_of(to);
        let (id, pending) = self
            .inner
            .waiters
            .admit(shard)
            .map_err(|_| self.overloaded())?;
        let env = Envelope { to, msg: make(id) };
        match self.inner.requests[shard].try_send(Request::Offer(env)) {
            Ok(()) => Ok(pending),
            Err(TrySendError::Full(_)) => {
                self.inner.waiters.withdraw(id);
                Err(self.overloaded())
            }
            // Stopped: the waiter goes, so the caller reads unavailable.
            Err(TrySendError::Disconnected(_)) => {
                self.inner.waiters.withdraw(id);
                Ok(pending)
            }
        }
    }

    /// Admits a placement: validates it (nothing changes when invalid),
    /// numbers it on its home shard and offers it. The pending answer is
    /// `Answer::Placed`.
    pub fn place(&self, req: PlaceRequest) -> Result<(OrderNo, Pending), PlaceRefusal> {
        self.place_taking(req, None)
    }

    /// Admits a placement that names a hold: the hold converts first and
    /// the order takes its units in place (see the engine's holds).
    pub fn place_with_hold(
        &self,
        req: PlaceRequest,
        hold: HoldNo,
    ) -> Result<(OrderNo, Pending), PlaceRefusal> {
        self.place_taking(req, Some(hold))
    }

    fn place_taking(
        &self,
        req: PlaceRequest,
        hold: Option<HoldNo>,
    ) -> Result<(OrderNo, Pending), PlaceRefusal> {
        validate_request(&req, self.inner.lines_max, self.inner.qty_max)
            .map_err(PlaceRefusal::Invalid)?;
        let home =
            self.inner
                .numbering
                .home_shard(&req, &self.inner.published, self.inner.clock.now());
        let no = self.inner.numbering.order_no(home);
        let pending = match hold {
            None => self.offer(ActorRef::Order(no), |reply| Msg::Place { req, reply }),
            Some(h) => self.offer(ActorRef::Hold(h), |reply| Msg::ConvertHold {
                order: no,
                req,
                reply,
            }),
        };
        pending
            .map(|p| (no, p))
            .map_err(|_| PlaceRefusal::Overloaded)
    }

    /// A number for a new hold (its shard: `ownership().hold(no)`).
    pub fn new_hold_no(&self) -> HoldNo {
        self.inner.numbering.hold_no()
    }

    /// Reads shard `shard`'s state with `f`, run on the shard's thread
    /// between two ticks; the answer is let out only once everything
    /// journaled before the read is durable, so nothing unacknowledged is
    /// ever visible. `Overloaded` when the shard's channel is full; a
    /// closed receiver means the host stopped or the journal failed.
    pub fn read<R: Send + 'static>(
        &self,
        shard: ShardIdx,
        f: impl FnOnce(&Shard) -> R + Send + 'static,
    ) -> Result<oneshot::Receiver<R>, Overloaded> {
        let (tx, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |s: &Shard| {
            let r = f(s);
            Box::new(move || {
                let _ = tx.send(r);
            })
        });
        let Some(requests) = self.inner.requests.get(shard) else {
            return Ok(rx);
        };
        match requests.try_send(Request::Read(job)) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(self.overloaded()),
        }
    }

    /// Reads every shard with `f` (one read per shard, in index order).
    pub async fn read_all<R: Send + 'static>(
        &self,
        f: impl Fn(&Shard) -> R + Send + Sync + 'static,
    ) -> Result<Vec<R>, Unavailable> {
        let f = Arc::new(f);
        let mut out = Vec::with_capacity(self.inner.own.shards());
        for s in 0..self.inner.own.shards() {
            let rx = loop {
                let g = f.clone();
                match self.read(s, move |sh| g(sh)) {
                    Ok(rx) => break rx,
                    Err(Overloaded) => tokio::time::sleep(Duration::from_millis(1)).await,
                }
            };
            out.push(
                rx.await
                    .map_err(|_| Unavailable("the host stopped or the journal failed".into()))?,
            );
        }
        Ok(out)
    }

    /// The order as its placement left it, taken once by the caller that
    /// was answered `Placed(Ok(no))` (`None` after, or when the order was
    /// placed by someone else).
    pub fn take_placed(&self, no: OrderNo) -> Option<OrderState> {
        self.inner.waiters.take_placed(no).map(|o| *o)
    }

    /// The host's counters.
    pub fn stats(&self) -> HostStats {
        let c = &self.inner.counters;
        let load = |f: fn(&LoopCounters) -> u64| c.iter().map(|x| f(x)).collect();
        HostStats {
            ticks: load(|x| x.ticks.load(Ordering::Relaxed)),
            entries: load(|x| x.entries.load(Ordering::Relaxed)),
            taken: load(|x| x.taken.load(Ordering::Relaxed)),
            in_flight: (0..self.inner.own.shards())
                .map(|s| self.inner.waiters.in_flight(s))
                .collect(),
            overloaded: self.inner.overloaded.load(Ordering::Relaxed),
            queued: (0..self.inner.own.shards())
                .map(|s| self.inner.requests[s].len() + self.inner.peers[s].len())
                .collect(),
        }
    }

    /// Stops the shard loops (what is in flight is answered unavailable),
    /// waits for the releasers and stops the arbiters. Idempotent.
    pub fn shutdown(&self) {
        let Some(run) = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        for tx in &self.inner.peers {
            let _ = tx.send(Peer::Stop);
        }
        for _ in 0..run.arbiters.len() {
            if run
                .loops_done
                .recv_timeout(Duration::from_secs(30))
                .is_err()
            {
                tracing::error!("a shard loop did not stop within 30 s");
                break;
            }
        }
        for r in run.releasers {
            let _ = r.join();
        }
        self.inner.passive.stop();
        self.inner.waiters.clear();
        for a in &run.arbiters {
            a.stop();
        }
        run.system.stop();
        let _ = run.system_thread.join();
    }
}

/// A thread running an actix `System` with `n` arbiters, one per shard.
fn start_arbiters(n: usize) -> Result<(System, JoinHandle<()>, Vec<ArbiterHandle>), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("orch-host-system".into())
        .spawn(move || {
            let sys = System::new();
            sys.block_on(async move {
                let arbiters: Vec<Arbiter> = (0..n).map(|_| Arbiter::new()).collect();
                let handles: Vec<ArbiterHandle> = arbiters.iter().map(Arbiter::handle).collect();
                let _ = tx.send((System::current(), handles));
                // The handles stop them; the System joins their threads.
                std::mem::forget(arbiters);
            });
            let _ = sys.run();
        })
        .map_err(|e| format!("cannot start the engine host's system thread: {e}"))?;
    let (system, handles) = rx
        .recv()
        .map_err(|_| "the engine host's system did not start".to_string())?;
    Ok((system, thread, handles))
}
