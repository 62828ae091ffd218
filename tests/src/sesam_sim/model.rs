//! The simulator's public data shapes: node seeds, node snapshots, fault scopes and the request log.
//! Each one is also a JSON body of the control API (`/_sim/...`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A node to create: its accepted JWTs, config entities, environment variables, secrets and
/// developer-mode flag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeSeed {
    /// The node name: the first path segment of its API URLs (`[A-Za-z0-9_.-]+`).
    pub name: String,
    /// JWTs accepted as `Authorization: Bearer <jwt>`.
    pub jwts: Vec<String>,
    /// Config entities (pipes, systems, the `node` metadata), stored as with `force=true`.
    pub entities: Vec<Value>,
    /// Environment variables.
    pub env: Map<String, Value>,
    /// Secret values by name.
    pub secrets: BTreeMap<String, String>,
    /// What `GET /api` reports as `status.developer_mode`.
    pub developer_mode: bool,
}

impl NodeSeed {
    /// An empty node: no JWTs, entities, variables or secrets; not in developer mode.
    pub fn new(name: &str) -> Self {
        NodeSeed {
            name: name.to_string(),
            ..NodeSeed::default()
        }
    }

    /// Accepts a JWT.
    pub fn jwt(mut self, jwt: &str) -> Self {
        self.jwts.push(jwt.to_string());
        self
    }

    /// Adds a config entity.
    pub fn entity(mut self, entity: Value) -> Self {
        self.entities.push(entity);
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, name: &str, value: Value) -> Self {
        self.env.insert(name.to_string(), value);
        self
    }

    /// Sets a secret.
    pub fn secret(mut self, name: &str, value: &str) -> Self {
        self.secrets.insert(name.to_string(), value.to_string());
        self
    }

    /// Sets the developer-mode flag.
    pub fn developer_mode(mut self, on: bool) -> Self {
        self.developer_mode = on;
        self
    }
}

/// What a config entity is, from its `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// The node metadata (`type: "metadata"`, `_id: "node"`).
    Metadata,
    /// A system (`type: "system:<kind>"`).
    System,
    /// A pipe (`type: "pipe"`).
    Pipe,
}

impl EntityKind {
    /// `metadata`, `system` or `pipe`.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Metadata => "metadata",
            EntityKind::System => "system",
            EntityKind::Pipe => "pipe",
        }
    }
}

/// A snapshot of a node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeView {
    /// The node name.
    pub name: String,
    /// Every config entity, sorted by `_id` (then kind).
    pub entities: Vec<EntityView>,
    /// Environment variables.
    pub env: Map<String, Value>,
    /// Secret names, sorted; never their values.
    pub secret_names: Vec<String>,
    /// The developer-mode flag.
    pub developer_mode: bool,
    /// Faults still armed, with their remaining counts, in arming order.
    pub faults: Vec<Fault>,
}

impl NodeView {
    /// The entity of `kind` with `_id` `id`, if present.
    pub fn find(&self, kind: EntityKind, id: &str) -> Option<&EntityView> {
        self.entities.iter().find(|e| e.kind == kind && e.id == id)
    }

    /// The pipe `id`, if present.
    pub fn pipe(&self, id: &str) -> Option<&EntityView> {
        self.find(EntityKind::Pipe, id)
    }

    /// The system `id`, if present.
    pub fn system(&self, id: &str) -> Option<&EntityView> {
        self.find(EntityKind::System, id)
    }

    /// The node metadata, if present.
    pub fn metadata(&self) -> Option<&EntityView> {
        self.find(EntityKind::Metadata, "node")
    }

    /// The `_id`s of every entity of `kind`, sorted.
    pub fn ids(&self, kind: EntityKind) -> Vec<String> {
        let ids = self.entities.iter().filter(|e| e.kind == kind);
        ids.map(|e| e.id.clone()).collect()
    }
}

/// A config entity as the node holds it, with its validity against the node's current state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityView {
    /// Its `_id`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its kind.
    pub kind: EntityKind,
    /// The entity exactly as stored (the JSON the client sent).
    pub config: Value,
    /// False when it breaks a config rule.
    #[serde(rename = "is-valid-config")]
    pub is_valid_config: bool,
    /// The rules it breaks.
    #[serde(rename = "config-errors")]
    pub config_errors: Vec<String>,
}

/// A fault armed on a node: fires on the next `count` API requests that match the optional
/// method and path prefix of its [`FaultScope`], then is gone.
pub type Fault = crate::sim_kit::faults::Fault<FaultScope>;

/// Which requests of a node a fault fires on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultScope {
    /// Only requests with this HTTP method (case-insensitive), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only requests whose path below `/{node}/api` starts with this (such as `/pipes`), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
}

impl Fault {
    /// Limits the fault to requests with `method`.
    pub fn on_method(mut self, method: &str) -> Self {
        self.scope.method = Some(method.to_string());
        self
    }

    /// Limits the fault to paths below `/{node}/api` starting with `prefix`.
    pub fn on_path(mut self, prefix: &str) -> Self {
        self.scope.path_prefix = Some(prefix.to_string());
        self
    }
}

/// One request the simulator answered (control requests under `/_sim` are not logged). Tokens are
/// never recorded, only whether one was valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The node the path addressed (`/{node}/api...`), when it named one.
    pub node: Option<String>,
    /// The HTTP method.
    pub method: String,
    /// The path as received (still percent-encoded), without the query.
    pub path: String,
    /// The query string, when there was one.
    pub query: Option<String>,
    /// The HTTP status returned.
    pub status: u16,
    /// `valid` (a JWT of the node), `invalid` (another bearer token or header) or `none`.
    pub auth: String,
}
