//! Logging users in at Okta with OpenID Connect (`openidconnect`).
//!
//! The authorization server (`oauth`) only sees the [`UpstreamLogin`] trait, so its tests can use
//! a stand-in; [`OktaLogin`] is the real one. Okta is the org authorization server by default
//! (issuer = the org URL) or a custom one (`OKTA_ISSUER`, e.g. `<org>/oauth2/default`).
//!
//! Why it is built this way:
//! - Discovery can fail at start-up (network, Okta down), so it is a separate [`OktaLogin::discover`]
//!   the caller retries; until it succeeds [`UpstreamLogin::start`] answers `NotReady` and
//!   readiness is false, instead of the process refusing to start.
//! - Every ID token is verified by `openidconnect` (signature against the JWKS, `iss`, `aud`,
//!   `exp`, and at login the `nonce`); a token signed by a key the cached JWKS lacks makes us
//!   re-read discovery and the JWKS once (Okta rotates keys), at most once a minute.
//! - Groups come from the ID token's `groups` claim; Okta only puts it there when the app's groups
//!   claim is configured, so without it we ask userinfo (which answers with the `groups` scope).
//! - The HTTP client follows no redirects (as `openidconnect` recommends against SSRF) and has
//!   timeouts. Tokens and codes never appear in errors or logs.
//! - As strict as Okta allows, each when configured: `private_key_jwt` instead of the secret,
//!   DPoP-bound tokens (see [`transport`]), pushed authorization requests (PAR, RFC 9126, also
//!   whenever discovery requires them), and the authorization response's `iss` (RFC 9207)
//!   checked against the issuer, required when discovery says Okta sends it. Scopes the issuer
//!   does not offer stop discovery, so a typo is a start-up message instead of failed logins.

pub mod transport;

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreJwsSigningAlgorithm, CoreResponseMode, CoreResponseType, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreSubjectIdentifierType, CoreTokenIntrospectionResponse,
    CoreTokenType,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata, AuthType,
    AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IdTokenClaims, IdTokenFields,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, RefreshToken, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::jws::{self, VerifiedJwt};
use okta_mcp_common::okta_auth::jose::SigningKey;
pub use transport::ClientAuth;
use transport::Transport;

/// What the proxy must remember between sending the browser to Okta and Okta's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginStart {
    /// Where to send the browser (Okta's authorize endpoint with our state, nonce and PKCE).
    pub url: Url,
    /// The `state` sent to Okta; the callback must bring it back.
    pub state: String,
    /// The `nonce` sent to Okta; the ID token must carry it.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
}

/// Who Okta says the user is, with their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamIdentity {
    /// The ID token's `sub` (Okta user id).
    pub subject: String,
    /// The `email` claim, empty when absent.
    pub email: String,
    /// Group names from the `groups` claim, else from userinfo.
    pub groups: Vec<String>,
    /// Okta's refresh token, when Okta issued one (`offline_access`).
    pub refresh_token: Option<String>,
}

/// Why a login or refresh at Okta failed. Messages are safe to log (no tokens).
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("Okta discovery has not completed: {0}")]
    NotReady(String),
    #[error("Okta refused the code exchange: {0}")]
    Exchange(String),
    #[error("Okta's ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error("Okta refused the refresh: {0}")]
    Refresh(String),
    #[error("cannot reach Okta: {0}")]
    Transport(String),
    #[error("Okta's pushed authorization request failed: {0}")]
    Par(String),
}

/// The identity provider the proxy logs users in with.
#[async_trait]
pub trait UpstreamLogin: Send + Sync {
    /// A fresh login: the authorize URL plus the state, nonce and PKCE verifier to keep
    /// (with PAR, the parameters are first pushed to Okta).
    async fn start(&self) -> Result<LoginStart, LoginError>;
    /// Checks the authorization response's `iss` (RFC 9207): when present it must be the
    /// issuer; when the issuer says it sends one, it must be present. `Err` says why.
    fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), String> {
        let _ = iss;
        Ok(())
    }
    /// Exchanges Okta's code, verifies the ID token (signature, iss, aud, exp, nonce), reads groups.
    async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<UpstreamIdentity, LoginError>;
    /// Uses Okta's refresh token to read the user's current groups again.
    async fn refresh(&self, refresh_token: &str) -> Result<UpstreamIdentity, LoginError>;
    /// Whether discovery has completed (readiness).
    fn ready(&self) -> bool;
    /// Verifies a JWT Okta signed (an ID-JAG): its signature against the issuer's keys (read
    /// again once when its key is unknown: Okta rotates keys) and `iss` = the issuer. The other
    /// claims are the caller's to check.
    async fn verify_signed(&self, jwt: &str) -> Result<VerifiedJwt, SignedJwtError> {
        let _ = jwt;
        Err(SignedJwtError::Refused(
            "this server does not check assertions signed by Okta".into(),
        ))
    }
}

/// Why a JWT Okta should have signed was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SignedJwtError {
    /// Okta's keys cannot be read now (discovery pending, network): try again later.
    #[error(transparent)]
    Unavailable(LoginError),
    /// The JWT is not Okta's; the text says why and names no token content.
    #[error("{0}")]
    Refused(String),
}

/// Scopes asked of Okta unless configured otherwise (`openid` is always sent).
pub const DEFAULT_SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];

/// Longest one HTTP exchange with Okta may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a TCP/TLS connection to Okta may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Least time between two re-reads of Okta's keys caused by an unknown signing key.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(60);
/// Longest wait between two discovery attempts in [`OktaLogin::keep_discovering`].
const MAX_DISCOVERY_BACKOFF: Duration = Duration::from_secs(30);

/// How the proxy proves to Okta that it is the app.
#[derive(Clone)]
pub enum ClientCredential {
    /// `OKTA_CLIENT_SECRET` (`client_secret_basic`).
    Secret(String),
    /// `OKTA_CLIENT_KEY_FILE`'s PKCS#8 PEM (`private_key_jwt`), with `OKTA_CLIENT_KEY_ID`.
    PrivateKey { pem: String, key_id: Option<String> },
}

/// What [`OktaLogin`] needs to know about the Okta app.
#[derive(Clone)]
pub struct OktaLoginSettings {
    /// `OKTA_ISSUER`, default the org URL (org authorization server); a trailing `/` is ignored.
    pub issuer: Url,
    /// `OKTA_CLIENT_ID`.
    pub client_id: String,
    /// The client secret or private key.
    pub credential: ClientCredential,
    /// `<public-url>/oauth/callback` or `OAUTH_REDIRECT_URI`; must be a sign-in redirect URI of the app.
    pub redirect_uri: Url,
    /// Scopes to ask for, usually [`DEFAULT_SCOPES`].
    pub scopes: Vec<String>,
    /// `OKTA_DPOP`: token requests carry DPoP proofs (the app requires DPoP).
    pub dpop: bool,
    /// `OKTA_PAR`: push the authorization parameters first (also when discovery requires it).
    pub par: bool,
}

impl OktaLoginSettings {
    /// Settings asking for [`DEFAULT_SCOPES`].
    pub fn new(
        issuer: Url,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uri: Url,
    ) -> Self {
        Self {
            issuer,
            client_id: client_id.into(),
            credential: ClientCredential::Secret(client_secret.into()),
            redirect_uri,
            scopes: Self::default_scopes(),
            dpop: false,
            par: false,
        }
    }

    /// [`DEFAULT_SCOPES`] as owned strings.
    pub fn default_scopes() -> Vec<String> {
        DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect()
    }
}

impl std::fmt::Debug for OktaLoginSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaLoginSettings")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id)
            .field(
                "credential",
                &match &self.credential {
                    ClientCredential::Secret(_) => "secret <redacted>",
                    ClientCredential::PrivateKey { .. } => "private key <redacted>",
                },
            )
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("scopes", &self.scopes)
            .field("dpop", &self.dpop)
            .field("par", &self.par)
            .finish()
    }
}

/// Why an [`OktaLogin`] cannot be built (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum OktaLoginSetupError {
    #[error("the Okta client id is empty")]
    EmptyClientId,
    #[error("the Okta client secret is empty")]
    EmptyClientSecret,
    #[error("OKTA_CLIENT_KEY_FILE: {0}")]
    ClientKey(String),
    #[error(
        "the Okta issuer {0:?} is not usable: it must be an http(s) URL without query or fragment"
    )]
    Issuer(String),
    #[error(
        "the Okta redirect URI {0:?} is not usable: it must be an http(s) URL without fragment"
    )]
    RedirectUri(String),
    #[error("cannot build the HTTP client for Okta: {0}")]
    HttpClient(String),
}

/// Okta's claims beyond the standard ones: `groups`, a list of group names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OktaClaims {
    /// Kept as JSON so an odd value (Okta can be configured to send one string) never makes the
    /// whole ID token unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    groups: Option<serde_json::Value>,
}

impl AdditionalClaims for OktaClaims {}

impl OktaClaims {
    /// The group names; `None` when the claim is absent or neither a string nor a list.
    fn group_names(&self) -> Option<Vec<String>> {
        match self.groups.as_ref()? {
            serde_json::Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(serde_json::Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ),
            serde_json::Value::String(one) => Some(vec![one.clone()]),
            _ => None,
        }
    }
}

type OktaIdTokenFields = IdTokenFields<
    OktaClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OktaTokenResponse = StandardTokenResponse<OktaIdTokenFields, CoreTokenType>;
type OktaIdToken = IdToken<
    OktaClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OktaIdTokenClaims = IdTokenClaims<OktaClaims, CoreGenderClaim>;
type OktaErrorResponse = StandardErrorResponse<CoreErrorResponseType>;

/// Discovery fields beyond OIDC Discovery's: PAR (RFC 9126) and RFC 9207's `iss`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OktaMetadataExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for OktaMetadataExtra {}

type OktaProviderMetadata = ProviderMetadata<
    OktaMetadataExtra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
/// The client `from_provider_metadata` gives: authorize URL set, token and userinfo URLs maybe.
type OktaClient = Client<
    OktaClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    OktaErrorResponse,
    OktaTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What discovery told us, with the client built from it.
struct Discovered {
    client: Arc<OktaClient>,
    authorization_endpoint: Url,
    token_endpoint: String,
    /// Where to push authorization requests when PAR is used.
    par_endpoint: Option<Url>,
    /// PAR is configured or required by the issuer.
    use_par: bool,
    /// The issuer sends `iss` in authorization responses (RFC 9207), so it must be there.
    iss_required: bool,
}

/// Logs users in at Okta (authorization code + PKCE S256; a client secret or
/// `private_key_jwt`; DPoP and PAR when configured).
pub struct OktaLogin {
    issuer: IssuerUrl,
    client_id: ClientId,
    auth: ClientAuth,
    redirect_uri: RedirectUrl,
    /// Extra scopes; `openid` is added by `openidconnect`.
    scopes: Vec<Scope>,
    http: reqwest::Client,
    transport: Transport,
    par: bool,
    /// Built from discovery; `None` until [`OktaLogin::discover`] succeeds.
    client: RwLock<Option<Arc<Discovered>>>,
    /// The issuer's signing keys from the last discovery, for JWTs other than ID tokens.
    keys: RwLock<Option<Arc<CoreJsonWebKeySet>>>,
    last_key_refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for OktaLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OktaLogin")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .field("ready", &self.ready())
            .finish_non_exhaustive()
    }
}

impl OktaLogin {
    /// Checks the settings and builds the HTTP client; no network yet (see [`OktaLogin::discover`]).
    pub fn new(settings: OktaLoginSettings) -> Result<Self, OktaLoginSetupError> {
        if settings.client_id.trim().is_empty() {
            return Err(OktaLoginSetupError::EmptyClientId);
        }
        let auth = match settings.credential {
            ClientCredential::Secret(secret) if secret.is_empty() => {
                return Err(OktaLoginSetupError::EmptyClientSecret);
            }
            ClientCredential::Secret(secret) => ClientAuth::Secret(secret),
            ClientCredential::PrivateKey { pem, key_id } => ClientAuth::PrivateKey {
                key: Box::new(
                    SigningKey::from_pem(&pem)
                        .map_err(|e| OktaLoginSetupError::ClientKey(e.to_string()))?,
                ),
                key_id: key_id.filter(|k| !k.trim().is_empty()),
            },
        };
        let issuer = issuer_url(&settings.issuer)?;
        let redirect = &settings.redirect_uri;
        if !matches!(redirect.scheme(), "http" | "https")
            || !redirect.has_host()
            || redirect.fragment().is_some()
        {
            return Err(OktaLoginSetupError::RedirectUri(redirect.to_string()));
        }
        let redirect_uri = RedirectUrl::from_url(redirect.clone());
        let scopes = settings
            .scopes
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty() && *s != "openid")
            .map(|s| Scope::new(s.to_owned()))
            .collect();
        // reqwest is built without a default crypto provider; ring is the process's one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| OktaLoginSetupError::HttpClient(error_chain(&e)))?;
        let transport =
            Transport::new(http.clone(), settings.dpop).map_err(OktaLoginSetupError::HttpClient)?;
        Ok(Self {
            issuer,
            client_id: ClientId::new(settings.client_id),
            auth,
            redirect_uri,
            scopes,
            http,
            transport,
            par: settings.par,
            client: RwLock::new(None),
            keys: RwLock::new(None),
            last_key_refresh: Mutex::new(None),
        })
    }

    /// The issuer as compared with discovery and ID tokens (no trailing `/`).
    pub fn issuer(&self) -> &str {
        self.issuer.as_str()
    }

    /// Reads Okta's discovery document and keys; once it succeeds the login is ready.
    /// Calling it again re-reads both (new signing keys).
    pub async fn discover(&self) -> Result<(), LoginError> {
        let metadata = OktaProviderMetadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| match e {
                openidconnect::DiscoveryError::Request(e) => LoginError::Transport(format!(
                    "discovery at {}: {}",
                    self.issuer.as_str(),
                    error_chain(&e)
                )),
                other => LoginError::NotReady(format!(
                    "discovery at {}: {}",
                    self.issuer.as_str(),
                    error_chain(&other)
                )),
            })?;
        if metadata.token_endpoint().is_none() {
            return Err(LoginError::NotReady(format!(
                "the discovery document of {} names no token endpoint",
                self.issuer.as_str()
            )));
        }
        let not_ready = |why: String| {
            LoginError::NotReady(format!(
                "the discovery document of {}: {why}",
                self.issuer.as_str()
            ))
        };
        if let Some(offered) = metadata.scopes_supported() {
            let missing: Vec<String> = self
                .scopes
                .iter()
                .filter(|s| !offered.iter().any(|o| o.as_str() == s.as_str()))
                .map(|s| format!("{:?}", s.as_str()))
                .collect();
            if !missing.is_empty() {
                return Err(LoginError::NotReady(format!(
                    "OKTA_LOGIN_SCOPES: {} does not offer scope {}",
                    self.issuer.as_str(),
                    missing.join(", ")
                )));
            }
        }
        let extra = metadata.additional_metadata().clone();
        let par_endpoint = match &extra.pushed_authorization_request_endpoint {
            Some(raw) => Some(
                Url::parse(raw)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
                    .ok_or_else(|| {
                        not_ready("pushed_authorization_request_endpoint is not a URL".into())
                    })?,
            ),
            None => None,
        };
        let use_par = self.par || extra.require_pushed_authorization_requests;
        if use_par && par_endpoint.is_none() {
            return Err(not_ready(
                "PAR is on (OKTA_PAR or require_pushed_authorization_requests) but it names no pushed_authorization_request_endpoint".into(),
            ));
        }
        let token_endpoint = metadata
            .token_endpoint()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        let authorization_endpoint = metadata.authorization_endpoint().url().clone();
        let keys = metadata.jwks().keys().len();
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(metadata.jwks().clone()));
        let client = match &self.auth {
            ClientAuth::Secret(secret) => OktaClient::from_provider_metadata(
                metadata,
                self.client_id.clone(),
                Some(ClientSecret::new(secret.clone())),
            ),
            // The assertion goes in the body, with client_id.
            ClientAuth::PrivateKey { .. } => {
                OktaClient::from_provider_metadata(metadata, self.client_id.clone(), None)
                    .set_auth_type(AuthType::RequestBody)
            }
        }
        .set_redirect_uri(self.redirect_uri.clone());
        let discovered = Discovered {
            client: Arc::new(client),
            authorization_endpoint,
            token_endpoint,
            par_endpoint,
            use_par,
            iss_required: extra.authorization_response_iss_parameter_supported,
        };
        *self.client.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(discovered));
        tracing::info!(
            issuer = self.issuer.as_str(),
            keys,
            client_auth = ?self.auth,
            dpop = self.transport.dpop(),
            par = use_par,
            "Okta discovery done"
        );
        Ok(())
    }

    /// Calls [`OktaLogin::discover`] until it succeeds, waiting 1 s, 2 s, 4 s … (at most 30 s)
    /// between attempts. Meant for a background task started at start-up.
    pub async fn keep_discovering(&self) {
        let mut wait = Duration::from_secs(1);
        loop {
            match self.discover().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_secs = wait.as_secs(), "Okta discovery failed");
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(MAX_DISCOVERY_BACKOFF);
        }
    }

    fn client(&self) -> Result<Arc<Discovered>, LoginError> {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                LoginError::NotReady(format!("no answer yet from {}", self.issuer.as_str()))
            })
    }

    /// Whether an unknown signing key may trigger a re-read of Okta's keys now.
    fn may_refresh_keys(&self) -> bool {
        let mut last = self
            .last_key_refresh
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < KEY_REFRESH_INTERVAL) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The `private_key_jwt` parameters for a request to `endpoint` (none with a secret).
    fn client_assertion(
        &self,
        endpoint: &str,
        fail: fn(String) -> LoginError,
    ) -> Result<Vec<(&'static str, String)>, LoginError> {
        self.auth
            .assertion_params(self.client_id.as_str(), endpoint)
            .map_err(fail)
    }

    /// [`token_error`], saying what to set when Okta wants DPoP and the proxy sends none.
    fn token_error<RE: std::error::Error + 'static>(
        &self,
        error: RequestTokenError<RE, OktaErrorResponse>,
        fail: fn(String) -> LoginError,
    ) -> LoginError {
        let dpop_wanted = matches!(&error, RequestTokenError::ServerResponse(r)
            if matches!(r.error(), CoreErrorResponseType::Extension(e) if e == "invalid_dpop_proof" || e == "use_dpop_nonce"));
        let error = token_error(error, fail);
        if dpop_wanted && !self.transport.dpop() {
            tracing::warn!(
                "Okta requires DPoP for this app: set OKTA_DPOP=true (or turn the app's DPoP requirement off)"
            );
            return fail(format!(
                "{error} (Okta requires DPoP for this app: set OKTA_DPOP=true)"
            ));
        }
        error
    }

    /// Pushes the authorization parameters of `url` to Okta (RFC 9126) and returns the
    /// authorize URL that names only `client_id` and the `request_uri` Okta gave.
    async fn push(
        &self,
        discovered: &Discovered,
        endpoint: &Url,
        url: &Url,
    ) -> Result<Url, LoginError> {
        let assertion = self
            .auth
            .assertion_params(self.client_id.as_str(), endpoint.as_str())
            .map_err(LoginError::Par)?;
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url.query_pairs())
            .extend_pairs(assertion)
            .finish();
        let mut request = http::Request::builder()
            .method(http::Method::POST)
            .uri(endpoint.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        if let Some(basic) = self.auth.basic_header(self.client_id.as_str()) {
            request = request.header(http::header::AUTHORIZATION, basic);
        }
        let request = request
            .body(body.into_bytes())
            .map_err(|e| LoginError::Par(e.to_string()))?;
        let response = self
            .transport
            .send(request, false)
            .await
            .map_err(|e| LoginError::Transport(format!("PAR: {}", error_chain(&e))))?;
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap_or_default();
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let error: String = body["error"]
                .as_str()
                .unwrap_or("no error code")
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect();
            let description: String = body["error_description"]
                .as_str()
                .unwrap_or_default()
                .chars()
                // Okta's text ends up in a log line: no line breaks to forge another.
                .filter(|c| !c.is_control())
                .take(300)
                .collect();
            return Err(LoginError::Par(format!(
                "HTTP {status}: {error}: {description}"
            )));
        }
        let request_uri = body["request_uri"]
            .as_str()
            .filter(|u| {
                !u.is_empty()
                    && u.len() <= 2048
                    && u.contains(':')
                    && !u.chars().any(char::is_control)
            })
            .ok_or_else(|| LoginError::Par("Okta's answer has no usable request_uri".into()))?;
        let mut authorize = discovered.authorization_endpoint.clone();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", self.client_id.as_str())
            .append_pair("request_uri", request_uri);
        Ok(authorize)
    }

    /// Verifies `id_token` (and its `at_hash`), re-reading Okta's keys once if its key is unknown.
    async fn verified_claims(
        &self,
        client: &OktaClient,
        id_token: &OktaIdToken,
        nonce: Option<&Nonce>,
        access_token: &AccessToken,
    ) -> Result<OktaIdTokenClaims, LoginError> {
        match check_id_token(client, id_token, nonce, access_token) {
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) if self.may_refresh_keys() => {
                tracing::info!("Okta signed with a key we do not know; reading its keys again");
                self.discover().await?;
                let discovered = self.client()?;
                check_id_token(&discovered.client, id_token, nonce, access_token)
                    .map_err(|e| LoginError::InvalidIdToken(error_chain(&e)))
            }
            result => result.map_err(|e| LoginError::InvalidIdToken(error_chain(&e))),
        }
    }

    /// Subject, email and groups from verified claims, completed from userinfo when the ID token
    /// is missing or has no `groups` claim.
    async fn identity(
        &self,
        client: &OktaClient,
        claims: Option<OktaIdTokenClaims>,
        token: &OktaTokenResponse,
        previous_refresh_token: Option<&str>,
        fail: fn(String) -> LoginError,
    ) -> Result<UpstreamIdentity, LoginError> {
        let mut subject = claims.as_ref().map(|c| c.subject().as_str().to_owned());
        let mut email = claims
            .as_ref()
            .and_then(|c| c.email())
            .map(|e| e.as_str().to_owned());
        let mut groups = claims
            .as_ref()
            .and_then(|c| c.additional_claims().group_names());
        if groups.is_none() {
            let info = self
                .user_info(client, token, subject.as_deref(), fail)
                .await?;
            subject.get_or_insert_with(|| info.subject().as_str().to_owned());
            if email.is_none() {
                email = info.email().map(|e| e.as_str().to_owned());
            }
            groups = info.additional_claims().group_names();
            if groups.is_none() {
                tracing::warn!(
                    "Okta sent no groups claim (ID token or userinfo): is the `groups` scope \
                     allowed and a groups claim configured for the app?"
                );
            }
        }
        let subject = subject
            .filter(|s| !s.is_empty())
            .ok_or_else(|| fail("Okta named no subject".into()))?;
        let refresh_token = token
            .refresh_token()
            .map(|t| t.secret().clone())
            .or_else(|| previous_refresh_token.map(str::to_owned));
        Ok(UpstreamIdentity {
            subject,
            email: email.unwrap_or_default(),
            groups: groups.unwrap_or_default(),
            refresh_token,
        })
    }

    async fn user_info(
        &self,
        client: &OktaClient,
        token: &OktaTokenResponse,
        expected_subject: Option<&str>,
        fail: fn(String) -> LoginError,
    ) -> Result<UserInfoClaims<OktaClaims, CoreGenderClaim>, LoginError> {
        let request = client
            .user_info(
                token.access_token().clone(),
                expected_subject.map(|s| SubjectIdentifier::new(s.to_owned())),
            )
            .map_err(|_| fail("Okta's discovery document names no userinfo endpoint".into()))?;
        // A DPoP-bound token is presented as `DPoP <token>` with a proof (RFC 9449 §7.1).
        let bound = matches!(token.token_type(), CoreTokenType::Extension(t) if t.eq_ignore_ascii_case("dpop"));
        request
            .request_async(&self.transport.client(bound))
            .await
            .map_err(|e| match e {
                openidconnect::UserInfoError::Request(e) => {
                    LoginError::Transport(format!("userinfo: {}", error_chain(&e)))
                }
                openidconnect::UserInfoError::Response(status, _, _) => {
                    tracing::warn!("Okta userinfo failed: HTTP {}", status.as_u16());
                    fail(format!("Okta userinfo failed: HTTP {}", status.as_u16()))
                }
                // The body may hold personal data: only say that it was unreadable.
                openidconnect::UserInfoError::Parse(_) => {
                    fail("userinfo answer is not readable".into())
                }
                other => fail(format!("userinfo: {}", error_chain(&other))),
            })
    }
}

#[async_trait]
impl UpstreamLogin for OktaLogin {
    async fn verify_signed(&self, jwt: &str) -> Result<VerifiedJwt, SignedJwtError> {
        let keys = || {
            self.keys
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
                .ok_or_else(|| {
                    SignedJwtError::Unavailable(LoginError::NotReady(format!(
                        "no answer yet from {}",
                        self.issuer.as_str()
                    )))
                })
        };
        let verified = match jws::verify(jwt, &*keys()?) {
            Err(jws::JwsError::UnknownKey) if self.may_refresh_keys() => {
                tracing::info!(
                    "an assertion names an Okta key we do not know; reading Okta's keys again"
                );
                self.discover().await.map_err(SignedJwtError::Unavailable)?;
                jws::verify(jwt, &*keys()?)
            }
            other => other,
        }
        .map_err(|e| {
            SignedJwtError::Refused(format!(
                "the assertion is not signed by {}: {e}",
                self.issuer.as_str()
            ))
        })?;
        match jws::string_claim(&verified.claims, "iss") {
            Some(iss) if iss == self.issuer.as_str() => Ok(verified),
            _ => Err(SignedJwtError::Refused(format!(
                "the assertion's iss is not {}",
                self.issuer.as_str()
            ))),
        }
    }

    async fn start(&self) -> Result<LoginStart, LoginError> {
        let discovered = self.client()?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = discovered
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scopes(self.scopes.iter().cloned())
            .set_pkce_challenge(challenge)
            .url();
        let url = match (&discovered.par_endpoint, discovered.use_par) {
            (Some(endpoint), true) => self.push(&discovered, endpoint, &url).await?,
            _ => url,
        };
        Ok(LoginStart {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    fn check_response_issuer(&self, iss: Option<&str>) -> Result<(), String> {
        let required = self.client().is_ok_and(|d| d.iss_required);
        match iss {
            Some(iss) if iss == self.issuer.as_str() => Ok(()),
            Some(_) => Err(format!(
                "the answer names another issuer than {}",
                self.issuer.as_str()
            )),
            None if required => Err(format!(
                "the answer names no issuer, though {} says it always does",
                self.issuer.as_str()
            )),
            None => Ok(()),
        }
    }

    async fn finish(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<UpstreamIdentity, LoginError> {
        let discovered = self.client()?;
        let client = &discovered.client;
        let mut request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| LoginError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        for (name, value) in
            self.client_assertion(&discovered.token_endpoint, LoginError::Exchange)?
        {
            request = request.add_extra_param(name, value);
        }
        let token = request
            .request_async(&self.transport.client(false))
            .await
            .map_err(|e| self.token_error(e, LoginError::Exchange))?;
        let id_token = token.id_token().ok_or_else(|| {
            LoginError::InvalidIdToken(
                "Okta sent no ID token (is `openid` among the scopes?)".into(),
            )
        })?;
        let nonce = Nonce::new(nonce.to_owned());
        let claims = self
            .verified_claims(client, id_token, Some(&nonce), token.access_token())
            .await?;
        self.identity(client, Some(claims), &token, None, LoginError::Exchange)
            .await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<UpstreamIdentity, LoginError> {
        let discovered = self.client()?;
        let client = &discovered.client;
        let presented = RefreshToken::new(refresh_token.to_owned());
        let mut request = client
            .exchange_refresh_token(&presented)
            .map_err(|e| LoginError::Refresh(e.to_string()))?;
        for (name, value) in
            self.client_assertion(&discovered.token_endpoint, LoginError::Refresh)?
        {
            request = request.add_extra_param(name, value);
        }
        let token = request
            .request_async(&self.transport.client(false))
            .await
            .map_err(|e| self.token_error(e, LoginError::Refresh))?;
        // A refreshed ID token carries no nonce (OIDC Core 12.2); everything else is checked.
        // The identity's refresh token is Okta's new one when it rotated, else `refresh_token`;
        // the caller should check that the subject is still the one it stored.
        let claims = match token.id_token() {
            Some(id_token) => Some(
                self.verified_claims(client, id_token, None, token.access_token())
                    .await?,
            ),
            None => None,
        };
        self.identity(
            client,
            claims,
            &token,
            Some(refresh_token),
            LoginError::Refresh,
        )
        .await
    }

    fn ready(&self) -> bool {
        self.client
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }
}

/// Verifies signature, `iss`, `aud`, `exp` and (when given) `nonce`, then `at_hash` if present.
fn check_id_token(
    client: &OktaClient,
    id_token: &OktaIdToken,
    nonce: Option<&Nonce>,
    access_token: &AccessToken,
) -> Result<OktaIdTokenClaims, openidconnect::ClaimsVerificationError> {
    use openidconnect::ClaimsVerificationError as E;
    let verifier = client.id_token_verifier();
    let claims = match nonce {
        Some(nonce) => id_token.claims(&verifier, nonce)?,
        None => id_token.claims(&verifier, |_: Option<&Nonce>| Ok(()))?,
    };
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token.signing_alg().map_err(E::SignatureVerification)?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(E::SignatureVerification)?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| E::Unsupported(e.to_string()))?;
        if actual != *expected {
            return Err(E::Other("at_hash does not match the access token".into()));
        }
    }
    Ok(claims.clone())
}

/// Maps a token-endpoint failure; Okta's own error and description are kept, bodies are not.
fn token_error<RE: std::error::Error + 'static>(
    error: RequestTokenError<RE, OktaErrorResponse>,
    fail: fn(String) -> LoginError,
) -> LoginError {
    match error {
        RequestTokenError::ServerResponse(response) => {
            let mut message = response.error().as_ref().to_owned();
            if let Some(description) = response.error_description() {
                message.push_str(": ");
                message.extend(description.chars().take(300));
            }
            fail(message)
        }
        RequestTokenError::Request(e) => {
            LoginError::Transport(format!("token: {}", error_chain(&e)))
        }
        RequestTokenError::Parse(_, _) => fail("Okta's token response is not readable".into()),
        RequestTokenError::Other(message) => fail(message),
    }
}

/// `https://x.okta.com/` → `https://x.okta.com`: Okta's issuers never end in `/`, and issuers
/// are compared as strings.
fn issuer_url(url: &Url) -> Result<IssuerUrl, OktaLoginSetupError> {
    if !matches!(url.scheme(), "http" | "https")
        || !url.has_host()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(OktaLoginSetupError::Issuer(url.to_string()));
    }
    IssuerUrl::new(url.as_str().trim_end_matches('/').to_owned())
        .map_err(|_| OktaLoginSetupError::Issuer(url.to_string()))
}

/// An error with its sources, `a: b: c`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OktaLoginSettings {
        OktaLoginSettings {
            issuer: Url::parse("https://dev-1.okta.com/").expect("url"),
            client_id: "0oa-client".into(),
            credential: ClientCredential::Secret("very-secret-value".into()),
            redirect_uri: Url::parse("https://mcp.example.com/oauth/callback").expect("url"),
            scopes: OktaLoginSettings::default_scopes(),
            dpop: false,
            par: false,
        }
    }

    #[test]
    fn issuer_loses_its_trailing_slash() {
        let login = OktaLogin::new(settings()).expect("valid");
        assert_eq!(login.issuer(), "https://dev-1.okta.com");
        let mut custom = settings();
        custom.issuer = Url::parse("https://dev-1.okta.com/oauth2/default/").expect("url");
        let login = OktaLogin::new(custom).expect("valid");
        assert_eq!(login.issuer(), "https://dev-1.okta.com/oauth2/default");
    }

    #[test]
    fn bad_settings_are_start_up_errors() {
        let mut s = settings();
        s.client_id = " ".into();
        assert!(matches!(
            OktaLogin::new(s),
            Err(OktaLoginSetupError::EmptyClientId)
        ));
        let mut s = settings();
        s.credential = ClientCredential::Secret(String::new());
        assert!(matches!(
            OktaLogin::new(s),
            Err(OktaLoginSetupError::EmptyClientSecret)
        ));
        let mut s = settings();
        s.credential = ClientCredential::PrivateKey {
            pem: "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n".into(),
            key_id: None,
        };
        let err = OktaLogin::new(s).expect_err("PKCS#1");
        assert!(
            err.to_string().starts_with("OKTA_CLIENT_KEY_FILE: "),
            "{err}"
        );
        assert!(err.to_string().contains("PKCS#8"), "{err}");
        for issuer in [
            "https://dev-1.okta.com/?x=1",
            "ftp://dev-1.okta.com",
            "https://a#b",
        ] {
            let mut s = settings();
            s.issuer = Url::parse(issuer).expect("url");
            assert!(
                matches!(OktaLogin::new(s), Err(OktaLoginSetupError::Issuer(_))),
                "{issuer}"
            );
        }
        let mut s = settings();
        s.redirect_uri = Url::parse("https://mcp.example.com/cb#frag").expect("url");
        assert!(matches!(
            OktaLogin::new(s),
            Err(OktaLoginSetupError::RedirectUri(_))
        ));
    }

    #[tokio::test]
    async fn not_ready_before_discovery() {
        let login = OktaLogin::new(settings()).expect("valid");
        assert!(!login.ready());
        assert!(matches!(login.start().await, Err(LoginError::NotReady(_))));
    }

    #[tokio::test]
    async fn finish_and_refresh_before_discovery_are_not_ready() {
        let login = OktaLogin::new(settings()).expect("valid");
        assert!(matches!(
            login.finish("c", "n", "v").await,
            Err(LoginError::NotReady(_))
        ));
        assert!(matches!(
            login.refresh("r").await,
            Err(LoginError::NotReady(_))
        ));
    }

    #[tokio::test]
    async fn unreachable_issuer_is_a_transport_error_and_stays_not_ready() {
        let mut s = settings();
        // Port 9 (discard) on loopback: refused at once.
        s.issuer = Url::parse("http://127.0.0.1:9").expect("url");
        let login = OktaLogin::new(s).expect("valid");
        let err = login.discover().await.expect_err("nothing listens");
        assert!(matches!(err, LoginError::Transport(_)), "{err}");
        assert!(err.to_string().contains("http://127.0.0.1:9"), "{err}");
        assert!(!login.ready());
    }

    #[test]
    fn response_issuer_must_be_the_issuer() {
        let login = OktaLogin::new(settings()).expect("valid");
        assert!(
            login
                .check_response_issuer(Some("https://dev-1.okta.com"))
                .is_ok()
        );
        assert!(
            login.check_response_issuer(None).is_ok(),
            "not advertised yet"
        );
        for bad in [
            "https://dev-1.okta.com/",
            "https://evil.example",
            "",
            "https://DEV-1.okta.com",
        ] {
            let err = login.check_response_issuer(Some(bad)).expect_err(bad);
            assert!(err.contains("another issuer"), "{err}");
        }
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let text = format!("{:?}", settings());
        assert!(!text.contains("very-secret-value"), "{text}");
        let login = OktaLogin::new(settings()).expect("valid");
        let text = format!("{login:?}");
        assert!(!text.contains("very-secret-value"), "{text}");
    }

    #[test]
    fn openid_and_blank_scopes_are_not_repeated() {
        let mut s = settings();
        s.scopes = vec!["openid".into(), " ".into(), "groups".into(), "email".into()];
        let login = OktaLogin::new(s).expect("valid");
        let scopes: Vec<&str> = login.scopes.iter().map(|s| s.as_str()).collect();
        assert_eq!(scopes, ["groups", "email"]);
    }

    /// A stand-in issuer on loopback: discovery (with `extra` merged in), empty keys, and a PAR
    /// endpoint answering `par_status` with `par_body`. Returns its base URL.
    async fn issuer_answering(
        extra: serde_json::Value,
        par_status: u16,
        par_body: &'static str,
    ) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut document = serde_json::json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/keys"),
            "pushed_authorization_request_endpoint": format!("{base}/par"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "groups", "offline_access"],
        });
        if let (Some(doc), Some(extra)) = (document.as_object_mut(), extra.as_object()) {
            doc.extend(extra.clone());
        }
        let document = document.to_string();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let document = document.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 16 * 1024];
                    let n = socket.read(&mut buffer).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buffer[..n]).to_string();
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    let (status, body) = match path.as_str() {
                        "/.well-known/openid-configuration" => (200, document),
                        "/keys" => (200, r#"{"keys":[]}"#.to_owned()),
                        "/par" => (par_status, par_body.to_owned()),
                        _ => (404, "{}".to_owned()),
                    };
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        base
    }

    fn login_at(base: &str, par: bool) -> OktaLogin {
        let mut s = settings();
        s.issuer = Url::parse(base).expect("url");
        s.par = par;
        OktaLogin::new(s).expect("valid")
    }

    #[tokio::test]
    async fn bad_par_answers_are_clear_errors() {
        for (status, body, says) in [
            (
                400,
                r#"{"error":"invalid_request","error_description":"bad redirect_uri"}"#,
                "HTTP 400: invalid_request: bad redirect_uri",
            ),
            (500, "<html>oops</html>", "HTTP 500: no error code"),
            (
                400,
                r#"{"error":"x\ny","error_description":"a\n2026-01-01 INFO forged"}"#,
                "HTTP 400: xy: a2026-01-01 INFO forged",
            ),
            (201, "{}", "no usable request_uri"),
            (201, "not json", "no usable request_uri"),
            (201, r#"{"request_uri":""}"#, "no usable request_uri"),
            (
                201,
                r#"{"request_uri":"urn:x\nsmuggled"}"#,
                "no usable request_uri",
            ),
            (201, r#"{"request_uri":42}"#, "no usable request_uri"),
        ] {
            let base = issuer_answering(serde_json::json!({}), status, body).await;
            let login = login_at(&base, true);
            login.discover().await.expect("discovery");
            let err = login.start().await.expect_err(body);
            assert!(matches!(err, LoginError::Par(_)), "{err}");
            assert!(err.to_string().contains(says), "{body}: {err}");
        }
        let base = issuer_answering(
            serde_json::json!({}),
            201,
            r#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#,
        )
        .await;
        let login = login_at(&base, true);
        login.discover().await.expect("discovery");
        let start = login.start().await.expect("pushed");
        assert_eq!(
            start.url.as_str(),
            format!(
                "{base}/authorize?client_id=0oa-client&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc"
            )
        );
    }

    #[tokio::test]
    async fn discovery_refuses_what_cannot_work() {
        // A scope the issuer does not offer names the scope and the issuer.
        let base = issuer_answering(
            serde_json::json!({"scopes_supported": ["openid", "email"]}),
            201,
            "{}",
        )
        .await;
        let err = login_at(&base, false).discover().await.expect_err("scopes");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "OKTA_LOGIN_SCOPES: {base} does not offer scope \"profile\", \"groups\""
            )),
            "{text}"
        );
        // PAR required by the issuer, but its endpoint is not a URL.
        let base = issuer_answering(
            serde_json::json!({
                "require_pushed_authorization_requests": true,
                "pushed_authorization_request_endpoint": "not a url",
            }),
            201,
            "{}",
        )
        .await;
        let login = login_at(&base, false);
        let err = login.discover().await.expect_err("bad PAR endpoint");
        assert!(
            err.to_string()
                .contains("pushed_authorization_request_endpoint"),
            "{err}"
        );
        assert!(!login.ready());
        // PAR configured, none offered.
        let base = issuer_answering(
            serde_json::json!({"pushed_authorization_request_endpoint": null}),
            201,
            "{}",
        )
        .await;
        let err = login_at(&base, true)
            .discover()
            .await
            .expect_err("no PAR endpoint");
        assert!(
            err.to_string()
                .contains("names no pushed_authorization_request_endpoint"),
            "{err}"
        );
        // An issuer that says it sends `iss` makes a missing one an error; odd types are not.
        let base = issuer_answering(
            serde_json::json!({"authorization_response_iss_parameter_supported": true}),
            201,
            "{}",
        )
        .await;
        let login = login_at(&base, false);
        login.discover().await.expect("discovery");
        let err = login.check_response_issuer(None).expect_err("required");
        assert!(err.contains("names no issuer"), "{err}");
        assert!(login.check_response_issuer(Some(&base)).is_ok());
        let base = issuer_answering(
            serde_json::json!({"authorization_response_iss_parameter_supported": "yes"}),
            201,
            "{}",
        )
        .await;
        let err = login_at(&base, false)
            .discover()
            .await
            .expect_err("not a bool");
        assert!(matches!(err, LoginError::NotReady(_)), "{err}");
    }

    fn claims(json: &str) -> OktaClaims {
        serde_json::from_str(json).expect("claims parse")
    }

    #[test]
    fn groups_claim_shapes() {
        assert_eq!(
            claims(r#"{"groups":["Everyone","sso-help-desk"]}"#).group_names(),
            Some(vec!["Everyone".to_string(), "sso-help-desk".to_string()])
        );
        assert_eq!(claims(r#"{"groups":[]}"#).group_names(), Some(vec![]));
        assert_eq!(
            claims(r#"{"groups":"sso-help-desk"}"#).group_names(),
            Some(vec!["sso-help-desk".to_string()])
        );
        assert_eq!(
            claims(r#"{"groups":["a",1,null]}"#).group_names(),
            Some(vec!["a".to_string()])
        );
        assert_eq!(claims(r#"{"groups":42}"#).group_names(), None);
        assert_eq!(claims(r#"{}"#).group_names(), None);
        assert_eq!(claims(r#"{"other":"x"}"#).group_names(), None);
    }

    #[test]
    fn token_errors_keep_okta_error_and_description_only() {
        let response: OktaErrorResponse = serde_json::from_str(
            r#"{"error":"invalid_grant","error_description":"The refresh token is invalid or expired."}"#,
        )
        .expect("error body");
        let err = token_error::<std::io::Error>(
            RequestTokenError::ServerResponse(response),
            LoginError::Refresh,
        );
        assert!(matches!(err, LoginError::Refresh(_)));
        assert_eq!(
            err.to_string(),
            "Okta refused the refresh: invalid_grant: The refresh token is invalid or expired."
        );
        let err = token_error::<std::io::Error>(
            RequestTokenError::Request(std::io::Error::other("connection reset")),
            LoginError::Exchange,
        );
        assert!(matches!(err, LoginError::Transport(_)), "{err}");
    }
}
