//! `unsuspend_okta_user`: `POST /api/v1/users/{id}/lifecycle/unsuspend`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::{LifecycleWrite, UserWriteArgs};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

const WRITE: LifecycleWrite = LifecycleWrite {
    tool: "unsuspend_okta_user",
    operation: "unsuspend",
    question: |user| format!("Unsuspend {user}? They can sign in again."),
    done: |login, was| format!("Unsuspended {login} (was {was}): they can sign in again."),
};

#[tool_router(router = unsuspend_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "unsuspend_okta_user",
        description = "Unsuspend a SUSPENDED Okta user (by id or login): they are ACTIVE again \
                       and can sign in. A person must confirm first: without elicitation the \
                       first call only returns a confirmation token to pass back as \
                       `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn unsuspend_okta_user(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<UserWriteArgs>,
    ) -> ToolResult {
        self.lifecycle_write(&context, &args, &WRITE).await
    }
}
