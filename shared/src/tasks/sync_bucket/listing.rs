//! Paged listings of both sides and their merge in key order.
//!
//! Each side is listed by a background task one `ListObjectsV2` page (1,000 keys) ahead of the
//! merge, through a channel holding one page: a side never holds more than about three pages, so
//! memory follows the page size, never the bucket size.

use std::collections::VecDeque;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::Object;
use aws_smithy_types::DateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::TaskError;

/// Keys per `ListObjectsV2` page (the service maximum).
pub const PAGE_SIZE: i32 = 1000;

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The ETag without its quotes ("" when the listing gave none).
    pub etag: String,
    /// When the object was last written.
    pub last_modified: Option<DateTime>,
}

impl Entry {
    fn from_object(object: Object) -> Option<Entry> {
        Some(Entry {
            size: object.size.and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
            etag: object
                .e_tag
                .as_deref()
                .map(|e| e.trim_matches('"').to_string())
                .unwrap_or_default(),
            last_modified: object.last_modified,
            key: object.key?,
        })
    }
}

/// Which side(s) hold the next key of a merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Only the source holds it.
    Source,
    /// Only the target holds it.
    Target,
    /// Both hold it.
    Both,
}

/// The next step of merging two listings whose next keys are `source` and `target`, in S3's order
/// (UTF-8 bytes); `None` when both are exhausted.
pub fn pick(source: Option<&str>, target: Option<&str>) -> Option<Pick> {
    match (source, target) {
        (None, None) => None,
        (Some(_), None) => Some(Pick::Source),
        (None, Some(_)) => Some(Pick::Target),
        (Some(s), Some(t)) => Some(match s.as_bytes().cmp(t.as_bytes()) {
            std::cmp::Ordering::Less => Pick::Source,
            std::cmp::Ordering::Greater => Pick::Target,
            std::cmp::Ordering::Equal => Pick::Both,
        }),
    }
}

/// A key present on one side or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Missing from the target.
    Source(Entry),
    /// Missing from the source.
    Target(Entry),
    /// On both sides: (source, target).
    Both(Entry, Entry),
}

#[cfg(test)]
impl Step {
    /// The key this step is about.
    pub fn key(&self) -> &str {
        match self {
            Step::Source(e) | Step::Target(e) | Step::Both(e, _) => &e.key,
        }
    }
}

/// One side's listing, read page by page after an optional key.
pub struct Listing {
    place: String,
    rx: mpsc::Receiver<Result<Vec<Entry>, TaskError>>,
    page: VecDeque<Entry>,
    finished: bool,
    last_key: Option<String>,
    fetcher: JoinHandle<()>,
}

impl Drop for Listing {
    fn drop(&mut self) {
        self.fetcher.abort();
    }
}

impl Listing {
    /// Starts listing `bucket` under `prefix`, after `start_after` when given.
    pub fn start(client: Client, bucket: &str, prefix: &str, start_after: Option<String>) -> Self {
        let (tx, rx) = mpsc::channel(1);
        let place = format!("s3://{bucket}/{prefix}");
        let fetcher = tokio::spawn(fetch_pages(
            client,
            bucket.to_string(),
            prefix.to_string(),
            start_after.clone(),
            place.clone(),
            tx,
        ));
        Listing {
            place,
            rx,
            page: VecDeque::new(),
            finished: false,
            last_key: start_after,
            fetcher,
        }
    }

    /// The next entry, without taking it.
    pub async fn peek(&mut self) -> Result<Option<&Entry>, TaskError> {
        while self.page.is_empty() && !self.finished {
            match self.rx.recv().await {
                Some(page) => self.page = page?.into(),
                None => self.finished = true,
            }
        }
        Ok(self.page.front())
    }

    /// Takes the next entry, checking that keys come in strictly increasing order.
    pub async fn next(&mut self) -> Result<Option<Entry>, TaskError> {
        self.peek().await?;
        let Some(entry) = self.page.pop_front() else {
            return Ok(None);
        };
        if let Some(last) = &self.last_key
            && last.as_bytes() >= entry.key.as_bytes()
        {
            return Err(TaskError::Mismatch(format!(
                "listing {} returned key '{}' after '{last}': keys must come in UTF-8 binary order",
                self.place, entry.key
            )));
        }
        self.last_key = Some(entry.key.clone());
        Ok(Some(entry))
    }
}

async fn fetch_pages(
    client: Client,
    bucket: String,
    prefix: String,
    start_after: Option<String>,
    place: String,
    tx: mpsc::Sender<Result<Vec<Entry>, TaskError>>,
) {
    let mut token: Option<String> = None;
    loop {
        let mut request = client.list_objects_v2().bucket(&bucket).max_keys(PAGE_SIZE);
        if !prefix.is_empty() {
            request = request.prefix(&prefix);
        }
        request = match (&token, &start_after) {
            (Some(token), _) => request.continuation_token(token),
            (None, Some(after)) => request.start_after(after),
            (None, None) => request,
        };
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                let err = TaskError::aws("ListObjectsV2", place.clone(), e.into_service_error());
                let _ = tx.send(Err(err)).await;
                return;
            }
        };
        let more = out.is_truncated == Some(true);
        token = out.next_continuation_token;
        let entries = out
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(Entry::from_object)
            .collect();
        if tx.send(Ok(entries)).await.is_err() || !more || token.is_none() {
            return;
        }
    }
}

/// The next key of the merge of both listings.
pub async fn next_step(
    source: &mut Listing,
    target: &mut Listing,
) -> Result<Option<Step>, TaskError> {
    let s = source.peek().await?.map(|e| e.key.clone());
    let t = target.peek().await?.map(|e| e.key.clone());
    let step = match pick(s.as_deref(), t.as_deref()) {
        None => return Ok(None),
        Some(Pick::Source) => source.next().await?.map(Step::Source),
        Some(Pick::Target) => target.next().await?.map(Step::Target),
        Some(Pick::Both) => match (source.next().await?, target.next().await?) {
            (Some(s), Some(t)) => Some(Step::Both(s, t)),
            _ => None,
        },
    };
    Ok(step)
}

/// Merges two sorted in-memory listings (what [`next_step`] does page by page).
#[cfg(test)]
pub fn merge(source: &[Entry], target: &[Entry]) -> Vec<Step> {
    let (mut i, mut j, mut steps) = (0, 0, Vec::new());
    while let Some(p) = pick(
        source.get(i).map(|e| e.key.as_str()),
        target.get(j).map(|e| e.key.as_str()),
    ) {
        match p {
            Pick::Source => {
                steps.push(Step::Source(source[i].clone()));
                i += 1;
            }
            Pick::Target => {
                steps.push(Step::Target(target[j].clone()));
                j += 1;
            }
            Pick::Both => {
                steps.push(Step::Both(source[i].clone(), target[j].clone()));
                i += 1;
                j += 1;
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry {
            key: key.into(),
            size: 1,
            etag: "e".into(),
            last_modified: None,
        }
    }

    fn sorted(keys: &[&str]) -> Vec<Entry> {
        let mut keys = keys.to_vec();
        keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        keys.into_iter().map(entry).collect()
    }

    #[test]
    fn merge_interleaves_two_sorted_listings_in_byte_order() {
        let source = sorted(&["a", "b/x", "c", "é", "z"]);
        let target = sorted(&["b/x", "b/y", "d", "é", "ü"]);
        let merged = merge(&source, &target);
        let steps: Vec<(Pick, &str)> = merged
            .iter()
            .map(|s| {
                let side = match s {
                    Step::Source(_) => Pick::Source,
                    Step::Target(_) => Pick::Target,
                    Step::Both(..) => Pick::Both,
                };
                (side, s.key())
            })
            .collect();
        let keys: Vec<String> = steps.iter().map(|(_, k)| k.to_string()).collect();
        assert_eq!(keys, ["a", "b/x", "b/y", "c", "d", "z", "é", "ü"]);
        let sides: Vec<Pick> = steps.iter().map(|(p, _)| *p).collect();
        use Pick::*;
        assert_eq!(
            sides,
            [Source, Both, Target, Source, Target, Source, Both, Target]
        );
    }

    #[test]
    fn merge_handles_empty_sides() {
        assert!(merge(&[], &[]).is_empty());
        assert_eq!(merge(&sorted(&["a"]), &[]), [Step::Source(entry("a"))]);
        assert_eq!(merge(&[], &sorted(&["a"])), [Step::Target(entry("a"))]);
    }

    #[test]
    fn order_is_utf8_bytes_not_case_or_locale() {
        // 'B' (0x42) < 'a' (0x61) < 'é' (0xC3 0xA9); ' ' (0x20) < '+' (0x2B) < '/' (0x2F).
        assert_eq!(pick(Some("B"), Some("a")), Some(Pick::Source));
        assert_eq!(pick(Some("é"), Some("z")), Some(Pick::Target));
        assert_eq!(pick(Some("a b"), Some("a+b")), Some(Pick::Source));
        assert_eq!(pick(Some("a/"), Some("a+")), Some(Pick::Target));
        // U+FFFD sorts before U+10000 in UTF-8, as S3 lists them (UTF-16 order would differ).
        assert_eq!(
            pick(Some("\u{FFFD}"), Some("\u{10000}")),
            Some(Pick::Source)
        );
    }
}
