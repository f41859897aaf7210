//! Rotating `SESSION_SECRET_KEY` logs nobody out: the proxy restarted with a new key and the old
//! one in `SESSION_SECRET_KEYS_PREVIOUS` keeps accepting what the old key signed (access tokens,
//! session cookies), signs everything new with the new key, and once the old key is dropped
//! from the list, what it signed stops working.

use std::sync::Arc;

use axum::routing::post;
use okta_mcp_tests::harness::{Stack, TEST_SESSION_SECRET, node_client, serve_hook};
use okta_mcp_tests::oauth_flow::{Browser, Credential, ProxiedMcp, log_in, manual_redirect_client};
use tokio::sync::Mutex;

const NEW_SECRET: &str = "the-next-session-secret-key-0123456789abcdefgh";

/// The `kid` in an access token's header.
fn kid_of(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().expect("a kid").to_owned()
}

async fn status(http: &reqwest::Client, mcp_url: &str, credential: Credential) -> u16 {
    ProxiedMcp::new(http, mcp_url, credential)
        .initialize()
        .await
        .status
}

#[tokio::test]
async fn tokens_and_cookies_survive_a_rotation_and_end_when_the_old_key_is_dropped() {
    let mut stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.clone();
    let mcp_url = stack.proxy.mcp_url.clone();
    let http = manual_redirect_client();
    let before = log_in(&http, &public).await;
    let browser = Browser::default();
    browser
        .follow(&format!("{public}/oauth/login"), |url| url.path() == "/")
        .await;
    let cookie = format!(
        "mcp_session={}",
        browser
            .cookie(&public, "mcp_session")
            .expect("session cookie")
    );
    let old_kid = kid_of(&before.access_token);

    // Rotate: new key, the old one still accepted.
    stack
        .proxy
        .restart_with(&[
            ("SESSION_SECRET_KEY", NEW_SECRET),
            ("SESSION_SECRET_KEYS_PREVIOUS", TEST_SESSION_SECRET),
        ])
        .await;
    let bearer = |token: &str| Credential::Bearer(token.to_owned());
    assert_eq!(
        status(&http, &mcp_url, bearer(&before.access_token)).await,
        200
    );
    assert_eq!(
        status(&http, &mcp_url, Credential::Cookie(cookie.clone())).await,
        200
    );
    // The refresh token from before the rotation works; what it gets is signed with the new key.
    let client = &before.client;
    let (code, refreshed) = client
        .token(
            &http,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client.client_id),
                ("refresh_token", before.refresh_token.as_deref().unwrap()),
            ],
        )
        .await;
    assert_eq!(code, 200, "{refreshed}");
    let after = refreshed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(kid_of(&after), old_kid);
    assert_eq!(status(&http, &mcp_url, bearer(&after)).await, 200);
    let fresh = log_in(&http, &public).await;
    assert_eq!(kid_of(&fresh.access_token), kid_of(&after));

    // The old key dropped: what only it signed is refused, the new key's tokens work.
    stack
        .proxy
        .restart_with(&[("SESSION_SECRET_KEYS_PREVIOUS", "")])
        .await;
    assert_eq!(
        status(&http, &mcp_url, bearer(&before.access_token)).await,
        401
    );
    assert_eq!(
        status(&http, &mcp_url, Credential::Cookie(cookie)).await,
        401
    );
    assert_eq!(status(&http, &mcp_url, bearer(&after)).await, 200);
    assert_eq!(
        status(&http, &mcp_url, bearer(&fresh.access_token)).await,
        200
    );
}

#[tokio::test]
async fn an_sdk_client_keeps_working_through_a_rotation() {
    let stack = Stack::start(&[("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    stack.auto_login("alice@example.com").await;
    let mcp_url = stack.proxy.mcp_url.clone();
    let stack = Arc::new(Mutex::new(stack));
    let app = {
        let stack = stack.clone();
        axum::Router::new().route(
            "/rotate",
            post(move || {
                let stack = stack.clone();
                async move {
                    stack
                        .lock()
                        .await
                        .proxy
                        .restart_with(&[
                            ("SESSION_SECRET_KEY", NEW_SECRET),
                            ("SESSION_SECRET_KEYS_PREVIOUS", TEST_SESSION_SECRET),
                        ])
                        .await;
                    "rotated"
                }
            }),
        )
    };
    let hook = format!("{}/rotate", serve_hook(app).await);
    // Logs in and calls tools, has the key rotated, waits for its token to expire, then
    // calls again: the SDK refreshes with the token from before the rotation.
    let report = node_client("sdk-flow.mjs", &[&mcp_url, "refresh", &hook, "{}"]).await;
    let stack = stack.lock().await;
    let logs = stack.proxy.process.logs();
    assert!(report.get("error").is_none(), "{report}\n{logs}");
    let rotated = report["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == "hook"))
        .unwrap_or_else(|| panic!("the key was never rotated: {report}"));
    assert_eq!(rotated["status"], 200, "{report}");
    for phase in ["first", "afterRefresh"] {
        let tools = report[phase]["tools"].as_array().map_or(0, Vec::len);
        assert_eq!(tools, 12, "{phase}: {report}\n{logs}");
    }
    assert_eq!(report["refreshed"], true, "{report}");
}

/// `IDENTITY_HEADER_KEY` rotation, the order Kubernetes may restart the two containers in: the
/// tool server first learns the new key while accepting the old, then the proxy signs with the
/// new key, then the old one is dropped. A logged-in client calls tools at every step.
#[tokio::test]
async fn the_identity_key_rotates_with_a_client_calling_tools_throughout() {
    const NEW_IDENTITY_KEY: &str = "the-next-identity-header-key-0123456789abcdef";
    let mut stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &stack.proxy.public_url).await;
    let mcp_url = stack.proxy.mcp_url.clone();
    let calls = |step: &'static str| {
        let (http, mcp_url, token) = (http.clone(), mcp_url.clone(), tokens.access_token.clone());
        async move {
            let mut client = ProxiedMcp::new(&http, &mcp_url, Credential::Bearer(token));
            assert_eq!(client.initialize().await.status, 200, "{step}");
            let answer = client.call("get_current_time", serde_json::json!({})).await;
            assert!(answer.get("result").is_some(), "{step}: {answer}");
        }
    };
    calls("before").await;
    let okta = &stack.okta;
    stack
        .tool_server
        .restart_with(
            okta,
            &[
                ("IDENTITY_HEADER_KEY", NEW_IDENTITY_KEY),
                (
                    "IDENTITY_HEADER_KEYS_PREVIOUS",
                    okta_mcp_tests::harness::TEST_IDENTITY_KEY,
                ),
            ],
        )
        .await;
    calls("tool server knows both keys, proxy signs with the old").await;
    stack
        .proxy
        .restart_with(&[("IDENTITY_HEADER_KEY", NEW_IDENTITY_KEY)])
        .await;
    calls("proxy signs with the new key").await;
    stack
        .tool_server
        .restart_with(okta, &[("IDENTITY_HEADER_KEY", NEW_IDENTITY_KEY)])
        .await;
    calls("old key dropped").await;

    // A proxy still on the old key is refused once the old key is gone.
    stack
        .proxy
        .restart_with(&[(
            "IDENTITY_HEADER_KEY",
            okta_mcp_tests::harness::TEST_IDENTITY_KEY,
        )])
        .await;
    let mut stale = ProxiedMcp::new(&http, &mcp_url, Credential::Bearer(tokens.access_token));
    assert_eq!(stale.initialize().await.status, 401);
}
