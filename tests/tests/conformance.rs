//! MCP conformance (issue 13 §1): the pinned `@modelcontextprotocol/conformance` suite (in
//! `tests/clients/package.json`, run with the Node 22 of npm's `node` package there) against
//! - the Okta tool server (`serve`) through the proxy: every server scenario, then the 2025-11-25
//!   and the 2026-07-28 requirement sets, each at its own wire version;
//! - `wrap` + `@modelcontextprotocol/server-everything` through the proxy, the same three runs;
//! - the proxy as the OAuth authorization server (`authorization`: its metadata, then a whole
//!   authorization code grant, consent approved and the fake org logging alice in).
//!
//! The suite's server scenarios cannot log in, so they run with carol's access token (the proxy's
//! own, from a real login) added to each request by `tests/clients/conformance-bearer.mjs`.
//!
//! Many scenarios call fixture tools, prompts and resources (`test_simple_text`, …) that our
//! servers do not have. What is expected to fail, and why, is `tests/conformance/baseline.toml`;
//! a test fails on any failing check not listed there and on any listed check that no longer
//! fails, and prints both lists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use okta_mcp_tests::harness::{
    Stack, WrapStack, everything_server_command, free_port, http_client, workspace_root,
};
use okta_mcp_tests::oauth_flow::{Browser, OAuthClient, log_in, manual_redirect_client};
use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const BASELINE: &str = "tests/conformance/baseline.toml";
/// The most one run of the suite may take: the longest (wrap, every scenario) takes about 25 s
/// on 2 busy cores; all seven take about 50 s, the three tests running in parallel.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);
/// The server runs: every scenario, then each requirement set at its own wire version.
const SERVER_RUNS: [(&str, &[&str]); 3] = [
    ("all", &["--suite", "all"]),
    ("2025-11-25", &["--requirements", "2025-11-25"]),
    ("2026-07-28", &["--requirements", "2026-07-28"]),
];

/// A check's outcome, most severe first (a check id repeated in a scenario keeps its worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Status {
    Failure,
    Warning,
    Success,
    Info,
    Skipped,
}

impl Status {
    fn parse(status: &str) -> Self {
        match status {
            "FAILURE" => Self::Failure,
            "WARNING" => Self::Warning,
            "SUCCESS" => Self::Success,
            "INFO" => Self::Info,
            "SKIPPED" => Self::Skipped,
            other => panic!("unknown check status {other:?}"),
        }
    }
}

/// What one check of one scenario did in one run.
#[derive(Debug, Clone)]
struct Outcome {
    status: Status,
    message: String,
}

/// `(run, scenario, check id)` → outcome.
type Results = BTreeMap<(String, String, String), Outcome>;

/// `tests/conformance/baseline.toml`: the expected failures of each target, grouped by reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Baseline {
    serve: Vec<ExpectedFailures>,
    wrap: Vec<ExpectedFailures>,
    authorization: Vec<ExpectedFailures>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFailures {
    /// Why these checks fail.
    reason: String,
    /// `scenario:check-id`, as the suite prints them.
    checks: Vec<String>,
    /// The runs these apply to (`all`, `2025-11-25`, `2026-07-28`); empty: every run that has
    /// the scenario.
    #[serde(default)]
    runs: Vec<String>,
}

fn baseline() -> Baseline {
    let path = workspace_root().join(BASELINE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{BASELINE}: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{BASELINE}: {e}"))
}

fn clients_dir() -> PathBuf {
    let dir = workspace_root().join("tests/clients");
    assert!(
        dir.join("node_modules/node/bin/node").exists()
            && dir
                .join("node_modules/@modelcontextprotocol/conformance/dist/index.js")
                .exists(),
        "the conformance suite or Node 22 is missing from tests/clients/node_modules: run \
         `npm ci` there (tests/run does)"
    );
    dir
}

/// `conformance ARGS… -o OUT` under Node 22 in `tests/clients`, `preload` imported first.
fn conformance_command(
    args: &[&str],
    out: &Path,
    preload: Option<&str>,
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let dir = clients_dir();
    let mut command = tokio::process::Command::new(dir.join("node_modules/node/bin/node"));
    if let Some(preload) = preload {
        command.args(["--import", preload]);
    }
    command
        .arg("node_modules/@modelcontextprotocol/conformance/dist/index.js")
        .args(args)
        .arg("--output-dir")
        .arg(out)
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Reads every `<prefix><scenario>-<timestamp>/checks.json` the suite wrote to `out`; `printed`
/// is what it printed.
fn read_results(run: &str, out: &Path, prefix: &str, printed: &str, results: &mut Results) {
    let entries = std::fs::read_dir(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let mut scenarios = 0;
    for entry in entries {
        let dir = entry.expect("results entry").path();
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        // `…-2026-12-05T09-15-34-119Z`: the run's timestamp, 25 characters with its dash.
        let scenario = name
            .strip_prefix(prefix)
            .and_then(|s| s.get(..s.len().checked_sub(25)?))
            .unwrap_or_else(|| panic!("unexpected results directory {name}"));
        scenarios += 1;
        let Ok(text) = std::fs::read_to_string(dir.join("checks.json")) else {
            // The scenario threw before it could write its checks: the suite counts one failed
            // check named after the scenario and prints why.
            let said = format!("Failed to run scenario {scenario}: ");
            let message = printed
                .lines()
                .find_map(|l| l.strip_prefix(&said))
                .unwrap_or("no checks.json")
                .to_owned();
            let key = (run.to_owned(), scenario.to_owned(), scenario.to_owned());
            let status = Status::Failure;
            results.insert(key, Outcome { status, message });
            continue;
        };
        let checks: Vec<Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for check in checks {
            let id = check["id"].as_str().expect("check id").to_owned();
            let outcome = Outcome {
                status: Status::parse(check["status"].as_str().expect("check status")),
                message: check["errorMessage"]
                    .as_str()
                    .or(check["description"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            };
            let key = (run.to_owned(), scenario.to_owned(), id);
            match results.get(&key) {
                Some(kept) if kept.status <= outcome.status => {}
                _ => {
                    results.insert(key, outcome);
                }
            }
        }
    }
    assert!(scenarios > 0, "run {run}: the suite wrote no results");
}

/// Runs the server scenarios against `mcp_url` with `token`, in every run of [`SERVER_RUNS`].
async fn server_results(mcp_url: &str, token: &str) -> Results {
    let mut results = Results::new();
    for (run, args) in SERVER_RUNS {
        let out = tempfile::tempdir().expect("results dir");
        let mut all = vec!["server", "--url", mcp_url];
        all.extend_from_slice(args);
        let mut command = conformance_command(
            &all,
            out.path(),
            Some("./conformance-bearer.mjs"),
            &[("CONFORMANCE_URL", mcp_url), ("CONFORMANCE_BEARER", token)],
        );
        let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
            .await
            .unwrap_or_else(|_| panic!("run {run} took longer than {RUN_TIMEOUT:?}"))
            .expect("run the conformance suite");
        // Exit 1 means "something failed", which the baseline judges; a crash leaves no results.
        if std::fs::read_dir(out.path()).map_or(0, Iterator::count) == 0 {
            panic!(
                "run {run} wrote no results ({}): {}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let printed =
            String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        read_results(run, out.path(), "server-", &printed, &mut results);
    }
    results
}

/// Compares `results` with the baseline of `target`; panics with both lists when they differ.
fn compare(target: &str, runs: &[&str], results: &Results, expected: &[ExpectedFailures]) {
    // (run, "scenario:check") → reason
    let mut baseline: BTreeMap<(String, String), &str> = BTreeMap::new();
    for group in expected {
        for run in &group.runs {
            assert!(
                runs.contains(&run.as_str()),
                "{BASELINE}: [{target}] names run {run:?}; runs are {runs:?}"
            );
        }
        let applies: Vec<&str> = if group.runs.is_empty() {
            runs.to_vec()
        } else {
            group.runs.iter().map(String::as_str).collect()
        };
        for check in &group.checks {
            assert!(
                check.contains(':'),
                "{BASELINE}: [{target}] {check:?} is not scenario:check-id"
            );
            for run in &applies {
                let earlier = baseline.insert(((*run).to_owned(), check.clone()), &group.reason);
                assert!(
                    earlier.is_none(),
                    "{BASELINE}: [{target}] lists {check} twice for run {run}"
                );
            }
        }
    }

    let ran: BTreeSet<(&str, &str)> = results
        .keys()
        .map(|(run, scenario, _)| (run.as_str(), scenario.as_str()))
        .collect();
    let mut new_failures = Vec::new();
    let mut unexpected_passes = Vec::new();
    let mut warnings = Vec::new();
    let mut summary = BTreeMap::<&str, [usize; 3]>::new();
    for ((run, scenario, check), outcome) in results {
        let key = (run.clone(), format!("{scenario}:{check}"));
        let counts = summary.entry(run.as_str()).or_default();
        match (outcome.status, baseline.get(&key)) {
            (Status::Failure, Some(_)) => counts[1] += 1,
            (Status::Failure, None) => {
                new_failures.push(format!("  {run} {}: {}", key.1, outcome.message));
            }
            (Status::Success, None) => counts[0] += 1,
            (Status::Warning, None) => {
                counts[2] += 1;
                warnings.push(format!("  {run} {}: {}", key.1, outcome.message));
            }
            (status, Some(reason)) => unexpected_passes.push(format!(
                "  {run} {}: {status:?} (baselined: {reason})",
                key.1
            )),
            (Status::Info | Status::Skipped, None) => {}
        }
    }
    let mut unused = Vec::new();
    for ((run, check), reason) in &baseline {
        let (scenario, id) = check.split_once(':').unwrap_or_default();
        let key = (run.clone(), scenario.to_owned(), id.to_owned());
        if !results.contains_key(&key) && ran.contains(&(run.as_str(), scenario)) {
            unexpected_passes.push(format!(
                "  {run} {check}: not emitted any more (baselined: {reason})"
            ));
        } else if !results.contains_key(&key) {
            unused.push((scenario, check.as_str()));
        }
    }
    // An entry whose scenario ran in none of its runs is stale too.
    for (scenario, check) in &unused {
        if !ran.iter().any(|(_, s)| s == scenario) {
            unexpected_passes.push(format!("  {check}: no run has scenario {scenario}"));
        }
    }

    for (run, [passed, expected, warnings]) in &summary {
        println!(
            "conformance {target} {run}: {passed} passed, {expected} failed as expected \
             ({BASELINE}), {warnings} warnings"
        );
    }
    if !warnings.is_empty() {
        println!("conformance {target} warnings:\n{}", warnings.join("\n"));
    }
    let mut problems = String::new();
    if !new_failures.is_empty() {
        problems += &format!(
            "{} new failure(s), not in {BASELINE} [{target}]:\n{}\n",
            new_failures.len(),
            new_failures.join("\n")
        );
    }
    if !unexpected_passes.is_empty() {
        problems += &format!(
            "{} check(s) in {BASELINE} [{target}] no longer fail (remove them):\n{}\n",
            unexpected_passes.len(),
            unexpected_passes.join("\n")
        );
    }
    assert!(problems.is_empty(), "conformance {target}:\n{problems}");
}

fn run_names() -> Vec<&'static str> {
    SERVER_RUNS.iter().map(|(run, _)| *run).collect()
}

#[tokio::test]
async fn the_okta_tool_server_through_the_proxy_fails_only_what_the_baseline_says() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("carol@example.com").await;
    let tokens = log_in(&manual_redirect_client(), &stack.proxy.public_url).await;
    let results = server_results(&stack.proxy.mcp_url, &tokens.access_token).await;
    compare("serve", &run_names(), &results, &baseline().serve);
}

#[tokio::test]
async fn wrapped_server_everything_through_the_proxy_fails_only_what_the_baseline_says() {
    // The suite opens a session per scenario and ends few of them: room for all of them, and
    // idle ones reaped soon, so the runs measure the protocol and not the session limits.
    let flags = [
        "--max-children",
        "64",
        "--max-children-per-subject",
        "63",
        "--idle-secs",
        "10",
    ];
    let stack = WrapStack::start(
        "policies/everything.toml",
        &flags,
        &everything_server_command(),
    )
    .await;
    stack.okta.auto_login("carol@example.com").await;
    let tokens = log_in(&manual_redirect_client(), &stack.proxy.public_url).await;
    let results = server_results(&stack.proxy.mcp_url, &tokens.access_token).await;
    compare("wrap", &run_names(), &results, &baseline().wrap);
}

#[tokio::test]
async fn the_proxy_as_authorization_server_fails_only_what_the_baseline_says() {
    let stack = Stack::start(&[]).await;
    stack.auto_login("alice@example.com").await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let http = manual_redirect_client();
    let client = OAuthClient::register(&http, &stack.proxy.public_url, &[&callback]).await;

    let out = tempfile::tempdir().expect("results dir");
    let port_arg = port.to_string();
    let resource = client.resource();
    let mut command = conformance_command(
        &[
            "authorization",
            "--url",
            &stack.proxy.public_url,
            "--client-id",
            &client.client_id,
            "--resource",
            &resource,
            "--port",
            &port_arg,
        ],
        out.path(),
        None,
        &[],
    );
    let mut suite = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the conformance suite");
    let mut lines = BufReader::new(suite.stdout.take().expect("stdout")).lines();
    // Its errors, read alongside so a full pipe never stalls it.
    let mut stderr = suite.stderr.take().expect("stderr");
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    });
    let printed = std::sync::Mutex::new(String::new());
    let authorize = format!("{}/authorize?", stack.proxy.public_url);
    let run = async {
        // The suite prints the authorization URL for a person to open, then waits for the
        // redirect to its callback: the "browser" here approves, the fake org logs alice in.
        while let Some(line) = lines.next_line().await.expect("read the suite's output") {
            printed.lock().unwrap().push_str(&format!("{line}\n"));
            if line.starts_with(&authorize) {
                let back = Browser::new(http.clone())
                    .follow(&line, |url| url.as_str().starts_with(&callback))
                    .await;
                let answer = http_client()
                    .get(back.as_str())
                    .send()
                    .await
                    .expect("GET the suite's callback");
                assert!(
                    answer.status().is_success(),
                    "callback: {}",
                    answer.status()
                );
            }
        }
        suite.wait().await.expect("the suite ends")
    };
    tokio::time::timeout(RUN_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| {
            let printed = printed.lock().unwrap();
            panic!("the authorization run took too long; it printed:\n{printed}")
        });
    let mut results = Results::new();
    let printed = printed.into_inner().unwrap() + &errors.await.unwrap_or_default();
    read_results(
        "all",
        out.path(),
        "authorization-server-",
        &printed,
        &mut results,
    );
    assert!(
        results
            .keys()
            .any(|(_, s, _)| s == "authorization-code-grant"),
        "{results:?}\n{printed}"
    );
    compare(
        "authorization",
        &["all"],
        &results,
        &baseline().authorization,
    );
}
