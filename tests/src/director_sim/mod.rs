//! A simulator of the Kyma Compass Director (see the Compass and Open Connectors contract): a
//! GraphQL API executed for real over the schema subset the project keeps
//! (`shared/schemas/compass-director.graphql`), behind OAuth2 client-credentials tokens it
//! issues itself, with tenants, injectable faults and an unauthenticated control API.
//!
//! # Endpoints
//! - `POST /oauth2/token`: client-credentials tokens (see `token.rs`): registered clients, the
//!   scopes they may be granted, a configurable lifetime after which the token is refused.
//! - `POST /graphql`: `Authorization: Bearer <token>` (else 401) and `tenant: <id>`. Queries need
//!   scope `application:read`, mutations `application:write` (else the GraphQL error
//!   `insufficient scopes provided, ...`); an unknown tenant is a GraphQL error. A document the
//!   schema rejects (unknown field, wrong argument type, missing required input field) is 422
//!   with `errors` (see `graphql.rs`); resolver errors come with `path`.
//! - `/control/...`: see `control.rs`.
//!
//! # Semantics
//! - `applications(filter, first, after)`: name order, pages of `first` (default and maximum
//!   200), opaque offset cursors, `totalCount`; label filters as `filter.rs` describes.
//! - `registerApplication(in, mode)`: the name rule (at most 36 characters, lowercase letters,
//!   digits, `-` and `.`, not starting with a digit) and the other `**Validation:**` notes of the
//!   SDL, a name unique within the tenant; inline bundles and API definitions are stored with
//!   the application in one step, or nothing is. Labels are stored as given.
//! - `updateApplication` changes only the fields it is given (id, name and labels stay);
//!   `setApplicationLabel`, `deleteApplicationLabel`; `addBundle`, `updateBundle`, `deleteBundle`;
//!   `addAPIDefinitionToBundle`, `updateAPIDefinition`, `deleteAPIDefinition`;
//!   `unregisterApplication` removes the application with its bundles. Unknown ids are errors.
//!   Only `mode: SYNC` is served.
//!
//! Tests start their own [`Simulator`] (faults and counts belong to one simulator); the
//! `director-sim` binary serves one as a separate process.

mod build;
mod call;
mod clock;
mod control;
mod error_path;
mod faults;
mod fields;
mod filter;
mod graphql;
mod input;
mod model;
mod mutation;
mod operation;
mod output;
mod page;
mod query;
mod reply;
mod schema;
mod state;
mod tenant;
mod token;
mod validate;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::routing::{get, post, put};

pub use crate::sim_kit::faults::FaultKind;
pub use model::{ClientSeed, Counts, Fault, FaultScope, SeedFile, TenantSeed};
pub use schema::{SDL, served_sdl};
pub use state::Store;

/// The largest request body accepted (API specs travel inline).
const BODY_LIMIT: usize = 64 << 20;

/// What the handlers share: the store and the schema over it.
#[derive(Clone)]
pub(crate) struct Served {
    store: Store,
    schema: async_graphql::dynamic::Schema,
}

/// A running simulator on 127.0.0.1, served by a background thread with its own runtime.
pub struct Simulator {
    origin: String,
    store: Store,
}

impl Simulator {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and serves until the process ends.
    /// Connections are accepted once this returns.
    pub fn start(port: u16) -> Simulator {
        let (listener, origin) = crate::serve::bind("director-sim", port);
        let store = Store::new();
        crate::serve::spawn("director-sim", listener, router(store.clone()));
        Simulator { origin, store }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.origin.clone()
    }

    /// The GraphQL endpoint, `http://127.0.0.1:PORT/graphql`.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.origin)
    }

    /// The token endpoint, `http://127.0.0.1:PORT/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.origin)
    }

    /// The simulator's state, to seed or inspect it.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

/// Every route of the simulator over `store`.
pub fn router(store: Store) -> Router {
    let schema = schema::build(store.clone());
    let control = Router::new()
        .route("/control/tenants", post(control::add_tenant))
        .route(
            "/control/tenants/{tenant}/applications",
            post(control::seed_applications).get(control::applications),
        )
        .route("/control/clients", post(control::add_client))
        .route("/control/token-lifetime", put(control::token_lifetime))
        .route(
            "/control/faults",
            post(control::inject)
                .get(control::faults)
                .delete(control::clear_faults),
        )
        .route("/control/counts", get(control::counts))
        .route("/control/reset", post(control::reset))
        .route("/control/seed", post(control::seed));
    Router::new()
        .route("/graphql", post(graphql::handle))
        .route("/oauth2/token", post(token::issue))
        .merge(control)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Served { store, schema })
}

async fn unknown_route(request: Request) -> reply::Fail {
    let text = format!("no route for {} {}", request.method(), request.uri().path());
    reply::message(StatusCode::NOT_FOUND, text)
}
