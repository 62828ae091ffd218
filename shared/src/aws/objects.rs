//! Whole small objects in ferry's own buckets (manifests, bundle files): write bytes, read bytes.

use crate::error::{Failure, TaskError};

/// Writes `body` to `s3://bucket/key`.
pub async fn put_bytes(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), TaskError> {
    s3.put_object()
        .bucket(bucket)
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
