//! One Cloud Data Fusion instance's CDAP REST API, on the shared HTTP layer with Google tokens:
//! the instance resolved (through the Data Fusion API to its `apiEndpoint` and version, or an
//! endpoint given as it is and its `GET /v3/version`), then namespaces, pipelines (applications),
//! compute profiles, preferences and pipeline runs. Every call checks its status: anything but
//! the success the call expects (or a 404 where absence is an answer) fails with the CDAP reply.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::contract::DataFusionInstance;
use crate::declarative::entity::encode;
use crate::error::{Failure, TaskError};
use crate::http::{HttpClient, HttpRequest, HttpSettings, google_credentials};

/// The workflow every batch pipeline runs as.
pub const WORKFLOW: &str = "DataPipelineWorkflow";
/// The artifacts a pipeline application is deployed from.
pub const PIPELINE_ARTIFACTS: &[&str] = &["cdap-data-pipeline", "cdap-data-streams"];

/// A client of one instance, resolved.
pub struct CdapClient {
    http: HttpClient,
    /// The CDAP base URL (`…/api`), without a trailing slash.
    base: String,
    /// The instance's CDAP version.
    version: String,
    /// How people name the instance.
    name: String,
}

/// The fields of a Data Fusion instance resource ferry reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstanceResource {
    api_endpoint: Option<String>,
    version: Option<String>,
    state: Option<String>,
}

/// A profile as CDAP lists it.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    /// Its name.
    pub name: String,
    /// `ENABLED` or `DISABLED`.
    #[serde(default)]
    pub status: Option<String>,
    /// The whole document.
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// One started run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The run id CDAP gave it.
    pub run_id: String,
}

impl CdapClient {
    /// The HTTP client of an instance: its credentials secret (`text`, named by `field`) read and
    /// checked (shape, key, host binding). Nothing is sent yet.
    pub fn client(
        instance: &DataFusionInstance,
        text: &str,
        field: &str,
        timeout: Duration,
    ) -> Result<HttpClient, TaskError> {
        let creds = google_credentials(text, &instance.auth_secret_arn, field)?;
        HttpClient::new(
            HttpSettings::new(timeout),
            Some(creds.auth),
            creds.binding,
            "Data Fusion",
        )
    }

    /// Resolves the instance: its CDAP endpoint and version.
    pub async fn open(http: HttpClient, instance: &DataFusionInstance) -> Result<Self, TaskError> {
        let name = instance.describe().to_string();
        match (&instance.instance, &instance.api_endpoint) {
            (Some(resource), _) => Self::resolve(http, instance, resource).await,
            (None, Some(endpoint)) => {
                http.check_host(endpoint)?;
                let base = endpoint.trim_end_matches('/').to_string();
                let reply: Value = http
                    .json(HttpRequest::get(
                        format!("{base}/v3/version"),
                        "read version",
                        &name,
                    ))
                    .await?;
                let version = text_field(&reply, "version").ok_or_else(|| {
                    http.error(
                        "read version",
                        &name,
                        Failure::Rejected,
                        "the reply names no version",
                    )
                })?;
                Ok(CdapClient {
                    http,
                    base,
                    version,
                    name,
                })
            }
            (None, None) => Err(TaskError::Mismatch(
                "a Data Fusion side names neither instance nor api_endpoint".to_string(),
            )),
        }
    }

    /// `GET {control plane}/v1/{instance}`: the instance's CDAP endpoint and version.
    async fn resolve(
        http: HttpClient,
        instance: &DataFusionInstance,
        resource: &str,
    ) -> Result<Self, TaskError> {
        let url = format!("{}/v1/{resource}", instance.control_plane());
        http.check_host(&url)?;
        let found: InstanceResource = http
            .json(HttpRequest::get(url, "read instance", resource))
            .await?;
        if let Some(state) = found.state.as_deref().filter(|s| *s != "RUNNING") {
            let passing = matches!(state, "CREATING" | "UPDATING" | "UPGRADING" | "RESTARTING");
            return Err(http.error(
                "read instance",
                resource,
                if passing {
                    Failure::Retryable
                } else {
                    Failure::Rejected
                },
                format!("the instance is {state}, not RUNNING"),
            ));
        }
        let (Some(base), Some(version)) = (found.api_endpoint, found.version) else {
            return Err(http.error(
                "read instance",
                resource,
                Failure::Rejected,
                "the instance has no apiEndpoint or version",
            ));
        };
        http.check_host(&base)?;
        Ok(CdapClient {
            http,
            base: base.trim_end_matches('/').to_string(),
            version,
            name: resource.to_string(),
        })
    }

    /// The instance's CDAP version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// How people name the instance.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CDAP endpoint.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn at(&self, path: &str) -> String {
        format!("{}/v3/{path}", self.base)
    }

    /// A GET whose 404 is `None`.
    async fn maybe(
        &self,
        path: &str,
        operation: &'static str,
        resource: &str,
    ) -> Result<Option<Value>, TaskError> {
        let request = HttpRequest::get(self.at(path), operation, resource)
            .header("accept", "application/json")
            .accept(&[StatusCode::NOT_FOUND]);
        let reply = self.http.send(request).await?;
        if reply.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        reply.json().await.map(Some).map_err(|e| {
            self.http.error(
                operation,
                resource,
                Failure::Rejected,
                format!("the reply is not JSON: {e}"),
            )
        })
    }

    async fn get(
        &self,
        path: &str,
        operation: &'static str,
        resource: &str,
    ) -> Result<Value, TaskError> {
        let request = HttpRequest::get(self.at(path), operation, resource)
            .header("accept", "application/json");
        self.http.json(request).await
    }

    async fn put(
        &self,
        path: &str,
        operation: &'static str,
        resource: &str,
        body: &Value,
    ) -> Result<(), TaskError> {
        let request = HttpRequest::put(self.at(path), operation, resource).json(body);
        self.http.send(request).await.map(drop)
    }

    async fn delete(
        &self,
        path: &str,
        operation: &'static str,
        resource: &str,
    ) -> Result<(), TaskError> {
        let request = HttpRequest::delete(self.at(path), operation, resource)
            .accept(&[StatusCode::NOT_FOUND]);
        self.http.send(request).await.map(drop)
    }

    async fn post(
        &self,
        path: &str,
        operation: &'static str,
        resource: &str,
    ) -> Result<(), TaskError> {
        let request = HttpRequest::post(self.at(path), operation, resource).replayable(true);
        self.http.send(request).await.map(drop)
    }

    /// `GET /v3/namespaces/{ns}`, `None` when it does not exist.
    pub async fn namespace(&self, ns: &str) -> Result<Option<Value>, TaskError> {
        self.maybe(&format!("namespaces/{}", encode(ns)), "read namespace", ns)
            .await
    }

    /// `PUT /v3/namespaces/{ns}`: creates it (CDAP leaves an existing one as it is).
    pub async fn create_namespace(&self, ns: &str, body: &Value) -> Result<(), TaskError> {
        self.put(
            &format!("namespaces/{}", encode(ns)),
            "create namespace",
            ns,
            body,
        )
        .await
    }

    /// `PUT /v3/namespaces/{ns}/properties`: updates its description and config.
    pub async fn update_namespace(&self, ns: &str, body: &Value) -> Result<(), TaskError> {
        let path = format!("namespaces/{}/properties", encode(ns));
        self.put(&path, "update namespace", ns, body).await
    }

    /// The names of the pipeline applications of `ns` (every page), with their artifact.
    pub async fn pipelines(&self, ns: &str) -> Result<Vec<String>, TaskError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::BTreeSet::new();
        loop {
            let mut path = format!(
                "namespaces/{}/apps?artifactName={}&pageSize=100",
                encode(ns),
                PIPELINE_ARTIFACTS.join(",")
            );
            if let Some(token) = &token {
                path.push_str(&format!("&pageToken={}", encode(token)));
            }
            let page = self.get(&path, "list pipelines", ns).await?;
            let (apps, next) = match &page {
                Value::Array(apps) => (apps.clone(), None),
                _ => (
                    page["applications"].as_array().cloned().unwrap_or_default(),
                    text_field(&page, "nextPageToken"),
                ),
            };
            names.extend(apps.iter().filter_map(|app| {
                let artifact = app["artifact"]["name"].as_str()?;
                PIPELINE_ARTIFACTS
                    .contains(&artifact)
                    .then(|| app["name"].as_str().map(str::to_string))?
            }));
            match next {
                Some(next) if !seen.insert(next.clone()) => {
                    return Err(self.http.error(
                        "list pipelines",
                        ns,
                        Failure::Rejected,
                        "a page token came back a second time",
                    ));
                }
                Some(next) => token = Some(next),
                None => return Ok(names),
            }
        }
    }

    /// `GET /apps/{app}`: the ApplicationDetail, `None` when it does not exist.
    pub async fn app(&self, ns: &str, app: &str) -> Result<Option<Value>, TaskError> {
        let path = format!("namespaces/{}/apps/{}", encode(ns), encode(app));
        self.maybe(&path, "read pipeline", &format!("{ns}/{app}"))
            .await
    }

    /// `PUT /apps/{app}` with an AppRequest: deploys a new version. Not replayed on a lost reply
    /// (a replay would mint another version); the next plan finds whether it landed.
    pub async fn deploy(&self, ns: &str, app: &str, request: &Value) -> Result<(), TaskError> {
        let path = format!("namespaces/{}/apps/{}", encode(ns), encode(app));
        let request = HttpRequest::put(self.at(&path), "deploy pipeline", format!("{ns}/{app}"))
            .json(request)
            .replayable(false);
        self.http.send(request).await.map(drop)
    }

    /// The artifacts a pipeline of `ns` may use (`(name, version, scope)`, scope upper-case).
    pub async fn artifacts(&self, ns: &str) -> Result<Vec<(String, String, String)>, TaskError> {
        let list = self
            .get(
                &format!("namespaces/{}/artifacts", encode(ns)),
                "list artifacts",
                ns,
            )
            .await?;
        Ok(list
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| {
                let field = |k: &str| a[k].as_str().map(str::to_string);
                Some((
                    field("name")?,
                    field("version")?,
                    field("scope")?.to_ascii_uppercase(),
                ))
            })
            .collect())
    }

    /// `DELETE /apps/{app}` (already gone counts as deleted).
    pub async fn delete_app(&self, ns: &str, app: &str) -> Result<(), TaskError> {
        let path = format!("namespaces/{}/apps/{}", encode(ns), encode(app));
        self.delete(&path, "delete pipeline", &format!("{ns}/{app}"))
            .await
    }

    /// The profiles of a scope: `None` is the system scope, else a namespace's own.
    pub async fn profiles(&self, ns: Option<&str>) -> Result<Vec<Profile>, TaskError> {
        let path = format!("{}profiles", scope_path(ns));
        let list = self
            .get(&path, "list profiles", ns.unwrap_or("system"))
            .await?;
        serde_json::from_value(list).map_err(|e| {
            self.http.error(
                "list profiles",
                ns.unwrap_or("system"),
                Failure::Rejected,
                format!("the reply is not a list of profiles: {e}"),
            )
        })
    }

    /// `PUT …/profiles/{name}`: creates or updates it.
    pub async fn put_profile(
        &self,
        ns: Option<&str>,
        name: &str,
        body: &Value,
    ) -> Result<(), TaskError> {
        let path = format!("{}profiles/{}", scope_path(ns), encode(name));
        self.put(&path, "write profile", name, body).await
    }

    /// Disables, then deletes, a profile (CDAP deletes only disabled ones).
    pub async fn delete_profile(&self, ns: Option<&str>, name: &str) -> Result<(), TaskError> {
        let path = format!("{}profiles/{}", scope_path(ns), encode(name));
        let found = self.maybe(&path, "read profile", name).await?;
        let Some(found) = found else {
            return Ok(());
        };
        let enabled = found["status"].as_str() != Some("DISABLED");
        if enabled {
            self.post(&format!("{path}/disable"), "disable profile", name)
                .await?;
        }
        let deleted = self.delete(&path, "delete profile", name).await;
        if deleted.is_err() && enabled {
            // CDAP refuses to delete a profile in use: leave it as it was, enabled.
            if let Err(e) = self
                .post(&format!("{path}/enable"), "enable profile", name)
                .await
            {
                tracing::warn!(profile = name, error = %e, "could not enable the profile again");
            }
        }
        deleted
    }

    /// A scope's own preferences (`app` `None`: the namespace's), empty when none are set.
    pub async fn preferences(
        &self,
        ns: &str,
        app: Option<&str>,
    ) -> Result<BTreeMap<String, String>, TaskError> {
        let path = preferences_path(ns, app);
        let found = self.maybe(&path, "read preferences", &path).await?;
        Ok(found
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default())
    }

    /// Replaces a scope's preferences.
    pub async fn put_preferences(
        &self,
        ns: &str,
        app: Option<&str>,
        values: &Value,
    ) -> Result<(), TaskError> {
        let path = preferences_path(ns, app);
        self.put(&path, "write preferences", &path.clone(), values)
            .await
    }

    /// Removes a scope's preferences.
    pub async fn delete_preferences(&self, ns: &str, app: Option<&str>) -> Result<(), TaskError> {
        let path = preferences_path(ns, app);
        self.delete(&path, "delete preferences", &path.clone())
            .await
    }

    /// The recent runs of a pipeline's workflow, newest first.
    pub async fn runs(&self, ns: &str, app: &str, limit: u32) -> Result<Vec<Value>, TaskError> {
        let path = format!("{}/runs?limit={limit}", workflow_path(ns, app));
        let runs = self.get(&path, "list runs", &format!("{ns}/{app}")).await?;
        Ok(runs.as_array().cloned().unwrap_or_default())
    }

    /// One run of a pipeline.
    pub async fn run(&self, ns: &str, app: &str, run_id: &str) -> Result<Value, TaskError> {
        let path = format!("{}/runs/{}", workflow_path(ns, app), encode(run_id));
        self.get(&path, "read run", &format!("{ns}/{app} run {run_id}"))
            .await
    }

    /// `POST /v3/namespaces/{ns}/start`: starts one pipeline with `args` and returns its run id.
    pub async fn start(
        &self,
        ns: &str,
        app: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<Started, TaskError> {
        let resource = format!("{ns}/{app}");
        let body = json!([{"appId": app, "programType": "workflow", "programId": WORKFLOW,
            "runtimeargs": args}]);
        let request = HttpRequest::post(
            self.at(&format!("namespaces/{}/start", encode(ns))),
            "start pipeline",
            &resource,
        )
        .json(&body);
        let reply: Value = self.http.json(request).await?;
        let item = &reply[0];
        match (item["statusCode"].as_u64(), item["runId"].as_str()) {
            (Some(200), Some(run_id)) => Ok(Started {
                run_id: run_id.to_string(),
            }),
            (code, _) => Err(self.http.error(
                "start pipeline",
                &resource,
                if code == Some(404) {
                    Failure::NotFound
                } else {
                    Failure::Rejected
                },
                format!(
                    "CDAP did not start it (status {}): {}",
                    code.map_or("none".to_string(), |c| c.to_string()),
                    item["error"].as_str().unwrap_or("no reason given")
                ),
            )),
        }
    }
}

/// `namespaces/{ns}/` or the system scope's empty prefix.
fn scope_path(ns: Option<&str>) -> String {
    ns.map_or(String::new(), |ns| format!("namespaces/{}/", encode(ns)))
}

fn preferences_path(ns: &str, app: Option<&str>) -> String {
    match app {
        Some(app) => format!("namespaces/{}/apps/{}/preferences", encode(ns), encode(app)),
        None => format!("namespaces/{}/preferences", encode(ns)),
    }
}

fn workflow_path(ns: &str, app: &str) -> String {
    format!(
        "namespaces/{}/apps/{}/workflows/{WORKFLOW}",
        encode(ns),
        encode(app)
    )
}

/// A non-empty string field of a reply.
fn text_field(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
