//! What one run measured (written as JSON) and the Markdown table printed from it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub use crate::alternate::Round as AlternatingRound;
pub use crate::alternate_load::Round as AlternatingLoadRound;
use crate::load::WrkStats;

/// The machine the run used.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu_model: String,
    pub mem_total_mib: u64,
    pub kernel: String,
    pub load_average_start: String,
    pub load_average_end: String,
    /// What an idle vCPU does (cpuidle driver, haltpoll's poll time); "" if the kernel does
    /// not say. See `idle.rs`.
    pub cpu_idle: String,
}

impl Machine {
    /// Reads `/proc` (load average at the end is filled in later).
    pub fn probe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
                .unwrap_or_default(),
            mem_total_mib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kib| kib / 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            load_average_start: load_average(),
            load_average_end: String::new(),
            cpu_idle: crate::idle::describe(),
        }
    }

    /// `cpu_idle` after `separator` (e.g. "; idle CPUs: cpuidle haltpoll, …"), or "" when the
    /// kernel did not say.
    pub fn idle_note(&self, separator: &str) -> String {
        if self.cpu_idle.is_empty() {
            String::new()
        } else {
            format!("{separator}{}", self.cpu_idle)
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One measured wrk run: its numbers and the CPU seconds each process used during it.
pub struct Slice {
    pub stats: WrkStats,
    pub cpu_s: BTreeMap<String, f64>,
    /// Tries thrown away because wrk ran out of single-use requests.
    pub discarded: Vec<WrkStats>,
}

/// One measured wrk run, or a round's slices of one target taken together.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRow {
    pub scenario: String,
    pub what: String,
    pub concurrency: usize,
    /// Which of the interleaved rounds (scenarios 1a–1d); none for a single run.
    pub round: Option<usize>,
    pub okta_latency_ms: Option<u64>,
    pub duration_s: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// CPU seconds each process used during the run (`/proc/PID/stat` utime + stime).
    pub cpu_s: BTreeMap<String, f64>,
    /// The same per request, in microseconds.
    pub cpu_us_per_request: BTreeMap<String, f64>,
    /// wrk's numbers, of the slices together (`WrkStats::merged`).
    pub wrk: WrkStats,
    /// Each slice's wrk numbers, in the order they ran (one for a single run).
    pub slices: Vec<WrkStats>,
    /// Runs thrown away because wrk ran out of single-use requests (this run replaced them).
    pub discarded: Vec<WrkStats>,
}

impl LoadRow {
    /// The row of one target's measured runs: requests, time, errors and CPU summed over
    /// them, so requests/s and CPU per request are those of all of them together; p50 and p99
    /// the median of theirs.
    pub fn of_slices(
        scenario: &str,
        what: &str,
        concurrency: usize,
        round: Option<usize>,
        okta_latency_ms: Option<u64>,
        slices: Vec<Slice>,
    ) -> Self {
        let stats: Vec<WrkStats> = slices.iter().map(|s| s.stats.clone()).collect();
        let wrk = WrkStats::merged(&stats);
        let mut cpu_s: BTreeMap<String, f64> = BTreeMap::new();
        for slice in &slices {
            for (name, seconds) in &slice.cpu_s {
                *cpu_s.entry(name.clone()).or_default() += seconds;
            }
        }
        let cpu_us_per_request = per_request(&cpu_s, wrk.requests);
        LoadRow {
            scenario: scenario.into(),
            what: what.into(),
            concurrency,
            round,
            okta_latency_ms,
            duration_s: wrk.duration_us as f64 / 1e6,
            requests_per_s: wrk.rps(),
            p50_ms: wrk.p50_us as f64 / 1e3,
            p99_ms: wrk.p99_us as f64 / 1e3,
            errors: stats.iter().map(WrkStats::errors).sum(),
            cpu_s,
            cpu_us_per_request,
            discarded: slices.into_iter().flat_map(|s| s.discarded).collect(),
            wrk,
            slices: stats,
        }
    }
}

/// CPU seconds per process as microseconds per request.
pub fn per_request(cpu_s: &BTreeMap<String, f64>, requests: u64) -> BTreeMap<String, f64> {
    cpu_s
        .iter()
        .map(|(name, s)| (name.clone(), s * 1e6 / requests.max(1) as f64))
        .collect()
}

/// The median and range of one number over several runs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// Over `values` (the median of an even count is the mean of the middle two).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut sorted: Vec<f64> = values.into_iter().collect();
        if sorted.is_empty() {
            return Self::default();
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        Self {
            median: (sorted[(n - 1) / 2] + sorted[n / 2]) / 2.0,
            min: sorted[0],
            max: sorted[n - 1],
        }
    }

    pub fn show(&self, decimals: usize) -> String {
        format!(
            "{:.*} ({:.*}–{:.*})",
            decimals, self.median, decimals, self.min, decimals, self.max
        )
    }
}

/// Runs a comparison needs before a target is judged on it.
pub const MIN_RUNS: usize = 3;

/// The interleaved rounds of one scenario at one concurrency (every run is in `load`).
#[derive(Debug, Clone, Serialize)]
pub struct LoadRounds {
    pub scenario: String,
    pub what: String,
    pub concurrency: usize,
    pub runs: usize,
    /// Rounds whose run had errors: left out of the numbers below, and no target is judged.
    pub rounds_with_errors: Vec<usize>,
    /// Rounds run again because wrk ran out of single-use requests (the first try is in
    /// `load[].discarded`).
    pub rerun_rounds: Vec<usize>,
    /// Median of the runs without errors.
    pub duration_s: f64,
    pub requests_per_s: Spread,
    pub p50_ms: Spread,
    pub p99_ms: Spread,
    /// Over all runs.
    pub errors: u64,
    /// Median over the runs without errors.
    pub cpu_s: BTreeMap<String, f64>,
    pub cpu_us_per_request: BTreeMap<String, Spread>,
}

impl LoadRounds {
    /// Runs without errors.
    pub fn clean_runs(&self) -> usize {
        self.runs - self.rounds_with_errors.len()
    }
}

/// Groups the runs that have a round by scenario and concurrency, in the order they appear.
pub fn rounds(load: &[LoadRow]) -> Vec<LoadRounds> {
    let mut keys: Vec<(&str, usize)> = Vec::new();
    for row in load.iter().filter(|r| r.round.is_some()) {
        if !keys.contains(&(row.scenario.as_str(), row.concurrency)) {
            keys.push((row.scenario.as_str(), row.concurrency));
        }
    }
    keys.into_iter()
        .map(|(scenario, concurrency)| {
            let runs: Vec<&LoadRow> = load
                .iter()
                .filter(|r| {
                    r.round.is_some() && r.scenario == scenario && r.concurrency == concurrency
                })
                .collect();
            let clean: Vec<&LoadRow> = runs.iter().copied().filter(|r| r.errors == 0).collect();
            let spread_of = |map: fn(&LoadRow) -> &BTreeMap<String, f64>| {
                map(runs[0])
                    .keys()
                    .map(|name| {
                        let values = clean.iter().filter_map(|r| map(r).get(name).copied());
                        (name.clone(), Spread::of(values))
                    })
                    .collect::<BTreeMap<_, _>>()
            };
            LoadRounds {
                scenario: scenario.to_owned(),
                what: runs[0].what.clone(),
                concurrency,
                runs: runs.len(),
                rounds_with_errors: runs
                    .iter()
                    .filter(|r| r.errors > 0)
                    .filter_map(|r| r.round)
                    .collect(),
                rerun_rounds: runs
                    .iter()
                    .filter(|r| !r.discarded.is_empty())
                    .filter_map(|r| r.round)
                    .collect(),
                duration_s: Spread::of(clean.iter().map(|r| r.duration_s)).median,
                requests_per_s: Spread::of(clean.iter().map(|r| r.requests_per_s)),
                p50_ms: Spread::of(clean.iter().map(|r| r.p50_ms)),
                p99_ms: Spread::of(clean.iter().map(|r| r.p99_ms)),
                errors: runs.iter().map(|r| r.errors).sum(),
                cpu_s: spread_of(|r| &r.cpu_s)
                    .into_iter()
                    .map(|(name, s)| (name, s.median))
                    .collect(),
                cpu_us_per_request: spread_of(|r| &r.cpu_us_per_request),
            }
        })
        .collect()
}

/// Scenario 6: a revocation on replica A, seen by replica B (both on one Redis).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Revocation {
    pub samples: usize,
    /// From sending `POST /revoke` to A until B's `/mcp` first answered 401, per sample; a
    /// sample B never refused within the poll limit is missing here and counted in `not_seen`.
    pub delays_ms: Vec<f64>,
    pub median_ms: f64,
    pub max_ms: f64,
    pub not_seen: usize,
    /// How long B was polled at most per sample.
    pub poll_limit_ms: f64,
    /// `/mcp` requests to B while waiting, over all samples.
    pub polls: u64,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Millis {
    pub p50: f64,
    pub p99: f64,
    pub mean: f64,
    pub max: f64,
}

impl Millis {
    /// From samples in milliseconds.
    pub fn of(samples: &mut [f64]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        Self {
            p50: at(0.5),
            p99: at(0.99),
            mean: samples.iter().sum::<f64>() / samples.len() as f64,
            max: samples[samples.len() - 1],
        }
    }
}

/// Resident memory of the proxy and the tool server, in KiB.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rss {
    pub proxy_kib: u64,
    pub tool_server_kib: u64,
}

impl Rss {
    fn total(&self) -> u64 {
        self.proxy_kib + self.tool_server_kib
    }
}

/// One interval of scenario 7.
#[derive(Debug, Clone, Serialize)]
pub struct SustainedSample {
    /// Seconds from the start of the load to the end of this interval.
    pub at_s: f64,
    pub duration_s: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// Taken under load, shortly before the interval ended.
    pub rss: Rss,
    /// CPU seconds of each process during the interval.
    pub cpu_s: BTreeMap<String, f64>,
}

/// Memory may grow this share of its value after the first interval, or `FLAT_SLACK_KIB`
/// if more, and still count as flat.
pub const FLAT_SLACK_SHARE: f64 = 0.10;
/// 8 MiB: allocator and socket-buffer noise of a small process.
pub const FLAT_SLACK_KIB: u64 = 8 * 1024;

/// The rule `RssTrend::flat` applies, in words.
pub fn flat_rule() -> String {
    format!(
        "RSS at the end ≤ RSS after the first interval + max({:.0}%, {} MiB)",
        FLAT_SLACK_SHARE * 100.0,
        FLAT_SLACK_KIB / 1024
    )
}

/// How one binary's memory went under sustained load.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RssTrend {
    /// After the first interval.
    pub first_kib: u64,
    pub end_kib: u64,
    pub max_kib: u64,
    /// Least-squares slope over all samples, KiB per minute.
    pub growth_kib_per_min: f64,
    /// By `flat_rule`.
    pub flat: bool,
}

impl RssTrend {
    /// From `(seconds, KiB)` samples in time order.
    pub fn of(samples: &[(f64, u64)]) -> Self {
        let (Some(first), Some(end)) = (samples.first(), samples.last()) else {
            return Self::default();
        };
        let n = samples.len() as f64;
        let mean_t = samples.iter().map(|(t, _)| t).sum::<f64>() / n;
        let mean_k = samples.iter().map(|(_, k)| *k as f64).sum::<f64>() / n;
        let (mut num, mut den) = (0.0, 0.0);
        for (t, k) in samples {
            num += (t - mean_t) * (*k as f64 - mean_k);
            den += (t - mean_t) * (t - mean_t);
        }
        let slack = ((first.1 as f64 * FLAT_SLACK_SHARE) as u64).max(FLAT_SLACK_KIB);
        Self {
            first_kib: first.1,
            end_kib: end.1,
            max_kib: samples.iter().map(|(_, k)| *k).max().unwrap_or(0),
            growth_kib_per_min: if den > 0.0 { num / den * 60.0 } else { 0.0 },
            flat: end.1 <= first.1 + slack,
        }
    }
}

/// Scenario 7: load through the proxy for minutes, memory sampled as it goes.
#[derive(Debug, Clone, Serialize)]
pub struct Sustained {
    pub what: String,
    pub concurrency: usize,
    /// Asked for (`--sustained-secs`), and the length of each interval (one wrk run each).
    pub planned_s: u64,
    pub interval_s: u64,
    /// RSS after login and opening the MCP clients, before the load.
    pub before: Rss,
    pub samples: Vec<SustainedSample>,
    pub requests: u64,
    pub errors: u64,
    /// Over the intervals.
    pub requests_per_s: Spread,
    pub p50_ms: Spread,
    pub p99_ms: Spread,
    /// Of the whole load, per process.
    pub cpu_s: BTreeMap<String, f64>,
    pub cpu_us_per_request: BTreeMap<String, f64>,
    pub proxy: RssTrend,
    pub tool_server: RssTrend,
    pub flat_rule: String,
}

/// How this run was set up (its flags), so its numbers can be read in context.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub quick: bool,
    /// Scenarios asked for with `--only` (empty: all).
    pub only: Vec<String>,
    pub run_s: u64,
    pub warmup_s: u64,
    pub rounds: usize,
    /// Scenario 1: slices per target and round, and their length.
    pub slices: usize,
    pub slice_s: u64,
    /// Scenario 1's concurrencies.
    pub concurrency: Vec<usize>,
    pub sustained_s: u64,
    /// The tool server's identity window (±, seconds) and the longest single-use run it allows.
    pub identity_max_skew_s: i64,
    pub max_single_use_run_s: f64,
}

/// Scenario 3: memory per MCP client.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientCost {
    pub clients: usize,
    pub idle: Rss,
    /// After the first client initialized and called once.
    pub after_login: Rss,
    /// After `clients` more initialized and called once each (all still in use).
    pub open: Rss,
    /// After each of them called once more.
    pub called_again: Rss,
    /// After as many clients again (memory the first ones used is reused).
    pub more_clients: Rss,
    /// (open − after login) / clients, in bytes.
    pub per_client_bytes_proxy: f64,
    pub per_client_bytes_tool_server: f64,
    /// How many clients got an `Mcp-Session-Id` (0 when no MCP session state is kept).
    pub session_ids: u64,
    /// initialize + initialized through the proxy, one client after another.
    pub open_ms: Millis,
    pub open_errors: u64,
    pub call_errors: u64,
}

/// One listing of scenario 4.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub what: String,
    pub okta_concurrent_limit: usize,
    /// MCP clients listing at the same time, each paging with `after`.
    pub agents: usize,
    pub items_per_agent: u64,
    pub tool_calls: u64,
    pub okta_calls: u64,
    /// ⌈N / Okta's page size⌉ per agent, times agents.
    pub expected_okta_calls: u64,
    pub okta_max_in_flight: u64,
    pub wall_ms: f64,
    pub errors: u64,
}

/// The rate-budget part of scenario 4.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RateLimited {
    pub budget_per_window: u64,
    pub window_secs: u64,
    pub agents: usize,
    pub tool_calls: u64,
    pub okta_calls: u64,
    /// 429s the fake org answered (the budget was hit).
    pub okta_429s: u64,
    /// Tool results with `isError` (or JSON-RPC errors) the model got: must be 0.
    pub errors_reaching_model: u64,
    pub first_error: Option<String>,
    pub wall_ms: f64,
}

/// Scenario 5: process start to its readiness endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ColdStart {
    pub what: String,
    pub endpoint: String,
    pub runs_ms: Vec<f64>,
    pub median_ms: f64,
    pub max_ms: f64,
}

/// One target of the issue, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: bool,
    /// False when the numbers cannot decide it (too few runs, or runs with errors).
    pub judged: bool,
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub started_at: String,
    pub run_seconds: f64,
    pub load: Vec<LoadRow>,
    pub load_rounds: Vec<LoadRounds>,
    /// The scenarios not run (`--only`, `--sustained-secs 0`) are null or empty.
    pub clients: Option<ClientCost>,
    pub okta: Vec<Listing>,
    pub rate_limited: Option<RateLimited>,
    pub cold_start: Vec<ColdStart>,
    pub revocation: Option<Revocation>,
    pub sustained: Option<Sustained>,
    /// Scenario 1 at c=1 with 1a–1d taking turns (`alternate.rs`); empty unless `--turns-of`
    /// was given and c=1 ran.
    pub alternating: Vec<AlternatingRound>,
    /// Scenario 1 at c=16 and c=64 with 1a–1d taking turns (`alternate_load.rs`); empty
    /// unless either ran.
    pub alternating_load: Vec<AlternatingLoadRound>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn find<'a>(
    rounds: &'a [LoadRounds],
    scenario: &str,
    concurrency: usize,
) -> Option<&'a LoadRounds> {
    rounds
        .iter()
        .find(|r| r.scenario == scenario && r.concurrency == concurrency)
}

/// Round numbers, e.g. "1, 3".
fn list(rounds: &[usize]) -> String {
    rounds
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rounds of `scenario` at `concurrency` if a target may be judged on them (at least
/// `MIN_RUNS` runs, none with errors); else why not.
fn judged<'a>(
    rounds: &'a [LoadRounds],
    scenario: &str,
    concurrency: usize,
) -> Result<&'a LoadRounds, String> {
    let r = find(rounds, scenario, concurrency)
        .ok_or_else(|| format!("{scenario} c={concurrency} was not measured"))?;
    if !r.rounds_with_errors.is_empty() {
        return Err(format!(
            "not judged: {scenario} c={concurrency} had errors in round {}",
            list(&r.rounds_with_errors)
        ));
    }
    if r.runs < MIN_RUNS {
        return Err(format!(
            "not judged: {scenario} c={concurrency} has {} run(s), a target needs ≥ {MIN_RUNS}",
            r.runs
        ));
    }
    Ok(r)
}

/// A number by which a proxy is held against bare pingora, with the bound.
#[derive(Clone, Copy)]
enum Metric {
    /// CPU µs per request of the proxy's process against bare pingora's: at most 3 µs more.
    CpuPerRequest,
    /// Requests/s: at least 95% of bare pingora's.
    RequestsPerS,
    /// p50 latency: at most 10% above bare pingora's.
    P50,
}

impl Metric {
    /// Its spread over the rounds (`process`'s, for CPU).
    fn spread(self, r: &LoadRounds, process: &str) -> Option<Spread> {
        match self {
            Metric::CpuPerRequest => r.cpu_us_per_request.get(process).copied(),
            Metric::RequestsPerS => Some(r.requests_per_s),
            Metric::P50 => Some(r.p50_ms),
        }
    }

    /// Its value in one run.
    fn of_run(self, r: &LoadRow, process: &str) -> Option<f64> {
        match self {
            Metric::CpuPerRequest => r.cpu_us_per_request.get(process).copied(),
            Metric::RequestsPerS => Some(r.requests_per_s),
            Metric::P50 => Some(r.p50_ms),
        }
    }

    /// The proxy's gap to bare pingora: µs more, share of, or fraction above.
    fn gap(self, proxy: f64, bare: f64) -> f64 {
        match self {
            Metric::CpuPerRequest => proxy - bare,
            Metric::RequestsPerS => proxy / bare,
            Metric::P50 => proxy / bare - 1.0,
        }
    }

    /// The worst gap between any proxy run and any bare pingora run, rounds apart or not.
    fn worst(self, proxy: Spread, bare: Spread) -> f64 {
        match self {
            Metric::CpuPerRequest | Metric::P50 => self.gap(proxy.max, bare.min),
            Metric::RequestsPerS => self.gap(proxy.min, bare.max),
        }
    }

    /// The worst of several gaps.
    fn worst_of(self, gaps: &[f64]) -> f64 {
        let pick = match self {
            Metric::CpuPerRequest | Metric::P50 => f64::max,
            Metric::RequestsPerS => f64::min,
        };
        gaps.iter().copied().reduce(pick).unwrap_or(f64::NAN)
    }

    fn met(self, gap: f64) -> bool {
        match self {
            Metric::CpuPerRequest => gap <= 3.0,
            Metric::RequestsPerS => gap >= 0.95,
            Metric::P50 => gap <= 0.10,
        }
    }

    fn show_gap(self, gap: f64) -> String {
        match self {
            Metric::CpuPerRequest => format!("{gap:+.1} µs"),
            Metric::RequestsPerS => format!("{:.1}%", gap * 100.0),
            Metric::P50 => format!("{:+.1}%", gap * 100.0),
        }
    }

    fn show(self, s: Spread) -> String {
        match self {
            Metric::CpuPerRequest => format!("{} µs", s.show(1)),
            Metric::RequestsPerS => format!("{}/s", s.show(0)),
            Metric::P50 => format!("{} ms", s.show(3)),
        }
    }
}

/// The proxy's scenarios, store and process name.
const STORES: [(&str, &str, &str); 2] = [
    ("1b", "embedded store", "proxy"),
    ("1d", "Redis store", "proxy-redis"),
];
/// One part of a target (a concurrency, a store): what was measured, and met, missed, or not
/// judged (`None`).
type Outcome = (String, Option<bool>);

/// Joins the parts of a target: missed if any part missed, else not judged if any part was
/// not, else met.
fn combine(parts: &[Outcome], separator: &str) -> Outcome {
    let measured = parts
        .iter()
        .map(|(m, _)| m.as_str())
        .collect::<Vec<_>>()
        .join(separator);
    let verdict = if parts.iter().any(|(_, v)| *v == Some(false)) {
        Some(false)
    } else if parts.iter().any(|(_, v)| v.is_none()) {
        None
    } else {
        Some(true)
    };
    (measured, verdict)
}

/// Bare pingora's scenario and process name.
pub const BARE: (&str, &str) = ("1c", "bare-pingora");
/// The control of the rounds of turns at c=16 and c=64: a second bare pingora, whose
/// requests/s and CPU against the first's show how far the measurement itself spreads.
pub const CONTROL: (&str, &str) = ("1e", "bare-pingora-control");

/// Seconds as "10 min" or "45 s".
fn span(secs: u64) -> String {
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// The cells of a round of turns for 1a, 1b, 1d and 1c (and the control, with `control`),
/// then the gaps of the proxies (and the control) to bare pingora ("… | … | …", without the
/// outer bars).
fn targets_and_gaps(
    control: bool,
    cell: &dyn Fn(&str) -> String,
    versus: &dyn Fn(&str) -> String,
) -> String {
    let extra = if control { &[CONTROL.0][..] } else { &[] };
    let mut cells: Vec<String> = ["1a", "1b", "1d", "1c"]
        .iter()
        .chain(extra)
        .map(|s| cell(s))
        .collect();
    cells.extend(["1b", "1d"].iter().chain(extra).map(|s| versus(s)));
    cells.join(" | ")
}

/// The gaps of the rounds that have one (no errors), and the numbers of those that do not.
fn split_clean(rounds: impl Iterator<Item = (usize, Option<f64>)>) -> (Vec<f64>, Vec<usize>) {
    let mut gaps = Vec::new();
    let mut with_errors = Vec::new();
    for (round, gap) in rounds {
        match gap {
            Some(gap) => gaps.push(gap),
            None => with_errors.push(round),
        }
    }
    (gaps, with_errors)
}

/// A target judged on rounds of turns: `gaps` holds the proxy's gap to bare pingora in each
/// round without errors (`with_errors` the others). Met if every gap meets `metric`'s bound,
/// on at least `MIN_RUNS` rounds; `head` says what was measured, `control` the gaps of a
/// second bare pingora to the first (shown, not judged; may be empty), `wrk` what the wrk
/// slices read (shown, not judged).
fn judged_on_turns(
    metric: Metric,
    gaps: &[f64],
    with_errors: &[usize],
    head: String,
    control: &[f64],
    wrk: &str,
) -> Outcome {
    let shown: Vec<String> = gaps.iter().map(|g| metric.show_gap(*g)).collect();
    let worst = metric.worst_of(gaps);
    let mut measured = format!(
        "{head}: median {}; round by round {} (worst {})",
        metric.show_gap(Spread::of(gaps.iter().copied()).median),
        shown.join(", "),
        metric.show_gap(worst),
    );
    if !with_errors.is_empty() {
        let _ = write!(measured, "; round {} left out (errors)", list(with_errors));
    }
    if !control.is_empty() {
        let shown: Vec<String> = control.iter().map(|g| metric.show_gap(*g)).collect();
        let _ = write!(
            measured,
            "; a second bare pingora against it (the control, not judged): round by round {}",
            shown.join(", ")
        );
    }
    let _ = write!(measured, "; wrk slices (not judged) {wrk}");
    if gaps.len() < MIN_RUNS {
        let why = format!(
            "not judged: {} round(s) of turns without errors, a target needs ≥ {MIN_RUNS}; ",
            gaps.len()
        );
        return (why + &measured, None);
    }
    (measured, Some(metric.met(worst)))
}

impl Report {
    /// The proxy's run (`scenario`) and bare pingora's of each round at `concurrency`.
    fn by_round(&self, scenario: &str, concurrency: usize) -> Vec<(&LoadRow, &LoadRow)> {
        let run = |scenario: &str, round: usize| {
            self.load.iter().find(|r| {
                r.scenario == scenario && r.concurrency == concurrency && r.round == Some(round)
            })
        };
        (1..)
            .map_while(|round| Some((run(scenario, round)?, run(BARE.0, round)?)))
            .collect()
    }

    /// `metric` of the proxy (`scenario`, `process`) against bare pingora at `concurrency`:
    /// what was measured, and whether the proxy's gap to bare pingora meets the bound in every
    /// round (each round's runs were interleaved slice by slice, so they saw the same machine).
    fn versus(
        &self,
        metric: Metric,
        scenario: &str,
        process: &str,
        concurrency: usize,
    ) -> (String, Option<bool>) {
        let (proxy, bare) = match (
            judged(&self.load_rounds, scenario, concurrency),
            judged(&self.load_rounds, BARE.0, concurrency),
        ) {
            (Ok(proxy), Ok(bare)) => (proxy, bare),
            (proxy, bare) => {
                let why: Vec<String> = [proxy.err(), bare.err()].into_iter().flatten().collect();
                return (format!("c={concurrency}: {}", why.join("; ")), None);
            }
        };
        let (Some(p), Some(b)) = (metric.spread(proxy, process), metric.spread(bare, BARE.1))
        else {
            return (format!("c={concurrency}: no numbers for {process}"), None);
        };
        let gaps: Vec<f64> = self
            .by_round(scenario, concurrency)
            .into_iter()
            .filter_map(|(x, y)| {
                Some(metric.gap(metric.of_run(x, process)?, metric.of_run(y, BARE.1)?))
            })
            .collect();
        if gaps.len() < MIN_RUNS {
            return (
                format!(
                    "c={concurrency}: not judged: {} round(s) with both {scenario} and {}, a \
                     target needs ≥ {MIN_RUNS}",
                    gaps.len(),
                    BARE.0
                ),
                None,
            );
        }
        let worst = metric.worst_of(&gaps);
        let shown: Vec<String> = gaps.iter().map(|gap| metric.show_gap(*gap)).collect();
        (
            format!(
                "c={concurrency}: {} vs {}: median {}; round by round {} (worst {}); worst run \
                 against best, rounds apart: {}",
                metric.show(p),
                metric.show(b),
                metric.show_gap(metric.gap(p.median, b.median)),
                shown.join(", "),
                metric.show_gap(worst),
                metric.show_gap(metric.worst(p, b)),
            ),
            Some(metric.met(worst)),
        )
    }

    /// The p50 target at c=1 for the proxy (`scenario`): met if its p50 is within 10% of bare
    /// pingora's in every round of turns (`alternate.rs`), judged on at least `MIN_RUNS`
    /// rounds without errors. The wrk runs' reading is shown after it, not judged: at c=1 a
    /// single 1 s wrk run's p50 moves by a third from one run to the next.
    fn p50_in_turns(&self, scenario: &str, process: &str) -> Outcome {
        let wrk = self.versus(Metric::P50, scenario, process, 1).0;
        let Some(first) = self.alternating.first() else {
            return (
                format!("not judged: no rounds of turns at c=1; wrk slices (not judged) {wrk}"),
                None,
            );
        };
        let (gaps, with_errors) = self.turn_gaps(scenario);
        let p50 = |s: &str| {
            let p50s = self
                .alternating
                .iter()
                .filter_map(|r| r.of(s))
                .filter(|t| t.errors == 0)
                .map(|t| t.p50_us);
            Spread::of(p50s).show(0)
        };
        let head = format!(
            "c=1, one client taking turns of {} requests ({} not timed): {} vs {} µs",
            first.turn,
            first.warm,
            p50(scenario),
            p50(BARE.0),
        );
        judged_on_turns(Metric::P50, &gaps, &with_errors, head, &[], &wrk)
    }

    /// A target at `concurrency` for the proxy (`scenario`, `process`) against bare pingora, by
    /// `metric` (requests/s or CPU per request): met if every round of turns
    /// (`alternate_load.rs`) meets the bound, judged on at least `MIN_RUNS` rounds without
    /// errors. The wrk slices' reading is shown after it, not judged: one 1 s slice's rate
    /// moves by half from one slice to the next, and each slice's new connections cost bare
    /// pingora and the tool server behind it more than the proxies.
    fn load_in_turns(
        &self,
        metric: Metric,
        scenario: &str,
        process: &str,
        concurrency: usize,
    ) -> Outcome {
        let wrk = self.versus(metric, scenario, process, concurrency).0;
        let rounds: Vec<&AlternatingLoadRound> = self
            .alternating_load
            .iter()
            .filter(|r| r.concurrency == concurrency)
            .collect();
        let Some(first) = rounds.first() else {
            return (
                format!(
                    "c={concurrency}: not judged: no rounds of turns; wrk slices (not judged) {wrk}"
                ),
                None,
            );
        };
        // The value in one round, if that target had no errors in it.
        let value = |r: &AlternatingLoadRound, scenario: &str, process: &str| {
            let t = r.of(scenario).filter(|t| t.errors == 0)?;
            match metric {
                Metric::RequestsPerS => Some(t.per_s()),
                Metric::CpuPerRequest => t.cpu_us_per_request(process),
                Metric::P50 => None,
            }
        };
        // The gap of `scenario` to bare pingora in each round, if neither had errors.
        let gaps_of = |scenario: &str, process: &str| {
            split_clean(rounds.iter().map(|r| {
                let gap = value(r, scenario, process)
                    .zip(value(r, BARE.0, BARE.1))
                    .map(|(p, b)| metric.gap(p, b));
                (r.round, gap)
            }))
        };
        let (gaps, with_errors) = gaps_of(scenario, process);
        let (control, _) = gaps_of(CONTROL.0, CONTROL.1);
        let spread = |scenario: &str, process: &str| {
            metric.show(Spread::of(
                rounds.iter().filter_map(|r| value(r, scenario, process)),
            ))
        };
        let head = format!(
            "c={concurrency}, {concurrency} connections taking turns of {} answers ({} at each \
             end not timed): {} vs {}",
            first.turn,
            first.warm,
            spread(scenario, process),
            spread(BARE.0, BARE.1),
        );
        judged_on_turns(metric, &gaps, &with_errors, head, &control, &wrk)
    }

    /// `scenario`'s p50 over bare pingora's (as `Metric::P50` has it: 0.05 is 5% longer), in
    /// each round of turns without errors; and the rounds with errors.
    fn turn_gaps(&self, scenario: &str) -> (Vec<f64>, Vec<usize>) {
        split_clean(self.alternating.iter().map(|r| {
            (
                r.round,
                r.p50_over_bare(scenario, true)
                    .map(|percent| percent / 100.0),
            )
        }))
    }

    /// Checks the targets against the numbers. A load target is judged only on at
    /// least `MIN_RUNS` interleaved rounds without errors, and met only if the whole measured
    /// range meets it (the proxy's gap to bare pingora in every round): the machine is shared
    /// and single runs are noisy.
    pub fn check_targets(&mut self) {
        let mut targets = Vec::new();
        // `None`: not judged.
        let mut add = |target: &str, measured: String, verdict: Option<bool>| {
            targets.push(Target {
                target: target.to_owned(),
                measured,
                met: verdict == Some(true),
                judged: verdict.is_some(),
            })
        };
        let rounds = &self.load_rounds;
        if !rounds.is_empty() {
            for (scenario, store, process) in STORES {
                let checks = [
                    (
                        Metric::CpuPerRequest,
                        format!(
                            "proxy with the {store} ({scenario}) uses ≤ bare pingora's CPU per request + 3 µs at c=16 and c=64, in every round of turns"
                        ),
                    ),
                    (
                        Metric::RequestsPerS,
                        format!(
                            "proxy with the {store} ({scenario}) serves ≥ 95% of bare pingora's requests/s at c=16 and c=64, in every round of turns"
                        ),
                    ),
                ];
                for (metric, target) in checks {
                    let parts: Vec<Outcome> = [16, 64]
                        .into_iter()
                        .map(|c| self.load_in_turns(metric, scenario, process, c))
                        .collect();
                    let (measured, verdict) = combine(&parts, " | ");
                    add(&target, measured, verdict);
                }
                let (measured, verdict) = self.p50_in_turns(scenario, process);
                add(
                    &format!(
                        "proxy with the {store} ({scenario}) has p50 ≤ bare pingora's + 10% at c=1, in every round of turns"
                    ),
                    measured,
                    verdict,
                );
            }
            let direct: Vec<Outcome> = [16, 64]
                .into_iter()
                .map(|c| match judged(rounds, "1a", c) {
                    Ok(r) => match r.cpu_us_per_request.get("tool-server") {
                        Some(cpu) => (format!("c={c}: {} µs", cpu.show(1)), Some(cpu.max < 63.0)),
                        None => (format!("c={c}: no CPU numbers"), None),
                    },
                    Err(why) => (format!("c={c}: {why}"), None),
                })
                .collect();
            let (measured, verdict) = combine(&direct, " | ");
            add(
                "get_current_time straight to the tool server (1a) costs < 63 µs of its CPU per call at c=16 and c=64, in every run",
                measured,
                verdict,
            );
            let absolute = |c: usize,
                            show: &dyn Fn(&LoadRounds) -> String,
                            met: &dyn Fn(&LoadRounds) -> bool| {
                let parts: Vec<Outcome> = STORES
                    .iter()
                    .map(|(scenario, store, _)| match judged(rounds, scenario, c) {
                        Ok(r) => (format!("{store} {}", show(r)), Some(met(r))),
                        Err(why) => (format!("{store}: {why}"), None),
                    })
                    .collect();
                combine(&parts, "; ")
            };
            let (measured, verdict) =
                absolute(16, &|r| format!("{}/s", r.requests_per_s.show(0)), &|r| {
                    r.requests_per_s.min >= 5800.0
                });
            add(
                "≥ 5,800 get_current_time calls/s through both binaries at c=16, in every run",
                measured,
                verdict,
            );
            let (measured, verdict) = absolute(1, &|r| format!("{} ms", r.p50_ms.show(3)), &|r| {
                r.p50_ms.max < 0.3
            });
            add(
                "p50 < 0.3 ms through both binaries at c=1, in every run",
                measured,
                verdict,
            );
        }
        if !self.load.is_empty()
            || self.sustained.is_some()
            || !self.alternating.is_empty()
            || !self.alternating_load.is_empty()
        {
            let errors: u64 = self.load.iter().map(|r| r.errors).sum();
            let mut parts = Vec::new();
            if !self.load.is_empty() {
                parts.push(format!("{errors} in {} load runs", self.load.len()));
            }
            // The rounds of turns: every answer, timed or not, as (errors, requests).
            let total = |counts: &mut dyn Iterator<Item = (u64, u64)>| {
                counts.fold((0, 0), |(e, n), (errors, requests)| {
                    (e + errors, n + requests)
                })
            };
            let turns_c1 = total(
                &mut self
                    .alternating
                    .iter()
                    .flat_map(|r| &r.targets)
                    .map(|t| (t.errors, t.requests as u64)),
            );
            let turns_loaded = total(
                &mut self
                    .alternating_load
                    .iter()
                    .flat_map(|r| &r.targets)
                    .map(|t| (t.errors, t.requests)),
            );
            for ((errors, requests), at) in [(turns_c1, "c=1"), (turns_loaded, "c=16 and c=64")] {
                if requests > 0 {
                    parts.push(format!(
                        "{errors} in the rounds of turns at {at} ({requests} requests)"
                    ));
                }
            }
            let turn_errors = turns_c1.0 + turns_loaded.0;
            if let Some(s) = &self.sustained {
                parts.push(format!("{} under sustained load", s.errors));
            }
            let mut measured = parts.join("; ");
            let reruns: Vec<String> = self
                .load
                .iter()
                .filter(|r| !r.discarded.is_empty())
                .map(|r| {
                    let wraps: u64 = r.discarded.iter().map(|d| d.wraps).sum();
                    let round = r.round.map_or(String::new(), |n| format!(" round {n}"));
                    format!("{} c={}{round} ({wraps} wraps)", r.scenario, r.concurrency)
                })
                .collect();
            if !reruns.is_empty() {
                let _ = write!(
                    measured,
                    "; run again after running out of single-use requests (first try discarded): {}",
                    reruns.join(", ")
                );
            }
            let sustained_errors = self.sustained.as_ref().map_or(0, |s| s.errors);
            add(
                "errors = 0 in every load run",
                measured,
                Some(errors == 0 && sustained_errors == 0 && turn_errors == 0),
            );
        }
        if let Some(s) = &self.sustained {
            let trend = |t: &RssTrend| {
                format!(
                    "{} after the first interval → {} at the end (max {}, {:+.0} KiB/min){}",
                    mb(t.first_kib),
                    mb(t.end_kib),
                    mb(t.max_kib),
                    t.growth_kib_per_min,
                    if t.flat { "" } else { " GREW" }
                )
            };
            let judged = s.samples.len() >= 2;
            add(
                &format!(
                    "memory flat under {} of load through the proxy at c={} ({}), both binaries",
                    span(s.planned_s),
                    s.concurrency,
                    s.flat_rule
                ),
                format!(
                    "proxy {}; tool server {}; {} intervals of {} s{}",
                    trend(&s.proxy),
                    trend(&s.tool_server),
                    s.samples.len(),
                    s.interval_s,
                    if judged {
                        ""
                    } else {
                        " (not judged: one interval)"
                    }
                ),
                judged.then_some(s.proxy.flat && s.tool_server.flat),
            );
        }
        if let Some(s) = &self.clients {
            add(
                "idle memory of proxy + tool server < 32 MB",
                format!(
                    "{} + {} = {}",
                    mb(s.idle.proxy_kib),
                    mb(s.idle.tool_server_kib),
                    mb(s.idle.total())
                ),
                Some((s.idle.total() as f64 * 1024.0) < 32e6),
            );
            let per_client = s.per_client_bytes_proxy + s.per_client_bytes_tool_server;
            add(
                "< 10 KB per MCP client in use (proxy + tool server)",
                format!("{:.1} KB", per_client / 1000.0),
                Some(per_client < 10_000.0),
            );
            add(
                "no MCP session state: any replica serves any client",
                format!(
                    "{} of {} clients got a session id",
                    s.session_ids, s.clients
                ),
                Some(s.session_ids == 0),
            );
        }
        if !self.okta.is_empty() {
            let exact = self
                .okta
                .iter()
                .all(|l| l.okta_calls == l.expected_okta_calls && l.errors == 0);
            add(
                "lists cost ⌈N / Okta's max page size⌉ Okta calls",
                self.okta
                    .iter()
                    .filter(|l| l.agents == 1 && l.okta_concurrent_limit == 15)
                    .map(|l| {
                        format!(
                            "{}: {} (expected {})",
                            l.what, l.okta_calls, l.expected_okta_calls
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                Some(exact),
            );
        }
        if let Some(r) = &self.rate_limited {
            add(
                "429s reaching the model with a small rate budget = 0",
                format!(
                    "{} (the fake org answered {} × 429)",
                    r.errors_reaching_model, r.okta_429s
                ),
                Some(r.errors_reaching_model == 0),
            );
        }
        for c in &self.cold_start {
            add(
                &format!("{} ready within 100 ms of start", c.what),
                format!("median {:.0} ms, max {:.0} ms", c.median_ms, c.max_ms),
                Some(c.median_ms <= 100.0),
            );
        }
        if let Some(r) = &self.revocation {
            add(
                "a revocation on one replica is refused by another within 1 s, every time",
                format!(
                    "median {:.1} ms, max {:.1} ms over {} samples; {} never refused within {:.0} ms",
                    r.median_ms, r.max_ms, r.samples, r.not_seen, r.poll_limit_ms
                ),
                Some(r.samples > 0 && r.not_seen == 0 && r.max_ms <= 1000.0),
            );
        }
        self.targets = targets;
    }

    /// The Markdown table, with the machine above it and the targets below.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Machine: {} × {}, {} MiB RAM, Linux {}; load average at start {} (end {}){}. \
             Load generator (wrk) and all servers share these {} cores. Durations are wall time; \
             CPU s = user + system seconds of each process during the measured run.\n",
            m.nproc,
            m.cpu_model,
            m.mem_total_mib,
            m.kernel,
            m.load_average_start,
            m.load_average_end,
            m.idle_note("; idle CPUs: "),
            m.nproc
        );
        let t = &self.settings;
        let _ = writeln!(
            out,
            "Settings: load runs of {} s after a {} s warm-up; {} interleaved round(s) of 1a–1d per \
             concurrency, each {} slice(s) of {} s per target after the warm-ups; sustained \
             load {} s{}{}; the tool server accepts identity headers within ±{} s of their t.\n",
            t.run_s,
            t.warmup_s,
            t.rounds,
            t.slices,
            t.slice_s,
            t.sustained_s,
            if t.quick { ", --quick" } else { "" },
            if t.only.is_empty() {
                String::new()
            } else {
                format!(", only {}", t.only.join(", "))
            },
            t.identity_max_skew_s
        );
        out.push_str(
            "| # | what | conc. | duration | req/s | p50 ms | p99 ms | errors | CPU s proxy | CPU s tool server | CPU s bare pingora | notes |\n\
             |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
        );
        // The proxy column holds whichever proxy served the run.
        let cpu = |cpu_s: &BTreeMap<String, f64>, names: &[&str]| {
            names
                .iter()
                .find_map(|name| cpu_s.get(*name))
                .map_or("–".to_owned(), |s| format!("{s:.2}"))
        };
        let per_request = |us: &BTreeMap<String, f64>| {
            us.iter()
                .map(|(name, us)| format!("{name} {us:.0}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let per_request_spread = |us: &BTreeMap<String, Spread>| {
            us.iter()
                .map(|(name, us)| format!("{name} {}", us.show(1)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let proxies = ["proxy", "proxy-redis"];
        // Single runs as measured, interleaved rounds as median (min–max), by scenario.
        let mut lines: Vec<(&str, String)> = Vec::new();
        for row in self.load.iter().filter(|r| r.round.is_none()) {
            let rerun = if row.discarded.is_empty() {
                ""
            } else {
                "; run again after running out of single-use requests"
            };
            lines.push((
                &row.scenario,
                format!(
                    "| {} | {} | {} | {:.1} s | {:.0} | {:.3} | {:.3} | {} | {} | {} | {} | CPU µs/request: {}{rerun} |",
                    row.scenario,
                    row.what,
                    row.concurrency,
                    row.duration_s,
                    row.requests_per_s,
                    row.p50_ms,
                    row.p99_ms,
                    row.errors,
                    cpu(&row.cpu_s, &proxies),
                    cpu(&row.cpu_s, &["tool-server"]),
                    cpu(&row.cpu_s, &["bare-pingora"]),
                    per_request(&row.cpu_us_per_request)
                ),
            ));
        }
        for r in &self.load_rounds {
            let mut caveats = String::new();
            if !r.rounds_with_errors.is_empty() {
                let _ = write!(
                    caveats,
                    "; ⚠ errors in round {}: those runs are left out of the numbers, and no target is judged on this row",
                    list(&r.rounds_with_errors)
                );
            }
            if !r.rerun_rounds.is_empty() {
                let _ = write!(
                    caveats,
                    "; round {} run again after running out of single-use requests",
                    list(&r.rerun_rounds)
                );
            }
            if r.clean_runs() == 0 {
                lines.push((
                    &r.scenario,
                    format!(
                        "| {} | {} | {} | {} runs | – | – | – | {} | – | – | – | no run without errors{caveats} |",
                        r.scenario, r.what, r.concurrency, r.runs, r.errors
                    ),
                ));
                continue;
            }
            lines.push((
                &r.scenario,
                format!(
                    "| {} | {} | {} | {} × {:.1} s | {} | {} | {} | {} | {} | {} | {} | median (min–max) of {} interleaved runs; CPU µs/request: {}{caveats} |",
                    r.scenario,
                    r.what,
                    r.concurrency,
                    r.runs,
                    r.duration_s,
                    r.requests_per_s.show(0),
                    r.p50_ms.show(3),
                    r.p99_ms.show(3),
                    r.errors,
                    cpu(&r.cpu_s, &proxies),
                    cpu(&r.cpu_s, &["tool-server"]),
                    cpu(&r.cpu_s, &["bare-pingora"]),
                    r.clean_runs(),
                    per_request_spread(&r.cpu_us_per_request)
                ),
            ));
        }
        lines.sort_by_key(|(scenario, _)| *scenario);
        for (_, line) in lines {
            let _ = writeln!(out, "{line}");
        }
        let text_row = |out: &mut String, n: &str, what: &str, conc: &str, rest: &str| {
            let _ = writeln!(out, "| {n} | {what} | {conc} | | | | | | | | | {rest} |");
        };
        if let Some(s) = &self.clients {
            text_row(
                &mut out,
                "3",
                "memory idle (RSS)",
                "",
                &format!(
                    "proxy {}, tool server {}, together {}",
                    mb(s.idle.proxy_kib),
                    mb(s.idle.tool_server_kib),
                    mb(s.idle.total())
                ),
            );
            text_row(
                &mut out,
                "3",
                &format!(
                    "memory with {} MCP clients that initialized and called a tool",
                    s.clients
                ),
                "",
                &format!(
                    "proxy {} ({:+.1} KB/client), tool server {} ({:+.1} KB/client), after login: {} + {}; {} got a session id",
                    mb(s.open.proxy_kib),
                    s.per_client_bytes_proxy / 1000.0,
                    mb(s.open.tool_server_kib),
                    s.per_client_bytes_tool_server / 1000.0,
                    mb(s.after_login.proxy_kib),
                    mb(s.after_login.tool_server_kib),
                    s.session_ids
                ),
            );
            text_row(
                &mut out,
                "3",
                "memory after each client called again, and after as many clients again",
                "",
                &format!(
                    "called again: proxy {}, tool server {}; {} more clients: proxy {}, tool server {}",
                    mb(s.called_again.proxy_kib),
                    mb(s.called_again.tool_server_kib),
                    s.clients,
                    mb(s.more_clients.proxy_kib),
                    mb(s.more_clients.tool_server_kib)
                ),
            );
            let _ = writeln!(
                out,
                "| 3 | open an MCP client through the proxy (initialize + initialized), {} in a row | 1 | | | {:.3} | {:.3} | {} | | | | mean {:.3} ms, max {:.3} ms; {} failed calls |",
                s.clients,
                s.open_ms.p50,
                s.open_ms.p99,
                s.open_errors,
                s.open_ms.mean,
                s.open_ms.max,
                s.call_errors
            );
        }
        for l in &self.okta {
            let _ = writeln!(
                out,
                "| 4 | {}, 100 ms Okta latency, OKTA_CONCURRENT_LIMIT {} | {} | {:.2} s | | | | {} | | | | {} tool calls, {} Okta calls (expected {}), {} items per agent, at most {} Okta calls in flight |",
                l.what,
                l.okta_concurrent_limit,
                l.agents,
                l.wall_ms / 1000.0,
                l.errors,
                l.tool_calls,
                l.okta_calls,
                l.expected_okta_calls,
                l.items_per_agent,
                l.okta_max_in_flight
            );
        }
        if let Some(r) = &self.rate_limited {
            let _ = writeln!(
                out,
                "| 4 | both lists with a rate budget of {} calls per {} s window | {} | {:.2} s | | | | {} | | | | {} tool calls, {} Okta calls, {} × 429 from Okta, **{} reached the model** |",
                r.budget_per_window,
                r.window_secs,
                r.agents,
                r.wall_ms / 1000.0,
                r.errors_reaching_model,
                r.tool_calls,
                r.okta_calls,
                r.okta_429s,
                r.errors_reaching_model
            );
        }
        for c in &self.cold_start {
            let runs: Vec<String> = c.runs_ms.iter().map(|v| format!("{v:.0}")).collect();
            text_row(
                &mut out,
                "5",
                &format!("cold start: {} → {}", c.what, c.endpoint),
                "",
                &format!(
                    "median {:.0} ms, max {:.0} ms (runs: {} ms)",
                    c.median_ms,
                    c.max_ms,
                    runs.join(", ")
                ),
            );
        }
        if let Some(r) = &self.revocation {
            let delays: Vec<String> = r.delays_ms.iter().map(|v| format!("{v:.1}")).collect();
            let _ = writeln!(
                out,
                "| 6 | revoke an access token on proxy replica A; replica B's /mcp refuses it (401), both on one Redis | 1 | | | {:.1} | | {} | | | | median {:.1} ms, max {:.1} ms over {} samples, {} /mcp polls (runs: {} ms) |",
                r.median_ms,
                r.not_seen,
                r.median_ms,
                r.max_ms,
                r.samples,
                r.polls,
                delays.join(", ")
            );
        }
        if let Some(s) = &self.sustained {
            let _ = writeln!(
                out,
                "| 7 | sustained: {} | {} | {:.0} s ({} × {} s) | {} | {} | {} | {} | {} | {} | – | median (min–max) over the intervals (max for p99); CPU µs/request: {} |",
                s.what,
                s.concurrency,
                s.samples.iter().map(|x| x.duration_s).sum::<f64>(),
                s.samples.len(),
                s.interval_s,
                s.requests_per_s.show(0),
                s.p50_ms.show(3),
                format_args!("{:.3}", s.p99_ms.max),
                s.errors,
                cpu(&s.cpu_s, &proxies),
                cpu(&s.cpu_s, &["tool-server"]),
                per_request(&s.cpu_us_per_request)
            );
            for (name, trend, before) in [
                ("proxy", &s.proxy, s.before.proxy_kib),
                ("tool server", &s.tool_server, s.before.tool_server_kib),
            ] {
                text_row(
                    &mut out,
                    "7",
                    &format!("memory (RSS) of the {name} under sustained load"),
                    "",
                    &format!(
                        "before the load {}, after the first {} s {}, at the end {}, max {}; {:+.0} KiB/min; **{}** ({})",
                        mb(before),
                        s.interval_s,
                        mb(trend.first_kib),
                        mb(trend.end_kib),
                        mb(trend.max_kib),
                        trend.growth_kib_per_min,
                        if trend.flat { "flat" } else { "grew" },
                        s.flat_rule
                    ),
                );
            }
        }
        if let Some(first) = self.alternating.first() {
            let _ = writeln!(
                out,
                "\nc=1 with one client taking turns between 1a–1d, one connection each, {} \
                 requests per turn, the first {} of each not timed (`--turns-of`, \
                 `--turn-warm-up`; p50 / p99 in µs, and the p50 of the untimed starts; the \
                 proxies' p50 against bare pingora's in the same round, which the p50 target \
                 is judged on):\n\n\
                 | round | s | 1a | 1b | 1d | 1c | 1b vs 1c | 1d vs 1c | requests | errors |\n\
                 |--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
                first.turn, first.warm
            );
            for r in &self.alternating {
                let cell = |scenario: &str| {
                    r.of(scenario).map_or("–".to_owned(), |t| {
                        format!(
                            "{:.0} / {:.0} (start {:.0})",
                            t.p50_us, t.p99_us, t.warm_p50_us
                        )
                    })
                };
                let versus = |scenario: &str| {
                    r.p50_over_bare(scenario, false)
                        .map_or("–".to_owned(), |gap| format!("{gap:+.1}%"))
                };
                let _ = writeln!(
                    out,
                    "| {} | {:.1} | {} | {} | {} |",
                    r.round,
                    r.seconds,
                    targets_and_gaps(false, &cell, &versus),
                    r.targets.iter().map(|t| t.requests).sum::<usize>(),
                    r.targets.iter().map(|t| t.errors).sum::<u64>()
                );
            }
        }
        if let Some(first) = self.alternating_load.first() {
            let _ = writeln!(
                out,
                "\nc=16 and c=64 with 1a–1d and a second bare pingora (1e, the control) taking \
                 turns on c kept-alive connections each, {} answers per turn, the first and last \
                 {} of each not timed (`--load-turns-of`; requests/s in the timed middles of the \
                 turns; the proxies' requests/s as a share of bare pingora's in the same round, \
                 which the requests/s target is judged on, and the control's, which shows how \
                 far the measurement itself spreads; and the CPU µs per request of the process \
                 in front of the tool server, over the whole turns, from `/proc` in ticks of \
                 10 ms):\n\n\
                 | c | round | s | 1a | 1b | 1d | 1c | 1e | 1b vs 1c | 1d vs 1c | 1e vs 1c | \
                 CPU µs proxy / proxy-redis / bare-pingora / control | requests | errors |\n\
                 |--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
                first.turn, first.warm
            );
            for r in &self.alternating_load {
                let cell = |scenario: &str| {
                    r.of(scenario)
                        .map_or("–".to_owned(), |t| format!("{:.0}", t.per_s()))
                };
                let versus = |scenario: &str| {
                    r.share_of_bare(scenario)
                        .map_or("–".to_owned(), |share| format!("{:.1}%", share * 100.0))
                };
                let cpu: Vec<String> = [
                    STORES[0],
                    STORES[1],
                    (BARE.0, "", BARE.1),
                    (CONTROL.0, "", CONTROL.1),
                ]
                .iter()
                .map(|(scenario, _, process)| {
                    r.of(scenario)
                        .and_then(|t| t.cpu_us_per_request(process))
                        .map_or("–".to_owned(), |us| format!("{us:.1}"))
                })
                .collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.1} | {} | {} | {} | {} |",
                    r.concurrency,
                    r.round,
                    r.seconds,
                    targets_and_gaps(true, &cell, &versus),
                    cpu.join(" / "),
                    r.targets.iter().map(|t| t.requests).sum::<u64>(),
                    r.targets.iter().map(|t| t.errors).sum::<u64>()
                );
            }
        }
        out.push_str("\nTargets:\n");
        for t in &self.targets {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                match (t.judged, t.met) {
                    (false, _) => "⚪ not judged:",
                    (true, true) => "✅",
                    (true, false) => "❌",
                },
                t.target,
                t.measured
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "- note: {note}");
        }
        if let Some(s) = &self.sustained {
            let rates: Vec<String> = s
                .samples
                .iter()
                .map(|x| format!("{:.0}", x.requests_per_s))
                .collect();
            let _ = writeln!(
                out,
                "- note: sustained load, requests/s per {} s interval: {}",
                s.interval_s,
                rates.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(scenario: &str, round: usize, rps: f64, cpu_us: f64, errors: u64) -> LoadRow {
        let process = match scenario {
            "1c" => "bare-pingora",
            _ => "proxy",
        };
        LoadRow {
            scenario: scenario.into(),
            what: String::new(),
            concurrency: 16,
            round: Some(round),
            okta_latency_ms: None,
            duration_s: 5.0,
            requests_per_s: rps,
            p50_ms: 1.0,
            p99_ms: 2.0,
            errors,
            cpu_s: BTreeMap::from([(process.to_owned(), 1.0)]),
            cpu_us_per_request: BTreeMap::from([(process.to_owned(), cpu_us)]),
            wrk: WrkStats::default(),
            slices: Vec::new(),
            discarded: Vec::new(),
        }
    }

    fn report(load: Vec<LoadRow>) -> Report {
        Report {
            machine: Machine::probe(),
            settings: Settings {
                quick: false,
                only: Vec::new(),
                run_s: 5,
                warmup_s: 1,
                rounds: 3,
                slices: 5,
                slice_s: 1,
                concurrency: vec![1, 16, 64],
                sustained_s: 0,
                identity_max_skew_s: 10,
                max_single_use_run_s: 15.0,
            },
            started_at: String::new(),
            run_seconds: 0.0,
            load_rounds: rounds(&load),
            load,
            clients: None,
            okta: Vec::new(),
            rate_limited: None,
            cold_start: Vec::new(),
            revocation: None,
            sustained: None,
            alternating: Vec::new(),
            alternating_load: Vec::new(),
            targets: Vec::new(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn a_target_is_met_only_if_every_round_meets_it() {
        // Medians 9,700 vs 10,000 (97%), but round 2 is 9,400 / 10,300 = 91%.
        let load = vec![
            run("1b", 1, 9_700.0, 60.0, 0),
            run("1b", 2, 9_400.0, 61.0, 0),
            run("1b", 3, 9_900.0, 62.0, 0),
            run("1c", 1, 10_000.0, 59.0, 0),
            run("1c", 2, 10_300.0, 60.0, 0),
            run("1c", 3, 9_800.0, 60.0, 0),
        ];
        let r = report(load);
        let (_, rps) = r.versus(Metric::RequestsPerS, "1b", "proxy", 16);
        assert_eq!(rps, Some(false));
        // CPU: 1, 1 and 2 µs more, within the bound.
        let (_, cpu) = r.versus(Metric::CpuPerRequest, "1b", "proxy", 16);
        assert_eq!(cpu, Some(true));
    }

    #[test]
    fn a_round_is_held_against_bare_pingora_in_the_same_round() {
        // The machine was slow in round 2, for both: the proxy is within 2% and 1 µs of bare
        // pingora in every round, though its slowest run is 79% of bare pingora's fastest and
        // 11 µs above its cheapest.
        let load = vec![
            run("1b", 1, 10_000.0, 40.0, 0),
            run("1b", 2, 8_000.0, 50.0, 0),
            run("1b", 3, 10_000.0, 41.0, 0),
            run("1c", 1, 10_000.0, 39.0, 0),
            run("1c", 2, 8_100.0, 49.0, 0),
            run("1c", 3, 10_100.0, 40.0, 0),
        ];
        let r = report(load);
        let (measured, rps) = r.versus(Metric::RequestsPerS, "1b", "proxy", 16);
        assert_eq!(rps, Some(true), "{measured}");
        assert!(measured.contains("(worst 98.8%)"), "{measured}");
        assert!(measured.contains("rounds apart: 79.2%"), "{measured}");
        let (measured, cpu) = r.versus(Metric::CpuPerRequest, "1b", "proxy", 16);
        assert_eq!(cpu, Some(true), "{measured}");
        assert!(measured.contains("rounds apart: +11.0 µs"), "{measured}");
        // One round over the bound fails the target, whatever the median.
        let mut load = r.load.clone();
        load[1].cpu_us_per_request.insert("proxy".into(), 53.0);
        let (measured, cpu) = report(load).versus(Metric::CpuPerRequest, "1b", "proxy", 16);
        assert_eq!(cpu, Some(false), "{measured}");
        assert!(measured.contains("(worst +4.0 µs)"), "{measured}");
    }

    #[test]
    fn a_round_of_slices_sums_their_requests_time_and_cpu() {
        let slice = |requests: u64, p50_us: u64, cpu: f64| Slice {
            stats: WrkStats {
                requests,
                duration_us: 1_000_000,
                p50_us,
                ..WrkStats::default()
            },
            cpu_s: BTreeMap::from([("proxy".to_owned(), cpu)]),
            discarded: Vec::new(),
        };
        let slices = vec![
            slice(20_000, 700, 0.8),
            slice(10_000, 900, 0.8),
            slice(30_000, 600, 0.8),
        ];
        let row = LoadRow::of_slices("1b", "", 16, Some(1), None, slices);
        assert_eq!(row.duration_s, 3.0);
        assert_eq!(row.requests_per_s, 20_000.0);
        assert!((row.cpu_us_per_request["proxy"] - 40.0).abs() < 1e-9);
        assert_eq!(row.p50_ms, 0.7);
        assert_eq!(row.slices.len(), 3);
    }

    #[test]
    fn no_target_is_judged_on_runs_with_errors_or_too_few_runs() {
        let load = vec![
            run("1b", 1, 9_700.0, 60.0, 0),
            run("1b", 2, 9_400.0, 61.0, 12),
            run("1b", 3, 9_900.0, 62.0, 0),
            run("1c", 1, 10_000.0, 59.0, 0),
            run("1c", 2, 10_300.0, 60.0, 0),
        ];
        let r = report(load);
        let b = find(&r.load_rounds, "1b", 16).unwrap();
        assert_eq!(b.rounds_with_errors, vec![2]);
        // The run with errors is left out of the numbers.
        assert_eq!(b.requests_per_s.min, 9_700.0);
        let (measured, verdict) = r.versus(Metric::RequestsPerS, "1b", "proxy", 16);
        assert_eq!(verdict, None);
        assert!(measured.contains("had errors in round 2"), "{measured}");
        assert!(measured.contains("1c c=16 has 2 run(s)"), "{measured}");
    }

    fn turns(round: usize, proxy_us: f64, bare_us: f64, errors: u64) -> AlternatingRound {
        let latencies = |scenario: &str, p50_us: f64, errors: u64| crate::alternate::Latencies {
            scenario: scenario.into(),
            requests: 30_000,
            errors,
            p50_us,
            p90_us: p50_us * 1.2,
            p99_us: p50_us * 1.5,
            warm_p50_us: p50_us + 5.0,
            first_bad: None,
        };
        AlternatingRound {
            round,
            turn: 2_000,
            warm: 200,
            seconds: 20.0,
            targets: vec![
                latencies("1b", proxy_us, errors),
                latencies("1c", bare_us, 0),
            ],
        }
    }

    #[test]
    fn the_p50_at_c1_is_judged_on_every_round_of_turns_not_on_wrk() {
        // wrk's c=1 slices put the proxy 30% over in round 2 (p50 1.3 against 1.0 ms).
        let mut load: Vec<LoadRow> = ["1b", "1c"]
            .into_iter()
            .flat_map(|scenario| (1..=3).map(move |round| run(scenario, round, 7e3, 60.0, 0)))
            .map(|row| LoadRow {
                concurrency: 1,
                ..row
            })
            .collect();
        load[1].p50_ms = 1.3;
        let mut r = report(load);
        let (measured, verdict) = r.p50_in_turns("1b", "proxy");
        assert_eq!(verdict, None, "no rounds of turns: {measured}");
        assert!(measured.contains("worst +30.0%"), "{measured}");
        // Turns: +4%, +9.5%, −1%: met in every round.
        r.alternating = vec![
            turns(1, 104.0, 100.0, 0),
            turns(2, 131.4, 120.0, 0),
            turns(3, 99.0, 100.0, 0),
        ];
        let (measured, verdict) = r.p50_in_turns("1b", "proxy");
        assert_eq!(verdict, Some(true), "{measured}");
        assert!(
            measured.contains("turns of 2000 requests (200 not timed)"),
            "{measured}"
        );
        assert!(
            measured.contains("+4.0%, +9.5%, -1.0% (worst +9.5%)"),
            "{measured}"
        );
        assert!(measured.contains("wrk slices (not judged)"), "{measured}");
        // One round of turns over the bound fails it.
        r.alternating[2] = turns(3, 111.0, 100.0, 0);
        let (measured, verdict) = r.p50_in_turns("1b", "proxy");
        assert_eq!(verdict, Some(false), "{measured}");
        // A round with errors is left out, and two clean rounds are too few to judge.
        r.alternating[2] = turns(3, 99.0, 100.0, 3);
        let (measured, verdict) = r.p50_in_turns("1b", "proxy");
        assert_eq!(verdict, None, "{measured}");
        assert!(measured.contains("round 3 left out (errors)"), "{measured}");
        // The report lists the target with the turns' verdict.
        r.alternating[2] = turns(3, 99.0, 100.0, 0);
        r.check_targets();
        let target = r
            .targets
            .iter()
            .find(|t| t.target.contains("(1b) has p50"))
            .unwrap();
        assert!(target.judged && target.met, "{target:?}");
    }

    fn load_turns(
        round: usize,
        concurrency: usize,
        proxy: f64,
        bare: f64,
        errors: u64,
    ) -> AlternatingLoadRound {
        // `proxy` and `bare` requests/s: so many answers timed in one second; CPU: 4.0 s and
        // 3.8 s for 100,000 answers, 40 µs and 38 µs each.
        let rate = |scenario: &str, per_s: f64, errors: u64, process: &str, cpu_s: f64| {
            crate::alternate_load::Rate {
                scenario: scenario.into(),
                timed_requests: per_s as u64,
                timed_s: 1.0,
                requests: 100_000,
                errors,
                turns: 20,
                first_bad: None,
                cpu_s: BTreeMap::from([(process.to_owned(), cpu_s)]),
            }
        };
        AlternatingLoadRound {
            round,
            concurrency,
            turn: 5_000,
            warm: 500,
            seconds: 20.0,
            targets: vec![
                rate("1b", proxy, errors, "proxy", 4.0),
                rate("1c", bare, 0, "bare-pingora", 3.8),
            ],
        }
    }

    #[test]
    fn the_control_is_shown_round_by_round_and_not_judged() {
        let mut r = report(Vec::new());
        // A second bare pingora at 90% and 104% of the first, the proxy at 99%.
        r.alternating_load = [(1, 18_000.0), (2, 20_800.0), (3, 18_000.0)]
            .into_iter()
            .map(|(round, control)| {
                let mut turns = load_turns(round, 16, 19_800.0, 20_000.0, 0);
                let mut second = turns.targets[1].clone();
                second.scenario = CONTROL.0.into();
                second.timed_requests = control as u64;
                second.cpu_s = BTreeMap::from([(CONTROL.1.to_owned(), 3.9)]);
                turns.targets.push(second);
                turns
            })
            .collect();
        let (measured, verdict) = r.load_in_turns(Metric::RequestsPerS, "1b", "proxy", 16);
        assert_eq!(verdict, Some(true), "{measured}");
        assert!(
            measured.contains(
                "a second bare pingora against it (the control, not judged): round by round \
                 90.0%, 104.0%, 90.0%"
            ),
            "{measured}"
        );
        // 40 µs against 38 (within 3 µs), the control 1 µs over.
        let (measured, verdict) = r.load_in_turns(Metric::CpuPerRequest, "1b", "proxy", 16);
        assert_eq!(verdict, Some(true), "{measured}");
        assert!(
            measured.contains("(the control, not judged): round by round +1.0 µs"),
            "{measured}"
        );
        let table = r.markdown();
        assert!(
            table.contains("| 1c | 1e | 1b vs 1c | 1d vs 1c | 1e vs 1c |"),
            "{table}"
        );
        assert!(
            table.contains("| 16 | 1 | 20.0 | – | 19800 | – | 20000 | 18000 | 99.0% | – | 90.0% | 40.0 / – / 38.0 / 39.0 | 300000 | 0 |"),
            "{table}"
        );
    }

    #[test]
    fn requests_per_s_and_cpu_are_judged_on_every_round_of_turns_not_on_wrk() {
        // wrk's slices put the proxy at 80% of bare pingora in round 2 at c=16 and c=64.
        let mut load: Vec<LoadRow> = ["1b", "1c"]
            .into_iter()
            .flat_map(|scenario| (1..=3).map(move |round| run(scenario, round, 10e3, 60.0, 0)))
            .flat_map(|row| {
                [16, 64].map(|concurrency| LoadRow {
                    concurrency,
                    ..row.clone()
                })
            })
            .collect();
        for row in &mut load {
            if row.scenario == "1b" && row.round == Some(2) {
                row.requests_per_s = 8e3;
            }
        }
        let mut r = report(load);
        let (measured, verdict) = r.load_in_turns(Metric::RequestsPerS, "1b", "proxy", 16);
        assert_eq!(verdict, None, "no rounds of turns: {measured}");
        assert!(measured.contains("(worst 80.0%)"), "{measured}");
        // Turns: 97%, 101%, 95.5% at c=16, 99% in every round at c=64: met.
        r.alternating_load = vec![
            load_turns(1, 16, 19_400.0, 20_000.0, 0),
            load_turns(2, 16, 20_200.0, 20_000.0, 0),
            load_turns(3, 16, 19_100.0, 20_000.0, 0),
        ];
        r.alternating_load
            .extend((1..=3).map(|round| load_turns(round, 64, 19_800.0, 20_000.0, 0)));
        let (measured, verdict) = r.load_in_turns(Metric::RequestsPerS, "1b", "proxy", 16);
        assert_eq!(verdict, Some(true), "{measured}");
        assert!(
            measured.contains(
                "16 connections taking turns of 5000 answers (500 at each end not timed)"
            ),
            "{measured}"
        );
        assert!(
            measured.contains("97.0%, 101.0%, 95.5% (worst 95.5%)"),
            "{measured}"
        );
        assert!(
            measured.contains("wrk slices (not judged) c=16"),
            "{measured}"
        );
        r.check_targets();
        let target = |r: &Report| {
            r.targets
                .iter()
                .find(|t| t.target.contains("(1b) serves ≥ 95%"))
                .cloned()
                .unwrap()
        };
        let t = target(&r);
        assert!(t.judged && t.met, "{t:?}");
        // CPU per request is judged on the same rounds: 2 µs more in every one, met.
        let cpu = r
            .targets
            .iter()
            .find(|t| t.target.contains("(1b) uses ≤ bare pingora's CPU"))
            .unwrap();
        assert!(cpu.judged && cpu.met, "{cpu:?}");
        assert!(
            cpu.measured
                .contains("40.0 (40.0–40.0) µs vs 38.0 (38.0–38.0) µs"),
            "{cpu:?}"
        );
        assert!(cpu.measured.contains("(worst +2.0 µs)"), "{cpu:?}");
        // One round of turns under the bound, at either concurrency, fails it.
        r.alternating_load[4] = load_turns(2, 64, 18_900.0, 20_000.0, 0);
        r.check_targets();
        let t = target(&r);
        assert!(t.judged && !t.met, "{t:?}");
        assert!(t.measured.contains("(worst 94.5%)"), "{t:?}");
        // A round with errors is left out, and two clean rounds are too few to judge.
        r.alternating_load[4] = load_turns(2, 64, 19_800.0, 20_000.0, 7);
        let (measured, verdict) = r.load_in_turns(Metric::RequestsPerS, "1b", "proxy", 64);
        assert_eq!(verdict, None, "{measured}");
        assert!(measured.contains("round 2 left out (errors)"), "{measured}");
        // And the errors count against "errors = 0".
        r.check_targets();
        let errors = r
            .targets
            .iter()
            .find(|t| t.target.starts_with("errors = 0"))
            .unwrap();
        assert!(errors.judged && !errors.met, "{errors:?}");
        assert!(
            errors
                .measured
                .contains("7 in the rounds of turns at c=16 and c=64 (1200000 requests)"),
            "{errors:?}"
        );
    }

    #[test]
    fn memory_is_flat_within_the_larger_of_ten_percent_and_8_mib() {
        let mib = 1024;
        let trend = RssTrend::of(&[(10.0, 30 * mib), (20.0, 35 * mib), (30.0, 38 * mib)]);
        assert!(trend.flat, "+8 MiB on 30 MiB is within 8 MiB");
        let trend = RssTrend::of(&[(10.0, 30 * mib), (20.0, 35 * mib), (30.0, 39 * mib)]);
        assert!(!trend.flat);
        assert_eq!(trend.max_kib, 39 * mib);
        let trend = RssTrend::of(&[(10.0, 200 * mib), (600.0, 219 * mib)]);
        assert!(trend.flat, "+19 MiB on 200 MiB is within 10%");
    }
}
