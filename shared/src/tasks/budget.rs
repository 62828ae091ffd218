//! The time budget of one invocation: long steps stop and return a continuation while enough
//! time is left to answer, so no invocation is cut off by its Lambda timeout.
//!
//! The reserve alone does not cover a step that is slow when it runs (a throttled page, a large
//! part in flight), so work measures its steps with a [`Pace`] and starts another only while the
//! time left holds [`SAFETY_FACTOR`] times the longest step so far ([`may_start`]).
//!
//! A budget may also be ended early from outside by a [`StopFlag`]: an invocation that writes for
//! a run watches the run's stop signal (`tasks::writers`), and once the flag is raised the budget
//! is spent, so the work stops between pages exactly as it does when time runs low.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The longest a Lambda invocation can run.
pub const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// Time to keep in hand for finishing in-flight work and answering.
pub const DEFAULT_RESERVE: Duration = Duration::from_secs(20);

/// How many times the longest step so far must fit in the time left before another step starts:
/// one for the step still under way (a page's write overlaps the next page's read), one for the
/// step about to start, one for a step slower than any seen so far (throttling, retries).
pub const SAFETY_FACTOR: u32 = 3;

/// Whether a step may start with `left` time left when the longest step so far took `longest`.
pub fn may_start(left: Duration, longest: Duration) -> bool {
    !left.is_zero() && left >= longest.saturating_mul(SAFETY_FACTOR)
}

/// The longest of the steps measured so far (pages, objects, parts).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    longest: Duration,
}

impl Pace {
    /// Records a step that took `took`.
    pub fn record(&mut self, took: Duration) {
        self.longest = self.longest.max(took);
    }

    /// Records a step that started at `started` and has just ended.
    pub fn record_since(&mut self, started: Instant) {
        self.record(started.elapsed());
    }

    /// The longest step so far.
    pub fn longest(&self) -> Duration {
        self.longest
    }
}

/// A flag raised once, from another task, to end a [`Budget`] early.
#[derive(Debug, Clone, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Raises the flag: every budget watching it is spent from now on.
    pub fn raise(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the flag was raised.
    pub fn is_raised(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The real end of an invocation: its deadline, or Lambda's longest timeout from now when the
/// deadline is already past (local runtimes send a fixed placeholder).
pub fn invocation_end(deadline: SystemTime) -> SystemTime {
    if deadline > SystemTime::now() {
        deadline
    } else {
        SystemTime::now() + LAMBDA_MAX_TIMEOUT
    }
}

/// An invocation's deadline with a reserve kept back.
#[derive(Debug, Clone)]
pub struct Budget {
    stop_at: Instant,
    stop: Option<StopFlag>,
}

impl Budget {
    /// A budget ending `reserve` before the invocation's deadline (as the Lambda context gives it).
    ///
    /// A deadline already past when the invocation starts is not a real one (local runtimes send a
    /// fixed placeholder); the budget is then Lambda's longest timeout less the reserve.
    pub fn until(deadline: SystemTime, reserve: Duration) -> Self {
        let left = invocation_end(deadline)
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Budget::for_duration(left.saturating_sub(reserve))
    }

    /// A budget of `work` from now (tests use short ones to force continuations).
    pub fn for_duration(work: Duration) -> Self {
        Budget {
            stop_at: Instant::now() + work,
            stop: None,
        }
    }

    /// The same budget, ending no later than `limit` from now when a limit is given.
    pub fn capped(self, limit: Option<Duration>) -> Self {
        match limit {
            Some(limit) => Budget {
                stop_at: self.stop_at.min(Instant::now() + limit),
                ..self
            },
            None => self,
        }
    }

    /// The same budget, spent as soon as `flag` is raised.
    pub fn stopped_by(self, flag: StopFlag) -> Self {
        Budget {
            stop: Some(flag),
            ..self
        }
    }

    /// Whether the budget was ended early by its stop flag.
    pub fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(StopFlag::is_raised)
    }

    /// Whether it is time to stop starting new work.
    pub fn exhausted(&self) -> bool {
        self.stopped() || Instant::now() >= self.stop_at
    }

    /// Time left before the budget ends (none once its stop flag is raised).
    pub fn left(&self) -> Duration {
        if self.stopped() {
            return Duration::ZERO;
        }
        self.stop_at.saturating_duration_since(Instant::now())
    }

    /// Whether another step may start, given the longest step so far (see [`may_start`]).
    pub fn allows(&self, pace: &Pace) -> bool {
        may_start(self.left(), pace.longest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_inside_the_reserve_is_already_exhausted() {
        let deadline = SystemTime::now() + Duration::from_secs(5);
        assert!(Budget::until(deadline, DEFAULT_RESERVE).exhausted());
        let placeholder = SystemTime::UNIX_EPOCH + Duration::from_secs(600);
        assert!(!Budget::until(placeholder, DEFAULT_RESERVE).exhausted());
        assert!(!Budget::until(deadline + Duration::from_secs(60), DEFAULT_RESERVE).exhausted());
        assert!(Budget::for_duration(Duration::ZERO).exhausted());
        let long = Budget::for_duration(Duration::from_secs(600));
        assert!(long.clone().capped(Some(Duration::ZERO)).exhausted());
        assert!(!long.capped(None).exhausted());
    }

    #[test]
    fn a_raised_stop_flag_spends_the_budget_at_once() {
        let flag = StopFlag::default();
        let budget = Budget::for_duration(Duration::from_secs(600)).stopped_by(flag.clone());
        assert!(!budget.exhausted());
        assert!(budget.allows(&Pace::default()));
        flag.raise();
        assert!(budget.exhausted());
        assert!(budget.stopped());
        assert_eq!(budget.left(), Duration::ZERO);
        assert!(!budget.allows(&Pace::default()));
        assert!(!Budget::for_duration(Duration::from_secs(600)).stopped());
    }

    #[test]
    fn a_step_starts_only_when_three_of_the_longest_so_far_fit() {
        let s = Duration::from_secs;
        assert!(may_start(s(30), Duration::ZERO), "nothing measured yet");
        assert!(!may_start(Duration::ZERO, Duration::ZERO), "no time left");
        assert!(may_start(s(30), s(10)));
        assert!(!may_start(s(29), s(10)));
        assert!(!may_start(s(60), s(25)), "a throttled 25 s page needs 75 s");

        let mut pace = Pace::default();
        pace.record(s(4));
        pace.record(s(25));
        pace.record(s(2));
        assert_eq!(pace.longest(), s(25));
        let budget = Budget::for_duration(s(60));
        assert!(!budget.allows(&pace));
        assert!(budget.allows(&Pace::default()));
        assert!(Budget::for_duration(s(600)).allows(&pace));
    }
}
