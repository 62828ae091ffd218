//! The helper endpoints a promotion checks its work with: versions of a service (`api/v1`), service
//! exists (`api/v3`), folder exists (`api/v1`), and the unauthenticated health check.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::auth::{Access, Slot, gate, tenant_header};
use super::jobs::tenant_mut;
use super::reply::{self, Fail, Reply};
use super::state::{Service, Store};

/// `GET /health`.
pub(crate) async fn health() -> Response {
    reply::ok(json!({"status": "UP"}))
}

/// Gates an `api/v1` request, whose tenant is its `x-tenant-name` header; 401 without one.
async fn gate_v1(store: &Store, slot: &Slot, headers: &HeaderMap) -> Result<String, Fail> {
    let tenant = tenant_header(headers).ok_or_else(reply::unauthorized)?;
    gate(store, slot, &tenant, headers, Access::Api).await?;
    Ok(tenant)
}

/// `GET /api/v1/product/{folder}/engines/getversions/{service}`: versions, oldest first.
pub(crate) async fn versions(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path((folder, service)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    let tenant = gate_v1(&store, &slot, &headers).await?;
    store.with(|s| {
        let t = tenant_mut(s, &tenant)?;
        let index = t
            .find_service(&folder, &service)
            .ok_or_else(|| reply::not_found(format!("service {folder}/{service} not found")))?;
        let data: Vec<Value> = version_list(&t.services[index]);
        Ok(reply::ok(json!({"status": "Success", "data": data})))
    })
}

fn version_list(service: &Service) -> Vec<Value> {
    service
        .versions
        .iter()
        .map(|v| {
            json!({
                "id": v.id,
                "revision": v.label,
                "versionLabel": v.label,
                "createdAt": v.created,
                "isActive": true,
                "product": service.folder,
                "engine": service.name,
            })
        })
        .collect()
}

/// `GET /{t}/api/v3/folders/{folder}/services/{service}/exists`: 200 whether or not it exists.
pub(crate) async fn service_exists(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path((tenant, folder, service)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    store.with(|s| {
        let t = tenant_mut(s, &tenant)?;
        let found = t.find_service(&folder, &service).map(|i| &t.services[i]);
        let latest = found.and_then(|s| s.versions.last());
        Ok(reply::ok(json!({
            "status": "Success",
            "response_data": {
                "id": found.map(|s| &s.id),
                "name": service,
                "is_exists": found.is_some(),
                "version": latest.map(|v| &v.label),
                "latest_version_id": latest.map(|v| &v.id),
            },
            "response_meta": {},
            "error": null,
        })))
    })
}

/// `POST /api/v1/product/isproductexists/{folder}`.
pub(crate) async fn folder_exists(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path(folder): Path<String>,
    headers: HeaderMap,
) -> Reply {
    let tenant = gate_v1(&store, &slot, &headers).await?;
    store.with(|s| {
        let exists = tenant_mut(s, &tenant)?.has_folder(&folder);
        Ok(reply::ok(json!({"status": "Success", "data": exists})))
    })
}
