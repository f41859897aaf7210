//! Scenario 7: load through the proxy (embedded store) for minutes, with the memory of both
//! binaries sampled as it goes: a leak shows as RSS that keeps growing after the first
//! interval, which a 5 s run cannot show.
//!
//! The load is one wrk run per interval, back to back, so each interval has its own rate,
//! latency, errors and CPU; RSS is read under load, just before the interval ends. Through
//! the proxy every request carries a bearer token, so wrk can reuse its few prebuilt requests
//! for as long as wanted. Straight to the tool server each request needs a fresh signed
//! header, good for only ±`MAX_SKEW_SECS`: the driver would have to sign a new file every
//! interval while the load runs, on the same two cores, so that variant is not run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::load::{self, Auth, Workload};
use crate::mcp::Credential;
use crate::report::{RssTrend, Spread, Sustained, SustainedSample, flat_rule};
use crate::stack::{FakeOkta, Proxy, ProxySetup, ToolServer};
use crate::{Bench, CURRENT_TIME, LOAD_CLIENTS, cpu_used, login, open_sessions, rss};

/// The length of one interval (one wrk run, one memory sample).
const INTERVAL: Duration = Duration::from_secs(10);
/// How long before an interval ends its RSS is read, while wrk still sends.
const SAMPLE_BEFORE_END: Duration = Duration::from_millis(500);
/// Connections, as at scenario 1's middle level.
const CONCURRENCY: usize = 16;
/// A new access token (refresh-token grant) this often: the proxy's last 15 minutes.
const REFRESH_EVERY: Duration = Duration::from_secs(300);

/// Runs scenario 7 for `bench.plan.sustained` against a proxy and tool server of its own,
/// started fresh so the earlier scenarios leave nothing in their memory.
pub async fn run(bench: &Bench, okta: &FakeOkta, port: u16) -> anyhow::Result<Sustained> {
    let length = Duration::from_secs(bench.plan.sustained.as_secs().max(1));
    let tool = ToolServer::start(
        &bench.http,
        &bench.logs,
        "sustained-tool-server",
        okta,
        &[],
        &[],
    )
    .await?;
    let setup = ProxySetup::embedded("sustained-proxy", port);
    let proxy = Proxy::start(&bench.http, &bench.logs, setup, okta, &tool).await?;
    let mut login = login::log_in(&proxy.mcp_url()).await?;
    let mut token = login.access_token.clone();
    let mut token_at = Instant::now();
    let credential = Credential::Bearer(token.clone());
    let sessions = open_sessions(bench, &proxy.mcp_url(), &credential, LOAD_CLIENTS).await?;
    // Named by role, as the report's columns are.
    let cpu = || {
        BTreeMap::from([
            ("proxy".to_owned(), proxy.proc.cpu_seconds()),
            ("tool-server".to_owned(), tool.proc.cpu_seconds()),
        ])
    };
    let before = rss(&proxy.proc, &tool.proc);
    eprintln!(
        "[bench]   {} s at c={CONCURRENCY} through the proxy; RSS before: proxy {} KiB, tool server {} KiB",
        length.as_secs(),
        before.proxy_kib,
        before.tool_server_kib
    );

    let started = Instant::now();
    let cpu_start = cpu();
    let mut samples = Vec::new();
    let mut requests = 0;
    let mut left = length;
    while !left.is_zero() {
        if token_at.elapsed() >= REFRESH_EVERY {
            token = login.refresh(&bench.http).await?;
            token_at = Instant::now();
        }
        let interval = left.min(INTERVAL);
        left -= interval;
        let work = Workload {
            url: proxy.mcp_url(),
            auth: Auth::Bearer(&token),
            sessions: &sessions,
            params: CURRENT_TIME,
        };
        let cpu_before = cpu();
        let (stats, memory) = tokio::join!(
            load::run(&work, CONCURRENCY, interval, 0, &bench.scratch),
            async {
                tokio::time::sleep(interval.saturating_sub(SAMPLE_BEFORE_END)).await;
                rss(&proxy.proc, &tool.proc)
            }
        );
        let stats = stats?;
        let (cpu_s, _) = cpu_used(&cpu_before, &cpu(), stats.requests);
        requests += stats.requests;
        let sample = SustainedSample {
            at_s: started.elapsed().as_secs_f64(),
            duration_s: stats.duration_us as f64 / 1e6,
            requests_per_s: stats.rps(),
            p50_ms: stats.p50_us as f64 / 1e3,
            p99_ms: stats.p99_us as f64 / 1e3,
            errors: stats.errors(),
            rss: memory,
            cpu_s,
        };
        eprintln!(
            "[bench]   {:>5.0} s: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, errors {}; RSS proxy {} KiB, tool server {} KiB",
            sample.at_s,
            sample.requests_per_s,
            sample.p50_ms,
            sample.p99_ms,
            sample.errors,
            memory.proxy_kib,
            memory.tool_server_kib
        );
        if let Some(bad) = &stats.first_bad {
            eprintln!("[bench]   first bad answer: {bad}");
        }
        samples.push(sample);
    }
    let (cpu_s, cpu_us_per_request) = cpu_used(&cpu_start, &cpu(), requests);
    let trend = |kib: fn(&SustainedSample) -> u64| {
        RssTrend::of(&samples.iter().map(|s| (s.at_s, kib(s))).collect::<Vec<_>>())
    };
    Ok(Sustained {
        what: "get_current_time → proxy (bearer token, embedded store) → tool server".into(),
        concurrency: CONCURRENCY,
        planned_s: length.as_secs(),
        interval_s: INTERVAL.as_secs(),
        before,
        requests,
        errors: samples.iter().map(|s| s.errors).sum(),
        requests_per_s: Spread::of(samples.iter().map(|s| s.requests_per_s)),
        p50_ms: Spread::of(samples.iter().map(|s| s.p50_ms)),
        p99_ms: Spread::of(samples.iter().map(|s| s.p99_ms)),
        cpu_s,
        cpu_us_per_request,
        proxy: trend(|s| s.rss.proxy_kib),
        tool_server: trend(|s| s.rss.tool_server_kib),
        flat_rule: flat_rule(),
        samples,
    })
}
