//! `remove_okta_user_from_group`: `DELETE /api/v1/groups/{groupId}/users/{userId}`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::{MembershipArgs, MembershipWrite};
use crate::okta::WriteMethod;
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

const WRITE: MembershipWrite = MembershipWrite {
    tool: "remove_okta_user_from_group",
    method: WriteMethod::Delete,
    action: "remove_member",
    question: |user, group| {
        format!(
            "Remove {user} from the group {group}? They lose the apps and policies that came with \
         it."
        )
    },
    done: |login, group| format!("{login} is not a member of {group}."),
};

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
        self.membership_write(&context, &args, &WRITE).await
    }
}
