//! What export and import jobs share: the one-job-per-tenant rule, progress counted in status reads,
//! the status envelope and the tenant-wide describe listing.

use std::time::SystemTime;

use serde_json::{Value, json};

use super::reply::{self, Fail, Reply};
use super::state::{Job, JobKind, JobStatus, State, Tenant, rfc3339};
use super::{export, import};

/// The absolute status URL of a job.
pub(crate) fn status_url(origin: &str, tenant: &str, kind: JobKind, id: &str) -> String {
    format!("{origin}/{tenant}/api/v4/{}/{id}/status", kind.name())
}

/// Takes the tenant's job slot for `job` and answers `{id, object, status_url}`; 409 when taken.
pub(crate) fn start(s: &mut State, tenant: &str, job: Job) -> Reply {
    let t = tenant_mut(s, tenant)?;
    if let Some(busy) = t.busy() {
        return Err(reply::job_in_progress(tenant, busy.kind.name(), &busy.id));
    }
    let body = json!({
        "id": job.id,
        "object": job.kind.name(),
        "status_url": status_url(&s.origin, tenant, job.kind, &job.id),
    });
    tenant_mut(s, tenant)?.jobs.push(job);
    Ok(reply::ok(body))
}

/// The tenant, or 404 (it may have been dropped since the gate let the request in).
pub(crate) fn tenant_mut<'a>(s: &'a mut State, tenant: &str) -> Result<&'a mut Tenant, Fail> {
    s.tenants
        .get_mut(tenant)
        .ok_or_else(|| reply::not_found(format!("tenant {tenant} not found")))
}

/// The index of job `id` of `kind`, or 404.
pub(crate) fn find(t: &Tenant, kind: JobKind, id: &str) -> Result<usize, Fail> {
    t.job_index(kind, id)
        .ok_or_else(|| reply::not_found(format!("{} job {id} not found", kind.name())))
}

/// A status read: counts the poll, completes the job once its polls are used up, and answers the
/// job envelope.
pub(crate) fn read_status(s: &mut State, tenant: &str, kind: JobKind, id: &str) -> Reply {
    let origin = s.origin.clone();
    let t = tenant_mut(s, tenant)?;
    let index = find(t, kind, id)?;
    advance(t, &origin, index);
    Ok(reply::ok(envelope(&origin, tenant, &t.jobs[index])))
}

fn advance(t: &mut Tenant, origin: &str, index: usize) {
    let needed = match t.jobs[index].kind {
        JobKind::Export => t.export_polls,
        JobKind::Import => t.import_polls,
    };
    let job = &mut t.jobs[index];
    if job.status != JobStatus::InProgress {
        return;
    }
    job.polls += 1;
    if job.polls <= needed {
        return;
    }
    match job.kind {
        JobKind::Export if t.faults.export_never_completes => {}
        JobKind::Export => export::complete(t, origin, index),
        JobKind::Import => import::complete(t, index),
    }
}

/// The status envelope of a job.
pub(crate) fn envelope(origin: &str, tenant: &str, job: &Job) -> Value {
    let mut body = json!({
        "id": job.id,
        "object": job.kind.name(),
        "status": job.status.name(),
        "status_url": status_url(origin, tenant, job.kind, &job.id),
        "response_timestamp": rfc3339(SystemTime::now()),
        "process_time": job.process_time() as u64,
        "source_system": job.source_system,
        "correlation_id": job.correlation_id,
        "errors": job.errors,
        "outputs": {
            "files": job.outputs.files,
            "services": job.outputs.services,
            "service_versions": job.outputs.service_versions,
        },
    });
    if job.kind == JobKind::Import {
        body["warnings"] = json!([]);
    }
    body
}

/// The tenant-wide listing of its jobs of `kind`: running ones and finished ones.
pub(crate) fn describe(s: &mut State, tenant: &str, kind: JobKind) -> Reply {
    let t = tenant_mut(s, tenant)?;
    let (running, finished): (Vec<&Job>, Vec<&Job>) = t
        .jobs
        .iter()
        .filter(|j| j.kind == kind)
        .partition(|j| j.status == JobStatus::InProgress);
    let name = kind.name();
    let mut body = json!({"tenant": {"configuration": {}, "status": {}}});
    body[format!("in_progress_{name}s")] = running.iter().map(|j| item(j)).collect();
    body[format!("recent_{name}s")] = finished.iter().map(|j| item(j)).collect();
    body["tenant"]["configuration"][format!("{name}_api_job_limit")] = json!(1);
    body["tenant"]["status"][format!("{name}_api_jobs_in_progress")] = json!(running.len());
    Ok(reply::ok(body))
}

fn item(job: &Job) -> Value {
    let mut data = json!({
        "response_timestamp": rfc3339(SystemTime::now()),
        "created_timestamp": rfc3339(job.created),
        "updated_timestamp": rfc3339(job.updated),
        "process_time": job.process_time() as u64,
    });
    data[format!("{}_status", job.kind.name())] = json!(job.status.name());
    json!({"object": job.kind.name(), "id": job.id, "data": data})
}
