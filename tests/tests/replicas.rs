//! Three replicas behind one public URL: each replica is a proxy with its own tool server
//! (the Okta `serve` or a `wrap` of server-everything), all sharing a real `redis-server`, with
//! the `round-robin` load balancer in front sending every request to the next replica. The
//! official TypeScript SDK and Python clients do the whole OAuth dance and their calls land on
//! every replica; a revocation on one is refused by all; a `wrap` session keeps its child while
//! its requests rotate (the other replicas forward them to the owner's peer listener); killing
//! a replica mid-run loses no completed call and needs no new login.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use okta_mcp_tests::harness::{
    FakeOkta, NodeScript, Process, Proxy, RedisServer, ToolServer, WrapServer, binary,
    everything_server_command, free_port, node_client, python_client, serve_hook, start_process,
    wait_until_ok, workspace_root,
};
use okta_mcp_tests::oauth_flow::{ProxiedMcp, log_in, manual_redirect_client};
use tokio::sync::Mutex;

/// What each replica's proxy forwards to.
enum Upstream {
    Okta(ToolServer),
    Wrap(WrapServer),
}

struct Replica {
    proxy: Proxy,
    upstream: Upstream,
    /// Its peer listener, `127.0.0.1:<port>`.
    peer: String,
}

struct ReplicaSet {
    okta: FakeOkta,
    _redis: RedisServer,
    replicas: Vec<Replica>,
    _balancer: Process,
    /// The load balancer: the one public URL.
    public_url: String,
}

impl ReplicaSet {
    async fn start(wrap: bool, proxy_env: &[(&str, &str)]) -> Self {
        let redis = RedisServer::start().await;
        let lb_port = free_port();
        let public_url = format!("http://127.0.0.1:{lb_port}");
        let okta = FakeOkta::start_oidc(&format!("{public_url}/oauth/callback"));
        let store_url = redis.url();
        let mut replicas = Vec::new();
        for _ in 0..3 {
            let upstream = if wrap {
                Upstream::Wrap(
                    WrapServer::start(
                        "policies/everything.toml",
                        &[],
                        &everything_server_command(),
                    )
                    .await,
                )
            } else {
                Upstream::Okta(ToolServer::start(&okta, &[]).await)
            };
            let upstream_url = match &upstream {
                Upstream::Okta(server) => server.mcp_url.clone(),
                Upstream::Wrap(server) => server.mcp_url.clone(),
            };
            let peer = format!("127.0.0.1:{}", free_port());
            let mut env = vec![
                ("STORE_URL", store_url.as_str()),
                ("PUBLIC_URL", public_url.as_str()),
                ("PEER_LISTEN", peer.as_str()),
                ("PEER_ADDRESS", peer.as_str()),
            ];
            env.extend_from_slice(proxy_env);
            let proxy = Proxy::start(&okta, free_port(), &upstream_url, &env).await;
            replicas.push(Replica {
                proxy,
                upstream,
                peer,
            });
        }
        let mut command = Command::new(binary("round-robin"));
        command
            .current_dir(workspace_root())
            .arg(format!("127.0.0.1:{lb_port}"));
        for replica in &replicas {
            command.arg(replica.proxy.public_url.trim_start_matches("http://"));
        }
        let balancer = start_process(command);
        assert!(
            wait_until_ok(&format!("{public_url}/health"), 400).await,
            "load balancer never answered: {}",
            balancer.logs()
        );
        Self {
            okta,
            _redis: redis,
            replicas,
            _balancer: balancer,
            public_url,
        }
    }

    fn mcp_url(&self) -> String {
        format!("{}/mcp", self.public_url)
    }

    /// How many `/mcp` requests each replica's proxy has logged.
    fn mcp_requests(&self) -> Vec<usize> {
        self.replicas
            .iter()
            .map(|r| {
                r.proxy
                    .process
                    .logs()
                    .lines()
                    .filter(|l| l.contains("path=/mcp"))
                    .count()
            })
            .collect()
    }
}

/// Serves `POST /kill` on a free loopback port: kills the second replica (its proxy and its
/// tool server, as when a pod is lost).
async fn kill_hook(set: Arc<Mutex<ReplicaSet>>) -> String {
    let app = axum::Router::new().route(
        "/kill",
        post(move || {
            let set = set.clone();
            async move {
                let mut set = set.lock().await;
                let replica = &mut set.replicas[1];
                replica.proxy.process.kill();
                if let Upstream::Okta(server) = &mut replica.upstream {
                    server.process.kill();
                }
                "killed"
            }
        }),
    );
    format!("{}/kill", serve_hook(app).await)
}

#[tokio::test]
async fn sdk_and_python_clients_make_200_calls_each_across_three_replicas() {
    let set = ReplicaSet::start(false, &[]).await;
    let mcp_url = set.mcp_url();
    set.okta.auto_login("alice@example.com").await;
    let sdk = node_client("sdk-flow.mjs", &[&mcp_url, "many", "200"]).await;
    assert!(sdk.get("error").is_none(), "{sdk}");
    assert_eq!(sdk["first"]["tools"].as_array().map(Vec::len), Some(12));
    assert_eq!(sdk["callsOk"], 200, "{sdk}");
    assert_eq!(sdk["callsFailed"], 0, "{sdk}");

    let report = python_client("mcp_flow.py", &[&mcp_url, "200"], Duration::from_secs(120)).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["tools"].as_array().map(Vec::len), Some(12));
    assert_eq!(report["calls_ok"], 200, "{}", report["call_errors"]);
    assert_eq!(report["calls_failed"], 0);

    // Every replica served a fair share of the calls.
    let served = set.mcp_requests();
    assert!(served.iter().all(|&n| n >= 100), "{served:?}");
}

#[tokio::test]
async fn refresh_works_on_any_replica_and_a_revocation_on_one_is_refused_by_all() {
    let set = ReplicaSet::start(false, &[("ACCESS_TOKEN_TTL_SECS", "2")]).await;
    set.okta.auto_login("alice@example.com").await;
    // The SDK's refresh (and the reuse check after it) land on whichever replica is next.
    let report = node_client("sdk-flow.mjs", &[&set.mcp_url(), "refresh"]).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["refreshed"], true, "{report}");
    assert_eq!(
        report["afterRefresh"]["tools"].as_array().map(Vec::len),
        Some(12)
    );
    assert_eq!(report["reuse"]["status"], 400, "{report}");
    assert_eq!(report["currentTokenAfterReuse"], 401, "{report}");

    // Revoked through the load balancer (one replica); refused by every replica after.
    let http = manual_redirect_client();
    let tokens = log_in(&http, &set.public_url).await;
    let status = async || ProxiedMcp::bearer_status(&set.mcp_url(), &tokens.access_token).await;
    assert_eq!(status().await, 200);
    tokens
        .client
        .revoke_at(&set.public_url, &tokens.access_token)
        .await;
    // At once (`/revoke` waits for every replica to confirm); six requests, two on each replica.
    for _ in 0..6 {
        assert_eq!(status().await, 401);
    }
}

#[tokio::test]
async fn killing_a_replica_mid_run_loses_no_completed_call_and_needs_no_new_login() {
    let set = Arc::new(Mutex::new(ReplicaSet::start(false, &[]).await));
    let mcp_url = {
        let set = set.lock().await;
        set.okta.auto_login("alice@example.com").await;
        set.mcp_url()
    };
    let hook = kill_hook(set.clone()).await;
    let report = node_client("sdk-flow.mjs", &[&mcp_url, "many", "200", &hook]).await;
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(report["hookCalledAt"], 20, "{report}");
    // A sequential client has at most one call in flight on the killed replica.
    let failed = report["callsFailed"].as_u64().unwrap_or(u64::MAX);
    assert!(failed <= 1, "{report}");
    assert_eq!(
        report["callsOk"].as_u64().unwrap_or(0) + failed,
        200,
        "{report}"
    );
    // The survivors served the rest with the tokens of the one login.
    let logins = report["steps"].as_array().map_or(0, |steps| {
        steps.iter().filter(|s| s["name"] == "authorize").count()
    });
    assert_eq!(logins, 1, "{report}");
}

#[tokio::test]
async fn a_wrap_session_keeps_its_child_while_its_requests_rotate_across_replicas() {
    let set = ReplicaSet::start(true, &[]).await;
    set.okta.auto_login("alice@example.com").await;
    let before = set.mcp_requests();
    // Progress notifications over SSE, through the extra hop when the call lands on a replica
    // that does not own the session.
    let report = NodeScript::start("wrap-flow.mjs", &[&set.mcp_url(), "progress"])
        .report(Duration::from_secs(120))
        .await;
    assert!(report.get("error").is_none(), "{report}");
    let progress = report["progress"].as_array().map_or(0, Vec::len);
    assert!(progress >= 2, "{report}");
    let basic = NodeScript::start("wrap-flow.mjs", &[&set.mcp_url(), "basic"])
        .report(Duration::from_secs(120))
        .await;
    assert!(basic.get("error").is_none(), "{basic}");
    // Each session's child lives on one replica only: two sessions, at most two children,
    // though every replica received requests.
    let children: usize = set
        .replicas
        .iter()
        .map(|r| match &r.upstream {
            Upstream::Wrap(server) => server.children().len(),
            Upstream::Okta(_) => 0,
        })
        .sum();
    assert!(children <= 2, "{children}");
    let after = set.mcp_requests();
    for (b, a) in before.iter().zip(&after) {
        assert!(a > b, "every replica took part: {before:?} → {after:?}");
    }

    // The peer listener is no second way in: only /mcp, only for a session of its replica.
    let http = manual_redirect_client();
    let tokens = log_in(&http, &set.public_url).await;
    let peer = format!("http://{}", set.replicas[0].peer);
    let metadata = http
        .get(format!("{peer}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("peer");
    assert_eq!(metadata.status(), 404);
    let status = ProxiedMcp::bearer_status(&format!("{peer}/mcp"), &tokens.access_token).await;
    assert_eq!(status, 404, "no session: not served on the peer listener");
    let anonymous = ProxiedMcp::bearer_status(&format!("{peer}/mcp"), "not-a-token").await;
    assert_eq!(anonymous, 401);
}
