//! The input rules the Director checks beyond GraphQL types (the `**Validation:**` notes of the
//! SDL): the application name rule, lengths, URLs, printable names, label keys, spec type and
//! format pairs, auth inputs. Every broken rule is reported with its path below the argument,
//! such as `in.bundles[0].apiDefinitions[1].targetURL`; nothing is stored when one breaks.

use serde_json::{Map, Value};

/// Problems found so far, each `path: message`.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, path: &str, message: &str) {
        self.0.push(format!("{path}: {message}"));
    }

    fn check(&mut self, ok: bool, path: &str, message: &str) {
        if !ok {
            self.add(path, message);
        }
    }

    fn max_len(&mut self, input: &Value, path: &str, key: &str, max: usize) {
        if let Some(text) = text(input, key) {
            let message = format!("must be at most {max} characters");
            self.check(text.chars().count() <= max, &at(path, key), &message);
        }
    }

    fn url(&mut self, input: &Value, path: &str, key: &str, max: usize) {
        if let Some(text) = text(input, key) {
            self.check(is_url(text), &at(path, key), "must be a valid URL");
            self.max_len(input, path, key, max);
        }
    }

    fn printable_name(&mut self, input: &Value, path: &str, max: usize) {
        let name = text(input, "name").unwrap_or_default();
        let printable = name.chars().all(|c| c.is_ascii() && !c.is_ascii_control());
        let message = format!("must be 1 to {max} printable ASCII characters");
        let ok = printable && !name.is_empty() && name.len() <= max;
        self.check(ok, &at(path, "name"), &message);
    }

    fn into_result(self) -> Result<(), String> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(format!("invalid input: {}", self.0.join("; ")))
        }
    }
}

fn at(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn text<'a>(input: &'a Value, key: &str) -> Option<&'a str> {
    input.get(key).and_then(Value::as_str)
}

fn present<'a>(input: &'a Value, key: &str) -> Option<&'a Value> {
    input.get(key).filter(|v| !v.is_null())
}

fn items<'a>(input: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    let list = input.get(key).and_then(Value::as_array);
    list.into_iter().flatten().enumerate()
}

/// `scheme://host...` with a letter-led scheme and no whitespace.
fn is_url(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    scheme_ok && !host.is_empty() && !text.chars().any(char::is_whitespace)
}

/// What is wrong with an application name: at most 36 characters, only lowercase letters,
/// digits, `-` and `.`, not starting with a digit.
pub(crate) fn application_name(name: &str) -> Vec<&'static str> {
    let mut wrong = Vec::new();
    if name.is_empty() {
        wrong.push("must not be empty");
    }
    if name.chars().count() > 36 {
        wrong.push("must be at most 36 characters");
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if !name.chars().all(allowed) {
        wrong.push("may contain only lowercase letters a-z, digits 0-9, '-' and '.'");
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        wrong.push("must not start with a digit");
    }
    wrong
}

/// A label key: letters, digits and underscores.
pub(crate) fn label_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid input: label key {key:?} must be alphanumeric with underscores"
        ))
    }
}

/// `ApplicationRegisterInput`.
pub(crate) fn application_register(input: &Value) -> Result<(), String> {
    let mut problems = Problems::default();
    let name = text(input, "name").unwrap_or_default();
    for message in application_name(name) {
        problems.add("in.name", message);
    }
    application_fields(&mut problems, input);
    problems.url(input, "in", "baseUrl", 256);
    labels(&mut problems, input);
    for (i, hook) in items(input, "webhooks") {
        problems.url(hook, &format!("in.webhooks[{i}]"), "url", 256);
    }
    for (i, bundle) in items(input, "bundles") {
        bundle_fields(&mut problems, bundle, &format!("in.bundles[{i}]"));
    }
    problems.into_result()
}

/// `ApplicationUpdateInput`.
pub(crate) fn application_update(input: &Value) -> Result<(), String> {
    let mut problems = Problems::default();
    application_fields(&mut problems, input);
    problems.into_result()
}

fn application_fields(problems: &mut Problems, input: &Value) {
    problems.max_len(input, "in", "providerName", 256);
    problems.max_len(input, "in", "description", 2000);
    problems.url(input, "in", "healthCheckURL", 256);
}

fn labels(problems: &mut Problems, input: &Value) {
    let Some(labels) = present(input, "labels") else {
        return;
    };
    let Some(map) = labels.as_object() else {
        return problems.add("in.labels", "must be an object of label key to value");
    };
    for key in map.keys() {
        if label_key(key).is_err() {
            let message = format!("label key {key:?} must be alphanumeric with underscores");
            problems.add("in.labels", &message);
        }
    }
}

/// `BundleCreateInput`.
pub(crate) fn bundle_create(input: &Value) -> Result<(), String> {
    let mut problems = Problems::default();
    bundle_fields(&mut problems, input, "in");
    problems.into_result()
}

/// `BundleUpdateInput`.
pub(crate) fn bundle_update(input: &Value) -> Result<(), String> {
    let mut problems = Problems::default();
    bundle_own_fields(&mut problems, input, "in");
    problems.into_result()
}

fn bundle_fields(problems: &mut Problems, bundle: &Value, path: &str) {
    bundle_own_fields(problems, bundle, path);
    for (i, api) in items(bundle, "apiDefinitions") {
        api_fields(problems, api, &format!("{path}.apiDefinitions[{i}]"));
    }
}

fn bundle_own_fields(problems: &mut Problems, bundle: &Value, path: &str) {
    problems.printable_name(bundle, path, 100);
    problems.max_len(bundle, path, "description", 2000);
    if let Some(schema) = text(bundle, "instanceAuthRequestInputSchema") {
        let parses = serde_json::from_str::<Value>(schema).is_ok();
        let key = at(path, "instanceAuthRequestInputSchema");
        problems.check(parses, &key, "must be stringified JSON");
    }
    if let Some(auth) = present(bundle, "defaultInstanceAuth") {
        auth_fields(problems, auth, &at(path, "defaultInstanceAuth"));
    }
}

/// `APIDefinitionInput`.
pub(crate) fn api_definition(input: &Value) -> Result<(), String> {
    let mut problems = Problems::default();
    api_fields(&mut problems, input, "in");
    problems.into_result()
}

fn api_fields(problems: &mut Problems, api: &Value, path: &str) {
    problems.printable_name(api, path, 100);
    problems.max_len(api, path, "description", 2000);
    problems.url(api, path, "targetURL", 256);
    problems.max_len(api, path, "group", 100);
    if let Some(version) = present(api, "version") {
        let version_path = at(path, "version");
        problems.max_len(version, &version_path, "value", 256);
        problems.max_len(version, &version_path, "deprecatedSince", 256);
    }
    if let Some(spec) = present(api, "spec") {
        spec_fields(problems, spec, &at(path, "spec"));
    }
}

fn spec_fields(problems: &mut Problems, spec: &Value, path: &str) {
    let kind = text(spec, "type").unwrap_or_default();
    let format = text(spec, "format").unwrap_or_default();
    let accepted: &[&str] = match kind {
        "ODATA" => &["XML", "JSON"],
        "OPEN_API" => &["YAML", "JSON"],
        _ => &[],
    };
    let message = format!("format {format} is not accepted for type {kind}");
    problems.check(accepted.contains(&format), &at(path, "format"), &message);
    let has_source = present(spec, "data").is_some() || present(spec, "fetchRequest").is_some();
    problems.check(has_source, path, "data or fetchRequest is required");
    if let Some(fetch) = present(spec, "fetchRequest") {
        fetch_request_fields(problems, fetch, &at(path, "fetchRequest"));
    }
}

fn fetch_request_fields(problems: &mut Problems, fetch: &Value, path: &str) {
    problems.url(fetch, path, "url", 256);
    for key in ["auth", "filter"] {
        let supported = present(fetch, key).is_none();
        problems.check(supported, &at(path, key), "is currently unsupported");
    }
    let mode = text(fetch, "mode").unwrap_or("SINGLE");
    problems.check(
        mode == "SINGLE",
        &at(path, "mode"),
        "is currently unsupported",
    );
}

fn auth_fields(problems: &mut Problems, auth: &Value, path: &str) {
    if let Some(credential) = present(auth, "credential") {
        credential_fields(problems, credential, &at(path, "credential"));
    }
    for key in ["additionalHeaders", "additionalQueryParams"] {
        if let Some(map) = present(auth, key) {
            let message = "must map names to lists of values";
            problems.check(is_multimap(map), &at(path, key), message);
        }
    }
    for key in [
        "additionalHeadersSerialized",
        "additionalQueryParamsSerialized",
    ] {
        if let Some(serialized) = text(auth, key) {
            let parsed = serde_json::from_str::<Value>(serialized).ok();
            let ok = parsed.as_ref().is_some_and(is_multimap);
            let message = "must be a JSON object of names to lists of values";
            problems.check(ok, &at(path, key), message);
        }
    }
    let csrf = present(auth, "requestAuth").and_then(|r| present(r, "csrf"));
    if let Some(csrf) = csrf {
        let csrf_path = at(path, "requestAuth.csrf");
        problems.url(csrf, &csrf_path, "tokenEndpointURL", usize::MAX);
        if let Some(credential) = present(csrf, "credential") {
            credential_fields(problems, credential, &at(&csrf_path, "credential"));
        }
    }
}

fn credential_fields(problems: &mut Problems, credential: &Value, path: &str) {
    let kinds = ["basic", "oauth", "certificateOAuth"];
    let given: Vec<&str> = kinds
        .into_iter()
        .filter(|k| present(credential, k).is_some())
        .collect();
    let message = "exactly one of basic, oauth or certificateOAuth is required";
    problems.check(given.len() == 1, path, message);
    for kind in given.into_iter().filter(|k| *k != "basic") {
        let inner = &credential[kind];
        problems.url(inner, &at(path, kind), "url", usize::MAX);
    }
}

fn is_multimap(value: &Value) -> bool {
    let list_of_strings = |v: &Value| {
        v.as_array()
            .is_some_and(|l| !l.is_empty() && l.iter().all(Value::is_string))
    };
    value
        .as_object()
        .is_some_and(|m: &Map<String, Value>| m.values().all(list_of_strings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn application_names_follow_the_director_rule() {
        assert!(application_name("app-1.x").is_empty());
        assert!(application_name(&"a".repeat(36)).is_empty());
        assert_eq!(
            application_name(&"a".repeat(37)),
            ["must be at most 36 characters"]
        );
        assert_eq!(application_name("1app"), ["must not start with a digit"]);
        assert_eq!(application_name("App_1").len(), 1);
        assert_eq!(application_name(""), ["must not be empty"]);
    }

    #[test]
    fn nested_problems_are_reported_with_their_paths() {
        let input = json!({
            "name": "ok",
            "labels": {"bad-key": 1},
            "bundles": [{"name": "b", "apiDefinitions": [{
                "name": "api", "targetURL": "not a url",
                "spec": {"type": "ODATA", "format": "YAML"}
            }]}]
        });
        let message = application_register(&input).unwrap_err();
        let api = "in.bundles[0].apiDefinitions[0]";
        assert!(
            message.contains("in.labels: label key \"bad-key\""),
            "{message}"
        );
        assert!(message.contains(&format!("{api}.targetURL: must be a valid URL")));
        assert!(message.contains(&format!("{api}.spec.format: format YAML")));
        assert!(message.contains(&format!("{api}.spec: data or fetchRequest is required")));
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(is_url("https://api.example.com/elements/api-v2"));
        assert!(is_url("http://127.0.0.1:8080"));
        assert!(!is_url("api.example.com"));
        assert!(!is_url("https:///path"));
        assert!(!is_url("https://a b"));
    }
}
