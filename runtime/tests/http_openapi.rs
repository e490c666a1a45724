//! The OpenAPI document stays true: every (method, path) it lists is served
//! (not 404 route_not_found, not 405), every route in the route table is
//! listed, and paths it does not list are not served.

mod http_common;

use std::collections::BTreeSet;

use http_common::{order, TestServer};
use orch_runtime::http::routes::ROUTES;
use serde_json::json;

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

/// The document states the limits the server enforces, as configured, and
/// the server refuses one past each of them: the two read the same schema.
#[test]
fn openapi_states_the_configured_limits_and_optional_auth() {
    let mut cfg = http_common::config();
    cfg.limits.order_lines_max = 3;
    cfg.limits.id_len_max = 20;
    cfg.limits.qty_max = 50;
    let t = TestServer::with(cfg);
    let doc = t.get("/v1/openapi.json").json();
    let s = &doc["components"]["schemas"];
    let po = &s["PlaceOrder"]["properties"];
    assert_eq!(po["lines"]["maxItems"], 3);
    assert_eq!(po["lines"]["minItems"], 1);
    assert_eq!(po["order_id"]["maxLength"], 20);
    assert_eq!(po["order_id"]["pattern"], "^[A-Za-z0-9._:-]{1,20}$");
    assert_eq!(po["channel"]["pattern"], "^[A-Za-z0-9_-]{1,64}$");
    assert_eq!(po["lines"]["items"]["properties"]["qty"]["maximum"], 50);
    assert_eq!(po["lines"]["items"]["properties"]["qty"]["minimum"], 1);
    assert_eq!(s["PlaceOrder"]["additionalProperties"], false);
    let skus = s["SkuId"]["enum"].as_array().unwrap();
    assert_eq!(skus.len(), t.cfg.network.skus.len());
    let facilities = s["FacilityId"]["enum"].as_array().unwrap();
    assert_eq!(facilities.len(), t.cfg.network.facilities.len());
    // Auth is optional (no token configured): `{}` is one alternative.
    assert_eq!(doc["security"], json!([{}, {"bearer": []}]));
    // Links carry ids from placing an order and listing facilities.
    let links = &doc["paths"]["/v1/orders"]["post"]["responses"]["201"]["links"];
    assert_eq!(links["GetOrder"]["operationId"], "getOrder");
    let links = &doc["paths"]["/v1/facilities"]["get"]["responses"]["200"]["links"];
    assert_eq!(
        links["SetFacilityStatus"]["operationId"],
        "setFacilityStatus"
    );
    let q = &doc["paths"]["/v1/skus"]["get"]["parameters"];
    let limit = q
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(
        (
            limit["schema"]["minimum"].clone(),
            limit["schema"]["maximum"].clone()
        ),
        (json!(1), json!(1000))
    );

    // One past each stated limit is refused; at the limit it is not.
    let (_, lat, lon) = t.stocked("SKU-000000", 1).unwrap();
    let skus: Vec<String> = skus
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let lines = |n: usize, qty: i64| -> Vec<(&str, i64)> {
        skus[..n].iter().map(|s| (s.as_str(), qty)).collect()
    };
    let r = t.post("/v1/orders", &order("o-4", lat, lon, &lines(4, 1)));
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "too_many_lines"),
        "{}",
        r.text()
    );
    let r = t.post("/v1/orders", &order("o-q", lat, lon, &lines(1, 51)));
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "invalid_quantity"),
        "{}",
        r.text()
    );
    let r = t.post(
        "/v1/orders",
        &order(&"i".repeat(21), lat, lon, &lines(1, 1)),
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (422, "invalid_id"),
        "{}",
        r.text()
    );
    let r = t.post(
        "/v1/orders",
        &order(&"i".repeat(20), lat, lon, &lines(3, 50)),
    );
    assert!(r.status == 201, "at every limit: {}", r.text());
}
