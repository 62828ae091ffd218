//! `POST /oauth2/token`: the OAuth2 client-credentials grant (RFC 6749 §4.4). The form
//! (`application/x-www-form-urlencoded`) carries `grant_type=client_credentials` and an optional
//! space-separated `scope`; the client authenticates with HTTP Basic or with `client_id` and
//! `client_secret` form fields (§2.3.1; both at once is refused). The token grants exactly the
//! scopes asked for (none when `scope` is absent), each one the client must be allowed, and
//! lives the configured lifetime. Errors follow §5.2: `invalid_client` (401), `invalid_request`,
//! `unsupported_grant_type`, `invalid_scope` (400).

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::Served;
use super::clock;
use super::reply::{self, Fail, Reply};
use super::state::{Grant, State as World};

/// Issues an access token.
pub(crate) async fn issue(State(served): State<Served>, headers: HeaderMap, body: Bytes) -> Reply {
    served.store.with(|s| s.counts.token_requests += 1);
    let form = form(&headers, &body)?;
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            let description = format!("grant type {other} is not supported");
            return Err(bad("unsupported_grant_type", &description));
        }
        None => return Err(bad("invalid_request", "grant_type is required")),
    }
    let client = credentials(&headers, &form)?;
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    served.store.with(|s| grant(s, &client, scope))
}

fn bad(code: &str, description: &str) -> Fail {
    reply::oauth(StatusCode::BAD_REQUEST, code, description)
}

/// The client id, its secret, and whether they came by HTTP Basic.
struct Client {
    id: String,
    secret: String,
    basic: bool,
}

fn invalid_client(client: &Client) -> Fail {
    let description = "client authentication failed";
    let mut fail = reply::oauth(StatusCode::UNAUTHORIZED, "invalid_client", description);
    if client.basic {
        let challenge = HeaderValue::from_static("Basic realm=\"director-sim\"");
        fail.headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    fail
}

fn grant(s: &mut World, client: &Client, scope: &str) -> Reply {
    let known = s
        .clients
        .get(&client.id)
        .filter(|c| c.secret == client.secret);
    let allowed = known.ok_or_else(|| invalid_client(client))?.scopes.clone();
    let mut scopes: Vec<String> = Vec::new();
    for wanted in scope.split_whitespace() {
        if !allowed.iter().any(|a| a == wanted) {
            let description = format!("the client may not be granted scope {wanted}");
            return Err(bad("invalid_scope", &description));
        }
        if !scopes.iter().any(|s| s == wanted) {
            scopes.push(wanted.to_string());
        }
    }
    let token = clock::token();
    let lifetime = s.token_lifetime;
    let expires = Instant::now() + lifetime;
    let body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
        "scope": scopes.join(" "),
    });
    s.tokens.insert(token, Grant { scopes, expires });
    s.counts.tokens_issued += 1;
    let mut response = reply::ok(body);
    let no_store = [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ];
    for (name, value) in no_store {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    Ok(response)
}

/// The form parameters; each may appear once.
fn form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, Fail> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let is_form = content_type.is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        let description = "the body must be application/x-www-form-urlencoded";
        return Err(bad("invalid_request", description));
    }
    let text =
        std::str::from_utf8(body).map_err(|_| bad("invalid_request", "the body is not UTF-8"))?;
    let mut params = HashMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let undecodable = || bad("invalid_request", &format!("cannot decode {pair:?}"));
        let name = percent_decode(name).ok_or_else(undecodable)?;
        let value = percent_decode(value).ok_or_else(undecodable)?;
        if params.insert(name.clone(), value).is_some() {
            let description = format!("parameter {name} is repeated");
            return Err(bad("invalid_request", &description));
        }
    }
    Ok(params)
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        match first {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(rest.get(..2)?).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &rest[2..];
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The client's credentials from HTTP Basic or from the form, never both.
fn credentials(headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Client, Fail> {
    let from_form = form.get("client_id").map(|id| Client {
        id: id.clone(),
        secret: form.get("client_secret").cloned().unwrap_or_default(),
        basic: false,
    });
    let authorization = headers.get(header::AUTHORIZATION);
    let from_header = authorization.map(|value| basic(value.to_str().unwrap_or_default()));
    match (from_header, from_form) {
        (Some(_), Some(_)) => {
            let description = "use one client authentication method, not both";
            Err(bad("invalid_request", description))
        }
        (Some(header), None) => header,
        (None, Some(client)) => Ok(client),
        (None, None) => Err(invalid_client(&Client {
            id: String::new(),
            secret: String::new(),
            basic: true,
        })),
    }
}

/// `Basic base64(urlencoded(id) ":" urlencoded(secret))`.
fn basic(value: &str) -> Result<Client, Fail> {
    let decoded = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| STANDARD.decode(encoded.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let pair = decoded.as_deref().and_then(|text| text.split_once(':'));
    let parts = pair.and_then(|(id, secret)| Some((percent_decode(id)?, percent_decode(secret)?)));
    let (id, secret) = parts.ok_or_else(|| {
        let blank = Client {
            id: String::new(),
            secret: String::new(),
            basic: true,
        };
        invalid_client(&blank)
    })?;
    Ok(Client {
        id,
        secret,
        basic: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_text_is_percent_decoded() {
        assert_eq!(percent_decode("a+b%3Ac%25").as_deref(), Some("a b:c%"));
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("bad%zz"), None);
    }

    #[test]
    fn basic_credentials_are_decoded_from_urlencoded_parts() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:s%3Acret"));
        let client = basic(&header).ok().unwrap();
        assert_eq!(
            (client.id.as_str(), client.secret.as_str()),
            ("my client", "s:cret")
        );
        assert!(basic("Bearer abc").is_err());
    }
}
