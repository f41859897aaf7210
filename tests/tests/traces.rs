//! OpenTelemetry traces end to end: fake-okta, okta-mcp-tool-server and okta-mcp-proxy as real
//! processes with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at a collector stand-in (an HTTP server
//! in this test that keeps every OTLP/HTTP JSON export). A tool call through the proxy must be
//! one trace: the proxy's span, the tool server's request span under it (the `traceparent`
//! crossed the identity-header hop), the tool call, and the Okta request under that; and no
//! attribute may carry the bearer token, a cookie, the user's email or id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use okta_mcp_tests::fake_okta::dataset::ALICE_ID;
use okta_mcp_tests::harness::{FakeOkta, Proxy, ToolServer, free_port, serve_hook};
use okta_mcp_tests::oauth_flow::{Credential, ProxiedMcp, log_in, manual_redirect_client};
use serde_json::{Value, json};

/// Every export request body the collector stand-in received.
type Exports = Arc<Mutex<Vec<String>>>;

/// One exported span, flattened.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    name: String,
    attributes: Value,
}

fn spans(exports: &Exports) -> Vec<Span> {
    let mut spans = Vec::new();
    for body in exports.lock().unwrap().iter() {
        let body: Value = serde_json::from_str(body).expect("OTLP JSON");
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or("")
                .to_owned();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    spans.push(Span {
                        service: service.clone(),
                        trace_id: span["traceId"].as_str().unwrap_or("").to_owned(),
                        span_id: span["spanId"].as_str().unwrap_or("").to_owned(),
                        parent_id: span["parentSpanId"].as_str().unwrap_or("").to_owned(),
                        name: span["name"].as_str().unwrap_or("").to_owned(),
                        attributes: span["attributes"].clone(),
                    });
                }
            }
        }
    }
    spans
}

/// The string or integer value of attribute `key` of `span`.
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = &span
        .attributes
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"];
    value["stringValue"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| value["intValue"].as_str().map(str::to_owned))
        .or_else(|| value["intValue"].as_i64().map(|v| v.to_string()))
}

#[tokio::test]
async fn a_tool_call_is_one_trace_from_the_proxy_through_the_tool_server_to_okta() {
    let exports: Exports = Arc::default();
    let collector = serve_hook(
        Router::new()
            .route(
                "/v1/traces",
                post(|State(exports): State<Exports>, body: String| async move {
                    exports.lock().unwrap().push(body);
                    axum::Json(json!({}))
                }),
            )
            .with_state(exports.clone()),
    )
    .await;
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let port = free_port();
    let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
    let tool_server = ToolServer::start(&okta, &otel).await;
    let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, &otel).await;

    okta.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &proxy.public_url).await;
    let mut mcp = ProxiedMcp::new(
        &http,
        &proxy.mcp_url,
        Credential::Bearer(tokens.access_token.clone()),
    )
    // A client's own trace context is not continued: the trace starts at the proxy.
    .with_header(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    );
    assert_eq!(mcp.initialize().await.status, 200);
    let user = mcp
        .call("get_okta_user", json!({"user_id": ALICE_ID}))
        .await;
    assert!(user["result"]["isError"] != true, "{user}");

    // The exporters send every 100 ms; wait for the Okta request's span.
    let deadline = Instant::now() + Duration::from_secs(15);
    let okta_span = loop {
        let found = spans(&exports)
            .into_iter()
            .find(|s| s.service == "okta-mcp-tool-server" && s.name.starts_with("okta GET"));
        if let Some(span) = found {
            break span;
        }
        assert!(
            Instant::now() < deadline,
            "no Okta span exported; got {:#?}",
            spans(&exports)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The proxy's span of the same request may come in a later export.
    let by_id = |all: &[Span], id: &str| all.iter().find(|s| s.span_id == id).cloned();
    let deadline = Instant::now() + Duration::from_secs(15);
    let (tool_call, request, proxy_span) = loop {
        let all = spans(&exports);
        let tool_call = by_id(&all, &okta_span.parent_id);
        let request = tool_call.as_ref().and_then(|t| by_id(&all, &t.parent_id));
        let proxy_span = request.as_ref().and_then(|r| by_id(&all, &r.parent_id));
        if let (Some(t), Some(r), Some(p)) = (tool_call, request, proxy_span) {
            break (t, r, p);
        }
        assert!(
            Instant::now() < deadline,
            "the Okta span's ancestors were not all exported: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert_eq!(okta_span.name, "okta GET /api/v1/users/{id}");
    assert_eq!(
        attribute(&okta_span, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(tool_call.name, "tools/call get_okta_user");
    assert_eq!(
        attribute(&tool_call, "mcp.tool.outcome").as_deref(),
        Some("ok")
    );
    assert_eq!(request.service, "okta-mcp-tool-server");
    assert_eq!(request.name, "POST /mcp");
    assert_eq!(proxy_span.service, "okta-mcp-proxy");
    assert_eq!(proxy_span.name, "POST /mcp");
    assert!(proxy_span.parent_id.is_empty(), "{proxy_span:?}");
    for span in [&tool_call, &request, &proxy_span] {
        assert_eq!(span.trace_id, okta_span.trace_id, "one trace: {span:?}");
    }
    assert_ne!(
        okta_span.trace_id, "0af7651916cd43dd8448eb211c80319c",
        "the client's traceparent was continued"
    );

    // Turning traces on changes no log line: the spans are exported, never shown as context.
    let logs = tool_server.process.wait_for_log("tool=get_okta_user").await;
    let audit = logs
        .lines()
        .find(|l| l.contains("tool=get_okta_user") && l.contains("audit"))
        .unwrap_or_else(|| panic!("no audit line: {logs}"));
    assert!(!audit.contains("mcp request"), "{audit}");
    assert!(!logs.contains("okta_mcp_trace"), "{logs}");
    assert!(!proxy.process.logs().contains("okta_mcp_trace"));

    // Nothing sensitive in anything exported.
    let everything = exports.lock().unwrap().join("\n");
    for secret in [
        tokens.access_token.as_str(),
        tokens
            .refresh_token
            .as_deref()
            .unwrap_or("no refresh token"),
        "alice",
        ALICE_ID,
        "Bearer",
        "mcp_session",
        "x-mcp-",
    ] {
        assert!(!everything.contains(secret), "{secret} was exported");
    }
}
