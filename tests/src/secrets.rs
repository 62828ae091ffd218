//! Secrets by ARN, in memory: the [`SecretSource`] of tests and benchmarks that call a connector
//! without a local AWS endpoint.

use std::collections::HashMap;

use shared::connectors::SecretSource;
use shared::error::TaskError;

/// Secret strings by ARN; an unknown ARN is an input error on the asking field.
#[derive(Debug, Default, Clone)]
pub struct MemorySecrets(pub HashMap<String, String>);

impl MemorySecrets {
    /// Secrets holding each value's JSON text.
    pub fn json<'a>(pairs: impl IntoIterator<Item = (&'a str, serde_json::Value)>) -> Self {
        MemorySecrets(
            pairs
                .into_iter()
                .map(|(arn, value)| (arn.to_string(), value.to_string()))
                .collect(),
        )
    }
}

impl SecretSource for MemorySecrets {
    async fn secret(&self, arn: &str, field: &str) -> Result<String, TaskError> {
        self.0
            .get(arn)
            .cloned()
            .ok_or_else(|| TaskError::invalid(field, format!("no secret {arn}")))
    }
}
