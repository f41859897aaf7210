//! One MCP session: a client's HTTP requests on one side, its own child process on the other.

use okta_mcp_common::logging::escaped;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::{Notify, OnceCell, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::child::{ChildGone, ChildOutput, ChildProcess};
use super::gate::{ToolGate, UnknownToolAnswer, called_tool};
use super::jsonrpc::{
    INTERNAL_ERROR, INVALID_REQUEST, Kind, METHOD_NOT_FOUND, REQUEST_TIMEOUT, error_response, kind,
};
use super::registry::Sessions;
use super::replay::{Outgoing, ResumeError};
use super::routes::{Destination, Pending, Purpose, Refusal, RouteLimits, Routes, Target};
use crate::identity::Identity;
use crate::metrics::METRICS;

/// How long the wrapper waits for the child's answer to its unknown-tool probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bounds of one session's queues.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    /// Messages buffered per HTTP stream before the child's output waits for the client.
    pub(crate) stream_queue: usize,
    /// Messages kept for a GET stream that is not open.
    pub(crate) backlog: usize,
    /// Bytes (as JSON) kept for a GET stream that is not open.
    pub(crate) backlog_bytes: usize,
    /// Client requests in flight at once.
    pub(crate) in_flight: usize,
    /// Messages kept to replay to a client that resumes a dropped stream.
    pub(crate) replay: usize,
    /// Bytes (as JSON) kept to replay.
    pub(crate) replay_bytes: usize,
    /// Longest a client request may wait for the child's answer before it is cancelled.
    pub(crate) max_call: Duration,
}

/// Why a session ended; said in the logs and to requests still waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    ChildExited,
    InitFailed,
    Deleted,
    Idle,
    Shutdown,
}

impl EndReason {
    /// The `reason` label of `okta_mcp_tool_server_wrap_children_ended_total`.
    fn label(self) -> &'static str {
        match self {
            Self::ChildExited => "child_exited",
            Self::InitFailed => "init_failed",
            Self::Deleted => "deleted",
            Self::Idle => "idle",
            Self::Shutdown => "shutdown",
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::ChildExited => "the wrapped server exited",
            Self::InitFailed => "the wrapped server did not initialize",
            Self::Deleted => "the client deleted the session",
            Self::Idle => "idle",
            Self::Shutdown => "the server is shutting down",
        }
    }
}

/// The session is over (or never was): the HTTP answer is 404.
#[derive(Debug)]
pub(crate) struct SessionGone;

impl From<ChildGone> for SessionGone {
    fn from(_: ChildGone) -> Self {
        SessionGone
    }
}

/// What a POST (or GET) gets back: answers known at once, then the stream of the rest.
pub(crate) struct PostAnswer {
    /// The id of the stream's priming event, for a client to reconnect from.
    pub(crate) prime: Option<String>,
    pub(crate) first: Vec<Outgoing>,
    pub(crate) rest: Option<mpsc::Receiver<Outgoing>>,
}

/// Why a stream cannot be resumed.
#[derive(Debug)]
pub(crate) enum ResumeFailure {
    Gone(SessionGone),
    Refused(ResumeError),
}

/// One client's session and its child.
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) subject: String,
    child: ChildProcess,
    gate: Arc<ToolGate>,
    limits: SessionLimits,
    routes: Mutex<Routes>,
    last_active: Mutex<Instant>,
    ended: CancellationToken,
    unknown_tool: OnceCell<UnknownToolAnswer>,
    /// Wakes [`Session::expire_overdue`] when a request is registered.
    registered: Notify,
    /// Serves stateless clients: no stream to ask them anything or tell them anything unasked.
    stateless: bool,
    /// The child's answer to the wrapper's own `initialize` (stateless sessions).
    pub(crate) handshake: std::sync::OnceLock<Value>,
    /// The client initialized with a revision that resumes dropped streams (2025-11-25 on).
    resumes: std::sync::atomic::AtomicBool,
}

/// One message of a POST and what to do with it.
enum Step {
    /// Send to the child; a request also gets its answer on this POST's stream.
    Forward(Value, Option<(Value, Purpose)>),
    /// Answer on this POST's stream without the child.
    Answer(Value),
}

impl Session {
    /// A session around a started child; [`Session::pump`] must run for its output.
    pub(crate) fn new(
        id: String,
        subject: String,
        child: ChildProcess,
        gate: Arc<ToolGate>,
        limits: SessionLimits,
        stateless: bool,
    ) -> Self {
        // Counted down by `end`, which every session reaches once.
        METRICS.wrap_child_started();
        Self {
            id,
            subject,
            child,
            gate,
            limits,
            routes: Mutex::new(Routes::new(RouteLimits {
                backlog: limits.backlog,
                backlog_bytes: limits.backlog_bytes,
                pending: limits.in_flight,
                replay: limits.replay,
                replay_bytes: limits.replay_bytes,
            })),
            last_active: Mutex::new(Instant::now()),
            ended: CancellationToken::new(),
            unknown_tool: OnceCell::new(),
            registered: Notify::new(),
            stateless,
            handshake: std::sync::OnceLock::new(),
            resumes: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The child's process id.
    pub(crate) fn child_pid(&self) -> u32 {
        self.child.pid()
    }

    /// Notes that the client did something, for idle reaping.
    pub(crate) fn touch(&self) {
        *self.last_active.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Idle: no request from the client and no answer to it for `idle`, and no request whose
    /// client still waits.
    pub(crate) fn idle_for(&self, idle: Duration) -> bool {
        let last = *self.last_active.lock().unwrap_or_else(|p| p.into_inner());
        last.elapsed() >= idle && !self.routes().busy()
    }

    /// Whether the session has ended.
    pub(crate) fn has_ended(&self) -> bool {
        self.ended.is_cancelled()
    }

    /// Waits until the child has exited.
    pub(crate) async fn child_exited(&self) {
        self.child.exited().await;
    }

    /// Handles the messages of one POST from `identity` (already checked to own the session).
    pub(crate) async fn post(
        &self,
        messages: Vec<Value>,
        identity: &Identity,
    ) -> Result<PostAnswer, SessionGone> {
        if self.has_ended() {
            return Err(SessionGone);
        }
        self.touch();
        if let Some(version) = messages
            .iter()
            .find(|m| m["method"] == "initialize")
            .and_then(|m| m.pointer("/params/protocolVersion"))
            .and_then(Value::as_str)
        {
            let resumes = version >= super::transport::PRIMING_SINCE;
            self.resumes
                .store(resumes, std::sync::atomic::Ordering::Relaxed);
        }
        let mut steps = Vec::with_capacity(messages.len());
        for message in messages {
            steps.push(self.plan(message, identity).await);
        }
        let expects_answers = steps
            .iter()
            .any(|s| matches!(s, Step::Answer(_) | Step::Forward(_, Some(_))));
        let (tx, rx) = mpsc::channel(self.limits.stream_queue);
        let mut first = Vec::new();
        let mut forward = Vec::new();
        let prime;
        {
            let mut routes = self.routes();
            let stream = routes.open_post(tx);
            prime = routes.prime(stream);
            for step in steps {
                match step {
                    Step::Answer(answer) => first.push(routes.record(stream, answer)),
                    Step::Forward(message, None) => {
                        if let Kind::Notification {
                            method: "notifications/cancelled",
                        } = kind(&message)
                            && let Some(id) = message.pointer("/params/requestId")
                        {
                            routes.cancel(id);
                        }
                        forward.push(message);
                    }
                    Step::Forward(message, Some((id, purpose))) => {
                        match routes.register(&message, &id, stream, purpose) {
                            Ok(()) => forward.push(message),
                            Err(refusal) => {
                                first.push(routes.record(stream, refused(&id, &refusal)))
                            }
                        }
                    }
                }
            }
            routes.close_post_if_idle(stream);
        }
        self.registered.notify_one();
        for message in &forward {
            self.child.send(message).await?;
        }
        Ok(PostAnswer {
            prime: Some(prime),
            first,
            rest: expects_answers.then_some(rx),
        })
    }

    /// Decides what one client message becomes; refused calls are answered here.
    async fn plan(&self, message: Value, identity: &Identity) -> Step {
        let (id, method) = match kind(&message) {
            Kind::Request { id, method } => (id.clone(), method.to_owned()),
            _ => return Step::Forward(message, None),
        };
        let role = identity.role.clone();
        let purpose = match method.as_str() {
            "tools/list" => Purpose::ToolsList {
                role,
                first_page: message.pointer("/params/cursor").is_none_or(Value::is_null),
            },
            "tools/call" => match called_tool(&message) {
                Ok(tool) if self.gate.allows(&role, tool) => Purpose::ToolsCall {
                    tool: tool.to_owned(),
                    role,
                },
                Ok(tool) => return Step::Answer(self.refuse_call(&id, tool, identity).await),
                Err(text) => return Step::Answer(self.refuse_call(&id, &text, identity).await),
            },
            _ => Purpose::Forward,
        };
        Step::Forward(message, Some((id, purpose)))
    }

    async fn refuse_call(&self, id: &Value, tool: &str, identity: &Identity) -> Value {
        METRICS.denied(tool, self.gate.role_label(&identity.role));
        tracing::info!(
            target: "audit",
            subject = %escaped(&identity.subject), role = %escaped(&identity.role), tool = %escaped(tool), decision = "deny",
            session = %self.id, duration_ms = 0u64,
            "tools/call refused"
        );
        let template = self
            .unknown_tool
            .get_or_init(|| self.probe_unknown_tool())
            .await;
        template.answer(id, tool)
    }

    /// Asks the child once for a tool nobody has, to answer refused calls the same way.
    async fn probe_unknown_tool(&self) -> UnknownToolAnswer {
        let name = UnknownToolAnswer::probe_name();
        let id = json!(format!(
            "okta-mcp-wrap-probe-{:016x}",
            rand::random::<u64>()
        ));
        let (tx, rx) = oneshot::channel();
        self.routes().register_internal(&id, tx);
        let probe = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                           "params": {"name": name, "arguments": {}}});
        let answer = match self.child.send(&probe).await {
            Ok(()) => tokio::time::timeout(PROBE_TIMEOUT, rx)
                .await
                .ok()
                .and_then(Result::ok),
            Err(ChildGone) => None,
        };
        self.routes().forget_internal(&id);
        answer
            .and_then(|answer| UnknownToolAnswer::from_probe(&name, answer))
            .unwrap_or_else(|| {
                tracing::warn!(
                    session = %self.id,
                    "could not learn the wrapped server's unknown-tool answer; refusing with -32602"
                );
                UnknownToolAnswer::builtin()
            })
    }

    /// Opens the GET stream: messages that waited for it first, then the live ones.
    pub(crate) fn open_standalone(&self) -> Result<PostAnswer, SessionGone> {
        if self.has_ended() {
            return Err(SessionGone);
        }
        self.touch();
        let (tx, rx) = mpsc::channel(self.limits.stream_queue);
        let mut routes = self.routes();
        let (stream, first) = routes.open_standalone(tx);
        let prime = routes.prime(stream);
        Ok(PostAnswer {
            prime: Some(prime),
            first,
            rest: Some(rx),
        })
    }

    /// Resumes a dropped stream from the client's `Last-Event-ID`: the events of that stream
    /// after it, then the rest of the stream live if it is not over.
    pub(crate) fn resume(&self, last_event_id: &str) -> Result<PostAnswer, ResumeFailure> {
        if self.has_ended() {
            return Err(ResumeFailure::Gone(SessionGone));
        }
        self.touch();
        let (tx, rx) = mpsc::channel(self.limits.stream_queue);
        let resumed = self
            .routes()
            .resume(last_event_id, tx)
            .map_err(ResumeFailure::Refused)?;
        Ok(PostAnswer {
            prime: None,
            first: resumed.replay,
            rest: resumed.live.then_some(rx),
        })
    }

    /// Reads the child's output until it closes, then ends the session.
    pub(crate) async fn pump(self: Arc<Self>, mut output: ChildOutput, sessions: Weak<Sessions>) {
        loop {
            let message = tokio::select! {
                message = output.next() => message,
                () = self.ended.cancelled() => break,
            };
            match message {
                Some(Value::Array(batch)) => {
                    for message in batch {
                        self.route_from_child(message).await;
                    }
                }
                Some(message) => self.route_from_child(message).await,
                None => {
                    if let Some(sessions) = sessions.upgrade() {
                        sessions.end(&self.id, EndReason::ChildExited);
                    }
                    // A no-op when the registry (or a DELETE) ended it already.
                    self.end(EndReason::ChildExited);
                    break;
                }
            }
        }
    }

    /// Until the session ends: answers each request still unanswered after `max_call` with an
    /// error and tells the child to cancel it, so no call holds its session (and child) busy,
    /// and out of idle reaping, for ever.
    pub(crate) async fn expire_overdue(self: Arc<Self>) {
        let max_call = self.limits.max_call;
        loop {
            let next = self.routes().next_deadline(max_call);
            let due = async {
                match next {
                    Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.ended.cancelled() => return,
                // A new request: its deadline may be the first one.
                () = self.registered.notified() => continue,
                () = due => {}
            }
            let expired = self.routes().expire(Instant::now(), max_call);
            for (pending, tx) in expired {
                self.time_out(pending, tx).await;
            }
        }
    }

    async fn time_out(&self, pending: Pending, target: Option<Target>) {
        let secs = self.limits.max_call.as_secs();
        let tool = match &pending.purpose {
            Purpose::ToolsCall { tool, role } => {
                tracing::info!(
                    target: "audit",
                    subject = %escaped(&self.subject), role = %escaped(role), tool = %escaped(tool), decision = "allow",
                    outcome = "timeout", session = %self.id,
                    duration_ms = pending.started.elapsed().as_millis() as u64,
                    "tools/call"
                );
                METRICS.tool_call(tool, self.gate.role_label(role), "timeout");
                tool.as_str()
            }
            _ => "",
        };
        tracing::warn!(
            session = %self.id, subject = %escaped(&self.subject), request = %pending.id, tool,
            max_call_secs = secs,
            "a request took longer than --max-call-secs: answered with an error and \
             cancelled toward the wrapped server"
        );
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {
            "requestId": pending.id,
            "reason": format!("took longer than {secs} s (--max-call-secs of okta-mcp-tool-server wrap)"),
        }});
        // A child that is gone ends the session, which answers the rest; nothing to do here.
        let _ = self.child.send(&cancel).await;
        if let Some(target) = target {
            let message = format!(
                "Request timed out: the call took longer than {secs} s (--max-call-secs), \
                 this server's limit, and was cancelled; try again with less work per call"
            );
            let answer = error_response(&pending.id, REQUEST_TIMEOUT, &message);
            let outgoing = self.routes().record(target.stream, answer);
            self.deliver(target, outgoing).await;
        }
    }

    async fn route_from_child(&self, message: Value) {
        if self.stateless {
            match kind(&message) {
                Kind::Request { id, method } => {
                    // A stateless client has no stream to be asked on: the child hears no
                    // rather than waiting for ever.
                    tracing::info!(
                        session = %self.id, method = %escaped(method),
                        "the wrapped server asked a stateless client something; refused"
                    );
                    let refusal = error_response(
                        id,
                        METHOD_NOT_FOUND,
                        "Method not available: the client is a stateless (MCP 2026-07-28) \
                         client, which the server cannot send requests to",
                    );
                    let _ = self.child.send(&refusal).await;
                    return;
                }
                Kind::Notification { method } if method != "notifications/progress" => {
                    tracing::debug!(
                        session = %self.id, method = %escaped(method),
                        "notification for stateless clients dropped: they have no stream for it"
                    );
                    return;
                }
                _ => {}
            }
        }
        let destination = self.routes().route(message);
        match destination {
            Destination::Stream(target, outgoing) => self.deliver(target, outgoing).await,
            Destination::Answer(target, pending, message) => {
                // Idle time counts from the last answer too, not only from the last request.
                self.touch();
                let message = self.finish_answer(message, &pending);
                if let Some(target) = target {
                    let outgoing = self.routes().record(target.stream, message);
                    self.deliver(target, outgoing).await;
                }
            }
            Destination::Internal(tx, message) => {
                let _ = tx.send(message);
            }
            Destination::Queued => {}
            Destination::Nowhere => tracing::debug!(
                session = %self.id,
                "the wrapped server answered a request nobody waits for; dropped"
            ),
        }
    }

    /// Applies the policy to an answer and writes the audit line of a call.
    fn finish_answer(&self, mut message: Value, pending: &Pending) -> Value {
        match &pending.purpose {
            Purpose::Forward => {}
            Purpose::ToolsList { role, first_page } => {
                self.gate.filter_tools_list(role, &mut message, *first_page);
            }
            Purpose::ToolsCall { tool, role } => {
                let outcome = if message.get("error").is_some() {
                    "protocol_error"
                } else if message.pointer("/result/isError") == Some(&Value::Bool(true)) {
                    "tool_error"
                } else {
                    "ok"
                };
                METRICS.tool_call(tool, self.gate.role_label(role), outcome);
                tracing::info!(
                    target: "audit",
                    subject = %escaped(&self.subject), role = %escaped(role), tool = %escaped(tool), decision = "allow",
                    outcome, session = %self.id,
                    duration_ms = pending.started.elapsed().as_millis() as u64,
                    "tools/call"
                );
            }
        }
        message
    }

    /// Sends on a stream, waiting while the client reads slowly, unless the session ends.
    async fn deliver(&self, target: Target, outgoing: Outgoing) {
        let sent = tokio::select! {
            sent = target.tx.send(outgoing) => sent,
            () = self.ended.cancelled() => return,
        };
        let Err(mpsc::error::SendError(outgoing)) = sent else {
            return;
        };
        if target.standalone {
            // That GET stream went away: the message is in the replay log for a client that
            // resumes it, and waits for the next GET stream of one that does not.
            self.routes().requeue(outgoing.message, Some(target.stream));
        } else if !self.resumes.load(std::sync::atomic::Ordering::Relaxed)
            && !self.stateless
            && !super::jsonrpc::is_response(&outgoing.message)
        {
            // A POST stream's messages stay with it for a client that resumes it; one of an
            // older revision does not, so its progress and server requests go to its GET
            // stream instead (its answers belong to their request alone).
            self.routes().requeue(outgoing.message, None);
        }
    }

    /// Ends the session: waiting requests get an error, streams close, the child is stopped.
    pub(crate) fn end(&self, reason: EndReason) {
        if self.ended.is_cancelled() {
            return;
        }
        self.ended.cancel();
        let message = format!(
            "The MCP session ended ({}); start a new one",
            reason.as_str()
        );
        let (unanswered, dropped) = {
            let mut routes = self.routes();
            let unanswered: Vec<(Target, Outgoing)> = routes
                .close()
                .into_iter()
                .map(|(id, target)| {
                    let answer = error_response(&id, INTERNAL_ERROR, &message);
                    let outgoing = routes.record(target.stream, answer);
                    (target, outgoing)
                })
                .collect();
            (unanswered, routes.dropped())
        };
        for (target, outgoing) in unanswered {
            let _ = target.tx.try_send(outgoing);
        }
        self.child.stop();
        METRICS.wrap_child_ended(reason.label());
        if reason == EndReason::ChildExited {
            tracing::warn!(
                session = %self.id, subject = %escaped(&self.subject), reason = reason.as_str(),
                dropped_while_no_stream = dropped,
                "the wrapped server exited; its session is over"
            );
        } else {
            tracing::info!(
                session = %self.id, subject = %escaped(&self.subject), reason = reason.as_str(),
                dropped_while_no_stream = dropped,
                "session ended"
            );
        }
    }
}

fn refused(id: &Value, refusal: &Refusal) -> Value {
    match refusal {
        Refusal::DuplicateId => error_response(
            id,
            INVALID_REQUEST,
            "Invalid Request: a request with this id is already in flight",
        ),
        Refusal::TooManyInFlight => error_response(
            id,
            INTERNAL_ERROR,
            "Too many requests in flight in this session; wait for answers first",
        ),
    }
}
