//! What a finished run did, read from its output: a dry run's plan, a promotion's plan counts,
//! what was applied and verified, a refresh's items and objects per table and bucket, and where
//! the bundle, the plan, the `before/` snapshot and the manifest are. `history` shows the short
//! form; `run` the lines; `--output json` the counts.

use serde::Deserialize;
use serde_json::{Value, json};
use shared::contract::{
    Bundle, CopyCounts, DeclarativeApplied, ImportStarted, JobStatus, ReportOutput,
    SetupDeployTableOutput, SyncCounts, Verification,
};
use shared::numbers::thousands;

use crate::clock::bytes;
use crate::render::{AnyPlan, declarative_counts};
use crate::steps::{bundle_uri, wire};

/// A run's output, summarised.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Lines for people.
    pub lines: Vec<String>,
    /// Counts for scripts.
    pub counts: Option<Value>,
    /// One short phrase (`history`).
    pub short: String,
    /// Where things were kept: `bundle`, `plan`, `before`, `manifest`.
    pub locations: Vec<(&'static str, String)>,
    /// The plan, when the output is one (a dry run) or holds one.
    pub plan: Option<AnyPlan>,
}

/// Summarises an execution's output (the JSON text).
pub fn of_output(output: &str) -> Summary {
    let Ok(value) = serde_json::from_str::<Value>(output) else {
        return Summary::default();
    };
    if let Some(plan) = AnyPlan::parse(&value) {
        return dry_run(plan);
    }
    let mut summary = if value.pointer("/results/data").is_some() || value.get("plan").is_some() {
        refresh(&value)
    } else {
        promote(&value)
    };
    report(&value, &mut summary);
    summary
}

fn dry_run(plan: AnyPlan) -> Summary {
    Summary {
        lines: plan.lines(),
        counts: Some(plan.counts()),
        short: format!("dry run: {} change(s)", thousands(plan.changes())),
        locations: plan.locations(),
        plan: Some(plan),
    }
}

fn get<T: for<'de> Deserialize<'de>>(value: &Value, pointer: &str) -> Option<T> {
    serde_json::from_value(value.pointer(pointer)?.clone()).ok()
}

fn promote(output: &Value) -> Summary {
    let mut summary = Summary::default();
    if let Some(bundle) = get::<Bundle>(output, "/results/bundle") {
        summary.locations.push(("bundle", bundle_uri(&bundle)));
    }
    let plan = output.pointer("/results/plan").and_then(AnyPlan::parse);
    let applied = get::<DeclarativeApplied>(output, "/results/import");
    let mut counts = plan.as_ref().map_or(json!({}), AnyPlan::counts);
    match &plan {
        Some(AnyPlan::Declarative(p)) => {
            summary
                .lines
                .push(format!("plan: {}", declarative_counts(p)));
            summary.locations.push(("plan", p.plan.clone()));
            if p.counts.changes() > 0 {
                summary.locations.push(("before", p.before.clone()));
            }
            summary.short = format!(
                "+{} ~{} -{}",
                p.counts.create, p.counts.update, p.counts.delete
            );
        }
        Some(AnyPlan::Spark(p)) => {
            summary.lines.push(format!(
                "plan: {} service(s) into tenant {}",
                p.changes.len(),
                p.tenant
            ));
            summary.short = format!("{} service(s)", p.changes.len());
        }
        _ => {}
    }
    if let Some(applied) = &applied {
        summary
            .lines
            .push(format!("applied: {} change(s)", thousands(applied.count)));
        summary
            .lines
            .extend(applied.applied.iter().map(|a| format!("  {a}")));
        counts["applied"] = json!(applied.count);
    } else if let Some(import) = get::<ImportStarted>(output, "/results/import") {
        summary
            .lines
            .push(format!("imported: {}", import.job.describe()));
    }
    verified(output, &mut summary);
    if let Some(runs) = get::<JobStatus>(output, "/results/runs_status") {
        summary.lines.push(format!(
            "pipeline runs: {}: {}",
            wire(&runs.state),
            runs.detail
        ));
    }
    summary.counts = Some(counts);
    summary.plan = plan;
    summary
}

fn verified(output: &Value, summary: &mut Summary) {
    if let Some(verification) = get::<Verification>(output, "/results/verification") {
        summary.lines.push(format!(
            "verified: {} service(s) hold the planned versions",
            verification.services.len()
        ));
    } else if let Some(entities) = output.pointer("/results/verification/entities") {
        summary.lines.push(format!(
            "verified: the target matches the source's {entities} entities"
        ));
    }
}

/// One table's result, as `refresh-table` ends (`GlueTableDone` or `ScanTableDone`).
#[derive(Debug, Deserialize)]
struct TableResult {
    table: String,
    engine: String,
    #[serde(default)]
    job_run_id: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    cleared: Vec<SegmentResult>,
    #[serde(default)]
    copied: Vec<SegmentResult>,
}

/// One segment phase's counts (`CopySegmentDone`).
#[derive(Debug, Deserialize)]
struct SegmentResult {
    counts: CopyCounts,
}

/// One bucket's result (`BucketDone`).
#[derive(Debug, Deserialize)]
struct BucketResult {
    bucket: String,
    prefix: String,
    counts: SyncCounts,
}

fn refresh(output: &Value) -> Summary {
    let mut summary = Summary::default();
    let tables: Vec<TableResult> = get(output, "/results/data/tables").unwrap_or_default();
    let buckets: Vec<BucketResult> = get(output, "/results/data/buckets").unwrap_or_default();
    let (mut written, mut deleted) = (0, 0);
    for table in &tables {
        let copied = table.copied.iter().map(|s| &s.counts);
        let cleared: u64 = table.cleared.iter().map(|s| s.counts.items_deleted).sum();
        let (read, wrote, collisions) = copied.fold((0, 0, 0), |(r, w, c), s| {
            (r + s.items_read, w + s.items_written, c + s.key_collisions)
        });
        written += wrote;
        deleted += cleared;
        summary.lines.push(match table.engine.as_str() {
            "glue" => format!(
                "table {}: glue run {}: {}",
                table.table,
                table.job_run_id.as_deref().unwrap_or("?"),
                table.detail.as_deref().unwrap_or("")
            ),
            _ => format!(
                "table {}: {} item(s) written of {} read, {} cleared{}",
                table.table,
                thousands(wrote),
                thousands(read),
                thousands(cleared),
                if collisions > 0 {
                    format!(", {} key collision(s)", thousands(collisions))
                } else {
                    String::new()
                }
            ),
        });
    }
    let mut sync = SyncCounts::default();
    for bucket in &buckets {
        let c = &bucket.counts;
        sync.copied += c.copied;
        sync.deleted += c.deleted;
        sync.bytes_copied += c.bytes_copied;
        summary.lines.push(format!(
            "bucket {}/{}: {} copied ({}), {} deleted",
            bucket.bucket,
            bucket.prefix,
            thousands(c.copied),
            bytes(c.bytes_copied),
            thousands(c.deleted)
        ));
    }
    if let Some(deploy) = get::<SetupDeployTableOutput>(output, "/results/deploy_table") {
        summary.lines.push(format!(
            "deploy table {}: {} setting(s) written",
            deploy.table, deploy.written
        ));
    }
    if let Some(resumed) = output
        .pointer("/results/resume/toggle/summary")
        .and_then(Value::as_str)
    {
        summary.lines.push(format!("consumers: {resumed}"));
    }
    let warnings = output.pointer("/plan/warnings").and_then(Value::as_array);
    summary.lines.extend(
        warnings
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|w| format!("warning: {w}")),
    );
    summary.counts = Some(json!({
        "tables": tables.len(), "items_written": written, "items_cleared": deleted,
        "buckets": buckets.len(), "objects_copied": sync.copied, "objects_deleted": sync.deleted,
        "bytes_copied": sync.bytes_copied,
    }));
    summary.short = format!(
        "{} table(s), {} item(s); {} bucket(s), {} copied, {} deleted",
        tables.len(),
        thousands(written),
        buckets.len(),
        thousands(sync.copied),
        thousands(sync.deleted)
    );
    summary
}

/// The locations for people: `bundle: s3://…`, `whole plan: s3://…/plan.json`, ….
pub fn location_lines(locations: &[(&'static str, String)]) -> Vec<String> {
    locations
        .iter()
        .map(|(what, uri)| {
            let label = match *what {
                "plan" => "whole plan",
                "before" => "before (the rollback source)",
                other => other,
            };
            format!("{label}: {uri}")
        })
        .collect()
}

fn report(output: &Value, summary: &mut Summary) {
    let Some(report) = get::<ReportOutput>(output, "/report") else {
        return;
    };
    // The report repeats the plan's warnings: each is printed once.
    for warning in report.warnings {
        let line = format!("warning: {warning}");
        if !summary.lines.contains(&line) {
            summary.lines.push(line);
        }
    }
    summary.locations.push(("manifest", report.manifest));
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::contract::{
        BundleItem, ChangeAction, PlannedChange, Platform, PromotePlan, RunOutcome,
    };

    fn report_output() -> Value {
        serde_json::to_value(ReportOutput {
            outcome: RunOutcome::Succeeded,
            manifest: "s3://artifacts/runs/refresh/r1/manifest.json".to_string(),
            event: "ferry.refresh".to_string(),
            warnings: vec!["consumers were paused for 3 hours".to_string()],
        })
        .unwrap()
    }

    #[test]
    fn a_refresh_sums_its_segments_and_buckets() {
        let segment = |written: u64, deleted: u64| {
            json!({"segment": 0, "counts": serde_json::to_value(CopyCounts {
                items_read: written, items_written: written, items_deleted: deleted, invocations: 1,
                ..CopyCounts::default() }).unwrap()})
        };
        let bucket_counts = SyncCounts {
            copied: 10,
            deleted: 2,
            bytes_copied: 2048,
            ..SyncCounts::default()
        };
        let output = json!({
            "plan": serde_json::to_value(crate::render::tests::refresh_plan()).unwrap(),
            "results": {"data": {
                "tables": [
                    {"table": "efcms-test-alpha", "engine": "scan",
                     "cleared": [segment(0, 40), segment(0, 60)], "copied": [segment(700, 0), segment(300, 0)]},
                    {"table": "efcms-test-big", "engine": "glue", "job_run_id": "jr_1", "polls": 3, "detail": "SUCCEEDED in 5m"}
                ],
                "buckets": [{"bucket": "test-documents", "prefix": "", "transfer": "server_side",
                             "counts": serde_json::to_value(bucket_counts).unwrap()}]
            }},
            "report": report_output(),
        });
        // The report repeats the plan's warning before its own.
        let mut output = output;
        output["report"]["warnings"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!("the deploy table has no stream"));
        let summary = of_output(&output.to_string());
        assert_eq!(
            summary.lines,
            [
                "table efcms-test-alpha: 1,000 item(s) written of 1,000 read, 100 cleared",
                "table efcms-test-big: glue run jr_1: SUCCEEDED in 5m",
                "bucket test-documents/: 10 copied (2.0 KiB), 2 deleted",
                "warning: the deploy table has no stream",
                "warning: consumers were paused for 3 hours",
            ]
        );
        assert_eq!(
            summary.short,
            "2 table(s), 1,000 item(s); 1 bucket(s), 10 copied, 2 deleted"
        );
        let counts = summary.counts.unwrap();
        assert_eq!(
            (
                counts["items_written"].clone(),
                counts["objects_deleted"].clone()
            ),
            (json!(1000), json!(2))
        );
        assert_eq!(
            summary.locations,
            [(
                "manifest",
                "s3://artifacts/runs/refresh/r1/manifest.json".to_string()
            )]
        );
    }

    #[test]
    fn a_spark_promotion_names_its_bundle_and_services() {
        let bundle = Bundle {
            platform: Platform::Spark,
            bucket: "artifacts".to_string(),
            prefix: "bundles/spark/r1/".to_string(),
            manifest_key: "bundles/spark/r1/manifest.json".to_string(),
            files: vec![],
            items: vec![BundleItem {
                uri: "pricing/quote".to_string(),
                versions: vec!["1.0.0".to_string()],
            }],
            manifest_sha256: None,
        };
        let plan = PromotePlan {
            target: "prod".to_string(),
            tenant: "acme".to_string(),
            changes: vec![PlannedChange {
                source: "pricing/quote".to_string(),
                target: "pricing/quote".to_string(),
                action: ChangeAction::Create,
                existing_latest: None,
                new_versions: vec!["1.0.0".to_string()],
            }],
        };
        let output = json!({"input": {}, "started": {}, "results": {"bundle": bundle, "plan": plan,
                            "verification": {"services": []}}, "report": report_output()});
        let summary = of_output(&output.to_string());
        assert_eq!(summary.lines[0], "plan: 1 service(s) into tenant acme");
        assert_eq!(
            summary.lines[1],
            "verified: 0 service(s) hold the planned versions"
        );
        assert_eq!(summary.short, "1 service(s)");
        assert_eq!(
            summary.locations[0],
            ("bundle", "s3://artifacts/bundles/spark/r1/".to_string())
        );
        assert_eq!(summary.locations.last().unwrap().0, "manifest");
    }

    #[test]
    fn a_dry_run_output_is_its_plan() {
        let plan = serde_json::to_value(crate::render::tests::refresh_plan()).unwrap();
        let summary = of_output(&plan.to_string());
        assert_eq!(summary.short, "dry run: 2 change(s)");
        assert!(matches!(summary.plan, Some(AnyPlan::Refresh(_))));
    }

    #[test]
    fn locations_are_labelled_for_people() {
        let lines = location_lines(&[
            ("plan", "s3://a/bundles/sesam/r1/plan.json".to_string()),
            ("before", "s3://a/bundles/sesam/r1/before/".to_string()),
            (
                "manifest",
                "s3://a/runs/promote/r1/manifest.json".to_string(),
            ),
        ]);
        assert_eq!(
            lines,
            [
                "whole plan: s3://a/bundles/sesam/r1/plan.json",
                "before (the rollback source): s3://a/bundles/sesam/r1/before/",
                "manifest: s3://a/runs/promote/r1/manifest.json",
            ]
        );
    }

    #[test]
    fn no_output_summarises_to_nothing() {
        assert_eq!(of_output(""), Summary::default());
    }
}
