//! `/hooks/okta`: Okta Event Hooks, so that a user deactivated, suspended, locked out or signed
//! out at Okta, or removed from a group that grants a role, loses access here within a second or
//! two instead of at the next token refresh.
//!
//! Okta's contract (developer.okta.com, "Event hooks"): a one-time `GET` carrying the header
//! `x-okta-verification-challenge`, answered with `{"verification": "<that value>"}`; then `POST`s
//! whose body is `{"eventType": "com.okta.event_hook", …, "data": {"events": [<LogEvent>…]}}`,
//! several events per delivery. Every request carries the header the admin configured; we ask for
//! `Authorization: <OKTA_EVENT_HOOK_SECRET>` and compare it in constant time (hashes of both
//! sides, so not even the length leaks). Okta waits 3 seconds, retries once after a timeout or a
//! 5xx and never after a 4xx, and delivers at least once: so a store outage answers 503 (one more
//! try), a bad request answers 4xx, and each event's `uuid` is remembered for a day so that a
//! redelivery changes nothing (200, as for the first delivery).
//!
//! What an event does (to every `User` target the proxy has issued credentials to; events about
//! anyone else are ignored, so an org-wide clean-up cannot fill the store):
//! - `user.lifecycle.deactivate`, `user.lifecycle.suspend`, `user.lifecycle.delete.initiated`,
//!   `user.account.lock`, `user.session.clear`, `user.mfa.factor.reset_all`: an `Everything`
//!   cut-off (`revocations::Cutoff`). Access tokens, refresh tokens, codes and browser sessions
//!   the user got before it are refused; open MCP streams close at their next message.
//! - `group.user_membership.remove` of a group that grants a role: a `Role` cut-off. Access
//!   tokens and codes from before it are refused, so the very next request gets 401; the client's
//!   refresh reads the groups from Okta again (a lower role, or none: then the login ends), and a
//!   browser session re-checks its role the same way. No new login for a role that only dropped.
//!
//! The cut-off is at the event's `published` time plus [`CLOCK_SKEW`], never later than when the
//! hook arrives: credentials read from Okta after the change (a user unsuspended and back at work
//! before a late delivery) survive it, and a redelivery sets the same time again.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderValue, Method, StatusCode, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::oauth::AuthServer;
use crate::revocations::{Cutoff, unix_ms};
use crate::store::StoreError;
use crate::web::{WebRequest, WebResponse};

/// Where Okta sends the hook.
pub const PATH: &str = "/hooks/okta";

/// Okta's verification header.
const CHALLENGE_HEADER: &str = "x-okta-verification-challenge";

/// The shortest secret accepted.
pub const MIN_SECRET_LEN: usize = 32;

/// How far Okta's clock may run behind ours: a cut-off is this much after the event's
/// `published` time (never later than the delivery).
const CLOCK_SKEW: Duration = Duration::from_secs(5);

/// How long a delivered event's `uuid` is remembered (Okta's retry comes within seconds).
const REMEMBER_EVENTS: Duration = Duration::from_secs(24 * 3600);

/// Longest challenge, event `uuid` and user id taken; Okta's are far shorter.
const MAX_CHALLENGE: usize = 1024;
const MAX_ID: usize = 128;

/// Why `OKTA_EVENT_HOOK_SECRET` cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HookSecretError {
    #[error(
        "OKTA_EVENT_HOOK_SECRET is {0} bytes; use at least {MIN_SECRET_LEN} (openssl rand -hex 32)"
    )]
    Short(usize),
    #[error(
        "OKTA_EVENT_HOOK_SECRET must be printable ASCII without leading or trailing spaces: Okta sends it as a header value"
    )]
    NotAHeaderValue,
}

/// The Event Hook endpoint: checks Okta's requests and cuts users off through the [`AuthServer`].
pub struct OktaEventHook {
    /// SHA-256 of the secret: compared with the hash of the presented header.
    secret_hash: [u8; 32],
    auth: Arc<AuthServer>,
}

/// What an event asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Cut the user off entirely.
    Everything,
    /// Cut the user's role off, if the group it names grants one.
    GroupRemoved,
}

/// The events acted on, and how.
fn action_for(event_type: &str) -> Option<Action> {
    match event_type {
        "user.lifecycle.deactivate"
        | "user.lifecycle.suspend"
        | "user.lifecycle.delete.initiated"
        | "user.account.lock"
        | "user.session.clear"
        | "user.mfa.factor.reset_all" => Some(Action::Everything),
        "group.user_membership.remove" => Some(Action::GroupRemoved),
        _ => None,
    }
}

/// One delivery (only the fields used; Okta's others are ignored).
#[derive(Deserialize)]
struct Delivery {
    #[serde(rename = "eventType")]
    event_type: String,
    data: DeliveryData,
}

#[derive(Deserialize)]
struct DeliveryData {
    events: Vec<LogEvent>,
}

/// One System Log event.
#[derive(Deserialize)]
struct LogEvent {
    #[serde(default)]
    uuid: Option<String>,
    #[serde(rename = "eventType")]
    event_type: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    outcome: Option<Outcome>,
    #[serde(default)]
    target: Option<Vec<Party>>,
}

#[derive(Deserialize)]
struct Outcome {
    #[serde(default)]
    result: Option<String>,
}

/// A System Log actor or target.
#[derive(Deserialize)]
struct Party {
    #[serde(default)]
    id: Option<String>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(rename = "displayName", default)]
    display_name: Option<String>,
}

/// What a delivery did, for the log.
#[derive(Debug, Default)]
struct Summary {
    /// Users cut off.
    cut_off: usize,
    /// Events seen before (a redelivery).
    repeated: usize,
    /// Events of other types, failed ones, about groups that grant nothing or about users
    /// who hold nothing here.
    ignored: usize,
}

/// An id Okta could have sent (user ids and event uuids are short and plain).
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn event_key(uuid: &str) -> String {
    format!("okta-event:{uuid}")
}

fn error(status: StatusCode, error: &str, description: &str) -> WebResponse {
    WebResponse::json(
        status,
        &serde_json::json!({"error": error, "error_description": description}),
    )
    .with_header(header::CACHE_CONTROL, "no-store")
}

impl OktaEventHook {
    /// The endpoint for `secret` (what the admin enters as the Authorization header's value).
    pub fn new(secret: &str, auth: Arc<AuthServer>) -> Result<Self, HookSecretError> {
        let header_safe = secret.bytes().all(|b| (0x20..0x7f).contains(&b))
            && secret.trim() == secret
            && HeaderValue::from_str(secret).is_ok();
        if !header_safe {
            return Err(HookSecretError::NotAHeaderValue);
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(HookSecretError::Short(secret.len()));
        }
        Ok(Self {
            secret_hash: Sha256::digest(secret.as_bytes()).into(),
            auth,
        })
    }

    /// Answers a request to [`PATH`].
    pub async fn handle(&self, request: &WebRequest) -> WebResponse {
        if request.method != Method::GET && request.method != Method::POST {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid_request",
                "Okta Event Hooks use GET (verification) and POST (events)",
            )
            .with_header(header::ALLOW, "GET, POST");
        }
        if !self.authorized(request) {
            tracing::warn!(method = %request.method, "Okta event hook: refused a request without the configured Authorization header");
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the Authorization header is missing or is not the configured Event Hook secret",
            );
        }
        if request.method == Method::GET {
            return verify(request);
        }
        self.deliver(&request.body).await
    }

    /// Whether the request carries exactly one Authorization header equal to the secret.
    fn authorized(&self, request: &WebRequest) -> bool {
        let mut values = request.headers.get_all(header::AUTHORIZATION).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(value.as_bytes()).into();
        presented.ct_eq(&self.secret_hash).into()
    }

    /// A `POST`: acts on each event, then answers 200 (Okta wants an empty body).
    async fn deliver(&self, body: &[u8]) -> WebResponse {
        let delivery: Delivery = match serde_json::from_slice(body) {
            Ok(delivery) => delivery,
            Err(e) => {
                tracing::warn!("Okta event hook: refused a delivery that is not Okta's JSON");
                let why: String = e.to_string().chars().take(200).collect();
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!(
                        "the body is not an Okta Event Hook delivery ({{\"eventType\": \"com.okta.event_hook\", \"data\": {{\"events\": [...]}}}}): {why}"
                    ),
                );
            }
        };
        if delivery.event_type != "com.okta.event_hook" {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "eventType must be com.okta.event_hook",
            );
        }
        let now = SystemTime::now();
        let mut summary = Summary::default();
        for event in &delivery.data.events {
            if let Err(error) = self.apply(event, now, &mut summary).await {
                tracing::warn!(%error, ?summary, "Okta event hook: the state store failed; Okta will deliver again");
                return unavailable();
            }
        }
        tracing::info!(
            events = delivery.data.events.len(),
            cut_off = summary.cut_off,
            repeated = summary.repeated,
            ignored = summary.ignored,
            "Okta event hook delivery"
        );
        WebResponse::new(StatusCode::OK, "text/plain; charset=utf-8", "")
            .with_header(header::CACHE_CONTROL, "no-store")
    }

    /// Acts on one event.
    async fn apply(
        &self,
        event: &LogEvent,
        now: SystemTime,
        summary: &mut Summary,
    ) -> Result<(), StoreError> {
        let Some(action) = action_for(&event.event_type) else {
            summary.ignored += 1;
            return Ok(());
        };
        let failed = event
            .outcome
            .as_ref()
            .and_then(|o| o.result.as_deref())
            .is_some_and(|r| r.eq_ignore_ascii_case("FAILURE"));
        let targets = event.target.as_deref().unwrap_or_default();
        let cutoff = match action {
            Action::Everything => Cutoff::Everything,
            Action::GroupRemoved => {
                let grants = targets.iter().any(|t| {
                    t.kind.as_deref() == Some("UserGroup")
                        && t.display_name
                            .as_deref()
                            .is_some_and(|group| self.auth.group_grants_role(group))
                });
                if !grants {
                    summary.ignored += 1;
                    return Ok(());
                }
                Cutoff::Role
            }
        };
        let users: Vec<&str> = targets
            .iter()
            .filter(|t| t.kind.as_deref() == Some("User"))
            .filter_map(|t| t.id.as_deref())
            .filter(|id| plain_id(id))
            .collect();
        if failed || users.is_empty() {
            summary.ignored += 1;
            return Ok(());
        }
        let uuid = event.uuid.as_deref().filter(|u| plain_id(u));
        let store = self.auth.store();
        if let Some(uuid) = uuid
            && store.get(&event_key(uuid)).await?.is_some()
        {
            summary.repeated += 1;
            return Ok(());
        }
        let at = cutoff_time(event.published.as_deref(), now);
        let mut acted = false;
        for user in users {
            if !self.auth.subject_known(user).await? {
                continue;
            }
            self.auth.cut_off(user, cutoff, at).await?;
            tracing::info!(subject = ?user, event_type = ?event.event_type, ?cutoff, "Okta event: user cut off");
            summary.cut_off += 1;
            acted = true;
        }
        if !acted {
            // About nobody who holds anything here: nothing to remember either.
            summary.ignored += 1;
            return Ok(());
        }
        if let Some(uuid) = uuid {
            store.put(&event_key(uuid), "1", REMEMBER_EVENTS).await?;
        }
        Ok(())
    }
}

/// The verification `GET`: the challenge back as JSON.
fn verify(request: &WebRequest) -> WebResponse {
    let Some(value) = request.headers.get(CHALLENGE_HEADER) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the x-okta-verification-challenge header is missing: Okta sends it to verify the hook, and events come by POST",
        );
    };
    let challenge = value
        .to_str()
        .ok()
        .filter(|c| !c.is_empty() && c.len() <= MAX_CHALLENGE);
    let Some(challenge) = challenge else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the x-okta-verification-challenge header must be 1 to 1024 visible ASCII characters",
        );
    };
    tracing::info!("Okta event hook verified by Okta");
    WebResponse::json(
        StatusCode::OK,
        &serde_json::json!({ "verification": challenge }),
    )
    .with_header(header::CACHE_CONTROL, "no-store")
}

fn unavailable() -> WebResponse {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the authorization state is not reachable; deliver again",
    )
}

/// The cut-off for an event published at `published` (RFC 3339), heard at `now`: the
/// published time plus [`CLOCK_SKEW`], never later than `now`; `now` when it does not parse.
fn cutoff_time(published: Option<&str>, now: SystemTime) -> u64 {
    let now = unix_ms(now);
    published
        .and_then(|p| chrono::DateTime::parse_from_rfc3339(p).ok())
        .and_then(|p| u64::try_from(p.timestamp_millis()).ok())
        .map_or(now, |p| {
            p.saturating_add(u64::try_from(CLOCK_SKEW.as_millis()).unwrap_or(0))
                .min(now)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::testing::*;
    use crate::store::Store;
    use serde_json::{Value, json};

    const SECRET: &str = "okta-event-hook-secret-0123456789abcdef";
    const ALICE: &str = "00u-alice";

    fn hook(t: &Harness) -> OktaEventHook {
        OktaEventHook::new(SECRET, t.server.clone()).unwrap()
    }

    /// An event as Okta's System Log writes it (the fields the hook reads, and some it does not).
    fn event(event_type: &str, uuid: &str, targets: Value) -> Value {
        json!({
            "uuid": uuid,
            "published": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "eventType": event_type,
            "version": "0",
            "severity": "INFO",
            "displayMessage": "changed",
            "actor": {"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
            "outcome": {"result": "SUCCESS", "reason": null},
            "target": targets,
        })
    }

    fn user(id: &str) -> Value {
        json!({"id": id, "type": "User", "alternateId": "someone@example.com", "displayName": "Some One"})
    }

    fn group(name: &str) -> Value {
        json!({"id": "00g1", "type": "UserGroup", "alternateId": "unknown", "displayName": name})
    }

    fn delivery(events: Vec<Value>) -> String {
        json!({
            "eventType": "com.okta.event_hook",
            "eventTypeVersion": "1.0",
            "cloudEventsVersion": "0.1",
            "source": "https://example.okta.com/api/v1/eventHooks/who1",
            "eventId": "b1f8d2a0-0000-4000-8000-000000000001",
            "eventTime": "2026-07-01T12:00:00.000Z",
            "contentType": "application/json",
            "data": {"events": events},
        })
        .to_string()
    }

    async fn post(hook: &OktaEventHook, body: &str) -> WebResponse {
        hook.handle(&request(
            Method::POST,
            PATH,
            None,
            &[
                ("authorization", SECRET),
                ("content-type", "application/json"),
            ],
            body,
        ))
        .await
    }

    async fn stored(t: &Harness, namespace: &str) -> usize {
        t.store.scan(namespace).await.unwrap().len()
    }

    /// Lets the clock move past what was just issued, so a cut-off now is later than it.
    async fn tick() {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }

    #[test]
    fn secrets_okta_cannot_send_or_that_are_short_are_refused_at_start_up() {
        let t = Harness::new();
        for (secret, expected) in [
            ("short", HookSecretError::Short(5)),
            (&"x".repeat(31) as &str, HookSecretError::Short(31)),
            (
                " leading-space-0123456789abcdef0123",
                HookSecretError::NotAHeaderValue,
            ),
            (
                "line\nbreak-0123456789abcdef0123456789",
                HookSecretError::NotAHeaderValue,
            ),
            (
                "ünïcode-0123456789abcdef0123456789ab",
                HookSecretError::NotAHeaderValue,
            ),
        ] {
            let error = OktaEventHook::new(secret, t.server.clone()).err();
            assert_eq!(error, Some(expected), "{secret:?}");
        }
        assert!(OktaEventHook::new(&"x".repeat(32), t.server.clone()).is_ok());
        assert!(
            OktaEventHook::new(
                "Basic YWRtaW46c3VwZXJzZWNyZXQxMjM0NTY3OA==",
                t.server.clone()
            )
            .is_ok()
        );
    }

    #[tokio::test]
    async fn verification_echoes_the_challenge_only_to_the_holder_of_the_secret() {
        let t = Harness::new();
        let hook = hook(&t);
        let get = |headers: &[(&str, &str)]| {
            let request = request(Method::GET, PATH, None, headers, "");
            let hook = &hook;
            async move { hook.handle(&request).await }
        };
        let ok = get(&[
            ("authorization", SECRET),
            ("x-okta-verification-challenge", "Z2V0LXRoaXMtYmFjaw"),
        ])
        .await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(
            json_body(&ok),
            json!({"verification": "Z2V0LXRoaXMtYmFjaw"})
        );
        assert_eq!(header(&ok, "cache-control"), Some("no-store"));

        let missing = get(&[("authorization", SECRET)]).await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST);
        assert!(
            json_body(&missing)["error_description"]
                .as_str()
                .unwrap()
                .contains("x-okta-verification-challenge header is missing")
        );
        let long = "c".repeat(1025);
        let too_long = get(&[
            ("authorization", SECRET),
            ("x-okta-verification-challenge", &long),
        ])
        .await;
        assert_eq!(too_long.status, StatusCode::BAD_REQUEST);

        let challenge = ("x-okta-verification-challenge", "abc");
        for headers in [
            vec![challenge],
            vec![("authorization", "wrong"), challenge],
            vec![("authorization", &SECRET[1..]), challenge],
            vec![("authorization", &format!("{SECRET}x")), challenge],
            vec![("authorization", &format!("Bearer {SECRET}")), challenge],
            vec![
                ("authorization", SECRET),
                ("authorization", SECRET),
                challenge,
            ],
        ] {
            let refused = get(&headers).await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{headers:?}");
            assert_eq!(json_body(&refused)["error"], "unauthorized");
            assert!(!text(&refused).contains("abc"), "no challenge echoed");
        }
        for method in [Method::PUT, Method::DELETE, Method::OPTIONS, Method::HEAD] {
            let refused = hook
                .handle(&request(
                    method.clone(),
                    PATH,
                    None,
                    &[("authorization", SECRET)],
                    "",
                ))
                .await;
            assert_eq!(refused.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
            assert_eq!(header(&refused, "allow"), Some("GET, POST"));
        }
    }

    #[tokio::test]
    async fn a_delivery_without_the_secret_changes_nothing() {
        let t = Harness::new();
        let (_, tokens) = t.tokens_for_new_client().await;
        let access = tokens["access_token"].as_str().unwrap();
        tick().await;
        let body = delivery(vec![event(
            "user.lifecycle.deactivate",
            "u-1",
            json!([user(ALICE)]),
        )]);
        let hook = hook(&t);
        for headers in [vec![], vec![("authorization", "not-the-secret")]] {
            let refused = hook
                .handle(&request(Method::POST, PATH, None, &headers, &body))
                .await;
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        }
        assert!(t.bearer(access).await.is_ok());
        assert_eq!(stored(&t, "not-before").await, 0);
    }

    #[tokio::test]
    async fn malformed_deliveries_get_400_with_a_clear_message() {
        let t = Harness::new();
        let hook = hook(&t);
        for (body, says) in [
            ("", "not an Okta Event Hook delivery"),
            ("{", "not an Okta Event Hook delivery"),
            ("[]", "not an Okta Event Hook delivery"),
            ("null", "not an Okta Event Hook delivery"),
            (
                r#"{"eventType": "com.okta.event_hook"}"#,
                "missing field `data`",
            ),
            (
                r#"{"eventType": "com.okta.event_hook", "data": {"events": {}}}"#,
                "invalid type",
            ),
            (
                r#"{"eventType": "com.okta.event_hook", "data": {"events": [{"eventType": 5}]}}"#,
                "invalid type",
            ),
            (
                r#"{"eventType": "com.okta.event_hook", "data": {"events": [{"uuid": "x"}]}}"#,
                "missing field `eventType`",
            ),
            (
                r#"{"eventType": "com.okta.event_hook", "data": {"events": [{"eventType": "a", "target": "x"}]}}"#,
                "invalid type",
            ),
            (
                r#"{"eventType": "user.lifecycle.deactivate", "data": {"events": []}}"#,
                "eventType must be com.okta.event_hook",
            ),
        ] {
            let refused = post(&hook, body).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
            let answer = json_body(&refused);
            assert_eq!(answer["error"], "invalid_request", "{body}");
            let description = answer["error_description"].as_str().unwrap();
            assert!(description.contains(says), "{body}: {description}");
        }
        let bytes = hook
            .handle(&WebRequest {
                body: bytes::Bytes::from_static(&[0xff, 0xfe, b'{']),
                ..request(Method::POST, PATH, None, &[("authorization", SECRET)], "")
            })
            .await;
        assert_eq!(bytes.status, StatusCode::BAD_REQUEST);
        // An empty batch is a delivery like any other.
        assert_eq!(post(&hook, &delivery(vec![])).await.status, StatusCode::OK);
    }

    #[tokio::test]
    async fn a_deactivation_stops_every_credential_the_user_holds_and_a_redelivery_nothing_new() {
        let t = Harness::new();
        let hook = hook(&t);
        let (client, tokens) = t.tokens_for_new_client().await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        // A login that has its code but has not redeemed it yet, and a browser session.
        let (verifier, challenge) = pkce();
        let pending = t.code_for(&client, CLIENT_CB, &challenge).await;
        let to_okta = t.browse_get("/oauth/login").await;
        t.okta_returns(&to_okta).await;
        assert!(t.with_browser_cookies().await.is_ok());
        assert!(t.bearer(&access).await.is_ok());
        tick().await;

        let batch = delivery(vec![
            event(
                "user.lifecycle.deactivate",
                "ev-deactivate-1",
                json!([user(ALICE)]),
            ),
            // Okta also clears the sessions of a deactivated user: a second event, same effect.
            event("user.session.clear", "ev-clear-1", json!([user(ALICE)])),
        ]);
        let answer = post(&hook, &batch).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
        assert!(answer.body.is_empty(), "Okta wants an empty answer");

        let refused = t.bearer(&access).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(text(&refused).contains("revoked"), "{}", text(&refused));
        let refresh_answer = t.refresh(&client, &refresh).await;
        assert_eq!(refresh_answer.status, StatusCode::BAD_REQUEST);
        assert_eq!(json_body(&refresh_answer)["error"], "invalid_grant");
        let code_answer = t.redeem(&client, &pending, CLIENT_CB, &verifier).await;
        assert_eq!(json_body(&code_answer)["error"], "invalid_grant");
        let cookie = t.with_browser_cookies().await.unwrap_err();
        assert_eq!(cookie.status, StatusCode::UNAUTHORIZED);
        assert!(text(&cookie).contains("log in again"), "{}", text(&cookie));

        // Back at work (reactivated at Okta): a new login works, and Okta delivering the old
        // batch again changes nothing.
        tick().await;
        let (_, again) = t.tokens_for_new_client().await;
        let new_access = again["access_token"].as_str().unwrap();
        assert!(t.bearer(new_access).await.is_ok());
        tick().await;
        let redelivered = post(&hook, &batch).await;
        assert_eq!(redelivered.status, StatusCode::OK);
        assert!(
            t.bearer(new_access).await.is_ok(),
            "a redelivery is no new cut-off"
        );
        assert_eq!(stored(&t, "okta-event").await, 2);
        assert_eq!(stored(&t, "not-before").await, 1);
    }

    #[tokio::test]
    async fn events_about_nobody_here_of_other_kinds_or_that_failed_are_ignored() {
        let t = Harness::new();
        let hook = hook(&t);
        let (_, tokens) = t.tokens_for_new_client().await;
        let access = tokens["access_token"].as_str().unwrap();
        tick().await;
        let mut failed = event("user.lifecycle.deactivate", "ev-2", json!([user(ALICE)]));
        failed["outcome"]["result"] = json!("FAILURE");
        let batch = delivery(vec![
            event(
                "user.lifecycle.deactivate",
                "ev-1",
                json!([user("00u-never-logged-in")]),
            ),
            failed,
            event("user.session.start", "ev-3", json!([user(ALICE)])),
            event("user.lifecycle.activate", "ev-4", json!([user(ALICE)])),
            event(
                "group.user_membership.add",
                "ev-5",
                json!([user(ALICE), group("sso-super-admins")]),
            ),
            event(
                "group.user_membership.remove",
                "ev-6",
                json!([user(ALICE), group("Everyone")]),
            ),
            event("group.user_membership.remove", "ev-7", json!([user(ALICE)])),
            event("user.lifecycle.suspend", "ev-8", json!(null)),
            event("user.lifecycle.suspend", "ev-9", json!([])),
            event(
                "user.lifecycle.suspend",
                "ev-10",
                json!([group("sso-help-desk")]),
            ),
            event("user.lifecycle.suspend", "ev-11", json!([{"type": "User"}])),
            event(
                "user.lifecycle.suspend",
                "ev-12",
                json!([user("../00u-alice")]),
            ),
            event(
                "user.lifecycle.suspend",
                "ev-13",
                json!([user(&"0".repeat(500))]),
            ),
            json!({"eventType": "user.lifecycle.suspend", "target": [{"id": "00u-x", "type": "AppUser"}]}),
        ]);
        let answer = post(&hook, &batch).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", text(&answer));
        assert!(t.bearer(access).await.is_ok(), "alice untouched");
        assert_eq!(stored(&t, "not-before").await, 0);
        assert_eq!(stored(&t, "okta-event").await, 0, "nothing to remember");
    }

    #[tokio::test]
    async fn removing_a_role_granting_group_stops_access_tokens_and_the_refresh_reads_the_lower_role()
     {
        let t = Harness::new();
        let hook = hook(&t);
        t.okta.log_in_as(
            ALICE,
            "alice@example.com",
            &["sso-super-admins", "sso-help-desk"],
        );
        let (client, tokens) = t.tokens_for_new_client().await;
        let access = tokens["access_token"].as_str().unwrap();
        let refresh = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(t.bearer(access).await.unwrap().role, "super-admin");
        let (verifier, challenge) = pkce();
        let pending = t.code_for(&client, CLIENT_CB, &challenge).await;
        // A web app's login last (a client's login replaces the cookie with one that cannot
        // re-check its role).
        let to_okta = t.browse_get("/oauth/login").await;
        t.okta_returns(&to_okta).await;
        assert_eq!(t.with_browser_cookies().await.unwrap().role, "super-admin");
        tick().await;

        // At Okta she leaves sso-super-admins and keeps sso-help-desk.
        *t.okta.refresh_answer.lock().unwrap() =
            RefreshAnswer::Groups(vec!["sso-help-desk".into()]);
        t.okta
            .log_in_as(ALICE, "alice@example.com", &["sso-help-desk"]);
        let removal = delivery(vec![event(
            "group.user_membership.remove",
            "ev-remove",
            json!([user(ALICE), group("SSO-Super-Admins")]),
        )]);
        assert_eq!(post(&hook, &removal).await.status, StatusCode::OK);

        // The very next request: refused, and the code from before too.
        let refused = t.bearer(access).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        let code_answer = t.redeem(&client, &pending, CLIENT_CB, &verifier).await;
        assert_eq!(json_body(&code_answer)["error"], "invalid_grant");
        // The refresh token still works and reads the role again; no new login.
        let refreshed = t.refresh(&client, refresh).await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", text(&refreshed));
        let new_access = json_body(&refreshed)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(t.bearer(&new_access).await.unwrap().role, "viewer");
        // The browser session re-checks its role with Okta instead of ending.
        let before = t.okta.refreshed_with.lock().unwrap().len();
        assert_eq!(t.with_browser_cookies().await.unwrap().role, "viewer");
        assert_eq!(t.okta.refreshed_with.lock().unwrap().len(), before + 1);
        assert_eq!(t.with_browser_cookies().await.unwrap().role, "viewer");
        assert_eq!(
            t.okta.refreshed_with.lock().unwrap().len(),
            before + 1,
            "re-checked once, not at every request"
        );
    }

    #[tokio::test]
    async fn a_late_delivery_spares_what_okta_said_after_the_event() {
        let t = Harness::new();
        let hook = hook(&t);
        let (_, tokens) = t.tokens_for_new_client().await;
        let access = tokens["access_token"].as_str().unwrap();
        tick().await;
        // Suspended an hour ago, unsuspended since, logged in just now: the late suspension
        // does not undo the new login.
        let mut late = event("user.lifecycle.suspend", "ev-late", json!([user(ALICE)]));
        late["published"] = json!("2020-01-01T00:00:00.000Z");
        assert_eq!(
            post(&hook, &delivery(vec![late])).await.status,
            StatusCode::OK
        );
        assert!(t.bearer(access).await.is_ok());
        assert_eq!(stored(&t, "not-before").await, 1);
        // Published "in the future" (Okta's clock ahead): cut off now, not later.
        let mut ahead = event("user.account.lock", "ev-ahead", json!([user(ALICE)]));
        ahead["published"] = json!("2999-01-01T00:00:00Z");
        assert_eq!(
            post(&hook, &delivery(vec![ahead])).await.status,
            StatusCode::OK
        );
        assert!(t.bearer(access).await.is_err());
        tick().await;
        let (_, again) = t.tokens_for_new_client().await;
        assert!(
            t.bearer(again["access_token"].as_str().unwrap())
                .await
                .is_ok()
        );
    }

    #[test]
    fn cut_off_times_follow_the_event_within_the_clock_skew() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(cutoff_time(None, now), 1_000_000);
        assert_eq!(cutoff_time(Some("junk"), now), 1_000_000);
        assert_eq!(
            cutoff_time(Some("1970-01-01T00:10:00.250Z"), now),
            600_250 + 5_000
        );
        assert_eq!(
            cutoff_time(Some("1970-01-01T00:16:38Z"), now),
            1_000_000,
            "never later than the delivery"
        );
        assert_eq!(cutoff_time(Some("1960-01-01T00:00:00Z"), now), 1_000_000);
    }
}
