//! Pipeline runs: a run is answered with its current status and then moves one status on
//! (PENDING → STARTING → RUNNING → the app's outcome, COMPLETED unless the control API set
//! FAILED or KILLED), staying RUNNING for as many reads as the outcome's `steps`; its run
//! record as CDAP prints it.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::clock;
use super::model::{FinalStatus, Outcome};

/// The status of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum RunStatus {
    Pending,
    Starting,
    Running,
    Completed,
    Failed,
    Killed,
}

impl RunStatus {
    /// The name CDAP prints.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Pending => "PENDING",
            RunStatus::Starting => "STARTING",
            RunStatus::Running => "RUNNING",
            RunStatus::Completed => "COMPLETED",
            RunStatus::Failed => "FAILED",
            RunStatus::Killed => "KILLED",
        }
    }
}

impl From<FinalStatus> for RunStatus {
    fn from(status: FinalStatus) -> Self {
        match status {
            FinalStatus::Completed => RunStatus::Completed,
            FinalStatus::Failed => RunStatus::Failed,
            FinalStatus::Killed => RunStatus::Killed,
        }
    }
}

/// The compute profile a run uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RunProfile {
    pub name: String,
    pub namespace: String,
}

/// One run of an app's workflow.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    pub id: String,
    pub starting: u64,
    pub start: Option<u64>,
    pub end: Option<u64>,
    pub status: RunStatus,
    pub running_reads: u32,
    pub args: BTreeMap<String, String>,
    pub profile: RunProfile,
}

impl Run {
    /// A PENDING run with these (resolved) arguments.
    pub fn new(id: String, args: BTreeMap<String, String>, profile: RunProfile) -> Run {
        Run {
            id,
            starting: clock::now(),
            start: None,
            end: None,
            status: RunStatus::Pending,
            running_reads: 0,
            args,
            profile,
        }
    }

    /// The run record.
    pub fn json(&self) -> Value {
        let args = serde_json::to_string(&self.args).unwrap_or_default();
        let mut record = json!({
            "runid": self.id,
            "starting": self.starting,
            "status": self.status,
            "properties": {"runtimeArgs": args},
            "profile": {"profileName": self.profile.name, "namespace": self.profile.namespace},
        });
        let times = [("start", self.start), ("end", self.end)];
        for (key, value) in times {
            if let Some(seconds) = value {
                record[key] = json!(seconds);
            }
        }
        record
    }

    /// Moves one status on; `outcome` says how and when a RUNNING run ends.
    pub fn advance(&mut self, outcome: Option<&Outcome>) {
        match self.status {
            RunStatus::Pending => self.status = RunStatus::Starting,
            RunStatus::Starting => {
                self.status = RunStatus::Running;
                self.start = Some(clock::now());
            }
            RunStatus::Running => {
                self.running_reads += 1;
                let steps = outcome.and_then(|o| o.steps).unwrap_or(1);
                if self.running_reads >= steps {
                    let status = outcome.map(|o| o.status).unwrap_or_default();
                    self.status = status.into();
                    self.end = Some(clock::now());
                }
            }
            _ => {}
        }
    }

    /// The record as read now; the run then moves on.
    pub fn read(&mut self, outcome: Option<&Outcome>) -> Value {
        let record = self.json();
        self.advance(outcome);
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statuses(outcome: Option<&Outcome>, reads: usize) -> Vec<String> {
        let profile = RunProfile {
            name: "native".into(),
            namespace: "system".into(),
        };
        let mut run = Run::new("r".into(), BTreeMap::new(), profile);
        let read = |_| run.read(outcome)["status"].as_str().unwrap().to_string();
        (0..reads).map(read).collect()
    }

    #[test]
    fn runs_move_one_status_per_read_to_their_outcome() {
        let completed = statuses(None, 5);
        let expected = ["PENDING", "STARTING", "RUNNING", "COMPLETED", "COMPLETED"];
        assert_eq!(completed, expected);
        let slow_failure = Outcome {
            status: FinalStatus::Failed,
            steps: Some(2),
            ..Outcome::default()
        };
        let failed = statuses(Some(&slow_failure), 5);
        assert_eq!(
            failed,
            ["PENDING", "STARTING", "RUNNING", "RUNNING", "FAILED"]
        );
    }
}
