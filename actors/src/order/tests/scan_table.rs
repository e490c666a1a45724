//! The scan table walked pair by pair (every kind in every fulfillment
//! status): against the table docs/api.md prints, against DESIGN's rule
//! that a fulfillment only moves forward, and against what `decide_scan`
//! and `apply` actually do.

use super::*;
use crate::order::scan_rules::{rule, transition, Next, SCAN_RULES};

/// The API's contract, where the scan table is printed.
const API_MD: &str = include_str!("../../../../docs/api.md");
const HEADER: &str = "| kind | accepted when the fulfillment is | then it is | scanned at |";

/// The reasons the API answers for a kind in a status that does not fit
/// (followed by a space and the status), as clients have seen them.
const REFUSED: [(ScanKind, &str); 8] = [
    (ScanKind::Pick, "cannot pick: fulfillment is"),
    (ScanKind::Pack, "cannot pack:"),
    (ScanKind::Ship, "cannot ship: fulfillment is"),
    (ScanKind::InTransit, "cannot be in transit: fulfillment is"),
    (
        ScanKind::OutForDelivery,
        "cannot be out for delivery: fulfillment is",
    ),
    (ScanKind::Delivered, "cannot deliver: fulfillment is"),
    (
        ScanKind::DeliveryException,
        "cannot raise an exception: fulfillment is",
    ),
    (ScanKind::ReturnReceived, "cannot return: fulfillment is"),
];

/// One row of the documented table.
#[derive(Debug)]
struct DocRow {
    kind: ScanKind,
    from: Vec<FulfillmentStatus>,
    then: Vec<FulfillmentStatus>,
    own_facility: bool,
}

/// The `backticked` names of a cell.
fn names(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

fn status_named(name: &str) -> FulfillmentStatus {
    FulfillmentStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == name)
        .unwrap_or_else(|| panic!("docs/api.md names a status that does not exist: {name}"))
}

/// The scan table of docs/api.md ("Scan events"), row by row.
fn documented() -> Vec<DocRow> {
    let start = API_MD
        .find(HEADER)
        .expect("docs/api.md prints the scan table");
    API_MD[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 4, "four cells: {l}");
            let kind = names(cells[0])
                .first()
                .and_then(|k| ScanKind::parse(k))
                .unwrap_or_else(|| panic!("a scan kind first: {l}"));
            let own_facility = match cells[3] {
                "its facility" => true,
                c if c.starts_with("any") => false,
                c => panic!("scanned at `its facility` or `any`, got {c}"),
            };
            DocRow {
                kind,
                from: names(cells[1]).into_iter().map(status_named).collect(),
                then: names(cells[2]).into_iter().map(status_named).collect(),
                own_facility,
            }
        })
        .collect()
}

/// The statuses `next` can leave a fulfillment in.
fn outcomes(next: Next) -> Vec<FulfillmentStatus> {
    let mut v = vec![next.status(true), next.status(false)];
    v.dedup();
    v
}

#[test]
fn every_kind_in_every_status_answers_as_docs_api_md_says() {
    let doc = documented();
    let kinds: Vec<ScanKind> = doc.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, ScanKind::ALL, "one row per kind, in order");
    let mut accepted = 0;
    for row in &doc {
        let kind = row.kind;
        assert_eq!(
            rule(kind).own_facility,
            row.own_facility,
            "{kind:?} scanned at"
        );
        let refused = REFUSED.iter().find(|(k, _)| *k == kind).unwrap().1;
        for status in FulfillmentStatus::ALL {
            let answer = transition(kind, status);
            if row.from.contains(&status) {
                accepted += 1;
                let Ok(next) = answer else {
                    panic!("{kind:?} in {status:?}: documented as accepted, got {answer:?}");
                };
                assert_eq!(outcomes(next), row.then, "{kind:?} in {status:?}: then");
            } else {
                assert_eq!(
                    answer,
                    Err(format!("{refused} {}", status.as_str())),
                    "{kind:?} in {status:?}: refused, naming the status"
                );
            }
        }
    }
    assert_eq!(accepted, 20, "documented accepted (kind, status) pairs");
}

/// DESIGN: states only move forward; exceptions and returns are explicit
/// states, not rewinds.
#[test]
fn every_accepted_pair_moves_forward_or_through_an_explicit_exception() {
    use FulfillmentStatus as S;
    const FORWARD: [S; 9] = [
        S::Routed,
        S::Released,
        S::Picking,
        S::Packed,
        S::Shipped,
        S::InTransit,
        S::OutForDelivery,
        S::Delivered,
        S::Returned,
    ];
    let rank = |s: S| FORWARD.iter().position(|&f| f == s);
    let rank_of = |s: S| rank(s).unwrap();
    for kind in ScanKind::ALL {
        for from in FulfillmentStatus::ALL {
            let Ok(next) = transition(kind, from) else {
                continue;
            };
            assert!(
                !matches!(from, S::Cancelled | S::Routed),
                "{kind:?} accepted in {from:?}: nothing is scanned before its wave or after a cancel"
            );
            // Every unit of a returned fulfillment is back already.
            let tos = if from == S::Returned {
                vec![next.status(true)]
            } else {
                outcomes(next)
            };
            for to in tos {
                match (rank(from), rank(to)) {
                    (Some(a), Some(b)) => assert!(b >= a, "{kind:?}: {from:?} -> {to:?} goes back"),
                    // Raised only between handing over and delivery.
                    (Some(a), None) => assert!(
                        to == S::Exception
                            && (rank_of(S::Shipped)..=rank_of(S::OutForDelivery)).contains(&a),
                        "{kind:?}: {from:?} -> {to:?}"
                    ),
                    // Left only towards delivery.
                    (None, Some(b)) => assert!(
                        from == S::Exception
                            && (rank_of(S::InTransit)..=rank_of(S::Delivered)).contains(&b),
                        "{kind:?}: {from:?} -> {to:?}"
                    ),
                    (None, None) => panic!("{kind:?}: {from:?} -> {to:?}"),
                }
            }
        }
    }
}

/// Fulfillment 1 (A x2, B x1 at F0, released in a wave) forced into
/// `status`, its lines picked except for a pick, so that a well-formed scan
/// of `kind` passes its own checks and only the status decides.
fn forced(kind: ScanKind, status: FulfillmentStatus) -> OrderState {
    let mut o = at_stage(Stage::Released);
    let f = &mut o.fulfillments[0];
    f.status = status;
    if kind != ScanKind::Pick {
        for l in &mut f.lines {
            l.picked = l.qty;
        }
    }
    o
}

#[test]
fn decide_scan_and_apply_follow_the_table_in_every_status() {
    for r in SCAN_RULES {
        for status in FulfillmentStatus::ALL {
            let mut o = forced(r.kind, status);
            let s = well_formed(r.kind, "e-table");
            let d = try_scan(&mut o, &s);
            match transition(r.kind, status) {
                Ok(next) => {
                    assert!(
                        matches!(d, Ok(ScanDecision::Apply { .. })),
                        "{:?} in {status:?}: {d:?}",
                        r.kind
                    );
                    // One of A's two units back: not every unit is.
                    assert_eq!(
                        fstatus(&o, 1),
                        next.status(false),
                        "{:?} in {status:?}",
                        r.kind
                    );
                }
                Err(why) => assert_eq!(
                    d,
                    Err(OrderRefusal::Rejected(why)),
                    "{:?} in {status:?}",
                    r.kind
                ),
            }
        }
    }
}
