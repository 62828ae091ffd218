//! The writers of a refresh run: the stop signal a failed run raises, and a lease per invocation
//! that writes for it, so the run resumes its stream consumers only when nothing writes any more.
//!
//! When one branch of a refresh fails, the other branches' Lambda invocations go on (a Lambda
//! cannot be cancelled) and so do Glue job runs. Every invocation that writes for a run
//! (`copy-table`, `sync-bucket` applying, `start-glue`) therefore runs inside [`as_writer`]:
//!
//! 1. it puts a lease, `writers/<run>/live/<request id>.json`, naming what it writes and the
//!    invocation's end (its Lambda deadline: it cannot run past that);
//! 2. only then reads the stop signal, `writers/<run>/stop.json`: if the run stopped, the
//!    invocation ends at once with `Stopped` and writes nothing;
//! 3. while it works, a watcher reads the signal every [`WATCH_INTERVAL`] and, once it is there,
//!    spends the invocation's budget, so the work stops between pages (or objects) as it does when
//!    time runs low, and the invocation fails with `Stopped`;
//! 4. at the end it deletes its lease.
//!
//! `stop-writers` ([`super::stop_writers`]) raises the signal, then lists the leases. Because a
//! writer puts its lease before it reads the signal (S3 is strongly consistent), a writer either
//! sees the signal or has a lease `stop-writers` sees. A lease past its invocation's end (plus
//! [`CLOCK_MARGIN`]) is of an invocation that was cut off, so it no longer counts.
//!
//! The objects live under their own top-level prefix of the artifact bucket, `writers/`, so the
//! data movers get write access to it alone (run manifests and bundles stay out of their reach).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::aws::Aws;
use crate::aws::objects::{WRITERS_PREFIX, get_bytes, put_bytes, uri};
use crate::config::FunctionConfig;
use crate::error::TaskError;

use super::budget::{Budget, StopFlag, invocation_end};

/// How often an invocation in flight reads its run's stop signal.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// How long after its invocation's end a lease still counts, for clocks that differ.
pub const CLOCK_MARGIN: Duration = Duration::from_secs(5);

/// The key of a run's stop signal in the artifact bucket.
pub fn stop_key(run_id: &str) -> String {
    format!("{WRITERS_PREFIX}{run_id}/stop.json")
}

/// The prefix of a run's leases in the artifact bucket.
pub fn lease_prefix(run_id: &str) -> String {
    format!("{WRITERS_PREFIX}{run_id}/live/")
}

/// The stop signal: why the run stopped, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopSignal {
    /// The run's error type and cause.
    pub reason: String,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// A lease: one invocation writing for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The step (`copy-table`, `sync-bucket`, `start-glue`).
    pub step: String,
    /// What it writes, for people (`efcms-test-alpha segment 3 copy`).
    pub what: String,
    /// The invocation's end, milliseconds since the Unix epoch: it writes nothing after it.
    pub until_ms: u64,
}

impl LeaseRecord {
    /// Whether the invocation may still be running at `now_ms`.
    pub fn is_live(&self, now_ms: u64) -> bool {
        now_ms
            < self
                .until_ms
                .saturating_add(CLOCK_MARGIN.as_millis() as u64)
    }
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One invocation, as the Lambda context describes it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The Lambda request id (unique per invocation, retries included).
    pub request_id: String,
    /// The deadline the Lambda context gives.
    pub deadline: SystemTime,
}

impl From<&lambda_runtime::Context> for Invocation {
    fn from(context: &lambda_runtime::Context) -> Self {
        Invocation {
            request_id: context.request_id.clone(),
            deadline: context.deadline(),
        }
    }
}

/// The signal and leases of one run in ferry's artifact bucket.
#[derive(Debug, Clone)]
pub struct RunWriters {
    s3: aws_sdk_s3::Client,
    bucket: String,
    owner: String,
    run_id: String,
}

impl RunWriters {
    /// The run's writers in `bucket`, owned by ferry's own account `owner`.
    pub fn new(s3: aws_sdk_s3::Client, bucket: &str, owner: &str, run_id: &str) -> Self {
        RunWriters {
            s3,
            bucket: bucket.to_string(),
            owner: owner.to_string(),
            run_id: run_id.to_string(),
        }
    }

    /// The run's writers in the configured artifact bucket, for `step`.
    pub async fn for_step(
        aws: &Aws,
        config: &FunctionConfig,
        step: &str,
        run_id: &str,
    ) -> Result<Self, TaskError> {
        let bucket = config.require_artifact_bucket(step)?;
        let session = aws.session(run_id);
        let owner = session.own_account_id().await?;
        Ok(RunWriters::new(session.own_s3(), bucket, &owner, run_id))
    }

    /// The run's stop signal, if it was raised.
    pub async fn stop_signal(&self) -> Result<Option<StopSignal>, TaskError> {
        let key = stop_key(&self.run_id);
        match get_bytes(&self.s3, &self.bucket, &key).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                TaskError::Mismatch(format!(
                    "{} is not a stop signal: {e}",
                    uri(&self.bucket, &key)
                ))
            }),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Raises the stop signal with `reason`; a signal already raised is kept as it was.
    pub async fn raise_stop(&self, reason: &str) -> Result<StopSignal, TaskError> {
        if let Some(signal) = self.stop_signal().await? {
            return Ok(signal);
        }
        let signal = StopSignal {
            reason: reason.to_string(),
            at_ms: epoch_ms(SystemTime::now()),
        };
        self.put_json(&stop_key(&self.run_id), &signal).await?;
        Ok(signal)
    }

    /// The leases of invocations that may still be writing at `now`.
    pub async fn live_leases(&self, now: SystemTime) -> Result<Vec<LeaseRecord>, TaskError> {
        let now_ms = epoch_ms(now);
        let mut live = Vec::new();
        for key in self.lease_keys().await? {
            let record = match get_bytes(&self.s3, &self.bucket, &key).await {
                Ok(bytes) => serde_json::from_slice::<LeaseRecord>(&bytes).map_err(|e| {
                    TaskError::Mismatch(format!("{} is not a lease: {e}", uri(&self.bucket, &key)))
                })?,
                // Deleted between the listing and the read: that writer is done.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            if record.is_live(now_ms) {
                live.push(record);
            }
        }
        Ok(live)
    }

    async fn lease_keys(&self) -> Result<Vec<String>, TaskError> {
        let prefix = lease_prefix(&self.run_id);
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .expected_bucket_owner(&self.owner)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                TaskError::aws(
                    "ListObjectsV2",
                    uri(&self.bucket, &prefix),
                    e.into_service_error(),
                )
            })?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(String::from)),
            );
        }
        Ok(keys)
    }

    async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), TaskError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| TaskError::invalid(key, format!("cannot be encoded: {e}")))?;
        put_bytes(
            &self.s3,
            &self.bucket,
            &self.owner,
            key,
            "application/json",
            body,
        )
        .await
    }

    fn stopped(&self, signal: &StopSignal) -> TaskError {
        TaskError::Stopped {
            run_id: self.run_id.clone(),
            reason: signal.reason.clone(),
        }
    }

    /// Puts the lease of `invocation`, then reads the stop signal: a stopped run gets no writer.
    async fn enter(
        &self,
        invocation: &Invocation,
        lease: &LeaseRecord,
    ) -> Result<Lease, TaskError> {
        let key = format!(
            "{}{}.json",
            lease_prefix(&self.run_id),
            invocation.request_id
        );
        self.put_json(&key, lease).await?;
        let lease = Lease {
            writers: self.clone(),
            key,
            flag: StopFlag::default(),
        };
        match self.stop_signal().await {
            Ok(None) => Ok(lease),
            Ok(Some(signal)) => {
                lease.leave().await;
                Err(self.stopped(&signal))
            }
            Err(e) => {
                lease.leave().await;
                Err(e)
            }
        }
    }

    /// Reads the stop signal every [`WATCH_INTERVAL`] and raises `flag` once it is there.
    async fn watch(self, flag: StopFlag) {
        loop {
            tokio::time::sleep(WATCH_INTERVAL).await;
            match self.stop_signal().await {
                Ok(Some(signal)) => {
                    tracing::warn!(run = %self.run_id, reason = %signal.reason, "the run stopped its writers: stopping after this page");
                    flag.raise();
                    return;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "reading the stop signal failed; reading it again")
                }
            }
        }
    }
}

/// An invocation's lease, held while it writes.
struct Lease {
    writers: RunWriters,
    key: String,
    flag: StopFlag,
}

impl Lease {
    /// Deletes the lease. A lease that cannot be deleted still ends at its invocation's end.
    async fn leave(self) {
        let deleted = self
            .writers
            .s3
            .delete_object()
            .bucket(&self.writers.bucket)
            .expected_bucket_owner(&self.writers.owner)
            .key(&self.key)
            .send()
            .await;
        if let Err(e) = deleted {
            tracing::warn!(key = %self.key, error = %e.into_service_error(), "the lease could not be deleted; it lapses at the invocation's end");
        }
    }
}

/// Runs `work` as a writer of `run_id` (see the module documentation): `what` names it in its
/// lease. The budget `work` gets is spent once the run raises its stop signal, and the invocation
/// then fails with `Stopped`, whatever the work returned.
pub async fn as_writer<T, F, Fut>(
    writers: &RunWriters,
    invocation: &Invocation,
    step: &str,
    what: String,
    budget: Budget,
    work: F,
) -> Result<T, TaskError>
where
    F: FnOnce(Budget) -> Fut,
    Fut: Future<Output = Result<T, TaskError>>,
{
    let record = LeaseRecord {
        step: step.to_string(),
        what,
        until_ms: epoch_ms(invocation_end(invocation.deadline)),
    };
    let lease = writers.enter(invocation, &record).await?;
    let watcher = tokio::spawn(writers.clone().watch(lease.flag.clone()));
    let result = work(budget.stopped_by(lease.flag.clone())).await;
    watcher.abort();
    let stopped = lease.flag.is_raised();
    lease.leave().await;
    if !stopped {
        return result;
    }
    let signal = writers.stop_signal().await.ok().flatten();
    Err(writers.stopped(&signal.unwrap_or_else(|| StopSignal {
        reason: "the run raised its stop signal".into(),
        at_ms: 0,
    })))
}

/// A writer as its handler names it: the step, the run it writes for, and what it writes.
#[derive(Debug, Clone)]
pub struct Writer {
    /// The step (`copy-table`, `sync-bucket`, `start-glue`).
    pub step: &'static str,
    /// The ferry run.
    pub run_id: String,
    /// What it writes, for people.
    pub what: String,
}

impl Writer {
    /// `step` writing `what` for run `run_id`.
    pub fn new(step: &'static str, run_id: &str, what: String) -> Self {
        Writer {
            step,
            run_id: run_id.to_string(),
            what,
        }
    }
}

/// [`as_writer`] in the configured artifact bucket: what a writing function's handler calls.
pub async fn write_for<T, F, Fut>(
    aws: &Aws,
    config: &FunctionConfig,
    writer: Writer,
    context: &lambda_runtime::Context,
    budget: Budget,
    work: F,
) -> Result<T, TaskError>
where
    F: FnOnce(Budget) -> Fut,
    Fut: Future<Output = Result<T, TaskError>>,
{
    let writers = RunWriters::for_step(aws, config, writer.step, &writer.run_id).await?;
    let invocation = Invocation::from(context);
    as_writer(
        &writers,
        &invocation,
        writer.step,
        writer.what,
        budget,
        work,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_counts_until_its_invocation_ends_plus_the_clock_margin() {
        let lease = LeaseRecord {
            step: "copy-table".into(),
            what: "t segment 0 copy".into(),
            until_ms: 10_000,
        };
        assert!(lease.is_live(0));
        assert!(lease.is_live(10_000));
        assert!(lease.is_live(10_000 + CLOCK_MARGIN.as_millis() as u64 - 1));
        assert!(!lease.is_live(10_000 + CLOCK_MARGIN.as_millis() as u64));
    }

    #[test]
    fn signal_and_leases_live_under_the_writers_prefix_of_their_run() {
        assert_eq!(stop_key("r1"), "writers/r1/stop.json");
        assert_eq!(lease_prefix("r1"), "writers/r1/live/");
        assert!(!lease_prefix("r1").starts_with(&lease_prefix("r")));
    }
}
