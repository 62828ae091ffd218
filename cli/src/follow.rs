//! History events → progress lines. A [`Tracker`] reads one execution's events in order and says,
//! one line each: a Task, Map or Parallel state starting (the first time) and ending with its
//! duration and what its step returned (live counts, a job's status), a failed attempt, a retry, a
//! catch, the wait for an approval, and for a child execution its end. Each event is placed in
//! its state by `previousEventId` (Map iterations and Parallel branches interleave), so the
//! tracker also knows which states are open, the approval's task and each state's last output.

use std::collections::{HashMap, HashSet};

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType as Ev};
use aws_smithy_types::DateTime;
use serde_json::Value;

use crate::clock::{duration, hms, seconds_between};
use crate::events::{
    approved, child_failure, child_label, child_started, entered_kind, failure, is_exit,
    readable_cause, shorten,
};
use crate::steps;

/// The state where a run waits for a person (a `waitForTaskToken` task).
pub const APPROVAL_STATE: &str = "AwaitApproval";

/// Longest cause shown on a progress line (the whole cause is printed at the end of a run).
const SHOWN_CAUSE_CHARS: usize = 300;

/// What kind of state an entry is; only Task, Map and Parallel states get lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Task state.
    Task,
    /// A Map state.
    Map,
    /// A Parallel state.
    Parallel,
    /// Pass, Choice, Wait, Succeed, Fail.
    Other,
}

/// One time a state was entered.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The state's name.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// When it was entered.
    pub entered: DateTime,
    /// Not yet exited.
    pub open: bool,
    /// A task scheduled and not yet ended.
    pub task_open: bool,
    /// The approval task's parameters (its task token inside: never printed).
    pub scheduled: Option<String>,
    /// The Map or Parallel state it runs in.
    parent: Option<usize>,
    attempts: u32,
    failure: Option<(String, String)>,
    detail: Option<String>,
}

/// A progress line and the time of the event it tells of.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// When the event happened.
    pub at: DateTime,
    /// `12:00:00 [label] text`.
    pub text: String,
}

/// What a tracker has to say about an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// A progress line.
    Line(Line),
    /// A child execution started (its ARN): follow it too.
    Child(String),
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct End {
    /// `SUCCEEDED`, `FAILED`, `ABORTED` or `TIMED_OUT`.
    pub status: String,
    /// When.
    pub at: DateTime,
    /// The execution's output (succeeded).
    pub output: Option<String>,
    /// The error (failed, aborted, timed out).
    pub error: Option<String>,
    /// Its cause.
    pub cause: Option<String>,
}

/// Reads one execution's history, event by event.
#[derive(Debug)]
pub struct Tracker {
    run: String,
    arn: String,
    parent: Option<String>,
    label: String,
    entries: Vec<Entry>,
    by_event: HashMap<i64, usize>,
    started: HashSet<String>,
    outputs: HashMap<String, String>,
    last_failure: Option<(String, String)>,
    last_id: i64,
    started_at: Option<DateTime>,
    end: Option<End>,
}

impl Tracker {
    /// The tracker of the run named `run` itself.
    pub fn root(run: &str, arn: &str) -> Self {
        Tracker::new(run, arn, None)
    }

    /// The tracker of a child execution `arn` of the run `run`; its lines carry `[label]`, the
    /// label nested in the parent's (`table t / segment 3 copy`).
    pub fn child(run: &str, arn: &str, parent_label: &str) -> Self {
        Tracker::new(run, arn, Some(parent_label.to_string()))
    }

    fn new(run: &str, arn: &str, parent: Option<String>) -> Self {
        Tracker {
            run: run.to_string(),
            arn: arn.to_string(),
            label: String::new(),
            parent,
            entries: Vec::new(),
            by_event: HashMap::new(),
            started: HashSet::new(),
            outputs: HashMap::new(),
            last_failure: None,
            last_id: 0,
            started_at: None,
            end: None,
        }
    }

    /// The execution's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The label of its lines (empty for the run itself).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How it ended, once it has.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// The states it is in now, in the order they were entered.
    pub fn open_states(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.entries
            .iter()
            .filter(|e| e.open && seen.insert(e.name.clone()))
            .map(|e| e.name.clone())
            .collect()
    }

    /// The latest entry of state `name`.
    pub fn latest(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().rev().find(|e| e.name == name)
    }

    /// The last output a task of state `name` returned.
    pub fn output_of(&self, name: &str) -> Option<&str> {
        self.outputs.get(name).map(String::as_str)
    }

    /// Reads the next event; events already read are ignored.
    pub fn push(&mut self, event: &HistoryEvent) -> Vec<Note> {
        if event.id() <= self.last_id {
            return Vec::new();
        }
        self.last_id = event.id();
        let at = *event.timestamp();
        let notes = match entered_kind(event.r#type()) {
            Some(kind) => self.enter(event, kind),
            None => self.other(event),
        };
        notes
            .into_iter()
            .map(|note| match note {
                Note::Line(line) => Note::Line(Line {
                    at,
                    text: self.line(&at, &line.text),
                }),
                child => child,
            })
            .collect()
    }

    fn line(&self, at: &DateTime, text: &str) -> String {
        if self.parent.is_some() {
            format!("{} [{}] {text}", hms(at), self.label)
        } else {
            format!("{} {text}", hms(at))
        }
    }

    fn other(&mut self, event: &HistoryEvent) -> Vec<Note> {
        let index = self.context(event);
        if let Some(index) = index {
            self.by_event.insert(event.id(), index);
        }
        let ty = event.r#type();
        if is_exit(ty) {
            return self.exit(event);
        }
        match ty {
            Ev::ExecutionStarted => self.execution_started(event),
            Ev::LambdaFunctionScheduled | Ev::TaskScheduled => {
                let index = self.task_entry(event, index, false);
                self.scheduled(event, index)
            }
            Ev::TaskSubmitted => child_started(event).map(Note::Child).into_iter().collect(),
            Ev::LambdaFunctionSucceeded | Ev::TaskSucceeded => {
                let index = self.task_entry(event, index, true);
                self.succeeded(event, index)
            }
            Ev::MapStateFailed | Ev::MapRunFailed => self.branch_failed(index, Kind::Map),
            Ev::ParallelStateFailed => self.branch_failed(index, Kind::Parallel),
            Ev::ExecutionSucceeded
            | Ev::ExecutionFailed
            | Ev::ExecutionAborted
            | Ev::ExecutionTimedOut => self.ended(event),
            _ => match failure(event) {
                Some((error, cause)) => {
                    let index = self.task_entry(event, index, true);
                    self.failed(index, error, cause)
                }
                None => Vec::new(),
            },
        }
    }

    /// The Task entry a task event belongs to: its context when that is an open Task in the
    /// right phase (a task `running` for an end, none for a schedule), else the oldest open Task
    /// in that phase (a history whose `previousEventId`s do not follow its branches, as a local
    /// runner's may not, still ends each task once).
    fn task_entry(
        &mut self,
        event: &HistoryEvent,
        context: Option<usize>,
        running: bool,
    ) -> Option<usize> {
        let fits = |e: &Entry| e.open && e.kind == Kind::Task && e.task_open == running;
        let index = context
            .filter(|&i| fits(&self.entries[i]))
            .or_else(|| self.entries.iter().position(fits))
            .or(context);
        if let Some(index) = index {
            self.by_event.insert(event.id(), index);
        }
        index
    }

    /// The entry an event belongs to: its previous event's, else the latest open one.
    fn context(&self, event: &HistoryEvent) -> Option<usize> {
        self.by_event
            .get(&event.previous_event_id())
            .copied()
            .or_else(|| self.entries.iter().rposition(|e| e.open))
    }

    fn execution_started(&mut self, event: &HistoryEvent) -> Vec<Note> {
        self.started_at = Some(*event.timestamp());
        let Some(parent) = &self.parent else {
            return Vec::new();
        };
        let input = event
            .execution_started_event_details()
            .and_then(|d| d.input())
            .and_then(|text| serde_json::from_str::<Value>(text).ok());
        let own = input
            .as_ref()
            .and_then(child_label)
            .unwrap_or_else(|| self.arn.rsplit(':').next().unwrap_or_default().to_string());
        self.label = if parent.is_empty() {
            own
        } else {
            format!("{parent} / {own}")
        };
        vec![say("started".to_string())]
    }

    fn enter(&mut self, event: &HistoryEvent, kind: Kind) -> Vec<Note> {
        let name = event
            .state_entered_event_details()
            .map(|d| d.name().to_string())
            .unwrap_or_default();
        let parent = match self.by_event.get(&event.previous_event_id()) {
            Some(&i)
                if self.entries[i].open
                    && matches!(self.entries[i].kind, Kind::Map | Kind::Parallel) =>
            {
                Some(i)
            }
            Some(&i) => self.entries[i].parent,
            None => None,
        };
        self.entries.push(Entry {
            name: name.clone(),
            kind,
            entered: *event.timestamp(),
            open: true,
            task_open: false,
            scheduled: None,
            parent,
            attempts: 0,
            failure: None,
            detail: None,
        });
        self.by_event.insert(event.id(), self.entries.len() - 1);
        if name == APPROVAL_STATE {
            return vec![say(format!(
                "waiting for approval: ferry approve {run} (or ferry reject {run} --reason …)",
                run = self.run
            ))];
        }
        if kind != Kind::Other && self.started.insert(name.clone()) {
            return vec![say(format!("{name} started"))];
        }
        Vec::new()
    }

    fn exit(&mut self, event: &HistoryEvent) -> Vec<Note> {
        let name = event
            .state_exited_event_details()
            .map(|d| d.name().to_string());
        let index = self
            .by_event
            .get(&event.previous_event_id())
            .copied()
            .filter(|i| name.is_none() || Some(&self.entries[*i].name) == name.as_ref())
            .or_else(|| {
                self.entries
                    .iter()
                    .rposition(|e| e.open && (name.is_none() || Some(&e.name) == name.as_ref()))
            });
        let Some(index) = index else {
            return Vec::new();
        };
        if matches!(self.entries[index].kind, Kind::Map | Kind::Parallel) {
            self.close_inside(index);
        }
        let entry = &mut self.entries[index];
        entry.open = false;
        entry.task_open = false;
        if entry.kind == Kind::Other {
            return Vec::new();
        }
        let took = duration(seconds_between(&entry.entered, event.timestamp()));
        let aborted = matches!(
            event.r#type(),
            Ev::TaskStateAborted | Ev::MapStateAborted | Ev::ParallelStateAborted
        );
        let text = match (aborted, entry.failure.take(), entry.detail.take()) {
            (true, _, _) => format!("{} aborted after {took}", entry.name),
            (false, Some((error, _)), _) => {
                format!("{} failed after {took}, caught: {error}", entry.name)
            }
            (false, None, Some(detail)) => format!("{} done in {took}: {detail}", entry.name),
            (false, None, None) => format!("{} done in {took}", entry.name),
        };
        vec![say(text)]
    }

    fn scheduled(&mut self, event: &HistoryEvent, index: Option<usize>) -> Vec<Note> {
        let Some(entry) = index.map(|i| &mut self.entries[i]) else {
            return Vec::new();
        };
        entry.attempts += 1;
        entry.task_open = true;
        let retry = entry.failure.take().is_some();
        if entry.name == APPROVAL_STATE {
            entry.scheduled = event
                .task_scheduled_event_details()
                .map(|d| d.parameters().to_string())
                .or_else(|| {
                    event
                        .lambda_function_scheduled_event_details()
                        .and_then(|d| d.input())
                        .map(str::to_string)
                });
        }
        if retry {
            return vec![say(format!(
                "{} retrying (attempt {})",
                entry.name, entry.attempts
            ))];
        }
        Vec::new()
    }

    fn succeeded(&mut self, event: &HistoryEvent, index: Option<usize>) -> Vec<Note> {
        let output = event
            .lambda_function_succeeded_event_details()
            .and_then(|d| d.output())
            .or_else(|| {
                event
                    .task_succeeded_event_details()
                    .and_then(|d| d.output())
            });
        let Some(entry) = index.map(|i| &mut self.entries[i]) else {
            return Vec::new();
        };
        entry.task_open = false;
        if let Some(output) = output {
            let value = steps::payload(output);
            entry.detail = value.as_ref().and_then(|v| {
                if entry.name == APPROVAL_STATE {
                    approved(v)
                } else {
                    steps::detail(v)
                }
            });
            self.outputs.insert(entry.name.clone(), output.to_string());
        }
        Vec::new()
    }

    fn failed(&mut self, index: Option<usize>, error: String, cause: String) -> Vec<Note> {
        let Some(entry) = index.map(|i| &mut self.entries[i]) else {
            return Vec::new();
        };
        entry.task_open = false;
        let (error, cause) =
            child_failure(&error, &cause).unwrap_or_else(|| (error, readable_cause(&cause)));
        let line = format!(
            "{} failed (attempt {}): {error}: {}",
            entry.name,
            entry.attempts.max(1),
            shorten(&cause, SHOWN_CAUSE_CHARS)
        );
        entry.failure = Some((error.clone(), cause.clone()));
        self.last_failure = Some((error, cause));
        vec![say(line)]
    }

    /// A Map or Parallel failed because an iteration or branch did: the last failure seen is why.
    fn branch_failed(&mut self, index: Option<usize>, kind: Kind) -> Vec<Note> {
        let why = self
            .last_failure
            .clone()
            .unwrap_or_else(|| ("States.BranchFailed".to_string(), String::new()));
        let mut at = index;
        while let Some(i) = at.filter(|&i| self.entries[i].kind != kind) {
            at = self.entries[i].parent;
        }
        let container = at.or_else(|| self.entries.iter().rposition(|e| e.open && e.kind == kind));
        if let Some(entry) = container.map(|i| &mut self.entries[i]) {
            entry.failure = Some(why);
        }
        Vec::new()
    }

    /// Closes the states still open inside the Map or Parallel `container` (a failed branch's
    /// states end without events of their own).
    fn close_inside(&mut self, container: usize) {
        for i in container + 1..self.entries.len() {
            let mut up = self.entries[i].parent;
            while let Some(p) = up.filter(|&p| p != container) {
                up = self.entries[p].parent;
            }
            if up == Some(container) {
                self.entries[i].open = false;
                self.entries[i].task_open = false;
            }
        }
    }

    fn ended(&mut self, event: &HistoryEvent) -> Vec<Note> {
        let (status, output, error, cause) = match event.r#type() {
            Ev::ExecutionSucceeded => (
                "SUCCEEDED",
                event
                    .execution_succeeded_event_details()
                    .and_then(|d| d.output())
                    .map(str::to_string),
                None,
                None,
            ),
            other => {
                let (error, cause) = failure(event).unzip();
                let cause = cause.map(|c| readable_cause(&c));
                let status = match other {
                    Ev::ExecutionAborted => "ABORTED",
                    Ev::ExecutionTimedOut => "TIMED_OUT",
                    _ => "FAILED",
                };
                (status, None, error, cause)
            }
        };
        for entry in &mut self.entries {
            entry.open = false;
            entry.task_open = false;
        }
        let took = self
            .started_at
            .map(|s| duration(seconds_between(&s, event.timestamp())))
            .unwrap_or_default();
        self.end = Some(End {
            status: status.to_string(),
            at: *event.timestamp(),
            output,
            error: error.clone(),
            cause: cause.clone(),
        });
        if self.parent.is_none() {
            return Vec::new();
        }
        let text = match (error, cause) {
            (Some(error), cause) => format!(
                "{status} after {took}: {error}: {}",
                shorten(&cause.unwrap_or_default(), SHOWN_CAUSE_CHARS)
            ),
            (None, _) => format!("{status} in {took}"),
        };
        vec![say(text)]
    }
}

/// A line whose time and label [`Tracker::push`] adds.
fn say(text: String) -> Note {
    Note::Line(Line {
        at: DateTime::from_secs(0),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::History;
    use serde_json::json;

    fn lines(tracker: &mut Tracker, events: &[HistoryEvent]) -> Vec<String> {
        events
            .iter()
            .flat_map(|e| tracker.push(e))
            .filter_map(|n| match n {
                Note::Line(line) => Some(line.text),
                Note::Child(_) => None,
            })
            .collect()
    }

    fn copy_output(written: u64, done: bool) -> String {
        json!({"done": done, "progress": {"counts": {"items_read": written, "items_written": written,
            "items_deleted": 0, "values_masked": 0, "retries": 0, "invocations": 1}}})
        .to_string()
    }

    #[test]
    fn tasks_start_and_end_with_their_duration_and_counts() {
        let mut h = History::new("{}");
        h.at(0).enter(Ev::TaskStateEntered, "CopySegment", "{}");
        h.lambda_scheduled("{}");
        h.at(3).lambda_succeeded(&copy_output(500, false));
        h.exit(Ev::TaskStateExited, "CopySegment");
        h.enter(Ev::ChoiceStateEntered, "SegmentCopied", "{}");
        h.exit(Ev::ChoiceStateExited, "SegmentCopied");
        h.enter(Ev::TaskStateEntered, "CopySegment", "{}");
        h.lambda_scheduled("{}");
        h.at(95).lambda_succeeded(&copy_output(1_200, true));
        h.exit(Ev::TaskStateExited, "CopySegment");
        h.succeeded("{}");
        let mut tracker = Tracker::root("refresh-1", "arn:x:execution:refresh:refresh-1");
        assert_eq!(
            lines(&mut tracker, &h.events()),
            [
                "12:00:00 CopySegment started",
                "12:00:03 CopySegment done in 3.0s: 500 read, 500 written after 1 invocation(s), continuing",
                "12:01:35 CopySegment done in 1m 32s: 1,200 read, 1,200 written after 1 invocation(s), done",
            ]
        );
        let end = tracker.end().unwrap();
        assert_eq!(end.status, "SUCCEEDED");
        assert_eq!(end.output.as_deref(), Some("{}"));
        assert!(tracker.open_states().is_empty());
    }

    #[test]
    fn a_retry_and_a_catch_are_told() {
        let mut h = History::new("{}");
        h.at(0).enter(Ev::TaskStateEntered, "PauseConsumers", "{}");
        h.lambda_scheduled("{}");
        h.at(1)
            .lambda_failed("Throttled", "Rate exceeded\n  (toggle-streams)");
        h.at(3).lambda_scheduled("{}");
        h.at(4).lambda_failed("AccessDenied", "not allowed");
        h.at(5).exit(Ev::TaskStateExited, "PauseConsumers");
        h.enter(Ev::TaskStateEntered, "ResumeConsumers", "{}");
        let mut tracker = Tracker::root("r", "arn");
        assert_eq!(
            lines(&mut tracker, &h.events()),
            [
                "12:00:00 PauseConsumers started",
                "12:00:01 PauseConsumers failed (attempt 1): Throttled: Rate exceeded (toggle-streams)",
                "12:00:03 PauseConsumers retrying (attempt 2)",
                "12:00:04 PauseConsumers failed (attempt 2): AccessDenied: not allowed",
                "12:00:05 PauseConsumers failed after 5.0s, caught: AccessDenied",
                "12:00:05 ResumeConsumers started",
            ]
        );
        assert_eq!(tracker.open_states(), ["ResumeConsumers"]);
        assert!(tracker.end().is_none());
    }

    #[test]
    fn a_child_execution_is_announced_and_its_failure_unwrapped() {
        let child = "arn:aws:states:us-east-1:123456789012:execution:refresh-table:abc";
        let mut h = History::new("{}");
        h.at(0).enter(Ev::TaskStateEntered, "CopyTable", "{}");
        h.task_scheduled("states", "startExecution.sync:2", "{}");
        h.task_submitted(
            "states",
            "startExecution.sync:2",
            &json!({"ExecutionArn": child}).to_string(),
        );
        let cause = json!({"ExecutionArn": child, "Status": "FAILED", "Error": "DeadlineExceeded",
                           "Cause": "segment 3 is not done"});
        h.at(9).task_failed("States.TaskFailed", &cause.to_string());
        let mut tracker = Tracker::root("r", "arn");
        let notes: Vec<Note> = h.events().iter().flat_map(|e| tracker.push(e)).collect();
        assert!(notes.contains(&Note::Child(child.to_string())));
        let said: Vec<&str> = notes
            .iter()
            .filter_map(|n| match n {
                Note::Line(line) => Some(line.text.as_str()),
                Note::Child(_) => None,
            })
            .collect();
        assert!(said.contains(
            &"12:00:09 CopyTable failed (attempt 1): DeadlineExceeded: segment 3 is not done"
        ));
    }

    #[test]
    fn child_lines_carry_a_label_from_their_input_and_say_how_they_ended() {
        let mut h = History::new(
            &json!({"run_id": "r", "table": {"target": "t"}, "segment": 3, "phase": "copy"})
                .to_string(),
        );
        h.at(0).enter(Ev::TaskStateEntered, "CopySegment", "{}");
        h.at(2)
            .failed("DeadlineExceeded", "not done after 26 invocations");
        let mut tracker = Tracker::child("r", "arn:x:execution:refresh-segment:abc", "table t");
        assert_eq!(
            lines(&mut tracker, &h.events()),
            [
                "12:00:00 [table t / segment 3 copy] started",
                "12:00:00 [table t / segment 3 copy] CopySegment started",
                "12:00:02 [table t / segment 3 copy] FAILED after 2.0s: DeadlineExceeded: not done after 26 invocations",
            ]
        );
        assert_eq!(
            tracker.end().unwrap().error.as_deref(),
            Some("DeadlineExceeded")
        );
    }

    #[test]
    fn interleaved_map_iterations_end_in_their_own_states() {
        let mut h = History::new("{}");
        h.at(0).enter(Ev::MapStateEntered, "SyncBuckets", "{}");
        let map = h.last();
        let a = h
            .branch(map)
            .enter(Ev::TaskStateEntered, "Sync", "{}")
            .last();
        let b = h
            .branch(map)
            .at(5)
            .enter(Ev::TaskStateEntered, "Sync", "{}")
            .last();
        h.branch(b).at(7).exit(Ev::TaskStateExited, "Sync");
        h.branch(a).at(8).exit(Ev::TaskStateExited, "Sync");
        let mut tracker = Tracker::root("r", "arn");
        let got = lines(&mut tracker, &h.events());
        assert_eq!(
            got,
            [
                "12:00:00 SyncBuckets started",
                "12:00:00 Sync started",
                "12:00:07 Sync done in 2.0s",
                "12:00:08 Sync done in 8.0s",
            ]
        );
        assert_eq!(tracker.open_states(), ["SyncBuckets"]);
    }

    #[test]
    fn a_caught_parallel_failure_is_not_reported_done() {
        let mut h = History::new("{}");
        h.at(0).enter(Ev::ParallelStateEntered, "CopyData", "{}");
        h.enter(Ev::TaskStateEntered, "CopyTable", "{}");
        h.lambda_scheduled("{}");
        h.at(4).lambda_failed("JobFailed", "glue run jr_1 FAILED");
        h.record(Ev::ParallelStateFailed);
        h.at(5).exit(Ev::ParallelStateExited, "CopyData");
        let mut tracker = Tracker::root("r", "arn");
        let got = lines(&mut tracker, &h.events());
        assert_eq!(
            got.last().unwrap(),
            "12:00:05 CopyData failed after 5.0s, caught: JobFailed"
        );
        assert!(
            tracker.open_states().is_empty(),
            "{:?}",
            tracker.open_states()
        );
    }

    #[test]
    fn concurrent_tasks_of_a_linear_history_keep_their_own_outputs() {
        // A local runner numbers previousEventId one after the other, whatever the branch.
        let mut h = History::new("{}");
        h.at(0).enter(Ev::MapStateEntered, "CopyTables", "{}");
        h.enter(Ev::TaskStateEntered, "CopyTable", "{}");
        h.task_scheduled("states", "startExecution.sync:2", "{}");
        h.at(1).enter(Ev::TaskStateEntered, "CopyTable", "{}");
        h.task_scheduled("states", "startExecution.sync:2", "{}");
        h.at(4).task_succeeded(r#"{"Output":{}}"#);
        h.exit(Ev::TaskStateExited, "CopyTable");
        h.at(6).task_succeeded(r#"{"Output":{}}"#);
        h.exit(Ev::TaskStateExited, "CopyTable");
        h.exit(Ev::MapStateExited, "CopyTables");
        let mut tracker = Tracker::root("r", "arn");
        let got = lines(&mut tracker, &h.events());
        assert!(got.iter().all(|l| !l.contains("retrying")), "{got:#?}");
        // Which iteration ended first, a linear history cannot say; that each did, it can.
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(
            got[2].starts_with("12:00:04 CopyTable done in "),
            "{got:#?}"
        );
        assert!(
            got[3].starts_with("12:00:06 CopyTable done in "),
            "{got:#?}"
        );
        assert_eq!(got[4], "12:00:06 CopyTables done in 6.0s");
        assert!(tracker.open_states().is_empty());
    }

    #[test]
    fn the_approval_wait_is_announced_with_the_command_to_answer_it() {
        let mut h = History::new("{}");
        h.at(0).enter(Ev::TaskStateEntered, APPROVAL_STATE, "{}");
        h.task_scheduled(
            "lambda",
            "invoke.waitForTaskToken",
            r#"{"Payload":{"task_token":"SECRET"}}"#,
        );
        let mut tracker = Tracker::root("promote-20260501T120000", "arn");
        let got = lines(&mut tracker, &h.events());
        assert_eq!(
            got,
            [
                "12:00:00 waiting for approval: ferry approve promote-20260501T120000 (or ferry reject promote-20260501T120000 --reason …)"
            ]
        );
        assert!(got.iter().all(|l| !l.contains("SECRET")));
        h.at(60)
            .task_succeeded(r#"{"approved_by":"arn:aws:iam::1:user/ana","comment":"ok"}"#);
        h.exit(Ev::TaskStateExited, APPROVAL_STATE);
        assert_eq!(
            lines(&mut tracker, &h.events()),
            ["12:01:00 AwaitApproval done in 1m 00s: approved by arn:aws:iam::1:user/ana: ok"]
        );
    }

    #[test]
    fn events_read_twice_say_nothing_twice() {
        let mut h = History::new("{}");
        h.at(0).enter(Ev::TaskStateEntered, "Plan", "{}");
        let mut tracker = Tracker::root("r", "arn");
        assert_eq!(lines(&mut tracker, &h.events()).len(), 1);
        assert!(lines(&mut tracker, &h.events()).is_empty());
    }
}
