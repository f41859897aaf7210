//! End to end: an unmodified stdio MCP server (`@modelcontextprotocol/server-everything`,
//! pinned in tests/clients/package.json) behind `okta-mcp-tool-server wrap`.
//!
//! Through the proxy with the official TypeScript SDK client (`tests/clients/wrap-flow.mjs`):
//! role filtering, progress, sampling/elicitation/roots, resource reads, a killed child, idle
//! reaping, 50 concurrent sessions and the child limit. Directly with signed identity headers:
//! session ownership, DELETE, the per-subject child limit, the maximum call duration, the
//! child's environment, requests of older clients without a session, shutdown, the
//! policy warning, and the two numbers of the closing note (memory per idle session, time from
//! initialize to the first tools/list).

use std::time::{Duration, Instant};

use okta_mcp_tests::harness::{
    EVERYTHING_VIEWER_TOOLS, McpClient, NodeScript, WrapServer, WrapStack,
    everything_server_command, http_client, initialize_as, initialize_body, rss_kib,
};
use serde_json::{Value, json};

const POLICY: &str = "policies/everything.toml";
const SCRIPT: &str = "wrap-flow.mjs";
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

async fn stack(flags: &[&str]) -> WrapStack {
    WrapStack::start(POLICY, flags, &everything_server_command()).await
}

async fn wrap_server(policy: &str, flags: &[&str]) -> WrapServer {
    WrapServer::start(policy, flags, &everything_server_command()).await
}

async fn run(stack: &WrapStack, email: &str, args: &[&str]) -> Value {
    stack.okta.auto_login(email).await;
    let mut all = vec![stack.proxy.mcp_url.as_str()];
    all.extend_from_slice(args);
    let report = NodeScript::start(SCRIPT, &all).report(NODE_TIMEOUT).await;
    assert!(report.get("error").is_none(), "{args:?}: {report}");
    report
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn roles_filter_the_wrapped_tools_and_refused_calls_look_like_unknown_tools() {
    let stack = stack(&[]).await;

    let alice = run(&stack, "alice@example.com", &["basic"]).await;
    assert_eq!(strings(&alice["tools"]), EVERYTHING_VIEWER_TOOLS, "{alice}");
    // Refused without reaching the child, yet answered exactly as the child answers a tool
    // that does not exist: the same shape and text, with the name swapped.
    let refused = alice["refused"].to_string();
    let unknown = alice["unknown"]
        .to_string()
        .replace("no-such-tool-at-all", "get-env");
    assert_eq!(refused, unknown, "{alice}");
    assert_eq!(alice["refused"]["isError"], true, "{alice}");
    assert!(refused.contains("Tool get-env not found"), "{refused}");
    assert_eq!(alice["echo"], "Echo: hello wrap");
    assert_eq!(
        alice["resource"]["uri"], "demo://resource/dynamic/text/1",
        "{alice}"
    );
    assert!(
        alice["resource"]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    assert!(alice["resourceCount"].as_u64().unwrap_or(0) > 0, "{alice}");

    let carol = run(&stack, "carol@example.com", &["basic"]).await;
    let all = strings(&carol["tools"]);
    assert!(all.len() > EVERYTHING_VIEWER_TOOLS.len(), "{carol}");
    for tool in EVERYTHING_VIEWER_TOOLS
        .iter()
        .chain(&["get-env", "gzip-file-as-resource"])
    {
        assert!(all.iter().any(|t| t == tool), "carol lacks {tool}: {all:?}");
    }
    // The super-admin may call get-env: the child's environment holds none of our secrets.
    let env = carol["refused"]["content"][0]["text"]
        .as_str()
        .unwrap_or("");
    assert!(env.contains("PATH"), "{carol}");
    assert!(!env.contains("IDENTITY_HEADER_KEY"), "secret leaked: {env}");

    let logs = stack.wrap.process.logs();
    assert!(
        logs.contains("tools/call refused") && logs.contains("tool=get-env"),
        "{logs}"
    );
    // Each session's child wrote to stderr, logged with its session and subject, the child's
    // text in a quoted field of its own.
    assert!(
        logs.lines()
            .any(|l| l.contains("wrapped server wrote to stderr")
                && l.contains("stderr=\"Starting default (STDIO) server")),
        "{logs}"
    );
    eprintln!(
        "through the proxy, SDK client: initialize → first tools/list answer: alice {:.0} ms, carol {:.0} ms",
        alice["initToToolsListMs"].as_f64().unwrap_or(-1.0),
        carol["initToToolsListMs"].as_f64().unwrap_or(-1.0)
    );
}

#[tokio::test]
async fn progress_notifications_reach_the_client() {
    let stack = stack(&[]).await;
    let report = run(&stack, "alice@example.com", &["progress"]).await;
    let progress: Vec<(u64, u64)> = report["progress"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|p| {
            (
                p["progress"].as_u64().unwrap_or(0),
                p["total"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(progress, [(1, 4), (2, 4), (3, 4), (4, 4)], "{report}");
    assert!(
        report["result"]
            .as_str()
            .is_some_and(|r| r.contains("Long running operation completed")),
        "{report}"
    );
}

#[tokio::test]
async fn sampling_elicitation_and_roots_are_answered_by_the_client() {
    let stack = stack(&[]).await;
    // Bob is a security-admin: the policy gives that role the tools that ask the client.
    let report = run(&stack, "bob@example.com", &["client-requests"]).await;
    let tools = strings(&report["tools"]);
    assert!(tools.contains(&"trigger-sampling-request".to_owned()));
    assert!(
        !tools.contains(&"get-env".to_owned()),
        "not a security-admin tool"
    );
    assert_eq!(report["handlers"]["sampling"], 1, "{report}");
    assert_eq!(report["handlers"]["elicitation"], 1, "{report}");
    assert!(
        report["handlers"]["roots"].as_u64().unwrap_or(0) >= 1,
        "{report}"
    );
    let sampling = report["sampling"].as_str().unwrap_or("");
    assert!(
        sampling.contains(
            "sampled answer to: Resource trigger-sampling-request context: ping from wrap"
        ),
        "{sampling}"
    );
    assert!(sampling.contains("okta-mcp-test-model"), "{sampling}");
    let elicitation = report["elicitation"].as_str().unwrap_or("");
    assert!(elicitation.contains("Name: Ada Lovelace"), "{elicitation}");
    let roots = report["roots"].as_str().unwrap_or("");
    assert!(roots.contains("file:///srv/okta-mcp-test-root"), "{roots}");
}

/// Runs the `recover` scenario, calling `between` while the script waits.
async fn recover(stack: &WrapStack, between: impl AsyncFnOnce()) -> Value {
    stack.okta.auto_login("alice@example.com").await;
    let mut script = NodeScript::start(SCRIPT, &[&stack.proxy.mcp_url, "recover"]);
    let phase = script.next_json(NODE_TIMEOUT).await;
    assert_eq!(
        phase.as_ref().map(|p| &p["phase"]),
        Some(&json!("connected")),
        "{phase:?}"
    );
    between().await;
    script.go().await;
    let report = script.report(NODE_TIMEOUT).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["before"], "Echo: one");
    assert_eq!(
        report["afterEnd"]["code"], 404,
        "the ended session is gone: {report}"
    );
    assert_eq!(report["after"], "Echo: three", "recovered: {report}");
    assert_eq!(report["toolsAfter"], EVERYTHING_VIEWER_TOOLS.len());
    report
}

#[tokio::test]
async fn a_killed_child_ends_its_session_and_the_client_recovers() {
    let stack = stack(&[]).await;
    recover(&stack, async || {
        let children = stack.wrap.children();
        assert_eq!(children.len(), 1, "one session, one child");
        let status = std::process::Command::new("kill")
            .args(["-KILL", &children[0].to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        assert_eq!(stack.wrap.wait_children(0, Duration::from_secs(5)).await, 0);
        stack
            .wrap
            .process
            .wait_for_log("the wrapped server exited; its session is over")
            .await;
    })
    .await;
    let logs = stack.wrap.process.logs();
    assert!(
        logs.contains("reason=\"the wrapped server exited\""),
        "{logs}"
    );
}

#[tokio::test]
async fn idle_sessions_are_reaped_and_the_client_recovers() {
    let stack = stack(&["--idle-secs", "3"]).await;
    recover(&stack, async || {
        assert_eq!(stack.wrap.children().len(), 1);
        // The SDK keeps its GET stream open; that alone does not keep a session alive.
        assert_eq!(
            stack.wrap.wait_children(0, Duration::from_secs(10)).await,
            0,
            "the idle session's child was not ended"
        );
        stack.wrap.process.wait_for_log("reason=\"idle\"").await;
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_sessions_run_fifty_children_with_separate_state() {
    // One user's fifty sessions: above the default share of one subject.
    let stack = stack(&["--max-children", "60", "--max-children-per-subject", "60"]).await;
    stack.okta.auto_login("carol@example.com").await;
    let started = Instant::now();
    let mut script = NodeScript::start(SCRIPT, &[&stack.proxy.mcp_url, "concurrent", "50"]);
    let phase = script
        .next_json(Duration::from_secs(240))
        .await
        .expect("phase");
    assert_eq!(phase["phase"], "open", "{phase}");
    let children = stack.wrap.children();
    assert_eq!(children.len(), 50, "one child per session");
    eprintln!(
        "50 sessions through the proxy opened and used in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    script.go().await;
    let report = script.report(NODE_TIMEOUT).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["sessions"], 50);
    assert_eq!(report["distinctSessionIds"], 50);
    assert_eq!(
        report["onlyOwnResource"], true,
        "each session sees its own state only: {report}"
    );
    assert_eq!(report["allRead"], true, "{report}");
    // DELETE ended every child.
    assert_eq!(
        stack.wrap.wait_children(0, Duration::from_secs(15)).await,
        0
    );
}

#[tokio::test]
async fn the_child_limit_answers_503_with_a_clear_message() {
    let stack = stack(&["--max-children", "2"]).await;
    let report = run(&stack, "alice@example.com", &["limit", "3"]).await;
    let attempts = report["attempts"].as_array().expect("attempts");
    assert_eq!(attempts[0]["ok"], true, "{report}");
    assert_eq!(attempts[1]["ok"], true, "{report}");
    assert_eq!(attempts[2]["ok"], false, "{report}");
    assert_eq!(attempts[2]["code"], 503, "{report}");
    let message = attempts[2]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("already runs 2 MCP sessions, its limit (--max-children)"),
        "{message}"
    );
    assert_eq!(
        report["afterDelete"]["ok"], true,
        "a DELETE frees a slot: {report}"
    );
}

/// `initialize` as `subject`: the HTTP status, the JSON-RPC error message (if any), Retry-After.
async fn try_initialize(server: &WrapServer, subject: &str) -> (u16, String, Option<String>) {
    let (answer, message) = initialize_as(&server.mcp_url, subject).await;
    let retry = answer
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (answer.status, message, retry)
}

#[tokio::test]
async fn one_subject_cannot_take_every_child_slot() {
    let server = wrap_server(
        POLICY,
        &["--max-children", "4", "--max-children-per-subject", "2"],
    )
    .await;
    for _ in 0..2 {
        assert_eq!(try_initialize(&server, "00u-mallory").await.0, 200);
    }
    // Mallory has her share: her next session is refused, and the answer says which limit
    // and what to do.
    let (status, message, retry) = try_initialize(&server, "00u-mallory").await;
    assert_eq!(status, 503, "{message}");
    assert!(
        message.contains(
            "2 MCP sessions open, the most one user may have (--max-children-per-subject)"
        ),
        "{message}"
    );
    assert!(message.contains("close one"), "{message}");
    assert!(retry.is_some());
    // Everyone else still gets a session.
    for subject in ["00u-alice", "00u-bob"] {
        let (status, message, _) = try_initialize(&server, subject).await;
        assert_eq!(status, 200, "{subject}: {message}");
    }
    assert_eq!(server.children().len(), 4);
    // With every slot taken, the answer names the total limit instead.
    let (status, message, _) = try_initialize(&server, "00u-carol").await;
    assert_eq!(status, 503, "{message}");
    assert!(
        message.contains("already runs 4 MCP sessions, its limit (--max-children)"),
        "{message}"
    );
}

#[tokio::test]
async fn sessions_belong_to_their_subject_and_delete_ends_the_child() {
    let server = wrap_server(POLICY, &[]).await;
    let mut alice = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    alice.initialize().await;
    assert_eq!(alice.tool_names().await, EVERYTHING_VIEWER_TOOLS);

    let mut mallory = McpClient::new(&server.mcp_url, "super-admin", "00u-mallory");
    mallory.session_id = alice.session_id.clone();
    let stolen = mallory
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(stolen.status, 404, "{stolen:?}");
    mallory.session_id = Some("no-such-session".into());
    let unknown = mallory
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.body, stolen.body, "same answer for both");

    // A name a JavaScript server would coerce (["get-env"] → "get-env") is refused too.
    let coerced = alice
        .request("tools/call", json!({"name": ["get-env"], "arguments": {}}))
        .await;
    assert_eq!(coerced["result"]["isError"], true, "{coerced}");
    assert!(coerced.to_string().contains("not found"), "{coerced}");
    assert!(!coerced.to_string().contains("PATH"), "{coerced}");

    // A second initialize in a session is refused, and the session goes on.
    let again = alice.post(&initialize_body(1)).await;
    assert_eq!(again.status, 400, "{again:?}");
    assert_eq!(
        alice.tool_names().await.len(),
        EVERYTHING_VIEWER_TOOLS.len()
    );

    // Without identity headers: 401, as for serve.
    let anonymous = alice
        .post_raw(
            &json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}),
            &[],
        )
        .await;
    assert_eq!(anonymous.status, 401);

    assert_eq!(server.children().len(), 1);
    let mut delete = http_client().delete(&server.mcp_url).header(
        "mcp-session-id",
        alice.session_id.clone().unwrap_or_default(),
    );
    for (name, value) in alice.identity_headers("DELETE") {
        delete = delete.header(name, value);
    }
    let deleted = delete.send().await.expect("DELETE");
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        server.children().len(),
        0,
        "the child is gone once DELETE answers"
    );
    let after = alice
        .post(&json!({"jsonrpc": "2.0", "id": 10, "method": "tools/list"}))
        .await;
    assert_eq!(after.status, 404);
    let refused = after.message.expect("a JSON-RPC error body");
    assert_eq!(refused["id"], 10, "answered by the request's id: {refused}");
    assert_eq!(refused["error"]["code"], -32001, "{refused}");
}

#[tokio::test]
async fn a_request_in_flight_when_the_child_dies_gets_an_error_then_404() {
    let server = wrap_server(POLICY, &[]).await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    client.initialize().await;
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation", "arguments": {"duration": 30, "steps": 3}
    }});
    let (answer, ()) = tokio::join!(client.post(&call), async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        for pid in server.children() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    assert_eq!(answer.status, 200);
    let message = answer.message.expect("an answer, not a hang");
    assert_eq!(message["id"], 7);
    assert!(
        message["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("the wrapped server exited")),
        "{message}"
    );
    let next = client
        .post(&json!({"jsonrpc": "2.0", "id": 8, "method": "tools/list"}))
        .await;
    assert_eq!(next.status, 404);
}

#[tokio::test]
async fn a_call_past_the_maximum_duration_is_cancelled_and_answered() {
    let server = wrap_server(POLICY, &["--max-call-secs", "2"]).await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    client.initialize().await;
    let started = Instant::now();
    let answer = client
        .call(
            "trigger-long-running-operation",
            json!({"duration": 20, "steps": 4}),
        )
        .await;
    let took = started.elapsed();
    eprintln!(
        "a 20 s call with --max-call-secs 2 was answered after {:.2} s",
        took.as_secs_f64()
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(answer["error"]["code"], -32001, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("took longer than 2 s (--max-call-secs)"),
        "{message}"
    );
    // The child was told to stop working on it, and the call is audited as timed out.
    let logs = server
        .process
        .wait_for_log("cancelled toward the wrapped server")
        .await;
    assert!(logs.contains("outcome=\"timeout\""), "{logs}");
    // The session goes on.
    assert_eq!(
        client.call("echo", json!({"message": "after"})).await["result"]["content"][0]["text"],
        "Echo: after"
    );
    // Shorter calls are not touched.
    let quick = client
        .call(
            "trigger-long-running-operation",
            json!({"duration": 1, "steps": 1}),
        )
        .await;
    assert!(quick.get("error").is_none(), "{quick}");
    assert_eq!(server.children().len(), 1);
}

/// The environment of a running process, from /proc.
fn environ(pid: u32) -> Vec<(String, String)> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    raw.split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let text = String::from_utf8_lossy(e);
            let (name, value) = text.split_once('=')?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn the_child_sees_only_the_environment_it_is_given() {
    let server = WrapServer::start_with_env(
        POLICY,
        &[
            "--env",
            "OKTA_MCP_TEST_PASSED",
            "--env",
            "OKTA_MCP_TEST_SET=set by flag",
        ],
        &everything_server_command(),
        &[
            ("AWS_SECRET_ACCESS_KEY", "not-for-the-child"),
            ("OKTA_MCP_TEST_PASSED", "passed through"),
            ("HOME", "/tmp/okta-mcp-test-home"),
        ],
    )
    .await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    client.initialize().await;
    let children = server.children();
    assert_eq!(children.len(), 1);
    let env = environ(children[0]);
    let names: Vec<&str> = env.iter().map(|(n, _)| n.as_str()).collect();
    let value = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    // Set in the wrapper's environment but not on the list: absent.
    for absent in ["AWS_SECRET_ACCESS_KEY", "IDENTITY_HEADER_KEY", "LOG_LEVEL"] {
        assert!(
            !names.contains(&absent),
            "{absent} reached the child: {names:?}"
        );
    }
    assert_eq!(value("OKTA_MCP_TEST_PASSED"), Some("passed through"));
    assert_eq!(value("OKTA_MCP_TEST_SET"), Some("set by flag"));
    // The defaults: PATH and HOME passed through; LANG is not set in the wrapper, so not here.
    assert_eq!(value("HOME"), Some("/tmp/okta-mcp-test-home"));
    assert!(value("PATH").is_some_and(|p| !p.is_empty()), "{names:?}");
    let mut expected = vec!["HOME", "OKTA_MCP_TEST_PASSED", "OKTA_MCP_TEST_SET", "PATH"];
    expected.sort_unstable();
    let mut names = names;
    names.sort_unstable();
    assert_eq!(names, expected, "nothing else");
    // And the Node server works with that.
    assert_eq!(client.tool_names().await, EVERYTHING_VIEWER_TOOLS);
    assert_eq!(
        client.call("echo", json!({"message": "env"})).await["result"]["content"][0]["text"],
        "Echo: env"
    );
}

#[tokio::test]
async fn bad_env_flags_are_start_up_errors() {
    for (flag, why) in [
        ("=x", "no name"),
        ("=", "no name"),
        ("", "no name"),
        ("1ABC", "letters, digits and _"),
        ("A B=c", "letters, digits and _"),
        ("IDENTITY_HEADER_KEY", "never passed to the wrapped server"),
        (
            "OKTA_API_TOKEN_FILE=/x",
            "never passed to the wrapped server",
        ),
        // The message names the variable, never its value (it may be the secret itself).
        (
            "OKTA_API_TOKEN=hunter2-value",
            "never passed to the wrapped server",
        ),
        ("BAD-NAME=hunter2-value", "letters, digits and _"),
    ] {
        let output =
            std::process::Command::new(okta_mcp_tests::harness::binary("okta-mcp-tool-server"))
                .current_dir(okta_mcp_tests::harness::workspace_root())
                .args(["wrap", "--policy", POLICY, "--env", flag, "--"])
                .args(everything_server_command())
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("IDENTITY_HEADER_KEY", "k".repeat(40))
                .output()
                .expect("run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "--env {flag:?} was accepted");
        assert!(
            stderr.contains("--env") && stderr.contains(why),
            "--env {flag:?}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "--env {flag:?}: {stderr}");
    }
}

#[tokio::test]
async fn requests_of_older_clients_without_a_session_get_400_and_start_no_child() {
    // 2026-07-28 clients are served without a session (tests/tests/wrap_stateless.rs); an
    // older client that skips initialize gets what a pre-2026 server answers.
    let server = wrap_server(POLICY, &[]).await;
    let client = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    let answer = client
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body).expect("JSON body");
    assert_eq!(body["error"]["code"], -32000, "{body}");
    assert_eq!(
        body["id"], 1,
        "the refusal answers the request by its id: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("initialize")),
        "{body}"
    );
    assert!(
        server.children().is_empty(),
        "no child for a sessionless request"
    );
}

#[tokio::test]
async fn shutdown_ends_every_child() {
    let mut server = wrap_server(POLICY, &[]).await;
    for n in 0..3 {
        let mut client = McpClient::new(&server.mcp_url, "viewer", &format!("00u-{n}"));
        client.initialize().await;
    }
    let children = server.children();
    assert_eq!(children.len(), 3);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.process.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = server.process.wait_exit(Duration::from_secs(15)).await;
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
    for pid in children {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "child {pid} outlived the wrapper"
        );
    }
    let logs = server.process.logs();
    assert!(logs.contains("ending all sessions count=3"), "{logs}");
}

#[tokio::test]
async fn a_policy_tool_the_server_lacks_is_warned_about_at_the_first_tools_list() {
    let dir = std::env::temp_dir().join(format!("okta-mcp-wrap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let policy = dir.join("policy.toml");
    std::fs::write(
        &policy,
        "[roles.viewer]\ntools = [\"echo\", \"no-such-everything-tool\"]\n",
    )
    .expect("write policy");
    let server = wrap_server(&policy.display().to_string(), &[]).await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    client.initialize().await;
    assert_eq!(client.tool_names().await, ["echo"]);
    let logs = server
        .process
        .wait_for_log("the policy names a tool the wrapped server does not offer")
        .await;
    assert!(logs.contains("tool=no-such-everything-tool"), "{logs}");
    // The role still sees and calls only what it is allowed.
    let refused = client.call("get-sum", json!({"a": 1, "b": 2})).await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Memory of one idle wrapped session on the wrapper's side (children excluded), and the time
/// from `initialize` to the first `tools/list` answer; printed for the closing note.
#[tokio::test]
async fn measure_idle_session_memory_and_time_to_first_tools_list() {
    const SESSIONS: usize = 20;
    let server = wrap_server(POLICY, &["--max-children", "40"]).await;
    let wrapper = server.process.id();

    // Warm up (thread pools, allocator arenas), then let those sessions go.
    let mut times = Vec::new();
    for n in 0..5 {
        let mut client = McpClient::new(&server.mcp_url, "viewer", &format!("00u-warm-{n}"));
        let started = Instant::now();
        client.initialize().await;
        assert_eq!(
            client.tool_names().await.len(),
            EVERYTHING_VIEWER_TOOLS.len()
        );
        times.push(started.elapsed());
        let mut delete = http_client().delete(&server.mcp_url).header(
            "mcp-session-id",
            client.session_id.clone().unwrap_or_default(),
        );
        for (name, value) in client.identity_headers("DELETE") {
            delete = delete.header(name, value);
        }
        assert_eq!(delete.send().await.expect("DELETE").status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(wrapper);

    // N idle sessions, each as the SDK leaves one: initialized, tools listed, GET stream open.
    let mut clients = Vec::new();
    let mut streams = Vec::new();
    for n in 0..SESSIONS {
        let mut client = McpClient::new(&server.mcp_url, "viewer", &format!("00u-idle-{n}"));
        let started = Instant::now();
        client.initialize().await;
        client.tool_names().await;
        times.push(started.elapsed());
        let mut get = http_client()
            .get(&server.mcp_url)
            .header("accept", "text/event-stream")
            .header(
                "mcp-session-id",
                client.session_id.clone().unwrap_or_default(),
            );
        for (name, value) in client.identity_headers("GET") {
            get = get.header(name, value);
        }
        let stream = get.send().await.expect("GET");
        assert_eq!(stream.status(), 200);
        streams.push(stream);
        clients.push(client);
    }
    assert_eq!(server.children().len(), SESSIONS);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(wrapper);
    let per_session = after.saturating_sub(before) as f64 / SESSIONS as f64;
    let child_rss: u64 = server.children().into_iter().map(rss_kib).sum::<u64>() / SESSIONS as u64;

    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    eprintln!(
        "wrapper RSS: {before} KiB with no session, {after} KiB with {SESSIONS} idle sessions \
         → {per_session:.0} KiB per idle session (children excluded; one child is ~{child_rss} KiB)"
    );
    eprintln!(
        "initialize → first tools/list answer (direct, {} sessions): median {:.0} ms, min {:.0} ms, max {:.0} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    assert!(
        per_session < 2048.0,
        "an idle session costs the wrapper {per_session} KiB"
    );
    // The GET streams are still open and answer nothing while idle.
    drop(streams);
}
