//! The `copy-table` Lambda function: wiring only; the logic is `shared::tasks::copy_table`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::CopyTableInput;
use shared::tasks::budget::{Budget, DEFAULT_RESERVE};
use shared::tasks::copy_table::copy_table;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<CopyTableInput>| {
        copy_table(
            &aws,
            &config,
            event.payload,
            Budget::until(event.context.deadline(), DEFAULT_RESERVE).capped(config.max_work),
        )
    }))
    .await
}
