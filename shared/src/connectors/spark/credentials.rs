//! Spark credentials: the auth secret's JSON, and how each kind becomes request headers.
//!
//! The secret's string value is one of `{"bearer_token": …}`, `{"api_key": …}` or
//! `{"client_id": …, "client_secret": …}` (OAuth2 client credentials from the tenant's realm).
//! `Debug` never prints a secret value.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::TaskError;

/// How ferry authenticates to one tenant.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A ready bearer token (a user's JWT).
    Bearer(String),
    /// An API key, sent as `x-synthetic-key`.
    ApiKey(String),
    /// OAuth2 client credentials, exchanged for short-lived bearer tokens.
    Client {
        /// The Keycloak client id.
        client_id: String,
        /// The client secret.
        client_secret: String,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Credentials {
    /// `bearer token`, `api key` or `oauth client '<id>'`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Bearer(_) => "bearer token",
            Credentials::ApiKey(_) => "api key",
            Credentials::Client { .. } => "oauth client credentials",
        }
    }

    /// Reads the auth secret's string value; `secret` names it in errors (never its value).
    pub fn from_secret(text: &str, secret: &str) -> Result<Self, TaskError> {
        let invalid = |problem: &str| {
            TaskError::invalid(
                "auth_secret_arn",
                format!(
                    "secret '{secret}' {problem}: store {{\"bearer_token\": …}}, {{\"api_key\": …}} or {{\"client_id\": …, \"client_secret\": …}}"
                ),
            )
        };
        let value: Value =
            serde_json::from_str(text).map_err(|_| invalid("does not hold a JSON object"))?;
        let map = value
            .as_object()
            .ok_or_else(|| invalid("does not hold a JSON object"))?;
        let field = |key: &str| non_empty(map, key);
        match (
            field("bearer_token"),
            field("api_key"),
            field("client_id"),
            field("client_secret"),
        ) {
            (Some(token), None, None, None) => Ok(Credentials::Bearer(strip_bearer(token))),
            (None, Some(key), None, None) => Ok(Credentials::ApiKey(key.to_string())),
            (None, None, Some(id), Some(secret_value)) => Ok(Credentials::Client {
                client_id: id.to_string(),
                client_secret: secret_value.to_string(),
            }),
            (None, None, None, None) => Err(invalid("holds none of the known credential fields")),
            _ => Err(invalid(
                "mixes credential kinds or lacks half of a client pair",
            )),
        }
    }
}

fn non_empty<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Drops a leading `Bearer ` the user may have pasted with the token.
fn strip_bearer(token: &str) -> String {
    let trimmed = token.trim();
    match trimmed.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => trimmed[7..].trim().to_string(),
        _ => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:spark";

    #[test]
    fn reads_each_kind() {
        assert_eq!(
            Credentials::from_secret(r#"{"bearer_token": "Bearer abc"}"#, ARN).unwrap(),
            Credentials::Bearer("abc".into())
        );
        assert_eq!(
            Credentials::from_secret(r#"{"api_key": "k"}"#, ARN).unwrap(),
            Credentials::ApiKey("k".into())
        );
        assert_eq!(
            Credentials::from_secret(r#"{"client_id": "c", "client_secret": "s"}"#, ARN).unwrap(),
            Credentials::Client {
                client_id: "c".into(),
                client_secret: "s".into()
            }
        );
    }

    #[test]
    fn refuses_mixed_or_empty_secrets_without_echoing_them() {
        for text in [
            r#"{"client_id": "c"}"#,
            r#"{"api_key": "hunter2", "bearer_token": "x"}"#,
            "hunter2",
            "{}",
        ] {
            let err = Credentials::from_secret(text, ARN).unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn debug_names_the_kind_only() {
        let creds = Credentials::Client {
            client_id: "c".into(),
            client_secret: "hunter2".into(),
        };
        assert_eq!(format!("{creds:?}"), "oauth client credentials");
    }
}
