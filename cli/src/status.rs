//! `ferry status RUN`: a run's status, start and stop, the states it is in, whether it waits for an
//! approval, its error and cause, or what it did. Exits 0 when the run is running or succeeded,
//! 1 when it failed, timed out or was aborted.

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use serde_json::Value;

use crate::app::Ctx;
use crate::approval;
use crate::clock::{duration, iso, seconds_between};
use crate::error::Result;
use crate::events::readable_cause;
use crate::machines::Machine;
use crate::output::{EXIT_ERROR, EXIT_OK, Report};
use crate::summary::{self, location_lines};
use crate::watch;

/// `ferry status RUN`.
pub async fn status(ctx: &Ctx, run: &str) -> Result<Report> {
    let execution = ctx.machines.execution(&ctx.aws.sfn, run).await?;
    let name = execution.name().unwrap_or(run).to_string();
    let status = execution.status().as_str().to_string();
    let machine = machine_of(&execution);
    let mut report = Report::new("status", EXIT_OK, &status.to_lowercase());
    report.machine = Some(machine.name());
    report.run = Some(name.clone());
    report.run_arn = Some(execution.execution_arn().to_string());
    report.status = Some(status.clone());
    ctx.out
        .say(format!("run {name} ({}): {status}", machine.name()));
    ctx.out
        .say(format!("started: {}", iso(execution.start_date())));
    match execution.stop_date() {
        Some(stop) => ctx.out.say(format!(
            "stopped: {} (after {})",
            iso(stop),
            duration(seconds_between(execution.start_date(), stop))
        )),
        None => ctx.out.say(format!(
            "running for {}",
            duration(seconds_between(
                execution.start_date(),
                &std::time::SystemTime::now().into()
            ))
        )),
    }
    match status.as_str() {
        "RUNNING" => running(ctx, &mut report, &name, execution.execution_arn()).await?,
        "SUCCEEDED" => done(ctx, &mut report, &execution),
        _ => {
            report.exit_code = EXIT_ERROR;
            report.error = execution.error().map(str::to_string);
            report.cause = execution.cause().map(readable_cause);
            ctx.out.say(format!(
                "error: {}",
                execution.error().unwrap_or("unknown error")
            ));
            if let Some(cause) = &report.cause {
                ctx.out.say(format!("cause: {cause}"));
            }
        }
    }
    Ok(report)
}

/// The machine an execution belongs to, by its input.
pub fn machine_of(execution: &DescribeExecutionOutput) -> Machine {
    let input = execution
        .input()
        .and_then(|i| serde_json::from_str::<Value>(i).ok())
        .unwrap_or(Value::Null);
    Machine::of_input(&input)
}

async fn running(ctx: &Ctx, report: &mut Report, name: &str, arn: &str) -> Result<()> {
    let tracker = watch::read(&ctx.aws.sfn, name, arn).await?;
    let states = tracker.open_states();
    ctx.out.say(format!(
        "current state(s): {}",
        if states.is_empty() {
            "none yet".to_string()
        } else {
            states.join(", ")
        }
    ));
    let waiting = approval::waiting_token(name, "RUNNING", &tracker).is_ok();
    if waiting {
        ctx.out.say(format!(
            "waiting for approval: ferry approve {name} (or ferry reject {name} --reason …)"
        ));
    } else {
        ctx.out.say("not waiting for approval");
    }
    report.current_states = Some(states);
    report.waiting_for_approval = Some(waiting);
    Ok(())
}

fn done(ctx: &Ctx, report: &mut Report, execution: &DescribeExecutionOutput) {
    let summary = summary::of_output(execution.output().unwrap_or(""));
    ctx.out.say_all(&summary.lines);
    ctx.out.say_all(&location_lines(&summary.locations));
    report.counts = summary.counts;
    report.locations.extend(
        summary
            .locations
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
}
