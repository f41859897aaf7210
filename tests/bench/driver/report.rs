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
    /// Which of the interleaved rounds (scenario 1b, 1c, 1d); none for a single run.
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
    pub wrk: WrkStats,
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

    fn show(&self, decimals: usize) -> String {
        format!(
            "{:.*} ({:.*}–{:.*})",
            decimals, self.median, decimals, self.min, decimals, self.max
        )
    }
}

/// The interleaved rounds of one scenario at one concurrency (every run is in `load`).
#[derive(Debug, Clone, Serialize)]
pub struct LoadRounds {
    pub scenario: String,
    pub what: String,
    pub concurrency: usize,
    pub runs: usize,
    /// Of each run.
    pub duration_s: f64,
    pub requests_per_s: Spread,
    pub p50_ms: Spread,
    pub p99_ms: Spread,
    /// Over all runs.
    pub errors: u64,
    /// Medians over the runs.
    pub cpu_s: BTreeMap<String, f64>,
    pub cpu_us_per_request: BTreeMap<String, f64>,
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
            let median_of = |map: fn(&LoadRow) -> &BTreeMap<String, f64>| {
                map(runs[0])
                    .keys()
                    .map(|name| {
                        let values = runs.iter().filter_map(|r| map(r).get(name).copied());
                        (name.clone(), Spread::of(values).median)
                    })
                    .collect()
            };
            LoadRounds {
                scenario: scenario.to_owned(),
                what: runs[0].what.clone(),
                concurrency,
                runs: runs.len(),
                duration_s: Spread::of(runs.iter().map(|r| r.duration_s)).median,
                requests_per_s: Spread::of(runs.iter().map(|r| r.requests_per_s)),
                p50_ms: Spread::of(runs.iter().map(|r| r.p50_ms)),
                p99_ms: Spread::of(runs.iter().map(|r| r.p99_ms)),
                errors: runs.iter().map(|r| r.errors).sum(),
                cpu_s: median_of(|r| &r.cpu_s),
                cpu_us_per_request: median_of(|r| &r.cpu_us_per_request),
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
    pub load_rounds: Vec<LoadRounds>,
    pub clients: ClientCost,
    pub okta: Vec<Listing>,
    pub rate_limited: RateLimited,
    pub cold_start: Vec<ColdStart>,
    pub revocation: Revocation,
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

/// `value(proxy run) / value(bare pingora run)` of each round at `concurrency`, in round order.
fn by_round(
    load: &[LoadRow],
    scenario: &str,
    concurrency: usize,
    value: fn(&LoadRow) -> f64,
) -> Vec<f64> {
    let run = |scenario: &str, round: usize| {
        load.iter().find(|r| {
            r.scenario == scenario && r.concurrency == concurrency && r.round == Some(round)
        })
    };
    (1..)
        .map_while(|round| Some((run(scenario, round)?, run("1c", round)?)))
        .map(|(proxy, bare)| value(proxy) / value(bare))
        .collect()
}

/// Percentages, e.g. "+12%, +3%".
fn percents(values: &[f64], sign: bool) -> String {
    values
        .iter()
        .map(|v| {
            if sign {
                format!("{:+.0}%", v * 100.0)
            } else {
                format!("{:.0}%", v * 100.0)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The proxy's two stores, as scenario and name.
const STORES: [(&str, &str); 2] = [("1b", "embedded store"), ("1d", "Redis store")];

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
        // Each target is met only if every run meets it: the worst proxy run against the best
        // bare pingora run, as the machine is shared and single runs are noisy.
        for (scenario, store) in STORES {
            let rounds = &self.load_rounds;
            if let (Some(b), Some(c)) = (find(rounds, scenario, 1), find(rounds, "1c", 1)) {
                let over = |proxy: f64, bare: f64| (proxy / bare - 1.0) * 100.0;
                let worst = over(b.p50_ms.max, c.p50_ms.min);
                add(
                    &format!(
                        "proxy with the {store} ({scenario}) adds ≤ 20% latency over bare pingora at c=1 (p50), in every run"
                    ),
                    format!(
                        "median p50 {:.3} ms vs {:.3} ms: {:+.0}%; any run against any run {:+.0}% to {:+.0}%; round by round {}",
                        b.p50_ms.median,
                        c.p50_ms.median,
                        over(b.p50_ms.median, c.p50_ms.median),
                        over(b.p50_ms.min, c.p50_ms.max),
                        worst,
                        percents(
                            &by_round(&self.load, scenario, 1, |r| r.p50_ms)
                                .iter()
                                .map(|v| v - 1.0)
                                .collect::<Vec<_>>(),
                            true
                        )
                    ),
                    worst <= 20.0,
                );
            }
            if let (Some(b), Some(c)) = (find(rounds, scenario, 16), find(rounds, "1c", 16)) {
                let share = |proxy: f64, bare: f64| proxy / bare * 100.0;
                let worst = share(b.requests_per_s.min, c.requests_per_s.max);
                add(
                    &format!(
                        "proxy with the {store} ({scenario}) keeps ≥ 90% of bare pingora's requests/s at c=16, in every run"
                    ),
                    format!(
                        "median {:.0}/s vs {:.0}/s: {:.0}%; any run against any run {:.0}% to {:.0}%; round by round {}",
                        b.requests_per_s.median,
                        c.requests_per_s.median,
                        share(b.requests_per_s.median, c.requests_per_s.median),
                        worst,
                        share(b.requests_per_s.max, c.requests_per_s.min),
                        percents(
                            &by_round(&self.load, scenario, 16, |r| r.requests_per_s),
                            false
                        )
                    ),
                    worst >= 90.0,
                );
            }
        }
        let at = |c: usize| {
            STORES
                .iter()
                .filter_map(|(scenario, store)| {
                    find(&self.load_rounds, scenario, c).map(|r| (*store, r))
                })
                .collect::<Vec<_>>()
        };
        let at_16 = at(16);
        if !at_16.is_empty() {
            add(
                "≥ 5,800 get_current_time calls/s through both binaries at c=16, in every run",
                at_16
                    .iter()
                    .map(|(store, r)| format!("{store} {}/s", r.requests_per_s.show(0)))
                    .collect::<Vec<_>>()
                    .join("; "),
                at_16.iter().all(|(_, r)| r.requests_per_s.min >= 5800.0),
            );
        }
        let at_1 = at(1);
        if !at_1.is_empty() {
            add(
                "p50 < 0.3 ms through both binaries at c=1, in every run",
                at_1.iter()
                    .map(|(store, r)| format!("{store} {} ms", r.p50_ms.show(3)))
                    .collect::<Vec<_>>()
                    .join("; "),
                at_1.iter().all(|(_, r)| r.p50_ms.max < 0.3),
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
        let r = &self.revocation;
        add(
            "a revocation on one replica is refused by another within 1 s, every time",
            format!(
                "median {:.1} ms, max {:.1} ms over {} samples; {} never refused within {:.0} ms",
                r.median_ms, r.max_ms, r.samples, r.not_seen, r.poll_limit_ms
            ),
            r.samples > 0 && r.not_seen == 0 && r.max_ms <= 1000.0,
        );
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
        let proxies = ["proxy", "proxy-redis"];
        // Single runs as measured, interleaved rounds as median (min–max), by scenario.
        let mut lines: Vec<(&str, String)> = Vec::new();
        for row in self.load.iter().filter(|r| r.round.is_none()) {
            lines.push((
                &row.scenario,
                format!(
                    "| {} | {} | {} | {:.1} s | {:.0} | {:.3} | {:.3} | {} | {} | {} | {} | CPU µs/request: {} |",
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
            lines.push((
                &r.scenario,
                format!(
                    "| {} | {} | {} | {} × {:.1} s | {} | {} | {} | {} | {} | {} | {} | median (min–max) of {} interleaved runs; median CPU µs/request: {} |",
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
                    r.runs,
                    per_request(&r.cpu_us_per_request)
                ),
            ));
        }
        lines.sort_by_key(|(scenario, _)| *scenario);
        for (_, line) in lines {
            let _ = writeln!(out, "{line}");
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
        let r = &self.revocation;
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
