//! `remove_okta_user_from_group`: `DELETE /api/v1/groups/{groupId}/users/{userId}`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use serde_json::json;

use super::{MembershipArgs, WritePlan, done, write_failed};
use crate::okta::{ApiPath, WriteMethod};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

#[tool_router(router = remove_member_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "remove_okta_user_from_group",
        description = "Remove an Okta user (by id or login) from an Okta group (OKTA_GROUP type, \
                       by group id): they lose the apps and policies that came with it. A person \
                       must confirm first: without elicitation the first call only returns a \
                       confirmation token to pass back as `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn remove_okta_user_from_group(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<MembershipArgs>,
    ) -> ToolResult {
        let (arguments, group, user) = self.membership_targets(&args).await?;
        let plan = WritePlan {
            tool: "remove_okta_user_from_group",
            target: format!("{}/{}", group.id, user.id),
            arguments,
            question: format!(
                "Remove {} from the group {}? They lose the apps and policies that came with it.",
                user.describe(),
                group.describe()
            ),
            details: json!({
                "action": "remove_member", "group": group.json(), "user": user.json(),
            }),
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
                WriteMethod::Delete,
                &ApiPath::new(["groups", &group.id, "users", &user.id])?,
                &[],
            )
            .await
            .map_err(|e| write_failed(e, "list the user's groups with list_okta_user_groups"))?;
        Ok(done(
            &plan,
            format!("{} is not a member of {}.", user.login, group.describe()),
            &written,
        ))
    }
}
