//! The Data Fusion parts of a promote request: a Cloud Data Fusion instance (or a stored bundle)
//! as the source, another instance as the target, and the selection (namespaces, pipelines,
//! profiles, preferences, pipelines to run afterwards) with its guards, each validated with its
//! field path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::promote::{PromoteSide, check_url};
use super::validate::{Obj, Validator, check_env_name, check_secret_arn, join};

/// The Data Fusion API that resolves an instance name, unless `control_plane_url` says otherwise.
pub const DEFAULT_CONTROL_PLANE_URL: &str = "https://datafusion.googleapis.com";
/// Default per-request timeout of Data Fusion and CDAP calls, in seconds.
pub const DEFAULT_DATAFUSION_TIMEOUT_SECONDS: u64 = 60;
/// Default number of CDAP calls in flight at once (reads and one wave of changes).
pub const DEFAULT_DATAFUSION_CONCURRENCY: u64 = 4;
/// The most pipelines one run may start.
pub const MAX_STARTS: usize = 20;

/// One Cloud Data Fusion instance: by its resource name (resolved through the Data Fusion API to
/// its CDAP endpoint and version) or by its CDAP endpoint directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFusionInstance {
    /// `projects/<project>/locations/<location>/instances/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Base of the Data Fusion API used to resolve `instance` (a local simulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_plane_url: Option<String>,
    /// The instance's CDAP endpoint (`https://…datafusion.googleusercontent.com/api`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_endpoint: Option<String>,
    /// Secret holding a Google credentials JSON (a service-account key or an `external_account`
    /// configuration).
    pub auth_secret_arn: String,
}

impl DataFusionInstance {
    /// How people name the instance: its resource name or its endpoint.
    pub fn describe(&self) -> &str {
        self.instance
            .as_deref()
            .or(self.api_endpoint.as_deref())
            .unwrap_or("")
    }

    /// The Data Fusion API base for `instance`.
    pub fn control_plane(&self) -> &str {
        self.control_plane_url
            .as_deref()
            .unwrap_or(DEFAULT_CONTROL_PLANE_URL)
    }
}

/// One pipeline to run after a successful promotion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartPipeline {
    /// Its namespace.
    pub namespace: String,
    /// The pipeline (application) name.
    pub pipeline: String,
    /// Runtime arguments of the run (they override preferences).
    #[serde(default)]
    pub runtime_args: BTreeMap<String, String>,
}

/// What to promote on Data Fusion, and the guards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataFusionSelection {
    /// Namespaces promoted (created or updated, never deleted).
    pub namespaces: Vec<String>,
    /// Pipeline names or globs (`*`, `sales-*`), in every selected namespace.
    pub pipelines: Vec<String>,
    /// System and namespace compute profiles too.
    pub profiles: bool,
    /// Namespace and pipeline preferences too.
    pub preferences: bool,
    /// Identities (`pipeline/default/x`, `profile/system/p`) never changed or deleted.
    #[serde(default)]
    pub protect: Vec<String>,
    /// Delete target pipelines, profiles and preferences of the selection that the source lacks.
    pub prune: bool,
    /// The most deletions one run may make.
    pub max_delete: u64,
    /// Pipelines run after the apply, each waited for until it completes.
    #[serde(default)]
    pub start: Vec<StartPipeline>,
    /// CDAP calls in flight at once.
    pub concurrency: u64,
    /// Per-request timeout, in seconds.
    pub timeout_seconds: u64,
}

impl Validator {
    pub(crate) fn datafusion_source(&mut self, root: &Obj<'_>) -> Option<PromoteSide> {
        let value = self.field(root, "source", true)?;
        let obj = self.object("source", value, &["name", "datafusion", "bundle"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let present = |k: &str| obj.map.get(k).is_some_and(|v| !v.is_null());
        let mut side = PromoteSide::named(String::new());
        match (present("datafusion"), present("bundle")) {
            (true, false) => {
                side.datafusion = Some(self.datafusion_instance("source", &obj.map["datafusion"])?);
            }
            (false, true) => side.bundle = Some(self.bundle_uri(&obj)?),
            (both, _) => {
                let found = if both { "both" } else { "none" };
                self.problem(
                    "source",
                    format!("must hold exactly one of datafusion, bundle (found {found})"),
                );
                return None;
            }
        }
        side.name = name?;
        Some(side)
    }

    pub(crate) fn datafusion_target(&mut self, root: &Obj<'_>) -> Option<PromoteSide> {
        let value = self.field(root, "target", true)?;
        let obj = self.object("target", value, &["name", "datafusion"])?;
        let name = self.checked(&obj, "name", check_env_name);
        let instance = self.field(&obj, "datafusion", true)?;
        let instance = self.datafusion_instance("target", instance);
        let mut side = PromoteSide::named(name?);
        side.datafusion = Some(instance?);
        Some(side)
    }

    fn datafusion_instance(&mut self, side: &str, value: &Value) -> Option<DataFusionInstance> {
        let path = join(side, "datafusion");
        let obj = self.object(
            &path,
            value,
            &[
                "instance",
                "control_plane_url",
                "api_endpoint",
                "auth_secret_arn",
            ],
        )?;
        let secret = self.checked(&obj, "auth_secret_arn", check_secret_arn);
        let present = |k: &str| obj.map.get(k).is_some_and(|v| !v.is_null());
        let (instance, api_endpoint) = match (present("instance"), present("api_endpoint")) {
            (true, false) => (Some(self.checked(&obj, "instance", check_instance)?), None),
            (false, true) => (None, Some(self.base_url(&obj, "api_endpoint")?)),
            (both, _) => {
                let found = if both { "both" } else { "none" };
                self.problem(
                    path,
                    format!("must hold exactly one of instance, api_endpoint (found {found})"),
                );
                return None;
            }
        };
        let control_plane_url = if present("control_plane_url") {
            if api_endpoint.is_some() {
                self.problem(
                    join(&obj.path, "control_plane_url"),
                    "applies only with instance (api_endpoint is used as it is)",
                );
                return None;
            }
            Some(self.base_url(&obj, "control_plane_url")?)
        } else {
            None
        };
        Some(DataFusionInstance {
            instance,
            control_plane_url,
            api_endpoint,
            auth_secret_arn: secret?,
        })
    }

    pub(crate) fn datafusion_not_onto_itself(
        &mut self,
        source: &PromoteSide,
        target: &PromoteSide,
    ) {
        let key = |side: &PromoteSide| {
            side.datafusion
                .as_ref()
                .map(|d| d.describe().to_ascii_lowercase())
        };
        if source.datafusion.is_some() && key(source) == key(target) {
            self.problem("target.datafusion", "is the source instance itself");
        }
    }

    fn base_url(&mut self, obj: &Obj<'_>, key: &str) -> Option<String> {
        let url = self.string(obj, key, true)?;
        match check_url(&url) {
            Some(problem) => {
                self.problem(join(&obj.path, key), problem);
                None
            }
            None => Some(url.trim_end_matches('/').to_string()),
        }
    }

    pub(crate) fn datafusion_selection(&mut self, root: &Obj<'_>) -> Option<DataFusionSelection> {
        let value = self.field(root, "datafusion", true)?;
        let obj = self.object(
            "datafusion",
            value,
            &[
                "namespaces",
                "pipelines",
                "profiles",
                "preferences",
                "protect",
                "prune",
                "max_delete",
                "start",
                "concurrency",
                "timeout_seconds",
            ],
        )?;
        let namespaces = self.namespaces(&obj);
        let pipelines = match obj.map.get("pipelines") {
            None | Some(Value::Null) => Some(vec!["*".to_string()]),
            Some(_) => self.names(&obj, "pipelines", check_pipeline_glob),
        };
        let profiles = self.boolean(&obj, "profiles", true);
        let preferences = self.boolean(&obj, "preferences", true);
        let protect = match obj.map.get("protect") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(_) => self.names(&obj, "protect", check_protect),
        };
        let prune = self.boolean(&obj, "prune", false);
        let max_delete = self.integer(&obj, "max_delete", 0, (0, 10_000));
        let concurrency =
            self.integer(&obj, "concurrency", DEFAULT_DATAFUSION_CONCURRENCY, (1, 16));
        let timeout_seconds = self.integer(
            &obj,
            "timeout_seconds",
            DEFAULT_DATAFUSION_TIMEOUT_SECONDS,
            (1, super::sesam::MAX_SESAM_TIMEOUT_SECONDS),
        );
        let start = self.starts(&obj, namespaces.as_deref(), pipelines.as_deref());
        Some(DataFusionSelection {
            namespaces: namespaces?,
            pipelines: pipelines?,
            profiles,
            preferences,
            protect: protect?,
            prune,
            max_delete,
            start: start?,
            concurrency,
            timeout_seconds,
        })
    }

    fn namespaces(&mut self, obj: &Obj<'_>) -> Option<Vec<String>> {
        let Some(names) = self.names(obj, "namespaces", check_namespace) else {
            if !obj.map.contains_key("namespaces") {
                self.problem(
                    "datafusion.namespaces",
                    "is required: the namespaces to promote (like [\"default\"])",
                );
            }
            return None;
        };
        if names.is_empty() {
            self.problem("datafusion.namespaces", "must name at least one namespace");
            return None;
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, name) in names.iter().enumerate() {
            if !seen.insert(name) {
                self.problem(
                    format!("datafusion.namespaces[{i}]"),
                    format!("'{name}' is listed twice"),
                );
            }
        }
        Some(names)
    }

    fn starts(
        &mut self,
        obj: &Obj<'_>,
        namespaces: Option<&[String]>,
        pipelines: Option<&[String]>,
    ) -> Option<Vec<StartPipeline>> {
        let Some(items) = self.array(obj, "start") else {
            return obj
                .map
                .get("start")
                .is_none_or(|v| v.is_null())
                .then(Vec::new);
        };
        if items.len() > MAX_STARTS {
            self.problem(
                "datafusion.start",
                format!("lists {} pipelines: at most {MAX_STARTS}", items.len()),
            );
            return None;
        }
        let mut starts = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("datafusion.start[{i}]");
            let Some(entry) = self.object(&path, item, &["namespace", "pipeline", "runtime_args"])
            else {
                continue;
            };
            if let Some(start) = self.start(&entry, namespaces, pipelines) {
                starts.push(start);
            }
        }
        (starts.len() == items.len()).then_some(starts)
    }

    fn start(
        &mut self,
        entry: &Obj<'_>,
        namespaces: Option<&[String]>,
        pipelines: Option<&[String]>,
    ) -> Option<StartPipeline> {
        let namespace = self.checked(entry, "namespace", check_namespace);
        let pipeline = self.checked(entry, "pipeline", check_pipeline_name);
        let runtime_args = self.runtime_args(entry);
        let (namespace, pipeline) = (namespace?, pipeline?);
        if namespaces.is_some_and(|n| !n.contains(&namespace)) {
            self.problem(
                join(&entry.path, "namespace"),
                format!("'{namespace}' is not one of datafusion.namespaces"),
            );
            return None;
        }
        if pipelines.is_some_and(|globs| !selects(globs, &pipeline)) {
            self.problem(
                join(&entry.path, "pipeline"),
                format!("'{pipeline}' is not selected by datafusion.pipelines"),
            );
            return None;
        }
        Some(StartPipeline {
            namespace,
            pipeline,
            runtime_args: runtime_args?,
        })
    }

    fn runtime_args(&mut self, entry: &Obj<'_>) -> Option<BTreeMap<String, String>> {
        let path = join(&entry.path, "runtime_args");
        let Some(value) = entry.map.get("runtime_args").filter(|v| !v.is_null()) else {
            return Some(BTreeMap::new());
        };
        let Some(map) = value.as_object() else {
            self.problem(path, "must be an object of string values");
            return None;
        };
        let mut args = BTreeMap::new();
        for (key, value) in map {
            match value.as_str() {
                Some(text) if !key.is_empty() => {
                    args.insert(key.clone(), text.to_string());
                }
                _ => self.problem(
                    format!("{path}.{key}"),
                    "must be a string (CDAP runtime arguments are strings)",
                ),
            }
        }
        (args.len() == map.len()).then_some(args)
    }
}

/// Whether any of `globs` selects the pipeline `name`.
pub fn selects(globs: &[String], name: &str) -> bool {
    globs
        .iter()
        .any(|glob| crate::masking::glob_match(glob, name))
}

/// `projects/<project>/locations/<location>/instances/<name>`, each part as Google allows it.
fn check_instance(text: &str) -> Option<String> {
    let parts: Vec<&str> = text.split('/').collect();
    let ok = parts.len() == 6
        && parts[0] == "projects"
        && parts[2] == "locations"
        && parts[4] == "instances"
        && is_project(parts[1])
        && is_label(parts[3])
        && is_label(parts[5]);
    (!ok).then(|| {
        format!(
            "'{text}' is not an instance name (projects/<project>/locations/<location>/instances/<name>, lowercase letters, digits and '-')"
        )
    })
}

fn is_project(part: &str) -> bool {
    (6..=30).contains(&part.len())
        && part.starts_with(|c: char| c.is_ascii_lowercase())
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_label(part: &str) -> bool {
    (1..=63).contains(&part.len())
        && part.starts_with(|c: char| c.is_ascii_lowercase())
        && !part.ends_with('-')
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A CDAP namespace: letters, digits and `_`, not one CDAP keeps for itself.
fn check_namespace(name: &str) -> Option<String> {
    if matches!(name, "system" | "cdap") {
        return Some(format!("'{name}' is reserved by CDAP"));
    }
    let ok = (1..=255).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (!ok).then(|| format!("'{name}' is not a namespace (letters, digits and '_')"))
}

/// A CDAP application name: letters, digits, `_` and `-`.
fn check_pipeline_name(name: &str) -> Option<String> {
    let ok = (1..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    (!ok).then(|| format!("'{name}' is not a pipeline name (letters, digits, '_' and '-')"))
}

/// A pipeline name with `*` and `?` allowed.
fn check_pipeline_glob(glob: &str) -> Option<String> {
    let ok = (1..=255).contains(&glob.len())
        && glob
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'*' | b'?'));
    (!ok).then(|| {
        format!("'{glob}' is not a pipeline name or glob (letters, digits, '_', '-', '*', '?')")
    })
}

/// `kind/identity` of a Data Fusion entity.
fn check_protect(text: &str) -> Option<String> {
    let kind = text.split('/').next().unwrap_or("");
    let ok = matches!(kind, "namespace" | "profile" | "pipeline" | "preferences")
        && text.len() > kind.len() + 1;
    (!ok).then(|| {
        format!(
            "'{text}' is not an entity (namespace/<ns>, profile/system/<name>, profile/<ns>/<name>, pipeline/<ns>/<name>, preferences/<ns>[/<pipeline>])"
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::contract::PromoteRequest;
    use crate::contract::promote::problems;

    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/gcp-dev";

    fn valid() -> serde_json::Value {
        json!({
            "platform": "datafusion",
            "source": {"name": "dev", "datafusion": {"instance": "projects/acme-dev/locations/us-central1/instances/df-dev",
                "auth_secret_arn": ARN}},
            "target": {"name": "qa", "datafusion": {"api_endpoint": "https://df-qa-acme-qa-dot-usc1.datafusion.googleusercontent.com/api/",
                "auth_secret_arn": ARN}},
            "datafusion": {"namespaces": ["default", "sales"], "pipelines": ["*"], "max_delete": 5,
                "start": [{"namespace": "default", "pipeline": "GCS-Parquet-To-AVRO", "runtime_args": {"day": "1"}}]}
        })
    }

    #[test]
    fn reads_both_kinds_of_side_and_the_defaults() {
        let request = PromoteRequest::parse(&valid()).unwrap();
        let source = request.source.datafusion.unwrap();
        assert_eq!(source.control_plane(), super::DEFAULT_CONTROL_PLANE_URL);
        let target = request.target.datafusion.unwrap();
        assert_eq!(
            target.api_endpoint.as_deref(),
            Some("https://df-qa-acme-qa-dot-usc1.datafusion.googleusercontent.com/api")
        );
        let selection = request.datafusion.unwrap();
        assert!(selection.profiles && selection.preferences && !selection.prune);
        assert_eq!(selection.concurrency, 4);
        assert_eq!(selection.start[0].runtime_args["day"], "1");
    }

    #[test]
    fn names_every_bad_field_at_once() {
        let mut raw = valid();
        raw["source"]["datafusion"]["api_endpoint"] = json!("https://x.example.org/api");
        raw["target"]["datafusion"] = json!({"instance": "projects/Acme/instances/qa",
            "auth_secret_arn": "not-an-arn"});
        raw["datafusion"]["namespaces"] = json!(["default", "system", "bad ns"]);
        raw["datafusion"]["pipelines"] = json!(["ok-*", "no/slash"]);
        raw["datafusion"]["start"] = json!([{"namespace": "other", "pipeline": "x"},
            {"namespace": "default", "pipeline": "GCS", "runtime_args": {"n": 1}}]);
        raw["datafusion"]["protect"] = json!(["widget/x"]);
        let found = problems(&raw).join("\n");
        for field in [
            "source.datafusion: must hold exactly one of instance, api_endpoint (found both)",
            "target.datafusion.instance: 'projects/Acme/instances/qa' is not an instance name",
            "target.datafusion.auth_secret_arn",
            "datafusion.namespaces[1]: 'system' is reserved",
            "datafusion.namespaces[2]",
            "datafusion.pipelines[1]",
            "datafusion.start[1].runtime_args.n: must be a string",
            "datafusion.protect[0]",
        ] {
            assert!(found.contains(field), "missing {field} in:\n{found}");
        }
    }

    #[test]
    fn a_protected_pipeline_protects_its_preferences() {
        let mut raw = valid();
        raw["datafusion"]["protect"] =
            json!(["pipeline/default/GCS-Parquet-To-AVRO", "profile/system/dp"]);
        let guards = PromoteRequest::parse(&raw).unwrap().guards();
        assert_eq!(
            guards.protect,
            [
                "pipeline/default/GCS-Parquet-To-AVRO",
                "profile/system/dp",
                "preferences/default/GCS-Parquet-To-AVRO"
            ]
        );
    }

    #[test]
    fn a_start_must_be_part_of_the_selection() {
        let mut raw = valid();
        raw["datafusion"]["pipelines"] = json!(["sales-*"]);
        raw["datafusion"]["start"] = json!([{"namespace": "ops", "pipeline": "sales-daily"},
            {"namespace": "default", "pipeline": "hr-daily"}]);
        let found = problems(&raw).join("\n");
        assert!(
            found.contains(
                "datafusion.start[0].namespace: 'ops' is not one of datafusion.namespaces"
            ),
            "{found}"
        );
        assert!(
            found.contains("datafusion.start[1].pipeline: 'hr-daily' is not selected"),
            "{found}"
        );
    }

    #[test]
    fn neither_side_endpoint_nor_namespaces_is_refused() {
        let mut raw = valid();
        raw["target"]["datafusion"] = json!({"auth_secret_arn": ARN});
        raw["datafusion"] = json!({"control": true});
        let found = problems(&raw).join("\n");
        assert!(
            found.contains(
                "target.datafusion: must hold exactly one of instance, api_endpoint (found none)"
            ),
            "{found}"
        );
        assert!(
            found.contains("datafusion.namespaces: is required"),
            "{found}"
        );
        assert!(found.contains("datafusion.control"), "{found}");
    }
}
