//! End to end: the write tools change the fake Okta org exactly once, and only after a person
//! confirmed: through MCP elicitation (the official TypeScript SDK client answering) or with a
//! one-time token bound to the caller, the tool, the target and the arguments.
//!
//! Real processes: fake-okta, okta-mcp-tool-server and (for the SDK tests) okta-mcp-proxy with
//! `node tests/clients/write-flow.mjs`. The other tests sign identity headers as the proxy does.
//! Every outcome is checked in the org through its own API: the user's status, groups and
//! factors, and the System Log events the change wrote.

use std::time::Duration;

use okta_mcp_tests::fake_okta::Dataset;
use okta_mcp_tests::fake_okta::dataset::{DEFAULT_SEED, GroupType, UserStatus};
use okta_mcp_tests::harness::{
    FakeOkta, McpClient, Stack, TEST_API_TOKEN, TEST_IDENTITY_KEY, ToolServer, http_client,
    node_client,
};
use okta_mcp_tool_server::confirm::{Binding, Confirmations, TOKEN_LIFETIME};
use serde_json::{Value, json};

/// Users, groups and factors of the seeded org that the tests change.
struct Targets {
    /// ACTIVE users (not the demo users), each with at least one factor.
    active: Vec<(String, String)>,
    /// A SUSPENDED user.
    suspended: (String, String),
    /// An OKTA_GROUP none of `active` belongs to.
    group: String,
    /// An APP_GROUP, whose memberships the API cannot change.
    app_group: String,
    data: Dataset,
}

fn targets() -> Targets {
    let data = Dataset::generate(DEFAULT_SEED);
    let demo = ["alice", "bob", "carol", "dave"];
    let has_factor = |id: &str| data.factors.iter().any(|f| f.user_id == id);
    let active: Vec<(String, String)> = data
        .users
        .iter()
        .filter(|u| u.status == UserStatus::Active)
        .filter(|u| !demo.iter().any(|d| u.profile.login.starts_with(d)))
        .filter(|u| u.profile.login.is_ascii() && has_factor(&u.id))
        .take(8)
        .map(|u| (u.id.clone(), u.profile.login.clone()))
        .collect();
    assert_eq!(
        active.len(),
        8,
        "the seeded org has active users with factors"
    );
    let suspended = data
        .users
        .iter()
        .find(|u| u.status == UserStatus::Suspended)
        .map(|u| (u.id.clone(), u.profile.login.clone()))
        .expect("a suspended user in the seeded org");
    let group = data
        .groups
        .iter()
        .find(|g| {
            g.group_type == GroupType::OktaGroup
                && !active.iter().any(|(id, _)| g.member_ids.contains(id))
                && g.member_ids.len() < 200
        })
        .map(|g| g.id.clone())
        .expect("an OKTA_GROUP without the active users");
    let app_group = data
        .groups
        .iter()
        .find(|g| g.group_type == GroupType::AppGroup)
        .map(|g| g.id.clone())
        .expect("an APP_GROUP in the seeded org");
    Targets {
        active,
        suspended,
        group,
        app_group,
        data,
    }
}

impl Targets {
    fn first_factor(&self, user_id: &str) -> String {
        self.data
            .factors
            .iter()
            .find(|f| f.user_id == user_id)
            .map(|f| f.id.clone())
            .expect("a factor")
    }
}

/// `GET {okta}/api/v1/{path}` with the API token: the org as Okta shows it.
async fn okta_get(okta_url: &str, path: &str) -> Value {
    let response = http_client()
        .get(format!("{okta_url}/api/v1/{path}"))
        .header("authorization", format!("SSWS {TEST_API_TOKEN}"))
        .send()
        .await
        .expect("GET from the fake org");
    response.json().await.expect("JSON from the fake org")
}

async fn status_of(okta_url: &str, user_id: &str) -> String {
    okta_get(okta_url, &format!("users/{user_id}")).await["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn groups_of(okta_url: &str, user_id: &str) -> Vec<String> {
    okta_get(okta_url, &format!("users/{user_id}/groups"))
        .await
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["id"].as_str().map(str::to_owned))
        .collect()
}

async fn factors_of(okta_url: &str, user_id: &str) -> Vec<String> {
    okta_get(okta_url, &format!("users/{user_id}/factors"))
        .await
        .as_array()
        .expect("factors")
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_owned))
        .collect()
}

/// How many System Log events of `event_type` name `target` (written by the org's changes).
async fn events(okta_url: &str, event_type: &str, target: &str) -> usize {
    let filter = format!("eventType eq \"{event_type}\" and target.id eq \"{target}\"");
    let path = format!(
        "logs?limit=1000&filter={}",
        url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    okta_get(okta_url, &path)
        .await
        .as_array()
        .map_or(0, Vec::len)
}

/// Every change event the write tools can cause, about `target`.
async fn changes(okta_url: &str, target: &str) -> usize {
    let mut total = 0;
    for event_type in [
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.account.expire_password",
        "user.session.clear",
        "user.mfa.factor.deactivate",
        "group.user_membership.add",
        "group.user_membership.remove",
    ] {
        total += events(okta_url, event_type, target).await;
    }
    total
}

fn result_of(message: &Value) -> &Value {
    assert!(message.get("error").is_none(), "protocol error: {message}");
    &message["result"]
}

fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap_or_default()
}

/// The first call of a write without elicitation: nothing done, a token back.
async fn first_call(client: &mut McpClient, tool: &str, arguments: Value) -> String {
    let message = client.call(tool, arguments.clone()).await;
    let result = result_of(&message);
    assert_ne!(result["isError"], true, "{tool}({arguments}): {message}");
    let structured = &result["structuredContent"];
    assert_eq!(structured["done"], false, "{tool}: {message}");
    assert_eq!(
        structured["confirmation_required"], true,
        "{tool}: {message}"
    );
    assert!(
        text_of(result).starts_with("Nothing was done yet."),
        "{message}"
    );
    structured["confirmation"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {message}"))
        .to_owned()
}

/// The confirmed second call: the same arguments and the token.
async fn confirmed_call(
    client: &mut McpClient,
    tool: &str,
    mut arguments: Value,
    token: &str,
) -> Value {
    arguments["confirmation"] = json!(token);
    client.call(tool, arguments).await
}

/// A write through both calls, which must succeed.
async fn write(client: &mut McpClient, tool: &str, arguments: Value) -> Value {
    let token = first_call(client, tool, arguments.clone()).await;
    let message = confirmed_call(client, tool, arguments.clone(), &token).await;
    let result = result_of(&message);
    assert_ne!(result["isError"], true, "{tool}({arguments}): {message}");
    assert_eq!(result["structuredContent"]["done"], true, "{message}");
    result["structuredContent"].clone()
}

async fn admin_server() -> (FakeOkta, ToolServer, McpClient) {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    let mut client = McpClient::new(&server.mcp_url, "super-admin", "00uadmin000000000001");
    client.initialize().await;
    (okta, server, client)
}

#[tokio::test]
async fn each_write_happens_once_after_its_token_and_not_before() {
    let t = targets();
    let (okta, server, mut admin) = admin_server().await;
    let org = okta.url.as_str();
    let (user, login) = &t.active[0];

    // Suspend by login: the first call only asks, naming the real user.
    let token = first_call(&mut admin, "suspend_okta_user", json!({"user_id": login})).await;
    assert_eq!(status_of(org, user).await, "ACTIVE");
    assert_eq!(changes(org, user).await, 0);
    let message = confirmed_call(
        &mut admin,
        "suspend_okta_user",
        json!({"user_id": login}),
        &token,
    )
    .await;
    let done = &result_of(&message)["structuredContent"];
    assert_eq!(done["done"], true, "{message}");
    assert_eq!(done["result"]["user"]["id"], user.as_str());
    assert!(done["okta_request_id"].as_str().is_some(), "{message}");
    assert_eq!(status_of(org, user).await, "SUSPENDED");
    // The same token again: refused, and nothing more happens.
    let replay = confirmed_call(
        &mut admin,
        "suspend_okta_user",
        json!({"user_id": login}),
        &token,
    )
    .await;
    assert_eq!(result_of(&replay)["isError"], true, "{replay}");
    assert!(
        text_of(&replay["result"]).contains("already used"),
        "{replay}"
    );
    assert_eq!(events(org, "user.lifecycle.suspend", user).await, 1);

    write(&mut admin, "unsuspend_okta_user", json!({"user_id": user})).await;
    assert_eq!(status_of(org, user).await, "ACTIVE");
    assert_eq!(events(org, "user.lifecycle.unsuspend", user).await, 1);

    write(
        &mut admin,
        "expire_okta_user_password",
        json!({"user_id": user}),
    )
    .await;
    assert_eq!(status_of(org, user).await, "PASSWORD_EXPIRED");
    assert_eq!(events(org, "user.account.expire_password", user).await, 1);

    let done = write(
        &mut admin,
        "clear_okta_user_sessions",
        json!({"user_id": user, "oauth_tokens": true}),
    )
    .await;
    assert_eq!(done["result"]["oauth_tokens"], true);
    assert_eq!(events(org, "user.session.clear", user).await, 1);
    // Okta's `forgetDevices` is sent explicitly (true unless asked otherwise), so a Classic
    // Engine org, whose default is false, does the same as an Identity Engine one.
    write(
        &mut admin,
        "clear_okta_user_sessions",
        json!({"user_id": user, "forget_devices": false}),
    )
    .await;
    let stats = okta.stats().await;
    let clears: Vec<String> = stats["requests_seen"]
        .as_array()
        .expect("requests_seen")
        .iter()
        .filter(|r| {
            r["method"] == "DELETE" && r["path"].as_str().is_some_and(|p| p.ends_with("/sessions"))
        })
        .map(|r| r["query"].to_string())
        .collect();
    assert_eq!(
        clears,
        [
            r#"[["oauthTokens","true"],["forgetDevices","true"]]"#,
            r#"[["oauthTokens","false"],["forgetDevices","false"]]"#,
        ],
        "{stats}"
    );

    let factor = t.first_factor(user);
    assert!(factors_of(org, user).await.contains(&factor));
    write(
        &mut admin,
        "reset_okta_user_factor",
        json!({"user_id": user, "factor_id": factor}),
    )
    .await;
    assert!(!factors_of(org, user).await.contains(&factor));
    assert_eq!(events(org, "user.mfa.factor.deactivate", user).await, 1);

    write(
        &mut admin,
        "add_okta_user_to_group",
        json!({"group_id": t.group, "user_id": login}),
    )
    .await;
    assert!(groups_of(org, user).await.contains(&t.group));
    assert_eq!(events(org, "group.user_membership.add", user).await, 1);
    write(
        &mut admin,
        "remove_okta_user_from_group",
        json!({"group_id": t.group, "user_id": user}),
    )
    .await;
    assert!(!groups_of(org, user).await.contains(&t.group));
    assert_eq!(events(org, "group.user_membership.remove", user).await, 1);
    // Seven writes, and the second clear of the sessions (forget_devices=false).
    assert_eq!(changes(org, user).await, 8);

    // One audit line per call, with the target and how it was confirmed; no arguments.
    let logs = server
        .process
        .wait_for_log("tool=remove_okta_user_from_group")
        .await;
    let audit: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" audit: ") && l.contains("write=true"))
        .collect();
    // Two lines for each of the 8 writes (asked, then done), and the refused replay.
    assert_eq!(audit.len(), 2 * 8 + 1, "{logs}");
    let issued = audit
        .iter()
        .find(|l| l.contains("tool=suspend_okta_user") && l.contains("token_issued"))
        .expect("the first call's line");
    assert!(issued.contains(&format!("target_id={user}")), "{issued}");
    assert!(issued.contains("outcome=\"not_done\""), "{issued}");
    let confirmed = audit
        .iter()
        .find(|l| l.contains("tool=suspend_okta_user") && l.contains("confirmation=\"token\""))
        .expect("the confirmed call's line");
    for part in [
        "decision=\"allow\"",
        "outcome=\"ok\"",
        "okta_status=200",
        "role=\"super-admin\"",
        "subject=\"00uadmin000000000001\"",
    ] {
        assert!(confirmed.contains(part), "{part}: {confirmed}");
    }
    assert!(
        confirmed.contains("okta_request_id=") && !confirmed.contains("okta_request_id=\"\""),
        "{confirmed}"
    );
    assert!(
        audit
            .iter()
            .any(|l| l.contains("confirmation=\"token_used\"") && l.contains("tool_error")),
        "{logs}"
    );
    let membership = audit
        .iter()
        .find(|l| l.contains("tool=add_okta_user_to_group") && l.contains("outcome=\"ok\""))
        .expect("membership line");
    assert!(
        membership.contains(&format!("target_id=\"{}/{user}\"", t.group))
            || membership.contains(&format!("target_id={}/{user}", t.group)),
        "{membership}"
    );
    // The login was an argument: it is in no log line, nor is any token.
    assert!(
        !logs.contains(login.as_str()),
        "an argument reached the logs"
    );
    assert!(!logs.contains(&token), "a token reached the logs");
}

#[tokio::test]
async fn a_token_confirms_only_its_own_call() {
    let t = targets();
    let (okta, _server, mut admin) = admin_server().await;
    let org = okta.url.as_str();
    let (user, _) = &t.active[1];
    let (other_user, _) = &t.active[2];
    let args = json!({"user_id": user});
    let token = first_call(&mut admin, "clear_okta_user_sessions", args.clone()).await;

    let refused = |message: &Value, why: &str| {
        let result = result_of(message);
        assert_eq!(result["isError"], true, "{why}: {message}");
        assert_eq!(
            result["structuredContent"]["error"], "invalid_argument",
            "{why}: {message}"
        );
        assert!(text_of(result).contains("Nothing was done"), "{why}");
    };
    // Another user, another tool, other arguments.
    let message = confirmed_call(
        &mut admin,
        "clear_okta_user_sessions",
        json!({"user_id": other_user}),
        &token,
    )
    .await;
    refused(&message, "other user");
    assert!(text_of(&message["result"]).contains("does not match"));
    let message = confirmed_call(&mut admin, "suspend_okta_user", args.clone(), &token).await;
    refused(&message, "other tool");
    let message = confirmed_call(
        &mut admin,
        "clear_okta_user_sessions",
        json!({"user_id": user, "oauth_tokens": true}),
        &token,
    )
    .await;
    refused(&message, "changed arguments");
    // Altered: one character of the signature changed.
    let mut altered = token.clone().into_bytes();
    let at = altered.len() - 3;
    altered[at] = if altered[at] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let message = confirmed_call(
        &mut admin,
        "clear_okta_user_sessions",
        args.clone(),
        &altered,
    )
    .await;
    refused(&message, "altered");
    // Garbage of every kind.
    for junk in [
        "yes",
        "okc1",
        "okc1.1.2.3",
        "okc1.99999999999999999999.AAAA.AAAA",
        &"x".repeat(5000),
        "okc1.\u{0}.é.%2e",
    ] {
        let message =
            confirmed_call(&mut admin, "clear_okta_user_sessions", args.clone(), junk).await;
        refused(&message, "junk");
    }
    // Someone else (same role) presenting this subject's token.
    let mut other = McpClient::new(admin.url(), "super-admin", "00uotheradmin0000001");
    other.initialize().await;
    let message =
        confirmed_call(&mut other, "clear_okta_user_sessions", args.clone(), &token).await;
    refused(&message, "other subject");
    // Expired: a token with the deployment's key, issued three minutes ago for this very call.
    let confirmations = Confirmations::derived_from(TEST_IDENTITY_KEY.as_bytes());
    let now = okta_mcp_tool_server::identity::unix_millis();
    let old = confirmations.issue(
        &Binding {
            subject: "00uadmin000000000001",
            tool: "clear_okta_user_sessions",
            target: user,
            arguments: &json!({"user_id": user, "oauth_tokens": false, "forget_devices": true})
                .to_string(),
        },
        now - TOKEN_LIFETIME.as_millis() as i64 - 60_000,
    );
    let message = confirmed_call(&mut admin, "clear_okta_user_sessions", args.clone(), &old).await;
    refused(&message, "expired");
    assert!(text_of(&message["result"]).contains("expired"), "{message}");
    assert_eq!(changes(org, user).await + changes(org, other_user).await, 0);

    // None of that spent the token: it still confirms its own call, once.
    let message =
        confirmed_call(&mut admin, "clear_okta_user_sessions", args.clone(), &token).await;
    assert_eq!(
        result_of(&message)["structuredContent"]["done"],
        true,
        "{message}"
    );
    assert_eq!(events(org, "user.session.clear", user).await, 1);
}

#[tokio::test]
async fn okta_refusals_and_unknown_targets_come_back_as_oktas_errors() {
    let t = targets();
    let (okta, _server, mut admin) = admin_server().await;
    let org = okta.url.as_str();
    let (suspended, _) = &t.suspended;
    let (active, _) = &t.active[3];

    // Lifecycle transitions Okta refuses: 400 E0000001 with the reason, after confirmation.
    for (tool, user, cause) in [
        ("suspend_okta_user", suspended, "not active"),
        ("unsuspend_okta_user", active, "not suspended"),
        ("expire_okta_user_password", suspended, "not active"),
    ] {
        let args = json!({"user_id": user});
        let token = first_call(&mut admin, tool, args.clone()).await;
        let message = confirmed_call(&mut admin, tool, args, &token).await;
        let result = result_of(&message);
        assert_eq!(result["isError"], true, "{tool}: {message}");
        let s = &result["structuredContent"];
        assert_eq!(s["errorCode"], "E0000001", "{tool}: {message}");
        assert_eq!(s["status"], 400, "{tool}: {message}");
        assert!(
            s["errorCauses"][0]
                .as_str()
                .is_some_and(|c| c.contains(cause)),
            "{tool}: {message}"
        );
        assert!(s.get("changeMayHaveBeenMade").is_none(), "{message}");
    }
    assert_eq!(status_of(org, suspended).await, "SUSPENDED");
    assert_eq!(status_of(org, active).await, "ACTIVE");

    // Unknown users, groups and factors: Okta's 404 at once, and no token.
    let factor = t.first_factor(active);
    for (tool, args) in [
        (
            "suspend_okta_user",
            json!({"user_id": "00unosuchuser0000000"}),
        ),
        (
            "unsuspend_okta_user",
            json!({"user_id": "nobody@example.com"}),
        ),
        (
            "clear_okta_user_sessions",
            json!({"user_id": "00unosuchuser0000000"}),
        ),
        (
            "expire_okta_user_password",
            json!({"user_id": "00unosuchuser0000000"}),
        ),
        (
            "reset_okta_user_factor",
            json!({"user_id": active, "factor_id": "mfanosuchfactor00000"}),
        ),
        (
            "reset_okta_user_factor",
            json!({"user_id": "00unosuchuser0000000", "factor_id": factor}),
        ),
        (
            "add_okta_user_to_group",
            json!({"group_id": "00gnosuchgroup000000", "user_id": active}),
        ),
        (
            "remove_okta_user_from_group",
            json!({"group_id": t.group, "user_id": "00unosuchuser0000000"}),
        ),
    ] {
        let message = admin.call(tool, args.clone()).await;
        let result = result_of(&message);
        assert_eq!(result["isError"], true, "{tool}({args}): {message}");
        assert_eq!(
            result["structuredContent"]["errorCode"], "E0000007",
            "{tool}({args}): {message}"
        );
        assert!(result["structuredContent"].get("confirmation").is_none());
    }

    // A group whose memberships Okta does not let the API change: refused before asking.
    let before = groups_of(org, active).await;
    let message = admin
        .call(
            "add_okta_user_to_group",
            json!({"group_id": t.app_group, "user_id": active}),
        )
        .await;
    let result = result_of(&message);
    assert_eq!(result["isError"], true, "{message}");
    assert!(text_of(result).contains("only OKTA_GROUP"), "{message}");
    assert_eq!(groups_of(org, active).await, before);
    assert_eq!(
        changes(org, active).await + changes(org, suspended).await,
        0
    );
}

#[tokio::test]
async fn bad_arguments_are_refused_before_anything_is_asked_or_changed() {
    let t = targets();
    let (okta, server, mut admin) = admin_server().await;
    let org = okta.url.as_str();
    let (user, _) = &t.active[4];
    let factor = t.first_factor(user);
    let long = "a".repeat(300);
    let mut tried = 0;

    // Values refused as arguments, never sent to Okta.
    for bad in ["", "   ", "..", ".", "a\nb", "\u{0}", long.as_str()] {
        for (tool, args) in [
            ("suspend_okta_user", json!({"user_id": bad})),
            ("unsuspend_okta_user", json!({"user_id": bad})),
            ("expire_okta_user_password", json!({"user_id": bad})),
            ("clear_okta_user_sessions", json!({"user_id": bad})),
            (
                "reset_okta_user_factor",
                json!({"user_id": bad, "factor_id": factor}),
            ),
            (
                "reset_okta_user_factor",
                json!({"user_id": user, "factor_id": bad}),
            ),
            (
                "add_okta_user_to_group",
                json!({"group_id": bad, "user_id": user}),
            ),
            (
                "add_okta_user_to_group",
                json!({"group_id": t.group, "user_id": bad}),
            ),
            (
                "remove_okta_user_from_group",
                json!({"group_id": bad, "user_id": user}),
            ),
            (
                "remove_okta_user_from_group",
                json!({"group_id": t.group, "user_id": bad}),
            ),
        ] {
            let message = admin.call(tool, args.clone()).await;
            let result = result_of(&message);
            assert_eq!(result["isError"], true, "{tool}({args}): {message}");
            assert_eq!(
                result["structuredContent"]["error"], "invalid_argument",
                "{tool}({args}): {message}"
            );
            tried += 1;
        }
    }
    // Missing arguments, and values of the wrong type.
    for (tool, args) in [
        ("suspend_okta_user", json!({})),
        ("reset_okta_user_factor", json!({"user_id": user})),
        ("add_okta_user_to_group", json!({"user_id": user})),
    ] {
        let message = admin.call(tool, args.clone()).await;
        assert_eq!(
            result_of(&message)["isError"],
            true,
            "{tool}({args}): {message}"
        );
    }
    for (tool, args) in [
        (
            "clear_okta_user_sessions",
            json!({"user_id": user, "oauth_tokens": "maybe"}),
        ),
        ("suspend_okta_user", json!({"user_id": 7})),
        (
            "suspend_okta_user",
            json!({"user_id": user, "confirmation": 12}),
        ),
    ] {
        let message = admin.call(tool, args.clone()).await;
        let refused = message.get("error").is_some() || message["result"]["isError"] == true;
        assert!(refused, "{tool}({args}): {message}");
    }
    // Ids that are one odd path segment reach Okta encoded, and are unknown there.
    let zoe_like = "zoë.nobody@example.com";
    for odd in [
        "a/b",
        "../../apps",
        "..%2F..%2Fapps",
        "%2e%2e",
        "a?b#c",
        zoe_like,
    ] {
        for (tool, args) in [
            ("suspend_okta_user", json!({"user_id": odd})),
            (
                "reset_okta_user_factor",
                json!({"user_id": user, "factor_id": odd}),
            ),
            (
                "add_okta_user_to_group",
                json!({"group_id": odd, "user_id": user}),
            ),
        ] {
            let message = admin.call(tool, args.clone()).await;
            let result = result_of(&message);
            assert_eq!(result["isError"], true, "{tool}({args}): {message}");
            assert_eq!(
                result["structuredContent"]["errorCode"], "E0000007",
                "{tool}({args}): {message}"
            );
        }
    }
    assert!(tried >= 70);
    assert_eq!(changes(org, user).await, 0);
    assert!(factors_of(org, user).await.contains(&factor));
    // A real non-ASCII login resolves and is asked about like any other.
    let zoe = okta_mcp_tests::fake_okta::dataset::ZOE_LOGIN;
    first_call(&mut admin, "suspend_okta_user", json!({"user_id": zoe})).await;
    let logs = server.process.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}

#[tokio::test]
async fn an_elicitation_session_belongs_to_its_subject_alone() {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    let mut owner = McpClient::new(&server.mcp_url, "super-admin", "00uowner000000000001");
    let session = owner.open_elicitation_session().await;
    assert!(
        session.is_some(),
        "a client that can be asked gets a session"
    );
    let mut plain = McpClient::new(&server.mcp_url, "super-admin", "00uplain000000000001");
    plain.initialize().await;
    assert_eq!(plain.session_id, None, "other clients stay stateless");

    // Another subject naming that session: 404, as for a session that does not exist.
    let mut intruder = McpClient::new(&server.mcp_url, "super-admin", "00uintruder000000001");
    intruder.session_id = session.clone();
    let answer = intruder
        .post(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}))
        .await;
    assert_eq!(answer.status, 404, "{answer:?}");
    // The owner goes on in it.
    assert_eq!(owner.tool_names().await.len(), 26);
    // A session id this process never issued is ignored, as before: served statelessly.
    let mut stranger = McpClient::new(&server.mcp_url, "viewer", "00ustranger000000001");
    stranger.session_id = Some("no-such-session".into());
    assert_eq!(stranger.tool_names().await.len(), 12);
}

#[tokio::test]
async fn roles_get_only_the_write_tools_the_policy_names() {
    let t = targets();
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    let org = okta.url.as_str();
    let (user, _) = &t.active[5];
    let writes = okta_mcp_tool_server::tools::WRITE_TOOL_NAMES;

    let mut viewer = McpClient::new(&server.mcp_url, "viewer", "00uviewer00000000001");
    viewer.initialize().await;
    let mut security = McpClient::new(&server.mcp_url, "security-admin", "00usecurity000000001");
    security.initialize().await;
    let seen = security.tool_names().await;
    for tool in writes {
        assert!(!viewer.tool_names().await.contains(&tool.to_owned()));
        let allowed = matches!(tool, "clear_okta_user_sessions" | "unsuspend_okta_user");
        assert_eq!(seen.contains(&tool.to_owned()), allowed, "{tool}");
        let args = json!({"user_id": user, "group_id": t.group, "factor_id": "mfa1"});
        for (client, may) in [(&mut viewer, false), (&mut security, allowed)] {
            if may {
                continue;
            }
            let refused = client.call(tool, args.clone()).await;
            assert_eq!(
                refused["error"]["message"],
                format!("Unknown tool: {tool}"),
                "{refused}"
            );
        }
    }
    write(
        &mut security,
        "clear_okta_user_sessions",
        json!({"user_id": user}),
    )
    .await;
    assert_eq!(changes(org, user).await, 1);
    let logs = server.process.wait_for_log("decision=\"deny\"").await;
    assert!(
        logs.lines().any(|l| l.contains("tool=suspend_okta_user")
            && l.contains("write=true")
            && l.contains("decision=\"deny\"")),
        "{logs}"
    );
}

/// Through the proxy, the TypeScript SDK client of `email` running `calls` in `mode`.
async fn sdk(stack: &Stack, email: &str, mode: &str, calls: Value) -> Value {
    stack.auto_login(email).await;
    let report = node_client(
        "write-flow.mjs",
        &[&stack.proxy.mcp_url, mode, &calls.to_string()],
    )
    .await;
    assert!(report.get("error").is_none(), "{report}");
    report
}

#[tokio::test]
async fn through_the_proxy_the_sdk_client_confirms_by_elicitation_or_by_token() {
    let t = targets();
    let stack = Stack::start(&[]).await;
    let org = stack.okta.url.as_str();
    let (user, login) = &t.active[6];
    let (other, _) = &t.active[7];

    // Accepted: the person saw who, and the user is suspended, once.
    let report = sdk(
        &stack,
        "carol@example.com",
        "accept",
        json!([{"tool": "suspend_okta_user", "arguments": {"user_id": login}}]),
    )
    .await;
    assert_eq!(report["session"], true, "{report}");
    assert_eq!(report["tools"].as_array().map(Vec::len), Some(26));
    let asked = report["elicitations"][0]["message"].as_str().unwrap_or("");
    assert!(
        asked.starts_with("Suspend ")
            && asked.contains(login.as_str())
            && asked.contains(user.as_str())
            && asked.contains("ACTIVE"),
        "{report}"
    );
    assert_eq!(report["results"][0]["structured"]["done"], true, "{report}");
    assert_eq!(status_of(org, user).await, "SUSPENDED");
    assert_eq!(events(org, "user.lifecycle.suspend", user).await, 1);

    // Declined (and cancelled): nothing done, and the result says so without being an error.
    for mode in ["decline", "cancel"] {
        let report = sdk(
            &stack,
            "carol@example.com",
            mode,
            json!([{"tool": "unsuspend_okta_user", "arguments": {"user_id": user}}]),
        )
        .await;
        let result = &report["results"][0];
        assert_eq!(result["isError"], false, "{report}");
        assert_eq!(result["structured"]["done"], false, "{report}");
        assert!(
            result["text"]
                .as_str()
                .unwrap_or("")
                .starts_with("Nothing was done"),
            "{report}"
        );
        assert_eq!(report["elicitations"].as_array().map(Vec::len), Some(1));
    }
    assert_eq!(status_of(org, user).await, "SUSPENDED");
    assert_eq!(events(org, "user.lifecycle.unsuspend", user).await, 0);

    // A client without elicitation: the token flow, through the proxy.
    let report = sdk(
        &stack,
        "bob@example.com",
        "none",
        json!([
            {"tool": "unsuspend_okta_user", "arguments": {"user_id": user}},
            {"tool": "unsuspend_okta_user", "arguments": {"user_id": user}, "confirmWithPrevious": true},
            {"tool": "suspend_okta_user", "arguments": {"user_id": other}},
        ]),
    )
    .await;
    assert_eq!(report["session"], false, "{report}");
    assert_eq!(report["tools"].as_array().map(Vec::len), Some(20));
    assert_eq!(
        report["results"][0]["structured"]["done"], false,
        "{report}"
    );
    assert_eq!(report["results"][1]["structured"]["done"], true, "{report}");
    // security-admin may not suspend: the same answer as a tool that does not exist.
    assert!(
        report["results"][2]["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("Unknown tool: suspend_okta_user")),
        "{report}"
    );
    assert_eq!(status_of(org, user).await, "ACTIVE");
    assert_eq!(status_of(org, other).await, "ACTIVE");
    assert_eq!(events(org, "user.lifecycle.unsuspend", user).await, 1);
    assert_eq!(changes(org, other).await, 0);

    // A viewer sees no write tool at all.
    let report = sdk(
        &stack,
        "alice@example.com",
        "accept",
        json!([{"tool": "clear_okta_user_sessions", "arguments": {"user_id": other}}]),
    )
    .await;
    assert_eq!(report["tools"].as_array().map(Vec::len), Some(12));
    assert!(report["elicitations"].as_array().is_some_and(Vec::is_empty));
    assert!(report["results"][0]["error"].is_object(), "{report}");
    assert_eq!(changes(org, other).await, 0);

    let logs = stack
        .tool_server
        .process
        .wait_for_log("confirmation=\"elicitation_declined\"")
        .await;
    assert!(
        logs.contains("confirmation=\"elicitation_accepted\""),
        "{logs}"
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// A raw Management API request to the fake org: status and body.
async fn okta_call(okta_url: &str, method: reqwest::Method, path: &str) -> (u16, Value) {
    let response = http_client()
        .request(method, format!("{okta_url}/api/v1/{path}"))
        .header("authorization", format!("SSWS {TEST_API_TOKEN}"))
        .send()
        .await
        .expect("request to the fake org");
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_fake_org_answers_the_write_endpoints_as_okta_does() {
    use reqwest::Method;
    let t = targets();
    let okta = FakeOkta::start(&[]);
    let org = okta.url.as_str();
    let (user, login) = &t.active[0];
    let (suspended, _) = &t.suspended;
    let factor = t.first_factor(user);

    // Lifecycle: 200 with `{}`, by id or login; a refused transition is 400 E0000001.
    let (status, body) = okta_call(
        org,
        Method::POST,
        &format!("users/{login}/lifecycle/suspend"),
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    let (status, body) = okta_call(
        org,
        Method::POST,
        &format!("users/{user}/lifecycle/suspend"),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "E0000001");
    assert_eq!(body["errorSummary"], "Api validation failed: suspendUser");
    assert_eq!(
        body["errorCauses"][0]["errorSummary"],
        "Cannot suspend a user that is not active"
    );
    let (status, _) = okta_call(
        org,
        Method::POST,
        &format!("users/{user}/lifecycle/unsuspend"),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = okta_call(
        org,
        Method::POST,
        &format!("users/{user}/lifecycle/unsuspend"),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );
    // Expiring a password answers the user.
    let (status, body) = okta_call(
        org,
        Method::POST,
        &format!("users/{user}/lifecycle/expire_password"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "PASSWORD_EXPIRED");
    assert_eq!(body["id"], user.as_str());
    let (status, _) = okta_call(
        org,
        Method::POST,
        &format!("users/{suspended}/lifecycle/expire_password"),
    )
    .await;
    assert_eq!(status, 400);

    // Sessions: 204; `oauthTokens` must be a boolean.
    let (status, _) = okta_call(
        org,
        Method::DELETE,
        &format!("users/{user}/sessions?oauthTokens=true"),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = okta_call(
        org,
        Method::DELETE,
        &format!("users/{user}/sessions?oauthTokens=maybe"),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("E0000001"))
    );

    // Factors: GET one, DELETE it (204), then it is gone (404 UserFactor).
    let (status, body) =
        okta_call(org, Method::GET, &format!("users/{user}/factors/{factor}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], factor.as_str());
    let (status, _) = okta_call(
        org,
        Method::DELETE,
        &format!("users/{user}/factors/{factor}"),
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = okta_call(
        org,
        Method::DELETE,
        &format!("users/{user}/factors/{factor}"),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["errorCode"], "E0000007");
    assert!(
        body["errorSummary"]
            .as_str()
            .unwrap()
            .ends_with("(UserFactor)")
    );

    // Memberships: 204 whether or not anything changes; 403 E0000006 for an APP_GROUP; 404s.
    for method in [Method::PUT, Method::PUT, Method::DELETE, Method::DELETE] {
        let (status, _) = okta_call(org, method, &format!("groups/{}/users/{user}", t.group)).await;
        assert_eq!(status, 204);
    }
    assert_eq!(events(org, "group.user_membership.add", user).await, 1);
    assert_eq!(events(org, "group.user_membership.remove", user).await, 1);
    let (status, body) = okta_call(
        org,
        Method::PUT,
        &format!("groups/{}/users/{user}", t.app_group),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("E0000006"))
    );
    let (status, body) =
        okta_call(org, Method::PUT, &format!("groups/00gnosuch/users/{user}")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
    assert!(
        body["errorSummary"]
            .as_str()
            .unwrap()
            .ends_with("(UserGroup)")
    );
    let (status, body) = okta_call(
        org,
        Method::DELETE,
        &format!("groups/{}/users/00unosuch", t.group),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (404, Some("E0000007"))
    );
    let (status, _) = okta_call(org, Method::POST, "users/00unosuch/lifecycle/suspend").await;
    assert_eq!(status, 404);

    // Methods the spec does not declare: Okta's 405.
    for (method, path) in [
        (Method::GET, format!("users/{user}/lifecycle/suspend")),
        (Method::DELETE, format!("users/{user}/lifecycle/unsuspend")),
        (Method::GET, format!("users/{user}/sessions")),
        (Method::POST, format!("groups/{}/users/{user}", t.group)),
        (Method::DELETE, format!("users/{user}")),
    ] {
        let (status, body) = okta_call(org, method.clone(), &path).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["errorCode"], "E0000022");
    }
}

#[tokio::test]
async fn elicitation_sessions_are_capped_per_subject_and_the_rest_served_statelessly() {
    let okta = FakeOkta::start(&[]);
    let server = ToolServer::start(&okta, &[]).await;
    let mut opened = Vec::new();
    for _ in 0..okta_mcp_tool_server::http::MAX_SESSIONS_PER_SUBJECT {
        let mut client = McpClient::new(&server.mcp_url, "viewer", "00ugreedy00000000001");
        opened.push(client.open_elicitation_session().await);
    }
    assert!(opened.iter().all(Option::is_some), "{opened:?}");
    // One more of the same subject: no session, but served (write tools then use tokens).
    let mut extra = McpClient::new(&server.mcp_url, "viewer", "00ugreedy00000000001");
    assert_eq!(extra.open_elicitation_session().await, None);
    assert_eq!(extra.tool_names().await.len(), 12);
    // Someone else still gets one.
    let mut other = McpClient::new(&server.mcp_url, "viewer", "00uother000000000001");
    assert!(other.open_elicitation_session().await.is_some());
}
