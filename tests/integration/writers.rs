//! The writers of a failed run: a writer stops between pages once its run raises the stop signal
//! and leaves no lease, a stopped run gets no new writer, and `stop-writers` stops only its own
//! run's Glue job runs and is settled only when no lease and no Glue run of the run is left.

use std::time::{Duration, SystemTime};

use aws_sdk_glue::types::JobRunState;
use shared::aws::Aws;
use shared::config::FunctionConfig;
use shared::contract::{CopyMode, RunError, StopWritersInput, TableEngine, TablePlan, TableSpec};
use shared::error::TaskError;
use shared::tasks::budget::Budget;
use shared::tasks::start_glue::RUN_ID_ARG;
use shared::tasks::stop_writers::stop_writers;
use shared::tasks::writers::{Invocation, RunWriters, as_writer, lease_prefix};

use ferry_tests::fixtures::accounts;
use ferry_tests::{aws, moto, prod, unique};

use crate::config;

/// An artifact bucket of its own and the configuration naming it.
async fn artifacts(aws: &Aws) -> (String, FunctionConfig) {
    let session = aws.session("fixtures");
    let (_, _, own) = accounts(&session);
    let bucket = unique("ferry-artifacts");
    own.create_bucket(&bucket).await;
    let mut config = config();
    config.artifact_bucket = Some(bucket.clone());
    (bucket, config)
}

async fn run_writers(aws: &Aws, config: &FunctionConfig, run_id: &str) -> RunWriters {
    RunWriters::for_step(aws, config, "test", run_id)
        .await
        .unwrap()
}

fn invocation() -> Invocation {
    Invocation {
        request_id: unique("request"),
        deadline: SystemTime::now() + Duration::from_secs(600),
    }
}

/// Pages of 100 ms while the budget allows, for at most 10 s; returns how many were written.
async fn pages(budget: Budget) -> Result<u32, TaskError> {
    let mut written = 0;
    while !budget.exhausted() && written < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        written += 1;
    }
    Ok(written)
}

async fn lease_count(aws: &Aws, bucket: &str, run_id: &str) -> usize {
    let s3 = aws.session("fixtures").own_s3();
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(lease_prefix(run_id))
        .send()
        .await
        .unwrap();
    listed.contents().len()
}

#[tokio::test]
async fn a_writer_stops_between_pages_once_its_run_raises_the_stop_signal() {
    let aws = aws().await;
    let (bucket, config) = artifacts(&aws).await;
    let run_id = unique("run");
    let writers = run_writers(&aws, &config, &run_id).await;
    let other = run_writers(&aws, &config, &unique("run")).await;

    let budget = Budget::for_duration(Duration::from_secs(60));
    let (first_call, second_call) = (invocation(), invocation());
    let writer = as_writer(
        &writers,
        &first_call,
        "copy-table",
        "t segment 0 copy".into(),
        budget.clone(),
        pages,
    );
    let bystander = as_writer(
        &other,
        &second_call,
        "copy-table",
        "t segment 1 copy".into(),
        budget,
        pages,
    );
    let stop = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            writers.live_leases(SystemTime::now()).await.unwrap().len(),
            1
        );
        writers
            .raise_stop("JobFailed: glue ended FAILED")
            .await
            .unwrap()
    };
    let (stopped, bystander, signal) = tokio::join!(writer, bystander, stop);

    match stopped {
        Err(TaskError::Stopped { run_id: r, reason }) => {
            assert_eq!(r, run_id);
            assert_eq!(reason, "JobFailed: glue ended FAILED");
        }
        other => panic!("expected Stopped, got {other:?}"),
    }
    assert_eq!(
        bystander.unwrap(),
        100,
        "another run's writer is not stopped"
    );
    assert_eq!(signal.reason, "JobFailed: glue ended FAILED");
    assert_eq!(
        lease_count(&aws, &bucket, &run_id).await,
        0,
        "the lease is gone"
    );
    assert!(
        writers
            .live_leases(SystemTime::now())
            .await
            .unwrap()
            .is_empty()
    );
    let again = writers.raise_stop("a later reason").await.unwrap();
    assert_eq!(again, signal, "the first signal is kept");
}

#[tokio::test]
async fn a_stopped_run_gets_no_new_writer_and_keeps_no_lease() {
    let aws = aws().await;
    let (bucket, config) = artifacts(&aws).await;
    let run_id = unique("run");
    let writers = run_writers(&aws, &config, &run_id).await;
    writers
        .raise_stop("Refused: too many deletions")
        .await
        .unwrap();

    let mut called = false;
    let result = as_writer(
        &writers,
        &invocation(),
        "start-glue",
        "the glue job run for table t".into(),
        Budget::for_duration(Duration::from_secs(60)),
        |_| {
            called = true;
            async { Ok(()) }
        },
    )
    .await;
    assert_eq!(result.unwrap_err().error_type(), "Stopped");
    assert!(!called, "the work never started");
    assert_eq!(lease_count(&aws, &bucket, &run_id).await, 0);
}

fn glue_table(job: &str) -> TablePlan {
    TablePlan {
        spec: TableSpec {
            source: "efcms-prod-big".into(),
            target: unique("efcms-test-big"),
            engine: TableEngine::Glue {
                glue_job: job.into(),
            },
            mode: CopyMode::Replace,
        },
        key_schema: vec![],
        source_item_count: 0,
    }
}

async fn start_run(glue: &aws_sdk_glue::Client, job: &str, run_id: &str) -> String {
    glue.start_job_run()
        .job_name(job)
        .arguments(RUN_ID_ARG, run_id)
        .send()
        .await
        .unwrap()
        .job_run_id
        .unwrap()
}

async fn run_state(glue: &aws_sdk_glue::Client, job: &str, id: &str) -> JobRunState {
    let run = glue
        .get_job_run()
        .job_name(job)
        .run_id(id)
        .send()
        .await
        .unwrap();
    run.job_run.unwrap().job_run_state.unwrap()
}

#[tokio::test]
async fn stop_writers_stops_its_own_glue_runs_and_settles_when_no_writer_is_left() {
    let aws = aws().await;
    let (_, config) = artifacts(&aws).await;
    let session = aws.session("fixtures");
    let (p, _, _) = accounts(&session);
    let job = unique("ferry-refresh-table");
    p.create_glue_job(&job, &[]).await;
    // The same progression as the Glue tests set (the endpoint is shared).
    moto::control(
        "/moto-api/state-manager/set-transition",
        r#"{"model_name":"glue::job_run","transition":{"progression":"manual","times":3}}"#,
    );
    let glue = p.glue().await;
    let run_id = unique("run");
    let ours = start_run(&glue, &job, &run_id).await;
    let theirs = start_run(&glue, &job, &unique("run")).await;
    let writers = run_writers(&aws, &config, &run_id).await;

    // A writer in flight: its lease is there until it leaves.
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let call = invocation();
    let writer = as_writer(
        &writers,
        &call,
        "sync-bucket",
        "bucket test-documents".into(),
        Budget::for_duration(Duration::from_secs(60)),
        |_| async {
            released.await.ok();
            Ok(())
        },
    );
    let input = StopWritersInput {
        run_id: run_id.clone(),
        source: prod(),
        tables: vec![glue_table(&job), glue_table(&job)],
        error: Some(RunError {
            error: "JobFailed".into(),
            cause: "segment 3 failed".into(),
        }),
    };
    let check = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let first = stop_writers(&aws, &config, input.clone()).await.unwrap();
        // Long enough for the writer's watcher to read the signal before its work ends.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        release.send(()).unwrap();
        first
    };
    let (written, first) = tokio::join!(writer, check);
    assert_eq!(
        written.unwrap_err().error_type(),
        "Stopped",
        "the writer saw the signal"
    );
    assert!(!first.settled);
    assert_eq!(
        first.glue_stop_requested, 1,
        "only this run's Glue run, once for both tables"
    );
    assert_eq!((first.glue_running, first.writers_live), (1, 1));
    assert!(first.summary.contains(&ours), "{}", first.summary);
    assert!(
        first.summary.contains("sync-bucket bucket test-documents"),
        "{}",
        first.summary
    );
    assert!(!first.summary.contains(&theirs));

    let mut last = first;
    for _ in 0..10 {
        if last.settled {
            break;
        }
        last = stop_writers(&aws, &config, input.clone()).await.unwrap();
    }
    assert!(last.settled, "{}", last.summary);
    assert_eq!(last.summary, "no writer left");
    assert_eq!(last.glue_stop_requested, 0, "nothing asked twice");
    assert_eq!(run_state(&glue, &job, &ours).await, JobRunState::Stopped);
    assert_ne!(run_state(&glue, &job, &theirs).await, JobRunState::Stopped);
    let signal = writers.stop_signal().await.unwrap().unwrap();
    assert_eq!(signal.reason, "JobFailed: segment 3 failed");
}
