//! toggle-streams: off then on with consumers on two tables, one consumer disabled beforehand; a
//! resume that goes on past a mapping that disappeared and waits out one still `Disabling`; the
//! pause marks a run that died leaves, and what the next preflight does about them.

use std::collections::HashMap;

use serde_json::json;
use shared::contract::{
    CheckStatusInput, JobState, PreflightInput, ToggleAction, ToggleStreamsInput,
    ToggleStreamsOutput,
};
use shared::tasks::check_status::check_status;
use shared::tasks::preflight::preflight;
use shared::tasks::toggle_streams::marks::{PAUSED_AT_TAG, PAUSED_BY_TAG};
use shared::tasks::toggle_streams::toggle_streams;

use ferry_tests::fixtures::{Account, accounts};
use ferry_tests::{aws, prod, test_env, unique};

use crate::config;
use crate::preflight::World;

/// The tags on a mapping (its pause mark among them).
async fn tags(t: &Account<'_>, mapping_id: &str) -> HashMap<String, String> {
    let lambda = t.lambda().await;
    let arn = lambda
        .get_event_source_mapping()
        .uuid(mapping_id)
        .send()
        .await
        .unwrap()
        .event_source_mapping_arn
        .expect("mapping ARN");
    lambda
        .list_tags()
        .resource(arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap_or_default()
}

/// Tags a mapping so the local endpoint reports it moving for `reads` answers after each change.
async fn settles_slowly(t: &Account<'_>, mapping_id: &str, reads: u32) {
    let lambda = t.lambda().await;
    let arn = lambda
        .get_event_source_mapping()
        .uuid(mapping_id)
        .send()
        .await
        .unwrap()
        .event_source_mapping_arn
        .unwrap();
    lambda
        .tag_resource()
        .resource(arn)
        .tags("emu-settle-reads", reads.to_string())
        .send()
        .await
        .unwrap();
}

/// A table with a stream and `n` enabled consumers; returns the stream ARN and the mapping ids.
async fn consumers(t: &Account<'_>, n: usize) -> (String, Vec<String>) {
    let stream = t
        .create_table(&unique("efcms-test-alpha"), true)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(
            t.create_consumer(&unique("streams_test"), &stream, true)
                .await,
        );
    }
    (stream, ids)
}

fn toggle(run_id: &str, action: ToggleAction, ids: &[String]) -> ToggleStreamsInput {
    ToggleStreamsInput {
        run_id: run_id.to_string(),
        target: test_env(),
        action,
        mapping_ids: ids.to_vec(),
    }
}

#[tokio::test]
async fn off_then_on_restores_exactly_what_was_enabled() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let run_id = unique("run");
    let plan = preflight(
        &aws,
        &config(),
        PreflightInput {
            run_id: run_id.clone(),
            request: world.request(),
        },
    )
    .await
    .unwrap();
    assert_eq!(plan.pause.len(), 2);

    let off = toggle_streams(
        &aws,
        &config(),
        toggle(&run_id, ToggleAction::Off, &plan.pause),
    )
    .await
    .unwrap();
    assert_eq!(off.changed.len(), 2);
    assert!(off.unchanged.is_empty());
    assert!(off.settled);
    for (_, id, _) in &world.consumers {
        assert_eq!(t.mapping_state(id).await, "Disabled");
    }
    for id in &plan.pause {
        let mark = tags(&t, id).await;
        assert_eq!(mark.get(PAUSED_BY_TAG), Some(&run_id), "{id} is marked");
        assert!(mark.contains_key(PAUSED_AT_TAG), "{mark:?}");
    }
    let status = check_status(
        &aws,
        CheckStatusInput {
            run_id: run_id.clone(),
            job: off.job.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);

    let again = toggle_streams(
        &aws,
        &config(),
        toggle(&run_id, ToggleAction::Off, &plan.pause),
    )
    .await
    .unwrap();
    assert!(again.changed.is_empty(), "a second off changes nothing");
    assert_eq!(again.unchanged.len(), 2);

    let on = toggle_streams(
        &aws,
        &config(),
        toggle(&run_id, ToggleAction::On, &plan.pause),
    )
    .await
    .unwrap();
    assert_eq!(on.changed.len(), 2);
    assert!(on.settled);
    let mut reached = on.reached.clone();
    reached.sort();
    let mut paused = plan.pause.clone();
    paused.sort();
    assert_eq!(reached, paused);
    for id in &plan.pause {
        assert!(
            !tags(&t, id).await.contains_key(PAUSED_BY_TAG),
            "a resumed mapping loses its mark"
        );
    }
    for (_, id, enabled_before) in &world.consumers {
        let want = if *enabled_before {
            "Enabled"
        } else {
            "Disabled"
        };
        assert_eq!(
            t.mapping_state(id).await,
            want,
            "mapping {id} returns to its state before the run"
        );
    }
    let on_again = toggle_streams(
        &aws,
        &config(),
        toggle(&run_id, ToggleAction::On, &plan.pause),
    )
    .await
    .unwrap();
    assert!(on_again.changed.is_empty());
}

#[tokio::test]
async fn check_status_fails_when_a_mapping_is_changed_behind_the_run() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let table = unique("efcms-test-alpha");
    let stream = t.create_table(&table, true).await.unwrap();
    let id = t
        .create_consumer(&unique("streams_test"), &stream, true)
        .await;
    let run_id = unique("run");
    let off = toggle_streams(
        &aws,
        &config(),
        toggle(&run_id, ToggleAction::Off, std::slice::from_ref(&id)),
    )
    .await
    .unwrap();
    t.lambda()
        .await
        .update_event_source_mapping()
        .uuid(&id)
        .enabled(true)
        .send()
        .await
        .unwrap();

    let status = check_status(
        &aws,
        CheckStatusInput {
            run_id,
            job: off.job,
        },
    )
    .await
    .unwrap();

    assert_eq!(status.state, JobState::Failed);
    assert!(
        status.detail.contains("changed outside this run"),
        "{}",
        status.detail
    );
}

#[tokio::test]
async fn unknown_mappings_are_named_and_nothing_is_changed() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let table = unique("efcms-test-alpha");
    let stream = t.create_table(&table, true).await.unwrap();
    let id = t
        .create_consumer(&unique("streams_test"), &stream, true)
        .await;
    let ids = vec![
        id.clone(),
        "00000000-0000-0000-0000-000000000000".to_string(),
    ];

    let err = toggle_streams(
        &aws,
        &config(),
        toggle(&unique("run"), ToggleAction::Off, &ids),
    )
    .await
    .unwrap_err();

    assert_eq!(err.error_type(), "NotFound");
    assert!(
        err.to_string()
            .contains("00000000-0000-0000-0000-000000000000"),
        "{err}"
    );
    assert_eq!(t.mapping_state(&id).await, "Enabled");
}

#[tokio::test]
async fn pausing_consumers_in_a_protected_account_is_refused() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = Account {
        session: &session,
        env: prod(),
    };
    let table = unique("efcms-prod-alpha");
    let stream = p.create_table(&table, true).await.unwrap();
    let id = p
        .create_consumer(&unique("streams_prod"), &stream, true)
        .await;
    let mut input = toggle(&unique("run"), ToggleAction::Off, std::slice::from_ref(&id));
    input.target = prod();

    let err = toggle_streams(&aws, &config(), input).await.unwrap_err();

    assert_eq!(err.error_type(), "ProtectedTarget");
    assert_eq!(p.mapping_state(&id).await, "Enabled");
}

#[tokio::test]
async fn resume_goes_on_past_a_mapping_replaced_mid_run_and_names_it() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let (stream, ids) = consumers(&t, 3).await;
    let run_id = unique("run");
    toggle_streams(&aws, &config(), toggle(&run_id, ToggleAction::Off, &ids))
        .await
        .unwrap();
    // A deploy replaces the second consumer's mapping while the copy runs.
    let lambda = t.lambda().await;
    let gone = lambda
        .delete_event_source_mapping()
        .uuid(&ids[1])
        .send()
        .await
        .unwrap();
    let replacement = lambda
        .create_event_source_mapping()
        .function_name(gone.function_arn.unwrap())
        .event_source_arn(&stream)
        .starting_position(aws_sdk_lambda::types::EventSourcePosition::TrimHorizon)
        .send()
        .await
        .unwrap()
        .uuid
        .unwrap();

    let on = toggle_streams(&aws, &config(), toggle(&run_id, ToggleAction::On, &ids))
        .await
        .unwrap();

    assert_eq!(on.reached, [ids[0].clone(), ids[2].clone()], "{on:?}");
    assert_eq!(t.mapping_state(&ids[0]).await, "Enabled");
    assert_eq!(t.mapping_state(&ids[2]).await, "Enabled");
    assert_eq!(on.failed.len(), 1, "{on:?}");
    assert_eq!(on.failed[0].mapping_id, ids[1]);
    assert!(on.failed[0].reason.contains("no longer exists"), "{on:?}");
    assert!(
        on.pending.is_empty() && on.settled,
        "nothing left to wait for"
    );
    assert!(on.summary.contains(&ids[1]), "{}", on.summary);
    assert_eq!(t.mapping_state(&replacement).await, "Enabled", "untouched");
}

#[tokio::test]
async fn a_mapping_still_disabling_is_pending_not_failed_and_a_later_call_resumes_it() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let (_, ids) = consumers(&t, 2).await;
    settles_slowly(&t, &ids[0], 2).await;
    let run_id = unique("run");
    let off = toggle_streams(&aws, &config(), toggle(&run_id, ToggleAction::Off, &ids))
        .await
        .unwrap();
    assert_eq!(off.pending.len(), 1, "{off:?}");
    assert!(!off.settled);

    let first = toggle_streams(&aws, &config(), toggle(&run_id, ToggleAction::On, &ids))
        .await
        .unwrap();
    assert_eq!(first.reached, [ids[1].clone()], "{first:?}");
    assert!(
        first.failed.is_empty(),
        "Disabling is not a failure: {first:?}"
    );
    assert_eq!(first.pending[0].mapping_id, ids[0]);
    assert!(first.pending[0].reason.contains("Disabling"), "{first:?}");
    assert!(!first.settled);

    let mut calls = vec![first];
    while !calls.last().unwrap().settled {
        assert!(calls.len() < 6, "never settled: {calls:?}");
        calls.push(
            toggle_streams(&aws, &config(), toggle(&run_id, ToggleAction::On, &ids))
                .await
                .unwrap(),
        );
    }
    let last: &ToggleStreamsOutput = calls.last().unwrap();
    let mut reached = last.reached.clone();
    reached.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(reached, all, "{calls:?}");
    assert!(last.failed.is_empty());
    assert_eq!(t.mapping_state(&ids[0]).await, "Enabled");
    assert!(!tags(&t, &ids[0]).await.contains_key(PAUSED_BY_TAG));
}

#[tokio::test]
async fn consumers_a_dead_run_left_paused_are_refused_then_resumed_with_resume_leftover() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let cfg = config();
    let preflight_as = |run_id: &str, request: serde_json::Value| {
        preflight(
            &aws,
            &cfg,
            PreflightInput {
                run_id: run_id.to_string(),
                request,
            },
        )
    };
    // Run A pauses its consumers and dies without resuming them.
    let run_a = unique("run-a");
    let plan_a = preflight_as(&run_a, world.request()).await.unwrap();
    toggle_streams(
        &aws,
        &config(),
        toggle(&run_a, ToggleAction::Off, &plan_a.pause),
    )
    .await
    .unwrap();

    let err = preflight_as(&unique("run-b"), world.request())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Refused", "{err}");
    let message = err.to_string();
    for id in &plan_a.pause {
        assert!(message.contains(&format!("mapping '{id}'")), "{message}");
    }
    assert!(message.contains(&format!("run '{run_a}'")), "{message}");
    assert!(message.contains("resume_leftover"), "{message}");

    let mut dry = world.request();
    dry["dry_run"] = json!(true);
    let dry_plan = preflight_as(&unique("run-b"), dry).await.unwrap();
    assert_eq!(dry_plan.leftover.len(), 2, "{:?}", dry_plan.leftover);
    assert!(dry_plan.leftover.iter().all(|l| l.paused_by == run_a));
    assert!(
        dry_plan
            .warnings
            .iter()
            .any(|w| w.contains("a real run refuses")),
        "{:?}",
        dry_plan.warnings
    );

    // Run B adopts them: they join its pause list, are marked by it and resumed at its end.
    let run_b = unique("run-b");
    let mut adopt = world.request();
    adopt["streams"] = json!({"resume_leftover": true});
    let plan_b = preflight_as(&run_b, adopt).await.unwrap();
    let mut pause = plan_b.pause.clone();
    pause.sort();
    let mut left = plan_a.pause.clone();
    left.sort();
    assert_eq!(pause, left, "the consumers left paused, and only those");
    let off = toggle_streams(
        &aws,
        &config(),
        toggle(&run_b, ToggleAction::Off, &plan_b.pause),
    )
    .await
    .unwrap();
    assert_eq!(off.unchanged.len(), 2, "already disabled");
    for id in &plan_b.pause {
        assert_eq!(tags(&t, id).await.get(PAUSED_BY_TAG), Some(&run_b));
    }
    let on = toggle_streams(
        &aws,
        &config(),
        toggle(&run_b, ToggleAction::On, &plan_b.pause),
    )
    .await
    .unwrap();
    assert_eq!(on.reached.len(), 2, "{on:?}");
    for (_, id, enabled_before) in &world.consumers {
        let want = if *enabled_before {
            "Enabled"
        } else {
            "Disabled"
        };
        assert_eq!(t.mapping_state(id).await, want, "{id}");
    }

    let plan_c = preflight_as(&unique("run-c"), world.request())
        .await
        .unwrap();
    assert!(plan_c.leftover.is_empty(), "{:?}", plan_c.leftover);
    assert_eq!(plan_c.pause.len(), 2);
}

#[tokio::test]
async fn check_status_names_every_mapping_gone_or_changed_behind_the_run() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let t = Account {
        session: &session,
        env: test_env(),
    };
    let (_, ids) = consumers(&t, 3).await;
    let run_id = unique("run");
    let off = toggle_streams(&aws, &config(), toggle(&run_id, ToggleAction::Off, &ids))
        .await
        .unwrap();
    let lambda = t.lambda().await;
    lambda
        .delete_event_source_mapping()
        .uuid(&ids[0])
        .send()
        .await
        .unwrap();
    lambda
        .update_event_source_mapping()
        .uuid(&ids[1])
        .enabled(true)
        .send()
        .await
        .unwrap();

    let status = check_status(
        &aws,
        CheckStatusInput {
            run_id,
            job: off.job,
        },
    )
    .await
    .unwrap();

    assert_eq!(status.state, JobState::Failed);
    assert!(
        status
            .detail
            .contains(&format!("{} no longer exists", ids[0]))
            && status
                .detail
                .contains(&format!("{} is Enabled, expected Disabled", ids[1])),
        "{}",
        status.detail
    );
}
