//! Group tools: find groups, read one, list its members.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::args::{lenient_limit, limit, query, required, text};
use super::output::{ToolResult, field, join_parts, list_result, object_result, with_note};
use super::shape::{ExtraFields, FieldsArg, Kind, Shape};
use super::users::{USER, user_line};
use crate::okta::ApiPath;
use crate::server::OktaToolServer;

/// Pages we ask of `/groups` (Okta allows more; this keeps answers reasonable).
const GROUPS_PAGE: usize = 1000;
/// Largest page of `/groups/{id}/users` Okta serves.
const GROUP_USERS_PAGE: usize = 1000;
/// What the group listings answer per group.
pub(crate) const GROUP: Shape = Shape {
    what: "An Okta group",
    fields: &[
        ("id", Kind::Text),
        ("type", Kind::Text),
        ("profile.name", Kind::Text),
        ("profile.description", Kind::Text),
        ("created", Kind::Time),
        ("lastUpdated", Kind::Time),
        ("lastMembershipUpdated", Kind::Time),
    ],
};

const GROUP_ID_HINT: &str =
    "pass an Okta group id (e.g. 00g1a2b3c4D5e6F7g8h9); find it with list_okta_groups";

/// Arguments of `list_okta_groups`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ListGroupsArgs {
    /// Prefix search over group names (Okta `q`), e.g. `Engineering`.
    pub query: Option<String>,
    /// Okta search expression (Okta `search`), e.g. `profile.name sw "sso-"`,
    /// `type eq "OKTA_GROUP"`, `lastMembershipUpdated gt "2026-01-01T00:00:00.000Z"`.
    pub search: Option<String>,
    /// Okta `filter` expression, used only when `search` is empty, e.g.
    /// `type eq "APP_GROUP"` or `lastUpdated gt "2026-01-01T00:00:00.000Z"`.
    pub filter_type: Option<String>,
    /// Most groups to return, 1–1000 (default 50). `max_results` is accepted as well.
    #[serde(deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// Cursor from a previous call's `after`, to get the next page.
    pub after: Option<String>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// Arguments naming one group.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GroupArgs {
    /// Okta group id, e.g. `00g1a2b3c4D5e6F7g8h9`.
    #[schemars(required)]
    pub group_id: Option<String>,
}

/// Arguments of `list_okta_group_users`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct GroupUsersArgs {
    /// Okta group id, e.g. `00g1a2b3c4D5e6F7g8h9`.
    #[schemars(required)]
    pub group_id: Option<String>,
    /// Most members to return, 1–1000 (default 200). `max_results` is accepted as well.
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

/// One group as a list line: id, name, type, description.
pub(crate) fn group_line(group: &Value) -> String {
    join_parts([
        field(group, "id"),
        field(group, "profile.name"),
        field(group, "type").map(|t| format!("[{t}]")),
        field(group, "profile.description"),
    ])
}

#[tool_router(router = groups_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "list_okta_groups",
        description = "List or search Okta groups. Use `query` for a name prefix, `search` for \
                       Okta expressions (e.g. profile.name sw \"sso-\", type eq \"OKTA_GROUP\"), \
                       `filter_type` for simple filters. Returns up to `limit` groups and an \
                       `after` cursor when more exist.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_groups(
        &self,
        Parameters(args): Parameters<ListGroupsArgs>,
    ) -> ToolResult {
        let limit = limit(args.limit, 50, 1000)?;
        let search = text(&args.search);
        let mut q = query([
            ("q", text(&args.query)),
            ("search", search),
            ("after", text(&args.after)),
        ]);
        let filter_ignored = search.is_some() && text(&args.filter_type).is_some();
        if search.is_none() {
            q.extend(query([("filter", text(&args.filter_type))]));
        }
        let page = self
            .okta()
            .list(
                &ApiPath::new(["groups"])?,
                &q,
                limit,
                Some(GROUPS_PAGE),
                &GROUP.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        let result = list_result("groups", "groups", page, &GROUP, group_line, Map::new());
        Ok(if filter_ignored {
            with_note(
                result,
                "Note: filter_type was ignored because search is set; put that condition into \
                 search with `and`.",
            )
        } else {
            result
        })
    }

    #[tool(
        name = "get_okta_group",
        description = "Get one Okta group (name, description, type, dates) by group id.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn get_okta_group(
        &self,
        Parameters(args): Parameters<GroupArgs>,
    ) -> ToolResult {
        let group_id = required("group_id", &args.group_id, GROUP_ID_HINT)?;
        let group = self
            .okta()
            .get(&ApiPath::new(["groups", group_id])?, &[])
            .await?;
        let title = format!("Group {}", group_line(&group));
        Ok(object_result("group", title, group))
    }

    #[tool(
        name = "list_okta_group_users",
        description = "List the members of an Okta group by group id: up to `limit` users \
                       (default 200, max 1000) and an `after` cursor when more exist.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_group_users(
        &self,
        Parameters(args): Parameters<GroupUsersArgs>,
    ) -> ToolResult {
        let group_id = required("group_id", &args.group_id, GROUP_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        let q = query([("after", text(&args.after))]);
        let page = self
            .okta()
            .list(
                &ApiPath::new(["groups", group_id, "users"])?,
                &q,
                limit,
                Some(GROUP_USERS_PAGE),
                &USER.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        let mut extra = Map::new();
        extra.insert("group_id".into(), json!(group_id));
        Ok(list_result("users", "users", page, &USER, user_line, extra))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_line_shows_name_type_and_description() {
        let group = json!({"id": "00g1", "type": "OKTA_GROUP",
                           "profile": {"name": "sso-help-desk", "description": "Help desk"}});
        assert_eq!(
            group_line(&group),
            "00g1  sso-help-desk  [OKTA_GROUP]  Help desk"
        );
        assert_eq!(group_line(&json!({})), "(no fields)");
    }
}
