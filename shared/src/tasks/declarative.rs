//! The promote steps on a declarative platform: the engine's moves, with the artifact bucket.
//!
//! - `export`: read the desired state (the source, or a stored bundle for a rollback) and keep it
//!   as the run's bundle, `bundles/<platform>/<run>/`.
//! - `plan`: read the target, plan with the guards, keep the whole plan as `…/<run>/plan.json`,
//!   and return a summary small enough for a state's payload. A plan writes nothing else, so an
//!   hourly drift check stores one small file.
//! - `apply`: plan again from the same bundle (the guards are checked again, and a re-run after a
//!   partial apply does only what is left), keep the target once as `…/<run>/before/` (the
//!   rollback source) just before the first change, then apply change by change.
//! - `verify`: plan again; anything left to do fails the run, naming it.
//!
//! This module is the only place that picks a connector by platform.

use serde_json::{Value, json};

use crate::aws::Session;
use crate::aws::objects::{get_bytes, put_bytes, uri};
use crate::connectors::compass::CompassConnector;
use crate::connectors::datafusion::{self, DataFusionConnector};
use crate::connectors::sesam::SesamConnector;
use crate::contract::{
    Bundle, DeclarativeApplied, DeclarativePlanOutput, Platform, PromoteRequest, RunsStarted,
};
use crate::declarative::plan::SUMMARY_CHANGES;
use crate::declarative::{
    self, Change, Declarative, Entity, Kinds, Plan, SourceState, State, store,
};
use crate::error::TaskError;

use super::budget::Budget;
use super::report::{format_rfc3339, unix_now};

/// Field diffs listed per change in a plan summary.
const SUMMARY_FIELDS: usize = 10;
/// The most bytes a plan summary takes in the state's payload (Step Functions allows 256 KiB in
/// all, and the report states carry the plan beside the results): changes beyond it are counted in
/// `more_changes` and read from `plan.json`.
const SUMMARY_BYTES: usize = 32 * 1024;

/// Whether `platform` is declarative (its promote steps run here).
pub fn is_declarative(platform: Platform) -> bool {
    matches!(
        platform,
        Platform::Sesam | Platform::Compass | Platform::DataFusion
    )
}

/// The declarative connectors: adding a platform is one variant here and one arm in each method
/// below, and nothing else in the steps.
enum Platforms {
    Sesam(SesamConnector),
    Compass(CompassConnector),
    DataFusion(DataFusionConnector),
}

/// The connector of a declarative request, with both sides' credentials checked.
async fn connect(request: &PromoteRequest, session: &Session) -> Result<Platforms, TaskError> {
    match request.platform {
        Platform::Sesam => Ok(Platforms::Sesam(
            SesamConnector::connect(request, session).await?,
        )),
        Platform::Compass => Ok(Platforms::Compass(
            CompassConnector::connect(request, session).await?,
        )),
        Platform::DataFusion => Ok(Platforms::DataFusion(
            DataFusionConnector::connect(request, session).await?,
        )),
        other => Err(TaskError::Mismatch(format!(
            "platform '{}' is not declarative",
            other.as_str()
        ))),
    }
}

impl Declarative for Platforms {
    fn refusals(&self, plan: &Plan, desired: &State) -> Vec<String> {
        match self {
            Platforms::Sesam(c) => c.refusals(plan, desired),
            Platforms::Compass(c) => c.refusals(plan, desired),
            Platforms::DataFusion(c) => c.refusals(plan, desired),
        }
    }

    fn concurrency(&self) -> usize {
        match self {
            Platforms::Sesam(c) => c.concurrency(),
            Platforms::Compass(c) => c.concurrency(),
            Platforms::DataFusion(c) => c.concurrency(),
        }
    }

    fn kinds(&self) -> Kinds {
        match self {
            Platforms::Sesam(c) => c.kinds(),
            Platforms::Compass(c) => c.kinds(),
            Platforms::DataFusion(c) => c.kinds(),
        }
    }

    async fn read_source(&self) -> Result<SourceState, TaskError> {
        match self {
            Platforms::Sesam(c) => c.read_source().await,
            Platforms::Compass(c) => c.read_source().await,
            Platforms::DataFusion(c) => c.read_source().await,
        }
    }

    async fn read_target(&self) -> Result<Vec<Entity>, TaskError> {
        match self {
            Platforms::Sesam(c) => c.read_target().await,
            Platforms::Compass(c) => c.read_target().await,
            Platforms::DataFusion(c) => c.read_target().await,
        }
    }

    async fn apply_change(
        &self,
        change: &Change,
        desired: Option<&Entity>,
    ) -> Result<(), TaskError> {
        match self {
            Platforms::Sesam(c) => c.apply_change(change, desired).await,
            Platforms::Compass(c) => c.apply_change(change, desired).await,
            Platforms::DataFusion(c) => c.apply_change(change, desired).await,
        }
    }
}

/// The request's selection, as the manifest records it.
fn selection(request: &PromoteRequest) -> Value {
    match request.platform {
        Platform::Compass => json!(request.compass),
        Platform::DataFusion => json!(request.datafusion),
        _ => json!(request.sesam),
    }
}

/// `bundles/<platform>/<run>/`.
fn run_prefix(request: &PromoteRequest, run_id: &str) -> String {
    format!("bundles/{}/{run_id}/", request.platform.as_str())
}

/// Reads the desired state and keeps it as the run's bundle.
pub async fn export(
    session: &Session,
    bucket: &str,
    request: &PromoteRequest,
    run_id: &str,
) -> Result<Bundle, TaskError> {
    let connector = connect(request, session).await?;
    let s3 = session.own_s3();
    let (entities, origin) = match &request.source.bundle {
        Some(text) => {
            let (from_bucket, prefix) = store::parse_uri(text, "source.bundle")?;
            let (entities, _) = store::load(&s3, &from_bucket, &prefix, None).await?;
            (entities, json!({"bundle": text}))
        }
        None => {
            let source = connector.read_source().await?;
            (source.entities, source.origin)
        }
    };
    let (state, duplicates) = State::from_entities(&connector.kinds(), entities);
    if !duplicates.is_empty() {
        return Err(TaskError::invalid(
            "source",
            format!(
                "holds the same entity more than once: {}",
                duplicates.join(", ")
            ),
        ));
    }
    let prefix = run_prefix(request, run_id);
    let about = json!({
        "run_id": run_id,
        "platform": request.platform,
        "created_at": format_rfc3339(unix_now()),
        "source": {"name": request.source.name, "origin": origin},
        "selection": selection(request),
    });
    let entities = state.into_entities();
    let owner = session.own_account_id().await?;
    let stored = store::save(&s3, bucket, &owner, &prefix, &entities, about).await?;
    tracing::info!(entities = entities.len(), bundle = %uri(bucket, &prefix), "bundle stored");
    Ok(Bundle {
        platform: request.platform,
        bucket: bucket.to_string(),
        manifest_key: format!("{prefix}manifest.json"),
        prefix,
        files: Vec::new(),
        items: Vec::new(),
        manifest_sha256: Some(stored.manifest_sha256),
    })
}

/// Both states, read fresh: the bundle's and the target's.
struct Sides {
    connector: Platforms,
    desired: State,
    current: State,
    current_entities: Vec<Entity>,
    origin: Value,
}

async fn sides(
    session: &Session,
    request: &PromoteRequest,
    bundle: &Bundle,
) -> Result<Sides, TaskError> {
    let connector = connect(request, session).await?;
    let kinds = connector.kinds();
    let (entities, manifest) = store::load(
        &session.own_s3(),
        &bundle.bucket,
        &bundle.prefix,
        bundle.manifest_sha256.as_deref(),
    )
    .await?;
    let desired = State::from_entities(&kinds, entities).0;
    let current_entities = connector.read_target().await?;
    let current = State::from_entities(&kinds, current_entities.clone()).0;
    Ok(Sides {
        connector,
        desired,
        current,
        current_entities,
        origin: manifest["source"]["origin"].clone(),
    })
}

/// The plan with every refusal: the engine's guards and the connector's own.
fn drafted(sides: &Sides, request: &PromoteRequest) -> Plan {
    let mut plan = declarative::draft(
        &sides.connector.kinds(),
        &sides.desired,
        &sides.current,
        &request.guards(),
    );
    let refusals = sides.connector.refusals(&plan, &sides.desired);
    plan.refused.extend(refusals);
    plan
}

fn plan_of(sides: &Sides, request: &PromoteRequest) -> Result<Plan, TaskError> {
    let plan = drafted(sides, request);
    plan.allowed()?;
    Ok(plan)
}

/// `bundles/<platform>/<run>/plan.json`.
fn plan_key(bundle: &Bundle) -> String {
    format!("{}plan.json", bundle.prefix)
}

/// Plans and keeps the whole plan; returns its summary.
pub async fn plan(
    session: &Session,
    request: &PromoteRequest,
    bundle: &Bundle,
) -> Result<DeclarativePlanOutput, TaskError> {
    let sides = sides(session, request, bundle).await?;
    let s3 = session.own_s3();
    let plan = drafted(&sides, request);
    let plan_key = plan_key(bundle);
    let body = serde_json::to_vec_pretty(&plan).unwrap_or_default();
    let owner = session.own_account_id().await?;
    put_bytes(
        &s3,
        &bundle.bucket,
        &owner,
        &plan_key,
        "application/json",
        body,
    )
    .await?;
    if !request.dry_run {
        plan.allowed()?;
    }
    for line in plan.describe().iter().take(200) {
        tracing::info!("{line}");
    }
    Ok(summary(
        request,
        plan,
        sides.origin,
        uri(&bundle.bucket, &plan_key),
        uri(&bundle.bucket, &before_prefix(bundle)),
    ))
}

/// `bundles/<platform>/<run>/before/`.
fn before_prefix(bundle: &Bundle) -> String {
    format!("{}before/", bundle.prefix)
}

/// Keeps the target as it is now as the run's `before/` set, once per run: the first apply call
/// takes it just before its first change, and later calls of the same run find it there.
async fn snapshot(
    session: &Session,
    request: &PromoteRequest,
    bundle: &Bundle,
    current: &[Entity],
) -> Result<(), TaskError> {
    let s3 = session.own_s3();
    let before = before_prefix(bundle);
    if store::exists(&s3, &bundle.bucket, &before).await? {
        return Ok(());
    }
    let about = json!({
        "platform": request.platform,
        "created_at": format_rfc3339(unix_now()),
        "source": {"name": request.target.name, "origin": {"snapshot_of": request.target.name}},
    });
    let owner = session.own_account_id().await?;
    store::save(&s3, &bundle.bucket, &owner, &before, current, about).await?;
    Ok(())
}

fn summary(
    request: &PromoteRequest,
    plan: Plan,
    source: Value,
    plan_uri: String,
    before: String,
) -> DeclarativePlanOutput {
    let more_changes = plan.changes.len().saturating_sub(SUMMARY_CHANGES) as u64;
    let changes = plan
        .changes
        .into_iter()
        .take(SUMMARY_CHANGES)
        .map(|mut change| {
            change.fields.truncate(SUMMARY_FIELDS);
            change
        })
        .collect();
    let mut output = DeclarativePlanOutput {
        platform: request.platform,
        target: request.target.name.clone(),
        source,
        nothing_to_do: plan.counts.changes() == 0 && plan.refused.is_empty(),
        refused: plan.refused.into_iter().take(SUMMARY_CHANGES).collect(),
        counts: plan.counts,
        changes,
        more_changes,
        kept: plan.kept.into_iter().take(SUMMARY_CHANGES).collect(),
        protected: plan.protected.into_iter().take(SUMMARY_CHANGES).collect(),
        plan: plan_uri,
        before,
    };
    while output.changes.len() > 1 && payload_bytes(&output) > SUMMARY_BYTES {
        output.changes.pop();
        output.more_changes += 1;
    }
    output
}

fn payload_bytes(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

/// Plans again and applies what is left, change by change.
pub async fn apply(
    session: &Session,
    request: &PromoteRequest,
    bundle: &Bundle,
    budget: Budget,
) -> Result<DeclarativeApplied, TaskError> {
    let sides = sides(session, request, bundle).await?;
    let plan = plan_of(&sides, request)?;
    let shown: Plan = serde_json::from_slice(
        &get_bytes(&session.own_s3(), &bundle.bucket, &plan_key(bundle)).await?,
    )
    .map_err(|e| TaskError::Mismatch(format!("the stored plan is not a plan: {e}")))?;
    let unshown = plan.not_in(&shown);
    if !unshown.is_empty() {
        return Err(TaskError::Refused(format!(
            "the target changed after the plan: {} would now also be changed, which the plan did not show; nothing was applied, run the promotion again to plan afresh",
            unshown.join(", ")
        )));
    }
    snapshot(session, request, bundle, &sides.current_entities).await?;
    let applied = declarative::apply::apply(
        &sides.connector,
        &sides.connector.kinds(),
        &plan,
        &sides.desired,
        || budget.exhausted(),
    )
    .await?;
    Ok(DeclarativeApplied {
        job: None,
        remaining: (plan.changes.len() - applied.len()) as u64,
        count: applied.len() as u64,
        applied: applied.into_iter().take(SUMMARY_CHANGES).collect(),
    })
}

/// Runs the pipelines a Data Fusion request names in `start` (after the apply and verify, or
/// when nothing needed applying) and returns the runs to wait for.
pub async fn start_runs(
    session: &Session,
    request: &PromoteRequest,
    run_id: &str,
) -> Result<RunsStarted, TaskError> {
    if request.platform != Platform::DataFusion {
        return Err(TaskError::Mismatch(format!(
            "platform '{}' starts no runs",
            request.platform.as_str()
        )));
    }
    let job = datafusion::start_runs(request, session, run_id).await?;
    Ok(RunsStarted { job })
}

/// Plans again: the target must now match the bundle.
pub async fn verify(
    session: &Session,
    request: &PromoteRequest,
    bundle: &Bundle,
) -> Result<Value, TaskError> {
    let sides = sides(session, request, bundle).await?;
    let plan = plan_of(&sides, request)?;
    if !plan.is_empty() {
        return Err(TaskError::VerificationFailed(
            plan.changes
                .iter()
                .take(SUMMARY_CHANGES)
                .map(|c| format!("{} still needs {}", c.key(), c.action.as_str()))
                .collect(),
        ));
    }
    Ok(json!({"verified": true, "entities": sides.desired.len(), "counts": plan.counts}))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::declarative::{Action, Change, FieldChange};

    #[test]
    fn a_plan_summary_stays_within_its_payload_budget() {
        let raw = json!({
            "platform": "sesam",
            "source": {"name": "main", "git": {"url": "https://github.com/acme/c.git", "ref": "main"}},
            "target": {"name": "prod", "sesam": {"url": "https://datahub-1.sesam.cloud/api",
                "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/config-s"}},
        });
        let request = PromoteRequest::parse(&raw).unwrap();
        let wide = "é".repeat(200);
        let field = FieldChange {
            path: format!("/{}", "k".repeat(100)),
            old: Some(wide.clone()),
            new: Some(wide),
        };
        let change = |i: usize| Change {
            action: Action::Update,
            kind: "pipe".into(),
            id: format!("p{i}"),
            fields: vec![field.clone(); 50],
        };
        let plan = Plan {
            changes: (0..500).map(change).collect(),
            ..Plan::default()
        };
        let out = summary(
            &request,
            plan,
            json!({}),
            "s3://b/plan.json".into(),
            "s3://b/before/".into(),
        );
        assert!(
            payload_bytes(&out) <= SUMMARY_BYTES,
            "{} bytes",
            payload_bytes(&out)
        );
        assert!(!out.changes.is_empty());
        assert_eq!(out.changes.len() as u64 + out.more_changes, 500);
        assert!(out.changes.iter().all(|c| c.fields.len() == SUMMARY_FIELDS));
    }
}
