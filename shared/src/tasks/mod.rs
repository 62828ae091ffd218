//! One plain async function per step. Tasks take their dependencies as arguments and never read
//! the environment; the `functions/*` binaries wire them to the Lambda runtime.

pub mod budget;
pub mod bundle;
pub mod check_status;
pub mod copy_table;
pub mod declarative;
pub mod export_service;
pub mod import_service;
pub mod limits;
pub mod masking_key;
pub mod preflight;
pub mod report;
pub mod setup_deploy_table;
pub mod start_glue;
pub mod stop_writers;
pub mod sync_bucket;
pub mod toggle_streams;
pub mod writers;

mod continuation;
mod lookup;

/// A step output as JSON, for steps whose output shape depends on the action asked.
pub(crate) fn to_value(output: impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(output).expect("step outputs serialise")
}
