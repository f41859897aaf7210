//! `expire_okta_user_password`: `POST /api/v1/users/{id}/lifecycle/expire_password`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::{LifecycleWrite, UserWriteArgs};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

const WRITE: LifecycleWrite = LifecycleWrite {
    tool: "expire_okta_user_password",
    operation: "expire_password",
    question: |user| {
        format!("Expire the password of {user}? They must choose a new one at their next sign-in.")
    },
    done: |login, was| {
        format!(
            "Expired the password of {login} (was {was}): they must choose a new one at their next \
         sign-in."
        )
    },
};

#[tool_router(router = expire_password_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "expire_okta_user_password",
        description = "Expire an Okta user's password (by id or login): their status becomes \
                       PASSWORD_EXPIRED and they must choose a new password at their next \
                       sign-in. A person must confirm first: without elicitation the first call \
                       only returns a confirmation token to pass back as `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn expire_okta_user_password(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<UserWriteArgs>,
    ) -> ToolResult {
        self.lifecycle_write(&context, &args, &WRITE).await
    }
}
