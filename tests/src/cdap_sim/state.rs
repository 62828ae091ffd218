//! The simulator's in-memory world behind one lock: the service accounts and workload identity
//! pools "Google" knows, the Data Fusion instances by name, every issued token, the faults of the
//! token endpoints, the request log and the token grant counts.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::Value;

use super::faults::Armed;
use super::instance::Instance;
use super::model::{
    Counts, Fault, FaultScope, InstanceSeed, Outcome, PoolSeed, RequestRecord, ServiceAccountSeed,
};
use super::tokens::Tokens;
use crate::sim_kit::control::ControlStore;
use crate::sim_kit::locked::Locked;
use crate::sim_reply::{self, Fail};

/// Token lifetime of a service account seeded without one.
const DEFAULT_LIFETIME: u64 = 3600;

/// The shared state of one simulator; cheap to clone.
#[derive(Clone, Default)]
pub struct Store {
    inner: Locked<State>,
}

/// A service account: the key its assertions are verified with, its tokens' lifetime.
pub(crate) struct Account {
    pub public_key_pem: String,
    pub lifetime: u64,
}

/// Everything behind the lock.
#[derive(Default)]
pub(crate) struct State {
    pub accounts: BTreeMap<String, Account>,
    pub pools: BTreeMap<String, PoolSeed>,
    pub instances: BTreeMap<String, Instance>,
    pub tokens: Tokens,
    pub google_faults: Armed<FaultScope>,
    pub requests: Vec<RequestRecord>,
    pub grants: BTreeMap<String, u64>,
    pub refused_grants: u64,
}

/// The PEM of a service-account seed, from the seed or its file, checked to be an RSA key.
fn public_key(seed: &ServiceAccountSeed) -> Result<String, String> {
    let pem = match (&seed.public_key_pem, &seed.public_key_file) {
        (Some(pem), _) => pem.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        (None, None) => {
            return Err("a service account needs public_key_pem or public_key_file".into());
        }
    };
    jsonwebtoken::DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
        format!(
            "the public key of {} is not an RSA PEM key: {e}",
            seed.client_email
        )
    })?;
    Ok(pem)
}

impl Store {
    /// An empty world.
    pub fn new() -> Self {
        Store::default()
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        self.inner.with(f)
    }

    /// Registers (or replaces) a service account.
    pub fn add_service_account(&self, seed: ServiceAccountSeed) -> Result<(), String> {
        if !seed.client_email.contains('@') {
            return Err(format!(
                "client_email {:?} is not an email",
                seed.client_email
            ));
        }
        let account = Account {
            public_key_pem: public_key(&seed)?,
            lifetime: seed.token_lifetime_seconds.unwrap_or(DEFAULT_LIFETIME),
        };
        self.with(|s| s.accounts.insert(seed.client_email, account));
        Ok(())
    }

    /// Registers (or replaces) a workload identity pool provider.
    pub fn add_pool(&self, seed: PoolSeed) -> Result<(), String> {
        if seed.audience.is_empty() {
            return Err("a pool needs its audience".to_string());
        }
        self.with(|s| s.pools.insert(seed.audience.clone(), seed));
        Ok(())
    }

    /// Creates an instance (replacing one of the same name); its whole state.
    pub fn add_instance(&self, seed: InstanceSeed) -> Result<Value, String> {
        let instance = Instance::build(seed)?;
        let view = instance.view();
        self.with(|s| s.instances.insert(instance.name.clone(), instance));
        Ok(view)
    }

    /// The whole state of an instance.
    pub fn instance(&self, name: &str) -> Option<Value> {
        self.with(|s| s.instances.get(name).map(Instance::view))
    }

    /// Sets how an app's runs end; refuses an unknown instance.
    pub fn set_outcome(&self, instance: &str, mut outcome: Outcome) -> Result<(), String> {
        if outcome.namespace.is_empty() {
            outcome.namespace = "default".to_string();
        }
        self.with(|s| {
            let i = s
                .instances
                .get_mut(instance)
                .ok_or_else(|| format!("instance {instance} not found"))?;
            let key = (outcome.namespace.clone(), outcome.app.clone());
            i.outcomes.insert(key, outcome);
            Ok(())
        })
    }

    /// Makes every issued token expired.
    pub fn expire_tokens(&self) {
        self.with(|s| s.tokens.expire_all());
    }

    /// Arms a fault on the token endpoints (whatever its endpoint says).
    pub fn inject_google(&self, fault: Fault) {
        self.with(|s| s.google_faults.arm(fault));
    }

    /// Deploys and token grants counted.
    pub fn counts(&self) -> Counts {
        self.with(|s| {
            let deploys = s
                .instances
                .iter()
                .map(|(n, i)| (n.clone(), i.deploys.clone()));
            Counts {
                deploys: deploys.collect(),
                grants: s.grants.clone(),
                refused_grants: s.refused_grants,
            }
        })
    }
}

impl ControlStore for Store {
    const KEY: &'static str = "instance";
    type Fault = Fault;
    type Record = RequestRecord;

    /// Arms a fault on an instance (a token endpoint fault goes to the process-wide queue);
    /// false when the instance does not exist.
    fn inject(&self, instance: &str, fault: Fault) -> bool {
        self.with(|s| {
            if !s.instances.contains_key(instance) {
                return false;
            }
            if fault.scope.endpoint.is_some_and(|e| e.is_google()) {
                s.google_faults.arm(fault);
            } else if let Some(i) = s.instances.get_mut(instance) {
                i.faults.arm(fault);
            }
            true
        })
    }

    /// Disarms every fault of an instance; false when it does not exist.
    fn clear_faults(&self, instance: &str) -> bool {
        self.with(|s| {
            s.instances
                .get_mut(instance)
                .map(|i| i.faults.clear())
                .is_some()
        })
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.with(|s| s.requests.clone())
    }

    /// Drops every account, pool, instance, token, fault and logged request.
    fn reset(&self) {
        self.inner.reset();
    }

    fn error(status: StatusCode, text: String) -> Fail {
        sim_reply::message(status, text)
    }
}
