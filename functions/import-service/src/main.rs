//! The `import-service` Lambda function: wiring only; the logic is `shared::tasks::import_service`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::ImportServiceInput;
use shared::tasks::budget::{Budget, DEFAULT_RESERVE};
use shared::tasks::import_service::import_service_within;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = Aws::from_env(config.s3_path_style).await;
    run(service_fn(|event: LambdaEvent<ImportServiceInput>| {
        let budget =
            Budget::until(event.context.deadline(), DEFAULT_RESERVE).capped(config.max_work);
        import_service_within(&aws, event.payload, budget)
    }))
    .await
}
