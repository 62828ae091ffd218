//! promote_steps: `export-service`, `import-service` and `check-status` end to end — tenant
//! credentials from Secrets Manager, the bundle in the artifact bucket (both on the local AWS
//! endpoint), and the Spark ImpEx simulator on both sides: bad input starts nothing, a promotion runs
//! through every step, and a bundle changed after export is never imported.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::aws::Aws;
use shared::checksum::sha256_hex;
use shared::config::FunctionConfig;
use shared::contract::{
    Bundle, ChangeAction, CheckStatusInput, ExportServiceInput, ExportStarted, ImportServiceInput,
    ImportStarted, JobHandle, JobState, JobStatus, PromotePlan, PromoteRequest, Verification,
};
use shared::tasks::check_status::check_status;
use shared::tasks::export_service::export_service;
use shared::tasks::import_service::import_service;

use ferry_tests::fixtures::accounts;
use ferry_tests::spark_sim::{RequestRecord, TenantSeed, shared};
use ferry_tests::{aws, unique};

use crate::config;

/// Two tenants on the simulator, their credentials in Secrets Manager, an artifact bucket.
///
/// Source (OAuth client): `pricing/quote` 3.0.0 and `Rating Engines/rater` 1.0.0, 1.1.0.
/// Target (API key): `pricing/quote` 1.0.0 and an empty `Rating Engines` folder.
struct Bed {
    aws: Aws,
    config: FunctionConfig,
    bucket: String,
    source: String,
    target: String,
    /// The raw execution input of a promotion of both services.
    raw: Value,
    /// Secret values that must never be written anywhere.
    secret_values: [String; 2],
}

async fn bed() -> Bed {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let bucket = unique("ferry-artifacts");
    let (_, _, own) = accounts(&session);
    own.create_bucket(&bucket).await;
    let source = unique("promote-src");
    let target = unique("promote-tgt");
    let client_secret = format!("client-secret-{source}");
    let api_key = format!("api-key-{target}");
    shared().add_tenant(
        TenantSeed::new(&source)
            .service("pricing", "quote", &["3.0.0"])
            .service("Rating Engines", "rater", &["1.0.0", "1.1.0"])
            .client("ferry", &client_secret),
    );
    shared().add_tenant(
        TenantSeed::new(&target)
            .service("pricing", "quote", &["1.0.0"])
            .folder("Rating Engines")
            .api_key(&api_key),
    );
    let source_arn = own
        .create_secret(
            &unique("ferry/spark-source"),
            &json!({"client_id": "ferry", "client_secret": client_secret}).to_string(),
        )
        .await;
    let target_arn = own
        .create_secret(
            &unique("ferry/spark-target"),
            &json!({"api_key": api_key}).to_string(),
        )
        .await;
    let side = |name: &str, tenant: &str, secret: &str| json!({"name": name, "spark": {"base_url": shared().base_url(tenant), "auth_secret_arn": secret}});
    let raw = json!({
        "platform": "spark",
        "source": side("uat", &source, &source_arn),
        "target": side("prod", &target, &target_arn),
        "spark": {"services": ["pricing/quote", "Rating Engines/rater"], "version_filter": "all",
            "timeout_seconds": 5},
        "polling": {"interval_seconds": 10, "deadline_seconds": 600},
    });
    let mut config = config();
    config.artifact_bucket = Some(bucket.clone());
    Bed {
        aws,
        config,
        bucket,
        source,
        target,
        raw,
        secret_values: [client_secret, api_key],
    }
}

fn read<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value:#}"))
}

/// The simulator's log of requests addressed to `tenant`.
fn log_of(tenant: &str) -> Vec<RequestRecord> {
    shared()
        .requests()
        .into_iter()
        .filter(|r| r.tenant.as_deref() == Some(tenant))
        .collect()
}

/// Whether `tenant` was asked to start a job of `kind` (`export` or `import`).
fn started(tenant: &str, kind: &str) -> bool {
    let path = format!("/{tenant}/api/v4/{kind}");
    log_of(tenant)
        .iter()
        .any(|r| r.method == "POST" && r.path == path)
}

/// Runs check-status until the job leaves RUNNING (as the state machine's loop would).
async fn wait(aws: &Aws, run_id: &str, job: &JobHandle) -> JobStatus {
    for _ in 0..10 {
        let input = CheckStatusInput {
            run_id: run_id.to_string(),
            job: job.clone(),
        };
        let status = check_status(aws, input).await.unwrap();
        if status.state != JobState::Running {
            return status;
        }
    }
    panic!("{} never settled", job.describe());
}

/// Start → check-status until SUCCEEDED → Store: the validated request and the stored bundle.
async fn export_and_store(bed: &Bed, run_id: &str) -> (PromoteRequest, Bundle) {
    let start = ExportServiceInput::Start {
        run_id: run_id.to_string(),
        request: bed.raw.clone(),
    };
    let started: ExportStarted = read(export_service(&bed.aws, &bed.config, start).await.unwrap());
    let job = started.job.expect("a Spark export is a job");
    assert!(matches!(job, JobHandle::SparkExport { .. }), "{job:?}");
    let status = wait(&bed.aws, run_id, &job).await;
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);
    let store = ExportServiceInput::Store {
        run_id: run_id.to_string(),
        request: started.request.clone(),
        job,
    };
    let bundle: Bundle = read(export_service(&bed.aws, &bed.config, store).await.unwrap());
    (started.request, bundle)
}

async fn object(bed: &Bed, key: &str) -> Vec<u8> {
    let session = bed.aws.session("fixtures");
    let out = session
        .own_s3()
        .get_object()
        .bucket(&bed.bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("s3://{}/{key}: {e:?}", bed.bucket));
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn start_refuses_bad_input_and_a_missing_bucket_before_calling_spark() {
    let bed = bed().await;
    let mut raw = bed.raw.clone();
    raw["spark"]["services"] = json!(["pricing/quote", "no-folder"]);
    raw["spark"]["services_existing"] = json!("update");
    raw["target"]["name"] = json!("uat");
    let start = ExportServiceInput::Start {
        run_id: unique("run"),
        request: raw,
    };

    let err = export_service(&bed.aws, &bed.config, start)
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    let message = err.to_string();
    for field in [
        "spark.services[1].source:",
        "spark.services_existing:",
        "target.name:",
    ] {
        assert!(message.contains(field), "{field} in {message}");
    }

    let mut no_bucket = bed.config.clone();
    no_bucket.artifact_bucket = None;
    let start = ExportServiceInput::Start {
        run_id: unique("run"),
        request: bed.raw.clone(),
    };
    let err = export_service(&bed.aws, &no_bucket, start)
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("FERRY_ARTIFACT_BUCKET"), "{err}");
    assert!(!started(&bed.source, "export"), "no export started");
    assert!(log_of(&bed.source).is_empty(), "{:#?}", log_of(&bed.source));
    assert!(shared().tenant(&bed.source).unwrap().jobs.is_empty());
}

#[tokio::test]
async fn a_promotion_runs_through_the_steps_end_to_end() {
    let bed = bed().await;
    let run_id = unique("promote");

    let (request, bundle) = export_and_store(&bed, &run_id).await;

    let prefix = format!("bundles/spark/{run_id}/");
    assert_eq!(bundle.bucket, bed.bucket);
    assert_eq!(bundle.prefix, prefix);
    assert_eq!(bundle.manifest_key, format!("{prefix}manifest.json"));
    let [file] = &bundle.files[..] else {
        panic!("one file: {bundle:?}");
    };
    assert_eq!(file.key, format!("{prefix}export-1.zip"));
    let zip = object(&bed, &file.key).await;
    assert!(zip.starts_with(b"PK"), "a zip");
    assert_eq!(file.size, zip.len() as u64);
    assert_eq!(file.sha256, sha256_hex(&zip));
    let manifest_text = String::from_utf8(object(&bed, &bundle.manifest_key).await).unwrap();
    let manifest: Value = serde_json::from_str(&manifest_text).unwrap();
    assert_eq!(manifest["run_id"], run_id.as_str());
    assert_eq!(manifest["files"][0]["key"], file.key.as_str());
    assert_eq!(manifest["files"][0]["sha256"], sha256_hex(&zip).as_str());
    assert_eq!(manifest["source"]["tenant"], bed.source.as_str());
    for secret in &bed.secret_values {
        assert!(
            !manifest_text.contains(secret.as_str()),
            "a secret value in the manifest"
        );
    }
    let uris: Vec<&str> = bundle.items.iter().map(|i| i.uri.as_str()).collect();
    assert_eq!(uris, ["pricing/quote", "Rating Engines/rater"]);

    let plan = ImportServiceInput::Plan {
        run_id: run_id.clone(),
        request: request.clone(),
        bundle: bundle.clone(),
    };
    let plan: PromotePlan = read(import_service(&bed.aws, plan).await.unwrap());
    let actions: Vec<(&str, ChangeAction, Vec<String>)> = plan
        .changes
        .iter()
        .map(|c| (c.target.as_str(), c.action, c.new_versions.clone()))
        .collect();
    assert_eq!(
        actions,
        [
            (
                "pricing/quote",
                ChangeAction::AddVersion,
                vec!["1.1.0".to_string()]
            ),
            (
                "Rating Engines/rater",
                ChangeAction::Create,
                vec!["1.0.0".to_string(), "1.1.0".to_string()]
            ),
        ]
    );
    assert!(!started(&bed.target, "import"), "plan imports nothing");

    let apply = ImportServiceInput::Apply {
        run_id: run_id.clone(),
        request: request.clone(),
        bundle,
    };
    let ImportStarted { job } = read(import_service(&bed.aws, apply).await.unwrap());
    assert!(matches!(job, JobHandle::SparkImport { .. }), "{job:?}");
    let status = wait(&bed.aws, &run_id, &job).await;
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);

    let verify = ImportServiceInput::Verify {
        run_id: run_id.clone(),
        request,
        plan: serde_json::to_value(&plan).unwrap(),
        job: Some(job),
        bundle: None,
    };
    let verification: Verification = read(import_service(&bed.aws, verify).await.unwrap());
    let found: Vec<(&str, &str)> = verification
        .services
        .iter()
        .map(|s| (s.target.as_str(), s.latest.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("pricing/quote", "1.1.0"),
            ("Rating Engines/rater", "1.1.0")
        ]
    );
    let view = shared().tenant(&bed.target).unwrap();
    let labels = |folder, service| view.service(folder, service).unwrap().labels();
    assert_eq!(labels("pricing", "quote"), ["1.0.0", "1.1.0"]);
    assert_eq!(labels("Rating Engines", "rater"), ["1.0.0", "1.1.0"]);
    assert_eq!(view.jobs.len(), 1, "one import: {:?}", view.jobs);
    let source_jobs = shared().tenant(&bed.source).unwrap().jobs;
    assert_eq!(source_jobs.len(), 1, "one export: {source_jobs:?}");
}

#[tokio::test]
async fn a_bundle_changed_after_export_is_not_imported() {
    let bed = bed().await;
    let run_id = unique("tamper");
    let (request, bundle) = export_and_store(&bed, &run_id).await;
    bed.aws
        .session("fixtures")
        .own_s3()
        .put_object()
        .bucket(&bed.bucket)
        .key(&bundle.files[0].key)
        .body(b"PK not the exported package".to_vec().into())
        .send()
        .await
        .unwrap();

    let apply = ImportServiceInput::Apply {
        run_id,
        request,
        bundle,
    };
    let err = import_service(&bed.aws, apply).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    let message = err.to_string();
    assert!(
        message.contains("the bundle changed after export"),
        "{message}"
    );
    assert!(message.contains("export-1.zip"), "{message}");
    assert!(!started(&bed.target, "import"), "no import started");
    assert!(shared().tenant(&bed.target).unwrap().jobs.is_empty());
}

#[tokio::test]
async fn versions_other_than_planned_fail_verification() {
    let bed = bed().await;
    let run_id = unique("promote");
    let (request, bundle) = export_and_store(&bed, &run_id).await;
    let plan = ImportServiceInput::Plan {
        run_id: run_id.clone(),
        request: request.clone(),
        bundle: bundle.clone(),
    };
    let plan: PromotePlan = read(import_service(&bed.aws, plan).await.unwrap());
    // Between plan and import someone adds quote 1.4.0 on the target: the import bumps from it.
    shared().add_tenant(
        TenantSeed::new(&bed.target)
            .service("pricing", "quote", &["1.0.0", "1.4.0"])
            .folder("Rating Engines")
            .api_key(&bed.secret_values[1]),
    );
    let apply = ImportServiceInput::Apply {
        run_id: run_id.clone(),
        request: request.clone(),
        bundle,
    };
    let ImportStarted { job } = read(import_service(&bed.aws, apply).await.unwrap());
    assert_eq!(
        wait(&bed.aws, &run_id, &job).await.state,
        JobState::Succeeded
    );
    let verify = ImportServiceInput::Verify {
        run_id,
        request,
        plan: serde_json::to_value(&plan).unwrap(),
        job: Some(job),
        bundle: None,
    };
    let err = import_service(&bed.aws, verify).await.unwrap_err();
    assert_eq!(err.error_type(), "VerificationFailed", "{err}");
    assert!(
        err.to_string().contains(
            "'pricing/quote': the plan promised versions [\"1.1.0\"], the import wrote [\"1.5.0\"]"
        ),
        "{err}"
    );
}
