//! The promote request: the typed, validated form of a `promote` execution input.
//!
//! [`PromoteRequest::parse`] reports every problem at once with its field path, before anything is
//! exported. Tenant addresses are resolved here (environment + tenant → base URL and token URL), so
//! every later step works from the same URLs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::compass::{CompassSelection, CompassTarget, OpenConnectorsSource};
use super::datafusion::{DataFusionInstance, DataFusionSelection};
use super::refresh::{Approval, Polling};
use super::sesam::{GitSource, SesamNode, SesamSelection};
use super::validate::{Obj, Validator, check_env_name, check_secret_arn, join};
use crate::error::TaskError;

/// Default per-request timeout for third-party API calls.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 60;

/// Platforms ferry promotes configuration on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Coherent Spark services, through the ImpEx API.
    Spark,
    /// Sesam node configuration (pipes, systems, metadata, env), declarative.
    Sesam,
    /// SAP Open Connectors instances reconciled into Kyma Compass applications, declarative.
    Compass,
    /// Cloud Data Fusion namespaces, compute profiles, pipelines and preferences, declarative.
    #[serde(rename = "datafusion")]
    DataFusion,
}

impl Platform {
    /// The name used in inputs, bundle paths and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Spark => "spark",
            Platform::Sesam => "sesam",
            Platform::Compass => "compass",
            Platform::DataFusion => "datafusion",
        }
    }
}

/// One Spark tenant, with its URLs resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkTenant {
    /// Tenant base URL, `https://excel.{env}.coherent.global/{tenant}`, without a trailing slash.
    pub base_url: String,
    /// Tenant name (the Keycloak realm).
    pub tenant: String,
    /// Secrets Manager secret holding the credentials (JSON; never logged).
    pub auth_secret_arn: String,
    /// OAuth2 token endpoint of the tenant's realm.
    pub token_url: String,
}

impl SparkTenant {
    /// Scheme, host and port of the base URL: where the `api/v1` helpers live.
    pub fn origin(&self) -> &str {
        let tail = &self.base_url[self.base_url.find("://").map_or(0, |i| i + 3)..];
        let end = tail.find('/').map_or(self.base_url.len(), |i| {
            self.base_url.len() - tail.len() + i
        });
        &self.base_url[..end]
    }
}

/// One side of a promotion: a named environment and exactly one of its endpoints (which ones are
/// allowed depends on the platform and the side; [`PromoteRequest::parse`] checks that).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteSide {
    /// Human name ("uat", "prod").
    pub name: String,
    /// A Spark tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark: Option<SparkTenant>,
    /// A folder of a git repository at a ref (sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSource>,
    /// A Sesam node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sesam: Option<SesamNode>,
    /// SAP Open Connectors instances (sources only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_connectors: Option<OpenConnectorsSource>,
    /// A Compass Director tenant (targets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compass: Option<CompassTarget>,
    /// A Cloud Data Fusion instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datafusion: Option<DataFusionInstance>,
    /// A stored bundle, `s3://<artifact bucket>/bundles/<platform>/<run>/[before/]` (sources only:
    /// rollback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
}

impl PromoteSide {
    /// A side named `name` with no endpoint yet.
    pub fn named(name: String) -> Self {
        PromoteSide {
            name,
            spark: None,
            git: None,
            sesam: None,
            open_connectors: None,
            compass: None,
            datafusion: None,
            bundle: None,
        }
    }

    /// The Spark tenant; `side` ("source"/"target") names the field when it is missing.
    pub fn spark_tenant(&self, side: &str) -> Result<&SparkTenant, TaskError> {
        self.spark
            .as_ref()
            .ok_or_else(|| TaskError::invalid(format!("{side}.spark"), "is required"))
    }
}

/// How the version number of an imported version is bumped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upgrade {
    /// 1.2.3 → 2.0.0.
    Major,
    /// 1.2.3 → 1.3.0.
    Minor,
    /// 1.2.3 → 1.2.4.
    Patch,
}

/// What an import does to a destination service that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServicesExisting {
    /// Refuse: the promotion stops before importing.
    Abort,
    /// Replace the destination's versions (its call history is lost).
    Replace,
    /// Append the exported versions as new versions.
    AddVersion,
}

/// Which versions of each service an export takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionFilter {
    /// Only the newest (matching) version.
    Latest,
    /// Every (matching) version.
    All,
}

/// One service to promote: `folder/service` (optionally `[version prefix]`) → `folder/service`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceMapping {
    /// Source `folder/service`, as the export names it (no version part).
    pub source: String,
    /// Version prefix from `folder/service[1.2]`, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Destination `folder/service`.
    pub target: String,
    /// Version bump for added versions.
    pub upgrade: Upgrade,
}

impl ServiceMapping {
    /// The export's service locator: `folder/service` or `folder/service[1.2]`.
    pub fn locator(&self) -> String {
        match &self.version {
            Some(version) => format!("{}[{version}]", self.source),
            None => self.source.clone(),
        }
    }

    /// The destination folder.
    pub fn target_folder(&self) -> &str {
        split_uri(&self.target).0
    }
}

/// Splits `folder/service` at its first `/`.
pub fn split_uri(uri: &str) -> (&str, &str) {
    uri.split_once('/').unwrap_or((uri, ""))
}

/// What to promote on Spark and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SparkSelection {
    /// The services, with their destinations.
    pub services: Vec<ServiceMapping>,
    /// Policy for destination services that already exist.
    pub services_existing: ServicesExisting,
    /// Versions exported per service.
    pub version_filter: VersionFilter,
    /// Timeout of each HTTP request, in seconds.
    pub timeout_seconds: u64,
}

/// A validated promote request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// Stop after the plan; import nothing.
    pub dry_run: bool,
    /// The platform.
    pub platform: Platform,
    /// Where the configuration comes from (read only).
    pub source: PromoteSide,
    /// Where it goes.
    pub target: PromoteSide,
    /// What to promote on Spark.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spark: Option<SparkSelection>,
    /// What to promote on Sesam, and its guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sesam: Option<SesamSelection>,
    /// What to reconcile on Compass, and its guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compass: Option<CompassSelection>,
    /// What to promote on Data Fusion, and its guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datafusion: Option<DataFusionSelection>,
    /// Job polling.
    pub polling: Polling,
    /// Wait for a human approval after the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

impl PromoteRequest {
    /// Parses and validates a raw promote input, reporting every problem with its field path.
    pub fn parse(raw: &Value) -> Result<Self, TaskError> {
        let mut v = Validator::default();
        let request = v.promote(raw);
        v.finish(request)
    }

    /// The Spark selection.
    pub fn spark_selection(&self) -> Result<&SparkSelection, TaskError> {
        self.spark
            .as_ref()
            .ok_or_else(|| TaskError::invalid("spark", "is required"))
    }

    /// The guards of a declarative promotion (the platform's selection names them).
    pub fn guards(&self) -> crate::declarative::Guards {
        if let (Platform::DataFusion, Some(selection)) = (&self.platform, &self.datafusion) {
            // A protected pipeline's own preferences are protected with it.
            let preferences = selection.protect.iter().filter_map(|p| {
                p.strip_prefix("pipeline/")
                    .map(|id| format!("preferences/{id}"))
            });
            return crate::declarative::Guards {
                protect: selection
                    .protect
                    .iter()
                    .cloned()
                    .chain(preferences)
                    .collect(),
                prune: selection.prune,
                max_delete: selection.max_delete,
            };
        }
        match (&self.platform, &self.sesam, &self.compass) {
            (Platform::Sesam, Some(sesam), _) => crate::declarative::Guards {
                protect: sesam.protect.clone(),
                prune: sesam.prune,
                max_delete: sesam.max_delete,
            },
            (Platform::Compass, _, Some(compass)) => crate::declarative::Guards {
                protect: compass.protect.clone(),
                prune: compass.prune,
                max_delete: compass.max_delete,
            },
            _ => crate::declarative::Guards::default(),
        }
    }

    /// How many status checks fit in the polling deadline.
    pub fn max_polls(&self) -> u64 {
        self.polling
            .deadline_seconds
            .div_ceil(self.polling.interval_seconds)
    }
}

impl Validator {
    fn promote(&mut self, raw: &Value) -> Option<PromoteRequest> {
        let root = self.object(
            "",
            raw,
            &[
                "dry_run",
                "platform",
                "source",
                "target",
                "spark",
                "sesam",
                "compass",
                "datafusion",
                "polling",
                "approval",
            ],
        )?;
        let dry_run = self.boolean(&root, "dry_run", false);
        let platform = self.platform(&root)?;
        let foreign = |name: &str| other_platforms(platform).contains(&name);
        for key in root.map.keys().filter(|k| foreign(k)) {
            self.problem(
                key.clone(),
                format!("does not apply to platform '{}'", platform.as_str()),
            );
        }
        let polling = self.polling(&root);
        let approval = self.approval(&root);
        let mut compass = Some(None);
        let mut datafusion = Some(None);
        let (source, target, spark, sesam) = match platform {
            Platform::Spark => {
                let source = self.spark_side(&root, "source");
                let target = self.spark_side(&root, "target");
                let spark = self.spark_selection(&root);
                if let (Some(source), Some(target), Some(spark)) = (&source, &target, &spark) {
                    self.not_onto_itself(source, target, spark);
                }
                (source, target, spark.map(Some), Some(None))
            }
            Platform::Sesam => {
                let source = self.sesam_source(&root);
                let target = self.sesam_target(&root);
                let sesam = self.sesam_selection(&root);
                if let (Some(source), Some(target)) = (&source, &target) {
                    self.sesam_not_onto_itself(source, target);
                }
                (source, target, Some(None), sesam.map(Some))
            }
            Platform::Compass => {
                let source = self.compass_source(&root);
                let target = self.compass_target(&root);
                compass = self.compass_selection(&root, source.as_ref()).map(Some);
                (source, target, Some(None), Some(None))
            }
            Platform::DataFusion => {
                let source = self.datafusion_source(&root);
                let target = self.datafusion_target(&root);
                datafusion = self.datafusion_selection(&root).map(Some);
                if let (Some(source), Some(target)) = (&source, &target) {
                    self.datafusion_not_onto_itself(source, target);
                }
                (source, target, Some(None), Some(None))
            }
        };
        if let (Some(source), Some(target)) = (&source, &target)
            && source.name == target.name
        {
            self.problem("target.name", "must differ from source.name");
        }
        Some(PromoteRequest {
            dry_run,
            platform,
            source: source?,
            target: target?,
            spark: spark?,
            sesam: sesam?,
            compass: compass?,
            datafusion: datafusion?,
            polling,
            approval,
        })
    }

    fn platform(&mut self, root: &Obj<'_>) -> Option<Platform> {
        let name = self.string(root, "platform", true)?;
        match name.as_str() {
            "spark" => Some(Platform::Spark),
            "sesam" => Some(Platform::Sesam),
            "compass" => Some(Platform::Compass),
            "datafusion" => Some(Platform::DataFusion),
            _ => {
                self.problem(
                    "platform",
                    format!(
                        "'{name}' is not a platform (expected spark, sesam, compass or datafusion)"
                    ),
                );
                None
            }
        }
    }

    fn spark_side(&mut self, root: &Obj<'_>, key: &str) -> Option<PromoteSide> {
        let value = self.field(root, key, true)?;
        let obj = self.object(key, value, &["name", "spark"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let spark_value = self.field(&obj, "spark", true)?;
        let spark = self.spark_tenant(&join(key, "spark"), spark_value);
        let mut side = PromoteSide::named(name?);
        side.spark = Some(spark?);
        Some(side)
    }

    fn spark_tenant(&mut self, path: &str, value: &Value) -> Option<SparkTenant> {
        let obj = self.object(
            path,
            value,
            &["env", "base_url", "tenant", "auth_secret_arn", "token_url"],
        )?;
        let env = self.string(&obj, "env", false);
        let base_url = self.string(&obj, "base_url", false);
        let tenant = self.string(&obj, "tenant", false);
        let secret = self.checked(&obj, "auth_secret_arn", check_secret_arn);
        let token_url = self.string(&obj, "token_url", false);
        let (base_url, tenant, default_token_url) =
            self.tenant_address(path, env.as_deref(), base_url.as_deref(), tenant.as_deref())?;
        let token_url = match token_url {
            Some(url) => match check_url(&url) {
                Some(problem) => {
                    self.problem(join(path, "token_url"), problem);
                    None
                }
                None => Some(url),
            },
            None => Some(default_token_url),
        };
        Some(SparkTenant {
            base_url,
            tenant,
            auth_secret_arn: secret?,
            token_url: token_url?,
        })
    }

    /// Resolves `env` + `tenant`, or `base_url` (+ `tenant`), into (base URL, tenant, token URL).
    fn tenant_address(
        &mut self,
        path: &str,
        env: Option<&str>,
        base_url: Option<&str>,
        tenant: Option<&str>,
    ) -> Option<(String, String, String)> {
        let tenant = tenant.map(|t| t.trim().to_ascii_lowercase());
        match (env, base_url) {
            (Some(_), Some(_)) => {
                self.problem(
                    join(path, "base_url"),
                    "give either env or base_url, not both",
                );
                None
            }
            (None, None) => {
                self.problem(join(path, "env"), "is required (or base_url)");
                None
            }
            (Some(env), None) => {
                let env = env.trim().to_ascii_lowercase();
                let Some(tenant) = tenant else {
                    self.problem(join(path, "tenant"), "is required with env");
                    return None;
                };
                if let Some(problem) = check_spark_env(&env) {
                    self.problem(join(path, "env"), problem);
                    return None;
                }
                self.checked_tenant(path, &tenant)?;
                Some((
                    format!("https://excel.{env}.coherent.global/{tenant}"),
                    tenant.clone(),
                    format!(
                        "https://keycloak.{env}.coherent.global/auth/realms/{tenant}/protocol/openid-connect/token"
                    ),
                ))
            }
            (None, Some(url)) => self.base_url_address(path, url, tenant),
        }
    }

    fn base_url_address(
        &mut self,
        path: &str,
        url: &str,
        tenant: Option<String>,
    ) -> Option<(String, String, String)> {
        let field = join(path, "base_url");
        if let Some(problem) = check_url(url) {
            self.problem(field, problem);
            return None;
        }
        let url = url.trim_end_matches('/');
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let (origin, url_tenant) = match url[after_scheme..].find('/') {
            Some(i) => (&url[..after_scheme + i], Some(&url[after_scheme + i + 1..])),
            None => (url, None),
        };
        let tenant = match (url_tenant, tenant) {
            (Some(from_url), Some(given)) if from_url.to_ascii_lowercase() != given => {
                self.problem(
                    join(path, "tenant"),
                    format!("'{given}' differs from the tenant '{from_url}' in base_url"),
                );
                return None;
            }
            (Some(from_url), _) => from_url.to_ascii_lowercase(),
            (None, Some(given)) => given,
            (None, None) => {
                self.problem(
                    join(path, "tenant"),
                    "is required when base_url has no tenant path",
                );
                return None;
            }
        };
        self.checked_tenant(path, &tenant)?;
        let keycloak = origin.replacen("://excel.", "://keycloak.", 1);
        Some((
            format!("{origin}/{tenant}"),
            tenant.clone(),
            format!("{keycloak}/auth/realms/{tenant}/protocol/openid-connect/token"),
        ))
    }

    fn checked_tenant(&mut self, path: &str, tenant: &str) -> Option<()> {
        let ok = !tenant.is_empty()
            && tenant.len() <= 64
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Some(())
        } else {
            self.problem(
                join(path, "tenant"),
                format!("'{tenant}' must be 1-64 letters, digits, '-' or '_'"),
            );
            None
        }
    }

    fn spark_selection(&mut self, root: &Obj<'_>) -> Option<SparkSelection> {
        let value = self.field(root, "spark", true)?;
        let obj = self.object(
            "spark",
            value,
            &[
                "services",
                "services_existing",
                "version_filter",
                "timeout_seconds",
            ],
        )?;
        let services = self.service_mappings(&obj);
        let services_existing = match self.string(&obj, "services_existing", false).as_deref() {
            None | Some("add_version") => Some(ServicesExisting::AddVersion),
            Some("abort") => Some(ServicesExisting::Abort),
            Some("replace") => Some(ServicesExisting::Replace),
            Some(other) => {
                self.problem(
                    "spark.services_existing",
                    format!("'{other}' is not one of abort, replace, add_version"),
                );
                None
            }
        };
        let version_filter = match self.string(&obj, "version_filter", false).as_deref() {
            None | Some("latest") => Some(VersionFilter::Latest),
            Some("all") => Some(VersionFilter::All),
            Some(other) => {
                self.problem(
                    "spark.version_filter",
                    format!("'{other}' is not one of latest, all"),
                );
                None
            }
        };
        let timeout_seconds = self.integer(
            &obj,
            "timeout_seconds",
            DEFAULT_REQUEST_TIMEOUT_SECONDS,
            (1, 600),
        );
        Some(SparkSelection {
            services: services?,
            services_existing: services_existing?,
            version_filter: version_filter?,
            timeout_seconds,
        })
    }

    fn service_mappings(&mut self, obj: &Obj<'_>) -> Option<Vec<ServiceMapping>> {
        let Some(items) = self.array(obj, "services") else {
            if !obj.map.contains_key("services") {
                self.problem("spark.services", "is required");
            }
            return None;
        };
        if items.is_empty() {
            self.problem("spark.services", "must list at least one service");
            return None;
        }
        let mut mappings = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(mapping) = self.service_mapping(&format!("spark.services[{i}]"), item) {
                mappings.push(mapping);
            }
        }
        for (i, mapping) in mappings.iter().enumerate() {
            if mappings[..i].iter().any(|m| m.target == mapping.target) {
                self.problem(
                    format!("spark.services[{i}].target"),
                    format!("'{}' is the target of an earlier service", mapping.target),
                );
            }
        }
        (mappings.len() == items.len()).then_some(mappings)
    }

    /// A mapping is a string (same name on both sides) or `{source, target?, upgrade?}`.
    fn service_mapping(&mut self, path: &str, item: &Value) -> Option<ServiceMapping> {
        if let Some(text) = item.as_str() {
            return self.mapping_from(path, text, None, Some(Upgrade::Minor));
        }
        let obj = self.object(path, item, &["source", "target", "upgrade"])?;
        let source = self.string(&obj, "source", true)?;
        let target = self.string(&obj, "target", false);
        let upgrade = match self.string(&obj, "upgrade", false).as_deref() {
            None | Some("minor") => Some(Upgrade::Minor),
            Some("major") => Some(Upgrade::Major),
            Some("patch") => Some(Upgrade::Patch),
            Some(other) => {
                self.problem(
                    join(path, "upgrade"),
                    format!("'{other}' is not one of major, minor, patch"),
                );
                None
            }
        };
        self.mapping_from(path, &source, target.as_deref(), upgrade)
    }

    fn mapping_from(
        &mut self,
        path: &str,
        source: &str,
        target: Option<&str>,
        upgrade: Option<Upgrade>,
    ) -> Option<ServiceMapping> {
        let (source_uri, version) = match parse_locator(source) {
            Ok(parts) => parts,
            Err(problem) => {
                self.problem(join(path, "source"), problem);
                return None;
            }
        };
        let target = target.map_or_else(|| source_uri.clone(), str::to_string);
        if let Some(problem) = check_service_uri(&target) {
            self.problem(join(path, "target"), problem);
            return None;
        }
        Some(ServiceMapping {
            source: source_uri,
            version,
            target,
            upgrade: upgrade?,
        })
    }

    /// Refuses a mapping that would import a service onto itself.
    fn not_onto_itself(
        &mut self,
        source: &PromoteSide,
        target: &PromoteSide,
        spark: &SparkSelection,
    ) {
        let url = |side: &PromoteSide| side.spark.as_ref().map(|t| t.base_url.clone());
        if url(source) != url(target) {
            return;
        }
        for (i, mapping) in spark.services.iter().enumerate() {
            if mapping.source == mapping.target {
                self.problem(
                    format!("spark.services[{i}].target"),
                    format!(
                        "'{}' is the source service itself: source and target are the same tenant",
                        mapping.target
                    ),
                );
            }
        }
    }
}

/// The selection keys of the platforms other than `platform`.
fn other_platforms(platform: Platform) -> &'static [&'static str] {
    match platform {
        Platform::Spark => &["sesam", "compass", "datafusion"],
        Platform::Sesam => &["spark", "compass", "datafusion"],
        Platform::Compass => &["spark", "sesam", "datafusion"],
        Platform::DataFusion => &["spark", "sesam", "compass"],
    }
}

/// Splits `folder/service[1.2]` into (`folder/service`, `Some("1.2")`).
fn parse_locator(text: &str) -> Result<(String, Option<String>), String> {
    let (uri, version) = match text.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((uri, version)) => (uri, Some(version)),
        None => (text, None),
    };
    if let Some(problem) = check_service_uri(uri) {
        return Err(problem);
    }
    if let Some(version) = version {
        let ok = !version.is_empty()
            && version.split('.').count() <= 3
            && version
                .split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(format!(
                "'{text}': the version in brackets must be like 1, 1.2 or 1.2.3"
            ));
        }
    }
    Ok((uri.to_string(), version.map(str::to_string)))
}

/// `folder/service`: two non-empty names without `/`, `[` or `]`.
fn check_service_uri(uri: &str) -> Option<String> {
    let ok = uri.split_once('/').is_some_and(|(folder, service)| {
        let name_ok = |s: &str| {
            !s.trim().is_empty()
                && s.len() <= 200
                && !s.contains(['/', '[', ']', '?', '#', '\\'])
                && !s.chars().any(char::is_control)
        };
        name_ok(folder) && name_ok(service)
    });
    (!ok).then(|| format!("'{uri}' is not 'folder/service'"))
}

/// `env` as in `https://excel.{env}.coherent.global`: `us`, `uat.us`, `sit`.
fn check_spark_env(env: &str) -> Option<String> {
    let ok = !env.is_empty()
        && env.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    (!ok).then(|| format!("'{env}' is not a Spark environment such as 'us' or 'uat.us'"))
}

/// An absolute URL; plain `http` only for this machine (tokens never cross a network unencrypted).
pub(crate) fn check_url(url: &str) -> Option<String> {
    let Ok(parsed) = url::Url::parse(url) else {
        return Some(format!("'{url}' is not an absolute URL"));
    };
    let local = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" if parsed.host_str().is_some() => None,
        "http" if local => None,
        "http" => Some(format!(
            "'{url}' uses plain http: only https is allowed (http only for 127.0.0.1 and localhost)"
        )),
        _ => Some(format!("'{url}' is not an https URL")),
    }
    .or_else(|| {
        (parsed.query().is_some() || parsed.fragment().is_some())
            .then(|| format!("'{url}' must not carry a query or fragment"))
    })
}

/// Every problem [`PromoteRequest::parse`] finds in `raw`, as text (tests only).
#[cfg(test)]
pub(crate) fn problems(raw: &Value) -> Vec<String> {
    match PromoteRequest::parse(raw) {
        Err(TaskError::InvalidInput(problems)) => {
            problems.iter().map(ToString::to_string).collect()
        }
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn valid() -> Value {
        json!({
            "platform": "spark",
            "source": {"name": "uat", "spark": {"env": "uat.us", "tenant": "Acme",
                "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/spark-uat"}},
            "target": {"name": "prod", "spark": {"base_url": "http://127.0.0.1:9000/acme-prod",
                "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/spark-prod"}},
            "spark": {"services": ["pricing/quote", {"source": "pricing/rater[1.2]", "target": "rating/rater", "upgrade": "major"}]},
        })
    }

    #[test]
    fn resolves_env_and_base_url_tenants() {
        let request = PromoteRequest::parse(&valid()).unwrap();
        let source = request.source.spark.as_ref().unwrap();
        assert_eq!(source.base_url, "https://excel.uat.us.coherent.global/acme");
        assert_eq!(
            source.token_url,
            "https://keycloak.uat.us.coherent.global/auth/realms/acme/protocol/openid-connect/token"
        );
        assert_eq!(source.origin(), "https://excel.uat.us.coherent.global");
        let target = request.target.spark.as_ref().unwrap();
        assert_eq!(target.tenant, "acme-prod");
        assert_eq!(
            target.token_url,
            "http://127.0.0.1:9000/auth/realms/acme-prod/protocol/openid-connect/token"
        );
        assert_eq!(target.origin(), "http://127.0.0.1:9000");
    }

    #[test]
    fn reads_string_and_object_mappings_with_defaults() {
        let request = PromoteRequest::parse(&valid()).unwrap();
        let spark = request.spark.as_ref().unwrap();
        let [quote, rater] = &spark.services[..] else {
            panic!("two mappings expected");
        };
        assert_eq!(quote.target, "pricing/quote");
        assert_eq!(quote.upgrade, Upgrade::Minor);
        assert_eq!(rater.locator(), "pricing/rater[1.2]");
        assert_eq!(rater.source, "pricing/rater");
        assert_eq!(rater.target_folder(), "rating");
        assert_eq!(rater.upgrade, Upgrade::Major);
        assert_eq!(spark.services_existing, ServicesExisting::AddVersion);
        assert_eq!(spark.version_filter, VersionFilter::Latest);
        assert_eq!(request.max_polls(), 720);
    }

    #[test]
    fn names_every_bad_field() {
        let mut raw = valid();
        raw["target"]["spark"]["base_url"] = json!("http://spark.example.com/acme");
        raw["source"]["spark"]["auth_secret_arn"] = json!("not-an-arn");
        raw["spark"]["services"][1]["upgrade"] = json!("huge");
        raw["spark"]["services"][0] = json!("just-a-name");
        raw["spark"]["services_existing"] = json!("update");
        raw["spark"]["extra"] = json!(1);
        let found = problems(&raw);
        for field in [
            "target.spark.base_url: 'http://spark.example.com/acme' uses plain http",
            "source.spark.auth_secret_arn:",
            "spark.services[1].upgrade:",
            "spark.services[0].source: 'just-a-name' is not 'folder/service'",
            "spark.services_existing:",
            "spark.extra: unknown field",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(field)),
                "no problem starting with {field:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn an_approval_defaults_to_required_for_a_day_and_names_its_bad_fields() {
        let mut raw = valid();
        assert_eq!(PromoteRequest::parse(&raw).unwrap().approval, None);
        raw["approval"] = json!({});
        let approval = PromoteRequest::parse(&raw).unwrap().approval.unwrap();
        assert!(approval.required);
        assert_eq!(approval.timeout_seconds, 86_400);
        let round = serde_json::to_value(PromoteRequest::parse(&raw).unwrap()).unwrap();
        assert_eq!(round["approval"]["timeout_seconds"], 86_400);

        raw["approval"] = json!({"required": "yes", "timeout_seconds": 0, "by": "ana"});
        let found = problems(&raw);
        for field in [
            "approval.required:",
            "approval.timeout_seconds:",
            "approval.by: unknown field",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(field)),
                "no problem starting with {field:?} in {found:#?}"
            );
        }
    }

    #[test]
    fn names_unsupported_platforms_and_foreign_selections() {
        let mut raw = valid();
        raw["platform"] = json!("informatica");
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("platform: 'informatica' is not a platform"))
        );
        let mut raw = valid();
        raw["sesam"] = json!({"prune": true});
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p == "sesam: does not apply to platform 'spark'")
        );
    }

    #[test]
    fn refuses_duplicate_targets_and_self_promotion() {
        let mut raw = valid();
        raw["spark"]["services"] =
            json!(["pricing/quote", {"source": "other/quote", "target": "pricing/quote"}]);
        assert!(problems(&raw).iter().any(|p| {
            p.starts_with("spark.services[1].target: 'pricing/quote' is the target of an earlier")
        }));
        let mut raw = valid();
        raw["target"]["spark"] = raw["source"]["spark"].clone();
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.contains("is the source service itself"))
        );
    }

    #[test]
    fn tenant_in_base_url_must_agree_with_tenant() {
        let mut raw = valid();
        raw["target"]["spark"]["tenant"] = json!("other");
        assert!(
            problems(&raw)
                .iter()
                .any(|p| p.starts_with("target.spark.tenant: 'other' differs"))
        );
    }

    #[test]
    fn round_trips_through_serde() {
        let request = PromoteRequest::parse(&valid()).unwrap();
        let json = serde_json::to_value(&request).unwrap();
        let back: PromoteRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, request);
    }
}
