//! The plan: the desired state (the source) against the current state (the target), by identity.
//!
//! Each entity is created, updated (with its field changes), deleted (only with `prune`) or left
//! unchanged. Creates and updates run in dependency order, deletes after them in reverse order, so
//! a pipe is updated away from a system before the system goes. Guards refuse the whole plan before
//! anything changes: protected identities are never touched, an empty source never prunes, and no
//! more than `max_delete` entities are deleted. Both states are ordered maps, so planning costs
//! O(n log n) in the number of entities.

use serde::{Deserialize, Serialize};

use super::diff::{FieldChange, field_changes};
use super::entity::{Entity, Kinds, State};
use crate::error::TaskError;

/// How many changes a plan summary lists (the full plan is kept in the artifact bucket).
pub const SUMMARY_CHANGES: usize = 20;

/// The guards of one promotion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guards {
    /// Identities (`id` or `kind/id`) never changed or deleted.
    #[serde(default)]
    pub protect: Vec<String>,
    /// Delete target entities that the source does not hold.
    #[serde(default)]
    pub prune: bool,
    /// The most deletions one run may make.
    pub max_delete: u64,
}

impl Guards {
    /// Whether `entity` is protected.
    pub fn protects(&self, entity: &Entity) -> bool {
        self.protect
            .iter()
            .any(|p| *p == entity.id || *p == entity.key())
    }
}

/// What happens to one entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Absent on the target: created.
    Create,
    /// Different on the target: replaced by the source's version.
    Update,
    /// On the target only, and pruning is on: deleted.
    Delete,
}

impl Action {
    /// `create`, `update` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One planned change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// What happens.
    pub action: Action,
    /// The entity's kind.
    pub kind: String,
    /// The entity's identity.
    pub id: String,
    /// For updates: the changed fields, old → new (secrets never shown).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

impl Change {
    /// `kind/id`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.id)
    }

    /// One line per change, then one indented line per changed field.
    pub fn describe(&self) -> Vec<String> {
        let sign = match self.action {
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
        };
        let mut lines = vec![format!("{sign} {}", self.key())];
        lines.extend(self.fields.iter().map(|f| format!("    {}", f.describe())));
        lines
    }
}

/// How many entities each action touches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// Created.
    pub create: u64,
    /// Updated.
    pub update: u64,
    /// Deleted.
    pub delete: u64,
    /// Equal on both sides.
    pub unchanged: u64,
    /// On the target only, kept because pruning is off.
    pub kept: u64,
    /// Skipped because protected.
    pub protected: u64,
}

impl Counts {
    /// Creates, updates and deletes together.
    pub fn changes(&self) -> u64 {
        self.create + self.update + self.delete
    }
}

/// The whole plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// Changes in apply order.
    pub changes: Vec<Change>,
    /// Counts per action.
    pub counts: Counts,
    /// Target entities kept because pruning is off (`kind/id`).
    #[serde(default)]
    pub kept: Vec<String>,
    /// Protected entities present on either side (`kind/id`), never touched.
    #[serde(default)]
    pub protected: Vec<String>,
    /// Why the guards refuse this plan (empty: it may be applied).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

impl Plan {
    /// Nothing would change.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes of this plan (`action kind/id`) that `shown` does not hold: what applying this
    /// plan would do beyond what was shown (a re-run after a partial apply does less, never more).
    pub fn not_in(&self, shown: &Plan) -> Vec<String> {
        let known: std::collections::BTreeSet<(Action, &str, &str)> = shown
            .changes
            .iter()
            .map(|c| (c.action, c.kind.as_str(), c.id.as_str()))
            .collect();
        self.changes
            .iter()
            .filter(|c| !known.contains(&(c.action, c.kind.as_str(), c.id.as_str())))
            .map(|c| format!("{} {}", c.action.as_str(), c.key()))
            .collect()
    }

    /// `Ok` when no guard refuses the plan.
    pub fn allowed(&self) -> Result<(), TaskError> {
        if self.refused.is_empty() {
            Ok(())
        } else {
            Err(TaskError::Refused(self.refused.join("; ")))
        }
    }

    /// The readable plan: one block per change.
    pub fn describe(&self) -> Vec<String> {
        self.changes.iter().flat_map(Change::describe).collect()
    }
}

/// Plans `desired` onto `current`, or refuses with every guard that failed.
pub fn plan(
    kinds: &Kinds,
    desired: &State,
    current: &State,
    guards: &Guards,
) -> Result<Plan, TaskError> {
    let plan = draft(kinds, desired, current, guards);
    plan.allowed()?;
    Ok(plan)
}

/// Plans `desired` onto `current`, recording in [`Plan::refused`] every guard that fails (a dry
/// run reports a refused plan instead of failing on it).
pub fn draft(kinds: &Kinds, desired: &State, current: &State, guards: &Guards) -> Plan {
    let mut plan = Plan::default();
    let mut deletes = Vec::new();
    let mut protected = std::collections::BTreeSet::new();
    for entity in desired.iter() {
        if guards.protects(entity) {
            protected.insert(entity.key());
            continue;
        }
        match current.get(kinds, &entity.kind, &entity.id) {
            None => plan
                .changes
                .push(change(Action::Create, entity, Vec::new())),
            Some(now) if now.body == entity.body => plan.counts.unchanged += 1,
            Some(now) => {
                let fields = field_changes(&now.body, &entity.body);
                plan.changes.push(change(Action::Update, entity, fields));
            }
        }
    }
    for entity in current.iter().rev() {
        if guards.protects(entity) {
            protected.insert(entity.key());
        } else if desired.get(kinds, &entity.kind, &entity.id).is_none() {
            if guards.prune && !kinds.is_singleton(&entity.kind) {
                deletes.push(change(Action::Delete, entity, Vec::new()));
            } else {
                plan.kept.push(entity.key());
            }
        }
    }
    plan.changes.extend(deletes);
    plan.protected = protected.into_iter().collect();
    plan.kept.reverse();
    count(&mut plan);
    plan.refused = refusals(&plan, kinds, desired, guards);
    plan
}

fn change(action: Action, entity: &Entity, fields: Vec<FieldChange>) -> Change {
    Change {
        action,
        kind: entity.kind.clone(),
        id: entity.id.clone(),
        fields,
    }
}

fn count(plan: &mut Plan) {
    for change in &plan.changes {
        match change.action {
            Action::Create => plan.counts.create += 1,
            Action::Update => plan.counts.update += 1,
            Action::Delete => plan.counts.delete += 1,
        }
    }
    plan.counts.kept = plan.kept.len() as u64;
    plan.counts.protected = plan.protected.len() as u64;
}

/// Why a plan may not be applied: pruning from an empty source, more than `max_delete` deletions.
fn refusals(plan: &Plan, kinds: &Kinds, desired: &State, guards: &Guards) -> Vec<String> {
    let mut problems = Vec::new();
    let unprotected_source = desired
        .iter()
        .filter(|e| !guards.protects(e) && !kinds.is_singleton(&e.kind))
        .count();
    if guards.prune && unprotected_source == 0 && plan.counts.delete > 0 {
        problems.push(format!(
            "the source holds no entity, so pruning would delete all {} on the target; check the source (a wrong path or ref?)",
            plan.counts.delete
        ));
    }
    if plan.counts.delete > guards.max_delete {
        problems.push(format!(
            "{} deletions planned, more than max_delete {} (first: {})",
            plan.counts.delete,
            guards.max_delete,
            plan.changes
                .iter()
                .filter(|c| c.action == Action::Delete)
                .take(5)
                .map(Change::key)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn kinds() -> Kinds {
        Kinds::new(&["metadata", "system", "pipe"]).with_singletons(&["metadata"])
    }

    fn state(entities: &[(&str, &str, Value)]) -> State {
        let list = entities
            .iter()
            .map(|(k, id, body)| Entity::new(*k, *id, body))
            .collect();
        State::from_entities(&kinds(), list).0
    }

    fn guards(prune: bool, max_delete: u64, protect: &[&str]) -> Guards {
        Guards {
            protect: protect.iter().map(|p| (*p).to_string()).collect(),
            prune,
            max_delete,
        }
    }

    #[test]
    fn orders_creates_and_updates_by_dependency_and_deletes_in_reverse() {
        let desired = state(&[
            ("pipe", "p1", json!({"source": {"system": "s2"}})),
            ("system", "s2", json!({"type": "system:url"})),
            ("pipe", "same", json!({"a": [1, 2]})),
        ]);
        let current = state(&[
            ("pipe", "p1", json!({"source": {"system": "s1"}})),
            ("system", "s1", json!({"type": "system:url"})),
            ("pipe", "old", json!({})),
            ("pipe", "same", json!({"a": [1, 2]})),
        ]);
        let plan = plan(&kinds(), &desired, &current, &guards(true, 5, &[])).unwrap();
        let order: Vec<(Action, String)> =
            plan.changes.iter().map(|c| (c.action, c.key())).collect();
        assert_eq!(
            order,
            [
                (Action::Create, "system/s2".to_string()),
                (Action::Update, "pipe/p1".to_string()),
                (Action::Delete, "pipe/old".to_string()),
                (Action::Delete, "system/s1".to_string()),
            ]
        );
        assert_eq!(plan.counts.unchanged, 1);
        assert_eq!(
            plan.changes[1].fields[0].describe(),
            "/source/system: \"s1\" → \"s2\""
        );
    }

    #[test]
    fn keeps_extras_without_prune_and_never_touches_protected() {
        let desired = state(&[("system", "autodeployer", json!({"v": 2}))]);
        let current = state(&[
            ("system", "autodeployer", json!({"v": 1})),
            ("pipe", "extra", json!({})),
        ]);
        let plan = plan(
            &kinds(),
            &desired,
            &current,
            &guards(false, 0, &["autodeployer"]),
        )
        .unwrap();
        assert!(plan.is_empty());
        assert_eq!(plan.kept, ["pipe/extra"]);
        assert_eq!(plan.protected, ["system/autodeployer"]);
        assert_eq!(plan.counts.protected, 1);
    }

    #[test]
    fn singletons_are_never_deleted_nor_count_as_a_source() {
        let current = state(&[("metadata", "node", json!({})), ("pipe", "a", json!({}))]);
        let only_metadata = state(&[("metadata", "node", json!({"v": 2}))]);
        let err = plan(&kinds(), &only_metadata, &current, &guards(true, 10, &[])).unwrap_err();
        assert!(err.to_string().contains("source holds no entity"), "{err}");
        let desired = state(&[("pipe", "a", json!({}))]);
        let plan = plan(&kinds(), &desired, &current, &guards(true, 10, &[])).unwrap();
        assert!(plan.is_empty(), "{plan:?}");
        assert_eq!(plan.kept, ["metadata/node"]);
    }

    #[test]
    fn names_changes_a_shown_plan_did_not_hold() {
        let desired = state(&[("pipe", "a", json!({"v": 1})), ("pipe", "b", json!({}))]);
        let current = state(&[("pipe", "a", json!({"v": 0}))]);
        let shown = plan(&kinds(), &desired, &current, &guards(false, 0, &[])).unwrap();
        let changed = state(&[("pipe", "a", json!({"v": 0})), ("pipe", "x", json!({}))]);
        let now = plan(&kinds(), &desired, &changed, &guards(true, 5, &[])).unwrap();
        assert_eq!(now.not_in(&shown), ["delete pipe/x"]);
        let partly_applied = state(&[("pipe", "a", json!({"v": 1}))]);
        let rest = plan(&kinds(), &desired, &partly_applied, &guards(false, 0, &[])).unwrap();
        assert!(rest.not_in(&shown).is_empty());
    }

    #[test]
    fn refuses_pruning_from_an_empty_source_and_too_many_deletes() {
        let current = state(&[("pipe", "a", json!({})), ("pipe", "b", json!({}))]);
        let empty = state(&[]);
        let err = plan(&kinds(), &empty, &current, &guards(true, 10, &[])).unwrap_err();
        assert_eq!(err.error_type(), "Refused");
        assert!(err.to_string().contains("source holds no entity"), "{err}");

        let desired = state(&[("pipe", "c", json!({}))]);
        let err = plan(&kinds(), &desired, &current, &guards(true, 1, &[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("2 deletions planned, more than max_delete 1"),
            "{err}"
        );
        assert!(plan(&kinds(), &desired, &current, &guards(true, 2, &[])).is_ok());
    }

    #[test]
    fn plans_a_thousand_entities_in_n_log_n() {
        let desired: Vec<(String, Value)> = (0..1000)
            .map(|i| (format!("p{i:04}"), json!({"n": i})))
            .collect();
        let current: Vec<(String, Value)> = (0..1000)
            .map(|i| {
                (
                    format!("p{i:04}"),
                    json!({"n": if i % 5 == 0 { -1 } else { i }}),
                )
            })
            .collect();
        let build = |list: &[(String, Value)]| {
            State::from_entities(
                &kinds(),
                list.iter()
                    .map(|(id, b)| Entity::new("pipe", id, b))
                    .collect(),
            )
            .0
        };
        let plan = plan(
            &kinds(),
            &build(&desired),
            &build(&current),
            &guards(false, 0, &[]),
        )
        .unwrap();
        assert_eq!(plan.counts.update, 200);
        assert_eq!(plan.counts.unchanged, 800);
    }
}
