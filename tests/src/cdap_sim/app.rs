//! Deployed apps: every version an app was deployed as (each `PUT` mints one), its preferences
//! and runs; reading an AppRequest (`artifact` required, `config` or its `configuration` alias as
//! an object or a JSON string) and checking its artifacts against the instance's; the app record
//! of a list and the ApplicationDetail of a `GET` (with `configuration` as a JSON string).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::model::ArtifactRef;
use super::run::Run;

/// The artifacts an app may be deployed from.
pub(crate) const APP_ARTIFACTS: [&str; 2] = ["cdap-data-pipeline", "cdap-data-streams"];

/// The workflow of a batch pipeline.
pub(crate) const WORKFLOW: &str = "DataPipelineWorkflow";

/// One deployed version of an app.
#[derive(Clone, Debug)]
pub(crate) struct AppVersion {
    pub id: String,
    pub description: String,
    pub artifact: ArtifactRef,
    pub config: Value,
    pub author: String,
    pub created_ms: u64,
}

/// An app: its versions (oldest first, never empty), its preferences and runs.
#[derive(Clone, Debug, Default)]
pub(crate) struct App {
    pub versions: Vec<AppVersion>,
    pub preferences: BTreeMap<String, String>,
    pub runs: Vec<Run>,
}

/// What a deploy asks for.
#[derive(Clone, Debug)]
pub(crate) struct Deploy {
    pub artifact: ArtifactRef,
    pub config: Value,
    pub description: String,
}

/// A fresh version id, formatted as a random (version 4) UUID.
pub(crate) fn uuid() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
            .collect()
    };
    let variant = char::from_digit(fastrand::u32(8..12), 16).unwrap_or('8');
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        hex(8),
        hex(4),
        hex(3),
        hex(3),
        hex(12)
    )
}

fn artifact_of(value: &Value, what: &str) -> Result<ArtifactRef, String> {
    serde_json::from_value(value.clone())
        .map_err(|e| format!("{what} is not an artifact {{name, version, scope}}: {e}"))
}

/// The pipeline config of a request: `config`, else `configuration`; an object, or a string
/// holding one.
fn config_of(body: &Map<String, Value>) -> Result<Value, String> {
    let value = body.get("config").or_else(|| body.get("configuration"));
    let config = match value {
        None | Some(Value::Null) => return Err("The app request has no config".to_string()),
        Some(Value::String(text)) => {
            serde_json::from_str(text).map_err(|e| format!("The config string is not JSON: {e}"))?
        }
        Some(other) => other.clone(),
    };
    if !config.is_object() {
        return Err("The config must be a JSON object".to_string());
    }
    Ok(config)
}

impl Deploy {
    /// Reads an AppRequest body; a message naming what is wrong.
    pub fn parse(body: &[u8]) -> Result<Deploy, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("Invalid app request body: {e}"))?;
        let body = value
            .as_object()
            .ok_or("The app request must be a JSON object")?;
        let artifact = match body.get("artifact") {
            None | Some(Value::Null) => {
                return Err("An artifact must be given in the app request".to_string());
            }
            Some(artifact) => artifact_of(artifact, "artifact")?,
        };
        let config = config_of(body)?;
        let description = body
            .get("description")
            .or_else(|| config.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Deploy {
            artifact,
            config,
            description,
        })
    }

    /// Checks the app artifact and every stage's plugin artifact against `available`.
    pub fn check(&self, available: &[ArtifactRef]) -> Result<(), String> {
        let a = &self.artifact;
        if !has(available, a) {
            return Err(format!(
                "Artifact {} version {} in scope {} not found",
                a.name, a.version, a.scope
            ));
        }
        if !APP_ARTIFACTS.contains(&a.name.as_str()) {
            return Err(format!(
                "Artifact {} is not an application artifact",
                a.name
            ));
        }
        for stage in stages(&self.config)? {
            check_stage(stage, available)?;
        }
        Ok(())
    }
}

fn has(available: &[ArtifactRef], wanted: &ArtifactRef) -> bool {
    available.iter().any(|a| {
        a.name == wanted.name
            && a.version == wanted.version
            && a.scope.eq_ignore_ascii_case(&wanted.scope)
    })
}

fn stages(config: &Value) -> Result<&[Value], String> {
    match config.get("stages") {
        None => Ok(&[]),
        Some(Value::Array(stages)) => Ok(stages),
        Some(_) => Err("The config's stages must be an array".to_string()),
    }
}

fn check_stage(stage: &Value, available: &[ArtifactRef]) -> Result<(), String> {
    let name = stage.get("name").and_then(Value::as_str).unwrap_or("?");
    let plugin = stage.get("plugin");
    let plugin_name = plugin.and_then(|p| p.get("name")).and_then(Value::as_str);
    let Some(artifact) = plugin.and_then(|p| p.get("artifact")) else {
        return Ok(());
    };
    let artifact = artifact_of(artifact, &format!("stage {name}'s plugin artifact"))?;
    if has(available, &artifact) {
        return Ok(());
    }
    Err(format!(
        "Plugin {} of stage {name} needs artifact {} version {} in scope {}, which is not found",
        plugin_name.unwrap_or("?"),
        artifact.name,
        artifact.version,
        artifact.scope
    ))
}

fn plugins(config: &Value) -> Vec<Value> {
    let stages = stages(config).unwrap_or_default();
    let plugin = |stage: &Value| {
        let plugin = stage.get("plugin")?;
        Some(json!({
            "id": stage.get("name"),
            "name": plugin.get("name"),
            "type": plugin.get("type"),
            "artifact": plugin.get("artifact"),
        }))
    };
    stages.iter().filter_map(plugin).collect()
}

impl AppVersion {
    fn change(&self) -> Value {
        json!({"author": self.author, "creationTimeMillis": self.created_ms, "latest": true})
    }

    /// The app record of `GET .../apps`.
    pub fn record(&self, name: &str) -> Value {
        json!({
            "type": "App",
            "name": name,
            "appVersion": self.id,
            "description": self.description,
            "artifact": self.artifact,
            "change": self.change(),
        })
    }

    fn programs(&self, name: &str) -> Value {
        let (kind, program) = if self.artifact.name == "cdap-data-streams" {
            ("Spark", "DataStreamsSparkStreaming")
        } else {
            ("Workflow", WORKFLOW)
        };
        json!([{"type": kind, "app": name, "name": program, "description": ""}])
    }

    /// The ApplicationDetail of `GET .../apps/{app}`.
    pub fn detail(&self, name: &str) -> Value {
        json!({
            "name": name,
            "appVersion": self.id,
            "description": self.description,
            "configuration": self.config.to_string(),
            "artifact": self.artifact,
            "datasets": [],
            "programs": self.programs(name),
            "plugins": plugins(&self.config),
            "principal": null,
            "change": self.change(),
            "sourceControlMeta": null,
        })
    }

    /// True when the app has a batch pipeline workflow.
    pub fn has_workflow(&self) -> bool {
        self.artifact.name != "cdap-data-streams"
    }
}

impl App {
    /// The latest version.
    pub fn latest(&self) -> &AppVersion {
        self.versions.last().expect("an app has a version")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline() -> ArtifactRef {
        ArtifactRef::system("cdap-data-pipeline", "6.10.1")
    }

    #[test]
    fn a_request_takes_config_as_an_object_a_string_or_the_configuration_alias() {
        let as_object = br#"{"artifact":{"name":"cdap-data-pipeline","version":"6.10.1","scope":"SYSTEM"},"config":{"stages":[]}}"#;
        let as_string = br#"{"artifact":{"name":"cdap-data-pipeline","version":"6.10.1"},"configuration":"{\"stages\":[]}"}"#;
        for body in [&as_object[..], &as_string[..]] {
            let deploy = Deploy::parse(body).unwrap();
            assert_eq!(deploy.config, json!({"stages": []}));
            assert_eq!(deploy.artifact, pipeline());
        }
        let missing = Deploy::parse(br#"{"config":{}}"#).unwrap_err();
        assert!(missing.contains("artifact"), "{missing}");
    }

    #[test]
    fn unknown_plugin_artifacts_are_named() {
        let config = json!({"stages": [{"name": "src", "plugin": {"name": "GCSFile",
            "artifact": {"name": "google-cloud", "version": "0.9.9", "scope": "SYSTEM"}}}]});
        let deploy = Deploy {
            artifact: pipeline(),
            config,
            description: String::new(),
        };
        let error = deploy.check(&[pipeline()]).unwrap_err();
        assert!(
            error.contains("GCSFile") && error.contains("0.9.9"),
            "{error}"
        );
        let plugin = ArtifactRef::system("google-cloud", "0.9.9");
        assert_eq!(deploy.check(&[pipeline(), plugin]), Ok(()));
    }

    #[test]
    fn version_ids_look_like_uuids() {
        let id = uuid();
        let lengths: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert_ne!(id, uuid());
    }
}
