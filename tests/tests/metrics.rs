//! `/metrics` of both binaries, end to end: fake-okta, okta-mcp-tool-server and okta-mcp-proxy
//! as real processes, each with `METRICS_LISTEN`; real logins and tool calls through the proxy,
//! then a scrape over HTTP that must show each counter moved by the right amount, with the
//! right labels and nothing about the user in it.

use std::collections::BTreeMap;
use std::time::Duration;

use okta_mcp_tests::fake_okta::dataset::ALICE_ID;
use okta_mcp_tests::harness::{
    FakeOkta, McpClient, Proxy, ToolServer, WrapServer, binary, free_port, http_client,
    proxy_command, start_process,
};
use okta_mcp_tests::oauth_flow::{Credential, ProxiedMcp, log_in, manual_redirect_client};
use serde_json::json;

/// One scrape: `name{label="value",…}` (labels as printed) → value.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    async fn of(metrics_url: &str) -> Self {
        let response = http_client()
            .get(metrics_url)
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.expect("metrics text");
        Self::parse(&text)
    }

    fn parse(text: &str) -> Self {
        let mut values = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            values.insert(series.to_owned(), value.parse().expect("a number"));
        }
        Self(values)
    }

    /// The sum of every series of `name` that carries all of `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .iter()
            .filter(|(series, _)| {
                let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
                series_name == name
                    && labels
                        .iter()
                        .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
            })
            .map(|(_, v)| v)
            .sum()
    }

    /// How much `name{labels}` grew since `before`.
    fn delta(&self, before: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels) - before.value(name, labels)
    }
}

/// The stack with metrics on for both binaries: the stack parts and the two metrics URLs.
struct MeteredStack {
    okta: FakeOkta,
    tool_server: ToolServer,
    proxy: Proxy,
    proxy_metrics: String,
    tool_metrics: String,
}

async fn metered_stack() -> MeteredStack {
    let port = free_port();
    let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
    let tool_addr = format!("127.0.0.1:{}", free_port());
    let tool_server = ToolServer::start(&okta, &[("METRICS_LISTEN", &tool_addr)]).await;
    let proxy_addr = format!("127.0.0.1:{}", free_port());
    let proxy = Proxy::start(
        &okta,
        port,
        &tool_server.mcp_url,
        &[("METRICS_LISTEN", &proxy_addr)],
    )
    .await;
    MeteredStack {
        okta,
        tool_server,
        proxy,
        proxy_metrics: format!("http://{proxy_addr}/metrics"),
        tool_metrics: format!("http://{tool_addr}/metrics"),
    }
}

#[tokio::test]
async fn a_login_and_tool_calls_through_the_proxy_move_the_counters_of_both_binaries() {
    let stack = metered_stack().await;
    let proxy_before = Scrape::of(&stack.proxy_metrics).await;
    let tools_before = Scrape::of(&stack.tool_metrics).await;

    stack.okta.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &stack.proxy.public_url).await;
    let mut mcp = ProxiedMcp::new(
        &http,
        &stack.proxy.mcp_url,
        Credential::Bearer(tokens.access_token.clone()),
    );
    assert_eq!(mcp.initialize().await.status, 200);
    let user = mcp
        .call("get_okta_user", json!({"user_id": ALICE_ID}))
        .await;
    assert!(user["result"]["isError"] != true, "{user}");
    // A viewer may not list network zones; an unknown tool is refused the same way.
    let refused = mcp.call("list_okta_network_zones", json!({})).await;
    assert!(refused.get("error").is_some(), "{refused}");
    let unknown = mcp.call("no_such_tool", json!({})).await;
    assert!(unknown.get("error").is_some(), "{unknown}");
    // One 429 from the org: the tool server waits for the reset, retries, and the call works.
    stack
        .okta
        .faults(json!({"inject_429": 1, "inject_429_reset_secs": 1}))
        .await;
    let retried = mcp
        .call("get_okta_user", json!({"user_id": ALICE_ID}))
        .await;
    assert!(retried["result"]["isError"] != true, "{retried}");
    // A refresh, and one with a token that is not ours.
    let client_id = tokens.client.client_id.as_str();
    let refresh = tokens.refresh_token.clone().expect("a refresh token");
    let (status, body) = tokens
        .client
        .token(
            &http,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = tokens
        .client
        .token(
            &http,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", "not-a-refresh-token"),
            ],
        )
        .await;
    assert_eq!(status, 400);

    // The proxy counts a request once it has answered it (pingora's `logging` phase), so the
    // last answer can reach the test a moment before its count: wait for it.
    let mut proxy = Scrape::of(&stack.proxy_metrics).await;
    let waited = std::time::Instant::now();
    while proxy.delta(
        &proxy_before,
        "okta_mcp_proxy_requests_total",
        &[("endpoint", "token"), ("status", "4xx")],
    ) < 1.0
        && waited.elapsed() < Duration::from_secs(5)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
        proxy = Scrape::of(&stack.proxy_metrics).await;
    }
    let tools = Scrape::of(&stack.tool_metrics).await;
    let p = |name, labels: &[(&str, &str)]| proxy.delta(&proxy_before, name, labels);
    let t = |name, labels: &[(&str, &str)]| tools.delta(&tools_before, name, labels);

    // Proxy: initialize, notifications/initialized and four calls: six POSTs to /mcp.
    assert_eq!(
        p(
            "okta_mcp_proxy_requests_total",
            &[("endpoint", "mcp"), ("status", "2xx")]
        ),
        6.0
    );
    assert_eq!(
        p("okta_mcp_proxy_mcp_request_duration_seconds_count", &[]),
        6.0
    );
    assert_eq!(
        p(
            "okta_mcp_proxy_requests_total",
            &[("endpoint", "register"), ("status", "2xx")]
        ),
        1.0
    );
    assert_eq!(
        p(
            "okta_mcp_proxy_requests_total",
            &[("endpoint", "token"), ("status", "4xx")]
        ),
        1.0
    );
    assert_eq!(
        p("okta_mcp_proxy_logins_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        p("okta_mcp_proxy_refreshes_total", &[("outcome", "success")]),
        1.0
    );
    assert_eq!(
        p("okta_mcp_proxy_refreshes_total", &[("outcome", "refused")]),
        1.0
    );
    assert!(
        p(
            "okta_mcp_proxy_store_operation_duration_seconds_count",
            &[("operation", "put")]
        ) >= 1.0
    );
    assert_eq!(p("okta_mcp_proxy_store_errors_total", &[]), 0.0);

    // Tool server: the same six requests, two calls that ran, two refusals.
    assert_eq!(
        t(
            "okta_mcp_tool_server_requests_total",
            &[("route", "mcp"), ("status", "2xx")]
        ),
        6.0
    );
    assert_eq!(
        t(
            "okta_mcp_tool_server_tool_calls_total",
            &[
                ("tool", "get_okta_user"),
                ("role", "viewer"),
                ("outcome", "ok")
            ]
        ),
        2.0
    );
    assert_eq!(
        t(
            "okta_mcp_tool_server_policy_denials_total",
            &[("tool", "list_okta_network_zones"), ("role", "viewer")]
        ),
        1.0
    );
    assert_eq!(
        t(
            "okta_mcp_tool_server_policy_denials_total",
            &[("tool", "other"), ("role", "viewer")]
        ),
        1.0
    );
    assert_eq!(
        t(
            "okta_mcp_tool_server_tool_calls_total",
            &[("role", "viewer"), ("outcome", "denied")]
        ),
        2.0
    );
    let user_endpoint = [("endpoint", "/api/v1/users/{id}"), ("method", "GET")];
    let with_status = |status| {
        let mut labels = user_endpoint.to_vec();
        labels.push(("status", status));
        t("okta_mcp_tool_server_okta_requests_total", &labels)
    };
    assert_eq!(with_status("200"), 2.0);
    assert_eq!(with_status("429"), 1.0);
    assert_eq!(
        t("okta_mcp_tool_server_okta_rate_limit_waits_total", &[]),
        1.0
    );
    assert!(
        t(
            "okta_mcp_tool_server_okta_rate_limit_wait_seconds_total",
            &[]
        ) > 0.0
    );

    // Nothing about the user, her tokens or the ids of what she looked up.
    for scrape in [&stack.proxy_metrics, &stack.tool_metrics] {
        let text = http_client()
            .get(scrape)
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("text");
        for secret in [
            "alice",
            ALICE_ID,
            tokens.access_token.as_str(),
            refresh.as_str(),
        ] {
            assert!(!text.contains(secret), "{secret} in {scrape}");
        }
    }
}

#[tokio::test]
async fn the_metrics_listener_answers_only_get_metrics_and_the_public_listeners_do_not_serve_it() {
    let stack = metered_stack().await;
    for metrics_url in [&stack.proxy_metrics, &stack.tool_metrics] {
        let base = metrics_url.trim_end_matches("/metrics");
        let other = http_client()
            .get(format!("{base}/mcp"))
            .send()
            .await
            .expect("GET");
        assert_eq!(other.status(), 404, "{base}");
        assert!(
            other.text().await.unwrap().contains("only GET /metrics"),
            "{base}"
        );
        let post = http_client()
            .post(metrics_url.as_str())
            .body("x")
            .send()
            .await
            .expect("POST");
        assert_eq!(post.status(), 405, "{base}");
        assert_eq!(post.headers()["allow"], "GET, HEAD");
    }
    // Neither public listener serves metrics.
    let public = http_client()
        .get(format!("{}/metrics", stack.proxy.public_url))
        .send()
        .await
        .expect("GET");
    assert_eq!(public.status(), 404);
    assert!(
        !public
            .text()
            .await
            .unwrap()
            .contains("okta_mcp_proxy_requests_total")
    );
    let tool_public = stack.tool_server.mcp_url.replace("/mcp", "/metrics");
    let answer = http_client().get(&tool_public).send().await.expect("GET");
    assert_eq!(answer.status(), 404);
}

/// Starts `command` and waits for it to exit; its exit status and logs.
async fn start_up_failure(command: std::process::Command) -> String {
    let mut process = start_process(command);
    let status = process
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("it exits");
    assert!(!status.success());
    process.logs()
}

#[tokio::test]
async fn a_metrics_address_on_a_public_listener_or_off_loopback_is_a_start_up_error() {
    let okta = FakeOkta::start(&[]);
    let port = free_port();
    let public = format!("127.0.0.1:{port}");

    let mut proxy = proxy_command(&okta.url, "http://127.0.0.1:9/mcp", "http://127.0.0.1:1");
    proxy
        .args(["--listen", &public])
        .env("METRICS_LISTEN", &public);
    let logs = start_up_failure(proxy).await;
    assert!(logs.contains("it is the public listener"), "{logs}");

    let mut proxy = proxy_command(&okta.url, "http://127.0.0.1:9/mcp", "http://127.0.0.1:1");
    proxy
        .args(["--listen", &public])
        .env("METRICS_LISTEN", format!("0.0.0.0:{}", free_port()));
    let logs = start_up_failure(proxy).await;
    assert!(logs.contains("--metrics-allow-non-loopback"), "{logs}");

    let mut tool_server = std::process::Command::new(binary("okta-mcp-tool-server"));
    tool_server
        .current_dir(okta_mcp_tests::harness::workspace_root())
        .args(["serve", "--listen", &public, "--metrics-listen", &public])
        .env("OKTA_ORG_URL", &okta.url)
        .env("OKTA_API_TOKEN", okta_mcp_tests::harness::TEST_API_TOKEN)
        .env(
            "IDENTITY_HEADER_KEY",
            okta_mcp_tests::harness::TEST_IDENTITY_KEY,
        );
    let logs = start_up_failure(tool_server).await;
    assert!(logs.contains("it is the public listener"), "{logs}");
}

/// A stdio MCP server in a few lines of Python: two tools, `echo` and `secret`.
const TINY_SERVER: &str = r#"
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if "id" not in m:
        continue
    method = m.get("method")
    if method == "initialize":
        r = {"protocolVersion": m["params"]["protocolVersion"], "capabilities": {"tools": {}},
             "serverInfo": {"name": "tiny", "version": "1"}}
    elif method == "tools/list":
        r = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in ("echo", "secret")]}
    elif method == "tools/call":
        r = {"content": [{"type": "text", "text": "ok"}]}
    else:
        r = {}
    print(json.dumps({"jsonrpc": "2.0", "id": m["id"], "result": r}), flush=True)
"#;

#[tokio::test]
async fn wrap_counts_children_alive_and_ended_and_calls_of_the_tools_its_child_offers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[roles.viewer]\ntools = [\"echo\"]\n").expect("policy");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let server = WrapServer::start_with_env(
        &policy.display().to_string(),
        &["--max-children", "5"],
        &["python3".into(), "-c".into(), TINY_SERVER.into()],
        &[("METRICS_LISTEN", &metrics_addr)],
    )
    .await;
    let metrics_url = format!("http://{metrics_addr}/metrics");
    let before = Scrape::of(&metrics_url).await;
    assert_eq!(
        before.value("okta_mcp_tool_server_wrap_children_max", &[]),
        5.0
    );

    let mut client = McpClient::new(&server.mcp_url, "viewer", "00u-metrics");
    client.initialize().await;
    assert_eq!(client.tool_names().await, ["echo"]);
    let echoed = client.call("echo", json!({})).await;
    assert!(echoed.get("result").is_some(), "{echoed}");
    let refused = client.call("secret", json!({})).await;
    assert!(
        refused.get("error").is_some() || refused["result"]["isError"] == true,
        "{refused}"
    );
    let alive = Scrape::of(&metrics_url).await;
    assert_eq!(alive.value("okta_mcp_tool_server_wrap_children", &[]), 1.0);
    assert_eq!(
        alive.delta(
            &before,
            "okta_mcp_tool_server_tool_calls_total",
            &[("tool", "echo"), ("role", "viewer"), ("outcome", "ok")]
        ),
        1.0
    );
    // `secret` is a label of its own: the child offers it (the policy hides it).
    assert_eq!(
        alive.delta(
            &before,
            "okta_mcp_tool_server_policy_denials_total",
            &[("tool", "secret"), ("role", "viewer")]
        ),
        1.0
    );

    let mut delete = http_client().delete(&server.mcp_url).header(
        "mcp-session-id",
        client.session_id.clone().unwrap_or_default(),
    );
    for (name, value) in client.identity_headers("DELETE") {
        delete = delete.header(name, value);
    }
    assert_eq!(delete.send().await.expect("DELETE").status(), 200);
    let after = Scrape::of(&metrics_url).await;
    assert_eq!(after.value("okta_mcp_tool_server_wrap_children", &[]), 0.0);
    assert_eq!(
        after.delta(
            &before,
            "okta_mcp_tool_server_wrap_children_ended_total",
            &[("reason", "deleted")]
        ),
        1.0
    );
}
