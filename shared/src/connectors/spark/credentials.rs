//! Spark credentials: the auth secret's JSON, the HTTP layer's [`Auth`] each kind becomes, and the
//! hosts the secret may be sent to.
//!
//! The secret's string value is one of `{"bearer_token": …}`, `{"api_key": …}` or
//! `{"client_id": …, "client_secret": …}` (OAuth2 client credentials from the tenant's realm),
//! optionally with `"hosts": ["excel.uat.example.org", "*.example.org"]`. Without `hosts` the
//! secret goes only to Spark's own domains ([`SPARK_DOMAINS`]) or loopback. `Debug` never prints
//! a secret value.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::TaskError;
use crate::http::{
    Auth, HostBinding, OAuthClientCredentials, SecretDoc, SecretString, StaticAuth, parse_hosts,
    strip_bearer,
};

/// Spark's public domains: tenants (`excel.<env>.coherent.global`) and their Keycloak realms.
pub const SPARK_DOMAINS: &[&str] = &["*.coherent.global"];

/// The header an API key travels in.
const API_KEY_HEADER: &str = "x-synthetic-key";

/// How ferry authenticates to one tenant, and where the secret may be sent.
#[derive(Clone)]
pub struct Credentials {
    kind: Kind,
    hosts: Vec<String>,
    secret: String,
    field: String,
}

#[derive(Clone)]
enum Kind {
    /// A ready bearer token (a user's JWT).
    Bearer(SecretString),
    /// An API key, sent as `x-synthetic-key`.
    ApiKey(SecretString),
    /// OAuth2 client credentials, exchanged for short-lived bearer tokens.
    Client {
        client_id: String,
        client_secret: SecretString,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Credentials {
    /// `bearer token`, `api key` or `oauth client credentials`, for messages.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Bearer(_) => "bearer token",
            Kind::ApiKey(_) => "api key",
            Kind::Client { .. } => "oauth client credentials",
        }
    }

    /// Reads the auth secret's string value; `secret` names it in errors (never its value), which
    /// concern the input field `auth_secret_arn`.
    pub fn from_secret(text: &str, secret: &str) -> Result<Self, TaskError> {
        Credentials::read(text, secret, "auth_secret_arn")
    }

    /// Reads the auth secret's string value given in the input field `field`
    /// (`target.spark.auth_secret_arn`), which errors name.
    pub fn read(text: &str, secret: &str, field: &str) -> Result<Self, TaskError> {
        let doc = SecretDoc::parse(
            text,
            secret,
            field,
            "{\"bearer_token\": …}, {\"api_key\": …} or {\"client_id\": …, \"client_secret\": …}, optionally with \"hosts\"",
        )?;
        let map = doc.map();
        let invalid = |problem: &str| doc.invalid(problem);
        let field_value = |key: &str| non_empty(map, key);
        let kind = match (
            field_value("bearer_token"),
            field_value("api_key"),
            field_value("client_id"),
            field_value("client_secret"),
        ) {
            (Some(token), None, None, None) => {
                Kind::Bearer(SecretString::from(strip_bearer(token)))
            }
            (None, Some(key), None, None) => Kind::ApiKey(SecretString::from(key)),
            (None, None, Some(id), Some(secret_value)) => Kind::Client {
                client_id: id.to_string(),
                client_secret: SecretString::from(secret_value),
            },
            (None, None, None, None) => {
                return Err(invalid("holds none of the known credential fields"));
            }
            _ => {
                return Err(invalid(
                    "mixes credential kinds or lacks half of a client pair",
                ));
            }
        };
        Ok(Credentials {
            kind,
            hosts: parse_hosts(map, secret, field)?,
            secret: secret.to_string(),
            field: field.to_string(),
        })
    }

    /// The hosts the secret names (empty: Spark's domains and loopback only).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Where these credentials may be sent.
    pub fn binding(&self) -> HostBinding {
        HostBinding::new(
            self.secret.clone(),
            self.field.clone(),
            self.hosts.clone(),
            SPARK_DOMAINS,
        )
    }

    /// The HTTP layer's credentials; OAuth tokens come from `token_url`.
    pub fn auth(&self, token_url: &str) -> Result<Arc<dyn Auth>, TaskError> {
        Ok(match &self.kind {
            Kind::Bearer(token) => Arc::new(StaticAuth::bearer(token)),
            Kind::ApiKey(key) => Arc::new(StaticAuth::header(API_KEY_HEADER, key.clone())),
            Kind::Client {
                client_id,
                client_secret,
            } => Arc::new(OAuthClientCredentials::new(
                token_url,
                "token_url",
                client_id.clone(),
                client_secret.clone(),
            )?),
        })
    }
}

fn non_empty<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:spark";

    #[test]
    fn reads_each_kind() {
        let bearer = Credentials::from_secret(r#"{"bearer_token": "Bearer abc"}"#, ARN).unwrap();
        assert!(matches!(&bearer.kind, Kind::Bearer(t) if t.expose_secret() == "abc"));
        let key = Credentials::from_secret(r#"{"api_key": "k"}"#, ARN).unwrap();
        assert!(matches!(&key.kind, Kind::ApiKey(k) if k.expose_secret() == "k"));
        let client =
            Credentials::from_secret(r#"{"client_id": "c", "client_secret": "s"}"#, ARN).unwrap();
        assert!(matches!(
            &client.kind,
            Kind::Client { client_id, client_secret }
                if client_id == "c" && client_secret.expose_secret() == "s"
        ));
        assert!(client.hosts().is_empty());
    }

    #[test]
    fn refuses_mixed_or_empty_secrets_without_echoing_them() {
        for text in [
            r#"{"client_id": "c"}"#,
            r#"{"api_key": "hunter2", "bearer_token": "x"}"#,
            r#"{"api_key": "hunter2", "hosts": "everywhere"}"#,
            "hunter2",
            "{}",
        ] {
            let err = Credentials::read(text, ARN, "source.spark.auth_secret_arn").unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput");
            let message = err.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(
                message.contains("source.spark.auth_secret_arn: secret '"),
                "{message}"
            );
        }
    }

    #[test]
    fn hosts_bind_the_secret() {
        let text = r#"{"api_key": "k", "hosts": ["spark.example.org"]}"#;
        let creds = Credentials::read(text, ARN, "target.spark.auth_secret_arn").unwrap();
        assert_eq!(creds.hosts(), ["spark.example.org"]);
        let binding = creds.binding();
        assert!(binding.allows(&url::Url::parse("https://spark.example.org/acme").unwrap()));
        assert!(!binding.allows(&url::Url::parse("https://excel.uat.coherent.global/a").unwrap()));
        let unbound = Credentials::from_secret(r#"{"api_key": "k"}"#, ARN).unwrap();
        assert!(
            unbound
                .binding()
                .allows(&url::Url::parse("https://excel.uat.coherent.global/a").unwrap())
        );
    }

    #[test]
    fn debug_names_the_kind_only() {
        let creds =
            Credentials::from_secret(r#"{"client_id": "c", "client_secret": "hunter2"}"#, ARN)
                .unwrap();
        assert_eq!(format!("{creds:?}"), "oauth client credentials");
        let auth = creds
            .auth("https://keycloak.uat.coherent.global/token")
            .unwrap();
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
