//! Request validation, once for every engine behind the API: client ids,
//! quantities, catalog lookups and whole placements, each refusal naming
//! its field. Nothing here changes anything.

use std::sync::Arc;

use orch_actors::order::validate::{check_line_count, check_line_qty};
use orch_actors::order::{
    check_request, Disposition, OrderLine, PlaceRequest, RequestError, RequestProblem, Scan,
    ScanKind,
};
use orch_actors::{CellKey, FacilityIdx, OrderNo, SkuIdx};
use orch_config::{Limits, Millis, ServiceLevel};

use crate::catalog::Catalog;
use crate::clock::parse_rfc3339;
use crate::dto::{AdjustmentInput, PlaceOrder, ReceiptInput, ScanInput};
use crate::error::{quote, ApiError};

/// A 422 with its code and message.
pub fn invalid(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::invalid(code, msg)
}

/// Checks a client id (`field` names it in the error).
pub fn check_id(field: &str, id: &str, max: u32) -> Result<(), ApiError> {
    let ok = !id.is_empty()
        && id.len() <= max as usize
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "invalid_id",
            format!(
                "{field}: must be 1 to {max} characters of letters, digits, '-', '_', '.', ':'"
            ),
        ))
    }
}

/// Checks a quantity from 1 to `max`.
pub fn check_qty(field: &str, qty: i64, max: u32) -> Result<u32, ApiError> {
    if qty < 1 || qty > i64::from(max) {
        return Err(invalid(
            "invalid_quantity",
            format!("{field}: must be 1 to {max}, got {qty}"),
        ));
    }
    Ok(qty as u32)
}

/// A SKU of the catalog (`field` names it in the error).
pub fn sku(catalog: &Catalog, field: &str, id: &str) -> Result<SkuIdx, ApiError> {
    catalog
        .sku(id)
        .ok_or_else(|| invalid("unknown_sku", format!("{field}: unknown SKU {}", quote(id))))
}

/// A facility of the network (`field` names it in the error).
pub fn facility(catalog: &Catalog, field: &str, id: &str) -> Result<FacilityIdx, ApiError> {
    catalog.facility(id).ok_or_else(|| {
        invalid(
            "unknown_facility",
            format!("{field}: unknown facility {}", quote(id)),
        )
    })
}

/// Checks a placement and turns it into the state machine's request.
pub fn order(catalog: &Catalog, limits: &Limits, o: &PlaceOrder) -> Result<PlaceRequest, ApiError> {
    check_id("order_id", &o.order_id, limits.id_len_max)?;
    if o.channel.is_empty()
        || o.channel.len() > 64
        || !o
            .channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "invalid_channel",
            "channel: must be 1 to 64 letters, digits, '_' or '-'",
        ));
    }
    let service_level = ServiceLevel::parse(&o.service_level).ok_or_else(|| {
        invalid(
            "invalid_service_level",
            format!(
                "service_level: must be same_day, next_day or standard, got {}",
                quote(&o.service_level)
            ),
        )
    })?;
    let lines_max = limits.order_lines_max as usize;
    check_line_count(o.lines.len(), lines_max).map_err(order_refused)?;
    let mut lines = Vec::with_capacity(o.lines.len());
    for (i, l) in o.lines.iter().enumerate() {
        let sku = sku(catalog, &format!("lines[{i}].sku"), &l.sku)?;
        let qty = check_line_qty(i, l.qty, limits.qty_max).map_err(order_refused)?;
        lines.push(OrderLine { sku, qty });
    }
    let req = PlaceRequest {
        order_id: Arc::from(o.order_id.as_str()),
        channel: Arc::from(o.channel.as_str()),
        lat: o.ship_to.lat,
        lon: o.ship_to.lon,
        service_level,
        lines,
        allow_backorder: o.allow_backorder.unwrap_or(true),
    };
    check_request(&req, lines_max, limits.qty_max).map_err(order_refused)?;
    Ok(req)
}

/// The 422 for a placement the order's own validation refused, its code
/// by the rule broken.
fn order_refused(e: RequestError) -> ApiError {
    let code = match e.problem {
        RequestProblem::TooManyLines => "too_many_lines",
        RequestProblem::Quantity => "invalid_quantity",
        RequestProblem::NoLines | RequestProblem::DuplicateSku | RequestProblem::ShipTo => {
            "invalid_order"
        }
    };
    invalid(code, e.message)
}

/// Checks receipt `i` of a request: its cell and units.
pub fn receipt(
    catalog: &Catalog,
    limits: &Limits,
    i: usize,
    r: &ReceiptInput,
) -> Result<(CellKey, u32), ApiError> {
    check_id(
        &format!("receipts[{i}].receipt_id"),
        &r.receipt_id,
        limits.id_len_max,
    )?;
    let sku = sku(catalog, &format!("receipts[{i}].sku"), &r.sku)?;
    let facility = facility(
        catalog,
        &format!("receipts[{i}].facility_id"),
        &r.facility_id,
    )?;
    let qty = check_qty(&format!("receipts[{i}].qty"), r.qty, limits.qty_max)?;
    Ok((CellKey { sku, facility }, qty))
}

/// Checks adjustment `i` of a request: its cell and the on hand counted
/// (0 to `qty_max`).
pub fn adjustment(
    catalog: &Catalog,
    limits: &Limits,
    i: usize,
    a: &AdjustmentInput,
) -> Result<(CellKey, u32), ApiError> {
    check_id(
        &format!("adjustments[{i}].adjustment_id"),
        &a.adjustment_id,
        limits.id_len_max,
    )?;
    let sku = sku(catalog, &format!("adjustments[{i}].sku"), &a.sku)?;
    let facility = facility(
        catalog,
        &format!("adjustments[{i}].facility_id"),
        &a.facility_id,
    )?;
    if a.on_hand < 0 || a.on_hand > i64::from(limits.qty_max) {
        return Err(invalid(
            "invalid_quantity",
            format!(
                "adjustments[{i}].on_hand: must be 0 to {}, got {}",
                limits.qty_max, a.on_hand
            ),
        ));
    }
    Ok((CellKey { sku, facility }, a.on_hand as u32))
}

/// `lat` and `lon` of a point in a query, each named when out of range.
pub fn point(lat: f64, lon: f64) -> Result<(), ApiError> {
    if !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(
            "invalid_point",
            format!("lat: must be -90 to 90, got {lat}"),
        ));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            "invalid_point",
            format!("lon: must be -180 to 180, got {lon}"),
        ));
    }
    Ok(())
}

/// An RFC 3339 time with an offset (`field` names it in the error).
pub fn time(field: &str, t: &str) -> Result<orch_config::Millis, ApiError> {
    crate::clock::parse_rfc3339(t).ok_or_else(|| {
        invalid(
            "invalid_time",
            format!(
                "{field}: {} is not an RFC 3339 time with an offset",
                quote(t)
            ),
        )
    })
}

/// A search radius: a finite number of kilometres, 0 or more.
pub fn radius(radius_km: f64) -> Result<(), ApiError> {
    if radius_km >= 0.0 && radius_km.is_finite() {
        Ok(())
    } else {
        Err(invalid(
            "invalid_radius",
            format!("radius_km: must be a number >= 0, got {radius_km}"),
        ))
    }
}

/// Resolves one scan event: its order (`order_no` maps client ids), the
/// fulfillment, facility, SKU and times (`now` when it gives none). The
/// error is the event's rejection reason, naming the field.
pub fn scan(
    catalog: &Catalog,
    limits: &Limits,
    s: &ScanInput,
    order_no: impl Fn(&str) -> Option<OrderNo>,
    now: impl FnOnce() -> Millis,
) -> Result<(OrderNo, Scan), String> {
    let id_ok = |v: &str| check_id("", v, limits.id_len_max).is_ok();
    if !id_ok(&s.event_id) {
        return Err(
            "event_id: must be 1 to 128 characters of letters, digits, '-', '_', '.', ':'".into(),
        );
    }
    let kind =
        ScanKind::parse(&s.kind).ok_or_else(|| format!("kind: unknown kind {}", quote(&s.kind)))?;
    if s.order_id.is_empty() {
        return Err("order_id: missing".into());
    }
    let no = order_no(s.order_id.as_str())
        .ok_or_else(|| format!("order_id: unknown order {}", quote(&s.order_id)))?;
    let n = s
        .fulfillment_id
        .strip_prefix(s.order_id.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.parse::<u16>().ok())
        .ok_or_else(|| {
            format!(
                "fulfillment_id: {} is not a fulfillment of order {}",
                quote(&s.fulfillment_id),
                quote(&s.order_id)
            )
        })?;
    let facility = catalog
        .facility(&s.facility_id)
        .ok_or_else(|| format!("facility_id: unknown facility {}", quote(&s.facility_id)))?;
    let sku = match &s.sku {
        Some(id) => Some(
            catalog
                .sku(id)
                .ok_or_else(|| format!("sku: unknown SKU {}", quote(id)))?,
        ),
        None => None,
    };
    let qty = match s.qty {
        Some(q) => Some(check_qty("qty", q, limits.qty_max).map_err(|e| e.message)?),
        None => None,
    };
    let at = match &s.at {
        Some(t) => parse_rfc3339(t)
            .ok_or_else(|| format!("at: {} is not an RFC 3339 time with an offset", quote(t)))?,
        None => now(),
    };
    let disposition = match s.disposition.as_deref() {
        None => None,
        Some("restock") => Some(Disposition::Restock),
        Some("dispose") => Some(Disposition::Dispose),
        Some(d) => {
            return Err(format!(
                "disposition: must be restock or dispose, got {}",
                quote(d)
            ))
        }
    };
    let short = |v: &Option<String>, f: &str| -> Result<Option<Arc<str>>, String> {
        match v {
            Some(x) if x.is_empty() || x.len() > 256 => {
                Err(format!("{f}: must be 1 to 256 characters"))
            }
            Some(x) => Ok(Some(Arc::from(x.as_str()))),
            None => Ok(None),
        }
    };
    Ok((
        no,
        Scan {
            event_id: Arc::from(s.event_id.as_str()),
            kind,
            fulfillment: n,
            facility,
            sku,
            qty,
            carrier: short(&s.carrier, "carrier")?,
            tracking: short(&s.tracking, "tracking")?,
            reason: short(&s.reason, "reason")?,
            disposition,
            at,
        },
    ))
}
