//! The request shapes as data: one description per body, body item and
//! query that both the validator ([`check`]) and the OpenAPI document
//! ([`Schema::to_openapi`]) read, so the two cannot drift.
//!
//! Checking runs two passes over a parsed JSON value:
//! 1. types: every value has the JSON type its schema names (an array where
//!    an object is expected, a string where a number is, a fraction where an
//!    integer is): `400 wrong_type`;
//! 2. rules: required and unknown fields (`422 missing_field` /
//!    `unknown_field`), then lengths, patterns, enums, times, ranges and item
//!    counts (`422` with the code of the rule, e.g. `invalid_id`).
//!
//! Membership of the catalog (a SKU or facility that exists) is declared in
//! the document as an enum and checked by the facade (`422 unknown_sku`,
//! `unknown_facility`), which knows the catalog.

use orch_config::Limits;
use serde_json::{json, Map, Value};

use super::errors::{clip, quote, HttpError};
use crate::clock::parse_rfc3339;

/// Which catalog list a string must belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    /// A SKU id.
    Sku,
    /// A facility id.
    Facility,
}

/// The characters a string may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chars {
    /// Letters, digits, `-`, `_`, `.`, `:` (client and catalog ids).
    Id,
    /// Letters, digits, `_`, `-` (channel labels).
    Label,
    /// Anything.
    Any,
}

impl Chars {
    fn allows(self, c: char) -> bool {
        match self {
            Chars::Id => c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'),
            Chars::Label => c.is_ascii_alphanumeric() || matches!(c, '-' | '_'),
            Chars::Any => true,
        }
    }

    fn class(self) -> Option<&'static str> {
        match self {
            Chars::Id => Some("A-Za-z0-9._:-"),
            Chars::Label => Some("A-Za-z0-9_-"),
            Chars::Any => None,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Chars::Id => " of letters, digits, '-', '_', '.', ':'",
            Chars::Label => " of letters, digits, '_', '-'",
            Chars::Any => "",
        }
    }
}

/// What a string must be.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    /// `min..=max` characters of `chars`.
    Chars {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
        /// Which characters.
        chars: Chars,
        /// A catalog it must belong to (checked by the facade).
        catalog: Option<Catalog>,
    },
    /// One of these words.
    OneOf(&'static [&'static str]),
    /// One or more of these words, comma-separated (`a,b`).
    ListOf(&'static [&'static str]),
    /// A strict RFC 3339 time with an offset.
    Time,
}

/// A JSON value's schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Schema {
    /// An object; `closed` refuses fields not listed.
    Object {
        /// Its fields.
        fields: Vec<Field>,
        /// Whether other fields are refused.
        closed: bool,
    },
    /// An array of `items`, `min..=max` of them; `code` names a count over `max`.
    Array {
        /// Every item.
        items: Box<Schema>,
        /// Fewest items.
        min: usize,
        /// Most items.
        max: usize,
        /// Code for more than `max`.
        code: &'static str,
    },
    /// A string; `code` names a refusal.
    Str {
        /// What it must be.
        text: Text,
        /// Code for a refusal.
        code: &'static str,
    },
    /// An integer in `min..=max`.
    Int {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
        /// Code for a value out of range.
        code: &'static str,
    },
    /// A number in `min..=max`.
    Num {
        /// Smallest.
        min: f64,
        /// Largest (`f64::MAX`: none).
        max: f64,
        /// Code for a value out of range.
        code: &'static str,
    },
    /// `true` or `false`.
    Bool,
    /// Any JSON value (checked later, item by item).
    Any,
}

/// One field of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its schema.
    pub schema: Schema,
    /// Whether it must be present.
    pub required: bool,
    /// Whether `null` stands for "absent".
    pub nullable: bool,
}

/// A required field.
pub fn req(name: &'static str, schema: Schema) -> Field {
    Field {
        name,
        schema,
        required: true,
        nullable: false,
    }
}

/// An optional field (`null` reads as absent).
pub fn opt(name: &'static str, schema: Schema) -> Field {
    Field {
        name,
        schema,
        required: false,
        nullable: true,
    }
}

/// A client id (`1..=id_len_max` id characters).
pub fn id(limits: &Limits) -> Schema {
    Schema::Str {
        text: Text::Chars {
            min: 1,
            max: limits.id_len_max as usize,
            chars: Chars::Id,
            catalog: None,
        },
        code: "invalid_id",
    }
}

/// A catalog id: an id that must name a SKU or facility.
pub fn catalog_id(catalog: Catalog) -> Schema {
    Schema::Str {
        text: Text::Chars {
            min: 1,
            max: orch_config::validate::ID_LEN_MAX,
            chars: Chars::Id,
            catalog: Some(catalog),
        },
        code: "invalid_id",
    }
}

/// A quantity (`1..=qty_max`).
pub fn qty(limits: &Limits) -> Schema {
    Schema::Int {
        min: 1,
        max: i64::from(limits.qty_max),
        code: "invalid_quantity",
    }
}

/// Free text of 1 to 256 characters (carrier, tracking, reason).
pub fn short_text() -> Schema {
    Schema::Str {
        text: Text::Chars {
            min: 1,
            max: 256,
            chars: Chars::Any,
            catalog: None,
        },
        code: "invalid_field",
    }
}

/// The service levels.
pub const SERVICE_LEVELS: &[&str] = &["same_day", "next_day", "standard"];
/// The scan kinds.
pub const SCAN_KINDS: &[&str] = &[
    "pick",
    "pack",
    "ship",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "delivery_exception",
    "return_received",
];
/// Return dispositions.
pub const DISPOSITIONS: &[&str] = &["restock", "dispose"];

/// `POST /v1/orders` (and each item of a batch).
pub fn place_order(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![
            req("order_id", id(limits)),
            req(
                "channel",
                Schema::Str {
                    text: Text::Chars {
                        min: 1,
                        max: 64,
                        chars: Chars::Label,
                        catalog: None,
                    },
                    code: "invalid_channel",
                },
            ),
            req("ship_to", ship_to("invalid_order")),
            req(
                "service_level",
                Schema::Str {
                    text: Text::OneOf(SERVICE_LEVELS),
                    code: "invalid_service_level",
                },
            ),
            req("lines", order_lines(limits)),
            opt("hold_id", id(limits)),
            opt("allow_backorder", Schema::Bool),
        ],
    }
}

/// `ship_to`: a point on Earth (orders and holds); `code` answers a
/// coordinate out of range.
pub fn ship_to(code: &'static str) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![
            req(
                "lat",
                Schema::Num {
                    min: -90.0,
                    max: 90.0,
                    code,
                },
            ),
            req(
                "lon",
                Schema::Num {
                    min: -180.0,
                    max: 180.0,
                    code,
                },
            ),
        ],
    }
}

/// `lines`: 1 to `order_lines_max` lines of a catalog SKU and a quantity
/// (orders and holds).
pub fn order_lines(limits: &Limits) -> Schema {
    Schema::Array {
        min: 1,
        max: limits.order_lines_max as usize,
        code: "too_many_lines",
        items: Box::new(Schema::Object {
            closed: true,
            fields: vec![
                req("sku", catalog_id(Catalog::Sku)),
                req("qty", qty(limits)),
            ],
        }),
    }
}

/// `POST /v1/orders/batch`: the envelope (each order is checked on its own).
pub fn order_batch(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![req(
            "orders",
            Schema::Array {
                items: Box::new(Schema::Any),
                min: 0,
                max: limits.batch_orders_max as usize,
                code: "too_many_orders",
            },
        )],
    }
}

/// One scan event (an event that does not fit is answered `rejected`).
pub fn scan_event(limits: &Limits) -> Schema {
    Schema::Object {
        closed: false,
        fields: vec![
            req("event_id", id(limits)),
            req(
                "kind",
                Schema::Str {
                    text: Text::OneOf(SCAN_KINDS),
                    code: "invalid_kind",
                },
            ),
            req("order_id", id(limits)),
            req(
                "fulfillment_id",
                Schema::Str {
                    text: Text::Chars {
                        min: 1,
                        max: limits.id_len_max as usize + 6,
                        chars: Chars::Any,
                        catalog: None,
                    },
                    code: "invalid_id",
                },
            ),
            req("facility_id", catalog_id(Catalog::Facility)),
            opt("sku", catalog_id(Catalog::Sku)),
            opt("qty", qty(limits)),
            opt(
                "at",
                Schema::Str {
                    text: Text::Time,
                    code: "invalid_time",
                },
            ),
            opt("carrier", short_text()),
            opt("tracking", short_text()),
            opt("reason", short_text()),
            opt(
                "disposition",
                Schema::Str {
                    text: Text::OneOf(DISPOSITIONS),
                    code: "invalid_disposition",
                },
            ),
        ],
    }
}

/// `POST /v1/scans`: the envelope (each event is checked on its own).
pub fn scan_batch(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![req(
            "events",
            Schema::Array {
                items: Box::new(Schema::Any),
                min: 0,
                max: limits.scan_events_max as usize,
                code: "too_many_events",
            },
        )],
    }
}

/// `POST /v1/inventory/receipts`: checked whole (one bad receipt refuses all).
pub fn receipt_batch(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![req(
            "receipts",
            Schema::Array {
                min: 0,
                max: limits.batch_orders_max as usize,
                code: "too_many_receipts",
                items: Box::new(Schema::Object {
                    closed: true,
                    fields: vec![
                        req("sku", catalog_id(Catalog::Sku)),
                        req("facility_id", catalog_id(Catalog::Facility)),
                        req("qty", qty(limits)),
                        req("receipt_id", id(limits)),
                    ],
                }),
            },
        )],
    }
}

/// `POST /v1/inventory/adjustments`: checked whole.
pub fn adjustment_batch(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![req(
            "adjustments",
            Schema::Array {
                min: 0,
                max: limits.batch_orders_max as usize,
                code: "too_many_adjustments",
                items: Box::new(Schema::Object {
                    closed: true,
                    fields: vec![
                        req("sku", catalog_id(Catalog::Sku)),
                        req("facility_id", catalog_id(Catalog::Facility)),
                        req(
                            "on_hand",
                            Schema::Int {
                                min: 0,
                                max: i64::from(limits.qty_max),
                                code: "invalid_quantity",
                            },
                        ),
                        req("adjustment_id", id(limits)),
                    ],
                }),
            },
        )],
    }
}

/// `PUT /v1/facilities/{facility_id}/status`.
pub fn facility_status() -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![
            req("enabled", Schema::Bool),
            opt(
                "until",
                Schema::Str {
                    text: Text::Time,
                    code: "invalid_time",
                },
            ),
        ],
    }
}

/// `PUT /v1/webhooks/{webhook_id}` (the URL's own rule is
/// `webhooks::target::check_url`, stated in the document as a pattern).
pub fn webhook() -> Schema {
    let text = |max: usize, code| Schema::Str {
        text: Text::Chars {
            min: 1,
            max,
            chars: Chars::Any,
            catalog: None,
        },
        code,
    };
    Schema::Object {
        closed: true,
        fields: vec![
            req(
                "url",
                text(crate::webhooks::target::URL_LEN_MAX, "invalid_url"),
            ),
            req(
                "secret",
                text(crate::webhooks::SECRET_LEN_MAX, "invalid_secret"),
            ),
            opt(
                "types",
                Schema::Array {
                    items: Box::new(Schema::Str {
                        text: Text::OneOf(event_type_names()),
                        code: "invalid_field",
                    }),
                    min: 0,
                    max: orch_events::EventType::ALL.len(),
                    code: "invalid_field",
                },
            ),
            opt("enabled", Schema::Bool),
        ],
    }
}

/// One query parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Whether it must be present.
    pub required: bool,
    /// Its schema (a string, integer or number).
    pub schema: Schema,
}

/// `GET /v1/skus`.
pub fn skus_query() -> Vec<Param> {
    vec![
        Param {
            name: "limit",
            required: false,
            schema: Schema::Int {
                min: 1,
                max: 1000,
                code: "invalid_field",
            },
        },
        Param {
            name: "after",
            required: false,
            schema: Schema::Str {
                text: Text::Chars {
                    min: 0,
                    max: orch_config::validate::ID_LEN_MAX,
                    chars: Chars::Any,
                    catalog: None,
                },
                code: "invalid_field",
            },
        },
    ]
}

/// `GET /v1/availability`.
pub fn availability_query() -> Vec<Param> {
    let mut params = sku_at_point_query();
    params.push(Param {
        name: "radius_km",
        required: false,
        schema: Schema::Num {
            min: 0.0,
            max: f64::MAX,
            code: "invalid_radius",
        },
    });
    params
}

/// The parameters every read about one SKU near a point takes: `sku`,
/// `lat`, `lon` (availability and the promise).
fn sku_at_point_query() -> Vec<Param> {
    let num = |min: f64, max: f64, code| Schema::Num { min, max, code };
    vec![
        Param {
            name: "sku",
            required: true,
            schema: catalog_id(Catalog::Sku),
        },
        Param {
            name: "lat",
            required: true,
            schema: num(-90.0, 90.0, "invalid_point"),
        },
        Param {
            name: "lon",
            required: true,
            schema: num(-180.0, 180.0, "invalid_point"),
        },
    ]
}

/// `GET /v1/promise`.
pub fn promise_query(limits: &Limits) -> Vec<Param> {
    let mut params = sku_at_point_query();
    params.push(Param {
        name: "qty",
        required: false,
        schema: Schema::Int {
            min: 1,
            max: i64::from(limits.qty_max),
            code: "invalid_quantity",
        },
    });
    params
}

/// Every event type's name (`order.placed`, ...), in the contract's order.
fn event_type_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        orch_events::EventType::ALL
            .iter()
            .map(|t| t.as_str())
            .collect()
    })
}

/// `GET /v1/events` (`stream`: `GET /v1/events/stream`, which takes no
/// `limit` or `wait_s`).
pub fn events_query(stream: bool) -> Vec<Param> {
    let int = |min: i64, max: i64| Schema::Int {
        min,
        max,
        code: "invalid_field",
    };
    let mut params = vec![
        Param {
            name: "after",
            required: false,
            schema: int(0, i64::MAX),
        },
        Param {
            name: "types",
            required: false,
            schema: Schema::Str {
                text: Text::ListOf(event_type_names()),
                code: "invalid_field",
            },
        },
    ];
    if !stream {
        params.push(Param {
            name: "limit",
            required: false,
            schema: int(1, orch_events::feed::PAGE_LIMIT_MAX as i64),
        });
        params.push(Param {
            name: "wait_s",
            required: false,
            schema: int(0, crate::events_out::WAIT_MAX.as_secs() as i64),
        });
    }
    params
}

/// Every schema the routes check with, built once from the limits.
#[derive(Debug, Clone)]
pub struct Schemas {
    /// `POST /v1/orders` and each order of a batch.
    pub place_order: Schema,
    /// `POST /v1/orders/batch`.
    pub order_batch: Schema,
    /// Each scan event.
    pub scan_event: Schema,
    /// `POST /v1/scans`.
    pub scan_batch: Schema,
    /// `POST /v1/inventory/receipts`.
    pub receipts: Schema,
    /// `POST /v1/inventory/adjustments`.
    pub adjustments: Schema,
    /// `PUT /v1/facilities/{facility_id}/status`.
    pub facility_status: Schema,
    /// `PUT /v1/webhooks/{webhook_id}`.
    pub webhook: Schema,
    /// `GET /v1/skus`.
    pub skus: Vec<Param>,
    /// `GET /v1/availability`.
    pub availability: Vec<Param>,
    /// `GET /v1/promise`.
    pub promise: Vec<Param>,
    /// `GET /v1/events`.
    pub events: Vec<Param>,
    /// `GET /v1/events/stream`.
    pub event_stream: Vec<Param>,
    /// `POST /v1/holds`.
    pub hold_create: Schema,
    /// `POST /v1/holds/{hold_id}/extend`.
    pub hold_extend: Schema,
    /// An order id in a path.
    pub order_id: Schema,
}

impl Schemas {
    /// The schemas for these limits.
    pub fn new(limits: &Limits) -> Schemas {
        Schemas {
            place_order: place_order(limits),
            order_batch: order_batch(limits),
            scan_event: scan_event(limits),
            scan_batch: scan_batch(limits),
            receipts: receipt_batch(limits),
            adjustments: adjustment_batch(limits),
            facility_status: facility_status(),
            webhook: webhook(),
            skus: skus_query(),
            availability: availability_query(),
            promise: promise_query(limits),
            events: events_query(false),
            event_stream: events_query(true),
            hold_create: super::holds::create_schema(limits),
            hold_extend: super::holds::extend_schema(limits),
            order_id: id(limits),
        }
    }

    /// A request body's schema by its name in the document.
    pub fn body(&self, name: &str) -> Option<&Schema> {
        Some(match name {
            "PlaceOrder" => &self.place_order,
            "OrderBatch" => &self.order_batch,
            "ScanBatch" => &self.scan_batch,
            "ReceiptBatch" => &self.receipts,
            "AdjustmentBatch" => &self.adjustments,
            "FacilityStatus" => &self.facility_status,
            "Webhook" => &self.webhook,
            "HoldCreate" => &self.hold_create,
            "HoldExtend" => &self.hold_extend,
            _ => return None,
        })
    }

    /// A route's query parameters by operation.
    pub fn query(&self, operation_id: &str) -> &[Param] {
        match operation_id {
            "listSkus" => &self.skus,
            "getAvailability" => &self.availability,
            "getPromise" => &self.promise,
            "listEvents" => &self.events,
            _ => &[],
        }
    }

    /// A path parameter's schema by name.
    pub fn path_param(&self, name: &str) -> Schema {
        match name {
            "sku" => catalog_id(Catalog::Sku),
            "facility_id" => catalog_id(Catalog::Facility),
            _ => self.order_id.clone(),
        }
    }
}

/// Whether a path id keeps its rule: an id that cannot exist is simply
/// unknown (404), quoted at most [`super::errors::QUOTE_MAX`] characters.
pub fn path_id_ok(schema: &Schema, v: &str) -> bool {
    match schema {
        Schema::Str { text, .. } => text_ok(text, v).is_ok(),
        _ => true,
    }
}

/// What [`check`] refused.
fn wrong_type(path: &str, expected: &str, got: &Value) -> HttpError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number with a fraction",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    HttpError::bad_request(
        "wrong_type",
        format!("{path}: must be {expected}, got {got}"),
    )
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn label(path: &str) -> &str {
    if path.is_empty() {
        "body"
    } else {
        path
    }
}

/// Pass 1: JSON types only.
fn types(v: &Value, s: &Schema, path: &str) -> Result<(), HttpError> {
    match (s, v) {
        (Schema::Any, _) => Ok(()),
        (Schema::Object { fields, .. }, Value::Object(m)) => {
            for f in fields {
                match m.get(f.name) {
                    None => {}
                    Some(Value::Null) if f.nullable => {}
                    Some(x) => types(x, &f.schema, &join(path, f.name))?,
                }
            }
            Ok(())
        }
        (Schema::Object { .. }, x) => Err(wrong_type(label(path), "an object", x)),
        (Schema::Array { items, .. }, Value::Array(a)) => {
            for (i, x) in a.iter().enumerate() {
                types(x, items, &format!("{}[{i}]", label(path)))?;
            }
            Ok(())
        }
        (Schema::Array { .. }, x) => Err(wrong_type(label(path), "an array", x)),
        (Schema::Str { .. }, Value::String(_)) => Ok(()),
        (Schema::Str { .. }, x) => Err(wrong_type(label(path), "a string", x)),
        // A whole number written with an exponent or past 64 bits is still
        // an integer (its range is checked in the second pass).
        (Schema::Int { .. }, Value::Number(n))
            if !n.is_f64()
                || n.as_f64()
                    .is_some_and(|x| x.is_finite() && x.fract() == 0.0) =>
        {
            Ok(())
        }
        (Schema::Int { .. }, x) => Err(wrong_type(label(path), "an integer", x)),
        (Schema::Num { .. }, Value::Number(_)) => Ok(()),
        (Schema::Num { .. }, x) => Err(wrong_type(label(path), "a number", x)),
        (Schema::Bool, Value::Bool(_)) => Ok(()),
        (Schema::Bool, x) => Err(wrong_type(label(path), "true or false", x)),
    }
}

/// Whether a string keeps a text rule; the message says what it must be.
pub fn text_ok(text: &Text, s: &str) -> Result<(), String> {
    match text {
        Text::Chars {
            min, max, chars, ..
        } => {
            let n = s.chars().count();
            if n < *min || n > *max || !s.chars().all(|c| chars.allows(c)) {
                Err(format!(
                    "must be {min} to {max} characters{}, got {}",
                    chars.words(),
                    quote(s)
                ))
            } else {
                Ok(())
            }
        }
        Text::OneOf(words) => {
            if words.contains(&s) {
                Ok(())
            } else {
                Err(format!(
                    "must be one of {}, got {}",
                    words.join(", "),
                    quote(s)
                ))
            }
        }
        Text::ListOf(words) => {
            if s.split(',').all(|w| words.contains(&w)) {
                Ok(())
            } else {
                Err(format!(
                    "must be a comma-separated list of {}, got {}",
                    words.join(", "),
                    quote(s)
                ))
            }
        }
        Text::Time => match parse_rfc3339(s) {
            Some(_) => Ok(()),
            None => Err(format!(
                "must be an RFC 3339 time with an offset (2026-11-27T09:15:00Z), got {}",
                quote(s)
            )),
        },
    }
}

fn number_ok(x: f64, min: f64, max: f64) -> Result<(), String> {
    if x.is_finite() && x >= min && x <= max {
        Ok(())
    } else if max == f64::MAX {
        Err(format!("must be a number >= {min}, got {x}"))
    } else {
        Err(format!("must be {min} to {max}, got {x}"))
    }
}

/// Pass 2: fields, then every value's rule.
fn rules(v: &Value, s: &Schema, path: &str) -> Result<(), HttpError> {
    let at =
        |code: &'static str, m: String| HttpError::invalid(code, format!("{}: {m}", label(path)));
    match (s, v) {
        (Schema::Object { fields, closed }, Value::Object(m)) => {
            for f in fields {
                let present = !matches!(m.get(f.name), None | Some(Value::Null));
                if f.required && !present {
                    return Err(HttpError::invalid(
                        "missing_field",
                        format!("{}: required", join(path, f.name)),
                    ));
                }
            }
            if *closed {
                if let Some(k) = m
                    .keys()
                    .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
                {
                    return Err(HttpError::invalid(
                        "unknown_field",
                        format!("{}: unknown field", join(path, &clip(k, 128))),
                    ));
                }
            }
            for f in fields {
                match m.get(f.name) {
                    None | Some(Value::Null) => {}
                    Some(x) => rules(x, &f.schema, &join(path, f.name))?,
                }
            }
            Ok(())
        }
        (
            Schema::Array {
                items,
                min,
                max,
                code,
            },
            Value::Array(a),
        ) => {
            if a.len() > *max {
                return Err(at(
                    code,
                    format!("{} items exceed the limit of {max}", a.len()),
                ));
            }
            if a.len() < *min {
                return Err(at(
                    "invalid_field",
                    format!("at least {min} item(s) required"),
                ));
            }
            for (i, x) in a.iter().enumerate() {
                rules(x, items, &format!("{}[{i}]", label(path)))?;
            }
            Ok(())
        }
        (Schema::Str { text, code }, Value::String(x)) => text_ok(text, x).map_err(|m| at(code, m)),
        (Schema::Int { min, max, code }, Value::Number(n)) => {
            let ok = n.as_i64().is_some_and(|i| i >= *min && i <= *max);
            if ok {
                Ok(())
            } else {
                Err(at(
                    code,
                    format!("must be {min} to {max}, got {}", clip(&n.to_string(), 128)),
                ))
            }
        }
        (Schema::Num { min, max, code }, Value::Number(n)) => {
            number_ok(n.as_f64().unwrap_or(f64::NAN), *min, *max).map_err(|m| at(code, m))
        }
        _ => Ok(()),
    }
}

/// Checks a value against a schema: types first (400), then rules (422).
/// `path` prefixes messages (`""` for a whole body, `orders[3]` for an item).
pub fn check(v: &Value, s: &Schema, path: &str) -> Result<(), HttpError> {
    types(v, s, path)?;
    rules(v, s, path)
}

/// Checks one query value (a string on the wire) against its parameter.
pub fn check_param(p: &Param, raw: &str) -> Result<(), HttpError> {
    let bad = |code: &'static str, m: String| HttpError::invalid(code, format!("{}: {m}", p.name));
    match &p.schema {
        Schema::Int { min, max, code } => match raw.parse::<i64>() {
            Ok(i) if i >= *min && i <= *max => Ok(()),
            Ok(_) => Err(bad(
                code,
                format!("must be an integer from {min} to {max}, got {}", quote(raw)),
            )),
            Err(_) => Err(bad(
                "invalid_field",
                format!("must be an integer from {min} to {max}, got {}", quote(raw)),
            )),
        },
        Schema::Num { min, max, code } => match raw.parse::<f64>() {
            Ok(x) => number_ok(x, *min, *max).map_err(|m| bad(code, m)),
            Err(_) => Err(bad(
                "invalid_field",
                format!("must be a number, got {}", quote(raw)),
            )),
        },
        Schema::Str { text, code } => text_ok(text, raw).map_err(|m| bad(code, m)),
        _ => Ok(()),
    }
}

/// The catalog lists the document enumerates.
#[derive(Debug, Clone, Default)]
pub struct CatalogLists {
    /// Every SKU id.
    pub skus: Vec<String>,
    /// Every facility id.
    pub facilities: Vec<String>,
}

fn pattern(min: usize, max: usize, class: &str) -> String {
    format!("^[{class}]{{{min},{max}}}$")
}

impl Schema {
    /// The schema as OpenAPI 3.0 (catalog ids as `$ref`s to `SkuId` and
    /// `FacilityId`).
    pub fn to_openapi(&self) -> Value {
        match self {
            Schema::Any => json!({}),
            Schema::Object { fields, closed } => {
                let mut props = Map::new();
                let mut required = Vec::new();
                for f in fields {
                    let mut s = f.schema.to_openapi();
                    if f.nullable {
                        s = match s.get("$ref") {
                            Some(_) => json!({"allOf": [s], "nullable": true}),
                            None => {
                                let mut s = s;
                                s["nullable"] = json!(true);
                                // OpenAPI 3.0: an enum lists null itself
                                // for null to be valid.
                                if let Some(Value::Array(e)) = s.get_mut("enum") {
                                    e.push(Value::Null);
                                }
                                s
                            }
                        };
                    }
                    props.insert(f.name.to_string(), s);
                    if f.required {
                        required.push(f.name);
                    }
                }
                let mut o = json!({"type": "object", "properties": props});
                if !required.is_empty() {
                    o["required"] = json!(required);
                }
                if *closed {
                    o["additionalProperties"] = json!(false);
                }
                o
            }
            Schema::Array {
                items, min, max, ..
            } => {
                let mut a = json!({"type": "array", "items": items.to_openapi(), "maxItems": max});
                if *min > 0 {
                    a["minItems"] = json!(min);
                }
                a
            }
            Schema::Str { text, .. } => match text {
                Text::Chars {
                    catalog: Some(Catalog::Sku),
                    ..
                } => json!({"$ref": "#/components/schemas/SkuId"}),
                Text::Chars {
                    catalog: Some(Catalog::Facility),
                    ..
                } => json!({"$ref": "#/components/schemas/FacilityId"}),
                Text::Chars {
                    min, max, chars, ..
                } => {
                    let mut s = json!({"type": "string", "minLength": min, "maxLength": max});
                    if let Some(class) = chars.class() {
                        s["pattern"] = json!(pattern(*min, *max, class));
                    }
                    s
                }
                Text::OneOf(words) => json!({"type": "string", "enum": words}),
                Text::ListOf(words) => {
                    let one = words
                        .iter()
                        .map(|w| w.replace('.', "\\."))
                        .collect::<Vec<_>>()
                        .join("|");
                    json!({"type": "string", "pattern": format!("^({one})(,({one}))*$")})
                }
                Text::Time => json!({"type": "string", "format": "date-time"}),
            },
            Schema::Int { min, max, .. } => {
                json!({"type": "integer", "minimum": min, "maximum": max})
            }
            Schema::Num { min, max, .. } => {
                let mut n = json!({"type": "number", "minimum": min});
                if *max < f64::MAX {
                    n["maximum"] = json!(max);
                }
                n
            }
            Schema::Bool => json!({"type": "boolean"}),
        }
    }
}

/// `SkuId` / `FacilityId`: an id that names one of the catalog's entries.
pub fn catalog_schema(ids: &[String]) -> Value {
    json!({"type": "string", "enum": ids})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_not_objects_anywhere() {
        let l = Limits::default();
        let s = place_order(&l);
        let e = check(&json!(["o-1", "web", [1, 2], "standard", []]), &s, "").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_ref()), (400, "wrong_type"));
        let o = json!({"order_id": "o", "channel": "web", "ship_to": [1.0, 2.0], "service_level": "standard", "lines": [["SKU-1", 1]]});
        let e = check(&o, &s, "").unwrap_err();
        assert!(e.message.starts_with("ship_to:"), "{}", e.message);
        let e = check(&json!([true]), &facility_status(), "").unwrap_err();
        assert_eq!(e.code, "wrong_type");
    }

    #[test]
    fn the_document_states_the_checked_limits() {
        let l = Limits {
            order_lines_max: 7,
            ..Limits::default()
        };
        let d = place_order(&l).to_openapi();
        assert_eq!(d["properties"]["lines"]["maxItems"], 7);
        assert_eq!(d["properties"]["lines"]["minItems"], 1);
        assert_eq!(d["properties"]["order_id"]["maxLength"], 128);
    }
}
