//! End to end through the proxy with the official MCP Python SDK client (`mcp` 2.x, pinned in
//! `tests/clients/python/requirements.txt`): its `server/discover` probe before it has a token
//! gets the 401 challenge, then discovery, registration, consent, Okta login, `iss` check,
//! tokens, tools/list and tools/call.
//!
//! Real processes: fake-okta (with its OIDC half), okta-mcp-tool-server, okta-mcp-proxy, and
//! `tests/clients/python/.venv/bin/python tests/clients/python/mcp_flow.py`.

use okta_mcp_tests::harness::{self, Stack};
use serde_json::Value;
use std::time::Duration;

/// Runs `mcp_flow.py` against `mcp_url`.
async fn python_client(mcp_url: &str) -> Value {
    harness::python_client("mcp_flow.py", &[mcp_url], Duration::from_secs(60)).await
}

fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {report}"))
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} step in {report}"))
}

#[tokio::test]
async fn python_sdk_client_probes_discover_gets_the_challenge_and_completes_the_oauth_dance() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let report = python_client(&stack.proxy.mcp_url).await;
    assert!(report.get("error").is_none(), "{report}");

    // The very first request is the `server/discover` probe at 2026-07-28, without a token,
    // and it gets the 401 challenge pointing at the protected resource metadata.
    let probe = &report["discover_probe"];
    assert_eq!(probe["rpc"], "server/discover", "{report}");
    assert_eq!(probe["version"], "2026-07-28", "{report}");
    assert_eq!(probe["bearer"], false, "{report}");
    assert_eq!(probe["status"], 401, "{report}");
    assert!(
        probe["www_authenticate"]
            .as_str()
            .is_some_and(|h| h.contains("resource_metadata=")),
        "{report}"
    );

    // Then the metadata (the SDK itself refuses an issuer that differs from
    // `authorization_servers[0]` byte for byte), registration and the token exchange.
    let exchanges: Vec<(String, String, i64)> = report["exchanges"]
        .as_array()
        .unwrap_or_else(|| panic!("no exchanges in {report}"))
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap_or_default().to_string(),
                e["path"].as_str().unwrap_or_default().to_string(),
                e["status"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    for expected in [
        ("GET", "/.well-known/oauth-protected-resource/mcp", 200),
        ("GET", "/.well-known/oauth-authorization-server", 200),
        ("POST", "/register", 201),
        ("POST", "/token", 200),
    ] {
        assert!(
            exchanges
                .iter()
                .any(|(m, p, s)| (m.as_str(), p.as_str(), *s) == expected),
            "missing {expected:?} in {exchanges:?}"
        );
    }

    // Registered, authorized with S256 and `resource`, went through consent, got `iss` back
    // (the SDK validated it against the metadata issuer), exchanged the code.
    step(&report, "registered");
    let authorize = step(&report, "authorize");
    assert_eq!(authorize["method"], "S256", "{report}");
    assert_eq!(
        authorize["resource"],
        stack.proxy.mcp_url.as_str(),
        "{report}"
    );
    step(&report, "consent page");
    assert_eq!(report["callback"]["has_code"], true, "{report}");
    assert_eq!(
        report["callback"]["iss"],
        stack.proxy.public_url.as_str(),
        "{report}"
    );
    step(&report, "tokens");
    step(&report, "connected");

    // alice is a viewer: 12 tools, and a tool call goes through.
    assert_eq!(
        report["tools"].as_array().map(Vec::len),
        Some(12),
        "{report}"
    );
    assert_eq!(report["time_is_error"], false, "{report}");
    assert!(
        report["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{report}"
    );
}
