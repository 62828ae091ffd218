//! Benchmark: an Open Connectors → Compass reconcile of `INSTANCES` instances against the two
//! simulators (in-process), phase by phase, at several concurrencies and two request latencies.
//!
//! Each run starts fresh simulators: `INSTANCES` instances (five connectors, so specs of a few KB
//! to tens of KB) and a Director tenant that already holds 200 applications of another context
//! (so the target read pages). Measured (wall time): the source read (every instance page and one
//! spec per instance, `concurrency` at a time), the target read, the plan, the apply of every
//! create, a second plan (nothing to do), and a reconcile after every instance was renamed (an
//! update per application: a read by id and the writes that differ). The latency is added by the
//! simulators' `slow` fault on every request: 0 ms (the simulators' own cost) and 25 ms (a Director
//! and an Open Connectors tenant across a network).
//!
//! Usage: `compass [INSTANCES]` (default 250).

use std::time::{Duration, Instant};

use serde_json::json;
use shared::connectors::compass::CompassConnector;
use shared::contract::PromoteRequest;
use shared::declarative::{self, Declarative, Plan, State};

use ferry_tests::director_sim::{self, ClientSeed};
use ferry_tests::oc_sim::{self, InstanceChange, InstanceSeed, OrgSeed};
use ferry_tests::secrets::MemorySecrets;
use ferry_tests::sim_kit::control::ControlStore;

const TENANT: &str = "bench-tenant";
const CONNECTORS: [&str; 5] = ["sfdc", "hubspotcrm", "zendesk", "shopify", "dropbox"];
const CONCURRENCIES: [u64; 4] = [1, 4, 8, 16];
const LATENCIES_MS: [u64; 2] = [0, 25];

/// One fresh world: both simulators seeded, the secrets, the request.
struct World {
    oc: oc_sim::Simulator,
    director: director_sim::Simulator,
    secrets: MemorySecrets,
    request: PromoteRequest,
}

fn world(instances: i64, concurrency: u64, latency_ms: u64) -> World {
    let oc = oc_sim::Simulator::start(0);
    let mut org = OrgSeed::new("bench", "user-secret", "org-secret");
    for id in 1..=instances {
        let key = CONNECTORS[(id as usize) % CONNECTORS.len()];
        org = org.instance(InstanceSeed::new(&format!("instance {id}"), key).id(id));
    }
    oc.store().add_org(org).unwrap();
    let director = director_sim::Simulator::start(0);
    director.store().add_tenant(TENANT);
    let scopes = ["application:read", "application:write"];
    director
        .store()
        .add_client(ClientSeed::new("ferry", "client-secret", &scopes));
    for i in 0..200 {
        let labels = json!({"open_connectors": {"connectorInstanceContext": "other.example", "connectorInstanceID": i.to_string()}});
        director
            .store()
            .seed_application(
                TENANT,
                json!({"name": format!("other-{i}"), "labels": labels}),
            )
            .unwrap();
    }
    if latency_ms > 0 {
        let slow = oc_sim::Fault::slow(u32::MAX, latency_ms);
        assert!(oc.store().inject("bench", slow));
        director
            .store()
            .inject(director_sim::Fault::slow(u32::MAX, latency_ms));
    }
    let secrets = MemorySecrets::json([
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:oc",
            json!({"user_secret": "user-secret", "organization_secret": "org-secret"}),
        ),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:compass",
            json!({"client_id": "ferry", "client_secret": "client-secret"}),
        ),
    ]);
    let request = PromoteRequest::parse(&json!({
        "platform": "compass",
        "source": {"name": "oc", "open_connectors": {"url": format!("{}/elements/api-v2", oc.origin()),
            "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:oc"}},
        "target": {"name": "compass", "compass": {"director_url": director.graphql_url(),
            "token_url": director.token_url(), "tenant": TENANT,
            "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:compass"}},
        "compass": {"application_prefix": "oc", "prune": true, "max_delete": 10, "concurrency": concurrency},
    }))
    .unwrap();
    World {
        oc,
        director,
        secrets,
        request,
    }
}

/// Seconds of one phase.
async fn timed<T>(phase: impl std::future::Future<Output = T>) -> (T, f64) {
    let started = Instant::now();
    let out = phase.await;
    (out, started.elapsed().as_secs_f64())
}

/// The times of one reconcile: source, target, plan, apply.
struct Reconcile {
    source: f64,
    target: f64,
    plan: f64,
    apply: f64,
    plan_out: Plan,
}

impl Reconcile {
    fn total(&self) -> f64 {
        self.source + self.target + self.plan + self.apply
    }
}

async fn reconcile(connector: &CompassConnector, request: &PromoteRequest) -> Reconcile {
    let kinds = connector.kinds();
    let (source, source_s) = timed(connector.read_source()).await;
    let (target, target_s) = timed(connector.read_target()).await;
    let started = Instant::now();
    let desired = State::from_entities(&kinds, source.unwrap().entities).0;
    let current = State::from_entities(&kinds, target.unwrap()).0;
    let plan = declarative::plan(&kinds, &desired, &current, &request.guards()).unwrap();
    let plan_s = started.elapsed().as_secs_f64();
    let apply = declarative::apply::apply(connector, &kinds, &plan, &desired, || false);
    let (applied, apply_s) = timed(apply).await;
    assert_eq!(applied.unwrap().len(), plan.changes.len());
    Reconcile {
        source: source_s,
        target: target_s,
        plan: plan_s,
        apply: apply_s,
        plan_out: plan,
    }
}

async fn run(instances: i64, concurrency: u64, latency_ms: u64) {
    let w = world(instances, concurrency, latency_ms);
    let connector = CompassConnector::connect(&w.request, &w.secrets)
        .await
        .unwrap();
    let first = reconcile(&connector, &w.request).await;
    assert_eq!(first.plan_out.counts.create, instances as u64);
    let again = reconcile(&connector, &w.request).await;
    assert!(again.plan_out.is_empty());
    for id in 1..=instances {
        let rename = InstanceChange {
            name: Some(format!("renamed {id}")),
            ..InstanceChange::default()
        };
        w.oc.store().change(id, rename);
    }
    let updates = reconcile(&connector, &w.request).await;
    assert_eq!(updates.plan_out.counts.update, instances as u64);
    let mutations = w.director.store().counts().mutations;
    println!(
        "| {latency_ms:>5} ms | {concurrency:>2} | {:>6.2} | {:>6.2} | {:>5.3} | {:>6.2} | {:>7.2} | {:>6.2} | {:>7.2} | {mutations:>5} |",
        first.source,
        first.target,
        first.plan,
        first.apply,
        first.total(),
        again.total(),
        updates.total(),
    );
}

#[tokio::main]
async fn main() {
    let instances: i64 = std::env::args()
        .nth(1)
        .map_or(250, |a| a.parse().expect("INSTANCES is a number"));
    println!(
        "Compass reconcile of {instances} instances (200 applications of another context in the tenant); seconds"
    );
    println!(
        "| latency | conc. | source read | target read | plan | apply (creates) | first reconcile | no-change reconcile | rename reconcile (updates) | mutations |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for latency_ms in LATENCIES_MS {
        for concurrency in CONCURRENCIES {
            run(instances, concurrency, latency_ms).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
