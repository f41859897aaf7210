//! No secret reaches a log, even at `LOG_LEVEL=trace`: the whole flow (registration of a
//! confidential client, consent, Okta login, code exchange with Basic credentials, refresh,
//! tool calls with arguments, a browser session, a malformed request carrying a bearer token)
//! runs against the proxy and the tool server at trace, then every secret value the test saw or
//! configured is looked for in both processes' logs.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use okta_mcp_tests::harness::{
    FakeOkta, McpClient, Proxy, SERVICE_CLIENT_ID, TEST_API_TOKEN, TEST_CLIENT_SECRET,
    TEST_IDENTITY_KEY, TEST_SESSION_SECRET, ToolServer, UNSET, free_port, http_client,
    service_app_key,
};
use okta_mcp_tests::oauth_flow::{
    Browser, Credential, Pkce, ProxiedMcp, consent_form, json_of, manual_redirect_client,
};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

/// Follows redirects from `url` in `browser` (approving a consent page) until a location
/// satisfies `stop`; every URL visited, so the codes they carried can be looked for.
async fn visit(browser: &Browser, url: &str, stop: impl Fn(&Url) -> bool) -> Vec<Url> {
    let mut url = Url::parse(url).unwrap();
    let mut seen = vec![url.clone()];
    for _ in 0..10 {
        let response = browser.get(url.as_str()).await;
        let status = response.status().as_u16();
        let location = match response.headers().get("location") {
            Some(location) => location.to_str().unwrap().to_owned(),
            None => {
                let html = response.text().await.unwrap();
                assert_eq!(status, 200, "{url}: {html}");
                let consent = url.join("/oauth/consent").unwrap();
                let answer = browser
                    .post_form(consent.as_str(), &consent_form(&html, "approve"))
                    .await;
                answer.headers()["location"].to_str().unwrap().to_owned()
            }
        };
        url = url.join(&location).unwrap();
        seen.push(url.clone());
        if stop(&url) {
            return seen;
        }
    }
    panic!("too many redirects: {seen:?}");
}

#[tokio::test]
async fn no_secret_reaches_a_log_at_trace_level() {
    let port = free_port();
    let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
    let tool_server = ToolServer::start(&okta, &[("LOG_LEVEL", "trace")]).await;
    let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, &[("LOG_LEVEL", "trace")]).await;
    okta.auto_login("alice@example.com").await;
    let public = proxy.public_url.as_str();
    let http = manual_redirect_client();
    let mut secrets: Vec<(String, String)> = [
        ("Okta API token", TEST_API_TOKEN),
        ("Okta client secret", TEST_CLIENT_SECRET),
        ("session key", TEST_SESSION_SECRET),
        ("identity key", TEST_IDENTITY_KEY),
    ]
    .map(|(what, value)| (what.to_owned(), value.to_owned()))
    .into();

    // A confidential client (client_secret_basic).
    let redirect_uri = "http://127.0.0.1:9/callback";
    let (status, registered) = json_of(
        http.post(format!("{public}/register"))
            .json(&json!({
                "client_name": "secrets test",
                "redirect_uris": [redirect_uri],
                "grant_types": ["authorization_code", "refresh_token"],
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let client_secret = registered["client_secret"].as_str().unwrap().to_owned();
    let basic = STANDARD.encode(format!("{client_id}:{client_secret}"));
    secrets.push(("client secret".into(), client_secret));
    secrets.push(("Basic credentials".into(), basic.clone()));

    // Consent, Okta login, our code.
    let pkce = Pkce::new();
    let mut authorize = Url::parse(&format!("{public}/authorize")).unwrap();
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("scope", "mcp offline_access")
        .append_pair("state", "st");
    let browser = Browser::new(http.clone());
    let visited = visit(&browser, authorize.as_str(), |url| {
        url.as_str().starts_with(redirect_uri)
    })
    .await;
    for url in &visited {
        for (name, value) in url.query_pairs() {
            if name == "code" {
                secrets.push((format!("code in {}", url.path()), value.into_owned()));
            }
        }
    }
    assert!(
        secrets
            .iter()
            .filter(|(w, _)| w.starts_with("code"))
            .count()
            >= 2
    );
    let code = secrets.last().unwrap().1.clone();
    secrets.push(("PKCE verifier".into(), pkce.verifier.clone()));
    let token = |form: Vec<(&'static str, String)>| {
        let http = &http;
        let basic = &basic;
        async move {
            json_of(
                http.post(format!("{public}/token"))
                    .header("authorization", format!("Basic {basic}"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let (status, tokens) = token(vec![
        ("grant_type", "authorization_code".into()),
        ("code", code),
        ("code_verifier", pkce.verifier.clone()),
        ("redirect_uri", redirect_uri.into()),
    ])
    .await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, refreshed) = token(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
    ])
    .await;
    assert_eq!(status, 200, "{refreshed}");
    for answer in [&tokens, &refreshed] {
        for kind in ["access_token", "refresh_token"] {
            secrets.push((kind.into(), answer[kind].as_str().unwrap().to_owned()));
        }
    }

    // Tool calls whose arguments must not be logged.
    let argument = "zz-argument-never-logged-7f3a";
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let mut mcp = ProxiedMcp::new(&http, &proxy.mcp_url, Credential::Bearer(access.clone()));
    assert_eq!(mcp.initialize().await.status, 200);
    let answer = mcp
        .call(
            "list_okta_users",
            json!({"search": format!("profile.login eq \"{argument}\"")}),
        )
        .await;
    assert!(answer.get("result").is_some(), "{answer}");
    secrets.push(("tool argument".into(), argument.into()));

    // A browser session and its cookies.
    let session_browser = Browser::default();
    let home = format!("{public}/");
    visit(&session_browser, &format!("{public}/oauth/login"), |url| {
        url.as_str() == home
    })
    .await;
    for line in session_browser
        .set_cookie_lines()
        .iter()
        .chain(browser.set_cookie_lines().iter())
    {
        let value = line.split(';').next().unwrap().split_once('=').unwrap().1;
        if !value.is_empty() {
            secrets.push((
                format!("cookie {}", &line[..line.find('=').unwrap()]),
                value.into(),
            ));
        }
    }
    let cookie = format!(
        "mcp_session={}",
        session_browser.cookie(public, "mcp_session").unwrap()
    );
    let mut with_cookie = ProxiedMcp::new(&http, &proxy.mcp_url, Credential::Cookie(cookie));
    assert_eq!(with_cookie.initialize().await.status, 200);

    // A refused token (the proxy logs why at debug).
    let forged = format!("{access}x");
    let refused = ProxiedMcp::new(&http, &proxy.mcp_url, Credential::Bearer(forged))
        .initialize()
        .await;
    assert_eq!(refused.status, 401);

    // A malformed request carrying a bearer token.
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    raw.write_all(
        format!("POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {access}\r\nBad header line\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), raw.read_to_end(&mut answer)).await;

    // The logs were written at trace (our own crates' detail is there) …
    tokio::time::sleep(Duration::from_millis(300)).await;
    let logs = [
        ("proxy", proxy.process.logs()),
        ("tool server", tool_server.process.logs()),
    ];
    for (name, log) in &logs {
        assert!(
            log.contains(" DEBUG okta_mcp"),
            "{name} did not log below info:\n{log}"
        );
    }
    // … and no secret is in them.
    let mut found = Vec::new();
    for (name, log) in &logs {
        for (what, value) in &secrets {
            assert!(
                value.len() >= 16 || what == "tool argument",
                "{what} too short to look for"
            );
            if let Some(at) = log.find(value.as_str()) {
                let line_start = log[..at].rfind('\n').map_or(0, |i| i + 1);
                let line_end = log[at..].find('\n').map_or(log.len(), |i| at + i);
                found.push(format!(
                    "{what} in the {name} log: {}",
                    &log[line_start..line_end]
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "{} secrets logged:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// In service-app mode, at trace (the tool server's own debug lines, other crates at info): neither the private key, nor an access token, nor a client
/// assertion or DPoP proof (JWTs) reaches the tool server's log, through a token request with
/// the nonce challenge, tool calls, a refused token and a missing scope.
#[tokio::test]
async fn no_service_app_secret_reaches_a_log_at_trace_level() {
    let key = service_app_key();
    let granted = "okta.users.read,okta.groups.read";
    let okta = FakeOkta::start(&[
        "--service-client-id",
        SERVICE_CLIENT_ID,
        "--service-jwks-file",
        key.public_jwk.to_str().unwrap(),
        "--service-scopes",
        granted,
    ]);
    let server = ToolServer::start(
        &okta,
        &[
            ("LOG_LEVEL", "trace"),
            ("OKTA_API_TOKEN", UNSET),
            ("OKTA_SERVICE_CLIENT_ID", SERVICE_CLIENT_ID),
            ("OKTA_SERVICE_KEY_FILE", key.private_pem.to_str().unwrap()),
            ("OKTA_SCOPES", granted),
        ],
    )
    .await;
    let mut client = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    client.initialize().await;
    client.call_ok("list_okta_users", json!({"limit": 2})).await;
    let stats_url = format!("{}/__fake/service-app", okta.url);
    // The fake org's service-app counters and every access token it issued so far.
    let issued = || async {
        let stats: serde_json::Value = http_client()
            .get(&stats_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tokens: Vec<String> = stats["issued"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        (stats, tokens)
    };
    let (_, mut tokens) = issued().await;
    http_client()
        .post(format!("{}/__fake/service-app/revoke", okta.url))
        .send()
        .await
        .unwrap();
    client
        .call_ok("list_okta_groups", json!({"limit": 2}))
        .await;
    let missing = client.call("list_okta_network_zones", json!({})).await;
    assert_eq!(missing["result"]["isError"], true, "{missing}");
    let (stats, more) = issued().await;
    tokens.extend(more);
    assert_eq!(tokens.len(), 2, "{stats}");
    assert_eq!(stats["nonce_challenges"], 1, "{stats}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let logs = server.process.logs();
    assert!(logs.contains("okta service app token request"), "{logs}");
    for (i, token) in tokens.iter().enumerate() {
        assert!(
            !logs.contains(token.as_str()),
            "access token {i} in the log"
        );
    }
    for line in key.pem_text.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!logs.contains(line), "the private key is in the log");
    }
    // Every JWT (client assertions, DPoP proofs) starts with the base64url of `{"`.
    assert!(!logs.contains("eyJ"), "a JWT is in the log");
}
