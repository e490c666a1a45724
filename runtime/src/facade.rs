//! `Orchestrator`: the one facade the HTTP API and the in-process load
//! tester call. It validates input (errors name the field and change
//! nothing), maps client ids to keys, and talks to the actors.
//!
//! It owns the actix system: a thread running `actix_rt::System` with one
//! arbiter per worker; every method may be called from any thread or async
//! runtime.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use futures::future::join_all;
use orch_actors::audit::{audit, AuditReport};
use orch_actors::facility::WaveTrigger;
use orch_actors::order::{OrderState, PlaceRequest, Scan, ScanKind};
use orch_actors::sim::ScanOutcome;
use orch_actors::{CellKey, FacilityIdx, SkuIdx};
use orch_config::Config;
use tokio::sync::oneshot;

use crate::clock::now_ms;
use crate::dto::*;
use crate::error::{quote, ApiError};
use crate::events_out::tail::{recover_with_feed, TailThread};
use crate::events_out::Events;
use crate::idempotency::{Claim, Keys};
use crate::persist::checkpoint::{checkpoint, Checkpointer, SnapshotInfo};
use crate::persist::snapshot::SnapshotStore;
use crate::persist::Durability;
use crate::present::{facility_view, order_view, wave_view};
use crate::shared::{Shared, WaveAnnouncement};
use crate::shell::cell::{Adjust, GetCell};
use crate::shell::desk::{ArriveAt, GetDesk};
use crate::shell::facility::{FacilityActor, GetFacility, ReleaseNow, SetStatus};
use crate::shell::order::{ApplyScan, Cancel, GetOrder, OrderActor};
use crate::webhooks::{Service as WebhookService, Webhooks};

pub use crate::dto::ItemResult;

/// The actix system and the thread that runs it.
type SystemThread = (System, std::thread::JoinHandle<()>);

/// The running orchestration core.
#[derive(Clone)]
pub struct Orchestrator {
    shared: Arc<Shared>,
    receipts: Arc<Keys>,
    adjustments: Arc<Keys>,
    system: Arc<std::sync::Mutex<Option<SystemThread>>>,
    recovery: Arc<RecoveryInfo>,
    cfg: Arc<Config>,
    store: Arc<std::sync::Mutex<Option<SnapshotStore>>>,
    checkpointer: Arc<std::sync::Mutex<Option<Checkpointer>>>,
    events: Arc<Events>,
    tail: Arc<std::sync::Mutex<Option<TailThread>>>,
    webhooks: Arc<WebhookService>,
}

/// Every actor's state at one quiescent point (tests, audits).
#[derive(Debug, Clone)]
pub struct States {
    /// Cells by key.
    pub cells: Vec<(CellKey, orch_actors::cell::CellState)>,
    /// Orders by number.
    pub orders: Vec<OrderState>,
    /// Backorder desks by SKU.
    pub desks: Vec<(SkuIdx, orch_actors::backorder::DeskState)>,
    /// Facilities by index.
    pub facilities: Vec<orch_actors::facility::FacilityState>,
}

/// The idempotency tables of the facade, each sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKeys {
    /// Receipt ids applied.
    pub receipts: Vec<String>,
    /// Adjustment ids applied.
    pub adjustments: Vec<String>,
    /// Client order ids placed.
    pub orders: Vec<String>,
}

/// What the last start replayed (for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Journal sequence number the loaded snapshot covered (0: none).
    pub snapshot_seq: u64,
    /// Journal records read after it.
    pub records: u64,
    /// Events replayed.
    pub events: u64,
    /// Time to replay.
    pub duration: Duration,
}

use crate::validate::{self, invalid};

impl Orchestrator {
    /// Starts the core: opens the journal, replays it (recovery), then
    /// starts the actor system with what it rebuilt. Panics when recovery
    /// fails; see [`Orchestrator::try_start`].
    pub fn start(cfg: &Config) -> Orchestrator {
        Orchestrator::try_start(cfg).unwrap_or_else(|e| panic!("orchestrator failed to start: {e}"))
    }

    /// Starts the core; a journal that cannot be opened or replayed (corrupt
    /// in the middle, unreadable) is an error naming the file and offset or
    /// record, and nothing starts.
    pub fn try_start(cfg: &Config) -> Result<Orchestrator, String> {
        let (durability, opened) = Durability::open(&cfg.durability)?;
        Self::start_with(cfg, durability, opened)
    }

    /// Makes a snapshot now (the checkpoint thread does this periodically).
    pub fn checkpoint_now(&self) -> Result<SnapshotInfo, String> {
        let store = self
            .store
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .ok_or("no snapshot store (durability none, or stopped)")?;
        let retire = crate::shell::order::Retirement(self.shared.clone());
        checkpoint(&self.cfg, &store, &self.shared.durability, &retire)
    }

    /// What the checkpoint thread last did, if it ran.
    pub fn snapshot_info(&self) -> Option<SnapshotInfo> {
        self.checkpointer
            .lock()
            .ok()
            .and_then(|c| c.as_ref().and_then(Checkpointer::last))
    }

    /// Starts on an already opened journal (tests inject faults this way).
    pub fn start_with(
        cfg: &Config,
        durability: Durability,
        opened: orch_journal::Recovery,
    ) -> Result<Orchestrator, String> {
        tracing::info!(
            mode = cfg.durability.mode.as_str(),
            dir = %durability.dir().display(),
            records = opened.records_scanned,
            truncated = ?opened.truncated,
            "journal opened"
        );
        let now = now_ms();
        let store = SnapshotStore::for_config(&cfg.durability)?;
        // The events tail rebuilds its feed from the records recovery
        // replays, then takes the journal's durable batches.
        let (recovered, events, tail) = recover_with_feed(cfg, &durability, store.as_ref(), now)?;
        let webhooks = Arc::new(WebhookService::start(
            &cfg.durability,
            cfg.webhooks.ca_file.as_deref(),
            events.clone(),
        )?);
        tracing::info!(
            snapshot_seq = recovered.snapshot_seq,
            records = recovered.records,
            events = recovered.entries,
            last_seq = recovered.last_seq,
            ms = recovered.duration.as_millis() as u64,
            orders = recovered.world.orders.len(),
            "recovery finished"
        );
        let workers = match cfg.runtime.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n as usize,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("orchestrator-actix".into())
            .spawn(move || {
                let sys = System::new();
                sys.block_on(async move {
                    let arbiters: Vec<Arbiter> = (0..workers).map(|_| Arbiter::new()).collect();
                    let handles = arbiters.iter().map(Arbiter::handle).collect();
                    let _ = tx.send((System::current(), handles));
                    std::mem::forget(arbiters);
                });
                let _ = sys.run();
            })
            .map_err(|e| format!("cannot start the actor system thread: {e}"))?;
        let (system, handles) = rx
            .recv()
            .map_err(|_| "the actor system did not start".to_string())?;
        let mut world = recovered.world;
        let next_order = world.next_order_no();
        let cells = std::mem::take(&mut world.cells);
        let durability = Arc::new(durability);
        let shared = Arc::new(Shared::new(
            cfg,
            handles,
            durability.clone(),
            cells,
            next_order,
        ));
        let cap = shared.mailbox_capacity;
        let idle_before = now.saturating_sub(cfg.durability.passivate_after_ms);
        let mut passive = 0usize;
        for (no, state) in std::mem::take(&mut world.orders) {
            let id = state.request().order_id.clone();
            // Finished, idle and exactly as the snapshot holds it: stays on disk.
            if recovered.snapshot_seq > 0
                && !recovered.touched.contains(&no)
                && state.status().is_final()
                && state.last_change() <= idle_before
            {
                shared.order_names.insert(no, id.clone());
                shared.order_ids.insert(id, no);
                passive += 1;
                continue;
            }
            // Dormant: its actor starts on its first message.
            shared.dormant_orders.insert(no, state);
            shared.order_names.insert(no, id.clone());
            shared.order_ids.insert(id, no);
        }
        *shared.passive.lock().unwrap_or_else(|p| p.into_inner()) = store.clone();
        // Facilities start after the orders are registered: a facility's
        // first tick may release a wave and must find every order in it.
        let facilities: Vec<Addr<FacilityActor>> = std::mem::take(&mut world.facilities)
            .into_iter()
            .enumerate()
            .map(|(i, mut state)| {
                let idx = FacilityIdx(i as u16);
                state.advance_clock(now);
                // Published now, not when the actor starts: the drains below
                // must see closures recovered from the journal.
                crate::shell::facility::publish_board(&shared.boards[i], &state, now);
                let s = shared.clone();
                FacilityActor::start_in_arbiter(shared.arbiter_for(&idx), move |ctx| {
                    ctx.set_mailbox_capacity(cap);
                    FacilityActor::new(idx, state, s)
                })
            })
            .collect();
        shared.set_facilities(facilities);
        for (sku, desk) in std::mem::take(&mut world.desks) {
            if desk.waiting() > 0 {
                shared.restore_desk(sku, desk);
                // Lines may wait for stock that is there now (a crash between
                // a fill and its order's record): serve them.
                shared.drain_all(sku);
            }
        }
        let receipts = Keys::seen(recovered.receipts);
        let adjustments = Keys::seen(recovered.adjustments);
        tracing::info!(
            workers,
            passive_orders = passive,
            facilities = cfg.network.facilities.len(),
            skus = cfg.network.skus.len(),
            cells = cfg.network.stock.len(),
            "actor system started"
        );
        let checkpointer = store.clone().map(|st| {
            let retire = Arc::new(crate::shell::order::Retirement(shared.clone()));
            Checkpointer::start(cfg.clone(), st, shared.durability.clone(), retire)
        });
        Ok(Orchestrator {
            cfg: Arc::new(cfg.clone()),
            store: Arc::new(std::sync::Mutex::new(store)),
            checkpointer: Arc::new(std::sync::Mutex::new(checkpointer)),
            events,
            tail: Arc::new(std::sync::Mutex::new(Some(tail))),
            webhooks,
            shared,
            receipts: Arc::new(receipts),
            adjustments: Arc::new(adjustments),
            system: Arc::new(std::sync::Mutex::new(Some((system, thread)))),
            recovery: Arc::new(RecoveryInfo {
                snapshot_seq: recovered.snapshot_seq,
                records: recovered.records,
                events: recovered.entries,
                duration: recovered.duration,
            }),
        })
    }

    /// Stops the actor system and waits for its threads.
    pub fn shutdown(&self) {
        if let Some(mut c) = self.checkpointer.lock().ok().and_then(|mut g| g.take()) {
            c.stop();
        }
        // Releases sled's lock on the data dir, so the same process can
        // start again on it (tests do).
        drop(self.store.lock().ok().and_then(|mut g| g.take()));
        drop(self.shared.passive.lock().ok().and_then(|mut g| g.take()));
        let taken = self.system.lock().ok().and_then(|mut g| g.take());
        if let Some((system, thread)) = taken {
            for a in self.shared.arbiters() {
                a.stop();
            }
            system.stop();
            let _ = thread.join();
        }
        // After the actors: every record they had acknowledged is taken.
        if let Some(mut t) = self.tail.lock().ok().and_then(|mut g| g.take()) {
            t.stop();
        }
        // Writes the webhook cursors a last time.
        self.webhooks.stop();
    }

    /// The event feed (`GET /v1/events`), built from durable records only.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// The webhook registrations and their delivery (`/v1/webhooks`).
    pub fn webhooks(&self) -> &Arc<Webhooks> {
        self.webhooks.webhooks()
    }

    /// What the last start replayed.
    pub fn recovery_info(&self) -> RecoveryInfo {
        *self.recovery
    }

    /// The journal's counters (mode, records, bytes, batches, fsyncs, health).
    pub fn journal_stats(&self) -> orch_journal::JournalStats {
        self.shared.durability.stats()
    }

    /// The shared state (views, registry), for metrics and tests.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    fn known_facility(&self, id: &str) -> Result<FacilityIdx, ApiError> {
        self.shared.catalog.facility(id).ok_or_else(|| {
            ApiError::not_found(
                "facility_not_found",
                format!("facility {} does not exist", quote(id)),
            )
        })
    }

    fn facility_view(&self, f: FacilityIdx) -> FacilityView {
        let board = &self.shared.boards[usize::from(f.0)];
        facility_view(&self.shared.catalog, board, f, now_ms())
    }

    /// Checks a placement and turns it into the state machine's request.
    pub fn validate_order(&self, o: &PlaceOrder) -> Result<PlaceRequest, ApiError> {
        validate::order(&self.shared.catalog, &self.shared.limits, o)
    }

    /// The actor of an order, brought back from the snapshot when it was
    /// passivated.
    fn order_addr(&self, no: orch_actors::OrderNo) -> Result<Addr<OrderActor>, ApiError> {
        self.shared
            .order_addr(no)
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::not_found("order_not_found", "order does not exist"))
    }

    /// Sends to an order's actor; if it just passivated itself (its mailbox
    /// closed), brings it back and sends again.
    async fn ask_order<M>(&self, no: orch_actors::OrderNo, msg: M) -> Result<M::Result, ApiError>
    where
        M: Message + Send + Clone + 'static,
        M::Result: Send,
        OrderActor: Handler<M>,
    {
        for _ in 0..3 {
            let addr = self.order_addr(no)?;
            crate::metrics::sending(crate::metrics::ActorKind::Order);
            match addr.send(msg.clone()).await {
                Ok(r) => return Ok(r),
                Err(MailboxError::Closed) => {
                    crate::metrics::handled(crate::metrics::ActorKind::Order); // never handled
                    self.shared.orders.remove_if(&no, |_, a| *a == addr);
                }
                Err(e) => return Err(ApiError::unavailable(e.to_string())),
            }
        }
        Err(ApiError::unavailable("the order's actor keeps stopping"))
    }

    async fn order_state(&self, order_id: &str) -> Result<OrderState, ApiError> {
        let no = self
            .shared
            .order_ids
            .get(order_id)
            .map(|n| *n)
            .ok_or_else(|| {
                ApiError::not_found(
                    "order_not_found",
                    format!("order {} does not exist", quote(order_id)),
                )
            })?;
        self.ask_order(no, GetOrder).await
    }

    /// Places an order (`POST /v1/orders`). The same order id with the same
    /// body answers the first result again (`replay`); a different body is a
    /// conflict. Answers once the placement is durable.
    pub async fn place(&self, o: &PlaceOrder) -> Result<Placed, ApiError> {
        let started = std::time::Instant::now();
        let result = self.place_unmetered(o).await;
        crate::metrics::placed(o, &result, started.elapsed());
        result
    }

    async fn place_unmetered(&self, o: &PlaceOrder) -> Result<Placed, ApiError> {
        self.shared.durability.check_writable()?;
        let placed = self.place_one(o).await?;
        self.shared.durability.barrier().await?;
        Ok(placed)
    }

    /// Places one order without waiting for durability.
    async fn place_one(&self, o: &PlaceOrder) -> Result<Placed, ApiError> {
        let req = self.validate_order(o)?;
        let id = req.order_id.clone();
        let (tx, rx) = oneshot::channel();
        let mut fresh = false;
        let no = match self.shared.order_ids.entry(id.clone()) {
            dashmap::Entry::Occupied(e) => *e.get(),
            dashmap::Entry::Vacant(v) => {
                let no = self.shared.next_order_no();
                let (state, placed_event) = OrderState::place(no, req.clone(), now_ms());
                let shared = self.shared.clone();
                let cap = self.shared.mailbox_capacity;
                // Registered before the actor runs: its placement may fill a
                // wave at once, and the facility must find it to tell it.
                self.shared.order_names.insert(no, id.clone());
                let addr = OrderActor::start_in_arbiter(self.shared.arbiter_for(&no), move |ctx| {
                    ctx.set_mailbox_capacity(cap);
                    // Before it runs: its placement may fill a wave at once
                    // (on another thread), and the facility must find it.
                    shared.orders.insert(no, ctx.address());
                    OrderActor::placing(state, placed_event, tx, shared)
                });
                // And in the registry before its id is: whoever finds the
                // id finds the actor, started or not (messages wait in its
                // mailbox).
                self.shared.orders.insert(no, addr);
                v.insert(no);
                fresh = true;
                no
            }
        };
        let state = if fresh {
            rx.await
                .map_err(|_| ApiError::unavailable("the order actor stopped while placing"))?
        } else {
            let state = self.ask_order(no, GetOrder).await?;
            if state.request() != &req {
                return Err(ApiError::conflict(
                    "order_conflict",
                    format!(
                        "order_id: '{}' was placed before with a different body",
                        req.order_id
                    ),
                ));
            }
            state
        };
        Ok(Placed {
            order: order_view(&self.shared.catalog, &state, false),
            replay: !fresh,
            hold: None,
        })
    }

    /// Places many orders concurrently; one answer per order, in order.
    /// One durability barrier covers the whole batch.
    pub async fn place_batch(&self, orders: &[PlaceOrder]) -> Vec<Result<Placed, ApiError>> {
        let started = std::time::Instant::now();
        let results = self.place_batch_unmetered(orders).await;
        // Each order of a batch is acknowledged at the batch's barrier.
        let elapsed = started.elapsed();
        for (o, r) in orders.iter().zip(&results) {
            crate::metrics::placed(o, r, elapsed);
        }
        results
    }

    async fn place_batch_unmetered(&self, orders: &[PlaceOrder]) -> Vec<Result<Placed, ApiError>> {
        if let Err(e) = self.shared.durability.check_writable() {
            return orders.iter().map(|_| Err(e.clone())).collect();
        }
        let results = join_all(orders.iter().map(|o| self.place_one(o))).await;
        match self.shared.durability.barrier().await {
            Ok(()) => results,
            Err(e) => results.into_iter().map(|r| r.and(Err(e.clone()))).collect(),
        }
    }

    /// An order with its timeline (`GET /v1/orders/{id}`).
    pub async fn order(&self, order_id: &str) -> Result<OrderView, ApiError> {
        let state = self.order_state(order_id).await?;
        Ok(order_view(&self.shared.catalog, &state, true))
    }

    /// Cancels an order (`POST /v1/orders/{id}/cancel`).
    pub async fn cancel(&self, order_id: &str) -> Result<OrderView, ApiError> {
        let started = std::time::Instant::now();
        let result = self.cancel_unmetered(order_id).await;
        crate::metrics::cancelled(&result, started.elapsed());
        result
    }

    async fn cancel_unmetered(&self, order_id: &str) -> Result<OrderView, ApiError> {
        self.shared.durability.check_writable()?;
        let no = self
            .shared
            .order_ids
            .get(order_id)
            .map(|n| *n)
            .ok_or_else(|| {
                ApiError::not_found(
                    "order_not_found",
                    format!("order {} does not exist", quote(order_id)),
                )
            })?;
        match self.ask_order(no, Cancel).await? {
            Ok(state) => {
                self.shared.durability.barrier().await?;
                Ok(order_view(&self.shared.catalog, &state, true))
            }
            Err(e) => Err(crate::error::cancel_refused(e)),
        }
    }

    fn resolve_scan(&self, s: &ScanInput) -> Result<(orch_actors::OrderNo, Scan), String> {
        let order_no = |id: &str| self.shared.order_ids.get(id).map(|n| *n);
        validate::scan(
            &self.shared.catalog,
            &self.shared.limits,
            s,
            order_no,
            now_ms,
        )
    }

    /// Applies scan events (`POST /v1/scans`); when the journal cannot
    /// write, every event is answered rejected with the reason (use
    /// [`Orchestrator::try_scans`] to get the error instead).
    pub async fn scans(&self, events: &[ScanInput]) -> Vec<ScanResult> {
        match self.try_scans(events).await {
            Ok(r) => r,
            Err(e) => events
                .iter()
                .map(|ev| ScanResult {
                    event_id: ev.event_id.clone(),
                    result: "rejected".into(),
                    reason: Some(e.message.clone()),
                })
                .collect(),
        }
    }

    /// Applies scan events: in array order per order, different orders
    /// concurrently; one result per event, in order; answers once they are
    /// durable, or an error (nothing acknowledged) when the journal cannot write.
    pub async fn try_scans(&self, events: &[ScanInput]) -> Result<Vec<ScanResult>, ApiError> {
        let result = self.try_scans_unmetered(events).await;
        crate::metrics::scans(events, result.as_deref().ok());
        result
    }

    async fn try_scans_unmetered(&self, events: &[ScanInput]) -> Result<Vec<ScanResult>, ApiError> {
        self.shared.durability.check_writable()?;
        let mut results: Vec<Option<ScanResult>> = vec![None; events.len()];
        let mut groups: HashMap<orch_actors::OrderNo, Vec<(usize, Scan)>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            match self.resolve_scan(e) {
                Ok((no, scan)) => groups.entry(no).or_default().push((i, scan)),
                Err(reason) => {
                    results[i] = Some(ScanResult {
                        event_id: e.event_id.clone(),
                        result: "rejected".into(),
                        reason: Some(reason),
                    })
                }
            }
        }
        let runs = groups.into_iter().map(|(no, scans)| async move {
            let mut out = Vec::with_capacity(scans.len());
            let mut delivered = Vec::new();
            for (i, scan) in scans {
                let (kind, started) = (scan.kind, std::time::Instant::now());
                let (fulfillment, at) = (scan.fulfillment, scan.at);
                let outcome = self
                    .ask_order(no, ApplyScan(scan))
                    .await
                    .unwrap_or_else(|e| ScanOutcome::Rejected(e.message));
                crate::metrics::scan_applied(kind, started.elapsed());
                if kind == ScanKind::Delivered && matches!(outcome, ScanOutcome::Applied) {
                    delivered.push((fulfillment, at));
                }
                out.push((i, outcome));
            }
            // Promise kept or missed, from the order as the scans left it.
            if !delivered.is_empty() {
                if let Ok(state) = self.ask_order(no, GetOrder).await {
                    for (fulfillment, at) in delivered {
                        crate::metrics::delivered(&state, fulfillment, at);
                    }
                }
            }
            out
        });
        for group in join_all(runs).await {
            for (i, outcome) in group {
                let (result, reason) = match outcome {
                    ScanOutcome::Applied => ("applied", None),
                    ScanOutcome::Duplicate => ("duplicate", None),
                    ScanOutcome::Rejected(r) => ("rejected", Some(r)),
                };
                results[i] = Some(ScanResult {
                    event_id: events[i].event_id.clone(),
                    result: result.into(),
                    reason,
                });
            }
        }
        self.shared.durability.barrier().await?;
        Ok(results
            .into_iter()
            .map(|r| r.expect("every event answered"))
            .collect())
    }

    /// Receives stock (`POST /v1/inventory/receipts`). Every receipt is
    /// checked first; one bad receipt refuses the whole request.
    pub async fn receive(&self, receipts: &[ReceiptInput]) -> Result<Vec<ItemResult>, ApiError> {
        let started = std::time::Instant::now();
        let result = self.receive_unmetered(receipts).await;
        crate::metrics::received(&result, started.elapsed());
        result
    }

    async fn receive_unmetered(
        &self,
        receipts: &[ReceiptInput],
    ) -> Result<Vec<ItemResult>, ApiError> {
        self.shared.durability.check_writable()?;
        let limits = &self.shared.limits;
        let mut checked = Vec::with_capacity(receipts.len());
        for (i, r) in receipts.iter().enumerate() {
            let (key, qty) = validate::receipt(&self.shared.catalog, limits, i, r)?;
            checked.push((r.receipt_id.as_str(), key.sku, key.facility, qty));
        }
        let mut out = Vec::with_capacity(checked.len());
        for (id, sku, facility, qty) in checked {
            let key: Arc<str> = Arc::from(id);
            let Claim::Mine(claim) = self.receipts.claim(key.clone()).await else {
                out.push(ItemResult::duplicate(id));
                continue;
            };
            crate::metrics::sending(crate::metrics::ActorKind::Desk);
            match self
                .shared
                .desk(sku)
                .send(ArriveAt {
                    facility,
                    qty,
                    restock: false,
                    receipt_id: Some(key.clone()),
                })
                .await
            {
                Ok(Ok(served)) => {
                    claim.applied(());
                    out.push(ItemResult::applied(id, Some(served)));
                }
                Ok(Err(e)) => {
                    claim.refused();
                    out.push(ItemResult::rejected(id, e.to_string()));
                }
                Err(e) => {
                    claim.refused();
                    return Err(ApiError::unavailable(e.to_string()));
                }
            }
        }
        self.shared.durability.barrier().await?;
        Ok(out)
    }

    /// Cycle counts (`POST /v1/inventory/adjustments`): sets on hand, never
    /// below what is reserved (that item is rejected with the reason).
    pub async fn adjust(&self, items: &[AdjustmentInput]) -> Result<Vec<ItemResult>, ApiError> {
        let started = std::time::Instant::now();
        let result = self.adjust_unmetered(items).await;
        crate::metrics::adjusted(&result, started.elapsed());
        result
    }

    async fn adjust_unmetered(
        &self,
        items: &[AdjustmentInput],
    ) -> Result<Vec<ItemResult>, ApiError> {
        self.shared.durability.check_writable()?;
        let limits = &self.shared.limits;
        let mut checked = Vec::with_capacity(items.len());
        for (i, a) in items.iter().enumerate() {
            let (key, on_hand) = validate::adjustment(&self.shared.catalog, limits, i, a)?;
            checked.push((a.adjustment_id.as_str(), key, on_hand));
        }
        let mut out = Vec::with_capacity(checked.len());
        for (id, key, on_hand) in checked {
            let k: Arc<str> = Arc::from(id);
            let Claim::Mine(claim) = self.adjustments.claim(k.clone()).await else {
                out.push(ItemResult::duplicate(id));
                continue;
            };
            let adjust = Adjust {
                on_hand,
                adjustment_id: k.clone(),
            };
            crate::metrics::sending(crate::metrics::ActorKind::Cell);
            match self.shared.cell(key).send(adjust).await {
                Ok(Ok(())) => {
                    claim.applied(());
                    out.push(ItemResult::applied(id, None));
                }
                Ok(Err(e)) => {
                    claim.refused();
                    out.push(ItemResult::rejected(id, e.to_string()));
                }
                Err(e) => {
                    claim.refused();
                    return Err(ApiError::unavailable(e.to_string()));
                }
            }
        }
        self.shared.durability.barrier().await?;
        Ok(out)
    }

    /// Inventory of a SKU by facility (`GET /v1/inventory/{sku}`), from the
    /// cells' published counts.
    pub fn inventory(&self, sku_id: &str) -> Result<InventoryView, ApiError> {
        let sku = self.shared.catalog.sku(sku_id).ok_or_else(|| {
            ApiError::not_found(
                "sku_not_found",
                format!("SKU {} does not exist", quote(sku_id)),
            )
        })?;
        let mut facilities = Vec::new();
        let mut network = 0u64;
        for (i, f) in self.shared.catalog.facilities().iter().enumerate() {
            if let Some(c) = self.shared.view.get(CellKey {
                sku,
                facility: FacilityIdx(i as u16),
            }) {
                network += u64::from(c.available);
                facilities.push(CellView {
                    facility_id: f.id.clone(),
                    on_hand: c.on_hand,
                    reserved: c.reserved,
                    held: None,
                    available: c.available,
                });
            }
        }
        Ok(InventoryView {
            sku: sku_id.into(),
            network_available: network,
            facilities,
        })
    }

    /// Availability near a point (`GET /v1/availability`), from the view
    /// only: no mailbox is touched.
    pub fn availability(
        &self,
        sku_id: &str,
        lat: f64,
        lon: f64,
        radius_km: f64,
    ) -> Result<AvailabilityAnswer, ApiError> {
        crate::metrics::timed("availability", || {
            self.availability_unmetered(sku_id, lat, lon, radius_km)
        })
    }

    fn availability_unmetered(
        &self,
        sku_id: &str,
        lat: f64,
        lon: f64,
        radius_km: f64,
    ) -> Result<AvailabilityAnswer, ApiError> {
        let view = &self.shared.view;
        crate::nearby::availability(
            &self.shared.catalog,
            sku_id,
            lat,
            lon,
            radius_km,
            |sku, i| view.available(sku, FacilityIdx(i as u16)),
        )
    }

    /// The delivery promise (`GET /v1/promise`) for `qty` units to a point,
    /// now: per service level, the earliest date over the facilities whose
    /// available stock covers `qty`, from the view only (no mailbox is
    /// touched).
    pub fn promise(
        &self,
        sku_id: &str,
        qty: u32,
        lat: f64,
        lon: f64,
    ) -> Result<PromiseAnswer, ApiError> {
        crate::metrics::timed("promise", || {
            self.promise_at(sku_id, qty, lat, lon, now_ms())
        })
    }

    /// [`Orchestrator::promise`] at a given instant (tests drive the clock).
    pub fn promise_at(
        &self,
        sku_id: &str,
        qty: u32,
        lat: f64,
        lon: f64,
        now: orch_config::Millis,
    ) -> Result<PromiseAnswer, ApiError> {
        let view = &self.shared.view;
        crate::nearby::promise(
            &self.shared.catalog,
            &self.cfg.carriers,
            sku_id,
            qty,
            lat,
            lon,
            now,
            |sku, i| view.available(sku, FacilityIdx(i as u16)),
        )
    }

    /// The catalog, paged in id order (`GET /v1/skus`).
    pub fn skus(&self, limit: usize, after: Option<&str>) -> (Vec<String>, Option<String>) {
        crate::present::sku_page(&self.shared.catalog, limit, after)
    }

    /// Every facility (`GET /v1/facilities`).
    pub fn facilities(&self) -> Vec<FacilityView> {
        (0..self.shared.catalog.facilities().len())
            .map(|i| self.facility_view(FacilityIdx(i as u16)))
            .collect()
    }

    /// One facility (`GET /v1/facilities/{id}`).
    pub fn facility(&self, id: &str) -> Result<FacilityView, ApiError> {
        let f = self.known_facility(id)?;
        Ok(self.facility_view(f))
    }

    /// Releases a wave now (`POST /v1/facilities/{id}/waves/release`). Once
    /// it answers, every order of the wave knows its wave.
    pub async fn release_wave(&self, id: &str) -> Result<WaveView, ApiError> {
        let started = std::time::Instant::now();
        let result = self.release_wave_unmetered(id).await;
        crate::metrics::operation("release_wave", started.elapsed());
        result
    }

    async fn release_wave_unmetered(&self, id: &str) -> Result<WaveView, ApiError> {
        let f = self.known_facility(id)?;
        self.shared.durability.check_writable()?;
        crate::metrics::sending(crate::metrics::ActorKind::Facility);
        let wave = self
            .shared
            .facility(f)
            .send(ReleaseNow)
            .await
            .map_err(|e| ApiError::unavailable(e.to_string()))?;
        if let Some(w) = &wave {
            // The facility told the orders before answering; a round trip to
            // each order after that proves they handled it.
            let pings = w
                .fulfillments
                .iter()
                .filter_map(|r| self.shared.order_addr(r.order).ok().flatten())
                .map(|a| async move {
                    crate::metrics::sending(crate::metrics::ActorKind::Order);
                    a.send(GetOrder).await.ok()
                });
            join_all(pings).await;
            self.shared.durability.barrier().await?;
        }
        Ok(wave_view(&self.shared.catalog, f, wave.as_ref(), |no| {
            self.shared.order_name(no)
        }))
    }

    /// Enables or disables a facility for routing (`PUT /v1/facilities/{id}/status`).
    pub async fn set_facility_status(
        &self,
        id: &str,
        input: &FacilityStatusInput,
    ) -> Result<FacilityView, ApiError> {
        let f = self.known_facility(id)?;
        self.shared.durability.check_writable()?;
        let until = match &input.until {
            Some(t) => Some(validate::time("until", t)?),
            None => None,
        };
        crate::metrics::sending(crate::metrics::ActorKind::Facility);
        match self
            .shared
            .facility(f)
            .send(SetStatus {
                enabled: input.enabled,
                until,
            })
            .await
        {
            Ok(Ok(())) => {
                self.shared.durability.barrier().await?;
                Ok(self.facility_view(f))
            }
            Ok(Err(e)) => Err(invalid("invalid_status", format!("until: {e}"))),
            Err(e) => Err(ApiError::unavailable(e.to_string())),
        }
    }

    /// Subscribes to released waves (the warehouse simulator listens here).
    pub fn subscribe_waves(&self) -> tokio::sync::broadcast::Receiver<Arc<WaveAnnouncement>> {
        self.shared.waves.subscribe()
    }

    /// Waits until no fire-and-forget message is in flight (backorder
    /// fills, wave notices, drains): a quiescent point for audits.
    pub async fn quiesce(&self) {
        let mut calm = 0;
        while calm < 3 {
            if self.shared.pending.load(Ordering::Acquire) == 0 {
                calm += 1;
            } else {
                calm = 0;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Every actor's state at a quiescent point: cells (activated or not),
    /// orders, desks and facilities, each sorted by key.
    pub async fn states(&self) -> States {
        self.quiesce().await;
        self.states_now().await
    }

    /// Every actor's state as the actors answer now, without waiting for
    /// quiet (for callers that know nothing is in flight, such as a fuzzer
    /// between two answered requests).
    pub async fn states_now(&self) -> States {
        let cells = join_all(self.shared.cells().into_iter().map(|(k, a)| async move {
            crate::metrics::sending(crate::metrics::ActorKind::Cell);
            (k, a.send(GetCell).await)
        }))
        .await;
        let orders: Vec<_> = self
            .shared
            .orders
            .iter()
            .map(|e| e.value().clone())
            .collect();
        let orders = join_all(orders.into_iter().map(|a| async move {
            crate::metrics::sending(crate::metrics::ActorKind::Order);
            a.send(GetOrder).await
        }))
        .await;
        let desks = join_all(self.shared.desks().into_iter().map(|(k, a)| async move {
            crate::metrics::sending(crate::metrics::ActorKind::Desk);
            (k, a.send(GetDesk).await)
        }))
        .await;
        let facilities = join_all(self.shared.facilities().iter().map(|a| async move {
            crate::metrics::sending(crate::metrics::ActorKind::Facility);
            a.send(GetFacility).await
        }))
        .await;
        let mut cells: Vec<_> = cells
            .into_iter()
            .filter_map(|(k, r)| r.ok().map(|c| (k, c)))
            .collect();
        cells.extend(self.shared.dormant_cells());
        cells.sort_by_key(|c| c.0);
        let mut orders: Vec<OrderState> = orders.into_iter().filter_map(Result::ok).collect();
        // Dormant orders (never woken since recovery), then passivated
        // ones as the snapshot holds them.
        orders.extend(self.shared.dormant_orders.iter().map(|e| e.value().clone()));
        let store = self.store.lock().ok().and_then(|s| s.clone());
        if let Some(store) = store {
            let resident: std::collections::HashSet<_> =
                orders.iter().map(OrderState::no).collect();
            let passive: Vec<_> = self
                .shared
                .order_ids
                .iter()
                .map(|e| *e.value())
                .filter(|no| !resident.contains(no))
                .collect();
            for no in passive {
                if let Ok(Some(o)) = store.order(no) {
                    orders.push(o);
                }
            }
        }
        orders.sort_by_key(OrderState::no);
        let mut desks: Vec<_> = desks
            .into_iter()
            .filter_map(|(k, r)| r.ok().map(|d| (k, d)))
            .collect();
        desks.sort_by_key(|d| d.0);
        let facilities = facilities.into_iter().filter_map(Result::ok).collect();
        States {
            cells,
            orders,
            desks,
            facilities,
        }
    }

    /// The idempotency keys seen so far, each list sorted: receipt ids,
    /// adjustment ids and client order ids (scan event ids live in each
    /// order's state).
    pub fn idempotency_keys(&self) -> IdempotencyKeys {
        let sorted = |it: &mut dyn Iterator<Item = String>| {
            let mut v: Vec<String> = it.collect();
            v.sort_unstable();
            v
        };
        IdempotencyKeys {
            receipts: sorted(&mut self.receipts.seen_keys().iter().map(|k| k.to_string())),
            adjustments: sorted(&mut self.adjustments.seen_keys().iter().map(|k| k.to_string())),
            orders: sorted(&mut self.shared.order_ids.iter().map(|e| e.key().to_string())),
        }
    }

    /// Audits every invariant over every actor's state, at a quiescent point.
    pub async fn audit(&self) -> AuditReport {
        let s = self.states().await;
        audit(
            s.cells.iter().map(|(k, c)| (*k, c)),
            s.orders.iter(),
            s.desks.iter().map(|(k, d)| (*k, d)),
        )
    }

    /// Releases due waves at every facility now, as the timer would (tests).
    pub async fn release_all_waves(&self) -> usize {
        let mut n = 0;
        for i in 0..self.shared.facilities().len() {
            let id = self
                .shared
                .catalog
                .facility_config(FacilityIdx(i as u16))
                .id
                .clone();
            while let Ok(w) = self.release_wave(&id).await {
                if w.wave_id.is_none() {
                    break;
                }
                n += 1;
            }
        }
        n
    }

    /// The trigger names, for metrics and docs.
    pub fn wave_triggers() -> [&'static str; 4] {
        [
            WaveTrigger::Size,
            WaveTrigger::MaxWait,
            WaveTrigger::Cutoff,
            WaveTrigger::Manual,
        ]
        .map(WaveTrigger::as_str)
    }
}
