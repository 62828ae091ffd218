//! A stateful HTTP simulator of the Sesam node API (see the Sesam contract): many nodes in one
//! process, node `N` at `http://127.0.0.1:PORT/N/api`, each with config entities (pipes, systems,
//! the `node` metadata), environment variables, write-only secrets and a developer-mode flag;
//! static-JWT bearer auth; injectable faults; and an unauthenticated control API under `/_sim`.
//!
//! # Node API (below `/{node}/api`, every call needs `Authorization: Bearer <jwt>`)
//! - `GET /config`: every entity (metadata, then systems, then pipes, each by `_id`) as a JSON array
//!   printed with a 4-space indent and keys ordered `_id`, `type`, then the rest reverse-sorted,
//!   so clients must compare parsed JSON; with `Accept: application/zip` the zip form
//!   (`node-metadata.conf.json`, `pipes/<id>.conf.json`, `systems/<id>.conf.json`, stored entries).
//! - `PUT /config?force=`: a JSON array, a raw zip (`Content-Type: application/zip`) or a multipart
//!   field `file`; replaces every entity (absent ones are deleted). 200 `{"validation_errors": []}`,
//!   or with `force=true` the reports of the entities applied but flagged invalid.
//! - `GET /pipes`, `GET /pipes/{id}`: `{_id, config: {original, effective}, runtime: {state: "Idle",
//!   is-valid-config, config-errors}}`; `POST /pipes?force=` (array, 201, 409 if one exists),
//!   `PUT /pipes/{id}/config?force=` (404 if missing, 400 if the body's `_id` differs),
//!   `DELETE /pipes/{id}` (404 if missing). The same for `/systems`; deleting a system pipes use
//!   is allowed and leaves those pipes invalid.
//! - `GET /metadata` (404 when there is none), `PUT /metadata`, `DELETE /metadata` (always 200).
//! - `GET|PUT|POST /env` (read, replace, merge), `DELETE /env/{key}`; `GET|PUT|POST /secrets`
//!   (names only, never values), `DELETE /secrets/{key}`.
//! - `GET /{node}/api`: `{"status": {"developer_mode": bool}}`. `GET /health` (no node): 200.
//!
//! Errors are `{"message": ...}` JSON; refused writes are 400 `{"validation_errors": [{"posted-config":
//! <entity>, "config-errors": [{"level": "error", "msg": ...}]}]}`.
//!
//! # Validation rules
//! Identity rules: an entity breaking one is never stored (400 even with `force=true`):
//! 1. it is a JSON object with a string `_id` matching `^[A-Za-z0-9_\-.]+$`;
//! 2. its `type` is a string: `pipe`, `metadata` or `system:<kind>`;
//! 3. a `metadata` entity has `_id` `node`;
//! 4. no two entities of one kind in one request share an `_id`; per-entity endpoints take only
//!    their own kind.
//!
//! Config rules, checked against the state being written (the upload for `PUT /config`, the node
//! after the change for per-entity writes): with `force=false` a posted entity breaking one
//! refuses the write and nothing changes; with `force=true` it is stored and reads
//! `is-valid-config: false`:
//! 1. a pipe's `source` and `sink`, when present, are objects whose `system`, when present, is a
//!    string naming an existing system;
//! 2. a pipe's `source.type`, when present, is a string;
//! 3. a `system:microservice` has a string `docker.image`.
//!
//! Validity is recomputed from the node's current state on every read.
//!
//! Tests use [`shared()`] (one instance per process) with unique node names; the `sesam-sim`
//! binary serves one as a separate process.

mod archive;
mod catalog;
mod components;
mod control;
mod faults;
mod gate;
mod info;
mod metadata;
mod model;
mod render;
mod reply;
mod rules;
mod runtime;
mod state;
mod vars;
mod whole;
mod write;

use std::sync::OnceLock;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};

use crate::sim_kit::control::{self as kit, ControlStore};

pub use crate::sim_kit::faults::FaultKind;
pub use model::{EntityKind, EntityView, Fault, FaultScope, NodeSeed, NodeView, RequestRecord};
pub use state::Store;

/// The largest request body accepted (config uploads).
const BODY_LIMIT: usize = 64 << 20;

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
        let (listener, origin) = crate::serve::bind("sesam-sim", port);
        let store = Store::new();
        let served = store.clone();
        crate::serve::spawn("sesam-sim", listener, router(served));
        Simulator { origin, store }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The node's API base URL, `http://127.0.0.1:PORT/{node}/api`.
    pub fn base_url(&self, node: &str) -> String {
        format!("{}/{node}/api", self.origin)
    }

    /// Creates a node, replacing one of the same name.
    ///
    /// # Panics
    /// When the seed's name or an entity breaks an identity rule.
    pub fn add_node(&self, seed: NodeSeed) {
        if let Err(message) = self.store.add_node(seed) {
            panic!("sesam-sim refuses the seed: {message}");
        }
    }

    /// A snapshot of a node: entities with their validity, variables, secret names, faults.
    pub fn node(&self, name: &str) -> Option<NodeView> {
        self.store.node(name)
    }

    /// Arms a fault on a node.
    ///
    /// # Panics
    /// When the node does not exist.
    pub fn inject(&self, node: &str, fault: Fault) {
        assert!(
            self.store.inject(node, fault),
            "sesam-sim has no node {node}"
        );
    }

    /// Disarms every fault of a node.
    ///
    /// # Panics
    /// When the node does not exist.
    pub fn clear_faults(&self, node: &str) {
        assert!(
            self.store.clear_faults(node),
            "sesam-sim has no node {node}"
        );
    }

    /// Every request answered so far (control requests excluded), oldest first.
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
    let control = Router::new()
        .route("/_sim/nodes", post(control::add_node))
        .route("/_sim/nodes/{name}", get(control::node))
        .route(
            "/_sim/nodes/{name}/faults",
            post(kit::inject::<Store>).delete(kit::clear_faults::<Store>),
        )
        .route("/_sim/requests", get(kit::requests::<Store>))
        .route("/_sim/reset", post(kit::reset::<Store>));
    node_api(&store)
        .route("/health", get(info::health))
        .merge(control)
        .fallback(kit::unknown_route::<Store>)
        .layer(middleware::from_fn_with_state(store.clone(), log))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(store)
}

/// The routes below `/{node}/api`, behind the gate.
fn node_api(store: &Store) -> Router<Store> {
    Router::new()
        .route("/{node}/api", get(info::status))
        .route("/{node}/api/config", get(whole::export).put(whole::import))
        .route(
            "/{node}/api/metadata",
            get(metadata::read)
                .put(metadata::replace)
                .delete(metadata::delete),
        )
        .route(
            "/{node}/api/env",
            get(vars::env).put(vars::replace_env).post(vars::merge_env),
        )
        .route("/{node}/api/env/{key}", delete(vars::delete_env))
        .route(
            "/{node}/api/secrets",
            get(vars::secrets)
                .put(vars::replace_secrets)
                .post(vars::merge_secrets),
        )
        .route("/{node}/api/secrets/{key}", delete(vars::delete_secret))
        .merge(components(EntityKind::Pipe, "pipes"))
        .merge(components(EntityKind::System, "systems"))
        .route_layer(middleware::from_fn_with_state(store.clone(), gate::gate))
}

/// The per-entity routes of pipes or systems, carrying their kind.
fn components(kind: EntityKind, plural: &str) -> Router<Store> {
    let base = format!("/{{node}}/api/{plural}");
    Router::new()
        .route(&base, get(components::list).post(components::create))
        .route(
            &format!("{base}/{{id}}"),
            get(components::read).delete(components::delete),
        )
        .route(&format!("{base}/{{id}}/config"), put(components::replace))
        .layer(Extension(kind))
}

/// Logs every request outside `/_sim`, classifying its credentials but never keeping them.
async fn log(State(store): State<Store>, request: Request, next: Next) -> Response {
    let Some(call) = kit::api_call(&request, "/_sim") else {
        return next.run(request).await;
    };
    let auth = store.with(|s| gate::presented(s, &call.path, request.headers()));
    let node = gate::addressed(&call.path).map(str::to_string);
    let response = next.run(request).await;
    let record = RequestRecord {
        node,
        method: call.method,
        path: call.path,
        query: call.query,
        status: response.status().as_u16(),
        auth: auth.to_string(),
    };
    store.with(|s| s.requests.push(record));
    response
}
