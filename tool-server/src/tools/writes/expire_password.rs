//! `expire_okta_user_password`: `POST /api/v1/users/{id}/lifecycle/expire_password`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::{UserWriteArgs, WritePlan, done, user_id_arg, write_failed};
use crate::okta::{ApiPath, WriteMethod};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

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
        let user_id = user_id_arg(&args.user_id)?;
        let user = self.write_target_user(user_id).await?;
        let plan = WritePlan {
            tool: "expire_okta_user_password",
            target: user.id.clone(),
            arguments: json!({"user_id": user_id}),
            question: format!(
                "Expire the password of {}? They must choose a new one at their next sign-in.",
                user.describe()
            ),
            details: json!({"action": "expire_password", "user": user.json()}),
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
                &ApiPath::new(["users", &user.id, "lifecycle", "expire_password"])?,
                &[],
            )
            .await
            .map_err(|e| write_failed(e, "check the user's status with get_okta_user"))?;
        Ok(done(
            &plan,
            format!(
                "Expired the password of {} (was {}): they must choose a new one at their next \
                 sign-in.",
                user.login, user.status
            ),
            &written,
        ))
    }
}
