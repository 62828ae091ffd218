//! The per-entity endpoints of pipes and systems (`/pipes...` and `/systems...`; the routes of each
//! kind carry their `EntityKind` as an extension): list, read, create (409 on an existing `_id`),
//! replace (404 when missing, `_id` must equal the path), delete (404 when missing). Deleting a
//! system that pipes use is allowed; those pipes then read as invalid.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::model::EntityKind;
use super::reply::{self, Fail, Reply};
use super::rules::{self, Identified};
use super::runtime::{wrap, wrap_all};
use super::state::Store;
use super::write::{self, commit, identified, node};

/// `GET /{node}/api/pipes` or `/systems`: every entity of the kind, wrapped.
pub(crate) async fn list(
    State(store): State<Store>,
    Extension(kind): Extension<EntityKind>,
    Path(name): Path<String>,
) -> Reply {
    store.with(|s| Ok(reply::ok(wrap_all(&node(s, &name)?.catalog, kind))))
}

/// `GET /{node}/api/pipes/{id}` or `/systems/{id}`.
pub(crate) async fn read(
    State(store): State<Store>,
    Extension(kind): Extension<EntityKind>,
    Path((name, id)): Path<(String, String)>,
) -> Reply {
    store.with(|s| {
        let catalog = &node(s, &name)?.catalog;
        let entity = catalog.get(kind, &id).ok_or_else(|| missing(kind, &id))?;
        Ok(reply::ok(wrap(catalog, kind, &id, entity)))
    })
}

/// `POST /{node}/api/pipes?force=` or `/systems?force=` with an array of configs: 201 with them
/// wrapped.
pub(crate) async fn create(
    State(store): State<Store>,
    Extension(kind): Extension<EntityKind>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Reply {
    let force = write::force(&query)?;
    let Value::Array(entities) = write::json(&body)? else {
        return Err(reply::bad_request(format!(
            "body must be a JSON array of {} configs",
            kind.name()
        )));
    };
    let posted = of_kind(identified(entities)?, kind)?;
    store.with(|s| {
        let n = node(s, &name)?;
        if let Some(taken) = posted.iter().find(|p| n.catalog.get(kind, &p.id).is_some()) {
            return Err(reply::conflict(format!(
                "{} {} already exists",
                kind.name(),
                taken.id
            )));
        }
        let mut prospective = n.catalog.clone();
        for p in &posted {
            prospective.put(kind, &p.id, p.entity.clone());
        }
        commit(n, prospective, &posted, force)?;
        let wrapped = posted
            .iter()
            .map(|p| wrap(&n.catalog, kind, &p.id, &p.entity));
        Ok(reply::created(Value::Array(wrapped.collect())))
    })
}

/// `PUT /{node}/api/pipes/{id}/config?force=` or `/systems/{id}/config?force=` with one config.
pub(crate) async fn replace(
    State(store): State<Store>,
    Extension(kind): Extension<EntityKind>,
    Path((name, id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Reply {
    let force = write::force(&query)?;
    let entity = write::json(&body)?;
    store.with(|s| {
        let n = node(s, &name)?;
        n.catalog.get(kind, &id).ok_or_else(|| missing(kind, &id))?;
        let posted = of_kind(identified(vec![entity])?, kind)?;
        if posted[0].id != id {
            let text = format!(
                "_id {:?} in the body differs from {id:?} in the path",
                posted[0].id
            );
            return Err(reply::bad_request(text));
        }
        let mut prospective = n.catalog.clone();
        prospective.put(kind, &id, posted[0].entity.clone());
        commit(n, prospective, &posted, force)?;
        Ok(reply::ok(wrap(&n.catalog, kind, &id, &posted[0].entity)))
    })
}

/// `DELETE /{node}/api/pipes/{id}` or `/systems/{id}`: 200 with the deleted entity, wrapped.
pub(crate) async fn delete(
    State(store): State<Store>,
    Extension(kind): Extension<EntityKind>,
    Path((name, id)): Path<(String, String)>,
) -> Reply {
    store.with(|s| {
        let n = node(s, &name)?;
        let entity = n.catalog.get(kind, &id).ok_or_else(|| missing(kind, &id))?;
        let wrapped = wrap(&n.catalog, kind, &id, entity);
        n.catalog.remove(kind, &id);
        Ok(reply::ok(wrapped))
    })
}

fn missing(kind: EntityKind, id: &str) -> Fail {
    reply::not_found(format!("{} {id} not found", kind.name()))
}

/// `posted`, when every entity is of `kind`; else 400 `validation_errors` for the others.
fn of_kind(posted: Vec<Identified>, kind: EntityKind) -> Result<Vec<Identified>, Fail> {
    let expected = match kind {
        EntityKind::Pipe => "pipe",
        EntityKind::System => "system:<kind>",
        EntityKind::Metadata => "metadata",
    };
    let wrong = posted.iter().filter(|p| p.kind != kind).map(|p| {
        let text = format!(
            "this endpoint takes entities of type {expected}, not a {}",
            p.kind.name()
        );
        rules::report(&p.entity, &[text])
    });
    let reports: Vec<Value> = wrong.collect();
    if reports.is_empty() {
        Ok(posted)
    } else {
        Err(reply::invalid(reports))
    }
}
