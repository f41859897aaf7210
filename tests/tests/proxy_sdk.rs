//! End to end through the proxy with the official MCP TypeScript SDK client: discovery,
//! registration, consent, Okta login, tokens, tools per role, refresh and reuse detection.
//!
//! Real processes: fake-okta (with its OIDC half), okta-mcp-tool-server, okta-mcp-proxy, and
//! `node tests/clients/sdk-flow.mjs` using `@modelcontextprotocol/sdk`.

use okta_mcp_tests::fake_okta::dataset::{ALICE_ID, BOB_ID};
use okta_mcp_tests::harness::{Stack, node_client};
use serde_json::Value;

fn tools(report: &Value, key: &str) -> usize {
    report[key]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}.tools in {report}"))
        .len()
}

#[tokio::test]
async fn each_demo_user_gets_their_roles_tools_through_the_whole_oauth_dance() {
    let stack = Stack::start(&[]).await;
    for (email, expected) in [
        ("alice@example.com", 12),
        ("bob@example.com", 20),
        ("carol@example.com", 26),
    ] {
        stack.auto_login(email).await;
        let report = node_client("sdk-flow.mjs", &[&stack.proxy.mcp_url, "basic"]).await;
        assert_eq!(report["connected"], true, "{email}: {report}");
        assert!(report.get("error").is_none(), "{email}: {report}");
        assert_eq!(tools(&report, "first"), expected, "{email}: {report}");
        // Every tool call went through with the role's identity.
        assert_eq!(report["first"]["alice"], ALICE_ID, "{email}: {report}");
        // A list tool's answer and its failure both passed the SDK's outputSchema check.
        assert_eq!(
            report["first"]["users"].as_array().map(Vec::len),
            Some(5),
            "{email}: {report}"
        );
        assert_eq!(report["first"]["badListError"], true, "{email}: {report}");
        assert!(
            report["first"]["time"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
        // The SDK saw the 401 challenge, registered, used S256 and `resource`, got `iss` back.
        let steps: Vec<&str> = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["name"].as_str())
            .collect();
        for expected_step in [
            "401 challenge",
            "registered",
            "authorize",
            "consent page",
            "tokens",
            "connected",
        ] {
            assert!(
                steps.contains(&expected_step),
                "{email}: missing {expected_step} in {steps:?}"
            );
        }
        let authorize = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "authorize")
            .unwrap();
        assert_eq!(authorize["method"], "S256");
        assert_eq!(authorize["has_resource"], true);
        assert_eq!(report["callback"]["iss"], stack.proxy.public_url.as_str());
        let consent = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "consent page")
            .unwrap();
        assert!(
            consent["csp"]
                .as_str()
                .unwrap_or("")
                .contains("frame-ancestors 'none'"),
            "{consent}"
        );
    }
    // The tool server's audit log names the Okta subjects the proxy vouched for.
    let logs = stack.tool_server.process.logs();
    assert!(logs.contains(&format!("subject=\"{BOB_ID}\"")), "{logs}");
    assert!(logs.contains("role=\"security-admin\""));
}

#[tokio::test]
async fn a_user_without_a_role_is_refused_with_the_groups_that_would_grant_access() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("dave@example.com").await;
    let report = node_client("sdk-flow.mjs", &[&stack.proxy.mcp_url, "basic"]).await;
    assert_eq!(report["connected"], false, "{report}");
    let denied = &report["denied"];
    assert_eq!(denied["status"], 403, "{report}");
    let html = denied["html"].as_str().unwrap();
    for group in ["sso-help-desk", "sso-security-admins", "sso-super-admins"] {
        assert!(html.contains(group), "the page should name {group}: {html}");
    }
    let link = denied["link"].as_str().expect("a link back to the client");
    assert!(link.contains("error=access_denied"), "{link}");
    assert!(link.contains("iss="), "{link}");
}

#[tokio::test]
async fn refresh_works_and_reusing_a_refresh_token_kills_the_family() {
    let stack = Stack::start(&[("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    stack.auto_login("alice@example.com").await;
    let report = node_client("sdk-flow.mjs", &[&stack.proxy.mcp_url, "refresh"]).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(tools(&report, "first"), 12);
    assert_eq!(tools(&report, "afterRefresh"), 12, "{report}");
    assert_eq!(report["refreshed"], true, "the SDK refreshed: {report}");
    assert_eq!(report["currentTokenBeforeReuse"], 200, "{report}");
    assert_eq!(report["reuse"]["status"], 400, "{report}");
    assert_eq!(report["reuse"]["body"]["error"], "invalid_grant");
    assert_eq!(
        report["currentTokenAfterReuse"], 401,
        "family revoked: {report}"
    );
    assert_eq!(
        report["latestRefreshAfterReuse"], 400,
        "family revoked: {report}"
    );
}

#[tokio::test]
async fn a_group_change_at_okta_changes_the_role_at_the_next_refresh() {
    let stack = Stack::start(&[("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    stack.auto_login("alice@example.com").await;
    // Alice is promoted at Okta after her first tool calls, before the SDK refreshes.
    let hook = format!("{}/__fake/users/{ALICE_ID}/groups", stack.okta.url);
    let body = r#"{"groups": ["Everyone", "sso-super-admins"]}"#;
    let report = node_client(
        "sdk-flow.mjs",
        &[&stack.proxy.mcp_url, "refresh", &hook, body],
    )
    .await;
    assert_eq!(tools(&report, "first"), 12, "{report}");
    assert_eq!(tools(&report, "afterRefresh"), 26, "{report}");
}
