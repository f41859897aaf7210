//! The proxy's settings: flags with environment variables, secrets from the environment only.
//!
//! The variable names of the original Python okta-mcp-server keep working. Secrets
//! (`OKTA_CLIENT_SECRET` or `OKTA_CLIENT_KEY`, `SESSION_SECRET_KEY`, `IDENTITY_HEADER_KEY`, the optional
//! `OKTA_EVENT_HOOK_SECRET`) come from `NAME` or the file `NAME_FILE` names, never from flags, and a missing or short one stops start-up with a
//! message that says what to set — never a random key that changes at every restart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use url::Url;

use okta_mcp_common::okta_auth::settings::{SettingError, secret};

use crate::deadlines::ReadDeadlines;

const ENV_HELP: &str = "\
Secrets come from the environment only (or NAME_FILE, a file holding the value):
  OKTA_CLIENT_SECRET    the Okta OIDC app's client secret (client_secret_basic), or:
  OKTA_CLIENT_KEY       the app's private key, PKCS#8 PEM, RSA or EC P-256 (private_key_jwt;
                        use OKTA_CLIENT_KEY_FILE); exactly one of the two
  SESSION_SECRET_KEY    signs tokens and cookies, at least 32 bytes (openssl rand -base64 48)
  SESSION_SECRET_KEYS_PREVIOUS  earlier SESSION_SECRET_KEYs, comma- or newline-separated: what
                        they signed keeps working until it expires (key rotation; optional)
  IDENTITY_HEADER_KEY   shared with okta-mcp-tool-server, at least 32 bytes
  REDIS_PASSWORD        for STORE_URL when the URL carries none (optional)
  REDIS_SENTINEL_PASSWORD  for the Sentinel nodes of a redis+sentinel:// STORE_URL (optional)
  OKTA_API_TOKEN        read access to Okta's Management API, for the groups of an ID-JAG's
                        user (optional; OKTA_SERVICE_CLIENT_ID + OKTA_SERVICE_KEY_FILE preferred)
  OKTA_SERVICE_KEY      the service app's private key, PKCS#8 PEM (use OKTA_SERVICE_KEY_FILE)
  OKTA_EVENT_HOOK_SECRET  turns on Okta Event Hooks at <public-url>/hooks/okta: the value Okta
                        sends in the Authorization header, at least 32 bytes (optional)
State: kept in STATE_DIR (default ./state, one file proxy.redb) so a restart loses nothing;
  STORE_URL=redis://… (or rediss:// for TLS) instead, to share it between replicas.
Roles: ROLES_FILE (policies/roles.toml) plus GROUP_TO_ROLE_<ROLE>=\"Group A,Group B\" variables.
Logging: LOG_LEVEL (error, warn, info, debug, trace or a tracing filter), default info.
Traces: OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://collector:4318) turns on OpenTelemetry traces
  over OTLP/HTTP (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or http/json); off when unset.";

/// okta-mcp-proxy: the OAuth 2.1 front door for MCP clients, logging users in through Okta.
#[derive(Parser, Debug, Clone)]
#[command(version, about, after_help = ENV_HELP)]
pub struct ProxyArgs {
    /// Without a command, the proxy serves (the serving settings are then required).
    #[command(subcommand)]
    pub command: Option<ProxyCommand>,
    /// Plain HTTP listen address.
    #[arg(long, env = "PROXY_LISTEN", default_value = "127.0.0.1:3001")]
    pub listen: Option<SocketAddr>,
    /// Do not listen on plain HTTP (only --tls-listen).
    #[arg(long)]
    pub no_plain: bool,
    /// HTTPS listen address (needs --tls-cert and --tls-key).
    #[arg(long, env = "PROXY_TLS_LISTEN", requires_all = ["tls_cert", "tls_key"])]
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for --tls-listen.
    #[arg(long, env = "PROXY_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-listen.
    #[arg(long, env = "PROXY_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The URL clients use to reach this proxy; the OAuth issuer. MCP lives at <public-url>/mcp.
    #[arg(long, env = "PUBLIC_URL", default_value = "http://localhost:3001")]
    pub public_url: String,
    /// Refuse a public URL that is not https (set in production).
    #[arg(long, env = "OAUTH_REQUIRE_HTTPS", default_value_t = false, action = clap::ArgAction::Set)]
    pub require_https: bool,
    /// The tool server's MCP endpoint (plain HTTP, normally on the pod's loopback).
    #[arg(
        long,
        env = "TOOL_SERVER_URL",
        default_value = "http://127.0.0.1:3002/mcp"
    )]
    pub upstream: String,
    /// Okta org URL, e.g. https://your-org.okta.com
    #[arg(long, env = "OKTA_ORG_URL")]
    pub okta_org_url: String,
    /// Okta authorization server (issuer); default: the org authorization server.
    #[arg(long, env = "OKTA_ISSUER")]
    pub okta_issuer: Option<String>,
    /// Client id of the Okta OIDC web app.
    #[arg(long, env = "OKTA_CLIENT_ID")]
    pub okta_client_id: String,
    /// The `kid` of the Okta app's public key (with OKTA_CLIENT_KEY_FILE, `private_key_jwt`).
    #[arg(long, env = "OKTA_CLIENT_KEY_ID")]
    pub okta_client_key_id: Option<String>,
    /// Scopes asked of Okta at login (space- or comma-separated; `openid` is always added).
    /// Each must be among the issuer's scopes_supported, else discovery fails naming it.
    /// Not OKTA_SCOPES: the tool server's service app reads that name from the same settings.
    #[arg(
        long,
        env = "OKTA_LOGIN_SCOPES",
        default_value = "openid profile email groups offline_access"
    )]
    pub okta_login_scopes: String,
    /// Send DPoP proofs to Okta's token endpoint (the app requires DPoP).
    #[arg(long, env = "OKTA_DPOP", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub okta_dpop: bool,
    /// Push authorization requests to Okta first (PAR, RFC 9126); on anyway when Okta's
    /// discovery says require_pushed_authorization_requests.
    #[arg(long, env = "OKTA_PAR", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub okta_par: bool,
    /// Okta's redirect target; default <public-url>/oauth/callback.
    #[arg(long, env = "OAUTH_REDIRECT_URI")]
    pub redirect_uri: Option<String>,
    /// Groups → role file.
    #[arg(long, env = "ROLES_FILE", default_value = "policies/roles.toml")]
    pub roles_file: PathBuf,
    /// Okta service app for reading users' groups at Okta's Management API (an ID-JAG without
    /// a groups claim); its key from OKTA_SERVICE_KEY_FILE, scopes okta.users.read and
    /// okta.groups.read. Or set OKTA_API_TOKEN instead. Neither: ID-JAGs must carry groups.
    #[arg(long, env = "OKTA_SERVICE_CLIENT_ID")]
    pub okta_service_client_id: Option<String>,
    /// The `kid` of the service app's public key at Okta, if Okta should be told which key signed.
    #[arg(long, env = "OKTA_SERVICE_KEY_ID")]
    pub okta_service_key_id: Option<String>,
    /// Pre-registered confidential clients (TOML): the only clients that may use
    /// client_credentials or the jwt-bearer (ID-JAG) grant. Check it with `clients check FILE`.
    #[arg(long, env = "CLIENTS_FILE")]
    pub clients_file: Option<PathBuf>,
    /// Extra browser origins allowed to call /mcp (e.g. http://localhost:6274 for MCP Inspector).
    #[arg(
        long = "allowed-origin",
        env = "ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// Largest accepted request body to /mcp and the OAuth endpoints, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Lifetime of our access tokens, in seconds (a group change takes effect within it).
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,
    /// Requests per minute one client address (an IPv6 /64) may make to /register,
    /// /authorize and /oauth/login together, per replica; past it, 429 with Retry-After.
    /// These endpoints are anonymous and keep state, so the budget makes a flood cost the
    /// flooder. 0 turns it off (e.g. behind a proxy that hides client addresses).
    #[arg(long, env = "ANONYMOUS_REQUESTS_PER_MINUTE", default_value_t = 60)]
    pub anonymous_requests_per_minute: u32,
    /// Seconds a client may take to send a whole request header, counted from the connection
    /// (its first request) or from the request's first byte; past it the connection is
    /// closed. Stops slow clients from holding connections by dripping a header.
    #[arg(long, env = "REQUEST_HEADER_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub request_header_timeout_secs: u64,
    /// Seconds a client may take to send a whole request body (to /mcp and to the OAuth
    /// endpoints), counted from the end of its header; past it, 408 and the connection is
    /// closed. Only requests are bounded: responses (SSE streams, slow tool calls) take as
    /// long as they take.
    #[arg(long, env = "REQUEST_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub request_body_timeout_secs: u64,
    /// Seconds a kept-alive client connection may wait idle for its next request before the
    /// proxy closes it.
    #[arg(long, env = "KEEPALIVE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub keepalive_timeout_secs: u64,
    /// Worker threads.
    #[arg(long, env = "PROXY_THREADS", default_value_t = 2)]
    pub threads: usize,
    /// Folder for the state file (registered clients, consents, refresh tokens, revocations),
    /// so a restart loses nothing; one proxy per folder. `none` keeps state in memory only.
    /// Ignored when --store-url is set.
    #[arg(long, env = "STATE_DIR", default_value = "state")]
    pub state_dir: String,
    /// Redis (7.x or Valkey) shared by every replica: redis://[:password@]host:port[/db],
    /// rediss://… for TLS, or the primary Sentinel names:
    /// redis+sentinel://host:26379,host:26379/<service>[/db] (rediss+sentinel:// for TLS).
    /// No Cluster.
    #[arg(long, env = "STORE_URL")]
    pub store_url: Option<String>,
    /// Listen address for requests other replicas forward for MCP sessions this replica owns
    /// (`wrap`); reachable only by the other replicas. Needs --peer-address and --store-url.
    #[arg(long, env = "PEER_LISTEN", requires = "peer_address")]
    pub peer_listen: Option<SocketAddr>,
    /// This replica's peer listener as the other replicas reach it (`host:port`, e.g. the pod
    /// IP and the --peer-listen port), published through the store.
    #[arg(long, env = "PEER_ADDRESS", requires = "peer_listen")]
    pub peer_address: Option<String>,
    /// Listen address for Prometheus metrics (`GET /metrics` only): request counts, /mcp
    /// latency, logins, refreshes, store latency and errors (README, Metrics). Off unless set;
    /// refused when it is a public listener; loopback unless --metrics-allow-non-loopback.
    #[arg(long, env = "METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Allow a non-loopback --metrics-listen address (a scraper in another pod; keep clients
    /// out with a network policy).
    #[arg(long, env = "METRICS_ALLOW_NON_LOOPBACK", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub metrics_allow_non_loopback: bool,
    /// Accept clients whose client_id is the https URL of a Client ID Metadata Document
    /// (fetched, checked and cached); `false` leaves DCR as the only way to register.
    #[arg(long, env = "CLIENT_ID_METADATA_DOCUMENTS", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub client_id_metadata_documents: bool,
    /// Hosts whose client metadata documents are accepted (empty: any public host);
    /// `.example.com` or `*.example.com` also names its subdomains.
    #[arg(
        long = "cimd-allowed-host",
        env = "CIMD_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub cimd_allowed_hosts: Vec<String>,
    /// Hosts whose client metadata documents are refused (wins over the allowed hosts).
    #[arg(
        long = "cimd-denied-host",
        env = "CIMD_DENIED_HOSTS",
        value_delimiter = ','
    )]
    pub cimd_denied_hosts: Vec<String>,
    /// The longest a client metadata document is cached, whatever its Cache-Control says.
    #[arg(long, env = "CIMD_CACHE_MAX_SECS", default_value_t = 3600)]
    pub cimd_cache_max_secs: u64,
    /// TEST ONLY: fetch client metadata documents from loopback addresses too. Never in
    /// production: it lets a client id reach services on the proxy's own host.
    #[arg(long, env = "CIMD_ALLOW_LOOPBACK_FOR_TESTS", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub cimd_allow_loopback_for_tests: bool,
    /// TEST ONLY: a PEM file of CA certificates trusted, besides the public roots, when
    /// fetching client metadata documents (a test's self-signed server).
    #[arg(long, env = "CIMD_EXTRA_CA_FOR_TESTS")]
    pub cimd_extra_ca_for_tests: Option<std::path::PathBuf>,
    /// Put before every Redis key, so two deployments can share one Redis.
    #[arg(long, env = "STORE_KEY_PREFIX", default_value = "okta-mcp:")]
    pub store_key_prefix: String,
}

/// The command line of a command (`okta-mcp-proxy clients check FILE`), parsed without the
/// serving settings.
#[derive(Parser, Debug, Clone)]
#[command(name = "okta-mcp-proxy", version, about)]
pub struct CommandLine {
    #[command(subcommand)]
    pub command: ProxyCommand,
}

/// What the proxy can do besides serving.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ProxyCommand {
    /// The clients file (CLIENTS_FILE).
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

/// `okta-mcp-proxy clients …`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ClientsCommand {
    /// Check a clients file as start-up does and list its clients; exit 1 with what to fix.
    Check {
        /// The TOML file (see the README, "Pre-registered clients").
        file: PathBuf,
    },
}

impl ProxyArgs {
    /// How long reading a request may take.
    pub fn read_deadlines(&self) -> ReadDeadlines {
        ReadDeadlines {
            header: Duration::from_secs(self.request_header_timeout_secs),
            body: Duration::from_secs(self.request_body_timeout_secs),
            idle: Duration::from_secs(self.keepalive_timeout_secs),
        }
    }
}

/// A setting that is missing or unusable; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A secret that is missing, empty or unreadable (the reader both binaries share).
    #[error(transparent)]
    Secret(#[from] SettingError),
    #[error("{0}")]
    Invalid(String),
    #[error(
        "{name}: key {position} is shorter than {min_len} bytes; list only keys that were in use (comma- or newline-separated)"
    )]
    ShortInList {
        name: &'static str,
        position: usize,
        min_len: usize,
    },
}

/// Reads a secret from `name`, or from the file `name_FILE` points to (one trailing newline
/// dropped), as the tool server does (`okta_mcp_common::okta_auth::settings::secret`).
pub fn required_secret(name: &'static str) -> Result<String, ConfigError> {
    match secret(name) {
        Ok(Some(value)) => Ok(value),
        Ok(None) | Err(SettingError::Empty { .. }) => Err(SettingError::Missing { name }.into()),
        Err(error) => Err(error.into()),
    }
}

/// A list of earlier secrets (`name` or the file `name_FILE`), separated by commas or line
/// breaks; empty when unset. Each must be at least `min_len` bytes.
pub fn previous_secrets(name: &'static str, min_len: usize) -> Result<Vec<String>, ConfigError> {
    let Some(list) = optional_secret(name)? else {
        return Ok(Vec::new());
    };
    let secrets: Vec<String> = list
        .split([',', '\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(position) = secrets.iter().position(|s| s.len() < min_len) {
        return Err(ConfigError::ShortInList {
            name,
            position: position + 1,
            min_len,
        });
    }
    Ok(secrets)
}

/// How the proxy authenticates to Okta as its OIDC app: exactly one of OKTA_CLIENT_SECRET
/// (or `_FILE`) and OKTA_CLIENT_KEY_FILE (or OKTA_CLIENT_KEY).
pub fn okta_client_credential(
    key_id: Option<String>,
) -> Result<crate::okta_login::ClientCredential, ConfigError> {
    use crate::okta_login::ClientCredential;
    let secret = optional_secret("OKTA_CLIENT_SECRET")?;
    let key = optional_secret("OKTA_CLIENT_KEY")?;
    match (secret, key) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid(
            "both OKTA_CLIENT_SECRET and OKTA_CLIENT_KEY_FILE are set: set exactly one (the key for private_key_jwt, the secret for client_secret_basic), as the Okta app's client authentication says".into(),
        )),
        (Some(secret), None) => Ok(ClientCredential::Secret(secret)),
        (None, Some(pem)) => Ok(ClientCredential::PrivateKey { pem, key_id }),
        (None, None) => Err(ConfigError::Invalid(
            "neither OKTA_CLIENT_SECRET nor OKTA_CLIENT_KEY_FILE is set: set exactly one (the Okta app's client secret, or its private key for private_key_jwt)".into(),
        )),
    }
}

/// `OKTA_LOGIN_SCOPES`: names separated by spaces or commas.
pub fn scope_list(raw: &str) -> Vec<String> {
    raw.split([' ', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A secret that may be absent: `name`, or the file `name_FILE` points to.
pub fn optional_secret(name: &'static str) -> Result<Option<String>, ConfigError> {
    match required_secret(name) {
        Ok(value) => Ok(Some(value)),
        Err(ConfigError::Secret(SettingError::Missing { .. })) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The public URL without a trailing slash: the issuer, byte-identical everywhere.
pub fn public_url(raw: &str, require_https: bool) -> Result<Url, ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid(format!("PUBLIC_URL `{raw}` {why}"));
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    match url.scheme() {
        "https" => {}
        "http" if require_https => {
            return Err(invalid(
                "must be https while OAUTH_REQUIRE_HTTPS is set (clients such as Claude need https)",
            ));
        }
        "http" => {}
        _ => return Err(invalid("must be http or https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("has no host"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "must be an origin only, like https://mcp.example.com (no path, query or fragment)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    Ok(url)
}

/// The tool server's MCP URL, plain http on a host we connect to directly.
pub fn upstream_url(raw: &str) -> Result<Url, ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid(format!("TOOL_SERVER_URL `{raw}` {why}"));
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if url.scheme() != "http" {
        return Err(invalid(
            "must be http:// (the tool server sits on the pod's loopback)",
        ));
    }
    if url.host_str().is_none() || url.port_or_known_default().is_none() {
        return Err(invalid("needs a host and port"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(url)
}

/// An `Origin` value (`scheme://host[:port]`) for comparisons.
pub fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_scopes_split_on_spaces_and_commas() {
        assert_eq!(
            scope_list(" openid, profile  email,,groups "),
            ["openid", "profile", "email", "groups"]
        );
        assert!(scope_list(" , ").is_empty());
    }

    #[test]
    fn login_settings_default_to_the_secret_and_the_usual_scopes() {
        let args = ProxyArgs::try_parse_from([
            "okta-mcp-proxy",
            "--okta-org-url",
            "https://dev-1.okta.com",
            "--okta-client-id",
            "0oa1",
        ])
        .expect("parse");
        assert!(!args.okta_dpop && !args.okta_par);
        assert_eq!(
            scope_list(&args.okta_login_scopes),
            crate::okta_login::OktaLoginSettings::default_scopes()
        );
    }

    /// Metadata documents are on by default; the test-only settings are off unless named.
    #[test]
    fn client_metadata_document_flags() {
        let base = [
            "okta-mcp-proxy",
            "--okta-org-url",
            "https://example.okta.com",
            "--okta-client-id",
            "x",
        ];
        let Ok(args) = ProxyArgs::try_parse_from(base) else {
            return; // the environment of this test run sets something invalid; nothing to check
        };
        if std::env::vars()
            .any(|(k, _)| k.starts_with("CIMD_") || k == "CLIENT_ID_METADATA_DOCUMENTS")
        {
            return;
        }
        assert!(args.client_id_metadata_documents);
        assert!(!args.cimd_allow_loopback_for_tests);
        assert!(args.cimd_extra_ca_for_tests.is_none());
        assert_eq!(args.cimd_cache_max_secs, 3600);
        let args = ProxyArgs::try_parse_from(base.into_iter().chain([
            "--client-id-metadata-documents=false",
            "--cimd-allowed-host",
            "vscode.dev,.claude.ai",
            "--cimd-denied-host",
            "evil.example",
            "--cimd-allow-loopback-for-tests",
        ]))
        .unwrap();
        assert!(!args.client_id_metadata_documents);
        assert_eq!(args.cimd_allowed_hosts, ["vscode.dev", ".claude.ai"]);
        assert_eq!(args.cimd_denied_hosts, ["evil.example"]);
        assert!(args.cimd_allow_loopback_for_tests);
    }

    #[test]
    fn public_urls() {
        assert_eq!(
            public_url("https://mcp.example.com/", false)
                .unwrap()
                .as_str(),
            "https://mcp.example.com/"
        );
        assert!(public_url("http://localhost:3001", false).is_ok());
        for (bad, why) in [
            ("http://localhost:3001", "OAUTH_REQUIRE_HTTPS"),
            ("ftp://x", "http or https"),
            ("https://x.example.com/mcp", "origin only"),
            ("https://u:p@x.example.com", "credentials"),
            ("not a url", "not a URL"),
        ] {
            let err = public_url(bad, true).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn upstream_urls() {
        let url = upstream_url("http://127.0.0.1:3002/mcp").unwrap();
        assert_eq!(url.port_or_known_default(), Some(3002));
        assert!(upstream_url("https://127.0.0.1:3002/mcp").is_err());
        assert!(upstream_url("http://127.0.0.1:3002/mcp?x=1").is_err());
        assert!(upstream_url("junk").is_err());
    }
}
