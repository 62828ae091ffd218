//! The benchmark's objects: how they are named and filled, seeded straight into a server's data
//! directory, and how buckets are listed and checked against the source.
//!
//! Object `i` is `records-FFFF/doc-IIIIIII.bin` in folder `i % folders`, 1–8 KiB of pseudo-random
//! bytes. Seeding writes the files a server would have written for PUT requests (see
//! [`Kind::object_file`]), from a few threads, before the server starts; the source listing is then
//! checked against the expected keys and sizes, and a sample of ETags against `md5sum` of the files.
//!
//! Folders are one level deep: s3rver's listings with a delimiter report no common prefix for keys
//! two levels down, so rclone, which lists folder by folder, would find nothing there.
//!
//! Buckets are listed one folder at a time (prefix `records-FFFF/`, a few folders at once, in
//! order), after a delimiter listing that shows nothing else is there. The local servers walk
//! their whole directory tree for every page of an unprefixed listing, so listing a bucket of n
//! objects that way costs them O(n²); folder by folder it costs O(n). Targets are compared with the
//! source as the pages arrive, so only the source's listing is held.

use std::path::Path;
use std::process::Command;

use aws_sdk_s3::Client;
use futures::{Stream, StreamExt, stream};

use crate::Failure;
use crate::server::Kind;

/// Folders listed at once.
const LISTING_WINDOW: usize = 8;
/// ETags of the seeded source compared with `md5sum` of their files.
pub const MD5_SAMPLE: usize = 64;

/// The keys of a benchmark bucket of `objects` objects spread over `folders` folders.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub objects: usize,
    pub folders: usize,
}

impl Layout {
    /// `objects` objects in `folders` folders (fewer when there are fewer objects).
    pub fn new(objects: usize, folders: usize) -> Layout {
        Layout {
            objects,
            folders: folders.clamp(1, objects.max(1)),
        }
    }

    fn folder(&self, f: usize) -> String {
        format!("records-{f:04}/")
    }

    /// Keys use only characters `rclone serve s3` takes unencoded in a copy source.
    fn key(&self, i: usize) -> String {
        format!("{}doc-{i:07}.bin", self.folder(i % self.folders))
    }

    /// Every key with its size, in S3's listing order (folder by folder).
    fn expected(&self) -> impl Iterator<Item = (String, usize)> + '_ {
        (0..self.folders)
            .flat_map(move |f| (f..self.objects).step_by(self.folders))
            .map(|i| (self.key(i), body_len(i)))
    }
}

fn body_len(i: usize) -> usize {
    1024 + (i * 7919) % (7 * 1024 + 1)
}

/// The content of object `i`.
fn body(i: usize) -> Vec<u8> {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..body_len(i))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Writes every object of `layout` into `bucket` under the data directory of a `kind` server;
/// returns the bytes written.
pub fn seed(kind: Kind, data: &Path, bucket: &str, layout: Layout) -> Result<u64, Failure> {
    for f in 0..layout.folders {
        std::fs::create_dir_all(data.join(bucket).join(layout.folder(f)))?;
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || -> Result<u64, std::io::Error> {
                    let mut bytes = 0;
                    for i in (t..layout.objects).step_by(threads) {
                        let content = body(i);
                        kind.write_object(data, bucket, &layout.key(i), &content)?;
                        bytes += content.len() as u64;
                    }
                    Ok(bytes)
                })
            })
            .collect();
        workers.into_iter().try_fold(0, |sum, worker| {
            let bytes = worker.join().map_err(|_| "a seeding thread panicked")??;
            Ok(sum + bytes)
        })
    })
}

/// One object as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: i64,
    pub etag: String,
}

/// Lists the seeded source and checks it: exactly the expected keys and sizes, ETags that are the
/// MD5 of the files (a sample). Returns the listing.
pub async fn check_source(
    s3: &Client,
    kind: Kind,
    data: &Path,
    bucket: &str,
    layout: Layout,
) -> Result<Vec<Entry>, Failure> {
    let mut listed = Vec::with_capacity(layout.objects);
    let mut pages = listing(s3, bucket, layout).await?;
    while let Some(page) = pages.next().await {
        listed.extend(page?);
    }
    if listed.len() != layout.objects {
        return Err(format!(
            "{bucket} lists {} objects, not {}",
            listed.len(),
            layout.objects
        )
        .into());
    }
    for (entry, (key, size)) in listed.iter().zip(layout.expected()) {
        if entry.key != key || entry.size != size as i64 {
            return Err(
                format!("{bucket} lists {entry:?} where {key} ({size} bytes) belongs").into(),
            );
        }
    }
    check_etags(kind, data, bucket, &listed)?;
    Ok(listed)
}

/// The ETags of a sample of `listed` are the MD5 of the files the server serves them from.
fn check_etags(kind: Kind, data: &Path, bucket: &str, listed: &[Entry]) -> Result<(), Failure> {
    let step = listed.len().div_ceil(MD5_SAMPLE).max(1);
    let sample: Vec<&Entry> = listed.iter().step_by(step).collect();
    let output = Command::new("md5sum")
        .args(
            sample
                .iter()
                .map(|e| kind.object_file(data, bucket, &e.key)),
        )
        .output()?;
    if !output.status.success() {
        return Err(format!("md5sum failed: {}", String::from_utf8_lossy(&output.stderr)).into());
    }
    let sums = String::from_utf8(output.stdout)?;
    if sums.lines().count() != sample.len() {
        return Err(format!(
            "md5sum printed {} sums for {} files",
            sums.lines().count(),
            sample.len()
        )
        .into());
    }
    for (entry, line) in sample.iter().zip(sums.lines()) {
        let md5 = line.split_whitespace().next().unwrap_or_default();
        if entry.etag.trim_matches('"') != md5 {
            return Err(format!(
                "{bucket}: ETag of {} is {}, MD5 {md5}",
                entry.key, entry.etag
            )
            .into());
        }
    }
    Ok(())
}

/// `bucket` holds exactly the objects of `source` (keys, sizes, ETags).
pub async fn verify(
    s3: &Client,
    bucket: &str,
    layout: Layout,
    source: &[Entry],
) -> Result<(), Failure> {
    let mut pages = listing(s3, bucket, layout).await?;
    let mut at = 0;
    while let Some(page) = pages.next().await {
        for entry in page? {
            match source.get(at) {
                Some(expected) if *expected == entry => at += 1,
                expected => {
                    return Err(format!(
                        "{bucket} holds {entry:?} where the source has {expected:?}"
                    )
                    .into());
                }
            }
        }
    }
    if at != source.len() {
        return Err(format!(
            "{bucket} holds {at} of the source's {} objects",
            source.len()
        )
        .into());
    }
    Ok(())
}

/// The objects of `bucket` folder by folder, in order, after checking that the bucket holds
/// nothing outside the folders of `layout`.
async fn listing<'a>(
    s3: &'a Client,
    bucket: &'a str,
    layout: Layout,
) -> Result<impl Stream<Item = Result<Vec<Entry>, Failure>> + 'a, Failure> {
    let folders: Vec<String> = (0..layout.folders).map(|f| layout.folder(f)).collect();
    expect_only(s3, bucket, &folders).await?;
    Ok(stream::iter(folders)
        .map(move |folder| async move { list_folder(s3, bucket, &folder).await })
        .buffered(LISTING_WINDOW))
}

/// `bucket` holds no object outside the folders, and exactly the folders `expected`.
async fn expect_only(s3: &Client, bucket: &str, expected: &[String]) -> Result<(), Failure> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .delimiter("/")
        .into_paginator()
        .send();
    let mut folders = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page?;
        if let Some(object) = page.contents().first() {
            return Err(format!("{bucket} holds the stray object {:?}", object.key()).into());
        }
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(String::from)),
        );
    }
    if folders != expected {
        return Err(format!(
            "{bucket} holds {} folders (first {:?}), not the {} expected",
            folders.len(),
            folders.first(),
            expected.len()
        )
        .into());
    }
    Ok(())
}

async fn list_folder(s3: &Client, bucket: &str, folder: &str) -> Result<Vec<Entry>, Failure> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(folder)
        .into_paginator()
        .send();
    let mut entries = Vec::new();
    while let Some(page) = pages.next().await {
        entries.extend(page?.contents().iter().map(|o| Entry {
            key: o.key().unwrap_or_default().to_string(),
            size: o.size().unwrap_or(-1),
            etag: o.e_tag().unwrap_or_default().to_string(),
        }));
    }
    Ok(entries)
}
