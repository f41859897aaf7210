//! The client against small local HTTP servers: retries, rate limits, the semaphore,
//! pagination and where `next` links may lead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use url::Url;

use super::projection::Fields;
use super::*;

/// Serves `router` on 127.0.0.1 and returns its base URL.
async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Url::parse(&format!("http://{addr}")).unwrap()
}

fn client(base: &Url, concurrent_limit: usize, max_retries: u32) -> OktaClient {
    let mut config = OktaConfig::new(base.clone(), "test-token-123");
    config.concurrent_limit = concurrent_limit;
    config.max_retries = max_retries;
    config.request_timeout = Duration::from_secs(5);
    OktaClient::new(config).unwrap()
}

fn path(segments: &[&str]) -> ApiPath {
    ApiPath::new(segments.iter().copied()).unwrap()
}

#[derive(Default)]
struct Counter {
    hits: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[tokio::test]
async fn waits_for_the_rate_limit_reset_by_okta_clock_then_succeeds() {
    let counter = Arc::new(Counter::default());
    let router = Router::new()
        .route(
            "/api/v1/users/u1",
            get(|State(c): State<Arc<Counter>>| async move {
                if c.hits.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Okta's clock says 2024: by our clock the reset is long past, by
                    // Okta's it is one second away. Only the latter may decide.
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        [
                            ("date", "Mon, 01 Jan 2024 00:00:00 GMT"),
                            ("x-rate-limit-reset", "1704067201"),
                        ],
                        r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
                    )
                        .into_response();
                }
                axum::Json(json!({"id": "u1", "_links": {}})).into_response()
            }),
        )
        .with_state(counter.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 4);
    let stats = Arc::new(CallStats::default());
    let started = Instant::now();
    let user = CALL_STATS
        .scope(stats.clone(), okta.get(&path(&["users", "u1"]), &[]))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(user["id"], "u1");
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_millis(1900),
        "waited {waited:?}"
    );
    assert_eq!(counter.hits.load(Ordering::SeqCst), 2);
    assert_eq!(stats.calls.load(Ordering::SeqCst), 2);
    assert_eq!(stats.last_status.load(Ordering::SeqCst), 200);
}

#[tokio::test]
async fn gives_up_on_rate_limits_after_the_retries_with_oktas_error() {
    let counter = Arc::new(Counter::default());
    let router = Router::new()
        .route(
            "/api/v1/users",
            get(|State(c): State<Arc<Counter>>| async move {
                c.hits.fetch_add(1, Ordering::SeqCst);
                (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("x-rate-limit-reset", "0")],
                    r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#,
                )
            }),
        )
        .with_state(counter.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 2);
    let err = okta
        .list(&path(&["users"]), &[], 10, Some(200), &Fields::everything())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OktaError::RateLimited { retries: 2, .. }),
        "{err:?}"
    );
    assert_eq!(err.error_code(), Some("E0000047"));
    assert_eq!(counter.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_server_errors_then_succeeds() {
    let counter = Arc::new(Counter::default());
    let router = Router::new()
        .route(
            "/api/v1/groups/g1",
            get(|State(c): State<Arc<Counter>>| async move {
                if c.hits.fetch_add(1, Ordering::SeqCst) < 2 {
                    return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
                }
                axum::Json(json!({"id": "g1"})).into_response()
            }),
        )
        .with_state(counter.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 4);
    let stats = Arc::new(CallStats::default());
    let group = CALL_STATS
        .scope(stats.clone(), okta.get(&path(&["groups", "g1"]), &[]))
        .await
        .unwrap();
    assert_eq!(group["id"], "g1");
    assert_eq!(counter.hits.load(Ordering::SeqCst), 3);
    assert_eq!(stats.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn server_errors_after_the_retries_are_reported_with_the_status() {
    let router = Router::new().route(
        "/api/v1/groups/g1",
        get(|| async { (StatusCode::BAD_GATEWAY, "<html>down</html>") }),
    );
    let base = serve(router).await;
    let okta = client(&base, 15, 1);
    let err = okta.get(&path(&["groups", "g1"]), &[]).await.unwrap_err();
    assert_eq!(err.status(), Some(502));
    assert_eq!(err.to_string(), "Okta error HTTP 502: Bad Gateway");
}

#[tokio::test]
async fn never_more_requests_in_flight_than_the_limit() {
    let counter = Arc::new(Counter::default());
    let router = Router::new()
        .route(
            "/api/v1/apps/a",
            get(|State(c): State<Arc<Counter>>| async move {
                let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                c.max_in_flight.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                c.in_flight.fetch_sub(1, Ordering::SeqCst);
                axum::Json(json!({"id": "a"}))
            }),
        )
        .with_state(counter.clone());
    let base = serve(router).await;
    let okta = Arc::new(client(&base, 2, 0));
    let calls = (0..10).map(|_| {
        let okta = okta.clone();
        tokio::spawn(async move { okta.get(&path(&["apps", "a"]), &[]).await })
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    assert_eq!(counter.max_in_flight.load(Ordering::SeqCst), 2);
}

/// 25 users `u0`…`u24`, paged by `after` (the last id) and `limit`, like Okta.
async fn paged_users(
    State(state): State<Arc<Mutex<Vec<String>>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    state.lock().unwrap().push(
        query
            .get("limit")
            .cloned()
            .unwrap_or_else(|| "-".to_string()),
    );
    let limit: usize = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(3);
    let start = query
        .get("after")
        .and_then(|a| a.trim_start_matches('u').parse::<usize>().ok())
        .map_or(0, |i| i + 1);
    let end = (start + limit).min(25);
    let items: Vec<Value> = (start..end)
        .map(|i| json!({"id": format!("u{i}"), "_links": {"self": {"href": "x"}}}))
        .collect();
    let mut response = axum::Json(items).into_response();
    let self_link = format!(r#"<http://{host}/api/v1/users?limit={limit}>; rel="self""#);
    response
        .headers_mut()
        .append("link", self_link.parse().unwrap());
    if end < 25 {
        let next = format!(
            r#"<http://{host}/api/v1/users?after=u{}&limit={limit}&search=x>; rel="next""#,
            end - 1
        );
        response.headers_mut().append("link", next.parse().unwrap());
    }
    response
}

#[tokio::test]
async fn collects_across_pages_with_the_largest_page_and_an_exact_cursor() {
    let limits = Arc::new(Mutex::new(Vec::new()));
    let router = Router::new()
        .route("/api/v1/users", get(paged_users))
        .with_state(limits.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 0);

    let page = okta
        .list(
            &path(&["users"]),
            &[("search", "x".into())],
            12,
            Some(5),
            &Fields::everything(),
        )
        .await
        .unwrap();
    let ids: Vec<&str> = page.items.iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(ids.len(), 12);
    assert_eq!(ids.first(), Some(&"u0"));
    assert_eq!(ids.last(), Some(&"u11"));
    assert_eq!(page.next_after.as_deref(), Some("u11"));
    assert!(!page.truncated);
    assert_eq!(*limits.lock().unwrap(), ["5", "5", "2"]);

    // The cursor resumes right after the last item returned.
    limits.lock().unwrap().clear();
    let rest = okta
        .list(
            &path(&["users"]),
            &[("after", "u11".into())],
            100,
            Some(10),
            &Fields::everything(),
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 13);
    assert_eq!(rest.items[0]["id"], "u12");
    assert_eq!(rest.next_after, None);
    assert_eq!(*limits.lock().unwrap(), ["10", "10"]);
}

#[tokio::test]
async fn endpoints_without_paging_are_cut_at_the_limit_and_say_so() {
    let limits = Arc::new(Mutex::new(Vec::new()));
    let router = Router::new()
        .route(
            "/api/v1/users/u1/factors",
            get(
                |State(seen): State<Arc<Mutex<Vec<String>>>>,
                 Query(q): Query<HashMap<String, String>>| async move {
                    seen.lock()
                        .unwrap()
                        .push(q.get("limit").cloned().unwrap_or_default());
                    axum::Json(json!([{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]))
                },
            ),
        )
        .with_state(limits.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 0);
    let page = okta
        .list(
            &path(&["users", "u1", "factors"]),
            &[],
            3,
            None,
            &Fields::everything(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.truncated);
    assert_eq!(page.next_after, None);
    assert_eq!(*limits.lock().unwrap(), [""]);
}

/// 250 group assignments `g0`…`g249` of app `a1`, paged like Okta, which refuses a `limit`
/// below 20 there (its spec: minimum 20).
async fn app_groups(
    State(seen): State<Arc<Mutex<Vec<String>>>>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let limit = query.get("limit").cloned().unwrap_or_default();
    seen.lock().unwrap().push(limit.clone());
    let limit: usize = limit.parse().unwrap_or(20);
    if limit < 20 {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: limit"}"#,
        )
            .into_response();
    }
    let start = query
        .get("after")
        .and_then(|a| a.trim_start_matches('g').parse::<usize>().ok())
        .map_or(0, |i| i + 1);
    let end = (start + limit).min(250);
    let items: Vec<Value> = (start..end)
        .map(|i| json!({"id": format!("g{i}")}))
        .collect();
    let mut response = axum::Json(items).into_response();
    if end < 250 {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let next = format!(
            r#"<http://{host}/api/v1/apps/a1/groups?after=g{}&limit={limit}>; rel="next""#,
            end - 1
        );
        response.headers_mut().append("link", next.parse().unwrap());
    }
    response
}

#[tokio::test]
async fn app_group_pages_are_never_below_oktas_minimum_and_the_surplus_is_cut() {
    let limits = Arc::new(Mutex::new(Vec::new()));
    let router = Router::new()
        .route("/api/v1/apps/a1/groups", get(app_groups))
        .with_state(limits.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 0);
    let groups = path(&["apps", "a1", "groups"]);

    // Fewer than 20 wanted: 20 asked for, the first 5 kept, no cursor to resume from.
    let page = okta
        .list(&groups, &[], 5, Some(200), &Fields::everything())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 5);
    assert_eq!(page.items[4]["id"], "g4");
    assert!(page.truncated);
    assert_eq!(page.next_after, None);
    assert_eq!(*limits.lock().unwrap(), ["20"]);

    // The last page of a longer listing asks for 20 too, never for the 10 still wanted.
    limits.lock().unwrap().clear();
    let page = okta
        .list(&groups, &[], 210, Some(200), &Fields::everything())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 210);
    assert!(page.truncated);
    assert_eq!(*limits.lock().unwrap(), ["200", "20"]);

    // 20 or more is asked for as it is, with an exact cursor.
    limits.lock().unwrap().clear();
    let page = okta
        .list(&groups, &[], 50, Some(200), &Fields::everything())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 50);
    assert_eq!(page.next_after.as_deref(), Some("g49"));
    assert_eq!(*limits.lock().unwrap(), ["50"]);
}

#[tokio::test]
async fn a_next_link_to_another_host_is_not_followed() {
    let elsewhere = Arc::new(Counter::default());
    let evil = serve(
        Router::new()
            .fallback(
                |State(c): State<Arc<Counter>>, headers: HeaderMap| async move {
                    c.hits.fetch_add(1, Ordering::SeqCst);
                    // Were it followed, the token would show up here.
                    assert!(headers.get("authorization").is_none());
                    axum::Json(json!([{"id": "evil"}]))
                },
            )
            .with_state(elsewhere.clone()),
    )
    .await;
    let home = Arc::new(Counter::default());
    let next = format!(r#"<{evil}api/v1/users?after=u1&limit=2>; rel="next""#);
    let router = Router::new()
        .route(
            "/api/v1/users",
            get(move |State(c): State<Arc<Counter>>| {
                let next = next.clone();
                async move {
                    c.hits.fetch_add(1, Ordering::SeqCst);
                    (
                        [("link", next)],
                        axum::Json(json!([{"id": "u0"}, {"id": "u1"}])),
                    )
                }
            }),
        )
        .with_state(home.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 0);
    let page = okta
        .list(&path(&["users"]), &[], 10, Some(2), &Fields::everything())
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.next_after, None);
    assert_eq!(home.hits.load(Ordering::SeqCst), 1);
    assert_eq!(elsewhere.hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn sends_the_token_accept_and_user_agent_and_hides_the_token_in_debug() {
    let router = Router::new().route(
        "/api/v1/users/me",
        get(|headers: HeaderMap| async move {
            let h = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            axum::Json(json!({
                "authorization": h("authorization"),
                "accept": h("accept"),
                "user_agent": h("user-agent"),
            }))
        }),
    );
    let base = serve(router).await;
    let okta = client(&base, 15, 0);
    let seen = okta.get(&path(&["users", "me"]), &[]).await.unwrap();
    assert_eq!(seen["authorization"], "SSWS test-token-123");
    assert_eq!(seen["accept"], "application/json");
    assert!(
        seen["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("okta-mcp/")
    );
    let config = OktaConfig::new(base.clone(), "test-token-123");
    assert!(!format!("{config:?}").contains("test-token-123"));
    assert!(!format!("{okta:?}").contains("test-token-123"));
}

#[tokio::test]
async fn okta_errors_and_malformed_json_are_errors_not_panics() {
    let router = Router::new()
        .route(
            "/api/v1/users/nobody",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    r#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: nobody (User)","errorCauses":[]}"#,
                )
            }),
        )
        .route("/api/v1/users/broken", get(|| async { "{not json" }))
        .route("/api/v1/groups", get(|| async { axum::Json(json!({"a": 1})) }));
    let base = serve(router).await;
    let okta = client(&base, 15, 0);
    let err = okta
        .get(&path(&["users", "nobody"]), &[])
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Okta error E0000007: Not found: Resource not found: nobody (User)"
    );
    let err = okta
        .get(&path(&["users", "broken"]), &[])
        .await
        .unwrap_err();
    assert!(matches!(err, OktaError::BadResponse(_)), "{err:?}");
    let err = okta
        .list(&path(&["groups"]), &[], 5, Some(5), &Fields::everything())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expected a JSON array"), "{err}");
}

#[tokio::test]
async fn system_log_queries_always_carry_until() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = Router::new()
        .route(
            "/api/v1/logs",
            get(
                |State(seen): State<Arc<Mutex<Vec<String>>>>,
                 Query(q): Query<HashMap<String, String>>| async move {
                    seen.lock()
                        .unwrap()
                        .push(q.get("until").cloned().unwrap_or_default());
                    axum::Json(json!([]))
                },
            ),
        )
        .with_state(seen.clone());
    let base = serve(router).await;
    let okta = client(&base, 15, 0);
    okta.list(&path(&["logs"]), &[], 10, Some(1000), &Fields::everything())
        .await
        .unwrap();
    okta.list(
        &path(&["logs"]),
        &[("until", "2026-01-05T00:00:00.000Z".into())],
        10,
        Some(1000),
        &Fields::everything(),
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen[0].ends_with('Z') && seen[0].len() == 24, "{seen:?}");
    assert_eq!(seen[1], "2026-01-05T00:00:00.000Z");
}

#[tokio::test]
async fn an_org_url_with_a_path_prefix_keeps_it() {
    let router = Router::new().route(
        "/okta/api/v1/users/u1",
        get(|| async { axum::Json(json!({"id": "u1"})) }),
    );
    let base = serve(router).await;
    let okta = client(&base.join("/okta/").unwrap(), 15, 0);
    let user = okta.get(&path(&["users", "u1"]), &[]).await.unwrap();
    assert_eq!(user["id"], "u1");
}

#[test]
fn bad_configurations_are_refused_with_a_reason() {
    let url = Url::parse("https://x.okta.com").unwrap();
    let err = |config: OktaConfig| OktaClient::new(config).unwrap_err().to_string();
    assert!(err(OktaConfig::new(url.clone(), "  ")).contains("OKTA_API_TOKEN"));
    assert!(err(OktaConfig::new(url.clone(), "a\nb")).contains("OKTA_API_TOKEN"));
    let mut zero = OktaConfig::new(url.clone(), "t");
    zero.concurrent_limit = 0;
    assert!(err(zero).contains("OKTA_CONCURRENT_LIMIT"));
    let ftp = Url::parse("ftp://x.okta.com").unwrap();
    assert!(err(OktaConfig::new(ftp, "t")).contains("OKTA_ORG_URL"));
    let creds = Url::parse("https://u:p@x.okta.com").unwrap();
    assert!(err(OktaConfig::new(creds, "t")).contains("credentials"));
}

/// A write endpoint that answers `answers` in turn (then 204), counting hits.
fn scripted_write(answers: Vec<(u16, Vec<(&'static str, String)>)>) -> (Router, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let answers = Arc::new(answers);
    let router = Router::new()
        .route(
            "/api/v1/users/u1/lifecycle/suspend",
            axum::routing::post(move |State(c): State<Arc<Counter>>| {
                let answers = answers.clone();
                async move {
                    let n = c.hits.fetch_add(1, Ordering::SeqCst);
                    let Some((status, headers)) = answers.get(n) else {
                        return (StatusCode::OK, [("x-okta-request-id", "req-ok")], "{}")
                            .into_response();
                    };
                    let mut response = (
                        StatusCode::from_u16(*status).unwrap(),
                        r#"{"errorCode":"E0000009","errorSummary":"Internal Server Error"}"#,
                    )
                        .into_response();
                    for (name, value) in headers {
                        response.headers_mut().insert(*name, value.parse().unwrap());
                    }
                    response
                }
            }),
        )
        .with_state(counter.clone());
    (router, counter)
}

#[tokio::test]
async fn a_write_is_never_repeated_after_a_server_error() {
    for status in [500, 502, 503, 504] {
        let (router, counter) = scripted_write(vec![(status, vec![])]);
        let base = serve(router).await;
        let okta = client(&base, 15, 4);
        let err = okta
            .write(
                WriteMethod::Post,
                &path(&["users", "u1", "lifecycle", "suspend"]),
                &[],
            )
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err}");
        assert_eq!(counter.hits.load(Ordering::SeqCst), 1, "{status}");
    }
}

#[tokio::test]
async fn a_write_is_repeated_after_a_rate_limit_with_a_reset_time() {
    let now = Utc::now();
    let reset = vec![
        ("date", httpdate(now)),
        ("x-rate-limit-reset", (now.timestamp() + 1).to_string()),
    ];
    let (router, counter) = scripted_write(vec![(429, reset)]);
    let base = serve(router).await;
    let okta = client(&base, 15, 4);
    let stats = Arc::new(CallStats::default());
    let written = CALL_STATS
        .scope(
            stats.clone(),
            okta.write(
                WriteMethod::Post,
                &path(&["users", "u1", "lifecycle", "suspend"]),
                &[],
            ),
        )
        .await
        .unwrap();
    assert_eq!(written.status, 200);
    assert_eq!(written.body, Some(json!({})));
    assert_eq!(written.request_id.as_deref(), Some("req-ok"));
    assert_eq!(counter.hits.load(Ordering::SeqCst), 2);
    assert_eq!(stats.request_id().as_deref(), Some("req-ok"));
    assert_eq!(stats.calls.load(Ordering::Relaxed), 2);

    // Without a reset time the limiter's answer is not trusted: one attempt, Okta's error.
    let (router, counter) = scripted_write(vec![(429, vec![("retry-after", "1".into())])]);
    let base = serve(router).await;
    let err = client(&base, 15, 4)
        .write(
            WriteMethod::Post,
            &path(&["users", "u1", "lifecycle", "suspend"]),
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "rate_limited", "{err}");
    assert_eq!(counter.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_write_that_times_out_is_not_repeated() {
    let counter = Arc::new(Counter::default());
    let router = Router::new()
        .route(
            "/api/v1/users/u1/sessions",
            axum::routing::delete(|State(c): State<Arc<Counter>>| async move {
                c.hits.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3)).await;
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(counter.clone());
    let base = serve(router).await;
    let mut config = OktaConfig::new(base.clone(), "test-token-123");
    config.request_timeout = Duration::from_millis(300);
    let okta = OktaClient::new(config).unwrap();
    let err = okta
        .write(
            WriteMethod::Delete,
            &path(&["users", "u1", "sessions"]),
            &[("oauthTokens", "true".into())],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(counter.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_write_with_no_connection_is_retried_then_reported() {
    // A port nobody listens on: every attempt fails to connect, so nothing was sent.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let okta = client(&base, 15, 1);
    let stats = Arc::new(CallStats::default());
    let err = CALL_STATS
        .scope(
            stats.clone(),
            okta.write(
                WriteMethod::Put,
                &path(&["groups", "g1", "users", "u1"]),
                &[],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "transport", "{err}");
    assert_eq!(stats.calls.load(Ordering::Relaxed), 2);
}

fn httpdate(at: chrono::DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}
