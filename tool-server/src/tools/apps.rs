//! Application tools: find apps, read one, and who is assigned (users, groups).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::args::{lenient_limit, limit, query, required, text};
use super::output::{ToolResult, field, join_parts, list_result, object_result, strip_links};
use super::shape::{ExtraFields, FieldsArg, Kind, Shape};
use crate::okta::ApiPath;
use crate::server::OktaToolServer;

/// Largest page of `/apps` Okta serves.
const APPS_PAGE: usize = 200;
/// Largest page of `/apps/{id}/users` Okta serves.
const APP_USERS_PAGE: usize = 500;
/// Largest page of `/apps/{id}/groups` Okta serves.
const APP_GROUPS_PAGE: usize = 200;
/// What `list_okta_applications` answers per app.
pub(crate) const APP: Shape = Shape {
    what: "An Okta application",
    fields: &[
        ("id", Kind::Text),
        ("name", Kind::Text),
        ("label", Kind::Text),
        ("status", Kind::Text),
        ("signOnMode", Kind::Text),
        ("created", Kind::Time),
        ("lastUpdated", Kind::Time),
    ],
};

/// What `list_okta_application_users` answers per assignment.
pub(crate) const APP_USER: Shape = Shape {
    what: "A user's assignment to the application (id is the user's id)",
    fields: &[
        ("id", Kind::Text),
        ("scope", Kind::Text),
        ("status", Kind::Text),
        ("syncState", Kind::Text),
        ("credentials.userName", Kind::Text),
        ("created", Kind::Time),
        ("lastUpdated", Kind::Time),
        ("statusChanged", Kind::Time),
    ],
};

/// What `list_okta_application_groups` answers per assignment.
pub(crate) const APP_GROUP: Shape = Shape {
    what: "A group's assignment to the application (id is the group's id)",
    fields: &[
        ("id", Kind::Text),
        ("groupName", Kind::Text),
        ("priority", Kind::Count),
        ("lastUpdated", Kind::Time),
    ],
};

const APP_ID_HINT: &str =
    "pass an Okta application id (e.g. 0oa1a2b3c4D5e6F7g8h9); find it with list_okta_applications";

/// Arguments of `list_okta_applications`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ListApplicationsArgs {
    /// Prefix search over app names and labels (Okta `q`), e.g. `Salesforce`.
    pub query: Option<String>,
    /// Same as `query` (kept for compatibility: `/apps` has no SCIM search); used when
    /// `query` is empty.
    pub search: Option<String>,
    /// Okta `filter` expression, e.g. `status eq "ACTIVE"`, `name eq "okta_org2org"`,
    /// `user.id eq "00u1a2b3c4D5e6F7g8h9"`, `group.id eq "00g1a2b3c4D5e6F7g8h9"`.
    pub filter_type: Option<String>,
    /// Most applications to return, 1–1000 (default 50). `max_results` is accepted as well.
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

/// Arguments naming one application.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ApplicationArgs {
    /// Okta application id, e.g. `0oa1a2b3c4D5e6F7g8h9`.
    #[schemars(required)]
    pub app_id: Option<String>,
}

/// Arguments listing an application's assignments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ApplicationAssignmentsArgs {
    /// Okta application id, e.g. `0oa1a2b3c4D5e6F7g8h9`.
    #[schemars(required)]
    pub app_id: Option<String>,
    /// Most assignments to return, 1–1000 (default 200). `max_results` is accepted as well.
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

fn app_line(app: &Value) -> String {
    let kind = [field(app, "name"), field(app, "signOnMode")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    join_parts([
        field(app, "id"),
        field(app, "label"),
        (!kind.is_empty()).then(|| format!("[{kind}]")),
        field(app, "status"),
    ])
}

fn app_user_line(assignment: &Value) -> String {
    join_parts([
        field(assignment, "id"),
        field(assignment, "credentials.userName"),
        field(assignment, "status"),
        field(assignment, "scope").map(|s| format!("scope={s}")),
        field(assignment, "syncState").map(|s| format!("sync={s}")),
    ])
}

fn app_group_line(assignment: &Value) -> String {
    join_parts([
        field(assignment, "id"),
        field(assignment, "groupName"),
        field(assignment, "priority").map(|p| format!("priority={p}")),
    ])
}

/// Copies the group's name from `_embedded.group` (asked for with `expand=group`) to
/// `groupName`, before `_embedded` is stripped: an assignment is only a group id otherwise.
fn lift_group_name(assignment: &mut Value) {
    let name = field(assignment, "_embedded.group.profile.name");
    if let (Some(name), Some(map)) = (name, assignment.as_object_mut()) {
        map.insert("groupName".into(), json!(name));
    }
}

fn app_key(id: &str) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("app_id".into(), json!(id));
    extra
}

#[tool_router(router = apps_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "list_okta_applications",
        description = "List or search Okta applications. Use `query` for a name/label prefix and \
                       `filter_type` for Okta filters (e.g. status eq \"ACTIVE\", \
                       user.id eq \"00u…\", group.id eq \"00g…\"). Returns up to `limit` apps and \
                       an `after` cursor when more exist.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_applications(
        &self,
        Parameters(args): Parameters<ListApplicationsArgs>,
    ) -> ToolResult {
        let limit = limit(args.limit, 50, 1000)?;
        let q = query([
            ("q", text(&args.query).or(text(&args.search))),
            ("filter", text(&args.filter_type)),
            ("after", text(&args.after)),
        ]);
        let page = self
            .okta()
            .list(
                &ApiPath::new(["apps"])?,
                &q,
                limit,
                Some(APPS_PAGE),
                &APP.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        Ok(list_result(
            "applications",
            "applications",
            page,
            &APP,
            app_line,
            Map::new(),
        ))
    }

    #[tool(
        name = "get_okta_application",
        description = "Get one Okta application (label, sign-on mode, status, settings) by \
                       application id.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn get_okta_application(
        &self,
        Parameters(args): Parameters<ApplicationArgs>,
    ) -> ToolResult {
        let app_id = required("app_id", &args.app_id, APP_ID_HINT)?;
        let app = self
            .okta()
            .get(&ApiPath::new(["apps", app_id])?, &[])
            .await?;
        let title = format!("Application {}", app_line(&app));
        Ok(object_result("application", title, app))
    }

    #[tool(
        name = "list_okta_application_users",
        description = "List the users assigned to an Okta application by application id: up to \
                       `limit` assignments (default 200, max 1000) and an `after` cursor when \
                       more exist.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_application_users(
        &self,
        Parameters(args): Parameters<ApplicationAssignmentsArgs>,
    ) -> ToolResult {
        let app_id = required("app_id", &args.app_id, APP_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        let q = query([("after", text(&args.after))]);
        let page = self
            .okta()
            .list(
                &ApiPath::new(["apps", app_id, "users"])?,
                &q,
                limit,
                Some(APP_USERS_PAGE),
                &APP_USER.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        Ok(list_result(
            "users",
            "assigned users",
            page,
            &APP_USER,
            app_user_line,
            app_key(app_id),
        ))
    }

    #[tool(
        name = "list_okta_application_groups",
        description = "List the groups assigned to an Okta application by application id, with \
                       group names: up to `limit` assignments (default 200, max 1000) and an \
                       `after` cursor when more exist. Okta's smallest page of assignments is \
                       20, so a `limit` below 20 gets no cursor.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_application_groups(
        &self,
        Parameters(args): Parameters<ApplicationAssignmentsArgs>,
    ) -> ToolResult {
        let app_id = required("app_id", &args.app_id, APP_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        let mut q = query([("after", text(&args.after))]);
        q.push(("expand", "group".into()));
        let mut fields = APP_GROUP.projection(&ExtraFields::from_arg(&args.fields)?);
        fields.add("_embedded.group.profile.name");
        let mut page = self
            .okta()
            .list(
                &ApiPath::new(["apps", app_id, "groups"])?,
                &q,
                limit,
                Some(APP_GROUPS_PAGE),
                &fields,
            )
            .await?;
        for assignment in &mut page.items {
            lift_group_name(assignment);
            strip_links(assignment);
        }
        Ok(list_result(
            "groups",
            "assigned groups",
            page,
            &APP_GROUP,
            app_group_line,
            app_key(app_id),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_lines() {
        let app = json!({"id": "0oa1", "label": "Slack", "name": "slack",
                         "signOnMode": "SAML_2_0", "status": "ACTIVE"});
        assert_eq!(app_line(&app), "0oa1  Slack  [slack, SAML_2_0]  ACTIVE");
        let user = json!({"id": "00u1", "scope": "GROUP", "status": "PROVISIONED",
                          "credentials": {"userName": "alice@example.com"}});
        assert_eq!(
            app_user_line(&user),
            "00u1  alice@example.com  PROVISIONED  scope=GROUP"
        );
    }

    #[test]
    fn group_names_are_lifted_out_of_embedded() {
        let mut assignment = json!({"id": "00g1", "priority": 0,
            "_embedded": {"group": {"profile": {"name": "Engineering"}}}});
        lift_group_name(&mut assignment);
        assert_eq!(assignment["groupName"], "Engineering");
        assert_eq!(app_group_line(&assignment), "00g1  Engineering  priority=0");
        let mut bare = json!({"id": "00g2"});
        lift_group_name(&mut bare);
        assert!(bare.get("groupName").is_none());
    }
}
