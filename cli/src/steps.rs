//! One line about a step's output, for a progress line: the live counts of `copy-table` and
//! `sync-bucket` (continuing or done), a job's status, a plan's counts, where a bundle went.
//! Outputs are recognised by their shape, read with ferry's own (strict) payload types.

use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::contract::{
    Bundle, CopyTableOutput, DeclarativeApplied, DeclarativePlanOutput, ExportStarted,
    ImportStarted, JobStatus, Plan, PromotePlan, ReportOutput, RunsStarted, SetupDeployTableOutput,
    StartGlueOutput, StopWritersOutput, SyncBucketOutput, SyncPhase, ToggleStreamsOutput,
    Verification,
};
use shared::numbers::thousands;

use crate::clock::bytes;

/// A task's output as the task returned it (a `lambda:invoke` task's `Payload` unwrapped).
pub fn payload(output: &str) -> Option<Value> {
    let value: Value = serde_json::from_str(output).ok()?;
    match value.get("Payload") {
        Some(inner) if value.get("StatusCode").is_some() => Some(inner.clone()),
        _ => Some(value),
    }
}

/// One line about a step's output, when its shape is one of ferry's steps'.
pub fn detail(output: &Value) -> Option<String> {
    let describers: [fn(&Value) -> Option<String>; 4] =
        [refresh_data, refresh_control, promote, report];
    describers.iter().find_map(|describe| describe(output))
}

fn as_<T: DeserializeOwned>(value: &Value) -> Option<T> {
    serde_json::from_value(value.clone()).ok()
}

fn progress(done: bool) -> &'static str {
    if done { "done" } else { "continuing" }
}

fn refresh_data(output: &Value) -> Option<String> {
    if let Some(copy) = as_::<CopyTableOutput>(output) {
        let c = &copy.progress.counts;
        let mut parts = vec![format!("{} read", thousands(c.items_read))];
        if c.items_written > 0 || c.items_deleted == 0 {
            parts.push(format!("{} written", thousands(c.items_written)));
        }
        if c.items_deleted > 0 {
            parts.push(format!("{} deleted", thousands(c.items_deleted)));
        }
        if c.key_collisions > 0 {
            parts.push(format!("{} key collisions", thousands(c.key_collisions)));
        }
        if c.retries > 0 {
            parts.push(format!("{} retries", thousands(c.retries)));
        }
        return Some(format!(
            "{} after {} invocation(s), {}",
            parts.join(", "),
            c.invocations,
            progress(copy.done)
        ));
    }
    let sync = as_::<SyncBucketOutput>(output)?;
    let c = &sync.progress.counts;
    let counted = format!(
        "{} source and {} target objects listed, {} to copy, {} to delete",
        thousands(c.source_objects),
        thousands(c.target_objects),
        thousands(c.to_copy),
        thousands(c.to_delete)
    );
    let line = match sync.progress.phase {
        SyncPhase::Count => counted,
        SyncPhase::Apply => format!(
            "{} of {} copied ({}), {} of {} deleted",
            thousands(c.copied),
            thousands(c.to_copy),
            bytes(c.bytes_copied),
            thousands(c.deleted),
            thousands(c.to_delete)
        ),
    };
    Some(format!("{line}, {}", progress(sync.done)))
}

fn refresh_control(output: &Value) -> Option<String> {
    if let Some(status) = as_::<JobStatus>(output) {
        return Some(format!("{}: {}", wire(&status.state), status.detail));
    }
    if let Some(toggle) = as_::<ToggleStreamsOutput>(output) {
        return Some(toggle.summary);
    }
    if let Some(stop) = as_::<StopWritersOutput>(output) {
        return Some(stop.summary);
    }
    if let Some(glue) = as_::<StartGlueOutput>(output) {
        let how = if glue.started {
            "started"
        } else {
            "already running for this run"
        };
        return Some(format!("{} {how}", glue.job.describe()));
    }
    if let Some(deploy) = as_::<SetupDeployTableOutput>(output) {
        return Some(format!(
            "{} setting(s) written to {}",
            deploy.written, deploy.table
        ));
    }
    let plan = as_::<Plan>(output)?;
    Some(format!(
        "{} table(s), {} bucket(s), {} consumer(s) to pause{}",
        plan.tables.len(),
        plan.buckets.len(),
        plan.pause.len(),
        if plan.warnings.is_empty() {
            String::new()
        } else {
            format!(", {} warning(s)", plan.warnings.len())
        }
    ))
}

fn promote(output: &Value) -> Option<String> {
    if let Some(plan) = as_::<DeclarativePlanOutput>(output) {
        return Some(crate::render::declarative_counts(&plan));
    }
    if let Some(plan) = as_::<PromotePlan>(output) {
        return Some(format!(
            "{} service(s) to import into tenant {}",
            plan.changes.len(),
            plan.tenant
        ));
    }
    if let Some(started) = as_::<ExportStarted>(output) {
        return Some(match (&started.bundle, &started.job) {
            (Some(bundle), _) => format!("exported at once to {}", bundle_uri(bundle)),
            (None, Some(job)) => format!("{} started", job.describe()),
            (None, None) => "started".to_string(),
        });
    }
    if let Some(bundle) = as_::<Bundle>(output) {
        return Some(format!(
            "bundle {} ({} files)",
            bundle_uri(&bundle),
            bundle.files.len()
        ));
    }
    if let Some(applied) = as_::<DeclarativeApplied>(output) {
        return Some(format!(
            "{} change(s) applied, {} left",
            applied.count, applied.remaining
        ));
    }
    if let Some(started) = as_::<ImportStarted>(output) {
        return Some(format!("{} started", started.job.describe()));
    }
    if let Some(runs) = as_::<RunsStarted>(output) {
        return Some(format!("{} started", runs.job.describe()));
    }
    if let Some(verified) = as_::<Verification>(output) {
        return Some(format!("{} service(s) verified", verified.services.len()));
    }
    let entities = output
        .get("entities")
        .filter(|_| output.get("verified") == Some(&Value::Bool(true)))?;
    Some(format!(
        "the target matches the source's {entities} entities"
    ))
}

fn report(output: &Value) -> Option<String> {
    let report = as_::<ReportOutput>(output)?;
    Some(format!(
        "{}, manifest {}",
        wire(&report.outcome),
        report.manifest
    ))
}

/// `s3://bucket/prefix`.
pub fn bundle_uri(bundle: &Bundle) -> String {
    format!("s3://{}/{}", bundle.bucket, bundle.prefix)
}

/// An enum as it travels in payloads (`RUNNING`, `DRY_RUN`).
pub fn wire(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use shared::contract::{CopyCounts, CopyProgress, JobState, SyncCounts, SyncProgress};

    fn copy(done: bool, written: u64, deleted: u64) -> Value {
        serde_json::to_value(CopyTableOutput {
            done,
            progress: CopyProgress {
                continuation: (!done).then(|| "sealed".to_string()),
                counts: CopyCounts {
                    items_read: 12_345,
                    items_written: written,
                    items_deleted: deleted,
                    invocations: 2,
                    ..CopyCounts::default()
                },
            },
        })
        .unwrap()
    }

    fn sync(phase: SyncPhase, done: bool) -> Value {
        serde_json::to_value(SyncBucketOutput {
            done,
            progress: SyncProgress {
                phase,
                counts: SyncCounts {
                    source_objects: 1_000,
                    target_objects: 900,
                    to_copy: 120,
                    to_delete: 20,
                    copied: 60,
                    bytes_copied: 5 * 1024 * 1024,
                    deleted: 0,
                    ..SyncCounts::default()
                },
                ..SyncProgress::default()
            },
            transfer: "server_side".to_string(),
            sample_copies: vec![],
            sample_deletes: vec![],
        })
        .unwrap()
    }

    #[test]
    fn copy_table_counts_say_whether_the_segment_continues() {
        assert_eq!(
            detail(&copy(false, 12_000, 0)).unwrap(),
            "12,345 read, 12,000 written after 2 invocation(s), continuing"
        );
        assert_eq!(
            detail(&copy(true, 0, 300)).unwrap(),
            "12,345 read, 300 deleted after 2 invocation(s), done"
        );
    }

    #[test]
    fn sync_bucket_counts_follow_its_phase() {
        assert_eq!(
            detail(&sync(SyncPhase::Count, true)).unwrap(),
            "1,000 source and 900 target objects listed, 120 to copy, 20 to delete, done"
        );
        assert_eq!(
            detail(&sync(SyncPhase::Apply, false)).unwrap(),
            "60 of 120 copied (5.0 MiB), 0 of 20 deleted, continuing"
        );
    }

    #[test]
    fn a_job_status_reads_as_aws_says_it() {
        let status = serde_json::to_value(JobStatus {
            state: JobState::Running,
            detail: "glue run jr_1 RUNNING".to_string(),
        })
        .unwrap();
        assert_eq!(detail(&status).unwrap(), "RUNNING: glue run jr_1 RUNNING");
    }

    #[test]
    fn a_lambda_invoke_payload_is_unwrapped_and_unknown_shapes_say_nothing() {
        let wrapped = json!({"StatusCode": 200, "Payload": copy(true, 1, 0)}).to_string();
        assert!(
            detail(&payload(&wrapped).unwrap())
                .unwrap()
                .ends_with("done")
        );
        assert_eq!(detail(&json!({"approved_by": "me"})), None);
        assert_eq!(payload("not json"), None);
    }
}
