//! A first end-to-end pass through the actor runtime.

use orch_runtime::dto::*;
use orch_runtime::Orchestrator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn place_wave_scan_deliver() {
    let cfg = orch_config::Config::with_network(orch_config::bf1::generate(
        &orch_config::bf1::Bf1Params {
            scale: 0.01,
            seed: 7,
        },
    ));
    let core = Orchestrator::start(&cfg);
    let sku = cfg.network.skus[0].clone();
    let placed = core
        .place(&PlaceOrder {
            order_id: "o-1".into(),
            channel: "web".into(),
            ship_to: ShipTo {
                lat: 40.7,
                lon: -74.0,
            },
            service_level: "standard".into(),
            lines: vec![LineInput {
                sku: sku.clone(),
                qty: 1,
            }],
            allow_backorder: None,
        })
        .await
        .unwrap();
    assert_eq!(placed.order.status, "routed", "{placed:?}");
    let f = &placed.order.fulfillments[0];
    let wave = core.release_wave(&f.facility_id).await.unwrap();
    assert_eq!(wave.fulfillment_ids, vec!["o-1/1".to_string()]);
    let ev = |id: &str, kind: &str| ScanInput {
        event_id: id.into(),
        kind: kind.into(),
        order_id: "o-1".into(),
        fulfillment_id: "o-1/1".into(),
        facility_id: f.facility_id.clone(),
        ..Default::default()
    };
    let mut pick = ev("e1", "pick");
    pick.sku = Some(sku.clone());
    pick.qty = Some(1);
    let mut ship = ev("e3", "ship");
    ship.carrier = Some("UPS".into());
    ship.tracking = Some("1Z".into());
    let r = core
        .scans(&[
            pick.clone(),
            ev("e2", "pack"),
            ship,
            ev("e4", "delivered"),
            pick,
        ])
        .await;
    let results: Vec<&str> = r.iter().map(|x| x.result.as_str()).collect();
    assert_eq!(
        results,
        vec!["applied", "applied", "applied", "applied", "duplicate"],
        "{r:?}"
    );
    let o = core.order("o-1").await.unwrap();
    assert_eq!(o.status, "delivered");
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
}
