//! Policy tools: list policies of a type, their rules, and one rule.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::args::{lenient_limit, limit, one_of, query, required, text};
use super::output::{ToolResult, field, join_parts, list_result, object_result};
use super::shape::{ExtraFields, FieldsArg, Kind, Shape};
use crate::okta::ApiPath;
use crate::server::OktaToolServer;

/// Page size asked of `/policies`.
const POLICIES_PAGE: usize = 200;
/// Okta's `PolicyType` enum: the values `/policies` accepts in `type`.
const POLICY_TYPES: &[&str] = &[
    "OKTA_SIGN_ON",
    "PASSWORD",
    "MFA_ENROLL",
    "ACCESS_POLICY",
    "PROFILE_ENROLLMENT",
    "IDP_DISCOVERY",
    "POST_AUTH_SESSION",
    "ENTITY_RISK",
    "DEVICE_SIGNAL_COLLECTION",
    "SESSION_VIOLATION_DETECTION",
    "CLIENT_UPDATE",
    "IDENTITY_CLAIM_SOURCING",
];
const POLICY_ID_HINT: &str =
    "pass an Okta policy id (e.g. 00p1a2b3c4D5e6F7g8h9); find it with list_okta_policies";
const RULE_ID_HINT: &str =
    "pass a policy rule id (e.g. 0pr1a2b3c4D5e6F7g8h9); find it with list_okta_policy_rules";

/// Arguments of `list_okta_policies`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListPoliciesArgs {
    /// Policy type (required by Okta): `OKTA_SIGN_ON` (global session), `PASSWORD`,
    /// `MFA_ENROLL` (authenticator enrollment), `ACCESS_POLICY` (app sign-on),
    /// `PROFILE_ENROLLMENT`, `IDP_DISCOVERY`, `POST_AUTH_SESSION`, `ENTITY_RISK`,
    /// `DEVICE_SIGNAL_COLLECTION`, `SESSION_VIOLATION_DETECTION`, `CLIENT_UPDATE`,
    /// `IDENTITY_CLAIM_SOURCING`.
    #[schemars(required)]
    #[serde(rename = "type")]
    pub policy_type: Option<String>,
    /// `ACTIVE` or `INACTIVE`; default both.
    pub status: Option<String>,
    /// Most policies to return, 1–1000 (default 50). `max_results` is accepted as well.
    #[serde(default, deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// Cursor from a previous call's `after`, to get the next page.
    pub after: Option<String>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// Arguments of `list_okta_policy_rules`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListPolicyRulesArgs {
    /// Okta policy id, e.g. `00p1a2b3c4D5e6F7g8h9` (from list_okta_policies).
    #[schemars(required)]
    pub policy_id: Option<String>,
    /// Most rules to show, 1–1000 (default 200); Okta sends a policy's rules all at once, with
    /// no cursor. `max_results` is accepted as well.
    #[serde(default, deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// Arguments of `get_okta_policy_rule`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PolicyRuleArgs {
    /// Okta policy id, e.g. `00p1a2b3c4D5e6F7g8h9` (from list_okta_policies).
    #[schemars(required)]
    pub policy_id: Option<String>,
    /// Rule id within that policy, e.g. `0pr1a2b3c4D5e6F7g8h9` (from list_okta_policy_rules).
    #[schemars(required)]
    pub rule_id: Option<String>,
}

/// What the policy listings answer per policy or rule.
pub(crate) const POLICY: Shape = Shape {
    what: "An Okta policy or policy rule",
    fields: &[
        ("id", Kind::Text),
        ("name", Kind::Text),
        ("type", Kind::Text),
        ("status", Kind::Text),
        ("priority", Kind::Count),
        ("system", Kind::Flag),
        ("description", Kind::Text),
        ("created", Kind::Time),
        ("lastUpdated", Kind::Time),
    ],
};

/// A policy or rule as a list line: id, name, type, status, priority, system flag.
fn policy_line(policy: &Value) -> String {
    join_parts([
        field(policy, "id"),
        field(policy, "name"),
        field(policy, "type").map(|t| format!("[{t}]")),
        field(policy, "status"),
        field(policy, "priority").map(|p| format!("priority={p}")),
        field(policy, "system")
            .filter(|s| s == "true")
            .map(|_| "system".to_string()),
    ])
}

#[tool_router(router = policies_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "list_okta_policies",
        description = "List Okta policies of one `type` (OKTA_SIGN_ON, PASSWORD, MFA_ENROLL, \
                       ACCESS_POLICY, PROFILE_ENROLLMENT, …), optionally by `status`. Gives the \
                       policy ids that list_okta_policy_rules needs.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_policies(
        &self,
        Parameters(args): Parameters<ListPoliciesArgs>,
    ) -> ToolResult {
        let policy_type = required(
            "type",
            &args.policy_type,
            &format!("pass a policy type, one of {}", POLICY_TYPES.join(", ")),
        )?;
        let policy_type = one_of("type", Some(policy_type), POLICY_TYPES)?
            .unwrap_or_default()
            .to_string();
        let status = one_of("status", text(&args.status), &["ACTIVE", "INACTIVE"])?;
        let limit = limit(args.limit, 50, 1000)?;
        let mut q = vec![("type", policy_type.clone())];
        q.extend(query([("status", status), ("after", text(&args.after))]));
        let page = self
            .okta()
            .list(
                &ApiPath::new(["policies"])?,
                &q,
                limit,
                Some(POLICIES_PAGE),
                &POLICY.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        let mut extra = Map::new();
        extra.insert("type".into(), json!(policy_type));
        Ok(list_result(
            "policies",
            "policies",
            page,
            &POLICY,
            policy_line,
            extra,
        ))
    }

    #[tool(
        name = "list_okta_policy_rules",
        description = "List the rules of an Okta policy by policy id (find ids with \
                       list_okta_policies), in priority order. Okta sends them all at once (no \
                       cursor); up to `limit` are shown (default 200).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_policy_rules(
        &self,
        Parameters(args): Parameters<ListPolicyRulesArgs>,
    ) -> ToolResult {
        let policy_id = required("policy_id", &args.policy_id, POLICY_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        // listPolicyRules declares `limit` but no `after`: a page it cut could not be resumed,
        // so the rules are asked for all at once and cut here.
        let page = self
            .okta()
            .list(
                &ApiPath::new(["policies", policy_id, "rules"])?,
                &[],
                limit,
                None,
                &POLICY.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        let mut extra = Map::new();
        extra.insert("policy_id".into(), json!(policy_id));
        Ok(list_result(
            "rules",
            "rules",
            page,
            &POLICY,
            policy_line,
            extra,
        ))
    }

    #[tool(
        name = "get_okta_policy_rule",
        description = "Get one rule of an Okta policy (its conditions and actions) by policy id \
                       and rule id.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn get_okta_policy_rule(
        &self,
        Parameters(args): Parameters<PolicyRuleArgs>,
    ) -> ToolResult {
        let policy_id = required("policy_id", &args.policy_id, POLICY_ID_HINT)?;
        let rule_id = required("rule_id", &args.rule_id, RULE_ID_HINT)?;
        let rule = self
            .okta()
            .get(
                &ApiPath::new(["policies", policy_id, "rules", rule_id])?,
                &[],
            )
            .await?;
        let title = format!("Policy rule {}", policy_line(&rule));
        Ok(object_result("rule", title, rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_line_and_type_argument_name() {
        let policy = json!({"id": "00p1", "name": "Default Policy", "type": "PASSWORD",
                            "status": "ACTIVE", "priority": 1, "system": true});
        assert_eq!(
            policy_line(&policy),
            "00p1  Default Policy  [PASSWORD]  ACTIVE  priority=1  system"
        );
        let args: ListPoliciesArgs =
            serde_json::from_value(json!({"type": "password", "max_results": 5})).unwrap();
        assert_eq!(args.policy_type.as_deref(), Some("password"));
        assert_eq!(args.limit, Some(5));
    }
}
