//! The `toggle-streams` Lambda function: wiring only; the logic is `shared::tasks::toggle_streams`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::ToggleStreamsInput;
use shared::tasks::toggle_streams::toggle_streams;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<ToggleStreamsInput>| {
        toggle_streams(&aws, &config, event.payload)
    }))
    .await
}
