//! Entities: one piece of a platform's configuration, named by its kind and identity, with its body
//! in canonical form (object keys sorted at every level, platform noise already stripped by the
//! connector), and the state of a whole selection as a map ordered by kind rank then identity.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::checksum::sha256_hex;
use crate::ddb_json::canonical;

/// One entity of a platform's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// The kind (`pipe`, `system`, `metadata`, `env`, …): decides the apply order.
    pub kind: String,
    /// Identity within its kind (Sesam's `_id`, a Compass label pair, a pipeline name).
    pub id: String,
    /// The document, canonical: compared as parsed JSON, never as bytes.
    pub body: Value,
}

impl Entity {
    /// An entity whose body is put in canonical form (keys sorted at every level).
    pub fn new(kind: impl Into<String>, id: impl Into<String>, body: &Value) -> Entity {
        Entity {
            kind: kind.into(),
            id: id.into(),
            body: sorted(body),
        }
    }

    /// `kind/id`, the name used in plans, bundles and messages.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }

    /// The canonical text of the body: one text per document, whatever its formatting or key order.
    pub fn canonical_text(&self) -> String {
        canonical(&self.body)
    }

    /// SHA-256 of the canonical text.
    pub fn digest(&self) -> String {
        sha256_hex(self.canonical_text().as_bytes())
    }
}

/// `text` percent-encoded outside `[A-Za-z0-9._-]`: safe as one object-key or URL path segment
/// (callers refuse `.` and `..` themselves).
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A copy of `value` with object keys sorted at every level.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let out: Map<String, Value> = keys
                .into_iter()
                .map(|k| (k.clone(), sorted(&map[k])))
                .collect();
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The kinds of one platform, in dependency order: creates and updates run in this order, deletes
/// in the reverse one. Singleton kinds (a node's one metadata document, its variables) are set or
/// left alone, never deleted, and never count as the source holding something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kinds {
    order: Vec<String>,
    singletons: Vec<String>,
}

impl Kinds {
    /// Kinds in dependency order (what others depend on first).
    pub fn new(order: &[&str]) -> Kinds {
        Kinds {
            order: order.iter().map(|k| (*k).to_string()).collect(),
            singletons: Vec::new(),
        }
    }

    /// Marks `kinds` as singletons.
    pub fn with_singletons(mut self, kinds: &[&str]) -> Kinds {
        self.singletons = kinds.iter().map(|k| (*k).to_string()).collect();
        self
    }

    /// The rank of `kind`; unknown kinds come last.
    pub fn rank(&self, kind: &str) -> usize {
        self.order
            .iter()
            .position(|k| k == kind)
            .unwrap_or(self.order.len())
    }

    /// Whether `kind` is a singleton.
    pub fn is_singleton(&self, kind: &str) -> bool {
        self.singletons.iter().any(|k| k == kind)
    }
}

/// The state of a selection: entities by (kind rank, kind, id), each identity once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    entities: BTreeMap<(usize, String, String), Entity>,
}

impl State {
    /// Builds a state; a later entity with the same kind and identity replaces an earlier one, and
    /// the replaced keys are returned so that callers can refuse duplicates.
    pub fn from_entities(kinds: &Kinds, entities: Vec<Entity>) -> (State, Vec<String>) {
        let mut state = State::default();
        let mut duplicates = Vec::new();
        for entity in entities {
            let slot = (
                kinds.rank(&entity.kind),
                entity.kind.clone(),
                entity.id.clone(),
            );
            if let Some(old) = state.entities.insert(slot, entity) {
                duplicates.push(old.key());
            }
        }
        (state, duplicates)
    }

    /// The entity of `kind` and `id`, if present.
    pub fn get(&self, kinds: &Kinds, kind: &str, id: &str) -> Option<&Entity> {
        self.entities
            .get(&(kinds.rank(kind), kind.to_string(), id.to_string()))
    }

    /// Entities in dependency order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entity> {
        self.entities.values()
    }

    /// How many entities.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// No entity at all.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// The entities, in dependency order.
    pub fn into_entities(self) -> Vec<Entity> {
        self.entities.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn key_order_and_formatting_do_not_change_the_canonical_text() {
        let a: Value =
            serde_json::from_str(r#"{"b": {"y": 1, "x": [2, {"q": 1, "p": 2}]}, "a": "s"}"#)
                .unwrap();
        let b: Value = serde_json::from_str(
            "{\n    \"a\" : \"s\",\n\"b\":{\"x\":[2,{\"p\":2,\"q\":1}],\"y\":1}}",
        )
        .unwrap();
        let (ea, eb) = (Entity::new("pipe", "p", &a), Entity::new("pipe", "p", &b));
        assert_eq!(ea.canonical_text(), eb.canonical_text());
        assert_eq!(ea.digest(), eb.digest());
        assert_eq!(
            ea.canonical_text(),
            r#"{"a":"s","b":{"x":[2,{"p":2,"q":1}],"y":1}}"#
        );
    }

    #[test]
    fn state_orders_by_kind_rank_then_id_and_reports_duplicates() {
        let kinds = Kinds::new(&["system", "pipe"]);
        let (state, duplicates) = State::from_entities(
            &kinds,
            vec![
                Entity::new("pipe", "b", &json!({})),
                Entity::new("pipe", "a", &json!({})),
                Entity::new("system", "z", &json!({})),
                Entity::new("pipe", "a", &json!({"again": true})),
            ],
        );
        let keys: Vec<String> = state.iter().map(Entity::key).collect();
        assert_eq!(keys, ["system/z", "pipe/a", "pipe/b"]);
        assert_eq!(duplicates, ["pipe/a"]);
        assert_eq!(
            state.get(&kinds, "pipe", "a").unwrap().body,
            json!({"again": true})
        );
    }
}
