//! Cross App Access (XAA, Enterprise-Managed Authorization): Okta's side of the Identity Assertion
//! JWT Authorization Grant (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant).
//!
//! A requesting app (an MCP client's own Okta OIDC app, `--id-jag-client`) trades an ID token this
//! org issued to it for an ID-JAG by RFC 8693 token exchange at the org authorization server's
//! `POST /oauth2/v1/token`; the admin's policy (`--id-jag-policy`) says for which audience (a
//! resource authorization server's issuer) and with which `client_id` there. The ID-JAG is signed
//! by the org's one key (same `kid`, so it is in `/oauth2/v1/keys`) with `typ` `oauth-id-jag+jwt`.
//! Refusals are Okta's OAuth errors: `invalid_client` (401), `invalid_request` (missing or
//! unsupported parameters), `invalid_grant` (a subject token that is forged, foreign, expired, for
//! another client or for a user who is no longer active), `invalid_target` (no policy for the
//! audience, a bad `resource`; RFC 8693 §2.2.2).
//!
//! Test-only control endpoints (no authentication, like the rest of `/__fake`):
//! `POST /__fake/id-jag/id-token` stands in for the user's SSO login to the requesting app and
//! answers an ID token for it; `POST /__fake/id-jag/mint` signs an ID-JAG with any claims and
//! `typ` overridden, so a relying party's tests can present expired, misaddressed or mistyped
//! assertions that still verify against the org's JWKS (they cannot re-sign without the key);
//! `GET /__fake/id-jag` shows the configuration and counters.

use super::oidc::token::{OAuthError, PresentedClient, presented_client, required};
use super::oidc::{Provider, base_url, keys::SigningKey, may_use_tokens, now_epoch, same_secret};
use super::state::{AppState, Org};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::RSA_PKCS1_2048_8192_SHA256;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The Cross App Access flags of `fake-okta`; without `--id-jag-client` it is off.
#[derive(Debug, Clone, clap::Args)]
pub struct IdJagSettings {
    /// A requesting app as `ID:SECRET` (confidential; secret basic or post); repeat the flag
    /// (in the environment: `;`-separated).
    #[arg(
        long = "id-jag-client",
        env = "FAKE_OKTA_ID_JAG_CLIENT",
        value_delimiter = ';',
        hide_env_values = true
    )]
    pub id_jag_clients: Vec<String>,
    /// Admin policy `requester=ID,audience=URL,client_id=CID`: app ID may get ID-JAGs for audience
    /// URL, carrying `client_id` CID; repeat the flag (in the environment: `;`-separated).
    #[arg(
        long = "id-jag-policy",
        env = "FAKE_OKTA_ID_JAG_POLICY",
        value_delimiter = ';'
    )]
    pub id_jag_policies: Vec<String>,
    /// Put the user's `groups` in ID-JAGs (off: a relying party must look them up).
    #[arg(long, env = "FAKE_OKTA_ID_JAG_GROUPS_CLAIM")]
    pub id_jag_groups_claim: bool,
    /// Lifetime of ID-JAGs, in seconds.
    #[arg(long, env = "FAKE_OKTA_ID_JAG_TTL_SECS", default_value_t = 300)]
    pub id_jag_ttl_secs: u64,
}

impl Default for IdJagSettings {
    fn default() -> Self {
        Self {
            id_jag_clients: Vec::new(),
            id_jag_policies: Vec::new(),
            id_jag_groups_claim: false,
            id_jag_ttl_secs: 300,
        }
    }
}

impl IdJagSettings {
    /// Whether any Cross App Access flag asks for it.
    pub fn enabled(&self) -> bool {
        !self.id_jag_clients.is_empty() || !self.id_jag_policies.is_empty()
    }
}

/// One admin policy: `requester` may get ID-JAGs for `audience`, naming `client_id` there.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Policy {
    requester: String,
    audience: String,
    client_id: String,
}

impl Policy {
    fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("--id-jag-policy {text:?}: {why}");
        let mut fields: HashMap<&str, &str> = HashMap::new();
        for pair in text.split(',') {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| bad("expected requester=ID,audience=URL,client_id=CID"))?;
            let name = name.trim();
            if !matches!(name, "requester" | "audience" | "client_id") {
                return Err(bad(&format!("unknown field {name:?}")));
            }
            if value.trim().is_empty() {
                return Err(bad(&format!("{name} must not be empty")));
            }
            if fields.insert(name, value.trim()).is_some() {
                return Err(bad(&format!("{name} given twice")));
            }
        }
        let field = |name: &str| {
            fields
                .get(name)
                .map(|v| (*v).to_owned())
                .ok_or_else(|| bad(&format!("{name} is missing")))
        };
        Ok(Self {
            requester: field("requester")?,
            audience: field("audience")?,
            client_id: field("client_id")?,
        })
    }
}

/// `grant_type` of an RFC 8693 token exchange.
pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `requested_token_type` / `issued_token_type` of an ID-JAG.
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// `subject_token_type` of an ID token (the only subject this fake accepts).
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// The JWS `typ` of an ID-JAG.
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// Lifetime of the ID tokens `/__fake/id-jag/id-token` issues (Okta's ID tokens: one hour).
const ID_TOKEN_TTL: i64 = 3600;

/// Counters for tests (`GET /__fake/id-jag`).
#[derive(Debug, Default, serde::Serialize)]
struct Stats {
    exchanges_issued: u64,
    exchanges_refused: u64,
    id_tokens_issued: u64,
    assertions_minted: u64,
}

/// Signs with the org's key under a header that names `typ`.
#[derive(Debug)]
struct Signer(SigningKey);

impl Signer {
    fn embedded() -> Result<Self, String> {
        SigningKey::embedded().map(Self)
    }

    /// A compact JWS (RS256); `typ: None` leaves `typ` out of the header.
    fn sign(&self, typ: Option<&str>, claims: &Value) -> Result<String, OAuthError> {
        self.0
            .sign_typed(typ, claims)
            .map_err(|_| OAuthError::sign_failed())
    }
}

/// The requesting apps, the admin's policies and the ID-JAG settings.
#[derive(Debug)]
pub struct IdJag {
    /// `(client id, secret)` of each requesting app.
    clients: Vec<(String, String)>,
    policies: Vec<Policy>,
    groups_claim: bool,
    ttl: i64,
    signer: Signer,
    stats: Mutex<Stats>,
}

/// What an ID-JAG says, before any test override.
struct Assertion<'a> {
    user: usize,
    audience: &'a str,
    client_id: &'a str,
    auth_time: Option<i64>,
    resource: Option<&'a str>,
    scope: Option<&'a str>,
}

impl IdJag {
    /// Cross App Access for `settings`, `Ok(None)` when off; errors name the flag.
    pub fn from_settings(settings: &IdJagSettings) -> Result<Option<Self>, String> {
        if settings.id_jag_clients.is_empty() {
            if !settings.id_jag_policies.is_empty() {
                return Err("--id-jag-policy needs an --id-jag-client".into());
            }
            return Ok(None);
        }
        let mut clients: Vec<(String, String)> = Vec::new();
        for text in &settings.id_jag_clients {
            let (id, secret) = text
                .split_once(':')
                .filter(|(id, secret)| !id.is_empty() && !secret.is_empty())
                .ok_or("--id-jag-client must be ID:SECRET with neither part empty")?;
            if clients.iter().any(|(known, _)| known == id) {
                return Err(format!("--id-jag-client {id:?} given twice"));
            }
            clients.push((id.to_owned(), secret.to_owned()));
        }
        let mut policies: Vec<Policy> = Vec::new();
        for text in &settings.id_jag_policies {
            let policy = Policy::parse(text)?;
            if !clients.iter().any(|(id, _)| *id == policy.requester) {
                return Err(format!(
                    "--id-jag-policy {text:?}: requester {:?} is no --id-jag-client",
                    policy.requester
                ));
            }
            if policies
                .iter()
                .any(|p| p.requester == policy.requester && p.audience == policy.audience)
            {
                return Err(format!(
                    "--id-jag-policy {text:?}: a second policy for the same requester and audience"
                ));
            }
            policies.push(policy);
        }
        Ok(Some(Self {
            clients,
            policies,
            groups_claim: settings.id_jag_groups_claim,
            ttl: settings.id_jag_ttl_secs.max(1) as i64,
            signer: Signer::embedded()?,
            stats: Mutex::new(Stats::default()),
        }))
    }

    fn stats(&self) -> MutexGuard<'_, Stats> {
        self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The token exchange at `POST /oauth2/v1/token` (parameters already parsed), counted.
    pub(crate) fn exchange(
        &self,
        provider: &Provider,
        org: &Org,
        base: &str,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<Value, OAuthError> {
        let answer = self.exchange_answer(provider, org, base, headers, params);
        let mut stats = self.stats();
        match answer {
            Ok(_) => stats.exchanges_issued += 1,
            Err(_) => stats.exchanges_refused += 1,
        }
        answer
    }

    fn exchange_answer(
        &self,
        provider: &Provider,
        org: &Org,
        base: &str,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<Value, OAuthError> {
        let client = self.authenticate(headers, params)?;
        let requested = required(params, "requested_token_type")?;
        if requested != ID_JAG_TOKEN_TYPE {
            return Err(OAuthError::new(
                "invalid_request",
                "The 'requested_token_type' is not supported.",
            ));
        }
        let subject_token = required(params, "subject_token")?;
        if required(params, "subject_token_type")? != ID_TOKEN_TYPE {
            return Err(OAuthError::new(
                "invalid_request",
                "The 'subject_token_type' is not supported.",
            ));
        }
        let audience = required(params, "audience")?;
        let resource = params.get("resource").map(String::as_str);
        if let Some(resource) = resource {
            let absolute = url::Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
            if !absolute {
                return Err(OAuthError::new(
                    "invalid_target",
                    "The 'resource' parameter must be an absolute URI without a fragment.",
                ));
            }
        }
        let scope = match params.get("scope") {
            Some(scope) => {
                let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
                if scopes.is_empty() {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        "The requested scope is invalid, unknown, or malformed.",
                    ));
                }
                Some(scopes.join(" "))
            }
            None => None,
        };
        let subject = verify_id_token(provider, subject_token, base, &client)?;
        let user = subject.user(org)?;
        let policy = self
            .policies
            .iter()
            .find(|p| p.requester == client && p.audience == audience)
            .ok_or_else(|| {
                OAuthError::new(
                    "invalid_target",
                    "The client is not allowed to request an ID-JAG for the requested audience.",
                )
            })?;
        let assertion = Assertion {
            user,
            audience,
            client_id: &policy.client_id,
            auth_time: subject.auth_time,
            resource,
            scope: scope.as_deref(),
        };
        let claims = self.claims(provider, org, base, &assertion);
        let id_jag = self.signer.sign(Some(ID_JAG_TYP), &claims)?;
        let mut answer = json!({
            "issued_token_type": ID_JAG_TOKEN_TYPE,
            "access_token": id_jag,
            "token_type": "N_A",
            "expires_in": self.ttl,
        });
        if let Some(scope) = scope {
            answer["scope"] = json!(scope);
        }
        Ok(answer)
    }

    /// The requesting app's id, authenticated by its secret (basic or post, never both).
    fn authenticate(
        &self,
        headers: &HeaderMap,
        params: &HashMap<String, String>,
    ) -> Result<String, OAuthError> {
        let PresentedClient {
            client_id,
            secret,
            via_basic,
        } = presented_client(headers, params)?;
        let Some((_, expected)) = self.clients.iter().find(|(id, _)| *id == client_id) else {
            return Err(OAuthError::client(
                "Invalid value for 'client_id' parameter.",
                via_basic,
            ));
        };
        if !secret.is_some_and(|s| same_secret(expected, &s)) {
            return Err(OAuthError::client(
                "The client secret supplied for a confidential client is invalid.",
                via_basic,
            ));
        }
        Ok(client_id)
    }

    /// The claims of an ID-JAG for `assertion`.
    fn claims(&self, provider: &Provider, org: &Org, base: &str, assertion: &Assertion) -> Value {
        let now = now_epoch();
        let user = &org.dataset.users[assertion.user];
        let mut claims = json!({
            "iss": base,
            "sub": user.id,
            "aud": assertion.audience,
            "client_id": assertion.client_id,
            "jti": crate::fake_okta::error::random_token("IDJAG.", 40),
            "iat": now,
            "exp": now + self.ttl,
            "email": user.profile.email,
        });
        if let Some(auth_time) = assertion.auth_time {
            claims["auth_time"] = json!(auth_time);
        }
        if let Some(resource) = assertion.resource {
            claims["resource"] = json!(resource);
        }
        if let Some(scope) = assertion.scope {
            claims["scope"] = json!(scope);
        }
        if self.groups_claim {
            claims["groups"] = json!(provider.groups_of(org, assertion.user));
        }
        claims
    }
}

/// What a verified subject token says.
struct Subject {
    sub: String,
    auth_time: Option<i64>,
}

impl Subject {
    /// The user the token is about, while they may still use tokens.
    fn user(&self, org: &Org) -> Result<usize, OAuthError> {
        let user = org
            .find_user(&self.sub)
            .filter(|&u| org.dataset.users[u].id == self.sub)
            .ok_or_else(|| OAuthError::invalid_grant("The subject token is invalid."))?;
        if !may_use_tokens(org.dataset.users[user].status) {
            return Err(OAuthError::invalid_grant("The user is not active."));
        }
        Ok(user)
    }
}

/// Checks an ID token this org's authorization server issued to `client`: signature by the org
/// key, `iss`, `aud`, `exp`.
fn verify_id_token(
    provider: &Provider,
    token: &str,
    issuer: &str,
    client: &str,
) -> Result<Subject, OAuthError> {
    let invalid = || OAuthError::invalid_grant("The subject token is invalid.");
    let (header, claims) = verified_jws(provider, token).ok_or_else(invalid)?;
    if header.get("typ").is_some_and(|t| t == ID_JAG_TYP) || claims["iss"] != issuer {
        return Err(invalid());
    }
    let for_client = match &claims["aud"] {
        Value::String(aud) => aud == client,
        Value::Array(auds) => auds.iter().any(|a| a == client),
        _ => false,
    };
    if !for_client {
        return Err(OAuthError::invalid_grant(
            "The subject token was not issued to the authenticated client.",
        ));
    }
    let exp = claims["exp"].as_i64().ok_or_else(invalid)?;
    if exp <= now_epoch() {
        return Err(OAuthError::invalid_grant("The subject token is expired."));
    }
    let sub = claims["sub"].as_str().ok_or_else(invalid)?.to_owned();
    Ok(Subject {
        sub,
        auth_time: claims["auth_time"].as_i64(),
    })
}

/// Header and claims of a compact JWS signed (RS256) by the org's key, `None` for anything else.
fn verified_jws(provider: &Provider, token: &str) -> Option<(Value, Value)> {
    let parts: Vec<&str> = token.split('.').collect();
    let [h, c, s] = parts[..] else {
        return None;
    };
    let json = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
    };
    let header = json(h)?;
    if header["alg"] != "RS256" || header["kid"] != provider.key.kid() {
        return None;
    }
    let jwks = provider.key.jwks();
    let jwk = &jwks["keys"][0];
    let component = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    let public = ring::signature::RsaPublicKeyComponents {
        n: component("n")?,
        e: component("e")?,
    };
    let signature = URL_SAFE_NO_PAD.decode(s).ok()?;
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{c}").as_bytes(),
            &signature,
        )
        .ok()?;
    Some((header, json(c)?))
}

/// Whether a token request body is a token exchange (it must never go to the service app).
pub fn is_exchange(body: &[u8]) -> bool {
    url::form_urlencoded::parse(body)
        .any(|(name, value)| name == "grant_type" && value == TOKEN_EXCHANGE)
}

/// The test routes (empty when Cross App Access is off).
pub fn router(state: &AppState) -> Router<AppState> {
    if parts(state).is_none() {
        return Router::new();
    }
    Router::new()
        .route("/__fake/id-jag", get(view))
        .route("/__fake/id-jag/id-token", post(id_token))
        .route("/__fake/id-jag/mint", post(mint))
}

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The provider and Cross App Access, when both are on.
fn parts(state: &AppState) -> Option<(&Provider, &IdJag)> {
    let provider = state.oidc.as_ref()?;
    Some((provider, provider.id_jag.as_ref()?))
}

/// The answer when Cross App Access is off (routes are not mounted then; in-process use only).
fn off() -> Response {
    control_error(
        StatusCode::NOT_FOUND,
        "Cross App Access is off (no --id-jag-client)",
    )
}

/// The provider, Cross App Access and a control request's JSON body, or the answer to send.
#[allow(clippy::result_large_err)]
fn control_request<'a, T: serde::de::DeserializeOwned>(
    state: &'a AppState,
    body: &[u8],
) -> Result<(&'a Provider, &'a IdJag, T), Response> {
    let Some((provider, id_jag)) = parts(state) else {
        return Err(off());
    };
    serde_json::from_slice(body)
        .map(|request| (provider, id_jag, request))
        .map_err(|e| control_error(StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))
}

/// `GET /__fake/id-jag`: requesting apps, policies and counters.
async fn view(State(state): State<AppState>) -> Response {
    let Some((_, id_jag)) = parts(&state) else {
        return off();
    };
    let policies: Vec<Value> = id_jag
        .policies
        .iter()
        .map(|p| json!({ "requester": p.requester, "audience": p.audience, "client_id": p.client_id }))
        .collect();
    let mut answer = json!({
        "clients": id_jag.clients.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        "policies": policies,
        "groups_claim": id_jag.groups_claim,
        "ttl_secs": id_jag.ttl,
    });
    answer["stats"] = serde_json::to_value(&*id_jag.stats()).unwrap_or_default();
    Json(answer).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdTokenRequest {
    /// Login or user id.
    user: String,
    /// The requesting app the user signs in to.
    client_id: String,
}

/// `POST /__fake/id-jag/id-token` `{"user", "client_id"}`: the user's SSO login to a requesting
/// app, answered `{"id_token"}` (what the app would get from its own authorization code flow).
async fn id_token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (provider, id_jag, request) = match control_request::<IdTokenRequest>(&state, &body) {
        Ok(parts) => parts,
        Err(answer) => return answer,
    };
    if !id_jag
        .clients
        .iter()
        .any(|(id, _)| *id == request.client_id)
    {
        return control_error(StatusCode::BAD_REQUEST, "no such --id-jag-client");
    }
    let org = state.org();
    let Some(index) = org.find_user(&request.user) else {
        return control_error(StatusCode::NOT_FOUND, "no such user");
    };
    let user = &org.dataset.users[index];
    if !may_use_tokens(user.status) {
        return control_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "user {} is {} and cannot sign in",
                user.profile.login,
                user.status.as_str()
            ),
        );
    }
    let now = now_epoch();
    let claims = json!({
        "sub": user.id,
        "ver": 1,
        "iss": base_url(&headers, &state),
        "aud": request.client_id,
        "iat": now,
        "exp": now + ID_TOKEN_TTL,
        "jti": crate::fake_okta::error::random_token("ID.", 46),
        "amr": ["pwd"],
        "auth_time": now,
        "email": user.profile.email,
        "preferred_username": user.profile.login,
    });
    match provider.key.sign(&claims) {
        Ok(token) => {
            id_jag.stats().id_tokens_issued += 1;
            Json(json!({ "id_token": token })).into_response()
        }
        Err(e) => control_error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintRequest {
    /// Login or user id (any status: the relying party's checks are under test).
    user: String,
    audience: String,
    client_id: String,
    /// Claims replacing the ID-JAG's; `null` removes one.
    #[serde(default)]
    claims: Map<String, Value>,
    /// Header `typ` (default `oauth-id-jag+jwt`; `""` leaves it out).
    typ: Option<String>,
}

/// `POST /__fake/id-jag/mint`: an ID-JAG with test overrides, signed by the org key, answered
/// `{"assertion"}`. Test-only: it bypasses authentication, policy and user status.
async fn mint(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (provider, id_jag, request) = match control_request::<MintRequest>(&state, &body) {
        Ok(parts) => parts,
        Err(answer) => return answer,
    };
    let org = state.org();
    let Some(user) = org.find_user(&request.user) else {
        return control_error(StatusCode::NOT_FOUND, "no such user");
    };
    let assertion = Assertion {
        user,
        audience: &request.audience,
        client_id: &request.client_id,
        auth_time: None,
        resource: None,
        scope: None,
    };
    let mut claims = id_jag.claims(provider, &org, &base_url(&headers, &state), &assertion);
    for (name, value) in request.claims {
        if value.is_null() {
            if let Some(claims) = claims.as_object_mut() {
                claims.remove(&name);
            }
        } else {
            claims[name] = value;
        }
    }
    let typ = match request.typ.as_deref() {
        None => Some(ID_JAG_TYP),
        Some("") => None,
        Some(typ) => Some(typ),
    };
    match id_jag.signer.sign(typ, &claims) {
        Ok(assertion) => {
            id_jag.stats().assertions_minted += 1;
            Json(json!({ "assertion": assertion })).into_response()
        }
        Err(_) => control_error(StatusCode::INTERNAL_SERVER_ERROR, "signing failed"),
    }
}

#[cfg(test)]
mod tests;
