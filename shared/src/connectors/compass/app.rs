//! Compass applications as entities: the body ferry compares, built the same way from an Open
//! Connectors instance (the desired state) and from a Director application (the current state),
//! and the Director inputs that make an application look like a body.
//!
//! An application's identity is its `open_connectors` label's `connectorInstanceID` within one
//! context (`connectorInstanceContext`, the OC host); its name is set once, at registration
//! (`<prefix>-<instance id>`: the Director cannot rename an application), so it is not compared.
//! A spec is compared as its normalised document (parsed, keys sorted) and shown by its digest.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::director::{
    ApiDefinition, ApiDefinitionInput, ApiSpecInput, ApiSpecType, Application,
    ApplicationRegisterInput, ApplicationUpdateInput, AuthInput, Bundle, BundleCreateInput,
    BundleUpdateInput, Clob, HttpHeadersSerialized, LABEL_KEY, Labels, SpecFormat,
};
use super::oc::Instance;
use crate::checksum::sha256_hex;
use crate::ddb_json::canonical;
use crate::declarative::Entity;
use crate::declarative::entity::sorted;
use crate::error::TaskError;

/// The one kind this platform has.
pub const APPLICATION: &str = "application";
/// The provider name of every application ferry registers.
pub const PROVIDER: &str = "SAP Open Connectors";
/// The label field holding the OC host.
pub const CONTEXT_FIELD: &str = "connectorInstanceContext";
/// The label field holding the instance id.
pub const INSTANCE_FIELD: &str = "connectorInstanceID";

/// An application as compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppBody {
    /// `SAP Open Connectors <connector>: <instance>`.
    pub description: Option<String>,
    /// [`PROVIDER`].
    pub provider_name: Option<String>,
    /// The `open_connectors` label's value.
    pub label: Value,
    /// Its bundles by name.
    pub bundles: Vec<BundleBody>,
}

/// A bundle as compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleBody {
    /// The connector key.
    pub name: String,
    /// `<connector>: <instance>`.
    pub description: Option<String>,
    /// SHA-256 of the default instance auth's `Authorization` header, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_sha256: Option<String>,
    /// Its API definitions by name.
    pub apis: Vec<ApiBody>,
}

/// An API definition as compared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiBody {
    /// The connector key.
    pub name: String,
    /// `<connector>: <instance>`.
    pub description: Option<String>,
    /// The OC platform API URL.
    pub target_url: String,
    /// `OPEN_API` or `ODATA`.
    pub spec_type: String,
    /// `JSON`, `YAML` or `XML`.
    pub spec_format: String,
    /// SHA-256 of the normalised document.
    pub digest: String,
    /// The normalised document (a JSON document parsed; any other text as it is).
    pub spec: Value,
}

/// The label value of `instance` in `context`.
pub fn label(context: &str, instance: &str) -> Value {
    json!({CONTEXT_FIELD: context, INSTANCE_FIELD: instance})
}

/// `document` normalised (keys sorted) and its digest.
pub fn normalised_spec(document: &Value) -> (Value, String) {
    let spec = sorted(document);
    let digest = sha256_hex(canonical(&spec).as_bytes());
    (spec, digest)
}

/// The desired application of `instance`, its spec and (with `element_header`) its header's digest.
pub fn desired(
    context: &str,
    oc_url: &str,
    instance: &Instance,
    document: &Value,
    credential_sha256: Option<String>,
) -> Entity {
    let (spec, digest) = normalised_spec(document);
    let element = &instance.element;
    let about = format!("{}: {}", element.name, instance.name);
    let body = AppBody {
        description: Some(format!("{PROVIDER} {about}")),
        provider_name: Some(PROVIDER.to_string()),
        label: label(context, &instance.id.to_string()),
        bundles: vec![BundleBody {
            name: element.key.clone(),
            description: Some(about.clone()),
            credential_sha256,
            apis: vec![ApiBody {
                name: element.key.clone(),
                description: Some(about),
                target_url: oc_url.to_string(),
                spec_type: "OPEN_API".into(),
                spec_format: "JSON".into(),
                digest,
                spec,
            }],
        }],
    };
    entity(&instance.id.to_string(), &body)
}

fn entity(id: &str, body: &AppBody) -> Entity {
    Entity::new(
        APPLICATION,
        id,
        &serde_json::to_value(body).unwrap_or_default(),
    )
}

/// The instance id of an application labelled in `context` (none: another context, another
/// label shape, or no label).
pub fn identity(app: &Application, context: &str) -> Option<String> {
    let value = app.labels.as_ref()?.0.get(LABEL_KEY)?;
    let in_context = value
        .get(CONTEXT_FIELD)?
        .as_str()?
        .eq_ignore_ascii_case(context);
    let id = match value.get(INSTANCE_FIELD)? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (in_context && !id.is_empty()).then_some(id)
}

/// The body of an application as the Director holds it.
pub fn current_body(app: &Application) -> Result<AppBody, TaskError> {
    let label = app
        .labels
        .as_ref()
        .and_then(|l| l.0.get(LABEL_KEY))
        .cloned()
        .unwrap_or(Value::Null);
    let mut bundles = Vec::new();
    if let Some(page) = &app.bundles {
        whole_page(page.page_info.has_next_page, "bundles", &app.name)?;
        for bundle in &page.data {
            bundles.push(bundle_body(bundle, &app.name)?);
        }
    }
    bundles.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(AppBody {
        description: app.description.clone(),
        provider_name: app.provider_name.clone(),
        label: sorted(&label),
        bundles,
    })
}

/// The entity of a current application.
pub fn current(app: &Application, id: &str) -> Result<Entity, TaskError> {
    Ok(entity(id, &current_body(app)?))
}

fn whole_page(has_next: bool, what: &str, app: &str) -> Result<(), TaskError> {
    if has_next {
        return Err(TaskError::Mismatch(format!(
            "application {app} has more than one page of {what}: ferry manages applications with one bundle and one API each"
        )));
    }
    Ok(())
}

/// The body of a bundle as the Director holds it (`app` names the application in errors).
pub fn bundle_body(bundle: &Bundle, app: &str) -> Result<BundleBody, TaskError> {
    let mut apis = Vec::new();
    if let Some(page) = &bundle.api_definitions {
        whole_page(page.page_info.has_next_page, "API definitions", app)?;
        apis = page.data.iter().map(api_body).collect();
    }
    apis.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(BundleBody {
        name: bundle.name.clone(),
        description: bundle.description.clone(),
        credential_sha256: bundle
            .default_instance_auth
            .as_ref()
            .and_then(|a| a.additional_headers.as_ref())
            .and_then(|h| authorization(&h.0))
            .map(|value| sha256_hex(value.as_bytes())),
        apis,
    })
}

/// The first `Authorization` value of a headers map (`{"Authorization": ["…"]}`).
fn authorization(headers: &Value) -> Option<String> {
    let map = headers.as_object()?;
    let (_, values) = map
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))?;
    match values {
        Value::Array(list) => list.first()?.as_str().map(str::to_string),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn api_body(api: &ApiDefinition) -> ApiBody {
    let (spec_type, spec_format, data) = match &api.spec {
        Some(spec) => (
            format!("{:?}", spec.spec_type),
            format!("{:?}", spec.format),
            spec.data.as_ref().map(|d| d.0.clone()).unwrap_or_default(),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let (spec, digest) = match serde_json::from_str::<Value>(&data) {
        Ok(document) => normalised_spec(&document),
        Err(_) => (Value::String(data.clone()), sha256_hex(data.as_bytes())),
    };
    ApiBody {
        name: api.name.clone(),
        description: api.description.clone(),
        target_url: api.target_url.clone(),
        spec_type: spec_type_name(&spec_type),
        spec_format: spec_format.to_ascii_uppercase(),
        digest,
        spec,
    }
}

fn spec_type_name(debug: &str) -> String {
    match debug {
        "OpenApi" => "OPEN_API".into(),
        "Odata" => "ODATA".into(),
        other => other.to_ascii_uppercase(),
    }
}

/// A desired entity's body.
pub fn body_of(entity: &Entity) -> Result<AppBody, TaskError> {
    serde_json::from_value(entity.body.clone()).map_err(|e| {
        TaskError::Mismatch(format!(
            "{}: the bundle's application is not one ferry wrote: {e}",
            entity.key()
        ))
    })
}

/// The header a bundle's default instance auth carries, as an input.
pub fn auth_input(header: Option<&str>) -> Option<AuthInput> {
    header.map(|value| AuthInput {
        additional_headers_serialized: Some(HttpHeadersSerialized(
            json!({"Authorization": [value]}).to_string(),
        )),
    })
}

/// The input of one API definition.
pub fn api_input(api: &ApiBody) -> ApiDefinitionInput {
    let data = match &api.spec {
        Value::String(text) => text.clone(),
        document => canonical(document),
    };
    ApiDefinitionInput {
        name: api.name.clone(),
        description: api.description.clone(),
        target_url: api.target_url.clone(),
        spec: Some(ApiSpecInput {
            data: Some(Clob(data)),
            spec_type: if api.spec_type == "ODATA" {
                ApiSpecType::Odata
            } else {
                ApiSpecType::OpenApi
            },
            format: match api.spec_format.as_str() {
                "YAML" => SpecFormat::Yaml,
                "XML" => SpecFormat::Xml,
                _ => SpecFormat::Json,
            },
        }),
    }
}

/// The input of a new bundle with its APIs.
pub fn bundle_input(bundle: &BundleBody, header: Option<&str>) -> BundleCreateInput {
    BundleCreateInput {
        name: bundle.name.clone(),
        description: bundle.description.clone(),
        default_instance_auth: auth_input(header),
        api_definitions: Some(bundle.apis.iter().map(api_input).collect()),
    }
}

/// The input replacing a bundle's own fields.
pub fn bundle_update(bundle: &BundleBody, header: Option<&str>) -> BundleUpdateInput {
    BundleUpdateInput {
        name: bundle.name.clone(),
        description: bundle.description.clone(),
        default_instance_auth: auth_input(header),
    }
}

/// The registration of a new application `name`.
pub fn register_input(
    name: String,
    body: &AppBody,
    headers: &[Option<String>],
) -> ApplicationRegisterInput {
    let bundles = body
        .bundles
        .iter()
        .zip(headers.iter().chain(std::iter::repeat(&None)))
        .map(|(b, h)| bundle_input(b, h.as_deref()))
        .collect();
    ApplicationRegisterInput {
        name,
        provider_name: body.provider_name.clone(),
        description: body.description.clone(),
        labels: Some(Labels(json!({LABEL_KEY: body.label}))),
        bundles: Some(bundles),
    }
}

/// The update of an application's own fields.
pub fn update_input(body: &AppBody) -> ApplicationUpdateInput {
    ApplicationUpdateInput {
        provider_name: body.provider_name.clone(),
        description: body.description.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn application(labels: Value) -> Application {
        serde_json::from_value(json!({
            "id": "a1", "name": "oc-7", "description": null, "providerName": null,
            "labels": labels, "bundles": {"data": [], "pageInfo": {"endCursor": "", "hasNextPage": false}}
        }))
        .unwrap()
    }

    #[test]
    fn identity_is_the_label_pair_within_one_context() {
        let ours = application(
            json!({"open_connectors": {"connectorInstanceContext": "API.oc.example", "connectorInstanceID": 7}}),
        );
        assert_eq!(identity(&ours, "api.oc.example").as_deref(), Some("7"));
        assert_eq!(identity(&ours, "other.example"), None);
        let unlabelled = application(json!({"scenarios": ["DEFAULT"]}));
        assert_eq!(identity(&unlabelled, "api.oc.example"), None);
        let flat = application(json!({"open_connectors": "7"}));
        assert_eq!(identity(&flat, "api.oc.example"), None);
    }

    #[test]
    fn specs_compare_as_documents_and_text_as_text() {
        let (a, digest_a) = normalised_spec(&json!({"b": 1, "a": {"y": 2, "x": 1}}));
        let (_, digest_b) = normalised_spec(&json!({"a": {"x": 1, "y": 2}, "b": 1}));
        assert_eq!(digest_a, digest_b, "key order is not a change");
        assert_eq!(canonical(&a), r#"{"a":{"x":1,"y":2},"b":1}"#);
        let api: ApiDefinition = serde_json::from_value(json!({
            "id": "x", "name": "sfdc", "description": null, "targetURL": "https://oc.example",
            "spec": {"data": "openapi: 3.0.0", "format": "YAML", "type": "OPEN_API"}
        }))
        .unwrap();
        let body = api_body(&api);
        assert_eq!(
            (body.spec_type.as_str(), body.spec_format.as_str()),
            ("OPEN_API", "YAML")
        );
        assert_eq!(body.spec, json!("openapi: 3.0.0"));
        assert_eq!(
            api_input(&body).spec.unwrap().data.unwrap().0,
            "openapi: 3.0.0"
        );
    }
}
