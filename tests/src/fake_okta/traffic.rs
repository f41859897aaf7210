//! What happens to API traffic besides the answer itself: per-family rate-limit budgets, the faults
//! tests inject (latency, 429s, 5xx), and the counters tests read back.
//!
//! Okta budgets requests per endpoint family per minute and tells clients where they stand in
//! `X-Rate-Limit-*` headers on every response; a client that honours them never sees a 429 it
//! could have avoided. Tests need to force the unhappy paths on demand and then prove how the
//! client behaved (how many requests, how many at once), which is what `Faults` and `Stats` are for.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The endpoint families that have separate rate-limit budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Users,
    Groups,
    Apps,
    Logs,
    Policies,
    Zones,
    Other,
}

impl Family {
    /// The family of a request path such as `/api/v1/groups/00g…/users`.
    pub fn of_path(path: &str) -> Self {
        let rest = path.strip_prefix("/api/v1/").unwrap_or("");
        match rest.split('/').next().unwrap_or("") {
            "users" => Family::Users,
            "groups" => Family::Groups,
            "apps" => Family::Apps,
            "logs" => Family::Logs,
            "policies" => Family::Policies,
            "zones" => Family::Zones,
            _ => Family::Other,
        }
    }
}

/// Where a family's budget stands, as sent in the `X-Rate-Limit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `X-Rate-Limit-Limit`: requests allowed per window.
    pub limit: u64,
    /// `X-Rate-Limit-Remaining`: requests left in the current window.
    pub remaining: u64,
    /// `X-Rate-Limit-Reset`: epoch second at which the window resets.
    pub reset: u64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: u64,
    used: u64,
}

/// Fixed-window request budgets, one per endpoint family.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_window: u64,
    window_secs: u64,
    windows: HashMap<Family, Window>,
}

impl RateLimiter {
    /// `per_window` requests per family every `window_secs` seconds (at least 1 s).
    pub fn new(per_window: u64, window_secs: u64) -> Self {
        Self {
            per_window,
            window_secs: window_secs.max(1),
            windows: HashMap::new(),
        }
    }

    /// Requests allowed per window.
    pub fn per_window(&self) -> u64 {
        self.per_window
    }

    /// Window length in seconds.
    pub fn window_secs(&self) -> u64 {
        self.window_secs
    }

    /// Changes the budget; every family starts a fresh window.
    pub fn reconfigure(&mut self, per_window: u64, window_secs: u64) {
        *self = Self::new(per_window, window_secs);
    }

    fn window(&mut self, family: Family, now: u64) -> &mut Window {
        let window_secs = self.window_secs;
        let window = self.windows.entry(family).or_insert(Window {
            started: now,
            used: 0,
        });
        if now >= window.started.saturating_add(window_secs) {
            *window = Window {
                started: now,
                used: 0,
            };
        }
        window
    }

    fn budget(&self, window: Window) -> Budget {
        Budget {
            limit: self.per_window,
            remaining: self.per_window.saturating_sub(window.used),
            reset: window.started.saturating_add(self.window_secs),
        }
    }

    /// Spends one request of `family`'s budget at `now` (epoch seconds); `Err` when none is left.
    pub fn acquire(&mut self, family: Family, now: u64) -> Result<Budget, Budget> {
        let per_window = self.per_window;
        let window = self.window(family, now);
        let allowed = window.used < per_window;
        if allowed {
            window.used += 1;
        }
        let snapshot = *window;
        let budget = self.budget(snapshot);
        if allowed { Ok(budget) } else { Err(budget) }
    }

    /// The budget of `family` at `now` without spending anything.
    pub fn peek(&mut self, family: Family, now: u64) -> Budget {
        let snapshot = *self.window(family, now);
        self.budget(snapshot)
    }
}

/// Faults injected through `POST /__fake/faults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Faults {
    /// Delay added to every API request, in milliseconds.
    pub latency_ms: u64,
    /// How many of the next API requests answer 429.
    pub inject_429: u64,
    /// How many of the next API requests answer 503.
    pub inject_5xx: u64,
    /// Seconds from now to the `X-Rate-Limit-Reset` of an injected 429.
    pub inject_429_reset_secs: u64,
}

impl Faults {
    /// No faults besides `latency_ms`; injected 429s reset after 2 s.
    pub fn with_latency(latency_ms: u64) -> Self {
        Self {
            latency_ms,
            inject_429: 0,
            inject_5xx: 0,
            inject_429_reset_secs: 2,
        }
    }
}

/// Body of `POST /__fake/faults`: any subset of the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsUpdate {
    pub latency_ms: Option<u64>,
    pub inject_429: Option<u64>,
    pub inject_5xx: Option<u64>,
    pub rate_limit_per_minute: Option<u64>,
    /// Sets the rate-limit window and the reset of injected 429s.
    pub rate_limit_reset_secs: Option<u64>,
    /// Sets only the reset of injected 429s.
    pub inject_429_reset_secs: Option<u64>,
}

/// Most requests `StatsSnapshot::requests_seen` keeps (the oldest are dropped).
const REQUESTS_KEPT: usize = 1000;

/// One API request as a handler received it, for tests that check what a client asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenRequest {
    pub method: String,
    /// Route template, e.g. `/api/v1/users/{id}/groups`.
    pub route: String,
    /// Path as sent (still percent-encoded).
    pub path: String,
    /// Decoded query parameters in their order.
    pub query: Vec<(String, String)>,
}

/// Counters read through `GET /__fake/stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// API requests received (any outcome).
    pub requests: u64,
    /// Requests per route template, e.g. `/api/v1/groups/{id}/users`.
    pub by_path: BTreeMap<String, u64>,
    /// Responses with status 429.
    pub status_429: u64,
    /// Responses with a 5xx status.
    pub status_5xx: u64,
    /// Most API requests ever served at the same time.
    pub max_in_flight: u64,
    /// API requests being served now.
    pub in_flight: u64,
    /// The last API requests that reached a handler (past the gate), oldest first.
    pub requests_seen: Vec<SeenRequest>,
}

/// Shared, thread-safe traffic state of one fake org.
#[derive(Debug)]
pub struct Traffic {
    initial_faults: Faults,
    initial_limits: (u64, u64),
    faults: Mutex<Faults>,
    limiter: Mutex<RateLimiter>,
    counters: Mutex<StatsSnapshot>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// What the gate must do with one request, decided before it reaches a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it; send these rate-limit headers.
    Serve(Budget),
    /// Answer 429 with these headers (budget spent or injected).
    RateLimited(Budget),
    /// Answer 503 (injected).
    Unavailable(Budget),
}

/// Marks one API request as in flight until dropped.
#[derive(Debug)]
pub struct InFlight<'a> {
    traffic: &'a Traffic,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.traffic.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere must not take the fake down with poisoned locks.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Traffic {
    /// Traffic state with the start-up settings.
    pub fn new(latency_ms: u64, per_minute: u64, window_secs: u64) -> Self {
        let faults = Faults::with_latency(latency_ms);
        Self {
            initial_faults: faults,
            initial_limits: (per_minute, window_secs),
            faults: Mutex::new(faults),
            limiter: Mutex::new(RateLimiter::new(per_minute, window_secs)),
            counters: Mutex::new(StatsSnapshot::default()),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }
    }

    /// Counts a new API request under `route` and marks it in flight.
    pub fn begin(&self, route: &str) -> InFlight<'_> {
        {
            let mut counters = lock(&self.counters);
            counters.requests += 1;
            *counters.by_path.entry(route.to_owned()).or_insert(0) += 1;
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight { traffic: self }
    }

    /// Keeps `request` in `requests_seen`.
    pub fn record_request(&self, request: SeenRequest) {
        let mut counters = lock(&self.counters);
        if counters.requests_seen.len() >= REQUESTS_KEPT {
            counters.requests_seen.remove(0);
        }
        counters.requests_seen.push(request);
    }

    /// Records the status a request was answered with.
    pub fn record_status(&self, status: u16) {
        let mut counters = lock(&self.counters);
        if status == 429 {
            counters.status_429 += 1;
        }
        if (500..600).contains(&status) {
            counters.status_5xx += 1;
        }
    }

    /// The injected latency, in milliseconds.
    pub fn latency_ms(&self) -> u64 {
        lock(&self.faults).latency_ms
    }

    /// Budget headers for a request that is answered without spending budget (e.g. a 401).
    pub fn peek(&self, family: Family, now: u64) -> Budget {
        lock(&self.limiter).peek(family, now)
    }

    /// Decides an authenticated request: injected faults first, then the family's budget.
    pub fn admit(&self, family: Family, now: u64) -> Verdict {
        let mut faults = lock(&self.faults);
        let mut limiter = lock(&self.limiter);
        if faults.inject_429 > 0 {
            faults.inject_429 -= 1;
            return Verdict::RateLimited(Budget {
                limit: limiter.per_window(),
                remaining: 0,
                reset: now.saturating_add(faults.inject_429_reset_secs),
            });
        }
        if faults.inject_5xx > 0 {
            faults.inject_5xx -= 1;
            return Verdict::Unavailable(limiter.peek(family, now));
        }
        match limiter.acquire(family, now) {
            Ok(budget) => Verdict::Serve(budget),
            Err(budget) => Verdict::RateLimited(budget),
        }
    }

    /// Applies a `POST /__fake/faults` body.
    pub fn update(&self, update: &FaultsUpdate) {
        let mut faults = lock(&self.faults);
        let mut limiter = lock(&self.limiter);
        if let Some(latency) = update.latency_ms {
            faults.latency_ms = latency;
        }
        if let Some(n) = update.inject_429 {
            faults.inject_429 = n;
        }
        if let Some(n) = update.inject_5xx {
            faults.inject_5xx = n;
        }
        if let Some(secs) = update.rate_limit_reset_secs {
            faults.inject_429_reset_secs = secs;
        }
        if let Some(secs) = update.inject_429_reset_secs {
            faults.inject_429_reset_secs = secs;
        }
        if update.rate_limit_per_minute.is_some() || update.rate_limit_reset_secs.is_some() {
            let per_window = update.rate_limit_per_minute.unwrap_or(limiter.per_window());
            let window = update
                .rate_limit_reset_secs
                .unwrap_or(limiter.window_secs());
            limiter.reconfigure(per_window, window);
        }
    }

    /// Restores the start-up faults and rate limits (fresh budgets).
    pub fn reset_faults(&self) {
        *lock(&self.faults) = self.initial_faults;
        let (per_minute, window) = self.initial_limits;
        lock(&self.limiter).reconfigure(per_minute, window);
    }

    /// Current settings as `GET /__fake/faults` shows them.
    pub fn settings(&self) -> serde_json::Value {
        let faults = *lock(&self.faults);
        let limiter = lock(&self.limiter);
        serde_json::json!({
            "latency_ms": faults.latency_ms,
            "inject_429": faults.inject_429,
            "inject_5xx": faults.inject_5xx,
            "inject_429_reset_secs": faults.inject_429_reset_secs,
            "rate_limit_per_minute": limiter.per_window(),
            "rate_limit_reset_secs": limiter.window_secs(),
        })
    }

    /// Current counters.
    pub fn stats(&self) -> StatsSnapshot {
        let mut snapshot = lock(&self.counters).clone();
        snapshot.in_flight = self.in_flight.load(Ordering::SeqCst);
        snapshot.max_in_flight = self.max_in_flight.load(Ordering::SeqCst);
        snapshot
    }

    /// Zeroes the counters (`max_in_flight` restarts from the requests in flight now).
    pub fn reset_stats(&self) {
        *lock(&self.counters) = StatsSnapshot::default();
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(Family::of_path("/api/v1/users"), Family::Users);
        assert_eq!(Family::of_path("/api/v1/groups/00g1/users"), Family::Groups);
        assert_eq!(Family::of_path("/api/v1/logs"), Family::Logs);
        assert_eq!(
            Family::of_path("/api/v1/policies/x/rules"),
            Family::Policies
        );
        assert_eq!(Family::of_path("/api/v1/zones"), Family::Zones);
        assert_eq!(Family::of_path("/api/v1/apps/0oa/users"), Family::Apps);
        assert_eq!(Family::of_path("/api/v1/meta"), Family::Other);
        assert_eq!(Family::of_path("/"), Family::Other);
    }

    #[test]
    fn budget_is_spent_then_resets() {
        let mut limiter = RateLimiter::new(3, 60);
        let t0 = 1_000_000;
        assert_eq!(
            limiter.acquire(Family::Users, t0),
            Ok(Budget {
                limit: 3,
                remaining: 2,
                reset: t0 + 60
            })
        );
        assert!(limiter.acquire(Family::Users, t0).is_ok());
        assert_eq!(
            limiter.acquire(Family::Users, t0 + 1).map(|b| b.remaining),
            Ok(0)
        );
        let spent = limiter.acquire(Family::Users, t0 + 2).unwrap_err();
        assert_eq!((spent.remaining, spent.reset), (0, t0 + 60));
        // Other families have their own budget.
        assert!(limiter.acquire(Family::Groups, t0 + 2).is_ok());
        // A new window at the reset time.
        assert_eq!(
            limiter
                .acquire(Family::Users, t0 + 60)
                .map(|b| (b.remaining, b.reset)),
            Ok((2, t0 + 120))
        );
        assert_eq!(limiter.peek(Family::Logs, t0).remaining, 3);
    }

    #[test]
    fn injected_faults_come_first_and_run_out() {
        let traffic = Traffic::new(0, 100, 60);
        traffic.update(&FaultsUpdate {
            inject_429: Some(2),
            inject_5xx: Some(1),
            ..FaultsUpdate::default()
        });
        let now = 5_000;
        assert_eq!(
            traffic.admit(Family::Users, now),
            Verdict::RateLimited(Budget {
                limit: 100,
                remaining: 0,
                reset: now + 2
            })
        );
        assert!(matches!(
            traffic.admit(Family::Users, now),
            Verdict::RateLimited(_)
        ));
        assert!(matches!(
            traffic.admit(Family::Users, now),
            Verdict::Unavailable(_)
        ));
        assert!(matches!(
            traffic.admit(Family::Users, now),
            Verdict::Serve(_)
        ));
        traffic.update(&FaultsUpdate {
            rate_limit_per_minute: Some(1),
            rate_limit_reset_secs: Some(5),
            ..FaultsUpdate::default()
        });
        assert!(matches!(
            traffic.admit(Family::Apps, now),
            Verdict::Serve(_)
        ));
        assert_eq!(
            traffic.admit(Family::Apps, now),
            Verdict::RateLimited(Budget {
                limit: 1,
                remaining: 0,
                reset: now + 5
            })
        );
        traffic.reset_faults();
        assert_eq!(traffic.settings()["rate_limit_per_minute"], 100);
        assert!(matches!(
            traffic.admit(Family::Apps, now),
            Verdict::Serve(_)
        ));
    }

    #[test]
    fn stats_track_concurrency() {
        let traffic = Traffic::new(0, 100, 60);
        {
            let _a = traffic.begin("/api/v1/users");
            let _b = traffic.begin("/api/v1/users");
            let _c = traffic.begin("/api/v1/groups/{id}/users");
            assert_eq!(traffic.stats().in_flight, 3);
        }
        traffic.record_status(429);
        traffic.record_status(503);
        traffic.record_status(200);
        let stats = traffic.stats();
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.by_path["/api/v1/users"], 2);
        assert_eq!((stats.status_429, stats.status_5xx), (1, 1));
        assert_eq!((stats.max_in_flight, stats.in_flight), (3, 0));
        traffic.reset_stats();
        assert_eq!(traffic.stats(), StatsSnapshot::default());
    }

    #[test]
    fn faults_update_rejects_unknown_fields() {
        assert!(serde_json::from_str::<FaultsUpdate>(r#"{"inject_42": 1}"#).is_err());
        let update: FaultsUpdate = serde_json::from_str(r#"{"latency_ms": 50}"#).unwrap();
        assert_eq!(update.latency_ms, Some(50));
    }
}
