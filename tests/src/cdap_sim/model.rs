//! The simulator's public data shapes: the seeds of service accounts, workload identity pools
//! and Data Fusion instances (with their namespaces, profiles, apps and preferences), a run's
//! forced outcome, fault scopes, the request log and counts. Each one is also a JSON body of
//! the control API (`/control/...`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The CDAP version an instance seeded without one runs.
pub const DEFAULT_VERSION: &str = "6.10.1";

/// A service account whose JWT assertions `POST /token` accepts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceAccountSeed {
    /// The `iss` of its assertions.
    pub client_email: String,
    /// Its RSA public key (PEM), to verify the assertions' signatures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
    /// A file holding that key, read when the seed is added (instead of `public_key_pem`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_file: Option<PathBuf>,
    /// `expires_in` of the tokens it is granted (3600 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
}

/// A workload identity pool provider for AWS, named by its STS `audience`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSeed {
    /// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/A`.
    pub audience: String,
    /// The only AWS access key id accepted in the signed request, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    /// The secret of that key: when set, the SigV4 signature is recomputed and checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_secret_access_key: Option<String>,
    /// The service accounts this pool's tokens may impersonate.
    pub impersonate: Vec<String>,
}

/// An artifact: `{name, version, scope}` (scope `SYSTEM` or `USER`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ArtifactRef {
    /// Its name, such as `core-plugins`.
    pub name: String,
    /// Its version, such as `2.12.0`.
    pub version: String,
    /// `SYSTEM` (when absent) or `USER`.
    #[serde(default = "system_scope")]
    pub scope: String,
}

fn system_scope() -> String {
    "SYSTEM".to_string()
}

impl ArtifactRef {
    /// A SYSTEM artifact.
    pub fn system(name: &str, version: &str) -> Self {
        ArtifactRef {
            name: name.to_string(),
            version: version.to_string(),
            scope: system_scope(),
        }
    }
}

/// A namespace to create.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NamespaceSeed {
    /// Its name (`[A-Za-z0-9_]+`).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its `config` map.
    pub config: Map<String, Value>,
}

/// A profile's status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProfileStatus {
    /// Usable by runs; cannot be deleted.
    #[default]
    Enabled,
    /// Not usable by runs; can be deleted.
    Disabled,
}

/// One provisioner property of a profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionerProperty {
    /// The property name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
    /// Whether a run may override it.
    #[serde(default, rename = "isEditable")]
    pub is_editable: bool,
}

/// A profile's provisioner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisioner {
    /// `native`, `gcp-dataproc`, `gcp-existing-dataproc` or `remote-hadoop`.
    pub name: String,
    /// Its properties.
    #[serde(default)]
    pub properties: Vec<ProvisionerProperty>,
}

/// A compute profile to create: system scope without `namespace`, else user scope there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileSeed {
    /// The namespace of a user-scope profile; none for a system profile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Its label.
    pub label: String,
    /// Its description.
    pub description: String,
    /// Its provisioner.
    pub provisioner: Provisioner,
    /// Its status (enabled when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ProfileStatus>,
}

/// A deployed app to create (one version).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSeed {
    /// Its namespace (`default` when absent).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its artifact (`cdap-data-pipeline` at the instance's version when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact: Option<ArtifactRef>,
    /// The pipeline config (an object).
    pub config: Value,
}

/// Preferences to set: on the instance, a namespace, or an app of a namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreferenceSeed {
    /// The namespace, for namespace and app preferences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The app, for app preferences.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The string map.
    pub values: BTreeMap<String, String>,
}

/// A Data Fusion instance to create (replacing one of the same name).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct InstanceSeed {
    /// Its instance id, such as `df-dev`.
    pub name: String,
    /// Its project id.
    pub project: String,
    /// Its location (region).
    pub location: String,
    /// Its CDAP version ([`DEFAULT_VERSION`] when empty).
    pub version: String,
    /// `displayName` (the name when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Its plugin artifacts (the pipeline artifacts come with the version).
    pub plugins: Vec<ArtifactRef>,
    /// Namespaces besides `default`.
    pub namespaces: Vec<NamespaceSeed>,
    /// Profiles besides the built-in system ones.
    pub profiles: Vec<ProfileSeed>,
    /// Deployed apps.
    pub apps: Vec<AppSeed>,
    /// Preferences.
    pub preferences: Vec<PreferenceSeed>,
}

/// How a run that ends ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FinalStatus {
    /// Success (the default).
    #[default]
    Completed,
    /// Failure.
    Failed,
    /// Stopped.
    Killed,
}

/// The outcome of an app's runs: they end `status` after `steps` reads while RUNNING.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Outcome {
    /// The namespace (`default` when empty).
    pub namespace: String,
    /// The app.
    pub app: String,
    /// How its runs end.
    pub status: FinalStatus,
    /// How many reads a run stays RUNNING (1 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<u32>,
}

/// Which API a request calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    /// `POST /token` (service-account JWT grant).
    Token,
    /// `POST /v1/token` (STS token exchange).
    Sts,
    /// `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`.
    Impersonate,
    /// The Data Fusion instance resource.
    Instance,
    /// `GET /v3/version`.
    Version,
    /// Namespaces.
    Namespaces,
    /// Artifacts.
    Artifacts,
    /// Apps (list, detail, versions, deploy, delete).
    Apps,
    /// Compute profiles.
    Profiles,
    /// Preferences.
    Preferences,
    /// Starting runs.
    Start,
    /// Reading runs.
    Runs,
}

impl Endpoint {
    /// True for the token endpoints, whose faults are process-wide.
    pub fn is_google(self) -> bool {
        matches!(
            self,
            Endpoint::Token | Endpoint::Sts | Endpoint::Impersonate
        )
    }
}

/// A fault: fires on the next `count` requests its [`FaultScope`] covers, then is gone.
pub type Fault = crate::sim_kit::faults::Fault<FaultScope>;

/// Which requests a fault fires on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultScope {
    /// Only requests to this endpoint, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// Only requests whose path names this app, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

impl Fault {
    /// Limits the fault to one endpoint.
    pub fn on(mut self, endpoint: Endpoint) -> Self {
        self.scope.endpoint = Some(endpoint);
        self
    }

    /// Limits the fault to requests naming `app` in their path.
    pub fn on_app(mut self, app: &str) -> Self {
        self.scope.app = Some(app.to_string());
        self
    }
}

/// One request the simulator answered (control requests are not logged). Tokens and
/// assertions are never recorded, only what kind of credential was presented.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: String,
    /// The path as received, without the query.
    pub path: String,
    /// The query string, when there was one.
    pub query: Option<String>,
    /// The Data Fusion instance the path addresses, if any.
    pub instance: Option<String>,
    /// The API called, when the path is one.
    pub endpoint: Option<Endpoint>,
    /// The HTTP status returned.
    pub status: u16,
    /// `service_account`, `sts` or `impersonated` (a live token of that kind), `expired`,
    /// `invalid` (any other `Authorization`) or `none`.
    pub auth: String,
}

/// What the simulator counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Deploys (`PUT .../apps/{app}`) per instance, namespace and app.
    pub deploys: BTreeMap<String, BTreeMap<String, BTreeMap<String, u64>>>,
    /// Tokens granted per kind (`service_account`, `sts`, `impersonated`).
    pub grants: BTreeMap<String, u64>,
    /// Token requests refused.
    pub refused_grants: u64,
}
