//! Inputs and outputs of the refresh control steps.
//!
//! Every step receives `run_id` (the state machine execution name): it names assumed-role sessions
//! and makes re-runs of one step within one run find the work they already started.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::job::{JobHandle, MappingState};
use super::refresh::{
    Approval, BucketSpec, Concurrency, DeployTableSpec, Environment, MaskingSpec, Polling,
    SettingValue, TableSpec,
};

/// Input of `preflight`: the raw execution input, validated by the step itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightInput {
    /// The execution name.
    pub run_id: String,
    /// The refresh request exactly as the user wrote it.
    pub request: Value,
}

/// One key attribute of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyAttribute {
    /// Attribute name.
    pub name: String,
    /// `HASH` or `RANGE`.
    pub role: String,
    /// `S`, `N` or `B`.
    pub kind: String,
}

/// A table in the plan: the request's entry plus what preflight found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePlan {
    /// The request's entry.
    #[serde(flatten)]
    pub spec: TableSpec,
    /// Key schema shared by source and target.
    pub key_schema: Vec<KeyAttribute>,
    /// The source table's approximate item count (DescribeTable, refreshed about every 6 hours).
    pub source_item_count: i64,
}

/// A Lambda event source mapping reading a target table's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// Mapping UUID.
    pub mapping_id: String,
    /// The consuming function's ARN.
    pub function_arn: String,
    /// The target table whose stream it reads.
    pub table: String,
    /// The mapping's state when preflight looked.
    pub state: String,
}

/// A consumer an earlier run paused and never resumed: disabled, and its pause mark names that run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeftoverPause {
    /// Mapping UUID.
    pub mapping_id: String,
    /// The consuming function's ARN.
    pub function_arn: String,
    /// The target table whose stream it reads.
    pub table: String,
    /// The mapping's state when preflight looked.
    pub state: String,
    /// The run (execution name) that paused it.
    pub paused_by: String,
    /// When that run paused it (RFC 3339).
    pub paused_at: String,
}

/// Output of `preflight`: everything the rest of the run needs, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// The execution name.
    pub run_id: String,
    /// Stop here.
    pub dry_run: bool,
    /// Source environment.
    pub source: Environment,
    /// Account the source credentials act in.
    pub source_account_id: String,
    /// Target environment.
    pub target: Environment,
    /// Account the target credentials act in.
    pub target_account_id: String,
    /// Deploy-table settings to write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy_table: Option<DeployTableSpec>,
    /// Every consumer of the selected streams.
    pub consumers: Vec<Consumer>,
    /// The mappings to pause now and resume afterwards: the consumers that were enabled, and
    /// with `streams.resume_leftover` those an earlier run left paused.
    pub pause: Vec<String>,
    /// Consumers an earlier run paused and never resumed (a real run refuses them unless
    /// `streams.resume_leftover` is set, then resumes them with its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftover: Vec<LeftoverPause>,
    /// Tables to copy.
    pub tables: Vec<TablePlan>,
    /// Buckets to sync.
    pub buckets: Vec<BucketSpec>,
    /// Masking rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<MaskingSpec>,
    /// Job polling.
    pub polling: Polling,
    /// Status checks a job gets before the run gives up on it (deadline / interval, rounded up).
    pub max_polls: u64,
    /// Status checks a pause or resume gets while mappings settle.
    pub max_settle_polls: u64,
    /// Invocations one scan segment's phase or one bucket's sync gets before the run gives up on
    /// it (each but the last runs until its time budget is spent).
    pub max_invocations: u64,
    /// How much runs at once.
    pub max_concurrency: Concurrency,
    /// Wait for a person after the buckets' count pass, before the first change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The worst case of the run's histories and state, which preflight kept within the limits.
    pub limits: Limits,
    /// Things worth a look that do not stop the run.
    pub warnings: Vec<String>,
}

/// The worst case of a refresh against Step Functions' hard limits, as preflight computed it from
/// the plan's knobs (see `tasks::limits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most history events of the refresh execution itself.
    pub refresh_events: u64,
    /// Most history events of the largest execution it starts (a table, a segment or a bucket),
    /// and which one.
    pub largest_child_events: u64,
    /// The execution `largest_child_events` counts, e.g. `table efcms-test-alpha`.
    pub largest_child: String,
    /// Most bytes of state any state of the refresh holds.
    pub state_bytes: u64,
    /// The history limit preflight kept every execution under (80% of 25,000).
    pub events_allowed: u64,
    /// The state limit preflight kept the run under (80% of 256 KiB).
    pub state_bytes_allowed: u64,
}

/// Input of `setup-deploy-table`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupDeployTableInput {
    /// The execution name.
    pub run_id: String,
    /// The environment holding the deploy table.
    pub target: Environment,
    /// The table and settings.
    pub deploy_table: DeployTableSpec,
}

/// Output of `setup-deploy-table`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupDeployTableOutput {
    /// The deploy table.
    pub table: String,
    /// Number of settings written.
    pub written: usize,
    /// Each setting's value before this step (null: it did not exist).
    pub previous: BTreeMap<String, Option<SettingValue>>,
}

/// Direction of `toggle-streams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToggleAction {
    /// Pause the consumers.
    Off,
    /// Resume the consumers.
    On,
}

impl ToggleAction {
    /// The mapping state this action aims for.
    pub fn want(self) -> MappingState {
        match self {
            ToggleAction::Off => MappingState::Disabled,
            ToggleAction::On => MappingState::Enabled,
        }
    }
}

/// Input of `toggle-streams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToggleStreamsInput {
    /// The execution name.
    pub run_id: String,
    /// The environment the mappings live in.
    pub target: Environment,
    /// Off or on.
    pub action: ToggleAction,
    /// Exactly the mappings to change (the plan's `pause`).
    pub mapping_ids: Vec<String>,
}

/// Output of `toggle-streams`: every mapping asked for is in exactly one of `reached`, `pending`
/// and `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToggleStreamsOutput {
    /// Off or on.
    pub action: ToggleAction,
    /// Mappings this call changed.
    pub changed: Vec<String>,
    /// Mappings that were already in (or going to) the wanted state.
    pub unchanged: Vec<String>,
    /// Mappings in the wanted state now (for `on`: the consumers resumed).
    pub reached: Vec<String>,
    /// Mappings still moving (`Disabling`, `Enabling`, `Updating`, or busy or throttled just now):
    /// `on` is called again for them after a wait; `off` is polled with `job`.
    pub pending: Vec<MappingNote>,
    /// Mappings `on` could not resume, each with the reason (gone, access denied, …); they stay
    /// paused and the run fails. `off` never fills it: it fails instead, before the copy.
    pub failed: Vec<MappingNote>,
    /// Whether nothing is still moving (`pending` is empty): every mapping reached the wanted
    /// state or failed.
    pub settled: bool,
    /// One line for people: how many reached the state, and every pending or failed mapping.
    pub summary: String,
    /// A handle `check-status` polls until the mappings settle.
    pub job: JobHandle,
}

/// A mapping that has not reached the wanted state, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingNote {
    /// Mapping UUID.
    pub mapping_id: String,
    /// What stands in the way, for people: `is Disabling`, `no longer exists …`, the AWS error.
    pub reason: String,
}

/// Input of `start-glue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartGlueInput {
    /// The execution name.
    pub run_id: String,
    /// The environment the Glue job runs in (reads the source table).
    pub source: Environment,
    /// The environment whose table is written, through its role.
    pub target: Environment,
    /// The table entry (engine `glue`).
    pub table: TableSpec,
    /// Masking rules passed to the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<MaskingSpec>,
}

/// Output of `start-glue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartGlueOutput {
    /// The job run to poll.
    pub job: JobHandle,
    /// False when a run for this ferry run and table already existed and was returned instead.
    pub started: bool,
}

/// Input of `check-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckStatusInput {
    /// The execution name.
    pub run_id: String,
    /// The job to look at.
    pub job: JobHandle,
}

/// Which pass over a target table `copy-table` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CopyPhase {
    /// Delete the segment's target items (first pass of `replace` mode).
    Clear,
    /// Copy the segment's source items, masked, into the target.
    #[default]
    Copy,
}

/// Counts of a table segment, accumulated across continuations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyCounts {
    /// Items scanned from the source (copy) or target (clear).
    pub items_read: u64,
    /// Items written to the target.
    pub items_written: u64,
    /// Items deleted from the target.
    pub items_deleted: u64,
    /// String values replaced by masking.
    pub values_masked: u64,
    /// Batch requests retried (throttling, unprocessed items, transient errors).
    pub retries: u64,
    /// Invocations spent on this segment and phase so far.
    pub invocations: u32,
    /// Source items not written because another source item already had their target key:
    /// masking lower-cases addresses, so keys that differed only in case become one key.
    #[serde(default)]
    pub key_collisions: u64,
    /// The first of those target keys (`pk=…,sk=…`, as masked in the target), as many as fit in
    /// [`COLLIDED_KEYS_BYTES`](crate::tasks::copy_table::COLLIDED_KEYS_BYTES) of JSON.
    #[serde(default)]
    pub collided_keys: Vec<String>,
}

/// Where a segment's scan stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyProgress {
    /// Where the scan resumes, sealed: its `LastEvaluatedKey` holds source values, so it is
    /// encrypted with a key derived from the masking key and bound to this run, table, phase and
    /// segment. Absent at the start and once the phase is done; opaque to everything but `copy-table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<String>,
    /// Counts so far.
    pub counts: CopyCounts,
}

/// Input of `copy-table`: one scan segment, one phase, possibly resuming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyTableInput {
    /// The execution name.
    pub run_id: String,
    /// Environment of the source table (read only).
    pub source: Environment,
    /// Environment of the target table.
    pub target: Environment,
    /// The table entry (engine `scan`, whose `segments` is the total segment count).
    pub table: TableSpec,
    /// This segment, from 0 to segments - 1.
    pub segment: u32,
    /// Clear or copy.
    #[serde(default)]
    pub phase: CopyPhase,
    /// Masking rules; required: their key is read before anything is read or deleted, and seals
    /// the continuations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<MaskingSpec>,
    /// Where to resume, from the previous invocation's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<CopyProgress>,
}

/// Output of `copy-table`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CopyTableOutput {
    /// True when the segment's phase is finished; false: call again with `progress`.
    pub done: bool,
    /// Resume point and counts so far.
    pub progress: CopyProgress,
}

/// Which pass `sync-bucket` is making.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SyncPhase {
    /// List both sides and count what would change, enforcing the deletion guards before any change.
    #[default]
    Count,
    /// Copy and delete.
    Apply,
}

/// Counts of a bucket sync, accumulated across continuations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncCounts {
    /// Objects listed in the source.
    pub source_objects: u64,
    /// Objects listed in the target.
    pub target_objects: u64,
    /// Objects to copy (missing or different in the target).
    pub to_copy: u64,
    /// Objects to delete (absent from the source, `delete` on).
    pub to_delete: u64,
    /// Objects copied.
    pub copied: u64,
    /// Bytes copied.
    pub bytes_copied: u64,
    /// Objects deleted.
    pub deleted: u64,
    /// Requests retried.
    pub retries: u64,
    /// Invocations spent so far.
    pub invocations: u32,
}

/// Where a bucket sync stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncProgress {
    /// Count or apply.
    pub phase: SyncPhase,
    /// Every key up to and including this one is done in this phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_after: Option<String>,
    /// Counts so far.
    pub counts: SyncCounts,
    /// A multipart upload left under way when the budget ran out, continued first by the next
    /// invocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<PendingUpload>,
}

/// A multipart upload (`UploadPart` or `UploadPartCopy`) carried from one invocation to the next:
/// ids, part numbers and ETags only, never object data. Parts `1..=parts.len()` are done; an
/// upload has at most `MAX_CARRIED_PARTS` parts (`sync_bucket`), so the continuation stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingUpload {
    /// The object's key (the same in source and target; the key after `start_after`).
    pub key: String,
    /// The target's multipart upload id.
    pub upload_id: String,
    /// The source object's ETag when the upload started: a source with another ETag is not resumed
    /// (the upload is aborted and started again).
    pub source_etag: String,
    /// The source object's size in bytes.
    pub size: u64,
    /// The size of every part but the last.
    pub part_size: u64,
    /// The parts done, in order from part 1.
    pub parts: Vec<UploadedPart>,
}

/// One finished part of a [`PendingUpload`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadedPart {
    /// The part's ETag as S3 answered it.
    pub etag: String,
    /// The part's CRC32 checksum, for a streamed upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
}

/// Input of `sync-bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBucketInput {
    /// The execution name.
    pub run_id: String,
    /// Environment of the source bucket (read only).
    pub source: Environment,
    /// Environment of the target bucket.
    pub target: Environment,
    /// The bucket entry.
    pub bucket: BucketSpec,
    /// Count and report only.
    #[serde(default)]
    pub dry_run: bool,
    /// Where to resume, from the previous invocation's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<SyncProgress>,
}

/// Output of `sync-bucket`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncBucketOutput {
    /// True when the sync is finished (or, for a dry run, counted); false: call again with `progress`.
    pub done: bool,
    /// Resume point and counts so far.
    pub progress: SyncProgress,
    /// How objects travel: `server_side` (CopyObject) or `stream` (GetObject → PutObject).
    pub transfer: String,
    /// Up to 20 keys that would be (or were) copied, for people reading a dry run.
    pub sample_copies: Vec<String>,
    /// Up to 20 keys that would be (or were) deleted.
    pub sample_deletes: Vec<String>,
}

/// How a run ended, as the state machine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunOutcome {
    /// Every step finished.
    Succeeded,
    /// A step failed; `error` says which and why.
    Failed,
    /// Stopped after preflight with the plan.
    DryRun,
    /// Waits for a person to approve or reject the plan (`ferry.approval`); not an end.
    AwaitingApproval,
}

/// Input of `stop-writers`: the run that failed, the tables it copies (for their Glue jobs) and
/// why it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopWritersInput {
    /// The execution name.
    pub run_id: String,
    /// The environment the Glue jobs run in.
    pub source: Environment,
    /// The plan's tables; those copied by Glue name the jobs whose runs are stopped.
    pub tables: Vec<TablePlan>,
    /// The run's error (its type and cause become the stop signal's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
}

/// Output of `stop-writers`: whether any writer of the run is left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopWritersOutput {
    /// True when no invocation may still write for the run and none of its Glue runs is still
    /// running or stopping: the consumers may be resumed.
    pub settled: bool,
    /// Glue runs this call asked to stop.
    pub glue_stop_requested: u32,
    /// Glue runs of the run not yet ended (stopping, or refusing to stop).
    pub glue_running: u32,
    /// Invocations that may still be writing (their lease is there and their end not yet past).
    pub writers_live: u32,
    /// What is left, for people (at most about 1 KiB): each Glue run and writer with its state.
    pub summary: String,
}

/// The error a state machine `Catch` hands over (`ResultPath` of the catcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunError {
    /// The `error_type` (or Step Functions error name).
    #[serde(rename = "Error")]
    pub error: String,
    /// The message.
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// Input of `report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// The execution name.
    pub run_id: String,
    /// Which state machine ran: `refresh` or `promote`.
    pub machine: String,
    /// How it ended.
    pub outcome: RunOutcome,
    /// When the execution started (RFC 3339, from the context object).
    pub started_at: String,
    /// When the stream consumers were paused, if they were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at: Option<String>,
    /// The execution input, when the run failed before a plan existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    /// The plan preflight produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    /// Outputs of the steps (counts, handles, statuses).
    #[serde(default)]
    pub results: Value,
    /// The error that failed the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// The task token an `AWAITING_APPROVAL` report is invoked with. It is only read (never
    /// written back, logged or put in a manifest or event): whoever approves finds it in the
    /// execution's history.
    #[serde(default, skip_serializing)]
    pub task_token: Option<TaskToken>,
}

/// A Step Functions task token: a bearer credential for answering one task, so its `Debug` says
/// only whether there is one.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(String);

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

/// Output of `report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportOutput {
    /// How the run ended.
    pub outcome: RunOutcome,
    /// S3 URI of the run manifest.
    pub manifest: String,
    /// The EventBridge detail-type sent (`ferry.refresh`).
    pub event: String,
    /// Warnings for people (for example a pause close to the 24-hour stream retention).
    pub warnings: Vec<String>,
}
