//! End to end: 2026-07-28 (stateless) clients through `okta-mcp-tool-server wrap`, with raw
//! HTTP and signed identity headers, fronting server-everything. No session, no
//! `initialize`: each request carries its protocol version (header and `_meta`); the wrapper
//! forwards it to one warm child per subject, with the role policy as for sessions. And the
//! official Python SDK client (`mcp` 2.x, `tests/clients/python/wrap_flow.py`) through the
//! proxy, which goes stateless once the wrapper answers its `server/discover` probe.

use std::time::{Duration, Instant};

use okta_mcp_tests::harness::{
    Answer, EVERYTHING_VIEWER_TOOLS, McpClient, WrapServer, WrapStack, everything_server_command,
    python_client,
};
use serde_json::{Value, json};

const POLICY: &str = "policies/everything.toml";
const MODERN: &str = "2026-07-28";

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "okta-mcp-e2e-stateless", "version": "1"}
    })
}

/// A stateless client of `role` for `subject`.
fn client(url: &str, role: &str, subject: &str) -> McpClient {
    let mut client = McpClient::new(url, role, subject);
    client.protocol_version = MODERN.into();
    client
}

/// One stateless request: `_meta` in its params, `Mcp-Method` (and `Mcp-Name`) headers.
async fn send(client: &McpClient, id: u64, method: &str, mut params: Value) -> Answer {
    params["_meta"] = meta();
    let mut headers = client.identity_headers("POST");
    headers.push(("mcp-method", method.into()));
    if let Some(name) = params["name"].as_str() {
        headers.push(("mcp-name", name.into()));
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    client.post_raw(&body, &headers).await
}

async fn result(client: &McpClient, id: u64, method: &str, params: Value) -> Value {
    let answer = send(client, id, method, params).await;
    assert_eq!(answer.status, 200, "{method}: {answer:?}");
    assert!(
        answer.headers.get("mcp-session-id").is_none(),
        "stateless: no session ({method})"
    );
    let message = answer
        .message
        .unwrap_or_else(|| panic!("{method}: no answer in {:?}", answer.body));
    assert_eq!(message["id"], id, "{message}");
    message
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {list}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn stateless_clients_discover_list_and_call_tools_with_the_role_policy() {
    let server = WrapServer::start(POLICY, &[], &everything_server_command()).await;
    let alice = client(&server.mcp_url, "viewer", "00u-alice");

    // server/discover is answered from the wrapped server's own initialize result.
    let discover = result(&alice, 1, "server/discover", json!({})).await;
    let found = &discover["result"];
    assert!(
        found["supportedVersions"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(MODERN))),
        "{discover}"
    );
    assert!(found["capabilities"]["tools"].is_object(), "{discover}");
    assert!(
        found["_meta"]["io.modelcontextprotocol/serverInfo"]["name"].is_string(),
        "{discover}"
    );
    assert_eq!(found["resultType"], "complete", "{discover}");

    let list = result(&alice, 2, "tools/list", json!({})).await;
    assert_eq!(names(&list), EVERYTHING_VIEWER_TOOLS, "{list}");
    // What a 2026-07-28 list result has and the child's does not.
    assert_eq!(list["result"]["resultType"], "complete", "{list}");
    assert_eq!(list["result"]["ttlMs"], 0, "{list}");
    assert_eq!(list["result"]["cacheScope"], "private", "{list}");
    let echo = result(
        &alice,
        3,
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "stateless"}}),
    )
    .await;
    assert_eq!(echo["result"]["content"][0]["text"], "Echo: stateless");

    // A tool the viewer may not use is refused like an unknown one and never reaches the child.
    let refused = result(
        &alice,
        4,
        "tools/call",
        json!({"name": "get-env", "arguments": {}}),
    )
    .await;
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        refused.to_string().contains("Tool get-env not found"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("PATH"), "{refused}");
    assert_eq!(server.children().len(), 1, "one warm child for alice");

    // Two requests with the same id at once (two tabs of one user, say) get their own answers.
    let started = Instant::now();
    let (slow, quick) = tokio::join!(
        result(
            &alice,
            7,
            "tools/call",
            json!({"name": "trigger-long-running-operation",
                   "arguments": {"duration": 2, "steps": 2}}),
        ),
        result(
            &alice,
            7,
            "tools/call",
            json!({"name": "get-sum", "arguments": {"a": 2, "b": 3}}),
        ),
    );
    assert!(
        slow["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Long running operation completed")),
        "{slow}"
    );
    assert!(
        quick["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains('5')),
        "{quick}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));

    // Another subject gets its own child, and its own role's tools.
    let carol = client(&server.mcp_url, "super-admin", "00u-carol");
    let all = names(&result(&carol, 1, "tools/list", json!({})).await);
    assert!(
        all.len() > EVERYTHING_VIEWER_TOOLS.len() && all.contains(&"get-env".to_owned()),
        "{all:?}"
    );
    assert_eq!(server.children().len(), 2);
    let env = result(
        &carol,
        2,
        "tools/call",
        json!({"name": "get-env", "arguments": {}}),
    )
    .await;
    assert!(
        !env.to_string().contains("IDENTITY_HEADER_KEY"),
        "secret leaked: {env}"
    );

    // The role comes with every request: alice's child serves a request signed with another
    // role by that role's rule, not by the one it started with.
    let mut alice_admin = client(&server.mcp_url, "super-admin", "00u-alice");
    alice_admin.protocol_version = MODERN.into();
    let more = names(&result(&alice_admin, 9, "tools/list", json!({})).await);
    assert_eq!(more, all);
    assert_eq!(server.children().len(), 2, "still alice's one child");

    // A revision newer than the wrapper knows gets the error that names the ones it speaks.
    let mut future = client(&server.mcp_url, "viewer", "00u-alice");
    future.protocol_version = "2099-01-01".into();
    let unsupported = send(&future, 6, "tools/list", json!({})).await;
    assert_eq!(unsupported.status, 400, "{unsupported:?}");
    let body: Value = serde_json::from_str(&unsupported.body).expect("JSON-RPC error");
    assert_eq!(body["error"]["code"], -32022, "{body}");
    assert!(
        body["error"]["data"]["supported"]
            .as_array()
            .is_some_and(|v| v.contains(&json!(MODERN))),
        "{body}"
    );
    // No GET stream for a stateless client.
    let mut get = okta_mcp_tests::harness::http_client()
        .get(&server.mcp_url)
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", MODERN);
    for (name, value) in alice.identity_headers("GET") {
        get = get.header(name, value);
    }
    assert_eq!(get.send().await.expect("GET").status(), 405);

    // Without identity headers: 401.
    let anonymous = alice
        .post_raw(
            &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}),
            &[],
        )
        .await;
    assert_eq!(anonymous.status, 401);
    // A request without a session from an older client still gets the fall-back 400.
    let mut old = McpClient::new(&server.mcp_url, "viewer", "00u-old");
    old.protocol_version = "2025-11-25".into();
    let refused = old
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
}

/// One stateless request with `meta` as its `_meta` (none when `None`), signed, with its
/// `Mcp-Method` header.
async fn send_with_meta(client: &McpClient, id: u64, method: &str, meta: Option<Value>) -> Value {
    let mut params = json!({});
    if let Some(meta) = meta {
        params["_meta"] = meta;
    }
    let mut headers = client.identity_headers("POST");
    headers.push(("mcp-method", method.into()));
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
    let answer = client.post_raw(&body, &headers).await;
    assert_eq!(answer.status, 400, "{method}: {answer:?}");
    let refusal: Value = serde_json::from_str(&answer.body).expect("a JSON-RPC error");
    assert_eq!(refusal["id"], id, "{refusal}");
    refusal
}

#[tokio::test]
async fn stateless_requests_without_a_valid_meta_envelope_are_refused() {
    let server = WrapServer::start(POLICY, &[], &everything_server_command()).await;
    let alice = client(&server.mcp_url, "viewer", "00u-alice");
    // The envelope is required (protocol version and client capabilities): -32602, HTTP 400.
    let missing = send_with_meta(&alice, 1, "server/discover", None).await;
    assert_eq!(missing["error"]["code"], -32602, "{missing}");
    let mut no_capabilities = meta();
    no_capabilities
        .as_object_mut()
        .map(|m| m.remove("io.modelcontextprotocol/clientCapabilities"));
    let refused = send_with_meta(&alice, 2, "tools/list", Some(no_capabilities)).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    let mut no_version = meta();
    no_version
        .as_object_mut()
        .map(|m| m.remove("io.modelcontextprotocol/protocolVersion"));
    let refused = send_with_meta(&alice, 3, "server/discover", Some(no_version)).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    // Its protocol version must be the header's: -32020 (HeaderMismatch), HTTP 400.
    let mut other = meta();
    other["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let mismatch = send_with_meta(&alice, 4, "server/discover", Some(other)).await;
    assert_eq!(mismatch["error"]["code"], -32020, "{mismatch}");
    // clientInfo is optional.
    let mut anonymous = meta();
    anonymous
        .as_object_mut()
        .map(|m| m.remove("io.modelcontextprotocol/clientInfo"));
    let mut headers = alice.identity_headers("POST");
    headers.push(("mcp-method", "tools/list".into()));
    let body = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list",
                      "params": {"_meta": anonymous}});
    let listed = alice.post_raw(&body, &headers).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    assert_eq!(
        names(&listed.message.expect("an answer")),
        EVERYTHING_VIEWER_TOOLS
    );
}

#[tokio::test]
async fn discover_promises_no_list_changes_a_stateless_client_cannot_get() {
    let server = WrapServer::start(POLICY, &[], &everything_server_command()).await;
    let alice = client(&server.mcp_url, "viewer", "00u-alice");
    let discover = result(&alice, 1, "server/discover", json!({})).await;
    let capabilities = &discover["result"]["capabilities"];
    // server-everything offers all three, with list changes and resource subscriptions; the
    // wrapper drops the child's unasked notifications and has no subscriptions/listen stream.
    for offered in ["tools", "prompts", "resources"] {
        assert!(capabilities[offered].is_object(), "{discover}");
        assert!(
            capabilities[offered].get("listChanged").is_none(),
            "{offered}: {discover}"
        );
    }
    assert!(
        capabilities["resources"].get("subscribe").is_none(),
        "{discover}"
    );
}

#[tokio::test]
async fn the_warm_child_counts_against_the_limits_and_idles_out() {
    let server = WrapServer::start(
        POLICY,
        &["--max-children-per-subject", "1", "--idle-secs", "2"],
        &everything_server_command(),
    )
    .await;
    let alice = client(&server.mcp_url, "viewer", "00u-alice");
    let list = result(&alice, 1, "tools/list", json!({})).await;
    assert_eq!(names(&list), EVERYTHING_VIEWER_TOOLS);
    // Her one slot is taken by the warm child: a session of hers is refused.
    let mut session = McpClient::new(&server.mcp_url, "viewer", "00u-alice");
    let refused = session
        .post(&okta_mcp_tests::harness::initialize_body(1))
        .await;
    assert_eq!(refused.status, 503, "{refused:?}");
    // Idle, the warm child is ended like a session, and the next request starts another.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !server.children().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(server.children().is_empty(), "reaped when idle");
    session.initialize().await;
    let _ = session;
    let again = send(&alice, 2, "tools/list", json!({})).await;
    assert_eq!(
        again.status, 503,
        "the slot is the session's now: {again:?}"
    );
}

#[tokio::test]
async fn the_python_sdk_client_goes_stateless_through_the_proxy() {
    let stack = WrapStack::start(POLICY, &[], &everything_server_command()).await;
    stack.okta.auto_login("alice@example.com").await;
    let report = python_client(
        "wrap_flow.py",
        &[&stack.proxy.mcp_url],
        Duration::from_secs(90),
    )
    .await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["protocol"], MODERN, "{report}");
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tools, EVERYTHING_VIEWER_TOOLS, "{report}");
    assert_eq!(report["echo"], "Echo: from python", "{report}");
    assert_eq!(report["refused_is_error"], true, "{report}");
    assert!(
        report["refused"]
            .as_str()
            .is_some_and(|t| t.contains("Tool get-env not found")),
        "{report}"
    );
    // No initialize and no session: every MCP request is a stateless one.
    let exchanges = report["exchanges"].as_array().cloned().unwrap_or_default();
    let rpcs: Vec<&Value> = exchanges.iter().filter(|e| e["rpc"].is_string()).collect();
    assert!(rpcs.iter().all(|e| e["rpc"] != "initialize"), "{report}");
    assert!(rpcs.iter().all(|e| e["session"].is_null()), "{report}");
    assert!(
        rpcs.iter()
            .any(|e| e["rpc"] == "tools/call" && e["status"] == 200),
        "{report}"
    );
}
