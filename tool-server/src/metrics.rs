//! The tool server's metrics (README, Metrics), and the router of its metrics listener.
//!
//! Labels come from bounded sets only: a tool is one the server knows (the Okta tools, or for
//! `wrap` the tools the policy names and the child offers, at most [`MAX_TOOL_LABELS`]), a role
//! one the policy defines, an Okta endpoint a path template with every id replaced by `{id}`;
//! anything else is `other`. Never a subject, email, token or raw path.

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use okta_mcp_common::metrics::{
    self as shared, LATENCY_BUCKETS, OTHER, STATUS_CLASSES, prometheus, status_class_index,
};
use prometheus::{
    Counter, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Most distinct tool label values; tools learnt past it are counted as `other`.
pub const MAX_TOOL_LABELS: usize = 64;

/// Every metric the tool server exports, with its labels (`deploy/check.sh` checks the
/// dashboard and the alerts against this list; a test keeps it equal to what the registry serves).
pub const EXPORTED: &[(&str, &[&str])] = &[
    ("okta_mcp_tool_server_requests_total", &["route", "status"]),
    (
        "okta_mcp_tool_server_tool_calls_total",
        &["tool", "role", "outcome"],
    ),
    (
        "okta_mcp_tool_server_policy_denials_total",
        &["tool", "role"],
    ),
    (
        "okta_mcp_tool_server_okta_requests_total",
        &["endpoint", "method", "status"],
    ),
    (
        "okta_mcp_tool_server_okta_request_duration_seconds",
        &["endpoint"],
    ),
    ("okta_mcp_tool_server_okta_rate_limit_waits_total", &[]),
    (
        "okta_mcp_tool_server_okta_rate_limit_wait_seconds_total",
        &[],
    ),
    ("okta_mcp_tool_server_wrap_children", &[]),
    ("okta_mcp_tool_server_wrap_children_max", &[]),
    (
        "okta_mcp_tool_server_wrap_children_ended_total",
        &["reason"],
    ),
    (
        "okta_mcp_tool_server_wrap_children_refused_total",
        &["reason"],
    ),
];

/// The routes of the tool server, as the `route` label says them.
const ROUTES: [&str; 3] = ["mcp", "health", "other"];

/// Every metric of the tool server, registered once.
pub struct ToolServerMetrics {
    registry: Registry,
    /// `[route][status class]`.
    requests: [[IntCounter; STATUS_CLASSES.len()]; ROUTES.len()],
    tool_calls: IntCounterVec,
    denials: IntCounterVec,
    okta_requests: IntCounterVec,
    okta_duration: HistogramVec,
    rate_limit_waits: IntCounter,
    rate_limit_wait_seconds: Counter,
    children: IntGauge,
    children_max: IntGauge,
    children_ended: IntCounterVec,
    children_refused: IntCounterVec,
    /// The tool names that are label values of their own.
    tools: Mutex<BTreeSet<String>>,
}

/// The tool server's metrics; they count whether or not `--metrics-listen` serves them.
pub static METRICS: LazyLock<ToolServerMetrics> = LazyLock::new(ToolServerMetrics::new);

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

impl ToolServerMetrics {
    fn new() -> Self {
        let registry = Registry::new();
        let requests = counter(
            "okta_mcp_tool_server_requests_total",
            "HTTP requests answered, by route and status class.",
            &["route", "status"],
        );
        let tool_calls = counter(
            "okta_mcp_tool_server_tool_calls_total",
            "tools/call requests, by tool, role and outcome (ok, tool_error, not_done, \
             protocol_error, timeout, denied).",
            &["tool", "role", "outcome"],
        );
        let denials = counter(
            "okta_mcp_tool_server_policy_denials_total",
            "tools/call requests the policy refused, by tool and role.",
            &["tool", "role"],
        );
        let okta_requests = counter(
            "okta_mcp_tool_server_okta_requests_total",
            "Okta Management API requests (each attempt), by endpoint, method and status \
             (the HTTP status, or `error` when no answer came).",
            &["endpoint", "method", "status"],
        );
        let okta_duration = HistogramVec::new(
            HistogramOpts::new(
                "okta_mcp_tool_server_okta_request_duration_seconds",
                "Time of one Okta Management API request, by endpoint.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["endpoint"],
        )
        .expect("valid metric");
        let rate_limit_waits = IntCounter::new(
            "okta_mcp_tool_server_okta_rate_limit_waits_total",
            "Waits for Okta's rate limit to reset after a 429, before a retry.",
        )
        .expect("valid metric");
        let rate_limit_wait_seconds = Counter::new(
            "okta_mcp_tool_server_okta_rate_limit_wait_seconds_total",
            "Seconds spent waiting for Okta's rate limit to reset.",
        )
        .expect("valid metric");
        let children = IntGauge::new(
            "okta_mcp_tool_server_wrap_children",
            "wrap: child processes (sessions) alive now.",
        )
        .expect("valid metric");
        let children_max = IntGauge::new(
            "okta_mcp_tool_server_wrap_children_max",
            "wrap: the most children at once (--max-children); 0 for serve.",
        )
        .expect("valid metric");
        let children_ended = counter(
            "okta_mcp_tool_server_wrap_children_ended_total",
            "wrap: sessions (and their child) that ended, by reason.",
            &["reason"],
        );
        let children_refused = counter(
            "okta_mcp_tool_server_wrap_children_refused_total",
            "wrap: new sessions refused, by reason (full, subject_full, shutting_down, spawn).",
            &["reason"],
        );
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(tool_calls.clone()),
            Box::new(denials.clone()),
            Box::new(okta_requests.clone()),
            Box::new(okta_duration.clone()),
            Box::new(rate_limit_waits.clone()),
            Box::new(rate_limit_wait_seconds.clone()),
            Box::new(children.clone()),
            Box::new(children_max.clone()),
            Box::new(children_ended.clone()),
            Box::new(children_refused.clone()),
        ] {
            registry.register(metric).expect("unique metric");
        }
        let requests = ROUTES
            .map(|route| STATUS_CLASSES.map(|class| requests.with_label_values(&[route, class])));
        Self {
            registry,
            requests,
            tool_calls,
            denials,
            okta_requests,
            okta_duration,
            rate_limit_waits,
            rate_limit_wait_seconds,
            children,
            children_max,
            children_ended,
            children_refused,
            tools: Mutex::new(BTreeSet::new()),
        }
    }

    /// The registry the metrics listener serves.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    fn tool_set(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.tools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes `tools` label values of their own (up to [`MAX_TOOL_LABELS`] in all).
    pub fn know_tools<'a>(&self, tools: impl IntoIterator<Item = &'a str>) {
        let mut known = self.tool_set();
        for tool in tools {
            if known.len() >= MAX_TOOL_LABELS {
                break;
            }
            if !known.contains(tool) {
                known.insert(tool.to_owned());
            }
        }
    }

    /// The label value of `tool`: itself when known, else `other`.
    pub fn tool_label(&self, tool: &str) -> String {
        if self.tool_set().contains(tool) {
            tool.to_owned()
        } else {
            OTHER.to_owned()
        }
    }

    /// Counts one `tools/call` that ran; `role` must be a label value already ([`role_label`]).
    ///
    /// [`role_label`]: crate::policy::ToolPolicy::role_label
    pub fn tool_call(&self, tool: &str, role: &str, outcome: &str) {
        let tool = self.tool_label(tool);
        self.tool_calls
            .with_label_values(&[tool.as_str(), role, outcome])
            .inc();
    }

    /// Counts one `tools/call` the policy refused.
    pub fn denied(&self, tool: &str, role: &str) {
        let tool = self.tool_label(tool);
        self.tool_calls
            .with_label_values(&[tool.as_str(), role, "denied"])
            .inc();
        self.denials.with_label_values(&[tool.as_str(), role]).inc();
    }

    /// Counts one attempt at an Okta request to `path`; `status` 0 is no answer.
    pub fn okta_request(&self, method: &str, path: &str, status: u16, elapsed: Duration) {
        let endpoint = okta_endpoint(path);
        let status = if status == 0 {
            "error".to_owned()
        } else {
            status.to_string()
        };
        let method = match method {
            "GET" | "POST" | "PUT" | "DELETE" => method,
            _ => OTHER,
        };
        self.okta_requests
            .with_label_values(&[endpoint.as_str(), method, status.as_str()])
            .inc();
        self.okta_duration
            .with_label_values(&[endpoint.as_str()])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one wait for Okta's rate limit to reset.
    pub fn rate_limit_wait(&self, wait: Duration) {
        self.rate_limit_waits.inc();
        self.rate_limit_wait_seconds.inc_by(wait.as_secs_f64());
    }

    /// wrap: the configured most children.
    pub fn wrap_children_max(&self, max: usize) {
        self.children_max
            .set(i64::try_from(max).unwrap_or(i64::MAX));
    }

    /// wrap: a child started.
    pub fn wrap_child_started(&self) {
        self.children.inc();
    }

    /// wrap: a session ended (its child is stopped), for `reason`.
    pub fn wrap_child_ended(&self, reason: &'static str) {
        self.children.dec();
        self.children_ended.with_label_values(&[reason]).inc();
    }

    /// wrap: a new session was refused, for `reason`.
    pub fn wrap_child_refused(&self, reason: &'static str) {
        self.children_refused.with_label_values(&[reason]).inc();
    }

    /// Counts one answered HTTP request to `route` (an index of [`ROUTES`]).
    fn request_done(&self, route: usize, status: u16) {
        self.requests[route][status_class_index(status)].inc();
    }
}

/// The words of Okta API paths the tools use; any other segment is an id.
const OKTA_PATH_WORDS: &[&str] = &[
    "api",
    "v1",
    "users",
    "groups",
    "apps",
    "logs",
    "policies",
    "rules",
    "zones",
    "factors",
    "lifecycle",
    "suspend",
    "unsuspend",
    "expire_password",
    "sessions",
    "reset_factors",
    "me",
];

/// The endpoint label of an Okta path: `/api/v1/users/00u1/groups` → `/api/v1/users/{id}/groups`.
/// At most eight segments; a longer path is `other`.
pub fn okta_endpoint(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() > 8 {
        return OTHER.to_owned();
    }
    let mut endpoint = String::with_capacity(path.len());
    for segment in segments {
        endpoint.push('/');
        if OKTA_PATH_WORDS.contains(&segment) {
            endpoint.push_str(segment);
        } else {
            endpoint.push_str("{id}");
        }
    }
    endpoint
}

/// Counts every request of the router it wraps, by route and status class (axum middleware).
pub async fn count_requests(request: Request, next: Next) -> Response {
    let route = match request.uri().path() {
        "/mcp" => 0,
        "/health" => 1,
        _ => 2,
    };
    let response = next.run(request).await;
    METRICS.request_done(route, response.status().as_u16());
    response
}

/// The metrics listener: `GET /metrics`, a 404 or 405 for anything else.
pub fn router() -> Router {
    Router::new().fallback(|request: Request| async move {
        let answer = shared::answer(
            METRICS.registry(),
            request.method().as_str(),
            request.uri().path(),
        );
        let mut response = (
            StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            answer.body,
        )
            .into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(answer.content_type),
        );
        if let Some(allow) = answer.allow {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        response
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_endpoints_hide_ids() {
        assert_eq!(
            okta_endpoint("/api/v1/users/00u1a2b3/groups"),
            "/api/v1/users/{id}/groups"
        );
        assert_eq!(
            okta_endpoint("/api/v1/users/alice%40example.com"),
            "/api/v1/users/{id}"
        );
        assert_eq!(okta_endpoint("/a/b/c/d/e/f/g/h/i"), OTHER);
    }

    #[test]
    fn the_registry_serves_exactly_the_exported_metrics() {
        let metrics = ToolServerMetrics::new();
        metrics.tool_call("t", "r", "ok");
        metrics.denied("t", "r");
        metrics.okta_request("GET", "/api/v1/users", 200, Duration::ZERO);
        metrics.wrap_child_started();
        metrics.wrap_child_ended("idle");
        metrics.wrap_child_refused("full");
        let (served, exported) =
            okta_mcp_common::metrics::served_and_exported(metrics.registry(), EXPORTED);
        assert_eq!(served, exported);
    }

    #[test]
    fn tool_labels_are_capped() {
        let metrics = ToolServerMetrics::new();
        let names: Vec<String> = (0..100).map(|i| format!("tool{i}")).collect();
        metrics.know_tools(names.iter().map(String::as_str));
        assert_eq!(metrics.tool_label("tool0"), "tool0");
        assert_eq!(metrics.tool_label("tool99"), OTHER);
        assert_eq!(metrics.tool_set().len(), MAX_TOOL_LABELS);
    }
}
