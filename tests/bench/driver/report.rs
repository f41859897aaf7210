//! What one run measured (written as JSON) and the Markdown table printed from it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

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

/// One wrk run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadRow {
    pub scenario: String,
    pub what: String,
    pub concurrency: usize,
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
    pub wrk: WrkStats,
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
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub started_at: String,
    pub run_seconds: f64,
    pub load: Vec<LoadRow>,
    pub clients: ClientCost,
    pub okta: Vec<Listing>,
    pub rate_limited: RateLimited,
    pub cold_start: Vec<ColdStart>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

fn mb(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 * 1024.0 / 1e6)
}

fn find<'a>(load: &'a [LoadRow], scenario: &str, concurrency: usize) -> Option<&'a LoadRow> {
    load.iter()
        .find(|r| r.scenario == scenario && r.concurrency == concurrency)
}

impl Report {
    /// Checks the targets against the numbers.
    pub fn check_targets(&mut self) {
        let mut targets = Vec::new();
        let mut add = |target: &str, measured: String, met: bool| {
            targets.push(Target {
                target: target.to_owned(),
                measured,
                met,
            })
        };
        if let (Some(b), Some(c)) = (find(&self.load, "1b", 1), find(&self.load, "1c", 1)) {
            let over = b.p50_ms / c.p50_ms - 1.0;
            add(
                "auth and signing add ≤ 20% latency over bare pingora at c=1 (p50)",
                format!(
                    "p50 {:.3} ms vs {:.3} ms: {:+.0}%",
                    b.p50_ms,
                    c.p50_ms,
                    over * 100.0
                ),
                over <= 0.20,
            );
        }
        if let (Some(b), Some(c)) = (find(&self.load, "1b", 16), find(&self.load, "1c", 16)) {
            let share = b.requests_per_s / c.requests_per_s;
            add(
                "≥ 90% of bare pingora's requests/s at c=16",
                format!(
                    "{:.0}/s vs {:.0}/s: {:.0}%",
                    b.requests_per_s,
                    c.requests_per_s,
                    share * 100.0
                ),
                share >= 0.90,
            );
        }
        if let Some(b) = find(&self.load, "1b", 16) {
            add(
                "≥ 5,800 get_current_time calls/s through both binaries at c=16",
                format!("{:.0}/s", b.requests_per_s),
                b.requests_per_s >= 5800.0,
            );
        }
        if let Some(b) = find(&self.load, "1b", 1) {
            add(
                "p50 < 0.3 ms through both binaries at c=1",
                format!("{:.3} ms", b.p50_ms),
                b.p50_ms < 0.3,
            );
        }
        let errors: u64 = self.load.iter().map(|r| r.errors).sum();
        add(
            "errors = 0 in every load run",
            format!("{errors}"),
            errors == 0,
        );
        let s = &self.clients;
        add(
            "idle memory of proxy + tool server < 32 MB",
            format!(
                "{} + {} = {}",
                mb(s.idle.proxy_kib),
                mb(s.idle.tool_server_kib),
                mb(s.idle.total())
            ),
            (s.idle.total() as f64 * 1024.0) < 32e6,
        );
        let per_client = s.per_client_bytes_proxy + s.per_client_bytes_tool_server;
        add(
            "< 10 KB per MCP client in use (proxy + tool server)",
            format!("{:.1} KB", per_client / 1000.0),
            per_client < 10_000.0,
        );
        add(
            "no MCP session state: any replica serves any client",
            format!(
                "{} of {} clients got a session id",
                s.session_ids, s.clients
            ),
            s.session_ids == 0,
        );
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
            exact,
        );
        add(
            "429s reaching the model with a small rate budget = 0",
            format!(
                "{} (the fake org answered {} × 429)",
                self.rate_limited.errors_reaching_model, self.rate_limited.okta_429s
            ),
            self.rate_limited.errors_reaching_model == 0,
        );
        for c in &self.cold_start {
            add(
                &format!("{} ready within 100 ms of start", c.what),
                format!("median {:.0} ms, max {:.0} ms", c.median_ms, c.max_ms),
                c.median_ms <= 100.0,
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
            "Machine: {} × {}, {} MiB RAM, Linux {}; load average at start {} (end {}). \
             Load generator (wrk) and all servers share these {} cores. Durations are wall time; \
             CPU s = user + system seconds of each process during the measured run.\n",
            m.nproc,
            m.cpu_model,
            m.mem_total_mib,
            m.kernel,
            m.load_average_start,
            m.load_average_end,
            m.nproc
        );
        out.push_str(
            "| # | what | conc. | duration | req/s | p50 ms | p99 ms | errors | CPU s proxy | CPU s tool server | CPU s bare pingora | notes |\n\
             |---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n",
        );
        let cpu = |row: &LoadRow, name: &str| {
            row.cpu_s
                .get(name)
                .map_or("–".to_owned(), |s| format!("{s:.2}"))
        };
        for row in &self.load {
            let per_request: Vec<String> = row
                .cpu_us_per_request
                .iter()
                .map(|(name, us)| format!("{name} {us:.0}"))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} s | {:.0} | {:.3} | {:.3} | {} | {} | {} | {} | CPU µs/request: {} |",
                row.scenario,
                row.what,
                row.concurrency,
                row.duration_s,
                row.requests_per_s,
                row.p50_ms,
                row.p99_ms,
                row.errors,
                cpu(row, "proxy"),
                cpu(row, "tool-server"),
                cpu(row, "bare-pingora"),
                per_request.join(", ")
            );
        }
        let s = &self.clients;
        let text_row = |out: &mut String, n: &str, what: &str, conc: &str, rest: &str| {
            let _ = writeln!(out, "| {n} | {what} | {conc} | | | | | | | | | {rest} |");
        };
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
        let r = &self.rate_limited;
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
        out.push_str("\nTargets:\n");
        for t in &self.targets {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                if t.met { "✅" } else { "❌" },
                t.target,
                t.measured
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "- note: {note}");
        }
        out
    }
}
