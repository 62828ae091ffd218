//! Inputs become stored objects: an application, bundle or API definition as the Director keeps
//! it, in the shape its GraphQL type reads (field name → value), with ids, timestamps, the
//! status and the defaults the Director fills in. Updates follow the Director: an application
//! update changes only the fields given (and resets the status), a bundle or API update replaces
//! the object but keeps its id and creation time.

use serde_json::{Map, Value, json};

use super::clock;

/// Copies each of `keys` that `from` holds with a non-null value.
fn copy(from: &Value, to: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(value) = from.get(*key).filter(|v| !v.is_null()) {
            to.insert(key.to_string(), value.clone());
        }
    }
}

fn list(input: &Value, key: &str, each: impl Fn(&Value) -> Value) -> Value {
    let items = input.get(key).and_then(Value::as_array);
    Value::Array(items.into_iter().flatten().map(each).collect())
}

const APPLICATION_FIELDS: &[&str] = &[
    "providerName",
    "description",
    "healthCheckURL",
    "integrationSystemID",
    "baseUrl",
    "applicationNamespace",
    "localTenantID",
];

/// A new application from an `ApplicationRegisterInput` (validated), with its inline bundles.
pub(crate) fn application(input: &Value, id: String, now: &str) -> Value {
    let mut app = Map::new();
    app.insert("id".into(), json!(id));
    copy(input, &mut app, &["name"]);
    copy(input, &mut app, APPLICATION_FIELDS);
    copy(input, &mut app, &["webhooks"]);
    let labels = input.get("labels").filter(|l| l.is_object());
    app.insert("labels".into(), labels.cloned().unwrap_or(json!({})));
    app.insert("status".into(), status(input, now));
    let bundles = list(input, "bundles", |b| bundle(b, now));
    app.insert("bundles".into(), bundles);
    app.insert("createdAt".into(), json!(now));
    app.insert("updatedAt".into(), json!(now));
    Value::Object(app)
}

fn status(input: &Value, now: &str) -> Value {
    let condition = input.get("statusCondition").and_then(Value::as_str);
    json!({"condition": condition.unwrap_or("INITIAL"), "timestamp": now})
}

/// Applies an `ApplicationUpdateInput`: given fields change, the others stay; the status
/// becomes the given condition (else `INITIAL`).
pub(crate) fn update_application(app: &mut Value, input: &Value, now: &str) {
    let Some(fields) = app.as_object_mut() else {
        return;
    };
    copy(input, fields, APPLICATION_FIELDS);
    fields.insert("status".into(), status(input, now));
    fields.insert("updatedAt".into(), json!(now));
}

/// A new bundle from a `BundleCreateInput` (validated), with its API definitions.
pub(crate) fn bundle(input: &Value, now: &str) -> Value {
    let mut bundle = bundle_fields(input);
    bundle.insert("id".into(), json!(clock::uuid()));
    let apis = list(input, "apiDefinitions", |a| api_definition(a, now));
    bundle.insert("apiDefinitions".into(), apis);
    copy(
        input,
        &mut bundle,
        &["eventDefinitions", "documents", "correlationIDs"],
    );
    bundle.insert("createdAt".into(), json!(now));
    bundle.insert("updatedAt".into(), json!(now));
    Value::Object(bundle)
}

fn bundle_fields(input: &Value) -> Map<String, Value> {
    let mut bundle = Map::new();
    let keys = ["name", "description", "instanceAuthRequestInputSchema"];
    copy(input, &mut bundle, &keys);
    if let Some(auth_input) = input.get("defaultInstanceAuth").filter(|a| a.is_object()) {
        bundle.insert("defaultInstanceAuth".into(), auth(auth_input));
    }
    bundle
}

/// Applies a `BundleUpdateInput`: its fields replace the bundle's own (absent ones are
/// cleared); id, API definitions and creation time stay.
pub(crate) fn update_bundle(bundle: &mut Value, input: &Value, now: &str) {
    let Some(fields) = bundle.as_object_mut() else {
        return;
    };
    for key in [
        "name",
        "description",
        "instanceAuthRequestInputSchema",
        "defaultInstanceAuth",
    ] {
        fields.remove(key);
    }
    fields.extend(bundle_fields(input));
    fields.insert("updatedAt".into(), json!(now));
}

/// A new API definition from an `APIDefinitionInput` (validated).
pub(crate) fn api_definition(input: &Value, now: &str) -> Value {
    let mut api = Map::new();
    api.insert("id".into(), json!(clock::uuid()));
    copy(
        input,
        &mut api,
        &["name", "description", "targetURL", "group"],
    );
    if let Some(spec_input) = input.get("spec").filter(|s| s.is_object()) {
        api.insert("spec".into(), spec(spec_input, clock::uuid(), now));
    }
    if let Some(version_input) = input.get("version").filter(|v| v.is_object()) {
        api.insert("version".into(), version(version_input));
    }
    api.insert("created_at".into(), json!(now));
    api.insert("updated_at".into(), json!(now));
    Value::Object(api)
}

/// Replaces an API definition by `input`, keeping its id, its spec's id and creation time.
pub(crate) fn update_api_definition(api: &mut Value, input: &Value, now: &str) {
    let mut replaced = api_definition(input, now);
    for key in ["id", "created_at"] {
        replaced[key] = api[key].clone();
    }
    let old_spec_id = api.pointer("/spec/id").cloned();
    if let (Some(id), Some(spec)) = (old_spec_id, replaced.get_mut("spec")) {
        spec["id"] = id;
    }
    *api = replaced;
}

fn spec(input: &Value, id: String, now: &str) -> Value {
    let mut spec = Map::new();
    spec.insert("id".into(), json!(id));
    copy(input, &mut spec, &["data", "type", "format"]);
    if let Some(fetch) = input.get("fetchRequest").filter(|f| f.is_object()) {
        spec.insert("fetchRequest".into(), fetch_request(fetch, now));
    }
    Value::Object(spec)
}

fn fetch_request(input: &Value, now: &str) -> Value {
    let mut fetch = Map::new();
    copy(input, &mut fetch, &["url", "filter"]);
    let mode = input
        .get("mode")
        .and_then(Value::as_str)
        .unwrap_or("SINGLE");
    fetch.insert("mode".into(), json!(mode));
    let status = json!({"condition": "INITIAL", "timestamp": now});
    fetch.insert("status".into(), status);
    Value::Object(fetch)
}

fn version(input: &Value) -> Value {
    let mut version = Map::new();
    copy(input, &mut version, &["value", "deprecatedSince"]);
    for flag in ["deprecated", "forRemoval"] {
        let value = input.get(flag).and_then(Value::as_bool).unwrap_or(false);
        version.insert(flag.into(), json!(value));
    }
    Value::Object(version)
}

/// An `Auth` from an `AuthInput`: the credential unwrapped from its kind (the `CredentialData`
/// union member), headers and query parameters both as maps and serialized.
pub(crate) fn auth(input: &Value) -> Value {
    let mut auth = Map::new();
    copy(input, &mut auth, &["accessStrategy", "certCommonName"]);
    if let Some(credential) = input.get("credential").and_then(credential) {
        auth.insert("credential".into(), credential);
    }
    multimap(input, &mut auth, "additionalHeaders");
    multimap(input, &mut auth, "additionalQueryParams");
    let csrf = input.pointer("/requestAuth/csrf").filter(|c| c.is_object());
    if let Some(csrf) = csrf {
        let request_auth = json!({"csrf": csrf_auth(csrf)});
        auth.insert("requestAuth".into(), request_auth);
    }
    Value::Object(auth)
}

fn csrf_auth(input: &Value) -> Value {
    let mut csrf = Map::new();
    copy(input, &mut csrf, &["tokenEndpointURL"]);
    if let Some(credential) = input.get("credential").and_then(credential) {
        csrf.insert("credential".into(), credential);
    }
    multimap(input, &mut csrf, "additionalHeaders");
    multimap(input, &mut csrf, "additionalQueryParams");
    Value::Object(csrf)
}

fn credential(input: &Value) -> Option<Value> {
    ["basic", "oauth", "certificateOAuth"]
        .into_iter()
        .find_map(|kind| input.get(kind).filter(|c| c.is_object()).cloned())
}

/// Sets `key` (a map) and `keySerialized` (its JSON text) from whichever of the two is given.
fn multimap(input: &Value, to: &mut Map<String, Value>, key: &str) {
    let serialized_key = format!("{key}Serialized");
    let map = match input.get(key).filter(|m| m.is_object()) {
        Some(map) => Some(map.clone()),
        None => input
            .get(&serialized_key)
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str(text).ok()),
    };
    if let Some(map) = map {
        to.insert(serialized_key, json!(map.to_string()));
        to.insert(key.to_string(), map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_application_gets_ids_status_defaults_and_unwrapped_credentials() {
        let input = json!({
            "name": "app", "description": "d", "labels": {"k": ["v"]},
            "bundles": [{"name": "b", "defaultInstanceAuth": {
                "credential": {"basic": {"username": "u", "password": "p"}},
                "additionalHeadersSerialized": "{\"Authorization\":[\"User x\"]}"
            }, "apiDefinitions": [{"name": "api", "targetURL": "https://x",
                "spec": {"type": "OPEN_API", "format": "JSON", "data": "{}"},
                "version": {"value": "1"}}]}]
        });
        let app = application(&input, "id-1".into(), "T");
        assert_eq!(app["id"], "id-1");
        assert_eq!(
            app["status"],
            json!({"condition": "INITIAL", "timestamp": "T"})
        );
        assert_eq!(app["labels"], json!({"k": ["v"]}));
        let auth = &app["bundles"][0]["defaultInstanceAuth"];
        assert_eq!(
            auth["credential"],
            json!({"username": "u", "password": "p"})
        );
        assert_eq!(
            auth["additionalHeaders"],
            json!({"Authorization": ["User x"]})
        );
        let api = &app["bundles"][0]["apiDefinitions"][0];
        assert_eq!(api["version"]["deprecated"], false);
        assert_eq!(api["spec"]["data"], "{}");
        assert!(api["spec"]["id"].is_string());
    }

    #[test]
    fn an_application_update_keeps_fields_it_does_not_name() {
        let mut app = application(&json!({"name": "a", "providerName": "p"}), "i".into(), "T0");
        let update = json!({"description": "new", "statusCondition": "CONNECTED"});
        update_application(&mut app, &update, "T1");
        assert_eq!(app["providerName"], "p");
        assert_eq!(app["description"], "new");
        assert_eq!(app["status"]["condition"], "CONNECTED");
        assert_eq!(
            (&app["createdAt"], &app["updatedAt"]),
            (&json!("T0"), &json!("T1"))
        );
    }
}
