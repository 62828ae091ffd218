//! datafusion_promote: the Data Fusion connector on the declarative engine against the CDAP
//! simulator — two instances of different CDAP versions, a service-account key exchanged at its
//! token endpoint, pipelines rewritten to the target's version and deployed in dependency order,
//! an identical pipeline never deployed again, extra pipelines kept without prune and deleted
//! with it (profiles disabled first), pipeline runs started once and waited for, bad input and
//! bad secrets refused before anything is sent, workload identity federation through STS.

use serde_json::{Value, json};

use ferry_tests::cdap_sim::imds;
use ferry_tests::cdap_sim::{self, InstanceSeed, Outcome, PoolSeed, ServiceAccountSeed};
use ferry_tests::secrets::MemorySecrets;
use shared::connectors::datafusion::{self, DataFusionConnector, runs};
use shared::contract::{JobHandle, JobState, PromoteRequest};
use shared::declarative::{self, Declarative, Plan, State};

const KEY: &str = include_str!("../fixtures/google/service-account.json");
const OTHER_KEY: &str = include_str!("../fixtures/google/service-account-unregistered.json");
const PUBLIC_KEY: &str = include_str!("../fixtures/google/sa-public.pem");
const DEV_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/config-gcp-dev";
const QA_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/config-gcp-qa";
const EMAIL: &str = "ferry-promoter@ferry-test.iam.gserviceaccount.com";

/// A pipeline config as the studio exports it: stage ids, positions and icons included.
fn pipeline_config(source_path: &str, plugin_version: &str) -> Value {
    json!({
        "description": "Parquet to Avro",
        "stages": [
            {"name": "GCS", "id": "GCS", "_uiPosition": {"top": "100px", "left": "50px"}, "icon": "icon-gcs",
             "plugin": {"name": "GCSFile", "type": "batchsource", "label": "GCS",
                "artifact": {"name": "google-cloud", "version": "0.22.0", "scope": "SYSTEM"},
                "properties": {"path": source_path, "format": "parquet"}}},
            {"name": "Wrangler", "id": "Wrangler", "$$hashKey": "object:12",
             "plugin": {"name": "Wrangler", "type": "transform", "label": "Wrangler",
                "artifact": {"name": "wrangler-transform", "version": plugin_version, "scope": "SYSTEM"},
                "properties": {"directives": "drop :ssn"}}}
        ],
        "connections": [{"from": "GCS", "to": "Wrangler"}],
        "engine": "spark",
        "resources": {"memoryMB": 2048, "virtualCores": 1}
    })
}

fn instance(name: &str, project: &str, version: &str, extra: Value) -> InstanceSeed {
    let mut seed = json!({
        "name": name, "project": project, "location": "us-central1", "version": version,
        "plugins": [{"name": "google-cloud", "version": "0.22.0", "scope": "SYSTEM"},
                    {"name": "wrangler-transform", "version": version, "scope": "SYSTEM"}],
    });
    for (k, v) in extra.as_object().unwrap() {
        seed[k] = v.clone();
    }
    serde_json::from_value(seed).unwrap()
}

/// dev (6.9.2): two pipelines in `default`, one in `sales`, a system and a namespace profile,
/// preferences; qa (6.10.1): only `default`, with a pipeline dev does not have.
struct Bed {
    sim: cdap_sim::Simulator,
    secrets: MemorySecrets,
}

impl Bed {
    fn start() -> Bed {
        let sim = cdap_sim::Simulator::start(0);
        sim.add_service_account(
            serde_json::from_value::<ServiceAccountSeed>(
                json!({"client_email": EMAIL, "public_key_pem": PUBLIC_KEY}),
            )
            .unwrap(),
        );
        let app = |ns: &str, name: &str, path: &str, version: &str| {
            json!({"namespace": ns, "name": name, "description": format!("{name} pipeline"),
                "artifact": {"name": "cdap-data-pipeline", "version": version, "scope": "SYSTEM"},
                "config": pipeline_config(path, version)})
        };
        let provisioner = json!({"name": "gcp-dataproc", "properties": [
            {"name": "region", "value": "us-central1", "isEditable": true},
            {"name": "masterMachineType", "value": "e2-standard-4", "isEditable": false}]});
        sim.add_instance(instance("df-dev", "acme-dev", "6.9.2", json!({
            "namespaces": [{"name": "sales", "description": "Sales data", "config": {"scheduler.queue.name": "sales"}}],
            "apps": [app("default", "GCS-Parquet-To-AVRO", "gs://dev/in", "6.9.2"),
                     app("default", "daily-orders", "gs://dev/orders", "6.9.2"),
                     app("sales", "sales-rollup", "gs://dev/sales", "6.9.2")],
            "profiles": [{"name": "dataproc-large", "label": "Large", "description": "16 workers", "provisioner": provisioner},
                         {"namespace": "sales", "name": "sales-small", "label": "Small", "description": "2 workers", "provisioner": provisioner}],
            "preferences": [{"namespace": "default", "values": {"input.bucket": "gs://dev"}},
                            {"namespace": "default", "app": "daily-orders", "values": {"system.profile.name": "SYSTEM:dataproc-large"}}],
        })));
        sim.add_instance(instance("df-qa", "acme-qa", "6.10.1", json!({
            "apps": [app("default", "legacy-export", "gs://qa/legacy", "6.10.1")],
            "profiles": [{"name": "old-profile", "label": "Old", "description": "unused", "provisioner": provisioner}],
            "preferences": [{"namespace": "default", "app": "legacy-export", "values": {"keep": "me"}}],
        })));
        let key = |text: &str| {
            let mut key: Value = serde_json::from_str(text).unwrap();
            key["token_uri"] = json!(sim.token_url());
            key
        };
        let secrets = MemorySecrets::json([(DEV_ARN, key(KEY)), (QA_ARN, key(KEY))]);
        Bed { sim, secrets }
    }

    fn request(&self, selection: Value) -> PromoteRequest {
        let mut datafusion = json!({"namespaces": ["default", "sales"], "pipelines": ["*"],
            "max_delete": 5, "concurrency": 2, "timeout_seconds": 10});
        for (k, v) in selection.as_object().unwrap() {
            datafusion[k] = v.clone();
        }
        let side = |project: &str, name: &str, arn: &str| {
            json!({"instance": format!("projects/{project}/locations/us-central1/instances/{name}"),
                "control_plane_url": self.sim.origin(), "auth_secret_arn": arn})
        };
        PromoteRequest::parse(&json!({
            "platform": "datafusion",
            "source": {"name": "dev", "datafusion": side("acme-dev", "df-dev", DEV_ARN)},
            "target": {"name": "qa", "datafusion": side("acme-qa", "df-qa", QA_ARN)},
            "datafusion": datafusion,
        }))
        .unwrap()
    }

    async fn connect(&self, selection: Value) -> (DataFusionConnector, PromoteRequest) {
        let request = self.request(selection);
        let connector = DataFusionConnector::connect(&request, &self.secrets)
            .await
            .unwrap();
        (connector, request)
    }

    fn qa(&self) -> Value {
        self.sim.store().instance("df-qa").unwrap()
    }

    fn deploys(&self, ns: &str, app: &str) -> u64 {
        let counts = self.sim.store().counts();
        counts.deploys["df-qa"]
            .get(ns)
            .and_then(|apps| apps.get(app))
            .copied()
            .unwrap_or(0)
    }
}

async fn plan_of(connector: &DataFusionConnector, request: &PromoteRequest) -> (Plan, State) {
    let kinds = connector.kinds();
    let source = connector.read_source().await.unwrap();
    let desired = State::from_entities(&kinds, source.entities).0;
    let current = State::from_entities(&kinds, connector.read_target().await.unwrap()).0;
    (
        declarative::draft(&kinds, &desired, &current, &request.guards()),
        desired,
    )
}

async fn apply(connector: &DataFusionConnector, request: &PromoteRequest) -> Plan {
    let (plan, desired) = plan_of(connector, request).await;
    plan.allowed().unwrap();
    let applied =
        declarative::apply::apply(connector, &connector.kinds(), &plan, &desired, || false)
            .await
            .unwrap();
    assert_eq!(applied.len(), plan.changes.len());
    plan
}

fn keys(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|c| format!("{} {}", c.action.as_str(), c.key()))
        .collect()
}

#[tokio::test]
async fn plans_in_dependency_order_without_deploying_anything() {
    let bed = Bed::start();
    let (connector, request) = bed.connect(json!({})).await;
    let (plan, desired) = plan_of(&connector, &request).await;
    assert_eq!(
        keys(&plan),
        [
            "create namespace/sales",
            "create profile/sales/sales-small",
            "create profile/system/dataproc-large",
            "create pipeline/default/GCS-Parquet-To-AVRO",
            "create pipeline/default/daily-orders",
            "create pipeline/sales/sales-rollup",
            "create preferences/default",
            "create preferences/default/daily-orders",
        ]
    );
    assert_eq!(
        plan.kept,
        [
            "profile/system/old-profile",
            "pipeline/default/legacy-export",
            "preferences/default/legacy-export"
        ]
    );
    let pipeline = desired
        .get(&connector.kinds(), "pipeline", "default/daily-orders")
        .unwrap();
    assert_eq!(pipeline.body["artifact"]["version"], "6.10.1");
    let stages = &pipeline.body["config"]["stages"];
    assert_eq!(stages[1]["plugin"]["artifact"]["version"], "6.10.1");
    assert_eq!(stages[0]["plugin"]["artifact"]["version"], "0.22.0");
    let text = pipeline.body.to_string();
    assert!(
        !text.contains("_uiPosition") && !text.contains("$$hashKey") && !text.contains("icon-gcs")
    );
    assert_eq!(bed.deploys("default", "daily-orders"), 0);
    assert!(bed.qa()["namespaces"].get("sales").is_none());
}

#[tokio::test]
async fn applies_with_versions_rewritten_and_never_redeploys_an_identical_pipeline() {
    let bed = Bed::start();
    let (connector, request) = bed.connect(json!({})).await;
    apply(&connector, &request).await;
    let qa = bed.qa();
    let app = &qa["namespaces"]["default"]["apps"]["daily-orders"];
    assert_eq!(app["artifact"]["version"], "6.10.1");
    assert_eq!(
        app["configuration"]["stages"][0]["plugin"]["properties"]["path"],
        "gs://dev/orders"
    );
    assert_eq!(qa["namespaces"]["sales"]["description"], "Sales data");
    assert_eq!(
        qa["namespaces"]["default"]["apps"]["daily-orders"]["preferences"]["system.profile.name"],
        "SYSTEM:dataproc-large"
    );
    assert!(
        qa["system_profiles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "dataproc-large")
    );
    assert_eq!(bed.deploys("default", "daily-orders"), 1);

    // A second run finds nothing to do and deploys nothing: CDAP would mint a version per PUT.
    let (again, request) = bed.connect(json!({})).await;
    let (plan, _) = plan_of(&again, &request).await;
    assert!(plan.changes.is_empty(), "{:?}", keys(&plan));
    assert_eq!(bed.deploys("default", "daily-orders"), 1);
    assert_eq!(
        qa["namespaces"]["default"]["apps"]["legacy-export"]["versions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the extra pipeline is kept without prune"
    );

    // One changed pipeline is the only deploy of the next run.
    let mut dev = bed.sim.store().instance("df-dev").unwrap();
    let mut changed = pipeline_config("gs://dev/orders-v2", "6.9.2");
    changed["engine"] = json!("mapreduce");
    dev["namespaces"]["default"]["apps"]["daily-orders"]["configuration"] = changed;
    bed.sim.add_instance(reseed("df-dev", "acme-dev", &dev));
    let (third, request) = bed.connect(json!({})).await;
    let plan = apply(&third, &request).await;
    assert_eq!(keys(&plan), ["update pipeline/default/daily-orders"]);
    let fields: Vec<String> = plan.changes[0]
        .fields
        .iter()
        .map(|f| f.path.clone())
        .collect();
    assert!(fields.iter().any(|p| p.contains("engine")), "{fields:?}");
    assert_eq!(bed.deploys("default", "daily-orders"), 2);
    assert_eq!(bed.deploys("default", "GCS-Parquet-To-AVRO"), 1);
}

/// A seed that rebuilds an instance from its state (namespaces, apps, profiles, preferences).
fn reseed(name: &str, project: &str, state: &Value) -> InstanceSeed {
    let mut namespaces = Vec::new();
    let mut apps = Vec::new();
    let mut profiles = Vec::new();
    let mut preferences = Vec::new();
    for (ns, view) in state["namespaces"].as_object().unwrap() {
        if ns != "default" {
            namespaces.push(
                json!({"name": ns, "description": view["description"], "config": view["config"]}),
            );
        }
        for (app, a) in view["apps"].as_object().unwrap() {
            apps.push(
                json!({"namespace": ns, "name": app, "description": a["description"],
                "artifact": a["artifact"], "config": a["configuration"]}),
            );
            if a["preferences"].as_object().is_some_and(|p| !p.is_empty()) {
                preferences.push(json!({"namespace": ns, "app": app, "values": a["preferences"]}));
            }
        }
        for p in view["profiles"].as_array().unwrap() {
            profiles.push(
                json!({"namespace": ns, "name": p["name"], "label": p["label"],
                "description": p["description"], "provisioner": p["provisioner"]}),
            );
        }
        if view["preferences"]
            .as_object()
            .is_some_and(|p| !p.is_empty())
        {
            preferences.push(json!({"namespace": ns, "values": view["preferences"]}));
        }
    }
    for p in state["system_profiles"].as_array().unwrap() {
        if !["native", "dataproc", "autoscaling-dataproc"].contains(&p["name"].as_str().unwrap()) {
            profiles.push(json!({"name": p["name"], "label": p["label"],
                "description": p["description"], "provisioner": p["provisioner"]}));
        }
    }
    let version = state["version"].as_str().unwrap();
    instance(
        name,
        project,
        version,
        json!({"namespaces": namespaces, "apps": apps,
        "profiles": profiles, "preferences": preferences}),
    )
}

#[tokio::test]
async fn prune_deletes_extras_within_max_delete_and_disables_profiles_first() {
    let bed = Bed::start();
    let (connector, request) = bed.connect(json!({"prune": true, "max_delete": 2})).await;
    let (plan, _) = plan_of(&connector, &request).await;
    let refused = plan.allowed().unwrap_err().to_string();
    assert!(refused.contains("max_delete"), "{refused}");

    let (connector, request) = bed.connect(json!({"prune": true, "max_delete": 3})).await;
    let plan = apply(&connector, &request).await;
    let deletes: Vec<String> = keys(&plan)
        .into_iter()
        .filter(|k| k.starts_with("delete"))
        .collect();
    assert_eq!(
        deletes,
        [
            "delete preferences/default/legacy-export",
            "delete pipeline/default/legacy-export",
            "delete profile/system/old-profile"
        ]
    );
    let qa = bed.qa();
    assert!(
        qa["namespaces"]["default"]["apps"]
            .get("legacy-export")
            .is_none()
    );
    assert!(
        !qa["system_profiles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "old-profile")
    );
    assert!(
        qa["system_profiles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "native"),
        "built-in profiles are never touched"
    );
}

#[tokio::test]
async fn runs_are_started_once_and_their_end_is_reported() {
    let bed = Bed::start();
    let (connector, request) = bed.connect(json!({
        "start": [{"namespace": "default", "pipeline": "GCS-Parquet-To-AVRO", "runtime_args": {"run.date": "2026-12-01"}},
                  {"namespace": "default", "pipeline": "daily-orders"}]})).await;
    apply(&connector, &request).await;
    bed.sim
        .store()
        .set_outcome(
            "df-qa",
            serde_json::from_value::<Outcome>(json!({"app": "daily-orders", "status": "FAILED"}))
                .unwrap(),
        )
        .unwrap();
    let job = datafusion::start_runs(&request, &bed.secrets, "exec-1")
        .await
        .unwrap();
    let again = datafusion::start_runs(&request, &bed.secrets, "exec-1")
        .await
        .unwrap();
    assert_eq!(job, again, "a retried start finds the runs it started");
    let JobHandle::DataFusionRuns { runs: started, .. } = &job else {
        panic!("{job:?}");
    };
    let app = &bed.qa()["namespaces"]["default"]["apps"]["GCS-Parquet-To-AVRO"];
    assert_eq!(app["runs"].as_array().unwrap().len(), 1);
    assert!(app["runs"][0].to_string().contains("2026-12-01"));

    let client = connector.target();
    let mut last = None;
    for _ in 0..12 {
        let status = runs::status(client, started).await.unwrap();
        if status.state != JobState::Running {
            last = Some(status);
            break;
        }
    }
    let status = last.expect("the runs ended");
    assert_eq!(status.state, JobState::Failed);
    let failed = &started[1];
    assert_eq!(
        status.detail,
        format!(
            "pipeline default/daily-orders run {}: FAILED",
            failed.run_id
        )
    );
}

#[tokio::test]
async fn bad_input_and_bad_secrets_fail_before_anything_is_sent() {
    let bed = Bed::start();
    let request = bed.request(json!({"pipelines": ["daily-*", "nothing-*"]}));
    let connector = DataFusionConnector::connect(&request, &bed.secrets)
        .await
        .unwrap();
    let err = connector.read_source().await.unwrap_err().to_string();
    assert!(
        err.contains("datafusion.pipelines[1]: 'nothing-*' matches no pipeline"),
        "{err}"
    );
    assert!(!err.contains("daily-*"), "{err}");

    let secrets = MemorySecrets::json([
        (
            DEV_ARN,
            json!({"type": "authorized_user", "refresh_token": "1//refresh-never-shown"}),
        ),
        (QA_ARN, json!({"client_email": EMAIL})),
    ]);
    let before = bed.sim.store().counts().grants.values().sum::<u64>();
    let err = match DataFusionConnector::connect(&bed.request(json!({})), &secrets).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("bad secrets accepted"),
    };
    assert!(
        err.contains("source.datafusion.auth_secret_arn") && err.contains("type 'authorized_user'"),
        "{err}"
    );
    assert!(
        err.contains("target.datafusion.auth_secret_arn") && err.contains("holds no \"type\""),
        "{err}"
    );
    assert!(!err.contains("refresh-never-shown"), "{err}");
    assert_eq!(
        bed.sim.store().counts().grants.values().sum::<u64>(),
        before
    );

    // A key the token endpoint does not know is refused there, as Unauthorized, without its key.
    let mut other: Value = serde_json::from_str(OTHER_KEY).unwrap();
    other["token_uri"] = json!(bed.sim.token_url());
    let secrets = MemorySecrets::json([(DEV_ARN, other.clone()), (QA_ARN, other)]);
    let err = match DataFusionConnector::connect(&bed.request(json!({})), &secrets).await {
        Err(e) => e,
        Ok(_) => panic!("an unregistered key was accepted"),
    };
    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    assert!(!err.to_string().contains("PRIVATE KEY"));
}

#[tokio::test]
async fn workload_identity_federation_gets_tokens_through_sts_and_impersonation() {
    let bed = Bed::start();
    let audience = "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/aws/providers/ferry";
    bed.sim.add_pool(
        serde_json::from_value::<PoolSeed>(json!({"audience": audience, "impersonate": [EMAIL]}))
            .unwrap(),
    );
    let config = json!({
        "type": "external_account",
        "audience": audience,
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
        "token_url": format!("{}/v1/token", bed.sim.origin()),
        "service_account_impersonation_url": format!("{}/v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken", bed.sim.origin()),
        "credential_source": imds::credential_source(&bed.sim.origin()),
    });
    let secrets = MemorySecrets::json([(DEV_ARN, config.clone()), (QA_ARN, config)]);
    let request = bed.request(json!({}));
    let connector = DataFusionConnector::connect(&request, &secrets)
        .await
        .unwrap();
    let (plan, _) = plan_of(&connector, &request).await;
    assert_eq!(plan.changes.len(), 8);
    let grants = bed.sim.store().counts().grants;
    assert!(grants.get("sts").copied().unwrap_or(0) >= 1, "{grants:?}");
    assert!(
        grants.get("impersonated").copied().unwrap_or(0) >= 1,
        "{grants:?}"
    );
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_and_an_expired_token_is_renewed() {
    use ferry_tests::cdap_sim::{Endpoint, Fault};
    let bed = Bed::start();
    let (connector, request) = bed.connect(json!({})).await;
    bed.sim.inject(
        "df-qa",
        Fault::throttle(1, 1)
            .on(Endpoint::Apps)
            .on_app("daily-orders"),
    );
    bed.sim
        .inject("df-dev", Fault::server_error(2).on(Endpoint::Apps));
    bed.sim.store().expire_tokens();
    let before = bed.sim.store().counts().grants["service_account"];
    apply(&connector, &request).await;
    assert_eq!(
        bed.deploys("default", "daily-orders"),
        1,
        "a throttled deploy lands once"
    );
    let grants = bed.sim.store().counts().grants["service_account"];
    assert!(
        grants > before,
        "the expired token was renewed ({before} → {grants})"
    );
    let pending = bed.qa()["faults"].as_array().unwrap().len();
    assert_eq!(pending, 0, "every fault fired");

    // A refusal that is not transient fails the change, naming it, after one renewal.
    let (again, request) = bed.connect(json!({"prune": true, "max_delete": 5})).await;
    let (plan, desired) = plan_of(&again, &request).await;
    assert_eq!(keys(&plan).len(), 3, "{:?}", keys(&plan));
    bed.sim
        .inject("df-qa", Fault::unauthorized(5).on(Endpoint::Preferences));
    let err = declarative::apply::apply(&again, &again.kinds(), &plan, &desired, || false)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Unauthorized", "{err}");
    let text = err.to_string();
    assert!(text.contains("preferences/default/legacy-export"), "{text}");
    assert!(
        bed.qa()["namespaces"]["default"]["apps"]
            .get("legacy-export")
            .is_some(),
        "nothing after the failure"
    );
}

#[tokio::test]
async fn a_plan_the_target_cannot_take_is_refused_before_any_change() {
    let bed = Bed::start();
    // qa lacks the Wrangler plugin at its own version: no pipeline using it could deploy.
    let mut qa = bed.qa();
    qa["namespaces"]["default"]["apps"]
        .as_object_mut()
        .unwrap()
        .remove("legacy-export");
    let mut seed = reseed("df-qa", "acme-qa", &qa);
    seed.plugins.retain(|p| p.name != "wrangler-transform");
    bed.sim.add_instance(seed);
    let (connector, request) = bed
        .connect(json!({
        "start": [{"namespace": "default", "pipeline": "GCS-Parquet-To-AVRO"}]}))
        .await;
    let (plan, desired) = plan_of(&connector, &request).await;
    let mut plan = plan;
    plan.refused.extend(connector.refusals(&plan, &desired));
    let refused = plan.refused.join("\n");
    assert!(
        refused.contains("pipeline/default/daily-orders: the target instance (CDAP 6.10.1) lacks wrangler-transform 6.10.1 (SYSTEM)"),
        "{refused}"
    );
    assert!(refused.contains("pipeline/sales/sales-rollup"), "{refused}");
    assert_eq!(plan.allowed().unwrap_err().error_type(), "Refused");
    assert_eq!(bed.deploys("default", "daily-orders"), 0);
}

#[tokio::test]
async fn credentials_kept_as_literal_values_are_refused_and_never_stored() {
    let bed = Bed::start();
    let mut dev = bed.sim.store().instance("df-dev").unwrap();
    let key =
        "{\"type\": \"service_account\", \"private_key\": \"-----BEGIN PRIVATE KEY-----literal\"}";
    dev["namespaces"]["default"]["apps"]["daily-orders"]["configuration"]["stages"][0]["plugin"]
        ["properties"]["serviceAccountJSON"] = json!(key);
    bed.sim.add_instance(reseed("df-dev", "acme-dev", &dev));
    let (connector, _) = bed.connect(json!({})).await;
    let err = connector.read_source().await.unwrap_err();
    assert_eq!(err.error_type(), "Refused");
    let text = err.to_string();
    assert!(
        text.contains(
            "pipeline/default/daily-orders at /config/stages/0/plugin/properties/serviceAccountJSON"
        ),
        "{text}"
    );
    assert!(!text.contains("BEGIN PRIVATE KEY"), "{text}");
}

#[tokio::test]
async fn a_stored_bundle_may_not_reach_beyond_the_selection() {
    let bed = Bed::start();
    let (connector, _) = bed.connect(json!({})).await;
    let every = connector.read_source().await.unwrap().entities;
    // The same entities, judged by a request that selects only `sales-*` in `sales`.
    let (narrow, request) = bed
        .connect(json!({"namespaces": ["sales"], "pipelines": ["sales-*"], "profiles": false}))
        .await;
    let kinds = narrow.kinds();
    let desired = State::from_entities(&kinds, every).0;
    let current = State::from_entities(&kinds, narrow.read_target().await.unwrap()).0;
    let plan = declarative::draft(&kinds, &desired, &current, &request.guards());
    let refused = narrow.refusals(&plan, &desired).join("\n");
    assert!(
        refused.contains("pipeline/default/daily-orders: outside the request's selection"),
        "{refused}"
    );
    assert!(refused.contains("profile/system/dataproc-large: outside the request's selection (datafusion.profiles is false)"), "{refused}");
    assert!(
        !refused.contains("pipeline/sales/sales-rollup"),
        "{refused}"
    );

    // A pipeline to run that the promotion will not hold is refused with the plan.
    let (ghost, request) = bed
        .connect(json!({"start": [{"namespace": "default", "pipeline": "ghost"}]}))
        .await;
    let (plan, desired) = plan_of(&ghost, &request).await;
    let refused = ghost.refusals(&plan, &desired).join("\n");
    assert!(
        refused.contains("datafusion.start[0]: pipeline default/ghost is not a batch pipeline"),
        "{refused}"
    );
}
