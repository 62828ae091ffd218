//! Response builders: JSON bodies, the node's pretty config, zips, the `{"message": ...}` error
//! body, `validation_errors` refusals and the fault replies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::render::pretty;

pub(crate) use crate::sim_reply::{Fail, Reply, message, ok};
use crate::sim_reply::{json_error, retry_after};

/// 201 with a JSON body.
pub(crate) fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// 200 with `body` printed the node's way.
pub(crate) fn pretty_json(body: &Value) -> Response {
    let content_type = [(header::CONTENT_TYPE, "application/json")];
    (content_type, pretty(body)).into_response()
}

/// 200 with a zip.
pub(crate) fn zip(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/zip")], bytes).into_response()
}

/// 400 naming what is wrong.
pub(crate) fn bad_request(text: impl Into<String>) -> Fail {
    message(StatusCode::BAD_REQUEST, text)
}

/// 404 naming what is missing.
pub(crate) fn not_found(text: impl Into<String>) -> Fail {
    message(StatusCode::NOT_FOUND, text)
}

/// 409 naming what already exists.
pub(crate) fn conflict(text: impl Into<String>) -> Fail {
    message(StatusCode::CONFLICT, text)
}

/// 400 with `{"validation_errors": reports}`.
pub(crate) fn invalid(reports: Vec<Value>) -> Fail {
    json_error(
        StatusCode::BAD_REQUEST,
        json!({"validation_errors": reports}),
    )
}

/// 401 with `www-authenticate: Bearer`.
pub(crate) fn unauthorized() -> Fail {
    let mut fail = message(
        StatusCode::UNAUTHORIZED,
        "a valid JWT is required: Authorization: Bearer <jwt>",
    );
    let value = HeaderValue::from_static("Bearer");
    fail.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    fail
}

/// 429 with `Retry-After: seconds`.
pub(crate) fn throttled(seconds: u64) -> Fail {
    let text = format!("too many requests; retry after {seconds} s");
    retry_after(message(StatusCode::TOO_MANY_REQUESTS, text), seconds)
}

/// 500 (an injected fault).
pub(crate) fn server_error() -> Fail {
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        "simulated internal server error",
    )
}
