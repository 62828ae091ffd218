//! ferry's integration tests: every step through its real SDK calls against a local AWS endpoint
//! holding two accounts (prod 111111111111 and test 222222222222), plus the contract fixtures.

mod cdap_sim;
mod compass_promote;
mod contract_fixtures;
mod copy_table;
mod datafusion_promote;
mod deploy_table;
mod director_sim;
mod git_source;
mod glue;
mod http_layer;
mod infra_consistency;
mod masking;
mod oc_sim;
mod preflight;
mod promote_steps;
mod report;
mod sesam_promote;
mod sesam_sim;
mod spark_client;
mod spark_sim;
mod sync_bucket;
mod toggle_streams;
mod writers;

use shared::config::{FunctionConfig, ProtectedAccounts};

/// The configuration ferry is deployed with in these tests: production is protected.
pub fn config() -> FunctionConfig {
    FunctionConfig {
        protected_accounts: ProtectedAccounts::parse(ferry_tests::PROD_ACCOUNT).unwrap(),
        artifact_bucket: None,
        s3_path_style: true,
        max_work: None,
    }
}
