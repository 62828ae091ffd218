//! `toggle-streams`: pause (`off`) or resume (`on`) exactly the given stream consumers.
//!
//! It changes Lambda event source mappings, never the streams themselves: a re-enabled stream gets a
//! new ARN and orphans its consumers. Both directions are idempotent: a mapping already in (or moving
//! to) the wanted state is left alone and reported as unchanged.

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::contract::{JobHandle, MappingState, ToggleStreamsInput, ToggleStreamsOutput};
use crate::error::{MissingResource, TaskError};

use super::lookup::{get_mapping, mapping_state};

/// Moves each mapping towards the wanted state and reports what changed.
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
    let want = input.action.want();

    let mut current = Vec::with_capacity(input.mapping_ids.len());
    let mut missing = Vec::new();
    for id in &input.mapping_ids {
        match get_mapping(&client, id).await? {
            Some(mapping) => current.push((id, mapping_state(&mapping).to_string())),
            None => missing.push(MissingResource {
                what: "event source mapping",
                name: id.clone(),
                place: crate::aws::place(&input.target, &account_id),
            }),
        }
    }
    if !missing.is_empty() {
        return Err(TaskError::NotFound(missing));
    }

    let (mut changed, mut unchanged, mut settled) = (Vec::new(), Vec::new(), true);
    for (id, state) in current {
        let state = if heading_to(&state) == Some(want) {
            unchanged.push(id.clone());
            state
        } else {
            let updated = client
                .update_event_source_mapping()
                .uuid(id)
                .enabled(want == MappingState::Enabled)
                .send()
                .await
                .map_err(|e| {
                    TaskError::aws(
                        "UpdateEventSourceMapping",
                        id.clone(),
                        e.into_service_error(),
                    )
                })?;
            changed.push(id.clone());
            updated.state.unwrap_or_default()
        };
        settled &= is_settled(&state, want);
    }
    tracing::info!(action = ?input.action, changed = changed.len(), unchanged = unchanged.len(), settled, "toggled stream consumers");
    Ok(ToggleStreamsOutput {
        action: input.action,
        changed,
        unchanged,
        settled,
        job: JobHandle::Mappings {
            environment: input.target,
            mapping_ids: input.mapping_ids,
            want,
        },
    })
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

    #[test]
    fn transitional_states_head_somewhere_and_are_not_settled() {
        assert_eq!(heading_to("Disabling"), Some(MappingState::Disabled));
        assert_eq!(heading_to("Enabling"), Some(MappingState::Enabled));
        assert_eq!(heading_to("Updating"), None);
        assert!(!is_settled("Disabling", MappingState::Disabled));
        assert!(is_settled("Disabled", MappingState::Disabled));
        assert!(!is_settled("Enabled", MappingState::Disabled));
    }
}
