//! Plain request and response values for the endpoints the proxy answers itself.
//!
//! The OAuth endpoints are written against these instead of pingora's session so they can be
//! unit-tested without a server; `edge` converts at the boundary.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

/// A request to one of the proxy's own endpoints, body already read (bounded).
#[derive(Debug, Clone)]
pub struct WebRequest {
    pub method: Method,
    /// The path without the query, e.g. `/token`.
    pub path: String,
    /// The raw query string without `?`, if any.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The address the connection came from, when known.
    pub peer: Option<std::net::IpAddr>,
}

impl WebRequest {
    /// The first value of a header as text, if present and valid.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A complete response the proxy sends itself.
#[derive(Debug, Clone)]
pub struct WebResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl WebResponse {
    /// A response with a body and its content type.
    pub fn new(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Self {
            status,
            headers,
            body: body.into(),
        }
    }

    /// A JSON response.
    pub fn json(status: StatusCode, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json", value.to_string())
    }

    /// A JSON-RPC error body (for `/mcp` answers given by the proxy itself).
    pub fn jsonrpc_error(status: StatusCode, code: i64, message: &str) -> Self {
        Self::json(
            status,
            &serde_json::json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": code, "message": message },
            }),
        )
    }

    /// A redirect (302) to `location`.
    pub fn redirect(location: &str) -> Self {
        let mut response = Self::new(StatusCode::FOUND, "text/plain; charset=utf-8", "");
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers.insert(header::LOCATION, value);
        }
        response
    }

    /// Adds or replaces a header; values that are not valid header text are dropped.
    pub fn with_header(mut self, name: http::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.insert(name, value);
        }
        self
    }

    /// Appends a header (e.g. a second `Set-Cookie`).
    pub fn append_header(mut self, name: http::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.append(name, value);
        }
        self
    }
}
