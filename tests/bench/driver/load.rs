//! Driving load with wrk: the request file its Lua script reads, the run, and its numbers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use okta_mcp_tool_server::identity::{Identity, IdentityKey};
use serde::{Deserialize, Serialize};

use crate::mcp::{PROTOCOL_VERSION, identity_headers};
use crate::stack::workspace_root;

/// How the requests of one wrk run authenticate.
pub enum Auth<'a> {
    /// A fresh signed identity per request (straight to the tool server or via bare pingora).
    Signed(&'a IdentityKey, &'a Identity),
    /// The same bearer token on every request (through our proxy).
    Bearer(&'a str),
}

/// What one wrk run sends.
pub struct Workload<'a> {
    pub url: String,
    pub auth: Auth<'a>,
    /// `Mcp-Session-Id`s of the initialized clients the requests rotate through (one per
    /// connection at the highest concurrency); "" for a client the server gave none.
    pub sessions: &'a [String],
    /// The `tools/call` params, as JSON text.
    pub params: &'a str,
}

/// wrk's numbers for one run, plus what the Lua script counted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WrkStats {
    pub requests: u64,
    pub duration_us: u64,
    pub bytes: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub status_errors: u64,
    pub timeouts: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub responses: u64,
    pub non2xx: u64,
    pub sampled: u64,
    pub bad_body: u64,
    pub wraps: u64,
    #[serde(default)]
    pub first_bad: Option<String>,
}

impl WrkStats {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    /// Every kind of failure: socket errors, timeouts, non-2xx, bad sampled bodies, and
    /// requests sent after the prebuilt ones ran out.
    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.timeouts
            + self.non2xx.max(self.status_errors)
            + self.bad_body
            + self.wraps
    }
}

/// Writes the request file for `count` requests of `work` (see `tests/bench/mcp.lua`).
fn write_requests(path: &Path, work: &Workload<'_>, count: usize) -> anyhow::Result<()> {
    let mut out = String::with_capacity(count * 200 + 1024);
    let headers = [
        ("Content-Type", "application/json"),
        ("Accept", "application/json, text/event-stream"),
        ("Mcp-Protocol-Version", PROTOCOL_VERSION),
    ];
    for (name, value) in headers {
        writeln!(out, "H\t{name}\t{value}")?;
    }
    let mcp_path = url::Url::parse(&work.url)?.path().to_owned();
    match work.auth {
        Auth::Bearer(token) => writeln!(out, "H\tAuthorization\tBearer {token}")?,
        Auth::Signed(_, who) => {
            writeln!(out, "H\tX-MCP-Role\t{}", who.role)?;
            writeln!(out, "H\tX-MCP-Subject\t{}", who.subject)?;
            writeln!(out, "H\tX-MCP-Email\t{}", who.email)?;
        }
    }
    writeln!(
        out,
        "B\t{{\"jsonrpc\":\"2.0\",\"id\":\t,\"method\":\"tools/call\",\"params\":{}}}",
        work.params
    )?;
    for i in 0..count {
        let session = &work.sessions[i % work.sessions.len()];
        let identity = match work.auth {
            Auth::Bearer(_) => String::new(),
            Auth::Signed(key, who) => {
                let [.., (_, signed)] = identity_headers(key, who, &mcp_path, session);
                signed
            }
        };
        writeln!(out, "R\t{session}\t{identity}")?;
    }
    std::fs::write(path, out)?;
    Ok(())
}

/// The Lua script next to this driver.
fn script() -> PathBuf {
    workspace_root().join("tests/bench/mcp.lua")
}

/// Runs wrk for `duration` at `connections` with `count` prebuilt requests.
pub async fn run(
    work: &Workload<'_>,
    connections: usize,
    duration: Duration,
    count: usize,
    scratch: &Path,
) -> anyhow::Result<WrkStats> {
    let file = scratch.join("requests.tsv");
    write_requests(&file, work, count)?;
    let threads = connections.clamp(1, 2);
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs()))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(script())
        .arg(&work.url)
        .arg("--")
        .arg(&file)
        .arg(threads.to_string())
        .arg("200")
        .output()
        .await
        .context("running wrk (is it installed? tests/bench/run.sh installs it)")?;
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(json) = stdout.lines().find_map(|l| l.strip_prefix("BENCH_JSON ")) else {
        bail!(
            "wrk printed no result: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let mut stats: WrkStats = serde_json::from_str(json)?;
    stats.first_bad = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_FIRST_BAD "))
        .map(str::to_owned);
    Ok(stats)
}
