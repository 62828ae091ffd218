//! sync-bucket between two accounts: more than a page of objects with awkward keys, re-runs, forced
//! continuations, the deletion guards (also re-checked after the count), dry runs, server-side and
//! streamed transfers (single and multipart), prefixes, and the protected guard.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumType, CompletedMultipartUpload, CompletedPart};
use shared::TaskError;
use shared::aws::{Aws, Session};
use shared::contract::{
    BucketSpec, Environment, SyncBucketInput, SyncBucketOutput, SyncPhase, Transfer,
};
use shared::tasks::budget::Budget;
use shared::tasks::sync_bucket::{Limits, sync_bucket, sync_bucket_with_limits};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use ferry_tests::fixtures::Account;
use ferry_tests::{aws, prod, test_env, unique};

use crate::config;

const MIB: usize = 1024 * 1024;

/// Keys S3 accepts but naive encoders get wrong.
const AWKWARD_KEYS: [&str; 6] = [
    "dossier é/naïve file+1 %20.pdf",
    "a b/c+d/e%f/100% done.txt",
    "query?x=1&y=2#frag.txt",
    "日本語/ファイル名.txt",
    "deep/a/b/c/d/e/f/g.txt",
    "empty/zero-bytes.bin",
];

/// Two buckets: the source in prod, the target in test.
struct Pair {
    aws: Aws,
    source: String,
    target: String,
    src: Client,
    dst: Client,
}

async fn pair(name: &str) -> Pair {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let source = unique(&format!("{name}-src"));
    let target = unique(&format!("{name}-dst"));
    let (src, dst) = {
        let p = account(&session, prod());
        let t = account(&session, test_env());
        p.create_bucket(&source).await;
        t.create_bucket(&target).await;
        (p.s3().await, t.s3().await)
    };
    Pair {
        aws,
        source,
        target,
        src,
        dst,
    }
}

fn account(session: &Session, env: Environment) -> Account<'_> {
    Account { session, env }
}

impl Pair {
    fn spec(&self, prefix: &str, transfer: Transfer) -> BucketSpec {
        BucketSpec {
            source: self.source.clone(),
            target: self.target.clone(),
            prefix: prefix.into(),
            delete: true,
            max_delete: 100,
            concurrency: 16,
            transfer,
        }
    }

    fn input(&self, bucket: BucketSpec) -> SyncBucketInput {
        SyncBucketInput {
            run_id: unique("run"),
            source: prod(),
            target: test_env(),
            bucket,
            dry_run: false,
            progress: None,
        }
    }

    async fn sync(&self, input: SyncBucketInput) -> Result<SyncBucketOutput, TaskError> {
        sync_bucket(&self.aws, &config(), input, unlimited()).await
    }

    /// Calls the step again and again with a budget that is always exhausted, as the state machine
    /// would, until it reports done; returns every output.
    async fn sync_in_slices(&self, mut input: SyncBucketInput) -> Vec<SyncBucketOutput> {
        let mut outputs = Vec::new();
        loop {
            let out = sync_bucket(&self.aws, &config(), input.clone(), exhausted())
                .await
                .unwrap();
            let done = out.done;
            input.progress = Some(out.progress.clone());
            outputs.push(out);
            if done {
                return outputs;
            }
            assert!(outputs.len() < 500, "the sync does not converge");
        }
    }
}

fn unlimited() -> Budget {
    Budget::for_duration(Duration::from_secs(600))
}

fn exhausted() -> Budget {
    Budget::for_duration(Duration::ZERO)
}

/// Deterministic content of varied sizes (0 to ~3 KiB).
fn body(i: usize, salt: &str) -> Vec<u8> {
    let size = (i * 37) % 3000;
    (0..size)
        .map(|j| b"abcdefghijklmnopqrstuvwxyz0123456789"[(i + j + salt.len()) % 36])
        .collect()
}

async fn put(client: &Client, bucket: &str, key: &str, body: Vec<u8>) {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// Uploads objects 64 at a time.
async fn put_all(client: &Client, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
    let gate = Arc::new(Semaphore::new(64));
    let mut uploads = JoinSet::new();
    for (key, body) in objects {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (client, bucket) = (client.clone(), bucket.to_string());
        uploads.spawn(async move {
            put(&client, &bucket, &key, body).await;
            drop(permit);
        });
    }
    while let Some(done) = uploads.join_next().await {
        done.unwrap();
    }
}

async fn keys(client: &Client, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let out = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        keys.extend(
            out.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        token = out.next_continuation_token;
        if token.is_none() {
            return keys;
        }
    }
}

/// Every object under `prefix`: key → (size, content), read 64 at a time.
async fn snapshot(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> BTreeMap<String, (usize, Vec<u8>)> {
    let gate = Arc::new(Semaphore::new(64));
    let mut reads = JoinSet::new();
    for key in keys(client, bucket, prefix).await {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let (client, bucket) = (client.clone(), bucket.to_string());
        reads.spawn(async move {
            let got = client.get_object().bucket(&bucket).key(&key).send().await;
            let got = got.unwrap_or_else(|e| panic!("get {key}: {e:?}"));
            let bytes = got.body.collect().await.unwrap().into_bytes().to_vec();
            drop(permit);
            (key, (bytes.len(), bytes))
        });
    }
    let mut objects = BTreeMap::new();
    while let Some(read) = reads.join_next().await {
        let (key, value) = read.unwrap();
        objects.insert(key, value);
    }
    objects
}

/// Asserts the target holds exactly the source's objects under `prefix`.
async fn assert_same(pair: &Pair, prefix: &str) -> usize {
    let source = snapshot(&pair.src, &pair.source, prefix).await;
    let target = snapshot(&pair.dst, &pair.target, prefix).await;
    assert_eq!(
        source.keys().collect::<Vec<_>>(),
        target.keys().collect::<Vec<_>>(),
        "the same keys on both sides"
    );
    for (key, value) in &source {
        assert!(target[key] == *value, "content of '{key}' differs");
    }
    source.len()
}

async fn multipart_put(client: &Client, bucket: &str, key: &str, parts: &[Vec<u8>]) {
    multipart_put_with(client, bucket, key, parts, false).await;
}

/// A multipart upload, with a full-object CRC32 checksum when `crc32` is set.
async fn multipart_put_with(
    client: &Client,
    bucket: &str,
    key: &str,
    parts: &[Vec<u8>],
    crc32: bool,
) {
    let mut create = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .content_type("application/x-big")
        .metadata("origin", "multipart");
    if crc32 {
        create = create
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(ChecksumType::FullObject);
    }
    let upload_id = create.send().await.unwrap().upload_id.unwrap();
    let mut completed = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let number = i as i32 + 1;
        let mut upload = client
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(part.clone()));
        if crc32 {
            upload = upload.checksum_algorithm(ChecksumAlgorithm::Crc32);
        }
        let out = upload.send().await.unwrap();
        completed.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag)
                .set_checksum_crc32(out.checksum_crc32)
                .build(),
        );
    }
    client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(completed))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// Lets S3's one-second write times tell the writes before and after apart.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

fn big(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn syncs_more_than_a_page_of_awkward_keys_and_a_rerun_changes_nothing() {
    let pair = pair("sync-bulk").await;
    let mut source: Vec<(String, Vec<u8>)> = (0..1094)
        .map(|i| (format!("bulk/{i:04}.txt"), body(i, "")))
        .collect();
    source.extend(AWKWARD_KEYS.iter().enumerate().map(|(i, k)| {
        let content = if k.starts_with("empty/") {
            Vec::new()
        } else {
            body(i + 7, k)
        };
        (k.to_string(), content)
    }));
    source.push(("changed.txt".into(), b"version-2".to_vec()));
    assert!(source.len() > 1100);
    // The target already holds 500 identical objects, an older "changed.txt" of the same size, and
    // two objects the source lacks.
    let mut target: Vec<(String, Vec<u8>)> = source[..500].to_vec();
    target.push(("changed.txt".into(), b"version-1".to_vec()));
    target.push(("bulk/0005.txt.old".into(), b"stale".to_vec()));
    target.push(("zz-extra.txt".into(), Vec::new()));
    put_all(&pair.src, &pair.source, source.clone()).await;
    put_all(&pair.dst, &pair.target, target).await;

    let out = pair
        .sync(pair.input(pair.spec("", Transfer::Auto)))
        .await
        .unwrap();

    assert!(out.done);
    assert_eq!(
        out.transfer, "server_side",
        "one local endpoint: the target reads the source"
    );
    let c = out.progress.counts;
    assert_eq!(c.source_objects, source.len() as u64);
    assert_eq!(c.target_objects, 503);
    assert_eq!(c.to_copy, source.len() as u64 - 500);
    assert_eq!(c.copied, c.to_copy);
    assert_eq!((c.to_delete, c.deleted), (2, 2));
    assert_eq!(c.invocations, 1);
    let expected_bytes: usize = source[500..].iter().map(|(_, b)| b.len()).sum();
    assert_eq!(c.bytes_copied, expected_bytes as u64);
    assert_eq!(out.sample_copies.len(), 20);
    assert_eq!(out.sample_deletes, ["bulk/0005.txt.old", "zz-extra.txt"]);
    assert_eq!(assert_same(&pair, "").await, source.len());

    let again = pair
        .sync(pair.input(pair.spec("", Transfer::ServerSide)))
        .await
        .unwrap();
    assert!(again.done);
    let c = again.progress.counts;
    assert_eq!((c.to_copy, c.copied, c.to_delete, c.deleted), (0, 0, 0, 0));
    assert_eq!(
        (c.source_objects, c.target_objects),
        (source.len() as u64, source.len() as u64)
    );
    assert!(again.sample_copies.is_empty() && again.sample_deletes.is_empty());
}

#[tokio::test]
async fn a_forced_continuation_resumes_exactly_where_it_stopped() {
    let pair = pair("sync-slices").await;
    let source: Vec<(String, Vec<u8>)> = (0..24)
        .map(|i| (format!("doc-{i:02} {}", AWKWARD_KEYS[i % 6]), body(i, "s")))
        .collect();
    let mut target: Vec<(String, Vec<u8>)> = source[..8].to_vec();
    target.push((source[9].0.clone(), b"stale".to_vec()));
    for i in 0..4 {
        target.push((format!("doc-{i:02}-gone"), b"x".to_vec()));
    }
    put_all(&pair.src, &pair.source, source.clone()).await;
    put_all(&pair.dst, &pair.target, target).await;
    let mut spec = pair.spec("", Transfer::ServerSide);
    spec.concurrency = 4;

    let outputs = pair.sync_in_slices(pair.input(spec)).await;

    let last = outputs.last().unwrap();
    let c = last.progress.counts;
    assert!(c.invocations > 1, "{c:?}");
    assert_eq!(c.invocations as usize, outputs.len());
    assert_eq!((c.source_objects, c.target_objects), (24, 13));
    assert_eq!(
        (c.to_copy, c.copied),
        (16, 16),
        "each key counted and copied once"
    );
    assert_eq!((c.to_delete, c.deleted), (4, 4));
    // Each slice resumes after the last key of the previous one, phase by phase.
    let mut previous: Option<(SyncPhase, String)> = None;
    for out in &outputs[..outputs.len() - 1] {
        assert!(!out.done);
        let phase = out.progress.phase;
        if let Some(key) = &out.progress.start_after {
            if let Some((p, k)) = &previous
                && *p == phase
            {
                assert!(key > k, "{key} after {k}");
            }
            previous = Some((phase, key.clone()));
        }
    }
    assert!(
        outputs
            .iter()
            .any(|o| o.progress.phase == SyncPhase::Count && !o.done)
    );
    assert!(
        outputs
            .iter()
            .any(|o| o.progress.phase == SyncPhase::Apply && !o.done)
    );
    assert_eq!(assert_same(&pair, "").await, 24);
}

/// Keys just before, inside and just after folders: '.' (0x2E) sorts before '/' (0x2F) and '0'
/// (0x30) after it, so keys directly under the prefix fall between the folders it is listed by.
#[tokio::test]
async fn keys_around_folder_boundaries_sync_in_order_across_continuations() {
    let pair = pair("sync-folders").await;
    let source: Vec<(String, Vec<u8>)> = [
        "p/a", "p/a.txt", "p/a/x", "p/a/y/z", "p/a0", "p/b/", "p/b/1", "p/c", "p/d/é", "p/z",
    ]
    .iter()
    .enumerate()
    .map(|(i, k)| (k.to_string(), body(i + 1, k)))
    .collect();
    let mut target: Vec<(String, Vec<u8>)> = vec![source[2].clone()];
    for key in ["p/a.txt", "p/b/0", "p/c0", "p/d/ü", "q/kept"] {
        target.push((key.into(), b"stale".to_vec()));
    }
    put_all(&pair.src, &pair.source, source.clone()).await;
    put_all(&pair.dst, &pair.target, target).await;
    let mut spec = pair.spec("p/", Transfer::ServerSide);
    spec.concurrency = 1;

    let outputs = pair.sync_in_slices(pair.input(spec)).await;

    let c = outputs.last().unwrap().progress.counts;
    assert!(c.invocations > 4, "{c:?}");
    assert_eq!((c.source_objects, c.target_objects), (10, 5));
    assert_eq!(
        (c.to_copy, c.copied),
        (9, 9),
        "each key counted and copied once"
    );
    assert_eq!((c.to_delete, c.deleted), (3, 3));
    assert_eq!(assert_same(&pair, "p/").await, 10);
    assert_eq!(keys(&pair.dst, &pair.target, "q/").await, ["q/kept"]);
}

#[tokio::test]
async fn an_empty_source_with_delete_on_is_refused_and_nothing_is_deleted() {
    let pair = pair("sync-empty").await;
    put(&pair.src, &pair.source, "other/kept.txt", b"1".to_vec()).await;
    put_all(
        &pair.dst,
        &pair.target,
        (0..3)
            .map(|i| (format!("reports/{i}.csv"), b"r".to_vec()))
            .collect(),
    )
    .await;

    let err = pair
        .sync(pair.input(pair.spec("reports/", Transfer::ServerSide)))
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("s3://{}/reports/", pair.source)),
        "{message}"
    );
    assert!(message.contains("holds 3"), "{message}");
    assert_eq!(
        keys(&pair.dst, &pair.target, "").await.len(),
        3,
        "nothing deleted"
    );
}

#[tokio::test]
async fn more_deletions_than_max_delete_are_refused_before_any_change() {
    let pair = pair("sync-maxdel").await;
    put_all(
        &pair.src,
        &pair.source,
        vec![
            ("new-1".into(), b"a".to_vec()),
            ("new-2".into(), b"b".to_vec()),
        ],
    )
    .await;
    put_all(
        &pair.dst,
        &pair.target,
        (0..5)
            .map(|i| (format!("old-{i}"), b"o".to_vec()))
            .collect(),
    )
    .await;
    let mut spec = pair.spec("", Transfer::ServerSide);
    spec.max_delete = 3;

    let err = pair.sync(pair.input(spec)).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    let message = err.to_string();
    assert!(message.contains("would delete 5"), "{message}");
    assert!(message.contains("max_delete 3"), "{message}");
    assert!(message.contains(&pair.target), "{message}");
    assert_eq!(
        keys(&pair.dst, &pair.target, "").await,
        (0..5).map(|i| format!("old-{i}")).collect::<Vec<_>>(),
        "nothing deleted, nothing copied"
    );
}

#[tokio::test]
async fn apply_rechecks_the_guards_when_the_source_shrinks_after_the_count() {
    let pair = pair("sync-race").await;
    let source: Vec<(String, Vec<u8>)> = (0..4).map(|i| (format!("k{i}"), body(i, "r"))).collect();
    put_all(&pair.src, &pair.source, source.clone()).await;
    put_all(&pair.dst, &pair.target, source.clone()).await;
    put(&pair.dst, &pair.target, "k9-extra", b"x".to_vec()).await;
    put(&pair.src, &pair.source, "k5-new", b"n".to_vec()).await;
    let mut spec = pair.spec("", Transfer::ServerSide);
    spec.max_delete = 2;
    let mut input = pair.input(spec);
    // Count in slices until the step moves on to applying.
    loop {
        let out = sync_bucket(&pair.aws, &config(), input.clone(), exhausted())
            .await
            .unwrap();
        assert!(!out.done);
        input.progress = Some(out.progress.clone());
        if out.progress.phase == SyncPhase::Apply {
            assert_eq!(out.progress.counts.to_delete, 1);
            break;
        }
    }
    // The source loses three objects: applying now would delete four, above max_delete 2.
    for key in ["k0", "k1", "k2"] {
        pair.src
            .delete_object()
            .bucket(&pair.source)
            .key(key)
            .send()
            .await
            .unwrap();
    }

    let mut deleted_errors = None;
    for _ in 0..20 {
        match sync_bucket(&pair.aws, &config(), input.clone(), exhausted()).await {
            Ok(out) => {
                assert!(!out.done, "must not finish: {out:?}");
                input.progress = Some(out.progress);
            }
            Err(err) => {
                deleted_errors = Some(err);
                break;
            }
        }
    }
    let err = deleted_errors.expect("the apply pass refuses");
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("max_delete 2"), "{err}");
    let left = keys(&pair.dst, &pair.target, "").await;
    assert!(
        left.len() >= 5 - 2,
        "at most max_delete deletions: {left:?}"
    );

    // With the source now empty under the prefix, applying refuses outright.
    for key in ["k3", "k5-new"] {
        pair.src
            .delete_object()
            .bucket(&pair.source)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let before = keys(&pair.dst, &pair.target, "").await;
    let err = sync_bucket(&pair.aws, &config(), input.clone(), unlimited())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("no objects"), "{err}");
    assert_eq!(keys(&pair.dst, &pair.target, "").await, before);
}

#[tokio::test]
async fn a_dry_run_counts_and_samples_and_changes_nothing() {
    let pair = pair("sync-dry").await;
    let source: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("f/{i:02}"), body(i, "d")))
        .collect();
    put_all(&pair.src, &pair.source, source.clone()).await;
    put_all(&pair.dst, &pair.target, source[..5].to_vec()).await;
    put(&pair.dst, &pair.target, "f/zz", b"gone".to_vec()).await;
    let before = snapshot(&pair.dst, &pair.target, "").await;
    let mut input = pair.input(pair.spec("f/", Transfer::Auto));
    input.dry_run = true;

    let out = pair.sync(input).await.unwrap();

    assert!(out.done);
    assert_eq!(out.progress.phase, SyncPhase::Count);
    let c = out.progress.counts;
    assert_eq!((c.source_objects, c.target_objects), (30, 6));
    assert_eq!((c.to_copy, c.to_delete), (25, 1));
    assert_eq!((c.copied, c.deleted, c.bytes_copied), (0, 0, 0));
    assert_eq!(out.sample_copies.len(), 20);
    assert_eq!(out.sample_copies[0], "f/05");
    assert_eq!(out.sample_deletes, ["f/zz"]);
    assert_eq!(snapshot(&pair.dst, &pair.target, "").await, before);
}

/// Small thresholds so the 12 MiB object takes the multipart paths, in 7 MiB parts: its copy has
/// two parts where the source has three, which shows in the ETag.
fn small_limits() -> Limits {
    Limits {
        max_single_copy: 6 * MIB as u64,
        copy_part_size: 7 * MIB as u64,
        stream_part_size: 7 * MIB as u64,
        stream_memory: 64 * MIB as u64,
    }
}

async fn seed_mixed(pair: &Pair) -> Vec<(String, Vec<u8>)> {
    let small: Vec<(String, Vec<u8>)> = AWKWARD_KEYS
        .iter()
        .enumerate()
        .map(|(i, k)| (k.to_string(), body(i * 11, k)))
        .collect();
    put_all(&pair.src, &pair.source, small.clone()).await;
    pair.src
        .put_object()
        .bucket(&pair.source)
        .key("typed/report.json")
        .content_type("application/json")
        .cache_control("max-age=60")
        .metadata("owner", "records-team")
        .body(ByteStream::from(b"{\"a\":1}".to_vec()))
        .send()
        .await
        .unwrap();
    multipart_put(
        &pair.src,
        &pair.source,
        "big/archive.bin",
        &[big(5 * MIB, 1), big(5 * MIB, 2), big(2 * MIB + 3, 3)],
    )
    .await;
    // Copies made from now on are strictly newer than their sources.
    next_second().await;
    small
}

async fn assert_headers(pair: &Pair) {
    let typed = pair
        .dst
        .head_object()
        .bucket(&pair.target)
        .key("typed/report.json")
        .send()
        .await
        .unwrap();
    assert_eq!(typed.content_type(), Some("application/json"));
    assert_eq!(typed.cache_control(), Some("max-age=60"));
    assert_eq!(
        typed.metadata(),
        Some(&HashMap::from([(
            "owner".to_string(),
            "records-team".to_string()
        )]))
    );
    let big = pair
        .dst
        .head_object()
        .bucket(&pair.target)
        .key("big/archive.bin")
        .send()
        .await
        .unwrap();
    assert_eq!(big.content_type(), Some("application/x-big"));
    assert!(
        big.e_tag().is_some_and(|e| e.ends_with("-2\"")),
        "copied in two parts: {:?}",
        big.e_tag()
    );
    assert_eq!(
        big.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("multipart")
    );
}

/// Syncs the whole source bucket of `pair` with `transfer`, multipart thresholds lowered.
async fn sync_whole(pair: &Pair, transfer: Transfer) -> SyncBucketOutput {
    sync_bucket_with_limits(
        &pair.aws,
        &config(),
        pair.input(pair.spec("", transfer)),
        unlimited(),
        small_limits(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn streams_across_accounts_with_two_credentials() {
    let pair = pair("sync-stream").await;
    seed_mixed(&pair).await;
    put(&pair.dst, &pair.target, "extra", b"x".to_vec()).await;

    let out = sync_whole(&pair, Transfer::Stream).await;

    assert!(out.done);
    assert_eq!(out.transfer, "stream");
    let c = out.progress.counts;
    assert_eq!((c.copied, c.deleted), (8, 1));
    assert_eq!(assert_same(&pair, "").await, 8);
    assert_headers(&pair).await;

    let again = sync_whole(&pair, Transfer::Stream).await;
    assert_eq!(
        again.progress.counts.copied, 0,
        "{:?}",
        again.progress.counts
    );
}

#[tokio::test]
async fn copies_server_side_across_accounts_including_a_multipart_copy() {
    let pair = pair("sync-server").await;
    seed_mixed(&pair).await;

    let out = sync_whole(&pair, Transfer::ServerSide).await;

    assert!(out.done);
    assert_eq!(out.transfer, "server_side");
    assert_eq!(out.progress.counts.copied, 8);
    assert_eq!(assert_same(&pair, "").await, 8);
    assert_headers(&pair).await;

    let again = sync_whole(&pair, Transfer::ServerSide).await;
    assert_eq!(
        again.progress.counts.copied, 0,
        "{:?}",
        again.progress.counts
    );
}

#[tokio::test]
async fn multipart_etags_are_settled_by_checksums_then_write_times() {
    let pair = pair("sync-etag").await;
    let parts = [big(5 * MIB, 7), big(1000, 8)];
    let content: Vec<u8> = parts.concat();
    let mut other = content.clone();
    other[10] ^= 0xff;
    // Written first: the target's "same.bin" and "fallback.bin" (single part, with the CRC32 the
    // SDK adds by default).
    put(&pair.dst, &pair.target, "same.bin", content.clone()).await;
    put(&pair.dst, &pair.target, "fallback.bin", content.clone()).await;
    next_second().await;
    // Then the multipart sources, so they are newer than those two: "same.bin" and "differs.bin"
    // with a full-object CRC32, "fallback.bin" without a checksum.
    multipart_put_with(&pair.src, &pair.source, "same.bin", &parts, true).await;
    multipart_put_with(&pair.src, &pair.source, "differs.bin", &parts, true).await;
    multipart_put(&pair.src, &pair.source, "fallback.bin", &parts).await;
    next_second().await;
    // Last, a newer target "differs.bin" of the same size but other content.
    put(&pair.dst, &pair.target, "differs.bin", other).await;

    let out = pair
        .sync(pair.input(pair.spec("", Transfer::ServerSide)))
        .await
        .unwrap();

    assert!(out.done);
    let c = out.progress.counts;
    // same.bin: equal full-object checksums, although the source is newer: not copied.
    // differs.bin: different full-object checksums, although the target is newer: copied.
    // fallback.bin: no checksum in common, the source is newer: copied.
    assert_eq!((c.to_copy, c.copied), (2, 2), "{out:?}");
    let mut copied = out.sample_copies.clone();
    copied.sort();
    assert_eq!(copied, ["differs.bin", "fallback.bin"]);
    assert_same(&pair, "").await;

    next_second().await;
    let again = pair
        .sync(pair.input(pair.spec("", Transfer::ServerSide)))
        .await
        .unwrap();
    assert_eq!(
        again.progress.counts.to_copy, 0,
        "{:?}",
        again.progress.counts
    );
}

#[tokio::test]
async fn a_prefix_sync_leaves_objects_outside_the_prefix_untouched() {
    let pair = pair("sync-prefix").await;
    put_all(
        &pair.src,
        &pair.source,
        vec![
            ("in/a".into(), b"1".to_vec()),
            ("in/b/c".into(), b"2".to_vec()),
            ("inside".into(), b"not under in/".to_vec()),
            ("out/x".into(), b"3".to_vec()),
        ],
    )
    .await;
    put_all(
        &pair.dst,
        &pair.target,
        vec![
            ("in/stale".into(), b"s".to_vec()),
            ("inn".into(), b"outside".to_vec()),
            ("out/y".into(), b"kept".to_vec()),
        ],
    )
    .await;

    let out = pair
        .sync(pair.input(pair.spec("in/", Transfer::ServerSide)))
        .await
        .unwrap();

    assert!(out.done);
    let c = out.progress.counts;
    assert_eq!((c.copied, c.deleted), (2, 1));
    assert_same(&pair, "in/").await;
    assert_eq!(
        keys(&pair.dst, &pair.target, "").await,
        ["in/a", "in/b/c", "inn", "out/y"]
    );
}

#[tokio::test]
async fn refuses_a_protected_target_and_writes_nothing() {
    let aws = aws().await;
    let session = aws.session("fixtures");
    let p = account(&session, prod());
    let (source, target) = (unique("sync-prot-src"), unique("sync-prot-dst"));
    p.create_bucket(&source).await;
    p.create_bucket(&target).await;
    let s3 = p.s3().await;
    put(&s3, &source, "a", b"1".to_vec()).await;
    put(&s3, &target, "b", b"2".to_vec()).await;
    let input = SyncBucketInput {
        run_id: unique("run"),
        source: prod(),
        target: prod(),
        bucket: BucketSpec {
            source: source.clone(),
            target: target.clone(),
            prefix: String::new(),
            delete: true,
            max_delete: 100,
            concurrency: 4,
            transfer: Transfer::Auto,
        },
        dry_run: false,
        progress: None,
    };

    let err = sync_bucket(&aws, &config(), input, unlimited())
        .await
        .unwrap_err();

    assert_eq!(err.error_type(), "ProtectedTarget", "{err}");
    assert_eq!(keys(&s3, &target, "").await, ["b"]);
}

/// 5 MiB parts (S3's smallest but the last) for every object of at least 5 MiB.
fn five_mib_parts() -> Limits {
    Limits {
        max_single_copy: 5 * MIB as u64,
        copy_part_size: 5 * MIB as u64,
        stream_part_size: 5 * MIB as u64,
        stream_memory: 64 * MIB as u64,
    }
}

impl Pair {
    /// One invocation with an exhausted budget (each makes progress: a window of parts at least).
    async fn sync_slice(&self, input: &SyncBucketInput) -> SyncBucketOutput {
        sync_bucket_with_limits(
            &self.aws,
            &config(),
            input.clone(),
            exhausted(),
            five_mib_parts(),
        )
        .await
        .unwrap()
    }

    /// Multipart uploads still open in the target bucket.
    async fn open_uploads(&self) -> usize {
        let out = self
            .dst
            .list_multipart_uploads()
            .bucket(&self.target)
            .send()
            .await
            .unwrap();
        out.uploads().len()
    }
}

#[tokio::test]
async fn a_large_object_travels_across_invocations_as_a_resumable_upload() {
    let pair = pair("sync-resume").await;
    let large = big(41 * MIB + 5, 7);
    put(&pair.src, &pair.source, "big/video.bin", large.clone()).await;
    put(&pair.src, &pair.source, "small.txt", b"x".to_vec()).await;

    for transfer in [Transfer::Stream, Transfer::ServerSide] {
        let mut input = pair.input(pair.spec("", transfer));
        let mut carried = Vec::new();
        let mut outputs = 0;
        loop {
            let out = pair.sync_slice(&input).await;
            outputs += 1;
            if let Some(upload) = &out.progress.upload {
                assert_eq!(upload.key, "big/video.bin");
                assert_eq!(out.progress.start_after, None, "resumes before the object");
                carried.push(upload.clone());
            }
            input.progress = Some(out.progress.clone());
            if out.done {
                assert_eq!(out.progress.upload, None);
                break;
            }
            assert!(outputs < 50, "the sync does not converge");
        }
        let parts: Vec<usize> = carried.iter().map(|u| u.parts.len()).collect();
        match transfer {
            // Two parts in flight per window, one window per invocation: 2, 4, 6, 8 of 9 carried.
            Transfer::Stream => assert_eq!(parts, vec![2, 4, 6, 8]),
            // Eight `UploadPartCopy` per window: 8 of 9 carried once.
            _ => assert_eq!(parts, vec![8]),
        }
        assert!(carried.iter().all(|u| u.upload_id == carried[0].upload_id));
        let got = pair
            .dst
            .get_object()
            .bucket(&pair.target)
            .key("big/video.bin")
            .send()
            .await
            .unwrap();
        assert_eq!(got.e_tag().map(|e| e.ends_with("-9\"")), Some(true));
        let bytes = got.body.collect().await.unwrap().into_bytes();
        assert!(
            bytes.as_ref() == large.as_slice(),
            "the target's bytes equal the source's"
        );
        assert_eq!(assert_same(&pair, "").await, 2);
        assert_eq!(pair.open_uploads().await, 0);
        // Start the next transfer from an empty target.
        for key in ["big/video.bin", "small.txt"] {
            pair.dst
                .delete_object()
                .bucket(&pair.target)
                .key(key)
                .send()
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_carried_upload_whose_source_changed_is_aborted_and_started_again() {
    let pair = pair("sync-resume-changed").await;
    put(&pair.src, &pair.source, "big/video.bin", big(21 * MIB, 1)).await;
    let mut input = pair.input(pair.spec("", Transfer::Stream));
    let first = loop {
        let out = pair.sync_slice(&input).await;
        input.progress = Some(out.progress.clone());
        if let Some(upload) = out.progress.upload {
            break upload;
        }
        assert!(!out.done, "the upload was carried");
    };
    assert_eq!(pair.open_uploads().await, 1);

    let changed = big(16 * MIB + 1, 9);
    put(&pair.src, &pair.source, "big/video.bin", changed.clone()).await;
    let out = pair.sync_slice(&input).await;
    let second = out.progress.upload.clone().expect("a new upload, carried");
    assert_ne!(second.upload_id, first.upload_id);
    assert_ne!(second.source_etag, first.source_etag);
    assert_eq!(pair.open_uploads().await, 1, "the first upload was aborted");
    input.progress = Some(out.progress);
    loop {
        let out = pair.sync_slice(&input).await;
        input.progress = Some(out.progress.clone());
        if out.done {
            break;
        }
    }
    assert_eq!(assert_same(&pair, "").await, 1);
    assert_eq!(pair.open_uploads().await, 0);
}
