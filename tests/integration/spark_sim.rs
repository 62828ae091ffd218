//! spark_sim: the Spark ImpEx simulator answers as the contract describes — jobs that progress per
//! status read, real packages, all-or-nothing imports, every kind of auth, and faults that fire once.

use std::io::{Cursor, Read};
use std::time::Duration;

use reqwest::multipart::{Form, Part};
use reqwest::{Client, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use ferry_tests::sim_kit::client::{Control, SeededBinary, read, slow_once};
use ferry_tests::spark_sim::{Fault, Simulator, TenantSeed, shared};
use ferry_tests::unique;

/// A tenant of the shared simulator reached with its static bearer token.
struct Api {
    http: Client,
    tenant: String,
    token: String,
}

impl Api {
    /// Creates the tenant of `seed` (renamed to a unique name) with a bearer token.
    fn new(seed: TenantSeed) -> Api {
        let tenant = unique("sim");
        let token = format!("token-{tenant}");
        shared().add_tenant(TenantSeed {
            name: tenant.clone(),
            ..seed.bearer(&token)
        });
        Api {
            http: Client::new(),
            tenant,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", shared().base_url(&self.tenant))
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.bearer_auth(&self.token).send().await.unwrap();
        read(response).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    async fn export(&self, inputs: Value, version_filter: &str) -> (u16, Value) {
        let body =
            json!({"inputs": inputs, "version_filter": version_filter, "file_filter": "migrate"});
        self.post("/api/v4/export", body).await
    }

    /// Starts an export and polls it to its end: the final envelope.
    async fn exported(&self, inputs: Value, version_filter: &str) -> Value {
        let (status, started) = self.export(inputs, version_filter).await;
        assert_eq!(status, 200, "{started}");
        self.finish("export", started["id"].as_str().unwrap()).await
    }

    async fn finish(&self, kind: &str, id: &str) -> Value {
        for _ in 0..10 {
            let (status, job) = self.get(&format!("/api/v4/{kind}/{id}/status")).await;
            assert_eq!(status, 200, "{job}");
            if job["status"] != "in_progress" {
                return job;
            }
        }
        panic!("{kind} {id} never finished");
    }

    async fn import(&self, zip: Vec<u8>, entity: Value) -> (u16, Value) {
        let form = Form::new()
            .part("file", Part::bytes(zip).file_name("package.zip"))
            .text("importRequestEntity", entity.to_string());
        let request = self.http.post(self.url("/api/v4/import")).multipart(form);
        self.send(request).await
    }

    /// Imports `zip` with one mapping and polls the job to its end.
    async fn imported(&self, zip: &[u8], mapping: Value, existing: &str) -> Value {
        let entity =
            json!({"inputs": {"services_modify": [mapping]}, "services_existing": existing});
        let (status, started) = self.import(zip.to_vec(), entity).await;
        assert_eq!(status, 200, "{started}");
        self.finish("import", started["id"].as_str().unwrap()).await
    }

    fn inject(&self, fault: Fault) {
        shared().inject(&self.tenant, fault);
    }

    fn labels(&self, folder: &str, service: &str) -> Vec<String> {
        let view = shared().tenant(&self.tenant).unwrap();
        view.service(folder, service)
            .map(|s| s.labels())
            .unwrap_or_default()
    }
}

/// Downloads the package of a completed export envelope.
async fn download(job: &Value) -> Vec<u8> {
    let url = job["outputs"]["files"][0]["file"].as_str().unwrap();
    let response = Client::new().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap().to_vec()
}

fn manifest(zip: &[u8]) -> Value {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).unwrap();
    let mut text = String::new();
    archive
        .by_name("export.json")
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn pricing() -> TenantSeed {
    TenantSeed::new("")
        .service("pricing", "quote", &["1.0.0", "1.1.0"])
        .service("pricing", "rate", &["2.0.0"])
}

/// A package holding pricing/quote 1.0.0 and 1.1.0, exported from a fresh source tenant.
async fn quote_package() -> Vec<u8> {
    let source = Api::new(pricing());
    let job = source
        .exported(json!({"services": ["pricing/quote"]}), "all")
        .await;
    download(&job).await
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_export_progresses_per_status_read_and_its_package_matches_its_hash() {
    let api = Api::new(pricing());
    let (status, started) = api
        .export(json!({"services": ["pricing/quote"]}), "latest")
        .await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["object"], "export");
    let id = started["id"].as_str().unwrap();
    assert_eq!(
        started["status_url"],
        api.url(&format!("/api/v4/export/{id}/status"))
    );
    let path = format!("/api/v4/export/{id}/status");
    for _ in 0..2 {
        let (_, job) = api.get(&path).await;
        assert_eq!(job["status"], "in_progress");
        assert_eq!(job["outputs"]["files"], json!([]));
    }
    let (_, job) = api.get(&path).await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["errors"], Value::Null);
    let zip = download(&job).await;
    assert_eq!(job["outputs"]["files"][0]["file_hash"], hex_sha256(&zip));
    let services = &manifest(&zip)["services"];
    assert_eq!(services.as_array().unwrap().len(), 1);
    assert_eq!(services[0]["service"], "quote");
    assert_eq!(services[0]["versions"][0]["version"], "1.1.0");
    let versions = &job["outputs"]["service_versions"];
    assert_eq!(versions.as_array().unwrap().len(), 1);
    assert_eq!(versions[0]["version_source"], "1.1.0");
    assert_eq!(versions[0]["service_uri_source"], "pricing/quote");
}

#[tokio::test]
async fn an_export_selects_folders_versions_and_version_prefixes() {
    let api = Api::new(pricing().service("pricing", "quote", &["1.2.0", "1.2.7", "2.0.0"]));
    let all = api.exported(json!({"folders": ["pricing"]}), "all").await;
    let services = &manifest(&download(&all).await)["services"];
    let counts: Vec<usize> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["versions"].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, [5, 1], "quote has five versions, rate one");

    let latest = api
        .exported(json!({"services": ["pricing/quote[1.2]"]}), "latest")
        .await;
    assert_eq!(
        latest["outputs"]["service_versions"][0]["version_source"],
        "1.2.7"
    );
    let view = shared().tenant(&api.tenant).unwrap();
    let first = &view.service("pricing", "quote").unwrap().versions[0];
    let by_id = api
        .exported(json!({"version_ids": [first.version_id]}), "latest")
        .await;
    assert_eq!(
        by_id["outputs"]["service_versions"][0]["version_source"],
        "1.0.0"
    );
}

#[tokio::test]
async fn bad_export_requests_are_refused_naming_the_field() {
    let api = Api::new(pricing());
    let cases = [
        (json!({}), 400, "inputs"),
        (json!({"inputs": {"folders": []}}), 400, "inputs"),
        (
            json!({"inputs": {"folders": ["pricing"]}, "file_filter": "zip"}),
            400,
            "file_filter",
        ),
        (
            json!({"inputs": {"folders": ["pricing"]}, "version_filter": "some"}),
            400,
            "version_filter",
        ),
        (json!({"inputs": {"folders": ["claims"]}}), 404, "claims"),
        (
            json!({"inputs": {"services": ["pricing/nope"]}}),
            404,
            "pricing/nope",
        ),
        (
            json!({"inputs": {"services": ["pricing/quote[3]"]}}),
            404,
            "pricing/quote[3]",
        ),
        (json!({"inputs": {"version_ids": ["v-x"]}}), 404, "v-x"),
    ];
    for (body, expected, named) in cases {
        let (status, reply) = api.post("/api/v4/export", body.clone()).await;
        assert_eq!(status, expected, "{body} → {reply}");
        assert_eq!(reply["status"], "Error");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message} names {named}");
    }
    let (status, reply) = api.get("/api/v4/export/unknown/status").await;
    assert_eq!((status, error_code(&reply)), (404, "NOT_FOUND"));
    assert!(shared().tenant(&api.tenant).unwrap().jobs.is_empty());
}

#[tokio::test]
async fn a_tenant_runs_one_job_at_a_time_until_it_completes_or_is_cancelled() {
    let api = Api::new(pricing());
    let inputs = json!({"folders": ["pricing"]});
    let (_, first) = api.export(inputs.clone(), "latest").await;
    let first_id = first["id"].as_str().unwrap();
    let (status, refused) = api.export(inputs.clone(), "latest").await;
    assert_eq!((status, error_code(&refused)), (409, "JOB_IN_PROGRESS"));
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("export {first_id}")), "{message}");
    let map =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/quote"});
    let entity = json!({"inputs": {"services_modify": [map]}});
    let (status, refused) = api.import(quote_package().await, entity).await;
    assert_eq!((status, error_code(&refused)), (409, "JOB_IN_PROGRESS"));

    let (_, listing) = api.get("/api/v4/export/status").await;
    assert_eq!(
        listing["tenant"]["status"]["export_api_jobs_in_progress"],
        1
    );
    assert_eq!(listing["in_progress_exports"][0]["id"], first_id);

    let cancel = api
        .http
        .patch(api.url(&format!("/api/v4/export/{first_id}")));
    let (status, _) = api
        .send(cancel.json(&json!({"export_status": "done"})))
        .await;
    assert_eq!(status, 400);
    let cancel = api
        .http
        .patch(api.url(&format!("/api/v4/export/{first_id}")));
    let (status, cancelled) = api
        .send(cancel.json(&json!({"export_status": "cancelled"})))
        .await;
    assert_eq!((status, &cancelled["status"]), (200, &json!("cancelled")));

    let second = api.exported(inputs.clone(), "latest").await;
    assert_eq!(second["status"], "completed");
    let (status, _) = api.export(inputs, "latest").await;
    assert_eq!(status, 200, "a completed job frees the slot");
    let (_, listing) = api.get("/api/v4/export/status").await;
    assert_eq!(
        listing["recent_exports"][0]["data"]["export_status"],
        "cancelled"
    );
}

#[tokio::test]
async fn an_import_creates_an_absent_service_with_the_package_versions() {
    let zip = quote_package().await;
    let target = Api::new(TenantSeed::new("").folder("rates"));
    let mapping =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "rates/quote2"});
    let job = target.imported(&zip, mapping, "abort").await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["errors"], Value::Null);
    assert_eq!(job["warnings"], json!([]));
    let service = &job["outputs"]["services"][0];
    assert_eq!(service["status"], "added");
    assert_eq!(service["service_uri_destination"], "rates/quote2");
    assert_eq!(target.labels("rates", "quote2"), ["1.0.0", "1.1.0"]);
    let view = shared().tenant(&target.tenant).unwrap();
    let created = view.service("rates", "quote2").unwrap();
    let versions = &job["outputs"]["service_versions"];
    assert_eq!(
        versions[1]["version_id_destination"],
        created.versions[1].version_id
    );
    assert_ne!(
        versions[1]["version_id_destination"],
        versions[1]["version_id_source"]
    );
    assert_eq!(service["service_id_destination"], created.service_id);
}

#[tokio::test]
async fn add_version_bumps_the_destination_and_replace_swaps_its_versions() {
    let zip = quote_package().await;
    let target = Api::new(TenantSeed::new("").service("pricing", "quote", &["1.2.3"]));
    let mapping = |bump: &str| json!({"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/quote", "update_version_type": bump});
    let job = target.imported(&zip, mapping("minor"), "add_version").await;
    assert_eq!(
        job["outputs"]["service_versions"][1]["version_destination"],
        "1.4.0"
    );
    assert_eq!(
        target.labels("pricing", "quote"),
        ["1.2.3", "1.3.0", "1.4.0"]
    );
    target.imported(&zip, mapping("major"), "add_version").await;
    target.imported(&zip, mapping("patch"), "add_version").await;
    assert_eq!(
        target.labels("pricing", "quote")[3..],
        ["2.0.0", "3.0.0", "3.0.1", "3.0.2"]
    );

    let job = target.imported(&zip, mapping("minor"), "replace").await;
    assert_eq!(job["outputs"]["services"][0]["status"], "replaced");
    assert_eq!(target.labels("pricing", "quote"), ["1.0.0", "1.1.0"]);
}

#[tokio::test]
async fn a_refused_import_completes_with_errors_and_changes_nothing() {
    let zip = quote_package().await;
    let target = Api::new(TenantSeed::new("").service("pricing", "quote", &["1.0.0"]));
    let before = shared().tenant(&target.tenant).unwrap().services;
    let existing =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/quote"});
    let job = target.imported(&zip, existing.clone(), "abort").await;
    assert_eq!(job["status"], "completed");
    assert_eq!(job["errors"][0]["service_uri_destination"], "pricing/quote");
    assert_eq!(job["outputs"]["services"], json!([]));

    let fine =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/fresh"});
    let lost =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "nowhere/quote"});
    let entity = json!({"inputs": {"services_modify": [fine, lost]}});
    let (_, started) = target.import(zip, entity).await;
    let job = target
        .finish("import", started["id"].as_str().unwrap())
        .await;
    let errors = job["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["message"].as_str().unwrap().contains("nowhere"));
    assert_eq!(shared().tenant(&target.tenant).unwrap().services, before);
}

#[tokio::test]
async fn bad_import_requests_are_refused_naming_the_part_or_field() {
    let zip = quote_package().await;
    let api = Api::new(pricing());
    let map =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/quote"});
    let cases = [
        (
            b"not a zip".to_vec(),
            json!({"inputs": {"services_modify": [map]}}),
            "zip",
        ),
        (
            zip.clone(),
            json!({"inputs": {"services_modify": []}}),
            "services_modify",
        ),
        (
            zip.clone(),
            json!({"inputs": {"services_modify": [{"service_uri_source": "a/b"}]}}),
            "a/b",
        ),
        (
            zip.clone(),
            json!({"inputs": {"services_modify": [map]}, "services_existing": "update"}),
            "services_existing",
        ),
        (
            zip.clone(),
            json!({"inputs": {"services_modify": [{"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/quote", "update_version_type": "huge"}]}}),
            "update_version_type",
        ),
    ];
    for (file, entity, named) in cases {
        let (status, reply) = api.import(file, entity.clone()).await;
        assert_eq!(status, 400, "{entity} → {reply}");
        let message = reply["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{message} names {named}");
    }
    let form = Form::new().part("file", Part::bytes(zip));
    let request = api.http.post(api.url("/api/v4/import")).multipart(form);
    let (status, reply) = api.send(request).await;
    assert_eq!(status, 400);
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("importRequestEntity")
    );
    let form = Form::new().text("importRequestEntity", "{not json");
    let request = api.http.post(api.url("/api/v4/import")).multipart(form);
    assert_eq!(api.send(request).await.0, 400);
}

/// Fetches a client-credentials token for `tenant`.
async fn fetch_token(tenant: &str, id: &str, secret: &str, grant: &str) -> (u16, Value) {
    let form = [
        ("grant_type", grant),
        ("client_id", id),
        ("client_secret", secret),
    ];
    let request = Client::new().post(shared().token_url(tenant)).form(&form);
    read(request.send().await.unwrap()).await
}

async fn versions_with_bearer(tenant: &str, token: &str) -> Response {
    let url = format!(
        "{}/api/v1/product/pricing/engines/getversions/quote",
        shared().origin()
    );
    Client::new()
        .get(url)
        .bearer_auth(token)
        .header("x-tenant-name", tenant)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn issued_tokens_work_for_their_tenant_until_they_expire() {
    let api = Api::new(TenantSeed {
        token_ttl_seconds: 1,
        ..pricing().client("ferry", "s3cret")
    });
    let other = Api::new(pricing());
    let (status, token) = fetch_token(&api.tenant, "ferry", "s3cret", "client_credentials").await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        (&token["token_type"], &token["expires_in"]),
        (&json!("Bearer"), &json!(1))
    );
    assert!(token.get("not-before-policy").is_some());
    let access = token["access_token"].as_str().unwrap();

    assert_eq!(
        versions_with_bearer(&api.tenant, access).await.status(),
        200
    );
    assert_eq!(
        versions_with_bearer(&other.tenant, access).await.status(),
        401
    );
    let logged = shared().requests();
    let mine = logged
        .iter()
        .rfind(|r| r.tenant.as_deref() == Some(&api.tenant))
        .unwrap();
    assert_eq!((mine.auth.as_str(), mine.status), ("oauth", 200));

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = versions_with_bearer(&api.tenant, access).await;
    assert_eq!(expired.status(), 401);
    assert_eq!(expired.headers()["www-authenticate"], "Bearer");
    assert!(expired.bytes().await.unwrap().is_empty());

    let (status, body) = fetch_token(&api.tenant, "ferry", "wrong", "client_credentials").await;
    assert_eq!(
        (status, &body["error"]),
        (401, &json!("unauthorized_client"))
    );
    let (status, body) = fetch_token(&api.tenant, "ferry", "s3cret", "password").await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn api_keys_need_the_tenant_header() {
    let api = Api::new(pricing().api_key("key-1"));
    let url = api.url("/api/v3/folders/pricing/services/quote/exists");
    let send = |key: &'static str, tenant: Option<String>| {
        let mut request = Client::new().get(&url).header("x-synthetic-key", key);
        if let Some(tenant) = tenant {
            request = request.header("x-tenant-name", tenant);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(send("key-1", Some(api.tenant.clone())).await, 200);
    assert_eq!(send("key-2", Some(api.tenant.clone())).await, 401);
    assert_eq!(send("key-1", None).await, 401);
    assert_eq!(send("key-1", Some("someone-else".into())).await, 401);
    let none = Client::new().get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let logged = shared().requests();
    let kinds: Vec<&str> = logged
        .iter()
        .filter(|r| r.tenant.as_deref() == Some(&api.tenant))
        .map(|r| r.auth.as_str())
        .collect();
    assert_eq!(kinds, ["api_key", "api_key", "api_key", "api_key", "none"]);
    let (status, _) = read(
        Client::new()
            .get(format!("{}/nobody/api/v4/export/status", shared().origin()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404, "an unknown tenant");
}

#[tokio::test]
async fn counted_faults_fire_once_then_clear() {
    let api = Api::new(pricing());
    let path = "/api/v4/export/status";
    api.inject(Fault::UnauthorizedNext { count: 1 });
    assert_eq!(api.get(path).await.0, 401);
    assert_eq!(api.get(path).await.0, 200);

    api.inject(Fault::RateLimitNext {
        count: 2,
        retry_after_seconds: 7,
    });
    for _ in 0..2 {
        let response = api
            .http
            .get(api.url(path))
            .bearer_auth(&api.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
        assert_eq!(response.headers()["x-retry-after"], "7");
        assert_eq!(error_code(&read(response).await.1), "TOO_MANY_REQUESTS");
    }
    assert_eq!(api.get(path).await.0, 200);

    api.inject(Fault::ServerErrorNext { count: 1 });
    assert_eq!(api.get(path).await.0, 500);
    assert_eq!(api.get(path).await.0, 200);

    api.inject(Fault::SlowNext {
        count: 1,
        millis: 300,
    });
    let (slow, _) = slow_once(300, || api.get(path)).await;
    assert_eq!(slow.0, 200);

    api.inject(Fault::ServerErrorNext { count: 5 });
    api.inject(Fault::Clear);
    assert_eq!(api.get(path).await.0, 200);
    assert_eq!(api.get("/api/v4/import/status").await.0, 200);
}

#[tokio::test]
async fn job_faults_hold_exports_fail_imports_and_guard_downloads() {
    let zip = quote_package().await;
    let api = Api::new(pricing());
    api.inject(Fault::ImportErrors {
        message: "neuron missing".into(),
    });
    let map =
        json!({"service_uri_source": "pricing/quote", "service_uri_destination": "pricing/copy"});
    let job = api.imported(&zip, map.clone(), "add_version").await;
    assert_eq!(job["errors"][0]["message"], "neuron missing");
    assert!(api.labels("pricing", "copy").is_empty());
    let job = api.imported(&zip, map, "add_version").await;
    assert_eq!(job["errors"], Value::Null, "the fault fired once");

    api.inject(Fault::ExportNeverCompletes);
    let (_, started) = api.export(json!({"folders": ["pricing"]}), "latest").await;
    let id = started["id"].as_str().unwrap();
    for _ in 0..5 {
        let (_, job) = api.get(&format!("/api/v4/export/{id}/status")).await;
        assert_eq!(job["status"], "in_progress");
    }
    api.inject(Fault::Clear);
    let job = api.finish("export", id).await;
    assert_eq!(job["status"], "completed");

    api.inject(Fault::DownloadRequiresAuth);
    let url = job["outputs"]["files"][0]["file"].as_str().unwrap();
    let anonymous = Client::new().get(url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let signed = api
        .http
        .get(url)
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.headers()["content-type"], "application/zip");
    assert_eq!(signed.status(), 200);
    let (status, _) = read(
        Client::new()
            .get(format!("{}/_files/nope/x.zip", shared().origin()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_helper_endpoints_report_versions_and_existence() {
    let api = Api::new(pricing().service("My Folder", "My Service", &["0.1.0"]));
    let v1 = |path: &str| {
        let url = format!("{}/api/v1{path}", shared().origin());
        (url, api.tenant.clone(), api.token.clone())
    };
    let (url, tenant, token) = v1("/product/My%20Folder/engines/getversions/My%20Service");
    let response = Client::new()
        .get(url)
        .bearer_auth(&token)
        .header("x-tenant-name", &tenant)
        .send()
        .await
        .unwrap();
    let (status, body) = read(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["versionLabel"], "0.1.0");
    assert_eq!(body["data"][0]["product"], "My Folder");

    let (status, body) = api
        .get("/api/v3/folders/pricing/services/quote/exists")
        .await;
    assert_eq!(status, 200);
    let data = &body["response_data"];
    assert_eq!(
        (&data["is_exists"], &data["version"]),
        (&json!(true), &json!("1.1.0"))
    );
    let (status, body) = api
        .get("/api/v3/folders/pricing/services/gone/exists")
        .await;
    assert_eq!(
        (status, &body["response_data"]["is_exists"]),
        (200, &json!(false))
    );
    assert_eq!(body["response_data"]["id"], Value::Null);

    for (folder, expected) in [("pricing", true), ("claims", false)] {
        let (url, tenant, token) = v1(&format!("/product/isproductexists/{folder}"));
        let response = Client::new()
            .post(url)
            .bearer_auth(&token)
            .header("x-tenant-name", &tenant)
            .send()
            .await
            .unwrap();
        assert_eq!(read(response).await.1["data"], expected);
    }
    let (url, tenant, token) = v1("/product/pricing/engines/getversions/gone");
    let response = Client::new()
        .get(url)
        .bearer_auth(&token)
        .header("x-tenant-name", &tenant)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let health = Client::new()
        .get(format!("{}/health", shared().origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(read(health).await.1["status"], "UP");
}

#[tokio::test]
async fn the_control_api_seeds_inspects_injects_and_resets() {
    let sim = Simulator::start(0);
    let http = Client::new();
    let control = Control::new(format!("{}/_sim", sim.origin()));
    let seed = json!({"name": "acme", "services": [{"folder": "pricing", "service": "quote", "versions": ["1.0.0"]}], "bearer_tokens": ["t"]});
    assert_eq!(control.post("/tenants", &seed).await.0, 200);
    let (_, view) = control.get("/tenants/acme").await;
    assert_eq!(view["folders"], json!(["pricing"]));
    assert_eq!(view["services"][0]["versions"][0]["version"], "1.0.0");

    let fault = json!({"fault": "server_error_next"});
    assert_eq!(control.post("/tenants/acme/faults", &fault).await.0, 200);
    let url = format!("{}/acme/api/v4/export/status", sim.origin());
    let failed = http.get(&url).bearer_auth("t").send().await.unwrap();
    assert_eq!(failed.status(), 500);
    let (_, log) = control.get("/requests").await;
    assert_eq!(
        log,
        json!([{"method": "GET", "path": "/acme/api/v4/export/status", "tenant": "acme", "auth": "bearer", "status": 500}])
    );

    assert_eq!(control.post("/reset", &json!({})).await.0, 200);
    assert!(sim.tenant("acme").is_none());
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn the_binary_serves_its_seed_until_stdin_closes() {
    let seed =
        json!({"tenants": [{"name": "acme", "folders": ["pricing"], "bearer_tokens": ["t"]}]});
    let binary = SeededBinary::start(env!("CARGO_BIN_EXE_spark-sim"), "spark-sim", &seed);
    let url = format!("{}/api/v1/product/isproductexists/pricing", binary.origin());
    let response = Client::new()
        .post(url)
        .bearer_auth("t")
        .header("x-tenant-name", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(read(response).await.1["data"], true);
    binary.stop();
}
