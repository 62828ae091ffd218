//! The worst case of a refresh against Step Functions' hard limits, computed from the plan's knobs.
//!
//! A Standard execution that reaches 25,000 history events, or a state whose data passes 256 KiB,
//! fails without running any Catch: consumers would stay paused. The refresh is shaped so that
//! neither grows with the data (each table, each scan segment's phase and each bucket runs in an
//! execution of its own), and preflight refuses a plan whose worst case comes within 20% of either
//! limit, naming the knob to change.
//!
//! The worst case assumes every loop runs to its bound and every retrier is spent on every call:
//! a status check is polled `max_polls` times, a segment's phase or a bucket's sync takes
//! `max_invocations` invocations, pauses and resumes take `max_settle_polls` checks. Events per
//! state are those Step Functions records: a Lambda task 5 (entered, scheduled, started,
//! succeeded, exited) and 3 per retry (scheduled, started, failed), a child execution's task 6,
//! a Choice, Pass or Wait 2, a Map 4 plus 2 per iteration, a Parallel 4, an execution 2.
//! `infra_consistency` checks the constants below against the state machine definitions.

use serde_json::json;

use crate::contract::{CopyCounts, CopyMode, Limits, Plan, SyncCounts, TableEngine};
use crate::error::TaskError;

/// Step Functions' history limit per execution.
pub const HISTORY_EVENTS: u64 = 25_000;
/// Step Functions' limit on a state's input or output.
pub const STATE_BYTES: u64 = 256 * 1024;
/// Share of each limit a plan may reach, in percent.
pub const HEADROOM_PERCENT: u64 = 80;

/// The longest a function of the copy (`copy-table`, `sync-bucket`) runs (template.yaml `Timeout`).
pub const COPY_TIMEOUT_SECONDS: u64 = 900;
/// Time an invocation keeps back from its budget (`budget::DEFAULT_RESERVE`).
pub const RESERVE_SECONDS: u64 = 20;
/// The longest a pause or a resume waits for its mappings to settle.
pub const SETTLE_SECONDS: u64 = 900;

/// Retries of the retrier on every Lambda task (its `MaxAttempts`).
pub const LAMBDA_RETRIES: u64 = 6;
/// Retries of the Glue status check (`CheckGlue`'s `MaxAttempts`): a status check is polled again
/// anyway, so it gets fewer.
pub const GLUE_CHECK_RETRIES: u64 = 2;
/// Retries of a task that starts a child execution.
pub const CHILD_RETRIES: u64 = 3;

const EXECUTION: u64 = 2;
const INSTANT: u64 = 2;
const FAIL: u64 = 1;
const MAP: u64 = 4;
const ITERATION: u64 = 2;
const PARALLEL: u64 = 4;
const CHILD_TASK: u64 = 6;
const RETRY: u64 = 3;

/// A Lambda task with `retries` retries spent.
fn lambda_call(retries: u64) -> u64 {
    5 + RETRY * retries
}

/// A Map iteration that starts a child execution, and its failure path (unwrap Pass and Fail).
fn child_iteration() -> u64 {
    ITERATION + CHILD_TASK + RETRY * CHILD_RETRIES + INSTANT + FAIL
}

/// A poll loop of `polls` rounds: Wait, the check, the state Choice, the count Pass, the bound
/// Choice.
fn poll_loop(polls: u64, retries: u64) -> u64 {
    polls * (INSTANT + lambda_call(retries) + 3 * INSTANT)
}

/// Invocations one scan segment's phase or one bucket's sync may take: each but the last runs
/// until its budget is spent, so the deadline bounds them.
pub fn max_invocations(deadline_seconds: u64) -> u64 {
    deadline_seconds.div_ceil(COPY_TIMEOUT_SECONDS - RESERVE_SECONDS) + 1
}

/// Most status checks a pause or resume gets, whatever the interval.
pub const MAX_SETTLE_POLLS: u64 = 120;

/// Status checks a pause or resume gets: `SETTLE_SECONDS` of them, at most `MAX_SETTLE_POLLS`.
pub fn max_settle_polls(interval_seconds: u64) -> u64 {
    SETTLE_SECONDS
        .div_ceil(interval_seconds)
        .clamp(1, MAX_SETTLE_POLLS)
}

/// Events of one execution that loops a continued function: a scan segment's phase, or a bucket.
pub fn continued_events(max_invocations: u64) -> u64 {
    EXECUTION + max_invocations * (lambda_call(LAMBDA_RETRIES) + INSTANT) + 2 * INSTANT + FAIL
}

/// Events of one table's execution.
pub fn table_events(engine: &TableEngine, mode: CopyMode, max_polls: u64) -> u64 {
    let start = EXECUTION + INSTANT;
    match engine {
        TableEngine::Glue { .. } => {
            start
                + lambda_call(LAMBDA_RETRIES)
                + poll_loop(max_polls, GLUE_CHECK_RETRIES)
                + 2 * INSTANT
                + FAIL
        }
        TableEngine::Scan { segments } => {
            let phases = phases(mode);
            start
                + 3 * INSTANT
                + phases * (MAP + u64::from(*segments) * child_iteration())
                + INSTANT
        }
    }
}

fn phases(mode: CopyMode) -> u64 {
    match mode {
        CopyMode::Replace => 2,
        CopyMode::Merge => 1,
    }
}

/// Events of the refresh execution itself.
pub fn refresh_events(tables: u64, buckets: u64, max_settle_polls: u64) -> u64 {
    let call = lambda_call(LAMBDA_RETRIES);
    let settle = call + INSTANT + poll_loop(max_settle_polls, LAMBDA_RETRIES) + INSTANT;
    EXECUTION
        + call // Preflight
        + INSTANT // DryRun
        + MAP + buckets * child_iteration() // CheckBuckets
        + INSTANT + call // ApprovalRequired, AwaitApproval
        + INSTANT + call // DeployTable, SetupDeployTable
        + INSTANT + settle // StartPause, PauseConsumers and its checks
        + PARALLEL
        + MAP + tables * child_iteration()
        + MAP + buckets * child_iteration()
        + settle // StopWriters and its checks (after a failed copy), WritersStillRunning
        + settle // ResumeConsumers and its checks
        + 2 * INSTANT // AfterResume, ResumeError
        + call + FAIL // Report, the end
}

/// Bytes a segment's result (`{segment, counts}`) takes at most in the refresh's state.
pub fn segment_result_bytes() -> u64 {
    let counts = CopyCounts {
        items_read: u64::MAX,
        items_written: u64::MAX,
        items_deleted: u64::MAX,
        values_masked: u64::MAX,
        retries: u64::MAX,
        invocations: u32::MAX,
        key_collisions: u64::MAX,
        // A JSON list of exactly the most bytes copy-table lists.
        collided_keys: vec!["k".repeat(super::copy_table::COLLIDED_KEYS_BYTES - 4)],
    };
    json_bytes(&json!({"segment": u32::MAX, "counts": counts}))
}

/// Bytes a bucket's result takes at most, besides its names.
pub fn bucket_result_bytes() -> u64 {
    let counts = SyncCounts {
        source_objects: u64::MAX,
        target_objects: u64::MAX,
        to_copy: u64::MAX,
        to_delete: u64::MAX,
        copied: u64::MAX,
        bytes_copied: u64::MAX,
        deleted: u64::MAX,
        retries: u64::MAX,
        invocations: u32::MAX,
    };
    json_bytes(&json!({"transfer": "server_side_or_streamed", "counts": counts}))
}

/// Bytes kept for what is not counted item by item: a table's result besides its segments (the
/// Glue run's id and status detail), an error's cause, the pause and resume outcomes per mapping.
const TABLE_RESULT_BYTES: u64 = 4 * 1024;
const ERROR_BYTES: u64 = 32 * 1024;
const MAPPING_BYTES: u64 = 1024;
/// `results.stop` (stop-writers' answer: a 1 KiB summary and counts) and `results.resume_error`
/// (why the consumers were not resumed: a failed resume or stop, its cause up to 32 KiB).
const STOP_BYTES: u64 = 2 * 1024 + ERROR_BYTES;

fn json_bytes(value: &serde_json::Value) -> u64 {
    serde_json::to_vec(value).map_or(0, |bytes| bytes.len() as u64)
}

/// The most a state of the refresh holds: the execution's input, the plan, every result, an error.
pub fn state_bytes(plan: &Plan, input_bytes: u64) -> u64 {
    let plan_bytes = json_bytes(&serde_json::to_value(plan).unwrap_or_default());
    let tables: u64 = plan
        .tables
        .iter()
        .map(|t| {
            let segments = match t.spec.engine {
                TableEngine::Scan { segments } => u64::from(segments) * phases(t.spec.mode),
                TableEngine::Glue { .. } => 0,
            };
            TABLE_RESULT_BYTES + segments * segment_result_bytes()
        })
        .sum();
    let buckets: u64 = plan
        .buckets
        .iter()
        .map(|b| bucket_result_bytes() + (b.target.len() + b.prefix.len()) as u64 + 64)
        .sum();
    let mappings = plan.consumers.len() as u64 * MAPPING_BYTES * 2;
    input_bytes + plan_bytes + tables + buckets + mappings + ERROR_BYTES + STOP_BYTES
}

/// `limit` less the headroom.
pub fn allowed(limit: u64) -> u64 {
    limit * HEADROOM_PERCENT / 100
}

/// The plan's worst case; refuses a plan that could come within 20% of either limit, naming the
/// knob to change.
pub fn check(plan: &Plan, input_bytes: u64) -> Result<Limits, TaskError> {
    let events_allowed = allowed(HISTORY_EVENTS);
    let mut problems = Vec::new();
    let refresh = refresh_events(
        plan.tables.len() as u64,
        plan.buckets.len() as u64,
        plan.max_settle_polls,
    );
    if refresh > events_allowed {
        problems.push(format!(
            "the refresh execution could reach {refresh} history events (allowed {events_allowed}): split tables and buckets over runs"
        ));
    }
    let mut largest = (
        continued_events(plan.max_invocations),
        "a scan segment's phase or a bucket".to_string(),
    );
    if largest.0 > events_allowed {
        problems.push(format!(
            "a scan segment's phase or a bucket's sync could reach {} history events in {} invocations (allowed {events_allowed}): lower polling.deadline_seconds",
            largest.0, plan.max_invocations
        ));
    }
    for (i, table) in plan.tables.iter().enumerate() {
        let events = table_events(&table.spec.engine, table.spec.mode, plan.max_polls);
        if events > largest.0 {
            largest = (events, format!("table {}", table.spec.target));
        }
        if events <= events_allowed {
            continue;
        }
        let knob = match table.spec.engine {
            TableEngine::Glue { .. } => format!(
                "raise polling.interval_seconds or lower polling.deadline_seconds ({} status checks)",
                plan.max_polls
            ),
            TableEngine::Scan { .. } => format!("lower tables[{i}].segments"),
        };
        problems.push(format!(
            "table {}'s execution could reach {events} history events (allowed {events_allowed}): {knob}",
            table.spec.target
        ));
    }
    let state_allowed = allowed(STATE_BYTES);
    let state = state_bytes(plan, input_bytes);
    if state > state_allowed {
        problems.push(format!(
            "the refresh's state could reach {state} bytes (allowed {state_allowed}; each scan segment's counts take {} bytes per phase): lower tables[].segments or split the tables over runs",
            segment_result_bytes()
        ));
    }
    if !problems.is_empty() {
        return Err(TaskError::Mismatch(format!(
            "the plan could reach a limit of Step Functions, past which a run fails without resuming its consumers: {}",
            problems.join("; ")
        )));
    }
    Ok(Limits {
        refresh_events: refresh,
        largest_child_events: largest.0,
        largest_child: largest.1,
        state_bytes: state,
        events_allowed,
        state_bytes_allowed: state_allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_follow_the_deadline() {
        assert_eq!(max_invocations(21_600), 26);
        assert_eq!(max_invocations(880), 2);
        assert_eq!(max_settle_polls(30), 30);
        assert_eq!(max_settle_polls(3600), 1);
        assert_eq!(max_settle_polls(1), MAX_SETTLE_POLLS);
    }

    #[test]
    fn the_default_glue_table_fits_and_a_one_second_poll_does_not() {
        let glue = TableEngine::Glue {
            glue_job: "j".into(),
        };
        let at_30s = table_events(&glue, CopyMode::Replace, 21_600 / 30);
        assert!(at_30s <= allowed(HISTORY_EVENTS), "{at_30s}");
        let at_1s = table_events(&glue, CopyMode::Replace, 21_600);
        assert!(at_1s > allowed(HISTORY_EVENTS), "{at_1s}");
    }

    #[test]
    fn the_largest_glue_table_preflight_accepts_is_the_flow_tests() {
        // infra/local/sfn/test/paths.test.mjs runs this table: LARGEST_GLUE_POLLS, LARGEST_GLUE_EVENTS.
        let glue = TableEngine::Glue {
            glue_job: "j".into(),
        };
        assert_eq!(table_events(&glue, CopyMode::Replace, 1050), 19_982);
        assert!(table_events(&glue, CopyMode::Replace, 1051) > allowed(HISTORY_EVENTS));
    }

    #[test]
    fn a_table_of_hundreds_of_segments_fits_in_its_own_execution() {
        let events = |segments, mode| table_events(&TableEngine::Scan { segments }, mode, 720);
        assert!(events(450, CopyMode::Replace) <= allowed(HISTORY_EVENTS));
        assert!(events(550, CopyMode::Replace) > allowed(HISTORY_EVENTS));
        assert!(events(900, CopyMode::Merge) <= allowed(HISTORY_EVENTS));
        assert!(events(1000, CopyMode::Merge) > allowed(HISTORY_EVENTS));
    }

    #[test]
    fn the_refresh_counts_the_stop_loop_as_it_counts_the_resume() {
        // ARCHITECTURE.md's table and paths.test.mjs's plan: 2 tables, 1 bucket, 30 settle polls.
        assert_eq!(refresh_events(2, 1, 30), 3_074);
        let settle = refresh_events(0, 0, 31) - refresh_events(0, 0, 30);
        assert_eq!(
            settle,
            3 * 31,
            "pause, stop and resume loops: a 31-event round each"
        );
    }

    #[test]
    fn a_segment_result_is_bounded() {
        let bytes = segment_result_bytes();
        assert!((200..1024).contains(&bytes), "{bytes}");
    }
}
