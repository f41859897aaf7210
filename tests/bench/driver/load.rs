//! Driving load with wrk: the request file its Lua script reads, the run, and its numbers.
//!
//! Requests straight to the tool server (or through bare pingora) carry identity headers the
//! driver signs, and the tool server takes each header once (single-use nonce) and only while
//! its clock is within `MAX_SKEW_SECS` of the header's `t`. wrk cannot sign, so every run gets
//! its own file of signed requests, written just before it starts: all stamped with the middle
//! of the time they will be in use, and more of them than the run can send, since wrk starting
//! over at the top would replay used nonces (counted as `wraps`, and errors).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use okta_mcp_tool_server::identity::{Identity, IdentityKey, MAX_SKEW_SECS};
use serde::{Deserialize, Serialize};

use crate::mcp::{PROTOCOL_VERSION, identity_headers};
use crate::report::Spread;
use crate::stack::workspace_root;

/// Prebuilt requests of a bearer-token run; wrk goes round them, which is harmless as nothing
/// in them is single-use, so a bearer run may be as long as wanted.
const BEARER_REQUESTS: usize = 4_096;
/// Estimated time from signing a run's requests to wrk sending the first of them, per request:
/// the driver signs and writes each (about 1 µs), then wrk's threads each read the whole file
/// before its clock starts (about 8 µs per request in all, on the 2-core machine).
const PREPARE_PER_REQUEST_US: f64 = 9.0;
/// How far the real preparation time may miss that estimate, in seconds, with every request of
/// the run still inside the identity window.
const PREPARE_TOLERANCE_SECS: f64 = 2.0;

/// Seconds since the epoch, with fractions.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The longest run with single-use identity headers: signed at once, stamped with the middle
/// of the run, they stay within `MAX_SKEW_SECS` of the tool server's clock for this long
/// (less the preparation's tolerance and `t`'s rounding to whole seconds).
pub fn max_single_use_run() -> Duration {
    let half = MAX_SKEW_SECS as f64 - PREPARE_TOLERANCE_SECS - 0.5;
    Duration::from_secs_f64((2.0 * half).max(0.0))
}

/// Fails unless a run of `duration` with single-use identity headers fits the window.
pub fn check_fits_identity_window(duration: Duration) -> anyhow::Result<()> {
    let max = max_single_use_run();
    if duration > max {
        bail!(
            "a {} s run straight to the tool server does not fit its identity window: headers \
             signed before the run are accepted only within ±{MAX_SKEW_SECS} s of their t, \
             so such a run may last at most {:.0} s; shorten it or split it into several runs",
            duration.as_secs_f64(),
            max.as_secs_f64()
        );
    }
    Ok(())
}

/// How the requests of one wrk run authenticate.
pub enum Auth<'a> {
    /// A fresh signed identity per request (straight to the tool server or via bare pingora).
    Signed(&'a IdentityKey, &'a Identity),
    /// The same bearer token on every request (through our proxy).
    Bearer(&'a str),
}

impl Auth<'_> {
    /// Whether each request may be sent only once (signed identity headers).
    pub fn single_use(&self) -> bool {
        matches!(self, Auth::Signed(..))
    }
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
    /// Times wrk ran out of prebuilt requests and started over.
    pub wraps: u64,
    #[serde(default)]
    pub first_bad: Option<String>,
    /// Each request may be sent once (signed identity headers): starting over is an error.
    #[serde(default)]
    pub single_use: bool,
    /// Requests written to the file wrk read.
    #[serde(default)]
    pub prebuilt: usize,
    /// Seconds from signing to starting wrk (writing the file).
    #[serde(default)]
    pub prepare_s: f64,
    /// Single-use runs: how far before the headers' `t` wrk started and how far after it wrk
    /// ended, in seconds; both must be within `MAX_SKEW_SECS` (bounds: wrk's first request
    /// comes after its start, the last before its end).
    #[serde(default)]
    pub identity_skew_s: Option<[f64; 2]>,
}

impl WrkStats {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    /// Several runs as one: counts and lengths summed, the mean weighted by requests, the
    /// percentiles the median of the runs' (wrk gives no histogram to merge), the maximum the
    /// largest, the identity skews the widest.
    pub fn merged(runs: &[WrkStats]) -> WrkStats {
        let sum = |field: fn(&WrkStats) -> u64| runs.iter().map(field).sum::<u64>();
        // Whole µs, as wrk gives them (an even count's middle two averaged, rounded down).
        let median = |field: fn(&WrkStats) -> u64| {
            Spread::of(runs.iter().map(|r| field(r) as f64)).median as u64
        };
        let requests = sum(|r| r.requests);
        let skews = runs.iter().filter_map(|r| r.identity_skew_s);
        WrkStats {
            requests,
            duration_us: sum(|r| r.duration_us),
            bytes: sum(|r| r.bytes),
            connect_errors: sum(|r| r.connect_errors),
            read_errors: sum(|r| r.read_errors),
            write_errors: sum(|r| r.write_errors),
            status_errors: sum(|r| r.status_errors),
            timeouts: sum(|r| r.timeouts),
            mean_us: runs
                .iter()
                .map(|r| r.mean_us * r.requests as f64)
                .sum::<f64>()
                / requests.max(1) as f64,
            p50_us: median(|r| r.p50_us),
            p90_us: median(|r| r.p90_us),
            p99_us: median(|r| r.p99_us),
            max_us: runs.iter().map(|r| r.max_us).max().unwrap_or(0),
            responses: sum(|r| r.responses),
            non2xx: sum(|r| r.non2xx),
            sampled: sum(|r| r.sampled),
            bad_body: sum(|r| r.bad_body),
            wraps: sum(|r| r.wraps),
            first_bad: runs.iter().find_map(|r| r.first_bad.clone()),
            single_use: runs.iter().any(|r| r.single_use),
            prebuilt: runs.iter().map(|r| r.prebuilt).sum(),
            prepare_s: runs.iter().map(|r| r.prepare_s).sum(),
            identity_skew_s: skews.reduce(|a, b| [a[0].max(b[0]), a[1].max(b[1])]),
        }
    }

    /// Every kind of failure: socket errors, timeouts, non-2xx, bad sampled bodies, and, when
    /// requests are single-use, wrk starting over on the prebuilt ones.
    pub fn errors(&self) -> u64 {
        self.connect_errors
            + self.read_errors
            + self.write_errors
            + self.timeouts
            + self.non2xx.max(self.status_errors)
            + self.bad_body
            + if self.single_use { self.wraps } else { 0 }
    }
}

/// Writes the request file for `count` requests of `work` (see `tests/bench/mcp.lua`),
/// identity headers stamped `t`.
fn write_requests(path: &Path, work: &Workload<'_>, count: usize, t: i64) -> anyhow::Result<()> {
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
                let [.., (_, signed)] = identity_headers(key, who, &mcp_path, session, t);
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

/// Runs wrk for `duration` (whole seconds) at `connections`: with `count` prebuilt requests
/// when they are single-use, signed just before; with a few reused ones when not.
pub async fn run(
    work: &Workload<'_>,
    connections: usize,
    duration: Duration,
    count: usize,
    scratch: &Path,
) -> anyhow::Result<WrkStats> {
    let file = scratch.join("requests.tsv");
    let single_use = work.auth.single_use();
    let count = if single_use { count } else { BEARER_REQUESTS };
    let signed_at = unix_now();
    // Every header carries the middle of the time the run's requests are in use.
    let t = if single_use {
        check_fits_identity_window(duration)?;
        let prepare = count as f64 * PREPARE_PER_REQUEST_US / 1e6;
        (signed_at + prepare + duration.as_secs_f64() / 2.0).round() as i64
    } else {
        signed_at as i64
    };
    write_requests(&file, work, count, t)?;
    // Where wrk's threads say they are ready (`mcp.lua`): empty for each run.
    let ready = scratch.join("wrk-ready");
    let _ = std::fs::remove_dir_all(&ready);
    std::fs::create_dir_all(&ready)?;
    let started = unix_now();
    let threads = connections.clamp(1, 2);
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("5s")
        .arg("-s")
        .arg(script())
        .arg(&work.url)
        .arg("--")
        .arg(&file)
        .arg(threads.to_string())
        .arg("200")
        .arg(&ready)
        .output()
        .await
        .context("running wrk (is it installed? tests/bench/run.sh installs it)")?;
    let ended = unix_now();
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
    stats.single_use = single_use;
    stats.prebuilt = count;
    stats.prepare_s = started - signed_at;
    if single_use {
        let skew = [t as f64 - started, ended - t as f64];
        if skew.iter().any(|s| *s > MAX_SKEW_SECS as f64) {
            eprintln!(
                "[bench]   warning: the run went {:.1} s before and {:.1} s after its headers' t \
                 (allowed ±{MAX_SKEW_SECS} s); late or early requests are refused as stale",
                skew[0], skew[1]
            );
        }
        stats.identity_skew_s = Some(skew);
    }
    Ok(stats)
}
