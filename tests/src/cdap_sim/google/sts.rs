//! `POST /v1/token`: the STS token exchange of workload identity federation from AWS. The form
//! names a seeded pool as `audience`, asks for the cloud-platform scope and an access token, and
//! carries as `subject_token` a signed `GetCallerIdentity` request (URL-encoded JSON). The
//! request must target this audience (`x-goog-cloud-target-resource`), be signed by the pool's
//! access key when it names one, and when the pool knows the secret, carry a correct SigV4
//! signature. The answer is an `sts-sim-` access token.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::super::clock;
use super::super::model::PoolSeed;
use super::super::reply::{self, Fail, Reply};
use super::super::state::Store;
use super::super::tokens::{Kind, Token};
use super::has_cloud_platform;
use super::sigv4::{self, ALGORITHM, Signing};

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const AWS_REQUEST: &str = "urn:ietf:params:aws:token-type:aws4_request";
const LIFETIME: u64 = 3600;

/// The form of an exchange request.
#[derive(Deserialize)]
pub(crate) struct ExchangeForm {
    grant_type: Option<String>,
    audience: Option<String>,
    scope: Option<String>,
    requested_token_type: Option<String>,
    subject_token_type: Option<String>,
    subject_token: Option<String>,
}

/// The signed request inside the subject token.
#[derive(Deserialize)]
struct AwsRequest {
    url: String,
    method: String,
    headers: Vec<AwsHeader>,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct AwsHeader {
    key: String,
    value: String,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct Credential {
    key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn invalid(text: impl Into<String>) -> Fail {
    reply::oauth("invalid_grant", text)
}

fn parse_authorization(value: &str) -> Option<Credential> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let mut fields = BTreeMap::new();
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        fields.insert(name, value);
    }
    let scope: Vec<&str> = fields.get("Credential")?.split('/').collect();
    let [key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
        return None;
    };
    let signed = fields
        .get("SignedHeaders")?
        .split(';')
        .map(str::to_string)
        .collect();
    Some(Credential {
        key_id: (*key_id).to_string(),
        date: (*date).to_string(),
        region: (*region).to_string(),
        service: (*service).to_string(),
        signed_headers: signed,
        signature: (*fields.get("Signature")?).to_string(),
    })
}

/// The host and query of an `https://host[/]?query` URL.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://")?;
    let (host, query) = rest.split_once('?').unwrap_or((rest, ""));
    Some((host.trim_end_matches('/'), query))
}

/// The region of `sts.<region>.amazonaws.com`.
fn sts_region(host: &str) -> Option<&str> {
    host.strip_prefix("sts.")?.strip_suffix(".amazonaws.com")
}

fn decode(subject_token: &str) -> Result<AwsRequest, String> {
    let json = sigv4::form_decode(subject_token).ok_or("the subject token is not URL-encoded")?;
    serde_json::from_str(&json)
        .map_err(|e| format!("the subject token is not a signed AWS request: {e}"))
}

/// The headers of the request by lowercase name.
fn header_map(request: &AwsRequest) -> BTreeMap<String, String> {
    let pairs = request
        .headers
        .iter()
        .map(|h| (h.key.to_ascii_lowercase(), h.value.clone()));
    pairs.collect()
}

fn check_signature(
    secret: &str,
    request: &AwsRequest,
    query: &str,
    headers: &BTreeMap<String, String>,
    credential: &Credential,
) -> Result<(), String> {
    let mut signed = BTreeMap::new();
    for name in &credential.signed_headers {
        let value = headers
            .get(name)
            .ok_or(format!("signed header {name} is missing"))?;
        signed.insert(name.clone(), value.clone());
    }
    let amz_date = headers.get("x-amz-date").map_or("", String::as_str);
    let signing = Signing {
        method: &request.method,
        query,
        headers: &signed,
        body: &request.body,
        amz_date,
        region: &credential.region,
        service: &credential.service,
    };
    let expected =
        sigv4::signature(secret, &signing).ok_or("the request cannot be canonicalized")?;
    if expected != credential.signature {
        return Err("The AWS request signature does not match".to_string());
    }
    Ok(())
}

/// Checks the signed request against the pool; the AWS access key id it was signed with.
fn check_request(pool: &PoolSeed, request: &AwsRequest) -> Result<String, String> {
    let (host, query) = split_url(&request.url).ok_or("the AWS request URL must be https")?;
    let region = sts_region(host).ok_or("the AWS request must go to sts.<region>.amazonaws.com")?;
    if request.method != "POST" || !query.split('&').any(|p| p == "Action=GetCallerIdentity") {
        return Err("the AWS request must be POST ?Action=GetCallerIdentity".to_string());
    }
    let headers = header_map(request);
    if headers.get("x-goog-cloud-target-resource") != Some(&pool.audience) {
        return Err("x-goog-cloud-target-resource must be the audience".to_string());
    }
    if headers.get("host").map(String::as_str) != Some(host) {
        return Err("the host header must be the URL's host".to_string());
    }
    let authorization = headers
        .get("authorization")
        .ok_or("the AWS request has no Authorization")?;
    let credential =
        parse_authorization(authorization).ok_or("the Authorization is not AWS4-HMAC-SHA256")?;
    let amz_date = headers
        .get("x-amz-date")
        .ok_or("the AWS request has no x-amz-date")?;
    if credential.region != region
        || credential.service != "sts"
        || !amz_date.starts_with(&credential.date)
    {
        return Err("the credential scope does not match the request".to_string());
    }
    for needed in ["host", "x-amz-date", "x-goog-cloud-target-resource"] {
        if !credential.signed_headers.iter().any(|h| h == needed) {
            return Err(format!("{needed} must be signed"));
        }
    }
    if pool
        .aws_access_key_id
        .as_ref()
        .is_some_and(|k| *k != credential.key_id)
    {
        return Err("the request is signed by an unknown AWS access key".to_string());
    }
    if let Some(secret) = &pool.aws_secret_access_key {
        check_signature(secret, request, query, &headers, &credential)?;
    }
    Ok(credential.key_id)
}

fn check_form(form: &ExchangeForm) -> Result<(), Fail> {
    if form.grant_type.as_deref() != Some(TOKEN_EXCHANGE) {
        return Err(reply::oauth(
            "unsupported_grant_type",
            format!("grant_type must be {TOKEN_EXCHANGE}"),
        ));
    }
    if form.requested_token_type.as_deref() != Some(ACCESS_TOKEN) {
        return Err(reply::oauth(
            "invalid_request",
            format!("requested_token_type must be {ACCESS_TOKEN}"),
        ));
    }
    if form.subject_token_type.as_deref() != Some(AWS_REQUEST) {
        return Err(reply::oauth(
            "invalid_request",
            format!("subject_token_type must be {AWS_REQUEST}"),
        ));
    }
    // A token for impersonation asks for the IAM scope only (what it is used for is the
    // generateAccessToken call); a token used directly needs cloud-platform.
    let scope = form.scope.as_deref().unwrap_or("");
    let iam = scope.split_whitespace().any(|s| s == IAM_SCOPE);
    if !iam && !has_cloud_platform(scope.split_whitespace()) {
        return Err(reply::oauth(
            "invalid_scope",
            "The scope must include cloud-platform (or iam, for impersonation)",
        ));
    }
    Ok(())
}

/// The scope of an STS token that only impersonates.
const IAM_SCOPE: &str = "https://www.googleapis.com/auth/iam";

/// `POST /v1/token`.
pub(crate) async fn exchange(State(store): State<Store>, Form(form): Form<ExchangeForm>) -> Reply {
    let checked = check_form(&form).and_then(|()| {
        let subject = form
            .subject_token
            .as_deref()
            .ok_or_else(|| invalid("subject_token is required"))?;
        decode(subject).map_err(invalid)
    });
    store.with(|s| {
        let request = checked.inspect_err(|_| s.refused_grants += 1)?;
        let audience = form.audience.clone().unwrap_or_default();
        let verdict = match s.pools.get(&audience) {
            None => Err(invalid(format!(
                "The audience {audience} is not a known workload identity pool provider"
            ))),
            Some(pool) => check_request(pool, &request).map_err(invalid),
        };
        let key_id = verdict.inspect_err(|_| s.refused_grants += 1)?;
        let token = Token {
            kind: Kind::Sts,
            subject: format!("aws:{key_id}"),
            pool: Some(audience),
            expires_at: clock::now() + LIFETIME,
        };
        let value = s.tokens.mint("sts-sim-", token);
        *s.grants.entry(Kind::Sts.name().to_string()).or_default() += 1;
        Ok(reply::ok(json!({
            "access_token": value,
            "issued_token_type": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": LIFETIME,
        })))
    })
}
