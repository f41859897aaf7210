//! `suspend_okta_user`: `POST /api/v1/users/{id}/lifecycle/suspend`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::{LifecycleWrite, UserWriteArgs};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

const WRITE: LifecycleWrite = LifecycleWrite {
    tool: "suspend_okta_user",
    operation: "suspend",
    question: |user| {
        format!("Suspend {user}? They can no longer sign in until they are unsuspended.")
    },
    done: |login, was| format!("Suspended {login} (was {was})."),
};

#[tool_router(router = suspend_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "suspend_okta_user",
        description = "Suspend an ACTIVE Okta user (by id or login): they can no longer sign in \
                       until unsuspended; groups and apps stay assigned. A person must confirm \
                       first: without elicitation the first call only returns a confirmation \
                       token to pass back as `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn suspend_okta_user(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<UserWriteArgs>,
    ) -> ToolResult {
        self.lifecycle_write(&context, &args, &WRITE).await
    }
}
