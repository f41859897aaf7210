//! okta-mcp-proxy: parses flags and wires the parts together.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use clap::Parser;
use okta_mcp_common::metrics;
use okta_mcp_common::okta_auth::settings::{ServiceAppIds, okta_credentials};
use okta_mcp_proxy::config::{self, ClientsCommand, ProxyArgs, ProxyCommand};
use okta_mcp_proxy::deadlines;
use okta_mcp_proxy::edge::{Edge, EdgeParts, Upstream};
use okta_mcp_proxy::forward::OriginPolicy;
use okta_mcp_proxy::hooks::OktaEventHook;
use okta_mcp_proxy::identity::IdentitySigner;
use okta_mcp_proxy::metrics::MetricsEndpoint;
use okta_mcp_proxy::oauth::{
    AuthServer, ClientMetadataDocuments, ClientMetadataSettings, OAuthSettings,
    PreregisteredClients,
};
use okta_mcp_proxy::okta_directory::{self, OktaDirectory, UserDirectory};
use okta_mcp_proxy::okta_login::{OktaLogin, OktaLoginSettings, UpstreamLogin};
use okta_mcp_proxy::replicas::SessionRoutes;
use okta_mcp_proxy::revocations::Revocations;
use okta_mcp_proxy::roles::RoleMap;
use okta_mcp_proxy::store::{
    EmbeddedStore, MemoryStore, MeteredStore, RedisSettings, RedisStore, Store,
};
use pingora::server::configuration::ServerConf;
use pingora::server::{Server, ShutdownWatch};
use pingora::services::background::{BackgroundService, background_service};
use pingora::services::listening::Service;

/// mimalloc instead of glibc's allocator: the request path allocates often and from several
/// threads, where glibc's arena locks showed up in profiles (README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before logging: the trace exporter's HTTP client needs the crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // A command first: `ProxyArgs` would ask for the serving settings it does not need.
    if std::env::args().nth(1).as_deref() == Some("clients") {
        return run_command(&config::CommandLine::parse().command);
    }
    let args = ProxyArgs::parse();
    let logs = okta_mcp_common::logging::init_for("okta-mcp-proxy");
    match build(args) {
        Ok(server) => {
            // Returns after a graceful shutdown (SIGTERM, SIGINT); then the last lines go out.
            server.run(pingora::server::RunArgs::default());
            logs.flush();
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            logs.flush();
            eprintln!("okta-mcp-proxy: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Okta's Management API for users' status and groups, when credentials are set.
fn user_directory(
    args: &ProxyArgs,
    okta_org: &url::Url,
) -> anyhow::Result<Option<Arc<dyn UserDirectory>>> {
    let ids = ServiceAppIds {
        client_id: args.okta_service_client_id.clone(),
        key_id: args.okta_service_key_id.clone(),
        scopes: Vec::new(),
    };
    let given = ids.client_id.is_some()
        || [
            "OKTA_API_TOKEN",
            "OKTA_API_TOKEN_FILE",
            "OKTA_SERVICE_KEY",
            "OKTA_SERVICE_KEY_FILE",
        ]
        .iter()
        .any(|name| std::env::var_os(name).is_some());
    if !given {
        return Ok(None);
    }
    let credentials = okta_credentials(&ids, okta_directory::SCOPES)?;
    tracing::info!(credentials = ?credentials, "reading users' groups at Okta's Management API");
    Ok(Some(Arc::new(OktaDirectory::new(okta_org, credentials)?)))
}

/// `okta-mcp-proxy clients check FILE` and the like: a result on stdout, what to fix on stderr.
fn run_command(command: &ProxyCommand) -> std::process::ExitCode {
    match command {
        ProxyCommand::Clients {
            command: ClientsCommand::Check { file },
        } => match PreregisteredClients::load(file) {
            Ok(clients) => {
                println!("{}: {} client(s), ok", file.display(), clients.len());
                for line in clients.summary() {
                    println!("  {line}");
                }
                std::process::ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("okta-mcp-proxy: {error}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}

/// Checks every setting, then builds the pingora server; any problem is a start-up error.
fn build(args: ProxyArgs) -> anyhow::Result<Server> {
    let public_url = config::public_url(&args.public_url, args.require_https)?;
    let issuer = public_url.as_str().trim_end_matches('/').to_owned();
    let upstream_url = config::upstream_url(&args.upstream)?;
    let signer = IdentitySigner::new(&config::required_secret("IDENTITY_HEADER_KEY")?)?;
    let session_secret = config::required_secret("SESSION_SECRET_KEY")?;
    let credential = config::okta_client_credential(args.okta_client_key_id.clone())?;
    let roles = RoleMap::load(&args.roles_file)?.with_env_overrides(std::env::vars())?;

    let okta_org = url::Url::parse(args.okta_org_url.trim())
        .with_context(|| format!("OKTA_ORG_URL `{}` is not a URL", args.okta_org_url))?;
    let okta_issuer = match &args.okta_issuer {
        Some(raw) => url::Url::parse(raw.trim())
            .with_context(|| format!("OKTA_ISSUER `{raw}` is not a URL"))?,
        None => okta_org.clone(),
    };
    let redirect_uri = match &args.redirect_uri {
        Some(raw) => url::Url::parse(raw.trim())
            .with_context(|| format!("OAUTH_REDIRECT_URI `{raw}` is not a URL"))?,
        None => url::Url::parse(&format!("{issuer}/oauth/callback"))?,
    };
    let login = Arc::new(OktaLogin::new(OktaLoginSettings {
        issuer: okta_issuer,
        client_id: args.okta_client_id.clone(),
        credential,
        redirect_uri,
        scopes: config::scope_list(&args.okta_login_scopes),
        dpop: args.okta_dpop,
        par: args.okta_par,
    })?);

    let session_secret = session_secret.into_bytes();
    let previous_secrets: Vec<Vec<u8>> =
        config::previous_secrets("SESSION_SECRET_KEYS_PREVIOUS", 32)?
            .into_iter()
            .map(String::into_bytes)
            .collect();
    let mut settings = OAuthSettings::new(public_url.clone(), session_secret.clone())?;
    settings.previous_session_secrets = previous_secrets.clone();
    if !previous_secrets.is_empty() {
        tracing::info!(
            previous = previous_secrets.len(),
            "SESSION_SECRET_KEYS_PREVIOUS: still accepting what earlier session keys signed; empty it once their cookies have expired"
        );
    }
    settings.access_token_ttl = Duration::from_secs(args.access_token_ttl_secs.max(1));
    settings.anonymous_per_minute = args.anonymous_requests_per_minute;
    let store: Arc<dyn Store> = Arc::new(MeteredStore::new(open_store(&args)?));
    tracing::info!("authorization state: {}", store.describe());
    if args.peer_listen.is_some() && args.store_url.is_none() {
        bail!("--peer-listen needs --store-url: replicas find each other through Redis");
    }
    let peer_address = args
        .peer_address
        .as_deref()
        .map(str::trim)
        .map(str::to_owned);
    if let Some(address) = &peer_address
        && address.parse::<std::net::SocketAddr>().is_err()
        && address
            .rsplit_once(':')
            .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        bail!("PEER_ADDRESS `{address}` must be host:port");
    }
    let routes = Arc::new(
        SessionRoutes::new(&session_secret, store.clone(), peer_address)
            .with_previous(&previous_secrets),
    );
    let mut auth = AuthServer::new(
        settings,
        store,
        login.clone() as Arc<dyn UpstreamLogin>,
        Arc::new(roles),
    );
    if args.client_id_metadata_documents {
        auth = auth.with_client_metadata_documents(client_metadata_documents(&args)?);
    }
    if let Some(directory) = user_directory(&args, &okta_org)? {
        auth = auth.with_directory(directory);
    } else if args.clients_file.is_some() {
        tracing::info!(
            "no Okta API access (OKTA_API_TOKEN or OKTA_SERVICE_CLIENT_ID): ID-JAGs must carry a groups claim"
        );
    }
    if let Some(file) = &args.clients_file {
        let clients = PreregisteredClients::load(file)?;
        tracing::info!(
            file = %file.display(),
            clients = clients.len(),
            "pre-registered clients: {}",
            clients.summary().join("; ")
        );
        auth = auth.with_preregistered_clients(clients);
    }
    let auth = Arc::new(auth);

    let host = upstream_url
        .host_str()
        .context("TOOL_SERVER_URL has no host")?;
    let port = upstream_url
        .port_or_known_default()
        .context("TOOL_SERVER_URL has no port")?;
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let upstream = Upstream {
        addr: authority.clone(),
        path: upstream_url.path().to_owned(),
        host_header: authority.clone(),
        health_url: format!("http://{authority}/health"),
    };
    let hooks = match config::optional_secret("OKTA_EVENT_HOOK_SECRET")? {
        Some(secret) => {
            let hook = OktaEventHook::new(&secret, auth.clone())?;
            tracing::info!("Okta Event Hooks accepted at {issuer}/hooks/okta");
            Some(Arc::new(hook))
        }
        None => None,
    };
    let edge_auth = auth.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")?;
    let origins = OriginPolicy::new(&config::origin_of(&public_url), &args.allowed_origins);
    let read_deadlines = args.read_deadlines();
    let edge = |peer_listener: bool| {
        Edge::new(EdgeParts {
            auth: auth.clone(),
            login: login.clone(),
            signer: signer.clone(),
            origins: origins.clone(),
            upstream: upstream.clone(),
            max_body_bytes: args.max_body_bytes,
            body_deadline: read_deadlines.body,
            http: http.clone(),
            routes: routes.clone(),
            peer_listener,
            hooks: hooks.clone(),
        })
        .map_err(anyhow::Error::msg)
    };

    let conf = ServerConf {
        threads: args.threads.max(1),
        // On SIGTERM, requests in flight get 2 s to finish, then at most 2 s more to stop.
        grace_period_seconds: Some(2),
        graceful_shutdown_timeout_seconds: Some(2),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    // Each connection keeps the request deadlines (module `deadlines`).
    let conf = server.configuration.clone();
    let proxy_service = |name: &str, edge: Edge| {
        let proxy = pingora::proxy::http_proxy(&conf, edge);
        deadlines::service(name, proxy, read_deadlines)
    };
    let mut service = proxy_service("okta-mcp-proxy", edge(false)?);
    if args.no_plain && args.tls_listen.is_none() {
        bail!("--no-plain needs --tls-listen: the proxy would not listen anywhere");
    }
    if let (Some(addr), false) = (args.listen, args.no_plain) {
        service.add_tcp(&addr.to_string());
        tracing::info!(
            "okta-mcp-proxy listening on http://{addr} (public URL {issuer}, MCP at {issuer}/mcp)"
        );
    }
    if let Some(addr) = args.tls_listen {
        let (cert, key) = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => (cert.display().to_string(), key.display().to_string()),
            _ => bail!("--tls-listen needs --tls-cert and --tls-key"),
        };
        check_tls_files(&cert, &key)?;
        service
            .add_tls(&addr.to_string(), &cert, &key)
            .map_err(|e| anyhow::anyhow!("cannot use --tls-cert/--tls-key: {e}"))?;
        tracing::info!("okta-mcp-proxy listening on https://{addr}");
    }
    server.add_service(service);
    if let Some(addr) = args.peer_listen {
        let mut peers = proxy_service("okta-mcp-proxy peers", edge(true)?);
        peers.add_tcp(&addr.to_string());
        tracing::info!(
            "okta-mcp-proxy peer listener on http://{addr} (replica {})",
            routes.replica()
        );
        server.add_service(peers);
        server.add_service(background_service(
            "replica registration",
            StayRegistered(routes.clone()),
        ));
    }
    if let Some(addr) = args.metrics_listen {
        let public: Vec<_> = [
            args.listen.filter(|_| !args.no_plain),
            args.tls_listen,
            args.peer_listen,
        ]
        .into_iter()
        .flatten()
        .collect();
        metrics::check_listen(addr, &public, args.metrics_allow_non_loopback)
            .map_err(anyhow::Error::msg)?;
        let mut service = Service::new("okta-mcp-proxy metrics".to_owned(), MetricsEndpoint);
        service.add_tcp(&addr.to_string());
        tracing::info!("okta-mcp-proxy metrics at http://{addr}/metrics");
        server.add_service(service);
    }
    server.add_service(background_service("okta discovery", Discovery(login)));
    server.add_service(background_service(
        "revocations",
        FollowRevocations(edge_auth.revocations().clone()),
    ));
    server.add_service(background_service(
        "state sweeper",
        SweepExpired(edge_auth.store().clone()),
    ));
    Ok(server)
}

/// The store the settings name: Redis (`--store-url`), memory (`--state-dir none`) or the
/// state file in `--state-dir`.
fn open_store(args: &ProxyArgs) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(url) = args.store_url.as_deref().filter(|u| !u.trim().is_empty()) {
        let password = config::optional_secret("REDIS_PASSWORD")?;
        let mut settings = RedisSettings::new(url, password, &args.store_key_prefix);
        settings.sentinel_password = config::optional_secret("REDIS_SENTINEL_PASSWORD")?;
        return Ok(Arc::new(RedisStore::new(settings)?));
    }
    if args.state_dir.trim() == "none" {
        tracing::warn!("STATE_DIR=none: registrations, logins and revocations are lost at restart");
        return Ok(Arc::new(MemoryStore::default()));
    }
    Ok(Arc::new(EmbeddedStore::open(std::path::Path::new(
        args.state_dir.trim(),
    ))?))
}

/// The Client ID Metadata Document settings, with loud warnings for the test-only ones.
fn client_metadata_documents(args: &ProxyArgs) -> anyhow::Result<ClientMetadataDocuments> {
    let extra_root_pem_for_tests = match &args.cimd_extra_ca_for_tests {
        Some(path) => {
            tracing::warn!(
                "CIMD_EXTRA_CA_FOR_TESTS: trusting {} for client metadata documents; for tests only",
                path.display()
            );
            Some(std::fs::read(path).with_context(|| {
                format!("cannot read CIMD_EXTRA_CA_FOR_TESTS {}", path.display())
            })?)
        }
        None => None,
    };
    if args.cimd_allow_loopback_for_tests {
        tracing::warn!(
            "CIMD_ALLOW_LOOPBACK_FOR_TESTS: client metadata documents may be fetched from loopback; for tests only, never in production"
        );
    }
    let trimmed = |list: &[String]| -> Vec<String> {
        list.iter()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .collect()
    };
    Ok(ClientMetadataDocuments::new(ClientMetadataSettings {
        allowed_hosts: trimmed(&args.cimd_allowed_hosts),
        denied_hosts: trimmed(&args.cimd_denied_hosts),
        cache_max_age: Duration::from_secs(args.cimd_cache_max_secs),
        allow_loopback_for_tests: args.cimd_allow_loopback_for_tests,
        extra_root_pem_for_tests,
    })?)
}

/// Loads the certificate and key the way the listener will, so a bad file is a clear
/// start-up error instead of a panic when the listener starts.
fn check_tls_files(cert: &str, key: &str) -> anyhow::Result<()> {
    for (what, path) in [("--tls-cert", cert), ("--tls-key", key)] {
        std::fs::metadata(path).with_context(|| format!("cannot read {what} {path}"))?;
    }
    let Ok(Some((certs, key_der))) = pingora::tls::load_certs_and_key_files(cert, key) else {
        bail!(
            "{cert} / {key}: expected a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1)"
        );
    };
    rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .with_context(|| format!("the key {key} does not fit the certificate {cert}"))?;
    Ok(())
}

/// Runs Okta discovery at start-up and retries until it succeeds (`/ready` waits for it).
struct Discovery(Arc<OktaLogin>);

#[async_trait]
impl BackgroundService for Discovery {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut wait = Duration::from_millis(250);
        loop {
            match self.0.discover().await {
                Ok(()) => {
                    tracing::info!("Okta discovery done");
                    return;
                }
                Err(error) => tracing::warn!(%error, "Okta discovery failed; retrying in {wait:?}"),
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }
}

/// Keeps this replica's revocation list current (see `revocations`).
struct FollowRevocations(Arc<Revocations>);

#[async_trait]
impl BackgroundService for FollowRevocations {
    async fn start(&self, shutdown: ShutdownWatch) {
        self.0.clone().follow(shutdown).await;
    }
}

/// Removes expired entries from the store every minute, so the state file does not keep them.
struct SweepExpired(Arc<dyn Store>);

#[async_trait]
impl BackgroundService for SweepExpired {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = tick.tick() => match self.0.purge_expired().await {
                    Ok(0) => {}
                    Ok(purged) => tracing::debug!(purged, "expired state removed"),
                    Err(error) => tracing::warn!(%error, "cannot remove expired state"),
                },
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// Keeps this replica's peer address in the store (see `replicas`).
struct StayRegistered(Arc<SessionRoutes>);

#[async_trait]
impl BackgroundService for StayRegistered {
    async fn start(&self, shutdown: ShutdownWatch) {
        self.0.clone().stay_registered(shutdown).await;
    }
}
