//! The fake org's OIDC provider over real HTTP, driven the way a relying party drives Okta:
//! discovery, authorize (login form or `auto_login`), code exchange with PKCE, ID token checked
//! against the JWKS, userinfo, refresh rotation, and a group change seen at refresh.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use okta_mcp_tests::fake_okta::dataset::{ALICE_ID, BOB_ID};
use okta_mcp_tests::harness::{FakeOkta, TEST_API_TOKEN};
use reqwest::StatusCode;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::{Value, json};
use std::process::{Command, Stdio};

const CLIENT_ID: &str = "0oaproxyclient";
const SECRET: &str = "proxy-client-secret";
const REDIRECT: &str = "http://localhost:3001/oauth/callback";
const OTHER_REDIRECT: &str = "http://127.0.0.1:3001/oauth/callback";
/// RFC 7636's example verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn start() -> FakeOkta {
    FakeOkta::start(&[
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        SECRET,
        "--redirect-uri",
        &format!("{REDIRECT},{OTHER_REDIRECT}"),
    ])
}

/// A client that, like a relying party's back channel, follows no redirects.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

async fn json_of(response: reqwest::Response) -> Value {
    response.json().await.expect("JSON body")
}

fn query_param(location: &str, name: &str) -> Option<String> {
    url::Url::parse(location)
        .expect("absolute Location")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND);
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("Location")
        .to_owned()
}

fn authorize_params(redirect: &str) -> Vec<(&'static str, String)> {
    vec![
        ("client_id", CLIENT_ID.into()),
        ("redirect_uri", redirect.into()),
        ("response_type", "code".into()),
        ("scope", "openid profile email groups offline_access".into()),
        ("state", "state-123".into()),
        ("nonce", "nonce-456".into()),
        ("code_challenge", CHALLENGE.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// Token endpoint call with client_secret_basic.
async fn token(http: &reqwest::Client, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
    http.post(endpoint)
        .header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"))),
        )
        .form(form)
        .send()
        .await
        .expect("token request")
}

/// Verifies an RS256 JWT against `jwks` and returns its claims.
fn verified_claims(jwt: &str, jwks: &Value) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS");
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).expect("base64url");
    let header: Value = serde_json::from_slice(&decode(parts[0])).expect("header");
    assert_eq!(header["alg"], "RS256");
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the JWKS has the token's kid");
    let public = RsaPublicKeyComponents {
        n: decode(key["n"].as_str().expect("n")),
        e: decode(key["e"].as_str().expect("e")),
    };
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &decode(parts[2]),
        )
        .expect("signature verifies against the JWKS");
    serde_json::from_slice(&decode(parts[1])).expect("claims")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn code_flow_with_pkce_id_token_userinfo_and_refresh_rotation() {
    let okta = start();
    let http = http();
    let metadata = json_of(
        http.get(format!("{}/.well-known/openid-configuration", okta.url))
            .send()
            .await
            .expect("discovery"),
    )
    .await;
    assert_eq!(metadata["issuer"], okta.url.as_str());
    let authorize = metadata["authorization_endpoint"]
        .as_str()
        .expect("authorize");
    let token_endpoint = metadata["token_endpoint"].as_str().expect("token");
    let jwks = json_of(
        http.get(metadata["jwks_uri"].as_str().expect("jwks_uri"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;

    // The login page, then its form submitted for alice (what the browser does).
    let params = authorize_params(REDIRECT);
    let page = http
        .get(authorize)
        .query(&params)
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    assert!(html.contains(&format!("value=\"{ALICE_ID}\"")), "{html}");
    let mut form = params.clone();
    form.push(("user", ALICE_ID.into()));
    let answer = http
        .post(authorize)
        .form(&form)
        .send()
        .await
        .expect("login");
    let back = location(&answer);
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("state-123"));
    let code = query_param(&back, "code").expect("code");

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let answer = token(&http, token_endpoint, &exchange).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let tokens = json_of(answer).await;
    let id = verified_claims(tokens["id_token"].as_str().expect("id_token"), &jwks);
    assert_eq!(id["iss"], okta.url.as_str());
    assert_eq!(id["aud"], CLIENT_ID);
    assert_eq!(id["sub"], ALICE_ID);
    assert_eq!(id["nonce"], "nonce-456");
    assert_eq!(id["email"], "alice@example.com");
    assert!(
        id["name"].as_str().is_some_and(|n| n.starts_with("Alice ")),
        "{id}"
    );
    assert_eq!(id["preferred_username"], "alice@example.com");
    assert_eq!(id["groups"], json!(["Everyone", "sso-help-desk"]));
    let exp = id["exp"].as_i64().expect("exp");
    assert!(exp > now() && exp <= now() + 3700, "exp {exp}");
    verified_claims(
        tokens["access_token"].as_str().expect("access token"),
        &jwks,
    );

    // The code worked once; a wrong verifier never works.
    let again = token(&http, token_endpoint, &exchange).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(again).await["error"], "invalid_grant");

    let info = json_of(
        http.get(metadata["userinfo_endpoint"].as_str().expect("userinfo"))
            .bearer_auth(tokens["access_token"].as_str().expect("at"))
            .send()
            .await
            .expect("userinfo"),
    )
    .await;
    assert_eq!(info["sub"], ALICE_ID);
    assert_eq!(info["groups"], json!(["Everyone", "sso-help-desk"]));

    // Refresh: a new refresh token each time; the old one is dead.
    let first = tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    let refreshed = token(
        &http,
        token_endpoint,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = json_of(refreshed).await;
    let second = refreshed["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(first, second);
    let id = verified_claims(refreshed["id_token"].as_str().expect("id_token"), &jwks);
    assert_eq!(id["sub"], ALICE_ID);
    assert!(id.get("nonce").is_none(), "no nonce at refresh");
    let reused = token(
        &http,
        token_endpoint,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(reused).await["error"], "invalid_grant");
    let third = token(
        &http,
        token_endpoint,
        &[("grant_type", "refresh_token"), ("refresh_token", &second)],
    )
    .await;
    assert_eq!(third.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_verifier_is_invalid_grant_and_bad_client_is_401() {
    let okta = start();
    let http = http();
    http.post(format!("{}/__fake/oidc", okta.url))
        .json(&json!({"auto_login": "alice@example.com"}))
        .send()
        .await
        .expect("auto_login");
    let endpoint = format!("{}/oauth2/v1/token", okta.url);
    let mut codes = Vec::new();
    for _ in 0..2 {
        let answer = http
            .get(format!("{}/oauth2/v1/authorize", okta.url))
            .query(&authorize_params(REDIRECT))
            .send()
            .await
            .expect("authorize");
        codes.push(query_param(&location(&answer), "code").expect("code"));
    }
    let wrong = "w".repeat(43);
    let answer = token(
        &http,
        &endpoint,
        &[
            ("grant_type", "authorization_code"),
            ("code", &codes[0]),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &wrong),
        ],
    )
    .await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_of(answer).await["error"], "invalid_grant");

    let answer = http
        .post(&endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", codes[1].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(answer).await["error"], "invalid_client");
    // client_secret_post with the right secret: the code was not spent by the refused client.
    let answer = http
        .post(&endpoint)
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", codes[1].as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT_ID),
            ("client_secret", SECRET),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn group_change_is_visible_at_refresh_on_the_custom_server() {
    let okta = start();
    let http = http();
    let base = format!("{}/oauth2/default", okta.url);
    let metadata = json_of(
        http.get(format!("{base}/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery"),
    )
    .await;
    assert_eq!(metadata["issuer"], base.as_str());
    let jwks = json_of(
        http.get(metadata["jwks_uri"].as_str().expect("jwks_uri"))
            .send()
            .await
            .expect("jwks"),
    )
    .await;
    let set = http
        .post(format!("{}/__fake/oidc", okta.url))
        .json(&json!({"auto_login": "bob@example.com"}))
        .send()
        .await
        .expect("control");
    assert_eq!(set.status(), StatusCode::OK);

    // No page: authorize answers with a code at once, on the second registered redirect URI.
    let answer = http
        .get(
            metadata["authorization_endpoint"]
                .as_str()
                .expect("authorize"),
        )
        .query(&authorize_params(OTHER_REDIRECT))
        .send()
        .await
        .expect("authorize");
    let back = location(&answer);
    assert!(back.starts_with(OTHER_REDIRECT), "{back}");
    let code = query_param(&back, "code").expect("code");
    let token_endpoint = metadata["token_endpoint"].as_str().expect("token");
    let tokens = json_of(
        token(
            &http,
            token_endpoint,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", OTHER_REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await,
    )
    .await;
    let id = verified_claims(tokens["id_token"].as_str().expect("id_token"), &jwks);
    assert_eq!(id["iss"], base.as_str());
    assert_eq!(id["sub"], BOB_ID);
    assert_eq!(id["groups"], json!(["Everyone", "sso-security-admins"]));

    let changed = http
        .post(format!("{}/__fake/users/bob@example.com/groups", okta.url))
        .json(&json!({"groups": ["Everyone", "sso-super-admins"]}))
        .send()
        .await
        .expect("change groups");
    assert_eq!(changed.status(), StatusCode::OK);

    let refreshed = json_of(
        token(
            &http,
            token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().expect("rt"),
                ),
            ],
        )
        .await,
    )
    .await;
    let id = verified_claims(refreshed["id_token"].as_str().expect("id_token"), &jwks);
    assert_eq!(id["groups"], json!(["Everyone", "sso-super-admins"]));
    let info = json_of(
        http.get(metadata["userinfo_endpoint"].as_str().expect("userinfo"))
            .bearer_auth(refreshed["access_token"].as_str().expect("at"))
            .send()
            .await
            .expect("userinfo"),
    )
    .await;
    assert_eq!(info["groups"], json!(["Everyone", "sso-super-admins"]));

    // Documented: overrides are OIDC-only; the Management API keeps the dataset's memberships.
    let api = json_of(
        http.get(format!("{}/api/v1/users/{BOB_ID}/groups", okta.url))
            .header("authorization", format!("SSWS {TEST_API_TOKEN}"))
            .send()
            .await
            .expect("management api"),
    )
    .await;
    let names: Vec<&str> = api
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["profile"]["name"].as_str())
        .collect();
    assert_eq!(names, ["Everyone", "sso-security-admins"]);
}

#[tokio::test]
async fn unregistered_redirect_uri_gets_an_error_page() {
    let okta = start();
    let http = http();
    let answer = http
        .get(format!("{}/oauth2/v1/authorize", okta.url))
        .query(&authorize_params("https://attacker.example/cb"))
        .send()
        .await
        .expect("authorize");
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.headers().get("location").is_none());
    assert!(
        answer
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    );
}

#[test]
fn client_id_without_redirect_uri_is_a_start_up_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_fake-okta"))
        .args(["--listen", "127.0.0.1:0", "--api-token", TEST_API_TOKEN])
        .args(["--client-id", CLIENT_ID])
        .stdin(Stdio::null())
        .output()
        .expect("run fake-okta");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--redirect-uri"), "{stderr}");
}
