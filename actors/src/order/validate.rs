//! Placement-request validation: the one copy every engine and the API use;
//! each refusal names its field.

use super::PlaceRequest;

/// Checks a placement request; the message names the field.
pub fn validate_request(req: &PlaceRequest, lines_max: usize, qty_max: u32) -> Result<(), String> {
    if req.lines.is_empty() {
        return Err("lines: at least one line is required".into());
    }
    if req.lines.len() > lines_max {
        return Err(format!(
            "lines: {} lines exceed the limit of {lines_max}",
            req.lines.len()
        ));
    }
    for (i, l) in req.lines.iter().enumerate() {
        if l.qty == 0 || l.qty > qty_max {
            return Err(format!(
                "lines[{i}].qty: must be 1 to {qty_max}, got {}",
                l.qty
            ));
        }
    }
    for (i, l) in req.lines.iter().enumerate() {
        if req.lines[..i].iter().any(|p| p.sku == l.sku) {
            return Err(format!(
                "lines[{i}].sku: the SKU appears on an earlier line"
            ));
        }
    }
    if !(-90.0..=90.0).contains(&req.lat) || !req.lat.is_finite() {
        return Err(format!("ship_to.lat: must be -90 to 90, got {}", req.lat));
    }
    if !(-180.0..=180.0).contains(&req.lon) || !req.lon.is_finite() {
        return Err(format!("ship_to.lon: must be -180 to 180, got {}", req.lon));
    }
    Ok(())
}
