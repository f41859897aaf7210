//! The processes under test: release binaries on loopback ports, with their CPU time and memory
//! read from `/proc`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The identity-header key the tool servers and the proxy share in the benchmark.
pub const IDENTITY_KEY: &str = "bench-identity-header-key-0123456789abcdef";
/// The API token the fake org accepts.
pub const API_TOKEN: &str = "bench-api-token-0000000000000000000000";
/// The proxy's OIDC client at the fake org.
pub const CLIENT_ID: &str = "0oa-bench-okta-mcp-proxy";
/// Its secret.
pub const CLIENT_SECRET: &str = "bench-client-secret-0123456789";
/// The proxy's token and cookie key.
pub const SESSION_SECRET: &str = "bench-session-secret-key-0123456789abcdefgh";

/// The workspace root (the binaries run from there so `policies/…` resolve).
pub fn workspace_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    root.canonicalize().unwrap_or(root)
}

/// `target/release` (or `$CARGO_TARGET_DIR/release`).
fn release_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("release")
}

/// A release binary; `example` for the bare pingora proxy. `BENCH_BIN_<NAME>` (e.g.
/// `BENCH_BIN_OKTA_MCP_TOOL_SERVER`) points at another build instead, to compare two.
pub fn release_binary(name: &str) -> anyhow::Result<PathBuf> {
    let variable = format!("BENCH_BIN_{}", name.to_ascii_uppercase().replace('-', "_"));
    if let Some(path) = std::env::var_os(&variable) {
        return Ok(PathBuf::from(path));
    }
    let dir = release_dir();
    let path = if name == "bare-pingora" {
        dir.join("examples").join(name)
    } else {
        dir.join(name)
    };
    if !path.exists() {
        bail!(
            "{} is missing: run tests/bench/run.sh (it builds the release binaries)",
            path.display()
        );
    }
    Ok(path)
}

/// A free loopback port (bound, then released).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A child process, killed when dropped; its stderr goes to a log file.
pub struct Proc {
    pub name: String,
    child: Child,
    /// When `spawn` was called.
    pub started: Instant,
}

/// Clock ticks per second for `/proc/PID/stat` (from `getconf CLK_TCK`, else 100).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

impl Proc {
    /// Starts `command` with stdin closed and stderr (and stdout, unless `pipe_stdout`) in `log`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        pipe_stdout: bool,
    ) -> anyhow::Result<(Self, Option<BufReader<std::process::ChildStdout>>)> {
        let stderr = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let stdout = if pipe_stdout {
            Stdio::piped()
        } else {
            Stdio::from(stderr.try_clone()?)
        };
        command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().map(BufReader::new);
        Ok((
            Self {
                name: name.to_owned(),
                child,
                started,
            },
            stdout,
        ))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds used so far (`/proc/PID/stat` utime + stime).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds(self.pid())
    }

    /// Resident memory in KiB (`VmRSS` of `/proc/PID/status`).
    pub fn rss_kib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

/// User + system CPU seconds process `pid` used so far (`/proc/PID/stat` utime + stime); NaN
/// when it cannot be read.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may contain spaces: state is field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(utime), Some(stime)) => (utime + stime) / clock_ticks(),
        _ => f64::NAN,
    }
}

/// How long a process gets to exit after SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);

impl Drop for Proc {
    /// SIGINT first, SIGKILL after [`STOP_GRACE`]: the servers exit through their own shutdown
    /// (pingora's quick one on SIGINT), so a build instrumented for profile-guided optimization
    /// writes its profile (`deploy/build-release.sh`).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: `kill` reads nothing of ours; the pid is our child's, not yet reaped (it
            // has not exited, per `try_wait`), so it cannot name another process.
            let interrupted = i32::try_from(self.pid())
                .is_ok_and(|pid| unsafe { libc::kill(pid, libc::SIGINT) } == 0);
            let deadline = Instant::now() + STOP_GRACE;
            while interrupted && Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment every binary gets: nothing from the caller's but `PATH`.
fn base_command(binary: &str) -> anyhow::Result<Command> {
    let mut command = Command::new(release_binary(binary)?);
    command
        .current_dir(workspace_root())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LOG_LEVEL", "info");
    Ok(command)
}

/// Polls `url` until it answers 2xx; the time from `since` to that answer.
pub async fn wait_ok(
    http: &reqwest::Client,
    url: &str,
    since: Instant,
    limit: Duration,
) -> anyhow::Result<Duration> {
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return Ok(since.elapsed());
        }
        if since.elapsed() > limit {
            bail!("{url} did not answer 2xx within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Where logs of this run go.
pub struct LogDir(pub PathBuf);

impl LogDir {
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(format!("{name}.log"))
    }
}

/// The fake Okta org with its OIDC provider.
pub struct FakeOkta {
    pub proc: Proc,
    /// e.g. `http://127.0.0.1:40123`
    pub url: String,
    /// Kept open so later output never meets a closed pipe.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl FakeOkta {
    /// Starts it with a rate budget no benchmark reaches, accepting logins back to `redirect_uris`.
    pub fn start(logs: &LogDir, redirect_uris: &[String]) -> anyhow::Result<Self> {
        let mut command = base_command("fake-okta")?;
        command
            .args(["--listen", "127.0.0.1:0", "--api-token", API_TOKEN])
            .args(["--rate-limit-per-minute", "1000000000"])
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
            .args(["--redirect-uri", &redirect_uris.join(",")])
            .env("LOG_LEVEL", "warn")
            .env("RUST_LOG", "warn");
        let (proc, stdout) = Proc::spawn("fake-okta", command, &logs.file("fake-okta"), true)?;
        let mut stdout = stdout.context("fake-okta stdout")?;
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .with_context(|| format!("unexpected first line from fake-okta: {line:?}"))?
            .to_owned();
        Ok(Self {
            proc,
            url,
            _stdout: stdout,
        })
    }

    /// `POST /__fake/<path>` with a JSON body; the answer must be 2xx.
    pub async fn control(
        &self,
        http: &reqwest::Client,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let response = http
            .post(format!("{}/__fake/{path}", self.url))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("POST /__fake/{path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// `GET /__fake/stats`.
    pub async fn stats(&self, http: &reqwest::Client) -> anyhow::Result<serde_json::Value> {
        Ok(http
            .get(format!("{}/__fake/stats", self.url))
            .send()
            .await?
            .json()
            .await?)
    }
}

/// A running `okta-mcp-tool-server serve`.
pub struct ToolServer {
    pub proc: Proc,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// Start to the first 2xx from `/health`.
    pub ready_after: Duration,
}

impl ToolServer {
    /// Starts it against `okta` with extra `args`/`env`, and waits for `/health`.
    pub async fn start(
        http: &reqwest::Client,
        logs: &LogDir,
        name: &str,
        okta: &FakeOkta,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut command = base_command("okta-mcp-tool-server")?;
        command
            .args(["serve", "--listen", &addr])
            .args(args)
            .env("OKTA_ORG_URL", &okta.url)
            .env("OKTA_API_TOKEN", API_TOKEN)
            .env("IDENTITY_HEADER_KEY", IDENTITY_KEY);
        for (k, v) in env {
            command.env(k, v);
        }
        let (proc, _) = Proc::spawn(name, command, &logs.file(name), false)?;
        let ready_after = wait_ok(
            http,
            &format!("http://{addr}/health"),
            proc.started,
            Duration::from_secs(20),
        )
        .await
        .with_context(|| format!("{name} did not start; see {}", logs.file(name).display()))?;
        Ok(Self {
            proc,
            addr,
            ready_after,
        })
    }

    /// `http://ADDR/mcp`
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

/// Where a proxy keeps its state (registered clients, codes, refresh tokens, revocations).
pub enum StateStore<'a> {
    /// The embedded store in a fresh temporary `STATE_DIR` of its own: two proxies on one
    /// folder would collide on its file.
    Embedded,
    /// `STORE_URL`: the Redis every replica shares.
    Redis(&'a RedisServer),
}

/// How to start one proxy.
pub struct ProxySetup<'a> {
    /// Its name in the logs and the CPU columns.
    pub name: &'a str,
    pub port: u16,
    pub store: StateStore<'a>,
    /// The issuer (`PUBLIC_URL`) when it is another replica's; else `http://127.0.0.1:PORT`.
    /// A token is valid only on proxies whose public URL matches its issuer.
    pub public_url: Option<String>,
}

impl<'a> ProxySetup<'a> {
    /// A proxy with the embedded store.
    pub fn embedded(name: &'a str, port: u16) -> Self {
        Self {
            name,
            port,
            store: StateStore::Embedded,
            public_url: None,
        }
    }

    /// A proxy with its state in `redis`.
    pub fn redis(name: &'a str, port: u16, redis: &'a RedisServer) -> Self {
        Self {
            name,
            port,
            store: StateStore::Redis(redis),
            public_url: None,
        }
    }

    /// Another replica of `proxy`: same public URL (as behind a load balancer), own port.
    pub fn replica_of(self, proxy: &Proxy) -> Self {
        Self {
            public_url: Some(proxy.public_url.clone()),
            ..self
        }
    }
}

/// A running `okta-mcp-proxy`.
pub struct Proxy {
    pub proc: Proc,
    /// Its `PUBLIC_URL`, the OAuth issuer (another replica's, for a replica).
    pub public_url: String,
    /// `http://127.0.0.1:PORT`, where this one listens.
    pub base_url: String,
    /// Start to the first 2xx from `/ready`.
    pub ready_after: Duration,
    /// Its `STATE_DIR`, removed after the process is gone (fields drop in order).
    _state_dir: Option<tempfile::TempDir>,
}

impl Proxy {
    /// Starts it as `setup` says in front of `tool_server`, and waits for `/ready`.
    pub async fn start(
        http: &reqwest::Client,
        logs: &LogDir,
        setup: ProxySetup<'_>,
        okta: &FakeOkta,
        tool_server: &ToolServer,
    ) -> anyhow::Result<Self> {
        let name = setup.name;
        let base_url = format!("http://127.0.0.1:{}", setup.port);
        let public_url = setup.public_url.unwrap_or_else(|| base_url.clone());
        let mut command = base_command("okta-mcp-proxy")?;
        command
            .args(["--listen", &format!("127.0.0.1:{}", setup.port)])
            .env("PUBLIC_URL", &public_url)
            .env("TOOL_SERVER_URL", tool_server.mcp_url())
            .env("OKTA_ORG_URL", &okta.url)
            .env("OKTA_CLIENT_ID", CLIENT_ID)
            .env("OKTA_CLIENT_SECRET", CLIENT_SECRET)
            .env("SESSION_SECRET_KEY", SESSION_SECRET)
            .env("IDENTITY_HEADER_KEY", IDENTITY_KEY);
        let state_dir = match setup.store {
            StateStore::Embedded => {
                let dir = tempfile::Builder::new()
                    .prefix(&format!("okta-mcp-bench-{name}-"))
                    .tempdir()
                    .context("creating a STATE_DIR")?;
                command.env("STATE_DIR", dir.path());
                Some(dir)
            }
            StateStore::Redis(redis) => {
                command.env("STORE_URL", redis.url());
                None
            }
        };
        let (proc, _) = Proc::spawn(name, command, &logs.file(name), false)?;
        let ready_after = wait_ok(
            http,
            &format!("{base_url}/ready"),
            proc.started,
            Duration::from_secs(20),
        )
        .await
        .with_context(|| {
            format!(
                "{name} never became ready; see {}",
                logs.file(name).display()
            )
        })?;
        Ok(Self {
            proc,
            public_url,
            base_url,
            ready_after,
            _state_dir: state_dir,
        })
    }

    /// `http://127.0.0.1:PORT/mcp` of this replica.
    pub fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base_url)
    }
}

/// A real `redis-server` on its own loopback port and folder, configured like the replicas
/// overlay (`deploy/k8s/overlays/replicas/redis.conf`: append-only file, fsync every second).
pub struct RedisServer {
    pub proc: Proc,
    pub port: u16,
    /// Its `--dir`, removed after the process is gone.
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one (`deploy/install-missing.sh redis-server` installs it) and waits until it
    /// accepts connections. Its log goes to the log folder.
    pub async fn start(logs: &LogDir) -> anyhow::Result<Self> {
        let port = free_port()?;
        let dir = tempfile::Builder::new()
            .prefix("okta-mcp-bench-redis-")
            .tempdir()
            .context("creating redis-server's folder")?;
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
            ])
            .arg("--dir")
            .arg(dir.path())
            // "" is stdout, which Proc writes to the log file.
            .args(["--logfile", ""]);
        let name = "redis-server";
        let (proc, _) = Proc::spawn(name, command, &logs.file(name), false).context(
            "starting redis-server (tests/bench/run.sh installs it with deploy/install-missing.sh)",
        )?;
        let since = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if since.elapsed() > Duration::from_secs(10) {
                bail!(
                    "redis-server did not accept connections within 10 s; see {}",
                    logs.file(name).display()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Self {
            proc,
            port,
            _dir: dir,
        })
    }

    /// `redis://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// The bare pingora proxy (no auth logic) in front of a tool server.
pub struct BarePingora {
    pub proc: Proc,
    /// `127.0.0.1:PORT`
    pub addr: String,
}

impl BarePingora {
    /// Starts it in front of `tool_server` with the proxy's default thread count (2), as
    /// process `name` (its log's name too: "bare-pingora", or another for a second one).
    pub async fn start(
        http: &reqwest::Client,
        logs: &LogDir,
        tool_server: &ToolServer,
        name: &str,
    ) -> anyhow::Result<Self> {
        let addr = format!("127.0.0.1:{}", free_port()?);
        let mut command = base_command("bare-pingora")?;
        command.args([&addr, &tool_server.addr, "2"]);
        let (proc, _) = Proc::spawn(name, command, &logs.file(name), false)?;
        // The tool server's /health, through the bare proxy.
        wait_ok(
            http,
            &format!("http://{addr}/health"),
            proc.started,
            Duration::from_secs(20),
        )
        .await?;
        Ok(Self { proc, addr })
    }

    /// `http://ADDR/mcp`
    pub fn mcp_url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starts `script` under `sh`, logging to a temporary file; the process, once it started.
    fn started(script: &str, log: &Path) -> Proc {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        let (proc, _) = Proc::spawn("sh", command, log, false).unwrap();
        // Until the shell has set its traps (it says so in the log).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains("ready")
        {
            assert!(Instant::now() < deadline, "the shell did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        proc
    }

    #[test]
    fn a_dropped_process_gets_sigint_and_may_finish_its_exit() {
        let dir = std::env::temp_dir().join(format!("bench-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("interrupted.log");
        let marker = dir.join("exited-cleanly");
        let _ = std::fs::remove_file(&marker);
        // On SIGINT it writes the marker (as an instrumented binary writes its profile), then
        // exits.
        let script = format!(
            "trap 'touch {}; exit 0' INT; echo ready; while :; do sleep 0.05; done",
            marker.display()
        );
        let proc = started(&script, &log);
        let since = Instant::now();
        drop(proc);
        assert!(
            marker.exists(),
            "the process did not run its SIGINT handler"
        );
        assert!(since.elapsed() < STOP_GRACE, "{:?}", since.elapsed());

        // One that ignores SIGINT is killed once the grace is over.
        let log = dir.join("stubborn.log");
        let proc = started(
            "trap '' INT; echo ready; while :; do sleep 0.05; done",
            &log,
        );
        let pid = proc.pid();
        let since = Instant::now();
        drop(proc);
        assert!(since.elapsed() >= STOP_GRACE, "{:?}", since.elapsed());
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{pid} still runs"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
