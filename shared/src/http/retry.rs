//! Retry limits, backoff, `Retry-After`, and what each HTTP status means for a retry.

use std::time::{Duration, SystemTime};

use backon::ExponentialBuilder;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::error::Failure;

/// Retry limits of one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// First backoff after a 5xx or connection error; doubles per attempt, with full jitter.
    pub backoff: Duration,
    /// The longest `Retry-After` waited inside the call; a longer one is returned as
    /// [`Failure::Throttled`] carrying the wait, for the state machine to wait instead.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            backoff: Duration::from_millis(250),
            max_wait: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The exponential schedule (before jitter): `backoff`, doubling, at most `max_wait` each,
    /// `attempts - 1` of them.
    pub(crate) fn schedule(&self) -> ExponentialBuilder {
        let retries = self.attempts.saturating_sub(1) as usize;
        ExponentialBuilder::new()
            .with_min_delay(self.backoff)
            .with_factor(2.0)
            .with_max_delay(self.max_wait.max(self.backoff))
            .with_max_times(retries)
    }
}

/// Full jitter: a uniformly random wait in `[0, ceiling]`.
pub(crate) fn full_jitter(ceiling: Duration) -> Duration {
    ceiling.mul_f64(fastrand::f64())
}

/// Maps an HTTP status to a retry class: 401/403 Unauthorized, 404 NotFound, 409 Conflict,
/// 429 Throttled, 408 and 5xx Retryable, any other Rejected.
pub fn classify_status(status: StatusCode) -> Failure {
    match status.as_u16() {
        401 | 403 => Failure::Unauthorized,
        404 => Failure::NotFound,
        409 => Failure::Conflict,
        429 => Failure::Throttled,
        408 | 500..=599 => Failure::Retryable,
        _ => Failure::Rejected,
    }
}

/// The wait a reply asks for: `x-retry-after`, else `Retry-After`, each in whole seconds or as an
/// HTTP date (a date in the past means no wait).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    ["x-retry-after", "retry-after"].iter().find_map(|name| {
        let text = headers.get(*name)?.to_str().ok()?.trim();
        if let Ok(seconds) = text.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = httpdate::parse_http_date(text).ok()?;
        Some(at.duration_since(now).unwrap_or(Duration::ZERO))
    })
}

/// Whole seconds, rounded up (a wait of 1.2 s is told as 2 s).
pub(crate) fn ceil_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use backon::BackoffBuilder;
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")]), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                &headers(&[("retry-after", "7"), ("x-retry-after", "3")]),
                now
            ),
            Some(Duration::from_secs(3))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &later)]), now),
            Some(Duration::from_secs(90))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &earlier)]), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn statuses_map_to_retry_classes() {
        assert_eq!(
            classify_status(StatusCode::TOO_MANY_REQUESTS),
            Failure::Throttled
        );
        assert_eq!(classify_status(StatusCode::BAD_GATEWAY), Failure::Retryable);
        assert_eq!(
            classify_status(StatusCode::REQUEST_TIMEOUT),
            Failure::Retryable
        );
        assert_eq!(classify_status(StatusCode::CONFLICT), Failure::Conflict);
        assert_eq!(
            classify_status(StatusCode::FORBIDDEN),
            Failure::Unauthorized
        );
        assert_eq!(classify_status(StatusCode::NOT_FOUND), Failure::NotFound);
        assert_eq!(classify_status(StatusCode::BAD_REQUEST), Failure::Rejected);
    }

    #[test]
    fn the_schedule_doubles_up_to_the_cap_and_jitter_stays_below_it() {
        let policy = RetryPolicy {
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_wait: Duration::from_millis(300),
        };
        let waits: Vec<u128> = policy
            .schedule()
            .build()
            .map(|wait| wait.as_millis())
            .collect();
        assert_eq!(waits, [100, 200, 300, 300]);
        for _ in 0..100 {
            assert!(full_jitter(Duration::from_millis(100)) <= Duration::from_millis(100));
        }
        let once = RetryPolicy {
            attempts: 1,
            ..policy
        };
        assert_eq!(once.schedule().build().count(), 0);
        assert_eq!(ceil_seconds(Duration::from_millis(1200)), 2);
        assert_eq!(ceil_seconds(Duration::from_secs(30)), 30);
    }
}
