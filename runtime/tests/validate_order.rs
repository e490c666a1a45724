//! `validate::order`, the placement check every engine behind the API runs
//! (the in-process load tester reaches it without the HTTP schema in
//! front): each rule answers its own code and a message naming the field,
//! and the first rule broken, in request order, is the one answered.

use orch_config::bf1::{generate, Bf1Params};
use orch_config::{Limits, ServiceLevel};
use orch_runtime::catalog::Catalog;
use orch_runtime::dto::{LineInput, PlaceOrder, ShipTo};
use orch_runtime::validate;

fn catalog() -> Catalog {
    Catalog::new(&generate(&Bf1Params {
        scale: 0.01,
        seed: 7,
    }))
}

fn limits() -> Limits {
    Limits {
        order_lines_max: 3,
        qty_max: 1_000,
        ..Limits::default()
    }
}

/// An order of `lines` (SKU id, qty).
fn order(lines: &[(&str, i64)]) -> PlaceOrder {
    PlaceOrder {
        order_id: "o-1".into(),
        channel: "web".into(),
        ship_to: ShipTo {
            lat: 40.7,
            lon: -74.0,
        },
        service_level: "next_day".into(),
        lines: lines
            .iter()
            .map(|&(sku, qty)| LineInput {
                sku: sku.into(),
                qty,
            })
            .collect(),
        allow_backorder: None,
    }
}

/// `(code, message)` of the refusal.
fn refused(o: &PlaceOrder) -> (&'static str, String) {
    let e = validate::order(&catalog(), &limits(), o).unwrap_err();
    (e.code, e.message)
}

#[test]
fn a_valid_order_becomes_the_state_machines_request() {
    let c = catalog();
    let (a, b) = (c.skus()[0].to_string(), c.skus()[1].to_string());
    let r = validate::order(&c, &limits(), &order(&[(&a, 2), (&b, 1_000)])).unwrap();
    let lines: Vec<_> = r.lines.iter().map(|l| (l.sku, l.qty)).collect();
    assert_eq!(
        lines,
        [(c.sku(&a).unwrap(), 2), (c.sku(&b).unwrap(), 1_000)]
    );
    assert_eq!(r.service_level, ServiceLevel::NextDay);
    assert!(r.allow_backorder, "backorders allowed unless refused");
    assert_eq!((r.lat, r.lon), (40.7, -74.0));
}

#[test]
fn each_rule_answers_its_code_and_names_the_field() {
    let c = catalog();
    let s: Vec<String> = c.skus()[..4].iter().map(|s| s.to_string()).collect();
    let (a, b) = (s[0].as_str(), s[1].as_str());
    let cases: Vec<(PlaceOrder, &str, String)> = vec![
        (
            order(&[]),
            "invalid_order",
            "lines: at least one line is required".into(),
        ),
        (
            order(&[(a, 1), (b, 1), (&s[2], 1), (&s[3], 1)]),
            "too_many_lines",
            "lines: 4 lines exceed the limit of 3".into(),
        ),
        (
            order(&[(a, 0)]),
            "invalid_quantity",
            "lines[0].qty: must be 1 to 1000, got 0".into(),
        ),
        (
            order(&[(a, 1), (b, 1_001)]),
            "invalid_quantity",
            "lines[1].qty: must be 1 to 1000, got 1001".into(),
        ),
        (
            order(&[(a, -3)]),
            "invalid_quantity",
            "lines[0].qty: must be 1 to 1000, got -3".into(),
        ),
        (
            order(&[(a, 5_000_000_000)]),
            "invalid_quantity",
            "lines[0].qty: must be 1 to 1000, got 5000000000".into(),
        ),
        (
            order(&[(a, 1), (a, 2)]),
            "invalid_order",
            "lines[1].sku: the SKU appears on an earlier line".into(),
        ),
        (
            PlaceOrder {
                ship_to: ShipTo {
                    lat: 91.0,
                    lon: 0.0,
                },
                ..order(&[(a, 1)])
            },
            "invalid_order",
            "ship_to.lat: must be -90 to 90, got 91".into(),
        ),
        (
            PlaceOrder {
                ship_to: ShipTo {
                    lat: 0.0,
                    lon: f64::NAN,
                },
                ..order(&[(a, 1)])
            },
            "invalid_order",
            "ship_to.lon: must be -180 to 180, got NaN".into(),
        ),
    ];
    for (o, code, message) in cases {
        assert_eq!(refused(&o), (code, message), "{:?}", o.lines);
    }
}

#[test]
fn the_first_rule_broken_in_request_order_is_answered() {
    let c = catalog();
    let a = c.skus()[0].to_string();
    // Line 0's unknown SKU before line 1's quantity, and the other way round.
    assert_eq!(
        refused(&order(&[("SKU-NOPE", 1), (&a, 0)])).0,
        "unknown_sku"
    );
    assert_eq!(
        refused(&order(&[(&a, 0), ("SKU-NOPE", 1)])).0,
        "invalid_quantity"
    );
    // Every line's own rules before duplicates, duplicates before ship-to.
    let dup_and_bad_qty = order(&[(&a, 1), (&a, 0)]);
    assert_eq!(refused(&dup_and_bad_qty).0, "invalid_quantity");
    let dup_and_bad_lat = PlaceOrder {
        ship_to: ShipTo {
            lat: -90.5,
            lon: 0.0,
        },
        ..order(&[(&a, 1), (&a, 1)])
    };
    assert!(refused(&dup_and_bad_lat).1.starts_with("lines[1].sku:"));
    // Too many lines before any line is looked at.
    let many = order(&[("SKU-NOPE", 0), (&a, 1), (&a, 1), (&a, 1)]);
    assert_eq!(refused(&many).0, "too_many_lines");
}
