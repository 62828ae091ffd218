//! DynamoDB batch writes that finish: chunks of at most 25 requests and 16 MB, unprocessed items
//! and throttling retried with exponential backoff, full jitter and a cap, and a failure that names
//! the table and a key.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};

use crate::ddb_json::Item;
use crate::error::{Failure, TaskError};

/// Most requests one `BatchWriteItem` accepts.
pub const MAX_BATCH_ITEMS: usize = 25;
/// Largest total request size one `BatchWriteItem` accepts.
pub const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

/// How long to keep retrying and how to space the attempts.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The first backoff ceiling; each attempt doubles it.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(25),
            cap: Duration::from_secs(5),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a uniformly random wait in [0, min(cap, base · 2^attempt)].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=nanos))
    }
}

/// Splits put or delete requests into batches within the item-count and byte limits.
pub fn chunk(requests: Vec<WriteRequest>) -> Vec<Vec<WriteRequest>> {
    let mut batches = Vec::new();
    let mut current = Vec::with_capacity(MAX_BATCH_ITEMS);
    let mut bytes = 0;
    for request in requests {
        let size = request_size(&request);
        if current.len() == MAX_BATCH_ITEMS
            || (!current.is_empty() && bytes + size > MAX_BATCH_BYTES)
        {
            batches.push(std::mem::replace(
                &mut current,
                Vec::with_capacity(MAX_BATCH_ITEMS),
            ));
            bytes = 0;
        }
        bytes += size;
        current.push(request);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// A put request for `item`.
pub fn put(item: Item) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("item is set"),
        )
        .build()
}

/// A delete request for `key`.
pub fn delete(key: Item) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .expect("key is set"),
        )
        .build()
}

/// Writes one batch until every request is processed; returns how many retries it took.
pub async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    batch: Vec<WriteRequest>,
    policy: &RetryPolicy,
) -> Result<u64, TaskError> {
    let mut pending = batch;
    let mut retries = 0u64;
    for attempt in 0..policy.max_attempts {
        if attempt > 0 {
            retries += 1;
            tokio::time::sleep(policy.backoff(attempt)).await;
        }
        let sent = client
            .batch_write_item()
            .request_items(table, pending.clone())
            .send()
            .await;
        match sent {
            Ok(out) => {
                let left = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
                if left.is_empty() {
                    return Ok(retries);
                }
                pending = left;
            }
            Err(err) => {
                let err = TaskError::aws("BatchWriteItem", table, err.into_service_error());
                if !is_transient(&err) {
                    return Err(with_key(err, table, &pending));
                }
            }
        }
    }
    Err(TaskError::Aws {
        operation: "BatchWriteItem",
        resource: table.to_string(),
        failure: Failure::Throttled,
        detail: format!(
            "{} request(s) still unprocessed after {} attempts, first key {}",
            pending.len(),
            policy.max_attempts,
            describe_key(pending.first())
        ),
        source: "unprocessed items".into(),
    })
}

fn is_transient(err: &TaskError) -> bool {
    matches!(err.error_type(), "Throttled" | "Retryable")
}

/// Adds the first key of a failed batch to the error's detail.
fn with_key(err: TaskError, table: &str, batch: &[WriteRequest]) -> TaskError {
    match err {
        TaskError::Aws {
            operation,
            failure,
            detail,
            source,
            ..
        } => TaskError::Aws {
            operation,
            resource: format!(
                "{table} (batch starting at key {})",
                describe_key(batch.first())
            ),
            failure,
            detail,
            source,
        },
        other => other,
    }
}

/// A short text of a request's key attributes (callers pass already-masked items).
fn describe_key(request: Option<&WriteRequest>) -> String {
    let item = request.and_then(|r| {
        r.put_request()
            .map(|p| p.item())
            .or_else(|| r.delete_request().map(|d| d.key()))
    });
    let Some(item) = item else {
        return "(none)".into();
    };
    let mut parts: Vec<String> = item
        .iter()
        .filter(|(name, _)| matches!(name.as_str(), "pk" | "sk" | "id") || item.len() <= 2)
        .map(|(name, value)| format!("{name}={}", short(value)))
        .collect();
    parts.sort();
    if parts.is_empty() {
        format!("({} attributes)", item.len())
    } else {
        parts.join(",")
    }
}

fn short(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(s) => s.chars().take(80).collect(),
        AttributeValue::N(n) => n.clone(),
        _ => "…".into(),
    }
}

/// Approximate request size: attribute names plus values, as DynamoDB counts item size.
pub fn request_size(request: &WriteRequest) -> usize {
    let item: Option<&HashMap<String, AttributeValue>> = request
        .put_request()
        .map(|p| p.item())
        .or_else(|| request.delete_request().map(|d| d.key()));
    item.map_or(0, item_size)
}

/// Approximate size of an item in bytes.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(v) => 3 + v.iter().map(|x| 1 + value_size(x)).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, x)| 1 + k.len() + value_size(x))
                .sum::<usize>()
        }
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::batch_write_item::{
        BatchWriteItemError, BatchWriteItemOutput,
    };
    use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn item(i: usize) -> Item {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(format!("case|{i}"))),
            ("sk".to_string(), AttributeValue::S("case".into())),
        ])
    }

    fn fast() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(1),
            cap: Duration::from_millis(4),
            max_attempts: 5,
        }
    }

    #[test]
    fn chunks_respect_count_and_bytes() {
        let small: Vec<WriteRequest> = (0..60).map(|i| put(item(i))).collect();
        let sizes: Vec<usize> = chunk(small).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![25, 25, 10]);

        let big_value = "x".repeat(390 * 1024);
        let big: Vec<WriteRequest> = (0..100)
            .map(|i| {
                let mut it = item(i);
                it.insert("blob".into(), AttributeValue::S(big_value.clone()));
                put(it)
            })
            .collect();
        for batch in chunk(big) {
            let bytes: usize = batch.iter().map(request_size).sum();
            assert!(bytes <= MAX_BATCH_BYTES && batch.len() <= MAX_BATCH_ITEMS);
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let policy = RetryPolicy::default();
        for attempt in 0..40 {
            assert!(policy.backoff(attempt) <= policy.cap);
        }
        let draws: std::collections::HashSet<Duration> =
            (0..20).map(|_| policy.backoff(6)).collect();
        assert!(draws.len() > 1, "full jitter varies the wait");
    }

    #[tokio::test]
    async fn unprocessed_items_are_retried_until_written() {
        let table = "efcms-test-alpha";
        let unprocessed = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .match_requests(|r| r.request_items().is_some_and(|m| m[table].len() == 3))
            .then_output(move || {
                BatchWriteItemOutput::builder()
                    .unprocessed_items(table, vec![put(item(2))])
                    .build()
            });
        let rest = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .match_requests(|r| r.request_items().is_some_and(|m| m[table].len() == 1))
            .then_output(|| BatchWriteItemOutput::builder().build());
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::Sequential,
            [&unprocessed, &rest]
        );

        let retries = write_batch(
            &client,
            table,
            (0..3).map(|i| put(item(i))).collect(),
            &fast(),
        )
        .await
        .unwrap();

        assert_eq!(retries, 1);
        assert_eq!(unprocessed.num_calls(), 1);
        assert_eq!(rest.num_calls(), 1);
    }

    #[tokio::test]
    async fn throttling_is_retried_with_backoff() {
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .sequence()
            .error(|| {
                BatchWriteItemError::ProvisionedThroughputExceededException(
                    ProvisionedThroughputExceededException::builder()
                        .message("slow down")
                        .build(),
                )
            })
            .times(2)
            .output(|| BatchWriteItemOutput::builder().build())
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| {
            c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        });

        let retries = write_batch(&client, "t-table", vec![put(item(1))], &fast())
            .await
            .unwrap();

        assert_eq!(retries, 2);
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn persistent_unprocessed_items_fail_naming_table_and_key() {
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_output(|| {
            BatchWriteItemOutput::builder()
                .unprocessed_items("t-table", vec![put(item(7))])
                .build()
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);

        let err = write_batch(&client, "t-table", vec![put(item(7))], &fast())
            .await
            .unwrap_err();

        assert_eq!(err.error_type(), "Throttled");
        let message = err.to_string();
        assert!(message.contains("t-table"), "{message}");
        assert!(message.contains("pk=case|7"), "{message}");
        assert_eq!(rule.num_calls(), 5);
    }

    #[tokio::test]
    async fn a_validation_error_is_not_retried_and_names_the_key() {
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_http_response(|| {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                aws_smithy_types::body::SdkBody::from(
                    r#"{"__type":"com.amazon.coral.validation#ValidationException","message":"Item size has exceeded the maximum allowed size"}"#,
                ),
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);

        let err = write_batch(&client, "t-table", vec![put(item(3))], &fast())
            .await
            .unwrap_err();

        assert_eq!(rule.num_calls(), 1);
        assert_eq!(err.error_type(), "AwsRejected");
        assert!(err.to_string().contains("pk=case|3"), "{err}");
        assert!(err.to_string().contains("Item size has exceeded"), "{err}");
    }
}
