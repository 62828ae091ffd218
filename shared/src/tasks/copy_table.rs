//! `copy-table`: copy one scan segment of a source table into the target table, masked.
//!
//! The state machine runs every segment in parallel. `replace` mode runs two phases per segment:
//! `clear` deletes the segment's target items, then `copy` writes the masked source items, so the
//! target ends equal to the masked source (masking may change keys, so stale target items cannot be
//! found by key). `merge` runs `copy` only. Each invocation watches its time budget and returns a
//! continuation (the scan's `LastEvaluatedKey` after the last fully written page) when time runs low;
//! puts are idempotent, so a page written twice after a retry leaves the same result.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{TableDescription, WriteRequest};
use futures::{StreamExt, TryStreamExt, stream};

use crate::aws::Aws;
use crate::aws::batch_write::{RetryPolicy, chunk, delete, put, write_batch};
use crate::config::FunctionConfig;
use crate::contract::{
    CopyCounts, CopyMode, CopyPhase, CopyTableInput, CopyTableOutput, TableEngine,
};
use crate::ddb_json::{Item, item_from_json, item_to_json};
use crate::error::TaskError;
use crate::masking::{Masker, load_key};

use super::budget::Budget;
use super::lookup::describe_table;

/// Batch writes in flight at once within one segment.
pub const WRITE_CONCURRENCY: usize = 8;

/// Copies (or clears) one segment until it is done or the budget runs low.
pub async fn copy_table(
    aws: &Aws,
    config: &FunctionConfig,
    input: CopyTableInput,
    budget: Budget,
) -> Result<CopyTableOutput, TaskError> {
    let segments = check_segment(&input)?;
    let session = aws.session(&input.run_id);
    session
        .writable_account(&input.target, &config.protected_accounts)
        .await?;
    let source = session.dynamodb(&input.source).await?;
    let target = session.dynamodb(&input.target).await?;
    let key_names = matching_keys(&source, &target, &input).await?;

    let mut progress = input.progress.clone().unwrap_or_default();
    progress.counts.invocations += 1;
    let start = progress
        .last_evaluated_key
        .as_ref()
        .map(item_from_json)
        .transpose()
        .map_err(|e| TaskError::invalid("progress.last_evaluated_key", e))?;
    let segment = Segment {
        index: input.segment,
        total: segments,
    };
    let run = match input.phase {
        CopyPhase::Clear => {
            let pass = Pass {
                reader: &target,
                read_table: &input.table.target,
                writer: &target,
                write_table: &input.table.target,
                segment,
                projection: Some(&key_names),
            };
            pass.run(start, &mut progress.counts, &budget, |item, _| delete(item))
                .await?
        }
        CopyPhase::Copy => {
            let masker = match &input.masking {
                Some(spec) => Some(Masker::new(
                    &load_key(&session, &spec.key_secret_arn).await?,
                    spec,
                )),
                None => None,
            };
            let pass = Pass {
                reader: &source,
                read_table: &input.table.source,
                writer: &target,
                write_table: &input.table.target,
                segment,
                projection: None,
            };
            pass.run(start, &mut progress.counts, &budget, |mut item, counts| {
                if let Some(masker) = &masker {
                    counts.values_masked += masker.mask_item(&mut item);
                }
                put(item)
            })
            .await?
        }
    };
    progress.last_evaluated_key = run.as_ref().map(item_to_json);
    let done = progress.last_evaluated_key.is_none();
    tracing::info!(
        table = %input.table.target,
        segment = input.segment,
        phase = ?input.phase,
        done,
        read = progress.counts.items_read,
        written = progress.counts.items_written,
        deleted = progress.counts.items_deleted,
        masked = progress.counts.values_masked,
        retries = progress.counts.retries,
        "copy-table invocation finished"
    );
    Ok(CopyTableOutput { done, progress })
}

/// Checks the input's engine, segment and phase; returns the total segment count.
fn check_segment(input: &CopyTableInput) -> Result<u32, TaskError> {
    let TableEngine::Scan { segments } = input.table.engine else {
        return Err(TaskError::invalid(
            "table.engine",
            "copy-table copies tables whose engine is \"scan\"",
        ));
    };
    if input.segment >= segments {
        return Err(TaskError::invalid(
            "segment",
            format!(
                "must be below table.segments ({segments}), found {}",
                input.segment
            ),
        ));
    }
    if input.phase == CopyPhase::Clear && input.table.mode == CopyMode::Merge {
        return Err(TaskError::invalid(
            "phase",
            "\"clear\" deletes target items and is only for mode \"replace\"",
        ));
    }
    Ok(segments)
}

/// Describes both tables and refuses when their key schemas differ; returns the key attribute names.
async fn matching_keys(
    source: &aws_sdk_dynamodb::Client,
    target: &aws_sdk_dynamodb::Client,
    input: &CopyTableInput,
) -> Result<Vec<String>, TaskError> {
    let describe = |client, name: &str| {
        let name = name.to_string();
        async move {
            describe_table(client, &name).await?.ok_or_else(|| {
                TaskError::invalid("table", format!("table '{name}' does not exist"))
            })
        }
    };
    let source_table = describe(source, &input.table.source).await?;
    let target_table = describe(target, &input.table.target).await?;
    let (source_keys, target_keys) = (key_names(&source_table), key_names(&target_table));
    if source_keys != target_keys {
        return Err(TaskError::Mismatch(format!(
            "key schemas differ: '{}' is keyed by {source_keys:?}, '{}' by {target_keys:?}",
            input.table.source, input.table.target
        )));
    }
    Ok(target_keys)
}

fn key_names(table: &TableDescription) -> Vec<String> {
    table
        .key_schema()
        .iter()
        .map(|k| k.attribute_name().to_string())
        .collect()
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    index: u32,
    total: u32,
}

/// One scan-then-write pass over a segment.
struct Pass<'a> {
    reader: &'a aws_sdk_dynamodb::Client,
    read_table: &'a str,
    writer: &'a aws_sdk_dynamodb::Client,
    write_table: &'a str,
    segment: Segment,
    /// Read only these attributes (the key, when clearing).
    projection: Option<&'a [String]>,
}

impl Pass<'_> {
    /// Scans pages from `start`, turns each item into a write request and writes it; the next
    /// page is fetched while the current one is written. Returns the resume key, `None` when done.
    async fn run<F>(
        &self,
        start: Option<Item>,
        counts: &mut CopyCounts,
        budget: &Budget,
        mut to_request: F,
    ) -> Result<Option<Item>, TaskError>
    where
        F: FnMut(Item, &mut CopyCounts) -> WriteRequest,
    {
        let mut page = self.scan(start).await?;
        loop {
            let (items, next_key) = page;
            counts.items_read += items.len() as u64;
            let requests: Vec<WriteRequest> = items
                .into_iter()
                .map(|item| to_request(item, counts))
                .collect();
            let written = requests.len() as u64;
            let more = next_key.is_some() && !budget.exhausted();
            let prefetch = async {
                match (&next_key, more) {
                    (Some(key), true) => self.scan(Some(key.clone())).await.map(Some),
                    _ => Ok(None),
                }
            };
            let (retries, following) = tokio::try_join!(self.write(requests), prefetch)?;
            counts.retries += retries;
            if self.projection.is_some() {
                counts.items_deleted += written;
            } else {
                counts.items_written += written;
            }
            match following {
                Some(next_page) => page = next_page,
                None => return Ok(next_key),
            }
        }
    }

    /// One page of the segment's scan: its items and the key to continue from.
    async fn scan(&self, start: Option<Item>) -> Result<(Vec<Item>, Option<Item>), TaskError> {
        let mut request = self
            .reader
            .scan()
            .table_name(self.read_table)
            .segment(self.segment.index as i32)
            .total_segments(self.segment.total as i32)
            .set_exclusive_start_key(start);
        if let Some(keys) = self.projection {
            let names: HashMap<String, String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("#k{i}"), k.clone()))
                .collect();
            let mut placeholders: Vec<&String> = names.keys().collect();
            placeholders.sort();
            let expression = placeholders
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(",");
            request = request
                .projection_expression(expression)
                .set_expression_attribute_names(Some(names));
        }
        let out = request
            .send()
            .await
            .map_err(|e| TaskError::aws("Scan", self.read_table, e.into_service_error()))?;
        let next = out.last_evaluated_key.filter(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), next))
    }

    /// Writes requests in batches, several in flight; returns the retries spent.
    async fn write(&self, requests: Vec<WriteRequest>) -> Result<u64, TaskError> {
        let policy = RetryPolicy::default();
        stream::iter(chunk(requests))
            .map(|batch| write_batch(self.writer, self.write_table, batch, &policy))
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_fold(0u64, |total, retries| async move { Ok(total + retries) })
            .await
    }
}
