//! The proxy's spans (see `okta_mcp_common::traces`): one per `/mcp` request forwarded to the
//! local tool server, whose `traceparent` goes along with the identity headers. Attributes are
//! the method and, at the end, the status; never who asked or what.

use http::Method;
use okta_mcp_common::traces::TARGET;
pub use okta_mcp_common::traces::enabled;

/// A new span (a new trace: a client's trace context is not trusted) for a `/mcp` request.
pub fn mcp_span(method: &Method) -> tracing::Span {
    let name = match *method {
        Method::POST => "POST /mcp",
        Method::GET => "GET /mcp",
        Method::DELETE => "DELETE /mcp",
        _ => "/mcp",
    };
    tracing::info_span!(
        target: TARGET,
        "mcp request",
        otel.name = name,
        otel.kind = "server",
        http.request.method = method.as_str(),
        url.path = "/mcp",
        http.response.status_code = tracing::field::Empty,
    )
}
