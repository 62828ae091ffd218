//! Label filters of `applications(filter: [LabelFilter!])`, as the Director applies them: every
//! filter must hold (intersection); a filter holds when the application has the label `key`
//! and, when `query` is given, the label's value matches it. Two query forms are supported:
//!
//! - the SQL/JSON path equality the Director documents for list labels, `$[*] ? (@ == "v")`,
//!   with alternatives joined by `||` (`$[*] ? (@ == "a" || @ == "b")`): the value (a list, or a
//!   single string taken as a list of one) holds one of the strings;
//! - a JSON document, compared as PostgreSQL's `jsonb @>` containment (the Director's query for
//!   other keys): `"v"` matches the string `"v"` or a list holding it, `{"k": "v"}` matches an
//!   object whose `k` contains `"v"`, `["a", "b"]` a list holding both.
//!
//! Any other query is refused with an error naming the filter.

use serde_json::{Map, Value};

/// One parsed label filter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LabelFilter {
    key: String,
    test: Test,
}

#[derive(Clone, Debug, PartialEq)]
enum Test {
    Present,
    OneOf(Vec<String>),
    Contains(Value),
}

/// The filters of the `filter` argument (null or absent: none).
pub(crate) fn parse(filters: Option<&Value>) -> Result<Vec<LabelFilter>, String> {
    let list = filters.and_then(Value::as_array);
    list.into_iter().flatten().map(parse_one).collect()
}

fn parse_one(filter: &Value) -> Result<LabelFilter, String> {
    let key = filter["key"].as_str().unwrap_or_default().to_string();
    let test = match filter.get("query").and_then(Value::as_str) {
        None => Test::Present,
        Some(query) => test_of(query).ok_or_else(|| {
            format!(
                "label filter {{key: {key:?}, query: {query:?}}}: unsupported query; supported are \
                 `$[*] ? (@ == \"value\")` (alternatives joined by ||) and JSON for containment"
            )
        })?,
    };
    Ok(LabelFilter { key, test })
}

fn test_of(query: &str) -> Option<Test> {
    let query = query.trim();
    if query.starts_with('$') {
        return equality_path(query).map(Test::OneOf);
    }
    serde_json::from_str(query).ok().map(Test::Contains)
}

/// The strings of `$[*] ? (@ == "a" || @ == "b")`.
fn equality_path(query: &str) -> Option<Vec<String>> {
    let rest = query.strip_prefix("$[*]")?.trim_start();
    let rest = rest.strip_prefix('?')?.trim();
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    inner.split("||").map(equality).collect()
}

fn equality(term: &str) -> Option<String> {
    let rest = term.trim().strip_prefix('@')?.trim_start();
    let literal = rest.strip_prefix("==")?.trim();
    serde_json::from_str::<String>(literal).ok()
}

impl LabelFilter {
    /// True when `labels` (label key → value) pass the filter.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let Some(value) = labels.get(&self.key) else {
            return false;
        };
        match &self.test {
            Test::Present => true,
            Test::OneOf(wanted) => one_of(value, wanted),
            Test::Contains(document) => contains(value, document),
        }
    }
}

fn one_of(value: &Value, wanted: &[String]) -> bool {
    let hit = |v: &Value| v.as_str().is_some_and(|s| wanted.iter().any(|w| w == s));
    match value {
        Value::Array(items) => items.iter().any(hit),
        single => hit(single),
    }
}

/// `container @> contained` on JSON values.
fn contains(container: &Value, contained: &Value) -> bool {
    match (container, contained) {
        (Value::Object(outer), Value::Object(inner)) => inner
            .iter()
            .all(|(k, v)| outer.get(k).is_some_and(|o| contains(o, v))),
        (Value::Array(outer), Value::Array(inner)) => {
            inner.iter().all(|v| outer.iter().any(|o| contains(o, v)))
        }
        (Value::Array(outer), scalar) if !scalar.is_object() => outer.contains(scalar),
        (outer, inner) => !outer.is_object() && !outer.is_array() && outer == inner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(key: &str, query: Option<&str>) -> LabelFilter {
        let filter = json!({"key": key, "query": query});
        parse(Some(&json!([filter]))).unwrap().remove(0)
    }

    fn labels(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn path_equality_matches_list_labels_and_single_strings() {
        let scenarios = labels(json!({"scenarios": ["DEFAULT", "x"], "env": "prod"}));
        assert!(filter("scenarios", Some(r#"$[*] ? (@ == "x")"#)).matches(&scenarios));
        assert!(
            filter("scenarios", Some(r#"$[*] ? ( @=="y" || @ == "DEFAULT" )"#)).matches(&scenarios)
        );
        assert!(!filter("scenarios", Some(r#"$[*] ? (@ == "y")"#)).matches(&scenarios));
        assert!(filter("env", Some(r#"$[*] ? (@ == "prod")"#)).matches(&scenarios));
        assert!(!filter("other", None).matches(&scenarios));
        assert!(filter("env", None).matches(&scenarios));
    }

    #[test]
    fn json_queries_match_by_containment() {
        let app = labels(json!({
            "open_connectors": {"connectorInstanceContext": "api.oc.com", "connectorInstanceID": "7"},
            "env": "prod", "tags": ["a", "b"]
        }));
        assert!(filter("env", Some(r#""prod""#)).matches(&app));
        assert!(!filter("env", Some(r#""dev""#)).matches(&app));
        assert!(filter("tags", Some(r#""a""#)).matches(&app));
        assert!(filter("tags", Some(r#"["b", "a"]"#)).matches(&app));
        assert!(!filter("tags", Some(r#"["a", "c"]"#)).matches(&app));
        let context = r#"{"connectorInstanceContext": "api.oc.com"}"#;
        assert!(filter("open_connectors", Some(context)).matches(&app));
        assert!(!filter("open_connectors", Some(r#"{"connectorInstanceID": "8"}"#)).matches(&app));
    }

    #[test]
    fn other_queries_are_refused_naming_the_filter() {
        for query in ["$.a > 3", "$[*] ? (@ != \"x\")", "not json"] {
            let filters = json!([{"key": "env", "query": query}]);
            let message = parse(Some(&filters)).unwrap_err();
            assert!(message.contains("label filter {key: \"env\""), "{message}");
        }
    }
}
