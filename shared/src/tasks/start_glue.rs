//! `start-glue`: start the Glue job that copies one big table, or find the run this ferry run started.
//!
//! The job runs in the source account and writes the target table through the target role. Each run
//! carries `--ferry_run_id` and `--target_table`, so a re-run of this step for the same ferry run and
//! table returns the existing job run instead of starting a second one.

use std::collections::HashMap;

use aws_sdk_glue::types::JobRun;

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::contract::{CopyMode, JobHandle, StartGlueInput, StartGlueOutput, TableEngine};
use crate::error::TaskError;

/// Job argument naming the ferry run that started a job run.
pub const RUN_ID_ARG: &str = "--ferry_run_id";
/// Job argument naming the table a job run writes.
pub const TARGET_TABLE_ARG: &str = "--target_table";
/// How many pages of recent job runs are searched for an earlier start.
const MAX_RUN_PAGES: usize = 10;

/// What an invocation writes, as its lease names it (`tasks::writers`): the job run it may start.
pub fn lease_name(input: &StartGlueInput) -> String {
    format!("the glue job run for table {}", input.table.target)
}

/// Starts (or finds) the job run and returns its handle.
pub async fn start_glue(
    aws: &Aws,
    config: &FunctionConfig,
    input: StartGlueInput,
) -> Result<StartGlueOutput, TaskError> {
    let TableEngine::Glue { glue_job } = &input.table.engine else {
        return Err(TaskError::invalid(
            "table.engine",
            "start-glue copies tables whose engine is \"glue\"",
        ));
    };
    let session = aws.session(&input.run_id);
    let target_account = session
        .writable_account(&input.target, &config.protected_accounts)
        .await?;
    let client = session.glue(&input.source).await?;
    let handle = |job_run_id: String| JobHandle::Glue {
        environment: input.source.clone(),
        job_name: glue_job.clone(),
        job_run_id,
    };

    if let Some(existing) = find_run(&client, glue_job, &input.run_id, &input.table.target).await? {
        tracing::info!(job = %glue_job, job_run_id = %existing, "job run already started for this run");
        return Ok(StartGlueOutput {
            job: handle(existing),
            started: false,
        });
    }
    let arguments = job_arguments(&input, &target_account)?;
    let started = client
        .start_job_run()
        .job_name(glue_job)
        .set_arguments(Some(arguments))
        .send()
        .await
        .map_err(|e| TaskError::aws("StartJobRun", glue_job.clone(), e.into_service_error()))?;
    let job_run_id = started.job_run_id.unwrap_or_default();
    tracing::info!(job = %glue_job, job_run_id = %job_run_id, table = %input.table.target, "job run started");
    Ok(StartGlueOutput {
        job: handle(job_run_id),
        started: true,
    })
}

/// The arguments the Glue job script reads (no secret values: the masking key travels as an ARN).
pub fn job_arguments(
    input: &StartGlueInput,
    target_account: &str,
) -> Result<HashMap<String, String>, TaskError> {
    let mode = match input.table.mode {
        CopyMode::Replace => "replace",
        CopyMode::Merge => "merge",
    };
    let mut args: HashMap<String, String> = [
        (RUN_ID_ARG, input.run_id.clone()),
        ("--source_table", input.table.source.clone()),
        ("--source_region", input.source.region.clone()),
        (TARGET_TABLE_ARG, input.table.target.clone()),
        ("--target_region", input.target.region.clone()),
        ("--target_account_id", target_account.to_string()),
        ("--copy_mode", mode.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(role) = &input.target.role_arn {
        args.insert("--target_role_arn".into(), role.clone());
    }
    if let Some(masking) = &input.masking {
        let rules = serde_json::to_string(masking)
            .map_err(|e| TaskError::invalid("masking", format!("cannot be encoded: {e}")))?;
        args.insert("--masking_rules".into(), rules);
    }
    Ok(args)
}

/// The id of a run of `job` already started for this ferry run and target table, newest first.
async fn find_run(
    client: &aws_sdk_glue::Client,
    job: &str,
    run_id: &str,
    target_table: &str,
) -> Result<Option<String>, TaskError> {
    let runs = runs_of(client, job, run_id).await?;
    Ok(runs
        .into_iter()
        .find(|run| run_argument(run, TARGET_TABLE_ARG) == Some(target_table))
        .and_then(|run| run.id))
}

/// The value of job argument `name` of `run`.
fn run_argument<'a>(run: &'a JobRun, name: &str) -> Option<&'a str> {
    run.arguments()
        .and_then(|a| a.get(name))
        .map(String::as_str)
}

/// The runs of `job` that ferry run `run_id` started, newest first (the most recent
/// ten pages of runs are searched).
pub async fn runs_of(
    client: &aws_sdk_glue::Client,
    job: &str,
    run_id: &str,
) -> Result<Vec<JobRun>, TaskError> {
    let mut next_token = None;
    let mut found = Vec::new();
    for _ in 0..MAX_RUN_PAGES {
        let page = client
            .get_job_runs()
            .job_name(job)
            .set_next_token(next_token)
            .send()
            .await
            .map_err(|e| TaskError::aws("GetJobRuns", job, e.into_service_error()))?;
        found.extend(
            page.job_runs()
                .iter()
                .filter(|run| run_argument(run, RUN_ID_ARG) == Some(run_id))
                .cloned(),
        );
        next_token = page.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() {
            break;
        }
    }
    Ok(found)
}
