//! Response builders: the `{"requestId": ..., "message": ...}` error body of every refusal, the
//! fault replies, and the instance list with its next-page header.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

pub(crate) use crate::sim_reply::{Fail, Reply, ok};
use crate::sim_reply::{json_error, retry_after};

/// The response header that carries the cursor of the next page.
pub const NEXT_PAGE_HEADER: &str = "elements-next-page-token";

/// A fresh request id, hex like the service's.
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:08x}{:016x}",
        fastrand::u32(..),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `status` with `{"requestId": ..., "message": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Fail {
    let body = json!({"requestId": request_id(), "message": message.into()});
    json_error(status, body)
}

/// 400 naming what is wrong.
pub(crate) fn bad_request(text: impl Into<String>) -> Fail {
    error(StatusCode::BAD_REQUEST, text)
}

/// 404 naming what is missing.
pub(crate) fn not_found(text: impl Into<String>) -> Fail {
    error(StatusCode::NOT_FOUND, text)
}

/// 401: missing or wrong secrets (or an injected fault).
pub(crate) fn unauthorized() -> Fail {
    error(
        StatusCode::UNAUTHORIZED,
        "Invalid Organization or User secret: expected Authorization: User <user secret>, Organization <organization secret>",
    )
}

/// 429 with `Retry-After: seconds`.
pub(crate) fn throttled(seconds: u64) -> Fail {
    let text = format!("Too many requests; retry after {seconds} s");
    retry_after(error(StatusCode::TOO_MANY_REQUESTS, text), seconds)
}

/// 500 (an injected fault).
pub(crate) fn server_error() -> Fail {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "simulated internal server error",
    )
}

/// 200 with the page as a JSON array and, when more follow, the next page's cursor.
pub(crate) fn page(instances: Vec<Value>, next: Option<String>) -> Response {
    let mut response = ok(Value::Array(instances));
    if let Some(token) = next.and_then(|t| HeaderValue::from_str(&t).ok()) {
        let name = HeaderName::from_static(NEXT_PAGE_HEADER);
        response.headers_mut().insert(name, token);
    }
    response
}
