//! start-glue and check-status on Glue job runs: polling to success, a failed run with its message,
//! an idempotent start, and the protected-target guard.

use shared::contract::{
    CheckStatusInput, CopyMode, JobHandle, JobState, MaskingSpec, StartGlueInput, TableEngine,
    TableSpec,
};
use shared::tasks::check_status::check_status;
use shared::tasks::start_glue::start_glue;

use ferry_tests::fixtures::Account;
use ferry_tests::{aws, moto, prod, test_env, unique};

use crate::config;

/// Makes every job run stay in each state for three status reads, so polling is observable.
fn slow_job_runs() {
    moto::control(
        "/moto-api/state-manager/set-transition",
        r#"{"model_name":"glue::job_run","transition":{"progression":"manual","times":3}}"#,
    );
}

fn input(job: &str) -> StartGlueInput {
    StartGlueInput {
        run_id: unique("run"),
        source: prod(),
        target: test_env(),
        table: TableSpec {
            source: "efcms-prod-big".into(),
            target: unique("efcms-test-big"),
            engine: TableEngine::Glue {
                glue_job: job.into(),
            },
            mode: CopyMode::Replace,
        },
        masking: Some(MaskingSpec {
            key_secret_arn:
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/masking-key".into(),
            domain: "example.invalid".into(),
            attributes: vec!["email".into()],
            embedded: vec![],
            detect_all: false,
        }),
    }
}

/// Polls until the job leaves RUNNING; returns the number of RUNNING answers and the last status.
async fn poll(
    aws: &shared::aws::Aws,
    run_id: &str,
    job: &JobHandle,
) -> (usize, shared::contract::JobStatus) {
    for running in 0..50 {
        let status = check_status(
            aws,
            CheckStatusInput {
                run_id: run_id.into(),
                job: job.clone(),
            },
        )
        .await
        .unwrap();
        if status.state != JobState::Running {
            return (running, status);
        }
    }
    panic!("job never finished");
}

#[tokio::test]
async fn a_run_is_polled_through_running_to_succeeded() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = Account {
        session: &session,
        env: prod(),
    };
    let job = unique("ferry-refresh-table");
    p.create_glue_job(&job, &[]).await;
    slow_job_runs();
    let input = input(&job);

    let started = start_glue(&aws, &config(), input.clone()).await.unwrap();
    assert!(started.started);
    let (running, status) = poll(&aws, &input.run_id, &started.job).await;

    assert!(running >= 3, "observed RUNNING {running} times");
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);
    let JobHandle::Glue { job_run_id, .. } = &started.job else {
        panic!()
    };
    let run = p
        .glue()
        .await
        .get_job_run()
        .job_name(&job)
        .run_id(job_run_id)
        .send()
        .await
        .unwrap()
        .job_run
        .unwrap();
    let args = run.arguments.unwrap();
    assert_eq!(args["--ferry_run_id"], input.run_id);
    assert_eq!(args["--target_table"], input.table.target);
    assert_eq!(args["--target_role_arn"], test_env().role_arn.unwrap());
    assert_eq!(args["--target_account_id"], ferry_tests::TEST_ACCOUNT);
    assert!(args["--masking_rules"].contains("secret:ferry/masking-key"));
}

#[tokio::test]
async fn a_failed_run_reports_the_jobs_own_message() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = Account {
        session: &session,
        env: prod(),
    };
    let job = unique("ferry-refresh-table");
    p.create_glue_job(
        &job,
        &[
            ("--emu-final-state", "FAILED"),
            (
                "--emu-error-message",
                "AccessDeniedException: cannot write efcms-test-big",
            ),
        ],
    )
    .await;
    slow_job_runs();
    let input = input(&job);

    let started = start_glue(&aws, &config(), input.clone()).await.unwrap();
    let (running, status) = poll(&aws, &input.run_id, &started.job).await;

    assert!(running >= 1);
    assert_eq!(status.state, JobState::Failed);
    assert_eq!(
        status.detail,
        "FAILED: AccessDeniedException: cannot write efcms-test-big"
    );
}

#[tokio::test]
async fn a_rerun_for_the_same_run_returns_the_existing_job_run() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = Account {
        session: &session,
        env: prod(),
    };
    let job = unique("ferry-refresh-table");
    p.create_glue_job(&job, &[]).await;
    let input = input(&job);

    let first = start_glue(&aws, &config(), input.clone()).await.unwrap();
    let second = start_glue(&aws, &config(), input.clone()).await.unwrap();
    let mut other_table = input.clone();
    other_table.table.target = unique("efcms-test-other");
    let third = start_glue(&aws, &config(), other_table).await.unwrap();

    assert!(first.started);
    assert!(!second.started);
    assert_eq!(first.job, second.job);
    assert!(
        third.started,
        "another table of the same run gets its own job run"
    );
    assert_ne!(first.job, third.job);
    let runs = p
        .glue()
        .await
        .get_job_runs()
        .job_name(&job)
        .send()
        .await
        .unwrap();
    assert_eq!(runs.job_runs().len(), 2);
}

#[tokio::test]
async fn refuses_to_write_into_a_protected_account() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = Account {
        session: &session,
        env: prod(),
    };
    let job = unique("ferry-refresh-table");
    p.create_glue_job(&job, &[]).await;
    let mut input = input(&job);
    input.target = prod();

    let err = start_glue(&aws, &config(), input).await.unwrap_err();

    assert_eq!(err.error_type(), "ProtectedTarget");
    let runs = p
        .glue()
        .await
        .get_job_runs()
        .job_name(&job)
        .send()
        .await
        .unwrap();
    assert!(runs.job_runs().is_empty());
}
