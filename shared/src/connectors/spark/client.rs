//! The Spark HTTP client: one tenant's ImpEx and lookup endpoints over [`crate::http`].
//!
//! The HTTP layer does the rest: retries (5xx and connection errors with jittered backoff, 429
//! after its `retry-after`), the process-wide OAuth token cache with one replay after a 401, the
//! secret's host binding (a `base_url` outside it fails before anything is sent), and errors as
//! [`TaskError::Api`] for the state machine's `Retry`. Starting an export or an import is not
//! replayed blind: after a 5xx or a timeout the connector looks the job up by its correlation id.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::api::{ExportRequest, ImportEntity, JobList, JobReport, JobStarted, VersionInfo};
use super::credentials::Credentials;
use crate::contract::SparkTenant;
use crate::error::{Failure, TaskError};
use crate::http::{HttpClient, HttpRequest, HttpSettings, Part};

pub use crate::http::RetryPolicy;

/// Who ferry says it is (`source_system`).
pub const SOURCE_SYSTEM: &str = "ferry";

/// The service name in errors.
const SERVICE: &str = "Spark";

/// A client for one Spark tenant.
pub struct SparkClient {
    http: HttpClient,
    tenant: SparkTenant,
}

impl SparkClient {
    /// A client with a per-request `timeout`. Fails before sending anything when the tenant's
    /// base URL (or, for OAuth credentials, its token URL) is not a host the secret is bound to.
    pub fn new(
        tenant: SparkTenant,
        credentials: Credentials,
        timeout: std::time::Duration,
        policy: RetryPolicy,
    ) -> Result<Self, TaskError> {
        let auth = credentials.auth(&tenant.token_url)?;
        let http = HttpClient::new(
            HttpSettings::new(timeout).with_retry(policy),
            Some(auth),
            credentials.binding(),
            SERVICE,
        )?;
        http.check_host(&tenant.base_url)?;
        Ok(SparkClient { http, tenant })
    }

    /// The tenant this client talks to.
    pub fn tenant(&self) -> &SparkTenant {
        &self.tenant
    }

    /// `POST api/v4/export`: starts an export job (not replayed blind).
    pub async fn start_export(&self, request: &ExportRequest) -> Result<String, TaskError> {
        let call = self
            .call(Method::POST, self.v4(&["export"]), "start export")
            .json(request);
        let started: JobStarted = self.http.json(call).await?;
        Ok(started.id)
    }

    /// `GET api/v4/export/{id}/status`.
    pub async fn export_status(&self, id: &str) -> Result<JobReport, TaskError> {
        let url = self.v4(&["export", id, "status"]);
        self.http
            .json(self.job_call(Method::GET, url, "export status", id))
            .await
    }

    /// `PATCH api/v4/export/{id}` with `export_status: cancelled` (replayable: cancelling twice is
    /// cancelling once).
    pub async fn cancel_export(&self, id: &str) -> Result<JobReport, TaskError> {
        let url = self.v4(&["export", id]);
        let call = self
            .job_call(Method::PATCH, url, "cancel export", id)
            .json(&serde_json::json!({"export_status": "cancelled"}))
            .replayable(true);
        self.http.json(call).await
    }

    /// `GET api/v4/{kind}/status`: the tenant's running and recent jobs (`kind` = export|import).
    pub async fn list_jobs(&self, kind: &str) -> Result<JobList, TaskError> {
        let operation = if kind == "export" {
            "list exports"
        } else {
            "list imports"
        };
        let value: Value = self
            .http
            .json(self.call(Method::GET, self.v4(&[kind, "status"]), operation))
            .await?;
        Ok(JobList::from_describe(&value, kind))
    }

    /// Downloads an exported file. Credentials go only to the tenant's own origin.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, TaskError> {
        let same_origin = url
            .strip_prefix(self.tenant.origin())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        let mut call = self.call(Method::GET, url.to_string(), "download export");
        if !same_origin {
            call = call.anonymous();
        }
        self.http.bytes(call).await
    }

    /// `POST api/v4/import`: multipart `file` (the package) and `importRequestEntity` (not
    /// replayed blind; replayed whole after a token refresh).
    pub async fn start_import(
        &self,
        package: Vec<u8>,
        entity: &ImportEntity,
    ) -> Result<String, TaskError> {
        let entity = serde_json::to_string(entity).unwrap_or_default();
        let call = self
            .call(Method::POST, self.v4(&["import"]), "start import")
            .multipart(vec![
                Part::file("file", "package.zip", "application/zip", package),
                Part::text("importRequestEntity", entity),
            ]);
        let started: JobStarted = self.http.json(call).await?;
        Ok(started.id)
    }

    /// `GET api/v4/import/{id}/status`.
    pub async fn import_status(&self, id: &str) -> Result<JobReport, TaskError> {
        let url = self.v4(&["import", id, "status"]);
        self.http
            .json(self.job_call(Method::GET, url, "import status", id))
            .await
    }

    /// `POST api/v1/product/isproductexists/{folder}` (a lookup: replayable).
    pub async fn folder_exists(&self, folder: &str) -> Result<bool, TaskError> {
        let url = self.v1(&["product", "isproductexists", folder]);
        let call = self
            .call(Method::POST, url, "check folder")
            .replayable(true);
        let value: Value = self.http.json(call).await?;
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
            .http
            .json(self.call(Method::GET, exists_url, "check service"))
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
            .http
            .json(self.call(Method::GET, url, "list versions"))
            .await?;
        let data = value
            .get("data")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        serde_json::from_value(data).map_err(|e| {
            self.http.error(
                "list versions",
                &self.tenant.tenant,
                Failure::Rejected,
                format!("unexpected reply: {e}"),
            )
        })
    }

    /// A request on the tenant.
    fn call(&self, method: Method, url: String, operation: &'static str) -> HttpRequest {
        self.request(method, url, operation, &self.tenant.tenant)
    }

    /// A request about job `id` (named in errors instead of the tenant).
    fn job_call(
        &self,
        method: Method,
        url: String,
        operation: &'static str,
        id: &str,
    ) -> HttpRequest {
        self.request(method, url, operation, id)
    }

    /// A request with the tenant's `x-tenant-name` and a fresh `x-request-id`.
    fn request(
        &self,
        method: Method,
        url: String,
        operation: &'static str,
        resource: &str,
    ) -> HttpRequest {
        HttpRequest::new(method, url, operation, resource)
            .header("x-tenant-name", &self.tenant.tenant)
            .header("x-request-id", &request_id())
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

/// Maps an HTTP status to a retry class (the HTTP layer's classification).
pub fn classify_status(status: StatusCode) -> Failure {
    crate::http::classify_status(status)
}

/// A failed Spark call as a [`TaskError::Api`].
pub(crate) fn api_error(
    operation: &'static str,
    resource: &str,
    failure: Failure,
    detail: String,
) -> TaskError {
    crate::http::api_error(SERVICE, operation, resource, failure, detail)
}

#[cfg(test)]
mod tests {
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
    fn request_ids_look_like_uuids() {
        let id = request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
    }

    #[test]
    fn statuses_map_to_retry_classes() {
        assert_eq!(classify_status(StatusCode::CONFLICT), Failure::Conflict);
        assert_eq!(
            classify_status(StatusCode::SERVICE_UNAVAILABLE),
            Failure::Retryable
        );
    }
}
