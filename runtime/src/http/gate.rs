//! The middleware in front of every route: the access log (outermost), then
//! for `/v1` paths readiness (503), the bearer token (401) and the in-flight
//! bound (429).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error};

use super::auth::authorized;
use super::errors::{clip, HttpError};
use super::AppState;

/// Counts a request in flight while alive.
struct InflightGuard<'a>(&'a AtomicUsize);

impl<'a> InflightGuard<'a> {
    fn acquire(counter: &'a AtomicUsize, max: u32) -> Option<InflightGuard<'a>> {
        let now = counter.fetch_add(1, Ordering::AcqRel) + 1;
        if now > max as usize {
            counter.fetch_sub(1, Ordering::AcqRel);
            None
        } else {
            Some(InflightGuard(counter))
        }
    }
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether a path is under the `/v1` API.
pub fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// Readiness, auth and backpressure for `/v1`; other paths pass through.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if !is_api(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if !state.is_ready() {
        return Ok(req
            .error_response(HttpError::not_ready())
            .map_into_right_body());
    }
    if let Some(token) = &state.token {
        if !authorized(req.headers(), token) {
            return Ok(req
                .error_response(HttpError::unauthorized())
                .map_into_right_body());
        }
    }
    let max = state.limits.inflight_requests_max;
    let Some(_guard) = InflightGuard::acquire(&state.inflight, max) else {
        return Ok(req
            .error_response(HttpError::busy(max))
            .map_into_right_body());
    };
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// One `tracing` line per request: method, path, status, duration. Never the
/// body, the query string or the headers (the token lives there).
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = clip(req.path(), 200);
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let duration_us = start.elapsed().as_micros() as u64;
    tracing::info!(target: "orch_runtime::http::access", method = %method, path = %path, status, duration_us, "request");
    res
}
