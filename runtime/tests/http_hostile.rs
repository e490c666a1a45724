//! Malformed and hostile requests over real HTTP: each is answered with the
//! documented status and code, and none changes state (inventory of the
//! SKUs involved, the number of orders, a known order, facility status).

mod http_common;

use http_common::{
    assert_error_body, assert_same_state, build, full_state, order, quiet_config, raw, Resp,
    TestServer,
};
use serde_json::{json, Value};

const SKU: &str = "SKU-000000";
const SKU2: &str = "SKU-000001";

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
    status: u16,
    /// Expected `error.code`; `None` for a 200 (or a protocol-level answer).
    code: Option<&'static str>,
    /// For 200s of per-item endpoints: every item must be refused.
    all_refused: bool,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: impl Into<Vec<u8>>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_string(),
        content_type: Some("application/json"),
        body: Some(body.into()),
        status,
        code: Some(code),
        all_refused: false,
    }
}

fn json_case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: Value,
    status: u16,
    code: &'static str,
) -> Case {
    case(
        name,
        method,
        path,
        serde_json::to_vec(&body).unwrap(),
        status,
        code,
    )
}

fn get(name: &'static str, path: &str, status: u16, code: &'static str) -> Case {
    Case {
        name,
        method: "GET",
        path: path.to_string(),
        content_type: None,
        body: None,
        status,
        code: Some(code),
        all_refused: false,
    }
}

fn typed(mut c: Case, ct: Option<&'static str>) -> Case {
    c.content_type = ct;
    c
}

fn refused_200(name: &'static str, path: &str, body: Value) -> Case {
    Case {
        all_refused: true,
        code: None,
        ..json_case(name, "POST", path, body, 200, "")
    }
}

/// Everything a rejected request must not change: what the API shows of
/// the SKUs involved, a known order and the facilities, and the full core
/// state (every cell, order, desk and facility, and the idempotency tables).
fn snapshot(t: &TestServer, known: &str) -> Value {
    let inv: Vec<Value> = [SKU, SKU2, "SKU-000002"]
        .iter()
        .map(|s| t.get(&format!("/v1/inventory/{s}")).json())
        .collect();
    let enabled: Vec<Value> = t.get("/v1/facilities").json()["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| json!([f["facility_id"], f["enabled"]]))
        .collect();
    json!({
        "inventory": inv,
        "known": t.get(&format!("/v1/orders/{known}")).json(),
        "facilities": enabled,
        "core": full_state(&t.core),
    })
}

fn assert_unchanged(before: &Value, now: &Value, what: &str) {
    assert_same_state(
        before["core"].as_str().unwrap_or(""),
        now["core"].as_str().unwrap_or(""),
        what,
    );
    assert_eq!(now, before, "{what} changed state");
}

fn nested(key: &str, depth: usize) -> Vec<u8> {
    let mut s = format!("{{\"{key}\": ");
    s.push_str(&"[".repeat(depth));
    s.push_str(&"]".repeat(depth));
    s.push('}');
    s.into_bytes()
}

#[test]
fn hostile_requests_are_refused_and_change_nothing() {
    let t = TestServer::with(quiet_config());
    let (_fac, lat, lon) = t.stocked(SKU, 1).unwrap();
    // A known order, its wave released so that nothing moves on its own.
    let placed = t.post("/v1/orders", &order("known-1", lat, lon, &[(SKU, 1)]));
    assert_eq!(placed.status, 201, "{}", placed.text());
    let fac = placed.json()["fulfillments"][0]["facility_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        t.post_empty(&format!("/v1/facilities/{fac}/waves/release"))
            .status,
        200
    );
    assert_eq!(t.get("/v1/orders/known-1").json()["status"], "released");

    let good = order("o-good", lat, lon, &[(SKU, 1)]);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let qty = |q: Value| with(&|v: &mut Value| v["lines"][0]["qty"] = q.clone());
    let big = format!(
        "{{\"order_id\": \"o-big\", \"pad\": \"{}\"}}",
        "x".repeat(10 * 1024 * 1024)
    );
    let over = format!("{{\"order_id\": \"{}\"}}", "x".repeat(1024 * 1024));
    let ev = |extra: Value| {
        let mut e = json!({"event_id": "h-1", "kind": "pack", "order_id": "known-1", "fulfillment_id": "known-1/1", "facility_id": fac});
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    };
    let receipt = |extra: Value| {
        let mut r = json!({"sku": SKU, "facility_id": fac, "qty": 1, "receipt_id": "hr-1"});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        json!({ "receipts": [r] })
    };
    let adjustment = |extra: Value| {
        let mut r = json!({"sku": SKU, "facility_id": fac, "on_hand": 5, "adjustment_id": "ha-1"});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        json!({ "adjustments": [r] })
    };
    let many_lines: Vec<(String, i64)> = (0..201).map(|i| (format!("SKU-{i:06}"), 1)).collect();
    let many_lines: Vec<(&str, i64)> = many_lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let o = "/v1/orders";
    let cases: Vec<Case> = vec![
        // Not JSON.
        case("not json", "POST", o, "hello", 400, "malformed_json"),
        case("empty body", "POST", o, "", 400, "malformed_json"),
        case(
            "truncated",
            "POST",
            o,
            "{\"order_id\": ",
            400,
            "malformed_json",
        ),
        case(
            "trailing garbage",
            "POST",
            o,
            [serde_json::to_vec(&good).unwrap(), b" x".to_vec()].concat(),
            400,
            "malformed_json",
        ),
        case(
            "two documents",
            "POST",
            o,
            [
                serde_json::to_vec(&good).unwrap(),
                serde_json::to_vec(&good).unwrap(),
            ]
            .concat(),
            400,
            "malformed_json",
        ),
        case(
            "single quotes",
            "POST",
            o,
            "{'order_id': 'x'}",
            400,
            "malformed_json",
        ),
        case("comment", "POST", o, "/* hi */ {}", 400, "malformed_json"),
        case(
            "bom",
            "POST",
            o,
            [b"\xEF\xBB\xBF".to_vec(), serde_json::to_vec(&good).unwrap()].concat(),
            400,
            "malformed_json",
        ),
        case(
            "invalid utf-8 in string",
            "POST",
            o,
            b"{\"order_id\": \"\xff\xfe\"}".to_vec(),
            400,
            "malformed_json",
        ),
        case(
            "lone surrogate",
            "POST",
            o,
            "{\"order_id\": \"\\ud800\"}",
            400,
            "malformed_json",
        ),
        case(
            "raw control char",
            "POST",
            o,
            "{\"order_id\": \"a\u{1}b\"}",
            400,
            "malformed_json",
        ),
        // Deep nesting: a typed field refuses the first '[' (422); where any
        // JSON is taken (batch items, scan events) serde_json's recursion
        // limit of 128 answers 400.
        case(
            "nested 200 deep in a typed field",
            "POST",
            o,
            nested("order_id", 200),
            400,
            "malformed_json",
        ),
        case(
            "nested 200 deep in events",
            "POST",
            "/v1/scans",
            nested("events", 200),
            400,
            "malformed_json",
        ),
        case(
            "nested 100000 deep in orders",
            "POST",
            "/v1/orders/batch",
            nested("orders", 100_000),
            400,
            "malformed_json",
        ),
        case(
            "nested objects 100000 deep",
            "POST",
            "/v1/scans",
            format!(
                "{{\"events\": [{}{}]}}",
                "{\"a\":".repeat(100_000),
                "}".repeat(100_000)
            ),
            400,
            "malformed_json",
        ),
        case("nul bytes", "POST", o, vec![0u8; 64], 400, "malformed_json"),
        // Wrong shapes.
        case("array body", "POST", o, "[]", 400, "wrong_type"),
        case("string body", "POST", o, "\"order\"", 400, "wrong_type"),
        case("null body", "POST", o, "null", 400, "wrong_type"),
        case("empty object", "POST", o, "{}", 422, "missing_field"),
        json_case(
            "missing order_id",
            "POST",
            o,
            with(&|v| {
                v.as_object_mut().unwrap().remove("order_id");
            }),
            422,
            "missing_field",
        ),
        json_case(
            "missing lines",
            "POST",
            o,
            with(&|v| {
                v.as_object_mut().unwrap().remove("lines");
            }),
            422,
            "missing_field",
        ),
        json_case(
            "missing ship_to",
            "POST",
            o,
            with(&|v| {
                v.as_object_mut().unwrap().remove("ship_to");
            }),
            422,
            "missing_field",
        ),
        json_case(
            "lines is a string",
            "POST",
            o,
            with(&|v| v["lines"] = json!("SKU-000000")),
            400,
            "wrong_type",
        ),
        json_case(
            "order_id is a number",
            "POST",
            o,
            with(&|v| v["order_id"] = json!(42)),
            400,
            "wrong_type",
        ),
        json_case(
            "lat is a string",
            "POST",
            o,
            with(&|v| v["ship_to"]["lat"] = json!("north")),
            400,
            "wrong_type",
        ),
        json_case(
            "unknown field",
            "POST",
            o,
            with(&|v| v["coupon"] = json!("FREE")),
            422,
            "unknown_field",
        ),
        json_case(
            "unknown line field",
            "POST",
            o,
            with(&|v| v["lines"][0]["price"] = json!(1)),
            422,
            "unknown_field",
        ),
        json_case(
            "allow_backorder string",
            "POST",
            o,
            with(&|v| v["allow_backorder"] = json!("yes")),
            400,
            "wrong_type",
        ),
        // Quantities.
        json_case(
            "qty zero",
            "POST",
            o,
            qty(json!(0)),
            422,
            "invalid_quantity",
        ),
        json_case(
            "qty negative",
            "POST",
            o,
            qty(json!(-5)),
            422,
            "invalid_quantity",
        ),
        json_case(
            "qty over max",
            "POST",
            o,
            qty(json!(1_000_001)),
            422,
            "invalid_quantity",
        ),
        json_case(
            "qty i64 max",
            "POST",
            o,
            qty(json!(i64::MAX)),
            422,
            "invalid_quantity",
        ),
        case(
            "qty past u64",
            "POST",
            o,
            serde_json::to_string(&good)
                .unwrap()
                .replace("\"qty\":1", "\"qty\":18446744073709551616"),
            422,
            "invalid_quantity",
        ),
        json_case(
            "qty fractional",
            "POST",
            o,
            qty(json!(1.5)),
            400,
            "wrong_type",
        ),
        json_case(
            "qty 1e30",
            "POST",
            o,
            qty(json!(1e30)),
            422,
            "invalid_quantity",
        ),
        json_case("qty string", "POST", o, qty(json!("1")), 400, "wrong_type"),
        json_case("qty null", "POST", o, qty(Value::Null), 400, "wrong_type"),
        // Invalid values.
        json_case(
            "unknown sku",
            "POST",
            o,
            with(&|v| v["lines"][0]["sku"] = json!("SKU-999999")),
            422,
            "unknown_sku",
        ),
        json_case(
            "empty sku",
            "POST",
            o,
            with(&|v| v["lines"][0]["sku"] = json!("")),
            422,
            "invalid_id",
        ),
        json_case(
            "no lines",
            "POST",
            o,
            with(&|v| v["lines"] = json!([])),
            422,
            "invalid_field",
        ),
        json_case(
            "duplicate sku lines",
            "POST",
            o,
            with(&|v| v["lines"] = json!([{"sku": SKU, "qty": 1}, {"sku": SKU, "qty": 1}])),
            422,
            "invalid_order",
        ),
        json_case(
            "too many lines",
            "POST",
            o,
            order("o-many", lat, lon, &many_lines),
            422,
            "too_many_lines",
        ),
        json_case(
            "empty order_id",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("")),
            422,
            "invalid_id",
        ),
        json_case(
            "long order_id",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("x".repeat(129))),
            422,
            "invalid_id",
        ),
        json_case(
            "order_id with slash",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("a/b")),
            422,
            "invalid_id",
        ),
        json_case(
            "order_id with space",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("a b")),
            422,
            "invalid_id",
        ),
        json_case(
            "order_id odd unicode",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("o\u{202e}\u{0301}ö")),
            422,
            "invalid_id",
        ),
        json_case(
            "order_id nul",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("a\u{0}b")),
            422,
            "invalid_id",
        ),
        json_case(
            "order_id emoji",
            "POST",
            o,
            with(&|v| v["order_id"] = json!("🛒")),
            422,
            "invalid_id",
        ),
        json_case(
            "channel emoji",
            "POST",
            o,
            with(&|v| v["channel"] = json!("web🔥")),
            422,
            "invalid_channel",
        ),
        json_case(
            "bad service level",
            "POST",
            o,
            with(&|v| v["service_level"] = json!("warp")),
            422,
            "invalid_service_level",
        ),
        json_case(
            "lat out of range",
            "POST",
            o,
            with(&|v| v["ship_to"]["lat"] = json!(200.0)),
            422,
            "invalid_order",
        ),
        json_case(
            "lon out of range",
            "POST",
            o,
            with(&|v| v["ship_to"]["lon"] = json!(-181.0)),
            422,
            "invalid_order",
        ),
        json_case(
            "replay with other body",
            "POST",
            o,
            order("known-1", lat, lon, &[(SKU, 2)]),
            409,
            "order_conflict",
        ),
        // Content types and sizes.
        typed(
            json_case(
                "text/plain",
                "POST",
                o,
                good.clone(),
                415,
                "unsupported_media_type",
            ),
            Some("text/plain"),
        ),
        typed(
            json_case(
                "no content type",
                "POST",
                o,
                good.clone(),
                415,
                "unsupported_media_type",
            ),
            None,
        ),
        typed(
            json_case(
                "form",
                "POST",
                o,
                good.clone(),
                415,
                "unsupported_media_type",
            ),
            Some("application/x-www-form-urlencoded"),
        ),
        typed(
            json_case(
                "multipart",
                "POST",
                o,
                good.clone(),
                415,
                "unsupported_media_type",
            ),
            Some("multipart/form-data; boundary=x"),
        ),
        typed(
            json_case(
                "xml",
                "POST",
                "/v1/inventory/receipts",
                receipt(json!({})),
                415,
                "unsupported_media_type",
            ),
            Some("application/xml"),
        ),
        case("10 MB body", "POST", o, big, 413, "body_too_large"),
        case(
            "1 MiB + a bit",
            "POST",
            "/v1/scans",
            over,
            413,
            "body_too_large",
        ),
        // Batches.
        json_case(
            "orders not an array",
            "POST",
            "/v1/orders/batch",
            json!({"orders": "all"}),
            400,
            "wrong_type",
        ),
        json_case(
            "batch missing orders",
            "POST",
            "/v1/orders/batch",
            json!({}),
            422,
            "missing_field",
        ),
        json_case(
            "batch over limit",
            "POST",
            "/v1/orders/batch",
            json!({"orders": vec![json!({}); 1001]}),
            422,
            "too_many_orders",
        ),
        refused_200(
            "batch of invalid orders",
            "/v1/orders/batch",
            json!({"orders": [qty(json!(0)), json!({}), json!(7), order("known-1", lat, lon, &[(SKU, 3)])]}),
        ),
        // Scans.
        case(
            "scans not json",
            "POST",
            "/v1/scans",
            "events",
            400,
            "malformed_json",
        ),
        json_case(
            "events not an array",
            "POST",
            "/v1/scans",
            json!({"events": {}}),
            400,
            "wrong_type",
        ),
        json_case(
            "scans unknown envelope field",
            "POST",
            "/v1/scans",
            json!({"events": [], "dry_run": true}),
            422,
            "unknown_field",
        ),
        json_case(
            "too many events",
            "POST",
            "/v1/scans",
            json!({"events": vec![json!({}); 5001]}),
            422,
            "too_many_events",
        ),
        refused_200(
            "scans that do not fit",
            "/v1/scans",
            json!({"events": [
                ev(json!({"kind": "ship", "carrier": "UPS", "tracking": "1"})),
                ev(json!({"kind": "pick", "sku": SKU, "qty": 0})),
                ev(json!({"kind": "pick", "sku": SKU, "qty": 99})),
                ev(json!({"kind": "pick", "sku": "SKU-999999", "qty": 1})),
                ev(json!({"kind": "pick", "sku": SKU, "qty": "1"})),
                ev(json!({"kind": "teleport"})),
                ev(json!({"order_id": "nope"})),
                ev(json!({"fulfillment_id": "known-1/9"})),
                ev(json!({"facility_id": "NOPE"})),
                ev(json!({"event_id": ""})),
                ev(json!({"event_id": 5})),
                ev(json!({"at": "yesterday"})),
                ev(json!({"kind": "return_received", "sku": SKU, "qty": 1, "disposition": "burn"})),
                json!("pack"),
                json!(null),
                json!([1, 2]),
            ]}),
        ),
        // Inventory.
        json_case(
            "receipt qty zero",
            "POST",
            "/v1/inventory/receipts",
            receipt(json!({"qty": 0})),
            422,
            "invalid_quantity",
        ),
        json_case(
            "receipt qty negative",
            "POST",
            "/v1/inventory/receipts",
            receipt(json!({"qty": -3})),
            422,
            "invalid_quantity",
        ),
        json_case(
            "receipt qty huge",
            "POST",
            "/v1/inventory/receipts",
            receipt(json!({"qty": 5_000_000_000i64})),
            422,
            "invalid_quantity",
        ),
        json_case(
            "receipt unknown sku",
            "POST",
            "/v1/inventory/receipts",
            receipt(json!({"sku": "SKU-999999"})),
            422,
            "unknown_sku",
        ),
        json_case(
            "receipt unknown facility",
            "POST",
            "/v1/inventory/receipts",
            receipt(json!({"facility_id": "DC-99"})),
            422,
            "unknown_facility",
        ),
        json_case(
            "receipt bad id",
            "POST",
            "/v1/inventory/receipts",
            receipt(json!({"receipt_id": "r 1"})),
            422,
            "invalid_id",
        ),
        json_case(
            "receipt missing id",
            "POST",
            "/v1/inventory/receipts",
            json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": 1}]}),
            422,
            "missing_field",
        ),
        json_case(
            "receipts: one bad refuses all",
            "POST",
            "/v1/inventory/receipts",
            json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": 4, "receipt_id": "hr-ok"}, {"sku": SKU, "facility_id": fac, "qty": 0, "receipt_id": "hr-bad"}]}),
            422,
            "invalid_quantity",
        ),
        json_case(
            "receipts not an array",
            "POST",
            "/v1/inventory/receipts",
            json!({"receipts": 1}),
            400,
            "wrong_type",
        ),
        json_case(
            "adjust negative",
            "POST",
            "/v1/inventory/adjustments",
            adjustment(json!({"on_hand": -1})),
            422,
            "invalid_quantity",
        ),
        json_case(
            "adjust huge",
            "POST",
            "/v1/inventory/adjustments",
            adjustment(json!({"on_hand": 2_000_000})),
            422,
            "invalid_quantity",
        ),
        json_case(
            "adjust unknown facility",
            "POST",
            "/v1/inventory/adjustments",
            adjustment(json!({"facility_id": "NOPE"})),
            422,
            "unknown_facility",
        ),
        json_case(
            "adjust below reserved",
            "POST",
            "/v1/inventory/adjustments",
            adjustment(json!({"on_hand": 0})),
            409,
            "below_reserved",
        ),
        json_case(
            "adjust on_hand string",
            "POST",
            "/v1/inventory/adjustments",
            adjustment(json!({"on_hand": "5"})),
            400,
            "wrong_type",
        ),
        // Facilities.
        json_case(
            "status unknown facility",
            "PUT",
            "/v1/facilities/NOPE/status",
            json!({"enabled": false}),
            404,
            "facility_not_found",
        ),
        json_case(
            "status enabled string",
            "PUT",
            &format!("/v1/facilities/{fac}/status"),
            json!({"enabled": "no"}),
            400,
            "wrong_type",
        ),
        json_case(
            "status bad until",
            "PUT",
            &format!("/v1/facilities/{fac}/status"),
            json!({"enabled": false, "until": "tomorrow"}),
            422,
            "invalid_time",
        ),
        json_case(
            "status unknown field",
            "PUT",
            &format!("/v1/facilities/{fac}/status"),
            json!({"enabled": false, "why": "x"}),
            422,
            "unknown_field",
        ),
        typed(
            json_case(
                "status as text",
                "PUT",
                &format!("/v1/facilities/{fac}/status"),
                json!({"enabled": false}),
                415,
                "unsupported_media_type",
            ),
            Some("text/plain"),
        ),
        case(
            "release unknown facility",
            "POST",
            "/v1/facilities/NOPE/waves/release",
            "",
            404,
            "facility_not_found",
        ),
        // Orders by id.
        get("unknown order", "/v1/orders/nope", 404, "order_not_found"),
        get(
            "percent-encoded junk id",
            "/v1/orders/%00%ff%2F",
            404,
            "order_not_found",
        ),
        get(
            "very long id",
            &format!("/v1/orders/{}", "x".repeat(4000)),
            404,
            "order_not_found",
        ),
        case(
            "cancel unknown",
            "POST",
            "/v1/orders/nope/cancel",
            "",
            404,
            "order_not_found",
        ),
        typed(
            case(
                "cancel with a text body",
                "POST",
                "/v1/orders/known-1/cancel",
                "please",
                415,
                "unsupported_media_type",
            ),
            Some("text/plain"),
        ),
        // Queries.
        get(
            "skus limit negative",
            "/v1/skus?limit=-1",
            422,
            "invalid_field",
        ),
        get(
            "skus limit huge",
            "/v1/skus?limit=99999999999999999999",
            422,
            "invalid_field",
        ),
        get(
            "availability lat text",
            &format!("/v1/availability?sku={SKU}&lat=abc&lon=0"),
            422,
            "invalid_field",
        ),
        get(
            "availability lat NaN",
            &format!("/v1/availability?sku={SKU}&lat=NaN&lon=0"),
            422,
            "invalid_point",
        ),
        get(
            "availability radius inf",
            &format!("/v1/availability?sku={SKU}&lat=0&lon=0&radius_km=inf"),
            422,
            "invalid_radius",
        ),
        get(
            "availability no sku",
            "/v1/availability?lat=0&lon=0",
            422,
            "missing_field",
        ),
        get(
            "unknown inventory sku",
            "/v1/inventory/SKU-999999",
            404,
            "sku_not_found",
        ),
        get(
            "unknown facility",
            "/v1/facilities/DC-99",
            404,
            "facility_not_found",
        ),
        // Methods and paths.
        Case {
            method: "DELETE",
            ..get("delete orders", "/v1/orders", 405, "method_not_allowed")
        },
        get("get scans", "/v1/scans", 405, "method_not_allowed"),
        Case {
            method: "PATCH",
            ..get(
                "patch status",
                &format!("/v1/facilities/{fac}/status"),
                405,
                "method_not_allowed",
            )
        },
        Case {
            method: "PUT",
            ..get("put order", "/v1/orders/known-1", 405, "method_not_allowed")
        },
        get(
            "get cancel",
            "/v1/orders/known-1/cancel",
            405,
            "method_not_allowed",
        ),
        get("unknown path", "/v1/nope", 404, "route_not_found"),
        get("trailing slash", "/v1/orders/", 404, "route_not_found"),
        get("dot dot", "/v1/../../etc/passwd", 404, "route_not_found"),
        get("metrics subpath", "/metrics/x", 404, "route_not_found"),
        get("v2", "/v2/orders", 404, "route_not_found"),
    ];
    assert!(cases.len() >= 50, "{} cases", cases.len());
    eprintln!("{} hostile cases", cases.len());

    let before = snapshot(&t, "known-1");
    let mut mismatches: Vec<String> = Vec::new();
    for c in &cases {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(ct) = c.content_type {
            headers.push(("Content-Type", ct));
        }
        let r: Resp = t.send(c.method, &c.path, &headers, c.body.as_deref());
        if r.status != c.status || c.code.is_some_and(|code| r.code() != code) {
            mismatches.push(format!(
                "{}: want {} {:?}, got {} {}",
                c.name,
                c.status,
                c.code,
                r.status,
                r.text().chars().take(300).collect::<String>()
            ));
            continue;
        }
        if let Some(code) = c.code {
            assert_eq!(r.code(), code, "{}: {}", c.name, r.text());
            assert!(!r.message().is_empty(), "{}", c.name);
            assert!(
                r.header("content-type")
                    .unwrap_or("")
                    .starts_with("application/json"),
                "{}",
                c.name
            );
        }
        if c.all_refused {
            let results = r.json()["results"].as_array().unwrap().clone();
            for (i, item) in results.iter().enumerate() {
                let refused = item.get("error").is_some() || item["result"] == "rejected";
                assert!(refused, "{}: item {i} was not refused: {item}", c.name);
            }
        }
        let now = snapshot(&t, "known-1");
        assert_unchanged(&before, &now, c.name);
    }
    assert!(
        mismatches.is_empty(),
        "{} cases answered otherwise:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    let r = t.get("/healthz");
    assert_eq!(r.status, 200);
}

#[test]
fn protocol_level_garbage_does_not_crash() {
    let t = TestServer::start();
    for bytes in [
        b"BLAH\r\n\r\n".to_vec(),
        b"GET /healthz HTTP/9.9\r\n\r\n".to_vec(),
        b"GET /healthz HTTP/1.1\r\nContent-Length: -5\r\nConnection: close\r\n\r\n".to_vec(),
        b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n".to_vec(),
    ] {
        let mut s = std::net::TcpStream::connect(t.addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        use std::io::{Read, Write};
        let _ = s.write_all(&bytes);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        // An answer is required: silence (or a bare status) would pass
        // nothing here.
        let what = String::from_utf8_lossy(&bytes).into_owned();
        assert!(!out.is_empty(), "{what:?}: no answer");
        let r = http_common::parse_response(&out);
        assert!(r.status >= 400 && r.status < 500, "{what:?}: {}", r.status);
        assert_error_body(&r, r.status, &what);
    }
    // A chunked body over the limit is cut at the limit.
    let mut req = b"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for _ in 0..40 {
        req.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        req.extend_from_slice(&vec![b' '; 64 * 1024]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let r = raw(t.addr, req);
    assert_eq!((r.status, r.code().as_str()), (413, "body_too_large"));
    assert_eq!(t.get("/healthz").status, 200);
    assert_eq!(raw(t.addr, build("GET", "/readyz", &[], None)).status, 200);
    if let Some(o) = t.core.shells() {
        assert_eq!(o.shared().order_ids.len(), 0);
    }
}

/// One order's timeline is bounded (`limits.order_events_max`): scans past
/// it are rejected naming the limit, nothing changes, and a retry of an
/// applied scan still answers `duplicate`.
#[test]
fn an_order_timeline_stops_at_its_bound() {
    let mut cfg = http_common::config();
    cfg.limits.order_events_max = 16;
    let t = TestServer::with(cfg);
    let sku = "SKU-000000";
    let (fac, lat, lon) = t.stocked(sku, 1).expect("a stocked facility");
    assert_eq!(
        t.post("/v1/orders", &order("o-tl", lat, lon, &[(sku, 1)]))
            .status,
        201
    );
    assert_eq!(
        t.post_empty(&format!("/v1/facilities/{fac}/waves/release"))
            .status,
        200
    );
    let ev = |id: String, kind: &str| json!({"event_id": id, "kind": kind, "order_id": "o-tl", "fulfillment_id": "o-tl/1", "facility_id": fac, "sku": sku, "qty": 1, "carrier": "UPS", "tracking": "T1"});
    let mut events = vec![
        ev("p".into(), "pick"),
        ev("k".into(), "pack"),
        ev("s".into(), "ship"),
    ];
    events.extend((0..40).map(|i| ev(format!("t{i}"), "in_transit")));
    let r = t.post("/v1/scans", &json!({ "events": events }));
    assert_eq!(r.status, 200, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    let applied = results.iter().filter(|x| x["result"] == "applied").count();
    let refused: Vec<_> = results
        .iter()
        .filter(|x| x["result"] == "rejected")
        .collect();
    assert!(applied >= 3 && !refused.is_empty(), "{results:?}");
    assert!(
        refused.iter().all(|x| x["reason"]
            .as_str()
            .unwrap_or("")
            .starts_with("order_events_max")),
        "{refused:?}"
    );
    let o = t.get("/v1/orders/o-tl").json();
    assert_eq!(o["timeline"].as_array().unwrap().len(), 16, "{o}");
    // Refused: nothing changed; an applied one repeated is a duplicate.
    let again = t.post(
        "/v1/scans",
        &json!({"events": [ev("t0".into(), "in_transit"), ev("late".into(), "in_transit")]}),
    );
    let r: Vec<_> = again.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(r, ["duplicate", "rejected"]);
    assert_eq!(t.get("/v1/orders/o-tl").json(), o);
}
