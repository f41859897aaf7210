//! The proxy's state survives a SIGKILL: registrations, refresh tokens, consents and
//! revocations are in the embedded store (`STATE_DIR`), so a restart loses nothing a client was
//! told. Real processes: fake-okta, okta-mcp-tool-server, okta-mcp-proxy (killed and started
//! again on the same port and state directory), the TypeScript SDK client and plain HTTP.

use std::sync::Arc;

use axum::routing::post;
use okta_mcp_tests::harness::{Stack, free_port, node_client, serve_hook};
use okta_mcp_tests::oauth_flow::{Browser, OAuthClient, Pkce, ProxiedMcp, manual_redirect_client};
use serde_json::Value;
use tokio::sync::Mutex;

fn tools(report: &Value, key: &str) -> usize {
    report[key]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}.tools in {report}"))
        .len()
}

/// Serves `POST /restart` on a free loopback port: SIGKILLs the stack's proxy and starts it
/// again, answering once it is ready. The SDK client calls it between its tool calls.
async fn restart_hook(stack: Arc<Mutex<Stack>>) -> String {
    let app = axum::Router::new().route(
        "/restart",
        post(move || {
            let stack = stack.clone();
            async move {
                stack.lock().await.proxy.kill_and_restart().await;
                "restarted"
            }
        }),
    );
    format!("{}/restart", serve_hook(app).await)
}

#[tokio::test]
async fn an_sdk_client_keeps_its_registration_and_refresh_token_across_a_sigkill() {
    let stack = Stack::start(&[("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    stack.auto_login("alice@example.com").await;
    let mcp_url = stack.proxy.mcp_url.clone();
    let stack = Arc::new(Mutex::new(stack));
    let hook = restart_hook(stack.clone()).await;
    // Logs in, calls tools, has the proxy killed and restarted, waits for its access token to
    // expire, then calls again: the SDK refreshes with the token issued before the kill.
    let report = node_client("sdk-flow.mjs", &[&mcp_url, "refresh", &hook, "{}"]).await;
    let stack = stack.lock().await;
    let logs = stack.proxy.process.logs();
    assert!(report.get("error").is_none(), "{report}\n{logs}");
    let hook_step = report["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["name"] == "hook"))
        .unwrap_or_else(|| panic!("the proxy was never restarted: {report}"));
    assert_eq!(hook_step["status"], 200, "{report}");
    assert_eq!(tools(&report, "first"), 12, "{report}");
    assert_eq!(tools(&report, "afterRefresh"), 12, "{report}\n{logs}");
    assert_eq!(report["refreshed"], true, "{report}");
    // Rotation bookkeeping survived too: replaying the pre-restart refresh token is reuse.
    assert_eq!(report["reuse"]["status"], 400, "{report}");
    assert_eq!(report["currentTokenAfterReuse"], 401, "{report}");
    assert!(
        logs.contains("embedded store"),
        "the default store is the state file: {logs}"
    );
}

#[tokio::test]
async fn consent_and_revocations_survive_a_sigkill() {
    let mut stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let public = stack.proxy.public_url.clone();
    let client = OAuthClient::register(&http, &public, &["http://127.0.0.1:9/callback"]).await;
    let browser = Browser::new(http.clone());
    let pkce = Pkce::new();

    // First time: the consent page is shown (200), approved, and the code redeemed.
    let authorize = client.authorize_url(&client.redirect_uri, &pkce, "s1");
    assert_eq!(browser.get(&authorize).await.status(), 200, "consent page");
    let code = client
        .authorize(&browser, &client.redirect_uri, &pkce)
        .await;
    let (status, body) = client
        .exchange(&http, &code, &pkce.verifier, &client.redirect_uri)
        .await;
    assert_eq!(status, 200, "{body}");
    let revoked = body["access_token"].as_str().expect("token").to_owned();
    let (_, second) = {
        let pkce = Pkce::new();
        let code = client
            .authorize(&browser, &client.redirect_uri, &pkce)
            .await;
        client
            .exchange(&http, &code, &pkce.verifier, &client.redirect_uri)
            .await
    };
    let kept = second["access_token"].as_str().expect("token").to_owned();

    // Revoke one access token (RFC 7009), then kill the proxy and start it again.
    client.revoke_at(&public, &revoked).await;
    let mcp_url = stack.proxy.mcp_url.clone();
    assert_eq!(ProxiedMcp::bearer_status(&mcp_url, &revoked).await, 401);
    stack.proxy.kill_and_restart().await;

    // The revoked token stays revoked; the other one still works.
    assert_eq!(
        ProxiedMcp::bearer_status(&mcp_url, &revoked).await,
        401,
        "revocation survived"
    );
    assert_eq!(ProxiedMcp::bearer_status(&mcp_url, &kept).await, 200);
    // The same browser and client: no consent page this time, straight on to Okta.
    let pkce = Pkce::new();
    let again = browser
        .get(&client.authorize_url(&client.redirect_uri, &pkce, "s2"))
        .await;
    assert_eq!(again.status(), 302, "consent remembered across the restart");
    let location = again
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.starts_with(&stack.okta.url), "to Okta: {location}");
}

#[tokio::test]
async fn a_corrupt_state_file_stops_start_up_with_a_message_naming_it() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("proxy.redb");
    std::fs::write(&file, b"this is not a redb file").expect("write");
    let okta = okta_mcp_tests::harness::FakeOkta::start_oidc("http://127.0.0.1:9/oauth/callback");
    let mut command = okta_mcp_tests::harness::proxy_command(
        &okta.url,
        "http://127.0.0.1:9/mcp",
        "http://127.0.0.1:9",
    );
    command
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("STATE_DIR", dir.path());
    let mut proxy = okta_mcp_tests::harness::start_process(command);
    let exit = proxy
        .wait_exit(std::time::Duration::from_secs(10))
        .await
        .expect("exits");
    assert!(!exit.success());
    let logs = proxy.logs();
    assert!(logs.contains(&file.display().to_string()), "{logs}");
    assert!(logs.contains("cannot be read"), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
    assert_eq!(
        std::fs::read(&file).expect("still there"),
        b"this is not a redb file",
        "nothing was overwritten"
    );
}

#[tokio::test]
async fn bad_store_and_peer_settings_stop_start_up_with_a_message_saying_what_to_fix() {
    let okta = okta_mcp_tests::harness::FakeOkta::start_oidc("http://127.0.0.1:9/oauth/callback");
    let blocker = tempfile::NamedTempFile::new().expect("file");
    let blocked_dir = blocker.path().join("state");
    let running = Stack::start(&[]).await;
    let in_use = running
        .proxy
        .state_dir
        .as_ref()
        .expect("state dir")
        .path()
        .display()
        .to_string();
    let cases: [(&[(&str, &str)], &str); 6] = [
        (&[("STORE_URL", "http://127.0.0.1:6379")], "redis://"),
        (&[("STORE_URL", "not a url")], "STORE_URL"),
        (
            &[("STATE_DIR", &blocked_dir.display().to_string())],
            "STATE_DIR",
        ),
        (&[("STATE_DIR", &in_use)], "in use"),
        (
            &[
                ("PEER_LISTEN", "127.0.0.1:0"),
                ("PEER_ADDRESS", "127.0.0.1:1"),
            ],
            "--store-url",
        ),
        (
            &[
                ("STORE_URL", "redis://127.0.0.1:9"),
                ("PEER_LISTEN", "127.0.0.1:0"),
                ("PEER_ADDRESS", "no port here"),
            ],
            "PEER_ADDRESS",
        ),
    ];
    for (env, expected) in cases {
        let mut command = okta_mcp_tests::harness::proxy_command(
            &okta.url,
            "http://127.0.0.1:9/mcp",
            "http://127.0.0.1:9",
        );
        command.args(["--listen", &format!("127.0.0.1:{}", free_port())]);
        for (k, v) in env {
            command.env(k, v);
        }
        let mut proxy = okta_mcp_tests::harness::start_process(command);
        let exit = proxy
            .wait_exit(std::time::Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("{env:?}: still running"));
        assert!(!exit.success(), "{env:?}");
        let logs = proxy.wait_for_log(expected).await;
        assert!(!logs.contains("panicked"), "{env:?}: {logs}");
    }
}

#[tokio::test]
async fn a_sigkill_in_the_middle_of_a_registration_flood_loses_no_acknowledged_registration() {
    // As many registrations as the proxy takes: no budget per source.
    let mut stack = Stack::start(&[("ANONYMOUS_REQUESTS_PER_MINUTE", "0")]).await;
    let public = stack.proxy.public_url.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (public, stop) = (public.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let http = okta_mcp_tests::harness::http_client();
            let mut acknowledged = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let answer = http
                    .post(format!("{public}/register"))
                    .json(&serde_json::json!({
                        "client_name": format!("flood {writer}-{n}"),
                        "redirect_uris": ["http://127.0.0.1:9/callback"],
                        "token_endpoint_auth_method": "none",
                    }))
                    .send()
                    .await;
                match answer {
                    Ok(answer) if answer.status() == 201 => {
                        let body: Value = answer.json().await.expect("json");
                        acknowledged.push(body["client_id"].as_str().expect("id").to_owned());
                    }
                    // Refused connections while the proxy is down; a cut answer is not an
                    // acknowledgement.
                    _ => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                }
            }
            acknowledged
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    stack.proxy.kill_and_restart().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.expect("writer"));
    }
    assert!(
        acknowledged.len() > 50,
        "only {} registrations",
        acknowledged.len()
    );
    eprintln!(
        "{} registrations acknowledged around the SIGKILL",
        acknowledged.len()
    );
    // Every client the proxy acknowledged (201) before or after the kill is known: /authorize
    // shows its consent page, where an unknown client gets the "unknown app" page.
    let http = manual_redirect_client();
    let pkce = Pkce::new();
    let mut lost = Vec::new();
    for client_id in &acknowledged {
        let client = OAuthClient {
            public_url: public.clone(),
            client_id: client_id.clone(),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
        };
        let answer = http
            .get(client.authorize_url(&client.redirect_uri, &pkce, "s"))
            .send()
            .await
            .expect("authorize");
        if answer.status() != 200 {
            lost.push(client_id.clone());
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged registrations lost",
        lost.len(),
        acknowledged.len()
    );
}
