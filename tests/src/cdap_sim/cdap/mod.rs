//! The CDAP REST API of each instance, below `/instances/{inst}/api`: the routes, what their
//! paths name, and the look-ups every handler shares (instance, namespace, app, each a plain-text
//! 404 when missing, as CDAP answers).

mod apps;
mod namespaces;
mod preferences;
mod profiles;
mod runs;

use axum::Router;
use axum::routing::{get, post, put};
use serde::Deserialize;

use super::app::App;
use super::instance::{Instance, Namespace};
use super::reply::{self, Fail};
use super::state::Store;

/// Every parameter a CDAP path may carry.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Params {
    inst: String,
    ns: Option<String>,
    app: Option<String>,
    program: Option<String>,
    run: Option<String>,
    profile: Option<String>,
}

impl Params {
    fn ns(&self) -> &str {
        self.ns.as_deref().unwrap_or_default()
    }

    fn app(&self) -> &str {
        self.app.as_deref().unwrap_or_default()
    }

    fn profile(&self) -> &str {
        self.profile.as_deref().unwrap_or_default()
    }
}

/// Runs `f` on the instance `name` with the state locked.
fn with_instance<R>(
    store: &Store,
    name: &str,
    f: impl FnOnce(&mut Instance) -> Result<R, Fail>,
) -> Result<R, Fail> {
    store.with(|s| {
        let missing = || reply::google_not_found(format!("Data Fusion instance {name} not found"));
        f(s.instances.get_mut(name).ok_or_else(missing)?)
    })
}

/// 404 for a namespace that does not exist.
fn no_namespace(ns: &str) -> Fail {
    reply::not_found(format!("Namespace '{ns}' was not found."))
}

/// The namespace `ns` of the instance.
fn namespace<'a>(instance: &'a mut Instance, ns: &str) -> Result<&'a mut Namespace, Fail> {
    instance
        .namespaces
        .get_mut(ns)
        .ok_or_else(|| no_namespace(ns))
}

/// The app `app` of namespace `ns`.
fn app<'a>(instance: &'a mut Instance, ns: &str, app: &str) -> Result<&'a mut App, Fail> {
    let missing = || {
        reply::not_found(format!(
            "Application '{app}' was not found in namespace '{ns}'."
        ))
    };
    namespace(instance, ns)?
        .apps
        .get_mut(app)
        .ok_or_else(missing)
}

fn profile_routes() -> Router<Store> {
    Router::new()
        .route(
            "/{profile}",
            get(profiles::get)
                .put(profiles::put)
                .delete(profiles::delete),
        )
        .route("/{profile}/enable", post(profiles::enable))
        .route("/{profile}/disable", post(profiles::disable))
        .route("/{profile}/status", get(profiles::status))
}

fn preference_routes() -> axum::routing::MethodRouter<Store> {
    get(preferences::get)
        .put(preferences::put)
        .delete(preferences::delete)
}

/// The CDAP routes, relative to `/instances/{inst}/api`.
pub(crate) fn routes() -> Router<Store> {
    let ns = "/v3/namespaces/{ns}";
    let app = format!("{ns}/apps/{{app}}");
    let workflow = format!("{app}/workflows/{{program}}");
    Router::new()
        .route("/v3/version", get(namespaces::version))
        .route("/v3/namespaces", get(namespaces::list))
        .route(
            ns,
            get(namespaces::get)
                .put(namespaces::create)
                .delete(namespaces::delete),
        )
        .route(&format!("{ns}/properties"), put(namespaces::update))
        .route(&format!("{ns}/artifacts"), get(namespaces::artifacts))
        .route(&format!("{ns}/apps"), get(apps::list))
        .route(
            &app,
            get(apps::detail).put(apps::deploy).delete(apps::delete),
        )
        .route(&format!("{app}/versions"), get(apps::versions))
        .route(&format!("{workflow}/start"), post(runs::start))
        .route(&format!("{workflow}/runs"), get(runs::list))
        .route(&format!("{workflow}/runs/{{run}}"), get(runs::get))
        .route(&format!("{ns}/start"), post(runs::start_batch))
        .route("/v3/preferences", preference_routes())
        .route(&format!("{ns}/preferences"), preference_routes())
        .route(&format!("{app}/preferences"), preference_routes())
        .route("/v3/profiles", get(profiles::list))
        .route(&format!("{ns}/profiles"), get(profiles::list))
        .nest("/v3/profiles", profile_routes())
        .nest(&format!("{ns}/profiles"), profile_routes())
}
