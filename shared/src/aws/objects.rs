//! Whole small objects in ferry's own buckets (manifests, bundle files): write bytes, read bytes.
//!
//! Every write names the account that must own the bucket (`ExpectedBucketOwner`: ferry's own
//! account, [`Session::own_account_id`]), so S3 refuses it when a bucket of that name belongs to
//! anyone else, for example after the artifact bucket was deleted and its name taken.
//!
//! [`Session::own_account_id`]: crate::aws::Session::own_account_id

use crate::error::{Failure, TaskError};

/// Every top-level prefix ferry keeps in its artifact bucket: run manifests, bundles, and the
/// stop signals and leases of a run's writers (`tasks::writers`, the only one the data movers
/// may write).
pub const ARTIFACT_PREFIXES: [&str; 3] = ["runs/", "bundles/", WRITERS_PREFIX];
/// The prefix of the stop signals and leases.
pub const WRITERS_PREFIX: &str = "writers/";

/// Writes `body` to `s3://bucket/key`, refused unless account `owner` owns the bucket.
pub async fn put_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    owner: &str,
    key: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), TaskError> {
    s3.put_object()
        .bucket(bucket)
        .expected_bucket_owner(owner)
        .key(key)
        .content_type(content_type)
        .body(body.into())
        .send()
        .await
        .map_err(|e| TaskError::aws("PutObject", uri(bucket, key), e.into_service_error()))?;
    Ok(())
}

/// Reads all of `s3://bucket/key`.
pub async fn get_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, TaskError> {
    let output = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| TaskError::aws("GetObject", uri(bucket, key), e.into_service_error()))?;
    let bytes = output.body.collect().await.map_err(|e| TaskError::Aws {
        operation: "GetObject",
        resource: uri(bucket, key),
        failure: Failure::Retryable,
        detail: e.to_string(),
        source: Box::new(e),
    })?;
    Ok(bytes.into_bytes().to_vec())
}

/// `s3://bucket/key`.
pub fn uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    use super::*;

    #[tokio::test]
    async fn a_write_names_the_bucket_owner() {
        let owned = mock!(aws_sdk_s3::Client::put_object)
            .match_requests(|r| {
                r.expected_bucket_owner() == Some("123456789012")
                    && r.bucket() == Some("ferry-artifacts")
                    && r.key() == Some("runs/r/manifest.json")
            })
            .then_output(|| PutObjectOutput::builder().build());
        let s3 = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&owned]);

        put_bytes(
            &s3,
            "ferry-artifacts",
            "123456789012",
            "runs/r/manifest.json",
            "application/json",
            b"{}".to_vec(),
        )
        .await
        .unwrap();

        assert_eq!(owned.num_calls(), 1);
    }
}
