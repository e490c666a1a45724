//! The invariant checks at the end of a run, each `{passed, violations}`:
//!
//! - the core's own audit (in-process: `no_oversell`,
//!   `conservation_per_sku`, and the rest of `Orchestrator::audit`); over
//!   HTTP, `no_oversell` from `GET /v1/inventory/{sku}` for every SKU
//!   (reserved ≤ on hand) and `conservation_per_sku` for the hot SKUs, whose
//!   every unit the load tester can account for;
//! - `no_lost_acknowledged_order`: every order answered with success is
//!   found, with a status that matches what the load tester did to it;
//! - `doorbuster_exact`: per hot SKU, units sold (reserved or picked by live
//!   orders) never exceed stock + receipts + restocked returns, every unit is
//!   either sold or still on the shelf, and no stock is left on a shelf
//!   while lines wait for it;
//! - `scans_as_expected`: every in-order scan applied, every deliberate
//!   duplicate was answered `duplicate` and every out-of-order scan
//!   `rejected`;
//! - `released_fulfillments_pickable`: every fulfillment announced in a
//!   wave could be picked: its order learned the wave (picks answered
//!   "fulfillment is routed" are tried again for 3 s first).

use std::collections::HashMap;

use futures::future::join_all;
use orch_actors::audit::AuditReport;
use orch_runtime::dto::OrderView;
use serde::Serialize;

use crate::book::{Book, OrderTrack};
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
    fn new(name: &str, scope: &str, violations: Vec<String>) -> CheckResult {
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

/// Whether `v` is what the load tester expects of an order it tracked.
pub fn status_matches(t: &OrderTrack, v: &OrderView) -> Result<(), String> {
    let s = v.status.as_str();
    let ok = if t.status_at_ack == "rejected" {
        s == "rejected"
    } else if t.cancelled {
        s == "cancelled"
    } else if matches!(s, "cancelled" | "rejected") {
        false
    } else {
        let all_delivered = !v.fulfillments.is_empty()
            && v.backordered.is_empty()
            && v.fulfillments
                .iter()
                .all(|f| t.delivered.contains(&f.fulfillment_id));
        let all_returned = all_delivered
            && v.fulfillments
                .iter()
                .all(|f| t.returned.contains(&f.fulfillment_id));
        if all_returned {
            s == "returned"
        } else if all_delivered {
            matches!(s, "delivered" | "returned")
        } else {
            true
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{}: status {s}, expected from ack {} cancelled {} delivered {}/{} returned {}",
            v.order_id,
            t.status_at_ack,
            t.cancelled,
            t.delivered.len(),
            v.fulfillments.len(),
            t.returned.len()
        ))
    }
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
}

/// Runs every check.
pub async fn audit(input: AuditInput<'_>) -> AuditOutcome {
    let mut totals = None;
    let mut checks = Vec::new();
    let http = matches!(input.driver, Driver::Http(_));
    match &input.core_audit {
        Some(r) => {
            for c in &r.checks {
                checks.push(CheckResult {
                    name: c.name.to_string(),
                    passed: c.passed,
                    violations: c.violations,
                    scope: "every cell, order and desk (Orchestrator::audit)".into(),
                    examples: c.examples.clone(),
                });
            }
        }
        None => {
            let mut v = Vec::new();
            for chunk in input.skus.chunks(64) {
                let invs = join_all(chunk.iter().map(|s| input.driver.inventory(s.clone()))).await;
                for (sku, inv) in chunk.iter().zip(invs) {
                    match inv {
                        Ok(inv) => {
                            for c in inv.facilities.iter().filter(|c| c.reserved > c.on_hand) {
                                v.push(format!(
                                    "{sku} at {}: reserved {} > on hand {}",
                                    c.facility_id, c.reserved, c.on_hand
                                ));
                            }
                        }
                        Err(e) => v.push(format!("{sku}: {e}")),
                    }
                }
            }
            checks.push(CheckResult::new(
                "no_oversell",
                "every cell via GET /v1/inventory/{sku}",
                v,
            ));
        }
    }

    // Acknowledged orders.
    let tracks = input.book.orders();
    let ids: Vec<String> = tracks.iter().map(|(id, _)| id.clone()).collect();
    let views = fetch_orders(input.driver, &ids).await;
    let mut lost = Vec::new();
    let mut found: Vec<OrderView> = Vec::with_capacity(views.len());
    for ((id, t), v) in tracks.iter().zip(views) {
        match v {
            Ok(Some(v)) => {
                if let Err(e) = status_matches(t, &v) {
                    lost.push(e);
                }
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

    // The doorbuster.
    if let Some(plan) = input.plan {
        let (v, conservation, t) = doorbuster(&input, plan, &found).await;
        totals = Some(t);
        checks.push(CheckResult::new(
            "doorbuster_exact",
            &format!("{} hot SKUs", plan.skus.len()),
            v,
        ));
        if http {
            checks.push(CheckResult::new(
                "conservation_per_sku",
                "hot SKUs: sold + on the shelf = stock + receipts + restocked (API only)",
                conservation,
            ));
        }
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
    AuditOutcome {
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
                })
                .collect(),
            backordered: Vec::new(),
            timeline: Vec::new(),
        }
    }

    #[test]
    fn statuses_match_what_the_floor_did() {
        let mut t = OrderTrack {
            status_at_ack: "routed".into(),
            ..Default::default()
        };
        assert!(status_matches(&t, &view("picking", &["o/1"])).is_ok());
        assert!(status_matches(&t, &view("cancelled", &["o/1"])).is_err());
        t.delivered.insert("o/1".into());
        assert!(status_matches(&t, &view("delivered", &["o/1"])).is_ok());
        assert!(status_matches(&t, &view("shipped", &["o/1"])).is_err());
        t.returned.insert("o/1".into());
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
