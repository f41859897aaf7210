//! The MCP handler: the Okta tools, filtered by the caller's role.
//!
//! The role comes with every request (the verified identity headers over HTTP, or the fixed
//! `--role` over stdio), never from session state, so a session cannot outlive a role change.
//! `tools/list` and `tools/call` ask the same [`ToolPolicy::allows`], and a refused call gets
//! the very answer an unknown tool gets, so a role cannot learn which tools exist.
//!
//! Every `tools/call` writes one audit line (target `audit`): who (subject, role, email), what
//! (tool, and for a write tool its target's Okta ids), the decision, how a write was confirmed,
//! the outcome, and Okta's last status and request id. Never the arguments.

use okta_mcp_common::logging::escaped;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use tracing::Instrument;

use crate::confirm::Confirmations;
use crate::identity::Identity;
use crate::metrics::METRICS;
use crate::okta::{CALL_STATS, CallStats, OktaClient};
use crate::policy::ToolPolicy;
use crate::tools::{WRITE_AUDIT, WriteAudit, is_write, okta_tool_router};
use crate::traces::{self, RequestSpan};

/// Where the caller's identity comes from.
#[derive(Clone, Debug)]
pub enum Caller {
    /// Over HTTP: the identity the `http` layer verified and attached to the request.
    FromHeaders,
    /// Over stdio: one local user with a fixed role.
    Fixed(Identity),
}

/// The MCP server: every tool, shown and run only as the policy allows (over HTTP, a clone of it
/// serves each request).
#[derive(Clone)]
pub struct OktaToolServer {
    pub(crate) okta: Arc<OktaClient>,
    /// Shared by every clone of the handler.
    pub(crate) router: Arc<ToolRouter<OktaToolServer>>,
    policy: Arc<ToolPolicy>,
    caller: Caller,
    /// Issues and redeems the write tools' confirmation tokens.
    pub(crate) confirmations: Arc<Confirmations>,
}

impl OktaToolServer {
    /// A handler over `okta`, enforcing `policy` for `caller`.
    pub fn new(okta: Arc<OktaClient>, policy: Arc<ToolPolicy>, caller: Caller) -> Self {
        Self {
            okta,
            router: Arc::new(okta_tool_router()),
            policy,
            caller,
            confirmations: Arc::new(Confirmations::random()),
        }
    }

    /// The same server with `confirmations` (e.g. keyed from the identity-header key, so that
    /// every replica accepts the others' tokens).
    pub fn with_confirmations(mut self, confirmations: Arc<Confirmations>) -> Self {
        self.confirmations = confirmations;
        self
    }

    /// The Okta client the tools call.
    pub fn okta(&self) -> &OktaClient {
        &self.okta
    }

    /// The caller of a request: its verified identity headers, or the fixed stdio user.
    pub(crate) fn identity(&self, context: &RequestContext<RoleServer>) -> Option<Identity> {
        match &self.caller {
            Caller::Fixed(identity) => Some(identity.clone()),
            Caller::FromHeaders => context
                .extensions
                .get::<http::request::Parts>()
                .and_then(|parts| parts.extensions.get::<Identity>())
                .cloned(),
        }
    }

    fn visible(&self, identity: Option<&Identity>, tool: &str) -> bool {
        identity.is_some_and(|id| self.policy.allows(&id.role, tool)) && self.router.has_route(tool)
    }
}

/// The span of the HTTP request `context` belongs to, when traces are on.
fn request_span(context: &RequestContext<RoleServer>) -> Option<RequestSpan> {
    context
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<RequestSpan>())
        .cloned()
}

/// The one answer for a tool that does not exist and a tool the role may not use.
fn unknown_tool(name: &str) -> ErrorData {
    ErrorData::invalid_params(format!("Unknown tool: {name}"), None)
}

impl ServerHandler for OktaToolServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "okta-mcp-tool-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "Okta administration tools. Lists return an `after` cursor when more pages \
                 exist: pass it back as `after` to continue. Use get_current_time or \
                 parse_relative_time to build `since`/`until` for get_okta_event_logs. Write \
                 tools (suspend, unsuspend, clear sessions, reset a factor, group membership, \
                 expire a password) change nothing until a person confirms: never pass a \
                 `confirmation` token the user has not approved."
                    .to_string(),
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let identity = self.identity(&context);
        let tools: Vec<Tool> = self
            .router
            .list_all()
            .into_iter()
            .filter(|tool| self.visible(identity.as_ref(), &tool.name))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    fn get_tool(&self, _name: &str) -> Option<Tool> {
        // Without a request there is no role to check, so nothing is revealed here.
        None
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        let identity = self.identity(&context);
        let tool = request.name.to_string();
        let (subject, role, email) = identity.as_ref().map_or(("", "", ""), |id| {
            (id.subject.as_str(), id.role.as_str(), id.email.as_str())
        });
        let write = is_write(&tool);
        if !self.visible(identity.as_ref(), &tool) {
            tracing::info!(
                target: "audit",
                subject, role, email = %escaped(email), tool = %escaped(&tool), decision = "deny",
                write, duration_ms = 0u64, okta_status = 0u16, okta_calls = 0u32,
                "tools/call refused"
            );
            METRICS.denied(&tool, self.policy.role_label(role));
            return Err(unknown_tool(&tool));
        }
        let stats = Arc::new(CallStats::default());
        let audit = Arc::new(WriteAudit::default());
        let span = traces::tool_call(request_span(&context).as_ref(), &METRICS.tool_label(&tool));
        let call = self
            .router
            .call(ToolCallContext::new(self, request, context));
        let result = WRITE_AUDIT
            .scope(audit.clone(), CALL_STATS.scope(stats.clone(), call))
            .instrument(span.clone())
            .await;
        let outcome = match &result {
            // A write that stopped for a confirmation (or was declined) did nothing, and says so.
            Ok(CallToolResponse::Complete(r)) if write && r.is_error != Some(true) => {
                if r.structured_content.as_ref().and_then(|s| s.get("done"))
                    == Some(&serde_json::Value::Bool(true))
                {
                    "ok"
                } else {
                    "not_done"
                }
            }
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => "tool_error",
            Ok(_) => "ok",
            Err(_) => "protocol_error",
        };
        METRICS.tool_call(&tool, self.policy.role_label(role), outcome);
        span.record("mcp.tool.outcome", outcome);
        let target = audit.target();
        let confirmation = audit.confirmation().unwrap_or("none");
        let request_id = stats.request_id();
        tracing::info!(
            target: "audit",
            subject, role, email = %escaped(email), tool = %escaped(&tool), decision = "allow",
            write, target_id = %escaped(target.as_deref().unwrap_or("")),
            confirmation, outcome,
            duration_ms = started.elapsed().as_millis() as u64,
            okta_status = stats.last_status.load(Ordering::Relaxed),
            okta_calls = stats.calls.load(Ordering::Relaxed),
            okta_request_id = request_id.as_deref().unwrap_or(""),
            "tools/call"
        );
        result
    }
}
