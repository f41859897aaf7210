//! The fake org's router driven in-process (no sockets), for the unit tests of its parts.

use super::dataset::{DEFAULT_SEED, Dataset};
use super::oidc::OidcSettings;
use super::{Settings, router, state};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use std::sync::OnceLock;
use tower::ServiceExt;

/// The default dataset, generated once per test binary.
pub fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| Dataset::generate(DEFAULT_SEED))
}

/// Settings for in-process tests: API token `t`, no latency, a rate limit never reached, the
/// default seed, and nothing optional on.
pub fn settings() -> Settings {
    Settings {
        listen: ([127, 0, 0, 1], 0).into(),
        api_token: "t".into(),
        seed: DEFAULT_SEED,
        latency_ms: 0,
        rate_limit_per_minute: 1000,
        rate_limit_reset_secs: 60,
        oidc: Default::default(),
        event_hook: Default::default(),
        service_app: Default::default(),
    }
}

/// The fake org's router with `oidc` as its OIDC settings and [`settings`] for the rest.
pub fn app_with(oidc: OidcSettings) -> Router {
    let settings = Settings { oidc, ..settings() };
    router(state(&settings, dataset().clone(), "127.0.0.1:1".into()))
}

/// One answer of the router.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Answer {
    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

/// Sends one request with `Host: host`.
pub async fn send_to(
    app: &Router,
    host: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(builder.body(Body::from(body.to_owned())).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}
