//! `clear_okta_user_sessions`: `DELETE /api/v1/users/{userId}/sessions`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::{OktaWrite, WritePlan, user_id_arg};
use crate::okta::{ApiPath, WriteMethod};
use crate::server::OktaToolServer;
use crate::tools::args::lenient_bool;
use crate::tools::output::ToolResult;

/// Arguments of `clear_okta_user_sessions`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ClearSessionsArgs {
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
    /// Also revoke the OpenID Connect and OAuth access and refresh tokens Okta issued to the
    /// user (Okta `oauthTokens`). Default false.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub oauth_tokens: Option<bool>,
    /// Also make every device of the user forget its remembered factors, so the next sign-in
    /// asks for MFA again (Okta `forgetDevices`). Default true, as Okta's own default on
    /// Identity Engine orgs; sent explicitly, so Classic Engine orgs get the same.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub forget_devices: Option<bool>,
    /// Leave out at first: the call then changes nothing and returns a token once a person
    /// must confirm. Pass that token here, with the same other arguments, to do it.
    pub confirmation: Option<String>,
}

#[tool_router(router = clear_sessions_tool, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "clear_okta_user_sessions",
        description = "Sign an Okta user out everywhere (by id or login): clears all their Okta \
                       sessions and, unless forget_devices=false, the factors their devices \
                       remember; with oauth_tokens=true also revokes the OAuth/OIDC tokens Okta \
                       issued to them. A person must confirm first: without elicitation \
                       the first call only returns a confirmation token to pass back as \
                       `confirmation`.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    pub(crate) async fn clear_okta_user_sessions(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<ClearSessionsArgs>,
    ) -> ToolResult {
        let user_id = user_id_arg(&args.user_id)?;
        let oauth_tokens = args.oauth_tokens.unwrap_or(false);
        let forget_devices = args.forget_devices.unwrap_or(true);
        let user = self.write_target_user(user_id).await?;
        let tokens = if oauth_tokens {
            " and revokes the OAuth and OpenID Connect tokens Okta issued to them"
        } else {
            ""
        };
        let devices = if forget_devices {
            "; their devices forget remembered factors, so their next sign-in asks for MFA"
        } else {
            "; their devices keep remembered factors"
        };
        let plan = WritePlan {
            tool: "clear_okta_user_sessions",
            target: user.id.clone(),
            arguments: json!({
                "user_id": user_id, "oauth_tokens": oauth_tokens, "forget_devices": forget_devices,
            }),
            question: format!(
                "Clear all sessions of {}? This signs them out everywhere{tokens}{devices}.",
                user.describe()
            ),
            details: json!({
                "action": "clear_sessions", "user": user.json(), "oauth_tokens": oauth_tokens,
                "forget_devices": forget_devices,
            }),
        };
        let revoked = if oauth_tokens {
            " and revoked the OAuth and OpenID Connect tokens Okta issued to them"
        } else {
            ""
        };
        let call = OktaWrite {
            method: WriteMethod::Delete,
            path: ApiPath::new(["users", &user.id, "sessions"])?,
            query: &[
                ("oauthTokens", oauth_tokens.to_string()),
                ("forgetDevices", forget_devices.to_string()),
            ],
            look: "look at the user's user.session.clear events with get_okta_event_logs",
            done: format!(
                "Cleared all sessions of {}{revoked}: they must sign in again.",
                user.login
            ),
        };
        self.confirm_then_write(&context, &plan, args.confirmation.as_deref(), call)
            .await
    }
}
