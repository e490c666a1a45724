//! The simulator's book of holds: per acknowledged hold what it asked,
//! where it was held, until when and its fate, learned from the answers
//! alone (never from the core's ledgers); and the hold checks at quiescent
//! points and after restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use orch_actors::cell::CellState;
use orch_actors::hold::{HoldNo, HoldRequest, HoldState, HoldStatus};
use orch_actors::order::{OrderLine, OrderState, OrderStatus};
use orch_actors::{CellKey, FacilityIdx, OrderNo};
use orch_config::Millis;
use orch_engine::RequestId;

/// Simulated time after `expires_at` by which the engine must have
/// released an expired hold (API.md, Holds: within a second).
pub const RELEASE_BOUND_MS: Millis = 1_000;

/// What the book knows of a hold's fate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Holding its units until its `expires_at`.
    Active,
    /// Ended, not known how yet (an order named it, or an answer said
    /// converted without naming the order): it holds nothing.
    Ended,
    /// Let go.
    Released,
    /// Ran out.
    Expired,
    /// This order took it.
    Converted(OrderNo),
}

impl Fate {
    fn is_final(self) -> bool {
        !matches!(self, Fate::Active | Fate::Ended)
    }
}

/// One acknowledged hold.
#[derive(Debug, Clone)]
pub struct BookHold {
    /// Its number.
    pub no: HoldNo,
    /// What was asked.
    pub request: HoldRequest,
    /// (facility, lines) where the created answer said it holds.
    pub held: Vec<(FacilityIdx, Vec<u16>)>,
    /// When it lapses (created or last acknowledged extend).
    pub expires_at: Millis,
    /// Its fate.
    pub fate: Fate,
    /// Requests sent before the book learned it ended (a later answer
    /// may not show it active).
    pub ended_after: RequestId,
    /// Orders sent naming it (acknowledged or not).
    pub orders: Vec<OrderNo>,
    /// Whether its conversion's units were checked against its order.
    pub conversion_checked: bool,
}

/// Every hold the simulator sent, numbered, and those acknowledged.
#[derive(Debug, Default)]
pub struct HoldBook {
    /// Acknowledged holds by client id.
    pub holds: BTreeMap<Arc<str>, BookHold>,
    /// Client ids of hold creations refused (nothing may exist under them).
    pub refused: BTreeSet<Arc<str>>,
    /// Numbers of every id sent (the simulator numbers holds itself).
    numbers: BTreeMap<Arc<str>, HoldNo>,
    ids: BTreeMap<HoldNo, Arc<str>>,
}

fn fate_of(s: &HoldState) -> Result<Fate, String> {
    Ok(match s.status() {
        HoldStatus::Active => Fate::Active,
        HoldStatus::Released => Fate::Released,
        HoldStatus::Expired => Fate::Expired,
        HoldStatus::Converted => Fate::Converted(
            s.order()
                .ok_or_else(|| format!("hold {} converted by no order", s.request().hold_id))?,
        ),
    })
}

impl HoldBook {
    /// The number of hold `id` (a new one the first time).
    pub fn number(&mut self, id: &Arc<str>) -> HoldNo {
        if let Some(no) = self.numbers.get(id) {
            return *no;
        }
        let no = HoldNo(self.numbers.len() as u64 + 1);
        self.numbers.insert(id.clone(), no);
        self.ids.insert(no, id.clone());
        no
    }

    /// An acknowledged hold's id, chosen by `pick` among those in the book.
    pub fn pick(&self, pick: usize) -> Option<Arc<str>> {
        let n = self.holds.len();
        (n > 0).then(|| self.holds.keys().nth(pick % n).cloned().expect("in range"))
    }

    /// A fresh create of `id` was answered with `s`.
    pub fn created(
        &mut self,
        id: &Arc<str>,
        req: &HoldRequest,
        s: &HoldState,
    ) -> Result<(), String> {
        let no = self.numbers[id];
        if s.no() != no || s.request() != req {
            return Err(format!("create of hold {id} answered another hold"));
        }
        if s.status() != HoldStatus::Active {
            return Err(format!("hold {id} created {:?}", s.status()));
        }
        let mut lines: Vec<u16> = s
            .held()
            .iter()
            .flat_map(|(_, l)| l.iter().copied())
            .collect();
        lines.extend(s.unavailable());
        lines.sort_unstable();
        if lines != (0..req.lines.len() as u16).collect::<Vec<_>>() {
            return Err(format!(
                "hold {id}: held {:?} and unavailable {:?} are not each line once",
                s.held(),
                s.unavailable()
            ));
        }
        if !req.allow_partial && !s.unavailable().is_empty() {
            return Err(format!(
                "hold {id} without allow_partial left lines unavailable"
            ));
        }
        self.refused.remove(id);
        self.holds.insert(
            id.clone(),
            BookHold {
                no,
                request: req.clone(),
                held: s.held().to_vec(),
                expires_at: s.expires_at(),
                fate: Fate::Active,
                ended_after: 0,
                orders: Vec::new(),
                conversion_checked: false,
            },
        );
        Ok(())
    }

    /// The book learns that hold `id` is `seen`, from an answer to
    /// request `rid` (`sent`: the last request id sent so far).
    pub fn learn(
        &mut self,
        id: &str,
        seen: Fate,
        rid: RequestId,
        sent: RequestId,
    ) -> Result<(), String> {
        let h = self
            .holds
            .get_mut(id)
            .ok_or_else(|| format!("answer about hold {id}, never acknowledged"))?;
        let fate = match (h.fate, seen) {
            (f, Fate::Active) => {
                if f != Fate::Active && rid > h.ended_after {
                    return Err(format!("hold {id} was {f:?}, then answered active"));
                }
                f
            }
            (_, Fate::Converted(o)) if !h.orders.contains(&o) => {
                return Err(format!(
                    "hold {id} converted by order {}, which never named it",
                    o.0
                ));
            }
            (f, s) if f.is_final() && s.is_final() && f != s => {
                return Err(format!("hold {id} was {f:?}, then {s:?}"));
            }
            (f, Fate::Ended) if f.is_final() => f,
            (_, s) => s,
        };
        if h.fate == Fate::Active && fate != Fate::Active {
            h.ended_after = sent;
        }
        h.fate = fate;
        Ok(())
    }

    /// An answer showed hold `id` as `s` (to request `rid`).
    pub fn observe(
        &mut self,
        id: &str,
        s: &HoldState,
        rid: RequestId,
        sent: RequestId,
    ) -> Result<(), String> {
        let h = self
            .holds
            .get(id)
            .ok_or_else(|| format!("answer about hold {id}, never acknowledged"))?;
        if s.no() != h.no || s.request() != &h.request {
            return Err(format!("hold {id} answered as another hold"));
        }
        let seen = fate_of(s)?;
        self.learn(id, seen, rid, sent)
    }

    /// The checks at a quiescent point at `now`: held + reserved <= on
    /// hand (the book's) per cell; units are held only for acknowledged
    /// active holds not past their expiry + [`RELEASE_BOUND_MS`], where
    /// and as much as their created answer said; every active hold not
    /// yet expired holds all of that. Then the holds past their expiry
    /// are known expired.
    pub fn check_cells(
        &mut self,
        cells: &[(CellKey, &CellState)],
        on_hand: &BTreeMap<CellKey, i64>,
        now: Millis,
        sent: RequestId,
    ) -> Result<(), String> {
        let mut seen = BTreeSet::new();
        for (k, c) in cells {
            let have = on_hand.get(k).copied().unwrap_or(0);
            if i64::from(c.reserved()) + i64::from(c.held()) > have {
                return Err(format!(
                    "{k:?}: reserved {} + held {} > on hand {have} (the book's)",
                    c.reserved(),
                    c.held()
                ));
            }
            let mut lines: Vec<_> = c.holds().collect();
            lines.sort();
            for (hl, q) in lines {
                let Some(id) = self.ids.get(&hl.hold) else {
                    return Err(format!("{k:?} holds {q} for hold {:?} never sent", hl.hold));
                };
                let Some(h) = self.holds.get(id) else {
                    return Err(format!("{k:?} holds {q} for hold {id}, never acknowledged"));
                };
                if h.fate != Fate::Active {
                    return Err(format!(
                        "{k:?} holds {q} for hold {id}, which is {:?}",
                        h.fate
                    ));
                }
                if h.expires_at + RELEASE_BOUND_MS <= now {
                    return Err(format!(
                        "{k:?} holds {q} for hold {id}, which expired {} ms ago (bound {RELEASE_BOUND_MS} ms)",
                        now - h.expires_at
                    ));
                }
                let asked = h.request.lines.get(usize::from(hl.line));
                let here = h
                    .held
                    .iter()
                    .any(|(f, ls)| *f == k.facility && ls.contains(&hl.line));
                if !here || asked.is_none_or(|l| l.sku != k.sku || l.qty != q) {
                    return Err(format!(
                        "{k:?} holds {q} for line {} of hold {id}, which asks {asked:?} held at {:?}",
                        hl.line, h.held
                    ));
                }
                seen.insert((hl.hold, hl.line));
            }
        }
        for (id, h) in &mut self.holds {
            if h.fate != Fate::Active {
                continue;
            }
            if h.expires_at > now {
                for (f, ls) in &h.held {
                    for l in ls {
                        if !seen.contains(&(h.no, *l)) {
                            return Err(format!(
                                "active hold {id} lost line {l} held at facility {}",
                                f.0
                            ));
                        }
                    }
                }
            } else if h.expires_at + RELEASE_BOUND_MS <= now {
                h.fate = Fate::Expired;
                h.ended_after = sent;
            }
        }
        Ok(())
    }

    /// A converted hold's units went to its order: each hold line the
    /// order's rule takes (an order line of the same SKU asking at most
    /// what it holds, each used once) is a line of a fulfillment of the
    /// order at the facility that held it. Checked once per hold, for
    /// orders acknowledged and not rejected.
    pub fn check_conversions<'a>(
        &mut self,
        orders: &BTreeMap<OrderNo, (Arc<str>, Vec<OrderLine>)>,
        order: impl Fn(OrderNo) -> Option<&'a OrderState>,
    ) -> Result<(), String> {
        for (id, h) in &mut self.holds {
            let Fate::Converted(no) = h.fate else {
                continue;
            };
            if h.conversion_checked {
                continue;
            }
            let Some((_, lines)) = orders.get(&no) else {
                continue;
            };
            let o = order(no).ok_or_else(|| format!("order {} of hold {id} lost", no.0))?;
            // A rejected order gave the hold's units back (the cells'
            // checks see that nothing is left held or reserved).
            if o.status() == OrderStatus::Rejected {
                h.conversion_checked = true;
                continue;
            }
            let mut used = vec![false; lines.len()];
            for (f, hls) in &h.held {
                for hl in hls {
                    let ol = h.request.lines[usize::from(*hl)];
                    let Some(i) = (0..lines.len())
                        .find(|&i| !used[i] && lines[i].sku == ol.sku && lines[i].qty <= ol.qty)
                    else {
                        continue;
                    };
                    used[i] = true;
                    let went = o.fulfillments().iter().any(|fl| {
                        fl.facility == *f
                            && fl
                                .lines
                                .iter()
                                .any(|l| usize::from(l.line) == i && l.qty == lines[i].qty)
                    });
                    if !went {
                        return Err(format!(
                            "hold {id} converted by {}: its line {hl} at facility {} is not order line {i}",
                            o.request().order_id,
                            f.0
                        ));
                    }
                }
            }
            h.conversion_checked = true;
        }
        Ok(())
    }

    /// After a restart at `now`, with the restored hold records: every
    /// acknowledged hold is there with its request and fate (an active
    /// one may have expired if its time passed, or been converted by an
    /// order that named it); nothing refused or never acknowledged is.
    pub fn check_restart<'a>(
        &mut self,
        restored: impl Iterator<Item = &'a HoldState>,
        now: Millis,
        sent: RequestId,
    ) -> Result<(), String> {
        let mut by_no: BTreeMap<HoldNo, &HoldState> = BTreeMap::new();
        for s in restored {
            let id = &s.request().hold_id;
            if self.refused.contains(id) {
                return Err(format!("refused hold {id} appeared after restart"));
            }
            if !self.holds.contains_key(id) {
                return Err(format!("unacknowledged hold {id} appeared after restart"));
            }
            by_no.insert(s.no(), s);
        }
        let ids: Vec<Arc<str>> = self.holds.keys().cloned().collect();
        for id in ids {
            let h = &self.holds[&id];
            let Some(s) = by_no.get(&h.no) else {
                return Err(format!("acknowledged hold {id} lost"));
            };
            if s.request() != &h.request {
                return Err(format!("hold {id} came back as another"));
            }
            let seen = fate_of(s)?;
            match (h.fate, seen) {
                (Fate::Active, Fate::Active) if s.expires_at() != h.expires_at => {
                    return Err(format!(
                        "hold {id} came back expiring at {}, acknowledged {}",
                        s.expires_at(),
                        h.expires_at
                    ))
                }
                (Fate::Active, Fate::Expired) if h.expires_at > now => {
                    return Err(format!("hold {id} came back expired before its time"))
                }
                (Fate::Active, Fate::Released) => {
                    return Err(format!("hold {id} came back released, never acknowledged"))
                }
                (Fate::Ended, Fate::Active) => {
                    return Err(format!(
                        "hold {id} came back active after an order named it"
                    ))
                }
                (f, s) if f.is_final() && f != s => {
                    return Err(format!("hold {id} was {f:?}, came back {s:?}"))
                }
                _ => {}
            }
            // A restored record is as durable as an answer.
            self.learn(&id, seen, RequestId::MAX, sent)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_actors::hold::HoldEvent;
    use orch_actors::SkuIdx;
    use orch_config::ServiceLevel;

    fn book_with_one() -> (HoldBook, Arc<str>) {
        let mut b = HoldBook::default();
        let id: Arc<str> = "h-1".into();
        let no = b.number(&id);
        let request = HoldRequest {
            hold_id: id.clone(),
            lat: 40.0,
            lon: -74.0,
            service_level: ServiceLevel::Standard,
            ttl_s: 60,
            lines: vec![OrderLine {
                sku: SkuIdx(0),
                qty: 2,
            }],
            allow_partial: true,
        };
        let created = HoldEvent::Created {
            request: request.clone(),
            held: vec![(FacilityIdx(0), vec![0])],
            unavailable: vec![],
            at: 0,
            expires_at: 60_000,
        };
        let s = HoldState::from_created(no, &created).unwrap();
        b.created(&id, &request, &s).unwrap();
        (b, id)
    }

    #[test]
    fn a_fate_once_final_never_changes_and_no_later_answer_shows_it_active() {
        let (mut b, id) = book_with_one();
        b.learn(&id, Fate::Active, 5, 5).unwrap();
        b.learn(&id, Fate::Released, 6, 10).unwrap();
        // Sent before the release was learned: a stale view, no error.
        b.learn(&id, Fate::Active, 9, 11).unwrap();
        assert_eq!(b.holds[&id].fate, Fate::Released);
        assert!(b.learn(&id, Fate::Active, 11, 12).is_err());
        assert!(b.learn(&id, Fate::Expired, 12, 12).is_err());
        b.learn(&id, Fate::Ended, 13, 13).unwrap();
        assert_eq!(b.holds[&id].fate, Fate::Released);
    }

    #[test]
    fn only_an_order_that_named_it_may_convert_it() {
        let (mut b, id) = book_with_one();
        assert!(b.learn(&id, Fate::Converted(OrderNo(7)), 1, 1).is_err());
        b.holds.get_mut(&id).unwrap().orders.push(OrderNo(7));
        b.learn(&id, Fate::Ended, 2, 2).unwrap();
        b.learn(&id, Fate::Converted(OrderNo(7)), 3, 3).unwrap();
        assert_eq!(b.holds[&id].fate, Fate::Converted(OrderNo(7)));
    }

    #[test]
    fn units_held_past_the_expiry_and_its_bound_fail_the_check() {
        let (mut b, id) = book_with_one();
        let key = CellKey {
            sku: SkuIdx(0),
            facility: FacilityIdx(0),
        };
        let mut cell = CellState::new(5, 0);
        cell.restore_held(
            orch_actors::hold::HoldLine {
                hold: b.holds[&id].no,
                line: 0,
            },
            2,
        );
        let on_hand = BTreeMap::from([(key, 5)]);
        b.check_cells(&[(key, &cell)], &on_hand, 59_999, 1).unwrap();
        // Within the bound: allowed either way.
        b.check_cells(&[(key, &cell)], &on_hand, 60_000 + RELEASE_BOUND_MS - 1, 1)
            .unwrap();
        let late = b.check_cells(&[(key, &cell)], &on_hand, 60_000 + RELEASE_BOUND_MS, 1);
        assert!(late.unwrap_err().contains("expired"));
        // Nothing held once its time passed: the book knows it expired.
        let empty = CellState::new(5, 0);
        b.check_cells(&[(key, &empty)], &on_hand, 60_000 + RELEASE_BOUND_MS, 1)
            .unwrap();
        assert_eq!(b.holds[&id].fate, Fate::Expired);
        // An active hold that lost its units fails.
        let (mut b, _) = book_with_one();
        assert!(b.check_cells(&[(key, &empty)], &on_hand, 1_000, 1).is_err());
        // More held than the book's on hand fails.
        let (mut b, _) = book_with_one();
        let few = BTreeMap::from([(key, 1)]);
        assert!(b.check_cells(&[(key, &cell)], &few, 1_000, 1).is_err());
    }
}
