//! Two proxy replicas sharing a real `redis-server` (`STORE_URL`): one-time things stay
//! one-time across replicas, a revocation on one is refused on the other within a second, and
//! Redis going away and coming back costs no restart and no existing session.
//!
//! Both replicas have the same public URL (as behind a load balancer) and each listens on its
//! own port, so a test can send each request to the replica it chooses.

use std::time::{Duration, Instant};

use okta_mcp_tests::harness::{FakeOkta, Proxy, RedisServer, ToolServer, free_port, http_client};
use okta_mcp_tests::oauth_flow::{
    Browser, OAuthClient, Pkce, ProxiedMcp, Tokens, json_of, log_in, manual_redirect_client,
};

struct Replicas {
    _okta: FakeOkta,
    _tool_server: ToolServer,
    redis: RedisServer,
    a: Proxy,
    b: Proxy,
}

impl Replicas {
    async fn start() -> Self {
        let redis = RedisServer::start().await;
        let port_a = free_port();
        let public_url = format!("http://127.0.0.1:{port_a}");
        let okta = FakeOkta::start_oidc(&format!("{public_url}/oauth/callback"));
        let tool_server = ToolServer::start(&okta, &[]).await;
        let url = redis.url();
        let env = [
            ("STORE_URL", url.as_str()),
            ("PUBLIC_URL", public_url.as_str()),
        ];
        let a = Proxy::start(&okta, port_a, &tool_server.mcp_url, &env).await;
        let b = Proxy::start(&okta, free_port(), &tool_server.mcp_url, &env).await;
        okta.auto_login("alice@example.com").await;
        Self {
            _okta: okta,
            _tool_server: tool_server,
            redis,
            a,
            b,
        }
    }
}

/// The HTTP status `/mcp` of `proxy` gives one `initialize` request with `token`.
async fn mcp_status(proxy: &Proxy, token: &str) -> u16 {
    ProxiedMcp::bearer_status(&proxy.mcp_url, token).await
}

/// `POST <proxy>/token` with `form`.
async fn token_at(proxy: &Proxy, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    json_of(
        http_client()
            .post(format!("{}/token", proxy.public_url))
            .form(form)
            .send()
            .await
            .expect("POST /token"),
    )
    .await
}

#[tokio::test]
async fn a_token_revoked_on_one_replica_is_refused_by_the_other_as_soon_as_revoke_answers() {
    let replicas = Replicas::start().await;
    let http = manual_redirect_client();
    for _ in 0..5 {
        let Tokens {
            client,
            access_token,
            ..
        } = log_in(&http, &replicas.a.public_url).await;
        assert_eq!(mcp_status(&replicas.b, &access_token).await, 200);
        client
            .revoke_at(&replicas.a.public_url, &access_token)
            .await;
        // `/revoke` answers once every replica confirmed holding the revocation: no waiting.
        assert_eq!(mcp_status(&replicas.b, &access_token).await, 401);
    }
}

#[tokio::test]
async fn two_replicas_racing_on_one_code_or_one_refresh_token_give_exactly_one_winner() {
    let replicas = Replicas::start().await;
    let http = manual_redirect_client();
    let client = OAuthClient::register(
        &http,
        &replicas.a.public_url,
        &["http://127.0.0.1:9/callback"],
    )
    .await;
    let browser = Browser::new(http.clone());
    let resource = client.resource();
    for round in 0..5 {
        // Two replicas redeem one code at once: one wins; the other's attempt is a reuse, so
        // the tokens the winner got are revoked (RFC 6749 §4.1.2) on both replicas.
        let pkce = Pkce::new();
        let code = client
            .authorize(&browser, &client.redirect_uri, &pkce)
            .await;
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", client.client_id.as_str()),
            ("code", code.as_str()),
            ("code_verifier", pkce.verifier.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("resource", resource.as_str()),
        ];
        let (at_a, at_b) = tokio::join!(token_at(&replicas.a, &form), token_at(&replicas.b, &form));
        let winner = one_winner(round, &at_a, &at_b);
        refused_everywhere(&replicas, winner).await;

        // Two replicas rotate one refresh token at once: the same.
        let pkce = Pkce::new();
        let code = client
            .authorize(&browser, &client.redirect_uri, &pkce)
            .await;
        let (status, fresh) = client
            .exchange(&http, &code, &pkce.verifier, &client.redirect_uri)
            .await;
        assert_eq!(status, 200, "{fresh}");
        let refresh = fresh["refresh_token"].as_str().expect("refresh token");
        let form = [
            ("grant_type", "refresh_token"),
            ("client_id", client.client_id.as_str()),
            ("refresh_token", refresh),
        ];
        let (at_a, at_b) = tokio::join!(token_at(&replicas.a, &form), token_at(&replicas.b, &form));
        let winner = one_winner(round, &at_a, &at_b);
        refused_everywhere(&replicas, winner).await;
        let (status, body) = token_at(
            &replicas.b,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client.client_id.as_str()),
                (
                    "refresh_token",
                    winner["refresh_token"].as_str().expect("refresh"),
                ),
            ],
        )
        .await;
        assert_eq!(status, 400, "the family is revoked: {body}");
    }
}

type TokenAnswer = (u16, serde_json::Value);

/// Exactly one of the two answers is 200 (returned); the other is `invalid_grant`.
fn one_winner<'a>(round: usize, a: &'a TokenAnswer, b: &'a TokenAnswer) -> &'a serde_json::Value {
    let winners: Vec<_> = [a, b].into_iter().filter(|r| r.0 == 200).collect();
    assert_eq!(winners.len(), 1, "round {round}: {a:?} {b:?}");
    let loser = if a.0 == 200 { b } else { a };
    assert_eq!(loser.0, 400, "{loser:?}");
    assert_eq!(loser.1["error"], "invalid_grant", "{loser:?}");
    &winners[0].1
}

/// The winner's access token is refused on both replicas (its family was revoked).
async fn refused_everywhere(replicas: &Replicas, winner: &serde_json::Value) {
    let access = winner["access_token"].as_str().expect("access token");
    for proxy in [&replicas.a, &replicas.b] {
        let mut status = 0;
        for _ in 0..20 {
            status = mcp_status(proxy, access).await;
            if status == 401 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(status, 401, "the reused grant's family is revoked");
    }
}

#[tokio::test]
async fn with_redis_down_new_logins_get_503_existing_tokens_work_and_all_resumes_without_a_restart()
{
    let mut replicas = Replicas::start().await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &replicas.a.public_url).await;
    let plain = http_client();

    replicas.redis.stop();
    for proxy in [&replicas.a, &replicas.b] {
        let ready = plain
            .get(format!("{}/ready", proxy.public_url))
            .send()
            .await
            .expect("ready");
        assert_eq!(ready.status(), 503);
        let body: serde_json::Value = ready.json().await.expect("json");
        assert_eq!(body["state_store"], false, "{body}");
        // Registration and token requests: a clear 503, never a 500.
        let started = Instant::now();
        let (status, body) = json_of(
            plain
                .post(format!("{}/register", proxy.public_url))
                .json(&serde_json::json!({
                    "client_name": "during outage",
                    "redirect_uris": ["http://127.0.0.1:9/callback"],
                    "token_endpoint_auth_method": "none",
                }))
                .send()
                .await
                .expect("register"),
        )
        .await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "temporarily_unavailable", "{body}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let refresh = tokens.refresh_token.as_deref().expect("refresh");
        let (status, body) = token_at(
            proxy,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", tokens.client.client_id.as_str()),
                ("refresh_token", refresh),
            ],
        )
        .await;
        assert_eq!(status, 503, "{body}");
        // Logging in: the authorize endpoint answers 503 too.
        let pkce = Pkce::new();
        let authorize = Browser::new(http.clone())
            .get(
                &tokens
                    .client
                    .authorize_url(&tokens.client.redirect_uri, &pkce, "s"),
            )
            .await;
        assert_eq!(authorize.status(), 503);
        // The access token already issued keeps working, from the last known revocations.
        assert_eq!(mcp_status(proxy, &tokens.access_token).await, 200);
    }

    // Redis comes back: no proxy restart needed.
    replicas.redis.start_again().await;
    let mut back = false;
    for _ in 0..100 {
        let a = plain
            .get(format!("{}/ready", replicas.a.public_url))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        let b = plain
            .get(format!("{}/ready", replicas.b.public_url))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if a && b {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(back, "both replicas ready again");
    // The refresh token issued before the outage works (Redis kept it on disk), on replica B.
    let refresh = tokens.refresh_token.as_deref().expect("refresh");
    let (status, body) = token_at(
        &replicas.b,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", tokens.client.client_id.as_str()),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // And a new login works end to end, its token good on the other replica.
    let again = log_in(&http, &replicas.a.public_url).await;
    assert_eq!(mcp_status(&replicas.b, &again.access_token).await, 200);
}

/// A `redis-server` that speaks only TLS (a self-signed certificate for localhost) and requires
/// `password`.
fn start_tls_redis(
    dir: &std::path::Path,
    password: &str,
) -> (okta_mcp_tests::harness::Process, u16) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).unwrap();
    let port = free_port();
    let mut command = std::process::Command::new("redis-server");
    command
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .arg("--tls-cert-file")
        .arg(dir.join("cert.pem"))
        .arg("--tls-key-file")
        .arg(dir.join("key.pem"))
        .arg("--tls-ca-cert-file")
        .arg(dir.join("cert.pem"))
        .args([
            "--tls-auth-clients",
            "no",
            "--requirepass",
            password,
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(dir.join("redis.log"));
    (okta_mcp_tests::harness::start_process(command), port)
}

#[tokio::test]
async fn rediss_with_a_password_file_works_and_an_untrusted_certificate_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let (_redis, port) = start_tls_redis(dir.path(), "s3cret-redis-pass");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "s3cret-redis-pass\n").unwrap();
    let store_url = format!("rediss://localhost:{port}");
    let cert = dir.path().join("cert.pem").display().to_string();
    let password = password_file.display().to_string();

    // Trusting the certificate (SSL_CERT_FILE adds it to the system roots) and with the
    // password from REDIS_PASSWORD_FILE: ready, and a whole login works.
    let stack = okta_mcp_tests::harness::Stack::start(&[
        ("STORE_URL", store_url.as_str()),
        ("REDIS_PASSWORD_FILE", password.as_str()),
        ("SSL_CERT_FILE", cert.as_str()),
    ])
    .await;
    stack.auto_login("alice@example.com").await;
    let tokens = log_in(&manual_redirect_client(), &stack.proxy.public_url).await;
    assert_eq!(mcp_status(&stack.proxy, &tokens.access_token).await, 200);
    let logs = stack.proxy.process.logs();
    assert!(!logs.contains("s3cret-redis-pass"), "{logs}");

    // Without trusting it, or with a wrong password: never ready, and no login starts.
    for env in [
        vec![("REDIS_PASSWORD_FILE", password.as_str())],
        vec![
            ("SSL_CERT_FILE", cert.as_str()),
            ("REDIS_PASSWORD", "wrong-password"),
        ],
    ] {
        let proxy_port = free_port();
        let mut command = okta_mcp_tests::harness::proxy_command(
            &stack.okta.url,
            &stack.tool_server.mcp_url,
            &format!("http://127.0.0.1:{proxy_port}"),
        );
        command
            .args(["--listen", &format!("127.0.0.1:{proxy_port}")])
            .env("STORE_URL", &store_url);
        for (k, v) in &env {
            command.env(k, v);
        }
        let proxy = okta_mcp_tests::harness::start_process(command);
        let ready_url = format!("http://127.0.0.1:{proxy_port}/ready");
        let mut ready = (0, serde_json::Value::Null);
        for _ in 0..100 {
            if let Ok(answer) = http_client().get(&ready_url).send().await {
                ready = json_of(answer).await;
                if ready.1["okta_discovery"] == true {
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(ready.0, 503, "{env:?}: {}", proxy.logs());
        assert_eq!(ready.1["okta_discovery"], true, "{ready:?}");
        assert_eq!(ready.1["state_store"], false, "{ready:?}");
        let (status, body) = json_of(
            http_client()
                .post(format!("http://127.0.0.1:{proxy_port}/register"))
                .json(&serde_json::json!({"redirect_uris": ["http://127.0.0.1:9/cb"]}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 503, "{env:?}: {body}");
        assert!(!proxy.logs().contains("wrong-password"));
    }
}
