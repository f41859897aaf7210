//! 2026-07-28 (stateless) clients: one warm child per subject, shared by its requests.
//!
//! A stateless client sends no `initialize` and no `Mcp-Session-Id`; each POST carries its
//! protocol version (`MCP-Protocol-Version` header, `_meta`) and stands alone. A stdio server
//! only knows one client initialized once, so the wrapper keeps one child per Okta subject for
//! these requests, initialized by the wrapper itself at the subject's first request, and
//! forwards each request to it:
//! - the child is initialized with no client capabilities: with no stream back to the client
//!   it cannot be asked anything, so it should offer nothing that needs to ask (a server that
//!   asks anyway is answered `-32601` by the wrapper, not left waiting);
//! - requests of different clients of one subject may use the same JSON-RPC id (or progress
//!   token), so each request gets a fresh id (and token) toward the child, and its answer
//!   and progress get the client's back;
//! - each request must carry the revision's `_meta` envelope (protocol version, the header's,
//!   and client capabilities), checked here since the child never sees a 2026-07-28 request;
//! - `server/discover` is answered from the child's `initialize` result, without the list
//!   changes and resource subscriptions a stateless client cannot get;
//! - the policy is the one of sessions: the role comes with each request;
//! - the warm child is a session like any other for the limits (`--max-children`,
//!   `--max-children-per-subject`), `--max-call-secs` and idle reaping; once reaped, the
//!   subject's next request starts a new one;
//! - notifications the child sends unasked (list changes, log messages) are dropped: a
//!   stateless client has no stream for them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use okta_mcp_common::logging::escaped;
use serde_json::{Value, json};

use super::jsonrpc::{INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, Kind, is_response, kind};
use super::replay::Outgoing;
use super::session::{EndReason, PostAnswer, Session};
use super::transport::{Transport, not_started, sse};
use crate::http::Refusal;
use crate::identity::Identity;

/// The first stateless revision.
pub(crate) const STATELESS_SINCE: &str = "2026-07-28";

/// The revision the wrapper asks the child for (the child may answer an older one).
const CHILD_VERSION: &str = "2025-11-25";

/// Revisions `wrap` serves: the stateless one here, the others in sessions.
const SUPPORTED: [&str; 4] = ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"];

/// Ids (and progress tokens) the wrapper gives stateless requests toward the child.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Whether a request without a session comes from a stateless client, by its
/// `MCP-Protocol-Version` (dates compare as text).
pub(crate) fn is_stateless(headers: &HeaderMap) -> bool {
    headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v >= STATELESS_SINCE)
}

/// JSON-RPC error of a protocol version the server does not speak (2026-07-28).
const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// JSON-RPC error of a request whose headers disagree with its body (2026-07-28).
const HEADER_MISMATCH: i64 = -32020;

/// The `_meta` keys every 2026-07-28 request carries (`clientInfo` is optional).
const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

/// Serves the messages of one stateless POST.
pub(crate) async fn serve(
    t: &Transport,
    headers: &HeaderMap,
    identity: &Identity,
    mut messages: Vec<Value>,
) -> Result<Response, Refusal> {
    if messages.len() != 1 {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "Invalid Request: a stateless (2026-07-28) request is one JSON-RPC message, not a batch",
        ));
    }
    let mut message = messages.remove(0);
    let version = headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if version != STATELESS_SINCE {
        // A newer revision than this server knows: say which it speaks, so the client can
        // pick one.
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let refusal = json!({"jsonrpc": "2.0", "id": id, "error": {
            "code": UNSUPPORTED_PROTOCOL_VERSION, "message": "Unsupported protocol version",
            "data": {"requested": version, "supported": SUPPORTED},
        }});
        return Ok((StatusCode::BAD_REQUEST, axum::Json(refusal)).into_response());
    }
    let (client_id, method) = match kind(&message) {
        Kind::Request { id, method } => (id.clone(), method.to_owned()),
        // Nothing to answer; a cancellation is a closed connection in this revision.
        _ => return Ok(StatusCode::ACCEPTED.into_response()),
    };
    check_envelope(&message, version).map_err(|refusal| refusal.with_id(client_id.clone()))?;
    let session = warm_child(t, identity).await?;
    if method == "server/discover" {
        let handshake = session.handshake.get().cloned().unwrap_or(Value::Null);
        let answer = json!({"jsonrpc": "2.0", "id": client_id, "result": discover(&handshake)});
        return Ok(axum::Json(answer).into_response());
    }
    let ours = json!(format!(
        "okta-mcp-wrap-{}",
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    ));
    message["id"] = ours.clone();
    let token = message
        .pointer_mut("/params/_meta/progressToken")
        .map(|token| {
            let theirs = token.clone();
            let fresh = json!(format!(
                "okta-mcp-wrap-{}",
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            ));
            *token = fresh.clone();
            (fresh, theirs)
        });
    let answer = session
        .post(vec![message], identity)
        .await
        .map_err(|_| gone())?;
    let restore = move |mut outgoing: Outgoing| {
        let m = &mut outgoing.message;
        if is_response(m) && m["id"] == ours {
            m["id"] = client_id.clone();
            if let Some(result) = m.get_mut("result") {
                complete_result(&method, result);
            }
        }
        if let Some((fresh, theirs)) = &token
            && let Some(t) = m.pointer_mut("/params/progressToken")
            && t == fresh
        {
            *t = theirs.clone();
        }
        outgoing
    };
    let first = answer.first.into_iter().map(&restore).collect();
    let rest = answer.rest.map(|mut rx| {
        let (tx, out) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            while let Some(outgoing) = rx.recv().await {
                if tx.send(restore(outgoing)).await.is_err() {
                    break;
                }
            }
        });
        out
    });
    let answer = PostAnswer {
        prime: None,
        first,
        rest,
    };
    Ok(sse(answer, None, false))
}

/// Checks the `_meta` envelope of a request: present, with the client's capabilities and a
/// protocol version that is the header's (`400`, as the revision says for both).
fn check_envelope(message: &Value, version: &str) -> Result<(), Refusal> {
    let meta = message
        .pointer("/params/_meta")
        .and_then(Value::as_object)
        .filter(|m| {
            m.contains_key(PROTOCOL_VERSION_KEY) && m.contains_key(CLIENT_CAPABILITIES_KEY)
        });
    let Some(meta) = meta else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            INVALID_PARAMS,
            format!(
                "Invalid params: a 2026-07-28 request carries params._meta with \
                 {PROTOCOL_VERSION_KEY} and {CLIENT_CAPABILITIES_KEY}"
            ),
        ));
    };
    if meta[PROTOCOL_VERSION_KEY] != version {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            HEADER_MISMATCH,
            format!(
                "Header mismatch: the MCP-Protocol-Version header is not the request's \
                 {PROTOCOL_VERSION_KEY}"
            ),
        ));
    }
    Ok(())
}

/// Adds what a 2026-07-28 result has and a child's (older) result lacks: every result says
/// it is complete, and the cacheable ones (lists, resource reads) how long they may be cached:
/// not at all, and privately, since what the child offers may change and tools depend on the
/// caller's role.
fn complete_result(method: &str, result: &mut Value) {
    let Some(result) = result.as_object_mut() else {
        return;
    };
    result
        .entry("resultType")
        .or_insert_with(|| json!("complete"));
    if matches!(
        method,
        "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    ) {
        result.entry("ttlMs").or_insert_with(|| json!(0));
        result
            .entry("cacheScope")
            .or_insert_with(|| json!("private"));
    }
}

/// The `server/discover` result, from the child's answer to the wrapper's `initialize`.
fn discover(handshake: &Value) -> Value {
    let result = &handshake["result"];
    let mut capabilities = result
        .get("capabilities")
        .cloned()
        .unwrap_or_else(|| json!({}));
    // A stateless client gets no list changes or resource updates: the child's unasked
    // notifications are dropped, and there is no `subscriptions/listen` stream to send them on.
    for offer in ["tools", "prompts", "resources"] {
        if let Some(offer) = capabilities.get_mut(offer).and_then(Value::as_object_mut) {
            offer.remove("listChanged");
            offer.remove("subscribe");
        }
    }
    let mut discovered = json!({
        "resultType": "complete",
        "supportedVersions": SUPPORTED,
        "capabilities": capabilities,
        "ttlMs": 0,
        // What the child offers may depend on who asks (the policy filters tools by role).
        "cacheScope": "private",
    });
    if let Some(instructions) = result.get("instructions").filter(|i| i.is_string()) {
        discovered["instructions"] = instructions.clone();
    }
    if let Some(info) = result.get("serverInfo") {
        discovered["_meta"] = json!({"io.modelcontextprotocol/serverInfo": info});
    }
    discovered
}

/// The subject's warm child, started and initialized at its first stateless request.
async fn warm_child(t: &Transport, identity: &Identity) -> Result<Arc<Session>, Refusal> {
    let slot = t.sessions.warm_slot(&identity.subject);
    let mut warm = slot.lock().await;
    if let Some(session) = warm.as_ref()
        && !session.has_ended()
    {
        session.touch();
        return Ok(session.clone());
    }
    *warm = None;
    let session = t
        .sessions
        .create(&identity.subject, true)
        .map_err(|error| not_started(error, &identity.subject, "stateless child"))?;
    match initialize(t, &session, identity).await {
        Ok(handshake) => {
            let _ = session.handshake.set(handshake);
            *warm = Some(session.clone());
            Ok(session)
        }
        Err((status, why)) => {
            t.sessions.end(&session.id, EndReason::InitFailed);
            tracing::warn!(session = %session.id, subject = %escaped(&identity.subject), why, "stateless child did not initialize");
            Err(Refusal::new(
                status,
                INTERNAL_ERROR,
                format!("The wrapped MCP server did not initialize: {why}"),
            ))
        }
    }
}

/// The wrapper's own `initialize` of a warm child, then `notifications/initialized`.
async fn initialize(
    t: &Transport,
    session: &Session,
    identity: &Identity,
) -> Result<Value, (StatusCode, &'static str)> {
    let exited = (StatusCode::BAD_GATEWAY, "it exited");
    let request = json!({"jsonrpc": "2.0", "id": "okta-mcp-wrap-initialize", "method": "initialize",
    "params": {
        "protocolVersion": CHILD_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "okta-mcp-tool-server-wrap", "version": env!("CARGO_PKG_VERSION")},
    }});
    let answer = session
        .post(vec![request], identity)
        .await
        .map_err(|_| exited)?;
    let mut first = answer.first.into_iter().map(|o| o.message);
    let handshake = match first.find(is_response) {
        Some(answer) => answer,
        None => {
            let mut rest = answer.rest.ok_or(exited)?;
            let waited = tokio::time::timeout(t.init_timeout, async {
                while let Some(outgoing) = rest.recv().await {
                    if is_response(&outgoing.message) {
                        return Some(outgoing.message);
                    }
                }
                None
            })
            .await;
            match waited {
                Ok(Some(answer)) => answer,
                Ok(None) => return Err(exited),
                Err(_) => return Err((StatusCode::GATEWAY_TIMEOUT, "no answer in time")),
            }
        }
    };
    if handshake.get("result").is_none() {
        return Err((StatusCode::BAD_GATEWAY, "it refused initialize"));
    }
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    session
        .post(vec![initialized], identity)
        .await
        .map_err(|_| exited)?;
    Ok(handshake)
}

fn gone() -> Refusal {
    Refusal::new(
        StatusCode::BAD_GATEWAY,
        INTERNAL_ERROR,
        "The wrapped MCP server exited; send the request again",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_is_built_from_the_childs_initialize() {
        let handshake = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {"tools": {"listChanged": true}, "resources": {"subscribe": true}},
            "serverInfo": {"name": "everything", "version": "9"},
            "instructions": "be nice"
        }});
        let found = discover(&handshake);
        assert_eq!(found["supportedVersions"][0], "2026-07-28");
        assert_eq!(
            found["capabilities"],
            json!({"tools": {}, "resources": {}}),
            "no list changes or subscriptions without a stream back"
        );
        assert_eq!(
            found["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "everything"
        );
        assert_eq!(found["instructions"], "be nice");
        assert_eq!(found["resultType"], "complete");
    }

    #[test]
    fn results_get_what_the_revision_requires() {
        let mut list = json!({"tools": []});
        complete_result("tools/list", &mut list);
        assert_eq!(
            list,
            json!({"tools": [], "resultType": "complete", "ttlMs": 0, "cacheScope": "private"})
        );
        let mut call = json!({"content": [], "resultType": "task"});
        complete_result("tools/call", &mut call);
        assert_eq!(call, json!({"content": [], "resultType": "task"}));
    }

    #[test]
    fn only_modern_versions_are_stateless() {
        let mut headers = HeaderMap::new();
        assert!(!is_stateless(&headers));
        headers.insert("mcp-protocol-version", "2025-11-25".parse().unwrap());
        assert!(!is_stateless(&headers));
        headers.insert("mcp-protocol-version", "2026-07-28".parse().unwrap());
        assert!(is_stateless(&headers));
    }
}
