//! `GET /v3/version`, namespaces (`GET /v3/namespaces`, `GET|PUT|DELETE /v3/namespaces/{ns}`,
//! `PUT .../properties`) and `GET .../artifacts`. As in CDAP, `PUT` on an existing namespace
//! answers 200 "already exists" and changes nothing (updates go through `properties`);
//! `default` cannot be deleted, `system` and `cdap` are reserved; deleting a namespace drops its
//! apps, runs, profiles and preferences.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::super::instance::{Namespace, RESERVED, namespace_name};
use super::super::reply::{self, Fail, Reply};
use super::super::state::Store;
use super::{Params, namespace, no_namespace, with_instance};

/// `GET /v3/version`.
pub(crate) async fn version(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        Ok(reply::ok(json!({"version": i.version})))
    })
}

/// `GET /v3/namespaces`.
pub(crate) async fn list(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        let all: Vec<Value> = i.namespaces.iter().map(|(n, ns)| ns.json(n)).collect();
        Ok(reply::ok(Value::Array(all)))
    })
}

/// `GET /v3/namespaces/{ns}`.
pub(crate) async fn get(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        Ok(reply::ok(namespace(i, p.ns())?.json(p.ns())))
    })
}

/// What a namespace body may set: its description and config.
type Meta = (Option<String>, Option<Map<String, Value>>);

/// The `description` and `config` of a namespace body (empty body: neither).
fn meta(body: &[u8]) -> Result<Meta, Fail> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((None, None));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| reply::bad_request(format!("Invalid namespace body: {e}")))?;
    let description = value
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    let config = match value.get("config") {
        None | Some(Value::Null) => None,
        Some(Value::Object(config)) => Some(config.clone()),
        Some(_) => {
            return Err(reply::bad_request(
                "The namespace config must be a JSON object",
            ));
        }
    };
    Ok((description, config))
}

fn check_name(ns: &str) -> Result<(), Fail> {
    if RESERVED.contains(&ns) {
        return Err(reply::bad_request(format!(
            "'{ns}' is a reserved namespace."
        )));
    }
    if !namespace_name(ns) {
        return Err(reply::bad_request(format!(
            "Namespace id '{ns}' is invalid: use letters, digits and _"
        )));
    }
    Ok(())
}

/// `PUT /v3/namespaces/{ns}`: creates it; an existing one is left as it is.
pub(crate) async fn create(
    State(store): State<Store>,
    Path(p): Path<Params>,
    body: Bytes,
) -> Reply {
    let ns = p.ns();
    check_name(ns)?;
    let (description, config) = meta(&body)?;
    with_instance(&store, &p.inst, |i| {
        if i.namespaces.contains_key(ns) {
            return Ok(reply::done(format!("Namespace '{ns}' already exists.")));
        }
        let namespace = Namespace {
            description: description.unwrap_or_default(),
            config: config.unwrap_or_default(),
            ..Namespace::default()
        };
        i.namespaces.insert(ns.to_string(), namespace);
        Ok(reply::done(format!(
            "Namespace '{ns}' created successfully."
        )))
    })
}

/// `PUT /v3/namespaces/{ns}/properties`: sets the description and config keys given.
pub(crate) async fn update(
    State(store): State<Store>,
    Path(p): Path<Params>,
    body: Bytes,
) -> Reply {
    let (description, config) = meta(&body)?;
    with_instance(&store, &p.inst, |i| {
        let namespace = namespace(i, p.ns())?;
        if let Some(description) = description {
            namespace.description = description;
        }
        namespace.config.extend(config.unwrap_or_default());
        Ok(reply::done(format!(
            "Updated properties for namespace '{}'.",
            p.ns()
        )))
    })
}

/// `DELETE /v3/namespaces/{ns}`.
pub(crate) async fn delete(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    let ns = p.ns();
    if ns == "default" {
        return Err(reply::text(
            StatusCode::FORBIDDEN,
            "Namespace 'default' cannot be deleted.",
        ));
    }
    check_name(ns)?;
    with_instance(&store, &p.inst, |i| {
        i.namespaces.remove(ns).ok_or_else(|| no_namespace(ns))?;
        i.outcomes.retain(|(n, _), _| n != ns);
        Ok(reply::empty())
    })
}

/// The optional `scope` filter of the artifact list.
#[derive(Deserialize)]
pub(crate) struct ArtifactQuery {
    scope: Option<String>,
}

/// `GET /v3/namespaces/{ns}/artifacts[?scope=SYSTEM|USER]`.
pub(crate) async fn artifacts(
    State(store): State<Store>,
    Path(p): Path<Params>,
    Query(q): Query<ArtifactQuery>,
) -> Reply {
    with_instance(&store, &p.inst, |i| {
        namespace(i, p.ns())?;
        let mut all = i.artifacts();
        if let Some(scope) = q.scope {
            all.retain(|a| a.scope.eq_ignore_ascii_case(&scope));
        }
        Ok(reply::ok(json!(all)))
    })
}
