//! Coherent Spark: services promoted between tenants with the ImpEx API.
//!
//! Export and import are asynchronous jobs, one per tenant at a time. Before exporting, the target's
//! credentials and destination folders are checked, so a promotion that cannot land exports nothing.
//! Both jobs are started with the ferry run id as `correlation_id`, so a repeated step finds the job its earlier attempt started instead of
//! starting a second one. The plan reads the target (folders, services, versions) and changes nothing.

pub mod api;
pub mod client;
pub mod credentials;
mod versions;

use std::time::Duration;

use tokio::sync::OnceCell;

use self::api::{
    ExportInputs, ExportRequest, ImportEntity, ImportInputs, JobReport, ServiceModify,
};
use self::client::{RetryPolicy, SOURCE_SYSTEM, SparkClient, api_error};
use self::credentials::Credentials;
use self::versions::{bump, latest};
use super::{Applied, Collected, Connector, Exported, ExportedFile};
use crate::contract::{
    Bundle, BundleItem, ChangeAction, JobHandle, JobState, JobStatus, PlannedChange, PromotePlan,
    PromoteRequest, ServicesExisting, SparkSelection, SparkTenant, Verification, VerifiedService,
    split_uri,
};
use crate::error::{MissingResource, TaskError};

pub use super::SecretSource;

/// Builds a client for `tenant` with the credentials its secret holds.
pub async fn connect(
    secrets: &impl SecretSource,
    tenant: &SparkTenant,
    field: &str,
    timeout: Duration,
) -> Result<SparkClient, TaskError> {
    // Boxed: the SDK call's future nested inside every connector future is otherwise deeper than
    // rustc's default type-layout limit in the functions that await a connector.
    let text = Box::pin(secrets.secret(&tenant.auth_secret_arn, field)).await?;
    let credentials = Credentials::read(&text, &tenant.auth_secret_arn, field)?;
    SparkClient::new(tenant.clone(), credentials, timeout, RetryPolicy::default())
}

/// A Spark promotion: the request, and a client per side made on first use.
pub struct SparkConnector<'a, S> {
    request: &'a PromoteRequest,
    selection: &'a SparkSelection,
    source_tenant: &'a SparkTenant,
    target_tenant: &'a SparkTenant,
    secrets: &'a S,
    source: OnceCell<SparkClient>,
    target: OnceCell<SparkClient>,
}

impl<'a, S: SecretSource> SparkConnector<'a, S> {
    /// A connector for `request`, reading credentials from `secrets`.
    pub fn new(request: &'a PromoteRequest, secrets: &'a S) -> Result<Self, TaskError> {
        Ok(SparkConnector {
            request,
            selection: request.spark_selection()?,
            source_tenant: request.source.spark_tenant("source")?,
            target_tenant: request.target.spark_tenant("target")?,
            secrets,
            source: OnceCell::new(),
            target: OnceCell::new(),
        })
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.selection.timeout_seconds)
    }

    async fn source(&self) -> Result<&SparkClient, TaskError> {
        let tenant = self.source_tenant;
        self.source
            .get_or_try_init(|| {
                connect(
                    self.secrets,
                    tenant,
                    "source.spark.auth_secret_arn",
                    self.timeout(),
                )
            })
            .await
    }

    async fn target(&self) -> Result<&SparkClient, TaskError> {
        let tenant = self.target_tenant;
        self.target
            .get_or_try_init(|| {
                connect(
                    self.secrets,
                    tenant,
                    "target.spark.auth_secret_arn",
                    self.timeout(),
                )
            })
            .await
    }

    /// The client for the tenant a job runs in.
    async fn client_for(&self, spark: &SparkTenant) -> Result<&SparkClient, TaskError> {
        if spark == self.target_tenant {
            self.target().await
        } else {
            self.source().await
        }
    }

    fn export_request(&self, run_id: &str) -> ExportRequest {
        ExportRequest {
            inputs: ExportInputs {
                services: self
                    .selection
                    .services
                    .iter()
                    .map(|m| m.locator())
                    .collect(),
                ..ExportInputs::default()
            },
            file_filter: "migrate",
            version_filter: self.selection.version_filter,
            source_system: SOURCE_SYSTEM,
            correlation_id: run_id.to_string(),
        }
    }

    fn import_entity(&self, run_id: &str) -> ImportEntity {
        ImportEntity {
            inputs: ImportInputs {
                services_modify: self
                    .selection
                    .services
                    .iter()
                    .map(|m| ServiceModify {
                        service_uri_source: m.source.clone(),
                        service_uri_destination: m.target.clone(),
                        update_version_type: m.upgrade,
                    })
                    .collect(),
            },
            services_existing: self.selection.services_existing,
            source_system: SOURCE_SYSTEM,
            correlation_id: run_id.to_string(),
        }
    }

    /// Places for [`MissingResource`]: "tenant 'acme' (prod)".
    fn target_place(&self) -> String {
        format!(
            "tenant '{}' ({})",
            self.target_tenant.tenant, self.request.target.name
        )
    }

    /// Before anything is exported: the target's credentials work and its destination folders exist.
    async fn check_target(&self) -> Result<(), TaskError> {
        let missing = self.missing_folders(self.target().await?).await?;
        if missing.is_empty() {
            Ok(())
        } else {
            Err(TaskError::NotFound(missing))
        }
    }

    async fn missing_folders(
        &self,
        client: &SparkClient,
    ) -> Result<Vec<MissingResource>, TaskError> {
        let mut folders: Vec<&str> = self
            .selection
            .services
            .iter()
            .map(|m| m.target_folder())
            .collect();
        folders.sort_unstable();
        folders.dedup();
        let mut missing = Vec::new();
        for folder in folders {
            if !client.folder_exists(folder).await? {
                missing.push(MissingResource {
                    what: "Spark folder",
                    name: folder.to_string(),
                    place: self.target_place(),
                });
            }
        }
        Ok(missing)
    }

    async fn planned_change(
        &self,
        client: &SparkClient,
        bundle: &Bundle,
        index: usize,
    ) -> Result<PlannedChange, TaskError> {
        let mapping = &self.selection.services[index];
        let item = bundle
            .items
            .iter()
            .find(|i| i.uri == mapping.source)
            .ok_or_else(|| {
                TaskError::Mismatch(format!(
                    "spark.services[{index}]: the export holds no service '{}' (it holds: {})",
                    mapping.source,
                    bundle
                        .items
                        .iter()
                        .map(|i| i.uri.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let (folder, service) = split_uri(&mapping.target);
        let existing = client.versions(folder, service).await?;
        let labels: Vec<&str> = existing.iter().map(|v| v.label()).collect();
        let existing_latest = latest(&labels).map(str::to_string);
        let (action, new_versions) = match (&existing_latest, self.selection.services_existing) {
            (None, _) => (ChangeAction::Create, item.versions.clone()),
            (Some(_), ServicesExisting::Replace) => (ChangeAction::Replace, item.versions.clone()),
            (Some(current), ServicesExisting::AddVersion) => (
                ChangeAction::AddVersion,
                bump_chain(current, item.versions.len(), mapping.upgrade),
            ),
            (Some(current), ServicesExisting::Abort) => {
                return Err(TaskError::Mismatch(format!(
                    "spark.services[{index}]: '{}' already exists on {} (latest {current}) and spark.services_existing is abort; nothing was imported",
                    mapping.target,
                    self.target_place()
                )));
            }
        };
        Ok(PlannedChange {
            source: mapping.source.clone(),
            target: mapping.target.clone(),
            action,
            existing_latest,
            new_versions,
        })
    }

    /// The `kind` job (export or import) this run already started, if the tenant lists it.
    async fn earlier_job(
        &self,
        client: &SparkClient,
        kind: &str,
        run_id: &str,
    ) -> Result<Option<String>, TaskError> {
        for id in client.list_jobs(kind).await?.ids {
            let report = if kind == "export" {
                client.export_status(&id).await?
            } else {
                client.import_status(&id).await?
            };
            if report.correlation_id.as_deref() == Some(run_id) {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    async fn verify_change(
        &self,
        client: &SparkClient,
        change: &PlannedChange,
        report: &JobReport,
    ) -> Result<VerifiedService, String> {
        let reported: Vec<&api::ServiceOutput> = report
            .outputs
            .service_versions
            .iter()
            .filter(|v| v.service_uri_destination.as_deref() == Some(change.target.as_str()))
            .collect();
        let listed_service = report
            .outputs
            .services
            .iter()
            .any(|s| s.service_uri_destination.as_deref() == Some(change.target.as_str()));
        if reported.is_empty() && !listed_service {
            return Err(format!(
                "the import reported nothing for '{}'",
                change.target
            ));
        }
        let (folder, service) = split_uri(&change.target);
        let found = client
            .versions(folder, service)
            .await
            .map_err(|e| e.to_string())?;
        if found.is_empty() {
            return Err(format!("'{}' does not exist on the target", change.target));
        }
        let mut versions = Vec::new();
        for version in reported {
            let label = version.version_destination.clone().unwrap_or_default();
            let present = found.iter().any(|f| {
                version
                    .version_id_destination
                    .as_deref()
                    .is_some_and(|id| id == f.id)
                    || f.label() == label
            });
            if !present {
                return Err(format!(
                    "version {label} of '{}' is not on the target",
                    change.target
                ));
            }
            versions.push(label);
        }
        if versions != change.new_versions {
            return Err(format!(
                "'{}': the plan promised versions {:?}, the import wrote {:?} (the target changed between plan and import?)",
                change.target, change.new_versions, versions
            ));
        }
        let labels: Vec<&str> = found.iter().map(|v| v.label()).collect();
        Ok(VerifiedService {
            target: change.target.clone(),
            versions,
            latest: latest(&labels).unwrap_or_default().to_string(),
        })
    }
}

/// `count` successive bumps of `from`.
fn bump_chain(from: &str, count: usize, upgrade: crate::contract::Upgrade) -> Vec<String> {
    let mut current = from.to_string();
    (0..count)
        .map(|_| {
            current = bump(&current, upgrade);
            current.clone()
        })
        .collect()
}

impl<S: SecretSource> Connector for SparkConnector<'_, S> {
    async fn export(&self, run_id: &str) -> Result<Exported, TaskError> {
        let client = self.source().await?;
        let id = match self.earlier_job(client, "export", run_id).await? {
            Some(id) => {
                tracing::info!(%id, "found the export this run started");
                id
            }
            None => {
                self.check_target().await?;
                client.start_export(&self.export_request(run_id)).await?
            }
        };
        Ok(Exported::Job(JobHandle::SparkExport {
            spark: client.tenant().clone(),
            id,
        }))
    }

    async fn collect(&self, job: &JobHandle) -> Result<Collected, TaskError> {
        let JobHandle::SparkExport { spark, id } = job else {
            return Err(TaskError::Mismatch(format!(
                "{} is not a Spark export",
                job.describe()
            )));
        };
        let client = self.client_for(spark).await?;
        let report = client.export_status(id).await?;
        let state = export_state(&report);
        if state.state != JobState::Succeeded {
            return Err(job_failed(id, &state.detail));
        }
        let mut files = Vec::with_capacity(report.outputs.files.len());
        for (index, file) in report.outputs.files.iter().enumerate() {
            let bytes = client.download(&file.file).await?;
            check_file_hash(&bytes, &file.file_hash, id, index)?;
            files.push(ExportedFile {
                name: format!("export-{}.zip", index + 1),
                bytes,
            });
        }
        Ok(Collected {
            files,
            items: exported_items(&report),
        })
    }

    async fn cancel(&self, job: &JobHandle) -> Result<String, TaskError> {
        let JobHandle::SparkExport { spark, id } = job else {
            return Err(TaskError::Mismatch(format!(
                "{} cannot be cancelled",
                job.describe()
            )));
        };
        let report = self.client_for(spark).await?.cancel_export(id).await?;
        Ok(format!("export job '{id}' is {}", report.status))
    }

    async fn status(&self, job: &JobHandle) -> Result<JobStatus, TaskError> {
        match job {
            JobHandle::SparkExport { spark, .. } | JobHandle::SparkImport { spark, .. } => {
                job_status(self.client_for(spark).await?, job).await
            }
            other => Err(TaskError::Mismatch(format!(
                "{} is not a Spark job",
                other.describe()
            ))),
        }
    }

    async fn plan(&self, bundle: &Bundle) -> Result<PromotePlan, TaskError> {
        if bundle.files.len() != 1 {
            return Err(TaskError::Mismatch(format!(
                "the export produced {} files; a Spark import takes exactly one package",
                bundle.files.len()
            )));
        }
        self.check_target().await?;
        let client = self.target().await?;
        let mut changes = Vec::with_capacity(self.selection.services.len());
        for index in 0..self.selection.services.len() {
            changes.push(self.planned_change(client, bundle, index).await?);
        }
        Ok(PromotePlan {
            target: self.request.target.name.clone(),
            tenant: self.target_tenant.tenant.clone(),
            changes,
        })
    }

    async fn apply(&self, files: Vec<ExportedFile>, run_id: &str) -> Result<Applied, TaskError> {
        let client = self.target().await?;
        let id = match self.earlier_job(client, "import", run_id).await? {
            Some(id) => {
                tracing::info!(%id, "found the import this run started");
                id
            }
            None => {
                let package = files.into_iter().next().ok_or_else(|| {
                    TaskError::Mismatch("the bundle holds no package to import".into())
                })?;
                client
                    .start_import(package.bytes, &self.import_entity(run_id))
                    .await?
            }
        };
        Ok(Applied::Job(JobHandle::SparkImport {
            spark: client.tenant().clone(),
            id,
        }))
    }

    async fn verify(
        &self,
        plan: &PromotePlan,
        applied: &Applied,
    ) -> Result<Verification, TaskError> {
        let Applied::Job(JobHandle::SparkImport { id, .. }) = applied else {
            return Err(TaskError::Mismatch(
                "a Spark import is verified from its import job".into(),
            ));
        };
        let client = self.target().await?;
        let report = client.import_status(id).await?;
        let mut services = Vec::new();
        let mut problems = Vec::new();
        for change in &plan.changes {
            match self.verify_change(client, change, &report).await {
                Ok(service) => services.push(service),
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(TaskError::VerificationFailed(problems));
        }
        Ok(Verification { services })
    }
}

/// The state of a Spark job, from one status read.
pub async fn job_status(client: &SparkClient, job: &JobHandle) -> Result<JobStatus, TaskError> {
    match job {
        JobHandle::SparkExport { id, .. } => Ok(export_state(&client.export_status(id).await?)),
        JobHandle::SparkImport { id, .. } => Ok(import_state(&client.import_status(id).await?)),
        other => Err(TaskError::Mismatch(format!(
            "{} is not a Spark job",
            other.describe()
        ))),
    }
}

/// Statuses that can only mean the job stopped badly (the service's vocabulary is not published).
fn ended_badly(status: &str) -> bool {
    matches!(
        status.to_ascii_lowercase().as_str(),
        "failed" | "error" | "cancelled" | "canceled" | "aborted"
    )
}

/// An export succeeded only when it is completed or closed and has files.
pub fn export_state(report: &JobReport) -> JobStatus {
    let files = report.outputs.files.len();
    if report.finished() && files > 0 {
        let services = report.outputs.services.len();
        return succeeded(format!(
            "{}: {files} file(s), {services} service(s)",
            report.status
        ));
    }
    if report.finished() {
        return failed(format!(
            "{} without any file to download{}",
            report.status,
            errors_suffix(report)
        ));
    }
    if ended_badly(&report.status) {
        return failed(format!("{}{}", report.status, errors_suffix(report)));
    }
    running(&report.status)
}

/// An import succeeded only when it is completed or closed without errors.
pub fn import_state(report: &JobReport) -> JobStatus {
    if report.finished() && !report.has_errors() {
        return succeeded(format!(
            "{}: {} service(s), {} version(s)",
            report.status,
            report.outputs.services.len(),
            report.outputs.service_versions.len()
        ));
    }
    if report.finished() || ended_badly(&report.status) {
        return failed(format!(
            "{} with errors{}",
            report.status,
            errors_suffix(report)
        ));
    }
    running(&report.status)
}

fn succeeded(detail: String) -> JobStatus {
    JobStatus {
        state: JobState::Succeeded,
        detail,
    }
}

fn failed(detail: String) -> JobStatus {
    JobStatus {
        state: JobState::Failed,
        detail,
    }
}

fn running(status: &str) -> JobStatus {
    JobStatus {
        state: JobState::Running,
        detail: if status.is_empty() {
            "no status yet".into()
        } else {
            status.to_string()
        },
    }
}

/// `: <errors>` (at most 500 characters), or nothing when the job reported none.
fn errors_suffix(report: &JobReport) -> String {
    if !report.has_errors() {
        return String::new();
    }
    let text = report.errors.to_string();
    format!(": {}", text.chars().take(500).collect::<String>())
}

fn job_failed(id: &str, detail: &str) -> TaskError {
    TaskError::JobFailed {
        kind: "spark export",
        id: id.to_string(),
        state: detail.split(':').next().unwrap_or(detail).to_string(),
        message: detail.to_string(),
    }
}

/// Refuses a download whose SHA-256 differs from a SHA-256-shaped `file_hash`.
fn check_file_hash(bytes: &[u8], file_hash: &str, id: &str, index: usize) -> Result<(), TaskError> {
    let expected = file_hash.trim().to_ascii_lowercase();
    let sha256_shaped = expected.len() == 64 && expected.bytes().all(|b| b.is_ascii_hexdigit());
    if !sha256_shaped {
        return Ok(());
    }
    let actual = crate::checksum::sha256_hex(bytes);
    if actual == expected {
        Ok(())
    } else {
        Err(api_error(
            "download export",
            id,
            crate::error::Failure::Retryable,
            format!(
                "file {} arrived with sha256 {actual}, the job announced {expected}",
                index + 1
            ),
        ))
    }
}

/// The exported services and their versions, from an export's outputs.
fn exported_items(report: &JobReport) -> Vec<BundleItem> {
    let mut items: Vec<BundleItem> = Vec::new();
    let services = report
        .outputs
        .services
        .iter()
        .map(|s| (s.service_uri_source.as_str(), None));
    let versions = report
        .outputs
        .service_versions
        .iter()
        .map(|v| (v.service_uri_source.as_str(), v.version_source.as_deref()));
    for (uri, version) in services.chain(versions) {
        let index = match items.iter().position(|i| i.uri == uri) {
            Some(index) => index,
            None => {
                items.push(BundleItem {
                    uri: uri.to_string(),
                    versions: Vec::new(),
                });
                items.len() - 1
            }
        };
        if let Some(version) = version
            && !items[index].versions.iter().any(|v| v == version)
        {
            items[index].versions.push(version.to_string());
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::contract::Upgrade;

    fn report(value: serde_json::Value) -> JobReport {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn export_needs_files_to_succeed() {
        let done = report(json!({"status": "completed", "outputs": {"files": [{"file": "u"}]}}));
        assert_eq!(export_state(&done).state, JobState::Succeeded);
        let empty = report(json!({"status": "closed", "outputs": {"files": []}}));
        assert_eq!(export_state(&empty).state, JobState::Failed);
        let going = report(json!({"status": "in_progress"}));
        assert_eq!(export_state(&going), running("in_progress"));
        assert_eq!(
            export_state(&report(json!({"status": "cancelled"}))).state,
            JobState::Failed
        );
    }

    #[test]
    fn import_with_errors_fails_with_them() {
        let bad = report(
            json!({"status": "completed", "errors": [{"message": "folder rating missing"}]}),
        );
        let state = import_state(&bad);
        assert_eq!(state.state, JobState::Failed);
        assert!(
            state.detail.contains("folder rating missing"),
            "{}",
            state.detail
        );
        let good = report(json!({"status": "completed", "errors": null}));
        assert_eq!(import_state(&good).state, JobState::Succeeded);
    }

    #[test]
    fn items_group_versions_by_service() {
        let done = report(json!({"outputs": {
            "services": [{"service_uri_source": "p/q"}, {"service_uri_source": "p/r"}],
            "service_versions": [
                {"service_uri_source": "p/q", "version_source": "1.0.0"},
                {"service_uri_source": "p/q", "version_source": "1.1.0"}]}}));
        assert_eq!(
            exported_items(&done),
            vec![
                BundleItem {
                    uri: "p/q".into(),
                    versions: vec!["1.0.0".into(), "1.1.0".into()]
                },
                BundleItem {
                    uri: "p/r".into(),
                    versions: vec![]
                },
            ]
        );
    }

    #[test]
    fn added_versions_bump_from_the_latest() {
        assert_eq!(bump_chain("1.2.3", 2, Upgrade::Minor), ["1.3.0", "1.4.0"]);
        assert_eq!(bump_chain("1.2.3", 1, Upgrade::Major), ["2.0.0"]);
    }

    #[test]
    fn a_corrupted_download_is_refused() {
        let hash = crate::checksum::sha256_hex(b"zip");
        assert!(check_file_hash(b"zip", &hash, "j", 0).is_ok());
        assert!(check_file_hash(b"zap", &hash, "j", 0).is_err());
        assert!(check_file_hash(b"zap", "opaque-hash", "j", 0).is_ok());
    }
}
