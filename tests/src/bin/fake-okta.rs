//! `fake-okta`: a fake Okta org for tests and the local demo. See tests/FAKE-OKTA.md.

use clap::Parser;
use okta_mcp_tests::fake_okta::{Settings, run};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    run(Settings::parse()).await
}
