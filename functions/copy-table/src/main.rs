//! The `copy-table` Lambda function: wiring only; the logic is `shared::tasks::copy_table`, run as a
//! writer of its ferry run (`shared::tasks::writers`).

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::CopyTableInput;
use shared::tasks::budget::{Budget, DEFAULT_RESERVE};
use shared::tasks::copy_table::{copy_table, lease_name};
use shared::tasks::writers::{Writer, write_for};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let config = FunctionConfig::from_env()?;
    let aws = &Aws::from_env(config.s3_path_style).await;
    let config = &config;
    run(service_fn(
        |event: LambdaEvent<CopyTableInput>| async move {
            let budget =
                Budget::until(event.context.deadline(), DEFAULT_RESERVE).capped(config.max_work);
            let input = event.payload;
            let writer = Writer::new("copy-table", &input.run_id, lease_name(&input));
            let work = |budget| copy_table(aws, config, input, budget);
            write_for(aws, config, writer, &event.context, budget, work).await
        },
    ))
    .await
}
