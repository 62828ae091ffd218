//! ferry's library: every step's logic, behind small Lambda binaries that only wire it up.
//!
//! - [`contract`]: serde input/output of every step (the payload contract with the state machines).
//! - [`tasks`]: one async function per step.
//! - [`connectors`]: the platforms ferry promotes configuration on, behind one trait.
//! - [`aws`]: SDK configuration, cross-account sessions, the protected-account guard.
//! - [`checksum`]: SHA-256 of kept and received bytes.
//! - [`config`]: the only place that reads the process environment.
//! - [`masking`]: keyed, deterministic masking of emails in items.
//! - [`declarative`]: the engine of declarative promotions (export, snapshot, plan, apply, verify).
//! - [`ddb_json`]: DynamoDB JSON for keys in payloads and test vectors.
//! - [`error`]: [`error::TaskError`] and its stable `error_type` names.
//! - [`git`]: reading a folder of a git repository at a branch, tag or commit.
//! - [`http`]: the HTTP layer every connector calls its platform through.
//! - [`telemetry`]: logging set-up shared by the functions.

pub mod aws;
pub mod checksum;
pub mod config;
pub mod connectors;
pub mod contract;
pub mod ddb_json;
pub mod declarative;
pub mod error;
pub mod git;
pub mod http;
pub mod masking;
pub mod numbers;
pub mod tasks;
pub mod telemetry;

pub use error::TaskError;
