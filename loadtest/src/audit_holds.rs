//! The carts' checks, from the tester's book of holds (what each hold's
//! answer said it held where, and what its order's answer did with it):
//!
//! - `holds_expired_hold_nothing`: every abandoned cart's hold reads back
//!   `expired` and holds nothing, and the core holds no unit in any cell
//!   once every abandoned hold is past its `expires_at`;
//! - `conversions_took_held_units`: every order that converted its cart's
//!   hold has each held line in a fulfillment at the facility that held it
//!   (no re-routing), and no order sent well before its hold's expiry
//!   found the hold other than `converted`;
//! - `no_hold_oversell`: per cell, the most units the book saw held at once
//!   (each hold counted only while surely active) never exceed the most
//!   the cell ever had on hand, and at the end held + reserved ≤ on hand,
//!   both as the book computes them and as the core answers.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use orch_runtime::dto::HoldView;

use crate::audit::CheckResult;
use crate::book::Book;
use crate::book_holds::{peak_held, HoldFate, HoldTrack};

/// An order sent this long before its hold's expiry must convert it.
pub const CONVERT_MARGIN: Duration = Duration::from_secs(2);

/// What each hold no order converted read back as (`Ok(None)`: not found).
pub type HoldReads = Vec<(String, Result<Option<HoldView>, String>)>;

/// The three checks. `core` is every cell as answered: (SKU, facility) →
/// (on hand, reserved, held); `carts` says whether the run had carts.
pub fn hold_checks(
    book: &Book,
    holds: &[HoldTrack],
    reads: &HoldReads,
    core: &BTreeMap<(String, String), (i64, i64, i64)>,
    carts: bool,
) -> Vec<CheckResult> {
    if !carts {
        return [
            "holds_expired_hold_nothing",
            "conversions_took_held_units",
            "no_hold_oversell",
        ]
        .iter()
        .map(|n| CheckResult::new(n, "no carts in this run", Vec::new()))
        .collect();
    }
    let abandoned: std::collections::HashSet<&str> = holds
        .iter()
        .filter(|h| h.abandoned)
        .map(|h| h.hold_id.as_str())
        .collect();
    let mut expired = Vec::new();
    let mut read = 0;
    for (id, r) in reads
        .iter()
        .filter(|(id, _)| abandoned.contains(id.as_str()))
    {
        read += 1;
        match r {
            Ok(Some(v)) if v.status == "expired" && v.holds.is_empty() => {}
            Ok(Some(v)) => expired.push(format!(
                "{id}: abandoned, reads {} holding {} lines",
                v.status,
                v.holds.iter().map(|h| h.lines.len()).sum::<usize>()
            )),
            Ok(None) => expired.push(format!("{id}: abandoned, not found")),
            Err(e) => expired.push(format!("{id}: {e}")),
        }
    }
    if read < abandoned.len() {
        expired.push(format!(
            "{} abandoned carts' holds not read back",
            abandoned.len() - read
        ));
    }
    for ((sku, fac), (_, _, held)) in core {
        if *held != 0 {
            expired.push(format!(
                "{sku} at {fac}: the core holds {held} after every hold expired"
            ));
        }
    }

    let converted = holds
        .iter()
        .filter(|h| h.fate == HoldFate::Converted)
        .count();
    let mut rerouted: Vec<String> = holds.iter().flat_map(|h| h.rerouted.clone()).collect();
    for h in holds.iter().filter(|h| h.fate == HoldFate::NotTaken) {
        if h.ordered_at
            .is_some_and(|o| o + CONVERT_MARGIN < h.expires_at)
        {
            rerouted.push(format!(
                "{}: its order was sent {:?} before expires_at and did not convert it",
                h.hold_id,
                h.expires_at
                    .duration_since(h.ordered_at.unwrap_or(h.expires_at))
                    .unwrap_or_default()
            ));
        }
    }

    let mut oversell = Vec::new();
    let moves = book.moves();
    let mut most_on_hand: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (k, m) in &moves {
        most_on_hand.insert(
            k.clone(),
            m.adjusted_to.unwrap_or(m.start).max(m.start) + m.received + m.restocked,
        );
    }
    let mut peaks: Vec<_> = peak_held(holds).into_iter().collect();
    peaks.sort_unstable();
    for ((f, s), peak) in peaks {
        let k = book.cell_names(f, s);
        let most = most_on_hand.get(&k).copied().unwrap_or(0);
        if peak > most {
            oversell.push(format!(
                "{} at {}: {peak} units held at once, the cell never had more than {most} on hand",
                k.0, k.1
            ));
        }
    }
    for ((sku, fac), e) in book.expected_cells() {
        if e.held + e.reserved > e.on_hand {
            oversell.push(format!(
                "{sku} at {fac}: the book's held {} + reserved {} > on hand {}",
                e.held, e.reserved, e.on_hand
            ));
        }
    }
    for ((sku, fac), (on_hand, reserved, held)) in core {
        if held + reserved > *on_hand {
            oversell.push(format!(
                "{sku} at {fac}: the core's held {held} + reserved {reserved} > on hand {on_hand}"
            ));
        }
    }
    vec![
        CheckResult::new(
            "holds_expired_hold_nothing",
            &format!(
                "{} abandoned carts read back expired and empty; {} cells hold nothing \
                 after the last expiry",
                abandoned.len(),
                core.len()
            ),
            expired,
        ),
        CheckResult::new(
            "conversions_took_held_units",
            &format!(
                "{converted} converted carts: each held line in a fulfillment at the facility \
                 that held it; orders sent over {CONVERT_MARGIN:?} before expiry converted"
            ),
            rerouted,
        ),
        CheckResult::new(
            "no_hold_oversell",
            &format!(
                "{} holds: peak held per cell <= most ever on hand (book); held + reserved <= \
                 on hand at the end (book and core)",
                holds.len()
            ),
            oversell,
        ),
    ]
}

/// Whether every abandoned hold is surely past its expiry at `now` (the
/// shard releases a hold within a second of `expires_at`).
pub fn all_expired(book: &Book, now: SystemTime) -> bool {
    book.last_hold_expiry()
        .is_none_or(|t| t + Duration::from_secs(1) < now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_config::bf1::{generate, Bf1Params};
    use orch_runtime::dto::{HeldAtView, LineView};

    struct Bench {
        book: Book,
        cell: (u16, u32),
        names: (String, String),
        on_hand: i64,
    }

    fn bench() -> Bench {
        let net = generate(&Bf1Params {
            scale: 0.01,
            seed: 3,
        });
        let e = net.stock[0];
        let book = Book::new(&net);
        let names = book.cell_names(e.facility, e.sku);
        Bench {
            book,
            cell: (e.facility, e.sku),
            names,
            on_hand: i64::from(e.on_hand),
        }
    }

    fn track(b: &Bench, id: &str, units: u32, abandoned: bool, fate: HoldFate) -> HoldTrack {
        let t0 = SystemTime::now() - Duration::from_secs(60);
        HoldTrack {
            order_id: id.into(),
            hold_id: format!("{id}-cart"),
            abandoned,
            held: vec![(b.cell.0, b.cell.1, units)],
            acked_at: t0,
            expires_at: t0 + Duration::from_secs(5),
            ordered_at: (!abandoned).then_some(t0 + Duration::from_secs(1)),
            fate,
            rerouted: Vec::new(),
        }
    }

    fn read(id: &str, status: &str, holding: bool) -> (String, Result<Option<HoldView>, String>) {
        let holds = if holding {
            vec![HeldAtView {
                facility_id: "F".into(),
                lines: vec![LineView {
                    sku: "S".into(),
                    qty: 1,
                }],
            }]
        } else {
            Vec::new()
        };
        (
            format!("{id}-cart"),
            Ok(Some(HoldView {
                hold_id: format!("{id}-cart"),
                status: status.into(),
                expires_at: String::new(),
                holds,
                unavailable: Vec::new(),
            })),
        )
    }

    fn failed(checks: &[CheckResult]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    fn cells(b: &Bench, reserved: i64, held: i64) -> BTreeMap<(String, String), (i64, i64, i64)> {
        [(b.names.clone(), (b.on_hand, reserved, held))].into()
    }

    #[test]
    fn expired_converted_and_within_stock_passes() {
        let b = bench();
        let holds = vec![
            track(&b, "a", 1, true, HoldFate::Held),
            track(&b, "c", 1, false, HoldFate::Converted),
        ];
        let checks = hold_checks(
            &b.book,
            &holds,
            &vec![read("a", "expired", false)],
            &cells(&b, 0, 0),
            true,
        );
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{checks:?}");
        let off = hold_checks(&b.book, &[], &Vec::new(), &cells(&b, 0, 0), false);
        assert_eq!(off.len(), 3);
        assert!(off
            .iter()
            .all(|c| c.passed && c.scope == "no carts in this run"));
    }

    #[test]
    fn an_abandoned_hold_still_holding_fails() {
        let b = bench();
        let holds = vec![track(&b, "a", 1, true, HoldFate::Held)];
        let still = hold_checks(
            &b.book,
            &holds,
            &vec![read("a", "active", true)],
            &cells(&b, 0, 0),
            true,
        );
        assert_eq!(failed(&still), ["holds_expired_hold_nothing"]);
        let unread = hold_checks(&b.book, &holds, &Vec::new(), &cells(&b, 0, 0), true);
        assert_eq!(failed(&unread), ["holds_expired_hold_nothing"]);
        let core_holds = hold_checks(
            &b.book,
            &holds,
            &vec![read("a", "expired", false)],
            &cells(&b, 0, 1),
            true,
        );
        assert_eq!(failed(&core_holds), ["holds_expired_hold_nothing"]);
    }

    #[test]
    fn a_rerouted_or_ignored_conversion_fails() {
        let b = bench();
        let mut moved = track(&b, "c", 1, false, HoldFate::Converted);
        moved
            .rerouted
            .push("c-cart: held 1 of S at F, order c has 0 there".into());
        let c = hold_checks(&b.book, &[moved], &Vec::new(), &cells(&b, 0, 0), true);
        assert_eq!(failed(&c), ["conversions_took_held_units"]);
        // Sent 4 s before expiry, answered other than converted.
        let ignored = track(&b, "c", 1, false, HoldFate::NotTaken);
        let c = hold_checks(&b.book, &[ignored], &Vec::new(), &cells(&b, 0, 0), true);
        assert_eq!(failed(&c), ["conversions_took_held_units"]);
        // Sent within the margin: late, not a violation.
        let mut late = track(&b, "c", 1, false, HoldFate::NotTaken);
        late.ordered_at = Some(late.expires_at - Duration::from_secs(1));
        let c = hold_checks(&b.book, &[late], &Vec::new(), &cells(&b, 0, 0), true);
        assert_eq!(failed(&c), Vec::<&str>::new());
    }

    #[test]
    fn holding_more_than_the_shelf_fails() {
        let b = bench();
        let n = (b.on_hand + 1) as u32;
        let holds = vec![
            track(&b, "c1", n / 2 + 1, false, HoldFate::Converted),
            track(&b, "c2", n / 2 + 1, false, HoldFate::Converted),
        ];
        let c = hold_checks(&b.book, &holds, &Vec::new(), &cells(&b, 0, 0), true);
        assert_eq!(failed(&c), ["no_hold_oversell"], "{c:?}");
        assert!(
            c[2].examples[0].contains("held at once"),
            "{:?}",
            c[2].examples
        );
        let over = cells(&b, b.on_hand, 1);
        let c = hold_checks(&b.book, &[], &Vec::new(), &over, true);
        // The core's held is also not 0 after every hold expired.
        assert_eq!(
            failed(&c),
            ["holds_expired_hold_nothing", "no_hold_oversell"]
        );
    }
}
