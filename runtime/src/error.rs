//! The one error type of the facade, shaped like the API's error body.

use serde::Serialize;

/// Most characters of a refused value an error message quotes.
pub const QUOTE_MAX: usize = 128;

/// A refused value as an error message quotes it: in single quotes, at
/// most [`QUOTE_MAX`] characters (then `…`).
pub fn quote(s: &str) -> String {
    format!("'{}'", clip(s, QUOTE_MAX))
}

/// At most `n` characters of `s`.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}

/// The class of an error; the HTTP layer maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ErrorKind {
    /// 400: malformed.
    BadRequest,
    /// 404: unknown id.
    NotFound,
    /// 409: conflicts with state or an earlier request.
    Conflict,
    /// 413: too large.
    TooLarge,
    /// 422: well-formed but invalid.
    Invalid,
    /// 429: shedding load.
    Busy,
    /// 503: not ready, or cannot make changes durable.
    Unavailable,
    /// 501: the running engine does not serve this (a setting does).
    NotSupported,
}

/// An error answered to a caller: nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The class.
    #[serde(skip)]
    pub kind: ErrorKind,
    /// snake_case code.
    pub code: &'static str,
    /// What was wrong, naming the field.
    pub message: String,
}

impl ApiError {
    /// A 422 naming a field.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Invalid,
            code,
            message: message.into(),
        }
    }

    /// A 404.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::NotFound,
            code,
            message: message.into(),
        }
    }

    /// A 409.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Conflict,
            code,
            message: message.into(),
        }
    }

    /// A 503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorKind::Unavailable,
            code: "unavailable",
            message: message.into(),
        }
    }
}

/// The 409 for a cancel the order refused.
pub fn cancel_refused(e: orch_actors::order::OrderRefusal) -> ApiError {
    match e {
        orch_actors::order::OrderRefusal::AlreadyShipped(m) => {
            ApiError::conflict("already_shipped", format!("order has shipped: {m}"))
        }
        e => ApiError::conflict("not_cancellable", e.to_string()),
    }
}
