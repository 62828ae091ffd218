//! Import jobs: read and validate the multipart upload when the job starts, then apply the package
//! to the tenant, all or nothing, when the job completes.

use axum::Extension;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{Access, Slot, gate};
use super::export::{service_source, version_source};
use super::jobs;
use super::model::ServiceView;
use super::package::{self, Manifest};
use super::reply::{self, Fail, Reply};
use super::state::{Job, JobKind, JobStatus, Store, Tenant, Version, Work};

/// What to do with a destination service that already exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Existing {
    Abort,
    Replace,
    AddVersion,
}

/// How an appended version's label moves on from the destination's latest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bump {
    Major,
    Minor,
    Patch,
}

/// One source service of the package and where it goes.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    source: String,
    folder: String,
    service: String,
    bump: Bump,
}

impl Mapping {
    fn destination(&self) -> String {
        format!("{}/{}", self.folder, self.service)
    }
}

/// A validated import: the package's manifest, the mappings and the existing-service rule.
#[derive(Clone, Debug)]
pub(crate) struct ImportPlan {
    manifest: Manifest,
    mappings: Vec<Mapping>,
    existing: Existing,
}

#[derive(Deserialize)]
struct Entity {
    inputs: Option<EntityInputs>,
    services_existing: Option<String>,
    source_system: Option<String>,
    correlation_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EntityInputs {
    services_modify: Vec<Modify>,
}

#[derive(Deserialize)]
struct Modify {
    service_uri_source: String,
    service_uri_destination: Option<String>,
    update_version_type: Option<String>,
}

/// `POST /{t}/api/v4/import` (multipart: `file` and `importRequestEntity`).
pub(crate) async fn start(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    let multipart = multipart.map_err(|_| {
        reply::bad_request(
            "body must be multipart/form-data with parts file and importRequestEntity",
        )
    })?;
    let (file, entity) = read_parts(multipart).await?;
    let manifest = package::read(&file).map_err(reply::bad_request)?;
    let entity: Entity = serde_json::from_str(&entity).map_err(|e| {
        reply::bad_request(format!(
            "importRequestEntity is not a valid import request: {e}"
        ))
    })?;
    let plan = plan(manifest, &entity)?;
    let job = Job::new(
        Work::Import(plan),
        entity.source_system,
        entity.correlation_id,
    );
    store.with(|s| jobs::start(s, &tenant, job))
}

/// The `file` bytes and the `importRequestEntity` text.
async fn read_parts(mut multipart: Multipart) -> Result<(Vec<u8>, String), Fail> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        reply::bad_request(format!("multipart body is unreadable: {e}"))
    };
    let (mut file, mut entity) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name() {
            Some("file") => file = Some(field.bytes().await.map_err(unreadable)?.to_vec()),
            Some("importRequestEntity") => entity = Some(field.text().await.map_err(unreadable)?),
            _ => {}
        }
    }
    let file = file.ok_or_else(|| reply::bad_request("part file is missing"))?;
    let entity = entity.ok_or_else(|| reply::bad_request("part importRequestEntity is missing"))?;
    Ok((file, entity))
}

fn plan(manifest: Manifest, entity: &Entity) -> Result<ImportPlan, Fail> {
    let modify = entity
        .inputs
        .as_ref()
        .map(|i| i.services_modify.as_slice())
        .unwrap_or_default();
    if modify.is_empty() {
        return Err(reply::bad_request(
            "importRequestEntity.inputs.services_modify must not be empty",
        ));
    }
    let existing = existing(entity.services_existing.as_deref())?;
    let mappings = modify
        .iter()
        .map(|m| mapping(&manifest, m))
        .collect::<Result<_, _>>()?;
    Ok(ImportPlan {
        manifest,
        mappings,
        existing,
    })
}

fn existing(value: Option<&str>) -> Result<Existing, Fail> {
    match value {
        None | Some("add_version") => Ok(Existing::AddVersion),
        Some("replace") => Ok(Existing::Replace),
        Some("abort") => Ok(Existing::Abort),
        Some(other) => Err(reply::bad_request(format!(
            "services_existing must be abort, replace or add_version, not {other}"
        ))),
    }
}

fn mapping(manifest: &Manifest, m: &Modify) -> Result<Mapping, Fail> {
    if manifest.service(&m.service_uri_source).is_none() {
        return Err(reply::bad_request(format!(
            "service_uri_source {} is not in the package",
            m.service_uri_source
        )));
    }
    let destination = m
        .service_uri_destination
        .as_deref()
        .unwrap_or(&m.service_uri_source);
    let Some((folder, service)) = destination.split_once('/') else {
        return Err(reply::bad_request(format!(
            "service_uri_destination {destination} must be folder/service"
        )));
    };
    Ok(Mapping {
        source: m.service_uri_source.clone(),
        folder: folder.to_string(),
        service: service.to_string(),
        bump: bump_kind(m.update_version_type.as_deref())?,
    })
}

fn bump_kind(value: Option<&str>) -> Result<Bump, Fail> {
    match value {
        None | Some("minor") => Ok(Bump::Minor),
        Some("major") => Ok(Bump::Major),
        Some("patch") => Ok(Bump::Patch),
        Some(other) => Err(reply::bad_request(format!(
            "update_version_type must be major, minor or patch, not {other}"
        ))),
    }
}

/// Completes import job `index`: applies it (or records why it cannot be applied).
pub(crate) fn complete(t: &mut Tenant, index: usize) {
    let Work::Import(plan) = &t.jobs[index].work else {
        return;
    };
    let plan = plan.clone();
    let fault = t.faults.import_errors.take();
    let result = apply(t, &plan, fault);
    let job = &mut t.jobs[index];
    match result {
        Ok((services, versions)) => {
            job.outputs.services = services;
            job.outputs.service_versions = versions;
        }
        Err(errors) => job.errors = Some(errors),
    }
    job.finish(JobStatus::Completed);
}

type Applied = (Vec<Value>, Vec<Value>);

/// Applies every mapping, or none of them: the errors when any is refused.
fn apply(t: &mut Tenant, plan: &ImportPlan, fault: Option<String>) -> Result<Applied, Vec<Value>> {
    if let Some(message) = fault {
        let destination = plan.mappings[0].destination();
        return Err(vec![problem(&destination, message)]);
    }
    let errors: Vec<Value> = plan
        .mappings
        .iter()
        .filter_map(|m| refusal(t, plan.existing, m))
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    let (mut services, mut versions) = (Vec::new(), Vec::new());
    for m in &plan.mappings {
        let source = plan
            .manifest
            .service(&m.source)
            .expect("validated at start");
        let (service, mut added) = apply_one(t, plan.existing, m, source);
        services.extend(service);
        versions.append(&mut added);
    }
    Ok((services, versions))
}

fn problem(destination: &str, message: String) -> Value {
    json!({"service_uri_destination": destination, "message": message})
}

/// Why `m` cannot be applied, if it cannot.
fn refusal(t: &Tenant, existing: Existing, m: &Mapping) -> Option<Value> {
    let destination = m.destination();
    if !t.has_folder(&m.folder) {
        let message = format!("destination folder {} does not exist", m.folder);
        return Some(problem(&destination, message));
    }
    let present = t.find_service(&m.folder, &m.service).is_some();
    (present && existing == Existing::Abort).then(|| {
        let message =
            format!("service {destination} already exists and services_existing is abort");
        problem(&destination, message)
    })
}

/// Writes one source service into its destination; its output and its versions' outputs.
fn apply_one(t: &mut Tenant, existing: Existing, m: &Mapping, source: &ServiceView) -> Applied {
    let present = t.find_service(&m.folder, &m.service).is_some();
    let index = t.ensure_service(&m.folder, &m.service);
    let service = &mut t.services[index];
    let replace = present && existing == Existing::Replace;
    if replace {
        service.versions.clear();
    }
    let mut versions = Vec::new();
    for pv in &source.versions {
        let label = if present && existing == Existing::AddVersion {
            bump(service.versions.last().map(|v| v.label.as_str()), m.bump)
        } else {
            pv.version.clone()
        };
        let version = Version::new(&label);
        versions.push((version_source(source, pv), label, version.id.clone()));
        service.versions.push(version);
    }
    let status = if replace { "replaced" } else { "added" };
    let destination = json!({
        "folder_destination": m.folder,
        "service_destination": m.service,
        "service_uri_destination": m.destination(),
        "service_id_destination": service.id,
        "status": status,
    });
    let service_out = merged(service_source(source), &destination);
    let version_outs = versions
        .into_iter()
        .map(|(fields, label, id)| {
            let mut out = merged(fields, &destination);
            out["version_destination"] = json!(label);
            out["version_id_destination"] = json!(id);
            out
        })
        .collect();
    (vec![service_out], version_outs)
}

fn merged(mut base: Value, extra: &Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    base
}

/// The label after `latest` for a bump of `kind` (`1.2.3` → `2.0.0`, `1.3.0` or `1.2.4`);
/// missing or non-numeric parts count as 0.
fn bump(latest: Option<&str>, kind: Bump) -> String {
    let mut parts = [0u64; 3];
    for (slot, part) in parts.iter_mut().zip(latest.unwrap_or("0.0.0").split('.')) {
        *slot = part.trim().parse().unwrap_or(0);
    }
    let [major, minor, patch] = parts;
    match kind {
        Bump::Major => format!("{}.0.0", major + 1),
        Bump::Minor => format!("{major}.{}.0", minor + 1),
        Bump::Patch => format!("{major}.{minor}.{}", patch + 1),
    }
}

/// `GET /{t}/api/v4/import/{id}/status`.
pub(crate) async fn status(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path((tenant, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    store.with(|s| jobs::read_status(s, &tenant, JobKind::Import, &id))
}

/// `GET /{t}/api/v4/import/status`.
pub(crate) async fn describe(
    State(store): State<Store>,
    Extension(slot): Extension<Slot>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Reply {
    gate(&store, &slot, &tenant, &headers, Access::Api).await?;
    store.with(|s| jobs::describe(s, &tenant, JobKind::Import))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_bump_from_the_latest() {
        assert_eq!(bump(Some("1.2.3"), Bump::Major), "2.0.0");
        assert_eq!(bump(Some("1.2.3"), Bump::Minor), "1.3.0");
        assert_eq!(bump(Some("1.2.3"), Bump::Patch), "1.2.4");
        assert_eq!(bump(Some("7"), Bump::Patch), "7.0.1");
        assert_eq!(bump(None, Bump::Minor), "0.1.0");
    }
}
