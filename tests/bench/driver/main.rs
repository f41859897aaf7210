//! The okta-mcp benchmark driver (issue 6). Run it through `tests/bench/run.sh`, which builds
//! the release binaries first; `tests/bench/README.md` says what each scenario measures.
//!
//! It starts the release `fake-okta`, `okta-mcp-tool-server`, `okta-mcp-proxy` (with its
//! embedded store, and with a real `redis-server`) and the bare pingora example on loopback
//! ports, logs in through the proxy's real OAuth flow, drives load with wrk, prints one
//! Markdown table and writes every number as JSON.
//!
//! `bench-driver [--out PATH] [--quick] [--rounds N] [--slices N] [--only LIST]
//! [--sustained-secs N] [--concurrency LIST] [--guest-halt-poll-ns N] [--turns-of N]
//! [--turn-warm-up K]` (`--help` says more).

mod alternate;
mod alternate_load;
mod idle;
mod load;
mod login;
mod mcp;
mod pin;
mod report;
mod stack;
mod sustained;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use okta_mcp_tool_server::identity::{Identity, IdentityKey, MAX_SKEW_SECS};
use serde_json::{Value, json};

use load::{Auth, Workload, WrkStats};
use mcp::{Credential, McpSession};
use report::{
    ClientCost, ColdStart, Listing, LoadRow, MIN_RUNS, Machine, Millis, RateLimited, Report,
    Revocation, Rss, Settings, Slice, Spread,
};
use stack::{BarePingora, FakeOkta, LogDir, Proc, Proxy, ProxySetup, RedisServer, ToolServer};

/// Prebuilt requests for a warm-up run at least (before any rate is known).
const WARMUP_REQUESTS: usize = 40_000;
/// Single-use requests written for a run: this many times what the highest rate seen so far
/// could send in it, plus `SPARE_REQUESTS`. A run faster than any before must not run out.
const HEADROOM: f64 = 2.5;
const SPARE_REQUESTS: usize = 5_000;
/// The length of one slice of scenario 1 (wrk counts its `-d` in whole seconds).
const SLICE: Duration = Duration::from_secs(1);
/// Requests per turn in the c=1 comparison with turns (`alternate.rs`): about 0.3 s of a
/// target at c=1 here, long enough that the uncounted first tenth covers its warm-up.
const TURNS_OF: usize = 2_000;
/// Answers per turn at c=16 and c=64 with the targets taking turns (`alternate_load.rs`):
/// about a twentieth of a second at this machine's rates. Short turns put a target's turn
/// close in time to the others', so the machine's swings (one turn's rate moves by half from
/// one to the next) hit them alike: at 5000 a second bare pingora read 93–106% of the first
/// round by round, at 1000 97–103%.
const LOAD_TURNS_OF: usize = 1_000;
/// Concurrency levels of scenario 1.
const CONCURRENCY: [usize; 3] = [1, 16, 64];
/// Initialized MCP clients the load rotates through (as many as the highest concurrency).
const LOAD_CLIENTS: usize = 64;
/// The fake org's group with exactly 1,500 members, and its events.
const BIG_GROUP: &str = "00gbiggroup000000001";
const BIG_GROUP_MEMBERS: u64 = 1_500;
const LOG_EVENTS: u64 = 5_000;
/// Okta's largest page for group members and for the System Log.
const OKTA_PAGE: u64 = 1_000;
/// Parallel agents in the concurrent listings of scenario 4.
const AGENTS: usize = 8;
/// How long replica B is polled at most for each revocation in scenario 6.
const REVOCATION_POLL_LIMIT: Duration = Duration::from_secs(3);
/// The tool call every load scenario but 2 sends.
const CURRENT_TIME: &str = r#"{"name":"get_current_time","arguments":{}}"#;

/// The user the fake org logs in (viewer: may call every tool benchmarked here).
const USER_LOGIN: &str = "alice@example.com";
const USER_ID: &str = "00ualice000000000001";

/// The scenarios, as `--only` names them (by name or number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Part {
    /// 1 (a–d): load, the proxies against the tool server alone and bare pingora.
    #[value(alias = "1")]
    Load,
    /// 2: `list_okta_users` through the proxy, and the tool server's CPU per listing.
    #[value(alias = "2")]
    Listing,
    /// 3: cost per MCP client.
    #[value(alias = "3")]
    Clients,
    /// 4: Okta efficiency.
    #[value(alias = "4")]
    Okta,
    /// 5: cold start.
    #[value(alias = "5")]
    ColdStart,
    /// 6: revocation seen by every replica.
    #[value(alias = "6")]
    Revocation,
    /// 7: sustained load, memory over time.
    #[value(alias = "7")]
    Sustained,
}

/// The okta-mcp benchmark (tests/bench/README.md). Run it through tests/bench/run.sh, which
/// builds the release binaries first.
#[derive(Parser)]
struct Args {
    /// Where the JSON goes; the processes' logs go next to it, in logs/ [default:
    /// tests/bench/results/latest.json].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Short runs, to check the driver itself: 1 s load runs, 1 round, 100 MCP clients,
    /// 2 cold starts, 5 revocations, 20 s of sustained load. Targets that need 3 runs are not
    /// judged.
    #[arg(long)]
    quick: bool,
    /// Interleaved rounds of 1a–1d per concurrency [default: 3; 1 with --quick].
    #[arg(long)]
    rounds: Option<usize>,
    /// Scenario 1's measured seconds per target and round, run as N slices of 1 s with 1a–1d
    /// taking turns slice by slice: this machine's speed swings by a third within seconds, and
    /// slices a second apart see much the same machine [default: 5; 1 with --quick].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    slices: Option<u64>,
    /// Run only these scenarios, comma-separated: load (1), listing (2), clients (3), okta (4),
    /// cold-start (5), revocation (6), sustained (7); numbers work too.
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// Length of the sustained-load scenario 7 in seconds; 0 skips it [default: 600; 20 with
    /// --quick].
    #[arg(long)]
    sustained_secs: Option<u64>,
    /// Run scenario 1 at these concurrencies only, comma-separated (of 1, 16, 64), e.g. to
    /// repeat the c=1 comparison with more rounds [default: all three].
    #[arg(long, value_delimiter = ',', value_parser = concurrency_level)]
    concurrency: Vec<usize>,
    /// On a KVM guest whose idle vCPUs halt at once (cpuidle haltpoll with guest_halt_poll_ns
    /// 0, as Firecracker boots them), let them poll this many ns before halting during the run
    /// and put the old value back at the end (needs root). Waking a halted vCPU costs a VM exit;
    /// at c=1 each hop of a request pays it, so p50s then measure the hypervisor as much as the
    /// servers. E.g. 200000. The table's machine line says what was in effect.
    #[arg(long, value_name = "N")]
    guest_halt_poll_ns: Option<u64>,
    /// After the c=1 wrk runs, 1a–1d at c=1 once more with one client taking turns between
    /// them, N requests each, on one kept-alive connection per target: the p50 target at c=1
    /// is judged on these rounds (as many as --rounds, each as long as a round of slices).
    /// Short turns (tens) make the four share the CPU caches; turns of thousands keep each in
    /// the steady state of a single client; tests/bench/README.md says what each showed
    /// [default: 2000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    turns_of: Option<u64>,
    /// Requests at the start of every turn whose latency is not counted (an error among them
    /// still is), so that each target is timed in its steady state [default: a tenth of
    /// --turns-of].
    #[arg(long = "turn-warm-up", value_name = "K")]
    turn_warm_up: Option<u64>,
    /// After the wrk runs at c=16 and c=64, 1a–1d at each once more with c kept-alive
    /// connections to each, all sending to one target until it has answered N requests, then
    /// to the next: the CPU and requests/s targets are judged on these rounds (as many as
    /// --rounds, each as long as a round of slices). N is at least c. The first and last
    /// tenth of every turn's answers are not timed (their errors count). A second bare pingora
    /// (1e) takes turns with them as the control [default: 1000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    load_turns_of: Option<u64>,
}

/// One of the load concurrencies scenario 1 knows.
fn concurrency_level(value: &str) -> Result<usize, String> {
    let c = value
        .parse::<usize>()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if CONCURRENCY.contains(&c) {
        Ok(c)
    } else {
        Err(format!("scenario 1 runs at {CONCURRENCY:?}, not at {c}"))
    }
}

/// How much of each scenario to run, from the flags.
struct Plan {
    quick: bool,
    only: Vec<Part>,
    /// Each measured wrk run, and the warm-up before it.
    duration: Duration,
    warmup: Duration,
    /// Interleaved rounds of 1a–1d per concurrency.
    rounds: usize,
    /// Slices of `SLICE` per target and round in scenario 1.
    slices: usize,
    /// Scenario 1's concurrencies.
    concurrency: Vec<usize>,
    /// MCP clients opened in scenario 3 (and as many again).
    clients: usize,
    /// Cold starts measured per binary.
    cold_starts: usize,
    /// Revocations timed in scenario 6.
    revocations: usize,
    /// Scenario 7.
    sustained: Duration,
    /// Requests per turn in the c=1 comparison with turns, and how many at the start of
    /// each turn are not timed.
    turns_of: usize,
    turn_warm_up: usize,
    /// Answers per turn at c=16 and c=64 with the targets taking turns.
    load_turns_of: usize,
}

impl Plan {
    fn from_args(args: &Args) -> Self {
        let quick = args.quick;
        let turns_of = args.turns_of.map_or(TURNS_OF, |n| n as usize);
        Self {
            quick,
            only: args.only.clone(),
            duration: Duration::from_secs(if quick { 1 } else { 5 }),
            warmup: Duration::from_secs(1),
            rounds: args
                .rounds
                .unwrap_or(if quick { 1 } else { MIN_RUNS })
                .max(1),
            slices: args
                .slices
                .map_or(if quick { 1 } else { 5 }, |n| n as usize),
            concurrency: if args.concurrency.is_empty() {
                CONCURRENCY.to_vec()
            } else {
                CONCURRENCY
                    .into_iter()
                    .filter(|c| args.concurrency.contains(c))
                    .collect()
            },
            clients: if quick { 100 } else { 1_000 },
            cold_starts: if quick { 2 } else { 5 },
            revocations: if quick { 5 } else { 20 },
            sustained: Duration::from_secs(args.sustained_secs.unwrap_or(if quick {
                20
            } else {
                600
            })),
            turns_of,
            turn_warm_up: args.turn_warm_up.map_or(turns_of / 10, |k| k as usize),
            load_turns_of: args.load_turns_of.map_or(LOAD_TURNS_OF, |n| n as usize),
        }
    }

    /// Whether `part` is to run.
    fn runs(&self, part: Part) -> bool {
        (self.only.is_empty() || self.only.contains(&part))
            && (part != Part::Sustained || !self.sustained.is_zero())
    }

    fn settings(&self) -> Settings {
        Settings {
            quick: self.quick,
            only: self
                .only
                .iter()
                .filter_map(clap::ValueEnum::to_possible_value)
                .map(|v| v.get_name().to_owned())
                .collect(),
            run_s: self.duration.as_secs(),
            warmup_s: self.warmup.as_secs(),
            rounds: self.rounds,
            slices: self.slices,
            slice_s: SLICE.as_secs(),
            concurrency: self.concurrency.clone(),
            sustained_s: if self.runs(Part::Sustained) {
                self.sustained.as_secs()
            } else {
                0
            },
            identity_max_skew_s: MAX_SKEW_SECS,
            max_single_use_run_s: load::max_single_use_run().as_secs_f64(),
        }
    }
}

struct Bench {
    plan: Plan,
    http: reqwest::Client,
    logs: LogDir,
    scratch: PathBuf,
    key: IdentityKey,
    alice: Identity,
    /// The highest requests/s of any run so far, to size the next run's single-use requests.
    max_rps: f64,
    notes: Vec<String>,
    /// Scenario 1 at c=1 with the targets taking turns (`alternate.rs`).
    alternating: Vec<alternate::Round>,
    /// Scenario 1 at c=16 and c=64 with the targets taking turns (`alternate_load.rs`).
    alternating_load: Vec<alternate_load::Round>,
}

impl Bench {
    /// Single-use requests to write for a run of `length` that may go at `rate` per second.
    fn single_use_requests(&self, length: Duration, rate: f64) -> usize {
        let rate = if rate.is_finite() { rate } else { 0.0 };
        (HEADROOM * rate.max(self.max_rps) * length.as_secs_f64()) as usize + SPARE_REQUESTS
    }

    /// Remembers the rate of a run.
    fn saw(&mut self, stats: &WrkStats) {
        let rate = stats.rps();
        if rate.is_finite() {
            self.max_rps = self.max_rps.max(rate);
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args = Args::parse();
    let plan = Plan::from_args(&args);
    // Straight-to-tool-server runs sign their headers beforehand: refuse a plan they outlast.
    load::check_fits_identity_window(plan.duration)?;
    load::check_fits_identity_window(plan.warmup)?;
    if plan.turn_warm_up >= plan.turns_of {
        bail!(
            "--turn-warm-up {} leaves nothing of a turn of {} to count: give it fewer than \
             --turns-of",
            plan.turn_warm_up,
            plan.turns_of
        );
    }
    let out = args
        .out
        .unwrap_or_else(|| stack::workspace_root().join("tests/bench/results/latest.json"));
    let dir = out.parent().context("--out has no directory")?.to_owned();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    // Set for the whole run, back to what it was when the driver returns.
    let _halt_poll = args
        .guest_halt_poll_ns
        .map(idle::HaltPoll::set)
        .transpose()?;
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339();
    let mut machine = Machine::probe();
    println!(
        "okta-mcp benchmark: {} × {}, load average {}{} (other work on this machine skews the numbers)",
        machine.nproc,
        machine.cpu_model,
        machine.load_average_start,
        machine.idle_note(", idle: ")
    );
    let settings = plan.settings();
    let mut bench = Bench {
        plan,
        http: reqwest::Client::new(),
        logs: LogDir(logs.clone()),
        scratch: logs,
        key: IdentityKey::new(stack::IDENTITY_KEY)?,
        alice: Identity {
            role: "viewer".into(),
            subject: USER_ID.into(),
            email: USER_LOGIN.into(),
        },
        max_rps: 0.0,
        notes: Vec::new(),
        alternating: Vec::new(),
        alternating_load: Vec::new(),
    };

    let (main_port, clients_port, redis_port, sustained_port) = (
        stack::free_port()?,
        stack::free_port()?,
        stack::free_port()?,
        stack::free_port()?,
    );
    let callback = |port: u16| format!("http://127.0.0.1:{port}/oauth/callback");
    let okta = FakeOkta::start(
        &bench.logs,
        &[
            callback(main_port),
            callback(clients_port),
            callback(redis_port),
            callback(sustained_port),
        ],
    )?;
    okta.control(&bench.http, "oidc", json!({"auto_login": USER_LOGIN}))
        .await?;

    let mut cold = Vec::new();
    if bench.plan.runs(Part::ColdStart) {
        step("5: cold start");
        cold = cold_start(&bench, &okta).await?;
    }
    let mut clients = None;
    if bench.plan.runs(Part::Clients) {
        step("3: cost per MCP client");
        clients = Some(client_cost(&bench, &okta, clients_port).await?);
    }

    let (mut load, mut revocations, mut listings, mut rate_limited) =
        (Vec::new(), None, Vec::new(), None);
    let (runs_load, runs_revocation, runs_okta) = (
        bench.plan.runs(Part::Load) || bench.plan.runs(Part::Listing),
        bench.plan.runs(Part::Revocation),
        bench.plan.runs(Part::Okta),
    );
    if runs_load || runs_revocation || runs_okta {
        let tool_server =
            ToolServer::start(&bench.http, &bench.logs, "tool-server", &okta, &[], &[]).await?;
        if runs_load || runs_revocation {
            let redis = RedisServer::start(&bench.logs).await?;
            let proxy_redis = Proxy::start(
                &bench.http,
                &bench.logs,
                ProxySetup::redis("proxy-redis", redis_port, &redis),
                &okta,
                &tool_server,
            )
            .await?;
            if runs_load {
                step("1, 2: load");
                let proxy = Proxy::start(
                    &bench.http,
                    &bench.logs,
                    ProxySetup::embedded("proxy", main_port),
                    &okta,
                    &tool_server,
                )
                .await?;
                let bare =
                    BarePingora::start(&bench.http, &bench.logs, &tool_server, report::BARE.1)
                        .await?;
                let control =
                    BarePingora::start(&bench.http, &bench.logs, &tool_server, report::CONTROL.1)
                        .await?;
                let stack = LoadStack {
                    okta: &okta,
                    tool: &tool_server,
                    proxy: &proxy,
                    proxy_redis: &proxy_redis,
                    redis: &redis,
                    bare: &bare,
                    control: &control,
                };
                load = load_scenarios(&mut bench, &stack).await?;
            }
            if runs_revocation {
                step("6: revocation seen by every replica");
                revocations =
                    Some(revocation(&bench, &okta, &tool_server, &redis, &proxy_redis).await?);
            }
        }
        if runs_okta {
            step("4: Okta efficiency");
            let (rows, limited) = okta_efficiency(&bench, &okta, &tool_server).await?;
            (listings, rate_limited) = (rows, Some(limited));
        }
    }

    let mut sustained = None;
    if bench.plan.runs(Part::Sustained) {
        step("7: sustained load");
        sustained = Some(sustained::run(&bench, &okta, sustained_port).await?);
    }
    drop(okta);

    machine.load_average_end = report::load_average();
    let mut report = Report {
        machine,
        settings,
        started_at,
        run_seconds: started.elapsed().as_secs_f64(),
        load_rounds: report::rounds(&load),
        load,
        clients,
        okta: listings,
        rate_limited,
        cold_start: cold,
        revocation: revocations,
        sustained,
        alternating: bench.alternating,
        alternating_load: bench.alternating_load,
        targets: Vec::new(),
        notes: bench.notes,
    };
    report.check_targets();
    println!("\n{}", report.markdown());
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
    println!(
        "Raw numbers: {} (run took {:.0} s)",
        out.display(),
        report.run_seconds
    );
    Ok(())
}

fn step(what: &str) {
    eprintln!("[bench] scenario {what}");
}

/// Scenario 5: start to `/health` (tool server) and to `/ready` (proxy), a few times each.
async fn cold_start(bench: &Bench, okta: &FakeOkta) -> anyhow::Result<Vec<ColdStart>> {
    let mut tool_ms = Vec::new();
    let mut proxy_ms = Vec::new();
    for i in 0..bench.plan.cold_starts {
        let name = format!("cold-tool-server-{i}");
        let tool = ToolServer::start(&bench.http, &bench.logs, &name, okta, &[], &[]).await?;
        tool_ms.push(tool.ready_after.as_secs_f64() * 1e3);
        let name = format!("cold-proxy-{i}");
        let setup = ProxySetup::embedded(&name, stack::free_port()?);
        let proxy = Proxy::start(&bench.http, &bench.logs, setup, okta, &tool).await?;
        proxy_ms.push(proxy.ready_after.as_secs_f64() * 1e3);
    }
    let summary = |what: &str, endpoint: &str, runs: Vec<f64>| {
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        ColdStart {
            what: what.into(),
            endpoint: endpoint.into(),
            median_ms: sorted[sorted.len() / 2],
            max_ms: sorted[sorted.len() - 1],
            runs_ms: runs,
        }
    };
    Ok(vec![
        summary("tool server", "/health", tool_ms),
        summary(
            "proxy (tool server and Okta up)",
            "/ready (Okta discovery done, tool server answering)",
            proxy_ms,
        ),
    ])
}

fn rss(proxy: &Proc, tool: &Proc) -> Rss {
    Rss {
        proxy_kib: proxy.rss_kib(),
        tool_server_kib: tool.rss_kib(),
    }
}

/// Scenario 3: memory idle and per MCP client, and the time to open one. Each client
/// initializes through the proxy and calls a tool, then all of them call again: what a server
/// keeps per client (a session, or nothing) is what the memory grows by.
async fn client_cost(bench: &Bench, okta: &FakeOkta, port: u16) -> anyhow::Result<ClientCost> {
    let tool = ToolServer::start(
        &bench.http,
        &bench.logs,
        "clients-tool-server",
        okta,
        &[],
        &[],
    )
    .await?;
    let count = bench.plan.clients;
    let setup = ProxySetup::embedded("clients-proxy", port);
    let proxy = Proxy::start(&bench.http, &bench.logs, setup, okta, &tool).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut cost = ClientCost {
        clients: count,
        idle: rss(&proxy.proc, &tool.proc),
        ..ClientCost::default()
    };
    let credential = Credential::Bearer(login::access_token(&proxy.mcp_url()).await?);
    // One client first, so one-time allocations are not counted per client.
    let mut first = McpSession::open(&bench.http, &proxy.mcp_url(), credential.clone()).await?;
    first.call("get_current_time", json!({})).await?;
    cost.after_login = rss(&proxy.proc, &tool.proc);

    let mut open_ms = Vec::with_capacity(count);
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let t = Instant::now();
        match McpSession::open(&bench.http, &proxy.mcp_url(), credential.clone()).await {
            Ok(mut client) => {
                open_ms.push(t.elapsed().as_secs_f64() * 1e3);
                if let Err(error) = client.call("get_current_time", json!({})).await {
                    cost.call_errors += 1;
                    eprintln!("[bench] a client's first call failed: {error:#}");
                }
                cost.session_ids += u64::from(client.session_id.is_some());
                clients.push(client);
            }
            Err(error) => {
                cost.open_errors += 1;
                eprintln!("[bench] opening a client failed: {error:#}");
            }
        }
    }
    cost.open = rss(&proxy.proc, &tool.proc);
    cost.open_ms = Millis::of(&mut open_ms);
    let per_client =
        |after: u64, before: u64| (after as f64 - before as f64) * 1024.0 / count as f64;
    cost.per_client_bytes_proxy = per_client(cost.open.proxy_kib, cost.after_login.proxy_kib);
    cost.per_client_bytes_tool_server =
        per_client(cost.open.tool_server_kib, cost.after_login.tool_server_kib);

    // Every client keeps calling: a second call each must not cost memory per client.
    for client in &mut clients {
        if client.call("get_current_time", json!({})).await.is_err() {
            cost.call_errors += 1;
        }
    }
    cost.called_again = rss(&proxy.proc, &tool.proc);

    // As many clients again: memory the first ones used should be reused, not added to.
    for _ in 0..count {
        match McpSession::open(&bench.http, &proxy.mcp_url(), credential.clone()).await {
            Ok(mut client) => {
                if client.call("get_current_time", json!({})).await.is_err() {
                    cost.call_errors += 1;
                }
            }
            Err(_) => cost.open_errors += 1,
        }
    }
    cost.more_clients = rss(&proxy.proc, &tool.proc);
    Ok(cost)
}

/// CPU seconds of each process so far.
fn cpu_of(procs: &[&Proc]) -> BTreeMap<String, f64> {
    procs
        .iter()
        .map(|p| (p.name.clone(), p.cpu_seconds()))
        .collect()
}

/// CPU seconds each process used between two `cpu_of` readings, and per request in µs.
fn cpu_used(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    requests: u64,
) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let cpu_s: BTreeMap<String, f64> = after
        .iter()
        .map(|(name, a)| (name.clone(), a - before.get(name).copied().unwrap_or(0.0)))
        .collect();
    let per_request = report::per_request(&cpu_s, requests);
    (cpu_s, per_request)
}

/// What a wrk run is, in the report.
struct Label<'a> {
    scenario: &'a str,
    what: &'a str,
    okta_latency_ms: Option<u64>,
    round: Option<usize>,
}

impl<'a> Label<'a> {
    /// A run of scenario 1 or 2 without Okta latency, not part of rounds.
    fn once(scenario: &'a str, what: &'a str) -> Self {
        Self {
            scenario,
            what,
            okta_latency_ms: None,
            round: None,
        }
    }
}

/// A warm-up run of `work`, not measured (its rate sizes the next runs' signed requests).
async fn warm_up(bench: &mut Bench, work: &Workload<'_>, concurrency: usize) -> anyhow::Result<()> {
    let warmup = bench.plan.warmup;
    let count = bench.single_use_requests(warmup, 0.0).max(WARMUP_REQUESTS);
    let warm = load::run(work, concurrency, warmup, count, &bench.scratch).await?;
    if warm.wraps == 0 {
        bench.saw(&warm);
    }
    Ok(())
}

/// One measured wrk run of `duration` and the CPU the processes used during it. Signed
/// requests are sized from the highest rate seen so far; a run that still ran out of them
/// (wrk started over, replaying used nonces) is thrown away and run once more with more.
async fn measured_run(
    bench: &mut Bench,
    label: &Label<'_>,
    work: &Workload<'_>,
    concurrency: usize,
    duration: Duration,
    procs: &[&Proc],
) -> anyhow::Result<Slice> {
    let scenario = label.scenario;
    let round = label.round.map_or(String::new(), |r| format!(" round {r}"));
    let mut count = bench.single_use_requests(duration, 0.0);
    let mut discarded = Vec::new();
    loop {
        let before = cpu_of(procs);
        let stats = load::run(work, concurrency, duration, count, &bench.scratch).await?;
        let after = cpu_of(procs);
        let wrapped = stats.single_use && stats.wraps > 0;
        if !wrapped {
            bench.saw(&stats);
        }
        // Replayed nonces are refused fast, so this rate overstates: room to spare.
        if wrapped && discarded.is_empty() {
            eprintln!(
                "[bench]   {scenario} c={concurrency}{round}: ran out of its {} signed requests \
                 ({} wraps, {:.0} req/s); running it again with more",
                stats.prebuilt,
                stats.wraps,
                stats.rps()
            );
            count = bench.single_use_requests(duration, stats.rps());
            discarded.push(stats);
            continue;
        }
        let (cpu_s, _) = cpu_used(&before, &after, stats.requests);
        return Ok(Slice {
            stats,
            cpu_s,
            discarded,
        });
    }
}

/// The row of `label` from its measured runs (one, or a round's slices), printed as it goes.
fn row_of(label: &Label<'_>, concurrency: usize, slices: Vec<Slice>) -> LoadRow {
    let row = LoadRow::of_slices(
        label.scenario,
        label.what,
        concurrency,
        label.round,
        label.okta_latency_ms,
        slices,
    );
    let round = label.round.map_or(String::new(), |r| format!(" round {r}"));
    eprintln!(
        "[bench]   {} c={concurrency}{round}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, errors {}",
        label.scenario, row.requests_per_s, row.p50_ms, row.p99_ms, row.errors
    );
    if let Some(bad) = &row.wrk.first_bad {
        eprintln!("[bench]   first bad answer: {bad}");
    }
    row
}

/// One measured wrk run after a warm-up, as a row.
async fn measure(
    bench: &mut Bench,
    label: Label<'_>,
    work: &Workload<'_>,
    concurrency: usize,
    procs: &[&Proc],
) -> anyhow::Result<LoadRow> {
    warm_up(bench, work, concurrency).await?;
    let duration = bench.plan.duration;
    let run = measured_run(bench, &label, work, concurrency, duration, procs).await?;
    Ok(row_of(&label, concurrency, vec![run]))
}

/// Initializes `n` clients at `url`; their session ids ("" where the server gave none).
async fn open_sessions(
    bench: &Bench,
    url: &str,
    credential: &Credential,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let client = McpSession::open(&bench.http, url, credential.clone()).await?;
        ids.push(client.session_id.unwrap_or_default());
    }
    Ok(ids)
}

/// The processes scenarios 1 and 2 run against.
struct LoadStack<'a> {
    okta: &'a FakeOkta,
    tool: &'a ToolServer,
    /// With the embedded store.
    proxy: &'a Proxy,
    /// With its state in `redis`.
    proxy_redis: &'a Proxy,
    redis: &'a RedisServer,
    bare: &'a BarePingora,
    /// A second bare pingora, the control of the rounds of turns at c=16 and c=64.
    control: &'a BarePingora,
}

/// Scenarios 1 (a, b, c, d) and 2.
async fn load_scenarios(bench: &mut Bench, stack: &LoadStack<'_>) -> anyhow::Result<Vec<LoadRow>> {
    let LoadStack {
        okta,
        tool,
        proxy,
        proxy_redis,
        redis,
        bare,
        control,
    } = *stack;
    let token = login::access_token(&proxy.mcp_url()).await?;
    let token_redis = login::access_token(&proxy_redis.mcp_url()).await?;
    // Owned here: the workloads borrow them while `measure` updates the bench.
    let (key, alice) = (bench.key.clone(), bench.alice.clone());
    let signed = Credential::Signed(key.clone(), alice.clone());
    let bearer = Credential::Bearer(token.clone());
    let bearer_redis = Credential::Bearer(token_redis.clone());
    let direct_sessions = open_sessions(bench, &tool.mcp_url(), &signed, LOAD_CLIENTS).await?;
    let proxied_sessions = open_sessions(bench, &proxy.mcp_url(), &bearer, LOAD_CLIENTS).await?;
    let redis_sessions =
        open_sessions(bench, &proxy_redis.mcp_url(), &bearer_redis, LOAD_CLIENTS).await?;

    let time = CURRENT_TIME;
    let direct = Workload {
        url: tool.mcp_url(),
        auth: Auth::Signed(&key, &alice),
        sessions: &direct_sessions,
        params: time,
    };
    let proxied = Workload {
        url: proxy.mcp_url(),
        auth: Auth::Bearer(&token),
        sessions: &proxied_sessions,
        params: time,
    };
    let proxied_redis = Workload {
        url: proxy_redis.mcp_url(),
        auth: Auth::Bearer(&token_redis),
        sessions: &redis_sessions,
        params: time,
    };
    let via_bare = Workload {
        url: bare.mcp_url(),
        auth: Auth::Signed(&key, &alice),
        sessions: &direct_sessions,
        params: time,
    };
    // The tool server alone, the proxies with either store and bare pingora, compared over
    // interleaved rounds.
    let compared: [(&str, &str, &Workload<'_>, Vec<&Proc>); 4] = [
        (
            "1a",
            "get_current_time → tool server (signed identity headers)",
            &direct,
            vec![&tool.proc],
        ),
        (
            "1b",
            "get_current_time → proxy (bearer token, embedded store) → tool server",
            &proxied,
            vec![&proxy.proc, &tool.proc],
        ),
        (
            "1d",
            "get_current_time → proxy (bearer token, Redis store) → tool server",
            &proxied_redis,
            vec![&proxy_redis.proc, &redis.proc, &tool.proc],
        ),
        (
            "1c",
            "get_current_time → bare pingora → tool server",
            &via_bare,
            vec![&bare.proc, &tool.proc],
        ),
    ];
    let mut rows = Vec::new();
    // Interleaved by concurrency and by round, each round starting with the next of them, so
    // a disturbance hits them alike.
    let concurrency = if bench.plan.runs(Part::Load) {
        bench.plan.concurrency.clone()
    } else {
        Vec::new()
    };
    let n = compared.len();
    for &c in &concurrency {
        for round in 0..bench.plan.rounds {
            // A warm-up of each, then the slices; each pass starts with the next of them.
            for i in 0..n {
                let (_, _, work, _) = &compared[(round + i) % n];
                warm_up(bench, work, c).await?;
            }
            let mut slices: Vec<Vec<Slice>> = (0..n).map(|_| Vec::new()).collect();
            for pass in 0..bench.plan.slices {
                for i in 0..n {
                    let k = (round + pass + i) % n;
                    let (scenario, what, work, procs) = &compared[k];
                    let label = Label {
                        round: Some(round + 1),
                        ..Label::once(scenario, what)
                    };
                    slices[k].push(measured_run(bench, &label, work, c, SLICE, procs).await?);
                }
            }
            for (k, runs) in slices.into_iter().enumerate() {
                let (scenario, what, ..) = &compared[k];
                let label = Label {
                    round: Some(round + 1),
                    ..Label::once(scenario, what)
                };
                rows.push(row_of(&label, c, runs));
            }
        }
    }
    rows.sort_by(|x, y| x.scenario.cmp(&y.scenario));
    // A round of turns as long as a round of slices: each target gets as many seconds.
    let turns_length = SLICE * (bench.plan.slices * compared.len()) as u32;
    // The four again for the rounds of turns, in the order of `compared`, each with its first
    // MCP client's session; at c=16 and c=64 the control after them.
    let first = |ids: &[String]| ids.first().cloned().unwrap_or_default();
    let targets = [
        ("1a", tool.mcp_url(), &signed, &direct_sessions),
        ("1b", proxy.mcp_url(), &bearer, &proxied_sessions),
        ("1d", proxy_redis.mcp_url(), &bearer_redis, &redis_sessions),
        ("1c", bare.mcp_url(), &signed, &direct_sessions),
        (
            report::CONTROL.0,
            control.mcp_url(),
            &signed,
            &direct_sessions,
        ),
    ]
    .map(|(scenario, url, credential, sessions)| alternate::Target {
        scenario,
        url,
        credential: credential.clone(),
        session: first(sessions),
        params: CURRENT_TIME,
    });
    let loaded: Vec<usize> = concurrency.iter().copied().filter(|&c| c > 1).collect();
    if !loaded.is_empty() {
        // c=16 and c=64 once more, the four taking turns on c connections each: the CPU and
        // requests/s targets.
        let turn = bench.plan.load_turns_of;
        let warm = turn / 10;
        // The processes serving each, by the names their CPU goes by in the rows.
        let processes = compared
            .iter()
            .map(|(.., procs)| procs.as_slice())
            .chain([[&control.proc, &tool.proc].as_slice()])
            .map(|procs| procs.iter().map(|p| (p.name.clone(), p.pid())).collect())
            .collect::<Vec<Vec<(String, u32)>>>();
        let (rounds, warmup) = (bench.plan.rounds, bench.plan.warmup);
        for &c in &loaded {
            eprintln!(
                "[bench]   c={c} taking turns: {rounds} round(s) of {} s, {turn} answers per \
                 turn, the first and last {warm} of each not timed",
                turns_length.as_secs(),
            );
            let measured = alternate_load::run(
                &targets,
                &processes,
                c,
                rounds,
                turns_length,
                warmup,
                turn,
                warm,
            )
            .await?;
            bench.alternating_load.extend(measured);
        }
        bench.notes.push(format!(
            "c={} taking turns: c kept-alive connections to each of 1a–1d and to a second bare \
             pingora (1e, the control), all sending to one target until it has answered {turn} \
             requests, then to the next (each pass starting with the next of them), rounds of \
             {} s; a turn's rate is timed from its {warm}th answer to its {}th, every answer \
             checked",
            loaded
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" and c="),
            turns_length.as_secs(),
            turn - warm,
        ));
    }
    if concurrency.contains(&1) {
        // c=1 once more, the four taking turns on one connection each: the p50 target.
        let (turn, warm) = (bench.plan.turns_of, bench.plan.turn_warm_up);
        // 1a–1d: the control is for the rounds at c=16 and c=64.
        let targets = targets[..compared.len()].to_vec();
        let length = turns_length;
        let (rounds, warmup) = (bench.plan.rounds, bench.plan.warmup);
        eprintln!(
            "[bench]   c=1 taking turns: {rounds} round(s) of {} s, {turn} requests per turn, \
             the first {warm} of each not timed",
            length.as_secs(),
        );
        let servers = [
            &tool.proc,
            &proxy.proc,
            &proxy_redis.proc,
            &redis.proc,
            &bare.proc,
        ]
        .map(Proc::pid);
        let (alternating, pinned) = tokio::task::spawn_blocking(move || {
            let pinned = pin::Pinned::client_apart_from(&servers)?;
            let placed = pinned.is_some();
            let rounds = alternate::run(&targets, rounds, length, warmup, turn, warm);
            if let Some(pinned) = pinned {
                pinned.restore()?;
            }
            anyhow::Ok((rounds?, placed))
        })
        .await??;
        bench.alternating = alternating;
        bench.notes.push(format!(
            "c=1 taking turns: one client on a kept-alive connection to each of 1a–1d, {turn} \
             requests per turn, the first {warm} of each not timed, rounds of {} s{}",
            length.as_secs(),
            if pinned {
                "; the client on the first CPU the driver may use and every server (tool server, \
                 both proxies, redis-server, bare pingora) on the others while they run"
            } else {
                "; one CPU, so client and servers share it"
            }
        ));
    }
    // What 1a–1d ran with (scenario 2 alone runs none of them; the settings line gives its
    // run length).
    if !concurrency.is_empty() {
        bench.notes.push(format!(
            "load runs: 1a, 1b, 1c and 1d run {} interleaved rounds per concurrency; a round \
         is a {} s warm-up of each, then {} slices of {} s of each, the four taking turns slice \
         by slice (each pass starting with the next of them); a round's row sums its slices' \
         requests, time and CPU and takes the median of their p50s and p99s (median and \
         min–max over the rounds without errors shown; every slice is in latest.json); wrk \
         with 1 thread at c=1 and 2 threads above; requests rotate over {LOAD_CLIENTS} \
         initialized MCP clients (with their session ids, if the server gave any); every 200th \
         response body is checked for a JSON-RPC result without an error; signed requests: \
         {HEADROOM}× what the highest rate so far sends in a run, plus {SPARE_REQUESTS}, signed \
         just before the run and stamped with its middle (identity window ±{MAX_SKEW_SECS} s)",
            bench.plan.rounds,
            bench.plan.warmup.as_secs(),
            bench.plan.slices,
            SLICE.as_secs(),
        ));
    }
    if !bench.plan.runs(Part::Listing) {
        return Ok(rows);
    }

    let users = r#"{"name":"list_okta_users","arguments":{"limit":200}}"#;
    let proxied_users = Workload {
        params: users,
        ..proxied
    };
    bench
        .notes
        .push(list_answer_sizes(bench, proxy, &token).await?);
    let mut listing_cpu: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for latency in [0, 50] {
        okta.control(&bench.http, "faults", json!({"latency_ms": latency}))
            .await?;
        // Without Okta latency the tool server's CPU per listing is a target: several runs.
        let rounds = if latency == 0 { bench.plan.rounds } else { 1 };
        for c in [1, 16] {
            for round in 0..rounds {
                let what = format!(
                    "list_okta_users (limit 200) → proxy → tool server → fake Okta (+{latency} ms)"
                );
                let label = Label {
                    okta_latency_ms: Some(latency),
                    round: (rounds > 1).then_some(round + 1),
                    ..Label::once("2", &what)
                };
                let row = measure(
                    bench,
                    label,
                    &proxied_users,
                    c,
                    &[&proxy.proc, &tool.proc, &okta.proc],
                )
                .await?;
                if latency == 0
                    && row.errors == 0
                    && let Some(cpu) = row.cpu_us_per_request.get("tool-server")
                {
                    listing_cpu.entry(c).or_default().push(*cpu);
                }
                rows.push(row);
            }
        }
    }
    okta.control(&bench.http, "faults/reset", json!({})).await?;
    for (c, runs) in &listing_cpu {
        let spread = report::Spread::of(runs.iter().copied());
        bench.notes.push(format!(
            "list_okta_users (200 users, +0 ms) at c={c}: tool-server CPU per call {} µs, per \
             user {:.1} ({:.1}–{:.1}) µs, over {} runs",
            spread.show(0),
            spread.median / 200.0,
            spread.min / 200.0,
            spread.max / 200.0,
            runs.len()
        ));
    }
    Ok(rows)
}

/// What one `list_okta_users` (limit 200) answers through the proxy: the bytes of the whole
/// JSON-RPC message, of `structuredContent` and of the text, per user; and the same when the
/// caller asks for every field (`fields: ["*"]`).
async fn list_answer_sizes(bench: &Bench, proxy: &Proxy, token: &str) -> anyhow::Result<String> {
    let credential = Credential::Bearer(token.to_owned());
    let mut client = McpSession::open(&bench.http, &proxy.mcp_url(), credential).await?;
    let mut parts = Vec::new();
    for (label, arguments) in [
        ("default", json!({"limit": 200})),
        ("fields=[\"*\"]", json!({"limit": 200, "fields": ["*"]})),
    ] {
        let answer = client
            .send(
                "tools/call",
                json!({"name": "list_okta_users", "arguments": arguments}),
            )
            .await?;
        let message = answer.message.unwrap_or_default();
        let result = &message["result"];
        let structured = result
            .get("structuredContent")
            .map_or(0, |s| s.to_string().len());
        let text = result["content"][0]["text"].as_str().map_or(0, str::len);
        let users = result["structuredContent"]["count"]
            .as_u64()
            .unwrap_or(0)
            .max(1);
        let whole = serde_json::to_string(&message).map_or(0, |m| m.len());
        let error = if result["isError"] == true || message.get("error").is_some() {
            " (an error: this build does not know the argument)"
        } else {
            ""
        };
        parts.push(format!(
            "{label}: {whole} bytes, {:.0} per user (structuredContent {structured}, text \
             {text}){error}",
            whole as f64 / users as f64
        ));
    }
    Ok(format!(
        "list_okta_users (limit 200) answer through the proxy: {}",
        parts.join("; ")
    ))
}

/// The HTTP status of one `initialize` to `url` with `token` (401 once it is revoked there).
async fn initialize_status(bench: &Bench, url: &str, token: &str) -> anyhow::Result<u16> {
    let initialize = json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": mcp::PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "okta-mcp-bench", "version": "1"}
        }
    });
    Ok(bench
        .http
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await?
        .status()
        .as_u16())
}

/// Scenario 6: replica B (same public URL, same Redis) starts next to `proxy_a`; each sample
/// refreshes an access token, checks that B accepts it, revokes it on A and polls B's `/mcp`
/// until it answers 401.
async fn revocation(
    bench: &Bench,
    okta: &FakeOkta,
    tool: &ToolServer,
    redis: &RedisServer,
    proxy_a: &Proxy,
) -> anyhow::Result<Revocation> {
    let setup = ProxySetup::redis("proxy-redis-b", stack::free_port()?, redis).replica_of(proxy_a);
    let proxy_b = Proxy::start(&bench.http, &bench.logs, setup, okta, tool).await?;
    let mut login = login::log_in(&proxy_a.mcp_url()).await?;
    let mut result = Revocation {
        samples: bench.plan.revocations,
        poll_limit_ms: REVOCATION_POLL_LIMIT.as_secs_f64() * 1e3,
        ..Revocation::default()
    };
    for _ in 0..bench.plan.revocations {
        let token = login.refresh(&bench.http).await?;
        let status = initialize_status(bench, &proxy_b.mcp_url(), &token).await?;
        if status != 200 {
            bail!("replica B refused a fresh token before its revocation: {status}");
        }
        let sent = Instant::now();
        login.revoke(&bench.http, &token).await?;
        let mut seen = None;
        while sent.elapsed() < REVOCATION_POLL_LIMIT {
            result.polls += 1;
            if initialize_status(bench, &proxy_b.mcp_url(), &token).await? == 401 {
                seen = Some(sent.elapsed());
                break;
            }
        }
        match seen {
            Some(delay) => result.delays_ms.push(delay.as_secs_f64() * 1e3),
            None => result.not_seen += 1,
        }
    }
    let spread = Spread::of(result.delays_ms.iter().copied());
    result.median_ms = spread.median;
    result.max_ms = spread.max;
    eprintln!(
        "[bench]   revocation seen by replica B: median {:.1} ms, max {:.1} ms, {} never",
        result.median_ms, result.max_ms, result.not_seen
    );
    Ok(result)
}

/// What one paging walk through a list got.
#[derive(Default)]
struct Walk {
    items: u64,
    tool_calls: u64,
    errors: u64,
    first_error: Option<String>,
}

/// Pages through `tool` with `after` like a model would, until no cursor is left.
async fn walk(session: &mut McpSession, tool: &str, arguments: Value) -> anyhow::Result<Walk> {
    let mut walk = Walk::default();
    let mut arguments = arguments;
    loop {
        let message = session.call(tool, arguments.clone()).await?;
        walk.tool_calls += 1;
        let result = &message["result"];
        if message.get("error").is_some() || result["isError"] == json!(true) {
            walk.errors += 1;
            walk.first_error.get_or_insert_with(|| message.to_string());
            return Ok(walk);
        }
        let content = &result["structuredContent"];
        walk.items += content["count"].as_u64().unwrap_or(0);
        match content["after"].as_str() {
            Some(after) => arguments["after"] = json!(after),
            None => return Ok(walk),
        }
    }
}

/// The two listings of scenario 4, each as `(what, tool, arguments, items expected)`.
fn listings() -> [(&'static str, &'static str, Value, u64); 2] {
    let until = chrono::Utc::now();
    let since = until - chrono::Duration::days(31);
    [
        (
            "all 1,500 members of a group",
            "list_okta_group_users",
            json!({"group_id": BIG_GROUP, "limit": OKTA_PAGE}),
            BIG_GROUP_MEMBERS,
        ),
        (
            "all 5,000 System Log events",
            "get_okta_event_logs",
            json!({"since": since.to_rfc3339(), "until": until.to_rfc3339(), "limit": OKTA_PAGE}),
            LOG_EVENTS,
        ),
    ]
}

/// Runs `agents` sessions in parallel, each walking the listing; sums what they got.
async fn parallel_walks(
    bench: &Bench,
    url: &str,
    agents: usize,
    tool: &'static str,
    arguments: &Value,
) -> anyhow::Result<Vec<Walk>> {
    let credential = Credential::Signed(bench.key.clone(), bench.alice.clone());
    let mut sessions = Vec::new();
    for _ in 0..agents {
        sessions.push(McpSession::open(&bench.http, url, credential.clone()).await?);
    }
    let tasks = sessions.into_iter().map(|mut session| {
        let arguments = arguments.clone();
        tokio::spawn(async move { walk(&mut session, tool, arguments).await })
    });
    let mut walks = Vec::new();
    for task in join_all(tasks).await {
        walks.push(task??);
    }
    Ok(walks)
}

/// Awaits spawned tasks in order.
async fn join_all<T>(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let handles: Vec<_> = tasks.collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await);
    }
    out
}

/// Waits until no request is in flight at the fake org, then zeroes its counters.
async fn quiet(bench: &Bench, okta: &FakeOkta) -> anyhow::Result<()> {
    for _ in 0..100 {
        if okta.stats(&bench.http).await?["in_flight"].as_u64() == Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    okta.control(&bench.http, "stats/reset", json!({})).await?;
    Ok(())
}

/// Scenario 4: Okta calls and wall time of whole listings at OKTA_CONCURRENT_LIMIT 1 and 15,
/// and errors reaching the model under a small rate budget.
async fn okta_efficiency(
    bench: &Bench,
    okta: &FakeOkta,
    tool15: &ToolServer,
) -> anyhow::Result<(Vec<Listing>, RateLimited)> {
    let tool1 = ToolServer::start(
        &bench.http,
        &bench.logs,
        "tool-server-limit-1",
        okta,
        &[],
        &[("OKTA_CONCURRENT_LIMIT", "1")],
    )
    .await?;
    okta.control(&bench.http, "faults", json!({"latency_ms": 100}))
        .await?;
    // Calls of scenario 2 that wrk abandoned at its end may still be on their way to Okta.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rows = Vec::new();
    for (limit, server) in [(1, &tool1), (15, tool15)] {
        for agents in [1, AGENTS] {
            for (what, tool, arguments, expected_items) in listings() {
                quiet(bench, okta).await?;
                let started = Instant::now();
                let walks =
                    parallel_walks(bench, &server.mcp_url(), agents, tool, &arguments).await?;
                let wall = started.elapsed();
                let stats = okta.stats(&bench.http).await?;
                let per_agent = expected_items.div_ceil(OKTA_PAGE);
                rows.push(Listing {
                    what: what.into(),
                    okta_concurrent_limit: limit,
                    agents,
                    items_per_agent: walks.iter().map(|w| w.items).min().unwrap_or(0),
                    tool_calls: walks.iter().map(|w| w.tool_calls).sum(),
                    okta_calls: stats["requests"].as_u64().unwrap_or(0),
                    expected_okta_calls: per_agent * agents as u64,
                    okta_max_in_flight: stats["max_in_flight"].as_u64().unwrap_or(0),
                    wall_ms: wall.as_secs_f64() * 1e3,
                    errors: walks.iter().map(|w| w.errors).sum::<u64>()
                        + walks.iter().filter(|w| w.items != expected_items).count() as u64,
                });
                if let Some(error) = walks.iter().find_map(|w| w.first_error.clone()) {
                    eprintln!("[bench]   {what}: {error}");
                }
            }
        }
    }
    drop(tool1);

    // A rate budget smaller than the demand: Okta answers 429, the model must never see it.
    let (budget, window, agents) = (8, 2, 3);
    okta.control(
        &bench.http,
        "faults",
        json!({"latency_ms": 0, "rate_limit_per_minute": budget, "rate_limit_reset_secs": window}),
    )
    .await?;
    quiet(bench, okta).await?;
    let started = Instant::now();
    let mut walks = Vec::new();
    for (_, tool, arguments, _) in listings() {
        walks.extend(parallel_walks(bench, &tool15.mcp_url(), agents, tool, &arguments).await?);
    }
    let stats = okta.stats(&bench.http).await?;
    okta.control(&bench.http, "faults/reset", json!({})).await?;
    let limited = RateLimited {
        budget_per_window: budget,
        window_secs: window,
        agents,
        tool_calls: walks.iter().map(|w| w.tool_calls).sum(),
        okta_calls: stats["requests"].as_u64().unwrap_or(0),
        okta_429s: stats["status_429"].as_u64().unwrap_or(0),
        errors_reaching_model: walks.iter().map(|w| w.errors).sum(),
        first_error: walks.iter().find_map(|w| w.first_error.clone()),
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
    };
    Ok((rows, limited))
}
