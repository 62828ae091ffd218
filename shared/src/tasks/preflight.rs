//! `preflight`: validate the refresh input, check both accounts and every named resource, emit the plan.
//!
//! Nothing is written anywhere by this step. It fails before any change when the input is malformed
//! (every problem listed with its field path), when the target is a protected account, when a
//! named table, bucket, Glue job or consumer is missing or does not fit, or when the masking key
//! cannot be read (nothing destructive may start on a key ferry may not read).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::TableDescription;

use crate::aws::{Aws, Session, place};
use crate::config::FunctionConfig;
use crate::contract::{
    Consumer, KeyAttribute, Limits, Plan, PreflightInput, RefreshRequest, TableEngine, TablePlan,
};
use crate::error::{MissingResource, TaskError};

use super::limits;
use super::toggle_streams::marks::leftover_pauses;

/// States of a mapping that is consuming (or about to): these are paused and later resumed.
const CONSUMING_STATES: &[&str] = &["Enabled", "Enabling", "Creating"];

/// Runs preflight: returns the plan or the reason the refresh must not start.
pub async fn preflight(
    aws: &Aws,
    config: &FunctionConfig,
    input: PreflightInput,
) -> Result<Plan, TaskError> {
    let request = RefreshRequest::parse(&input.request)?;
    let session = aws.session(&input.run_id);
    let source_account_id = session.account_id(&request.source).await?;
    let target_account_id = session
        .writable_account(&request.target, &config.protected_accounts)
        .await?;
    refuse_self_copy(&request, &source_account_id, &target_account_id)?;

    let mut checks = Checks {
        session: &session,
        request: &request,
        source_place: place(&request.source, &source_account_id),
        target_place: place(&request.target, &target_account_id),
        missing: Vec::new(),
        mismatches: Vec::new(),
        warnings: Vec::new(),
        target_tables: BTreeMap::new(),
    };
    if let Some(deploy) = &request.deploy_table {
        checks.target_table(&deploy.table).await?;
    }
    let tables = checks.tables().await?;
    checks.glue_jobs().await?;
    checks.buckets().await?;
    let consumers = checks.consumers().await?;
    let Checks {
        missing,
        mismatches,
        warnings,
        ..
    } = checks;
    if !missing.is_empty() {
        return Err(TaskError::NotFound(missing));
    }
    if !mismatches.is_empty() {
        return Err(TaskError::Mismatch(mismatches.join("; ")));
    }
    super::masking_key::ensure_readable(&session, request.masking.as_ref()).await?;
    let leftover = leftover_pauses(&session, &request, &input.run_id, &consumers).await?;

    let pause = consumers
        .iter()
        .filter(|c| CONSUMING_STATES.contains(&c.state.as_str()))
        .map(|c| c.mapping_id.clone())
        .chain(leftover.resume)
        .collect();
    let plan = Plan {
        run_id: input.run_id,
        dry_run: request.dry_run,
        source: request.source,
        source_account_id,
        target: request.target,
        target_account_id,
        deploy_table: request.deploy_table,
        consumers,
        pause,
        leftover: leftover.paused,
        tables,
        buckets: request.buckets,
        masking: request.masking,
        max_polls: request
            .polling
            .deadline_seconds
            .div_ceil(request.polling.interval_seconds),
        max_settle_polls: limits::max_settle_polls(request.polling.interval_seconds),
        max_invocations: limits::max_invocations(request.polling.deadline_seconds),
        max_concurrency: request.concurrency,
        approval: request.approval,
        polling: request.polling,
        warnings: [warnings, leftover.warnings].concat(),
        limits: Limits::default(),
    };
    let input_bytes = serde_json::to_vec(&input.request).map_or(0, |b| b.len() as u64);
    let plan = Plan {
        limits: limits::check(&plan, input_bytes)?,
        ..plan
    };
    tracing::info!(
        run_id = %plan.run_id,
        tables = plan.tables.len(),
        buckets = plan.buckets.len(),
        consumers = plan.consumers.len(),
        pause = plan.pause.len(),
        dry_run = plan.dry_run,
        "preflight passed"
    );
    Ok(plan)
}

/// A table copied onto itself (same account, region and name) would be destroyed by `replace`.
fn refuse_self_copy(
    request: &RefreshRequest,
    source_account: &str,
    target_account: &str,
) -> Result<(), TaskError> {
    if source_account != target_account || request.source.region != request.target.region {
        return Ok(());
    }
    let same: Vec<String> = request
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| t.source == t.target)
        .map(|(i, t)| {
            format!(
                "tables[{i}]: '{}' is both source and target in account {target_account}",
                t.source
            )
        })
        .chain(
            request
                .buckets
                .iter()
                .enumerate()
                .filter(|(_, b)| b.source == b.target)
                .map(|(i, b)| format!("buckets[{i}]: '{}' is both source and target", b.source)),
        )
        .collect();
    if same.is_empty() {
        Ok(())
    } else {
        Err(TaskError::Mismatch(same.join("; ")))
    }
}

/// The resource checks of one preflight, gathering every problem before reporting.
struct Checks<'a> {
    session: &'a Session,
    request: &'a RefreshRequest,
    source_place: String,
    target_place: String,
    missing: Vec<MissingResource>,
    mismatches: Vec<String>,
    warnings: Vec<String>,
    /// Target tables already described (None: missing).
    target_tables: BTreeMap<String, Option<TableDescription>>,
}

impl Checks<'_> {
    fn missing(&mut self, what: &'static str, name: &str, in_target: bool) {
        let place = if in_target {
            self.target_place.clone()
        } else {
            self.source_place.clone()
        };
        self.missing.push(MissingResource {
            what,
            name: name.to_string(),
            place,
        });
    }

    /// Describes a target table once, recording it as missing when absent.
    async fn target_table(&mut self, name: &str) -> Result<Option<TableDescription>, TaskError> {
        if let Some(known) = self.target_tables.get(name) {
            return Ok(known.clone());
        }
        let client = self.session.dynamodb(&self.request.target).await?;
        let description = super::lookup::describe_table(&client, name).await?;
        if description.is_none() {
            self.missing("DynamoDB table", name, true);
        }
        self.target_tables
            .insert(name.to_string(), description.clone());
        Ok(description)
    }

    async fn tables(&mut self) -> Result<Vec<TablePlan>, TaskError> {
        let source_client = self.session.dynamodb(&self.request.source).await?;
        let mut plans = Vec::new();
        for (i, spec) in self.request.tables.iter().enumerate() {
            let source = super::lookup::describe_table(&source_client, &spec.source).await?;
            if source.is_none() {
                self.missing("DynamoDB table", &spec.source, false);
            }
            let target = self.target_table(&spec.target).await?;
            let (Some(source), Some(target)) = (source, target) else {
                continue;
            };
            let source_keys = key_schema(&source);
            if source_keys != key_schema(&target) {
                self.mismatches.push(format!(
                    "tables[{i}]: key schemas differ: source '{}' has {}, target '{}' has {}",
                    spec.source,
                    describe_keys(&source_keys),
                    spec.target,
                    describe_keys(&key_schema(&target))
                ));
                continue;
            }
            plans.push(TablePlan {
                spec: spec.clone(),
                key_schema: source_keys,
                source_item_count: source.item_count.unwrap_or(0),
            });
        }
        Ok(plans)
    }

    async fn glue_jobs(&mut self) -> Result<(), TaskError> {
        let client = self.session.glue(&self.request.source).await?;
        for spec in &self.request.tables {
            let TableEngine::Glue { glue_job } = &spec.engine else {
                continue;
            };
            self.warnings.push(format!(
                "table '{}' is copied by Glue job '{glue_job}': Glue's DynamoDB connector writes string, number and binary sets back as lists (use engine \"scan\" to keep set types)",
                spec.target
            ));
            if let Err(err) = client.get_job().job_name(glue_job).send().await {
                let err = err.into_service_error();
                if err.is_entity_not_found_exception() {
                    self.missing("Glue job", glue_job, false);
                } else {
                    return Err(TaskError::aws("GetJob", glue_job.clone(), err));
                }
            }
        }
        Ok(())
    }

    async fn buckets(&mut self) -> Result<(), TaskError> {
        let source = self.session.s3(&self.request.source).await?;
        let target = self.session.s3(&self.request.target).await?;
        for spec in &self.request.buckets {
            for (client, bucket, in_target) in [
                (&source, &spec.source, false),
                (&target, &spec.target, true),
            ] {
                if let Err(err) = client.head_bucket().bucket(bucket).send().await {
                    let err = err.into_service_error();
                    if err.is_not_found() {
                        self.missing("S3 bucket", bucket, in_target);
                    } else {
                        return Err(TaskError::aws("HeadBucket", bucket.clone(), err));
                    }
                }
            }
        }
        Ok(())
    }

    /// Lists the event source mappings of every selected target stream, filtered to the named consumers.
    async fn consumers(&mut self) -> Result<Vec<Consumer>, TaskError> {
        let stream_tables: Vec<String> = match &self.request.streams.tables {
            Some(tables) => tables.clone(),
            None => self
                .request
                .tables
                .iter()
                .map(|t| t.target.clone())
                .collect(),
        };
        let lambda = self.session.lambda(&self.request.target).await?;
        let mut consumers = Vec::new();
        for table in &stream_tables {
            let Some(description) = self.target_table(table).await? else {
                continue;
            };
            let stream_enabled = description
                .stream_specification
                .as_ref()
                .is_some_and(|s| s.stream_enabled);
            let Some(stream_arn) = description.latest_stream_arn.filter(|_| stream_enabled) else {
                self.warnings.push(format!(
                    "target table '{table}' has no enabled stream: it has no consumers to pause"
                ));
                continue;
            };
            consumers.extend(list_consumers(&lambda, table, &stream_arn).await?);
        }
        match self.request.streams.consumers.clone() {
            None => Ok(consumers),
            Some(named) => {
                self.named_consumers(&lambda, &named, consumers, &stream_tables)
                    .await
            }
        }
    }

    /// Keeps only the named consumers, checking each exists and reads a selected stream.
    async fn named_consumers(
        &mut self,
        lambda: &aws_sdk_lambda::Client,
        named: &[String],
        consumers: Vec<Consumer>,
        stream_tables: &[String],
    ) -> Result<Vec<Consumer>, TaskError> {
        let mut kept = Vec::new();
        for (i, name) in named.iter().enumerate() {
            if let Err(err) = lambda.get_function().function_name(name).send().await {
                let err = err.into_service_error();
                if err.is_resource_not_found_exception() {
                    self.missing("Lambda function", name, true);
                    continue;
                }
                return Err(TaskError::aws("GetFunction", name.clone(), err));
            }
            let wanted = function_name(name);
            let reads: Vec<&Consumer> = consumers
                .iter()
                .filter(|c| function_name(&c.function_arn) == wanted)
                .collect();
            if reads.is_empty() {
                self.mismatches.push(format!(
                    "streams.consumers[{i}]: function '{name}' reads none of the target streams ({})",
                    stream_tables.join(", ")
                ));
            }
            kept.extend(reads.into_iter().cloned());
        }
        Ok(kept)
    }
}

/// Every event source mapping reading `stream_arn`, page by page.
async fn list_consumers(
    lambda: &aws_sdk_lambda::Client,
    table: &str,
    stream_arn: &str,
) -> Result<Vec<Consumer>, TaskError> {
    let mut consumers = Vec::new();
    let mut marker = None;
    loop {
        let page = lambda
            .list_event_source_mappings()
            .event_source_arn(stream_arn)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| {
                TaskError::aws("ListEventSourceMappings", table, e.into_service_error())
            })?;
        for mapping in page.event_source_mappings.unwrap_or_default() {
            if mapping.event_source_arn.as_deref() != Some(stream_arn) {
                continue;
            }
            consumers.push(Consumer {
                state: super::lookup::mapping_state(&mapping).to_string(),
                mapping_id: mapping.uuid.unwrap_or_default(),
                function_arn: mapping.function_arn.unwrap_or_default(),
                table: table.to_string(),
            });
        }
        marker = page.next_marker.filter(|m| !m.is_empty());
        if marker.is_none() {
            return Ok(consumers);
        }
    }
}

/// The function name inside a name, partial ARN or ARN (`arn:aws:lambda:r:a:function:NAME[:alias]`).
fn function_name(name_or_arn: &str) -> &str {
    match name_or_arn.split(':').collect::<Vec<_>>().as_slice() {
        [.., "function", name] | [.., "function", name, _] => name,
        _ => name_or_arn,
    }
}

fn key_schema(table: &TableDescription) -> Vec<KeyAttribute> {
    let kinds: BTreeMap<&str, &str> = table
        .attribute_definitions()
        .iter()
        .map(|d| (d.attribute_name(), d.attribute_type().as_str()))
        .collect();
    table
        .key_schema()
        .iter()
        .map(|k| KeyAttribute {
            name: k.attribute_name().to_string(),
            role: k.key_type().as_str().to_string(),
            kind: kinds.get(k.attribute_name()).unwrap_or(&"?").to_string(),
        })
        .collect()
}

fn describe_keys(keys: &[KeyAttribute]) -> String {
    keys.iter()
        .map(|k| format!("{} {} ({})", k.role, k.name, k.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Environment;

    #[test]
    fn function_names_from_names_and_arns() {
        assert_eq!(function_name("streams_test_blue"), "streams_test_blue");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:222222222222:function:streams_test_blue"),
            "streams_test_blue"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:222222222222:function:streams_test_blue:live"),
            "streams_test_blue"
        );
    }

    fn environment(name: &str) -> Environment {
        Environment {
            name: name.into(),
            role_arn: None,
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn refuses_a_table_copied_onto_itself_in_one_account() {
        let raw = serde_json::json!({
            "source": {"name": "a", "region": "us-east-1"},
            "target": {"name": "b", "region": "us-east-1"},
            "tables": [{"source": "same-table", "target": "same-table"}],
            "masking": {"key_secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:k", "detect_all": true}
        });
        let request = RefreshRequest::parse(&raw).unwrap();
        assert_eq!(request.source, environment("a"));
        let err = refuse_self_copy(&request, "123456789012", "123456789012").unwrap_err();
        assert!(err.to_string().contains("tables[0]: 'same-table'"), "{err}");
        assert!(refuse_self_copy(&request, "111111111111", "123456789012").is_ok());
    }
}
