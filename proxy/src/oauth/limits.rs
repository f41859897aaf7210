//! A budget per source for the anonymous endpoints that keep state (`/register`, `/authorize`,
//! `/oauth/login`), so a flood costs the flooder, not the users.
//!
//! Anyone may call these, and each call keeps something for a while (a client for 90 days, a
//! pending consent or login for 10 minutes), within per-kind bounds of the store. Without a
//! budget one source could fill a kind and push out what users are in the middle of. Each
//! source (an IPv4 address, or an IPv6 /64, since one host gets a whole /64) has a token bucket
//! of `per_minute` requests that refills continuously; past it the answer is 429 with
//! `Retry-After`. The buckets are per replica and in memory; their number is bounded (full
//! buckets are forgotten first, which loses nothing: a full bucket is what a new source gets).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Sources remembered at most; past it, sources with a full bucket are dropped.
const MAX_SOURCES: usize = 100_000;

/// Token buckets per source.
pub struct SourceLimits {
    per_minute: u32,
    buckets: Mutex<HashMap<u128, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl SourceLimits {
    /// `per_minute` requests per source and minute (also the burst); 0 turns the limit off.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `source`'s budget; `Err` is how long until one is available.
    /// Requests without a known source (tests, a Unix socket) share one budget.
    pub fn take(&self, source: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_SOURCES {
            buckets.retain(|_, b| refilled(*b, now, per_second, capacity) < capacity);
            if buckets.len() >= MAX_SOURCES {
                // Every source is in the middle of a burst: start over rather than grow.
                buckets.clear();
            }
        }
        let bucket = buckets.entry(source_key(source)).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        bucket.tokens = refilled(*bucket, now, per_second, capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

fn refilled(bucket: Bucket, now: Instant, per_second: f64, capacity: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    (bucket.tokens + elapsed * per_second).min(capacity)
}

/// IPv4 addresses as they are; IPv6 by /64 (IPv4-mapped ones as IPv4).
fn source_key(source: Option<IpAddr>) -> u128 {
    match source {
        None => u128::MAX,
        Some(IpAddr::V4(v4)) => u128::from(u32::from(v4)),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) >> 64) << 64 | 1 << 32,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_its_burst_then_waits_and_others_are_unaffected() {
        let limits = SourceLimits::new(60);
        let start = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..60 {
            limits.take(Some(a), start).unwrap();
        }
        let wait = limits.take(Some(a), start).unwrap_err();
        assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
        limits.take(Some(b), start).unwrap();
        // One per second comes back.
        limits
            .take(Some(a), start + Duration::from_millis(1001))
            .unwrap();
        assert!(
            limits
                .take(Some(a), start + Duration::from_millis(1001))
                .is_err()
        );
    }

    #[test]
    fn ipv6_sources_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        let limits = SourceLimits::new(2);
        let now = Instant::now();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        limits.take(Some(one), now).unwrap();
        limits.take(Some(same_64), now).unwrap();
        assert!(limits.take(Some(one), now).is_err());
        limits.take(Some(other_64), now).unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        limits.take(Some(v4), now).unwrap();
        limits.take(Some(mapped), now).unwrap();
        assert!(limits.take(Some(v4), now).is_err());
    }

    #[test]
    fn zero_means_no_limit_and_the_map_stays_bounded() {
        let off = SourceLimits::new(0);
        for _ in 0..1000 {
            off.take(None, Instant::now()).unwrap();
        }
        let limits = SourceLimits::new(10);
        let now = Instant::now();
        for i in 0..(MAX_SOURCES as u32 + 10) {
            let _ = limits.take(Some(IpAddr::V4(i.into())), now);
        }
        assert!(limits.buckets.lock().unwrap().len() <= MAX_SOURCES);
    }
}
