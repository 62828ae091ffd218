//! What each command does, in order: inputs and names checked first (a bad one asks AWS
//! nothing and starts nothing), then the AWS clients and the machines, then the command.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::aws::Aws;
use crate::env;
use crate::error::Result;
use crate::machines::{Machine, Machines, check_name, default_name, unique_name};
use crate::output::{Out, Report};
use crate::{Cli, Command, approval, history, input, launch, rollback, status, watch};

/// Seconds between two reads of a followed history.
pub const DEFAULT_POLL_SECONDS: f64 = 2.0;
/// The same against a local Step Functions endpoint.
pub const LOCAL_POLL_SECONDS: f64 = 0.5;

/// What every command works with.
pub struct Ctx {
    /// The AWS clients.
    pub aws: Aws,
    /// The state machines and runs.
    pub machines: Machines,
    /// Where output goes.
    pub out: Out,
    /// Seconds between two reads of a followed history.
    pub poll: Duration,
    /// `$USER`, who answers an approval when AWS cannot say.
    pub user: Option<String>,
}

impl Ctx {
    async fn new(cli: &Cli, out: Out) -> Self {
        let var = env::process;
        let aws = Aws::load(env::s3_path_style(&var)).await;
        let poll = cli
            .poll_interval
            .unwrap_or(if env::local_step_functions(&var) {
                LOCAL_POLL_SECONDS
            } else {
                DEFAULT_POLL_SECONDS
            });
        Ctx {
            machines: Machines::new(
                cli.state_machine_arn.clone(),
                &var,
                cli.stack.clone(),
                aws.cfn.clone(),
            ),
            aws,
            out,
            poll: Duration::from_secs_f64(poll),
            user: var("USER"),
        }
    }
}

/// Runs the command and answers its exit code.
pub async fn run(cli: Cli) -> i32 {
    let out = Out::new(cli.output);
    let name = cli.command.name();
    out.finish(name, dispatch(&cli, out).await)
}

async fn dispatch(cli: &Cli, out: Out) -> Result<Report> {
    match &cli.command {
        Command::Plan { machine, input } => {
            let raw = input::load(input, *machine)?;
            let name = unique_name(&format!("{}-plan", machine.name()), SystemTime::now());
            let ctx = Ctx::new(cli, out).await;
            launch::plan(&ctx, *machine, &raw, &name).await
        }
        Command::Run {
            machine,
            input,
            name,
            detach,
        } => {
            let (raw, name) = prepare_run(*machine, input, name.as_deref())?;
            let ctx = Ctx::new(cli, out).await;
            launch::run(&ctx, *machine, &raw, &name, *detach).await
        }
        Command::Status { run } => status::status(&Ctx::new(cli, out).await, run).await,
        Command::History { machine, limit } => {
            history::history(&Ctx::new(cli, out).await, *machine, *limit).await
        }
        Command::Approve { run, comment } => {
            answer(
                &Ctx::new(cli, out).await,
                run,
                Answer::Approve(comment.as_deref()),
            )
            .await
        }
        Command::Reject { run, reason } => {
            answer(&Ctx::new(cli, out).await, run, Answer::Reject(reason)).await
        }
        Command::Rollback { run, yes } => {
            rollback::rollback(&Ctx::new(cli, out).await, run, *yes).await
        }
    }
}

fn prepare_run(machine: Machine, input: &Path, name: Option<&str>) -> Result<(Value, String)> {
    let raw = input::load(input, machine)?;
    let name = match name {
        Some(name) => name.to_string(),
        None => default_name(machine.name(), SystemTime::now()),
    };
    check_name(&name)?;
    Ok((raw, name))
}

enum Answer<'a> {
    Approve(Option<&'a str>),
    Reject(&'a str),
}

/// `ferry approve` and `ferry reject`.
async fn answer(ctx: &Ctx, run: &str, answer: Answer<'_>) -> Result<Report> {
    let execution = ctx.machines.execution(&ctx.aws.sfn, run).await?;
    let name = execution.name().unwrap_or(run).to_string();
    let status = execution.status().as_str().to_string();
    let tracker = if status == "RUNNING" {
        watch::read(&ctx.aws.sfn, &name, execution.execution_arn()).await?
    } else {
        crate::follow::Tracker::root(&name, execution.execution_arn())
    };
    let token = approval::waiting_token(&name, &status, &tracker)?;
    let who = approval::who(&ctx.aws.sts, ctx.user.clone()).await;
    let (command, reason) = match answer {
        Answer::Approve(comment) => {
            approval::approve(
                &ctx.aws.sfn,
                &token,
                approval::approval_output(&who, comment),
            )
            .await?;
            ctx.out.say(format!("approved run {name} as {who}"));
            ("approve", "approved")
        }
        Answer::Reject(reason) => {
            approval::reject(
                &ctx.aws.sfn,
                &token,
                approval::rejection_cause(reason, &who),
            )
            .await?;
            ctx.out.say(format!(
                "rejected run {name} as {who}: it ends with {}",
                approval::REJECTED
            ));
            ("reject", "rejected")
        }
    };
    let mut report = Report::new(command, crate::output::EXIT_OK, reason);
    report.run = Some(name);
    report.run_arn = Some(execution.execution_arn().to_string());
    report.status = Some(status);
    Ok(report)
}
