//! The Sesam node API (`https://<node>/api`) with a JWT, on the shared HTTP layer: read the
//! config and `/env`, and write one entity at a time with `force=false`, so the node validates each
//! write and a rejected one changes nothing (its `validation_errors` are reported per entity).
//!
//! The JWT is read from a secret `{"jwt": …, "hosts"?: […]}` and sent only to the hosts the secret
//! names, or, when it names none, to Sesam's own domains or loopback.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::contract::SesamNode;
use crate::error::{Failure, TaskError};
use crate::http::{
    HttpClient, HttpRequest, HttpSettings, SecretDoc, SecretString, StaticAuth, excerpt,
};

use super::layout::{METADATA, PIPE, SYSTEM};
use crate::declarative::entity::encode;

/// Sesam's own public domains: a secret without `hosts` may go only there (or to loopback).
pub const SESAM_DOMAINS: &[&str] = &["*.sesam.cloud", "*.sesam.io"];

/// A client of one node.
pub struct NodeClient {
    http: HttpClient,
    url: String,
}

impl NodeClient {
    /// A client of `node` with the JWT its secret (`text`) holds; `field` names the secret's input
    /// field in errors. A secret of the wrong shape, or not bound to the node's host, is refused
    /// before anything is sent.
    pub fn new(
        node: &SesamNode,
        text: &str,
        field: &str,
        timeout: Duration,
    ) -> Result<Self, TaskError> {
        let doc = SecretDoc::parse(
            text,
            &node.auth_secret_arn,
            field,
            "{\"jwt\": …} (optionally with \"hosts\")",
        )?;
        doc.only(&["jwt"])?;
        let jwt = doc.required("jwt")?;
        let binding = doc.binding(SESAM_DOMAINS)?;
        let auth = StaticAuth::bearer(&SecretString::from(jwt.to_string()));
        let http = HttpClient::new(
            HttpSettings::new(timeout),
            Some(Arc::new(auth)),
            binding,
            "Sesam",
        )?;
        http.check_host(&node.url)?;
        Ok(NodeClient {
            http,
            url: node.url.clone(),
        })
    }

    /// The node's API URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn at(&self, path: &str) -> String {
        format!("{}/{path}", self.url)
    }

    /// `GET /config`: every config entity of the node.
    pub async fn config(&self) -> Result<Vec<Value>, TaskError> {
        let request = HttpRequest::get(self.at("config"), "read config", &self.url)
            .header("accept", "application/json");
        self.http.json(request).await
    }

    /// `GET /env`: the node's variables.
    pub async fn env(&self) -> Result<Value, TaskError> {
        self.http
            .json(HttpRequest::get(self.at("env"), "read env", &self.url))
            .await
    }

    /// `PUT /env`: replaces the node's variables.
    pub async fn put_env(&self, env: &Value) -> Result<(), TaskError> {
        let request = HttpRequest::put(self.at("env"), "write env", &self.url).json(env);
        self.http.send(request).await.map(drop)
    }

    /// Creates or replaces one config entity of `kind`, validated by the node (`force=false`).
    pub async fn put_entity(&self, kind: &str, id: &str, body: &Value) -> Result<(), TaskError> {
        match kind {
            METADATA => {
                let request =
                    HttpRequest::put(self.at("metadata"), "write metadata", id).json(body);
                self.validated(request, kind, id).await
            }
            PIPE | SYSTEM => self.upsert(collection(kind), kind, id, body).await,
            _ => Err(unknown_kind(kind, id)),
        }
    }

    /// Updates when the entity exists, creates it otherwise (a create that finds it already
    /// there, after a lost reply, becomes an update: the call is idempotent).
    async fn upsert(
        &self,
        collection: &str,
        kind: &str,
        id: &str,
        body: &Value,
    ) -> Result<(), TaskError> {
        let update = HttpRequest::put(
            self.at(&format!("{collection}/{}/config?force=false", encode(id))),
            "update entity",
            format!("{kind}/{id}"),
        )
        .json(body)
        .accept(&[StatusCode::NOT_FOUND, StatusCode::BAD_REQUEST]);
        let reply = self.http.send(update).await?;
        match reply.status() {
            StatusCode::NOT_FOUND => {}
            StatusCode::BAD_REQUEST => return Err(rejected(kind, id, reply).await),
            _ => return Ok(()),
        }
        let create = HttpRequest::post(
            self.at(&format!("{collection}?force=false")),
            "create entity",
            format!("{kind}/{id}"),
        )
        .json(&json!([body]))
        .replayable(true);
        self.validated(create, kind, id).await
    }

    async fn validated(&self, request: HttpRequest, kind: &str, id: &str) -> Result<(), TaskError> {
        let reply = self
            .http
            .send(request.accept(&[StatusCode::BAD_REQUEST]))
            .await?;
        if reply.status() == StatusCode::BAD_REQUEST {
            return Err(rejected(kind, id, reply).await);
        }
        Ok(())
    }

    /// Deletes one config entity; one already gone counts as deleted.
    pub async fn delete_entity(&self, kind: &str, id: &str) -> Result<(), TaskError> {
        let url = match kind {
            METADATA => self.at("metadata"),
            PIPE | SYSTEM => self.at(&format!("{}/{}", collection(kind), encode(id))),
            _ => return Err(unknown_kind(kind, id)),
        };
        let request = HttpRequest::delete(url, "delete entity", format!("{kind}/{id}"))
            .accept(&[StatusCode::NOT_FOUND]);
        self.http.send(request).await.map(drop)
    }
}

fn collection(kind: &str) -> &'static str {
    if kind == PIPE { "pipes" } else { "systems" }
}

fn unknown_kind(kind: &str, id: &str) -> TaskError {
    TaskError::Mismatch(format!("{kind}/{id}: Sesam has no entity kind '{kind}'"))
}

/// The node refused an entity: its `validation_errors`, per entity, in one error.
async fn rejected(kind: &str, id: &str, reply: reqwest::Response) -> TaskError {
    let body: Value = reply.json().await.unwrap_or(Value::Null);
    let messages = validation_messages(&body);
    TaskError::Api {
        service: "Sesam",
        operation: "validate entity",
        resource: format!("{kind}/{id}"),
        failure: Failure::Rejected,
        detail: format!(
            "HTTP 400: the node rejected the config (force=false, nothing changed for it): {}",
            excerpt(&if messages.is_empty() {
                body.to_string()
            } else {
                messages.join("; ")
            })
        ),
        retry_after_seconds: None,
    }
}

/// `<_id>: <msg>` for every config error in a `validation_errors` reply.
fn validation_messages(body: &Value) -> Vec<String> {
    let empty = Vec::new();
    let errors = body
        .get("validation_errors")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut messages = Vec::new();
    for error in errors {
        let id = error
            .pointer("/posted-config/_id")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let config_errors = error
            .get("config-errors")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        for item in config_errors {
            let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
            messages.push(format!("{id}: {msg}"));
        }
    }
    messages
}

/// An empty env map.
pub fn empty_env() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(url: &str) -> SesamNode {
        SesamNode {
            url: url.to_string(),
            auth_secret_arn: "arn:aws:secretsmanager:us-east-1:1:secret:ferry/sesam".into(),
        }
    }

    fn refused(url: &str, secret: &str) -> String {
        match NodeClient::new(
            &node(url),
            secret,
            "target.sesam.auth_secret_arn",
            Duration::from_secs(5),
        ) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{url} with {secret} was accepted"),
        }
    }

    #[test]
    fn refuses_secrets_of_the_wrong_shape_without_quoting_them() {
        let text = refused(
            "https://datahub-1.sesam.cloud/api",
            r#"{"token": "s3cr3t"}"#,
        );
        assert!(text.contains("target.sesam.auth_secret_arn"), "{text}");
        assert!(
            text.contains("unknown field 'token'") && !text.contains("s3cr3t"),
            "{text}"
        );
        let text = refused("https://datahub-1.sesam.cloud/api", "not json");
        assert!(text.contains("does not hold a JSON object"), "{text}");
    }

    #[test]
    fn binds_the_jwt_to_sesam_domains_or_the_secrets_hosts() {
        let jwt = r#"{"jwt": "abc"}"#;
        assert!(
            NodeClient::new(
                &node("https://datahub-1.sesam.cloud/api"),
                jwt,
                "f",
                Duration::from_secs(5)
            )
            .is_ok()
        );
        assert!(
            NodeClient::new(
                &node("http://127.0.0.1:9/n/api"),
                jwt,
                "f",
                Duration::from_secs(5)
            )
            .is_ok()
        );
        let text = refused("https://evil.example.com/api", jwt);
        assert!(
            text.contains("is not bound to host 'evil.example.com'"),
            "{text}"
        );
        let bound = r#"{"jwt": "abc", "hosts": ["sesam.internal.example.org"]}"#;
        assert!(
            NodeClient::new(
                &node("https://sesam.internal.example.org/api"),
                bound,
                "f",
                Duration::from_secs(5)
            )
            .is_ok()
        );
        let text = refused("https://datahub-1.sesam.cloud/api", bound);
        assert!(
            text.contains("not bound to host 'datahub-1.sesam.cloud'"),
            "{text}"
        );
    }

    #[test]
    fn reads_validation_errors_per_entity() {
        let body = json!({"validation_errors": [
            {"posted-config": {"_id": "p1"}, "config-errors": [{"level": "error", "msg": "no system 'crm'"}]}
        ]});
        assert_eq!(validation_messages(&body), ["p1: no system 'crm'"]);
    }
}
