//! End to end: the tool server reaches Okta as an OAuth 2.0 service app (client credentials
//! with `private_key_jwt`, DPoP-bound tokens) instead of an API token, against the fake org's
//! service-app side: every read tool works, Okta's nonce challenge is answered, short-lived
//! tokens are renewed, a missing scope is a tool error naming it, a refused token is replaced,
//! the API token still works, and bad settings stop start-up with a clear message.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use okta_mcp_tests::fake_okta::Dataset;
use okta_mcp_tests::fake_okta::dataset::{ALICE_ID, DEFAULT_SEED, HELP_DESK_GROUP_ID};
use okta_mcp_tests::harness::{
    FakeOkta, McpClient, SERVICE_CLIENT_ID as CLIENT_ID, ServiceAppKey, TEST_API_TOKEN,
    TEST_IDENTITY_KEY, ToolServer, UNSET, binary, http_client, service_app_key,
    service_app_key_from_pem, workspace_root,
};
use serde_json::{Value, json};

fn fake_org(key: &ServiceAppKey, extra: &[&str]) -> FakeOkta {
    let jwks = key.public_jwk.to_str().unwrap();
    let mut flags = vec![
        "--service-client-id",
        CLIENT_ID,
        "--service-jwks-file",
        jwks,
    ];
    flags.extend_from_slice(extra);
    FakeOkta::start(&flags)
}

async fn service_app_server(
    okta: &FakeOkta,
    key: &ServiceAppKey,
    env: &[(&str, &str)],
) -> (ToolServer, McpClient) {
    let mut all = vec![
        ("OKTA_API_TOKEN", UNSET),
        ("OKTA_SERVICE_CLIENT_ID", CLIENT_ID),
        ("OKTA_SERVICE_KEY_FILE", key.private_pem.to_str().unwrap()),
    ];
    all.extend_from_slice(env);
    let server = ToolServer::start(okta, &all).await;
    let mut client = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    client.initialize().await;
    (server, client)
}

async fn service_stats(okta: &FakeOkta) -> Value {
    http_client()
        .get(format!("{}/__fake/service-app", okta.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn error_text(message: &Value) -> String {
    assert_eq!(message["result"]["isError"], true, "{message}");
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_read_tool_works_as_a_service_app_with_one_token() {
    let key = service_app_key();
    let okta = fake_org(&key, &[]);
    let (server, mut client) = service_app_server(&okta, &key, &[]).await;
    let data = Dataset::generate(DEFAULT_SEED);

    // A burst first: single-flight, so one token request (and one nonce challenge) serves all.
    let burst: Vec<_> = (0..8)
        .map(|_| {
            let mut c = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
            tokio::spawn(async move {
                c.initialize().await;
                c.call_ok("list_okta_users", json!({"limit": 3})).await
            })
        })
        .collect();
    for call in burst {
        assert_eq!(call.await.unwrap()["users"].as_array().unwrap().len(), 3);
    }
    let zoom = data.app_by_label("Zoom").expect("Zoom app");
    let policy = data.policies_of_type("ACCESS_POLICY")[0];
    let calls = [
        ("get_okta_user", json!({"user_id": ALICE_ID})),
        ("list_okta_users", json!({"limit": 5})),
        ("list_okta_user_groups", json!({"user_id": ALICE_ID})),
        ("list_okta_user_applications", json!({"user_id": ALICE_ID})),
        ("list_okta_user_factors", json!({"user_id": ALICE_ID})),
        ("get_okta_group", json!({"group_id": HELP_DESK_GROUP_ID})),
        ("list_okta_groups", json!({"limit": 5})),
        (
            "list_okta_group_users",
            json!({"group_id": HELP_DESK_GROUP_ID}),
        ),
        ("get_okta_application", json!({"app_id": zoom.id})),
        ("list_okta_applications", json!({"limit": 5})),
        ("list_okta_application_users", json!({"app_id": zoom.id})),
        ("list_okta_application_groups", json!({"app_id": zoom.id})),
        (
            "get_okta_event_logs",
            json!({"since": "31 days ago", "limit": 3}),
        ),
        ("list_okta_policies", json!({"type": "ACCESS_POLICY"})),
        ("list_okta_policy_rules", json!({"policy_id": policy.id})),
        (
            "get_okta_policy_rule",
            json!({"policy_id": policy.id, "rule_id": policy.rules[0].id}),
        ),
        ("list_okta_network_zones", json!({})),
    ];
    for (tool, args) in calls {
        client.call_ok(tool, args).await;
    }
    let user = client
        .call_ok("get_okta_user", json!({"user_id": ALICE_ID}))
        .await;
    assert_eq!(user["user"]["id"], ALICE_ID);

    let stats = service_stats(&okta).await;
    assert_eq!(stats["tokens_issued"], 1, "{stats}");
    assert_eq!(
        stats["nonce_challenges"], 1,
        "the first token request is challenged: {stats}"
    );
    assert_eq!(stats["rejected_proofs"], 0, "{stats}");
    assert_eq!(stats["insufficient_scope"], 0, "{stats}");
    // Not one API request went without a valid token and proof.
    assert_eq!(stats["invalid_tokens"], 0, "{stats}");
    let logs = server.process.logs();
    assert!(
        logs.contains("okta service app access token obtained"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_missing_scope_is_a_tool_error_that_names_it() {
    let key = service_app_key();
    let granted =
        "okta.users.read,okta.groups.read,okta.apps.read,okta.policies.read,okta.networkZones.read";
    let okta = fake_org(&key, &["--service-scopes", granted]);
    let (_server, mut client) = service_app_server(&okta, &key, &[("OKTA_SCOPES", granted)]).await;
    client.call_ok("list_okta_users", json!({"limit": 2})).await;
    let message = client
        .call("get_okta_event_logs", json!({"since": "1 day ago"}))
        .await;
    let text = error_text(&message);
    assert!(text.contains("okta.logs.read"), "{text}");
    assert!(text.contains("OKTA_SCOPES"), "{text}");
    let structured = &message["result"]["structuredContent"];
    assert_eq!(structured["missingScope"], "okta.logs.read", "{message}");
    assert_eq!(structured["errorCode"], "E0000006", "{message}");
    assert_eq!(service_stats(&okta).await["insufficient_scope"], 1);

    // Asking for a scope the app was not granted: the token request fails, and says so.
    let okta = fake_org(&key, &["--service-scopes", "okta.users.read"]);
    let (_server, mut client) = service_app_server(&okta, &key, &[]).await;
    let text = error_text(&client.call("list_okta_users", json!({"limit": 1})).await);
    assert!(
        text.contains("invalid_scope") && text.contains("okta.logs.read"),
        "{text}"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_and_a_refused_token_is_replaced() {
    let key = service_app_key();
    let okta = fake_org(&key, &["--service-token-ttl-secs", "2"]);
    let (_server, mut client) = service_app_server(&okta, &key, &[]).await;
    client.call_ok("list_okta_users", json!({"limit": 1})).await;
    client
        .call_ok("list_okta_groups", json!({"limit": 1}))
        .await;
    assert_eq!(service_stats(&okta).await["tokens_issued"], 1);
    // Renewed ahead of expiry (halfway for a 2 s token), not after a 401.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    client.call_ok("list_okta_users", json!({"limit": 1})).await;
    let stats = service_stats(&okta).await;
    assert_eq!(stats["tokens_issued"], 2, "{stats}");
    assert_eq!(stats["invalid_tokens"], 0, "{stats}");

    // Okta ends the token early (keys rotated, app changed): one 401, a new token, success.
    let okta = fake_org(&key, &[]);
    let (server, mut client) = service_app_server(&okta, &key, &[]).await;
    client.call_ok("list_okta_users", json!({"limit": 1})).await;
    let revoked = http_client()
        .post(format!("{}/__fake/service-app/revoke", okta.url))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    client.call_ok("list_okta_users", json!({"limit": 1})).await;
    let stats = service_stats(&okta).await;
    assert_eq!(stats["tokens_issued"], 2, "{stats}");
    assert_eq!(stats["invalid_tokens"], 1, "{stats}");
    // Ended again under a burst: every call still succeeds.
    http_client()
        .post(format!("{}/__fake/service-app/revoke", okta.url))
        .send()
        .await
        .unwrap();
    let burst: Vec<_> = (0..6)
        .map(|_| {
            let mut c = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
            tokio::spawn(async move {
                c.initialize().await;
                c.call_ok("list_okta_groups", json!({"limit": 1})).await
            })
        })
        .collect();
    for call in burst {
        call.await.unwrap();
    }
}

#[tokio::test]
async fn a_key_okta_does_not_know_is_a_clear_tool_error_and_the_api_token_still_works() {
    let registered = service_app_key();
    let other = service_app_key();
    let okta = fake_org(&registered, &[]);
    let (_server, mut client) = service_app_server(&okta, &other, &[]).await;
    let text = error_text(&client.call("list_okta_users", json!({"limit": 1})).await);
    assert!(
        text.contains("token request") && text.contains("invalid_client"),
        "{text}"
    );

    // The same fake org still takes the API token.
    let server = ToolServer::start(&okta, &[]).await;
    let mut client = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    client.initialize().await;
    client.call_ok("list_okta_users", json!({"limit": 2})).await;
    assert_eq!(service_stats(&okta).await["tokens_issued"], 0);
}

/// Runs `serve` with `env` and returns its exit status and stderr.
fn start_up(okta_url: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(binary("okta-mcp-tool-server"));
    command
        .current_dir(workspace_root())
        // Port 0: these never get to listen, and must not take a port another test picked.
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("OKTA_ORG_URL", okta_url)
        .env("IDENTITY_HEADER_KEY", TEST_IDENTITY_KEY)
        .env("LOG_LEVEL", "info")
        .envs(env.iter().copied());
    let child = command.output().expect("run the tool server");
    (
        child.status.success(),
        String::from_utf8_lossy(&child.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn bad_service_app_settings_stop_start_up_with_a_clear_message() {
    let key = service_app_key();
    let dir = tempfile::tempdir().unwrap();
    let good = key.private_pem.to_str().unwrap();
    let pkcs1 = write(
        dir.path(),
        "pkcs1.pem",
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
    );
    let not_a_key = write(
        dir.path(),
        "cert.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let missing = dir.path().join("nope.pem");
    let missing = missing.to_str().unwrap();
    let url = "http://127.0.0.1:9";
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("OKTA_API_TOKEN", TEST_API_TOKEN),
                ("OKTA_SERVICE_CLIENT_ID", CLIENT_ID),
                ("OKTA_SERVICE_KEY_FILE", good),
            ],
            "both OKTA_API_TOKEN and OKTA_SERVICE_CLIENT_ID",
        ),
        (
            vec![("OKTA_SERVICE_CLIENT_ID", CLIENT_ID)],
            "OKTA_SERVICE_KEY_FILE",
        ),
        (
            vec![("OKTA_SERVICE_KEY_FILE", good)],
            "not OKTA_SERVICE_CLIENT_ID",
        ),
        (
            vec![
                ("OKTA_SERVICE_CLIENT_ID", CLIENT_ID),
                ("OKTA_SERVICE_KEY_FILE", missing),
            ],
            "cannot read OKTA_SERVICE_KEY_FILE",
        ),
        (
            vec![
                ("OKTA_SERVICE_CLIENT_ID", CLIENT_ID),
                ("OKTA_SERVICE_KEY_FILE", &pkcs1),
            ],
            "openssl pkcs8",
        ),
        (
            vec![
                ("OKTA_SERVICE_CLIENT_ID", CLIENT_ID),
                ("OKTA_SERVICE_KEY_FILE", &not_a_key),
            ],
            "neither an RSA key",
        ),
        (
            vec![
                ("OKTA_SERVICE_CLIENT_ID", CLIENT_ID),
                ("OKTA_SERVICE_KEY_FILE", good),
                ("OKTA_SCOPES", "users.read"),
            ],
            "not an Okta API scope",
        ),
        (vec![], "no Okta credentials"),
    ];
    for (env, expected) in cases {
        let (ok, stderr) = start_up(url, &env);
        assert!(!ok, "{env:?} started");
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
        assert!(
            !stderr.contains(key.pem_text.lines().nth(1).unwrap()),
            "the key leaked: {stderr}"
        );
    }
}

/// Suspends `user` through a write tool's two calls (token, then confirmed); the second answer.
async fn suspend(client: &mut McpClient, user: &str) -> Value {
    let args = json!({"user_id": user});
    let first = client.call("suspend_okta_user", args.clone()).await;
    let token = first["result"]["structuredContent"]["confirmation"]
        .as_str()
        .unwrap_or_else(|| panic!("no confirmation token: {first}"))
        .to_owned();
    client
        .call(
            "suspend_okta_user",
            json!({"user_id": user, "confirmation": token}),
        )
        .await
}

#[tokio::test]
async fn write_tools_need_the_manage_scope() {
    let data = Dataset::generate(DEFAULT_SEED);
    let user = data
        .users
        .iter()
        .find(|u| {
            u.status == okta_mcp_tests::fake_okta::dataset::UserStatus::Active
                && u.id != ALICE_ID
                && u.profile.login.is_ascii()
        })
        .map(|u| u.id.clone())
        .expect("an active user");
    let key = service_app_key();
    let okta = fake_org(&key, &[]);
    // The default scopes are the read tools' only: a write is refused, naming the scope.
    let (_server, mut client) = service_app_server(&okta, &key, &[]).await;
    let text = error_text(&suspend(&mut client, &user).await);
    assert!(text.contains("okta.users.manage"), "{text}");
    let status = client
        .call_ok("get_okta_user", json!({"user_id": user}))
        .await;
    assert_eq!(status["user"]["status"], "ACTIVE");

    let scopes = "okta.users.read okta.users.manage";
    let (_server, mut client) = service_app_server(&okta, &key, &[("OKTA_SCOPES", scopes)]).await;
    let done = suspend(&mut client, &user).await;
    assert_eq!(done["result"]["structuredContent"]["done"], true, "{done}");
    let status = client
        .call_ok("get_okta_user", json!({"user_id": user}))
        .await;
    assert_eq!(status["user"]["status"], "SUSPENDED");
}

#[tokio::test]
async fn an_rsa_key_named_by_its_kid_works_and_a_wrong_kid_is_refused() {
    // The fake org's own RS256 test key, as an RSA service app key with a `kid`.
    let pem =
        std::fs::read_to_string(workspace_root().join("tests/src/fake_okta/oidc/signing-key.pem"))
            .unwrap();
    let key = service_app_key_from_pem(&pem, Some("rsa-key-1"));
    let okta = fake_org(&key, &[]);
    let (_server, mut client) =
        service_app_server(&okta, &key, &[("OKTA_SERVICE_KEY_ID", "rsa-key-1")]).await;
    let users = client.call_ok("list_okta_users", json!({"limit": 2})).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 2);

    let (_server, mut client) =
        service_app_server(&okta, &key, &[("OKTA_SERVICE_KEY_ID", "another-key")]).await;
    let text = error_text(&client.call("list_okta_users", json!({"limit": 1})).await);
    assert!(text.contains("invalid_client"), "{text}");
}

#[tokio::test]
async fn a_nonce_asked_for_by_the_api_is_sent_in_later_proofs() {
    let key = service_app_key();
    let okta = fake_org(&key, &["--service-api-nonce"]);
    let (_server, mut client) = service_app_server(&okta, &key, &[]).await;
    for _ in 0..3 {
        client.call_ok("list_okta_users", json!({"limit": 1})).await;
    }
    let stats = service_stats(&okta).await;
    assert_eq!(stats["api_nonce_challenges"], 1, "{stats}");
    assert_eq!(stats["tokens_issued"], 1, "the token is kept: {stats}");
}
