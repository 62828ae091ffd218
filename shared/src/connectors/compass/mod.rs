//! Compass: SAP Open Connectors instances reconciled into Kyma Compass applications, on the
//! declarative engine.
//!
//! The source is every instance the tag filter selects (every page), each with its OpenAPI
//! document, fetched a bounded number at a time; the target is every application of the
//! Director tenant labelled `open_connectors` with this context (every page). One application per
//! instance, identified by the label pair, never by its name: applications of other contexts or
//! without the label are never read into the plan, so never touched. Creates register the
//! application with its bundle and API in one call; updates keep the application's id and change
//! only what differs (its fields, its label, its bundle, its API, in that order), which also
//! repairs an application left without its bundle or API; deletes unregister it. Both secrets are
//! read and checked (shape, host binding) before either side is called.

pub mod app;
pub mod director;
pub mod oc;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use secrecy::ExposeSecret;
use serde_json::json;
use tokio::sync::OnceCell;

use self::app::{APPLICATION, AppBody, BundleBody};
use self::director::{Application, DirectorClient, LABEL_KEY};
use self::oc::{Instance, OcClient};
use super::{SecretSource, both, with_secret};
use crate::checksum::sha256_hex;
use crate::contract::{CompassSelection, Credentials, PromoteRequest};
use crate::declarative::{Action, Change, Declarative, Entity, Kinds, Plan, SourceState, State};
use crate::error::TaskError;
use crate::http::SecretString;

/// A Compass reconcile with both sides connected.
pub struct CompassConnector {
    /// The instances' platform API (none when the source is a stored bundle).
    oc: Option<OcClient>,
    director: DirectorClient,
    selection: CompassSelection,
    /// Application ids by identity, from the last read of the target.
    ids: Mutex<HashMap<String, String>>,
    /// Each instance's `Authorization` header, read once per invocation when a change needs it.
    headers: OnceCell<HashMap<String, SecretString>>,
}

impl CompassConnector {
    /// Reads both secrets and checks them (shape, host binding) before anything is sent; every bad
    /// secret is reported at once.
    pub async fn connect(
        request: &PromoteRequest,
        secrets: &impl SecretSource,
    ) -> Result<Self, TaskError> {
        let selection = request
            .compass
            .clone()
            .ok_or_else(|| TaskError::invalid("compass", "is required"))?;
        let timeout = Duration::from_secs(selection.timeout_seconds);
        let target = request
            .target
            .compass
            .as_ref()
            .ok_or_else(|| TaskError::invalid("target.compass", "is required"))?;
        let field = "target.compass.auth_secret_arn";
        let director = with_secret(secrets, &target.auth_secret_arn, field, |text| {
            DirectorClient::new(target, text, timeout)
        })
        .await;
        let oc = match &request.source.open_connectors {
            Some(source) => {
                let field = "source.open_connectors.auth_secret_arn";
                with_secret(secrets, &source.auth_secret_arn, field, |text| {
                    OcClient::new(source, text, timeout).map(Some)
                })
                .await
            }
            None => Ok(None),
        };
        let (oc, director) = both(oc, director)?;
        Ok(CompassConnector {
            oc,
            director,
            selection,
            ids: Mutex::new(HashMap::new()),
            headers: OnceCell::new(),
        })
    }

    fn oc(&self) -> Result<&OcClient, TaskError> {
        self.oc.as_ref().ok_or_else(|| {
            TaskError::invalid(
                "source.open_connectors",
                "is required to read instances (a bundle source is read by the engine)",
            )
        })
    }

    fn width(&self) -> usize {
        usize::try_from(self.selection.concurrency)
            .unwrap_or(1)
            .max(1)
    }

    /// The desired application of one instance: its spec fetched, its header digested.
    async fn desired(&self, oc: &OcClient, instance: &Instance) -> Result<Entity, TaskError> {
        let document = oc.spec(instance.id).await?;
        let credential = match self.selection.credentials {
            Credentials::None => None,
            Credentials::ElementHeader => Some(digest(
                &oc.element_header(instance)
                    .ok_or_else(|| missing_token(&instance.id.to_string()))?,
            )),
        };
        Ok(app::desired(
            &self.selection.context,
            oc.url(),
            instance,
            &document,
            credential,
        ))
    }

    async fn named(
        &self,
        oc: &OcClient,
        instance: &Instance,
    ) -> (String, Result<Entity, TaskError>) {
        let what = format!("instance {}", instance.id);
        (what, self.desired(oc, instance).await)
    }

    /// The application id of `identity`, from the last read of the target.
    fn id_of(&self, identity: &str) -> Result<String, TaskError> {
        let ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.get(identity).cloned().ok_or_else(|| {
            TaskError::Mismatch(format!(
                "application of instance {identity} was not found when the target was read"
            ))
        })
    }

    /// The `Authorization` header of each bundle of `body` (`element_header` only), checked
    /// against the digest the plan was made with: a token rotated since is refused, not written.
    async fn headers(
        &self,
        identity: &str,
        body: &AppBody,
    ) -> Result<Vec<Option<String>>, TaskError> {
        let mut out = Vec::with_capacity(body.bundles.len());
        for bundle in &body.bundles {
            out.push(self.header(identity, bundle).await?);
        }
        Ok(out)
    }

    async fn header(
        &self,
        identity: &str,
        bundle: &BundleBody,
    ) -> Result<Option<String>, TaskError> {
        let Some(expected) = &bundle.credential_sha256 else {
            return Ok(None);
        };
        let headers = self.headers.get_or_try_init(|| self.read_headers()).await?;
        let header = headers
            .get(identity)
            .ok_or_else(|| missing_token(identity))?;
        if digest(header) != *expected {
            return Err(TaskError::Refused(format!(
                "application/{identity}: the instance's credentials changed after the plan; nothing was written for it, run the reconcile again"
            )));
        }
        Ok(Some(header.expose_secret().to_string()))
    }

    async fn read_headers(&self) -> Result<HashMap<String, SecretString>, TaskError> {
        let oc = self.oc()?;
        let instances = oc.instances().await?;
        Ok(instances
            .iter()
            .filter_map(|i| oc.element_header(i).map(|h| (i.id.to_string(), h)))
            .collect())
    }

    async fn create(&self, entity: &Entity) -> Result<(), TaskError> {
        let body = app::body_of(entity)?;
        let headers = self.headers(&entity.id, &body).await?;
        let name = format!("{}-{}", self.selection.application_prefix, entity.id);
        let id = self
            .director
            .register(app::register_input(name, &body, &headers))
            .await?;
        self.remember(&entity.id, id);
        Ok(())
    }

    fn remember(&self, identity: &str, id: String) {
        let mut ids = self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.insert(identity.to_string(), id);
    }

    /// Makes the application `identity` look like `entity`, keeping its id: only what differs
    /// is written.
    async fn update(&self, entity: &Entity) -> Result<(), TaskError> {
        let id = self.id_of(&entity.id)?;
        let current = self.director.application(&id).await?.ok_or_else(|| {
            let detail = format!(
                "the application of instance {} is gone; run the reconcile again",
                entity.id
            );
            self.director.gone(&id, detail)
        })?;
        let have = app::current_body(&current)?;
        let want = app::body_of(entity)?;
        let headers = self.headers(&entity.id, &want).await?;
        if (&have.description, &have.provider_name) != (&want.description, &want.provider_name) {
            self.director.update(&id, app::update_input(&want)).await?;
        }
        if have.label != want.label {
            self.director
                .set_label(&id, LABEL_KEY, want.label.clone())
                .await?;
        }
        self.sync_bundles(&id, &current, &want, &headers).await
    }

    async fn sync_bundles(
        &self,
        app_id: &str,
        current: &Application,
        want: &AppBody,
        headers: &[Option<String>],
    ) -> Result<(), TaskError> {
        let existing: Vec<&director::Bundle> = current
            .bundles
            .iter()
            .flat_map(|page| page.data.iter())
            .collect();
        for (bundle, header) in want.bundles.iter().zip(headers) {
            match existing.iter().find(|b| b.name == bundle.name) {
                None => {
                    let input = app::bundle_input(bundle, header.as_deref());
                    self.director.add_bundle(app_id, input).await?;
                }
                Some(found) => self.sync_bundle(found, bundle, header.as_deref()).await?,
            }
        }
        for extra in existing
            .iter()
            .filter(|b| !want.bundles.iter().any(|w| w.name == b.name))
        {
            self.director.delete_bundle(extra.id.inner()).await?;
        }
        Ok(())
    }

    async fn sync_bundle(
        &self,
        found: &director::Bundle,
        want: &BundleBody,
        header: Option<&str>,
    ) -> Result<(), TaskError> {
        let have = app::bundle_body(found, &found.name)?;
        if (&have.description, &have.credential_sha256)
            != (&want.description, &want.credential_sha256)
        {
            let input = app::bundle_update(want, header);
            self.director.update_bundle(found.id.inner(), input).await?;
        }
        let apis: Vec<&director::ApiDefinition> = found
            .api_definitions
            .iter()
            .flat_map(|page| page.data.iter())
            .collect();
        for api in &want.apis {
            let current = apis.iter().find(|a| a.name == api.name);
            let same = have.apis.iter().find(|a| a.name == api.name) == Some(api);
            match current {
                None => {
                    self.director
                        .add_api(found.id.inner(), app::api_input(api))
                        .await?;
                }
                Some(existing) if !same => {
                    self.director
                        .update_api(existing.id.inner(), app::api_input(api))
                        .await?;
                }
                Some(_) => {}
            }
        }
        for extra in apis
            .iter()
            .filter(|a| !want.apis.iter().any(|w| w.name == a.name))
        {
            self.director.delete_api(extra.id.inner()).await?;
        }
        Ok(())
    }
}

fn digest(header: &SecretString) -> String {
    sha256_hex(header.expose_secret().as_bytes())
}

fn missing_token(identity: &str) -> TaskError {
    TaskError::Mismatch(format!(
        "instance {identity} has no token, so credentials: element_header cannot give its consumers one"
    ))
}

impl Declarative for CompassConnector {
    fn kinds(&self) -> Kinds {
        Kinds::new(&[APPLICATION])
    }

    fn concurrency(&self) -> usize {
        self.width()
    }

    /// A bundle source cannot give consumers credentials: instance tokens are read from Open
    /// Connectors when applied and never stored, so a change that would set them is refused.
    fn refusals(&self, plan: &Plan, desired: &State) -> Vec<String> {
        if self.oc.is_some() {
            return Vec::new();
        }
        let kinds = self.kinds();
        plan.changes
            .iter()
            .filter(|c| c.action != Action::Delete)
            .filter_map(|c| desired.get(&kinds, &c.kind, &c.id))
            .filter(|e| app::body_of(e).is_ok_and(|b| b.bundles.iter().any(|b| b.credential_sha256.is_some())))
            .map(|e| format!(
                "{}: its consumers' credentials cannot be restored from a bundle (instance tokens are never stored); reconcile from source.open_connectors instead",
                e.key()
            ))
            .collect()
    }

    async fn read_source(&self) -> Result<SourceState, TaskError> {
        let oc = self.oc()?;
        let instances = oc.instances().await?;
        let mut fetches = Vec::with_capacity(instances.len());
        for instance in &instances {
            fetches.push(self.named(oc, instance));
        }
        let results: Vec<(String, Result<Entity, TaskError>)> = futures::stream::iter(fetches)
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
        Ok(SourceState {
            entities,
            origin: json!({
                "open_connectors": oc.url(),
                "tags": oc.tags(),
                "instances": instances.len(),
            }),
        })
    }

    async fn read_target(&self) -> Result<Vec<Entity>, TaskError> {
        let context = &self.selection.context;
        let mut entities = Vec::new();
        let mut ids = HashMap::new();
        for application in self.director.applications().await? {
            let Some(identity) = app::identity(&application, context) else {
                continue;
            };
            if ids.contains_key(&identity) {
                tracing::warn!(instance = %identity, application = %application.name, "a second application of this instance: left alone");
                continue;
            }
            entities.push(app::current(&application, &identity)?);
            ids.insert(identity, application.id.into_inner());
        }
        *self
            .ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = ids;
        Ok(entities)
    }

    async fn apply_change(
        &self,
        change: &Change,
        desired: Option<&Entity>,
    ) -> Result<(), TaskError> {
        match (change.action, desired) {
            (Action::Delete, _) => self.director.unregister(&self.id_of(&change.id)?).await,
            (Action::Create, Some(entity)) => self.create(entity).await,
            (Action::Update, Some(entity)) => self.update(entity).await,
            (_, None) => Err(TaskError::Mismatch(format!(
                "{}: the plan names an application the bundle does not hold",
                change.key()
            ))),
        }
    }
}
