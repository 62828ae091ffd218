//! Google access tokens from a credentials JSON kept in Secrets Manager, as an [`Auth`].
//!
//! Two kinds of credentials, told apart by the JSON's `type`:
//! - `service_account`: a key file. Each token comes from the key's own `token_uri` by a JWT
//!   bearer grant (RFC 7523): an RS256 assertion signed with the key (`jsonwebtoken`), exchanged
//!   through [`OAuthClientCredentials`], so the token is cached process-wide and renewed like
//!   every OAuth2 token ferry holds, and the token endpoint is checked against the host binding.
//! - `external_account`: workload identity federation, no long-lived key. Google's own
//!   `google-cloud-auth` signs the AWS `GetCallerIdentity` request with the function's AWS
//!   credentials (from its environment, as Lambda sets them), exchanges it at the configuration's
//!   `token_url` (Google STS) and, when the configuration says so, impersonates a service account.
//!   The library caches and refreshes the token for the connector that built it (one invocation:
//!   its refresh task lives on the invocation's runtime), so an invocation exchanges once.
//!
//! A secret may add ferry's `"hosts"` (see [`super::HostBinding`]); without it, credentials go
//! only to Google's API domains, Data Fusion's CDAP domain and loopback. No key, assertion or
//! token is ever logged or kept: they are [`SecretString`]s, and the header is marked sensitive.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use google_cloud_auth::credentials::AccessTokenCredentials;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::auth::{Assertion, Auth, AuthError, OAuthClientCredentials, put};
use super::binding::HostBinding;
use super::secret::SecretDoc;
use crate::checksum::sha256_hex;
use crate::error::{Failure, TaskError};

/// The scope of every token: Data Fusion and CDAP take cloud-platform.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Where a key file without `token_uri` gets its tokens.
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// The domains Google credentials may go to when the secret names no `"hosts"`.
pub const GOOGLE_DOMAINS: &[&str] = &["*.googleapis.com", "*.datafusion.googleusercontent.com"];
/// How long a signed assertion is valid (Google allows at most an hour).
const ASSERTION_SECONDS: u64 = 3600;
/// What an operator stores, for messages.
const EXPECTED: &str = "a Google credentials JSON: a service-account key (\"type\": \"service_account\") or a workload identity federation configuration (\"type\": \"external_account\")";

/// Google credentials read from a secret, with the hosts they may be sent to.
pub struct GoogleCredentials {
    /// The credentials, for an [`super::HttpClient`].
    pub auth: Arc<dyn Auth>,
    /// Where they may go.
    pub binding: HostBinding,
}

/// Reads the credentials JSON `text` of `secret` (named by the input field `field`): its shape,
/// its key, and every URL it would send credentials to against its binding. Nothing is sent.
pub fn google_credentials(
    text: &str,
    secret: &str,
    field: &str,
) -> Result<GoogleCredentials, TaskError> {
    let doc = SecretDoc::parse(text, secret, field, EXPECTED)?;
    let binding = doc.binding(GOOGLE_DOMAINS)?;
    let auth: Arc<dyn Auth> = match doc.text("type") {
        Some("service_account") => Arc::new(service_account(&doc, &binding)?),
        Some("external_account") => Arc::new(ExternalAccount::new(&doc, &binding)?),
        Some(other) => {
            return Err(doc.invalid(&format!(
                "holds credentials of type '{other}', which ferry cannot use from AWS"
            )));
        }
        None => return Err(doc.invalid("holds no \"type\"")),
    };
    Ok(GoogleCredentials { auth, binding })
}

/// A URL of the secret, checked against its binding.
fn bound_url(doc: &SecretDoc<'_>, binding: &HostBinding, key: &str) -> Result<Url, TaskError> {
    let text = doc.required(key)?;
    let url =
        Url::parse(text).map_err(|_| doc.invalid(&format!("has a \"{key}\" that is not a URL")))?;
    binding.check(&url)?;
    Ok(url)
}

/// A JWT bearer grant at the key's `token_uri`.
fn service_account(
    doc: &SecretDoc<'_>,
    binding: &HostBinding,
) -> Result<OAuthClientCredentials, TaskError> {
    let email = doc.required("client_email")?.to_string();
    let pem = doc.required("private_key")?;
    let key = EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| doc.invalid("has a \"private_key\" that is not a PEM RSA private key"))?;
    let token_url = match doc.text("token_uri") {
        Some(_) => bound_url(doc, binding, "token_uri")?,
        None => {
            let url = Url::parse(DEFAULT_TOKEN_URI).expect("a URL");
            binding.check(&url)?;
            url
        }
    };
    let signer = ServiceAccountSigner {
        email: email.clone(),
        key_id: doc.text("private_key_id").map(str::to_string),
        key,
    };
    let digest = sha256_hex(pem.as_bytes());
    Ok(
        OAuthClientCredentials::jwt_bearer(token_url, email, &digest, Arc::new(signer))
            .with_scope(CLOUD_PLATFORM_SCOPE),
    )
}

/// Signs assertions with a service account's key.
struct ServiceAccountSigner {
    email: String,
    key_id: Option<String>,
    key: EncodingKey,
}

/// The claims of a Google JWT bearer assertion.
#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl Assertion for ServiceAccountSigner {
    fn sign(&self, token_url: &Url, scope: &str) -> Result<SecretString, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = Claims {
            iss: &self.email,
            scope,
            aud: token_url.as_str(),
            iat: now,
            exp: now + ASSERTION_SECONDS,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map(SecretString::from)
            .map_err(|_| {
                AuthError::new(
                    Failure::Rejected,
                    format!("could not sign an assertion for {}", self.kind()),
                )
            })
    }

    fn kind(&self) -> String {
        format!("google service account '{}'", self.email)
    }
}

/// Workload identity federation through `google-cloud-auth`.
struct ExternalAccount {
    audience: String,
    credentials: AccessTokenCredentials,
    endpoints: Vec<Url>,
}

impl fmt::Debug for ExternalAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExternalAccount")
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl ExternalAccount {
    fn new(doc: &SecretDoc<'_>, binding: &HostBinding) -> Result<Self, TaskError> {
        let audience = doc.required("audience")?.to_string();
        doc.required("subject_token_type")?;
        let source = doc.map().get("credential_source");
        if !source.is_some_and(Value::is_object) {
            return Err(doc.invalid("holds no \"credential_source\" object"));
        }
        let aws = source
            .and_then(|s| s["environment_id"].as_str())
            .is_some_and(|id| id.starts_with("aws"));
        if !aws {
            return Err(doc.invalid(
                "has a credential_source other than AWS (\"environment_id\": \"aws1\"): from a Lambda function ferry federates only its AWS role",
            ));
        }
        let mut endpoints = vec![bound_url(doc, binding, "token_url")?];
        if doc.text("service_account_impersonation_url").is_some() {
            endpoints.push(bound_url(
                doc,
                binding,
                "service_account_impersonation_url",
            )?);
        }
        let mut config = doc.map().clone();
        config.remove("hosts");
        let config = Value::Object(config);
        let credentials = google_cloud_auth::credentials::external_account::Builder::new(config)
            .with_scopes([CLOUD_PLATFORM_SCOPE])
            .build_access_token_credentials()
            .map_err(|e| {
                doc.invalid(&format!(
                    "is not an external_account configuration Google's library accepts ({e})"
                ))
            })?;
        Ok(ExternalAccount {
            audience,
            credentials,
            endpoints,
        })
    }
}

impl Auth for ExternalAccount {
    fn kind(&self) -> String {
        "google workload identity federation".to_string()
    }

    fn headers<'a>(
        &'a self,
        _http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<HeaderMap, AuthError>> {
        Box::pin(async move {
            let token = self.credentials.access_token().await.map_err(|e| {
                let failure = if e.is_transient() {
                    Failure::Retryable
                } else {
                    Failure::Unauthorized
                };
                let mut detail = format!("the workload identity token exchange failed: {e}");
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    detail.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                let detail: String = detail.chars().take(600).collect();
                AuthError::new(failure, detail)
            })?;
            let value = SecretString::from(format!("Bearer {}", token.token));
            let mut headers = HeaderMap::new();
            put(&mut headers, "authorization", value.expose_secret())?;
            Ok(headers)
        })
    }

    fn endpoints(&self) -> Vec<Url> {
        self.endpoints.clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = include_str!("../../../tests/fixtures/google/service-account.json");

    fn problem(text: &str) -> String {
        match google_credentials(text, "ferry/gcp", "target.datafusion.auth_secret_arn") {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {text}"),
        }
    }

    #[test]
    fn a_key_file_becomes_a_jwt_bearer_grant_at_its_token_uri() {
        let mut key: Value = serde_json::from_str(KEY).unwrap();
        key["token_uri"] = json!("http://127.0.0.1:9/token");
        let creds = google_credentials(&key.to_string(), "ferry/gcp", "f").unwrap();
        assert_eq!(
            creds.auth.kind(),
            "google service account 'ferry-promoter@ferry-test.iam.gserviceaccount.com'"
        );
        assert_eq!(
            creds.auth.endpoints()[0].as_str(),
            "http://127.0.0.1:9/token"
        );
        assert!(!format!("{:?}", creds.auth).contains("PRIVATE KEY"));
    }

    #[test]
    fn an_assertion_is_rs256_for_the_token_uri_and_verifies_with_the_public_key() {
        let key: Value = serde_json::from_str(KEY).unwrap();
        let signer = ServiceAccountSigner {
            email: "a@p.iam.gserviceaccount.com".into(),
            key_id: Some("kid-1".into()),
            key: EncodingKey::from_rsa_pem(key["private_key"].as_str().unwrap().as_bytes())
                .unwrap(),
        };
        let url = Url::parse("https://oauth2.googleapis.com/token").unwrap();
        let jwt = signer.sign(&url, CLOUD_PLATFORM_SCOPE).unwrap();
        let public = include_bytes!("../../../tests/fixtures/google/sa-public.pem");
        let decoding = jsonwebtoken::DecodingKey::from_rsa_pem(public).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://oauth2.googleapis.com/token"]);
        let data =
            jsonwebtoken::decode::<Value>(jwt.expose_secret(), &decoding, &validation).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("kid-1"));
        assert_eq!(data.claims["iss"], "a@p.iam.gserviceaccount.com");
        assert_eq!(data.claims["scope"], CLOUD_PLATFORM_SCOPE);
        let lifetime = data.claims["exp"].as_u64().unwrap() - data.claims["iat"].as_u64().unwrap();
        assert_eq!(lifetime, 3600);
    }

    #[test]
    fn bad_secrets_are_named_without_their_values() {
        let found = problem(r#"{"type": "authorized_user", "refresh_token": "r-123"}"#);
        assert!(
            found.contains("target.datafusion.auth_secret_arn"),
            "{found}"
        );
        assert!(
            found.contains("type 'authorized_user'") && !found.contains("r-123"),
            "{found}"
        );
        let found = problem(r#"{"client_email": "a@b"}"#);
        assert!(found.contains("holds no \"type\""), "{found}");
        let found = problem(
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "secret-ish"}"#,
        );
        assert!(
            found.contains("not a PEM RSA private key") && !found.contains("secret-ish"),
            "{found}"
        );
        let mut key: Value = serde_json::from_str(KEY).unwrap();
        key["token_uri"] = json!("https://tokens.example.org/token");
        let found = problem(&key.to_string());
        assert!(
            found.contains("not bound to host 'tokens.example.org'"),
            "{found}"
        );
        assert!(!found.contains("PRIVATE KEY"), "{found}");
    }

    #[tokio::test]
    async fn an_external_account_sends_credentials_only_to_bound_hosts() {
        let config = json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/aws/providers/ferry",
            "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
            "token_url": "https://sts.googleapis.com/v1/token",
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/p@x.iam.gserviceaccount.com:generateAccessToken",
            "credential_source": {"environment_id": "aws1",
                "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}
        });
        let creds = google_credentials(&config.to_string(), "s", "f").unwrap();
        assert_eq!(creds.auth.kind(), "google workload identity federation");
        assert_eq!(creds.auth.endpoints().len(), 2);
        let mut elsewhere = config.clone();
        elsewhere["token_url"] = json!("https://sts.example.org/v1/token");
        assert!(problem(&elsewhere.to_string()).contains("not bound to host 'sts.example.org'"));
        let mut no_source = config.clone();
        no_source
            .as_object_mut()
            .unwrap()
            .remove("credential_source");
        assert!(problem(&no_source.to_string()).contains("credential_source"));
        let mut file = config;
        file["credential_source"] = json!({"file": "/proc/self/environ"});
        assert!(problem(&file.to_string()).contains("other than AWS"));
    }
}
