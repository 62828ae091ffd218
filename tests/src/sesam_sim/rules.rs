//! The validation rules (listed in the module doc of `sesam_sim`): identity rules, which an entity
//! must pass to be stored at all, and config rules, which decide `is-valid-config`; plus the
//! `validation_errors` report shape.

use serde_json::{Value, json};

use super::catalog::Catalog;
use super::model::EntityKind;

/// An entity that passed the identity rules.
#[derive(Clone, Debug)]
pub(crate) struct Identified {
    pub kind: EntityKind,
    pub id: String,
    pub entity: Value,
}

/// True for a non-empty id of `[A-Za-z0-9_.-]` characters.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The kind and `_id` of `entity`, or why it cannot be stored.
pub(crate) fn identify(entity: &Value) -> Result<(EntityKind, String), String> {
    let object = entity
        .as_object()
        .ok_or("the entity must be a JSON object")?;
    let id = match object.get("_id") {
        Some(Value::String(id)) => id.clone(),
        Some(_) => return Err("_id must be a string".into()),
        None => return Err("_id is missing".into()),
    };
    if !valid_id(&id) {
        return Err(format!("_id {id:?} must match ^[A-Za-z0-9_\\-.]+$"));
    }
    let kind = match object.get("type") {
        Some(Value::String(t)) => kind_of(t)?,
        Some(_) => return Err("type must be a string".into()),
        None => return Err("type is missing".into()),
    };
    if kind == EntityKind::Metadata && id != "node" {
        return Err(format!(
            "the metadata entity must have _id \"node\", not {id:?}"
        ));
    }
    Ok((kind, id))
}

fn kind_of(type_name: &str) -> Result<EntityKind, String> {
    match type_name {
        "pipe" => Ok(EntityKind::Pipe),
        "metadata" => Ok(EntityKind::Metadata),
        t if t.len() > "system:".len() && t.starts_with("system:") => Ok(EntityKind::System),
        t => Err(format!("type {t:?} is not pipe, metadata or system:<kind>")),
    }
}

/// Identifies every entity of one write, refusing duplicate `_id`s of one kind; on failure, the
/// `validation_errors` report of the entities that failed.
pub(crate) fn identify_all(entities: Vec<Value>) -> Result<Vec<Identified>, Vec<Value>> {
    let mut identified: Vec<Identified> = Vec::new();
    let mut reports = Vec::new();
    for entity in entities {
        match identify(&entity) {
            Ok((kind, id)) if identified.iter().any(|i| i.kind == kind && i.id == id) => {
                let message = format!("another {} in this request has _id {id:?}", kind.name());
                reports.push(report(&entity, &[message]));
            }
            Ok((kind, id)) => identified.push(Identified { kind, id, entity }),
            Err(message) => reports.push(report(&entity, &[message])),
        }
    }
    if reports.is_empty() {
        Ok(identified)
    } else {
        Err(reports)
    }
}

/// The config rules `entity` (of `kind`) breaks within `catalog`; empty when it is valid.
pub(crate) fn config_errors(catalog: &Catalog, kind: EntityKind, entity: &Value) -> Vec<String> {
    match kind {
        EntityKind::Pipe => pipe_errors(catalog, entity),
        EntityKind::System => system_errors(entity),
        EntityKind::Metadata => Vec::new(),
    }
}

fn pipe_errors(catalog: &Catalog, pipe: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for end in ["source", "sink"] {
        match pipe.get(end) {
            None => {}
            Some(Value::Object(_)) => errors.extend(end_errors(catalog, end, &pipe[end])),
            Some(_) => errors.push(format!("{end} must be an object")),
        }
    }
    if pipe.pointer("/source/type").is_some_and(|t| !t.is_string()) {
        errors.push("source.type must be a string".into());
    }
    errors
}

/// Errors of a pipe's `source` or `sink` object: its `system` must name an existing system.
fn end_errors(catalog: &Catalog, end: &str, object: &Value) -> Option<String> {
    match object.get("system")? {
        Value::String(system) if catalog.has_system(system) => None,
        Value::String(system) => Some(format!("{end}.system refers to unknown system {system:?}")),
        _ => Some(format!("{end}.system must be a string")),
    }
}

fn system_errors(system: &Value) -> Vec<String> {
    let microservice = system.get("type").and_then(Value::as_str) == Some("system:microservice");
    let image = system
        .pointer("/docker/image")
        .is_some_and(Value::is_string);
    if microservice && !image {
        return vec!["a system:microservice needs a string docker.image".into()];
    }
    Vec::new()
}

/// The `config-errors` list of `messages`: `[{"level": "error", "msg": ...}]`.
pub(crate) fn error_list(messages: &[String]) -> Value {
    let list = messages.iter().map(|m| json!({"level": "error", "msg": m}));
    Value::Array(list.collect())
}

/// One `validation_errors` item: the posted entity and the rules it breaks.
pub(crate) fn report(entity: &Value, messages: &[String]) -> Value {
    json!({"posted-config": entity, "config-errors": error_list(messages)})
}

/// The reports of the `posted` entities that break a config rule within `catalog`.
pub(crate) fn reports(catalog: &Catalog, posted: &[Identified]) -> Vec<Value> {
    let broken = posted.iter().filter_map(|p| {
        let errors = config_errors(catalog, p.kind, &p.entity);
        (!errors.is_empty()).then(|| report(&p.entity, &errors))
    });
    broken.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_needs_an_object_with_a_plain_id_and_a_known_type() {
        let kind = |v: Value| identify(&v).map(|(k, _)| k);
        assert_eq!(
            kind(json!({"_id": "a.b-c_1", "type": "pipe"})),
            Ok(EntityKind::Pipe)
        );
        assert_eq!(
            kind(json!({"_id": "s", "type": "system:url"})),
            Ok(EntityKind::System)
        );
        assert_eq!(
            kind(json!({"_id": "node", "type": "metadata"})),
            Ok(EntityKind::Metadata)
        );
        for bad in [
            json!([]),
            json!({"type": "pipe"}),
            json!({"_id": "a b", "type": "pipe"}),
            json!({"_id": 1, "type": "pipe"}),
            json!({"_id": "a"}),
            json!({"_id": "a", "type": "system:"}),
            json!({"_id": "a", "type": "dataset"}),
            json!({"_id": "meta", "type": "metadata"}),
        ] {
            assert!(identify(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pipes_need_existing_systems_and_microservices_an_image() {
        let mut catalog = Catalog::default();
        catalog.put(
            EntityKind::System,
            "crm",
            json!({"_id": "crm", "type": "system:url"}),
        );
        let pipe = json!({"_id": "p", "type": "pipe", "source": {"system": "crm", "type": "sql"}});
        assert!(config_errors(&catalog, EntityKind::Pipe, &pipe).is_empty());
        let pipe =
            json!({"_id": "p", "type": "pipe", "source": {"type": 1}, "sink": {"system": "erp"}});
        assert_eq!(config_errors(&catalog, EntityKind::Pipe, &pipe).len(), 2);
        let ms = json!({"_id": "m", "type": "system:microservice", "docker": {}});
        assert_eq!(config_errors(&catalog, EntityKind::System, &ms).len(), 1);
    }
}
