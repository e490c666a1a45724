//! 10,000 BF-1 orders at scale 0.01 through the actor runtime, across the
//! whole lifecycle: place → wave → pick → pack → ship → carrier → delivered,
//! with cancels before pick, returns (restock and dispose) and receipts for
//! what was backordered. Every order must end final and the audit must pass.

use std::collections::HashMap;

use orch_config::bf1::{generate, Bf1Params};
use orch_config::Config;
use orch_loadtest::workload::Bf1Stream;
use orch_runtime::dto::{OrderView, ReceiptInput, ScanInput};
use orch_runtime::Orchestrator;

const ORDERS: usize = 10_000;

fn scan(o: &OrderView, fi: usize, n: &mut u64, kind: &str) -> ScanInput {
    *n += 1;
    let f = &o.fulfillments[fi];
    ScanInput {
        event_id: format!("ev-{n}"),
        kind: kind.into(),
        order_id: o.order_id.clone(),
        fulfillment_id: f.fulfillment_id.clone(),
        facility_id: f.facility_id.clone(),
        ..Default::default()
    }
}

async fn apply(core: &Orchestrator, events: Vec<ScanInput>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for chunk in events.chunks(2_000) {
        for r in core.scans(chunk).await {
            if r.result == "rejected" {
                panic!("rejected scan {}: {:?}", r.event_id, r.reason);
            }
            *counts.entry(r.result).or_insert(0) += 1;
        }
    }
    counts
}

async fn all_orders(core: &Orchestrator, ids: &[String]) -> Vec<OrderView> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let views = futures::future::join_all(chunk.iter().map(|id| core.order(id))).await;
        out.extend(
            views
                .into_iter()
                .map(|v| v.expect("every placed order exists")),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_orders_reach_a_final_state() {
    let mut cfg = Config::with_network(generate(&Bf1Params {
        scale: 0.01,
        seed: 11,
    }));
    cfg.runtime.workers = 2;
    let net = cfg.network.clone();
    let core = Orchestrator::start(&cfg);
    let mut stream = Bf1Stream::new(&net, 5);
    let orders: Vec<_> = (0..ORDERS)
        .map(|i| stream.next_order(format!("o-{i}")))
        .collect();
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();

    for chunk in orders.chunks(500) {
        for r in core.place_batch(chunk).await {
            let placed = r.expect("valid BF-1 orders are accepted");
            assert!(!placed.replay);
        }
    }
    // 2% cancelled before pick.
    let cancelled: Vec<&String> = ids.iter().step_by(50).collect();
    for id in &cancelled {
        let v = core.cancel(id).await.unwrap();
        assert_eq!(v.status, "cancelled");
    }
    // Receipts for every SKU still waiting, enough for all of them.
    let views = all_orders(&core, &ids).await;
    let mut waiting: HashMap<String, i64> = HashMap::new();
    for v in &views {
        for l in &v.backordered {
            *waiting.entry(l.sku.clone()).or_default() += i64::from(l.qty);
        }
    }
    let backordered_lines: usize = views.iter().map(|v| v.backordered.len()).sum();
    assert!(
        backordered_lines > 0,
        "BF-1 at this scale backorders some lines"
    );
    let receipts: Vec<ReceiptInput> = waiting
        .iter()
        .enumerate()
        .map(|(i, (sku, qty))| ReceiptInput {
            sku: sku.clone(),
            facility_id: net.facilities[i % net.facilities.len()].id.clone(),
            qty: *qty,
            receipt_id: format!("r-{i}"),
        })
        .collect();
    let served: usize = core
        .receive(&receipts)
        .await
        .unwrap()
        .iter()
        .map(|r| r.backorders_served.unwrap_or(0))
        .sum();
    assert_eq!(
        served, backordered_lines,
        "a receipt covering the demand serves every waiting line"
    );
    core.quiesce().await;

    // Waves, then the warehouse floor and the carriers.
    core.release_all_waves().await;
    let views = all_orders(&core, &ids).await;
    let mut n = 0u64;
    let mut floor = Vec::new();
    let mut carrier = Vec::new();
    for v in views.iter().filter(|v| v.status != "cancelled") {
        assert!(v.backordered.is_empty(), "{v:?}");
        for (fi, f) in v.fulfillments.iter().enumerate() {
            assert_eq!(f.status, "released", "{v:?}");
            for l in &f.lines {
                let mut e = scan(v, fi, &mut n, "pick");
                e.sku = Some(l.sku.clone());
                e.qty = Some(i64::from(l.qty));
                floor.push(e);
            }
            floor.push(scan(v, fi, &mut n, "pack"));
            let mut ship = scan(v, fi, &mut n, "ship");
            ship.carrier = Some("UPS".into());
            ship.tracking = Some(format!("1Z{n}"));
            floor.push(ship);
            for kind in ["in_transit", "out_for_delivery", "delivered"] {
                carrier.push(scan(v, fi, &mut n, kind));
            }
        }
    }
    let dup = floor[0].clone();
    floor.push(dup);
    let counts = apply(&core, floor).await;
    assert_eq!(counts.get("duplicate"), Some(&1));
    apply(&core, carrier).await;

    // 3% of delivered orders come back: 80% restocked, 20% disposed.
    let views = all_orders(&core, &ids).await;
    let mut returns = Vec::new();
    for (i, v) in views.iter().filter(|v| v.status == "delivered").enumerate() {
        if i % 33 != 0 {
            continue;
        }
        let disposition = if i % 5 == 0 { "dispose" } else { "restock" };
        for (fi, f) in v.fulfillments.iter().enumerate() {
            for l in &f.lines {
                let mut e = scan(v, fi, &mut n, "return_received");
                e.sku = Some(l.sku.clone());
                e.qty = Some(i64::from(l.qty));
                e.disposition = Some(disposition.into());
                returns.push(e);
            }
        }
    }
    assert!(!returns.is_empty());
    apply(&core, returns).await;

    let views = all_orders(&core, &ids).await;
    let mut by_status: HashMap<&str, usize> = HashMap::new();
    for v in &views {
        *by_status.entry(v.status.as_str()).or_default() += 1;
        assert!(
            matches!(
                v.status.as_str(),
                "delivered" | "returned" | "cancelled" | "rejected"
            ),
            "not final: {v:?}"
        );
    }
    assert_eq!(by_status.get("cancelled"), Some(&cancelled.len()));
    assert!(by_status.get("returned").copied().unwrap_or(0) > 0);
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
}
