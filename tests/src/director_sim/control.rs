//! The unauthenticated control API under `/control`: tenants, OAuth2 clients, the token
//! lifetime, seed applications and the stored applications, faults, request counts, reset, and a
//! whole seed file at once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::Served;
use super::model::{ClientSeed, Fault, SeedFile};
use super::reply::{self, Fail, Reply};
use crate::sim_kit::control::done;

fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Fail> {
    crate::sim_kit::control::parse(body, what, reply::bad_request)
}

#[derive(Deserialize)]
struct TenantBody {
    id: String,
}

#[derive(Deserialize)]
struct LifetimeBody {
    seconds: u64,
}

/// `POST /control/tenants` with `{"id": ...}`: creates the tenant (an existing one stays).
pub(crate) async fn add_tenant(State(served): State<Served>, body: Bytes) -> Reply {
    let tenant: TenantBody = parse(&body, "tenant {\"id\": ...}")?;
    served.store.add_tenant(&tenant.id);
    Ok(done())
}

/// `POST /control/clients` with `{"id", "secret", "scopes"}`: registers the client.
pub(crate) async fn add_client(State(served): State<Served>, body: Bytes) -> Reply {
    let client: ClientSeed = parse(&body, "client")?;
    served.store.add_client(client);
    Ok(done())
}

/// `PUT /control/token-lifetime` with `{"seconds": N}`.
pub(crate) async fn token_lifetime(State(served): State<Served>, body: Bytes) -> Reply {
    let lifetime: LifetimeBody = parse(&body, "lifetime {\"seconds\": N}")?;
    served.store.set_token_lifetime(lifetime.seconds);
    Ok(done())
}

/// `POST /control/tenants/{tenant}/applications` with one `ApplicationRegisterInput` (plus an
/// optional `id`) or a list of them: stores them in order, stopping at the first refused (400);
/// answers `{"applications": [stored ...]}`.
pub(crate) async fn seed_applications(
    State(served): State<Served>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Reply {
    let inputs = match parse::<Value>(&body, "application or list of applications")? {
        Value::Array(inputs) => inputs,
        single => vec![single],
    };
    if served.store.applications(&tenant).is_none() {
        return Err(reply::not_found(format!("tenant {tenant} not found")));
    }
    let mut stored = Vec::new();
    for input in inputs {
        let app = served.store.seed_application(&tenant, input);
        stored.push(app.map_err(reply::bad_request)?);
    }
    Ok(reply::ok(json!({"applications": stored})))
}

/// `GET /control/tenants/{tenant}/applications`: every application, in name order, as stored.
pub(crate) async fn applications(
    State(served): State<Served>,
    Path(tenant): Path<String>,
) -> Reply {
    let apps = served.store.applications(&tenant);
    let apps = apps.ok_or_else(|| reply::not_found(format!("tenant {tenant} not found")))?;
    Ok(reply::ok(json!(apps)))
}

/// `POST /control/faults` with a fault: arms it.
pub(crate) async fn inject(State(served): State<Served>, body: Bytes) -> Reply {
    let fault: Fault = parse(&body, "fault")?;
    served.store.inject(fault);
    Ok(done())
}

/// `GET /control/faults`: the faults still armed.
pub(crate) async fn faults(State(served): State<Served>) -> Response {
    reply::ok(json!(served.store.faults()))
}

/// `DELETE /control/faults`: disarms every fault.
pub(crate) async fn clear_faults(State(served): State<Served>) -> Response {
    served.store.clear_faults();
    done()
}

/// `GET /control/counts`: requests received so far.
pub(crate) async fn counts(State(served): State<Served>) -> Response {
    reply::ok(json!(served.store.counts()))
}

/// `POST /control/reset`: drops everything.
pub(crate) async fn reset(State(served): State<Served>) -> Response {
    served.store.reset();
    done()
}

/// `POST /control/seed` with a seed file's content: loads it.
pub(crate) async fn seed(State(served): State<Served>, body: Bytes) -> Reply {
    let seed: SeedFile = parse(&body, "seed")?;
    served.store.load(seed).map_err(reply::bad_request)?;
    Ok(done())
}
