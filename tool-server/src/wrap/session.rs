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
    INTERNAL_ERROR, INVALID_REQUEST, Kind, REQUEST_TIMEOUT, error_response, kind,
};
use super::registry::Sessions;
use super::routes::{Destination, Pending, Purpose, Refusal, Routes};
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

/// What a POST gets back: answers known at once, then the stream of the rest.
pub(crate) struct PostAnswer {
    pub(crate) first: Vec<Value>,
    pub(crate) rest: Option<mpsc::Receiver<Value>>,
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
    ) -> Self {
        // Counted down by `end`, which every session reaches once.
        METRICS.wrap_child_started();
        Self {
            id,
            subject,
            child,
            gate,
            limits,
            routes: Mutex::new(Routes::new(
                limits.backlog,
                limits.backlog_bytes,
                limits.in_flight,
            )),
            last_active: Mutex::new(Instant::now()),
            ended: CancellationToken::new(),
            unknown_tool: OnceCell::new(),
            registered: Notify::new(),
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
        {
            let mut routes = self.routes();
            let stream = routes.open_post(tx);
            for step in steps {
                match step {
                    Step::Answer(answer) => first.push(answer),
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
                            Err(refusal) => first.push(refused(&id, &refusal)),
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
        let first = self.routes().open_standalone(tx);
        Ok(PostAnswer {
            first,
            rest: Some(rx),
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

    async fn time_out(&self, pending: Pending, tx: Option<mpsc::Sender<Value>>) {
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
        if let Some(tx) = tx {
            let message = format!(
                "Request timed out: the call took longer than {secs} s (--max-call-secs), \
                 this server's limit, and was cancelled; try again with less work per call"
            );
            self.deliver(tx, error_response(&pending.id, REQUEST_TIMEOUT, &message))
                .await;
        }
    }

    async fn route_from_child(&self, message: Value) {
        let (destination, message) = self.routes().route(message);
        match destination {
            Destination::Stream(tx) => self.deliver(tx, message).await,
            Destination::Answer(tx, pending) => {
                // Idle time counts from the last answer too, not only from the last request.
                self.touch();
                let message = self.finish_answer(message, &pending);
                if let Some(tx) = tx {
                    self.deliver(tx, message).await;
                }
            }
            Destination::Internal(tx) => {
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
    async fn deliver(&self, tx: mpsc::Sender<Value>, message: Value) {
        let sent = tokio::select! {
            sent = tx.send(message) => sent,
            () = self.ended.cancelled() => return,
        };
        if let Err(mpsc::error::SendError(message)) = sent {
            // That client went away. A response belongs to its request alone; anything else
            // can still reach the client on its GET stream.
            if !super::jsonrpc::is_response(&message) {
                self.routes().requeue(message);
            }
        }
    }

    /// Ends the session: waiting requests get an error, streams close, the child is stopped.
    pub(crate) fn end(&self, reason: EndReason) {
        if self.ended.is_cancelled() {
            return;
        }
        self.ended.cancel();
        let (unanswered, dropped) = {
            let mut routes = self.routes();
            (routes.close(), routes.dropped())
        };
        let message = format!(
            "The MCP session ended ({}); start a new one",
            reason.as_str()
        );
        for (id, tx) in unanswered {
            let _ = tx.try_send(error_response(&id, INTERNAL_ERROR, &message));
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
