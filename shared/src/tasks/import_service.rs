//! `import-service`: plan the import against the target, apply it, and verify the result.
//!
//! `plan` changes nothing: it fails early, naming them, when destination folders are missing, and
//! says per service whether it will be created or get new versions. `apply` reads the bundle back
//! from the artifact bucket, checks every file against the manifest, and only then imports.

use serde_json::Value;

use crate::aws::Aws;
use crate::connectors::spark::SparkConnector;
use crate::connectors::{Applied, Connector};
use crate::contract::{ImportServiceInput, ImportStarted, PromotePlan};
use crate::error::TaskError;

use super::budget::{Budget, DEFAULT_RESERVE, LAMBDA_MAX_TIMEOUT};
use super::declarative::{self, is_declarative};
use super::{bundle, to_value};

/// Runs one `import-service` action; the output's shape depends on the action.
pub async fn import_service(aws: &Aws, input: ImportServiceInput) -> Result<Value, TaskError> {
    let budget = Budget::for_duration(LAMBDA_MAX_TIMEOUT.saturating_sub(DEFAULT_RESERVE));
    import_service_within(aws, input, budget).await
}

/// [`import_service`] within `budget`: a declarative apply stops when it runs low and says how
/// many changes remain.
pub async fn import_service_within(
    aws: &Aws,
    input: ImportServiceInput,
    budget: Budget,
) -> Result<Value, TaskError> {
    let output = match input {
        ImportServiceInput::Start { run_id, request } => {
            let session = aws.session(&run_id);
            to_value(declarative::start_runs(&session, &request, &run_id).await?)
        }
        ImportServiceInput::Plan {
            run_id,
            request,
            bundle,
        } if is_declarative(request.platform) => {
            let session = aws.session(&run_id);
            to_value(declarative::plan(&session, &request, &bundle).await?)
        }
        ImportServiceInput::Apply {
            run_id,
            request,
            bundle,
        } if is_declarative(request.platform) => {
            let session = aws.session(&run_id);
            to_value(declarative::apply(&session, &request, &bundle, budget).await?)
        }
        ImportServiceInput::Verify {
            run_id,
            request,
            bundle: Some(bundle),
            ..
        } if is_declarative(request.platform) => {
            let session = aws.session(&run_id);
            declarative::verify(&session, &request, &bundle).await?
        }
        ImportServiceInput::Plan {
            run_id,
            request,
            bundle,
        } => {
            let session = aws.session(&run_id);
            to_value(
                SparkConnector::new(&request, &session)?
                    .plan(&bundle)
                    .await?,
            )
        }
        ImportServiceInput::Apply {
            run_id,
            request,
            bundle,
        } => {
            let session = aws.session(&run_id);
            let files = bundle::load(&session.own_s3(), &bundle).await?;
            match SparkConnector::new(&request, &session)?
                .apply(files, &run_id)
                .await?
            {
                Applied::Job(job) => to_value(ImportStarted { job }),
                Applied::Done => Value::Object(serde_json::Map::new()),
            }
        }
        ImportServiceInput::Verify {
            run_id,
            request,
            plan,
            job,
            ..
        } => {
            let session = aws.session(&run_id);
            let plan: PromotePlan = serde_json::from_value(plan)
                .map_err(|e| TaskError::invalid("plan", format!("is not a Spark plan: {e}")))?;
            let job = job.ok_or_else(|| TaskError::invalid("job", "is required for Spark"))?;
            let connector = SparkConnector::new(&request, &session)?;
            to_value(connector.verify(&plan, &Applied::Job(job)).await?)
        }
    };
    Ok(output)
}
