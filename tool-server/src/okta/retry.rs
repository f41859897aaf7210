//! How long to wait before retrying.
//!
//! A 429 waits until `X-Rate-Limit-Reset` measured against the response's own `Date`, so the
//! wait is right by Okta's clock whatever our clock says. Server errors and lost connections
//! back off exponentially. Both add jitter so that parallel calls do not retry in lockstep.
//!
//! Writes are stricter ([`write_may_retry`]): Okta's rate limiter answers 429 before the request
//! reaches the API, so a 429 that says when the limit resets changed nothing and may be sent
//! again then; a connection that could not be opened sent nothing. A 5xx or a timeout may come
//! after Okta made the change, and Okta does not document these writes as idempotent, so they
//! are never repeated.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use reqwest::header::{DATE, HeaderMap, HeaderName, RETRY_AFTER};

/// The longest a single rate-limit wait may last; Okta's windows are one minute.
pub(crate) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Okta's rate-limit reset time, in epoch seconds.
const RESET: HeaderName = HeaderName::from_static("x-rate-limit-reset");

/// First backoff step for 5xx and connection errors; doubles with each retry.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Cap of one backoff step.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Time until Okta's rate limit resets, from a 429's headers: `X-Rate-Limit-Reset` (epoch
/// seconds) minus `Date` (Okta's clock), clamped to [0, 60 s]. Without `Date`, `local_now`
/// stands in; without a reset time, `Retry-After`; without either, one second.
pub(crate) fn rate_limit_wait(headers: &HeaderMap, local_now: DateTime<Utc>) -> Duration {
    let number = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    let server_now = headers
        .get(DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        .map(|d| d.timestamp())
        .unwrap_or_else(|| local_now.timestamp());
    let seconds = number(RESET)
        .map(|reset| reset.saturating_sub(server_now))
        .or_else(|| number(RETRY_AFTER))
        .unwrap_or(1);
    let seconds = seconds.clamp(0, MAX_RATE_LIMIT_WAIT.as_secs() as i64);
    Duration::from_secs(seconds as u64)
}

/// Whether a 429 carries Okta's `X-Rate-Limit-Reset`: the one rate-limit answer after which a
/// write is sent again (the limiter refused it before anything was processed, and says when).
pub(crate) fn has_rate_limit_reset(headers: &HeaderMap) -> bool {
    headers
        .get(RESET)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().parse::<u64>().is_ok())
}

/// What a write may do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteRetry {
    /// Send it again once the rate limit resets: the 429 came before anything was processed.
    AfterReset,
    /// Send it again after a backoff: no connection was made, so nothing was sent.
    AfterBackoff,
    /// Never again: Okta may have made the change (a 5xx, a timeout, a broken connection), or
    /// the answer is final (4xx).
    Never,
}

/// The retry rule of writes, from the attempt's HTTP status (`None`: no answer) and whether
/// the failure was a connection that could not be opened.
pub(crate) fn write_may_retry(
    status: Option<u16>,
    headers: Option<&HeaderMap>,
    connect_failed: bool,
) -> WriteRetry {
    match (status, headers) {
        (Some(429), Some(headers)) if has_rate_limit_reset(headers) => WriteRetry::AfterReset,
        (None, _) if connect_failed => WriteRetry::AfterBackoff,
        _ => WriteRetry::Never,
    }
}

/// Backoff before retry number `retry` (0-based): 200 ms, 400 ms, 800 ms, … capped at 5 s.
pub(crate) fn backoff(retry: u32) -> Duration {
    BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(retry.min(16)))
        .min(BACKOFF_MAX)
}

/// A random extra wait of up to `max_ms` milliseconds.
pub(crate) fn jitter(max_ms: u64) -> Duration {
    Duration::from_millis(rand::rng().random_range(0..=max_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    #[test]
    fn waits_until_reset_by_the_servers_clock() {
        // Date = 2024-01-01T00:00:00Z = 1704067200; reset 7 s later.
        let h = headers(&[
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("x-rate-limit-reset", "1704067207"),
        ]);
        // Our clock is an hour off either way: it does not matter.
        for local in ["2024-01-01T01:00:00Z", "2023-12-31T23:00:00Z"] {
            assert_eq!(rate_limit_wait(&h, at(local)), Duration::from_secs(7));
        }
    }

    #[test]
    fn wait_is_clamped_to_zero_and_sixty_seconds() {
        let past = headers(&[
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("x-rate-limit-reset", "1704067100"),
        ]);
        assert_eq!(rate_limit_wait(&past, Utc::now()), Duration::ZERO);
        let far = headers(&[
            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("x-rate-limit-reset", "1704070800"),
        ]);
        assert_eq!(rate_limit_wait(&far, Utc::now()), MAX_RATE_LIMIT_WAIT);
    }

    #[test]
    fn falls_back_to_local_clock_retry_after_or_one_second() {
        let no_date = headers(&[("x-rate-limit-reset", "1704067203")]);
        assert_eq!(
            rate_limit_wait(&no_date, at("2024-01-01T00:00:00Z")),
            Duration::from_secs(3)
        );
        let bad_date = headers(&[("date", "yesterday"), ("x-rate-limit-reset", "1704067203")]);
        assert_eq!(
            rate_limit_wait(&bad_date, at("2024-01-01T00:00:00Z")),
            Duration::from_secs(3)
        );
        let retry_after = headers(&[("retry-after", "5")]);
        assert_eq!(
            rate_limit_wait(&retry_after, Utc::now()),
            Duration::from_secs(5)
        );
        let garbage = headers(&[("x-rate-limit-reset", "soon")]);
        assert_eq!(
            rate_limit_wait(&garbage, Utc::now()),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn writes_are_repeated_only_when_nothing_was_processed() {
        let reset = headers(&[("x-rate-limit-reset", "1704067203")]);
        assert_eq!(
            write_may_retry(Some(429), Some(&reset), false),
            WriteRetry::AfterReset
        );
        // A 429 without a reset time, or with garbage, is not trusted to have changed nothing.
        for bad in [
            headers(&[]),
            headers(&[("x-rate-limit-reset", "soon")]),
            headers(&[("retry-after", "5")]),
        ] {
            assert_eq!(
                write_may_retry(Some(429), Some(&bad), false),
                WriteRetry::Never
            );
        }
        for status in [500, 502, 503, 504, 400, 404, 403] {
            assert_eq!(
                write_may_retry(Some(status), Some(&reset), false),
                WriteRetry::Never,
                "{status}"
            );
        }
        assert_eq!(write_may_retry(None, None, true), WriteRetry::AfterBackoff);
        // A timeout or a connection lost mid-request: Okta may have made the change.
        assert_eq!(write_may_retry(None, None, false), WriteRetry::Never);
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(200));
        assert_eq!(backoff(1), Duration::from_millis(400));
        assert_eq!(backoff(2), Duration::from_millis(800));
        assert_eq!(backoff(10), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
        for _ in 0..100 {
            assert!(jitter(250) <= Duration::from_millis(250));
        }
    }
}
