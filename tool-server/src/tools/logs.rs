//! `get_okta_event_logs`: the System Log, always within a closed time window.
//!
//! Without `until` the System Log is a poll: its `next` link never ends. So `until` is always
//! sent (default now) and `since` defaults to 24 hours before it; both are echoed in the result
//! so that a follow-up call with `after` can send the same window.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::args::{lenient_limit, limit, one_of, query, text};
use super::output::{ToolFailure, ToolResult, field, join_parts, list_result};
use super::shape::{ExtraFields, FieldsArg, Kind, Shape};
use super::time::parse_relative_time;
use crate::okta::ApiPath;
use crate::server::OktaToolServer;

/// Largest page of `/logs` Okta serves.
const LOGS_PAGE: usize = 1000;
/// Default window when `since` is not given.
const DEFAULT_WINDOW: TimeDelta = TimeDelta::hours(24);

/// Arguments of `get_okta_event_logs`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
pub struct EventLogsArgs {
    /// Start of the window, ISO 8601 (e.g. `2026-01-05T00:00:00Z`) or an expression such as
    /// `2 hours ago` or `yesterday`. Default: 24 hours before `until`.
    pub since: Option<String>,
    /// End of the window, same forms as `since`. Default: now.
    pub until: Option<String>,
    /// System Log filter expression (Okta `filter`), e.g. `eventType eq "user.session.start"`,
    /// `outcome.result eq "FAILURE"`, `actor.alternateId eq "alice@example.com"`,
    /// `target.id eq "0oa1a2b3c4D5e6F7g8h9"`, `severity eq "WARN"`; combine with `and`.
    pub filter_string: Option<String>,
    /// Keyword search over the events' text (Okta `q`), e.g. `alice password`.
    pub q: Option<String>,
    /// `DESCENDING` (newest first, default) or `ASCENDING`.
    pub sort_order: Option<String>,
    /// Most events to return, 1–1000 (default 100). `max_results` is accepted as well.
    #[serde(deserialize_with = "lenient_limit", alias = "max_results")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: Option<i64>,
    /// Cursor from a previous call's `after`, to get the next page (send the same `since`
    /// and `until` as that call).
    pub after: Option<String>,
    /// More Okta properties for the structured result than the output schema declares, as
    /// dotted names (e.g. `["profile.mobilePhone"]`), or `["*"]` for all of them.
    #[serde(default)]
    pub fields: Option<FieldsArg>,
}

/// Okta's timestamp form for `since`/`until`.
fn okta_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_bound(name: &str, value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, ToolFailure> {
    parse_relative_time(value, now).map_err(|e| ToolFailure::invalid(format!("{name}: {e}")))
}

/// The window to query: `until` default now, `since` default 24 h before `until`.
fn window(
    since: Option<&str>,
    until: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ToolFailure> {
    let until = match until {
        Some(u) => parse_bound("until", u, now)?,
        None => now,
    };
    let since = match since {
        Some(s) => parse_bound("since", s, now)?,
        None => until - DEFAULT_WINDOW,
    };
    if since >= until {
        return Err(ToolFailure::invalid(format!(
            "since ({}) must be before until ({})",
            okta_time(since),
            okta_time(until)
        )));
    }
    Ok((since, until))
}

/// What `get_okta_event_logs` answers per event.
pub(crate) const EVENT: Shape = Shape {
    what: "A System Log event",
    fields: &[
        ("uuid", Kind::Text),
        ("published", Kind::Time),
        ("eventType", Kind::Text),
        ("severity", Kind::Text),
        ("displayMessage", Kind::Text),
        ("outcome.result", Kind::Text),
        ("outcome.reason", Kind::Text),
        ("actor.id", Kind::Text),
        ("actor.type", Kind::Text),
        ("actor.alternateId", Kind::Text),
        ("actor.displayName", Kind::Text),
        ("target[].id", Kind::Text),
        ("target[].type", Kind::Text),
        ("target[].alternateId", Kind::Text),
        ("target[].displayName", Kind::Text),
        ("client.ipAddress", Kind::Text),
        ("transaction.id", Kind::Text),
    ],
};

fn event_line(event: &Value) -> String {
    // Okta's LogEvent calls its list of targets `target`.
    let targets: Vec<String> = event
        .get("target")
        .and_then(Value::as_array)
        .map(|targets| {
            targets
                .iter()
                .take(3)
                .filter_map(|t| {
                    field(t, "alternateId")
                        .filter(|a| a != "unknown")
                        .or_else(|| field(t, "displayName"))
                })
                .collect()
        })
        .unwrap_or_default();
    join_parts([
        field(event, "published"),
        field(event, "eventType"),
        field(event, "outcome.result"),
        field(event, "actor.alternateId").map(|a| format!("actor={a}")),
        (!targets.is_empty()).then(|| format!("target={}", targets.join(","))),
        field(event, "client.ipAddress").map(|ip| format!("ip={ip}")),
        field(event, "displayMessage").map(|m| format!("— {m}")),
    ])
}

#[tool_router(router = logs_tools, vis = "pub(crate)")]
impl OktaToolServer {
    #[tool(
        name = "get_okta_event_logs",
        description = "Query the Okta System Log between `since` and `until` (default: the last \
                       24 hours; ISO 8601 or expressions like '2 hours ago'). Narrow with \
                       `filter_string` (e.g. eventType eq \"user.session.start\", \
                       outcome.result eq \"FAILURE\", actor.alternateId eq \"alice@example.com\") \
                       or keywords in `q`. Returns up to `limit` events (default 100, max 1000), \
                       newest first, and an `after` cursor when more exist.",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    pub(crate) async fn get_okta_event_logs(
        &self,
        Parameters(args): Parameters<EventLogsArgs>,
    ) -> ToolResult {
        let limit = limit(args.limit, 100, 1000)?;
        let sort_order = match one_of(
            "sort_order",
            text(&args.sort_order),
            &["ASCENDING", "DESCENDING", "asc", "desc"],
        )? {
            Some("ASCENDING" | "asc") => "ASCENDING",
            _ => "DESCENDING",
        };
        let (since, until) = window(text(&args.since), text(&args.until), Utc::now())?;
        let (since, until) = (okta_time(since), okta_time(until));
        let mut q = query([
            ("filter", text(&args.filter_string)),
            ("q", text(&args.q)),
            ("after", text(&args.after)),
        ]);
        q.push(("since", since.clone()));
        q.push(("until", until.clone()));
        q.push(("sortOrder", sort_order.into()));
        let page = self
            .okta()
            .list(
                &ApiPath::new(["logs"])?,
                &q,
                limit,
                Some(LOGS_PAGE),
                &EVENT.projection(&ExtraFields::from_arg(&args.fields)?),
            )
            .await?;
        let mut extra = Map::new();
        extra.insert("since".into(), json!(since));
        extra.insert("until".into(), json!(until));
        Ok(list_result(
            "events", "events", page, &EVENT, event_line, extra,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn the_window_is_always_closed() {
        let now = at("2026-01-05T12:00:00Z");
        let (since, until) = window(None, None, now).unwrap();
        assert_eq!(okta_time(until), "2026-01-05T12:00:00.000Z");
        assert_eq!(okta_time(since), "2026-01-04T12:00:00.000Z");
        let (since, until) = window(Some("2 hours ago"), None, now).unwrap();
        assert_eq!(
            (okta_time(since), until),
            ("2026-01-05T10:00:00.000Z".into(), now)
        );
        let (since, until) = window(None, Some("2026-01-01T00:00:00Z"), now).unwrap();
        assert_eq!(okta_time(since), "2025-12-31T00:00:00.000Z");
        assert_eq!(okta_time(until), "2026-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_backwards_or_unreadable_window_is_refused() {
        let now = at("2026-01-05T12:00:00Z");
        let ToolFailure::InvalidArgument(message) =
            window(Some("today"), Some("yesterday"), now).unwrap_err()
        else {
            panic!("expected an invalid argument");
        };
        assert!(message.contains("must be before"), "{message}");
        let ToolFailure::InvalidArgument(message) =
            window(Some("whenever"), None, now).unwrap_err()
        else {
            panic!("expected an invalid argument");
        };
        assert!(
            message.starts_with("since:") && message.contains("2 hours ago"),
            "{message}"
        );
    }

    #[test]
    fn event_line_has_who_what_where() {
        let event = json!({
            "published": "2026-01-05T10:00:00.000Z",
            "eventType": "user.session.start",
            "displayMessage": "User login to Okta",
            "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
            "actor": {"alternateId": "alice@example.com"},
            "client": {"ipAddress": "203.0.113.9"},
            "target": [{"alternateId": "unknown", "displayName": "Okta Dashboard"}]
        });
        assert_eq!(
            event_line(&event),
            "2026-01-05T10:00:00.000Z  user.session.start  FAILURE  actor=alice@example.com  \
             target=Okta Dashboard  ip=203.0.113.9  — User login to Okta"
        );
    }
}
