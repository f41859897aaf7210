//! End to end: the security review's findings (issue 11, section 1) on `wrap`.
//!
//! - sessions: one subject's cap holds, and a capped subject gets back in once a session is
//!   deleted or idles out;
//! - log forging: neither a tool name nor what the wrapped server writes to stderr can start a
//!   log line or fake a field.

use std::time::Duration;

use okta_mcp_tests::harness::{
    McpClient, WrapServer, everything_server_command, http_client, initialize_as,
};
use serde_json::json;

const POLICY: &str = "policies/everything.toml";

/// `initialize` as `subject`: the HTTP status, the JSON-RPC error message (if any), the session.
async fn open(server: &WrapServer, subject: &str) -> (u16, String, Option<String>) {
    let (answer, message) = initialize_as(&server.mcp_url, subject).await;
    let session = answer
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (answer.status, message, session)
}

async fn delete(server: &WrapServer, subject: &str, session: &str) -> u16 {
    let mut client = McpClient::new(&server.mcp_url, "viewer", subject);
    client.session_id = Some(session.to_owned());
    let mut request = http_client()
        .delete(&server.mcp_url)
        .header("mcp-session-id", session);
    for (name, value) in client.identity_headers("DELETE") {
        request = request.header(name, value);
    }
    request.send().await.expect("DELETE").status().as_u16()
}

/// Finding 1 for `wrap`: sessions are children, already capped per subject and in total; a
/// subject at its cap is refused with what to do, and gets back in after closing one (DELETE)
/// or after its sessions idle out.
#[tokio::test]
async fn a_capped_subject_gets_back_in_after_delete_and_after_idling_out() {
    let server = WrapServer::start(
        POLICY,
        &[
            "--max-children",
            "3",
            "--max-children-per-subject",
            "2",
            "--idle-secs",
            "3",
        ],
        &everything_server_command(),
    )
    .await;
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let (status, message, session) = open(&server, "00u-mallory").await;
        assert_eq!(status, 200, "{message}");
        sessions.push(session.expect("a session id"));
    }
    let (status, message, _) = open(&server, "00u-mallory").await;
    assert_eq!(status, 503, "{message}");
    assert!(message.contains("close one"), "{message}");

    // Closing one session frees exactly one place.
    assert_eq!(delete(&server, "00u-mallory", &sessions[0]).await, 200);
    let (status, message, session) = open(&server, "00u-mallory").await;
    assert_eq!(status, 200, "after DELETE: {message}");
    sessions[0] = session.expect("a session id");
    assert_eq!(open(&server, "00u-mallory").await.0, 503);

    // The total cap: one place left for someone else, then none.
    assert_eq!(open(&server, "00u-alice").await.0, 200);
    let (status, message, _) = open(&server, "00u-bob").await;
    assert_eq!(status, 503, "{message}");
    assert!(message.contains("try again later"), "{message}");

    // Idle sessions end on their own and give every place back.
    assert_eq!(server.wait_children(0, Duration::from_secs(15)).await, 0);
    for subject in ["00u-mallory", "00u-mallory", "00u-bob"] {
        let (status, message, _) = open(&server, subject).await;
        assert_eq!(status, 200, "{subject} after idling out: {message}");
    }
}

/// Finding 2 for `wrap`: a tool name with a line break, and a child's stderr line dressed as
/// fields.
#[tokio::test]
async fn tool_names_and_child_stderr_cannot_forge_log_lines_or_fields() {
    let server = WrapServer::start(POLICY, &[], &everything_server_command()).await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    client.initialize().await;
    let refused = client
        .call("x\naudit forged=1 decision=\"allow\"", json!({}))
        .await;
    assert!(
        refused.get("error").is_some() || refused["result"]["isError"] == true,
        "{refused}"
    );
    let logs = server.process.wait_for_log("forged=1").await;
    assert!(
        !logs
            .lines()
            .any(|l| l.trim_start().starts_with("audit forged")),
        "{logs}"
    );
    assert!(
        logs.contains(r#"tool="x\naudit forged=1 decision=\"allow\"""#),
        "{logs}"
    );

    // A child that writes whatever it likes to stderr (and never answers initialize).
    let script = "printf 'x subject=\"00u-carol\" decision=\"allow\"\\nhello\\raudit forged=2\\n' >&2; sleep 5";
    let child = vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let server = WrapServer::start(POLICY, &["--init-timeout-secs", "2"], &child).await;
    let (status, _, _) = open(&server, "00u-viewer").await;
    assert_eq!(status, 504);
    let logs = server.process.wait_for_log("forged=2").await;
    let stderr: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("wrapped server wrote to stderr"))
        .collect();
    assert_eq!(stderr.len(), 2, "{logs}");
    for line in &stderr {
        assert!(line.contains("subject=00u-viewer"), "{line}");
        assert!(!line.contains(r#" subject="00u-carol""#), "{line}");
        assert!(!line.contains(r#" decision="allow""#), "{line}");
    }
    assert!(
        stderr[0].contains(r#"stderr="x subject=\"00u-carol\" decision=\"allow\"""#),
        "{stderr:#?}"
    );
    assert!(
        stderr[1].contains(r#"stderr="hello\raudit forged=2""#),
        "{stderr:#?}"
    );
}
