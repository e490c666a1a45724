//! Placement-request validation, the one copy: the engines call
//! [`validate_request`], the API checks each line with [`check_line_count`]
//! and [`check_line_qty`] while it converts the request and then the whole
//! with [`check_request`]. Each refusal starts with the field it names.

use super::{OrderLine, PlaceRequest};

/// Which rule a placement request broke (the API answers each with its own
/// error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestProblem {
    /// No line at all.
    NoLines,
    /// More lines than the limit.
    TooManyLines,
    /// A line's quantity outside 1 to the limit.
    Quantity,
    /// A SKU on two lines.
    DuplicateSku,
    /// The ship-to latitude or longitude out of range.
    ShipTo,
}

/// A refused placement request: the rule broken and a message that starts
/// with the field (`lines`, `lines[2].qty`, `ship_to.lat`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    /// The rule.
    pub problem: RequestProblem,
    /// What is wrong, field first.
    pub message: String,
}

fn refuse<T>(problem: RequestProblem, message: String) -> Result<T, RequestError> {
    Err(RequestError { problem, message })
}

/// `lines`: at least one, at most `lines_max`.
pub fn check_line_count(lines: usize, lines_max: usize) -> Result<(), RequestError> {
    if lines == 0 {
        return refuse(
            RequestProblem::NoLines,
            "lines: at least one line is required".into(),
        );
    }
    if lines > lines_max {
        return refuse(
            RequestProblem::TooManyLines,
            format!("lines: {lines} lines exceed the limit of {lines_max}"),
        );
    }
    Ok(())
}

/// `lines[i].qty`: 1 to `qty_max`. Takes the quantity as a client may send
/// it (any integer) and answers it as the line's units.
pub fn check_line_qty(i: usize, qty: i64, qty_max: u32) -> Result<u32, RequestError> {
    match u32::try_from(qty) {
        Ok(units) if units >= 1 && units <= qty_max => Ok(units),
        _ => refuse(
            RequestProblem::Quantity,
            format!("lines[{i}].qty: must be 1 to {qty_max}, got {qty}"),
        ),
    }
}

/// `lines[i].sku`: each SKU on one line only.
pub fn check_duplicate_skus(lines: &[OrderLine]) -> Result<(), RequestError> {
    for (i, l) in lines.iter().enumerate() {
        if lines[..i].iter().any(|p| p.sku == l.sku) {
            return refuse(
                RequestProblem::DuplicateSku,
                format!("lines[{i}].sku: the SKU appears on an earlier line"),
            );
        }
    }
    Ok(())
}

/// `ship_to.lat` -90 to 90 and `ship_to.lon` -180 to 180, both finite.
pub fn check_ship_to(lat: f64, lon: f64) -> Result<(), RequestError> {
    if !(-90.0..=90.0).contains(&lat) || !lat.is_finite() {
        return refuse(
            RequestProblem::ShipTo,
            format!("ship_to.lat: must be -90 to 90, got {lat}"),
        );
    }
    if !(-180.0..=180.0).contains(&lon) || !lon.is_finite() {
        return refuse(
            RequestProblem::ShipTo,
            format!("ship_to.lon: must be -180 to 180, got {lon}"),
        );
    }
    Ok(())
}

/// Checks a whole placement request: line count, each quantity, duplicate
/// SKUs, then the ship-to point; the first rule broken is answered.
pub fn check_request(
    req: &PlaceRequest,
    lines_max: usize,
    qty_max: u32,
) -> Result<(), RequestError> {
    check_line_count(req.lines.len(), lines_max)?;
    for (i, l) in req.lines.iter().enumerate() {
        check_line_qty(i, i64::from(l.qty), qty_max)?;
    }
    check_duplicate_skus(&req.lines)?;
    check_ship_to(req.lat, req.lon)
}

/// Checks a placement request ([`check_request`]); the message names the field.
pub fn validate_request(req: &PlaceRequest, lines_max: usize, qty_max: u32) -> Result<(), String> {
    check_request(req, lines_max, qty_max).map_err(|e| e.message)
}
