//! Placement-request validation.

use super::*;

#[test]
fn validate_request_names_the_field() {
    let ok = request(&[(A, 1), (B, 2)]);
    assert_eq!(validate_request(&ok, 200, 1000), Ok(()));
    let bad = |r: PlaceRequest, field: &str| {
        let e = validate_request(&r, 2, 1000).unwrap_err();
        assert!(e.starts_with(field), "{e}");
    };
    bad(request(&[]), "lines");
    bad(request(&[(A, 1), (B, 1), (C, 1)]), "lines");
    bad(request(&[(A, 0)]), "lines[0].qty");
    bad(request(&[(A, 1), (B, 1001)]), "lines[1].qty");
    bad(request(&[(A, 1), (A, 1)]), "lines[1].sku");
    bad(
        PlaceRequest {
            lat: 91.0,
            ..request(&[(A, 1)])
        },
        "ship_to.lat",
    );
    bad(
        PlaceRequest {
            lat: f64::NAN,
            ..request(&[(A, 1)])
        },
        "ship_to.lat",
    );
    bad(
        PlaceRequest {
            lon: -180.5,
            ..request(&[(A, 1)])
        },
        "ship_to.lon",
    );
}

#[test]
fn each_refusal_says_which_rule_it_broke() {
    use RequestProblem as P;
    let problem = |r: PlaceRequest| check_request(&r, 2, 1000).unwrap_err().problem;
    assert_eq!(problem(request(&[])), P::NoLines);
    assert_eq!(problem(request(&[(A, 1), (B, 1), (C, 1)])), P::TooManyLines);
    assert_eq!(problem(request(&[(A, 1001)])), P::Quantity);
    assert_eq!(problem(request(&[(A, 1), (A, 1)])), P::DuplicateSku);
    let far = PlaceRequest {
        lon: f64::INFINITY,
        ..request(&[(A, 1)])
    };
    assert_eq!(problem(far), P::ShipTo);
    assert_eq!(check_request(&request(&[(A, 1000)]), 2, 1000), Ok(()));
}

#[test]
fn a_line_quantity_is_checked_as_the_client_sent_it() {
    use crate::order::validate::check_line_qty;
    assert_eq!(check_line_qty(0, 1, 1000), Ok(1));
    assert_eq!(check_line_qty(0, 1000, 1000), Ok(1000));
    for (qty, shown) in [
        (0, "0"),
        (1001, "1001"),
        (-1, "-1"),
        (i64::from(u32::MAX) + 1, "4294967296"),
        (i64::from(u32::MAX) + 2, "4294967297"),
        (i64::MIN, "-9223372036854775808"),
    ] {
        let e = check_line_qty(3, qty, 1000).unwrap_err();
        assert_eq!(e.problem, RequestProblem::Quantity);
        assert_eq!(
            e.message,
            format!("lines[3].qty: must be 1 to 1000, got {shown}")
        );
    }
}
