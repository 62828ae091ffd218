//! Apps of a namespace: `GET .../apps` (filters `artifactName` (comma list) and
//! `artifactVersion`; with `pageSize`, pages `{"applications": [...], "nextPageToken": ...}`
//! continued by `pageToken`), `GET .../apps/{app}` (ApplicationDetail of the latest version),
//! `GET .../apps/{app}/versions`, `PUT .../apps/{app}` (deploys a new version from an
//! AppRequest) and `DELETE .../apps/{app}`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::app::{App, Deploy};
use super::super::gate::Caller;
use super::super::reply::{self, Fail, Reply};
use super::super::state::Store;
use super::{Params, app, namespace, with_instance};

/// The query of the app list.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListQuery {
    artifact_name: Option<String>,
    artifact_version: Option<String>,
    page_size: Option<String>,
    page_token: Option<String>,
}

impl ListQuery {
    fn keeps(&self, app: &App) -> bool {
        let artifact = &app.latest().artifact;
        let name = self
            .artifact_name
            .as_ref()
            .is_none_or(|names| names.split(',').any(|n| n.trim() == artifact.name));
        name && self
            .artifact_version
            .as_ref()
            .is_none_or(|v| *v == artifact.version)
    }

    fn page_size(&self) -> Result<Option<usize>, Fail> {
        let Some(text) = &self.page_size else {
            return Ok(None);
        };
        match text.parse::<usize>() {
            Ok(size) if size > 0 => Ok(Some(size)),
            _ => Err(reply::bad_request(format!(
                "pageSize {text:?} must be a positive integer"
            ))),
        }
    }
}

/// The records after `token`, `size` of them, and the next token when more follow.
fn page(records: Vec<(String, Value)>, token: Option<&str>, size: usize) -> Value {
    let after: Vec<(String, Value)> = records
        .into_iter()
        .filter(|(name, _)| token.is_none_or(|t| name.as_str() > t))
        .collect();
    let more = after.len() > size;
    let served: Vec<(String, Value)> = after.into_iter().take(size).collect();
    let mut body = json!({"applications": served.iter().map(|(_, r)| r).collect::<Vec<_>>()});
    if more && let Some((last, _)) = served.last() {
        body["nextPageToken"] = json!(last);
    }
    body
}

/// `GET /v3/namespaces/{ns}/apps`.
pub(crate) async fn list(
    State(store): State<Store>,
    Path(p): Path<Params>,
    Query(q): Query<ListQuery>,
) -> Reply {
    let size = q.page_size()?;
    with_instance(&store, &p.inst, |i| {
        let apps = &namespace(i, p.ns())?.apps;
        let kept = apps.iter().filter(|(_, a)| q.keeps(a));
        let records: Vec<(String, Value)> = kept
            .map(|(n, a)| (n.clone(), a.latest().record(n)))
            .collect();
        let body = match size {
            None => Value::Array(records.into_iter().map(|(_, r)| r).collect()),
            Some(size) => page(records, q.page_token.as_deref(), size),
        };
        Ok(reply::ok(body))
    })
}

/// `GET /v3/namespaces/{ns}/apps/{app}`.
pub(crate) async fn detail(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        Ok(reply::ok(app(i, p.ns(), p.app())?.latest().detail(p.app())))
    })
}

/// `GET /v3/namespaces/{ns}/apps/{app}/versions`.
pub(crate) async fn versions(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        let ids: Vec<&str> = app(i, p.ns(), p.app())?
            .versions
            .iter()
            .map(|v| v.id.as_str())
            .collect();
        Ok(reply::ok(json!(ids)))
    })
}

/// `PUT /v3/namespaces/{ns}/apps/{app}`: a new version; its app record.
pub(crate) async fn deploy(
    State(store): State<Store>,
    Path(p): Path<Params>,
    Extension(Caller(author)): Extension<Caller>,
    body: Bytes,
) -> Reply {
    let request = Deploy::parse(&body).map_err(reply::bad_request)?;
    with_instance(&store, &p.inst, |i| {
        namespace(i, p.ns())?;
        i.deploy(p.ns(), p.app(), request, author)
            .map_err(reply::bad_request)?;
        Ok(reply::ok(app(i, p.ns(), p.app())?.latest().record(p.app())))
    })
}

/// `DELETE /v3/namespaces/{ns}/apps/{app}`: the app, its preferences and runs.
pub(crate) async fn delete(State(store): State<Store>, Path(p): Path<Params>) -> Reply {
    with_instance(&store, &p.inst, |i| {
        app(i, p.ns(), p.app())?;
        namespace(i, p.ns())?.apps.remove(p.app());
        Ok(reply::empty())
    })
}
