//! `/mcp` forwarding: what the tool server may see of a client's request, and CORS.
//!
//! The tool server trusts the identity headers and nothing else, so every header a client could
//! use to speak for someone else (`x-mcp-*`, `authorization`, `cookie`) is removed before the
//! proxy adds its own signed ones. MCP's own headers (`Mcp-Session-Id`, `MCP-Protocol-Version`,
//! `Last-Event-ID`, `Mcp-Method`, `Mcp-Name`) pass through untouched.

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::identity::{IdentitySigner, SignedRequest, Unsendable};
use crate::oauth::Principal;
use crate::web::WebResponse;

/// Request headers browsers may send to /mcp cross-origin.
const ALLOW_HEADERS: &str = "authorization, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id, mcp-method, mcp-name";
/// Response headers browser clients must be able to read.
const EXPOSE_HEADERS: &str = "mcp-session-id, www-authenticate, mcp-protocol-version";

/// Which browser origins may call `/mcp`.
#[derive(Debug, Clone)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// The public origin plus any extra allowed ones (compared exactly, case-insensitively).
    pub fn new(public_origin: &str, extra: &[String]) -> Self {
        let mut allowed = vec![public_origin.to_ascii_lowercase()];
        allowed.extend(
            extra
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty()),
        );
        Self { allowed }
    }

    /// `Ok(Some(origin))` for an allowed browser origin, `Ok(None)` without an `Origin` header
    /// (non-browser clients), and a 403 for any other origin (DNS rebinding, cross-site pages).
    #[allow(clippy::result_large_err)] // the error is the answer, sent right away
    pub fn check(&self, headers: &HeaderMap) -> Result<Option<String>, WebResponse> {
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(None);
        };
        let origin = origin.to_str().unwrap_or("").trim();
        if self
            .allowed
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
        {
            return Ok(Some(origin.to_owned()));
        }
        tracing::warn!(origin = ?origin.chars().take(100).collect::<String>(), "refused /mcp request from a foreign origin");
        Err(WebResponse::jsonrpc_error(
            StatusCode::FORBIDDEN,
            -32001,
            "Forbidden: this Origin may not call the MCP endpoint (see ALLOWED_ORIGINS)",
        ))
    }
}

/// The answer to a CORS preflight (`OPTIONS /mcp`) from an allowed origin.
pub fn preflight(origin: Option<&str>) -> WebResponse {
    let mut response = WebResponse::new(StatusCode::NO_CONTENT, "text/plain", "");
    if let Some(origin) = origin {
        add_cors(&mut response.headers, origin);
        response = response
            .with_header(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                "GET, POST, DELETE, OPTIONS",
            )
            .with_header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS)
            .with_header(header::ACCESS_CONTROL_MAX_AGE, "600");
    }
    response
}

/// 404 for an `Mcp-Session-Id` no live replica owns: the client starts a new session.
pub fn session_not_found() -> WebResponse {
    WebResponse::jsonrpc_error(StatusCode::NOT_FOUND, -32001, "Session not found")
}

/// Adds the CORS response headers for an allowed origin.
pub fn add_cors(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Whether a request header must never reach the tool server as the client sent it.
pub fn is_stripped(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("x-mcp-")
        || name == "authorization"
        || name == "cookie"
        // The trace is started here, at the edge; a client's trace context is not continued.
        || name == "traceparent"
        || name == "tracestate"
}

/// The client's headers that may reach the tool server (every value of each, in order), in a
/// new map with room for `extra` more.
pub fn forwarded(client: HeaderMap, extra: usize) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(client.len() + extra);
    // A name comes once, with `None` for each further value of it.
    let mut name: Option<HeaderName> = None;
    for (next, value) in client {
        if next.is_some() {
            name = next.filter(|name| !is_stripped(name));
        }
        if let Some(name) = &name {
            headers.append(name.clone(), value);
        }
    }
    headers
}

/// The identity headers to add for `principal` on a request to `upstream_path`.
pub fn identity_headers(
    signer: &IdentitySigner,
    principal: &Principal,
    method: &str,
    upstream_path: &str,
    session_id: &str,
) -> Result<[(HeaderName, HeaderValue); 4], Unsendable> {
    signer.headers(&SignedRequest {
        method,
        path: upstream_path,
        role: &principal.role,
        subject: &principal.subject,
        email: &principal.email,
        session_id,
    })
}

/// 500 with a JSON-RPC error body: a value of the identity cannot be sent as a header.
pub fn unsendable_identity() -> WebResponse {
    WebResponse::jsonrpc_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        -32603,
        "Internal error: the identity cannot be forwarded to the tool server",
    )
}

/// 502 with a JSON-RPC error body: the tool server could not be reached.
pub fn upstream_unavailable() -> WebResponse {
    WebResponse::jsonrpc_error(
        StatusCode::BAD_GATEWAY,
        -32603,
        "Bad gateway: the tool server is not reachable",
    )
}

/// 413 with a JSON-RPC error body.
pub fn body_too_large(limit: usize) -> WebResponse {
    WebResponse::jsonrpc_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        -32600,
        &format!("Request body is larger than {limit} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_keeps_every_value_of_what_passes_and_nothing_of_what_is_stripped() {
        let mut client = HeaderMap::new();
        for (name, value) in [
            ("accept", "application/json"),
            ("x-mcp-role", "admin"),
            ("accept", "text/event-stream"),
            ("authorization", "Bearer a"),
            ("authorization", "Bearer b"),
            ("x-mcp-identity", "v1;forged"),
            ("cookie", "session=x"),
            ("traceparent", "00-abc-def-01"),
            ("tracestate", "k=v"),
            ("mcp-protocol-version", "2025-11-25"),
            ("x-custom", "1"),
            ("x-custom", "2"),
        ] {
            client.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let headers = super::forwarded(client, 6);
        let values = |name: &str| -> Vec<&str> {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap())
                .collect()
        };
        assert_eq!(values("accept"), ["application/json", "text/event-stream"]);
        assert_eq!(values("x-custom"), ["1", "2"]);
        assert_eq!(values("mcp-protocol-version"), ["2025-11-25"]);
        for stripped in [
            "x-mcp-role",
            "x-mcp-identity",
            "authorization",
            "cookie",
            "traceparent",
            "tracestate",
        ] {
            assert!(
                values(stripped).is_empty(),
                "{stripped} reached the tool server"
            );
        }
        assert_eq!(headers.len(), 5);
        assert!(headers.capacity() >= 5 + 6);
    }

    #[test]
    fn origins() {
        let policy = OriginPolicy::new(
            "https://mcp.example.com",
            &["http://localhost:6274/".to_string()],
        );
        let mut h = HeaderMap::new();
        assert_eq!(policy.check(&h).unwrap(), None);
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://mcp.example.com"),
        );
        assert!(policy.check(&h).unwrap().is_some());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://localhost:6274"),
        );
        assert!(policy.check(&h).unwrap().is_some());
        for bad in [
            "https://evil.example",
            "https://mcp.example.com.evil.example",
            "null",
            "http://mcp.example.com",
        ] {
            h.insert(header::ORIGIN, HeaderValue::from_static(bad));
            let response = policy.check(&h).unwrap_err();
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{bad}");
        }
    }

    #[test]
    fn stripped_headers() {
        for name in [
            "x-mcp-role",
            "x-mcp-identity",
            "authorization",
            "cookie",
            "x-mcp-anything",
        ] {
            assert!(is_stripped(&HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "mcp-session-id",
            "mcp-protocol-version",
            "last-event-id",
            "mcp-method",
            "content-type",
        ] {
            assert!(!is_stripped(&HeaderName::from_static(name)), "{name}");
        }
    }
}
