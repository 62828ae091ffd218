//! cdap_sim: the Data Fusion simulator answers as the contract describes — tokens only for
//! correctly signed service-account assertions and AWS requests, the instance resource pointing
//! at the CDAP API, deploys that mint versions and refuse artifacts the instance lacks, profiles,
//! preferences and runs as CDAP keeps them, 401 without a live token, and faults that fire on
//! their scope until spent.

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, Method};
use serde_json::{Value, json};

use ferry_tests::cdap_sim::google::sigv4;
use ferry_tests::cdap_sim::{
    Endpoint, Fault, InstanceSeed, PoolSeed, ServiceAccountSeed, Simulator, shared,
};
use ferry_tests::sim_kit::client::{Control, SeededBinary, read, slow_once};
use ferry_tests::unique;

const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const AUDIENCE_PREFIX: &str =
    "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/google")
        .join(name)
}

fn key_file(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name)).expect("the fixture is readable");
    serde_json::from_str(&text).expect("the fixture is JSON")
}

fn now() -> i64 {
    let elapsed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(elapsed.unwrap().as_secs()).unwrap()
}

/// An assertion signed with the key of `key` for `aud`, issued `iat` seconds from now and
/// living `lifetime` seconds.
fn assertion(key: &Value, aud: &str, iat: i64, lifetime: i64, scope: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = key["private_key_id"].as_str().map(str::to_string);
    let issued = now() + iat;
    let claims = json!({"iss": key["client_email"], "scope": scope, "aud": aud,
        "iat": issued, "exp": issued + lifetime});
    let pem = key["private_key"].as_str().unwrap().as_bytes();
    let signing = EncodingKey::from_rsa_pem(pem).expect("an RSA private key");
    jsonwebtoken::encode(&header, &claims, &signing).expect("the assertion is signed")
}

fn register_fixture_account(sim: &Simulator) {
    sim.add_service_account(ServiceAccountSeed {
        client_email: key_file("service-account.json")["client_email"]
            .as_str()
            .unwrap()
            .into(),
        public_key_file: Some(fixture_path("sa-public.pem")),
        ..ServiceAccountSeed::default()
    });
}

async fn grant(sim: &Simulator, assertion: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion),
    ];
    let response = Client::new()
        .post(sim.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// A fresh service-account token of `sim`.
async fn token(sim: &Simulator) -> String {
    register_fixture_account(sim);
    let key = key_file("service-account.json");
    let (status, body) = grant(sim, &assertion(&key, &sim.token_url(), 0, 3600, SCOPE)).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

/// A caller of one instance's CDAP API.
struct Cdap {
    http: Client,
    base: String,
    token: String,
    name: String,
}

impl Cdap {
    /// A fresh instance of the shared simulator built from `seed` under a unique name.
    async fn new(seed: InstanceSeed) -> Cdap {
        Cdap::on(shared(), seed).await
    }

    async fn on(sim: &Simulator, seed: InstanceSeed) -> Cdap {
        let name = unique("df");
        sim.add_instance(InstanceSeed {
            name: name.clone(),
            project: "p".into(),
            location: "l".into(),
            ..seed
        });
        let token = token(sim).await;
        Cdap {
            http: Client::new(),
            base: sim.api_endpoint(&name),
            token,
            name,
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.call(Method::DELETE, path, None).await
    }

    fn state(&self) -> Value {
        shared().store().instance(&self.name).unwrap()
    }
}

fn plugins() -> Vec<ferry_tests::cdap_sim::ArtifactRef> {
    vec![ferry_tests::cdap_sim::ArtifactRef::system(
        "core-plugins",
        "2.12.0",
    )]
}

fn pipeline_config(plugin_version: &str) -> Value {
    json!({"stages": [{"name": "File", "plugin": {"name": "File", "type": "batchsource",
        "artifact": {"name": "core-plugins", "version": plugin_version, "scope": "SYSTEM"},
        "properties": {"path": "${input.path}"}}}],
        "connections": [], "engine": "spark"})
}

fn app_request(cdap_version: &str, plugin_version: &str) -> Value {
    json!({"artifact": {"name": "cdap-data-pipeline", "version": cdap_version, "scope": "SYSTEM"},
        "config": pipeline_config(plugin_version)})
}

#[tokio::test]
async fn service_account_assertions_get_tokens_and_bad_ones_are_refused() {
    let sim = shared();
    register_fixture_account(sim);
    let key = key_file("service-account.json");
    let (status, body) = grant(sim, &assertion(&key, &sim.token_url(), 0, 3600, SCOPE)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["access_token"]
            .as_str()
            .unwrap()
            .starts_with("ya29.sim-")
    );
    assert_eq!(
        (body["expires_in"].clone(), body["token_type"].clone()),
        (json!(3600), json!("Bearer"))
    );

    let other_key = key_file("service-account-unregistered.json");
    let refusals = [
        assertion(&other_key, &sim.token_url(), 0, 3600, SCOPE),
        assertion(&key, "https://oauth2.googleapis.com/token", 0, 3600, SCOPE),
        assertion(&key, &sim.token_url(), -7200, 3600, SCOPE),
        assertion(&key, &sim.token_url(), 0, 7200, SCOPE),
    ];
    for refused in refusals {
        let (status, body) = grant(sim, &refused).await;
        assert_eq!(
            (status, body["error"].clone()),
            (400, json!("invalid_grant")),
            "{body}"
        );
    }
    let no_scope = assertion(&key, &sim.token_url(), 0, 3600, "openid");
    assert_eq!(grant(sim, &no_scope).await.1["error"], "invalid_scope");
}

fn pool(audience: &str, impersonate: &str) -> PoolSeed {
    PoolSeed {
        audience: audience.to_string(),
        aws_access_key_id: Some("AKIASIM".into()),
        aws_secret_access_key: Some("sim-secret".into()),
        impersonate: vec![impersonate.to_string()],
    }
}

async fn exchange(sim: &Simulator, audience: &str, subject: &str) -> (u16, Value) {
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("audience", audience),
        ("scope", SCOPE),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        (
            "subject_token_type",
            "urn:ietf:params:aws:token-type:aws4_request",
        ),
        ("subject_token", subject),
    ];
    let response = Client::new()
        .post(format!("{}/v1/token", sim.origin()))
        .form(&form)
        .send();
    read(response.await.unwrap()).await
}

async fn impersonate(sim: &Simulator, token: &str, email: &str) -> (u16, Value) {
    let url = format!(
        "{}/v1/projects/-/serviceAccounts/{email}:generateAccessToken",
        sim.origin()
    );
    let body = json!({"scope": [SCOPE], "lifetime": "1800s"});
    let response = Client::new()
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send();
    read(response.await.unwrap()).await
}

#[tokio::test]
async fn sts_exchanges_check_audience_and_signature_and_impersonation_needs_the_pool() {
    let sim = shared();
    let audience = format!("{AUDIENCE_PREFIX}/{}/providers/aws", unique("pool"));
    let email = format!("{}@p.iam.gserviceaccount.com", unique("runner"));
    sim.add_pool(pool(&audience, &email));
    let signed = |aud: &str, secret: &str| {
        sigv4::subject_token(aud, "eu-west-1", "AKIASIM", secret, "20240501T120000Z")
    };

    let (status, body) = exchange(sim, &audience, &signed(&audience, "sim-secret")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    let sts = body["access_token"].as_str().unwrap().to_string();
    assert!(sts.starts_with("sts-sim-"));

    let wrong_secret = exchange(sim, &audience, &signed(&audience, "guessed")).await;
    let unknown_pool = format!("{AUDIENCE_PREFIX}/nobody/providers/aws");
    let wrong_audience = exchange(sim, &unknown_pool, &signed(&unknown_pool, "sim-secret")).await;
    let other_target = exchange(sim, &audience, &signed(&unknown_pool, "sim-secret")).await;
    for (status, body) in [wrong_secret, wrong_audience, other_target] {
        assert_eq!(
            (status, body["error"].clone()),
            (400, json!("invalid_grant")),
            "{body}"
        );
    }

    let (status, body) = impersonate(sim, &sts, &email).await;
    assert_eq!(status, 200, "{body}");
    let impersonated = body["accessToken"].as_str().unwrap().to_string();
    assert!(body["expireTime"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        impersonate(sim, &sts, "other@p.iam.gserviceaccount.com")
            .await
            .0,
        403
    );
    assert_eq!(
        impersonate(sim, &token(sim).await, &email).await.0,
        403,
        "only STS tokens"
    );

    let cdap = Cdap::new(InstanceSeed::default()).await;
    for token in [sts, impersonated] {
        let request = Client::new()
            .get(format!("{}/v3/version", cdap.base))
            .bearer_auth(token);
        let (status, body) = read(request.send().await.unwrap()).await;
        assert_eq!((status, body), (200, json!({"version": "6.10.1"})));
    }
}

#[tokio::test]
async fn the_instance_resource_points_at_its_cdap_api() {
    let cdap = Cdap::new(InstanceSeed {
        version: "6.9.2".into(),
        ..InstanceSeed::default()
    })
    .await;
    let http = Client::new();
    for version in ["v1", "v1beta1"] {
        let url = format!(
            "{}/{version}/projects/p/locations/l/instances/{}",
            shared().origin(),
            cdap.name
        );
        let (status, body) =
            read(http.get(url).bearer_auth(&cdap.token).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["name"],
            format!("projects/p/locations/l/instances/{}", cdap.name)
        );
        assert_eq!(
            (body["state"].clone(), body["version"].clone()),
            (json!("RUNNING"), json!("6.9.2"))
        );
        let api = body["apiEndpoint"].as_str().unwrap();
        assert_eq!(api, cdap.base);
        let version = http
            .get(format!("{api}/v3/version"))
            .bearer_auth(&cdap.token)
            .send();
        assert_eq!(read(version.await.unwrap()).await.1["version"], "6.9.2");
    }
    let elsewhere = shared().instance_url("other-project", "l", &cdap.name);
    let (status, body) = read(
        http.get(elsewhere)
            .bearer_auth(&cdap.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["status"].clone()),
        (404, json!("NOT_FOUND"))
    );
}

#[tokio::test]
async fn deploys_mint_versions_and_refuse_artifacts_the_instance_lacks() {
    let cdap = Cdap::new(InstanceSeed {
        plugins: plugins(),
        ..InstanceSeed::default()
    })
    .await;
    let app = "/v3/namespaces/default/apps/orders";
    let (status, body) = cdap.put(app, &app_request("6.9.0", "2.12.0")).await;
    assert_eq!(status, 400);
    assert!(
        body.as_str().unwrap().contains("not found") && body.as_str().unwrap().contains("6.9.0"),
        "{body}"
    );
    let (status, body) = cdap.put(app, &app_request("6.10.1", "2.11.0")).await;
    assert_eq!(status, 400);
    assert!(
        body.as_str().unwrap().contains("File"),
        "the plugin is named: {body}"
    );
    let (status, body) = cdap
        .put(app, &json!({"config": pipeline_config("2.12.0")}))
        .await;
    assert_eq!(status, 400);
    assert!(body.as_str().unwrap().contains("artifact"), "{body}");
    assert_eq!(cdap.get(app).await.0, 404, "nothing was deployed");

    let first = cdap.put(app, &app_request("6.10.1", "2.12.0")).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let mut as_string = app_request("6.10.1", "2.12.0");
    as_string["config"] = json!(pipeline_config("2.12.0").to_string());
    assert_eq!(cdap.put(app, &as_string).await.0, 200);
    let (_, versions) = cdap.get(&format!("{app}/versions")).await;
    let versions = versions.as_array().unwrap().clone();
    assert_eq!(versions.len(), 2);
    assert_ne!(versions[0], versions[1]);

    let (status, detail) = cdap.get(app).await;
    assert_eq!(status, 200);
    assert_eq!(detail["appVersion"], versions[1]);
    let configuration: Value =
        serde_json::from_str(detail["configuration"].as_str().unwrap()).unwrap();
    assert_eq!(configuration, pipeline_config("2.12.0"));
    assert_eq!(detail["programs"][0]["name"], "DataPipelineWorkflow");
    assert_eq!(
        detail["change"]["author"],
        key_file("service-account.json")["client_email"]
    );

    assert_eq!(
        cdap.put(
            "/v3/namespaces/default/apps/returns",
            &app_request("6.10.1", "2.12.0")
        )
        .await
        .0,
        200
    );
    let (_, page) = cdap.get("/v3/namespaces/default/apps?pageSize=1").await;
    assert_eq!(
        (
            page["applications"][0]["name"].clone(),
            page["nextPageToken"].clone()
        ),
        (json!("orders"), json!("orders"))
    );
    let (_, last) = cdap
        .get("/v3/namespaces/default/apps?pageSize=1&pageToken=orders")
        .await;
    assert_eq!(last["applications"][0]["name"], "returns");
    assert!(last.get("nextPageToken").is_none());
    let (_, none) = cdap
        .get("/v3/namespaces/default/apps?artifactName=cdap-data-streams")
        .await;
    assert_eq!(none, json!([]));
    assert_eq!(
        cdap.state()["deploys"]["default"],
        json!({"orders": 2, "returns": 1})
    );

    assert_eq!(cdap.delete(app).await.0, 200);
    assert_eq!(cdap.delete(app).await.0, 404);
}

#[tokio::test]
async fn namespaces_are_created_once_and_deleting_one_drops_its_contents() {
    let cdap = Cdap::new(InstanceSeed {
        plugins: plugins(),
        ..InstanceSeed::default()
    })
    .await;
    let ns = "/v3/namespaces/team_a";
    let (status, text) = cdap
        .put(
            ns,
            &json!({"name": "team_a", "description": "first", "config": {"k": "v"}}),
        )
        .await;
    assert_eq!(
        (status, text.as_str().unwrap().contains("created")),
        (200, true)
    );
    let (status, text) = cdap.put(ns, &json!({"description": "second"})).await;
    assert_eq!(
        (status, text.as_str().unwrap().contains("already exists")),
        (200, true)
    );
    assert_eq!(
        cdap.get(ns).await.1["description"],
        "first",
        "PUT does not update"
    );
    assert_eq!(
        cdap.put(
            &format!("{ns}/properties"),
            &json!({"description": "second"})
        )
        .await
        .0,
        200
    );
    assert_eq!(cdap.get(ns).await.1["description"], "second");
    assert_eq!(cdap.put("/v3/namespaces/system", &json!({})).await.0, 400);
    assert_eq!(cdap.delete("/v3/namespaces/default").await.0, 403);

    assert_eq!(
        cdap.put(&format!("{ns}/apps/p1"), &app_request("6.10.1", "2.12.0"))
            .await
            .0,
        200
    );
    let names: Vec<Value> = cdap
        .get("/v3/namespaces")
        .await
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].clone())
        .collect();
    assert_eq!(names, [json!("default"), json!("team_a")]);
    assert_eq!(cdap.delete(ns).await.0, 200);
    assert_eq!(cdap.get(&format!("{ns}/apps/p1")).await.0, 404);
    assert_eq!(cdap.get(ns).await.0, 404);
    let (_, artifacts) = cdap.get("/v3/namespaces/default/artifacts").await;
    assert_eq!(
        artifacts.as_array().unwrap().len(),
        3,
        "two pipeline artifacts and a plugin"
    );
}

#[tokio::test]
async fn profiles_must_be_disabled_before_deletion() {
    let cdap = Cdap::new(InstanceSeed::default()).await;
    let (_, system) = cdap.get("/v3/profiles").await;
    let names: Vec<&str> = system
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["autoscaling-dataproc", "dataproc", "native"]);

    let profile = "/v3/namespaces/default/profiles/small";
    let body = json!({"label": "Small", "description": "d", "provisioner": {"name": "gcp-dataproc",
        "properties": [{"name": "workerNumNodes", "value": "2", "isEditable": true}]}});
    let unknown = json!({"label": "x", "provisioner": {"name": "gcp-imaginary", "properties": []}});
    assert_eq!(cdap.put(profile, &unknown).await.0, 400);
    assert_eq!(cdap.put(profile, &body).await.0, 200);
    let (_, created) = cdap.get(profile).await;
    assert_eq!(
        (created["scope"].clone(), created["status"].clone()),
        (json!("USER"), json!("ENABLED"))
    );
    let (status, text) = cdap.delete(profile).await;
    assert_eq!(status, 409);
    assert!(
        text.as_str()
            .unwrap()
            .contains("must be disabled before deletion")
    );
    assert_eq!(
        cdap.post(&format!("{profile}/disable"), &json!({})).await.0,
        200
    );
    assert_eq!(cdap.put(profile, &body).await.0, 200);
    assert_eq!(
        cdap.get(&format!("{profile}/status")).await.1,
        "DISABLED",
        "an update keeps the status"
    );
    let (_, with_system) = cdap
        .get("/v3/namespaces/default/profiles?includeSystem=true")
        .await;
    assert_eq!(with_system.as_array().unwrap().len(), 4);
    assert_eq!(cdap.delete(profile).await.0, 200);
    assert_eq!(cdap.get(profile).await.0, 404);
}

#[tokio::test]
async fn preferences_need_an_existing_entity_and_resolve_by_level() {
    let seed = InstanceSeed {
        plugins: plugins(),
        apps: vec![ferry_tests::cdap_sim::AppSeed {
            namespace: "default".into(),
            name: "p1".into(),
            config: pipeline_config("2.12.0"),
            ..Default::default()
        }],
        ..InstanceSeed::default()
    };
    let cdap = Cdap::new(seed).await;
    assert_eq!(
        cdap.put(
            "/v3/namespaces/default/apps/ghost/preferences",
            &json!({"a": "1"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        cdap.put("/v3/namespaces/nowhere/preferences", &json!({"a": "1"}))
            .await
            .0,
        404
    );
    assert_eq!(cdap.put("/v3/preferences", &json!({"a": 1})).await.0, 400);
    assert_eq!(
        cdap.put(
            "/v3/preferences",
            &json!({"a": "instance", "b": "instance"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        cdap.put(
            "/v3/namespaces/default/preferences",
            &json!({"b": "ns", "c": "ns"})
        )
        .await
        .0,
        200
    );
    let app = "/v3/namespaces/default/apps/p1/preferences";
    assert_eq!(cdap.put(app, &json!({"c": "app"})).await.0, 200);
    assert_eq!(cdap.get(app).await.1, json!({"c": "app"}));
    let (_, resolved) = cdap.get(&format!("{app}?resolved=true")).await;
    assert_eq!(resolved, json!({"a": "instance", "b": "ns", "c": "app"}));
    assert_eq!(cdap.delete(app).await.0, 200);
    assert_eq!(cdap.get(app).await.1, json!({}));
}

async fn statuses(cdap: &Cdap, app: &str, run: &str, reads: usize) -> Vec<String> {
    let path =
        format!("/v3/namespaces/default/apps/{app}/workflows/DataPipelineWorkflow/runs/{run}");
    let mut seen = Vec::new();
    for _ in 0..reads {
        seen.push(
            cdap.get(&path).await.1["status"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    seen
}

#[tokio::test]
async fn batch_starts_return_run_ids_and_runs_reach_their_outcome() {
    let app = |name: &str| ferry_tests::cdap_sim::AppSeed {
        namespace: "default".into(),
        name: name.into(),
        config: pipeline_config("2.12.0"),
        ..Default::default()
    };
    let seed = InstanceSeed {
        plugins: plugins(),
        apps: vec![app("good"), app("bad")],
        ..InstanceSeed::default()
    };
    let cdap = Cdap::new(seed).await;
    let outcome = json!({"namespace": "default", "app": "bad", "status": "FAILED", "steps": 2});
    let control = Control::new(format!("{}/control", shared().origin()));
    assert_eq!(
        control
            .post(&format!("/instances/{}/outcome", cdap.name), &outcome)
            .await
            .0,
        200
    );

    let item = |app: &str| {
        json!({"appId": app, "programType": "workflow", "programId": "DataPipelineWorkflow",
        "runtimeargs": {"input.path": "gs://in"}})
    };
    let (status, results) = cdap
        .post(
            "/v3/namespaces/default/start",
            &json!([item("good"), item("bad"), item("ghost")]),
        )
        .await;
    assert_eq!(status, 200);
    let codes: Vec<Value> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["statusCode"].clone())
        .collect();
    assert_eq!(codes, [json!(200), json!(200), json!(404)]);
    assert!(results[2]["error"].is_string());
    let run = |i: usize| results[i]["runId"].as_str().unwrap().to_string();

    let good = statuses(&cdap, "good", &run(0), 4).await;
    assert_eq!(good, ["PENDING", "STARTING", "RUNNING", "COMPLETED"]);
    let bad = statuses(&cdap, "bad", &run(1), 5).await;
    assert_eq!(bad, ["PENDING", "STARTING", "RUNNING", "RUNNING", "FAILED"]);
    let runs = "/v3/namespaces/default/apps/good/workflows/DataPipelineWorkflow/runs";
    let (_, record) = cdap.get(&format!("{runs}/{}", run(0))).await;
    let args: Value =
        serde_json::from_str(record["properties"]["runtimeArgs"].as_str().unwrap()).unwrap();
    assert_eq!(args["input.path"], "gs://in");
    assert!(record["end"].as_u64().unwrap() >= record["start"].as_u64().unwrap());

    let start = "/v3/namespaces/default/apps/good/workflows/DataPipelineWorkflow/start";
    let (status, body) = cdap.post(start, &json!({"input.path": "gs://again"})).await;
    assert_eq!((status, body), (200, json!("")));
    let (_, listed) = cdap.get(&format!("{runs}?limit=1")).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_ne!(listed[0]["runid"].as_str().unwrap(), run(0), "newest first");
    let (_, completed) = cdap.get(&format!("{runs}?status=completed")).await;
    assert_eq!(completed[0]["runid"].as_str().unwrap(), run(0));

    let disabled = json!({"system.profile.name": "SYSTEM:dataproc"});
    assert_eq!(
        cdap.post("/v3/profiles/dataproc/disable", &json!({}))
            .await
            .0,
        200
    );
    assert_eq!(cdap.post(start, &disabled).await.0, 409);
}

#[tokio::test]
async fn calls_need_a_live_token_issued_here() {
    let sim = Simulator::start(0);
    let cdap = Cdap::on(&sim, InstanceSeed::default()).await;
    assert_eq!(cdap.get("/v3/version").await.0, 200);
    let url = format!("{}/v3/version", cdap.base);
    let (status, body) = read(Client::new().get(&url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["status"].clone()),
        (401, json!("UNAUTHENTICATED"))
    );
    let forged = Client::new()
        .get(&url)
        .bearer_auth("ya29.sim-forged")
        .send();
    assert_eq!(forged.await.unwrap().status(), 401);
    let control = Control::new(format!("{}/control", sim.origin()));
    assert_eq!(control.post("/tokens/expire", &json!({})).await.0, 200);
    assert_eq!(cdap.get("/v3/version").await.0, 401, "the token expired");
    let log = control.get("/requests").await.1;
    let kinds: Vec<Value> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["auth"].clone())
        .collect();
    assert_eq!(
        kinds,
        [
            json!("none"),
            json!("service_account"),
            json!("none"),
            json!("invalid"),
            json!("expired")
        ]
    );
    let text = log.to_string();
    assert!(
        !text.contains(&cdap.token) && !text.contains("eyJ"),
        "the log holds a credential"
    );
}

#[tokio::test]
async fn faults_fire_on_their_scope_then_are_spent() {
    let cdap = Cdap::new(InstanceSeed {
        plugins: plugins(),
        ..InstanceSeed::default()
    })
    .await;
    let app = "/v3/namespaces/default/apps/p1";
    shared().inject(&cdap.name, Fault::throttle(1, 7).on(Endpoint::Apps));
    assert_eq!(cdap.get("/v3/version").await.0, 200, "another endpoint");
    let throttled = cdap
        .http
        .get(format!("{}{app}", cdap.base))
        .bearer_auth(&cdap.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            throttled.status().as_u16(),
            throttled.headers()["retry-after"].to_str().unwrap()
        ),
        (429, "7")
    );
    assert_eq!(
        cdap.put(app, &app_request("6.10.1", "2.12.0")).await.0,
        200,
        "spent"
    );

    shared().inject(&cdap.name, Fault::server_error(1).on_app("p1"));
    assert_eq!(
        cdap.get("/v3/namespaces/default/apps/p2").await.0,
        404,
        "another app"
    );
    assert_eq!(cdap.get(app).await.0, 500);
    shared().inject(&cdap.name, Fault::unauthorized(1));
    assert_eq!(cdap.get(app).await.0, 401, "even with a live token");
    assert_eq!(cdap.get(app).await.0, 200);
    shared().inject(&cdap.name, Fault::slow(1, 300).on(Endpoint::Version));
    let (slow, _) = slow_once(300, || cdap.get("/v3/version")).await;
    assert_eq!(slow.0, 200);
    assert_eq!(cdap.state()["faults"], json!([]));

    let sim = Simulator::start(0);
    let own = Cdap::on(&sim, InstanceSeed::default()).await;
    sim.inject(&own.name, Fault::throttle(1, 2).on(Endpoint::Token));
    let key = key_file("service-account.json");
    let (status, _) = grant(&sim, &assertion(&key, &sim.token_url(), 0, 3600, SCOPE)).await;
    assert_eq!(status, 429);
    assert_eq!(
        grant(&sim, &assertion(&key, &sim.token_url(), 0, 3600, SCOPE))
            .await
            .0,
        200
    );
    let (_, counts) = Control::new(format!("{}/control", sim.origin()))
        .get("/counts")
        .await;
    assert_eq!(counts["grants"]["service_account"], 2);
}

#[tokio::test]
async fn the_control_api_seeds_reads_and_resets() {
    let sim = Simulator::start(0);
    let control = Control::new(format!("{}/control", sim.origin()));
    let seed = json!({"name": "df-dev", "project": "p", "location": "l", "version": "6.10.1",
        "plugins": [{"name": "core-plugins", "version": "2.12.0", "scope": "SYSTEM"}],
        "namespaces": [{"name": "team", "description": "t", "config": {}}],
        "profiles": [{"namespace": "team", "name": "small", "provisioner": {"name": "native"}, "status": "DISABLED"}],
        "apps": [{"namespace": "team", "name": "p1", "description": "d", "config": pipeline_config("2.12.0")}],
        "preferences": [{"namespace": "team", "app": "p1", "values": {"k": "v"}}]});
    let (status, state) = control.post("/instances", &seed).await;
    assert_eq!(status, 200, "{state}");
    let team = &state["namespaces"]["team"];
    assert_eq!(
        team["apps"]["p1"]["configuration"],
        pipeline_config("2.12.0")
    );
    assert_eq!(team["apps"]["p1"]["preferences"], json!({"k": "v"}));
    assert_eq!(team["profiles"][0]["status"], "DISABLED");
    let bad = json!({"name": "df-bad", "apps": [{"name": "p", "artifact": {"name": "cdap-data-pipeline", "version": "1.0.0"}, "config": {}}]});
    assert_eq!(control.post("/instances", &bad).await.0, 400);
    let account =
        json!({"client_email": "x@p.iam.gserviceaccount.com", "public_key_pem": "not a key"});
    assert_eq!(control.post("/service-accounts", &account).await.0, 400);
    assert_eq!(
        control.get("/instances/df-dev").await.1["version"],
        "6.10.1"
    );
    assert_eq!(control.post("/reset", &json!({})).await.0, 200);
    assert_eq!(control.get("/instances/df-dev").await.0, 404);
}

#[tokio::test]
async fn the_binary_serves_its_seed_until_stdin_closes() {
    let key = key_file("service-account.json");
    let seed = json!({"service_accounts": [{"client_email": key["client_email"],
            "public_key_file": fixture_path("sa-public.pem")}],
        "instances": [{"name": "df-dev", "project": "p", "location": "l"}]});
    let binary = SeededBinary::start(env!("CARGO_BIN_EXE_cdap-sim"), "cdap-sim", &seed);
    let token_url = format!("{}/token", binary.origin());
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", &assertion(&key, &token_url, 0, 3600, SCOPE)),
    ];
    let (status, body) = read(
        Client::new()
            .post(&token_url)
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = format!(
        "{}/v1/projects/p/locations/l/instances/df-dev",
        binary.origin()
    );
    let token = body["access_token"].as_str().unwrap();
    let (status, resource) = read(
        Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, resource["apiEndpoint"].clone()),
        (
            200,
            json!(format!("{}/instances/df-dev/api", binary.origin()))
        )
    );
    binary.stop();
}
