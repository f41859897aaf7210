//! `unsuspend_okta_user`: `POST /api/v1/users/{id}/lifecycle/unsuspend`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::{UserWriteArgs, WritePlan, done, user_id_arg, write_failed};
use crate::okta::{ApiPath, WriteMethod};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

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
        let user_id = user_id_arg(&args.user_id)?;
        let user = self.write_target_user(user_id).await?;
        let plan = WritePlan {
            tool: "unsuspend_okta_user",
            target: user.id.clone(),
            arguments: json!({"user_id": user_id}),
            question: format!("Unsuspend {}? They can sign in again.", user.describe()),
            details: json!({"action": "unsuspend", "user": user.json()}),
        };
        if let Some(stop) = self
            .confirm(&context, &plan, args.confirmation.as_deref())
            .await?
        {
            return Ok(stop);
        }
        let written = self
            .okta()
            .write(
                WriteMethod::Post,
                &ApiPath::new(["users", &user.id, "lifecycle", "unsuspend"])?,
                &[],
            )
            .await
            .map_err(|e| write_failed(e, "check the user's status with get_okta_user"))?;
        Ok(done(
            &plan,
            format!(
                "Unsuspended {} (was {}): they can sign in again.",
                user.login, user.status
            ),
            &written,
        ))
    }
}
