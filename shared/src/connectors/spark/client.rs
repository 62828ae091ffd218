//! The Spark HTTP client: one tenant, its credentials, retries and token refresh.
//!
//! Every request is rebuilt from owned parts on each attempt, so a multipart import body is replayed
//! whole after a token refresh. The OAuth2 token is cached for the life of the process (a warm
//! Lambda keeps it between invocations) until shortly before `expires_in`, and fetched again when the
//! service answers 401. 429 waits for the `retry-after` the service asks for
//! (up to a cap), 5xx and connection errors are retried with jittered backoff, and what still fails
//! becomes a [`TaskError::Api`] classified for the state machine's `Retry`.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::api::{ExportRequest, ImportEntity, JobList, JobReport, JobStarted, VersionInfo};
use super::credentials::Credentials;
use crate::contract::SparkTenant;
use crate::error::{Failure, TaskError};

/// Who ferry says it is (`source_system`).
pub const SOURCE_SYSTEM: &str = "ferry";

/// Retry limits of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// First backoff after a 5xx or connection error; doubles per attempt (full jitter).
    pub backoff: Duration,
    /// The longest `retry-after` waited inside the function; longer ones go to the state machine.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            backoff: Duration::from_millis(250),
            max_wait: Duration::from_secs(20),
        }
    }
}

/// A cached OAuth2 access token.
#[derive(Clone)]
struct Token {
    value: String,
    refresh_at: Instant,
}

/// A request body, owned so that it can be sent again.
enum Body {
    Empty,
    Json(Value),
    Import { package: Vec<u8>, entity: String },
}

/// One API call: what it is for (for messages), how to send it, whether to authenticate.
struct Call<'a> {
    operation: &'static str,
    method: Method,
    url: String,
    body: Body,
    authenticated: bool,
    resource: &'a str,
}

/// A client for one Spark tenant.
pub struct SparkClient {
    http: reqwest::Client,
    tenant: SparkTenant,
    credentials: Credentials,
    policy: RetryPolicy,
}

/// Access tokens of this process, by token endpoint and client (see [`SparkClient::token_key`]).
fn tokens() -> &'static Mutex<HashMap<String, Token>> {
    static TOKENS: OnceLock<Mutex<HashMap<String, Token>>> = OnceLock::new();
    TOKENS.get_or_init(Mutex::default)
}

impl SparkClient {
    /// A client with a per-request `timeout`.
    pub fn new(
        tenant: SparkTenant,
        credentials: Credentials,
        timeout: Duration,
        policy: RetryPolicy,
    ) -> Result<Self, TaskError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                api_error(
                    "build client",
                    &tenant.tenant,
                    Failure::Rejected,
                    e.to_string(),
                )
            })?;
        Ok(SparkClient {
            http,
            tenant,
            credentials,
            policy,
        })
    }

    /// The tenant this client talks to.
    pub fn tenant(&self) -> &SparkTenant {
        &self.tenant
    }

    /// `POST api/v4/export`: starts an export job.
    pub async fn start_export(&self, request: &ExportRequest) -> Result<String, TaskError> {
        let body = serde_json::to_value(request).unwrap_or_default();
        let started: JobStarted = self
            .json(self.call(
                "start export",
                Method::POST,
                self.v4(&["export"]),
                Body::Json(body),
            ))
            .await?;
        Ok(started.id)
    }

    /// `GET api/v4/export/{id}/status`.
    pub async fn export_status(&self, id: &str) -> Result<JobReport, TaskError> {
        let url = self.v4(&["export", id, "status"]);
        self.json(self.job_call("export status", Method::GET, url, Body::Empty, id))
            .await
    }

    /// `PATCH api/v4/export/{id}` with `export_status: cancelled`.
    pub async fn cancel_export(&self, id: &str) -> Result<JobReport, TaskError> {
        let body = serde_json::json!({"export_status": "cancelled"});
        let url = self.v4(&["export", id]);
        self.json(self.job_call("cancel export", Method::PATCH, url, Body::Json(body), id))
            .await
    }

    /// `GET api/v4/{kind}/status`: the tenant's running and recent jobs (`kind` = export|import).
    pub async fn list_jobs(&self, kind: &str) -> Result<JobList, TaskError> {
        let operation = if kind == "export" {
            "list exports"
        } else {
            "list imports"
        };
        let value: Value = self
            .json(self.call(
                operation,
                Method::GET,
                self.v4(&[kind, "status"]),
                Body::Empty,
            ))
            .await?;
        Ok(JobList::from_describe(&value, kind))
    }

    /// Downloads an exported file. Credentials go only to the tenant's own origin.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, TaskError> {
        let same_origin = url
            .strip_prefix(self.tenant.origin())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let call = Call {
            operation: "download export",
            method: Method::GET,
            url: url.to_string(),
            body: Body::Empty,
            authenticated: same_origin,
            resource: &self.tenant.tenant,
        };
        let response = self.send(call).await?;
        let bytes = response.bytes().await.map_err(|e| {
            api_error(
                "download export",
                &self.tenant.tenant,
                Failure::Retryable,
                e.to_string(),
            )
        })?;
        Ok(bytes.to_vec())
    }

    /// `POST api/v4/import`: multipart `file` (the package) and `importRequestEntity`.
    pub async fn start_import(
        &self,
        package: Vec<u8>,
        entity: &ImportEntity,
    ) -> Result<String, TaskError> {
        let entity = serde_json::to_string(entity).unwrap_or_default();
        let call = self.call(
            "start import",
            Method::POST,
            self.v4(&["import"]),
            Body::Import { package, entity },
        );
        let started: JobStarted = self.json(call).await?;
        Ok(started.id)
    }

    /// `GET api/v4/import/{id}/status`.
    pub async fn import_status(&self, id: &str) -> Result<JobReport, TaskError> {
        let url = self.v4(&["import", id, "status"]);
        self.json(self.job_call("import status", Method::GET, url, Body::Empty, id))
            .await
    }

    /// `POST api/v1/product/isproductexists/{folder}`.
    pub async fn folder_exists(&self, folder: &str) -> Result<bool, TaskError> {
        let url = self.v1(&["product", "isproductexists", folder]);
        let value: Value = self
            .json(self.call("check folder", Method::POST, url, Body::Empty))
            .await?;
        Ok(value.get("data").and_then(Value::as_bool).unwrap_or(false))
    }

    /// The versions of `folder/service`, oldest first; empty when the service does not exist.
    pub async fn versions(
        &self,
        folder: &str,
        service: &str,
    ) -> Result<Vec<VersionInfo>, TaskError> {
        let exists_url = self.v3(&["folders", folder, "services", service, "exists"]);
        let exists: Value = self
            .json(self.call("check service", Method::GET, exists_url, Body::Empty))
            .await?;
        let found = exists
            .pointer("/response_data/is_exists")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !found {
            return Ok(Vec::new());
        }
        let url = self.v1(&["product", folder, "engines", "getversions", service]);
        let value: Value = self
            .json(self.call("list versions", Method::GET, url, Body::Empty))
            .await?;
        let data = value
            .get("data")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        serde_json::from_value(data).map_err(|e| {
            api_error(
                "list versions",
                &self.tenant.tenant,
                Failure::Rejected,
                format!("unexpected reply: {e}"),
            )
        })
    }

    fn call<'a>(
        &'a self,
        operation: &'static str,
        method: Method,
        url: String,
        body: Body,
    ) -> Call<'a> {
        Call {
            operation,
            method,
            url,
            body,
            authenticated: true,
            resource: &self.tenant.tenant,
        }
    }

    fn job_call<'a>(
        &'a self,
        operation: &'static str,
        method: Method,
        url: String,
        body: Body,
        id: &'a str,
    ) -> Call<'a> {
        Call {
            resource: id,
            ..self.call(operation, method, url, body)
        }
    }

    /// `{base}/api/v4/...` with each segment percent-encoded.
    fn v4(&self, segments: &[&str]) -> String {
        join_url(&self.tenant.base_url, "api/v4", segments)
    }

    /// `{base}/api/v3/...`.
    fn v3(&self, segments: &[&str]) -> String {
        join_url(&self.tenant.base_url, "api/v3", segments)
    }

    /// `{origin}/api/v1/...`: v1 has no tenant segment (the tenant travels in `x-tenant-name`).
    fn v1(&self, segments: &[&str]) -> String {
        join_url(self.tenant.origin(), "api/v1", segments)
    }

    async fn json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T, TaskError> {
        let (operation, resource) = (call.operation, call.resource.to_string());
        let response = self.send(call).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| api_error(operation, &resource, Failure::Retryable, e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            api_error(
                operation,
                &resource,
                Failure::Rejected,
                format!("the reply is not the expected JSON: {e}"),
            )
        })
    }

    /// Sends `call`, retrying per the policy; returns a 2xx response.
    async fn send(&self, call: Call<'_>) -> Result<Response, TaskError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.attempts;
            let outcome = self.attempt(&call).await;
            let (failure, detail, wait) = match outcome {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let refreshable = call.authenticated && self.can_refresh() && !refreshed;
                    if status == StatusCode::UNAUTHORIZED && refreshable {
                        tracing::info!(
                            operation = call.operation,
                            "token refused; fetching a new one"
                        );
                        self.forget_token();
                        refreshed = true;
                        continue;
                    }
                    let wait = self.wait_for(status, response.headers(), attempt);
                    let detail = describe_status(response).await;
                    (classify_status(status), detail, wait)
                }
                Err((failure, detail)) => {
                    let transient = matches!(failure, Failure::Retryable | Failure::Throttled);
                    (failure, detail, transient.then(|| self.backoff(attempt)))
                }
            };
            match wait {
                Some(wait) if !last => {
                    tracing::warn!(operation = call.operation, attempt, ?failure, %detail, "retrying");
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(api_error(call.operation, call.resource, failure, detail)),
            }
        }
    }

    /// How long to wait before replaying after `status`, or `None` when a replay cannot help.
    fn wait_for(&self, status: StatusCode, headers: &HeaderMap, attempt: u32) -> Option<Duration> {
        if status == StatusCode::TOO_MANY_REQUESTS {
            return match retry_after(headers) {
                Some(wait) if wait <= self.policy.max_wait => Some(wait),
                Some(_) => None,
                None => Some(self.backoff(attempt)),
            };
        }
        let transient = status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT;
        transient.then(|| self.backoff(attempt))
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.policy.backoff.saturating_mul(1 << attempt.min(6));
        ceiling.mul_f64(fastrand::f64())
    }

    fn can_refresh(&self) -> bool {
        matches!(self.credentials, Credentials::Client { .. })
    }

    /// One try: builds the request afresh (headers, token, body) and sends it.
    async fn attempt(&self, call: &Call<'_>) -> Result<Response, (Failure, String)> {
        let mut request = self
            .http
            .request(call.method.clone(), &call.url)
            .header("x-tenant-name", &self.tenant.tenant)
            .header("x-request-id", request_id());
        if call.authenticated {
            request = request.headers(self.auth_headers().await.map_err(|e| (e.0, e.1))?);
        }
        request = match &call.body {
            Body::Empty => request,
            Body::Json(value) => request.json(value),
            Body::Import { package, entity } => request.multipart(import_form(package, entity)),
        };
        let response = request.send().await.map_err(transport_failure)?;
        tracing::info!(
            operation = call.operation,
            status = response.status().as_u16(),
            "spark call"
        );
        Ok(response)
    }

    async fn auth_headers(&self) -> Result<HeaderMap, (Failure, String)> {
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                (
                    Failure::Rejected,
                    format!("the credential for {name} is not a valid header value"),
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
            Ok::<(), (Failure, String)>(())
        };
        match &self.credentials {
            Credentials::Bearer(token) => put("authorization", format!("Bearer {token}"))?,
            Credentials::ApiKey(key) => put("x-synthetic-key", key.clone())?,
            Credentials::Client { .. } => {
                let token = self.access_token().await?;
                put("authorization", format!("Bearer {token}"))?;
            }
        }
        Ok(headers)
    }

    /// The cache key: token endpoint, client id and a digest of the secret (a rotated secret gets
    /// a new token; the secret itself is never kept as a key).
    fn token_key(&self) -> String {
        let (id, secret) = match &self.credentials {
            Credentials::Client {
                client_id,
                client_secret,
            } => (client_id.as_str(), client_secret.as_str()),
            _ => ("", ""),
        };
        let digest = crate::checksum::sha256_hex(secret.as_bytes());
        format!("{}\n{id}\n{digest}", self.tenant.token_url)
    }

    fn forget_token(&self) {
        let mut cache = tokens()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.remove(&self.token_key());
    }

    /// The cached access token, fetched when absent or about to expire.
    async fn access_token(&self) -> Result<String, (Failure, String)> {
        let key = self.token_key();
        let cached = tokens()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        if let Some(token) = cached
            && Instant::now() < token.refresh_at
        {
            return Ok(token.value);
        }
        let token = self.fetch_token().await?;
        let value = token.value.clone();
        tokens()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, token);
        Ok(value)
    }

    async fn fetch_token(&self) -> Result<Token, (Failure, String)> {
        let Credentials::Client {
            client_id,
            client_secret,
        } = &self.credentials
        else {
            return Err((Failure::Rejected, "no client credentials".into()));
        };
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
        ];
        let response = self
            .http
            .post(&self.tenant.token_url)
            .form(&form)
            .send()
            .await
            .map_err(transport_failure)?;
        let status = response.status();
        if !status.is_success() {
            let failure = match status {
                StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    Failure::Unauthorized
                }
                other => classify_status(other),
            };
            return Err((
                failure,
                format!(
                    "the token endpoint refused client '{client_id}' (HTTP {}): check the client id and secret",
                    status.as_u16()
                ),
            ));
        }
        let body: Value = response
            .json()
            .await
            .map_err(|e| (Failure::Retryable, format!("unreadable token reply: {e}")))?;
        token_from_reply(&body)
    }
}

/// Reads `access_token` and `expires_in`; the token is refreshed a little before it expires.
fn token_from_reply(body: &Value) -> Result<Token, (Failure, String)> {
    let value = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or((
            Failure::Rejected,
            "the token reply has no access_token".to_string(),
        ))?;
    let lifetime =
        Duration::from_secs(body.get("expires_in").and_then(Value::as_u64).unwrap_or(60));
    let margin = (lifetime / 10).min(Duration::from_secs(30));
    Ok(Token {
        value: value.to_string(),
        refresh_at: Instant::now() + lifetime - margin,
    })
}

fn import_form(package: &[u8], entity: &str) -> reqwest::multipart::Form {
    let file = reqwest::multipart::Part::bytes(package.to_vec())
        .file_name("package.zip")
        .mime_str("application/zip")
        .unwrap_or_else(|_| reqwest::multipart::Part::bytes(package.to_vec()));
    reqwest::multipart::Form::new()
        .part("file", file)
        .text("importRequestEntity", entity.to_string())
}

/// `base` + `/prefix` + each segment percent-encoded.
fn join_url(base: &str, prefix: &str, segments: &[&str]) -> String {
    let mut url = format!("{}/{prefix}", base.trim_end_matches('/'));
    for segment in segments {
        url.push('/');
        url.extend(
            url::form_urlencoded::byte_serialize(segment.as_bytes())
                .map(|s| if s == "+" { "%20" } else { s }),
        );
    }
    url
}

/// `retry-after` / `x-retry-after` in whole seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    ["x-retry-after", "retry-after"].iter().find_map(|name| {
        let text = headers.get(*name)?.to_str().ok()?;
        text.trim().parse::<u64>().ok().map(Duration::from_secs)
    })
}

/// Maps an HTTP status to a retry class.
pub fn classify_status(status: StatusCode) -> Failure {
    match status.as_u16() {
        401 | 403 => Failure::Unauthorized,
        404 => Failure::NotFound,
        409 => Failure::Conflict,
        429 => Failure::Throttled,
        408 | 500..=599 => Failure::Retryable,
        _ => Failure::Rejected,
    }
}

/// `HTTP 409: <the service's message>` (the body's `error.message`, or its start).
async fn describe_status(response: Response) -> String {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            ["/error/message", "/message", "/error_description", "/error"]
                .iter()
                .find_map(|p| v.pointer(p).and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    match (status, message.trim()) {
        (401, "") => "HTTP 401: the credentials were refused".to_string(),
        (_, "") => format!("HTTP {status}"),
        (_, message) => format!("HTTP {status}: {message}"),
    }
}

fn transport_failure(err: reqwest::Error) -> (Failure, String) {
    let what = if err.is_timeout() {
        "no answer before the request timeout"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "the connection failed"
    };
    (
        Failure::Retryable,
        format!("{what} ({})", without_url(&err)),
    )
}

/// The error's text without the URL (a download URL may carry an access token).
fn without_url(err: &reqwest::Error) -> String {
    let text = err.to_string();
    match err.url() {
        Some(url) => text.replace(url.as_str(), "<url>"),
        None => text,
    }
}

fn request_id() -> String {
    let hex: String = (0..32)
        .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
        .collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// A failed Spark call as a [`TaskError::Api`].
pub(crate) fn api_error(
    operation: &'static str,
    resource: &str,
    failure: Failure,
    detail: String,
) -> TaskError {
    TaskError::Api {
        service: "Spark",
        operation,
        resource: resource.to_string(),
        failure,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn urls_encode_each_segment() {
        assert_eq!(
            join_url(
                "https://h/acme/",
                "api/v3",
                &["folders", "My Folder", "services", "a/b"]
            ),
            "https://h/acme/api/v3/folders/My%20Folder/services/a%2Fb"
        );
    }

    #[test]
    fn tokens_refresh_before_they_expire() {
        let token = token_from_reply(&json!({"access_token": "t", "expires_in": 300})).unwrap();
        let left = token.refresh_at - Instant::now();
        assert!(
            left <= Duration::from_secs(270) && left > Duration::from_secs(260),
            "{left:?}"
        );
        assert!(token_from_reply(&json!({"expires_in": 300})).is_err());
    }

    #[test]
    fn statuses_map_to_retry_classes() {
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS),
            Failure::Throttled
        );
        assert_eq!(classify_status(StatusCode::BAD_GATEWAY), Failure::Retryable);
        assert_eq!(classify_status(StatusCode::CONFLICT), Failure::Conflict);
        assert_eq!(classify_status(StatusCode::BAD_REQUEST), Failure::Rejected);
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }
}
