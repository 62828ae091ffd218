//! A credential secret's JSON object, read once with the words every error about it needs: which
//! secret (its ARN or name, never its value), which input field named it, and what it should hold.

use serde_json::{Map, Value};

use super::binding::HostBinding;
use crate::error::TaskError;

/// The parsed string value of a credential secret.
pub struct SecretDoc<'a> {
    map: Map<String, Value>,
    secret: &'a str,
    field: &'a str,
    expected: &'a str,
}

impl<'a> SecretDoc<'a> {
    /// Parses `text`, the value of `secret` given in the input field `field`; `expected` tells
    /// the operator what to store (`{"jwt": …}`), for messages.
    pub fn parse(
        text: &str,
        secret: &'a str,
        field: &'a str,
        expected: &'a str,
    ) -> Result<Self, TaskError> {
        let mut doc = SecretDoc {
            map: Map::new(),
            secret,
            field,
            expected,
        };
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => {
                doc.map = map;
                Ok(doc)
            }
            _ => Err(doc.invalid("does not hold a JSON object")),
        }
    }

    /// An [`TaskError::InvalidInput`] on the secret's field: `secret 'S' <problem>: store <expected>`.
    pub fn invalid(&self, problem: &str) -> TaskError {
        TaskError::invalid(
            self.field,
            format!(
                "secret '{}' {problem}: store {}",
                self.secret, self.expected
            ),
        )
    }

    /// Refuses keys other than `allowed` (and `hosts`).
    pub fn only(&self, allowed: &[&str]) -> Result<(), TaskError> {
        match self
            .map
            .keys()
            .find(|k| k.as_str() != "hosts" && !allowed.contains(&k.as_str()))
        {
            Some(extra) => Err(self.invalid(&format!("holds an unknown field '{extra}'"))),
            None => Ok(()),
        }
    }

    /// A non-blank string field.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// A non-blank string field that must be there.
    pub fn required(&self, key: &str) -> Result<&str, TaskError> {
        self.text(key)
            .ok_or_else(|| self.invalid(&format!("holds no \"{key}\"")))
    }

    /// The hosts the secret is bound to (its `"hosts"`, else `platform_domains` and loopback).
    pub fn binding(
        &self,
        platform_domains: &'static [&'static str],
    ) -> Result<HostBinding, TaskError> {
        HostBinding::from_secret(&self.map, self.secret, self.field, platform_domains)
    }

    /// The whole object.
    pub fn map(&self) -> &Map<String, Value> {
        &self.map
    }
}
