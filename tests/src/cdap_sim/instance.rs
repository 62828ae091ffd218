//! One Data Fusion instance: its control-plane resource (`apiEndpoint` pointing at this
//! simulator), its CDAP version and artifacts, namespaces (each with its apps, user profiles and
//! preferences), system profiles, instance preferences, the outcomes forced on apps' runs, deploy
//! counts and armed faults; building it from a seed, and its whole state for the control API.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::app::{App, AppVersion, Deploy};
use super::clock;
use super::faults::Armed;
use super::model::{
    ArtifactRef, DEFAULT_VERSION, FaultScope, InstanceSeed, NamespaceSeed, Outcome, PreferenceSeed,
    ProfileStatus,
};
use super::profile::{self, Profile};

/// Names CDAP keeps for itself.
pub(crate) const RESERVED: [&str; 2] = ["system", "cdap"];

/// The preference naming a run's compute profile (`SYSTEM:name` or `USER:name`).
pub(crate) const PROFILE_KEY: &str = "system.profile.name";

/// The profile runs use when no preference names one.
const DEFAULT_PROFILE: &str = "SYSTEM:autoscaling-dataproc";

/// A namespace and what lives in it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Namespace {
    pub description: String,
    pub config: Map<String, Value>,
    pub apps: BTreeMap<String, App>,
    pub profiles: BTreeMap<String, Profile>,
    pub preferences: BTreeMap<String, String>,
}

impl Namespace {
    /// The namespace as CDAP prints it.
    pub fn json(&self, name: &str) -> Value {
        json!({"name": name, "description": self.description, "config": self.config, "generation": 0})
    }
}

/// A Data Fusion instance.
pub(crate) struct Instance {
    pub name: String,
    pub project: String,
    pub location: String,
    pub version: String,
    pub display_name: String,
    pub created: u64,
    pub plugins: Vec<ArtifactRef>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub system_profiles: BTreeMap<String, Profile>,
    pub preferences: BTreeMap<String, String>,
    pub outcomes: BTreeMap<(String, String), Outcome>,
    pub deploys: BTreeMap<String, BTreeMap<String, u64>>,
    pub faults: Armed<FaultScope>,
}

/// True for a valid namespace name.
pub(crate) fn namespace_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True for a valid app name.
pub(crate) fn app_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    !name.is_empty() && name.chars().all(allowed)
}

fn default_namespace() -> Namespace {
    Namespace {
        description: "This is the default namespace, which is automatically created, and is always available.".to_string(),
        ..Namespace::default()
    }
}

impl Instance {
    /// An empty instance of `seed` (no namespaces but `default`, built-in profiles only).
    fn empty(seed: &InstanceSeed) -> Instance {
        let version = if seed.version.is_empty() {
            DEFAULT_VERSION.to_string()
        } else {
            seed.version.clone()
        };
        let now = clock::now();
        Instance {
            name: seed.name.clone(),
            project: seed.project.clone(),
            location: seed.location.clone(),
            version,
            display_name: seed
                .display_name
                .clone()
                .unwrap_or_else(|| seed.name.clone()),
            created: now,
            plugins: seed.plugins.clone(),
            namespaces: BTreeMap::from([("default".to_string(), default_namespace())]),
            system_profiles: profile::system_defaults(now),
            preferences: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            deploys: BTreeMap::new(),
            faults: Armed::default(),
        }
    }

    /// The instance a seed describes; a message naming the first thing it cannot hold.
    pub fn build(seed: InstanceSeed) -> Result<Instance, String> {
        let safe = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if seed.name.is_empty() || !seed.name.chars().all(safe) {
            return Err(format!(
                "instance name {:?} must match [a-z0-9-]+",
                seed.name
            ));
        }
        let mut instance = Instance::empty(&seed);
        for namespace in &seed.namespaces {
            instance.seed_namespace(namespace)?;
        }
        for profile in &seed.profiles {
            let built = Profile::from_seed(profile, instance.created)?;
            let place = instance.profiles_mut(profile.namespace.as_deref())?;
            place.insert(profile.name.clone(), built);
        }
        for app in &seed.apps {
            instance.seed_app(app)?;
        }
        for preferences in &seed.preferences {
            instance.seed_preferences(preferences)?;
        }
        Ok(instance)
    }

    fn seed_namespace(&mut self, seed: &NamespaceSeed) -> Result<(), String> {
        if !namespace_name(&seed.name) || RESERVED.contains(&seed.name.as_str()) {
            return Err(format!("namespace name {:?} is not allowed", seed.name));
        }
        let namespace = self.namespaces.entry(seed.name.clone()).or_default();
        namespace.description = seed.description.clone();
        namespace.config = seed.config.clone();
        Ok(())
    }

    fn seed_app(&mut self, seed: &super::model::AppSeed) -> Result<(), String> {
        let namespace = if seed.namespace.is_empty() {
            "default"
        } else {
            &seed.namespace
        };
        let artifact = seed
            .artifact
            .clone()
            .unwrap_or_else(|| self.pipeline_artifact());
        let deploy = Deploy {
            artifact,
            config: if seed.config.is_null() {
                json!({})
            } else {
                seed.config.clone()
            },
            description: seed.description.clone(),
        };
        let author = "seed".to_string();
        self.deploy(namespace, &seed.name, deploy, author)
            .map(|_| ())
            .map_err(|e| format!("app {namespace}/{}: {e}", seed.name))
    }

    fn seed_preferences(&mut self, seed: &PreferenceSeed) -> Result<(), String> {
        let namespace = seed.namespace.as_deref();
        let map = self
            .preferences_mut(namespace, seed.app.as_deref())
            .ok_or_else(|| {
                format!(
                    "preferences for a missing entity {namespace:?}/{:?}",
                    seed.app
                )
            })?;
        *map = seed.values.clone();
        Ok(())
    }

    /// `cdap-data-pipeline` at this instance's version.
    pub fn pipeline_artifact(&self) -> ArtifactRef {
        ArtifactRef::system("cdap-data-pipeline", &self.version)
    }

    /// Every artifact: the two pipeline artifacts at the CDAP version, then the plugins.
    pub fn artifacts(&self) -> Vec<ArtifactRef> {
        let streams = ArtifactRef::system("cdap-data-streams", &self.version);
        let mut all = vec![self.pipeline_artifact(), streams];
        all.extend(self.plugins.iter().cloned());
        all
    }

    /// The profiles of a namespace, or the system profiles without one.
    pub fn profiles_mut(
        &mut self,
        namespace: Option<&str>,
    ) -> Result<&mut BTreeMap<String, Profile>, String> {
        match namespace {
            None => Ok(&mut self.system_profiles),
            Some(ns) => self
                .namespaces
                .get_mut(ns)
                .map(|n| &mut n.profiles)
                .ok_or_else(|| format!("Namespace '{ns}' was not found.")),
        }
    }

    /// The preferences of the instance, a namespace or an app, when that entity exists.
    pub fn preferences_mut(
        &mut self,
        namespace: Option<&str>,
        app: Option<&str>,
    ) -> Option<&mut BTreeMap<String, String>> {
        let Some(ns) = namespace else {
            return Some(&mut self.preferences);
        };
        let namespace = self.namespaces.get_mut(ns)?;
        match app {
            None => Some(&mut namespace.preferences),
            Some(app) => namespace.apps.get_mut(app).map(|a| &mut a.preferences),
        }
    }

    /// The preferences merged from the instance down to the given level (lower levels win).
    pub fn resolved(&self, namespace: Option<&str>, app: Option<&str>) -> BTreeMap<String, String> {
        let mut merged = self.preferences.clone();
        let Some(ns) = namespace.and_then(|ns| self.namespaces.get(ns)) else {
            return merged;
        };
        merged.extend(ns.preferences.clone());
        if let Some(app) = app.and_then(|a| ns.apps.get(a)) {
            merged.extend(app.preferences.clone());
        }
        merged
    }

    /// Deploys a new version of `namespace/name`; its id.
    pub fn deploy(
        &mut self,
        namespace: &str,
        name: &str,
        deploy: Deploy,
        author: String,
    ) -> Result<String, String> {
        if !app_name(name) {
            return Err(format!(
                "Application name '{name}' must match [A-Za-z0-9_-]+"
            ));
        }
        deploy.check(&self.artifacts())?;
        let ns = self
            .namespaces
            .get_mut(namespace)
            .ok_or_else(|| format!("Namespace '{namespace}' was not found."))?;
        let version = AppVersion {
            id: super::app::uuid(),
            description: deploy.description,
            artifact: deploy.artifact,
            config: deploy.config,
            author,
            created_ms: clock::now_millis(),
        };
        let id = version.id.clone();
        ns.apps
            .entry(name.to_string())
            .or_default()
            .versions
            .push(version);
        let count = self.deploys.entry(namespace.to_string()).or_default();
        *count.entry(name.to_string()).or_default() += 1;
        Ok(id)
    }

    /// The profile a run with `args` uses, checked to exist and be enabled.
    pub fn run_profile(
        &self,
        namespace: &str,
        args: &BTreeMap<String, String>,
    ) -> Result<(String, String), String> {
        let scoped = args
            .get(PROFILE_KEY)
            .map_or(DEFAULT_PROFILE, String::as_str);
        let (scope, name) = scoped.split_once(':').unwrap_or(("USER", scoped));
        let (profile, owner) = if scope.eq_ignore_ascii_case("SYSTEM") {
            (self.system_profiles.get(name), "system")
        } else {
            let ns = self.namespaces.get(namespace);
            (ns.and_then(|n| n.profiles.get(name)), namespace)
        };
        match profile {
            None => Err(format!("Profile '{scoped}' was not found.")),
            Some(p) if p.status == ProfileStatus::Disabled => Err(format!(
                "Profile '{scoped}' is DISABLED. No new program runs can use it."
            )),
            Some(_) => Ok((name.to_string(), owner.to_string())),
        }
    }

    /// The instance resource of the Data Fusion API; endpoints at `origin`.
    pub fn resource(&self, origin: &str) -> Value {
        let created = clock::rfc3339(self.created);
        json!({
            "name": format!("projects/{}/locations/{}/instances/{}", self.project, self.location, self.name),
            "type": "BASIC",
            "state": "RUNNING",
            "version": self.version,
            "apiEndpoint": format!("{origin}/instances/{}/api", self.name),
            "serviceEndpoint": format!("{origin}/instances/{}/ui", self.name),
            "displayName": self.display_name,
            "createTime": created,
            "updateTime": created,
        })
    }

    /// The whole state, for `GET /control/instances/{name}`.
    pub fn view(&self) -> Value {
        let profiles = |all: &BTreeMap<String, Profile>, scope: &str| -> Vec<Value> {
            all.iter().map(|(name, p)| p.json(name, scope)).collect()
        };
        let namespaces: Map<String, Value> = self
            .namespaces
            .iter()
            .map(|(name, ns)| {
                (
                    name.clone(),
                    namespace_view(name, ns, &profiles(&ns.profiles, "USER")),
                )
            })
            .collect();
        let outcomes: Vec<&Outcome> = self.outcomes.values().collect();
        json!({
            "name": self.name,
            "project": self.project,
            "location": self.location,
            "version": self.version,
            "artifacts": self.artifacts(),
            "namespaces": namespaces,
            "system_profiles": profiles(&self.system_profiles, "SYSTEM"),
            "preferences": self.preferences,
            "outcomes": outcomes,
            "deploys": self.deploys,
            "faults": self.faults.pending(),
        })
    }
}

fn app_view(app: &App) -> Value {
    let latest = app.latest();
    let versions: Vec<&str> = app.versions.iter().map(|v| v.id.as_str()).collect();
    let runs: Vec<Value> = app.runs.iter().map(super::run::Run::json).collect();
    json!({
        "description": latest.description,
        "artifact": latest.artifact,
        "configuration": latest.config,
        "versions": versions,
        "preferences": app.preferences,
        "runs": runs,
    })
}

fn namespace_view(name: &str, ns: &Namespace, profiles: &[Value]) -> Value {
    let apps: Map<String, Value> = ns
        .apps
        .iter()
        .map(|(n, a)| (n.clone(), app_view(a)))
        .collect();
    let mut view = ns.json(name);
    view["apps"] = Value::Object(apps);
    view["profiles"] = json!(profiles);
    view["preferences"] = json!(ns.preferences);
    view
}
