//! The OAuth 2.1 authorization server that MCP clients see, in front of Okta.
//!
//! MCP clients cannot be registered at Okta ahead of time (anyone's laptop, any port), so the
//! proxy is their authorization server: it answers discovery, lets them register themselves
//! (RFC 7591) and issues its own tokens for the MCP resource. Okta is only where the *user*
//! proves who they are. One login goes like this:
//!
//! 1. `GET /authorize` checks the client, its exact redirect URI, PKCE S256 and the resource,
//!    and keeps the request as a pending authorization.
//! 2. The consent page comes *before* Okta. The proxy is one Okta client acting for many MCP
//!    clients; if it sent the browser straight to Okta, any registered client could get a token
//!    for a user who is still logged in at Okta without that user ever seeing which app asked —
//!    the confused-deputy problem the MCP spec warns about. So the user approves each client
//!    once (remembered per user and client; skipped when the session cookie names a user who
//!    already approved it). The form carries a CSRF token bound to this browser.
//! 3. Approval sends the browser to Okta with the proxy's *own* `state`, `nonce` and PKCE
//!    verifier, never the client's: the client's values protect the client's leg, ours protect
//!    ours, and Okta's code is only ever redeemed by us. The pending login is bound to the
//!    browser that approved (a cookie), so an Okta login URL handed to someone else is useless.
//! 4. `GET /oauth/callback` takes the pending login once, lets `okta_login` redeem Okta's code
//!    and verify the ID token, maps the groups to one role (no role: no code, and a page that
//!    says which groups would help), and sends the client a one-time code of ours with its
//!    `state` and our `iss`.
//! 5. `POST /token` checks the PKCE verifier, the client and its redirect URI, and issues an
//!    access token (a JWT for the canonical MCP URL) and a rotating refresh token. Every refresh
//!    uses Okta's refresh token to read the user's groups again, so a group removed at Okta
//!    takes the role away within one access-token lifetime; a reused refresh token revokes its
//!    whole family.
//!
//! Same-origin web apps use `/oauth/login` and `/oauth/logout` instead, which end in the
//! signed session cookie (`session_cookie`) rather than a code.
//!
//! Clients an operator lists in `CLIENTS_FILE` (`preregistered`) have two more ways in at
//! `/token`, with no consent page: an ID-JAG Okta issued for the user (`assertion_grants`,
//! Enterprise-Managed Authorization) and `client_credentials` for an agent the file maps to
//! one role.

mod assertion_grants;
mod authorize;
mod browser;
mod callback;
mod client_metadata;
mod clients;
mod consent;
mod limits;
mod metadata;
mod pages;
mod params;
pub mod preregistered;
mod register;
mod revoke;
mod session_check;
mod token;

#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
pub(crate) mod testing;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::okta_directory::UserDirectory;
use crate::okta_login::UpstreamLogin;
use crate::revocations::{Cutoff, Revocations};
use crate::roles::RoleMap;
use crate::session_cookie::SessionCookies;
use crate::store::{Store, StoreError};
use crate::tokens::{AccessTokens, TokenError, VerifiedTokens, derive_key};
use crate::web::{WebRequest, WebResponse};
use limits::SourceLimits;

pub use client_metadata::{
    ClientMetadataDocuments, ClientMetadataSettings, ClientMetadataSetupError,
};
pub use preregistered::{ClientsFileError, PreregisteredClients};

/// How long a pending consent, a pending Okta login and one of our codes live.
const SHORT_LIVED: Duration = Duration::from_secs(10 * 60);

/// The authorization server's settings.
#[derive(Clone)]
pub struct OAuthSettings {
    /// The public base URL; the issuer is this without a trailing slash.
    pub public_url: Url,
    /// At least 32 bytes; separate keys are derived from it for tokens, cookies and CSRF.
    pub session_secret: Vec<u8>,
    /// Earlier session secrets: what they signed is still accepted (nothing new is signed with
    /// them), so rotating the secret logs nobody out. Each at least 32 bytes.
    pub previous_session_secrets: Vec<Vec<u8>>,
    /// Lifetime of our access tokens (default 15 minutes).
    pub access_token_ttl: Duration,
    /// Lifetime of a refresh token, renewed at each rotation (default 30 days).
    pub refresh_token_ttl: Duration,
    /// Lifetime of the browser session cookie (default 8 hours).
    pub session_ttl: Duration,
    /// How long a user's approval of a client is remembered (default 30 days).
    pub consent_ttl: Duration,
    /// How long a registered client is kept (default 90 days; it registers again after).
    pub client_ttl: Duration,
    /// Requests per minute one source may make to `/register`, `/authorize` and
    /// `/oauth/login` together (default 60; 0: no limit).
    pub anonymous_per_minute: u32,
}

impl fmt::Debug for OAuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSettings")
            .field("public_url", &self.public_url.as_str())
            .field("session_secret", &"<redacted>")
            .field(
                "previous_session_secrets",
                &format!("<{} redacted>", self.previous_session_secrets.len()),
            )
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("session_ttl", &self.session_ttl)
            .field("consent_ttl", &self.consent_ttl)
            .field("client_ttl", &self.client_ttl)
            .field("anonymous_per_minute", &self.anonymous_per_minute)
            .finish()
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("the session secret must be at least 32 bytes (it has {0})")]
    WeakSecret(usize),
    #[error("the public URL {0} must be an http(s) origin without path, query or fragment")]
    PublicUrl(String),
}

impl OAuthSettings {
    /// Settings with the default lifetimes.
    pub fn new(public_url: Url, session_secret: Vec<u8>) -> Result<Self, SettingsError> {
        if session_secret.len() < 32 {
            return Err(SettingsError::WeakSecret(session_secret.len()));
        }
        let origin_only = matches!(public_url.scheme(), "http" | "https")
            && public_url.host().is_some()
            && public_url.path() == "/"
            && public_url.query().is_none()
            && public_url.fragment().is_none()
            && public_url.username().is_empty()
            && public_url.password().is_none();
        if !origin_only {
            return Err(SettingsError::PublicUrl(public_url.to_string()));
        }
        Ok(Self {
            public_url,
            session_secret,
            previous_session_secrets: Vec::new(),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            session_ttl: Duration::from_secs(8 * 3600),
            consent_ttl: Duration::from_secs(30 * 24 * 3600),
            client_ttl: Duration::from_secs(90 * 24 * 3600),
            anonymous_per_minute: 60,
        })
    }
}

/// Who a request to `/mcp` is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Okta user id.
    pub subject: String,
    pub email: String,
    pub role: String,
    /// The OAuth client, or `None` for a browser session cookie.
    pub client_id: Option<String>,
    /// When `role` was read from Okta (unix ms), for the subject's cut-offs.
    pub seen_ms: i64,
}

/// The OAuth endpoints, pages and `/mcp` authentication.
pub struct AuthServer {
    settings: OAuthSettings,
    issuer: String,
    resource: String,
    store: Arc<dyn Store>,
    revocations: Arc<Revocations>,
    login: Arc<dyn UpstreamLogin>,
    roles: Arc<RoleMap>,
    tokens: AccessTokens,
    /// Access tokens already verified, so `/mcp` decodes each token once.
    verified: VerifiedTokens<Principal>,
    sessions: SessionCookies,
    csrf_key: [u8; 32],
    /// CSRF keys of previous session secrets, still accepted.
    previous_csrf_keys: Vec<[u8; 32]>,
    secure_cookies: bool,
    /// The budget per source of the anonymous endpoints that keep state.
    limits: SourceLimits,
    /// Client ID Metadata Documents; `None` when they are turned off.
    client_documents: Option<Arc<ClientMetadataDocuments>>,
    /// The clients of `CLIENTS_FILE` (none without it).
    preregistered: PreregisteredClients,
    /// Where an ID-JAG's user's status and groups are read when it carries no `groups` claim.
    directory: Option<Arc<dyn UserDirectory>>,
}

impl AuthServer {
    /// An authorization server keeping its state in `store` and logging users in with `login`.
    pub fn new(
        settings: OAuthSettings,
        store: Arc<dyn Store>,
        login: Arc<dyn UpstreamLogin>,
        roles: Arc<RoleMap>,
    ) -> Self {
        let issuer = settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned();
        let resource = format!("{issuer}/mcp");
        let secure_cookies = settings.public_url.scheme() == "https";
        let secret = settings.session_secret.as_slice();
        Self {
            tokens: AccessTokens::new(derive_key(secret, "access-token"), &issuer, &resource)
                .with_previous(&previous(&settings, "access-token")),
            verified: VerifiedTokens::default(),
            sessions: SessionCookies::new(
                secret,
                secure_cookies,
                settings.session_ttl,
                settings.access_token_ttl,
            )
            .with_previous(&settings.previous_session_secrets),
            csrf_key: derive_key(secret, "consent-csrf"),
            previous_csrf_keys: previous(&settings, "consent-csrf"),
            limits: SourceLimits::new(settings.anonymous_per_minute),
            client_documents: None,
            preregistered: PreregisteredClients::default(),
            directory: None,
            issuer,
            resource,
            revocations: Arc::new(Revocations::new(store.clone())),
            store,
            login,
            roles,
            secure_cookies,
            settings,
        }
    }

    /// Knows the clients of `CLIENTS_FILE`.
    pub fn with_preregistered_clients(mut self, clients: PreregisteredClients) -> Self {
        self.preregistered = clients;
        self
    }

    /// Reads users' status and groups at Okta (for ID-JAGs without a `groups` claim).
    pub fn with_directory(mut self, directory: Arc<dyn UserDirectory>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Accepts clients whose `client_id` is the https URL of their metadata document.
    pub fn with_client_metadata_documents(mut self, documents: ClientMetadataDocuments) -> Self {
        self.client_documents = Some(Arc::new(documents));
        self
    }

    /// The issuer (the public URL without a trailing slash).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The canonical MCP URL (`<issuer>/mcp`), the audience of our access tokens.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// What has been revoked (kept current by [`Revocations::follow`]).
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// The store holding the authorization state.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// How long a credential of a login can live: a cut-off must last that long.
    fn credential_lifetime(&self) -> Duration {
        self.settings
            .refresh_token_ttl
            .max(self.settings.session_ttl)
            .max(self.settings.access_token_ttl)
            .max(SHORT_LIVED)
    }

    /// Notes that `subject` now holds credentials (see [`Revocations::note_subject`]).
    async fn note_subject(&self, subject: &str) -> Result<(), StoreError> {
        self.revocations
            .note_subject(subject, self.credential_lifetime())
            .await
    }

    /// Whether `subject` may hold credentials of this proxy (logged in within their lifetime).
    pub async fn subject_known(&self, subject: &str) -> Result<bool, StoreError> {
        self.revocations.subject_known(subject).await
    }

    /// Cuts `subject` off at `at` (unix ms) on every replica (see [`Cutoff`]).
    pub async fn cut_off(&self, subject: &str, cutoff: Cutoff, at: u64) -> Result<(), StoreError> {
        self.revocations
            .cut_off(subject, cutoff, at, self.credential_lifetime())
            .await
    }

    /// Whether the Okta group named `group` grants a role here.
    pub fn group_grants_role(&self, group: &str) -> bool {
        self.roles.role_for(&[group.to_owned()]).is_some()
    }

    /// Answers the OAuth and browser endpoints; `None` when the path is not one of ours.
    pub async fn handle(&self, request: &WebRequest) -> Option<WebResponse> {
        let keeps_state = match request.path.as_str() {
            "/register" => request.method == http::Method::POST,
            "/authorize" | "/oauth/login" => request.method == http::Method::GET,
            _ => false,
        };
        if keeps_state && let Err(wait) = self.limits.take(request.peer, std::time::Instant::now())
        {
            return Some(too_many_requests(request, wait));
        }
        let response = match request.path.as_str() {
            "/.well-known/oauth-protected-resource"
            | "/.well-known/oauth-protected-resource/mcp" => {
                self.protected_resource_metadata(request)
            }
            "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
                self.authorization_server_metadata(request)
            }
            "/register" => self.register(request).await,
            "/authorize" => self.authorize(request).await,
            "/oauth/consent" => self.consent(request).await,
            "/oauth/callback" => self.callback(request).await,
            "/token" => self.token(request).await,
            "/revoke" => self.revoke(request).await,
            "/oauth/login" => self.browser_login(request).await,
            "/oauth/logout" => self.browser_logout(request).await,
            _ => return None,
        };
        Some(response)
    }

    /// For `/mcp`: our Bearer access token, or else the session cookie; otherwise the 401
    /// answer with the `WWW-Authenticate` challenge that starts discovery.
    // The `Err` is the complete answer to send, built only for refused requests.
    #[allow(clippy::result_large_err)]
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Arc<Principal>, WebResponse> {
        let now = now();
        if let Err(error) = self.revocations.ensure_loaded().await {
            tracing::warn!(%error, "cannot load the revocation list");
            return Err(WebResponse::jsonrpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32603,
                "the authorization state is not reachable; try again",
            ));
        }
        if let Some(authorization) = headers.get(header::AUTHORIZATION) {
            let token = authorization
                .to_str()
                .ok()
                .and_then(|value| value.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token.trim());
            let Some(token) = token else {
                return Err(
                    self.unauthorized(Some("the Authorization header is not a Bearer token"))
                );
            };
            let verified = self.tokens.verify_cached(
                &self.verified,
                token,
                now,
                &self.revocations,
                |claims| Principal {
                    seen_ms: claims.seen(),
                    subject: claims.sub,
                    email: claims.email,
                    role: claims.role,
                    client_id: Some(claims.client_id),
                },
            );
            return match verified {
                Ok(principal) => Ok(principal),
                Err(TokenError::Store(error)) => {
                    tracing::warn!(%error, "cannot check token revocation");
                    Err(WebResponse::jsonrpc_error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        -32603,
                        "the authorization state is not reachable; try again",
                    ))
                }
                Err(error) => {
                    tracing::debug!(%error, "bearer token refused");
                    Err(self.unauthorized(Some(&error.to_string())))
                }
            };
        }
        if let Some(session) = self.sessions.read(headers, now)
            && !self.revocations.session_revoked(&session.sid)
        {
            let cutoffs = self.revocations.cutoffs(&session.sub);
            if !cutoffs.login_alive(session.seen) {
                let remaining = Self::session_remaining(&session, now);
                self.end_session(&session, remaining).await;
                return Err(self.session_ended("your Okta account or session was revoked"));
            }
            if session.chk <= now || !cutoffs.role_current(session.seen) {
                return self.recheck_session(session).await;
            }
            return Ok(Arc::new(Principal {
                subject: session.sub,
                email: session.email,
                role: session.role,
                client_id: None,
                seen_ms: session.seen,
            }));
        }
        Err(self.unauthorized(None))
    }

    /// 401 for `/mcp`; `invalid_token` says a token was presented but is not good.
    fn unauthorized(&self, invalid_token: Option<&str>) -> WebResponse {
        let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", self.issuer);
        let challenge = match invalid_token {
            Some(reason) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{metadata}\"",
                reason.replace(['"', '\\'], "'")
            ),
            None => format!("Bearer resource_metadata=\"{metadata}\""),
        };
        let message = match invalid_token {
            Some(reason) => format!("Unauthorized: {reason}"),
            None => "Unauthorized: log in with OAuth (see WWW-Authenticate)".to_owned(),
        };
        WebResponse::jsonrpc_error(StatusCode::UNAUTHORIZED, -32001, &message)
            .with_header(header::WWW_AUTHENTICATE, &challenge)
    }

    async fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        Ok(self
            .store
            .get(key)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    async fn take<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        Ok(self
            .store
            .take(key)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok()))
    }

    async fn save<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let text =
            serde_json::to_string(value).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.store.put(key, &text, ttl).await
    }

    /// The client's (already checked) redirect URI with `params` and our `iss` added.
    fn client_redirect_url(
        &self,
        redirect_uri: &str,
        params: &[(&str, Option<&str>)],
    ) -> Option<String> {
        let mut url = Url::parse(redirect_uri).ok()?;
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in params {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
            query.append_pair("iss", &self.issuer);
        }
        Some(url.to_string())
    }

    /// A redirect back to the client with `params` and our `iss`.
    fn redirect_to_client(
        &self,
        redirect_uri: &str,
        params: &[(&str, Option<&str>)],
    ) -> WebResponse {
        match self.client_redirect_url(redirect_uri, params) {
            Some(location) => no_store(WebResponse::redirect(&location))
                .with_header(header::REFERRER_POLICY, "no-referrer"),
            // Registered URIs always parse; this is only a guard.
            None => pages::error_page(
                StatusCode::BAD_REQUEST,
                "Invalid redirect URI",
                "The app's redirect URI is not valid.",
            ),
        }
    }
}

/// Unix seconds now.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache`.
fn no_store(response: WebResponse) -> WebResponse {
    response
        .with_header(header::CACHE_CONTROL, "no-store")
        .with_header(header::PRAGMA, "no-cache")
}

/// Lets browser clients (MCP Inspector) read the answer.
fn cors(response: WebResponse) -> WebResponse {
    response
        .with_header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .with_header(header::ACCESS_CONTROL_EXPOSE_HEADERS, "WWW-Authenticate")
}

/// The answer to a CORS preflight for one of the API endpoints.
fn preflight(methods: &str) -> WebResponse {
    cors(WebResponse::new(
        StatusCode::NO_CONTENT,
        "text/plain; charset=utf-8",
        "",
    ))
    .with_header(header::ACCESS_CONTROL_ALLOW_METHODS, methods)
    .with_header(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "authorization, content-type, mcp-protocol-version",
    )
    .with_header(header::ACCESS_CONTROL_MAX_AGE, "86400")
}

/// An RFC 6749 error answer from an API endpoint (JSON, no-store, CORS).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> WebResponse {
    cors(no_store(WebResponse::json(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    )))
}

/// The keys for `purpose` derived from each previous session secret.
fn previous(settings: &OAuthSettings, purpose: &str) -> Vec<[u8; 32]> {
    settings
        .previous_session_secrets
        .iter()
        .map(|secret| derive_key(secret, purpose))
        .collect()
}

/// 429 for a source past its budget: JSON for `/register`, a page for the browser endpoints.
fn too_many_requests(request: &WebRequest, wait: Duration) -> WebResponse {
    let secs = wait.as_secs().max(1);
    let message = format!(
        "too many requests from your address to the login and registration endpoints; try again in {secs} s"
    );
    let response = if request.path == "/register" {
        oauth_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", &message)
    } else {
        pages::error_page(StatusCode::TOO_MANY_REQUESTS, "Too many requests", &message)
    };
    response.with_header(header::RETRY_AFTER, &secs.to_string())
}

/// 405 for an API endpoint.
fn method_not_allowed(allow: &str) -> WebResponse {
    oauth_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request",
        &format!("use {allow}"),
    )
    .with_header(header::ALLOW, allow)
}

/// 503 for an API endpoint when the store is down.
fn store_unavailable(error: StoreError) -> WebResponse {
    tracing::warn!(%error, "authorization state not reachable");
    oauth_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "the authorization state is not reachable; try again",
    )
}

/// 503 page for a browser endpoint when the store is down.
fn store_unavailable_page(error: StoreError) -> WebResponse {
    tracing::warn!(%error, "authorization state not reachable");
    pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again",
        "The sign-in service cannot reach its state right now. Please try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use crate::store::MemoryStore;
    use crate::tokens::Grant;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use http::HeaderValue;

    fn challenge_of(response: &WebResponse) -> &str {
        header(response, "www-authenticate").expect("a WWW-Authenticate challenge")
    }

    #[tokio::test]
    async fn the_whole_dance_from_401_to_reuse_detection() {
        let t = Harness::new();
        // 1. /mcp without credentials: 401 pointing at the resource metadata
        let refused = t.server.authenticate(&HeaderMap::new()).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            challenge_of(&refused),
            "Bearer resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        );
        assert_eq!(json_body(&refused)["jsonrpc"], "2.0");
        // 2. discovery
        let prm = json_body(
            &t.get("/.well-known/oauth-protected-resource/mcp", &[])
                .await,
        );
        assert_eq!(prm["resource"], t.server.resource());
        let asm = json_body(&t.get("/.well-known/oauth-authorization-server", &[]).await);
        assert_eq!(asm["issuer"], t.server.issuer());
        // 3. registration, 4. authorize → consent → Okta → our code
        let client = t.register_public(&[CLIENT_CB]).await;
        let (verifier, challenge) = pkce();
        let page = t
            .browse_get(&t.authorize_path(&client, CLIENT_CB, &challenge, "abc"))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        let to_okta = t.approve(&page).await;
        let back = t.okta_returns(&to_okta).await;
        let url = redirect_url(&back);
        assert_eq!(query_param(&url, "state").as_deref(), Some("abc"));
        assert_eq!(query_param(&url, "iss").as_deref(), Some(t.server.issuer()));
        let code = query_param(&url, "code").unwrap();
        // 5. token
        let tokens = json_body(&t.redeem(&client, &code, CLIENT_CB, &verifier).await);
        let access = tokens["access_token"].as_str().unwrap();
        let principal = t.bearer(access).await.expect("our token works at /mcp");
        assert_eq!(
            principal,
            Principal {
                subject: "00u-alice".into(),
                email: "alice@example.com".into(),
                role: "viewer".into(),
                client_id: Some(client.clone()),
                seen_ms: principal.seen_ms,
            }
        );
        // 6. refresh, 7. reuse detection
        let first_refresh = tokens["refresh_token"].as_str().unwrap();
        let rotated = json_body(&t.refresh(&client, first_refresh).await);
        let new_access = rotated["access_token"].as_str().unwrap();
        assert!(t.bearer(new_access).await.is_ok());
        let reuse = t.refresh(&client, first_refresh).await;
        assert_eq!(json_body(&reuse)["error"], "invalid_grant");
        for token in [access, new_access] {
            let refused = t.bearer(token).await.unwrap_err();
            assert!(challenge_of(&refused).contains("error=\"invalid_token\""));
        }
        let rotated_refresh = rotated["refresh_token"].as_str().unwrap();
        assert_eq!(
            json_body(&t.refresh(&client, rotated_refresh).await)["error"],
            "invalid_grant"
        );
    }

    #[tokio::test]
    async fn expired_tokens_are_invalid_token() {
        let t = Harness::with(
            |s| s.access_token_ttl = Duration::ZERO,
            MemoryStore::default(),
        );
        let (_, tokens) = t.tokens_for_new_client().await;
        let refused = t
            .bearer(tokens["access_token"].as_str().unwrap())
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        let challenge = challenge_of(&refused);
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(challenge.contains("expired"));
        assert!(challenge.contains(
            "resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
        ));
    }

    #[tokio::test]
    async fn tokens_for_another_audience_or_not_ours_are_refused() {
        let t = Harness::new();
        let grant = Grant {
            subject: "00u-alice".into(),
            email: "alice@example.com".into(),
            role: "super-admin".into(),
            client_id: "c".into(),
            scope: "mcp".into(),
            family: "f".into(),
        };
        let same_key = derive_key(&[42u8; 32], "access-token");
        let wrong_audience = AccessTokens::new(same_key, PUBLIC, "https://other.example.com/mcp");
        let (token, _) = wrong_audience.mint(&grant, now(), Duration::from_secs(900));
        let refused = t.bearer(&token).await.unwrap_err();
        assert!(challenge_of(&refused).contains("invalid_token"));
        assert!(challenge_of(&refused).contains("audience"));

        // An Okta ID token (RS256) is never accepted.
        let header = URL_SAFE_NO_PAD.encode(r#"{"kid":"k1","alg":"RS256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({
                "iss": "https://okta.example.com", "aud": RESOURCE, "sub": "00u-alice",
                "email": "alice@example.com", "role": "super-admin", "client_id": "c", "scope": "mcp",
                "iat": now(), "exp": now() + 3600, "jti": "j", "fid": "f",
            })
            .to_string(),
        );
        let okta_id_token = format!("{header}.{claims}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]));
        let refused = t.bearer(&okta_id_token).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(challenge_of(&refused).contains("invalid_token"));
        // Junk, empty, and non-Bearer schemes.
        for value in [
            "Bearer ",
            "Bearer garbage",
            "Basic dXNlcjpwYXNz",
            "bearer",
            "Token abc",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            let refused = t.server.authenticate(&headers).await.unwrap_err();
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{value}");
            assert!(challenge_of(&refused).contains("invalid_token"), "{value}");
        }
    }

    #[tokio::test]
    async fn the_session_cookie_authenticates_and_a_tampered_one_does_not() {
        let t = Harness::new();
        let to_okta = t.browse_get("/oauth/login").await;
        t.okta_returns(&to_okta).await;
        assert_eq!(t.with_browser_cookies().await.unwrap().role, "viewer");
        let original = t
            .browser
            .lock()
            .unwrap()
            .get("__Host-mcp_session")
            .cloned()
            .unwrap();
        // flip one character of the signed value
        let mut bytes = original.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        t.browser
            .lock()
            .unwrap()
            .insert("__Host-mcp_session".into(), tampered);
        let refused = t.with_browser_cookies().await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        assert!(
            !challenge_of(&refused).contains("invalid_token"),
            "a bad cookie is just absent"
        );
        // the cookie under the non-prefixed name (planted over http) is not read under https
        t.browser.lock().unwrap().clear();
        t.browser
            .lock()
            .unwrap()
            .insert("mcp_session".into(), original);
        assert!(t.with_browser_cookies().await.is_err());
    }

    #[tokio::test]
    async fn a_bearer_token_takes_precedence_over_the_cookie() {
        let t = Harness::new();
        let to_okta = t.browse_get("/oauth/login").await;
        t.okta_returns(&to_okta).await;
        let cookie = t
            .browser
            .lock()
            .unwrap()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).unwrap());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer bad"),
        );
        let refused = t.server.authenticate(&headers).await.unwrap_err();
        assert!(challenge_of(&refused).contains("invalid_token"));
    }

    #[test]
    fn settings_refuse_weak_secrets_and_urls_with_paths() {
        let url = Url::parse("https://mcp.example.com").unwrap();
        assert_eq!(
            OAuthSettings::new(url.clone(), vec![1; 31]).unwrap_err(),
            SettingsError::WeakSecret(31)
        );
        let settings = OAuthSettings::new(url, vec![1; 32]).unwrap();
        assert_eq!(settings.access_token_ttl, Duration::from_secs(900));
        assert_eq!(
            settings.refresh_token_ttl,
            Duration::from_secs(30 * 24 * 3600)
        );
        assert!(!format!("{settings:?}").contains("[1, 1"));
        for bad in [
            "https://mcp.example.com/prefix",
            "https://mcp.example.com/?x=1",
            "ftp://mcp.example.com",
            "https://u:p@mcp.example.com",
        ] {
            assert!(
                OAuthSettings::new(Url::parse(bad).unwrap(), vec![1; 32]).is_err(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_bearer_token_names_its_client_and_absence_is_refused() {
        let t = Harness::new();
        let (client, tokens) = t.tokens_for_new_client().await;
        let mut headers = HeaderMap::new();
        let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&bearer).unwrap(),
        );
        let principal = t.server.authenticate(&headers).await.unwrap();
        assert_eq!(principal.client_id.as_deref(), Some(client.as_str()));
        let refused = t.server.authenticate(&HeaderMap::new()).await.unwrap_err();
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn issuer_and_resource_have_no_trailing_slash() {
        let t = Harness::with_url("http://localhost:3001/", |_| {}, MemoryStore::default());
        assert_eq!(t.server.issuer(), "http://localhost:3001");
        assert_eq!(t.server.resource(), "http://localhost:3001/mcp");
    }
}
