//! Holds over HTTP (`/v1/holds`): the request schemas and the handlers,
//! each a thin call to the application ([`crate::app::Core`]). On the
//! shells every hold route answers `501 not_supported`.

use actix_web::{web, HttpRequest, HttpResponse};
use orch_config::Limits;
use serde::Deserialize;

use super::errors::HttpError;
use super::limits::{check_no_body, parse_checked, read_body};
use super::routes::known_shape;
use super::schema::{id, opt, order_lines, req, ship_to, Schema, Text, SERVICE_LEVELS};
use super::AppState;
use crate::dto::HoldInput;

/// `POST /v1/holds`.
pub fn create_schema(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![
            req("hold_id", id(limits)),
            req("ship_to", ship_to("invalid_point")),
            opt(
                "service_level",
                Schema::Str {
                    text: Text::OneOf(SERVICE_LEVELS),
                    code: "invalid_service_level",
                },
            ),
            opt("ttl_s", ttl(limits)),
            req("lines", order_lines(limits)),
            opt("allow_partial", Schema::Bool),
        ],
    }
}

/// `POST /v1/holds/{hold_id}/extend`.
pub fn extend_schema(limits: &Limits) -> Schema {
    Schema::Object {
        closed: true,
        fields: vec![req("ttl_s", ttl(limits))],
    }
}

fn ttl(limits: &Limits) -> Schema {
    Schema::Int {
        min: 1,
        max: i64::from(limits.hold_ttl_s_max),
        code: "invalid_ttl",
    }
}

type Answer = Result<HttpResponse, HttpError>;

fn body_max(st: &AppState) -> usize {
    st.limits.body_bytes_max as usize
}

/// `POST /v1/holds`: 201 new, 200 replay, 409 another body or not enough
/// stock with `allow_partial: false`.
pub async fn create(st: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    let input: HoldInput = parse_checked(&bytes, &st.schemas.hold_create)?;
    let answer = st.core.create_hold(&input).await?;
    let at = format!("/v1/holds/{}", answer.hold.hold_id);
    Ok(super::routes::created(answer.replay, &at, &answer.hold))
}

/// `GET /v1/holds/{hold_id}`.
pub async fn read(st: web::Data<AppState>, id: web::Path<String>) -> Answer {
    known_shape(&st, "hold_id", &id, "hold_not_found", "hold")?;
    Ok(HttpResponse::Ok().json(st.core.hold(&id).await?))
}

#[derive(Deserialize)]
struct Extend {
    ttl_s: i64,
}

/// `POST /v1/holds/{hold_id}/extend`: a new expiry from now; 409 unless
/// active.
pub async fn extend(
    st: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    known_shape(&st, "hold_id", &id, "hold_not_found", "hold")?;
    let e: Extend = parse_checked(&bytes, &st.schemas.hold_extend)?;
    Ok(HttpResponse::Ok().json(st.core.extend_hold(&id, e.ttl_s).await?))
}

/// `DELETE /v1/holds/{hold_id}`: released; 409 once converted.
pub async fn release(st: web::Data<AppState>, req: HttpRequest, id: web::Path<String>) -> Answer {
    check_no_body(&req, body_max(&st))?;
    known_shape(&st, "hold_id", &id, "hold_not_found", "hold")?;
    Ok(HttpResponse::Ok().json(st.core.release_hold(&id).await?))
}
