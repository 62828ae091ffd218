//! Preferences, string maps on the instance (`/v3/preferences`), a namespace
//! (`/v3/namespaces/{ns}/preferences`) or an app (`.../apps/{app}/preferences`): `GET`
//! (`?resolved=true` merges instance < namespace < app), `PUT` (replaces the map; every value
//! must be a string) and `DELETE`, each only on an entity that exists.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::instance::Instance;
use super::super::reply::{self, Fail, Reply};
use super::super::state::Store;
use super::{Params, app, namespace, with_instance};

/// `?resolved=true`.
#[derive(Deserialize)]
pub(crate) struct Resolved {
    resolved: Option<bool>,
}

/// The preferences of the entity the path names; a 404 naming a missing one.
fn level<'a>(i: &'a mut Instance, p: &Params) -> Result<&'a mut BTreeMap<String, String>, Fail> {
    match (p.ns.as_deref(), p.app.as_deref()) {
        (None, _) => Ok(&mut i.preferences),
        (Some(ns), None) => Ok(&mut namespace(i, ns)?.preferences),
        (Some(ns), Some(a)) => Ok(&mut app(i, ns, a)?.preferences),
    }
}

/// `GET .../preferences[?resolved=true]`.
pub(crate) async fn get(
    State(store): State<Store>,
    Path(p): Path<Params>,
    Query(q): Query<Resolved>,
) -> Reply {
    with_instance(&store, &p.inst, |i| {
        let own = level(i, &p)?.clone();
        let map = if q.resolved == Some(true) {
            i.resolved(p.ns.as_deref(), p.app.as_deref())
        } else {
            own
        };
        Ok(reply::ok(json!(map)))
    })
}

/// A PUT body: a JSON object of strings.
fn string_map(body: &[u8]) -> Result<BTreeMap<String, String>, Fail> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| reply::bad_request(format!("Invalid preferences body: {e}")))?;
    let object = value
        .as_object()
        .ok_or_else(|| reply::bad_request("Preferences must be a JSON object"))?;
    let entry = |(key, value): (&String, &Value)| match value {
        Value::String(text) => Ok((key.clone(), text.clone())),
        _ => Err(reply::bad_request(format!(
            "Preference {key} must be a string"
        ))),
    };
    object.iter().map(entry).collect()
}

/// `PUT .../preferences`: replaces the map.
pub(crate) async fn put(State(store): State<Store>, Path(p): Path<Params>, body: Bytes) -> Reply {
    let map = string_map(&body)?;
    with_instance(&store, &p.inst, |i| {
        *level(i, &p)? = map;
        Ok(reply::empty())
    })
}

/// `DELETE .../preferences`: empties the map.
pub(crate) async fn delete(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        level(i, &p)?.clear();
        Ok(reply::empty())
    })
}
