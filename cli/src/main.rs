//! The `ferry` command: plans, runs, follows, approves and rolls back ferry's refresh and promote
//! state machines. This file is the command line (clap); `app` does the work.

mod app;
mod approval;
mod aws;
mod clock;
mod env;
mod error;
mod events;
mod follow;
mod history;
mod input;
mod launch;
mod machines;
mod output;
mod render;
mod rollback;
mod status;
mod steps;
mod summary;
#[cfg(test)]
mod testing;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::machines::Machine;
use crate::output::Format;

const ABOUT: &str =
    "Plan, run, follow, approve and roll back ferry's refresh and promote state machines.";

const AFTER_HELP: &str = "\
Exit codes (each command's --help says its own):
  0  plan: nothing would change; run: SUCCEEDED (or started, with --detach); status: running or
     succeeded; approve, reject: answered; history: listed; rollback: rolled back, or nothing to
     roll back
  1  any error: bad input (nothing is started), a failed, timed-out or aborted run, a run that is
     not waiting for approval, a plan the guards refuse
  2  plan, rollback: the plan would change something, and nothing was changed

Environment:
  FERRY_STACK                       the stack whose outputs name the state machines (--stack)
  FERRY_REFRESH_STATE_MACHINE_ARN   the refresh state machine (instead of the stack's output)
  FERRY_PROMOTE_STATE_MACHINE_ARN   the promote state machine (instead of the stack's output)
  AWS_ENDPOINT_URL_SFN, AWS_ENDPOINT_URL, AWS_PROFILE, AWS_REGION, …  read by the AWS SDK
  USER                              who approves or rejects, when AWS cannot say

A state machine is found by --state-machine-arn, else FERRY_<MACHINE>_STATE_MACHINE_ARN, else the
stack's RefreshStateMachineArn or PromoteStateMachineArn output. RUN is an execution ARN or an
execution name (looked for under each machine).";

/// The command line.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// text: lines for people; json: one JSON document at the end on stdout, lines on stderr.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Seconds between two reads of a run's history [default: 2; 0.5 against a local endpoint].
    #[arg(long, global = true, value_name = "SECONDS", value_parser = poll_seconds)]
    pub poll_interval: Option<f64>,
    /// The stack whose outputs name the state machines.
    #[arg(long, global = true, env = "FERRY_STACK", default_value = "ferry")]
    pub stack: String,
    /// The state machine to use (instead of the environment or the stack).
    #[arg(long, global = true, value_name = "ARN")]
    pub state_machine_arn: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the machine as a dry run, follow it and print its plan.
    ///
    /// Exits 0 when nothing would change, 2 when something would, 1 on any error (the input is
    /// validated first: a bad input names every bad field and starts nothing; a failed dry run
    /// prints its error and cause; a plan the guards refuse).
    Plan {
        /// refresh or promote.
        machine: Machine,
        /// The execution input (JSON); its dry_run is set to true.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
    },
    /// Start the machine and follow it to its end, then summarise what it did.
    ///
    /// Prints each state as it starts and ends, retries and catches, the copy and sync counts as
    /// they grow, child executions, and the command to approve a run that waits. Exits 0 when the
    /// run SUCCEEDED, 1 otherwise (with its error and cause). With --detach: exits 0 once started.
    Run {
        /// refresh or promote.
        machine: Machine,
        /// The execution input (JSON).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// The execution name.
        #[arg(
            long,
            value_name = "N",
            help = "The execution name [default: <machine>-<UTC yyyymmddThhmmss>]; A-Z a-z 0-9 - _ . only"
        )]
        name: Option<String>,
        /// Print the run and exit once it has started.
        #[arg(long)]
        detach: bool,
    },
    /// Show a run: status, start and stop, current states, approval, error or what it did.
    ///
    /// Exits 0 when the run is running or succeeded, 1 when it failed, timed out or was aborted.
    Status {
        /// An execution ARN or name.
        run: String,
    },
    /// List recent runs, newest first, with outcome, start, duration and counts.
    ///
    /// Exits 0 once listed, 1 on an error.
    History {
        /// refresh or promote [default: both].
        machine: Option<Machine>,
        /// How many runs.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
    },
    /// Approve a run that waits for approval.
    ///
    /// Exits 0 once approved, 1 when the run is not waiting.
    Approve {
        /// An execution ARN or name.
        run: String,
        /// Why it may go on.
        #[arg(long, value_name = "C")]
        comment: Option<String>,
    },
    /// Reject a run that waits for approval: it ends with the error Rejected, changing nothing.
    ///
    /// Exits 0 once rejected, 1 when the run is not waiting.
    Reject {
        /// An execution ARN or name.
        run: String,
        /// Why not (becomes the run's cause).
        #[arg(long, value_name = "R")]
        reason: String,
    },
    /// Undo a promotion from the before/ bundle it kept: plan first, then run with --yes.
    ///
    /// Without --yes a terminal asks for "yes"; without a terminal it stops after the plan and
    /// exits 2 if the rollback would change something. Exits 0 when the rollback succeeded or
    /// there is nothing to roll back, 1 on any error.
    Rollback {
        /// An execution ARN or name of a promote run.
        run: String,
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
    },
}

impl Command {
    /// The command's name, as reports give it.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Plan { .. } => "plan",
            Command::Run { .. } => "run",
            Command::Status { .. } => "status",
            Command::History { .. } => "history",
            Command::Approve { .. } => "approve",
            Command::Reject { .. } => "reject",
            Command::Rollback { .. } => "rollback",
        }
    }
}

fn poll_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if seconds.is_finite() && (0.05..=3600.0).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!("{text} is outside 0.05 to 3600 seconds"))
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = app::run(cli).await;
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn plan_and_run_take_a_machine_and_an_input() {
        let cli = Cli::try_parse_from([
            "ferry", "--output", "json", "run", "promote", "--input", "in.json", "--detach",
        ])
        .unwrap();
        assert_eq!(cli.output, Format::Json);
        assert!(matches!(
            cli.command,
            Command::Run {
                machine: Machine::Promote,
                detach: true,
                ..
            }
        ));
        assert!(Cli::try_parse_from(["ferry", "plan", "deploy", "--input", "x"]).is_err());
        assert!(Cli::try_parse_from(["ferry", "plan", "refresh"]).is_err());
    }

    #[test]
    fn poll_intervals_are_positive_seconds() {
        assert_eq!(poll_seconds("0.5"), Ok(0.5));
        assert!(poll_seconds("0").is_err());
        assert!(poll_seconds("soon").is_err());
        let cli = Cli::try_parse_from(["ferry", "status", "r1", "--poll-interval", "5"]).unwrap();
        assert_eq!(cli.poll_interval, Some(5.0));
    }

    #[test]
    fn help_documents_exit_codes_and_environment() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "Exit codes (each command's --help says its own):",
            "FERRY_PROMOTE_STATE_MACHINE_ARN",
            "FERRY_STACK",
            "AWS_ENDPOINT_URL_SFN",
        ] {
            assert!(help.contains(needle), "{needle}");
        }
        let mut cmd = Cli::command();
        let plan = cmd
            .find_subcommand_mut("plan")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(
            plan.contains(
                "Exits 0 when nothing would change, 2 when something would, 1 on any error"
            )
        );
    }
}
