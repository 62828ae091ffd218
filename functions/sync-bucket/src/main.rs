//! The `sync-bucket` Lambda function: wiring only; the logic is `shared::tasks::sync_bucket`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::SyncBucketInput;
use shared::tasks::budget::{Budget, DEFAULT_RESERVE};
use shared::tasks::sync_bucket::sync_bucket;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<SyncBucketInput>| {
        sync_bucket(
            &aws,
            &config,
            event.payload,
            Budget::until(event.context.deadline(), DEFAULT_RESERVE).capped(config.max_work),
        )
    }))
    .await
}
