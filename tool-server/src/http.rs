//! MCP streamable HTTP at `/mcp`, behind the identity-header check, keeping no MCP session
//! unless a client needs one to be asked something (elicitation, below).
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
//!
//! The one exception: a client that declares the `elicitation` capability at `initialize`
//! (protocol revisions up to 2025-11-25) gets an MCP session, because a write tool asks its
//! user to confirm through a request from the server to the client, whose answer comes back
//! in a later POST that must reach the same waiting call. rmcp's stateless mode cannot do
//! that (it knows no client capabilities and refuses JSON-RPC responses). Such a session holds
//! only the connection to the client: the role still comes with every request's identity
//! headers. It belongs to the subject that opened it (another subject's requests for it get
//! 404), ends after [`SESSION_IDLE`] without requests, and the proxy routes its requests to
//! the replica that owns it. A request naming a session this process does not have (after a
//! restart, say) is served statelessly as before, so write tools fall back to confirmation
//! tokens. Past [`MAX_SESSIONS`] (or [`MAX_SESSIONS_PER_SUBJECT`]) new clients are served
//! statelessly too.

use okta_mcp_common::logging::escaped;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
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

/// A session that sees no request for this long ends (a person has [`SESSION_IDLE`] to answer
/// a confirmation; the client's open GET stream keeps it alive meanwhile).
pub const SESSION_IDLE: Duration = Duration::from_secs(15 * 60);
/// Most elicitation sessions at once in one process.
pub const MAX_SESSIONS: usize = 1000;
/// Most elicitation sessions of one subject at once.
pub const MAX_SESSIONS_PER_SUBJECT: usize = 8;

/// The two ways `/mcp` is served: statelessly (everyone), and in sessions (clients that can be
/// asked something), with the subject that owns each session.
struct McpRoutes<H: rmcp::ServerHandler + Clone + Send + Sync + 'static> {
    stateless: StreamableHttpService<H, NeverSessionManager>,
    sessions: StreamableHttpService<H, LocalSessionManager>,
    session_manager: Arc<LocalSessionManager>,
    /// Session id → the subject that opened it.
    owners: Mutex<HashMap<String, String>>,
    max_body_bytes: usize,
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
        .with_allowed_hosts(allowed_hosts(&settings.allowed_hosts))
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(shutdown);
    let stateless_handler = handler.clone();
    let stateless = StreamableHttpService::new(
        move || Ok(stateless_handler.clone()),
        Arc::new(NeverSessionManager::default()),
        config
            .clone()
            .with_legacy_session_mode(false)
            .with_json_response(true),
    );
    let mut session_manager = LocalSessionManager::default();
    session_manager.session_config.keep_alive = Some(SESSION_IDLE);
    let session_manager = Arc::new(session_manager);
    let sessions = StreamableHttpService::new(
        move || Ok(handler.clone()),
        session_manager.clone(),
        config.with_legacy_session_mode(true),
    );
    let routes = Arc::new(McpRoutes {
        stateless,
        sessions,
        session_manager,
        owners: Mutex::new(HashMap::new()),
        max_body_bytes: settings.max_body_bytes,
    });
    Router::new()
        .route("/mcp", any(mcp::<H>).with_state(routes))
        .route_layer(middleware::from_fn_with_state(verifier, guard))
        .route("/health", get(|| async { "ok\n" }))
}

/// Sends a verified `/mcp` request to its session, or serves it statelessly.
async fn mcp<H>(State(routes): State<Arc<McpRoutes<H>>>, request: Request) -> Response
where
    H: rmcp::ServerHandler + Clone + Send + Sync + 'static,
{
    let subject = request
        .extensions()
        .get::<Identity>()
        .map(|identity| identity.subject.clone())
        .unwrap_or_default();
    let session = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(session) = session {
        let owner = lock(&routes.owners).get(&session).cloned();
        if let Some(owner) = owner {
            let live = routes
                .session_manager
                .has_session(&Arc::from(session.as_str()))
                .await
                .unwrap_or(false);
            if !live {
                lock(&routes.owners).remove(&session);
            } else if owner == subject {
                return into_axum(routes.sessions.handle(request).await);
            } else {
                tracing::warn!(
                    subject = %escaped(&subject),
                    "refused a request for another subject's MCP session"
                );
                return Refusal::session_not_found().into_response();
            }
        }
        // A session this process does not have (a restart, an older client): served
        // statelessly, as the session id grants nothing.
    }
    if request.method() != Method::POST {
        return into_axum(routes.stateless.handle(request).await);
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, routes.max_body_bytes).await else {
        return jsonrpc_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            -32600,
            "Request body too large or unreadable",
        );
    };
    let opens_session = asks_for_a_session(&bytes) && routes.room_for(&subject).await;
    let request = Request::from_parts(parts, Body::from(bytes));
    if !opens_session {
        return into_axum(routes.stateless.handle(request).await);
    }
    let response = into_axum(routes.sessions.handle(request).await);
    if let Some(id) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        lock(&routes.owners).insert(id.to_owned(), subject);
    }
    response
}

impl<H: rmcp::ServerHandler + Clone + Send + Sync + 'static> McpRoutes<H> {
    /// Whether `subject` may open one more session (forgetting ended ones first).
    async fn room_for(&self, subject: &str) -> bool {
        let live: std::collections::HashSet<String> = self
            .session_manager
            .sessions
            .read()
            .await
            .keys()
            .map(|id| id.to_string())
            .collect();
        let mut owners = lock(&self.owners);
        owners.retain(|id, _| live.contains(id));
        owners.len() < MAX_SESSIONS
            && owners.values().filter(|o| *o == subject).count() < MAX_SESSIONS_PER_SUBJECT
    }
}

/// Whether a POST body is an `initialize` of a client that can be asked something (declares
/// `elicitation`) and speaks a revision with sessions (before 2026-07-28).
fn asks_for_a_session(body: &[u8]) -> bool {
    /// Just the method: every POST is read once for it, so nothing else is built (building the
    /// whole body as a `Value` was 2.5% of a tools/call's CPU).
    #[derive(serde::Deserialize)]
    struct Method<'a> {
        #[serde(borrow)]
        method: Option<std::borrow::Cow<'a, str>>,
    }
    let is_initialize = serde_json::from_slice::<Method<'_>>(body)
        .is_ok_and(|probe| probe.method.as_deref() == Some("initialize"));
    if !is_initialize {
        return false;
    }
    let Ok(message) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let params = &message["params"];
    message["method"] == "initialize"
        && params["capabilities"]["elicitation"].is_object()
        && params["protocolVersion"]
            .as_str()
            .is_some_and(|v| v < "2026-07-28")
}

fn into_axum<B>(response: http::Response<B>) -> Response
where
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    response.map(Body::new)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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
    /// The JSON-RPC `id` of the request refused, when it is known (`null` otherwise).
    pub id: serde_json::Value,
    /// Seconds for a `Retry-After` header (a refusal for now, not for good).
    pub retry_after_secs: Option<u32>,
}

impl Refusal {
    /// A refusal with `status`, JSON-RPC error `code` and `message`.
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            id: serde_json::Value::Null,
            retry_after_secs: None,
        }
    }

    /// The same refusal, telling the client to try again after `secs` seconds.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// The same refusal, answering the request with JSON-RPC `id`.
    pub fn with_id(mut self, id: serde_json::Value) -> Self {
        self.id = id;
        self
    }

    /// The one answer for a `wrap` session that does not exist or belongs to another subject.
    pub fn session_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, -32001, "Session not found")
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = jsonrpc_error_to(self.status, &self.id, self.code, &self.message);
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
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
    jsonrpc_error_to(status, &serde_json::Value::Null, code, message)
}

/// The same, answering the request with JSON-RPC `id`.
pub fn jsonrpc_error_to(
    status: StatusCode,
    id: &serde_json::Value,
    code: i64,
    message: &str,
) -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": id,
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
