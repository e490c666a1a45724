//! The OpenAPI 3 document served at `GET /v1/openapi.json`, built from the
//! route table (so that it lists exactly what is served) and from the
//! [`Schemas`] the routes check requests with (so that it states every
//! constraint they enforce, and only those). Catalog ids are enums of the
//! configured SKUs and facilities. Bearer auth is declared optional: the
//! server requires it only when a token is configured.

use serde_json::{json, Map, Value};

use super::routes::{RouteSpec, ROUTES};
use super::schema::{catalog_schema, CatalogLists, Schemas};

fn description(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Malformed (not JSON, a value of the wrong type, bad query string)",
        401 => "Missing or wrong bearer token (only when a token is configured)",
        404 => "Unknown id",
        409 => "Conflicts with state or an earlier request of the same id",
        413 => "Body too large",
        415 => "Content-Type is not JSON",
        422 => "Well-formed but invalid (names the field)",
        429 => "Too many requests in flight (Retry-After)",
        503 => "Not ready, or changes cannot be made durable (Retry-After)",
        _ => "",
    }
}

/// Links that carry ids from one answer to the operations that need them.
fn links(r: &RouteSpec, code: u16) -> Option<Value> {
    let order = |from: &str| {
        json!({
            "GetOrder": {"operationId": "getOrder", "parameters": {"order_id": from}},
            "CancelOrder": {"operationId": "cancelOrder", "parameters": {"order_id": from}},
        })
    };
    match (r.operation_id, code) {
        ("placeOrder", 200 | 201) => Some(order("$response.body#/order_id")),
        ("createHold", 200 | 201) => {
            let h = "$response.body#/hold_id";
            Some(json!({
                "GetHold": {"operationId": "getHold", "parameters": {"hold_id": h}},
                "ExtendHold": {"operationId": "extendHold", "parameters": {"hold_id": h}},
                "ReleaseHold": {"operationId": "releaseHold", "parameters": {"hold_id": h}},
            }))
        }
        ("listFacilities", 200) => {
            let f = "$response.body#/facilities/0/facility_id";
            Some(json!({
                "GetFacility": {"operationId": "getFacility", "parameters": {"facility_id": f}},
                "ReleaseWave": {"operationId": "releaseWave", "parameters": {"facility_id": f}},
                "SetFacilityStatus": {"operationId": "setFacilityStatus", "parameters": {"facility_id": f}},
            }))
        }
        _ => None,
    }
}

fn answer_schema(r: &RouteSpec) -> Value {
    match r.operation_id {
        "placeOrder" | "getOrder" | "cancelOrder" => json!({"$ref": "#/components/schemas/Order"}),
        "listFacilities" => json!({"type": "object", "required": ["facilities"], "properties": {
            "facilities": {"type": "array", "items": {"$ref": "#/components/schemas/Facility"}}}}),
        "getFacility" | "setFacilityStatus" => json!({"$ref": "#/components/schemas/Facility"}),
        "createHold" | "getHold" | "extendHold" | "releaseHold" => {
            json!({"$ref": "#/components/schemas/Hold"})
        }
        "listSkus" => json!({"type": "object", "required": ["skus", "next"], "properties": {
            "skus": {"type": "array", "items": {"type": "string"}},
            "next": {"type": "string", "nullable": true}}}),
        "putWebhook" => json!({"$ref": "#/components/schemas/WebhookView"}),
        "listWebhooks" => json!({"type": "object", "required": ["webhooks"], "properties": {
            "webhooks": {"type": "array", "items": {"$ref": "#/components/schemas/WebhookView"}}}}),
        _ => json!({"type": "object"}),
    }
}

fn operation(r: &RouteSpec, schemas: &Schemas) -> Value {
    let mut params: Vec<Value> = Vec::new();
    for seg in r.path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.push(json!({"name": name, "in": "path", "required": true, "schema": schemas.path_param(name).to_openapi()}));
        }
    }
    if r.query {
        for p in schemas.query(r.operation_id) {
            params.push(json!({"name": p.name, "in": "query", "required": p.required, "schema": p.schema.to_openapi()}));
        }
    }
    let mut responses = Map::new();
    let mut codes: Vec<u16> = r.statuses.to_vec();
    if r.path.starts_with("/v1/") {
        codes.extend([401, 429, 503]);
    }
    codes.sort_unstable();
    codes.dedup();
    for c in codes {
        let mut resp = if c >= 400 {
            json!({"description": description(c), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
        } else {
            json!({"description": description(c), "content": {"application/json": {"schema": answer_schema(r)}}})
        };
        if let Some(l) = links(r, c) {
            resp["links"] = l;
        }
        responses.insert(c.to_string(), resp);
    }
    let mut op = json!({
        "operationId": r.operation_id,
        "summary": r.summary,
        "parameters": params,
        "responses": responses,
    });
    if let Some(schema) = r.body {
        op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    if !r.path.starts_with("/v1/") {
        op["security"] = json!([]);
    }
    op
}

fn schemas(s: &Schemas, catalog: &CatalogLists) -> Value {
    let mut out = Map::new();
    for name in [
        "PlaceOrder",
        "OrderBatch",
        "ScanBatch",
        "ReceiptBatch",
        "AdjustmentBatch",
        "FacilityStatus",
        "Webhook",
        "HoldCreate",
        "HoldExtend",
    ] {
        if let Some(b) = s.body(name) {
            out.insert(name.to_string(), b.to_openapi());
        }
    }
    // Each scan event and each order of a batch is checked on its own and
    // answered in its place (rejected / an error item), so the envelopes
    // take any items; these are the shapes an item must have to apply.
    out.insert("ScanEvent".into(), s.scan_event.to_openapi());
    out["ScanBatch"]["properties"]["events"]["items"] = json!({"description": "A ScanEvent; one that does not match is answered rejected in its place."});
    out["OrderBatch"]["properties"]["orders"]["items"] = json!({"description": "A PlaceOrder; one that does not match is answered with an error item in its place."});
    // Two rules JSON Schema cannot state, said in words.
    out["PlaceOrder"]["properties"]["lines"]["description"] =
        json!("Each SKU on at most one line (422 invalid_order otherwise).");
    out["FacilityStatus"]["properties"]["until"]["description"] =
        json!("When the closure ends; must lie in the future (422 invalid_status otherwise).");
    out["Webhook"]["properties"]["url"]["pattern"] = json!(crate::webhooks::target::URL_PATTERN);
    out.insert("SkuId".into(), catalog_schema(&catalog.skus));
    out.insert("FacilityId".into(), catalog_schema(&catalog.facilities));
    out.insert("Error".into(), json!({"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}, "message": {"type": "string"}}}}}));
    out.insert("Order".into(), json!({"type": "object", "required": ["order_id", "status", "channel", "service_level", "fulfillments", "backordered"], "properties": {
        "order_id": {"type": "string"}, "status": {"type": "string"}, "reason": {"type": "string"},
        "channel": {"type": "string"}, "service_level": {"type": "string"},
        "fulfillments": {"type": "array", "items": {"type": "object", "required": ["fulfillment_id", "facility_id", "status", "lines"]}},
        "backordered": {"type": "array", "items": {"type": "object", "required": ["sku", "qty"]}},
        "timeline": {"type": "array", "items": {"type": "object", "required": ["at", "event"]}}}}));
    out.insert("Facility".into(), json!({"type": "object", "required": ["facility_id", "kind", "lat", "lon", "enabled", "queued_fulfillments", "open_waves", "released_today", "capacity_left"], "properties": {
        "facility_id": {"type": "string"}, "kind": {"type": "string", "enum": ["dc", "store", "dark_store"]},
        "lat": {"type": "number"}, "lon": {"type": "number"}, "enabled": {"type": "boolean"},
        "disabled_until": {"type": "string", "format": "date-time", "nullable": true},
        "queued_fulfillments": {"type": "integer", "minimum": 0}, "open_waves": {"type": "integer", "minimum": 0},
        "released_today": {"type": "integer", "minimum": 0}, "capacity_left": {"type": "integer", "minimum": 0}}}));
    out.insert("WebhookView".into(), crate::webhooks::hooks::view_schema());
    out.insert("Hold".into(), json!({"type": "object", "required": ["hold_id", "status", "expires_at", "holds", "unavailable"], "properties": {
        "hold_id": {"type": "string"}, "status": {"type": "string", "enum": ["active", "converted", "released", "expired"]},
        "expires_at": {"type": "string", "format": "date-time"},
        "holds": {"type": "array", "items": {"type": "object", "required": ["facility_id", "lines"]}},
        "unavailable": {"type": "array", "items": {"type": "object", "required": ["sku", "qty"]}}}}));
    Value::Object(out)
}

/// The document for these schemas and this catalog. `/metrics` is not
/// listed: it is the Prometheus text format, an operations endpoint outside
/// the API (see `http::metrics`).
pub fn document(s: &Schemas, catalog: &CatalogLists) -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = operation(r, s);
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Order orchestrator", "version": env!("CARGO_PKG_VERSION"), "description": "The HTTP contract (v1) of docs/api.md. Errors are {\"error\": {\"code\", \"message\"}}. Bearer auth applies only when the server is configured with a token."},
        "paths": paths,
        "components": {
            "schemas": schemas(s, catalog),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    })
}
