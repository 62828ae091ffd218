//! spark_client: ferry's Spark client and connector against the ImpEx simulator — every endpoint,
//! every kind of credentials, token refresh with the import replayed, throttling, server errors,
//! timeouts, the one-job-per-tenant rule, credentials kept to the tenant's origin, and the
//! connector's export → collect → plan → apply → verify with its idempotent re-runs and failures.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::TaskError;
use shared::checksum::sha256_hex;
use shared::connectors::spark::SparkConnector;
use shared::connectors::spark::api::{
    ExportInputs, ExportRequest, ImportEntity, ImportInputs, JobReport, ServiceModify,
};
use shared::connectors::spark::client::{RetryPolicy, SOURCE_SYSTEM, SparkClient};
use shared::connectors::spark::credentials::Credentials;
use shared::connectors::{Applied, Collected, Connector, Exported, ExportedFile};
use shared::contract::{
    Bundle, BundleFile, BundleItem, ChangeAction, JobHandle, JobState, JobStatus, Platform,
    PromoteRequest, ServicesExisting, SparkTenant, Upgrade, VersionFilter,
};

use ferry_tests::secrets::MemorySecrets;
use ferry_tests::spark_sim::{Fault, RequestRecord, Simulator, TenantSeed, shared};
use ferry_tests::unique;

/// A secret ARN for `name` (the client never reads it; the connector's secret double does).
fn arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/spark-{name}")
}

/// The tenant `name` of `sim`, as a promote request resolves it.
fn tenant_on(sim: &Simulator, name: &str) -> SparkTenant {
    SparkTenant {
        base_url: sim.base_url(name),
        tenant: name.to_string(),
        auth_secret_arn: arn(name),
        token_url: sim.token_url(name),
    }
}

/// Retries that keep the tests fast: 3 attempts, 10 ms backoff, waits up to 2 s for a 429.
fn fast() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(2),
    }
}

/// A client for `tenant` of the shared simulator with the credentials of the secret text `secret`.
fn client_with(sim: &Simulator, tenant: &str, secret: &Value, policy: RetryPolicy) -> SparkClient {
    let credentials = Credentials::from_secret(&secret.to_string(), &arn(tenant)).unwrap();
    SparkClient::new(
        tenant_on(sim, tenant),
        credentials,
        Duration::from_secs(5),
        policy,
    )
    .unwrap()
}

/// A new tenant of the shared simulator from `seed`, reached with a static bearer token.
fn bearer_tenant(prefix: &str, seed: TenantSeed) -> (String, SparkClient) {
    let name = unique(prefix);
    let token = format!("token-{name}");
    shared().add_tenant(TenantSeed {
        name: name.clone(),
        ..seed.bearer(&token)
    });
    let client = client_with(shared(), &name, &json!({"bearer_token": token}), fast());
    (name, client)
}

/// The shared simulator's log of requests addressed to `tenant`, oldest first.
fn log_of(tenant: &str) -> Vec<RequestRecord> {
    shared()
        .requests()
        .into_iter()
        .filter(|r| r.tenant.as_deref() == Some(tenant))
        .collect()
}

/// `METHOD status` of each request of `records` whose path ends with `suffix`.
fn calls(records: &[RequestRecord], suffix: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.path.ends_with(suffix))
        .map(|r| format!("{} {}", r.method, r.status))
        .collect()
}

fn export_request(services: &[&str], run_id: &str) -> ExportRequest {
    ExportRequest {
        inputs: ExportInputs {
            services: services.iter().map(|s| s.to_string()).collect(),
            ..ExportInputs::default()
        },
        file_filter: "migrate",
        version_filter: VersionFilter::All,
        source_system: SOURCE_SYSTEM,
        correlation_id: run_id.to_string(),
    }
}

fn import_entity(source: &str, destination: &str, run_id: &str) -> ImportEntity {
    ImportEntity {
        inputs: ImportInputs {
            services_modify: vec![ServiceModify {
                service_uri_source: source.to_string(),
                service_uri_destination: destination.to_string(),
                update_version_type: Upgrade::Minor,
            }],
        },
        services_existing: ServicesExisting::AddVersion,
        source_system: SOURCE_SYSTEM,
        correlation_id: run_id.to_string(),
    }
}

/// Reads an export's status until it is no longer in progress: every status seen, the last report.
async fn finish_export(client: &SparkClient, id: &str) -> (Vec<String>, JobReport) {
    finish("export", id, || client.export_status(id)).await
}

/// Reads an import's status until it is no longer in progress.
async fn finish_import(client: &SparkClient, id: &str) -> (Vec<String>, JobReport) {
    finish("import", id, || client.import_status(id)).await
}

async fn finish<F, Fut>(kind: &str, id: &str, read: F) -> (Vec<String>, JobReport)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<JobReport, shared::error::TaskError>>,
{
    let mut seen = Vec::new();
    for _ in 0..10 {
        let report = read().await.unwrap();
        seen.push(report.status.clone());
        if report.status != "in_progress" {
            return (seen, report);
        }
    }
    panic!("{kind} {id} never finished: {seen:?}");
}

/// Exports `service` through `client` and downloads its package.
async fn package_of(client: &SparkClient, service: &str) -> Vec<u8> {
    let id = client
        .start_export(&export_request(&[service], &unique("pkg")))
        .await
        .unwrap();
    let (_, report) = finish_export(client, &id).await;
    client
        .download(&report.outputs.files[0].file)
        .await
        .unwrap()
}

fn labels(tenant: &str, folder: &str, service: &str) -> Vec<String> {
    shared()
        .tenant(tenant)
        .unwrap()
        .service(folder, service)
        .map(|s| s.labels())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_endpoint_answers_through_the_client_with_encoded_names() {
    let seed = TenantSeed::new("")
        .service("Rating Engines", "quote rater", &["1.0.0", "1.1.0"])
        .folder("Promoted Services");
    let (tenant, client) = bearer_tenant("endpoints", seed);
    let run_id = unique("run");

    let id = client
        .start_export(&export_request(&["Rating Engines/quote rater"], &run_id))
        .await
        .unwrap();
    let (seen, report) = finish_export(&client, &id).await;
    assert_eq!(seen, ["in_progress", "in_progress", "completed"]);
    assert!(report.finished());
    assert_eq!(report.id, id);
    assert_eq!(report.correlation_id.as_deref(), Some(run_id.as_str()));
    let sources: Vec<&str> = report
        .outputs
        .service_versions
        .iter()
        .map(|v| v.version_source.as_deref().unwrap())
        .collect();
    assert_eq!(sources, ["1.0.0", "1.1.0"]);
    assert_eq!(
        report.outputs.services[0].service_uri_source,
        "Rating Engines/quote rater"
    );
    let [file] = &report.outputs.files[..] else {
        panic!("one file expected: {:?}", report.outputs.files);
    };
    let package = client.download(&file.file).await.unwrap();
    assert!(package.starts_with(b"PK"), "a zip");
    assert_eq!(sha256_hex(&package), file.file_hash);

    let second = client
        .start_export(&export_request(&["Rating Engines/quote rater"], "other"))
        .await
        .unwrap();
    let cancelled = client.cancel_export(&second).await.unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(cancelled.id, second);
    let exports = client.list_jobs("export").await.unwrap();
    assert!(
        exports.ids.contains(&id) && exports.ids.contains(&second),
        "{exports:?}"
    );

    let entity = import_entity(
        "Rating Engines/quote rater",
        "Promoted Services/quote rater",
        &run_id,
    );
    let import = client.start_import(package, &entity).await.unwrap();
    let (seen, report) = finish_import(&client, &import).await;
    assert_eq!(seen, ["in_progress", "in_progress", "completed"]);
    assert!(!report.has_errors(), "{:?}", report.errors);
    assert_eq!(report.correlation_id.as_deref(), Some(run_id.as_str()));
    let destinations: Vec<(&str, &str)> = report
        .outputs
        .service_versions
        .iter()
        .map(|v| {
            (
                v.service_uri_destination.as_deref().unwrap(),
                v.version_destination.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        destinations,
        [
            ("Promoted Services/quote rater", "1.0.0"),
            ("Promoted Services/quote rater", "1.1.0")
        ]
    );
    let imports = client.list_jobs("import").await.unwrap().ids;
    assert_eq!(imports, std::slice::from_ref(&import));

    assert!(client.folder_exists("Rating Engines").await.unwrap());
    assert!(!client.folder_exists("No Such Folder").await.unwrap());
    let versions = client
        .versions("Promoted Services", "quote rater")
        .await
        .unwrap();
    let found: Vec<&str> = versions.iter().map(|v| v.label()).collect();
    assert_eq!(found, ["1.0.0", "1.1.0"]);
    assert!(versions.iter().all(|v| !v.id.is_empty()));
    assert!(
        client
            .versions("Rating Engines", "absent service")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        client
            .versions("No Such Folder", "quote rater")
            .await
            .unwrap()
            .is_empty()
    );

    let log = log_of(&tenant);
    assert!(
        log.iter()
            .all(|r| r.status == 200 && (r.auth == "bearer" || r.path.starts_with("/_files/"))),
        "{log:#?}"
    );
    let paths: Vec<&str> = log.iter().map(|r| r.path.as_str()).collect();
    for expected in [
        "/api/v1/product/isproductexists/Rating%20Engines".to_string(),
        "/api/v1/product/isproductexists/No%20Such%20Folder".to_string(),
        format!("/{tenant}/api/v3/folders/Promoted%20Services/services/quote%20rater/exists"),
        "/api/v1/product/Promoted%20Services/engines/getversions/quote%20rater".to_string(),
        format!("/{tenant}/api/v4/export/{id}/status"),
        format!("/{tenant}/api/v4/import/{import}/status"),
    ] {
        assert!(
            paths.contains(&expected.as_str()),
            "{expected} in {paths:#?}"
        );
    }
    assert!(
        !paths
            .iter()
            .any(|p| p.ends_with("/getversions/absent%20service")
                || p.starts_with("/api/v1/product/No%20Such%20Folder/engines")),
        "an absent service's versions are not listed: {paths:#?}"
    );
}

#[tokio::test]
async fn each_kind_of_credentials_is_accepted_and_oauth_tokens_are_cached() {
    let tenant = unique("auth");
    let client_secret = format!("secret-{tenant}");
    shared().add_tenant(
        TenantSeed::new(&tenant)
            .folder("pricing")
            .bearer("tok-1")
            .api_key("key-1")
            .client("ferry", &client_secret),
    );
    let plain = client_with(shared(), &tenant, &json!({"bearer_token": "tok-1"}), fast());
    assert!(plain.folder_exists("pricing").await.unwrap());
    let pasted = json!({"bearer_token": "Bearer tok-1"});
    let pasted = client_with(shared(), &tenant, &pasted, fast());
    assert!(pasted.folder_exists("pricing").await.unwrap());
    let keyed = client_with(shared(), &tenant, &json!({"api_key": "key-1"}), fast());
    assert!(keyed.folder_exists("pricing").await.unwrap());
    assert!(keyed.list_jobs("export").await.unwrap().ids.is_empty());

    let secret = json!({"client_id": "ferry", "client_secret": client_secret});
    let oauth = client_with(shared(), &tenant, &secret, fast());
    assert!(oauth.folder_exists("pricing").await.unwrap());
    assert!(oauth.list_jobs("import").await.unwrap().ids.is_empty());
    assert!(oauth.versions("pricing", "quote").await.unwrap().is_empty());
    assert!(!oauth.folder_exists("other").await.unwrap());
    // A later invocation of a warm function: a new client, the same process-wide token.
    let later = client_with(shared(), &tenant, &secret, fast());
    assert!(later.folder_exists("pricing").await.unwrap());

    let log = log_of(&tenant);
    let kinds: Vec<&str> = log.iter().map(|r| r.auth.as_str()).collect();
    let token_path = format!("/auth/realms/{tenant}/protocol/openid-connect/token");
    let fetched = log.iter().filter(|r| r.path == token_path).count();
    assert_eq!(
        fetched, 1,
        "one token for five calls of two clients: {log:#?}"
    );
    // bearer ×2, api key ×2, then the token fetch (no credentials) and five calls with its token
    assert_eq!(
        kinds,
        [
            "bearer", "bearer", "api_key", "api_key", "none", "oauth", "oauth", "oauth", "oauth",
            "oauth"
        ],
        "{log:#?}"
    );
    assert!(log.iter().all(|r| r.status == 200), "{log:#?}");
}

#[tokio::test]
async fn a_refused_client_secret_fails_as_unauthorized_without_retrying() {
    let tenant = unique("badclient");
    shared().add_tenant(
        TenantSeed::new(&tenant)
            .folder("pricing")
            .client("ferry", "the-secret"),
    );
    let wrong = json!({"client_id": "ferry", "client_secret": "not-the-secret"});

    let err = client_with(shared(), &tenant, &wrong, fast())
        .folder_exists("pricing")
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    let message = err.to_string();
    assert!(message.contains("client 'ferry'"), "{message}");
    assert!(!message.contains("not-the-secret"), "{message}");
    assert!(
        calls(&log_of(&tenant), "/pricing").is_empty(),
        "no API call without a token"
    );
    assert_eq!(
        calls(&log_of(&tenant), "/openid-connect/token"),
        ["POST 401"],
        "a refused client is not asked again: Unauthorized is not transient"
    );
}

#[tokio::test]
async fn an_import_refused_for_its_token_fetches_a_new_one_and_sends_the_package_again() {
    let tenant = unique("refresh");
    let client_secret = format!("secret-{tenant}");
    shared().add_tenant(
        TenantSeed::new(&tenant)
            .service("pricing", "quote", &["1.0.0", "1.1.0"])
            .folder("promoted")
            .client("ferry", &client_secret),
    );
    let oauth = json!({"client_id": "ferry", "client_secret": client_secret});
    let client = client_with(shared(), &tenant, &oauth, fast());
    let package = package_of(&client, "pricing/quote").await;
    let before = log_of(&tenant).len();

    shared().inject(&tenant, Fault::UnauthorizedNext { count: 1 });
    let entity = import_entity("pricing/quote", "promoted/quote", &unique("run"));
    let id = client.start_import(package, &entity).await.unwrap();

    let log = log_of(&tenant);
    let after: Vec<String> = log[before..]
        .iter()
        .map(|r| format!("{} {} {} {}", r.method, r.path, r.status, r.auth))
        .collect();
    let import = format!("/{tenant}/api/v4/import");
    let token = format!("/auth/realms/{tenant}/protocol/openid-connect/token");
    assert_eq!(
        after,
        [
            format!("POST {import} 401 oauth"),
            format!("POST {token} 200 none"),
            format!("POST {import} 200 oauth"),
        ]
    );
    let (_, report) = finish_import(&client, &id).await;
    assert_eq!(report.status, "completed");
    assert!(!report.has_errors(), "{:?}", report.errors);
    assert_eq!(labels(&tenant, "promoted", "quote"), ["1.0.0", "1.1.0"]);

    // Refused again with a fresh token: the credentials are wrong, not stale.
    shared().inject(&tenant, Fault::UnauthorizedNext { count: 2 });
    let err = client.folder_exists("promoted").await.unwrap_err();
    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    let log = log_of(&tenant);
    let tail: Vec<String> = log[log.len() - 3..]
        .iter()
        .map(|r| format!("{} {}", r.status, r.auth))
        .collect();
    assert_eq!(
        tail,
        ["401 oauth", "200 none", "401 oauth"],
        "one refresh only"
    );
}

#[tokio::test]
async fn a_refused_bearer_token_fails_at_once_as_unauthorized() {
    let (tenant, client) = bearer_tenant("refused", TenantSeed::new("").folder("pricing"));
    shared().inject(&tenant, Fault::UnauthorizedNext { count: 1 });

    let err = client.folder_exists("pricing").await.unwrap_err();

    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert!(err.to_string().contains("HTTP 401"), "{err}");
    assert_eq!(calls(&log_of(&tenant), "/pricing"), ["POST 401"]);
    assert!(client.folder_exists("pricing").await.unwrap(), "fired once");
}

#[tokio::test]
async fn throttling_waits_for_retry_after_up_to_the_cap() {
    let (tenant, client) = bearer_tenant("throttle", TenantSeed::new("").folder("pricing"));
    shared().inject(
        &tenant,
        Fault::RateLimitNext {
            count: 1,
            retry_after_seconds: 1,
        },
    );
    assert!(client.folder_exists("pricing").await.unwrap());
    assert_eq!(
        calls(&log_of(&tenant), "/pricing"),
        ["POST 429", "POST 200"]
    );

    shared().inject(
        &tenant,
        Fault::RateLimitNext {
            count: 1,
            retry_after_seconds: 30,
        },
    );
    let started = Instant::now();
    let err = client.folder_exists("pricing").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no 30 s wait inside the function"
    );
    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert!(err.to_string().contains("HTTP 429"), "{err}");
    assert_eq!(
        calls(&log_of(&tenant), "/pricing"),
        ["POST 429", "POST 200", "POST 429"],
        "a wait beyond max_wait is left to the state machine"
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_surfaced_as_retryable() {
    let (tenant, client) = bearer_tenant("errors", TenantSeed::new(""));
    shared().inject(&tenant, Fault::ServerErrorNext { count: 1 });
    assert!(client.list_jobs("export").await.unwrap().ids.is_empty());
    assert_eq!(
        calls(&log_of(&tenant), "/export/status"),
        ["GET 500", "GET 200"]
    );

    shared().inject(&tenant, Fault::ServerErrorNext { count: 10 });
    let err = client.list_jobs("export").await.unwrap_err();
    shared().inject(&tenant, Fault::Clear);

    assert_eq!(err.error_type(), "Retryable", "{err}");
    let message = err.to_string();
    assert!(message.contains("list exports"), "{message}");
    assert!(message.contains(&tenant), "{message}");
    assert!(message.contains("HTTP 500"), "{message}");
    assert_eq!(
        calls(&log_of(&tenant), "/export/status"),
        ["GET 500", "GET 200", "GET 500", "GET 500", "GET 500"],
        "three attempts"
    );
}

#[tokio::test]
async fn a_request_unanswered_before_the_timeout_is_retryable() {
    let tenant = unique("slow");
    shared().add_tenant(TenantSeed::new(&tenant).folder("pricing").bearer("tok"));
    let policy = RetryPolicy {
        attempts: 1,
        ..fast()
    };
    let credentials =
        Credentials::from_secret(r#"{"bearer_token": "tok"}"#, &arn(&tenant)).unwrap();
    let client = SparkClient::new(
        tenant_on(shared(), &tenant),
        credentials,
        Duration::from_secs(1),
        policy,
    )
    .unwrap();
    shared().inject(
        &tenant,
        Fault::SlowNext {
            count: 1,
            millis: 1500,
        },
    );

    let err = client.folder_exists("pricing").await.unwrap_err();

    assert_eq!(err.error_type(), "Retryable", "{err}");
    let message = err.to_string();
    assert!(message.contains("check folder"), "{message}");
    assert!(
        message.contains("no answer before the request timeout"),
        "{message}"
    );
    assert!(
        !message.contains(&shared().origin()),
        "no URL in errors: {message}"
    );
}

#[tokio::test]
async fn a_second_job_on_a_busy_tenant_is_a_conflict() {
    let seed = TenantSeed::new("").service("pricing", "quote", &["1.0.0"]);
    let (_, client) = bearer_tenant("busy", seed);
    let first = client
        .start_export(&export_request(&["pricing/quote"], "one"))
        .await
        .unwrap();

    let err = client
        .start_export(&export_request(&["pricing/quote"], "two"))
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "Conflict", "{err}");
    let message = err.to_string();
    assert!(message.contains("HTTP 409"), "{message}");
    assert!(
        message.contains("only one ImpEx job may run per tenant"),
        "{message}"
    );
    assert!(message.contains(&first), "names the running job: {message}");
    client.cancel_export(&first).await.unwrap();
    let third = client
        .start_export(&export_request(&["pricing/quote"], "three"))
        .await;
    assert!(third.is_ok(), "the slot is free once cancelled: {third:?}");
}

/// `tenant` (same name, same bearer token) on a second simulator, with a finished export whose
/// download needs credentials: the simulator, a client of that tenant there, and the file's URL.
async fn foreign_file(tenant: &str, seed: TenantSeed) -> (Simulator, SparkClient, String) {
    let other = Simulator::start(0);
    other.add_tenant(TenantSeed {
        name: tenant.to_string(),
        ..seed.bearer(&format!("token-{tenant}"))
    });
    let there = client_with(
        &other,
        tenant,
        &json!({"bearer_token": format!("token-{tenant}")}),
        fast(),
    );
    let id = there
        .start_export(&export_request(&["pricing/quote"], "run"))
        .await
        .unwrap();
    let (_, report) = finish_export(&there, &id).await;
    other.inject(tenant, Fault::DownloadRequiresAuth);
    let url = report.outputs.files[0].file.clone();
    assert!(url.starts_with(&other.origin()), "{url}");
    (other, there, url)
}

/// `(auth, status)` of each download `sim` answered.
fn downloads(sim: &Simulator, tenant: &str) -> Vec<(String, u16)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/_files/") && r.tenant.as_deref() == Some(tenant))
        .map(|r| (r.auth, r.status))
        .collect()
}

fn quote_seed() -> TenantSeed {
    TenantSeed::new("")
        .service("pricing", "quote", &["1.0.0"])
        .client("ferry", "dl-secret")
}

#[tokio::test]
async fn downloads_carry_credentials_to_the_tenant_origin_only() {
    let (tenant, client) = bearer_tenant("download", quote_seed());
    let id = client
        .start_export(&export_request(&["pricing/quote"], "run"))
        .await
        .unwrap();
    let (_, report) = finish_export(&client, &id).await;
    shared().inject(&tenant, Fault::DownloadRequiresAuth);

    let bytes = client
        .download(&report.outputs.files[0].file)
        .await
        .unwrap();

    assert_eq!(sha256_hex(&bytes), report.outputs.files[0].file_hash);
    assert_eq!(downloads(shared(), &tenant), [("bearer".to_string(), 200)]);

    // The same tenant name and token on another origin: a file there gets no credentials.
    let (other, there, url) = foreign_file(&tenant, quote_seed()).await;

    let err = client.download(&url).await.unwrap_err();

    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert!(
        there.download(&url).await.is_ok(),
        "its own tenant's client"
    );
    assert_eq!(
        downloads(&other, &tenant),
        [("none".to_string(), 401), ("bearer".to_string(), 200)]
    );
}

#[tokio::test]
async fn a_401_from_a_foreign_origin_keeps_the_oauth_token() {
    let tenant = unique("foreign");
    shared().add_tenant(TenantSeed {
        name: tenant.clone(),
        ..quote_seed()
    });
    let oauth = json!({"client_id": "ferry", "client_secret": "dl-secret"});
    let oauth = client_with(shared(), &tenant, &oauth, fast());
    assert!(oauth.folder_exists("pricing").await.unwrap());
    let (other, _, url) = foreign_file(&tenant, quote_seed()).await;

    let err = oauth.download(&url).await.unwrap_err();

    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert!(oauth.folder_exists("pricing").await.unwrap());
    let fetched = calls(&log_of(&tenant), "/openid-connect/token");
    assert_eq!(
        (downloads(&other, &tenant), fetched.len()),
        (vec![("none".to_string(), 401)], 1),
        "one unauthenticated download, and the token kept: a new token cannot help a call that \
         sends none"
    );
}

#[tokio::test]
async fn a_secret_without_hosts_is_refused_for_a_host_outside_coherent_global() {
    let tenant = SparkTenant {
        base_url: "https://spark.example.org/acme".into(),
        tenant: "acme".into(),
        auth_secret_arn: arn("acme"),
        token_url:
            "https://keycloak.uat.coherent.global/auth/realms/acme/protocol/openid-connect/token"
                .into(),
    };
    for secret in [
        json!({"bearer_token": "tok"}),
        json!({"client_id": "ferry", "client_secret": "hunter2"}),
    ] {
        let credentials = Credentials::read(
            &secret.to_string(),
            &arn("acme"),
            "target.spark.auth_secret_arn",
        )
        .unwrap();
        let err = SparkClient::new(tenant.clone(), credentials, Duration::from_secs(5), fast())
            .err()
            .expect("refused");
        assert_eq!(err.error_type(), "InvalidInput", "{err}");
        let message = err.to_string();
        assert!(
            message.contains(&format!(
                "target.spark.auth_secret_arn: secret '{}' is not bound to host 'spark.example.org' (it may be sent to: *.coherent.global, loopback)",
                arn("acme")
            )),
            "{message}"
        );
        assert!(
            !message.contains("hunter2") && !message.contains("tok\""),
            "{message}"
        );
    }

    // A token endpoint outside the binding is refused too, before any token is asked for.
    let keycloak_elsewhere = SparkTenant {
        base_url: "https://excel.uat.coherent.global/acme".into(),
        token_url: "https://login.example.org/token".into(),
        ..tenant.clone()
    };
    let oauth = json!({"client_id": "ferry", "client_secret": "hunter2"}).to_string();
    let credentials = Credentials::from_secret(&oauth, &arn("acme")).unwrap();
    let err = SparkClient::new(
        keycloak_elsewhere,
        credentials,
        Duration::from_secs(5),
        fast(),
    )
    .err()
    .expect("refused");
    assert!(
        err.to_string().contains("host 'login.example.org'"),
        "{err}"
    );

    // Named in the secret's hosts, the same host is accepted.
    let bound = json!({"bearer_token": "tok", "hosts": ["spark.example.org"]}).to_string();
    let credentials = Credentials::from_secret(&bound, &arn("acme")).unwrap();
    assert!(SparkClient::new(tenant, credentials, Duration::from_secs(5), fast()).is_ok());

    // Through the connector: the error names the side's secret field.
    let side = |name: &str, base_url: String, secret: &str| json!({"name": name, "spark": {"base_url": base_url, "auth_secret_arn": arn(secret)}});
    let request = PromoteRequest::parse(&json!({
        "platform": "spark",
        "source": side("uat", shared().base_url("unused"), "unused"),
        "target": side("prod", "https://spark.example.org/acme".into(), "acme"),
        "spark": {"services": ["pricing/quote"], "services_existing": "add_version",
            "version_filter": "all", "timeout_seconds": 5},
    }))
    .unwrap();
    let secrets = MemorySecrets(HashMap::from([(
        arn("acme"),
        json!({"bearer_token": "tok"}).to_string(),
    )]));
    let file = ExportedFile {
        name: "export-1.zip".into(),
        bytes: b"PK".to_vec(),
    };
    let bundle = bundle_of(&[file], vec![item("pricing/quote", &["1.0.0"])]);
    let err = SparkConnector::new(&request, &secrets)
        .unwrap()
        .plan(&bundle)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(
        err.to_string()
            .contains("target.spark.auth_secret_arn: secret '"),
        "{err}"
    );
}

// ---- the connector ----

/// A source tenant (OAuth client) and a target tenant (bearer token) with their secrets.
///
/// Source: `pricing/quote` 1.0.0 and `Rating Engines/rater` 1.0.0, 1.2.0.
/// Target: folders `pricing` and `Rating Engines`, `Rating Engines/rater` at 2.0.0.
struct Tenants {
    source: String,
    target: String,
    secrets: MemorySecrets,
}

fn tenants() -> Tenants {
    let source = unique("source");
    let target = unique("target");
    shared().add_tenant(
        TenantSeed::new(&source)
            .service("pricing", "quote", &["1.0.0"])
            .service("Rating Engines", "rater", &["1.0.0", "1.2.0"])
            .client("ferry", "source-client-secret"),
    );
    shared().add_tenant(
        TenantSeed::new(&target)
            .folder("pricing")
            .service("Rating Engines", "rater", &["2.0.0"])
            .bearer("target-token"),
    );
    let secrets = MemorySecrets(HashMap::from([
        (
            arn(&source),
            json!({"client_id": "ferry", "client_secret": "source-client-secret"}).to_string(),
        ),
        (
            arn(&target),
            json!({"bearer_token": "target-token"}).to_string(),
        ),
    ]));
    Tenants {
        source,
        target,
        secrets,
    }
}

impl Tenants {
    /// A validated promote request between the two tenants.
    fn request(&self, services: Value, existing: &str) -> PromoteRequest {
        let side = |name: &str, tenant: &str| json!({"name": name, "spark": {"base_url": shared().base_url(tenant), "auth_secret_arn": arn(tenant)}});
        PromoteRequest::parse(&json!({
            "platform": "spark",
            "source": side("uat", &self.source),
            "target": side("prod", &self.target),
            "spark": {"services": services, "services_existing": existing,
                "version_filter": "all", "timeout_seconds": 5},
        }))
        .unwrap()
    }
}

/// A bundle holding `collected` as if stored (plan reads only its items and file count).
fn bundle_of(files: &[ExportedFile], items: Vec<BundleItem>) -> Bundle {
    let prefix = "bundles/spark/run/".to_string();
    Bundle {
        platform: Platform::Spark,
        bucket: "not-read".into(),
        manifest_key: format!("{prefix}manifest.json"),
        files: files
            .iter()
            .map(|f| BundleFile {
                name: f.name.clone(),
                key: format!("{prefix}{}", f.name),
                sha256: sha256_hex(&f.bytes),
                size: f.bytes.len() as u64,
            })
            .collect(),
        prefix,
        items,
        manifest_sha256: None,
    }
}

fn item(uri: &str, versions: &[&str]) -> BundleItem {
    BundleItem {
        uri: uri.into(),
        versions: versions.iter().map(|v| v.to_string()).collect(),
    }
}

/// Polls `job` until it leaves RUNNING: every state seen and the last status.
async fn settle(connector: &impl Connector, job: &JobHandle) -> (Vec<JobState>, JobStatus) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let status = connector.status(job).await.unwrap();
        seen.push(status.state);
        if status.state != JobState::Running {
            return (seen, status);
        }
    }
    panic!("{} never settled: {seen:?}", job.describe());
}

/// Exports through `connector` and collects the finished export.
async fn export_and_collect(connector: &impl Connector, run_id: &str) -> Collected {
    let Exported::Job(job) = connector.export(run_id).await.unwrap() else {
        panic!("Spark exports are jobs");
    };
    let (_, status) = settle(connector, &job).await;
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);
    connector.collect(&job).await.unwrap()
}

#[tokio::test]
async fn a_promotion_exports_plans_applies_and_verifies_once_per_run() {
    let t = tenants();
    let request = t.request(
        json!(["pricing/quote", "Rating Engines/rater"]),
        "add_version",
    );
    let connector = SparkConnector::new(&request, &t.secrets).unwrap();
    let run_id = unique("run");

    let Exported::Job(job) = connector.export(&run_id).await.unwrap() else {
        panic!("Spark exports are jobs");
    };
    let JobHandle::SparkExport { spark, id } = &job else {
        panic!("an export handle: {job:?}");
    };
    assert_eq!(Some(spark), request.source.spark.as_ref());
    assert_eq!(
        connector.export(&run_id).await.unwrap(),
        Exported::Job(job.clone()),
        "a repeated export finds the job this run started"
    );
    let (seen, status) = settle(&connector, &job).await;
    assert_eq!(seen.first(), Some(&JobState::Running));
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);
    let collected = connector.collect(&job).await.unwrap();
    let [file] = &collected.files[..] else {
        panic!("one package: {:?}", collected.files);
    };
    assert_eq!(file.name, "export-1.zip");
    assert!(file.bytes.starts_with(b"PK"), "a zip");
    let mut items = collected.items.clone();
    items.sort_by(|a, b| a.uri.cmp(&b.uri));
    assert_eq!(
        items,
        [
            item("Rating Engines/rater", &["1.0.0", "1.2.0"]),
            item("pricing/quote", &["1.0.0"])
        ]
    );
    let exports = shared().tenant(&t.source).unwrap().jobs;
    assert_eq!(exports.len(), 1, "one export job: {exports:?}");
    assert_eq!(&exports[0].id, id);

    let bundle = bundle_of(&collected.files, collected.items.clone());
    let plan = connector.plan(&bundle).await.unwrap();
    assert_eq!(plan.target, "prod");
    assert_eq!(plan.tenant, t.target);
    let [quote, rater] = &plan.changes[..] else {
        panic!("two changes: {plan:?}");
    };
    assert_eq!(
        (quote.target.as_str(), quote.action, &quote.existing_latest),
        ("pricing/quote", ChangeAction::Create, &None)
    );
    assert_eq!(quote.new_versions, ["1.0.0"]);
    assert_eq!(
        (rater.action, rater.existing_latest.as_deref()),
        (ChangeAction::AddVersion, Some("2.0.0"))
    );
    assert_eq!(rater.new_versions, ["2.1.0", "2.2.0"]);
    assert!(
        shared().tenant(&t.target).unwrap().jobs.is_empty(),
        "plan changes nothing"
    );

    let applied = connector
        .apply(collected.files.clone(), &run_id)
        .await
        .unwrap();
    let Applied::Job(import) = &applied else {
        panic!("Spark imports are jobs");
    };
    assert!(
        matches!(import, JobHandle::SparkImport { spark, .. } if Some(spark) == request.target.spark.as_ref())
    );
    let again = connector
        .apply(collected.files.clone(), &run_id)
        .await
        .unwrap();
    assert_eq!(again, applied, "a running import is found by its run id");
    let (_, status) = settle(&connector, import).await;
    assert_eq!(status.state, JobState::Succeeded, "{}", status.detail);
    let later = connector.apply(collected.files, &run_id).await.unwrap();
    assert_eq!(later, applied, "a finished import is found by its run id");

    let verification = connector.verify(&plan, &applied).await.unwrap();
    let found: Vec<(&str, Vec<String>, &str)> = verification
        .services
        .iter()
        .map(|s| (s.target.as_str(), s.versions.clone(), s.latest.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("pricing/quote", vec!["1.0.0".to_string()], "1.0.0"),
            (
                "Rating Engines/rater",
                vec!["2.1.0".to_string(), "2.2.0".to_string()],
                "2.2.0"
            ),
        ]
    );
    assert_eq!(
        labels(&t.target, "Rating Engines", "rater"),
        ["2.0.0", "2.1.0", "2.2.0"],
        "versions added once"
    );
    assert_eq!(labels(&t.target, "pricing", "quote"), ["1.0.0"]);
    let imports = shared().tenant(&t.target).unwrap().jobs;
    assert_eq!(imports.len(), 1, "one import job: {imports:?}");

    let source_auth: Vec<String> = log_of(&t.source)
        .into_iter()
        .filter(|r| r.path.contains("/api/"))
        .map(|r| r.auth)
        .collect();
    assert!(source_auth.iter().all(|a| a == "oauth"), "{source_auth:?}");
    let target_auth: Vec<String> = log_of(&t.target).into_iter().map(|r| r.auth).collect();
    assert!(target_auth.iter().all(|a| a == "bearer"), "{target_auth:?}");
}

#[tokio::test]
async fn plans_refuse_abort_on_an_existing_service_and_name_every_missing_folder() {
    let t = tenants();
    let file = ExportedFile {
        name: "export-1.zip".into(),
        bytes: b"PK not read by plan".to_vec(),
    };
    let items = vec![
        item("pricing/quote", &["1.0.0"]),
        item("Rating Engines/rater", &["1.2.0"]),
    ];
    let bundle = bundle_of(std::slice::from_ref(&file), items.clone());

    let request = t.request(json!(["pricing/quote", "Rating Engines/rater"]), "abort");
    let err = SparkConnector::new(&request, &t.secrets)
        .unwrap()
        .plan(&bundle)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with("spark.services[1]: 'Rating Engines/rater' already exists"),
        "{message}"
    );
    assert!(message.contains("latest 2.0.0"), "{message}");
    assert!(message.contains("abort"), "{message}");

    let request = t.request(
        json!([
            {"source": "pricing/quote", "target": "Gone Folder/quote"},
            {"source": "Rating Engines/rater", "target": "also-gone/rater"},
            {"source": "Rating Engines/rater", "target": "pricing/rater"},
        ]),
        "add_version",
    );
    let err = SparkConnector::new(&request, &t.secrets)
        .unwrap()
        .plan(&bundle)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "NotFound", "{err}");
    let TaskError::NotFound(missing) = &err else {
        panic!("NotFound expected: {err:?}");
    };
    let names: Vec<&str> = missing.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Gone Folder", "also-gone"]);
    let place = format!("tenant '{}' (prod)", t.target);
    assert!(
        missing
            .iter()
            .all(|m| m.what == "Spark folder" && m.place == place),
        "{missing:?}"
    );

    let two_files = bundle_of(&[file.clone(), file], items);
    let request = t.request(json!(["pricing/quote"]), "add_version");
    let err = SparkConnector::new(&request, &t.secrets)
        .unwrap()
        .plan(&two_files)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exactly one package"), "{err}");

    let view = shared().tenant(&t.target).unwrap();
    assert!(view.jobs.is_empty(), "{:?}", view.jobs);
    assert_eq!(view.folders, ["pricing", "Rating Engines"]);
    assert!(
        log_of(&t.target)
            .iter()
            .all(|r| r.method != "POST" || !r.path.ends_with("/import")),
        "no import started"
    );
}

#[tokio::test]
async fn an_export_that_never_completes_runs_until_cancelled() {
    let t = tenants();
    shared().inject(&t.source, Fault::ExportNeverCompletes);
    let request = t.request(json!(["pricing/quote"]), "add_version");
    let connector = SparkConnector::new(&request, &t.secrets).unwrap();
    let Exported::Job(job) = connector.export(&unique("run")).await.unwrap() else {
        panic!("Spark exports are jobs");
    };
    for _ in 0..5 {
        let status = connector.status(&job).await.unwrap();
        assert_eq!(status.state, JobState::Running, "{}", status.detail);
        assert_eq!(status.detail, "in_progress");
    }

    let detail = connector.cancel(&job).await.unwrap();

    assert!(detail.ends_with("is cancelled"), "{detail}");
    let status = connector.status(&job).await.unwrap();
    assert_eq!(status.state, JobState::Failed);
    assert!(status.detail.contains("cancelled"), "{}", status.detail);
    let err = connector.collect(&job).await.unwrap_err();
    assert_eq!(err.error_type(), "JobFailed", "{err}");
    let jobs = shared().tenant(&t.source).unwrap().jobs;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, "cancelled");
}

#[tokio::test]
async fn an_import_with_errors_fails_with_its_message_and_changes_nothing() {
    let t = tenants();
    let request = t.request(
        json!(["pricing/quote", "Rating Engines/rater"]),
        "add_version",
    );
    let connector = SparkConnector::new(&request, &t.secrets).unwrap();
    let run_id = unique("run");
    let collected = export_and_collect(&connector, &run_id).await;
    let plan = connector
        .plan(&bundle_of(&collected.files, collected.items.clone()))
        .await
        .unwrap();
    let before = shared().tenant(&t.target).unwrap().services;
    shared().inject(
        &t.target,
        Fault::ImportErrors {
            message: "licence check failed for rater".into(),
        },
    );

    let applied = connector.apply(collected.files, &run_id).await.unwrap();
    let Applied::Job(import) = &applied else {
        panic!("Spark imports are jobs");
    };
    let (_, status) = settle(&connector, import).await;

    assert_eq!(status.state, JobState::Failed);
    assert!(
        status.detail.contains("licence check failed for rater"),
        "{}",
        status.detail
    );
    assert_eq!(shared().tenant(&t.target).unwrap().services, before);
    let err = connector.verify(&plan, &applied).await.unwrap_err();
    assert_eq!(err.error_type(), "VerificationFailed", "{err}");
}
