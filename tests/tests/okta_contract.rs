//! Okta's own Management API spec (`tests/spec/`, release 2026.06.3) as the judge of
//! (a) every answer the fake org gives to the calls the tools make: the success bodies of every
//! list and get (each page, each `expand`) and of every write (the user, or no body at all), and
//! the error bodies of both (400, 401, 403, 404, 405, 429); and
//! (b) every request the real tool server sends while it runs all of its tools, the write tools
//! through their confirmation tokens: only methods and paths the spec has an operation for, no
//! parameter the operation does not declare, every value within its declared type, enum and
//! bounds, and no body where the operation declares none.
//!
//! Where Okta's spec disagrees with itself or with what Okta does, the exception is written
//! down here ([`UNDECLARED_ERRORS`], [`EMPTY_OBJECT_ANSWERS`], [`corrected_spec`]) with the
//! reason; nothing is skipped silently. `the_checks_catch_drift` shows that a body, a status or a
//! request that leaves the spec fails.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use axum::response::Response;
use okta_mcp_tests::contract::{self, Spec};
use okta_mcp_tests::fake_okta::dataset::{
    ALICE_ID, BIG_GROUP_ID, DEFAULT_SEED, EVERYONE_GROUP_ID, GroupType, UserStatus, ZOE_LOGIN,
};
use okta_mcp_tests::fake_okta::error::ApiError;
use okta_mcp_tests::fake_okta::management::request::okta_response_values;
use okta_mcp_tests::fake_okta::traffic::FaultsUpdate;
use okta_mcp_tests::fake_okta::{self, Dataset, Settings, state::AppState};
use okta_mcp_tests::harness::{
    FakeOkta, McpClient, TEST_API_TOKEN, ToolServer, http_client, serve_hook,
};
use okta_mcp_tool_server::tools::TOOL_NAMES;
use serde_json::{Value, json};
use tower::ServiceExt;

/// Statuses Okta answers on operations whose spec does not declare them; their bodies are held
/// to the spec's `Error` schema instead.
const UNDECLARED_ERRORS: &[(u16, &str)] = &[
    // Okta answers E0000011 to any request without a valid token, but the spec declares 401
    // for none of the operations the tools use.
    (401, "no operation declares it"),
    // Okta answers E0000001 (a bad `limit`, `after`, `type`, `oauthTokens`) and E0000031 (a bad
    // `filter` or `search`) on operations that declare no 400: of those the tools call, only
    // listLogEvents, suspendUser and unsuspendUser do. Even listApplicationGroupAssignments,
    // whose `limit` has a declared minimum, declares no 400 for a limit below it. A lifecycle
    // transition the user's status does not allow is E0000001 too, as Okta's Users API
    // reference documents for suspend and unsuspend; expirePassword declares no 400, and Okta
    // documents no other answer for it.
    (400, "few operations declare it"),
    // Okta answers E0000022 to a method that a path has no operation for: no operation can
    // declare it.
    (405, "no operation has the method"),
];

/// Answers with a body where the operation's status declares none: the body must be exactly
/// `{}`. "Returns an empty object", says Okta's Users API reference of Suspend User and
/// Unsuspend User, while the spec's 200 has no `content` (and the page generated from it says
/// "No content"); clients must take both, and the tool server does.
const EMPTY_OBJECT_ANSWERS: &[(&str, u16)] = &[("suspendUser", 200), ("unsuspendUser", 200)];

/// The methods a 405 is checked against: the spec must have none of them for the path.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// Okta's spec with the corrections the fake org (and Okta) need; each says why.
fn corrected_spec() -> Spec {
    let mut document =
        contract::read_document(&contract::bundled_spec_path()).expect("tests/spec is readable");
    let mut correct = |pointer: &str, change: &dyn Fn(&mut Value)| {
        let schema = document
            .pointer_mut(&format!("/components/schemas/{pointer}"))
            .unwrap_or_else(|| panic!("{pointer} is no longer in the spec: drop its correction"));
        change(schema);
    };
    // `null` allowed besides what the schema says (a `$ref` cannot take `nullable`).
    let nullable = |schema: &mut Value| {
        if let Some(reference) = schema.get("$ref").cloned() {
            *schema = json!({"anyOf": [{"$ref": reference}, {"enum": [null]}]});
        } else {
            schema["nullable"] = json!(true);
            if let Some(Value::Array(values)) = schema.get_mut("enum") {
                values.push(Value::Null);
            }
        }
    };
    // Properties Okta sends as `null` although their schema is not `nullable`: Okta's own
    // examples in the same document show these nulls.
    for pointer in [
        // "…or `null` if empty", says its description.
        "NetworkZoneLocation/properties/region",
        // `"gateways": null` in the BlockedIpZone examples, an IP zone without any (its
        // `proxies` beside it is `nullable` already).
        "IPNetworkZone/allOf/2/properties/gateways",
        // `"externalId": null` in the app user examples (nothing provisioned).
        "AppUser/properties/externalId",
        // `"errorRedirectUrl": null`, `"admin": null`, `"helpUrl": null`… in the app examples.
        "ApplicationAccessibility/properties/errorRedirectUrl",
        "ApplicationAccessibility/properties/loginRedirectUrl",
        "ApplicationSettingsNotes/properties/admin",
        "ApplicationSettingsNotes/properties/enduser",
        "ApplicationSettingsNotificationsVpn/properties/helpUrl",
        "ApplicationSettingsNotificationsVpn/properties/message",
        // `"conditions": null` in the rule examples (default and catch-all rules).
        "AccessPolicyRule/allOf/1/properties/conditions",
        "OktaSignOnPolicyRule/allOf/1/properties/conditions",
        "IdpDiscoveryPolicyRule/allOf/1/properties/conditions",
        // `"detailEntry": null`, `"credentialProvider": null`… in the System Log examples (and
        // in LogAuthenticationContext's own description of an IWA sign-in).
        "LogActor/properties/detailEntry",
        "LogTarget/properties/detailEntry",
        "LogAuthenticationContext/properties/authenticationProvider",
        "LogAuthenticationContext/properties/credentialProvider",
        "LogAuthenticationContext/properties/credentialType",
        "LogAuthenticationContext/properties/issuer",
        "LogAuthenticationContext/properties/interface",
        "LogOutcome/properties/reason",
        "LogIpAddress/properties/source",
        // A dynamic zone without a proxy type: the enum lists the *string* "null", described as
        // "(Or `\"\"`) No proxy used"; Okta's Zones reference says `""` or `null` then.
        "DynamicNetworkZone/allOf/2/properties/proxyType",
    ] {
        correct(pointer, &nullable);
    }
    correct(
        "DynamicNetworkZone/allOf/2/properties/proxyType",
        &|schema| {
            if let Some(Value::Array(values)) = schema.get_mut("enum") {
                values.push(json!(""));
            }
        },
    );
    // An IdP discovery rule's provider: "IdP types of `OKTA`, `AgentlessDSSO`, and `IWA` don't
    // require an ID", says `id`, but `type` refers to IdentityProviderType, which lists none
    // of the three.
    correct("IdpPolicyRuleActionProvider/properties/type", &|schema| {
        *schema = json!({"anyOf": [schema.clone(), {"enum": ["OKTA", "AgentlessDSSO", "IWA"]}]});
    });
    // The discriminator sends every `WS_FEDERATION` app to WsFederationApplication, whose
    // `name` may only be `template_wsfed`; catalogue apps such as Office 365 (`office365`) sign
    // on with WS-Federation under their own name.
    correct(
        "WsFederationApplication/allOf/1/properties/name",
        &|schema| {
            if let Some(map) = schema.as_object_mut() {
                map.remove("enum");
            }
        },
    );
    // The fake org's one user with a non-ASCII address (`zoë.müller@example.com`, kept for the
    // proxy's tests) is an RFC 6531 address: JSON Schema's `email` format is ASCII only.
    correct("UserProfile/properties/email", &|schema| {
        schema["format"] = json!("idn-email");
    });
    Spec::from_document(document).expect("an OpenAPI 3.0 document")
}

fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(corrected_spec)
}

fn dataset() -> &'static Dataset {
    static DATASET: OnceLock<Dataset> = OnceLock::new();
    DATASET.get_or_init(|| Dataset::generate(DEFAULT_SEED))
}

/// The fake org in this process, with a budget that never runs out.
fn fake_org() -> (Router, AppState) {
    let settings = Settings {
        listen: ([127, 0, 0, 1], 0).into(),
        api_token: TEST_API_TOKEN.into(),
        seed: DEFAULT_SEED,
        latency_ms: 0,
        rate_limit_per_minute: 1_000_000,
        rate_limit_reset_secs: 60,
        oidc: Default::default(),
        event_hook: Default::default(),
        service_app: Default::default(),
    };
    let state = fake_okta::state(&settings, dataset().clone(), "fake.test".into());
    (fake_okta::router(state.clone()), state)
}

/// One answer of the fake org.
struct Answer {
    status: u16,
    /// The JSON body (`null` when there is none, or it is not JSON).
    body: Value,
    /// No body at all (a 204, or a 200 of an operation that declares no body).
    empty: bool,
    /// Path and query of the `next` link.
    next: Option<String>,
}

async fn send(app: &Router, method: &str, uri: &str, token: Option<&str>) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "fake.test");
    if let Some(token) = token {
        request = request.header("authorization", format!("SSWS {token}"));
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let next = response
        .headers()
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|l| l.ends_with("rel=\"next\""))
        .and_then(|l| l.trim_start_matches('<').split('>').next())
        .map(|url| url.trim_start_matches("http://fake.test").to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let empty = bytes.iter().all(u8::is_ascii_whitespace);
    Answer {
        status,
        body,
        empty,
        next,
    }
}

/// Splits `/path?a=1&b=2` into the path and decoded query pairs.
fn split(uri: &str) -> (&str, Vec<(String, String)>) {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let pairs = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    (path, pairs)
}

/// Checks answers against the spec and keeps every problem, so one run shows them all.
#[derive(Default)]
struct Judge {
    problems: Vec<String>,
    answers: usize,
    operations: BTreeSet<(String, u16)>,
    /// 405s to methods the spec has no operation for.
    not_allowed: usize,
}

impl Judge {
    /// Checks `answer` to `method uri`: its body against what the operation declares for its
    /// status (a body's schema, or no body), or against `Error` for a status no operation
    /// declares ([`UNDECLARED_ERRORS`]).
    fn answer(&mut self, method: &str, uri: &str, answer: &Answer) {
        let (path, _) = split(uri);
        self.answers += 1;
        let spec = spec();
        let Some(operation) = spec.operation(method, path) else {
            self.not_allowed(method, uri, answer);
            return;
        };
        let status = answer.status;
        self.operations.insert((operation.id.clone(), status));
        let result = if status == 405 {
            Err(format!(
                "a 405, but {} is this method's operation",
                operation.id
            ))
        } else if answer.empty {
            spec.check_empty_response(method, path, status)
        } else if EMPTY_OBJECT_ANSWERS.contains(&(operation.id.as_str(), status)) {
            if answer.body == json!({}) {
                Ok(())
            } else {
                Err(format!(
                    "{} {status}: only an empty object is excepted, not {}",
                    operation.id, answer.body
                ))
            }
        } else if !spec.declares(&operation, status)
            && UNDECLARED_ERRORS.iter().any(|(s, _)| *s == status)
        {
            spec.check_named("Error", &answer.body)
        } else {
            spec.check_response(method, path, status, &answer.body)
        };
        if let Err(problem) = result {
            self.problems
                .push(format!("{method} {uri} → {status}: {problem}"));
        }
        // The fake's own next links must be requests the spec allows, too.
        if let Some(next) = &answer.next {
            let (next_path, query) = split(next);
            for problem in spec.check_request("GET", next_path, &query) {
                self.problems
                    .push(format!("next link of {method} {uri}: {problem}"));
            }
        }
    }

    /// An answer to a method the spec has no operation for: right only as a 405 with Okta's
    /// error body, on a path the spec has other methods for.
    fn not_allowed(&mut self, method: &str, uri: &str, answer: &Answer) {
        let (path, _) = split(uri);
        let spec = spec();
        if answer.status != 405 {
            self.problems.push(format!(
                "{method} {uri} → {}: no operation in the spec",
                answer.status
            ));
        } else if !METHODS.iter().any(|m| spec.operation(m, path).is_some()) {
            self.problems
                .push(format!("{method} {uri} → 405: no operation has the path"));
        } else if let Err(problem) = spec.check_named("Error", &answer.body) {
            self.problems
                .push(format!("{method} {uri} → 405: {problem}"));
        } else {
            self.not_allowed += 1;
        }
    }

    /// `method uri` with the token, checked, expecting `status`; returns the answer.
    async fn call(&mut self, app: &Router, method: &str, uri: &str, status: u16) -> Answer {
        let answer = send(app, method, uri, Some(TEST_API_TOKEN)).await;
        if answer.status != status {
            self.problems.push(format!(
                "{method} {uri}: expected {status}, got {}: {}",
                answer.status, answer.body
            ));
        }
        self.answer(method, uri, &answer);
        answer
    }

    /// `GET uri` with the token, checked, expecting `status`; returns the answer.
    async fn get(&mut self, app: &Router, uri: &str, status: u16) -> Answer {
        self.call(app, "GET", uri, status).await
    }

    /// Every page of `uri`, following `next` links.
    async fn pages(&mut self, app: &Router, uri: &str) -> usize {
        let mut next = Some(uri.to_owned());
        let mut items = 0;
        let mut pages = 0;
        while let Some(uri) = next {
            let answer = self.get(app, &uri, 200).await;
            items += answer.body.as_array().map_or(0, Vec::len);
            next = answer.next;
            pages += 1;
            assert!(pages < 200, "runaway paging at {uri}");
        }
        items
    }
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// (a) Every kind of answer the fake org gives to the operations the tools call.
#[tokio::test]
async fn the_fake_orgs_answers_match_oktas_spec() {
    let (app, state) = fake_org();
    let d = dataset();
    let mut judge = Judge::default();

    // Users: every user on some page, the three query modes, one user of each status.
    assert_eq!(judge.pages(&app, "/api/v1/users?limit=200").await, 1975);
    judge.pages(&app, "/api/v1/users?q=al").await;
    let search = enc(r#"profile.department eq "Engineering""#);
    judge
        .pages(
            &app,
            &format!(
                "/api/v1/users?search={search}&sortBy=profile.lastName&sortOrder=desc&limit=50"
            ),
        )
        .await;
    judge
        .pages(
            &app,
            &format!(
                "/api/v1/users?filter={}&limit=100",
                enc(r#"status eq "DEPROVISIONED""#)
            ),
        )
        .await;
    let mut statuses = BTreeSet::new();
    for user in &d.users {
        if statuses.insert(user.status.as_str()) {
            judge
                .get(&app, &format!("/api/v1/users/{}", user.id), 200)
                .await;
        }
    }
    judge
        .get(&app, "/api/v1/users/alice@example.com", 200)
        .await;
    judge
        .get(&app, &format!("/api/v1/users/{}", enc(ZOE_LOGIN)), 200)
        .await;
    // Factors of every user (every factor type); groups and app links of every tenth.
    for (i, user) in d.users.iter().enumerate() {
        judge
            .get(&app, &format!("/api/v1/users/{}/factors", user.id), 200)
            .await;
        if i % 10 == 0 {
            judge
                .get(&app, &format!("/api/v1/users/{}/groups", user.id), 200)
                .await;
            judge
                .get(&app, &format!("/api/v1/users/{}/appLinks", user.id), 200)
                .await;
        }
    }

    // Groups: all, by name, by search; each group and all its members.
    assert_eq!(
        judge.pages(&app, "/api/v1/groups?limit=50").await,
        d.groups.len()
    );
    judge.pages(&app, "/api/v1/groups?q=sso-").await;
    judge
        .pages(
            &app,
            &format!("/api/v1/groups?search={}", enc(r#"type eq "APP_GROUP""#)),
        )
        .await;
    for group in &d.groups {
        judge
            .get(&app, &format!("/api/v1/groups/{}", group.id), 200)
            .await;
        judge
            .pages(
                &app,
                &format!("/api/v1/groups/{}/users?limit=1000", group.id),
            )
            .await;
    }

    // Apps: all, by name and filter; each app, its users and its groups (plain and expanded).
    assert_eq!(
        judge.pages(&app, "/api/v1/apps?limit=20").await,
        d.apps.len()
    );
    judge.pages(&app, "/api/v1/apps?q=Zoom").await;
    judge
        .pages(
            &app,
            &format!("/api/v1/apps?filter={}", enc(r#"status eq "INACTIVE""#)),
        )
        .await;
    for a in &d.apps {
        judge
            .get(&app, &format!("/api/v1/apps/{}", a.id), 200)
            .await;
        judge
            .pages(&app, &format!("/api/v1/apps/{}/users?limit=500", a.id))
            .await;
        judge
            .pages(&app, &format!("/api/v1/apps/{}/groups", a.id))
            .await;
        judge
            .pages(
                &app,
                &format!("/api/v1/apps/{}/groups?expand=group&limit=20", a.id),
            )
            .await;
    }

    // The whole System Log, both orders, and a filtered query.
    let since = (d.generated_at - chrono::Duration::days(31)).to_rfc3339();
    let until = chrono::Utc::now().to_rfc3339();
    let window = format!("since={}&until={}", enc(&since), enc(&until));
    let events = judge
        .pages(&app, &format!("/api/v1/logs?{window}&limit=1000"))
        .await;
    assert!(events >= d.log_events.len(), "{events} events");
    judge
        .pages(
            &app,
            &format!(
                "/api/v1/logs?{window}&limit=1000&sortOrder=DESCENDING&filter={}",
                enc(r#"outcome.result eq "FAILURE""#)
            ),
        )
        .await;

    // Every policy type (some with none), every rule list and rule.
    for kind in [
        "OKTA_SIGN_ON",
        "PASSWORD",
        "MFA_ENROLL",
        "ACCESS_POLICY",
        "IDP_DISCOVERY",
        "CLIENT_UPDATE",
    ] {
        judge
            .pages(&app, &format!("/api/v1/policies?type={kind}&limit=1"))
            .await;
    }
    for policy in &d.policies {
        judge
            .get(&app, &format!("/api/v1/policies/{}/rules", policy.id), 200)
            .await;
        for rule in &policy.rules {
            judge
                .get(
                    &app,
                    &format!("/api/v1/policies/{}/rules/{}", policy.id, rule.id),
                    200,
                )
                .await;
        }
    }

    // Zones: all, paged, filtered.
    assert_eq!(judge.pages(&app, "/api/v1/zones").await, d.zones.len());
    judge.pages(&app, "/api/v1/zones?limit=3").await;
    judge
        .pages(
            &app,
            &format!("/api/v1/zones?filter={}", enc(r#"usage eq "BLOCKLIST""#)),
        )
        .await;

    // Errors. 404 from every operation that names something.
    let app_id = &d.apps[0].id;
    let policy = &d.policies[0];
    for uri in [
        "/api/v1/users/00unosuchuser0000000".to_owned(),
        "/api/v1/users/00unosuchuser0000000/groups".to_owned(),
        "/api/v1/users/00unosuchuser0000000/appLinks".to_owned(),
        "/api/v1/users/00unosuchuser0000000/factors".to_owned(),
        "/api/v1/groups/00gnosuchgroup000000".to_owned(),
        "/api/v1/groups/00gnosuchgroup000000/users".to_owned(),
        "/api/v1/apps/0oanosuchapp00000000".to_owned(),
        "/api/v1/apps/0oanosuchapp00000000/users".to_owned(),
        "/api/v1/apps/0oanosuchapp00000000/groups".to_owned(),
        "/api/v1/policies/00pnosuchpolicy00000/rules".to_owned(),
        format!("/api/v1/policies/{}/rules/0prnosuchrule0000000", policy.id),
    ] {
        judge.get(&app, &uri, 404).await;
    }
    // 400: a limit below the minimum, bad cursors, searches, filters, a missing type, and the
    // System Log's own E0000053.
    for uri in [
        format!("/api/v1/apps/{app_id}/groups?limit=5"),
        "/api/v1/users?after=not-a-cursor".to_owned(),
        format!("/api/v1/users?search={}", enc("profile.lastName zz \"x\"")),
        format!("/api/v1/groups?filter={}", enc(r#"name eq "x""#)),
        format!("/api/v1/apps?filter={}", enc(r#"label eq "x""#)),
        format!("/api/v1/zones?filter={}", enc(r#"name eq "x""#)),
        format!("/api/v1/apps/{app_id}/users?limit=0"),
        "/api/v1/policies".to_owned(),
        "/api/v1/logs?since=yesterday".to_owned(),
        format!("/api/v1/logs?filter={}", enc("published gt \"2020\"")),
        format!("/api/v1/logs?q={}", "x".repeat(41)),
    ] {
        judge.get(&app, &uri, 400).await;
    }
    // 401 and 429 from every operation the tools use.
    let every_operation = [
        "/api/v1/users".to_owned(),
        format!("/api/v1/users/{ALICE_ID}"),
        format!("/api/v1/users/{ALICE_ID}/groups"),
        format!("/api/v1/users/{ALICE_ID}/appLinks"),
        format!("/api/v1/users/{ALICE_ID}/factors"),
        "/api/v1/groups".to_owned(),
        format!("/api/v1/groups/{BIG_GROUP_ID}"),
        format!("/api/v1/groups/{BIG_GROUP_ID}/users"),
        "/api/v1/apps".to_owned(),
        format!("/api/v1/apps/{app_id}"),
        format!("/api/v1/apps/{app_id}/users"),
        format!("/api/v1/apps/{app_id}/groups"),
        "/api/v1/logs".to_owned(),
        "/api/v1/policies?type=PASSWORD".to_owned(),
        format!("/api/v1/policies/{}/rules", policy.id),
        format!(
            "/api/v1/policies/{}/rules/{}",
            policy.id, policy.rules[0].id
        ),
        "/api/v1/zones".to_owned(),
    ];
    for uri in &every_operation {
        for token in [None, Some("wrong-token")] {
            let answer = send(&app, "GET", uri, token).await;
            assert_eq!(answer.status, 401, "{uri}");
            judge.answer("GET", uri, &answer);
        }
        state.traffic.update(&FaultsUpdate {
            inject_429: Some(1),
            ..FaultsUpdate::default()
        });
        judge.get(&app, uri, 429).await;
        // The fake grants everything, so it never answers 403: its 403 body is checked as is.
        let (path, _) = split(uri);
        let forbidden = spec().check_response("GET", path, 403, &ApiError::Forbidden.body());
        if let Err(problem) = forbidden {
            judge.problems.push(format!("403 of {uri}: {problem}"));
        }
    }

    let operations: BTreeSet<&str> = judge.operations.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(operations.len(), 17, "operations answered: {operations:?}");
    eprintln!(
        "{} answers of {} operations checked against Okta's spec {}",
        judge.answers,
        operations.len(),
        spec().version()
    );
    assert!(
        judge.problems.is_empty(),
        "{} answers leave Okta's spec:\n{}",
        judge.problems.len(),
        judge.problems.join("\n")
    );
}

/// (a) Every kind of answer the fake org gives to the operations of the write tools (and to
/// getFactor, which reset_okta_user_factor reads first): each success, a transition the user's
/// status does not allow, unknown ids, groups the API cannot change, methods the spec has no
/// operation for, and 401, 403, 429.
#[tokio::test]
async fn the_fake_orgs_write_answers_match_oktas_spec() {
    let (app, state) = fake_org();
    let d = dataset();
    let mut judge = Judge::default();
    let active_ids: BTreeSet<&str> = d
        .users
        .iter()
        .filter(|u| u.status == UserStatus::Active)
        .map(|u| u.id.as_str())
        .collect();
    let factor_of = |user: &str| {
        d.factors
            .iter()
            .find(|f| f.user_id == user)
            .map(|f| f.id.clone())
    };
    // Not alice: her paths stay untouched for the 405, 401 and 429 checks below.
    let mut with_factors = d.users.iter().filter(|u| {
        u.status == UserStatus::Active && u.id != ALICE_ID && factor_of(&u.id).is_some()
    });
    let user = with_factors.next().expect("an active user with a factor");
    let other = with_factors.next().expect("a second one");
    let suspended = d
        .users
        .iter()
        .find(|u| u.status == UserStatus::Suspended)
        .expect("a suspended user");
    let group = d
        .groups
        .iter()
        .find(|g| g.group_type == GroupType::OktaGroup && !g.member_ids.contains(&user.id))
        .expect("an OKTA_GROUP without the user");
    let app_group = d
        .groups
        .iter()
        .find(|g| g.group_type == GroupType::AppGroup)
        .expect("an APP_GROUP");
    let lifecycle = |id: &str, operation: &str| format!("/api/v1/users/{id}/lifecycle/{operation}");
    let sessions = |id: &str| format!("/api/v1/users/{id}/sessions");
    let factor_path = |id: &str, factor: &str| format!("/api/v1/users/{id}/factors/{factor}");
    let membership = |group: &str, user: &str| format!("/api/v1/groups/{group}/users/{user}");

    // Lifecycle: 200 (by login or id) until the status no longer allows it: 400 E0000001.
    judge
        .call(
            &app,
            "POST",
            &lifecycle(&user.profile.login, "suspend"),
            200,
        )
        .await;
    judge
        .call(&app, "POST", &lifecycle(&user.id, "suspend"), 400)
        .await;
    judge
        .call(&app, "POST", &lifecycle(&user.id, "unsuspend"), 200)
        .await;
    judge
        .call(&app, "POST", &lifecycle(&user.id, "unsuspend"), 400)
        .await;
    // Expiring a password answers the user, also when it already expired.
    for _ in 0..2 {
        let expired = judge
            .call(&app, "POST", &lifecycle(&user.id, "expire_password"), 200)
            .await;
        assert_eq!(expired.body["status"], "PASSWORD_EXPIRED");
    }
    judge
        .call(
            &app,
            "POST",
            &lifecycle(&suspended.id, "expire_password"),
            400,
        )
        .await;

    // Sessions: 204 without a body, with or without the declared booleans; a bad boolean 400.
    for query in [
        "",
        "?oauthTokens=true",
        "?oauthTokens=false&forgetDevices=true",
    ] {
        judge
            .call(
                &app,
                "DELETE",
                &format!("{}{query}", sessions(&user.id)),
                204,
            )
            .await;
    }
    judge
        .call(
            &app,
            "DELETE",
            &format!("{}?oauthTokens=maybe", sessions(&user.id)),
            400,
        )
        .await;

    // Factors: one of each type, then one unenrolled (204) and gone (404).
    let mut types = BTreeSet::new();
    for factor in &d.factors {
        if active_ids.contains(factor.user_id.as_str()) && types.insert(&factor.factor_type) {
            judge
                .get(&app, &factor_path(&factor.user_id, &factor.id), 200)
                .await;
        }
    }
    let factor = factor_of(&user.id).expect("a factor");
    let path = factor_path(&user.id, &factor);
    judge.call(&app, "DELETE", &path, 204).await;
    judge.call(&app, "DELETE", &path, 404).await;
    judge.get(&app, &path, 404).await;
    // A deactivated user's factors are not found, as Okta answers for a DEPROVISIONED user.
    let deactivated = send(
        &app,
        "POST",
        &format!("/__fake/users/{}/lifecycle/deactivate", other.id),
        None,
    )
    .await;
    assert_eq!(deactivated.body["status"], "DEPROVISIONED");
    let path = factor_path(&other.id, &factor_of(&other.id).expect("a factor"));
    judge.call(&app, "DELETE", &path, 404).await;
    judge.get(&app, &path, 404).await;

    // Memberships: 204 whether or not anything changes; 403 for an APP_GROUP and Everyone.
    for method in ["PUT", "PUT", "DELETE", "DELETE"] {
        judge
            .call(&app, method, &membership(&group.id, &user.id), 204)
            .await;
    }
    for refused in [app_group.id.as_str(), EVERYONE_GROUP_ID] {
        for method in ["PUT", "DELETE"] {
            judge
                .call(&app, method, &membership(refused, &user.id), 403)
                .await;
        }
    }

    // Unknown users, groups and factors: 404 E0000007.
    let nobody = "00unosuchuser0000000";
    let unknown = [
        ("POST", lifecycle(nobody, "suspend")),
        ("POST", lifecycle(nobody, "unsuspend")),
        ("POST", lifecycle(nobody, "expire_password")),
        ("DELETE", sessions(nobody)),
        ("GET", factor_path(nobody, &factor)),
        ("DELETE", factor_path(nobody, &factor)),
        ("GET", factor_path(&user.id, "mfanosuchfactor00000")),
        ("DELETE", factor_path(&user.id, "mfanosuchfactor00000")),
        ("PUT", membership("00gnosuchgroup000000", &user.id)),
        ("DELETE", membership("00gnosuchgroup000000", &user.id)),
        ("PUT", membership(&group.id, nobody)),
        ("DELETE", membership(&group.id, nobody)),
    ];
    for (method, uri) in &unknown {
        judge.call(&app, method, uri, 404).await;
    }

    // Methods the spec has no operation for on these paths: 405 E0000022.
    let third = factor_of(ALICE_ID).expect("alice has factors");
    let every_operation = [
        ("POST", lifecycle(ALICE_ID, "suspend")),
        ("POST", lifecycle(ALICE_ID, "unsuspend")),
        ("POST", lifecycle(ALICE_ID, "expire_password")),
        ("DELETE", sessions(ALICE_ID)),
        ("GET", factor_path(ALICE_ID, &third)),
        ("DELETE", factor_path(ALICE_ID, &third)),
        ("PUT", membership(&group.id, ALICE_ID)),
        ("DELETE", membership(&group.id, ALICE_ID)),
    ];
    let paths: BTreeSet<&str> = every_operation.iter().map(|(_, p)| p.as_str()).collect();
    for path in paths {
        for method in METHODS {
            if spec().operation(method, path).is_none() {
                judge.call(&app, method, path, 405).await;
            }
        }
    }

    // 401 and 429 from every operation; the 403 body as Okta sends it when the token may not.
    for (method, uri) in &every_operation {
        for token in [None, Some("wrong-token")] {
            let answer = send(&app, method, uri, token).await;
            assert_eq!(answer.status, 401, "{method} {uri}");
            judge.answer(method, uri, &answer);
        }
        state.traffic.update(&FaultsUpdate {
            inject_429: Some(1),
            ..FaultsUpdate::default()
        });
        judge.call(&app, method, uri, 429).await;
        let forbidden = spec().check_response(method, uri, 403, &ApiError::Forbidden.body());
        if let Err(problem) = forbidden {
            judge
                .problems
                .push(format!("403 of {method} {uri}: {problem}"));
        }
    }

    assert!(
        judge.problems.is_empty(),
        "{} answers leave Okta's spec:\n{}",
        judge.problems.len(),
        judge.problems.join("\n")
    );
    let statuses = |id: &str| -> Vec<u16> {
        judge
            .operations
            .iter()
            .filter(|(operation, _)| operation == id)
            .map(|(_, status)| *status)
            .collect()
    };
    for (id, expected) in [
        ("suspendUser", &[200, 400, 401, 404, 429][..]),
        ("unsuspendUser", &[200, 400, 401, 404, 429]),
        ("expirePassword", &[200, 400, 401, 404, 429]),
        ("revokeUserSessions", &[204, 400, 401, 404, 429]),
        ("getFactor", &[200, 401, 404, 429]),
        ("unenrollFactor", &[204, 401, 404, 429]),
        ("assignUserToGroup", &[204, 401, 403, 404, 429]),
        ("unassignUserFromGroup", &[204, 401, 403, 404, 429]),
    ] {
        assert_eq!(statuses(id), expected, "statuses of {id} answered");
    }
    let operations: BTreeSet<&str> = judge.operations.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(operations.len(), 8, "operations answered: {operations:?}");
    assert_eq!(
        judge.not_allowed, 22,
        "405s to methods without an operation"
    );
    eprintln!(
        "{} answers of {} write operations (and {} 405s) checked against Okta's spec {}",
        judge.answers,
        operations.len(),
        judge.not_allowed,
        spec().version()
    );
}

/// One API request as the tool server sent it, body included.
#[derive(Debug, Clone)]
struct Sent {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Vec<u8>,
    /// `Content-Type`, when the tool server sent one.
    content_type: Option<String>,
}

/// Requests the relay kept.
type SentRequests = Arc<Mutex<Vec<Sent>>>;

/// A relay between the tool server and the fake org that keeps every API request with its body
/// (`/__fake/stats` keeps none). Returns its URL, for the tool server's `OKTA_ORG_URL`.
async fn relay(okta_url: &str) -> (String, SentRequests) {
    let sent = SentRequests::default();
    let kept = Arc::clone(&sent);
    let okta = okta_url.to_owned();
    let http = http_client();
    let app = Router::new().fallback(move |request: Request<Body>| {
        let (okta, http, kept) = (okta.clone(), http.clone(), Arc::clone(&kept));
        async move { pass_on(request, &okta, &http, &kept).await }
    });
    (serve_hook(app).await, sent)
}

/// Keeps `request` (when it is an API request) and answers what the fake org answers to it.
async fn pass_on(
    request: Request<Body>,
    okta: &str,
    http: &reqwest::Client,
    kept: &Mutex<Vec<Sent>>,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .expect("the request's body");
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let (path, query) = split(target);
    if path.starts_with("/api/") {
        kept.lock().expect("not poisoned").push(Sent {
            method: parts.method.to_string(),
            path: path.to_owned(),
            query,
            body: body.to_vec(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        });
    }
    let hop_by_hop = [
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::CONNECTION,
    ];
    // `Host` goes along: the fake's `next` links then lead back through the relay.
    let mut forward = http
        .request(parts.method.clone(), format!("{okta}{target}"))
        .body(body.to_vec());
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(n, _)| !hop_by_hop.contains(n))
    {
        forward = forward.header(name, value);
    }
    let answer = forward.send().await.expect("the fake org answers");
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer
        .headers()
        .iter()
        .filter(|(n, _)| !hop_by_hop.contains(n))
    {
        response = response.header(name, value);
    }
    let bytes = answer.bytes().await.expect("the fake org's body");
    response.body(Body::from(bytes)).expect("a response")
}

/// (b) Every request the real tool server sends while each of its tools runs: paging, cursors,
/// filters, the smallest and largest limits, and each write tool confirmed with its token.
#[tokio::test]
async fn the_tool_servers_requests_match_oktas_spec() {
    let okta = FakeOkta::start(&[]);
    let (relay_url, sent) = relay(&okta.url).await;
    let server = ToolServer::start(&okta, &[("OKTA_ORG_URL", &relay_url)]).await;
    let mut client = McpClient::new(&server.mcp_url, "super-admin", "00u-contract");
    client.initialize().await;
    let d = dataset();
    let zoom = &d.app_by_label("Zoom").expect("Zoom").id;
    let okta_mcp = &d.app_by_label("okta-mcp").expect("okta-mcp").id;
    let policy = d.policies_of_type("ACCESS_POLICY")[0];
    let question = &d
        .factors
        .iter()
        .find(|f| f.factor_type == "question")
        .expect("a security question")
        .user_id;
    let mut calls = vec![
        ("get_okta_user", json!({"user_id": ALICE_ID})),
        ("get_okta_user", json!({"user_id": "alice@example.com"})),
        ("list_okta_users", json!({})),
        ("list_okta_users", json!({"query": "al"})),
        (
            "list_okta_users",
            json!({"search": "profile.department eq \"Engineering\"",
                                   "sort_by": "profile.lastName", "sort_order": "asc",
                                   "limit": 30}),
        ),
        (
            "list_okta_users",
            json!({"filter_type": "status eq \"ACTIVE\"", "limit": 250}),
        ),
        (
            "list_okta_user_groups",
            json!({"user_id": "alice@example.com", "limit": 1}),
        ),
        (
            "list_okta_user_applications",
            json!({"user_id": ALICE_ID, "show_all": false}),
        ),
        ("list_okta_user_factors", json!({"user_id": question})),
        ("get_okta_group", json!({"group_id": BIG_GROUP_ID})),
        ("list_okta_groups", json!({"query": "sso-"})),
        (
            "list_okta_groups",
            json!({"search": "type eq \"APP_GROUP\""}),
        ),
        (
            "list_okta_groups",
            json!({"filter_type": "type eq \"OKTA_GROUP\"", "limit": 5}),
        ),
        (
            "list_okta_group_users",
            json!({"group_id": BIG_GROUP_ID, "limit": 1000}),
        ),
        ("get_okta_application", json!({"app_id": zoom})),
        ("list_okta_applications", json!({"query": "Zoom"})),
        (
            "list_okta_applications",
            json!({"filter_type": "status eq \"ACTIVE\"", "limit": 30}),
        ),
        (
            "list_okta_application_users",
            json!({"app_id": zoom, "limit": 600}),
        ),
        ("list_okta_application_groups", json!({"app_id": zoom})),
        (
            "list_okta_application_groups",
            json!({"app_id": okta_mcp, "limit": 1}),
        ),
        (
            "list_okta_application_groups",
            json!({"app_id": okta_mcp, "limit": 210}),
        ),
        ("get_okta_event_logs", json!({})),
        (
            "get_okta_event_logs",
            json!({"since": "31 days ago", "q": "alice", "limit": 1000,
                                       "filter_string": "outcome.result eq \"FAILURE\"",
                                       "sort_order": "ASCENDING"}),
        ),
        (
            "list_okta_policies",
            json!({"type": "access_policy", "status": "ACTIVE", "limit": 1}),
        ),
        (
            "list_okta_policy_rules",
            json!({"policy_id": policy.id, "limit": 1}),
        ),
        (
            "get_okta_policy_rule",
            json!({"policy_id": policy.id, "rule_id": policy.rules[0].id}),
        ),
        ("list_okta_network_zones", json!({})),
        (
            "list_okta_network_zones",
            json!({"filter_type": "usage eq \"BLOCKLIST\"", "limit": 3}),
        ),
        ("get_current_time", json!({})),
        (
            "parse_relative_time",
            json!({"time_expression": "2 hours ago"}),
        ),
    ];
    for kind in [
        "OKTA_SIGN_ON",
        "PASSWORD",
        "MFA_ENROLL",
        "IDP_DISCOVERY",
        "CLIENT_UPDATE",
    ] {
        calls.push(("list_okta_policies", json!({"type": kind})));
    }
    let mut called = BTreeSet::new();
    for (tool, mut args) in calls {
        let result = client.call_ok(tool, args.clone()).await;
        called.insert(tool);
        // The next page too, with the cursor the tool handed back.
        if let Some(after) = result["after"].as_str() {
            args["after"] = json!(after);
            client.call_ok(tool, args).await;
        }
    }
    // The write tools: the first call only asks and returns a token, the second (with it) writes.
    let has_factor = |id: &str| d.factors.iter().any(|f| f.user_id == id);
    let user = d
        .users
        .iter()
        .find(|u| u.status == UserStatus::Active && u.id != ALICE_ID && has_factor(&u.id))
        .expect("an active user with a factor");
    let (id, login) = (user.id.as_str(), user.profile.login.as_str());
    let factor = &d
        .factors
        .iter()
        .find(|f| f.user_id == id)
        .expect("a factor")
        .id;
    let group = &d
        .groups
        .iter()
        .find(|g| g.group_type == GroupType::OktaGroup && !g.member_ids.contains(&user.id))
        .expect("an OKTA_GROUP without the user")
        .id;
    for (tool, mut args) in [
        ("suspend_okta_user", json!({"user_id": login})),
        ("unsuspend_okta_user", json!({"user_id": id})),
        ("expire_okta_user_password", json!({"user_id": id})),
        ("clear_okta_user_sessions", json!({"user_id": id})),
        (
            "clear_okta_user_sessions",
            json!({"user_id": login, "oauth_tokens": true}),
        ),
        (
            "reset_okta_user_factor",
            json!({"user_id": id, "factor_id": factor}),
        ),
        (
            "add_okta_user_to_group",
            json!({"group_id": group, "user_id": login}),
        ),
        (
            "remove_okta_user_from_group",
            json!({"group_id": group, "user_id": id}),
        ),
    ] {
        let asked = client.call_ok(tool, args.clone()).await;
        let token = asked["confirmation"]
            .as_str()
            .unwrap_or_else(|| panic!("{tool}({args}) returned no token: {asked}"));
        args["confirmation"] = json!(token);
        let done = client.call_ok(tool, args.clone()).await;
        assert_eq!(done["done"], true, "{tool}({args}): {done}");
        called.insert(tool);
    }
    let every_tool: BTreeSet<&str> = TOOL_NAMES.into_iter().collect();
    assert_eq!(called, every_tool, "every tool runs");

    let stats = okta.stats().await;
    assert!(stats["by_path"].get("(unmatched)").is_none(), "{stats}");
    let seen = stats["requests_seen"].as_array().expect("requests_seen");
    assert!(
        seen.len() < 1000,
        "the fake keeps the last 1000 requests only"
    );
    let sent = sent.lock().expect("not poisoned").clone();
    // The fake org saw what the relay passed on, no more and no less.
    let line =
        |method: &str, path: &str, query: &[(String, String)]| format!("{method} {path} {query:?}");
    let mut received: Vec<String> = seen
        .iter()
        .map(|request| {
            let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
            let query: Vec<(String, String)> =
                serde_json::from_value(request["query"].clone()).expect("query pairs");
            line(&text("method"), &text("path"), &query)
        })
        .collect();
    let mut relayed: Vec<String> = sent
        .iter()
        .map(|r| line(&r.method, &r.path, &r.query))
        .collect();
    received.sort();
    relayed.sort();
    assert_eq!(relayed, received, "the relay and the fake org disagree");
    let mut problems = Vec::new();
    let mut operations = BTreeSet::new();
    for request in &sent {
        let (method, path) = (request.method.as_str(), request.path.as_str());
        if let Some(operation) = spec().operation(method, path) {
            operations.insert(operation.id);
        }
        problems.extend(spec().check_request(method, path, &request.query));
        problems.extend(spec().check_request_body(method, path, &request.body));
        if let (Some(content_type), true) = (&request.content_type, request.body.is_empty()) {
            problems.extend(spec().check_request_header(
                method,
                path,
                "Content-Type",
                content_type,
            ));
            // The values Okta's description of `okta-response` lists.
            for value in okta_response_values(content_type) {
                if ![
                    "omitCredentials",
                    "omitCredentialsLinks",
                    "omitTransitioningToStatus",
                ]
                .contains(&value.as_str())
                {
                    problems.push(format!("{method} {path}: okta-response value {value:?}"));
                }
            }
        }
    }
    // listUsers asks Okta to leave out what no tool shows (the credentials and their links).
    let list_users: Vec<&Sent> = sent
        .iter()
        .filter(|r| r.method == "GET" && r.path == "/api/v1/users")
        .collect();
    assert!(!list_users.is_empty());
    for request in list_users {
        let values = request
            .content_type
            .as_deref()
            .map(okta_response_values)
            .unwrap_or_default();
        assert!(
            values.iter().any(|v| v == "omitCredentialsLinks"),
            "listUsers without okta-response: {request:?}"
        );
    }
    for write in [
        "suspendUser",
        "unsuspendUser",
        "expirePassword",
        "revokeUserSessions",
        "getFactor",
        "unenrollFactor",
        "assignUserToGroup",
        "unassignUserFromGroup",
    ] {
        assert!(operations.contains(write), "{write} called: {operations:?}");
    }
    assert_eq!(operations.len(), 25, "operations called: {operations:?}");
    eprintln!(
        "{} requests of the tool server to {} operations checked against Okta's spec",
        sent.len(),
        operations.len()
    );
    assert!(
        problems.is_empty(),
        "{} requests leave Okta's spec:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The checks fail on what drifted from the spec before, or could: a body, a status or a request
/// that leaves it, reads and writes alike.
#[test]
fn the_checks_catch_drift() {
    let spec = spec();
    // The fake's old `proxyType` of an anonymizer zone is not one of Okta's.
    let zones = json!([{"type": "DYNAMIC", "id": "nzo1", "name": "Anonymizers",
        "proxyType": "TorAnonymizer", "locations": [], "asns": []}]);
    let err = spec
        .check_response("GET", "/api/v1/zones", 200, &zones)
        .unwrap_err();
    assert!(err.contains("/0/proxyType"), "{err}");
    // A security question's answer is write-only: never in a response.
    let factors = json!([{"id": "ufs1", "factorType": "question", "provider": "OKTA",
        "status": "ACTIVE", "profile": {"question": "disliked_food", "answer": "pizza"}}]);
    let err = spec
        .check_response("GET", "/api/v1/users/00u1/factors", 200, &factors)
        .unwrap_err();
    assert!(err.contains("/0/profile/answer"), "{err}");
    // The old factor phone numbers were not E.164.
    let sms = json!([{"id": "mbl1", "factorType": "sms", "provider": "OKTA",
        "status": "ACTIVE", "profile": {"phoneNumber": "+1-555-000-0000"}}]);
    assert!(
        spec.check_response("GET", "/api/v1/users/00u1/factors", 200, &sms)
            .is_err()
    );
    // Errors keep Okta's shape.
    let error = json!({"errorCode": 404, "errorSummary": "Not found"});
    assert!(
        spec.check_response("GET", "/api/v1/users/00u1", 404, &error)
            .is_err()
    );

    // What the tools used to send.
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    for (path, query, needle) in [
        (
            "/api/v1/users/00u1/groups",
            q(&[("limit", "200")]),
            "not a declared",
        ),
        (
            "/api/v1/users/00u1/groups",
            q(&[("after", "00g1")]),
            "not a declared",
        ),
        (
            "/api/v1/users/00u1/appLinks",
            q(&[("showAll", "true")]),
            "not a declared",
        ),
        (
            "/api/v1/users/00u1/factors",
            q(&[("after", "x")]),
            "not a declared",
        ),
        (
            "/api/v1/policies/00p1/rules",
            q(&[("after", "x")]),
            "not a declared",
        ),
        (
            "/api/v1/apps/0oa1/groups",
            q(&[("limit", "5")]),
            "below the declared minimum 20",
        ),
        (
            "/api/v1/apps/0oa1/groups",
            q(&[("limit", "201")]),
            "above the declared maximum 200",
        ),
        (
            "/api/v1/logs",
            q(&[("sortOrder", "UP")]),
            "not one of the declared values",
        ),
        (
            "/api/v1/logs",
            q(&[("limit", "1001")]),
            "above the declared maximum 1000",
        ),
        (
            "/api/v1/policies",
            q(&[("type", "NOT_A_TYPE")]),
            "not one of the declared values",
        ),
        (
            "/api/v1/policies",
            q(&[]),
            "required query parameter `type` missing",
        ),
    ] {
        let problems = spec.check_request("GET", path, &query);
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{path} {query:?}: {problems:?}"
        );
    }

    // Writes: a wrong status, a body where none is declared, a body missing where one is.
    let sessions = "/api/v1/users/00u1/sessions";
    let err = spec
        .check_empty_response("DELETE", sessions, 200)
        .unwrap_err();
    assert!(err.contains("declares no 200"), "{err}");
    let membership = "/api/v1/groups/00g1/users/00u1";
    let err = spec
        .check_response("PUT", membership, 204, &json!({}))
        .unwrap_err();
    assert!(err.contains("declares its 204 without a body"), "{err}");
    let err = spec
        .check_empty_response("POST", "/api/v1/users/00u1/lifecycle/expire_password", 200)
        .unwrap_err();
    assert!(err.contains("declares a body for 200"), "{err}");
    // The judge: a 200 `{}` is excepted for suspendUser only, and a 405 only where the spec has
    // no operation for the method.
    let answer = |status: u16, body: Value| Answer {
        status,
        empty: body.is_null(),
        body,
        next: None,
    };
    let mut judge = Judge::default();
    judge.answer(
        "POST",
        "/api/v1/users/00u1/lifecycle/suspend",
        &answer(200, json!({})),
    );
    assert_eq!(judge.problems, Vec::<String>::new());
    for (method, uri, status, body, needle) in [
        (
            "POST",
            "/api/v1/users/00u1/lifecycle/suspend",
            200,
            json!({"status": "SUSPENDED"}),
            "only an empty object",
        ),
        (
            "POST",
            "/api/v1/users/00u1/lifecycle/unsuspend",
            204,
            Value::Null,
            "declares no 204",
        ),
        (
            "DELETE",
            sessions,
            405,
            json!({"errorCode": "E0000022"}),
            "a 405, but revokeUserSessions",
        ),
        ("GET", sessions, 200, json!([]), "no operation in the spec"),
        (
            "POST",
            "/api/v1/users/00u1/lifecycle/nap",
            405,
            json!({"errorCode": "E0000022"}),
            "no operation has the path",
        ),
    ] {
        let mut judge = Judge::default();
        judge.answer(method, uri, &answer(status, body));
        assert!(
            judge.problems.iter().any(|p| p.contains(needle)),
            "{method} {uri} → {status}: {:?}",
            judge.problems
        );
    }
    // What a write tool could send: a parameter the operation does not declare, a value that is
    // not its declared boolean, a method the path has no operation for, a body.
    let suspend = "/api/v1/users/00u1/lifecycle/suspend";
    for (method, path, query, needle) in [
        (
            "DELETE",
            sessions,
            q(&[("revokeTokens", "true")]),
            "not a declared",
        ),
        (
            "DELETE",
            sessions,
            q(&[("oauthTokens", "yes")]),
            "not true or false",
        ),
        (
            "POST",
            suspend,
            q(&[("sendEmail", "false")]),
            "not a declared",
        ),
        ("POST", sessions, q(&[]), "no such operation"),
        ("PATCH", membership, q(&[]), "no such operation"),
    ] {
        let problems = spec.check_request(method, path, &query);
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{method} {path} {query:?}: {problems:?}"
        );
    }
    let problems = spec.check_request_body("POST", suspend, b"{}");
    assert!(
        problems.iter().any(|p| p.contains("declares none")),
        "{problems:?}"
    );
    assert_eq!(
        spec.check_request_body("DELETE", sessions, b""),
        Vec::<String>::new()
    );
}
