//! Function configuration: the only module that reads the process environment.
//!
//! Configuration is read once per cold start; a bad value fails the cold start with a message naming
//! the variable, instead of failing every invocation.
#![allow(clippy::disallowed_methods)] // the one place allowed to read the environment

use std::collections::BTreeSet;
use std::time::Duration;

use crate::error::TaskError;

/// Variable holding the comma-separated account ids no mutating step may ever act in.
pub const PROTECTED_ACCOUNTS_VAR: &str = "FERRY_PROTECTED_ACCOUNT_IDS";
/// Variable capping the seconds of work per invocation of `copy-table` and `sync-bucket`.
pub const MAX_WORK_VAR: &str = "FERRY_MAX_WORK_SECONDS";
/// Variable naming the bucket that receives run manifests and bundles.
pub const ARTIFACT_BUCKET_VAR: &str = "FERRY_ARTIFACT_BUCKET";

/// Configuration every function receives from its deployment (never from the execution input).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionConfig {
    /// Accounts that ferry never writes to.
    pub protected_accounts: ProtectedAccounts,
    /// Bucket for manifests and bundles, when the function needs one.
    pub artifact_bucket: Option<String>,
    /// Address S3 buckets by path (set when an endpoint override points at a local server).
    pub s3_path_style: bool,
    /// Longest stretch of work one invocation of a long step does before returning a continuation.
    pub max_work: Option<Duration>,
}

impl FunctionConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, TaskError> {
        let protected = std::env::var(PROTECTED_ACCOUNTS_VAR).unwrap_or_default();
        let artifact_bucket = std::env::var(ARTIFACT_BUCKET_VAR)
            .ok()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        let s3_path_style = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
        let max_work = match std::env::var(MAX_WORK_VAR) {
            Ok(raw) if !raw.trim().is_empty() => {
                Some(Duration::from_secs(raw.trim().parse().map_err(|_| {
                    TaskError::invalid(
                        MAX_WORK_VAR,
                        format!("'{raw}' is not a whole number of seconds"),
                    )
                })?))
            }
            _ => None,
        };
        Ok(FunctionConfig {
            s3_path_style,
            max_work,
            protected_accounts: ProtectedAccounts::parse(&protected)
                .map_err(|problem| TaskError::invalid(PROTECTED_ACCOUNTS_VAR, problem))?,
            artifact_bucket,
        })
    }

    /// The artifact bucket, or an error naming the variable and the step that needs it.
    pub fn require_artifact_bucket(&self, step: &str) -> Result<&str, TaskError> {
        self.artifact_bucket.as_deref().ok_or_else(|| {
            TaskError::invalid(
                ARTIFACT_BUCKET_VAR,
                format!("is not set: {step} needs the artifact bucket"),
            )
        })
    }
}

/// The set of protected AWS account ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProtectedAccounts(BTreeSet<String>);

impl ProtectedAccounts {
    /// Parses a comma-separated list of 12-digit account ids (blank entries are ignored).
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut ids = BTreeSet::new();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !is_account_id(raw) {
                return Err(format!("'{raw}' is not a 12-digit AWS account id"));
            }
            ids.insert(raw.to_string());
        }
        Ok(ProtectedAccounts(ids))
    }

    /// Whether `account_id` is protected.
    pub fn contains(&self, account_id: &str) -> bool {
        self.0.contains(account_id)
    }
}

/// Whether `s` looks like an AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_list_with_blanks_and_spaces() {
        let p = ProtectedAccounts::parse(" 111111111111, ,333333333333").unwrap();
        assert!(p.contains("111111111111"));
        assert!(p.contains("333333333333"));
        assert!(!p.contains("222222222222"));
    }

    #[test]
    fn rejects_a_malformed_id_naming_it() {
        let err = ProtectedAccounts::parse("111111111111,prod").unwrap_err();
        assert!(err.contains("'prod'"), "{err}");
    }
}
