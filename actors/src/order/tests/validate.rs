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
