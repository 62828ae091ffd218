//! Objects too large for one request (server-side above the single-copy limit, streamed from the
//! stream part size) travel as multipart uploads that can span invocations.
//!
//! Parts go in windows of a few at once (`UploadPartCopy` ranges, or ranged `GetObject` into
//! `UploadPart`), every range pinned to the source's ETag. Each window is timed, and another starts
//! only while the budget allows it ([`Budget::allows`]); when it does not, the upload is
//! suspended: its id, the source's ETag, the part size and the finished parts' ETags go into the
//! continuation ([`PendingUpload`]) and the next invocation continues it. A source whose ETag or
//! size changed in between is not resumed: the upload is aborted and started again; one that is
//! no longer open (an invocation that failed aborted it, and the state machine retried with the
//! same continuation) starts again too. An upload is aborted when a part fails; one left suspended
//! when the sync fails is aborted by the caller ([`abort`]).
//!
//! The continuation stays small: an upload has at most [`MAX_CARRIED_PARTS`] parts (the part size
//! grows for larger objects, up to S3's 5 GiB part limit at 5 TiB), about 80 bytes each.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedPart};

use crate::contract::{PendingUpload, UploadedPart};
use crate::error::TaskError;
use crate::tasks::budget::{Budget, Pace};

use super::transfer::{
    COPY_PARTS_IN_FLIGHT, Mode, STREAM_PARTS_IN_FLIGHT, Sides, SourceObject, abort_upload,
    body_error, copy_source, create_upload, finish_upload, missing_field, part_size, retrying,
    source_head,
};

/// Most parts of an upload carried in a continuation.
pub const MAX_CARRIED_PARTS: u64 = 1024;

const MIB: u64 = 1024 * 1024;

/// How a resumable transfer ended in this invocation.
#[derive(Debug)]
pub enum Resumed {
    /// Completed: the bytes copied.
    Copied(u64),
    /// The source object is gone: nothing to copy.
    Gone,
    /// The budget ran out: continue with this upload.
    Suspended(PendingUpload),
}

/// Whether an object of `size` bytes travels as a resumable multipart upload.
pub fn is_resumable(sides: &Sides, size: u64) -> bool {
    match sides.mode {
        Mode::ServerSide => size > sides.limits.max_single_copy,
        Mode::Stream => size >= sides.limits.stream_part_size.max(1),
    }
}

/// The part size of a resumable upload of `size` bytes: [`part_size`], grown so that the upload
/// has at most [`MAX_CARRIED_PARTS`] parts.
pub fn resumable_part_size(size: u64, preferred: u64) -> u64 {
    let carried = size.div_ceil(MAX_CARRIED_PARTS).next_multiple_of(MIB);
    part_size(size, preferred).max(carried)
}

/// Copies `key` in parts, continuing `pending` when it is an upload of the same source object;
/// at least one window of parts goes per call, then more while `budget` allows. Returns how it
/// ended and the longest window.
pub async fn transfer(
    sides: &Sides,
    key: &str,
    pending: Option<PendingUpload>,
    budget: &Budget,
    retries: &mut u64,
) -> Result<(Resumed, Duration), TaskError> {
    let Some(source) = source_head(sides, key).await? else {
        if let Some(stale) = pending {
            abort(sides, &stale).await;
        }
        return Ok((Resumed::Gone, Duration::ZERO));
    };
    // A carried upload may have been aborted by an invocation that failed and was retried with
    // the same continuation: it then starts again, once.
    let mut carried = false;
    let mut upload = match pending {
        Some(p) if p.source_etag == source.etag && p.size == source.size => {
            carried = true;
            p
        }
        stale => {
            if let Some(stale) = stale {
                tracing::info!(
                    target = %sides.target_place(key),
                    "the source changed since its upload started: the upload starts again"
                );
                abort(sides, &stale).await;
            }
            start(sides, key, &source).await?
        }
    };
    let window = match sides.mode {
        Mode::ServerSide => COPY_PARTS_IN_FLIGHT,
        Mode::Stream => STREAM_PARTS_IN_FLIGHT,
    } as u64;
    let mut pace = Pace::default();
    let mut first = true;
    while (upload.parts.len() as u64) < total_parts(&upload) {
        if !first && !budget.allows(&pace) {
            return Ok((Resumed::Suspended(upload), pace.longest()));
        }
        first = false;
        let started = Instant::now();
        let next = upload.parts.len() as u64 + 1;
        let numbers = next..=(next + window - 1).min(total_parts(&upload));
        let sent = futures::future::join_all(numbers.map(|n| {
            let upload = &upload;
            async move {
                let mut part_retries = 0;
                let part = retrying(&mut part_retries, || send_part(sides, upload, n)).await;
                (part, part_retries)
            }
        }))
        .await;
        let mut failure = None;
        for (part, part_retries) in sent {
            *retries += part_retries;
            match part {
                Ok(part) if failure.is_none() => upload.parts.push(part),
                Ok(_) => {}
                Err(err) => {
                    failure.get_or_insert(err);
                }
            }
        }
        if let Some(err) = failure {
            if carried && is_no_such_upload(&err) {
                tracing::info!(
                    target = %sides.target_place(key),
                    "the carried upload is no longer open: the upload starts again"
                );
                carried = false;
                upload = start(sides, key, &source).await?;
                continue;
            }
            abort(sides, &upload).await;
            return Err(err);
        }
        pace.record_since(started);
    }
    let parts = completed_parts(&upload.parts);
    finish_upload(sides, key, &upload.upload_id, Ok(parts)).await?;
    Ok((Resumed::Copied(upload.size), pace.longest()))
}

/// Creates the upload of `key` from `source`.
async fn start(
    sides: &Sides,
    key: &str,
    source: &SourceObject,
) -> Result<PendingUpload, TaskError> {
    let preferred = match sides.mode {
        Mode::ServerSide => sides.limits.copy_part_size,
        Mode::Stream => sides.limits.stream_part_size,
    };
    let stream = sides.mode == Mode::Stream;
    Ok(PendingUpload {
        key: key.to_string(),
        upload_id: create_upload(sides, key, &source.headers, stream).await?,
        source_etag: source.etag.clone(),
        size: source.size,
        part_size: resumable_part_size(source.size, preferred),
        parts: Vec::new(),
    })
}

/// Whether S3 answered that the upload is not open (`NoSuchUpload`).
fn is_no_such_upload(err: &TaskError) -> bool {
    matches!(err, TaskError::Aws { detail, .. } if detail.starts_with("NoSuchUpload"))
}

/// Aborts a carried upload (the sync failed, or its source changed).
pub async fn abort(sides: &Sides, upload: &PendingUpload) {
    abort_upload(sides, &upload.key, &upload.upload_id).await;
}

fn completed_parts(parts: &[UploadedPart]) -> Vec<CompletedPart> {
    parts
        .iter()
        .zip(1i32..)
        .map(|(part, number)| {
            CompletedPart::builder()
                .part_number(number)
                .e_tag(&part.etag)
                .set_checksum_crc32(part.crc32.clone())
                .build()
        })
        .collect()
}

/// The number of parts of `upload`.
fn total_parts(upload: &PendingUpload) -> u64 {
    upload.size.div_ceil(upload.part_size.max(1)).max(1)
}

/// The first and last byte of part `number` (from 1).
fn range(upload: &PendingUpload, number: u64) -> (u64, u64) {
    let first = (number - 1) * upload.part_size;
    (first, (first + upload.part_size).min(upload.size) - 1)
}

async fn send_part(
    sides: &Sides,
    upload: &PendingUpload,
    number: u64,
) -> Result<UploadedPart, TaskError> {
    match sides.mode {
        Mode::ServerSide => copy_part(sides, upload, number).await,
        Mode::Stream => stream_part(sides, upload, number).await,
    }
}

fn part_place(sides: &Sides, upload: &PendingUpload, number: u64) -> String {
    format!("{} (part {number})", sides.target_place(&upload.key))
}

async fn copy_part(
    sides: &Sides,
    upload: &PendingUpload,
    number: u64,
) -> Result<UploadedPart, TaskError> {
    let (first, last) = range(upload, number);
    let place = part_place(sides, upload, number);
    let out = sides
        .target
        .upload_part_copy()
        .bucket(&sides.target_bucket)
        .expected_bucket_owner(&sides.target_owner)
        .key(&upload.key)
        .upload_id(&upload.upload_id)
        .part_number(i32::try_from(number).unwrap_or(i32::MAX))
        .copy_source(copy_source(&sides.source_bucket, &upload.key))
        .copy_source_range(format!("bytes={first}-{last}"))
        .copy_source_if_match(&upload.source_etag)
        .send()
        .await
        .map_err(|e| TaskError::aws("UploadPartCopy", place.clone(), e.into_service_error()))?;
    let etag = out
        .copy_part_result
        .and_then(|r| r.e_tag)
        .ok_or_else(|| missing_field("UploadPartCopy", &place, "an ETag"))?;
    Ok(UploadedPart { etag, crc32: None })
}

async fn stream_part(
    sides: &Sides,
    upload: &PendingUpload,
    number: u64,
) -> Result<UploadedPart, TaskError> {
    let (first, last) = range(upload, number);
    let source_place = sides.source_place(&upload.key);
    let place = part_place(sides, upload, number);
    let _permit = sides.buffer(last - first + 1).await;
    let got = sides
        .source
        .get_object()
        .bucket(&sides.source_bucket)
        .key(&upload.key)
        .range(format!("bytes={first}-{last}"))
        .if_match(&upload.source_etag)
        .send()
        .await
        .map_err(|e| TaskError::aws("GetObject", source_place.clone(), e.into_service_error()))?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| body_error("GetObject", source_place, e))?
        .into_bytes();
    let out = sides
        .target
        .upload_part()
        .bucket(&sides.target_bucket)
        .expected_bucket_owner(&sides.target_owner)
        .key(&upload.key)
        .upload_id(&upload.upload_id)
        .part_number(i32::try_from(number).unwrap_or(i32::MAX))
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .content_length(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| TaskError::aws("UploadPart", place.clone(), e.into_service_error()))?;
    let etag = out
        .e_tag
        .ok_or_else(|| missing_field("UploadPart", &place, "an ETag"))?;
    Ok(UploadedPart {
        etag,
        crc32: out.checksum_crc32,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_s3::operation::{
        create_multipart_upload::CreateMultipartUploadOutput, get_object::GetObjectOutput,
        head_object::HeadObjectOutput, upload_part::UploadPartOutput,
    };
    use aws_smithy_mocks::{Rule, mock};

    use super::super::transfer::tests::{TARGET_ACCOUNT, Writes, sides};
    use super::*;

    fn head(size: i64, etag: &'static str) -> Rule {
        mock!(aws_sdk_s3::Client::head_object).then_output(move || {
            HeadObjectOutput::builder()
                .content_length(size)
                .e_tag(etag)
                .build()
        })
    }

    fn carried(upload_id: &str, etag: &str) -> PendingUpload {
        PendingUpload {
            key: "a/b.pdf".into(),
            upload_id: upload_id.into(),
            source_etag: etag.into(),
            size: 30,
            part_size: 10,
            parts: vec![UploadedPart {
                etag: "p1".into(),
                crc32: None,
            }],
        }
    }

    /// A source of 30 bytes read in 10-byte ranges.
    fn ranged_get() -> Rule {
        mock!(aws_sdk_s3::Client::get_object).then_output(|| {
            GetObjectOutput::builder()
                .content_length(10)
                .body(ByteStream::from_static(b"0123456789"))
                .build()
        })
    }

    #[tokio::test]
    async fn a_carried_upload_continues_from_its_next_part_and_completes() {
        let writes = Writes::new();
        let (source_head, get) = (head(30, "\"src\""), ranged_get());
        let stream = sides(Mode::Stream, &[&source_head, &get], &writes.rules(&[]));
        let budget = Budget::for_duration(Duration::ZERO);

        let (resumed, _) = transfer(
            &stream,
            "a/b.pdf",
            Some(carried("u1", "\"src\"")),
            &budget,
            &mut 0,
        )
        .await
        .unwrap();

        assert!(matches!(resumed, Resumed::Copied(30)), "{resumed:?}");
        assert_eq!(writes.create.num_calls(), 0, "no new upload");
        assert_eq!(writes.part.num_calls(), 2, "parts 2 and 3 only");
        assert_eq!(writes.complete.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_carried_upload_of_a_changed_source_is_aborted_and_started_again() {
        let writes = Writes::new();
        let (source_head, get) = (head(30, "\"new\""), ranged_get());
        let stream = sides(Mode::Stream, &[&source_head, &get], &writes.rules(&[]));
        let budget = Budget::for_duration(Duration::ZERO);

        let (resumed, _) = transfer(
            &stream,
            "a/b.pdf",
            Some(carried("u1", "\"old\"")),
            &budget,
            &mut 0,
        )
        .await
        .unwrap();

        assert!(matches!(resumed, Resumed::Copied(30)), "{resumed:?}");
        assert_eq!(writes.abort.num_calls(), 1, "the old upload is aborted");
        assert_eq!(writes.create.num_calls(), 1, "a new upload");
        assert_eq!(
            writes.part.num_calls(),
            1,
            "the whole object again, in one 1 MiB part"
        );
    }

    #[tokio::test]
    async fn a_carried_upload_no_longer_open_is_started_again() {
        let writes = Writes::new();
        let gone = mock!(aws_sdk_s3::Client::upload_part)
            .match_requests(|r| r.upload_id() == Some("u1"))
            .then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(404).unwrap(),
                    aws_smithy_types::body::SdkBody::from(
                        "<Error><Code>NoSuchUpload</Code><Message>gone</Message></Error>",
                    ),
                )
            });
        let fresh = mock!(aws_sdk_s3::Client::upload_part)
            .match_requests(|r| {
                r.upload_id() == Some("u2") && r.expected_bucket_owner() == Some(TARGET_ACCOUNT)
            })
            .then_output(|| UploadPartOutput::builder().e_tag("p").build());
        let create = mock!(aws_sdk_s3::Client::create_multipart_upload).then_output(|| {
            CreateMultipartUploadOutput::builder()
                .upload_id("u2")
                .build()
        });
        let (source_head, get) = (head(30, "\"src\""), ranged_get());
        let target = vec![&gone, &fresh, &create, &writes.complete, &writes.abort];
        let stream = sides(Mode::Stream, &[&source_head, &get], &target);
        let budget = Budget::for_duration(Duration::from_secs(600));

        let (resumed, _) = transfer(
            &stream,
            "a/b.pdf",
            Some(carried("u1", "\"src\"")),
            &budget,
            &mut 0,
        )
        .await
        .unwrap();

        assert!(matches!(resumed, Resumed::Copied(30)), "{resumed:?}");
        assert_eq!(create.num_calls(), 1);
        assert_eq!(
            fresh.num_calls(),
            1,
            "the whole object again, in one 1 MiB part"
        );
        assert_eq!(writes.abort.num_calls(), 0);
    }

    #[test]
    fn an_upload_carries_at_most_max_carried_parts() {
        assert_eq!(resumable_part_size(100 * MIB, 8 * MIB), 8 * MIB);
        let five_tib = 5 * 1024 * 1024 * MIB;
        let size = resumable_part_size(five_tib, 8 * MIB);
        assert!(five_tib.div_ceil(size) <= MAX_CARRIED_PARTS);
        assert!(size <= 5 * 1024 * MIB, "within S3's 5 GiB part limit");
        let ten_gib = 10 * 1024 * MIB;
        assert_eq!(
            ten_gib.div_ceil(resumable_part_size(ten_gib, 8 * MIB)),
            1024
        );
    }

    #[test]
    fn a_full_continuation_stays_small() {
        let etag = format!("\"{}\"", "f".repeat(32));
        let upload = PendingUpload {
            key: "k".repeat(1024),
            upload_id: "u".repeat(256),
            source_etag: format!("\"{}-10000\"", "f".repeat(32)),
            size: u64::MAX,
            part_size: u64::MAX,
            parts: vec![
                UploadedPart {
                    etag,
                    crc32: Some("AAAAAA==".into()),
                };
                MAX_CARRIED_PARTS as usize
            ],
        };
        let bytes = serde_json::to_vec(&upload).unwrap().len();
        assert!(bytes <= 100 * 1024, "{bytes} bytes");
    }

    #[test]
    fn parts_cover_the_object_exactly() {
        let upload = PendingUpload {
            size: 12 * MIB + 3,
            part_size: 5 * MIB,
            ..PendingUpload::default()
        };
        assert_eq!(range(&upload, 1), (0, 5 * MIB - 1));
        assert_eq!(range(&upload, 3), (10 * MIB, 12 * MIB + 2));
    }
}
