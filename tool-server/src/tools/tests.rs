//! The router's shape, and the tools against a small local stand-in for Okta.

use super::*;

#[test]
fn the_router_has_exactly_the_named_tools_with_described_arguments() {
    let router = okta_tool_router();
    let mut listed: Vec<String> = router
        .list_all()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    listed.sort();
    let mut expected: Vec<String> = TOOL_NAMES.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    for tool in router.list_all() {
        assert!(
            tool.description.as_deref().is_some_and(|d| d.len() > 30),
            "{} needs a description",
            tool.name
        );
        let schema = serde_json::Value::Object((*tool.input_schema).clone());
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for (name, property) in &properties {
            assert!(
                property.get("description").is_some(),
                "{}.{name} needs a description",
                tool.name
            );
        }
        let is_list = tool.name.starts_with("list_") || tool.name == "get_okta_event_logs";
        if is_list {
            assert!(
                properties.contains_key("limit"),
                "{} needs limit",
                tool.name
            );
            // Okta's spec declares no cursor for these, and they answer all at once.
            let no_cursor = [
                "list_okta_user_groups",
                "list_okta_user_applications",
                "list_okta_user_factors",
                "list_okta_policy_rules",
            ];
            assert_eq!(
                properties.contains_key("after"),
                !no_cursor.contains(&&*tool.name),
                "{} has after exactly when Okta pages it",
                tool.name
            );
        }
        let read_only = tool.annotations.as_ref().and_then(|a| a.read_only_hint);
        assert_eq!(
            read_only,
            Some(!is_write(&tool.name)),
            "{} is read-only unless it is a write tool",
            tool.name
        );
    }
}

#[test]
fn every_input_schema_is_portable() {
    let mut problems = Vec::new();
    for tool in okta_tool_router().list_all() {
        let schema = serde_json::Value::Object((*tool.input_schema).clone());
        for problem in portability_problems(&schema) {
            problems.push(format!("{}{problem}", tool.name));
        }
    }
    assert!(
        problems.is_empty(),
        "{} non-portable: {problems:#?}",
        problems.len()
    );
}

#[test]
fn original_parameter_names_are_in_the_schemas() {
    let router = okta_tool_router();
    let has = |tool: &str, param: &str| {
        let tool = router.get(tool).unwrap();
        tool.input_schema
            .get("properties")
            .and_then(|p| p.get(param))
            .is_some()
    };
    for (tool, params) in [
        (
            "list_okta_users",
            &["query", "search", "filter_type", "sort_by", "sort_order"][..],
        ),
        ("list_okta_user_applications", &["user_id", "show_all"]),
        ("list_okta_groups", &["query", "search", "filter_type"]),
        (
            "list_okta_applications",
            &["query", "search", "filter_type"],
        ),
        (
            "get_okta_event_logs",
            &["since", "until", "filter_string", "q", "sort_order"],
        ),
        ("get_current_time", &["buffer_hours"]),
        ("parse_relative_time", &["time_expression"]),
        ("get_okta_policy_rule", &["policy_id", "rule_id"]),
        ("list_okta_policies", &["type", "status"]),
        ("list_okta_network_zones", &["filter_type"]),
        ("list_okta_group_users", &["group_id"]),
        ("list_okta_application_groups", &["app_id"]),
    ] {
        for param in params {
            assert!(has(tool, param), "{tool} lacks {param}");
        }
    }
}

mod against_a_fake_org {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::{IntoResponse, Response};
    use rmcp::handler::server::wrapper::Parameters;
    use rmcp::model::CallToolResult;
    use serde::de::DeserializeOwned;
    use serde_json::{Value, json};

    use super::super::output::ToolResult;
    use crate::okta::{OktaClient, OktaConfig};
    use crate::policy::ToolPolicy;
    use crate::server::{Caller, OktaToolServer};

    type Seen = Arc<Mutex<Vec<String>>>;

    /// Records every request line and answers a few Okta paths.
    async fn fake_okta(State(seen): State<Seen>, uri: Uri, headers: HeaderMap) -> Response {
        seen.lock().unwrap().push(uri.to_string());
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let query: HashMap<String, String> =
            url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        let links = json!({"self": {"href": "https://x"}});
        match uri.path() {
            "/api/v1/users" => {
                let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(200);
                let users: Vec<Value> = (1..=3)
                    .map(|i| json!({"id": format!("00u{i}"), "status": "ACTIVE", "_links": links,
                        "profile": {"login": format!("user{i}@example.com")}}))
                    .take(limit)
                    .collect();
                let mut response = axum::Json(users).into_response();
                if limit < 3 {
                    let next = format!(
                        r#"<http://{host}/api/v1/users?after=00u{limit}&limit={limit}>; rel="next""#
                    );
                    response.headers_mut().insert("link", next.parse().unwrap());
                }
                response
            }
            "/api/v1/users/alice@example.com" | "/api/v1/users/00u1" => axum::Json(json!({
                "id": "00u1", "status": "ACTIVE", "_links": links,
                "profile": {"login": "alice@example.com", "firstName": "Alice", "lastName": "Smith"}
            }))
            .into_response(),
            "/api/v1/users/00u1/groups" => axum::Json(json!([
                {"id": "00g1", "type": "OKTA_GROUP", "_links": links,
                 "profile": {"name": "sso-help-desk"}}
            ]))
            .into_response(),
            "/api/v1/users/00u1/appLinks" => axum::Json(json!([
                {"appInstanceId": "0oa1", "label": "Slack", "hidden": false},
                {"appInstanceId": "0oa2", "label": "Admin tool", "hidden": true}
            ]))
            .into_response(),
            "/api/v1/users/00u1/factors" => axum::Json(json!([
                {"id": "ufs1", "factorType": "question", "provider": "OKTA", "status": "ACTIVE",
                 "profile": {"question": "disliked_food",
                             "questionText": "What is the food you least liked as a child?"}}
            ]))
            .into_response(),
            "/api/v1/policies/00p1/rules" => axum::Json(json!([
                {"id": "0pr1", "name": "One", "priority": 1},
                {"id": "0pr2", "name": "Two", "priority": 2}
            ]))
            .into_response(),
            "/api/v1/logs" => axum::Json(json!([
                {"published": "2026-01-05T10:00:00.000Z", "eventType": "user.session.start",
                 "outcome": {"result": "SUCCESS"}, "actor": {"alternateId": "alice@example.com"}}
            ]))
            .into_response(),
            "/api/v1/apps/0oa1/groups" => axum::Json(json!([
                {"id": "00g1", "priority": 0, "_links": links,
                 "_embedded": {"group": {"profile": {"name": "Engineering"}}}}
            ]))
            .into_response(),
            _ => (
                StatusCode::NOT_FOUND,
                [("content-type", "application/json")],
                r#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)","errorCauses":[]}"#,
            )
                .into_response(),
        }
    }

    async fn server() -> (OktaToolServer, Seen) {
        let seen = Seen::default();
        let router = Router::new().fallback(fake_okta).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let org = url::Url::parse(&format!("http://{addr}")).unwrap();
        let okta = OktaClient::new(OktaConfig::new(org, "token")).unwrap();
        let policy = ToolPolicy::parse("[roles]", "test").unwrap();
        let server = OktaToolServer::new(Arc::new(okta), Arc::new(policy), Caller::FromHeaders);
        (server, seen)
    }

    /// Arguments as a client sends them.
    fn args<T: DeserializeOwned>(value: Value) -> Parameters<T> {
        Parameters(serde_json::from_value(value).unwrap())
    }

    fn finish(result: ToolResult) -> (CallToolResult, Value, String) {
        let result = result.unwrap_or_else(|f| f.into_result());
        let structured = result.structured_content.clone().unwrap();
        let text = result.content[0].as_text().unwrap().text.clone();
        (result, structured, text)
    }

    #[tokio::test]
    async fn list_users_sends_search_with_sorting_and_returns_a_cursor() {
        let (server, seen) = server().await;
        let (result, structured, text) = finish(
            server
                .list_okta_users(args(json!({
                    "search": "profile.department eq \"Engineering\"",
                    "filter_type": "status eq \"ACTIVE\"",
                    "max_results": 2
                })))
                .await,
        );
        assert_eq!(result.is_error, Some(false));
        assert_eq!(structured["count"], 2);
        assert_eq!(structured["after"], "00u2");
        assert!(structured["users"][0].get("_links").is_none());
        assert!(
            text.starts_with("2 users:\n00u1  user1@example.com  ACTIVE"),
            "{text}"
        );
        assert!(text.contains("after=\"00u2\"") && text.contains("filter_type was ignored"));
        let request = &seen.lock().unwrap()[0];
        for part in [
            "search=profile.department",
            "sortBy=created",
            "sortOrder=desc",
            "limit=2",
        ] {
            assert!(request.contains(part), "{request} lacks {part}");
        }
        assert!(!request.contains("filter="), "{request}");
    }

    #[tokio::test]
    async fn a_login_is_resolved_to_an_id_before_listing_groups() {
        let (server, seen) = server().await;
        let (_, structured, text) = finish(
            server
                .list_okta_user_groups(args(json!({"user_id": "alice@example.com"})))
                .await,
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "/api/v1/users/alice@example.com",
                "/api/v1/users/00u1/groups"
            ]
        );
        assert_eq!(structured["user_id"], "00u1");
        assert_eq!(structured["groups"][0]["profile"]["name"], "sso-help-desk");
        assert!(structured["groups"][0].get("_links").is_none());
        assert_eq!(text, "1 groups:\n00g1  sso-help-desk  [OKTA_GROUP]");
    }

    #[tokio::test]
    async fn ids_cannot_walk_to_another_endpoint_and_okta_errors_are_tool_errors() {
        let (server, seen) = server().await;
        let (result, structured, text) = finish(
            server
                .get_okta_user(args(json!({"user_id": "../../apps"})))
                .await,
        );
        assert_eq!(*seen.lock().unwrap(), ["/api/v1/users/..%2F..%2Fapps"]);
        assert_eq!(result.is_error, Some(true));
        assert_eq!(structured["errorCode"], "E0000007");
        assert_eq!(
            text,
            "Okta error E0000007: Not found: Resource not found: x (User)"
        );
    }

    #[tokio::test]
    async fn bad_arguments_are_refused_before_any_okta_call() {
        let (server, seen) = server().await;
        for (result, needle) in [
            (
                server.list_okta_users(args(json!({"limit": 0}))).await,
                "limit",
            ),
            (
                server
                    .list_okta_users(args(json!({"sort_order": "up"})))
                    .await,
                "sort_order",
            ),
            (
                server.get_okta_group(args(json!({"group_id": " "}))).await,
                "group_id is required",
            ),
            (
                server.list_okta_policies(args(json!({}))).await,
                "OKTA_SIGN_ON",
            ),
            (
                server
                    .get_okta_policy_rule(args(json!({"policy_id": "00p1"})))
                    .await,
                "rule_id",
            ),
            (
                server
                    .list_okta_policies(args(json!({"type": "NOT_A_TYPE"})))
                    .await,
                "IDENTITY_CLAIM_SOURCING",
            ),
        ] {
            let (result, structured, text) = finish(result);
            assert_eq!(result.is_error, Some(true), "{text}");
            assert_eq!(structured["error"], "invalid_argument");
            assert!(text.contains(needle), "{text}");
        }
        assert!(seen.lock().unwrap().is_empty());
    }

    /// Okta's spec declares no query parameter for a user's groups, app links and factors, and
    /// only `limit` for a policy's rules: nothing else is sent, and what those answer is cut here.
    #[tokio::test]
    async fn calls_send_only_the_query_parameters_okta_declares() {
        let (server, seen) = server().await;
        let user = json!({"user_id": "00u1", "after": "x", "limit": 1});
        finish(server.list_okta_user_groups(args(user.clone())).await);
        let (_, factors, factors_text) =
            finish(server.list_okta_user_factors(args(user.clone())).await);
        let (_, apps, apps_text) = finish(
            server
                .list_okta_user_applications(args(
                    json!({"user_id": "00u1", "show_all": false, "after": "x"}),
                ))
                .await,
        );
        let (_, rules, rules_text) = finish(
            server
                .list_okta_policy_rules(args(
                    json!({"policy_id": "00p1", "after": "x", "limit": 1}),
                ))
                .await,
        );
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "/api/v1/users/00u1/groups",
                "/api/v1/users/00u1/factors",
                "/api/v1/users/00u1/appLinks",
                "/api/v1/policies/00p1/rules",
            ]
        );
        assert_eq!(factors["count"], 1);
        assert!(
            factors_text.ends_with("What is the food you least liked as a child?"),
            "{factors_text}"
        );
        // Without `showAll` at Okta, show_all=false leaves the hidden links out here.
        assert_eq!(apps["count"], 1);
        assert_eq!(apps["applications"][0]["label"], "Slack");
        assert!(!apps_text.contains("Admin tool"), "{apps_text}");
        assert_eq!(rules["count"], 1);
        assert_eq!(rules["truncated"], true);
        assert!(rules_text.contains("Only the first 1"), "{rules_text}");
    }

    #[tokio::test]
    async fn event_logs_are_always_bounded_by_until() {
        let (server, seen) = server().await;
        let (_, structured, text) = finish(
            server
                .get_okta_event_logs(args(
                    json!({"filter_string": "eventType eq \"user.session.start\""}),
                ))
                .await,
        );
        let request = seen.lock().unwrap()[0].clone();
        for part in [
            "since=",
            "until=",
            "sortOrder=DESCENDING",
            "limit=100",
            "filter=eventType",
        ] {
            assert!(request.contains(part), "{request} lacks {part}");
        }
        assert!(structured["until"].as_str().unwrap().ends_with('Z'));
        assert!(structured["since"].as_str().unwrap() < structured["until"].as_str().unwrap());
        assert!(
            text.contains("user.session.start  SUCCESS  actor=alice@example.com"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn application_groups_come_with_their_names() {
        let (server, seen) = server().await;
        let (_, structured, text) = finish(
            server
                .list_okta_application_groups(args(json!({"app_id": "0oa1"})))
                .await,
        );
        assert!(seen.lock().unwrap()[0].contains("expand=group"));
        assert_eq!(structured["groups"][0]["groupName"], "Engineering");
        assert!(structured["groups"][0].get("_embedded").is_none());
        assert_eq!(text, "1 assigned groups:\n00g1  Engineering  priority=0");
    }

    #[tokio::test]
    async fn time_tools_answer_in_utc() {
        let (server, _) = server().await;
        let (_, structured, text) = finish(
            server
                .get_current_time(args(json!({"buffer_hours": "1"})))
                .await,
        );
        let time = structured["time"].as_str().unwrap();
        assert!(time.ends_with('Z') && text == time, "{time}");
        let shifted = chrono::DateTime::parse_from_rfc3339(time).unwrap();
        let ahead = shifted.to_utc() - chrono::Utc::now();
        assert!((3590..=3601).contains(&ahead.num_seconds()), "{ahead}");

        let (_, structured, _) = finish(
            server
                .parse_relative_time(args(json!({"time_expression": "2026-01-05 10:00"})))
                .await,
        );
        assert_eq!(structured["time"], "2026-01-05T10:00:00Z");
        let (result, _, text) = finish(
            server
                .parse_relative_time(args(json!({"time_expression": "banana"})))
                .await,
        );
        assert_eq!(result.is_error, Some(true));
        assert!(
            text.contains("2 hours ago") && text.contains("last monday"),
            "{text}"
        );
    }
}

#[test]
fn ids_are_marked_required_in_the_schemas() {
    let router = okta_tool_router();
    let required = |tool: &str| -> Vec<String> {
        let tool = router.get(tool).unwrap();
        serde_json::from_value(
            tool.input_schema
                .get("required")
                .cloned()
                .unwrap_or_default(),
        )
        .unwrap_or_default()
    };
    assert_eq!(required("get_okta_user"), ["user_id"]);
    assert_eq!(required("list_okta_group_users"), ["group_id"]);
    assert_eq!(required("list_okta_application_users"), ["app_id"]);
    assert_eq!(required("list_okta_policies"), ["type"]);
    assert_eq!(required("get_okta_policy_rule"), ["policy_id", "rule_id"]);
    assert_eq!(required("parse_relative_time"), ["time_expression"]);
    for optional_only in ["list_okta_users", "get_okta_event_logs", "get_current_time"] {
        assert!(required(optional_only).is_empty(), "{optional_only}");
    }
}

/// Every list tool's declared types are checked while parsing, with the same result as the
/// check after parsing (`Shape::conform`) that answers with caller-named fields use.
#[test]
fn declared_types_checked_while_parsing_match_the_check_after_parsing() {
    use crate::okta::projection::{Fields, parse};
    use serde_json::{Value, json};
    use shape::Kind;

    /// Sets `value` at a declared path (`a[].b` makes `a` a list of one object).
    fn set(item: &mut Value, path: &str, value: Value) {
        let (first, rest) = path.split_once('.').unwrap_or((path, ""));
        let (name, array) = match first.strip_suffix("[]") {
            Some(name) => (name, true),
            None => (first, false),
        };
        if rest.is_empty() {
            item[name] = value;
            return;
        }
        if array {
            if !item[name].is_array() {
                item[name] = json!([{}]);
            }
            set(&mut item[name][0], rest, value);
        } else {
            if !item[name].is_object() {
                item[name] = json!({});
            }
            set(&mut item[name], rest, value);
        }
    }

    for tool in TOOL_NAMES {
        let Some((_, shape)) = list_shape(tool) else {
            continue;
        };
        let (mut right, mut wrong, mut flat) = (json!({}), json!({}), json!({}));
        for (path, kind) in shape.fields {
            let (good, bad) = match kind {
                Kind::Text => (json!("text"), json!(5)),
                Kind::Time => (json!("2026-01-01T00:00:00.000Z"), json!(true)),
                Kind::Flag => (json!(true), json!("yes")),
                Kind::Count => (json!(3), json!(1.5)),
                Kind::Any => (json!({"any": [1]}), json!("any")),
            };
            set(&mut right, path, good);
            set(&mut wrong, path, bad);
            // A parent of another type than an object or a list.
            let top = path.split(['.', '[']).next().unwrap_or(path);
            flat[top] = json!("flat");
        }
        let body = serde_json::to_vec(&json!([right, wrong, flat, 7])).unwrap();
        let typed = shape.projection(&shape::ExtraFields::default());
        assert!(typed.checks_types(), "{tool}");
        let checked_while_parsing = parse(&body, &typed).unwrap();
        let untyped = Fields::of(
            shape
                .fields
                .iter()
                .map(|(p, _)| p.replace("[]", ""))
                .collect::<Vec<_>>()
                .iter()
                .map(String::as_str),
        );
        let Value::Array(mut items) = parse(&body, &untyped).unwrap() else {
            panic!("{tool}: not a list");
        };
        shape::conform_all(shape, &mut items);
        assert_eq!(checked_while_parsing, Value::Array(items), "{tool}");
        assert_eq!(
            checked_while_parsing[0], right,
            "{tool}: right types are kept"
        );
    }
}
