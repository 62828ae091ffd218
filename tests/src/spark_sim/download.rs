//! Package downloads: `GET /_files/{token}/{job id}.zip`, anonymous like a pre-signed URL unless the
//! tenant has the `download_requires_auth` fault.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;

use super::auth::{Access, Slot, gate};
use super::reply::{self, Reply};
use super::state::{State as World, Store};

/// `GET /_files/{token}/{file}`.
pub(crate) async fn download(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path((token, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    let missing = || reply::not_found(format!("file {token}/{file} not found"));
    let (tenant, job) = store.with(|s| owner(s, &token)).ok_or_else(missing)?;
    if file != format!("{job}.zip") {
        return Err(missing());
    }
    gate(&store, &slot, &tenant, &headers, Access::Download).await?;
    let bytes = store.with(|s| {
        let t = s.tenants.get(&tenant)?;
        t.jobs.iter().find(|j| j.id == job)?.package.clone()
    });
    let bytes = bytes.ok_or_else(missing)?;
    Ok(([(header::CONTENT_TYPE, "application/zip")], bytes).into_response())
}

/// The tenant and export job a download token belongs to.
fn owner(s: &World, token: &str) -> Option<(String, String)> {
    s.tenants
        .values()
        .find_map(|t| Some((t.name.clone(), t.files.get(token)?.clone())))
}
