//! The proxy's own Okta login, as strict as Okta allows (README, "The proxy's Okta login"):
//! `private_key_jwt`, DPoP, PAR, RFC 9207 `iss`, `OKTA_LOGIN_SCOPES` and userinfo failures,
//! each against the fake org in the matching mode, each with the case that must fail.

use std::time::Duration;

use okta_mcp_tests::harness::{
    FakeOkta, Proxy, TEST_CLIENT_ID, TEST_CLIENT_SECRET, ToolServer, free_port, http_client,
    service_app_key,
};
use okta_mcp_tests::oauth_flow::{Browser, Credential, ProxiedMcp, log_in, manual_redirect_client};
use serde_json::{Value, json};

/// The fake org with the proxy's app in `flags` mode, a tool server and the proxy with
/// `env`; Alice logs in without a page.
struct LoginStack {
    okta: FakeOkta,
    _tool_server: ToolServer,
    proxy: Proxy,
}

/// Fake org flags for the proxy's app at `port`, with its secret unless `with_secret` is false.
fn app_flags(port: u16, with_secret: bool, extra: &[&str]) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--client-id",
        TEST_CLIENT_ID,
        "--redirect-uri",
        &format!("http://127.0.0.1:{port}/oauth/callback"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if with_secret {
        flags.extend(["--client-secret".to_owned(), TEST_CLIENT_SECRET.to_owned()]);
    }
    flags.extend(extra.iter().map(|s| s.to_string()));
    flags
}

fn start_okta(flags: &[String]) -> FakeOkta {
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    FakeOkta::start(&flags)
}

async fn controls(okta: &FakeOkta, body: Value) {
    let response = http_client()
        .post(format!("{}/__fake/oidc", okta.url))
        .json(&body)
        .send()
        .await
        .expect("POST /__fake/oidc");
    assert!(
        response.status().is_success(),
        "{body}: {}",
        response.status()
    );
}

impl LoginStack {
    async fn start(with_secret: bool, okta_flags: &[&str], env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let okta = start_okta(&app_flags(port, with_secret, okta_flags));
        okta.auto_login("alice@example.com").await;
        let tool_server = ToolServer::start(&okta, &[]).await;
        let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, env).await;
        Self {
            okta,
            _tool_server: tool_server,
            proxy,
        }
    }

    /// A client logs in through the proxy, lists tools and refreshes; the refreshed token works.
    async fn log_in_and_use_tools(&self) {
        let http = manual_redirect_client();
        let tokens = log_in(&http, &self.proxy.public_url).await;
        let mut mcp = ProxiedMcp::new(
            &http,
            &self.proxy.mcp_url,
            Credential::Bearer(tokens.access_token.clone()),
        );
        assert!(!mcp.tool_names().await.is_empty(), "no tools after login");
        // The refresh goes to Okta again (groups are re-read), with the same client auth.
        let refresh = tokens.refresh_token.expect("a refresh token");
        let (status, body) = tokens
            .client
            .token(
                &http,
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", tokens.client.client_id.as_str()),
                    ("refresh_token", refresh.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 200, "refresh: {body}");
        let mut mcp = ProxiedMcp::new(
            &http,
            &self.proxy.mcp_url,
            Credential::Bearer(body["access_token"].as_str().expect("token").to_owned()),
        );
        assert!(!mcp.tool_names().await.is_empty(), "no tools after refresh");
    }

    /// A browser login (`/oauth/login`) that must fail: the status and page of where it ends.
    async fn failed_browser_login(&self) -> (u16, String) {
        failed_login(&self.proxy.public_url).await
    }
}

/// Follows `/oauth/login` through Okta back to the proxy and returns the first answer that is
/// not a redirect.
async fn failed_login(public_url: &str) -> (u16, String) {
    let browser = Browser::default();
    let mut url = format!("{public_url}/oauth/login");
    for _ in 0..6 {
        let response = browser.get(&url).await;
        let status = response.status().as_u16();
        if !matches!(status, 302 | 303) {
            return (status, response.text().await.unwrap_or_default());
        }
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("Location")
            .to_owned();
        assert_ne!(location, "/", "the login succeeded");
        url = url::Url::parse(&url)
            .and_then(|base| base.join(&location))
            .expect("Location is a URL")
            .to_string();
    }
    panic!("too many redirects from {public_url}/oauth/login");
}

#[tokio::test]
async fn private_key_jwt_logs_in_refreshes_and_never_logs_the_key() {
    let key = service_app_key();
    let jwks = key.public_jwk.display().to_string();
    let pem = key.private_pem.display().to_string();
    let stack = LoginStack::start(
        false,
        &["--client-jwks-file", &jwks],
        &[("OKTA_CLIENT_SECRET", ""), ("OKTA_CLIENT_KEY_FILE", &pem)],
    )
    .await;
    stack.log_in_and_use_tools().await;
    let logs = stack.proxy.process.logs();
    assert!(logs.contains("private_key_jwt"), "{logs}");
    let body: String = key
        .pem_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for line in key.pem_text.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !logs.contains(line),
            "a line of the client key is in the logs"
        );
    }
    assert!(!logs.contains(&body));
    assert!(!logs.contains("PRIVATE KEY"), "{logs}");
}

#[tokio::test]
async fn a_secret_and_a_key_together_or_neither_stop_the_start() {
    let key = service_app_key();
    let pem = key.private_pem.display().to_string();
    let port = free_port();
    let okta = start_okta(&app_flags(port, true, &[]));
    let tool_server = ToolServer::start(&okta, &[]).await;
    for (env, says) in [
        (
            vec![("OKTA_CLIENT_KEY_FILE", pem.as_str())],
            "both OKTA_CLIENT_SECRET and OKTA_CLIENT_KEY_FILE are set",
        ),
        (
            vec![("OKTA_CLIENT_SECRET", "")],
            "neither OKTA_CLIENT_SECRET nor OKTA_CLIENT_KEY_FILE is set",
        ),
    ] {
        let mut process = Proxy::spawn_unready(&okta, port, &tool_server.mcp_url, &env);
        let status = process
            .wait_exit(Duration::from_secs(10))
            .await
            .expect("the proxy stops at start-up");
        assert!(!status.success());
        let logs = process.logs();
        assert!(logs.contains(says), "{logs}");
        assert!(!logs.contains(&key.pem_text), "{logs}");
    }
    // A key that is not PKCS#8 says what to do.
    let dir = tempfile::tempdir().expect("dir");
    let pkcs1 = dir.path().join("pkcs1.pem");
    std::fs::write(
        &pkcs1,
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    )
    .expect("write");
    let pkcs1 = pkcs1.display().to_string();
    let mut process = Proxy::spawn_unready(
        &okta,
        port,
        &tool_server.mcp_url,
        &[("OKTA_CLIENT_SECRET", ""), ("OKTA_CLIENT_KEY_FILE", &pkcs1)],
    );
    assert!(process.wait_exit(Duration::from_secs(10)).await.is_some());
    let logs = process.logs();
    assert!(
        logs.contains("OKTA_CLIENT_KEY_FILE") && logs.contains("PKCS#8"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_key_okta_does_not_know_fails_the_login_with_a_page() {
    let registered = service_app_key();
    let other = service_app_key();
    let jwks = registered.public_jwk.display().to_string();
    let pem = other.private_pem.display().to_string();
    let stack = LoginStack::start(
        false,
        &["--client-jwks-file", &jwks],
        &[("OKTA_CLIENT_SECRET", ""), ("OKTA_CLIENT_KEY_FILE", &pem)],
    )
    .await;
    let (status, page) = stack.failed_browser_login().await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("could not be completed"), "{page}");
    stack
        .proxy
        .process
        .wait_for_log("The client_assertion signature is invalid.")
        .await;
    // And a secret is refused by an app that uses private_key_jwt.
    let port = free_port();
    let okta = start_okta(&app_flags(port, false, &["--client-jwks-file", &jwks]));
    okta.auto_login("alice@example.com").await;
    let tool_server = ToolServer::start(&okta, &[]).await;
    let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, &[]).await;
    let (status, _) = failed_login(&proxy.public_url).await;
    assert_eq!(status, 502);
    proxy
        .process
        .wait_for_log("this client authenticates with private_key_jwt")
        .await;
}

#[tokio::test]
async fn dpop_binds_okta_tokens_and_userinfo_uses_them() {
    let stack = LoginStack::start(true, &["--require-dpop"], &[("OKTA_DPOP", "true")]).await;
    // Without groups in the ID token, userinfo must be asked with DPoP + ath (and a nonce).
    controls(&stack.okta, json!({"groups_in_id_token": false})).await;
    stack.log_in_and_use_tools().await;
}

#[tokio::test]
async fn without_okta_dpop_a_dpop_app_fails_and_the_log_says_why() {
    let stack = LoginStack::start(true, &["--require-dpop"], &[]).await;
    let (status, page) = stack.failed_browser_login().await;
    assert_eq!(status, 502, "{page}");
    stack
        .proxy
        .process
        .wait_for_log("Okta requires DPoP for this app: set OKTA_DPOP=true")
        .await;
}

#[tokio::test]
async fn par_sends_the_browser_with_a_request_uri_only() {
    // No OKTA_PAR: discovery's require_pushed_authorization_requests turns it on.
    let stack = LoginStack::start(true, &["--require-par"], &[]).await;
    let browser = Browser::default();
    let response = browser
        .get(&format!("{}/oauth/login", stack.proxy.public_url))
        .await;
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a redirect to Okta")
        .to_owned();
    let to_okta = url::Url::parse(&location).expect("URL");
    let names: Vec<String> = to_okta.query_pairs().map(|(k, _)| k.into_owned()).collect();
    assert_eq!(names, ["client_id", "request_uri"], "{location}");
    stack.log_in_and_use_tools().await;

    // With OKTA_PAR=true against an org that does not require it, PAR is used as well.
    let stack = LoginStack::start(true, &[], &[("OKTA_PAR", "true")]).await;
    let response = Browser::default()
        .get(&format!("{}/oauth/login", stack.proxy.public_url))
        .await;
    let location = response.headers()["location"].to_str().expect("Location");
    assert!(location.contains("request_uri="), "{location}");
    assert!(!location.contains("code_challenge"), "{location}");
    stack.log_in_and_use_tools().await;
}

#[tokio::test]
async fn an_authorization_response_from_another_issuer_or_none_is_refused() {
    let stack = LoginStack::start(true, &[], &[]).await;
    controls(
        &stack.okta,
        json!({"authorize_iss": "https://evil.example"}),
    )
    .await;
    let (status, page) = stack.failed_browser_login().await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("names another issuer"), "{page}");
    // Okta's discovery says it always sends iss: an answer without one is refused too.
    controls(&stack.okta, json!({"authorize_iss": null})).await;
    let (status, page) = stack.failed_browser_login().await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("names no issuer"), "{page}");
    stack.proxy.process.wait_for_log("RFC 9207 iss").await;
}

#[tokio::test]
async fn a_scope_the_issuer_does_not_offer_keeps_the_proxy_unready() {
    let port = free_port();
    let okta = start_okta(&app_flags(
        port,
        true,
        &["--scopes-supported", "openid,profile,email,offline_access"],
    ));
    let tool_server = ToolServer::start(&okta, &[]).await;
    let process = Proxy::spawn_unready(&okta, port, &tool_server.mcp_url, &[]);
    let needle = format!(
        "OKTA_LOGIN_SCOPES: {} does not offer scope \"groups\"",
        okta.url
    );
    for _ in 0..100 {
        if process.logs().contains(&needle) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let logs = process.logs();
    assert!(logs.contains(&needle), "{logs}");
    let ready = http_client()
        .get(format!("http://127.0.0.1:{port}/ready"))
        .send()
        .await
        .expect("GET /ready");
    assert_ne!(ready.status(), 200);
}

#[tokio::test]
async fn a_userinfo_failure_is_logged_with_its_status() {
    let stack = LoginStack::start(true, &[], &[]).await;
    controls(
        &stack.okta,
        json!({"groups_in_id_token": false, "userinfo_status": 500}),
    )
    .await;
    let (status, page) = stack.failed_browser_login().await;
    assert_eq!(status, 502, "{page}");
    let logs = stack
        .proxy
        .process
        .wait_for_log("Okta userinfo failed: HTTP 500")
        .await;
    assert!(!logs.contains("eyJ"), "a token is in the logs");
}
