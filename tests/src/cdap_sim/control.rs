//! The unauthenticated control API under `/control`: seed service accounts, pools and instances,
//! read an instance's whole state, force how an app's runs end, arm token endpoint faults,
//! expire every token, read the counts; arming and clearing an instance's faults, the request
//! log and reset are [`crate::sim_kit::control`]'s routes.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::model::{Fault, InstanceSeed, Outcome, PoolSeed, ServiceAccountSeed};
use super::reply::{Fail, Reply, ok};
use super::state::Store;
use crate::sim_kit::control::{ControlStore, done};
use crate::sim_reply::message;

fn bad_request(text: String) -> Fail {
    message(axum::http::StatusCode::BAD_REQUEST, text)
}

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Fail> {
    crate::sim_kit::control::parse(body, what, bad_request)
}

/// `POST /control/instances` with an instance seed: creates or replaces it; its state.
pub(crate) async fn add_instance(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: InstanceSeed = parse(&body, "instance seed")?;
    Ok(ok(store.add_instance(seed).map_err(bad_request)?))
}

/// `GET /control/instances/{name}`: the instance's whole state.
pub(crate) async fn instance(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    store
        .instance(&name)
        .map(ok)
        .ok_or_else(|| Store::missing(&name))
}

/// `POST /control/instances/{name}/outcome` with `{namespace, app, status, steps?}`.
pub(crate) async fn outcome(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let outcome: Outcome = parse(&body, "run outcome")?;
    store
        .set_outcome(&name, outcome)
        .map_err(|_| Store::missing(&name))?;
    Ok(done())
}

/// `POST /control/faults` with a fault: arms it on the token endpoints.
pub(crate) async fn google_fault(State(store): State<Store>, body: Bytes) -> Reply {
    let fault: Fault = parse(&body, "fault")?;
    store.inject_google(fault);
    Ok(done())
}

/// `POST /control/service-accounts` with a service-account seed.
pub(crate) async fn add_service_account(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: ServiceAccountSeed = parse(&body, "service account")?;
    store.add_service_account(seed).map_err(bad_request)?;
    Ok(done())
}

/// `POST /control/pools` with a pool seed.
pub(crate) async fn add_pool(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: PoolSeed = parse(&body, "pool")?;
    store.add_pool(seed).map_err(bad_request)?;
    Ok(done())
}

/// `POST /control/tokens/expire`: every issued token is refused from now on.
pub(crate) async fn expire_tokens(State(store): State<Store>) -> Response {
    store.expire_tokens();
    done()
}

/// `GET /control/counts`: deploys per instance, namespace and app; token grants by kind.
pub(crate) async fn counts(State(store): State<Store>) -> Response {
    ok(json!(store.counts()))
}
