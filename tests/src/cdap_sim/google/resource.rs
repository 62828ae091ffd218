//! `GET /v1/projects/{p}/locations/{l}/instances/{name}` (and `v1beta1`): the Data Fusion
//! instance resource, with `apiEndpoint` at this simulator; 404 NOT_FOUND for an instance the
//! project and location do not hold.

use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::super::reply::{self, Reply};
use super::super::state::Store;
use super::origin;

/// The path of the resource.
#[derive(serde::Deserialize)]
pub(crate) struct ResourcePath {
    project: String,
    location: String,
    name: String,
}

/// `GET .../instances/{name}`.
pub(crate) async fn get(
    State(store): State<Store>,
    Path(path): Path<ResourcePath>,
    headers: HeaderMap,
) -> Reply {
    let origin = origin(&headers);
    store.with(|s| {
        let found = s.instances.get(&path.name);
        let instance = found.filter(|i| i.project == path.project && i.location == path.location);
        let missing = || {
            let full = format!(
                "projects/{}/locations/{}/instances/{}",
                path.project, path.location, path.name
            );
            reply::google_not_found(format!("Resource '{full}' was not found"))
        };
        Ok(reply::ok(instance.ok_or_else(missing)?.resource(&origin)))
    })
}
