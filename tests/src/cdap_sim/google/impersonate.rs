//! `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken` (IAM Credentials): with an
//! STS token of a pool that may impersonate `email`, body `{"scope": [...], "lifetime": "3600s"}`,
//! answers `{"accessToken": "ya29.sim-...", "expireTime": "<RFC 3339>"}`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::super::clock;
use super::super::reply::{self, Fail, Reply};
use super::super::state::{State as World, Store};
use super::super::tokens::{Kind, Token};
use super::has_cloud_platform;

const METHOD: &str = ":generateAccessToken";
const DEFAULT_LIFETIME: u64 = 3600;
const MAX_LIFETIME: u64 = 43_200;

/// The request body.
#[derive(Deserialize)]
struct GenerateRequest {
    #[serde(default)]
    scope: Vec<String>,
    lifetime: Option<String>,
}

fn invalid_argument(text: impl Into<String>) -> Fail {
    reply::google(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", text)
}

fn denied(email: &str) -> Fail {
    let text = format!(
        "Permission 'iam.serviceAccounts.getAccessToken' denied on resource projects/-/serviceAccounts/{email} (or it may not exist)."
    );
    reply::google(StatusCode::FORBIDDEN, "PERMISSION_DENIED", text)
}

/// Seconds of a `"3600s"` lifetime (1 h when absent, at most 12 h).
fn lifetime(text: Option<&str>) -> Result<u64, Fail> {
    let Some(text) = text else {
        return Ok(DEFAULT_LIFETIME);
    };
    let seconds = text.strip_suffix('s').and_then(|n| n.parse::<u64>().ok());
    match seconds {
        Some(s) if (1..=MAX_LIFETIME).contains(&s) => Ok(s),
        _ => Err(invalid_argument(format!(
            "lifetime {text:?} must be 1s to {MAX_LIFETIME}s"
        ))),
    }
}

/// The caller may impersonate `email`: it holds a live STS token of a pool listing it.
fn allowed(s: &World, headers: &HeaderMap, email: &str) -> Result<(), Fail> {
    let caller = s
        .tokens
        .caller(headers)
        .ok_or_else(reply::unauthenticated)?;
    let pool = caller.pool.as_ref().filter(|_| caller.kind == Kind::Sts);
    let pool = pool.and_then(|p| s.pools.get(p));
    if pool.is_some_and(|p| p.impersonate.iter().any(|e| e == email)) {
        Ok(())
    } else {
        Err(denied(email))
    }
}

/// `POST /v1/projects/{project}/serviceAccounts/{email}:generateAccessToken`.
pub(crate) async fn generate(
    State(store): State<Store>,
    Path((_project, target)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let email = target
        .strip_suffix(METHOD)
        .ok_or_else(|| reply::google_not_found(format!("no method on {target}")))?
        .to_string();
    let request: GenerateRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid_argument(format!("Invalid JSON payload received. {e}")))?;
    if !has_cloud_platform(request.scope.iter().map(String::as_str)) {
        return Err(invalid_argument("scope must include cloud-platform"));
    }
    let seconds = lifetime(request.lifetime.as_deref())?;
    store.with(|s| {
        allowed(s, &headers, &email)?;
        let expires_at = clock::now() + seconds;
        let token = Token {
            kind: Kind::Impersonated,
            subject: email,
            pool: None,
            expires_at,
        };
        let value = s.tokens.mint("ya29.sim-", token);
        *s.grants
            .entry(Kind::Impersonated.name().to_string())
            .or_default() += 1;
        Ok(reply::ok(
            json!({"accessToken": value, "expireTime": clock::rfc3339(expires_at)}),
        ))
    })
}
