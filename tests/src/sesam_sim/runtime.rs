//! How the node presents a pipe or system through `GET /pipes/{id}` and `GET /systems/{id}`: the
//! config as sent (`original`), the config with the node's defaults (`effective`), and a runtime
//! block with its validity against the node's current state.
//!
//! Defaults the node adds to `effective` when absent: a pipe's `batch_size: 100` and its source's
//! `type: "dataset"` (when `source` is an object); a system's `worker_threads: 10`.

use serde_json::{Value, json};

use super::catalog::Catalog;
use super::model::EntityKind;
use super::rules;

/// The wrapper `{_id, config: {original, effective}, runtime: {...}}` of an entity of `catalog`.
pub(crate) fn wrap(catalog: &Catalog, kind: EntityKind, id: &str, entity: &Value) -> Value {
    let errors = rules::config_errors(catalog, kind, entity);
    json!({
        "_id": id,
        "config": {"original": entity, "effective": effective(kind, entity)},
        "runtime": {
            "state": "Idle",
            "is-valid-config": errors.is_empty(),
            "config-errors": rules::error_list(&errors),
        },
    })
}

/// Every entity of `kind` in `catalog`, wrapped, sorted by `_id`.
pub(crate) fn wrap_all(catalog: &Catalog, kind: EntityKind) -> Value {
    let shelf = catalog.shelf(kind).iter();
    Value::Array(shelf.map(|(id, e)| wrap(catalog, kind, id, e)).collect())
}

/// `entity` with the node's defaults filled in.
fn effective(kind: EntityKind, entity: &Value) -> Value {
    let mut effective = entity.clone();
    let Some(object) = effective.as_object_mut() else {
        return effective;
    };
    match kind {
        EntityKind::Pipe => {
            object.entry("batch_size").or_insert(json!(100));
            if let Some(Value::Object(source)) = object.get_mut("source") {
                source.entry("type").or_insert(json!("dataset"));
            }
        }
        EntityKind::System => {
            object.entry("worker_threads").or_insert(json!(10));
        }
        EntityKind::Metadata => {}
    }
    effective
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_config_adds_defaults_without_overriding() {
        let pipe = json!({"_id": "p", "type": "pipe", "source": {"dataset": "d"}});
        let wrapped = wrap(&Catalog::default(), EntityKind::Pipe, "p", &pipe);
        assert_eq!(wrapped["config"]["original"], pipe);
        assert_eq!(wrapped["config"]["effective"]["batch_size"], 100);
        assert_eq!(wrapped["config"]["effective"]["source"]["type"], "dataset");
        assert_eq!(wrapped["runtime"]["is-valid-config"], true);
        let pipe = json!({"_id": "p", "type": "pipe", "batch_size": 5, "sink": {"system": "x"}});
        let wrapped = wrap(&Catalog::default(), EntityKind::Pipe, "p", &pipe);
        assert_eq!(wrapped["config"]["effective"]["batch_size"], 5);
        assert_eq!(wrapped["runtime"]["is-valid-config"], false);
        assert_eq!(wrapped["runtime"]["config-errors"][0]["level"], "error");
    }
}
