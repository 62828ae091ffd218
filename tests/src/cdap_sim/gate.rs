//! The gates requests pass before their handler. The Data Fusion and CDAP APIs need a live
//! bearer token this simulator issued (else 401 UNAUTHENTICATED), then fire the addressed
//! instance's armed faults (delay, then 401/429/500); an admitted request carries who the token
//! stands for. The token endpoints need no token but fire the process-wide token faults.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::faults::{Armed, Refusal, Scope, scope};
use super::model::{Endpoint, FaultScope};
use super::reply::{self, Fail};
use super::state::{State as World, Store};

/// Who an admitted request acts as: the token's service account or AWS principal.
#[derive(Clone, Debug)]
pub(crate) struct Caller(pub String);

fn refuse(refusal: Option<Refusal>) -> Result<(), Fail> {
    match refusal {
        Some(Refusal::Unauthorized) => Err(reply::unauthenticated()),
        Some(Refusal::Throttle(seconds)) => Err(reply::throttled(seconds)),
        Some(Refusal::ServerError) => Err(reply::server_error()),
        None => Ok(()),
    }
}

/// Fires the faults `queue` picks from the state: a delay, then a refusal.
async fn fire(
    store: &Store,
    scope: &Scope,
    queue: impl Fn(&mut World) -> Option<&mut Armed<FaultScope>>,
) -> Result<(), Fail> {
    let delay = store.with(|s| queue(s).and_then(|q| q.take_delay(scope)));
    if let Some(millis) = delay {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    refuse(store.with(|s| queue(s).and_then(|q| q.take_refusal(scope))))
}

async fn admit(store: &Store, scope: Scope, headers: &HeaderMap) -> Result<Caller, Fail> {
    let caller = store.with(|s| {
        let token = s
            .tokens
            .caller(headers)
            .ok_or_else(reply::unauthenticated)?;
        let missing = scope
            .instance
            .as_ref()
            .filter(|i| !s.instances.contains_key(*i));
        if let Some(name) = missing
            && scope.endpoint != Some(Endpoint::Instance)
        {
            let text = format!("Data Fusion instance {name} not found");
            return Err(reply::google_not_found(text));
        }
        Ok(Caller(token.subject.clone()))
    })?;
    let name = scope.instance.clone().unwrap_or_default();
    fire(store, &scope, |s| {
        s.instances.get_mut(&name).map(|i| &mut i.faults)
    })
    .await?;
    Ok(caller)
}

/// The gate of the Data Fusion instance API and the CDAP API.
pub(crate) async fn api(State(store): State<Store>, mut request: Request, next: Next) -> Response {
    let scope = scope(request.uri().path());
    match admit(&store, scope, request.headers()).await {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(fail) => fail.into_response(),
    }
}

/// The gate of the token endpoints: their faults only.
pub(crate) async fn tokens(State(store): State<Store>, request: Request, next: Next) -> Response {
    let scope = scope(request.uri().path());
    match fire(&store, &scope, |s| Some(&mut s.google_faults)).await {
        Ok(()) => next.run(request).await,
        Err(fail) => fail.into_response(),
    }
}
