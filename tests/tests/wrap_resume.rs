//! End to end: resumable SSE through `okta-mcp-tool-server wrap` (MCP 2025-11-25,
//! "Resumability and Redelivery"), with raw HTTP and signed identity headers, fronting
//! server-everything. A call whose POST stream drops is resumed by a GET with `Last-Event-ID`
//! and its result arrives once; a replay never crosses streams, sessions or subjects; a bad
//! `Last-Event-ID` gets a clear 4xx. And the official TypeScript SDK client, through the proxy,
//! resumes a call stream cut under it (`tests/clients/wrap-resume.mjs`).

use std::time::Duration;

use okta_mcp_tests::harness::{
    McpClient, NodeScript, WrapServer, WrapStack, everything_server_command, http_client,
};
use serde_json::{Value, json};

const POLICY: &str = "policies/everything.toml";

/// One SSE event as a client reads it.
#[derive(Debug, Clone, Default)]
struct Event {
    id: Option<String>,
    retry: Option<String>,
    data: String,
}

impl Event {
    fn message(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

/// Reads an SSE response event by event.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the stream ends or nothing comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                let mut fields = false;
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => event.id = Some(value.to_owned()),
                        "retry" => event.retry = Some(value.to_owned()),
                        "data" => event.data.push_str(value),
                        _ => continue,
                    }
                    fields = true;
                }
                if fields {
                    return Some(event);
                }
                continue; // a keep-alive comment
            }
            let chunk = tokio::time::timeout(wait, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Every event until the stream ends (or is quiet for `wait`).
    async fn rest(&mut self, wait: Duration) -> Vec<Event> {
        let mut all = Vec::new();
        while let Some(event) = self.next(wait).await {
            all.push(event);
        }
        all
    }
}

/// Opens an SSE request of `client`: a POST of `body`, or a GET (with `last_event_id`).
async fn open(
    url: &str,
    client: &McpClient,
    body: Option<&Value>,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let http = http_client();
    let method = if body.is_some() { "POST" } else { "GET" };
    let mut request = match body {
        Some(body) => http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => http.get(url),
    }
    .header("accept", "application/json, text/event-stream")
    .header("mcp-protocol-version", &client.protocol_version);
    if let Some(id) = &client.session_id {
        request = request.header("mcp-session-id", id);
    }
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last);
    }
    for (name, value) in client.identity_headers(method) {
        request = request.header(name, value);
    }
    request.send().await.expect("request to /mcp")
}

async fn server() -> WrapServer {
    WrapServer::start(POLICY, &[], &everything_server_command()).await
}

fn long_call(id: u64, token: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "trigger-long-running-operation",
        "arguments": {"duration": 3, "steps": 3},
        "_meta": {"progressToken": token}
    }})
}

fn progress_of(events: &[Event], token: &str) -> Vec<u64> {
    events
        .iter()
        .filter_map(Event::message)
        .filter(|m| m["params"]["progressToken"] == token)
        .filter_map(|m| m["params"]["progress"].as_u64())
        .collect()
}

fn answers_to(events: &[Event], id: u64) -> Vec<Value> {
    events
        .iter()
        .filter_map(Event::message)
        .filter(|m| m["id"] == id && m.get("method").is_none())
        .collect()
}

#[tokio::test]
async fn a_dropped_call_stream_is_resumed_by_last_event_id_and_its_result_arrives_once() {
    let server = server().await;
    let url = server.mcp_url.as_str();
    let mut alice = McpClient::new(url, "viewer", "00u-alice");
    alice.initialize().await;

    // A GET stream is open the whole time: nothing of the call may show up on it.
    let mut get = Events::new(open(url, &alice, None, None).await);
    let primed = get.next(Duration::from_secs(5)).await.expect("GET priming");
    assert!(primed.id.is_some() && primed.data.is_empty(), "{primed:?}");

    let call = open(url, &alice, Some(&long_call(7, "tok")), None).await;
    assert_eq!(call.status(), 200);
    let mut call = Events::new(call);
    // A 2025-11-25 client first gets a priming event: an id, empty data and `retry`.
    let priming = call.next(Duration::from_secs(5)).await.expect("priming");
    assert!(priming.data.is_empty(), "{priming:?}");
    assert_eq!(priming.retry.as_deref(), Some("1000"), "{priming:?}");
    let priming_id = priming.id.clone().expect("priming id");
    let first = call.next(Duration::from_secs(10)).await.expect("progress");
    assert_eq!(progress_of(std::slice::from_ref(&first), "tok"), [1]);
    let first_id = first.id.clone().expect("every message has an event id");
    // The stream drops mid-call.
    drop(call);
    tokio::time::sleep(Duration::from_secs(4)).await;

    // The client reconnects from the last event it saw: the rest of that stream, the result
    // once, then the stream ends since its call is answered.
    let resumed = open(url, &alice, None, Some(&first_id)).await;
    assert_eq!(resumed.status(), 200);
    let rest = Events::new(resumed).rest(Duration::from_secs(10)).await;
    assert_eq!(progress_of(&rest, "tok"), [2, 3], "{rest:?}");
    let answers = answers_to(&rest, 7);
    assert_eq!(answers.len(), 1, "the result exactly once: {rest:?}");
    assert!(
        answers[0]["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Long running operation completed")),
        "{answers:?}"
    );
    assert!(rest.iter().all(|e| e.id.is_some()), "{rest:?}");

    // From the priming event the whole stream replays, still the result only once.
    let from_start = Events::new(open(url, &alice, None, Some(&priming_id)).await)
        .rest(Duration::from_secs(10))
        .await;
    assert_eq!(progress_of(&from_start, "tok"), [1, 2, 3], "{from_start:?}");
    assert_eq!(answers_to(&from_start, 7).len(), 1, "{from_start:?}");

    // Nothing of the call went on the GET stream, and the session goes on.
    let on_get = get.rest(Duration::from_millis(500)).await;
    assert!(progress_of(&on_get, "tok").is_empty(), "{on_get:?}");
    assert!(answers_to(&on_get, 7).is_empty(), "{on_get:?}");
    let echo = alice.call("echo", json!({"message": "after"})).await;
    assert_eq!(echo["result"]["content"][0]["text"], "Echo: after");
}

#[tokio::test]
async fn a_replay_never_crosses_streams_sessions_or_subjects_and_bad_ids_get_4xx() {
    let server = server().await;
    let url = server.mcp_url.as_str();
    let mut alice = McpClient::new(url, "viewer", "00u-alice");
    alice.initialize().await;

    // Two calls on two POST streams; resuming one gives only its own events.
    let (one, two) = tokio::join!(
        async {
            Events::new(open(url, &alice, Some(&long_call(1, "one")), None).await)
                .rest(Duration::from_secs(10))
                .await
        },
        async {
            Events::new(open(url, &alice, Some(&long_call(2, "two")), None).await)
                .rest(Duration::from_secs(10))
                .await
        }
    );
    assert_eq!(answers_to(&one, 1).len(), 1, "{one:?}");
    assert_eq!(answers_to(&two, 2).len(), 1, "{two:?}");
    let one_priming = one[0].id.clone().expect("priming id");
    let replay = Events::new(open(url, &alice, None, Some(&one_priming)).await)
        .rest(Duration::from_secs(5))
        .await;
    assert_eq!(progress_of(&replay, "one"), [1, 2, 3], "{replay:?}");
    assert!(progress_of(&replay, "two").is_empty(), "{replay:?}");
    assert!(answers_to(&replay, 2).is_empty(), "{replay:?}");
    assert_eq!(answers_to(&replay, 1).len(), 1, "{replay:?}");

    let error_of = |body: &str| -> Value { serde_json::from_str(body).expect("JSON-RPC error") };

    // Another subject with alice's session and event id: 404, like any session not theirs.
    let mut mallory = McpClient::new(url, "super-admin", "00u-mallory");
    mallory.session_id = alice.session_id.clone();
    let stolen = open(url, &mallory, None, Some(&one_priming)).await;
    assert_eq!(stolen.status(), 404);
    // Alice's event id in another session (even her own) names nothing there: 400.
    mallory.session_id = None;
    mallory.initialize().await;
    let foreign = open(url, &mallory, None, Some(&one_priming)).await;
    assert_eq!(foreign.status(), 400);
    let body = error_of(&foreign.text().await.unwrap_or_default());
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("no event of this session")),
        "{body}"
    );
    let mut alice_again = McpClient::new(url, "viewer", "00u-alice");
    alice_again.initialize().await;
    let other_session = open(url, &alice_again, None, Some(&one_priming)).await;
    assert_eq!(other_session.status(), 400);

    // Garbage, huge, negative, or an id this session never gave: 400 with a JSON-RPC error.
    let tag = one_priming.split('.').next().unwrap_or_default().to_owned();
    for bad in [
        "garbage".to_owned(),
        "9".repeat(4000),
        "-1".to_owned(),
        format!("{tag}.1.-5"),
        format!("{tag}.999.1"),
        format!("{tag}.1.99999999"),
    ] {
        let refused = open(url, &alice, None, Some(&bad)).await;
        let status = refused.status().as_u16();
        let body = error_of(&refused.text().await.unwrap_or_default());
        assert_eq!(status, 400, "{bad:.40}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("Last-Event-ID")),
            "{body}"
        );
    }
    // The session is unharmed.
    let echo = alice.call("echo", json!({"message": "still here"})).await;
    assert_eq!(echo["result"]["content"][0]["text"], "Echo: still here");
}

#[tokio::test]
async fn the_typescript_sdk_client_resumes_a_dropped_call_stream_through_the_proxy() {
    let stack = WrapStack::start(POLICY, &[], &everything_server_command()).await;
    stack.okta.auto_login("alice@example.com").await;
    let report = NodeScript::start("wrap-resume.mjs", &[&stack.proxy.mcp_url])
        .report(Duration::from_secs(90))
        .await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["cut"], true, "the stream was cut: {report}");
    // The SDK reconnected by itself with the last event id it saw, and got the rest once.
    let resumes = report["resumes"].as_array().cloned().unwrap_or_default();
    assert!(
        resumes.first().is_some_and(|r| r["status"] == 200),
        "{report}"
    );
    assert_eq!(report["progress"], json!([1, 2, 3]), "{report}");
    assert!(
        report["result"]
            .as_str()
            .is_some_and(|t| t.contains("Long running operation completed")),
        "{report}"
    );
    assert_eq!(report["after"], "Echo: after resume", "{report}");
    assert!(
        stack
            .wrap
            .process
            .logs()
            .contains("stream resumed from Last-Event-ID"),
        "the wrapper replayed it"
    );
}

#[tokio::test]
async fn an_older_client_gets_no_priming_event_and_a_dropped_calls_progress_on_its_get_stream() {
    let server = server().await;
    let url = server.mcp_url.as_str();
    let mut old = McpClient::new(url, "viewer", "00u-old");
    old.protocol_version = "2025-06-18".into();
    let init = old
        .post(
            &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "okta-mcp-e2e-old", "version": "1"}
            }}),
        )
        .await;
    assert_eq!(init.status, 200, "{init:?}");
    assert!(
        !init.body.contains("retry:"),
        "no priming event: {}",
        init.body
    );
    old.session_id = init
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    old.post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;

    let mut get = Events::new(open(url, &old, None, None).await);
    let mut call = Events::new(open(url, &old, Some(&long_call(3, "old")), None).await);
    let first = call.next(Duration::from_secs(10)).await.expect("an event");
    assert_eq!(
        progress_of(std::slice::from_ref(&first), "old"),
        [1],
        "the first event is the progress, not a priming event: {first:?}"
    );
    drop(call);
    // Such a client does not resume, so the progress still to come goes to its GET stream
    // (one already handed to the dropped connection may be lost with it); the result
    // belongs to its request alone.
    let on_get = get.rest(Duration::from_secs(5)).await;
    let progress = progress_of(&on_get, "old");
    assert!(
        progress.contains(&3) && !progress.contains(&1),
        "{on_get:?}"
    );
    assert!(answers_to(&on_get, 3).is_empty(), "{on_get:?}");
}
