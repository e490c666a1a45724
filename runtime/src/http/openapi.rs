//! The OpenAPI 3 document served at `GET /v1/openapi.json`, built from the
//! route table so that it lists exactly what is served, with hand-written
//! schemas for the bodies of API.md.

use serde_json::{json, Map, Value};

use super::routes::{RouteSpec, ROUTES};

fn description(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Malformed (not JSON, bad query string)",
        401 => "Missing or wrong bearer token",
        404 => "Unknown id",
        409 => "Conflicts with state or an earlier request of the same id",
        413 => "Body or batch too large",
        415 => "Content-Type is not JSON",
        422 => "Well-formed but invalid (names the field)",
        429 => "Too many requests in flight (Retry-After)",
        503 => "Not ready (Retry-After)",
        _ => "",
    }
}

fn operation(r: &RouteSpec) -> Value {
    let mut params: Vec<Value> = Vec::new();
    for seg in r.path.split('/') {
        if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            params.push(json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}}));
        }
    }
    for (name, required, ty) in r.query {
        params.push(
            json!({"name": name, "in": "query", "required": required, "schema": {"type": ty}}),
        );
    }
    let mut responses = Map::new();
    let mut codes: Vec<u16> = r.statuses.to_vec();
    if r.path.starts_with("/v1/") {
        codes.extend([401, 429, 503]);
    }
    codes.sort_unstable();
    codes.dedup();
    for c in codes {
        let content = if c >= 400 {
            json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
        } else {
            json!({"application/json": {"schema": {"type": "object"}}})
        };
        responses.insert(
            c.to_string(),
            json!({"description": description(c), "content": content}),
        );
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

fn schemas() -> Value {
    let id = json!({"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"});
    let qty = json!({"type": "integer", "minimum": 1, "maximum": 1_000_000});
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
        "PlaceOrder": {"type": "object", "additionalProperties": false, "required": ["order_id", "channel", "ship_to", "service_level", "lines"], "properties": {
            "order_id": id, "channel": {"type": "string"},
            "ship_to": {"type": "object", "additionalProperties": false, "required": ["lat", "lon"], "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
            "service_level": {"type": "string", "enum": ["same_day", "next_day", "standard"]},
            "lines": {"type": "array", "maxItems": 200, "items": {"type": "object", "additionalProperties": false, "required": ["sku", "qty"], "properties": {"sku": {"type": "string"}, "qty": qty}}},
            "allow_backorder": {"type": "boolean", "default": true}}},
        "OrderBatch": {"type": "object", "required": ["orders"], "properties": {"orders": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/PlaceOrder"}}}},
        "ScanEvent": {"type": "object", "required": ["event_id", "kind", "order_id", "fulfillment_id", "facility_id"], "properties": {
            "event_id": id, "kind": {"type": "string", "enum": ["pick", "pack", "ship", "in_transit", "out_for_delivery", "delivered", "delivery_exception", "return_received"]},
            "order_id": {"type": "string"}, "fulfillment_id": {"type": "string"}, "facility_id": {"type": "string"},
            "sku": {"type": "string"}, "qty": qty, "at": {"type": "string", "format": "date-time"},
            "carrier": {"type": "string"}, "tracking": {"type": "string"}, "reason": {"type": "string"},
            "disposition": {"type": "string", "enum": ["restock", "dispose"]}}},
        "ScanBatch": {"type": "object", "required": ["events"], "properties": {"events": {"type": "array", "maxItems": 5000, "items": {"$ref": "#/components/schemas/ScanEvent"}}}},
        "ReceiptBatch": {"type": "object", "required": ["receipts"], "properties": {"receipts": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["sku", "facility_id", "qty", "receipt_id"], "properties": {"sku": {"type": "string"}, "facility_id": {"type": "string"}, "qty": qty, "receipt_id": id}}}}},
        "AdjustmentBatch": {"type": "object", "required": ["adjustments"], "properties": {"adjustments": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["sku", "facility_id", "on_hand", "adjustment_id"], "properties": {"sku": {"type": "string"}, "facility_id": {"type": "string"}, "on_hand": {"type": "integer", "minimum": 0, "maximum": 1_000_000}, "adjustment_id": id}}}}},
        "FacilityStatus": {"type": "object", "additionalProperties": false, "required": ["enabled"], "properties": {"enabled": {"type": "boolean"}, "until": {"type": "string", "format": "date-time"}}},
    })
}

/// The document. `/metrics` is not listed: it is the Prometheus text
/// format, an operations endpoint outside the API (see `http::metrics`).
pub fn document() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = operation(r);
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Order orchestrator", "version": env!("CARGO_PKG_VERSION"), "description": "The HTTP contract of API.md (v1). Errors are {\"error\": {\"code\", \"message\"}}."},
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    })
}
