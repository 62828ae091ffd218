//! The gate every platform API request passes: the caller's secrets (401 without an
//! organization's exact pair), then that organization's armed faults (delay, then 401/429/500);
//! an admitted request carries its organization to the handler.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth;
use super::faults::{Refusal, Scope};
use super::model::Endpoint;
use super::reply::{self, Fail};
use super::state::Store;

/// The base path of the platform API.
pub(crate) const BASE_PATH: &str = "/elements/api-v2";

/// The organization (by name) an admitted request acts for.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub String);

/// Lets an authenticated request through, or answers it.
pub(crate) async fn gate(State(store): State<Store>, mut request: Request, next: Next) -> Response {
    let scope = scope(request.uri().path());
    match admit(&store, scope, request.headers()).await {
        Ok(org) => {
            request.extensions_mut().insert(Caller(org));
            next.run(request).await
        }
        Err(fail) => fail.into_response(),
    }
}

async fn admit(store: &Store, scope: Scope, headers: &HeaderMap) -> Result<String, Fail> {
    let (org, delay) = store.with(|s| {
        let org = auth::caller(s, headers).ok_or_else(reply::unauthorized)?;
        let delay = s
            .orgs
            .get_mut(&org)
            .and_then(|o| o.faults.take_delay(&scope));
        Ok::<_, Fail>((org, delay))
    })?;
    if let Some(millis) = delay {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    let refusal = store.with(|s| {
        let o = s.orgs.get_mut(&org).ok_or_else(reply::unauthorized)?;
        Ok::<_, Fail>(o.faults.take_refusal(&scope))
    })?;
    match refusal {
        Some(Refusal::Unauthorized) => Err(reply::unauthorized()),
        Some(Refusal::Throttle(seconds)) => Err(reply::throttled(seconds)),
        Some(Refusal::ServerError) => Err(reply::server_error()),
        None => Ok(org),
    }
}

/// What a path is: the endpoint and the instance it addresses, when it is an API path.
pub(crate) fn scope(path: &str) -> Scope {
    let rest = path.strip_prefix(BASE_PATH).unwrap_or("");
    let mut segments = rest.split('/').skip(1);
    let (first, id, last, extra) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    );
    let instance = id.and_then(|id| id.parse().ok());
    let endpoint = match (first, id, last, extra) {
        (Some("instances"), None, _, _) => Some(Endpoint::Instances),
        (Some("instances"), Some(_), Some("docs"), None) => Some(Endpoint::Docs),
        _ => None,
    };
    let instance = if first == Some("instances") {
        instance
    } else {
        None
    };
    Scope { endpoint, instance }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_endpoint_and_instance() {
        let list = scope("/elements/api-v2/instances");
        assert_eq!(
            (list.endpoint, list.instance),
            (Some(Endpoint::Instances), None)
        );
        let docs = scope("/elements/api-v2/instances/42/docs");
        assert_eq!(
            (docs.endpoint, docs.instance),
            (Some(Endpoint::Docs), Some(42))
        );
        let other = scope("/elements/api-v2/instances/42");
        assert_eq!((other.endpoint, other.instance), (None, Some(42)));
        assert_eq!(scope("/elements/api-v2/users/4").instance, None);
        assert_eq!(scope("/control/reset").endpoint, None);
    }
}
