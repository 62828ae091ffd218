//! director_sim: the Compass Director simulator executes GraphQL for real over the project's SDL
//! file — documents the Director would reject are rejected, applications page and filter by
//! label as the contract describes, the name rule and uniqueness hold, bundles and API
//! definitions live and die with their application, tenants are isolated — behind its own
//! OAuth2 token endpoint (secrets, lifetimes, scopes), with faults that fire until spent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use reqwest::Client;
use serde_json::{Value, json};

use ferry_tests::director_sim::{ClientSeed, Fault, SDL, Simulator, served_sdl};
use ferry_tests::sim_kit::client::{SeededBinary, read};

const READ: &str = "application:read";
const WRITE: &str = "application:write";
const BOTH: &str = "application:read application:write";

/// A simulator with tenants `t1` and `t2`, a read-write client `ferry` and a read-only client
/// `reader`, and a read-write token.
struct Director {
    sim: Simulator,
    http: Client,
    token: String,
}

/// A GraphQL answer: status, body and the `Retry-After` header.
struct Answer {
    status: u16,
    body: Value,
    retry_after: Option<String>,
}

impl Director {
    async fn start() -> Director {
        let sim = Simulator::start(0);
        sim.store().add_tenant("t1");
        sim.store().add_tenant("t2");
        sim.store()
            .add_client(ClientSeed::new("ferry", "s3cret", &[READ, WRITE]));
        sim.store()
            .add_client(ClientSeed::new("reader", "r3ad", &[READ]));
        let http = Client::new();
        let mut director = Director {
            sim,
            http,
            token: String::new(),
        };
        director.token = director.token_for("ferry", "s3cret", BOTH).await;
        director
    }

    /// A token of the client, asked for by HTTP Basic.
    async fn token_for(&self, id: &str, secret: &str, scope: &str) -> String {
        let (status, body) = self
            .token_request(Some((id, secret)), &[("scope", scope)])
            .await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    async fn token_request(
        &self,
        basic: Option<(&str, &str)>,
        fields: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(fields);
        let mut request = self.http.post(self.sim.token_url()).form(&form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        read(request.send().await.unwrap()).await
    }

    /// A request as `token` (none: no `Authorization`) for `tenant` (none: no header).
    async fn send(
        &self,
        token: Option<&str>,
        tenant: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Answer {
        let body = json!({"query": query, "variables": variables});
        let mut request = self.http.post(self.sim.graphql_url()).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(tenant) = tenant {
            request = request.header("tenant", tenant);
        }
        let response = request.send().await.unwrap();
        let retry_after = response.headers().get("retry-after");
        let retry_after = retry_after.map(|v| v.to_str().unwrap().to_string());
        let (status, body) = read(response).await;
        Answer {
            status,
            body,
            retry_after,
        }
    }

    /// A request with the read-write token.
    async fn gql(&self, tenant: &str, query: &str, variables: Value) -> Answer {
        self.send(Some(&self.token), Some(tenant), query, variables)
            .await
    }

    /// `data` of a request that must succeed.
    async fn data(&self, tenant: &str, query: &str, variables: Value) -> Value {
        let answer = self.gql(tenant, query, variables).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.get("errors").is_none(), "{}", answer.body);
        answer.body["data"].clone()
    }

    fn stored(&self, tenant: &str) -> Vec<Value> {
        self.sim.store().applications(tenant).unwrap()
    }

    fn seed(&self, tenant: &str, input: Value) -> Value {
        self.sim.store().seed_application(tenant, input).unwrap()
    }
}

/// The messages of a GraphQL answer's errors, joined.
fn messages(body: &Value) -> String {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let texts: Vec<&str> = errors
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    texts.join(" | ")
}

const REGISTER: &str = "mutation($in: ApplicationRegisterInput!) {
    registerApplication(in: $in) { id name labels }
}";

const LIST: &str = "query($filter: [LabelFilter!], $first: Int, $after: PageCursor) {
    applications(filter: $filter, first: $first, after: $after) {
        data { id name }
        pageInfo { startCursor endCursor hasNextPage }
        totalCount
    }
}";

fn names(page: &Value) -> Vec<String> {
    let data = page["applications"]["data"].as_array().unwrap();
    data.iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect()
}

/// Type name → its members as text: fields with arguments and types, input fields, enum
/// values, union members.
fn members(sdl: &str) -> BTreeMap<String, BTreeSet<String>> {
    let document = parse_schema(sdl).unwrap();
    let mut types = BTreeMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let arg = |a: &async_graphql::parser::types::InputValueDefinition| {
            let default = a.default_value.as_ref().map(|d| format!(" = {}", d.node));
            format!(
                "{}: {}{}",
                a.name.node,
                a.ty.node,
                default.unwrap_or_default()
            )
        };
        let items: BTreeSet<String> = match &ty.kind {
            TypeKind::Object(o) => o
                .fields
                .iter()
                .map(|f| {
                    let args: Vec<String> = f.node.arguments.iter().map(|a| arg(&a.node)).collect();
                    format!(
                        "{}({}): {}",
                        f.node.name.node,
                        args.join(", "),
                        f.node.ty.node
                    )
                })
                .chain(
                    o.implements
                        .iter()
                        .map(|i| format!("implements {}", i.node)),
                )
                .collect(),
            TypeKind::Interface(i) => i
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.node.name.node, f.node.ty.node))
                .collect(),
            TypeKind::InputObject(i) => i.fields.iter().map(|f| arg(&f.node)).collect(),
            TypeKind::Enum(e) => e
                .values
                .iter()
                .map(|v| v.node.value.node.to_string())
                .collect(),
            TypeKind::Union(u) => u.members.iter().map(|m| m.node.to_string()).collect(),
            TypeKind::Scalar => BTreeSet::from(["scalar".to_string()]),
        };
        types.insert(ty.name.node.to_string(), items);
    }
    types
}

#[tokio::test]
async fn the_served_schema_has_every_type_field_and_argument_of_the_sdl_file() {
    let file = members(SDL);
    let served = members(&served_sdl());
    assert!(file.len() > 50, "the file has {} types", file.len());
    for (name, items) in &file {
        assert_eq!(served.get(name), Some(items), "type {name}");
    }
    let extra: Vec<&String> = served.keys().filter(|n| !file.contains_key(*n)).collect();
    assert!(extra.is_empty(), "types not in the file: {extra:?}");
}

#[tokio::test]
async fn documents_the_director_would_reject_are_refused_with_errors() {
    let director = Director::start().await;
    let refused = [
        (
            "{ applications { data { id nonsense } } }",
            json!({}),
            "nonsense",
        ),
        (
            "{ applications(first: \"ten\") { totalCount } }",
            json!({}),
            "first",
        ),
        (
            "mutation { registerApplication(in: {description: \"no name\"}) { id } }",
            json!({}),
            "name",
        ),
        (REGISTER, json!({"in": {"description": "no name"}}), "name"),
        (
            "mutation { addBundle(applicationID: \"x\", in: {name: \"b\", apiDefinitions: [{name: \"a\", targetURL: \"https://x\", spec: {type: SWAGGER, format: JSON}}]}) { id } }",
            json!({}),
            "SWAGGER",
        ),
        ("{ application { id } }", json!({}), "id"),
    ];
    for (query, variables, named) in refused {
        let answer = director.gql("t1", query, variables).await;
        assert_eq!(answer.status, 422, "{query}: {}", answer.body);
        assert!(answer.body["data"].is_null(), "{}", answer.body);
        let error = &answer.body["errors"][0];
        assert!(
            messages(&answer.body).contains(named),
            "{query}: {}",
            answer.body
        );
        assert_eq!(error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED");
    }
    let broken = director.gql("t1", "{ applications {", json!({})).await;
    assert_eq!(broken.status, 422);
    assert_eq!(
        broken.body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
    assert!(director.stored("t1").is_empty());
    let counts = director.sim.store().counts();
    assert_eq!((counts.queries, counts.mutations, counts.other), (3, 3, 1));
}

#[tokio::test]
async fn paging_with_first_200_returns_450_applications_exactly_once() {
    let director = Director::start().await;
    let seeded: BTreeSet<String> = (0..450)
        .map(|i| {
            let app = director.seed("t1", json!({"name": format!("app-{i:03}")}));
            app["id"].as_str().unwrap().to_string()
        })
        .collect();
    let (mut seen, mut sizes, mut after) = (Vec::new(), Vec::new(), Value::Null);
    loop {
        let variables = json!({"first": 200, "after": after});
        let page = director.data("t1", LIST, variables).await["applications"].clone();
        assert_eq!(page["totalCount"], 450);
        let data = page["data"].as_array().unwrap();
        sizes.push(data.len());
        seen.extend(data.iter().map(|a| a["id"].as_str().unwrap().to_string()));
        if page["pageInfo"]["hasNextPage"] == false {
            assert_eq!(page["pageInfo"]["endCursor"], "");
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(sizes, [200, 200, 50]);
    assert_eq!(seen.len(), 450, "no application twice");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), seeded);
    let default = director.data("t1", LIST, json!({})).await;
    assert_eq!(names(&default).len(), 200, "the default page is 200");
    assert_eq!(names(&default)[..2], ["app-000", "app-001"], "name order");
    let too_big = director.gql("t1", LIST, json!({"first": 201})).await;
    assert_eq!(too_big.body["errors"][0]["path"], json!(["applications"]));
    assert!(messages(&too_big.body).contains("page size"));
}

#[tokio::test]
async fn label_filters_select_by_key_and_by_exact_value() {
    let director = Director::start().await;
    let oc =
        |host: &str, id: &str| json!({"connectorInstanceContext": host, "connectorInstanceID": id});
    let apps = [
        (
            "alpha",
            json!({"open_connectors": oc("api.eu", "1"), "scenarios": ["DEFAULT", "sync"], "env": "prod"}),
        ),
        (
            "beta",
            json!({"open_connectors": oc("api.us", "2"), "scenarios": ["DEFAULT"], "env": "dev"}),
        ),
        ("gamma", json!({"scenarios": ["sync"]})),
        ("delta", json!({})),
    ];
    for (name, labels) in apps {
        director.seed("t1", json!({"name": name, "labels": labels}));
    }
    let filtered = |filter: Value| {
        let director = &director;
        async move {
            let page = director.data("t1", LIST, json!({"filter": filter})).await;
            names(&page)
        }
    };
    assert_eq!(
        filtered(json!([{"key": "open_connectors"}])).await,
        ["alpha", "beta"]
    );
    let single = "{ applications(filter: {key: \"open_connectors\"}) { data { name } } }";
    let single = director.data("t1", single, json!({})).await;
    assert_eq!(
        names(&single),
        ["alpha", "beta"],
        "one filter coerces to a list"
    );
    let sync = json!([{"key": "scenarios", "query": "$[*] ? (@ == \"sync\")"}]);
    assert_eq!(filtered(sync).await, ["alpha", "gamma"]);
    let either =
        json!([{"key": "scenarios", "query": "$[*] ? (@ == \"nope\" || @ == \"DEFAULT\")"}]);
    assert_eq!(filtered(either).await, ["alpha", "beta"]);
    assert_eq!(
        filtered(json!([{"key": "env", "query": "\"dev\""}])).await,
        ["beta"]
    );
    let context =
        json!([{"key": "open_connectors", "query": "{\"connectorInstanceContext\": \"api.eu\"}"}]);
    assert_eq!(filtered(context).await, ["alpha"]);
    let both = json!([{"key": "scenarios", "query": "$[*] ? (@ == \"DEFAULT\")"}, {"key": "env", "query": "\"prod\""}]);
    assert_eq!(filtered(both).await, ["alpha"], "filters intersect");
    let unsupported = json!({"filter": [{"key": "env", "query": "$.x > 3"}]});
    let answer = director.gql("t1", LIST, unsupported).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["errors"][0]["path"], json!(["applications"]));
    assert!(
        messages(&answer.body).contains("label filter {key: \"env\""),
        "{}",
        answer.body
    );
}

#[tokio::test]
async fn names_breaking_the_rule_are_refused_and_nothing_is_stored() {
    let director = Director::start().await;
    let too_long = "a".repeat(37);
    for name in [
        "",
        "9lives",
        "Upper",
        "with space",
        "under_score",
        too_long.as_str(),
    ] {
        let bundle = json!({"name": "b", "apiDefinitions": [{"name": "api", "targetURL": "https://x",
            "spec": {"type": "OPEN_API", "format": "JSON", "data": "{}"}}]});
        let input = json!({"name": name, "bundles": [bundle]});
        let answer = director.gql("t1", REGISTER, json!({"in": input})).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body["data"].is_null(), "{name}: {}", answer.body);
        assert_eq!(
            answer.body["errors"][0]["path"],
            json!(["registerApplication"])
        );
        assert!(
            messages(&answer.body).contains("in.name"),
            "{}",
            answer.body
        );
    }
    assert!(director.stored("t1").is_empty());
    for name in ["a".repeat(36), "app.v2-x".to_string()] {
        let data = director
            .data("t1", REGISTER, json!({"in": {"name": name}}))
            .await;
        assert_eq!(data["registerApplication"]["name"], name.as_str());
    }
    let literal = "mutation { registerApplication(in: {name: \"oc-7\",
        labels: {open_connectors: {connectorInstanceContext: \"api.oc\", connectorInstanceID: \"7\"}}}) { labels } }";
    let data = director.data("t1", literal, json!({})).await;
    let labels = json!({"open_connectors": {"connectorInstanceContext": "api.oc", "connectorInstanceID": "7"}});
    assert_eq!(
        data["registerApplication"]["labels"], labels,
        "labels as an object literal"
    );
    assert_eq!(director.stored("t1").len(), 3);
}

#[tokio::test]
async fn a_name_is_unique_within_its_tenant_only() {
    let director = Director::start().await;
    let input = json!({"in": {"name": "dup", "description": "first"}});
    director.data("t1", REGISTER, input.clone()).await;
    let again = director
        .gql("t1", REGISTER, json!({"in": {"name": "dup"}}))
        .await;
    assert_eq!(
        again.body["errors"][0]["path"],
        json!(["registerApplication"])
    );
    assert!(
        messages(&again.body).contains("not unique"),
        "{}",
        again.body
    );
    let stored = director.stored("t1");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["description"], "first");
    director.data("t2", REGISTER, input).await;
    assert_eq!(director.stored("t2").len(), 1);
}

const APP: &str = "query($id: ID!) { application(id: $id) {
    id name description labels status { condition }
    bundles { totalCount data { id name apiDefinitions { data { id name targetURL
        spec { type format data } version { value deprecated forRemoval } } } } }
} }";

#[tokio::test]
async fn an_application_keeps_its_id_through_api_label_and_description_updates() {
    let director = Director::start().await;
    let input = json!({
        "name": "oc-42", "description": "SAP Cloud Platform Open Connectors sfdc: acme",
        "labels": {"open_connectors": {"connectorInstanceContext": "api.oc", "connectorInstanceID": "42"}},
        "bundles": [{"name": "sfdc", "defaultInstanceAuth": {
            "credential": {"basic": {"username": "u", "password": "p"}},
            "additionalHeaders": {"Authorization": ["User a, Organization b, Element c"]}},
            "apiDefinitions": [{"name": "sfdc", "targetURL": "https://api.oc/elements/api-v2",
                "version": {"value": "1"},
                "spec": {"type": "OPEN_API", "format": "JSON", "data": "{\"swagger\": \"2.0\"}"}}]}]
    });
    let registered = director.data("t1", REGISTER, json!({"in": input})).await;
    let app_id = registered["registerApplication"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = director.data("t1", APP, json!({"id": app_id})).await["application"].clone();
    let bundle = &app["bundles"]["data"][0];
    let api = &bundle["apiDefinitions"]["data"][0];
    assert_eq!(
        api["version"],
        json!({"value": "1", "deprecated": false, "forRemoval": false})
    );
    let api_id = api["id"].as_str().unwrap().to_string();

    let update_api = "mutation($id: ID!, $in: APIDefinitionInput!) {
        updateAPIDefinition(id: $id, in: $in) { id spec { data } } }";
    let new_api = json!({"name": "sfdc", "targetURL": "https://api.oc/elements/api-v2",
        "spec": {"type": "OPEN_API", "format": "JSON", "data": "{\"swagger\": \"2.1\"}"}});
    let updated = director
        .data("t1", update_api, json!({"id": api_id, "in": new_api}))
        .await;
    assert_eq!(updated["updateAPIDefinition"]["id"], api_id.as_str());
    let set_label = "mutation($id: ID!) {
        setApplicationLabel(applicationID: $id, key: \"managed_by\", value: [\"ferry\"]) { key value } }";
    let label = director.data("t1", set_label, json!({"id": app_id})).await;
    assert_eq!(
        label["setApplicationLabel"],
        json!({"key": "managed_by", "value": ["ferry"]})
    );
    let update_app = "mutation($id: ID!) {
        updateApplication(id: $id, in: {description: \"renamed instance\"}) { id name description } }";
    let changed = director.data("t1", update_app, json!({"id": app_id})).await;
    let expected = json!({"id": app_id, "name": "oc-42", "description": "renamed instance"});
    assert_eq!(changed["updateApplication"], expected);

    let after = director.data("t1", APP, json!({"id": app_id})).await["application"].clone();
    assert_eq!(after["id"], app_id.as_str());
    assert_eq!(
        after["labels"]["open_connectors"]["connectorInstanceID"],
        "42"
    );
    assert_eq!(after["labels"]["managed_by"], json!(["ferry"]));
    let api = &after["bundles"]["data"][0]["apiDefinitions"]["data"][0];
    assert_eq!(
        (&api["id"], &api["spec"]["data"]),
        (&json!(api_id), &json!("{\"swagger\": \"2.1\"}"))
    );
    let stored = director.sim.store().application("t1", &app_id).unwrap();
    let auth = &stored["bundles"][0]["defaultInstanceAuth"];
    assert_eq!(
        auth["credential"],
        json!({"username": "u", "password": "p"})
    );
    let with_union = "query($id: ID!) { application(id: $id) { bundles { data {
        defaultInstanceAuth { credential { ... on BasicCredentialData { username } } additionalHeaders } } } } }";
    let read = director.data("t1", with_union, json!({"id": app_id})).await;
    let auth = &read["application"]["bundles"]["data"][0]["defaultInstanceAuth"];
    assert_eq!(auth["credential"], json!({"username": "u"}));
    assert_eq!(
        auth["additionalHeaders"]["Authorization"][0],
        "User a, Organization b, Element c"
    );
}

#[tokio::test]
async fn unregistering_removes_the_application_with_its_bundles() {
    let director = Director::start().await;
    let app = director.seed("t1", json!({"name": "gone", "bundles": [{"name": "b", "apiDefinitions": [
        {"name": "a", "targetURL": "https://x", "spec": {"type": "ODATA", "format": "XML", "data": "<x/>"}}]}]}));
    director.seed("t1", json!({"name": "kept"}));
    let (app_id, bundle_id) = (
        app["id"].as_str().unwrap(),
        app["bundles"][0]["id"].as_str().unwrap(),
    );
    let unregister = "mutation($id: ID!) { unregisterApplication(id: $id) { id name } }";
    let removed = director.data("t1", unregister, json!({"id": app_id})).await;
    assert_eq!(removed["unregisterApplication"]["name"], "gone");
    let read = director.data("t1", APP, json!({"id": app_id})).await;
    assert!(read["application"].is_null());
    let add_api = "mutation($id: ID!) { addAPIDefinitionToBundle(bundleID: $id, in: {name: \"n\", targetURL: \"https://x\"}) { id } }";
    let orphan = director.gql("t1", add_api, json!({"id": bundle_id})).await;
    assert_eq!(
        orphan.body["errors"][0]["path"],
        json!(["addAPIDefinitionToBundle"])
    );
    assert!(
        messages(&orphan.body).contains(bundle_id),
        "{}",
        orphan.body
    );
    let again = director.gql("t1", unregister, json!({"id": app_id})).await;
    assert!(
        messages(&again.body).contains("Object not found"),
        "{}",
        again.body
    );
    let stored = director.stored("t1");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["name"], "kept");
}

#[tokio::test]
async fn tenants_see_and_change_only_their_own_applications() {
    let director = Director::start().await;
    let app = director.seed("t1", json!({"name": "mine"}));
    let app_id = app["id"].as_str().unwrap();
    assert!(names(&director.data("t2", LIST, json!({})).await).is_empty());
    let read = director.data("t2", APP, json!({"id": app_id})).await;
    assert!(read["application"].is_null());
    let update =
        "mutation($id: ID!) { updateApplication(id: $id, in: {description: \"x\"}) { id } }";
    let foreign = director.gql("t2", update, json!({"id": app_id})).await;
    assert_eq!(
        foreign.body["errors"][0]["path"],
        json!(["updateApplication"])
    );
    assert!(
        director
            .sim
            .store()
            .application("t1", app_id)
            .unwrap()
            .get("description")
            .is_none()
    );
    let unknown = director.gql("t9", LIST, json!({})).await;
    assert!(
        messages(&unknown.body).contains("tenant \"t9\" not found"),
        "{}",
        unknown.body
    );
    let token = director.token.clone();
    let headless = director.send(Some(&token), None, LIST, json!({})).await;
    assert!(
        messages(&headless.body).contains("tenant header"),
        "{}",
        headless.body
    );
}

#[tokio::test]
async fn tokens_need_the_right_secret_must_be_alive_and_carry_the_scopes() {
    let director = Director::start().await;
    let (status, body) = director.token_request(Some(("ferry", "wrong")), &[]).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    let form = [("client_id", "ferry"), ("client_secret", "wrong")];
    let (status, body) = director.token_request(None, &form).await;
    assert_eq!((status, &body["error"]), (401, &json!("invalid_client")));
    let form = [
        ("client_id", "ferry"),
        ("client_secret", "s3cret"),
        ("scope", BOTH),
    ];
    let (status, body) = director.token_request(None, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["token_type"], &body["scope"], &body["expires_in"]),
        (&json!("bearer"), &json!(BOTH), &json!(3600))
    );
    let (status, body) = director
        .token_request(Some(("reader", "r3ad")), &[("scope", BOTH)])
        .await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_scope")));

    let no_token = director.send(None, Some("t1"), LIST, json!({})).await;
    assert_eq!(no_token.status, 401);
    let forged = director
        .send(Some("forged"), Some("t1"), LIST, json!({}))
        .await;
    assert_eq!(forged.status, 401);

    let reader = director.token_for("reader", "r3ad", READ).await;
    let listed = director
        .send(Some(&reader), Some("t1"), LIST, json!({}))
        .await;
    assert!(listed.body.get("errors").is_none(), "{}", listed.body);
    let input = json!({"in": {"name": "nope"}});
    let denied = director
        .send(Some(&reader), Some("t1"), REGISTER, input)
        .await;
    assert_eq!(
        denied.body["errors"][0]["path"],
        json!(["registerApplication"])
    );
    assert!(
        messages(&denied.body).contains("insufficient scopes"),
        "{}",
        denied.body
    );
    let unscoped = director.token_for("ferry", "s3cret", "").await;
    let unread = director
        .send(Some(&unscoped), Some("t1"), LIST, json!({}))
        .await;
    assert!(
        messages(&unread.body).contains("required: [application:read]"),
        "{}",
        unread.body
    );
    assert!(director.stored("t1").is_empty());

    director.sim.store().set_token_lifetime(1);
    let short = director.token_for("ferry", "s3cret", BOTH).await;
    let fresh = director
        .send(Some(&short), Some("t1"), LIST, json!({}))
        .await;
    assert_eq!(fresh.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = director
        .send(Some(&short), Some("t1"), LIST, json!({}))
        .await;
    assert_eq!(expired.status, 401, "{}", expired.body);
}

#[tokio::test]
async fn faults_answer_401_429_500_and_slow_replies_until_spent() {
    let director = Director::start().await;
    let store = director.sim.store();
    store.inject(Fault::throttle(1, 7));
    store.inject(Fault::server_error(1));
    let throttled = director.gql("t1", LIST, json!({})).await;
    assert_eq!(
        (throttled.status, throttled.retry_after.as_deref()),
        (429, Some("7"))
    );
    assert_eq!(director.gql("t1", LIST, json!({})).await.status, 500);
    assert_eq!(director.gql("t1", LIST, json!({})).await.status, 200);

    store.inject(Fault::unauthorized(1));
    assert_eq!(director.gql("t1", LIST, json!({})).await.status, 401);
    let revoked = director.gql("t1", LIST, json!({})).await;
    assert_eq!(revoked.status, 401, "the revoked token stays refused");
    let renewed = director.token_for("ferry", "s3cret", BOTH).await;
    let ok = director
        .send(Some(&renewed), Some("t1"), LIST, json!({}))
        .await;
    assert_eq!(ok.status, 200);

    store.inject(Fault::server_error(1).mutations_only());
    let query = director
        .send(Some(&renewed), Some("t1"), LIST, json!({}))
        .await;
    assert_eq!(query.status, 200, "queries pass a mutation fault");
    let input = json!({"in": {"name": "x"}});
    let mutation = director
        .send(Some(&renewed), Some("t1"), REGISTER, input)
        .await;
    assert_eq!(mutation.status, 500);
    assert!(director.stored("t1").is_empty());

    store.inject(Fault::slow(1, 300));
    let started = Instant::now();
    let slow = director
        .send(Some(&renewed), Some("t1"), LIST, json!({}))
        .await;
    assert_eq!(slow.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(store.faults().is_empty());
    let counts = store.counts();
    assert_eq!((counts.queries, counts.mutations), (8, 1));
}

#[tokio::test]
async fn the_control_api_seeds_lists_arms_counts_and_resets() {
    let sim = Simulator::start(0);
    let http = Client::new();
    let control = |path: &str| format!("{}/control{path}", sim.origin());
    let post = |path: &str, body: Value| http.post(control(path)).json(&body).send();
    assert_eq!(
        post("/tenants", json!({"id": "acme"}))
            .await
            .unwrap()
            .status(),
        200
    );
    let client = json!({"id": "c", "secret": "s", "scopes": [READ]});
    assert_eq!(post("/clients", client).await.unwrap().status(), 200);
    let apps =
        json!([{"name": "b-app", "id": "11111111-1111-4111-8111-111111111111"}, {"name": "a-app"}]);
    let (status, body) = read(post("/tenants/acme/applications", apps).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["applications"][0]["id"],
        "11111111-1111-4111-8111-111111111111"
    );
    let bad = json!({"name": "Bad Name"});
    let (status, body) = read(post("/tenants/acme/applications", bad).await.unwrap()).await;
    assert_eq!(status, 400);
    assert!(
        body["message"].as_str().unwrap().contains("in.name"),
        "{body}"
    );
    let (status, _) = read(
        post("/tenants/nobody/applications", json!({"name": "x"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let listed = http
        .get(control("/tenants/acme/applications"))
        .send()
        .await
        .unwrap();
    let (_, listed) = read(listed).await;
    let listed_names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed_names, ["a-app", "b-app"]);
    assert_eq!(listed[0]["status"]["condition"], "INITIAL");

    let fault =
        json!({"fault": "throttle", "retry_after_seconds": 3, "count": 2, "mutations_only": true});
    assert_eq!(post("/faults", fault).await.unwrap().status(), 200);
    assert_eq!(
        sim.store().faults(),
        [Fault::throttle(2, 3).mutations_only()]
    );
    let lifetime = http
        .put(control("/token-lifetime"))
        .json(&json!({"seconds": 5}));
    assert_eq!(lifetime.send().await.unwrap().status(), 200);
    let token = http
        .post(sim.token_url())
        .basic_auth("c", Some("s"))
        .form(&[("grant_type", "client_credentials"), ("scope", READ)]);
    let (status, token) = read(token.send().await.unwrap()).await;
    assert_eq!((status, &token["expires_in"]), (200, &json!(5)));
    let counted = http.get(control("/counts")).send().await.unwrap();
    let (_, counts) = read(counted).await;
    assert_eq!(
        (&counts["token_requests"], &counts["tokens_issued"]),
        (&json!(1), &json!(1))
    );

    assert_eq!(post("/reset", json!({})).await.unwrap().status(), 200);
    assert!(sim.store().applications("acme").is_none());
    assert!(sim.store().faults().is_empty());
    let seed = json!({"tenants": [{"id": "t", "applications": [{"name": "seeded"}]}], "clients": [client_seed()]});
    assert_eq!(post("/seed", seed).await.unwrap().status(), 200);
    assert_eq!(sim.store().applications("t").unwrap()[0]["name"], "seeded");
}

fn client_seed() -> Value {
    json!({"id": "c", "secret": "s", "scopes": [READ, WRITE]})
}

#[tokio::test]
async fn the_binary_serves_its_seed_until_stdin_closes() {
    let seed = json!({
        "tenants": [{"id": "t", "applications": [{"name": "from-seed", "labels": {"env": "prod"}}]}],
        "clients": [client_seed()],
        "token_lifetime_seconds": 60
    });
    let binary = SeededBinary::start(env!("CARGO_BIN_EXE_director-sim"), "director-sim", &seed);
    let origin = binary.origin();
    let http = Client::new();
    let token = http.post(format!("{origin}/oauth2/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "c"),
        ("client_secret", "s"),
        ("scope", READ),
    ]);
    let (status, token) = read(token.send().await.unwrap()).await;
    assert_eq!((status, &token["expires_in"]), (200, &json!(60)));
    let query = json!({"query": "{ applications { data { name labels(key: \"env\") } } }"});
    let response = http
        .post(format!("{origin}/graphql"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("tenant", "t")
        .json(&query)
        .send();
    let (status, body) = read(response.await.unwrap()).await;
    assert_eq!(status, 200);
    let expected = json!({"data": {"applications": {"data": [{"name": "from-seed", "labels": {"env": "prod"}}]}}});
    assert_eq!(body, expected);
    binary.stop();
}
