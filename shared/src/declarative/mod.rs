//! The declarative engine: promotion of configuration that *is* state (Sesam, Compass, Data Fusion).
//!
//! Every declarative platform goes through the same moves, and only the first and last talk to
//! the platform:
//! 1. read the desired state from the source and the current state of the target, as [`Entity`]s
//!    in canonical form (the connector strips platform noise and parses stringified JSON);
//! 2. keep both in the artifact bucket ([`store`]): the source as the run's bundle, the target as
//!    its `before/` snapshot, the rollback source;
//! 3. [`plan()`] by identity, with guards and field-level diffs;
//! 4. apply the plan's changes in order, one idempotent call each, and say exactly which were
//!    applied when one fails ([`apply`]);
//! 5. verify by planning again: nothing may be left to do.
//!
//! A connector implements [`Declarative`]; it never stores, plans or orders anything itself.

pub mod apply;
pub mod diff;
pub mod entity;
pub mod plan;
pub mod store;

use std::future::Future;

use serde_json::Value;

pub use diff::FieldChange;
pub use entity::{Entity, Kinds, State};
pub use plan::{Action, Change, Counts, Guards, Plan, draft, plan};

use crate::error::TaskError;

/// The desired state read from a source, and where exactly it came from (for the manifest).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceState {
    /// The entities, canonical.
    pub entities: Vec<Entity>,
    /// Provenance without credentials: a git URL and commit id, a node URL, ….
    pub origin: Value,
}

/// One declarative platform: how to read each side and how to apply one change.
pub trait Declarative: Sync {
    /// The platform's kinds, in dependency order.
    fn kinds(&self) -> Kinds;

    /// Reads the desired state from the request's source (not a stored bundle: the engine reads
    /// those itself).
    fn read_source(&self) -> impl Future<Output = Result<SourceState, TaskError>> + Send;

    /// Reads the target's current state of the same selection.
    fn read_target(&self) -> impl Future<Output = Result<Vec<Entity>, TaskError>> + Send;

    /// Why this connector cannot apply `plan` (none: it can), found before anything changes, so a
    /// plan it would fail halfway is refused like one the guards refuse.
    fn refusals(&self, _plan: &Plan, _desired: &State) -> Vec<String> {
        Vec::new()
    }

    /// How many changes of one wave (same action and kind) may be applied at once.
    fn concurrency(&self) -> usize {
        1
    }

    /// Applies one change; `desired` is the source's entity for creates and updates. Must be
    /// idempotent: a create of an entity that already exists with this body, or a delete of one
    /// already gone, succeeds.
    fn apply_change(
        &self,
        change: &Change,
        desired: Option<&Entity>,
    ) -> impl Future<Output = Result<(), TaskError>> + Send;
}
