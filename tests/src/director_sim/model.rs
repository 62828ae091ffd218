//! The simulator's public data shapes: OAuth2 clients, tenants with their seed applications, the
//! seed file, faults and request counts. Each one is also a JSON body of the control API.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An OAuth2 client of the token endpoint: its credentials and the scopes it may be granted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSeed {
    /// The client id.
    pub id: String,
    /// The client secret.
    pub secret: String,
    /// The scopes it may ask for, such as `application:read` and `application:write`.
    #[serde(default)]
    pub scopes: Vec<String>,
}

impl ClientSeed {
    /// A client allowed `scopes`.
    pub fn new(id: &str, secret: &str, scopes: &[&str]) -> Self {
        ClientSeed {
            id: id.to_string(),
            secret: secret.to_string(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// A tenant and the applications it starts with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSeed {
    /// The tenant id, as clients send it in the `tenant` header.
    pub id: String,
    /// Applications in the shape of `ApplicationRegisterInput` (inline `bundles` with their
    /// `apiDefinitions` included), each optionally with an `id` to keep; validated like
    /// `registerApplication`.
    pub applications: Vec<Value>,
}

/// What the `director-sim` binary loads with `--seed FILE.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedFile {
    /// Tenants with their applications.
    pub tenants: Vec<TenantSeed>,
    /// OAuth2 clients.
    pub clients: Vec<ClientSeed>,
    /// The lifetime of new access tokens, when not the default hour.
    pub token_lifetime_seconds: Option<u64>,
}

/// A fault armed on `/graphql`: answers the next `count` requests its [`FaultScope`] covers
/// (only mutations when `mutations_only`), then is gone. Its `unauthorized` kind also revokes the
/// bearer token the request presented.
pub type Fault = crate::sim_kit::faults::Fault<FaultScope>;

/// Which `/graphql` requests a fault fires on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultScope {
    /// Only requests whose operation is a mutation, when set.
    #[serde(default)]
    pub mutations_only: bool,
}

impl Fault {
    /// Limits the fault to mutations.
    pub fn mutations_only(mut self) -> Self {
        self.scope.mutations_only = true;
        self
    }
}

/// Requests received so far (faulted and refused ones included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// `/graphql` requests whose operation is a query.
    pub queries: u64,
    /// `/graphql` requests whose operation is a mutation.
    pub mutations: u64,
    /// `/graphql` requests without a parsable operation (bad JSON, bad GraphQL, subscriptions).
    pub other: u64,
    /// `POST /oauth2/token` requests.
    pub token_requests: u64,
    /// Access tokens issued.
    pub tokens_issued: u64,
}
