//! The infrastructure agrees with the code: every function package has its SAM resource, built from
//! the binary of the same name, and every example input is a valid refresh or promote request.

use std::fs;

use ferry_tests::moto::project_root;
use shared::contract::{PromoteRequest, RefreshRequest};

/// `setup-deploy-table` → `SetupDeployTable`.
fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn function_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(project_root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_function_has_a_package_of_its_name_and_a_sam_resource() {
    let root = project_root();
    let template = fs::read_to_string(root.join("template.yaml")).unwrap();
    let workspace = fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let names = function_names();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let manifest =
            fs::read_to_string(root.join("functions").join(&name).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "functions/{name}: package name differs from folder"
        );
        assert!(
            workspace.contains(&format!("\"functions/{name}\"")),
            "functions/{name} is not a workspace member"
        );
        assert!(
            template.contains(&format!("\n  {}Function:\n", pascal(&name))),
            "template.yaml lacks {}Function",
            pascal(&name)
        );
        assert!(
            template.contains(&format!("Binary: {name}\n")),
            "template.yaml does not build binary {name}"
        );
    }
}

#[test]
fn example_inputs_are_valid_refresh_requests() {
    let dir = project_root().join("infra/examples");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("refresh-")
        {
            continue;
        }
        let raw: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        RefreshRequest::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the local and the two-account examples"
    );
}

#[test]
fn example_inputs_are_valid_promote_requests() {
    let dir = project_root().join("infra/examples");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("promote-") {
            continue;
        }
        // The local examples name the simulators' and git server's addresses as placeholders the
        // scripts fill in.
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace("${SPARK_URL}", "http://127.0.0.1:8080")
            .replace("${SESAM_URL}", "http://127.0.0.1:8081")
            .replace("${GIT_URL}", "http://127.0.0.1:8082");
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        let request =
            PromoteRequest::parse(&raw).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for tenant in [&request.source, &request.target]
            .iter()
            .filter_map(|s| s.spark.as_ref())
        {
            assert!(
                tenant.auth_secret_arn.contains(":secret:ferry/spark-"),
                "{name}: {} is outside the template's SparkSecretNamePrefix (ferry/spark-)",
                tenant.auth_secret_arn
            );
        }
        checked += 1;
    }
    assert!(
        checked >= 2,
        "expected the local and the deployment examples"
    );
}

#[test]
fn pascal_case_names() {
    assert_eq!(pascal("setup-deploy-table"), "SetupDeployTable");
    assert_eq!(pascal("preflight"), "Preflight");
}
