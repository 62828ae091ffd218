//! Compute profiles: what a profile holds, its JSON as CDAP prints it, the provisioners CDAP
//! knows, the PUT body (`{label, description, provisioner}`; name and scope come from the URL)
//! and the three system profiles every instance starts with.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::model::{ProfileSeed, ProfileStatus, Provisioner, ProvisionerProperty};

/// The provisioners a profile may name.
const PROVISIONERS: [&str; 4] = [
    "native",
    "gcp-dataproc",
    "gcp-existing-dataproc",
    "remote-hadoop",
];

/// One profile (its name is its key; its scope is where it is kept).
#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub label: String,
    pub description: String,
    pub provisioner: Provisioner,
    pub status: ProfileStatus,
    pub created: u64,
}

/// The body of `PUT .../profiles/{name}`.
#[derive(Deserialize)]
struct ProfileBody {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    description: String,
    provisioner: Option<Provisioner>,
}

/// Checks that `name` is a valid profile name and the provisioner one CDAP knows.
fn check(name: &str, provisioner: &Provisioner) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(format!("Profile name '{name}' must match [A-Za-z0-9_-]+"));
    }
    if !PROVISIONERS.contains(&provisioner.name.as_str()) {
        return Err(format!("Provisioner '{}' does not exist", provisioner.name));
    }
    Ok(())
}

impl Profile {
    /// The profile a PUT body describes, enabled; a message when it is not one.
    pub fn from_body(name: &str, body: &[u8], now: u64) -> Result<Profile, String> {
        let body: ProfileBody = serde_json::from_slice(body)
            .map_err(|e| format!("Unable to parse the profile request body: {e}"))?;
        let provisioner = body
            .provisioner
            .ok_or("The profile must have a provisioner")?;
        check(name, &provisioner)?;
        Ok(Profile {
            label: body.label.unwrap_or_else(|| name.to_string()),
            description: body.description,
            provisioner,
            status: ProfileStatus::Enabled,
            created: now,
        })
    }

    /// The profile of a seed.
    pub fn from_seed(seed: &ProfileSeed, now: u64) -> Result<Profile, String> {
        check(&seed.name, &seed.provisioner)?;
        let label = if seed.label.is_empty() {
            seed.name.clone()
        } else {
            seed.label.clone()
        };
        Ok(Profile {
            label,
            description: seed.description.clone(),
            provisioner: seed.provisioner.clone(),
            status: seed.status.unwrap_or_default(),
            created: now,
        })
    }

    /// The profile as CDAP prints it, in `scope` (`SYSTEM` or `USER`).
    pub fn json(&self, name: &str, scope: &str) -> Value {
        json!({
            "name": name,
            "label": self.label,
            "description": self.description,
            "scope": scope,
            "status": self.status,
            "provisioner": self.provisioner,
            "created": self.created,
        })
    }
}

fn property(name: &str, value: &str) -> ProvisionerProperty {
    ProvisionerProperty {
        name: name.to_string(),
        value: value.to_string(),
        is_editable: true,
    }
}

fn builtin(
    label: &str,
    description: &str,
    provisioner: &str,
    properties: Vec<ProvisionerProperty>,
    now: u64,
) -> Profile {
    Profile {
        label: label.to_string(),
        description: description.to_string(),
        provisioner: Provisioner {
            name: provisioner.to_string(),
            properties,
        },
        status: ProfileStatus::Enabled,
        created: now,
    }
}

/// `native`, `dataproc` and `autoscaling-dataproc`, enabled.
pub(crate) fn system_defaults(now: u64) -> BTreeMap<String, Profile> {
    let native = builtin(
        "Native",
        "Runs programs locally on the cluster",
        "native",
        Vec::new(),
        now,
    );
    let dataproc = builtin(
        "Dataproc",
        "Creates a Dataproc cluster per run",
        "gcp-dataproc",
        vec![
            property("masterNumNodes", "1"),
            property("workerNumNodes", "2"),
        ],
        now,
    );
    let autoscaling = builtin(
        "Autoscaling Dataproc",
        "Creates an autoscaling Dataproc cluster per run",
        "gcp-dataproc",
        vec![property("enablePredefinedAutoScaling", "true")],
        now,
    );
    BTreeMap::from([
        ("native".to_string(), native),
        ("dataproc".to_string(), dataproc),
        ("autoscaling-dataproc".to_string(), autoscaling),
    ])
}
