//! The MCP handler: the Okta tools, filtered by the caller's role.
//!
//! The role comes with every request (the verified identity headers over HTTP, or the fixed
//! `--role` over stdio), never from session state, so a session cannot outlive a role change.
//! `tools/list` and `tools/call` ask the same [`ToolPolicy::allows`], and a refused call gets
//! the very answer an unknown tool gets, so a role cannot learn which tools exist.

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

use crate::identity::Identity;
use crate::okta::{CALL_STATS, CallStats, OktaClient};
use crate::policy::ToolPolicy;
use crate::tools::okta_tool_router;

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
}

impl OktaToolServer {
    /// A handler over `okta`, enforcing `policy` for `caller`.
    pub fn new(okta: Arc<OktaClient>, policy: Arc<ToolPolicy>, caller: Caller) -> Self {
        Self {
            okta,
            router: Arc::new(okta_tool_router()),
            policy,
            caller,
        }
    }

    /// The Okta client the tools call.
    pub fn okta(&self) -> &OktaClient {
        &self.okta
    }

    fn identity(&self, context: &RequestContext<RoleServer>) -> Option<Identity> {
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
                 parse_relative_time to build `since`/`until` for get_okta_event_logs."
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
        if !self.visible(identity.as_ref(), &tool) {
            tracing::info!(
                target: "audit",
                subject, role, email = %escaped(email), tool = %escaped(&tool), decision = "deny",
                duration_ms = 0u64, okta_status = 0u16, okta_calls = 0u32,
                "tools/call refused"
            );
            return Err(unknown_tool(&tool));
        }
        let stats = Arc::new(CallStats::default());
        let call = self
            .router
            .call(ToolCallContext::new(self, request, context));
        let result = CALL_STATS.scope(stats.clone(), call).await;
        let outcome = match &result {
            Ok(CallToolResponse::Complete(r)) if r.is_error == Some(true) => "tool_error",
            Ok(_) => "ok",
            Err(_) => "protocol_error",
        };
        tracing::info!(
            target: "audit",
            subject, role, email = %escaped(email), tool = %escaped(&tool), decision = "allow", outcome,
            duration_ms = started.elapsed().as_millis() as u64,
            okta_status = stats.last_status.load(Ordering::Relaxed),
            okta_calls = stats.calls.load(Ordering::Relaxed),
            "tools/call"
        );
        result
    }
}
