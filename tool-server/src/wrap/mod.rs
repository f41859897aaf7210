//! `wrap`: any unmodified stdio MCP server behind the identity-header check and the role policy.
//!
//! # Multiplexing stdio over HTTP
//!
//! A stdio MCP server serves exactly one client for its whole life: one `initialize`, one set
//! of negotiated capabilities, one JSON-RPC id space in each direction, and state (subscriptions,
//! log level, roots, resources made during the session) that belongs to that client. So the
//! wrapper starts **one child process per MCP session**, at the client's `initialize`, and
//! forwards that `initialize` to it, once. Sharing a child between clients would mix their ids
//! and their state, and sending it a second `initialize` is undefined behaviour. The one
//! shared child is the warm child a subject's 2026-07-28 (stateless) clients use, initialized
//! by the wrapper, with the requests' ids remapped so they cannot collide ([`stateless`]).
//!
//! Messages are raw JSON-RPC, newline-delimited on the child's stdin and stdout, and are not
//! re-typed: requests, responses and notifications pass through unchanged in both directions,
//! with the client's ids (a session has one client, so its ids cannot collide). The policy
//! changes exactly two things: `tools/list` results are filtered by the caller's role, and a
//! `tools/call` of a tool the role may not use is answered without reaching the child, the way
//! the child answers a tool that does not exist ([`gate`]).
//!
//! Stdio carries no link between a server's message and the HTTP request it belongs to, so
//! [`routes`] decides which SSE stream each message of the child goes to, and [`replay`] gives
//! each message an event id and keeps it, so a client whose stream drops resumes it with
//! `Last-Event-ID` instead of losing an answer. A child that exits ends its session: requests
//! still waiting get an error, and the next request gets 404, so the client starts a new
//! session. Everything is bounded: message size, queued messages,
//! requests in flight, and the number of children, in all and per subject.

mod child;
mod environment;
mod gate;
mod jsonrpc;
mod lines;
mod registry;
mod replay;
mod routes;
mod session;
mod stateless;
mod transport;

#[doc(hidden)]
pub mod fuzzing;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

pub use child::{ChildCommand, CommandError};
pub use environment::{ChildEnvironment, DEFAULT_VARIABLES, EnvError};
pub use registry::Sessions;

use crate::identity::IdentityVerifier;
use crate::policy::ToolPolicy;

/// Settings of the `wrap` listener.
#[derive(Debug, Clone)]
pub struct WrapSettings {
    /// Sessions with no client activity for this long are ended (and their child).
    pub idle: Duration,
    /// Most sessions, and so children, at once; more `initialize`s get 503.
    pub max_children: usize,
    /// Most sessions one subject may have at once, so one caller cannot take every child.
    pub max_children_per_subject: usize,
    /// Largest POST body, and largest message (line) taken from a child.
    pub max_message_bytes: usize,
    /// How long a child has to answer `initialize`.
    pub init_timeout: Duration,
    /// Longest a request may wait for the child's answer; then it is cancelled and answered
    /// with an error.
    pub max_call: Duration,
    /// `Host` values accepted besides loopback ones.
    pub allowed_hosts: Vec<String>,
}

impl Default for WrapSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(300),
            max_children: 32,
            max_children_per_subject: 4,
            max_message_bytes: 4 * 1024 * 1024,
            init_timeout: Duration::from_secs(30),
            max_call: Duration::from_secs(300),
            allowed_hosts: Vec::new(),
        }
    }
}

/// The `/mcp` and `/health` routes fronting `command`, and the sessions to end at shutdown.
pub fn router(
    command: ChildCommand,
    policy: Arc<ToolPolicy>,
    verifier: Arc<IdentityVerifier>,
    settings: &WrapSettings,
) -> (Router, Arc<Sessions>) {
    let sessions = Sessions::new(
        command,
        Arc::new(gate::ToolGate::new(policy)),
        registry::RegistrySettings {
            max_children: settings.max_children.max(1),
            max_children_per_subject: settings.max_children_per_subject.max(1),
            idle: settings.idle.max(Duration::from_secs(1)),
            max_message_bytes: settings.max_message_bytes,
            limits: session::SessionLimits {
                stream_queue: 64,
                backlog: 256,
                backlog_bytes: settings.max_message_bytes.max(1024 * 1024) * 2,
                in_flight: 256,
                replay: 1024,
                replay_bytes: settings.max_message_bytes.max(1024 * 1024) * 2,
                max_call: settings.max_call.max(Duration::from_secs(1)),
            },
        },
    );
    let transport = transport::Transport {
        sessions: sessions.clone(),
        verifier,
        allowed_hosts: Arc::new(crate::http::allowed_hosts(&settings.allowed_hosts)),
        max_body_bytes: settings.max_message_bytes,
        init_timeout: settings.init_timeout,
    };
    (transport::routes(transport), sessions)
}
