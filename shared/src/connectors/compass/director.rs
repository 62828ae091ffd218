//! The Compass Director's GraphQL API on the shared HTTP layer.
//!
//! Every document is a `cynic` type checked against `schemas/compass-director.graphql` when the
//! crate compiles, so a field or argument the Director does not have fails the build, not a run.
//! Requests carry an OAuth2 client-credentials token (scopes `application:read
//! application:write`) and the `tenant` header; GraphQL `errors` become [`TaskError::Api`] with
//! each message and its path. Queries and updates are replayed on a lost reply; creates and
//! deletes are not (their outcome is looked up by planning again).

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::contract::CompassTarget;
use crate::error::{Failure, TaskError};
use crate::http::{
    HttpClient, HttpRequest, HttpSettings, OAuthClientCredentials, SecretDoc, SecretString,
};

#[cynic::schema("director")]
mod schema {}

/// The scopes ferry asks the token endpoint for.
pub const SCOPES: &str = "application:read application:write";
/// Applications asked for per page (the Director's maximum).
pub const PAGE_SIZE: i32 = 200;
/// The label key of the applications this connector manages.
pub const LABEL_KEY: &str = "open_connectors";

/// `Labels`, `Any`, `HttpHeaders`: JSON values.
#[derive(cynic::Scalar, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "Labels")]
pub struct Labels(pub Value);

/// A label value.
#[derive(cynic::Scalar, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "Any")]
pub struct Any(pub Value);

/// Request headers as a map of lists.
#[derive(cynic::Scalar, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "HttpHeaders")]
pub struct HttpHeaders(pub Value);

/// Request headers as the JSON text of a map of lists.
#[derive(cynic::Scalar, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "HttpHeadersSerialized")]
pub struct HttpHeadersSerialized(pub String);

/// An opaque paging cursor.
#[derive(cynic::Scalar, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "PageCursor")]
pub struct PageCursor(pub String);

/// A spec document's text.
#[derive(cynic::Scalar, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "CLOB")]
pub struct Clob(pub String);

/// A spec's format.
#[derive(cynic::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[cynic(graphql_type = "SpecFormat")]
pub enum SpecFormat {
    /// YAML.
    Yaml,
    /// JSON.
    Json,
    /// XML.
    Xml,
}

/// A spec's type.
#[derive(cynic::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[cynic(graphql_type = "APISpecType")]
pub enum ApiSpecType {
    /// OData.
    Odata,
    /// OpenAPI.
    OpenApi,
}

/// `hasNextPage` and `endCursor`.
#[derive(cynic::QueryFragment, Debug, Clone)]
pub struct PageInfo {
    /// The cursor of the next page.
    pub end_cursor: PageCursor,
    /// Whether another page follows.
    pub has_next_page: bool,
}

/// A spec as read.
#[derive(cynic::QueryFragment, Debug, Clone)]
#[cynic(graphql_type = "APISpec")]
pub struct ApiSpec {
    /// The document.
    pub data: Option<Clob>,
    /// Its format.
    pub format: SpecFormat,
    /// Its type.
    #[cynic(rename = "type")]
    pub spec_type: ApiSpecType,
}

/// An API definition as read.
#[derive(cynic::QueryFragment, Debug, Clone)]
#[cynic(graphql_type = "APIDefinition")]
pub struct ApiDefinition {
    /// Its id.
    pub id: cynic::Id,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Where the API is served.
    #[cynic(rename = "targetURL")]
    pub target_url: String,
    /// Its spec.
    pub spec: Option<ApiSpec>,
}

/// A page of API definitions.
#[derive(cynic::QueryFragment, Debug, Clone)]
#[cynic(graphql_type = "APIDefinitionPage")]
pub struct ApiDefinitionPage {
    /// The definitions.
    pub data: Vec<ApiDefinition>,
    /// Whether more follow.
    pub page_info: PageInfo,
}

/// A bundle's default instance auth, as far as ferry compares it.
#[derive(cynic::QueryFragment, Debug, Clone)]
pub struct Auth {
    /// Extra request headers.
    pub additional_headers: Option<HttpHeaders>,
}

/// A bundle as read.
#[derive(cynic::QueryFragment, Debug, Clone)]
pub struct Bundle {
    /// Its id.
    pub id: cynic::Id,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The credentials consumers get by default.
    pub default_instance_auth: Option<Auth>,
    /// Its API definitions.
    pub api_definitions: Option<ApiDefinitionPage>,
}

/// A page of bundles.
#[derive(cynic::QueryFragment, Debug, Clone)]
pub struct BundlePage {
    /// The bundles.
    pub data: Vec<Bundle>,
    /// Whether more follow.
    pub page_info: PageInfo,
}

/// An application as read.
#[derive(cynic::QueryFragment, Debug, Clone)]
pub struct Application {
    /// Its id.
    pub id: cynic::Id,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its provider.
    pub provider_name: Option<String>,
    /// Every label, by key.
    pub labels: Option<Labels>,
    /// Its bundles.
    pub bundles: Option<BundlePage>,
}

/// A page of applications.
#[derive(cynic::QueryFragment, Debug, Clone)]
pub struct ApplicationPage {
    /// The applications.
    pub data: Vec<Application>,
    /// Whether more follow.
    pub page_info: PageInfo,
}

/// A label filter.
#[derive(cynic::InputObject, Debug, Clone)]
pub struct LabelFilter {
    /// The label key.
    pub key: String,
    /// An optional query on the value.
    #[cynic(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

#[derive(cynic::QueryVariables, Debug)]
struct ApplicationsVariables {
    filter: Option<Vec<LabelFilter>>,
    first: Option<i32>,
    after: Option<PageCursor>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "ApplicationsVariables")]
struct ApplicationsQuery {
    #[arguments(filter: $filter, first: $first, after: $after)]
    applications: ApplicationPage,
}

#[derive(cynic::QueryVariables, Debug)]
struct IdVariables {
    id: cynic::Id,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Query", variables = "IdVariables")]
struct ApplicationQuery {
    #[arguments(id: $id)]
    application: Option<Application>,
}

/// A credential placeholder is never sent: only headers.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
pub struct AuthInput {
    /// Extra request headers, as the JSON text of a map of lists.
    pub additional_headers_serialized: Option<HttpHeadersSerialized>,
}

/// A spec to store.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "APISpecInput")]
pub struct ApiSpecInput {
    /// The document.
    pub data: Option<Clob>,
    /// Its type.
    #[cynic(rename = "type")]
    pub spec_type: ApiSpecType,
    /// Its format.
    pub format: SpecFormat,
}

/// An API definition to create or replace.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
#[cynic(graphql_type = "APIDefinitionInput")]
pub struct ApiDefinitionInput {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Where the API is served.
    #[cynic(rename = "targetURL")]
    pub target_url: String,
    /// Its spec.
    pub spec: Option<ApiSpecInput>,
}

/// A bundle to create, with its API definitions.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
pub struct BundleCreateInput {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The credentials consumers get by default.
    pub default_instance_auth: Option<AuthInput>,
    /// Its API definitions.
    pub api_definitions: Option<Vec<ApiDefinitionInput>>,
}

/// A bundle's own fields, replaced whole.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
pub struct BundleUpdateInput {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// The credentials consumers get by default (none: removed).
    pub default_instance_auth: Option<AuthInput>,
}

/// A new application with its labels and bundles, registered in one step.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
pub struct ApplicationRegisterInput {
    /// Its name (the Director's rule; fixed once registered).
    pub name: String,
    /// Its provider.
    pub provider_name: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its labels.
    pub labels: Option<Labels>,
    /// Its bundles.
    pub bundles: Option<Vec<BundleCreateInput>>,
}

/// An application's own fields.
#[derive(cynic::InputObject, Debug, Clone, PartialEq)]
pub struct ApplicationUpdateInput {
    /// Its provider.
    pub provider_name: Option<String>,
    /// Its description.
    pub description: Option<String>,
}

/// The id a mutation answers with.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Application")]
struct ApplicationId {
    id: cynic::Id,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Bundle")]
struct BundleId {
    id: cynic::Id,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "APIDefinition")]
struct ApiDefinitionId {
    id: cynic::Id,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Label")]
struct LabelKey {
    key: String,
}

#[derive(cynic::QueryVariables, Debug)]
struct RegisterVariables {
    input: ApplicationRegisterInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "RegisterVariables")]
struct Register {
    #[arguments(in: $input)]
    register_application: ApplicationId,
}

#[derive(cynic::QueryVariables, Debug)]
struct UpdateApplicationVariables {
    id: cynic::Id,
    input: ApplicationUpdateInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "UpdateApplicationVariables")]
struct UpdateApplication {
    #[arguments(id: $id, in: $input)]
    update_application: ApplicationId,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "IdVariables")]
struct Unregister {
    #[arguments(id: $id)]
    unregister_application: ApplicationId,
}

#[derive(cynic::QueryVariables, Debug)]
struct LabelVariables {
    id: cynic::Id,
    key: String,
    value: Any,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "LabelVariables")]
struct SetLabel {
    #[arguments(applicationID: $id, key: $key, value: $value)]
    set_application_label: LabelKey,
}

#[derive(cynic::QueryVariables, Debug)]
struct AddBundleVariables {
    id: cynic::Id,
    input: BundleCreateInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "AddBundleVariables")]
struct AddBundle {
    #[arguments(applicationID: $id, in: $input)]
    add_bundle: BundleId,
}

#[derive(cynic::QueryVariables, Debug)]
struct UpdateBundleVariables {
    id: cynic::Id,
    input: BundleUpdateInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "UpdateBundleVariables")]
struct UpdateBundle {
    #[arguments(id: $id, in: $input)]
    update_bundle: BundleId,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "IdVariables")]
struct DeleteBundle {
    #[arguments(id: $id)]
    delete_bundle: BundleId,
}

#[derive(cynic::QueryVariables, Debug)]
struct ApiVariables {
    id: cynic::Id,
    input: ApiDefinitionInput,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "ApiVariables")]
struct AddApi {
    #[arguments(bundleID: $id, in: $input)]
    #[cynic(rename = "addAPIDefinitionToBundle")]
    add_api_definition_to_bundle: ApiDefinitionId,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "ApiVariables")]
struct UpdateApi {
    #[arguments(id: $id, in: $input)]
    #[cynic(rename = "updateAPIDefinition")]
    update_api_definition: ApiDefinitionId,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Mutation", variables = "IdVariables")]
struct DeleteApi {
    #[arguments(id: $id)]
    #[cynic(rename = "deleteAPIDefinition")]
    delete_api_definition: ApiDefinitionId,
}

/// A client of one Director tenant.
pub struct DirectorClient {
    http: HttpClient,
    url: String,
    tenant: String,
}

impl DirectorClient {
    /// A client of `target` with the client credentials its secret (`text`) holds, bound to the
    /// hosts the secret names (Compass runs on each customer's own domain, so a secret without
    /// `hosts` may reach only loopback). Both URLs are checked before anything is sent.
    pub fn new(target: &CompassTarget, text: &str, timeout: Duration) -> Result<Self, TaskError> {
        let field = "target.compass.auth_secret_arn";
        let doc = SecretDoc::parse(
            text,
            &target.auth_secret_arn,
            field,
            "{\"client_id\": …, \"client_secret\": …} (with \"hosts\")",
        )?;
        doc.only(&["client_id", "client_secret"])?;
        let (id, secret) = (doc.required("client_id")?, doc.required("client_secret")?);
        let binding = doc.binding(&[])?;
        let auth = OAuthClientCredentials::new(
            &target.token_url,
            "target.compass.token_url",
            id.trim(),
            SecretString::from(secret.trim().to_string()),
        )?
        .with_scope(SCOPES);
        let http = HttpClient::new(
            HttpSettings::new(timeout),
            Some(Arc::new(auth)),
            binding,
            "Compass",
        )?;
        http.check_host(&target.director_url)?;
        Ok(DirectorClient {
            http,
            url: target.director_url.clone(),
            tenant: target.tenant.clone(),
        })
    }

    /// Sends one operation; `resource` names what it is about in errors.
    async fn run<T: DeserializeOwned, V: serde::Serialize>(
        &self,
        operation: cynic::Operation<T, V>,
        name: &'static str,
        resource: &str,
        replayable: bool,
    ) -> Result<T, TaskError> {
        let hidden = sent_secrets(&serde_json::to_value(&operation.variables).unwrap_or_default());
        let request = HttpRequest::post(&self.url, name, resource)
            .header("tenant", &self.tenant)
            .header("accept", "application/json")
            .json(&operation)
            .hiding(hidden.clone())
            .replayable(replayable)
            .accept(&[StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY]);
        let reply: cynic::GraphQlResponse<T> = self
            .http
            .json(request)
            .await
            .map_err(|e| scrubbed(e, &hidden))?;
        if let Some(errors) = reply.errors.filter(|e| !e.is_empty()) {
            return Err(scrubbed(
                self.graphql_error(name, resource, &errors),
                &hidden,
            ));
        }
        reply.data.ok_or_else(|| {
            self.http
                .error(name, resource, Failure::Rejected, "the reply holds no data")
        })
    }

    /// Every GraphQL error, each with its path; classified by what the Director says.
    fn graphql_error(
        &self,
        name: &'static str,
        resource: &str,
        errors: &[cynic::GraphQlError],
    ) -> TaskError {
        let text: Vec<String> = errors.iter().map(describe).collect();
        let lower = text.join("; ").to_ascii_lowercase();
        let failure = if lower.contains("insufficient scopes") || lower.contains("unauthorized") {
            Failure::Unauthorized
        } else if lower.contains("not found") || lower.contains("does not exist") {
            Failure::NotFound
        } else {
            Failure::Rejected
        };
        self.http.error(name, resource, failure, text.join("; "))
    }

    /// Every application with the `open_connectors` label, page by page.
    pub async fn applications(&self) -> Result<Vec<Application>, TaskError> {
        use cynic::QueryBuilder;
        let mut all = Vec::new();
        let mut after = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let operation = ApplicationsQuery::build(ApplicationsVariables {
                filter: Some(vec![LabelFilter {
                    key: LABEL_KEY.to_string(),
                    query: None,
                }]),
                first: Some(PAGE_SIZE),
                after: after.take(),
            });
            let page = self
                .run(operation, "list applications", LABEL_KEY, true)
                .await?
                .applications;
            all.extend(page.data);
            if !page.page_info.has_next_page {
                return Ok(all);
            }
            let cursor = page.page_info.end_cursor;
            if !seen.insert(cursor.0.clone()) {
                return Err(self.http.error(
                    "list applications",
                    LABEL_KEY,
                    Failure::Rejected,
                    "the next page's cursor was already read: the listing would never end",
                ));
            }
            after = Some(cursor);
        }
    }

    /// The error of an application that is gone.
    pub fn gone(&self, id: &str, detail: String) -> TaskError {
        self.http
            .error("read application", id, Failure::NotFound, detail)
    }

    /// One application by id (none when it is gone).
    pub async fn application(&self, id: &str) -> Result<Option<Application>, TaskError> {
        use cynic::QueryBuilder;
        let operation = ApplicationQuery::build(IdVariables { id: id.into() });
        Ok(self
            .run(operation, "read application", id, true)
            .await?
            .application)
    }

    /// Registers an application with its labels and bundles in one step; returns its id.
    pub async fn register(&self, input: ApplicationRegisterInput) -> Result<String, TaskError> {
        use cynic::MutationBuilder;
        let name = input.name.clone();
        let operation = Register::build(RegisterVariables { input });
        let done = self
            .run(operation, "register application", &name, false)
            .await?;
        Ok(done.register_application.id.into_inner())
    }

    /// Replaces an application's own fields.
    pub async fn update(&self, id: &str, input: ApplicationUpdateInput) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = UpdateApplication::build(UpdateApplicationVariables {
            id: id.into(),
            input,
        });
        self.run(operation, "update application", id, true)
            .await
            .map(|done| tracing::debug!(done = %done.update_application.id.inner(), "update_application"))
    }

    /// Unregisters an application with its bundles; one already gone counts as done.
    pub async fn unregister(&self, id: &str) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = Unregister::build(IdVariables { id: id.into() });
        match self
            .run(operation, "unregister application", id, false)
            .await
        {
            Err(e) if e.is_not_found() => match self.application(id).await? {
                None => Ok(()),
                Some(_) => Err(e),
            },
            other => other.map(|done| tracing::debug!(done = %done.unregister_application.id.inner(), "unregister_application")),
        }
    }

    /// Sets one label of an application.
    pub async fn set_label(&self, id: &str, key: &str, value: Value) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = SetLabel::build(LabelVariables {
            id: id.into(),
            key: key.to_string(),
            value: Any(value),
        });
        self.run(operation, "set application label", id, true)
            .await
            .map(|done| tracing::debug!(done = %done.set_application_label.key, "set_application_label"))
    }

    /// Adds a bundle (with its API definitions) to an application.
    pub async fn add_bundle(&self, app: &str, input: BundleCreateInput) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = AddBundle::build(AddBundleVariables {
            id: app.into(),
            input,
        });
        self.run(operation, "add bundle", app, false)
            .await
            .map(|done| tracing::debug!(done = %done.add_bundle.id.inner(), "add_bundle"))
    }

    /// Replaces a bundle's own fields.
    pub async fn update_bundle(&self, id: &str, input: BundleUpdateInput) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = UpdateBundle::build(UpdateBundleVariables {
            id: id.into(),
            input,
        });
        self.run(operation, "update bundle", id, true)
            .await
            .map(|done| tracing::debug!(done = %done.update_bundle.id.inner(), "update_bundle"))
    }

    /// Deletes a bundle with its API definitions.
    pub async fn delete_bundle(&self, id: &str) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = DeleteBundle::build(IdVariables { id: id.into() });
        self.run(operation, "delete bundle", id, false)
            .await
            .map(|done| tracing::debug!(done = %done.delete_bundle.id.inner(), "delete_bundle"))
    }

    /// Adds an API definition to a bundle.
    pub async fn add_api(&self, bundle: &str, input: ApiDefinitionInput) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = AddApi::build(ApiVariables {
            id: bundle.into(),
            input,
        });
        self.run(operation, "add API definition", bundle, false)
            .await
            .map(|done| tracing::debug!(done = %done.add_api_definition_to_bundle.id.inner(), "add_api_definition_to_bundle"))
    }

    /// Replaces an API definition, keeping its id.
    pub async fn update_api(&self, id: &str, input: ApiDefinitionInput) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = UpdateApi::build(ApiVariables {
            id: id.into(),
            input,
        });
        self.run(operation, "update API definition", id, true)
            .await
            .map(|done| tracing::debug!(done = %done.update_api_definition.id.inner(), "update_api_definition"))
    }

    /// Deletes an API definition.
    pub async fn delete_api(&self, id: &str) -> Result<(), TaskError> {
        use cynic::MutationBuilder;
        let operation = DeleteApi::build(IdVariables { id: id.into() });
        self.run(operation, "delete API definition", id, false)
            .await
            .map(|done| tracing::debug!(done = %done.delete_api_definition.id.inner(), "delete_api_definition"))
    }
}

/// The credentials a document's variables carry: header values (`additionalHeadersSerialized`
/// and other `…Headers…` fields, as sent and parsed) and values under secret-looking names. A
/// Director error may quote its input; these never reach an error.
fn sent_secrets(variables: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_secrets(variables, false, &mut found);
    let parts: Vec<String> = found.iter().flat_map(|v| credential_parts(v)).collect();
    found.extend(parts);
    found.retain(|s| s.len() >= 8);
    found
}

/// The credentials of a `Scheme value, Scheme value` header (`User …, Organization …, Element …`),
/// each alone, so that none shows even where a reply quotes the header only in part.
fn credential_parts(header: &str) -> Vec<String> {
    header
        .split(',')
        .filter_map(|part| part.trim().split_once(' '))
        .map(|(_, value)| value.trim().to_string())
        .collect()
}

fn collect_secrets(value: &Value, secret: bool, found: &mut Vec<String>) {
    match value {
        Value::String(text) if secret => {
            found.push(text.clone());
            if let Ok(inner) = serde_json::from_str::<Value>(text) {
                collect_secrets(&inner, true, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, secret, found)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            let named = k.contains("Headers") || crate::declarative::diff::is_secret_name(k);
            collect_secrets(v, secret || named, found);
        }),
        _ => {}
    }
}

/// `error` with every `hidden` value in its detail replaced.
fn scrubbed(error: TaskError, hidden: &[String]) -> TaskError {
    match error {
        TaskError::Api {
            service,
            operation,
            resource,
            failure,
            mut detail,
            retry_after_seconds,
        } => {
            for secret in hidden {
                detail = detail.replace(secret.as_str(), crate::declarative::diff::REDACTED);
            }
            TaskError::Api {
                service,
                operation,
                resource,
                failure,
                detail,
                retry_after_seconds,
            }
        }
        other => other,
    }
}

/// `message (at a.b.0)`.
fn describe(error: &cynic::GraphQlError) -> String {
    let path: Vec<String> = error
        .path
        .iter()
        .flatten()
        .map(|segment| match segment {
            cynic::GraphQlErrorPathSegment::Field(name) => name.clone(),
            cynic::GraphQlErrorPathSegment::Index(i) => i.to_string(),
        })
        .collect();
    if path.is_empty() {
        error.message.clone()
    } else {
        format!("{} (at {})", error.message, path.join("."))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn credentials_sent_in_a_document_never_reach_its_error() {
        let header = "User u-secret-1, Organization o-secret-2, Element e-token-3";
        let serialized = json!({"Authorization": [header]}).to_string();
        let variables = json!({"input": {"name": "oc-1", "bundles": [{"name": "sfdc",
            "defaultInstanceAuth": {"additionalHeadersSerialized": serialized}}]}});
        let hidden = sent_secrets(&variables);
        assert!(hidden.contains(&header.to_string()), "{hidden:?}");
        assert!(!hidden.contains(&"oc-1".to_string()));
        let error = TaskError::Api {
            service: "Compass",
            operation: "register application",
            resource: "oc-1".into(),
            failure: Failure::Rejected,
            detail: format!("invalid header value '{header}' (at registerApplication)"),
            retry_after_seconds: None,
        };
        let text = scrubbed(error, &hidden).to_string();
        assert!(!text.contains("e-token-3"), "{text}");
        assert!(text.contains("(at registerApplication)"), "{text}");
        let partial = TaskError::Api {
            service: "Compass",
            operation: "update bundle",
            resource: "b1".into(),
            failure: Failure::Rejected,
            detail: "header 'User u-secret-1, Organization o-sec".into(),
            retry_after_seconds: None,
        };
        let text = scrubbed(partial, &hidden).to_string();
        assert!(
            !text.contains("u-secret-1"),
            "each credential alone is hidden too: {text}"
        );
    }
}
