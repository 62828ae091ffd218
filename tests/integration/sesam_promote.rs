//! sesam_promote: the promote steps on Sesam end to end — a real git server (git's own
//! `http-backend`, token auth) holding the node folder, the Sesam simulator as the target node,
//! secrets and the artifact bucket on the local AWS endpoint. Export, plan (with the `before/`
//! snapshot), apply, verify, a converging second run, guards, rollback from `before/`, and
//! secrets never written anywhere.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::aws::Aws;
use shared::aws::objects::get_bytes;
use shared::config::FunctionConfig;
use shared::contract::{
    Bundle, DeclarativeApplied, DeclarativePlanOutput, ExportServiceInput, ExportStarted,
    ImportServiceInput, PromoteRequest,
};
use shared::declarative::Action;
use shared::tasks::budget::Budget;
use shared::tasks::export_service::export_service;
use shared::tasks::import_service::{import_service, import_service_within};

use ferry_tests::fixtures::accounts;
use ferry_tests::git_server::{GitServer, TestRepo};
use ferry_tests::sesam_sim::{NodeSeed, shared};
use ferry_tests::{aws, unique};

use crate::config;

const GIT_TOKEN: &str = "git-token-never-shown-5f1e";

/// A repository with a node folder, a node seeded differently, their secrets, an artifact bucket.
struct Bed {
    aws: Aws,
    config: FunctionConfig,
    bucket: String,
    node: String,
    repo: TestRepo,
    /// The test's own git server (stopped, its folder removed, when the test ends).
    _git: GitServer,
    raw: Value,
    jwt: String,
}

fn pipe(id: &str, system: &str) -> Value {
    json!({"_id": id, "type": "pipe", "source": {"type": "dataset", "system": system, "dataset": id}})
}

async fn bed() -> Bed {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let (_, _, own) = accounts(&session);
    let bucket = unique("ferry-artifacts");
    own.create_bucket(&bucket).await;
    let node = unique("node");
    let jwt = format!("jwt-{node}-secret");
    shared().add_node(
        NodeSeed::new(&node)
            .jwt(&jwt)
            .entity(json!({"_id": "crm", "type": "system:url", "base_url": "https://crm.example.org"}))
            .entity(pipe("orders", "crm"))
            .entity(pipe("stale", "crm"))
            .entity(json!({"_id": "autodeployer", "type": "system:microservice", "docker": {"image": "old"}}))
            .env("region", json!("eu")),
    );
    let repo_name = unique("sesam-config");
    let git = GitServer::start(GIT_TOKEN);
    let repo = TestRepo::create(&git, &repo_name);
    // The same crm system, formatted and ordered differently: not a change.
    repo.write(
        "node/systems/crm.conf.json",
        "{\n  \"base_url\" : \"https://crm.example.org\",\n  \"type\": \"system:url\", \"_id\": \"crm\"\n}\n",
    );
    repo.write(
        "node/systems/erp.conf.json",
        &json!({"_id": "erp", "type": "system:url", "base_url": "https://erp.example.org"})
            .to_string(),
    );
    repo.write(
        "node/pipes/orders.conf.json",
        &pipe("orders", "erp").to_string(),
    );
    repo.write(
        "node/pipes/invoices.conf.json",
        &pipe("invoices", "erp").to_string(),
    );
    repo.write(
        "node/env/prod.json",
        &json!({"region": "eu", "tier": "gold"}).to_string(),
    );
    repo.write("README.md", "not config");
    repo.commit("node config");
    let git_arn = own
        .create_secret(
            &unique("ferry/git"),
            &json!({"token": GIT_TOKEN}).to_string(),
        )
        .await;
    let node_arn = own
        .create_secret(&unique("ferry/sesam"), &json!({"jwt": jwt}).to_string())
        .await;
    let raw = json!({
        "platform": "sesam",
        "source": {"name": "main", "git": {"url": git.url(&repo_name), "ref": "main", "path": "node",
            "auth_secret_arn": git_arn}},
        "target": {"name": "prod", "sesam": {"url": shared().base_url(&node), "auth_secret_arn": node_arn}},
        "sesam": {"protect": ["autodeployer"], "prune": true, "max_delete": 1, "env_file": "env/prod.json",
            "timeout_seconds": 10},
    });
    let mut config = config();
    config.artifact_bucket = Some(bucket.clone());
    Bed {
        aws,
        config,
        bucket,
        node,
        repo,
        _git: git,
        raw,
        jwt,
    }
}

fn read<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{e}: {value:#}"))
}

impl Bed {
    async fn export(&self, run_id: &str) -> Result<ExportStarted, shared::TaskError> {
        let input = ExportServiceInput::Start {
            run_id: run_id.into(),
            request: self.raw.clone(),
        };
        export_service(&self.aws, &self.config, input)
            .await
            .map(read)
    }

    async fn step(&self, input: ImportServiceInput) -> Result<Value, shared::TaskError> {
        import_service(&self.aws, input).await
    }

    /// export → plan; the request and bundle for the later steps.
    async fn plan(&self, run_id: &str) -> (PromoteRequest, Bundle, DeclarativePlanOutput) {
        let started = self.export(run_id).await.unwrap();
        let bundle = started
            .bundle
            .clone()
            .expect("a declarative export is stored at once");
        assert!(started.job.is_none());
        let plan = self
            .step(ImportServiceInput::Plan {
                run_id: run_id.into(),
                request: started.request.clone(),
                bundle: bundle.clone(),
            })
            .await
            .unwrap();
        (started.request, bundle, read(plan))
    }

    async fn apply(
        &self,
        run_id: &str,
        request: &PromoteRequest,
        bundle: &Bundle,
    ) -> DeclarativeApplied {
        let out = self
            .step(ImportServiceInput::Apply {
                run_id: run_id.into(),
                request: request.clone(),
                bundle: bundle.clone(),
            })
            .await
            .unwrap();
        read(out)
    }

    async fn verify(
        &self,
        run_id: &str,
        request: &PromoteRequest,
        bundle: &Bundle,
    ) -> Result<Value, shared::TaskError> {
        self.step(ImportServiceInput::Verify {
            run_id: run_id.into(),
            request: request.clone(),
            plan: json!({}),
            job: None,
            bundle: Some(bundle.clone()),
        })
        .await
    }

    /// export → plan, where the plan is expected to fail.
    async fn refused_plan(&self) -> shared::TaskError {
        let run_id = unique("sesam-run");
        let started = self.export(&run_id).await.unwrap();
        self.step(ImportServiceInput::Plan {
            run_id,
            request: started.request,
            bundle: started.bundle.unwrap(),
        })
        .await
        .unwrap_err()
    }

    /// Requests that wrote to the node (anything but GET).
    fn writes(&self) -> Vec<String> {
        shared()
            .requests()
            .into_iter()
            .filter(|r| r.node.as_deref() == Some(&self.node) && r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

fn keyed(plan: &DeclarativePlanOutput) -> Vec<(Action, String)> {
    plan.changes.iter().map(|c| (c.action, c.key())).collect()
}

#[tokio::test]
async fn plans_by_identity_applies_in_order_verifies_and_converges() {
    let bed = bed().await;
    let run = unique("sesam-run");
    let (request, bundle, plan) = bed.plan(&run).await;
    assert_eq!(
        keyed(&plan),
        [
            (Action::Update, "env/env".to_string()),
            (Action::Create, "system/erp".to_string()),
            (Action::Create, "pipe/invoices".to_string()),
            (Action::Update, "pipe/orders".to_string()),
            (Action::Delete, "pipe/stale".to_string()),
        ],
        "{plan:#?}"
    );
    assert_eq!(plan.counts.unchanged, 1, "crm is identical but reformatted");
    assert_eq!(plan.protected, ["system/autodeployer"]);
    let orders = &plan.changes[3];
    assert_eq!(
        orders.fields[0].describe(),
        "/source/system: \"crm\" → \"erp\""
    );
    assert!(
        plan.source["commit"]
            .as_str()
            .is_some_and(|c| c.len() == 40),
        "{:?}",
        plan.source
    );
    assert!(
        bed.writes().is_empty(),
        "planning wrote to the node: {:?}",
        bed.writes()
    );

    let applied = bed.apply(&run, &request, &bundle).await;
    assert_eq!(applied.applied.len(), 5);
    let view = shared().node(&bed.node).unwrap();
    assert_eq!(
        view.pipe("orders").unwrap().config["source"]["system"],
        "erp"
    );
    assert!(view.pipe("stale").is_none() && view.pipe("invoices").is_some());
    assert_eq!(
        view.system("autodeployer").unwrap().config["docker"]["image"],
        "old"
    );
    assert_eq!(view.env["tier"], "gold");
    assert!(
        !bed.writes().iter().any(|w| w.contains("/crm")),
        "the unchanged system was written: {:?}",
        bed.writes()
    );
    bed.verify(&run, &request, &bundle).await.unwrap();

    // A second run finds nothing to do and writes nothing.
    let before = bed.writes().len();
    let (_, _, again) = bed.plan(&unique("sesam-run")).await;
    assert!(
        again.nothing_to_do && again.changes.is_empty(),
        "{again:#?}"
    );
    assert_eq!(bed.writes().len(), before);
}

#[tokio::test]
async fn rolls_back_from_the_before_snapshot() {
    let bed = bed().await;
    let run = unique("sesam-run");
    let (request, bundle, plan) = bed.plan(&run).await;
    bed.apply(&run, &request, &bundle).await;
    let mut rollback = bed.raw.clone();
    rollback["source"] = json!({"name": "before", "bundle": plan.before});
    rollback["sesam"]["max_delete"] = json!(5);
    let back = Bed {
        raw: rollback,
        ..bed
    };
    let run2 = unique("sesam-rollback");
    let (request2, bundle2, plan2) = back.plan(&run2).await;
    assert!(
        keyed(&plan2).contains(&(Action::Delete, "pipe/invoices".to_string())),
        "{plan2:#?}"
    );
    back.apply(&run2, &request2, &bundle2).await;
    back.verify(&run2, &request2, &bundle2).await.unwrap();
    let view = shared().node(&back.node).unwrap();
    assert_eq!(
        view.pipe("orders").unwrap().config["source"]["system"],
        "crm"
    );
    assert!(view.pipe("stale").is_some() && view.pipe("invoices").is_none());
    assert_eq!(view.env.get("tier"), None);
}

#[tokio::test]
async fn guards_refuse_before_anything_changes() {
    let bed = bed().await;
    let mut too_many = bed.raw.clone();
    too_many["sesam"]["max_delete"] = json!(0);
    let guarded = Bed {
        raw: too_many,
        ..bed
    };
    let err = guarded.refused_plan().await;
    assert_eq!(err.error_type(), "Refused");
    assert!(
        err.to_string()
            .contains("1 deletions planned, more than max_delete 0 (first: pipe/stale)"),
        "{err}"
    );

    // An empty source with pruning on is refused outright.
    for file in [
        "node/systems/crm.conf.json",
        "node/systems/erp.conf.json",
        "node/pipes/orders.conf.json",
        "node/pipes/invoices.conf.json",
        "node/env/prod.json",
    ] {
        guarded.repo.remove(file);
    }
    guarded.repo.write("node/README.md", "emptied by mistake");
    guarded.repo.commit("empty");
    let mut empty = guarded.raw.clone();
    empty["sesam"]["max_delete"] = json!(100);
    empty["sesam"].as_object_mut().unwrap().remove("env_file");
    let emptied = Bed {
        raw: empty,
        ..guarded
    };
    let err = emptied.refused_plan().await;
    assert!(
        err.to_string().contains("the source holds no entity"),
        "{err}"
    );
    assert!(emptied.writes().is_empty(), "{:?}", emptied.writes());
}

#[tokio::test]
async fn bad_input_and_unbound_secrets_touch_nothing() {
    let bed = bed().await;
    let mut bad = bed.raw.clone();
    bad["source"]["git"]["ref"] = json!("no-such-branch");
    let bad_ref = Bed { raw: bad, ..bed };
    let err = bad_ref.export(&unique("sesam-run")).await.unwrap_err();
    assert!(err.to_string().contains("source.git.ref"), "{err}");

    // A JWT secret bound to other hosts is never sent to the node.
    let session = bad_ref.aws.session("fixtures");
    let (_, _, own) = accounts(&session);
    let bound = own
        .create_secret(
            &unique("ferry/sesam"),
            &json!({"jwt": bad_ref.jwt, "hosts": ["datahub-1.sesam.cloud"]}).to_string(),
        )
        .await;
    let mut raw = bad_ref.raw.clone();
    raw["source"]["git"]["ref"] = json!("main");
    raw["target"]["sesam"]["auth_secret_arn"] = json!(bound);
    let unbound = Bed { raw, ..bad_ref };
    let err = unbound.export(&unique("sesam-run")).await.unwrap_err();
    assert!(
        err.to_string().contains("is not bound to host '127.0.0.1'"),
        "{err}"
    );
    let touched = shared()
        .requests()
        .into_iter()
        .filter(|r| r.node.as_deref() == Some(&unbound.node))
        .count();
    assert_eq!(touched, 0);
}

#[tokio::test]
async fn no_secret_is_kept_in_the_bundle_or_the_plan() {
    let bed = bed().await;
    let run = unique("sesam-run");
    let (request, bundle, plan) = bed.plan(&run).await;
    let session = bed.aws.session("fixtures");
    let s3 = session.own_s3();
    let list = || async {
        let listed = s3
            .list_objects_v2()
            .bucket(&bed.bucket)
            .prefix(&bundle.prefix)
            .send()
            .await
            .unwrap();
        listed
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect::<Vec<String>>()
    };
    let planned = list().await;
    assert!(
        !planned.iter().any(|k| k.contains("/before/")),
        "a plan keeps no snapshot: {planned:?}"
    );
    bed.apply(&run, &request, &bundle).await;
    let keys = list().await;
    for name in ["manifest.json", "entities.jsonl", "pipe/orders.json"] {
        assert!(
            keys.iter().any(|k| k.ends_with(&format!("before/{name}"))),
            "{name} not in {keys:?}"
        );
    }
    assert!(keys.iter().any(|k| k.ends_with("/plan.json")), "{keys:?}");
    let mut all = serde_json::to_string(&plan).unwrap();
    for key in &keys {
        all.push_str(&String::from_utf8_lossy(
            &get_bytes(&s3, &bed.bucket, key).await.unwrap(),
        ));
    }
    assert!(
        !all.contains(GIT_TOKEN) && !all.contains(&bed.jwt),
        "a secret was stored"
    );
}

#[tokio::test]
async fn apply_refuses_changes_the_plan_did_not_show() {
    let bed = bed().await;
    let mut raw = bed.raw.clone();
    raw["sesam"]["max_delete"] = json!(5);
    let bed = Bed { raw, ..bed };
    let run = unique("sesam-run");
    let (request, bundle, _) = bed.plan(&run).await;
    // Someone adds a pipe to the node after the plan was shown: pruning would delete it.
    let late = reqwest::Client::new()
        .post(format!("{}/pipes?force=true", shared().base_url(&bed.node)))
        .bearer_auth(&bed.jwt)
        .json(&json!([pipe("late", "crm")]))
        .send()
        .await
        .unwrap();
    assert!(late.status().is_success(), "{}", late.status());
    let err = bed
        .step(ImportServiceInput::Apply {
            run_id: run,
            request,
            bundle,
        })
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Refused", "{err}");
    assert!(err.to_string().contains("delete pipe/late"), "{err}");
    let view = shared().node(&bed.node).unwrap();
    assert!(view.pipe("late").is_some());
    assert_eq!(
        view.pipe("orders").unwrap().config["source"]["system"],
        "crm"
    );
}

#[tokio::test]
async fn a_dry_run_reports_what_the_guards_refuse_instead_of_failing() {
    let bed = bed().await;
    let mut raw = bed.raw.clone();
    raw["dry_run"] = json!(true);
    raw["sesam"]["max_delete"] = json!(0);
    let bed = Bed { raw, ..bed };
    let (_, _, plan) = bed.plan(&unique("sesam-drift")).await;
    assert!(!plan.nothing_to_do);
    assert_eq!(plan.refused.len(), 1, "{plan:#?}");
    assert!(
        plan.refused[0].contains("more than max_delete 0 (first: pipe/stale)"),
        "{:?}",
        plan.refused
    );
    assert!(bed.writes().is_empty(), "{:?}", bed.writes());
}

#[tokio::test]
async fn a_bundle_edited_after_export_is_refused_even_with_a_matching_manifest() {
    let bed = bed().await;
    let run = unique("sesam-run");
    let started = bed.export(&run).await.unwrap();
    let bundle = started.bundle.clone().unwrap();
    let session = bed.aws.session("fixtures");
    let s3 = session.own_s3();
    // Rewrite one entity and the manifest so that they agree with each other.
    let key = format!("{}pipe/orders.json", bundle.prefix);
    let forged = serde_json::to_vec_pretty(&pipe("orders", "evil")).unwrap();
    let mut manifest: Value = serde_json::from_slice(
        &get_bytes(&s3, &bed.bucket, &bundle.manifest_key)
            .await
            .unwrap(),
    )
    .unwrap();
    for file in manifest["files"].as_array_mut().unwrap() {
        if file["key"] == key.as_str() {
            file["sha256"] = json!(shared::checksum::sha256_hex(&forged));
        }
    }
    for (k, body) in [
        (key.clone(), forged),
        (
            bundle.manifest_key.clone(),
            serde_json::to_vec(&manifest).unwrap(),
        ),
    ] {
        s3.put_object()
            .bucket(&bed.bucket)
            .key(k)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    let err = bed
        .step(ImportServiceInput::Plan {
            run_id: run,
            request: started.request,
            bundle,
        })
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("manifest.json has sha256"),
        "{err}"
    );
    assert!(bed.writes().is_empty());
}

#[tokio::test]
async fn an_apply_out_of_time_leaves_the_rest_for_the_next_call() {
    let bed = bed().await;
    let run = unique("sesam-run");
    let (request, bundle, plan) = bed.plan(&run).await;
    let total = plan.changes.len() as u64;
    let mut calls = 0;
    let mut applied = 0;
    loop {
        let input = ImportServiceInput::Apply {
            run_id: run.clone(),
            request: request.clone(),
            bundle: bundle.clone(),
        };
        let out: DeclarativeApplied = read(
            import_service_within(&bed.aws, input, Budget::for_duration(Duration::ZERO))
                .await
                .unwrap(),
        );
        calls += 1;
        assert_eq!(out.count, 1, "one change per call when out of time");
        applied += out.count;
        assert_eq!(out.remaining, total - applied);
        if out.remaining == 0 {
            break;
        }
    }
    assert_eq!(calls, total);
    bed.verify(&run, &request, &bundle).await.unwrap();
}
