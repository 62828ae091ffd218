//! Credentials as request headers, made afresh for every attempt.
//!
//! [`StaticAuth`] sends fixed headers (a bearer token, API keys): a 401 means they are wrong and is
//! never replayed. [`OAuthClientCredentials`] exchanges a client id and secret for access tokens,
//! kept in one cache for the whole process (a warm Lambda reuses them across invocations) keyed by
//! token endpoint, client id and a digest of the secret, and renewed when 90% of their lifetime has
//! passed; a 401 drops the cached token so that the request is replayed once with a fresh one.
//! Secret values are [`SecretString`]s (never in `Debug`) and become header values marked
//! sensitive.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::retry::classify_status;
use crate::error::{Failure, TaskError};

/// Why credentials could not be produced; the client reports it as the failed call's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    /// Retry class (a refused client secret is [`Failure::Unauthorized`]).
    pub failure: Failure,
    /// What went wrong, never quoting a secret.
    pub detail: String,
}

impl AuthError {
    /// An error of class `failure`.
    pub fn new(failure: Failure, detail: impl Into<String>) -> Self {
        AuthError {
            failure,
            detail: detail.into(),
        }
    }
}

/// How a client authenticates: headers per attempt, and whether a refused credential can be renewed.
pub trait Auth: Send + Sync + fmt::Debug {
    /// What kind of credentials these are ("bearer token", "api key", "oauth client 'ferry'").
    fn kind(&self) -> String;

    /// The headers of one attempt (values marked sensitive); `http` is the client's own
    /// connection pool, for fetching a token.
    fn headers<'a>(
        &'a self,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<HeaderMap, AuthError>>;

    /// Called on a 401: forgets the refused credential and says whether a replay with a new one
    /// may succeed. Static credentials cannot be renewed (the default).
    fn invalidate(&self) -> bool {
        false
    }

    /// URLs the credentials themselves are sent to besides the requests (a token endpoint); the
    /// client checks them against the secret's host binding when it is built.
    fn endpoints(&self) -> Vec<Url> {
        Vec::new()
    }
}

/// Fixed headers: a bearer token, or API key headers.
#[derive(Clone)]
pub struct StaticAuth {
    kind: &'static str,
    headers: Vec<(&'static str, SecretString)>,
}

impl fmt::Debug for StaticAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        f.debug_struct("StaticAuth")
            .field("kind", &self.kind)
            .field("headers", &names)
            .finish()
    }
}

impl StaticAuth {
    /// `authorization: Bearer <token>` (a leading `Bearer ` pasted with the token is dropped).
    pub fn bearer(token: &SecretString) -> Self {
        let token = strip_bearer(token.expose_secret());
        StaticAuth {
            kind: "bearer token",
            headers: vec![(
                "authorization",
                SecretString::from(format!("Bearer {token}")),
            )],
        }
    }

    /// One header carrying a key (`x-api-key: <key>`); `name` must be a lower-case header name.
    pub fn header(name: &'static str, value: SecretString) -> Self {
        StaticAuth {
            kind: "api key",
            headers: vec![(name, value)],
        }
    }

    /// Adds another header (a second key).
    pub fn and(mut self, name: &'static str, value: SecretString) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl Auth for StaticAuth {
    fn kind(&self) -> String {
        self.kind.to_string()
    }

    fn headers<'a>(
        &'a self,
        _http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<HeaderMap, AuthError>> {
        let mut headers = HeaderMap::new();
        let result = self
            .headers
            .iter()
            .try_for_each(|(name, value)| put(&mut headers, name, value.expose_secret()))
            .map(|()| headers);
        Box::pin(async move { result })
    }
}

/// Inserts `name: value` marked sensitive.
pub(super) fn put(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), AuthError> {
    let name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| AuthError::new(Failure::Rejected, format!("'{name}' is not a header name")))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        AuthError::new(
            Failure::Rejected,
            format!("the credential for {name} is not a valid header value"),
        )
    })?;
    value.set_sensitive(true);
    headers.insert(name, value);
    Ok(())
}

/// Drops a leading `Bearer ` the user may have pasted with the token.
pub fn strip_bearer(token: &str) -> &str {
    let trimmed = token.trim();
    match trimmed.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => trimmed[7..].trim(),
        _ => trimmed,
    }
}

/// An OAuth2 token grant whose bearer tokens are cached process-wide: client credentials
/// (RFC 6749 §4.4, the id and secret sent in the form body), or a JWT bearer assertion (RFC 7523,
/// a Google service-account key signing a fresh assertion for every token).
#[derive(Clone)]
pub struct OAuthClientCredentials {
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    scope: Option<String>,
    assertion: Option<Arc<dyn Assertion>>,
}

/// Signs the assertion of a JWT bearer grant (the key never leaves it).
pub trait Assertion: Send + Sync {
    /// A signed assertion for `scope` at `token_url`, valid from now.
    fn sign(&self, token_url: &Url, scope: &str) -> Result<SecretString, AuthError>;
    /// What people call the signer (`google service account 'a@p.iam.gserviceaccount.com'`).
    fn kind(&self) -> String;
}

impl fmt::Debug for OAuthClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClientCredentials")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .field("assertion", &self.assertion.as_ref().map(|a| a.kind()))
            .finish_non_exhaustive()
    }
}

impl OAuthClientCredentials {
    /// Credentials of `client_id` at `token_url`; `field` names the token URL's input field in
    /// the error when it is not a URL.
    pub fn new(
        token_url: &str,
        field: &str,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Result<Self, TaskError> {
        let token_url = Url::parse(token_url)
            .map_err(|e| TaskError::invalid(field, format!("is not a URL: {e}")))?;
        Ok(OAuthClientCredentials {
            token_url,
            client_id: client_id.into(),
            client_secret,
            scope: None,
            assertion: None,
        })
    }

    /// A JWT bearer grant at `token_url`: `signer` signs a fresh assertion for every token;
    /// `client_id` names it in the cache and in messages, `key_digest` (a digest of the key, never
    /// the key) tells a rotated key from the old one.
    pub fn jwt_bearer(
        token_url: Url,
        client_id: impl Into<String>,
        key_digest: &str,
        signer: Arc<dyn Assertion>,
    ) -> Self {
        OAuthClientCredentials {
            token_url,
            client_id: client_id.into(),
            client_secret: SecretString::from(key_digest.to_string()),
            scope: None,
            assertion: Some(signer),
        }
    }

    /// Asks for `scope` (space-separated scopes).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The cache key: token endpoint, client id, scope and a digest of the secret (a rotated
    /// secret gets a new token; the secret itself is never a key).
    fn key(&self) -> String {
        let digest = crate::checksum::sha256_hex(self.client_secret.expose_secret().as_bytes());
        format!(
            "{}\n{}\n{}\n{digest}",
            self.token_url,
            self.client_id,
            self.scope.as_deref().unwrap_or("")
        )
    }

    async fn token(&self, http: &reqwest::Client) -> Result<SecretString, AuthError> {
        let slot = slot(&self.key());
        if let Some(token) = slot.current() {
            return Ok(token);
        }
        // One fetch at a time per key: concurrent requests wait for it instead of fetching too.
        let _fetching = slot.fetching.lock().await;
        if let Some(token) = slot.current() {
            return Ok(token);
        }
        let token = self.fetch(http).await?;
        let value = token.value.clone();
        *slot.token.lock().unwrap_or_else(PoisonError::into_inner) = Some(token);
        Ok(value)
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<CachedToken, AuthError> {
        let signed;
        let mut form = match &self.assertion {
            Some(signer) => {
                signed = signer.sign(&self.token_url, self.scope.as_deref().unwrap_or(""))?;
                vec![
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", signed.expose_secret()),
                ]
            }
            None => vec![
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.expose_secret()),
            ],
        };
        if let (Some(scope), None) = (&self.scope, &self.assertion) {
            form.push(("scope", scope));
        }
        let response = http
            .post(self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                AuthError::new(
                    Failure::Retryable,
                    format!("token endpoint: {}", super::transport_detail(&e)),
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            let code = status.as_u16();
            let id = &self.client_id;
            return Err(match code {
                400 | 401 | 403 => AuthError::new(
                    Failure::Unauthorized,
                    format!(
                        "the token endpoint refused client '{id}' (HTTP {code}): check the client's credentials"
                    ),
                ),
                _ => AuthError::new(
                    classify_status(status),
                    format!("the token endpoint failed for client '{id}' (HTTP {code})"),
                ),
            });
        }
        let body: Value = response.json().await.map_err(|_| {
            AuthError::new(Failure::Retryable, "the token endpoint's reply is not JSON")
        })?;
        token_from_reply(&body, Instant::now())
    }
}

impl Auth for OAuthClientCredentials {
    fn kind(&self) -> String {
        match &self.assertion {
            Some(signer) => signer.kind(),
            None => format!("oauth client '{}'", self.client_id),
        }
    }

    fn headers<'a>(
        &'a self,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<HeaderMap, AuthError>> {
        Box::pin(async move {
            let token = self.token(http).await?;
            let mut headers = HeaderMap::new();
            put(
                &mut headers,
                "authorization",
                &format!("Bearer {}", token.expose_secret()),
            )?;
            Ok(headers)
        })
    }

    fn invalidate(&self) -> bool {
        *slot(&self.key())
            .token
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        true
    }

    fn endpoints(&self) -> Vec<Url> {
        vec![self.token_url.clone()]
    }
}

/// A cached access token.
#[derive(Clone)]
struct CachedToken {
    value: SecretString,
    refresh_at: Instant,
}

/// The token of one key, and the lock held while fetching it.
#[derive(Default)]
struct Slot {
    token: Mutex<Option<CachedToken>>,
    fetching: tokio::sync::Mutex<()>,
}

impl Slot {
    /// The cached token while it is not due for renewal.
    fn current(&self) -> Option<SecretString> {
        let token = self.token.lock().unwrap_or_else(PoisonError::into_inner);
        token
            .as_ref()
            .filter(|t| Instant::now() < t.refresh_at)
            .map(|t| t.value.clone())
    }
}

/// The process's token slot for `key`.
fn slot(key: &str) -> Arc<Slot> {
    static SLOTS: OnceLock<Mutex<HashMap<String, Arc<Slot>>>> = OnceLock::new();
    let mut slots = SLOTS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    slots.entry(key.to_string()).or_default().clone()
}

/// Reads `access_token` and `expires_in` (60 s when absent); the token is renewed when 90% of
/// its lifetime has passed.
fn token_from_reply(body: &Value, now: Instant) -> Result<CachedToken, AuthError> {
    let value = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            AuthError::new(
                Failure::Rejected,
                "the token endpoint's reply has no access_token",
            )
        })?;
    let seconds = match body.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    let lifetime = Duration::from_secs(seconds.unwrap_or(60));
    Ok(CachedToken {
        value: SecretString::from(value),
        refresh_at: now + lifetime - lifetime / 10,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tokens_are_renewed_a_tenth_before_they_expire() {
        let now = Instant::now();
        let token =
            token_from_reply(&json!({"access_token": "t", "expires_in": 300}), now).unwrap();
        assert_eq!(token.refresh_at - now, Duration::from_secs(270));
        let token =
            token_from_reply(&json!({"access_token": "t", "expires_in": "100"}), now).unwrap();
        assert_eq!(token.refresh_at - now, Duration::from_secs(90));
        assert!(token_from_reply(&json!({"expires_in": 300}), now).is_err());
        assert!(token_from_reply(&json!({"access_token": ""}), now).is_err());
    }

    #[tokio::test]
    async fn static_headers_are_sensitive_and_never_in_debug() {
        let http = reqwest::Client::new();
        let bearer = StaticAuth::bearer(&SecretString::from("Bearer hunter2"));
        let headers = bearer.headers(&http).await.unwrap();
        let value = &headers["authorization"];
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), "Bearer hunter2");
        assert!(!format!("{bearer:?} {headers:?}").contains("hunter2"));
        assert!(!bearer.invalidate(), "a static token cannot be renewed");

        let keys = StaticAuth::header("x-api-key", SecretString::from("k1"))
            .and("x-api-secret", SecretString::from("k2"));
        let headers = keys.headers(&http).await.unwrap();
        assert_eq!(headers.len(), 2);
        assert!(headers.values().all(HeaderValue::is_sensitive));

        let broken = StaticAuth::header("x-api-key", SecretString::from("a\nb"));
        let err = broken.headers(&http).await.unwrap_err();
        assert_eq!(err.failure, Failure::Rejected);
        assert!(!err.detail.contains("a\nb"));
    }

    #[test]
    fn oauth_debug_names_the_client_only() {
        let oauth = OAuthClientCredentials::new(
            "https://id.example.org/token",
            "token_url",
            "ferry",
            SecretString::from("hunter2"),
        )
        .unwrap();
        let text = format!("{oauth:?}");
        assert!(
            text.contains("ferry") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(!oauth.key().contains("hunter2"));
        assert_eq!(oauth.kind(), "oauth client 'ferry'");
        assert_eq!(
            oauth.endpoints(),
            [Url::parse("https://id.example.org/token").unwrap()]
        );
        let err =
            OAuthClientCredentials::new("not a url", "x.token_url", "c", "s".into()).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
    }

    #[test]
    fn pasted_bearer_prefixes_are_dropped() {
        assert_eq!(strip_bearer(" Bearer abc "), "abc");
        assert_eq!(strip_bearer("bearer abc"), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
    }
}
