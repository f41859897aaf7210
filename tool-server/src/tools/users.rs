//! User tools: find users, read one, and what they belong to (groups, apps, factors).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::args::{lenient_bool, lenient_limit, limit, one_of, query, required, text};
use super::groups::{GROUP, group_line};
use super::output::{
    Line, ToolFailure, ToolResult, field, first_field, join_parts, list_result, object_result,
    okta_id, shown, with_note,
};
use super::shape::{ExtraFields, FieldsArg, Kind, Shape};
use crate::okta::ApiPath;
use crate::server::OktaToolServer;

/// Largest page of `/users` Okta serves.
const USERS_PAGE: usize = 200;
/// Most app links read before `show_all` filters them (Okta sends them all at once).
const APP_LINKS_READ: usize = 5000;
/// What the user listings answer per user.
///
/// Lean on purpose: who the user is, their status, when they were created and last signed in
/// (the dates asked about most: new and inactive accounts). `activated`, `statusChanged`,
/// `lastUpdated` and `passwordChanged` are a `fields` argument away (or `get_okta_user`); left
/// out by default they spare a model about 180 of 480 bytes per user, and the tool server a
/// third of what it builds and writes per listing.
pub(crate) const USER: Shape = Shape {
    what: "An Okta user",
    fields: &[
        ("id", Kind::Text),
        ("status", Kind::Text),
        ("created", Kind::Time),
        ("lastLogin", Kind::Time),
        ("profile.login", Kind::Text),
        ("profile.email", Kind::Text),
        ("profile.firstName", Kind::Text),
        ("profile.lastName", Kind::Text),
        ("profile.displayName", Kind::Text),
    ],
};

/// What `list_okta_user_applications` answers per app link.
pub(crate) const APP_LINK: Shape = Shape {
    what: "An app link of the user (an app assigned to them)",
    fields: &[
        ("id", Kind::Text),
        ("appInstanceId", Kind::Text),
        ("appAssignmentId", Kind::Text),
        ("label", Kind::Text),
        ("appName", Kind::Text),
        ("linkUrl", Kind::Text),
        ("hidden", Kind::Flag),
    ],
};

/// What `list_okta_user_factors` answers per factor.
pub(crate) const FACTOR: Shape = Shape {
    what: "An enrolled MFA factor",
    fields: &[
        ("id", Kind::Text),
        ("factorType", Kind::Text),
        ("provider", Kind::Text),
        ("vendorName", Kind::Text),
        ("status", Kind::Text),
        ("created", Kind::Time),
        ("lastUpdated", Kind::Time),
        ("profile.email", Kind::Text),
        ("profile.phoneNumber", Kind::Text),
        ("profile.credentialId", Kind::Text),
        ("profile.name", Kind::Text),
        ("profile.deviceType", Kind::Text),
        ("profile.questionText", Kind::Text),
        ("profile.question", Kind::Text),
    ],
};

const USER_ID_HINT: &str =
    "pass an Okta user id (e.g. 00u1a2b3c4D5e6F7g8h9) or a login (e.g. alice@example.com)";

/// Arguments of `list_okta_users`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct ListUsersArgs {
    /// Quick prefix search over first name, last name and email (Okta `q`), e.g. `smith`.
    pub query: Option<String>,
    /// Okta search expression over any user property (Okta `search`), e.g.
    /// `profile.department eq "Engineering"`, `status eq "LOCKED_OUT"`,
    /// `profile.login sw "alice"`, `lastUpdated gt "2026-01-01T00:00:00.000Z"`;
    /// combine with `and` / `or`. Preferred over `filter_type`.
    pub search: Option<String>,
    /// Okta `filter` expression, used only when `search` is empty, e.g. `status eq "ACTIVE"`
    /// or `lastUpdated gt "2026-01-01T00:00:00.000Z"`.
    pub filter_type: Option<String>,
    /// Property to sort by when `search` is set, e.g. `created` (default), `profile.lastName`.
    pub sort_by: Option<String>,
    /// `asc` or `desc` (default); applied together with `search`.
    pub sort_order: Option<String>,
    /// Most users to return, 1–1000 (default 50). `max_results` is accepted as well.
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

/// Arguments naming one user.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UserArgs {
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
}

/// Arguments listing something of one user that Okta sends all at once (groups, factors):
/// Okta's spec declares no `limit` or `after` for these, so there is no cursor.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UserListArgs {
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
    /// Most items to show, 1–1000 (default 200); Okta sends them all at once, with no cursor.
    /// `max_results` is accepted as well.
    #[serde(default, deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// Arguments of `list_okta_user_applications`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct UserApplicationsArgs {
    /// Okta user id (e.g. `00u1a2b3c4D5e6F7g8h9`) or login (e.g. `alice@example.com`).
    #[schemars(required)]
    pub user_id: Option<String>,
    /// Include apps hidden from the user's dashboard. Default true; false leaves out the links
    /// Okta marks `hidden`.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub show_all: Option<bool>,
    /// Most app links to show, 1–1000 (default 200); Okta sends them all at once, with no
    /// cursor. `max_results` is accepted as well.
    #[serde(default, deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// One user as a list line: id, login, status, name, email when it differs from the login.
///
/// Built in one buffer from borrowed values, reading the user and its profile in one pass
/// each: a page has 200 of these, and a map search per part (string comparisons) was a tenth
/// of a listing's CPU.
pub(crate) fn user_line(user: &Value) -> String {
    let (mut id, mut status, mut profile) = (None, None, None);
    for (key, value) in user.as_object().into_iter().flatten() {
        match key.as_str() {
            "id" => id = shown(value),
            "status" => status = shown(value),
            "profile" => profile = value.as_object(),
            _ => {}
        }
    }
    let [mut login, mut email, mut first, mut last, mut display] = [None, None, None, None, None];
    for (key, value) in profile.into_iter().flatten() {
        let slot = match key.as_str() {
            "login" => &mut login,
            "email" => &mut email,
            "firstName" => &mut first,
            "lastName" => &mut last,
            "displayName" => &mut display,
            _ => continue,
        };
        *slot = shown(value);
    }
    let email = email.filter(|e| Some(e) != login.as_ref());
    let mut line = Line::default();
    line.push(id.as_deref());
    line.push(login.as_deref());
    line.push(status.as_deref());
    match (first, last) {
        (Some(first), Some(last)) => line.push_words(&[&first, &last]),
        (Some(one), None) | (None, Some(one)) => line.push(Some(&one)),
        (None, None) => line.push(display.as_deref()),
    }
    line.push(email.as_deref());
    line.finish()
}

fn app_link_line(link: &Value) -> String {
    join_parts([
        field(link, "appInstanceId"),
        field(link, "label"),
        field(link, "appName").map(|n| format!("[{n}]")),
        field(link, "hidden")
            .filter(|h| h == "true")
            .map(|_| "hidden".to_string()),
        field(link, "linkUrl"),
    ])
}

fn factor_line(factor: &Value) -> String {
    join_parts([
        field(factor, "id"),
        field(factor, "factorType"),
        field(factor, "provider"),
        field(factor, "status"),
        first_field(
            factor,
            &[
                "profile.email",
                "profile.phoneNumber",
                "profile.credentialId",
                "profile.name",
                "profile.deviceType",
                // A security question: its text, or its key when Okta sends no text.
                "profile.questionText",
                "profile.question",
            ],
        ),
    ])
}

impl OktaToolServer {
    /// The user id for `user_id`: itself, or looked up when it is a login (contains `@`),
    /// because Okta's user sub-resources want the id.
    async fn resolve_user_id(&self, user_id: &str) -> Result<String, ToolFailure> {
        if !user_id.contains('@') {
            return Ok(user_id.to_string());
        }
        let user = self
            .okta()
            .get(&ApiPath::new(["users", user_id])?, &[])
            .await?;
        Ok(okta_id(&user, &format!("the user {user_id}"))?)
    }
}

#[tool_router(router = users_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "list_okta_users",
        description = "List or search Okta users. Use `search` for Okta expressions \
                       (e.g. profile.department eq \"Engineering\", status eq \"LOCKED_OUT\"), \
                       `query` for a quick name/email prefix, `filter_type` for simple filters \
                       (e.g. status eq \"ACTIVE\"). Returns up to `limit` users and an `after` \
                       cursor when more exist.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_users(
        &self,
        Parameters(args): Parameters<ListUsersArgs>,
    ) -> ToolResult {
        let limit = limit(args.limit, 50, 1000)?;
        let sort_order = one_of("sort_order", text(&args.sort_order), &["asc", "desc"])?;
        let search = text(&args.search);
        let mut q = query([
            ("q", text(&args.query)),
            ("search", search),
            ("after", text(&args.after)),
        ]);
        let mut note = None;
        if search.is_some() {
            q.push(("sortBy", text(&args.sort_by).unwrap_or("created").into()));
            q.push(("sortOrder", sort_order.unwrap_or("desc").into()));
            if text(&args.filter_type).is_some() {
                note = Some(
                    "Note: filter_type was ignored because search is set; put that condition \
                     into search with `and`.",
                );
            }
        } else {
            q.extend(query([("filter", text(&args.filter_type))]));
        }
        let page = self
            .okta()
            .list(
                &ApiPath::new(["users"])?,
                &q,
                limit,
                Some(USERS_PAGE),
                &USER.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        let result = list_result("users", "users", page, &USER, user_line, Map::new());
        Ok(match note {
            Some(note) => with_note(result, note),
            None => result,
        })
    }

    #[tool(
        name = "get_okta_user",
        description = "Get one Okta user's full profile, status and dates by user id or login \
                       (e.g. alice@example.com).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn get_okta_user(&self, Parameters(args): Parameters<UserArgs>) -> ToolResult {
        let user_id = required("user_id", &args.user_id, USER_ID_HINT)?;
        let user = self
            .okta()
            .get(&ApiPath::new(["users", user_id])?, &[])
            .await?;
        let title = format!("User {}", user_line(&user));
        Ok(object_result("user", title, user))
    }

    #[tool(
        name = "list_okta_user_groups",
        description = "List the groups an Okta user belongs to, by user id or login. Okta sends \
                       them all at once (no cursor); up to `limit` are shown (default 200).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_user_groups(
        &self,
        Parameters(args): Parameters<UserListArgs>,
    ) -> ToolResult {
        let user_id = required("user_id", &args.user_id, USER_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        let fields = GROUP.projection(&ExtraFields::from_arg(&args.fields)?);
        let id = self.resolve_user_id(user_id).await?;
        // listUserGroups declares no query parameter: no `limit`, no `after`.
        let page = self
            .okta()
            .list(
                &ApiPath::new(["users", &id, "groups"])?,
                &[],
                limit,
                None,
                &fields,
            )
            .await?;
        Ok(list_result(
            "groups",
            "groups",
            page,
            &GROUP,
            group_line,
            user_key(&id),
        ))
    }

    #[tool(
        name = "list_okta_user_applications",
        description = "List the applications assigned to an Okta user (their app links), by user \
                       id or login. Okta sends them all at once (no cursor); up to `limit` are \
                       shown (default 200); `show_all: false` leaves out hidden ones.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_user_applications(
        &self,
        Parameters(args): Parameters<UserApplicationsArgs>,
    ) -> ToolResult {
        let user_id = required("user_id", &args.user_id, USER_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        let fields = APP_LINK.projection(&ExtraFields::from_arg(&args.fields)?);
        let id = self.resolve_user_id(user_id).await?;
        // listAppLinks declares no query parameter (no `showAll`, no paging), so hidden links
        // are left out here.
        let mut page = self
            .okta()
            .list(
                &ApiPath::new(["users", &id, "appLinks"])?,
                &[],
                APP_LINKS_READ,
                None,
                &fields,
            )
            .await?;
        if !args.show_all.unwrap_or(true) {
            page.items
                .retain(|link| link.get("hidden") != Some(&Value::Bool(true)));
        }
        if page.items.len() > limit {
            page.items.truncate(limit);
            page.truncated = true;
        }
        Ok(list_result(
            "applications",
            "applications",
            page,
            &APP_LINK,
            app_link_line,
            user_key(&id),
        ))
    }

    #[tool(
        name = "list_okta_user_factors",
        description = "List the MFA factors an Okta user has enrolled (type, provider, status, \
                       and the phone, email, device or security question), by user id or login. \
                       Okta sends them all at once (no cursor).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn list_okta_user_factors(
        &self,
        Parameters(args): Parameters<UserListArgs>,
    ) -> ToolResult {
        let user_id = required("user_id", &args.user_id, USER_ID_HINT)?;
        let limit = limit(args.limit, 200, 1000)?;
        let fields = FACTOR.projection(&ExtraFields::from_arg(&args.fields)?);
        let id = self.resolve_user_id(user_id).await?;
        // listFactors declares no query parameter.
        let page = self
            .okta()
            .list(
                &ApiPath::new(["users", &id, "factors"])?,
                &[],
                limit,
                None,
                &fields,
            )
            .await?;
        Ok(list_result(
            "factors",
            "factors",
            page,
            &FACTOR,
            factor_line,
            user_key(&id),
        ))
    }
}

/// The resolved user id, so a model that passed a login learns the id.
fn user_key(id: &str) -> Map<String, Value> {
    let mut extra = Map::new();
    extra.insert("user_id".into(), json!(id));
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_lines_show_the_fields_an_admin_looks_at() {
        let user = json!({
            "id": "00u1", "status": "ACTIVE",
            "profile": {"login": "alice@example.com", "email": "alice@example.com",
                        "firstName": "Alice", "lastName": "Smith"}
        });
        assert_eq!(
            user_line(&user),
            "00u1  alice@example.com  ACTIVE  Alice Smith"
        );
        let other_email = json!({"id": "00u2", "profile": {"login": "bob", "email": "bob@x.io"}});
        assert_eq!(user_line(&other_email), "00u2  bob  bob@x.io");
    }

    #[test]
    fn factor_and_app_link_lines() {
        let factor = json!({"id": "mfa1", "factorType": "sms", "provider": "OKTA",
                            "status": "ACTIVE", "profile": {"phoneNumber": "+1 555"}});
        assert_eq!(factor_line(&factor), "mfa1  sms  OKTA  ACTIVE  +1 555");
        let question = json!({"id": "ufs1", "factorType": "question", "provider": "OKTA",
            "status": "ACTIVE", "profile": {"question": "disliked_food",
            "questionText": "What is the food you least liked as a child?"}});
        assert_eq!(
            factor_line(&question),
            "ufs1  question  OKTA  ACTIVE  What is the food you least liked as a child?"
        );
        let key_only = json!({"id": "ufs2", "factorType": "question",
                              "profile": {"question": "disliked_food"}});
        assert_eq!(factor_line(&key_only), "ufs2  question  disliked_food");
        let link = json!({"appInstanceId": "0oa1", "label": "Slack", "appName": "slack",
                          "hidden": true, "linkUrl": "https://x/home/slack/0oa1"});
        assert_eq!(
            app_link_line(&link),
            "0oa1  Slack  [slack]  hidden  https://x/home/slack/0oa1"
        );
    }

    #[test]
    fn arguments_are_lenient_and_max_results_means_limit() {
        let args: ListUsersArgs =
            serde_json::from_value(json!({"max_results": "20", "search": ""})).unwrap();
        assert_eq!(args.limit, Some(20));
        assert_eq!(text(&args.search), None);
        let args: UserApplicationsArgs =
            serde_json::from_value(json!({"user_id": "a@b.c", "show_all": "false"})).unwrap();
        assert_eq!(args.show_all, Some(false));
        let args: UserArgs = serde_json::from_value(json!({})).unwrap();
        assert!(required("user_id", &args.user_id, USER_ID_HINT).is_err());
    }
}
