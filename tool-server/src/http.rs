//! MCP streamable HTTP at `/mcp`, behind the identity-header check, keeping no MCP session.
//!
//! Every request to `/mcp` must carry identity headers signed by the proxy. The verified
//! [`Identity`] rides in the request's extensions to the MCP handler, which reads the role from
//! it, so a request needs nothing from the ones before it.
//!
//! Nothing outlives a request (rmcp's stateless mode), so another replica, or this one after a
//! restart, serves a client's next request as well as the one it initialized with:
//! - `initialize` is answered and opens nothing: no `Mcp-Session-Id` comes back, so clients of
//!   2025-03-26 to 2025-11-25 send none (a server need not assign one); 2026-07-28 has no
//!   sessions at all.
//! - Notifications get 202 and are dropped: a client cancels a call by closing its connection.
//! - `GET` (the stream for messages the server sends unasked) and `DELETE` get 405 with
//!   `Allow: POST`: these tools send nothing unasked and there is nothing to end. The
//!   TypeScript and Python SDK clients read that 405 as "no stream" and "nothing to end".
//! - An `Mcp-Session-Id` that a request still carries (from a client that initialized before
//!   an upgrade to this version, say) names nothing and is ignored, not answered 404: the
//!   request is served with the role of its own identity headers, so a session id, anyone's,
//!   grants nothing. The proxy signs its value with the rest, so a changed one gets 401.
//! - Answers are `application/json`. Were a tool to send a notification before its result,
//!   rmcp would answer that one request with an SSE stream instead, so nothing is lost.

use okta_mcp_common::logging::escaped;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::identity::{Identity, IdentityError, IdentityVerifier};

/// Settings of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `Host` values accepted besides loopback ones (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// Largest accepted POST body.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            allowed_hosts: Vec::new(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Builds the `/mcp` service for `handler` (one clone per request) and the health route.
pub fn router<H>(
    handler: H,
    verifier: Arc<IdentityVerifier>,
    settings: &HttpSettings,
    shutdown: CancellationToken,
) -> Router
where
    H: rmcp::ServerHandler + Clone + Send + Sync + 'static,
{
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(allowed_hosts(&settings.allowed_hosts))
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(shutdown);
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service("/mcp", mcp)
        .route_layer(middleware::from_fn_with_state(verifier, guard))
        .route("/health", get(|| async { "ok\n" }))
}

/// Verifies the identity headers before the MCP service sees a request, and hands it the identity.
async fn guard(
    State(verifier): State<Arc<IdentityVerifier>>,
    mut request: Request,
    next: Next,
) -> Response {
    let identity = match verify_identity(
        &verifier,
        request.method(),
        request.uri().path(),
        request.headers(),
    ) {
        Ok(identity) => identity,
        Err(refused) => return refused.into_response(),
    };
    request.extensions_mut().insert::<Identity>(identity);
    next.run(request).await
}

/// The `Host` values accepted: loopback names plus `extra` (DNS-rebinding protection).
pub fn allowed_hosts(extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1", "[::1]"]
        .into_iter()
        .map(String::from)
        .collect();
    hosts.extend(extra.iter().cloned());
    hosts
}

/// An answer given before the MCP layer: an HTTP status with a JSON-RPC error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
}

impl Refusal {
    /// A refusal with `status`, JSON-RPC error `code` and `message`.
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    /// The one answer for a `wrap` session that does not exist or belongs to another subject.
    pub fn session_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, -32001, "Session not found")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        jsonrpc_error(self.status, self.code, &self.message)
    }
}

/// Checks a request's identity headers now; the 401 answer when they do not hold.
pub fn verify_identity(
    verifier: &IdentityVerifier,
    method: &Method,
    path: &str,
    headers: &axum::http::HeaderMap,
) -> Result<Identity, Refusal> {
    let now_ms = crate::identity::unix_millis();
    verifier
        .verify(method.as_str(), path, headers, now_ms)
        .map_err(|error| {
            if matches!(error, IdentityError::Busy) {
                tracing::warn!(%error, "refused a request for now");
                return Refusal::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    -32603,
                    format!("Service unavailable: {error}"),
                );
            }
            tracing::warn!(%error, method = %escaped(method.as_str()), "refused request without a valid identity");
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                -32001,
                format!("Unauthorized: {error}"),
            )
        })
}

/// A JSON-RPC error body with an HTTP status, for answers given before the MCP layer.
pub fn jsonrpc_error(status: StatusCode, code: i64, message: &str) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": code, "message": message },
    });
    let mut response = (status, Body::from(body.to_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Refuses a non-loopback listen address unless the operator opted in.
pub fn check_listen_addr(addr: SocketAddr, allow_non_loopback: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || allow_non_loopback {
        Ok(())
    } else {
        Err(format!(
            "refusing to listen on {addr}: it is not a loopback address and the tool server trusts \
             identity headers only from the proxy in the same pod. Use 127.0.0.1, or pass \
             --allow-non-loopback if a network policy keeps everyone else out"
        ))
    }
}
