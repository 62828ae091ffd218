//! Inputs and outputs of the promote steps (`export-service`, `import-service`), and the bundle
//! they hand each other through the artifact bucket.
//!
//! The typed [`PromoteRequest`] produced by the first step travels with every later step, so each
//! step works from the same resolved tenant URLs and mappings.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::job::JobHandle;
use super::promote::{Platform, PromoteRequest};

/// Input of `export-service`, by `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ExportServiceInput {
    /// Validate the raw execution input and start the export (or find the one this run started).
    Start {
        /// The execution name (also the export's correlation id).
        run_id: String,
        /// The raw execution input.
        request: Value,
    },
    /// Download every file of the finished export into the artifact bucket, with a manifest.
    Store {
        /// The execution name.
        run_id: String,
        /// The validated request.
        request: PromoteRequest,
        /// The finished export job.
        job: JobHandle,
    },
    /// Cancel an export that ran out of time, freeing the tenant's one job slot.
    Cancel {
        /// The execution name.
        run_id: String,
        /// The validated request.
        request: PromoteRequest,
        /// The export job.
        job: JobHandle,
    },
}

/// Output of `export-service` `start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportStarted {
    /// The validated request, for every later step.
    pub request: PromoteRequest,
    /// The export job to poll (null when the platform exported at once).
    #[serde(default)]
    pub job: Option<JobHandle>,
    /// The stored bundle, when the platform exported at once (null otherwise; the state machine
    /// tests it).
    #[serde(default)]
    pub bundle: Option<Bundle>,
    /// Status checks allowed before the deadline.
    pub max_polls: u64,
    /// Seconds between two status checks.
    pub interval_seconds: u64,
}

/// Output of `export-service` `cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportCancelled {
    /// The job's status after the cancel request.
    pub detail: String,
}

/// One exported file, stored in the artifact bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// File name inside the bundle.
    pub name: String,
    /// Object key in the artifact bucket.
    pub key: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// One exported item (a Spark service) and the versions the bundle holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleItem {
    /// `folder/service` on the source.
    pub uri: String,
    /// Version labels, oldest first.
    pub versions: Vec<String>,
}

/// An export kept in the artifact bucket: the audit trail and the rollback source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// The platform it came from.
    pub platform: Platform,
    /// The artifact bucket.
    pub bucket: String,
    /// `bundles/<platform>/<run>/`.
    pub prefix: String,
    /// Key of `manifest.json`.
    pub manifest_key: String,
    /// The stored files.
    pub files: Vec<BundleFile>,
    /// What the export holds.
    pub items: Vec<BundleItem>,
    /// sha256 of `manifest.json` as stored (declarative bundles): loading refuses any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_sha256: Option<String>,
}

/// Input of `import-service`, by `action`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImportServiceInput {
    /// Work out what the import would do on the target; change nothing.
    Plan {
        /// The execution name.
        run_id: String,
        /// The validated request.
        request: PromoteRequest,
        /// The stored export.
        bundle: Bundle,
    },
    /// Start the import (or find the one this run started).
    Apply {
        /// The execution name (also the import's correlation id).
        run_id: String,
        /// The validated request.
        request: PromoteRequest,
        /// The stored export.
        bundle: Bundle,
    },
    /// Check that the target now holds what the plan promised (Spark: every planned service and
    /// version; declarative platforms: planning again finds nothing to do).
    Verify {
        /// The execution name.
        run_id: String,
        /// The validated request.
        request: PromoteRequest,
        /// The plan the import followed (its shape is the platform's).
        plan: Value,
        /// The finished import job (null when applied at once).
        #[serde(default)]
        job: Option<JobHandle>,
        /// The stored bundle (declarative platforms plan it again).
        #[serde(default)]
        bundle: Option<Bundle>,
    },
    /// Run the pipelines the request names after the promotion (Data Fusion `start`), or find
    /// the runs this promotion started.
    Start {
        /// The execution name (every run carries it).
        run_id: String,
        /// The validated request.
        request: PromoteRequest,
    },
}

/// Output of `import-service` `start`: the runs to wait for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsStarted {
    /// The runs, as a job handle for `check-status`.
    pub job: JobHandle,
}

/// What an import does to one destination service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// The service does not exist: it is created with the exported versions.
    Create,
    /// It exists: the exported versions are added as new versions.
    AddVersion,
    /// It exists: its versions are replaced by the exported ones.
    Replace,
}

/// The planned change to one destination service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedChange {
    /// Source `folder/service`.
    pub source: String,
    /// Destination `folder/service`.
    pub target: String,
    /// What happens to it.
    pub action: ChangeAction,
    /// Latest version on the target before the import, if the service exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing_latest: Option<String>,
    /// Version labels the import is expected to write, in order.
    pub new_versions: Vec<String>,
}

/// Output of `import-service` `plan`: what the import will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromotePlan {
    /// Target environment name.
    pub target: String,
    /// Target tenant.
    pub tenant: String,
    /// One change per mapped service.
    pub changes: Vec<PlannedChange>,
}

/// Output of `import-service` `apply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportStarted {
    /// The import job to poll.
    pub job: JobHandle,
}

/// One destination service as found after the import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedService {
    /// Destination `folder/service`.
    pub target: String,
    /// Versions the import reported, each found on the target.
    pub versions: Vec<String>,
    /// The service's latest version on the target now.
    pub latest: String,
}

/// Output of `import-service` `verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verification {
    /// Every planned destination, found with exactly the planned versions.
    pub services: Vec<VerifiedService>,
}

/// Output of `import-service` `plan` on a declarative platform: the counts, the first changes
/// with their field diffs, and where the whole plan and the target's snapshot are kept (the full
/// plan can be larger than a state's payload allows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarativePlanOutput {
    /// The platform.
    pub platform: Platform,
    /// Target environment name.
    pub target: String,
    /// Where the desired state came from (a git URL and commit, a node, a bundle).
    pub source: Value,
    /// Changes per action.
    pub counts: crate::declarative::Counts,
    /// True when the target already matches: nothing to apply (the state machine skips apply).
    pub nothing_to_do: bool,
    /// Why the guards refuse the plan (only a dry run gets this far with a refused plan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// The first changes, in apply order, each with at most a few field diffs.
    pub changes: Vec<crate::declarative::Change>,
    /// Changes not listed here (see `plan`).
    pub more_changes: u64,
    /// Target entities kept because pruning is off (the first few).
    pub kept: Vec<String>,
    /// Protected entities, never touched.
    pub protected: Vec<String>,
    /// `s3://…/plan.json`: the whole plan.
    pub plan: String,
    /// `s3://…/before/`: the target as it was before this run (the rollback source), kept by the
    /// apply just before its first change; a dry run or a plan with nothing to do keeps none.
    pub before: String,
}

/// Output of `import-service` `apply` on a declarative platform: applied at once, nothing to poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarativeApplied {
    /// Always null: the state machine goes straight to verify.
    pub job: Option<JobHandle>,
    /// How many changes were applied; 0 when a re-run found nothing left to do.
    pub count: u64,
    /// Changes left because the invocation's time ran low: the state machine applies again.
    pub remaining: u64,
    /// The first changes applied (`kind/id`), in order (all of them are in the function's log).
    pub applied: Vec<String>,
}
