//! AWS access: SDK configuration built once per cold start, per-environment clients, cross-account
//! role assumption cached per invocation, and the protected-account guard.
//!
//! Endpoints follow the standard `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` variables, read by
//! the SDK's own configuration loader, so the same binaries run against AWS and a local endpoint.

pub mod batch_write;
pub mod objects;

use std::collections::HashMap;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::{Mutex, OnceCell};

use crate::config::ProtectedAccounts;
use crate::contract::Environment;
use crate::error::TaskError;

/// Ferry's own AWS configuration, shared by every invocation of a function.
#[derive(Debug, Clone)]
pub struct Aws {
    base: SdkConfig,
    s3_path_style: bool,
}

impl Aws {
    /// Loads the default configuration chain (credentials, region, endpoint overrides).
    pub async fn from_env(s3_path_style: bool) -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Aws::new(base, s3_path_style)
    }

    /// Wraps an existing configuration (tests pass one pointing at a local endpoint).
    pub fn new(base: SdkConfig, s3_path_style: bool) -> Self {
        Aws {
            base,
            s3_path_style,
        }
    }

    /// Starts a session for one invocation: assumed roles are cached for its lifetime only.
    pub fn session(&self, run_id: &str) -> Session {
        Session {
            aws: self.clone(),
            session_name: session_name(run_id),
            configs: Mutex::new(HashMap::new()),
            own_account: OnceCell::new(),
        }
    }
}

/// Per-invocation access to the environments of one run.
#[derive(Debug)]
pub struct Session {
    aws: Aws,
    session_name: String,
    configs: Mutex<HashMap<(Option<String>, String), SdkConfig>>,
    own_account: OnceCell<String>,
}

impl Session {
    /// SDK configuration acting in `env`: its region, and its role when one is named.
    pub async fn config(&self, env: &Environment) -> Result<SdkConfig, TaskError> {
        let cache_key = (env.role_arn.clone(), env.region.clone());
        let mut configs = self.configs.lock().await;
        if let Some(config) = configs.get(&cache_key) {
            return Ok(config.clone());
        }
        let config = self.build_config(env).await?;
        configs.insert(cache_key, config.clone());
        Ok(config)
    }

    async fn build_config(&self, env: &Environment) -> Result<SdkConfig, TaskError> {
        let region = Region::new(env.region.clone());
        let regional = self.aws.base.to_builder().region(region).build();
        let Some(role_arn) = &env.role_arn else {
            return Ok(regional);
        };
        let sts = aws_sdk_sts::Client::new(&regional);
        let assumed = sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(&self.session_name)
            .send()
            .await
            .map_err(|e| TaskError::aws("AssumeRole", role_arn.clone(), e.into_service_error()))?;
        let Some(creds) = assumed.credentials else {
            return Err(TaskError::Mismatch(format!(
                "AssumeRole of {role_arn} returned no credentials"
            )));
        };
        let credentials = Credentials::new(
            creds.access_key_id,
            creds.secret_access_key,
            Some(creds.session_token),
            None,
            "ferry-assume-role",
        );
        Ok(regional
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build())
    }

    /// The account the credentials for `env` act in, from `sts:GetCallerIdentity`.
    pub async fn account_id(&self, env: &Environment) -> Result<String, TaskError> {
        let sts = aws_sdk_sts::Client::new(&self.config(env).await?);
        let identity = sts.get_caller_identity().send().await.map_err(|e| {
            TaskError::aws(
                "GetCallerIdentity",
                env.name.clone(),
                e.into_service_error(),
            )
        })?;
        let account = identity.account.unwrap_or_default();
        if let Some(expected) = env.role_account()
            && expected != account
        {
            return Err(TaskError::Mismatch(format!(
                "environment '{}': the credentials act in account {account}, not {expected} named by role_arn",
                env.name
            )));
        }
        Ok(account)
    }

    /// Refuses, before any write, when `env` resolves to a protected account; returns the account.
    ///
    /// Every mutating step calls this itself: the check in preflight is not trusted to still hold.
    pub async fn writable_account(
        &self,
        env: &Environment,
        protected: &ProtectedAccounts,
    ) -> Result<String, TaskError> {
        let account_id = self.account_id(env).await?;
        if protected.contains(&account_id) {
            return Err(TaskError::ProtectedTarget {
                environment: env.name.clone(),
                account_id,
            });
        }
        Ok(account_id)
    }

    /// A DynamoDB client acting in `env`.
    pub async fn dynamodb(&self, env: &Environment) -> Result<aws_sdk_dynamodb::Client, TaskError> {
        Ok(aws_sdk_dynamodb::Client::new(&self.config(env).await?))
    }

    /// A Glue client acting in `env`.
    pub async fn glue(&self, env: &Environment) -> Result<aws_sdk_glue::Client, TaskError> {
        Ok(aws_sdk_glue::Client::new(&self.config(env).await?))
    }

    /// A Lambda client acting in `env`.
    pub async fn lambda(&self, env: &Environment) -> Result<aws_sdk_lambda::Client, TaskError> {
        Ok(aws_sdk_lambda::Client::new(&self.config(env).await?))
    }

    /// An S3 client acting in `env` (path-style addressing against local endpoints).
    pub async fn s3(&self, env: &Environment) -> Result<aws_sdk_s3::Client, TaskError> {
        let config = aws_sdk_s3::config::Builder::from(&self.config(env).await?)
            .force_path_style(self.aws.s3_path_style)
            .build();
        Ok(aws_sdk_s3::Client::from_conf(config))
    }
}

impl Session {
    /// A Secrets Manager client with ferry's own credentials, in the region named by `secret_arn`.
    pub fn own_secrets_manager(&self, secret_arn: &str) -> aws_sdk_secretsmanager::Client {
        let mut builder = self.aws.base.to_builder();
        if let Some(region) = secret_arn.split(':').nth(3).filter(|r| !r.is_empty()) {
            builder = builder.region(Region::new(region.to_string()));
        }
        aws_sdk_secretsmanager::Client::new(&builder.build())
    }

    /// Reads a secret's non-empty `SecretString` with ferry's own credentials.
    ///
    /// `field` is the input field that named the secret; errors name it and the ARN, never the value.
    pub async fn secret_string(&self, secret_arn: &str, field: &str) -> Result<String, TaskError> {
        let output = self
            .own_secrets_manager(secret_arn)
            .get_secret_value()
            .secret_id(secret_arn)
            .send()
            .await
            .map_err(|e| TaskError::aws("GetSecretValue", secret_arn, e.into_service_error()))?;
        match output.secret_string {
            Some(text) if !text.is_empty() => Ok(text),
            Some(_) => Err(TaskError::invalid(
                field,
                format!("secret '{secret_arn}' holds an empty SecretString"),
            )),
            None => Err(TaskError::invalid(
                field,
                format!(
                    "secret '{secret_arn}' has no SecretString (binary secrets are not supported): store it as text"
                ),
            )),
        }
    }

    /// The account ferry's own credentials act in, which owns the artifact bucket (asked once per
    /// session; `sts:GetCallerIdentity` needs no permission).
    pub async fn own_account_id(&self) -> Result<String, TaskError> {
        self.own_account
            .get_or_try_init(|| async {
                let sts = aws_sdk_sts::Client::new(&self.aws.base);
                let identity = sts.get_caller_identity().send().await.map_err(|e| {
                    TaskError::aws("GetCallerIdentity", "ferry", e.into_service_error())
                })?;
                identity.account.filter(|a| !a.is_empty()).ok_or_else(|| {
                    TaskError::Mismatch("GetCallerIdentity named no account for ferry".into())
                })
            })
            .await
            .cloned()
    }

    /// An S3 client with ferry's own credentials (the artifact bucket).
    pub fn own_s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.aws.base)
            .force_path_style(self.aws.s3_path_style)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// An EventBridge client with ferry's own credentials.
    pub fn own_eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.aws.base)
    }
}

/// A valid `RoleSessionName` (2-64 of `[\w+=,.@-]`) derived from the run id.
fn session_name(run_id: &str) -> String {
    let cleaned: String = format!("ferry-{run_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+=,.@-_".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    cleaned
}

/// Describes where something was looked for: "environment 'test' (account 2222…, us-east-1)".
pub fn place(env: &Environment, account_id: &str) -> String {
    format!(
        "environment '{}' (account {account_id}, {})",
        env.name, env.region
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_valid_for_any_execution_name() {
        assert_eq!(session_name("run 1/2"), "ferry-run-1-2");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }
}
