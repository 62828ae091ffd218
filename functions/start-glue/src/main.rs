//! The `start-glue` Lambda function: wiring only; the logic is `shared::tasks::start_glue`, run as
//! a writer of its ferry run (`shared::tasks::writers`), so no job run starts after the run stopped.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::StartGlueInput;
use shared::tasks::budget::{Budget, DEFAULT_RESERVE};
use shared::tasks::start_glue::{lease_name, start_glue};
use shared::tasks::writers::{Writer, write_for};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = &Aws::from_env(config.s3_path_style).await;
    let config = &config;
    run(service_fn(
        |event: LambdaEvent<StartGlueInput>| async move {
            let budget = Budget::until(event.context.deadline(), DEFAULT_RESERVE);
            let input = event.payload;
            let writer = Writer::new("start-glue", &input.run_id, lease_name(&input));
            let work = |_| start_glue(aws, config, input);
            write_for(aws, config, writer, &event.context, budget, work).await
        },
    ))
    .await
}
