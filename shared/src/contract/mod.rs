//! Step contracts: the serde input and output of every step, the single source of truth for payloads.
//!
//! Payloads stay small (names, ARNs, counts): Step Functions caps a state's payload at 256 KiB.
//! `refresh` and `promote` hold the validated requests and their parsers; `steps` and
//! `promote_steps` the per-step inputs and outputs; `job` the job handles that `check-status` polls.

pub mod compass;
pub mod datafusion;
pub mod job;
pub mod promote;
pub mod promote_steps;
pub mod refresh;
pub mod sesam;
pub mod steps;
mod validate;

pub use compass::{CompassSelection, CompassTarget, Credentials, OpenConnectorsSource};
pub use datafusion::{DataFusionInstance, DataFusionSelection, StartPipeline};
pub use job::{JobHandle, JobState, JobStatus, MappingState, PipelineRun};
pub use promote::{
    Platform, PromoteRequest, PromoteSide, ServiceMapping, ServicesExisting, SparkSelection,
    SparkTenant, Upgrade, VersionFilter, split_uri,
};
pub use promote_steps::*;
pub use refresh::{
    Approval, BucketSpec, Concurrency, CopyMode, DeployTableSpec, EmbeddedRule, Environment,
    MaskingSpec, Polling, RefreshRequest, SettingValue, StreamsSpec, TableEngine, TableSpec,
    Transfer,
};
pub use sesam::{GitSource, SesamNode, SesamSelection};
pub use steps::*;
