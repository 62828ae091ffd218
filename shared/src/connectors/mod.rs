//! Connectors: one module per platform ferry promotes configuration on, behind one [`Connector`] trait.
//!
//! A promotion is the same five moves on every platform: export a selection from the source (a job
//! to wait for, or the files at once), plan against the target (what would be created or changed,
//! changing nothing), apply (a job to wait for, or done), the status of a job, and verify that the
//! target now holds what the plan promised. The steps (`export-service`, `import-service`,
//! `check-status`) store bundles and drive the state machine; connectors only talk to the platform.

pub mod compass;
pub mod datafusion;
pub mod sesam;
pub mod spark;

use std::future::Future;

use crate::aws::Session;
use crate::contract::{Bundle, BundleItem, JobHandle, JobStatus, PromotePlan, Verification};
use crate::error::TaskError;

/// Where credentials come from: Secrets Manager in a deployment.
pub trait SecretSource: Sync {
    /// The string value of the secret `arn`; `field` names the input field for errors.
    fn secret(
        &self,
        arn: &str,
        field: &str,
    ) -> impl Future<Output = Result<String, TaskError>> + Send;
}

impl SecretSource for Session {
    async fn secret(&self, arn: &str, field: &str) -> Result<String, TaskError> {
        self.secret_string(arn, field).await
    }
}

/// One exported file, in memory between the platform and the artifact bucket.
#[derive(Clone, PartialEq, Eq)]
pub struct ExportedFile {
    /// File name inside the bundle (no `/`).
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ExportedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExportedFile({}, {} bytes)", self.name, self.bytes.len())
    }
}

/// A finished export: its files and what they hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collected {
    /// The files, in the platform's order.
    pub files: Vec<ExportedFile>,
    /// The exported items and their versions.
    pub items: Vec<BundleItem>,
}

/// What starting an export gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exported {
    /// An asynchronous job: poll it, then collect it.
    Job(JobHandle),
    /// The files, at once (platforms with synchronous exports).
    Done(Collected),
}

/// What applying a plan gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// An asynchronous job: poll it, then verify.
    Job(JobHandle),
    /// Applied at once.
    Done,
}

/// The moves of a promotion on one platform.
pub trait Connector {
    /// Starts exporting the selection from the source, or finds the export this run already started.
    fn export(&self, run_id: &str) -> impl Future<Output = Result<Exported, TaskError>> + Send;

    /// The files and items of a finished export job.
    fn collect(&self, job: &JobHandle)
    -> impl Future<Output = Result<Collected, TaskError>> + Send;

    /// Stops an export job; returns its status afterwards.
    fn cancel(&self, job: &JobHandle) -> impl Future<Output = Result<String, TaskError>> + Send;

    /// The state of a job.
    fn status(&self, job: &JobHandle) -> impl Future<Output = Result<JobStatus, TaskError>> + Send;

    /// What applying `bundle` would do on the target; changes nothing.
    fn plan(&self, bundle: &Bundle) -> impl Future<Output = Result<PromotePlan, TaskError>> + Send;

    /// Applies the bundle's files to the target, or finds the apply this run already started.
    fn apply(
        &self,
        files: Vec<ExportedFile>,
        run_id: &str,
    ) -> impl Future<Output = Result<Applied, TaskError>> + Send;

    /// Checks that the target holds everything the plan promised.
    fn verify(
        &self,
        plan: &PromotePlan,
        applied: &Applied,
    ) -> impl Future<Output = Result<Verification, TaskError>> + Send;
}

/// The client `build` makes from the secret `arn` (`field` names it in errors).
pub(crate) async fn with_secret<T>(
    secrets: &impl SecretSource,
    arn: &str,
    field: &str,
    build: impl FnOnce(&str) -> Result<T, TaskError>,
) -> Result<T, TaskError> {
    let text = Box::pin(secrets.secret(arn, field)).await?;
    build(&text)
}

/// Both results, or the error of the failed one (both problems at once when both are about input).
pub(crate) fn both<A, B>(
    a: Result<A, TaskError>,
    b: Result<B, TaskError>,
) -> Result<(A, B), TaskError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(x), Err(y)) => Err(merge(x, y)),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Both problems of two failed checks, as one error when both are about input.
fn merge(a: TaskError, b: TaskError) -> TaskError {
    match (a, b) {
        (TaskError::InvalidInput(mut x), TaskError::InvalidInput(y)) => {
            x.extend(y);
            TaskError::InvalidInput(x)
        }
        (TaskError::InvalidInput(x), _) | (_, TaskError::InvalidInput(x)) => {
            TaskError::InvalidInput(x.into_iter().collect::<Vec<crate::error::FieldProblem>>())
        }
        (a, _) => a,
    }
}
