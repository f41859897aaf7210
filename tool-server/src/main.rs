//! okta-mcp-tool-server: parses flags and wires the parts together.

use okta_mcp_common::logging::escaped;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use okta_mcp_tool_server::confirm::Confirmations;
use okta_mcp_tool_server::http::{self, HttpSettings};
use okta_mcp_tool_server::identity::{Identity, IdentityVerifier};
use okta_mcp_tool_server::listener::{self, ConnectionLimits};
use okta_mcp_tool_server::metrics::{self, METRICS};
use okta_mcp_tool_server::okta::OktaClient;
use okta_mcp_tool_server::policy::ToolPolicy;
use okta_mcp_tool_server::server::{Caller, OktaToolServer};
use okta_mcp_tool_server::wrap::{self, ChildCommand, ChildEnvironment, WrapSettings};
use okta_mcp_tool_server::{config, tools, traces};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

const SECRETS_HELP: &str = "\
Secrets come from the environment only (or NAME_FILE, a file holding the value):
  OKTA_API_TOKEN        Okta API token (SSWS), for serve and stdio, or instead:
  OKTA_SERVICE_KEY      private key (PKCS#8 PEM) of the service app OKTA_SERVICE_CLIENT_ID names
  IDENTITY_HEADER_KEY   key shared with okta-mcp-proxy, at least 32 bytes (serve, wrap)
  IDENTITY_HEADER_KEYS_PREVIOUS  earlier keys, comma- or newline-separated, still accepted
                        while a new key is rolled out (optional)
Logging: LOG_LEVEL (error, warn, info, debug, trace or a tracing filter), default info; logs go to stderr.
Traces: OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://collector:4318) turns on OpenTelemetry traces
  over OTLP/HTTP (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json); off when unset.";

/// The Okta admin tools for MCP clients, behind a role → tool allowlist.
#[derive(Parser)]
#[command(version, about, after_help = SECRETS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve MCP streamable HTTP at /mcp for the proxy (identity headers required; no MCP
    /// session state, so any replica serves any request).
    Serve(ServeArgs),
    /// Serve the same tools over stdio for one local user with a fixed role (no proxy).
    Stdio(StdioArgs),
    /// Front a stdio MCP server (`-- CMD ARGS…`) at /mcp: one child per session, the policy
    /// filtering its tools, identity headers required as for serve.
    Wrap(WrapArgs),
    /// Validate a policy file or show what each role gets.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Exit 0 if a running tool server answers its health check, else 1 (for exec probes:
    /// the image has no shell or curl, and the kubelet cannot reach a loopback listener).
    Health {
        /// The health URL to check.
        #[arg(long, default_value = "http://127.0.0.1:3002/health")]
        url: String,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Check that FILE parses and names only tools that exist; exit 1 with the reason if not.
    Check { file: PathBuf },
    /// Print each role of FILE with the tools it may see and call.
    Explain {
        file: PathBuf,
        /// Print a Markdown table (tools × roles), as in the README.
        #[arg(long)]
        markdown: bool,
    },
}

#[derive(Args)]
struct OktaArgs {
    /// Okta org URL, e.g. https://your-org.okta.com
    #[arg(long, env = "OKTA_ORG_URL")]
    okta_org_url: Option<String>,
    /// Most Okta API requests in flight at once.
    #[arg(long, env = "OKTA_CONCURRENT_LIMIT", default_value_t = 15)]
    okta_concurrent_limit: usize,
    /// Timeout of one Okta API request, in seconds.
    #[arg(long, env = "OKTA_TIMEOUT_SECS", default_value_t = 30)]
    okta_timeout_secs: u64,
    /// Client id of an Okta service app (OAuth 2.0 client credentials, private_key_jwt, DPoP);
    /// used instead of OKTA_API_TOKEN. Its private key: OKTA_SERVICE_KEY_FILE.
    #[arg(long, env = "OKTA_SERVICE_CLIENT_ID")]
    okta_service_client_id: Option<String>,
    /// The `kid` of the service app's key, as Okta shows it.
    #[arg(long, env = "OKTA_SERVICE_KEY_ID")]
    okta_service_key_id: Option<String>,
    /// Scopes the service app asks for (comma- or space-separated); default: every read tool's.
    #[arg(long, env = "OKTA_SCOPES", value_delimiter = ',')]
    okta_scopes: Vec<String>,
}

#[derive(Args)]
struct ConnectionArgs {
    /// Seconds a connection has to send a complete request head, from accept or from a
    /// request's first byte; then it is closed (slow or silent clients).
    #[arg(long, env = "TOOL_SERVER_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests before it is closed.
    #[arg(long, env = "TOOL_SERVER_KEEP_ALIVE_SECS", default_value_t = 90)]
    keep_alive_secs: u64,
}

impl ConnectionArgs {
    fn limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header: Duration::from_secs(self.header_timeout_secs.max(1)),
            keep_alive: Duration::from_secs(self.keep_alive_secs.max(1)),
        }
    }
}

#[derive(Args)]
struct MetricsArgs {
    /// Listen address for Prometheus metrics (`GET /metrics` only): tool calls by tool, role
    /// and outcome, policy denials, Okta requests and rate-limit waits, wrap children (README,
    /// Metrics). Off unless set; refused when it is --listen; loopback unless
    /// --metrics-allow-non-loopback.
    #[arg(long, env = "METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Allow a non-loopback --metrics-listen address (a scraper in another pod; keep clients
    /// out with a network policy).
    #[arg(long, env = "METRICS_ALLOW_NON_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    metrics_allow_non_loopback: bool,
}

impl MetricsArgs {
    /// Binds the metrics listener when one is asked for, and serves it in the background.
    async fn start(&self, public: SocketAddr, limits: ConnectionLimits) -> anyhow::Result<()> {
        let Some(addr) = self.metrics_listen else {
            return Ok(());
        };
        okta_mcp_common::metrics::check_listen(addr, &[public], self.metrics_allow_non_loopback)
            .map_err(anyhow::Error::msg)?;
        let (local, listener) = bind(addr).await?;
        tracing::info!("okta-mcp-tool-server metrics at http://{local}/metrics");
        tokio::spawn(listener::serve(
            listener,
            metrics::router(),
            limits,
            std::future::pending(),
        ));
        Ok(())
    }
}

#[derive(Args)]
struct PolicyArg {
    /// Role → tools policy file.
    #[arg(long, env = "POLICY_FILE", default_value = "policies/okta-tools.toml")]
    policy: PathBuf,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (loopback unless --allow-non-loopback).
    #[arg(long, env = "TOOL_SERVER_LISTEN", default_value = "127.0.0.1:3002")]
    listen: SocketAddr,
    /// Allow a non-loopback --listen address (only behind a network policy).
    #[arg(long)]
    allow_non_loopback: bool,
    /// Extra Host header values to accept besides loopback names (repeatable).
    #[arg(
        long = "allowed-host",
        env = "TOOL_SERVER_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// No effect: serve keeps no MCP sessions. Still accepted so that command lines written
    /// for earlier versions start.
    #[arg(long, env = "SESSION_IDLE_SECS", hide = true)]
    session_idle_secs: Option<u64>,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    #[command(flatten)]
    policy: PolicyArg,
    #[command(flatten)]
    okta: OktaArgs,
}

#[derive(Args)]
struct StdioArgs {
    /// The role of the local user (a role of the policy file).
    #[arg(long, env = "MCP_ROLE")]
    role: String,
    /// Subject recorded in the audit log.
    #[arg(long, default_value = "local-user")]
    subject: String,
    #[command(flatten)]
    policy: PolicyArg,
    #[command(flatten)]
    okta: OktaArgs,
}

#[derive(Args)]
struct WrapArgs {
    /// Address to listen on (loopback unless --allow-non-loopback).
    #[arg(long, env = "TOOL_SERVER_LISTEN", default_value = "127.0.0.1:3002")]
    listen: SocketAddr,
    /// Allow a non-loopback --listen address (only behind a network policy).
    #[arg(long)]
    allow_non_loopback: bool,
    /// Extra Host header values to accept besides loopback names (repeatable).
    #[arg(
        long = "allowed-host",
        env = "TOOL_SERVER_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Role → tools policy file for the wrapped server's tools (`"*"` = all it offers).
    #[arg(long, env = "POLICY_FILE")]
    policy: PathBuf,
    /// End sessions (and their child) after this many seconds without client activity.
    #[arg(
        long = "idle-secs",
        alias = "session-idle-secs",
        env = "SESSION_IDLE_SECS",
        default_value_t = 300
    )]
    idle_secs: u64,
    /// Most sessions, so child processes, at once; further initializes get 503.
    #[arg(long, env = "WRAP_MAX_CHILDREN", default_value_t = 32)]
    max_children: usize,
    /// Most sessions one user (Okta subject) may have at once; further initializes get 503.
    /// Well below --max-children so that one caller cannot take every child and lock everyone
    /// else out: a client needs one session, a few cover reconnects (clients that never send
    /// DELETE leave theirs to idle out) and a second window.
    #[arg(long, env = "WRAP_MAX_CHILDREN_PER_SUBJECT", default_value_t = 4)]
    max_children_per_subject: usize,
    /// Largest POST body and largest message (one line) accepted from a child, in bytes.
    #[arg(long, env = "WRAP_MAX_MESSAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_message_bytes: usize,
    /// Seconds a child has to answer initialize.
    #[arg(long, env = "WRAP_INIT_TIMEOUT_SECS", default_value_t = 30)]
    init_timeout_secs: u64,
    /// Seconds a request (a tool call or any other) may wait for the child's answer; then the
    /// child gets notifications/cancelled and the client a JSON-RPC error. A call that never
    /// ends would otherwise keep its session, and its child, from ever idling out.
    #[arg(long, env = "WRAP_MAX_CALL_SECS", default_value_t = 300)]
    max_call_secs: u64,
    /// A variable for the wrapped server (repeatable): NAME passes the wrapper's value, NAME=VALUE
    /// sets it. The child starts with an empty environment plus PATH, HOME and LANG (from the
    /// wrapper) and these, so none of the pod's other secrets reach it. A flag only: no
    /// environment variable, since values may hold any character.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    metrics: MetricsArgs,
    /// The stdio MCP server to run for each session, after `--`.
    #[arg(last = true, required = true, value_name = "CMD ARGS")]
    command: Vec<OsString>,
}

/// mimalloc instead of glibc's allocator: Okta pages are parsed into many small allocations,
/// where glibc's allocator showed up in profiles (README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // Before logging: the trace exporter's HTTP client needs the crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let logs = okta_mcp_common::logging::init_for("okta-mcp-tool-server");
    let outcome = run(Cli::parse()).await;
    // Every queued line is written before the process ends (and before the error below).
    logs.flush();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("okta-mcp-tool-server: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Stdio(args) => stdio(args).await,
        Command::Wrap(args) => wrap(args).await,
        Command::Policy { command } => policy(command),
        Command::Health { url } => health(&url).await,
    }
}

fn load_policy(path: &std::path::Path) -> anyhow::Result<ToolPolicy> {
    let policy = ToolPolicy::load(path)?;
    policy.check_tools_exist(&tools::TOOL_NAMES)?;
    Ok(policy)
}

fn okta_client(args: &OktaArgs) -> anyhow::Result<Arc<OktaClient>> {
    let service_app = config::ServiceAppIds {
        client_id: args.okta_service_client_id.clone(),
        key_id: args.okta_service_key_id.clone(),
        scopes: args
            .okta_scopes
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(str::to_owned)
            .collect(),
    };
    let config = config::okta_config(
        args.okta_org_url.as_deref(),
        &service_app,
        args.okta_concurrent_limit,
        Duration::from_secs(args.okta_timeout_secs),
    )?;
    Ok(Arc::new(OktaClient::new(config)?))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    http::check_listen_addr(args.listen, args.allow_non_loopback).map_err(anyhow::Error::msg)?;
    let policy = Arc::new(load_policy(&args.policy.policy)?);
    let verifier = Arc::new(
        IdentityVerifier::new(config::identity_key()?)
            .with_previous(config::previous_identity_keys()?),
    );
    // Write tools' confirmation tokens are keyed from the identity-header key, so that any
    // replica accepts a token another one issued (see `confirm`).
    let confirmations =
        Confirmations::derived_from(config::required_secret("IDENTITY_HEADER_KEY")?.as_bytes());
    let handler = OktaToolServer::new(okta_client(&args.okta)?, policy, Caller::FromHeaders)
        .with_confirmations(Arc::new(confirmations));
    if args.session_idle_secs.is_some() {
        tracing::info!(
            "serve keeps no MCP sessions: --session-idle-secs (SESSION_IDLE_SECS) has no effect"
        );
    }
    let settings = HttpSettings {
        allowed_hosts: args.allowed_hosts,
        ..HttpSettings::default()
    };
    let shutdown = CancellationToken::new();
    let listen_after = verifier.listen_after(okta_mcp_common::identity::unix_millis());
    METRICS.know_tools(tools::TOOL_NAMES.iter().copied());
    args.metrics
        .start(args.listen, args.connections.limits())
        .await?;
    let app = http::router(handler, verifier, &settings, shutdown.clone())
        .layer(axum::middleware::from_fn(traces::continue_trace))
        .layer(axum::middleware::from_fn(metrics::count_requests));
    // v1 identity headers carry whole seconds: open in the second after the verifier's start.
    tokio::time::sleep(listen_after).await;
    let (local, listener) = bind(args.listen).await?;
    tracing::info!("okta-mcp-tool-server listening on http://{local}/mcp");
    listener::serve(listener, app, args.connections.limits(), async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
    })
    .await;
    Ok(())
}

async fn wrap(args: WrapArgs) -> anyhow::Result<()> {
    http::check_listen_addr(args.listen, args.allow_non_loopback).map_err(anyhow::Error::msg)?;
    // The wrapped server's tools are known only at run time: missing ones are warned about then.
    let policy = Arc::new(ToolPolicy::load(&args.policy)?);
    let verifier = Arc::new(
        IdentityVerifier::new(config::identity_key()?)
            .with_previous(config::previous_identity_keys()?),
    );
    let (environment, missing) =
        ChildEnvironment::from_flags(&args.env, |name| std::env::var_os(name))?;
    for name in missing {
        tracing::warn!(
            variable = %name,
            "--env {name}: not set in the wrapper's environment, so the wrapped server lacks it too"
        );
    }
    let env_names = environment.names().join(",");
    let command = ChildCommand::new(args.command, environment)?;
    let settings = WrapSettings {
        idle: Duration::from_secs(args.idle_secs),
        max_children: args.max_children,
        max_children_per_subject: args.max_children_per_subject,
        max_message_bytes: args.max_message_bytes,
        init_timeout: Duration::from_secs(args.init_timeout_secs.max(1)),
        max_call: Duration::from_secs(args.max_call_secs.max(1)),
        allowed_hosts: args.allowed_hosts,
    };
    if settings.max_children_per_subject >= settings.max_children {
        tracing::warn!(
            "--max-children-per-subject is not below --max-children: one user can take every \
             child and lock everyone else out"
        );
    }
    let listen_after = verifier.listen_after(okta_mcp_common::identity::unix_millis());
    METRICS.know_tools(policy.named_tools());
    METRICS.wrap_children_max(settings.max_children);
    args.metrics
        .start(args.listen, args.connections.limits())
        .await?;
    let (app, sessions) = wrap::router(command.clone(), policy, verifier, &settings);
    let app = app
        .layer(axum::middleware::from_fn(traces::continue_trace))
        .layer(axum::middleware::from_fn(metrics::count_requests));
    // v1 identity headers carry whole seconds: open in the second after the verifier's start.
    tokio::time::sleep(listen_after).await;
    let (local, listener) = bind(args.listen).await?;
    tracing::info!(
        command = %command.display(),
        max_children = settings.max_children,
        max_children_per_subject = settings.max_children_per_subject,
        max_call_secs = settings.max_call.as_secs(),
        child_environment = %env_names,
        "okta-mcp-tool-server wrapping a stdio server at http://{local}/mcp"
    );
    listener::serve(listener, app, args.connections.limits(), async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        // Ending the sessions closes their SSE streams, which lets the server drain.
        sessions.shutdown().await;
    })
    .await;
    Ok(())
}

async fn stdio(args: StdioArgs) -> anyhow::Result<()> {
    let policy = Arc::new(load_policy(&args.policy.policy)?);
    let identity = Identity {
        role: args.role,
        subject: args.subject,
        email: String::new(),
    };
    if policy
        .explain(&tools::TOOL_NAMES)
        .iter()
        .all(|(role, _, _)| *role != identity.role)
    {
        tracing::warn!(role = %escaped(&identity.role), "the policy has no such role: no tool will be visible");
    }
    let handler = OktaToolServer::new(okta_client(&args.okta)?, policy, Caller::Fixed(identity));
    let service = handler.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}

fn policy(command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Check { file } => {
            let policy = load_policy(&file)?;
            let roles = policy.explain(&tools::TOOL_NAMES);
            println!("{}: ok, {} roles", file.display(), roles.len());
        }
        PolicyCommand::Explain { file, markdown } => {
            let policy = load_policy(&file)?;
            if markdown {
                print!("{}", policy.markdown_table(&tools::TOOL_NAMES));
                return Ok(());
            }
            for (role, rule, tools) in policy.explain(&tools::TOOL_NAMES) {
                let writes = tools.iter().filter(|t| tools::is_write(t)).count();
                println!(
                    "{role} ({} tools, {writes} of them writes): {}",
                    tools.len(),
                    rule.description
                );
                for tool in tools {
                    if tools::is_write(tool) {
                        println!("  {tool}  (write: changes Okta, after a person confirms)");
                    } else {
                        println!("  {tool}");
                    }
                }
            }
        }
    }
    Ok(())
}

async fn health(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    if !response.status().is_success() {
        anyhow::bail!("{url} answered {}", response.status());
    }
    Ok(())
}

/// Binds the HTTP listener; returns the address it got.
async fn bind(addr: SocketAddr) -> anyhow::Result<(SocketAddr, tokio::net::TcpListener)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    Ok((local, listener))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
