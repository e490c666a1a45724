//! The invariant audit of DESIGN.md over a quiescent set of states.
//!
//! Paired with the checks the state machines make as they go: a cell refuses
//! to oversell when it reserves; the audit recounts the totals afterwards
//! from both sides (cells and orders) and they must agree.

use std::collections::HashMap;

use serde::Serialize;

use crate::backorder::DeskState;
use crate::cell::CellState;
use crate::ids::{CellKey, LineRef, SkuIdx};
use crate::order::OrderState;

/// One named check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Name, e.g. `no_oversell`.
    pub name: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// How many violations were found.
    pub violations: u64,
    /// Up to ten examples, for people.
    pub examples: Vec<String>,
}

/// The result of an audit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct AuditReport {
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
}

impl AuditReport {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// A check by name.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Adds a check made elsewhere (e.g. by the load tester).
    pub fn push(&mut self, name: &'static str, violations: Vec<String>) {
        self.checks.push(Check {
            name,
            passed: violations.is_empty(),
            violations: violations.len() as u64,
            examples: violations.into_iter().take(10).collect(),
        });
    }

    /// Failed checks as one line per example, for panics and logs.
    pub fn failures(&self) -> String {
        let mut s = String::new();
        for c in self.checks.iter().filter(|c| !c.passed) {
            s.push_str(&format!(
                "{}: {} violations: {:?}\n",
                c.name, c.violations, c.examples
            ));
        }
        s
    }
}

#[derive(Default)]
struct SkuTotals {
    cells_picked: u64,
    cells_restocked: u64,
    orders_picked: u64,
    orders_restocked: u64,
}

/// Audits cells, orders and backorder desks taken at one quiescent point.
pub fn audit<'a>(
    cells: impl IntoIterator<Item = (CellKey, &'a CellState)>,
    orders: impl IntoIterator<Item = &'a OrderState>,
    desks: impl IntoIterator<Item = (SkuIdx, &'a DeskState)>,
) -> AuditReport {
    let mut oversell = Vec::new();
    let mut conservation = Vec::new();
    let mut reservations = Vec::new();
    let mut order_checks = Vec::new();
    let mut backorders = Vec::new();

    let mut totals: HashMap<SkuIdx, SkuTotals> = HashMap::new();
    let mut held: HashMap<(CellKey, LineRef), u32> = HashMap::new();
    for (key, cell) in cells {
        if cell.reserved() > cell.on_hand() {
            oversell.push(format!(
                "{key:?}: reserved {} > on hand {}",
                cell.reserved(),
                cell.on_hand()
            ));
        }
        if let Err(e) = cell.check_invariants() {
            conservation.push(format!("{key:?}: {e}"));
        }
        let t = totals.entry(key.sku).or_default();
        t.cells_picked += cell.ledger().picked;
        t.cells_restocked += cell.ledger().restocked;
        for (line, qty) in cell.reservations() {
            held.insert((key, line), qty);
        }
    }

    let mut waiting: HashMap<LineRef, SkuIdx> = HashMap::new();
    for (sku, desk) in desks {
        for (line, _) in desk.queue() {
            if waiting.insert(line, sku).is_some() {
                backorders.push(format!("{line:?} waits twice"));
            }
        }
    }

    for order in orders {
        if let Err(e) = order.check_invariants() {
            order_checks.push(format!("{}: {e}", order.request().order_id));
        }
        for (cell, line, qty) in order.expected_reservations() {
            match held.remove(&(cell, line)) {
                Some(h) if h == qty => {}
                Some(h) => reservations.push(format!(
                    "{}: line {} holds {h} at {cell:?}, expected {qty}",
                    order.request().order_id,
                    line.line
                )),
                None => reservations.push(format!(
                    "{}: line {} holds nothing at {cell:?}, expected {qty}",
                    order.request().order_id,
                    line.line
                )),
            }
        }
        for (sku, picked, back) in order.units_moved() {
            let t = totals.entry(sku).or_default();
            t.orders_picked += picked;
            t.orders_restocked += back;
        }
        for &l in order.backordered() {
            let line = LineRef {
                order: order.no(),
                line: l,
            };
            let sku = order.request().lines[usize::from(l)].sku;
            if waiting.remove(&line) != Some(sku) {
                backorders.push(format!(
                    "{}: backordered line {l} is not waiting at its SKU's desk",
                    order.request().order_id
                ));
            }
        }
    }
    for ((cell, line), qty) in held {
        reservations.push(format!(
            "{cell:?} holds {qty} for {line:?}, which no live order line expects"
        ));
    }
    for (line, _) in waiting {
        backorders.push(format!(
            "{line:?} waits at a desk but its order does not wait"
        ));
    }
    for (sku, t) in &totals {
        // Returns restocked into a cell are paired too: the cell's restocked
        // equals what orders put back (returns and cancelled picks).
        if t.cells_picked != t.orders_picked || t.cells_restocked != t.orders_restocked {
            conservation.push(format!(
                "{sku:?}: cells picked {} restocked {}, orders picked {} put back {}",
                t.cells_picked, t.cells_restocked, t.orders_picked, t.orders_restocked
            ));
        }
    }

    let mut report = AuditReport::default();
    report.push("no_oversell", oversell);
    report.push("conservation_per_sku", conservation);
    report.push("reservations_match_orders", reservations);
    report.push("order_invariants", order_checks);
    report.push("backorders_consistent", backorders);
    report
}

/// The hold invariants: every cell's held units belong to an active hold
/// line that expects exactly them, and every active hold's lines are held
/// where it says. An ended hold holds nothing.
pub fn audit_holds<'a>(
    cells: impl IntoIterator<Item = (CellKey, &'a CellState)>,
    holds: impl IntoIterator<Item = &'a crate::hold::HoldState>,
) -> Vec<String> {
    use crate::hold::HoldLine;
    let mut expect: HashMap<(CellKey, HoldLine), u32> = HashMap::new();
    for h in holds {
        for (facility, line, ol) in h.units_held() {
            let key = CellKey {
                sku: ol.sku,
                facility,
            };
            expect.insert((key, HoldLine { hold: h.no(), line }), ol.qty);
        }
    }
    let mut out = Vec::new();
    for (key, cell) in cells {
        for (hl, qty) in cell.holds() {
            match expect.remove(&(key, hl)) {
                Some(q) if q == qty => {}
                Some(q) => out.push(format!("{key:?} holds {qty} for {hl:?}, expected {q}")),
                None => out.push(format!(
                    "{key:?} holds {qty} for {hl:?}, which no active hold expects"
                )),
            }
        }
    }
    for ((key, hl), q) in expect {
        out.push(format!("{hl:?} expects {q} held at {key:?}, none is"));
    }
    out
}
