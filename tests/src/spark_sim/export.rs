//! Export jobs: validate and resolve the selection when the job starts, build the package when it
//! completes, and the cancel, status and describe endpoints.

use std::collections::BTreeSet;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Access, Slot, gate};
use super::jobs;
use super::model::{ServiceView, VersionView};
use super::package;
use super::reply::{self, Fail, Reply};
use super::state::{Job, JobKind, JobStatus, Store, Tenant, Work, random_hex};

#[derive(Deserialize)]
struct ExportRequest {
    inputs: Option<Inputs>,
    file_filter: Option<String>,
    version_filter: Option<String>,
    source_system: Option<String>,
    correlation_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Inputs {
    folders: Vec<String>,
    services: Vec<String>,
    version_ids: Vec<String>,
}

/// `POST /{t}/api/v4/export`.
pub(crate) async fn start(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    let request: ExportRequest = serde_json::from_slice(&body)
        .map_err(|e| reply::bad_request(format!("body is not a valid export request: {e}")))?;
    let all = validate(&request)?;
    let inputs = request.inputs.unwrap_or_default();
    store.with(|s| {
        let selection = select(jobs::tenant_mut(s, &tenant)?, &inputs, all)?;
        let job = Job::new(
            Work::Export(selection),
            request.source_system,
            request.correlation_id,
        );
        jobs::start(s, &tenant, job)
    })
}

/// Checks the request's fields; true when every version is wanted (`version_filter: all`).
fn validate(request: &ExportRequest) -> Result<bool, Fail> {
    let Some(inputs) = &request.inputs else {
        return Err(reply::bad_request("inputs is required"));
    };
    if inputs.folders.is_empty() && inputs.services.is_empty() && inputs.version_ids.is_empty() {
        return Err(reply::bad_request(
            "inputs must name at least one of folders, services or version_ids",
        ));
    }
    if let Some(filter) = request.file_filter.as_deref()
        && !matches!(filter, "migrate" | "onpremises")
    {
        let message = format!("file_filter must be migrate or onpremises, not {filter}");
        return Err(reply::bad_request(message));
    }
    match request.version_filter.as_deref() {
        None | Some("latest") => Ok(false),
        Some("all") => Ok(true),
        Some(other) => Err(reply::bad_request(format!(
            "version_filter must be latest or all, not {other}"
        ))),
    }
}

/// (service index, version index) pairs, ordered as the tenant lists them.
type Picked = BTreeSet<(usize, usize)>;

/// Resolves the inputs (a union) to services and versions; 404 naming anything unknown.
fn select(t: &Tenant, inputs: &Inputs, all: bool) -> Result<Vec<ServiceView>, Fail> {
    let mut picked = Picked::new();
    for folder in &inputs.folders {
        pick_folder(t, folder, all, &mut picked)?;
    }
    for entry in &inputs.services {
        pick_service(t, entry, all, &mut picked)?;
    }
    for id in &inputs.version_ids {
        pick_version(t, id, &mut picked)?;
    }
    if picked.is_empty() {
        return Err(reply::bad_request(
            "inputs select no service version to export",
        ));
    }
    Ok(group(t, &picked))
}

/// The newest of `matches` (oldest first), or all of them.
fn filtered(service: usize, matches: Vec<usize>, all: bool, picked: &mut Picked) {
    let chosen = if all {
        matches
    } else {
        matches.last().copied().into_iter().collect()
    };
    picked.extend(chosen.into_iter().map(|v| (service, v)));
}

fn pick_folder(t: &Tenant, folder: &str, all: bool, picked: &mut Picked) -> Result<(), Fail> {
    if !t.has_folder(folder) {
        return Err(reply::not_found(format!("folder {folder} not found")));
    }
    for (index, service) in t.services.iter().enumerate() {
        if service.folder == folder {
            filtered(index, (0..service.versions.len()).collect(), all, picked);
        }
    }
    Ok(())
}

/// `folder/service`, `folder/service[1.2]` or a service id.
fn pick_service(t: &Tenant, entry: &str, all: bool, picked: &mut Picked) -> Result<(), Fail> {
    let missing = || reply::not_found(format!("service {entry} not found"));
    let (uri, prefix) = split_version(entry);
    let index = match uri.split_once('/') {
        Some((folder, name)) => t.find_service(folder, name),
        None => t.services.iter().position(|s| s.id == uri),
    }
    .ok_or_else(missing)?;
    let versions = &t.services[index].versions;
    let matches: Vec<usize> = (0..versions.len())
        .filter(|&v| prefix.is_none_or(|p| label_matches(&versions[v].label, p)))
        .collect();
    if matches.is_empty() && prefix.is_some() {
        return Err(missing());
    }
    filtered(index, matches, all, picked);
    Ok(())
}

/// Splits `uri[version]` into the URI and the version prefix.
fn split_version(entry: &str) -> (&str, Option<&str>) {
    let Some(open) = entry.strip_suffix(']').and_then(|e| e.rfind('[')) else {
        return (entry, None);
    };
    (&entry[..open], Some(&entry[open + 1..entry.len() - 1]))
}

/// `1.2` matches `1.2` and `1.2.x`.
fn label_matches(label: &str, prefix: &str) -> bool {
    label == prefix
        || label
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

fn pick_version(t: &Tenant, id: &str, picked: &mut Picked) -> Result<(), Fail> {
    for (index, service) in t.services.iter().enumerate() {
        if let Some(v) = service.versions.iter().position(|v| v.id == id) {
            picked.insert((index, v));
            return Ok(());
        }
    }
    Err(reply::not_found(format!("version id {id} not found")))
}

fn group(t: &Tenant, picked: &Picked) -> Vec<ServiceView> {
    let mut out: Vec<ServiceView> = Vec::new();
    for &(s, v) in picked {
        let service = &t.services[s];
        if out.last().is_none_or(|last| last.service_id != service.id) {
            let mut view = service.view();
            view.versions.clear();
            out.push(view);
        }
        let version = &service.versions[v];
        let last = out.last_mut().expect("pushed above");
        last.versions.push(VersionView {
            version: version.label.clone(),
            version_id: version.id.clone(),
        });
    }
    out
}

/// Completes export job `index`: builds its package and publishes the download URL.
pub(crate) fn complete(t: &mut Tenant, origin: &str, index: usize) {
    let Work::Export(selection) = &t.jobs[index].work else {
        return;
    };
    let selection = selection.clone();
    let zip = package::build(&t.name, &selection);
    let token = random_hex(32);
    let job = &mut t.jobs[index];
    let file = format!("{origin}/_files/{token}/{}.zip", job.id);
    job.outputs.files =
        vec![json!({"file": file, "file_hash": shared::checksum::sha256_hex(&zip)})];
    job.outputs.services = selection.iter().map(service_source).collect();
    job.outputs.service_versions = selection.iter().flat_map(version_sources).collect();
    job.package = Some(zip);
    job.finish(JobStatus::Completed);
    t.files.insert(token, t.jobs[index].id.clone());
}

/// The `*_source` fields of a service.
pub(crate) fn service_source(service: &ServiceView) -> Value {
    json!({
        "service_uri_source": format!("{}/{}", service.folder, service.service),
        "folder_source": service.folder,
        "service_source": service.service,
        "service_id_source": service.service_id,
    })
}

fn version_sources(service: &ServiceView) -> Vec<Value> {
    service
        .versions
        .iter()
        .map(|v| version_source(service, v))
        .collect()
}

/// The `*_source` fields of a version.
pub(crate) fn version_source(service: &ServiceView, version: &VersionView) -> Value {
    let mut fields = service_source(service);
    fields["version_source"] = json!(version.version);
    fields["version_id_source"] = json!(version.version_id);
    fields
}

/// `GET /{t}/api/v4/export/{id}/status`.
pub(crate) async fn status(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    store.with(|s| jobs::read_status(s, &tenant, JobKind::Export, &id))
}

#[derive(Deserialize)]
struct CancelRequest {
    export_status: String,
}

/// `PATCH /{t}/api/v4/export/{id}` with `{"export_status":"cancelled"}`; a finished job is left
/// as it is.
pub(crate) async fn cancel(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    let request: Option<CancelRequest> = serde_json::from_slice(&body).ok();
    if request.is_none_or(|r| r.export_status != "cancelled") {
        return Err(reply::bad_request("export_status must be \"cancelled\""));
    }
    store.with(|s| {
        let origin = s.origin.clone();
        let t = jobs::tenant_mut(s, &tenant)?;
        let index = jobs::find(t, JobKind::Export, &id)?;
        let job = &mut t.jobs[index];
        if job.status == JobStatus::InProgress {
            job.finish(JobStatus::Cancelled);
        }
        Ok(reply::ok(jobs::envelope(&origin, &tenant, job)))
    })
}

/// `GET /{t}/api/v4/export/status`.
pub(crate) async fn describe(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    store.with(|s| jobs::describe(s, &tenant, JobKind::Export))
}
