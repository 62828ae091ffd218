//! oc_sim: the Open Connectors simulator answers as the contract describes — the exact
//! `User …, Organization …` header, every instance exactly once across cursor pages, tag filters,
//! an OpenAPI document per instance, instances changed through the control API showing up as
//! changed, and faults that fire on matching requests until spent.

use reqwest::{Client, Response};
use serde_json::{Value, json};

use ferry_tests::oc_sim::{
    Endpoint, Fault, InstanceChange, InstanceSeed, NEXT_PAGE_HEADER, OrgSeed, Simulator, TagMatch,
    shared,
};
use ferry_tests::sim_kit::client::{Control, SeededBinary, read, slow_once};
use ferry_tests::sim_kit::control::ControlStore;
use ferry_tests::unique;

/// An organization of the shared simulator reached with its secrets.
struct Org {
    http: Client,
    name: String,
    user: String,
    secret: String,
}

impl Org {
    /// Creates the organization of `seed` under a unique name and unique secrets.
    fn new(seed: OrgSeed) -> Org {
        let (name, user, secret) = (unique("oc"), unique("user=="), unique("org"));
        shared().add_org(OrgSeed {
            name: name.clone(),
            user_secret: user.clone(),
            organization_secret: secret.clone(),
            ..seed
        });
        Org {
            http: Client::new(),
            name,
            user,
            secret,
        }
    }

    fn authorization(&self) -> String {
        format!("User {}, Organization {}", self.user, self.secret)
    }

    async fn get_with(&self, path: &str, authorization: Option<&str>) -> Response {
        let url = format!("{}{path}", shared().base_url());
        let mut request = self.http.get(url).header("accept", "application/json");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().await.unwrap()
    }

    async fn get(&self, path: &str) -> Response {
        self.get_with(path, Some(&self.authorization())).await
    }

    async fn json(&self, path: &str) -> (u16, Value) {
        read(self.get(path).await).await
    }

    /// Every page of `GET /instances?{query}`, following the next-page header.
    async fn pages(&self, query: &str) -> Vec<Vec<Value>> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let next = cursor
                .as_ref()
                .map(|c| format!("&nextPage={c}"))
                .unwrap_or_default();
            let response = self.get(&format!("/instances?{query}{next}")).await;
            cursor = next_page(&response);
            let (status, body) = read(response).await;
            assert_eq!(status, 200, "{body}");
            pages.push(body.as_array().unwrap().clone());
            if cursor.is_none() {
                return pages;
            }
            assert!(pages.len() < 50, "paging does not end");
        }
    }

    async fn names(&self, query: &str) -> Vec<String> {
        let pages = self.pages(query).await;
        let all = pages.into_iter().flatten();
        all.map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn inject(&self, fault: Fault) {
        shared().inject(&self.name, fault);
    }

    fn ids(&self) -> Vec<i64> {
        let view = shared().store().org(&self.name).unwrap();
        view.instances.iter().map(|i| i.id).collect()
    }
}

fn next_page(response: &Response) -> Option<String> {
    let value = response.headers().get(NEXT_PAGE_HEADER)?;
    let token = value.to_str().unwrap().to_string();
    (!token.is_empty()).then_some(token)
}

fn crm(name: &str) -> InstanceSeed {
    InstanceSeed::new(name, "sfdc")
}

#[tokio::test]
async fn only_the_exact_user_and_organization_secrets_are_let_in() {
    let org = Org::new(OrgSeed::default().instance(crm("crm")));
    let other = Org::new(OrgSeed::default());
    let (user, secret) = (&org.user, &org.secret);
    let refused = [
        None,
        Some(format!("User {user}, Organization {}", other.secret)),
        Some(format!("User {}, Organization {secret}", other.user)),
        Some(format!("Organization {secret}, User {user}")),
        Some(format!("User {user},Organization {secret}")),
        Some(format!("User  {user}, Organization {secret}")),
        Some(format!("User {user}, Organization {secret}, Element abc")),
        Some(format!("Bearer {user}")),
    ];
    for authorization in &refused {
        for path in ["/instances", "/instances/1/docs"] {
            let response = org.get_with(path, authorization.as_deref()).await;
            let (status, body) = read(response).await;
            assert_eq!(status, 401, "{authorization:?} on {path}");
            assert!(
                body["message"].as_str().unwrap().contains("secret"),
                "{body}"
            );
            assert!(body["requestId"].is_string());
        }
    }
    let (status, body) = org.json("/instances").await;
    assert_eq!((status, body.as_array().unwrap().len()), (200, 1));
    let counts = shared().store().counts(&org.name);
    assert_eq!(
        counts.by_status.get(&401),
        Some(&10),
        "5 refusals name this org's secret"
    );
    assert_eq!(counts.by_status.get(&200), Some(&1));
}

#[tokio::test]
async fn four_hundred_fifty_instances_come_in_pages_of_200_each_exactly_once() {
    let seed = (0..450).fold(OrgSeed::default(), |seed, n| {
        seed.instance(crm(&format!("crm-{n:03}")))
    });
    let org = Org::new(seed);
    let pages = org.pages("").await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [200, 200, 50]);
    let served: Vec<i64> = pages
        .iter()
        .flatten()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert!(
        served.windows(2).all(|w| w[0] < w[1]),
        "in id order, none twice"
    );
    assert_eq!(served, org.ids(), "every instance");

    let sizes: Vec<usize> = org
        .pages("pageSize=100")
        .await
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [100, 100, 100, 100, 50]);
    let sizes: Vec<usize> = org
        .pages("pageSize=1000")
        .await
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(sizes, [200, 200, 50], "page size is at most 200");
    assert_eq!(org.json("/instances?pageSize=0").await.0, 400);
    assert_eq!(org.json("/instances?nextPage=bogus").await.0, 400);

    let first = org.get("/instances?pageSize=2").await;
    let cursor = next_page(&first).unwrap();
    shared().store().delete(served[2]);
    let (_, second) = org
        .json(&format!("/instances?pageSize=2&nextPage={cursor}"))
        .await;
    let ids: Vec<i64> = second
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        [served[3], served[4]],
        "a deleted instance is skipped, no other"
    );
}

#[tokio::test]
async fn instances_carry_the_fields_the_job_reads() {
    let seed = crm("Sales EU").id(9_100_001).token("tok/en=").tag("crm");
    let org = Org::new(OrgSeed::default().instance(seed));
    let (_, body) = org.json("/instances").await;
    let instance = &body[0];
    assert_eq!(instance["id"], 9_100_001);
    assert_eq!(instance["name"], "Sales EU");
    assert_eq!(instance["token"], "tok/en=");
    assert_eq!(instance["element"]["id"], 23);
    assert_eq!(instance["element"]["name"], "Salesforce Sales Cloud");
    assert_eq!(instance["element"]["key"], "sfdc");
    assert_eq!(instance["elementId"], 23);
    assert_eq!(instance["tags"], json!(["crm"]));
    assert_eq!(
        (instance["valid"].clone(), instance["disabled"].clone()),
        (json!(true), json!(false))
    );
    assert!(instance["createdDate"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn tags_filter_instances_having_any_of_them_across_pages() {
    let seed = OrgSeed::default()
        .instance(crm("eu-crm").tag("eu").tag("crm"))
        .instance(crm("us-crm").tag("us").tag("crm"))
        .instance(InstanceSeed::new("eu-shop", "shopify").tag("eu"))
        .instance(InstanceSeed::new("untagged", "zendesk"))
        .instance(InstanceSeed::new("apac-files", "dropbox").tag("apac"));
    let org = Org::new(seed.clone());
    assert_eq!(org.names("tags[]=eu").await, ["eu-crm", "eu-shop"]);
    assert_eq!(
        org.names("tags[]=eu&tags[]=apac&pageSize=1").await,
        ["eu-crm", "eu-shop", "apac-files"]
    );
    assert_eq!(
        org.names("tags%5B%5D=us").await,
        ["us-crm"],
        "encoded brackets"
    );
    assert!(org.names("tags[]=none").await.is_empty());
    assert_eq!(org.names("").await.len(), 5);

    let strict = Org::new(seed.tag_match(TagMatch::All));
    assert_eq!(strict.names("tags[]=eu&tags[]=crm").await, ["eu-crm"]);
}

#[tokio::test]
async fn each_instance_serves_its_own_openapi_document_and_unknown_ids_are_not_found() {
    let seed = OrgSeed::default()
        .instance(crm("crm"))
        .instance(InstanceSeed::new("shop", "shopify"))
        .instance(InstanceSeed::new("erp", "acme-erp"));
    let org = Org::new(seed);
    let ids = org.ids();
    let (status, sfdc) = org
        .json(&format!("/instances/{}/docs?version=-1", ids[0]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(sfdc["swagger"], "2.0");
    assert_eq!(sfdc["info"]["title"], "Salesforce Sales Cloud");
    assert_eq!(sfdc["basePath"], "/elements/api-v2/hubs/crm");
    assert!(sfdc["paths"]["/accounts/{id}"]["patch"].is_object());
    assert!(sfdc["definitions"]["Account"].is_object());
    let (_, shop) = org.json(&format!("/instances/{}/docs", ids[1])).await;
    assert!(shop["paths"]["/orders"]["get"].is_object());
    assert!(shop["paths"].get("/accounts").is_none());
    let (_, erp) = org
        .json(&format!("/instances/{}/docs?version=-1", ids[2]))
        .await;
    assert_eq!(erp["basePath"], "/elements/api-v2/hubs/general");

    let other = Org::new(OrgSeed::default().instance(crm("theirs")));
    let theirs = other.ids()[0];
    for path in [
        format!("/instances/{theirs}/docs?version=-1"),
        "/instances/1/docs?version=-1".to_string(),
        "/instances/abc/docs".to_string(),
        format!("/instances/{}/docs?version=3", ids[0]),
    ] {
        let (status, body) = org.json(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["message"].is_string());
    }
    assert_eq!(
        org.json(&format!("/instances/{}/docs?version=x", ids[0]))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn renamed_respecced_rotated_and_deleted_instances_show_up_as_such() {
    let seed = OrgSeed::default()
        .instance(crm("old-name"))
        .instance(crm("respecced"))
        .instance(crm("rotated"))
        .instance(crm("deleted"))
        .instance(crm("replaced"));
    let org = Org::new(seed);
    let ids = org.ids();
    let http = Client::new();
    let control = |path: String| format!("{}/control{path}", shared().origin());
    let send =
        |request: reqwest::RequestBuilder| async { read(request.send().await.unwrap()).await };

    let (status, renamed) = send(
        http.patch(control(format!("/instances/{}", ids[0])))
            .json(&json!({"name": "new-name"})),
    )
    .await;
    assert_eq!((status, renamed["name"].clone()), (200, json!("new-name")));
    let path =
        json!({"path": "/reports", "item": {"get": {"responses": {"200": {"description": "OK"}}}}});
    assert_eq!(
        send(
            http.post(control(format!("/instances/{}/spec/paths", ids[1])))
                .json(&path)
        )
        .await
        .0,
        200
    );
    let (_, rotated) = send(http.post(control(format!("/instances/{}/token", ids[2])))).await;
    let new_token = rotated["token"].as_str().unwrap().to_string();
    assert_eq!(
        send(http.delete(control(format!("/instances/{}", ids[3]))))
            .await
            .0,
        200
    );
    let document =
        json!({"swagger": "2.0", "info": {"title": "custom", "version": "1"}, "paths": {}});
    assert_eq!(
        send(
            http.put(control(format!("/instances/{}/spec", ids[4])))
                .json(&document)
        )
        .await
        .0,
        200
    );

    let listed: Vec<Value> = org.pages("").await.into_iter().flatten().collect();
    let names: Vec<&str> = listed.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["new-name", "respecced", "rotated", "replaced"]);
    assert_eq!(listed[2]["token"], new_token.as_str());
    let (_, respecced) = org
        .json(&format!("/instances/{}/docs?version=-1", ids[1]))
        .await;
    assert!(respecced["paths"]["/reports"]["get"].is_object());
    assert!(
        respecced["paths"]["/accounts"].is_object(),
        "the derived paths stay"
    );
    let (_, untouched) = org
        .json(&format!("/instances/{}/docs?version=-1", ids[0]))
        .await;
    assert!(untouched["paths"].get("/reports").is_none());
    assert_eq!(
        org.json(&format!("/instances/{}/docs?version=-1", ids[3]))
            .await
            .0,
        404
    );
    assert_eq!(
        org.json(&format!("/instances/{}/docs?version=-1", ids[4]))
            .await
            .1,
        document
    );

    let change = InstanceChange {
        tags: Some(vec!["moved".into()]),
        disabled: Some(true),
        ..InstanceChange::default()
    };
    shared().store().change(ids[0], change).unwrap();
    let (_, moved) = org.json("/instances?tags[]=moved").await;
    assert_eq!(
        (moved[0]["id"].as_i64(), moved[0]["disabled"].clone()),
        (Some(ids[0]), json!(true))
    );
    let missing = send(
        http.patch(control(format!("/instances/{}", ids[3])))
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(missing.0, 404);
}

#[tokio::test]
async fn each_fault_kind_fires_on_matching_requests_then_is_spent() {
    let org = Org::new(OrgSeed::default().instance(crm("crm")));
    let id = org.ids()[0];
    let docs = format!("/instances/{id}/docs?version=-1");

    org.inject(Fault::unauthorized(1));
    assert_eq!(
        org.json("/instances").await.0,
        401,
        "even with the right secrets"
    );
    assert_eq!(org.json("/instances").await.0, 200);

    org.inject(Fault::throttle(2, 7).on(Endpoint::Instances));
    assert_eq!(org.json(&docs).await.0, 200, "docs do not match");
    for _ in 0..2 {
        let response = org.get("/instances").await;
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    assert_eq!(org.json("/instances").await.0, 200);

    org.inject(Fault::server_error(1).on(Endpoint::Docs));
    assert_eq!(
        org.json("/instances").await.0,
        200,
        "the list does not match"
    );
    let (status, body) = org.json(&docs).await;
    assert_eq!((status, body["requestId"].is_string()), (500, true));
    assert_eq!(org.json(&docs).await.0, 200);

    org.inject(Fault::slow(1, 300));
    let (slow, _) = slow_once(300, || org.json("/instances")).await;
    assert_eq!(slow.0, 200);

    org.inject(Fault::server_error(3));
    assert_eq!(shared().store().org(&org.name).unwrap().faults.len(), 1);
    assert!(shared().store().clear_faults(&org.name));
    assert_eq!(org.json("/instances").await.0, 200);
    let counts = shared().store().counts(&org.name);
    assert_eq!((counts.by_status[&429], counts.by_status[&500]), (2, 1));
}

#[tokio::test]
async fn a_docs_fault_on_one_instance_leaves_the_others_fine() {
    let org = Org::new(OrgSeed::default().instance(crm("a")).instance(crm("b")));
    let ids = org.ids();
    let docs = |id: i64| format!("/instances/{id}/docs?version=-1");
    org.inject(Fault::server_error(2).on_instance(ids[0]));
    assert_eq!(org.json(&docs(ids[1])).await.0, 200);
    assert_eq!(org.json("/instances").await.0, 200);
    assert_eq!(org.json(&docs(ids[0])).await.0, 500);
    assert_eq!(org.json(&docs(ids[1])).await.0, 200);
    assert_eq!(org.json(&docs(ids[0])).await.0, 500);
    assert_eq!(org.json(&docs(ids[0])).await.0, 200, "spent");
    let counts = shared().store().counts(&org.name);
    assert_eq!(counts.docs_by_instance[&ids[0]], 3);
    assert_eq!(counts.docs_by_instance[&ids[1]], 2);
    assert_eq!((counts.instances, counts.docs, counts.total), (1, 5, 6));
}

#[tokio::test]
async fn the_control_api_seeds_counts_and_resets_without_logging_secrets() {
    let sim = Simulator::start(0);
    let http = Client::new();
    let control = Control::new(format!("{}/control", sim.origin()));
    let seed = json!({"name": "acme", "user_secret": "u-secret", "organization_secret": "o-secret",
        "instances": [{"id": 7, "name": "crm", "element": {"key": "sfdc"}, "tags": ["t"]}]});
    let (status, view) = control.post("/orgs", &seed).await;
    assert_eq!(
        (status, view["instances"][0]["id"].clone()),
        (200, json!(7))
    );
    let clash = json!({"name": "other", "user_secret": "x", "organization_secret": "o-secret"});
    assert_eq!(control.post("/orgs", &clash).await.0, 400);
    let taken = json!({"id": 7, "name": "again", "element": {"key": "sfdc"}});
    assert_eq!(control.post("/orgs/acme/instances", &taken).await.0, 400);
    let added = json!({"name": "shop", "element": {"key": "shopify"}});
    let (_, shop) = control.post("/orgs/acme/instances", &added).await;
    assert!(shop["id"].as_i64().unwrap() > 7);

    let fault = json!({"fault": "throttle", "retry_after_seconds": 3, "endpoint": "docs", "instance_id": 7});
    assert_eq!(control.post("/orgs/acme/faults", &fault).await.0, 200);
    let armed = sim.store().org("acme").unwrap().faults;
    assert_eq!(
        armed,
        [Fault::throttle(1, 3).on(Endpoint::Docs).on_instance(7)]
    );
    let api = |path: &str| {
        http.get(format!("{}{path}", sim.base_url()))
            .header("authorization", "User u-secret, Organization o-secret")
            .send()
    };
    assert_eq!(
        api("/instances/7/docs").await.unwrap().headers()["retry-after"],
        "3"
    );
    assert_eq!(api("/instances").await.unwrap().status(), 200);
    let (_, counts) = control.get("/counts?org=acme").await;
    assert_eq!(counts["docs_by_instance"], json!({"7": 1}));
    assert_eq!(counts["by_status"], json!({"200": 1, "429": 1}));
    let log = control.get("/requests?org=acme").await.1.to_string();
    assert!(log.contains("/elements/api-v2/instances/7/docs"));
    assert!(
        !log.contains("u-secret") && !log.contains("o-secret"),
        "the log holds a secret"
    );

    assert_eq!(control.post("/reset", &json!({})).await.0, 200);
    assert!(sim.store().org("acme").is_none());
    assert!(sim.store().requests().is_empty());
    assert_eq!(api("/instances").await.unwrap().status(), 401);
}

#[tokio::test]
async fn the_binary_serves_its_seed_until_stdin_closes() {
    let seed = json!({"orgs": [{"name": "acme", "user_secret": "u", "organization_secret": "o",
        "instances": [{"name": "crm", "element": {"key": "sfdc"}}]}]});
    let binary = SeededBinary::start(env!("CARGO_BIN_EXE_oc-sim"), "oc-sim", &seed);
    let response = Client::new()
        .get(format!("{}/elements/api-v2/instances", binary.origin()))
        .header("authorization", "User u, Organization o")
        .send();
    let (status, body) = read(response.await.unwrap()).await;
    assert_eq!((status, body[0]["name"].clone()), (200, json!("crm")));
    binary.stop();
}
