//! Step contracts: the serde input and output of every step, the single source of truth for payloads.
//!
//! Payloads stay small (names, ARNs, counts): Step Functions caps a state's payload at 256 KiB.
//! `refresh` holds the validated refresh request and its parser; `steps` the per-step inputs and
//! outputs; `job` the job handles that `check-status` polls.

pub mod job;
pub mod refresh;
pub mod steps;

pub use job::{JobHandle, JobState, JobStatus, MappingState};
pub use refresh::{
    BucketSpec, CopyMode, DeployTableSpec, EmbeddedRule, Environment, MaskingSpec, Polling,
    RefreshRequest, SettingValue, StreamsSpec, TableEngine, TableSpec, Transfer,
};
pub use steps::*;
