//! `ferry rollback RUN`: a promotion undone from the `before/` bundle it kept (the target as it
//! was just before its first change). The bundle is found in the run's output
//! (`results.plan.before`) or, for a run that failed, in its Plan task's output; it must exist
//! (its `manifest.json`); the input is the run's own with `source` replaced by the bundle. The
//! rollback is planned first; it runs only with `--yes` or a "yes" typed on a terminal.

use std::io::IsTerminal;
use std::time::SystemTime;

use serde_json::{Value, json};
use shared::contract::PromoteRequest;
use shared::declarative::store::parse_uri;

use crate::app::Ctx;
use crate::error::{CliError, Result};
use crate::follow::Tracker;
use crate::input;
use crate::launch;
use crate::machines::{Machine, unique_name};
use crate::output::{EXIT_CHANGES, EXIT_OK, Report};
use crate::steps;
use crate::watch;

/// The state whose output names `before`.
const PLAN_STATE: &str = "Plan";

/// The `before/` bundle a promotion's run output or history names.
pub fn before_uri(output: Option<&str>, history: Option<&Tracker>) -> Option<String> {
    let from_output = output
        .and_then(|o| serde_json::from_str::<Value>(o).ok())
        .and_then(|o| {
            // A run's output holds its plan; a dry run's output is its plan.
            o.pointer("/results/plan/before")
                .or_else(|| o.get("before"))
                .cloned()
        });
    let from_history = || {
        history
            .and_then(|t| t.output_of(PLAN_STATE))
            .and_then(steps::payload)
            .and_then(|plan| plan.get("before").cloned())
    };
    from_output
        .or_else(from_history)
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|uri| !uri.is_empty())
}

/// The rollback's input: the run's own, from `before` as its source, not a dry run.
pub fn rollback_input(original: &Value, before: &str) -> Result<Value> {
    rollable(original)?;
    let platform = original
        .get("platform")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = original
        .pointer("/source/name")
        .cloned()
        .unwrap_or_else(|| json!("before"));
    let mut input = original.clone();
    input["source"] = json!({"name": name, "bundle": before});
    input["dry_run"] = json!(false);
    if platform == "compass" && input.pointer("/compass/context").is_none() {
        // A bundle source does not name the Open Connectors host; the run's own source did.
        if let Some(context) = PromoteRequest::parse(original)
            .ok()
            .and_then(|r| r.compass.map(|c| c.context))
        {
            input["compass"]["context"] = json!(context);
        }
    }
    input::validate(Machine::Promote, &input, "the rollback input")?;
    Ok(input)
}

/// Refuses a Spark promotion: it keeps no `before/` bundle.
fn rollable(original: &Value) -> Result<()> {
    if original.get("platform").and_then(Value::as_str) == Some("spark") {
        return Err(CliError::new(
            "no_rollback",
            "a Spark promotion keeps no before/ bundle (an import adds or replaces versions): roll back by promoting the earlier version",
        ));
    }
    Ok(())
}

/// Where the `before/` bundle's manifest is: bucket and key.
pub fn manifest_of(before: &str) -> Result<(String, String)> {
    let (bucket, prefix) = parse_uri(before, "before").map_err(|e| {
        CliError::new(
            "no_rollback",
            format!("the run's before/ is not usable: {e}"),
        )
    })?;
    Ok((bucket, format!("{prefix}manifest.json")))
}

/// `ferry rollback RUN`.
pub async fn rollback(ctx: &Ctx, run: &str, yes: bool) -> Result<Report> {
    let execution = ctx.machines.execution(&ctx.aws.sfn, run).await?;
    let name = execution.name().unwrap_or(run).to_string();
    let original: Value = execution
        .input()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null);
    if Machine::of_input(&original) != Machine::Promote {
        return Err(CliError::new(
            "no_rollback",
            format!("run {name} is not a promotion: only promote runs can be rolled back"),
        ));
    }
    rollable(&original)?;
    let history = match execution.output() {
        Some(_) => None,
        None => Some(watch::read(&ctx.aws.sfn, &name, execution.execution_arn()).await?),
    };
    let before = before_uri(execution.output(), history.as_ref());
    let Some(before) = before else {
        return Ok(nothing(ctx, &name, "it never planned a change"));
    };
    if !exists(ctx, &before).await? {
        return Ok(nothing(
            ctx,
            &name,
            &format!("no before/ bundle at {before}"),
        ));
    }
    let input = rollback_input(&original, &before)?;
    ctx.out.say(format!("rolling back run {name} to {before}"));
    let now = SystemTime::now();
    let mut plan = launch::plan(
        ctx,
        Machine::Promote,
        &input,
        &unique_name("promote-rollback-plan", now),
    )
    .await?;
    plan.command = "rollback";
    if plan.exit_code != EXIT_CHANGES {
        if plan.exit_code == EXIT_OK {
            ctx.out
                .say("nothing to roll back: the target already matches before/");
        }
        return Ok(plan);
    }
    if !(yes || confirmed(&name).await) {
        ctx.out
            .say("not rolled back: pass --yes, or answer yes on a terminal, to apply this plan");
        plan.reason = "not_confirmed".to_string();
        return Ok(plan);
    }
    let mut report = launch::run(
        ctx,
        Machine::Promote,
        &input,
        &unique_name("promote-rollback", SystemTime::now()),
        false,
    )
    .await?;
    report.command = "rollback";
    Ok(report)
}

fn nothing(ctx: &Ctx, name: &str, why: &str) -> Report {
    ctx.out.say(format!("run {name} changed nothing: {why}"));
    let mut report = Report::new("rollback", EXIT_OK, "nothing_to_roll_back");
    report.run = Some(name.to_string());
    report
}

async fn exists(ctx: &Ctx, before: &str) -> Result<bool> {
    let (bucket, key) = manifest_of(before)?;
    match ctx
        .aws
        .s3
        .head_object()
        .bucket(&bucket)
        .key(&key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(CliError::aws(&format!("HeadObject s3://{bucket}/{key}"), e)),
    }
}

/// Asks on the terminal; false without one.
async fn confirmed(name: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("roll back the target of run {name} as planned above? type yes to apply: ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await;
    matches!(answer, Ok(Ok(line)) if line.trim() == "yes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::History;
    use aws_sdk_sfn::types::HistoryEventType as Ev;

    const BEFORE: &str = "s3://artifacts/bundles/sesam/r1/before/";

    fn sesam() -> Value {
        json!({
            "dry_run": false,
            "platform": "sesam",
            "source": {"name": "main", "git": {"url": "https://git.example.org/acme/config.git", "ref": "main",
                       "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/git"}},
            "target": {"name": "prod", "sesam": {"url": "https://datahub-1234.sesam.cloud/api",
                       "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/sesam"}},
            "sesam": {"prune": true, "max_delete": 5},
            "approval": {"required": true}
        })
    }

    #[test]
    fn the_rollback_is_the_run_input_from_its_before_bundle() {
        let input = rollback_input(&sesam(), BEFORE).unwrap();
        assert_eq!(input["source"], json!({"name": "main", "bundle": BEFORE}));
        assert_eq!(input["dry_run"], json!(false));
        assert_eq!(input["target"], sesam()["target"]);
        assert_eq!(input["sesam"], sesam()["sesam"]);
        assert_eq!(
            input["approval"],
            sesam()["approval"],
            "a rollback waits for the same approval"
        );
    }

    #[test]
    fn a_compass_rollback_keeps_the_open_connectors_host_as_its_context() {
        let original = json!({
            "platform": "compass",
            "source": {"name": "oc-eu", "open_connectors": {"url": "https://api.openconnectors.example.org/elements/api-v2",
                       "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/oc", "tags": ["kyma"]}},
            "target": {"name": "compass-prod", "compass": {"director_url": "https://compass.example.org/director/graphql",
                       "token_url": "https://oauth2.example.org/oauth2/token", "tenant": "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae",
                       "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/compass"}},
            "compass": {"application_prefix": "oc", "prune": true, "max_delete": 10}
        });
        PromoteRequest::parse(&original).expect("a valid compass input");
        let input = rollback_input(&original, "s3://artifacts/bundles/compass/r1/before/").unwrap();
        assert_eq!(
            input["compass"]["context"],
            json!("api.openconnectors.example.org")
        );
        assert_eq!(
            input["source"]["bundle"],
            json!("s3://artifacts/bundles/compass/r1/before/")
        );
    }

    #[test]
    fn spark_and_malformed_rollbacks_are_refused() {
        let spark = json!({"platform": "spark", "source": {"name": "uat"}});
        assert!(
            rollback_input(&spark, BEFORE)
                .unwrap_err()
                .message
                .contains("Spark")
        );
        let bad = rollback_input(&sesam(), "https://not-s3/").unwrap_err();
        assert_eq!(bad.reason, "invalid_input");
        assert!(bad.message.contains("source.bundle"), "{}", bad.message);
    }

    #[test]
    fn before_comes_from_the_output_else_from_the_plan_task() {
        let output = json!({"results": {"plan": {"before": BEFORE}}}).to_string();
        assert_eq!(before_uri(Some(&output), None).as_deref(), Some(BEFORE));
        let dry_run = json!({"before": BEFORE, "nothing_to_do": false}).to_string();
        assert_eq!(before_uri(Some(&dry_run), None).as_deref(), Some(BEFORE));

        let mut h = History::new("{}");
        h.enter(Ev::TaskStateEntered, PLAN_STATE, "{}")
            .lambda_scheduled("{}");
        h.lambda_succeeded(&json!({"before": BEFORE, "nothing_to_do": false}).to_string());
        h.exit(Ev::TaskStateExited, PLAN_STATE);
        h.failed("ApplyFailed", "pipe/x: 500");
        let mut tracker = Tracker::root("r1", "arn");
        for event in h.events() {
            tracker.push(&event);
        }
        assert_eq!(before_uri(None, Some(&tracker)).as_deref(), Some(BEFORE));
        assert_eq!(before_uri(None, Some(&Tracker::root("r2", "arn"))), None);
    }

    #[test]
    fn the_manifest_sits_in_the_before_folder() {
        assert_eq!(
            manifest_of(BEFORE).unwrap(),
            (
                "artifacts".to_string(),
                "bundles/sesam/r1/before/manifest.json".to_string()
            )
        );
        assert!(manifest_of("s3://artifacts").is_err());
    }
}
