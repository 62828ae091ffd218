//! Function configuration: the only module that reads the process environment.
//!
//! Configuration is read once per cold start; a bad value fails the cold start with a message naming
//! the variable, instead of failing every invocation. The protected accounts have no default: a
//! deployment names them, or says `none`, or no function starts.
#![allow(clippy::disallowed_methods)] // the one place allowed to read the environment

use std::collections::BTreeSet;
use std::time::Duration;

use crate::error::TaskError;

/// Variable holding the comma-separated account ids no mutating step may ever act in, or
/// [`NO_PROTECTED_ACCOUNTS`]. Required: a function whose deployment leaves it unset or blank does
/// not start.
pub const PROTECTED_ACCOUNTS_VAR: &str = "FERRY_PROTECTED_ACCOUNT_IDS";
/// The value of [`PROTECTED_ACCOUNTS_VAR`] that protects no account, said explicitly.
pub const NO_PROTECTED_ACCOUNTS: &str = "none";
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
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the configuration from `var`, which answers a variable's value (`None`: unset or not
    /// Unicode).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, TaskError> {
        let protected = var(PROTECTED_ACCOUNTS_VAR).ok_or_else(|| {
            TaskError::invalid(
                PROTECTED_ACCOUNTS_VAR,
                format!("is not set: {}", ProtectedAccounts::EXPECTED),
            )
        })?;
        let artifact_bucket = var(ARTIFACT_BUCKET_VAR)
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty());
        let s3_path_style = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|name| var(name).is_some_and(|v| !v.is_empty()));
        let max_work = match var(MAX_WORK_VAR) {
            Some(raw) if !raw.trim().is_empty() => {
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
    /// What a deployment must say, for messages.
    const EXPECTED: &str = "name the 12-digit account ids ferry must never write to, comma-separated \
         (production at least), or 'none' to protect no account";

    /// Parses a comma-separated list of 12-digit account ids (blank entries are ignored), or
    /// [`NO_PROTECTED_ACCOUNTS`] for an explicitly empty list. A blank list is refused: an empty
    /// protection must be said, not defaulted to.
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.trim() == NO_PROTECTED_ACCOUNTS {
            return Ok(ProtectedAccounts(BTreeSet::new()));
        }
        let mut ids = BTreeSet::new();
        for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !is_account_id(raw) {
                return Err(format!(
                    "'{raw}' is not a 12-digit AWS account id: {}",
                    Self::EXPECTED
                ));
            }
            ids.insert(raw.to_string());
        }
        if ids.is_empty() {
            return Err(format!("is blank: {}", Self::EXPECTED));
        }
        Ok(ProtectedAccounts(ids))
    }

    /// Whether no account is protected.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `account_id` is protected.
    pub fn contains(&self, account_id: &str) -> bool {
        self.0.contains(account_id)
    }
}

/// The log filter `RUST_LOG` names, if it is set (read by [`crate::telemetry`]).
pub fn log_filter() -> Option<String> {
    std::env::var("RUST_LOG").ok()
}

/// Whether `s` looks like an AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
        let err = ProtectedAccounts::parse("none,111111111111").unwrap_err();
        assert!(err.starts_with("'none' is not a 12-digit"), "{err}");
    }

    #[test]
    fn none_is_an_explicitly_empty_list_and_blank_is_refused() {
        let none = ProtectedAccounts::parse(" none ").unwrap();
        assert!(none.is_empty());
        assert!(!none.contains("111111111111"));
        for blank in ["", " ", " , "] {
            let err = ProtectedAccounts::parse(blank).unwrap_err();
            assert!(err.starts_with("is blank"), "{blank:?}: {err}");
            assert!(err.contains("'none'"), "{blank:?}: {err}");
        }
    }

    /// The configuration read from `vars` only.
    fn from(vars: &[(&str, &str)]) -> Result<FunctionConfig, TaskError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FunctionConfig::from_vars(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_function_refuses_to_start_without_protected_accounts() {
        for vars in [
            vec![(ARTIFACT_BUCKET_VAR, "ferry-artifacts")],
            vec![(PROTECTED_ACCOUNTS_VAR, "")],
        ] {
            let err = from(&vars).unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput");
            let message = err.to_string();
            assert!(message.contains(PROTECTED_ACCOUNTS_VAR), "{message}");
            assert!(message.contains("'none'"), "{message}");
        }
    }

    #[test]
    fn reads_protected_accounts_or_none_and_the_other_variables() {
        let config = from(&[
            (PROTECTED_ACCOUNTS_VAR, "111111111111"),
            (ARTIFACT_BUCKET_VAR, " ferry-artifacts "),
            (MAX_WORK_VAR, "30"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert!(config.protected_accounts.contains("111111111111"));
        assert_eq!(config.artifact_bucket.as_deref(), Some("ferry-artifacts"));
        assert_eq!(config.max_work, Some(Duration::from_secs(30)));
        assert!(config.s3_path_style);

        let config = from(&[(PROTECTED_ACCOUNTS_VAR, "none")]).unwrap();
        assert!(config.protected_accounts.is_empty());
        assert_eq!(config.artifact_bucket, None);
        assert!(!config.s3_path_style);
    }
}
