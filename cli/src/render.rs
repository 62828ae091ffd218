//! Plans as people read them: a promotion's changes per entity (`+ create kind/id`, `~ update
//! kind/id` with its field diffs, `- delete kind/id`, what is kept, protected or refused) or per
//! Spark service, and a refresh's tables, buckets and consumers; and what a plan means for the exit
//! code (0 nothing would change, 2 something would, 1 the guards refuse it).

use serde_json::{Value, json};
use shared::contract::{
    ChangeAction, DeclarativePlanOutput, Plan, PlannedChange, PromotePlan, TableEngine, TablePlan,
};
use shared::declarative::{Action, Change};
use shared::numbers::thousands;

use crate::output::{EXIT_CHANGES, EXIT_ERROR, EXIT_OK};
use crate::steps::wire;

/// A plan, whichever machine and platform made it.
#[derive(Debug, Clone, PartialEq)]
pub enum AnyPlan {
    /// A declarative promotion's plan summary (Sesam, Compass, Data Fusion).
    Declarative(Box<DeclarativePlanOutput>),
    /// A Spark promotion's plan.
    Spark(PromotePlan),
    /// A refresh's plan (preflight's output).
    Refresh(Box<Plan>),
}

impl AnyPlan {
    /// The plan `value` holds, if it is one.
    pub fn parse(value: &Value) -> Option<AnyPlan> {
        if let Ok(plan) = serde_json::from_value::<DeclarativePlanOutput>(value.clone()) {
            return Some(AnyPlan::Declarative(Box::new(plan)));
        }
        if let Ok(plan) = serde_json::from_value::<PromotePlan>(value.clone()) {
            return Some(AnyPlan::Spark(plan));
        }
        serde_json::from_value::<Plan>(value.clone())
            .ok()
            .map(|plan| AnyPlan::Refresh(Box::new(plan)))
    }

    /// How many things would change.
    pub fn changes(&self) -> u64 {
        match self {
            AnyPlan::Declarative(plan) => plan.counts.changes(),
            AnyPlan::Spark(plan) => plan.changes.len() as u64,
            AnyPlan::Refresh(plan) => {
                let settings = plan.deploy_table.as_ref().map_or(0, |d| d.settings.len());
                (plan.tables.len() + plan.buckets.len() + settings) as u64
            }
        }
    }

    /// Why the guards refuse it (a run would stop before its first change).
    pub fn refused(&self) -> &[String] {
        match self {
            AnyPlan::Declarative(plan) => &plan.refused,
            _ => &[],
        }
    }

    /// 1 when refused, 2 when something would change, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.refused().is_empty() {
            EXIT_ERROR
        } else if self.changes() > 0 {
            EXIT_CHANGES
        } else {
            EXIT_OK
        }
    }

    /// The plan for people.
    pub fn lines(&self) -> Vec<String> {
        match self {
            AnyPlan::Declarative(plan) => declarative(plan),
            AnyPlan::Spark(plan) => spark(plan),
            AnyPlan::Refresh(plan) => refresh(plan),
        }
    }

    /// The counts for scripts.
    pub fn counts(&self) -> Value {
        match self {
            AnyPlan::Declarative(plan) => json!(plan.counts),
            AnyPlan::Spark(plan) => json!({"services": plan.changes.len()}),
            AnyPlan::Refresh(plan) => json!({
                "tables": plan.tables.len(),
                "buckets": plan.buckets.len(),
                "consumers_paused": plan.pause.len(),
                "deploy_settings": plan.deploy_table.as_ref().map_or(0, |d| d.settings.len()),
            }),
        }
    }

    /// The changes for scripts, as the plan holds them.
    pub fn change_list(&self) -> Vec<Value> {
        match self {
            AnyPlan::Declarative(plan) => plan.changes.iter().map(|c| json!(c)).collect(),
            AnyPlan::Spark(plan) => plan.changes.iter().map(|c| json!(c)).collect(),
            AnyPlan::Refresh(plan) => plan
                .tables
                .iter()
                .map(|t| json!({"table": t.spec.target, "from": t.spec.source, "mode": t.spec.mode}))
                .chain(plan.buckets.iter().map(|b| {
                    json!({"bucket": b.target, "from": b.source, "prefix": b.prefix, "delete": b.delete})
                }))
                .collect(),
        }
    }

    /// Where the whole plan and the rollback source are kept (declarative plans).
    pub fn locations(&self) -> Vec<(&'static str, String)> {
        match self {
            AnyPlan::Declarative(plan) => {
                vec![("plan", plan.plan.clone()), ("before", plan.before.clone())]
            }
            _ => Vec::new(),
        }
    }
}

/// `2 to create, 1 to update, 0 to delete, 12 unchanged` (or `nothing to do, 12 unchanged`).
pub fn declarative_counts(plan: &DeclarativePlanOutput) -> String {
    let c = &plan.counts;
    let mut parts = if c.changes() == 0 {
        vec!["nothing to change".to_string()]
    } else {
        vec![
            format!("{} to create", thousands(c.create)),
            format!("{} to update", thousands(c.update)),
            format!("{} to delete", thousands(c.delete)),
        ]
    };
    parts.push(format!("{} unchanged", thousands(c.unchanged)));
    if c.kept > 0 {
        parts.push(format!("{} kept", thousands(c.kept)));
    }
    if c.protected > 0 {
        parts.push(format!("{} protected", thousands(c.protected)));
    }
    if !plan.refused.is_empty() {
        parts.push("refused".to_string());
    }
    parts.join(", ")
}

fn declarative(plan: &DeclarativePlanOutput) -> Vec<String> {
    let mut lines = vec![format!(
        "{} plan for target '{}' (source: {})",
        plan.platform.as_str(),
        plan.target,
        origin(&plan.source)
    )];
    lines.extend(plan.changes.iter().flat_map(change_lines));
    if plan.more_changes > 0 {
        lines.push(format!(
            "  … {} more change(s) in {}",
            thousands(plan.more_changes),
            plan.plan
        ));
    }
    listed(
        &mut lines,
        "kept (prune is off)",
        &plan.kept,
        plan.counts.kept,
    );
    listed(
        &mut lines,
        "protected",
        &plan.protected,
        plan.counts.protected,
    );
    if !plan.refused.is_empty() {
        lines.push("refused: a run would stop before its first change:".to_string());
        lines.extend(plan.refused.iter().map(|r| format!("  ! {r}")));
    }
    lines.push(declarative_counts(plan));
    lines
}

fn change_lines(change: &Change) -> Vec<String> {
    let sign = match change.action {
        Action::Create => "+",
        Action::Update => "~",
        Action::Delete => "-",
    };
    let mut lines = vec![format!(
        "  {sign} {} {}",
        change.action.as_str(),
        change.key()
    )];
    lines.extend(
        change
            .fields
            .iter()
            .map(|f| format!("      {}", f.describe())),
    );
    lines
}

fn listed(lines: &mut Vec<String>, what: &str, shown: &[String], total: u64) {
    if shown.is_empty() {
        return;
    }
    let more = total.saturating_sub(shown.len() as u64);
    let tail = if more > 0 {
        format!(" and {} more", thousands(more))
    } else {
        String::new()
    };
    lines.push(format!("  {what}: {}{tail}", shown.join(", ")));
}

/// A plan's source for people: `commit 3f2a…, git https://…, ref main` (keys in order).
fn origin(source: &Value) -> String {
    let Some(map) = source.as_object() else {
        return source.to_string();
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .map(|key| match &map[key] {
            Value::String(text) => format!("{key} {text}"),
            other => format!("{key} {other}"),
        })
        .collect();
    if parts.is_empty() {
        "unknown".to_string()
    } else {
        parts.join(", ")
    }
}

fn spark(plan: &PromotePlan) -> Vec<String> {
    let mut lines = vec![format!(
        "spark plan for target '{}' (tenant {})",
        plan.target, plan.tenant
    )];
    lines.extend(plan.changes.iter().map(spark_change));
    lines.push(if plan.changes.is_empty() {
        "nothing to import".to_string()
    } else {
        format!("{} service(s) to import", plan.changes.len())
    });
    lines
}

fn spark_change(change: &PlannedChange) -> String {
    let versions = change.new_versions.join(", ");
    let from = if change.source == change.target {
        String::new()
    } else {
        format!(" ← {}", change.source)
    };
    let (sign, what) = match change.action {
        ChangeAction::Create => ("+", format!("new, versions {versions}")),
        ChangeAction::AddVersion => ("~", format!("adds {versions}")),
        ChangeAction::Replace => ("~", format!("versions replaced by {versions}")),
    };
    let latest = change
        .existing_latest
        .as_ref()
        .map(|l| format!(" (latest now {l})"))
        .unwrap_or_default();
    format!(
        "  {sign} {} {}{from}: {what}{latest}",
        wire(&change.action),
        change.target
    )
}

fn refresh(plan: &Plan) -> Vec<String> {
    let mut lines = vec![format!(
        "refresh plan: {} (account {}) → {} (account {})",
        plan.source.name, plan.source_account_id, plan.target.name, plan.target_account_id
    )];
    if !plan.tables.is_empty() {
        lines.push("  tables:".to_string());
        lines.extend(plan.tables.iter().map(table_line));
    }
    if !plan.buckets.is_empty() {
        lines.push("  buckets:".to_string());
        lines.extend(plan.buckets.iter().map(|b| {
            let prefix = if b.prefix.is_empty() {
                String::new()
            } else {
                format!(" (prefix {})", b.prefix)
            };
            let deletes = if b.delete {
                format!(
                    "deleting what the source lacks, at most {}",
                    thousands(b.max_delete)
                )
            } else {
                "deleting nothing".to_string()
            };
            format!("    ~ sync {} ← {}{prefix}, {deletes}", b.target, b.source)
        }));
    }
    if let Some(deploy) = &plan.deploy_table {
        let settings: Vec<String> = deploy
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={}", json!(v)))
            .collect();
        lines.push(format!(
            "  deploy table {}: {}",
            deploy.table,
            settings.join(", ")
        ));
    }
    consumers(&mut lines, plan);
    lines.extend(plan.warnings.iter().map(|w| format!("  warning: {w}")));
    lines.push(format!(
        "{} table(s) and {} bucket(s) would be refreshed",
        plan.tables.len(),
        plan.buckets.len()
    ));
    lines
}

fn table_line(table: &TablePlan) -> String {
    let how = match &table.spec.engine {
        TableEngine::Scan { segments } => format!("scan in {segments} segment(s)"),
        TableEngine::Glue { glue_job } => format!("glue job {glue_job}"),
    };
    format!(
        "    ~ {} {} ← {}: {how}, about {} item(s)",
        wire(&table.spec.mode),
        table.spec.target,
        table.spec.source,
        thousands(table.source_item_count.max(0) as u64)
    )
}

fn consumers(lines: &mut Vec<String>, plan: &Plan) {
    let paused: Vec<_> = plan
        .consumers
        .iter()
        .filter(|c| plan.pause.contains(&c.mapping_id))
        .collect();
    if !plan.pause.is_empty() {
        lines.push(format!(
            "  consumers paused during the copy: {}",
            plan.pause.len()
        ));
        lines.extend(paused.iter().map(|c| {
            format!(
                "    {} ({} on {}, {})",
                c.mapping_id,
                function_name(&c.function_arn),
                c.table,
                c.state
            )
        }));
    }
    for leftover in &plan.leftover {
        lines.push(format!(
            "  left paused by run {} at {}: {} ({} on {})",
            leftover.paused_by,
            leftover.paused_at,
            leftover.mapping_id,
            function_name(&leftover.function_arn),
            leftover.table
        ));
    }
}

fn function_name(arn: &str) -> &str {
    arn.split_once(":function:")
        .map_or(arn, |(_, rest)| rest.split(':').next().unwrap_or(rest))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use shared::contract::{
        BucketSpec, Concurrency, Consumer, CopyMode, Environment, Limits, Platform, Polling,
        TableSpec, Transfer,
    };
    use shared::declarative::{Entity, Guards, Kinds, State, draft};

    fn entities(kinds: &Kinds, list: &[(&str, &str, Value)]) -> State {
        let (state, _) = State::from_entities(
            kinds,
            list.iter()
                .map(|(kind, id, body)| Entity::new(*kind, *id, body))
                .collect(),
        );
        state
    }

    /// A plan summary as `import-service plan` builds it, from a real draft.
    fn sesam_plan(
        desired: &[(&str, &str, Value)],
        current: &[(&str, &str, Value)],
        guards: Guards,
    ) -> Value {
        let kinds = Kinds::new(&["system", "pipe"]);
        let plan = draft(
            &kinds,
            &entities(&kinds, desired),
            &entities(&kinds, current),
            &guards,
        );
        let output = DeclarativePlanOutput {
            platform: Platform::Sesam,
            target: "prod".to_string(),
            source: json!({"git": "https://git.example.org/acme/config.git", "commit": "3f2a9c1"}),
            nothing_to_do: plan.counts.changes() == 0 && plan.refused.is_empty(),
            refused: plan.refused.clone(),
            counts: plan.counts,
            changes: plan.changes.iter().take(2).cloned().collect(),
            more_changes: plan.changes.len().saturating_sub(2) as u64,
            kept: plan.kept.clone(),
            protected: plan.protected.clone(),
            plan: "s3://artifacts/bundles/sesam/r1/plan.json".to_string(),
            before: "s3://artifacts/bundles/sesam/r1/before/".to_string(),
        };
        serde_json::to_value(output).unwrap()
    }

    fn guards(prune: bool, max_delete: u64) -> Guards {
        Guards {
            protect: vec!["autodeployer".to_string()],
            prune,
            max_delete,
        }
    }

    #[test]
    fn a_declarative_plan_lists_each_change_with_its_fields_and_exits_2() {
        let desired = [
            (
                "system",
                "crm",
                json!({"url": "https://crm.example.org/v2"}),
            ),
            ("pipe", "orders", json!({"source": "crm"})),
            ("pipe", "autodeployer", json!({"x": 2})),
            ("pipe", "same", json!({"a": 1})),
        ];
        let current = [
            (
                "system",
                "crm",
                json!({"url": "https://crm.example.org/v1"}),
            ),
            ("pipe", "autodeployer", json!({"x": 1})),
            ("pipe", "same", json!({"a": 1})),
            ("pipe", "legacy", json!({"a": 1})),
            ("pipe", "old", json!({"a": 1})),
        ];
        let plan = AnyPlan::parse(&sesam_plan(&desired, &current, guards(true, 5))).unwrap();
        let lines = plan.lines();
        assert_eq!(
            lines[0],
            "sesam plan for target 'prod' (source: commit 3f2a9c1, git https://git.example.org/acme/config.git)"
        );
        assert_eq!(lines[1], "  ~ update system/crm");
        assert_eq!(
            lines[2],
            "      /url: \"https://crm.example.org/v1\" → \"https://crm.example.org/v2\""
        );
        assert_eq!(lines[3], "  + create pipe/orders");
        assert_eq!(
            lines[4],
            "  … 2 more change(s) in s3://artifacts/bundles/sesam/r1/plan.json"
        );
        assert_eq!(lines[5], "  protected: pipe/autodeployer");
        assert_eq!(
            lines.last().unwrap(),
            "1 to create, 1 to update, 2 to delete, 1 unchanged, 1 protected"
        );
        assert_eq!(plan.changes(), 4);
        assert_eq!(plan.exit_code(), EXIT_CHANGES);
        assert_eq!(plan.counts()["delete"], json!(2));
        assert_eq!(plan.change_list()[0]["action"], json!("update"));
    }

    #[test]
    fn a_plan_that_changes_nothing_exits_0_and_lists_what_pruning_keeps() {
        let desired = [("pipe", "same", json!({"a": 1}))];
        let current = [
            ("pipe", "same", json!({"a": 1})),
            ("pipe", "extra", json!({})),
        ];
        let plan = AnyPlan::parse(&sesam_plan(&desired, &current, guards(false, 0))).unwrap();
        assert_eq!(plan.exit_code(), EXIT_OK);
        let lines = plan.lines();
        assert!(
            lines.contains(&"  kept (prune is off): pipe/extra".to_string()),
            "{lines:#?}"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("nothing to change, 1 unchanged, 1 kept")
        );
    }

    #[test]
    fn a_refused_plan_exits_1_and_says_why() {
        let desired = [("pipe", "a", json!({}))];
        let current = [
            ("pipe", "a", json!({})),
            ("pipe", "b", json!({})),
            ("pipe", "c", json!({})),
        ];
        let plan = AnyPlan::parse(&sesam_plan(&desired, &current, guards(true, 1))).unwrap();
        assert_eq!(plan.exit_code(), EXIT_ERROR);
        let lines = plan.lines().join("\n");
        assert!(
            lines.contains("refused: a run would stop before its first change:"),
            "{lines}"
        );
        assert!(lines.contains("max_delete"), "{lines}");
    }

    #[test]
    fn a_spark_plan_lists_each_service() {
        let plan = PromotePlan {
            target: "prod".to_string(),
            tenant: "acme".to_string(),
            changes: vec![
                PlannedChange {
                    source: "pricing/quote".to_string(),
                    target: "pricing/quote".to_string(),
                    action: ChangeAction::AddVersion,
                    existing_latest: Some("1.2.0".to_string()),
                    new_versions: vec!["1.3.0".to_string()],
                },
                PlannedChange {
                    source: "lab/rate".to_string(),
                    target: "pricing/rate".to_string(),
                    action: ChangeAction::Create,
                    existing_latest: None,
                    new_versions: vec!["1.0.0".to_string()],
                },
            ],
        };
        let plan = AnyPlan::parse(&serde_json::to_value(&plan).unwrap()).unwrap();
        assert_eq!(
            plan.lines(),
            [
                "spark plan for target 'prod' (tenant acme)",
                "  ~ add_version pricing/quote: adds 1.3.0 (latest now 1.2.0)",
                "  + create pricing/rate ← lab/rate: new, versions 1.0.0",
                "2 service(s) to import",
            ]
        );
        assert_eq!(plan.exit_code(), EXIT_CHANGES);
    }

    pub(crate) fn refresh_plan() -> Plan {
        let env = |name: &str, account: &str| Environment {
            name: name.to_string(),
            role_arn: Some(format!("arn:aws:iam::{account}:role/ferry")),
            region: "us-east-1".to_string(),
        };
        Plan {
            run_id: "refresh-plan-20260501T120000".to_string(),
            dry_run: true,
            source: env("prod", "111111111111"),
            source_account_id: "111111111111".to_string(),
            target: env("test", "222222222222"),
            target_account_id: "222222222222".to_string(),
            deploy_table: None,
            consumers: vec![Consumer {
                mapping_id: "m-1".to_string(),
                function_arn: "arn:aws:lambda:us-east-1:222222222222:function:indexer".to_string(),
                table: "efcms-test-alpha".to_string(),
                state: "Enabled".to_string(),
            }],
            pause: vec!["m-1".to_string()],
            leftover: vec![],
            tables: vec![TablePlan {
                spec: TableSpec {
                    source: "efcms-prod-alpha".to_string(),
                    target: "efcms-test-alpha".to_string(),
                    engine: TableEngine::Scan { segments: 4 },
                    mode: CopyMode::Replace,
                },
                key_schema: vec![],
                source_item_count: 12_345,
            }],
            buckets: vec![BucketSpec {
                source: "prod-documents".to_string(),
                target: "test-documents".to_string(),
                prefix: String::new(),
                delete: true,
                max_delete: 1000,
                concurrency: 32,
                transfer: Transfer::Auto,
            }],
            masking: None,
            polling: Polling::default(),
            max_polls: 720,
            max_settle_polls: 30,
            max_invocations: 26,
            max_concurrency: Concurrency::default(),
            approval: None,
            limits: Limits::default(),
            warnings: vec!["the deploy table has no stream".to_string()],
        }
    }

    #[test]
    fn a_refresh_plan_lists_tables_buckets_and_consumers() {
        let plan = AnyPlan::parse(&serde_json::to_value(refresh_plan()).unwrap()).unwrap();
        assert!(matches!(plan, AnyPlan::Refresh(_)));
        assert_eq!(
            plan.lines(),
            [
                "refresh plan: prod (account 111111111111) → test (account 222222222222)",
                "  tables:",
                "    ~ replace efcms-test-alpha ← efcms-prod-alpha: scan in 4 segment(s), about 12,345 item(s)",
                "  buckets:",
                "    ~ sync test-documents ← prod-documents, deleting what the source lacks, at most 1,000",
                "  consumers paused during the copy: 1",
                "    m-1 (indexer on efcms-test-alpha, Enabled)",
                "  warning: the deploy table has no stream",
                "1 table(s) and 1 bucket(s) would be refreshed",
            ]
        );
        assert_eq!(plan.exit_code(), EXIT_CHANGES);
        assert_eq!(plan.counts()["consumers_paused"], json!(1));
    }

    #[test]
    fn other_documents_are_no_plan() {
        assert_eq!(AnyPlan::parse(&json!({"results": {}})), None);
    }
}
