//! The proxy's metrics (README, Metrics), and the listener that serves them.
//!
//! `/mcp` is a hot path measured against bare pingora, so everything it touches here is
//! registered once: the counter of each (endpoint, status class) pair sits in an array indexed
//! by enums, and counting a request is one atomic add, with no label lookup, formatting,
//! allocation or lock. Labels come from fixed sets only (an endpoint the proxy knows, else
//! `other`); never a user, token or raw path.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use okta_mcp_common::metrics::{
    self as shared, LATENCY_BUCKETS, STATUS_CLASSES, prometheus, status_class_index,
};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
};

/// What a request was for, as the `endpoint` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Mcp,
    WellKnown,
    Register,
    Authorize,
    Consent,
    Callback,
    Token,
    Revoke,
    Login,
    Logout,
    Hooks,
    Health,
    Ready,
    Other,
}

impl Endpoint {
    const ALL: [Endpoint; 14] = [
        Self::Mcp,
        Self::WellKnown,
        Self::Register,
        Self::Authorize,
        Self::Consent,
        Self::Callback,
        Self::Token,
        Self::Revoke,
        Self::Login,
        Self::Logout,
        Self::Hooks,
        Self::Health,
        Self::Ready,
        Self::Other,
    ];

    /// The endpoint of a request path (no allocation: a match on the path).
    pub fn of(path: &str) -> Self {
        match path {
            "/mcp" => Self::Mcp,
            "/register" => Self::Register,
            "/authorize" => Self::Authorize,
            "/oauth/consent" => Self::Consent,
            "/oauth/callback" => Self::Callback,
            "/token" => Self::Token,
            "/revoke" => Self::Revoke,
            "/oauth/login" => Self::Login,
            "/oauth/logout" => Self::Logout,
            crate::hooks::PATH => Self::Hooks,
            "/health" => Self::Health,
            "/ready" => Self::Ready,
            _ if path.starts_with("/.well-known/") => Self::WellKnown,
            _ => Self::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Mcp => "mcp",
            Self::WellKnown => "well_known",
            Self::Register => "register",
            Self::Authorize => "authorize",
            Self::Consent => "consent",
            Self::Callback => "callback",
            Self::Token => "token",
            Self::Revoke => "revoke",
            Self::Login => "login",
            Self::Logout => "logout",
            Self::Hooks => "hooks",
            Self::Health => "health",
            Self::Ready => "ready",
            Self::Other => "other",
        }
    }
}

/// How an Okta login (the callback) ended.
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    /// The user got a role and our code.
    Success,
    /// Okta signed the user in, but no group of theirs grants a role.
    NoRole,
    /// Okta answered with an error (the user cancelled, the app is not assigned, …).
    OktaError,
    /// The code exchange or the ID token check failed, or the store did not answer.
    Failed,
}

/// How a refresh at `/token` ended.
#[derive(Debug, Clone, Copy)]
pub enum RefreshOutcome {
    Success,
    /// 4xx: a bad, reused or revoked refresh token, or Okta no longer accepts the login.
    Refused,
    /// 5xx: Okta or the store could not be reached.
    Unavailable,
}

/// Every metric of the proxy, registered once.
pub struct ProxyMetrics {
    registry: Registry,
    /// `[endpoint][status class]`.
    requests: Vec<[IntCounter; STATUS_CLASSES.len()]>,
    mcp_duration: Histogram,
    logins: [IntCounter; 4],
    refreshes: [IntCounter; 3],
    /// By the index of the operation in [`STORE_OPERATIONS`].
    store_duration: [Histogram; STORE_OPERATIONS.len()],
    store_errors: [IntCounter; STORE_OPERATIONS.len()],
}

/// The proxy's metrics; they count whether or not `--metrics-listen` serves them.
pub static METRICS: LazyLock<ProxyMetrics> = LazyLock::new(ProxyMetrics::new);

/// Every metric the proxy exports, with its labels (`deploy/check.sh` checks the dashboard
/// and the alerts against this list; a test keeps it equal to what the registry serves).
pub const EXPORTED: &[(&str, &[&str])] = &[
    ("okta_mcp_proxy_requests_total", &["endpoint", "status"]),
    ("okta_mcp_proxy_mcp_request_duration_seconds", &[]),
    ("okta_mcp_proxy_logins_total", &["outcome"]),
    ("okta_mcp_proxy_refreshes_total", &["outcome"]),
    (
        "okta_mcp_proxy_store_operation_duration_seconds",
        &["operation"],
    ),
    ("okta_mcp_proxy_store_errors_total", &["operation"]),
];

impl ProxyMetrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "okta_mcp_proxy_requests_total",
                "Requests answered, by endpoint and status class.",
            ),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let mcp_duration = Histogram::with_opts(
            HistogramOpts::new(
                "okta_mcp_proxy_mcp_request_duration_seconds",
                "Time from a POST /mcp request's arrival to the end of its answer.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let logins = IntCounterVec::new(
            Opts::new(
                "okta_mcp_proxy_logins_total",
                "Okta logins that came back to /oauth/callback, by outcome.",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let refreshes = IntCounterVec::new(
            Opts::new(
                "okta_mcp_proxy_refreshes_total",
                "refresh_token grants at /token, by outcome.",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let store_duration = HistogramVec::new(
            HistogramOpts::new(
                "okta_mcp_proxy_store_operation_duration_seconds",
                "Time of one state store operation, by operation.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let store_errors = IntCounterVec::new(
            Opts::new(
                "okta_mcp_proxy_store_errors_total",
                "State store operations that failed, by operation.",
            ),
            &["operation"],
        )
        .expect("valid metric");
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(mcp_duration.clone()),
            Box::new(logins.clone()),
            Box::new(refreshes.clone()),
            Box::new(store_duration.clone()),
            Box::new(store_errors.clone()),
        ] {
            registry.register(metric).expect("unique metric");
        }
        let requests = Endpoint::ALL
            .iter()
            .map(|endpoint| {
                STATUS_CLASSES.map(|class| requests.with_label_values(&[endpoint.label(), class]))
            })
            .collect();
        let outcome = |vec: &IntCounterVec, name: &str| vec.with_label_values(&[name]);
        let logins = ["success", "no_role", "okta_error", "failed"].map(|o| outcome(&logins, o));
        let refreshes = ["success", "refused", "unavailable"].map(|o| outcome(&refreshes, o));
        let store_duration = STORE_OPERATIONS.map(|op| store_duration.with_label_values(&[op]));
        let store_errors = STORE_OPERATIONS.map(|op| store_errors.with_label_values(&[op]));
        Self {
            registry,
            requests,
            mcp_duration,
            logins,
            refreshes,
            store_duration,
            store_errors,
        }
    }

    /// Counts one answered request; `mcp_post` requests also go into the latency histogram.
    pub fn request_done(&self, endpoint: Endpoint, status: u16, elapsed: Duration, mcp_post: bool) {
        // `ALL` lists the endpoints in declaration order, so the discriminant is the index.
        self.requests[endpoint as usize][status_class_index(status)].inc();
        if mcp_post {
            self.mcp_duration.observe(elapsed.as_secs_f64());
        }
    }

    /// Counts one Okta login.
    pub fn login(&self, outcome: LoginOutcome) {
        self.logins[outcome as usize].inc();
    }

    /// Counts one refresh.
    pub fn refresh(&self, outcome: RefreshOutcome) {
        self.refreshes[outcome as usize].inc();
    }

    /// Records one store operation (`operation` is one of [`STORE_OPERATIONS`]).
    pub fn store_operation(&self, operation: &'static str, elapsed: Duration, failed: bool) {
        let Some(index) = STORE_OPERATIONS.iter().position(|op| *op == operation) else {
            return;
        };
        self.store_duration[index].observe(elapsed.as_secs_f64());
        if failed {
            self.store_errors[index].inc();
        }
    }

    /// The registry the metrics listener serves.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// The operations of the `Store` trait, as the `operation` label says them.
pub const STORE_OPERATIONS: [&str; 9] = [
    "put",
    "get",
    "take",
    "delete",
    "scan",
    "purge",
    "ping",
    "announce",
    "acknowledge",
];

/// The `--metrics-listen` listener: `GET /metrics`, nothing else (a pingora HTTP app).
pub struct MetricsEndpoint;

#[async_trait]
impl ServeHttp for MetricsEndpoint {
    async fn response(&self, session: &mut ServerSession) -> http::Response<Vec<u8>> {
        let request = session.req_header();
        let answer = shared::answer(
            METRICS.registry(),
            request.method.as_str(),
            request.uri.path(),
        );
        let mut response = http::Response::builder()
            .status(answer.status)
            .header(http::header::CONTENT_TYPE, answer.content_type)
            .header(http::header::CONTENT_LENGTH, answer.body.len());
        if let Some(allow) = answer.allow {
            response = response.header(http::header::ALLOW, allow);
        }
        response
            .body(answer.body)
            .unwrap_or_else(|_| http::Response::new(Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_serves_exactly_the_exported_metrics() {
        let metrics = ProxyMetrics::new();
        let (served, exported) =
            okta_mcp_common::metrics::served_and_exported(metrics.registry(), EXPORTED);
        assert_eq!(served, exported);
    }

    #[test]
    fn store_operations_are_timed_and_their_failures_counted() {
        let metrics = ProxyMetrics::new();
        metrics.store_operation("get", Duration::from_millis(2), false);
        metrics.store_operation("get", Duration::from_millis(2), true);
        let get = STORE_OPERATIONS.iter().position(|op| *op == "get").unwrap();
        assert_eq!(metrics.store_duration[get].get_sample_count(), 2);
        assert_eq!(metrics.store_errors[get].get(), 1);
    }

    #[test]
    fn endpoints_come_from_a_fixed_set() {
        assert_eq!(Endpoint::of("/mcp"), Endpoint::Mcp);
        assert_eq!(
            Endpoint::of("/.well-known/oauth-authorization-server"),
            Endpoint::WellKnown
        );
        assert_eq!(Endpoint::of("/users/alice@example.com"), Endpoint::Other);
        for (index, endpoint) in Endpoint::ALL.iter().enumerate() {
            assert_eq!(*endpoint as usize, index);
        }
    }
}
