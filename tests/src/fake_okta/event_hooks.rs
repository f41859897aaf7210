//! An Okta Event Hook: the org's changes (`Shared::events`) POSTed to a URL the way Okta does.
//!
//! As at Okta (developer.okta.com, "Event hooks"): nothing is delivered before the hook is
//! verified, by a `GET` carrying `x-okta-verification-challenge` that must come back as
//! `{"verification": "<challenge>"}`; every request carries the configured `Authorization`
//! value; events that happen close together go in one delivery,
//! `{"eventType": "com.okta.event_hook", …, "data": {"events": [<LogEvent>…]}}`; a request gets
//! 3 seconds, and one that timed out, failed to connect or got a 5xx is sent again once (a 4xx
//! never). Okta verifies when the admin clicks Verify; the fake org starts before the service it
//! calls, so it keeps trying every [`VERIFY_RETRY`] until an answer is right (or `POST
//! /__fake/event-hook/verify` asks now), and never verifies again after that.
//!
//! `GET /__fake/event-hook` tells tests what happened: verified or not, deliveries, events,
//! retries, failures, the last error.

use super::changes::OrgEvent;
use super::error::random_token;
use super::state::AppState;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, broadcast};

/// How long Okta waits for an answer.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Pause before the one retry.
const RETRY_AFTER: Duration = Duration::from_millis(250);
/// Pause between verification attempts until one succeeds.
const VERIFY_RETRY: Duration = Duration::from_millis(500);
/// Most events in one delivery.
const MAX_BATCH: usize = 50;

/// The Event Hook flags of `fake-okta`; without `--event-hook-url` there is no hook.
#[derive(Debug, Clone, clap::Args)]
pub struct EventHookSettings {
    /// URL of an Okta Event Hook: once it answers the verification request, every change to
    /// the org (lifecycle, memberships, session clears) is POSTed there as Okta does.
    #[arg(long = "event-hook-url", env = "FAKE_OKTA_EVENT_HOOK_URL")]
    pub url: Option<String>,
    /// The `Authorization` header value sent with every hook request (the hook's secret).
    #[arg(
        long = "event-hook-secret",
        env = "FAKE_OKTA_EVENT_HOOK_SECRET",
        hide_env_values = true
    )]
    pub secret: Option<String>,
    /// Events published within this many milliseconds of the first go in one delivery.
    #[arg(
        long = "event-hook-batch-ms",
        env = "FAKE_OKTA_EVENT_HOOK_BATCH_MS",
        default_value_t = 50
    )]
    pub batch_ms: u64,
}

impl Default for EventHookSettings {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            batch_ms: 50,
        }
    }
}

impl EventHookSettings {
    /// Start-up checks with messages naming the flag.
    pub fn check(&self) -> Result<(), String> {
        let Some(url) = &self.url else {
            if self.secret.is_some() {
                return Err("--event-hook-secret needs --event-hook-url".into());
            }
            return Ok(());
        };
        let parsed = url::Url::parse(url).map_err(|e| format!("--event-hook-url {url:?}: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(format!("--event-hook-url {url:?} must be an http(s) URL"));
        }
        if let Some(secret) = &self.secret
            && (secret.is_empty()
                || axum::http::HeaderValue::from_str(secret).is_err()
                || secret.trim() != secret)
        {
            return Err(
                "--event-hook-secret must be a non-empty header value without surrounding spaces"
                    .into(),
            );
        }
        if self.batch_ms > 10_000 {
            return Err("--event-hook-batch-ms must be at most 10000".into());
        }
        Ok(())
    }
}

/// What the hook has done so far (`GET /__fake/event-hook`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct HookStatus {
    pub configured: bool,
    pub url: Option<String>,
    pub verified: bool,
    pub verification_attempts: u64,
    /// Deliveries answered 2xx.
    pub deliveries: u64,
    /// Events in those deliveries.
    pub events: u64,
    /// Second attempts (after a timeout, a connection failure or a 5xx).
    pub retries: u64,
    /// Deliveries given up on (a 4xx, or the retry failed too).
    pub failures: u64,
    /// Events that happened before verification (never delivered, as at Okta) or that the
    /// deliverer fell too far behind to keep.
    pub dropped: u64,
    pub last_error: Option<String>,
}

/// One configured hook and its status.
#[derive(Debug)]
pub struct EventHook {
    settings: EventHookSettings,
    /// `who…`: the hook's id in `source`.
    id: String,
    status: Mutex<HookStatus>,
    verify_now: Notify,
}

impl EventHook {
    fn status(&self) -> MutexGuard<'_, HookStatus> {
        self.status.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failed(&self, error: String) {
        tracing::warn!(%error, "event hook");
        self.status().last_error = Some(error);
    }
}

/// Starts the hook `settings` describe (nothing when no URL is set) on `state`'s changes;
/// `base` is the org's URL, for `source`.
pub fn start(settings: &EventHookSettings, state: &AppState, base: String) -> Arc<EventHook> {
    let hook = Arc::new(EventHook {
        settings: settings.clone(),
        id: random_token("who", 20),
        status: Mutex::new(HookStatus {
            configured: settings.url.is_some(),
            url: settings.url.clone(),
            ..HookStatus::default()
        }),
        verify_now: Notify::new(),
    });
    if settings.url.is_some() {
        let events = state.events.subscribe();
        tokio::spawn(deliver(hook.clone(), events, base));
    }
    hook
}

/// The `/__fake/event-hook` routes.
pub fn router(hook: Arc<EventHook>) -> Router {
    Router::new()
        .route("/__fake/event-hook", get(status))
        .route("/__fake/event-hook/verify", post(verify_now))
        .layer(Extension(hook))
}

async fn status(Extension(hook): Extension<Arc<EventHook>>) -> Json<HookStatus> {
    Json(hook.status().clone())
}

async fn verify_now(Extension(hook): Extension<Arc<EventHook>>) -> Json<HookStatus> {
    hook.verify_now.notify_one();
    Json(hook.status().clone())
}

fn http_client() -> Result<reqwest::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// Verifies, then delivers every change from then on until the org stops.
async fn deliver(hook: Arc<EventHook>, mut events: broadcast::Receiver<OrgEvent>, base: String) {
    let http = match http_client() {
        Ok(http) => http,
        Err(error) => return hook.failed(error),
    };
    let Some(url) = hook.settings.url.clone() else {
        return;
    };
    loop {
        hook.status().verification_attempts += 1;
        match verify(&http, &url, hook.settings.secret.as_deref()).await {
            Ok(()) => {
                let mut status = hook.status();
                status.verified = true;
                status.last_error = None;
                break;
            }
            Err(error) => hook.failed(format!("verification: {error}")),
        }
        tokio::select! {
            () = tokio::time::sleep(VERIFY_RETRY) => {}
            () = hook.verify_now.notified() => {}
        }
    }
    tracing::info!(%url, "event hook verified");
    // What happened before verification is not delivered, as at Okta.
    hook.status().dropped += events.len() as u64;
    events = events.resubscribe();
    let batch_window = Duration::from_millis(hook.settings.batch_ms);
    loop {
        let first = match events.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(lost)) => {
                hook.status().dropped += lost;
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + batch_window;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(until, events.recv()).await {
                Ok(Ok(event)) => batch.push(event),
                Ok(Err(broadcast::error::RecvError::Lagged(lost))) => {
                    hook.status().dropped += lost;
                }
                Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => break,
            }
        }
        let body = envelope(&hook.id, &base, &batch);
        send_with_retry(&hook, &http, &url, &body, batch.len() as u64).await;
    }
}

/// The one-time verification: the challenge must come back exactly.
async fn verify(http: &reqwest::Client, url: &str, secret: Option<&str>) -> Result<(), String> {
    let challenge = random_token("", 43);
    let mut request = http
        .get(url)
        .header("accept", "application/json")
        .header("x-okta-verification-challenge", &challenge);
    if let Some(secret) = secret {
        request = request.header("authorization", secret);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() && body == json!({ "verification": challenge }) {
        Ok(())
    } else {
        let shown: String = body.to_string().chars().take(200).collect();
        Err(format!(
            "answered {status} {shown}, not the challenge as {{\"verification\": …}}"
        ))
    }
}

/// The JSON Okta POSTs for `batch`.
fn envelope(hook_id: &str, base: &str, batch: &[OrgEvent]) -> Value {
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": format!("{base}/api/v1/eventHooks/{hook_id}"),
        "eventId": uuid_like(),
        "eventTime": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "contentType": "application/json",
        "data": { "events": batch.iter().map(|e| e.event.to_json()).collect::<Vec<_>>() },
    })
}

/// A random id shaped like Okta's `eventId` (a UUID).
fn uuid_like() -> String {
    let hex: String = random_token("", 32)
        .bytes()
        .map(|b| char::from(b"0123456789abcdef"[usize::from(b % 16)]))
        .collect();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Why one attempt failed, and whether Okta would try again.
enum Attempt {
    Delivered,
    Retry(String),
    GiveUp(String),
}

async fn attempt(http: &reqwest::Client, url: &str, secret: Option<&str>, body: &Value) -> Attempt {
    let mut request = http
        .post(url)
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(secret) = secret {
        request = request.header("authorization", secret);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => Attempt::Delivered,
        Ok(response) if response.status().is_server_error() => {
            Attempt::Retry(format!("answered {}", response.status()))
        }
        Ok(response) => Attempt::GiveUp(format!("answered {}", response.status())),
        Err(error) if error.is_timeout() => Attempt::Retry(format!("no answer within {TIMEOUT:?}")),
        Err(error) => Attempt::Retry(error.to_string()),
    }
}

/// Delivers `body` (`events` events), once more after a timeout, a connection failure or a 5xx.
async fn send_with_retry(
    hook: &EventHook,
    http: &reqwest::Client,
    url: &str,
    body: &Value,
    events: u64,
) {
    let secret = hook.settings.secret.as_deref();
    let outcome = match attempt(http, url, secret, body).await {
        Attempt::Retry(error) => {
            hook.failed(format!("delivery: {error}; trying once more"));
            hook.status().retries += 1;
            tokio::time::sleep(RETRY_AFTER).await;
            attempt(http, url, secret, body).await
        }
        other => other,
    };
    match outcome {
        Attempt::Delivered => {
            let mut status = hook.status();
            status.deliveries += 1;
            status.events += events;
            tracing::info!(events, "event hook delivery");
        }
        Attempt::Retry(error) | Attempt::GiveUp(error) => {
            hook.failed(format!("delivery of {events} events failed: {error}"));
            hook.status().failures += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_okta::changes::Lifecycle;
    use crate::fake_okta::dataset::{ALICE_ID, BOB_ID};
    use crate::fake_okta::in_process::{self, dataset};
    use crate::fake_okta::{Settings, state};
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use std::collections::VecDeque;

    const SECRET: &str = "hook-secret-0123456789abcdef0123456789";

    /// What the receiving service does and saw.
    #[derive(Default)]
    struct Service {
        /// Answer verification with the right challenge.
        verify_right: bool,
        /// How to answer the next POSTs (then 200): a status, or a delay past the timeout.
        answers: VecDeque<Result<StatusCode, Duration>>,
        verifications: Vec<HeaderMap>,
        posts: Vec<(HeaderMap, Value)>,
    }

    type Shared = Arc<Mutex<Service>>;

    async fn on_get(State(service): State<Shared>, headers: HeaderMap) -> axum::response::Response {
        let challenge = headers
            .get("x-okta-verification-challenge")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut service = service.lock().unwrap();
        service.verifications.push(headers);
        if service.verify_right {
            Json(json!({ "verification": challenge })).into_response()
        } else {
            Json(json!({ "verification": "something else" })).into_response()
        }
    }

    async fn on_post(
        State(service): State<Shared>,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        let answer = {
            let mut service = service.lock().unwrap();
            service
                .posts
                .push((headers, serde_json::from_str(&body).unwrap_or(Value::Null)));
            service.answers.pop_front()
        };
        match answer {
            None => StatusCode::OK.into_response(),
            Some(Ok(status)) => status.into_response(),
            Some(Err(delay)) => {
                tokio::time::sleep(delay).await;
                StatusCode::OK.into_response()
            }
        }
    }

    /// A receiving service on a free port; its URL.
    async fn service(service: Shared) -> String {
        let app = Router::new()
            .route("/hooks/okta", get(on_get).post(on_post))
            .with_state(service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://127.0.0.1:{port}/hooks/okta")
    }

    fn org(url: &str) -> (AppState, Arc<EventHook>) {
        let settings = Settings {
            event_hook: EventHookSettings {
                url: Some(url.to_owned()),
                secret: Some(SECRET.into()),
                batch_ms: 50,
            },
            ..in_process::settings()
        };
        let state = state(&settings, dataset().clone(), "127.0.0.1:1".into());
        let hook = start(&settings.event_hook, &state, "http://fake.test".into());
        (state, hook)
    }

    fn change(state: &AppState, user: &str, operation: Lifecycle) {
        let index = state.org().find_user(user).unwrap();
        let event = state
            .change_org(|org| org.apply_lifecycle(index, operation, chrono::Utc::now()))
            .unwrap();
        state.publish([event]);
    }

    async fn until(what: &str, check: impl Fn() -> bool) {
        for _ in 0..400 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("never happened: {what}");
    }

    #[tokio::test]
    async fn nothing_is_delivered_before_verification_then_changes_arrive_as_okta_sends_them() {
        let shared = Shared::default();
        let url = service(shared.clone()).await;
        let (state, hook) = org(&url);
        until("a wrong verification answer", || {
            hook.status().verification_attempts >= 2
        })
        .await;
        let status = hook.status().clone();
        assert!(!status.verified);
        assert!(
            status
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("not the challenge")),
            "{status:?}"
        );
        change(&state, ALICE_ID, Lifecycle::Suspend);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            shared.lock().unwrap().posts.is_empty(),
            "unverified: nothing sent"
        );
        {
            let service = shared.lock().unwrap();
            let first = &service.verifications[0];
            assert_eq!(first["authorization"], SECRET);
            assert!(first.contains_key("x-okta-verification-challenge"));
        }

        shared.lock().unwrap().verify_right = true;
        until("verified", || hook.status().verified).await;
        assert_eq!(hook.status().dropped, 1, "the change before verification");
        // Two changes close together: one delivery with both.
        change(&state, ALICE_ID, Lifecycle::Unsuspend);
        change(&state, BOB_ID, Lifecycle::Deactivate);
        until("a delivery", || hook.status().deliveries == 1).await;
        let service = shared.lock().unwrap();
        assert_eq!(service.posts.len(), 1);
        let (headers, body) = &service.posts[0];
        assert_eq!(headers["authorization"], SECRET);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["eventType"], "com.okta.event_hook");
        assert_eq!(body["eventTypeVersion"], "1.0");
        assert_eq!(body["cloudEventsVersion"], "0.1");
        assert_eq!(body["contentType"], "application/json");
        assert!(
            body["source"]
                .as_str()
                .unwrap()
                .starts_with("http://fake.test/api/v1/eventHooks/who")
        );
        assert_eq!(body["eventId"].as_str().unwrap().len(), 36);
        assert!(body["eventTime"].as_str().unwrap().ends_with('Z'));
        let events = body["data"]["events"].as_array().unwrap();
        let types: Vec<&str> = events
            .iter()
            .map(|e| e["eventType"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            ["user.lifecycle.unsuspend", "user.lifecycle.deactivate"]
        );
        assert_eq!(events[1]["target"][0]["id"], BOB_ID);
        assert_eq!(events[1]["target"][0]["type"], "User");
        assert_ne!(events[0]["uuid"], events[1]["uuid"]);
        assert_eq!(hook.status().events, 2);
    }

    #[tokio::test]
    async fn a_5xx_or_a_timeout_is_sent_once_more_and_a_4xx_never() {
        let shared = Arc::new(Mutex::new(Service {
            verify_right: true,
            ..Service::default()
        }));
        let url = service(shared.clone()).await;
        let (state, hook) = org(&url);
        until("verified", || hook.status().verified).await;

        // 503, then 200: delivered on the retry, with the same body.
        shared
            .lock()
            .unwrap()
            .answers
            .push_back(Ok(StatusCode::SERVICE_UNAVAILABLE));
        change(&state, ALICE_ID, Lifecycle::Suspend);
        until("the retry", || hook.status().deliveries == 1).await;
        {
            let service = shared.lock().unwrap();
            assert_eq!(service.posts.len(), 2);
            assert_eq!(
                service.posts[0].1, service.posts[1].1,
                "the same delivery again"
            );
        }
        assert_eq!(hook.status().retries, 1);

        // 401: not tried again.
        shared
            .lock()
            .unwrap()
            .answers
            .push_back(Ok(StatusCode::UNAUTHORIZED));
        change(&state, ALICE_ID, Lifecycle::Unsuspend);
        until("a failure", || hook.status().failures == 1).await;
        tokio::time::sleep(RETRY_AFTER * 2).await;
        assert_eq!(shared.lock().unwrap().posts.len(), 3);
        assert_eq!(hook.status().retries, 1);

        // 500 twice: given up after one retry.
        shared.lock().unwrap().answers.extend([
            Ok(StatusCode::INTERNAL_SERVER_ERROR),
            Ok(StatusCode::BAD_GATEWAY),
        ]);
        change(&state, ALICE_ID, Lifecycle::Suspend);
        until("a second failure", || hook.status().failures == 2).await;
        assert_eq!(shared.lock().unwrap().posts.len(), 5);
        assert_eq!(hook.status().retries, 2);

        // No answer within 3 seconds: sent once more.
        shared
            .lock()
            .unwrap()
            .answers
            .push_back(Err(TIMEOUT + Duration::from_millis(500)));
        change(&state, ALICE_ID, Lifecycle::Unsuspend);
        until("delivered after a timeout", || {
            hook.status().deliveries == 2
        })
        .await;
        assert_eq!(shared.lock().unwrap().posts.len(), 7);
        assert_eq!(hook.status().retries, 3);
        assert!(
            hook.status()
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("no answer within")),
            "{:?}",
            hook.status()
        );
    }

    #[test]
    fn settings_checks_name_the_flag() {
        let ok = EventHookSettings {
            url: Some("http://127.0.0.1:3001/hooks/okta".into()),
            secret: Some(SECRET.into()),
            batch_ms: 50,
        };
        assert!(ok.check().is_ok());
        assert!(EventHookSettings::default().check().is_ok());
        for (bad, flag) in [
            (
                EventHookSettings {
                    url: None,
                    ..ok.clone()
                },
                "--event-hook-url",
            ),
            (
                EventHookSettings {
                    url: Some("not a url".into()),
                    ..ok.clone()
                },
                "--event-hook-url",
            ),
            (
                EventHookSettings {
                    url: Some("ftp://x/hooks".into()),
                    ..ok.clone()
                },
                "--event-hook-url",
            ),
            (
                EventHookSettings {
                    secret: Some("line\nbreak".into()),
                    ..ok.clone()
                },
                "--event-hook-secret",
            ),
            (
                EventHookSettings {
                    secret: Some(String::new()),
                    ..ok.clone()
                },
                "--event-hook-secret",
            ),
            (
                EventHookSettings {
                    batch_ms: 60_000,
                    ..ok.clone()
                },
                "--event-hook-batch-ms",
            ),
        ] {
            let error = bad.check().unwrap_err();
            assert!(error.contains(flag), "{bad:?}: {error}");
        }
    }

    #[test]
    fn event_ids_look_like_uuids() {
        let id = uuid_like();
        assert_eq!(id.len(), 36);
        assert_eq!(
            id.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(id, uuid_like());
    }
}
