//! The simulator's in-memory world: nodes with their JWTs, config entities, variables, secrets,
//! developer-mode flag and armed faults, plus the request log, behind one lock.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::catalog::Catalog;
use super::faults::Armed;
use axum::http::StatusCode;

use super::model::{EntityView, Fault, FaultScope, NodeSeed, NodeView, RequestRecord};
use super::reply::{self, Fail};
use super::rules;
use crate::sim_kit::control::ControlStore;
use crate::sim_kit::locked::Locked;

/// The shared state of one simulator; cheap to clone.
#[derive(Clone, Default)]
pub struct Store {
    inner: Locked<State>,
}

impl Store {
    /// An empty world.
    pub fn new() -> Self {
        Store::default()
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.inner.with(f)
    }

    /// Creates (or replaces) a node; refuses a seed with a bad name or an entity failing the
    /// identity rules (config rules only flag entities, as with `force=true`).
    pub fn add_node(&self, seed: NodeSeed) -> Result<(), String> {
        let node = Node::from_seed(seed)?;
        self.with(|s| s.nodes.insert(node.name.clone(), node));
        Ok(())
    }

    /// A snapshot of a node.
    pub fn node(&self, name: &str) -> Option<NodeView> {
        self.with(|s| s.nodes.get(name).map(Node::view))
    }
}

impl ControlStore for Store {
    const KEY: &'static str = "node";
    type Fault = Fault;
    type Record = RequestRecord;

    /// Arms a fault on a node; false when the node does not exist.
    fn inject(&self, node: &str, fault: Fault) -> bool {
        self.with(|s| s.nodes.get_mut(node).map(|n| n.faults.arm(fault)).is_some())
    }

    /// Disarms every fault of a node; false when the node does not exist.
    fn clear_faults(&self, node: &str) -> bool {
        self.with(|s| s.nodes.get_mut(node).map(|n| n.faults.clear()).is_some())
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.with(|s| s.requests.clone())
    }

    /// Drops every node and logged request.
    fn reset(&self) {
        self.inner.reset();
    }

    fn error(status: StatusCode, text: String) -> Fail {
        reply::message(status, text)
    }
}

/// Everything behind the lock.
#[derive(Default)]
pub(crate) struct State {
    pub nodes: HashMap<String, Node>,
    pub requests: Vec<RequestRecord>,
}

/// A node and everything it holds.
pub(crate) struct Node {
    pub name: String,
    pub jwts: Vec<String>,
    pub catalog: Catalog,
    pub env: Map<String, Value>,
    pub secrets: BTreeMap<String, String>,
    pub developer_mode: bool,
    pub faults: Armed<FaultScope>,
}

impl Node {
    fn from_seed(seed: NodeSeed) -> Result<Node, String> {
        if !rules::valid_id(&seed.name) || seed.name == "_sim" {
            return Err(format!(
                "node name {:?} must match [A-Za-z0-9_.-]+ and not be _sim",
                seed.name
            ));
        }
        let identified = rules::identify_all(seed.entities).map_err(|reports| {
            format!(
                "seed entities break identity rules: {}",
                Value::Array(reports)
            )
        })?;
        let mut catalog = Catalog::default();
        for item in identified {
            catalog.put(item.kind, &item.id, item.entity);
        }
        Ok(Node {
            name: seed.name,
            jwts: seed.jwts,
            catalog,
            env: seed.env,
            secrets: seed.secrets,
            developer_mode: seed.developer_mode,
            faults: Armed::default(),
        })
    }

    /// True when `token` is one of the node's JWTs.
    pub fn accepts(&self, token: &str) -> bool {
        self.jwts.iter().any(|jwt| jwt == token)
    }

    fn view(&self) -> NodeView {
        let mut entities: Vec<EntityView> = self
            .catalog
            .entries()
            .map(|(kind, id, entity)| {
                let errors = rules::config_errors(&self.catalog, kind, entity);
                EntityView {
                    id: id.to_string(),
                    kind,
                    config: entity.clone(),
                    is_valid_config: errors.is_empty(),
                    config_errors: errors,
                }
            })
            .collect();
        entities.sort_by(|a, b| a.id.cmp(&b.id).then(a.kind.cmp(&b.kind)));
        NodeView {
            name: self.name.clone(),
            entities,
            env: self.env.clone(),
            secret_names: self.secrets.keys().cloned().collect(),
            developer_mode: self.developer_mode,
            faults: self.faults.pending(),
        }
    }
}
