//! The StockCell state machine: one SKU at one facility.
//!
//! It owns on hand, reserved, safety stock and the reservations by order
//! line, and it is the single source of truth for them: the availability view
//! the router reads is only a copy. Every change is an event; `decide_*`
//! methods never mutate, `apply` never refuses. A request that would take the
//! cell below zero is refused and counted (the oversell counter), never
//! applied.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::hold::HoldLine;
use crate::ids::LineRef;

/// A change to a cell, as journaled and replayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CellEvent {
    /// Units set aside for an order line.
    Reserved {
        /// The line.
        line: LineRef,
        /// Units.
        qty: u32,
    },
    /// A reservation given back (cancel, failed all-or-nothing attempt).
    Released {
        /// The line.
        line: LineRef,
        /// Units.
        qty: u32,
    },
    /// Units picked for a line: on hand and reserved both drop.
    Picked {
        /// The line.
        line: LineRef,
        /// Units.
        qty: u32,
    },
    /// Stock received from a supplier.
    Received {
        /// Units.
        qty: u32,
    },
    /// Units put back on the shelf: a restocked return, or picked units of a
    /// cancelled order.
    Restocked {
        /// Units.
        qty: u32,
    },
    /// A cycle count set on hand.
    Adjusted {
        /// On hand before.
        from: u32,
        /// On hand after.
        to: u32,
    },
    /// Units held for a hold line (a cart).
    Held {
        /// The hold line.
        hold: HoldLine,
        /// Units.
        qty: u32,
    },
    /// A hold line's units given back (released, expired, or the part a
    /// converting order did not take).
    Unheld {
        /// The hold line.
        hold: HoldLine,
        /// Units.
        qty: u32,
    },
    /// A hold line's units become an order line's reservation in place;
    /// what the order line does not take (`held - qty`) is given back in
    /// the same event.
    HoldConverted {
        /// The hold line.
        hold: HoldLine,
        /// The order line taking the units.
        line: LineRef,
        /// Units the order line takes (at most what the hold line held).
        qty: u32,
    },
}

/// Why a cell refused a request. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum CellRefusal {
    /// Quantities are at least 1.
    #[error("quantity must be at least 1")]
    ZeroQuantity,
    /// A line is reserved at most once per cell.
    #[error("line is already reserved at this cell")]
    AlreadyReserved,
    /// Pick of a line that holds no reservation here.
    #[error("no reservation for this line")]
    NoReservation,
    /// Pick of more than the line holds.
    #[error("pick of {asked} units exceeds the {reserved} reserved for the line")]
    PickOverReserved {
        /// Units asked.
        asked: u32,
        /// Units the line holds.
        reserved: u32,
    },
    /// A cycle count below what is reserved.
    #[error("on hand {asked} is below the {reserved} units reserved")]
    BelowReserved {
        /// On hand asked.
        asked: u32,
        /// Units reserved.
        reserved: u32,
    },
    /// A count that would overflow.
    #[error("quantity overflows the cell")]
    Overflow,
    /// Conversion of a hold line that holds nothing here.
    #[error("no units held for this hold line")]
    NoHold,
    /// Conversion of more than the hold line holds.
    #[error("conversion of {asked} units exceeds the {held} held for the hold line")]
    ConvertOverHeld {
        /// Units asked.
        asked: u32,
        /// Units the hold line holds.
        held: u32,
    },
}

/// Answer to a reservation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReserveAnswer {
    /// Reserved in full.
    Reserved,
    /// Not enough: this many units are available now (nothing reserved).
    Short {
        /// Units available for new reservations.
        available: u32,
    },
}

/// Running totals for the conservation audit of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CellLedger {
    /// On hand when the cell was created.
    pub initial: u64,
    /// Units received.
    pub received: u64,
    /// Units put back (restocked returns, picks of cancelled orders).
    pub restocked: u64,
    /// Units picked (they leave the cell; shipped or put back via `restocked`).
    pub picked: u64,
    /// Units added by cycle counts.
    pub adjusted_up: u64,
    /// Units removed by cycle counts.
    pub adjusted_down: u64,
    /// Requests refused because they would have oversold.
    pub oversell_refusals: u64,
}

/// The state of one stock cell.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CellState {
    on_hand: u32,
    reserved: u32,
    safety_stock: u32,
    reservations: HashMap<LineRef, u32>,
    ledger: CellLedger,
    /// Units held for holds. Not in the serialized form: the hold records
    /// are the source of truth for them (their events are journaled and
    /// replayed), and leaving them out keeps the snapshot layout of the
    /// builds before holds readable. A snapshot that carries hold records
    /// rebuilds them with [`CellState::restore_held`].
    #[serde(skip)]
    held: u32,
    /// Units per hold line (see `held`).
    #[serde(skip)]
    holds: HashMap<HoldLine, u32>,
}

impl CellState {
    /// A cell with starting stock.
    pub fn new(on_hand: u32, safety_stock: u32) -> CellState {
        CellState {
            on_hand,
            safety_stock,
            ledger: CellLedger {
                initial: u64::from(on_hand),
                ..CellLedger::default()
            },
            ..CellState::default()
        }
    }

    /// Units on hand.
    pub fn on_hand(&self) -> u32 {
        self.on_hand
    }

    /// Units reserved.
    pub fn reserved(&self) -> u32 {
        self.reserved
    }

    /// Units kept back from sale.
    pub fn safety_stock(&self) -> u32 {
        self.safety_stock
    }

    /// Units held for holds (carts).
    pub fn held(&self) -> u32 {
        self.held
    }

    /// Units a hold line holds here (0 if none).
    pub fn held_for(&self, hold: HoldLine) -> u32 {
        self.holds.get(&hold).copied().unwrap_or(0)
    }

    /// All hold lines' units, in no particular order.
    pub fn holds(&self) -> impl Iterator<Item = (HoldLine, u32)> + '_ {
        self.holds.iter().map(|(h, q)| (*h, *q))
    }

    /// Puts back a hold line's units when a state is rebuilt from a
    /// snapshot whose hold records say it is active (the units are not in
    /// the cell's serialized form). Same as applying `Held`.
    pub fn restore_held(&mut self, hold: HoldLine, qty: u32) {
        self.apply(&CellEvent::Held { hold, qty });
    }

    /// Units available to new reservations and holds (ATS): on hand -
    /// reserved - held - safety, floored at 0.
    pub fn available(&self) -> u32 {
        self.on_hand
            .saturating_sub(self.reserved)
            .saturating_sub(self.held)
            .saturating_sub(self.safety_stock)
    }

    /// Units a line holds here (0 if none).
    pub fn reservation(&self, line: LineRef) -> u32 {
        self.reservations.get(&line).copied().unwrap_or(0)
    }

    /// All reservations, in no particular order.
    pub fn reservations(&self) -> impl Iterator<Item = (LineRef, u32)> + '_ {
        self.reservations.iter().map(|(l, q)| (*l, *q))
    }

    /// The conservation totals.
    pub fn ledger(&self) -> &CellLedger {
        &self.ledger
    }

    /// Decide a reservation of `qty` for `line`, all of it or nothing,
    /// without changing anything (a `Short` answer is a refusal the caller
    /// may count with [`CellState::note_oversell_refusal`]).
    pub fn check_reserve(
        &self,
        line: LineRef,
        qty: u32,
    ) -> Result<(ReserveAnswer, Option<CellEvent>), CellRefusal> {
        if qty == 0 {
            return Err(CellRefusal::ZeroQuantity);
        }
        if self.reservations.contains_key(&line) {
            return Err(CellRefusal::AlreadyReserved);
        }
        let available = self.available();
        if qty > available {
            return Ok((ReserveAnswer::Short { available }, None));
        }
        Ok((
            ReserveAnswer::Reserved,
            Some(CellEvent::Reserved { line, qty }),
        ))
    }

    /// Count a request refused because it would have taken available below
    /// zero (a metric, not journaled).
    pub fn note_oversell_refusal(&mut self) {
        self.ledger.oversell_refusals += 1;
    }

    /// Release everything `line` holds here; `None` when it holds nothing.
    pub fn decide_release(&self, line: LineRef) -> Option<CellEvent> {
        self.reservations
            .get(&line)
            .map(|&qty| CellEvent::Released { line, qty })
    }

    /// Decide holding `qty` for a hold line, all of it or nothing, without
    /// changing anything (like [`CellState::check_reserve`]).
    pub fn check_hold(
        &self,
        hold: HoldLine,
        qty: u32,
    ) -> Result<(ReserveAnswer, Option<CellEvent>), CellRefusal> {
        if qty == 0 {
            return Err(CellRefusal::ZeroQuantity);
        }
        if self.holds.contains_key(&hold) {
            return Err(CellRefusal::AlreadyReserved);
        }
        let available = self.available();
        if qty > available {
            return Ok((ReserveAnswer::Short { available }, None));
        }
        Ok((ReserveAnswer::Reserved, Some(CellEvent::Held { hold, qty })))
    }

    /// Give back everything a hold line holds here; `None` when it holds nothing.
    pub fn decide_unhold(&self, hold: HoldLine) -> Option<CellEvent> {
        self.holds
            .get(&hold)
            .map(|&qty| CellEvent::Unheld { hold, qty })
    }

    /// Turn `qty` of a hold line's units into `line`'s reservation in place
    /// (the rest of the hold line's units are given back by the same event).
    pub fn decide_convert_hold(
        &self,
        hold: HoldLine,
        line: LineRef,
        qty: u32,
    ) -> Result<CellEvent, CellRefusal> {
        if qty == 0 {
            return Err(CellRefusal::ZeroQuantity);
        }
        let held = self.holds.get(&hold).copied().ok_or(CellRefusal::NoHold)?;
        if qty > held {
            return Err(CellRefusal::ConvertOverHeld { asked: qty, held });
        }
        if self.reservations.contains_key(&line) {
            return Err(CellRefusal::AlreadyReserved);
        }
        Ok(CellEvent::HoldConverted { hold, line, qty })
    }

    /// Pick (commit) `qty` of what `line` holds.
    pub fn decide_pick(&self, line: LineRef, qty: u32) -> Result<CellEvent, CellRefusal> {
        if qty == 0 {
            return Err(CellRefusal::ZeroQuantity);
        }
        let reserved = self
            .reservations
            .get(&line)
            .copied()
            .ok_or(CellRefusal::NoReservation)?;
        if qty > reserved {
            return Err(CellRefusal::PickOverReserved {
                asked: qty,
                reserved,
            });
        }
        Ok(CellEvent::Picked { line, qty })
    }

    /// Receive `qty` units.
    pub fn decide_receive(&self, qty: u32) -> Result<CellEvent, CellRefusal> {
        self.check_add(qty)?;
        Ok(CellEvent::Received { qty })
    }

    /// Put `qty` units back on the shelf.
    pub fn decide_restock(&self, qty: u32) -> Result<CellEvent, CellRefusal> {
        self.check_add(qty)?;
        Ok(CellEvent::Restocked { qty })
    }

    /// Set on hand by cycle count; never below what is reserved and held.
    pub fn decide_adjust(&self, on_hand: u32) -> Result<CellEvent, CellRefusal> {
        let taken = self.reserved + self.held;
        if on_hand < taken {
            return Err(CellRefusal::BelowReserved {
                asked: on_hand,
                reserved: taken,
            });
        }
        Ok(CellEvent::Adjusted {
            from: self.on_hand,
            to: on_hand,
        })
    }

    fn check_add(&self, qty: u32) -> Result<(), CellRefusal> {
        if qty == 0 {
            return Err(CellRefusal::ZeroQuantity);
        }
        self.on_hand
            .checked_add(qty)
            .map(|_| ())
            .ok_or(CellRefusal::Overflow)
    }

    /// Apply an event produced by a `decide_*` method (or replayed from the journal).
    ///
    /// Panics if the event breaks `0 <= reserved <= on_hand`: a decided event
    /// never does, so that is a bug or a corrupt journal, and it stops loudly.
    pub fn apply(&mut self, event: &CellEvent) {
        match *event {
            CellEvent::Reserved { line, qty } => {
                let prev = self.reservations.insert(line, qty);
                assert!(prev.is_none(), "line {line:?} reserved twice");
                self.reserved += qty;
            }
            CellEvent::Released { line, qty } => {
                let held = self.reservations.remove(&line).unwrap_or(0);
                assert_eq!(held, qty, "release of {line:?} does not match");
                self.reserved -= qty;
            }
            CellEvent::Picked { line, qty } => {
                let held = self
                    .reservations
                    .get_mut(&line)
                    .expect("pick without reservation");
                *held -= qty;
                if *held == 0 {
                    self.reservations.remove(&line);
                }
                self.reserved -= qty;
                self.on_hand -= qty;
                self.ledger.picked += u64::from(qty);
            }
            CellEvent::Received { qty } => {
                self.on_hand += qty;
                self.ledger.received += u64::from(qty);
            }
            CellEvent::Restocked { qty } => {
                self.on_hand += qty;
                self.ledger.restocked += u64::from(qty);
            }
            // Applied as the difference it made, not as an absolute value:
            // on replay, picks that happened before the count in memory may
            // come later in the journal (they are derived from order events).
            CellEvent::Adjusted { from, to } => {
                if to >= from {
                    self.on_hand += to - from;
                    self.ledger.adjusted_up += u64::from(to - from);
                } else {
                    self.on_hand -= from - to;
                    self.ledger.adjusted_down += u64::from(from - to);
                }
            }
            CellEvent::Held { hold, qty } => {
                let prev = self.holds.insert(hold, qty);
                assert!(prev.is_none(), "hold line {hold:?} held twice");
                self.held += qty;
            }
            CellEvent::Unheld { hold, qty } => {
                let held = self.holds.remove(&hold).unwrap_or(0);
                assert_eq!(held, qty, "unhold of {hold:?} does not match");
                self.held -= qty;
            }
            CellEvent::HoldConverted { hold, line, qty } => {
                let held = self.holds.remove(&hold).expect("conversion without hold");
                assert!(qty <= held, "conversion of {hold:?} over what it holds");
                self.held -= held;
                let prev = self.reservations.insert(line, qty);
                assert!(prev.is_none(), "line {line:?} reserved twice");
                self.reserved += qty;
            }
        }
        debug_assert!(
            self.check_invariants().is_ok(),
            "{:?}",
            self.check_invariants()
        );
    }

    /// Checks `0 <= reserved + held <= on_hand`, that reservations add up
    /// to `reserved` and hold lines to `held`, and the cell's conservation
    /// equation.
    pub fn check_invariants(&self) -> Result<(), String> {
        if u64::from(self.reserved) + u64::from(self.held) > u64::from(self.on_hand) {
            return Err(format!(
                "reserved {} + held {} exceeds on hand {}",
                self.reserved, self.held, self.on_hand
            ));
        }
        let held: u64 = self.holds.values().map(|&q| u64::from(q)).sum();
        if held != u64::from(self.held) || self.holds.values().any(|&q| q == 0) {
            return Err(format!(
                "hold lines add up to {held}, held is {} (or one holds zero)",
                self.held
            ));
        }
        let sum: u64 = self.reservations.values().map(|&q| u64::from(q)).sum();
        if sum != u64::from(self.reserved) {
            return Err(format!(
                "reservations add up to {sum}, reserved is {}",
                self.reserved
            ));
        }
        if self.reservations.values().any(|&q| q == 0) {
            return Err("a reservation of zero units".into());
        }
        let l = &self.ledger;
        let inflow = l.initial + l.received + l.restocked + l.adjusted_up;
        let outflow = u64::from(self.on_hand) + l.picked + l.adjusted_down;
        if inflow != outflow {
            return Err(format!(
                "conservation: initial+received+restocked+adjusted_up = {inflow}, on_hand+picked+adjusted_down = {outflow}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrderNo;

    fn line(o: u64, l: u16) -> LineRef {
        LineRef {
            order: OrderNo(o),
            line: l,
        }
    }

    fn reserve(c: &mut CellState, l: LineRef, q: u32) -> Result<ReserveAnswer, CellRefusal> {
        let (answer, event) = c.check_reserve(l, q)?;
        if let ReserveAnswer::Short { .. } = answer {
            c.note_oversell_refusal();
        }
        if let Some(e) = event {
            c.apply(&e);
        }
        Ok(answer)
    }

    #[test]
    fn reserve_within_available_succeeds() {
        let mut c = CellState::new(10, 2);
        assert_eq!(c.available(), 8);
        assert_eq!(reserve(&mut c, line(1, 0), 8), Ok(ReserveAnswer::Reserved));
        assert_eq!(c.reserved(), 8);
        assert_eq!(c.available(), 0);
        assert_eq!(c.reservation(line(1, 0)), 8);
    }

    #[test]
    fn reserve_beyond_available_is_short_changes_nothing_and_counts() {
        let mut c = CellState::new(5, 1);
        let before = c.clone();
        assert_eq!(
            reserve(&mut c, line(1, 0), 5),
            Ok(ReserveAnswer::Short { available: 4 })
        );
        assert_eq!(c.on_hand(), before.on_hand());
        assert_eq!(c.reserved(), 0);
        assert_eq!(c.ledger().oversell_refusals, 1);
    }

    #[test]
    fn refused_requests_change_nothing() {
        let mut c = CellState::new(10, 0);
        reserve(&mut c, line(1, 0), 3).unwrap();
        let before = c.clone();
        assert_eq!(
            reserve(&mut c, line(1, 0), 1),
            Err(CellRefusal::AlreadyReserved)
        );
        assert_eq!(
            reserve(&mut c, line(2, 0), 0),
            Err(CellRefusal::ZeroQuantity)
        );
        assert_eq!(
            c.decide_pick(line(2, 0), 1),
            Err(CellRefusal::NoReservation)
        );
        assert_eq!(
            c.decide_pick(line(1, 0), 4),
            Err(CellRefusal::PickOverReserved {
                asked: 4,
                reserved: 3
            })
        );
        assert_eq!(c.decide_pick(line(1, 0), 0), Err(CellRefusal::ZeroQuantity));
        assert_eq!(
            c.decide_adjust(2),
            Err(CellRefusal::BelowReserved {
                asked: 2,
                reserved: 3
            })
        );
        assert_eq!(c.decide_receive(0), Err(CellRefusal::ZeroQuantity));
        assert_eq!(c.decide_restock(0), Err(CellRefusal::ZeroQuantity));
        assert_eq!(c.decide_receive(u32::MAX), Err(CellRefusal::Overflow));
        assert_eq!(c.decide_release(line(9, 9)), None);
        assert_eq!(c, before);
    }

    #[test]
    fn pick_commits_on_hand_and_reserved() {
        let mut c = CellState::new(10, 0);
        reserve(&mut c, line(1, 0), 3).unwrap();
        let e = c.decide_pick(line(1, 0), 2).unwrap();
        c.apply(&e);
        assert_eq!((c.on_hand(), c.reserved()), (8, 1));
        let e = c.decide_pick(line(1, 0), 1).unwrap();
        c.apply(&e);
        assert_eq!((c.on_hand(), c.reserved()), (7, 0));
        assert_eq!(c.reservation(line(1, 0)), 0);
        assert_eq!(c.ledger().picked, 3);
        c.check_invariants().unwrap();
    }

    #[test]
    fn release_gives_back_the_rest() {
        let mut c = CellState::new(10, 0);
        reserve(&mut c, line(1, 0), 4).unwrap();
        let e = c.decide_pick(line(1, 0), 1).unwrap();
        c.apply(&e);
        let e = c.decide_release(line(1, 0)).unwrap();
        assert_eq!(
            e,
            CellEvent::Released {
                line: line(1, 0),
                qty: 3
            }
        );
        c.apply(&e);
        assert_eq!((c.on_hand(), c.reserved(), c.available()), (9, 0, 9));
    }

    #[test]
    fn adjust_receive_restock_keep_conservation() {
        let mut c = CellState::new(10, 0);
        for e in [
            c.decide_receive(5).unwrap(),
            CellEvent::Restocked { qty: 2 },
        ] {
            c.apply(&e);
        }
        let e = c.decide_adjust(12).unwrap();
        c.apply(&e);
        let e = c.decide_adjust(20).unwrap();
        c.apply(&e);
        assert_eq!(c.on_hand(), 20);
        c.check_invariants().unwrap();
    }

    fn hl(h: u64, l: u16) -> HoldLine {
        HoldLine {
            hold: crate::hold::HoldNo(h),
            line: l,
        }
    }

    #[test]
    fn held_units_leave_availability_and_come_back() {
        let mut c = CellState::new(10, 1);
        let (answer, e) = c.check_hold(hl(1, 0), 6).unwrap();
        assert_eq!(answer, ReserveAnswer::Reserved);
        c.apply(&e.unwrap());
        assert_eq!((c.held(), c.held_for(hl(1, 0)), c.available()), (6, 6, 3));
        assert_eq!(
            c.check_hold(hl(2, 0), 4).unwrap(),
            (ReserveAnswer::Short { available: 3 }, None),
            "holding more than is available is refused"
        );
        assert_eq!(
            c.check_reserve(line(5, 0), 4).unwrap().0,
            ReserveAnswer::Short { available: 3 },
            "held units are not available to orders"
        );
        assert_eq!(
            c.decide_adjust(5),
            Err(CellRefusal::BelowReserved {
                asked: 5,
                reserved: 6
            })
        );
        let e = c.decide_unhold(hl(1, 0)).unwrap();
        c.apply(&e);
        assert_eq!((c.held(), c.available()), (0, 9));
        assert_eq!(c.decide_unhold(hl(1, 0)), None);
        c.check_invariants().unwrap();
    }

    #[test]
    fn conversion_moves_units_in_place_and_gives_back_the_rest() {
        let mut c = CellState::new(10, 0);
        c.apply(&c.check_hold(hl(1, 0), 5).unwrap().1.unwrap());
        let before = c.clone();
        assert_eq!(
            c.decide_convert_hold(hl(1, 0), line(7, 0), 6),
            Err(CellRefusal::ConvertOverHeld { asked: 6, held: 5 })
        );
        assert_eq!(
            c.decide_convert_hold(hl(2, 0), line(7, 0), 1),
            Err(CellRefusal::NoHold)
        );
        assert_eq!(
            c.decide_convert_hold(hl(1, 0), line(7, 0), 0),
            Err(CellRefusal::ZeroQuantity)
        );
        assert_eq!(c.check_hold(hl(1, 0), 1), Err(CellRefusal::AlreadyReserved));
        assert_eq!(c, before, "refusals change nothing");
        let e = c.decide_convert_hold(hl(1, 0), line(7, 0), 3).unwrap();
        c.apply(&e);
        assert_eq!(
            (
                c.held(),
                c.reserved(),
                c.reservation(line(7, 0)),
                c.available()
            ),
            (0, 3, 3, 7)
        );
        c.check_invariants().unwrap();
    }
}
