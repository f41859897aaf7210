//! The OIDC provider through the real router (no sockets).

use super::OidcSettings;
use super::keys::s256;
use crate::fake_okta::dataset::{ALICE_ID, BOB_ID};
use crate::fake_okta::in_process::{Answer, app_with, send_to};
use axum::Router;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

const CLIENT_ID: &str = "0oafakeclient";
const SECRET: &str = "fake-secret";
const REDIRECT: &str = "http://localhost:3001/oauth/callback";
const BASE: &str = "http://fake.test:8080";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn app() -> Router {
    app_with(OidcSettings {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(SECRET.into()),
        redirect_uris: vec![REDIRECT.into(), "http://127.0.0.1:9/cb".into()],
        id_jag: Default::default(),
        ..Default::default()
    })
}

/// What these tests read from an answer besides its JSON.
trait Redirect {
    fn location(&self) -> url::Url;
    fn query(&self, name: &str) -> Option<String>;
}

impl Redirect for Answer {
    fn location(&self) -> url::Url {
        let location = self
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.text));
        url::Url::parse(location).expect("absolute Location")
    }

    fn query(&self, name: &str) -> Option<String> {
        self.location()
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    send_to(app, "fake.test:8080", method, uri, headers, body).await
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn authorize_query(extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email groups offline_access"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    form(&pairs)
}

/// Logs `user` in through the login form at `prefix` and returns the code.
async fn login(app: &Router, prefix: &str, user: &str, extra: &[(&str, &str)]) -> String {
    let mut body = authorize_query(extra);
    body.push_str("&user=");
    body.push_str(user);
    let answer = send(
        app,
        "POST",
        &format!("{prefix}/authorize"),
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    assert_eq!(answer.query("state").as_deref(), Some("st-1"));
    answer.query("code").expect("code")
}

fn basic() -> String {
    format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{SECRET}")))
}

async fn token(app: &Router, prefix: &str, pairs: &[(&str, &str)], auth: Option<&str>) -> Answer {
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(auth) = auth {
        headers.push(("authorization", auth));
    }
    send(
        app,
        "POST",
        &format!("{prefix}/token"),
        &headers,
        &form(pairs),
    )
    .await
}

async fn exchange(app: &Router, prefix: &str, code: &str) -> Answer {
    let auth = basic();
    token(
        app,
        prefix,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some(&auth),
    )
    .await
}

async fn refresh(app: &Router, prefix: &str, refresh_token: &str) -> Answer {
    let auth = basic();
    token(
        app,
        prefix,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
        Some(&auth),
    )
    .await
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json")
}

async fn control(app: &Router, uri: &str, body: Value) -> Answer {
    send(
        app,
        "POST",
        uri,
        &[("content-type", "application/json")],
        &body.to_string(),
    )
    .await
}

#[tokio::test]
async fn provider_is_off_without_a_client_id() {
    let app = app_with(OidcSettings::default());
    let answer = send(&app, "GET", "/.well-known/openid-configuration", &[], "").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = send(&app, "GET", "/oauth2/v1/keys", &[], "").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    // The Management API is untouched.
    let answer = send(
        &app,
        "GET",
        "/api/v1/users?limit=1",
        &[("authorization", "SSWS t")],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn discovery_of_both_servers_like_okta() {
    let app = app();
    let org = send(&app, "GET", "/.well-known/openid-configuration", &[], "")
        .await
        .json();
    assert_eq!(org["issuer"], BASE);
    assert_eq!(
        org["authorization_endpoint"],
        format!("{BASE}/oauth2/v1/authorize")
    );
    assert_eq!(org["token_endpoint"], format!("{BASE}/oauth2/v1/token"));
    assert_eq!(org["jwks_uri"], format!("{BASE}/oauth2/v1/keys"));
    assert_eq!(org["code_challenge_methods_supported"], json!(["S256"]));
    let custom = send(
        &app,
        "GET",
        "/oauth2/default/.well-known/openid-configuration",
        &[],
        "",
    )
    .await
    .json();
    assert_eq!(custom["issuer"], format!("{BASE}/oauth2/default"));
    assert_eq!(
        custom["userinfo_endpoint"],
        format!("{BASE}/oauth2/default/v1/userinfo")
    );
    let keys = send(&app, "GET", "/oauth2/default/v1/keys", &[], "")
        .await
        .json();
    assert_eq!(keys["keys"][0]["alg"], "RS256");
    assert_eq!(keys["keys"][0]["kty"], "RSA");
}

#[tokio::test]
async fn untrusted_client_or_redirect_gets_a_page_not_a_redirect() {
    let app = app();
    for query in [
        authorize_query(&[("client_id", "someone-else")]),
        authorize_query(&[("client_id", "")]),
        authorize_query(&[("redirect_uri", "https://evil.example/cb")]),
        authorize_query(&[("redirect_uri", "")]),
        format!("{}&client_id={CLIENT_ID}", authorize_query(&[])),
    ] {
        let answer = send(
            &app,
            "GET",
            &format!("/oauth2/v1/authorize?{query}"),
            &[],
            "",
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(answer.headers.get("location").is_none(), "{query}");
        assert!(answer.text.contains("error-summary"), "{}", answer.text);
    }
}

#[tokio::test]
async fn later_authorize_errors_go_back_to_the_client() {
    let app = app();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("scope", "openid okta.users.read")], "invalid_scope"),
        (&[("scope", "")], "invalid_scope"),
        (&[("scope", "profile")], "invalid_scope"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("code_challenge", "short")], "invalid_request"),
        (&[("prompt", "none")], "login_required"),
        (&[("prompt", "none login")], "invalid_request"),
    ];
    for (extra, error) in cases {
        let query = authorize_query(extra);
        let answer = send(
            &app,
            "GET",
            &format!("/oauth2/v1/authorize?{query}"),
            &[],
            "",
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::FOUND,
            "{extra:?}: {}",
            answer.text
        );
        assert!(
            answer.location().as_str().starts_with(REDIRECT),
            "{extra:?}"
        );
        assert_eq!(answer.query("error").as_deref(), Some(*error), "{extra:?}");
        assert_eq!(answer.query("state").as_deref(), Some("st-1"), "{extra:?}");
        assert!(answer.query("code").is_none());
    }
    let query = authorize_query(&[("state", "")]);
    let answer = send(
        &app,
        "GET",
        &format!("/oauth2/v1/authorize?{query}"),
        &[],
        "",
    )
    .await;
    assert_eq!(answer.query("error").as_deref(), Some("invalid_request"));
    assert_eq!(answer.query("state"), None);
}

#[tokio::test]
async fn login_page_has_one_escaped_button_per_demo_user() {
    let app = app();
    let query = authorize_query(&[("state", "\"><script>alert(1)</script>")]);
    let answer = send(
        &app,
        "GET",
        &format!("/oauth2/v1/authorize?{query}"),
        &[],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let page = &answer.text;
    assert!(
        page.contains("<form method=\"post\" action=\"authorize\">"),
        "{page}"
    );
    assert_eq!(
        page.matches("<button type=\"submit\" name=\"user\"")
            .count(),
        4,
        "{page}"
    );
    for who in ["alice", "bob", "carol", "dave"] {
        assert!(
            page.contains(&format!("Sign in as {who}@example.com")),
            "{page}"
        );
    }
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
    let csp = answer.headers["content-security-policy"]
        .to_str()
        .unwrap_or_default();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn code_flow_with_pkce_and_basic_auth() {
    let app = app();
    let code = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let answer = exchange(&app, "/oauth2/v1", &code).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["refresh_token"].is_string());
    let id = claims(tokens["id_token"].as_str().expect("id_token"));
    assert_eq!(id["iss"], BASE);
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["sub"], ALICE_ID);
    assert_eq!(id["nonce"], "n-1");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["preferred_username"], "alice@example.com");
    assert_eq!(id["groups"], json!(["Everyone", "sso-help-desk"]));
    assert!(id["exp"].as_i64() > id["iat"].as_i64());

    // The code worked once.
    let again = exchange(&app, "/oauth2/v1", &code).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn wrong_verifier_wrong_redirect_or_other_server_is_invalid_grant() {
    let app = app();
    let auth = basic();
    let code = login(&app, "/oauth2/v1", BOB_ID, &[]).await;
    let wrong = "x".repeat(43);
    let answer = token(
        &app,
        "/oauth2/v1",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
        Some(&auth),
    )
    .await;
    assert_eq!(answer.json()["error"], "invalid_grant");
    // A failed attempt spends the code.
    assert_eq!(
        exchange(&app, "/oauth2/v1", &code).await.json()["error"],
        "invalid_grant"
    );

    let code = login(&app, "/oauth2/v1", BOB_ID, &[]).await;
    let answer = token(
        &app,
        "/oauth2/v1",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
        Some(&auth),
    )
    .await;
    assert_eq!(answer.json()["error"], "invalid_grant", "missing verifier");

    let code = login(&app, "/oauth2/v1", BOB_ID, &[]).await;
    let answer = token(
        &app,
        "/oauth2/v1",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_verifier", VERIFIER),
        ],
        Some(&auth),
    )
    .await;
    assert_eq!(answer.json()["error"], "invalid_grant", "other redirect");

    let code = login(&app, "/oauth2/v1", BOB_ID, &[]).await;
    let answer = exchange(&app, "/oauth2/default/v1", &code).await;
    assert_eq!(answer.json()["error"], "invalid_grant", "other server");
}

#[tokio::test]
async fn client_authentication_like_okta() {
    let app = app();
    let code = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let wrong = format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:nope")));
    let answer = token(&app, "/oauth2/v1", &pairs, Some(&wrong)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_client");
    assert!(answer.headers.contains_key("www-authenticate"));

    let unknown = format!("Basic {}", STANDARD.encode(format!("other:{SECRET}")));
    let answer = token(&app, "/oauth2/v1", &pairs, Some(&unknown)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["error"], "invalid_client");

    let answer = token(&app, "/oauth2/v1", &pairs, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "no credentials");

    let mut both = pairs.to_vec();
    both.push(("client_secret", SECRET));
    let auth = basic();
    let answer = token(&app, "/oauth2/v1", &both, Some(&auth)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["error"], "invalid_request");

    // client_secret_post works (the code is still unspent: client checks come first).
    let mut post = pairs.to_vec();
    post.push(("client_id", CLIENT_ID));
    post.push(("client_secret", SECRET));
    let answer = token(&app, "/oauth2/v1", &post, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    let answer = token(
        &app,
        "/oauth2/v1",
        &[("grant_type", "password")],
        Some(&auth),
    )
    .await;
    assert_eq!(answer.json()["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn refresh_rotates_and_reads_groups_again() {
    let app = app();
    let code = login(&app, "/oauth2/default/v1", ALICE_ID, &[]).await;
    let first = exchange(&app, "/oauth2/default/v1", &code).await.json();
    let old = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    assert_eq!(
        claims(first["id_token"].as_str().expect("id"))["iss"],
        format!("{BASE}/oauth2/default")
    );

    let changed = control(
        &app,
        &format!("/__fake/users/{ALICE_ID}/groups"),
        json!({"groups": ["Everyone", "sso-super-admins"]}),
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.json()["overridden"], true);

    let second = refresh(&app, "/oauth2/default/v1", &old).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    let second = second.json();
    let new = second["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(new, old);
    let id = claims(second["id_token"].as_str().expect("id"));
    assert_eq!(id["groups"], json!(["Everyone", "sso-super-admins"]));
    assert_eq!(id["sub"], ALICE_ID);
    assert!(id.get("nonce").is_none());

    let reused = refresh(&app, "/oauth2/default/v1", &old).await;
    assert_eq!(reused.status, StatusCode::BAD_REQUEST);
    assert_eq!(reused.json()["error"], "invalid_grant");
    assert_eq!(
        refresh(&app, "/oauth2/v1", &new).await.json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        refresh(&app, "/oauth2/default/v1", &new).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_token() {
    let app = app();
    control(
        &app,
        "/__fake/oidc",
        json!({"rotate_refresh_tokens": false}),
    )
    .await;
    let code = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let rt = exchange(&app, "/oauth2/v1", &code).await.json()["refresh_token"]
        .as_str()
        .expect("rt")
        .to_owned();
    for _ in 0..2 {
        let answer = refresh(&app, "/oauth2/v1", &rt).await.json();
        assert_eq!(answer["refresh_token"], rt.as_str());
    }
}

#[tokio::test]
async fn userinfo_answers_groups_even_without_them_in_the_id_token() {
    let app = app();
    let set = control(&app, "/__fake/oidc", json!({"groups_in_id_token": false})).await;
    assert_eq!(set.json()["groups_in_id_token"], false);
    let code = login(&app, "/oauth2/v1", BOB_ID, &[]).await;
    let tokens = exchange(&app, "/oauth2/v1", &code).await.json();
    assert!(
        claims(tokens["id_token"].as_str().expect("id"))
            .get("groups")
            .is_none()
    );
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().expect("at"));
    let info = send(
        &app,
        "GET",
        "/oauth2/v1/userinfo",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.text);
    let info = info.json();
    assert_eq!(info["sub"], BOB_ID);
    assert_eq!(info["email"], "bob@example.com");
    assert_eq!(info["groups"], json!(["Everyone", "sso-security-admins"]));

    let other = send(
        &app,
        "GET",
        "/oauth2/default/v1/userinfo",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(
        other.status,
        StatusCode::UNAUTHORIZED,
        "token of the other server"
    );
    let bad = send(
        &app,
        "GET",
        "/oauth2/v1/userinfo",
        &[("authorization", "Bearer nope")],
        "",
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(
        bad.headers["www-authenticate"]
            .to_str()
            .unwrap_or_default()
            .contains("invalid_token")
    );
    let none = send(&app, "GET", "/oauth2/v1/userinfo", &[], "").await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn auto_login_skips_the_page() {
    let app = app();
    let set = control(
        &app,
        "/__fake/oidc",
        json!({"auto_login": "carol@example.com"}),
    )
    .await;
    assert_eq!(set.json()["auto_login"], "carol@example.com");
    for extra in [&[][..], &[("prompt", "none")][..]] {
        let query = authorize_query(extra);
        let answer = send(
            &app,
            "GET",
            &format!("/oauth2/v1/authorize?{query}"),
            &[],
            "",
        )
        .await;
        assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
        let code = answer.query("code").expect("code");
        let tokens = exchange(&app, "/oauth2/v1", &code).await.json();
        assert_eq!(
            claims(tokens["id_token"].as_str().expect("id"))["email"],
            "carol@example.com"
        );
    }
    let off = control(&app, "/__fake/oidc", json!({"auto_login": null})).await;
    assert_eq!(off.json()["auto_login"], Value::Null);
    let query = authorize_query(&[]);
    let page = send(
        &app,
        "GET",
        &format!("/oauth2/v1/authorize?{query}"),
        &[],
        "",
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn controls_refuse_bad_input() {
    let app = app();
    for body in [
        json!({"auto_login": "nobody@example.com"}),
        json!({"unknown": 1}),
        json!({"groups_in_id_token": "yes"}),
    ] {
        let answer = control(&app, "/__fake/oidc", body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    }
    let answer = control(&app, "/__fake/users/nobody/groups", json!({"groups": []})).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let answer = control(&app, &format!("/__fake/users/{ALICE_ID}/groups"), json!({})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let set = control(
        &app,
        "/__fake/users/alice@example.com/groups",
        json!({"groups": ["x"]}),
    )
    .await;
    assert_eq!(set.json()["groups"], json!(["x"]));
    let cleared = control(
        &app,
        &format!("/__fake/users/{ALICE_ID}/groups"),
        json!({"groups": null}),
    )
    .await;
    assert_eq!(
        cleared.json()["groups"],
        json!(["Everyone", "sso-help-desk"])
    );
    assert_eq!(cleared.json()["overridden"], false);
    let reset = send(&app, "POST", "/__fake/oidc/reset", &[], "").await;
    assert_eq!(reset.json()["rotate_refresh_tokens"], true);
    // The Management API's own control routes still work beside ours.
    let faults = send(&app, "GET", "/__fake/faults", &[], "").await;
    assert_eq!(faults.status, StatusCode::OK);
}

#[tokio::test]
async fn public_client_needs_pkce_and_no_secret() {
    let app = app_with(OidcSettings {
        client_id: Some(CLIENT_ID.into()),
        client_secret: None,
        redirect_uris: vec![REDIRECT.into()],
        id_jag: Default::default(),
        ..Default::default()
    });
    let query = authorize_query(&[("code_challenge", ""), ("code_challenge_method", "")]);
    let answer = send(
        &app,
        "GET",
        &format!("/oauth2/v1/authorize?{query}"),
        &[],
        "",
    )
    .await;
    assert_eq!(answer.query("error").as_deref(), Some("invalid_request"));
    let code = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let answer = token(
        &app,
        "/oauth2/v1",
        &[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        s256(VERIFIER),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn settings_checks_name_the_flag() {
    let ok = OidcSettings {
        client_id: Some("c".into()),
        client_secret: Some("s".into()),
        redirect_uris: vec![REDIRECT.into()],
        id_jag: Default::default(),
        ..Default::default()
    };
    assert!(ok.check().is_ok());
    assert!(OidcSettings::default().check().is_ok());
    let no_redirect = OidcSettings {
        redirect_uris: vec![],
        ..ok.clone()
    };
    assert!(no_redirect.check().unwrap_err().contains("--redirect-uri"));
    let bad_redirect = OidcSettings {
        redirect_uris: vec!["not a url".into()],
        ..ok.clone()
    };
    assert!(bad_redirect.check().is_err());
    let orphan = OidcSettings {
        client_id: None,
        ..ok
    };
    assert!(orphan.check().unwrap_err().contains("--client-id"));
}

#[tokio::test]
async fn users_who_are_no_longer_active_get_no_tokens_like_at_okta() {
    let app = app();
    let code = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let tokens = exchange(&app, "/oauth2/v1", &code).await.json();
    let mut refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let pending = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let lifecycle = |operation: &str| {
        let uri = format!("/__fake/users/{ALICE_ID}/lifecycle/{operation}");
        let app = app.clone();
        async move { send(&app, "POST", &uri, &[], "").await.status }
    };
    // Auto-login is set while she is active; it must not let her in once she is not.
    let set = control(&app, "/__fake/oidc", json!({"auto_login": ALICE_ID})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    for (off, on) in [
        ("suspend", Some("unsuspend")),
        ("lock", Some("unlock")),
        ("deactivate", None),
    ] {
        assert_eq!(lifecycle(off).await, StatusCode::OK, "{off}");
        let refused = refresh(&app, "/oauth2/v1", &refresh_token).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{off}");
        assert_eq!(refused.json()["error"], "invalid_grant", "{off}");
        let userinfo = send(
            &app,
            "GET",
            "/oauth2/v1/userinfo",
            &[("authorization", &format!("Bearer {access}"))],
            "",
        )
        .await;
        assert_eq!(userinfo.status, StatusCode::UNAUTHORIZED, "{off}");
        // No new login either: not with the page, not with auto-login.
        let mut body = authorize_query(&[]);
        body.push_str(&format!("&user={ALICE_ID}"));
        let page = send(
            &app,
            "POST",
            "/oauth2/v1/authorize",
            &[("content-type", "application/x-www-form-urlencoded")],
            &body,
        )
        .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{off}");
        let query = authorize_query(&[]);
        let auto = send(
            &app,
            "GET",
            &format!("/oauth2/v1/authorize?{query}"),
            &[],
            "",
        )
        .await;
        assert_eq!(auto.status, StatusCode::BAD_REQUEST, "{off}");
        assert!(auto.text.contains("inactive"), "{off}: {}", auto.text);
        let Some(on) = on else {
            break;
        };
        // Active again: the refresh token refused meanwhile works again (Okta keeps tokens
        // across a suspension or a lock).
        assert_eq!(lifecycle(on).await, StatusCode::OK, "{on}");
        let again = refresh(&app, "/oauth2/v1", &refresh_token).await;
        assert_eq!(again.status, StatusCode::OK, "{on}: {}", again.text);
        refresh_token = again.json()["refresh_token"].as_str().unwrap().to_owned();
    }
    // A code issued before the deactivation is refused after it.
    let refused = exchange(&app, "/oauth2/v1", &pending).await;
    assert_eq!(refused.json()["error"], "invalid_grant");
}

// The strict modes of the proxy's app: private_key_jwt, DPoP, PAR, `iss`, scopes, userinfo.

use okta_mcp_tool_server::okta::jose as client_jose;

/// A provider for a `private_key_jwt` client (and `extra` switches); its key and the tempdir.
fn strict_app(
    keyed: bool,
    dpop: bool,
    par: bool,
) -> (Router, Option<client_jose::SigningKey>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let key = keyed.then(|| client_jose::SigningKey::generate_es256().expect("key"));
    let jwks = key.as_ref().map(|key| {
        let path = dir.path().join("client.jwks.json");
        std::fs::write(&path, json!({"keys": [key.public_jwk()]}).to_string()).expect("write");
        path
    });
    let app = app_with(OidcSettings {
        client_id: Some(CLIENT_ID.into()),
        client_secret: (!keyed).then(|| SECRET.into()),
        redirect_uris: vec![REDIRECT.into()],
        client_jwks_file: jwks,
        require_dpop: dpop,
        require_par: par,
        ..Default::default()
    });
    (app, key, dir)
}

fn assertion(key: &client_jose::SigningKey, aud: &str) -> String {
    client_jose::client_assertion(key, None, CLIENT_ID, aud, chrono::Utc::now().timestamp())
        .expect("assertion")
}

const TOKEN_URL: &str = "http://fake.test:8080/oauth2/v1/token";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[tokio::test]
async fn private_key_jwt_client_refuses_secrets_and_bad_assertions() {
    let (app, key, _dir) = strict_app(true, false, false);
    let key = key.expect("key");
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", "nope"),
        ("redirect_uri", REDIRECT),
    ];
    let answer = token(&app, "/oauth2/v1", &grant, Some(&basic())).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(answer.text.contains("private_key_jwt"), "{}", answer.text);
    let with = |assertion: String| {
        let mut pairs: Vec<(&str, String)> =
            grant.iter().map(|(k, v)| (*k, v.to_string())).collect();
        pairs.push(("client_id", CLIENT_ID.into()));
        pairs.push(("client_assertion_type", ASSERTION_TYPE.into()));
        pairs.push(("client_assertion", assertion));
        pairs
    };
    for (bad, says) in [
        (
            assertion(&key, "http://fake.test:8080/oauth2/v1/par"),
            "audience",
        ),
        ("not.a.jwt".to_owned(), "base64url"),
        (String::new(), "compact JWS"),
        (
            assertion(
                &client_jose::SigningKey::generate_es256().expect("key"),
                TOKEN_URL,
            ),
            "signature is invalid",
        ),
    ] {
        let pairs = with(bad);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = token(&app, "/oauth2/v1", &pairs, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
        assert!(answer.text.contains(says), "{says}: {}", answer.text);
    }
    // A good assertion authenticates (the code is still bad); used again, it is refused.
    let good = with(assertion(&key, TOKEN_URL));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = token(&app, "/oauth2/v1", &good, None).await;
    assert_eq!(answer.json()["error"], "invalid_grant", "{}", answer.text);
    let answer = token(&app, "/oauth2/v1", &good, None).await;
    assert!(answer.text.contains("already been used"), "{}", answer.text);
    // A secret client does not take assertions.
    let (secret_app, _, _dir) = strict_app(false, false, false);
    let answer = token(&secret_app, "/oauth2/v1", &good, None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
}

#[tokio::test]
async fn dpop_app_wants_a_proof_then_a_nonce_and_binds_its_tokens() {
    let (app, _, _dir) = strict_app(false, true, false);
    let code = login(&app, "/oauth2/v1", ALICE_ID, &[]).await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let post = |proof: Option<String>| {
        let app = app.clone();
        let body = form(&pairs);
        async move {
            let auth = basic();
            let mut headers = vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("authorization", auth.as_str()),
            ];
            if let Some(proof) = &proof {
                headers.push(("dpop", proof.as_str()));
            }
            send(&app, "POST", "/oauth2/v1/token", &headers, &body).await
        }
    };
    let answer = post(None).await;
    assert_eq!(
        answer.json()["error"],
        "invalid_dpop_proof",
        "{}",
        answer.text
    );
    let answer = post(Some("garbage".into())).await;
    assert_eq!(
        answer.json()["error"],
        "invalid_dpop_proof",
        "{}",
        answer.text
    );
    let key = client_jose::SigningKey::generate_es256().expect("key");
    let now = chrono::Utc::now().timestamp();
    let proof = |nonce: Option<&str>, token: Option<&str>, method: &str, url: &str| {
        client_jose::dpop_proof(&key, method, url, token, nonce, now).expect("proof")
    };
    let answer = post(Some(proof(None, None, "POST", TOKEN_URL))).await;
    assert_eq!(answer.json()["error"], "use_dpop_nonce", "{}", answer.text);
    let nonce = answer.headers["dpop-nonce"]
        .to_str()
        .expect("nonce")
        .to_owned();
    let answer = post(Some(proof(Some(&nonce), None, "POST", TOKEN_URL))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let tokens = answer.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().expect("access token");
    assert!(claims(access)["cnf"]["jkt"].is_string());
    // Userinfo: Bearer is refused for a bound token; DPoP needs a proof with ath and the nonce.
    let userinfo = "http://fake.test:8080/oauth2/v1/userinfo";
    let bearer = format!("Bearer {access}");
    let answer = send(
        &app,
        "GET",
        "/oauth2/v1/userinfo",
        &[("authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let dpop = format!("DPoP {access}");
    let no_ath = proof(Some(&nonce), None, "GET", userinfo);
    let answer = send(
        &app,
        "GET",
        "/oauth2/v1/userinfo",
        &[("authorization", &dpop), ("dpop", &no_ath)],
        "",
    )
    .await;
    assert!(
        answer.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("ath"),
        "{:?}",
        answer.headers
    );
    let good = proof(Some(&nonce), Some(access), "GET", userinfo);
    let answer = send(
        &app,
        "GET",
        "/oauth2/v1/userinfo",
        &[("authorization", &dpop), ("dpop", &good)],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.headers);
    assert!(answer.json()["groups"].is_array());
}

#[tokio::test]
async fn par_gives_a_one_time_request_uri_and_required_par_refuses_plain_requests() {
    let (app, _, _dir) = strict_app(false, false, true);
    let discovery = send(&app, "GET", "/.well-known/openid-configuration", &[], "")
        .await
        .json();
    assert_eq!(discovery["require_pushed_authorization_requests"], true);
    assert_eq!(
        discovery["pushed_authorization_request_endpoint"],
        "http://fake.test:8080/oauth2/v1/par"
    );
    assert_eq!(
        discovery["authorization_response_iss_parameter_supported"],
        true
    );
    let plain = send(
        &app,
        "GET",
        &format!("/oauth2/v1/authorize?{}", authorize_query(&[])),
        &[],
        "",
    )
    .await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert!(
        plain.text.contains("pushed authorization requests"),
        "{}",
        plain.text
    );
    let push = |auth: Option<String>, body: String| {
        let app = app.clone();
        async move {
            let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
            if let Some(auth) = &auth {
                headers.push(("authorization", auth.as_str()));
            }
            send(&app, "POST", "/oauth2/v1/par", &headers, &body).await
        }
    };
    assert_eq!(
        push(None, authorize_query(&[])).await.status,
        StatusCode::UNAUTHORIZED
    );
    let bad_redirect = push(
        Some(basic()),
        authorize_query(&[("redirect_uri", "http://evil.example/cb")]),
    )
    .await;
    assert_eq!(
        bad_redirect.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_redirect.text
    );
    let pushed = push(Some(basic()), authorize_query(&[])).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text);
    let request_uri = pushed.json()["request_uri"]
        .as_str()
        .expect("request_uri")
        .to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(pushed.json()["expires_in"], 60);
    control(&app, "/__fake/oidc", json!({"auto_login": ALICE_ID})).await;
    let by_reference = format!(
        "/oauth2/v1/authorize?{}",
        form(&[("client_id", CLIENT_ID), ("request_uri", &request_uri)])
    );
    let answer = send(&app, "GET", &by_reference, &[], "").await;
    assert_eq!(answer.status, StatusCode::FOUND, "{}", answer.text);
    assert!(answer.query("code").is_some());
    assert_eq!(answer.query("iss").as_deref(), Some(BASE));
    let again = send(&app, "GET", &by_reference, &[], "").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.text.contains("invalid or has expired"),
        "{}",
        again.text
    );
}

#[tokio::test]
async fn iss_and_userinfo_controls_and_their_bad_values() {
    let app = app();
    control(&app, "/__fake/oidc", json!({"auto_login": ALICE_ID})).await;
    let authorize = format!("/oauth2/v1/authorize?{}", authorize_query(&[]));
    let answer = send(&app, "GET", &authorize, &[], "").await;
    assert_eq!(answer.query("iss").as_deref(), Some(BASE));
    control(
        &app,
        "/__fake/oidc",
        json!({"authorize_iss": "https://evil.example"}),
    )
    .await;
    let answer = send(&app, "GET", &authorize, &[], "").await;
    assert_eq!(answer.query("iss").as_deref(), Some("https://evil.example"));
    control(&app, "/__fake/oidc", json!({"authorize_iss": null})).await;
    let answer = send(&app, "GET", &authorize, &[], "").await;
    assert_eq!(answer.query("iss"), None);
    assert!(answer.query("code").is_some());
    for bad in [
        json!({"userinfo_status": 200}),
        json!({"userinfo_status": "x"}),
        json!({"authorize_iss": 1}),
    ] {
        let answer = control(&app, "/__fake/oidc", bad.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    control(&app, "/__fake/oidc", json!({"userinfo_status": 503})).await;
    let answer = send(
        &app,
        "GET",
        "/oauth2/v1/userinfo",
        &[("authorization", "Bearer x")],
        "",
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn scopes_supported_can_be_narrowed() {
    let app = app_with(OidcSettings {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(SECRET.into()),
        redirect_uris: vec![REDIRECT.into()],
        scopes_supported: vec!["openid".into(), "email".into()],
        ..Default::default()
    });
    let discovery = send(&app, "GET", "/.well-known/openid-configuration", &[], "")
        .await
        .json();
    assert_eq!(discovery["scopes_supported"], json!(["openid", "email"]));
}

#[test]
fn strict_flags_are_checked_at_start_up() {
    let dir = tempfile::tempdir().expect("dir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{}").expect("write");
    let with_key = OidcSettings {
        client_id: Some("c".into()),
        redirect_uris: vec![REDIRECT.into()],
        client_jwks_file: Some(bad),
        ..Default::default()
    };
    assert!(with_key.check().unwrap_err().contains("--client-jwks-file"));
    let both = OidcSettings {
        client_secret: Some("s".into()),
        ..with_key.clone()
    };
    assert!(both.check().unwrap_err().contains("--client-secret"));
    let no_client = OidcSettings {
        require_dpop: true,
        ..Default::default()
    };
    assert!(no_client.check().unwrap_err().contains("--client-id"));
}
