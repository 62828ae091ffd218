//! `stop-writers`: when a refresh fails while it copies, stop every writer of the run before its
//! stream consumers are resumed.
//!
//! Each call (the first, then one per poll until it is settled) does three things, all idempotent:
//! raises the run's stop signal ([`super::writers`]: in-flight `copy-table` and `sync-bucket`
//! invocations stop between pages, new ones and `start-glue` refuse to start), asks Glue to stop
//! every run of the plan's Glue jobs that carries this ferry run's id and is still starting,
//! running or waiting (`BatchStopJobRun`), and counts what is left: Glue runs not yet ended and
//! invocations whose lease is there and whose end is not yet past. `settled` is true when nothing
//! is left. The Glue jobs run in the source account; stopping a run there changes no data, so
//! the protected-account guard (which keeps ferry from writing to an account) does not apply.

use std::collections::BTreeSet;
use std::time::SystemTime;

use aws_sdk_glue::types::{JobRun, JobRunState};

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::contract::{StopWritersInput, StopWritersOutput, TableEngine};
use crate::error::TaskError;

use super::report::format_rfc3339;
use super::start_glue::runs_of;
use super::writers::{LeaseRecord, RunWriters};

/// Most bytes of the summary before the rest is only counted.
const SUMMARY_BYTES: usize = 1024;
/// Most bytes of the run's error cause kept in the stop signal.
const REASON_BYTES: usize = 512;
/// Most runs one `BatchStopJobRun` call takes.
const STOP_BATCH: usize = 25;

/// Raises the stop signal, stops the run's Glue runs and says what is still writing.
pub async fn stop_writers(
    aws: &Aws,
    config: &FunctionConfig,
    input: StopWritersInput,
) -> Result<StopWritersOutput, TaskError> {
    let writers = RunWriters::for_step(aws, config, "stop-writers", &input.run_id).await?;
    let signal = writers.raise_stop(&reason(&input)).await?;
    tracing::info!(run = %input.run_id, reason = %signal.reason, "stop signal raised");

    let mut requested = 0;
    let mut running = Vec::new();
    for job in glue_jobs(&input) {
        let client = aws.session(&input.run_id).glue(&input.source).await?;
        let runs = runs_of(&client, &job, &input.run_id).await?;
        let (stopping, left) = stop_runs(&client, &job, &runs).await?;
        requested += stopping;
        running.extend(left);
    }
    let live = writers.live_leases(SystemTime::now()).await?;
    let settled = running.is_empty() && live.is_empty();
    if !settled {
        tracing::info!(
            glue_running = running.len(),
            writers_live = live.len(),
            "writers left"
        );
    }
    Ok(StopWritersOutput {
        settled,
        glue_stop_requested: requested,
        glue_running: running.len() as u32,
        writers_live: live.len() as u32,
        summary: summary(&running, &live),
    })
}

/// The stop signal's reason: the run's error type and the start of its cause.
fn reason(input: &StopWritersInput) -> String {
    match &input.error {
        Some(e) => {
            let mut cause = e.cause.clone();
            if cause.len() > REASON_BYTES {
                let cut = (0..=REASON_BYTES)
                    .rev()
                    .find(|&i| cause.is_char_boundary(i))
                    .unwrap_or(0);
                cause.truncate(cut);
                cause.push('…');
            }
            format!("{}: {cause}", e.error)
        }
        None => "the run failed".to_string(),
    }
}

/// The Glue jobs of the plan's tables, each once.
fn glue_jobs(input: &StopWritersInput) -> BTreeSet<String> {
    input
        .tables
        .iter()
        .filter_map(|t| match &t.spec.engine {
            TableEngine::Glue { glue_job } => Some(glue_job.clone()),
            TableEngine::Scan { .. } => None,
        })
        .collect()
}

/// Whether a run has not ended yet, and whether it can still be asked to stop.
fn is_running(state: Option<&JobRunState>) -> bool {
    matches!(
        state,
        Some(
            JobRunState::Starting
                | JobRunState::Running
                | JobRunState::Waiting
                | JobRunState::Stopping
        )
    )
}

fn is_stoppable(state: Option<&JobRunState>) -> bool {
    is_running(state) && state != Some(&JobRunState::Stopping)
}

/// Asks Glue to stop `runs` that can be stopped; returns how many it asked for and the runs
/// not yet ended (`job run state`), those it asked to stop included.
async fn stop_runs(
    client: &aws_sdk_glue::Client,
    job: &str,
    runs: &[JobRun],
) -> Result<(u32, Vec<String>), TaskError> {
    let stoppable: Vec<String> = runs
        .iter()
        .filter(|r| is_stoppable(r.job_run_state()))
        .filter_map(|r| r.id.clone())
        .collect();
    let mut refused = Vec::new();
    for batch in stoppable.chunks(STOP_BATCH) {
        let answer = client
            .batch_stop_job_run()
            .job_name(job)
            .set_job_run_ids(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| TaskError::aws("BatchStopJobRun", job, e.into_service_error()))?;
        for error in answer.errors() {
            let detail = error.error_detail();
            tracing::warn!(job, run = ?error.job_run_id(), code = ?detail.and_then(|d| d.error_code()), message = ?detail.and_then(|d| d.error_message()), "glue refused to stop a run");
            refused.extend(error.job_run_id().map(String::from));
        }
    }
    let left = runs
        .iter()
        .filter(|r| is_running(r.job_run_state()))
        .map(|r| {
            let id = r.id().unwrap_or("?");
            let state = r.job_run_state().map_or("?", JobRunState::as_str);
            let note = if refused.iter().any(|x| x == id) {
                " (refused to stop)"
            } else if is_stoppable(r.job_run_state()) {
                " (asked to stop)"
            } else {
                ""
            };
            format!("glue job {job} run {id} {state}{note}")
        })
        .collect();
    Ok((stoppable.len() as u32, left))
}

/// What is left, at most [`SUMMARY_BYTES`] of it.
fn summary(running: &[String], live: &[LeaseRecord]) -> String {
    let leases = live.iter().map(|l| {
        format!(
            "{} {} (its invocation ends by {})",
            l.step,
            l.what,
            format_rfc3339((l.until_ms / 1000) as i64)
        )
    });
    let all: Vec<String> = running.iter().cloned().chain(leases).collect();
    if all.is_empty() {
        return "no writer left".to_string();
    }
    let mut text = String::new();
    for (shown, line) in all.iter().enumerate() {
        if text.len() + line.len() > SUMMARY_BYTES {
            text.push_str(&format!("; and {} more", all.len() - shown));
            break;
        }
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RunError;

    fn lease(what: &str) -> LeaseRecord {
        LeaseRecord {
            step: "copy-table".into(),
            what: what.into(),
            until_ms: 1_796_000_000_000,
        }
    }

    #[test]
    fn the_summary_names_what_is_left_and_counts_the_rest() {
        assert_eq!(summary(&[], &[]), "no writer left");
        let one = summary(
            &["glue job j run jr_1 STOPPING".into()],
            &[lease("t segment 0 copy")],
        );
        assert_eq!(
            one,
            "glue job j run jr_1 STOPPING; copy-table t segment 0 copy (its invocation ends by 2026-11-30T00:53:20Z)"
        );
        let many: Vec<LeaseRecord> = (0..200)
            .map(|i| lease(&format!("t segment {i} copy")))
            .collect();
        let text = summary(&[], &many);
        assert!(text.len() <= SUMMARY_BYTES + 32, "{} bytes", text.len());
        assert!(text.ends_with(" more"), "{text}");
    }

    #[test]
    fn only_running_glue_states_are_stopped_and_stopping_ones_are_waited_for() {
        assert!(is_stoppable(Some(&JobRunState::Running)));
        assert!(is_stoppable(Some(&JobRunState::Starting)));
        assert!(is_stoppable(Some(&JobRunState::Waiting)));
        assert!(!is_stoppable(Some(&JobRunState::Stopping)));
        assert!(is_running(Some(&JobRunState::Stopping)));
        for done in [
            JobRunState::Succeeded,
            JobRunState::Failed,
            JobRunState::Stopped,
            JobRunState::Timeout,
            JobRunState::Error,
        ] {
            assert!(!is_running(Some(&done)), "{done:?}");
        }
        assert!(!is_running(None));
    }

    #[test]
    fn the_reason_keeps_the_error_type_and_the_start_of_a_long_cause() {
        let input = |cause: String| StopWritersInput {
            run_id: "r".into(),
            source: serde_json::from_value(
                serde_json::json!({"name": "prod", "region": "us-east-1"}),
            )
            .unwrap(),
            tables: vec![],
            error: Some(RunError {
                error: "JobFailed".into(),
                cause,
            }),
        };
        assert_eq!(reason(&input("boom".into())), "JobFailed: boom");
        let long = reason(&input("é".repeat(1000)));
        assert!(long.starts_with("JobFailed: é"));
        assert!(long.len() <= REASON_BYTES + 16);
    }
}
