//! The unauthenticated control API under `/_sim`: seed tenants and read them back; injecting
//! faults, the request log and reset are [`crate::sim_kit::control`]'s routes over this store.

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::json;

use super::model::TenantSeed;
use super::reply::{self, Reply};
use super::state::Store;
use crate::sim_kit::control::{ControlStore, done, parse};

/// `POST /_sim/tenants` with a tenant seed.
pub(crate) async fn add_tenant(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: TenantSeed = parse(&body, "tenant seed", reply::bad_request)?;
    if seed.name.is_empty() {
        return Err(reply::bad_request("name is required"));
    }
    store.add_tenant(seed);
    Ok(done())
}

/// `GET /_sim/tenants/{name}`.
pub(crate) async fn tenant(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    let view = store.tenant(&name).ok_or_else(|| Store::missing(&name))?;
    Ok(reply::ok(json!(view)))
}
