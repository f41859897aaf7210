//! Write tools: the few changes help-desk and security teams make daily, each confirmed by a
//! person before it runs.
//!
//! Every write tool first resolves its target at Okta (the user by id or login, the group, the
//! factor), so what a person confirms names the real user (login, id, current status). Then:
//! - a client that declared the `elicitation` capability (form mode) at `initialize`, in an MCP
//!   session, is asked through elicitation ("Suspend alice@example.com (00u…)?"), and the write
//!   runs only on *accept*; *decline* or *cancel* is a normal result saying nothing was done;
//! - any other client gets, as a normal (not error) result, what would happen and a one-time
//!   token (`confirm`); the same call with `confirmation` set to that token, within two
//!   minutes, runs the write.
//!
//! The write itself goes through [`OktaClient::write`](crate::okta::OktaClient::write), which
//! never repeats a write Okta may have processed. Each call leaves its target and how it was
//! confirmed in [`WriteAudit`] for the server's one audit line; arguments never reach a log.

mod add_member;
mod clear_sessions;
mod expire_password;
mod remove_member;
mod reset_factor;
mod suspend;
mod unsuspend;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{
    CallToolResult, ContentBlock, ElicitRequestParams, ElicitationAction, ElicitationSchema,
};
use rmcp::service::{ElicitationMode, RequestContext};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use super::args::required;
use super::output::{ToolFailure, ToolResult, field, okta_id, success};
use crate::confirm::{Binding, TOKEN_LIFETIME};
use crate::okta::{ApiPath, OktaError, WriteMethod, Written};
use crate::server::OktaToolServer;

/// The write tools, by their MCP names (a subset of [`super::TOOL_NAMES`]).
pub const WRITE_TOOL_NAMES: [&str; 7] = [
    "suspend_okta_user",
    "unsuspend_okta_user",
    "clear_okta_user_sessions",
    "reset_okta_user_factor",
    "add_okta_user_to_group",
    "remove_okta_user_from_group",
    "expire_okta_user_password",
];

/// Longest id or login accepted (Okta logins are at most 100 characters; ids are 20).
const MAX_ID_CHARS: usize = 256;
/// How long a person has to answer an elicitation.
const ELICITATION_TIMEOUT: Duration = Duration::from_secs(600);
const USER_ID_HINT: &str =
    "pass an Okta user id (e.g. 00u1a2b3c4D5e6F7g8h9) or a login (e.g. alice@example.com)";
const GROUP_ID_HINT: &str =
    "pass an Okta group id (e.g. 00g1a2b3c4D5e6F7g8h9); find it with list_okta_groups";
const FACTOR_ID_HINT: &str =
    "pass an Okta factor id (e.g. mfa1a2b3c4D5e6F7g8h9); find it with list_okta_user_factors";

/// What a write call leaves for the audit line: its target and how it was confirmed.
#[derive(Debug, Default)]
pub struct WriteAudit {
    target: Mutex<Option<String>>,
    confirmation: Mutex<Option<&'static str>>,
}

impl WriteAudit {
    /// The Okta id(s) the call acted on, e.g. `00u…` or `00g…/00u…`.
    pub fn target(&self) -> Option<String> {
        lock(&self.target).clone()
    }

    /// How the call was confirmed: `elicitation_accepted`, `elicitation_declined`,
    /// `elicitation_failed`, `token_issued`, `token`, `token_<why refused>`; `None` when the
    /// call never got that far.
    pub fn confirmation(&self) -> Option<&'static str> {
        *lock(&self.confirmation)
    }

    fn set_target(target: &str) {
        let _ = WRITE_AUDIT.try_with(|audit| *lock(&audit.target) = Some(target.to_owned()));
    }

    fn set_confirmation(how: &'static str) {
        let _ = WRITE_AUDIT.try_with(|audit| *lock(&audit.confirmation) = Some(how));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

tokio::task_local! {
    /// The audit facts of the write tool call running on this task, when the server set them.
    pub static WRITE_AUDIT: Arc<WriteAudit>;
}

/// Arguments of the write tools that act on one user.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UserWriteArgs {
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
    /// Leave out at first: the call then changes nothing and returns a token once a person
    /// must confirm. Pass that token here, with the same other arguments, to do it.
    pub confirmation: Option<String>,
}

/// Arguments of the group membership tools.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct MembershipArgs {
    /// Okta group id, e.g. `00g1a2b3c4D5e6F7g8h9` (find it with list_okta_groups).
    #[schemars(required)]
    pub group_id: Option<String>,
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
    /// Leave out at first: the call then changes nothing and returns a token once a person
    /// must confirm. Pass that token here, with the same other arguments, to do it.
    pub confirmation: Option<String>,
}

/// A user as a write tool found it at Okta.
#[derive(Debug, Clone)]
pub(crate) struct TargetUser {
    pub id: String,
    pub login: String,
    pub status: String,
}

impl TargetUser {
    /// `alice@example.com (00u…, ACTIVE)`, for the texts a person reads.
    pub fn describe(&self) -> String {
        format!("{} ({}, {})", self.login, self.id, self.status)
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "login": self.login, "status": self.status})
    }
}

/// A group as a write tool found it at Okta.
#[derive(Debug, Clone)]
pub(crate) struct TargetGroup {
    pub id: String,
    pub name: String,
    pub group_type: String,
}

impl TargetGroup {
    fn describe(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }

    fn json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "type": self.group_type})
    }
}

/// One write, as it will be confirmed and audited.
pub(crate) struct WritePlan {
    /// The tool's name.
    pub tool: &'static str,
    /// The Okta id(s) acted on, e.g. `00u…` or `00g…/00u…`.
    pub target: String,
    /// The arguments as parsed, without `confirmation` (what a token is bound to).
    pub arguments: Value,
    /// The question a person answers, e.g. "Suspend alice@example.com (00u…, ACTIVE)? …".
    pub question: String,
    /// What would happen, for the structured result.
    pub details: Value,
}

/// An id argument: present, trimmed, no control characters, not a dot segment, not too long.
pub(crate) fn id_arg<'a>(
    name: &str,
    value: &'a Option<String>,
    hint: &str,
) -> Result<&'a str, ToolFailure> {
    let id = required(name, value, hint)?;
    if id.chars().count() > MAX_ID_CHARS {
        return Err(ToolFailure::invalid(format!(
            "{name} is longer than {MAX_ID_CHARS} characters: {hint}"
        )));
    }
    Ok(id)
}

/// `user_id`, checked.
pub(crate) fn user_id_arg(value: &Option<String>) -> Result<&str, ToolFailure> {
    id_arg("user_id", value, USER_ID_HINT)
}

/// `group_id`, checked.
pub(crate) fn group_id_arg(value: &Option<String>) -> Result<&str, ToolFailure> {
    id_arg("group_id", value, GROUP_ID_HINT)
}

/// `factor_id`, checked.
pub(crate) fn factor_id_arg(value: &Option<String>) -> Result<&str, ToolFailure> {
    id_arg("factor_id", value, FACTOR_ID_HINT)
}

fn text_field(value: &Value, path: &str) -> String {
    field(value, path).unwrap_or_else(|| "(unknown)".to_owned())
}

impl OktaToolServer {
    /// The user named by `user_id` (id or login), as Okta has it now.
    pub(crate) async fn write_target_user(&self, user_id: &str) -> Result<TargetUser, ToolFailure> {
        let user = self
            .okta()
            .get(&ApiPath::new(["users", user_id])?, &[])
            .await?;
        Ok(TargetUser {
            id: okta_id(&user, "the user")?,
            login: text_field(&user, "profile.login"),
            status: text_field(&user, "status"),
        })
    }

    /// The group `group_id`, as Okta has it now.
    pub(crate) async fn write_target_group(
        &self,
        group_id: &str,
    ) -> Result<TargetGroup, ToolFailure> {
        let group = self
            .okta()
            .get(&ApiPath::new(["groups", group_id])?, &[])
            .await?;
        Ok(TargetGroup {
            id: okta_id(&group, "the group")?,
            name: text_field(&group, "profile.name"),
            group_type: text_field(&group, "type"),
        })
    }

    /// The checked arguments, the group and the user of a membership change. Only `OKTA_GROUP`
    /// memberships can be changed (app imports own `APP_GROUP`s, Okta owns `Everyone`): others
    /// are refused here, before anyone is asked to confirm what Okta would refuse.
    pub(crate) async fn membership_targets(
        &self,
        args: &MembershipArgs,
    ) -> Result<(Value, TargetGroup, TargetUser), ToolFailure> {
        let group_id = group_id_arg(&args.group_id)?;
        let user_id = user_id_arg(&args.user_id)?;
        let group = self.write_target_group(group_id).await?;
        if group.group_type != "OKTA_GROUP" {
            WriteAudit::set_target(&group.id);
            return Err(ToolFailure::invalid(format!(
                "the group {} is of type {}: only OKTA_GROUP memberships can be changed (app \
                 imports manage APP_GROUP memberships, Okta manages Everyone). Nothing was done.",
                group.describe(),
                group.group_type
            )));
        }
        let user = self.write_target_user(user_id).await?;
        let arguments = json!({"group_id": group_id, "user_id": user_id});
        Ok((arguments, group, user))
    }

    /// Asks for a person's confirmation of `plan`, or checks the one given. `Ok(None)`: go
    /// ahead. `Ok(Some(result))`: stop with that result (nothing was done).
    pub(crate) async fn confirm(
        &self,
        context: &RequestContext<RoleServer>,
        plan: &WritePlan,
        confirmation: Option<&str>,
    ) -> Result<Option<CallToolResult>, ToolFailure> {
        WriteAudit::set_target(&plan.target);
        let subject = self
            .identity(context)
            .map(|id| id.subject)
            .unwrap_or_default();
        let arguments = plan.arguments.to_string();
        let binding = Binding {
            subject: &subject,
            tool: plan.tool,
            target: &plan.target,
            arguments: &arguments,
        };
        let now = okta_mcp_common::identity::unix_millis();
        if let Some(token) = confirmation.map(str::trim).filter(|t| !t.is_empty()) {
            return match self.confirmations.redeem(token, &binding, now) {
                Ok(()) => {
                    WriteAudit::set_confirmation("token");
                    Ok(None)
                }
                Err(error) => {
                    WriteAudit::set_confirmation(match error.kind() {
                        "expired" => "token_expired",
                        "used" => "token_used",
                        "mismatch" => "token_mismatch",
                        _ => "token_malformed",
                    });
                    Err(ToolFailure::invalid(format!(
                        "confirmation: {error}. Nothing was done."
                    )))
                }
            };
        }
        if context
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
        {
            return Ok(self.elicit(context, plan).await);
        }
        let token = self.confirmations.issue(&binding, now);
        WriteAudit::set_confirmation("token_issued");
        Ok(Some(needs_confirmation(plan, token)))
    }

    async fn elicit(
        &self,
        context: &RequestContext<RoleServer>,
        plan: &WritePlan,
    ) -> Option<CallToolResult> {
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: plan.question.clone(),
            requested_schema: ElicitationSchema::builder().build_unchecked(),
        };
        let answer = context
            .peer
            .create_elicitation_with_timeout(params, Some(ELICITATION_TIMEOUT))
            .await;
        let action = match answer {
            Ok(answer) => answer.action,
            Err(error) => {
                WriteAudit::set_confirmation("elicitation_failed");
                tracing::warn!(
                    tool = plan.tool,
                    error = %okta_mcp_common::logging::escaped(&error.to_string()),
                    "could not ask for a confirmation"
                );
                let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
                    "Nothing was done: the confirmation could not be asked ({error})."
                ))]);
                result.structured_content = Some(json!({
                    "done": false, "error": "confirmation_failed", "tool": plan.tool,
                }));
                return Some(result);
            }
        };
        if action == ElicitationAction::Accept {
            WriteAudit::set_confirmation("elicitation_accepted");
            return None;
        }
        WriteAudit::set_confirmation("elicitation_declined");
        let answer = if action == ElicitationAction::Decline {
            "declined"
        } else {
            "cancelled"
        };
        Some(success(
            json!({"done": false, "confirmation": answer, "tool": plan.tool, "would": plan.details}),
            format!("Nothing was done: the user {answer}. ({})", plan.question),
        ))
    }
}

/// The first call's answer without elicitation: nothing done, what would be, and the token.
/// The one Okta call a confirmed write makes, and what to say about it.
pub(crate) struct OktaWrite<'a> {
    pub method: WriteMethod,
    pub path: ApiPath,
    pub query: &'a [(&'a str, String)],
    /// Where to look when the outcome is unknown (a 5xx, a timeout).
    pub look: &'a str,
    /// The result's text once Okta made the change.
    pub done: String,
}

impl OktaToolServer {
    /// Asks for a person's confirmation of `plan` (or checks the one given), then makes the
    /// write once: the tail every write tool shares.
    pub(crate) async fn confirm_then_write(
        &self,
        context: &RequestContext<RoleServer>,
        plan: &WritePlan,
        confirmation: Option<&str>,
        write: OktaWrite<'_>,
    ) -> ToolResult {
        if let Some(stop) = self.confirm(context, plan, confirmation).await? {
            return Ok(stop);
        }
        let written = self
            .okta()
            .write(write.method, &write.path, write.query)
            .await
            .map_err(|e| write_failed(e, write.look))?;
        Ok(done(plan, write.done, &written))
    }
}

/// One lifecycle operation on one user: `POST /api/v1/users/{id}/lifecycle/{operation}`
/// (suspend, unsuspend, expire_password share everything but these words).
pub(crate) struct LifecycleWrite {
    pub tool: &'static str,
    /// The path segment, also the `action` of the structured plan.
    pub operation: &'static str,
    /// The question a person answers, given the user's description.
    pub question: fn(&str) -> String,
    /// What was done, given the user's login and earlier status.
    pub done: fn(&str, &str) -> String,
}

impl OktaToolServer {
    /// Resolves the user, asks for confirmation, then runs `write` once.
    pub(crate) async fn lifecycle_write(
        &self,
        context: &RequestContext<RoleServer>,
        args: &UserWriteArgs,
        write: &LifecycleWrite,
    ) -> ToolResult {
        let user_id = user_id_arg(&args.user_id)?;
        let user = self.write_target_user(user_id).await?;
        let plan = WritePlan {
            tool: write.tool,
            target: user.id.clone(),
            arguments: json!({"user_id": user_id}),
            question: (write.question)(&user.describe()),
            details: json!({"action": write.operation, "user": user.json()}),
        };
        let call = OktaWrite {
            method: WriteMethod::Post,
            path: ApiPath::new(["users", &user.id, "lifecycle", write.operation])?,
            query: &[],
            look: "check the user's status with get_okta_user",
            done: (write.done)(&user.login, &user.status),
        };
        self.confirm_then_write(context, &plan, args.confirmation.as_deref(), call)
            .await
    }
}

/// One group membership change: `PUT` (add) or `DELETE` (remove)
/// `/api/v1/groups/{groupId}/users/{userId}`.
pub(crate) struct MembershipWrite {
    pub tool: &'static str,
    pub method: WriteMethod,
    /// The `action` of the structured plan.
    pub action: &'static str,
    /// The question a person answers, given the user's and the group's descriptions.
    pub question: fn(&str, &str) -> String,
    /// What was done, given the user's login and the group's description.
    pub done: fn(&str, &str) -> String,
}

impl OktaToolServer {
    /// Resolves the user and the group, asks for confirmation, then runs `write` once.
    pub(crate) async fn membership_write(
        &self,
        context: &RequestContext<RoleServer>,
        args: &MembershipArgs,
        write: &MembershipWrite,
    ) -> ToolResult {
        let (arguments, group, user) = self.membership_targets(args).await?;
        let plan = WritePlan {
            tool: write.tool,
            target: format!("{}/{}", group.id, user.id),
            arguments,
            question: (write.question)(&user.describe(), &group.describe()),
            details: json!({"action": write.action, "group": group.json(), "user": user.json()}),
        };
        let call = OktaWrite {
            method: write.method,
            path: ApiPath::new(["groups", &group.id, "users", &user.id])?,
            query: &[],
            look: "list the user's groups with list_okta_user_groups",
            done: (write.done)(&user.login, &group.describe()),
        };
        self.confirm_then_write(context, &plan, args.confirmation.as_deref(), call)
            .await
    }
}

fn needs_confirmation(plan: &WritePlan, token: String) -> CallToolResult {
    let seconds = TOKEN_LIFETIME.as_secs();
    success(
        json!({
            "done": false,
            "confirmation_required": true,
            "tool": plan.tool,
            "question": plan.question,
            "would": plan.details,
            "confirmation": token,
            "expires_in_seconds": seconds,
        }),
        format!(
            "Nothing was done yet. {} Ask the user; only if they say yes, call {} again with the \
             same arguments and confirmation=\"{token}\" (good once, for {seconds} seconds).",
            plan.question, plan.tool
        ),
    )
}

/// The answer after Okta made the change.
fn done(plan: &WritePlan, text: String, written: &Written) -> CallToolResult {
    let mut structured = json!({
        "done": true,
        "tool": plan.tool,
        "result": plan.details,
        "okta_request_id": written.request_id,
    });
    if let Some(body) = written
        .body
        .as_ref()
        .filter(|b| b.as_object().is_some_and(|o| !o.is_empty()))
    {
        structured["okta"] = body.clone();
    }
    success(structured, text)
}

/// A failed write as a tool result. A 5xx, a timeout or a lost connection may have come after
/// Okta made the change, so that result says to look before trying again.
fn write_failed(error: OktaError, look: &str) -> ToolFailure {
    let uncertain = match &error {
        OktaError::Api { status, .. } => *status >= 500,
        OktaError::Timeout { .. } | OktaError::Transport(_) => true,
        _ => false,
    };
    if !uncertain {
        return error.into();
    }
    ToolFailure::Okta(OktaError::Uncertain {
        cause: Box::new(error),
        look: look.to_owned(),
    })
}

#[cfg(test)]
mod tests;
