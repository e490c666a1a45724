//! `World`: every state machine of a network in one thread, with the flows
//! of DESIGN.md carried out by direct calls instead of messages.
//!
//! It is the reference the actor runtime is measured and tested against:
//! property tests drive it step by step, and the benchmark that gives the
//! actor overhead places the same orders through it. It makes exactly the
//! decisions the actors make (same state machines, same placement driver);
//! only the transport differs.

use std::collections::HashMap;
use std::sync::Arc;

use orch_config::{Config, Millis};

use crate::audit::{audit, AuditReport};
use crate::backorder::DeskState;
use crate::cell::{CellEvent, CellState, ReserveAnswer};
use crate::facility::{FacilityState, QueuedFulfillment, Wave, WaveTrigger};
use crate::ids::{CellKey, FacilityIdx, FulfillmentRef, LineRef, OrderNo, SkuIdx};
use crate::log::LogEntry;
use crate::order::{
    validate_request, Effect, OrderEvent, OrderRefusal, OrderState, PlaceRequest, Scan,
    ScanDecision,
};
use crate::placement::{Placement, Step};
use crate::routing::{FacilityInfo, RouteRequest, Router};

/// The answer to a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanOutcome {
    /// Applied.
    Applied,
    /// Seen before; nothing changed.
    Duplicate,
    /// Refused; nothing changed.
    Rejected(String),
}

/// Every state machine of one network, driven synchronously.
#[derive(Debug, Clone)]
pub struct World {
    router: Router,
    infos: Vec<FacilityInfo>,
    /// Stock cells that exist (configured or touched).
    pub cells: HashMap<CellKey, CellState>,
    /// Facilities by index.
    pub facilities: Vec<FacilityState>,
    /// Orders by number.
    pub orders: HashMap<OrderNo, OrderState>,
    /// Backorder desks by SKU.
    pub desks: HashMap<SkuIdx, DeskState>,
    /// Hold records by number (built by [`World::replay`] of hold entries).
    pub holds: HashMap<crate::hold::HoldNo, crate::hold::HoldState>,
    next_order: u64,
    lines_max: usize,
    qty_max: u32,
    log: Option<Vec<LogEntry>>,
    ids: u64,
}

impl World {
    /// A world with the configured network and stock, at time `now`.
    pub fn new(cfg: &Config, now: Millis) -> World {
        let net = &cfg.network;
        let infos = FacilityInfo::all(&net.facilities);
        let facilities = net
            .facilities
            .iter()
            .enumerate()
            .map(|(i, f)| FacilityState::new(FacilityIdx(i as u16), f, now))
            .collect();
        let cells = net
            .stock
            .iter()
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
        World {
            router: Router::new(&cfg.routing, &net.facilities, &cfg.carriers),
            infos,
            cells,
            facilities,
            orders: HashMap::new(),
            desks: HashMap::new(),
            holds: HashMap::new(),
            next_order: 1,
            lines_max: cfg.limits.order_lines_max as usize,
            qty_max: cfg.limits.qty_max,
            log: None,
            ids: 0,
        }
    }

    fn available(&self, key: CellKey) -> u32 {
        self.cells.get(&key).map_or(0, CellState::available)
    }

    /// Place an order; `Err` names the invalid field.
    pub fn place(&mut self, req: PlaceRequest, now: Millis) -> Result<OrderNo, String> {
        validate_request(&req, self.lines_max, self.qty_max)?;
        let no = OrderNo(self.next_order);
        self.next_order += 1;
        let (order, placed) = OrderState::place(no, req, now);
        let lines: Vec<(SkuIdx, u32)> = order
            .request()
            .lines
            .iter()
            .map(|l| (l.sku, l.qty))
            .collect();
        for (info, f) in self.infos.iter_mut().zip(&self.facilities) {
            info.enabled = f.enabled_at(now);
            info.capacity_used = f.capacity_used();
        }
        let r = order.request();
        let plan = self.router.plan(
            &RouteRequest {
                lines: &lines,
                lat: r.lat,
                lon: r.lon,
                service_level: r.service_level,
                channel: &r.channel,
            },
            &self.infos,
            now,
            |sku, facility| self.available(CellKey { sku, facility }),
        );
        let mut placement =
            Placement::new(plan, lines.iter().map(|l| l.1).collect(), r.allow_backorder);
        loop {
            match placement.next_step() {
                Step::Reserve {
                    facility,
                    lines: ls,
                } => {
                    let answers: Vec<(u16, ReserveAnswer)> = ls
                        .iter()
                        .map(|&l| {
                            let (sku, qty) = lines[usize::from(l)];
                            let cell = self.cells.entry(CellKey { sku, facility }).or_default();
                            let answer =
                                match cell.check_reserve(LineRef { order: no, line: l }, qty) {
                                    Ok((answer, event)) => {
                                        if let ReserveAnswer::Short { .. } = answer {
                                            cell.note_oversell_refusal();
                                        }
                                        if let Some(e) = event {
                                            cell.apply(&e);
                                        }
                                        answer
                                    }
                                    Err(_) => ReserveAnswer::Short { available: 0 },
                                };
                            (l, answer)
                        })
                        .collect();
                    placement.on_answers(&answers);
                }
                Step::Release {
                    facility,
                    lines: ls,
                } => {
                    for l in ls {
                        let key = CellKey {
                            sku: lines[usize::from(l)].0,
                            facility,
                        };
                        self.release(key, LineRef { order: no, line: l });
                    }
                }
                Step::Done => break,
            }
        }
        let (event, effects) = order.decide_routed(placement.outcome(), now, self.router.rates());
        let mut order = order;
        order.apply(&event);
        self.record(LogEntry::Order(no, placed));
        self.record(LogEntry::Order(no, event));
        self.orders.insert(no, order);
        self.run_effects(no, effects, now);
        Ok(no)
    }

    fn release(&mut self, key: CellKey, line: LineRef) {
        if let Some(cell) = self.cells.get_mut(&key) {
            if let Some(e) = cell.decide_release(line) {
                cell.apply(&e);
            }
        }
    }

    fn run_effects(&mut self, no: OrderNo, effects: Vec<Effect>, now: Millis) {
        for effect in effects {
            match effect {
                Effect::Pick { cell, line, qty } => {
                    let c = self
                        .cells
                        .get_mut(&cell)
                        .expect("pick of a cell that does not exist");
                    let e = c
                        .decide_pick(line, qty)
                        .expect("order and cell disagree on a pick");
                    c.apply(&e);
                }
                Effect::Release { cell, line } => {
                    self.release(cell, line);
                    self.drain_at(cell, now);
                }
                Effect::Restock { cell, qty } => self.arrive(cell, qty, true, now),
                Effect::Enqueue { fulfillment } => {
                    let order = &self.orders[&no];
                    let f = order
                        .fulfillment(fulfillment.n)
                        .expect("enqueue of a known fulfillment");
                    let q = QueuedFulfillment {
                        fulfillment,
                        lines: f.lines.iter().map(|l| (l.sku, l.qty)).collect(),
                        service_level: order.request().service_level,
                        queued_at: now,
                    };
                    let fac = &mut self.facilities[usize::from(f.facility.0)];
                    let e = fac
                        .decide_enqueue(q)
                        .expect("a new fulfillment is queued once");
                    fac.apply(&e);
                }
                Effect::Dequeue {
                    facility,
                    fulfillment,
                }
                | Effect::Close {
                    facility,
                    fulfillment,
                } => {
                    let fac = &mut self.facilities[usize::from(facility.0)];
                    let e = fac
                        .decide_dequeue(fulfillment)
                        .or_else(|| fac.decide_close(fulfillment));
                    if let Some(e) = e {
                        fac.apply(&e);
                    }
                }
                Effect::Backorder { sku, line, qty } => {
                    let order = &self.orders[&line.order];
                    let (prio, at) = (order.priority(), order.placed_at());
                    let desk = self.desks.entry(sku).or_insert_with(|| DeskState::new(sku));
                    if let Some(e) = desk.decide_queue(line, qty, prio, at) {
                        desk.apply(&e);
                    }
                    self.try_serve(sku, line, qty, now);
                }
                Effect::Unbackorder { sku, line } => {
                    if let Some(desk) = self.desks.get_mut(&sku) {
                        if let Some(e) = desk.decide_remove(line) {
                            desk.apply(&e);
                        }
                    }
                }
            }
        }
    }

    /// Stock arrives at a cell (receipt or restock): waiting backorders are
    /// served first, in the same step, then the rest is available.
    fn arrive(&mut self, key: CellKey, qty: u32, restock: bool, now: Millis) {
        let allocations = self
            .desks
            .get(&key.sku)
            .map(|d| d.allocate(qty))
            .unwrap_or_default();
        let cell = self.cells.entry(key).or_default();
        let e = if restock {
            cell.decide_restock(qty)
        } else {
            cell.decide_receive(qty)
        }
        .expect("validated quantity");
        cell.apply(&e);
        // A cell below its safety stock offers less than it received: a line
        // that does not fit is passed over, as the cell actor does.
        let mut filled: Vec<LineRef> = Vec::with_capacity(allocations.len());
        for (line, want) in allocations {
            if let Ok((ReserveAnswer::Reserved, Some(event))) = cell.check_reserve(line, want) {
                cell.apply(&event);
                filled.push(line);
            }
        }
        for line in filled {
            self.fill(key, line, now);
        }
    }

    /// A desk line got its reservation at `key`: leave the desk, tell the order.
    fn fill(&mut self, key: CellKey, line: LineRef, now: Millis) {
        let desk = self.desks.get_mut(&key.sku).expect("desk exists");
        desk.apply(&crate::backorder::DeskEvent::Filled {
            line,
            facility: key.facility,
        });
        let order = self
            .orders
            .get_mut(&line.order)
            .expect("waiting line has an order");
        match order.decide_fill(line.line, key.facility, now, self.router.rates()) {
            Ok((event, effects)) => {
                order.apply(&event);
                self.record(LogEntry::Order(line.order, event));
                self.run_effects(line.order, effects, now);
            }
            Err(_) => self.release(key, line),
        }
    }

    /// Serve one line that just started waiting from stock already
    /// available at an enabled facility (stock may have come back between
    /// its shortage and its queueing).
    fn try_serve(&mut self, sku: SkuIdx, line: LineRef, qty: u32, now: Millis) {
        let Some(facility) = (0..self.facilities.len() as u16)
            .map(FacilityIdx)
            .filter(|f| self.facilities[usize::from(f.0)].enabled_at(now))
            .find(|&f| self.available(CellKey { sku, facility: f }) >= qty)
        else {
            return;
        };
        self.serve(CellKey { sku, facility }, line, qty, now);
    }

    /// Stock became available at `key`: offer it to the waiting lines in
    /// queue order, passing over a line it cannot cover (it could not serve
    /// it), until it runs out.
    fn drain_at(&mut self, key: CellKey, now: Millis) {
        if !self.facilities[usize::from(key.facility.0)].enabled_at(now) {
            return;
        }
        let waiting: Vec<(LineRef, u32)> = match self.desks.get(&key.sku) {
            Some(d) if d.waiting() > 0 => d.queue().collect(),
            _ => return,
        };
        for (line, qty) in waiting {
            let available = self.available(key);
            if available == 0 {
                return;
            }
            if qty <= available {
                self.serve(key, line, qty, now);
            }
        }
    }

    fn serve(&mut self, key: CellKey, line: LineRef, qty: u32, now: Millis) {
        let cell = self.cells.get_mut(&key).expect("available cell exists");
        let (answer, event) = cell
            .check_reserve(line, qty)
            .expect("waiting line holds nothing");
        assert_eq!(answer, ReserveAnswer::Reserved);
        cell.apply(&event.expect("reserved"));
        self.fill(key, line, now);
    }

    /// Receive stock at a cell.
    pub fn receive(&mut self, key: CellKey, qty: u32, now: Millis) -> Result<(), String> {
        if qty == 0 || qty > self.qty_max {
            return Err(format!("qty: must be 1 to {}, got {qty}", self.qty_max));
        }
        if let Some(cell) = self.cells.get(&key) {
            cell.decide_receive(qty).map_err(|e| e.to_string())?;
        }
        self.ids += 1;
        let receipt_id: Arc<str> = format!("world-r{}", self.ids).into();
        self.record(LogEntry::Received {
            cell: key,
            qty,
            receipt_id,
        });
        self.arrive(key, qty, false, now);
        Ok(())
    }

    /// Cycle count: set on hand (never below reserved).
    pub fn adjust(&mut self, key: CellKey, on_hand: u32, now: Millis) -> Result<(), String> {
        let cell = self.cells.entry(key).or_default();
        let e = cell.decide_adjust(on_hand).map_err(|e| e.to_string())?;
        cell.apply(&e);
        self.ids += 1;
        let adjustment_id: Arc<str> = format!("world-a{}", self.ids).into();
        self.record(LogEntry::Adjusted {
            cell: key,
            event: e,
            adjustment_id,
        });
        if let CellEvent::Adjusted { from, to } = e {
            if to > from {
                self.drain_at(key, now);
            }
        }
        Ok(())
    }

    /// Apply a scan to an order.
    pub fn scan(&mut self, no: OrderNo, scan: &Scan) -> ScanOutcome {
        let Some(order) = self.orders.get(&no) else {
            return ScanOutcome::Rejected("unknown order".into());
        };
        match order.decide_scan(scan, self.router.rates()) {
            Ok(ScanDecision::Duplicate) => ScanOutcome::Duplicate,
            Ok(ScanDecision::Apply { event, effects }) => {
                // A return is journaled before its stock can serve anyone;
                // other scans after their cell effect (see `log`).
                let intent_first = scan.kind == crate::order::ScanKind::ReturnReceived;
                if !intent_first {
                    self.run_effects(no, effects.clone(), scan.at);
                }
                self.orders
                    .get_mut(&no)
                    .expect("order exists")
                    .apply(&event);
                self.record(LogEntry::Order(no, event));
                if intent_first {
                    self.run_effects(no, effects, scan.at);
                }
                ScanOutcome::Applied
            }
            Err(e) => ScanOutcome::Rejected(e.to_string()),
        }
    }

    /// Cancel an order.
    pub fn cancel(&mut self, no: OrderNo, now: Millis) -> Result<(), OrderRefusal> {
        let order = self
            .orders
            .get_mut(&no)
            .ok_or(OrderRefusal::Final("unknown"))?;
        if let Some((event, effects)) = order.decide_cancel(now)? {
            order.apply(&event);
            self.record(LogEntry::Order(no, event));
            self.run_effects(no, effects, now);
        }
        Ok(())
    }

    /// Release due waves everywhere (size, max wait, cutoff).
    pub fn tick(&mut self, now: Millis) -> Vec<Wave> {
        let mut waves = Vec::new();
        for i in 0..self.facilities.len() {
            while let Some(trigger) = self.facilities[i].due_trigger(now) {
                match self.release_wave(FacilityIdx(i as u16), trigger, now) {
                    Some(w) => waves.push(w),
                    None => break,
                }
            }
            self.facilities[i].advance_clock(now);
        }
        waves
    }

    /// Release one wave at a facility now.
    pub fn release_wave(
        &mut self,
        facility: FacilityIdx,
        trigger: WaveTrigger,
        now: Millis,
    ) -> Option<Wave> {
        let fac = &mut self.facilities[usize::from(facility.0)];
        let event = fac.decide_release(trigger, now)?;
        let crate::facility::FacilityEvent::WaveReleased {
            wave_id,
            fulfillments,
            ..
        } = &event
        else {
            unreachable!("decide_release returns a wave")
        };
        let wave = Wave {
            wave_id: wave_id.clone(),
            trigger,
            released_at: now,
            pick_list: fac.pick_list(fulfillments),
            fulfillments: fulfillments.clone(),
        };
        fac.apply(&event);
        self.record(LogEntry::Facility(facility, event));
        self.tell_wave(&wave.fulfillments, &wave.wave_id, now);
        Some(wave)
    }

    fn tell_wave(&mut self, fulfillments: &[FulfillmentRef], wave_id: &Arc<str>, at: Millis) {
        for &FulfillmentRef { order, n } in fulfillments {
            if let Some(o) = self.orders.get_mut(&order) {
                if let Ok(e) = o.decide_wave(n, wave_id.clone(), at) {
                    o.apply(&e);
                }
            }
        }
    }

    /// Enable or disable a facility for routing.
    pub fn set_status(
        &mut self,
        facility: FacilityIdx,
        enabled: bool,
        until: Option<Millis>,
        now: Millis,
    ) -> Result<(), String> {
        let fac = &mut self.facilities[usize::from(facility.0)];
        let e = fac
            .decide_status(enabled, until, now)
            .map_err(|e| e.to_string())?;
        fac.apply(&e);
        self.record(LogEntry::Facility(facility, e));
        Ok(())
    }

    fn record(&mut self, entry: LogEntry) {
        if let Some(log) = &mut self.log {
            log.push(entry);
        }
    }

    /// Keep, from now on, the journal entries the actors would write.
    pub fn record_log(&mut self) {
        self.log.get_or_insert_with(Vec::new);
    }

    /// The journal entries recorded so far.
    pub fn log(&self) -> &[LogEntry] {
        self.log.as_deref().unwrap_or_default()
    }

    /// The journal entries recorded so far (and keep recording).
    pub fn take_log(&mut self) -> Vec<LogEntry> {
        self.log.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The next order number this world would assign.
    pub fn next_order_no(&self) -> u64 {
        self.next_order
    }

    /// Sets the next order number (a world loaded from a snapshot).
    pub fn set_next_order_no(&mut self, next: u64) {
        self.next_order = next.max(1);
    }

    /// Applies one journaled entry, deriving what it implies for the other
    /// actors (see [`crate::log`]): the recovery path. Entries must come in
    /// journal order; a world built from the same config that replays the
    /// journal of another reaches the same cells, orders, desks and facility
    /// queues.
    pub fn replay(&mut self, entry: &LogEntry) -> Result<(), String> {
        match entry {
            LogEntry::Order(no, event) => self.replay_order(*no, event),
            LogEntry::Received { cell, qty, .. } => {
                let c = self.cells.entry(*cell).or_default();
                let e = c
                    .decide_receive(*qty)
                    .map_err(|e| format!("{cell:?}: {e}"))?;
                c.apply(&e);
                Ok(())
            }
            LogEntry::Adjusted { cell, event, .. } => {
                self.cells.entry(*cell).or_default().apply(event);
                Ok(())
            }
            LogEntry::Facility(idx, event) => {
                let fac = self
                    .facilities
                    .get_mut(usize::from(idx.0))
                    .ok_or_else(|| format!("unknown facility {idx:?}"))?;
                fac.apply(event);
                if let crate::facility::FacilityEvent::WaveReleased {
                    wave_id,
                    fulfillments,
                    at,
                    ..
                } = event
                {
                    self.tell_wave(fulfillments, wave_id, *at);
                }
                Ok(())
            }
            LogEntry::Hold(no, event) => self.replay_hold(*no, event),
        }
    }

    /// A hold's event: the record, and the cells' held units it implies.
    fn replay_hold(
        &mut self,
        no: crate::hold::HoldNo,
        event: &crate::hold::HoldEvent,
    ) -> Result<(), String> {
        use crate::hold::{HoldEvent, HoldLine, HoldState};
        if let HoldEvent::Created { .. } = event {
            let hold = HoldState::from_created(no, event).expect("a Created event");
            for (facility, line, ol) in hold.units_held() {
                let c = self.cells.entry(CellKey {
                    sku: ol.sku,
                    facility,
                });
                c.or_default().apply(&CellEvent::Held {
                    hold: HoldLine { hold: no, line },
                    qty: ol.qty,
                });
            }
            self.holds.insert(no, hold);
            return Ok(());
        }
        let hold = self
            .holds
            .get_mut(&no)
            .ok_or_else(|| format!("event for unknown hold {no:?}"))?;
        let before: Vec<_> = hold.units_held().collect();
        hold.apply(event);
        if hold.status() != crate::hold::HoldStatus::Active {
            for (facility, line, ol) in before {
                let key = CellKey {
                    sku: ol.sku,
                    facility,
                };
                let c = self.cells.entry(key).or_default();
                if let Some(e) = c.decide_unhold(HoldLine { hold: no, line }) {
                    c.apply(&e);
                }
            }
        }
        Ok(())
    }

    fn replay_order(&mut self, no: OrderNo, event: &OrderEvent) -> Result<(), String> {
        if let OrderEvent::Placed { .. } = event {
            let order = OrderState::from_placed(no, event).expect("a Placed event");
            self.orders.insert(no, order);
            self.next_order = self.next_order.max(no.0 + 1);
            return Ok(());
        }
        let order = self
            .orders
            .get_mut(&no)
            .ok_or_else(|| format!("event for unknown order {no:?}"))?;
        let at = match event {
            OrderEvent::Routed { at, .. }
            | OrderEvent::BackorderFilled { at, .. }
            | OrderEvent::WaveReleased { at, .. }
            | OrderEvent::Cancelled { at } => *at,
            OrderEvent::Scanned(s) | OrderEvent::ShippedRerated { scan: s, .. } => s.at,
            OrderEvent::Placed { at, .. } => *at,
        };
        let mut reserve: Vec<(CellKey, LineRef, u32)> = Vec::new();
        let effects = match event {
            OrderEvent::Routed {
                fulfillments,
                backordered,
                rejected,
                ..
            } => {
                let outcome = crate::placement::PlacementOutcome {
                    fulfillments: fulfillments.clone(),
                    backordered: backordered.clone(),
                    rejected: rejected.clone(),
                };
                if rejected.is_none() {
                    for (facility, lines) in fulfillments {
                        for &l in lines {
                            let ol = order.request().lines[usize::from(l)];
                            reserve.push((
                                CellKey {
                                    sku: ol.sku,
                                    facility: *facility,
                                },
                                LineRef { order: no, line: l },
                                ol.qty,
                            ));
                        }
                    }
                }
                order.decide_routed(outcome, at, self.router.rates()).1
            }
            OrderEvent::BackorderFilled { line, facility, .. } => {
                let ol = order.request().lines[usize::from(*line)];
                let key = CellKey {
                    sku: ol.sku,
                    facility: *facility,
                };
                let line_ref = LineRef {
                    order: no,
                    line: *line,
                };
                reserve.push((key, line_ref, ol.qty));
                if let Some(desk) = self.desks.get_mut(&ol.sku) {
                    desk.apply(&crate::backorder::DeskEvent::Filled {
                        line: line_ref,
                        facility: *facility,
                    });
                }
                let order = self.orders.get_mut(&no).expect("checked above");
                order
                    .decide_fill(*line, *facility, at, self.router.rates())
                    .map_err(|e| format!("{no:?}: {e}"))?
                    .1
            }
            OrderEvent::Scanned(scan) | OrderEvent::ShippedRerated { scan, .. } => match order
                .decide_scan(scan, self.router.rates())
            {
                Ok(ScanDecision::Apply { effects, .. }) => effects,
                other => return Err(format!("{no:?}: journaled scan does not apply: {other:?}")),
            },
            OrderEvent::Cancelled { .. } => match order.decide_cancel(at) {
                Ok(Some((_, effects))) => effects,
                other => {
                    return Err(format!(
                        "{no:?}: journaled cancel does not apply: {other:?}"
                    ))
                }
            },
            OrderEvent::WaveReleased { .. } | OrderEvent::Placed { .. } => Vec::new(),
        };
        for (key, line, qty) in reserve {
            self.cells
                .entry(key)
                .or_default()
                .apply(&CellEvent::Reserved { line, qty });
        }
        self.orders
            .get_mut(&no)
            .expect("checked above")
            .apply(event);
        self.replay_effects(no, effects, at);
        Ok(())
    }

    /// Effects as derived on replay: the same as live, except that stock put
    /// back is not offered to waiting lines here (the fills it made live are
    /// journaled as their own `BackorderFilled` events) and nothing drains.
    fn replay_effects(&mut self, no: OrderNo, effects: Vec<Effect>, now: Millis) {
        let (direct, rest): (Vec<Effect>, Vec<Effect>) = effects.into_iter().partition(|e| {
            matches!(
                e,
                Effect::Pick { .. }
                    | Effect::Release { .. }
                    | Effect::Restock { .. }
                    | Effect::Backorder { .. }
            )
        });
        for effect in direct {
            match effect {
                Effect::Pick { cell, line, qty } => {
                    let c = self.cells.entry(cell).or_default();
                    c.apply(&CellEvent::Picked { line, qty });
                }
                Effect::Release { cell, line } => self.release(cell, line),
                Effect::Restock { cell, qty } => {
                    self.cells
                        .entry(cell)
                        .or_default()
                        .apply(&CellEvent::Restocked { qty });
                }
                Effect::Backorder { sku, line, qty } => {
                    let order = &self.orders[&line.order];
                    let (prio, at) = (order.priority(), order.placed_at());
                    let desk = self.desks.entry(sku).or_insert_with(|| DeskState::new(sku));
                    if let Some(e) = desk.decide_queue(line, qty, prio, at) {
                        desk.apply(&e);
                    }
                }
                _ => unreachable!("partitioned"),
            }
        }
        self.run_effects(no, rest, now);
    }

    /// Audit every invariant now.
    pub fn audit(&self) -> AuditReport {
        audit(
            self.cells.iter().map(|(k, c)| (*k, c)),
            self.orders.values(),
            self.desks.iter().map(|(k, d)| (*k, d)),
        )
    }

    /// The order id of a number (for messages).
    pub fn order_id(&self, no: OrderNo) -> Option<Arc<str>> {
        self.orders.get(&no).map(|o| o.request().order_id.clone())
    }
}
