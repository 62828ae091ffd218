//! The unauthenticated control API under `/_sim`: seed nodes, read them back, arm and clear
//! faults, read the request log, reset everything.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::model::{Fault, NodeSeed};
use super::reply::{self, Fail, Reply};
use super::state::Store;

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Fail> {
    serde_json::from_slice(body)
        .map_err(|e| reply::bad_request(format!("body is not a {what}: {e}")))
}

fn missing(name: &str) -> Fail {
    reply::not_found(format!("node {name} not found"))
}

/// `POST /_sim/nodes` with a node seed: creates or replaces the node.
pub(crate) async fn add_node(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: NodeSeed = parse(&body, "node seed")?;
    store.add_node(seed).map_err(reply::bad_request)?;
    Ok(reply::ok(json!({})))
}

/// `GET /_sim/nodes/{name}`: the node's view.
pub(crate) async fn node(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    let view = store.node(&name).ok_or_else(|| missing(&name))?;
    Ok(reply::ok(json!(view)))
}

/// `POST /_sim/nodes/{name}/faults` with a fault: arms it.
pub(crate) async fn inject(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let fault: Fault = parse(&body, "fault")?;
    if !store.inject(&name, fault) {
        return Err(missing(&name));
    }
    Ok(reply::ok(json!({})))
}

/// `DELETE /_sim/nodes/{name}/faults`: disarms every fault of the node.
pub(crate) async fn clear_faults(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    if !store.clear_faults(&name) {
        return Err(missing(&name));
    }
    Ok(reply::ok(json!({})))
}

/// `GET /_sim/requests`: the request log, oldest first.
pub(crate) async fn requests(State(store): State<Store>) -> Response {
    reply::ok(json!(store.requests()))
}

/// `POST /_sim/reset`: drops every node and logged request.
pub(crate) async fn reset(State(store): State<Store>) -> Response {
    store.reset();
    reply::ok(json!({}))
}
