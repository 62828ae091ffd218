//! A stateful HTTP simulator of the Spark ImpEx API (see the Spark ImpEx contract): tenants with
//! folders, services and versions; export jobs that build real zip packages; import jobs that apply
//! them; bearer, OAuth client-credentials and API-key auth; injectable faults; and an
//! unauthenticated control API under `/_sim`. Jobs progress one step per status read, so tests
//! need no sleeping.
//!
//! Tests use [`shared()`] (one instance per process) with unique tenant names; the `spark-sim`
//! binary serves one as a separate process.

mod auth;
mod control;
mod download;
mod export;
mod import;
mod jobs;
mod lookup;
mod model;
mod package;
mod reply;
mod state;

use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

pub use model::{
    ClientSeed, Fault, JobView, RequestRecord, ServiceSeed, ServiceView, TenantSeed, TenantView,
    VersionView,
};
pub use state::Store;

use auth::{Slot, Tag};

use crate::sim_kit::control::{self as kit, ControlStore};

/// The largest request body accepted (import uploads).
const BODY_LIMIT: usize = 256 << 20;

/// A running simulator on 127.0.0.1, served by a background thread with its own runtime.
pub struct Simulator {
    origin: String,
    store: Store,
}

impl Simulator {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and serves on a background thread with its
    /// own tokio runtime, so it outlives any test's runtime. Connections are accepted once this
    /// returns.
    pub fn start(port: u16) -> Simulator {
        let (listener, origin) = crate::serve::bind("spark-sim", port);
        let store = Store::new(&origin);
        let served = store.clone();
        crate::serve::spawn("spark-sim", listener, router(served));
        Simulator { origin, store }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The tenant's base URL, `http://127.0.0.1:PORT/{tenant}`.
    pub fn base_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.origin)
    }

    /// The tenant's OAuth token endpoint.
    pub fn token_url(&self, tenant: &str) -> String {
        format!(
            "{}/auth/realms/{tenant}/protocol/openid-connect/token",
            self.origin
        )
    }

    /// Creates a tenant, replacing one of the same name.
    pub fn add_tenant(&self, tenant: TenantSeed) {
        self.store.add_tenant(tenant);
    }

    /// A snapshot of a tenant: folders, services with their versions, jobs.
    pub fn tenant(&self, name: &str) -> Option<TenantView> {
        self.store.tenant(name)
    }

    /// Injects a fault into a tenant.
    ///
    /// # Panics
    /// When the tenant does not exist.
    pub fn inject(&self, tenant: &str, fault: Fault) {
        assert!(
            self.store.inject(tenant, fault),
            "spark-sim has no tenant {tenant}"
        );
    }

    /// Every API request answered so far (control requests excluded), oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.store.requests()
    }

    /// The simulator's state, to serve it elsewhere or inspect it.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// The simulator of this process, started on first use on a free port.
pub fn shared() -> &'static Simulator {
    static SIMULATOR: OnceLock<Simulator> = OnceLock::new();
    SIMULATOR.get_or_init(|| Simulator::start(0))
}

/// Serves the simulator on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, store: Store) -> std::io::Result<()> {
    axum::serve(listener, router(store)).await
}

/// Every route of the simulator.
pub fn router(store: Store) -> Router {
    let api = Router::new()
        .route("/health", get(lookup::health))
        .route(
            "/auth/realms/{tenant}/protocol/openid-connect/token",
            post(auth::token),
        )
        .route("/{tenant}/api/v4/export", post(export::start))
        .route("/{tenant}/api/v4/export/status", get(export::describe))
        .route("/{tenant}/api/v4/export/{id}/status", get(export::status))
        .route(
            "/{tenant}/api/v4/export/{id}",
            axum::routing::patch(export::cancel),
        )
        .route("/{tenant}/api/v4/import", post(import::start))
        .route("/{tenant}/api/v4/import/status", get(import::describe))
        .route("/{tenant}/api/v4/import/{id}/status", get(import::status))
        .route(
            "/{tenant}/api/v3/folders/{folder}/services/{service}/exists",
            get(lookup::service_exists),
        )
        .route(
            "/api/v1/product/{folder}/engines/getversions/{service}",
            get(lookup::versions),
        )
        .route(
            "/api/v1/product/isproductexists/{folder}",
            post(lookup::folder_exists),
        )
        .route("/_files/{token}/{file}", get(download::download))
        .fallback(unknown_route);
    let control = Router::new()
        .route("/_sim/tenants", post(control::add_tenant))
        .route("/_sim/tenants/{name}", get(control::tenant))
        .route("/_sim/tenants/{name}/faults", post(kit::inject::<Store>))
        .route("/_sim/requests", get(kit::requests::<Store>))
        .route("/_sim/reset", post(kit::reset::<Store>));
    api.merge(control)
        .layer(middleware::from_fn_with_state(store.clone(), log))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(store)
}

async fn unknown_route(request: Request) -> reply::Fail {
    reply::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ))
}

/// Logs every request outside `/_sim` with what its handler learnt (tenant, credentials).
async fn log(State(store): State<Store>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/_sim/") {
        return next.run(request).await;
    }
    let method = request.method().to_string();
    let slot: Slot = Arc::new(Mutex::new(Tag::default()));
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let tag = slot.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let record = RequestRecord {
        method,
        path,
        tenant: tag.tenant,
        auth: tag.auth.unwrap_or("none").to_string(),
        status: response.status().as_u16(),
    };
    store.with(|s| s.requests.push(record));
    response
}
