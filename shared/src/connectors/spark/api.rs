//! The Spark ImpEx payloads ferry sends and reads (API v4, and the v1/v3 helpers).
//!
//! Response types read leniently (unknown fields ignored, missing ones defaulted): the service's
//! full vocabulary is not published, and a new field must never break a promotion.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::{ServicesExisting, Upgrade, VersionFilter};

/// `inputs` of an export request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportInputs {
    /// `folder/service` or `folder/service[1.2]` locators.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
    /// Whole folders.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<String>,
    /// Exact version ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub version_ids: Vec<String>,
}

/// Body of `POST api/v4/export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRequest {
    /// What to export.
    pub inputs: ExportInputs,
    /// Always `migrate`: everything an import needs.
    pub file_filter: &'static str,
    /// Versions per service.
    pub version_filter: VersionFilter,
    /// Who asks.
    pub source_system: &'static str,
    /// The ferry run id.
    pub correlation_id: String,
}

/// Reply to starting an export or import.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JobStarted {
    /// The job id.
    pub id: String,
}

/// One downloadable file of a finished export.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ExportFile {
    /// Absolute download URL.
    pub file: String,
    /// The service's hash of the file.
    pub file_hash: String,
}

/// A service in job outputs (source side, and destination side for imports).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ServiceOutput {
    /// `folder/service` on the source.
    pub service_uri_source: String,
    /// `folder/service` on the destination (imports).
    pub service_uri_destination: Option<String>,
    /// Version label on the source (version entries).
    pub version_source: Option<String>,
    /// Version label on the destination (import version entries).
    pub version_destination: Option<String>,
    /// Version id on the destination (import version entries).
    pub version_id_destination: Option<String>,
    /// `added`, `replaced`, … (imports).
    pub status: Option<String>,
}

/// `outputs` of a job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct JobOutputs {
    /// Exported files.
    pub files: Vec<ExportFile>,
    /// Services.
    pub services: Vec<ServiceOutput>,
    /// Versions.
    pub service_versions: Vec<ServiceOutput>,
}

/// Status of an export or import job.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(default)]
pub struct JobReport {
    /// The job id.
    pub id: String,
    /// `in_progress`, `completed`, `closed`, ….
    pub status: String,
    /// The correlation id the job was started with.
    pub correlation_id: Option<String>,
    /// What the job produced.
    pub outputs: JobOutputs,
    /// Job-level errors; null when fine.
    pub errors: Value,
    /// Job-level warnings.
    pub warnings: Value,
}

impl JobReport {
    /// Whether the service says the job is over (the only two words the service uses for it).
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "completed" | "closed")
    }

    /// Whether the job reported errors (anything but null, false, empty).
    pub fn has_errors(&self) -> bool {
        match &self.errors {
            Value::Null | Value::Bool(false) => false,
            Value::Array(items) => !items.is_empty(),
            Value::Object(map) => !map.is_empty(),
            Value::String(text) => !text.is_empty(),
            _ => true,
        }
    }
}

/// One service to import and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceModify {
    /// `folder/service` as exported.
    pub service_uri_source: String,
    /// `folder/service` on the target.
    pub service_uri_destination: String,
    /// Version bump for added versions.
    pub update_version_type: Upgrade,
}

/// `inputs` of an import request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportInputs {
    /// The mappings.
    pub services_modify: Vec<ServiceModify>,
}

/// The `importRequestEntity` part of an import request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportEntity {
    /// What to import.
    pub inputs: ImportInputs,
    /// Policy for existing destination services.
    pub services_existing: ServicesExisting,
    /// Who asks.
    pub source_system: &'static str,
    /// The ferry run id.
    pub correlation_id: String,
}

/// A job in a tenant's job list (`api/v4/{export,import}/status`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct ListedJob {
    /// The job id.
    pub id: String,
}

/// A tenant's recent and running jobs of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobList {
    /// Ids of running and recent jobs.
    pub ids: Vec<String>,
}

impl JobList {
    /// Reads the `in_progress_*` and `recent_*` arrays of a describe reply.
    pub fn from_describe(value: &Value, kind: &str) -> JobList {
        let mut ids = Vec::new();
        for key in [format!("in_progress_{kind}s"), format!("recent_{kind}s")] {
            let listed = value.get(&key).and_then(Value::as_array);
            for job in listed.into_iter().flatten() {
                if let Some(id) = job.get("id").and_then(Value::as_str)
                    && !ids.iter().any(|known| known == id)
                {
                    ids.push(id.to_string());
                }
            }
        }
        JobList { ids }
    }
}

/// One version of a service (`api/v1/product/{folder}/engines/getversions/{service}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default)]
pub struct VersionInfo {
    /// Version id.
    pub id: String,
    /// Version label (`1.2.0`).
    pub revision: String,
    /// Display label, when `revision` is absent.
    #[serde(rename = "versionLabel")]
    pub version_label: Option<String>,
}

impl VersionInfo {
    /// The version label.
    pub fn label(&self) -> &str {
        if self.revision.is_empty() {
            self.version_label.as_deref().unwrap_or("")
        } else {
            &self.revision
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_job_is_finished_only_when_completed_or_closed() {
        for (status, done) in [
            ("completed", true),
            ("closed", true),
            ("in_progress", false),
            ("cancelled", false),
        ] {
            let report: JobReport = serde_json::from_value(json!({"status": status})).unwrap();
            assert_eq!(report.finished(), done, "{status}");
        }
    }

    #[test]
    fn errors_count_only_when_present() {
        let read = |errors: Value| -> bool {
            serde_json::from_value::<JobReport>(json!({"errors": errors}))
                .unwrap()
                .has_errors()
        };
        assert!(!read(Value::Null));
        assert!(!read(json!([])));
        assert!(read(json!([{"message": "folder missing"}])));
        assert!(read(json!("boom")));
    }

    #[test]
    fn job_lists_merge_running_and_recent() {
        let list = JobList::from_describe(
            &json!({"in_progress_imports": [{"id": "a"}], "recent_imports": [{"id": "b"}, {"id": "a"}]}),
            "import",
        );
        assert_eq!(list.ids, ["a", "b"]);
    }
}
