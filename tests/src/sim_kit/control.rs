//! The control API routes the simulators with per-key faults share (a key is a tenant, a node or
//! an organization): arm a fault on a key, disarm them all, read the request log, reset; the 404
//! of an unknown route; and what the request log keeps of an API call. Each simulator says how
//! its store does these and answers errors in its own body shape; the handlers are the same.

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::sim_reply::{Fail, Reply, ok};

/// The JSON body of a control request as `T`, or `bad_request` naming `what` was expected.
pub fn parse<T: DeserializeOwned>(
    body: &[u8],
    what: &str,
    bad_request: impl FnOnce(String) -> Fail,
) -> Result<T, Fail> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("body is not a {what}: {e}")))
}

/// 200 with `{}`: the control request was done.
pub fn done() -> Response {
    ok(json!({}))
}

/// A simulator store seen from its control API: faults armed per key (a tenant, a node, an
/// organization), a request log, a reset, and the simulator's own error body.
pub trait ControlStore: Clone + Send + Sync + 'static {
    /// What a key is called in messages (`node`, `org`, `tenant`).
    const KEY: &'static str;
    /// What `POST .../{key}/faults` takes.
    type Fault: DeserializeOwned;
    /// One entry of the request log.
    type Record: Serialize;

    /// Arms `fault` on `key`; false when there is no such key.
    fn inject(&self, key: &str, fault: Self::Fault) -> bool;
    /// Disarms every fault of `key`; false when there is no such key.
    fn clear_faults(&self, key: &str) -> bool;
    /// The request log, oldest first.
    fn requests(&self) -> Vec<Self::Record>;
    /// Drops everything.
    fn reset(&self);
    /// `status` with `text` in the simulator's error body.
    fn error(status: StatusCode, text: String) -> Fail;

    /// The 404 for a key the store does not have.
    fn missing(key: &str) -> Fail {
        Self::error(
            StatusCode::NOT_FOUND,
            format!("{} {key} not found", Self::KEY),
        )
    }
}

/// `POST .../{key}/faults` with a fault: arms it.
pub async fn inject<T: ControlStore>(
    State(store): State<T>,
    Path(key): Path<String>,
    body: Bytes,
) -> Reply {
    let bad_request = |text| T::error(StatusCode::BAD_REQUEST, text);
    let fault = parse(&body, "fault", bad_request)?;
    if !store.inject(&key, fault) {
        return Err(T::missing(&key));
    }
    Ok(done())
}

/// `DELETE .../{key}/faults`: disarms every fault of the key.
pub async fn clear_faults<T: ControlStore>(
    State(store): State<T>,
    Path(key): Path<String>,
) -> Reply {
    if !store.clear_faults(&key) {
        return Err(T::missing(&key));
    }
    Ok(done())
}

/// `GET .../requests`: the request log, oldest first.
pub async fn requests<T: ControlStore>(State(store): State<T>) -> Response {
    ok(json!(store.requests()))
}

/// `POST .../reset`: drops everything.
pub async fn reset<T: ControlStore>(State(store): State<T>) -> Response {
    store.reset();
    done()
}

/// The fallback: 404 naming the method and path no route serves.
pub async fn unknown_route<T: ControlStore>(request: Request) -> Fail {
    let text = format!("no route for {} {}", request.method(), request.uri().path());
    T::error(StatusCode::NOT_FOUND, text)
}

/// What the request log keeps of an API call.
pub struct Call {
    /// The HTTP method.
    pub method: String,
    /// The path as received (still percent-encoded), without the query.
    pub path: String,
    /// The query string, when there was one.
    pub query: Option<String>,
}

/// The call `request` makes, or `None` for a control request (`control` or a path below it),
/// which the log leaves out.
pub fn api_call(request: &Request, control: &str) -> Option<Call> {
    let path = request.uri().path();
    let below = path.strip_prefix(control);
    if below.is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    Some(Call {
        method: request.method().to_string(),
        path: path.to_string(),
        query: request.uri().query().map(str::to_string),
    })
}
