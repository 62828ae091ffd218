//! Response builders: JSON bodies, the API error body and the empty 401.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

pub(crate) use crate::sim_reply::{Fail, Reply, ok};

/// The API error body `{"status":"Error","error":{"code","message"}}` with `status`.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Fail {
    let body = json!({
        "status": "Error",
        "error": {"code": code, "message": message.into()},
    });
    (status, axum::Json(body)).into_response().into()
}

/// 400 naming what is wrong.
pub(crate) fn bad_request(message: impl Into<String>) -> Fail {
    error(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
}

/// 404 naming what is missing.
pub(crate) fn not_found(message: impl Into<String>) -> Fail {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", message)
}

/// 409: the tenant's single job slot is taken.
pub(crate) fn job_in_progress(tenant: &str, kind: &str, id: &str) -> Fail {
    let message = format!(
        "tenant {tenant} already has a job in progress ({kind} {id}); only one ImpEx job may run per tenant"
    );
    error(StatusCode::CONFLICT, "JOB_IN_PROGRESS", message)
}

/// 401 with an empty body and `www-authenticate: Bearer`.
pub(crate) fn unauthorized() -> Fail {
    let response = (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
    )
        .into_response();
    response.into()
}

/// 429 with `retry-after` and `x-retry-after` set to `seconds`.
pub(crate) fn rate_limited(seconds: u64) -> Fail {
    let message = format!("too many requests; retry after {seconds} s");
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", message);
    let value = HeaderValue::from(seconds);
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, value.clone());
    headers.insert("x-retry-after", value);
    response
}

/// 500 (an injected fault).
pub(crate) fn server_error() -> Fail {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "simulated internal server error",
    )
}
