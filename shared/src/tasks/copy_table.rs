//! `copy-table`: copy one scan segment of a source table into the target table, masked.
//!
//! The state machine runs every segment in parallel. `replace` mode runs two phases per segment:
//! `clear` deletes the segment's target items, then `copy` writes the masked source items, so the
//! target ends equal to the masked source (masking may change keys, so stale target items cannot be
//! found by key). `merge` runs `copy` only. Each invocation watches its time budget and returns a
//! continuation when time runs low: it times every page (read and masked writes, retries included)
//! and reads another only while [`SAFETY_FACTOR`] times the longest page so far fits in the budget
//! left, so a throttled page cannot run it past its timeout. Puts are idempotent, so a page
//! written twice after a retry leaves the same result.
//!
//! [`SAFETY_FACTOR`]: crate::tasks::budget::SAFETY_FACTOR
//!
//! **Preconditions first.** Both phases read the masking key before anything is read or deleted:
//! a key ferry may not read fails the step with the target untouched.
//!
//! **No production value leaves the step.** The continuation is the scan's `LastEvaluatedKey`,
//! which holds source key values (`user-email|alice@…`); it leaves sealed (AES-256-GCM under a key
//! derived from the masking key, bound to this run, table, phase and segment), so execution history,
//! outputs and logs never hold it. Errors and collision reports name target keys, which are masked.
//!
//! **Masked-key collisions.** Masking lower-cases addresses, so source keys that differ only in case
//! (`user-email|Alice@x`, `user-email|alice@x`) become one target key. Items whose target key holds
//! a masked address are watched: within an invocation by the hashes of the keys it wrote, so no
//! batch ever holds one key twice (DynamoDB would refuse the whole batch on every re-run); and in
//! `replace` mode, across segments and invocations, by a conditional put: the target was cleared,
//! so a key already there was written by this run, and when the item there differs, another source
//! item claimed the key first. The first item keeps the key; a later one is not written, counted in
//! `key_collisions`, and its masked key listed in `collided_keys`. In `merge` mode a key already in
//! the target may be an earlier run's copy of the same item, so only collisions within one
//! invocation are detected there.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::time::Instant;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValuesOnConditionCheckFailure, TableDescription, WriteRequest,
};
use futures::{StreamExt, TryStreamExt, stream};

use crate::aws::Aws;
use crate::aws::batch_write::{RetryPolicy, chunk, delete, describe_attributes, put, write_batch};
use crate::config::FunctionConfig;
use crate::contract::{
    CopyCounts, CopyMode, CopyPhase, CopyTableInput, CopyTableOutput, MaskingSpec, TableEngine,
};
use crate::ddb_json::{Item, canonical, item_to_json};
use crate::error::TaskError;
use crate::masking::Masker;

use super::budget::{Budget, Pace};
use super::continuation::Sealer;
use super::lookup::describe_table;
use super::masking_key::load_key;

/// Batch writes in flight at once within one segment.
pub const WRITE_CONCURRENCY: usize = 8;
/// Conditional puts in flight at once within one segment (masked keys in `replace` mode).
pub const GUARDED_CONCURRENCY: usize = 32;
/// Most bytes the JSON list `counts.collided_keys` of one segment's phase takes.
pub const COLLIDED_KEYS_BYTES: usize = 256;
/// The payload field holding the sealed continuation, named in errors.
const CONTINUATION_FIELD: &str = "progress.continuation";

/// What an invocation writes, as its lease names it (`tasks::writers`).
pub fn lease_name(input: &CopyTableInput) -> String {
    let phase = match input.phase {
        CopyPhase::Clear => "clear",
        CopyPhase::Copy => "copy",
    };
    format!(
        "table {} segment {} {phase}",
        input.table.target, input.segment
    )
}

/// Copies (or clears) one segment until it is done or the budget runs low.
pub async fn copy_table(
    aws: &Aws,
    config: &FunctionConfig,
    input: CopyTableInput,
    budget: Budget,
) -> Result<CopyTableOutput, TaskError> {
    let segments = check_segment(&input)?;
    let spec = required_masking(&input)?;
    let session = aws.session(&input.run_id);
    session
        .writable_account(&input.target, &config.protected_accounts)
        .await?;
    let key = load_key(&session, &spec.key_secret_arn).await?;
    let sealer = Sealer::new(&key, binding(&input, segments), CONTINUATION_FIELD)?;
    let source = session.dynamodb(&input.source).await?;
    let target = session.dynamodb(&input.target).await?;
    let key_names = matching_keys(&source, &target, &input).await?;

    let mut progress = input.progress.clone().unwrap_or_default();
    progress.counts.invocations += 1;
    let start = progress
        .continuation
        .as_deref()
        .map(|token| sealer.open(token))
        .transpose()?;
    let segment = Segment {
        index: input.segment,
        total: segments,
    };
    let next = match input.phase {
        CopyPhase::Clear => {
            let pass = Pass {
                reader: &target,
                read_table: &input.table.target,
                writer: &target,
                write_table: &input.table.target,
                segment,
                keys: &key_names,
                keys_only: true,
            };
            pass.run(start, &mut progress.counts, &budget, |items, _| {
                PageWrites {
                    batch: items.into_iter().map(delete).collect(),
                    guarded: Vec::new(),
                }
            })
            .await?
        }
        CopyPhase::Copy => {
            let mut copier = Copier {
                masker: Masker::new(&key, spec),
                keys: &key_names,
                guard_in_target: input.table.mode == CopyMode::Replace,
                seen: HashSet::new(),
            };
            let pass = Pass {
                reader: &source,
                read_table: &input.table.source,
                writer: &target,
                write_table: &input.table.target,
                segment,
                keys: &key_names,
                keys_only: false,
            };
            pass.run(start, &mut progress.counts, &budget, |items, counts| {
                copier.page(items, counts)
            })
            .await?
        }
    };
    progress.continuation = next.as_ref().map(|k| sealer.seal(k)).transpose()?;
    let done = progress.continuation.is_none();
    tracing::info!(
        table = %input.table.target,
        segment = input.segment,
        phase = ?input.phase,
        done,
        read = progress.counts.items_read,
        written = progress.counts.items_written,
        deleted = progress.counts.items_deleted,
        masked = progress.counts.values_masked,
        collisions = progress.counts.key_collisions,
        retries = progress.counts.retries,
        "copy-table invocation finished"
    );
    Ok(CopyTableOutput { done, progress })
}

/// The masking rules, which every copy-table call needs: its key is the first thing read, and it
/// seals the continuations.
fn required_masking(input: &CopyTableInput) -> Result<&MaskingSpec, TaskError> {
    input.masking.as_ref().ok_or_else(|| {
        TaskError::invalid(
            "masking",
            "is required: copy-table never copies unmasked, and seals its continuations with a key derived from the masking key",
        )
    })
}

/// What a continuation belongs to: the run, both tables, the phase, and the segment of how many.
fn binding(input: &CopyTableInput, segments: u32) -> String {
    let phase = match input.phase {
        CopyPhase::Clear => "clear",
        CopyPhase::Copy => "copy",
    };
    format!(
        "{}\n{}\n{}\n{phase}\n{}/{segments}",
        input.run_id, input.table.source, input.table.target, input.segment
    )
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

/// The writes one page turns into.
#[derive(Debug, Default)]
struct PageWrites {
    /// Written in batches.
    batch: Vec<WriteRequest>,
    /// Put one by one, only where their key is free (masked keys in `replace` mode).
    guarded: Vec<Item>,
}

/// What writing one page did.
#[derive(Debug, Default)]
struct Written {
    /// Batch requests retried.
    retries: u64,
    /// Items written (or deleted).
    items: u64,
    /// Guarded items not written: another item holds their key.
    taken: Vec<Item>,
}

/// Masks the source items of a page and routes each to its write, watching masked keys.
struct Copier<'a> {
    masker: Masker,
    keys: &'a [String],
    /// Put masked keys only where they are free in the target (`replace` mode).
    guard_in_target: bool,
    /// Hashes of the masked target keys this invocation wrote.
    seen: HashSet<u64>,
}

impl Copier<'_> {
    fn page(&mut self, items: Vec<Item>, counts: &mut CopyCounts) -> PageWrites {
        let mut writes = PageWrites::default();
        for mut item in items {
            counts.values_masked += self.masker.mask_item(&mut item);
            if !self.has_masked_key(&item) {
                writes.batch.push(put(item));
            } else if !self.seen.insert(key_hash(&item, self.keys)) {
                record_collision(counts, &item, self.keys);
            } else if self.guard_in_target {
                writes.guarded.push(item);
            } else {
                writes.batch.push(put(item));
            }
        }
        writes
    }

    /// Whether a key attribute of the masked item holds a masked address.
    fn has_masked_key(&self, item: &Item) -> bool {
        self.keys
            .iter()
            .filter_map(|name| item.get(name))
            .any(|value| matches!(value, AttributeValue::S(s) if self.masker.holds_masked(s)))
    }
}

/// A hash of the item's key attributes.
fn key_hash(item: &Item, keys: &[String]) -> u64 {
    let key: Item = keys
        .iter()
        .filter_map(|name| item.get(name).map(|v| (name.clone(), v.clone())))
        .collect();
    let mut hasher = DefaultHasher::new();
    canonical(&item_to_json(&key)).hash(&mut hasher);
    hasher.finish()
}

/// Counts an item that lost its target key to another, listing the (masked) key while the list
/// stays within [`COLLIDED_KEYS_BYTES`].
fn record_collision(counts: &mut CopyCounts, item: &Item, keys: &[String]) {
    counts.key_collisions += 1;
    let names: Vec<&str> = keys.iter().map(String::as_str).collect();
    let key = describe_attributes(item, &names);
    if counts.collided_keys.contains(&key) {
        return;
    }
    counts.collided_keys.push(key);
    let bytes = serde_json::to_vec(&counts.collided_keys).map_or(usize::MAX, |b| b.len());
    if bytes > COLLIDED_KEYS_BYTES {
        counts.collided_keys.pop();
    }
}

/// Whether the item the target holds is `item` (set elements in any order).
fn same_item(held: &Item, item: &Item) -> bool {
    held.len() == item.len()
        && item
            .iter()
            .all(|(name, value)| held.get(name).is_some_and(|h| same_value(h, value)))
}

fn same_value(a: &AttributeValue, b: &AttributeValue) -> bool {
    fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
        let mut v = v.to_vec();
        v.sort();
        v
    }
    match (a, b) {
        (AttributeValue::Ss(x), AttributeValue::Ss(y))
        | (AttributeValue::Ns(x), AttributeValue::Ns(y)) => sorted(x) == sorted(y),
        (AttributeValue::Bs(x), AttributeValue::Bs(y)) => {
            let bytes = |v: &[aws_sdk_dynamodb::primitives::Blob]| {
                sorted(&v.iter().map(|b| b.as_ref().to_vec()).collect::<Vec<_>>())
            };
            bytes(x) == bytes(y)
        }
        (AttributeValue::L(x), AttributeValue::L(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (AttributeValue::M(x), AttributeValue::M(y)) => same_item(x, y),
        _ => a == b,
    }
}

/// One scan-then-write pass over a segment.
struct Pass<'a> {
    reader: &'a aws_sdk_dynamodb::Client,
    read_table: &'a str,
    writer: &'a aws_sdk_dynamodb::Client,
    write_table: &'a str,
    segment: Segment,
    /// The key attribute names.
    keys: &'a [String],
    /// Read only the key attributes and delete (clear).
    keys_only: bool,
}

impl Pass<'_> {
    /// Scans pages from `start`, turns each page into writes with `prepare` and writes them; the
    /// next page is fetched while the current one is written. Returns the resume key, `None` when
    /// done.
    async fn run<F>(
        &self,
        start: Option<Item>,
        counts: &mut CopyCounts,
        budget: &Budget,
        mut prepare: F,
    ) -> Result<Option<Item>, TaskError>
    where
        F: FnMut(Vec<Item>, &mut CopyCounts) -> PageWrites,
    {
        let mut pace = Pace::default();
        let mut started = Instant::now();
        let mut page = self.scan(start).await?;
        loop {
            let (items, next_key) = page;
            counts.items_read += items.len() as u64;
            let writes = prepare(items, counts);
            let more = next_key.is_some() && budget.allows(&pace);
            let prefetch = async {
                match (&next_key, more) {
                    (Some(key), true) => self.scan(Some(key.clone())).await.map(Some),
                    _ => Ok(None),
                }
            };
            let (written, following) = tokio::try_join!(self.write(writes), prefetch)?;
            counts.retries += written.retries;
            if self.keys_only {
                counts.items_deleted += written.items;
            } else {
                counts.items_written += written.items;
            }
            for item in &written.taken {
                record_collision(counts, item, self.keys);
            }
            pace.record_since(started);
            started = Instant::now();
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
        if self.keys_only {
            let names: HashMap<String, String> = self
                .keys
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

    /// Writes a page: batches and guarded puts, several in flight.
    async fn write(&self, writes: PageWrites) -> Result<Written, TaskError> {
        let batched = writes.batch.len() as u64;
        let (retries, guarded) = tokio::try_join!(
            self.write_batches(writes.batch),
            self.put_guarded(writes.guarded)
        )?;
        let mut written = Written {
            retries,
            items: batched,
            taken: Vec::new(),
        };
        for taken in guarded {
            match taken {
                Some(item) => written.taken.push(item),
                None => written.items += 1,
            }
        }
        Ok(written)
    }

    /// Writes requests in batches, several in flight; returns the retries spent.
    async fn write_batches(&self, requests: Vec<WriteRequest>) -> Result<u64, TaskError> {
        let policy = RetryPolicy::default();
        stream::iter(chunk(requests))
            .map(|batch| write_batch(self.writer, self.write_table, batch, &policy))
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_fold(0u64, |total, retries| async move { Ok(total + retries) })
            .await
    }

    /// Puts items where their key is free, several in flight; for each, `Some(item)` when another
    /// item holds its key.
    async fn put_guarded(&self, items: Vec<Item>) -> Result<Vec<Option<Item>>, TaskError> {
        stream::iter(items)
            .map(|item| self.put_if_free(item))
            .buffer_unordered(GUARDED_CONCURRENCY)
            .try_collect()
            .await
    }

    /// Puts `item` unless its key is taken; a key holding this very item (a retried page) counts
    /// as written. Returns the item back when another item holds the key.
    async fn put_if_free(&self, item: Item) -> Result<Option<Item>, TaskError> {
        let sent = self
            .writer
            .put_item()
            .table_name(self.write_table)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", &self.keys[0])
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let Err(err) = sent else {
            return Ok(None);
        };
        match err.into_service_error() {
            PutItemError::ConditionalCheckFailedException(held) => {
                let same = held.item().is_some_and(|held| same_item(held, &item));
                Ok((!same).then_some(item))
            }
            other => {
                let names: Vec<&str> = self.keys.iter().map(String::as_str).collect();
                Err(TaskError::aws(
                    "PutItem",
                    format!(
                        "{} (key {})",
                        self.write_table,
                        describe_attributes(&item, &names)
                    ),
                    other,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn user(pk: &str) -> Item {
        Item::from([
            ("pk".to_string(), AttributeValue::S(pk.into())),
            ("sk".to_string(), AttributeValue::S("user".into())),
        ])
    }

    #[test]
    fn an_item_read_back_with_its_sets_reordered_is_the_same_item() {
        let mut written = user("a");
        written.insert(
            "tags".into(),
            AttributeValue::Ss(vec!["x".into(), "y".into()]),
        );
        written.insert(
            "blobs".into(),
            AttributeValue::Bs(vec![Blob::new(b"1".to_vec()), Blob::new(b"2".to_vec())]),
        );
        written.insert(
            "nested".into(),
            AttributeValue::M(Item::from([(
                "n".to_string(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            )])),
        );
        let mut held = written.clone();
        held.insert(
            "tags".into(),
            AttributeValue::Ss(vec!["y".into(), "x".into()]),
        );
        held.insert(
            "blobs".into(),
            AttributeValue::Bs(vec![Blob::new(b"2".to_vec()), Blob::new(b"1".to_vec())]),
        );
        held.insert(
            "nested".into(),
            AttributeValue::M(Item::from([(
                "n".to_string(),
                AttributeValue::Ns(vec!["2".into(), "1".into()]),
            )])),
        );
        assert!(same_item(&held, &written));

        let mut other = written.clone();
        other.insert("name".into(), AttributeValue::S("someone else".into()));
        assert!(!same_item(&other, &written));
        assert!(!same_item(&user("b"), &user("a")));
    }

    #[test]
    fn collisions_are_all_counted_and_their_keys_listed_within_the_bound() {
        let keys = ["pk".to_string(), "sk".to_string()];
        let mut counts = CopyCounts::default();
        for i in 0..40 {
            let item = user(&format!("user-email|{i:064}@example.invalid"));
            record_collision(&mut counts, &item, &keys);
            record_collision(&mut counts, &item, &keys);
        }
        assert_eq!(counts.key_collisions, 80);
        assert_eq!(
            counts.collided_keys[0],
            format!("pk=user-email|{:064}@example.invalid,sk=user", 0)
        );
        let listed = serde_json::to_vec(&counts.collided_keys).unwrap().len();
        assert!(listed <= COLLIDED_KEYS_BYTES, "{listed} bytes");
        assert!(
            counts.collided_keys.len() >= 2,
            "{:?}",
            counts.collided_keys
        );
    }

    #[test]
    fn a_continuation_is_bound_to_its_run_tables_phase_and_segment() {
        let input = |segment, phase| CopyTableInput {
            run_id: "run-1".into(),
            source: crate::contract::Environment {
                name: "prod".into(),
                role_arn: None,
                region: "us-east-1".into(),
            },
            target: crate::contract::Environment {
                name: "test".into(),
                role_arn: None,
                region: "us-east-1".into(),
            },
            table: crate::contract::TableSpec {
                source: "efcms-prod".into(),
                target: "efcms-test".into(),
                engine: TableEngine::Scan { segments: 4 },
                mode: CopyMode::Replace,
            },
            segment,
            phase,
            masking: None,
            progress: None,
        };
        let bindings = [
            binding(&input(0, CopyPhase::Copy), 4),
            binding(&input(1, CopyPhase::Copy), 4),
            binding(&input(0, CopyPhase::Clear), 4),
            binding(&input(0, CopyPhase::Copy), 8),
        ];
        let distinct: HashSet<&String> = bindings.iter().collect();
        assert_eq!(distinct.len(), bindings.len(), "{bindings:?}");
        assert!(bindings[0].contains("run-1") && bindings[0].contains("efcms-prod"));
    }
}
