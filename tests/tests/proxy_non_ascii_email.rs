//! End to end: a user whose Okta email is not ASCII logs in through the proxy and calls a tool,
//! and the tool server sees the exact address (security review, issue 11, finding 4).
//!
//! Real `fake-okta`, `okta-mcp-tool-server` and `okta-mcp-proxy` processes; the OAuth flow and
//! MCP through the proxy with a bearer token, as a client would.

use okta_mcp_tests::fake_okta::dataset::ZOE_LOGIN;
use okta_mcp_tests::harness::Stack;
use okta_mcp_tests::oauth_flow::{Credential, ProxiedMcp, log_in, manual_redirect_client};
use serde_json::json;

#[tokio::test]
async fn a_user_with_a_non_ascii_email_logs_in_and_the_tool_server_sees_it_exactly() {
    // Zoë is only in `Everyone`: this stack makes that group grant the viewer role.
    let stack = Stack::start(&[("GROUP_TO_ROLE_VIEWER", "Everyone")]).await;
    stack.auto_login(ZOE_LOGIN).await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &stack.proxy.public_url).await;
    let mut zoe = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    );
    let init = zoe.initialize().await;
    assert_eq!(init.status, 200, "{init:?}");
    assert_eq!(zoe.tool_names().await.len(), 12, "the viewer's tools");

    let me = zoe
        .call("get_okta_user", json!({"user_id": ZOE_LOGIN}))
        .await;
    assert!(me.get("error").is_none(), "{me}");
    let user = &me["result"]["structuredContent"]["user"];
    assert_eq!(user["profile"]["email"], ZOE_LOGIN, "{me}");
    let id = user["id"].as_str().expect("Zoë's id").to_owned();

    // The audit line names her by subject and exact email.
    let logs = stack
        .tool_server
        .process
        .wait_for_log("tool=get_okta_user")
        .await;
    let line = logs
        .lines()
        .find(|l| l.contains(" audit: ") && l.contains("tool=get_okta_user"))
        .expect("audit line");
    assert!(line.contains(&format!("subject=\"{id}\"")), "{line}");
    assert!(line.contains(&format!("email=\"{ZOE_LOGIN}\"")), "{line}");
    assert!(!logs.contains("not valid text"), "{logs}");
}
