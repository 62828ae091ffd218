//! Test harness for ferry's integration tests: a local AWS endpoint (moto, started once per test
//! process on an ephemeral 127.0.0.1 port and stopped when the process ends), two accounts reached by
//! assuming roles, unique resource names, and fixture builders.
#![allow(clippy::disallowed_methods)] // tests read their own settings from the environment

pub mod cdap_sim;
pub mod director_sim;
pub mod fixtures;
pub mod git_server;
pub mod moto;
pub mod oc_sim;
pub mod secrets;
pub mod serve;
pub mod sesam_sim;
pub mod sim_kit;
pub mod sim_reply;
pub mod spark_sim;
pub mod template;

use std::sync::atomic::{AtomicU32, Ordering};

use shared::aws::Aws;
use shared::contract::Environment;

/// The production account of the test bed.
pub const PROD_ACCOUNT: &str = "111111111111";
/// The lower (test) account of the test bed.
pub const TEST_ACCOUNT: &str = "222222222222";

/// The source environment: production, reached through a role in its account.
pub fn prod() -> Environment {
    Environment {
        name: "prod".into(),
        role_arn: Some(format!("arn:aws:iam::{PROD_ACCOUNT}:role/ferry-source")),
        region: "us-east-1".into(),
    }
}

/// The target environment: test, reached through a role in its account.
pub fn test_env() -> Environment {
    Environment {
        name: "test".into(),
        role_arn: Some(format!("arn:aws:iam::{TEST_ACCOUNT}:role/ferry-target")),
        region: "us-east-1".into(),
    }
}

/// ferry's own account (no role), where its secrets, artifact bucket and events live.
pub fn own() -> Environment {
    Environment {
        name: "ferry".into(),
        role_arn: None,
        region: "us-east-1".into(),
    }
}

/// SDK configuration for ferry's own account on the local endpoint.
pub async fn own_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto::endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

/// ferry's AWS access pointed at the local endpoint.
pub async fn aws() -> Aws {
    Aws::new(own_config().await, true)
}

/// A name no other test (or earlier run against the same server) uses: `<prefix>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}
