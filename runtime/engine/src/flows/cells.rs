//! The stock cells of a facility: reserve (all lines of one request
//! answered at once), release, pick, arrivals (receive or restock, then
//! reserve for the desk's allocations in the same step), serve waiting
//! lines, and cycle counts.
//!
//! Holds: hold units for a hold's lines (answered at once, like a
//! reservation), give a hold line's units back and reserve them for the
//! desk's allocations in the same step (as an arrival does), and turn a
//! hold line's units into an order line's reservation in place.
//!
//! A cell is the only place that decides whether stock can be reserved.
//! It journals only what no order records: receipts and cycle counts, with
//! their idempotency ids. It never waits for anyone.

use orch_actors::cell::{CellEvent, CellRefusal, CellState, ReserveAnswer};
use orch_actors::hold::HoldLine;
use orch_actors::log::LogEntry;
use orch_actors::{CellKey, FacilityIdx, LineRef, SkuIdx};

use crate::msg::{ActorRef, Answer, Msg, StockAnswer};
use crate::shard::Shard;

impl Shard {
    pub(crate) fn cells_msg(&mut self, f: FacilityIdx, msg: Msg) {
        match msg {
            Msg::Reserve { order, lines } => {
                let answers = lines
                    .into_iter()
                    .map(|(l, sku, qty)| {
                        let line = LineRef { order, line: l };
                        (l, self.reserve(CellKey { sku, facility: f }, line, qty))
                    })
                    .collect();
                self.send(ActorRef::Order(order), Msg::Reserved { answers });
            }
            Msg::Release { lines, drain } => {
                let mut drains: Vec<SkuIdx> = Vec::new();
                for (sku, line) in lines {
                    let key = CellKey { sku, facility: f };
                    if let Some(cell) = self.cells.get_mut(&key) {
                        if let Some(e) = cell.decide_release(line) {
                            cell.apply(&e);
                            self.touch_cell(key);
                        }
                    }
                    if drain && !drains.contains(&sku) {
                        drains.push(sku);
                    }
                }
                if self.facility_enabled_here(f) {
                    for sku in drains {
                        self.send(ActorRef::Desk(sku), Msg::Drain { facility: f });
                    }
                }
            }
            Msg::Pick { sku, line, qty } => {
                let key = CellKey { sku, facility: f };
                let cell = self.cells.entry(key).or_default();
                match cell.decide_pick(line, qty) {
                    Ok(e) => {
                        cell.apply(&e);
                        self.touch_cell(key);
                    }
                    Err(e) => self.anomaly(format!("pick {line:?} x{qty} at {key:?}: {e}")),
                }
            }
            Msg::Arrive {
                sku,
                qty,
                restock,
                receipt_id,
                allocations,
                reply,
            } => {
                let key = CellKey { sku, facility: f };
                let lines = self.arrive(key, qty, restock, receipt_id, allocations, reply);
                self.send(ActorRef::Desk(sku), Msg::Served { facility: f, lines });
            }
            Msg::Serve { sku, candidates } => {
                let key = CellKey { sku, facility: f };
                let mut lines = Vec::new();
                if self.facility_enabled_here(f) {
                    if let Some(cell) = self.cells.get_mut(&key) {
                        for (line, qty) in candidates {
                            let available = cell.available();
                            if available == 0 {
                                break;
                            }
                            if qty > available {
                                continue;
                            }
                            if let Ok((ReserveAnswer::Reserved, Some(e))) =
                                cell.check_reserve(line, qty)
                            {
                                cell.apply(&e);
                                lines.push(line);
                            }
                        }
                        self.touch_cell(key);
                    }
                }
                self.send(ActorRef::Desk(sku), Msg::Served { facility: f, lines });
            }
            Msg::HoldUnits { hold, lines } => {
                let answers = lines
                    .into_iter()
                    .map(|(l, sku, qty)| {
                        let key = CellKey { sku, facility: f };
                        (l, self.hold_units(key, HoldLine { hold, line: l }, qty))
                    })
                    .collect();
                self.send(ActorRef::Hold(hold), Msg::Reserved { answers });
            }
            Msg::Unhold {
                sku,
                hold,
                allocations,
                from_desk,
            } => {
                let key = CellKey { sku, facility: f };
                let mut lines = Vec::new();
                if let Some(cell) = self.cells.get_mut(&key) {
                    if let Some(e) = cell.decide_unhold(hold) {
                        cell.apply(&e);
                    }
                    for (line, want) in allocations {
                        if let Ok((ReserveAnswer::Reserved, Some(e))) =
                            cell.check_reserve(line, want)
                        {
                            cell.apply(&e);
                            lines.push(line);
                        }
                    }
                    self.touch_cell(key);
                }
                if from_desk {
                    self.send(ActorRef::Desk(sku), Msg::Served { facility: f, lines });
                }
            }
            Msg::ConvertHeld {
                sku,
                hold,
                line,
                qty,
            } => {
                let key = CellKey { sku, facility: f };
                let cell = self.cells.entry(key).or_default();
                match cell.decide_convert_hold(hold, line, qty) {
                    Ok(e) => {
                        cell.apply(&e);
                        self.touch_cell(key);
                    }
                    Err(e) => self.anomaly(format!("convert {hold:?} to {line:?} at {key:?}: {e}")),
                }
            }
            Msg::Adjust {
                sku,
                on_hand,
                adjustment_id,
                reply,
            } => {
                let answer = self.adjust(CellKey { sku, facility: f }, on_hand, adjustment_id);
                self.reply(reply, Answer::Stock(answer));
            }
            other => self.anomaly(format!("cells of {f:?} got {other:?}")),
        }
    }

    fn facility_enabled_here(&self, f: FacilityIdx) -> bool {
        self.facilities
            .get(usize::from(f.0))
            .and_then(Option::as_ref)
            .is_some_and(|s| s.enabled_at(self.now))
    }

    fn reserve(&mut self, key: CellKey, line: LineRef, qty: u32) -> ReserveAnswer {
        self.take_units(key, |cell| cell.check_reserve(line, qty))
    }

    fn hold_units(&mut self, key: CellKey, hold: HoldLine, qty: u32) -> ReserveAnswer {
        self.take_units(key, |cell| cell.check_hold(hold, qty))
    }

    /// Applies what `decide` lets the cell set aside (a reservation or a
    /// hold), or counts the refusal.
    fn take_units(
        &mut self,
        key: CellKey,
        decide: impl FnOnce(&CellState) -> Result<(ReserveAnswer, Option<CellEvent>), CellRefusal>,
    ) -> ReserveAnswer {
        let cell = self.cells.entry(key).or_default();
        match decide(cell) {
            Ok((ReserveAnswer::Reserved, Some(e))) => {
                cell.apply(&e);
                self.touch_cell(key);
                self.out.facts.reserved += 1;
                ReserveAnswer::Reserved
            }
            Ok((answer, _)) => {
                cell.note_oversell_refusal();
                self.out.facts.short += 1;
                answer
            }
            Err(_) => {
                self.out.facts.refused += 1;
                ReserveAnswer::Short { available: 0 }
            }
        }
    }

    /// Receive or restock, then reserve for the allocations that fit (a cell
    /// below its safety stock offers less than it received: a line that
    /// does not fit is passed over). Returns the lines reserved.
    fn arrive(
        &mut self,
        key: CellKey,
        qty: u32,
        restock: bool,
        receipt_id: Option<std::sync::Arc<str>>,
        allocations: Vec<(LineRef, u32)>,
        reply: Option<crate::msg::RequestId>,
    ) -> Vec<LineRef> {
        if let Some(id) = &receipt_id {
            if self.receipts.contains(id) {
                if let Some(r) = reply {
                    self.reply(r, Answer::Stock(StockAnswer::Duplicate));
                }
                return Vec::new();
            }
        }
        let cell = self.cells.entry(key).or_default();
        let decided = if restock {
            cell.decide_restock(qty)
        } else {
            cell.decide_receive(qty)
        };
        let e = match decided {
            Ok(e) => e,
            Err(e) => {
                match reply {
                    Some(r) => self.reply(r, Answer::Stock(StockAnswer::Rejected(e.to_string()))),
                    None => self.anomaly(format!("restock of {qty} at {key:?}: {e}")),
                }
                return Vec::new();
            }
        };
        cell.apply(&e);
        let mut filled = Vec::with_capacity(allocations.len());
        for (line, want) in allocations {
            if let Ok((ReserveAnswer::Reserved, Some(event))) = cell.check_reserve(line, want) {
                cell.apply(&event);
                filled.push(line);
            }
        }
        self.touch_cell(key);
        if let Some(id) = receipt_id {
            self.receipts.insert(id.clone());
            self.journal(LogEntry::Received {
                cell: key,
                qty,
                receipt_id: id,
            });
        }
        if let Some(r) = reply {
            let served = filled.len() as u32;
            self.reply(r, Answer::Stock(StockAnswer::Applied { served }));
        }
        filled
    }

    fn adjust(
        &mut self,
        key: CellKey,
        on_hand: u32,
        adjustment_id: std::sync::Arc<str>,
    ) -> StockAnswer {
        if self.adjustments.contains(&adjustment_id) {
            return StockAnswer::Duplicate;
        }
        let cell = self.cells.entry(key).or_default();
        let e = match cell.decide_adjust(on_hand) {
            Ok(e) => e,
            Err(e) => return StockAnswer::Rejected(e.to_string()),
        };
        cell.apply(&e);
        self.touch_cell(key);
        self.adjustments.insert(adjustment_id.clone());
        self.journal(LogEntry::Adjusted {
            cell: key,
            event: e,
            adjustment_id,
        });
        if let CellEvent::Adjusted { from, to } = e {
            if to > from && self.facility_enabled_here(key.facility) {
                self.send(
                    ActorRef::Desk(key.sku),
                    Msg::Drain {
                        facility: key.facility,
                    },
                );
            }
        }
        StockAnswer::Applied { served: 0 }
    }
}
