//! The Sesam parts of a promote request: a source (a git folder, another node, or a stored bundle),
//! the target node, and the selection with its guards, each validated with its field path.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::promote::{PromoteSide, check_url};
use super::validate::{Obj, Validator, check_env_name, check_secret_arn, join};

/// Default per-request timeout of Sesam and git calls, in seconds.
pub const DEFAULT_SESAM_TIMEOUT_SECONDS: u64 = 60;
/// The longest per-request timeout: well inside the 300 s the state machine gives the export and
/// plan steps, so a slow remote fails with its own message, not a step timeout.
pub const MAX_SESAM_TIMEOUT_SECONDS: u64 = 120;

/// A folder of a git repository at a ref.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitSource {
    /// Smart-HTTP remote (`https://github.com/acme/sesam-config.git`), without credentials.
    pub url: String,
    /// A branch, a tag or a commit id.
    #[serde(rename = "ref")]
    pub reference: String,
    /// The folder holding `node-metadata.conf.json`, `pipes/`, `systems/` ("" is the root).
    pub path: String,
    /// Secret `{"token": …, "username"?: …, "hosts"?: […]}`; none for a public repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_arn: Option<String>,
}

/// A Sesam node's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesamNode {
    /// `https://datahub-1234.sesam.cloud/api`, without a trailing slash.
    pub url: String,
    /// Secret `{"jwt": …, "hosts"?: […]}`.
    pub auth_secret_arn: String,
}

/// What to promote on Sesam, and the guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SesamSelection {
    /// Entity ids never changed or deleted (the node's own deployer, say).
    pub protect: Vec<String>,
    /// Delete node entities the source does not hold.
    pub prune: bool,
    /// The most deletions one run may make.
    pub max_delete: u64,
    /// The source's file (relative to its folder) that holds the node's `/env`; none leaves
    /// `/env` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// Per-request timeout, in seconds.
    pub timeout_seconds: u64,
}

impl Validator {
    pub(crate) fn sesam_source(&mut self, root: &Obj<'_>) -> Option<PromoteSide> {
        let value = self.field(root, "source", true)?;
        let obj = self.object("source", value, &["name", "git", "sesam", "bundle"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let present: Vec<&str> = ["git", "sesam", "bundle"]
            .into_iter()
            .filter(|k| obj.map.get(*k).is_some_and(|v| !v.is_null()))
            .collect();
        if present.len() != 1 {
            self.problem(
                "source",
                format!(
                    "must hold exactly one of git, sesam, bundle (found {})",
                    if present.is_empty() {
                        "none".to_string()
                    } else {
                        present.join(", ")
                    }
                ),
            );
            return None;
        }
        let mut side = PromoteSide::named(name?);
        match present[0] {
            "git" => side.git = Some(self.git_source(&obj)?),
            "sesam" => side.sesam = Some(self.sesam_node("source.sesam", &obj.map["sesam"])?),
            _ => side.bundle = Some(self.bundle_uri(&obj)?),
        }
        Some(side)
    }

    pub(crate) fn sesam_target(&mut self, root: &Obj<'_>) -> Option<PromoteSide> {
        let value = self.field(root, "target", true)?;
        let obj = self.object("target", value, &["name", "sesam"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let node = self.field(&obj, "sesam", true)?;
        let node = self.sesam_node("target.sesam", node);
        let mut side = PromoteSide::named(name?);
        side.sesam = Some(node?);
        Some(side)
    }

    fn git_source(&mut self, side: &Obj<'_>) -> Option<GitSource> {
        let obj = self.object(
            "source.git",
            &side.map["git"],
            &["url", "ref", "path", "auth_secret_arn"],
        )?;
        let url = self.checked(&obj, "url", check_git_url);
        let reference = self.checked(&obj, "ref", check_ref);
        let path = match self.string(&obj, "path", false) {
            None => Some(String::new()),
            Some(path) => match check_relative_path(&path) {
                Some(problem) => {
                    self.problem("source.git.path", problem);
                    None
                }
                None => Some(path.trim_matches('/').to_string()),
            },
        };
        let secret = self.optional_secret(&obj);
        Some(GitSource {
            url: url?,
            reference: reference?,
            path: path?,
            auth_secret_arn: secret?,
        })
    }

    fn optional_secret(&mut self, obj: &Obj<'_>) -> Option<Option<String>> {
        if obj.map.get("auth_secret_arn").is_none_or(Value::is_null) {
            return Some(None);
        }
        self.checked(obj, "auth_secret_arn", check_secret_arn)
            .map(Some)
    }

    fn sesam_node(&mut self, path: &str, value: &Value) -> Option<SesamNode> {
        let obj = self.object(path, value, &["url", "auth_secret_arn"])?;
        let url = self
            .string(&obj, "url", true)
            .and_then(|url| match check_url(&url) {
                Some(problem) => {
                    self.problem(join(path, "url"), problem);
                    None
                }
                None => Some(url.trim_end_matches('/').to_string()),
            });
        let secret = self.checked(&obj, "auth_secret_arn", check_secret_arn);
        Some(SesamNode {
            url: url?,
            auth_secret_arn: secret?,
        })
    }

    pub(crate) fn bundle_uri(&mut self, side: &Obj<'_>) -> Option<String> {
        let text = self.string(side, "bundle", true)?;
        match crate::declarative::store::parse_uri(&text, "source.bundle") {
            Ok(_) => Some(text),
            Err(crate::error::TaskError::InvalidInput(problems)) => {
                self.problems.extend(problems);
                None
            }
            Err(_) => None,
        }
    }

    pub(crate) fn sesam_selection(&mut self, root: &Obj<'_>) -> Option<SesamSelection> {
        let empty = Value::Object(serde_json::Map::new());
        let value = self.field(root, "sesam", false).unwrap_or(&empty);
        let obj = self.object(
            "sesam",
            value,
            &[
                "protect",
                "prune",
                "max_delete",
                "env_file",
                "timeout_seconds",
            ],
        )?;
        let protect = self
            .names(&obj, "protect", check_entity_id)
            .unwrap_or_default();
        let prune = self.boolean(&obj, "prune", false);
        let max_delete = self.integer(&obj, "max_delete", 0, (0, 100_000));
        let env_file = match self.string(&obj, "env_file", false) {
            Some(file) => match check_relative_path(&file) {
                Some(problem) => {
                    self.problem("sesam.env_file", problem);
                    return None;
                }
                None => Some(file),
            },
            None => None,
        };
        let timeout_seconds = self.integer(
            &obj,
            "timeout_seconds",
            DEFAULT_SESAM_TIMEOUT_SECONDS,
            (1, MAX_SESAM_TIMEOUT_SECONDS),
        );
        Some(SesamSelection {
            protect,
            prune,
            max_delete,
            env_file,
            timeout_seconds,
        })
    }

    pub(crate) fn sesam_not_onto_itself(&mut self, source: &PromoteSide, target: &PromoteSide) {
        let url = |side: &PromoteSide| side.sesam.as_ref().map(|n| n.url.to_ascii_lowercase());
        if source.sesam.is_some() && url(source) == url(target) {
            self.problem("target.sesam.url", "is the source node itself");
        }
    }
}

/// A git remote over smart HTTP; credentials never in the URL (they come from the secret).
fn check_git_url(url: &str) -> Option<String> {
    if let Some(problem) = check_url(url) {
        return Some(problem);
    }
    let parsed = url::Url::parse(url).ok()?;
    (!parsed.username().is_empty() || parsed.password().is_some()).then(|| {
        "must not carry credentials: put the token in the secret named by auth_secret_arn"
            .to_string()
    })
}

/// A branch, tag or commit: git's ref-name rules, loosely.
fn check_ref(reference: &str) -> Option<String> {
    let bad = reference.contains("..")
        || reference.starts_with(['-', '/'])
        || reference.ends_with(['/', '.'])
        || reference
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c));
    bad.then(|| format!("'{reference}' is not a branch, tag or commit name"))
}

/// A relative path inside the repository: no `..`, not absolute.
fn check_relative_path(path: &str) -> Option<String> {
    let bad = path.starts_with('/')
        || path.split('/').any(|part| part == "..")
        || path.chars().any(char::is_control);
    bad.then(|| format!("'{path}' must be a relative path inside the source, without '..'"))
}

/// A Sesam entity id, or `kind/id` with one of Sesam's kinds (a `protect` entry that names no
/// kind ferry knows would protect nothing, silently).
fn check_entity_id(entry: &str) -> Option<String> {
    let (kind, id) = entry.split_once('/').unwrap_or(("", entry));
    if !kind.is_empty() && !["pipe", "system", "metadata", "env"].contains(&kind) {
        return Some(format!(
            "'{entry}': '{kind}' is not a kind (give an _id, or pipe/<id>, system/<id>)"
        ));
    }
    let ok = !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    (!ok).then(|| format!("'{entry}' is not an entity id (letters, digits, '_', '-', '.')"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::contract::promote::problems;
    use crate::contract::{Platform, PromoteRequest};

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/sesam-prod";

    fn valid() -> serde_json::Value {
        json!({
            "platform": "sesam",
            "source": {"name": "main", "git": {"url": "https://github.com/acme/sesam-config.git",
                "ref": "main", "path": "sesam-node", "auth_secret_arn": ARN}},
            "target": {"name": "prod", "sesam": {"url": "https://datahub-1234.sesam.cloud/api/",
                "auth_secret_arn": ARN}},
            "sesam": {"protect": ["autodeployer"], "prune": true, "max_delete": 5,
                "env_file": "profiles/prod-env.json"}
        })
    }

    #[test]
    fn parses_a_git_to_node_promotion() {
        let request = PromoteRequest::parse(&valid()).unwrap();
        assert_eq!(request.platform, Platform::Sesam);
        let git = request.source.git.as_ref().unwrap();
        assert_eq!(
            (git.reference.as_str(), git.path.as_str()),
            ("main", "sesam-node")
        );
        let node = request.target.sesam.as_ref().unwrap();
        assert_eq!(node.url, "https://datahub-1234.sesam.cloud/api");
        let sesam = request.sesam.as_ref().unwrap();
        assert_eq!(sesam.protect, ["autodeployer"]);
        assert!(sesam.prune && sesam.max_delete == 5);
        let back: PromoteRequest =
            serde_json::from_value(serde_json::to_value(&request).unwrap()).unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn names_every_bad_field_at_once() {
        let mut raw = valid();
        raw["source"]["git"]["url"] = json!("https://user:pw@github.com/acme/x.git");
        raw["source"]["git"]["ref"] = json!("main..x");
        raw["source"]["git"]["path"] = json!("../etc");
        raw["source"]["git"]["extra"] = json!(1);
        raw["target"]["sesam"]["auth_secret_arn"] = json!("nope");
        raw["sesam"]["protect"] = json!(["", "systems/autodeployer"]);
        raw["sesam"]["max_delete"] = json!(-1);
        raw["spark"] = json!({});
        let found = problems(&raw);
        for field in [
            "source.git.url: must not carry credentials",
            "source.git.ref:",
            "source.git.path:",
            "source.git.extra: unknown field",
            "target.sesam.auth_secret_arn:",
            "sesam.protect[0]:",
            "sesam.protect[1]: 'systems/autodeployer': 'systems' is not a kind",
            "sesam.max_delete:",
            "spark: does not apply to platform 'sesam'",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(field)),
                "no problem starting with {field:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn a_source_is_exactly_one_of_git_node_or_bundle() {
        let mut raw = valid();
        raw["source"]["bundle"] = json!("s3://artifacts/bundles/sesam/r1/before/");
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("source: must hold exactly one"))
        );
        raw["source"].as_object_mut().unwrap().remove("git");
        let request = PromoteRequest::parse(&raw).unwrap();
        assert!(request.source.bundle.is_some());
        raw["source"]["bundle"] = json!("s3://artifacts");
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("source.bundle:"))
        );
    }

    #[test]
    fn refuses_a_node_promoted_onto_itself() {
        let mut raw = valid();
        raw["source"] = json!({"name": "dev", "sesam": {"url": "https://datahub-1234.sesam.cloud/api", "auth_secret_arn": ARN}});
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("target.sesam.url: is the source node itself"))
        );
    }
}
