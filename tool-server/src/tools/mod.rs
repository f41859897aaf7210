//! The Okta tools: one typed argument struct and one method each, one file per area.
//!
//! Names and parameters are the original Python server's, so existing prompts keep working;
//! every list also takes `limit` (`max_results` still accepted) and `after`, and returns the
//! cursor of the next page. Each result has structured content (`_links`/`_embedded` removed)
//! and one compact text; Okta failures are `isError` results carrying Okta's `errorCode` and
//! `errorSummary`. The Okta client, not the tools, knows about paging, rate limits and retries.
//! The write tools (`writes`) change nothing until a person confirms (see that module).

mod apps;
mod args;
mod groups;
mod logs;
mod output;
mod policies;
mod schema;
mod shape;
mod time;
mod users;
mod writes;
mod zones;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;

use crate::server::OktaToolServer;

pub use schema::portability_problems;
pub use time::{ACCEPTED_TIME_FORMS, RelativeTimeError, format_utc, parse_relative_time};
pub use writes::{WRITE_AUDIT, WRITE_TOOL_NAMES, WriteAudit};

/// Every tool this server has, by its MCP name.
pub const TOOL_NAMES: [&str; 26] = [
    "get_okta_user",
    "list_okta_users",
    "list_okta_user_groups",
    "list_okta_user_applications",
    "list_okta_user_factors",
    "get_okta_group",
    "list_okta_groups",
    "list_okta_group_users",
    "get_okta_application",
    "list_okta_applications",
    "list_okta_application_users",
    "list_okta_application_groups",
    "get_okta_event_logs",
    "get_current_time",
    "parse_relative_time",
    "list_okta_policies",
    "list_okta_policy_rules",
    "get_okta_policy_rule",
    "list_okta_network_zones",
    "suspend_okta_user",
    "unsuspend_okta_user",
    "clear_okta_user_sessions",
    "reset_okta_user_factor",
    "add_okta_user_to_group",
    "remove_okta_user_from_group",
    "expire_okta_user_password",
];

/// Whether `tool` changes something at Okta (and so needs a person's confirmation).
pub fn is_write(tool: &str) -> bool {
    WRITE_TOOL_NAMES.contains(&tool)
}

/// All the tools, unfiltered, with portable input schemas; the server applies the role policy
/// around this router.
pub fn okta_tool_router() -> ToolRouter<OktaToolServer> {
    let mut router = OktaToolServer::users_tools()
        + OktaToolServer::groups_tools()
        + OktaToolServer::apps_tools()
        + OktaToolServer::logs_tools()
        + OktaToolServer::policies_tools()
        + OktaToolServer::zones_tools()
        + OktaToolServer::time_tools()
        + OktaToolServer::suspend_tool()
        + OktaToolServer::unsuspend_tool()
        + OktaToolServer::clear_sessions_tool()
        + OktaToolServer::reset_factor_tool()
        + OktaToolServer::add_member_tool()
        + OktaToolServer::remove_member_tool()
        + OktaToolServer::expire_password_tool();
    for route in router.map.values_mut() {
        route.attr.input_schema = Arc::new(schema::portable(&route.attr.input_schema));
        if let Some((key, shape)) = list_shape(&route.attr.name) {
            route.attr.output_schema = Some(shape.list_schema(key));
        }
    }
    router
}

/// The structured result of each list tool: its key and the shape of its items.
fn list_shape(tool: &str) -> Option<(&'static str, &'static shape::Shape)> {
    Some(match tool {
        "list_okta_users" | "list_okta_group_users" => ("users", &users::USER),
        "list_okta_user_groups" | "list_okta_groups" => ("groups", &groups::GROUP),
        "list_okta_user_applications" => ("applications", &users::APP_LINK),
        "list_okta_user_factors" => ("factors", &users::FACTOR),
        "list_okta_applications" => ("applications", &apps::APP),
        "list_okta_application_users" => ("users", &apps::APP_USER),
        "list_okta_application_groups" => ("groups", &apps::APP_GROUP),
        "get_okta_event_logs" => ("events", &logs::EVENT),
        "list_okta_policies" => ("policies", &policies::POLICY),
        "list_okta_policy_rules" => ("rules", &policies::POLICY),
        "list_okta_network_zones" => ("zones", &zones::ZONE),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
