//! Paged listings of both sides and their merge in key order.
//!
//! A side is listed by a background task one `ListObjectsV2` page (1,000 keys) ahead of the
//! merge, through a channel holding one page. The task first reads one page of the prefix
//! delimited by "/": when it holds every entry (the listing is not truncated) and names between
//! two and [`MAX_FOLDERS`] folders, each folder is listed flat on its own, [`FOLDERS_AHEAD`] of them
//! ahead of the one being read, and the keys directly under the prefix are slotted in between
//! them. Otherwise the prefix is listed flat in one go.
//!
//! Listing by folder matters where a page's cost grows with the whole listing under its prefix,
//! as with `rclone serve s3`, which rebuilds that listing for every page; on S3 it hides each
//! folder's first request behind the reading of the one before. Either way the keys come in the
//! same order (UTF-8 bytes), and a side never holds more than about two pages per folder under
//! way, so memory follows the page size, never the bucket size.

use std::collections::VecDeque;
use std::future::Future;

use aws_sdk_s3::Client;
use aws_sdk_s3::operation::list_objects_v2::builders::ListObjectsV2FluentBuilder;
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

/// Most folders a prefix is listed by; with more, it is listed flat, so the extra requests stay
/// bounded.
pub const MAX_FOLDERS: usize = 64;
/// Folders listed ahead of the one being read.
pub const FOLDERS_AHEAD: usize = 4;

type Page = Result<Vec<Entry>, TaskError>;

/// A background task sending pages through a channel of one page; stopped when dropped.
struct Fetch {
    rx: mpsc::Receiver<Page>,
    task: JoinHandle<()>,
}

impl Fetch {
    fn spawn<F>(work: impl FnOnce(mpsc::Sender<Page>) -> F) -> Fetch
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(1);
        Fetch {
            rx,
            task: tokio::spawn(work(tx)),
        }
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The bucket a side lists, and how errors name it.
#[derive(Clone)]
struct Lister {
    client: Client,
    bucket: String,
    place: String,
}

impl Lister {
    /// A request for one page of keys under `prefix`.
    fn page(&self, prefix: &str) -> ListObjectsV2FluentBuilder {
        let request = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .max_keys(PAGE_SIZE);
        if prefix.is_empty() {
            request
        } else {
            request.prefix(prefix)
        }
    }
}

/// One side's listing, read page by page after an optional key.
pub struct Listing {
    place: String,
    fetch: Fetch,
    page: VecDeque<Entry>,
    finished: bool,
    last_key: Option<String>,
}

impl Listing {
    /// Starts listing `bucket` under `prefix`, after `start_after` when given.
    pub fn start(client: Client, bucket: &str, prefix: &str, start_after: Option<String>) -> Self {
        let place = format!("s3://{bucket}/{prefix}");
        let lister = Lister {
            client,
            bucket: bucket.to_string(),
            place: place.clone(),
        };
        let (prefix, after) = (prefix.to_string(), start_after.clone());
        Listing {
            place,
            fetch: Fetch::spawn(|tx| list_prefix(lister, prefix, after, tx)),
            page: VecDeque::new(),
            finished: false,
            last_key: start_after,
        }
    }

    /// The next entry, without taking it.
    pub async fn peek(&mut self) -> Result<Option<&Entry>, TaskError> {
        while self.page.is_empty() && !self.finished {
            match self.fetch.rx.recv().await {
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

/// How a prefix is listed, decided from one page of it delimited by "/".
#[derive(Debug, PartialEq, Eq)]
enum Layout {
    /// One flat listing of the whole prefix.
    Flat,
    /// The keys directly under the prefix, and the folders (common prefixes) to list one by one,
    /// both in key order.
    Folders {
        root: Vec<Entry>,
        folders: Vec<String>,
    },
}

/// The layout for a delimited first page holding `root` keys and `folders`; `truncated` when the
/// page does not hold them all.
fn layout(root: Vec<Entry>, mut folders: Vec<String>, truncated: bool) -> Layout {
    if truncated || folders.len() < 2 || folders.len() > MAX_FOLDERS {
        return Layout::Flat;
    }
    folders.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Layout::Folders { root, folders }
}

/// Whether every key under `folder` sorts at or before `after` (a resumed listing skips it).
fn passed(folder: &str, after: Option<&str>) -> bool {
    after.is_some_and(|k| k.as_bytes() > folder.as_bytes() && !k.starts_with(folder))
}

/// Where a listing of `folder` resumes: after `after` when that key lies inside it.
fn resume_in(folder: &str, after: Option<&str>) -> Option<String> {
    after.filter(|k| k.starts_with(folder)).map(str::to_string)
}

/// Takes the leading `root` keys that sort before every key under `folder` (a key directly under
/// the prefix sorts either before all of a folder's keys or after all of them).
fn root_before(root: &mut VecDeque<Entry>, folder: &str) -> Vec<Entry> {
    let n = root
        .iter()
        .take_while(|e| e.key.as_bytes() < folder.as_bytes())
        .count();
    root.drain(..n).collect()
}

/// Lists `prefix` after `start_after` into `tx`, by folder or flat (see the module documentation).
async fn list_prefix(
    lister: Lister,
    prefix: String,
    start_after: Option<String>,
    tx: mpsc::Sender<Page>,
) {
    let layout = match first_delimited_page(&lister, &prefix).await {
        Ok(layout) => layout,
        Err(err) => {
            let _ = tx.send(Err(err)).await;
            return;
        }
    };
    match layout {
        Layout::Flat => fetch_pages(lister, prefix, start_after, tx).await,
        Layout::Folders { root, folders } => {
            list_folders(lister, root, folders, start_after, tx).await;
        }
    }
}

async fn first_delimited_page(lister: &Lister, prefix: &str) -> Result<Layout, TaskError> {
    let out = lister
        .page(prefix)
        .delimiter("/")
        .send()
        .await
        .map_err(|e| {
            TaskError::aws(
                "ListObjectsV2",
                lister.place.clone(),
                e.into_service_error(),
            )
        })?;
    let folders = out
        .common_prefixes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.prefix)
        .collect();
    let truncated = out.is_truncated == Some(true);
    Ok(layout(entries(out.contents), folders, truncated))
}

/// Sends the keys of `folders`, each listed flat, with the `root` keys slotted in between, all
/// after `start_after`.
async fn list_folders(
    lister: Lister,
    root: Vec<Entry>,
    folders: Vec<String>,
    start_after: Option<String>,
    tx: mpsc::Sender<Page>,
) {
    let after = start_after.as_deref();
    let mut root: VecDeque<Entry> = root
        .into_iter()
        .filter(|e| after.is_none_or(|k| e.key.as_bytes() > k.as_bytes()))
        .collect();
    let mut waiting = folders.into_iter().filter(|f| !passed(f, after));
    let mut running: VecDeque<(String, Fetch)> = VecDeque::new();
    loop {
        while running.len() <= FOLDERS_AHEAD
            && let Some(folder) = waiting.next()
        {
            let (l, f, from) = (lister.clone(), folder.clone(), resume_in(&folder, after));
            running.push_back((folder, Fetch::spawn(|tx| fetch_pages(l, f, from, tx))));
        }
        let Some((folder, mut fetch)) = running.pop_front() else {
            break;
        };
        let before = root_before(&mut root, &folder);
        if !before.is_empty() && tx.send(Ok(before)).await.is_err() {
            return;
        }
        while let Some(page) = fetch.rx.recv().await {
            let failed = page.is_err();
            if tx.send(page).await.is_err() || failed {
                return;
            }
        }
    }
    if !root.is_empty() {
        let _ = tx.send(Ok(root.into())).await;
    }
}

/// The entries of one page.
fn entries(contents: Option<Vec<Object>>) -> Vec<Entry> {
    contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(Entry::from_object)
        .collect()
}

/// Sends the pages of one flat listing of `prefix` after `start_after`.
async fn fetch_pages(
    lister: Lister,
    prefix: String,
    start_after: Option<String>,
    tx: mpsc::Sender<Page>,
) {
    let mut token: Option<String> = None;
    loop {
        let request = lister.page(&prefix);
        let request = match (&token, &start_after) {
            (Some(token), _) => request.continuation_token(token),
            (None, Some(after)) => request.start_after(after),
            (None, None) => request,
        };
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                let err = TaskError::aws(
                    "ListObjectsV2",
                    lister.place.clone(),
                    e.into_service_error(),
                );
                let _ = tx.send(Err(err)).await;
                return;
            }
        };
        let more = out.is_truncated == Some(true);
        token = out.next_continuation_token;
        if tx.send(Ok(entries(out.contents))).await.is_err() || !more || token.is_none() {
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

    /// What a delimited listing of the whole bucket holds: the keys without "/", and the folders.
    fn delimited(keys: &[&str]) -> (Vec<Entry>, Vec<String>) {
        let mut folders: Vec<String> = keys
            .iter()
            .filter_map(|k| k.find('/').map(|i| k[..=i].to_string()))
            .collect();
        folders.dedup();
        let root = keys.iter().filter(|k| !k.contains('/')).map(|k| entry(k));
        (root.collect(), folders)
    }

    /// The keys in the order the folder layout reads them after `after`, from the helpers
    /// `list_folders` composes.
    fn read_by_folders(keys: &[&str], after: Option<&str>) -> Vec<String> {
        let (root, folders) = delimited(keys);
        let Layout::Folders { root, folders } = layout(root, folders, false) else {
            panic!("expected folders");
        };
        let mut root: VecDeque<Entry> = root
            .into_iter()
            .filter(|e| after.is_none_or(|k| e.key.as_str() > k))
            .collect();
        let mut read = Vec::new();
        for folder in folders.iter().filter(|f| !passed(f, after)) {
            read.extend(root_before(&mut root, folder).into_iter().map(|e| e.key));
            let from = resume_in(folder, after);
            read.extend(
                keys.iter()
                    .filter(|k| k.starts_with(folder.as_str()))
                    .filter(|k| from.as_deref().is_none_or(|f| **k > f))
                    .map(|k| k.to_string()),
            );
        }
        read.extend(root.into_iter().map(|e| e.key));
        read
    }

    #[test]
    fn listing_by_folder_reads_keys_in_byte_order_from_any_resume_point() {
        // Keys directly under the bucket fall before, between and after the folders: '.' (0x2E)
        // sorts before '/' (0x2F) and '0' (0x30) after it.
        let keys = sorted(&[
            "a", "a.txt", "a/x", "a/y/z", "a0", "b/", "b/1", "b/2", "c", "d/é", "d/ü", "z",
        ]);
        let keys: Vec<&str> = keys.iter().map(|e| e.key.as_str()).collect();
        let mut starts: Vec<Option<&str>> = vec![None, Some(""), Some("a/"), Some("b"), Some("zz")];
        starts.extend(keys.iter().map(|k| Some(*k)));
        for after in starts {
            let expected: Vec<String> = keys
                .iter()
                .filter(|k| after.is_none_or(|a| **k > a))
                .map(|k| k.to_string())
                .collect();
            assert_eq!(read_by_folders(&keys, after), expected, "after {after:?}");
        }
    }

    #[test]
    fn a_prefix_is_listed_flat_unless_one_page_names_all_of_two_to_max_folders() {
        assert_eq!(layout(vec![], folders_n(0), false), Layout::Flat);
        assert_eq!(layout(vec![entry("r")], folders_n(1), false), Layout::Flat);
        assert_eq!(layout(vec![], folders_n(5), true), Layout::Flat);
        assert_eq!(
            layout(vec![], folders_n(MAX_FOLDERS + 1), false),
            Layout::Flat
        );
        let Layout::Folders { root, folders } =
            layout(vec![entry("r")], vec!["é/".into(), "b/".into()], false)
        else {
            panic!("expected folders");
        };
        assert_eq!(
            (root, folders),
            (vec![entry("r")], vec!["b/".into(), "é/".into()])
        );
        assert!(matches!(
            layout(vec![], folders_n(MAX_FOLDERS), false),
            Layout::Folders { .. }
        ));
    }

    fn folders_n(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i:03}/")).collect()
    }

    #[test]
    fn a_resumed_listing_skips_folders_it_has_passed_and_resumes_inside_its_own() {
        assert!(!passed("b/", None));
        assert!(passed("b/", Some("b0")));
        assert!(passed("b/", Some("c")));
        assert!(!passed("b/", Some("b/x")), "the key lies inside the folder");
        assert!(!passed("b/", Some("b.txt")), "'.' sorts before '/'");
        assert!(!passed("b/", Some("b")));
        assert_eq!(resume_in("b/", Some("b/x")), Some("b/x".into()));
        assert_eq!(resume_in("b/", Some("b")), None);
        assert_eq!(resume_in("b/", None), None);
    }
}
