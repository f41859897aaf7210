//! The `fake-okta` binary over real HTTP: start it on port 0, learn the port from its one stdout
//! line, and check what a client of Okta would notice.

use okta_mcp_tests::fake_okta::dataset::{BIG_GROUP_ID, BIG_GROUP_SIZE, DEFAULT_SEED, Dataset};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

const TOKEN: &str = "integration-token";

/// A running `fake-okta` process, killed on drop.
struct FakeOkta {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    base: String,
}

impl FakeOkta {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-okta"))
            .args(["--listen", "127.0.0.1:0", "--api-token", TOKEN])
            .args(["--seed", &DEFAULT_SEED.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fake-okta");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("read the listening line");
        let base = line
            .trim()
            .strip_prefix("fake-okta listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Self {
            child,
            _stdout: stdout,
            base,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for FakeOkta {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("client")
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Response {
    client
        .get(url)
        .header("Authorization", format!("SSWS {TOKEN}"))
        .send()
        .await
        .expect("request")
}

/// The `rel="next"` URL of a response's `Link` headers.
fn next_link(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.ends_with("rel=\"next\""))
        .and_then(|v| v.strip_prefix('<'))
        .and_then(|v| v.split_once('>'))
        .map(|(url, _)| url.to_owned())
}

fn header_number(response: &reqwest::Response, name: &str) -> u64 {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("missing numeric header {name}"))
}

#[tokio::test]
async fn auth_is_required_and_errors_have_okta_bodies() {
    let okta = FakeOkta::start();
    let client = client();
    let anonymous = client
        .get(okta.url("/api/v1/users"))
        .send()
        .await
        .expect("request");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    for name in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
        "date",
    ] {
        assert!(anonymous.headers().contains_key(name), "{name}");
    }
    let body: Value = anonymous.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000011");
    assert_eq!(body["errorSummary"], "Invalid token provided");
    assert_eq!(body["errorLink"], "E0000011");
    assert_eq!(body["errorCauses"], serde_json::json!([]));
    assert!(
        body["errorId"]
            .as_str()
            .is_some_and(|id| id.starts_with("oae"))
    );

    let missing = get(&client, &okta.url("/api/v1/users/00unotarealuser00000")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000007");
    assert_eq!(
        body["errorSummary"],
        "Not found: Resource not found: 00unotarealuser00000 (User)"
    );
}

#[tokio::test]
async fn big_group_members_page_through_link_headers_without_gaps() {
    let okta = FakeOkta::start();
    let client = client();
    let expected = Dataset::generate(DEFAULT_SEED)
        .group(BIG_GROUP_ID)
        .map(|g| g.member_ids.clone())
        .expect("big-group");
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut next = Some(okta.url(&format!("/api/v1/groups/{BIG_GROUP_ID}/users?limit=200")));
    while let Some(url) = next {
        assert!(url.starts_with(&okta.base), "links are absolute: {url}");
        let response = get(&client, &url).await;
        assert_eq!(response.status(), StatusCode::OK);
        next = next_link(&response);
        let page: Vec<Value> = response.json().await.expect("json");
        ids.extend(
            page.iter()
                .filter_map(|u| u["id"].as_str().map(str::to_owned)),
        );
        pages += 1;
        assert!(pages <= 10, "next links never ended");
    }
    assert_eq!(pages, BIG_GROUP_SIZE.div_ceil(200));
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), BIG_GROUP_SIZE);
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn injected_429s_carry_rate_limit_headers() {
    let okta = FakeOkta::start();
    let client = client();
    let settings: Value = client
        .post(okta.url("/__fake/faults"))
        .json(&serde_json::json!({ "inject_429": 2 }))
        .send()
        .await
        .expect("faults")
        .json()
        .await
        .expect("json");
    assert_eq!(settings["inject_429"], 2);

    for _ in 0..2 {
        let limited = get(&client, &okta.url("/api/v1/groups")).await;
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header_number(&limited, "x-rate-limit-remaining"), 0);
        let reset = header_number(&limited, "x-rate-limit-reset");
        let date = limited
            .headers()
            .get("date")
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .and_then(|d| d.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .expect("Date header");
        assert!(
            reset > date && reset <= date + 3,
            "reset {reset}, date {date}"
        );
        let body: Value = limited.json().await.expect("json");
        assert_eq!(body["errorCode"], "E0000047");
        assert_eq!(
            body["errorSummary"],
            "API call exceeded rate limit due to too many requests."
        );
    }
    let ok = get(&client, &okta.url("/api/v1/groups")).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let stats: Value = client
        .get(okta.url("/__fake/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["status_429"], 2);
    assert_eq!(stats["by_path"]["/api/v1/groups"], 3);
}

#[tokio::test]
async fn system_log_without_until_always_has_a_next_link() {
    let okta = FakeOkta::start();
    let client = client();
    let mut next = Some(okta.url("/api/v1/logs?limit=1000"));
    let mut empty_pages = 0;
    for _ in 0..6 {
        let url = next.take().expect("a polling query always has a next link");
        let response = get(&client, &url).await;
        assert_eq!(response.status(), StatusCode::OK);
        next = next_link(&response);
        let page: Vec<Value> = response.json().await.expect("json");
        if page.is_empty() {
            empty_pages += 1;
        }
    }
    assert!(next.is_some());
    assert!(
        empty_pages >= 1,
        "the polling stream reached its end and kept going"
    );

    // With until, the last page has no next link.
    let until = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut next = Some(format!(
        "{}?limit=1000&until={}",
        okta.url("/api/v1/logs"),
        url::form_urlencoded::byte_serialize(until.as_bytes()).collect::<String>()
    ));
    let mut pages = 0;
    while let Some(url) = next {
        let response = get(&client, &url).await;
        assert_eq!(response.status(), StatusCode::OK);
        next = next_link(&response);
        pages += 1;
        assert!(pages <= 5, "a bounded query must end");
    }
}

#[tokio::test]
async fn stats_show_how_many_requests_ran_at_once() {
    let okta = FakeOkta::start();
    let client = client();
    client
        .post(okta.url("/__fake/faults"))
        .json(&serde_json::json!({ "latency_ms": 300 }))
        .send()
        .await
        .expect("faults");
    let url = okta.url("/api/v1/zones");
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move { get(&client, &url).await.status() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::OK);
    }
    let stats: Value = client
        .get(okta.url("/__fake/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["requests"], 4);
    assert_eq!(stats["max_in_flight"], 4);
}
