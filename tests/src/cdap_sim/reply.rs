//! Response builders in the three shapes the simulator speaks: Google API errors
//! (`{"error": {"code", "message", "status"}}`, also what the Data Fusion proxy answers for a bad
//! token or an injected fault), OAuth token endpoint errors (`{"error", "error_description"}`),
//! and CDAP's own plain-text error messages.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub(crate) use crate::sim_reply::{Fail, Reply, ok};
use crate::sim_reply::{json_error, retry_after};

/// `status` with a Google API error body whose `status` is `reason`.
pub(crate) fn google(status: StatusCode, reason: &str, message: impl Into<String>) -> Fail {
    let body = json!({"error": {
        "code": status.as_u16(),
        "message": message.into(),
        "status": reason,
    }});
    json_error(status, body)
}

/// 401 UNAUTHENTICATED: no valid, unexpired token (or an injected fault).
pub(crate) fn unauthenticated() -> Fail {
    google(
        StatusCode::UNAUTHORIZED,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
    )
}

/// 404 NOT_FOUND naming what is missing.
pub(crate) fn google_not_found(message: impl Into<String>) -> Fail {
    google(StatusCode::NOT_FOUND, "NOT_FOUND", message)
}

/// 429 RESOURCE_EXHAUSTED with `Retry-After: seconds`.
pub(crate) fn throttled(seconds: u64) -> Fail {
    let text = format!("Quota exceeded; retry after {seconds} s");
    let fail = google(StatusCode::TOO_MANY_REQUESTS, "RESOURCE_EXHAUSTED", text);
    retry_after(fail, seconds)
}

/// 500 INTERNAL (an injected fault).
pub(crate) fn server_error() -> Fail {
    let text = "simulated internal error";
    google(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", text)
}

/// 400 from a token endpoint: `{"error": code, "error_description": description}`.
pub(crate) fn oauth(code: &str, description: impl Into<String>) -> Fail {
    let body = json!({"error": code, "error_description": description.into()});
    json_error(StatusCode::BAD_REQUEST, body)
}

/// `status` with CDAP's plain-text message.
pub(crate) fn text(status: StatusCode, message: impl Into<String>) -> Fail {
    let content_type = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    (status, content_type, message.into())
        .into_response()
        .into()
}

/// 400 with a plain-text message.
pub(crate) fn bad_request(message: impl Into<String>) -> Fail {
    text(StatusCode::BAD_REQUEST, message)
}

/// 404 with a plain-text message.
pub(crate) fn not_found(message: impl Into<String>) -> Fail {
    text(StatusCode::NOT_FOUND, message)
}

/// 409 with a plain-text message.
pub(crate) fn conflict(message: impl Into<String>) -> Fail {
    text(StatusCode::CONFLICT, message)
}

/// 200 with a plain-text message.
pub(crate) fn done(message: impl Into<String>) -> Response {
    (StatusCode::OK, message.into()).into_response()
}

/// 200 with an empty body.
pub(crate) fn empty() -> Response {
    StatusCode::OK.into_response()
}
