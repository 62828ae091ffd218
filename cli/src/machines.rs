//! Which state machine and which run: `refresh`/`promote` resolved to a state machine ARN (the
//! `--state-machine-arn` flag, else `FERRY_<MACHINE>_STATE_MACHINE_ARN`, else the stack's
//! `RefreshStateMachineArn`/`PromoteStateMachineArn` output), a RUN (an execution ARN, or a
//! name tried against each machine), and execution names (generated and checked).

use std::time::SystemTime;

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use clap::ValueEnum;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::clock;
use crate::env::Lookup;
use crate::error::{CliError, Result};

/// Step Functions' longest execution name.
pub const MAX_NAME_CHARS: usize = 80;

/// ferry's two state machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Machine {
    /// Copies tables and buckets from one environment into another, masked.
    Refresh,
    /// Promotes configuration from one environment to another.
    Promote,
}

impl Machine {
    /// Both machines, in the order a name is tried.
    pub const ALL: [Machine; 2] = [Machine::Refresh, Machine::Promote];

    /// `refresh` or `promote`.
    pub fn name(self) -> &'static str {
        match self {
            Machine::Refresh => "refresh",
            Machine::Promote => "promote",
        }
    }

    /// The variable naming its ARN: `FERRY_PROMOTE_STATE_MACHINE_ARN`.
    pub fn env_var(self) -> &'static str {
        match self {
            Machine::Refresh => "FERRY_REFRESH_STATE_MACHINE_ARN",
            Machine::Promote => "FERRY_PROMOTE_STATE_MACHINE_ARN",
        }
    }

    /// The stack output holding its ARN.
    pub fn stack_output(self) -> &'static str {
        match self {
            Machine::Refresh => "RefreshStateMachineArn",
            Machine::Promote => "PromoteStateMachineArn",
        }
    }

    /// The machine an execution input belongs to: promotions name their platform.
    pub fn of_input(input: &Value) -> Machine {
        if input.get("platform").is_some() {
            Machine::Promote
        } else {
            Machine::Refresh
        }
    }
}

/// A new execution's name: `<prefix>-<UTC yyyymmddThhmmss>`.
pub fn default_name(prefix: &str, at: SystemTime) -> String {
    format!("{prefix}-{}", clock::stamp(at))
}

/// A name for an execution the command starts on its own (a plan, a rollback):
/// `<prefix>-<UTC yyyymmddThhmmss>-<4 hex digits>`, so plans started in the same second (a CI
/// job planning several inputs at once) never share a name.
pub fn unique_name(prefix: &str, at: SystemTime) -> String {
    format!("{}-{:04x}", default_name(prefix, at), fastrand::u16(..))
}

/// Checks a name given with `--name`: 1 to 80 of `A-Z a-z 0-9 - _ .` (names also become S3 keys,
/// assumed-role names and log stream names, so nothing else is let through).
pub fn check_name(name: &str) -> Result<()> {
    let bad: Vec<char> = name
        .chars()
        .filter(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .collect();
    let problem = if name.is_empty() {
        "is empty".to_string()
    } else if name.chars().count() > MAX_NAME_CHARS {
        format!(
            "has {} characters (at most {MAX_NAME_CHARS})",
            name.chars().count()
        )
    } else if !bad.is_empty() {
        let shown: String = bad.iter().map(|c| format!("{c:?} ")).collect();
        format!(
            "holds {}(only A-Z, a-z, 0-9, '-', '_' and '.' are allowed)",
            shown
        )
    } else {
        return Ok(());
    };
    Err(CliError::new(
        "invalid_name",
        format!("--name '{name}' {problem}"),
    ))
}

/// Whether `run` is an execution ARN rather than a name.
pub fn is_execution_arn(run: &str) -> bool {
    run.starts_with("arn:") && run.contains(":execution:")
}

/// The ARN an execution named `name` of `machine_arn` has.
pub fn execution_arn(machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// The execution ARNs RUN may mean: itself when it is one, else the name under each machine.
pub fn candidates(run: &str, machine_arns: &[String]) -> Vec<String> {
    if is_execution_arn(run) {
        return vec![run.to_string()];
    }
    machine_arns
        .iter()
        .map(|arn| execution_arn(arn, run))
        .collect()
}

/// A state machine ARN from the flag or the environment, without asking AWS.
pub fn arn_given(explicit: Option<&str>, var: Lookup<'_>, machine: Machine) -> Option<String> {
    explicit
        .map(str::to_string)
        .or_else(|| var(machine.env_var()))
}

/// A state machine ARN from the stack's outputs.
pub fn arn_in_outputs(
    outputs: &[(String, String)],
    stack: &str,
    machine: Machine,
) -> Result<String> {
    outputs
        .iter()
        .find(|(key, _)| key == machine.stack_output())
        .map(|(_, value)| value.clone())
        .ok_or_else(|| {
            CliError::new(
                "no_state_machine",
                format!(
                    "stack '{stack}' has no output {} (outputs: {}); pass --state-machine-arn or set {}",
                    machine.stack_output(),
                    outputs
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    machine.env_var()
                ),
            )
        })
}

/// Resolves machines and runs, asking CloudFormation for the stack's outputs at most once.
pub struct Machines {
    explicit: Option<String>,
    given: [Option<String>; 2],
    stack: String,
    cfn: aws_sdk_cloudformation::Client,
    outputs: OnceCell<std::result::Result<Vec<(String, String)>, CliError>>,
}

impl Machines {
    /// `explicit` is `--state-machine-arn`; `var` reads the environment.
    pub fn new(
        explicit: Option<String>,
        var: Lookup<'_>,
        stack: String,
        cfn: aws_sdk_cloudformation::Client,
    ) -> Self {
        let given = Machine::ALL.map(|m| arn_given(None, var, m));
        Machines {
            explicit,
            given,
            stack,
            cfn,
            outputs: OnceCell::new(),
        }
    }

    /// The state machine ARN of `machine`.
    pub async fn arn(&self, machine: Machine) -> Result<String> {
        if let Some(arn) = &self.explicit {
            return Ok(arn.clone());
        }
        let index = Machine::ALL.iter().position(|m| *m == machine).unwrap_or(0);
        if let Some(arn) = &self.given[index] {
            return Ok(arn.clone());
        }
        let outputs = self.stack_outputs().await?;
        arn_in_outputs(outputs, &self.stack, machine)
    }

    /// The machines to look at when none is named: the `--state-machine-arn` alone, or both
    /// (each with its ARN or why it has none).
    pub async fn every(&self) -> Vec<(Option<Machine>, Result<String>)> {
        if let Some(arn) = &self.explicit {
            return vec![(None, Ok(arn.clone()))];
        }
        let mut all = Vec::new();
        for machine in Machine::ALL {
            all.push((Some(machine), self.arn(machine).await));
        }
        all
    }

    /// Finds the execution RUN names.
    pub async fn execution(
        &self,
        sfn: &aws_sdk_sfn::Client,
        run: &str,
    ) -> Result<DescribeExecutionOutput> {
        let mut arns = Vec::new();
        let mut unresolved = Vec::new();
        if !is_execution_arn(run) {
            for (machine, arn) in self.every().await {
                match arn {
                    Ok(arn) => arns.push(arn),
                    Err(e) => unresolved.push(format!(
                        "{}: {}",
                        machine.map_or("state machine", Machine::name),
                        e.message
                    )),
                }
            }
            if arns.is_empty() {
                return Err(CliError::new(
                    "no_state_machine",
                    format!("cannot look for run '{run}': {}", unresolved.join("; ")),
                ));
            }
        }
        for arn in candidates(run, &arns) {
            let found = sfn.describe_execution().execution_arn(&arn).send().await;
            match found {
                Ok(execution) => return Ok(execution),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_execution_does_not_exist()) => {}
                Err(e) => return Err(CliError::aws(&format!("DescribeExecution {arn}"), e)),
            }
        }
        let place = if is_execution_arn(run) {
            "Step Functions".to_string()
        } else {
            arns.join(" or ")
        };
        let unlooked = if unresolved.is_empty() {
            String::new()
        } else {
            format!(" (not looked for in {})", unresolved.join("; "))
        };
        Err(CliError::new(
            "not_found",
            format!("no run '{run}' in {place}{unlooked}"),
        ))
    }

    async fn stack_outputs(&self) -> Result<&Vec<(String, String)>> {
        let outputs = self
            .outputs
            .get_or_init(|| async {
                let answer = self
                    .cfn
                    .describe_stacks()
                    .stack_name(&self.stack)
                    .send()
                    .await
                    .map_err(|e| {
                        CliError::aws(
                            &format!(
                                "no state machine ARN given (--state-machine-arn, {} or {}), and reading the outputs of stack '{}' failed",
                                Machine::Refresh.env_var(),
                                Machine::Promote.env_var(),
                                self.stack
                            ),
                            e,
                        )
                    })?;
                let outputs = answer
                    .stacks()
                    .first()
                    .map(|s| s.outputs())
                    .unwrap_or_default();
                Ok(outputs
                    .iter()
                    .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
                    .collect())
            })
            .await;
        outputs.as_ref().map_err(Clone::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMOTE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:promote";
    const REFRESH: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:refresh";

    #[test]
    fn default_names_are_the_machine_and_utc_time_and_valid() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_777_636_800);
        let name = default_name("promote", at);
        assert_eq!(name, "promote-20260501T120000");
        assert_eq!(check_name(&name), Ok(()));
        let plan = unique_name("refresh-plan", at);
        assert!(plan.starts_with("refresh-plan-20260501T120000-"), "{plan}");
        assert_eq!(plan.len(), "refresh-plan-20260501T120000-".len() + 4);
        assert_eq!(check_name(&plan), Ok(()));
    }

    #[test]
    fn names_with_other_characters_or_too_long_are_refused() {
        assert_eq!(check_name("nightly_refresh.2"), Ok(()));
        let spaced = check_name("my run").unwrap_err();
        assert_eq!(spaced.reason, "invalid_name");
        assert!(spaced.message.contains("' '"), "{}", spaced.message);
        let slashed = check_name("a/b:c").unwrap_err();
        assert!(slashed.message.contains("'/'") && slashed.message.contains("':'"));
        assert!(check_name("").unwrap_err().message.contains("is empty"));
        assert_eq!(check_name(&"x".repeat(80)), Ok(()));
        assert!(
            check_name(&"x".repeat(81))
                .unwrap_err()
                .message
                .contains("81 characters")
        );
        assert!(check_name("préprod").is_err());
    }

    #[test]
    fn a_name_is_tried_under_each_machine_and_an_arn_as_it_is() {
        let machines = [REFRESH.to_string(), PROMOTE.to_string()];
        assert_eq!(
            candidates("promote-20260501T120000", &machines),
            [
                "arn:aws:states:us-east-1:123456789012:execution:refresh:promote-20260501T120000",
                "arn:aws:states:us-east-1:123456789012:execution:promote:promote-20260501T120000",
            ]
        );
        let arn = "arn:aws:states:us-east-1:123456789012:execution:promote:r1";
        assert_eq!(candidates(arn, &machines), [arn]);
        assert!(!is_execution_arn(PROMOTE));
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_the_environment_over_the_stack() {
        let env =
            |name: &str| (name == "FERRY_PROMOTE_STATE_MACHINE_ARN").then(|| PROMOTE.to_string());
        assert_eq!(
            arn_given(Some("arn:flag"), &env, Machine::Promote).as_deref(),
            Some("arn:flag")
        );
        assert_eq!(
            arn_given(None, &env, Machine::Promote).as_deref(),
            Some(PROMOTE)
        );
        assert_eq!(arn_given(None, &env, Machine::Refresh), None);
        let outputs = vec![
            ("ArtifactBucketName".to_string(), "bucket".to_string()),
            ("RefreshStateMachineArn".to_string(), REFRESH.to_string()),
        ];
        assert_eq!(
            arn_in_outputs(&outputs, "ferry", Machine::Refresh).unwrap(),
            REFRESH
        );
        let missing = arn_in_outputs(&outputs, "ferry", Machine::Promote).unwrap_err();
        assert!(missing.message.contains("PromoteStateMachineArn"));
        assert!(missing.message.contains("FERRY_PROMOTE_STATE_MACHINE_ARN"));
    }

    #[test]
    fn promotions_are_told_from_refreshes_by_their_platform() {
        assert_eq!(
            Machine::of_input(&serde_json::json!({"platform": "sesam"})),
            Machine::Promote
        );
        assert_eq!(
            Machine::of_input(&serde_json::json!({"tables": []})),
            Machine::Refresh
        );
    }
}
