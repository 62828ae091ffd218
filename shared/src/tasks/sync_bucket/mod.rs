//! `sync-bucket`: make a target bucket (or one prefix of it) hold exactly the source's objects.
//!
//! Keys map 1:1 under the same prefix on both sides. Both sides are listed page by page and the
//! two sorted listings are merged as they arrive (S3 lists keys in UTF-8 binary order), so memory
//! follows the page size and the concurrency window, never the bucket size.
//!
//! A sync runs in two passes over the merged listings, each of which may span several invocations:
//!
//! - **Count** decides, key by key, what would be copied (missing, or different by size, ETag or —
//!   when an ETag is a multipart one — checksum, else write time) and deleted (absent from the
//!   source, `delete` on). Nothing is written. At its end the deletion guards run: with `delete`
//!   on, an empty source facing a non-empty target, or more deletions than `max_delete`, refuse
//!   the sync before any change (error type `InvalidInput`, via [`TaskError::Mismatch`]). A dry
//!   run stops here.
//! - **Apply** walks the listings again and copies and deletes, `concurrency` objects at a time.
//!   The source may have changed since the count, so the guards hold here too: deletions performed
//!   plus deletions about to be sent never exceed `max_delete`, and an empty source stops the pass.
//!
//! When the invocation's budget runs out, or the time left no longer holds three times the longest
//! object so far ([`Budget::allows`]), no new key is started, the work under way finishes, and the
//! output carries `progress`: the phase, the last key such that it and every key before it are
//! done (the `tracker` submodule), and the counts so far. Called again with it, the pass resumes
//! right after that key; a key copied twice is copied identically. Each invocation handles at least
//! one key, so even a budget exhausted on arrival makes progress.
//!
//! Objects that need more than one request travel as multipart uploads that can span invocations
//! (the `resumable` submodule), one at a time: an upload the budget stops is carried in
//! `progress.upload` (ids, part numbers and ETags only) and finished first by the next invocation;
//! the walk resumes before its key and skips it once finished. A sync that fails aborts the upload
//! it carries.
//!
//! Writes use the target credentials only, after [`Session::writable_account`] accepted them, and
//! name that account as the target bucket's owner; the source is only listed and read.
//!
//! [`Session::writable_account`]: crate::aws::Session::writable_account

mod compare;
mod listing;
mod resumable;
mod tracker;
mod transfer;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};

use crate::aws::Aws;
use crate::config::FunctionConfig;
use crate::contract::{
    BucketSpec, PendingUpload, SyncBucketInput, SyncBucketOutput, SyncCounts, SyncPhase,
    SyncProgress, Transfer,
};
use crate::error::TaskError;
use crate::tasks::budget::{Budget, Pace};

pub use compare::is_multipart_etag;
pub use transfer::copy_source;

use compare::{Verdict, compare};
use listing::{Entry, Listing, Step, next_step};
use resumable::{Resumed, is_resumable};
use tracker::Tracker;
use transfer::{Mode, Sides, retrying};

/// Keys reported in each of `sample_copies` and `sample_deletes`.
const SAMPLES: usize = 20;
/// Keys per `DeleteObjects` request (the service maximum).
const DELETE_BATCH: usize = 1000;

const MIB: u64 = 1024 * 1024;

/// Size thresholds of the transfers. The defaults follow S3's limits; tests lower them to exercise
/// the multipart paths with small objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest object copied by one `CopyObject` (S3 allows 5 GiB); larger ones are copied in
    /// parts.
    pub max_single_copy: u64,
    /// Preferred part size of a multipart server-side copy (grown to stay within 10,000 parts).
    pub copy_part_size: u64,
    /// Streamed objects of at least this size are uploaded in parts of this size (grown to stay
    /// within 10,000 parts); smaller ones are buffered whole.
    pub stream_part_size: u64,
    /// Memory all streamed objects of one invocation may hold at once.
    pub stream_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_single_copy: 5 * 1024 * MIB,
            copy_part_size: 512 * MIB,
            stream_part_size: 8 * MIB,
            stream_memory: 256 * MIB,
        }
    }
}

/// What an invocation writes, as its lease names it (`tasks::writers`); a dry run writes nothing.
pub fn lease_name(input: &SyncBucketInput) -> Option<String> {
    (!input.dry_run).then(|| format!("bucket {}", input.bucket.target))
}

/// Runs (or resumes) one invocation's share of a bucket sync; see the module documentation.
pub async fn sync_bucket(
    aws: &Aws,
    config: &FunctionConfig,
    input: SyncBucketInput,
    budget: Budget,
) -> Result<SyncBucketOutput, TaskError> {
    sync_bucket_with_limits(aws, config, input, budget, Limits::default()).await
}

/// [`sync_bucket`] with explicit size thresholds.
pub async fn sync_bucket_with_limits(
    aws: &Aws,
    config: &FunctionConfig,
    input: SyncBucketInput,
    budget: Budget,
    limits: Limits,
) -> Result<SyncBucketOutput, TaskError> {
    let session = aws.session(&input.run_id);
    let target_owner = session
        .writable_account(&input.target, &config.protected_accounts)
        .await?;
    check_input(&input)?;
    let spec = &input.bucket;
    let source = session.s3(&input.source).await?;
    let target = session.s3(&input.target).await?;
    let mode = match spec.transfer {
        Transfer::ServerSide => Mode::ServerSide,
        Transfer::Stream => Mode::Stream,
        Transfer::Auto => {
            if transfer::target_reads_source(&target, &spec.source, &spec.prefix).await? {
                Mode::ServerSide
            } else {
                Mode::Stream
            }
        }
    };
    let sides = Arc::new(Sides {
        source,
        target,
        source_bucket: spec.source.clone(),
        target_bucket: spec.target.clone(),
        target_owner,
        mode,
        limits,
        memory: Arc::new(Semaphore::new(
            usize::try_from((limits.stream_memory / 1024).max(1)).unwrap_or(usize::MAX),
        )),
    });
    let mut progress = input.progress.clone().unwrap_or_default();
    progress.counts.invocations += 1;
    let mut pass = Pass {
        sides,
        spec,
        budget,
        started: false,
        pace: Pace::default(),
        finished_upload: None,
        samples: Samples::default(),
    };
    let done = match run(&mut pass, input.dry_run, &mut progress).await {
        Ok(done) => done,
        Err(err) => {
            if let Some(upload) = progress.upload.take() {
                resumable::abort(&pass.sides, &upload).await;
            }
            return Err(err);
        }
    };
    let c = &progress.counts;
    tracing::info!(
        source = %format!("s3://{}/{}", spec.source, spec.prefix),
        target = %format!("s3://{}/{}", spec.target, spec.prefix),
        transfer = mode.name(),
        phase = ?progress.phase,
        done,
        dry_run = input.dry_run,
        source_objects = c.source_objects,
        target_objects = c.target_objects,
        to_copy = c.to_copy,
        to_delete = c.to_delete,
        copied = c.copied,
        bytes_copied = c.bytes_copied,
        deleted = c.deleted,
        retries = c.retries,
        invocations = c.invocations,
        "bucket sync step"
    );
    Ok(SyncBucketOutput {
        done,
        progress,
        transfer: mode.name().to_string(),
        sample_copies: pass.samples.copies,
        sample_deletes: pass.samples.deletes,
    })
}

fn check_input(input: &SyncBucketInput) -> Result<(), TaskError> {
    let spec = &input.bucket;
    if spec.source == spec.target {
        return Err(TaskError::invalid(
            "buckets[].target",
            format!(
                "is the source bucket '{}': a bucket cannot be synced onto itself",
                spec.source
            ),
        ));
    }
    if input.dry_run
        && input
            .progress
            .as_ref()
            .is_some_and(|p| p.phase == SyncPhase::Apply)
    {
        return Err(TaskError::invalid(
            "progress.phase",
            "a dry run only counts; it cannot resume an apply pass",
        ));
    }
    Ok(())
}

/// Runs the passes from where `progress` stands; returns whether the sync (or dry run) is complete.
async fn run(
    pass: &mut Pass<'_>,
    dry_run: bool,
    progress: &mut SyncProgress,
) -> Result<bool, TaskError> {
    if progress.phase == SyncPhase::Count {
        if pass.walk(SyncPhase::Count, progress).await? == Walk::Stopped {
            return Ok(false);
        }
        enforce_guards(pass.spec, &progress.counts)?;
        progress.start_after = None;
        if dry_run {
            return Ok(true);
        }
        progress.phase = SyncPhase::Apply;
        if progress.counts.to_copy == 0 && progress.counts.to_delete == 0 {
            return Ok(true);
        }
        if pass.budget.exhausted() {
            return Ok(false);
        }
        pass.samples = Samples::default();
    }
    pass.recheck_empty_source().await?;
    if let Some(upload) = progress.upload.take()
        && let Some(upload) = pass.resume(upload, &mut progress.counts).await?
    {
        progress.upload = Some(upload);
        return Ok(false);
    }
    if pass.walk(SyncPhase::Apply, progress).await? == Walk::Stopped {
        return Ok(false);
    }
    progress.start_after = None;
    Ok(true)
}

/// The deletion guards, on the complete count.
fn enforce_guards(spec: &BucketSpec, counts: &SyncCounts) -> Result<(), TaskError> {
    if !spec.delete {
        return Ok(());
    }
    if counts.source_objects == 0 && counts.target_objects > 0 {
        return Err(empty_source(spec, &counts.target_objects.to_string()));
    }
    if counts.to_delete > spec.max_delete {
        return Err(TaskError::Mismatch(format!(
            "refusing to sync s3://{src}/{prefix} to s3://{tgt}/{prefix}: it would delete {n} \
             of the target's {total} objects, more than max_delete {max} (and copy {copy}); \
             nothing was changed. Raise buckets[].max_delete if these deletions are intended",
            src = spec.source,
            tgt = spec.target,
            prefix = spec.prefix,
            n = counts.to_delete,
            total = counts.target_objects,
            max = spec.max_delete,
            copy = counts.to_copy,
        )));
    }
    Ok(())
}

/// Apply's deletion guard: the source lost objects after the count.
fn over_max_delete(spec: &BucketSpec, deleted: u64, planned: u64, key: &str) -> TaskError {
    TaskError::Mismatch(format!(
        "refusing to delete more than max_delete {max} objects from s3://{tgt}/{prefix}: \
         {deleted} deleted so far, {planned} with '{key}'; the source s3://{src}/{prefix} lost \
         objects since they were counted. Run the sync again to count afresh",
        max = spec.max_delete,
        tgt = spec.target,
        src = spec.source,
        prefix = spec.prefix,
    ))
}

fn empty_source(spec: &BucketSpec, target_objects: &str) -> TaskError {
    TaskError::Mismatch(format!(
        "refusing to sync s3://{src}/{prefix} to s3://{tgt}/{prefix} with delete on: the source \
         holds no objects under the prefix while the target holds {target_objects}, so the sync \
         would empty the target; nothing was changed. Check the source bucket, prefix and role",
        src = spec.source,
        tgt = spec.target,
        prefix = spec.prefix,
    ))
}

/// Keys reported to people.
#[derive(Debug, Default)]
struct Samples {
    copies: Vec<String>,
    deletes: Vec<String>,
}

impl Samples {
    fn copy(&mut self, key: &str) {
        if self.copies.len() < SAMPLES {
            self.copies.push(key.to_string());
        }
    }

    fn delete(&mut self, key: &str) {
        if self.deletes.len() < SAMPLES {
            self.deletes.push(key.to_string());
        }
    }
}

/// How a walk over the listings ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    /// Every key was handled.
    Finished,
    /// The budget ran out; `progress.start_after` says where to resume.
    Stopped,
}

/// What one task did.
#[derive(Debug)]
enum Outcome {
    /// Count: checksums compared.
    Checked { key: String, differs: bool },
    /// Apply: copied.
    Copied { key: String, bytes: u64 },
    /// Apply: found equal after all, or gone from the source.
    Unchanged,
    /// Apply: deleted.
    Deleted { keys: Vec<String> },
    /// Apply: a multipart upload suspended when the budget ran out.
    Suspended(PendingUpload),
}

/// A finished task: the tracker tickets it covers, its extra retries, its longest step (the whole
/// task, or a resumable upload's longest window of parts), whether it was a resumable upload, its
/// outcome.
#[derive(Debug)]
struct Done {
    ids: Vec<u64>,
    retries: u64,
    longest: Duration,
    resumable: bool,
    result: Result<Outcome, TaskError>,
}

/// One invocation's work on one bucket.
struct Pass<'a> {
    sides: Arc<Sides>,
    spec: &'a BucketSpec,
    budget: Budget,
    /// Whether this invocation has taken on a key yet: each invocation handles at least one key, so
    /// even an exhausted budget makes progress.
    started: bool,
    /// The longest object (or window of parts) so far: no new key starts unless the budget allows
    /// another.
    pace: Pace,
    /// The key and source ETag of an upload this invocation resumed and completed: the walk,
    /// meeting it again, skips it.
    finished_upload: Option<(String, String)>,
    samples: Samples,
}

/// The state of one walk.
struct WalkState {
    tracker: Tracker,
    tasks: JoinSet<Done>,
    failure: Option<TaskError>,
    /// Keys in delete requests under way.
    deleting: u64,
    /// Keys waiting for the next delete request, with their tickets.
    batch: Vec<(u64, String)>,
    window: usize,
    /// Whether a resumable upload is under way: one at a time, so at most one is carried.
    resumable_running: bool,
    /// The upload suspended when the budget ran out.
    suspended: Option<PendingUpload>,
}

impl Pass<'_> {
    /// Walks the merged listings from `progress.start_after` in `phase`, until they end, the budget
    /// runs out or something fails; waits for the work under way before returning.
    async fn walk(
        &mut self,
        phase: SyncPhase,
        progress: &mut SyncProgress,
    ) -> Result<Walk, TaskError> {
        let spec = self.spec;
        let mut source = Listing::start(
            self.sides.source.clone(),
            &spec.source,
            &spec.prefix,
            progress.start_after.clone(),
        );
        let mut target = Listing::start(
            self.sides.target.clone(),
            &spec.target,
            &spec.prefix,
            progress.start_after.clone(),
        );
        let mut state = WalkState {
            tracker: Tracker::new(progress.start_after.clone()),
            tasks: JoinSet::new(),
            failure: None,
            deleting: 0,
            batch: Vec::new(),
            window: usize::try_from(spec.concurrency.max(1)).unwrap_or(1),
            resumable_running: false,
            suspended: None,
        };
        let mut stopped = false;
        loop {
            while let Some(joined) = state.tasks.try_join_next() {
                self.settle(joined, &mut state, &mut progress.counts);
            }
            if state.failure.is_some() {
                break;
            }
            if state.suspended.is_some() || (self.started && !self.budget.allows(&self.pace)) {
                stopped = true;
                break;
            }
            let step = match next_step(&mut source, &mut target).await {
                Ok(Some(step)) => step,
                Ok(None) => break,
                Err(err) => {
                    state.failure = Some(err);
                    break;
                }
            };
            self.started = true;
            match phase {
                SyncPhase::Count => self.count(step, &mut state, &mut progress.counts).await,
                SyncPhase::Apply => self.apply(step, &mut state, &mut progress.counts).await,
            }
            if state.suspended.is_some() {
                stopped = true;
                break;
            }
        }
        if state.failure.is_none() {
            self.flush_deletes(&mut state, &mut progress.counts).await;
        }
        while let Some(joined) = state.tasks.join_next().await {
            self.settle(joined, &mut state, &mut progress.counts);
        }
        if let Some(err) = state.failure {
            if let Some(upload) = &state.suspended {
                resumable::abort(&self.sides, upload).await;
            }
            return Err(err);
        }
        progress.start_after = state.tracker.position().map(str::to_string);
        progress.upload = state.suspended;
        Ok(if stopped {
            Walk::Stopped
        } else {
            Walk::Finished
        })
    }

    /// Count: decides what `step` would need, comparing checksums in a task when ETags cannot tell.
    async fn count(&mut self, step: Step, state: &mut WalkState, counts: &mut SyncCounts) {
        match step {
            Step::Source(s) => {
                counts.source_objects += 1;
                counts.to_copy += 1;
                self.samples.copy(&s.key);
                state.tracker.skip(&s.key);
            }
            Step::Target(t) => {
                counts.target_objects += 1;
                if self.spec.delete {
                    counts.to_delete += 1;
                    self.samples.delete(&t.key);
                }
                state.tracker.skip(&t.key);
            }
            Step::Both(s, t) => {
                counts.source_objects += 1;
                counts.target_objects += 1;
                match compare(&s, &t) {
                    Verdict::Same => state.tracker.skip(&s.key),
                    Verdict::Differs => {
                        counts.to_copy += 1;
                        self.samples.copy(&s.key);
                        state.tracker.skip(&s.key);
                    }
                    Verdict::NeedsChecksum => {
                        let id = state.tracker.begin(&s.key);
                        let task = check_task(self.sides.clone(), s, t, id);
                        self.spawn(task, state, counts).await;
                    }
                }
            }
        }
    }

    /// Apply: copies or deletes what `step` needs.
    async fn apply(&mut self, step: Step, state: &mut WalkState, counts: &mut SyncCounts) {
        match step {
            Step::Source(s) => self.copy(s, None, state, counts).await,
            Step::Both(s, t) => match compare(&s, &t) {
                Verdict::Same => state.tracker.skip(&s.key),
                verdict => {
                    let check = (verdict == Verdict::NeedsChecksum).then_some(t);
                    self.copy(s, check, state, counts).await;
                }
            },
            Step::Target(t) if self.spec.delete => {
                let planned = counts.deleted + state.deleting + state.batch.len() as u64 + 1;
                if planned > self.spec.max_delete {
                    state.failure =
                        Some(over_max_delete(self.spec, counts.deleted, planned, &t.key));
                    return;
                }
                let id = state.tracker.begin(&t.key);
                state.batch.push((id, t.key));
                if state.batch.len() >= DELETE_BATCH {
                    self.flush_deletes(state, counts).await;
                }
            }
            Step::Target(t) => state.tracker.skip(&t.key),
        }
    }

    /// Apply: starts the copy of `source` (after comparing checksums with `check` when given). An
    /// object that travels in parts waits for the resumable upload under way, if any, and is not
    /// started at all when that one was suspended.
    async fn copy(
        &mut self,
        source: Entry,
        check: Option<Entry>,
        state: &mut WalkState,
        counts: &mut SyncCounts,
    ) {
        if self
            .finished_upload
            .as_ref()
            .is_some_and(|(key, etag)| *key == source.key && etag.trim_matches('"') == source.etag)
        {
            state.tracker.skip(&source.key);
            return;
        }
        if !is_resumable(&self.sides, source.size) {
            let id = state.tracker.begin(&source.key);
            let task = copy_task(self.sides.clone(), source, check, id);
            self.spawn(task, state, counts).await;
            return;
        }
        while state.resumable_running {
            match state.tasks.join_next().await {
                Some(joined) => self.settle(joined, state, counts),
                None => state.resumable_running = false,
            }
        }
        if state.suspended.is_some() || state.failure.is_some() {
            return;
        }
        state.resumable_running = true;
        let id = state.tracker.begin(&source.key);
        let task = resumable_task(self.sides.clone(), source, check, self.budget.clone(), id);
        self.spawn(task, state, counts).await;
    }

    /// Continues the upload a previous invocation suspended; returns it again when the budget ran
    /// out before it completed.
    async fn resume(
        &mut self,
        upload: PendingUpload,
        counts: &mut SyncCounts,
    ) -> Result<Option<PendingUpload>, TaskError> {
        self.started = true;
        let key = upload.key.clone();
        let etag = upload.source_etag.clone();
        let (resumed, longest) = resumable::transfer(
            &self.sides,
            &key,
            Some(upload),
            &self.budget,
            &mut counts.retries,
        )
        .await?;
        self.pace.record(longest);
        match resumed {
            Resumed::Suspended(upload) => return Ok(Some(upload)),
            Resumed::Copied(bytes) => {
                counts.copied += 1;
                counts.bytes_copied += bytes;
                self.samples.copy(&key);
            }
            Resumed::Gone => {}
        }
        self.finished_upload = Some((key, etag));
        Ok(None)
    }

    /// Sends the waiting deletions as one request.
    async fn flush_deletes(&mut self, state: &mut WalkState, counts: &mut SyncCounts) {
        if state.batch.is_empty() {
            return;
        }
        let (ids, keys): (Vec<u64>, Vec<String>) =
            std::mem::take(&mut state.batch).into_iter().unzip();
        state.deleting += keys.len() as u64;
        let task = delete_task(self.sides.clone(), ids, keys);
        self.spawn(task, state, counts).await;
    }

    /// Starts a task once the window has room (settling finished ones meanwhile).
    async fn spawn(
        &mut self,
        task: impl Future<Output = Done> + Send + 'static,
        state: &mut WalkState,
        counts: &mut SyncCounts,
    ) {
        while state.tasks.len() >= state.window {
            if let Some(joined) = state.tasks.join_next().await {
                self.settle(joined, state, counts);
            }
        }
        if state.failure.is_none() {
            state.tasks.spawn(task);
        }
    }

    /// Records a finished task.
    fn settle(
        &mut self,
        joined: Result<Done, JoinError>,
        state: &mut WalkState,
        counts: &mut SyncCounts,
    ) {
        let done = match joined {
            Ok(done) => done,
            Err(err) => {
                state.failure.get_or_insert(TaskError::Mismatch(format!(
                    "a transfer task of s3://{}/{} stopped: {err}",
                    self.spec.target, self.spec.prefix
                )));
                return;
            }
        };
        counts.retries += done.retries;
        self.pace.record(done.longest);
        if done.resumable {
            state.resumable_running = false;
        }
        match done.result {
            Err(err) => {
                state.failure.get_or_insert(err);
                return;
            }
            Ok(Outcome::Suspended(upload)) => {
                // Its key stays unfinished: the walk resumes before it.
                state.suspended = Some(upload);
                return;
            }
            Ok(Outcome::Checked { key, differs }) => {
                if differs {
                    counts.to_copy += 1;
                    self.samples.copy(&key);
                }
            }
            Ok(Outcome::Copied { key, bytes }) => {
                tracing::debug!(key = %key, bytes, "copied");
                counts.copied += 1;
                counts.bytes_copied += bytes;
                self.samples.copy(&key);
            }
            Ok(Outcome::Unchanged) => {}
            Ok(Outcome::Deleted { keys }) => {
                counts.deleted += keys.len() as u64;
                state.deleting -= keys.len() as u64;
                for key in &keys {
                    self.samples.delete(key);
                }
            }
        }
        for id in done.ids {
            state.tracker.finish(id);
        }
    }

    /// Apply's own empty-source guard: with `delete` on, the source must still hold something under
    /// the prefix (or the target nothing), whatever the count found earlier.
    async fn recheck_empty_source(&self) -> Result<(), TaskError> {
        if !self.spec.delete {
            return Ok(());
        }
        let prefix = &self.spec.prefix;
        if has_objects(&self.sides.source, &self.spec.source, prefix).await? {
            return Ok(());
        }
        if has_objects(&self.sides.target, &self.spec.target, prefix).await? {
            return Err(empty_source(self.spec, "objects"));
        }
        Ok(())
    }
}

async fn has_objects(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<bool, TaskError> {
    let mut request = client.list_objects_v2().bucket(bucket).max_keys(1);
    if !prefix.is_empty() {
        request = request.prefix(prefix);
    }
    let out = request.send().await.map_err(|e| {
        TaskError::aws(
            "ListObjectsV2",
            format!("s3://{bucket}/{prefix}"),
            e.into_service_error(),
        )
    })?;
    Ok(!out.contents().is_empty())
}

/// Count: compares the checksums of a key whose ETags could not decide.
async fn check_task(sides: Arc<Sides>, source: Entry, target: Entry, id: u64) -> Done {
    let started = Instant::now();
    let mut retries = 0;
    let result = retrying(&mut retries, || {
        transfer::differs_by_checksum(&sides, &source, &target)
    })
    .await
    .map(|differs| Outcome::Checked {
        key: source.key.clone(),
        differs: differs.unwrap_or(false),
    });
    Done {
        ids: vec![id],
        retries,
        longest: started.elapsed(),
        resumable: false,
        result,
    }
}

/// Apply: copies `source`, after comparing checksums with `check` when one is given.
async fn copy_task(sides: Arc<Sides>, source: Entry, check: Option<Entry>, id: u64) -> Done {
    let started = Instant::now();
    let mut retries = 0;
    let result = async {
        if !still_differs(&sides, &source, check.as_ref(), &mut retries).await? {
            return Ok(Outcome::Unchanged);
        }
        Ok(
            match retrying(&mut retries, || transfer::copy_object(&sides, &source)).await? {
                Some(bytes) => Outcome::Copied {
                    key: source.key.clone(),
                    bytes,
                },
                None => Outcome::Unchanged,
            },
        )
    }
    .await;
    Done {
        ids: vec![id],
        retries,
        longest: started.elapsed(),
        resumable: false,
        result,
    }
}

/// Whether `source` still needs copying: always without `check`, else when the checksums of
/// `source` and `check` (the target's entry) say they differ.
async fn still_differs(
    sides: &Sides,
    source: &Entry,
    check: Option<&Entry>,
    retries: &mut u64,
) -> Result<bool, TaskError> {
    let Some(target) = check else {
        return Ok(true);
    };
    let differs = retrying(retries, || {
        transfer::differs_by_checksum(sides, source, target)
    })
    .await?;
    Ok(differs == Some(true))
}

/// Apply: copies `source` as a resumable multipart upload, suspended when the budget runs out.
async fn resumable_task(
    sides: Arc<Sides>,
    source: Entry,
    check: Option<Entry>,
    budget: Budget,
    id: u64,
) -> Done {
    let mut retries = 0;
    let mut longest = Duration::ZERO;
    let result = async {
        if !still_differs(&sides, &source, check.as_ref(), &mut retries).await? {
            return Ok(Outcome::Unchanged);
        }
        let (resumed, window) =
            resumable::transfer(&sides, &source.key, None, &budget, &mut retries).await?;
        longest = window;
        Ok(match resumed {
            Resumed::Copied(bytes) => Outcome::Copied {
                key: source.key.clone(),
                bytes,
            },
            Resumed::Gone => Outcome::Unchanged,
            Resumed::Suspended(upload) => Outcome::Suspended(upload),
        })
    }
    .await;
    Done {
        ids: vec![id],
        retries,
        longest,
        resumable: true,
        result,
    }
}

/// Apply: deletes a batch of target keys.
async fn delete_task(sides: Arc<Sides>, ids: Vec<u64>, keys: Vec<String>) -> Done {
    let mut retries = 0;
    let result = transfer::delete_keys(&sides, &keys, &mut retries)
        .await
        .map(|()| Outcome::Deleted { keys });
    Done {
        ids,
        retries,
        longest: Duration::ZERO,
        resumable: false,
        result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(delete: bool, max_delete: u64) -> BucketSpec {
        BucketSpec {
            source: "prod-docs".into(),
            target: "test-docs".into(),
            prefix: "reports/".into(),
            delete,
            max_delete,
            concurrency: 8,
            transfer: Transfer::Auto,
        }
    }

    #[test]
    fn guards_refuse_an_empty_source_and_too_many_deletions_with_the_numbers() {
        let empty = SyncCounts {
            source_objects: 0,
            target_objects: 7,
            to_delete: 7,
            ..SyncCounts::default()
        };
        let err = enforce_guards(&spec(true, 100), &empty).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        let message = err.to_string();
        assert!(message.contains("s3://prod-docs/reports/"), "{message}");
        assert!(message.contains("holds 7"), "{message}");

        let many = SyncCounts {
            source_objects: 10,
            target_objects: 15,
            to_delete: 5,
            to_copy: 2,
            ..SyncCounts::default()
        };
        let message = enforce_guards(&spec(true, 3), &many)
            .unwrap_err()
            .to_string();
        assert!(message.contains("delete 5"), "{message}");
        assert!(message.contains("max_delete 3"), "{message}");
        assert!(message.contains("s3://test-docs/reports/"), "{message}");

        assert!(enforce_guards(&spec(true, 5), &many).is_ok());
        assert!(
            enforce_guards(&spec(false, 0), &empty).is_ok(),
            "no delete, no guard"
        );
        assert!(enforce_guards(&spec(true, 0), &SyncCounts::default()).is_ok());
    }

    #[test]
    fn samples_are_capped() {
        let mut samples = Samples::default();
        for i in 0..50 {
            samples.copy(&i.to_string());
            samples.delete(&i.to_string());
        }
        assert_eq!(samples.copies.len(), SAMPLES);
        assert_eq!(samples.deletes.len(), SAMPLES);
    }
}
