//! End to end: the security review's findings on the tool server (issue 11, section 1), each
//! reproduced through real processes.
//!
//! - sessions: `serve` keeps no MCP session, so no caller can pile them up;
//! - log forging: outside values (tool names, subjects, …) cannot start a log line or fake a field;
//! - restarts: identity headers captured before a restart are refused after it;
//! - slow clients: silent, slow-header and idle keep-alive connections are closed.

use std::time::{Duration, Instant};

use okta_mcp_tests::harness::{FakeOkta, McpClient, ToolServer, initialize_body, rss_kib};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn setup(env: &[(&str, &str)]) -> (FakeOkta, ToolServer) {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, env).await;
    (okta, server)
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

/// Finding 3: the nonce cache lives in memory, so a header used before a restart was accepted
/// once more after it, with any body (no session id is signed when there is none).
#[tokio::test]
async fn identity_headers_from_before_a_restart_are_refused() {
    let okta = FakeOkta::start(&[]);
    let mut first = ToolServer::start(&okta, &[]).await;
    let client = McpClient::new(&first.mcp_url, "viewer", "00u-viewer");
    let captured = client.identity_headers("POST");
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    assert_eq!(client.post_raw(&list, &captured).await.status, 200);
    assert_eq!(client.post_raw(&list, &captured).await.status, 401);

    first.process.kill();
    let second = ToolServer::start(&okta, &[]).await;
    let replayer = McpClient::new(&second.mcp_url, "viewer", "00u-viewer");
    // Another body under the captured headers: the body is not what is signed.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "list_okta_users", "arguments": {"limit": 1}}});
    let replayed = replayer.post_raw(&call, &captured).await;
    assert_eq!(replayed.status, 401, "{replayed:?}");
    let body: Value = serde_json::from_str(&replayed.body).expect("JSON-RPC error body");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("signed before this tool server started"),
        "{message}"
    );
    // A fresh header is served as usual.
    let mut fresh = McpClient::new(&second.mcp_url, "viewer", "00u-viewer");
    assert_eq!(fresh.tool_names().await.len(), 12);
}

/// What a raw connection saw before the server closed it (or the read gave up).
struct Closed {
    after: Duration,
    bytes: Vec<u8>,
    closed: bool,
}

/// Reads from `tcp` until the server closes it or `limit` passes.
async fn read_until_closed(tcp: &mut TcpStream, started: Instant, limit: Duration) -> Closed {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Closed {
                    after: started.elapsed(),
                    bytes,
                    closed: true,
                };
            }
            Ok(Ok(n)) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Closed {
                    after: started.elapsed(),
                    bytes,
                    closed: false,
                };
            }
        }
    }
}

fn address(server: &ToolServer) -> String {
    server
        .mcp_url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned()
}

/// Finding 5: connections that send nothing, send their header slowly, or sit idle between
/// requests were kept forever.
#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    let (_okta, server) = setup(&[
        ("TOOL_SERVER_HEADER_TIMEOUT_SECS", "1"),
        ("TOOL_SERVER_KEEP_ALIVE_SECS", "3"),
    ])
    .await;
    let addr = address(&server);
    let margin = Duration::from_millis(1500);

    // Connects and says nothing.
    let started = Instant::now();
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    let seen = read_until_closed(&mut silent, started, Duration::from_secs(10)).await;
    assert!(seen.closed, "a silent connection was kept {:?}", seen.after);
    assert!(
        seen.after < Duration::from_secs(1) + margin,
        "{:?}",
        seen.after
    );

    // Sends its header one line every 300 ms: still unfinished after the header timeout.
    let started = Instant::now();
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    let writer = async {
        slow.write_all(b"GET /health HTTP/1.1\r\n").await.ok();
        for i in 0..30 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let line = format!("x-slow-{i}: {i}\r\n");
            if slow.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    let seen = read_until_closed(&mut slow, started, Duration::from_secs(10)).await;
    // The writes failed (connection closed) well before the 30 lines were all sent.
    assert!(
        seen.closed && seen.after < Duration::from_secs(1) + margin * 2,
        "a slow header was still being read after {:?}",
        seen.after
    );
    assert!(
        !String::from_utf8_lossy(&seen.bytes).contains("200 OK"),
        "a half-sent header was answered"
    );

    // A finished request, then idle on the kept-alive connection: open past the header timeout,
    // closed after the keep-alive time.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.expect("response");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    let started = Instant::now();
    let early = read_until_closed(&mut idle, started, Duration::from_millis(2000)).await;
    assert!(
        !early.closed,
        "an idle keep-alive connection was closed at the header timeout ({:?})",
        early.after
    );
    let seen = read_until_closed(&mut idle, started, Duration::from_secs(10)).await;
    assert!(seen.closed, "an idle connection was kept {:?}", seen.after);
    assert!(
        seen.after >= Duration::from_millis(2500) && seen.after < Duration::from_secs(3) + margin,
        "{:?}",
        seen.after
    );

    // And the server still serves.
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    assert_eq!(client.tool_names().await.len(), 12);
}
