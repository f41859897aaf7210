//! The tool server's spans (see `okta_mcp_common::traces`): each `/mcp` request continues the
//! trace whose `traceparent` the proxy sent, each tool call is a span inside it and each Okta
//! request a span inside that. Attributes: method, status, the tool's metrics label and the
//! Okta path template; never the caller, the arguments or an id.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use okta_mcp_common::traces::{self, TARGET};
use tracing::Instrument;

/// The span of the HTTP request a tool call came in (kept in the request's extensions).
#[derive(Clone, Debug)]
pub struct RequestSpan(pub tracing::Span);

/// Runs a `/mcp` request inside a span that continues the proxy's trace (axum middleware).
pub async fn continue_trace(mut request: Request, next: Next) -> Response {
    if !traces::enabled() || request.uri().path() != "/mcp" {
        return next.run(request).await;
    }
    let span = tracing::info_span!(
        target: TARGET,
        "mcp request",
        otel.name = %format_args!("{} /mcp", request.method()),
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = "/mcp",
        http.response.status_code = tracing::field::Empty,
    );
    traces::continue_from(&span, request.headers());
    request.extensions_mut().insert(RequestSpan(span.clone()));
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

/// The span of one tool call, inside `parent` (the request's span).
pub fn tool_call(parent: Option<&RequestSpan>, tool: &str) -> tracing::Span {
    let parent = parent
        .map(|p| p.0.clone())
        .unwrap_or_else(tracing::Span::current);
    tracing::info_span!(
        target: TARGET,
        parent: &parent,
        "tools/call",
        otel.name = %format_args!("tools/call {tool}"),
        mcp.tool.name = tool,
        mcp.tool.outcome = tracing::field::Empty,
    )
}

/// The span of one Okta request (an attempt), inside the current span.
pub fn okta_request(method: &str, endpoint: &str) -> tracing::Span {
    tracing::info_span!(
        target: TARGET,
        "okta request",
        otel.name = %format_args!("okta {method} {endpoint}"),
        otel.kind = "client",
        http.request.method = method,
        url.template = endpoint,
        http.response.status_code = tracing::field::Empty,
    )
}
