//! The OpenAPI document stays true: every (method, path) it lists is served
//! (not 404 route_not_found, not 405), every route in the route table is
//! listed, and paths it does not list are not served.

mod http_common;

use std::collections::BTreeSet;

use http_common::{order, TestServer};
use orch_runtime::http::routes::ROUTES;

fn fill(path: &str) -> String {
    path.replace("{order_id}", "oa-1")
        .replace("{sku}", "SKU-000000")
        .replace("{facility_id}", "DC-01")
}

#[test]
fn openapi_lists_exactly_what_is_served() {
    let t = TestServer::start();
    let (_f, lat, lon) = t.stocked("SKU-000000", 1).unwrap();
    assert_eq!(
        t.post("/v1/orders", &order("oa-1", lat, lon, &[("SKU-000000", 1)]))
            .status,
        201
    );

    let r = t.get("/v1/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut listed = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            listed.insert((method.to_ascii_uppercase(), path.clone()));
            assert!(op["operationId"].is_string(), "{method} {path}");
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
        }
    }
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    assert_eq!(listed, table, "the document and the route table differ");
    // Every path API.md names is listed.
    for (m, p) in [
        ("POST", "/v1/orders"),
        ("POST", "/v1/orders/batch"),
        ("GET", "/v1/orders/{order_id}"),
        ("POST", "/v1/orders/{order_id}/cancel"),
        ("POST", "/v1/scans"),
        ("POST", "/v1/inventory/receipts"),
        ("POST", "/v1/inventory/adjustments"),
        ("GET", "/v1/inventory/{sku}"),
        ("GET", "/v1/skus"),
        ("GET", "/v1/availability"),
        ("GET", "/v1/facilities"),
        ("GET", "/v1/facilities/{facility_id}"),
        ("POST", "/v1/facilities/{facility_id}/waves/release"),
        ("PUT", "/v1/facilities/{facility_id}/status"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
    ] {
        assert!(
            listed.contains(&(m.to_string(), p.to_string())),
            "{m} {p} is not listed"
        );
    }

    // Every listed route is served. Bodies are `{}` (422 is fine: it was
    // routed); state-changing probes that succeed are harmless here.
    for (method, path) in &listed {
        let p = fill(path);
        let body = (method == "PUT"
            || (method == "POST" && !p.ends_with("/cancel") && !p.ends_with("/release")))
        .then(|| b"{}".to_vec());
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("Content-Type", "application/json")]
        } else {
            &[]
        };
        let r = t.send(method, &p, headers, body.as_deref());
        assert_ne!(r.status, 405, "{method} {p}: {}", r.text());
        assert_ne!(r.code(), "route_not_found", "{method} {p}: {}", r.text());
        assert!(r.status < 500, "{method} {p}: {}", r.text());
        // And another method on the same path is a JSON 405 naming the
        // allowed ones.
        let other = if listed.contains(&("DELETE".to_string(), path.clone())) {
            "PATCH"
        } else {
            "DELETE"
        };
        let r = t.send(other, &p, &[], None);
        assert_eq!(
            (r.status, r.code().as_str()),
            (405, "method_not_allowed"),
            "{other} {p}"
        );
        assert!(
            r.header("allow").unwrap().contains(method.as_str()),
            "{other} {p}"
        );
    }

    // Paths that are not listed are not served.
    for p in [
        "/",
        "/v1",
        "/v1/",
        "/metrics/",
        "/v1/orders/oa-1/fulfillments",
        "/v1/inventory",
        "/v1/facilities/DC-01/waves",
        "/v1/openapi.yaml",
        "/healthz/x",
    ] {
        let r = t.get(p);
        assert_eq!(
            (r.status, r.code().as_str()),
            (404, "route_not_found"),
            "GET {p}: {}",
            r.text()
        );
    }
}
