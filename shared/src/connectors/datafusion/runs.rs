//! Pipeline runs after a promotion: each named pipeline started through CDAP's batch start (the
//! call that returns a run id), and the runs' states for the state machine's Wait/check-status
//! loop.
//!
//! Starting is idempotent per promotion: every run carries the runtime argument
//! `ferry.run_id = <execution name>`, and a start first looks for a recent run of the pipeline with
//! that argument, so a retried step waits for the run it already started instead of starting
//! another.

use serde_json::Value;

use crate::contract::{
    DataFusionInstance, JobHandle, JobState, JobStatus, PipelineRun, StartPipeline,
};
use crate::error::TaskError;

use super::cdap::CdapClient;

/// The runtime argument naming the promotion that started a run.
pub const RUN_MARKER: &str = "ferry.run_id";
/// Recent runs looked through for one this promotion started.
const RECENT_RUNS: u32 = 25;

/// Starts every pipeline of `starts` (or finds the run this promotion started) and returns the
/// handle to poll.
pub async fn start_all(
    client: &CdapClient,
    target: &DataFusionInstance,
    starts: &[StartPipeline],
    run_id: &str,
) -> Result<JobHandle, TaskError> {
    let mut runs = Vec::with_capacity(starts.len());
    for start in starts {
        let found = started_by(client, start, run_id).await?;
        let id = match found {
            Some(id) => id,
            None => {
                let mut args = start.runtime_args.clone();
                args.insert(RUN_MARKER.to_string(), run_id.to_string());
                client
                    .start(&start.namespace, &start.pipeline, &args)
                    .await?
                    .run_id
            }
        };
        tracing::info!(namespace = %start.namespace, pipeline = %start.pipeline, run = %id, "pipeline run started");
        runs.push(PipelineRun {
            namespace: start.namespace.clone(),
            pipeline: start.pipeline.clone(),
            run_id: id,
        });
    }
    Ok(JobHandle::DataFusionRuns {
        target: target.clone(),
        runs,
    })
}

/// The id of a recent run of `start`'s pipeline that carries this promotion's marker.
async fn started_by(
    client: &CdapClient,
    start: &StartPipeline,
    run_id: &str,
) -> Result<Option<String>, TaskError> {
    let runs = client
        .runs(&start.namespace, &start.pipeline, RECENT_RUNS)
        .await?;
    Ok(runs
        .iter()
        .find(|run| marker(run).as_deref() == Some(run_id))
        .and_then(|run| run["runid"].as_str().map(str::to_string)))
}

/// The promotion a run was started by (its `runtimeArgs` property is a JSON string).
fn marker(run: &Value) -> Option<String> {
    let args = &run["properties"]["runtimeArgs"];
    let args: Value = match args {
        Value::String(text) => serde_json::from_str(text).ok()?,
        other => other.clone(),
    };
    args[RUN_MARKER].as_str().map(str::to_string)
}

/// The state of every run (read at once): FAILED as soon as one ended badly (naming the pipeline, the run and
/// its status), SUCCEEDED when all completed, RUNNING otherwise.
pub async fn status(client: &CdapClient, runs: &[PipelineRun]) -> Result<JobStatus, TaskError> {
    let reads = runs.iter().map(|run| async move {
        let found = client
            .run(&run.namespace, &run.pipeline, &run.run_id)
            .await?;
        let status = found["status"].as_str().unwrap_or("UNKNOWN").to_string();
        Ok::<_, TaskError>((run, status))
    });
    let states = futures::future::try_join_all(reads).await?;
    Ok(summarise(&states))
}

fn summarise(states: &[(&PipelineRun, String)]) -> JobStatus {
    let line = |(run, status): &(&PipelineRun, String)| {
        format!(
            "pipeline {}/{} run {}: {status}",
            run.namespace, run.pipeline, run.run_id
        )
    };
    let failed: Vec<String> = states
        .iter()
        .filter(|(_, s)| matches!(s.as_str(), "FAILED" | "KILLED" | "REJECTED"))
        .map(line)
        .collect();
    let state = if !failed.is_empty() {
        JobState::Failed
    } else if states.iter().all(|(_, s)| s == "COMPLETED") {
        JobState::Succeeded
    } else {
        JobState::Running
    };
    let detail = if failed.is_empty() {
        states.iter().map(line).collect::<Vec<_>>().join("; ")
    } else {
        failed.join("; ")
    };
    JobStatus { state, detail }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(p: &str) -> PipelineRun {
        PipelineRun {
            namespace: "default".into(),
            pipeline: p.into(),
            run_id: format!("r-{p}"),
        }
    }

    #[test]
    fn one_failed_run_fails_all_and_is_named() {
        let (a, b) = (run("a"), run("b"));
        let status = summarise(&[(&a, "RUNNING".into()), (&b, "FAILED".into())]);
        assert_eq!(status.state, JobState::Failed);
        assert_eq!(status.detail, "pipeline default/b run r-b: FAILED");
        let status = summarise(&[(&a, "COMPLETED".into()), (&b, "STARTING".into())]);
        assert_eq!(status.state, JobState::Running);
        let status = summarise(&[(&a, "COMPLETED".into()), (&b, "COMPLETED".into())]);
        assert_eq!(status.state, JobState::Succeeded);
    }

    #[test]
    fn the_marker_is_read_from_the_runtime_args_string() {
        let found = json!({"runid": "x", "properties": {"runtimeArgs": "{\"ferry.run_id\":\"exec-1\",\"a\":\"b\"}"}});
        assert_eq!(marker(&found).as_deref(), Some("exec-1"));
        assert_eq!(marker(&json!({"runid": "y", "properties": {}})), None);
    }
}
