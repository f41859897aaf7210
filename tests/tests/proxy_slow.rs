//! Slow and broken clients at the proxy, end to end through real sockets: a request header or
//! body sent a byte at a time, a kept-alive connection left idle, and a chunked body that
//! breaks after the headers. The proxy runs with deadlines of a few seconds so that each test
//! takes a few seconds; what a client notices is asserted: when the connection closes, and
//! the status and body of the answer. Long responses (an SSE stream, a slow tool call) must
//! outlive every one of these deadlines.

use std::time::{Duration, Instant};

use okta_mcp_tests::harness::{
    FakeOkta, Proxy, Stack, WrapServer, everything_server_command, free_port, read_response,
};
use okta_mcp_tests::oauth_flow::{Credential, ProxiedMcp, log_in, manual_redirect_client};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The deadlines the proxy runs with here.
const HEADER: Duration = Duration::from_secs(2);
const BODY: Duration = Duration::from_secs(3);
const IDLE: Duration = Duration::from_secs(2);
const SHORT_DEADLINES: &[(&str, &str)] = &[
    ("REQUEST_HEADER_TIMEOUT_SECS", "2"),
    ("REQUEST_BODY_TIMEOUT_SECS", "3"),
    ("KEEPALIVE_TIMEOUT_SECS", "2"),
];

/// How late after a deadline the proxy may close (two busy cores run the tests).
const MARGIN: Duration = Duration::from_millis(1500);
/// How early: the deadlines are whole seconds, measured from a moment just before ours.
const EARLY: Duration = Duration::from_millis(300);

/// How often a slow client sends its next byte.
const DRIP_EVERY: Duration = Duration::from_millis(500);

/// What a slow client saw.
struct Outcome {
    /// When the proxy closed the connection, from connecting; `None`: still open at `give_up`.
    closed_after: Option<Duration>,
    /// Everything the proxy sent.
    received: String,
}

/// Connects to `addr`, sends `head` at once, then one byte of `drip` every 500 ms (round and
/// round, never finishing; nothing when `drip` is empty), while reading what the proxy
/// answers, until it closes the connection or `give_up` has passed.
async fn slow_client(addr: &str, head: &[u8], drip: &[u8], give_up: Duration) -> Outcome {
    let started = Instant::now();
    let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
    writer.write_all(head).await.unwrap();
    let drip = drip.to_vec();
    let dripper = tokio::spawn(async move {
        for byte in drip.iter().cycle() {
            tokio::time::sleep(DRIP_EVERY).await;
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
        // Nothing to drip: keep the write half open.
        std::future::pending::<()>().await;
    });
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let closed_after = tokio::time::timeout(give_up, async {
        loop {
            match reader.read(&mut buffer).await {
                // A reset after the answer counts as closed too.
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .ok();
    dripper.abort();
    Outcome {
        closed_after,
        received: String::from_utf8_lossy(&received).into_owned(),
    }
}

impl Outcome {
    /// The connection was closed between `earliest` and `latest` after connecting.
    fn assert_closed_between(&self, what: &str, earliest: Duration, latest: Duration) {
        let closed = self.closed_after.unwrap_or_else(|| {
            panic!(
                "{what}: still open after the deadline (+{MARGIN:?}); received {:?}",
                self.received
            )
        });
        eprintln!(
            "{what}: closed after {closed:?}; received {:?}",
            self.received
        );
        assert!(
            closed >= earliest.saturating_sub(EARLY) && closed <= latest,
            "{what}: closed after {closed:?}, expected {earliest:?}..{latest:?}; received {:?}",
            self.received
        );
    }
}

/// `host:port` of a proxy's public URL.
fn addr_of(public_url: &str) -> &str {
    public_url.trim_start_matches("http://")
}

/// Sends `request` on a new connection (and, when `half_close`, ends the sending side) and
/// reads the one response.
async fn exchange(addr: &str, request: &[u8], half_close: bool) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if half_close {
        stream.shutdown().await.unwrap();
    }
    read_response(&mut stream).await
}

/// An answer of a timed-out request, if the proxy sent one before closing: 408 with a JSON
/// body (the connection may also just close: a client still sending can miss the answer).
fn assert_408_or_nothing(what: &str, received: &str) {
    if received.is_empty() {
        return;
    }
    assert!(received.starts_with("HTTP/1.1 408"), "{what}: {received}");
    let body = received.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let _: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {received}"));
}

#[tokio::test]
async fn a_request_header_sent_a_byte_at_a_time_is_cut_at_the_header_deadline() {
    let stack = Stack::start(SHORT_DEADLINES).await;
    let addr = addr_of(&stack.proxy.public_url);
    let give_up = HEADER + DRIP_EVERY + MARGIN;

    // A client that starts a request and then sends one header byte every 500 ms: each
    // byte comes well within any per-read timeout, but the whole header never ends.
    let outcome = slow_client(
        addr,
        b"POST /mcp HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        b"x",
        give_up,
    )
    .await;
    outcome.assert_closed_between("slow header", HEADER, HEADER + MARGIN);
    assert_408_or_nothing("slow header", &outcome.received);

    // A client that connects and sends nothing: the deadline runs from the connection.
    let outcome = slow_client(addr, b"", b"", give_up).await;
    outcome.assert_closed_between("silent connection", HEADER, HEADER + MARGIN);
    assert_eq!(outcome.received, "");

    // On a kept-alive connection, the next request's header has the same deadline from its
    // first byte (sent 500 ms after the first request).
    let outcome = slow_client(
        addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"x",
        give_up,
    )
    .await;
    assert!(
        outcome.received.starts_with("HTTP/1.1 200"),
        "{}",
        outcome.received
    );
    outcome.assert_closed_between(
        "slow second header",
        DRIP_EVERY + HEADER,
        DRIP_EVERY + HEADER + MARGIN,
    );
}

#[tokio::test]
async fn a_request_body_sent_a_byte_at_a_time_is_cut_at_the_body_deadline() {
    let stack = Stack::start(SHORT_DEADLINES).await;
    stack.auto_login("alice@example.com").await;
    let tokens = log_in(&manual_redirect_client(), &stack.proxy.public_url).await;
    let addr = addr_of(&stack.proxy.public_url);
    let give_up = BODY + DRIP_EVERY + MARGIN;

    // One of our own endpoints, which reads the whole body before answering.
    let head = b"POST /token HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n\
        grant_type=";
    let outcome = slow_client(addr, head, b"x", give_up).await;
    outcome.assert_closed_between("slow /token body", BODY, BODY + MARGIN);
    assert_408_or_nothing("slow /token body", &outcome.received);

    // `/mcp`, whose body the proxy streams to the tool server as it arrives.
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: 1000\r\n\r\n{{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"ping\", \"x\": \"",
        tokens.access_token
    );
    let outcome = slow_client(addr, head.as_bytes(), b"x", give_up).await;
    outcome.assert_closed_between("slow /mcp body", BODY, BODY + MARGIN);
    assert_408_or_nothing("slow /mcp body", &outcome.received);

    // Chunked too: the deadline is for the whole body, not for each chunk.
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Transfer-Encoding: chunked\r\n\r\n",
        tokens.access_token
    );
    // Each dripped chunk is one byte, complete: "1\r\nx\r\n" sent a byte at a time.
    let outcome = slow_client(addr, head.as_bytes(), b"1\r\nx\r\n", give_up).await;
    outcome.assert_closed_between("slow chunked /mcp body", BODY, BODY + MARGIN);
    assert_408_or_nothing("slow chunked /mcp body", &outcome.received);

    // Answered before its body arrived (here 401), the rest of the body is not waited for.
    let head = b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
        Content-Length: 1000\r\n\r\n{";
    let outcome = slow_client(addr, head, b"x", give_up).await;
    assert!(
        outcome.received.starts_with("HTTP/1.1 401"),
        "{}",
        outcome.received
    );
    outcome.assert_closed_between("slow body after an answer", Duration::ZERO, MARGIN);
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let stack = Stack::start(SHORT_DEADLINES).await;
    let addr = addr_of(&stack.proxy.public_url);

    // Used within the idle timeout, a connection serves request after request.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    for _ in 0..3 {
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let (status, head, _) = read_response(&mut stream)
            .await
            .expect("the kept-alive connection answers");
        assert_eq!(status, 200, "{head}");
        tokio::time::sleep(IDLE / 2).await;
    }
    drop(stream);

    // Left idle after a complete request, it is closed at the idle timeout.
    let outcome = slow_client(
        addr,
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
        b"",
        IDLE + MARGIN + MARGIN,
    )
    .await;
    assert!(
        outcome.received.starts_with("HTTP/1.1 200"),
        "{}",
        outcome.received
    );
    outcome.assert_closed_between("idle connection", IDLE, IDLE + MARGIN);
}

#[tokio::test]
async fn long_responses_outlive_the_request_deadlines() {
    // The everything server behind `wrap`, for an SSE stream and a slow tool call.
    let port = free_port();
    let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
    let wrap = WrapServer::start(
        "policies/everything.toml",
        &[],
        &everything_server_command(),
    )
    .await;
    let proxy = Proxy::start(&okta, port, &wrap.mcp_url, SHORT_DEADLINES).await;
    okta.auto_login("alice@example.com").await;
    let http = manual_redirect_client();
    let tokens = log_in(&http, &proxy.public_url).await;
    let mut mcp = ProxiedMcp::new(
        &http,
        &proxy.mcp_url,
        Credential::Bearer(tokens.access_token),
    );
    assert_eq!(mcp.initialize().await.status, 200);

    // The standalone SSE stream: a long-lived response, with nothing more to read from
    // the client after its header.
    let mut stream = mcp.open_stream().await.unwrap();
    assert_eq!(stream.status(), 200);
    let opened = Instant::now();

    // A tool call that takes longer than the header, body and idle deadlines together: its
    // request was complete at once, so the answer comes whenever the tool finishes.
    let took = HEADER + BODY + IDLE;
    let result = mcp
        .call(
            "trigger-long-running-operation",
            json!({"duration": took.as_secs(), "steps": 2}),
        )
        .await;
    assert!(opened.elapsed() >= took);
    assert!(
        result
            .to_string()
            .contains("Long running operation completed"),
        "{result}"
    );

    // The SSE stream is still open, though it has outlived every deadline.
    let ended = tokio::time::timeout(Duration::from_millis(300), stream.chunk()).await;
    assert!(
        matches!(ended, Err(_) | Ok(Ok(Some(_)))),
        "the SSE stream ended after {:?}: {ended:?}",
        opened.elapsed()
    );
}

/// A chunked request whose chunks are `chunks`, to `path` with `headers`.
fn chunked(path: &str, headers: &str, chunks: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Transfer-Encoding: chunked\r\n\r\n{chunks}"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_broken_chunked_body_gets_400_with_a_clear_error() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let tokens = log_in(&manual_redirect_client(), &stack.proxy.public_url).await;
    let addr = addr_of(&stack.proxy.public_url);
    let mcp_headers = format!(
        "Authorization: Bearer {}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\n",
        tokens.access_token
    );
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";

    for (what, chunks, half_close) in [
        ("a chunk size that is not hex", "zz\r\n", false),
        (
            "a chunk longer than its size",
            "2\r\nabcd\r\n0\r\n\r\n",
            false,
        ),
        ("a body cut short", "10\r\nabc", true),
    ] {
        // `/mcp` answers with a JSON-RPC error, which MCP clients show.
        let answer = exchange(addr, &chunked("/mcp", &mcp_headers, chunks), half_close).await;
        let (status, head, body) =
            answer.unwrap_or_else(|| panic!("/mcp, {what}: closed without an answer"));
        assert_eq!(status, 400, "/mcp, {what}: {head}\n{body}");
        let error: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("/mcp, {what}: not JSON ({e}): {body}"));
        assert_eq!(error["jsonrpc"], "2.0", "/mcp, {what}: {body}");
        assert_eq!(error["error"]["code"], -32600, "/mcp, {what}: {body}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "/mcp, {what}: {body}"
        );

        // An OAuth endpoint answers as OAuth does.
        let answer = exchange(addr, &chunked("/token", form, chunks), half_close).await;
        let (status, head, body) =
            answer.unwrap_or_else(|| panic!("/token, {what}: closed without an answer"));
        assert_eq!(status, 400, "/token, {what}: {head}\n{body}");
        let error: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("/token, {what}: not JSON ({e}): {body}"));
        assert_eq!(error["error"], "invalid_request", "/token, {what}: {body}");
        assert!(
            error["error_description"]
                .as_str()
                .is_some_and(|d| d.contains("chunked") || d.contains("ended")),
            "/token, {what}: {body}"
        );
    }

    // The proxy is fine afterwards.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await.map(|r| r.0), Some(200));
}
