//! A stateful HTTP simulator of Google Cloud Data Fusion for ferry's tests (see the Data Fusion
//! contract, /work/shared/contracts/datafusion.md): one process is one "Google" (token
//! endpoints, the Data Fusion instance API) and any number of instances, each serving the CDAP
//! REST API subset ferry uses, with injectable faults and an unauthenticated control API.
//!
//! # Google token endpoints (no `Authorization`)
//! - `POST /token` (form `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=JWT`):
//!   an RS256 assertion signed by a seeded service account's key, `aud` = `<origin>/token`,
//!   unexpired, `iat` at most 60 s ahead, at most an hour long, scope cloud-platform →
//!   `{"access_token": "ya29.sim-...", "expires_in": N, "token_type": "Bearer"}`; refusals are
//!   400 `{"error": "invalid_grant" | "invalid_scope" | ..., "error_description": ...}`.
//! - `POST /v1/token` (STS token exchange, AWS workload identity federation): `audience` a
//!   seeded pool, `subject_token` the URL-encoded signed `GetCallerIdentity` request
//!   google-cloud-auth builds ([`google::sigv4::subject_token`] builds one), its SigV4 signature
//!   recomputed when the pool knows the secret → `{"access_token": "sts-sim-...", ...}`.
//! - `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken` with an STS token of a
//!   pool listing `email` in `impersonate` → `{"accessToken", "expireTime"}`.
//!
//! # Data Fusion and CDAP APIs (`Authorization: Bearer <live token issued here>`, else 401)
//! - `GET /v1[beta1]/projects/{p}/locations/{l}/instances/{name}`: the instance resource,
//!   `apiEndpoint` = `<origin>/instances/{name}/api`.
//! - Below `apiEndpoint`: `GET /v3/version`; namespaces (`GET /v3/namespaces`,
//!   `GET|PUT|DELETE /v3/namespaces/{ns}`, `PUT .../properties`); `GET .../artifacts`; apps
//!   (`GET .../apps` with `artifactName`, `artifactVersion`, `pageSize`, `pageToken`;
//!   `GET|PUT|DELETE .../apps/{app}`, `GET .../apps/{app}/versions`); profiles (system
//!   `/v3/profiles...`, user `/v3/namespaces/{ns}/profiles...`, enable, disable, status);
//!   preferences (instance, namespace, app; `?resolved=true`); runs (`POST
//!   /v3/namespaces/{ns}/start`, `POST .../workflows/DataPipelineWorkflow/start`,
//!   `GET .../runs[/{run}]`). CDAP's own errors are plain text, as CDAP answers them.
//!
//! # Faults
//! Each fires on the next `count` requests its scope covers (optional `endpoint`: `token`,
//! `sts`, `impersonate`, `instance`, `version`, `namespaces`, `artifacts`, `apps`, `profiles`,
//! `preferences`, `start`, `runs`; optional `app`): 401, 429 with `Retry-After`, 500, or a delay.
//! Token endpoint faults are process-wide; the others belong to an instance.
//!
//! # AWS instance metadata (no auth)
//! [`imds`]: a zone, a role and its credentials below `/imds`, for workload identity federation
//! tests whose environment holds no AWS credentials.
//!
//! # Control API (no auth)
//! `POST /control/instances` ([`InstanceSeed`]; replaces one of the same name),
//! `GET /control/instances/{name}` (namespaces, apps with their parsed configuration, versions,
//! preferences and runs, profiles, deploy counts, outcomes, faults),
//! `POST /control/instances/{name}/outcome` ([`Outcome`]), `POST|DELETE
//! /control/instances/{name}/faults` ([`Fault`]), `POST /control/faults` (a token endpoint
//! fault), `POST /control/service-accounts` ([`ServiceAccountSeed`]), `POST /control/pools`
//! ([`PoolSeed`]), `POST /control/tokens/expire`, `GET /control/requests` (no tokens or
//! assertions), `GET /control/counts` ([`Counts`]), `POST /control/reset`.
//!
//! Tests use [`shared()`] (one per process) with unique instance names, or their own
//! [`Simulator::start`]; the `cdap-sim` binary serves one as a separate process.

mod app;
mod cdap;
mod clock;
mod control;
mod faults;
mod gate;
pub mod google;
pub mod imds;
mod instance;
mod model;
mod profile;
mod reply;
mod run;
mod state;
mod tokens;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

pub use crate::sim_kit::faults::FaultKind;
pub use model::{
    AppSeed, ArtifactRef, Counts, DEFAULT_VERSION, Endpoint, Fault, FaultScope, FinalStatus,
    InstanceSeed, NamespaceSeed, Outcome, PoolSeed, PreferenceSeed, ProfileSeed, ProfileStatus,
    Provisioner, ProvisionerProperty, RequestRecord, ServiceAccountSeed,
};
pub use state::Store;

use crate::sim_kit::control::{self as kit, ControlStore};

/// A running simulator on 127.0.0.1, served by a background thread with its own runtime.
pub struct Simulator {
    origin: String,
    store: Store,
}

impl Simulator {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and serves on a background thread with its
    /// own tokio runtime, so it outlives any test's runtime.
    pub fn start(port: u16) -> Simulator {
        let (listener, origin) = crate::serve::bind("cdap-sim", port);
        let store = Store::new();
        crate::serve::spawn("cdap-sim", listener, router(store.clone()));
        Simulator { origin, store }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The service-account token endpoint, `<origin>/token` (the `aud` assertions need).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.origin)
    }

    /// The instance resource URL of `name` in `project` and `location`.
    pub fn instance_url(&self, project: &str, location: &str, name: &str) -> String {
        format!(
            "{}/v1/projects/{project}/locations/{location}/instances/{name}",
            self.origin
        )
    }

    /// The CDAP API base (`apiEndpoint`) of instance `name`.
    pub fn api_endpoint(&self, name: &str) -> String {
        format!("{}/instances/{name}/api", self.origin)
    }

    /// Creates an instance (replacing one of the same name); its whole state.
    ///
    /// # Panics
    /// When the seed is refused.
    pub fn add_instance(&self, seed: InstanceSeed) -> Value {
        self.store
            .add_instance(seed)
            .unwrap_or_else(|message| panic!("cdap-sim refuses the instance: {message}"))
    }

    /// Registers a service account.
    ///
    /// # Panics
    /// When the seed is refused.
    pub fn add_service_account(&self, seed: ServiceAccountSeed) {
        self.store
            .add_service_account(seed)
            .unwrap_or_else(|message| panic!("cdap-sim refuses the account: {message}"));
    }

    /// Registers a workload identity pool provider.
    ///
    /// # Panics
    /// When the seed is refused.
    pub fn add_pool(&self, seed: PoolSeed) {
        self.store
            .add_pool(seed)
            .unwrap_or_else(|message| panic!("cdap-sim refuses the pool: {message}"));
    }

    /// Arms a fault on an instance (a token endpoint fault is process-wide).
    ///
    /// # Panics
    /// When the instance does not exist.
    pub fn inject(&self, instance: &str, fault: Fault) {
        assert!(
            self.store.inject(instance, fault),
            "cdap-sim has no instance {instance}"
        );
    }

    /// The simulator's state, to change or inspect it.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The simulator of this process, started on first use on a free port.
pub fn shared() -> &'static Simulator {
    static SIMULATOR: OnceLock<Simulator> = OnceLock::new();
    SIMULATOR.get_or_init(|| Simulator::start(0))
}

/// Every route of the simulator.
pub fn router(store: Store) -> Router {
    let tokens = Router::new()
        .route("/token", post(google::grant::token))
        .route("/v1/token", post(google::sts::exchange))
        .route(
            "/v1/projects/{project}/serviceAccounts/{target}",
            post(google::impersonate::generate),
        )
        .route_layer(middleware::from_fn_with_state(store.clone(), gate::tokens));
    let apis = Router::new()
        .route(
            "/v1/projects/{project}/locations/{location}/instances/{name}",
            get(google::resource::get),
        )
        .route(
            "/v1beta1/projects/{project}/locations/{location}/instances/{name}",
            get(google::resource::get),
        )
        .nest("/instances/{inst}/api", cdap::routes())
        .route_layer(middleware::from_fn_with_state(store.clone(), gate::api));
    tokens
        .merge(apis)
        .merge(imds::routes())
        .merge(control_routes())
        .fallback(kit::unknown_route::<Store>)
        .layer(middleware::from_fn_with_state(store.clone(), log))
        .with_state(store)
}

fn control_routes() -> Router<Store> {
    Router::new()
        .route("/control/instances", post(control::add_instance))
        .route("/control/instances/{name}", get(control::instance))
        .route("/control/instances/{name}/outcome", post(control::outcome))
        .route(
            "/control/instances/{name}/faults",
            post(kit::inject::<Store>).delete(kit::clear_faults::<Store>),
        )
        .route("/control/faults", post(control::google_fault))
        .route(
            "/control/service-accounts",
            post(control::add_service_account),
        )
        .route("/control/pools", post(control::add_pool))
        .route("/control/tokens/expire", post(control::expire_tokens))
        .route("/control/requests", get(kit::requests::<Store>))
        .route("/control/counts", get(control::counts))
        .route("/control/reset", post(kit::reset::<Store>))
}

/// Logs every request outside `/control`, classifying its credentials but never keeping them.
async fn log(State(store): State<Store>, request: Request, next: Next) -> Response {
    let Some(call) = kit::api_call(&request, "/control") else {
        return next.run(request).await;
    };
    let auth = store.with(|s| s.tokens.classify(request.headers()));
    let scope = faults::scope(&call.path);
    let response = next.run(request).await;
    let record = RequestRecord {
        method: call.method,
        path: call.path,
        query: call.query,
        instance: scope.instance,
        endpoint: scope.endpoint,
        status: response.status().as_u16(),
        auth: auth.to_string(),
    };
    store.with(|s| s.requests.push(record));
    response
}
