//! End to end: `serve` keeps no MCP session, so any replica serves any client's next request.
//!
//! Real `fake-okta` and `okta-mcp-tool-server` processes; MCP over HTTP with identity headers
//! signed as the proxy signs them.

use okta_mcp_tests::fake_okta::dataset::BOB_ID;
use okta_mcp_tests::harness::{
    Answer, FakeOkta, McpClient, ToolServer, VIEWER_TOOLS, http_client, read_answer,
};
use serde_json::{Value, json};

/// How many tools the super-admin role sees (19 reads, 7 writes).
const SUPER_ADMIN_TOOLS: usize = 26;

/// Sends `method` to `client`'s server with identity headers signed for that method (and for
/// the client's session id, if it has one).
async fn send(client: &McpClient, url: &str, method: reqwest::Method) -> Answer {
    let mut request = http_client()
        .request(method.clone(), url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", &client.protocol_version);
    if let Some(id) = &client.session_id {
        request = request.header("mcp-session-id", id);
    }
    for (name, value) in client.identity_headers(method.as_str()) {
        request = request.header(name, value);
    }
    read_answer(request.send().await.expect("request /mcp"), None).await
}

#[tokio::test]
async fn a_client_initialized_on_one_replica_carries_on_at_another() {
    let okta = FakeOkta::start(&[]);
    // Two replicas: same identity-header key, same Okta org, nothing else shared.
    let a = ToolServer::start(&okta, &[]).await;
    let b = ToolServer::start(&okta, &[]).await;
    for revision in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut on_a = McpClient::new(&a.mcp_url, "viewer", "00u-viewer");
        on_a.protocol_version = revision.into();
        let init = on_a.initialize().await;
        assert_eq!(init["result"]["protocolVersion"], revision, "{init}");

        // The client keeps what initialize gave it; a load balancer sends the rest to B.
        let mut on_b = McpClient::new(&b.mcp_url, "viewer", "00u-viewer");
        on_b.session_id = on_a.session_id.clone();
        on_b.protocol_version = on_a.protocol_version.clone();
        assert_eq!(
            on_b.tool_names().await.len(),
            VIEWER_TOOLS.len(),
            "{revision}"
        );
        let bob = on_b
            .call_ok("get_okta_user", json!({"user_id": "bob@example.com"}))
            .await;
        assert_eq!(bob["user"]["id"], BOB_ID, "{revision}");
        let refused = on_b
            .call("list_okta_user_factors", json!({"user_id": BOB_ID}))
            .await;
        assert_eq!(
            refused["error"]["message"], "Unknown tool: list_okta_user_factors",
            "{revision}: the role still comes with every request: {refused}"
        );
    }
    // B served the calls (its audit log says so); A only ever saw the initializes.
    b.process.wait_for_log("tool=get_okta_user").await;
    assert!(!a.process.logs().contains("tool="), "{}", a.process.logs());
}

#[tokio::test]
async fn initialize_opens_no_session_and_a_client_that_skipped_it_is_served() {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    let init = client.initialize().await;
    assert_eq!(init["result"]["serverInfo"]["name"], "okta-mcp-tool-server");
    assert_eq!(
        client.session_id, None,
        "an Mcp-Session-Id would tie the client to this replica"
    );

    // A client whose initialize went to another replica (or to this one before a restart).
    let mut elsewhere = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    assert_eq!(elsewhere.tool_names().await.len(), VIEWER_TOOLS.len());
    let time = elsewhere.call_ok("get_current_time", json!({})).await;
    assert!(
        time["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{time}"
    );

    // Answers are plain JSON: nothing is kept open for a call.
    let answer = client
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list"}))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let content_type = answer
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );

    // No stream for messages sent unasked (these tools send none), no session to end.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let answer = send(&client, &server.mcp_url, method.clone()).await;
        assert_eq!(answer.status, 405, "{method}: {answer:?}");
        assert_eq!(answer.headers.get("allow").unwrap(), "POST", "{method}");
    }
    // Identity headers are checked first, for these methods too.
    let anonymous = http_client()
        .get(&server.mcp_url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_session_id_a_request_still_carries_names_nothing_and_grants_nothing() {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    // A client that initialized before an upgrade still sends the id it got then; so might a
    // viewer who copied an admin's. Either is served with the caller's own role.
    let old_id = "4c1d1b3a-session-of-a-stateful-tool-server";
    let mut viewer = McpClient::new(&server.mcp_url, "viewer", "00u-viewer");
    viewer.session_id = Some(old_id.into());
    let mut admin = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    admin.session_id = Some(old_id.into());
    assert_eq!(viewer.tool_names().await.len(), VIEWER_TOOLS.len());
    assert_eq!(admin.tool_names().await.len(), SUPER_ADMIN_TOOLS);
    let refused = viewer.call("list_okta_network_zones", json!({})).await;
    assert_eq!(
        refused["error"]["message"], "Unknown tool: list_okta_network_zones",
        "{refused}"
    );
    // Its DELETE on close gets the same 405 as any DELETE (there is nothing to end).
    let delete = send(&viewer, &server.mcp_url, reqwest::Method::DELETE).await;
    assert_eq!(delete.status, 405, "{delete:?}");

    // The proxy signs the session id with the rest: one changed after signing is refused.
    let list = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"});
    let signed = viewer.identity_headers("POST");
    viewer.session_id = Some("another-session-id".into());
    let changed = viewer.post_raw(&list, &signed).await;
    assert_eq!(changed.status, 401, "{changed:?}");
    let body: Value = serde_json::from_str(&changed.body).unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Unauthorized")),
        "{body}"
    );
}
