//! MCP streamable HTTP at `/mcp` for wrapped servers: POST, GET and DELETE.
//!
//! Each request passes the same checks as `serve`: an accepted `Host`, the proxy's identity
//! headers, and a session owned by the caller's subject (else 404, like a session that does
//! not exist). Requests without a session from 2026-07-28 (stateless) clients go to the
//! subject's warm child ([`super::stateless`]); other requests without a session but
//! `initialize` get the 400 a pre-2026 server gives.

use okta_mcp_common::logging::escaped;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;

use super::jsonrpc::{INTERNAL_ERROR, INVALID_REQUEST, Kind, is_response, kind};
use super::registry::{CreateError, Sessions};
use super::replay::{Outgoing, ResumeError};
use super::session::{EndReason, PostAnswer, ResumeFailure, Session};
use crate::http::{Refusal, verify_identity};
use crate::identity::{Identity, IdentityVerifier, SESSION_HEADER};

/// Idle SSE streams get a comment this often, so nothing between gives up on them.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a client waits before reconnecting a dropped stream (the SSE `retry` field).
const RETRY: Duration = Duration::from_secs(1);

/// The first revision whose clients expect a priming event (an id with empty data); older
/// clients may take its empty data for a broken message.
pub(crate) const PRIMING_SINCE: &str = "2025-11-25";

#[derive(Clone)]
pub(crate) struct Transport {
    pub(crate) sessions: Arc<Sessions>,
    pub(crate) verifier: Arc<IdentityVerifier>,
    pub(crate) allowed_hosts: Arc<Vec<String>>,
    pub(crate) max_body_bytes: usize,
    pub(crate) init_timeout: Duration,
}

/// The `/mcp` and `/health` routes.
pub(crate) fn routes(transport: Transport) -> Router {
    Router::new()
        .route(
            "/mcp",
            get(handle_get).post(handle_post).delete(handle_delete),
        )
        .route("/health", get(|| async { "ok\n" }))
        .with_state(transport)
}

/// Host and identity checks shared by every `/mcp` method.
fn admit(
    t: &Transport,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(Identity, Option<String>), Refusal> {
    if !host_allowed(headers, &t.allowed_hosts) {
        tracing::warn!(host = ?headers.get(header::HOST), "refused request for a Host not allowed");
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            INVALID_REQUEST,
            "Forbidden: Host header is not allowed",
        ));
    }
    let identity = verify_identity(&t.verifier, method, uri.path(), headers)?;
    let session = match headers.get(SESSION_HEADER) {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .map(str::to_owned)
                .map_err(|_| Refusal::session_not_found())?,
        ),
    };
    Ok((identity, session))
}

fn find(t: &Transport, id: &str, identity: &Identity) -> Result<Arc<Session>, Refusal> {
    t.sessions
        .get(id, &identity.subject)
        .ok_or_else(Refusal::session_not_found)
}

fn session_required() -> Refusal {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        -32000,
        "Bad Request: Mcp-Session-Id header is required",
    )
}

async fn handle_post(
    State(t): State<Transport>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    post(&t, &method, &uri, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn post(
    t: &Transport,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Refusal> {
    let (identity, session_id) = admit(t, method, uri, headers)?;
    let body = axum::body::to_bytes(body, t.max_body_bytes)
        .await
        .map_err(|_| {
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                INVALID_REQUEST,
                format!(
                    "Request body over {} bytes (--max-message-bytes)",
                    t.max_body_bytes
                ),
            )
        })?;
    let messages = parse_body(&body)?;
    // A refusal of one request answers it by its id, so the client can match it (a batch's
    // refusal is for all of it, so `null`).
    let id = match messages.as_slice() {
        [message] if matches!(kind(message), Kind::Request { .. }) => message["id"].clone(),
        _ => Value::Null,
    };
    post_messages(t, headers, identity, session_id, messages)
        .await
        .map_err(|refusal| refusal.with_id(id))
}

/// The rest of a POST, once its body is read: sessions, and the messages to the child.
async fn post_messages(
    t: &Transport,
    headers: &HeaderMap,
    identity: Identity,
    session_id: Option<String>,
    messages: Vec<Value>,
) -> Result<Response, Refusal> {
    let has_requests = messages
        .iter()
        .any(|m| matches!(kind(m), Kind::Request { .. }));
    if has_requests && !accepts_event_stream(headers) {
        return Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            INVALID_REQUEST,
            "Not Acceptable: the client must accept both application/json and text/event-stream",
        ));
    }
    let initialize = messages.iter().any(|m| {
        matches!(
            kind(m),
            Kind::Request {
                method: "initialize",
                ..
            }
        )
    });
    let Some(id) = session_id else {
        if initialize {
            return start_session(t, messages, &identity).await;
        }
        if super::stateless::is_stateless(headers) {
            return super::stateless::serve(t, headers, &identity, messages).await;
        }
        let version = headers
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        tracing::info!(
            subject = %escaped(&identity.subject), protocol_version = version,
            "request without a session refused; the client must initialize first"
        );
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            -32000,
            "Bad Request: no valid session ID provided; this server needs an MCP session: \
             send initialize first (stateless requests are not served)",
        ));
    };
    let session = find(t, &id, &identity)?;
    if initialize {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Invalid Request: this session is already initialized; \
             start a new session without Mcp-Session-Id",
        ));
    }
    match session.post(messages, &identity).await {
        Ok(PostAnswer { rest: None, .. }) => Ok(StatusCode::ACCEPTED.into_response()),
        Ok(answer) => Ok(sse(answer, None, primes(protocol_version(headers)))),
        Err(_) => Err(Refusal::session_not_found()),
    }
}

/// The refusal for a child that could not be started (`what`: a session or a stateless child):
/// `503` with `Retry-After` when a limit is reached, else `500`; logged either way.
pub(super) fn not_started(error: CreateError, subject: &str, what: &str) -> Refusal {
    match error {
        CreateError::Full(_) | CreateError::SubjectFull(_) | CreateError::ShuttingDown => {
            tracing::warn!(subject = %escaped(subject), %error, "{what} refused");
            Refusal::new(
                StatusCode::SERVICE_UNAVAILABLE,
                INTERNAL_ERROR,
                format!("Service Unavailable: {error}"),
            )
            .retry_after(5)
        }
        CreateError::Spawn(_) => {
            tracing::error!(subject = %escaped(subject), %error, "{what} not started");
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                INTERNAL_ERROR,
                format!("Internal error: {error}"),
            )
        }
    }
}

/// `initialize` without a session: a new child, the client's initialize sent to it once, and
/// the session id given only when the child has answered.
async fn start_session(
    t: &Transport,
    messages: Vec<Value>,
    identity: &Identity,
) -> Result<Response, Refusal> {
    let session = t
        .sessions
        .create(&identity.subject, false)
        .map_err(|error| not_started(error, &identity.subject, "session"))?;
    let fail = |status: StatusCode, why: &str| {
        t.sessions.end(&session.id, EndReason::InitFailed);
        tracing::warn!(session = %session.id, subject = %escaped(&identity.subject), why, "initialize failed");
        Err(Refusal::new(
            status,
            INTERNAL_ERROR,
            format!("The wrapped MCP server did not initialize: {why}"),
        ))
    };
    let prime = primes(
        messages
            .first()
            .and_then(|m| m.pointer("/params/protocolVersion"))
            .and_then(Value::as_str)
            .unwrap_or(""),
    );
    let Ok(PostAnswer {
        prime: priming_id,
        mut first,
        rest: Some(mut rest),
    }) = session.post(messages, identity).await
    else {
        return fail(StatusCode::BAD_GATEWAY, "it exited");
    };
    if !first.iter().any(|o| is_response(&o.message)) {
        let waited = tokio::time::timeout(t.init_timeout, async {
            while let Some(outgoing) = rest.recv().await {
                let done = is_response(&outgoing.message);
                first.push(outgoing);
                if done {
                    return true;
                }
            }
            false
        })
        .await;
        match waited {
            Ok(true) => {}
            Ok(false) => return fail(StatusCode::BAD_GATEWAY, "it exited"),
            Err(_) => return fail(StatusCode::GATEWAY_TIMEOUT, "no answer in time"),
        }
    }
    let initialized = first
        .iter()
        .find(|o| is_response(&o.message))
        .is_some_and(|o| o.message.get("result").is_some());
    if !initialized {
        // The child refused this initialize; its answer goes back, no session is kept.
        t.sessions.end(&session.id, EndReason::InitFailed);
        let answer = PostAnswer {
            prime: None,
            first,
            rest: None,
        };
        return Ok(sse(answer, None, false));
    }
    let answer = PostAnswer {
        prime: priming_id,
        first,
        rest: Some(rest),
    };
    Ok(sse(answer, Some(&session.id), prime))
}

async fn handle_get(
    State(t): State<Transport>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let open = || {
        let (identity, session_id) = admit(&t, &method, &uri, &headers)?;
        if session_id.is_none() && super::stateless::is_stateless(&headers) {
            // A stateless client has no stream for messages the server sends unasked.
            return Ok((
                StatusCode::METHOD_NOT_ALLOWED,
                [(header::ALLOW, "POST")],
                "Method Not Allowed: a stateless (2026-07-28) client has no GET stream\n",
            )
                .into_response());
        }
        let id = session_id.ok_or_else(session_required)?;
        if !accepts_event_stream(&headers) {
            return Err(Refusal::new(
                StatusCode::NOT_ACCEPTABLE,
                INVALID_REQUEST,
                "Not Acceptable: the client must accept text/event-stream",
            ));
        }
        let session = find(&t, &id, &identity)?;
        let prime = primes(protocol_version(&headers));
        let Some(last) = headers.get("last-event-id") else {
            let answer = session
                .open_standalone()
                .map_err(|_| Refusal::session_not_found())?;
            return Ok(sse(answer, None, prime));
        };
        let last = last
            .to_str()
            .map_err(|_| resume_refused(ResumeError::Malformed))?;
        match session.resume(last) {
            Ok(answer) => {
                tracing::info!(
                    session = %session.id, subject = %escaped(&identity.subject),
                    replayed = answer.first.len(), live = answer.rest.is_some(),
                    "stream resumed from Last-Event-ID"
                );
                Ok(sse(answer, None, false))
            }
            Err(ResumeFailure::Gone(_)) => Err(Refusal::session_not_found()),
            Err(ResumeFailure::Refused(why)) => {
                tracing::info!(
                    session = %session.id, subject = %escaped(&identity.subject), ?why,
                    "stream not resumed: Last-Event-ID refused"
                );
                Err(resume_refused(why))
            }
        }
    };
    open().unwrap_or_else(IntoResponse::into_response)
}

async fn handle_delete(
    State(t): State<Transport>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let found = admit(&t, &method, &uri, &headers).and_then(|(identity, session_id)| {
        let id = session_id.ok_or_else(session_required)?;
        find(&t, &id, &identity).map(|_| id)
    });
    let id = match found {
        Ok(id) => id,
        Err(refused) => return refused.into_response(),
    };
    if let Some(session) = t.sessions.end(&id, EndReason::Deleted) {
        // Answer once the child is gone, so "deleted" means "stopped".
        let _ = tokio::time::timeout(Duration::from_secs(6), session.child_exited()).await;
    }
    StatusCode::OK.into_response()
}

/// One JSON-RPC message or a non-empty batch of valid messages.
pub(super) fn parse_body(body: &Bytes) -> Result<Vec<Value>, Refusal> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, -32700, format!("Parse error: {e}")))?;
    let messages = match value {
        Value::Array(batch) if !batch.is_empty() => batch,
        Value::Array(_) => {
            return Err(invalid("Invalid Request: empty batch"));
        }
        single => vec![single],
    };
    for message in &messages {
        match kind(message) {
            Kind::Invalid => return Err(invalid("Invalid Request: not a JSON-RPC 2.0 message")),
            Kind::Notification { method } if !method.starts_with("notifications/") => {
                return Err(invalid(
                    "Invalid Request: only notifications/* methods may be sent without an id",
                ));
            }
            _ => {}
        }
    }
    let initialize = messages.iter().any(|m| {
        matches!(
            kind(m),
            Kind::Request {
                method: "initialize",
                ..
            }
        )
    });
    if initialize && messages.len() > 1 {
        return Err(invalid(
            "Invalid Request: initialize must not be part of a batch",
        ));
    }
    Ok(messages)
}

/// The answer to a `Last-Event-ID` that cannot be resumed from.
fn resume_refused(why: ResumeError) -> Refusal {
    match why {
        ResumeError::Malformed => Refusal::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Bad Request: Last-Event-ID is not an event id this server gave",
        ),
        ResumeError::Unknown => Refusal::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Bad Request: Last-Event-ID names no event of this session",
        ),
        ResumeError::Expired => Refusal::new(
            StatusCode::GONE,
            INVALID_REQUEST,
            "Gone: the events after this Last-Event-ID are no longer kept (the replay buffer \
             of this session is bounded); they cannot be replayed, so send the request again",
        ),
    }
}

/// The client's `MCP-Protocol-Version` header, empty when it sent none.
fn protocol_version(headers: &HeaderMap) -> &str {
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Whether a client of `version` gets a priming event (dates compare as text).
fn primes(version: &str) -> bool {
    version >= PRIMING_SINCE
}

fn invalid(message: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, INVALID_REQUEST, message)
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            let essence = v.split(';').next().unwrap_or("").trim();
            essence.eq_ignore_ascii_case("text/event-stream") || essence == "*/*"
        })
}

/// Whether the `Host` header names an allowed host (and port, when the entry has one).
fn host_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
        return false;
    };
    let name = authority
        .host()
        .trim_matches(|c| c == '[' || c == ']')
        .to_ascii_lowercase();
    allowed.iter().any(|entry| {
        let Ok(entry) = entry.trim().parse::<axum::http::uri::Authority>() else {
            return false;
        };
        entry
            .host()
            .trim_matches(|c| c == '[' || c == ']')
            .eq_ignore_ascii_case(&name)
            && entry
                .port_u16()
                .is_none_or(|port| authority.port_u16() == Some(port))
    })
}

/// An SSE response: the priming event if `prime`, `first`, then whatever arrives on `rest`
/// until it closes; every message with its event id.
pub(super) fn sse(answer: PostAnswer, session_id: Option<&str>, prime: bool) -> Response {
    let priming = answer.prime.filter(|_| prime).map(|id| priming_event(&id));
    let first = futures::stream::iter(answer.first);
    let rest = match answer.rest {
        Some(rx) => receiver_stream(rx).left_stream(),
        None => futures::stream::empty().right_stream(),
    };
    let messages = first.chain(rest).map(|outgoing: Outgoing| {
        Event::default()
            .id(outgoing.id)
            .data(outgoing.message.to_string())
    });
    let events = messages.map(Ok::<_, Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    if let Some(priming) = priming {
        let (parts, body) = response.into_parts();
        let first = futures::stream::once(async { Ok::<_, axum::Error>(priming) });
        let body = Body::from_stream(first.chain(body.into_data_stream()));
        response = Response::from_parts(parts, body);
    }
    if let Some(id) = session_id
        && let Ok(value) = HeaderValue::from_str(id)
    {
        response.headers_mut().insert(SESSION_HEADER, value);
    }
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The priming event: its id, `retry`, and an empty `data` line. Written by hand, since axum
/// writes no `data` line for empty data, and a block without one is no event to a client
/// (browsers, `eventsource-parser` in the TypeScript SDK): it would never learn the id.
fn priming_event(id: &str) -> Bytes {
    Bytes::from(format!("id: {id}\nretry: {}\ndata:\n\n", RETRY.as_millis()))
}

fn receiver_stream(rx: mpsc::Receiver<Outgoing>) -> impl Stream<Item = Outgoing> {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|message| (message, rx))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn hosts() {
        let allowed = crate::http::allowed_hosts(&["mcp.example.com:8443".into()]);
        for (host, ok) in [
            ("localhost:3002", true),
            ("127.0.0.1", true),
            ("[::1]:3002", true),
            ("LOCALHOST:1", true),
            ("evil.example.com", false),
            ("mcp.example.com:8443", true),
            ("mcp.example.com", false),
            ("", false),
        ] {
            assert_eq!(
                host_allowed(&headers(&[("host", host)]), &allowed),
                ok,
                "{host}"
            );
        }
        assert!(!host_allowed(&HeaderMap::new(), &allowed));
    }

    #[test]
    fn accept_headers() {
        assert!(accepts_event_stream(&headers(&[(
            "accept",
            "application/json, text/event-stream"
        )])));
        assert!(accepts_event_stream(&headers(&[("accept", "*/*")])));
        assert!(!accepts_event_stream(&headers(&[(
            "accept",
            "application/json"
        )])));
        assert!(!accepts_event_stream(&HeaderMap::new()));
    }

    #[test]
    fn bodies() {
        let ok = Bytes::from_static(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"}]"#);
        assert_eq!(parse_body(&ok).unwrap().len(), 2);
        for (bad, status) in [
            (&b"{"[..], StatusCode::BAD_REQUEST),
            (b"[]", StatusCode::BAD_REQUEST),
            (b"{\"jsonrpc\":\"2.0\"}", StatusCode::BAD_REQUEST),
            (
                b"{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}",
                StatusCode::BAD_REQUEST,
            ),
            (
                b"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"},{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}]",
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let refused = parse_body(&Bytes::from_static(bad)).unwrap_err();
            assert_eq!(refused.status, status, "{}", String::from_utf8_lossy(bad));
        }
    }
}
