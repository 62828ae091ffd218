//! `POST /graphql`: the request is counted by its operation, meets the armed faults (a delay,
//! then 401, 429 or 500), needs a live bearer token from the token endpoint (else 401), and then
//! runs against the schema with its `tenant` header and token scopes. A request the schema
//! rejects before running (a document that does not parse or validate, bad variables) is
//! answered 422 with `extensions.code` `GRAPHQL_PARSE_FAILED` or `GRAPHQL_VALIDATION_FAILED`, as
//! gqlgen (the Director's GraphQL server) answers; everything else 200 with `data` and `errors`
//! (each resolver error with its `path`). A body that is not a GraphQL request is 400.

use std::time::Duration;

use async_graphql::ErrorExtensionValues;
use async_graphql::parser::parse_query;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::Served;
use super::call::Caller;
use super::faults::Refusal;
use super::operation::Operation;
use super::reply::{self, Fail};
use super::state::{State as World, Store};

/// Answers one GraphQL request.
pub(crate) async fn handle(
    State(served): State<Served>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = serde_json::from_slice::<async_graphql::Request>(&body);
    let operation = Operation::of(request.as_ref().ok());
    served.store.with(|s| count(s, operation));
    let scopes = match admit(&served.store, operation, &headers).await {
        Ok(scopes) => scopes,
        Err(fail) => return fail.into_response(),
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => return undecodable(&e),
    };
    let query = request.query.clone();
    let caller = Caller {
        tenant: tenant(&headers),
        scopes,
    };
    let response = served.schema.execute(request.data(caller)).await;
    answer(response, &query)
}

fn count(s: &mut World, operation: Operation) {
    let counter = match operation {
        Operation::Query => &mut s.counts.queries,
        Operation::Mutation => &mut s.counts.mutations,
        Operation::Other => &mut s.counts.other,
    };
    *counter += 1;
}

/// The scopes of the request's token, after the armed faults had their turn.
async fn admit(
    store: &Store,
    operation: Operation,
    headers: &HeaderMap,
) -> Result<Vec<String>, Fail> {
    if let Some(millis) = store.with(|s| s.faults.take_delay(&operation)) {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    store.with(|s| {
        let token = bearer(headers);
        match s.faults.take_refusal(&operation) {
            Some(Refusal::Unauthorized) => {
                token.map(|t| s.tokens.remove(t));
                return Err(reply::unauthorized("the access token has been revoked"));
            }
            Some(Refusal::Throttle(seconds)) => return Err(reply::throttled(seconds)),
            Some(Refusal::ServerError) => return Err(reply::server_error()),
            None => {}
        }
        let token = token.ok_or_else(|| reply::unauthorized("a bearer token is required"))?;
        let expired = || reply::unauthorized("the access token is unknown or expired");
        s.scopes(token).ok_or_else(expired)
    })
}

/// The token after a case-insensitive `Bearer ` scheme.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The `tenant` header, when present and not blank.
fn tenant(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("tenant")?.to_str().ok()?.trim();
    (!value.is_empty()).then(|| value.to_string())
}

fn undecodable(error: &serde_json::Error) -> Response {
    let message = format!("json request body could not be decoded: {error}");
    let body = json!({"errors": [{"message": message}], "data": null});
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// 422 for a request rejected before it ran (no data, no error with a path), else 200.
fn answer(mut response: async_graphql::Response, query: &str) -> Response {
    let rejected = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    if !rejected {
        return axum::Json(response).into_response();
    }
    let code = if parse_query(query).is_err() {
        "GRAPHQL_PARSE_FAILED"
    } else {
        "GRAPHQL_VALIDATION_FAILED"
    };
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default);
        extensions.set("code", code);
    }
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(response)).into_response()
}
