//! MCP streamable HTTP at `/mcp`, behind the identity-header check.
//!
//! Every request to `/mcp` must carry identity headers signed by the proxy. The verified
//! [`Identity`] rides in the request's extensions to the MCP handler, which reads the role from
//! it. An MCP session belongs to the subject that opened it: a request naming another subject's
//! session gets the same 404 as a session that does not exist.

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
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::identity::{Identity, IdentityVerifier, SESSION_HEADER};

/// Settings of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Sessions idle this long are closed.
    pub session_idle: Duration,
    /// `Host` values accepted besides loopback ones (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// Largest accepted POST body.
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(300),
            allowed_hosts: Vec::new(),
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// Which subject opened each live MCP session.
#[derive(Default)]
struct SessionOwners(Mutex<HashMap<String, String>>);

impl SessionOwners {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Clone)]
struct GuardState {
    verifier: Arc<IdentityVerifier>,
    owners: Arc<SessionOwners>,
}

/// Builds the `/mcp` service for `handler` (one clone per session) and the health route.
pub fn router<H>(
    handler: H,
    verifier: Arc<IdentityVerifier>,
    settings: &HttpSettings,
    shutdown: CancellationToken,
) -> Router
where
    H: rmcp::ServerHandler + Clone + Send + Sync + 'static,
{
    let mut session_config = SessionConfig::default();
    session_config.keep_alive = Some(settings.session_idle);
    let mut sessions = LocalSessionManager::default();
    sessions.session_config = session_config;
    let sessions = Arc::new(sessions);
    let allowed_hosts = allowed_hosts(&settings.allowed_hosts);
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_max_request_body_bytes(settings.max_body_bytes)
        .with_cancellation_token(shutdown);
    let mcp = StreamableHttpService::new(move || Ok(handler.clone()), sessions.clone(), config);

    let owners = Arc::new(SessionOwners::default());
    spawn_owner_pruning(owners.clone(), sessions);
    let state = GuardState { verifier, owners };
    Router::new()
        .route_service("/mcp", mcp)
        .route_layer(middleware::from_fn_with_state(state, guard))
        .route("/health", get(|| async { "ok\n" }))
}

/// Forgets owners of sessions the session manager has closed (idle, deleted, or crashed).
fn spawn_owner_pruning(owners: Arc<SessionOwners>, sessions: Arc<LocalSessionManager>) {
    let owners = Arc::downgrade(&owners);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            let Some(owners) = owners.upgrade() else {
                return;
            };
            let live = sessions.sessions.read().await;
            owners.lock().retain(|id, _| live.contains_key(id.as_str()));
        }
    });
}

/// Verifies identity headers and session ownership before the MCP service sees a request.
async fn guard(State(state): State<GuardState>, mut request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let identity = match verify_identity(
        &state.verifier,
        &method,
        request.uri().path(),
        request.headers(),
    ) {
        Ok(identity) => identity,
        Err(refused) => return refused.into_response(),
    };
    let session = match request.headers().get(SESSION_HEADER) {
        None => None,
        Some(value) => match value.to_str() {
            Ok(id) => Some(id.to_owned()),
            Err(_) => return session_not_found(),
        },
    };
    if let Some(id) = &session {
        let owned = state.owners.lock().get(id) == Some(&identity.subject);
        if !owned {
            tracing::warn!(subject = %identity.subject, "session id of another subject, or unknown");
            return session_not_found();
        }
    }
    let subject = identity.subject.clone();
    request.extensions_mut().insert::<Identity>(identity);
    let response = next.run(request).await;
    match (&session, response.headers().get(SESSION_HEADER)) {
        (None, Some(new_id)) if response.status().is_success() => {
            if let Ok(new_id) = new_id.to_str() {
                state.owners.lock().insert(new_id.to_owned(), subject);
            }
        }
        (Some(id), _) if method == Method::DELETE && response.status().is_success() => {
            state.owners.lock().remove(id);
        }
        _ => {}
    }
    response
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

    /// The one answer for a session that does not exist or belongs to another subject.
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
    let now = chrono::Utc::now().timestamp();
    verifier
        .verify(method.as_str(), path, headers, now)
        .map_err(|error| {
            tracing::warn!(%error, method = %method, "refused request without a valid identity");
            Refusal::new(
                StatusCode::UNAUTHORIZED,
                -32001,
                format!("Unauthorized: {error}"),
            )
        })
}

fn session_not_found() -> Response {
    Refusal::session_not_found().into_response()
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
