//! The `stop-writers` Lambda function: wiring only; the logic is `shared::tasks::stop_writers`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::StopWritersInput;
use shared::tasks::stop_writers::stop_writers;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<StopWritersInput>| {
        stop_writers(&aws, &config, event.payload)
    }))
    .await
}
