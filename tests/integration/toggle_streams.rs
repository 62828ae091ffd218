//! toggle-streams: off then on with consumers on two tables, one consumer disabled beforehand.

use shared::contract::{
    CheckStatusInput, JobState, PreflightInput, ToggleAction, ToggleStreamsInput,
};
use shared::tasks::check_status::check_status;
use shared::tasks::preflight::preflight;
use shared::tasks::toggle_streams::toggle_streams;

use ferry_tests::fixtures::{Account, accounts};
use ferry_tests::{aws, prod, test_env, unique};

use crate::config;
use crate::preflight::World;

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
