//! `/v1/webhooks`: register, replace, list and delete webhook endpoints.
//! The handlers check the request and call [`crate::webhooks::Webhooks`];
//! the store write (an fsync in mode `fsync`) runs on the blocking pool,
//! never on a worker's event loop.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::errors::{quote, HttpError};
use super::limits::{check_no_body, parse_checked, read_body};
use super::schema::path_id_ok;
use super::AppState;
use crate::error::ApiError;
use crate::webhooks::WebhookInput;

type Answer = Result<HttpResponse, HttpError>;

fn body_max(st: &AppState) -> usize {
    st.limits.body_bytes_max as usize
}

/// Runs a store-writing call off the event loop.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, HttpError> {
    web::block(f)
        .await
        .map_err(|_| {
            HttpError::from(ApiError::unavailable(
                "webhooks: the store call was cancelled",
            ))
        })?
        .map_err(HttpError::from)
}

/// `GET /v1/webhooks`.
pub async fn list(st: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "webhooks": st.core.webhooks().list() }))
}

/// `PUT /v1/webhooks/{webhook_id}`: 201 new, 200 replaced.
pub async fn put(
    st: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Answer {
    let bytes = read_body(&req, payload, body_max(&st)).await?;
    if !path_id_ok(&st.schemas.path_param("webhook_id"), &id) {
        return Err(HttpError::invalid(
            "invalid_id",
            format!(
                "webhook_id: must be 1 to {} characters of letters, digits, '-', '_', '.', ':', got {}",
                st.limits.id_len_max,
                quote(&id)
            ),
        ));
    }
    let input: WebhookInput = parse_checked(&bytes, &st.schemas.webhook)?;
    let hooks = st.core.webhooks().clone();
    let id = id.into_inner();
    let (view, new) = blocking(move || hooks.put(&id, input)).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(HttpResponse::build(status).json(view))
}

/// `DELETE /v1/webhooks/{webhook_id}`: 200, or 404 when not registered.
pub async fn delete(st: web::Data<AppState>, req: HttpRequest, id: web::Path<String>) -> Answer {
    check_no_body(&req, body_max(&st))?;
    super::routes::known_shape(&st, "webhook_id", &id, "webhook_not_found", "webhook")?;
    let hooks = st.core.webhooks().clone();
    let id = id.into_inner();
    let shown = id.clone();
    blocking(move || hooks.delete(&id)).await?;
    Ok(HttpResponse::Ok().json(json!({ "webhook_id": shown, "deleted": true })))
}
