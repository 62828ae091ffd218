//! A stand-in for the AWS instance metadata service, the other place google-cloud-auth looks for
//! AWS credentials when its environment has none (workload identity federation's
//! `credential_source.url` and `region_url`): the zone, one role and that role's credentials, the
//! ones a pool seeded with `aws_access_key_id`/`aws_secret_access_key` checks signatures against.
//!
//! - `GET /imds/latest/meta-data/placement/availability-zone` → `us-east-1a`
//! - `GET /imds/latest/meta-data/iam/security-credentials` → `ferry-lambda`
//! - `GET /imds/latest/meta-data/iam/security-credentials/ferry-lambda` →
//!   `{"AccessKeyId", "SecretAccessKey", "Token"}` ([`ACCESS_KEY_ID`], [`SECRET_ACCESS_KEY`])

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};

/// The role the metadata service names.
pub const ROLE: &str = "ferry-lambda";
/// The role's access key id.
pub const ACCESS_KEY_ID: &str = "ASIAFERRYSIMULATED01";
/// The role's secret access key (a test value).
pub const SECRET_ACCESS_KEY: &str = "imds-secret-access-key-for-tests-only";

/// The metadata routes, below `/imds`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/imds/latest/meta-data/placement/availability-zone",
            get(|| async { "us-east-1a" }),
        )
        .route(
            "/imds/latest/meta-data/iam/security-credentials",
            get(|| async { ROLE }),
        )
        .route(
            "/imds/latest/meta-data/iam/security-credentials/{role}",
            get(credentials),
        )
}

async fn credentials(axum::extract::Path(role): axum::extract::Path<String>) -> Json<Value> {
    let known = role == ROLE;
    Json(json!({
        "Code": if known { "Success" } else { "NotFound" },
        "AccessKeyId": if known { ACCESS_KEY_ID } else { "" },
        "SecretAccessKey": if known { SECRET_ACCESS_KEY } else { "" },
        "Token": "imds-session-token",
        "Type": "AWS-HMAC",
    }))
}

/// `credential_source` of an `external_account` configuration that reads this service.
pub fn credential_source(origin: &str) -> Value {
    json!({
        "environment_id": "aws1",
        "region_url": format!("{origin}/imds/latest/meta-data/placement/availability-zone"),
        "url": format!("{origin}/imds/latest/meta-data/iam/security-credentials"),
        "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
    })
}
