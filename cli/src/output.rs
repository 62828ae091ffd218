//! Where output goes, and the exit codes. With `--output text` everything is plain lines on
//! stdout (errors on stderr); with `--output json` the lines go to stderr and stdout carries one
//! JSON document at the end ([`Report`]), for scripts.

use std::collections::BTreeMap;

use clap::ValueEnum;
use serde::Serialize;
use serde_json::Value;

use crate::error::CliError;

/// Nothing would change; the run succeeded; the answer was sent.
pub const EXIT_OK: i32 = 0;
/// Any error: bad input, a failed run, a run that is not waiting, a refused plan.
pub const EXIT_ERROR: i32 = 1;
/// The plan would change something (and nothing was applied).
pub const EXIT_CHANGES: i32 = 2;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document at the end, on stdout; the lines go to stderr.
    Json,
}

/// The end of a command, for scripts.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The command (`plan`, `run`, …).
    pub command: &'static str,
    /// `refresh` or `promote`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<&'static str>,
    /// The execution ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_arn: Option<String>,
    /// The execution name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The execution's status (`SUCCEEDED`, `FAILED`, `RUNNING`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The exit code.
    pub exit_code: i32,
    /// Why it exits so: `no_changes`, `changes`, `succeeded`, `execution_failed`, ….
    pub reason: String,
    /// The error, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// Whether the run waits for an approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for_approval: Option<bool>,
    /// States the run is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_states: Option<Vec<String>>,
    /// Counts: changes of a plan, items and objects of a refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<Value>,
    /// A plan's changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<Value>>,
    /// Where things were kept: `manifest`, `bundle`, `plan`, `before`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub locations: BTreeMap<String, String>,
    /// Runs (`history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<Vec<Value>>,
    /// How long a followed run took, start to end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// A followed run's own output document (for scripts that read more than the summary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
}

impl Report {
    /// A report of `command` exiting with `exit_code` for `reason`.
    pub fn new(command: &'static str, exit_code: i32, reason: &str) -> Self {
        Report {
            command,
            exit_code,
            reason: reason.to_string(),
            ..Report::default()
        }
    }
}

/// The command's output.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    format: Format,
}

impl Out {
    /// Output in `format`.
    pub fn new(format: Format) -> Self {
        Out { format }
    }

    /// A line for people.
    pub fn say(&self, line: impl AsRef<str>) {
        match self.format {
            Format::Text => println!("{}", line.as_ref()),
            Format::Json => eprintln!("{}", line.as_ref()),
        }
    }

    /// Lines for people.
    pub fn say_all(&self, lines: &[String]) {
        for line in lines {
            self.say(line);
        }
    }

    /// Ends `command`: prints its report (JSON) or its error, and answers the exit code.
    pub fn finish(&self, command: &'static str, result: Result<Report, CliError>) -> i32 {
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                eprintln!("error: {}", error.message);
                let mut report = Report::new(command, EXIT_ERROR, error.reason);
                report.error = Some(error.message);
                report
            }
        };
        if self.format == Format::Json {
            println!(
                "{}",
                serde_json::to_string_pretty(&report).unwrap_or_else(|_| "{}".to_string())
            );
        }
        report.exit_code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_leaves_out_what_it_does_not_know() {
        let mut report = Report::new("plan", EXIT_CHANGES, "changes");
        report.run = Some("promote-plan-20260501T120000".to_string());
        report
            .locations
            .insert("plan".to_string(), "s3://a/plan.json".to_string());
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({
                "command": "plan",
                "run": "promote-plan-20260501T120000",
                "exit_code": 2,
                "reason": "changes",
                "locations": {"plan": "s3://a/plan.json"},
            })
        );
    }

    #[test]
    fn an_error_exits_1_with_its_reason() {
        let out = Out::new(Format::Text);
        let code = out.finish(
            "approve",
            Err(CliError::new("not_waiting", "run r is not waiting")),
        );
        assert_eq!(code, EXIT_ERROR);
        assert_eq!(
            out.finish("plan", Ok(Report::new("plan", EXIT_CHANGES, "changes"))),
            EXIT_CHANGES
        );
    }
}
