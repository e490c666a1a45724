//! Holds (`/v1/holds`): cart reservations with an expiry, held by the
//! cells that own the units. `hold_id` is idempotent like `order_id`: the
//! same body answers the hold again (`replay`), another body is 409.

use std::sync::Arc;

use orch_actors::hold::{HoldNo, HoldRefusal, HoldRequest, HoldState};
use orch_actors::order::OrderLine;
use orch_config::ServiceLevel;
use orch_engine::msg::HoldError;
use orch_engine::{ActorRef, Answer, Msg};

use super::views::hold_view;
use super::{durable, overloaded, unexpected, HostedCore};
use crate::dto::{HoldInput, HoldView};
use crate::error::{quote, ApiError};
use crate::idempotency::Claim;
use crate::validate::{check_id, check_qty, invalid, sku};

/// A hold's TTL when the request gives none.
pub const TTL_S_DEFAULT: u32 = 900;

/// A hold as answered, and whether it answers an earlier request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldAnswer {
    /// The hold.
    pub hold: HoldView,
    /// True when the same hold was created before with the same body.
    pub replay: bool,
}

fn refused(e: HoldError, hold_id: &str) -> ApiError {
    match e {
        HoldError::Refused(HoldRefusal::Ttl { .. }) => invalid("invalid_ttl", e_text(&e)),
        HoldError::Refused(HoldRefusal::InsufficientStock) => {
            ApiError::conflict("insufficient_stock", e_text(&e))
        }
        HoldError::Refused(r @ (HoldRefusal::NotActive(_) | HoldRefusal::Converted)) => {
            ApiError::conflict("hold_not_active", r.to_string())
        }
        HoldError::Unknown => not_found(hold_id),
        HoldError::Conflict => ApiError::conflict(
            "hold_conflict",
            format!(
                "hold_id: {} was created before with a different body",
                quote(hold_id)
            ),
        ),
        HoldError::Overloaded => overloaded(),
        HoldError::Invalid(why) => invalid("invalid_hold", why),
    }
}

fn e_text(e: &HoldError) -> String {
    match e {
        HoldError::Refused(r) => r.to_string(),
        other => format!("{other:?}"),
    }
}

fn not_found(hold_id: &str) -> ApiError {
    ApiError::not_found(
        "hold_not_found",
        format!("hold {} does not exist", quote(hold_id)),
    )
}

/// Checks a hold's TTL (`field` names it): 1 to `max` seconds.
fn check_ttl(field: &str, ttl_s: i64, max: u32) -> Result<u32, ApiError> {
    if ttl_s < 1 || ttl_s > i64::from(max) {
        return Err(invalid(
            "invalid_ttl",
            format!("{field}: must be 1 to {max} seconds, got {ttl_s}"),
        ));
    }
    Ok(ttl_s as u32)
}

impl HostedCore {
    /// Checks a hold and turns it into the state machine's request.
    pub fn validate_hold(&self, h: &HoldInput) -> Result<HoldRequest, ApiError> {
        let limits = &self.limits;
        check_id("hold_id", &h.hold_id, limits.id_len_max)?;
        let service_level = match &h.service_level {
            None => ServiceLevel::Standard,
            Some(s) => ServiceLevel::parse(s).ok_or_else(|| {
                invalid(
                    "invalid_service_level",
                    format!(
                        "service_level: must be same_day, next_day or standard, got {}",
                        quote(s)
                    ),
                )
            })?,
        };
        let (lat, lon) = (h.ship_to.lat, h.ship_to.lon);
        if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
            return Err(invalid(
                "invalid_point",
                format!("ship_to: lat must be -90 to 90 and lon -180 to 180, got {lat}, {lon}"),
            ));
        }
        let ttl_s = match h.ttl_s {
            None => TTL_S_DEFAULT.min(limits.hold_ttl_s_max),
            Some(t) => check_ttl("ttl_s", t, limits.hold_ttl_s_max)?,
        };
        if h.lines.is_empty() || h.lines.len() > limits.order_lines_max as usize {
            return Err(invalid(
                "invalid_lines",
                format!(
                    "lines: must be 1 to {} lines, got {}",
                    limits.order_lines_max,
                    h.lines.len()
                ),
            ));
        }
        let mut lines = Vec::with_capacity(h.lines.len());
        for (i, l) in h.lines.iter().enumerate() {
            let sku = sku(&self.catalog, &format!("lines[{i}].sku"), &l.sku)?;
            let qty = check_qty(&format!("lines[{i}].qty"), l.qty, limits.qty_max)?;
            lines.push(OrderLine { sku, qty });
        }
        Ok(HoldRequest {
            hold_id: Arc::from(h.hold_id.as_str()),
            lat,
            lon,
            service_level,
            ttl_s,
            lines,
            allow_partial: h.allow_partial.unwrap_or(true),
        })
    }

    /// Creates a hold (`POST /v1/holds`), answered once durable.
    pub async fn create_hold(&self, h: &HoldInput) -> Result<HoldAnswer, ApiError> {
        let req = self.validate_hold(h)?;
        let hold_id = req.hold_id.clone();
        let (no, claim) = match self.holds.claim(hold_id.clone()).await {
            // The hold answers a replay itself, or says `Conflict`.
            Claim::Seen(no) => (no, None),
            Claim::Mine(claim) => (self.host.new_hold_no(), Some(claim)),
        };
        let state = self
            .hold_call(no, &hold_id, |reply| Msg::CreateHold { req, reply })
            .await?;
        let replay = claim.is_none();
        if let Some(claim) = claim {
            claim.applied(no);
        }
        Ok(HoldAnswer {
            hold: hold_view(&self.catalog, &state),
            replay,
        })
    }

    /// A hold as it stands (`GET /v1/holds/{hold_id}`).
    pub async fn hold(&self, hold_id: &str) -> Result<HoldView, ApiError> {
        let no = self.hold_no(hold_id)?;
        let state = self
            .hold_call(no, hold_id, |reply| Msg::ReadHold { reply })
            .await?;
        Ok(hold_view(&self.catalog, &state))
    }

    /// A new expiry `ttl_s` from now (`POST /v1/holds/{hold_id}/extend`);
    /// 409 unless the hold is active.
    pub async fn extend_hold(&self, hold_id: &str, ttl_s: i64) -> Result<HoldView, ApiError> {
        let no = self.hold_no(hold_id)?;
        let ttl_s = check_ttl("ttl_s", ttl_s, self.limits.hold_ttl_s_max)?;
        let state = self
            .hold_call(no, hold_id, |reply| Msg::ExtendHold { ttl_s, reply })
            .await?;
        Ok(hold_view(&self.catalog, &state))
    }

    /// Lets a hold go (`DELETE /v1/holds/{hold_id}`); its units go to
    /// waiting backorders first. 409 once converted.
    pub async fn release_hold(&self, hold_id: &str) -> Result<HoldView, ApiError> {
        let no = self.hold_no(hold_id)?;
        let state = self
            .hold_call(no, hold_id, |reply| Msg::ReleaseHold { reply })
            .await?;
        Ok(hold_view(&self.catalog, &state))
    }

    fn hold_no(&self, hold_id: &str) -> Result<HoldNo, ApiError> {
        self.holds.get(hold_id).ok_or_else(|| not_found(hold_id))
    }

    pub(super) async fn hold_call(
        &self,
        no: HoldNo,
        hold_id: &str,
        make: impl FnOnce(orch_engine::RequestId) -> Msg,
    ) -> Result<Box<HoldState>, ApiError> {
        let pending = self
            .host
            .offer(ActorRef::Hold(no), make)
            .map_err(|_| overloaded())?;
        match durable(pending).await? {
            Answer::Hold(Ok(state)) => Ok(state),
            Answer::Hold(Err(e)) => Err(refused(e, hold_id)),
            other => Err(unexpected("hold", &other)),
        }
    }
}
