//! The node metadata endpoints: `GET /metadata` (404 when the node has none), `PUT /metadata`
//! (body the entity, `_id: "node"`, `type: "metadata"`) and `DELETE /metadata` (200 whether or
//! not there was one).

use axum::body::Bytes;
use axum::extract::{Path, State};
use serde_json::json;

use super::model::EntityKind;
use super::reply::{self, Reply};
use super::state::Store;
use super::write::{self, commit, identified, node};

/// `GET /{node}/api/metadata`: the entity as stored.
pub(crate) async fn read(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    store.with(|s| {
        let catalog = &node(s, &name)?.catalog;
        let metadata = catalog.get(EntityKind::Metadata, "node");
        let metadata = metadata.ok_or_else(|| reply::not_found("the node has no metadata"))?;
        Ok(reply::ok(metadata.clone()))
    })
}

/// `PUT /{node}/api/metadata`: stores the entity, 200 with it.
pub(crate) async fn replace(
    State(store): State<Store>,
    Path(name): Path<String>,
    body: Bytes,
) -> Reply {
    let entity = write::json(&body)?;
    let posted = identified(vec![entity.clone()])?;
    if posted[0].kind != EntityKind::Metadata {
        let text = format!("type must be metadata, not a {}", posted[0].kind.name());
        return Err(reply::bad_request(text));
    }
    store.with(|s| {
        let n = node(s, &name)?;
        let mut prospective = n.catalog.clone();
        prospective.put(EntityKind::Metadata, "node", entity.clone());
        commit(n, prospective, &posted, true)?;
        Ok(reply::ok(entity))
    })
}

/// `DELETE /{node}/api/metadata`.
pub(crate) async fn delete(State(store): State<Store>, Path(name): Path<String>) -> Reply {
    store.with(|s| {
        node(s, &name)?.catalog.remove(EntityKind::Metadata, "node");
        Ok(reply::ok(json!({})))
    })
}
