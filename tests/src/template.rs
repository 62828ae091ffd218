//! CloudFormation templates as JSON, for tests that check what the infrastructure allows.
//!
//! A template is read with cfn-lint's own YAML decoder (the project's Python, [`python`]), so
//! short-form intrinsics arrive in their long form: `{"Ref": …}`, `{"Fn::Sub": …}`,
//! `{"Fn::If": [condition, then, else]}`. IAM statements are taken from both branches of every
//! `Fn::If`, so a check covers each way the template can be deployed.

use std::process::Command;

use serde_json::Value;

use crate::moto::{project_root, python};

/// Reads the template at `relative` (to the project root) as JSON.
pub fn load(relative: &str) -> Value {
    let script = "import json, sys\n\
                  from cfnlint.decode import cfn_yaml\n\
                  json.dump(cfn_yaml.load(sys.argv[1]), sys.stdout)";
    let path = project_root().join(relative);
    let out = run_python(script, &[path.to_string_lossy().as_ref()]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{relative} as JSON: {e}"))
}

/// Whether a parameter's `AllowedPattern` accepts `value` (CloudFormation matches the whole value).
pub fn pattern_accepts(pattern: &str, value: &str) -> bool {
    let script = "import re, sys\n\
                  print(bool(re.fullmatch(sys.argv[1], sys.argv[2])))";
    run_python(script, &[pattern, value]).trim() == "True"
}

fn run_python(script: &str, args: &[&str]) -> String {
    let python = python();
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} ({e}); run `make setup` first", python.display()));
    assert!(
        out.status.success(),
        "{}: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 from Python")
}

/// Every policy statement of the IAM role `role` (inline policies), both branches of each `Fn::If`.
pub fn role_statements(template: &Value, role: &str) -> Vec<Value> {
    let properties = &template["Resources"][role]["Properties"];
    assert!(properties.is_object(), "no role {role}");
    properties["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| branches(&policy["PolicyDocument"]["Statement"]))
        .collect()
}

/// Every policy statement of every IAM role in `template`, with the role's logical name.
pub fn all_role_statements(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, resource)| resource["Type"] == "AWS::IAM::Role")
        .flat_map(|(name, _)| {
            role_statements(template, name)
                .into_iter()
                .map(move |statement| (name.clone(), statement))
        })
        .collect()
}

/// The values `value` can take: a list's items and both branches of an `Fn::If`, without
/// `AWS::NoValue`.
pub fn branches(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.iter().flat_map(branches).collect(),
        Value::Object(map) if map.contains_key("Fn::If") => map["Fn::If"]
            .as_array()
            .map(|parts| parts.iter().skip(1).flat_map(branches).collect())
            .unwrap_or_default(),
        Value::Object(map) if map.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue") => {
            Vec::new()
        }
        other => vec![other.clone()],
    }
}

/// A statement's actions.
pub fn actions(statement: &Value) -> Vec<String> {
    branches(&statement["Action"])
        .iter()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect()
}

/// A statement's resources as text: plain strings, `Fn::Sub` templates, `Fn::GetAtt` as
/// `${Resource.Attribute}`, `Ref` as `${Name}`.
pub fn resources(statement: &Value) -> Vec<String> {
    branches(&statement["Resource"])
        .iter()
        .map(|r| match r {
            Value::String(s) => s.clone(),
            Value::Object(map) if map.contains_key("Fn::Sub") => {
                map["Fn::Sub"].as_str().unwrap_or_default().to_string()
            }
            Value::Object(map) if map.contains_key("Fn::GetAtt") => {
                let parts = branches(&map["Fn::GetAtt"]);
                let parts: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                format!("${{{}}}", parts.join("."))
            }
            Value::Object(map) if map.contains_key("Ref") => {
                format!("${{{}}}", map["Ref"].as_str().unwrap_or_default())
            }
            other => other.to_string(),
        })
        .collect()
}

/// Whether IAM's `pattern` (`*` and `?` wildcards, case-insensitive) matches `action`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    fn matches(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&p[1..], a) || (!a.is_empty() && matches(p, &a[1..])),
            (Some(b'?'), Some(_)) => matches(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => matches(&p[1..], &a[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), action.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_match_iam_wildcards() {
        assert!(action_matches("s3:Put*", "s3:PutObject"));
        assert!(action_matches("s3:*", "s3:DeleteObject"));
        assert!(action_matches("S3:putobject", "s3:PutObject"));
        assert!(!action_matches("s3:Put*", "s3:GetObject"));
        assert!(!action_matches("s3:PutObject", "s3:PutObjectAcl"));
    }

    #[test]
    fn branches_of_conditions_without_no_value() {
        let value = json!([
            {"Fn::If": ["C", {"Sid": "A"}, {"Ref": "AWS::NoValue"}]},
            {"Sid": "B"}
        ]);
        assert_eq!(
            branches(&value),
            vec![json!({"Sid": "A"}), json!({"Sid": "B"})]
        );
        let statement = json!({"Resource": [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}]});
        assert_eq!(
            resources(&statement),
            vec!["${Bucket.Arn}", "${Bucket.Arn}/*"]
        );
    }
}
