//! sesam_sim: the Sesam node simulator answers as the contract describes — static-JWT auth,
//! whole-node replace that deletes absent entities, `force` semantics with `validation_errors`,
//! per-entity writes, JSON and zip config holding the same entities, env and write-only secrets,
//! and faults that fire on matching requests until spent.

use std::io::{Cursor, Read, Write};

use reqwest::multipart::{Form, Part};
use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};

use ferry_tests::sesam_sim::{EntityKind, Fault, NodeSeed, NodeView, Simulator, shared};
use ferry_tests::sim_kit::client::{Control, SeededBinary, read, slow_once};
use ferry_tests::unique;

/// A node of the shared simulator reached with its JWT.
struct Node {
    http: Client,
    name: String,
    jwt: String,
}

impl Node {
    /// Creates the node of `seed` under a unique name, accepting one JWT.
    fn new(seed: NodeSeed) -> Node {
        let name = unique("sesam");
        let jwt = format!("eyJhbGciOiJIUzI1NiJ9.{name}.c2lnbmF0dXJl");
        shared().add_node(NodeSeed {
            name: name.clone(),
            ..seed.jwt(&jwt)
        });
        Node {
            http: Client::new(),
            name,
            jwt,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", shared().base_url(&self.name))
    }

    async fn send(&self, request: RequestBuilder) -> (u16, Value) {
        read(request.bearer_auth(&self.jwt).send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.http.get(self.url(path))).await
    }

    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.put(self.url(path)).json(&body)).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.http.delete(self.url(path))).await
    }

    async fn text(&self, path: &str, accept: &str) -> (u16, Vec<u8>) {
        let request = self.http.get(self.url(path)).header("accept", accept);
        let response = request.bearer_auth(&self.jwt).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }

    fn view(&self) -> NodeView {
        shared().node(&self.name).unwrap()
    }

    fn inject(&self, fault: Fault) {
        shared().inject(&self.name, fault);
    }
}

fn system(id: &str) -> Value {
    json!({"_id": id, "type": "system:url", "url_pattern": "http://example.org/%s"})
}

fn pipe(id: &str, system: &str) -> Value {
    json!({"_id": id, "type": "pipe", "source": {"type": "json", "system": system}})
}

fn metadata() -> Value {
    json!({"_id": "node", "type": "metadata", "task_manager": {"disable_user_pipes": false}})
}

/// A node holding the `crm` system and the pipes `a` and `b` reading from it.
fn crm() -> NodeSeed {
    NodeSeed::new("")
        .entity(system("crm"))
        .entity(pipe("a", "crm"))
        .entity(pipe("b", "crm"))
}

fn zip_entries(bytes: &[u8]) -> Vec<(String, Value)> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut entries = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).unwrap();
        let name = file.name().unwrap().to_string();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        entries.push((name, serde_json::from_str(&text).unwrap()));
    }
    entries
}

fn stored_zip(entries: &[(&str, Value)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, value) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(value.to_string().as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[tokio::test]
async fn every_node_call_needs_one_of_the_nodes_jwts() {
    let node = Node::new(crm());
    let other = Node::new(NodeSeed::new(""));
    let url = node.url("/pipes");
    let (status, body) = read(node.http.get(&url).send().await.unwrap()).await;
    assert_eq!(status, 401);
    assert!(body["message"].is_string(), "{body}");
    let wrong = node.http.get(&url).bearer_auth(&other.jwt).send().await;
    assert_eq!(wrong.unwrap().status(), 401, "another node's JWT");
    let basic = node.http.get(&url).basic_auth("u", Some(&node.jwt)).send();
    assert_eq!(basic.await.unwrap().status(), 401, "not a bearer token");
    let lower = node
        .http
        .get(&url)
        .header("authorization", format!("bearer {}", node.jwt));
    assert_eq!(
        lower.send().await.unwrap().status(),
        200,
        "the scheme is case-insensitive"
    );

    let unknown = format!("{}/api/pipes", shared().base_url("no-such-node"));
    let response = node.http.get(unknown).bearer_auth(&node.jwt).send();
    assert_eq!(response.await.unwrap().status(), 404);
    let health = node
        .http
        .get(format!("{}/health", shared().origin()))
        .send();
    assert_eq!(health.await.unwrap().status(), 200);
}

#[tokio::test]
async fn put_config_replaces_everything_and_deletes_absent_entities() {
    let node = Node::new(crm().entity(metadata()));
    let upload = json!([pipe("a", "crm"), system("crm"), pipe("c", "crm")]);
    let (status, body) = node.put("/config?force=false", upload).await;
    assert_eq!((status, &body), (200, &json!({"validation_errors": []})));
    let view = node.view();
    assert_eq!(
        view.ids(EntityKind::Pipe),
        ["a", "c"],
        "b is deleted, c added"
    );
    assert_eq!(view.ids(EntityKind::System), ["crm"]);
    assert!(view.metadata().is_none(), "the metadata was not uploaded");
    assert_eq!(node.get("/pipes/b").await.0, 404);
}

#[tokio::test]
async fn force_false_refuses_a_pipe_with_a_missing_system_and_changes_nothing() {
    let node = Node::new(crm());
    let before = node.view();
    let upload = json!([system("crm"), pipe("a", "crm"), pipe("orphan", "ghost")]);
    let (status, body) = node.put("/config?force=false", upload).await;
    assert_eq!(status, 400, "{body}");
    let errors = body["validation_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["posted-config"]["_id"], "orphan");
    let first = &errors[0]["config-errors"][0];
    assert_eq!(first["level"], "error");
    assert!(first["msg"].as_str().unwrap().contains("ghost"), "{first}");
    assert_eq!(node.view(), before, "nothing changed");

    let (status, body) = node.put("/config", json!([{"type": "pipe"}])).await;
    assert_eq!(status, 400, "force defaults to false; {body}");
    let (status, _) = node
        .put(
            "/config?force=true",
            json!([{"_id": "x y", "type": "pipe"}]),
        )
        .await;
    assert_eq!(status, 400, "an entity without a plain _id is never stored");
    assert_eq!(node.view(), before);
}

#[tokio::test]
async fn force_true_applies_invalid_entities_and_flags_them() {
    let node = Node::new(crm());
    let microservice = json!({"_id": "ms", "type": "system:microservice", "docker": {}});
    let upload = json!([system("crm"), pipe("orphan", "ghost"), microservice]);
    let (status, body) = node.put("/config?force=true", upload).await;
    assert_eq!(status, 200, "{body}");
    let flagged: Vec<&Value> = body["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["posted-config"]["_id"])
        .collect();
    assert_eq!(flagged, [&json!("orphan"), &json!("ms")]);
    let view = node.view();
    assert!(!view.pipe("orphan").unwrap().is_valid_config);
    assert!(!view.system("ms").unwrap().is_valid_config);
    assert!(view.system("crm").unwrap().is_valid_config);
    assert_eq!(view.ids(EntityKind::Pipe), ["orphan"]);

    let (status, wrapped) = node.get("/pipes/orphan").await;
    assert_eq!(status, 200);
    assert_eq!(wrapped["runtime"]["is-valid-config"], false);
    assert_eq!(wrapped["config"]["original"], pipe("orphan", "ghost"));
    assert_eq!(wrapped["config"]["effective"]["batch_size"], 100);
    let (status, _) = node.post("/systems", json!([system("ghost")])).await;
    assert_eq!(status, 201);
    let (_, wrapped) = node.get("/pipes/orphan").await;
    assert_eq!(
        wrapped["runtime"]["is-valid-config"], true,
        "its system now exists"
    );
}

#[tokio::test]
async fn per_entity_writes_create_replace_and_delete() {
    let node = Node::new(crm());
    let (status, created) = node
        .post("/pipes?force=false", json!([pipe("c", "crm")]))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created[0]["_id"], "c");
    let (status, _) = node
        .post("/pipes", json!([pipe("d", "crm"), pipe("a", "crm")]))
        .await;
    assert_eq!(status, 409, "a exists already");
    assert!(
        node.view().pipe("d").is_none(),
        "nothing of a refused post is stored"
    );
    let (status, body) = node.post("/pipes", json!([pipe("e", "ghost")])).await;
    assert_eq!(status, 400);
    assert_eq!(body["validation_errors"][0]["posted-config"]["_id"], "e");
    assert!(node.view().pipe("e").is_none());

    let changed =
        json!({"_id": "c", "type": "pipe", "source": {"type": "dataset", "dataset": "x"}});
    let (status, wrapped) = node.put("/pipes/c/config", changed.clone()).await;
    assert_eq!(status, 200, "{wrapped}");
    assert_eq!(node.view().pipe("c").unwrap().config, changed);
    assert_eq!(
        node.put("/pipes/nope/config", pipe("nope", "crm")).await.0,
        404
    );
    assert_eq!(
        node.put("/pipes/c/config", pipe("a", "crm")).await.0,
        400,
        "_id differs from the path"
    );
    assert_eq!(
        node.put("/pipes/c/config", system("c")).await.0,
        400,
        "not a pipe"
    );

    assert_eq!(node.delete("/pipes/c").await.0, 200);
    assert_eq!(node.delete("/pipes/c").await.0, 404);
    assert_eq!(node.get("/pipes/c").await.0, 404);

    let (status, listed) = node.get("/systems").await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 1));
    assert_eq!(
        node.delete("/systems/crm").await.0,
        200,
        "pipes still use it"
    );
    let view = node.view();
    assert!(view.system("crm").is_none());
    assert!(
        !view.pipe("a").unwrap().is_valid_config,
        "a lost its system"
    );
    let (_, pipes) = node.get("/pipes").await;
    let ids: Vec<&Value> = pipes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["_id"])
        .collect();
    assert_eq!(ids, [&json!("a"), &json!("b")]);
}

#[tokio::test]
async fn get_config_as_json_and_as_zip_hold_the_same_entities_printed_differently() {
    let tagged = json!({"_id": "t", "type": "pipe", "alpha": 1, "zeta": 2});
    let node = Node::new(crm().entity(metadata()).entity(tagged.clone()));
    let (status, text) = node.text("/config", "application/json").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(text).unwrap();
    let listed: Vec<Value> = serde_json::from_str(&text).unwrap();
    let expected = [
        metadata(),
        system("crm"),
        pipe("a", "crm"),
        pipe("b", "crm"),
        tagged,
    ];
    assert_eq!(listed, expected, "metadata, systems, pipes, each by _id");
    assert_ne!(text, serde_json::to_string(&listed).unwrap());
    assert!(
        text.contains("\n        \"_id\": \"node\""),
        "4-space indent: {text}"
    );
    assert!(
        text.find("\"zeta\"").unwrap() < text.find("\"alpha\"").unwrap(),
        "keys reordered"
    );

    let (status, zip) = node.text("/config", "application/zip").await;
    assert_eq!(status, 200);
    let entries = zip_entries(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "node-metadata.conf.json",
            "systems/crm.conf.json",
            "pipes/a.conf.json",
            "pipes/b.conf.json",
            "pipes/t.conf.json"
        ]
    );
    let zipped: Vec<Value> = entries.into_iter().map(|(_, v)| v).collect();
    assert_eq!(zipped, listed);
}

#[tokio::test]
async fn put_config_takes_a_raw_zip_or_a_multipart_file() {
    let node = Node::new(crm());
    let zip = stored_zip(&[
        ("node-metadata.conf.json", metadata()),
        ("systems/erp.conf.json", system("erp")),
        ("pipes/x.conf.json", pipe("x", "erp")),
        ("README.md", json!("ignored")),
    ]);
    let raw = node
        .http
        .put(node.url("/config?force=false"))
        .header("content-type", "application/zip")
        .body(zip.clone());
    let (status, body) = node.send(raw).await;
    assert_eq!(status, 200, "{body}");
    let view = node.view();
    assert_eq!(view.ids(EntityKind::Pipe), ["x"]);
    assert_eq!(view.ids(EntityKind::System), ["erp"]);
    assert_eq!(view.metadata().unwrap().config, metadata());

    let other = Node::new(NodeSeed::new(""));
    let form = Form::new().part("file", Part::bytes(zip).file_name("config.zip"));
    let multipart = other
        .http
        .put(other.url("/config?force=true"))
        .multipart(form);
    let (status, body) = other.send(multipart).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(other.view().entities, view.entities);
}

#[tokio::test]
async fn env_put_replaces_and_post_merges() {
    let node = Node::new(
        NodeSeed::new("")
            .env("keep", json!("old"))
            .env("gone", json!(1)),
    );
    let (status, env) = node
        .put("/env", json!({"keep": "new", "added": [1, 2]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(env, json!({"keep": "new", "added": [1, 2]}));
    let (_, env) = node
        .post("/env", json!({"more": true, "keep": "newer"}))
        .await;
    assert_eq!(env, json!({"keep": "newer", "added": [1, 2], "more": true}));
    assert_eq!(node.delete("/env/added").await.0, 200);
    assert_eq!(node.delete("/env/added").await.0, 404);
    assert_eq!(
        node.get("/env").await.1,
        json!({"keep": "newer", "more": true})
    );
    assert_eq!(node.put("/env", json!([1])).await.0, 400, "not a map");
    assert_eq!(
        node.view().env,
        *node.get("/env").await.1.as_object().unwrap()
    );
}

#[tokio::test]
async fn secret_values_are_never_returned() {
    let node = Node::new(NodeSeed::new("").secret("seeded", "value-seeded-1"));
    let (status, names) = node
        .put(
            "/secrets",
            json!({"db": "value-db-2", "api": "value-api-3"}),
        )
        .await;
    assert_eq!(
        (status, &names),
        (200, &json!(["api", "db"])),
        "PUT replaced the seeded one"
    );
    let (_, names) = node
        .post("/secrets", json!({"token": "value-token-4"}))
        .await;
    assert_eq!(names, json!(["api", "db", "token"]));
    assert_eq!(node.delete("/secrets/api").await.0, 200);
    assert_eq!(node.delete("/secrets/api").await.0, 404);
    let (status, listed) = node.text("/secrets", "application/json").await;
    assert_eq!(status, 200);
    let listed = String::from_utf8(listed).unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&listed).unwrap(),
        json!(["db", "token"])
    );
    let view = serde_json::to_string(&node.view()).unwrap();
    for text in [listed, view] {
        assert!(!text.contains("value-"), "a secret value leaked: {text}");
    }
    assert_eq!(
        node.post("/secrets", json!({"n": 1})).await.0,
        400,
        "values are strings"
    );
}

#[tokio::test]
async fn metadata_and_status_have_their_own_endpoints() {
    let node = Node::new(NodeSeed::new("").developer_mode(true));
    assert_eq!(
        node.get("").await.1,
        json!({"status": {"developer_mode": true}})
    );
    assert_eq!(node.get("/metadata").await.0, 404);
    assert_eq!(node.put("/metadata", metadata()).await.0, 200);
    assert_eq!(node.get("/metadata").await, (200, metadata()));
    let wrong_id = json!({"_id": "meta", "type": "metadata"});
    assert_eq!(node.put("/metadata", wrong_id).await.0, 400);
    assert_eq!(node.delete("/metadata").await.0, 200);
    assert!(node.view().metadata().is_none());
}

#[tokio::test]
async fn each_fault_fires_on_matching_requests_then_is_consumed() {
    let node = Node::new(crm());
    node.inject(Fault::unauthorized(1));
    assert_eq!(node.get("/pipes").await.0, 401, "even with a valid JWT");
    assert_eq!(node.get("/pipes").await.0, 200);

    node.inject(Fault::throttle(2, 7));
    for _ in 0..2 {
        let response = node
            .http
            .get(node.url("/env"))
            .bearer_auth(&node.jwt)
            .send()
            .await;
        let response = response.unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    assert_eq!(node.get("/env").await.0, 200);

    node.inject(Fault::server_error(1).on_method("PUT").on_path("/pipes"));
    assert_eq!(node.get("/pipes").await.0, 200, "a GET does not match");
    assert_eq!(
        node.put("/env", json!({})).await.0,
        200,
        "another path does not match"
    );
    assert_eq!(node.put("/pipes/a/config", pipe("a", "crm")).await.0, 500);
    assert_eq!(node.put("/pipes/a/config", pipe("a", "crm")).await.0, 200);

    node.inject(Fault::slow(1, 300));
    let (slow, _) = slow_once(300, || node.get("/pipes")).await;
    assert_eq!(slow.0, 200);

    node.inject(Fault::server_error(3));
    assert_eq!(node.view().faults.len(), 1);
    shared().clear_faults(&node.name);
    assert_eq!(node.get("/pipes").await.0, 200);
    assert!(node.view().faults.is_empty());
}

#[tokio::test]
async fn the_request_log_classifies_auth_but_never_holds_the_jwt() {
    let node = Node::new(crm());
    node.get("/pipes?include-internal-pipes=true").await;
    node.http.get(node.url("/pipes")).send().await.unwrap();
    node.http
        .get(node.url("/pipes"))
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    let mine: Vec<(String, Option<String>, u16, String)> = shared()
        .requests()
        .into_iter()
        .filter(|r| r.node.as_deref() == Some(node.name.as_str()))
        .map(|r| (r.path, r.query, r.status, r.auth))
        .collect();
    let path = format!("/{}/api/pipes", node.name);
    assert_eq!(
        mine,
        [
            (
                path.clone(),
                Some("include-internal-pipes=true".into()),
                200,
                "valid".into()
            ),
            (path.clone(), None, 401, "none".into()),
            (path, None, 401, "invalid".into()),
        ]
    );
    let log = Client::new()
        .get(format!("{}/_sim/requests", shared().origin()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(log.contains(&node.name));
    assert!(!log.contains(&node.jwt), "the log holds a JWT");
    assert!(!log.contains("forged"));
}

#[tokio::test]
async fn the_control_api_seeds_inspects_injects_and_resets() {
    let sim = Simulator::start(0);
    let http = Client::new();
    let control = Control::new(format!("{}/_sim", sim.origin()));
    let seed = json!({"name": "acme", "jwts": ["j"], "entities": [system("crm"), pipe("p", "ghost")], "env": {"a": 1}, "secrets": {"s": "v"}});
    assert_eq!(control.post("/nodes", &seed).await.0, 200);
    let (_, view) = control.get("/nodes/acme").await;
    assert_eq!(view["entities"][0]["_id"], "crm");
    assert_eq!(
        view["entities"][1]["is-valid-config"], false,
        "p's system is missing"
    );
    assert_eq!(view["secret_names"], json!(["s"]));
    assert_eq!(view["env"], json!({"a": 1}));
    let bad = json!({"name": "bad", "entities": [{"type": "pipe"}]});
    assert_eq!(control.post("/nodes", &bad).await.0, 400);

    let fault = json!({"fault": "throttle", "retry_after_seconds": 3, "count": 1, "method": "get", "path_prefix": "/env"});
    assert_eq!(control.post("/nodes/acme/faults", &fault).await.0, 200);
    assert_eq!(
        sim.node("acme").unwrap().faults,
        [Fault::throttle(1, 3).on_method("get").on_path("/env")]
    );
    let throttled = http
        .get(format!("{}/env", sim.base_url("acme")))
        .bearer_auth("j")
        .send();
    assert_eq!(throttled.await.unwrap().headers()["retry-after"], "3");
    let (_, log) = control.get("/requests").await;
    assert_eq!(
        log,
        json!([{"node": "acme", "method": "GET", "path": "/acme/api/env", "query": null, "status": 429, "auth": "valid"}])
    );

    assert_eq!(control.post("/reset", &json!({})).await.0, 200);
    assert!(sim.node("acme").is_none());
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn the_binary_serves_its_seed_until_stdin_closes() {
    let seed = json!({"nodes": [{"name": "acme", "jwts": ["j"], "developer_mode": true}]});
    let binary = SeededBinary::start(env!("CARGO_BIN_EXE_sesam-sim"), "sesam-sim", &seed);
    let response = Client::new()
        .get(format!("{}/acme/api", binary.origin()))
        .bearer_auth("j")
        .send();
    let (status, body) = read(response.await.unwrap()).await;
    assert_eq!(
        (status, body),
        (200, json!({"status": {"developer_mode": true}}))
    );
    binary.stop();
}
