//! Field-level differences between two versions of an entity, readable by a person: which path
//! changed, old → new. The paths come from an RFC 6902 diff (the `json-patch` crate); values under
//! secret-looking names, and any value that mentions `$SECRET(`, are never shown.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a redacted value is shown as.
pub const REDACTED: &str = "(secret: not shown)";

/// Longest rendering of one value in a field change before it is cut.
const MAX_SHOWN: usize = 200;

/// One changed field of an update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldChange {
    /// JSON pointer of the field (`/source/system`); `` is the whole document.
    pub path: String,
    /// The value on the target now (absent: the field is added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The value the source wants (absent: the field is removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

impl FieldChange {
    /// `path: old → new`, `path: + new` or `path: - old`.
    pub fn describe(&self) -> String {
        let path = if self.path.is_empty() {
            "(whole document)"
        } else {
            &self.path
        };
        match (&self.old, &self.new) {
            (Some(old), Some(new)) => format!("{path}: {old} → {new}"),
            (None, Some(new)) => format!("{path}: + {new}"),
            (Some(old), None) => format!("{path}: - {old}"),
            (None, None) => format!("{path}: changed"),
        }
    }
}

/// The changed fields from `current` (the target) to `desired` (the source), in document order.
pub fn field_changes(current: &Value, desired: &Value) -> Vec<FieldChange> {
    json_patch::diff(current, desired)
        .0
        .iter()
        .map(|op| {
            let path = op.path().to_string();
            let old = current.pointer(&path);
            let new = desired.pointer(&path);
            let secret = is_secret_path(&path) || old.is_some_and(mentions_secret);
            let secret = secret || new.is_some_and(mentions_secret);
            FieldChange {
                old: old.map(|v| shown(v, secret)),
                new: new.map(|v| shown(v, secret)),
                path,
            }
        })
        .collect()
}

/// A value as a plan shows it: compact JSON, cut when long, or [`REDACTED`].
fn shown(value: &Value, secret: bool) -> String {
    if secret {
        return REDACTED.to_string();
    }
    let text = value.to_string();
    if text.chars().count() <= MAX_SHOWN {
        return text;
    }
    let cut: String = text.chars().take(MAX_SHOWN).collect();
    format!("{cut}… ({} characters)", text.chars().count())
}

/// A path whose last-but-any segment names a secret (password, token, key, …).
fn is_secret_path(path: &str) -> bool {
    path.split('/').any(is_secret_name)
}

/// Field names whose values are credentials.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "jwt",
        "api_key",
        "apikey",
        "api-key",
        "private_key",
        "privatekey",
        "credential",
        "authorization",
        "accountkey",
        "serviceaccountjson",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

/// A value that mentions a `$SECRET(...)` reference anywhere inside it.
fn mentions_secret(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("$SECRET("),
        Value::Array(items) => items.iter().any(mentions_secret),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| is_secret_name(k) || mentions_secret(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_each_changed_path_with_old_and_new() {
        let current = json!({"source": {"system": "crm", "table": "a"}, "batch": 10});
        let desired = json!({"source": {"system": "erp", "table": "a"}, "sink": {"type": "null"}});
        let lines: Vec<String> = field_changes(&current, &desired)
            .iter()
            .map(FieldChange::describe)
            .collect();
        assert!(
            lines.contains(&"/source/system: \"crm\" → \"erp\"".to_string()),
            "{lines:?}"
        );
        assert!(lines.contains(&"/batch: - 10".to_string()), "{lines:?}");
        assert!(
            lines.contains(&"/sink: + {\"type\":\"null\"}".to_string()),
            "{lines:?}"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn never_shows_secrets_or_secret_references() {
        let current =
            json!({"password": "hunter2", "url": "$SECRET(old-url)", "auth": {"token": "t1"}});
        let desired =
            json!({"password": "hunter3", "url": "$SECRET(new-url)", "auth": {"token": "t2"}});
        let changes = field_changes(&current, &desired);
        assert_eq!(changes.len(), 3);
        let text = serde_json::to_string(&changes).unwrap();
        for secret in ["hunter", "old-url", "new-url", "t1", "t2"] {
            assert!(!text.contains(secret), "{secret} shown in {text}");
        }
        assert!(changes.iter().all(|c| c.new.as_deref() == Some(REDACTED)));
    }

    #[test]
    fn cuts_long_values() {
        let long = "x".repeat(1000);
        let changes = field_changes(&json!({"q": "short"}), &json!({"q": long}));
        let new = changes[0].new.as_deref().unwrap();
        assert!(
            new.len() < 300 && new.ends_with("(1002 characters)"),
            "{new}"
        );
    }
}
