//! The unauthenticated control API under `/control`: seed organizations and instances, change,
//! re-spec, rotate and delete instances, read the request log (of one organization) and counts;
//! arming and clearing faults and reset are [`crate::sim_kit::control`]'s routes.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::model::{InstanceChange, InstanceSeed, OrgSeed};
use super::reply::{self, Fail, Reply};
use super::state::Store;
use crate::sim_kit::control::{ControlStore, done};

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Fail> {
    crate::sim_kit::control::parse(body, what, reply::bad_request)
}

fn no_org(name: &str) -> Fail {
    Store::missing(name)
}

fn no_instance(id: i64) -> Fail {
    reply::not_found(format!("instance {id} not found"))
}

/// `POST /control/orgs` with an org seed: creates or replaces the organization; its view.
pub(crate) async fn add_org(State(store): State<Store>, body: Bytes) -> Reply {
    let seed: OrgSeed = parse(&body, "org seed")?;
    let view = store.add_org(seed).map_err(reply::bad_request)?;
    Ok(reply::ok(json!(view)))
}

/// `GET /control/orgs/{org}`: the organization with its instances and faults.
pub(crate) async fn org(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    let view = store.org(&name).ok_or_else(|| no_org(&name))?;
    Ok(reply::ok(json!(view)))
}

/// `POST /control/orgs/{org}/instances` with an instance seed: adds it; its view (with its id).
pub(crate) async fn add_instance(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let seed: InstanceSeed = parse(&body, "instance seed")?;
    if store.org(&name).is_none() {
        return Err(no_org(&name));
    }
    let view = store
        .add_instance(&name, seed)
        .map_err(reply::bad_request)?;
    Ok(reply::ok(json!(view)))
}

/// `GET /control/instances/{id}`: the instance's view.
pub(crate) async fn instance(State(store): State<Store>, Path(id): Path<i64>) -> Reply {
    let view = store.instance(id).ok_or_else(|| no_instance(id))?;
    Ok(reply::ok(json!(view)))
}

/// `PATCH /control/instances/{id}` with an instance change (`name`, `tags`, `disabled`,
/// `valid`): applies it; the new view.
pub(crate) async fn change(State(store): State<Store>, Path(id): Path<i64>, body: Bytes) -> Reply {
    let change: InstanceChange = parse(&body, "instance change")?;
    let view = store.change(id, change).ok_or_else(|| no_instance(id))?;
    Ok(reply::ok(json!(view)))
}

/// `POST /control/instances/{id}/token`: a new random token, `{"token": ...}`.
pub(crate) async fn rotate(State(store): State<Store>, Path(id): Path<i64>) -> Reply {
    let token = store.rotate_token(id).ok_or_else(|| no_instance(id))?;
    Ok(reply::ok(json!({"token": token})))
}

/// `PUT /control/instances/{id}/spec` with a JSON object: serves it as the whole document.
pub(crate) async fn set_spec(
    State(store): State<Store>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Reply {
    let spec: Value = parse(&body, "JSON document")?;
    if !spec.is_object() {
        return Err(reply::bad_request("the spec must be a JSON object"));
    }
    if !store.set_spec(id, spec) {
        return Err(no_instance(id));
    }
    Ok(done())
}

/// The body of `POST /control/instances/{id}/spec/paths`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddPath {
    path: String,
    item: Value,
}

/// `POST /control/instances/{id}/spec/paths` with `{"path": "/x", "item": {...}}`: adds or
/// replaces that path item of the document.
pub(crate) async fn add_path(
    State(store): State<Store>,
    Path(id): Path<i64>,
    body: Bytes,
) -> Reply {
    let added: AddPath = parse(&body, "path item ({path, item})")?;
    if !added.path.starts_with('/') {
        return Err(reply::bad_request("path must start with /"));
    }
    if !store.add_path(id, &added.path, added.item) {
        return Err(no_instance(id));
    }
    Ok(done())
}

/// `DELETE /control/instances/{id}`: deletes the instance.
pub(crate) async fn delete(State(store): State<Store>, Path(id): Path<i64>) -> Reply {
    if !store.delete(id) {
        return Err(no_instance(id));
    }
    Ok(done())
}

/// The `org` query parameter of the log and counts reads.
#[derive(Deserialize)]
pub(crate) struct OrgFilter {
    org: Option<String>,
}

/// `GET /control/requests[?org=NAME]`: the request log, oldest first (one organization's when
/// named).
pub(crate) async fn requests(
    State(store): State<Store>,
    Query(filter): Query<OrgFilter>,
) -> Response {
    let mut log = store.requests();
    if let Some(org) = filter.org {
        log.retain(|r| r.org.as_deref() == Some(org.as_str()));
    }
    reply::ok(json!(log))
}

/// `GET /control/counts?org=NAME`: that organization's requests counted.
pub(crate) async fn counts(State(store): State<Store>, Query(filter): Query<OrgFilter>) -> Reply {
    let org = filter
        .org
        .ok_or_else(|| reply::bad_request("counts need ?org=NAME"))?;
    Ok(reply::ok(json!(store.counts(&org))))
}
