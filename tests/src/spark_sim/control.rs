//! The unauthenticated control API under `/_sim`: seed tenants, read them back, inject faults, read
//! the request log, reset everything.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::model::{Fault, TenantSeed};
use super::reply::{self, Fail, Reply};
use super::state::Store;

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Fail> {
    serde_json::from_slice(body)
        .map_err(|e| reply::bad_request(format!("body is not a {what}: {e}")))
}

/// `POST /_sim/tenants` with a tenant seed.
pub(crate) async fn add_tenant(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: TenantSeed = parse(&body, "tenant seed")?;
    if seed.name.is_empty() {
        return Err(reply::bad_request("name is required"));
    }
    store.add_tenant(seed);
    Ok(reply::ok(json!({})))
}

/// `GET /_sim/tenants/{name}`.
pub(crate) async fn tenant(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    let view = store
        .tenant(&name)
        .ok_or_else(|| reply::not_found(format!("tenant {name} not found")))?;
    Ok(reply::ok(json!(view)))
}

/// `POST /_sim/tenants/{name}/faults` with a fault.
pub(crate) async fn inject(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let fault: Fault = parse(&body, "fault")?;
    if !store.inject(&name, fault) {
        return Err(reply::not_found(format!("tenant {name} not found")));
    }
    Ok(reply::ok(json!({})))
}

/// `GET /_sim/requests`.
pub(crate) async fn requests(State(store): State<Store>) -> Response {
    reply::ok(json!(store.requests()))
}

/// `POST /_sim/reset`.
pub(crate) async fn reset(State(store): State<Store>) -> Response {
    store.reset();
    reply::ok(json!({}))
}
