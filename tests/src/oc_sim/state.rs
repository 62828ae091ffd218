//! The simulator's in-memory world behind one lock: organizations (secrets, tag matching, armed
//! faults), every instance by id (ids are unique across organizations, as in the service), the
//! next free id and the request log.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::Value;

use super::auth::valid_secret;
use super::faults::Armed;
use super::instance::{self, Instance};
use super::model::{
    Counts, Endpoint, Fault, FaultScope, InstanceChange, InstanceSeed, InstanceView, OrgSeed,
    OrgView, RequestRecord, TagMatch,
};
use super::reply::{self, Fail};
use crate::sim_kit::control::ControlStore;
use crate::sim_kit::locked::Locked;

/// The first id given to an instance seeded without one.
const FIRST_ID: i64 = 470_001;

/// The shared state of one simulator; cheap to clone.
#[derive(Clone, Default)]
pub struct Store {
    inner: Locked<State>,
}

/// Everything behind the lock.
pub(crate) struct State {
    pub orgs: BTreeMap<String, Org>,
    pub instances: BTreeMap<i64, Instance>,
    pub next_id: i64,
    pub requests: Vec<RequestRecord>,
}

impl Default for State {
    fn default() -> Self {
        State {
            orgs: BTreeMap::new(),
            instances: BTreeMap::new(),
            next_id: FIRST_ID,
            requests: Vec::new(),
        }
    }
}

/// An organization: its secrets, how tag filters combine, its armed faults.
pub(crate) struct Org {
    pub name: String,
    pub user_secret: String,
    pub organization_secret: String,
    pub tag_match: TagMatch,
    pub faults: Armed<FaultScope>,
}

impl State {
    /// The organization with this organization secret.
    pub fn org_by_secret(&self, secret: &str) -> Option<&Org> {
        self.orgs.values().find(|o| o.organization_secret == secret)
    }

    /// The instance `id` when it belongs to `org`.
    pub fn instance_of(&self, org: &str, id: i64) -> Option<&Instance> {
        self.instances.get(&id).filter(|i| i.org == org)
    }

    fn org_view(&self, name: &str) -> Option<OrgView> {
        let org = self.orgs.get(name)?;
        let instances = self.instances.values().filter(|i| i.org == name);
        Some(OrgView {
            name: org.name.clone(),
            tag_match: org.tag_match,
            instances: instances.map(Instance::view).collect(),
            faults: org.faults.pending(),
        })
    }

    /// Builds the instances of `seeds` for `org`, without storing them, taking ids from `taken`.
    fn build_all(
        &mut self,
        org: &str,
        seeds: Vec<InstanceSeed>,
        taken: &mut BTreeSet<i64>,
    ) -> Result<Vec<Instance>, String> {
        let mut next = self.next_id;
        let mut built = Vec::with_capacity(seeds.len());
        for seed in seeds {
            let id = choose_id(seed.id, taken, &mut next)?;
            built.push(Instance::build(id, org, seed)?);
        }
        self.next_id = next;
        Ok(built)
    }
}

/// The seed's own id when free, else the next free id.
fn choose_id(
    wanted: Option<i64>,
    taken: &mut BTreeSet<i64>,
    next: &mut i64,
) -> Result<i64, String> {
    if let Some(id) = wanted {
        if id <= 0 || !taken.insert(id) {
            return Err(format!("instance id {id} is not positive or already taken"));
        }
        return Ok(id);
    }
    loop {
        let id = *next;
        *next += 1;
        if taken.insert(id) {
            return Ok(id);
        }
    }
}

fn check_org(seed: &OrgSeed) -> Result<(), String> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if seed.name.is_empty() || !seed.name.chars().all(safe) {
        return Err(format!(
            "org name {:?} must match [A-Za-z0-9_.-]+",
            seed.name
        ));
    }
    if !valid_secret(&seed.user_secret) || !valid_secret(&seed.organization_secret) {
        return Err("secrets must be non-empty, without whitespace or commas".to_string());
    }
    Ok(())
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

    /// Creates an organization with its instances, replacing one of the same name (and its
    /// instances); refuses a bad name or secret, an organization secret another organization
    /// holds, a taken instance id or a bad instance seed, changing nothing.
    pub fn add_org(&self, seed: OrgSeed) -> Result<OrgView, String> {
        check_org(&seed)?;
        self.with(|s| {
            let clash = s.org_by_secret(&seed.organization_secret);
            if clash.is_some_and(|o| o.name != seed.name) {
                return Err("another org holds this organization secret".to_string());
            }
            let others = s.instances.values().filter(|i| i.org != seed.name);
            let mut taken: BTreeSet<i64> = others.map(|i| i.id).collect();
            let built = s.build_all(&seed.name, seed.instances, &mut taken)?;
            s.instances.retain(|_, i| i.org != seed.name);
            s.instances.extend(built.into_iter().map(|i| (i.id, i)));
            let org = Org {
                name: seed.name.clone(),
                user_secret: seed.user_secret,
                organization_secret: seed.organization_secret,
                tag_match: seed.tag_match,
                faults: Armed::default(),
            };
            s.orgs.insert(seed.name.clone(), org);
            s.org_view(&seed.name)
                .ok_or_else(|| "the org vanished".to_string())
        })
    }

    /// Adds an instance to an organization.
    pub fn add_instance(&self, org: &str, seed: InstanceSeed) -> Result<InstanceView, String> {
        self.with(|s| {
            if !s.orgs.contains_key(org) {
                return Err(format!("no org {org}"));
            }
            let mut taken: BTreeSet<i64> = s.instances.keys().copied().collect();
            let built = s.build_all(org, vec![seed], &mut taken)?;
            let instance = built.into_iter().next().ok_or("nothing was built")?;
            let view = instance.view();
            s.instances.insert(instance.id, instance);
            Ok(view)
        })
    }

    /// A snapshot of an organization and its instances.
    pub fn org(&self, name: &str) -> Option<OrgView> {
        self.with(|s| s.org_view(name))
    }

    /// A snapshot of an instance.
    pub fn instance(&self, id: i64) -> Option<InstanceView> {
        self.with(|s| s.instances.get(&id).map(Instance::view))
    }

    fn edit<R>(&self, id: i64, f: impl FnOnce(&mut Instance) -> R) -> Option<R> {
        self.with(|s| s.instances.get_mut(&id).map(f))
    }

    /// Renames, re-tags, disables or invalidates an instance; `None` when it does not exist.
    pub fn change(&self, id: i64, change: InstanceChange) -> Option<InstanceView> {
        self.edit(id, |i| {
            i.name = change.name.unwrap_or_else(|| i.name.clone());
            i.tags = change.tags.unwrap_or_else(|| i.tags.clone());
            i.disabled = change.disabled.unwrap_or(i.disabled);
            i.valid = change.valid.unwrap_or(i.valid);
            i.view()
        })
    }

    /// Gives an instance a new random token and returns it.
    pub fn rotate_token(&self, id: i64) -> Option<String> {
        self.edit(id, |i| {
            i.token = instance::new_token();
            i.token.clone()
        })
    }

    /// Serves `spec` as the instance's whole document; false when it does not exist.
    pub fn set_spec(&self, id: i64, spec: Value) -> bool {
        self.edit(id, |i| {
            i.spec = Some(spec);
            i.extra_paths.clear();
        })
        .is_some()
    }

    /// Adds (or replaces) a path item of the instance's document; false when it does not exist.
    pub fn add_path(&self, id: i64, path: &str, item: Value) -> bool {
        self.edit(id, |i| i.add_path(path, item)).is_some()
    }

    /// Deletes an instance; false when it did not exist.
    pub fn delete(&self, id: i64) -> bool {
        self.with(|s| s.instances.remove(&id).is_some())
    }

    /// The requests that named `org`'s organization secret, counted.
    pub fn counts(&self, org: &str) -> Counts {
        self.with(|s| {
            let mine = s.requests.iter().filter(|r| r.org.as_deref() == Some(org));
            mine.fold(Counts::default(), count)
        })
    }
}

impl ControlStore for Store {
    const KEY: &'static str = "org";
    type Fault = Fault;
    type Record = RequestRecord;

    /// Arms a fault on an organization; false when it does not exist.
    fn inject(&self, org: &str, fault: Fault) -> bool {
        self.with(|s| s.orgs.get_mut(org).map(|o| o.faults.arm(fault)).is_some())
    }

    /// Disarms every fault of an organization; false when it does not exist.
    fn clear_faults(&self, org: &str) -> bool {
        self.with(|s| s.orgs.get_mut(org).map(|o| o.faults.clear()).is_some())
    }

    fn requests(&self) -> Vec<RequestRecord> {
        self.with(|s| s.requests.clone())
    }

    /// Drops every organization, instance and logged request.
    fn reset(&self) {
        self.inner.reset();
    }

    fn error(status: StatusCode, text: String) -> Fail {
        reply::error(status, text)
    }
}

fn count(mut counts: Counts, record: &RequestRecord) -> Counts {
    counts.total += 1;
    *counts.by_status.entry(record.status).or_default() += 1;
    match record.endpoint {
        Some(Endpoint::Instances) => counts.instances += 1,
        Some(Endpoint::Docs) => {
            counts.docs += 1;
            if let Some(id) = record.instance_id {
                *counts.docs_by_instance.entry(id).or_default() += 1;
            }
        }
        None => {}
    }
    counts
}
