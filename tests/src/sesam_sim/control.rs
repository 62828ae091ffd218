//! The unauthenticated control API under `/_sim`: seed nodes and read them back; arming and
//! clearing faults, the request log and reset are [`crate::sim_kit::control`]'s routes.

use axum::body::Bytes;
use axum::extract::{Path, State};

use super::model::NodeSeed;
use super::reply::{self, Reply};
use super::state::Store;
use crate::sim_kit::control::{ControlStore, done, parse};

/// `POST /_sim/nodes` with a node seed: creates or replaces the node.
pub(crate) async fn add_node(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: NodeSeed = parse(&body, "node seed", reply::bad_request)?;
    store.add_node(seed).map_err(reply::bad_request)?;
    Ok(done())
}

/// `GET /_sim/nodes/{name}`: the node's view.
pub(crate) async fn node(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    let view = store.node(&name).ok_or_else(|| Store::missing(&name))?;
    Ok(reply::ok(serde_json::json!(view)))
}
