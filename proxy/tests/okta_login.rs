//! `OktaLogin` against the fake Okta org's OIDC provider, as a real process: discovery, start →
//! (fake) login → finish → refresh, on the org and the custom authorization server.
//!
//! Needs `target/debug/fake-okta` (`cargo build --workspace --bins`; `tests/run` does it).

use okta_mcp_proxy::okta_login::{
    LoginError, LoginStart, OktaLogin, OktaLoginSettings, UpstreamLogin,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use url::Url;

const CLIENT_ID: &str = "0oaproxytest";
const SECRET: &str = "proxy-test-secret";
const REDIRECT: &str = "http://localhost:3001/oauth/callback";
const ALICE_ID: &str = "00ualice000000000001";
const BOB_ID: &str = "00ubob00000000000002";

/// A running fake org, killed on drop.
struct FakeOkta {
    child: Child,
    url: String,
}

impl Drop for FakeOkta {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fake_okta_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join("fake-okta");
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

fn start_fake_okta() -> FakeOkta {
    let mut child = Command::new(fake_okta_binary())
        .args(["--listen", "127.0.0.1:0", "--api-token", "unused-api-token"])
        .args(["--client-id", CLIENT_ID, "--client-secret", SECRET])
        .args(["--redirect-uri", REDIRECT])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fake-okta");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("fake-okta prints its address");
    let url = line
        .trim()
        .strip_prefix("fake-okta listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    FakeOkta { child, url }
}

/// The browser's side: no redirects followed.
fn browser() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn control(okta: &FakeOkta, path: &str, body: Value) {
    let response = browser()
        .post(format!("{}{path}", okta.url))
        .json(&body)
        .send()
        .await
        .expect("control request");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
}

fn login_for(issuer: &str, secret: &str) -> OktaLogin {
    OktaLogin::new(OktaLoginSettings {
        issuer: Url::parse(issuer).expect("issuer"),
        client_id: CLIENT_ID.into(),
        credential: okta_mcp_proxy::okta_login::ClientCredential::Secret(secret.into()),
        redirect_uri: Url::parse(REDIRECT).expect("redirect"),
        scopes: OktaLoginSettings::default_scopes(),
        dpop: false,
        par: false,
    })
    .expect("settings are valid")
}

async fn discovered(issuer: &str) -> OktaLogin {
    let login = login_for(issuer, SECRET);
    login.discover().await.expect("discovery");
    assert!(login.ready());
    login
}

/// Follows the authorize URL as a browser would (the fake org logs the `auto_login` user in)
/// and returns the code Okta sends to the callback.
async fn okta_code(start: &LoginStart) -> String {
    let response = browser()
        .get(start.url.clone())
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), reqwest::StatusCode::FOUND);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location");
    assert!(location.starts_with(REDIRECT), "{location}");
    let url = Url::parse(location).expect("callback URL");
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("state").as_deref(), Some(start.state.as_str()));
    param("code").unwrap_or_else(|| panic!("no code in {location}"))
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn login_and_refresh_on_the_org_server() {
    let okta = start_fake_okta();
    // Like an operator would write OKTA_ORG_URL: with a trailing slash.
    let login = login_for(&format!("{}/", okta.url), SECRET);
    assert!(!login.ready());
    assert!(matches!(login.start().await, Err(LoginError::NotReady(_))));
    login.discover().await.expect("discovery");
    assert!(login.ready());
    assert_eq!(login.issuer(), okta.url);

    control(
        &okta,
        "/__fake/oidc",
        json!({"auto_login": "alice@example.com"}),
    )
    .await;
    let start = login.start().await.expect("start");
    let query: Vec<(String, String)> = start.url.query_pairs().into_owned().collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert!(
        start
            .url
            .as_str()
            .starts_with(&format!("{}/oauth2/v1/authorize?", okta.url))
    );
    assert_eq!(get("code_challenge_method"), Some("S256"));
    assert_eq!(get("state"), Some(start.state.as_str()));
    assert_eq!(get("nonce"), Some(start.nonce.as_str()));
    assert_eq!(get("redirect_uri"), Some(REDIRECT));
    assert_eq!(
        get("scope"),
        Some("openid profile email groups offline_access")
    );
    assert!(!start.url.as_str().contains(&start.pkce_verifier));

    let code = okta_code(&start).await;
    let alice = login
        .finish(&code, &start.nonce, &start.pkce_verifier)
        .await
        .expect("finish");
    assert_eq!(alice.subject, ALICE_ID);
    assert_eq!(alice.email, "alice@example.com");
    assert_eq!(alice.groups, strings(&["Everyone", "sso-help-desk"]));
    let first = alice.refresh_token.expect("Okta refresh token");

    // The code worked once.
    let again = login
        .finish(&code, &start.nonce, &start.pkce_verifier)
        .await
        .expect_err("code reuse");
    assert!(
        matches!(&again, LoginError::Exchange(m) if m.contains("invalid_grant")),
        "{again}"
    );

    // A group change at Okta shows at the next refresh; Okta rotates the refresh token.
    control(
        &okta,
        &format!("/__fake/users/{ALICE_ID}/groups"),
        json!({"groups": ["Everyone", "sso-super-admins"]}),
    )
    .await;
    let refreshed = login.refresh(&first).await.expect("refresh");
    assert_eq!(refreshed.subject, ALICE_ID);
    assert_eq!(refreshed.email, "alice@example.com");
    assert_eq!(refreshed.groups, strings(&["Everyone", "sso-super-admins"]));
    let second = refreshed.refresh_token.expect("rotated refresh token");
    assert_ne!(second, first);
    let reused = login.refresh(&first).await.expect_err("old refresh token");
    assert!(
        matches!(&reused, LoginError::Refresh(m) if m.contains("invalid_grant")),
        "{reused}"
    );
    assert!(!reused.to_string().contains(&first), "{reused}");
    login.refresh(&second).await.expect("the new one works");
}

#[tokio::test]
async fn custom_server_with_groups_only_in_userinfo() {
    let okta = start_fake_okta();
    let login = discovered(&format!("{}/oauth2/default", okta.url)).await;
    control(
        &okta,
        "/__fake/oidc",
        json!({"auto_login": BOB_ID, "groups_in_id_token": false}),
    )
    .await;
    let start = login.start().await.expect("start");
    assert!(
        start
            .url
            .as_str()
            .starts_with(&format!("{}/oauth2/default/v1/authorize?", okta.url))
    );
    let code = okta_code(&start).await;
    let bob = login
        .finish(&code, &start.nonce, &start.pkce_verifier)
        .await
        .expect("finish");
    assert_eq!(bob.subject, BOB_ID);
    assert_eq!(bob.groups, strings(&["Everyone", "sso-security-admins"]));

    control(
        &okta,
        &format!("/__fake/users/{BOB_ID}/groups"),
        json!({"groups": ["Everyone"]}),
    )
    .await;
    let refreshed = login
        .refresh(&bob.refresh_token.expect("refresh token"))
        .await
        .expect("refresh");
    assert_eq!(refreshed.groups, strings(&["Everyone"]));
}

#[tokio::test]
async fn wrong_nonce_wrong_verifier_and_wrong_secret_are_refused() {
    let okta = start_fake_okta();
    let login = discovered(&okta.url).await;
    control(
        &okta,
        "/__fake/oidc",
        json!({"auto_login": "alice@example.com"}),
    )
    .await;

    let start = login.start().await.expect("start");
    let code = okta_code(&start).await;
    let err = login
        .finish(&code, "another-nonce", &start.pkce_verifier)
        .await
        .expect_err("nonce mismatch");
    assert!(matches!(err, LoginError::InvalidIdToken(_)), "{err}");

    let start = login.start().await.expect("start");
    let code = okta_code(&start).await;
    let other = login.start().await.expect("another start");
    let err = login
        .finish(&code, &start.nonce, &other.pkce_verifier)
        .await
        .expect_err("wrong verifier");
    assert!(
        matches!(&err, LoginError::Exchange(m) if m.contains("invalid_grant")),
        "{err}"
    );
    assert!(!err.to_string().contains(&code), "{err}");

    let wrong_secret = login_for(&okta.url, "not-the-secret");
    wrong_secret.discover().await.expect("discovery");
    let start = wrong_secret.start().await.expect("start");
    let code = okta_code(&start).await;
    let err = wrong_secret
        .finish(&code, &start.nonce, &start.pkce_verifier)
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(&err, LoginError::Exchange(m) if m.contains("invalid_client")),
        "{err}"
    );
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let okta = start_fake_okta();
    let login = discovered(&okta.url).await;
    control(
        &okta,
        "/__fake/oidc",
        json!({"auto_login": "alice@example.com", "rotate_refresh_tokens": false}),
    )
    .await;
    let start = login.start().await.expect("start");
    let code = okta_code(&start).await;
    let alice = login
        .finish(&code, &start.nonce, &start.pkce_verifier)
        .await
        .expect("finish");
    let token = alice.refresh_token.expect("refresh token");
    let refreshed = login.refresh(&token).await.expect("refresh");
    assert_eq!(refreshed.refresh_token.as_deref(), Some(token.as_str()));
}

#[tokio::test]
async fn discovery_fails_cleanly_when_the_issuer_is_wrong() {
    let okta = start_fake_okta();
    // The org serves no discovery document under this path: not ready, no panic.
    let login = login_for(&format!("{}/oauth2/nonexistent", okta.url), SECRET);
    let err = login.discover().await.expect_err("no such server");
    assert!(matches!(err, LoginError::NotReady(_)), "{err}");
    assert!(!login.ready());
}
