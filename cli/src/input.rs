//! Execution inputs: read from a file and validated with ferry's own request parsers before
//! anything is started, so a bad input names every bad field and starts nothing.

use std::path::Path;

use serde_json::Value;
use shared::contract::{PromoteRequest, RefreshRequest};
use shared::error::TaskError;

use crate::error::{CliError, Result};
use crate::machines::Machine;

/// Reads `path` as JSON and validates it as `machine`'s input.
pub fn load(path: &Path, machine: Machine) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::new(
            "invalid_input",
            format!("cannot read the input file {}: {e}", path.display()),
        )
    })?;
    let raw: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::new(
            "invalid_input",
            format!("the input file {} is not JSON: {e}", path.display()),
        )
    })?;
    validate(machine, &raw, &path.display().to_string())?;
    Ok(raw)
}

/// Validates `raw` as `machine`'s input; `origin` names where it came from in the message.
pub fn validate(machine: Machine, raw: &Value, origin: &str) -> Result<()> {
    let checked = match machine {
        Machine::Refresh => RefreshRequest::parse(raw).map(|_| ()),
        Machine::Promote => PromoteRequest::parse(raw).map(|_| ()),
    };
    checked.map_err(|e| invalid(machine, origin, e))
}

/// `raw` with its `dry_run` set.
pub fn with_dry_run(raw: &Value, dry_run: bool) -> Value {
    let mut copy = raw.clone();
    if let Some(map) = copy.as_object_mut() {
        map.insert("dry_run".to_string(), Value::Bool(dry_run));
    }
    copy
}

fn invalid(machine: Machine, origin: &str, error: TaskError) -> CliError {
    let message = match &error {
        TaskError::InvalidInput(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
            format!(
                "{origin} is not a valid {} input ({} problem{}); nothing was started:\n{}",
                machine.name(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" },
                lines.join("\n")
            )
        }
        other => format!(
            "{origin} is not a valid {} input; nothing was started: {other}",
            machine.name()
        ),
    };
    CliError::new("invalid_input", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sesam() -> Value {
        json!({
            "platform": "sesam",
            "source": {"name": "main", "git": {"url": "https://git.example.org/acme/config.git", "ref": "main",
                       "path": "node", "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/git"}},
            "target": {"name": "prod", "sesam": {"url": "https://datahub-1234.sesam.cloud/api",
                       "auth_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ferry/sesam"}},
            "sesam": {"prune": true, "max_delete": 5}
        })
    }

    #[test]
    fn a_valid_promotion_passes_and_dry_run_is_forced() {
        assert_eq!(validate(Machine::Promote, &sesam(), "in.json"), Ok(()));
        let forced = with_dry_run(&sesam(), true);
        assert_eq!(forced["dry_run"], json!(true));
        assert_eq!(validate(Machine::Promote, &forced, "in.json"), Ok(()));
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut raw = sesam();
        raw["target"]["name"] = json!("main");
        raw["sesam"]["max_delete"] = json!("five");
        raw["colour"] = json!("blue");
        let error = validate(Machine::Promote, &raw, "in.json").unwrap_err();
        assert_eq!(error.reason, "invalid_input");
        assert!(
            error
                .message
                .starts_with("in.json is not a valid promote input (3 problems)"),
            "{}",
            error.message
        );
        for field in ["target.name", "sesam.max_delete", "colour"] {
            assert!(
                error.message.contains(&format!("\n  {field}")),
                "{field}: {}",
                error.message
            );
        }
        assert!(error.message.contains("nothing was started"));
    }

    #[test]
    fn a_promotion_is_not_a_refresh() {
        let error = validate(Machine::Refresh, &sesam(), "in.json").unwrap_err();
        assert!(error.message.contains("not a valid refresh input"));
        assert!(error.message.contains("platform"), "{}", error.message);
    }

    #[test]
    fn unreadable_or_malformed_files_are_refused() {
        let dir = std::env::temp_dir().join(format!("ferry-cli-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.json");
        std::fs::write(&path, "{ not json").unwrap();
        assert!(
            load(&path, Machine::Promote)
                .unwrap_err()
                .message
                .contains("is not JSON")
        );
        let missing = load(&dir.join("missing.json"), Machine::Promote).unwrap_err();
        assert!(missing.message.contains("cannot read the input file"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
