//! `POST …/v1/token`: `authorization_code` (with PKCE S256) and `refresh_token` (rotating), client
//! authentication by `client_secret_basic` or `client_secret_post` (never both), Okta's errors.
//! Token exchange for an ID-JAG (Cross App Access) is handed to [`crate::fake_okta::id_jag`].

use super::grants::{ACCESS_TOKEN_TTL, TokenGrant};
use super::keys::{at_hash, s256};
use super::{AuthServer, Provider, base_url, may_use_tokens, now_epoch, parse_params};
use crate::fake_okta::error::random_token;
use crate::fake_okta::id_jag;
use crate::fake_okta::service_app::{check_assertion, check_proof};
use crate::fake_okta::state::{AppState, Org};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The `client_assertion_type` of `private_key_jwt`.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Okta's id of the fake org's identity provider (the `idp` claim).
const ORG_IDP: &str = "00ofakeokta000000001";

/// An OAuth error answer (`{"error", "error_description"}`), 401 for `invalid_client`.
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// The client tried HTTP Basic: a 401 must say `WWW-Authenticate: Basic` (RFC 6749 §5.2).
    basic: bool,
    /// A `DPoP-Nonce` to send (the `use_dpop_nonce` challenge).
    nonce: Option<String>,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            basic: false,
            nonce: None,
        }
    }

    pub(crate) fn client(description: impl Into<String>, basic: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            description: description.into(),
            basic,
            nonce: None,
        }
    }

    pub(crate) fn invalid_grant(description: &str) -> Self {
        Self::new("invalid_grant", description)
    }

    /// A token that could not be signed (never expected: the key is checked at start-up).
    pub(crate) fn sign_failed() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            description: "The token could not be signed.".into(),
            basic: false,
            nonce: None,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            no_store(),
            Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        if let Some(value) = self
            .nonce
            .as_deref()
            .and_then(|n| header::HeaderValue::from_str(n).ok())
        {
            response.headers_mut().insert("dpop-nonce", value);
        }
        if self.basic && self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"fake-okta\""),
            );
        }
        response
    }
}

fn no_store() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::PRAGMA, "no-cache"),
    ]
}

/// `POST …/v1/token`.
pub async fn token(
    State(state): State<AppState>,
    Extension(server): Extension<AuthServer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if server == AuthServer::Org
        && crate::fake_okta::service_app::is_service_request(&state, &body)
        && !crate::fake_okta::id_jag::is_exchange(&body)
    {
        return crate::fake_okta::service_app::token(State(state), headers, body).await;
    }
    let Some(provider) = &state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let base = base_url(&headers, &state);
    match answer(provider, &state.org(), &base, server, &headers, &body) {
        Ok(tokens) => (no_store(), Json(tokens)).into_response(),
        Err(error) => error.into_response(),
    }
}

fn answer(
    provider: &Provider,
    org: &Org,
    base: &str,
    server: AuthServer,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form {
        return Err(OAuthError::new(
            "invalid_request",
            "The request must be application/x-www-form-urlencoded.",
        ));
    }
    let params = parse_params(body).map_err(|name| {
        OAuthError::new(
            "invalid_request",
            format!(
                "The '{}' parameter was given more than once.",
                name.chars().take(64).collect::<String>()
            ),
        )
    })?;
    if server == AuthServer::Org
        && let Some(id_jag) = &provider.id_jag
        && params.get("grant_type").map(String::as_str) == Some(id_jag::TOKEN_EXCHANGE)
    {
        return id_jag.exchange(provider, org, base, headers, &params);
    }
    let token_url = format!("{}/token", server.endpoints(base));
    authenticate(provider, headers, &params, &token_url)?;
    let jkt = dpop_binding(provider, headers, &token_url)?;
    let issuer = Issuer {
        provider,
        org,
        base,
        server,
        jkt,
    };
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => code_grant(&issuer, &params),
        Some("refresh_token") => refresh_grant(&issuer, &params),
        Some(_) => Err(OAuthError::new(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        )),
        None => Err(OAuthError::new(
            "invalid_request",
            "The 'grant_type' parameter is required.",
        )),
    }
}

/// One way to decode a form-urlencoded value (`+` is a space): what RFC 6749 §2.3.1 asks of
/// the Basic credentials.
fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("v={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Client credentials as presented: by HTTP Basic or in the body, never both.
pub(crate) struct PresentedClient {
    pub client_id: String,
    pub secret: Option<String>,
    /// Came by HTTP Basic (a 401 then says `WWW-Authenticate: Basic`).
    pub via_basic: bool,
}

/// Reads the client's credentials (`client_secret_basic` or `client_secret_post`).
pub(crate) fn presented_client(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<PresentedClient, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..6)
                .filter(|scheme| scheme.eq_ignore_ascii_case("basic "))
                .map(|_| v[6..].trim())
        });
    let failed =
        "Client authentication failed. Either the client or the client credentials are invalid.";
    let (client_id, secret, via_basic) = match basic {
        Some(encoded) => {
            if params.contains_key("client_secret") {
                return Err(OAuthError::new(
                    "invalid_request",
                    "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.",
                ));
            }
            let decoded = STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| OAuthError::client(failed, true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| OAuthError::client(failed, true))?;
            let (id, secret) = (form_decode(id), form_decode(secret));
            if params
                .get("client_id")
                .is_some_and(|body_id| *body_id != id)
            {
                return Err(OAuthError::new(
                    "invalid_request",
                    "The 'client_id' parameter does not match the authenticated client.",
                ));
            }
            (id, Some(secret), true)
        }
        None => {
            let id = params
                .get("client_id")
                .cloned()
                .ok_or_else(|| OAuthError::client(failed, false))?;
            (id, params.get("client_secret").cloned(), false)
        }
    };
    Ok(PresentedClient {
        client_id,
        secret,
        via_basic,
    })
}

/// Checks the client's authentication at `endpoint_url` (token or PAR): its secret, or with
/// `--client-jwks-file` its `private_key_jwt` assertion (a secret is then refused).
pub(crate) fn authenticate(
    provider: &Provider,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    endpoint_url: &str,
) -> Result<(), OAuthError> {
    let assertion_type = params.get("client_assertion_type").map(String::as_str);
    if let Some(keys) = &provider.client_keys {
        if headers.contains_key(header::AUTHORIZATION) || params.contains_key("client_secret") {
            return Err(OAuthError::client(
                "Client authentication failed: this client authenticates with private_key_jwt, not a client secret.",
                false,
            ));
        }
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err(OAuthError::client(
                "client_assertion_type is invalid or missing.",
                false,
            ));
        }
        if params
            .get("client_id")
            .is_some_and(|id| *id != provider.client_id)
        {
            return Err(OAuthError::client(
                "Invalid value for 'client_id' parameter.",
                false,
            ));
        }
        let assertion = params.get("client_assertion").map_or("", String::as_str);
        return check_assertion(provider, &provider.client_id, keys, assertion, endpoint_url)
            .map_err(|why| OAuthError::client(why, false));
    }
    if assertion_type.is_some() || params.contains_key("client_assertion") {
        return Err(OAuthError::client(
            "Client authentication failed: private_key_jwt is not set up for this client.",
            false,
        ));
    }
    let PresentedClient {
        client_id,
        secret,
        via_basic,
    } = presented_client(headers, params)?;
    if client_id != provider.client_id {
        return Err(OAuthError::client(
            "Invalid value for 'client_id' parameter.",
            via_basic,
        ));
    }
    if !provider.secret_matches(secret.as_deref()) {
        let description = if provider.confidential() {
            "The client secret supplied for a confidential client is invalid."
        } else {
            "A public client must not send a client secret."
        };
        return Err(OAuthError::client(description, via_basic));
    }
    Ok(())
}

/// With `--require-dpop`: the `jkt` of a valid DPoP proof for `POST token_url` carrying the
/// current nonce (else `use_dpop_nonce` with the nonce to use, as Okta always asks first).
fn dpop_binding(
    provider: &Provider,
    headers: &HeaderMap,
    token_url: &str,
) -> Result<Option<String>, OAuthError> {
    if !provider.require_dpop {
        return Ok(None);
    }
    let Some(proof) = headers.get("dpop").and_then(|v| v.to_str().ok()) else {
        return Err(OAuthError::new(
            "invalid_dpop_proof",
            "The DPoP proof JWT header is missing.",
        ));
    };
    let (jkt, nonce) = check_proof(provider, proof, "POST", token_url, None)
        .map_err(|why| OAuthError::new("invalid_dpop_proof", why))?;
    let expected = provider.runtime().dpop_nonce.clone();
    if nonce.as_deref() != Some(expected.as_str()) {
        let mut error = OAuthError::new(
            "use_dpop_nonce",
            "Authorization server requires nonce in DPoP proof.",
        );
        error.nonce = Some(expected);
        return Err(error);
    }
    Ok(Some(jkt))
}

/// A parameter that must be present and not empty.
pub(crate) fn required<'a>(
    params: &'a HashMap<String, String>,
    name: &str,
) -> Result<&'a str, OAuthError> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                format!("The '{name}' parameter is required."),
            )
        })
}

fn code_grant(issuer: &Issuer<'_>, params: &HashMap<String, String>) -> Result<Value, OAuthError> {
    let code = required(params, "code")?;
    let redirect_uri = required(params, "redirect_uri")?;
    let invalid_code = "The authorization code is invalid or has expired.";
    // Taken before any other check: a code is spent by its first use, right or wrong.
    let grant = issuer
        .provider
        .runtime()
        .grants
        .take_code(code)
        .ok_or_else(|| OAuthError::invalid_grant(invalid_code))?;
    if grant.server != issuer.server || !issuer.user_may_use_tokens(grant.user) {
        return Err(OAuthError::invalid_grant(invalid_code));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "The 'redirect_uri' does not match the redirection URI used in the authorization request.",
        ));
    }
    match (&grant.challenge, params.get("code_verifier")) {
        (None, None) => {}
        (Some(challenge), Some(verifier)) => {
            let well_formed = (43..=128).contains(&verifier.len())
                && verifier
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if !well_formed {
                return Err(OAuthError::new(
                    "invalid_request",
                    "The 'code_verifier' parameter is malformed.",
                ));
            }
            if s256(verifier) != *challenge {
                return Err(OAuthError::invalid_grant("PKCE verification failed."));
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(OAuthError::invalid_grant("PKCE verification failed."));
        }
    }
    let token = TokenGrant {
        user: grant.user,
        server: grant.server,
        scopes: grant.scopes,
        auth_time: grant.auth_time,
    };
    let refresh = token
        .scopes
        .iter()
        .any(|s| s == "offline_access")
        .then(|| issuer.new_refresh_token(&token));
    issuer.tokens(&token, &token.scopes, grant.nonce.as_deref(), refresh)
}

fn refresh_grant(
    issuer: &Issuer<'_>,
    params: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let presented = required(params, "refresh_token")?;
    let invalid = "The refresh token is invalid or expired.";
    let (grant, rotate) = {
        let mut runtime = issuer.provider.runtime();
        let rotate = runtime.controls.rotate_refresh_tokens;
        let grant = runtime
            .grants
            .refresh_token(presented)
            .filter(|g| g.server == issuer.server)
            .ok_or_else(|| OAuthError::invalid_grant(invalid))?;
        // Okta: a deactivated, suspended or locked-out user's refresh tokens are refused.
        if !issuer.user_may_use_tokens(grant.user) {
            return Err(OAuthError::invalid_grant(invalid));
        }
        if rotate {
            runtime.grants.take_refresh_token(presented);
        }
        (grant, rotate)
    };
    // A narrower `scope` may be asked for, never a wider one.
    let scopes: Vec<String> = match params.get("scope") {
        Some(asked) => {
            let asked: Vec<String> = asked
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            if asked.is_empty() || asked.iter().any(|s| !grant.scopes.contains(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    "The requested scope is invalid, unknown, or malformed.",
                ));
            }
            asked
        }
        None => grant.scopes.clone(),
    };
    let refresh = if rotate {
        issuer.new_refresh_token(&grant)
    } else {
        presented.to_owned()
    };
    issuer.tokens(&grant, &scopes, None, Some(refresh))
}

/// What signing a token response needs.
struct Issuer<'a> {
    provider: &'a Provider,
    org: &'a Org,
    base: &'a str,
    server: AuthServer,
    /// The DPoP key's thumbprint the tokens are bound to.
    jkt: Option<String>,
}

impl Issuer<'_> {
    /// Whether the user of a grant is still one Okta issues tokens to.
    fn user_may_use_tokens(&self, user: usize) -> bool {
        self.org
            .dataset
            .users
            .get(user)
            .is_some_and(|u| may_use_tokens(u.status))
    }

    fn new_refresh_token(&self, grant: &TokenGrant) -> String {
        let token = random_token("", 43);
        self.provider
            .runtime()
            .grants
            .add_refresh_token(token.clone(), grant.clone());
        token
    }

    /// Access token, ID token (with `openid`) and the given refresh token, as Okta answers.
    fn tokens(
        &self,
        grant: &TokenGrant,
        scopes: &[String],
        nonce: Option<&str>,
        refresh_token: Option<String>,
    ) -> Result<Value, OAuthError> {
        let user = self
            .org
            .dataset
            .users
            .get(grant.user)
            .ok_or_else(|| OAuthError::invalid_grant("The user no longer exists."))?;
        let issuer = self.server.issuer(self.base);
        let now = now_epoch();
        let exp = now + ACCESS_TOKEN_TTL.as_secs() as i64;
        let has = |scope: &str| scopes.iter().any(|s| s == scope);
        let sign_failed = |_| OAuthError::sign_failed();
        let mut access_claims = json!({
                "ver": 1,
                "jti": random_token("AT.", 46),
                "iss": issuer,
                "aud": self.server.access_token_audience(self.base),
                "iat": now,
                "exp": exp,
                "cid": self.provider.client_id,
                "uid": user.id,
                "scp": scopes,
                "auth_time": grant.auth_time,
                "sub": user.profile.login,
        });
        if let Some(jkt) = &self.jkt {
            access_claims["cnf"] = json!({ "jkt": jkt });
        }
        let access_token = self
            .provider
            .key
            .sign(&access_claims)
            .map_err(sign_failed)?;
        if let Some(jkt) = &self.jkt {
            self.provider
                .runtime()
                .bound_tokens
                .insert(access_token.clone(), jkt.clone());
        }
        self.provider.runtime().grants.add_access_token(
            access_token.clone(),
            TokenGrant {
                scopes: scopes.to_vec(),
                ..grant.clone()
            },
        );
        let mut response = json!({
            "token_type": if self.jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": ACCESS_TOKEN_TTL.as_secs(),
            "access_token": access_token,
            "scope": scopes.join(" "),
        });
        if has("openid") {
            let mut claims = json!({
                "sub": user.id,
                "ver": 1,
                "iss": issuer,
                "aud": self.provider.client_id,
                "iat": now,
                "exp": exp,
                "jti": random_token("ID.", 46),
                "amr": ["pwd"],
                "idp": ORG_IDP,
                "auth_time": grant.auth_time,
                "at_hash": at_hash(&access_token),
            });
            if let Some(nonce) = nonce {
                claims["nonce"] = json!(nonce);
            }
            if has("profile") {
                claims["name"] = json!(format!(
                    "{} {}",
                    user.profile.first_name, user.profile.last_name
                ));
                claims["preferred_username"] = json!(user.profile.login);
            }
            if has("email") {
                claims["email"] = json!(user.profile.email);
            }
            let groups_in_id_token = self.provider.runtime().controls.groups_in_id_token;
            if has("groups") && groups_in_id_token {
                claims["groups"] = json!(self.provider.groups_of(self.org, grant.user));
            }
            response["id_token"] = json!(self.provider.key.sign(&claims).map_err(sign_failed)?);
        }
        if let Some(refresh_token) = refresh_token {
            response["refresh_token"] = json!(refresh_token);
        }
        Ok(response)
    }
}
