//! Endpoint behaviour through the real router (no sockets): query modes, limits, cursors, errors.

use super::dataset::*;
use super::in_process::dataset;
use super::*;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::OnceLock;
use tower::ServiceExt;

const TOKEN: &str = "test-token";

fn settings(per_minute: u64) -> Settings {
    Settings {
        listen: "127.0.0.1:0"
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
        api_token: TOKEN.into(),
        seed: DEFAULT_SEED,
        latency_ms: 0,
        rate_limit_per_minute: per_minute,
        rate_limit_reset_secs: 60,
        oidc: Default::default(),
        event_hook: Default::default(),
        service_app: Default::default(),
    }
}

/// A router shared by read-only tests (budget large enough never to run out).
fn shared() -> Router {
    static STATE: OnceLock<state::AppState> = OnceLock::new();
    let state = STATE.get_or_init(|| {
        state(
            &settings(1_000_000),
            dataset().clone(),
            "127.0.0.1:1".into(),
        )
    });
    router(state.clone())
}

/// A router with its own traffic state, for tests that change faults or spend budgets.
fn isolated(per_minute: u64) -> (Router, state::AppState) {
    let state = state(
        &settings(per_minute),
        dataset().clone(),
        "127.0.0.1:1".into(),
    );
    (router(state.clone()), state)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn links(&self) -> Vec<String> {
        self.headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The path and query of the `next` link, if any.
    fn next(&self) -> Option<String> {
        self.links()
            .into_iter()
            .find(|l| l.ends_with("rel=\"next\""))
            .map(|l| {
                let url = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                url.trim_start_matches("http://fake.test:8080").to_owned()
            })
    }

    fn items(&self) -> &Vec<Value> {
        static EMPTY: Vec<Value> = Vec::new();
        self.body.as_array().unwrap_or(&EMPTY)
    }

    fn ids(&self) -> Vec<String> {
        self.items()
            .iter()
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect()
    }
}

async fn send(app: &Router, method: &str, uri: &str, token: Option<&str>) -> Answer {
    send_request(app, method, uri, token, HeaderMap::new()).await
}

/// [`get`]-like, with the API token and `headers` on top.
async fn send_with(app: &Router, method: &str, uri: &str, headers: HeaderMap) -> Answer {
    send_request(app, method, uri, Some(TOKEN), headers).await
}

async fn send_request(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    headers: HeaderMap,
) -> Answer {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "fake.test:8080");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("SSWS {token}"));
    }
    for (name, value) in &headers {
        builder = builder.header(name, value);
    }
    let request = builder.body(Body::empty()).expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(app: &Router, uri: &str) -> Answer {
    send(app, "GET", uri, Some(TOKEN)).await
}

/// Follows `next` links from `uri` and returns every id, failing after `max_pages`.
async fn all_ids(app: &Router, uri: &str, max_pages: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(uri.to_owned());
    let mut pages = 0;
    while let Some(uri) = next {
        let answer = get(app, &uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
        ids.extend(answer.ids());
        next = answer.next();
        pages += 1;
        assert!(pages <= max_pages, "too many pages for {uri}");
    }
    ids
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn users_default_list_pages_through_non_deprovisioned_users() {
    let app = shared();
    let first = get(&app, "/api/v1/users").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.items().len(), 200);
    let links = first.links();
    assert_eq!(
        links[0],
        "<http://fake.test:8080/api/v1/users>; rel=\"self\""
    );
    assert!(links[1].contains("limit=200"), "{links:?}");
    let ids = all_ids(&app, "/api/v1/users?limit=500", 20).await;
    let expected: Vec<String> = dataset()
        .users
        .iter()
        .filter(|u| u.status != UserStatus::Deprovisioned)
        .map(|u| u.id.clone())
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn users_q_is_a_prefix_lookup_without_pagination() {
    let app = shared();
    let answer = get(&app, "/api/v1/users?q=ali").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.ids().contains(&ALICE_ID.to_owned()));
    assert!(answer.items().len() <= 10);
    assert_eq!(answer.next(), None);
    let smith = get(&app, "/api/v1/users?q=SMITH&limit=200").await;
    assert!(!smith.items().is_empty());
    for user in smith.items() {
        let p = &user["profile"];
        let hit = ["firstName", "lastName", "email", "login"].iter().any(|f| {
            p[f].as_str()
                .unwrap_or_default()
                .to_lowercase()
                .starts_with("smith")
        });
        assert!(hit, "{p}");
    }
}

#[tokio::test]
async fn users_filter_and_search() {
    let app = shared();
    let d = dataset();
    let active = all_ids(
        &app,
        &format!("/api/v1/users?filter={}", enc(r#"status eq "ACTIVE""#)),
        20,
    )
    .await;
    assert_eq!(
        active.len(),
        d.users
            .iter()
            .filter(|u| u.status == UserStatus::Active)
            .count()
    );

    let deprovisioned = all_ids(
        &app,
        &format!(
            "/api/v1/users?filter={}",
            enc(r#"status eq "DEPROVISIONED""#)
        ),
        5,
    )
    .await;
    assert!(!deprovisioned.is_empty());

    let recent = all_ids(
        &app,
        &format!(
            "/api/v1/users?filter={}",
            enc(r#"lastUpdated gt "2026-01-01T00:00:00.000Z""#)
        ),
        20,
    )
    .await;
    let cutoff = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc));
    let expected = d
        .users
        .iter()
        .filter(|u| cutoff.is_ok_and(|c| u.last_updated > c))
        .count();
    assert_eq!(recent.len(), expected);
    assert!(expected > 0 && expected < d.users.len());

    // filter supports only a few attributes; search supports any, case-insensitively.
    let bad = get(
        &app,
        &format!(
            "/api/v1/users?filter={}",
            enc(r#"profile.department eq "Engineering""#)
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["errorCode"], "E0000031");
    let engineers = all_ids(
        &app,
        &format!(
            "/api/v1/users?search={}",
            enc(r#"profile.department eq "engineering""#)
        ),
        20,
    )
    .await;
    assert_eq!(
        engineers.len(),
        d.users
            .iter()
            .filter(|u| u.profile.department == "Engineering")
            .count()
    );

    let sorted = get(
        &app,
        &format!(
            "/api/v1/users?search={}&sortBy=profile.lastName&sortOrder=desc&limit=50",
            enc(r#"profile.lastName sw "sm""#)
        ),
    )
    .await;
    let names: Vec<String> = sorted
        .items()
        .iter()
        .map(|u| {
            u["profile"]["lastName"]
                .as_str()
                .unwrap_or_default()
                .to_lowercase()
        })
        .collect();
    assert!(!names.is_empty());
    assert!(names.windows(2).all(|w| w[0] >= w[1]), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("sm")));

    let malformed = get(
        &app,
        &format!("/api/v1/users?search={}", enc(r#"profile.lastName sw "Sm"#)),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.body["errorCode"], "E0000031");
    assert!(malformed.body["errorCauses"][0]["errorSummary"].is_string());
}

#[tokio::test]
async fn okta_response_leaves_out_credentials_and_their_links() {
    let app = shared();
    let omit = |values: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            format!("application/json; okta-response={values}")
                .parse()
                .unwrap(),
        );
        headers
    };
    let plain = get(&app, "/api/v1/users?limit=3").await;
    assert!(plain.body[0]["credentials"].is_object());
    let listed = send_with(
        &app,
        "GET",
        "/api/v1/users?limit=3",
        omit("\"omitCredentials, omitCredentialsLinks,omitTransitioningToStatus\""),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK);
    for user in listed.body.as_array().unwrap() {
        assert!(user.get("credentials").is_none(), "{user}");
        assert!(user["profile"]["login"].is_string());
    }
    // getUser: the credential links go, the other lifecycle links stay.
    let path = format!("/api/v1/users/{ALICE_ID}");
    let full = get(&app, &path).await;
    assert!(full.body["_links"]["changePassword"].is_object());
    assert!(full.body["_links"]["resetPassword"].is_object());
    let lean = send_with(&app, "GET", &path, omit("omitCredentialsLinks")).await;
    let links = lean.body["_links"].as_object().unwrap();
    for gone in [
        "changePassword",
        "changeRecoveryQuestion",
        "forgotPassword",
        "resetPassword",
    ] {
        assert!(!links.contains_key(gone), "{gone}: {links:?}");
    }
    assert!(
        links.contains_key("deactivate") && links.contains_key("self"),
        "{links:?}"
    );
    assert!(
        lean.body["credentials"].is_object(),
        "only what was asked is left out"
    );
    // Unknown values change nothing.
    let other = send_with(&app, "GET", &path, omit("somethingElse")).await;
    assert_eq!(other.body, full.body);
}

#[tokio::test]
async fn listed_users_carry_only_their_self_link_as_in_okta_examples() {
    let app = shared();
    let one = get(&app, &format!("/api/v1/users/{ALICE_ID}")).await;
    let links = one.body["_links"].as_object().unwrap();
    assert!(links.contains_key("deactivate"), "{links:?}");
    assert!(links.contains_key("schema"), "{links:?}");
    let group = get(&app, "/api/v1/groups?limit=1").await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        "/api/v1/users?limit=5".to_string(),
        format!("/api/v1/groups/{group}/users"),
    ] {
        let listed = get(&app, &path).await;
        let items = listed.body.as_array().unwrap();
        assert!(!items.is_empty(), "{path}");
        for item in items {
            let links: Vec<&String> = item["_links"].as_object().unwrap().keys().collect();
            assert_eq!(links, ["self"], "{path}");
            assert!(item["profile"]["login"].is_string(), "{path}");
        }
    }
}

#[tokio::test]
async fn user_lookup_and_sub_resources() {
    let app = shared();
    let by_id = get(&app, &format!("/api/v1/users/{ALICE_ID}")).await;
    assert_eq!(by_id.body["profile"]["login"], "alice@example.com");
    assert_eq!(
        by_id.body["_links"]["self"]["href"],
        format!("http://fake.test:8080/api/v1/users/{ALICE_ID}")
    );
    let by_login = get(&app, "/api/v1/users/Alice@Example.com").await;
    assert_eq!(by_login.body["id"], ALICE_ID);

    let missing = get(&app, "/api/v1/users/00unotarealuser00000").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["errorCode"], "E0000007");
    assert_eq!(
        missing.body["errorSummary"],
        "Not found: Resource not found: 00unotarealuser00000 (User)"
    );

    let groups = get(&app, &format!("/api/v1/users/{CAROL_ID}/groups")).await;
    let names: Vec<&str> = groups
        .items()
        .iter()
        .filter_map(|g| g["profile"]["name"].as_str())
        .collect();
    assert_eq!(names, vec!["Everyone", "sso-super-admins"]);
    let dave = get(&app, "/api/v1/users/dave@example.com/groups").await;
    assert_eq!(dave.ids(), vec![EVERYONE_GROUP_ID.to_owned()]);

    let links = get(&app, &format!("/api/v1/users/{ALICE_ID}/appLinks")).await;
    let labels: Vec<&str> = links
        .items()
        .iter()
        .filter_map(|l| l["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"Zendesk") && labels.contains(&"Google Workspace"),
        "{labels:?}"
    );

    let factors = get(&app, &format!("/api/v1/users/{ALICE_ID}/factors")).await;
    let types: HashSet<&str> = factors
        .items()
        .iter()
        .filter_map(|f| f["factorType"].as_str())
        .collect();
    assert_eq!(types, HashSet::from(["push", "token:software:totp"]));

    let weird = get(&app, "/api/v1/users/%FF%FE/groups").await;
    assert_eq!(weird.status, StatusCode::NOT_FOUND);
    assert_eq!(weird.body["errorCode"], "E0000007");
}

#[tokio::test]
async fn groups_list_modes_and_members() {
    let app = shared();
    let d = dataset();
    let all = get(&app, "/api/v1/groups").await;
    assert_eq!(all.items().len(), GROUP_COUNT);
    assert_eq!(all.next(), None);

    let sso = get(&app, "/api/v1/groups?q=SSO").await;
    let names: Vec<&str> = sso
        .items()
        .iter()
        .filter_map(|g| g["profile"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"sso-help-desk") && names.iter().all(|n| n.starts_with("sso")),
        "{names:?}"
    );

    let built_in = get(
        &app,
        &format!("/api/v1/groups?filter={}", enc(r#"type eq "BUILT_IN""#)),
    )
    .await;
    assert_eq!(built_in.ids(), vec![EVERYONE_GROUP_ID.to_owned()]);
    let searched = get(
        &app,
        &format!("/api/v1/groups?search={}", enc(r#"profile.name sw "sso""#)),
    )
    .await;
    assert_eq!(searched.items().len(), names.len());

    let big = all_ids(
        &app,
        &format!("/api/v1/groups/{BIG_GROUP_ID}/users?limit=200"),
        8,
    )
    .await;
    assert_eq!(big.len(), BIG_GROUP_SIZE);
    assert_eq!(big.iter().collect::<HashSet<_>>().len(), BIG_GROUP_SIZE);
    assert_eq!(
        big,
        d.group(BIG_GROUP_ID)
            .map(|g| g.member_ids.clone())
            .unwrap_or_default()
    );
    let default_page = get(&app, &format!("/api/v1/groups/{BIG_GROUP_ID}/users")).await;
    assert_eq!(default_page.items().len(), 1000);
    let capped = get(
        &app,
        &format!("/api/v1/groups/{BIG_GROUP_ID}/users?limit=5000"),
    )
    .await;
    assert_eq!(capped.items().len(), 1000);
    assert!(capped.next().is_some_and(|n| n.contains("limit=1000")));

    let missing = get(&app, "/api/v1/groups/00gnope").await;
    assert_eq!(
        missing.body["errorSummary"],
        "Not found: Resource not found: 00gnope (UserGroup)"
    );
}

#[tokio::test]
async fn apps_filters_and_assignments() {
    let app = shared();
    let d = dataset();
    let first = get(&app, "/api/v1/apps").await;
    assert_eq!(first.items().len(), 20);
    let all = all_ids(&app, "/api/v1/apps", 3).await;
    assert_eq!(all.len(), APP_COUNT);

    let alice_apps = all_ids(
        &app,
        &format!(
            "/api/v1/apps?filter={}",
            enc(&format!(r#"user.id eq "{ALICE_ID}""#))
        ),
        3,
    )
    .await;
    let zendesk = d
        .app_by_label("Zendesk")
        .map(|a| a.id.clone())
        .unwrap_or_default();
    let google = d
        .app_by_label("Google Workspace")
        .map(|a| a.id.clone())
        .unwrap_or_default();
    assert!(alice_apps.contains(&zendesk) && alice_apps.contains(&google));
    let inactive = get(
        &app,
        &format!("/api/v1/apps?filter={}", enc(r#"status eq "INACTIVE""#)),
    )
    .await;
    assert_eq!(inactive.items().len(), 3);
    let not_eq = get(
        &app,
        &format!("/api/v1/apps?filter={}", enc(r#"name sw "goo""#)),
    )
    .await;
    assert_eq!(not_eq.body["errorCode"], "E0000031");
    let by_q = get(&app, "/api/v1/apps?q=zen").await;
    assert_eq!(by_q.ids(), vec![zendesk.clone()]);

    let google_index = d
        .apps
        .iter()
        .position(|a| a.id == google)
        .unwrap_or_default();
    let users = get(&app, &format!("/api/v1/apps/{google}/users")).await;
    assert_eq!(users.items().len(), 50);
    assert_eq!(users.items()[0]["scope"], "GROUP");
    let everyone = all_ids(&app, &format!("/api/v1/apps/{google}/users?limit=500"), 5).await;
    assert_eq!(everyone.len(), d.app_assignments(google_index).len());
    let direct = get(&app, &format!("/api/v1/apps/{zendesk}/users?q=alice")).await;
    assert_eq!(direct.items()[0]["scope"], "USER");
    assert_eq!(
        direct.items()[0]["credentials"]["userName"],
        "alice@example.com"
    );

    let groups = get(&app, &format!("/api/v1/apps/{google}/groups")).await;
    assert_eq!(groups.ids(), vec![EVERYONE_GROUP_ID.to_owned()]);
    assert_eq!(groups.items()[0]["priority"], 0);
    let missing = get(&app, "/api/v1/apps/0oanope").await;
    assert_eq!(
        missing.body["errorSummary"],
        "Not found: Resource not found: 0oanope (AppInstance)"
    );
}

#[tokio::test]
async fn logs_polling_never_ends_and_bounded_does() {
    let app = shared();
    let d = dataset();
    let first = get(&app, "/api/v1/logs").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.items().len(), 100);
    // Page through a polling query: every page has a next link, the last ones are empty.
    let mut next = Some("/api/v1/logs?limit=1000".to_owned());
    let mut seen = 0;
    for _ in 0..5 {
        let uri = next.take().expect("polling always has next");
        let page = get(&app, &uri).await;
        seen += page.items().len();
        next = page.next();
    }
    assert!(next.is_some());
    let week_ago = d.generated_at - chrono::Duration::days(7);
    let in_week = d
        .log_events
        .iter()
        .filter(|e| e.published >= week_ago)
        .count();
    assert_eq!(seen, in_week);

    let since = timestamp(d.generated_at - chrono::Duration::days(30));
    let until = timestamp(d.generated_at);
    let bounded = all_ids_by_uuid(
        &app,
        &format!(
            "/api/v1/logs?since={}&until={}&limit=1000",
            enc(&since),
            enc(&until)
        ),
    )
    .await;
    assert_eq!(bounded.len(), LOG_EVENT_COUNT);

    let failures_filter =
        enc(r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#);
    let failures = all_ids_by_uuid(
        &app,
        &format!(
            "/api/v1/logs?since={}&until={}&limit=1000&filter={failures_filter}",
            enc(&since),
            enc(&until)
        ),
    )
    .await;
    let expected = d
        .log_events
        .iter()
        .filter(|e| e.event_type == "user.session.start" && e.outcome == "FAILURE")
        .count();
    assert_eq!(failures.len(), expected);

    let desc = get(
        &app,
        &format!(
            "/api/v1/logs?since={}&until={}&sortOrder=DESCENDING&limit=5",
            enc(&since),
            enc(&until)
        ),
    )
    .await;
    let published: Vec<&str> = desc
        .items()
        .iter()
        .filter_map(|e| e["published"].as_str())
        .collect();
    assert!(published.windows(2).all(|w| w[0] >= w[1]));

    let too_old = get(&app, "/api/v1/logs?since=2000-01-01T00:00:00Z").await;
    assert_eq!(
        (too_old.status, too_old.body["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("E0000053"))
    );
    let bad_filter = get(
        &app,
        &format!("/api/v1/logs?filter={}", enc("eventType eqq \"x\"")),
    )
    .await;
    assert_eq!(bad_filter.body["errorCode"], "E0000053");
    let published_filter = get(
        &app,
        &format!(
            "/api/v1/logs?filter={}",
            enc(r#"published gt "2020-01-01T00:00:00Z""#)
        ),
    )
    .await;
    assert_eq!(published_filter.body["errorCode"], "E0000053");
    let bad_until = get(&app, "/api/v1/logs?until=tomorrow").await;
    assert_eq!(bad_until.body["errorCode"], "E0000001");
    let keyword = get(
        &app,
        &format!(
            "/api/v1/logs?since={}&until={}&q=alice@example.com&limit=1000",
            enc(&since),
            enc(&until)
        ),
    )
    .await;
    assert!(
        keyword
            .items()
            .iter()
            .all(|e| e.to_string().contains("alice@example.com"))
    );
}

async fn all_ids_by_uuid(app: &Router, uri: &str) -> Vec<String> {
    let mut uuids = Vec::new();
    let mut next = Some(uri.to_owned());
    let mut pages = 0;
    while let Some(uri) = next {
        let page = get(app, &uri).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        uuids.extend(
            page.items()
                .iter()
                .filter_map(|e| e["uuid"].as_str().map(str::to_owned)),
        );
        next = page.next();
        pages += 1;
        assert!(pages < 20);
    }
    uuids
}

#[tokio::test]
async fn policies_rules_and_zones() {
    let app = shared();
    let d = dataset();
    let missing_type = get(&app, "/api/v1/policies").await;
    assert_eq!(
        (missing_type.status, missing_type.body["errorCode"].as_str()),
        (StatusCode::BAD_REQUEST, Some("E0000001"))
    );
    let bad_type = get(&app, "/api/v1/policies?type=password").await;
    assert_eq!(bad_type.status, StatusCode::BAD_REQUEST);
    let passwords = get(&app, "/api/v1/policies?type=PASSWORD").await;
    assert_eq!(
        passwords.items().len(),
        d.policies_of_type("PASSWORD").len()
    );
    let inactive = get(&app, "/api/v1/policies?type=ACCESS_POLICY&status=INACTIVE").await;
    assert_eq!(inactive.items().len(), 1);
    let paged = get(&app, "/api/v1/policies?type=ACCESS_POLICY&limit=1").await;
    assert_eq!(paged.items().len(), 1);
    assert!(paged.next().is_some());

    let policy = &d.policies_of_type("OKTA_SIGN_ON")[0];
    let rules = get(&app, &format!("/api/v1/policies/{}/rules", policy.id)).await;
    assert_eq!(
        rules.ids(),
        policy
            .rules
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    );
    let rule = get(
        &app,
        &format!(
            "/api/v1/policies/{}/rules/{}",
            policy.id, policy.rules[0].id
        ),
    )
    .await;
    assert_eq!(rule.body["name"], policy.rules[0].name.as_str());
    let no_rule = get(
        &app,
        &format!("/api/v1/policies/{}/rules/0prnope", policy.id),
    )
    .await;
    assert_eq!(
        no_rule.body["errorSummary"],
        "Not found: Resource not found: 0prnope (PolicyRule)"
    );

    let zones = get(&app, "/api/v1/zones").await;
    assert_eq!(zones.items().len(), d.zones.len());
    let blocklist = get(
        &app,
        &format!("/api/v1/zones?filter={}", enc(r#"usage eq "BLOCKLIST""#)),
    )
    .await;
    assert_eq!(
        blocklist.items().len(),
        d.zones.iter().filter(|z| z.usage == "BLOCKLIST").count()
    );
    let one = &d.zones[2].id;
    let by_id = get(
        &app,
        &format!("/api/v1/zones?filter={}", enc(&format!(r#"id eq "{one}""#))),
    )
    .await;
    assert_eq!(by_id.ids(), vec![one.clone()]);
    let bad = get(
        &app,
        &format!("/api/v1/zones?filter={}", enc(r#"name eq "x""#)),
    )
    .await;
    assert_eq!(bad.body["errorCode"], "E0000031");
}

#[tokio::test]
async fn auth_methods_and_unknown_paths() {
    let app = shared();
    for token in [None, Some("wrong")] {
        let answer = send(&app, "GET", "/api/v1/users", token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.body["errorCode"], "E0000011");
        assert_eq!(answer.body["errorSummary"], "Invalid token provided");
        assert_eq!(answer.body["errorLink"], "E0000011");
        assert_eq!(answer.body["errorCauses"], serde_json::json!([]));
        assert!(
            answer.body["errorId"]
                .as_str()
                .is_some_and(|id| id.starts_with("oae"))
        );
        for header in [
            "x-rate-limit-limit",
            "x-rate-limit-remaining",
            "x-rate-limit-reset",
            "date",
        ] {
            assert!(answer.headers.contains_key(header), "{header}");
        }
    }
    let post = send(&app, "POST", "/api/v1/users", Some(TOKEN)).await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.body["errorCode"], "E0000022");
    let unknown = get(&app, "/api/v1/meta/schemas").await;
    assert_eq!(
        (unknown.status, unknown.body["errorCode"].as_str()),
        (StatusCode::NOT_FOUND, Some("E0000007"))
    );
    let outside = get(&app, "/nothing/here").await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_parameters_are_400s_not_panics() {
    let app = shared();
    for uri in [
        "/api/v1/users?limit=abc",
        "/api/v1/users?limit=0",
        "/api/v1/users?limit=-3",
        "/api/v1/users?after=garbage",
        "/api/v1/groups?limit=1.5",
        "/api/v1/logs?limit=-1",
        "/api/v1/logs?sortOrder=sideways",
        "/api/v1/users?search=sortBy&sortBy=x",
    ] {
        let answer = get(&app, uri).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.body
        );
        assert!(
            answer.body["errorCode"]
                .as_str()
                .is_some_and(|c| c.starts_with("E0000")),
            "{uri}"
        );
    }
    for uri in [
        "/api/v1/users?limit=99999999999999999999999",
        "/api/v1/users?q=%FF%FE%00",
        "/api/v1/users?search=profile.firstName%20eq%20%22Zo%C3%AB%22",
        "/api/v1/users?unknown=1&foo",
        "/api/v1/logs?limit=0",
        "/api/v1/logs?q=%F0%9F%A6%80",
    ] {
        let answer = get(&app, uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.body);
    }
    let zoe = get(
        &app,
        "/api/v1/users?search=profile.firstName%20eq%20%22Zo%C3%AB%22",
    )
    .await;
    assert!(!zoe.items().is_empty());
}

#[tokio::test]
async fn rate_limits_and_injected_faults() {
    let (app, state) = isolated(3);
    for remaining in [2, 1, 0] {
        let ok = get(&app, "/api/v1/zones").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(
            ok.headers["x-rate-limit-remaining"],
            remaining.to_string().as_str()
        );
        assert_eq!(ok.headers["x-rate-limit-limit"], "3");
    }
    let limited = get(&app, "/api/v1/zones").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.body["errorCode"], "E0000047");
    assert_eq!(limited.headers["x-rate-limit-remaining"], "0");
    // Another family still has budget.
    assert_eq!(get(&app, "/api/v1/groups").await.status, StatusCode::OK);

    state.traffic.update(&traffic::FaultsUpdate {
        inject_5xx: Some(1),
        inject_429: Some(1),
        ..Default::default()
    });
    let injected = get(&app, "/api/v1/groups").await;
    assert_eq!(injected.status, StatusCode::TOO_MANY_REQUESTS);
    let reset: u64 = injected.headers["x-rate-limit-reset"]
        .to_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    assert!(reset > now && reset <= now + 3, "{reset} vs {now}");
    let unavailable = get(&app, "/api/v1/groups").await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unavailable.body["errorCode"], "E0000009");
    assert_eq!(get(&app, "/api/v1/groups").await.status, StatusCode::OK);

    let stats = state.traffic.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.status_429, 2);
    assert_eq!(stats.status_5xx, 1);
    assert_eq!(stats.by_path["/api/v1/zones"], 4);
}

#[tokio::test]
async fn control_endpoints() {
    let (app, _state) = isolated(600);
    let post = |uri: &'static str, body: &'static str| {
        let app = app.clone();
        async move {
            let request = Request::builder()
                .method("POST")
                .uri(uri)
                .body(Body::from(body))
                .expect("request");
            let response = app.oneshot(request).await.expect("infallible");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("body");
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let (status, settings) = post(
        "/__fake/faults",
        r#"{"latency_ms": 5, "inject_429": 1, "rate_limit_per_minute": 100}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(settings["latency_ms"], 5);
    assert_eq!(settings["inject_429"], 1);
    assert_eq!(settings["rate_limit_per_minute"], 100);
    let (status, _) = post("/__fake/faults", r#"{"inject_4299": 1}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = post("/__fake/faults", "not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let limited = get(&app, "/api/v1/users?limit=1").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let stats = send(&app, "GET", "/__fake/stats", None).await;
    assert_eq!(stats.body["requests"], 1);
    assert_eq!(stats.body["by_path"]["/api/v1/users"], 1);
    assert_eq!(stats.body["status_429"], 1);
    assert_eq!(stats.body["max_in_flight"], 1);
    let (_, after_reset) = post("/__fake/stats/reset", "").await;
    assert_eq!(after_reset["requests"], 0);
    let (_, defaults) = post("/__fake/faults/reset", "").await;
    assert_eq!(defaults["latency_ms"], 0);
    assert_eq!(defaults["rate_limit_per_minute"], 600);
    let info = send(&app, "GET", "/__fake/dataset", None).await;
    assert_eq!(info.body["users"], USER_COUNT);
    assert_eq!(info.body["seed"], DEFAULT_SEED);
}

#[tokio::test]
async fn control_changes_show_in_the_api_the_log_and_the_event_stream() {
    let (app, state) = isolated(1_000_000);
    let mut events = state.events.subscribe();
    let d = dataset();
    let user = d
        .users
        .iter()
        .find(|u| u.status == UserStatus::Active && u.group_ids.len() >= 2)
        .expect("an active user in a group");
    let group_id = user.group_ids[1].clone();

    // A membership removal: the group's members, the user's groups and the log all follow.
    let removed = send(
        &app,
        "DELETE",
        &format!("/__fake/groups/{group_id}/users/{}", user.id),
        None,
    )
    .await;
    assert_eq!(removed.status, StatusCode::OK);
    assert_eq!(removed.body["changed"], true);
    let groups = get(&app, &format!("/api/v1/users/{}/groups", user.id)).await;
    assert!(!groups.ids().contains(&group_id), "{:?}", groups.ids());
    let event = events.try_recv().expect("an event");
    assert_eq!(event.event_type(), "group.user_membership.remove");
    let again = send(
        &app,
        "DELETE",
        &format!("/__fake/groups/{group_id}/users/{}", user.id),
        None,
    )
    .await;
    assert_eq!(
        again.body["changed"], false,
        "removing twice changes nothing"
    );
    assert!(events.try_recv().is_err(), "and announces nothing");
    let added = send(
        &app,
        "PUT",
        &format!("/__fake/groups/{group_id}/users/{}", user.id),
        None,
    )
    .await;
    assert_eq!(added.body["changed"], true);
    let groups = get(&app, &format!("/api/v1/users/{}/groups", user.id)).await;
    assert!(groups.ids().contains(&group_id));
    assert_eq!(
        events.try_recv().map(|e| e.event_type().to_owned()).ok(),
        Some("group.user_membership.add".to_owned())
    );

    // Lifecycle: suspend, refuse a second suspend, then deactivate.
    let path = format!("/__fake/users/{}/lifecycle/suspend", user.id);
    let suspended = send(&app, "POST", &path, None).await;
    assert_eq!(suspended.body["status"], "SUSPENDED");
    let refused = send(&app, "POST", &path, None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("not active")
    );
    let fetched = get(&app, &format!("/api/v1/users/{}", user.id)).await;
    assert_eq!(fetched.body["status"], "SUSPENDED");
    let deactivated = send(
        &app,
        "POST",
        &format!("/__fake/users/{}/lifecycle/deactivate", user.id),
        None,
    )
    .await;
    assert_eq!(deactivated.body["status"], "DEPROVISIONED");
    let logged = get(
        &app,
        &format!(
            "/api/v1/logs?filter={}",
            enc("eventType eq \"user.lifecycle.deactivate\"")
        ),
    )
    .await;
    assert!(
        logged
            .items()
            .iter()
            .any(|e| e["target"][0]["id"] == user.id.as_str()),
        "the deactivation is in the System Log: {}",
        logged.body
    );
    let unknown = send(&app, "POST", "/__fake/users/nobody/lifecycle/suspend", None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad = send(
        &app,
        "POST",
        &format!("/__fake/users/{}/lifecycle/explode", user.id),
        None,
    )
    .await;
    assert_eq!(bad.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn app_groups_embed_the_group_with_expand_group() {
    let app = shared();
    let d = dataset();
    let zoom = d.app_by_label("Zoom").expect("Zoom");
    let plain = get(&app, &format!("/api/v1/apps/{}/groups", zoom.id)).await;
    assert!(
        plain.items()[0].get("_embedded").is_none(),
        "{}",
        plain.body
    );
    let expanded = get(
        &app,
        &format!("/api/v1/apps/{}/groups?expand=group", zoom.id),
    )
    .await;
    let group = &expanded.items()[0]["_embedded"]["group"];
    assert_eq!(group["id"], BIG_GROUP_ID);
    assert_eq!(group["profile"]["name"], BIG_GROUP_NAME);
    assert_eq!(expanded.items()[0]["id"], BIG_GROUP_ID);
}

/// `limit` below an operation's declared minimum is refused as Okta refuses it; above the
/// maximum it is capped.
#[tokio::test]
async fn app_group_limits_follow_oktas_bounds_of_20_to_200() {
    let app = shared();
    let okta_mcp = dataset().app_by_label("okta-mcp").expect("okta-mcp app");
    let path = format!("/api/v1/apps/{}/groups", okta_mcp.id);
    for low in ["1", "19"] {
        let refused = get(&app, &format!("{path}?limit={low}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{low}");
        assert_eq!(refused.body["errorCode"], "E0000001");
        assert_eq!(refused.body["errorSummary"], "Api validation failed: limit");
    }
    let twenty = get(&app, &format!("{path}?limit=20")).await;
    assert_eq!(twenty.status, StatusCode::OK);
    assert_eq!(twenty.items().len(), okta_mcp.group_ids.len());
    let capped = get(&app, &format!("{path}?limit=5000")).await;
    assert_eq!(capped.status, StatusCode::OK);
}

/// Okta's spec declares `limit` but no `after` for a policy's rules: no cursor, no next link.
#[tokio::test]
async fn policy_rules_come_on_one_page() {
    let app = shared();
    let policy = dataset()
        .policies
        .iter()
        .find(|p| p.rules.len() > 1)
        .expect("a policy with two rules");
    let one = get(
        &app,
        &format!("/api/v1/policies/{}/rules?limit=1", policy.id),
    )
    .await;
    assert_eq!(one.ids(), vec![policy.rules[0].id.clone()]);
    assert_eq!(one.next(), None);
    let all = get(&app, &format!("/api/v1/policies/{}/rules", policy.id)).await;
    assert_eq!(all.items().len(), policy.rules.len());
    assert_eq!(all.next(), None);
}

#[tokio::test]
async fn enhanced_dynamic_zones_and_security_questions_are_served_as_okta_shapes_them() {
    let app = shared();
    let d = dataset();
    let zones = get(&app, "/api/v1/zones").await;
    let enhanced: Vec<&Value> = zones
        .items()
        .iter()
        .filter(|z| z["type"] == "DYNAMIC_V2")
        .collect();
    assert!(enhanced.len() >= 2, "{}", zones.body);
    for zone in &enhanced {
        for list in ["locations", "asns", "ipServiceCategories"] {
            assert!(zone[list]["include"].is_array(), "{list} of {zone}");
            assert!(zone[list]["exclude"].is_array(), "{list} of {zone}");
        }
    }
    assert!(enhanced.iter().any(|z| {
        z["ipServiceCategories"]["include"]
            .as_array()
            .is_some_and(|c| !c.is_empty())
    }));
    let dynamic = zones.items().iter().find(|z| z["type"] == "DYNAMIC");
    let proxy_types = ["Any", "Tor", "NotTorAnonymizer"];
    assert!(dynamic.is_some_and(|z| z["proxyType"].is_null()
        || proxy_types.contains(&z["proxyType"].as_str().unwrap_or_default())));

    let question = d
        .factors
        .iter()
        .find(|f| f.factor_type == "question")
        .expect("some user has a security question");
    let factors = get(&app, &format!("/api/v1/users/{}/factors", question.user_id)).await;
    let served = factors
        .items()
        .iter()
        .find(|f| f["factorType"] == "question")
        .expect("the question factor is listed");
    assert!(served["profile"]["question"].is_string());
    assert!(served["profile"]["questionText"].is_string());
    assert!(served["profile"].get("answer").is_none());
}

/// `/__fake/stats` keeps what the last requests asked for, so tests can check a client's
/// requests against Okta's spec.
#[tokio::test]
async fn stats_record_the_requests_made() {
    let (app, _state) = isolated(1_000);
    get(&app, "/api/v1/users?limit=2&search=x%20y").await;
    get(&app, &format!("/api/v1/users/{ALICE_ID}/groups")).await;
    let stats = send(&app, "GET", "/__fake/stats", None).await;
    let seen = stats.body["requests_seen"]
        .as_array()
        .expect("requests_seen");
    assert_eq!(seen.len(), 2, "{}", stats.body);
    assert_eq!(seen[0]["method"], "GET");
    assert_eq!(seen[0]["route"], "/api/v1/users");
    assert_eq!(seen[0]["path"], "/api/v1/users");
    assert_eq!(
        seen[0]["query"],
        serde_json::json!([["limit", "2"], ["search", "x y"]])
    );
    assert_eq!(seen[1]["route"], "/api/v1/users/{id}/groups");
    assert_eq!(seen[1]["path"], format!("/api/v1/users/{ALICE_ID}/groups"));
    send(&app, "POST", "/__fake/stats/reset", None).await;
    let stats = send(&app, "GET", "/__fake/stats", None).await;
    assert_eq!(stats.body["requests_seen"], serde_json::json!([]));
}

/// Okta activates DEPROVISIONED users as well as STAGED ones ("Activate a user"): a deactivated
/// user comes back ACTIVE, and can be deactivated again; an ACTIVE one cannot be activated.
#[tokio::test]
async fn a_deactivated_user_can_be_activated_again() {
    let (app, state) = isolated(1_000_000);
    let mut events = state.events.subscribe();
    let d = dataset();
    let deprovisioned = d
        .users
        .iter()
        .find(|u| u.status == UserStatus::Deprovisioned)
        .expect("a DEPROVISIONED user in the dataset");
    let active = d
        .users
        .iter()
        .find(|u| u.status == UserStatus::Active)
        .expect("an ACTIVE user");
    let lifecycle = |id: &str, operation: &str| format!("/__fake/users/{id}/lifecycle/{operation}");

    let deactivated = send(&app, "POST", &lifecycle(&active.id, "deactivate"), None).await;
    assert_eq!(deactivated.body["status"], "DEPROVISIONED");
    for user in [deprovisioned, active] {
        let activated = send(&app, "POST", &lifecycle(&user.id, "activate"), None).await;
        assert_eq!(activated.status, StatusCode::OK, "{}", activated.body);
        assert_eq!(activated.body["status"], "ACTIVE");
        let fetched = get(&app, &format!("/api/v1/users/{}", user.id)).await;
        assert_eq!(fetched.body["status"], "ACTIVE");
        let before = serde_json::json!(user.activated.map(timestamp));
        assert_ne!(
            fetched.body["activated"], before,
            "activated again just now"
        );
    }
    let types: Vec<String> = std::iter::from_fn(|| events.try_recv().ok())
        .map(|e| e.event_type().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "user.lifecycle.deactivate",
            "user.lifecycle.activate",
            "user.lifecycle.activate"
        ]
    );
    let again = send(&app, "POST", &lifecycle(&active.id, "activate"), None).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("already active"),
        "{}",
        again.body
    );
    let redeactivated = send(&app, "POST", &lifecycle(&active.id, "deactivate"), None).await;
    assert_eq!(redeactivated.body["status"], "DEPROVISIONED");
}
