//! Applying a plan: each change in order, one call each, stopping at the first failure with the
//! list of what was applied and what was not, or when the invocation's time runs low (at least one
//! change is applied per call, so a caller that calls again always gets further). Calls are
//! idempotent, so a re-run (which plans again from the same bundle) converges.

use super::Declarative;
use super::entity::{Kinds, State};
use super::plan::{Action, Plan};
use crate::error::TaskError;

/// Applies `plan`'s changes in order until `out_of_time` says to stop; returns the keys of the
/// changes applied (the rest are left for the next call).
pub async fn apply(
    connector: &impl Declarative,
    kinds: &Kinds,
    plan: &Plan,
    desired: &State,
    out_of_time: impl Fn() -> bool,
) -> Result<Vec<String>, TaskError> {
    let mut applied = Vec::with_capacity(plan.changes.len());
    for (index, change) in plan.changes.iter().enumerate() {
        if index > 0 && out_of_time() {
            break;
        }
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
