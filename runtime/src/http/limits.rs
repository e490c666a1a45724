//! Reading request bodies within the limits, and turning JSON into the
//! facade's shapes with errors that name the field.
//!
//! Rules (in the order they are checked):
//! 1. a `Content-Length` over `limits.body_bytes_max` is `413
//!    body_too_large` before anything is read; a body that grows past it
//!    while streaming (chunked) is `413` too;
//! 2. a request with a body whose `Content-Type` is not JSON
//!    (`application/json` or `application/*+json`, any parameters) is `415
//!    unsupported_media_type`; so is a body without a `Content-Type`;
//! 3. bytes that are not JSON (syntax, truncation, trailing garbage, an empty
//!    body, nesting deeper than serde_json's 128 levels) are `400
//!    malformed_json`, the message carrying serde's line and column;
//! 4. JSON of the wrong type (an array where an object is expected, a
//!    string where a number is) is `400 wrong_type`; a missing or unknown
//!    field, or a value outside its rule, is `422`, the message starting
//!    with the field's path (`lines[0].qty: must be 1 to 1000000, got 0`).
//!    Both come from the route's [`Schema`], the one the OpenAPI document
//!    is built from.

use actix_web::http::header;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, HttpRequest};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use super::errors::{clip, HttpError};
use super::schema::{check, Schema};

/// The request's `Content-Type`, if any.
pub fn content_type(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("(not ASCII)"))
}

/// Whether a content type is JSON: `application/json` or
/// `application/<something>+json`, with any parameters.
pub fn is_json(ct: &str) -> bool {
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether the request announces a body (a non-zero `Content-Length` or a
/// `Transfer-Encoding`).
pub fn has_body(req: &HttpRequest) -> bool {
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    match req.headers().get(header::CONTENT_LENGTH) {
        Some(v) => v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) != Some(0),
        None => false,
    }
}

/// For routes that take no body: a body of another type than JSON is 415;
/// a JSON body is ignored.
pub fn check_no_body(req: &HttpRequest, max: usize) -> Result<(), HttpError> {
    if !has_body(req) {
        return Ok(());
    }
    check_length(req, max)?;
    match content_type(req) {
        Some(ct) if is_json(ct) => Ok(()),
        ct => Err(HttpError::not_json(ct)),
    }
}

fn check_length(req: &HttpRequest, max: usize) -> Result<(), HttpError> {
    if let Some(v) = req.headers().get(header::CONTENT_LENGTH) {
        let len = v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| {
                HttpError::bad_request("invalid_content_length", "content-length: not a number")
            })?;
        if len > max as u64 {
            return Err(HttpError::too_large(max));
        }
    }
    Ok(())
}

/// Reads a JSON body of at most `max` bytes (rules 1 and 2 above).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Bytes, HttpError> {
    check_length(req, max)?;
    match content_type(req) {
        Some(ct) if is_json(ct) => {}
        None if !has_body(req) => {}
        ct => return Err(HttpError::not_json(ct)),
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => HttpError::too_large(max),
            e => HttpError::bad_request("unreadable_body", format!("body: could not be read: {e}")),
        })?;
        if buf.len() + chunk.len() > max {
            return Err(HttpError::too_large(max));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Parses a body as JSON (rule 3), checks it against its schema (rule 4:
/// types, then fields and rules; see [`super::schema`]) and only then reads
/// it as `T`, so that no shape the schema refuses (an array for an object,
/// a fraction for an integer) ever reaches serde's derives.
pub fn parse_checked<T: DeserializeOwned>(bytes: &[u8], schema: &Schema) -> Result<T, HttpError> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        HttpError::bad_request("malformed_json", format!("body: not valid JSON: {e}"))
    })?;
    from_checked(v, schema, "")
}

/// Checks a parsed value against its schema and reads it as `T`; `prefix`
/// names it in messages (`orders[3]`, or `""` for a whole body).
pub fn from_checked<T: DeserializeOwned>(
    v: serde_json::Value,
    schema: &Schema,
    prefix: &str,
) -> Result<T, HttpError> {
    check(&v, schema, prefix)?;
    serde_json::from_value(v).map_err(|e| {
        let at = if prefix.is_empty() { "body" } else { prefix };
        HttpError::invalid(
            "invalid_field",
            format!("{at}: {}", clip(&e.to_string(), 256)),
        )
    })
}
