//! The doorbuster: 1,000 concurrent single-unit orders for one SKU with 100
//! units spread over several facilities. Exactly 100 are reserved, never
//! more; the other 900 wait. A receipt of 50 then goes to the 50 oldest.

use std::collections::HashSet;

use futures::future::join_all;
use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Config, StockEntry};
use orch_runtime::dto::*;
use orch_runtime::Orchestrator;

fn network() -> (Config, String) {
    let mut net = generate(&Bf1Params {
        scale: 0.01,
        seed: 3,
    });
    // SKU 0 gets exactly 25 units in each of 4 facilities, nothing elsewhere.
    net.stock.retain(|s| s.sku != 0);
    for f in 0..4u16 {
        net.stock.push(StockEntry {
            sku: 0,
            facility: f,
            on_hand: 25,
            safety_stock: 0,
        });
    }
    net.stock.sort_by_key(|s| (s.sku, s.facility));
    let sku = net.skus[0].clone();
    let mut cfg = Config::with_network(net);
    cfg.runtime.workers = 2;
    (cfg, sku)
}

fn order(i: usize, sku: &str) -> PlaceOrder {
    PlaceOrder {
        order_id: format!("db-{i:04}"),
        channel: "web".into(),
        ship_to: ShipTo {
            lat: 39.0 + (i % 7) as f64,
            lon: -100.0 + (i % 13) as f64,
        },
        service_level: "standard".into(),
        lines: vec![LineInput {
            sku: sku.into(),
            qty: 1,
        }],
        allow_backorder: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_stock_is_sold_and_receipts_serve_the_oldest_first() {
    let (cfg, sku) = network();
    let core = Orchestrator::start(&cfg);
    let orders: Vec<PlaceOrder> = (0..1000).map(|i| order(i, &sku)).collect();
    // All in flight at once, from several tasks.
    let tasks = orders.chunks(100).map(|chunk| {
        let core = core.clone();
        let chunk = chunk.to_vec();
        tokio::spawn(async move { join_all(chunk.iter().map(|o| core.place(o))).await })
    });
    let mut routed = 0;
    let mut backordered = Vec::new();
    for r in join_all(tasks).await {
        for placed in r.unwrap() {
            let v = placed.unwrap().order;
            match v.status.as_str() {
                "routed" => routed += 1,
                "backordered" => backordered.push(v.order_id.clone()),
                other => panic!("unexpected status {other}"),
            }
        }
    }
    assert_eq!(routed, 100);
    assert_eq!(backordered.len(), 900);
    core.quiesce().await;
    let inv = core.inventory(&sku).unwrap();
    let reserved: u32 = inv.facilities.iter().map(|f| f.reserved).sum();
    let available: u64 = inv.network_available;
    assert_eq!((reserved, available), (100, 0), "{inv:?}");
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());

    // Age of each waiting order: (placement time, order number).
    let mut ages = Vec::new();
    for id in &backordered {
        let v = core.order(id).await.unwrap();
        let no = *core.shared().order_ids.get(id.as_str()).unwrap();
        ages.push((v.timeline[0].at.clone(), no, id.clone()));
    }
    ages.sort();
    let oldest: HashSet<String> = ages.iter().take(50).map(|a| a.2.clone()).collect();

    let r = core
        .receive(&[ReceiptInput {
            sku: sku.clone(),
            facility_id: cfg.network.facilities[5].id.clone(),
            qty: 50,
            receipt_id: "rcpt-1".into(),
        }])
        .await
        .unwrap();
    assert_eq!(r[0].backorders_served, Some(50));
    core.quiesce().await;
    let mut served = HashSet::new();
    for id in &backordered {
        let v = core.order(id).await.unwrap();
        if v.status != "backordered" {
            assert_eq!(v.fulfillments.len(), 1);
            assert_eq!(v.fulfillments[0].facility_id, cfg.network.facilities[5].id);
            served.insert(id.clone());
        }
    }
    assert_eq!(
        served, oldest,
        "the 50 oldest backorders, and only they, were served"
    );
    let inv = core.inventory(&sku).unwrap();
    assert_eq!(inv.facilities.iter().map(|f| f.reserved).sum::<u32>(), 150);
    assert_eq!(
        inv.network_available, 0,
        "new orders cannot take received stock"
    );
    // A replayed receipt changes nothing.
    let again = core
        .receive(&[ReceiptInput {
            sku: sku.clone(),
            facility_id: cfg.network.facilities[5].id.clone(),
            qty: 50,
            receipt_id: "rcpt-1".into(),
        }])
        .await
        .unwrap();
    assert_eq!(again[0].result, "duplicate");
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
}
