//! The pingora `ProxyHttp` implementation. It only dispatches: each phase calls into the
//! module that owns the concern (`oauth` for our endpoints and for authenticating `/mcp`,
//! `forward` for header hygiene, identity headers and CORS, `deadlines` and `request_body` for
//! clients that send a request too slowly or break its body, `hooks` for Okta Event Hooks,
//! `metrics` to count each answered request, `traces` for the span of a forwarded one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode, header};
use pingora::http::ResponseHeader;
use pingora::prelude::*;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};

use crate::deadlines;
use crate::forward::{self, OriginPolicy};
use crate::hooks::{self, OktaEventHook};
use crate::identity::IdentitySigner;
use crate::metrics::{Endpoint, METRICS};
use crate::oauth::{AuthServer, Principal};
use crate::okta_login::UpstreamLogin;
use crate::replicas::{Route, SessionRoutes};
use crate::request_body::BodyFailure;
use crate::traces;
use crate::web::{WebRequest, WebResponse};

/// Where `/mcp` goes.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `host:port` to connect to.
    pub addr: String,
    /// The path on the tool server, e.g. `/mcp`.
    pub path: String,
    /// The `Host` header to send (the tool server accepts loopback names only).
    pub host_header: String,
    /// The tool server's health URL, for `/ready`.
    pub health_url: String,
}

/// The proxy: our endpoints answered here, `/mcp` authenticated and forwarded.
pub struct Edge {
    parts: EdgeParts,
    /// Built once from `parts.upstream`: the peer to connect to and the `Host` header to send.
    prepared: Prepared,
}

/// What every forwarded request reuses.
struct Prepared {
    peer: HttpPeer,
    host: HeaderValue,
    /// Whether the tool server's path differs from ours, so the URI must be rewritten.
    rewrite_path: bool,
}

/// What an [`Edge`] is made of.
pub struct EdgeParts {
    pub auth: Arc<AuthServer>,
    pub login: Arc<dyn UpstreamLogin>,
    pub signer: IdentitySigner,
    pub origins: OriginPolicy,
    pub upstream: Upstream,
    pub max_body_bytes: usize,
    /// How long a request body may take to arrive, from the end of its header.
    pub body_deadline: Duration,
    /// For the readiness probe of the tool server.
    pub http: reqwest::Client,
    /// Which replica owns each MCP session.
    pub routes: Arc<SessionRoutes>,
    /// This is the peer listener: only `/mcp`, only this replica's own sessions.
    pub peer_listener: bool,
    /// Okta Event Hooks at `/hooks/okta`, when `OKTA_EVENT_HOOK_SECRET` is set.
    pub hooks: Option<Arc<OktaEventHook>>,
}

impl Edge {
    /// The proxy for `parts`; `Err` names a setting that cannot work (a `Host` header value
    /// that is not valid).
    pub fn new(parts: EdgeParts) -> Result<Self, String> {
        let host = HeaderValue::from_str(&parts.upstream.host_header).map_err(|_| {
            format!(
                "`{}` is not a valid Host header",
                parts.upstream.host_header
            )
        })?;
        let mut peer = HttpPeer::new(parts.upstream.addr.as_str(), false, String::new());
        peer.options.connection_timeout = Some(CONNECT_TIMEOUT);
        let prepared = Prepared {
            peer,
            host,
            rewrite_path: parts.upstream.path != MCP_PATH,
        };
        Ok(Self { parts, prepared })
    }
}

/// How long connecting to the tool server (or a peer replica) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Per-request state.
pub struct RequestCtx {
    started: Instant,
    principal: Option<Arc<Principal>>,
    origin: Option<String>,
    body_bytes: usize,
    /// When the `/mcp` body being forwarded is due.
    body_due: Option<Instant>,
    /// The request body has been read to its end (forwarded requests).
    body_done: bool,
    route: Route,
    /// The response was cut because its user was cut off at Okta (logged once).
    cut_off: bool,
    /// The span of a forwarded `/mcp` request, when traces are on (`traces`).
    trace: Option<tracing::Span>,
}

/// The public path of the MCP endpoint.
const MCP_PATH: &str = "/mcp";
/// MCP's session header.
const SESSION_HEADER: HeaderName = HeaderName::from_static("mcp-session-id");

#[async_trait]
impl ProxyHttp for Edge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            principal: None,
            origin: None,
            body_bytes: 0,
            body_due: None,
            body_done: false,
            route: Route::Gone,
            cut_off: false,
            trace: None,
        }
    }

    async fn early_request_filter(
        &self,
        session: &mut Session,
        _ctx: &mut RequestCtx,
    ) -> Result<()> {
        deadlines::header_read(session);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        if session.req_header().uri.path() == MCP_PATH {
            return match self.admit_mcp(session, ctx).await {
                Ok(()) => {
                    // The body streams to the tool server as it arrives: each read may wait
                    // only for what is left of the body deadline (`request_body_filter`).
                    ctx.body_due = Some(Instant::now() + self.parts.body_deadline);
                    session.set_read_timeout(Some(self.parts.body_deadline));
                    Ok(false)
                }
                Err(response) => {
                    send(session, response).await?;
                    Ok(true)
                }
            };
        }
        let path = session.req_header().uri.path().to_owned();
        let response = match path.as_str() {
            _ if self.parts.peer_listener => not_found(),
            "/health" => WebResponse::new(StatusCode::OK, "text/plain", "ok\n"),
            "/ready" => self.readiness().await,
            hooks::PATH if self.parts.hooks.is_some() => {
                match read_request(session, self.parts.max_body_bytes, self.parts.body_deadline)
                    .await
                {
                    Ok(request) => match &self.parts.hooks {
                        Some(hooks) => hooks.handle(&request).await,
                        None => not_found(),
                    },
                    Err(response) => response,
                }
            }
            _ => match read_request(session, self.parts.max_body_bytes, self.parts.body_deadline)
                .await
            {
                Ok(request) => self
                    .parts
                    .auth
                    .handle(&request)
                    .await
                    .unwrap_or_else(not_found),
                Err(response) => response,
            },
        };
        send(session, response).await?;
        Ok(true)
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        match &ctx.route {
            Route::Peer { address } => {
                let mut peer = HttpPeer::new(address.as_str(), false, String::new());
                peer.options.connection_timeout = Some(CONNECT_TIMEOUT);
                Ok(Box::new(peer))
            }
            _ => Ok(Box::new(self.prepared.peer.clone())),
        }
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        request: &mut pingora::http::RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if ctx.principal.is_none() {
            // admit_mcp always sets it; never forward an unauthenticated request.
            return Error::e_explain(HTTPStatus(401), "no principal for /mcp");
        }
        match &ctx.route {
            // The owner checks the client's credentials itself: forward the request as it came.
            Route::Peer { .. } => Ok(()),
            // admit_mcp already set the headers (see `prepare_local`); only the path is left.
            Route::Local { .. } if self.prepared.rewrite_path => {
                let uri = match request.uri.query() {
                    Some(query) => format!("{}?{query}", self.parts.upstream.path),
                    None => self.parts.upstream.path.clone(),
                };
                let uri = uri
                    .parse()
                    .or_err(InternalError, "upstream URI from a valid path")?;
                request.set_uri(uri);
                Ok(())
            }
            Route::Local { .. } => Ok(()),
            Route::Gone => Error::e_explain(HTTPStatus(404), "no route for the session"),
        }
    }

    async fn request_body_filter(
        &self,
        session: &mut Session,
        body: &mut Option<Bytes>,
        end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        ctx.body_bytes += body.as_ref().map_or(0, Bytes::len);
        if ctx.body_bytes > self.parts.max_body_bytes {
            return Error::e_explain(HTTPStatus(413), "request body over the limit");
        }
        if end_of_stream {
            ctx.body_done = true;
        } else if let Some(due) = ctx.body_due {
            let left = due.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Error::e_explain(HTTPStatus(408), "request body too slow");
            }
            session.set_read_timeout(Some(left));
        }
        Ok(())
    }

    fn response_body_filter(
        &self,
        _session: &mut Session,
        _body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> Result<Option<Duration>> {
        // A user cut off at Okta (Event Hook) gets nothing more, not even on a stream opened
        // before: it closes at its next message.
        if let Some(principal) = &ctx.principal
            && !self
                .parts
                .auth
                .revocations()
                .cutoffs(&principal.subject)
                .role_current(principal.seen_ms)
        {
            if !ctx.cut_off {
                tracing::info!(subject = ?principal.subject, "closing a response to a user cut off at Okta");
            }
            ctx.cut_off = true;
            return Error::e_explain(HTTPStatus(401), "the user was cut off at Okta");
        }
        Ok(None)
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // A local tool server's session id becomes one that names this replica (a peer's
        // answer already carries its own).
        if matches!(ctx.route, Route::Local { .. })
            && let Some(upstream) = response
                .headers
                .get(&SESSION_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        {
            response.insert_header(SESSION_HEADER, self.parts.routes.outgoing(&upstream))?;
        }
        if let Some(origin) = &ctx.origin {
            let mut cors = http::HeaderMap::new();
            forward::add_cors(&mut cors, origin);
            for (name, value) in cors {
                if let Some(name) = name {
                    response.insert_header(name, value)?;
                }
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        if let Some(failure) = self.body_failure(e, ctx) {
            // The client's body broke or stalled; it is still there to read why.
            tracing::info!(?failure, "a request body to /mcp could not be read");
            session.set_keepalive(None);
            let response = failure.jsonrpc_answer();
            let code = response.status.as_u16();
            if session.response_written().is_none() {
                let _ = send(session, response).await;
            }
            return FailToProxy {
                error_code: code,
                can_reuse_downstream: false,
            };
        }
        let response = match e.etype() {
            // The replica that owned the session is gone: the client starts a new one.
            _ if matches!(ctx.route, Route::Peer { .. })
                && e.esource() == &ErrorSource::Upstream
                && session.response_written().is_none() =>
            {
                forward::session_not_found()
            }
            HTTPStatus(413) => forward::body_too_large(self.parts.max_body_bytes),
            HTTPStatus(code) => WebResponse::jsonrpc_error(
                StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY),
                -32603,
                "Request failed",
            ),
            _ if e.esource() == &ErrorSource::Downstream => {
                return FailToProxy {
                    error_code: 0,
                    can_reuse_downstream: false,
                };
            }
            _ => forward::upstream_unavailable(),
        };
        let code = response.status.as_u16();
        if session.response_written().is_none() {
            tracing::warn!(error = %e, status = code, "proxying /mcp failed");
            let _ = send(session, response).await;
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, error: &Error) -> bool {
        // A client closing its SSE stream (or going away mid-response) is normal for MCP; a
        // body it broke is logged by `fail_to_proxy`.
        (error.esource() == &ErrorSource::Downstream
            && matches!(error.etype(), ConnectionClosed | ReadError | WriteError))
            || self.body_failure(error, ctx).is_some()
            || ctx.cut_off
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        deadlines::request_done(session);
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let request = session.req_header();
        if let Some(span) = &ctx.trace {
            span.record("http.response.status_code", status);
        }
        let endpoint = Endpoint::of(request.uri.path());
        METRICS.request_done(
            endpoint,
            status,
            ctx.started.elapsed(),
            endpoint == Endpoint::Mcp && request.method == Method::POST,
        );
        tracing::info!(
            target: "access",
            method = %request.method,
            path = %request.uri.path(),
            status,
            subject = ctx.principal.as_ref().map_or("", |p| p.subject.as_str()),
            duration_ms = ctx.started.elapsed().as_millis() as u64,
        );
    }
}

impl Edge {
    /// Why the `/mcp` request body being forwarded could not be read, if `error` says so.
    fn body_failure(&self, error: &Error, ctx: &RequestCtx) -> Option<BodyFailure> {
        if ctx.body_done || ctx.body_due.is_none() {
            return None;
        }
        BodyFailure::of(error, self.parts.body_deadline)
    }

    /// Origin, CORS preflight, authentication and size checks for `/mcp`; `Err` is the answer.
    #[allow(clippy::result_large_err)] // the error is the answer, sent right away
    async fn admit_mcp(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<(), WebResponse> {
        let request = session.req_header();
        let origin = self.parts.origins.check(&request.headers)?;
        if request.method == Method::OPTIONS {
            return Err(forward::preflight(origin.as_deref()));
        }
        let with_cors = |mut response: WebResponse| {
            if let Some(origin) = &origin {
                forward::add_cors(&mut response.headers, origin);
            }
            response
        };
        let principal = self
            .parts
            .auth
            .authenticate(&request.headers)
            .await
            .map_err(with_cors)?;
        let declared = request
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|len| len > self.parts.max_body_bytes) {
            return Err(with_cors(forward::body_too_large(
                self.parts.max_body_bytes,
            )));
        }
        let mcp_session = match request.headers.get(SESSION_HEADER) {
            None => None,
            Some(value) => Some(value.to_str().unwrap_or("")),
        };
        ctx.route = self
            .parts
            .routes
            .route(mcp_session, self.parts.peer_listener)
            .await;
        match &ctx.route {
            Route::Gone => return Err(with_cors(forward::session_not_found())),
            Route::Peer { .. } => {}
            Route::Local { session: upstream } => {
                let upstream = upstream.as_deref().unwrap_or("");
                if traces::enabled() {
                    ctx.trace = Some(traces::mcp_span(&request.method));
                }
                self.prepare_local(
                    session.req_header_mut(),
                    &principal,
                    upstream,
                    ctx.trace.as_ref(),
                )
                .map_err(with_cors)?;
            }
        }
        ctx.principal = Some(principal);
        ctx.origin = origin;
        Ok(())
    }

    /// Turns the client's request into the tool server's, in place: the headers a client could
    /// use to speak for someone else are removed, and `Host`, the tool server's own session id
    /// and the signed identity headers added. Done on the downstream header, before pingora
    /// copies it for the upstream request, so the copy is made once at its final size.
    ///
    /// The header map is rebuilt at its final size without pingora's case map: keeping that
    /// map up to date allocated twice per header name pingora does not know (each identity
    /// header) and grew both maps on every request. Header names then go upstream in lower
    /// case, which HTTP/1.1 allows.
    #[allow(clippy::result_large_err)] // the error is the answer, sent right away
    fn prepare_local(
        &self,
        request: &mut pingora::http::RequestHeader,
        principal: &Principal,
        upstream_session: &str,
        trace: Option<&tracing::Span>,
    ) -> Result<(), WebResponse> {
        // Everything that can fail first, so a refused request keeps the client's header.
        let identity = forward::identity_headers(
            &self.parts.signer,
            principal,
            request.method.as_str(),
            &self.parts.upstream.path,
            upstream_session,
        )
        .map_err(|error| {
            tracing::warn!(%error, "cannot forward a request");
            forward::unsendable_identity()
        })?;
        // The tool server sees its own session id, never the routed one we handed out.
        let session = match upstream_session {
            "" => None,
            id => Some(HeaderValue::from_str(id).map_err(|_| forward::unsendable_identity())?),
        };
        // The tool server continues this request's trace.
        let mut continued = Vec::new();
        for (name, value) in trace
            .map(okta_mcp_common::traces::outgoing)
            .unwrap_or_default()
        {
            let value =
                HeaderValue::from_str(&value).map_err(|_| forward::unsendable_identity())?;
            continued.push((HeaderName::from_static(name), value));
        }

        let placeholder = http::Request::new(()).into_parts().0;
        let mut parts = http::request::Parts::from(std::mem::replace(
            request,
            pingora::http::RequestHeader::from(placeholder),
        ));
        // Room for Host, the session id, the identity and the trace headers.
        let ours = 2 + identity.len() + continued.len();
        let mut headers = forward::forwarded(std::mem::take(&mut parts.headers), ours);
        headers.insert(header::HOST, self.prepared.host.clone());
        match session {
            Some(value) => headers.insert(SESSION_HEADER, value),
            None => headers.remove(SESSION_HEADER),
        };
        for (name, value) in identity.into_iter().chain(continued) {
            headers.insert(name, value);
        }
        parts.headers = headers;
        *request = pingora::http::RequestHeader::from(parts);
        Ok(())
    }

    /// Ready when Okta discovery is done, the state store answers, the revocation list is
    /// loaded and the tool server answers its health check.
    async fn readiness(&self) -> WebResponse {
        let okta = self.parts.login.ready();
        let store = match self.parts.auth.store().ping().await {
            Ok(()) => self.parts.auth.revocations().is_loaded(),
            Err(error) => {
                tracing::warn!(%error, "not ready: the state store does not answer");
                false
            }
        };
        let tool_server = self
            .parts
            .http
            .get(&self.parts.upstream.health_url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        let ready = okta && store && tool_server;
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        WebResponse::json(
            status,
            &serde_json::json!({"ready": ready, "okta_discovery": okta, "state_store": store, "tool_server": tool_server}),
        )
    }
}

/// Reads a request for one of our endpoints, refusing bodies over `limit` and bodies that do
/// not arrive whole within `deadline` or cannot be read (then the connection is not reused).
async fn read_request(
    session: &mut Session,
    limit: usize,
    deadline: Duration,
) -> Result<WebRequest, WebResponse> {
    // No single read may wait longer than the whole body may take.
    session.set_read_timeout(Some(deadline));
    match tokio::time::timeout(deadline, read_whole_request(session, limit, deadline)).await {
        Ok(read) => read,
        Err(_) => {
            session.set_keepalive(None);
            Err(BodyFailure::TooSlow(deadline).oauth_answer())
        }
    }
}

async fn read_whole_request(
    session: &mut Session,
    limit: usize,
    deadline: Duration,
) -> Result<WebRequest, WebResponse> {
    let header = session.req_header();
    let declared = header
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large(limit));
    }
    let mut request = WebRequest {
        method: header.method.clone(),
        path: header.uri.path().to_owned(),
        query: header.uri.query().map(str::to_owned),
        headers: header.headers.clone(),
        body: Bytes::new(),
        peer: session
            .client_addr()
            .and_then(|addr| addr.as_inet())
            .map(|addr| addr.ip()),
    };
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(error) => {
                let failure = BodyFailure::of(&error, deadline).unwrap_or(BodyFailure::EndedEarly);
                session.set_keepalive(None);
                return Err(failure.oauth_answer());
            }
        }
    }
    request.body = body.into();
    Ok(request)
}

fn not_found() -> WebResponse {
    WebResponse::json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not_found", "error_description": "no such endpoint"}),
    )
}

fn too_large(limit: usize) -> WebResponse {
    WebResponse::json(
        StatusCode::PAYLOAD_TOO_LARGE,
        &serde_json::json!({"error": "invalid_request", "error_description": format!("request body is larger than {limit} bytes")}),
    )
}

/// Writes one of our own complete responses.
async fn send(session: &mut Session, response: WebResponse) -> Result<()> {
    let mut header = ResponseHeader::build(response.status, Some(response.headers.len() + 1))?;
    for (name, value) in &response.headers {
        header.append_header(name.clone(), value.clone())?;
    }
    header.insert_header(header::CONTENT_LENGTH, response.body.len().to_string())?;
    let empty = response.body.is_empty();
    session
        .write_response_header(Box::new(header), empty)
        .await?;
    if !empty {
        session
            .write_response_body(Some(response.body), true)
            .await?;
    }
    Ok(())
}
