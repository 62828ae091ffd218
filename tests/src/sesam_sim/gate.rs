//! Who may call: the gate every `/{node}/api` request passes (node look-up, the node's armed faults,
//! then its JWTs), and how the request log classifies the credentials a request presents.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::faults::{Refusal, Scope};
use super::reply::{self, Fail};
use super::state::{State as World, Store};

/// Lets a routed node API request through, or answers it: 404 for an unknown node, then the
/// node's armed faults (delay, then 401/429/500), then 401 without one of the node's JWTs.
pub(crate) async fn gate(
    State(store): State<Store>,
    Path(params): Path<HashMap<String, String>>,
    request: Request,
    next: Next,
) -> Response {
    let node = params.get("node").cloned().unwrap_or_default();
    let method = request.method().to_string();
    let path = api_path(request.uri().path()).to_string();
    let scope = Scope {
        method: &method,
        path: &path,
    };
    match admit(&store, &node, scope, request.headers()).await {
        Ok(()) => next.run(request).await,
        Err(fail) => fail.into_response(),
    }
}

async fn admit(
    store: &Store,
    node: &str,
    scope: Scope<'_>,
    headers: &HeaderMap,
) -> Result<(), Fail> {
    let delay = store.with(|s| {
        let n = s.nodes.get_mut(node).ok_or_else(|| unknown(node))?;
        Ok::<_, Fail>(n.faults.take_delay(&scope))
    })?;
    if let Some(millis) = delay {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    store.with(|s| check(s, node, scope, headers))
}

/// Fires the first matching refusing fault, then checks the JWT.
fn check(s: &mut World, node: &str, scope: Scope, headers: &HeaderMap) -> Result<(), Fail> {
    let n = s.nodes.get_mut(node).ok_or_else(|| unknown(node))?;
    match n.faults.take_refusal(&scope) {
        Some(Refusal::Unauthorized) => return Err(reply::unauthorized()),
        Some(Refusal::Throttle(seconds)) => return Err(reply::throttled(seconds)),
        Some(Refusal::ServerError) => return Err(reply::server_error()),
        None => {}
    }
    if bearer(headers).is_some_and(|token| n.accepts(token)) {
        Ok(())
    } else {
        Err(reply::unauthorized())
    }
}

fn unknown(node: &str) -> Fail {
    reply::not_found(format!("node {node} not found"))
}

/// The node a path addresses: `x` in `/x/api` or `/x/api/...`.
pub(crate) fn addressed(path: &str) -> Option<&str> {
    let mut segments = path.strip_prefix('/')?.splitn(3, '/');
    let node = segments.next().filter(|n| !n.is_empty())?;
    (segments.next() == Some("api")).then_some(node)
}

/// The part of a node API path below `/{node}/api`, `/` for the root itself.
pub(crate) fn api_path(path: &str) -> &str {
    let Some(node) = addressed(path) else {
        return "/";
    };
    let rest = &path["/".len() + node.len() + "/api".len()..];
    if rest.is_empty() { "/" } else { rest }
}

/// The token after a case-insensitive `Bearer ` scheme.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// How the request log classifies a request's credentials: `valid` (a JWT of the node it
/// addresses), `invalid` (any other `Authorization` header) or `none`.
pub(crate) fn presented(s: &World, path: &str, headers: &HeaderMap) -> &'static str {
    if !headers.contains_key(header::AUTHORIZATION) {
        return "none";
    }
    let node = addressed(path).and_then(|name| s.nodes.get(name));
    let valid = bearer(headers).is_some_and(|token| node.is_some_and(|n| n.accepts(token)));
    if valid { "valid" } else { "invalid" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_node_and_api_path() {
        assert_eq!(addressed("/acme/api"), Some("acme"));
        assert_eq!(addressed("/acme/api/pipes/p"), Some("acme"));
        assert_eq!(addressed("/health"), None);
        assert_eq!(addressed("/acme/apix"), None);
        assert_eq!(api_path("/acme/api"), "/");
        assert_eq!(api_path("/acme/api/"), "/");
        assert_eq!(api_path("/acme/api/pipes/p/config"), "/pipes/p/config");
    }
}
