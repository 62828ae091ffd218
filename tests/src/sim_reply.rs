//! What the simulators' handlers return: a response, or an error response boxed to keep results
//! small; the plain 200 with a JSON body; error bodies (any JSON, or `{"message": ...}`) and the
//! `Retry-After` header of a throttled answer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What a handler returns: the answer, or an error response.
pub type Reply = Result<Response, Fail>;

/// An error response, boxed to keep results small.
pub struct Fail(Box<Response>);

impl From<Response> for Fail {
    fn from(response: Response) -> Self {
        Fail(Box::new(response))
    }
}

impl Fail {
    /// The response's headers, to add to them.
    pub fn headers_mut(&mut self) -> &mut axum::http::HeaderMap {
        self.0.headers_mut()
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// 200 with a JSON body.
pub fn ok(body: Value) -> Response {
    axum::Json(body).into_response()
}

/// `status` with the JSON `body`.
pub fn json_error(status: StatusCode, body: Value) -> Fail {
    (status, axum::Json(body)).into_response().into()
}

/// `status` with `{"message": text}`.
pub fn message(status: StatusCode, text: impl Into<String>) -> Fail {
    json_error(status, json!({"message": text.into()}))
}

/// `fail` with `Retry-After: seconds`.
pub fn retry_after(mut fail: Fail, seconds: u64) -> Fail {
    let value = HeaderValue::from(seconds);
    fail.headers_mut().insert(header::RETRY_AFTER, value);
    fail
}
