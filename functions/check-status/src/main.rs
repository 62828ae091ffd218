//! The `check-status` Lambda function: wiring only; the logic is `shared::tasks::check_status`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::CheckStatusInput;
use shared::tasks::check_status::check_status;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<CheckStatusInput>| {
        check_status(&aws, event.payload)
    }))
    .await
}
