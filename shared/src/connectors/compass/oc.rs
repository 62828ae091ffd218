//! The SAP Open Connectors platform API (`https://<host>/elements/api-v2`) on the shared HTTP layer:
//! every instance (tag filter, every page by `nextPage` and the `elements-next-page-token`
//! header) and each instance's OpenAPI document.
//!
//! Calls carry `Authorization: User <user secret>, Organization <organization secret>`, read from
//! a secret `{"user_secret": …, "organization_secret": …, "hosts"?: […]}` and sent only to the
//! hosts it names, or else to SAP's Open Connectors API hosts and loopback.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;

use crate::contract::OpenConnectorsSource;
use crate::error::TaskError;
use crate::http::{HttpClient, HttpRequest, HttpSettings, SecretDoc, SecretString, StaticAuth};

/// Open Connectors' public API hosts a secret without `hosts` may reach (exact hosts: SAP's wider
/// domains also serve customers' own applications).
pub const OC_HOSTS: &[&str] = &[
    "api.openconnectors.ext.hanatrial.ondemand.com",
    "api.openconnectors.ext.hana.ondemand.com",
];
/// The response header that holds the next page's cursor.
pub const NEXT_PAGE_HEADER: &str = "elements-next-page-token";
/// Instances asked for per page (the documented maximum).
pub const PAGE_SIZE: usize = 200;
/// The most pages read before the listing is taken to loop.
const MAX_PAGES: usize = 10_000;

/// The connector of an instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Element {
    /// Its display name ("Salesforce Sales Cloud").
    pub name: String,
    /// Its key ("sfdc").
    pub key: String,
}

/// One connector instance, as far as ferry reads it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Instance {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its connector.
    pub element: Element,
    /// The instance token (a credential: never logged, never stored in a bundle).
    #[serde(default)]
    token: Option<String>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("element", &self.element)
            .finish_non_exhaustive()
    }
}

/// A client of one Open Connectors tenant.
pub struct OcClient {
    http: HttpClient,
    source: OpenConnectorsSource,
    authorization: SecretString,
}

impl OcClient {
    /// A client with the secrets `text` holds; a secret of the wrong shape, or not bound to the
    /// URL's host, is refused before anything is sent.
    pub fn new(
        source: &OpenConnectorsSource,
        text: &str,
        timeout: Duration,
    ) -> Result<Self, TaskError> {
        let doc = SecretDoc::parse(
            text,
            &source.auth_secret_arn,
            "source.open_connectors.auth_secret_arn",
            "{\"user_secret\": …, \"organization_secret\": …} (optionally with \"hosts\")",
        )?;
        doc.only(&["user_secret", "organization_secret"])?;
        let user = doc.required("user_secret")?.trim();
        let organization = doc.required("organization_secret")?.trim();
        let binding = doc.binding(OC_HOSTS)?;
        let authorization = SecretString::from(format!("User {user}, Organization {organization}"));
        let auth = StaticAuth::header("authorization", authorization.clone());
        let http = HttpClient::new(
            HttpSettings::new(timeout),
            Some(Arc::new(auth)),
            binding,
            "Open Connectors",
        )?;
        http.check_host(&source.url)?;
        Ok(OcClient {
            http,
            source: source.clone(),
            authorization,
        })
    }

    /// The platform API URL.
    pub fn url(&self) -> &str {
        &self.source.url
    }

    /// The tags instances are selected by.
    pub fn tags(&self) -> &[String] {
        &self.source.tags
    }

    /// Every instance the tag filter selects, every page, in the order served.
    pub async fn instances(&self) -> Result<Vec<Instance>, TaskError> {
        let mut all = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let url = self.page_url(next.as_deref())?;
            let request = HttpRequest::get(url, "list instances", &self.source.url)
                .header("accept", "application/json");
            let (page, headers): (Vec<Instance>, _) = self.http.json_and_headers(request).await?;
            all.extend(page);
            let token = headers
                .get(NEXT_PAGE_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            match token {
                None => return Ok(all),
                Some(token) if next.as_deref() == Some(token.as_str()) => {
                    return Err(self.http.error(
                        "list instances",
                        &self.source.url,
                        crate::error::Failure::Rejected,
                        "the next-page token repeats the one just used: the listing would never end",
                    ));
                }
                Some(token) => next = Some(token),
            }
        }
        Err(self.http.error(
            "list instances",
            &self.source.url,
            crate::error::Failure::Rejected,
            format!("more than {MAX_PAGES} pages: the next-page token never ends"),
        ))
    }

    fn page_url(&self, next: Option<&str>) -> Result<String, TaskError> {
        let mut url = url::Url::parse(&format!("{}/instances", self.source.url))
            .map_err(|e| TaskError::invalid("source.open_connectors.url", e.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            for tag in &self.source.tags {
                query.append_pair("tags[]", tag);
            }
            query.append_pair("pageSize", &PAGE_SIZE.to_string());
            if let Some(token) = next {
                query.append_pair("nextPage", token);
            }
        }
        Ok(url.to_string())
    }

    /// The instance's latest OpenAPI document, parsed.
    pub async fn spec(&self, instance: i64) -> Result<Value, TaskError> {
        let url = format!("{}/instances/{instance}/docs?version=-1", self.source.url);
        let request = HttpRequest::get(url, "read instance docs", format!("instance {instance}"))
            .header("accept", "application/json");
        self.http.json(request).await
    }

    /// The header a consumer calls `instance` with: `User …, Organization …, Element <token>`.
    pub fn element_header(&self, instance: &Instance) -> Option<SecretString> {
        let token = instance.token.as_deref()?.trim();
        (!token.is_empty()).then(|| {
            SecretString::from(format!(
                "{}, Element {token}",
                self.authorization.expose_secret()
            ))
        })
    }
}
