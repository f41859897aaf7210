//! End to end: who may see and call what, and which requests the tool server refuses.
//!
//! Real `fake-okta` and `okta-mcp-tool-server` processes; MCP over HTTP with identity headers
//! signed as the proxy signs them.

use okta_mcp_tests::harness::{FakeOkta, McpClient, ToolServer, VIEWER_TOOLS as VIEWER};
use serde_json::{Value, json};

const SECURITY_ADMIN_EXTRA: [&str; 8] = [
    "clear_okta_user_sessions",
    "get_okta_policy_rule",
    "list_okta_application_groups",
    "list_okta_application_users",
    "list_okta_policies",
    "list_okta_policy_rules",
    "list_okta_user_factors",
    "unsuspend_okta_user",
];

fn sorted(names: impl IntoIterator<Item = &'static str>) -> Vec<String> {
    let mut v: Vec<String> = names.into_iter().map(String::from).collect();
    v.sort();
    v
}

async fn setup() -> (FakeOkta, ToolServer) {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    (okta, server)
}

#[tokio::test]
async fn each_role_sees_exactly_its_tools() {
    let (_okta, server) = setup().await;

    let mut viewer = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    viewer.initialize().await;
    assert_eq!(viewer.tool_names().await, sorted(VIEWER));

    let mut security = McpClient::new(&server.mcp_url, "security-admin", "00u-sec");
    security.initialize().await;
    let expected = sorted(VIEWER.into_iter().chain(SECURITY_ADMIN_EXTRA));
    assert_eq!(security.tool_names().await, expected);
    assert_eq!(expected.len(), 20);

    let mut admin = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    admin.initialize().await;
    let mut all = expected.clone();
    all.push("list_okta_network_zones".into());
    all.extend(
        [
            "suspend_okta_user",
            "reset_okta_user_factor",
            "add_okta_user_to_group",
            "remove_okta_user_from_group",
            "expire_okta_user_password",
        ]
        .map(String::from),
    );
    all.sort();
    assert_eq!(admin.tool_names().await, all);

    let mut nobody = McpClient::new(&server.mcp_url, "contractor", "00u-nobody");
    nobody.initialize().await;
    assert_eq!(nobody.tool_names().await, Vec::<String>::new());
}

#[tokio::test]
async fn a_refused_call_is_answered_like_an_unknown_tool() {
    let (okta, server) = setup().await;
    let mut viewer = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    viewer.initialize().await;
    okta.reset_stats().await;

    let refused = viewer.call("list_okta_network_zones", json!({})).await;
    let unknown = viewer.call("list_okta_network_zonez", json!({})).await;
    assert_eq!(
        refused["error"]["code"], unknown["error"]["code"],
        "{refused} vs {unknown}"
    );
    assert_eq!(refused["error"]["code"], -32602);
    assert_eq!(
        refused["error"]["message"],
        "Unknown tool: list_okta_network_zones"
    );
    assert_eq!(
        unknown["error"]["message"],
        "Unknown tool: list_okta_network_zonez"
    );
    assert!(refused.get("result").is_none());

    // A role the policy does not know gets nothing either.
    let mut nobody = McpClient::new(&server.mcp_url, "contractor", "00u-nobody");
    nobody.initialize().await;
    let denied = nobody.call("get_current_time", json!({})).await;
    assert_eq!(denied["error"]["message"], "Unknown tool: get_current_time");

    // Nothing reached Okta, and the audit log says who was refused what.
    assert_eq!(okta.stats().await["requests"], 0);
    let logs = server
        .process
        .wait_for_log("tool=list_okta_network_zonez")
        .await;
    let line = logs
        .lines()
        .find(|l| l.contains("tool=list_okta_network_zones"))
        .expect("audit line");
    assert!(line.contains("audit"), "{line}");
    assert!(line.contains("decision=\"deny\""), "{line}");
    assert!(line.contains("subject=\"00u-viewer\""), "{line}");
    assert!(line.contains("role=\"viewer\""), "{line}");
}

#[tokio::test]
async fn an_allowed_call_is_audited_without_arguments_or_token() {
    let (_okta, server) = setup().await;
    let mut admin = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    admin.initialize().await;
    admin
        .call_ok(
            "list_okta_users",
            json!({"query": "secret-looking-argument", "limit": 5}),
        )
        .await;
    let logs = server.process.wait_for_log("tool=list_okta_users").await;
    let line = logs
        .lines()
        .find(|l| l.contains("tool=list_okta_users") && l.contains("audit"))
        .expect("audit line");
    assert!(line.contains("decision=\"allow\""), "{line}");
    assert!(line.contains("okta_status=200"), "{line}");
    assert!(line.contains("okta_calls=1"), "{line}");
    assert!(line.contains("duration_ms="), "{line}");
    assert!(
        !logs.contains("secret-looking-argument"),
        "arguments leaked into logs"
    );
    assert!(
        !logs.contains(okta_mcp_tests::harness::TEST_API_TOKEN),
        "API token leaked into logs"
    );
}

fn assert_unauthorized(answer: &okta_mcp_tests::harness::Answer, why: &str) {
    assert_eq!(answer.status, 401, "{why}: {answer:?}");
    let body: Value = serde_json::from_str(&answer.body).expect("JSON-RPC error body");
    assert_eq!(body["jsonrpc"], "2.0", "{why}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Unauthorized")),
        "{why}: {body}"
    );
}

#[tokio::test]
async fn bad_identity_headers_get_401() {
    let (_okta, server) = setup().await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    client.initialize().await;
    let list = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"});

    // No identity headers at all.
    assert_unauthorized(&client.post_raw(&list, &[]).await, "missing");

    // Each header missing in turn.
    for drop in ["x-mcp-identity", "x-mcp-role", "x-mcp-subject"] {
        let headers: Vec<_> = client
            .identity_headers("POST")
            .into_iter()
            .filter(|(n, _)| *n != drop)
            .collect();
        assert_unauthorized(&client.post_raw(&list, &headers).await, drop);
    }

    // A client raising its own role after signing.
    let mut headers = client.identity_headers("POST");
    headers.retain(|(n, _)| *n != "x-mcp-role");
    headers.push(("x-mcp-role", "super-admin".into()));
    assert_unauthorized(&client.post_raw(&list, &headers).await, "tampered role");

    // A signature made with another key.
    let mut forger = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    forger.session_id = client.session_id.clone();
    let mut headers = forger.identity_headers("POST");
    for (name, value) in headers.iter_mut() {
        if *name == "x-mcp-identity" {
            let sig_at = value.find("sig=").unwrap() + 4;
            let flipped = if value.as_bytes()[sig_at] == b'A' {
                "B"
            } else {
                "A"
            };
            value.replace_range(sig_at..sig_at + 1, flipped);
        }
    }
    assert_unauthorized(&client.post_raw(&list, &headers).await, "bad signature");

    // Stale: signed 2 minutes ago.
    let stale = stale_headers(&client, 120);
    assert_unauthorized(&client.post_raw(&list, &stale).await, "stale");
    let future = stale_headers(&client, -120);
    assert_unauthorized(&client.post_raw(&list, &future).await, "future");

    // Replayed: the same headers twice.
    let headers = client.identity_headers("POST");
    let first = client.post_raw(&list, &headers).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_unauthorized(&client.post_raw(&list, &headers).await, "replayed");

    // Junk values never crash the server.
    for junk in [
        "",
        "v1",
        "v1;t=abc;n=x;sig=y",
        "v1;t=1;n=AAECAwQFBgcICQoLDA0ODw;sig=%%%",
    ] {
        let mut headers = client.identity_headers("POST");
        headers.retain(|(n, _)| *n != "x-mcp-identity");
        headers.push(("x-mcp-identity", junk.into()));
        assert_unauthorized(&client.post_raw(&list, &headers).await, junk);
    }
    // Still serving afterwards.
    assert_eq!(client.tool_names().await.len(), 12);
}

/// Identity headers with the timestamp moved `age` seconds into the past.
fn stale_headers(client: &McpClient, age: i64) -> Vec<(&'static str, String)> {
    use okta_mcp_tool_server::identity::{self, IdentityKey, RequestBinding};
    let key = IdentityKey::new(okta_mcp_tests::harness::TEST_IDENTITY_KEY).unwrap();
    let t = chrono::Utc::now().timestamp() - age;
    let binding = RequestBinding {
        method: "POST",
        path: "/mcp",
        session_id: client.session_id.as_deref().unwrap_or(""),
    };
    let mut headers = client.identity_headers("POST");
    headers.retain(|(n, _)| *n != "x-mcp-identity");
    headers.push((
        "x-mcp-identity",
        identity::sign(&key, t, &identity::new_nonce(), binding, &client.identity),
    ));
    headers
}

#[tokio::test]
async fn stateless_2026_07_28_clients_are_served_with_the_same_policy() {
    let (_okta, server) = setup().await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    client.protocol_version = "2026-07-28".into();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let mut headers = client.identity_headers("POST");
    headers.push(("mcp-method", "tools/list".into()));
    let list = client
        .post_raw(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": meta}}),
            &headers,
        )
        .await;
    assert_eq!(list.status, 200, "{list:?}");
    assert!(
        list.headers.get("mcp-session-id").is_none(),
        "stateless: no session"
    );
    let tools = list.message.expect("tools/list result")["result"]["tools"]
        .as_array()
        .expect("tools")
        .len();
    assert_eq!(tools, VIEWER.len());

    let mut headers = client.identity_headers("POST");
    headers.push(("mcp-method", "tools/call".into()));
    headers.push(("mcp-name", "list_okta_network_zones".into()));
    let refused = client
        .post_raw(
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "list_okta_network_zones", "arguments": {}, "_meta": meta}}),
            &headers,
        )
        .await;
    let message = refused.message.expect("an answer");
    assert_eq!(
        message["error"]["message"],
        "Unknown tool: list_okta_network_zones"
    );

    // Without identity headers a stateless request is refused like any other.
    let anonymous = client
        .post_raw(
            &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
            &[],
        )
        .await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn stdio_serves_the_tools_of_a_fixed_role() {
    use std::io::{BufRead, BufReader, Write};
    let okta = FakeOkta::start(&[]);
    let mut child =
        std::process::Command::new(okta_mcp_tests::harness::binary("okta-mcp-tool-server"))
            .current_dir(okta_mcp_tests::harness::workspace_root())
            .args(["stdio", "--role", "viewer"])
            .env("OKTA_ORG_URL", &okta.url)
            .env("OKTA_API_TOKEN", okta_mcp_tests::harness::TEST_API_TOKEN)
            .env_remove("IDENTITY_HEADER_KEY")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn stdio server");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let mut read = || {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "stdio-test", "version": "1"}}}),
    );
    assert_eq!(
        read()["result"]["serverInfo"]["name"],
        "okta-mcp-tool-server"
    );
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    let tools = read();
    assert_eq!(
        tools["result"]["tools"].as_array().unwrap().len(),
        12,
        "{tools}"
    );
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "get_okta_user", "arguments": {"user_id": "bob@example.com"}}}));
    let bob = read();
    assert_eq!(
        bob["result"]["structuredContent"]["user"]["id"],
        okta_mcp_tests::fake_okta::dataset::BOB_ID
    );
    send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "list_okta_user_factors", "arguments": {"user_id": "bob@example.com"}}}));
    assert_eq!(
        read()["error"]["message"],
        "Unknown tool: list_okta_user_factors"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn start_up_refuses_bad_configuration_with_a_clear_message() {
    let bin = okta_mcp_tests::harness::binary("okta-mcp-tool-server");
    let root = okta_mcp_tests::harness::workspace_root();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(&bin);
        command.current_dir(&root).args(args).env_clear();
        for (k, v) in env {
            command.env(k, v);
        }
        let out = command.output().expect("run");
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let okta = [
        ("OKTA_ORG_URL", "http://127.0.0.1:9"),
        ("OKTA_API_TOKEN", "t"),
    ];
    let err = run(&["serve", "--listen", "127.0.0.1:0"], &okta);
    assert!(err.contains("IDENTITY_HEADER_KEY"), "{err}");
    let mut weak = okta.to_vec();
    weak.push(("IDENTITY_HEADER_KEY", "short"));
    let err = run(&["serve", "--listen", "127.0.0.1:0"], &weak);
    assert!(err.contains("at least 32 bytes"), "{err}");
    let err = run(&["serve", "--listen", "0.0.0.0:0"], &weak);
    assert!(err.contains("not a loopback address"), "{err}");
    let err = run(
        &["serve"],
        &[(
            "IDENTITY_HEADER_KEY",
            okta_mcp_tests::harness::TEST_IDENTITY_KEY,
        )],
    );
    assert!(err.contains("OKTA_ORG_URL"), "{err}");

    // A policy naming a tool that does not exist.
    let dir = std::env::temp_dir().join(format!("okta-mcp-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("bad.toml");
    std::fs::write(
        &policy,
        "[roles.viewer]\ntools = [\"get_okta_user\", \"delete_everything\"]\n",
    )
    .unwrap();
    let err = run(&["policy", "check", policy.to_str().unwrap()], &[]);
    assert!(err.contains("delete_everything"), "{err}");
    let mut env = okta.to_vec();
    env.push((
        "IDENTITY_HEADER_KEY",
        okta_mcp_tests::harness::TEST_IDENTITY_KEY,
    ));
    let err = run(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--policy",
            policy.to_str().unwrap(),
        ],
        &env,
    );
    assert!(err.contains("delete_everything"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_health_subcommand_answers_for_exec_probes() {
    let (_okta, server) = setup().await;
    let health = server.mcp_url.replace("/mcp", "/health");
    let bin = okta_mcp_tests::harness::binary("okta-mcp-tool-server");
    let ok = tokio::process::Command::new(&bin)
        .args(["health", "--url", &health])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert!(ok.status.success(), "{ok:?}");
    assert!(ok.stdout.is_empty());
    let port = okta_mcp_tests::harness::free_port();
    let down = tokio::process::Command::new(&bin)
        .args([
            "health",
            "--url",
            &format!("http://127.0.0.1:{port}/health"),
        ])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("no answer"));
}
