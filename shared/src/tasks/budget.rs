//! The time budget of one invocation: long steps stop and return a continuation while enough
//! time is left to answer, so no invocation is cut off by its Lambda timeout.

use std::time::{Duration, Instant, SystemTime};

/// The longest a Lambda invocation can run.
pub const LAMBDA_MAX_TIMEOUT: Duration = Duration::from_secs(900);
/// Time to keep in hand for finishing in-flight work and answering.
pub const DEFAULT_RESERVE: Duration = Duration::from_secs(20);

/// An invocation's deadline with a reserve kept back.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    stop_at: Instant,
}

impl Budget {
    /// A budget ending `reserve` before the invocation's deadline (as the Lambda context gives it).
    ///
    /// A deadline already past when the invocation starts is not a real one (local runtimes send a
    /// fixed placeholder); the budget is then Lambda's longest timeout less the reserve.
    pub fn until(deadline: SystemTime, reserve: Duration) -> Self {
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or(LAMBDA_MAX_TIMEOUT);
        Budget::for_duration(left.saturating_sub(reserve))
    }

    /// A budget of `work` from now (tests use short ones to force continuations).
    pub fn for_duration(work: Duration) -> Self {
        Budget {
            stop_at: Instant::now() + work,
        }
    }

    /// The same budget, ending no later than `limit` from now when a limit is given.
    pub fn capped(self, limit: Option<Duration>) -> Self {
        match limit {
            Some(limit) => Budget {
                stop_at: self.stop_at.min(Instant::now() + limit),
            },
            None => self,
        }
    }

    /// Whether it is time to stop starting new work.
    pub fn exhausted(&self) -> bool {
        Instant::now() >= self.stop_at
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
        assert!(long.capped(Some(Duration::ZERO)).exhausted());
        assert!(!long.capped(None).exhausted());
    }
}
