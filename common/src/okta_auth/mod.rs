//! How both binaries prove themselves to the Okta Management API, and what they read from
//! Okta's answers the same way.
//!
//! [`Authorizer`] is the one place that builds the `Authorization` of an Okta request: an API
//! token (`SSWS`), or an OAuth 2.0 service app's DPoP-bound access token with a fresh DPoP proof
//! per request.
//!
//! Service app tokens come from the org authorization server by client credentials with a
//! `private_key_jwt` assertion. Okta requires DPoP for service apps and answers the first token
//! request with `use_dpop_nonce` and a `DPoP-Nonce` header, so the request is sent once more
//! with that nonce. The token is cached and fetched again ahead of expiry; one async mutex
//! makes that single-flight, so a burst of requests costs one token request.
//!
//! `settings` reads the credentials from the environment, `links` follows Okta's `Link`
//! pagination, `jose` signs the service app's JWTs.

pub mod jose;
pub mod links;
pub mod settings;

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{
    ACCEPT, AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE,
};
use reqwest::{Method, StatusCode};
use url::Url;

use jose::SigningKey;

/// Why no authorization could be had for an Okta request; the message says what to fix and
/// never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The credentials cannot be used as given.
    #[error("Okta client configuration: {0}")]
    Config(String),
    /// Okta's token endpoint refused the service app's token request, or could not be reached.
    #[error("{}", token_request_message(*status, error, description))]
    TokenRequest {
        /// HTTP status of the token endpoint's answer (0: no answer; nothing was sent to the API).
        status: u16,
        /// The OAuth `error`.
        error: String,
        /// The OAuth `error_description`.
        description: String,
    },
    /// The token endpoint answered 2xx with something unusable.
    #[error("unexpected answer from Okta: {0}")]
    BadResponse(String),
}

/// What a failed token request says: whether it was sent, and what to check.
pub fn token_request_message(status: u16, error: &str, description: &str) -> String {
    let detail = if description.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {description}")
    };
    if status == 0 {
        return format!(
            "could not reach Okta's token endpoint ({detail}); the request was not sent"
        );
    }
    format!(
        "Okta refused the service app's token request (HTTP {status}, {detail}); check OKTA_SERVICE_CLIENT_ID, the key registered for the app and the scopes granted to it"
    )
}

/// What Okta's 403 with `error="insufficient_scope"` means and how to fix it.
pub fn missing_scope_message(scope: &str) -> String {
    format!(
        "Okta refused the request: the service app's access token lacks the scope {scope}. Grant {scope} to the app in Okta (its Okta API Scopes tab) and add it to OKTA_SCOPES"
    )
}

/// The org URL as requests are built from it: `http(s)://host[:port][/prefix]` without
/// credentials; a query or fragment is dropped.
pub fn org_url(raw: &Url) -> Result<Url, AuthError> {
    let mut org_url = raw.clone();
    // Checked first, so that the message below never repeats a password.
    if !org_url.username().is_empty() || org_url.password().is_some() {
        return Err(AuthError::Config(
            "OKTA_ORG_URL must not contain credentials".into(),
        ));
    }
    if !matches!(org_url.scheme(), "http" | "https") || org_url.host_str().is_none() {
        return Err(AuthError::Config(format!(
            "OKTA_ORG_URL must be an http(s) URL with a host, got {org_url}"
        )));
    }
    org_url.set_query(None);
    org_url.set_fragment(None);
    Ok(org_url)
}

/// The HTTP client for the Management API: JSON, our `User-Agent`, no redirects (Okta's API
/// does not redirect; a redirect would only move our token elsewhere).
pub fn http_client(
    request_timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, AuthError> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    // reqwest's rustls needs a process-wide provider; the binaries install ring first, and
    // this makes any other caller (tests, embedders) safe too. A second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .default_headers(headers)
        .user_agent(concat!("okta-mcp/", env!("CARGO_PKG_VERSION")))
        .timeout(request_timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| AuthError::Config(format!("HTTP client: {e}")))
}

/// A transport error with its causes, without the URL (its query may hold search terms).
pub fn describe(err: &reqwest::Error) -> String {
    let mut text = String::from("request failed");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `DPoP` request header.
const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The server's nonce for DPoP proofs.
const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// How a binary proves itself to Okta.
#[derive(Clone)]
pub enum OktaCredentials {
    /// `Authorization: SSWS <token>` (`OKTA_API_TOKEN`).
    ApiToken(String),
    /// An OAuth 2.0 service app (`OKTA_SERVICE_CLIENT_ID`, `OKTA_SERVICE_KEY_FILE`, …).
    ServiceApp(ServiceAppSettings),
}

impl fmt::Debug for OktaCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiToken(_) => f.write_str("ApiToken(<redacted>)"),
            Self::ServiceApp(app) => f
                .debug_struct("ServiceApp")
                .field("client_id", &app.client_id)
                .field("key_id", &app.key_id)
                .field("scopes", &app.scopes)
                .finish_non_exhaustive(),
        }
    }
}

/// A service app's settings.
#[derive(Clone)]
pub struct ServiceAppSettings {
    /// The app's client id.
    pub client_id: String,
    /// The app's private key, PKCS#8 PEM (RSA or EC P-256). Never logged.
    pub private_key_pem: String,
    /// The key's `kid` as registered at Okta, sent in the assertion header when set.
    pub key_id: Option<String>,
    /// The scopes to ask for, e.g. `okta.users.read`.
    pub scopes: Vec<String>,
}

/// Builds each request's authorization headers.
pub enum Authorizer {
    /// `SSWS <token>`, marked sensitive.
    ApiToken(HeaderValue),
    /// A service app's cached DPoP-bound token and fresh proofs.
    ServiceApp(Box<ServiceApp>),
}

/// Headers for one request.
pub type AuthHeaders = Vec<(HeaderName, HeaderValue)>;

impl Authorizer {
    /// Checks the credentials; a service app's key is read and its token endpoint placed at
    /// `org_url`'s `/oauth2/v1/token`. Nothing is sent yet.
    pub fn new(credentials: OktaCredentials, org_url: &Url) -> Result<Self, AuthError> {
        match credentials {
            OktaCredentials::ApiToken(token) => {
                let token = token.trim();
                if token.is_empty() {
                    return Err(AuthError::Config("OKTA_API_TOKEN is empty".into()));
                }
                let mut auth = HeaderValue::from_str(&format!("SSWS {token}")).map_err(|_| {
                    AuthError::Config(
                        "OKTA_API_TOKEN contains characters not allowed in a header".into(),
                    )
                })?;
                auth.set_sensitive(true);
                Ok(Self::ApiToken(auth))
            }
            OktaCredentials::ServiceApp(settings) => Ok(Self::ServiceApp(Box::new(
                ServiceApp::new(settings, org_url)?,
            ))),
        }
    }

    /// The headers for `method url`; for a service app, a valid token (fetched if need be).
    pub async fn headers(
        &self,
        http: &reqwest::Client,
        method: &Method,
        url: &Url,
    ) -> Result<AuthHeaders, AuthError> {
        match self {
            Self::ApiToken(auth) => Ok(vec![(AUTHORIZATION, auth.clone())]),
            Self::ServiceApp(app) => app.headers(http, method, url).await,
        }
    }

    /// The API refused a request (401). A `use_dpop_nonce` challenge (RFC 9449 §9) keeps the
    /// token and sends the server's nonce in later proofs; anything else forgets the token, so
    /// the next attempt gets another. Returns whether another attempt may succeed (never for an
    /// API token). Requests refused together may each drop the token once: a few extra token
    /// requests, no failed calls.
    pub async fn refused(&self, headers: &HeaderMap) -> bool {
        let Self::ServiceApp(app) = self else {
            return false;
        };
        let nonce = headers.get(DPOP_NONCE).and_then(|v| v.to_str().ok());
        let asks_nonce = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("use_dpop_nonce"));
        if let (true, Some(nonce)) = (asks_nonce, nonce) {
            *app.api_nonce
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(nonce.to_owned());
            return true;
        }
        app.token.lock().await.take();
        true
    }
}

/// A cached access token.
struct AccessToken {
    value: String,
    /// When to fetch another: ahead of Okta's expiry.
    renew_at: Instant,
}

/// A service app: its keys, the token endpoint and the cached token.
pub struct ServiceApp {
    client_id: String,
    key: SigningKey,
    key_id: Option<String>,
    scope: String,
    token_endpoint: Url,
    /// The key DPoP proofs are signed with; made at start-up, so a token is bound to this process.
    dpop_key: SigningKey,
    token: tokio::sync::Mutex<Option<AccessToken>>,
    /// The last `DPoP-Nonce` the token endpoint gave.
    nonce: std::sync::Mutex<Option<String>>,
    /// The last `DPoP-Nonce` the API asked for, if it ever did.
    api_nonce: std::sync::Mutex<Option<String>>,
}

impl ServiceApp {
    fn new(settings: ServiceAppSettings, org_url: &Url) -> Result<Self, AuthError> {
        let client_id = settings.client_id.trim().to_owned();
        if client_id.is_empty() {
            return Err(AuthError::Config("OKTA_SERVICE_CLIENT_ID is empty".into()));
        }
        let key = SigningKey::from_pem(&settings.private_key_pem)
            .map_err(|e| AuthError::Config(format!("OKTA_SERVICE_KEY_FILE: {e}")))?;
        if settings.scopes.is_empty() {
            return Err(AuthError::Config(
                "OKTA_SCOPES is empty; name the okta.*.read scopes granted to the service app"
                    .into(),
            ));
        }
        let dpop_key = SigningKey::generate_es256()
            .map_err(|e| AuthError::Config(format!("DPoP key: {e}")))?;
        let mut token_endpoint = org_url.clone();
        let prefix = token_endpoint.path().trim_end_matches('/').to_owned();
        token_endpoint.set_path(&format!("{prefix}/oauth2/v1/token"));
        Ok(Self {
            client_id,
            key,
            key_id: settings.key_id.filter(|k| !k.trim().is_empty()),
            scope: settings.scopes.join(" "),
            token_endpoint,
            dpop_key,
            token: tokio::sync::Mutex::new(None),
            nonce: std::sync::Mutex::new(None),
            api_nonce: std::sync::Mutex::new(None),
        })
    }

    async fn headers(
        &self,
        http: &reqwest::Client,
        method: &Method,
        url: &Url,
    ) -> Result<AuthHeaders, AuthError> {
        let token = self.access_token(http).await?;
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let proof = jose::dpop_proof(
            &self.dpop_key,
            method.as_str(),
            htu.as_str(),
            Some(&token),
            self.api_nonce
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .as_deref(),
            unix_now(),
        )
        .map_err(|e| AuthError::Config(format!("DPoP proof: {e}")))?;
        Ok(vec![
            (AUTHORIZATION, sensitive(&format!("DPoP {token}"))?),
            (DPOP, sensitive(&proof)?),
        ])
    }

    /// The cached token, or a new one (one request at a time; the others wait and reuse it).
    async fn access_token(&self, http: &reqwest::Client) -> Result<String, AuthError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref()
            && Instant::now() < token.renew_at
        {
            return Ok(token.value.clone());
        }
        let token = self.request_token(http).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Client credentials with `private_key_jwt` and DPoP; answers one nonce challenge.
    async fn request_token(&self, http: &reqwest::Client) -> Result<AccessToken, AuthError> {
        let mut challenged = false;
        loop {
            let now = unix_now();
            let nonce = self
                .nonce
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let sign_error = |e: jose::KeyError| AuthError::Config(format!("service app: {e}"));
            let assertion = jose::client_assertion(
                &self.key,
                self.key_id.as_deref(),
                &self.client_id,
                self.token_endpoint.as_str(),
                now,
            )
            .map_err(sign_error)?;
            let proof = jose::dpop_proof(
                &self.dpop_key,
                "POST",
                self.token_endpoint.as_str(),
                None,
                nonce.as_deref(),
                now,
            )
            .map_err(sign_error)?;
            let started = Instant::now();
            let response = http
                .post(self.token_endpoint.clone())
                .header(DPOP, sensitive(&proof)?)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", self.scope.as_str()),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion.as_str()),
                ])
                .send()
                .await
                .map_err(|e| AuthError::TokenRequest {
                    status: 0,
                    error: if e.is_timeout() {
                        "timeout"
                    } else {
                        "transport"
                    }
                    .into(),
                    description: describe(&e.without_url()),
                })?;
            let status = response.status();
            let new_nonce = response
                .headers()
                .get(DPOP_NONCE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if let Some(n) = new_nonce.clone() {
                *self
                    .nonce
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(n);
            }
            let error = body["error"].as_str().unwrap_or_default();
            tracing::debug!(
                status = status.as_u16(),
                error,
                duration_ms = started.elapsed().as_millis() as u64,
                "okta service app token request"
            );
            if status == StatusCode::BAD_REQUEST
                && error == "use_dpop_nonce"
                && new_nonce.is_some()
                && !challenged
            {
                challenged = true;
                continue;
            }
            if !status.is_success() {
                return Err(AuthError::TokenRequest {
                    status: status.as_u16(),
                    error: if error.is_empty() {
                        status.canonical_reason().unwrap_or("error").to_owned()
                    } else {
                        error.chars().take(64).collect()
                    },
                    description: body["error_description"]
                        .as_str()
                        .unwrap_or_default()
                        .chars()
                        .take(300)
                        .collect(),
                });
            }
            let bad = |why: &str| AuthError::BadResponse(format!("token endpoint: {why}"));
            let value = body["access_token"]
                .as_str()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad("no access_token"))?
                .to_owned();
            if !body["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"))
            {
                return Err(bad("token_type is not DPoP"));
            }
            // Capped at a day: an absurd `expires_in` must not overflow the clock arithmetic.
            let lifetime =
                Duration::from_secs(body["expires_in"].as_u64().unwrap_or(300).min(86_400));
            // Renew a minute early, or halfway for short tokens, so no request carries a token
            // that expires on the way.
            let margin = (lifetime / 2).min(Duration::from_secs(60));
            tracing::info!(
                expires_in = lifetime.as_secs(),
                scope = body["scope"].as_str().unwrap_or_default(),
                "okta service app access token obtained"
            );
            return Ok(AccessToken {
                value,
                renew_at: started + lifetime - margin,
            });
        }
    }
}

/// Seconds since the Unix epoch, for JWT `iat`.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn sensitive(text: &str) -> Result<HeaderValue, AuthError> {
    let mut value = HeaderValue::from_str(text)
        .map_err(|_| AuthError::BadResponse("access token not usable in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// The scope named by a `WWW-Authenticate` challenge with `error="insufficient_scope"`, as Okta
/// answers a token without the scope an endpoint needs.
pub fn insufficient_scope(challenge: &str) -> Option<String> {
    if !challenge.contains("error=\"insufficient_scope\"") {
        return None;
    }
    // The `scope` parameter, not the end of another one's name.
    let (at, _) = challenge
        .match_indices("scope=\"")
        .find(|(at, _)| *at == 0 || matches!(challenge.as_bytes()[at - 1], b' ' | b','))?;
    let rest = &challenge[at + "scope=\"".len()..];
    Some(rest[..rest.find('"')?].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_missing_scope_from_oktas_challenge() {
        let okta = r#"Bearer authorization_uri="http://x.okta.com/oauth2/v1/authorize", realm="http://x.okta.com", scope="okta.logs.read", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="/api/v1/logs""#;
        assert_eq!(insufficient_scope(okta).as_deref(), Some("okta.logs.read"));
        assert_eq!(insufficient_scope("Bearer error=\"invalid_token\""), None);
    }

    #[test]
    fn org_urls_are_checked_without_repeating_a_password() {
        let check = |raw: &str| org_url(&Url::parse(raw).unwrap()).map_err(|e| e.to_string());
        assert_eq!(
            check("https://x.okta.com/p?q=1#f").unwrap().as_str(),
            "https://x.okta.com/p"
        );
        let err = check("ftp://u:hunter2@x.okta.com").unwrap_err();
        assert!(err.contains("must not contain credentials") && !err.contains("hunter2"));
        assert!(check("ftp://x.okta.com").unwrap_err().contains("http(s)"));
    }

    #[test]
    fn bad_service_app_settings_are_config_errors() {
        let org = Url::parse("https://x.okta.com").unwrap();
        let settings = |pem: &str, scopes: &[&str]| {
            OktaCredentials::ServiceApp(ServiceAppSettings {
                client_id: "0oa1".into(),
                private_key_pem: pem.into(),
                key_id: None,
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            })
        };
        let err = |c| match Authorizer::new(c, &org) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted"),
        };
        assert!(err(settings("nope", &["okta.users.read"])).contains("OKTA_SERVICE_KEY_FILE"));
        let rng = ring::rand::SystemRandom::new();
        let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        use base64::Engine;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        );
        assert!(err(settings(&pem, &[])).contains("OKTA_SCOPES"));
        assert!(Authorizer::new(settings(&pem, &["okta.users.read"]), &org).is_ok());
    }
}
