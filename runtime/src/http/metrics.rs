//! `GET /metrics` (the Prometheus text format, outside `/v1`: no token, no
//! readiness gate, like `/healthz`) and the middleware that counts every
//! HTTP request by route template, method and status.
//!
//! `/metrics` is not in [`super::routes::ROUTES`]: that table is the API's
//! contract (and its OpenAPI document, which speaks JSON only); this is an
//! operations endpoint. It is served on the API port and, when
//! `listen.metrics` is set, on a port of its own.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, HttpResponse, ResponseError};

use super::errors::HttpError;
use super::routes::ROUTES;

/// The path of the Prometheus endpoint.
pub const METRICS_PATH: &str = "/metrics";

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Registers `/metrics` (GET; a JSON 405 with `Allow: GET` otherwise).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(METRICS_PATH)
            .name(METRICS_PATH)
            .route(web::get().to(metrics))
            .default_service(web::to(not_allowed)),
    );
}

async fn metrics() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(crate::metrics::render())
}

async fn not_allowed(req: HttpRequest) -> HttpResponse {
    HttpError::method_not_allowed(req.method().as_str(), req.path(), "GET".to_string())
        .error_response()
}

fn matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let param = ts.starts_with('{') && ts.ends_with('}');
                if (param && ps.is_empty()) || (!param && ts != ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// The route template a path is served by (table order, as the router
/// matches), `/metrics`, or `unmatched`: a bounded label value whatever
/// the client sends.
pub fn route_label(path: &str) -> &'static str {
    if path == METRICS_PATH {
        return METRICS_PATH;
    }
    ROUTES
        .iter()
        .map(|r| r.path)
        .find(|t| matches(t, path))
        .unwrap_or("unmatched")
}

/// The method as a bounded label value.
pub fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every request (outermost, so the gate's 401/429/503
/// are counted too).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let route = route_label(req.path());
    let method = method_label(req.method());
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    crate::metrics::http_request(route, method, status, start.elapsed());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_templates() {
        assert_eq!(route_label("/v1/orders/o-1"), "/v1/orders/{order_id}");
        assert_eq!(route_label("/v1/orders/batch"), "/v1/orders/batch");
        assert_eq!(
            route_label("/v1/orders/o-1/cancel"),
            "/v1/orders/{order_id}/cancel"
        );
        assert_eq!(
            route_label("/v1/facilities/DC-01/waves/release"),
            "/v1/facilities/{facility_id}/waves/release"
        );
        assert_eq!(route_label("/metrics"), "/metrics");
        assert_eq!(route_label("/v1/orders/"), "unmatched");
        assert_eq!(route_label("/v1/nope/x"), "unmatched");
        assert_eq!(route_label("/SKU-000001"), "unmatched");
    }
}
