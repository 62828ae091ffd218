//! compass_promote: the Compass connector on the declarative engine against the Open Connectors and
//! Director simulators — both sides paged, create, update with the id kept, delete with prune,
//! other contexts untouched, a half-created application repaired, every spec failure reported, a
//! token refused mid-run renewed, credentials copied only when asked and never stored, bad secrets
//! refused before any call.

use serde_json::{Value, json};

use ferry_tests::director_sim::{self, ClientSeed};
use ferry_tests::oc_sim::{self, InstanceChange, InstanceSeed, OrgSeed};
use ferry_tests::secrets::MemorySecrets;
use ferry_tests::sim_kit::control::ControlStore;
use shared::connectors::compass::CompassConnector;
use shared::contract::PromoteRequest;
use shared::declarative::{self, Declarative, Kinds, Plan, State};

const TENANT: &str = "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae";
const CLIENT_SECRET: &str = "client-secret-never-shown-91c2";
const USER_SECRET: &str = "user-secret-never-shown-4d1a";
const ORG_SECRET: &str = "org-secret-never-shown-77be";
const OC_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/oc";
const COMPASS_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/compass";

/// Both simulators, one organization and one tenant.
struct Bed {
    oc: oc_sim::Simulator,
    director: director_sim::Simulator,
    org: String,
    secrets: MemorySecrets,
}

impl Bed {
    fn start(instances: impl IntoIterator<Item = InstanceSeed>) -> Bed {
        let oc = oc_sim::Simulator::start(0);
        let org = "acme".to_string();
        let mut seed = OrgSeed::new(&org, USER_SECRET, ORG_SECRET);
        for instance in instances {
            seed = seed.instance(instance);
        }
        oc.store().add_org(seed).unwrap();
        let director = director_sim::Simulator::start(0);
        director.store().add_tenant(TENANT);
        director.store().add_client(ClientSeed::new(
            "ferry",
            CLIENT_SECRET,
            &["application:read", "application:write"],
        ));
        let secrets = MemorySecrets::json([
            (
                OC_ARN,
                json!({"user_secret": USER_SECRET, "organization_secret": ORG_SECRET}),
            ),
            (
                COMPASS_ARN,
                json!({"client_id": "ferry", "client_secret": CLIENT_SECRET}),
            ),
        ]);
        Bed {
            oc,
            director,
            org,
            secrets,
        }
    }

    fn context(&self) -> String {
        self.oc.origin().trim_start_matches("http://").to_string()
    }

    fn request(&self, compass: Value) -> PromoteRequest {
        let mut selection = json!({"application_prefix": "oc", "prune": true, "max_delete": 5});
        for (k, v) in compass.as_object().unwrap() {
            selection[k] = v.clone();
        }
        PromoteRequest::parse(&json!({
            "platform": "compass",
            "source": {"name": "oc-eu", "open_connectors": {
                "url": format!("{}/elements/api-v2", self.oc.origin()), "auth_secret_arn": OC_ARN}},
            "target": {"name": "compass-prod", "compass": {
                "director_url": self.director.graphql_url(), "token_url": self.director.token_url(),
                "tenant": TENANT, "auth_secret_arn": COMPASS_ARN}},
            "compass": selection,
        }))
        .unwrap()
    }

    async fn connect(&self, compass: Value) -> (CompassConnector, PromoteRequest) {
        let request = self.request(compass);
        let connector = CompassConnector::connect(&request, &self.secrets)
            .await
            .unwrap();
        (connector, request)
    }

    fn apps(&self) -> Vec<Value> {
        self.director.store().applications(TENANT).unwrap()
    }

    fn apps_of(&self, context: &str) -> Vec<Value> {
        let mut apps: Vec<Value> = self
            .apps()
            .into_iter()
            .filter(|a| a["labels"]["open_connectors"]["connectorInstanceContext"] == context)
            .collect();
        apps.sort_by_key(|a| a["name"].as_str().unwrap_or_default().to_string());
        apps
    }
}

/// Reads both sides and plans.
async fn plan_of(connector: &CompassConnector, request: &PromoteRequest) -> (Plan, State) {
    let kinds: Kinds = connector.kinds();
    let source = connector.read_source().await.unwrap();
    let desired = State::from_entities(&kinds, source.entities).0;
    let current = State::from_entities(&kinds, connector.read_target().await.unwrap()).0;
    (
        declarative::draft(&kinds, &desired, &current, &request.guards()),
        desired,
    )
}

/// Plans and applies everything; returns the plan applied.
async fn reconcile(connector: &CompassConnector, request: &PromoteRequest) -> Plan {
    let (plan, desired) = plan_of(connector, request).await;
    plan.allowed().unwrap();
    let kinds = connector.kinds();
    let applied = declarative::apply::apply(connector, &kinds, &plan, &desired, || false)
        .await
        .unwrap();
    assert_eq!(applied.len(), plan.changes.len());
    plan
}

fn instance(id: i64, key: &str) -> InstanceSeed {
    InstanceSeed::new(&format!("instance {id}"), key).id(id)
}

#[tokio::test]
async fn reconciles_every_page_of_both_sides_and_leaves_other_contexts_alone() {
    let bed = Bed::start((1..=205).map(|id| instance(id, "sfdc")));
    for i in 0..201 {
        let labels = json!({"open_connectors": {"connectorInstanceContext": "other.example.org", "connectorInstanceID": i.to_string()}});
        bed.director
            .store()
            .seed_application(
                TENANT,
                json!({"name": format!("zz-other-{i}"), "labels": labels}),
            )
            .unwrap();
    }
    let gone = json!({"open_connectors": {"connectorInstanceContext": bed.context(), "connectorInstanceID": "999"}});
    bed.director
        .store()
        .seed_application(TENANT, json!({"name": "oc-999", "labels": gone}))
        .unwrap();
    let (connector, request) = bed.connect(json!({})).await;
    let plan = reconcile(&connector, &request).await;
    assert_eq!(
        (plan.counts.create, plan.counts.delete, plan.counts.update),
        (205, 1, 0)
    );
    let ours = bed.apps_of(&bed.context());
    assert_eq!(ours.len(), 205);
    assert_eq!(bed.apps_of("other.example.org").len(), 201);
    let first = ours.iter().find(|a| a["name"] == "oc-1").unwrap();
    let bundle = &first["bundles"][0];
    assert_eq!(bundle["name"], "sfdc");
    let api = &bundle["apiDefinitions"][0];
    assert_eq!(api["spec"]["type"], "OPEN_API");
    assert!(api["spec"]["data"].as_str().unwrap().contains("swagger"));
    assert!(
        bundle.get("defaultInstanceAuth").is_none(),
        "no OC secret copied by default"
    );
    let (again, _) = plan_of(&connector, &request).await;
    assert!(
        again.is_empty(),
        "a second plan is empty: {:?}",
        again.describe()
    );
}

#[tokio::test]
async fn updates_keep_the_application_id_and_change_only_what_differs() {
    let bed = Bed::start([
        instance(1, "sfdc"),
        instance(2, "zendesk"),
        instance(3, "shopify"),
    ]);
    let (connector, request) = bed.connect(json!({})).await;
    reconcile(&connector, &request).await;
    let before = bed.apps_of(&bed.context());
    bed.oc.store().change(
        1,
        InstanceChange {
            name: Some("renamed".into()),
            ..InstanceChange::default()
        },
    );
    assert!(
        bed.oc
            .store()
            .add_path(2, "/extra", json!({"get": {"summary": "more"}}))
    );
    assert!(bed.oc.store().delete(3));
    let (plan, _) = plan_of(&connector, &request).await;
    let lines = plan.describe().join("\n");
    assert!(lines.contains("~ application/1"), "{lines}");
    assert!(
        lines.contains("\"SAP Open Connectors Salesforce"),
        "{lines}"
    );
    assert!(lines.contains("/bundles/0/apis/0/digest"), "{lines}");
    assert!(lines.contains("- application/3"), "{lines}");
    reconcile(&connector, &request).await;
    let after = bed.apps_of(&bed.context());
    assert_eq!(after.len(), 2);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old["id"], new["id"], "an update keeps the application's id");
        assert_eq!(old["bundles"][0]["id"], new["bundles"][0]["id"]);
    }
    assert!(
        after[0]["description"]
            .as_str()
            .unwrap()
            .ends_with(": renamed")
    );
    let spec = after[1]["bundles"][0]["apiDefinitions"][0]["spec"]["data"]
        .as_str()
        .unwrap();
    assert!(spec.contains("/extra"));
}

#[tokio::test]
async fn a_half_created_application_is_repaired_in_place() {
    let bed = Bed::start([instance(7, "dropbox")]);
    let labels = json!({"open_connectors": {"connectorInstanceContext": bed.context(), "connectorInstanceID": "7"}});
    let seeded = bed
        .director
        .store()
        .seed_application(TENANT, json!({"name": "oc-7", "labels": labels}))
        .unwrap();
    let (connector, request) = bed.connect(json!({})).await;
    let plan = reconcile(&connector, &request).await;
    assert_eq!((plan.counts.update, plan.counts.create), (1, 0));
    let app = &bed.apps_of(&bed.context())[0];
    assert_eq!(app["id"], seeded["id"]);
    assert_eq!(
        app["bundles"][0]["apiDefinitions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn every_failed_spec_fetch_is_reported() {
    let bed = Bed::start((1..=6).map(|id| instance(id, "hubspotcrm")));
    for id in [2, 5] {
        let fault = oc_sim::Fault::server_error(50).on_instance(id);
        assert!(bed.oc.store().inject(&bed.org, fault));
    }
    let (connector, _) = bed.connect(json!({"concurrency": 3})).await;
    let error = connector.read_source().await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("instance 2") && text.contains("instance 5"),
        "{text}"
    );
    assert!(text.contains("1 more failed too"), "{text}");
}

#[tokio::test]
async fn a_token_refused_mid_run_is_renewed_and_throttling_waited_out() {
    let bed = Bed::start([instance(1, "sfdc"), instance(2, "sfdc")]);
    let (connector, request) = bed.connect(json!({})).await;
    connector.read_target().await.unwrap();
    bed.director
        .store()
        .inject(director_sim::Fault::unauthorized(1).mutations_only());
    bed.director
        .store()
        .inject(director_sim::Fault::throttle(1, 1).mutations_only());
    let plan = reconcile(&connector, &request).await;
    assert_eq!(plan.counts.create, 2);
    assert!(bed.director.store().counts().tokens_issued >= 2);
    assert_eq!(bed.apps_of(&bed.context()).len(), 2);
}

#[tokio::test]
async fn element_header_copies_credentials_only_when_asked_and_never_into_the_bundle() {
    let bed = Bed::start([instance(1, "sfdc").token("instance-token-never-shown-1")]);
    let (connector, request) = bed.connect(json!({"credentials": "element_header"})).await;
    let (plan, desired) = plan_of(&connector, &request).await;
    let stored = serde_json::to_string(&desired.into_entities()).unwrap();
    for secret in ["instance-token-never-shown-1", USER_SECRET, ORG_SECRET] {
        assert!(
            !stored.contains(secret),
            "{secret} in the bundle's entities"
        );
    }
    assert_eq!(plan.counts.create, 1);
    reconcile(&connector, &request).await;
    let app = &bed.apps_of(&bed.context())[0];
    let header = app["bundles"][0]["defaultInstanceAuth"]["additionalHeaders"]["Authorization"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        header,
        format!(
            "User {USER_SECRET}, Organization {ORG_SECRET}, Element instance-token-never-shown-1"
        )
    );
    let rotated = bed.oc.store().rotate_token(1).unwrap();
    let (connector, request) = bed.connect(json!({"credentials": "element_header"})).await;
    let (plan, _) = plan_of(&connector, &request).await;
    assert_eq!(plan.counts.update, 1, "a rotated token is an update");
    assert!(!plan.describe().join("\n").contains(&rotated));
    reconcile(&connector, &request).await;
    let app = &bed.apps_of(&bed.context())[0];
    let header = &app["bundles"][0]["defaultInstanceAuth"]["additionalHeaders"]["Authorization"][0];
    assert!(header.as_str().unwrap().ends_with(&rotated));
}

#[tokio::test]
async fn bad_secrets_are_refused_before_any_call() {
    let mut bed = Bed::start([instance(1, "sfdc")]);
    bed.secrets
        .0
        .insert(OC_ARN.into(), json!({"user": "x"}).to_string());
    bed.secrets.0.insert(
        COMPASS_ARN.into(),
        json!({"client_id": "ferry", "client_secret": "s", "hosts": ["compass.example.org"]})
            .to_string(),
    );
    let request = bed.request(json!({}));
    let error = CompassConnector::connect(&request, &bed.secrets)
        .await
        .err()
        .unwrap();
    let text = error.to_string();
    assert!(
        text.contains("source.open_connectors.auth_secret_arn"),
        "{text}"
    );
    assert!(text.contains("target.compass.auth_secret_arn"), "{text}");
    assert_eq!(bed.director.store().counts().token_requests, 0);
    assert_eq!(bed.oc.store().counts(&bed.org).total, 0);
}

#[tokio::test]
async fn max_delete_refuses_before_anything_changes() {
    let bed = Bed::start([instance(1, "sfdc")]);
    for id in 10..13 {
        let labels = json!({"open_connectors": {"connectorInstanceContext": bed.context(), "connectorInstanceID": id.to_string()}});
        bed.director
            .store()
            .seed_application(
                TENANT,
                json!({"name": format!("oc-{id}"), "labels": labels}),
            )
            .unwrap();
    }
    let (connector, request) = bed.connect(json!({"max_delete": 2})).await;
    let (plan, _) = plan_of(&connector, &request).await;
    let refused = plan.allowed().unwrap_err().to_string();
    assert!(refused.contains("max_delete"), "{refused}");
    assert_eq!(plan.counts.delete, 3);
    assert_eq!(bed.director.store().counts().mutations, 0);
    assert_eq!(bed.apps_of(&bed.context()).len(), 3);
}

#[tokio::test]
async fn a_rejected_create_names_its_graphql_path_and_the_rest_of_the_wave_lands() {
    let bed = Bed::start([
        instance(1, "sfdc"),
        instance(2, "sfdc"),
        instance(3, "sfdc"),
    ]);
    bed.director
        .store()
        .seed_application(TENANT, json!({"name": "oc-2", "description": "not ours"}))
        .unwrap();
    let (connector, request) = bed.connect(json!({})).await;
    let (plan, desired) = plan_of(&connector, &request).await;
    let kinds = connector.kinds();
    let error = declarative::apply::apply(&connector, &kinds, &plan, &desired, || false)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("applying application/2 failed"), "{text}");
    assert!(text.contains("(at registerApplication)"), "{text}");
    assert_eq!(error.error_type(), "ApiRejected");
    let ours = bed.apps_of(&bed.context());
    let names: Vec<&str> = ours.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["oc-1", "oc-3"]);
    let untouched = bed
        .apps()
        .into_iter()
        .find(|a| a["name"] == "oc-2")
        .unwrap();
    assert_eq!(untouched["description"], "not ours");
}

#[tokio::test]
async fn a_rollback_cannot_restore_credentials_so_its_plan_is_refused() {
    let bed = Bed::start([instance(1, "sfdc").token("instance-token-never-shown-2")]);
    let (live, request) = bed.connect(json!({"credentials": "element_header"})).await;
    let (_, desired) = plan_of(&live, &request).await;
    let mut raw = serde_json::to_value(&request).unwrap();
    raw["source"] =
        json!({"name": "before", "bundle": "s3://ferry-artifacts/bundles/compass/r1/before/"});
    raw["compass"]["credentials"] = json!("none");
    let rollback = PromoteRequest::parse(&raw).unwrap();
    let connector = CompassConnector::connect(&rollback, &bed.secrets)
        .await
        .unwrap();
    let current = State::from_entities(&connector.kinds(), Vec::new()).0;
    let plan = declarative::draft(&connector.kinds(), &desired, &current, &rollback.guards());
    assert_eq!(plan.counts.create, 1);
    let refusals = connector.refusals(&plan, &desired);
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(
        refusals[0].starts_with("application/1: its consumers' credentials cannot be restored"),
        "{refusals:?}"
    );
    assert!(
        live.refusals(&plan, &desired).is_empty(),
        "a live source can"
    );
}
