//! The OpenAPI (Swagger 2.0) document an instance serves at `/instances/{id}/docs`: derived from
//! its connector (one collection and one item path per resource, a definition per resource, a
//! `/ping`), every operation taking the `Authorization` header; plus the path items a test added,
//! unless a test replaced the whole document.

use serde_json::{Map, Value, json};

use super::catalog::{self, Resource};
use super::model::ElementView;

/// The document of an instance of `element`, as reached through `host`, with `extra` path items
/// added (replacing derived ones of the same path).
pub(crate) fn derived(element: &ElementView, host: &str, extra: &Map<String, Value>) -> Value {
    let (hub, resources) = catalog::shape(&element.key);
    let mut paths = Map::new();
    let mut definitions = Map::new();
    for resource in resources {
        paths.insert(format!("/{}", resource.plural), collection(resource));
        paths.insert(format!("/{}/{{id}}", resource.plural), item(resource));
        definitions.insert(resource.singular.to_string(), definition(resource));
    }
    paths.insert("/ping".to_string(), ping());
    for (path, item) in extra {
        paths.insert(path.clone(), item.clone());
    }
    json!({
        "swagger": "2.0",
        "info": {
            "title": element.name,
            "description": format!("The {} connector ({}) through SAP Open Connectors", element.name, element.key),
            "version": "v2"
        },
        "host": host,
        "basePath": format!("/elements/api-v2/hubs/{hub}"),
        "schemes": ["http"],
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "paths": paths,
        "definitions": definitions
    })
}

fn authorization() -> Value {
    json!({
        "name": "Authorization",
        "in": "header",
        "required": true,
        "type": "string",
        "description": "User <user secret>, Organization <organization secret>, Element <instance token>"
    })
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "type": kind, "description": description})
}

fn id_parameter() -> Value {
    json!({"name": "id", "in": "path", "required": true, "type": "string"})
}

fn body_parameter(resource: &Resource) -> Value {
    json!({"name": "body", "in": "body", "required": true, "schema": reference(resource)})
}

fn reference(resource: &Resource) -> Value {
    json!({"$ref": format!("#/definitions/{}", resource.singular)})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"200": {"description": description, "schema": schema}})
}

fn operation(resource: &Resource, verb: &str, parameters: Vec<Value>, responses: Value) -> Value {
    json!({
        "tags": [resource.plural],
        "operationId": format!("{verb}{}", capitalised(resource.plural)),
        "summary": format!("{verb} {}", resource.plural),
        "parameters": parameters,
        "responses": responses
    })
}

fn collection(resource: &Resource) -> Value {
    let list = vec![
        authorization(),
        query("where", "string", "A CEQL search expression"),
        query("pageSize", "integer", "The page size"),
        query(
            "nextPage",
            "string",
            "The elements-next-page-token of the previous page",
        ),
    ];
    let many = json!({"type": "array", "items": reference(resource)});
    json!({
        "get": operation(resource, "get", list, ok("OK", many)),
        "post": operation(resource, "create", vec![authorization(), body_parameter(resource)], ok("OK", reference(resource)))
    })
}

fn item(resource: &Resource) -> Value {
    let by_id = || vec![authorization(), id_parameter()];
    let with_body = vec![authorization(), id_parameter(), body_parameter(resource)];
    json!({
        "get": operation(resource, "get", by_id(), ok("OK", reference(resource))),
        "patch": operation(resource, "update", with_body, ok("OK", reference(resource))),
        "delete": operation(resource, "delete", by_id(), json!({"200": {"description": "OK"}}))
    })
}

fn definition(resource: &Resource) -> Value {
    let mut properties = Map::new();
    properties.insert("id".to_string(), json!({"type": "string"}));
    for field in resource.fields {
        properties.insert((*field).to_string(), json!({"type": "string"}));
    }
    json!({"type": "object", "properties": properties})
}

fn ping() -> Value {
    json!({"get": {
        "tags": ["ping"],
        "operationId": "ping",
        "summary": "Checks that the instance is reachable",
        "parameters": [authorization()],
        "responses": {"200": {"description": "OK"}}
    }})
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_follows_the_connector_and_takes_added_paths() {
        let element = ElementView {
            id: 23,
            name: "Salesforce Sales Cloud".into(),
            key: "sfdc".into(),
        };
        let mut extra = Map::new();
        extra.insert("/reports".into(), json!({"get": {"responses": {}}}));
        let doc = derived(&element, "127.0.0.1:9", &extra);
        assert_eq!(doc["swagger"], "2.0");
        assert_eq!(doc["basePath"], "/elements/api-v2/hubs/crm");
        assert_eq!(doc["host"], "127.0.0.1:9");
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/accounts",
            "/accounts/{id}",
            "/opportunities",
            "/ping",
            "/reports",
        ] {
            assert!(paths.contains_key(path), "{path} is missing");
        }
        assert_eq!(
            doc["paths"]["/accounts"]["get"]["responses"]["200"]["schema"]["items"]["$ref"],
            "#/definitions/Account"
        );
        assert!(doc["definitions"]["Opportunity"]["properties"]["StageName"].is_object());
        assert_eq!(
            doc["paths"]["/leads/{id}"]["get"]["operationId"],
            "getLeads"
        );
    }
}
