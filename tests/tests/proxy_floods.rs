//! Floods of the anonymous endpoints (`/register`, `/authorize`, `/oauth/login`) cost the
//! flooder, not the users. Security review: 400 maximum-size anonymous registrations pushed
//! every earlier client out of the state, and ~2,000 `/authorize` with a large `state` evicted
//! pending consents. The flooder sends from 127.0.0.2, the users from 127.0.0.1.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use okta_mcp_tests::harness::Stack;
use okta_mcp_tests::oauth_flow::{
    Browser, OAuthClient, Pkce, Tokens, consent_form, log_in, manual_redirect_client,
};
use serde_json::json;

/// A client whose connections come from `source` (any 127/8 address reaches our listener).
fn client_from(source: Ipv4Addr) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Sends `n` requests built by `request`, 16 at a time; how many got each status.
async fn flood(
    n: usize,
    request: impl Fn(usize) -> reqwest::RequestBuilder,
) -> BTreeMap<u16, usize> {
    let mut statuses = BTreeMap::new();
    let mut batch = Vec::new();
    for i in 0..n {
        batch.push(tokio::spawn(request(i).send()));
        if batch.len() == 16 || i + 1 == n {
            for answer in batch.drain(..) {
                let status = answer
                    .await
                    .expect("request task")
                    .map_or(0, |a| a.status().as_u16());
                *statuses.entry(status).or_default() += 1;
            }
        }
    }
    statuses
}

/// `tokens`' refresh token still works (its client was not pushed out).
async fn assert_refreshes(tokens: &Tokens, http: &reqwest::Client) {
    let refresh = tokens.refresh_token.clone().expect("refresh token");
    let (status, body) = tokens
        .client
        .token(
            http,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &tokens.client.client_id),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The largest registration the proxy accepts (or, before the bounds, far larger).
fn big_registration(i: usize) -> serde_json::Value {
    let uris: Vec<String> = (0..10)
        .map(|u| format!("https://flood.example/{i:05}/{u}/{}", "a".repeat(370)))
        .collect();
    json!({
        "client_name": "é".repeat(200),
        "redirect_uris": uris,
        "token_endpoint_auth_method": "none",
    })
}

#[tokio::test]
async fn a_flood_from_one_source_is_limited_and_users_keep_their_clients_and_logins() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.clone();
    let http = manual_redirect_client();
    let alice = log_in(&http, &public).await;

    // Bob is on the consent page when the flood starts.
    let bob = OAuthClient::register(&http, &public, &["http://127.0.0.1:9/bob"]).await;
    let pkce = Pkce::new();
    let browser = Browser::new(http.clone());
    let page = browser
        .get(&bob.authorize_url(&bob.redirect_uri, &pkce, "bob-state"))
        .await;
    assert_eq!(page.status(), 200);
    let consent = consent_form(&page.text().await.unwrap(), "approve");

    let flooder = client_from(FLOODER);
    let registered = flood(400, |i| {
        flooder
            .post(format!("{public}/register"))
            .json(&big_registration(i))
    })
    .await;
    let big_state = "s".repeat(1000);
    let authorized = flood(2000, |_| {
        flooder.get(bob.authorize_url(&bob.redirect_uri, &Pkce::new(), &big_state))
    })
    .await;
    let logins = flood(2000, |_| {
        flooder.get(format!(
            "{public}/oauth/login?return_to=/{}",
            "r".repeat(1000)
        ))
    })
    .await;
    eprintln!("register {registered:?}, authorize {authorized:?}, login {logins:?}");
    assert!(registered.contains_key(&201), "{registered:?}");
    for (what, statuses) in [
        ("register", &registered),
        ("authorize", &authorized),
        ("login", &logins),
    ] {
        let limited = statuses.get(&429).copied().unwrap_or(0);
        assert!(
            limited > 0,
            "{what}: the flooder was never limited: {statuses:?}"
        );
    }
    let answer = flooder
        .post(format!("{public}/register"))
        .json(&json!({"redirect_uris": ["https://x.example/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 429);
    assert!(answer.headers().contains_key("retry-after"));
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("try again"),
        "{body}"
    );

    // Alice's client still refreshes, Bob's consent is still pending and completes.
    assert_refreshes(&alice, &http).await;
    let approved = browser
        .post_form(&format!("{public}/oauth/consent"), &consent)
        .await;
    assert_eq!(approved.status(), 302, "{:?}", approved.text().await);
    // Users from other sources are not limited by the flooder.
    let carol = OAuthClient::register(&http, &public, &["http://127.0.0.1:9/carol"]).await;
    assert!(!carol.client_id.is_empty());
}

#[tokio::test]
async fn with_no_source_limit_a_registration_flood_still_never_evicts_a_client_in_use() {
    let stack = Stack::start(&[("ANONYMOUS_REQUESTS_PER_MINUTE", "0")]).await;
    stack.auto_login("alice@example.com").await;
    let public = stack.proxy.public_url.clone();
    let http = manual_redirect_client();
    let alice = log_in(&http, &public).await;

    let flooder = client_from(FLOODER);
    let registered = flood(3000, |i| {
        flooder
            .post(format!("{public}/register"))
            .json(&big_registration(i))
    })
    .await;
    eprintln!("register {registered:?}");
    assert_eq!(registered.get(&201), Some(&3000), "{registered:?}");

    assert_refreshes(&alice, &http).await;
    // And it can log in again (the client is still registered).
    alice.client.tokens(&http).await;
}
