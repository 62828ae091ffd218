//! The `sync-bucket` Lambda function: wiring only; the logic is `shared::tasks::sync_bucket`, run
//! as a writer of its ferry run (`shared::tasks::writers`) unless it is a dry run.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::SyncBucketInput;
use shared::tasks::budget::{Budget, DEFAULT_RESERVE};
use shared::tasks::sync_bucket::{lease_name, sync_bucket};
use shared::tasks::writers::{Writer, write_for};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = &Aws::from_env(config.s3_path_style).await;
    let config = &config;
    run(service_fn(
        |event: LambdaEvent<SyncBucketInput>| async move {
            let budget =
                Budget::until(event.context.deadline(), DEFAULT_RESERVE).capped(config.max_work);
            let input = event.payload;
            let Some(what) = lease_name(&input) else {
                return Box::pin(sync_bucket(aws, config, input, budget)).await;
            };
            let writer = Writer::new("sync-bucket", &input.run_id, what);
            let work = |budget| Box::pin(sync_bucket(aws, config, input, budget));
            write_for(aws, config, writer, &event.context, budget, work).await
        },
    ))
    .await
}
