//! Approving or rejecting a run that waits in `AwaitApproval`: its task token is found in the
//! run's history (the latest task scheduled by that state: a `TaskScheduled` event's `parameters`
//! hold `Payload.task_token`; a Lambda-ARN task records `LambdaFunctionScheduled` with the token in
//! its `input`), then answered with `SendTaskSuccess` or `SendTaskFailure`. The token is never
//! printed.

use serde_json::{Value, json};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{CliError, Result};
use crate::follow::{APPROVAL_STATE, Tracker};

/// The error a rejection fails the run with.
pub const REJECTED: &str = "Rejected";

/// The task token of the approval `tracker`'s run waits on; `status` is the run's status.
pub fn waiting_token(run: &str, status: &str, tracker: &Tracker) -> Result<String> {
    let not_waiting = |why: String| {
        CliError::new(
            "not_waiting",
            format!("run {run} is not waiting for approval: {why}"),
        )
    };
    if status != "RUNNING" {
        return Err(not_waiting(format!("it is {status}")));
    }
    let Some(entry) = tracker.latest(APPROVAL_STATE) else {
        let now = tracker.open_states();
        return Err(not_waiting(if now.is_empty() {
            format!("it has not reached {APPROVAL_STATE}")
        } else {
            format!(
                "it has not reached {APPROVAL_STATE} (it is in {})",
                now.join(", ")
            )
        }));
    };
    if !entry.open {
        return Err(not_waiting("its approval was already answered".to_string()));
    }
    if !entry.task_open {
        return Err(not_waiting(format!(
            "{APPROVAL_STATE} has not asked for an approval yet; try again in a moment"
        )));
    }
    entry
        .scheduled
        .as_deref()
        .and_then(token_in)
        .ok_or_else(|| {
            not_waiting(format!(
                "the task of {APPROVAL_STATE} carries no task_token"
            ))
        })
}

/// The token in a scheduled task's parameters (`Payload.task_token`) or a Lambda's input
/// (`task_token`).
pub fn token_in(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    ["/Payload/task_token", "/task_token"]
        .iter()
        .find_map(|p| value.pointer(p).and_then(Value::as_str))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The output an approval sends: who and why, landing at `$.approval`.
pub fn approval_output(who: &str, comment: Option<&str>) -> String {
    json!({"approved_by": who, "comment": comment}).to_string()
}

/// The cause a rejection fails the run with.
pub fn rejection_cause(reason: &str, who: &str) -> String {
    format!("{reason} (by {who})")
}

/// Who answers: the caller's ARN, else `$USER`, else `unknown`.
pub async fn who(sts: &aws_sdk_sts::Client, user: Option<String>) -> String {
    let caller = sts.get_caller_identity().send().await.ok();
    caller
        .and_then(|c| c.arn().map(str::to_string))
        .or(user)
        .unwrap_or_else(|| "unknown".to_string())
}

/// Approves the waiting run.
pub async fn approve(sfn: &aws_sdk_sfn::Client, token: &str, output: String) -> Result<()> {
    sfn.send_task_success()
        .task_token(token)
        .output(output)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| answer_failed("SendTaskSuccess", token, e))
}

/// Rejects the waiting run.
pub async fn reject(sfn: &aws_sdk_sfn::Client, token: &str, cause: String) -> Result<()> {
    sfn.send_task_failure()
        .task_token(token)
        .error(REJECTED)
        .cause(cause)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| answer_failed("SendTaskFailure", token, e))
}

/// An answer that did not land; the token is cut out of whatever the service said.
fn answer_failed<E>(call: &str, token: &str, error: SdkError<E, HttpResponse>) -> CliError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let gone = matches!(error.code(), Some("TaskTimedOut" | "TaskDoesNotExist"));
    let mut failed = CliError::aws(call, error);
    if gone {
        failed
            .message
            .push_str(" (the approval timed out or was answered already)");
    }
    failed.message = failed.message.replace(token, "(task token)");
    failed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::History;
    use aws_sdk_sfn::types::HistoryEventType as Ev;

    fn tracked(history: &History) -> Tracker {
        let mut tracker = Tracker::root("r1", "arn");
        for event in history.events() {
            tracker.push(&event);
        }
        tracker
    }

    fn reached(history: &mut History) {
        history
            .enter(Ev::TaskStateEntered, "Plan", "{}")
            .lambda_scheduled("{}");
        history
            .lambda_succeeded("{}")
            .exit(Ev::TaskStateExited, "Plan");
        history.enter(Ev::TaskStateEntered, APPROVAL_STATE, "{}");
    }

    #[test]
    fn the_token_of_a_waitfortasktoken_task_is_found() {
        let mut h = History::new("{}");
        reached(&mut h);
        let parameters = r#"{"FunctionName":"arn:aws:lambda:us-east-1:1:function:report","Payload":{"run_id":"r1","task_token":"TOKEN-1"}}"#;
        h.task_scheduled("lambda", "invoke.waitForTaskToken", parameters);
        assert_eq!(
            waiting_token("r1", "RUNNING", &tracked(&h)).unwrap(),
            "TOKEN-1"
        );
    }

    #[test]
    fn the_token_of_a_lambda_arn_task_is_found_in_its_input() {
        let mut h = History::new("{}");
        reached(&mut h);
        h.lambda_scheduled(r#"{"run_id":"r1","task_token":"TOKEN-2"}"#);
        assert_eq!(
            waiting_token("r1", "RUNNING", &tracked(&h)).unwrap(),
            "TOKEN-2"
        );
    }

    #[test]
    fn a_retried_approval_task_waits_on_its_newest_token() {
        let mut h = History::new("{}");
        reached(&mut h);
        h.task_scheduled(
            "lambda",
            "invoke.waitForTaskToken",
            r#"{"Payload":{"task_token":"OLD"}}"#,
        );
        h.task_failed("Lambda.ServiceException", "try again");
        h.task_scheduled(
            "lambda",
            "invoke.waitForTaskToken",
            r#"{"Payload":{"task_token":"NEW"}}"#,
        );
        assert_eq!(waiting_token("r1", "RUNNING", &tracked(&h)).unwrap(), "NEW");
    }

    #[test]
    fn a_run_that_is_not_waiting_says_why_and_never_shows_a_token() {
        let mut h = History::new("{}");
        h.enter(Ev::TaskStateEntered, "Plan", "{}");
        let error = waiting_token("r1", "RUNNING", &tracked(&h)).unwrap_err();
        assert_eq!(error.reason, "not_waiting");
        assert_eq!(
            error.message,
            "run r1 is not waiting for approval: it has not reached AwaitApproval (it is in Plan)"
        );

        h.exit(Ev::TaskStateExited, "Plan")
            .enter(Ev::TaskStateEntered, APPROVAL_STATE, "{}");
        h.task_scheduled(
            "lambda",
            "invoke.waitForTaskToken",
            r#"{"Payload":{"task_token":"TOKEN-SECRET"}}"#,
        );
        let ended = waiting_token("r1", "SUCCEEDED", &tracked(&h)).unwrap_err();
        assert_eq!(
            ended.message,
            "run r1 is not waiting for approval: it is SUCCEEDED"
        );

        h.task_succeeded(r#"{"approved_by":"ana"}"#);
        h.exit(Ev::TaskStateExited, APPROVAL_STATE);
        h.enter(Ev::TaskStateEntered, "ImportService", "{}");
        let answered = waiting_token("r1", "RUNNING", &tracked(&h)).unwrap_err();
        assert!(
            answered
                .message
                .ends_with("its approval was already answered")
        );
        for message in [ended.message, answered.message] {
            assert!(!message.contains("TOKEN-SECRET"), "{message}");
        }
    }

    #[test]
    fn answers_name_who_gave_them() {
        assert_eq!(
            serde_json::from_str::<Value>(&approval_output(
                "arn:aws:iam::1:user/ana",
                Some("ship it")
            ))
            .unwrap(),
            json!({"approved_by": "arn:aws:iam::1:user/ana", "comment": "ship it"})
        );
        assert_eq!(
            serde_json::from_str::<Value>(&approval_output("ana", None)).unwrap(),
            json!({"approved_by": "ana", "comment": null})
        );
        assert_eq!(
            rejection_cause("drops 40 pipes", "ana"),
            "drops 40 pipes (by ana)"
        );
        assert_eq!(token_in(r#"{"Payload":{"task_token":""}}"#), None);
        assert_eq!(token_in("not json"), None);
    }
}
