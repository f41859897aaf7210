//! Soak: many MCP clients calling tools through the proxy while the harness breaks things.
//!
//! Topology, all on loopback: two proxy replicas (A and B) sharing a real `redis-server`, behind
//! the `round-robin` load balancer, in front of one Okta tool server (`serve`) and the fake org;
//! a third proxy (W) on the same Redis in front of `wrap` + server-everything. Clients log in
//! through the balancer (three users, shared), then most of them call `get_okta_user` with a user
//! id of their own through the balancer and the rest call server-everything's `echo` (a message
//! of their own) or its ~1 s long-running operation (a duration of their own) through W, as
//! 2026-07-28 (stateless) clients: every wrap client of a user shares that user's one warm
//! child, so a response sent to the wrong client would show.
//!
//! Calls are paced over the run (`SOAK_SECS`) while faults start at fixed points of it: slow Okta
//! answers, the tool server killed and restarted, a 5xx storm and a 429 storm at the fake org,
//! the wrapped children killed, Redis stopped (SIGTERM) and restarted, and a SIGTERM to proxy A followed by
//! a restart (a rolling restart: the balancer skips a replica that refuses connections).
//!
//! Each call is one attempt, classified as: `ok` (the right answer for that client), a clear
//! retryable error (an HTTP 429/502/503/504 with a JSON-RPC error body, a tool result saying
//! Okta was unavailable or rate limited, a wrap session ended by its child's death, a connection
//! refused or cut during a restart, the balancer's bodiless 502 for a request it had sent on a
//! pooled connection the stopping replica closed: a reset, to the client), `wrong`
//! (an answer for another request), `hung` (no answer within the call timeout) or `other`.
//! Clients do not retry inside a call; the next call is the retry. `wrong`, `hung` and `other`
//! must be 0, and the resident memory of the processes that were not restarted must come back
//! to its baseline. The summary table goes to stdout (`cargo test … -- --nocapture`).
//!
//! Short by default (200 clients × 10 calls over 40 s); longer on demand:
//! `SOAK_CLIENTS=200 SOAK_CALLS=50 SOAK_SECS=150 cargo test -p okta-mcp-tests --test soak -- --nocapture`.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use okta_mcp_tests::fake_okta::Dataset;
use okta_mcp_tests::harness::{
    FakeOkta, Process, Proxy, RedisServer, TEST_CLIENT_ID, TEST_CLIENT_SECRET, ToolServer,
    WrapServer, binary, child_pids, everything_server_command, free_port, http_client, rss_kib,
    start_process, wait_until_ok, workspace_root,
};
use okta_mcp_tests::oauth_flow::{log_in, manual_redirect_client};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// No call may take longer than this (the tool server's own Okta retries fit well inside).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A call is counted in the last fault's window it overlaps; a window lasts from the fault's
/// start until this long after it ended.
const WINDOW_TAIL: Duration = Duration::from_secs(2);
/// The users whose tokens the clients share (viewer, security-admin, super-admin).
const USERS: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];
/// The 2026-07-28 revision: requests without a session, served by one warm child per user.
const STATELESS: &str = "2026-07-28";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// How one call ended.
#[derive(Debug, Clone)]
enum Outcome {
    Ok,
    /// A clear retryable error, by kind (e.g. `http 502`, `okta unavailable`, `connection`).
    Retryable(String),
    /// An answer for another request, or the wrong data.
    Wrong(String),
    Hung,
    Other(String),
}

impl Outcome {
    fn class(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Retryable(_) => "retryable",
            Outcome::Wrong(_) => "wrong",
            Outcome::Hung => "hung",
            Outcome::Other(_) => "other",
        }
    }

    /// What went wrong, for the report.
    fn detail(&self) -> &str {
        match self {
            Outcome::Retryable(detail) | Outcome::Wrong(detail) | Outcome::Other(detail) => detail,
            Outcome::Ok | Outcome::Hung => "",
        }
    }
}

struct CallRecord {
    started: Duration,
    latency: Duration,
    outcome: Outcome,
}

/// What a client calls and how its answer is checked.
#[derive(Clone)]
enum Work {
    /// `get_okta_user` of this user id, through the balancer.
    OktaUser(String),
    /// server-everything's `echo`, through the wrap proxy, stateless.
    Echo,
}

struct SoakClient {
    http: reqwest::Client,
    url: String,
    token: String,
    index: u64,
    work: Work,
    protocol_version: String,
}

/// The JSON-RPC response with `id` in an HTTP body (JSON, or the events of an SSE stream), or
/// the id of another response found instead.
fn response_in(body: &str, is_sse: bool, id: u64) -> Result<Value, String> {
    let messages: Vec<Value> = if is_sse {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    } else {
        serde_json::from_str(body).into_iter().collect()
    };
    let responses: Vec<&Value> = messages
        .iter()
        .filter(|m| m.get("result").is_some() || m.get("error").is_some())
        .collect();
    if let Some(ours) = responses.iter().find(|m| m["id"] == id) {
        return Ok((*ours).clone());
    }
    match responses.first() {
        Some(other) => Err(format!("response for id {} instead of {id}", other["id"])),
        None => Err(String::new()),
    }
}

/// Whether a tool result or JSON-RPC error text tells the caller to try again later.
fn says_retry(text: &str) -> Option<&'static str> {
    let kinds = [
        ("E0000009", "okta unavailable"),
        ("E0000047", "okta rate limited"),
        ("rate limit", "okta rate limited"),
        ("did not answer", "okta timeout"),
        ("could not reach Okta", "okta unreachable"),
        // A call in flight when its wrapped server died; the next request starts a new one.
        ("start a new one", "wrapped server exited"),
    ];
    kinds
        .iter()
        .find(|(needle, _)| text.contains(needle))
        .map(|(_, kind)| *kind)
}

impl SoakClient {
    fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .bearer_auth(&self.token)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if body["method"] != "initialize" {
            request = request.header("mcp-protocol-version", &self.protocol_version);
        }
        if matches!(self.work, Work::Echo) {
            request = request
                .header("mcp-method", body["method"].as_str().unwrap_or_default())
                .header(
                    "mcp-name",
                    body["params"]["name"].as_str().unwrap_or_default(),
                );
        }
        request
    }

    /// `initialize` + `notifications/initialized` (Okta clients; stateless clients have none).
    async fn initialize(&mut self) {
        if matches!(self.work, Work::Echo) {
            self.protocol_version = STATELESS.into();
            return;
        }
        let id = self.index * 1_000_000;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "okta-mcp-soak", "version": "1"}
        }});
        let response = self.request(&body).send().await.expect("initialize");
        assert_eq!(response.status(), 200, "initialize");
        let is_sse = is_sse(&response);
        let text = response.text().await.expect("initialize body");
        let message = response_in(&text, is_sse, id).expect("initialize result");
        self.protocol_version = message["result"]["protocolVersion"]
            .as_str()
            .expect("protocolVersion")
            .to_owned();
        let note = self
            .request(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .send()
            .await
            .expect("initialized");
        assert_eq!(note.status(), 202, "notifications/initialized");
    }

    /// One `tools/call`, bounded by [`CALL_TIMEOUT`], classified.
    async fn call(&self, call: u64) -> Outcome {
        match tokio::time::timeout(CALL_TIMEOUT, self.attempt(call)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Hung,
        }
    }

    async fn attempt(&self, call: u64) -> Outcome {
        let id = self.index * 1_000_000 + call + 1;
        let nonce = format!("soak-c{}-k{call}-{:08x}", self.index, rand::random::<u32>());
        // Every other wrap call is a slow one (about a second), so some are in flight when the
        // children are killed; its duration is the client's own, so its answer is too.
        let slow = call % 2 == 1;
        let duration: Value =
            serde_json::from_str(&format!("1.{:03}", self.index % 1000)).expect("a number");
        let expected = if slow {
            format!("Long running operation completed. Duration: {duration} seconds, Steps: 2.")
        } else {
            format!("Echo: {nonce}")
        };
        let params = match &self.work {
            Work::OktaUser(user) => {
                json!({"name": "get_okta_user", "arguments": {"user_id": user}})
            }
            Work::Echo if slow => json!({"name": "trigger-long-running-operation",
                "arguments": {"duration": duration, "steps": 2}, "_meta": stateless_meta()}),
            Work::Echo => json!({"name": "echo", "arguments": {"message": nonce},
                "_meta": stateless_meta()}),
        };
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
        let response = match self.request(&body).send().await {
            Ok(response) => response,
            Err(e) if e.is_connect() => return Outcome::Retryable("connection refused".into()),
            Err(e) => return Outcome::Retryable(format!("connection lost ({})", error_kind(&e))),
        };
        let status = response.status().as_u16();
        let is_sse = is_sse(&response);
        let headers = format!("{:?}", response.headers());
        let text = match response.text().await {
            Ok(text) => text,
            Err(e) => {
                return Outcome::Retryable(format!(
                    "connection lost mid-answer ({})",
                    error_kind(&e)
                ));
            }
        };
        if status != 200 {
            let error = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|b| b["error"]["message"].as_str().map(str::to_owned));
            return match (status, error) {
                (429 | 502 | 503 | 504, Some(_)) => Outcome::Retryable(format!("http {status}")),
                // The balancer's own answer (it has no body) when a replica closed the pooled
                // connection a request was just sent on: what a client sees as a reset.
                (502, None) if text.is_empty() => {
                    Outcome::Retryable("http 502 without a body, from the balancer".into())
                }
                (_, error) => Outcome::Other(format!(
                    "HTTP {status}: {:?} {headers}",
                    error.unwrap_or_else(|| text.chars().take(200).collect())
                )),
            };
        }
        let message = match response_in(&text, is_sse, id) {
            Ok(message) => message,
            Err(wrong) if !wrong.is_empty() => return Outcome::Wrong(wrong),
            Err(_) => {
                return Outcome::Other(format!(
                    "200 without a response: {}",
                    text.chars().take(200).collect::<String>()
                ));
            }
        };
        if let Some(error) = message.get("error") {
            let text = error.to_string();
            return match says_retry(&text) {
                Some(kind) => Outcome::Retryable(kind.into()),
                None => Outcome::Other(format!("JSON-RPC error: {text}")),
            };
        }
        let result = &message["result"];
        if result["isError"] == true {
            let text = result["content"].to_string();
            return match says_retry(&text) {
                Some(kind) => Outcome::Retryable(kind.into()),
                None => Outcome::Other(format!("tool error: {}", truncate(&text))),
            };
        }
        match &self.work {
            Work::OktaUser(user) => {
                let got = &result["structuredContent"]["user"]["id"];
                if got == user.as_str() {
                    Outcome::Ok
                } else {
                    Outcome::Wrong(format!("asked for user {user}, got {got}"))
                }
            }
            Work::Echo => {
                let got = result["content"][0]["text"].as_str().unwrap_or_default();
                if got == expected {
                    Outcome::Ok
                } else {
                    Outcome::Wrong(format!("expected {expected:?}, got {got:?}"))
                }
            }
        }
    }
}

/// The `_meta` a 2026-07-28 request carries.
fn stateless_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": STATELESS,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "okta-mcp-soak", "version": "1"}
    })
}

fn truncate(text: &str) -> String {
    text.chars().take(300).collect()
}

fn is_sse(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

fn error_kind(e: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

/// Sends SIGTERM to a process this test started.
fn sigterm(pid: u32) {
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -TERM {pid}");
}

/// Sends SIGKILL to a process this test's wrap server started.
fn sigkill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// Sends SIGTERM to the `redis-server` this test started (a child of the test process) and
/// waits until its port is closed.
async fn stop_redis_gracefully(port: u16) {
    let pid = child_pids(std::process::id())
        .into_iter()
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.starts_with("redis-server") && c.contains(&port.to_string()))
        })
        .expect("the test's redis-server");
    sigterm(pid);
    for _ in 0..250 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("redis-server did not stop within 5 s of SIGTERM");
}

/// Everything the soak runs against.
struct Topology {
    okta: FakeOkta,
    redis: RedisServer,
    tool_server: ToolServer,
    wrap: WrapServer,
    /// A and B behind the balancer, in front of the tool server.
    replicas: Vec<Proxy>,
    /// W, in front of the wrap server.
    wrap_proxy: Proxy,
    balancer: Process,
    public_url: String,
}

impl Topology {
    async fn start() -> Self {
        let redis = RedisServer::start().await;
        let lb_port = free_port();
        let public_url = format!("http://127.0.0.1:{lb_port}");
        let redirect = format!("{public_url}/oauth/callback");
        // The org's rate budget is out of the way; 429s come only from the injected storm.
        let okta = FakeOkta::start(&[
            "--client-id",
            TEST_CLIENT_ID,
            "--client-secret",
            TEST_CLIENT_SECRET,
            "--redirect-uri",
            &redirect,
            "--rate-limit-per-minute",
            "10000000",
        ]);
        let tool_server = ToolServer::start(&okta, &[("LOG_LEVEL", "warn")]).await;
        let wrap = WrapServer::start_with_env(
            "policies/everything.toml",
            &[],
            &everything_server_command(),
            &[("LOG_LEVEL", "warn")],
        )
        .await;
        let store_url = redis.url();
        let env = [
            ("STORE_URL", store_url.as_str()),
            ("PUBLIC_URL", public_url.as_str()),
            ("LOG_LEVEL", "warn"),
        ];
        let mut replicas = Vec::new();
        for _ in 0..2 {
            replicas.push(Proxy::start(&okta, free_port(), &tool_server.mcp_url, &env).await);
        }
        let wrap_proxy = Proxy::start(&okta, free_port(), &wrap.mcp_url, &env).await;
        let mut command = Command::new(binary("round-robin"));
        command
            .current_dir(workspace_root())
            .arg(format!("127.0.0.1:{lb_port}"));
        for replica in &replicas {
            command.arg(replica.public_url.trim_start_matches("http://"));
        }
        let balancer = start_process(command);
        assert!(
            wait_until_ok(&format!("{public_url}/health"), 400).await,
            "load balancer never answered: {}",
            balancer.logs()
        );
        Self {
            okta,
            redis,
            tool_server,
            wrap,
            replicas,
            wrap_proxy,
            balancer,
            public_url,
        }
    }
}

/// A fault's name and when it was in force, from the start of the run.
struct FaultWindow {
    name: &'static str,
    from: Duration,
    to: Duration,
}

/// Runs the faults at fixed fractions of `run` from `start`; returns their windows.
async fn inject_faults(topology: &mut Topology, start: Instant, run: Duration) -> Vec<FaultWindow> {
    let mut windows = Vec::new();
    let at = |fraction: f64| start + run.mul_f64(fraction);
    let now = || start.elapsed();

    tokio::time::sleep_until(at(0.06).into()).await;
    let from = now();
    topology.okta.faults(json!({"latency_ms": 1500})).await;
    tokio::time::sleep_until(at(0.14).into()).await;
    topology.okta.faults(json!({"latency_ms": 0})).await;
    windows.push(FaultWindow {
        name: "slow Okta (1.5 s)",
        from,
        to: now(),
    });

    tokio::time::sleep_until(at(0.18).into()).await;
    let from = now();
    topology.tool_server.process.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let okta = &topology.okta;
    topology
        .tool_server
        .restart_with(okta, &[("LOG_LEVEL", "warn")])
        .await;
    windows.push(FaultWindow {
        name: "tool server killed, restarted",
        from,
        to: now(),
    });

    tokio::time::sleep_until(at(0.28).into()).await;
    let from = now();
    topology.okta.faults(json!({"inject_5xx": 2000})).await;
    tokio::time::sleep_until(at(0.36).into()).await;
    topology.okta.faults(json!({"inject_5xx": 0})).await;
    windows.push(FaultWindow {
        name: "Okta 5xx storm (503s)",
        from,
        to: now(),
    });

    tokio::time::sleep_until(at(0.40).into()).await;
    let from = now();
    topology.okta.faults(json!({"inject_429": 2000})).await;
    tokio::time::sleep_until(at(0.48).into()).await;
    topology.okta.faults(json!({"inject_429": 0})).await;
    windows.push(FaultWindow {
        name: "Okta 429 storm (429s)",
        from,
        to: now(),
    });

    tokio::time::sleep_until(at(0.52).into()).await;
    let from = now();
    let children = topology.wrap.children();
    assert!(!children.is_empty(), "no wrapped child to kill");
    for pid in &children {
        sigkill(*pid);
    }
    windows.push(FaultWindow {
        name: "wrapped children killed",
        from,
        to: now(),
    });

    tokio::time::sleep_until(at(0.60).into()).await;
    let from = now();
    stop_redis_gracefully(topology.redis.port).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    topology.redis.start_again().await;
    windows.push(FaultWindow {
        name: "Redis SIGTERM, restarted",
        from,
        to: now(),
    });

    tokio::time::sleep_until(at(0.70).into()).await;
    // Okta answers slowly meanwhile, so calls are in flight on A when it is told to stop.
    topology.okta.faults(json!({"latency_ms": 400})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let from = now();
    let proxy = &mut topology.replicas[0];
    sigterm(proxy.process.id());
    let exited = proxy.process.wait_exit(Duration::from_secs(10)).await;
    assert!(exited.is_some(), "proxy A did not exit after SIGTERM");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.kill_and_restart().await;
    topology.okta.faults(json!({"latency_ms": 0})).await;
    windows.push(FaultWindow {
        name: "proxy A SIGTERM (Okta +0.4 s), restarted",
        from,
        to: now(),
    });
    windows
}

/// Resident memory of the processes that live through the whole run.
fn survivors_rss(topology: &Topology) -> Vec<(&'static str, u32, u64)> {
    [
        ("proxy B", topology.replicas[1].process.id()),
        ("proxy W (wrap)", topology.wrap_proxy.process.id()),
        ("wrap server", topology.wrap.process.id()),
    ]
    .into_iter()
    .map(|(name, pid)| (name, pid, rss_kib(pid)))
    .collect()
}

#[tokio::test]
async fn clients_get_their_own_answer_or_a_clear_retryable_error_while_everything_breaks() {
    let clients = env_number("SOAK_CLIENTS", 200);
    let calls = env_number("SOAK_CALLS", 10);
    let run = Duration::from_secs(env_number("SOAK_SECS", 40));
    let _ = http_client();
    let mut topology = Topology::start().await;

    // Three logins through the balancer, shared by the clients.
    let login = manual_redirect_client();
    let mut tokens = Vec::new();
    for user in USERS {
        topology.okta.auto_login(user).await;
        tokens.push(log_in(&login, &topology.public_url).await.access_token);
    }
    // Every fifth client goes through wrap; the others ask for a user of their own.
    let users = Dataset::generate(42).users;
    let okta_mcp = format!("{}/mcp", topology.public_url);
    let mut soak_clients = Vec::new();
    for index in 0..clients {
        let work = if index % 5 == 4 {
            Work::Echo
        } else {
            Work::OktaUser(users[index as usize % users.len()].id.clone())
        };
        let url = match work {
            Work::Echo => topology.wrap_proxy.mcp_url.clone(),
            Work::OktaUser(_) => okta_mcp.clone(),
        };
        let mut client = SoakClient {
            http: reqwest::Client::new(),
            url,
            token: tokens[index as usize % tokens.len()].clone(),
            index,
            work,
            protocol_version: String::new(),
        };
        client.initialize().await;
        soak_clients.push(Arc::new(client));
    }
    // Warm-up: one call each, all of which must succeed, before the baseline is taken.
    let warm_up: Vec<_> = soak_clients
        .iter()
        .map(|c| {
            let c = c.clone();
            tokio::spawn(async move { c.call(999_999 - 1).await })
        })
        .collect();
    for task in warm_up {
        let outcome = task.await.expect("warm-up call");
        assert!(matches!(outcome, Outcome::Ok), "warm-up: {outcome:?}");
    }
    assert_eq!(topology.wrap.children().len(), USERS.len());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = survivors_rss(&topology);

    // Peak memory, sampled while the run goes on.
    let peak: Arc<Mutex<BTreeMap<u32, u64>>> = Arc::default();
    let sampling = Arc::new(AtomicU64::new(1));
    let sampler = {
        let peak = peak.clone();
        let sampling = sampling.clone();
        let pids: Vec<u32> = baseline.iter().map(|(_, pid, _)| *pid).collect();
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) == 1 {
                let mut peak = peak.lock().await;
                for pid in &pids {
                    let rss = rss_kib(*pid);
                    let entry = peak.entry(*pid).or_default();
                    *entry = (*entry).max(rss);
                }
                drop(peak);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    // Calls spread evenly over the run: client i's call k at (k + i/clients) / calls of it.
    let start = Instant::now();
    let tasks: Vec<_> = soak_clients
        .iter()
        .map(|client| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut records = Vec::new();
                for k in 0..calls {
                    let fraction = (k as f64 + client.index as f64 / clients as f64) / calls as f64;
                    tokio::time::sleep_until((start + run.mul_f64(fraction)).into()).await;
                    let started = start.elapsed();
                    let outcome = client.call(k).await;
                    records.push(CallRecord {
                        started,
                        latency: start.elapsed() - started,
                        outcome,
                    });
                }
                records
            })
        })
        .collect();
    let windows = inject_faults(&mut topology, start, run).await;
    let mut records = Vec::new();
    for task in tasks {
        records.extend(task.await.expect("client task"));
    }
    let wall = start.elapsed();
    sampling.store(0, Ordering::Relaxed);
    let _ = sampler.await;
    // Settle, then measure again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = survivors_rss(&topology);
    let peak = peak.lock().await.clone();

    // The summary.
    let window_of = |r: &CallRecord| {
        windows
            .iter()
            .rev()
            .find(|w| r.started < w.to + WINDOW_TAIL && r.started + r.latency >= w.from)
            .map_or("calm", |w| w.name)
    };
    let mut by_class: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_window: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
    let mut problems = Vec::new();
    for r in &records {
        *by_class.entry(r.outcome.class()).or_default() += 1;
        let kind = match &r.outcome {
            Outcome::Retryable(kind) => format!("retryable: {kind}"),
            other => other.class().to_owned(),
        };
        *by_kind.entry(kind).or_default() += 1;
        *by_window
            .entry(window_of(r))
            .or_default()
            .entry(r.outcome.class())
            .or_default() += 1;
        if matches!(
            r.outcome,
            Outcome::Wrong(_) | Outcome::Hung | Outcome::Other(_)
        ) {
            problems.push(format!(
                "at {:.1} s ({}): {} {}",
                r.started.as_secs_f64(),
                window_of(r),
                r.outcome.class(),
                r.outcome.detail()
            ));
        }
    }
    let max_latency = records.iter().map(|r| r.latency).max().unwrap_or_default();
    println!(
        "\nsoak: {clients} clients × {calls} calls = {} calls over {:.1} s (run {} s), per-call timeout {} s",
        records.len(),
        wall.as_secs_f64(),
        run.as_secs(),
        CALL_TIMEOUT.as_secs()
    );
    println!("\n| outcome | calls |\n|---|--:|");
    for (kind, n) in &by_kind {
        println!("| {kind} | {n} |");
    }
    println!("\n| window | from s | to s | ok | retryable | wrong | hung | other |");
    println!("|---|--:|--:|--:|--:|--:|--:|--:|");
    let row = |name: &str, span: String| {
        let counts = by_window.get(name).cloned().unwrap_or_default();
        let n = |c: &str| counts.get(c).copied().unwrap_or(0);
        println!(
            "| {name} | {span} | {} | {} | {} | {} | {} |",
            n("ok"),
            n("retryable"),
            n("wrong"),
            n("hung"),
            n("other")
        );
    };
    for w in &windows {
        row(
            w.name,
            format!("{:.1} | {:.1}", w.from.as_secs_f64(), w.to.as_secs_f64()),
        );
    }
    row("calm", "– | –".into());
    let stats = topology.okta.stats().await;
    println!(
        "\nthe fake org answered {} × 5xx and {} × 429 in all ({} API requests)",
        stats["status_5xx"], stats["status_429"], stats["requests"]
    );
    println!(
        "\nmax latency {:.2} s; p99 {:.3} s",
        max_latency.as_secs_f64(),
        percentile(&records, 0.99).as_secs_f64()
    );
    println!("\n| process | RSS baseline MB | peak MB | after MB |\n|---|--:|--:|--:|");
    for ((name, pid, before), (_, _, after)) in baseline.iter().zip(&after) {
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} |",
            mb(*before),
            mb(peak.get(pid).copied().unwrap_or(0)),
            mb(*after)
        );
    }
    for problem in problems.iter().take(20) {
        println!("problem: {problem}");
    }
    if !problems.is_empty() {
        println!("balancer logs:\n{}", topology.balancer.logs());
    }

    assert_eq!(records.len() as u64, clients * calls, "every call ended");
    assert!(problems.is_empty(), "{} problem calls", problems.len());
    let ok = by_class.get("ok").copied().unwrap_or(0);
    assert!(
        ok * 2 >= records.len() as u64,
        "most calls succeed: {by_class:?}"
    );
    // Back to baseline: within max(25%, 16 MiB) of it (debug builds; allocators keep some).
    for ((name, _, before), (_, _, after)) in baseline.iter().zip(&after) {
        let allowed = before + (before / 4).max(16 * 1024);
        assert!(
            *after <= allowed,
            "{name}: {after} KiB after, {before} KiB at the baseline"
        );
    }
}

fn percentile(records: &[CallRecord], p: f64) -> Duration {
    let mut latencies: Vec<Duration> = records.iter().map(|r| r.latency).collect();
    latencies.sort();
    latencies
        .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn mb(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
