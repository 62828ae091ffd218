//! The simulator's in-memory world: tenants with their folders, services, credentials, issued
//! tokens, jobs, faults and packages, plus the request log, behind one lock.

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use serde_json::Value;

use super::import::ImportPlan;
use super::model::{
    ClientSeed, Fault, JobView, RequestRecord, ServiceView, TenantSeed, TenantView, VersionView,
};
use super::reply::{self, Fail};
use crate::sim_kit::control::ControlStore;
use crate::sim_kit::locked::Locked;

/// The shared state of one simulator; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Locked<State>,
}

impl Store {
    /// An empty world whose download URLs start with `origin` (`http://127.0.0.1:PORT`).
    pub fn new(origin: &str) -> Self {
        Store {
            inner: Locked::new(State {
                origin: origin.to_string(),
                tenants: HashMap::new(),
                requests: Vec::new(),
            }),
        }
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.inner.with(f)
    }

    /// Creates (or replaces) a tenant.
    pub fn add_tenant(&self, seed: TenantSeed) {
        let tenant = Tenant::from_seed(seed);
        self.with(|s| s.tenants.insert(tenant.name.clone(), tenant));
    }

    /// A snapshot of a tenant.
    pub fn tenant(&self, name: &str) -> Option<TenantView> {
        self.with(|s| s.tenants.get(name).map(Tenant::view))
    }
}

impl ControlStore for Store {
    const KEY: &'static str = "tenant";
    type Fault = Fault;
    type Record = RequestRecord;

    /// Injects a fault; false when the tenant does not exist.
    fn inject(&self, tenant: &str, fault: Fault) -> bool {
        self.with(|s| {
            s.tenants
                .get_mut(tenant)
                .map(|t| t.faults.apply(fault))
                .is_some()
        })
    }

    /// Clears every fault of a tenant; false when it does not exist.
    fn clear_faults(&self, tenant: &str) -> bool {
        self.inject(tenant, Fault::Clear)
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.with(|s| s.requests.clone())
    }

    /// Drops every tenant, job and logged request; the origin stays.
    fn reset(&self) {
        self.with(|s| {
            s.tenants.clear();
            s.requests.clear();
        });
    }

    fn error(status: StatusCode, text: String) -> Fail {
        let code = status.canonical_reason().unwrap_or_default();
        reply::error(status, &code.to_uppercase().replace(' ', "_"), text)
    }
}

/// Everything behind the lock.
pub(crate) struct State {
    pub origin: String,
    pub tenants: HashMap<String, Tenant>,
    pub requests: Vec<RequestRecord>,
}

/// A tenant and everything it owns.
pub(crate) struct Tenant {
    pub name: String,
    pub folders: Vec<String>,
    pub services: Vec<Service>,
    pub bearer_tokens: Vec<String>,
    pub api_keys: Vec<String>,
    pub clients: Vec<ClientSeed>,
    pub token_ttl: u64,
    pub export_polls: u32,
    pub import_polls: u32,
    /// Issued access token → its expiry.
    pub issued: HashMap<String, Instant>,
    pub jobs: Vec<Job>,
    pub faults: Faults,
    /// Download token → the export job whose package it serves.
    pub files: HashMap<String, String>,
}

/// A service and its versions, oldest first.
pub(crate) struct Service {
    pub folder: String,
    pub name: String,
    pub id: String,
    pub versions: Vec<Version>,
}

/// A version of a service.
pub(crate) struct Version {
    pub label: String,
    pub id: String,
    pub created: String,
}

impl Version {
    pub fn new(label: &str) -> Self {
        Version {
            label: label.to_string(),
            id: uuid(),
            created: rfc3339(SystemTime::now()),
        }
    }
}

impl Service {
    pub fn view(&self) -> ServiceView {
        ServiceView {
            folder: self.folder.clone(),
            service: self.name.clone(),
            service_id: self.id.clone(),
            versions: self
                .versions
                .iter()
                .map(|v| VersionView {
                    version: v.label.clone(),
                    version_id: v.id.clone(),
                })
                .collect(),
        }
    }
}

impl Tenant {
    fn from_seed(seed: TenantSeed) -> Self {
        let mut tenant = Tenant {
            name: seed.name,
            folders: Vec::new(),
            services: Vec::new(),
            bearer_tokens: seed.bearer_tokens,
            api_keys: seed.api_keys,
            clients: seed.clients,
            token_ttl: seed.token_ttl_seconds,
            export_polls: seed.export_polls,
            import_polls: seed.import_polls,
            issued: HashMap::new(),
            jobs: Vec::new(),
            faults: Faults::default(),
            files: HashMap::new(),
        };
        for folder in &seed.folders {
            tenant.ensure_folder(folder);
        }
        for service in &seed.services {
            tenant.ensure_folder(&service.folder);
            let index = tenant.ensure_service(&service.folder, &service.service);
            let versions = &mut tenant.services[index].versions;
            versions.extend(service.versions.iter().map(|v| Version::new(v)));
        }
        tenant
    }

    fn ensure_folder(&mut self, folder: &str) {
        if !self.folders.iter().any(|f| f == folder) {
            self.folders.push(folder.to_string());
        }
    }

    /// The index of `folder/name`, creating an empty service when absent.
    pub fn ensure_service(&mut self, folder: &str, name: &str) -> usize {
        if let Some(index) = self.find_service(folder, name) {
            return index;
        }
        self.services.push(Service {
            folder: folder.to_string(),
            name: name.to_string(),
            id: uuid(),
            versions: Vec::new(),
        });
        self.services.len() - 1
    }

    pub fn find_service(&self, folder: &str, name: &str) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.folder == folder && s.name == name)
    }

    pub fn has_folder(&self, folder: &str) -> bool {
        self.folders.iter().any(|f| f == folder)
    }

    /// The job that still holds the tenant's single job slot.
    pub fn busy(&self) -> Option<&Job> {
        self.jobs.iter().find(|j| j.status == JobStatus::InProgress)
    }

    pub fn job_index(&self, kind: JobKind, id: &str) -> Option<usize> {
        self.jobs.iter().position(|j| j.kind == kind && j.id == id)
    }

    fn view(&self) -> TenantView {
        TenantView {
            name: self.name.clone(),
            folders: self.folders.clone(),
            services: self.services.iter().map(Service::view).collect(),
            jobs: self
                .jobs
                .iter()
                .map(|j| JobView {
                    id: j.id.clone(),
                    object: j.kind.name().to_string(),
                    status: j.status.name().to_string(),
                })
                .collect(),
        }
    }
}

/// The faults armed for a tenant.
#[derive(Default)]
pub(crate) struct Faults {
    pub unauthorized: u32,
    pub rate_limit: u32,
    pub retry_after: u64,
    pub server_error: u32,
    pub slow: u32,
    pub slow_millis: u64,
    pub import_errors: Option<String>,
    pub export_never_completes: bool,
    pub download_requires_auth: bool,
}

impl Faults {
    fn apply(&mut self, fault: Fault) {
        match fault {
            Fault::UnauthorizedNext { count } => self.unauthorized = count,
            Fault::RateLimitNext {
                count,
                retry_after_seconds,
            } => {
                self.rate_limit = count;
                self.retry_after = retry_after_seconds;
            }
            Fault::ServerErrorNext { count } => self.server_error = count,
            Fault::SlowNext { count, millis } => {
                self.slow = count;
                self.slow_millis = millis;
            }
            Fault::ImportErrors { message } => self.import_errors = Some(message),
            Fault::ExportNeverCompletes => self.export_never_completes = true,
            Fault::DownloadRequiresAuth => self.download_requires_auth = true,
            Fault::Clear => *self = Faults::default(),
        }
    }
}

/// Consumes one firing of a counted fault; true when it fired.
pub(crate) fn take(counter: &mut u32) -> bool {
    if *counter == 0 {
        return false;
    }
    *counter -= 1;
    true
}

/// Export or import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKind {
    Export,
    Import,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Export => "export",
            JobKind::Import => "import",
        }
    }
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobStatus {
    InProgress,
    Completed,
    Cancelled,
}

impl JobStatus {
    pub fn name(self) -> &'static str {
        match self {
            JobStatus::InProgress => "in_progress",
            JobStatus::Completed => "completed",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

/// An export or import job.
pub(crate) struct Job {
    pub id: String,
    pub kind: JobKind,
    pub status: JobStatus,
    /// Status reads so far.
    pub polls: u32,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub started: Instant,
    pub finished: Option<Instant>,
    pub source_system: Option<String>,
    pub correlation_id: Option<String>,
    pub work: Work,
    pub outputs: Outputs,
    pub errors: Option<Vec<Value>>,
    /// The zip of a completed export.
    pub package: Option<Vec<u8>>,
}

/// What a job does when it completes.
pub(crate) enum Work {
    /// Package these services and versions.
    Export(Vec<ServiceView>),
    /// Apply this import.
    Import(ImportPlan),
}

/// A job's outputs; empty while it runs.
#[derive(Default)]
pub(crate) struct Outputs {
    pub files: Vec<Value>,
    pub services: Vec<Value>,
    pub service_versions: Vec<Value>,
}

impl Job {
    pub fn new(work: Work, source_system: Option<String>, correlation_id: Option<String>) -> Self {
        let now = SystemTime::now();
        let kind = match work {
            Work::Export(_) => JobKind::Export,
            Work::Import(_) => JobKind::Import,
        };
        Job {
            id: uuid(),
            kind,
            status: JobStatus::InProgress,
            polls: 0,
            created: now,
            updated: now,
            started: Instant::now(),
            finished: None,
            source_system,
            correlation_id,
            work,
            outputs: Outputs::default(),
            errors: None,
            package: None,
        }
    }

    /// Moves the job to a final status.
    pub fn finish(&mut self, status: JobStatus) {
        self.status = status;
        self.updated = SystemTime::now();
        self.finished = Some(Instant::now());
    }

    /// Milliseconds from creation to completion (or to now while running).
    pub fn process_time(&self) -> u128 {
        let end = self.finished.unwrap_or_else(Instant::now);
        end.duration_since(self.started).as_millis()
    }
}

/// A random UUID-like id (8-4-4-4-12 lower-case hex, version 4 layout).
pub(crate) fn uuid() -> String {
    let n = fastrand::u128(..);
    let n = (n & !(0xf << 76)) | (0x4 << 76);
    let n = (n & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{n:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A random opaque token of `n` hex characters.
pub(crate) fn random_hex(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        out.push_str(&format!("{:016x}", fastrand::u64(..)));
    }
    out.truncate(n);
    out
}

/// `t` as an RFC 3339 UTC timestamp with milliseconds.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (year, month, day) = civil_date(secs / 86_400);
    let rest = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The (year, month, day) `days` after 1970-01-01.
fn civil_date(mut days: u64) -> (u64, u64, u64) {
    let mut year = 1970;
    while days >= year_length(year) {
        days -= year_length(year);
        year += 1;
    }
    let mut month = 1;
    while days >= month_length(year, month) {
        days -= month_length(year, month);
        month += 1;
    }
    (year, month, days + 1)
}

fn is_leap(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn year_length(year: u64) -> u64 {
    if is_leap(year) { 366 } else { 365 }
}

fn month_length(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_007); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00.007Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_599); // last second of 2024
        assert_eq!(rfc3339(t), "2024-12-31T23:59:59.000Z");
    }

    #[test]
    fn ids_look_like_uuids() {
        let id = uuid();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
        assert_ne!(uuid(), id);
    }
}
