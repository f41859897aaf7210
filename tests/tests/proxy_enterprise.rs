//! The ways in without a browser, end to end: Enterprise-Managed Authorization (an ID-JAG Okta
//! issues by token exchange, presented at the proxy's `/token` with the jwt-bearer grant) and
//! client credentials, each driven by the official Python SDK's provider for it, plus a raw
//! HTTP refusal test for every check the ID-JAG grant makes.
//!
//! Real processes: fake-okta (OIDC, the ID-JAG token exchange and the Management API),
//! okta-mcp-tool-server, okta-mcp-proxy with a `CLIENTS_FILE`, and
//! `tests/clients/python/enterprise_flow.py`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use okta_mcp_tests::harness::{
    FakeOkta, Proxy, SERVICE_CLIENT_ID, ServiceAppKey, TEST_API_TOKEN, TEST_CLIENT_ID,
    TEST_CLIENT_SECRET, ToolServer, VIEWER_TOOLS, free_port, http_client, python_client,
    service_app_key,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::{Value, json};

/// The MCP client's own app at Okta (the "requesting app" of Cross App Access).
const OKTA_APP: &str = "0oa-mcp-agent-app";
const OKTA_APP_SECRET: &str = "mcp-agent-app-secret-0123456789";
/// The same client at the proxy (its `CLIENTS_FILE` entry).
const XAA_CLIENT: &str = "xaa-agent";
const XAA_SECRET: &str = "xaa-agent-secret-0123456789abcdef";
const AGENT: &str = "audit-agent";
const AGENT_SECRET: &str = "audit-agent-secret-0123456789abcdef";
const KEYED_AGENT: &str = "keyed-agent";

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fake org, tool server and a proxy knowing three pre-registered clients.
struct Enterprise {
    okta: FakeOkta,
    tool_server: ToolServer,
    proxy: Proxy,
    key_pem: String,
    _clients: tempfile::NamedTempFile,
}

impl Enterprise {
    /// `okta_flags` are added to the fake org's; `proxy_env` to the proxy's.
    async fn start(okta_flags: &[&str], proxy_env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let policy = format!("requester={OKTA_APP},audience={issuer},client_id={XAA_CLIENT}");
        let app = format!("{OKTA_APP}:{OKTA_APP_SECRET}");
        let mut flags = vec![
            "--client-id",
            TEST_CLIENT_ID,
            "--client-secret",
            TEST_CLIENT_SECRET,
            "--redirect-uri",
        ];
        let redirect = format!("{issuer}/oauth/callback");
        flags.push(&redirect);
        flags.extend(["--id-jag-client", &app, "--id-jag-policy", &policy]);
        flags.extend(okta_flags);
        let okta = FakeOkta::start(&flags);
        let tool_server = ToolServer::start(&okta, &[]).await;
        let key = service_app_key();
        let key_pem = key.pem_text.clone();
        let jwk: Value =
            serde_json::from_str(&std::fs::read_to_string(&key.public_jwk).unwrap()).unwrap();
        let jwk = jwk["keys"][0].clone();
        let clients = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            clients.path(),
            format!(
                r#"
[[client]]
client_id = "{XAA_CLIENT}"
name = "Enterprise agent"
secret_sha256 = "{}"
grant_types = ["urn:ietf:params:oauth:grant-type:jwt-bearer"]

[[client]]
client_id = "{AGENT}"
secret_sha256 = "{}"
grant_types = ["client_credentials"]
role = "viewer"
subject = "agent:nightly-audit"

[[client]]
client_id = "{KEYED_AGENT}"
jwks = '{}'
grant_types = ["client_credentials"]
role = "security-admin"
subject = "agent:keyed"
"#,
                sha256_hex(XAA_SECRET),
                sha256_hex(AGENT_SECRET),
                json!({ "keys": [jwk] })
            ),
        )
        .unwrap();
        let clients_path = clients.path().display().to_string();
        let mut env = vec![("CLIENTS_FILE", clients_path.as_str())];
        env.extend_from_slice(proxy_env);
        let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, &env).await;
        Self {
            okta,
            tool_server,
            proxy,
            key_pem,
            _clients: clients,
        }
    }

    /// A stack whose proxy reads users at Okta as a service app (the fake org's, with
    /// `okta_flags` added).
    async fn with_service_app(okta_flags: &[&str]) -> (Self, ServiceAppKey) {
        let service = service_app_key();
        let jwks = service.public_jwk.display().to_string();
        let key_file = service.private_pem.display().to_string();
        let mut flags = vec![
            "--service-client-id",
            SERVICE_CLIENT_ID,
            "--service-jwks-file",
            &jwks,
        ];
        flags.extend_from_slice(okta_flags);
        let stack = Self::start(
            &flags,
            &[
                ("OKTA_SERVICE_CLIENT_ID", SERVICE_CLIENT_ID),
                ("OKTA_SERVICE_KEY_FILE", &key_file),
            ],
        )
        .await;
        (stack, service)
    }

    async fn python(&self, mode: &str, settings: Value) -> Value {
        python_client(
            "enterprise_flow.py",
            &[
                mode,
                &self.proxy.mcp_url,
                &self.proxy.public_url,
                &settings.to_string(),
            ],
            Duration::from_secs(60),
        )
        .await
    }

    async fn id_jag_flow(&self, user: &str) -> Value {
        self.python(
            "id-jag",
            json!({
                "okta_url": self.okta.url,
                "okta_client_id": OKTA_APP,
                "okta_client_secret": OKTA_APP_SECRET,
                "client_id": XAA_CLIENT,
                "client_secret": XAA_SECRET,
                "user": user,
            }),
        )
        .await
    }

    /// `POST /__fake/id-jag/mint`: an ID-JAG for this proxy's MCP URL, signed by the org key,
    /// with `changes` applied (`null` removes a claim).
    async fn mint(&self, user: &str, changes: Value, typ: Option<&str>) -> String {
        let mut changes = changes;
        if changes.get("resource").is_none() {
            changes["resource"] = json!(self.proxy.mcp_url);
        }
        let mut body = json!({
            "user": user,
            "audience": self.proxy.public_url,
            "client_id": XAA_CLIENT,
            "claims": changes,
        });
        if let Some(typ) = typ {
            body["typ"] = json!(typ);
        }
        let response = http_client()
            .post(format!("{}/__fake/id-jag/mint", self.okta.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "mint: {}",
            response.status()
        );
        response.json::<Value>().await.unwrap()["assertion"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The proxy's `/token` with the jwt-bearer grant, authenticated as the XAA client.
    async fn redeem(&self, assertion: &str) -> (u16, Value) {
        self.redeem_as(XAA_CLIENT, XAA_SECRET, assertion).await
    }

    /// The same, authenticated as `client_id` with `secret`.
    async fn redeem_as(&self, client_id: &str, secret: &str, assertion: &str) -> (u16, Value) {
        let response = http_client()
            .post(format!("{}/token", self.proxy.public_url))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion),
                ("resource", &self.proxy.mcp_url),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Asserts a 400 OAuth error `error` whose description contains `says`.
fn assert_refused((status, body): &(u16, Value), error: &str, says: &str) {
    assert_eq!(
        (*status, body["error"].as_str()),
        (400, Some(error)),
        "{body}"
    );
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(says),
        "{says:?} not in {description:?}"
    );
}

fn tools_of(report: &Value) -> Vec<String> {
    report["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {report}"))
        .iter()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

/// alice, bob and carol each get their own role's tools through an ID-JAG; dave (no role)
/// and a deactivated user are refused with a description that says why.
async fn id_jag_roles(stack: &Enterprise) {
    let alice = stack.id_jag_flow("alice@example.com").await;
    assert!(alice.get("error").is_none(), "{alice}");
    assert_eq!(alice["id_jags"], 1, "{alice}");
    assert_eq!(tools_of(&alice), VIEWER_TOOLS, "{alice}");
    assert_eq!(alice["time_is_error"], false, "{alice}");
    let token_calls: Vec<&Value> = alice["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with("/token")))
        .collect();
    assert_eq!(token_calls.len(), 1, "one ID-JAG redeemed: {alice}");
    assert_eq!(token_calls[0]["status"], 200);
    assert!(
        !alice["exchanges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["url"].as_str().is_some_and(|u| u.ends_with("/register"))),
        "no registration: {alice}"
    );

    let bob = stack.id_jag_flow("bob@example.com").await;
    assert!(bob.get("error").is_none(), "{bob}");
    let carol = stack.id_jag_flow("carol@example.com").await;
    assert!(carol.get("error").is_none(), "{carol}");
    let (alice, bob, carol) = (tools_of(&alice), tools_of(&bob), tools_of(&carol));
    assert!(
        alice.len() < bob.len() && bob.len() < carol.len(),
        "viewer < security-admin < super-admin: {} {} {}",
        alice.len(),
        bob.len(),
        carol.len()
    );
    assert!(alice.iter().all(|t| carol.contains(t)));

    let dave = stack.id_jag_flow("dave@example.com").await;
    let error = dave["error"].as_str().unwrap_or_default();
    assert!(error.contains("invalid_grant"), "{dave}");
    assert!(error.contains("has no role here"), "{dave}");
}

#[tokio::test]
async fn python_id_jag_clients_get_the_role_of_their_okta_groups_read_at_okta() {
    let stack = Enterprise::start(&[], &[("OKTA_API_TOKEN", TEST_API_TOKEN)]).await;
    id_jag_roles(&stack).await;

    // A user deactivated at Okta: Okta would issue no ID-JAG any more, and one issued before
    // is refused because the proxy reads the user's status at Okta.
    let assertion = stack.mint("bob@example.com", json!({}), None).await;
    let deactivate = http_client()
        .post(format!(
            "{}/__fake/users/{}/lifecycle/deactivate",
            stack.okta.url,
            okta_mcp_tests::fake_okta::dataset::BOB_ID
        ))
        .send()
        .await
        .unwrap();
    assert!(deactivate.status().is_success());
    assert_refused(
        &stack.redeem(&assertion).await,
        "invalid_grant",
        "not active at Okta",
    );
}

#[tokio::test]
async fn python_id_jag_clients_get_the_role_of_the_groups_claim_when_okta_sends_one() {
    // No Okta API access for the proxy: the groups come from the ID-JAG alone.
    let stack = Enterprise::start(&["--id-jag-groups-claim"], &[]).await;
    id_jag_roles(&stack).await;
}

#[tokio::test]
async fn the_proxy_reads_groups_at_okta_as_a_service_app() {
    let (stack, service) = Enterprise::with_service_app(&[]).await;
    let alice = stack.id_jag_flow("alice@example.com").await;
    assert!(alice.get("error").is_none(), "{alice}");
    assert_eq!(tools_of(&alice), VIEWER_TOOLS, "{alice}");
    let stats: Value = http_client()
        .get(format!("{}/__fake/service-app", stack.okta.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        stats["tokens_issued"].as_u64().is_some_and(|n| n >= 1),
        "{stats}"
    );
    let logs = stack.proxy.process.logs();
    assert!(
        !logs.contains(&service.pem_text),
        "the key never reaches a log"
    );
}

#[tokio::test]
async fn a_service_app_without_the_groups_scope_is_a_503_and_a_log_line_naming_it() {
    let (stack, _service) =
        Enterprise::with_service_app(&["--service-scopes", "okta.users.read"]).await;
    let assertion = stack.mint("alice@example.com", json!({}), None).await;
    let (status, body) = stack.redeem(&assertion).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable")),
        "{body}"
    );
    let logs = stack
        .proxy
        .process
        .wait_for_log("Okta refused this server's API credentials")
        .await;
    assert!(logs.contains("okta.groups.read"), "{logs}");
}

#[tokio::test]
async fn every_bad_id_jag_is_refused_with_what_is_wrong() {
    let stack = Enterprise::start(
        &[],
        &[("OKTA_API_TOKEN", TEST_API_TOKEN), ("LOG_LEVEL", "trace")],
    )
    .await;
    let alice = "alice@example.com";
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    // A good one works once; the same jti again is refused.
    let good = stack.mint(alice, json!({}), None).await;
    let (status, body) = stack.redeem(&good).await;
    assert_eq!(status, 200, "{body}");
    let access_token = body["access_token"].as_str().unwrap().to_owned();
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token: {body}"
    );
    assert_eq!(body["scope"], "mcp");
    assert_refused(&stack.redeem(&good).await, "invalid_grant", "already used");

    let mcp_url = stack.proxy.mcp_url.clone();
    for (changes, typ, error, says) in [
        (
            json!({"aud": "https://other-server.example"}),
            None,
            "invalid_grant",
            "aud must be",
        ),
        (
            json!({"resource": "https://other-server.example/mcp"}),
            None,
            "invalid_target",
            "resource must be",
        ),
        (
            json!({"resource": null}),
            None,
            "invalid_target",
            "resource must be",
        ),
        (
            json!({"client_id": "another-client"}),
            None,
            "invalid_grant",
            "another client",
        ),
        (
            json!({"exp": now - 600, "iat": now - 900}),
            None,
            "invalid_grant",
            "expired",
        ),
        (
            json!({"iss": "https://evil.example"}),
            None,
            "invalid_grant",
            "iss is not",
        ),
        (json!({"jti": null}), None, "invalid_grant", "no jti"),
        (
            json!({}),
            Some("JWT"),
            "invalid_grant",
            "typ must be oauth-id-jag+jwt",
        ),
        (
            json!({}),
            Some(""),
            "invalid_grant",
            "typ must be oauth-id-jag+jwt",
        ),
    ] {
        let assertion = stack.mint(alice, changes.clone(), typ).await;
        eprintln!("refusal case: {changes} {typ:?}");
        assert_refused(&stack.redeem(&assertion).await, error, says);
    }

    // Signed by a key Okta does not have.
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let claims = json!({
        "iss": stack.okta.url, "sub": okta_mcp_tests::fake_okta::dataset::ALICE_ID,
        "aud": stack.proxy.public_url, "client_id": XAA_CLIENT, "resource": mcp_url,
        "jti": "forged-1", "iat": now, "exp": now + 300,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(
            json!({"alg": "ES256", "typ": "oauth-id-jag+jwt", "kid": "forged"}).to_string()
        ),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(&rng, input.as_bytes()).unwrap();
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
    assert_refused(
        &stack.redeem(&forged).await,
        "invalid_grant",
        "not signed by",
    );

    // Another client of the file, and a wrong secret, cannot redeem it.
    let fresh = stack.mint(alice, json!({}), None).await;
    let (status, body) = stack.redeem_as(AGENT, AGENT_SECRET, &fresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unauthorized_client")),
        "{body}"
    );
    let (status, body) = stack.redeem_as(XAA_CLIENT, "wrong", &fresh).await;
    assert_eq!(status, 401, "{body}");
    // The metadata says what the proxy accepts.
    let metadata = stack.proxy.authorization_server_metadata().await;
    assert_eq!(
        metadata["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!("urn:ietf:params:oauth:grant-type:jwt-bearer")));
    assert!(grants.contains(&json!("client_credentials")));

    // At trace level, no secret, assertion or token reached the proxy's log.
    let logs = stack.proxy.process.logs();
    assert!(logs.contains("ID-JAG accepted"), "the log is on");
    for secret in [
        XAA_SECRET,
        TEST_API_TOKEN,
        good.as_str(),
        fresh.as_str(),
        access_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the proxy's log");
    }
}

#[tokio::test]
async fn python_client_credentials_agents_act_as_their_clients_file_role_and_subject() {
    let stack = Enterprise::start(&[], &[("LOG_LEVEL", "trace")]).await;
    for method in ["client_secret_basic", "client_secret_post"] {
        let report = stack
            .python(
                "client-credentials",
                json!({"client_id": AGENT, "client_secret": AGENT_SECRET, "auth_method": method}),
            )
            .await;
        assert!(report.get("error").is_none(), "{method}: {report}");
        assert_eq!(tools_of(&report), VIEWER_TOOLS, "{report}");
        assert_eq!(report["time_is_error"], false, "{report}");
    }
    let keyed = stack
        .python(
            "private-key-jwt",
            json!({"client_id": KEYED_AGENT, "key_pem": stack.key_pem}),
        )
        .await;
    assert!(keyed.get("error").is_none(), "{keyed}");
    assert!(
        tools_of(&keyed).len() > VIEWER_TOOLS.len(),
        "security-admin: {keyed}"
    );

    // The audit log names the agent, not a person.
    let logs = stack.tool_server.process.logs();
    assert!(logs.contains("agent:nightly-audit"), "{logs}");
    assert!(logs.contains("agent:keyed"), "{logs}");
    let proxy_logs = stack.proxy.process.logs();
    assert!(
        proxy_logs.contains("client credentials accepted"),
        "the log is on"
    );
    assert!(
        !proxy_logs.contains(AGENT_SECRET),
        "the secret never reaches a log"
    );
    assert!(
        !proxy_logs.contains(stack.key_pem.lines().nth(1).unwrap()),
        "nor the key"
    );

    // A wrong secret is refused, and the SDK says so.
    let wrong = stack
        .python(
            "client-credentials",
            json!({"client_id": AGENT, "client_secret": "wrong-secret"}),
        )
        .await;
    assert!(
        wrong["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid_client")),
        "{wrong}"
    );
}

#[tokio::test]
async fn clients_check_lists_a_good_file_and_says_what_to_fix_in_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        format!(
            "[[client]]\nclient_id = \"{AGENT}\"\nsecret_sha256 = \"{}\"\n\
             grant_types = [\"client_credentials\"]\nrole = \"viewer\"\nsubject = \"agent:a\"\n",
            sha256_hex(AGENT_SECRET)
        ),
    )
    .unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[client]]\nclient_id = \"x\"\nsecret_sha256 = \"abc\"\ngrant_types = [\"client_credentials\"]\n",
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        std::process::Command::new(okta_mcp_tests::harness::binary("okta-mcp-proxy"))
            .env_clear()
            .args(["clients", "check"])
            .arg(file)
            .output()
            .unwrap()
    };
    let ok = run(&good);
    assert!(ok.status.success());
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(stdout.contains("1 client(s), ok"), "{stdout}");
    assert!(
        stdout.contains(
            "audit-agent: client_credentials by client_secret_basic, role viewer as agent:a"
        ),
        "{stdout}"
    );
    let refused = run(&bad);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("client x: secret_sha256 must be 64 hex digits"),
        "{stderr}"
    );
    let missing = run(&dir.path().join("missing.toml"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
    // A proxy given the bad file does not start, and says why.
    let mut proxy = okta_mcp_tests::harness::proxy_command(
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/mcp",
        "http://127.0.0.1:9",
    );
    let output = proxy.env("CLIENTS_FILE", &bad).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("secret_sha256 must be 64 hex digits"),
        "{stderr}"
    );
}
