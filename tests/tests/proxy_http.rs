//! The proxy's refusals and transport, end to end through real processes: fake-okta (with its
//! OIDC half), okta-mcp-tool-server and okta-mcp-proxy, driven over HTTP by a Rust OAuth client
//! (`okta_mcp_tests::oauth_flow`). Each test asserts what a client or a user would notice:
//! status codes, RFC error codes, challenges, headers, bodies, tool lists, log lines.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use okta_mcp_tests::fake_okta::dataset::ALICE_ID;
use okta_mcp_tests::harness::{
    FakeOkta, Process, Stack, ToolServer, WrapStack, everything_server_command, free_port,
    http_client, proxy_command, read_response, start_process,
};
use okta_mcp_tests::oauth_flow::{
    Browser, Credential, OAuthClient, Pkce, ProxiedMcp, Tokens, json_of, log_in,
    manual_redirect_client, okta_tokens,
};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// A header's value as text ("" when absent).
fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The challenge that starts discovery at the proxy `public`.
fn bare_challenge(public: &str) -> String {
    format!("Bearer resource_metadata=\"{public}/.well-known/oauth-protected-resource/mcp\"")
}

/// `body` is a JSON-RPC error answer (what MCP clients can show), with `code`.
fn assert_jsonrpc_error(body: &str, code: i64) {
    let value: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(value["jsonrpc"], "2.0", "{body}");
    assert_eq!(value["error"]["code"], code, "{body}");
    assert!(value["error"]["message"].is_string(), "{body}");
}

/// A JSON-RPC request body.
fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

const LOOPBACK_CB: &str = "http://127.0.0.1:9/cb";

/// A stack with alice logged in through the real flow: the stack, the client, her tokens.
async fn alice_logged_in(proxy_env: &[(&str, &str)]) -> (Stack, reqwest::Client, Tokens) {
    let stack = Stack::start(proxy_env).await;
    stack.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &stack.proxy.public_url).await;
    (stack, http, tokens)
}

/// The pinned everything server behind `okta-mcp-tool-server wrap` behind the proxy: `serve`
/// keeps no MCP sessions and answers plain JSON, so sessions and SSE are tested through this.
async fn wrap_stack() -> WrapStack {
    WrapStack::start(
        "policies/everything.toml",
        &[],
        &everything_server_command(),
    )
    .await
}

/// A client of `stack`'s proxy with a bearer token for `email`, logged in through the real flow.
async fn logged_in_at(stack: &WrapStack, email: &str) -> ProxiedMcp {
    stack.okta.auto_login(email).await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &stack.proxy.public_url).await;
    ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    )
}

#[tokio::test]
async fn without_credentials_mcp_answers_401_with_the_resource_metadata_challenge() {
    let stack = Stack::start(&[]).await;
    let public = stack.proxy.public_url.as_str();
    let http = http_client();

    // The TypeScript SDK's first request: initialize, no token, no protocol-version header.
    let answer = ProxiedMcp::new(&http, &stack.proxy.mcp_url, Credential::None)
        .initialize()
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        header(&answer.headers, "www-authenticate"),
        bare_challenge(public)
    );
    assert_jsonrpc_error(&answer.body, -32001);

    // The Python client's first request: a 2026-07-28 `server/discover` probe. It must get the
    // same challenge, or it never starts the OAuth flow.
    let probe = http
        .post(&stack.proxy.mcp_url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "server/discover")
        .body(rpc(1, "server/discover", json!({})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 401);
    assert_eq!(
        header(probe.headers(), "www-authenticate"),
        bare_challenge(public)
    );
    assert_jsonrpc_error(&probe.text().await.unwrap(), -32001);

    // The standalone SSE stream and DELETE are guarded the same way.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let response = http
            .request(method.clone(), &stack.proxy.mcp_url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{method}");
        assert_eq!(
            header(response.headers(), "www-authenticate"),
            bare_challenge(public)
        );
    }

    // Protected-resource metadata (the Python client sends its version header here too).
    let mut authorization_server = String::new();
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let (status, prm) = json_of(
            http.get(format!("{public}{path}"))
                .header("mcp-protocol-version", "2026-07-28")
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{path}: {prm}");
        assert_eq!(prm["resource"], format!("{public}/mcp"), "{path}");
        assert_eq!(prm["authorization_servers"], json!([public]), "{path}");
        authorization_server = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let response = http
            .get(format!("{public}{path}"))
            .header("mcp-protocol-version", "2026-07-28")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let text = response.text().await.unwrap();
        // Byte for byte, as the Python client compares it: no trailing slash, no escaping.
        assert!(
            text.contains(&format!("\"issuer\":\"{authorization_server}\"")),
            "{path}: {text}"
        );
        let asm: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(asm["issuer"], authorization_server.as_str());
        assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(asm["authorization_endpoint"], format!("{public}/authorize"));
        assert_eq!(asm["token_endpoint"], format!("{public}/token"));
        assert_eq!(asm["registration_endpoint"], format!("{public}/register"));
    }
}

/// `/authorize?…` for `client` with exactly `params` (so tests can leave any out).
fn authorize_with(client: &OAuthClient, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{}/authorize", client.public_url)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .extend_pairs(params);
    url.to_string()
}

#[tokio::test]
async fn authorization_requests_are_checked_before_anything_is_shown() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.as_str();
    let http = manual_redirect_client();
    let client = OAuthClient::register(&http, public, &[LOOPBACK_CB]).await;
    let pkce = Pkce::new();

    // A redirect URI the client did not register: a page, never a redirect (open redirector).
    for unregistered in [
        "https://evil.example.com/cb",
        "http://127.0.0.1:9/other",
        "http://localhost:9/cb",
    ] {
        let response = http
            .get(client.authorize_url(unregistered, &pkce, "s"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{unregistered}");
        assert!(
            response.headers().get("location").is_none(),
            "{unregistered}: must not redirect"
        );
        assert!(header(response.headers(), "content-type").starts_with("text/html"));
        let html = response.text().await.unwrap();
        assert!(html.contains("redirect URI"), "{html}");
        assert!(!html.contains("evil.example.com"), "{html}");
    }

    // Loopback registered on port 9, used on another port (RFC 8252 §7.3): allowed, and the
    // code goes to that port and is redeemed with that same URI.
    let any_port = "http://127.0.0.1:45678/cb";
    let code = client.authorize(&Browser::default(), any_port, &pkce).await;
    let (status, body) = client
        .exchange(&http, &code, &pkce.verifier, any_port)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");

    // Once client and redirect URI are known good, errors go back to the client.
    let resource = client.resource();
    let (verifier, challenge) = (pkce.verifier.as_str(), pkce.challenge.as_str());
    let cases = [
        ("no PKCE", vec![], "invalid_request"),
        (
            "plain PKCE",
            vec![
                ("code_challenge", verifier),
                ("code_challenge_method", "plain"),
            ],
            "invalid_request",
        ),
        (
            "challenge without method",
            vec![("code_challenge", challenge), ("resource", &resource)],
            "invalid_request",
        ),
        (
            "another server's resource",
            vec![
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("resource", "https://other.example.com/mcp"),
            ],
            "invalid_target",
        ),
    ];
    for (what, extra, expected) in cases {
        let mut params = vec![
            ("response_type", "code"),
            ("redirect_uri", LOOPBACK_CB),
            ("state", "xyz"),
        ];
        params.extend(extra);
        let response = http
            .get(authorize_with(&client, &params))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302, "{what}");
        let location = url::Url::parse(header(response.headers(), "location")).unwrap();
        assert!(
            location.as_str().starts_with(LOOPBACK_CB),
            "{what}: {location}"
        );
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        assert_eq!(param("error").as_deref(), Some(expected), "{what}");
        assert_eq!(param("state").as_deref(), Some("xyz"), "{what}");
        assert_eq!(param("iss").as_deref(), Some(public), "{what}");
        assert!(param("code").is_none(), "{what}");
    }
}

#[tokio::test]
async fn bad_registrations_are_refused_with_rfc_7591_errors() {
    let stack = Stack::start(&[]).await;
    let register = format!("{}/register", stack.proxy.public_url);
    let http = http_client();
    for uri in [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "http://app.example.com/callback",
        "https://app.example.com/callback#fragment",
    ] {
        let response = http
            .post(&register)
            .json(&json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .send()
            .await
            .unwrap();
        assert_eq!(header(response.headers(), "cache-control"), "no-store");
        let (status, body) = json_of(response).await;
        assert_eq!(status, 400, "{uri}: {body}");
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}: {body}");
        assert!(body["error_description"].is_string());
    }
    for junk in [
        "{not json",
        "[]",
        "{}",
        r#"{"redirect_uris": "https://app.example.com/cb"}"#,
        r#"{"redirect_uris": ["https://app.example.com/cb"], "grant_types": ["password"]}"#,
    ] {
        let (status, body) = json_of(
            http.post(&register)
                .header("content-type", "application/json")
                .body(junk)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 400, "{junk}: {body}");
        assert_eq!(body["error"], "invalid_client_metadata", "{junk}: {body}");
    }
    // The same endpoint takes a good registration.
    let (status, body) = json_of(
        http.post(&register)
            .json(&json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn codes_are_refused_for_a_wrong_verifier_another_redirect_an_unknown_client_or_reuse() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let client = OAuthClient::register(
        &http,
        &stack.proxy.public_url,
        &[LOOPBACK_CB, "https://app.example.com/cb"],
    )
    .await;
    let browser = Browser::default();

    // Wrong PKCE verifier. The failed attempt spends the code, so guessing cannot go on.
    let pkce = Pkce::new();
    let code = client.authorize(&browser, LOOPBACK_CB, &pkce).await;
    let (status, body) = client
        .exchange(&http, &code, &Pkce::new().verifier, LOOPBACK_CB)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = client
        .exchange(&http, &code, &pkce.verifier, LOOPBACK_CB)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // A redirect URI at /token other than the one at /authorize (another registered one, or
    // the same loopback URI on another port).
    for (at_authorize, at_token) in [
        ("https://app.example.com/cb", LOOPBACK_CB),
        ("http://127.0.0.1:5555/cb", LOOPBACK_CB),
    ] {
        let pkce = Pkce::new();
        let code = client.authorize(&browser, at_authorize, &pkce).await;
        let (status, body) = client
            .exchange(&http, &code, &pkce.verifier, at_token)
            .await;
        assert_eq!(status, 400, "{at_authorize} → {at_token}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }

    // An unknown client.
    let pkce = Pkce::new();
    let code = client.authorize(&browser, LOOPBACK_CB, &pkce).await;
    let stranger = OAuthClient {
        client_id: "no-such-client".into(),
        ..client.clone()
    };
    let (status, body) = stranger
        .exchange(&http, &code, &pkce.verifier, LOOPBACK_CB)
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");

    // A code used twice: refused, and what its first use got stops working.
    let pkce = Pkce::new();
    let code = client.authorize(&browser, LOOPBACK_CB, &pkce).await;
    let (status, first) = client
        .exchange(&http, &code, &pkce.verifier, LOOPBACK_CB)
        .await;
    assert_eq!(status, 200, "{first}");
    let access = first["access_token"].as_str().unwrap();
    let refresh = first["refresh_token"].as_str().expect("a refresh token");
    let bearer = || {
        ProxiedMcp::new(
            &http,
            &stack.proxy.mcp_url,
            Credential::Bearer(access.into()),
        )
    };
    assert_eq!(bearer().initialize().await.status, 200);
    let (status, body) = client
        .exchange(&http, &code, &pkce.verifier, LOOPBACK_CB)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refused = bearer().initialize().await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert!(header(&refused.headers, "www-authenticate").contains("error=\"invalid_token\""));
    let client_id = client.client_id.as_str();
    let (status, body) = client
        .token(
            &http,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", refresh),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn an_expired_access_token_is_invalid_token() {
    let (stack, http, tokens) = alice_logged_in(&[("ACCESS_TOKEN_TTL_SECS", "1")]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answer = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    )
    .initialize()
    .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    let challenge = header(&answer.headers, "www-authenticate");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            stack.proxy.public_url
        )),
        "{challenge}"
    );
    assert_jsonrpc_error(&answer.body, -32001);
}

#[tokio::test]
async fn a_token_minted_by_another_proxy_with_the_same_secret_is_refused() {
    // Both proxies share the test session secret, so only the audience (and issuer) differ.
    let (here, there) = tokio::join!(Stack::start(&[]), Stack::start(&[]));
    there.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &there.proxy.public_url).await;
    let at = |stack: &Stack| {
        ProxiedMcp::new(
            &http,
            &stack.proxy.mcp_url,
            Credential::Bearer(tokens.access_token.clone()),
        )
    };
    assert_eq!(at(&there).initialize().await.status, 200);
    let refused = at(&here).initialize().await;
    assert_eq!(refused.status, 401, "{refused:?}");
    let challenge = header(&refused.headers, "www-authenticate");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert!(challenge.contains(&here.proxy.public_url), "{challenge}");
    assert_jsonrpc_error(&refused.body, -32001);
}

#[tokio::test]
async fn okta_tokens_are_not_accepted_at_mcp() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("carol@example.com").await;
    // Tokens for the proxy's own Okta app, straight from the org's token endpoint.
    let okta = okta_tokens(
        &stack.okta.url,
        &format!("{}/oauth/callback", stack.proxy.public_url),
    )
    .await;
    let http = http_client();
    for kind in ["id_token", "access_token"] {
        let token = okta[kind]
            .as_str()
            .unwrap_or_else(|| panic!("{kind}: {okta}"));
        let answer = ProxiedMcp::new(
            &http,
            &stack.proxy.mcp_url,
            Credential::Bearer(token.into()),
        )
        .initialize()
        .await;
        assert_eq!(answer.status, 401, "{kind}: {answer:?}");
        assert!(
            header(&answer.headers, "www-authenticate").contains("error=\"invalid_token\""),
            "{kind}"
        );
        assert_jsonrpc_error(&answer.body, -32001);
    }
}

/// Logs `browser` in through `/oauth/login` (the fake org's auto-login user); the session
/// cookie's value.
async fn browser_login(browser: &Browser, public: &str, cookie_name: &str) -> String {
    let back = browser
        .follow(&format!("{public}/oauth/login"), |url| url.path() == "/")
        .await;
    assert_eq!(back.as_str(), format!("{public}/"));
    browser
        .cookie(public, cookie_name)
        .unwrap_or_else(|| panic!("no {cookie_name} cookie: {:?}", browser.set_cookie_lines()))
}

/// Sets the groups the fake org gives `user` from now on (`null`: the dataset's own).
async fn set_okta_groups(stack: &Stack, user: &str, groups: Value) {
    let answer = http_client()
        .post(format!("{}/__fake/users/{user}/groups", stack.okta.url))
        .json(&json!({ "groups": groups }))
        .send()
        .await
        .expect("set groups");
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// Security review: a session cookie kept its role for its 8 hours after Okta removed the
/// user from the granting group. Now the role is re-read from Okta on the access-token
/// schedule, a promotion shows up, and a removal ends the session for good.
#[tokio::test]
async fn a_session_cookie_follows_okta_group_changes_on_the_refresh_schedule() {
    let stack = Stack::start(&[("ACCESS_TOKEN_TTL_SECS", "1")]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.as_str();
    let browser = Browser::default();
    let session = browser_login(&browser, public, "mcp_session").await;
    let http = http_client();
    let with_cookie = || {
        ProxiedMcp::new(
            &http,
            &stack.proxy.mcp_url,
            Credential::Cookie(format!("mcp_session={session}")),
        )
    };
    let mut first = with_cookie();
    assert_eq!(first.initialize().await.status, 200);
    assert_eq!(first.tool_names().await.len(), 12);

    // Promoted at Okta: seen once the role is due for its re-check.
    set_okta_groups(&stack, ALICE_ID, json!(["Everyone", "sso-super-admins"])).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut promoted = with_cookie();
    assert_eq!(promoted.initialize().await.status, 200);
    assert_eq!(promoted.tool_names().await.len(), 26);

    // Removed from every granting group: the cookie stops working…
    set_okta_groups(&stack, ALICE_ID, json!(["Everyone"])).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let refused = with_cookie().initialize().await;
    assert_eq!(refused.status, 401, "{refused:?}");
    assert_jsonrpc_error(&refused.body, -32001);
    // …and stays ended when the groups come back: the user must log in again.
    set_okta_groups(&stack, ALICE_ID, Value::Null).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(with_cookie().initialize().await.status, 401);
    let again = browser_login(&Browser::default(), public, "mcp_session").await;
    let mut back = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Cookie(format!("mcp_session={again}")),
    );
    assert_eq!(back.initialize().await.status, 200);
    assert_eq!(back.tool_names().await.len(), 12);
}

/// Security review: `GET /oauth/logout` logged a user out from any site's link. Now a
/// cross-site (or unlabelled) request gets a page asking to confirm with a form whose CSRF
/// token is bound to the session; same-origin links and typed URLs still log out at once.
#[tokio::test]
async fn logout_from_another_site_needs_a_confirmation_from_this_one() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.as_str();
    let logged_in = || async {
        let browser = Browser::default();
        format!(
            "mcp_session={}",
            browser_login(&browser, public, "mcp_session").await
        )
    };
    let http = manual_redirect_client();
    let mcp_url = stack.proxy.mcp_url.as_str();
    let works = |cookie: String| {
        let http = &http;
        async move {
            ProxiedMcp::new(http, mcp_url, Credential::Cookie(cookie))
                .initialize()
                .await
                .status
                == 200
        }
    };
    let logout = |cookie: &str, site: Option<&str>| {
        let mut request = http
            .get(format!("{public}/oauth/logout"))
            .header("cookie", cookie);
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };

    let cookie = logged_in().await;
    for site in [Some("cross-site"), Some("same-site"), None] {
        let page = logout(&cookie, site).await.unwrap();
        assert_eq!(page.status(), 200, "{site:?}");
        assert!(page.headers().get("set-cookie").is_none(), "{site:?}");
        let html = page.text().await.unwrap();
        assert!(html.contains("method=\"post\""), "{html}");
        assert!(works(cookie.clone()).await, "{site:?} logged the user out");
    }
    // A cross-site POST without the page's token is refused too.
    let forged = http
        .post(format!("{public}/oauth/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(works(cookie.clone()).await);

    // The confirmation form logs out.
    let html = logout(&cookie, None).await.unwrap().text().await.unwrap();
    let token = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field: {html}"));
    let out = http
        .post(format!("{public}/oauth/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 302);
    assert!(!works(cookie).await);

    // A link on this site, or the URL typed in: at once.
    for site in ["same-origin", "none"] {
        let cookie = logged_in().await;
        let out = logout(&cookie, Some(site)).await.unwrap();
        assert_eq!(out.status(), 302, "{site}");
        assert!(!works(cookie).await, "{site}");
    }
}

/// Security review: `/oauth/callback?error=` with a newline wrote a forged line into the
/// proxy's log. Outside values are now logged escaped, so they stay inside their line.
#[tokio::test]
async fn an_okta_error_with_a_newline_cannot_forge_a_log_line() {
    let stack = Stack::start(&[]).await;
    let public = stack.proxy.public_url.as_str();
    let browser = Browser::default();
    // Start a login as anyone can, and answer our own callback instead of Okta.
    let to_okta = browser.get(&format!("{public}/oauth/login")).await;
    let okta_url = url::Url::parse(to_okta.headers()["location"].to_str().unwrap()).unwrap();
    let state = okta_url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let forged = "x\n2026-01-01T00:00:00Z  INFO access: forged=1";
    let mut callback = url::Url::parse(&format!("{public}/oauth/callback")).unwrap();
    callback
        .query_pairs_mut()
        .append_pair("state", &state)
        .append_pair("error", forged)
        // The fake org, as Okta, says it names itself in every answer (RFC 9207).
        .append_pair("iss", &stack.okta.url);
    let answer = browser.get(callback.as_str()).await;
    assert!(answer.status().is_client_error(), "{}", answer.status());
    let logs = stack
        .proxy
        .process
        .wait_for_log("Okta returned an error")
        .await;
    assert!(
        !logs.lines().any(|line| line.starts_with("2026-01-01")),
        "forged line in:\n{logs}"
    );
}

#[tokio::test]
async fn a_tampered_session_cookie_is_refused() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.as_str();
    let browser = Browser::default();
    let session = browser_login(&browser, public, "mcp_session").await;
    let http = http_client();
    let with_cookie = |value: &str| {
        ProxiedMcp::new(
            &http,
            &stack.proxy.mcp_url,
            Credential::Cookie(format!("mcp_session={value}")),
        )
    };
    let mut good = with_cookie(&session);
    assert_eq!(good.initialize().await.status, 200);
    assert_eq!(good.tool_names().await.len(), 12);

    let mut bytes = session.clone().into_bytes();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let refused = with_cookie(&tampered).initialize().await;
    assert_eq!(refused.status, 401, "{refused:?}");
    // A cookie that fails its signature is simply absent: the plain challenge.
    assert_eq!(
        header(&refused.headers, "www-authenticate"),
        bare_challenge(public)
    );
    assert_jsonrpc_error(&refused.body, -32001);
}

#[tokio::test]
async fn foreign_origins_are_refused_and_allowed_ones_get_cors() {
    let inspector = "http://localhost:6274";
    let (stack, http, tokens) = alice_logged_in(&[("ALLOWED_ORIGINS", inspector)]).await;
    let from = |origin: &str, credential: Credential| {
        ProxiedMcp::new(&http, &stack.proxy.mcp_url, credential).with_header("origin", origin)
    };
    let bearer = || Credential::Bearer(tokens.access_token.clone());

    // Another site (or a DNS-rebinding page) with a good token: 403, JSON-RPC body, no CORS.
    for evil in ["https://evil.example", "http://localhost:6275", "null"] {
        let refused = from(evil, bearer()).initialize().await;
        assert_eq!(refused.status, 403, "{evil}: {refused:?}");
        assert_jsonrpc_error(&refused.body, -32001);
        assert!(refused.headers.get("access-control-allow-origin").is_none());
    }

    // An allowed origin: CORS headers that let a browser client read the session id.
    let mut allowed = from(inspector, bearer());
    let answer = allowed.initialize().await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        header(&answer.headers, "access-control-allow-origin"),
        inspector
    );
    let exposed = header(&answer.headers, "access-control-expose-headers").to_ascii_lowercase();
    for name in ["mcp-session-id", "www-authenticate"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(allowed.tool_names().await.len(), 12);
    // …and its 401 too, so the browser client can read the challenge.
    let unauthenticated = from(inspector, Credential::None).initialize().await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(
        header(&unauthenticated.headers, "access-control-allow-origin"),
        inspector
    );
    assert!(
        header(&unauthenticated.headers, "access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("www-authenticate")
    );
    // The proxy's own origin is always allowed.
    let own = from(&stack.proxy.public_url, bearer()).initialize().await;
    assert_eq!(own.status, 200);

    // The CORS preflight, which carries no credentials.
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, &stack.proxy.mcp_url)
            .header("origin", origin.to_owned())
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version, mcp-session-id",
            )
            .send()
    };
    let response = preflight(inspector).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), inspector);
    assert!(header(headers, "access-control-allow-methods").contains("POST"));
    let allow_headers = header(headers, "access-control-allow-headers").to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "mcp-protocol-version",
        "mcp-session-id",
    ] {
        assert!(allow_headers.contains(name), "{allow_headers}");
    }
    let response = preflight("https://evil.example").await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// Sends raw bytes to `addr` and reads one HTTP/1.1 response: status, head, body.
async fn raw_http(addr: &str, request: &[u8]) -> (u16, String, String) {
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

#[tokio::test]
async fn bodies_over_the_limit_get_413_with_or_without_content_length() {
    let (stack, http, tokens) = alice_logged_in(&[("MAX_BODY_BYTES", "4096")]).await;
    let big = rpc(
        1,
        "initialize",
        json!({
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "x".repeat(8000), "version": "1"}
        }),
    )
    .to_string();

    // Declared with Content-Length: refused before anything is forwarded.
    let response = http
        .post(&stack.proxy.mcp_url)
        .bearer_auth(&tokens.access_token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_jsonrpc_error(&response.text().await.unwrap(), -32600);

    // Chunked, so the size is only known while streaming.
    let addr = stack.proxy.public_url.trim_start_matches("http://");
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        tokens.access_token
    )
    .into_bytes();
    for chunk in big.as_bytes().chunks(1000) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let (status, head, body) = raw_http(addr, &request).await;
    assert_eq!(status, 413, "{head}\n{body}");
    assert_jsonrpc_error(&body, -32600);

    // A small request on a fresh connection still works.
    let mut small = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token.clone()),
    );
    assert_eq!(small.initialize().await.status, 200);

    // The OAuth endpoints have the same limit.
    let (status, _) = json_of(
        http.post(format!("{}/register", stack.proxy.public_url))
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413);
}

/// `mcp` also sending identity headers that claim carol, a super-admin.
fn forging_identity(mcp: ProxiedMcp) -> ProxiedMcp {
    mcp.with_header("X-MCP-Role", "super-admin")
        .with_header("X-MCP-Subject", "00ucarol000000000003")
        .with_header("X-MCP-Email", "carol@example.com")
        .with_header(
            "X-MCP-Identity",
            "v1;t=0;n=AAAAAAAAAAAAAAAAAAAAAA;sig=forged",
        )
}

#[tokio::test]
async fn identity_headers_sent_by_a_client_change_nothing() {
    let (stack, http, tokens) = alice_logged_in(&[]).await;
    let mut alice = forging_identity(ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    ));
    assert_eq!(alice.initialize().await.status, 200);
    assert_eq!(alice.tool_names().await.len(), 12, "viewer's tools only");
    let refused = alice.call("list_okta_network_zones", json!({})).await;
    assert_eq!(
        refused["error"]["message"], "Unknown tool: list_okta_network_zones",
        "a super-admin tool for a viewer: {refused}"
    );
    let allowed = alice.call("get_current_time", json!({})).await;
    assert!(allowed.get("error").is_none(), "{allowed}");

    let logs = stack
        .tool_server
        .process
        .wait_for_log("tool=get_current_time")
        .await;
    let line = logs
        .lines()
        .find(|l| l.contains("tool=get_current_time") && l.contains("audit"))
        .expect("audit line");
    assert!(line.contains(&format!("subject=\"{ALICE_ID}\"")), "{line}");
    assert!(line.contains("role=\"viewer\""), "{line}");
    assert!(!logs.contains("00ucarol000000000003"), "{logs}");

    // Nor does a super-admin's session id: sessions are bound to the user who opened them.
    // `serve` keeps no sessions, so this part runs where sessions exist: a wrapped server.
    let wrap = wrap_stack().await;
    let mut carol = logged_in_at(&wrap, "carol@example.com").await;
    assert_eq!(carol.initialize().await.status, 200);
    let mut alice = forging_identity(logged_in_at(&wrap, "alice@example.com").await);
    assert_eq!(alice.initialize().await.status, 200);
    assert_ne!(alice.session_id, carol.session_id);
    alice.session_id = carol.session_id.clone();
    let hijack = alice.post(&rpc(99, "tools/list", json!({}))).await;
    assert_eq!(hijack.status, 404, "{hijack:?}");
    assert!(
        carol.tool_names().await.contains(&"get-env".to_owned()),
        "carol's session still works"
    );
}

#[tokio::test]
async fn a_down_tool_server_gives_502_and_not_ready() {
    let (mut stack, http, tokens) = alice_logged_in(&[]).await;
    let mut mcp = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    );
    assert_eq!(mcp.initialize().await.status, 200);

    stack.tool_server.process.kill();
    let answer = mcp.post(&rpc(9, "tools/list", json!({}))).await;
    assert_eq!(answer.status, 502, "{answer:?}");
    assert_jsonrpc_error(&answer.body, -32603);

    let (status, ready) = json_of(
        http.get(format!("{}/ready", stack.proxy.public_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["tool_server"], false, "{ready}");
    assert_eq!(ready["okta_discovery"], true, "{ready}");
    let health = http
        .get(format!("{}/health", stack.proxy.public_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(stack.proxy.process.running());
}

/// A self-signed certificate for localhost and 127.0.0.1, written as PEM files.
struct TlsFiles {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    cert_pem: String,
}

impl TlsFiles {
    fn generate(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "okta-mcp-proxy-http-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        let cert_pem = certified.cert.pem();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, &cert_pem).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        Self {
            dir,
            cert,
            key,
            cert_pem,
        }
    }

    /// An HTTPS client trusting only this certificate (never following redirects).
    fn client(&self) -> reqwest::Client {
        let _ = http_client();
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(self.cert_pem.as_bytes()).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }
}

impl Drop for TlsFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts the proxy with only an HTTPS listener using `cert` and `key`.
fn start_tls_proxy(
    okta_url: &str,
    tool_server_url: &str,
    public_url: &str,
    port: u16,
    cert: &Path,
    key: &Path,
) -> Process {
    let mut command = proxy_command(okta_url, tool_server_url, public_url);
    command
        .args(["--no-plain", "--tls-listen", &format!("127.0.0.1:{port}")])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key);
    start_process(command)
}

#[tokio::test]
async fn https_with_a_generated_certificate() {
    let tls = TlsFiles::generate("ok");
    let port = free_port();
    let public = format!("https://localhost:{port}");
    let okta = FakeOkta::start_oidc(&format!("{public}/oauth/callback"));
    let tool_server = ToolServer::start(&okta, &[]).await;
    let proxy = start_tls_proxy(
        &okta.url,
        &tool_server.mcp_url,
        &public,
        port,
        &tls.cert,
        &tls.key,
    );
    let https = tls.client();
    let mut ready = false;
    for _ in 0..400 {
        if let Ok(r) = https.get(format!("{public}/ready")).send().await
            && r.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "proxy never became ready; logs:\n{}", proxy.logs());

    // A client that does not trust the certificate cannot talk to it: this really is TLS.
    assert!(
        http_client()
            .get(format!("{public}/health"))
            .send()
            .await
            .is_err()
    );

    let (status, asm) = json_of(
        https
            .get(format!("{public}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(asm["issuer"], public.as_str());
    assert_eq!(asm["token_endpoint"], format!("{public}/token"));
    let (_, prm) = json_of(
        https
            .get(format!("{public}/.well-known/oauth-protected-resource/mcp"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(prm["resource"], format!("{public}/mcp"));
    assert_eq!(prm["authorization_servers"], json!([public]));

    // The 401 challenge points at the https metadata.
    let challenge = ProxiedMcp::new(&https, &format!("{public}/mcp"), Credential::None)
        .initialize()
        .await;
    assert_eq!(challenge.status, 401);
    assert_eq!(
        header(&challenge.headers, "www-authenticate"),
        bare_challenge(&public)
    );

    // A browser login over https: cookies are `__Host-` and `Secure`, and the session works.
    let body = json!({"auto_login": "alice@example.com"});
    let set = http_client()
        .post(format!("{}/__fake/oidc", okta.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success());
    let browser = Browser::new(https.clone());
    let session = browser_login(&browser, &public, "__Host-mcp_session").await;
    let lines = browser.set_cookie_lines();
    for name in ["__Host-mcp_browser=", "__Host-mcp_session="] {
        let line = lines
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {lines:?}"));
        let attributes = line.to_ascii_lowercase();
        for attribute in ["; secure", "; httponly", "; path=/", "; samesite=lax"] {
            assert!(attributes.contains(attribute), "{line}");
        }
        assert!(!attributes.contains("domain="), "{line}");
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("mcp_")),
        "no unprefixed cookies under https: {lines:?}"
    );
    let mut mcp = ProxiedMcp::new(
        &https,
        &format!("{public}/mcp"),
        Credential::Cookie(format!("__Host-mcp_session={session}")),
    );
    assert_eq!(mcp.initialize().await.status, 200);
    assert_eq!(mcp.tool_names().await.len(), 12);
}

#[tokio::test]
async fn an_unusable_certificate_or_key_stops_the_proxy_at_start() {
    let good = TlsFiles::generate("good");
    let other = TlsFiles::generate("other");
    let junk = good.dir.join("junk.pem");
    std::fs::write(&junk, "-----BEGIN CERTIFICATE-----\nnot base64\n").unwrap();
    let missing = good.dir.join("missing.pem");
    let cases: [(&str, &Path, &Path, &str); 4] = [
        (
            "missing cert",
            &missing,
            &good.key,
            "cannot read --tls-cert",
        ),
        ("junk cert", &junk, &good.key, "expected a PEM certificate"),
        ("junk key", &good.cert, &junk, "expected a PEM certificate"),
        (
            "key of another cert",
            &good.cert,
            &other.key,
            "does not fit",
        ),
    ];
    let mut started: Vec<(&str, &str, Process)> = cases
        .iter()
        .map(|(what, cert, key, message)| {
            let port = free_port();
            let process = start_tls_proxy(
                "http://127.0.0.1:9",
                "http://127.0.0.1:9/mcp",
                &format!("https://localhost:{port}"),
                port,
                cert,
                key,
            );
            (*what, *message, process)
        })
        .collect();
    for (what, message, process) in &mut started {
        let status = process
            .wait_exit(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{what}: the proxy still runs; logs:\n{}", process.logs()));
        assert!(!status.success(), "{what}: {status}");
        // The exit can be seen before the last stderr line is read: wait for it.
        process.wait_for_log(message).await;
    }
}

/// Whether an SSE chunk ended the stream (`Ok(None)`) or failed, within `wait`.
async fn stream_ended(stream: &mut reqwest::Response, wait: Duration) -> bool {
    !matches!(
        tokio::time::timeout(wait, stream.chunk()).await,
        Err(_) | Ok(Ok(Some(_)))
    )
}

#[tokio::test]
async fn sse_events_pass_through_the_proxy_as_they_are_produced() {
    let stack = wrap_stack().await;
    let mut mcp = logged_in_at(&stack, "alice@example.com").await;
    // A client that offers roots: after `notifications/initialized` the everything server
    // announces the tools that depend on it (`tools/list_changed`) and, 350 ms later, asks for
    // the roots (`roots/list`). Both are unprompted, so they go to the GET stream.
    let init = mcp
        .post(&rpc(
            1,
            "initialize",
            json!({
                "protocolVersion": mcp.protocol_version, "capabilities": {"roots": {}},
                "clientInfo": {"name": "okta-mcp-proxy-e2e", "version": "1"}
            }),
        ))
        .await;
    assert_eq!(init.status, 200, "{init:?}");
    mcp.session_id = Some(header(&init.headers, "mcp-session-id").to_owned());
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(mcp.post(&initialized).await.status, 202);

    // 1. The standalone GET stream never ends while the session lives, so a proxy that held a
    //    response until its end would never deliver it. Its head and first events arrive at
    //    once, the roots request soon after, and the stream stays open.
    let mut stream = tokio::time::timeout(Duration::from_secs(2), mcp.open_stream())
        .await
        .expect("SSE headers within 2 s")
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(header(stream.headers(), "content-type").starts_with("text/event-stream"));
    let opened = Instant::now();
    let mut events = String::new();
    while !events.contains("\"roots/list\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(2), stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("no roots/list within 2 s; got {events:?}"))
            .unwrap()
            .expect("an event, not the end of the stream");
        let chunk = String::from_utf8_lossy(&chunk);
        // Each chunk is whole events (wrap gives them ids and sends a priming event first).
        assert!(
            (chunk.starts_with("data:") || chunk.starts_with("id: ")) && chunk.ends_with("\n\n"),
            "whole SSE events: {chunk:?}"
        );
        events.push_str(&chunk);
    }
    assert!(opened.elapsed() < Duration::from_secs(2), "{events:?}");
    assert!(!stream_ended(&mut stream, Duration::from_millis(200)).await);

    // 2. A 2 s tool call with a progress token is answered as SSE: a progress notification
    //    every 0.5 s, then the result. Through the proxy the first progress must still come
    //    long before the result; a buffering proxy would deliver them together, after 2 s.
    let sent = Instant::now();
    let mut response = mcp
        .request_builder(reqwest::Method::POST)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", &mcp.protocol_version)
        .body(
            rpc(
                7,
                "tools/call",
                json!({
                    "name": "trigger-long-running-operation",
                    "arguments": {"duration": 2, "steps": 4},
                    "_meta": {"progressToken": 1}
                }),
            )
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(header(response.headers(), "content-type").starts_with("text/event-stream"));
    let mut arrivals: Vec<(Duration, String)> = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the call ends within 10 s")
        .unwrap()
    {
        arrivals.push((sent.elapsed(), String::from_utf8_lossy(&chunk).into_owned()));
    }
    let (result_at, _) = arrivals
        .iter()
        .find(|(_, text)| text.contains("Long running operation completed"))
        .unwrap_or_else(|| panic!("no result event: {arrivals:?}"));
    // The first event with a message (a priming event, only an id, may come before it).
    let (first_at, first_text) = arrivals
        .iter()
        .find(|(_, text)| text.contains("data: {"))
        .unwrap_or_else(|| panic!("no message: {arrivals:?}"));
    assert!(*result_at >= Duration::from_secs(2), "{arrivals:?}");
    assert!(
        first_text.contains("notifications/progress")
            && !first_text.contains("\"result\"")
            && *first_at < Duration::from_millis(1500),
        "the first progress came with the result (buffered): {arrivals:?}"
    );
    assert!(!stream_ended(&mut stream, Duration::from_millis(100)).await);
}

#[tokio::test]
async fn sigterm_stops_the_proxy_within_five_seconds_even_with_an_open_stream() {
    let mut stack = wrap_stack().await;
    let mut mcp = logged_in_at(&stack, "alice@example.com").await;
    assert_eq!(mcp.initialize().await.status, 200);
    // An MCP client holding its SSE stream open, as they do; the wrapped server never ends it.
    let mut stream = mcp.open_stream().await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(header(stream.headers(), "content-type").starts_with("text/event-stream"));
    assert!(!stream_ended(&mut stream, Duration::from_millis(200)).await);

    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &stack.proxy.process.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = stack
        .proxy
        .process
        .wait_exit(Duration::from_secs(5))
        .await
        .unwrap_or_else(|| {
            panic!(
                "still running 5 s after SIGTERM; logs:\n{}",
                stack.proxy.process.logs()
            )
        });
    assert!(status.success(), "{status}");
    assert!(sent.elapsed() < Duration::from_secs(5));
    drop(stream);
}

#[tokio::test]
async fn sigterm_lets_a_call_in_flight_finish() {
    let (mut stack, http, tokens) = alice_logged_in(&[]).await;
    let mut mcp = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    );
    assert_eq!(mcp.initialize().await.status, 200);
    // Okta answers slowly, so the call is still in flight when SIGTERM arrives.
    stack
        .okta
        .faults(serde_json::json!({"latency_ms": 1000}))
        .await;
    let pid = stack.proxy.process.id().to_string();
    let terminate = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(kill.success());
    };
    let (result, ()) = tokio::join!(
        mcp.call(
            "get_okta_user",
            serde_json::json!({"user_id": "alice@example.com"})
        ),
        terminate
    );
    assert_eq!(
        result["result"]["structuredContent"]["user"]["id"], "00ualice000000000001",
        "the call in flight was cut off: {result}"
    );
    let status = stack
        .proxy
        .process
        .wait_exit(Duration::from_secs(6))
        .await
        .expect("the proxy stops after draining");
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn every_access_line_is_written_before_the_proxy_exits() {
    // Logs are written by a background thread. Here nobody reads the proxy's stderr until it
    // has been told to stop, so the pipe fills and thousands of lines are still queued in the
    // proxy when SIGTERM arrives: all of them must come out before it exits.
    let port = free_port();
    let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
    let tool_server = ToolServer::start(&okta, &[]).await;
    let public = format!("http://127.0.0.1:{port}");
    let mut command = proxy_command(&okta.url, &tool_server.mcp_url, &public);
    command
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut proxy = command.spawn().expect("start the proxy");
    let mut stderr = proxy.stderr.take().expect("stderr");
    let http = http_client();
    let health = format!("{public}/health");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(&health)
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "the proxy did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A path nothing else asks for, so every line with it is one of ours.
    let url = format!("{public}/burst-before-shutdown");
    const BURST: usize = 3_000;
    for _ in 0..BURST / 100 {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..100 {
            let request = http.get(&url).send();
            burst.spawn(async move { request.await.map(|r| r.status().as_u16()) });
        }
        while let Some(answer) = burst.join_next().await {
            assert_eq!(answer.unwrap().unwrap(), 404);
        }
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &proxy.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // Only once the proxy has finished shutting down (2 s of grace, then its services stop)
    // is stderr read, to its end: the proxy must be waiting for its queue to be written.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let logs = tokio::task::spawn_blocking(move || {
        let mut logs = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut logs).map(|_| logs)
    })
    .await
    .unwrap()
    .unwrap();
    let status = proxy.wait().unwrap();
    assert!(status.success(), "{status}");
    let written = logs
        .lines()
        .filter(|l| l.contains("path=/burst-before-shutdown status=404"))
        .count();
    assert_eq!(written, BURST, "access lines lost at shutdown");
}

/// Security review: client names with bidi or zero-width characters were shown as they are on
/// the consent page, so `Evil\u{202E}edualC` could read as another app. They are now shown as
/// visible code points, with a warning.
#[tokio::test]
async fn a_client_name_with_invisible_or_bidi_characters_is_shown_marked_on_the_consent_page() {
    let stack = Stack::start(&[]).await;
    let public = stack.proxy.public_url.as_str();
    let http = manual_redirect_client();
    for (name, marked) in [
        ("Trusted\u{202E}ppA liveE", "Trusted[U+202E]ppA liveE"),
        ("Cla\u{200B}ude", "Cla[U+200B]ude"),
        ("Inspector\u{2066}x\u{2069}", "Inspector[U+2066]x[U+2069]"),
    ] {
        let (status, body) = okta_mcp_tests::oauth_flow::json_of(
            http.post(format!("{public}/register"))
                .json(&json!({
                    "client_name": name,
                    "redirect_uris": ["http://127.0.0.1:9/cb"],
                    "token_endpoint_auth_method": "none",
                }))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let client = OAuthClient {
            public_url: public.to_owned(),
            client_id: body["client_id"].as_str().unwrap().to_owned(),
            redirect_uri: "http://127.0.0.1:9/cb".into(),
        };
        let page = http
            .get(client.authorize_url(&client.redirect_uri, &Pkce::new(), "s"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let shown: String = name.chars().filter(|c| c.is_alphanumeric()).collect();
        assert!(
            !html.chars().any(|c| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "{name:?} shown raw: {html}"
        );
        assert!(html.contains(marked), "{marked} not in {html}");
        assert!(html.contains("invisible or direction-changing"), "{html}");
        assert!(!shown.is_empty());
    }
}

/// Token passthrough: what reaches the MCP server behind the proxy carries the proxy's signed
/// identity headers and none of the client's credentials (its bearer token, its cookies, or
/// identity headers it made up). A recording server stands in for the tool server.
#[tokio::test]
async fn the_clients_credentials_never_reach_the_server_behind_the_proxy() {
    use axum::routing::any;
    let seen: std::sync::Arc<std::sync::Mutex<Vec<reqwest::header::HeaderMap>>> =
        std::sync::Arc::default();
    let recorder = {
        let seen = seen.clone();
        axum::Router::new()
            .route(
                "/mcp",
                any(move |headers: axum::http::HeaderMap| {
                    let seen = seen.clone();
                    async move {
                        let mut copy = reqwest::header::HeaderMap::new();
                        for (name, value) in &headers {
                            copy.append(
                                reqwest::header::HeaderName::from_bytes(name.as_str().as_bytes())
                                    .unwrap(),
                                reqwest::header::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                            );
                        }
                        seen.lock().unwrap().push(copy);
                        (
                            [("content-type", "application/json")],
                            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                        )
                    }
                }),
            )
            .route("/health", any(|| async { "ok" }))
    };
    let upstream = format!(
        "{}/mcp",
        okta_mcp_tests::harness::serve_hook(recorder).await
    );
    let port = free_port();
    let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
    let proxy = okta_mcp_tests::harness::Proxy::start(&okta, port, &upstream, &[]).await;
    okta.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &proxy.public_url).await;
    let answer = http
        .post(&proxy.mcp_url)
        .header("authorization", format!("Bearer {}", tokens.access_token))
        .header("cookie", "mcp_session=stolen; other=1")
        .header("x-mcp-role", "super-admin")
        .header(
            "x-mcp-identity",
            "v1;t=0;n=AAAAAAAAAAAAAAAAAAAAAA;sig=forged",
        )
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let seen = seen.lock().unwrap();
    let headers = seen.last().expect("the request reached the server");
    assert!(headers.get("authorization").is_none(), "{headers:?}");
    assert!(headers.get("cookie").is_none(), "{headers:?}");
    assert_eq!(headers["x-mcp-role"], "viewer");
    assert_eq!(headers["x-mcp-subject"], ALICE_ID);
    let identity = headers["x-mcp-identity"].to_str().unwrap();
    assert!(
        identity.starts_with("v1;t=") && !identity.contains("forged"),
        "{identity}"
    );
    let everything = format!("{headers:?}");
    assert!(!everything.contains(&tokens.access_token));
}
