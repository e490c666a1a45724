//! The invariant checks at the end of a run, each `{passed, violations}`.
//! Every inventory and order check is computed from the load tester's own
//! [`Book`] (what it generated, sent and had acknowledged), never from the
//! core's ledgers:
//!
//! - `inventory_matches_book`: for every SKU and facility, the core's on
//!   hand and reserved (`inventory`, `GET /v1/inventory/{sku}`) equal the
//!   book's: starting stock of the generated network, plus receipts and
//!   cycle counts, plus restocked returns, minus picks; reserved = the
//!   unpicked lines of live orders' fulfillments;
//! - `conservation_per_sku`: the same on hand summed per SKU;
//! - `no_oversell`: reserved ≤ on hand in every cell the core answers;
//! - `no_lost_acknowledged_order`: every acknowledged order is found, with
//!   the status the book expects now the floor has finished;
//! - `doorbuster_exact`: per hot SKU, units sold (reserved or picked by live
//!   orders) never exceed stock + receipts + restocked returns, every unit is
//!   either sold or still on the shelf, and no stock is left on a shelf
//!   while lines wait for it;
//! - `scans_as_expected`: every in-order scan applied, every deliberate
//!   duplicate was answered `duplicate` and every out-of-order scan
//!   `rejected`;
//! - `released_fulfillments_pickable`: every fulfillment announced in a
//!   wave could be picked: its order learned the wave (picks answered
//!   "fulfillment is routed" are tried again for 3 s first);
//! - `promises_match_core`: every fulfillment the floor delivered with a
//!   promised date is kept or missed in the book (delivered on or before the
//!   date, [`crate::book::FulfillmentTrack::promise_kept`]) exactly as the
//!   core's timeline says (a `promise_missed` entry for it, or none);
//! - `inventory_matches_book` also compares held units: the core's held
//!   per cell against the units of the carts' holds the book counts active;
//! - the carts' checks (`holds_expired_hold_nothing`,
//!   `conversions_took_held_units`, `no_hold_oversell`), see
//!   [`crate::audit_holds`];
//! - in-process, the core's own audit as `core.*` (its ledgers; kept for
//!   what it adds, never instead of the book).

use std::collections::{BTreeMap, HashMap};

use futures::future::join_all;
use orch_actors::audit::AuditReport;
use orch_runtime::dto::OrderView;
use serde::Serialize;

use crate::book::{Book, CellMoves, OrderTrack};
use crate::demand::DoorbusterPlan;
use crate::driver::Driver;
use crate::histo::{Counters, Metrics};

/// One named check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// Name, e.g. `no_oversell`.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// How many violations.
    pub violations: u64,
    /// What was checked, for people.
    pub scope: String,
    /// Up to ten examples.
    pub examples: Vec<String>,
}

impl CheckResult {
    /// A check named `name` over `scope`, passed when `violations` is empty.
    pub fn new(name: &str, scope: &str, violations: Vec<String>) -> CheckResult {
        CheckResult {
            name: name.into(),
            passed: violations.is_empty(),
            violations: violations.len() as u64,
            scope: scope.into(),
            examples: violations.into_iter().take(10).collect(),
        }
    }
}

/// What the audit looks at.
pub struct AuditInput<'a> {
    /// The system under test.
    pub driver: &'a Driver,
    /// What was acknowledged and done.
    pub book: &'a Book,
    /// The doorbuster, if any.
    pub plan: Option<&'a DoorbusterPlan>,
    /// Units on the shelf (on hand − reserved) of each hot SKU at the start.
    pub hot_initial: &'a [(String, i64)],
    /// The core's own audit (in-process only).
    pub core_audit: Option<AuditReport>,
    /// The catalog (HTTP mode reads every SKU's inventory).
    pub skus: &'a [String],
    /// Run metrics.
    pub metrics: &'a Metrics,
    /// Fulfillments the floor gave up on.
    pub abandoned: i64,
    /// The floor's first unexpected answers.
    pub surprises: Vec<String>,
    /// The first released fulfillments whose order never learned its wave.
    pub unheard: Vec<String>,
    /// The run had carts (holds).
    pub carts: bool,
}

/// Per SKU: units on the shelf (on hand − reserved, all facilities).
pub async fn shelf(driver: &Driver, skus: &[String]) -> Result<Vec<(String, i64)>, String> {
    let mut out = Vec::with_capacity(skus.len());
    for sku in skus {
        let inv = driver.inventory(sku.clone()).await?;
        let units: i64 = inv
            .facilities
            .iter()
            .map(|c| i64::from(c.on_hand) - i64::from(c.reserved))
            .sum();
        out.push((sku.clone(), units));
    }
    Ok(out)
}

/// Every acknowledged order as the core sees it now (`None`: not found).
async fn fetch_orders(driver: &Driver, ids: &[String]) -> Vec<Result<Option<OrderView>, String>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(256) {
        out.extend(join_all(chunk.iter().map(|id| driver.order(id.clone()))).await);
    }
    out
}

/// Whether `v` is what the load tester expects, once the floor has
/// finished, of an order it tracked: rejected and cancelled as answered and
/// done; otherwise each fulfillment delivered or returned exactly when the
/// floor delivered or returned it, and the order delivered or returned
/// when every fulfillment is.
pub fn status_matches(t: &OrderTrack, v: &OrderView) -> Result<(), String> {
    let s = v.status.as_str();
    let mut why = None;
    if t.status_at_ack == "rejected" {
        if s != "rejected" {
            why = Some("acknowledged rejected".to_string());
        }
    } else if t.cancelled {
        if s != "cancelled" {
            why = Some("the tester's cancel succeeded".to_string());
        }
    } else if matches!(s, "cancelled" | "rejected") {
        why = Some("the tester neither cancelled it nor saw it rejected".to_string());
    } else {
        let mut delivered = 0;
        let mut returned = 0;
        for f in &v.fulfillments {
            let known = t.fulfillment(&f.fulfillment_id);
            let (d, r) = known.map_or((false, false), |k| (k.delivered, k.returned));
            delivered += usize::from(d);
            returned += usize::from(r);
            let core_says = match f.status.as_str() {
                "returned" => (true, true),
                "delivered" => (true, false),
                _ => (false, false),
            };
            if core_says != (d, r) {
                why = Some(format!(
                    "fulfillment {} is {}, the floor {}",
                    f.fulfillment_id,
                    f.status,
                    match (d, r) {
                        (true, true) => "returned it",
                        (true, false) => "delivered it",
                        _ => "never delivered it",
                    }
                ));
            }
        }
        let n = v.fulfillments.len();
        let done = n > 0 && v.backordered.is_empty();
        let expect: Option<&[&str]> = if done && returned == n {
            Some(&["returned"])
        } else if done && delivered == n {
            Some(&["delivered", "returned"])
        } else {
            None
        };
        match expect {
            Some(e) if !e.contains(&s) => {
                why = Some(format!("every fulfillment {}", e[0]));
            }
            None if matches!(s, "delivered" | "returned") => {
                why = Some(format!(
                    "the floor delivered {delivered} of {n} fulfillments ({} lines backordered)",
                    v.backordered.len()
                ));
            }
            _ => {}
        }
    }
    match why {
        None => Ok(()),
        Some(w) => Err(format!(
            "{}: status {s}, but {w} (acknowledged {}, cancelled {})",
            v.order_id, t.status_at_ack, t.cancelled
        )),
    }
}

/// Every cell's counts from the core's answers (`inventory` of every SKU).
async fn core_cells(
    driver: &Driver,
    skus: &[String],
) -> (BTreeMap<(String, String), (i64, i64, i64)>, Vec<String>) {
    let mut cells = BTreeMap::new();
    let mut errors = Vec::new();
    for chunk in skus.chunks(64) {
        let invs = join_all(chunk.iter().map(|s| driver.inventory(s.clone()))).await;
        for (sku, inv) in chunk.iter().zip(invs) {
            match inv {
                Ok(inv) => {
                    for c in inv.facilities {
                        cells.insert(
                            (sku.clone(), c.facility_id),
                            (
                                i64::from(c.on_hand),
                                i64::from(c.reserved),
                                i64::from(c.held.unwrap_or(0)),
                            ),
                        );
                    }
                }
                Err(e) => errors.push(format!("{sku}: {e}")),
            }
        }
    }
    (cells, errors)
}

/// The inventory checks from the book: per (SKU, facility) on hand,
/// reserved and held as the book computes them against the core's answers, per SKU
/// on hand summed over facilities, and reserved ≤ on hand in every cell
/// the core answers. Returns (no_oversell, inventory_matches_book,
/// conservation_per_sku) violations.
pub fn inventory_checks(
    book: &Book,
    core: &BTreeMap<(String, String), (i64, i64, i64)>,
    read_errors: &[String],
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let mut oversell = Vec::new();
    for ((sku, fac), (on_hand, reserved, _)) in core {
        if reserved > on_hand {
            oversell.push(format!(
                "{sku} at {fac}: reserved {reserved} > on hand {on_hand}"
            ));
        }
    }
    let expected = book.expected_cells();
    let mut cells = read_errors.to_vec();
    let mut per_sku: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let keys: std::collections::BTreeSet<&(String, String)> =
        expected.keys().chain(core.keys()).collect();
    for k in keys {
        let e = expected.get(k).copied().unwrap_or_default();
        let (on_hand, reserved, held) = core.get(k).copied().unwrap_or((0, 0, 0));
        let sums = per_sku.entry(k.0.as_str()).or_default();
        sums.0 += e.on_hand;
        sums.1 += on_hand;
        if (on_hand, reserved, held) != (e.on_hand, e.reserved, e.held) {
            cells.push(format!(
                "{} at {}: core says on hand {on_hand} reserved {reserved} held {held}, the book {} and {} and {}",
                k.0, k.1, e.on_hand, e.reserved, e.held
            ));
        }
    }
    let moves = book.moves();
    let conservation = per_sku
        .into_iter()
        .filter(|(_, (b, c))| b != c)
        .map(|(sku, (b, c))| {
            let m = moves
                .iter()
                .filter(|((s, _), _)| s == sku)
                .fold(CellMoves::default(), |mut a, (_, x)| {
                    a.start += x.adjusted_to.unwrap_or(x.start);
                    a.received += x.received;
                    a.restocked += x.restocked;
                    a.picked += x.picked;
                    a
                });
            format!(
                "{sku}: core on hand {c}, the book {b} (start {} + received {} + restocked {} - picked {})",
                m.start, m.received, m.restocked, m.picked
            )
        })
        .collect();
    (oversell, cells, conservation)
}

/// The checks and the doorbuster's totals.
#[derive(Debug, Clone, Default)]
pub struct AuditOutcome {
    /// Every check.
    pub checks: Vec<CheckResult>,
    /// Hot SKUs: stock at start + receipts + restocked returns.
    pub doorbuster_stock: Option<i64>,
    /// Hot SKUs: units held by live orders (reserved or picked).
    pub doorbuster_units_sold: Option<i64>,
    /// Carts' holds that read back `expired` at the end.
    pub holds_expired: u64,
}

/// Runs every check.
pub async fn audit(input: AuditInput<'_>) -> AuditOutcome {
    let mut totals = None;
    let mut checks = Vec::new();
    if let Some(r) = &input.core_audit {
        // The core's audit of its own ledgers, kept for what it adds; the
        // checks below trust only the book.
        for c in &r.checks {
            checks.push(CheckResult {
                name: format!("core.{}", c.name),
                passed: c.passed,
                violations: c.violations,
                scope: "the core's own ledgers (Orchestrator::audit)".into(),
                examples: c.examples.clone(),
            });
        }
    }
    let (core, read_errors) = core_cells(input.driver, input.skus).await;
    let (oversell, cells, conservation) = inventory_checks(input.book, &core, &read_errors);
    checks.push(CheckResult::new(
        "no_oversell",
        &format!(
            "{} cells answered by the core: reserved <= on hand",
            core.len()
        ),
        oversell,
    ));
    checks.push(CheckResult::new(
        "inventory_matches_book",
        &format!(
            "{} SKUs, every (SKU, facility): on hand, reserved and held as the book computes them",
            input.skus.len()
        ),
        cells,
    ));
    checks.push(CheckResult::new(
        "conservation_per_sku",
        "every SKU: on hand = start + received + restocked - picked, from the book",
        conservation,
    ));

    let holds = input.book.holds();
    // Every hold no order converted: abandoned carts' (checked) and those
    // whose order came too late or never came (counted).
    let unconverted: Vec<String> = holds
        .iter()
        .filter(|h| h.fate != crate::book_holds::HoldFate::Converted)
        .map(|h| h.hold_id.clone())
        .collect();
    let mut reads = Vec::with_capacity(unconverted.len());
    for chunk in unconverted.chunks(64) {
        let rs = join_all(chunk.iter().map(|id| input.driver.hold(id.clone()))).await;
        reads.extend(chunk.iter().cloned().zip(rs));
    }
    checks.extend(crate::audit_holds::hold_checks(
        input.book,
        &holds,
        &reads,
        &core,
        input.carts,
    ));

    // Acknowledged orders.
    let tracks = input.book.orders();
    let ids: Vec<String> = tracks.iter().map(|(id, _)| id.clone()).collect();
    let views = fetch_orders(input.driver, &ids).await;
    let mut lost = Vec::new();
    let mut promises = Vec::new();
    let mut found: Vec<OrderView> = Vec::with_capacity(views.len());
    for ((id, t), v) in tracks.iter().zip(views) {
        match v {
            Ok(Some(v)) => {
                if let Err(e) = status_matches(t, &v) {
                    lost.push(e);
                }
                promises.extend(crate::delivery::promises_match(t, &v));
                found.push(v);
            }
            Ok(None) => lost.push(format!("{id}: acknowledged, not found")),
            Err(e) => lost.push(format!("{id}: {e}")),
        }
    }
    checks.push(CheckResult::new(
        "no_lost_acknowledged_order",
        &format!("{} acknowledged orders read back", tracks.len()),
        lost,
    ));
    let judged: usize = tracks
        .iter()
        .map(|(_, t)| {
            t.fulfillments
                .iter()
                .filter(|f| f.promise_kept().is_some())
                .count()
        })
        .sum();
    checks.push(CheckResult::new(
        "promises_match_core",
        &format!(
            "{judged} deliveries with a promised date: the book's kept/missed equals the core's \
             promise_missed timeline entries"
        ),
        promises,
    ));

    // The doorbuster.
    if let Some(plan) = input.plan {
        let (v, _, t) = doorbuster(&input, plan, &found).await;
        totals = Some(t);
        checks.push(CheckResult::new(
            "doorbuster_exact",
            &format!("{} hot SKUs", plan.skus.len()),
            v,
        ));
    } else {
        checks.push(CheckResult::new(
            "doorbuster_exact",
            "no doorbuster in this profile",
            Vec::new(),
        ));
    }

    let c = &input.metrics.counts;
    let mut s = Vec::new();
    let unexpected = Counters::get(&c.scans_rejected_unexpected);
    if unexpected > 0 {
        s.push(format!(
            "{unexpected} scans answered otherwise than expected"
        ));
    }
    let dup = Counters::get(&c.scans_duplicate_unexpected);
    if dup > 0 {
        s.push(format!(
            "{dup} deliberate duplicates not answered duplicate"
        ));
    }
    if input.abandoned > 0 {
        s.push(format!(
            "{} fulfillments abandoned by the floor",
            input.abandoned
        ));
    }
    let missed = Counters::get(&c.waves_missed);
    if missed > 0 {
        s.push(format!("{missed} wave announcements missed"));
    }
    s.extend(input.surprises.iter().cloned());
    checks.push(CheckResult::new(
        "scans_as_expected",
        "in-order scans applied, duplicates duplicate, out-of-order rejected",
        s,
    ));
    let unheard = Counters::get(&c.waves_unheard);
    let mut w: Vec<String> = input.unheard.clone();
    w.truncate(unheard as usize);
    while (w.len() as u64) < unheard {
        w.push("(more of the same)".into());
    }
    checks.push(CheckResult::new(
        "released_fulfillments_pickable",
        "every fulfillment announced in a wave could be picked (its order knew the wave within 3 s)",
        w,
    ));
    let holds_expired = reads
        .iter()
        .filter(|(_, r)| matches!(r, Ok(Some(v)) if v.status == "expired"))
        .count() as u64;
    AuditOutcome {
        holds_expired,
        checks,
        doorbuster_stock: totals.map(|t: (i64, i64)| t.0),
        doorbuster_units_sold: totals.map(|t| t.1),
    }
}

/// Units sold per hot SKU and the doorbuster's violations (and, for HTTP
/// mode, the conservation violations of the same accounting).
async fn doorbuster(
    input: &AuditInput<'_>,
    plan: &DoorbusterPlan,
    orders: &[OrderView],
) -> (Vec<String>, Vec<String>, (i64, i64)) {
    let mut total_supply = 0;
    let mut total_sold = 0;
    let mut sold: HashMap<&str, u64> = HashMap::new();
    let mut waiting: HashMap<&str, u64> = HashMap::new();
    for o in orders.iter().filter(|o| o.status != "cancelled") {
        for f in o.fulfillments.iter().filter(|f| f.status != "cancelled") {
            for l in &f.lines {
                *sold.entry(l.sku.as_str()).or_default() += u64::from(l.qty);
            }
        }
        for l in &o.backordered {
            *waiting.entry(l.sku.as_str()).or_default() += 1;
        }
    }
    let mut v = Vec::new();
    let mut conservation = Vec::new();
    for sku in &plan.skus {
        let initial = input
            .hot_initial
            .iter()
            .find(|(s, _)| s == sku)
            .map_or(0, |(_, u)| *u);
        let supply = initial
            + input.book.received_units(sku) as i64
            + input.book.restocked_units(sku) as i64;
        let sold_units = sold.get(sku.as_str()).copied().unwrap_or(0) as i64;
        total_supply += supply;
        total_sold += sold_units;
        let inv = match input.driver.inventory(sku.clone()).await {
            Ok(i) => i,
            Err(e) => {
                v.push(format!("{sku}: {e}"));
                continue;
            }
        };
        let shelf: i64 = inv
            .facilities
            .iter()
            .map(|c| i64::from(c.on_hand) - i64::from(c.reserved))
            .sum();
        let available_max = inv
            .facilities
            .iter()
            .map(|c| c.available)
            .max()
            .unwrap_or(0);
        if sold_units > supply {
            v.push(format!("{sku}: oversold: {sold_units} sold of {supply}"));
        }
        if sold_units + shelf != supply {
            let m = format!(
                "{sku}: {sold_units} sold + {shelf} on the shelf != {supply} (stock + receipts + restocked)"
            );
            conservation.push(m.clone());
            v.push(m);
        }
        let lines_waiting = waiting.get(sku.as_str()).copied().unwrap_or(0);
        if lines_waiting > 0 && available_max >= 3 {
            v.push(format!(
                "{sku}: {lines_waiting} lines wait while a facility has {available_max} available"
            ));
        }
    }
    (v, conservation, (total_supply, total_sold))
}

#[cfg(test)]
mod tests {
    use super::*;
    use orch_runtime::dto::FulfillmentView;

    fn view(status: &str, fids: &[&str]) -> OrderView {
        OrderView {
            order_id: "o".into(),
            status: status.into(),
            reason: None,
            channel: "web".into(),
            service_level: "standard".into(),
            fulfillments: fids
                .iter()
                .map(|f| FulfillmentView {
                    fulfillment_id: f.to_string(),
                    facility_id: "DC-01".into(),
                    status: status.into(),
                    wave_id: None,
                    carrier: None,
                    tracking: None,
                    lines: Vec::new(),
                    ship: Default::default(),
                })
                .collect(),
            backordered: Vec::new(),
            timeline: Vec::new(),
        }
    }

    fn track(ack: &str, delivered: bool, returned: bool) -> OrderTrack {
        OrderTrack {
            acknowledged: true,
            status_at_ack: ack.into(),
            cancelled: false,
            fulfillments: vec![crate::book::FulfillmentTrack {
                fulfillment_id: "o/1".into(),
                delivered,
                returned,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn statuses_match_what_the_floor_did() {
        let t = track("routed", false, false);
        assert!(status_matches(&t, &view("picking", &["o/1"])).is_ok());
        assert!(status_matches(&t, &view("cancelled", &["o/1"])).is_err());
        assert!(
            status_matches(&t, &view("delivered", &["o/1"])).is_err(),
            "the floor never delivered it"
        );
        let t = track("routed", true, false);
        assert!(status_matches(&t, &view("delivered", &["o/1"])).is_ok());
        assert!(status_matches(&t, &view("shipped", &["o/1"])).is_err());
        let t = track("routed", true, true);
        assert!(status_matches(&t, &view("returned", &["o/1"])).is_ok());
        assert!(status_matches(&t, &view("delivered", &["o/1"])).is_err());
        let c = OrderTrack {
            status_at_ack: "backordered".into(),
            cancelled: true,
            ..Default::default()
        };
        assert!(status_matches(&c, &view("cancelled", &[])).is_ok());
        assert!(status_matches(&c, &view("backordered", &[])).is_err());
    }
}
