//! The placement driver: turns a routing plan into reservations, one step
//! at a time, whoever carries the messages (the actor shell or a test).
//!
//! 1. Try each facility that the view says can ship every line, best first:
//!    reserve all lines there; on any `Short`, release what was got and try
//!    the next (all-or-nothing per facility).
//! 2. Only when no single facility could ship the order, split: repeatedly
//!    take the facility covering the most remaining lines (score breaks
//!    ties), keep what it reserves, up to `max_splits` fulfillments.
//! 3. Whatever is left is backordered, or, when the order does not allow
//!    backorders, everything is released and the order is rejected.
//!
//! Every `Short` answer corrects the snapshot, so a stale view costs at most
//! one wasted round per facility.

use crate::cell::ReserveAnswer;
use crate::ids::FacilityIdx;
use crate::routing::Plan;

/// What the carrier of messages must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Ask the cells of `facility` to reserve these lines (line numbers).
    Reserve {
        /// Where.
        facility: FacilityIdx,
        /// Line numbers of the order.
        lines: Vec<u16>,
    },
    /// Release these lines at `facility` (answers are not needed).
    Release {
        /// Where.
        facility: FacilityIdx,
        /// Line numbers of the order.
        lines: Vec<u16>,
    },
    /// Finished: take `outcome()`.
    Done,
}

/// The result of a placement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlacementOutcome {
    /// One entry per fulfillment: the facility and the line numbers it reserved.
    pub fulfillments: Vec<(FacilityIdx, Vec<u16>)>,
    /// Lines nothing could ship now.
    pub backordered: Vec<u16>,
    /// Set when the order is rejected (nothing is held then).
    pub rejected: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Single { next: usize },
    Split,
    Finish,
    Done,
}

/// Drives one order's placement; see the module doc.
#[derive(Debug, Clone)]
pub struct Placement {
    plan: Plan,
    qty: Vec<u32>,
    allow_backorder: bool,
    phase: Phase,
    pending: Option<(usize, Vec<u16>)>,
    split_used: Vec<bool>,
    remaining: Vec<bool>,
    outcome: PlacementOutcome,
    release_queue: Vec<(FacilityIdx, Vec<u16>)>,
}

impl Placement {
    /// Starts a placement of lines with these quantities (line `i` has `qty[i]`).
    pub fn new(plan: Plan, qty: Vec<u32>, allow_backorder: bool) -> Placement {
        let n = plan.candidates.len();
        let lines = qty.len();
        Placement {
            plan,
            remaining: vec![true; lines],
            qty,
            allow_backorder,
            phase: Phase::Single { next: 0 },
            pending: None,
            split_used: vec![false; n],
            outcome: PlacementOutcome::default(),
            release_queue: Vec::new(),
        }
    }

    fn lines(&self) -> usize {
        self.qty.len()
    }

    fn avail(&self, c: usize, l: usize) -> u32 {
        self.plan.available[c * self.lines() + l]
    }

    fn covers_all(&self, c: usize) -> bool {
        (0..self.lines()).all(|l| self.avail(c, l) >= self.qty[l])
    }

    /// The next thing to do. After a `Reserve`, call `on_answers` before asking again.
    pub fn next_step(&mut self) -> Step {
        assert!(
            self.pending.is_none(),
            "answers of the last Reserve are due"
        );
        if let Some((facility, lines)) = self.release_queue.pop() {
            return Step::Release { facility, lines };
        }
        loop {
            match self.phase {
                Phase::Single { next } => {
                    let n = self.plan.candidates.len();
                    match (next..n).find(|&c| self.covers_all(c)) {
                        Some(c) => {
                            self.phase = Phase::Single { next: c + 1 };
                            let lines: Vec<u16> = (0..self.lines() as u16).collect();
                            return self.reserve(c, lines);
                        }
                        None => self.phase = Phase::Split,
                    }
                }
                Phase::Split => {
                    let max = self.plan.max_splits as usize;
                    if self.outcome.fulfillments.len() >= max
                        || !self.remaining.iter().any(|&r| r)
                        || max <= 1
                    {
                        self.phase = Phase::Finish;
                        continue;
                    }
                    match self.best_split_candidate() {
                        Some((c, lines)) => {
                            self.split_used[c] = true;
                            return self.reserve(c, lines);
                        }
                        None => self.phase = Phase::Finish,
                    }
                }
                Phase::Finish => {
                    self.phase = Phase::Done;
                    let left: Vec<u16> = (0..self.lines())
                        .filter(|&l| self.remaining[l])
                        .map(|l| l as u16)
                        .collect();
                    if !left.is_empty() && !self.allow_backorder {
                        self.outcome.rejected =
                            Some("not all lines can ship now and allow_backorder is false".into());
                        self.release_queue = std::mem::take(&mut self.outcome.fulfillments);
                        if let Some((facility, lines)) = self.release_queue.pop() {
                            return Step::Release { facility, lines };
                        }
                    } else {
                        self.outcome.backordered = left;
                    }
                    return Step::Done;
                }
                Phase::Done => return Step::Done,
            }
        }
    }

    fn reserve(&mut self, c: usize, lines: Vec<u16>) -> Step {
        self.pending = Some((c, lines.clone()));
        Step::Reserve {
            facility: self.plan.candidates[c].facility,
            lines,
        }
    }

    fn best_split_candidate(&self) -> Option<(usize, Vec<u16>)> {
        let mut best: Option<(usize, Vec<u16>)> = None;
        for c in 0..self.plan.candidates.len() {
            if self.split_used[c] {
                continue;
            }
            let lines: Vec<u16> = (0..self.lines())
                .filter(|&l| self.remaining[l] && self.avail(c, l) >= self.qty[l])
                .map(|l| l as u16)
                .collect();
            // Candidates are in score order, so a strict `>` keeps the better score on ties.
            if !lines.is_empty() && best.as_ref().is_none_or(|(_, b)| lines.len() > b.len()) {
                best = Some((c, lines));
            }
        }
        best
    }

    /// The cells' answers to the last `Reserve`, one per line asked, in any order.
    pub fn on_answers(&mut self, answers: &[(u16, ReserveAnswer)]) {
        let (c, asked) = self.pending.take().expect("no Reserve was pending");
        let facility = self.plan.candidates[c].facility;
        let lines = self.lines();
        let mut got = Vec::new();
        for &(l, answer) in answers {
            match answer {
                ReserveAnswer::Reserved => got.push(l),
                ReserveAnswer::Short { available } => {
                    self.plan.available[c * lines + usize::from(l)] = available;
                }
            }
        }
        got.sort_unstable();
        match self.phase {
            Phase::Single { .. } => {
                if got.len() == asked.len() {
                    self.outcome.fulfillments.push((facility, got));
                    self.remaining.iter_mut().for_each(|r| *r = false);
                    self.phase = Phase::Finish;
                } else if !got.is_empty() {
                    self.release_queue.push((facility, got));
                }
            }
            _ => {
                if !got.is_empty() {
                    for &l in &got {
                        self.remaining[usize::from(l)] = false;
                    }
                    self.outcome.fulfillments.push((facility, got));
                }
            }
        }
    }

    /// The result, once `next_step` returned `Done`.
    pub fn outcome(self) -> PlacementOutcome {
        assert_eq!(self.phase, Phase::Done, "placement not finished");
        self.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::Candidate;

    /// Runs a placement against a table of true availability, returning the
    /// outcome and the final table (reservations taken out of it).
    fn run(
        truth: &mut [Vec<u32>],
        view: Vec<u32>,
        qty: Vec<u32>,
        max_splits: u32,
        allow_backorder: bool,
    ) -> (PlacementOutcome, usize) {
        let n = truth.len();
        let plan = Plan {
            candidates: (0..n)
                .map(|i| Candidate {
                    facility: FacilityIdx(i as u16),
                    score: i as f64,
                })
                .collect(),
            available: view,
            max_splits,
            split_penalty: 0.0,
        };
        let mut p = Placement::new(plan, qty.clone(), allow_backorder);
        let mut rounds = 0;
        loop {
            match p.next_step() {
                Step::Reserve { facility, lines } => {
                    rounds += 1;
                    let f = usize::from(facility.0);
                    let answers: Vec<(u16, ReserveAnswer)> = lines
                        .iter()
                        .map(|&l| {
                            let q = qty[usize::from(l)];
                            let a = &mut truth[f][usize::from(l)];
                            if *a >= q {
                                *a -= q;
                                (l, ReserveAnswer::Reserved)
                            } else {
                                (l, ReserveAnswer::Short { available: *a })
                            }
                        })
                        .collect();
                    p.on_answers(&answers);
                }
                Step::Release { facility, lines } => {
                    for l in lines {
                        truth[usize::from(facility.0)][usize::from(l)] += qty[usize::from(l)];
                    }
                }
                Step::Done => return (p.outcome(), rounds),
            }
        }
    }

    #[test]
    fn one_facility_when_one_can_ship_everything() {
        let mut truth = vec![vec![1, 0], vec![5, 5]];
        let view = vec![1, 0, 5, 5];
        let (o, rounds) = run(&mut truth, view, vec![1, 1], 3, true);
        assert_eq!(o.fulfillments, vec![(FacilityIdx(1), vec![0, 1])]);
        assert!(o.backordered.is_empty());
        assert_eq!(rounds, 1);
        assert_eq!(truth, vec![vec![1, 0], vec![4, 4]]);
    }

    #[test]
    fn stale_view_short_releases_and_tries_next() {
        // View says facility 0 has both; truth says line 1 is gone there.
        let mut truth = vec![vec![5, 0], vec![5, 5]];
        let view = vec![5, 5, 5, 5];
        let (o, rounds) = run(&mut truth, view, vec![1, 1], 3, true);
        assert_eq!(o.fulfillments, vec![(FacilityIdx(1), vec![0, 1])]);
        assert_eq!(rounds, 2);
        assert_eq!(
            truth[0],
            vec![5, 0],
            "what facility 0 reserved was released"
        );
    }

    #[test]
    fn splits_only_when_no_single_facility_can_ship() {
        let mut truth = vec![vec![1, 0, 0], vec![0, 1, 1]];
        let view = vec![1, 0, 0, 0, 1, 1];
        let (o, _) = run(&mut truth, view, vec![1, 1, 1], 3, true);
        assert_eq!(
            o.fulfillments,
            vec![(FacilityIdx(1), vec![1, 2]), (FacilityIdx(0), vec![0])]
        );
        assert!(o.backordered.is_empty());
    }

    #[test]
    fn max_splits_bounds_fulfillments_and_backorders_the_rest() {
        let mut truth = vec![vec![1, 0, 0], vec![0, 1, 0], vec![0, 0, 1]];
        let view = vec![1, 0, 0, 0, 1, 0, 0, 0, 1];
        let (o, _) = run(&mut truth, view, vec![1, 1, 1], 2, true);
        assert_eq!(o.fulfillments.len(), 2);
        assert_eq!(o.backordered.len(), 1);
        let (o, _) = run(
            &mut truth,
            vec![1, 0, 0, 0, 1, 0, 0, 0, 1],
            vec![1, 1, 1],
            1,
            true,
        );
        assert!(o.fulfillments.is_empty(), "max_splits 1 never splits");
        assert_eq!(o.backordered, vec![0, 1, 2]);
    }

    #[test]
    fn nothing_available_backorders_everything() {
        let mut truth = vec![vec![0]];
        let (o, rounds) = run(&mut truth, vec![0], vec![1], 3, true);
        assert_eq!(o.backordered, vec![0]);
        assert_eq!(rounds, 0);
    }

    #[test]
    fn no_backorder_allowed_rejects_and_releases_all() {
        let mut truth = vec![vec![1, 0], vec![0, 0]];
        let (o, _) = run(&mut truth, vec![1, 0, 0, 0], vec![1, 1], 3, false);
        assert!(o.rejected.is_some());
        assert!(o.fulfillments.is_empty());
        assert_eq!(truth, vec![vec![1, 0], vec![0, 0]], "nothing held");
    }
}
