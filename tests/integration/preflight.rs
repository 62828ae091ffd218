//! preflight against two accounts: the plan, a protected target, malformed input, missing resources.

use serde_json::{Value, json};
use shared::TaskError;
use shared::contract::{PreflightInput, TableEngine};
use shared::tasks::preflight::preflight;

use ferry_tests::fixtures::{Account, accounts};
use ferry_tests::{aws, own, prod, test_env, unique};

use crate::config;

/// A refresh world in both accounts: two tables (one glue), a deploy table, a bucket pair, consumers.
pub struct World {
    pub source_table: String,
    pub target_table: String,
    pub big_source: String,
    pub big_target: String,
    pub glue_job: String,
    pub deploy_table: String,
    pub source_bucket: String,
    pub target_bucket: String,
    /// Consumers: (function, mapping id, enabled at start).
    pub consumers: Vec<(String, String, bool)>,
    /// The masking key's secret, in ferry's own account.
    pub key_secret_arn: String,
}

impl World {
    pub async fn create(prod_account: &Account<'_>, test_account: &Account<'_>) -> World {
        let w = World {
            source_table: unique("efcms-prod-alpha"),
            target_table: unique("efcms-test-alpha"),
            big_source: unique("efcms-prod-big"),
            big_target: unique("efcms-test-big"),
            glue_job: unique("ferry-refresh-table"),
            deploy_table: unique("efcms-deploy-test"),
            source_bucket: unique("prod-documents"),
            target_bucket: unique("test-documents"),
            consumers: Vec::new(),
            key_secret_arn: Account {
                session: prod_account.session,
                env: own(),
            }
            .create_secret(&unique("ferry/masking-key"), "preflight-test-key")
            .await,
        };
        prod_account.create_table(&w.source_table, true).await;
        prod_account.create_table(&w.big_source, false).await;
        prod_account.create_glue_job(&w.glue_job, &[]).await;
        prod_account.create_bucket(&w.source_bucket).await;
        let alpha_stream = test_account
            .create_table(&w.target_table, true)
            .await
            .unwrap();
        let big_stream = test_account
            .create_table(&w.big_target, true)
            .await
            .unwrap();
        test_account.create_table(&w.deploy_table, false).await;
        test_account.create_bucket(&w.target_bucket).await;
        let mut consumers = Vec::new();
        for (stream, enabled) in [
            (&alpha_stream, true),
            (&big_stream, true),
            (&big_stream, false),
        ] {
            let function = unique("streams_test");
            let id = test_account
                .create_consumer(&function, stream, enabled)
                .await;
            consumers.push((function, id, enabled));
        }
        World { consumers, ..w }
    }

    pub fn request(&self) -> Value {
        json!({
            "source": prod(),
            "target": test_env(),
            "deploy_table": {"table": self.deploy_table,
                             "settings": {"migrate": false, "source-table-version": "alpha", "destination-table-version": "alpha"}},
            "tables": [
                {"source": self.source_table, "target": self.target_table, "engine": "scan", "segments": 4},
                {"source": self.big_source, "target": self.big_target, "engine": "glue", "glue_job": self.glue_job}
            ],
            "buckets": [{"source": self.source_bucket, "target": self.target_bucket, "delete": true, "max_delete": 100}],
            "masking": {"key_secret_arn": self.key_secret_arn,
                        "attributes": ["email", "*Email"], "embedded": [{"prefix": "user-email", "delimiter": "|"}]}
        })
    }
}

fn input(request: Value) -> PreflightInput {
    PreflightInput {
        run_id: unique("run"),
        request,
    }
}

#[tokio::test]
async fn plan_lists_resources_and_pauses_only_enabled_consumers() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;

    let plan = preflight(&aws, &config(), input(world.request()))
        .await
        .unwrap();

    assert_eq!(plan.source_account_id, ferry_tests::PROD_ACCOUNT);
    assert_eq!(plan.target_account_id, ferry_tests::TEST_ACCOUNT);
    assert_eq!(plan.tables.len(), 2);
    assert_eq!(plan.tables[0].key_schema.len(), 2);
    assert!(matches!(
        plan.tables[1].spec.engine,
        TableEngine::Glue { .. }
    ));
    assert_eq!(plan.consumers.len(), 3, "{:?}", plan.consumers);
    let enabled: Vec<&String> = world
        .consumers
        .iter()
        .filter(|c| c.2)
        .map(|c| &c.1)
        .collect();
    let mut pause: Vec<&String> = plan.pause.iter().collect();
    pause.sort();
    let mut expected = enabled.clone();
    expected.sort();
    assert_eq!(
        pause, expected,
        "only the consumers enabled at the start are paused"
    );
    assert!(!plan.dry_run);
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    assert!(
        plan.warnings[0].contains(&world.big_target)
            && plan.warnings[0].contains("sets back as lists"),
        "{:?}",
        plan.warnings
    );
}

#[tokio::test]
async fn protected_target_is_refused_before_anything_is_written() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let mut request = world.request();
    // Swap: refresh "test" from "prod" but point the target at the production account.
    request["target"] =
        json!({"name": "prod-as-target", "role_arn": prod().role_arn, "region": "us-east-1"});
    request["source"] = serde_json::to_value(test_env()).unwrap();

    let err = preflight(&aws, &config(), input(request))
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "ProtectedTarget", "{err}");
    assert!(err.to_string().contains(ferry_tests::PROD_ACCOUNT), "{err}");
    assert!(
        t.scan_current(&world.deploy_table).await.is_empty(),
        "nothing written"
    );
    for (_, id, enabled) in &world.consumers {
        let want = if *enabled { "Enabled" } else { "Disabled" };
        assert_eq!(t.mapping_state(id).await, want);
    }
}

#[tokio::test]
async fn malformed_input_lists_all_its_problems_without_calling_aws() {
    let aws = aws().await;
    let request = json!({
        "dry_run": "yes",
        "source": {"name": "prod", "region": "us-east-1"},
        "target": {"region": "eu-west-1", "role_arn": "arn:aws:iam::2222:role/x"},
        "tables": [{"source": "efcms-prod-alpha", "engine": "glue"}],
        "buckets": [{"source": "prod-documents", "target": "Test_Documents"}]
    });

    let err = preflight(&aws, &config(), input(request))
        .await
        .unwrap_err();

    let TaskError::InvalidInput(problems) = &err else {
        panic!("{err}")
    };
    let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
    for field in [
        "dry_run",
        "target.name",
        "target.role_arn",
        "tables[0].target",
        "tables[0].glue_job",
        "buckets[0].target",
        "masking",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert_eq!(err.error_type(), "InvalidInput");
}

#[tokio::test]
async fn every_missing_resource_is_named() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let mut request = world.request();
    request["tables"][0]["target"] = json!("efcms-test-missing");
    request["tables"][1]["glue_job"] = json!("no-such-job");
    request["buckets"][0]["source"] = json!("no-such-bucket");

    let err = preflight(&aws, &config(), input(request))
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "NotFound");
    let message = err.to_string();
    assert!(
        message.contains(
            "DynamoDB table 'efcms-test-missing' in environment 'test' (account 222222222222"
        ),
        "{message}"
    );
    assert!(
        message.contains("Glue job 'no-such-job' in environment 'prod'"),
        "{message}"
    );
    assert!(
        message.contains("S3 bucket 'no-such-bucket' in environment 'prod'"),
        "{message}"
    );
}

#[tokio::test]
async fn a_named_consumer_that_reads_no_target_stream_is_refused() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let other_table = unique("unrelated");
    let other_stream = t.create_table(&other_table, true).await.unwrap();
    let stranger = unique("indexer");
    t.create_consumer(&stranger, &other_stream, true).await;
    let mut request = world.request();
    request["streams"] = json!({"consumers": [world.consumers[0].0, stranger]});

    let err = preflight(&aws, &config(), input(request.clone()))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(
        err.to_string().contains(&format!(
            "streams.consumers[1]: function '{stranger}' reads none"
        )),
        "{err}"
    );

    request["streams"] = json!({"consumers": [world.consumers[0].0]});
    let plan = preflight(&aws, &config(), input(request)).await.unwrap();
    assert_eq!(plan.pause, vec![world.consumers[0].1.clone()]);
}

#[tokio::test]
async fn differing_key_schemas_are_refused() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let source = unique("keyed-source");
    let target = unique("keyed-target");
    p.create_table(&source, false).await;
    t.create_numeric_table(&target).await;
    let request = json!({
        "source": prod(), "target": test_env(),
        "tables": [{"source": source, "target": target}],
        "masking": {"key_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k", "detect_all": true}
    });

    let err = preflight(&aws, &config(), input(request))
        .await
        .unwrap_err();

    assert!(err.to_string().contains("key schemas differ"), "{err}");
    assert!(err.to_string().contains("HASH id (N)"), "{err}");
}

#[tokio::test]
async fn dry_run_is_carried_into_the_plan() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let mut request = world.request();
    request["dry_run"] = json!(true);

    let plan = preflight(&aws, &config(), input(request)).await.unwrap();

    assert!(plan.dry_run);
    assert!(t.scan_current(&world.deploy_table).await.is_empty());
}

#[tokio::test]
async fn a_masking_key_that_cannot_be_read_fails_preflight_naming_the_field() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;
    let mut request = world.request();
    let unreadable = format!(
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:{}",
        unique("ferry/not-readable")
    );
    request["masking"]["key_secret_arn"] = json!(unreadable);
    request["tables"][0]["mode"] = json!("replace");

    let err = preflight(&aws, &config(), input(request))
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "NotFound", "{err}");
    let message = err.to_string();
    assert!(message.contains("masking.key_secret_arn"), "{message}");
    assert!(message.contains(&unreadable), "{message}");
}

#[tokio::test]
async fn a_plan_that_could_reach_a_step_functions_limit_is_refused_naming_the_knob() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (p, t, _) = accounts(&session);
    let world = World::create(&p, &t).await;

    // The defaults fit: the worst case is in the plan, within 80% of each limit.
    let plan = preflight(&aws, &config(), input(world.request()))
        .await
        .unwrap();
    assert!(
        plan.limits.largest_child_events <= 20_000,
        "{:?}",
        plan.limits
    );
    assert!(plan.limits.refresh_events <= 20_000 && plan.limits.state_bytes <= 209_715);
    assert_eq!(plan.max_invocations, 26);

    // A Glue table checked every second for six hours could pass 25,000 events.
    let mut request = world.request();
    request["polling"] = json!({"interval_seconds": 1, "deadline_seconds": 21_600});
    let err = preflight(&aws, &config(), input(request))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("could reach") && err.contains("raise polling.interval_seconds"),
        "{err}"
    );
}
