//! Response builders: the gateway-style error body `/graphql` refuses with (401, 429, 500), the
//! OAuth2 error body of the token endpoint (RFC 6749 §5.2), and the `{"message": ...}` errors of
//! the control API.

use axum::http::{HeaderValue, StatusCode, header};
use serde_json::json;

pub(crate) use crate::sim_reply::{Fail, Reply, message, ok};
use crate::sim_reply::{json_error, retry_after};

/// `status` with `{"error": {"code", "status", "message"}}`.
fn gateway(status: StatusCode, message: &str) -> Fail {
    let reason = status.canonical_reason().unwrap_or_default();
    let body = json!({"error": {"code": status.as_u16(), "status": reason, "message": message}});
    json_error(status, body)
}

/// 401 with `WWW-Authenticate: Bearer`.
pub(crate) fn unauthorized(message: &str) -> Fail {
    let mut fail = gateway(StatusCode::UNAUTHORIZED, message);
    let value = HeaderValue::from_static("Bearer");
    fail.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    fail
}

/// 429 with `Retry-After: seconds`.
pub(crate) fn throttled(seconds: u64) -> Fail {
    let message = format!("rate limit exceeded; retry after {seconds} s");
    retry_after(gateway(StatusCode::TOO_MANY_REQUESTS, &message), seconds)
}

/// 500 (an injected fault).
pub(crate) fn server_error() -> Fail {
    gateway(
        StatusCode::INTERNAL_SERVER_ERROR,
        "simulated internal server error",
    )
}

/// An OAuth2 error: `status` with `{"error": code, "error_description": description}`.
pub(crate) fn oauth(status: StatusCode, code: &str, description: &str) -> Fail {
    let body = json!({"error": code, "error_description": description});
    json_error(status, body)
}

/// 400 naming what is wrong.
pub(crate) fn bad_request(text: impl Into<String>) -> Fail {
    message(StatusCode::BAD_REQUEST, text)
}

/// 404 naming what is missing.
pub(crate) fn not_found(text: impl Into<String>) -> Fail {
    message(StatusCode::NOT_FOUND, text)
}
