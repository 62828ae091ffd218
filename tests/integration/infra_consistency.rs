//! The infrastructure agrees with the code: every function package has its SAM resource, built from
//! the binary of the same name, and every example input is a valid refresh or promote request. Its
//! defaults are safe: the protected accounts must be named, and each role reaches only what its
//! function needs (sync-bucket never writes the artifact bucket, copy-table writes only target
//! tables, reads follow the same patterns, no managed Glue policy in production). Notifications are
//! off unless an address is given, only their rule may publish to their topic, and every kind of
//! ferry event reads as one line there.

use std::fs;

use ferry_tests::moto::project_root;
use ferry_tests::template::{
    action_matches, actions, all_role_statements, load, pattern_accepts, resources, role_statements,
};
use serde_json::Value;
use shared::config::PROTECTED_ACCOUNTS_VAR;
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
        // `sam build` runs the Makefile's build-<LogicalId>, which copies the binary the logical
        // id names.
        assert!(
            template.contains(&format!(
                "\n  {}Function:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: makefile\n",
                pascal(&name)
            )),
            "template.yaml does not build {}Function with the Makefile",
            pascal(&name)
        );
    }
    let makefile = fs::read_to_string(root.join("Makefile")).unwrap();
    assert!(makefile.contains("\nbuild-%Function: lambda-release\n"));
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
            .replace("${GIT_URL}", "http://127.0.0.1:8082")
            .replace("${OC_URL}", "http://127.0.0.1:8083/elements/api-v2")
            .replace("${DIRECTOR_URL}", "http://127.0.0.1:8084")
            .replace("${CDAP_URL}", "http://127.0.0.1:8085");
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

/// A parameter of `template`.
fn parameter<'a>(template: &'a Value, name: &str) -> &'a Value {
    let parameter = &template["Parameters"][name];
    assert!(parameter.is_object(), "no parameter {name}");
    parameter
}

#[test]
fn the_protected_accounts_must_be_named_or_said_to_be_none() {
    let template = load("template.yaml");
    let accounts = parameter(&template, "ProtectedAccountIds");
    assert_eq!(
        accounts.get("Default"),
        None,
        "ProtectedAccountIds must have no default"
    );
    let pattern = accounts["AllowedPattern"].as_str().unwrap();
    for refused in [
        "",
        " ",
        "prod",
        "111111111111,",
        "111111111111, 222222222222",
    ] {
        assert!(!pattern_accepts(pattern, refused), "{refused:?} accepted");
    }
    for accepted in ["none", "111111111111", "111111111111,333333333333"] {
        assert!(pattern_accepts(pattern, accepted), "{accepted:?} refused");
    }
    let env = &template["Globals"]["Function"]["Environment"]["Variables"][PROTECTED_ACCOUNTS_VAR];
    assert_eq!(env["Ref"], "ProtectedAccountIds", "every function gets it");
}

#[test]
fn sync_bucket_can_never_write_the_artifact_bucket_but_its_lease() {
    use shared::aws::objects::{ARTIFACT_PREFIXES, WRITERS_PREFIX};
    let template = load("template.yaml");
    let statements = role_statements(&template, "SyncBucketRole");
    let denied = |action: &str, resource: &str| {
        statements.iter().any(|s| {
            s["Effect"] == "Deny"
                && actions(s).iter().any(|p| action_matches(p, action))
                && resources(s).iter().any(|r| r == resource)
        })
    };
    let writes: Vec<String> = statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(actions)
        .filter(|a| {
            ["s3:Put*", "s3:Delete*", "s3:AbortMultipartUpload"]
                .iter()
                .any(|w| action_matches(w, a))
        })
        .collect();
    assert!(!writes.is_empty(), "sync-bucket writes target objects");
    for prefix in ARTIFACT_PREFIXES.iter().filter(|p| **p != WRITERS_PREFIX) {
        let objects = format!("${{ArtifactBucket.Arn}}/{prefix}*");
        for action in writes.iter().map(String::as_str).chain(["s3:PutObject"]) {
            assert!(
                denied(action, &objects),
                "SyncBucketRole may {action} on {objects}"
            );
        }
    }
    assert!(denied("s3:PutBucketPolicy", "${ArtifactBucket.Arn}"));
}

#[test]
fn every_writer_holds_a_lease_and_reads_the_stop_signal_and_stop_writers_raises_it() {
    let template = load("template.yaml");
    let lease = "${ArtifactBucket.Arn}/writers/*/live/*";
    let signal = "${ArtifactBucket.Arn}/writers/*/stop.json";
    let allowed = |role: &str, action: &str, resource: &str| {
        role_statements(&template, role).iter().any(|s| {
            s["Effect"] == "Allow"
                && actions(s).iter().any(|p| action_matches(p, action))
                && resources(s).iter().any(|r| r == resource)
        })
    };
    for role in ["CopyTableRole", "SyncBucketRole", "StartGlueRole"] {
        assert!(
            allowed(role, "s3:PutObject", lease),
            "{role} puts its lease"
        );
        assert!(
            allowed(role, "s3:DeleteObject", lease),
            "{role} deletes its lease"
        );
        assert!(
            allowed(role, "s3:GetObject", signal),
            "{role} reads the signal"
        );
        assert!(
            !allowed(role, "s3:PutObject", signal),
            "{role} may raise the signal"
        );
    }
    assert!(allowed("StopWritersRole", "s3:PutObject", signal));
    assert!(allowed("StopWritersRole", "s3:GetObject", lease));
    assert!(!allowed("StopWritersRole", "s3:DeleteObject", lease));
}

#[test]
fn copy_table_writes_only_tables_of_the_target_pattern() {
    let template = load("template.yaml");
    let target = parameter(&template, "TargetTableNamePattern");
    assert_eq!(
        target.get("Default"),
        None,
        "the deployment names the pattern"
    );
    let writing: Vec<Value> = role_statements(&template, "CopyTableRole")
        .into_iter()
        .filter(|s| {
            actions(s).iter().any(|a| {
                [
                    "dynamodb:*Write*",
                    "dynamodb:Put*",
                    "dynamodb:Delete*",
                    "dynamodb:Update*",
                ]
                .iter()
                .any(|w| action_matches(w, a))
            })
        })
        .collect();
    assert!(!writing.is_empty());
    for statement in &writing {
        for resource in resources(statement) {
            assert!(
                resource.ends_with(":table/${TargetTableNamePattern}"),
                "copy-table writes {resource}"
            );
        }
    }
}

#[test]
fn preflight_reads_follow_the_name_patterns() {
    let template = load("template.yaml");
    let statements = role_statements(&template, "PreflightRole");
    let patterns = [
        "${SourceTableNamePattern}",
        "${TargetTableNamePattern}",
        "${DeployTableNamePattern}",
        "${BucketNamePattern}",
    ];
    for statement in &statements {
        for action in actions(statement) {
            if !(action.starts_with("dynamodb:") || action.starts_with("s3:")) {
                continue;
            }
            for resource in resources(statement) {
                assert!(
                    patterns.iter().any(|p| resource.ends_with(p)),
                    "preflight may {action} on {resource}"
                );
            }
        }
    }
}

#[test]
fn get_function_is_scoped_to_an_account_everywhere() {
    let mut checked = 0;
    for path in [
        "template.yaml",
        "infra/accounts/target-role.yaml",
        "infra/accounts/source-role.yaml",
    ] {
        for (role, statement) in all_role_statements(&load(path)) {
            if !actions(&statement)
                .iter()
                .any(|a| action_matches(a, "lambda:GetFunction"))
            {
                continue;
            }
            for resource in resources(&statement) {
                assert!(
                    resource.contains(":${AWS::AccountId}:function:"),
                    "{path} {role}: lambda:GetFunction on {resource}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "preflight and the target role look consumers up"
    );
}

#[test]
fn the_glue_job_role_in_production_has_a_policy_of_its_own() {
    let template = load("infra/glue/source-account.yaml");
    let role = &template["Resources"]["JobRole"]["Properties"];
    assert_eq!(role.get("ManagedPolicyArns"), None, "no managed policy");
    let text = fs::read_to_string(project_root().join("infra/glue/source-account.yaml")).unwrap();
    assert!(!text.contains("policy/service-role/AWSGlueServiceRole"));
    let granted: Vec<String> = role_statements(&template, "JobRole")
        .iter()
        .flat_map(actions)
        .collect();
    for needed in [
        "dynamodb:Scan",
        "secretsmanager:GetSecretValue",
        "s3:GetObject",
        "logs:PutLogEvents",
    ] {
        assert!(
            granted.iter().any(|a| a == needed),
            "the job needs {needed}"
        );
    }
}

#[test]
fn pascal_case_names() {
    assert_eq!(pascal("setup-deploy-table"), "SetupDeployTable");
    assert_eq!(pascal("preflight"), "Preflight");
}

/// Every state of a definition, with nested Parallel branches and Map processors.
fn states(machine: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    for (name, state) in machine["States"].as_object().unwrap() {
        found.push((name.clone(), state.clone()));
        for branch in state["Branches"].as_array().into_iter().flatten() {
            found.extend(states(branch));
        }
        if state.get("ItemProcessor").is_some() {
            found.extend(states(&state["ItemProcessor"]));
        }
    }
    found
}

fn definitions() -> Vec<(String, Value)> {
    let dir = project_root().join("infra/statemachines");
    let mut found: Vec<(String, Value)> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".asl.json"))
        .map(|p| {
            let text = fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

#[test]
fn the_limit_arithmetic_matches_the_refresh_machines() {
    use shared::tasks::limits::{CHILD_RETRIES, GLUE_CHECK_RETRIES, LAMBDA_RETRIES};
    let mut seen = 0;
    for (file, definition) in definitions()
        .into_iter()
        .filter(|(f, _)| f.starts_with("refresh"))
    {
        for (name, state) in states(&definition) {
            if state["Type"] != "Task" {
                continue;
            }
            let resource = state["Resource"].as_str().unwrap();
            let expected = if resource.contains("startExecution.sync") {
                CHILD_RETRIES
            } else if name == "CheckGlue" {
                GLUE_CHECK_RETRIES
            } else {
                LAMBDA_RETRIES
            };
            let most = state["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r["MaxAttempts"].as_u64().unwrap_or(3))
                .sum::<u64>();
            assert!(
                most <= expected,
                "{file} {name}: retries up to {most} times, the arithmetic counts {expected}"
            );
            seen += 1;
        }
    }
    assert!(seen >= 10, "{seen} tasks");
    // The loops the arithmetic bounds are bounded by the plan's fields of the same name.
    let all = serde_json::to_string(&definitions()).unwrap();
    for bound in [
        "$.max_invocations",
        "$.max_polls",
        "$.plan.max_settle_polls",
        "$.plan.max_concurrency.tables",
        "$.plan.max_concurrency.buckets",
        "$.max_concurrency",
    ] {
        assert!(all.contains(bound), "no state reads {bound}");
    }
}

#[test]
fn every_format_has_as_many_arguments_as_placeholders() {
    let mut checked = 0;
    for (file, definition) in definitions() {
        let text = serde_json::to_string(&definition).unwrap();
        for call in text.split("States.Format(").skip(1) {
            let call = call.replace("\\'", "");
            let template_end = call[1..].find('\'').unwrap() + 1;
            let placeholders = call[1..template_end].matches("{}").count();
            let rest = &call[template_end + 1..];
            let args = rest[..rest.find(')').unwrap()].matches("$.").count();
            assert_eq!(placeholders, args, "{file}: States.Format({call}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} formats");
}

#[test]
fn every_schedule_input_is_a_valid_request_for_its_state_machine() {
    let template = load("template.yaml");
    let resources = template["Resources"].as_object().unwrap();
    let mut seen = Vec::new();
    for (name, resource) in resources {
        let Some(events) = resource["Properties"]["Events"].as_object() else {
            continue;
        };
        for (event, spec) in events {
            let input = spec["Properties"]["Input"].as_str().unwrap();
            let raw: Value = serde_json::from_str(input)
                .unwrap_or_else(|e| panic!("{name}.{event}: input is not JSON: {e}"));
            let parsed = if name.contains("Promote") {
                PromoteRequest::parse(&raw).map(drop)
            } else {
                RefreshRequest::parse(&raw).map(drop)
            };
            assert!(parsed.is_ok(), "{name}.{event}: {parsed:?}");
            seen.push(event.clone());
        }
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "CompassReconcile",
            "HourlySesamDrift",
            "MonthlyRefreshSchedule"
        ]
    );
}

/// The resources `NotificationEmail` turns on, with their condition checked: none exists without
/// an address.
fn notification_resources(template: &Value) -> (&Value, &Value) {
    let email = parameter(template, "NotificationEmail");
    assert_eq!(email["Default"], "", "notifications are off by default");
    let pattern = email["AllowedPattern"].as_str().unwrap();
    assert!(pattern_accepts(pattern, ""));
    assert!(pattern_accepts(pattern, "ferry-ops@example.org"));
    for refused in [
        "ops",
        "ops@example",
        "a b@example.org",
        "a@example.org,b@example.org",
    ] {
        assert!(!pattern_accepts(pattern, refused), "{refused:?} accepted");
    }
    let resources = &template["Resources"];
    for name in [
        "NotificationTopic",
        "NotificationTopicPolicy",
        "NotificationRule",
    ] {
        assert_eq!(
            resources[name]["Condition"], "HasNotificationEmail",
            "{name} must exist only with a NotificationEmail"
        );
    }
    assert_eq!(
        template["Outputs"]["NotificationTopicArn"]["Condition"],
        "HasNotificationEmail"
    );
    (
        &resources["NotificationTopicPolicy"],
        &resources["NotificationRule"],
    )
}

#[test]
fn only_the_ferry_events_rule_may_publish_to_the_notification_topic() {
    use shared::tasks::report::{DRIFT_EVENT, EVENT_SOURCE};
    let template = load("template.yaml");
    let (policy, rule) = notification_resources(&template);
    let statements = policy["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert!(!statements.is_empty());
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(
            statement["Principal"],
            serde_json::json!({"Service": "events.amazonaws.com"})
        );
        assert_eq!(actions(statement), ["sns:Publish"]);
        assert_eq!(
            statement["Condition"]["ArnEquals"]["aws:SourceArn"],
            serde_json::json!({"Fn::GetAtt": ["NotificationRule", "Arn"]}),
            "publishing must be scoped to the rule"
        );
    }
    let properties = &rule["Properties"];
    assert_eq!(properties["EventBusName"], "default", "report sends there");
    let pattern = &properties["EventPattern"];
    assert_eq!(pattern["source"], serde_json::json!([EVENT_SOURCE]));
    let prefix = pattern["detail-type"][0]["prefix"].as_str().unwrap();
    for detail_type in [
        "ferry.refresh",
        "ferry.promote",
        DRIFT_EVENT,
        "ferry.approval",
    ] {
        assert!(detail_type.starts_with(prefix), "{detail_type} not matched");
    }
    let targets = properties["Targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0]["Arn"],
        serde_json::json!({"Ref": "NotificationTopic"})
    );
}

/// What EventBridge makes of a string `InputTemplate` for `event`: every `<name>` replaced by
/// the value its `InputPathsMap` path (dot notation) finds, strings inserted as they are, a path
/// the event lacks by nothing; the result read as the JSON string the target receives.
fn transformed(template: &str, paths: &Value, event: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>').expect("a placeholder is closed");
        let name = &rest[open + 1..close];
        let path = paths[name]
            .as_str()
            .unwrap_or_else(|| panic!("<{name}> is not in InputPathsMap"));
        let pointer = path.strip_prefix("$.").unwrap().replace('.', "/");
        out.push_str(&rest[..open]);
        match event.pointer(&format!("/{pointer}")) {
            Some(Value::String(text)) => out.push_str(text),
            Some(other) => out.push_str(&other.to_string()),
            None => {}
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not a JSON string: {out}: {e}"))
}

#[test]
fn every_ferry_event_reads_as_one_line_in_a_notification() {
    let template = load("template.yaml");
    let (_, rule) = notification_resources(&template);
    let transformer = &rule["Properties"]["Targets"][0]["InputTransformer"];
    let input = transformer["InputTemplate"].as_str().unwrap();
    let paths = &transformer["InputPathsMap"];
    let event = |detail_type: &str, detail: Value| {
        serde_json::json!({"source": "ferry", "detail-type": detail_type,
            "account": "333333333333", "region": "us-east-1", "detail": detail})
    };
    let manifest = "s3://ferry-artifacts/runs/promote/r-7/manifest.json";
    let plan = "s3://ferry-artifacts/bundles/sesam/r-7/plan.json";
    let cases = [
        (
            event(
                "ferry.promote",
                serde_json::json!({"run_id": "r-7", "outcome": "SUCCEEDED", "manifest": manifest,
                    "counts": {"create": 2}, "error": null, "warnings": []}),
            ),
            format!("ferry.promote run r-7 SUCCEEDED in 333333333333 us-east-1: {manifest}  "),
        ),
        (
            event(
                "ferry.drift",
                serde_json::json!({"run_id": "r-7", "platform": "sesam", "plan": plan,
                    "manifest": manifest, "changes": [{"action": "update"}]}),
            ),
            format!("ferry.drift run r-7  in 333333333333 us-east-1: {manifest} {plan} "),
        ),
        (
            event(
                "ferry.approval",
                serde_json::json!({"run_id": "r-7", "outcome": "AWAITING_APPROVAL",
                    "manifest": manifest, "plan": plan, "approve": "ferry approve r-7",
                    "reject": "ferry reject r-7 --reason <why>", "counts": {"create": 2}}),
            ),
            format!(
                "ferry.approval run r-7 AWAITING_APPROVAL in 333333333333 us-east-1: {manifest} {plan} ferry approve r-7"
            ),
        ),
    ];
    for (event, line) in cases {
        let text = transformed(input, paths, &event);
        assert_eq!(text, line);
        assert!(!text.contains('\n'), "one line: {text}");
    }
}
