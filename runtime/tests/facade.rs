//! The facade's refusals and controls: validation naming the field,
//! conflicts, facility closures, adjustments, and `check-config`.

use orch_config::bf1::{generate, Bf1Params};
use orch_config::Config;
use orch_runtime::dto::*;
use orch_runtime::{ErrorKind, Orchestrator};

fn core() -> (Orchestrator, Config) {
    let mut cfg = Config::with_network(generate(&Bf1Params {
        scale: 0.01,
        seed: 7,
    }));
    cfg.runtime.workers = 2;
    (Orchestrator::start(&cfg), cfg)
}

fn order(id: &str, sku: &str, qty: i64) -> PlaceOrder {
    PlaceOrder {
        order_id: id.into(),
        channel: "web".into(),
        ship_to: ShipTo {
            lat: 40.0,
            lon: -90.0,
        },
        service_level: "next_day".into(),
        lines: vec![LineInput {
            sku: sku.into(),
            qty,
        }],
        allow_backorder: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field_and_changes_nothing() {
    let (core, cfg) = core();
    let sku = &cfg.network.skus[0];
    let before = core.inventory(sku).unwrap();
    let cases: Vec<(PlaceOrder, &str)> = vec![
        (order("", sku, 1), "order_id"),
        (order("bad id!", sku, 1), "order_id"),
        (order("o", "NOPE", 1), "lines[0].sku"),
        (order("o", sku, 0), "lines[0].qty"),
        (order("o", sku, -3), "lines[0].qty"),
        (order("o", sku, 1_000_001), "lines[0].qty"),
        (
            PlaceOrder {
                service_level: "warp".into(),
                ..order("o", sku, 1)
            },
            "service_level",
        ),
        (
            PlaceOrder {
                ship_to: ShipTo {
                    lat: 91.0,
                    lon: 0.0,
                },
                ..order("o", sku, 1)
            },
            "ship_to.lat",
        ),
        (
            PlaceOrder {
                lines: vec![],
                ..order("o", sku, 1)
            },
            "lines",
        ),
        (
            PlaceOrder {
                lines: vec![
                    LineInput {
                        sku: sku.clone(),
                        qty: 1,
                    },
                    LineInput {
                        sku: sku.clone(),
                        qty: 1,
                    },
                ],
                ..order("o", sku, 1)
            },
            "lines[1].sku",
        ),
    ];
    for (o, field) in cases {
        let e = core.place(&o).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid, "{e:?}");
        assert!(e.message.starts_with(field), "{field}: {e:?}");
    }
    assert_eq!(core.inventory(sku).unwrap(), before);
    assert!(core.shared().order_ids.is_empty());
    assert_eq!(
        core.order("nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    assert_eq!(
        core.cancel("nope").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_conflict_cancel_after_ship_and_adjust_below_reserved() {
    let (core, cfg) = core();
    let sku = cfg.network.skus[0].clone();
    let first = core.place(&order("o-1", &sku, 1)).await.unwrap();
    assert!(!first.replay);
    let again = core.place(&order("o-1", &sku, 1)).await.unwrap();
    assert!(again.replay);
    assert_eq!(again.order, first.order);
    let e = core.place(&order("o-1", &sku, 2)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);

    let f = first.order.fulfillments[0].clone();
    let inv = core.inventory(&sku).unwrap();
    let cell = inv
        .facilities
        .iter()
        .find(|c| c.facility_id == f.facility_id)
        .unwrap();
    let r = core
        .adjust(&[AdjustmentInput {
            sku: sku.clone(),
            facility_id: f.facility_id.clone(),
            on_hand: i64::from(cell.reserved) - 1,
            adjustment_id: "a-1".into(),
        }])
        .await
        .unwrap();
    assert_eq!(r[0].result, "rejected", "{r:?}");
    assert_eq!(
        core.inventory(&sku).unwrap(),
        inv,
        "a refused adjustment changes nothing"
    );

    core.release_wave(&f.facility_id).await.unwrap();
    let ev = |id: &str, kind: &str| ScanInput {
        event_id: id.into(),
        kind: kind.into(),
        order_id: "o-1".into(),
        fulfillment_id: f.fulfillment_id.clone(),
        facility_id: f.facility_id.clone(),
        ..Default::default()
    };
    let mut ship_early = ev("s0", "ship");
    ship_early.carrier = Some("UPS".into());
    ship_early.tracking = Some("1".into());
    let mut pick = ev("p1", "pick");
    pick.sku = Some(sku.clone());
    pick.qty = Some(2);
    let r = core
        .scans(&[ship_early.clone(), pick.clone(), ev("k1", "frobnicate")])
        .await;
    assert!(r.iter().all(|x| x.result == "rejected"), "{r:?}");
    assert!(r[1].reason.as_deref().unwrap().contains("over"), "{r:?}");
    pick.qty = Some(1);
    let r = core.scans(&[pick, ev("k2", "pack"), ship_early]).await;
    assert!(r.iter().all(|x| x.result == "applied"), "{r:?}");
    let e = core.cancel("o-1").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert_eq!(core.order("o-1").await.unwrap().status, "shipped");
    let audit = core.audit().await;
    assert!(audit.passed(), "{}", audit.failures());
    core.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_facility_is_skipped_at_once() {
    let (core, cfg) = core();
    let sku = cfg.network.skus[0].clone();
    let first = core.place(&order("a", &sku, 1)).await.unwrap();
    let chosen = first.order.fulfillments[0].facility_id.clone();
    let v = core
        .set_facility_status(
            &chosen,
            &FacilityStatusInput {
                enabled: false,
                until: Some("2999-01-01T00:00:00Z".into()),
            },
        )
        .await
        .unwrap();
    assert!(!v.enabled);
    for i in 0..20 {
        let p = core.place(&order(&format!("b{i}"), &sku, 1)).await.unwrap();
        assert!(
            p.order.fulfillments.iter().all(|f| f.facility_id != chosen),
            "{p:?}"
        );
    }
    let e = core
        .set_facility_status(
            &chosen,
            &FacilityStatusInput {
                enabled: false,
                until: Some("2000-01-01T00:00:00Z".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Invalid);
    core.set_facility_status(
        &chosen,
        &FacilityStatusInput {
            enabled: true,
            until: None,
        },
    )
    .await
    .unwrap();
    let p = core.place(&order("c", &sku, 1)).await.unwrap();
    assert_eq!(p.order.fulfillments[0].facility_id, chosen);
    assert_eq!(core.facility("NOPE").unwrap_err().kind, ErrorKind::NotFound);
    core.shutdown();
}

#[test]
fn check_config_names_the_key_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[routing]\nmax_splits = 0\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["check-config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("routing.max_splits"),
        "{err}"
    );
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["check-config", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A duplicate POST of an order whose actor has not started yet (its
/// arbiter is busy) waits for it and answers the replay, never 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_of_an_order_still_starting_answers_the_replay() {
    let (core, cfg) = core();
    let sku = &cfg.network.skus[0];
    core.receive(&[ReceiptInput {
        receipt_id: "r-dup".into(),
        sku: sku.clone(),
        facility_id: cfg.network.facilities[0].id.clone(),
        qty: 5,
    }])
    .await
    .unwrap();
    // Every arbiter busy for longer than any polling would wait.
    for arbiter in core.shared().arbiters() {
        arbiter.spawn(async { std::thread::sleep(std::time::Duration::from_millis(800)) });
    }
    let o = order("o-dup", sku, 1);
    let (first, second) = tokio::join!(core.place(&o), core.place(&o));
    let (first, second) = (first.unwrap(), second.unwrap());
    assert!(!first.replay && second.replay, "{first:?} / {second:?}");
    assert_eq!(first.order.order_id, second.order.order_id);
}
