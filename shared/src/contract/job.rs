//! Job handles: what a step that starts long work returns, and what `check-status` reports about it.
//!
//! Waiting lives in the state machine (Wait → check-status → Choice), never in a sleeping Lambda.

use serde::{Deserialize, Serialize};

use super::datafusion::DataFusionInstance;
use super::promote::SparkTenant;
use super::refresh::Environment;

/// A handle on long-running work, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobHandle {
    /// A Glue job run.
    Glue {
        /// Environment (account, region) the job runs in.
        environment: Environment,
        /// Name of the Glue job.
        job_name: String,
        /// The `JobRunId` returned by `StartJobRun`.
        job_run_id: String,
    },
    /// Lambda event source mappings that must settle in one state.
    Mappings {
        /// Environment the mappings live in.
        environment: Environment,
        /// The mapping UUIDs.
        mapping_ids: Vec<String>,
        /// The state they must reach.
        want: MappingState,
    },
    /// A Spark ImpEx export job.
    SparkExport {
        /// The tenant it runs in.
        spark: SparkTenant,
        /// The job id.
        id: String,
    },
    /// A Spark ImpEx import job.
    SparkImport {
        /// The tenant it runs in.
        spark: SparkTenant,
        /// The job id.
        id: String,
    },
    /// Pipeline runs on a Data Fusion instance, started after a promotion.
    DataFusionRuns {
        /// The instance they run on.
        target: DataFusionInstance,
        /// The runs.
        runs: Vec<PipelineRun>,
    },
}

/// One pipeline run on a Data Fusion instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineRun {
    /// Its namespace.
    pub namespace: String,
    /// The pipeline.
    pub pipeline: String,
    /// The run id CDAP gave it.
    pub run_id: String,
}

impl JobHandle {
    /// A short name for messages: `glue job ferry-refresh-table run jr_…`.
    pub fn describe(&self) -> String {
        match self {
            JobHandle::Glue {
                job_name,
                job_run_id,
                ..
            } => format!("glue job '{job_name}' run '{job_run_id}'"),
            JobHandle::Mappings {
                mapping_ids, want, ..
            } => format!(
                "{} event source mapping(s) becoming {want:?}",
                mapping_ids.len()
            ),
            JobHandle::SparkExport { spark, id } => {
                format!("spark export job '{id}' on tenant '{}'", spark.tenant)
            }
            JobHandle::SparkImport { spark, id } => {
                format!("spark import job '{id}' on tenant '{}'", spark.tenant)
            }
            JobHandle::DataFusionRuns { target, runs } => {
                format!("{} pipeline run(s) on '{}'", runs.len(), target.describe())
            }
        }
    }
}

/// The settled states of an event source mapping ferry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MappingState {
    /// Consuming the stream.
    Enabled,
    /// Paused; the stream keeps recording.
    Disabled,
}

/// The three states a job can be in, as the state machine's Choice sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Still going: wait and poll again.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished badly; `detail` carries the job's own message.
    Failed,
}

/// Output of `check-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobStatus {
    /// RUNNING, SUCCEEDED or FAILED.
    pub state: JobState,
    /// The service's own state and message, for people.
    pub detail: String,
}
