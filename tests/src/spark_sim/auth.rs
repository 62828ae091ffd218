//! Who may call: the gate every API request passes (tenant look-up, injected faults, credentials)
//! and the OAuth client-credentials token endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::json;

use super::reply::{self, Fail, Reply};
use super::state::{State as World, Store, Tenant, random_hex, take};

/// What the request log learns about a request while it is handled.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tag {
    pub tenant: Option<String>,
    pub auth: Option<&'static str>,
}

/// A request's tag, filled in by its handler and read back by the logging layer.
pub(crate) type Slot = Arc<Mutex<Tag>>;

fn mark(slot: &Slot, tenant: &str, auth: &'static str) {
    let mut tag = slot.lock().unwrap_or_else(|e| e.into_inner());
    tag.tenant = Some(tenant.to_string());
    tag.auth = Some(auth);
}

/// Which rule decides whether a request needs credentials.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// An API endpoint: always.
    Api,
    /// A package download: only while the tenant has `download_requires_auth`.
    Download,
}

/// Lets a request through to `tenant`, or answers it: 404 for an unknown tenant, then the tenant's
/// injected faults (delay, 429, 500, 401), then 401 for missing or wrong credentials.
pub(crate) async fn gate(
    store: &Store,
    slot: &Slot,
    tenant: &str,
    headers: &HeaderMap,
    access: Access,
) -> Result<(), Fail> {
    let delay = store.with(|s| admit(s, slot, tenant, headers))?;
    if let Some(millis) = delay {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    store.with(|s| check(s, tenant, headers, access))
}

/// Tags the request, finds the tenant and takes a pending delay.
fn admit(
    s: &mut World,
    slot: &Slot,
    tenant: &str,
    headers: &HeaderMap,
) -> Result<Option<u64>, Fail> {
    let found = s.tenants.get_mut(tenant);
    mark(slot, tenant, presented(headers, found.as_deref()));
    let t = found.ok_or_else(|| reply::not_found(format!("tenant {tenant} not found")))?;
    let faults = &mut t.faults;
    Ok(take(&mut faults.slow).then_some(faults.slow_millis))
}

/// Fires the tenant's pending faults, then checks the credentials when needed.
fn check(s: &mut World, tenant: &str, headers: &HeaderMap, access: Access) -> Result<(), Fail> {
    let t = s
        .tenants
        .get_mut(tenant)
        .ok_or_else(|| reply::not_found(format!("tenant {tenant} not found")))?;
    if take(&mut t.faults.rate_limit) {
        return Err(reply::rate_limited(t.faults.retry_after));
    }
    if take(&mut t.faults.server_error) {
        return Err(reply::server_error());
    }
    let needs_auth = access == Access::Api || t.faults.download_requires_auth;
    if !needs_auth {
        return Ok(());
    }
    if take(&mut t.faults.unauthorized) || !authorized(t, headers) {
        return Err(reply::unauthorized());
    }
    Ok(())
}

/// The token after a case-insensitive `Bearer ` prefix.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// The tenant an `api/v1` request addresses: its `x-tenant-name` header.
pub(crate) fn tenant_header(headers: &HeaderMap) -> Option<String> {
    header(headers, "x-tenant-name")
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

/// The kind of credentials a request presents, for the request log.
fn presented(headers: &HeaderMap, tenant: Option<&Tenant>) -> &'static str {
    if let Some(token) = bearer(headers) {
        let issued = tenant.is_some_and(|t| t.issued.contains_key(token));
        return if issued { "oauth" } else { "bearer" };
    }
    if headers.contains_key("x-synthetic-key") {
        return "api_key";
    }
    "none"
}

/// True when the request carries a valid credential of `tenant`.
fn authorized(tenant: &Tenant, headers: &HeaderMap) -> bool {
    if let Some(token) = bearer(headers) {
        let is_static = tenant.bearer_tokens.iter().any(|t| t == token);
        let live = tenant
            .issued
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry);
        if is_static || live {
            return true;
        }
    }
    let key = header(headers, "x-synthetic-key");
    let named = header(headers, "x-tenant-name") == Some(tenant.name.as_str());
    named && key.is_some_and(|k| tenant.api_keys.iter().any(|a| a == k))
}

/// `POST /auth/realms/{tenant}/protocol/openid-connect/token`: the client-credentials grant.
/// Never affected by injected faults.
pub(crate) async fn token(
    State(store): State<Store>,
    axum::Extension(slot): axum::Extension<Slot>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Reply {
    mark(&slot, &tenant, "none");
    let Ok(Form(form)) = form else {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request"));
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        ));
    }
    store.with(|s| issue(s, &tenant, &form))
}

fn issue(s: &mut World, tenant: &str, form: &HashMap<String, String>) -> Reply {
    let Some(t) = s.tenants.get_mut(tenant) else {
        let body = json!({"error": "Realm does not exist"});
        return Err((StatusCode::NOT_FOUND, axum::Json(body))
            .into_response()
            .into());
    };
    let id = form.get("client_id");
    let secret = form.get("client_secret");
    let known = t
        .clients
        .iter()
        .any(|c| Some(&c.client_id) == id && Some(&c.client_secret) == secret);
    if !known {
        let body = json!({
            "error": "unauthorized_client",
            "error_description": "Invalid client or Invalid client credentials",
        });
        return Err((StatusCode::UNAUTHORIZED, axum::Json(body))
            .into_response()
            .into());
    }
    let token = random_hex(48);
    let expiry = Instant::now() + Duration::from_secs(t.token_ttl);
    t.issued.insert(token.clone(), expiry);
    Ok(reply::ok(json!({
        "access_token": token,
        "expires_in": t.token_ttl,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": "profile email",
    })))
}

fn oauth_error(status: StatusCode, error: &str) -> Fail {
    (status, axum::Json(json!({"error": error})))
        .into_response()
        .into()
}
