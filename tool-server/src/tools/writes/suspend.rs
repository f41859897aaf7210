//! `suspend_okta_user`: `POST /api/v1/users/{id}/lifecycle/suspend`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::{UserWriteArgs, WritePlan, done, user_id_arg, write_failed};
use crate::okta::{ApiPath, WriteMethod};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

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
        let user_id = user_id_arg(&args.user_id)?;
        let user = self.write_target_user(user_id).await?;
        let plan = WritePlan {
            tool: "suspend_okta_user",
            target: user.id.clone(),
            arguments: json!({"user_id": user_id}),
            question: format!(
                "Suspend {}? They can no longer sign in until they are unsuspended.",
                user.describe()
            ),
            details: json!({"action": "suspend", "user": user.json()}),
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
                &ApiPath::new(["users", &user.id, "lifecycle", "suspend"])?,
                &[],
            )
            .await
            .map_err(|e| write_failed(e, "check the user's status with get_okta_user"))?;
        Ok(done(
            &plan,
            format!("Suspended {} (was {}).", user.login, user.status),
            &written,
        ))
    }
}
