//! DynamoDB batch writes that finish: chunks of at most 25 requests and 16 MB, unprocessed items
//! and throttling retried with exponential backoff, full jitter and a cap, and a failure that names
//! the table and a key.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemError;
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
///
/// When the attempts run out, the error says what the last attempt met: a service error with its
/// HTTP status, code and message (a 5xx is `Retryable`, throttling `Throttled`), or requests the
/// service left unprocessed.
pub async fn write_batch(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    batch: Vec<WriteRequest>,
    policy: &RetryPolicy,
) -> Result<u64, TaskError> {
    let mut pending = batch;
    let mut retries = 0u64;
    let mut last_error = None;
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
                last_error = None;
            }
            Err(err) => {
                let err = service_error(table, err);
                if !is_transient(&err) {
                    return Err(with_key(err, table, &pending));
                }
                last_error = Some(err);
            }
        }
    }
    let failed = match last_error {
        Some(err) => with_attempts(err, policy.max_attempts, pending.len()),
        None => TaskError::Aws {
            operation: "BatchWriteItem",
            resource: table.to_string(),
            failure: Failure::Throttled,
            detail: format!(
                "{} request(s) still unprocessed after {} attempts",
                pending.len(),
                policy.max_attempts
            ),
            source: "unprocessed items".into(),
        },
    };
    Err(with_key(failed, table, &pending))
}

fn is_transient(err: &TaskError) -> bool {
    matches!(err.error_type(), "Throttled" | "Retryable")
}

/// A failed call as a [`TaskError`] whose detail starts with the HTTP status, when there was a
/// response (a 5xx without a service code says no more than its status).
fn service_error(table: &str, err: SdkError<BatchWriteItemError, HttpResponse>) -> TaskError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let err = TaskError::aws("BatchWriteItem", table, err.into_service_error());
    match status {
        Some(status) => err.reword(|_, detail| *detail = format!("HTTP {status}: {detail}")),
        None => err,
    }
}

/// Adds how often it was tried and what is left to a transient error's detail.
fn with_attempts(err: TaskError, attempts: u32, pending: usize) -> TaskError {
    err.reword(|_, detail| {
        detail.push_str(&format!(
            " (still failing after {attempts} attempts; {pending} request(s) not written)"
        ));
    })
}

/// Adds the first key of a failed batch to the error's resource.
fn with_key(err: TaskError, table: &str, batch: &[WriteRequest]) -> TaskError {
    let key = describe_key(batch.first());
    err.reword(|resource, _| {
        *resource = format!("{table} (batch starting at key {key})");
    })
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
    let names: Vec<&str> = item
        .keys()
        .map(String::as_str)
        .filter(|name| matches!(*name, "pk" | "sk" | "id") || item.len() <= 2)
        .collect();
    if names.is_empty() {
        format!("({} attributes)", item.len())
    } else {
        describe_attributes(item, &names)
    }
}

/// Longest value shown by [`describe_attributes`], in characters (a masked address is 81 with the
/// default domain, so a masked key fits whole).
const SHOWN_CHARS: usize = 160;

/// `name=value` of the named attributes of `item`, sorted by name and joined by `,`; long values
/// are cut. Callers pass masked items only: this text goes into errors and outputs.
pub fn describe_attributes(item: &Item, names: &[&str]) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .filter_map(|name| {
            item.get(*name)
                .map(|value| format!("{name}={}", short(value)))
        })
        .collect();
    parts.sort();
    parts.join(",")
}

fn short(value: &AttributeValue) -> String {
    match value {
        AttributeValue::S(s) => s.chars().take(SHOWN_CHARS).collect(),
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

    fn server_error(status: u16, body: &'static str) -> aws_smithy_runtime_api::http::Response {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        )
    }

    #[tokio::test]
    async fn a_persistent_server_error_is_reported_with_its_status_not_as_unprocessed() {
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item).then_http_response(|| {
            server_error(
                500,
                r#"{"__type":"com.amazon.coral.availability#InternalServerError","message":"Internal server error"}"#,
            )
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule], |c| {
            c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        });

        let err = write_batch(&client, "t-table", vec![put(item(4))], &fast())
            .await
            .unwrap_err();

        assert_eq!(rule.num_calls(), 5, "a 5xx is retried like throttling");
        assert_eq!(err.error_type(), "Retryable");
        let message = err.to_string();
        assert!(message.contains("HTTP 500"), "{message}");
        assert!(
            message.contains("InternalServerError: Internal server error"),
            "{message}"
        );
        assert!(message.contains("5 attempts"), "{message}");
        assert!(message.contains("pk=case|4"), "{message}");
        assert!(!message.contains("unprocessed"), "{message}");
    }

    #[tokio::test]
    async fn a_gateway_error_without_a_service_code_names_its_status() {
        let rule = mock!(aws_sdk_dynamodb::Client::batch_write_item)
            .sequence()
            .output(|| {
                BatchWriteItemOutput::builder()
                    .unprocessed_items("t-table", vec![put(item(5))])
                    .build()
            })
            .http_status(503, Some("<html>Service Unavailable</html>".into()))
            .times(4)
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| {
            c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        });

        let err = write_batch(&client, "t-table", vec![put(item(5))], &fast())
            .await
            .unwrap_err();

        assert_eq!(rule.num_calls(), 5);
        assert_eq!(err.error_type(), "Retryable");
        let message = err.to_string();
        assert!(message.contains("HTTP 503"), "{message}");
        assert!(!message.contains("unprocessed"), "{message}");
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
