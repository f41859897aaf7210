//! `add_okta_user_to_group`: `PUT /api/v1/groups/{groupId}/users/{userId}`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};

use super::{MembershipArgs, MembershipWrite};
use crate::okta::WriteMethod;
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

const WRITE: MembershipWrite = MembershipWrite {
    tool: "add_okta_user_to_group",
    method: WriteMethod::Put,
    action: "add_member",
    question: |user, group| {
        format!(
            "Add {user} to the group {group}? They get the apps and policies that come with it."
        )
    },
    done: |login, group| format!("{login} is a member of {group}."),
};

#[tool_router(router = add_member_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "add_okta_user_to_group",
        description = "Add an Okta user (by id or login) to an Okta group (OKTA_GROUP type, by \
                       group id): they get the apps and policies that come with it. A person \
                       must confirm first: without elicitation the first call only returns a \
                       confirmation token to pass back as `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn add_okta_user_to_group(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<MembershipArgs>,
    ) -> ToolResult {
        self.membership_write(&context, &args, &WRITE).await
    }
}
