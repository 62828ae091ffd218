//! Reading untrusted JSON inputs field by field, collecting every problem with its field path.
//!
//! The request parsers ([`super::refresh`], [`super::promote`]) build on [`Validator`]: each problem
//! names the offending field (`tables[1].segments`), and all of them are reported at once.

use serde_json::{Map, Value};

use super::refresh::{Approval, Concurrency, Polling};
use crate::config::is_account_id;
use crate::error::{FieldProblem, TaskError};

/// Collects problems while reading fields of a JSON document.
#[derive(Default)]
pub(crate) struct Validator {
    pub(crate) problems: Vec<FieldProblem>,
}

/// A JSON object being read, with its path and the keys it may hold.
pub(crate) struct Obj<'a> {
    pub(crate) path: String,
    pub(crate) map: &'a Map<String, Value>,
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Validator {
    /// The parsed document when nothing was wrong, else every problem found.
    pub(crate) fn finish<T>(self, parsed: Option<T>) -> Result<T, TaskError> {
        match parsed {
            Some(parsed) if self.problems.is_empty() => Ok(parsed),
            _ => Err(TaskError::InvalidInput(self.problems)),
        }
    }

    pub(crate) fn problem(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.problems.push(FieldProblem {
            field: field.into(),
            problem: problem.into(),
        });
    }

    /// Opens `value` as an object allowing only `known` keys.
    pub(crate) fn object<'a>(
        &mut self,
        path: &str,
        value: &'a Value,
        known: &[&str],
    ) -> Option<Obj<'a>> {
        let obj = self.any_object(path, value)?;
        for key in obj.map.keys() {
            if !known.contains(&key.as_str()) {
                self.problem(
                    join(path, key),
                    format!("unknown field (expected one of: {})", known.join(", ")),
                );
            }
        }
        Some(obj)
    }

    /// Opens `value` as an object with any keys.
    pub(crate) fn any_object<'a>(&mut self, path: &str, value: &'a Value) -> Option<Obj<'a>> {
        let Some(map) = value.as_object() else {
            let field = if path.is_empty() { "$" } else { path };
            self.problem(field, format!("must be an object, found {}", kind(value)));
            return None;
        };
        Some(Obj {
            path: path.to_string(),
            map,
        })
    }

    pub(crate) fn field<'a>(
        &mut self,
        obj: &Obj<'a>,
        key: &str,
        required: bool,
    ) -> Option<&'a Value> {
        match obj.map.get(key) {
            Some(Value::Null) | None => {
                if required {
                    self.problem(join(&obj.path, key), "is required");
                }
                None
            }
            Some(value) => Some(value),
        }
    }

    pub(crate) fn string(&mut self, obj: &Obj<'_>, key: &str, required: bool) -> Option<String> {
        let value = self.field(obj, key, required)?;
        match value.as_str() {
            Some(s) if !s.trim().is_empty() || !required => Some(s.to_string()),
            Some(_) => {
                self.problem(join(&obj.path, key), "must not be empty");
                None
            }
            None => {
                self.problem(
                    join(&obj.path, key),
                    format!("must be a string, found {}", kind(value)),
                );
                None
            }
        }
    }

    pub(crate) fn boolean(&mut self, obj: &Obj<'_>, key: &str, default: bool) -> bool {
        match self.field(obj, key, false) {
            None => default,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                self.problem(
                    join(&obj.path, key),
                    format!("must be true or false, found {}", kind(other)),
                );
                default
            }
        }
    }

    pub(crate) fn integer(
        &mut self,
        obj: &Obj<'_>,
        key: &str,
        default: u64,
        range: (u64, u64),
    ) -> u64 {
        let Some(value) = self.field(obj, key, false) else {
            return default;
        };
        match value.as_u64() {
            Some(n) if (range.0..=range.1).contains(&n) => n,
            _ => {
                self.problem(
                    join(&obj.path, key),
                    format!(
                        "must be a whole number from {} to {}, found {value}",
                        range.0, range.1
                    ),
                );
                default
            }
        }
    }

    pub(crate) fn array<'a>(&mut self, obj: &Obj<'a>, key: &str) -> Option<&'a Vec<Value>> {
        let value = self.field(obj, key, false)?;
        match value.as_array() {
            Some(items) => Some(items),
            None => {
                self.problem(
                    join(&obj.path, key),
                    format!("must be a list, found {}", kind(value)),
                );
                None
            }
        }
    }

    /// Reads a list of names, each checked by `check` (which returns a problem text).
    pub(crate) fn names(
        &mut self,
        obj: &Obj<'_>,
        key: &str,
        check: fn(&str) -> Option<String>,
    ) -> Option<Vec<String>> {
        let items = self.array(obj, key)?;
        let mut names = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", join(&obj.path, key));
            match item.as_str() {
                Some(name) => match check(name) {
                    Some(problem) => self.problem(path, problem),
                    None => names.push(name.to_string()),
                },
                None => self.problem(path, format!("must be a string, found {}", kind(item))),
            }
        }
        Some(names)
    }

    /// Reads a string field and checks it with `check`.
    pub(crate) fn checked(
        &mut self,
        obj: &Obj<'_>,
        key: &str,
        check: fn(&str) -> Option<String>,
    ) -> Option<String> {
        let value = self.string(obj, key, true)?;
        match check(&value) {
            Some(problem) => {
                self.problem(join(&obj.path, key), problem);
                None
            }
            None => Some(value),
        }
    }

    pub(crate) fn polling(&mut self, root: &Obj<'_>) -> Polling {
        let defaults = Polling::default();
        let Some(value) = self.field(root, "polling", false) else {
            return defaults;
        };
        let Some(obj) = self.object("polling", value, &["interval_seconds", "deadline_seconds"])
        else {
            return defaults;
        };
        let interval_seconds = self.integer(
            &obj,
            "interval_seconds",
            defaults.interval_seconds,
            (1, 3600),
        );
        let deadline_seconds = self.integer(
            &obj,
            "deadline_seconds",
            defaults.deadline_seconds,
            (60, 7 * 24 * 3600),
        );
        if deadline_seconds < interval_seconds {
            self.problem(
                "polling.deadline_seconds",
                "must not be shorter than polling.interval_seconds",
            );
        }
        Polling {
            interval_seconds,
            deadline_seconds,
        }
    }
}

impl Validator {
    /// The optional `approval` object; `None` when the input has none.
    pub(crate) fn approval(&mut self, root: &Obj<'_>) -> Option<Approval> {
        let value = self.field(root, "approval", false)?;
        let obj = self.object("approval", value, &["required", "timeout_seconds"])?;
        let required = self.boolean(&obj, "required", true);
        let timeout_seconds = self.integer(
            &obj,
            "timeout_seconds",
            Approval::DEFAULT_TIMEOUT_SECONDS,
            (1, Approval::MAX_TIMEOUT_SECONDS),
        );
        Some(Approval {
            required,
            timeout_seconds,
        })
    }
}

impl Validator {
    pub(crate) fn concurrency(&mut self, root: &Obj<'_>) -> Concurrency {
        let defaults = Concurrency::default();
        let Some(value) = self.field(root, "concurrency", false) else {
            return defaults;
        };
        let Some(obj) = self.object("concurrency", value, &["tables", "segments", "buckets"])
        else {
            return defaults;
        };
        Concurrency {
            tables: self.integer(&obj, "tables", defaults.tables, (1, 40)),
            segments: self.integer(&obj, "segments", defaults.segments, (1, 1000)),
            buckets: self.integer(&obj, "buckets", defaults.buckets, (1, 40)),
        }
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn check_env_name(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!ok).then(|| format!("'{s}' must be 1-32 letters, digits, '-' or '_'"))
}

pub(crate) fn check_secret_arn(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.splitn(7, ':').collect();
    let ok = parts.len() == 7
        && parts[0] == "arn"
        && parts[2] == "secretsmanager"
        && is_account_id(parts[4])
        && parts[5] == "secret"
        && !parts[6].is_empty();
    (!ok).then(|| format!("'{s}' is not a Secrets Manager secret ARN"))
}
