//! What one history event says: the kind of state it enters or whether it ends one, a failure's
//! error and cause (a Lambda function's error document read as its message, a failed child's own
//! error unwrapped), the child execution a `startExecution.sync` task started, an approval's
//! answer, and a child's name from its input.

use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType as Ev};
use serde_json::Value;

use crate::follow::Kind;

/// The kind of state a `…StateEntered` event enters.
pub fn entered_kind(ty: &Ev) -> Option<Kind> {
    match ty {
        Ev::TaskStateEntered => Some(Kind::Task),
        Ev::MapStateEntered => Some(Kind::Map),
        Ev::ParallelStateEntered => Some(Kind::Parallel),
        Ev::PassStateEntered
        | Ev::ChoiceStateEntered
        | Ev::WaitStateEntered
        | Ev::SucceedStateEntered
        | Ev::FailStateEntered => Some(Kind::Other),
        _ => None,
    }
}

/// Whether an event ends a state (exited or aborted).
pub fn is_exit(ty: &Ev) -> bool {
    matches!(
        ty,
        Ev::TaskStateExited
            | Ev::MapStateExited
            | Ev::ParallelStateExited
            | Ev::PassStateExited
            | Ev::ChoiceStateExited
            | Ev::WaitStateExited
            | Ev::SucceedStateExited
            | Ev::TaskStateAborted
            | Ev::MapStateAborted
            | Ev::ParallelStateAborted
            | Ev::WaitStateAborted
    )
}

/// The error and cause of a failure event (a failed, timed-out or unstartable task or Lambda
/// function, or a failed execution).
pub fn failure(event: &HistoryEvent) -> Option<(String, String)> {
    let pair = |error: Option<&str>, cause: Option<&str>| {
        Some((
            error.unwrap_or("unknown error").to_string(),
            cause.unwrap_or_default().to_string(),
        ))
    };
    if let Some(d) = event.lambda_function_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.lambda_function_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.lambda_function_start_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.lambda_function_schedule_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_timed_out_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_start_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.task_submit_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.execution_failed_event_details() {
        return pair(d.error(), d.cause());
    }
    if let Some(d) = event.execution_aborted_event_details() {
        return pair(d.error().or(Some("aborted")), d.cause());
    }
    if let Some(d) = event.execution_timed_out_event_details() {
        return pair(d.error().or(Some("States.Timeout")), d.cause());
    }
    None
}

/// The child's ARN a `startExecution.sync` task submitted.
pub fn child_started(event: &HistoryEvent) -> Option<String> {
    let details = event.task_submitted_event_details()?;
    if details.resource_type() != "states" || !details.resource().starts_with("startExecution") {
        return None;
    }
    let output: Value = serde_json::from_str(details.output()?).ok()?;
    output
        .get("ExecutionArn")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A failed child's own error and cause, from the `States.TaskFailed` of its parent's task
/// (whose cause is the child's description as JSON).
pub fn child_failure(error: &str, cause: &str) -> Option<(String, String)> {
    if error != "States.TaskFailed" {
        return None;
    }
    let described: Value = serde_json::from_str(cause).ok()?;
    let inner = described.get("Error").and_then(Value::as_str)?;
    let inner_cause = described.get("Cause").and_then(Value::as_str).unwrap_or("");
    Some((inner.to_string(), readable_cause(inner_cause)))
}

/// `approved by arn:…: looks good`.
pub fn approved(output: &Value) -> Option<String> {
    let who = output.get("approved_by").and_then(Value::as_str)?;
    Some(match output.get("comment").and_then(Value::as_str) {
        Some(comment) if !comment.is_empty() => format!("approved by {who}: {comment}"),
        _ => format!("approved by {who}"),
    })
}

/// Names a child execution by its input: `table t`, `bucket b (count)`, `segment 3 copy`.
pub fn child_label(input: &Value) -> Option<String> {
    let text = |pointer: &str| input.pointer(pointer).and_then(Value::as_str);
    if let Some(table) = text("/entry/target") {
        return Some(format!("table {table}"));
    }
    if let (Some(segment), Some(phase)) = (input.get("segment"), text("/phase")) {
        return Some(format!("segment {segment} {phase}"));
    }
    let bucket = text("/bucket/target")?;
    let counting = input.get("dry_run").and_then(Value::as_bool) == Some(true);
    Some(format!(
        "bucket {bucket}{}",
        if counting { " (count)" } else { "" }
    ))
}

/// A cause as people read it: a Lambda function's error document (`{"errorType": …,
/// "errorMessage": …}`, as Step Functions records a function's error) gives its message.
pub fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|doc| {
            doc.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| cause.to_string())
}

/// `text` on one line, cut at `max` characters.
pub fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_function_error_document_reads_as_its_message() {
        let cause = json!({"errorType": "Refused", "errorMessage": "max_delete 1 exceeded",
                           "trace": []});
        assert_eq!(readable_cause(&cause.to_string()), "max_delete 1 exceeded");
        assert_eq!(readable_cause("plain words"), "plain words");
        assert_eq!(readable_cause(r#"{"Error":"x"}"#), r#"{"Error":"x"}"#);
    }

    #[test]
    fn causes_are_kept_to_one_short_line() {
        assert_eq!(shorten("a\n  b\tc", 10), "a b c");
        assert_eq!(shorten(&"x".repeat(20), 5), "xxxxx…");
    }

    #[test]
    fn children_are_named_by_what_they_copy() {
        let table = json!({"entry": {"target": "efcms-test-alpha"}});
        assert_eq!(
            child_label(&table).as_deref(),
            Some("table efcms-test-alpha")
        );
        let segment = json!({"table": {"target": "t"}, "segment": 3, "phase": "clear"});
        assert_eq!(child_label(&segment).as_deref(), Some("segment 3 clear"));
        let counting = json!({"bucket": {"target": "test-documents"}, "dry_run": true});
        assert_eq!(
            child_label(&counting).as_deref(),
            Some("bucket test-documents (count)")
        );
        assert_eq!(child_label(&json!({"x": 1})), None);
    }

    #[test]
    fn only_a_failed_child_task_is_unwrapped() {
        let cause = json!({"Error": "Stopped", "Cause": json!({"errorMessage": "stop signal"}).to_string()});
        assert_eq!(
            child_failure("States.TaskFailed", &cause.to_string()),
            Some(("Stopped".to_string(), "stop signal".to_string()))
        );
        assert_eq!(child_failure("Throttled", &cause.to_string()), None);
        assert_eq!(child_failure("States.TaskFailed", "not json"), None);
    }
}
