//! Starting the built binaries and speaking MCP to them, for end-to-end tests.
//!
//! Tests run the real `fake-okta` and `okta-mcp-tool-server` processes from the workspace's
//! target directory (`tests/run` builds them first) and talk HTTP to them. The MCP client here
//! signs every request with the identity-header contract, as the proxy does, so the tool
//! server's own verification is what the tests exercise.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use okta_mcp_tool_server::identity::{self, Identity, IdentityKey, RequestBinding};
use serde_json::{Value, json};

/// The identity-header key every test process shares.
pub const TEST_IDENTITY_KEY: &str = "test-identity-header-key-0123456789abcdef";
/// The viewer role's tools in policies/okta-tools.toml, sorted: what alice sees.
pub const VIEWER_TOOLS: [&str; 12] = [
    "get_current_time",
    "get_okta_application",
    "get_okta_event_logs",
    "get_okta_group",
    "get_okta_user",
    "list_okta_applications",
    "list_okta_group_users",
    "list_okta_groups",
    "list_okta_user_applications",
    "list_okta_user_groups",
    "list_okta_users",
    "parse_relative_time",
];

/// The API token the fake org accepts in tests.
pub const TEST_API_TOKEN: &str = "test-api-token-00000000000000000000";

/// A plain HTTP client (installs the process's one rustls crypto provider first).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Path of a workspace binary built by `cargo build --workspace`.
pub fn binary(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("debug").join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`tests/run` does: cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// The workspace root, so tests can pass `policies/…` paths.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A child process killed when dropped, with its stderr kept for assertions.
pub struct Process {
    child: Child,
    stderr: Arc<Mutex<String>>,
    /// Set once everything the process wrote to stderr is in `stderr`.
    stderr_done: Arc<std::sync::atomic::AtomicBool>,
}

impl Process {
    /// Everything the process wrote to stderr so far (its logs).
    pub fn logs(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until the logs contain `needle` (logs are written asynchronously).
    pub async fn wait_for_log(&self, needle: &str) -> String {
        for _ in 0..100 {
            let logs = self.logs();
            if logs.contains(needle) {
                return logs;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("log line {needle:?} never appeared; logs:\n{}", self.logs());
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Kills the process now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The operating-system process id (for sending signals).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for the process to exit; its exit status, or `None` if it still runs.
    /// After an exit, [`Process::logs`] holds everything it wrote (the reader may lag the exit).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                while !self.stderr_done.load(std::sync::atomic::Ordering::Acquire)
                    && std::time::Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Starts `command` as a [`Process`] (stdin closed, stdout discarded, stderr kept as logs).
pub fn start_process(command: Command) -> Process {
    spawn(command).0
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(mut command: Command) -> (Process, BufReader<std::process::ChildStdout>) {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("spawn test process");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let stderr = child.stderr.take().expect("stderr");
    let logs = Arc::new(Mutex::new(String::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (sink, finished) = (logs.clone(), done.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut logs = sink.lock().unwrap();
            logs.push_str(&line);
            logs.push('\n');
        }
        finished.store(true, std::sync::atomic::Ordering::Release);
    });
    (
        Process {
            child,
            stderr: logs,
            stderr_done: done,
        },
        stdout,
    )
}

/// A running fake Okta org.
pub struct FakeOkta {
    pub process: Process,
    /// e.g. `http://127.0.0.1:40123`
    pub url: String,
}

impl FakeOkta {
    /// Starts `fake-okta` on a free port with `extra` flags.
    pub fn start(extra: &[&str]) -> Self {
        let mut command = Command::new(binary("fake-okta"));
        command
            .args(["--listen", "127.0.0.1:0", "--api-token", TEST_API_TOKEN])
            .args(extra)
            .env("LOG_LEVEL", "warn");
        let (process, mut stdout) = spawn(command);
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("fake-okta prints its address");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from fake-okta: {line:?}"))
            .to_owned();
        Self { process, url }
    }

    /// Starts `fake-okta` with its OIDC provider for the proxy's test client, which may
    /// redirect only to `redirect_uri`.
    pub fn start_oidc(redirect_uri: &str) -> Self {
        Self::start(&[
            "--client-id",
            TEST_CLIENT_ID,
            "--client-secret",
            TEST_CLIENT_SECRET,
            "--redirect-uri",
            redirect_uri,
        ])
    }

    /// Sets fault injection (`POST /__fake/faults`).
    pub async fn faults(&self, faults: Value) {
        let response = http_client()
            .post(format!("{}/__fake/faults", self.url))
            .json(&faults)
            .send()
            .await
            .expect("set faults");
        assert!(
            response.status().is_success(),
            "set faults: {}",
            response.status()
        );
    }

    /// Request counters (`GET /__fake/stats`).
    pub async fn stats(&self) -> Value {
        http_client()
            .get(format!("{}/__fake/stats", self.url))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats json")
    }

    /// Zeroes the request counters.
    pub async fn reset_stats(&self) {
        http_client()
            .post(format!("{}/__fake/stats/reset", self.url))
            .send()
            .await
            .expect("reset stats");
    }
}

/// Client id of the fake org's service app in tests.
pub const SERVICE_CLIENT_ID: &str = "0oa-test-service-app";

/// A service app's key pair on disk: the private key (PKCS#8 PEM) for the tool server and the
/// public JWK for the fake org.
pub struct ServiceAppKey {
    _dir: tempfile::TempDir,
    /// The private key file (`OKTA_SERVICE_KEY_FILE`).
    pub private_pem: PathBuf,
    /// The JWKS file (`--service-jwks-file`).
    pub public_jwk: PathBuf,
    /// The private key's PEM text, to look for in logs.
    pub pem_text: String,
}

/// A new EC P-256 service app key.
pub fn service_app_key() -> ServiceAppKey {
    let rng = ring::rand::SystemRandom::new();
    let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        body.join("\n")
    );
    service_app_key_from_pem(&pem, None)
}

/// A service app key from a PKCS#8 PEM (RSA or EC P-256); the JWKS gives it `kid` when set.
pub fn service_app_key_from_pem(pem: &str, kid: Option<&str>) -> ServiceAppKey {
    let pem = pem.to_owned();
    let mut jwk = okta_mcp_tool_server::okta::jose::SigningKey::from_pem(&pem)
        .unwrap()
        .public_jwk();
    if let Some(kid) = kid {
        jwk["kid"] = json!(kid);
    }
    let dir = tempfile::tempdir().unwrap();
    let private_pem = dir.path().join("service-app.pem");
    let public_jwk = dir.path().join("service-app.jwks.json");
    std::fs::write(&private_pem, &pem).unwrap();
    std::fs::write(&public_jwk, json!({ "keys": [jwk] }).to_string()).unwrap();
    ServiceAppKey {
        _dir: dir,
        private_pem,
        public_jwk,
        pem_text: pem,
    }
}

/// An `env` value for [`ToolServer::start`] that removes the variable (e.g. `OKTA_API_TOKEN`
/// for a service app).
pub const UNSET: &str = "\u{0}unset";

/// A running `okta-mcp-tool-server serve`.
pub struct ToolServer {
    pub process: Process,
    /// e.g. `http://127.0.0.1:40124/mcp`
    pub mcp_url: String,
}

/// The sorted tool names of a `tools/list` JSON-RPC response.
pub fn tool_names_of(message: &Value) -> Vec<String> {
    let mut names: Vec<String> = message["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("tools/list: {message}"))
        .iter()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Polls `url` every 25 ms until it answers 2xx, at most `tries` times.
pub async fn wait_until_ok(url: &str, tries: usize) -> bool {
    for _ in 0..tries {
        if let Ok(r) = http_client().get(url).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Serves `app` on a free loopback port for the rest of the test (hooks a client script calls
/// at a chosen moment); returns `http://127.0.0.1:<port>`.
pub async fn serve_hook(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind hook");
    let port = listener.local_addr().expect("hook address").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://127.0.0.1:{port}")
}

/// A free loopback port for a process a test starts, which binds it a moment later.
///
/// Not one the kernel hands out for port 0: those come from the ephemeral range, which every
/// outgoing connection draws its own port from too, so in the moment between this call and the
/// child's bind a client connection could take it ("Address already in use"). Ports come from
/// just below the ephemeral range instead, each handed out once per test process (from a
/// start that differs between processes), and only if binding it succeeds now.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let (low, high) = ports_below_ephemeral();
    let span = u32::from(high - low);
    let _ = NEXT.compare_exchange(
        u32::MAX,
        std::process::id().wrapping_mul(7919) % span,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst) % span;
        let port = low + u16::try_from(offset).expect("the span fits in a port");
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {low}..{high}");
}

/// The ports `free_port` hands out: up to 10,000 below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`; Linux's default starts at 32768).
fn ports_below_ephemeral() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let high = ephemeral_low.max(3024);
    (high.saturating_sub(10_000).max(2024), high)
}

impl ToolServer {
    /// Starts `serve` against `okta` with the shipped policy and `env` overrides.
    pub async fn start(okta: &FakeOkta, env: &[(&str, &str)]) -> Self {
        Self::start_on(okta, free_port(), env).await
    }

    /// Kills this tool server and starts another on the same port with `env` overrides.
    pub async fn restart_with(&mut self, okta: &FakeOkta, env: &[(&str, &str)]) {
        let port = self
            .mcp_url
            .trim_end_matches("/mcp")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the tool server's port");
        self.process.kill();
        *self = Self::start_on(okta, port, env).await;
    }

    async fn start_on(okta: &FakeOkta, port: u16, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(binary("okta-mcp-tool-server"));
        command
            .current_dir(workspace_root())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("OKTA_ORG_URL", &okta.url)
            .env("OKTA_API_TOKEN", TEST_API_TOKEN)
            .env("IDENTITY_HEADER_KEY", TEST_IDENTITY_KEY)
            .env("LOG_LEVEL", "info");
        for (k, v) in env {
            if *v == UNSET {
                command.env_remove(k);
            } else {
                command.env(k, v);
            }
        }
        let (process, _stdout) = spawn(command);
        let server = Self {
            process,
            mcp_url: format!("http://127.0.0.1:{port}/mcp"),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        if wait_until_ok(&health, 200).await {
            return server;
        }
        panic!(
            "tool server did not start; logs:\n{}",
            server.process.logs()
        );
    }
}

/// One HTTP answer, with the JSON-RPC message it carried (JSON or the matching SSE event).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
    pub message: Option<Value>,
}

/// A minimal MCP streamable-HTTP client that signs like the proxy.
pub struct McpClient {
    http: reqwest::Client,
    url: String,
    path: String,
    key: IdentityKey,
    pub identity: Identity,
    pub session_id: Option<String>,
    pub protocol_version: String,
    next_id: u64,
}

/// An MCP `initialize` request with id `id`, as a client of protocol 2025-11-25 sends it.
pub fn initialize_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "okta-mcp-e2e", "version": "1"}
    }})
}

/// `initialize` at `mcp_url` as a viewer `subject`: the answer and its JSON-RPC error message
/// (empty when there is none).
pub async fn initialize_as(mcp_url: &str, subject: &str) -> (Answer, String) {
    let answer = McpClient::new(mcp_url, "viewer", subject)
        .post(&initialize_body(1))
        .await;
    let message = serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|b| b["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_default();
    (answer, message)
}

impl McpClient {
    /// A client for `url` acting as a user with `role`.
    pub fn new(url: &str, role: &str, subject: &str) -> Self {
        let path = url::Url::parse(url).expect("url").path().to_owned();
        Self {
            http: http_client(),
            url: url.to_owned(),
            path,
            key: IdentityKey::new(TEST_IDENTITY_KEY).expect("key"),
            identity: Identity {
                role: role.to_owned(),
                subject: subject.to_owned(),
                email: format!("{subject}@example.com"),
            },
            session_id: None,
            protocol_version: "2025-11-25".into(),
            next_id: 1,
        }
    }

    /// The identity headers for a request, as the proxy adds them (contract v2: `t` in
    /// milliseconds, values percent-encoded).
    pub fn identity_headers(&self, method: &str) -> Vec<(&'static str, String)> {
        let nonce = identity::new_nonce();
        let binding = RequestBinding {
            method,
            path: &self.path,
            session_id: self.session_id.as_deref().unwrap_or(""),
        };
        let signed = identity::sign_v2(
            &self.key,
            identity::unix_millis(),
            &nonce,
            binding,
            &self.identity,
        )
        .expect("an identity without control characters");
        vec![
            (identity::ROLE_HEADER, signed.role.into_owned()),
            (identity::SUBJECT_HEADER, signed.subject.into_owned()),
            (identity::EMAIL_HEADER, signed.email.into_owned()),
            (identity::IDENTITY_HEADER, signed.identity),
        ]
    }

    /// POSTs one JSON-RPC message with the given headers (identity headers are not added).
    pub async fn post_raw(&self, body: &Value, headers: &[(&str, String)]) -> Answer {
        let mut request = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(id) = &self.session_id {
            request = request.header("mcp-session-id", id);
        }
        if body.get("method").and_then(Value::as_str) != Some("initialize") {
            request = request.header("mcp-protocol-version", &self.protocol_version);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("POST /mcp");
        read_answer(response, body.get("id")).await
    }

    /// POSTs one JSON-RPC message, signed.
    pub async fn post(&self, body: &Value) -> Answer {
        let headers = self.identity_headers("POST");
        self.post_raw(body, &headers).await
    }

    /// Sends a request and returns its JSON-RPC response message.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let answer = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        assert_eq!(answer.status, 200, "{method}: {answer:?}");
        match answer.message {
            Some(message) => message,
            None => panic!("{method}: no JSON-RPC response in {:?}", answer.body),
        }
    }

    /// `initialize` + `notifications/initialized`; keeps the session id.
    pub async fn initialize(&mut self) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let answer = self
            .post(&json!({
                "jsonrpc": "2.0", "id": id, "method": "initialize",
                "params": {
                    "protocolVersion": self.protocol_version,
                    "capabilities": {},
                    "clientInfo": {"name": "okta-mcp-e2e", "version": "1"}
                }
            }))
            .await;
        assert_eq!(answer.status, 200, "initialize: {answer:?}");
        self.session_id = answer
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let message = answer.message.expect("initialize result");
        if let Some(v) = message["result"]["protocolVersion"].as_str() {
            self.protocol_version = v.to_owned();
        }
        let note = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(note.status, 202, "initialized: {note:?}");
        message
    }

    /// The `/mcp` URL this client talks to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `initialize` declaring the `elicitation` capability (form mode), then
    /// `notifications/initialized`; keeps and returns the session id the server gave.
    pub async fn open_elicitation_session(&mut self) -> Option<String> {
        let id = self.next_id;
        self.next_id += 1;
        let answer = self
            .post(&json!({
                "jsonrpc": "2.0", "id": id, "method": "initialize",
                "params": {
                    "protocolVersion": self.protocol_version,
                    "capabilities": {"elicitation": {"form": {}}},
                    "clientInfo": {"name": "okta-mcp-e2e", "version": "1"}
                }
            }))
            .await;
        assert_eq!(answer.status, 200, "initialize: {answer:?}");
        self.session_id = answer
            .headers
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let note = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        assert_eq!(note.status, 202, "initialized: {note:?}");
        self.session_id.clone()
    }

    /// Names of the tools `tools/list` shows.
    pub async fn tool_names(&mut self) -> Vec<String> {
        tool_names_of(&self.request("tools/list", json!({})).await)
    }

    /// `tools/call`; returns the whole JSON-RPC response (result or error).
    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }

    /// `tools/call` that must succeed; returns its structured content.
    pub async fn call_ok(&mut self, tool: &str, arguments: Value) -> Value {
        let message = self.call(tool, arguments.clone()).await;
        let result = &message["result"];
        assert!(
            result["isError"] != json!(true) && message.get("error").is_none(),
            "{tool}({arguments}) failed: {message}"
        );
        result["structuredContent"].clone()
    }
}

/// Reads an HTTP answer to a JSON-RPC request `id` (the matching SSE event, or the JSON body).
pub async fn read_answer(response: reqwest::Response, id: Option<&Value>) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let is_sse = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = response.text().await.unwrap_or_default();
    let message = if is_sse {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<Value>(d.trim()).ok())
            .find(|m| id.is_none() || m.get("id") == id)
    } else {
        serde_json::from_str(&body).ok()
    };
    Answer {
        status,
        headers,
        body,
        message,
    }
}

/// The OIDC client the proxy uses at the fake org in tests.
pub const TEST_CLIENT_ID: &str = "0oa-test-okta-mcp-proxy";
/// Its secret.
pub const TEST_CLIENT_SECRET: &str = "test-client-secret-0123456789";
/// The proxy's session secret in tests.
pub const TEST_SESSION_SECRET: &str = "test-session-secret-key-0123456789abcdefgh";

/// A running `okta-mcp-proxy`.
pub struct Proxy {
    pub process: Process,
    /// e.g. `http://127.0.0.1:40125`
    pub public_url: String,
    /// `<public_url>/mcp`
    pub mcp_url: String,
    /// How it was started, to start it again.
    command: Vec<(String, String)>,
    okta_url: String,
    upstream_mcp_url: String,
    port: u16,
    /// Its `STATE_DIR` (the default embedded store), removed with it.
    pub state_dir: Option<tempfile::TempDir>,
}

/// The `okta-mcp-proxy` command with the test settings (no listener flags yet; state in memory).
pub fn proxy_command(okta_url: &str, tool_server_url: &str, public_url: &str) -> Command {
    let mut command = Command::new(binary("okta-mcp-proxy"));
    command
        .current_dir(workspace_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PUBLIC_URL", public_url)
        .env("TOOL_SERVER_URL", tool_server_url)
        .env("OKTA_ORG_URL", okta_url)
        .env("OKTA_CLIENT_ID", TEST_CLIENT_ID)
        .env("OKTA_CLIENT_SECRET", TEST_CLIENT_SECRET)
        .env("SESSION_SECRET_KEY", TEST_SESSION_SECRET)
        .env("IDENTITY_HEADER_KEY", TEST_IDENTITY_KEY)
        .env("STATE_DIR", "none")
        .env("LOG_LEVEL", "info");
    command
}

/// Fake Okta org (with its OIDC half), tool server and proxy, wired together.
pub struct Stack {
    pub okta: FakeOkta,
    pub tool_server: ToolServer,
    pub proxy: Proxy,
}

impl Stack {
    /// Starts all three on free loopback ports; `proxy_env` adds or overrides proxy settings.
    pub async fn start(proxy_env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
        let tool_server = ToolServer::start(&okta, &[]).await;
        let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, proxy_env).await;
        Self {
            okta,
            tool_server,
            proxy,
        }
    }

    /// Makes the fake org log `email` in without showing its login page.
    pub async fn auto_login(&self, email: &str) {
        self.okta.auto_login(email).await;
    }
}

/// Runs a Node script from `tests/clients` and parses the one JSON line it prints.
pub async fn node_client(script: &str, args: &[&str]) -> Value {
    let dir = workspace_root().join("tests/clients");
    assert!(
        dir.join("node_modules").exists(),
        "tests/clients/node_modules is missing: run `npm ci` there (tests/run does)"
    );
    let output = tokio::process::Command::new("node")
        .current_dir(&dir)
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("run node");
    last_json_line(script, &output)
}

/// The JSON report a client script prints as its last line (the whole output on failure).
fn last_json_line(script: &str, output: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| {
        panic!(
            "{script}: {e}; stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Runs a Python script from `tests/clients/python` with the venv's interpreter (the pinned
/// official `mcp` SDK) and parses the one JSON line it prints last; at most `limit` to finish.
pub async fn python_client(script: &str, args: &[&str], limit: Duration) -> Value {
    let dir = workspace_root().join("tests/clients/python");
    let python = dir.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: tests/run creates the venv (python3 -m venv tests/clients/python/.venv \
         && tests/clients/python/.venv/bin/pip install -r tests/clients/python/requirements.txt)",
        python.display()
    );
    let run = tokio::process::Command::new(&python)
        .current_dir(&dir)
        .arg(script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(limit, run)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish within {limit:?}"))
        .expect("run python");
    last_json_line(script, &output)
}

/// The viewer's tools in `policies/everything.toml` (server-everything's tools a viewer may use).
pub const EVERYTHING_VIEWER_TOOLS: [&str; 8] = [
    "echo",
    "get-annotated-message",
    "get-resource-links",
    "get-resource-reference",
    "get-structured-content",
    "get-sum",
    "get-tiny-image",
    "trigger-long-running-operation",
];

/// The pinned `@modelcontextprotocol/server-everything` over stdio, as a command line.
pub fn everything_server_command() -> Vec<String> {
    let script = workspace_root()
        .join("tests/clients/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        script.exists(),
        "{} is missing: run `npm ci` in tests/clients (tests/run does)",
        script.display()
    );
    vec!["node".into(), script.display().to_string(), "stdio".into()]
}

/// A running `okta-mcp-tool-server wrap … -- CMD ARGS…`.
pub struct WrapServer {
    pub process: Process,
    /// e.g. `http://127.0.0.1:40126/mcp`
    pub mcp_url: String,
}

impl WrapServer {
    /// Starts `wrap` with `policy` (relative to the workspace root) and `flags`, fronting `command`.
    pub async fn start(policy: &str, flags: &[&str], command: &[String]) -> Self {
        Self::start_with_env(policy, flags, command, &[]).await
    }

    /// As [`WrapServer::start`], with `env` added to the wrapper's own environment.
    pub async fn start_with_env(
        policy: &str,
        flags: &[&str],
        command: &[String],
        env: &[(&str, &str)],
    ) -> Self {
        let port = free_port();
        let mut cmd = Command::new(binary("okta-mcp-tool-server"));
        cmd.current_dir(workspace_root())
            .args(["wrap", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--policy", policy])
            .args(flags)
            .arg("--")
            .args(command)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("IDENTITY_HEADER_KEY", TEST_IDENTITY_KEY)
            .env("LOG_LEVEL", "info")
            .envs(env.iter().copied());
        let (process, _stdout) = spawn(cmd);
        let server = Self {
            process,
            mcp_url: format!("http://127.0.0.1:{port}/mcp"),
        };
        let health = format!("http://127.0.0.1:{port}/health");
        if wait_until_ok(&health, 200).await {
            return server;
        }
        panic!("wrap did not start; logs:\n{}", server.process.logs());
    }

    /// Process ids of the wrapped servers running now (the wrapper's child processes).
    pub fn children(&self) -> Vec<u32> {
        child_pids(self.process.id())
    }

    /// Waits up to `timeout` until exactly `n` wrapped servers run; returns how many do.
    pub async fn wait_children(&self, n: usize, timeout: Duration) -> usize {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let running = self.children().len();
            if running == n || std::time::Instant::now() >= deadline {
                return running;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Live (not zombie) child processes of `parent`, from /proc.
pub fn child_pids(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // Fields after the parenthesised command name: state, ppid, …
            let mut rest = stat
                .rsplit_once(')')
                .map(|(_, r)| r.split_whitespace())
                .into_iter()
                .flatten();
            let state = rest.next();
            let ppid = rest.next().and_then(|p| p.parse::<u32>().ok());
            ppid == Some(parent) && state != Some("Z")
        })
        .collect()
}

/// Resident memory of a process in KiB (`VmRSS`), 0 if it is gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

impl FakeOkta {
    /// Makes this org log `email` in without showing its login page.
    pub async fn auto_login(&self, email: &str) {
        let response = http_client()
            .post(format!("{}/__fake/oidc", self.url))
            .json(&json!({"auto_login": email}))
            .send()
            .await
            .expect("set auto_login");
        assert!(
            response.status().is_success(),
            "auto_login: {}",
            response.status()
        );
    }
}

impl Proxy {
    /// Starts `okta-mcp-proxy` on `port` in front of `upstream_mcp_url`, with `okta` for logins.
    /// Its state is in a fresh `STATE_DIR` (the embedded store, as in production) unless
    /// `proxy_env` sets `STATE_DIR` or `STORE_URL`.
    pub async fn start(
        okta: &FakeOkta,
        port: u16,
        upstream_mcp_url: &str,
        proxy_env: &[(&str, &str)],
    ) -> Self {
        let mut env: Vec<(String, String)> = proxy_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let chosen = env
            .iter()
            .any(|(k, _)| k == "STATE_DIR" || k == "STORE_URL");
        let state_dir = (!chosen).then(|| tempfile::tempdir().expect("state dir"));
        if let Some(dir) = &state_dir {
            env.push(("STATE_DIR".into(), dir.path().display().to_string()));
        }
        let public_url = format!("http://127.0.0.1:{port}");
        let mut proxy = Proxy {
            process: Self::spawn(&okta.url, upstream_mcp_url, port, &env),
            mcp_url: format!("{public_url}/mcp"),
            public_url,
            command: env,
            okta_url: okta.url.clone(),
            upstream_mcp_url: upstream_mcp_url.to_owned(),
            port,
            state_dir,
        };
        proxy.wait_ready().await;
        proxy
    }

    fn spawn(okta_url: &str, upstream: &str, port: u16, env: &[(String, String)]) -> Process {
        let public_url = format!("http://127.0.0.1:{port}");
        let mut command = proxy_command(okta_url, upstream, &public_url);
        command.args(["--listen", &format!("127.0.0.1:{port}")]);
        for (k, v) in env {
            command.env(k, v);
        }
        spawn(command).0
    }

    /// `GET /.well-known/oauth-authorization-server`, as JSON.
    pub async fn authorization_server_metadata(&self) -> Value {
        http_client()
            .get(format!(
                "{}/.well-known/oauth-authorization-server",
                self.public_url
            ))
            .send()
            .await
            .expect("metadata request")
            .json()
            .await
            .expect("metadata JSON")
    }

    async fn wait_ready(&mut self) {
        let ready = format!("{}/ready", self.public_url);
        if !wait_until_ok(&ready, 400).await {
            panic!("proxy never became ready; logs:\n{}", self.process.logs());
        }
    }

    /// Restarts the proxy (as [`Self::kill_and_restart`]) with `env` changed from then on: each
    /// pair sets a variable, an empty value removes it.
    pub async fn restart_with(&mut self, env: &[(&str, &str)]) {
        for (name, value) in env {
            self.command.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.command.push(((*name).to_owned(), (*value).to_owned()));
            }
        }
        self.kill_and_restart().await;
    }

    /// Kills the proxy with SIGKILL (no chance to flush anything) and starts it again with the
    /// same settings, port and state; returns once it is ready.
    pub async fn kill_and_restart(&mut self) {
        self.process.kill();
        // The port is free once the process is reaped; the new one binds it again.
        self.process = Self::spawn(
            &self.okta_url,
            &self.upstream_mcp_url,
            self.port,
            &self.command,
        );
        self.wait_ready().await;
    }
}

/// Fake Okta org, a `wrap` server and the proxy in front of it.
pub struct WrapStack {
    pub okta: FakeOkta,
    pub wrap: WrapServer,
    pub proxy: Proxy,
}

impl WrapStack {
    /// Starts all three; `wrap` gets `policy`, `flags` and `command` as in [`WrapServer::start`].
    pub async fn start(policy: &str, flags: &[&str], command: &[String]) -> Self {
        let port = free_port();
        let okta = FakeOkta::start_oidc(&format!("http://127.0.0.1:{port}/oauth/callback"));
        let wrap = WrapServer::start(policy, flags, command).await;
        let proxy = Proxy::start(&okta, port, &wrap.mcp_url, &[]).await;
        Self { okta, wrap, proxy }
    }
}

/// A Node script from `tests/clients` run in phases: it prints JSON lines and waits on stdin.
pub struct NodeScript {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    last: Option<Value>,
}

impl NodeScript {
    /// Starts `node script args…` in `tests/clients`.
    pub fn start(script: &str, args: &[&str]) -> Self {
        use tokio::io::AsyncBufReadExt;
        let dir = workspace_root().join("tests/clients");
        let mut child = tokio::process::Command::new("node")
            .current_dir(&dir)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("run node");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        Self {
            child,
            stdin,
            lines: tokio::io::BufReader::new(stdout).lines(),
            last: None,
        }
    }

    /// The next JSON line the script prints (within `timeout`); `None` at its end.
    pub async fn next_json(&mut self, timeout: Duration) -> Option<Value> {
        loop {
            let line = tokio::time::timeout(timeout, self.lines.next_line())
                .await
                .expect("node script printed nothing in time")
                .ok()
                .flatten()?;
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                self.last = Some(value.clone());
                return Some(value);
            }
        }
    }

    /// Lets the script go on past its current phase.
    pub async fn go(&mut self) {
        use tokio::io::AsyncWriteExt;
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(b"go\n").await;
            let _ = stdin.flush().await;
        }
    }

    /// Reads to the end and returns the script's report (its last JSON line).
    pub async fn report(mut self, timeout: Duration) -> Value {
        while self.next_json(timeout).await.is_some() {}
        let _ = self.child.wait().await;
        self.last.unwrap_or(Value::Null)
    }
}

/// A real `redis-server` (Debian's package) on a free loopback port, with its data (AOF) in a
/// directory of its own, so it can be stopped and started again with what it held.
pub struct RedisServer {
    process: Option<Process>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one and waits until it answers.
    pub async fn start() -> Self {
        let mut server = Self {
            process: None,
            port: free_port(),
            dir: tempfile::tempdir().expect("redis dir"),
        };
        server.start_again().await;
        server
    }

    /// `redis://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it (SIGKILL: what an OOM kill or a node loss does).
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts it again on the same port and data directory.
    pub async fn start_again(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            // Its own log file: the harness does not read a child's stdout.
            .arg("--logfile")
            .arg(self.dir.path().join("redis.log"));
        let process = start_process(command);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                self.process = Some(process);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "redis-server did not start (deploy/install-missing.sh redis-server installs it); logs:\n{}",
            process.logs()
        );
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` from `stream`: status, head, body.
/// `None` when the connection closes first.
pub async fn read_response(stream: &mut tokio::net::TcpStream) -> Option<(u16, String, String)> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).into_owned();
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                let status = head.split(' ').nth(1)?.parse().ok()?;
                let body = String::from_utf8_lossy(&received[end + 4..end + 4 + length]);
                return Some((status, head, body.into_owned()));
            }
        }
        match tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(stream, &mut buffer),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => return None,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => panic!(
                "no complete response within 5 s: {:?}",
                String::from_utf8_lossy(&received)
            ),
        }
    }
}

/// The Okta Event Hook secret tests give both the fake org and the proxy.
pub const TEST_EVENT_HOOK_SECRET: &str = "test-okta-event-hook-secret-0123456789abcdef";

impl FakeOkta {
    /// Starts `fake-okta` with its OIDC provider (as [`FakeOkta::start_oidc`]) and an Okta
    /// Event Hook POSTing the org's changes to `hook_url` with [`TEST_EVENT_HOOK_SECRET`].
    pub fn start_oidc_with_event_hook(redirect_uri: &str, hook_url: &str) -> Self {
        Self::start(&[
            "--client-id",
            TEST_CLIENT_ID,
            "--client-secret",
            TEST_CLIENT_SECRET,
            "--redirect-uri",
            redirect_uri,
            "--event-hook-url",
            hook_url,
            "--event-hook-secret",
            TEST_EVENT_HOOK_SECRET,
        ])
    }

    /// What the org's Event Hook did so far (`GET /__fake/event-hook`).
    pub async fn event_hook(&self) -> Value {
        http_client()
            .get(format!("{}/__fake/event-hook", self.url))
            .send()
            .await
            .expect("event hook status")
            .json()
            .await
            .expect("event hook status JSON")
    }

    /// Waits until the org's Event Hook is verified (the service answered the challenge).
    pub async fn wait_event_hook_verified(&self) {
        for _ in 0..400 {
            if self.event_hook().await["verified"] == true {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "the event hook was never verified: {}",
            self.event_hook().await
        );
    }

    /// `POST /__fake/users/{user}/lifecycle/{operation}` (what an admin does at Okta).
    pub async fn lifecycle(&self, user: &str, operation: &str) {
        let response = http_client()
            .post(format!(
                "{}/__fake/users/{user}/lifecycle/{operation}",
                self.url
            ))
            .send()
            .await
            .expect("lifecycle");
        assert!(
            response.status().is_success(),
            "{operation} {user}: {}",
            response.status()
        );
    }

    /// Adds (`true`) or removes `user` to or from `group` (`PUT|DELETE /__fake/groups/…`).
    pub async fn membership(&self, group: &str, user: &str, member: bool) {
        let url = format!("{}/__fake/groups/{group}/users/{user}", self.url);
        let request = if member {
            http_client().put(url)
        } else {
            http_client().delete(url)
        };
        let response = request.send().await.expect("membership");
        assert!(response.status().is_success(), "{}", response.status());
    }
}

impl Stack {
    /// Starts all three with the org's Event Hook pointed at the proxy's `/hooks/okta` and the
    /// proxy accepting it (`OKTA_EVENT_HOOK_SECRET`); returns once the hook is verified.
    pub async fn start_with_event_hook(proxy_env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let public_url = format!("http://127.0.0.1:{port}");
        let okta = FakeOkta::start_oidc_with_event_hook(
            &format!("{public_url}/oauth/callback"),
            &format!("{public_url}/hooks/okta"),
        );
        let tool_server = ToolServer::start(&okta, &[]).await;
        let mut env = vec![("OKTA_EVENT_HOOK_SECRET", TEST_EVENT_HOOK_SECRET)];
        env.extend_from_slice(proxy_env);
        let proxy = Proxy::start(&okta, port, &tool_server.mcp_url, &env).await;
        okta.wait_event_hook_verified().await;
        Self {
            okta,
            tool_server,
            proxy,
        }
    }
}

impl Proxy {
    /// Starts `okta-mcp-proxy` like [`Proxy::start`] but returns at once, without waiting for
    /// readiness: for settings that stop it at start-up or keep it from becoming ready.
    pub fn spawn_unready(
        okta: &FakeOkta,
        port: u16,
        upstream_mcp_url: &str,
        proxy_env: &[(&str, &str)],
    ) -> Process {
        let env: Vec<(String, String)> = proxy_env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::spawn(&okta.url, upstream_mcp_url, port, &env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_bindable_and_outside_the_ephemeral_range() {
        let (low, high) = ports_below_ephemeral();
        let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        for port in ports {
            assert!((low..high).contains(&port), "{port} not in {low}..{high}");
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
        }
        // What the kernel gives for port 0 is never among them.
        let ephemeral = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        assert!(!(low..high).contains(&ephemeral), "{ephemeral}");
    }
}
