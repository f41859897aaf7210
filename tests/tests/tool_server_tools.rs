//! End to end: every tool answers with the right data from the fake org, pages correctly, and
//! survives Okta's failures (429, 5xx, 404) the way a user would want.
//!
//! Expected values come from the fake org's seeded dataset (the same seed the server uses), so a
//! tool that drops, duplicates or mangles items fails here.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use okta_mcp_tests::fake_okta::Dataset;
use okta_mcp_tests::fake_okta::dataset::{
    ALICE_ID, BIG_GROUP_ID, BIG_GROUP_SIZE, DEFAULT_SEED, HELP_DESK_GROUP_ID,
};
use okta_mcp_tests::harness::{FakeOkta, McpClient, ToolServer};
use okta_mcp_tool_server::tools::{is_write, portability_problems};
use serde_json::{Value, json};

async fn admin(env: &[(&str, &str)], okta_flags: &[&str]) -> (FakeOkta, ToolServer, McpClient) {
    let okta = FakeOkta::start(okta_flags);
    let server = ToolServer::start(&okta, env).await;
    let mut client = McpClient::new(&server.mcp_url, "super-admin", "00u-admin");
    client.initialize().await;
    (okta, server, client)
}

fn names(items: &Value, key: &str, field: &str) -> BTreeSet<String> {
    items[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {items}"))
        .iter()
        .map(|item| {
            field
                .split('.')
                .fold(item, |v, part| &v[part])
                .as_str()
                .unwrap_or_else(|| panic!("no {field} in {item}"))
                .to_owned()
        })
        .collect()
}

fn contains_links(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k == "_links" || k == "_embedded" || contains_links(v)),
        Value::Array(items) => items.iter().any(contains_links),
        _ => false,
    }
}

/// Calls a list tool page by page with `after` and returns every item.
async fn all_pages(
    client: &mut McpClient,
    tool: &str,
    mut args: Value,
    key: &str,
) -> (Vec<Value>, usize) {
    let mut items = Vec::new();
    let mut calls = 0;
    loop {
        let page = client.call_ok(tool, args.clone()).await;
        calls += 1;
        assert!(!contains_links(&page), "{tool} leaked _links");
        let batch = page[key].as_array().unwrap_or_else(|| panic!("{page}"));
        assert_eq!(
            page["count"].as_u64(),
            Some(batch.len() as u64),
            "{tool} count"
        );
        items.extend(batch.iter().cloned());
        match page["after"].as_str() {
            Some(after) => args["after"] = json!(after),
            None => return (items, calls),
        }
        assert!(calls < 100, "{tool}: runaway paging");
    }
}

#[tokio::test]
async fn user_tools_answer_from_the_seeded_org() {
    let (_okta, _server, mut client) = admin(&[], &[]).await;
    let data = Dataset::generate(DEFAULT_SEED);

    // By login and by id, without Okta's _links, with a compact text form.
    let response = client
        .call("get_okta_user", json!({"user_id": "alice@example.com"}))
        .await;
    let result = &response["result"];
    let user = &result["structuredContent"]["user"];
    assert_eq!(user["id"], ALICE_ID);
    assert_eq!(user["profile"]["email"], "alice@example.com");
    assert_eq!(user["status"], "ACTIVE");
    assert!(!contains_links(&result["structuredContent"]));
    let text = result["content"][0]["text"].as_str().expect("text content");
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(
        !text.contains("_links") && !text.contains("\"href\""),
        "{text}"
    );
    let by_id = client
        .call_ok("get_okta_user", json!({"user_id": ALICE_ID}))
        .await;
    assert_eq!(by_id["user"]["profile"]["login"], "alice@example.com");

    // Groups of a login (resolved to an id first).
    let groups = client
        .call_ok(
            "list_okta_user_groups",
            json!({"user_id": "alice@example.com"}),
        )
        .await;
    assert_eq!(
        names(&groups, "groups", "profile.name"),
        BTreeSet::from(["Everyone".to_string(), "sso-help-desk".to_string()])
    );
    assert_eq!(groups["user_id"], ALICE_ID);

    // Apps: Zendesk and ServiceNow directly, Google Workspace and Slack through Everyone.
    let apps = client
        .call_ok("list_okta_user_applications", json!({"user_id": ALICE_ID}))
        .await;
    let labels = names(&apps, "applications", "label");
    for label in ["Zendesk", "ServiceNow", "Google Workspace", "Slack"] {
        assert!(labels.contains(label), "{label} missing from {labels:?}");
    }

    let factors = client
        .call_ok("list_okta_user_factors", json!({"user_id": ALICE_ID}))
        .await;
    assert_eq!(factors["count"], data.factors_of(ALICE_ID).len());
    assert_eq!(factors["count"], 2);

    // A security question shows its text.
    let question = data
        .factors
        .iter()
        .find(|f| f.factor_type == "question")
        .expect("a user with a security question");
    let response = client
        .call(
            "list_okta_user_factors",
            json!({"user_id": question.user_id}),
        )
        .await;
    let text = response["result"]["content"][0]["text"].as_str().unwrap();
    let question_text = question.profile["questionText"].as_str().unwrap();
    assert!(
        text.contains(&format!("question  OKTA  ACTIVE  {question_text}")),
        "{text}"
    );

    // SCIM search, paged: exactly the users the dataset says, no gaps, no duplicates.
    let (users, _) = all_pages(
        &mut client,
        "list_okta_users",
        json!({"search": "profile.lastName sw \"Sm\"", "limit": 30}),
        "users",
    )
    .await;
    let expected: BTreeSet<&str> = data
        .users
        .iter()
        .filter(|u| u.profile.last_name.to_lowercase().starts_with("sm"))
        .map(|u| u.id.as_str())
        .collect();
    let got: BTreeSet<&str> = users.iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(got.len(), users.len(), "duplicates in search pages");
    assert_eq!(got, expected);

    // `max_results` is still accepted as the original name of `limit`.
    let page = client
        .call_ok("list_okta_users", json!({"max_results": 7}))
        .await;
    assert_eq!(page["count"], 7);
    assert!(page["after"].is_string());
}

#[tokio::test]
async fn the_big_group_pages_with_after_without_gaps_or_duplicates() {
    let (okta, _server, mut client) = admin(&[], &[]).await;
    let data = Dataset::generate(DEFAULT_SEED);
    let expected: BTreeSet<String> = data
        .group(BIG_GROUP_ID)
        .expect("big group")
        .member_ids
        .iter()
        .cloned()
        .collect();
    assert_eq!(expected.len(), BIG_GROUP_SIZE);

    for (limit, expected_calls) in [(200, 8), (1000, 2)] {
        okta.reset_stats().await;
        let started = Instant::now();
        let (users, tool_calls) = all_pages(
            &mut client,
            "list_okta_group_users",
            json!({"group_id": BIG_GROUP_ID, "limit": limit}),
            "users",
        )
        .await;
        let elapsed = started.elapsed();
        let ids: BTreeSet<String> = users
            .iter()
            .filter_map(|u| u["id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(ids.len(), users.len(), "duplicates at limit {limit}");
        assert_eq!(ids, expected, "gaps at limit {limit}");
        assert_eq!(tool_calls, expected_calls);
        let okta_calls = okta.stats().await["requests"].as_u64().unwrap();
        assert_eq!(
            okta_calls, expected_calls as u64,
            "Okta calls at limit {limit}"
        );
        eprintln!(
            "big group, limit {limit}: {tool_calls} tool calls, {okta_calls} Okta calls, {elapsed:?}"
        );
    }

    // With 100 ms of Okta latency the cost is the same number of calls.
    okta.faults(json!({"latency_ms": 100})).await;
    okta.reset_stats().await;
    let started = Instant::now();
    let (users, _) = all_pages(
        &mut client,
        "list_okta_group_users",
        json!({"group_id": BIG_GROUP_ID, "limit": 1000}),
        "users",
    )
    .await;
    assert_eq!(users.len(), BIG_GROUP_SIZE);
    assert_eq!(okta.stats().await["requests"], 2);
    eprintln!(
        "big group, limit 1000, 100 ms latency: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn group_app_log_policy_and_zone_tools_answer_from_the_seeded_org() {
    let (_okta, _server, mut client) = admin(&[], &[]).await;
    let data = Dataset::generate(DEFAULT_SEED);

    let group = client
        .call_ok("get_okta_group", json!({"group_id": HELP_DESK_GROUP_ID}))
        .await;
    assert_eq!(group["group"]["profile"]["name"], "sso-help-desk");
    let groups = client
        .call_ok("list_okta_groups", json!({"query": "sso-", "limit": 50}))
        .await;
    let found = names(&groups, "groups", "profile.name");
    for name in ["sso-help-desk", "sso-security-admins", "sso-super-admins"] {
        assert!(found.contains(name), "{name} not in {found:?}");
    }
    let help_desk = client
        .call_ok(
            "list_okta_group_users",
            json!({"group_id": HELP_DESK_GROUP_ID}),
        )
        .await;
    assert_eq!(
        names(&help_desk, "users", "id"),
        BTreeSet::from([ALICE_ID.to_string()])
    );

    // Apps: by label prefix (the original's `search` keeps working as `q`), then by id.
    let zoom = data.app_by_label("Zoom").expect("Zoom app");
    for args in [json!({"query": "Zoom"}), json!({"search": "Zoom"})] {
        let apps = client.call_ok("list_okta_applications", args.clone()).await;
        assert!(
            names(&apps, "applications", "id").contains(&zoom.id),
            "{args}: {apps}"
        );
    }
    let app = client
        .call_ok("get_okta_application", json!({"app_id": zoom.id}))
        .await;
    assert_eq!(app["application"]["label"], "Zoom");
    // Group assignments come with their group's name (Okta's `expand=group`).
    let response = client
        .call("list_okta_application_groups", json!({"app_id": zoom.id}))
        .await;
    let zoom_groups = &response["result"]["structuredContent"];
    assert_eq!(
        names(zoom_groups, "groups", "id"),
        BTreeSet::from([BIG_GROUP_ID.to_string()])
    );
    assert_eq!(zoom_groups["groups"][0]["groupName"], "big-group");
    let text = response["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("{BIG_GROUP_ID}  big-group")),
        "{text}"
    );
    // Fewer than Okta's smallest page of 20: 20 asked for, one shown, said so.
    let okta_mcp = data.app_by_label("okta-mcp").expect("okta-mcp app");
    let one = client
        .call_ok(
            "list_okta_application_groups",
            json!({"app_id": okta_mcp.id, "limit": 1}),
        )
        .await;
    assert_eq!(
        (one["count"].as_u64(), one["truncated"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(one["groups"][0]["id"], okta_mcp.group_ids[0].as_str());
    let zoom_index = data.apps.iter().position(|a| a.id == zoom.id).unwrap();
    let (assigned, _) = all_pages(
        &mut client,
        "list_okta_application_users",
        json!({"app_id": zoom.id, "limit": 1000}),
        "users",
    )
    .await;
    assert_eq!(assigned.len(), data.app_assignments(zoom_index).len());

    // System Log: failed sign-ins over the whole 30 days, paged, bounded by `until`.
    let filter = "eventType eq \"user.session.start\" and outcome.result eq \"FAILURE\"";
    let (events, _) = all_pages(
        &mut client,
        "get_okta_event_logs",
        json!({"since": "31 days ago", "filter_string": filter, "limit": 100}),
        "events",
    )
    .await;
    let expected = data
        .log_events
        .iter()
        .filter(|e| e.event_type == "user.session.start" && e.outcome == "FAILURE")
        .count();
    assert_eq!(events.len(), expected);
    assert!(
        events
            .iter()
            .all(|e| e["eventType"] == "user.session.start")
    );
    // Each event line names what the event acted on (Okta's `target`).
    let sso = "eventType eq \"user.authentication.sso\"";
    let response = client
        .call(
            "get_okta_event_logs",
            json!({"since": "31 days ago", "filter_string": sso, "limit": 3}),
        )
        .await;
    let text = response["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(text.matches("  target=").count(), 3, "{text}");

    // Policies: type is required by Okta; rules by policy id.
    let access = data.policies_of_type("ACCESS_POLICY");
    let policies = client
        .call_ok("list_okta_policies", json!({"type": "ACCESS_POLICY"}))
        .await;
    assert_eq!(policies["count"], access.len());
    let policy = access[0];
    let rules = client
        .call_ok("list_okta_policy_rules", json!({"policy_id": policy.id}))
        .await;
    assert_eq!(rules["count"], policy.rules.len());
    let rule = client
        .call_ok(
            "get_okta_policy_rule",
            json!({"policy_id": policy.id, "rule_id": policy.rules[0].id}),
        )
        .await;
    assert_eq!(rule["rule"]["id"], policy.rules[0].id.as_str());

    let zones = client
        .call_ok(
            "list_okta_network_zones",
            json!({"filter_type": "usage eq \"BLOCKLIST\""}),
        )
        .await;
    let expected = data.zones.iter().filter(|z| z.usage == "BLOCKLIST").count();
    assert_eq!(zones["count"], expected);

    // An enhanced dynamic zone shows what it includes and excludes, structured and as text.
    let response = client.call("list_okta_network_zones", json!({})).await;
    let zones = &response["result"]["structuredContent"]["zones"];
    let enhanced = zones
        .as_array()
        .unwrap()
        .iter()
        .find(|z| z["name"] == "North America without proxies")
        .expect("the DYNAMIC_V2 zone");
    assert_eq!(enhanced["type"], "DYNAMIC_V2");
    assert_eq!(enhanced["locations"]["include"][0]["country"], "US");
    assert_eq!(enhanced["asns"]["exclude"], json!(["64511"]));
    let text = response["result"]["content"][0]["text"].as_str().unwrap();
    for part in [
        "DefaultEnhancedDynamicZone  [DYNAMIC_V2, BLOCKLIST]  ACTIVE  \
         ipServiceCategories.include=ALL_ANONYMIZERS",
        "locations.include=US,CA  locations.exclude=US/US-TX  asns.include=64496,64497  \
         asns.exclude=64511  ipServiceCategories.exclude=ALL_PROXIES_VPNS,APPLE_ICLOUD_RELAY_PROXY",
    ] {
        assert!(text.contains(part), "{part} not in {text}");
    }
}

/// Clients that map tool schemas onto one type per field (Gemini, the MCP Inspector) take every
/// schema `tools/list` shows, and a client that sends `null` for "no value" gets what leaving
/// the argument out gets.
#[tokio::test]
async fn schemas_are_portable_and_null_means_absent() {
    let (_okta, _server, mut client) = admin(&[], &[]).await;
    let data = Dataset::generate(DEFAULT_SEED);
    let zoom = data.app_by_label("Zoom").expect("Zoom app");
    let policy = data.policies_of_type("ACCESS_POLICY")[0];
    let required = json!({
        "user_id": ALICE_ID,
        "group_id": HELP_DESK_GROUP_ID,
        "app_id": zoom.id,
        "policy_id": policy.id,
        "rule_id": policy.rules[0].id,
        "type": "ACCESS_POLICY",
        "time_expression": "2026-01-05 10:00",
    });
    // These answer relative to the clock, so two calls may differ by a second.
    let clocked = ["get_current_time", "get_okta_event_logs"];

    let listed = client.request("tools/list", json!({})).await;
    let tools = listed["result"]["tools"].as_array().expect("tools");
    // The 19 read tools and the 7 write tools the shipped policy names for super-admin.
    assert_eq!(tools.len(), 26);
    for tool in tools {
        let name = tool["name"].as_str().expect("name");
        let schema = &tool["inputSchema"];
        let problems = portability_problems(schema);
        assert!(problems.is_empty(), "{name}: {problems:#?} in {schema:#}");
        // A write tool's first call answers with a fresh confirmation token each time; write
        // tools' arguments are checked in tool_server_writes.rs.
        if is_write(name) {
            continue;
        }

        let needed: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut absent = json!({});
        for param in &needed {
            absent[*param] = required[*param].clone();
        }
        let mut nulls = absent.clone();
        for param in schema["properties"].as_object().expect("properties").keys() {
            if !needed.contains(&param.as_str()) {
                nulls[param] = Value::Null;
            }
        }
        let with_nulls = client.call_ok(name, nulls.clone()).await;
        if !clocked.contains(&name) {
            let without = client.call_ok(name, absent).await;
            assert_eq!(with_nulls, without, "{name}({nulls})");
        }
    }
}

/// The list tools whose structured result is declared by an output schema.
const LIST_TOOLS: [&str; 13] = [
    "list_okta_users",
    "list_okta_user_groups",
    "list_okta_user_applications",
    "list_okta_user_factors",
    "list_okta_groups",
    "list_okta_group_users",
    "list_okta_applications",
    "list_okta_application_users",
    "list_okta_application_groups",
    "get_okta_event_logs",
    "list_okta_policies",
    "list_okta_policy_rules",
    "list_okta_network_zones",
];

/// Every key path of `value` (`profile.login`, `target.alternateId`), arrays looked through.
fn key_paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                out.insert(path.clone());
                key_paths(child, &path, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| key_paths(i, prefix, out)),
        _ => {}
    }
}

/// Lean results: each list tool's structured items hold what its output schema declares (and
/// validate against it), its text is the same whatever `fields` asks, and `fields` brings
/// more: a named property, or everything with `*`.
#[tokio::test]
async fn list_tools_answer_their_declared_fields_and_more_on_request() {
    let (_okta, _server, mut client) = admin(&[], &[]).await;
    let data = Dataset::generate(DEFAULT_SEED);
    let zoom = data.app_by_label("Zoom").expect("Zoom app");
    let policy = data.policies_of_type("ACCESS_POLICY")[0];
    let args = json!({
        "user_id": ALICE_ID,
        "group_id": HELP_DESK_GROUP_ID,
        "app_id": zoom.id,
        "policy_id": policy.id,
        "type": "ACCESS_POLICY",
        "since": "2000-01-01T00:00:00Z",
        "until": "2000-01-01T00:00:00Z",
        "limit": 20,
    });
    let listed = client.request("tools/list", json!({})).await;
    let tools = listed["result"]["tools"].as_array().expect("tools");
    let with_schema: BTreeSet<&str> = tools
        .iter()
        .filter(|t| t.get("outputSchema").is_some())
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(with_schema, LIST_TOOLS.into_iter().collect());

    for tool in tools.iter().filter(|t| t.get("outputSchema").is_some()) {
        let name = tool["name"].as_str().expect("name");
        let schema = &tool["outputSchema"];
        let validator = jsonschema::validator_for(schema)
            .unwrap_or_else(|e| panic!("{name}: invalid output schema {e}: {schema:#}"));
        let key = schema["properties"]
            .as_object()
            .and_then(|p| {
                p.keys()
                    .find(|k| !["count", "after", "truncated"].contains(&k.as_str()))
            })
            .expect("the items key")
            .clone();
        let declared = {
            let mut paths = BTreeSet::new();
            let item = &schema["properties"][&key]["items"];
            fn walk(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
                let Some(properties) = schema["properties"].as_object() else {
                    if let Some(items) = schema.get("items") {
                        walk(items, prefix, out);
                    }
                    return;
                };
                for (name, child) in properties {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    out.insert(path.clone());
                    if child.get("type").is_none() {
                        // A field of any shape (a zone's `locations`): all below it is declared.
                        out.insert(format!("{path}.*"));
                    }
                    walk(child, &path, out);
                }
            }
            walk(item, "", &mut paths);
            paths
        };
        let is_declared = |path: &String| {
            declared.contains(path)
                || declared.iter().any(|d| {
                    d.strip_suffix(".*")
                        .is_some_and(|open| path.starts_with(&format!("{open}.")))
                })
        };

        let mut call_args = args.clone();
        if name == "get_okta_event_logs" {
            // A window with events in it.
            call_args["since"] = json!("30 days ago");
            call_args["until"] = json!("now");
        }
        let lean = client.call(name, call_args.clone()).await;
        let mut all_args = call_args.clone();
        all_args["fields"] = json!(["*"]);
        let full = client.call(name, all_args).await;
        for answer in [&lean, &full] {
            assert_ne!(answer["result"]["isError"], true, "{name}: {answer}");
            let structured = &answer["result"]["structuredContent"];
            let errors: Vec<String> = validator
                .iter_errors(structured)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:#?}");
        }
        assert_eq!(
            lean["result"]["content"], full["result"]["content"],
            "{name}: the text does not depend on fields"
        );
        let items = lean["result"]["structuredContent"][&key]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {lean}"));
        assert!(
            !items.is_empty(),
            "{name} found nothing to check with {call_args}"
        );
        let mut seen = BTreeSet::new();
        for item in items {
            key_paths(item, "", &mut seen);
        }
        let undeclared: Vec<&String> = seen.iter().filter(|p| !is_declared(p)).collect();
        assert!(
            undeclared.is_empty(),
            "{name} answered undeclared {undeclared:?}"
        );
        let mut seen_full = BTreeSet::new();
        for item in full["result"]["structuredContent"][&key]
            .as_array()
            .expect("items")
        {
            key_paths(item, "", &mut seen_full);
        }
        // Users, groups, apps and events have far more than their declared fields; a policy or
        // a zone of the fake org may have nothing more (its other fields are null).
        let richer = [
            "list_okta_users",
            "list_okta_group_users",
            "list_okta_groups",
            "list_okta_user_groups",
            "list_okta_applications",
            "get_okta_event_logs",
        ];
        let adds = !richer.contains(&name) || seen_full.len() > seen.len();
        assert!(
            adds && seen.is_subset(&seen_full),
            "{name}: fields=[\"*\"] must add to {seen:?}, got {seen_full:?}"
        );
        assert!(!contains_links(&full["result"]["structuredContent"]));
    }

    // One named property comes on top of the declared ones; bad names are clear errors.
    let users = client
        .call_ok(
            "list_okta_users",
            json!({"limit": 5, "fields": ["profile.department", "credentials.provider"]}),
        )
        .await;
    let first = &users["users"][0];
    assert!(first["profile"]["department"].is_string(), "{first}");
    assert!(first["profile"]["login"].is_string(), "{first}");
    assert!(
        first["credentials"]["provider"]["type"].is_string(),
        "{first}"
    );
    assert!(first["profile"].get("mobilePhone").is_none(), "{first}");
    for bad in [
        json!(["profile..login"]),
        json!(["a b"]),
        json!(["x".repeat(300)]),
        json!((0..51).map(|i| format!("f{i}")).collect::<Vec<_>>()),
        json!(7),
        json!([{"nested": true}]),
    ] {
        let answer = client
            .call("list_okta_users", json!({"limit": 1, "fields": bad}))
            .await;
        let error_text = answer["result"]["content"][0]["text"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| answer["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        assert!(
            answer["result"]["isError"] == true || answer.get("error").is_some(),
            "{bad} was accepted: {answer}"
        );
        assert!(error_text.contains("field"), "{bad}: {error_text}");
    }
}

#[tokio::test]
async fn okta_failures_are_retried_or_reported_as_tool_errors() {
    let (okta, _server, mut client) = admin(&[], &[]).await;

    // Two 429s: the call still succeeds, after waiting for X-Rate-Limit-Reset each time.
    okta.faults(json!({"inject_429": 2, "inject_429_reset_secs": 1}))
        .await;
    okta.reset_stats().await;
    let started = Instant::now();
    let user = client
        .call_ok("get_okta_user", json!({"user_id": ALICE_ID}))
        .await;
    let waited = started.elapsed();
    assert_eq!(user["user"]["id"], ALICE_ID);
    let stats = okta.stats().await;
    assert_eq!(stats["status_429"], 2);
    assert_eq!(stats["requests"], 3);
    assert!(
        waited >= Duration::from_millis(900),
        "did not wait for Reset: {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(6),
        "waited too long: {waited:?}"
    );

    // Two 503s: retried with backoff, then success.
    okta.faults(json!({"inject_5xx": 2})).await;
    let group = client
        .call_ok("get_okta_group", json!({"group_id": BIG_GROUP_ID}))
        .await;
    assert_eq!(group["group"]["id"], BIG_GROUP_ID);
    assert_eq!(okta.stats().await["status_5xx"], 2);

    // Okta's 404 reaches the model as a tool error with Okta's code and summary.
    let missing = client
        .call("get_okta_user", json!({"user_id": "00unosuchuser0000000"}))
        .await;
    let result = &missing["result"];
    assert_eq!(result["isError"], true, "{missing}");
    let text = result["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("E0000007"), "{text}");
    assert!(text.contains("Not found"), "{text}");
    assert_eq!(result["structuredContent"]["errorCode"], "E0000007");

    // Okta's validation error (bad SCIM filter) too.
    let bad = client
        .call(
            "list_okta_users",
            json!({"search": "profile.lastName zz \"x\""}),
        )
        .await;
    assert_eq!(bad["result"]["isError"], true, "{bad}");
    assert!(
        bad["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("E0000031")
    );
}

#[tokio::test]
async fn bad_arguments_get_clear_errors() {
    let (okta, server, mut client) = admin(&[], &[]).await;
    okta.reset_stats().await;
    let cases = [
        ("list_okta_users", json!({"limit": 0}), "limit"),
        ("list_okta_users", json!({"limit": 100000}), "limit"),
        ("list_okta_users", json!({"limit": "many"}), "limit"),
        (
            "list_okta_users",
            json!({"sort_order": "sideways", "search": "status eq \"ACTIVE\""}),
            "sort_order",
        ),
        ("get_okta_user", json!({"user_id": ""}), "user_id"),
        ("get_okta_user", json!({}), "user_id"),
        (
            "get_okta_event_logs",
            json!({"since": "the day after never"}),
            "since",
        ),
        (
            "get_okta_event_logs",
            json!({"since": "now", "until": "2 days ago"}),
            "since",
        ),
        ("list_okta_policies", json!({}), "type"),
        (
            "parse_relative_time",
            json!({"time_expression": "whenever"}),
            "time",
        ),
    ];
    for (tool, args, needle) in cases {
        let response = client.call(tool, args.clone()).await;
        let message = if let Some(error) = response.get("error") {
            error["message"].as_str().unwrap_or_default().to_owned()
        } else {
            assert_eq!(
                response["result"]["isError"], true,
                "{tool}({args}): {response}"
            );
            response["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            message.to_lowercase().contains(needle),
            "{tool}({args}): message should mention {needle}: {message}"
        );
    }
    assert_eq!(
        okta.stats().await["requests"],
        0,
        "bad arguments must not reach Okta"
    );

    // Ids cannot walk to other Okta endpoints.
    let traversal = client
        .call("get_okta_user", json!({"user_id": "../apps"}))
        .await;
    assert!(
        traversal.get("error").is_some() || traversal["result"]["isError"] == true,
        "{traversal}"
    );
    let stats = okta.stats().await;
    assert!(stats["by_path"].get("/api/v1/apps").is_none(), "{stats}");
    assert!(server.process.logs().contains("tools/call"));
}

#[tokio::test]
async fn the_okta_concurrency_limit_and_rate_budget_hold() {
    // At most 2 Okta requests in flight, whatever the number of concurrent tool calls.
    let (okta, server, _client) =
        admin(&[("OKTA_CONCURRENT_LIMIT", "2")], &["--latency-ms", "50"]).await;
    okta.reset_stats().await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let url = server.mcp_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = McpClient::new(&url, "viewer", &format!("00u-{i}"));
            c.initialize().await;
            c.call_ok("get_okta_user", json!({"user_id": ALICE_ID}))
                .await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap()["user"]["id"], ALICE_ID);
    }
    let stats = okta.stats().await;
    assert_eq!(stats["requests"], 8);
    assert_eq!(stats["max_in_flight"], 2, "{stats}");

    // A tiny rate budget: Okta answers 429s, the model never sees one.
    let (okta, _server, mut client) = admin(
        &[],
        &[
            "--rate-limit-per-minute",
            "3",
            "--rate-limit-reset-secs",
            "1",
        ],
    )
    .await;
    okta.reset_stats().await;
    for _ in 0..8 {
        let user = client
            .call_ok("get_okta_user", json!({"user_id": ALICE_ID}))
            .await;
        assert_eq!(user["user"]["id"], ALICE_ID);
    }
    assert!(okta.stats().await["status_429"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn time_tools_are_right_in_utc_under_another_time_zone() {
    let (_okta, _server, mut client) = admin(&[("TZ", "America/Los_Angeles")], &[]).await;
    let now = chrono::Utc::now();
    let current = client.call_ok("get_current_time", json!({})).await;
    let text = current["time"].as_str().unwrap();
    assert!(text.ends_with('Z'), "{text}");
    let parsed = chrono::DateTime::parse_from_rfc3339(text).unwrap();
    assert!(
        (parsed.timestamp() - now.timestamp()).abs() <= 5,
        "{text} vs {now}"
    );

    let ahead = client
        .call_ok("get_current_time", json!({"buffer_hours": 2}))
        .await;
    let ahead = chrono::DateTime::parse_from_rfc3339(ahead["time"].as_str().unwrap()).unwrap();
    assert!((ahead.timestamp() - now.timestamp() - 7200).abs() <= 5);

    let date = client
        .call_ok(
            "parse_relative_time",
            json!({"time_expression": "2026-01-05"}),
        )
        .await;
    assert_eq!(date["time"], "2026-01-05T00:00:00Z");
    let ago = client
        .call_ok(
            "parse_relative_time",
            json!({"time_expression": "2 hours ago"}),
        )
        .await;
    let ago = chrono::DateTime::parse_from_rfc3339(ago["time"].as_str().unwrap()).unwrap();
    assert!((now.timestamp() - 7200 - ago.timestamp()).abs() <= 5);
    let later = client
        .call_ok(
            "parse_relative_time",
            json!({"time_expression": "in 3 days"}),
        )
        .await;
    let later = chrono::DateTime::parse_from_rfc3339(later["time"].as_str().unwrap()).unwrap();
    assert!((later.timestamp() - now.timestamp() - 3 * 86400).abs() <= 5);
    let yesterday = client
        .call_ok(
            "parse_relative_time",
            json!({"time_expression": "yesterday"}),
        )
        .await;
    let expected = (now - chrono::Duration::days(1))
        .format("%Y-%m-%dT00:00:00Z")
        .to_string();
    assert_eq!(yesterday["time"], expected);
}
