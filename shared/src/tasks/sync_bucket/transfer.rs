//! Moving one object in one go: server-side copy (`CopyObject`) with the target credentials, or a
//! stream (`GetObject` with the source credentials into `PutObject` with the target credentials;
//! an object that grew past the part size since it was listed goes as a multipart upload).
//! Objects listed above the single-copy limit or the stream part size travel as resumable
//! uploads instead (the `resumable` submodule, built on the upload helpers here). Deletion in
//! batches, checksum look-ups and the probe that picks the transfer mode live here too.
//!
//! Every write names the target account as the bucket's owner (`ExpectedBucketOwner`): the account
//! the target credentials act in, which the protected-account guard accepted. S3 refuses a write
//! to a bucket of that name owned by any other account.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart, Delete,
    ObjectIdentifier,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::error::{BoxError, Failure, TaskError, classify_code};

use super::Limits;
use super::compare::{Checksums, differs};
use super::listing::Entry;

/// S3's limit on the number of parts of one upload.
pub(super) const MAX_PARTS: u64 = 10_000;
/// Part copies of one object under way at once.
pub(super) const COPY_PARTS_IN_FLIGHT: usize = 8;
/// Part uploads of one streamed object under way at once (each holds one part in memory).
pub(super) const STREAM_PARTS_IN_FLIGHT: usize = 2;
/// Attempts ferry adds on top of the SDK's own retries for a throttled or transient failure.
pub const EXTRA_ATTEMPTS: u32 = 2;

/// How objects travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `CopyObject` with the target credentials.
    ServerSide,
    /// `GetObject` with the source credentials, `PutObject` with the target credentials.
    Stream,
}

impl Mode {
    /// The name reported in the output.
    pub fn name(self) -> &'static str {
        match self {
            Mode::ServerSide => "server_side",
            Mode::Stream => "stream",
        }
    }
}

/// Everything a transfer task needs, shared by all of them.
#[derive(Debug)]
pub struct Sides {
    /// Client with the source credentials (reads only).
    pub source: Client,
    /// Client with the target credentials.
    pub target: Client,
    /// Source bucket.
    pub source_bucket: String,
    /// Target bucket.
    pub target_bucket: String,
    /// The account that must own the target bucket (the target credentials' account).
    pub target_owner: String,
    /// How objects travel.
    pub mode: Mode,
    /// Size thresholds.
    pub limits: Limits,
    /// Stream buffer memory, in KiB permits.
    pub memory: Arc<Semaphore>,
}

impl Sides {
    pub(super) fn source_place(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.source_bucket)
    }

    pub(super) fn target_place(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.target_bucket)
    }

    /// Waits until `bytes` of stream buffer may be held.
    pub(super) async fn buffer(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        let total = (self.limits.stream_memory / 1024).max(1);
        let kib = u32::try_from(bytes.div_ceil(1024).clamp(1, total)).unwrap_or(u32::MAX);
        self.memory.clone().acquire_many_owned(kib).await.ok()
    }
}

/// The `x-amz-copy-source` value for `key` in `bucket`: every byte percent-encoded except
/// unreserved characters and `/`, so spaces, `+`, `%`, `?`, `#` and non-ASCII keys survive.
pub fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = String::with_capacity(bucket.len() + key.len() + 8);
    for byte in bucket
        .bytes()
        .chain(std::iter::once(b'/'))
        .chain(key.bytes())
    {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The part size for an object of `size` bytes: `preferred`, grown to stay within 10,000 parts.
pub fn part_size(size: u64, preferred: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let needed = size.div_ceil(MAX_PARTS).next_multiple_of(MIB);
    preferred.max(needed).max(1)
}

/// Runs `op`, trying again (with backoff) up to [`EXTRA_ATTEMPTS`] times when it fails throttled or
/// transiently after the SDK's own retries; counts each extra attempt in `retries`.
pub async fn retrying<T, F, Fut>(retries: &mut u64, mut op: F) -> Result<T, TaskError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, TaskError>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(err) if attempt < EXTRA_ATTEMPTS && is_transient(&err) => {
                attempt += 1;
                *retries += 1;
                let base = 250u64 << attempt;
                let jitter = fastrand::u64(0..=base);
                tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
            }
            other => return other,
        }
    }
}

fn is_transient(err: &TaskError) -> bool {
    matches!(
        err,
        TaskError::Aws {
            failure: Failure::Throttled | Failure::Retryable,
            ..
        }
    )
}

/// A failure while reading an object's body (connection lost mid-stream): transient.
pub(super) fn body_error(
    operation: &'static str,
    place: String,
    err: impl Into<BoxError>,
) -> TaskError {
    let source: BoxError = err.into();
    TaskError::Aws {
        operation,
        resource: place,
        failure: Failure::Retryable,
        detail: source.to_string(),
        source,
    }
}

pub(super) fn missing_field(operation: &str, place: &str, field: &str) -> TaskError {
    TaskError::Mismatch(format!("{operation} on {place} answered without {field}"))
}

/// Whether the target credentials can read the source bucket: lists one key of the prefix and
/// reads that key's metadata. Access denied means no; any other failure is an error.
pub async fn target_reads_source(
    target: &Client,
    source_bucket: &str,
    prefix: &str,
) -> Result<bool, TaskError> {
    let place = format!("s3://{source_bucket}/{prefix}");
    let mut request = target.list_objects_v2().bucket(source_bucket).max_keys(1);
    if !prefix.is_empty() {
        request = request.prefix(prefix);
    }
    let listed = match request.send().await {
        Ok(listed) => listed,
        Err(err) if is_denied(&err) => return Ok(false),
        Err(err) => {
            return Err(TaskError::aws(
                "ListObjectsV2",
                place,
                err.into_service_error(),
            ));
        }
    };
    let Some(key) = listed.contents().first().and_then(|o| o.key()) else {
        return Ok(true);
    };
    match target
        .head_object()
        .bucket(source_bucket)
        .key(key)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(err) if is_denied(&err) => Ok(false),
        Err(err) => {
            let err = err.into_service_error();
            if err.is_not_found() {
                // Listed, then deleted: reading was allowed.
                Ok(true)
            } else {
                Err(TaskError::aws(
                    "HeadObject",
                    format!("s3://{source_bucket}/{key}"),
                    err,
                ))
            }
        }
    }
}

fn is_denied<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    let code = err.as_service_error().and_then(|e| e.code());
    matches!(code, Some("AccessDenied" | "AllAccessDisabled"))
        || err
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 403)
}

/// Whether `key` is present with the target content already, by checksums and write times
/// (see [`differs`]). `Ok(None)`: the source object is gone, nothing to copy.
pub async fn differs_by_checksum(
    sides: &Sides,
    source: &Entry,
    target: &Entry,
) -> Result<Option<bool>, TaskError> {
    let (s, t) = futures::join!(
        head_checksums(&sides.source, &sides.source_bucket, &source.key),
        head_checksums(&sides.target, &sides.target_bucket, &target.key),
    );
    let (Some(mut s), t) = (s?, t?) else {
        return Ok(None);
    };
    let Some(mut t) = t else {
        return Ok(Some(true));
    };
    s.last_modified = s.last_modified.or(source.last_modified);
    t.last_modified = t.last_modified.or(target.last_modified);
    Ok(Some(differs(&s, &t)))
}

async fn head_checksums(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Checksums>, TaskError> {
    match client
        .head_object()
        .bucket(bucket)
        .key(key)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
    {
        Ok(head) => Ok(Some(Checksums::from_head(&head))),
        Err(err) => {
            let err = err.into_service_error();
            if err.is_not_found() {
                Ok(None)
            } else {
                Err(TaskError::aws(
                    "HeadObject",
                    format!("s3://{bucket}/{key}"),
                    err,
                ))
            }
        }
    }
}

/// The object headers a copy carries over (user metadata and the standard content headers).
#[derive(Debug, Default, Clone)]
pub(super) struct Headers {
    content_type: Option<String>,
    metadata: Option<std::collections::HashMap<String, String>>,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
}

macro_rules! with_headers {
    ($builder:expr, $h:expr) => {
        $builder
            .set_content_type($h.content_type.clone())
            .set_metadata($h.metadata.clone())
            .set_cache_control($h.cache_control.clone())
            .set_content_disposition($h.content_disposition.clone())
            .set_content_encoding($h.content_encoding.clone())
            .set_content_language($h.content_language.clone())
    };
}

macro_rules! headers_of {
    ($out:expr) => {
        Headers {
            content_type: $out.content_type.clone(),
            metadata: $out.metadata.clone(),
            cache_control: $out.cache_control.clone(),
            content_disposition: $out.content_disposition.clone(),
            content_encoding: $out.content_encoding.clone(),
            content_language: $out.content_language.clone(),
        }
    };
}

/// Copies one object from the source to the target key of the same name in one go (larger objects
/// travel as resumable uploads, see the `resumable` submodule). Returns the bytes copied, or
/// `None` when the source object disappeared since it was listed.
pub async fn copy_object(sides: &Sides, entry: &Entry) -> Result<Option<u64>, TaskError> {
    match sides.mode {
        Mode::ServerSide => single_copy(sides, entry).await,
        Mode::Stream => stream_copy(sides, entry).await,
    }
}

async fn single_copy(sides: &Sides, entry: &Entry) -> Result<Option<u64>, TaskError> {
    let result = sides
        .target
        .copy_object()
        .bucket(&sides.target_bucket)
        .expected_bucket_owner(&sides.target_owner)
        .key(&entry.key)
        .copy_source(copy_source(&sides.source_bucket, &entry.key))
        .send()
        .await;
    match result {
        Ok(_) => Ok(Some(entry.size)),
        Err(err) => {
            let err = err.into_service_error();
            if err.code() == Some("NoSuchKey") {
                return Ok(None);
            }
            Err(TaskError::aws(
                "CopyObject",
                format!(
                    "{} to {}",
                    sides.source_place(&entry.key),
                    sides.target_place(&entry.key)
                ),
                err,
            ))
        }
    }
}

pub(super) async fn create_upload(
    sides: &Sides,
    key: &str,
    headers: &Headers,
    full_object_crc32: bool,
) -> Result<String, TaskError> {
    let place = sides.target_place(key);
    let request = sides
        .target
        .create_multipart_upload()
        .bucket(&sides.target_bucket)
        .expected_bucket_owner(&sides.target_owner)
        .key(key);
    let request = if full_object_crc32 {
        request
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(ChecksumType::FullObject)
    } else {
        request
    };
    let created = with_headers!(request, headers).send().await.map_err(|e| {
        TaskError::aws(
            "CreateMultipartUpload",
            place.clone(),
            e.into_service_error(),
        )
    })?;
    created
        .upload_id
        .ok_or_else(|| missing_field("CreateMultipartUpload", &place, "an upload id"))
}

/// Completes the upload with `parts`, or aborts it when they failed (or completing fails).
pub(super) async fn finish_upload(
    sides: &Sides,
    key: &str,
    upload_id: &str,
    parts: Result<Vec<CompletedPart>, TaskError>,
) -> Result<(), TaskError> {
    let place = sides.target_place(key);
    let completed = match parts {
        Ok(parts) => sides
            .target
            .complete_multipart_upload()
            .bucket(&sides.target_bucket)
            .expected_bucket_owner(&sides.target_owner)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                TaskError::aws(
                    "CompleteMultipartUpload",
                    place.clone(),
                    e.into_service_error(),
                )
            }),
        Err(err) => Err(err),
    };
    if completed.is_err() {
        abort_upload(sides, key, upload_id).await;
    }
    completed
}

/// Aborts an upload, warning when that fails (an incomplete-upload lifecycle rule removes it).
pub(super) async fn abort_upload(sides: &Sides, key: &str, upload_id: &str) {
    let place = sides.target_place(key);
    let aborted = sides
        .target
        .abort_multipart_upload()
        .bucket(&sides.target_bucket)
        .expected_bucket_owner(&sides.target_owner)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    if let Err(e) = aborted {
        let error = TaskError::aws(
            "AbortMultipartUpload",
            place.clone(),
            e.into_service_error(),
        );
        tracing::warn!(
            target = %place,
            upload_id,
            error = %error,
            "could not abort an upload; an incomplete-upload lifecycle rule removes it"
        );
    }
}

/// What a copy needs to know of a source object before it starts.
#[derive(Debug)]
pub(super) struct SourceObject {
    /// Size in bytes.
    pub size: u64,
    /// The ETag as S3 answers it (quoted).
    pub etag: String,
    /// The headers the copy carries over.
    pub headers: Headers,
}

/// The source object's size, ETag and headers, read with the credentials that will read its
/// bytes (the target's for a server-side copy); `None` when it is gone.
pub(super) async fn source_head(
    sides: &Sides,
    key: &str,
) -> Result<Option<SourceObject>, TaskError> {
    let reader = match sides.mode {
        Mode::ServerSide => &sides.target,
        Mode::Stream => &sides.source,
    };
    match reader
        .head_object()
        .bucket(&sides.source_bucket)
        .key(key)
        .send()
        .await
    {
        Ok(head) => Ok(Some(SourceObject {
            size: head
                .content_length
                .and_then(|l| u64::try_from(l).ok())
                .unwrap_or(0),
            etag: head.e_tag.clone().unwrap_or_default(),
            headers: headers_of!(head),
        })),
        Err(err) => {
            let err = err.into_service_error();
            if err.is_not_found() {
                Ok(None)
            } else {
                Err(TaskError::aws("HeadObject", sides.source_place(key), err))
            }
        }
    }
}

/// Streams one object: buffered whole below the part size, else read part by part into a
/// multipart upload (at most [`STREAM_PARTS_IN_FLIGHT`] parts of it in memory). The multipart
/// upload carries a full-object CRC32 checksum, the one SDKs give single-part uploads by default,
/// so a later sync can match the copy with such a source by checksum although their ETags
/// differ.
async fn stream_copy(sides: &Sides, entry: &Entry) -> Result<Option<u64>, TaskError> {
    let source_place = sides.source_place(&entry.key);
    let target_place = sides.target_place(&entry.key);
    let got = match sides
        .source
        .get_object()
        .bucket(&sides.source_bucket)
        .key(&entry.key)
        .send()
        .await
    {
        Ok(got) => got,
        Err(err) => {
            let err = err.into_service_error();
            if err.is_no_such_key() {
                return Ok(None);
            }
            return Err(TaskError::aws("GetObject", source_place, err));
        }
    };
    let size = got
        .content_length
        .and_then(|l| u64::try_from(l).ok())
        .unwrap_or(entry.size);
    let headers = headers_of!(got);
    if size < sides.limits.stream_part_size {
        let _permit = sides.buffer(size).await;
        let body = got
            .body
            .collect()
            .await
            .map_err(|e| body_error("GetObject", source_place, e))?
            .into_bytes();
        let length = body.len();
        let request = sides
            .target
            .put_object()
            .bucket(&sides.target_bucket)
            .expected_bucket_owner(&sides.target_owner)
            .key(&entry.key)
            .content_length(i64::try_from(length).unwrap_or(i64::MAX))
            .body(ByteStream::from(body));
        with_headers!(request, headers)
            .send()
            .await
            .map_err(|e| TaskError::aws("PutObject", target_place, e.into_service_error()))?;
        return Ok(Some(length as u64));
    }
    let upload_id = create_upload(sides, &entry.key, &headers, true).await?;
    let parts = stream_parts(sides, entry, got.body, size, &upload_id).await;
    let streamed = parts.as_ref().map(|(_, bytes)| *bytes).unwrap_or(0);
    finish_upload(sides, &entry.key, &upload_id, parts.map(|(parts, _)| parts)).await?;
    Ok(Some(streamed))
}

async fn stream_parts(
    sides: &Sides,
    entry: &Entry,
    mut body: ByteStream,
    size: u64,
    upload_id: &str,
) -> Result<(Vec<CompletedPart>, u64), TaskError> {
    let source_place = sides.source_place(&entry.key);
    let target_place = sides.target_place(&entry.key);
    let step =
        usize::try_from(part_size(size, sides.limits.stream_part_size)).unwrap_or(usize::MAX);
    let mut uploads: JoinSet<Result<CompletedPart, TaskError>> = JoinSet::new();
    let mut parts = Vec::new();
    let mut carry = None;
    let mut number = 0i32;
    let mut total = 0u64;
    let mut eof = false;
    while !eof {
        let permit = sides.buffer(step as u64).await;
        let mut buffer = Vec::with_capacity(step);
        while buffer.len() < step {
            let chunk = match carry.take() {
                Some(chunk) => chunk,
                None => match body.next().await {
                    Some(Ok(chunk)) => chunk,
                    Some(Err(e)) => return Err(body_error("GetObject", source_place, e)),
                    None => {
                        eof = true;
                        break;
                    }
                },
            };
            let room = step - buffer.len();
            if chunk.len() > room {
                buffer.extend_from_slice(&chunk[..room]);
                carry = Some(chunk.slice(room..));
            } else {
                buffer.extend_from_slice(&chunk);
            }
        }
        if buffer.is_empty() {
            break;
        }
        number += 1;
        if number as u64 > MAX_PARTS {
            return Err(TaskError::Mismatch(format!(
                "{source_place} grew past {size} bytes while it was streamed; run the sync again"
            )));
        }
        total += buffer.len() as u64;
        let client = sides.target.clone();
        let (bucket, owner, key, upload_id, place) = (
            sides.target_bucket.clone(),
            sides.target_owner.clone(),
            entry.key.clone(),
            upload_id.to_string(),
            target_place.clone(),
        );
        uploads.spawn(async move {
            let _permit = permit;
            let length = buffer.len();
            let out = client
                .upload_part()
                .bucket(bucket)
                .expected_bucket_owner(owner)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .content_length(i64::try_from(length).unwrap_or(i64::MAX))
                .body(ByteStream::from(buffer))
                .send()
                .await
                .map_err(|e| {
                    TaskError::aws(
                        "UploadPart",
                        format!("{place} (part {number})"),
                        e.into_service_error(),
                    )
                })?;
            Ok(CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .set_checksum_crc32(out.checksum_crc32)
                .build())
        });
        while uploads.len() >= STREAM_PARTS_IN_FLIGHT {
            parts.push(joined(uploads.join_next().await, &target_place)?);
        }
    }
    while !uploads.is_empty() {
        parts.push(joined(uploads.join_next().await, &target_place)?);
    }
    parts.sort_by_key(|p| p.part_number);
    Ok((parts, total))
}

fn joined<T>(
    result: Option<Result<Result<T, TaskError>, tokio::task::JoinError>>,
    place: &str,
) -> Result<T, TaskError> {
    match result {
        Some(Ok(result)) => result,
        Some(Err(e)) => Err(TaskError::Mismatch(format!(
            "uploading a part of {place} stopped: {e}"
        ))),
        None => Err(TaskError::Mismatch(format!(
            "uploading {place}: a part went missing"
        ))),
    }
}

/// Deletes `keys` from the target with `DeleteObjects` (at most 1,000 keys), trying the keys the
/// service could not delete for a transient reason again.
pub async fn delete_keys(
    sides: &Sides,
    keys: &[String],
    retries: &mut u64,
) -> Result<(), TaskError> {
    let mut pending: Vec<String> = keys.to_vec();
    let mut attempt = 0;
    loop {
        let objects = pending
            .iter()
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TaskError::Mismatch(format!("building a delete request: {e}")))?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| TaskError::Mismatch(format!("building a delete request: {e}")))?;
        let first = pending.first().cloned().unwrap_or_default();
        let out = retrying(retries, || {
            let delete = delete.clone();
            let place = format!(
                "s3://{}/{first} (and {} more)",
                sides.target_bucket,
                pending.len().saturating_sub(1)
            );
            async move {
                sides
                    .target
                    .delete_objects()
                    .bucket(&sides.target_bucket)
                    .expected_bucket_owner(&sides.target_owner)
                    .delete(delete)
                    .send()
                    .await
                    .map_err(|e| TaskError::aws("DeleteObjects", place, e.into_service_error()))
            }
        })
        .await?;
        let mut failed = Vec::new();
        for error in out.errors() {
            let key = error.key().unwrap_or_default().to_string();
            let code = error.code().unwrap_or("Unknown");
            let failure = classify_code(code);
            let transient = matches!(failure, Failure::Throttled | Failure::Retryable);
            if !transient || attempt >= EXTRA_ATTEMPTS {
                let detail = format!("{code}: {}", error.message().unwrap_or_default());
                return Err(TaskError::Aws {
                    operation: "DeleteObjects",
                    resource: sides.target_place(&key),
                    failure,
                    source: detail.clone().into(),
                    detail,
                });
            }
            failed.push(key);
        }
        if failed.is_empty() {
            return Ok(());
        }
        attempt += 1;
        *retries += 1;
        tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        pending = failed;
    }
}

#[cfg(test)]
pub(super) mod tests {
    use aws_sdk_s3::operation::{
        abort_multipart_upload::AbortMultipartUploadOutput,
        complete_multipart_upload::CompleteMultipartUploadOutput, copy_object::CopyObjectOutput,
        create_multipart_upload::CreateMultipartUploadOutput, delete_objects::DeleteObjectsOutput,
        get_object::GetObjectOutput, head_object::HeadObjectOutput, put_object::PutObjectOutput,
        upload_part::UploadPartOutput, upload_part_copy::UploadPartCopyOutput,
    };
    use aws_sdk_s3::types::CopyPartResult;
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};

    use super::*;

    pub(crate) const TARGET_ACCOUNT: &str = "222222222222";

    /// Sides whose target answers only writes naming [`TARGET_ACCOUNT`] as the bucket owner.
    pub(crate) fn sides(mode: Mode, source: &[&Rule], target: &[&Rule]) -> Sides {
        Sides {
            source: mock_client!(aws_sdk_s3, RuleMode::MatchAny, source),
            target: mock_client!(aws_sdk_s3, RuleMode::MatchAny, target),
            source_bucket: "prod-docs".into(),
            target_bucket: "test-docs".into(),
            target_owner: TARGET_ACCOUNT.into(),
            mode,
            limits: Limits {
                max_single_copy: 10,
                copy_part_size: 1024 * 1024,
                stream_part_size: 10,
                stream_memory: 1024 * 1024,
            },
            memory: Arc::new(Semaphore::new(1024)),
        }
    }

    fn entry(size: u64) -> Entry {
        Entry {
            key: "a/b.pdf".into(),
            size,
            etag: "e".into(),
            last_modified: None,
        }
    }

    fn get(body: &'static [u8]) -> Rule {
        mock!(aws_sdk_s3::Client::get_object).then_output(move || {
            GetObjectOutput::builder()
                .content_length(body.len() as i64)
                .body(ByteStream::from_static(body))
                .build()
        })
    }

    /// Every write the target may receive, each answered only when it names the owner.
    pub(crate) struct Writes {
        pub(crate) put: Rule,
        pub(crate) copy: Rule,
        pub(crate) create: Rule,
        pub(crate) part: Rule,
        pub(crate) part_copy: Rule,
        pub(crate) complete: Rule,
        pub(crate) abort: Rule,
        pub(crate) delete: Rule,
    }

    impl Writes {
        pub(crate) fn new() -> Self {
            macro_rules! owned {
                ($op:ident, $output:expr) => {
                    mock!(aws_sdk_s3::Client::$op)
                        .match_requests(|r| r.expected_bucket_owner() == Some(TARGET_ACCOUNT))
                        .then_output(move || $output)
                };
            }
            Writes {
                put: owned!(put_object, PutObjectOutput::builder().build()),
                copy: owned!(copy_object, CopyObjectOutput::builder().build()),
                create: owned!(
                    create_multipart_upload,
                    CreateMultipartUploadOutput::builder()
                        .upload_id("u")
                        .build()
                ),
                part: owned!(upload_part, UploadPartOutput::builder().e_tag("p").build()),
                part_copy: owned!(
                    upload_part_copy,
                    UploadPartCopyOutput::builder()
                        .copy_part_result(CopyPartResult::builder().e_tag("p").build())
                        .build()
                ),
                complete: owned!(
                    complete_multipart_upload,
                    CompleteMultipartUploadOutput::builder().build()
                ),
                abort: owned!(
                    abort_multipart_upload,
                    AbortMultipartUploadOutput::builder().build()
                ),
                delete: owned!(delete_objects, DeleteObjectsOutput::builder().build()),
            }
        }

        pub(crate) fn rules<'a>(&'a self, extra: &[&'a Rule]) -> Vec<&'a Rule> {
            let mut rules = vec![
                &self.put,
                &self.copy,
                &self.create,
                &self.part,
                &self.part_copy,
                &self.complete,
                &self.abort,
                &self.delete,
            ];
            rules.extend_from_slice(extra);
            rules
        }
    }

    #[tokio::test]
    async fn every_write_to_the_target_names_its_owner() {
        let writes = Writes::new();
        let head = mock!(aws_sdk_s3::Client::head_object).then_output(|| {
            HeadObjectOutput::builder()
                .content_length(25)
                .e_tag("\"src\"")
                .build()
        });
        let (small, large) = (get(b"0123"), get(b"0123456789abcdefghij"));

        let server_side = sides(Mode::ServerSide, &[], &writes.rules(&[&head]));
        assert_eq!(copy_object(&server_side, &entry(4)).await.unwrap(), Some(4));
        let (resumed, _) = super::super::resumable::transfer(
            &server_side,
            "a/b.pdf",
            None,
            &crate::tasks::budget::Budget::for_duration(Duration::ZERO),
            &mut 0,
        )
        .await
        .unwrap();
        assert!(
            matches!(resumed, super::super::resumable::Resumed::Copied(25)),
            "{resumed:?}"
        );
        let stream_small = sides(Mode::Stream, &[&small], &writes.rules(&[]));
        assert_eq!(
            copy_object(&stream_small, &entry(4)).await.unwrap(),
            Some(4)
        );
        let stream_large = sides(Mode::Stream, &[&large], &writes.rules(&[]));
        assert_eq!(
            copy_object(&stream_large, &entry(20)).await.unwrap(),
            Some(20)
        );
        delete_keys(&server_side, &["a/old.pdf".to_string()], &mut 0)
            .await
            .unwrap();

        assert_eq!(writes.copy.num_calls(), 1, "CopyObject");
        assert_eq!(writes.part_copy.num_calls(), 1, "UploadPartCopy");
        assert_eq!(writes.put.num_calls(), 1, "PutObject");
        assert_eq!(writes.part.num_calls(), 1, "UploadPart");
        assert_eq!(writes.create.num_calls(), 2, "CreateMultipartUpload");
        assert_eq!(writes.complete.num_calls(), 2, "CompleteMultipartUpload");
        assert_eq!(writes.delete.num_calls(), 1, "DeleteObjects");
    }

    #[tokio::test]
    async fn a_failed_upload_is_aborted_naming_the_owner() {
        let writes = Writes::new();
        let source = get(b"0123456789");
        let failing = mock!(aws_sdk_s3::Client::complete_multipart_upload)
            .match_requests(|r| r.expected_bucket_owner() == Some(TARGET_ACCOUNT))
            .then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                    aws_smithy_types::body::SdkBody::from(
                        "<Error><Code>InvalidPart</Code><Message>no</Message></Error>",
                    ),
                )
            });
        let rules = vec![&writes.create, &writes.part, &failing, &writes.abort];
        let stream = sides(Mode::Stream, &[&source], &rules);

        let err = copy_object(&stream, &entry(10)).await.unwrap_err();

        assert!(err.to_string().contains("CompleteMultipartUpload"), "{err}");
        assert_eq!(writes.abort.num_calls(), 1, "AbortMultipartUpload");
    }

    #[test]
    fn copy_source_encodes_everything_but_unreserved_characters_and_slashes() {
        assert_eq!(copy_source("src", "a/b.txt"), "src/a/b.txt");
        assert_eq!(
            copy_source("src", "dossier é/naïve file+1 %20.pdf"),
            "src/dossier%20%C3%A9/na%C3%AFve%20file%2B1%20%2520.pdf"
        );
        assert_eq!(copy_source("b", "q?x=1#frag&y"), "b/q%3Fx%3D1%23frag%26y");
        assert_eq!(copy_source("b", "~_-."), "b/~_-.");
        assert_eq!(copy_source("b", "日本"), "b/%E6%97%A5%E6%9C%AC");
    }

    #[test]
    fn part_sizes_stay_within_ten_thousand_parts() {
        const MIB: u64 = 1024 * 1024;
        assert_eq!(part_size(100 * MIB, 8 * MIB), 8 * MIB);
        let five_tib = 5 * 1024 * 1024 * MIB;
        let size = part_size(five_tib, 8 * MIB);
        assert!(five_tib.div_ceil(size) <= MAX_PARTS);
        assert_eq!(size % MIB, 0);
        assert_eq!(part_size(0, 8 * MIB), 8 * MIB);
    }
}
