//! The route table (one list that the app builder, the OpenAPI document and
//! the tests all read) and the handlers, each a thin call to the facade.

use std::collections::HashMap;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError, Route};
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::quote;
use super::errors::HttpError;
use super::limits::{check_no_body, from_checked, parse_checked, read_body};
use super::schema::{check_param, path_id_ok, Param, Schema};
use super::AppState;
use crate::dto::{
    AdjustmentInput, FacilityStatusInput, PlaceOrder, ReceiptInput, ScanInput, ScanResult,
};
use crate::error::{ApiError, ErrorKind};

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /healthz`.
    Healthz,
    /// `GET /readyz`.
    Readyz,
    /// `GET /v1/openapi.json`.
    OpenApi,
    /// `POST /v1/orders`.
    PlaceOrder,
    /// `POST /v1/orders/batch`.
    PlaceBatch,
    /// `GET /v1/orders/{order_id}`.
    GetOrder,
    /// `POST /v1/orders/{order_id}/cancel`.
    CancelOrder,
    /// `POST /v1/scans`.
    Scans,
    /// `POST /v1/inventory/receipts`.
    Receipts,
    /// `POST /v1/inventory/adjustments`.
    Adjustments,
    /// `GET /v1/inventory/{sku}`.
    Inventory,
    /// `GET /v1/skus`.
    Skus,
    /// `GET /v1/availability`.
    Availability,
    /// `GET /v1/promise`.
    Promise,
    /// `GET /v1/facilities`.
    Facilities,
    /// `GET /v1/facilities/{facility_id}`.
    Facility,
    /// `POST /v1/facilities/{facility_id}/waves/release`.
    ReleaseWave,
    /// `PUT /v1/facilities/{facility_id}/status`.
    FacilityStatus,
    /// `GET /v1/events`.
    Events,
    /// `GET /v1/webhooks`.
    ListWebhooks,
    /// `PUT /v1/webhooks/{webhook_id}`.
    PutWebhook,
    /// `DELETE /v1/webhooks/{webhook_id}`.
    DeleteWebhook,
    /// `POST /v1/holds`.
    CreateHold,
    /// `GET /v1/holds/{hold_id}`.
    GetHold,
    /// `POST /v1/holds/{hold_id}/extend`.
    ExtendHold,
    /// `DELETE /v1/holds/{hold_id}`.
    ReleaseHold,
}

/// One route: method, path template, what it does, and what the OpenAPI
/// document says about it.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path template with `{param}`s.
    pub path: &'static str,
    /// Handler.
    pub op: Op,
    /// operationId.
    pub operation_id: &'static str,
    /// One line.
    pub summary: &'static str,
    /// Request body schema name, if it takes a body.
    pub body: Option<&'static str>,
    /// Whether it takes query parameters (their schemas:
    /// [`super::schema::Schemas::query`]).
    pub query: bool,
    /// Status codes it may answer (besides 401/429/503 of the gate).
    pub statuses: &'static [u16],
}

/// Every route served. Order matters where templates overlap:
/// `/v1/orders/batch` comes before `/v1/orders/{order_id}`; `GET` on it
/// reads the order whose id is `batch`.
pub const ROUTES: &[RouteSpec] = &[
    RouteSpec {
        method: "GET",
        path: "/healthz",
        op: Op::Healthz,
        operation_id: "healthz",
        summary: "The process is up.",
        body: None,
        query: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "GET",
        path: "/readyz",
        op: Op::Readyz,
        operation_id: "readyz",
        summary: "200 once recovery has finished and the runtime takes traffic, 503 before.",
        body: None,
        query: false,
        statuses: &[200, 503],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/openapi.json",
        op: Op::OpenApi,
        operation_id: "openapi",
        summary: "This document.",
        body: None,
        query: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/orders",
        op: Op::PlaceOrder,
        operation_id: "placeOrder",
        summary:
            "Place an order: 201 new, 200 idempotent replay, 409 same id with a different body.",
        body: Some("PlaceOrder"),
        query: false,
        statuses: &[200, 201, 400, 409, 413, 415, 422],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/orders/batch",
        op: Op::PlaceBatch,
        operation_id: "placeOrders",
        summary: "Place up to batch_orders_max orders; one result per order, in order.",
        body: Some("OrderBatch"),
        query: false,
        statuses: &[200, 400, 413, 415, 422],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/orders/{order_id}",
        op: Op::GetOrder,
        operation_id: "getOrder",
        summary: "An order with its fulfillments and timeline.",
        body: None,
        query: false,
        statuses: &[200, 404],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/orders/{order_id}/cancel",
        op: Op::CancelOrder,
        operation_id: "cancelOrder",
        summary:
            "Cancel: releases every reservation not yet picked; 409 once anything has shipped.",
        body: None,
        query: false,
        statuses: &[200, 404, 409, 415],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/scans",
        op: Op::Scans,
        operation_id: "applyScans",
        summary: "Apply scan events in array order; each is applied, duplicate or rejected.",
        body: Some("ScanBatch"),
        query: false,
        statuses: &[200, 400, 413, 415, 422],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/inventory/receipts",
        op: Op::Receipts,
        operation_id: "receiveStock",
        summary: "Stock arrives; waiting backorders are served first. Idempotent by receipt_id.",
        body: Some("ReceiptBatch"),
        query: false,
        statuses: &[200, 400, 413, 415, 422],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/inventory/adjustments",
        op: Op::Adjustments,
        operation_id: "adjustStock",
        summary: "Cycle counts set on hand; never below reserved (409 when every item is refused).",
        body: Some("AdjustmentBatch"),
        query: false,
        statuses: &[200, 400, 409, 413, 415, 422],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/inventory/{sku}",
        op: Op::Inventory,
        operation_id: "getInventory",
        summary: "A SKU's on hand, reserved and available by facility.",
        body: None,
        query: false,
        statuses: &[200, 404],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/skus",
        op: Op::Skus,
        operation_id: "listSkus",
        summary: "The catalog, paged in id order.",
        body: None,
        query: true,
        statuses: &[200, 400, 422],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/availability",
        op: Op::Availability,
        operation_id: "getAvailability",
        summary: "Availability near a point, from the view (no mailbox touched).",
        body: None,
        query: true,
        statuses: &[200, 400, 422],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/promise",
        op: Op::Promise,
        operation_id: "getPromise",
        summary: "The delivery date per service level, from the view (no mailbox touched).",
        body: None,
        query: true,
        statuses: &[200, 400, 422],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/facilities",
        op: Op::Facilities,
        operation_id: "listFacilities",
        summary: "Every facility.",
        body: None,
        query: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/facilities/{facility_id}",
        op: Op::Facility,
        operation_id: "getFacility",
        summary: "One facility.",
        body: None,
        query: false,
        statuses: &[200, 404],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/facilities/{facility_id}/waves/release",
        op: Op::ReleaseWave,
        operation_id: "releaseWave",
        summary: "Release a wave now (wave_id null when nothing is queued).",
        body: None,
        query: false,
        statuses: &[200, 404, 415],
    },
    RouteSpec {
        method: "PUT",
        path: "/v1/facilities/{facility_id}/status",
        op: Op::FacilityStatus,
        operation_id: "setFacilityStatus",
        summary: "Take a facility in or out of routing.",
        body: Some("FacilityStatus"),
        query: false,
        statuses: &[200, 400, 404, 413, 415, 422],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/events",
        op: Op::Events,
        operation_id: "listEvents",
        summary: "Order status events after a cursor, from durable records only; long-polls up to wait_s; 410 when the cursor is older than what is kept.",
        body: None,
        query: true,
        statuses: &[200, 400, 410, 422, 503],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/webhooks",
        op: Op::ListWebhooks,
        operation_id: "listWebhooks",
        summary: "Every webhook registration with its delivery status and cursor (never the secret).",
        body: None,
        query: false,
        statuses: &[200],
    },
    RouteSpec {
        method: "PUT",
        path: "/v1/webhooks/{webhook_id}",
        op: Op::PutWebhook,
        operation_id: "putWebhook",
        summary: "Register (201) or replace (200) a webhook; durable before it is answered; a new one receives the events created after it.",
        body: Some("Webhook"),
        query: false,
        statuses: &[200, 201, 400, 409, 413, 415, 422],
    },
    RouteSpec {
        method: "DELETE",
        path: "/v1/webhooks/{webhook_id}",
        op: Op::DeleteWebhook,
        operation_id: "deleteWebhook",
        summary: "Remove a webhook registration.",
        body: None,
        query: false,
        statuses: &[200, 404, 415],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/holds",
        op: Op::CreateHold,
        operation_id: "createHold",
        summary: "Hold stock for a cart until ttl_s: 201 new, 200 replay, 409 another body (or not enough stock with allow_partial false); 501 on the shells engine.",
        body: Some("HoldCreate"),
        query: false,
        statuses: &[200, 201, 400, 409, 413, 415, 422, 501],
    },
    RouteSpec {
        method: "GET",
        path: "/v1/holds/{hold_id}",
        op: Op::GetHold,
        operation_id: "getHold",
        summary: "A hold: active, converted, released or expired.",
        body: None,
        query: false,
        statuses: &[200, 404, 501],
    },
    RouteSpec {
        method: "DELETE",
        path: "/v1/holds/{hold_id}",
        op: Op::ReleaseHold,
        operation_id: "releaseHold",
        summary: "Release a hold (its units go to waiting backorders first); 409 once converted.",
        body: None,
        query: false,
        statuses: &[200, 404, 409, 415, 501],
    },
    RouteSpec {
        method: "POST",
        path: "/v1/holds/{hold_id}/extend",
        op: Op::ExtendHold,
        operation_id: "extendHold",
        summary: "A new expires_at ttl_s from now; 409 unless active.",
        body: Some("HoldExtend"),
        query: false,
        statuses: &[200, 400, 404, 409, 413, 415, 422, 501],
    },
];

/// `GET /v1/events/stream` (Server-Sent Events). Served, but not in
/// [`ROUTES`] and so not in the OpenAPI document: the answer never ends,
/// which a generated-request fuzzer cannot check (see docs/api.md).
pub const EVENT_STREAM_PATH: &str = "/v1/events/stream";

/// The distinct path templates, in table order.
pub fn paths() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for r in ROUTES {
        if !out.contains(&r.path) {
            out.push(r.path);
        }
    }
    out
}

/// The methods served on a path template, for `Allow`.
pub fn allowed(path: &str) -> String {
    ROUTES
        .iter()
        .filter(|r| r.path == path)
        .map(|r| r.method)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Registers every route of [`ROUTES`], with a JSON 405 per path.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for p in paths() {
        let mut res = web::resource(p).name(p);
        for r in ROUTES.iter().filter(|r| r.path == p) {
            res = res.route(route(r));
        }
        if p == "/v1/orders/batch" {
            // `GET /v1/orders/{order_id}` with the id `batch`.
            res = res.route(web::get().to(get_order_batch));
        }
        cfg.service(res.default_service(web::to(method_not_allowed)));
    }
    cfg.service(
        web::resource(EVENT_STREAM_PATH)
            .name(EVENT_STREAM_PATH)
            .route(web::get().to(event_stream))
            .default_service(web::to(|req: HttpRequest| async move {
                HttpError::method_not_allowed(req.method().as_str(), req.path(), "GET".into())
                    .error_response()
            })),
    );
}

fn route(r: &RouteSpec) -> Route {
    let m = web::method(
        Method::from_bytes(r.method.as_bytes()).expect("a valid method in the route table"),
    );
    match r.op {
        Op::Healthz => m.to(healthz),
        Op::Readyz => m.to(readyz),
        Op::OpenApi => m.to(openapi),
        Op::PlaceOrder => m.to(place_order),
        Op::PlaceBatch => m.to(place_batch),
        Op::GetOrder => m.to(get_order),
        Op::CancelOrder => m.to(cancel_order),
        Op::Scans => m.to(scans),
        Op::Receipts => m.to(receipts),
        Op::Adjustments => m.to(adjustments),
        Op::Inventory => m.to(inventory),
        Op::Skus => m.to(skus),
        Op::Availability => m.to(availability),
        Op::Promise => m.to(promise),
        Op::Facilities => m.to(facilities),
        Op::Facility => m.to(facility),
        Op::ReleaseWave => m.to(release_wave),
        Op::FacilityStatus => m.to(facility_status),
        Op::Events => m.to(events),
        Op::ListWebhooks => m.to(super::webhooks::list),
        Op::PutWebhook => m.to(super::webhooks::put),
        Op::DeleteWebhook => m.to(super::webhooks::delete),
        Op::CreateHold => m.to(super::holds::create),
        Op::GetHold => m.to(super::holds::read),
        Op::ExtendHold => m.to(super::holds::extend),
        Op::ReleaseHold => m.to(super::holds::release),
    }
}

/// 404 for any path not in the table.
pub async fn route_not_found(req: HttpRequest) -> HttpResponse {
    HttpError::route_not_found(req.method().as_str(), req.path()).error_response()
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let allow = req.match_pattern().map(|p| allowed(&p)).unwrap_or_default();
    HttpError::method_not_allowed(req.method().as_str(), req.path(), allow).error_response()
}

type Answer = Result<HttpResponse, HttpError>;

fn body_max(st: &AppState) -> usize {
    st.limits.body_bytes_max as usize
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(st: web::Data<AppState>) -> Answer {
    if st.is_ready() {
        // Not ready either while the journal cannot write: changes would
        // only be refused.
        st.core.durability().check_writable()?;
        Ok(HttpResponse::Ok().json(json!({"status": "ready"})))
    } else {
        Err(HttpError::not_ready())
    }
}

async fn openapi(st: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(st.openapi.clone())
}

/// A path id that cannot be an id is unknown: 404 with `code`, quoting at
/// most 128 characters of it.
pub(super) fn known_shape(
    st: &AppState,
    name: &str,
    v: &str,
    code: &'static str,
    what: &str,
) -> Result<(), HttpError> {
    if path_id_ok(&st.schemas.path_param(name), v) {
        Ok(())
    } else {
        Err(HttpError::new(
            StatusCode::NOT_FOUND,
            code,
            format!("{what} {} does not exist", quote(v)),
        ))
    }
}

async fn place_order(st: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    let v: Value = parse_checked(&bytes, &st.schemas.place_order)?;
    let (order, hold_id) = split_hold(v, "")?;
    let placed = st.core.place(&order, hold_id.as_deref()).await?;
    let at = format!("/v1/orders/{}", placed.order.order_id);
    Ok(created(placed.replay, &at, placed_body(&placed)))
}

/// `201` with `Location` for something new, `200` for a replay of the
/// same request (idempotent ids).
pub(super) fn created(replay: bool, location: &str, body: impl serde::Serialize) -> HttpResponse {
    let status = if replay {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location.to_string()))
        .json(body)
}

/// The order as answered, with `"hold"` when the placement named one.
fn placed_body(p: &crate::dto::Placed) -> Value {
    let mut v = serde_json::to_value(&p.order).unwrap_or(Value::Null);
    if let (Some(h), Some(m)) = (&p.hold, v.as_object_mut()) {
        m.insert(
            "hold".into(),
            json!({"hold_id": h.hold_id, "status": h.status}),
        );
    }
    v
}

/// An order body checked against its schema, with its `hold_id` taken out.
fn split_hold(mut v: Value, prefix: &str) -> Result<(PlaceOrder, Option<String>), HttpError> {
    let hold = v
        .as_object_mut()
        .and_then(|m| m.remove("hold_id"))
        .and_then(|h| h.as_str().map(str::to_string));
    Ok((from_checked(v, &Schema::Any, prefix)?, hold))
}

#[derive(Deserialize)]
struct OrdersEnvelope {
    orders: Vec<Value>,
}

fn error_item(id: Value, e: &HttpError) -> Value {
    json!({"order_id": id, "error": {"code": e.code, "message": e.message}})
}

async fn place_batch(st: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    let env: OrdersEnvelope = parse_checked(&bytes, &st.schemas.order_batch)?;
    let mut results: Vec<Option<Value>> = vec![None; env.orders.len()];
    let mut valid: Vec<(usize, (PlaceOrder, Option<String>))> =
        Vec::with_capacity(env.orders.len());
    for (i, v) in env.orders.into_iter().enumerate() {
        let id = v
            .get("order_id")
            .and_then(Value::as_str)
            .map_or(Value::Null, |s| Value::String(super::errors::clip(s, 128)));
        let prefix = format!("orders[{i}]");
        let checked = from_checked::<Value>(v, &st.schemas.place_order, &prefix)
            .and_then(|v| split_hold(v, &prefix));
        match checked {
            Ok(o) => valid.push((i, o)),
            Err(e) => results[i] = Some(error_item(id, &e)),
        }
    }
    let orders: Vec<(PlaceOrder, Option<String>)> = valid.iter().map(|(_, o)| o.clone()).collect();
    let answers = st.core.place_batch(&orders).await;
    for ((i, (o, _)), answer) in valid.into_iter().zip(answers) {
        results[i] = Some(match answer {
            Ok(p) => placed_body(&p),
            Err(e) => {
                let e = match e.kind {
                    ErrorKind::Invalid | ErrorKind::Conflict => ApiError {
                        message: format!("orders[{i}].{}", e.message),
                        ..e
                    },
                    _ => e,
                };
                let e = HttpError::from(e);
                error_item(Value::String(o.order_id), &e)
            }
        });
    }
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| r.unwrap_or(Value::Null))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}

async fn get_order(st: web::Data<AppState>, id: web::Path<String>) -> Answer {
    known_shape(&st, "order_id", &id, "order_not_found", "order")?;
    Ok(HttpResponse::Ok().json(st.core.order(&id).await?))
}

/// `GET /v1/orders/batch` reads the order whose id is `batch` (the path
/// is also the batch route's, which only takes `POST`).
async fn get_order_batch(st: web::Data<AppState>) -> Answer {
    Ok(HttpResponse::Ok().json(st.core.order("batch").await?))
}

async fn cancel_order(st: web::Data<AppState>, req: HttpRequest, id: web::Path<String>) -> Answer {
    check_no_body(&req, body_max(&st))?;
    known_shape(&st, "order_id", &id, "order_not_found", "order")?;
    Ok(HttpResponse::Ok().json(st.core.cancel(&id).await?))
}

#[derive(Deserialize)]
struct ScansEnvelope {
    events: Vec<Value>,
}

async fn scans(st: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    let env: ScansEnvelope = parse_checked(&bytes, &st.schemas.scan_batch)?;
    let mut results: Vec<Option<ScanResult>> = vec![None; env.events.len()];
    let mut valid: Vec<(usize, ScanInput)> = Vec::with_capacity(env.events.len());
    let mut refused: Vec<ScanInput> = Vec::new();
    for (i, v) in env.events.into_iter().enumerate() {
        let event_id = v
            .get("event_id")
            .and_then(Value::as_str)
            .map_or(String::new(), |s| super::errors::clip(s, 128));
        let kind = v.get("kind").and_then(Value::as_str).map(str::to_string);
        match from_checked::<ScanInput>(v, &st.schemas.scan_event, &format!("events[{i}]")) {
            Ok(s) => valid.push((i, s)),
            Err(e) => {
                results[i] = Some(ScanResult {
                    event_id,
                    result: "rejected".into(),
                    reason: Some(e.message),
                });
                refused.push(ScanInput {
                    kind: kind.unwrap_or_default(),
                    ..ScanInput::default()
                });
            }
        }
    }
    // Events refused here never reach the facade: count them as it would.
    crate::metrics::scans(&refused, None);
    let inputs: Vec<ScanInput> = valid.iter().map(|(_, s)| s.clone()).collect();
    let answers = st.core.try_scans(&inputs).await?;
    for ((i, _), r) in valid.into_iter().zip(answers) {
        results[i] = Some(r);
    }
    let results: Vec<ScanResult> = results.into_iter().flatten().collect();
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}

#[derive(Deserialize)]
struct ReceiptsEnvelope {
    receipts: Vec<ReceiptInput>,
}

async fn receipts(st: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    let env: ReceiptsEnvelope = parse_checked(&bytes, &st.schemas.receipts)?;
    let results = st.core.receive(&env.receipts).await?;
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}

#[derive(Deserialize)]
struct AdjustmentsEnvelope {
    adjustments: Vec<AdjustmentInput>,
}

async fn adjustments(st: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    let env: AdjustmentsEnvelope = parse_checked(&bytes, &st.schemas.adjustments)?;
    let results = st.core.adjust(&env.adjustments).await?;
    if !results.is_empty() && results.iter().all(|r| r.result == "rejected") {
        let why: Vec<String> = results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                format!(
                    "adjustments[{i}].on_hand: {}",
                    r.reason.as_deref().unwrap_or("refused")
                )
            })
            .collect();
        return Err(HttpError::new(
            StatusCode::CONFLICT,
            "below_reserved",
            why.join("; "),
        ));
    }
    Ok(HttpResponse::Ok().json(json!({ "results": results })))
}

async fn inventory(st: web::Data<AppState>, sku: web::Path<String>) -> Answer {
    known_shape(&st, "sku", &sku, "sku_not_found", "SKU")?;
    Ok(HttpResponse::Ok().json(st.core.inventory(&sku).await?))
}

/// The query string checked against the route's parameters: undecodable is
/// `400 malformed_query`; a missing required parameter, an unknown one or a
/// value outside its rule is `422`.
fn query(req: &HttpRequest, params: &[Param]) -> Result<HashMap<String, String>, HttpError> {
    let q = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| {
            HttpError::bad_request(
                "malformed_query",
                format!("query: {}", super::errors::clip(&e.to_string(), 256)),
            )
        })?;
    for p in params {
        match q.get(p.name) {
            Some(v) => check_param(p, v)?,
            None if p.required => {
                return Err(HttpError::invalid(
                    "missing_field",
                    format!("{}: required", p.name),
                ))
            }
            None => {}
        }
    }
    Ok(q)
}

fn number(q: &HashMap<String, String>, name: &str, default: f64) -> f64 {
    q.get(name)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(default)
}

async fn skus(st: web::Data<AppState>, req: HttpRequest) -> Answer {
    let q = query(&req, &st.schemas.skus)?;
    let limit = q
        .get("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(100);
    let (skus, next) = st.core.skus(limit, q.get("after").map(String::as_str));
    Ok(HttpResponse::Ok().json(json!({ "skus": skus, "next": next })))
}

async fn availability(st: web::Data<AppState>, req: HttpRequest) -> Answer {
    let q = query(&req, &st.schemas.availability)?;
    let sku = q.get("sku").map_or("", String::as_str);
    let lat = number(&q, "lat", f64::NAN);
    let lon = number(&q, "lon", f64::NAN);
    let radius = number(&q, "radius_km", 100.0);
    Ok(HttpResponse::Ok().json(st.core.availability(sku, lat, lon, radius)?))
}

async fn promise(st: web::Data<AppState>, req: HttpRequest) -> Answer {
    let q = query(&req, &st.schemas.promise)?;
    let sku = q.get("sku").map_or("", String::as_str);
    let qty = q
        .get("qty")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1);
    let lat = number(&q, "lat", f64::NAN);
    let lon = number(&q, "lon", f64::NAN);
    Ok(HttpResponse::Ok().json(st.core.promise(sku, qty, lat, lon)?))
}

async fn facilities(st: web::Data<AppState>) -> Answer {
    Ok(HttpResponse::Ok().json(json!({ "facilities": st.core.facilities().await? })))
}

async fn facility(st: web::Data<AppState>, id: web::Path<String>) -> Answer {
    known_shape(&st, "facility_id", &id, "facility_not_found", "facility")?;
    Ok(HttpResponse::Ok().json(st.core.facility(&id).await?))
}

async fn release_wave(st: web::Data<AppState>, req: HttpRequest, id: web::Path<String>) -> Answer {
    check_no_body(&req, body_max(&st))?;
    known_shape(&st, "facility_id", &id, "facility_not_found", "facility")?;
    Ok(HttpResponse::Ok().json(st.core.release_wave(&id).await?))
}

async fn facility_status(
    st: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    known_shape(&st, "facility_id", &id, "facility_not_found", "facility")?;
    let input: FacilityStatusInput = parse_checked(&bytes, &st.schemas.facility_status)?;
    Ok(HttpResponse::Ok().json(st.core.set_facility_status(&id, &input).await?))
}

/// `types=a,b`: the set named (every type when absent); 422 naming
/// `types` for an unknown one.
fn event_types(q: &HashMap<String, String>) -> Result<orch_events::TypeSet, HttpError> {
    match q.get("types") {
        None => Ok(orch_events::TypeSet::ALL),
        Some(v) => orch_events::TypeSet::parse(v.split(',')).map_err(|bad| {
            HttpError::invalid(
                "invalid_field",
                format!("types: unknown event type {}", quote(&bad)),
            )
        }),
    }
}

fn int_param(q: &HashMap<String, String>, name: &str) -> Option<u64> {
    q.get(name).and_then(|v| v.parse::<u64>().ok())
}

/// 410 for a cursor older than what is kept; 503 when kept events cannot
/// be read from the event store.
fn feed_error(e: orch_events::feed::FeedError) -> HttpError {
    match e {
        orch_events::feed::FeedError::Gone { oldest_after } => gone(oldest_after),
        orch_events::feed::FeedError::Unreadable => HttpError {
            retry_after: Some(1),
            ..HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "after: the events kept on disk cannot be read now; retry later",
            )
        },
    }
}

fn gone(oldest_after: u64) -> HttpError {
    HttpError::new(
        StatusCode::GONE,
        "gone",
        format!("after: older than the events kept; the oldest cursor served is {oldest_after}"),
    )
}

async fn events(st: web::Data<AppState>, req: HttpRequest) -> Answer {
    let q = query(&req, &st.schemas.events)?;
    let types = event_types(&q)?;
    let after = int_param(&q, "after");
    let limit = int_param(&q, "limit").map_or(100, |l| l as usize);
    let wait = std::time::Duration::from_secs(int_param(&q, "wait_s").unwrap_or(0));
    let page = st
        .core
        .events()
        .wait_page(after, limit, types, wait)
        .await
        .map_err(feed_error)?;
    let mut body = Vec::with_capacity(64 + page.events.len() * 256);
    body.extend_from_slice(b"{\"events\":[");
    for (i, e) in page.events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend(e.to_json());
    }
    body.extend(format!("],\"next\":{}}}", page.next).into_bytes());
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

async fn event_stream(st: web::Data<AppState>, req: HttpRequest) -> Answer {
    let q = query(&req, &st.schemas.event_stream)?;
    let types = event_types(&q)?;
    let mut after = int_param(&q, "after");
    if let Some(v) = req.headers().get("last-event-id") {
        let id = v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok());
        match id {
            Some(id) => after = Some(id),
            None => {
                return Err(HttpError::invalid(
                    "invalid_field",
                    "Last-Event-ID: must be the seq of an event (an integer from 0)",
                ))
            }
        }
    }
    let events = st.core.events().clone();
    // Refused before the stream starts, with the same 410 as the feed.
    events.check(after).map_err(feed_error)?;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .streaming(crate::events_out::stream::sse(events, after, types)))
}
