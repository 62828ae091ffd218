//! The simulator's in-memory world behind one lock: tenants and their applications, OAuth2
//! clients, issued tokens and their lifetime, armed faults and request counts.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::faults::Armed;
use super::model::{ClientSeed, Counts, Fault, FaultScope, SeedFile};
use super::tenant::Tenant;
use crate::sim_kit::locked::Locked;

/// The lifetime of access tokens until changed.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The shared state of one simulator; cheap to clone.
#[derive(Clone, Default)]
pub struct Store {
    inner: Locked<State>,
}

impl Store {
    /// An empty world: no tenants, no clients, tokens living an hour.
    pub fn new() -> Self {
        Store::default()
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.inner.with(f)
    }

    /// Creates a tenant (an existing one keeps its applications).
    pub fn add_tenant(&self, id: &str) {
        self.with(|s| {
            s.tenants.entry(id.to_string()).or_default();
        });
    }

    /// Registers an OAuth2 client, replacing one with the same id.
    pub fn add_client(&self, client: ClientSeed) {
        self.with(|s| s.clients.insert(client.id.clone(), client));
    }

    /// Sets the lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.with(|s| s.token_lifetime = Duration::from_secs(seconds));
    }

    /// Stores an application in a tenant as `registerApplication` would: `input` is an
    /// `ApplicationRegisterInput` (bundles and API definitions inline), with an optional `id`.
    /// Returns the stored application.
    pub fn seed_application(&self, tenant: &str, input: Value) -> Result<Value, String> {
        let id = input.get("id").and_then(Value::as_str).map(str::to_string);
        self.with(|s| s.tenant_mut(tenant)?.register(&input, id))
    }

    /// Every application of a tenant in name order, as stored (labels, bundles with their API
    /// definitions, status, timestamps); `None` for an unknown tenant.
    pub fn applications(&self, tenant: &str) -> Option<Vec<Value>> {
        self.with(|s| s.tenants.get(tenant).map(|t| t.apps().to_vec()))
    }

    /// One application of a tenant, as stored.
    pub fn application(&self, tenant: &str, id: &str) -> Option<Value> {
        self.with(|s| s.tenants.get(tenant)?.app(id).cloned())
    }

    /// Arms a fault on `/graphql`.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.arm(fault));
    }

    /// The faults still armed, with their remaining counts.
    pub fn faults(&self) -> Vec<Fault> {
        self.with(|s| s.faults.pending())
    }

    /// Disarms every fault.
    pub fn clear_faults(&self) {
        self.with(|s| s.faults.clear());
    }

    /// Requests received so far.
    pub fn counts(&self) -> Counts {
        self.with(|s| s.counts)
    }

    /// Drops every tenant, client, token, fault and count; tokens live an hour again.
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// Loads a seed: clients, token lifetime, tenants and their applications (stopping at the
    /// first application refused).
    pub fn load(&self, seed: SeedFile) -> Result<(), String> {
        seed.clients.into_iter().for_each(|c| self.add_client(c));
        if let Some(seconds) = seed.token_lifetime_seconds {
            self.set_token_lifetime(seconds);
        }
        for tenant in seed.tenants {
            self.add_tenant(&tenant.id);
            for app in tenant.applications {
                let refused = |e| format!("tenant {}: application refused: {e}", tenant.id);
                self.seed_application(&tenant.id, app).map_err(refused)?;
            }
        }
        Ok(())
    }
}

/// What an access token grants until it expires.
pub(crate) struct Grant {
    pub scopes: Vec<String>,
    pub expires: Instant,
}

/// Everything behind the lock.
pub(crate) struct State {
    pub tenants: BTreeMap<String, Tenant>,
    pub clients: BTreeMap<String, ClientSeed>,
    pub tokens: HashMap<String, Grant>,
    pub token_lifetime: Duration,
    pub faults: Armed<FaultScope>,
    pub counts: Counts,
}

impl Default for State {
    fn default() -> Self {
        State {
            tenants: BTreeMap::new(),
            clients: BTreeMap::new(),
            tokens: HashMap::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            faults: Armed::default(),
            counts: Counts::default(),
        }
    }
}

impl State {
    /// The tenant `id`.
    pub fn tenant(&self, id: &str) -> Result<&Tenant, String> {
        self.tenants.get(id).ok_or_else(|| unknown_tenant(id))
    }

    /// The tenant `id`, to change it.
    pub fn tenant_mut(&mut self, id: &str) -> Result<&mut Tenant, String> {
        self.tenants.get_mut(id).ok_or_else(|| unknown_tenant(id))
    }

    /// The scopes `token` grants, unless it is unknown or expired (an expired one is dropped).
    pub fn scopes(&mut self, token: &str) -> Option<Vec<String>> {
        let grant = self.tokens.get(token)?;
        if grant.expires > Instant::now() {
            return Some(grant.scopes.clone());
        }
        self.tokens.remove(token);
        None
    }
}

fn unknown_tenant(id: &str) -> String {
    format!("tenant {id:?} not found")
}
