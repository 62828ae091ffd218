//! A stateful HTTP simulator of the SAP Open Connectors platform API (see the Compass–Open
//! Connectors contract, sections 2 and 3): organizations with their secrets and connector
//! instances, cursor paging, tag filters, each instance's OpenAPI document, injectable faults, and
//! an unauthenticated control API under `/control`.
//!
//! # Platform API (below `/elements/api-v2`)
//! Every call needs `Authorization: User <user secret>, Organization <organization secret>`,
//! exactly so (scheme names as written, `, ` between the parts, no `Element` part); anything else
//! is 401. Errors are `{"requestId": ..., "message": ...}` JSON. `Accept` is not checked: every
//! answer is JSON.
//! - `GET /instances[?tags[]=a&tags[]=b][&pageSize=N][&nextPage=T]`: the caller's instances in id
//!   order, as a JSON array of instances (`id`, `name`, `token`, `element {id, name, key, ...}`,
//!   `elementId`, `tags`, `valid`, `disabled`, `configuration`, `user`, `createdDate`, ...).
//!   With tags, an instance is listed when it has any of them (an organization seeded with
//!   `tag_match: all` lists only instances having every one). `pageSize` defaults to 200 and is
//!   cut to 200; 0 or a non-integer is 400. When more instances follow, the response header
//!   `elements-next-page-token` holds the cursor to pass as `nextPage`; the last page has none.
//!   A cursor this simulator did not issue is 400.
//! - `GET /instances/{id}/docs[?version=-1]`: the instance's OpenAPI (Swagger 2.0) document,
//!   derived from its connector (resources with collection and item paths, definitions, `/ping`,
//!   `basePath` `/elements/api-v2/hubs/<hub>`, `host` the request's `Host`), plus paths a test
//!   added, or the whole document a test set. 404 for an id the caller has no instance with, and
//!   for a version other than -1 (only the latest is kept).
//!
//! # Faults
//! Armed per organization; each fires on the organization's next `count` authenticated requests
//! matching an optional endpoint (`instances` or `docs`) and instance id: 401, 429 with
//! `Retry-After`, 500, or a delay before the normal answer.
//!
//! # Control API (no auth)
//! `POST /control/orgs` (an [`OrgSeed`]; replaces an organization of the same name),
//! `GET /control/orgs/{org}`, `POST /control/orgs/{org}/instances` (an [`InstanceSeed`]),
//! `POST|DELETE /control/orgs/{org}/faults` (a [`Fault`]), `GET|PATCH|DELETE
//! /control/instances/{id}` (PATCH takes an [`InstanceChange`]: rename, re-tag, disable),
//! `POST /control/instances/{id}/token` (rotate), `PUT /control/instances/{id}/spec` (a whole
//! document), `POST /control/instances/{id}/spec/paths` (`{"path": ..., "item": ...}`),
//! `GET /control/requests[?org=]`, `GET /control/counts?org=`, `POST /control/reset`.
//!
//! Tests use [`shared()`] (one instance per process) with unique organization names and secrets,
//! or their own [`Simulator::start`]; the `oc-sim` binary serves one as a separate process.

mod api;
mod auth;
mod catalog;
mod clock;
mod control;
mod faults;
mod gate;
mod instance;
mod model;
mod paging;
mod query;
mod reply;
mod spec;
mod state;

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};

pub use crate::sim_kit::faults::FaultKind;
pub use model::{
    Counts, ElementSeed, ElementView, Endpoint, Fault, FaultScope, InstanceChange, InstanceSeed,
    InstanceView, OrgSeed, OrgView, RequestRecord, TagMatch,
};
pub use reply::NEXT_PAGE_HEADER;
pub use state::Store;

use gate::BASE_PATH;

use crate::sim_kit::control::{self as kit, ControlStore};

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
        let (listener, origin) = crate::serve::bind("oc-sim", port);
        let store = Store::new();
        crate::serve::spawn("oc-sim", listener, router(store.clone()));
        Simulator { origin, store }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The platform API's base URL, `http://127.0.0.1:PORT/elements/api-v2`.
    pub fn base_url(&self) -> String {
        format!("{}{BASE_PATH}", self.origin)
    }

    /// Creates an organization with its instances (replacing one of the same name).
    ///
    /// # Panics
    /// When the seed is refused.
    pub fn add_org(&self, seed: OrgSeed) -> OrgView {
        self.store
            .add_org(seed)
            .unwrap_or_else(|message| panic!("oc-sim refuses the org: {message}"))
    }

    /// Arms a fault on an organization.
    ///
    /// # Panics
    /// When the organization does not exist.
    pub fn inject(&self, org: &str, fault: Fault) {
        assert!(self.store.inject(org, fault), "oc-sim has no org {org}");
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
    let api = Router::new()
        .route(&format!("{BASE_PATH}/instances"), get(api::list))
        .route(
            &format!("{BASE_PATH}/instances/{{id}}/docs"),
            get(api::docs),
        )
        .route_layer(middleware::from_fn_with_state(store.clone(), gate::gate));
    api.merge(control_routes())
        .fallback(kit::unknown_route::<Store>)
        .layer(middleware::from_fn_with_state(store.clone(), log))
        .with_state(store)
}

fn control_routes() -> Router<Store> {
    Router::new()
        .route("/control/orgs", post(control::add_org))
        .route("/control/orgs/{org}", get(control::org))
        .route("/control/orgs/{org}/instances", post(control::add_instance))
        .route(
            "/control/orgs/{org}/faults",
            post(kit::inject::<Store>).delete(kit::clear_faults::<Store>),
        )
        .route(
            "/control/instances/{id}",
            get(control::instance)
                .patch(control::change)
                .delete(control::delete),
        )
        .route("/control/instances/{id}/token", post(control::rotate))
        .route("/control/instances/{id}/spec", put(control::set_spec))
        .route(
            "/control/instances/{id}/spec/paths",
            post(control::add_path),
        )
        .route("/control/requests", get(control::requests))
        .route("/control/counts", get(control::counts))
        .route("/control/reset", post(kit::reset::<Store>))
}

/// Logs every request outside `/control`, classifying its credentials but never keeping them.
async fn log(State(store): State<Store>, request: Request, next: Next) -> Response {
    let Some(call) = kit::api_call(&request, "/control") else {
        return next.run(request).await;
    };
    let (org, auth) = store.with(|s| auth::presented(s, request.headers()));
    let scope = gate::scope(&call.path);
    let response = next.run(request).await;
    let record = RequestRecord {
        org,
        method: call.method,
        path: call.path,
        query: call.query,
        endpoint: scope.endpoint,
        instance_id: scope.instance,
        status: response.status().as_u16(),
        auth: auth.to_string(),
    };
    store.with(|s| s.requests.push(record));
    response
}
