//! End to end: the security review's findings on the tool server (issue 11, section 1), each
//! reproduced through real processes.
//!
//! - sessions: `serve` keeps no MCP session, so no caller can pile them up;

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
