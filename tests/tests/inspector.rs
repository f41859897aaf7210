//! The client newcomers try first: the pinned MCP Inspector 2.x web UI, driven in a real
//! browser through the README's steps (add the server, switch it on, Approve, sign in as alice,
//! open Tools, run `get_current_time`).
//!
//! Real processes: fake-okta (with its OIDC half), okta-mcp-tool-server, okta-mcp-proxy, the
//! Inspector from `tests/clients/node_modules` under Node 22 (npm's `node` package, a dev
//! dependency there: the Inspector wants Node ≥ 22.19), and `node tests/clients/inspector-flow.mjs`
//! driving Debian's Chromium with `playwright-core`. Everything listens on loopback.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use okta_mcp_tests::fake_okta::dataset::ALICE_ID;
use okta_mcp_tests::harness::{
    Stack, VIEWER_TOOLS, free_port, node_client, wait_until_ok, workspace_root,
};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

/// A running Inspector web UI, stopped when dropped; its home and catalog live in `_home`.
struct Inspector {
    _process: tokio::process::Child,
    /// The address it prints, with its API token.
    url: String,
    log: PathBuf,
    _home: tempfile::TempDir,
}

impl Inspector {
    async fn start() -> Self {
        let clients = workspace_root().join("tests/clients");
        let node = clients.join("node_modules/node/bin/node");
        let launcher = clients
            .join("node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js");
        assert!(
            node.exists() && launcher.exists(),
            "the Inspector or Node 22 is missing from tests/clients/node_modules: run `npm ci` \
             there (tests/run does)"
        );
        let home = tempfile::tempdir().expect("inspector home");
        let log = home.path().join("inspector.log");
        let out = std::fs::File::create(&log).expect("inspector log");
        let port = free_port();
        let token = format!("inspector-test-{port}");
        let process = tokio::process::Command::new(&node)
            .arg(&launcher)
            .current_dir(home.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("CLIENT_PORT", port.to_string())
            // The MCP Apps sandbox and app origin: any free port, nothing here uses them.
            .env("MCP_SANDBOX_PORT", "0")
            .env("MCP_APP_ORIGIN_PORT", "0")
            .env("MCP_AUTO_OPEN_ENABLED", "false")
            .env("MCP_INSPECTOR_API_TOKEN", &token)
            .env("MCP_INSPECTOR_SECRET_STORE", "memory")
            .env("MCP_STORAGE_DIR", home.path().join("storage"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("inspector log"))
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .expect("start the Inspector");
        let inspector = Self {
            _process: process,
            url: format!("http://127.0.0.1:{port}/?MCP_INSPECTOR_API_TOKEN={token}"),
            log,
            _home: home,
        };
        let up = wait_until_ok(&format!("http://127.0.0.1:{port}/"), 1200).await;
        assert!(up, "the Inspector did not start: {}", inspector.logs());
        inspector
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

#[tokio::test]
async fn alice_adds_the_server_in_the_inspector_signs_in_and_runs_get_current_time() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test drives a real browser; install it with \
         `apt-get install -y chromium` (.ci/run does)"
    );
    let stack = Stack::start(&[]).await;
    let inspector = Inspector::start().await;
    let report = node_client(
        "inspector-flow.mjs",
        &[&inspector.url, &stack.proxy.mcp_url, "alice@example.com"],
    )
    .await;
    assert!(
        report.get("error").is_none(),
        "{report}\nInspector logs:\n{}",
        inspector.logs()
    );

    // The switch sent the browser to our consent page, then to the fake Okta login.
    let consent_url = report["consent"]["url"].as_str().unwrap_or_default();
    assert!(
        consent_url.starts_with(&format!("{}/authorize?", stack.proxy.public_url)),
        "{report}"
    );
    assert!(
        report["consent"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("MCP Inspector")),
        "the consent page names the client: {report}"
    );
    assert_eq!(
        report["consent"]["buttons"],
        serde_json::json!(["Approve", "Deny"])
    );
    assert_eq!(report["okta"]["title"], "fake-okta: sign in", "{report}");

    // Back in the Inspector, connected, with the viewer role's twelve tools.
    assert_eq!(report["toolsHeading"], "Tools (12)", "{report}");
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .map(|tools| tools.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(tools, VIEWER_TOOLS, "{report}");

    // get_current_time answered with the time, and the tool server ran it as alice.
    let time = report["result"].as_str().unwrap_or_default();
    let answered = chrono::DateTime::parse_from_rfc3339(time)
        .unwrap_or_else(|e| panic!("{e}: {report}"))
        .with_timezone(&chrono::Utc);
    let skew = (chrono::Utc::now() - answered).num_seconds().abs();
    assert!(skew < 300, "the time is now: {time}");
    let logs = stack
        .tool_server
        .process
        .wait_for_log("tool=get_current_time")
        .await;
    let call = logs
        .lines()
        .find(|l| l.contains("tool=get_current_time"))
        .expect("audit line");
    assert!(call.contains(&format!("subject=\"{ALICE_ID}\"")), "{call}");
    assert!(call.contains("role=\"viewer\""), "{call}");
}
