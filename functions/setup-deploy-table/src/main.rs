//! The `setup-deploy-table` Lambda function: wiring only; the logic is `shared::tasks::setup_deploy_table`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::SetupDeployTableInput;
use shared::tasks::setup_deploy_table::setup_deploy_table;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<SetupDeployTableInput>| {
        setup_deploy_table(&aws, &config, event.payload)
    }))
    .await
}
