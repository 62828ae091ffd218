//! Data Fusion: namespaces, compute profiles, pipelines and preferences promoted from one Cloud
//! Data Fusion instance to another, on the declarative engine; named pipelines run afterwards.
//!
//! Both sides are read the same way, for the same selection: each selected namespace, the
//! pipelines of those namespaces that the globs select (applications of the pipeline artifacts
//! only), the system profiles other than the built-in ones and each namespace's own profiles
//! (`profiles`), and the namespaces' and pipelines' own preferences (`preferences`). Pipelines
//! are compared as `{artifact, config, description}` with the configuration parsed and the
//! studio's noise stripped; the source's are rewritten to the target's CDAP version first, so an
//! identical pipeline is never deployed again (CDAP mints a new version on every deploy). Every
//! change is one upsert (PUT) or one delete; a profile is disabled before it is deleted. Both
//! secrets are read and checked (shape, key, host binding) before either instance is called.

pub mod cdap;
pub mod model;
pub mod runs;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use serde_json::json;

use self::cdap::CdapClient;
use self::model::{NAMESPACE, PIPELINE, PREFERENCES, PROFILE};
use super::{SecretSource, both};
use crate::contract::datafusion::selects;
use crate::contract::{DataFusionInstance, DataFusionSelection, PromoteRequest};
use crate::declarative::{Action, Change, Declarative, Entity, Kinds, Plan, SourceState, State};
use crate::error::TaskError;
use crate::http::HttpClient;

/// A Data Fusion promotion with both instances resolved.
pub struct DataFusionConnector {
    /// The source instance (none when the source is a stored bundle).
    source: Option<CdapClient>,
    target: CdapClient,
    selection: DataFusionSelection,
    /// The artifacts each namespace of the target offers (`(name, version, scope)`), from the
    /// last read of the target; a namespace it lacks gets the SYSTEM ones.
    artifacts: Mutex<BTreeMap<String, BTreeSet<Artifact>>>,
}

/// An artifact: name, version, scope (upper-case).
type Artifact = (String, String, String);
/// The most refusals of one kind a plan lists.
const MAX_LISTED: usize = 20;

/// A side's HTTP client, its credentials checked.
async fn client(
    secrets: &impl SecretSource,
    instance: &DataFusionInstance,
    side: &str,
    timeout: Duration,
) -> Result<HttpClient, TaskError> {
    let field = format!("{side}.datafusion.auth_secret_arn");
    let text = Box::pin(secrets.secret(&instance.auth_secret_arn, &field)).await?;
    CdapClient::client(instance, &text, &field, timeout)
}

/// One instance, its credentials checked and the instance resolved (the pipeline runs' steps use
/// the target alone).
pub async fn open(
    secrets: &impl SecretSource,
    instance: &DataFusionInstance,
    side: &str,
    timeout: Duration,
) -> Result<CdapClient, TaskError> {
    let http = client(secrets, instance, side, timeout).await?;
    CdapClient::open(http, instance).await
}

/// Starts the request's `start` pipelines on the target (see [`runs`]).
pub async fn start_runs(
    request: &PromoteRequest,
    secrets: &impl SecretSource,
    run_id: &str,
) -> Result<crate::contract::JobHandle, TaskError> {
    let selection = request
        .datafusion
        .as_ref()
        .ok_or_else(|| TaskError::invalid("datafusion", "is required"))?;
    let target = target_instance(request)?;
    let timeout = Duration::from_secs(selection.timeout_seconds);
    let client = open(secrets, target, "target", timeout).await?;
    runs::start_all(&client, target, &selection.start, run_id).await
}

impl DataFusionConnector {
    /// Reads and checks both secrets (every bad one reported at once), then resolves both
    /// instances.
    pub async fn connect(
        request: &PromoteRequest,
        secrets: &impl SecretSource,
    ) -> Result<Self, TaskError> {
        let selection = request
            .datafusion
            .clone()
            .ok_or_else(|| TaskError::invalid("datafusion", "is required"))?;
        let timeout = Duration::from_secs(selection.timeout_seconds);
        let target_side = target_instance(request)?;
        let target = client(secrets, target_side, "target", timeout).await;
        let source = match &request.source.datafusion {
            Some(instance) => client(secrets, instance, "source", timeout)
                .await
                .map(|http| Some((http, instance))),
            None => Ok(None),
        };
        let (source, target) = both(source, target)?;
        let target = CdapClient::open(target, target_side).await?;
        let source = match source {
            Some((http, instance)) => Some(CdapClient::open(http, instance).await?),
            None => None,
        };
        Ok(DataFusionConnector {
            source,
            target,
            selection,
            artifacts: Mutex::new(BTreeMap::new()),
        })
    }

    /// The target instance, resolved.
    pub fn target(&self) -> &CdapClient {
        &self.target
    }

    fn width(&self) -> usize {
        usize::try_from(self.selection.concurrency)
            .unwrap_or(1)
            .max(1)
    }

    /// Every entity of the selection on one instance; `source` says whether globs that match
    /// nothing are an error (on the source they are: the selection would promote nothing).
    async fn read(&self, client: &CdapClient, source: bool) -> Result<Vec<Entity>, TaskError> {
        let mut entities = Vec::new();
        let mut pipelines = Vec::new();
        let mut present = Vec::new();
        for (i, ns) in self.selection.namespaces.iter().enumerate() {
            match client.namespace(ns).await? {
                Some(found) => {
                    entities.push(model::namespace(ns, &found));
                    present.push(ns.as_str());
                }
                None if source => {
                    return Err(TaskError::invalid(
                        format!("datafusion.namespaces[{i}]"),
                        format!(
                            "'{ns}' does not exist on the source instance '{}'",
                            client.name()
                        ),
                    ));
                }
                None => continue,
            }
            for name in client.pipelines(ns).await? {
                if selects(&self.selection.pipelines, &name) {
                    pipelines.push((ns.clone(), name));
                }
            }
        }
        if source {
            self.every_glob_matches(&pipelines, client)?;
        }
        entities.extend(self.pipelines(client, &pipelines).await?);
        if self.selection.profiles {
            entities.extend(profiles(client, &present).await?);
        }
        if self.selection.preferences {
            entities.extend(preferences(client, &present, &pipelines).await?);
        }
        refuse_credentials(&entities, client)?;
        if !source {
            self.remember_artifacts(client, &present).await?;
        }
        Ok(entities)
    }

    /// Keeps the artifacts the target offers in `default` (SYSTEM ones included) and in each
    /// namespace of `present`.
    async fn remember_artifacts(
        &self,
        client: &CdapClient,
        present: &[&str],
    ) -> Result<(), TaskError> {
        let mut found = BTreeMap::new();
        let mut namespaces: BTreeSet<&str> = present.iter().copied().collect();
        namespaces.insert("default");
        for ns in namespaces {
            let list: BTreeSet<Artifact> = client.artifacts(ns).await?.into_iter().collect();
            found.insert(ns.to_string(), list);
        }
        *self
            .artifacts
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = found;
        Ok(())
    }

    /// The artifacts of a pipeline's body the target lacks, as `name version (scope)`.
    fn missing_artifacts(&self, ns: &str, body: &serde_json::Value) -> Vec<String> {
        let artifacts = self
            .artifacts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let system = |a: &&Artifact| a.2 == "SYSTEM";
        let offered: BTreeSet<&Artifact> = match artifacts.get(ns) {
            Some(list) => list.iter().collect(),
            None => artifacts
                .get("default")
                .into_iter()
                .flatten()
                .filter(system)
                .collect(),
        };
        let mut missing: Vec<String> = model::artifacts(body)
            .into_iter()
            .filter(|a| !offered.contains(a))
            .map(|(name, version, scope)| format!("{name} {version} ({scope})"))
            .collect();
        missing.dedup();
        missing
    }

    /// Why a change of the plan is outside this request's selection (a stored bundle may hold
    /// more than the request selects), if it is.
    fn outside(&self, kind: &str, id: &str) -> Option<&'static str> {
        let (ns, name) = model::split(id);
        let selected_ns = |ns: &str| self.selection.namespaces.iter().any(|n| n == ns);
        match kind {
            PROFILE if !self.selection.profiles => Some("datafusion.profiles is false"),
            PROFILE => match model::profile_scope(id) {
                (Some(ns), _) if !selected_ns(ns) => {
                    Some("its namespace is not in datafusion.namespaces")
                }
                _ => None,
            },
            PREFERENCES if !self.selection.preferences => Some("datafusion.preferences is false"),
            _ if !selected_ns(ns) => Some("its namespace is not in datafusion.namespaces"),
            PIPELINE | PREFERENCES
                if name.is_some_and(|n| !selects(&self.selection.pipelines, n)) =>
            {
                Some("datafusion.pipelines does not select it")
            }
            _ => None,
        }
    }

    /// A glob of the selection that selects no pipeline of the source is refused, naming it.
    fn every_glob_matches(
        &self,
        pipelines: &[(String, String)],
        client: &CdapClient,
    ) -> Result<(), TaskError> {
        let problems: Vec<crate::error::FieldProblem> = self
            .selection
            .pipelines
            .iter()
            .enumerate()
            .filter(|(_, glob)| {
                !pipelines
                    .iter()
                    .any(|(_, name)| selects(std::slice::from_ref(glob), name))
            })
            .map(|(i, glob)| crate::error::FieldProblem {
                field: format!("datafusion.pipelines[{i}]"),
                problem: format!(
                    "'{glob}' matches no pipeline in namespaces {} of the source instance '{}'",
                    self.selection.namespaces.join(", "),
                    client.name()
                ),
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TaskError::InvalidInput(problems))
        }
    }

    /// Each selected pipeline's detail, read a bounded number at a time.
    async fn pipelines(
        &self,
        client: &CdapClient,
        pipelines: &[(String, String)],
    ) -> Result<Vec<Entity>, TaskError> {
        let mut reads = Vec::with_capacity(pipelines.len());
        for (ns, name) in pipelines {
            reads.push(detail(client, ns, name));
        }
        let results: Vec<(String, Result<Entity, TaskError>)> = futures::stream::iter(reads)
            .buffer_unordered(self.width())
            .collect()
            .await;
        let mut entities = Vec::with_capacity(results.len());
        let mut failures = Vec::new();
        for (what, result) in results {
            match result {
                Ok(entity) => entities.push(entity),
                Err(e) => failures.push((what, e)),
            }
        }
        TaskError::several(failures)?;
        Ok(entities)
    }

    async fn put(&self, action: Action, entity: &Entity) -> Result<(), TaskError> {
        let target = &self.target;
        match entity.kind.as_str() {
            NAMESPACE if action == Action::Create => {
                let mut body = entity.body.clone();
                body["name"] = json!(entity.id);
                target.create_namespace(&entity.id, &body).await
            }
            NAMESPACE => target.update_namespace(&entity.id, &entity.body).await,
            PROFILE => {
                let (ns, name) = model::profile_scope(&entity.id);
                target
                    .put_profile(ns, name, &model::profile_request(&entity.body))
                    .await
            }
            PIPELINE => {
                let (ns, name) = split_pipeline(&entity.id)?;
                target
                    .deploy(ns, name, &model::app_request(&entity.body))
                    .await
            }
            PREFERENCES => {
                let (ns, app) = model::split(&entity.id);
                target.put_preferences(ns, app, &entity.body).await
            }
            other => Err(unknown_kind(other)),
        }
    }

    async fn delete(&self, change: &Change) -> Result<(), TaskError> {
        let target = &self.target;
        match change.kind.as_str() {
            PROFILE => {
                let (ns, name) = model::profile_scope(&change.id);
                target.delete_profile(ns, name).await
            }
            PIPELINE => {
                let (ns, name) = split_pipeline(&change.id)?;
                target.delete_app(ns, name).await
            }
            PREFERENCES => {
                let (ns, app) = model::split(&change.id);
                target.delete_preferences(ns, app).await
            }
            other => Err(TaskError::Refused(format!(
                "{other}/{}: ferry never deletes a {other}",
                change.id
            ))),
        }
    }
}

/// Refuses entities that hold a credential as a literal value, naming each (see
/// [`model::embedded_credentials`]).
fn refuse_credentials(entities: &[Entity], client: &CdapClient) -> Result<(), TaskError> {
    let found: Vec<String> = entities
        .iter()
        .flat_map(|e| {
            model::embedded_credentials(e)
                .into_iter()
                .map(move |path| format!("{} at {path}", e.key()))
        })
        .collect();
    if found.is_empty() {
        return Ok(());
    }
    let more = found.len().saturating_sub(MAX_LISTED);
    let mut listed = found
        .into_iter()
        .take(MAX_LISTED)
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        listed.push_str(&format!(" and {more} more"));
    }
    Err(TaskError::Refused(format!(
        "'{}' holds credentials as literal values, which ferry would keep in bundles and show in plans: {listed}; put them in the instance's secure store and use ${{secure(<key>)}} macros",
        client.name()
    )))
}

/// The system profiles but the built-in ones, and the own profiles of each namespace of `present`.
async fn profiles(client: &CdapClient, present: &[&str]) -> Result<Vec<Entity>, TaskError> {
    let scope = |p: &cdap::Profile| {
        p.rest
            .get("scope")
            .and_then(|s| s.as_str())
            .map(str::to_string)
    };
    let mut entities: Vec<Entity> = client
        .profiles(None)
        .await?
        .iter()
        .filter(|p| !model::BUILT_IN_PROFILES.contains(&p.name.as_str()))
        .filter(|p| scope(p).as_deref() != Some("USER"))
        .map(|p| model::profile(None, p))
        .collect();
    for ns in present {
        let own = client.profiles(Some(ns)).await?;
        entities.extend(
            own.iter()
                .filter(|p| scope(p).as_deref() != Some("SYSTEM"))
                .map(|p| model::profile(Some(ns), p)),
        );
    }
    Ok(entities)
}

/// The own preferences of each namespace of `present` and of each pipeline.
async fn preferences(
    client: &CdapClient,
    present: &[&str],
    pipelines: &[(String, String)],
) -> Result<Vec<Entity>, TaskError> {
    let mut entities = Vec::new();
    for ns in present {
        let values = client.preferences(ns, None).await?;
        entities.extend(model::preferences(ns, None, &values));
    }
    for (ns, name) in pipelines {
        let values = client.preferences(ns, Some(name)).await?;
        entities.extend(model::preferences(ns, Some(name), &values));
    }
    Ok(entities)
}

/// One pipeline's entity, named for an error report.
async fn detail(client: &CdapClient, ns: &str, name: &str) -> (String, Result<Entity, TaskError>) {
    let what = format!("pipeline {ns}/{name}");
    let entity = match client.app(ns, name).await {
        Ok(Some(detail)) => model::pipeline(ns, name, &detail).ok_or_else(|| {
            TaskError::Mismatch(format!(
                "{what} on '{}' has no readable configuration",
                client.name()
            ))
        }),
        Ok(None) => Err(TaskError::Mismatch(format!(
            "{what} was listed on '{}' but is gone",
            client.name()
        ))),
        Err(e) => Err(e),
    };
    (what, entity)
}

fn target_instance(request: &PromoteRequest) -> Result<&DataFusionInstance, TaskError> {
    request
        .target
        .datafusion
        .as_ref()
        .ok_or_else(|| TaskError::invalid("target.datafusion", "is required"))
}

fn split_pipeline(id: &str) -> Result<(&str, &str), TaskError> {
    match model::split(id) {
        (ns, Some(name)) => Ok((ns, name)),
        _ => Err(TaskError::Mismatch(format!(
            "pipeline identity '{id}' is not <namespace>/<name>"
        ))),
    }
}

fn unknown_kind(kind: &str) -> TaskError {
    TaskError::Mismatch(format!("Data Fusion has no kind '{kind}'"))
}

impl Declarative for DataFusionConnector {
    fn kinds(&self) -> Kinds {
        model::kinds()
    }

    /// Refused before anything changes: a change outside the selection (from a stored bundle), a
    /// pipeline whose artifacts (the pipeline's, every plugin's) the target lacks, and a pipeline
    /// to start that the promotion will not hold as a batch pipeline.
    fn refusals(&self, plan: &Plan, desired: &State) -> Vec<String> {
        let kinds = model::kinds();
        let target = self.target.version();
        let mut refused = Vec::new();
        for change in plan.changes.iter().filter(|c| c.action != Action::Delete) {
            if let Some(why) = self.outside(&change.kind, &change.id) {
                refused.push(format!(
                    "{}: outside the request's selection ({why})",
                    change.key()
                ));
                continue;
            }
            let Some(entity) = desired.get(&kinds, &change.kind, &change.id) else {
                continue;
            };
            if change.kind == PIPELINE {
                let (ns, _) = model::split(&change.id);
                let missing = self.missing_artifacts(ns, &entity.body);
                if !missing.is_empty() {
                    refused.push(format!(
                        "{}: the target instance (CDAP {target}) lacks {}",
                        change.key(),
                        missing.join(", ")
                    ));
                }
            }
        }
        for (i, start) in self.selection.start.iter().enumerate() {
            let id = format!("{}/{}", start.namespace, start.pipeline);
            let batch = desired
                .get(&kinds, PIPELINE, &id)
                .is_some_and(|p| p.body["artifact"]["name"] == "cdap-data-pipeline");
            if !batch {
                refused.push(format!(
                    "datafusion.start[{i}]: pipeline {id} is not a batch pipeline (cdap-data-pipeline) of the source, so it cannot be run"
                ));
            }
        }
        if refused.len() > MAX_LISTED {
            let more = refused.len() - MAX_LISTED;
            refused.truncate(MAX_LISTED);
            refused.push(format!("and {more} more"));
        }
        refused
    }

    fn concurrency(&self) -> usize {
        self.width()
    }

    async fn read_source(&self) -> Result<SourceState, TaskError> {
        let source = self.source.as_ref().ok_or_else(|| {
            TaskError::invalid(
                "source.datafusion",
                "is required to read an instance (a bundle source is read by the engine)",
            )
        })?;
        let mut entities = self.read(source, true).await?;
        let to = self.target.version();
        let mut rewritten = 0;
        for entity in entities.iter_mut().filter(|e| e.kind == PIPELINE) {
            if model::rewrite_versions(&mut entity.body, to) {
                rewritten += 1;
            }
        }
        Ok(SourceState {
            entities,
            origin: json!({
                "datafusion": source.name(),
                "version": source.version(),
                "target_version": to,
                "pipelines_rewritten": rewritten,
            }),
        })
    }

    async fn read_target(&self) -> Result<Vec<Entity>, TaskError> {
        self.read(&self.target, false).await
    }

    async fn apply_change(
        &self,
        change: &Change,
        desired: Option<&Entity>,
    ) -> Result<(), TaskError> {
        match (change.action, desired) {
            (Action::Create | Action::Update, Some(entity)) => {
                self.put(change.action, entity).await
            }
            (Action::Delete, _) => self.delete(change).await,
            (action, _) => Err(TaskError::Mismatch(format!(
                "{}/{}: no desired entity for {action:?}",
                change.kind, change.id
            ))),
        }
    }
}
