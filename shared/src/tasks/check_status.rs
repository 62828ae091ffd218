//! `check-status`: the state of any job handle as RUNNING, SUCCEEDED or FAILED.
//!
//! A failed job is a normal answer here (state FAILED with the job's own message), not an error:
//! the state machine decides what to do with it. Errors are kept for failing to look.

use std::time::Duration;

use crate::aws::Aws;
use crate::connectors::{datafusion, spark};
use crate::contract::promote::DEFAULT_REQUEST_TIMEOUT_SECONDS;
use crate::contract::{
    CheckStatusInput, Environment, JobHandle, JobState, JobStatus, MappingState,
};
use crate::error::TaskError;

use super::lookup::{get_mapping, mapping_state};
use super::toggle_streams::{heading_to, is_settled};

/// Looks at the job once.
pub async fn check_status(aws: &Aws, input: CheckStatusInput) -> Result<JobStatus, TaskError> {
    let session = aws.session(&input.run_id);
    match &input.job {
        JobHandle::Glue {
            environment,
            job_name,
            job_run_id,
        } => {
            let client = session.glue(environment).await?;
            glue_status(&client, job_name, job_run_id).await
        }
        JobHandle::Mappings {
            environment,
            mapping_ids,
            want,
        } => {
            let client = session.lambda(environment).await?;
            mappings_status(&client, environment, mapping_ids, *want).await
        }
        JobHandle::DataFusionRuns { target, runs } => {
            let timeout = Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECONDS);
            let client = datafusion::open(&session, target, "target", timeout).await?;
            datafusion::runs::status(&client, runs).await
        }
        JobHandle::SparkExport { spark, .. } | JobHandle::SparkImport { spark, .. } => {
            let timeout = Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECONDS);
            let client = spark::connect(&session, spark, "auth_secret_arn", timeout).await?;
            spark::job_status(&client, &input.job).await
        }
    }
}

async fn glue_status(
    client: &aws_sdk_glue::Client,
    job_name: &str,
    job_run_id: &str,
) -> Result<JobStatus, TaskError> {
    let out = client
        .get_job_run()
        .job_name(job_name)
        .run_id(job_run_id)
        .send()
        .await
        .map_err(|e| {
            TaskError::aws(
                "GetJobRun",
                format!("{job_name}/{job_run_id}"),
                e.into_service_error(),
            )
        })?;
    let Some(run) = out.job_run else {
        return Err(TaskError::Mismatch(format!(
            "GetJobRun returned no run for {job_name}/{job_run_id}"
        )));
    };
    let glue_state = run.job_run_state.as_ref().map_or("UNKNOWN", |s| s.as_str());
    let state = glue_job_state(glue_state);
    let detail = match (state, run.error_message.as_deref()) {
        (JobState::Failed, Some(message)) => format!("{glue_state}: {message}"),
        (JobState::Failed, None) => format!("{glue_state}: the job run gave no error message"),
        _ => format!("{glue_state} after {}s", run.execution_time),
    };
    Ok(JobStatus { state, detail })
}

/// Maps a Glue `JobRunState` to a job state.
pub fn glue_job_state(state: &str) -> JobState {
    match state {
        "STARTING" | "RUNNING" | "STOPPING" | "WAITING" => JobState::Running,
        "SUCCEEDED" => JobState::Succeeded,
        _ => JobState::Failed,
    }
}

/// Every mapping looked at: FAILED naming all that are gone or were changed outside the run,
/// else RUNNING while any is still moving, else SUCCEEDED.
async fn mappings_status(
    client: &aws_sdk_lambda::Client,
    environment: &Environment,
    mapping_ids: &[String],
    want: MappingState,
) -> Result<JobStatus, TaskError> {
    let (mut waiting, mut problems) = (Vec::new(), Vec::new());
    for id in mapping_ids {
        let Some(mapping) = get_mapping(client, id).await? else {
            problems.push(format!(
                "event source mapping {id} no longer exists in environment '{}'",
                environment.name
            ));
            continue;
        };
        let state = mapping_state(&mapping);
        if is_settled(state, want) {
            continue;
        }
        match heading_to(state) {
            Some(heading) if heading != want => problems.push(format!(
                "event source mapping {id} is {state}, expected {want:?}: it was changed outside this run"
            )),
            _ => waiting.push(format!("{id} is {state}")),
        }
    }
    let (state, detail) = if !problems.is_empty() {
        (JobState::Failed, problems.join("; "))
    } else if waiting.is_empty() {
        (
            JobState::Succeeded,
            format!("{} mapping(s) {want:?}", mapping_ids.len()),
        )
    } else {
        (JobState::Running, waiting.join(", "))
    };
    Ok(JobStatus { state, detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_states_map_to_three() {
        for s in ["STARTING", "RUNNING", "STOPPING", "WAITING"] {
            assert_eq!(glue_job_state(s), JobState::Running, "{s}");
        }
        assert_eq!(glue_job_state("SUCCEEDED"), JobState::Succeeded);
        for s in ["FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"] {
            assert_eq!(glue_job_state(s), JobState::Failed, "{s}");
        }
    }
}
