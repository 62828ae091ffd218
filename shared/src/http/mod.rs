//! One HTTP layer for every connector: timeouts, retries, idempotency, credentials bound to hosts,
//! and uniform errors.
//!
//! A connector builds one [`HttpClient`] per side (source, target) and sends [`HttpRequest`]s
//! through it:
//!
//! - [`HttpSettings`]: per-request timeout, connect timeout, a [`RetryPolicy`]; redirects are never
//!   followed and the user agent is [`USER_AGENT`].
//! - Retries: 5xx, 408 and connection errors are retried with exponential backoff and full jitter;
//!   429 waits for `x-retry-after` / `Retry-After` (seconds or an HTTP date) up to
//!   [`RetryPolicy::max_wait`], and a longer wait is returned at once as [`Failure::Throttled`]
//!   with the wait in [`TaskError::retry_after_seconds`], for the state machine to wait instead.
//! - Idempotency: GET, HEAD, OPTIONS, PUT and DELETE are replayed blind; a POST or PATCH only when
//!   [`HttpRequest::replayable`] says so. A request that was not replayable and got a 5xx or no
//!   answer after it was sent is not sent again: the error ([`Failure::Retryable`]) says its
//!   outcome is unknown, so that the caller looks the result up before starting it again. A
//!   connection that could not be opened, a 401 and a 429 leave nothing done and are replayed.
//! - [`Auth`]: credentials as headers per attempt ([`StaticAuth`] bearer or API keys,
//!   [`OAuthClientCredentials`] with one process-wide token cache). On a 401, credentials that
//!   can be renewed (an OAuth token) are dropped, fetched again and the request replayed once;
//!   static ones fail as [`Failure::Unauthorized`].
//! - [`HostBinding`] (DESIGN §7 rule 7): before any credential is attached (to a request, or to the
//!   token request when the client is built), the URL's host must be one the secret is bound to;
//!   otherwise the call fails before sending with [`TaskError::InvalidInput`] on the secret's field.
//! - Errors: [`TaskError::Api`] with the connector's service name, the operation and resource,
//!   the HTTP status and the service's message (or the body's first 300 characters); never a
//!   secret, a header value or a URL (a pre-signed URL can carry a token).
//! - Bodies ([`Body`]: empty, JSON, bytes, form, multipart [`Part`]s) are owned and rebuilt for
//!   every attempt, so a multipart upload is replayed whole after a token refresh.
//!
//! `send` returns 2xx replies, and the non-2xx statuses a request [accepts](HttpRequest::accept)
//! (a 404 meaning "absent", a 400 carrying validation errors); every other status is an error
//! classified by [`classify_status`].

mod auth;
mod binding;
mod google;
mod request;
mod retry;
mod secret;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use backon::Retryable;
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub use self::auth::{
    Assertion, Auth, AuthError, OAuthClientCredentials, StaticAuth, strip_bearer,
};
pub use self::binding::{HostBinding, parse_hosts};
pub use self::google::{
    CLOUD_PLATFORM_SCOPE, GOOGLE_DOMAINS, GoogleCredentials, google_credentials,
};
pub use self::request::{Body, HttpRequest, Part};
pub use self::retry::{RetryPolicy, classify_status, retry_after};
use self::retry::{ceil_seconds, full_jitter};
pub use self::secret::SecretDoc;
use crate::error::{Failure, TaskError};
pub use secrecy::{ExposeSecret, SecretString};

/// The user agent of every request: `ferry/<version>`.
pub const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// The most of a reply body quoted in an error.
const EXCERPT_CHARS: usize = 300;

/// Timeouts and retries of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// The whole of one attempt, from connecting to the end of the reply's headers.
    pub timeout: Duration,
    /// Opening the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Attempts, backoff and the longest `Retry-After` waited.
    pub retry: RetryPolicy,
}

impl HttpSettings {
    /// `timeout` per request, at most 10 s to connect, the default [`RetryPolicy`].
    pub fn new(timeout: Duration) -> Self {
        HttpSettings {
            timeout,
            connect_timeout: timeout.min(Duration::from_secs(10)),
            retry: RetryPolicy::default(),
        }
    }

    /// The same settings with `retry`.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

/// A client for one side of a connector: its connection pool, credentials and their binding.
/// Cloning is cheap (the clones share everything).
#[derive(Clone, Debug)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    settings: HttpSettings,
    auth: Option<Arc<dyn Auth>>,
    binding: HostBinding,
    service: &'static str,
}

/// How a failed attempt may be followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Not again: the error is final.
    Stop,
    /// Again after the policy's jittered backoff.
    Backoff,
    /// Again after the wait the service asked for.
    After(Duration),
}

/// A failed attempt: the error it would end with, and whether another attempt may follow.
struct Failed {
    error: TaskError,
    next: Next,
}

impl HttpClient {
    /// A client of `service` ("Spark", "Sesam": the name in errors) sending `auth`'s credentials
    /// only to hosts `binding` allows. A token endpoint of `auth` outside the binding is refused
    /// here, before anything is sent.
    pub fn new(
        settings: HttpSettings,
        auth: Option<Arc<dyn Auth>>,
        binding: HostBinding,
        service: &'static str,
    ) -> Result<Self, TaskError> {
        if let Some(auth) = &auth {
            for endpoint in auth.endpoints() {
                binding.check(&endpoint)?;
            }
        }
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| {
                api_error(
                    service,
                    "build client",
                    "",
                    Failure::Rejected,
                    transport_detail(&e),
                )
            })?;
        Ok(HttpClient {
            inner: Arc::new(Inner {
                http,
                settings,
                auth,
                binding,
                service,
            }),
        })
    }

    /// The service name errors carry.
    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// The client's settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.inner.settings
    }

    /// `Ok` when the client's credentials may be sent to `url` (an error on the secret's input
    /// field otherwise): for checking a configured base URL before the first call.
    pub fn check_host(&self, url: &str) -> Result<(), TaskError> {
        if self.inner.auth.is_none() {
            return Ok(());
        }
        let parsed = Url::parse(url).map_err(|e| {
            self.error(
                "check host",
                url,
                Failure::Rejected,
                format!("not a URL: {e}"),
            )
        })?;
        self.inner.binding.check(&parsed)
    }

    /// A [`TaskError::Api`] of this client's service, for a connector's own checks of a reply.
    pub fn error(
        &self,
        operation: &'static str,
        resource: &str,
        failure: Failure,
        detail: impl Into<String>,
    ) -> TaskError {
        api_error(self.inner.service, operation, resource, failure, detail)
    }

    /// Sends `request`, retrying as the policy and the request allow; returns a 2xx reply or one
    /// of the statuses the request accepts.
    pub async fn send(&self, request: HttpRequest) -> Result<Response, TaskError> {
        if let Some(problem) = &request.problem {
            return Err(self.failed(&request, Failure::Rejected, problem.clone()));
        }
        let url = Url::parse(&request.url)
            .map_err(|e| self.failed(&request, Failure::Rejected, format!("not a URL: {e}")))?;
        if self.auth_for(&request).is_some() {
            self.inner.binding.check(&url)?;
        }
        let refreshed = AtomicBool::new(false);
        let attempts = AtomicU32::new(0);
        let (service, operation) = (self.inner.service, request.operation);
        let retrying = (|| self.attempt(&request, &url, &refreshed, &attempts))
            .retry(self.inner.settings.retry.schedule())
            .when(|failed: &Failed| failed.next != Next::Stop)
            .adjust(|failed: &Failed, next: Option<Duration>| {
                next.map(|ceiling| match failed.next {
                    Next::After(wait) => wait,
                    _ => full_jitter(ceiling),
                })
            })
            .notify(|failed: &Failed, wait: Duration| {
                tracing::warn!(service, operation, ?wait, error = %failed.error, "retrying");
            });
        Box::pin(retrying).await.map_err(|failed| failed.error)
    }

    /// Sends `request` and reads its reply as `T`.
    pub async fn json<T: DeserializeOwned>(&self, request: HttpRequest) -> Result<T, TaskError> {
        let (operation, resource) = (request.operation, request.resource.clone());
        let bytes = self
            .read(self.send(request).await?, operation, &resource)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            self.error(
                operation,
                &resource,
                Failure::Rejected,
                format!("the reply is not the expected JSON: {e}"),
            )
        })
    }

    /// Sends `request` and reads its reply as `T`, with the reply's headers (a next-page token).
    pub async fn json_and_headers<T: DeserializeOwned>(
        &self,
        request: HttpRequest,
    ) -> Result<(T, HeaderMap), TaskError> {
        let (operation, resource) = (request.operation, request.resource.clone());
        let response = self.send(request).await?;
        let headers = response.headers().clone();
        let bytes = self.read(response, operation, &resource).await?;
        let value = serde_json::from_slice(&bytes).map_err(|e| {
            self.error(
                operation,
                &resource,
                Failure::Rejected,
                format!("the reply is not the expected JSON: {e}"),
            )
        })?;
        Ok((value, headers))
    }

    /// Sends `request` and returns its reply's body.
    pub async fn bytes(&self, request: HttpRequest) -> Result<Vec<u8>, TaskError> {
        let (operation, resource) = (request.operation, request.resource.clone());
        self.read(self.send(request).await?, operation, &resource)
            .await
    }

    async fn read(
        &self,
        response: Response,
        operation: &'static str,
        resource: &str,
    ) -> Result<Vec<u8>, TaskError> {
        let bytes = response.bytes().await.map_err(|e| {
            self.error(
                operation,
                resource,
                Failure::Retryable,
                format!("the reply could not be read: {}", transport_detail(&e)),
            )
        })?;
        Ok(bytes.to_vec())
    }

    /// The credentials `request` carries, if any.
    fn auth_for(&self, request: &HttpRequest) -> Option<&dyn Auth> {
        self.inner.auth.as_deref().filter(|_| request.authenticated)
    }

    /// One attempt: headers, credentials and body built afresh, plus one replay with renewed
    /// credentials on a 401 when the credentials can be renewed (once per call).
    async fn attempt(
        &self,
        request: &HttpRequest,
        url: &Url,
        refreshed: &AtomicBool,
        attempts: &AtomicU32,
    ) -> Result<Response, Failed> {
        let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
        let auth = self.auth_for(request);
        loop {
            let mut sent_auth = None;
            let mut builder = self
                .inner
                .http
                .request(request.method.clone(), url.clone())
                .headers(request.headers.clone());
            if let Some(auth) = auth {
                let headers = auth.headers(&self.inner.http).await.map_err(|e| {
                    let next = match e.failure {
                        Failure::Retryable | Failure::Throttled => Next::Backoff,
                        _ => Next::Stop,
                    };
                    Failed {
                        error: self.failed(request, e.failure, e.detail),
                        next,
                    }
                })?;
                builder = builder.headers(headers.clone());
                sent_auth = Some(headers);
            }
            let response = request
                .body
                .attach(builder)
                .send()
                .await
                .map_err(|e| self.transport_failed(request, &e))?;
            let status = response.status();
            tracing::info!(
                service = self.inner.service,
                operation = request.operation,
                status = status.as_u16(),
                attempt,
                "http call"
            );
            if status.is_success() || request.accept.contains(&status) {
                return Ok(response);
            }
            if let Some(auth) = auth
                && status == StatusCode::UNAUTHORIZED
                && !refreshed.load(Ordering::Relaxed)
                && auth.invalidate()
            {
                refreshed.store(true, Ordering::Relaxed);
                tracing::info!(
                    service = self.inner.service,
                    operation = request.operation,
                    "credentials refused; renewing them and sending again"
                );
                continue;
            }
            return Err(self
                .status_failed(request, response, sent_auth.as_ref())
                .await);
        }
    }

    /// A reply with an unwanted status, classified and described.
    /// Credentials the reply echoes are blanked out of its description.
    async fn status_failed(
        &self,
        request: &HttpRequest,
        response: Response,
        sent_auth: Option<&HeaderMap>,
    ) -> Failed {
        let status = response.status();
        let failure = classify_status(status);
        let wait = retry_after(response.headers(), SystemTime::now());
        let mut detail = describe_status(response, sent_auth, &request.hidden).await;
        let max_wait = self.inner.settings.retry.max_wait;
        let (next, retry_after_seconds) = match failure {
            Failure::Throttled => match wait {
                Some(wait) if wait <= max_wait => (Next::After(wait), Some(ceil_seconds(wait))),
                Some(wait) => {
                    let seconds = ceil_seconds(wait);
                    detail.push_str(&format!(" (the service asks to wait {seconds} s)"));
                    (Next::Stop, Some(seconds))
                }
                None => (Next::Backoff, None),
            },
            Failure::Retryable if request.replayable => (Next::Backoff, None),
            Failure::Retryable => {
                detail.push_str(UNKNOWN_OUTCOME);
                (Next::Stop, None)
            }
            _ => (Next::Stop, None),
        };
        let mut error = self.failed(request, failure, detail);
        if let TaskError::Api {
            retry_after_seconds: seconds,
            ..
        } = &mut error
        {
            *seconds = retry_after_seconds;
        }
        Failed { error, next }
    }

    /// A request that got no reply: retried when it never left (no connection) or is replayable.
    fn transport_failed(&self, request: &HttpRequest, err: &reqwest::Error) -> Failed {
        let mut detail = transport_detail(err);
        let (failure, next) = if err.is_builder() {
            (Failure::Rejected, Next::Stop)
        } else if err.is_connect() || request.replayable {
            (Failure::Retryable, Next::Backoff)
        } else {
            detail.push_str(UNKNOWN_OUTCOME);
            (Failure::Retryable, Next::Stop)
        };
        Failed {
            error: self.failed(request, failure, detail),
            next,
        }
    }

    fn failed(&self, request: &HttpRequest, failure: Failure, detail: String) -> TaskError {
        self.error(request.operation, &request.resource, failure, detail)
    }
}

/// Appended to the error of a non-replayable request that was sent without a clear answer.
const UNKNOWN_OUTCOME: &str = "; the outcome is unknown: the request was sent and may have taken effect, so it is not sent again blind (look the result up before repeating it)";

/// A failed call to `service` as a [`TaskError::Api`].
pub fn api_error(
    service: &'static str,
    operation: &'static str,
    resource: &str,
    failure: Failure,
    detail: impl Into<String>,
) -> TaskError {
    TaskError::Api {
        service,
        operation,
        resource: resource.to_string(),
        failure,
        detail: detail.into(),
        retry_after_seconds: None,
    }
}

/// `HTTP 409: <the service's message>`: the body's `error.message` (or `message`,
/// `error_description`, `error`), else its first 300 characters; credentials the body echoes
/// are blanked.
async fn describe_status(
    response: Response,
    sent_auth: Option<&HeaderMap>,
    hidden: &[String],
) -> String {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            ["/error/message", "/message", "/error_description", "/error"]
                .iter()
                .find_map(|p| v.pointer(p).and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or(text);
    let mut message = redact(message, sent_auth);
    for value in hidden.iter().filter(|v| v.len() >= 4) {
        message = message.replace(value.as_str(), "<redacted>");
    }
    match (status, excerpt(message.trim()).as_str()) {
        (401, "") => "HTTP 401: the credentials were refused".to_string(),
        (_, "") => format!("HTTP {status}"),
        (_, message) => format!("HTTP {status}: {message}"),
    }
}

/// `text` without any credential of `sent` (a reply may echo the request's headers).
fn redact(mut text: String, sent: Option<&HeaderMap>) -> String {
    for value in sent.into_iter().flat_map(HeaderMap::values) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        let bare = value
            .split_once(' ')
            .map_or(value, |(_, credential)| credential);
        for secret in [value, bare] {
            if secret.len() >= 4 {
                text = text.replace(secret, "<redacted>");
            }
        }
    }
    text
}

/// `text` cut to 300 characters, with `…` when cut (replies quoted in errors stay short).
pub fn excerpt(text: &str) -> String {
    let mut chars = text.chars();
    let mut cut: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        cut.push('…');
    }
    cut
}

/// What went wrong with a request that got no reply, without its URL (a pre-signed URL can carry
/// a token).
pub(crate) fn transport_detail(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "no answer before the request timeout"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_builder() {
        "the request could not be built"
    } else {
        "the connection failed"
    };
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    format!("{what} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_credentials_are_blanked() {
        let mut sent = HeaderMap::new();
        sent.insert("authorization", "Bearer tok-123".parse().unwrap());
        sent.insert("x-api-key", "key-456".parse().unwrap());
        let text = "HTTP 500: got Bearer tok-123 and key-456 and tok-123".to_string();
        assert_eq!(
            redact(text, Some(&sent)),
            "HTTP 500: got <redacted> and <redacted> and <redacted>"
        );
        assert_eq!(redact("HTTP 500".into(), None), "HTTP 500");
    }

    #[test]
    fn excerpts_are_cut_at_300_characters() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(400);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_token_endpoint_outside_the_binding_is_refused_when_the_client_is_built() {
        let oauth = OAuthClientCredentials::new(
            "https://login.example.org/token",
            "token_url",
            "ferry",
            SecretString::from("hunter2"),
        )
        .unwrap();
        let binding = HostBinding::new("my-secret", "auth_secret_arn", Vec::new(), &["*.sesam.io"]);
        let err = HttpClient::new(
            HttpSettings::new(Duration::from_secs(1)),
            Some(Arc::new(oauth)),
            binding,
            "Sesam",
        )
        .unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().contains("'login.example.org'"), "{err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
    }

    #[test]
    fn errors_carry_the_service_and_no_wait_by_default() {
        let err = api_error("Sesam", "list pipes", "node", Failure::Rejected, "HTTP 400");
        assert_eq!(err.to_string(), "Sesam list pipes on node failed: HTTP 400");
        assert_eq!(err.error_type(), "ApiRejected");
        assert_eq!(err.retry_after_seconds(), None);
    }
}
