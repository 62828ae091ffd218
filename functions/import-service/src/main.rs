//! The `import-service` Lambda function: wiring only; the logic is `shared::tasks::import_service`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::ImportServiceInput;
use shared::tasks::import_service::import_service;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<ImportServiceInput>| {
        import_service(&aws, event.payload)
    }))
    .await
}
