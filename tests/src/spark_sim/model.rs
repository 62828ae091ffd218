//! The simulator's public data shapes: tenant seeds, tenant snapshots, faults and the request log.
//! Each one is also the JSON body of the control API (`/_sim/...`).

use serde::{Deserialize, Serialize};

/// A tenant to create: its folders, services with version labels, credentials, token lifetime and
/// how many status reads an export or import job stays in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSeed {
    /// The tenant name (the first path segment of its API URLs and its OAuth realm).
    pub name: String,
    /// Folder names; a service's folder is added when missing.
    pub folders: Vec<String>,
    /// Services with their version labels, oldest first.
    pub services: Vec<ServiceSeed>,
    /// Static bearer tokens accepted as `Authorization: Bearer <token>`.
    pub bearer_tokens: Vec<String>,
    /// API keys accepted as `x-synthetic-key` with `x-tenant-name`.
    pub api_keys: Vec<String>,
    /// OAuth clients allowed to fetch tokens with the client-credentials grant.
    pub clients: Vec<ClientSeed>,
    /// Lifetime of issued tokens, in seconds.
    pub token_ttl_seconds: u64,
    /// Status reads an export job answers `in_progress` before it completes.
    pub export_polls: u32,
    /// Status reads an import job answers `in_progress` before it completes.
    pub import_polls: u32,
}

impl Default for TenantSeed {
    fn default() -> Self {
        TenantSeed {
            name: String::new(),
            folders: Vec::new(),
            services: Vec::new(),
            bearer_tokens: Vec::new(),
            api_keys: Vec::new(),
            clients: Vec::new(),
            token_ttl_seconds: 300,
            export_polls: 2,
            import_polls: 2,
        }
    }
}

impl TenantSeed {
    /// An empty tenant with default settings (no credentials, ttl 300 s, 2 polls per job).
    pub fn new(name: &str) -> Self {
        TenantSeed {
            name: name.to_string(),
            ..TenantSeed::default()
        }
    }

    /// Adds a folder.
    pub fn folder(mut self, folder: &str) -> Self {
        self.folders.push(folder.to_string());
        self
    }

    /// Adds a service with its version labels, oldest first.
    pub fn service(mut self, folder: &str, service: &str, versions: &[&str]) -> Self {
        self.services.push(ServiceSeed {
            folder: folder.to_string(),
            service: service.to_string(),
            versions: versions.iter().map(|v| v.to_string()).collect(),
        });
        self
    }

    /// Accepts a static bearer token.
    pub fn bearer(mut self, token: &str) -> Self {
        self.bearer_tokens.push(token.to_string());
        self
    }

    /// Accepts an API key.
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_keys.push(key.to_string());
        self
    }

    /// Registers an OAuth client.
    pub fn client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.clients.push(ClientSeed {
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
        });
        self
    }
}

/// A service to create in a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSeed {
    /// Its folder.
    pub folder: String,
    /// Its name.
    pub service: String,
    /// Version labels, oldest first.
    #[serde(default)]
    pub versions: Vec<String>,
}

/// An OAuth client of a tenant's realm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSeed {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
}

/// A snapshot of a tenant: folders, services with their versions, and jobs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantView {
    /// The tenant name.
    pub name: String,
    /// Folder names.
    pub folders: Vec<String>,
    /// Services in creation order.
    pub services: Vec<ServiceView>,
    /// Export and import jobs in creation order.
    pub jobs: Vec<JobView>,
}

impl TenantView {
    /// The service `folder/service`, if present.
    pub fn service(&self, folder: &str, service: &str) -> Option<&ServiceView> {
        self.services
            .iter()
            .find(|s| s.folder == folder && s.service == service)
    }
}

/// A service with its versions; also the shape of a service entry in a package's `export.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Its folder.
    pub folder: String,
    /// Its name.
    pub service: String,
    /// Its id.
    pub service_id: String,
    /// Versions, oldest first.
    pub versions: Vec<VersionView>,
}

impl ServiceView {
    /// The version labels, oldest first.
    pub fn labels(&self) -> Vec<String> {
        self.versions.iter().map(|v| v.version.clone()).collect()
    }
}

/// A version of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionView {
    /// Its label, such as `1.2.0`.
    pub version: String,
    /// Its id.
    pub version_id: String,
}

/// A job of a tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// The job id.
    pub id: String,
    /// `export` or `import`.
    pub object: String,
    /// `in_progress`, `completed` or `cancelled`.
    pub status: String,
}

/// A fault to inject into a tenant. Counted faults are consumed as they fire; the others stay until
/// `clear`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// The next `count` authenticated API requests get 401, whatever their credentials.
    UnauthorizedNext {
        /// How many requests.
        #[serde(default = "one")]
        count: u32,
    },
    /// The next `count` API requests get 429 with `retry-after` and `x-retry-after` headers.
    RateLimitNext {
        /// How many requests.
        #[serde(default = "one")]
        count: u32,
        /// The value of both retry headers.
        #[serde(default = "one_second")]
        retry_after_seconds: u64,
    },
    /// The next `count` API requests get 500.
    ServerErrorNext {
        /// How many requests.
        #[serde(default = "one")]
        count: u32,
    },
    /// The next `count` API requests are answered `millis` late.
    SlowNext {
        /// How many requests.
        #[serde(default = "one")]
        count: u32,
        /// The delay.
        #[serde(default = "one_second_ms")]
        millis: u64,
    },
    /// The next import job completes with this error and changes nothing.
    ImportErrors {
        /// The error message.
        #[serde(default = "import_failed")]
        message: String,
    },
    /// Export jobs stay in progress until cancelled, while set.
    ExportNeverCompletes,
    /// Downloads need the tenant's credentials, while set.
    DownloadRequiresAuth,
    /// Removes every fault of the tenant.
    Clear,
}

fn one() -> u32 {
    1
}

fn one_second() -> u64 {
    1
}

fn one_second_ms() -> u64 {
    1000
}

fn import_failed() -> String {
    "import failed".to_string()
}

/// One request the simulator answered (control requests under `/_sim` are not logged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: String,
    /// The path as received (still percent-encoded), without the query.
    pub path: String,
    /// The tenant the request addressed, when it named one.
    pub tenant: Option<String>,
    /// The credentials presented: `bearer` (a static token or an unknown one), `oauth` (a token
    /// issued by the token endpoint), `api_key` or `none`.
    pub auth: String,
    /// The HTTP status returned.
    pub status: u16,
}
