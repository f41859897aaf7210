//! `reset_okta_user_factor`: `DELETE /api/v1/users/{userId}/factors/{factorId}`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{OktaWrite, WritePlan, factor_id_arg, text_field, user_id_arg};
use crate::okta::{ApiPath, WriteMethod};
use crate::server::OktaToolServer;
use crate::tools::output::ToolResult;

/// Arguments of `reset_okta_user_factor`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ResetFactorArgs {
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
    /// The factor's id (e.g. `mfa1a2b3c4D5e6F7g8h9`), from list_okta_user_factors.
    #[schemars(required)]
    pub factor_id: Option<String>,
    /// Leave out at first: the call then changes nothing and returns a token once a person
    /// must confirm. Pass that token here, with the same other arguments, to do it.
    pub confirmation: Option<String>,
}

#[tool_router(router = reset_factor_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "reset_okta_user_factor",
        description = "Reset (unenroll) one MFA factor of an Okta user, by user id or login and \
                       factor id (from list_okta_user_factors): the user must enroll it again. \
                       A person must confirm first: without elicitation the first call only \
                       returns a confirmation token to pass back as `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn reset_okta_user_factor(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<ResetFactorArgs>,
    ) -> ToolResult {
        let user_id = user_id_arg(&args.user_id)?;
        let factor_id = factor_id_arg(&args.factor_id)?;
        let user = self.write_target_user(user_id).await?;
        let factor = self
            .okta()
            .get(
                &ApiPath::new(["users", &user.id, "factors", factor_id])?,
                &[],
            )
            .await?;
        let factor_type = text_field(&factor, "factorType");
        let provider = text_field(&factor, "provider");
        let factor_status = text_field(&factor, "status");
        let plan = WritePlan {
            tool: "reset_okta_user_factor",
            target: format!("{}/{factor_id}", user.id),
            arguments: json!({"user_id": user_id, "factor_id": factor_id}),
            question: format!(
                "Reset the {factor_type} factor ({provider}, {factor_id}, {factor_status}) of {}? \
                 They must enroll it again.",
                user.describe()
            ),
            details: json!({
                "action": "reset_factor",
                "user": user.json(),
                "factor": {"id": factor_id, "factorType": factor_type, "provider": provider,
                           "status": factor_status},
            }),
        };
        let call = OktaWrite {
            method: WriteMethod::Delete,
            path: ApiPath::new(["users", &user.id, "factors", factor_id])?,
            query: &[],
            look: "list the user's factors with list_okta_user_factors",
            done: format!(
                "Reset the {factor_type} factor {factor_id} of {}: they must enroll it again.",
                user.login
            ),
        };
        self.confirm_then_write(&context, &plan, args.confirmation.as_deref(), call)
            .await
    }
}
