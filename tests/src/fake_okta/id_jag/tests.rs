//! Cross App Access through the real router (no sockets).

use super::{
    ID_JAG_TOKEN_TYPE, ID_JAG_TYP, ID_TOKEN_TYPE, IdJag, IdJagSettings, TOKEN_EXCHANGE, is_exchange,
};
use crate::fake_okta::dataset::{ALICE_ID, BOB_ID};
use crate::fake_okta::in_process::{self, Answer, send_to};
use crate::fake_okta::oidc::OidcSettings;
use axum::Router;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::{Value, json};

const HOST: &str = "fake.test:8080";
const BASE: &str = "http://fake.test:8080";
const MCP: &str = "0oamcpclient";
const MCP_SECRET: &str = "mcp-secret";
const OTHER: &str = "0oaotherclient";
const OTHER_SECRET: &str = "other-secret";
const AUDIENCE: &str = "https://rs.example.test";
const RS_CLIENT_ID: &str = "rs-client-for-mcp";

fn settings(groups_claim: bool) -> IdJagSettings {
    IdJagSettings {
        id_jag_clients: vec![
            format!("{MCP}:{MCP_SECRET}"),
            format!("{OTHER}:{OTHER_SECRET}"),
        ],
        id_jag_policies: vec![format!(
            "requester={MCP},audience={AUDIENCE},client_id={RS_CLIENT_ID}"
        )],
        id_jag_groups_claim: groups_claim,
        id_jag_ttl_secs: 120,
    }
}

fn app_with(id_jag: IdJagSettings) -> Router {
    in_process::app_with(OidcSettings {
        client_id: Some("0oawebclient".into()),
        client_secret: Some("web-secret".into()),
        redirect_uris: vec!["http://localhost:3001/oauth/callback".into()],
        id_jag,
        ..Default::default()
    })
}

fn app() -> Router {
    app_with(settings(false))
}

/// The OAuth error of an answer.
trait OAuthErrorAnswer {
    fn oauth_error(&self, status: StatusCode, error: &str) -> String;
}

impl OAuthErrorAnswer for Answer {
    /// Asserts an OAuth error answer and returns its description.
    fn oauth_error(&self, status: StatusCode, error: &str) -> String {
        assert_eq!(self.status, status, "{}", self.text);
        let body = self.json();
        assert_eq!(body["error"], error, "{}", self.text);
        body["error_description"]
            .as_str()
            .expect("error_description")
            .to_owned()
    }
}

async fn post_json(app: &Router, uri: &str, body: Value) -> Answer {
    send_to(
        app,
        HOST,
        "POST",
        uri,
        &[("content-type", "application/json")],
        &body.to_string(),
    )
    .await
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// An ID token of `user` for the requesting app `client`, as the org at `host` issues it.
async fn id_token_from(app: &Router, host: &str, user: &str, client: &str) -> String {
    let answer = send_to(
        app,
        host,
        "POST",
        "/__fake/id-jag/id-token",
        &[("content-type", "application/json")],
        &json!({ "user": user, "client_id": client }).to_string(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["id_token"]
        .as_str()
        .expect("id_token")
        .to_owned()
}

async fn id_token(app: &Router, user: &str, client: &str) -> String {
    id_token_from(app, HOST, user, client).await
}

/// The exchange parameters for `subject_token`, with `changes` replacing (or, when empty,
/// removing) parameters.
fn exchange_params(subject_token: &str, changes: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("requested_token_type", ID_JAG_TOKEN_TYPE),
        ("subject_token", subject_token),
        ("subject_token_type", ID_TOKEN_TYPE),
        ("audience", AUDIENCE),
    ];
    for (name, value) in changes {
        pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    form(&pairs)
}

/// A token exchange by `client` with HTTP Basic authentication.
async fn exchange_as(app: &Router, client: (&str, &str), body: &str) -> Answer {
    let authorization = basic(client.0, client.1);
    send_to(
        app,
        HOST,
        "POST",
        "/oauth2/v1/token",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &authorization),
        ],
        body,
    )
    .await
}

async fn exchange(app: &Router, body: &str) -> Answer {
    exchange_as(app, (MCP, MCP_SECRET), body).await
}

fn decode_part(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

/// Header and claims of a JWT whose signature verifies against the org's published JWKS.
async fn verified(app: &Router, jwt: &str) -> (Value, Value) {
    let jwks = send_to(app, HOST, "GET", "/oauth2/v1/keys", &[], "")
        .await
        .json();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let header = decode_part(parts[0]);
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is in the JWKS");
    let component = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().expect("component"))
            .expect("base64url")
    };
    let public = RsaPublicKeyComponents {
        n: component("n"),
        e: component("e"),
    };
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).expect("signature"),
        )
        .expect("signature verifies against the JWKS");
    (header, decode_part(parts[1]))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn exchange_issues_an_id_jag_signed_by_the_org_key() {
    let app = app();
    let subject = id_token(&app, "alice@example.com", MCP).await;
    let (_, id_claims) = verified(&app, &subject).await;
    let answer = exchange(
        &app,
        &exchange_params(
            &subject,
            &[
                ("resource", "https://rs.example.test/mcp"),
                ("scope", "tools.read  tools.call"),
            ],
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["cache-control"], "no-store");
    let body = answer.json();
    assert_eq!(body["issued_token_type"], ID_JAG_TOKEN_TYPE);
    assert_eq!(body["token_type"], "N_A");
    assert_eq!(body["expires_in"], 120);
    assert_eq!(body["scope"], "tools.read tools.call");
    assert!(body.get("refresh_token").is_none());
    let (header, claims) = verified(&app, body["access_token"].as_str().expect("jwt")).await;
    assert_eq!(header["typ"], ID_JAG_TYP);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], BASE);
    assert_eq!(claims["sub"], ALICE_ID);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["client_id"], RS_CLIENT_ID);
    assert_eq!(claims["resource"], "https://rs.example.test/mcp");
    assert_eq!(claims["scope"], "tools.read tools.call");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["auth_time"], id_claims["auth_time"]);
    let iat = claims["iat"].as_i64().expect("iat");
    assert!((iat - now()).abs() < 5);
    assert_eq!(claims["exp"].as_i64(), Some(iat + 120));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(claims.get("groups").is_none(), "groups only with the flag");

    // No `scope` asked, none answered; each ID-JAG has its own `jti`.
    let again = exchange(&app, &exchange_params(&subject, &[])).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert!(again.json().get("scope").is_none());
    let (_, second) = verified(&app, again.json()["access_token"].as_str().expect("jwt")).await;
    assert_ne!(second["jti"], claims["jti"]);
    assert!(second.get("resource").is_none() && second.get("scope").is_none());
}

#[tokio::test]
async fn id_token_stands_in_for_the_sso_login() {
    let app = app();
    let token = id_token(&app, ALICE_ID, MCP).await;
    let (header, claims) = verified(&app, &token).await;
    assert!(header.get("typ").is_none());
    assert_eq!(claims["iss"], BASE);
    assert_eq!(claims["aud"], MCP);
    assert_eq!(claims["sub"], ALICE_ID);
    assert_eq!(claims["email"], "alice@example.com");
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64(), Some(iat + 3600));
    assert_eq!(claims["auth_time"].as_i64(), Some(iat));

    let unknown_client = post_json(
        &app,
        "/__fake/id-jag/id-token",
        json!({ "user": ALICE_ID, "client_id": "0oanobody" }),
    )
    .await;
    assert_eq!(unknown_client.status, StatusCode::BAD_REQUEST);
    let unknown_user = post_json(
        &app,
        "/__fake/id-jag/id-token",
        json!({ "user": "nobody@example.com", "client_id": MCP }),
    )
    .await;
    assert_eq!(unknown_user.status, StatusCode::NOT_FOUND);
    let bad_body = post_json(&app, "/__fake/id-jag/id-token", json!({ "user": ALICE_ID })).await;
    assert_eq!(bad_body.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn client_secret_post_works_and_both_methods_at_once_are_refused() {
    let app = app();
    let subject = id_token(&app, "alice@example.com", MCP).await;
    let posted = exchange_params(
        &subject,
        &[("client_id", MCP), ("client_secret", MCP_SECRET)],
    );
    let answer = send_to(
        &app,
        HOST,
        "POST",
        "/oauth2/v1/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &posted,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);

    let both = exchange(&app, &posted).await;
    let description = both.oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(
        description.contains("multiple client credentials"),
        "{description}"
    );
}

#[tokio::test]
async fn bad_client_authentication_is_invalid_client() {
    let app = app();
    let subject = id_token(&app, "alice@example.com", MCP).await;
    let body = exchange_params(&subject, &[]);
    let wrong_secret = exchange_as(&app, (MCP, "nope"), &body).await;
    wrong_secret.oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(wrong_secret.headers.contains_key("www-authenticate"));
    let unknown = exchange_as(&app, ("0oanobody", "x"), &body).await;
    unknown.oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // The web app of `--client-id` is no requesting app.
    let web = exchange_as(&app, ("0oawebclient", "web-secret"), &body).await;
    web.oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let anonymous = send_to(
        &app,
        HOST,
        "POST",
        "/oauth2/v1/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    anonymous.oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let no_secret = send_to(
        &app,
        HOST,
        "POST",
        "/oauth2/v1/token",
        &[("content-type", "application/x-www-form-urlencoded")],
        &exchange_params(&subject, &[("client_id", MCP)]),
    )
    .await;
    no_secret.oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
}

#[tokio::test]
async fn missing_duplicate_and_unsupported_parameters_are_invalid_request() {
    let app = app();
    let subject = id_token(&app, "alice@example.com", MCP).await;
    for name in [
        "requested_token_type",
        "subject_token",
        "subject_token_type",
        "audience",
    ] {
        let answer = exchange(&app, &exchange_params(&subject, &[(name, "")])).await;
        let description = answer.oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        assert!(description.contains(name), "{name}: {description}");
    }
    let twice = format!(
        "{}&audience=https%3A%2F%2Fother.test",
        exchange_params(&subject, &[])
    );
    let description = exchange(&app, &twice)
        .await
        .oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(description.contains("more than once"), "{description}");
    let access_token = exchange(
        &app,
        &exchange_params(
            &subject,
            &[(
                "requested_token_type",
                "urn:ietf:params:oauth:token-type:access_token",
            )],
        ),
    )
    .await;
    access_token.oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    let saml = exchange(
        &app,
        &exchange_params(
            &subject,
            &[(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            )],
        ),
    )
    .await;
    saml.oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    let relative = exchange(&app, &exchange_params(&subject, &[("resource", "/mcp")])).await;
    relative.oauth_error(StatusCode::BAD_REQUEST, "invalid_target");
    let blank_scope = exchange(&app, &exchange_params(&subject, &[("scope", " ")])).await;
    blank_scope.oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
}

#[tokio::test]
async fn bad_subject_tokens_are_invalid_grant() {
    let app = app();
    let good = id_token(&app, "alice@example.com", MCP).await;
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let foreign = id_token_from(&app, "evil.test:8080", "alice@example.com", MCP).await;
    let for_other = id_token(&app, "alice@example.com", OTHER).await;
    let expired = post_json(
        &app,
        "/__fake/id-jag/mint",
        json!({
            "user": "alice@example.com", "audience": MCP, "client_id": MCP, "typ": "",
            "claims": { "exp": now() - 10, "iat": now() - 3610 },
        }),
    )
    .await
    .json()["assertion"]
        .as_str()
        .expect("assertion")
        .to_owned();
    // An ID-JAG is no ID token, even when addressed to the client.
    let id_jag = post_json(
        &app,
        "/__fake/id-jag/mint",
        json!({ "user": "alice@example.com", "audience": MCP, "client_id": MCP }),
    )
    .await
    .json()["assertion"]
        .as_str()
        .expect("assertion")
        .to_owned();
    for (case, subject, expected) in [
        ("garbage", "not-a-jwt", "invalid"),
        ("tampered", tampered.as_str(), "invalid"),
        ("foreign issuer", foreign.as_str(), "invalid"),
        ("another client's", for_other.as_str(), "not issued"),
        ("expired", expired.as_str(), "expired"),
        ("an ID-JAG", id_jag.as_str(), "invalid"),
    ] {
        let answer = exchange(&app, &exchange_params(subject, &[])).await;
        let description = answer.oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        assert!(description.contains(expected), "{case}: {description}");
    }
}

#[tokio::test]
async fn a_user_who_is_no_longer_active_gets_no_id_jag() {
    let app = app();
    let subject = id_token(&app, ALICE_ID, MCP).await;
    let suspend = send_to(
        &app,
        HOST,
        "POST",
        &format!("/__fake/users/{ALICE_ID}/lifecycle/suspend"),
        &[],
        "",
    )
    .await;
    assert_eq!(suspend.status, StatusCode::OK, "{}", suspend.text);
    let description = exchange(&app, &exchange_params(&subject, &[]))
        .await
        .oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(description.contains("not active"), "{description}");
    let login = post_json(
        &app,
        "/__fake/id-jag/id-token",
        json!({ "user": ALICE_ID, "client_id": MCP }),
    )
    .await;
    assert_eq!(login.status, StatusCode::BAD_REQUEST);
    assert!(login.text.contains("SUSPENDED"), "{}", login.text);
}

#[tokio::test]
async fn an_audience_without_a_policy_is_invalid_target() {
    let app = app();
    let subject = id_token(&app, "alice@example.com", MCP).await;
    let elsewhere = exchange(
        &app,
        &exchange_params(&subject, &[("audience", "https://other.example.test")]),
    )
    .await;
    elsewhere.oauth_error(StatusCode::BAD_REQUEST, "invalid_target");
    // The policy names the requester: another app gets nothing for the same audience.
    let other_subject = id_token(&app, "alice@example.com", OTHER).await;
    let other = exchange_as(
        &app,
        (OTHER, OTHER_SECRET),
        &exchange_params(&other_subject, &[]),
    )
    .await;
    other.oauth_error(StatusCode::BAD_REQUEST, "invalid_target");
    let stats = send_to(&app, HOST, "GET", "/__fake/id-jag", &[], "")
        .await
        .json();
    assert_eq!(stats["stats"]["exchanges_refused"], 2);
    assert_eq!(stats["stats"]["exchanges_issued"], 0);
    assert_eq!(stats["clients"], json!([MCP, OTHER]));
}

#[tokio::test]
async fn groups_are_in_the_id_jag_only_with_the_flag() {
    for flag in [false, true] {
        let app = app_with(settings(flag));
        let subject = id_token(&app, "alice@example.com", MCP).await;
        let answer = exchange(&app, &exchange_params(&subject, &[])).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let (_, claims) =
            verified(&app, answer.json()["access_token"].as_str().expect("jwt")).await;
        if flag {
            let groups = claims["groups"].as_array().expect("groups");
            assert!(groups.iter().any(|g| g == "sso-help-desk"), "{groups:?}");
        } else {
            assert!(claims.get("groups").is_none());
        }
    }
}

#[tokio::test]
async fn discovery_lists_token_exchange_on_the_org_server_only_when_on() {
    for (on, app) in [(true, app()), (false, app_with(IdJagSettings::default()))] {
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let grants =
                send_to(&app, HOST, "GET", path, &[], "").await.json()["grant_types_supported"]
                    .clone();
            let listed = grants
                .as_array()
                .expect("grants")
                .contains(&json!(TOKEN_EXCHANGE));
            assert_eq!(listed, on, "{path}: {grants}");
        }
        let default = send_to(
            &app,
            HOST,
            "GET",
            "/oauth2/default/.well-known/openid-configuration",
            &[],
            "",
        )
        .await
        .json();
        assert!(
            !default["grant_types_supported"]
                .as_array()
                .expect("grants")
                .contains(&json!(TOKEN_EXCHANGE))
        );
    }
}

#[tokio::test]
async fn exchange_is_an_org_server_grant_and_off_without_the_flags() {
    let app = app();
    let subject = id_token(&app, "alice@example.com", MCP).await;
    let authorization = basic(MCP, MCP_SECRET);
    let at_default = send_to(
        &app,
        HOST,
        "POST",
        "/oauth2/default/v1/token",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("authorization", &authorization),
        ],
        &exchange_params(&subject, &[]),
    )
    .await;
    assert_eq!(
        at_default.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        at_default.text
    );

    let off = app_with(IdJagSettings::default());
    let web = exchange_as(
        &off,
        ("0oawebclient", "web-secret"),
        &exchange_params(&subject, &[]),
    )
    .await;
    web.oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    let control = post_json(
        &off,
        "/__fake/id-jag/id-token",
        json!({ "user": ALICE_ID, "client_id": MCP }),
    )
    .await;
    assert_ne!(control.status, StatusCode::OK);
}

#[tokio::test]
async fn mint_signs_overridden_claims_and_typ() {
    let app = app_with(settings(true));
    let minted = post_json(
        &app,
        "/__fake/id-jag/mint",
        json!({
            "user": "bob@example.com",
            "audience": "https://x.test",
            "client_id": "c",
            "claims": { "iss": "https://evil.test", "exp": 123, "groups": null, "resource": "https://x.test/mcp" },
            "typ": "JWT",
        }),
    )
    .await;
    assert_eq!(minted.status, StatusCode::OK, "{}", minted.text);
    let (header, claims) = verified(&app, minted.json()["assertion"].as_str().expect("jwt")).await;
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["iss"], "https://evil.test");
    assert_eq!(claims["exp"], 123);
    assert_eq!(claims["sub"], BOB_ID);
    assert_eq!(claims["aud"], "https://x.test");
    assert_eq!(claims["client_id"], "c");
    assert_eq!(claims["resource"], "https://x.test/mcp");
    assert!(claims.get("groups").is_none(), "null removes a claim");

    let plain = post_json(
        &app,
        "/__fake/id-jag/mint",
        json!({ "user": ALICE_ID, "audience": AUDIENCE, "client_id": RS_CLIENT_ID }),
    )
    .await;
    let (header, claims) = verified(&app, plain.json()["assertion"].as_str().expect("jwt")).await;
    assert_eq!(header["typ"], ID_JAG_TYP);
    assert_eq!(claims["iss"], BASE);
    assert!(claims["groups"].is_array());

    let untyped = post_json(
        &app,
        "/__fake/id-jag/mint",
        json!({ "user": ALICE_ID, "audience": AUDIENCE, "client_id": RS_CLIENT_ID, "typ": "" }),
    )
    .await;
    let (header, _) = verified(&app, untyped.json()["assertion"].as_str().expect("jwt")).await;
    assert!(header.get("typ").is_none());

    let nobody = post_json(
        &app,
        "/__fake/id-jag/mint",
        json!({ "user": "nobody@example.com", "audience": AUDIENCE, "client_id": "c" }),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
}

#[test]
fn settings_are_checked_with_messages_naming_the_flag() {
    assert!(IdJag::from_settings(&IdJagSettings::default()).is_ok_and(|j| j.is_none()));
    assert!(IdJag::from_settings(&settings(false)).is_ok_and(|j| j.is_some()));
    let with = |clients: &[&str], policies: &[&str]| IdJagSettings {
        id_jag_clients: clients.iter().map(|s| (*s).to_owned()).collect(),
        id_jag_policies: policies.iter().map(|s| (*s).to_owned()).collect(),
        ..IdJagSettings::default()
    };
    for (clients, policies, flag) in [
        (&["nosecret"][..], &[][..], "--id-jag-client"),
        (&[":s"], &[], "--id-jag-client"),
        (&["a:s", "a:t"], &[], "--id-jag-client"),
        (
            &[],
            &["requester=a,audience=u,client_id=c"],
            "--id-jag-policy",
        ),
        (
            &["a:s"],
            &["requester=b,audience=u,client_id=c"],
            "--id-jag-policy",
        ),
        (&["a:s"], &["requester=a,audience=u"], "--id-jag-policy"),
        (
            &["a:s"],
            &["requester=a,audience=u,client_id=c,x=y"],
            "--id-jag-policy",
        ),
        (
            &["a:s"],
            &["requester=a,audience=,client_id=c"],
            "--id-jag-policy",
        ),
        (
            &["a:s"],
            &[
                "requester=a,audience=u,client_id=c",
                "requester=a,audience=u,client_id=d",
            ],
            "--id-jag-policy",
        ),
    ] {
        let error = IdJag::from_settings(&with(clients, policies)).expect_err("refused");
        assert!(error.contains(flag), "{clients:?} {policies:?}: {error}");
    }
    let without_provider = OidcSettings {
        id_jag: settings(false),
        ..OidcSettings::default()
    };
    assert!(
        without_provider
            .check()
            .unwrap_err()
            .contains("--client-id")
    );
}

#[test]
fn token_exchange_is_never_a_service_app_request() {
    assert!(is_exchange(
        format!("grant_type={TOKEN_EXCHANGE}&client_assertion=x").as_bytes()
    ));
    assert!(!is_exchange(
        b"grant_type=client_credentials&client_assertion=x"
    ));
}
