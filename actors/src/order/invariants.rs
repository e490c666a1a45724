//! What the audit asks of an order: the reservations it should hold, the
//! units it moved, and its own invariants.

use super::OrderState;
use crate::ids::{CellKey, LineRef, SkuIdx};

impl OrderState {
    /// What this order should hold in cells now: (cell, line, units reserved
    /// and not yet picked). Used by the audit.
    pub fn expected_reservations(&self) -> Vec<(CellKey, LineRef, u32)> {
        if self.cancelled || self.rejected.is_some() {
            return Vec::new();
        }
        let mut v = Vec::new();
        for f in &self.fulfillments {
            for l in &f.lines {
                if l.picked < l.qty {
                    v.push((
                        CellKey {
                            sku: l.sku,
                            facility: f.facility,
                        },
                        self.line_ref(l.line),
                        l.qty - l.picked,
                    ));
                }
            }
        }
        v
    }

    /// Units this order moved, per line: (sku, picked, put back on a shelf).
    /// Put back counts restocked returns and the picked units of a cancelled
    /// order. For the conservation audit, paired with the cells' ledgers.
    pub fn units_moved(&self) -> impl Iterator<Item = (SkuIdx, u64, u64)> + '_ {
        self.fulfillments.iter().flat_map(move |f| {
            f.lines.iter().map(move |l| {
                let back = if self.cancelled {
                    l.picked
                } else {
                    l.restocked
                };
                (l.sku, u64::from(l.picked), u64::from(back))
            })
        })
    }

    /// Checks the order's own invariants: no line in two places, no line
    /// reserved twice, a cancelled order holds nothing.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut seen = vec![0u8; self.request.lines.len()];
        for f in &self.fulfillments {
            for l in &f.lines {
                let s = seen
                    .get_mut(usize::from(l.line))
                    .ok_or("line number out of range")?;
                *s += 1;
                if l.picked > l.qty || l.returned > l.picked {
                    return Err(format!("line {}: picked/returned beyond quantity", l.line));
                }
            }
        }
        for &l in &self.backordered {
            seen[usize::from(l)] += 1;
        }
        if seen.iter().any(|&n| n > 1) {
            return Err("a line is in two places".into());
        }
        if self.cancelled && !self.backordered.is_empty() {
            return Err("a cancelled order still waits for stock".into());
        }
        Ok(())
    }
}
