//! `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`:
//! the assertion must be RS256, signed with the registered key of its `iss`, addressed to this
//! endpoint (`aud` = `<origin>/token`), unexpired, issued at most 60 s ahead and living at most
//! an hour, and ask for the cloud-platform scope; the answer is a `ya29.sim-` access token.

use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use super::super::clock;
use super::super::reply::{self, Fail, Reply};
use super::super::state::{State as World, Store};
use super::super::tokens::{Kind, Token};
use super::{has_cloud_platform, origin};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The form of a grant request.
#[derive(Deserialize)]
pub(crate) struct GrantForm {
    grant_type: Option<String>,
    assertion: Option<String>,
}

/// What a verified assertion grants.
struct Grant {
    account: String,
    lifetime: u64,
}

fn invalid(text: &str) -> Fail {
    reply::oauth("invalid_grant", text)
}

fn claim(claims: &Value, name: &str) -> Option<u64> {
    claims.get(name).and_then(Value::as_u64)
}

/// The `iss` of the assertion, read before its signature is checked.
fn issuer(assertion: &str) -> Result<String, Fail> {
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| invalid("Invalid JWT: the assertion cannot be decoded"))?;
    let iss = claims.get("iss").and_then(Value::as_str);
    iss.map(str::to_string)
        .ok_or_else(|| invalid("Invalid JWT: no iss claim"))
}

fn verify_signature(assertion: &str, pem: &str, audience: &str) -> Result<Value, Fail> {
    let key =
        DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| invalid("Invalid JWT Signature."))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["iss", "aud", "exp"]);
    validation.validate_exp = false;
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &validation).map_err(|e| match e
        .kind()
    {
        ErrorKind::InvalidAudience => {
            invalid("Invalid JWT audience: it must be this token endpoint's URL.")
        }
        ErrorKind::MissingRequiredClaim(c) => invalid(&format!("Invalid JWT: missing claim {c}")),
        _ => invalid("Invalid JWT Signature."),
    })?;
    Ok(data.claims)
}

fn check_times(claims: &Value) -> Result<(), Fail> {
    let now = clock::now();
    let (Some(exp), Some(iat)) = (claim(claims, "exp"), claim(claims, "iat")) else {
        return Err(invalid("Invalid JWT: exp and iat must be numbers"));
    };
    if exp <= now {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    if iat > now + 60 || exp.saturating_sub(iat) > 3600 || exp < iat {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    Ok(())
}

fn verify(s: &World, assertion: &str, audience: &str) -> Result<Grant, Fail> {
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| invalid("Invalid JWT: the header cannot be decoded"))?;
    if header.alg != Algorithm::RS256 {
        return Err(invalid("Invalid JWT: the algorithm must be RS256"));
    }
    let iss = issuer(assertion)?;
    let account = s
        .accounts
        .get(&iss)
        .ok_or_else(|| invalid("Invalid grant: account not found"))?;
    let claims = verify_signature(assertion, &account.public_key_pem, audience)?;
    check_times(&claims)?;
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if !has_cloud_platform(scope.split_whitespace()) {
        return Err(reply::oauth(
            "invalid_scope",
            "The assertion must ask for the cloud-platform scope.",
        ));
    }
    Ok(Grant {
        account: iss,
        lifetime: account.lifetime,
    })
}

/// `POST /token`.
pub(crate) async fn token(
    State(store): State<Store>,
    headers: HeaderMap,
    Form(form): Form<GrantForm>,
) -> Reply {
    if form.grant_type.as_deref() != Some(JWT_BEARER) {
        let text = format!("grant_type must be {JWT_BEARER}");
        return Err(reply::oauth("unsupported_grant_type", text));
    }
    let assertion = form
        .assertion
        .ok_or_else(|| reply::oauth("invalid_request", "Missing required parameter: assertion"))?;
    let audience = format!("{}/token", origin(&headers));
    store.with(|s| {
        let grant = verify(s, &assertion, &audience).inspect_err(|_| s.refused_grants += 1)?;
        let token = Token {
            kind: Kind::ServiceAccount,
            subject: grant.account,
            pool: None,
            expires_at: clock::now() + grant.lifetime,
        };
        let value = s.tokens.mint("ya29.sim-", token);
        *s.grants
            .entry(Kind::ServiceAccount.name().to_string())
            .or_default() += 1;
        Ok(reply::ok(
            json!({"access_token": value, "expires_in": grant.lifetime, "token_type": "Bearer"}),
        ))
    })
}
