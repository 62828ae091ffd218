//! `toggle-streams`: pause (`off`) or resume (`on`) exactly the given stream consumers.
//!
//! It changes Lambda event source mappings, never the streams themselves: a re-enabled stream gets a
//! new ARN and orphans its consumers. Both directions are idempotent: a mapping already in (or moving
//! to) the wanted state is left alone and reported as unchanged.
//!
//! `off` is all or nothing before it changes anything: every mapping must exist, and every one is
//! marked as paused by this run ([`marks`]) before the first is disabled.
//!
//! `on` is never all or nothing: it tries every mapping and never stops at the first problem. Each
//! mapping ends up in exactly one list of the output: `reached` (enabled: resumed), `pending`
//! (still `Disabling`, `Enabling` or `Updating`, or busy or throttled just now: the state machine
//! waits and calls `on` again, for minutes) or `failed` (gone, access denied, …: it stays paused
//! and the run fails, naming it). A resumed mapping loses its pause mark.

pub mod marks;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::types::EventSourceMappingConfiguration;

use crate::aws::{Aws, place};
use crate::config::FunctionConfig;
use crate::contract::{
    JobHandle, MappingNote, MappingState, ToggleAction, ToggleStreamsInput, ToggleStreamsOutput,
};
use crate::error::{MissingResource, TaskError};

use super::lookup::{get_mapping, mapping_arn, mapping_state};
use super::report::{format_rfc3339, unix_now};

/// Why a mapping that is gone cannot be resumed.
const GONE: &str = "no longer exists: deleted, or replaced by a deploy, during the run";

/// Moves each mapping towards the wanted state and reports where each one stands.
pub async fn toggle_streams(
    aws: &Aws,
    config: &FunctionConfig,
    input: ToggleStreamsInput,
) -> Result<ToggleStreamsOutput, TaskError> {
    let session = aws.session(&input.run_id);
    let account_id = session
        .writable_account(&input.target, &config.protected_accounts)
        .await?;
    let client = session.lambda(&input.target).await?;
    let outcomes = match input.action {
        ToggleAction::Off => {
            let place = place(&input.target, &account_id);
            pause(&client, &input.run_id, &input.mapping_ids, &place).await?
        }
        ToggleAction::On => resume(&client, &input.mapping_ids).await,
    };
    let output = tally(input, outcomes);
    tracing::info!(action = ?output.action, changed = output.changed.len(), reached = output.reached.len(),
        pending = output.pending.len(), failed = output.failed.len(), summary = %output.summary, "toggled stream consumers");
    Ok(output)
}

/// Where one mapping stands after this call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// In the wanted state.
    Reached { changed: bool },
    /// Still moving, or could not be changed just now: look again later.
    Pending { changed: bool, reason: String },
    /// Cannot reach the wanted state: it stays where it is.
    Failed { reason: String },
}

/// Marks every mapping, then disables those not already heading to `Disabled`. Fails before any
/// change when a mapping is missing or cannot be marked.
async fn pause(
    client: &Client,
    run_id: &str,
    ids: &[String],
    place: &str,
) -> Result<Vec<(String, Outcome)>, TaskError> {
    let mappings = describe_all(client, ids, place).await?;
    let paused_at = format_rfc3339(unix_now());
    for (_, mapping) in &mappings {
        marks::put(client, mapping_arn(mapping)?, run_id, &paused_at).await?;
    }
    let mut outcomes = Vec::with_capacity(mappings.len());
    for (id, mapping) in mappings {
        let state = mapping_state(&mapping);
        let (changed, state) = if heading_to(state) == Some(MappingState::Disabled) {
            (false, state.to_string())
        } else {
            (true, update(client, &id, false).await?)
        };
        outcomes.push((id, settle(&state, MappingState::Disabled, changed)));
    }
    Ok(outcomes)
}

/// Every mapping, or `NotFound` naming all that are missing.
async fn describe_all(
    client: &Client,
    ids: &[String],
    place: &str,
) -> Result<Vec<(String, EventSourceMappingConfiguration)>, TaskError> {
    let mut found = Vec::with_capacity(ids.len());
    let mut missing = Vec::new();
    for id in ids {
        match get_mapping(client, id).await? {
            Some(mapping) => found.push((id.clone(), mapping)),
            None => missing.push(MissingResource {
                what: "event source mapping",
                name: id.clone(),
                place: place.to_string(),
            }),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(TaskError::NotFound(missing))
    }
}

/// Tries to resume every mapping, whatever happens to the others.
async fn resume(client: &Client, ids: &[String]) -> Vec<(String, Outcome)> {
    let mut outcomes = Vec::with_capacity(ids.len());
    for id in ids {
        outcomes.push((id.clone(), resume_one(client, id).await));
    }
    outcomes
}

/// Enables one mapping if it is `Disabled`, waits out any other state, and clears its pause mark
/// once it is `Enabled`.
async fn resume_one(client: &Client, id: &str) -> Outcome {
    let mapping = match get_mapping(client, id).await {
        Ok(Some(mapping)) => mapping,
        Ok(None) => {
            return Outcome::Failed {
                reason: GONE.into(),
            };
        }
        Err(err) => return trouble(err),
    };
    let (changed, state) = match mapping_state(&mapping) {
        "Disabled" => match update(client, id, true).await {
            Ok(state) => (true, state),
            Err(err) => return trouble(err),
        },
        state if heading_to(state) == Some(MappingState::Enabled) => (false, state.to_string()),
        "Deleting" => {
            return Outcome::Failed {
                reason: "is being deleted".into(),
            };
        }
        state => {
            return Outcome::Pending {
                changed: false,
                reason: format!("is {state}: resumed once it settles"),
            };
        }
    };
    let outcome = settle(&state, MappingState::Enabled, changed);
    if matches!(outcome, Outcome::Reached { .. }) {
        clear_mark(client, &mapping, id).await;
    }
    outcome
}

/// Removes the pause mark of a resumed mapping. A mark left on an enabled mapping is ignored by
/// preflight, so failing to remove it is logged, not reported as a paused consumer.
async fn clear_mark(client: &Client, mapping: &EventSourceMappingConfiguration, id: &str) {
    let cleared = match mapping_arn(mapping) {
        Ok(arn) => marks::clear(client, arn).await,
        Err(err) => Err(err),
    };
    if let Err(err) = cleared {
        tracing::warn!(mapping = id, error = %err, "resumed, but its pause mark stays");
    }
}

/// A failed call to Lambda about one mapping: worth another look when transient or busy, final
/// otherwise.
fn trouble(err: TaskError) -> Outcome {
    match err.error_type() {
        "Throttled" | "Retryable" | "Conflict" => Outcome::Pending {
            changed: false,
            reason: err.to_string(),
        },
        _ if err.is_not_found() => Outcome::Failed {
            reason: GONE.into(),
        },
        _ => Outcome::Failed {
            reason: err.to_string(),
        },
    }
}

/// `UpdateEventSourceMapping` to `enabled`; returns the state Lambda answers with.
async fn update(client: &Client, id: &str, enabled: bool) -> Result<String, TaskError> {
    let updated = client
        .update_event_source_mapping()
        .uuid(id)
        .enabled(enabled)
        .send()
        .await
        .map_err(|e| TaskError::aws("UpdateEventSourceMapping", id, e.into_service_error()))?;
    Ok(updated.state.unwrap_or_default())
}

/// Reached when `state` is `want`, else pending on it.
fn settle(state: &str, want: MappingState, changed: bool) -> Outcome {
    if is_settled(state, want) {
        Outcome::Reached { changed }
    } else {
        Outcome::Pending {
            changed,
            reason: format!("is {}", if state.is_empty() { "Unknown" } else { state }),
        }
    }
}

/// Sorts the outcomes into the output's lists.
fn tally(input: ToggleStreamsInput, outcomes: Vec<(String, Outcome)>) -> ToggleStreamsOutput {
    let (mut changed, mut unchanged, mut reached, mut pending, mut failed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, outcome) in outcomes {
        let note = |reason| MappingNote {
            mapping_id: id.clone(),
            reason,
        };
        match outcome {
            Outcome::Reached { changed: c } | Outcome::Pending { changed: c, .. } => {
                if c { &mut changed } else { &mut unchanged }.push(id.clone());
            }
            Outcome::Failed { .. } => {}
        }
        match outcome {
            Outcome::Reached { .. } => reached.push(id.clone()),
            Outcome::Pending { reason, .. } => pending.push(note(reason)),
            Outcome::Failed { reason } => failed.push(note(reason)),
        }
    }
    let want = input.action.want();
    let summary = summary(input.mapping_ids.len(), want, &reached, &pending, &failed);
    ToggleStreamsOutput {
        action: input.action,
        changed,
        unchanged,
        settled: pending.is_empty(),
        reached,
        pending,
        failed,
        summary,
        job: JobHandle::Mappings {
            environment: input.target,
            mapping_ids: input.mapping_ids,
            want,
        },
    }
}

/// `2 of 3 mapping(s) Enabled; still settling: a is Disabling; failed: b no longer exists …`.
fn summary(
    total: usize,
    want: MappingState,
    reached: &[String],
    pending: &[MappingNote],
    failed: &[MappingNote],
) -> String {
    let list = |notes: &[MappingNote]| {
        notes
            .iter()
            .map(|n| format!("{} {}", n.mapping_id, n.reason))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut text = format!("{} of {total} mapping(s) {want:?}", reached.len());
    if !pending.is_empty() {
        text.push_str(&format!("; still settling: {}", list(pending)));
    }
    if !failed.is_empty() {
        text.push_str(&format!("; failed: {}", list(failed)));
    }
    text
}

/// The settled state a mapping is in or moving to, if its state says so.
pub fn heading_to(state: &str) -> Option<MappingState> {
    match state {
        "Enabled" | "Enabling" | "Creating" => Some(MappingState::Enabled),
        "Disabled" | "Disabling" => Some(MappingState::Disabled),
        _ => None,
    }
}

/// Whether a mapping in `state` has reached `want`.
pub fn is_settled(state: &str, want: MappingState) -> bool {
    matches!(
        (state, want),
        ("Enabled", MappingState::Enabled) | ("Disabled", MappingState::Disabled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Environment;

    #[test]
    fn transitional_states_head_somewhere_and_are_not_settled() {
        assert_eq!(heading_to("Disabling"), Some(MappingState::Disabled));
        assert_eq!(heading_to("Enabling"), Some(MappingState::Enabled));
        assert_eq!(heading_to("Updating"), None);
        assert!(!is_settled("Disabling", MappingState::Disabled));
        assert!(is_settled("Disabled", MappingState::Disabled));
        assert!(!is_settled("Enabled", MappingState::Disabled));
    }

    #[test]
    fn busy_and_transient_errors_are_pending_the_rest_failed() {
        let busy = TaskError::Aws {
            operation: "UpdateEventSourceMapping",
            resource: "m".into(),
            failure: crate::error::Failure::Conflict,
            detail: "ResourceInUseException: m is Disabling".into(),
            source: "busy".into(),
        };
        assert!(matches!(trouble(busy), Outcome::Pending { .. }));
        let denied = TaskError::Aws {
            operation: "UpdateEventSourceMapping",
            resource: "m".into(),
            failure: crate::error::Failure::Unauthorized,
            detail: "AccessDeniedException: not allowed".into(),
            source: "denied".into(),
        };
        let Outcome::Failed { reason } = trouble(denied) else {
            panic!("access denied is final")
        };
        assert!(reason.contains("AccessDeniedException"), "{reason}");
    }

    #[test]
    fn every_mapping_lands_in_exactly_one_list() {
        let input = ToggleStreamsInput {
            run_id: "r".into(),
            target: Environment {
                name: "test".into(),
                role_arn: None,
                region: "us-east-1".into(),
            },
            action: ToggleAction::On,
            mapping_ids: vec!["a".into(), "b".into(), "c".into()],
        };
        let out = tally(
            input,
            vec![
                ("a".into(), Outcome::Reached { changed: true }),
                (
                    "b".into(),
                    settle("Disabling", MappingState::Enabled, false),
                ),
                (
                    "c".into(),
                    Outcome::Failed {
                        reason: GONE.into(),
                    },
                ),
            ],
        );
        assert_eq!(out.reached, ["a"]);
        assert_eq!(out.changed, ["a"]);
        assert_eq!(out.unchanged, ["b"]);
        assert_eq!(out.pending[0].mapping_id, "b");
        assert_eq!(out.failed[0].mapping_id, "c");
        assert!(!out.settled, "b is still moving");
        assert_eq!(
            out.summary,
            format!("1 of 3 mapping(s) Enabled; still settling: b is Disabling; failed: c {GONE}")
        );
    }
}
