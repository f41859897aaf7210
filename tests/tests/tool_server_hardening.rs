//! End to end: the security review's findings on the tool server (issue 11, section 1), each
//! reproduced through real processes.
//!
//! - sessions: `serve` keeps no MCP session, so no caller can pile them up;
//! - log forging: outside values (tool names, subjects, …) cannot start a log line or fake a field;

use okta_mcp_tests::harness::{FakeOkta, McpClient, ToolServer, rss_kib};
use serde_json::{Value, json};

async fn setup(env: &[(&str, &str)]) -> (FakeOkta, ToolServer) {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, env).await;
    (okta, server)
}

fn initialize_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "okta-mcp-e2e", "version": "1"}
    }})
}

/// Finding 1: a viewer opening MCP sessions without end. `serve` opens none, so there is
/// nothing to cap: 1,000 initializes get no `Mcp-Session-Id` and leave memory where it was.
#[tokio::test]
async fn initializes_open_no_session_so_none_can_pile_up() {
    let (_okta, server) = setup(&[]).await;
    let pid = server.process.id();
    let client = McpClient::new(&server.mcp_url, "viewer", "00u-mallory");
    // Warm up allocator pools and the runtime before measuring.
    for id in 0..50 {
        let answer = client.post(&initialize_body(id)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let before = rss_kib(pid);
    for id in 0..1000 {
        let answer = client.post(&initialize_body(id)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(
            answer.headers.get("mcp-session-id").is_none(),
            "initialize opened a session: {answer:?}"
        );
    }
    let after = rss_kib(pid);
    // 49 KiB a session would be 49 MiB here; allow allocator noise only.
    assert!(
        after < before + 4 * 1024,
        "RSS grew from {before} KiB to {after} KiB over 1,000 initializes"
    );
    // A DELETE has nothing to end and says so.
    let mut delete = reqwest::Client::new().delete(&server.mcp_url);
    for (name, value) in client.identity_headers("DELETE") {
        delete = delete.header(name, value);
    }
    let deleted = delete.send().await.expect("DELETE");
    assert_eq!(deleted.status(), 405);
}

/// Finding 2: a tool name with a newline wrote a second, forged `audit` line.
#[tokio::test]
async fn outside_values_cannot_forge_log_lines_or_fields() {
    let (_okta, server) = setup(&[]).await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    client.initialize().await;
    for name in [
        "x\naudit forged=1",
        "x\r\naudit forged=2",
        "x decision=\"allow\" forged=3",
    ] {
        let answer = client.call(name, json!({})).await;
        assert_eq!(answer["error"]["code"], -32602, "{answer}");
    }
    // Wait for the last refusal's audit line, then look at every line.
    let logs = server.process.wait_for_log("forged=3").await;
    for line in logs.lines() {
        assert!(
            !line.trim_start().starts_with("audit forged"),
            "a forged line: {line:?}\n{logs}"
        );
        assert!(!line.contains("decision=\"allow\" forged"), "{line:?}");
    }
    let audit: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" audit: ") && l.contains("forged="))
        .collect();
    assert_eq!(audit.len(), 3, "one line per call: {audit:#?}");
    assert!(
        audit[0].contains(r#"tool="x\naudit forged=1""#),
        "{audit:#?}"
    );
    assert!(
        audit[1].contains(r#"tool="x\r\naudit forged=2""#),
        "{audit:#?}"
    );
    assert!(
        audit[2].contains(r#"tool="x decision=\"allow\" forged=3""#),
        "{audit:#?}"
    );
    // A plain name stays as it was.
    client.call_ok("get_current_time", json!({})).await;
    server.process.wait_for_log("tool=get_current_time").await;
}
