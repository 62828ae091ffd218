//! What the simulators' handlers return: a response, or an error response boxed to keep results
//! small; and the plain 200 with a JSON body.

use axum::response::{IntoResponse, Response};
use serde_json::Value;

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
