//! `export-service`: validate a promote request and start the export; store the finished export as a
//! bundle; cancel an export that ran out of time.
//!
//! `start` is the promote state machine's first step: bad input fails here, naming every bad field,
//! before any tenant is called. It also refuses to start when the artifact bucket is not configured,
//! since the export could not be kept.

use serde_json::Value;

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::connectors::spark::SparkConnector;
use crate::connectors::{Connector, Exported};
use crate::contract::{
    ExportCancelled, ExportServiceInput, ExportStarted, JobHandle, PromoteRequest,
};
use crate::error::TaskError;

use super::declarative::{self, is_declarative};
use super::{bundle, to_value};

/// Runs one `export-service` action; the output's shape depends on the action.
pub async fn export_service(
    aws: &Aws,
    config: &FunctionConfig,
    input: ExportServiceInput,
) -> Result<Value, TaskError> {
    let output = match input {
        ExportServiceInput::Start { run_id, request } => {
            let request = PromoteRequest::parse(&request)?;
            config.require_artifact_bucket("promote")?;
            to_value(start(aws, config, request, &run_id).await?)
        }
        ExportServiceInput::Store {
            run_id,
            request,
            job,
        } => {
            let session = aws.session(&run_id);
            let collected = SparkConnector::new(&request, &session)?
                .collect(&job)
                .await?;
            let bucket = config.require_artifact_bucket("export-service")?;
            let owner = session.own_account_id().await?;
            to_value(
                bundle::store(
                    &session.own_s3(),
                    bucket,
                    &owner,
                    &request,
                    &run_id,
                    collected,
                )
                .await?,
            )
        }
        ExportServiceInput::Cancel {
            run_id,
            request,
            job,
        } => {
            let session = aws.session(&run_id);
            let detail = SparkConnector::new(&request, &session)?
                .cancel(&job)
                .await?;
            to_value(ExportCancelled { detail })
        }
    };
    Ok(output)
}

async fn start(
    aws: &Aws,
    config: &FunctionConfig,
    request: PromoteRequest,
    run_id: &str,
) -> Result<ExportStarted, TaskError> {
    let session = aws.session(run_id);
    if is_declarative(request.platform) {
        let bucket = config.require_artifact_bucket("export-service")?;
        let stored = declarative::export(&session, bucket, &request, run_id).await?;
        return Ok(ExportStarted {
            max_polls: request.max_polls(),
            interval_seconds: request.polling.interval_seconds,
            request,
            job: None,
            bundle: Some(stored),
        });
    }
    let exported = SparkConnector::new(&request, &session)?
        .export(run_id)
        .await?;
    let (job, stored) = match exported {
        Exported::Job(job) => (Some(job), None),
        Exported::Done(collected) => {
            let bucket = config.require_artifact_bucket("export-service")?;
            let owner = session.own_account_id().await?;
            let stored = bundle::store(
                &session.own_s3(),
                bucket,
                &owner,
                &request,
                run_id,
                collected,
            )
            .await?;
            (None, Some(stored))
        }
    };
    tracing::info!(
        job = job.as_ref().map(JobHandle::describe),
        "export started"
    );
    Ok(ExportStarted {
        max_polls: request.max_polls(),
        interval_seconds: request.polling.interval_seconds,
        request,
        job,
        bundle: stored,
    })
}
