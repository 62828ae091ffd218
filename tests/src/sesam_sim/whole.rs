//! The whole-node config: `GET /config` (a JSON array printed the node's way, or with
//! `Accept: application/zip` the zip form) and `PUT /config?force=` (a JSON array, a raw zip
//! with `Content-Type: application/zip`, or a multipart field `file` holding either), which
//! replaces every entity: entities absent from the upload are deleted.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::archive;
use super::catalog::Catalog;
use super::reply::{self, Fail, Reply};
use super::state::Store;
use super::write::{self, commit, identified, node};

/// `GET /{node}/api/config`.
pub(crate) async fn export(
    State(store): State<Store>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let zip = accepts_zip(&headers);
    store.with(|s| {
        let catalog = &node(s, &name)?.catalog;
        if zip {
            return Ok(reply::zip(archive::build(catalog)));
        }
        let entities = catalog.entries().map(|(_, _, entity)| entity.clone());
        Ok(reply::pretty_json(&Value::Array(entities.collect())))
    })
}

fn accepts_zip(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    accept.is_some_and(|a| a.to_ascii_lowercase().contains("application/zip"))
}

/// `PUT /{node}/api/config?force=`: 200 `{"validation_errors": [...]}` (empty unless `force=true`
/// applied invalid entities), or 400 with them and nothing changed.
pub(crate) async fn import(
    State(store): State<Store>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Reply {
    let force = write::force(&query)?;
    let posted = identified(upload(request, &store).await?)?;
    let mut prospective = Catalog::default();
    for p in &posted {
        prospective.put(p.kind, &p.id, p.entity.clone());
    }
    store.with(|s| {
        let reports = commit(node(s, &name)?, prospective, &posted, force)?;
        Ok(reply::ok(json!({"validation_errors": reports})))
    })
}

/// The entities of an upload, read as its content type says.
async fn upload(request: Request, store: &Store) -> Result<Vec<Value>, Fail> {
    match media_type(request.headers()).as_str() {
        "application/zip" | "application/x-zip-compressed" => {
            archive::read(&bytes(request, store).await?).map_err(reply::bad_request)
        }
        "multipart/form-data" => {
            let multipart = Multipart::from_request(request, store)
                .await
                .map_err(|r| Fail::from(r.into_response()))?;
            sniff(&file_part(multipart).await?)
        }
        _ => json_array(&bytes(request, store).await?),
    }
}

fn media_type(headers: &HeaderMap) -> String {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let essence = value
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default();
    essence.trim().to_ascii_lowercase()
}

async fn bytes(request: Request, store: &Store) -> Result<Bytes, Fail> {
    Bytes::from_request(request, store)
        .await
        .map_err(|r| Fail::from(r.into_response()))
}

/// The bytes of the multipart field `file`.
async fn file_part(mut multipart: Multipart) -> Result<Bytes, Fail> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        reply::bad_request(format!("multipart body is unreadable: {e}"))
    };
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        if field.name() == Some("file") {
            return field.bytes().await.map_err(unreadable);
        }
    }
    Err(reply::bad_request("multipart field file is missing"))
}

/// A zip when the bytes start like one, else a JSON array.
fn sniff(bytes: &[u8]) -> Result<Vec<Value>, Fail> {
    if bytes.starts_with(b"PK") {
        archive::read(bytes).map_err(reply::bad_request)
    } else {
        json_array(bytes)
    }
}

fn json_array(bytes: &[u8]) -> Result<Vec<Value>, Fail> {
    match write::json(bytes)? {
        Value::Array(entities) => Ok(entities),
        _ => Err(reply::bad_request(
            "body must be a JSON array of config entities",
        )),
    }
}
