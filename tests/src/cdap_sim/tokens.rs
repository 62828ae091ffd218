//! Access tokens this simulator issued: their kind (service-account grant, STS exchange,
//! impersonation), who they stand for, the pool an STS token came from and when they expire;
//! checking a request's `Authorization: Bearer` against them and classifying it for the log.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};
use serde::Serialize;

use super::clock;

/// How a token was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// `POST /token` with a service account's JWT.
    ServiceAccount,
    /// `POST /v1/token` (workload identity federation).
    Sts,
    /// `generateAccessToken` with an STS token.
    Impersonated,
}

impl Kind {
    /// The name used by the log and the counts.
    pub fn name(self) -> &'static str {
        match self {
            Kind::ServiceAccount => "service_account",
            Kind::Sts => "sts",
            Kind::Impersonated => "impersonated",
        }
    }
}

/// One issued token.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    /// How it was obtained.
    pub kind: Kind,
    /// The service account email, or the AWS principal of an STS token.
    pub subject: String,
    /// The pool audience of an STS token.
    pub pool: Option<String>,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
}

impl Token {
    fn live(&self) -> bool {
        clock::now() < self.expires_at
    }
}

/// Every issued token, by its value.
#[derive(Default)]
pub(crate) struct Tokens(HashMap<String, Token>);

/// `prefix` followed by 40 random lowercase hex digits.
pub(crate) fn random(prefix: &str) -> String {
    let digits: String = (0..40)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect();
    format!("{prefix}{digits}")
}

/// The token a `Bearer` header presents.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl Tokens {
    /// Keeps `token` under a fresh value, `prefix` and random digits; returns the value.
    pub fn mint(&mut self, prefix: &str, token: Token) -> String {
        let value = random(prefix);
        self.0.insert(value.clone(), token);
        value
    }

    /// The live token the request presents.
    pub fn caller(&self, headers: &HeaderMap) -> Option<&Token> {
        self.0.get(bearer(headers)?).filter(|t| t.live())
    }

    /// Makes every issued token expired.
    pub fn expire_all(&mut self) {
        for token in self.0.values_mut() {
            token.expires_at = 0;
        }
    }

    /// How the request log classifies the request's credentials.
    pub fn classify(&self, headers: &HeaderMap) -> &'static str {
        if !headers.contains_key(header::AUTHORIZATION) {
            return "none";
        }
        match bearer(headers).and_then(|b| self.0.get(b)) {
            Some(token) if token.live() => token.kind.name(),
            Some(_) => "expired",
            None => "invalid",
        }
    }
}
