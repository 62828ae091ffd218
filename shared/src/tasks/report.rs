//! `report`: write the run manifest to the artifact bucket and announce the outcome on EventBridge.
//!
//! The manifest (`runs/<machine>/<run id>/manifest.json`) holds the request with secret-looking
//! values redacted, the plan, every step's counts, the outcome, the error and the durations. The event
//! (`source` = `ferry`, `detail-type` = `ferry.<machine>`) lets users route outcomes to mail or chat.
//! It warns when stream consumers stayed paused close to DynamoDB Streams' 24-hour retention.
//! A refresh that left any consumer paused (the resume could not enable it, or gave up waiting) is
//! FAILED, whatever the state machine said: the manifest and the event name every such consumer
//! and why (`consumers_paused`).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::aws::Aws;
use crate::aws::objects::{self, put_bytes};
use crate::config::FunctionConfig;
use crate::contract::{
    MappingNote, ReportInput, ReportOutput, RunError, RunOutcome, ToggleAction, ToggleStreamsOutput,
};
use crate::error::TaskError;

/// DynamoDB Streams keep records this long.
pub const STREAM_RETENTION_SECONDS: i64 = 24 * 3600;
/// A pause longer than this is reported as close to the retention.
pub const PAUSE_WARNING_SECONDS: i64 = 20 * 3600;
/// The `source` of ferry's events.
pub const EVENT_SOURCE: &str = "ferry";
/// The error of a run that left stream consumers paused.
pub const CONSUMERS_NOT_RESUMED: &str = "ConsumersNotResumed";

/// Writes the manifest, sends the event, returns where both went.
pub async fn report(
    aws: &Aws,
    config: &FunctionConfig,
    input: ReportInput,
) -> Result<ReportOutput, TaskError> {
    let bucket = config.require_artifact_bucket("report")?.to_string();
    let now = unix_now();
    let paused = stayed_paused(&input);
    let input = failed_if_paused(input, &paused);
    let mut warnings = warnings(&input, now);
    warnings.extend(paused_warning(&paused));
    let key = format!("runs/{}/{}/manifest.json", input.machine, input.run_id);
    let manifest = manifest(&input, now, &warnings, &paused);
    let session = aws.session(&input.run_id);
    let body = serde_json::to_vec_pretty(&manifest).expect("a JSON value serialises");
    let owner = session.own_account_id().await?;
    put_bytes(
        &session.own_s3(),
        &bucket,
        &owner,
        &key,
        "application/json",
        body,
    )
    .await?;

    let uri = objects::uri(&bucket, &key);
    let events = session.own_eventbridge();
    if input.outcome == RunOutcome::AwaitingApproval {
        let detail = approval(&input, &uri, now);
        send_event(&events, APPROVAL_EVENT, &detail).await?;
        tracing::info!(run_id = %input.run_id, manifest = %uri, "run waits for approval");
        return Ok(ReportOutput {
            outcome: input.outcome,
            manifest: uri,
            event: APPROVAL_EVENT.into(),
            warnings,
        });
    }
    let detail_type = format!("ferry.{}", input.machine);
    let detail = json!({
        "run_id": input.run_id,
        "outcome": input.outcome,
        "manifest": uri,
        "duration_seconds": manifest["duration_seconds"],
        "counts": input.plan.as_ref().and_then(|p| p.get("counts")),
        "error": input.error.as_ref().map(|e| json!({"error": e.error, "cause": e.cause})),
        "consumers_paused": paused,
        "warnings": warnings,
    });
    send_event(&events, &detail_type, &detail).await?;
    if let Some(drift) = drift(&input, &uri) {
        send_event(&events, DRIFT_EVENT, &drift).await?;
    }
    tracing::info!(run_id = %input.run_id, outcome = ?input.outcome, manifest = %uri, "run reported");
    Ok(ReportOutput {
        outcome: input.outcome,
        manifest: uri,
        event: detail_type,
        warnings,
    })
}

async fn send_event(
    client: &aws_sdk_eventbridge::Client,
    detail_type: &str,
    detail: &Value,
) -> Result<(), TaskError> {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(EVENT_SOURCE)
        .detail_type(detail_type)
        .detail(detail.to_string())
        .build();
    let out = client
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(|e| TaskError::aws("PutEvents", detail_type, e.into_service_error()))?;
    if out.failed_entry_count > 0 {
        let reason = out
            .entries()
            .iter()
            .filter_map(|e| e.error_message())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(TaskError::Mismatch(format!(
            "EventBridge refused the {detail_type} event: {reason}"
        )));
    }
    Ok(())
}

/// The detail-type of a drift report.
pub const DRIFT_EVENT: &str = "ferry.drift";

/// Changes a drift event lists.
const DRIFT_CHANGES: usize = 10;

/// A dry run of a declarative promotion whose plan has changes: the target drifted from the
/// source. The detail names the platform, both sides, the counts and the first changed entities.
fn drift(input: &ReportInput, manifest: &str) -> Option<Value> {
    let plan = input.plan.as_ref()?;
    if input.outcome != RunOutcome::DryRun || plan.get("nothing_to_do") != Some(&Value::Bool(false))
    {
        return None;
    }
    let changed: Vec<Value> = plan["changes"]
        .as_array()
        .map(|c| {
            c.iter()
                .take(DRIFT_CHANGES)
                .map(|c| json!({"action": c["action"], "kind": c["kind"], "id": c["id"]}))
                .collect()
        })
        .unwrap_or_default();
    Some(json!({
        "run_id": input.run_id,
        "platform": plan["platform"],
        "source": side(input, "source"),
        "target": side(input, "target"),
        "counts": plan["counts"],
        "refused": plan.get("refused"),
        "changes": changed,
        "plan": plan["plan"],
        "manifest": manifest,
    }))
}

/// The name of one side (`source` or `target`) of the run's request (a promotion), else of its
/// plan (a refresh).
fn side(input: &ReportInput, name: &str) -> Option<Value> {
    requested(input, &format!("/{name}/name")).cloned()
}

/// A field of the request, else of the plan.
fn requested<'a>(input: &'a ReportInput, pointer: &str) -> Option<&'a Value> {
    [&input.request, &input.plan]
        .into_iter()
        .find_map(|doc| doc.as_ref().and_then(|d| d.pointer(pointer)))
}

/// The detail-type of a run waiting for a person.
pub const APPROVAL_EVENT: &str = "ferry.approval";

/// A run that waits for approval: what it would change (platform, sides, counts, the plan's
/// location), until when it waits, and the commands that answer it. The task token is not in it:
/// `ferry approve` reads it from the execution's history, which only Step Functions callers see.
fn approval(input: &ReportInput, manifest: &str, now: i64) -> Value {
    let plan = input.plan.as_ref();
    let timeout = requested(input, "/approval/timeout_seconds").and_then(Value::as_i64);
    let run = &input.run_id;
    json!({
        "run_id": run,
        "machine": input.machine,
        "outcome": input.outcome,
        "platform": plan.and_then(|p| p.get("platform")),
        "source": side(input, "source"),
        "target": side(input, "target"),
        "counts": plan.and_then(|p| p.get("counts")),
        "plan": plan.and_then(|p| p.get("plan")),
        "manifest": manifest,
        "timeout_seconds": timeout,
        "expires_at": timeout.map(|t| format_rfc3339(now + t)),
        "approve": format!("ferry approve {run}"),
        "reject": format!("ferry reject {run} --reason <why>"),
    })
}

/// The stream consumers the run left paused, each with the reason: those the resume's last answer
/// (`results.resume.toggle`) lists as failed or still settling or, when the resume failed before
/// it answered (`results.resume_error`), every mapping of the plan's pause list.
fn stayed_paused(input: &ReportInput) -> Vec<MappingNote> {
    let toggle = input
        .results
        .pointer("/resume/toggle")
        .and_then(|t| serde_json::from_value::<ToggleStreamsOutput>(t.clone()).ok())
        .filter(|t| t.action == ToggleAction::On);
    if let Some(toggle) = toggle {
        let gave_up = toggle.pending.into_iter().map(|n| MappingNote {
            reason: format!("{} when the run stopped waiting", n.reason),
            ..n
        });
        return toggle.failed.into_iter().chain(gave_up).collect();
    }
    let Some(error) = input.results.get("resume_error") else {
        return Vec::new();
    };
    let reason = format!(
        "not resumed: {}: {}",
        error["Error"].as_str().unwrap_or("unknown error"),
        error["Cause"].as_str().unwrap_or("")
    );
    input
        .plan
        .as_ref()
        .and_then(|p| p.get("pause"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|id| MappingNote {
            mapping_id: id.to_string(),
            reason: reason.clone(),
        })
        .collect()
}

/// A run that left consumers paused is FAILED, with an error saying so if it had none.
fn failed_if_paused(mut input: ReportInput, paused: &[MappingNote]) -> ReportInput {
    if paused.is_empty() {
        return input;
    }
    input.outcome = RunOutcome::Failed;
    input.error.get_or_insert_with(|| RunError {
        error: CONSUMERS_NOT_RESUMED.into(),
        cause: format!("{} stream consumer(s) stayed paused", paused.len()),
    });
    input
}

/// The warning naming every consumer left paused and what to do about it.
fn paused_warning(paused: &[MappingNote]) -> Option<String> {
    if paused.is_empty() {
        return None;
    }
    let listed: Vec<String> = paused
        .iter()
        .map(|n| format!("{} ({})", n.mapping_id, n.reason))
        .collect();
    Some(format!(
        "{} stream consumer(s) stayed paused: {}. Resume them by hand (aws lambda update-event-source-mapping --uuid <mapping> --enabled): until then the next refresh refuses to start unless its input says \"streams\": {{\"resume_leftover\": true}}",
        paused.len(),
        listed.join("; ")
    ))
}

/// The manifest document.
fn manifest(input: &ReportInput, now: i64, warnings: &[String], stayed: &[MappingNote]) -> Value {
    let started = parse_rfc3339(&input.started_at);
    let paused = input.paused_at.as_deref().and_then(parse_rfc3339);
    json!({
        "run_id": input.run_id,
        "machine": input.machine,
        "outcome": input.outcome,
        "started_at": input.started_at,
        "finished_at": format_rfc3339(now),
        "duration_seconds": started.map(|s| now - s),
        "paused_at": input.paused_at,
        "paused_seconds": paused.map(|p| now - p),
        "request": input.request.as_ref().map(redact),
        "plan": input.plan.as_ref().map(redact),
        "results": redact(&input.results),
        "error": input.error.as_ref().map(|e| json!({"error": e.error, "cause": e.cause})),
        "consumers_paused": stayed,
        "warnings": warnings,
    })
}

/// Warnings for people: the plan's own, and a pause close to the stream retention.
fn warnings(input: &ReportInput, now: i64) -> Vec<String> {
    let mut warnings: Vec<String> = input
        .plan
        .as_ref()
        .and_then(|p| p.get("warnings"))
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(paused) = input.paused_at.as_deref().and_then(parse_rfc3339) {
        let seconds = now - paused;
        if seconds >= PAUSE_WARNING_SECONDS {
            warnings.push(format!(
                "stream consumers were paused for {:.1} hours; DynamoDB Streams keep records for 24 hours, so records older than that never reached the consumers: reindex the target",
                seconds as f64 / 3600.0
            ));
        }
    }
    if input.outcome == RunOutcome::Failed && input.error.is_none() {
        warnings.push("the run failed without an error record".into());
    }
    warnings
}

/// Replaces the values of secret-looking fields (`*secret*`, `*token*`, `*password*`, `*api_key*`,
/// `*private_key*`) with `<redacted>`; ARNs of secrets and URLs (`token_url`) stay, they are not secret.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let secret_name = ["secret", "token", "password", "api_key", "private_key"]
                        .iter()
                        .any(|s| lower.contains(s))
                        && !lower.ends_with("_arn")
                        && !lower.ends_with("_url");
                    let v = if secret_name && !v.is_null() {
                        Value::String("<redacted>".into())
                    } else {
                        redact(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Seconds since the epoch, now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the epoch of an RFC 3339 timestamp (`2026-12-01T03:00:00.123Z`, `…+01:00`).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(zone_at);
    let mut hms = clock.splitn(3, ':');
    let h: i64 = hms.next()?.parse().ok()?;
    let min: i64 = hms.next()?.parse().ok()?;
    let s: i64 = hms.next()?.split('.').next()?.parse().ok()?;
    let offset = match zone.chars().next() {
        None | Some('Z' | 'z') => 0,
        Some(sign) => {
            let (oh, om) = zone[1..].split_once(':')?;
            let minutes = oh.parse::<i64>().ok()? * 60 + om.parse::<i64>().ok()?;
            if sign == '-' {
                -minutes * 60
            } else {
                minutes * 60
            }
        }
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60 + s - offset)
}

/// An RFC 3339 UTC timestamp of `seconds` since the epoch.
pub fn format_rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_honour_offsets() {
        let t = parse_rfc3339("2026-12-01T03:00:00.123Z").unwrap();
        assert_eq!(format_rfc3339(t), "2026-12-01T03:00:00Z");
        assert_eq!(parse_rfc3339("2026-12-01T04:00:00+01:00"), Some(t));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(format_rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_rfc3339("not a time"), None);
    }

    fn input(paused_at: Option<String>) -> ReportInput {
        ReportInput {
            run_id: "r".into(),
            machine: "refresh".into(),
            outcome: RunOutcome::Succeeded,
            started_at: "2026-12-01T03:00:00Z".into(),
            paused_at,
            request: None,
            plan: Some(json!({"warnings": ["target table 'x' has no enabled stream"]})),
            results: json!({}),
            error: None,
            task_token: None,
        }
    }

    #[test]
    fn an_approval_names_the_plan_the_deadline_and_the_commands_but_never_the_token() {
        let raw = json!({
            "run_id": "promote-1", "machine": "promote", "outcome": "AWAITING_APPROVAL",
            "started_at": "2026-12-01T03:00:00Z",
            "request": {"source": {"name": "main"}, "target": {"name": "prod"},
                        "approval": {"required": true, "timeout_seconds": 3600}},
            "plan": {"platform": "sesam", "counts": {"create": 1}, "plan": "s3://b/plan.json"},
            "results": {}, "task_token": "AQCEAAAAKgAAAA-secret-token"
        });
        let input: ReportInput = serde_json::from_value(raw).unwrap();
        assert!(!format!("{input:?}").contains("secret-token"));
        assert!(
            !serde_json::to_string(&input)
                .unwrap()
                .contains("secret-token")
        );

        let detail = approval(&input, "s3://b/m.json", 951_782_400);

        assert_eq!(detail["platform"], "sesam");
        assert_eq!(detail["source"], "main");
        assert_eq!(detail["target"], "prod");
        assert_eq!(detail["counts"]["create"], 1);
        assert_eq!(detail["plan"], "s3://b/plan.json");
        assert_eq!(detail["expires_at"], "2000-02-29T01:00:00Z");
        assert_eq!(detail["approve"], "ferry approve promote-1");
        assert!(!detail.to_string().contains("secret-token"));
    }

    #[test]
    fn warns_when_the_pause_nears_the_stream_retention() {
        let now = unix_now();
        let long = input(Some(format_rfc3339(now - 21 * 3600)));
        let w = warnings(&long, now);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[1].contains("paused for 21.0 hours"), "{w:?}");
        let short = input(Some(format_rfc3339(now - 3600)));
        assert_eq!(warnings(&short, now).len(), 1);
    }

    #[test]
    fn a_dry_run_with_changes_is_drift() {
        let mut dry = input(None);
        dry.machine = "promote".into();
        dry.outcome = RunOutcome::DryRun;
        dry.request = Some(json!({"source": {"name": "main"}, "target": {"name": "prod"}}));
        dry.plan = Some(json!({"platform": "sesam", "nothing_to_do": false,
            "counts": {"create": 1, "update": 0, "delete": 0},
            "changes": [{"action": "create", "kind": "pipe", "id": "p", "fields": []}],
            "plan": "s3://b/plan.json"}));
        let event = drift(&dry, "s3://b/m.json").unwrap();
        assert_eq!(event["target"], "prod");
        assert_eq!(
            event["changes"][0],
            json!({"action": "create", "kind": "pipe", "id": "p"})
        );
        dry.plan.as_mut().unwrap()["nothing_to_do"] = json!(true);
        assert!(drift(&dry, "s3://b/m.json").is_none());
        dry.outcome = RunOutcome::Succeeded;
        dry.plan.as_mut().unwrap()["nothing_to_do"] = json!(false);
        assert!(drift(&dry, "s3://b/m.json").is_none());
    }

    fn resumed(failed: &[&str], pending: &[&str]) -> Value {
        let note = |id: &&str| MappingNote {
            mapping_id: id.to_string(),
            reason: "is Disabling".into(),
        };
        serde_json::to_value(ToggleStreamsOutput {
            action: ToggleAction::On,
            changed: vec!["m-ok".into()],
            unchanged: Vec::new(),
            reached: vec!["m-ok".into()],
            pending: pending.iter().map(note).collect(),
            failed: failed.iter().map(note).collect(),
            settled: pending.is_empty(),
            summary: String::new(),
            job: crate::contract::JobHandle::Mappings {
                environment: crate::contract::Environment {
                    name: "test".into(),
                    role_arn: None,
                    region: "us-east-1".into(),
                },
                mapping_ids: vec!["m-ok".into()],
                want: crate::contract::MappingState::Enabled,
            },
        })
        .unwrap()
    }

    #[test]
    fn consumers_left_paused_fail_the_run_naming_each() {
        let mut run = input(None);
        run.results = json!({"resume": {"toggle": resumed(&["m-gone"], &["m-slow"]), "polls": 30}});
        let paused = stayed_paused(&run);
        let ids: Vec<&str> = paused.iter().map(|n| n.mapping_id.as_str()).collect();
        assert_eq!(ids, ["m-gone", "m-slow"]);
        assert!(paused[1].reason.contains("when the run stopped waiting"));
        let run = failed_if_paused(run, &paused);
        assert_eq!(run.outcome, RunOutcome::Failed);
        assert_eq!(run.error.as_ref().unwrap().error, CONSUMERS_NOT_RESUMED);
        assert!(
            paused_warning(&paused)
                .unwrap()
                .contains("m-gone (is Disabling)")
        );

        let mut clean = input(None);
        clean.results = json!({"resume": {"toggle": resumed(&[], &[])}});
        assert!(stayed_paused(&clean).is_empty());
        assert_eq!(failed_if_paused(clean, &[]).outcome, RunOutcome::Succeeded);
    }

    #[test]
    fn a_resume_that_never_answered_leaves_the_whole_pause_list_named() {
        let mut run = input(None);
        run.outcome = RunOutcome::Failed;
        run.plan = Some(json!({"pause": ["m-1", "m-2"]}));
        run.results =
            json!({"resume_error": {"Error": "Unauthorized", "Cause": "AccessDeniedException"}});
        let paused = stayed_paused(&run);
        assert_eq!(paused.len(), 2);
        assert!(
            paused[0]
                .reason
                .contains("Unauthorized: AccessDeniedException"),
            "{paused:?}"
        );
    }

    #[test]
    fn secret_values_are_redacted_but_arns_kept() {
        let doc = json!({"spark": {"auth_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:x",
                                   "client_secret": "s3cr3t", "nested": [{"bearer_token": "t0k"}]}});
        let text = redact(&doc).to_string();
        assert!(!text.contains("s3cr3t") && !text.contains("t0k"), "{text}");
        assert!(text.contains("arn:aws:secretsmanager"), "{text}");
    }
}
