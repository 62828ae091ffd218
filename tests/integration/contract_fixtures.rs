//! Golden payloads: one JSON document per step input and output, each parsed into its contract type
//! and written back unchanged. A change that breaks a payload users or state machines depend on
//! breaks one of these.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::contract::{
    CheckStatusInput, JobStatus, Plan, PreflightInput, RefreshRequest, SetupDeployTableInput,
    SetupDeployTableOutput, StartGlueInput, StartGlueOutput, ToggleStreamsInput,
    ToggleStreamsOutput,
};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/contract")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses the fixture as `T` and checks that writing it back gives the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(name: &str) -> T {
    let original = fixture(name);
    let typed: T =
        serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        original,
        "{name} does not round-trip"
    );
    typed
}

#[test]
fn preflight_payloads() {
    let input: PreflightInput = round_trip("preflight.input.json");
    let request = RefreshRequest::parse(&input.request).expect("the fixture request is valid");
    let plan: Plan = round_trip("preflight.output.json");
    assert_eq!(plan.tables.len(), request.tables.len());
    assert_eq!(plan.masking, request.masking);
    // The worst case in the fixture is what preflight computes for it.
    let input_bytes = serde_json::to_vec(&input.request).unwrap().len() as u64;
    let computed = shared::tasks::limits::check(
        &Plan {
            limits: Default::default(),
            ..plan.clone()
        },
        input_bytes,
    )
    .expect("the fixture plan is within the limits");
    assert_eq!(
        plan.limits,
        computed,
        "{}",
        serde_json::to_string(&computed).unwrap()
    );
}

#[test]
fn setup_deploy_table_payloads() {
    round_trip::<SetupDeployTableInput>("setup-deploy-table.input.json");
    round_trip::<SetupDeployTableOutput>("setup-deploy-table.output.json");
}

#[test]
fn toggle_streams_payloads() {
    round_trip::<ToggleStreamsInput>("toggle-streams.input.json");
    let output: ToggleStreamsOutput = round_trip("toggle-streams.output.json");
    let mut listed: Vec<&str> = output
        .reached
        .iter()
        .map(String::as_str)
        .chain(output.pending.iter().map(|n| n.mapping_id.as_str()))
        .chain(output.failed.iter().map(|n| n.mapping_id.as_str()))
        .collect();
    listed.sort_unstable();
    let shared::contract::JobHandle::Mappings { mapping_ids, .. } = &output.job else {
        panic!("a mappings handle")
    };
    let mut asked: Vec<&str> = mapping_ids.iter().map(String::as_str).collect();
    asked.sort_unstable();
    assert_eq!(listed, asked, "every mapping is in exactly one list");
}

#[test]
fn start_glue_payloads() {
    round_trip::<StartGlueInput>("start-glue.input.json");
    round_trip::<StartGlueOutput>("start-glue.output.json");
}

#[test]
fn check_status_payloads() {
    let input: CheckStatusInput = round_trip("check-status.input.json");
    let output: JobStatus = round_trip("check-status.output.json");
    assert!(input.job.describe().contains("ferry-refresh-table"));
    assert_eq!(output.state, shared::contract::JobState::Failed);
}

#[test]
fn unknown_fields_in_step_inputs_are_rejected() {
    let mut input = fixture("toggle-streams.input.json");
    input["mapping_idz"] = serde_json::json!([]);
    let err = serde_json::from_value::<ToggleStreamsInput>(input).unwrap_err();
    assert!(err.to_string().contains("mapping_idz"), "{err}");
}
