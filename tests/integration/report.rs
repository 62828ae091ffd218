//! report: the run manifest in the artifact bucket and the `ferry.refresh` event on EventBridge.

use serde_json::{Value, json};
use shared::config::FunctionConfig;
use shared::contract::{ReportInput, RunError, RunOutcome, ToggleAction, ToggleStreamsInput};
use shared::tasks::report::{CONSUMERS_NOT_RESUMED, report};
use shared::tasks::toggle_streams::toggle_streams;

use ferry_tests::fixtures::accounts;
use ferry_tests::{aws, test_env, unique};

use crate::config;

/// An artifact bucket and a queue receiving every `ferry` event, in ferry's own account.
struct Sinks {
    bucket: String,
    queue_url: String,
    config: FunctionConfig,
}

async fn sinks() -> Sinks {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let bucket = unique("ferry-artifacts");
    let (_, _, own) = accounts(&session);
    own.create_bucket(&bucket).await;
    let base = ferry_tests::own_config().await;
    let sqs = aws_sdk_sqs::Client::new(&base);
    let queue = unique("ferry-events");
    let queue_url = sqs
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let events = aws_sdk_eventbridge::Client::new(&base);
    let rule = unique("ferry-runs");
    events
        .put_rule()
        .name(&rule)
        .event_pattern(r#"{"source": ["ferry"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(format!("arn:aws:sqs:us-east-1:123456789012:{queue}"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut config = config();
    config.artifact_bucket = Some(bucket.clone());
    Sinks {
        bucket,
        queue_url,
        config,
    }
}

fn hours_ago(hours: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    shared::tasks::report::format_rfc3339((now - hours * 3600) as i64)
}

/// The `ferry` events of one run that reached the queue (every test's rule sees every test's events).
async fn events(queue_url: &str, run_id: &str) -> Vec<Value> {
    let base = ferry_tests::own_config().await;
    let out = aws_sdk_sqs::Client::new(&base)
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    out.messages()
        .iter()
        .map(|m| serde_json::from_str::<Value>(m.body().unwrap()).unwrap())
        .filter(|e| e["detail"]["run_id"] == run_id)
        .collect()
}

#[tokio::test]
async fn a_failed_run_is_written_to_the_manifest_and_announced() {
    let aws = aws().await;
    let sinks = sinks().await;
    let run_id = unique("monthly");
    let input = ReportInput {
        run_id: run_id.clone(),
        machine: "refresh".into(),
        outcome: RunOutcome::Failed,
        started_at: hours_ago(23),
        paused_at: Some(hours_ago(22)),
        request: None,
        plan: Some(
            json!({"run_id": run_id, "warnings": [], "masking": {"key_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k"}}),
        ),
        results: json!({"tables": [{"items_written": 10}], "spark": {"client_secret": "do-not-store"}}),
        error: Some(RunError {
            error: "JobFailed".into(),
            cause: "FAILED: AccessDeniedException".into(),
        }),
        task_token: None,
    };

    let out = report(&aws, &sinks.config, input).await.unwrap();

    assert_eq!(
        out.manifest,
        format!("s3://{}/runs/refresh/{run_id}/manifest.json", sinks.bucket)
    );
    assert!(
        out.warnings.iter().any(|w| w.contains("24 hours")),
        "a 22-hour pause is close to the retention: {:?}",
        out.warnings
    );
    let object = aws
        .session("check")
        .own_s3()
        .get_object()
        .bucket(&sinks.bucket)
        .key(format!("runs/refresh/{run_id}/manifest.json"))
        .send()
        .await
        .unwrap();
    let manifest: Value =
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(manifest["outcome"], "FAILED");
    assert_eq!(manifest["error"]["error"], "JobFailed");
    assert_eq!(manifest["results"]["tables"][0]["items_written"], 10);
    assert_eq!(manifest["results"]["spark"]["client_secret"], "<redacted>");
    let duration = manifest["duration_seconds"].as_i64().unwrap();
    assert!(
        (23 * 3600..23 * 3600 + 60).contains(&duration),
        "{duration}"
    );

    let received = events(&sinks.queue_url, &run_id).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["source"], "ferry");
    assert_eq!(received[0]["detail-type"], "ferry.refresh");
    assert_eq!(received[0]["detail"]["outcome"], "FAILED");
    assert_eq!(received[0]["detail"]["run_id"], run_id.as_str());
}

#[tokio::test]
async fn without_an_artifact_bucket_the_report_names_the_setting() {
    let aws = aws().await;
    let input = ReportInput {
        run_id: unique("run"),
        machine: "refresh".into(),
        outcome: RunOutcome::Succeeded,
        started_at: "2026-12-01T03:00:00Z".into(),
        paused_at: None,
        request: None,
        plan: None,
        results: Value::Null,
        error: None,
        task_token: None,
    };

    let err = report(&aws, &config(), input).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("FERRY_ARTIFACT_BUCKET"), "{err}");
}

/// The object at `s3://bucket/key` as JSON.
async fn manifest_at(bucket: &str, key: &str) -> Value {
    let object = aws()
        .await
        .session("check")
        .own_s3()
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap()
}

#[tokio::test]
async fn a_consumer_the_resume_could_not_enable_fails_the_run_by_name_in_manifest_and_event() {
    let aws = aws().await;
    let sinks = sinks().await;
    let session = aws.session("fixtures");
    let (_, t, _) = accounts(&session);
    let stream = t
        .create_table(&unique("efcms-test-alpha"), true)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            t.create_consumer(&unique("streams_test"), &stream, true)
                .await,
        );
    }
    let run_id = unique("monthly");
    let toggle = |action| ToggleStreamsInput {
        run_id: run_id.clone(),
        target: test_env(),
        action,
        mapping_ids: ids.clone(),
    };
    toggle_streams(&aws, &config(), toggle(ToggleAction::Off))
        .await
        .unwrap();
    t.lambda()
        .await
        .delete_event_source_mapping()
        .uuid(&ids[1])
        .send()
        .await
        .unwrap();
    let resumed = toggle_streams(&aws, &config(), toggle(ToggleAction::On))
        .await
        .unwrap();

    // As the state machine would report it if it missed the failed resume: the report still fails the run.
    let out = report(
        &aws,
        &sinks.config,
        ReportInput {
            run_id: run_id.clone(),
            machine: "refresh".into(),
            outcome: RunOutcome::Succeeded,
            started_at: hours_ago(1),
            paused_at: Some(hours_ago(1)),
            request: None,
            plan: Some(json!({"pause": ids, "warnings": []})),
            results: json!({"resume": {"toggle": resumed, "polls": 0}}),
            error: None,
            task_token: None,
        },
    )
    .await
    .unwrap();

    assert_eq!(out.outcome, RunOutcome::Failed);
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("1 stream consumer(s) stayed paused") && w.contains(&ids[1])),
        "{:?}",
        out.warnings
    );
    let manifest = manifest_at(
        &sinks.bucket,
        &format!("runs/refresh/{run_id}/manifest.json"),
    )
    .await;
    assert_eq!(manifest["outcome"], "FAILED");
    assert_eq!(manifest["error"]["error"], CONSUMERS_NOT_RESUMED);
    assert_eq!(
        manifest["consumers_paused"],
        json!([{"mapping_id": ids[1], "reason": "no longer exists: deleted, or replaced by a deploy, during the run"}])
    );
    let received = events(&sinks.queue_url, &run_id).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["detail"]["outcome"], "FAILED");
    assert_eq!(
        received[0]["detail"]["consumers_paused"][0]["mapping_id"],
        ids[1].as_str()
    );
}
