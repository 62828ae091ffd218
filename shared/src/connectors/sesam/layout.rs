//! Sesam configuration as entities: the files of a node folder (`node-metadata.conf.json`,
//! `pipes/*.conf.json`, `systems/*.conf.json`, the env file) and the node's own `GET /config`
//! array, both turned into the same canonical entities, so that only meaning is ever compared.

use serde_json::Value;

use crate::declarative::{Entity, Kinds};
use crate::error::TaskError;

/// Sesam's kinds in dependency order: env and metadata first, systems before the pipes that read
/// them.
pub fn kinds() -> Kinds {
    Kinds::new(&[ENV, METADATA, SYSTEM, PIPE]).with_singletons(&[ENV, METADATA])
}

/// The node's `/env` map, one entity.
pub const ENV: &str = "env";
/// The node metadata entity (`_id: node`).
pub const METADATA: &str = "metadata";
/// `system:*` entities.
pub const SYSTEM: &str = "system";
/// `pipe` entities.
pub const PIPE: &str = "pipe";

/// The kind of a config entity, from its `type`.
pub fn kind_of(entity: &Value) -> Option<&'static str> {
    match entity.get("type").and_then(Value::as_str)? {
        "pipe" => Some(PIPE),
        "metadata" => Some(METADATA),
        t if t.starts_with("system:") || t == "system" => Some(SYSTEM),
        _ => None,
    }
}

/// One config entity (a pipe, system or the metadata) as an [`Entity`]; `place` names where it
/// came from in errors.
pub fn config_entity(value: &Value, place: &str) -> Result<Entity, String> {
    let id = value
        .get("_id")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{place}: an entity without a string _id"))?;
    if !is_entity_id(id) {
        return Err(format!(
            "{place}: '{id}' is not a Sesam _id (letters, digits, '_', '-', '.'; not '.' or '..')"
        ));
    }
    let kind = kind_of(value).ok_or_else(|| {
        format!(
            "{place}: entity '{id}' has type {}, not pipe, system:* or metadata",
            value
                .get("type")
                .map_or("(none)".to_string(), Value::to_string)
        )
    })?;
    Ok(Entity::new(kind, id, value))
}

/// Sesam's `_id` grammar; `.` and `..` are refused too, since ids become URL path segments.
fn is_entity_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The env entity.
pub fn env_entity(map: &Value) -> Entity {
    Entity::new(ENV, "env", map)
}

/// The entities of a node folder's files (paths relative to the folder); `env_file` names the env
/// file among them. Every problem is reported, each naming its file.
pub fn from_files(
    files: &[(String, Vec<u8>)],
    env_file: Option<&str>,
    field: &str,
) -> Result<Vec<Entity>, TaskError> {
    let mut entities = Vec::new();
    let mut problems = Vec::new();
    let mut env_found = false;
    for (path, bytes) in files {
        let is_env = env_file == Some(path.as_str());
        if !is_env && !is_config_file(path) {
            continue;
        }
        let value: Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(e) => {
                problems.push(format!("{path} is not JSON ({e})"));
                continue;
            }
        };
        if is_env {
            env_found = true;
            match value {
                Value::Object(_) => entities.push(env_entity(&value)),
                _ => problems.push(format!("{path} must hold a JSON object of variables")),
            }
            continue;
        }
        let items = match value {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in &items {
            match config_entity(item, path) {
                Ok(entity) => entities.push(entity),
                Err(problem) => problems.push(problem),
            }
        }
    }
    if let Some(file) = env_file.filter(|_| !env_found) {
        problems.push(format!("the env file '{file}' is not in the source"));
    }
    if problems.is_empty() {
        Ok(entities)
    } else {
        Err(TaskError::invalid(field, problems.join("; ")))
    }
}

/// `node-metadata.conf.json` at the folder's top, or a `.conf.json` file under `pipes/` or
/// `systems/` (at any depth, as the node's own export nests them).
fn is_config_file(path: &str) -> bool {
    path == "node-metadata.conf.json"
        || ((path.starts_with("pipes/") || path.starts_with("systems/"))
            && path.ends_with(".conf.json"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file(path: &str, value: &Value) -> (String, Vec<u8>) {
        (path.to_string(), serde_json::to_vec_pretty(value).unwrap())
    }

    #[test]
    fn reads_metadata_systems_pipes_and_env_and_skips_other_files() {
        let files = vec![
            file(
                "node-metadata.conf.json",
                &json!({"_id": "node", "type": "metadata"}),
            ),
            file("pipes/a.conf.json", &json!({"_id": "a", "type": "pipe"})),
            file(
                "systems/s.conf.json",
                &json!([{"_id": "s", "type": "system:url"}]),
            ),
            file("profiles/prod-env.json", &json!({"base": "x"})),
            ("README.md".to_string(), b"not json".to_vec()),
        ];
        let entities = from_files(&files, Some("profiles/prod-env.json"), "source").unwrap();
        let keys: Vec<String> = entities.iter().map(Entity::key).collect();
        assert_eq!(keys, ["metadata/node", "pipe/a", "system/s", "env/env"]);
    }

    #[test]
    fn names_every_bad_file() {
        let files = vec![
            ("pipes/bad.conf.json".to_string(), b"{".to_vec()),
            file(
                "systems/t.conf.json",
                &json!({"_id": "t", "type": "dataset"}),
            ),
            file("pipes/noid.conf.json", &json!({"type": "pipe"})),
            file("pipes/up.conf.json", &json!({"_id": "..", "type": "pipe"})),
        ];
        let err = from_files(&files, Some("env.json"), "source.git.path").unwrap_err();
        let text = err.to_string();
        for needle in [
            "pipes/bad.conf.json is not JSON",
            "entity 't' has type \"dataset\"",
            "pipes/noid.conf.json: an entity without a string _id",
            "pipes/up.conf.json: '..' is not a Sesam _id",
            "the env file 'env.json' is not in the source",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }
}
