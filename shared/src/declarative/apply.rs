//! Applying a plan in order, one call per change, or when the invocation's time runs low (at least
//! one change is applied per call, so a caller that calls again always gets further). Calls are
//! idempotent, so a re-run (which plans again from the same bundle) converges.
//!
//! Consecutive creates and updates of one kind, or consecutive deletes of one kind (a wave), do not
//! depend on each other (the kinds are the dependency order), so up to the connector's
//! [`Declarative::concurrency`] of them run at once; waves run one after another, so the
//! dependency order holds. When a change fails, the rest of its wave still runs (each failure is
//! reported, not only the first) and no later wave starts; a failure of the service itself
//! (throttled, unavailable, credentials refused) starts no further change of the wave either. A connector that applies one change at
//! a time (concurrency 1) stops at the first failure: every change is a wave of its own.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures::StreamExt;

use super::Declarative;
use super::entity::{Kinds, State};
use super::plan::{Action, Change, Plan};
use crate::error::TaskError;

/// Applies `plan`'s changes in order until `out_of_time` says to stop (checked before each change
/// starts, once one has); returns the keys of the changes applied (the rest are left for the next
/// call).
pub async fn apply(
    connector: &impl Declarative,
    kinds: &Kinds,
    plan: &Plan,
    desired: &State,
    out_of_time: impl Fn() -> bool + Sync,
) -> Result<Vec<String>, TaskError> {
    let mut applied = Vec::with_capacity(plan.changes.len());
    let width = connector.concurrency().max(1);
    let begun = AtomicUsize::new(0);
    let halted = AtomicBool::new(false);
    let may_start = || {
        !halted.load(Ordering::SeqCst)
            && (begun.fetch_add(1, Ordering::SeqCst) == 0 || !out_of_time())
    };
    for wave in waves(&plan.changes, width) {
        let started = applied.len();
        let mut calls = Vec::with_capacity(wave.len());
        for change in wave {
            let entity = desired.get(kinds, &change.kind, &change.id);
            calls.push(one(connector, change, entity, &may_start, &halted));
        }
        let results: Vec<(&Change, Option<Result<(), TaskError>>)> = futures::stream::iter(calls)
            .buffer_unordered(width)
            .collect()
            .await;
        let mut failures = Vec::new();
        let mut skipped = false;
        for (change, result) in results {
            match result {
                Some(Ok(())) => {
                    tracing::info!(change = %change.key(), action = ?change.action, "applied");
                    applied.push(change.key());
                }
                Some(Err(error)) => failures.push((change.key(), error)),
                None => skipped = true,
            }
        }
        let mut failures = failures.into_iter();
        if let Some(first) = failures.next() {
            return Err(failed(plan, applied, started, first, failures.collect()));
        }
        if skipped {
            break;
        }
    }
    Ok(applied)
}

/// Applies one change (`entity`: the desired one, unused by a delete) when `may_start` says there
/// is time and no failure of the service halted the wave (none: skipped, left for the next call).
async fn one<'a>(
    connector: &impl Declarative,
    change: &'a Change,
    entity: Option<&crate::declarative::Entity>,
    may_start: &(impl Fn() -> bool + Sync),
    halted: &AtomicBool,
) -> (&'a Change, Option<Result<(), TaskError>>) {
    if !may_start() {
        return (change, None);
    }
    let entity = entity.filter(|_| change.action != Action::Delete);
    let result = connector.apply_change(change, entity).await;
    if result.as_ref().is_err_and(halts) {
        halted.store(true, Ordering::SeqCst);
    }
    (change, Some(result))
}

/// A failure of the service rather than of one change (throttled, unavailable, credentials
/// refused): no further change of the wave starts, so a struggling service is not hammered.
fn halts(error: &TaskError) -> bool {
    matches!(
        error.error_type(),
        "Throttled" | "ThrottledMinutes" | "Retryable" | "Unauthorized"
    )
}

/// The waves of `changes`: runs of one kind's creates and updates, or of its deletes; single
/// changes when only one may run at a time.
fn waves(changes: &[Change], width: usize) -> Vec<&[Change]> {
    if width == 1 {
        return changes.chunks(1).collect();
    }
    let deletes = |c: &Change| c.action == Action::Delete;
    changes
        .chunk_by(|a, b| a.kind == b.kind && deletes(a) == deletes(b))
        .collect()
}

/// The error of a wave with failures: the first failure, every other one, what was applied and
/// what was not (the failed changes and every change after the wave's start not applied).
fn failed(
    plan: &Plan,
    applied: Vec<String>,
    started: usize,
    (key, source): (String, TaskError),
    others: Vec<(String, TaskError)>,
) -> TaskError {
    let done: std::collections::BTreeSet<&String> = applied[started..].iter().collect();
    let not_applied = plan.changes[started..]
        .iter()
        .map(Change::key)
        .filter(|key| !done.contains(key))
        .collect();
    TaskError::ApplyFailed {
        failed: key,
        others: others
            .into_iter()
            .map(|(k, e)| format!("{k}: {e}"))
            .collect(),
        applied,
        not_applied,
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::declarative::{Entity, SourceState};

    /// A connector that records the order of calls and how many run at once; ids starting with
    /// `bad` fail.
    struct Recorder {
        width: usize,
        in_flight: AtomicUsize,
        most: AtomicUsize,
        calls: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn new(width: usize) -> Self {
            Recorder {
                width,
                in_flight: AtomicUsize::new(0),
                most: AtomicUsize::new(0),
                calls: Mutex::new(Vec::new()),
            }
        }
    }

    impl Declarative for Recorder {
        fn kinds(&self) -> Kinds {
            Kinds::new(&["system", "pipe"])
        }

        fn concurrency(&self) -> usize {
            self.width
        }

        async fn read_source(&self) -> Result<SourceState, TaskError> {
            unreachable!("not read in these tests")
        }

        async fn read_target(&self) -> Result<Vec<Entity>, TaskError> {
            unreachable!("not read in these tests")
        }

        async fn apply_change(&self, change: &Change, _: Option<&Entity>) -> Result<(), TaskError> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.calls.lock().unwrap().push(change.key());
            if change.id.starts_with("bad") {
                return Err(TaskError::Mismatch(format!("{} refused", change.id)));
            }
            if change.id == "down" {
                return Err(TaskError::Api {
                    service: "Test",
                    operation: "write",
                    resource: change.id.clone(),
                    failure: crate::error::Failure::Throttled,
                    detail: "HTTP 429".into(),
                    retry_after_seconds: None,
                });
            }
            Ok(())
        }
    }

    fn create(kind: &str, id: &str) -> Change {
        Change {
            action: Action::Create,
            kind: kind.into(),
            id: id.into(),
            fields: Vec::new(),
        }
    }

    fn desired(changes: &[Change]) -> State {
        let kinds = Kinds::new(&["system", "pipe"]);
        let entities = changes
            .iter()
            .map(|c| Entity::new(&c.kind, &c.id, &json!({"id": c.id})))
            .collect();
        State::from_entities(&kinds, entities).0
    }

    #[tokio::test]
    async fn a_wave_runs_within_the_bound_and_waves_run_in_order() {
        let mut changes: Vec<Change> = (0..6).map(|i| create("system", &format!("s{i}"))).collect();
        changes.extend((0..3).map(|i| create("pipe", &format!("p{i}"))));
        let plan = Plan {
            changes: changes.clone(),
            ..Plan::default()
        };
        let connector = Recorder::new(3);
        let kinds = connector.kinds();
        let applied = apply(&connector, &kinds, &plan, &desired(&changes), || false)
            .await
            .unwrap();
        assert_eq!(applied.len(), 9);
        assert_eq!(connector.most.load(Ordering::SeqCst), 3);
        let calls = connector.calls.lock().unwrap().clone();
        let last_system = calls
            .iter()
            .rposition(|k| k.starts_with("system/"))
            .unwrap();
        let first_pipe = calls.iter().position(|k| k.starts_with("pipe/")).unwrap();
        assert!(
            last_system < first_pipe,
            "pipes wait for every system: {calls:?}"
        );
    }

    #[tokio::test]
    async fn out_of_time_starts_nothing_more_but_always_one() {
        let changes: Vec<Change> = (0..5).map(|i| create("system", &format!("s{i}"))).collect();
        let plan = Plan {
            changes: changes.clone(),
            ..Plan::default()
        };
        let connector = Recorder::new(4);
        let kinds = connector.kinds();
        let applied = apply(&connector, &kinds, &plan, &desired(&changes), || true)
            .await
            .unwrap();
        assert_eq!(applied, ["system/s0"], "one change per call, then stop");
        assert_eq!(connector.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_failing_service_starts_no_further_change_of_the_wave() {
        let changes: Vec<Change> = ["down", "s1", "s2", "s3", "s4", "s5"]
            .iter()
            .map(|id| create("system", id))
            .collect();
        let plan = Plan {
            changes: changes.clone(),
            ..Plan::default()
        };
        let connector = Recorder::new(2);
        let kinds = connector.kinds();
        let error = apply(&connector, &kinds, &plan, &desired(&changes), || false)
            .await
            .unwrap_err();
        assert_eq!(error.error_type(), "Throttled");
        let calls = connector.calls.lock().unwrap().len();
        assert!(
            calls <= 3,
            "{calls} calls: the wave went on after the service failed"
        );
    }

    #[tokio::test]
    async fn one_at_a_time_stops_at_the_first_failure() {
        let changes = vec![
            create("system", "a"),
            create("system", "bad"),
            create("system", "c"),
        ];
        let plan = Plan {
            changes: changes.clone(),
            ..Plan::default()
        };
        let connector = Recorder::new(1);
        let kinds = connector.kinds();
        let error = apply(&connector, &kinds, &plan, &desired(&changes), || false)
            .await
            .unwrap_err();
        let TaskError::ApplyFailed {
            applied,
            not_applied,
            others,
            ..
        } = &error
        else {
            panic!("expected ApplyFailed, got {error:?}");
        };
        assert_eq!(applied, &["system/a"]);
        assert_eq!(not_applied, &["system/bad", "system/c"]);
        assert!(others.is_empty());
        assert_eq!(
            connector.calls.lock().unwrap().len(),
            2,
            "system/c never called"
        );
    }

    #[tokio::test]
    async fn every_failure_of_a_wave_is_named_and_no_later_wave_starts() {
        let changes = vec![
            create("system", "bad-1"),
            create("system", "ok"),
            create("system", "bad-2"),
            create("pipe", "p"),
        ];
        let plan = Plan {
            changes: changes.clone(),
            ..Plan::default()
        };
        let connector = Recorder::new(4);
        let kinds = connector.kinds();
        let error = apply(&connector, &kinds, &plan, &desired(&changes), || false)
            .await
            .unwrap_err();
        let TaskError::ApplyFailed {
            failed,
            others,
            applied,
            not_applied,
            ..
        } = &error
        else {
            panic!("expected ApplyFailed, got {error:?}");
        };
        let mut failures = vec![
            failed.clone(),
            others[0].split(':').next().unwrap().to_string(),
        ];
        failures.sort();
        assert_eq!(failures, ["system/bad-1", "system/bad-2"]);
        assert_eq!(applied, &["system/ok"]);
        assert_eq!(not_applied, &["system/bad-1", "system/bad-2", "pipe/p"]);
        assert!(
            !connector
                .calls
                .lock()
                .unwrap()
                .contains(&"pipe/p".to_string())
        );
        assert!(error.to_string().contains("1 more failed too"), "{error}");
    }
}
