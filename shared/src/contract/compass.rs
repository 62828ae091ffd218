//! The Compass parts of a promote request: Open Connectors instances (or a stored bundle) as the
//! source, a Compass Director tenant as the target, and the selection with its guards, each
//! validated with its field path.

use serde::{Deserialize, Serialize};

use super::promote::{PromoteSide, check_url};
use super::validate::{Obj, Validator, check_env_name, check_secret_arn, join};

/// Default per-request timeout of Open Connectors and Director calls, in seconds.
pub const DEFAULT_COMPASS_TIMEOUT_SECONDS: u64 = 60;
/// Default number of spec fetches or mutations in flight at once.
pub const DEFAULT_COMPASS_CONCURRENCY: u64 = 8;
/// The longest application name the Director accepts.
pub const MAX_APPLICATION_NAME: usize = 36;
/// The longest Open Connectors instance id (int64) as decimal digits.
const INSTANCE_ID_DIGITS: usize = 19;

/// An SAP Open Connectors tenant's platform API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenConnectorsSource {
    /// `https://<host>/elements/api-v2`, without a trailing slash.
    pub url: String,
    /// Secret `{"user_secret": …, "organization_secret": …, "hosts"?: […]}`.
    pub auth_secret_arn: String,
    /// Only instances with any of these tags (empty: every instance).
    #[serde(default)]
    pub tags: Vec<String>,
}

impl OpenConnectorsSource {
    /// The context the applications are labelled with: the URL's host (with its port when one is
    /// given), as the original job labelled them.
    pub fn context(&self) -> String {
        context_of(&self.url).unwrap_or_default()
    }
}

/// The host (and explicit port) of `url`.
pub fn context_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?.to_ascii_lowercase();
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// A Compass Director tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompassTarget {
    /// The Director's GraphQL endpoint.
    pub director_url: String,
    /// The OAuth2 token endpoint of the integration system's client.
    pub token_url: String,
    /// The tenant id sent as the `tenant` header.
    pub tenant: String,
    /// Secret `{"client_id": …, "client_secret": …, "hosts"?: […]}`.
    pub auth_secret_arn: String,
}

/// How the Open Connectors credentials reach the applications' consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Credentials {
    /// Nothing is copied: consumers get credentials from Open Connectors themselves.
    None,
    /// Each bundle's default instance auth carries the `Authorization: User …, Organization …,
    /// Element <instance token>` header, read fresh at apply (never stored in a bundle; a rotated
    /// token is an update).
    ElementHeader,
}

/// What to reconcile on Compass, and the guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompassSelection {
    /// Prefix of new applications' names: `<prefix>-<instance id>`.
    pub application_prefix: String,
    /// The Open Connectors host the applications are labelled with (`source.open_connectors`'s
    /// host; required when the source is a bundle).
    pub context: String,
    /// Instance ids never changed or deleted.
    #[serde(default)]
    pub protect: Vec<String>,
    /// Delete applications of this context whose instance is gone.
    pub prune: bool,
    /// The most deletions one run may make.
    pub max_delete: u64,
    /// How the OC credentials reach consumers.
    pub credentials: Credentials,
    /// Spec fetches or mutations in flight at once.
    pub concurrency: u64,
    /// Per-request timeout, in seconds.
    pub timeout_seconds: u64,
}

impl Validator {
    pub(crate) fn compass_source(&mut self, root: &Obj<'_>) -> Option<PromoteSide> {
        let value = self.field(root, "source", true)?;
        let obj = self.object("source", value, &["name", "open_connectors", "bundle"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let present = |k: &str| obj.map.get(k).is_some_and(|v| !v.is_null());
        let mut side = PromoteSide::named(String::new());
        match (present("open_connectors"), present("bundle")) {
            (true, false) => {
                side.open_connectors = Some(self.open_connectors(&obj.map["open_connectors"])?);
            }
            (false, true) => side.bundle = Some(self.bundle_uri(&obj)?),
            (both, _) => {
                let found = if both { "both" } else { "none" };
                self.problem(
                    "source",
                    format!("must hold exactly one of open_connectors, bundle (found {found})"),
                );
                return None;
            }
        }
        side.name = name?;
        Some(side)
    }

    fn open_connectors(&mut self, value: &serde_json::Value) -> Option<OpenConnectorsSource> {
        let path = "source.open_connectors";
        let obj = self.object(path, value, &["url", "auth_secret_arn", "tags"])?;
        let url = self.url(&obj, "url");
        let secret = self.checked(&obj, "auth_secret_arn", check_secret_arn);
        let tags = match obj.map.get("tags") {
            None | Some(serde_json::Value::Null) => Some(Vec::new()),
            Some(_) => self.names(&obj, "tags", check_tag),
        };
        Some(OpenConnectorsSource {
            url: url?,
            auth_secret_arn: secret?,
            tags: tags?,
        })
    }

    fn url(&mut self, obj: &Obj<'_>, key: &str) -> Option<String> {
        let url = self.string(obj, key, true)?;
        match check_url(&url) {
            Some(problem) => {
                self.problem(join(&obj.path, key), problem);
                None
            }
            None => Some(url.trim_end_matches('/').to_string()),
        }
    }

    pub(crate) fn compass_target(&mut self, root: &Obj<'_>) -> Option<PromoteSide> {
        let value = self.field(root, "target", true)?;
        let obj = self.object("target", value, &["name", "compass"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let compass = self.field(&obj, "compass", true)?;
        let compass = self.object(
            "target.compass",
            compass,
            &["director_url", "token_url", "tenant", "auth_secret_arn"],
        )?;
        let director_url = self.url(&compass, "director_url");
        let token_url = self.url(&compass, "token_url");
        let tenant = self.checked(&compass, "tenant", check_tenant);
        let secret = self.checked(&compass, "auth_secret_arn", check_secret_arn);
        let mut side = PromoteSide::named(name?);
        side.compass = Some(CompassTarget {
            director_url: director_url?,
            token_url: token_url?,
            tenant: tenant?,
            auth_secret_arn: secret?,
        });
        Some(side)
    }

    pub(crate) fn compass_selection(
        &mut self,
        root: &Obj<'_>,
        source: Option<&PromoteSide>,
    ) -> Option<CompassSelection> {
        let value = self.field(root, "compass", true)?;
        let obj = self.object(
            "compass",
            value,
            &[
                "application_prefix",
                "context",
                "protect",
                "prune",
                "max_delete",
                "credentials",
                "concurrency",
                "timeout_seconds",
            ],
        )?;
        let prefix = self.checked(&obj, "application_prefix", check_prefix);
        let context = self.context(&obj, source);
        let protect = match obj.map.get("protect") {
            None | Some(serde_json::Value::Null) => Some(Vec::new()),
            Some(_) => self.names(&obj, "protect", check_instance_id),
        };
        let prune = self.boolean(&obj, "prune", false);
        let max_delete = self.integer(&obj, "max_delete", 0, (0, 100_000));
        let credentials = self.credentials(&obj);
        let concurrency = self.integer(&obj, "concurrency", DEFAULT_COMPASS_CONCURRENCY, (1, 32));
        let timeout_seconds = self.integer(
            &obj,
            "timeout_seconds",
            DEFAULT_COMPASS_TIMEOUT_SECONDS,
            (1, super::sesam::MAX_SESAM_TIMEOUT_SECONDS),
        );
        let credentials = credentials?;
        if credentials == Credentials::ElementHeader
            && source.is_some_and(|s| s.open_connectors.is_none())
        {
            self.problem(
                "compass.credentials",
                "element_header needs source.open_connectors: instance tokens are read at apply, never kept in a bundle",
            );
        }
        Some(CompassSelection {
            application_prefix: prefix?,
            context: context?,
            protect: protect?,
            prune,
            max_delete,
            credentials,
            concurrency,
            timeout_seconds,
        })
    }

    fn context(&mut self, obj: &Obj<'_>, source: Option<&PromoteSide>) -> Option<String> {
        let given = self
            .string(obj, "context", false)
            .map(|c| c.trim().to_ascii_lowercase());
        let from_source = source
            .and_then(|s| s.open_connectors.as_ref())
            .map(OpenConnectorsSource::context);
        match (given, from_source) {
            (Some(given), Some(host)) if given != host => {
                self.problem(
                    "compass.context",
                    format!("'{given}' is not the host of source.open_connectors.url ('{host}')"),
                );
                None
            }
            (_, Some(host)) => Some(host),
            (Some(given), None) if !given.is_empty() && !given.contains(['/', ' ']) => Some(given),
            (Some(given), None) => {
                self.problem(
                    "compass.context",
                    format!("'{given}' is not a host (the Open Connectors host, like api.openconnectors.ext.hanatrial.ondemand.com)"),
                );
                None
            }
            (None, None) => {
                if source.is_some() {
                    self.problem(
                        "compass.context",
                        "is required with a bundle source: the Open Connectors host whose applications are reconciled",
                    );
                }
                None
            }
        }
    }

    fn credentials(&mut self, obj: &Obj<'_>) -> Option<Credentials> {
        match self.string(obj, "credentials", false).as_deref() {
            None | Some("none") => Some(Credentials::None),
            Some("element_header") => Some(Credentials::ElementHeader),
            Some(other) => {
                self.problem(
                    "compass.credentials",
                    format!("'{other}' is not a choice (expected none or element_header)"),
                );
                None
            }
        }
    }
}

/// An application prefix: `<prefix>-<instance id>` must follow the Director's name rule (at most
/// 36 characters, lowercase letters, digits, `-`, `.`, not starting with a digit) for any instance id.
fn check_prefix(prefix: &str) -> Option<String> {
    let longest = MAX_APPLICATION_NAME - INSTANCE_ID_DIGITS - 1;
    let problem = if prefix.starts_with(|c: char| c.is_ascii_digit()) {
        "must not start with a digit"
    } else if !prefix.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase letter"
    } else if !prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.'))
    {
        "may hold only lowercase letters, digits, '-' and '.'"
    } else if prefix.len() > longest {
        return Some(format!(
            "'{prefix}' is {} characters: at most {longest}, so that '<prefix>-<instance id>' stays within the Director's {MAX_APPLICATION_NAME}",
            prefix.len()
        ));
    } else {
        return None;
    };
    Some(format!(
        "'{prefix}' {problem} (the Director's application name rule)"
    ))
}

fn check_tag(tag: &str) -> Option<String> {
    let ok = !tag.trim().is_empty() && tag.len() <= 200 && !tag.chars().any(char::is_control);
    (!ok).then(|| format!("'{tag}' is not a tag"))
}

fn check_tenant(tenant: &str) -> Option<String> {
    let ok = tenant.len() <= 128
        && tenant
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    (!ok).then(|| format!("'{tenant}' is not a tenant id"))
}

fn check_instance_id(id: &str) -> Option<String> {
    let ok =
        !id.is_empty() && id.len() <= INSTANCE_ID_DIGITS && id.bytes().all(|b| b.is_ascii_digit());
    (!ok).then(|| format!("'{id}' is not an Open Connectors instance id"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Credentials;
    use crate::contract::promote::problems;
    use crate::contract::{Platform, PromoteRequest};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/oc-eu";

    fn valid() -> serde_json::Value {
        json!({
            "platform": "compass",
            "source": {"name": "oc-eu", "open_connectors": {
                "url": "https://api.openconnectors.ext.hanatrial.ondemand.com/elements/api-v2/",
                "auth_secret_arn": ARN, "tags": ["kyma"]}},
            "target": {"name": "compass-prod", "compass": {
                "director_url": "https://compass.example.org/director/graphql",
                "token_url": "https://oauth2.example.org/oauth2/token",
                "tenant": "3e64ebae-38b5-46a0-b1ed-9ccee153a0ae", "auth_secret_arn": ARN}},
            "compass": {"application_prefix": "oc", "prune": true, "max_delete": 10}
        })
    }

    #[test]
    fn parses_a_reconcile_with_the_context_from_the_source_host() {
        let request = PromoteRequest::parse(&valid()).unwrap();
        assert_eq!(request.platform, Platform::Compass);
        let oc = request.source.open_connectors.as_ref().unwrap();
        assert_eq!(
            oc.url,
            "https://api.openconnectors.ext.hanatrial.ondemand.com/elements/api-v2"
        );
        let compass = request.compass.as_ref().unwrap();
        assert_eq!(
            compass.context,
            "api.openconnectors.ext.hanatrial.ondemand.com"
        );
        assert_eq!(compass.credentials, Credentials::None);
        assert_eq!((compass.concurrency, compass.max_delete), (8, 10));
        let back: PromoteRequest =
            serde_json::from_value(serde_json::to_value(&request).unwrap()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn names_every_bad_field_at_once() {
        let mut raw = valid();
        raw["compass"]["application_prefix"] = json!("9Apps");
        raw["compass"]["credentials"] = json!("copy");
        raw["compass"]["extra"] = json!(true);
        raw["source"]["open_connectors"]["url"] = json!("http://oc.example.org/elements/api-v2");
        raw["target"]["compass"]["tenant"] = json!("a b");
        raw["target"]["compass"]["auth_secret_arn"] = json!("nope");
        raw["sesam"] = json!({});
        let found = problems(&raw);
        for field in [
            "compass.application_prefix: '9Apps' must not start with a digit",
            "compass.credentials: 'copy' is not a choice",
            "compass.extra: unknown field",
            "source.open_connectors.url:",
            "target.compass.tenant:",
            "target.compass.auth_secret_arn:",
            "sesam: does not apply to platform 'compass'",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(field)),
                "no problem starting with {field:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn a_prefix_leaves_room_for_any_instance_id() {
        let mut raw = valid();
        raw["compass"]["application_prefix"] = json!("a".repeat(17));
        let found = problems(&raw);
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("compass.application_prefix: '") && p.contains("at most 16")),
            "{found:#?}"
        );
        raw["compass"]["application_prefix"] = json!("a".repeat(16));
        assert!(PromoteRequest::parse(&raw).is_ok());
        raw["compass"]["application_prefix"] = json!("-x");
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.contains("must start with a lowercase letter"))
        );
    }

    #[test]
    fn a_bundle_source_names_its_context_and_keeps_no_tokens() {
        let mut raw = valid();
        raw["source"] =
            json!({"name": "oc-eu", "bundle": "s3://artifacts/bundles/compass/r1/before/"});
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("compass.context: is required"))
        );
        raw["compass"]["context"] = json!("api.openconnectors.ext.hanatrial.ondemand.com");
        raw["compass"]["credentials"] = json!("element_header");
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("compass.credentials: element_header needs"))
        );
        raw["compass"]["credentials"] = json!("none");
        let request = PromoteRequest::parse(&raw).unwrap();
        assert!(request.source.bundle.is_some());
    }
}
