//! The StockCell actor: one (sku, facility) cell.

use std::sync::Arc;

use actix::prelude::*;
use orch_actors::cell::{CellRefusal, CellState, ReserveAnswer};
use orch_actors::log::LogEntry;
use orch_actors::{CellKey, LineRef};

use crate::shared::Shared;
use crate::view::CellCounts;

/// The actor of one stock cell.
pub struct CellActor {
    key: CellKey,
    state: CellState,
    shared: Arc<Shared>,
}

impl CellActor {
    /// A cell in a given state (configured stock or recovered).
    pub fn new(key: CellKey, state: CellState, shared: Arc<Shared>) -> CellActor {
        CellActor { key, state, shared }
    }

    fn publish(&self) {
        // Cannot happen (apply asserts it); counted so an alert would say so.
        if self.state.reserved() > self.state.on_hand() {
            crate::metrics::oversold();
        }
        self.shared.view.publish(
            self.key,
            CellCounts {
                on_hand: self.state.on_hand(),
                reserved: self.state.reserved(),
                available: self.state.available(),
            },
        );
    }
}

impl Actor for CellActor {
    type Context = Context<Self>;
}

/// Reserve `qty` for a line, all or nothing.
#[derive(Message)]
#[rtype(result = "ReserveAnswer")]
pub struct Reserve {
    /// Line.
    pub line: LineRef,
    /// Units.
    pub qty: u32,
}

impl Handler<Reserve> for CellActor {
    type Result = MessageResult<Reserve>;
    fn handle(&mut self, msg: Reserve, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Cell);
        let answer = match self.state.check_reserve(msg.line, msg.qty) {
            Ok((answer, event)) => {
                if let ReserveAnswer::Short { .. } = answer {
                    self.state.note_oversell_refusal();
                }
                if let Some(e) = event {
                    self.state.apply(&e);
                    self.publish();
                }
                crate::metrics::reservation(match answer {
                    ReserveAnswer::Reserved => "reserved",
                    ReserveAnswer::Short { .. } => "short",
                });
                answer
            }
            // A refused reservation (zero units, line already here) is a
            // shortage to the caller; nothing changed.
            Err(_) => {
                crate::metrics::reservation("refused");
                ReserveAnswer::Short {
                    available: self.state.available(),
                }
            }
        };
        MessageResult(answer)
    }
}

/// Release whatever a line holds here; answers the units released.
#[derive(Message)]
#[rtype(result = "u32")]
pub struct Release {
    /// Line.
    pub line: LineRef,
}

impl Handler<Release> for CellActor {
    type Result = u32;
    fn handle(&mut self, msg: Release, _: &mut Context<Self>) -> u32 {
        crate::metrics::handled(crate::metrics::ActorKind::Cell);
        match self.state.decide_release(msg.line) {
            Some(e) => {
                self.state.apply(&e);
                self.publish();
                self.shared.stock_freed(self.key);
                match e {
                    orch_actors::cell::CellEvent::Released { qty, .. } => qty,
                    _ => 0,
                }
            }
            None => 0,
        }
    }
}

/// Pick (commit) units of a line's reservation.
#[derive(Message)]
#[rtype(result = "Result<(), CellRefusal>")]
pub struct Pick {
    /// Line.
    pub line: LineRef,
    /// Units.
    pub qty: u32,
}

impl Handler<Pick> for CellActor {
    type Result = Result<(), CellRefusal>;
    fn handle(&mut self, msg: Pick, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Cell);
        let e = self.state.decide_pick(msg.line, msg.qty)?;
        self.state.apply(&e);
        self.publish();
        Ok(())
    }
}

/// Stock arrives (receipt or restock) and, in the same step, is reserved
/// for the waiting lines the SKU's desk chose. Answers the lines reserved
/// (safety stock may keep some back).
#[derive(Message)]
#[rtype(result = "Result<Vec<LineRef>, CellRefusal>")]
pub struct Arrive {
    /// Units.
    pub qty: u32,
    /// A restocked return (else a receipt).
    pub restock: bool,
    /// (line, units) to reserve out of the new stock, in order.
    pub allocations: Vec<(LineRef, u32)>,
    /// The receipt that brought it (journaled with it); `None` for a
    /// restocked return (its order journals it).
    pub receipt_id: Option<Arc<str>>,
}

impl Handler<Arrive> for CellActor {
    type Result = Result<Vec<LineRef>, CellRefusal>;
    fn handle(&mut self, msg: Arrive, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Cell);
        let e = if msg.restock {
            self.state.decide_restock(msg.qty)?
        } else {
            self.state.decide_receive(msg.qty)?
        };
        self.state.apply(&e);
        if let Some(receipt_id) = msg.receipt_id {
            self.shared.durability.log(&[LogEntry::Received {
                cell: self.key,
                qty: msg.qty,
                receipt_id,
            }]);
        }
        let mut reserved = Vec::with_capacity(msg.allocations.len());
        for (line, qty) in msg.allocations {
            // Safety stock may keep some back: a line that does not fit is
            // passed over, as the desk's allocation does.
            if let Ok((ReserveAnswer::Reserved, Some(ev))) = self.state.check_reserve(line, qty) {
                self.state.apply(&ev);
                reserved.push(line);
                crate::metrics::reservation("reserved");
            } else {
                crate::metrics::reservation("short");
            }
        }
        self.publish();
        Ok(reserved)
    }
}

/// Cycle count: set on hand.
#[derive(Message)]
#[rtype(result = "Result<(), CellRefusal>")]
pub struct Adjust {
    /// New on hand.
    pub on_hand: u32,
    /// Idempotency key, journaled with the count.
    pub adjustment_id: Arc<str>,
}

impl Handler<Adjust> for CellActor {
    type Result = Result<(), CellRefusal>;
    fn handle(&mut self, msg: Adjust, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Cell);
        let before = self.state.available();
        let e = self.state.decide_adjust(msg.on_hand)?;
        self.state.apply(&e);
        self.shared.durability.log(&[LogEntry::Adjusted {
            cell: self.key,
            event: e,
            adjustment_id: msg.adjustment_id,
        }]);
        self.publish();
        if self.state.available() > before {
            self.shared.stock_freed(self.key);
        }
        Ok(())
    }
}

/// A copy of the cell's state (audit, inventory).
#[derive(Message)]
#[rtype(result = "CellState")]
pub struct GetCell;

impl Handler<GetCell> for CellActor {
    type Result = MessageResult<GetCell>;
    fn handle(&mut self, _: GetCell, _: &mut Context<Self>) -> Self::Result {
        crate::metrics::handled(crate::metrics::ActorKind::Cell);
        MessageResult(self.state.clone())
    }
}
