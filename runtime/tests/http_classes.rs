//! The hostile-input classes of the contract, each tried at every place it
//! can occur, over real HTTP, with the full core state compared after every
//! refusal:
//!
//! - an array where an object is expected (every object of every body);
//! - a value of the wrong type (every field of every body);
//! - times that are not strict RFC 3339 with an offset (`until`, scan `at`);
//! - every 4xx from any layer carries the JSON error body (codec, routing,
//!   limits, content type, JSON);
//! - a refused value is quoted at most 128 characters (every path id, every
//!   id field, query values).

mod http_common;

use http_common::{
    assert_error_body, assert_same_state, build, full_state, order, quiet_config, raw, Resp,
    TestServer,
};
use serde_json::{json, Value};

const SKU: &str = "SKU-000000";

/// A server with one placed, released order (`k-1`) to scan and read.
struct World {
    t: TestServer,
    fac: String,
    lat: f64,
    lon: f64,
}

fn world() -> World {
    let t = TestServer::with(quiet_config());
    let (_, lat, lon) = t.stocked(SKU, 2).unwrap();
    let r = t.post("/v1/orders", &order("k-1", lat, lon, &[(SKU, 1)]));
    assert_eq!(r.status, 201, "{}", r.text());
    let fac = r.json()["fulfillments"][0]["facility_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        t.post_empty(&format!("/v1/facilities/{fac}/waves/release"))
            .status,
        200
    );
    World { t, fac, lat, lon }
}

/// Where a body's items are answered in place instead of refusing the
/// request: the array holding them.
#[derive(Clone, Copy, PartialEq)]
enum Items {
    /// The whole request is refused.
    Whole,
    /// `orders[i]` gets an error item.
    Orders,
    /// `events[i]` is answered rejected.
    Events,
}

/// Every JSON body the API takes, valid (with ids not used yet).
fn bodies(w: &World) -> Vec<(&'static str, String, Value, Items)> {
    let fac = &w.fac;
    vec![
        (
            "POST",
            "/v1/orders".into(),
            json!({"order_id": "c-1", "channel": "web", "ship_to": {"lat": w.lat, "lon": w.lon},
                   "service_level": "standard", "lines": [{"sku": SKU, "qty": 1}], "allow_backorder": true}),
            Items::Whole,
        ),
        (
            "POST",
            "/v1/orders/batch".into(),
            json!({"orders": [{"order_id": "c-2", "channel": "web", "ship_to": {"lat": w.lat, "lon": w.lon},
                   "service_level": "standard", "lines": [{"sku": SKU, "qty": 1}]}]}),
            Items::Orders,
        ),
        (
            "POST",
            "/v1/scans".into(),
            json!({"events": [{"event_id": "c-e1", "kind": "pick", "order_id": "k-1", "fulfillment_id": "k-1/1",
                   "facility_id": fac, "sku": SKU, "qty": 1, "at": "2026-11-27T09:15:00Z"}]}),
            Items::Events,
        ),
        (
            "POST",
            "/v1/inventory/receipts".into(),
            json!({"receipts": [{"sku": SKU, "facility_id": fac, "qty": 5, "receipt_id": "c-r1"}]}),
            Items::Whole,
        ),
        (
            "POST",
            "/v1/inventory/adjustments".into(),
            json!({"adjustments": [{"sku": SKU, "facility_id": fac, "on_hand": 400, "adjustment_id": "c-a1"}]}),
            Items::Whole,
        ),
        (
            "PUT",
            format!("/v1/facilities/{fac}/status"),
            json!({"enabled": false, "until": "2099-01-01T00:00:00Z"}),
            Items::Whole,
        ),
    ]
}

/// JSON-pointer-like paths of every node of `v` (the root is "").
fn nodes(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                nodes(x, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                nodes(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn send_json(t: &TestServer, method: &str, path: &str, body: &Value) -> Resp {
    let b = serde_json::to_vec(body).unwrap();
    t.send(
        method,
        path,
        &[("Content-Type", "application/json")],
        Some(&b),
    )
}

/// Whether the answer refused the request, or (for per-item bodies) the
/// item at `pointer`; `code` is the expected error code of a refusal.
fn refused(r: &Resp, items: Items, pointer: &str, code: &str) -> Result<(), String> {
    let inside = |prefix: &str| pointer.starts_with(prefix) && pointer.len() > prefix.len();
    let per_item = match items {
        Items::Orders => inside("/orders/"),
        Items::Events => inside("/events/"),
        Items::Whole => false,
    };
    if !per_item {
        if r.status == 400 && r.code() == code {
            return Ok(());
        }
        return Err(format!("want 400 {code}, got {} {}", r.status, r.text()));
    }
    if r.status != 200 {
        return Err(format!("want 200 with the item refused, got {}", r.status));
    }
    let item = &r.json()["results"][0];
    let ok = match items {
        Items::Orders => item["error"]["code"] == code,
        _ => {
            item["result"] == "rejected"
                && item["reason"]
                    .as_str()
                    .is_some_and(|m| m.contains("must be"))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("item not refused as {code}: {item}"))
    }
}

#[test]
fn arrays_in_place_of_objects_are_malformed_everywhere() {
    let w = world();
    let before = full_state(&w.t.core);
    let mut tried = 0;
    for (method, path, body, items) in bodies(&w) {
        let mut all = Vec::new();
        nodes(&body, String::new(), &mut all);
        for p in all {
            let Some(Value::Object(m)) = body.pointer(&p) else {
                continue;
            };
            // The object's fields in order, as serde's derives would read them.
            let as_array = Value::Array(m.values().cloned().collect());
            let mut b = body.clone();
            if p.is_empty() {
                b = as_array;
            } else {
                *b.pointer_mut(&p).unwrap() = as_array;
            }
            let r = send_json(&w.t, method, &path, &b);
            let what = format!("{method} {path} with {p:?} as an array");
            if let Err(e) = refused(&r, items, &p, "wrong_type") {
                panic!("{what}: {e}");
            }
            if r.status >= 400 {
                assert_error_body(&r, 400, &what);
                assert!(
                    r.message().contains("must be an object"),
                    "{what}: {}",
                    r.message()
                );
            }
            assert_same_state(&before, &full_state(&w.t.core), &what);
            tried += 1;
        }
    }
    // Every object of every body: 3 + 4 + 2 + 2 + 2 + 1.
    assert_eq!(tried, 14, "objects tried");
}

/// A value of another JSON type than `v`.
fn other_types(v: &Value) -> Vec<Value> {
    let all = [
        json!(null),
        json!(true),
        json!(7),
        json!(1.5),
        json!("7"),
        json!([]),
        json!({}),
    ];
    all.into_iter()
        .filter(|x| {
            let same = match (v, x) {
                (Value::Number(a), Value::Number(b)) => {
                    // An integer field takes no fraction; a number field takes both.
                    a.is_f64() || !b.is_f64()
                }
                (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
            };
            // null stands for "absent" in optional fields: not a type error.
            !same && !x.is_null()
        })
        .collect()
}

#[test]
fn values_of_the_wrong_type_are_malformed_everywhere() {
    let w = world();
    let before = full_state(&w.t.core);
    let mut tried = 0;
    for (method, path, body, items) in bodies(&w) {
        let mut all = Vec::new();
        nodes(&body, String::new(), &mut all);
        for p in all.iter().filter(|p| !p.is_empty()) {
            let v = body.pointer(p).unwrap().clone();
            // Items of the two envelopes may be anything (answered in place).
            let item_slot =
                matches!(items, Items::Orders | Items::Events) && p.matches('/').count() == 2;
            for x in other_types(&v) {
                let mut b = body.clone();
                *b.pointer_mut(p).unwrap() = x.clone();
                let r = send_json(&w.t, method, &path, &b);
                let what = format!("{method} {path} with {p} = {x}");
                if item_slot {
                    let item = &r.json()["results"][0];
                    assert!(
                        item.get("error").is_some() || item["result"] == "rejected",
                        "{what}: {item}"
                    );
                } else if let Err(e) = refused(&r, items, p, "wrong_type") {
                    panic!("{what}: {e}");
                }
                assert_same_state(&before, &full_state(&w.t.core), &what);
                tried += 1;
            }
        }
    }
    assert!(tried >= 100, "{tried} cases");
}

const BAD_TIMES: &[&str] = &[
    "2026-11-27T09:15:00",
    "2026-11-27T09:15:00Zjunk",
    "2026-11-27T09:15:00Z ",
    " 2026-11-27T09:15:00Z",
    "2026-11-27 09:15:00Z",
    "2026-11-27T09:15Z",
    "2026-11-27T09:15:00+0100",
    "2026-11-27T09:15:00+01",
    "2026-02-30T09:15:00Z",
    "2026-11-27T25:15:00Z",
    "2026-11-27",
    "1764234900",
    "soon",
    "",
];

#[test]
fn times_are_strict_rfc3339_with_an_offset() {
    let w = world();
    let before = full_state(&w.t.core);
    let status = format!("/v1/facilities/{}/status", w.fac);
    for t in BAD_TIMES {
        let r = w.t.put(&status, &json!({"enabled": false, "until": t}));
        assert_error_body(&r, 422, t);
        assert_eq!(r.code(), "invalid_time", "{t}");
        assert!(r.message().starts_with("until:"), "{t}: {}", r.message());
        let ev = json!({"events": [{"event_id": "t-1", "kind": "pack", "order_id": "k-1",
            "fulfillment_id": "k-1/1", "facility_id": w.fac, "at": t}]});
        let r = w.t.post("/v1/scans", &ev);
        assert_eq!(r.status, 200, "{t}");
        let item = &r.json()["results"][0];
        assert_eq!(item["result"], "rejected", "{t}: {item}");
        assert!(
            item["reason"]
                .as_str()
                .unwrap()
                .starts_with("events[0].at:"),
            "{t}: {item}"
        );
        assert_same_state(&before, &full_state(&w.t.core), t);
    }
    // An offset other than Z is a time like any other.
    let r = w.t.put(
        &status,
        &json!({"enabled": false, "until": "2099-01-01T01:00:00.250+01:00"}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["disabled_until"], "2099-01-01T00:00:00.250Z");
}

#[test]
fn every_error_has_the_json_body_whatever_the_layer() {
    let w = world();
    let t = &w.t;
    let before = full_state(&t.core);
    let long = "a".repeat(70 * 1024);
    let mut cases: Vec<(String, Vec<u8>, u16)> = vec![
        // The codec: over-long URI, bad header, head over 128 KiB, garbage.
        (
            "path over 64 KiB".into(),
            build("GET", &format!("/v1/orders/{long}"), &[], None),
            400,
        ),
        (
            "query over 64 KiB".into(),
            build("GET", &format!("/v1/skus?after={long}"), &[], None),
            400,
        ),
        (
            "header without a colon".into(),
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\nConnection: close\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "header name with a space".into(),
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\nConnection: close\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "head over 128 KiB".into(),
            build(
                "GET",
                "/healthz",
                &[("X-Pad", &"p".repeat(140 * 1024))],
                None,
            ),
            431,
        ),
        (
            "not HTTP".into(),
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(),
            400,
        ),
    ];
    // Routing, methods, content types, limits, JSON: on every body route.
    for (method, path, _, _) in bodies(&w) {
        cases.push((
            format!("{method} {path} not JSON"),
            build(
                method,
                &path,
                &[("Content-Type", "application/json")],
                Some(b"{nope"),
            ),
            400,
        ));
        cases.push((
            format!("{method} {path} as text/plain"),
            build(
                method,
                &path,
                &[("Content-Type", "text/plain")],
                Some(b"{}"),
            ),
            415,
        ));
        cases.push((
            format!("{method} {path} over the body limit"),
            build(
                method,
                &path,
                &[("Content-Type", "application/json")],
                Some(&vec![b' '; 2 * 1024 * 1024]),
            ),
            413,
        ));
        cases.push((
            format!("DELETE {path}"),
            build("DELETE", &path, &[], None),
            405,
        ));
    }
    for p in ["/v1/nope", "/nope", "/v1/orders/k-1/nope", "/v2/orders"] {
        cases.push((format!("GET {p}"), build("GET", p, &[], None), 404));
    }
    for (name, bytes, status) in cases {
        let r = raw(t.addr, bytes);
        assert_error_body(&r, status, &name);
    }
    assert_same_state(&before, &full_state(&t.core), "the error cases");
    assert_eq!(t.get("/healthz").status, 200);
}

/// Asserts a message quotes no more than 128 characters of `x`s.
fn quotes_little(message: &str, what: &str) {
    let longest = message
        .split(|c: char| c != 'x')
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest <= 128,
        "{what}: quotes {longest} characters: {}…",
        &message[..200.min(message.len())]
    );
    assert!(
        message.chars().count() < 700,
        "{what}: message of {} characters",
        message.chars().count()
    );
}

#[test]
fn refused_values_are_quoted_at_most_128_characters() {
    let w = world();
    let t = &w.t;
    let before = full_state(&t.core);
    let x = "x".repeat(64 * 1024);
    // Paths stay under the URI's 64 KiB (beyond, the codec refuses them).
    let px = "x".repeat(60 * 1024);
    for (method, path) in [
        ("GET", format!("/v1/orders/{px}")),
        ("POST", format!("/v1/orders/{px}/cancel")),
        ("GET", format!("/v1/inventory/{px}")),
        ("GET", format!("/v1/facilities/{px}")),
        ("POST", format!("/v1/facilities/{px}/waves/release")),
        ("GET", format!("/v1/availability?sku={px}&lat=1&lon=1")),
        ("GET", format!("/v1/availability?sku={SKU}&lat={px}&lon=1")),
        ("GET", format!("/v1/skus?limit={px}")),
        ("GET", format!("/v1/skus?after={px}")),
        ("GET", format!("/v1/{px}")),
    ] {
        let r = t.send(method, &path, &[], None);
        let what = format!("{method} {}…", &path[..30]);
        assert!(r.status >= 400, "{what}: {}", r.status);
        assert_error_body(&r, r.status, &what);
        quotes_little(&r.message(), &what);
    }
    let r = t.put(
        &format!("/v1/facilities/{px}/status"),
        &json!({"enabled": true}),
    );
    assert_error_body(&r, 404, "status of a long facility id");
    quotes_little(&r.message(), "status of a long facility id");
    // Every string field of every body.
    for (method, path, body, items) in bodies(&w) {
        let mut all = Vec::new();
        nodes(&body, String::new(), &mut all);
        for p in all.iter().filter(|p| body.pointer(p).unwrap().is_string()) {
            let mut b = body.clone();
            *b.pointer_mut(p).unwrap() = json!(x);
            let r = send_json(t, method, &path, &b);
            let what = format!("{method} {path} with {p} of 64 KiB");
            let message = match items {
                Items::Whole => {
                    assert_error_body(&r, 422, &what);
                    r.message()
                }
                Items::Orders => r.json()["results"][0]["error"]["message"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: {}", r.text()))
                    .to_string(),
                Items::Events => r.json()["results"][0]["reason"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: {}", r.text()))
                    .to_string(),
            };
            quotes_little(&message, &what);
            // An id echoed back in an item is clipped too.
            let echoed = r.json()["results"][0]["order_id"]
                .as_str()
                .or(r.json()["results"][0]["event_id"].as_str())
                .map(str::len)
                .unwrap_or(0);
            assert!(echoed <= 129 * 3, "{what}: echoes an id of {echoed} bytes");
        }
    }
    assert_same_state(&before, &full_state(&t.core), "the long values");
}
