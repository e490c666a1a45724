//! The error body of API.md, `{"error": {"code", "message"}}`, and the
//! mapping from the facade's [`ErrorKind`] to HTTP status codes.

use std::borrow::Cow;
use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

pub use crate::error::{clip, quote, QUOTE_MAX};
use crate::error::{ApiError, ErrorKind};

/// An error answered over HTTP: status, snake_case code, a message naming
/// the field, and `Retry-After` for 429 and 503.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The status code.
    pub status: StatusCode,
    /// snake_case code.
    pub code: Cow<'static, str>,
    /// What was wrong, naming the field.
    pub message: String,
    /// Seconds for `Retry-After`.
    pub retry_after: Option<u32>,
    /// Methods for `Allow` (405).
    pub allow: Option<String>,
}

impl HttpError {
    /// Any status with a code and a message.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> HttpError {
        HttpError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
            allow: None,
        }
    }

    /// 400 `malformed_json` (and other malformed input).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 422 naming a field.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> HttpError {
        HttpError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 413 `body_too_large`.
    pub fn too_large(max: usize) -> HttpError {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("body: larger than the limit of {max} bytes"),
        )
    }

    /// 415 `unsupported_media_type`.
    pub fn not_json(got: Option<&str>) -> HttpError {
        let got = match got {
            Some(ct) => format!("got '{}'", clip(ct, QUOTE_MAX)),
            None => "got none".to_string(),
        };
        HttpError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("content-type: must be application/json, {got}"),
        )
    }

    /// 401 `unauthorized`.
    pub fn unauthorized() -> HttpError {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "authorization: a valid 'Bearer' token is required",
        )
    }

    /// 429 `too_many_requests` with `Retry-After: 1`.
    pub fn busy(max: u32) -> HttpError {
        HttpError {
            retry_after: Some(1),
            ..HttpError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                format!("more than {max} requests in flight; retry later"),
            )
        }
    }

    /// 503 `not_ready` with `Retry-After: 1`.
    pub fn not_ready() -> HttpError {
        HttpError {
            retry_after: Some(1),
            ..HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "the orchestrator is starting (recovery has not finished); retry later",
            )
        }
    }

    /// 404 `route_not_found`: no such path.
    pub fn route_not_found(method: &str, path: &str) -> HttpError {
        HttpError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!(
                "path: no route for {} {}",
                clip(method, QUOTE_MAX),
                clip(path, QUOTE_MAX)
            ),
        )
    }

    /// 405 `method_not_allowed` with `Allow`.
    pub fn method_not_allowed(method: &str, path: &str, allow: String) -> HttpError {
        HttpError {
            message: format!(
                "method: {method} is not allowed on {}; allowed: {allow}",
                clip(path, QUOTE_MAX)
            ),
            allow: Some(allow),
            ..HttpError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "")
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut b = HttpResponse::build(self.status);
        if let Some(s) = self.retry_after {
            b.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if let Some(a) = &self.allow {
            b.insert_header((header::ALLOW, a.clone()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            b.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        b.json(self.body())
    }
}

/// The status code of a facade error class.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Busy => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::NotSupported => StatusCode::NOT_IMPLEMENTED,
    }
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> HttpError {
        let retry_after = matches!(e.kind, ErrorKind::Busy | ErrorKind::Unavailable).then_some(1);
        HttpError {
            status: status_of(e.kind),
            code: Cow::Borrowed(e.code),
            message: e.message,
            retry_after,
            allow: None,
        }
    }
}
