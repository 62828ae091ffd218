//! Which hosts a secret's credentials may be sent to (DESIGN §7, rule 7).
//!
//! A secret may name its hosts in a `"hosts"` list (`"datahub-1.sesam.cloud"`, or `"*.example.org"`
//! for any subdomain). A secret that names none may only go to the platform's own public domains,
//! as the connector gives them, or to this machine (loopback). Credentials travel over `https`,
//! except to loopback.

use std::net::IpAddr;

use serde_json::{Map, Value};
use url::{Host, Url};

use crate::error::TaskError;

/// The hosts one secret is bound to, with what names the secret and its input field in errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostBinding {
    hosts: Vec<String>,
    platform_domains: &'static [&'static str],
    secret: String,
    field: String,
}

impl HostBinding {
    /// A binding for the secret `secret` (its ARN or name, for messages) given in the input field
    /// `field`: `hosts` as [`parse_hosts`] returns them, and the platform's own domains
    /// (`"*.coherent.global"`) that apply when `hosts` is empty.
    pub fn new(
        secret: impl Into<String>,
        field: impl Into<String>,
        hosts: Vec<String>,
        platform_domains: &'static [&'static str],
    ) -> Self {
        HostBinding {
            hosts,
            platform_domains,
            secret: secret.into(),
            field: field.into(),
        }
    }

    /// Reads the optional `"hosts"` of a secret's JSON object (see [`parse_hosts`]).
    pub fn from_secret(
        map: &Map<String, Value>,
        secret: impl Into<String>,
        field: impl Into<String>,
        platform_domains: &'static [&'static str],
    ) -> Result<Self, TaskError> {
        let (secret, field) = (secret.into(), field.into());
        let hosts = parse_hosts(map, &secret, &field)?;
        Ok(HostBinding::new(secret, field, hosts, platform_domains))
    }

    /// The hosts the secret names (empty: the platform's domains and loopback).
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Whether credentials may be sent to `url`.
    pub fn allows(&self, url: &Url) -> bool {
        let Some(host) = url.host() else {
            return false;
        };
        let loopback = is_loopback(&host);
        if !loopback && url.scheme() != "https" {
            return false;
        }
        if self.hosts.is_empty() {
            loopback
                || self
                    .platform_domains
                    .iter()
                    .any(|pattern| matches(pattern, &host))
        } else {
            self.hosts.iter().any(|pattern| matches(pattern, &host))
        }
    }

    /// `Ok` when credentials may be sent to `url`; otherwise the [`TaskError::InvalidInput`] that
    /// tells the operator how to bind the secret to that host.
    pub fn check(&self, url: &Url) -> Result<(), TaskError> {
        if self.allows(url) {
            return Ok(());
        }
        let host = url.host_str().unwrap_or("");
        let problem = if url.scheme() != "https" && url.host().is_some_and(|h| !is_loopback(&h)) {
            format!(
                "secret '{}' would be sent to '{host}' over {}: credentials travel over https only (or to loopback)",
                self.secret,
                url.scheme()
            )
        } else {
            format!(
                "secret '{}' is not bound to host '{host}' (it may be sent to: {}); add the host to the secret's \"hosts\"",
                self.secret,
                self.allowed()
            )
        };
        Err(TaskError::invalid(self.field.clone(), problem))
    }

    /// `a.example.org, *.example.org` or the platform's domains and loopback, for messages.
    fn allowed(&self) -> String {
        if self.hosts.is_empty() {
            let mut allowed: Vec<&str> = self.platform_domains.to_vec();
            allowed.push("loopback");
            allowed.join(", ")
        } else {
            self.hosts.join(", ")
        }
    }
}

/// The optional `"hosts"` of a secret's JSON object, each checked and lower-cased.
///
/// Each entry is a host name (`datahub-1.sesam.cloud`), a wildcard over the subdomains of a
/// domain of at least two labels (`*.example.org`), or an IP address; no scheme, port or path.
/// `secret` and `field` name the secret and its input field in errors; the secret's values are
/// never quoted.
pub fn parse_hosts(
    map: &Map<String, Value>,
    secret: &str,
    field: &str,
) -> Result<Vec<String>, TaskError> {
    let invalid = |problem: String| {
        TaskError::invalid(
            field,
            format!("secret '{secret}' has \"hosts\" that {problem}"),
        )
    };
    let entries = match map.get("hosts") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(invalid("is not a list of host names".into())),
    };
    let mut hosts = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let Some(text) = entry.as_str() else {
            return Err(invalid(format!("hold a non-string at [{index}]")));
        };
        let host = text.trim().trim_end_matches('.').to_ascii_lowercase();
        if let Some(problem) = check_host_pattern(&host) {
            return Err(invalid(format!(
                "hold '{text}' at [{index}], which {problem}"
            )));
        }
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(hosts)
}

/// Why `pattern` is not a host, a `*.` wildcard or an IP address, or `None` when it is one.
fn check_host_pattern(pattern: &str) -> Option<&'static str> {
    if pattern.is_empty() {
        return Some("is empty");
    }
    if pattern.contains("://") || pattern.contains('/') || pattern.contains('@') {
        return Some("is not a bare host name (give the host only, without scheme or path)");
    }
    if parse_ip(pattern).is_some() {
        return None;
    }
    if pattern.contains(':') {
        return Some("carries a port (give the host only)");
    }
    let (wildcard, name) = match pattern.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !labels.iter().all(label_ok) {
        return Some(
            "is not a host name (letters, digits and hyphens between dots; '*.' only at the start)",
        );
    }
    if wildcard && labels.len() < 2 {
        return Some("is a wildcard over a whole top-level domain");
    }
    None
}

/// `127.0.0.1`, `::1` or `[::1]` as an address.
fn parse_ip(text: &str) -> Option<IpAddr> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().ok()
}

/// Whether `host` is this machine.
fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// Whether `host` is `pattern`, or a subdomain of `suffix` when `pattern` is `*.suffix`.
fn matches(pattern: &str, host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            match pattern.strip_prefix("*.") {
                Some(suffix) => name
                    .strip_suffix(suffix)
                    .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
                None => name == pattern,
            }
        }
        Host::Ipv4(ip) => parse_ip(pattern) == Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => parse_ip(pattern) == Some(IpAddr::V6(*ip)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:1:secret:sesam";
    const DOMAINS: &[&str] = &["*.coherent.global"];

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn binding(value: serde_json::Value) -> Result<HostBinding, TaskError> {
        let map = value.as_object().unwrap().clone();
        HostBinding::from_secret(&map, SECRET, "target.auth_secret_arn", DOMAINS)
    }

    #[test]
    fn named_hosts_are_the_only_ones_allowed() {
        let b = binding(json!({"hosts": ["DataHub-1.sesam.cloud", "*.example.org"]})).unwrap();
        assert_eq!(b.hosts(), ["datahub-1.sesam.cloud", "*.example.org"]);
        assert!(b.allows(&url("https://datahub-1.sesam.cloud/api/pipes")));
        assert!(b.allows(&url("https://a.b.example.org/x")));
        assert!(
            !b.allows(&url("https://example.org/x")),
            "the apex is not a subdomain"
        );
        assert!(!b.allows(&url("https://badexample.org/x")));
        assert!(!b.allows(&url("https://datahub-2.sesam.cloud/")));
        assert!(
            !b.allows(&url("http://datahub-1.sesam.cloud/")),
            "https only"
        );
        assert!(
            !b.allows(&url("http://127.0.0.1:8080/")),
            "loopback only when unbound"
        );
        assert!(!b.allows(&url("https://excel.uat.coherent.global/")));
    }

    #[test]
    fn without_hosts_only_platform_domains_and_loopback() {
        let b = binding(json!({"api_key": "k"})).unwrap();
        assert!(b.allows(&url("https://excel.uat.coherent.global/acme")));
        assert!(b.allows(&url("https://keycloak.uat.coherent.global/auth")));
        assert!(!b.allows(&url("https://coherent.global/")));
        assert!(!b.allows(&url("https://coherent.global.evil.org/")));
        assert!(b.allows(&url("http://127.0.0.1:4000/acme")));
        assert!(b.allows(&url("http://localhost:4000/acme")));
        assert!(b.allows(&url("http://[::1]:4000/acme")));
        assert!(!b.allows(&url("http://10.0.0.1/acme")));
        assert!(!b.allows(&url("https://evil.example/acme")));
        let err = b.check(&url("https://evil.example/acme")).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert_eq!(
            err.to_string(),
            format!(
                "invalid input (1 problem): target.auth_secret_arn: secret '{SECRET}' is not bound to host 'evil.example' (it may be sent to: *.coherent.global, loopback); add the host to the secret's \"hosts\""
            )
        );
    }

    #[test]
    fn ip_hosts_match_exactly() {
        let b = binding(json!({"hosts": ["10.1.2.3", "::1"]})).unwrap();
        assert!(b.allows(&url("https://10.1.2.3/")));
        assert!(!b.allows(&url("https://10.1.2.4/")));
        assert!(b.allows(&url("http://[::1]:9/")));
        assert!(!b.allows(&url("http://127.0.0.1:9/")));
    }

    #[test]
    fn malformed_hosts_are_refused_by_field() {
        for hosts in [
            json!("a.example.org"),
            json!([1]),
            json!(["https://a.example.org"]),
            json!(["a.example.org:443"]),
            json!(["*.org"]),
            json!(["a.*.org"]),
            json!([""]),
            json!(["-a.example.org"]),
        ] {
            let err = binding(json!({"hosts": hosts, "api_key": "hunter2"})).unwrap_err();
            assert_eq!(err.error_type(), "InvalidInput", "{hosts}");
            let message = err.to_string();
            assert!(
                message.contains("target.auth_secret_arn: secret '"),
                "{message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
        }
        assert!(binding(json!({"hosts": null})).unwrap().hosts().is_empty());
        assert!(binding(json!({"hosts": []})).unwrap().hosts().is_empty());
    }
}
