//! Environment variables and secrets. `GET /env` answers the map; `PUT /env` replaces it,
//! `POST /env` adds or updates keys; `DELETE /env/{key}` removes one (404 when absent). Secrets
//! work the same way with string values, except that `GET /secrets` and every write answer only
//! the sorted names: values are never readable.

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use super::reply::{self, Fail, Reply};
use super::state::{Node, Store};
use super::write::{self, node};

/// Replace the whole map, or merge into it.
#[derive(Clone, Copy)]
enum Mode {
    Replace,
    Merge,
}

/// `GET /{node}/api/env`.
pub(crate) async fn env(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    store.with(|s| Ok(reply::ok(Value::Object(node(s, &name)?.env.clone()))))
}

/// `PUT /{node}/api/env` with a JSON object: the new map.
pub(crate) async fn replace_env(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    write_env(&store, &name, &body, Mode::Replace)
}

/// `POST /{node}/api/env` with a JSON object: the merged map.
pub(crate) async fn merge_env(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    write_env(&store, &name, &body, Mode::Merge)
}

fn write_env(store: &Store, name: &str, body: &[u8], mode: Mode) -> Reply {
    let vars = object(body, "variable names to values")?;
    store.with(|s| {
        let n = node(s, name)?;
        if let Mode::Replace = mode {
            n.env.clear();
        }
        n.env.extend(vars);
        Ok(reply::ok(Value::Object(n.env.clone())))
    })
}

/// `DELETE /{node}/api/env/{key}`.
pub(crate) async fn delete_env(
    State(store): State<Store>,
    Path((name, key)): Path<(String, String)>,
) -> Reply {
    store.with(|s| {
        let removed = node(s, &name)?.env.remove(&key);
        removed.ok_or_else(|| reply::not_found(format!("variable {key} not found")))?;
        Ok(reply::ok(json!({})))
    })
}

/// `GET /{node}/api/secrets`: the names only.
pub(crate) async fn secrets(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    store.with(|s| Ok(reply::ok(secret_names(node(s, &name)?))))
}

/// `PUT /{node}/api/secrets` with a JSON object of strings: the new names.
pub(crate) async fn replace_secrets(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    write_secrets(&store, &name, &body, Mode::Replace)
}

/// `POST /{node}/api/secrets` with a JSON object of strings: the merged names.
pub(crate) async fn merge_secrets(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    write_secrets(&store, &name, &body, Mode::Merge)
}

fn write_secrets(store: &Store, name: &str, body: &[u8], mode: Mode) -> Reply {
    let values = strings(object(body, "secret names to string values")?)?;
    store.with(|s| {
        let n = node(s, name)?;
        if let Mode::Replace = mode {
            n.secrets.clear();
        }
        n.secrets.extend(values);
        Ok(reply::ok(secret_names(n)))
    })
}

/// `DELETE /{node}/api/secrets/{key}`.
pub(crate) async fn delete_secret(
    State(store): State<Store>,
    Path((name, key)): Path<(String, String)>,
) -> Reply {
    store.with(|s| {
        let removed = node(s, &name)?.secrets.remove(&key);
        removed.ok_or_else(|| reply::not_found(format!("secret {key} not found")))?;
        Ok(reply::ok(json!({})))
    })
}

fn secret_names(node: &Node) -> Value {
    json!(node.secrets.keys().collect::<Vec<_>>())
}

/// The JSON object of `body`, or 400 saying it must map `what`.
fn object(body: &[u8], what: &str) -> Result<Map<String, Value>, Fail> {
    match write::json(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(reply::bad_request(format!(
            "body must be a JSON object of {what}"
        ))),
    }
}

fn strings(map: Map<String, Value>) -> Result<Vec<(String, String)>, Fail> {
    map.into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key, text)),
            _ => Err(reply::bad_request(format!("secret {key} must be a string"))),
        })
        .collect()
}
