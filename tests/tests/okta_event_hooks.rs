//! Instant revocation through Okta Event Hooks, end to end: the fake org verifies its hook at
//! the proxy's `/hooks/okta` and POSTs its changes there as Okta does; a user deactivated,
//! suspended or regrouped at Okta is refused at `/mcp` within two seconds, on every replica,
//! and other users notice nothing. Also what the endpoint does with requests that are not
//! Okta's (no or a wrong secret, oversized or malformed bodies, redeliveries, strangers).
//!
//! Real processes: fake-okta (OIDC and Event Hook), okta-mcp-tool-server, okta-mcp-proxy (one,
//! or two sharing a real `redis-server`), and the official TypeScript SDK client.

use std::time::{Duration, Instant};

use okta_mcp_tests::fake_okta::dataset::{
    ALICE_ID, BOB_ID, CAROL_ID, DAVE_ID, HELP_DESK_GROUP_ID, SECURITY_ADMINS_GROUP_ID,
};
use okta_mcp_tests::harness::{
    FakeOkta, Proxy, RedisServer, Stack, TEST_EVENT_HOOK_SECRET, ToolServer, WrapServer,
    everything_server_command, free_port, http_client, node_client, read_response,
};
use okta_mcp_tests::oauth_flow::{Credential, ProxiedMcp, Tokens, log_in, manual_redirect_client};
use serde_json::{Value, json};

/// How soon a change at Okta must be enforced, from the moment its event exists (Okta's own
/// delivery included; the fake org's time to make the change, slow in a debug build on a busy
/// machine, is not).
const DEADLINE: Duration = Duration::from_secs(2);

/// Logs `email` in at `public_url` (the fake org's auto-login) and opens an MCP session.
async fn connect(okta: &FakeOkta, public_url: &str, email: &str) -> (Tokens, ProxiedMcp) {
    okta.auto_login(email).await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, public_url).await;
    let mcp = session(public_url, &tokens.access_token).await;
    (tokens, mcp)
}

/// An initialized MCP session at `public_url` with `access_token`.
async fn session(public_url: &str, access_token: &str) -> ProxiedMcp {
    let mut mcp = ProxiedMcp::new(
        &http_client(),
        &format!("{public_url}/mcp"),
        Credential::Bearer(access_token.to_owned()),
    );
    let answer = mcp.initialize().await;
    assert_eq!(answer.status, 200, "initialize: {answer:?}");
    mcp
}

/// The HTTP status of one `tools/call` of `get_current_time`.
async fn call_status(mcp: &ProxiedMcp) -> u16 {
    let body = json!({
        "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "get_current_time", "arguments": {}},
    });
    mcp.post(&body).await.status
}

/// Calls a tool until `mcp` gets 401; how long after `since` that was (`None`: not within 5 s).
async fn refused_after(mcp: &ProxiedMcp, since: Instant) -> Option<Duration> {
    while since.elapsed() < Duration::from_secs(5) {
        match call_status(mcp).await {
            401 => return Some(since.elapsed()),
            200 => tokio::time::sleep(Duration::from_millis(10)).await,
            other => panic!("tools/call answered {other}"),
        }
    }
    None
}

/// `POST /token` with the refresh grant; status and JSON body.
async fn refresh(tokens: &Tokens, public_url: &str) -> (u16, Value) {
    let refresh_token = tokens.refresh_token.as_deref().expect("a refresh token");
    let response = http_client()
        .post(format!("{public_url}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", tokens.client.client_id.as_str()),
        ])
        .send()
        .await
        .expect("POST /token");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `method /hooks/okta` at `public_url` with `headers` and `body`: status and body text.
async fn hook_request(
    public_url: &str,
    method: reqwest::Method,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, String) {
    let mut request = http_client().request(method, format!("{public_url}/hooks/okta"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.body(body).send().await.expect("/hooks/okta");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// An Okta delivery of one event of `event_type` about `user`, with `uuid`.
fn delivery(event_type: &str, uuid: &str, user: &str) -> Vec<u8> {
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/whotest",
        "eventId": "0b8e5a4e-0000-4000-8000-00000000000a",
        "eventTime": chrono::Utc::now().to_rfc3339(),
        "contentType": "application/json",
        "data": {"events": [{
            "uuid": uuid,
            "published": chrono::Utc::now().to_rfc3339(),
            "eventType": event_type,
            "outcome": {"result": "SUCCESS"},
            "target": [{"id": user, "type": "User", "alternateId": "x@example.com", "displayName": "X"}],
        }]},
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_deactivated_user_is_refused_within_two_seconds_and_others_are_untouched() {
    let stack = Stack::start_with_event_hook(&[]).await;
    let url = stack.proxy.public_url.clone();
    let (alice, alice_mcp) = connect(&stack.okta, &url, "alice@example.com").await;
    let (bob, bob_mcp) = connect(&stack.okta, &url, "bob@example.com").await;
    let (carol, carol_mcp) = connect(&stack.okta, &url, "carol@example.com").await;
    for mcp in [&alice_mcp, &bob_mcp, &carol_mcp] {
        assert_eq!(call_status(mcp).await, 200);
    }

    let deactivated = Instant::now();
    stack.okta.lifecycle(ALICE_ID, "deactivate").await;
    // The fake org copies itself for each change (slow in a debug build): also time from the
    // moment its event exists.
    let published = Instant::now();
    let alice_refused = refused_after(&alice_mcp, deactivated)
        .await
        .expect("alice was never refused");
    let alice_after_event = alice_refused.saturating_sub(published - deactivated);
    // Her refresh token is dead too, and the new token Okta would not give her anyway.
    let (status, body) = refresh(&alice, &url).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let fresh = ProxiedMcp::bearer_status(&stack.proxy.mcp_url, &alice.access_token).await;
    assert_eq!(fresh, 401, "a new session with her old token");

    let locked = Instant::now();
    stack.okta.lifecycle(CAROL_ID, "lock").await;
    let published = Instant::now();
    let carol_refused = refused_after(&carol_mcp, locked)
        .await
        .expect("carol was never refused");
    let carol_after_event = carol_refused.saturating_sub(published - locked);
    assert_eq!(refresh(&carol, &url).await.0, 400);

    // Bob, connected all along, is untouched: his session, his token, his refresh.
    assert_eq!(call_status(&bob_mcp).await, 200);
    let (status, body) = refresh(&bob, &url).await;
    assert_eq!(status, 200, "{body}");
    eprintln!(
        "refused after the admin's change: deactivation {alice_refused:?}, lock {carol_refused:?}; \
         after the event existed: {alice_after_event:?}, {carol_after_event:?}"
    );
    assert!(alice_after_event <= DEADLINE, "{alice_after_event:?}");
    assert!(carol_after_event <= DEADLINE, "{carol_after_event:?}");
    let hook = stack.okta.event_hook().await;
    assert!(hook["deliveries"].as_u64() >= Some(2), "{hook}");
    assert_eq!(hook["failures"], 0, "{hook}");
    let logs = stack.proxy.process.logs();
    assert!(logs.contains("Okta event: user cut off"), "{logs}");
    assert!(
        !logs.contains(TEST_EVENT_HOOK_SECRET),
        "the secret never reaches a log"
    );
}

#[tokio::test]
async fn an_sdk_client_stops_working_once_its_user_is_suspended() {
    let stack = Stack::start_with_event_hook(&[]).await;
    stack.auto_login("alice@example.com").await;
    // The SDK client makes 200 calls; after the 20th the fake org suspends alice, and the 180
    // calls after it take at least 4 s (twice DEADLINE), so some come after the cut-off on a
    // machine of any speed.
    let suspend = format!(
        "{}/__fake/users/{ALICE_ID}/lifecycle/suspend",
        stack.okta.url
    );
    let report = node_client(
        "sdk-flow.mjs",
        &[&stack.proxy.mcp_url, "many", "200", &suspend],
    )
    .await;
    assert_eq!(report["connected"], true, "{report}");
    assert_eq!(report["hookCalledAt"], 20, "{report}");
    let ok = report["callsOk"].as_u64().unwrap();
    let failed = report["callsFailed"].as_u64().unwrap();
    assert_eq!(ok + failed, 200, "{report}");
    // Once cut off, the SDK got 401, tried its refresh token (invalid_grant, the error it
    // reports) and a new login (Okta refuses a suspended user). How many calls fit before the
    // cut-off depends on the machine; that calls then failed, and why, does not.
    assert!(ok >= 20 && failed >= 1, "{report}");
    assert!(
        report["callErrors"][0]
            .as_str()
            .is_some_and(|e| e.contains("revoked")),
        "{report}"
    );
    let refresh_token = report["refreshTokens"][0].as_str().unwrap();
    let client_id = report["steps"][0]["client_id"].as_str().unwrap();
    let response = http_client()
        .post(format!("{}/token", stack.proxy.public_url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    eprintln!(
        "SDK client: {ok} calls went through before the suspension took effect, {failed} failed"
    );

    // Bob's SDK client, started now, works as ever.
    stack.auto_login("bob@example.com").await;
    let bob = node_client("sdk-flow.mjs", &[&stack.proxy.mcp_url, "basic"]).await;
    assert_eq!(bob["connected"], true, "{bob}");
    // security-admin: 18 read tools and the 2 write tools the policy grants it.
    assert_eq!(
        bob["first"]["tools"].as_array().map(Vec::len),
        Some(20),
        "{bob}"
    );
}

#[tokio::test]
async fn a_group_removal_that_lowers_a_role_takes_effect_at_the_next_request() {
    let stack = Stack::start_with_event_hook(&[]).await;
    let url = stack.proxy.public_url.clone();
    // Bob is in sso-help-desk too (viewer), below his sso-security-admins (security-admin).
    stack
        .okta
        .membership(HELP_DESK_GROUP_ID, BOB_ID, true)
        .await;
    let (bob, mut bob_mcp) = connect(&stack.okta, &url, "bob@example.com").await;
    // security-admin: 18 read tools and 2 write tools.
    assert_eq!(bob_mcp.tool_names().await.len(), 20);
    let (_, alice_mcp) = connect(&stack.okta, &url, "alice@example.com").await;

    let removed = Instant::now();
    stack
        .okta
        .membership(SECURITY_ADMINS_GROUP_ID, BOB_ID, false)
        .await;
    let published = removed.elapsed();
    let refused = refused_after(&bob_mcp, removed)
        .await
        .expect("bob's old role was never refused");
    // No new login: his refresh token reads his groups again and gets the lower role.
    let (status, body) = refresh(&bob, &url).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let mut lowered = session(&url, token).await;
    assert_eq!(lowered.tool_names().await.len(), 12, "viewer now");
    assert_eq!(call_status(&alice_mcp).await, 200, "alice untouched");
    let after_event = refused.saturating_sub(published);
    eprintln!(
        "bob's higher role refused {refused:?} after the removal, {after_event:?} after its event"
    );
    assert!(after_event <= DEADLINE, "{after_event:?}");
}

#[tokio::test]
async fn a_hook_delivered_to_one_replica_is_enforced_by_the_other_within_two_seconds() {
    let redis = RedisServer::start().await;
    let port_a = free_port();
    let public_url = format!("http://127.0.0.1:{port_a}");
    let okta = FakeOkta::start_oidc_with_event_hook(
        &format!("{public_url}/oauth/callback"),
        &format!("{public_url}/hooks/okta"),
    );
    let tool_server = ToolServer::start(&okta, &[]).await;
    let store = redis.url();
    let env = [
        ("STORE_URL", store.as_str()),
        ("PUBLIC_URL", public_url.as_str()),
        ("OKTA_EVENT_HOOK_SECRET", TEST_EVENT_HOOK_SECRET),
    ];
    let a = Proxy::start(&okta, port_a, &tool_server.mcp_url, &env).await;
    let b = Proxy::start(&okta, free_port(), &tool_server.mcp_url, &env).await;
    okta.wait_event_hook_verified().await;

    let mut seen = Vec::new();
    for (user, email, operation) in [
        (ALICE_ID, "alice@example.com", "deactivate"),
        (BOB_ID, "bob@example.com", "suspend"),
    ] {
        let (tokens, _) = connect(&okta, &a.public_url, email).await;
        let on_b = session(&b.public_url, &tokens.access_token).await;
        assert_eq!(call_status(&on_b).await, 200);
        let changed = Instant::now();
        okta.lifecycle(user, operation).await;
        let published = changed.elapsed();
        let refused = refused_after(&on_b, changed)
            .await
            .unwrap_or_else(|| panic!("replica B never refused {email}"));
        eprintln!(
            "{email}: refused at replica B {refused:?} after the {operation} at Okta, {:?} after its event",
            refused.saturating_sub(published)
        );
        let (status, body) = refresh(&tokens, &b.public_url).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        seen.push(refused.saturating_sub(published));
    }
    // Carol, never touched, works on both.
    let (_, carol_a) = connect(&okta, &a.public_url, "carol@example.com").await;
    assert_eq!(call_status(&carol_a).await, 200);
    eprintln!("hook at replica A, refused at replica B after the event: {seen:?}");
    assert!(seen.iter().all(|d| *d <= DEADLINE), "{seen:?}");
    assert!(a.process.logs().contains("Okta event: user cut off"));
}

#[tokio::test]
async fn a_response_still_streaming_to_a_user_cut_off_is_closed_at_its_next_message() {
    // The everything server behind `wrap`: its long-running tool streams progress over SSE.
    let port = free_port();
    let public_url = format!("http://127.0.0.1:{port}");
    let okta = FakeOkta::start_oidc_with_event_hook(
        &format!("{public_url}/oauth/callback"),
        &format!("{public_url}/hooks/okta"),
    );
    let wrap = WrapServer::start(
        "policies/everything.toml",
        &[],
        &everything_server_command(),
    )
    .await;
    let env = [("OKTA_EVENT_HOOK_SECRET", TEST_EVENT_HOOK_SECRET)];
    let proxy = Proxy::start(&okta, port, &wrap.mcp_url, &env).await;
    okta.wait_event_hook_verified().await;
    let (_, mcp) = connect(&okta, &proxy.public_url, "alice@example.com").await;

    // A 6 s call with progress every 0.5 s, answered as SSE.
    let mut response = mcp
        .request_builder(reqwest::Method::POST)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", &mcp.protocol_version)
        .body(
            json!({
                "jsonrpc": "2.0", "id": 9, "method": "tools/call",
                "params": {
                    "name": "trigger-long-running-operation",
                    "arguments": {"duration": 6, "steps": 12},
                    "_meta": {"progressToken": 1}
                }
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut before = String::new();
    while !before.contains("notifications/progress") {
        let chunk = tokio::time::timeout(Duration::from_secs(3), response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no progress within 3 s: {before}"))
            .unwrap()
            .expect("a chunk");
        before.push_str(&String::from_utf8_lossy(&chunk));
    }

    let deactivated = Instant::now();
    okta.lifecycle(ALICE_ID, "deactivate").await;
    let mut received = String::new();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(5), response.chunk()).await {
            Ok(Ok(Some(chunk))) => received.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(Ok(None) | Err(_)) => break deactivated.elapsed(),
            Err(_) => panic!("the stream stayed open after the cut-off: {received}"),
        }
    };
    assert!(
        !received.contains("Long running operation completed"),
        "the result reached a user cut off: {received}"
    );
    eprintln!("stream closed {ended:?} after the deactivation");
    assert!(ended < Duration::from_secs(4), "{ended:?}");
    proxy
        .process
        .wait_for_log("closing a response to a user cut off at Okta")
        .await;
}

#[tokio::test]
async fn the_hook_is_a_404_like_any_unknown_path_unless_its_secret_is_set() {
    let stack = Stack::start(&[]).await;
    let url = &stack.proxy.public_url;
    let (_, unknown) = hook_request(url, reqwest::Method::GET, &[], Vec::new()).await;
    let nowhere = http_client()
        .get(format!("{url}/no/such/path"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let (status, body) = hook_request(
            url,
            method,
            &[
                ("authorization", TEST_EVENT_HOOK_SECRET),
                ("x-okta-verification-challenge", "abc"),
            ],
            delivery("user.lifecycle.deactivate", "ev-1", ALICE_ID),
        )
        .await;
        assert_eq!(status, 404);
        assert_eq!(body, nowhere);
    }
    assert_eq!(unknown, nowhere);
}

#[tokio::test]
async fn requests_that_are_not_okta_s_get_clear_errors_and_change_nothing() {
    let stack = Stack::start_with_event_hook(&[("MAX_BODY_BYTES", "65536")]).await;
    let url = stack.proxy.public_url.clone();
    let (alice, alice_mcp) = connect(&stack.okta, &url, "alice@example.com").await;
    let secret = ("authorization", TEST_EVENT_HOOK_SECRET);
    let json = ("content-type", "application/json");
    let deactivate = delivery("user.lifecycle.deactivate", "ev-forged", ALICE_ID);

    // No secret, a wrong one, or the right one with a scheme in front: 401.
    for headers in [
        vec![json],
        vec![json, ("authorization", "wrong")],
        vec![json, ("authorization", &TEST_EVENT_HOOK_SECRET[..40])],
        vec![
            json,
            (
                "authorization",
                "Bearer test-okta-event-hook-secret-0123456789abcdef",
            ),
        ],
    ] {
        let (status, body) =
            hook_request(&url, reqwest::Method::POST, &headers, deactivate.clone()).await;
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert!(
            body.contains("not the configured Event Hook secret"),
            "{body}"
        );
    }
    let (status, _) = hook_request(
        &url,
        reqwest::Method::GET,
        &[("x-okta-verification-challenge", "abc")],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 401, "verification needs the secret too");

    // Verification without its header; the right one.
    let (status, body) = hook_request(&url, reqwest::Method::GET, &[secret], Vec::new()).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("x-okta-verification-challenge header is missing"),
        "{body}"
    );
    let (status, body) = hook_request(
        &url,
        reqwest::Method::GET,
        &[secret, ("x-okta-verification-challenge", "c-123")],
        Vec::new(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"verification": "c-123"})
    );

    // Oversized: 413, whether or not the length is declared up front.
    let big = vec![b' '; 70_000];
    let (status, body) =
        hook_request(&url, reqwest::Method::POST, &[secret, json], big.clone()).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than 65536 bytes"), "{body}");
    let addr = url.trim_start_matches("http://");
    let mut chunked = format!(
        "POST /hooks/okta HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {TEST_EVENT_HOOK_SECRET}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for chunk in big.chunks(1000) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, _, body) = raw_http(addr, &chunked).await;
    assert_eq!(status, 413, "{body}");

    // Malformed JSON and JSON that is not a delivery: 400 saying what is wrong.
    for (body, says) in [
        (
            &b"{\"eventType\": \"com.okta.event_hook\", "[..],
            "not an Okta Event Hook delivery",
        ),
        (&b"not json"[..], "not an Okta Event Hook delivery"),
        (
            &br#"{"eventType": "com.okta.event_hook", "data": {}}"#[..],
            "missing field `events`",
        ),
        (
            &br#"{"eventType": "com.okta.event_hook", "data": {"events": [{"eventType": ["x"]}]}}"#
                [..],
            "invalid type",
        ),
        (
            &br#"{"eventType": "com.okta.inline_hook", "data": {"events": []}}"#[..],
            "eventType must be com.okta.event_hook",
        ),
    ] {
        let (status, answer) =
            hook_request(&url, reqwest::Method::POST, &[secret, json], body.to_vec()).await;
        assert_eq!(status, 400, "{answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"], "invalid_request");
        assert!(
            answer["error_description"].as_str().unwrap().contains(says),
            "{answer}"
        );
    }
    // Other methods.
    let (status, _) = hook_request(&url, reqwest::Method::PUT, &[secret], Vec::new()).await;
    assert_eq!(status, 405);

    // None of it touched alice.
    assert_eq!(call_status(&alice_mcp).await, 200);
    assert_eq!(refresh(&alice, &url).await.0, 200);
    let logs = stack.proxy.process.logs();
    assert!(logs.contains("refused a request without the configured Authorization header"));
    assert!(!logs.contains("Okta event: user cut off"), "{logs}");
}

#[tokio::test]
async fn a_redelivered_batch_and_events_about_strangers_change_nothing() {
    let stack = Stack::start_with_event_hook(&[]).await;
    let url = stack.proxy.public_url.clone();
    let headers = [
        ("authorization", TEST_EVENT_HOOK_SECRET),
        ("content-type", "application/json"),
    ];
    let (_, alice_mcp) = connect(&stack.okta, &url, "alice@example.com").await;
    tokio::time::sleep(Duration::from_millis(5)).await;

    // Okta suspends alice (this test sends the delivery itself) ...
    let suspension = delivery("user.lifecycle.suspend", "ev-suspend-1", ALICE_ID);
    let (status, body) =
        hook_request(&url, reqwest::Method::POST, &headers, suspension.clone()).await;
    assert_eq!((status, body.as_str()), (200, ""));
    assert_eq!(call_status(&alice_mcp).await, 401);
    // ... and unsuspends her (the fake org never suspended her): she logs in again.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, again) = connect(&stack.okta, &url, "alice@example.com").await;
    assert_eq!(call_status(&again).await, 200);
    // Okta delivers the suspension again (at least once): 200, and her new login stays.
    let (status, _) = hook_request(&url, reqwest::Method::POST, &headers, suspension).await;
    assert_eq!(status, 200);
    assert_eq!(call_status(&again).await, 200, "no double effect");

    // Events about users who never logged in here, or no user at all: 200, nothing kept.
    for (event_type, user) in [
        ("user.lifecycle.deactivate", DAVE_ID),
        ("user.lifecycle.deactivate", "00uunknown0000000001"),
        ("user.session.clear", "not an okta id"),
        ("user.lifecycle.create", ALICE_ID),
    ] {
        let (status, body) = hook_request(
            &url,
            reqwest::Method::POST,
            &headers,
            delivery(event_type, &format!("ev-{event_type}-{user}"), user),
        )
        .await;
        assert_eq!(status, 200, "{event_type} {user}: {body}");
    }
    assert_eq!(call_status(&again).await, 200);
    let logs = stack.proxy.process.logs();
    let deliveries: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("Okta event hook delivery"))
        .collect();
    assert!(
        deliveries.iter().any(|l| l.contains("repeated=1")),
        "{deliveries:#?}"
    );
    assert_eq!(
        deliveries
            .iter()
            .filter(|l| l.contains("cut_off=1"))
            .count(),
        1,
        "one cut-off in all: {deliveries:#?}"
    );
}

/// Sends `request` as is on a new connection to `addr`; status, head and body of the answer.
async fn raw_http(addr: &str, request: &[u8]) -> (u16, String, String) {
    use tokio::io::AsyncWriteExt;
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        // The proxy may answer before reading everything; a failed write is not the test.
        let _ = stream.write_all(request).await;
        read_response(&mut stream)
            .await
            .expect("connection closed before a full response")
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .expect("an answer within 5 s")
}
