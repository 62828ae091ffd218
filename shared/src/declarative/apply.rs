//! Applying a plan: each change in order, one call each, stopping at the first failure with the
//! list of what was applied and what was not. Calls are idempotent, so a re-run (which plans again
//! from the same bundle) converges.

use super::Declarative;
use super::entity::{Kinds, State};
use super::plan::{Action, Plan};
use crate::error::TaskError;

/// Applies `plan`'s changes in order; returns the keys of the changes applied.
pub async fn apply(
    connector: &impl Declarative,
    kinds: &Kinds,
    plan: &Plan,
    desired: &State,
) -> Result<Vec<String>, TaskError> {
    let mut applied = Vec::with_capacity(plan.changes.len());
    for (index, change) in plan.changes.iter().enumerate() {
        let entity = match change.action {
            Action::Delete => None,
            Action::Create | Action::Update => desired.get(kinds, &change.kind, &change.id),
        };
        if let Err(source) = connector.apply_change(change, entity).await {
            return Err(TaskError::ApplyFailed {
                failed: change.key(),
                applied,
                not_applied: plan.changes[index..].iter().map(|c| c.key()).collect(),
                source: Box::new(source),
            });
        }
        tracing::info!(change = %change.key(), action = ?change.action, "applied");
        applied.push(change.key());
    }
    Ok(applied)
}
