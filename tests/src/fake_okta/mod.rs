//! A fake Okta org for tests and the local demo.
//!
//! It replaces Okta, so it must behave like Okta where clients can tell the difference: `SSWS`
//! authentication, error bodies and codes, `limit` defaults and caps, opaque `after` cursors and
//! absolute `Link` headers, the System Log's never-ending polling, per-family rate limits with
//! `X-Rate-Limit-*` headers. A client that passes against it should pass against a real org.
//! Everything is served from a [`Dataset`] generated from a seed, which tests can regenerate to
//! know the expected answers.
//!
//! Layout: `dataset` (the org's contents), `management` (the `/api/v1` endpoints and their gate),
//! `control` (`/__fake/*` switches and counters for tests), and the shared pieces `scim` (filter
//! expressions), `pagination`, `traffic` (rate limits, faults, stats) and `error` (Okta's bodies).
//! The OIDC provider half (`oidc`: discovery, `/oauth2/v1/authorize|token|userinfo|keys` and the
//! same under `/oauth2/default`) is merged into [`router`] and shares [`state::Shared`].
//! `event_hooks` sends the org's changes to an Okta Event Hook (`--event-hook-url`). `id_jag` is
//! Cross App Access: ID-JAGs by token exchange at the org authorization server's token endpoint.

pub mod changes;
pub mod control;
pub mod dataset;
pub mod error;
pub mod event_hooks;
pub mod id_jag;
#[cfg(test)]
mod in_process;
pub mod management;
pub mod oidc;
pub mod pagination;
pub mod rng;
pub mod scim;
pub mod service_app;
pub mod state;
pub mod traffic;

pub use dataset::Dataset;

use anyhow::Context;
use axum::Router;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Command-line and environment settings of `fake-okta`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "fake-okta",
    about = "A fake Okta org (Management API and OIDC provider) for tests and demos"
)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "FAKE_OKTA_LISTEN", default_value = "127.0.0.1:3003")]
    pub listen: SocketAddr,
    /// API token clients must send as `Authorization: SSWS <token>`.
    #[arg(long, env = "FAKE_OKTA_API_TOKEN", hide_env_values = true)]
    pub api_token: String,
    /// Seed of the generated org.
    #[arg(long, env = "FAKE_OKTA_SEED", default_value_t = dataset::DEFAULT_SEED)]
    pub seed: u64,
    /// Delay added to every API request, in milliseconds.
    #[arg(long, env = "FAKE_OKTA_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests per endpoint family (users, groups, apps, logs, policies, zones) per window.
    #[arg(long, env = "FAKE_OKTA_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    pub rate_limit_per_minute: u64,
    /// Length of the rate-limit window in seconds.
    #[arg(long, env = "FAKE_OKTA_RATE_LIMIT_RESET_SECS", default_value_t = 60)]
    pub rate_limit_reset_secs: u64,
    /// The OIDC provider (`--client-id`, `--client-secret`, `--redirect-uri`).
    #[command(flatten)]
    pub oidc: oidc::OidcSettings,
    /// A service app (`--service-client-id`, `--service-jwks-file`, `--service-scopes`,
    /// `--service-token-ttl-secs`).
    #[command(flatten)]
    pub service_app: service_app::ServiceAppSettings,
    /// An Event Hook (`--event-hook-url`, `--event-hook-secret`).
    #[command(flatten)]
    pub event_hook: event_hooks::EventHookSettings,
}

/// The shared state for `settings` and an already generated `dataset`.
pub fn state(settings: &Settings, dataset: Dataset, authority: String) -> state::AppState {
    Arc::new(state::Shared {
        org_now: std::sync::RwLock::new(Arc::new(state::Org::new(dataset))),
        api_token: settings.api_token.clone(),
        traffic: traffic::Traffic::new(
            settings.latency_ms,
            settings.rate_limit_per_minute,
            settings.rate_limit_reset_secs,
        ),
        authority,
        oidc: oidc::Provider::from_settings(&settings.oidc),
        service_app: service_app::ServiceApp::from_settings(&settings.service_app).unwrap_or_else(
            |e| {
                tracing::error!(error = %e, "service app off");
                None
            },
        ),
        events: tokio::sync::broadcast::channel(1024).0,
    })
}

/// The whole HTTP surface of the fake org.
pub fn router(state: state::AppState) -> Router {
    let mut service = Router::new()
        .route(
            "/__fake/service-app",
            axum::routing::get(service_app::stats),
        )
        .route(
            "/__fake/service-app/revoke",
            axum::routing::post(service_app::revoke),
        );
    // With the OIDC provider on, its token endpoint hands client credentials over.
    if state.oidc.is_none() && state.service_app.is_some() {
        service = service.route("/oauth2/v1/token", axum::routing::post(service_app::token));
    }
    Router::new()
        .merge(service)
        .nest("/api/v1", management::router(state.clone()))
        .nest("/__fake", control::router())
        .merge(oidc::router(&state))
        .fallback(management::gate::unknown_endpoint)
        .with_state(state)
}

/// Binds `settings.listen`, announces the address on stdout and serves until Ctrl-C or SIGTERM.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    if settings.api_token.trim().is_empty() {
        anyhow::bail!("--api-token (FAKE_OKTA_API_TOKEN) must not be empty");
    }
    settings.oidc.check().map_err(anyhow::Error::msg)?;
    settings.event_hook.check().map_err(anyhow::Error::msg)?;
    service_app::ServiceApp::from_settings(&settings.service_app).map_err(anyhow::Error::msg)?;
    let started = std::time::Instant::now();
    let dataset = Dataset::generate(settings.seed);
    let listener = TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let address = listener.local_addr().context("no local address")?;
    let state = state(&settings, dataset, address.to_string());
    let hook = event_hooks::start(&settings.event_hook, &state, format!("http://{address}"));
    let app = router(state).merge(event_hooks::router(hook));
    tracing::info!(
        seed = settings.seed,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "dataset generated"
    );
    {
        // Tests read this exact line to learn the port.
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "fake-okta listening on http://{address}").context("stdout")?;
        stdout.flush().context("stdout")?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests;
