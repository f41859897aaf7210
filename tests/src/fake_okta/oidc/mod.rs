//! The fake org's OpenID Connect provider: the org authorization server (issuer `<base>`, paths
//! `/oauth2/v1/*`) and the custom one `default` (issuer `<base>/oauth2/default`, paths
//! `/oauth2/default/v1/*`), for ONE configured client.
//!
//! It must fail where Okta fails, because the proxy's error handling is tested against it: an
//! unknown client or redirect URI gets an error page (never a redirect), later authorize errors
//! go back to the client, codes work once and only with the right PKCE verifier, refresh tokens
//! rotate (the old one dies), client authentication is basic or post but not both. Users log in
//! with a plain HTML button per demo user, or — for tests — without a page (`auto_login`, see
//! `control`). Group changes (`POST /__fake/users/{id}/groups`) change the `groups` claim of later
//! tokens and userinfo, not the Management API. A user who is no longer active (deactivated,
//! suspended, locked out: `POST /__fake/users/{id}/lifecycle/…`) cannot log in, and their codes,
//! refresh tokens and access tokens stop working, as at Okta (`invalid_grant`, `invalid_token`).
//! Runtime state (codes, tokens, switches) sits behind one mutex: the fake serves a handful of
//! logins, not a load test.

pub mod authorize;
pub mod control;
pub mod discovery;
pub mod grants;
pub mod keys;
pub mod par;
pub mod token;
pub mod userinfo;

#[cfg(test)]
mod tests;

use super::dataset::UserStatus;
use super::error::random_token;
use super::state::{AppState, Org};
use axum::Extension;
use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The OIDC flags of `fake-okta`; without `--client-id` the provider is off.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OidcSettings {
    /// OAuth client id of the one app; enables the OIDC provider.
    #[arg(long, env = "FAKE_OKTA_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The app's client secret; without it the client is public (PKCE required, no secret).
    #[arg(long, env = "FAKE_OKTA_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// A sign-in redirect URI of the app (repeat the flag or give a comma list); compared exactly.
    #[arg(
        long = "redirect-uri",
        env = "FAKE_OKTA_REDIRECT_URI",
        value_delimiter = ','
    )]
    pub redirect_uris: Vec<String>,
    /// The app authenticates with `private_key_jwt`, signed by a key in this JWK or JWKS file
    /// (a secret is then refused).
    #[arg(long, env = "FAKE_OKTA_CLIENT_JWKS_FILE")]
    pub client_jwks_file: Option<std::path::PathBuf>,
    /// The app requires DPoP: token requests need a proof (the first is answered
    /// `use_dpop_nonce`), tokens are `DPoP`-bound and userinfo wants `DPoP` with `ath`.
    #[arg(long)]
    pub require_dpop: bool,
    /// The app requires pushed authorization requests: authorize takes only a `request_uri`.
    #[arg(long)]
    pub require_par: bool,
    /// Replaces discovery's `scopes_supported` (comma list).
    #[arg(long, value_delimiter = ',')]
    pub scopes_supported: Vec<String>,
    /// Cross App Access (`--id-jag-client`, `--id-jag-policy`, `--id-jag-groups-claim`,
    /// `--id-jag-ttl-secs`); needs the provider.
    #[command(flatten)]
    pub id_jag: crate::fake_okta::id_jag::IdJagSettings,
}

impl OidcSettings {
    /// Start-up checks with messages naming the flag.
    pub fn check(&self) -> Result<(), String> {
        let Some(client_id) = &self.client_id else {
            if self.client_secret.is_some()
                || !self.redirect_uris.is_empty()
                || self.client_jwks_file.is_some()
                || self.require_dpop
                || self.require_par
                || !self.scopes_supported.is_empty()
            {
                return Err("--client-secret, --client-jwks-file, --redirect-uri, --require-dpop, --require-par and --scopes-supported need --client-id".into());
            }
            if self.id_jag.enabled() {
                return Err("--id-jag-client and --id-jag-policy need --client-id (the OIDC provider signs and publishes the keys)".into());
            }
            return Ok(());
        };
        crate::fake_okta::id_jag::IdJag::from_settings(&self.id_jag)?;
        if client_id.trim().is_empty() {
            return Err("--client-id (FAKE_OKTA_CLIENT_ID) must not be empty".into());
        }
        if self.client_secret.as_deref().is_some_and(str::is_empty) {
            return Err("--client-secret (FAKE_OKTA_CLIENT_SECRET) must not be empty".into());
        }
        if self.redirect_uris.is_empty() {
            return Err("--client-id needs at least one --redirect-uri".into());
        }
        if let Some(path) = &self.client_jwks_file {
            if self.client_secret.is_some() {
                return Err("--client-jwks-file and --client-secret: the app authenticates one way (private_key_jwt or a secret)".into());
            }
            crate::fake_okta::service_app::read_public_keys(path, "--client-jwks-file")?;
        }
        for uri in &self.redirect_uris {
            let parsed =
                url::Url::parse(uri).map_err(|e| format!("--redirect-uri {uri:?}: {e}"))?;
            if parsed.fragment().is_some() {
                return Err(format!("--redirect-uri {uri:?} must not have a fragment"));
            }
        }
        Ok(())
    }
}

/// Which authorization server a request is addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthServer {
    /// The org authorization server: issuer `<base>`, endpoints `<base>/oauth2/v1/*`.
    Org,
    /// The custom authorization server `default`: issuer and endpoints under `<base>/oauth2/default`.
    Default,
}

impl AuthServer {
    /// The issuer for requests that reached us at `base` (`http://host:port`).
    pub fn issuer(self, base: &str) -> String {
        match self {
            AuthServer::Org => base.to_owned(),
            AuthServer::Default => format!("{base}/oauth2/default"),
        }
    }

    /// Where this server's `authorize`, `token`, `userinfo` and `keys` live.
    pub fn endpoints(self, base: &str) -> String {
        match self {
            AuthServer::Org => format!("{base}/oauth2/v1"),
            AuthServer::Default => format!("{base}/oauth2/default/v1"),
        }
    }

    /// `aud` of access tokens (Okta: the org URL, or the custom server's audience).
    pub fn access_token_audience(self, base: &str) -> String {
        match self {
            AuthServer::Org => base.to_owned(),
            AuthServer::Default => "api://default".to_owned(),
        }
    }
}

/// Test switches (`/__fake/oidc`).
#[derive(Debug, Clone)]
pub struct Controls {
    /// Log this user in at authorize without showing the page.
    pub auto_login: Option<usize>,
    /// Put `groups` in ID tokens (off: only userinfo has them, like an app without a groups claim).
    pub groups_in_id_token: bool,
    /// Issue a new refresh token at each refresh, killing the old one (Okta's rotation).
    pub rotate_refresh_tokens: bool,
    /// Group names replacing a user's dataset groups in claims, by user index.
    pub group_overrides: HashMap<usize, Vec<String>>,
    /// The `iss` authorize sends back (RFC 9207).
    pub authorize_iss: AuthorizeIss,
    /// Userinfo answers this HTTP status instead of claims.
    pub userinfo_status: Option<u16>,
}

/// What `iss` the authorization response carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuthorizeIss {
    /// The issuer, as Okta does.
    #[default]
    Issuer,
    /// Another value (a mix-up attack's).
    Fixed(String),
    /// None.
    Omitted,
}

impl Default for Controls {
    fn default() -> Self {
        Self {
            auto_login: None,
            groups_in_id_token: true,
            rotate_refresh_tokens: true,
            group_overrides: HashMap::new(),
            authorize_iss: AuthorizeIss::Issuer,
            userinfo_status: None,
        }
    }
}

/// Everything that changes at run time.
#[derive(Debug, Default)]
pub struct Runtime {
    pub grants: grants::Grants,
    pub controls: Controls,
    /// `jti`s of client assertions and DPoP proofs seen, until they expire.
    pub seen: HashMap<String, i64>,
    /// The `DPoP-Nonce` proofs must carry.
    pub dpop_nonce: String,
    /// DPoP-bound access tokens → the `jkt` of their key.
    pub bound_tokens: HashMap<String, String>,
    /// Pushed authorization requests by `request_uri`: parameters, server and expiry.
    pub pushed: HashMap<String, (HashMap<String, String>, AuthServer, i64)>,
}

/// The provider: the one client, the signing key and the runtime state.
#[derive(Debug)]
pub struct Provider {
    pub client_id: String,
    /// `None`: a public client.
    client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    /// `private_key_jwt` keys (`--client-jwks-file`); a secret is then refused.
    pub client_keys: Option<Vec<serde_json::Value>>,
    pub require_dpop: bool,
    pub require_par: bool,
    /// `--scopes-supported`, empty: the default list.
    pub scopes_supported: Vec<String>,
    pub key: keys::SigningKey,
    /// Cross App Access, when an `--id-jag-client` was given.
    pub id_jag: Option<crate::fake_okta::id_jag::IdJag>,
    runtime: Mutex<Runtime>,
}

impl Provider {
    /// The provider for `settings`, or `None` when no client id is set (OIDC off).
    pub fn from_settings(settings: &OidcSettings) -> Option<Self> {
        let client_id = settings.client_id.clone()?;
        let key = match keys::SigningKey::embedded() {
            Ok(key) => key,
            Err(e) => {
                // A unit test keeps the embedded key valid; never serve OIDC without it.
                tracing::error!(error = %e, "embedded signing key unusable; OIDC provider off");
                return None;
            }
        };
        let id_jag = crate::fake_okta::id_jag::IdJag::from_settings(&settings.id_jag)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "Cross App Access off");
                None
            });
        let client_keys = match &settings.client_jwks_file {
            Some(path) => {
                match crate::fake_okta::service_app::read_public_keys(path, "--client-jwks-file") {
                    Ok(keys) => Some(keys),
                    Err(e) => {
                        // `check` refuses this at start-up; never fall back to no authentication.
                        tracing::error!(error = %e, "OIDC provider off");
                        return None;
                    }
                }
            }
            None => None,
        };
        Some(Self {
            client_id,
            client_secret: settings.client_secret.clone(),
            redirect_uris: settings.redirect_uris.clone(),
            client_keys,
            require_dpop: settings.require_dpop,
            require_par: settings.require_par,
            scopes_supported: settings.scopes_supported.clone(),
            key,
            id_jag,
            runtime: Mutex::new(Runtime {
                dpop_nonce: random_token("", 32),
                ..Runtime::default()
            }),
        })
    }

    /// Whether the client must authenticate (with a secret or `private_key_jwt`).
    pub fn confidential(&self) -> bool {
        self.client_secret.is_some() || self.client_keys.is_some()
    }

    /// Checks a presented secret (for a public client only the absence of one passes).
    pub fn secret_matches(&self, presented: Option<&str>) -> bool {
        match (&self.client_secret, presented) {
            (Some(secret), Some(presented)) => same_secret(secret, presented),
            (None, None) => true,
            _ => false,
        }
    }

    /// Discovery's `scopes_supported`: `--scopes-supported`, else the default list.
    pub fn supported_scopes(&self) -> Vec<&str> {
        if self.scopes_supported.is_empty() {
            discovery::SCOPES.to_vec()
        } else {
            self.scopes_supported.iter().map(String::as_str).collect()
        }
    }

    /// The runtime state (a poisoned lock is still usable: every update is a single assignment).
    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The group names a user's claims carry now (override, else the dataset's memberships).
    pub fn groups_of(&self, org: &Org, user: usize) -> Vec<String> {
        if let Some(groups) = self.runtime().controls.group_overrides.get(&user) {
            return groups.clone();
        }
        org.user_groups
            .get(user)
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|&g| org.dataset.groups.get(g))
                    .map(|g| g.name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl crate::fake_okta::service_app::JtiLedger for Provider {
    fn first_use(&self, jti: &str, until: i64) -> bool {
        crate::fake_okta::service_app::first_use_in(&mut self.runtime().seen, jti, until)
    }
}

/// Compares secrets in time that does not depend on where they differ.
pub fn same_secret(expected: &str, presented: &str) -> bool {
    expected.len() == presented.len()
        && expected
            .bytes()
            .zip(presented.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Whether a user in `status` may still use tokens: not a deactivated, suspended, locked-out or
/// not yet activated one (a user whose password expired keeps them, as at Okta).
pub fn may_use_tokens(status: UserStatus) -> bool {
    matches!(
        status,
        UserStatus::Active | UserStatus::PasswordExpired | UserStatus::Recovery
    )
}

/// The provider's routes (empty when the provider is off), merged into the fake org's router.
pub fn router(state: &AppState) -> Router<AppState> {
    if state.oidc.is_none() {
        return Router::new();
    }
    let server = |which: AuthServer| {
        Router::new()
            .route("/authorize", get(authorize::page).post(authorize::submit))
            .route("/token", post(token::token))
            .route("/par", post(par::par))
            .route(
                "/userinfo",
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route("/keys", get(discovery::keys))
            .layer(Extension(which))
    };
    let metadata = |which: AuthServer| get(discovery::metadata).layer(Extension(which));
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            metadata(AuthServer::Org),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            metadata(AuthServer::Org),
        )
        .route(
            "/oauth2/default/.well-known/openid-configuration",
            metadata(AuthServer::Default),
        )
        .route(
            "/oauth2/default/.well-known/oauth-authorization-server",
            metadata(AuthServer::Default),
        )
        .nest("/oauth2/v1", server(AuthServer::Org))
        .nest("/oauth2/default/v1", server(AuthServer::Default))
        .merge(crate::fake_okta::id_jag::router(state))
        .route("/__fake/oidc", get(control::get).post(control::set))
        .route("/__fake/oidc/reset", post(control::reset))
        .route(
            "/__fake/users/{id}/groups",
            get(control::user_groups).post(control::set_user_groups),
        )
}

fn usable_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// `http://<Host>` as the client addressed us (the bound address when `Host` is odd), so issuers
/// match whatever base URL a client was configured with.
pub fn base_url(headers: &HeaderMap, state: &AppState) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| usable_host(h))
        .unwrap_or(&state.authority);
    format!("http://{host}")
}

/// Parameters of a query string or form body; `Err(name)` for a parameter given twice
/// (RFC 6749 §3.1: "parameters MUST NOT be included more than once").
pub fn parse_params(raw: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(raw) {
        if params
            .insert(name.to_string(), value.into_owned())
            .is_some()
        {
            return Err(name.into_owned());
        }
    }
    Ok(params)
}

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds since the Unix epoch.
pub fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}
