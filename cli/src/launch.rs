//! `ferry plan` and `ferry run`: start an execution, follow it to its end, and say what it did.
//! A plan forces `dry_run` and exits by what its plan would change (0 nothing, 2 something, 1 an
//! error or a refused plan); a run exits 0 when it succeeded and 1 otherwise, with its error and
//! cause.

use serde_json::Value;

use crate::app::Ctx;
use crate::clock::{duration, seconds_between};
use crate::error::{CliError, Result};
use crate::events::readable_cause;
use crate::follow::End;
use crate::input::with_dry_run;
use crate::machines::Machine;
use crate::output::{EXIT_ERROR, EXIT_OK, Report};
use crate::render::AnyPlan;
use crate::summary::{self, location_lines};
use crate::watch;

/// A started execution.
#[derive(Debug, Clone)]
pub struct Started {
    /// Its name.
    pub name: String,
    /// Its ARN.
    pub arn: String,
    /// When it started.
    pub at: aws_smithy_types::DateTime,
}

/// Starts `machine` with `input` as execution `name`.
pub async fn start(ctx: &Ctx, machine: Machine, input: &Value, name: &str) -> Result<Started> {
    let machine_arn = ctx.machines.arn(machine).await?;
    let answer = ctx
        .aws
        .sfn
        .start_execution()
        .state_machine_arn(&machine_arn)
        .name(name)
        .input(input.to_string())
        .send()
        .await;
    let started = answer.map_err(|e| {
        if e.as_service_error()
            .is_some_and(|s| s.is_execution_already_exists())
        {
            CliError::new(
                "already_exists",
                format!("a run named {name} already exists in {machine_arn} (names are unique per state machine: `ferry run` takes another with --name)"),
            )
        } else {
            CliError::aws(&format!("StartExecution of {machine_arn}"), e)
        }
    })?;
    ctx.out
        .say(format!("started {name} ({})", started.execution_arn()));
    Ok(Started {
        name: name.to_string(),
        arn: started.execution_arn().to_string(),
        at: *started.start_date(),
    })
}

/// `ferry plan`: the input as a dry run, followed, its plan printed.
pub async fn plan(ctx: &Ctx, machine: Machine, raw: &Value, name: &str) -> Result<Report> {
    let started = start(ctx, machine, &with_dry_run(raw, true), name).await?;
    let end = follow(ctx, &started).await?;
    let mut report = base("plan", machine, &started, &end);
    if end.status != "SUCCEEDED" {
        return Ok(failed(ctx, report, &started, &end));
    }
    let output: Value = end
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or(Value::Null);
    let Some(plan) = AnyPlan::parse(&output) else {
        return Err(CliError::new(
            "unexpected_output",
            format!(
                "the dry run {} succeeded but its output is not a plan",
                started.name
            ),
        ));
    };
    ctx.out.say("");
    ctx.out.say_all(&plan.lines());
    ctx.out.say_all(&location_lines(&plan.locations()));
    report.exit_code = plan.exit_code();
    report.reason = match plan.exit_code() {
        EXIT_OK => "no_changes",
        EXIT_ERROR => "refused",
        _ => "changes",
    }
    .to_string();
    report.counts = Some(plan.counts());
    report.changes = Some(plan.change_list());
    report.locations.extend(
        plan.locations()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    Ok(report)
}

/// `ferry run`: the input started, followed (unless `detach`), its summary printed.
pub async fn run(
    ctx: &Ctx,
    machine: Machine,
    raw: &Value,
    name: &str,
    detach: bool,
) -> Result<Report> {
    let started = start(ctx, machine, raw, name).await?;
    if detach {
        ctx.out
            .say(format!("follow it with: ferry status {}", started.name));
        let mut report = Report::new("run", EXIT_OK, "started");
        report.machine = Some(machine.name());
        report.run = Some(started.name);
        report.run_arn = Some(started.arn);
        report.status = Some("RUNNING".to_string());
        return Ok(report);
    }
    let end = follow(ctx, &started).await?;
    let report = base("run", machine, &started, &end);
    if end.status != "SUCCEEDED" {
        return Ok(failed(ctx, report, &started, &end));
    }
    Ok(succeeded(ctx, report, &started, &end))
}

async fn follow(ctx: &Ctx, started: &Started) -> Result<End> {
    ctx.out.say(format!(
        "following {} (Ctrl-C stops the following, not the run)",
        started.name
    ));
    watch::follow(
        &ctx.aws.sfn,
        &ctx.out,
        &started.name,
        &started.arn,
        ctx.poll,
    )
    .await
}

fn base(command: &'static str, machine: Machine, started: &Started, end: &End) -> Report {
    let mut report = Report::new(command, EXIT_OK, "succeeded");
    report.machine = Some(machine.name());
    report.run = Some(started.name.clone());
    report.run_arn = Some(started.arn.clone());
    report.status = Some(end.status.clone());
    report.duration_seconds = Some(seconds_between(&started.at, &end.at));
    report.output = end
        .output
        .as_deref()
        .and_then(|o| serde_json::from_str(o).ok());
    report
}

fn took(started: &Started, end: &End) -> String {
    duration(seconds_between(&started.at, &end.at))
}

/// Prints a run's error and cause; the report exits 1.
pub fn failed(ctx: &Ctx, mut report: Report, started: &Started, end: &End) -> Report {
    ctx.out.say("");
    ctx.out.say(format!(
        "run {} {} after {}",
        started.name,
        end.status,
        took(started, end)
    ));
    let error = end
        .error
        .clone()
        .unwrap_or_else(|| "unknown error".to_string());
    ctx.out.say(format!("error: {error}"));
    let cause = end.cause.as_deref().map(readable_cause);
    if let Some(cause) = cause.as_deref().filter(|c| !c.is_empty()) {
        ctx.out.say(format!("cause: {cause}"));
    }
    report.exit_code = EXIT_ERROR;
    report.reason = "execution_failed".to_string();
    report.error = Some(error);
    report.cause = cause;
    report
}

fn succeeded(ctx: &Ctx, mut report: Report, started: &Started, end: &End) -> Report {
    let summary = summary::of_output(end.output.as_deref().unwrap_or(""));
    ctx.out.say("");
    ctx.out.say(format!(
        "run {} SUCCEEDED in {}",
        started.name,
        took(started, end)
    ));
    ctx.out.say_all(&summary.lines);
    ctx.out.say_all(&location_lines(&summary.locations));
    report.counts = summary.counts;
    report.changes = summary.plan.as_ref().map(AnyPlan::change_list);
    report.locations.extend(
        summary
            .locations
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    report
}
