//! Data Fusion configuration ↔ canonical entities: four kinds in dependency order (namespaces,
//! compute profiles, pipelines, preferences), their identities, what of each CDAP reply is
//! compared, the UI noise stripped from pipelines, and the artifact versions rewritten for the
//! target instance.

use serde_json::{Map, Value, json};

use crate::declarative::{Entity, Kinds};

use super::cdap::{PIPELINE_ARTIFACTS, Profile};

/// A namespace: `<ns>`; created or updated, never deleted.
pub const NAMESPACE: &str = "namespace";
/// A compute profile: `system/<name>` or `<ns>/<name>`.
pub const PROFILE: &str = "profile";
/// A pipeline (a CDAP application of a pipeline artifact): `<ns>/<name>`.
pub const PIPELINE: &str = "pipeline";
/// Preferences of a namespace (`<ns>`) or of a pipeline (`<ns>/<name>`).
pub const PREFERENCES: &str = "preferences";
/// The system profiles every instance has: never exported, never compared.
pub const BUILT_IN_PROFILES: &[&str] = &["native", "dataproc", "autoscaling-dataproc"];
/// Keys the pipeline studio adds for itself, stripped at every depth of a pipeline's config.
const UI_NOISE: &[&str] = &["_uiPosition", "$$hashKey", "icon", "isPluginAvailable"];

/// The kinds in dependency order: profiles before the pipelines that use them, preferences after
/// the pipelines they are set on.
pub fn kinds() -> Kinds {
    Kinds::new(&[NAMESPACE, PROFILE, PIPELINE, PREFERENCES]).with_singletons(&[NAMESPACE])
}

/// A namespace's entity: its description and config.
pub fn namespace(ns: &str, found: &Value) -> Entity {
    let body = json!({
        "description": found.get("description").cloned().unwrap_or(json!("")),
        "config": found.get("config").cloned().unwrap_or(json!({})),
    });
    Entity::new(NAMESPACE, ns, &body)
}

/// A profile's entity: label, description and provisioner, its properties keyed by name (so a
/// plan's field paths name the property, and a credential's is hidden); the name and scope are the
/// identity, the status and creation time are the instance's own.
pub fn profile(ns: Option<&str>, found: &Profile) -> Entity {
    let field = |key: &str| found.rest.get(key).cloned().unwrap_or(json!(""));
    let provisioner = found.rest.get("provisioner").cloned().unwrap_or(json!({}));
    let properties: Map<String, Value> = provisioner["properties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p["name"].as_str()?;
            Some((
                name.to_string(),
                json!({"value": p["value"], "isEditable": p["isEditable"]}),
            ))
        })
        .collect();
    let body = json!({"label": field("label"), "description": field("description"),
        "provisioner": {"name": provisioner["name"], "properties": properties}});
    Entity::new(PROFILE, profile_id(ns, &found.name), &body)
}

/// The profile CDAP takes from a profile's body (its properties as a list again).
pub fn profile_request(body: &Value) -> Value {
    let properties: Vec<Value> = body["provisioner"]["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, p)| json!({"name": name, "value": p["value"], "isEditable": p["isEditable"]}))
        .collect();
    json!({"label": body["label"], "description": body["description"],
        "provisioner": {"name": body["provisioner"]["name"], "properties": properties}})
}

/// Where an entity holds a credential as a literal value (a property named like a password, key
/// or token whose value is not a `${...}` macro): ferry keeps entities in the artifact bucket and
/// shows them in plans, so it refuses them instead (Data Fusion's secure store and
/// `${secure(name)}` macros keep such values out of pipelines and profiles).
pub fn embedded_credentials(entity: &Entity) -> Vec<String> {
    let mut found = Vec::new();
    literal_credentials(&entity.body, String::new(), &mut found);
    found
}

fn literal_credentials(value: &Value, path: String, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let at = format!("{path}/{key}");
                let literal = |v: &Value| {
                    v.as_str()
                        .is_some_and(|s| s.trim().len() >= 8 && !s.trim_start().starts_with("${"))
                };
                let named = crate::declarative::diff::is_secret_name(key);
                if named && literal(child) {
                    found.push(at);
                } else if named && literal(&child["value"]) {
                    found.push(format!("{at}/value"));
                } else {
                    literal_credentials(child, at, found);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                literal_credentials(item, format!("{path}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// `system/<name>` or `<ns>/<name>`.
pub fn profile_id(ns: Option<&str>, name: &str) -> String {
    format!("{}/{name}", ns.unwrap_or("system"))
}

/// Splits a profile identity into its scope (`None`: system) and name.
pub fn profile_scope(id: &str) -> (Option<&str>, &str) {
    match id.split_once('/') {
        Some(("system", name)) => (None, name),
        Some((ns, name)) => (Some(ns), name),
        None => (None, id),
    }
}

/// A pipeline's entity from CDAP's ApplicationDetail: `{artifact, config (parsed, UI noise
/// stripped), description}`. `None` when the detail has no usable configuration.
pub fn pipeline(ns: &str, name: &str, detail: &Value) -> Option<Entity> {
    let config = match detail.get("configuration").or_else(|| detail.get("config")) {
        Some(Value::String(text)) => serde_json::from_str(text).ok()?,
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => return None,
    };
    let artifact = detail.get("artifact")?;
    let body = json!({
        "artifact": {"name": artifact["name"], "version": artifact["version"],
            "scope": artifact["scope"]},
        "config": strip_noise(&config),
        "description": detail.get("description").cloned().unwrap_or(json!("")),
    });
    Some(Entity::new(PIPELINE, format!("{ns}/{name}"), &body))
}

/// The AppRequest that deploys a pipeline's body.
pub fn app_request(body: &Value) -> Value {
    json!({"artifact": body["artifact"], "config": body["config"],
        "description": body["description"]})
}

/// A copy of a pipeline config without the studio's keys (and stage ids).
fn strip_noise(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let stage = map.contains_key("plugin") && map.contains_key("name");
            let kept: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !(UI_NOISE.contains(&k.as_str()) || stage && k.as_str() == "id"))
                .map(|(k, v)| (k.clone(), strip_noise(v)))
                .collect();
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(items.iter().map(strip_noise).collect()),
        other => other.clone(),
    }
}

/// Every artifact a pipeline's body names: the pipeline's own and each plugin's (`artifact`
/// objects at any depth of its config), as `(name, version, scope)` with the scope upper-case.
pub fn artifacts(body: &Value) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    collect_artifacts(body, &mut found);
    found.sort();
    found.dedup();
    found
}

fn collect_artifacts(value: &Value, found: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let field = |k: &str| child.get(k).and_then(Value::as_str).map(str::to_string);
                if key == "artifact"
                    && let (Some(name), Some(version), Some(scope)) =
                        (field("name"), field("version"), field("scope"))
                {
                    found.push((name, version, scope.to_ascii_uppercase()));
                } else {
                    collect_artifacts(child, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_artifacts(item, found)),
        _ => {}
    }
}

/// Rewrites a pipeline body for an instance of version `to`: the pipeline artifact's version, and
/// every SYSTEM-scope artifact (plugins) of the pipeline artifact's old version. Returns whether
/// anything changed.
pub fn rewrite_versions(body: &mut Value, to: &str) -> bool {
    let artifact = &body["artifact"];
    let is_pipeline = artifact["name"]
        .as_str()
        .is_some_and(|n| PIPELINE_ARTIFACTS.contains(&n))
        && is_system(artifact);
    let Some(from) = artifact["version"].as_str().map(str::to_string) else {
        return false;
    };
    if !is_pipeline || from == to {
        return false;
    }
    body["artifact"]["version"] = json!(to);
    rewrite_artifacts(&mut body["config"], &from, to);
    true
}

fn is_system(artifact: &Value) -> bool {
    artifact["scope"]
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("system"))
}

/// Every `{name, version, scope: SYSTEM}` object under `value` at version `from` moves to `to`.
fn rewrite_artifacts(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            let artifact = map.contains_key("name")
                && map.get("version").and_then(Value::as_str) == Some(from)
                && map
                    .get("scope")
                    .and_then(Value::as_str)
                    .is_some_and(|s| s.eq_ignore_ascii_case("system"));
            if artifact {
                map.insert("version".into(), json!(to));
            }
            for child in map.values_mut() {
                rewrite_artifacts(child, from, to);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_artifacts(item, from, to)),
        _ => {}
    }
}

/// A preferences entity (`app` `None`: the namespace's), or none when no preference is set.
pub fn preferences(
    ns: &str,
    app: Option<&str>,
    values: &std::collections::BTreeMap<String, String>,
) -> Option<Entity> {
    if values.is_empty() {
        return None;
    }
    let id = match app {
        Some(app) => format!("{ns}/{app}"),
        None => ns.to_string(),
    };
    Some(Entity::new(PREFERENCES, id, &json!(values)))
}

/// Splits a preferences or pipeline identity into namespace and pipeline.
pub fn split(id: &str) -> (&str, Option<&str>) {
    match id.split_once('/') {
        Some((ns, app)) => (ns, Some(app)),
        None => (id, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detail(version: &str) -> Value {
        let config = json!({
            "stages": [
                {"name": "GCS", "id": "GCS-1", "_uiPosition": {"top": "10px"}, "icon": "fa-gcs",
                 "plugin": {"name": "GCSFile", "type": "batchsource", "label": "GCS",
                    "artifact": {"name": "google-cloud", "version": "0.22.0", "scope": "SYSTEM"},
                    "properties": {"path": "${input.path}"}}},
                {"name": "Wrangler", "id": "Wrangler-2", "$$hashKey": "object:7",
                 "plugin": {"name": "Wrangler", "type": "transform",
                    "artifact": {"name": "wrangler-transform", "version": version, "scope": "SYSTEM"},
                    "properties": {}}}
            ],
            "connections": [{"from": "GCS", "to": "Wrangler"}],
            "engine": "spark"
        });
        json!({"name": "p", "appVersion": "uuid-1", "description": "d",
            "configuration": config.to_string(),
            "artifact": {"name": "cdap-data-pipeline", "version": version, "scope": "SYSTEM"},
            "programs": [{"type": "Workflow", "name": "DataPipelineWorkflow"}]})
    }

    #[test]
    fn a_detail_becomes_its_parsed_config_without_ui_noise() {
        let entity = pipeline("default", "p", &detail("6.9.2")).unwrap();
        assert_eq!(entity.key(), "pipeline/default/p");
        let text = entity.body.to_string();
        for noise in [
            "_uiPosition",
            "$$hashKey",
            "fa-gcs",
            "GCS-1",
            "uuid-1",
            "programs",
        ] {
            assert!(!text.contains(noise), "{noise} left in {text}");
        }
        assert_eq!(
            entity.body["config"]["stages"][0]["plugin"]["properties"]["path"],
            "${input.path}"
        );
        assert_eq!(entity.body["description"], "d");
    }

    #[test]
    fn versions_move_to_the_target_but_other_plugins_keep_theirs() {
        let mut body = pipeline("default", "p", &detail("6.9.2")).unwrap().body;
        assert!(rewrite_versions(&mut body, "6.10.1"));
        assert_eq!(body["artifact"]["version"], "6.10.1");
        let stages = &body["config"]["stages"];
        assert_eq!(stages[1]["plugin"]["artifact"]["version"], "6.10.1");
        assert_eq!(stages[0]["plugin"]["artifact"]["version"], "0.22.0");
        assert!(!rewrite_versions(&mut body, "6.10.1"), "already there");
        let same = pipeline("default", "p", &detail("6.10.1")).unwrap();
        assert_eq!(same.body, Entity::new(PIPELINE, "x", &body).body);
    }

    #[test]
    fn profile_properties_are_keyed_by_name_and_go_back_as_a_list() {
        let found: Profile =
            serde_json::from_value(json!({"name": "dp", "label": "L", "status": "ENABLED",
            "provisioner": {"name": "gcp-dataproc", "properties": [
                {"name": "region", "value": "us-central1", "isEditable": true},
                {"name": "accountKey", "value": "${secure(dp-key)}", "isEditable": false}]}}))
            .unwrap();
        let entity = profile(None, &found);
        assert_eq!(entity.key(), "profile/system/dp");
        assert_eq!(
            entity.body["provisioner"]["properties"]["region"]["value"],
            "us-central1"
        );
        assert!(
            embedded_credentials(&entity).is_empty(),
            "a macro is no credential"
        );
        let request = profile_request(&entity.body);
        assert_eq!(
            request["provisioner"]["properties"][0]["name"],
            "accountKey"
        );
        assert_eq!(
            request["provisioner"]["properties"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn literal_credentials_are_found_by_their_property_names() {
        let mut body = pipeline("default", "p", &detail("6.9.2")).unwrap().body;
        body["config"]["stages"][0]["plugin"]["properties"]["serviceAccountJSON"] =
            json!("{\"type\": \"service_account\", \"private_key\": \"...\"}");
        body["config"]["stages"][1]["plugin"]["properties"]["password"] = json!("${secure(db)}");
        let entity = Entity::new(PIPELINE, "default/p", &body);
        assert_eq!(
            embedded_credentials(&entity),
            ["/config/stages/0/plugin/properties/serviceAccountJSON"]
        );
    }

    #[test]
    fn identities_split_back_into_scopes() {
        assert_eq!(profile_scope("system/dp"), (None, "dp"));
        assert_eq!(profile_scope("sales/dp"), (Some("sales"), "dp"));
        assert_eq!(split("sales/p"), ("sales", Some("p")));
        assert_eq!(split("sales"), ("sales", None));
        assert!(preferences("sales", None, &Default::default()).is_none());
    }
}
