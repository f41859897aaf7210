//! The service-app side of the fake org: OAuth 2.0 client credentials with `private_key_jwt`
//! at `/oauth2/v1/token`, DPoP-bound access tokens (RFC 9449), and the scope checks the
//! Management API makes on them.
//!
//! It fails where Okta fails, because the tool server's handling is tested against it: a client
//! assertion must be signed by the registered key with `iss` = `sub` = client id, `aud` = the
//! token endpoint, `exp` at most an hour ahead and a `jti` never seen before; every token request
//! needs a DPoP proof and the first one is answered `use_dpop_nonce` with a `DPoP-Nonce` header
//! (Okta always asks for a nonce); only granted scopes are issued. At `/api/v1` a `DPoP` token
//! needs a proof signed by the key it is bound to (`jkt`), for this method and URL, with `ath`,
//! fresh `iat` and unused `jti`; a token without the endpoint's scope gets Okta's 403 with
//! `WWW-Authenticate: … error="insufficient_scope"` naming the scope.

use super::error::{ApiError, random_token};
use super::oidc::{base_url, now_epoch, parse_params};
use super::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The scopes granted when `--service-scopes` is not given: every read and write tool's.
pub const ALL_SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.users.manage",
    "okta.groups.read",
    "okta.groups.manage",
    "okta.apps.read",
    "okta.logs.read",
    "okta.policies.read",
    "okta.networkZones.read",
];

/// How far a proof's `iat` may be from now, in seconds.
const IAT_WINDOW: i64 = 60;

/// The service-app flags of `fake-okta`; without `--service-client-id` it is off.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServiceAppSettings {
    /// Client id of a service app (client credentials, private_key_jwt, DPoP); enables it.
    #[arg(long, env = "FAKE_OKTA_SERVICE_CLIENT_ID")]
    pub service_client_id: Option<String>,
    /// File holding the app's public key: a JWK or a JWKS (`{"keys": [...]}`), RSA or EC P-256.
    #[arg(long, env = "FAKE_OKTA_SERVICE_JWKS_FILE")]
    pub service_jwks_file: Option<std::path::PathBuf>,
    /// Scopes granted to the app (comma list); default: every okta.* scope the tools use.
    #[arg(long, env = "FAKE_OKTA_SERVICE_SCOPES", value_delimiter = ',')]
    pub service_scopes: Vec<String>,
    /// Lifetime of the app's access tokens, in seconds (Okta: 3600).
    #[arg(long, env = "FAKE_OKTA_SERVICE_TOKEN_TTL_SECS", default_value_t = 3600)]
    pub service_token_ttl_secs: u64,
    /// Require the DPoP nonce at `/api/v1` too (RFC 9449 §9: a resource server may).
    #[arg(long, env = "FAKE_OKTA_SERVICE_API_NONCE")]
    pub service_api_nonce: bool,
}

/// One issued access token.
#[derive(Debug)]
struct Issued {
    jkt: String,
    scopes: Vec<String>,
    expires_at: i64,
}

/// Counters for tests (`GET /__fake/service-app`).
#[derive(Debug, Default, serde::Serialize)]
pub struct Stats {
    pub tokens_issued: u64,
    pub nonce_challenges: u64,
    pub token_errors: u64,
    pub rejected_proofs: u64,
    /// API requests with an unknown or expired DPoP token (401 `invalid_token`).
    pub invalid_tokens: u64,
    pub insufficient_scope: u64,
    /// API requests answered `use_dpop_nonce` (with `--service-api-nonce`).
    pub api_nonce_challenges: u64,
}

#[derive(Debug, Default)]
struct Runtime {
    nonce: String,
    /// `jti`s of assertions and proofs, with when they may be forgotten.
    seen: HashMap<String, i64>,
    tokens: HashMap<String, Issued>,
    stats: Stats,
}

/// The registered service app.
#[derive(Debug)]
pub struct ServiceApp {
    client_id: String,
    keys: Vec<Value>,
    scopes: Vec<String>,
    ttl: i64,
    api_nonce: bool,
    runtime: Mutex<Runtime>,
}

impl ServiceApp {
    /// The app for `settings`, `Ok(None)` when off; errors name the flag.
    pub fn from_settings(settings: &ServiceAppSettings) -> Result<Option<Self>, String> {
        let Some(client_id) = settings.service_client_id.clone() else {
            return Ok(None);
        };
        let path = settings
            .service_jwks_file
            .as_ref()
            .ok_or("--service-client-id needs --service-jwks-file (the app's public key)")?;
        let keys = read_public_keys(path, "--service-jwks-file")?;
        let scopes = if settings.service_scopes.is_empty() {
            ALL_SCOPES.iter().map(|s| (*s).to_owned()).collect()
        } else {
            settings.service_scopes.clone()
        };
        Ok(Some(Self {
            client_id,
            keys,
            scopes,
            ttl: settings.service_token_ttl_secs.max(1) as i64,
            api_nonce: settings.service_api_nonce,
            runtime: Mutex::new(Runtime {
                nonce: random_token("", 32),
                ..Runtime::default()
            }),
        }))
    }

    fn runtime(&self) -> MutexGuard<'_, Runtime> {
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counters and live tokens, as JSON.
    pub fn stats(&self) -> Value {
        let runtime = self.runtime();
        let mut value = serde_json::to_value(&runtime.stats).unwrap_or_default();
        value["live_tokens"] = json!(runtime.tokens.len());
        // The values too, so a test can look for them in the client's logs.
        value["issued"] = json!(runtime.tokens.keys().collect::<Vec<_>>());
        value
    }

    /// Ends every token (as Okta does when an app's keys or grants change).
    pub fn revoke_all(&self) {
        self.runtime().tokens.clear();
    }
}

impl JtiLedger for ServiceApp {
    fn first_use(&self, jti: &str, until: i64) -> bool {
        first_use_in(&mut self.runtime().seen, jti, until)
    }
}

/// Remembers the `jti` of assertions and proofs, so each is accepted once.
pub(crate) trait JtiLedger {
    /// A `jti` never seen (remembered until `until`).
    fn first_use(&self, jti: &str, until: i64) -> bool;
}

/// [`JtiLedger::first_use`] over a map of `jti` → forget-after time.
pub(crate) fn first_use_in(seen: &mut HashMap<String, i64>, jti: &str, until: i64) -> bool {
    let now = now_epoch();
    seen.retain(|_, keep| *keep >= now);
    seen.insert(jti.to_owned(), until).is_none()
}

/// The public keys in a JWK or JWKS file (`flag` names it in errors): RSA or EC P-256 only.
pub(crate) fn read_public_keys(path: &std::path::Path, flag: &str) -> Result<Vec<Value>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let parsed: Value =
        serde_json::from_str(&text).map_err(|e| format!("{flag} {}: {e}", path.display()))?;
    let keys = match parsed.get("keys").and_then(Value::as_array) {
        Some(keys) => keys.clone(),
        None => vec![parsed],
    };
    if keys.is_empty() || keys.iter().any(|k| thumbprint(k).is_none()) {
        return Err(format!("{flag} must hold RSA or EC P-256 public JWKs"));
    }
    Ok(keys)
}

/// A compact JWS split and decoded: header, claims, signing input, signature.
struct Jws {
    header: Value,
    claims: Value,
    input: String,
    signature: Vec<u8>,
}

fn decode(jwt: &str) -> Result<Jws, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, s] = parts[..] else {
        return Err("not a compact JWS".into());
    };
    let json = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter(Value::is_object)
            .ok_or_else(|| "a JWS part is not base64url JSON".to_owned())
    };
    Ok(Jws {
        header: json(h)?,
        claims: json(c)?,
        input: format!("{h}.{c}"),
        signature: URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "the signature is not base64url")?,
    })
}

fn b64(jwk: &Value, name: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(jwk.get(name)?.as_str()?).ok()
}

/// Whether `jws` is signed by `jwk` with the `alg` its header names (RS256 or ES256 only).
fn verify(jws: &Jws, jwk: &Value) -> bool {
    let alg = jws.header["alg"].as_str().unwrap_or_default();
    match (alg, jwk["kty"].as_str()) {
        ("ES256", Some("EC")) if jwk["crv"] == "P-256" => {
            let (Some(x), Some(y)) = (b64(jwk, "x"), b64(jwk, "y")) else {
                return false;
            };
            let point = [&[4u8][..], &x, &y].concat();
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(jws.input.as_bytes(), &jws.signature)
                .is_ok()
        }
        ("RS256", Some("RSA")) => {
            let (Some(n), Some(e)) = (b64(jwk, "n"), b64(jwk, "e")) else {
                return false;
            };
            signature::RsaPublicKeyComponents { n, e }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    jws.input.as_bytes(),
                    &jws.signature,
                )
                .is_ok()
        }
        _ => false,
    }
}

/// RFC 7638 thumbprint of a public JWK (`None` for another key type or a private key).
pub fn thumbprint(jwk: &Value) -> Option<String> {
    if jwk.get("d").is_some() {
        return None;
    }
    let s = |name: &str| jwk.get(name).and_then(Value::as_str);
    let canonical = match s("kty")? {
        "EC" if s("crv")? == "P-256" => format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            s("x")?,
            s("y")?
        ),
        "RSA" => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, s("e")?, s("n")?),
        _ => return None,
    };
    Some(URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    )))
}

/// Checks a DPoP proof for `method` `htu`; returns its `jkt` and `nonce`.
pub(crate) fn check_proof(
    app: &dyn JtiLedger,
    proof: &str,
    method: &str,
    htu: &str,
    access_token: Option<&str>,
) -> Result<(String, Option<String>), String> {
    let jws = decode(proof)?;
    if jws.header["typ"] != "dpop+jwt" {
        return Err("the DPoP proof's typ is not dpop+jwt".into());
    }
    let jwk = &jws.header["jwk"];
    let jkt = thumbprint(jwk).ok_or("the DPoP proof's jwk is not a public RSA or EC key")?;
    if !verify(&jws, jwk) {
        return Err("the DPoP proof's signature is invalid".into());
    }
    let claims = &jws.claims;
    if claims["htm"].as_str() != Some(method) {
        return Err("the DPoP proof's htm does not match the request method".into());
    }
    if claims["htu"].as_str() != Some(htu) {
        return Err("the DPoP proof's htu does not match the request URL".into());
    }
    let iat = claims["iat"].as_i64().ok_or("the DPoP proof has no iat")?;
    let now = now_epoch();
    if (now - iat).abs() > IAT_WINDOW {
        return Err("the DPoP proof's iat is not recent".into());
    }
    if let Some(token) = access_token {
        let ath = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            token.as_bytes(),
        ));
        if claims["ath"].as_str() != Some(ath.as_str()) {
            return Err("the DPoP proof's ath does not match the access token".into());
        }
    }
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or("the DPoP proof has no jti")?;
    if !app.first_use(&format!("dpop:{jti}"), now + 2 * IAT_WINDOW) {
        return Err("the DPoP proof's jti was used before".into());
    }
    Ok((jkt, claims["nonce"].as_str().map(str::to_owned)))
}

/// Why the DPoP proof of a request with a bound token is refused.
pub(crate) enum ProofRefusal {
    Missing,
    Invalid(String),
    WrongKey,
    /// The proof lacks the current nonce, which the answer must send.
    NeedsNonce(String),
}

impl ProofRefusal {
    /// The OAuth error code.
    pub(crate) fn error(&self) -> &'static str {
        match self {
            Self::NeedsNonce(_) => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }

    /// The error description, as Okta words it.
    pub(crate) fn description(&self) -> String {
        match self {
            Self::Missing => "The DPoP proof JWT header is missing.".into(),
            Self::Invalid(why) => why.clone(),
            Self::WrongKey => {
                "The DPoP proof is not signed by the key the access token is bound to.".into()
            }
            Self::NeedsNonce(_) => "Resource server requires nonce in DPoP proof.".into(),
        }
    }

    /// Adds the `DPoP-Nonce` header to a `use_dpop_nonce` answer.
    pub(crate) fn add_nonce(&self, response: &mut Response) {
        if let Self::NeedsNonce(nonce) = self
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            response.headers_mut().insert("dpop-nonce", value);
        }
    }
}

/// Checks the DPoP proof of a request to `htu` with `token`, bound to `jkt`: present, valid
/// for this method and URL with `ath`, signed by the bound key, and carrying `nonce` if given.
pub(crate) fn check_bound_request(
    ledger: &dyn JtiLedger,
    headers: &HeaderMap,
    method: &Method,
    htu: &str,
    token: &str,
    jkt: &str,
    nonce: Option<&str>,
) -> Result<(), ProofRefusal> {
    let proof = headers
        .get("dpop")
        .and_then(|v| v.to_str().ok())
        .ok_or(ProofRefusal::Missing)?;
    let (proof_jkt, proof_nonce) = check_proof(ledger, proof, method.as_str(), htu, Some(token))
        .map_err(ProofRefusal::Invalid)?;
    if proof_jkt != jkt {
        return Err(ProofRefusal::WrongKey);
    }
    match nonce {
        Some(nonce) if proof_nonce.as_deref() != Some(nonce) => {
            Err(ProofRefusal::NeedsNonce(nonce.to_owned()))
        }
        _ => Ok(()),
    }
}

/// Checks a `private_key_jwt` client assertion of `client_id` (signed by one of `keys`) sent to
/// `token_url` (the endpoint invoked).
pub(crate) fn check_assertion(
    ledger: &dyn JtiLedger,
    client_id: &str,
    keys: &[Value],
    assertion: &str,
    token_url: &str,
) -> Result<(), String> {
    let jws = decode(assertion)?;
    let kid = jws.header["kid"].as_str();
    let signed = keys
        .iter()
        .filter(|k| kid.is_none() || k["kid"].as_str().is_none_or(|k| Some(k) == kid))
        .any(|k| verify(&jws, k));
    if !signed {
        return Err("The client_assertion signature is invalid.".into());
    }
    let c = &jws.claims;
    if c["iss"].as_str() != Some(client_id) || c["sub"].as_str() != Some(client_id) {
        return Err("The client_assertion token has an invalid issuer or subject.".into());
    }
    if c["aud"].as_str() != Some(token_url) {
        return Err(
            "The audience claim for client_assertion must be the endpoint invoked for the request."
                .into(),
        );
    }
    let now = now_epoch();
    let exp = c["exp"]
        .as_i64()
        .ok_or("The client_assertion has no exp.")?;
    if exp <= now {
        return Err("The client_assertion token is expired.".into());
    }
    if exp > now + 3600 {
        return Err("The client_assertion token has an expiration too far into the future.".into());
    }
    let jti = c["jti"]
        .as_str()
        .filter(|j| !j.is_empty())
        .ok_or("The client_assertion has no jti.")?;
    if !ledger.first_use(&format!("assertion:{jti}"), exp) {
        return Err("The client_assertion token has already been used.".into());
    }
    Ok(())
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// Whether a token request is the service app's (client credentials with an assertion), so the
/// OIDC provider's token endpoint hands it here.
pub fn is_service_request(state: &AppState, body: &[u8]) -> bool {
    state.service_app.is_some()
        && parse_params(body).is_ok_and(|p| {
            // The login app's own assertions (it names itself) stay with the OIDC provider.
            let login_app = state
                .oidc
                .as_ref()
                .is_some_and(|o| p.get("client_id") == Some(&o.client_id));
            p.get("grant_type").map(String::as_str) == Some("client_credentials")
                || (p.contains_key("client_assertion") && !login_app)
        })
}

/// `POST /oauth2/v1/token` for the service app.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(app) = &state.service_app else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let response = token_answer(app, &state, &headers, &body);
    if !response.status().is_success() {
        app.runtime().stats.token_errors += 1;
    }
    response
}

fn token_answer(app: &ServiceApp, state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    let token_url = format!("{}/oauth2/v1/token", base_url(headers, state));
    let Ok(params) = parse_params(body) else {
        return bad("invalid_request", "A parameter was given more than once.");
    };
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return bad(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    if params.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client_assertion_type is invalid or missing.",
        );
    }
    let assertion = params.get("client_assertion").map_or("", String::as_str);
    if let Err(why) = check_assertion(app, &app.client_id, &app.keys, assertion, &token_url) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", &why);
    }
    let Some(proof) = headers.get("dpop").and_then(|v| v.to_str().ok()) else {
        return bad(
            "invalid_dpop_proof",
            "The DPoP proof JWT header is missing.",
        );
    };
    let (jkt, nonce) = match check_proof(app, proof, "POST", &token_url, None) {
        Ok(checked) => checked,
        Err(why) => {
            app.runtime().stats.rejected_proofs += 1;
            return bad("invalid_dpop_proof", &why);
        }
    };
    {
        let mut runtime = app.runtime();
        if nonce.as_deref() != Some(runtime.nonce.as_str()) {
            runtime.stats.nonce_challenges += 1;
            let mut response = bad(
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
            );
            if let Ok(value) = HeaderValue::from_str(&runtime.nonce) {
                response.headers_mut().insert("dpop-nonce", value);
            }
            return response;
        }
    }
    let requested: Vec<String> = params
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    if requested.is_empty() {
        return bad("invalid_scope", "The 'scope' parameter is required.");
    }
    let refused: Vec<&str> = requested
        .iter()
        .filter(|s| !app.scopes.contains(s))
        .map(String::as_str)
        .collect();
    if !refused.is_empty() {
        return bad(
            "invalid_scope",
            &format!(
                "The following scopes are not granted to the client: {}",
                refused.join(" ")
            ),
        );
    }
    let access_token = random_token("", 48);
    let mut runtime = app.runtime();
    let now = now_epoch();
    runtime.tokens.retain(|_, t| t.expires_at > now);
    runtime.tokens.insert(
        access_token.clone(),
        Issued {
            jkt,
            scopes: requested.clone(),
            expires_at: now + app.ttl,
        },
    );
    runtime.stats.tokens_issued += 1;
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(json!({
            "token_type": "DPoP",
            "expires_in": app.ttl,
            "access_token": access_token,
            "scope": requested.join(" "),
        })),
    )
        .into_response()
}

/// The scope an `/api/v1` request needs (`.manage` also grants `.read`), by its first segment.
pub fn required_scope(method: &Method, api_path: &str) -> Option<String> {
    let resource = match api_path.trim_start_matches('/').split('/').next()? {
        "users" => "users",
        "groups" => "groups",
        "apps" => "apps",
        "logs" => "logs",
        "policies" => "policies",
        "zones" => "networkZones",
        _ => return None,
    };
    let access = if method == Method::GET {
        "read"
    } else {
        "manage"
    };
    Some(format!("okta.{resource}.{access}"))
}

fn challenge(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
}

/// Checks an `Authorization: DPoP …` request to `/api/v1/{api_path}`; `Err` is Okta's answer.
pub fn check_resource(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    full_path: &str,
    api_path: &str,
) -> Result<(), Box<Response>> {
    let invalid = |error: &str, description: &str| {
        let mut response = ApiError::InvalidToken.into_response();
        challenge(
            &mut response,
            format!(
                r#"DPoP algs="ES256 RS256", error="{error}", error_description="{description}""#
            ),
        );
        Box::new(response)
    };
    let Some(app) = &state.service_app else {
        return Err(Box::new(ApiError::InvalidToken.into_response()));
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("DPoP"))
        .map(|(_, token)| token.trim().to_owned())
        .unwrap_or_default();
    let (jkt, scopes) = {
        let mut runtime = app.runtime();
        match runtime.tokens.get(&token) {
            Some(issued) if issued.expires_at > now_epoch() => {
                (issued.jkt.clone(), issued.scopes.clone())
            }
            _ => {
                runtime.stats.invalid_tokens += 1;
                return Err(invalid("invalid_token", "The access token is invalid."));
            }
        }
    };
    let base = base_url(headers, state);
    let nonce = app.api_nonce.then(|| app.runtime().nonce.clone());
    let htu = format!("{base}{full_path}");
    if let Err(refusal) =
        check_bound_request(app, headers, method, &htu, &token, &jkt, nonce.as_deref())
    {
        let mut runtime = app.runtime();
        match &refusal {
            ProofRefusal::Missing => {}
            ProofRefusal::NeedsNonce(_) => runtime.stats.api_nonce_challenges += 1,
            _ => runtime.stats.rejected_proofs += 1,
        }
        let mut response = *invalid(refusal.error(), &refusal.description());
        refusal.add_nonce(&mut response);
        return Err(Box::new(response));
    }
    let Some(needed) = required_scope(method, api_path) else {
        return Ok(());
    };
    let manage = needed.replace(".read", ".manage");
    if scopes.iter().any(|s| *s == needed || *s == manage) {
        return Ok(());
    }
    app.runtime().stats.insufficient_scope += 1;
    let mut response = ApiError::Forbidden.into_response();
    // Okta's challenge, as its support articles show it (scheme `Bearer` there).
    challenge(
        &mut response,
        format!(
            r#"Bearer authorization_uri="{base}/oauth2/v1/authorize", realm="{base}", scope="{needed}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="{full_path}""#
        ),
    );
    Err(Box::new(response))
}

/// `GET /__fake/service-app`: counters; `POST /__fake/service-app/revoke`: end every token.
pub async fn stats(State(state): State<AppState>) -> Response {
    match &state.service_app {
        Some(app) => Json(app.stats()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// `POST /__fake/service-app/revoke`.
pub async fn revoke(State(state): State<AppState>) -> StatusCode {
    match &state.service_app {
        Some(app) => {
            app.revoke_all();
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_okta::{Dataset, Settings, dataset::DEFAULT_SEED, router, state};
    use axum::body::Body;
    use axum::http::Request;
    use okta_mcp_tool_server::okta::jose::{self, SigningKey};
    use tower::ServiceExt;

    const BASE: &str = "http://127.0.0.1:1";
    const TOKEN_URL: &str = "http://127.0.0.1:1/oauth2/v1/token";

    fn app_router(key: &SigningKey, scopes: &[&str]) -> (axum::Router, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(&jwks, json!({"keys": [key.public_jwk()]}).to_string()).unwrap();
        let settings = Settings {
            listen: ([127, 0, 0, 1], 0).into(),
            api_token: "ssws".into(),
            seed: DEFAULT_SEED,
            latency_ms: 0,
            rate_limit_per_minute: 1_000_000,
            rate_limit_reset_secs: 60,
            oidc: Default::default(),
            event_hook: Default::default(),
            service_app: ServiceAppSettings {
                service_client_id: Some("0oasvc".into()),
                service_jwks_file: Some(jwks),
                service_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                service_token_ttl_secs: 60,
                service_api_nonce: false,
            },
        };
        let state = state(
            &settings,
            Dataset::generate(DEFAULT_SEED),
            "127.0.0.1:1".into(),
        );
        (router(state), dir)
    }

    async fn send(router: &axum::Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&body).unwrap_or_default(),
        )
    }

    fn now() -> i64 {
        now_epoch()
    }

    async fn token_request(
        router: &axum::Router,
        assertion: &str,
        proof: Option<&str>,
        scope: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", scope)
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", assertion)
            .finish();
        let mut request = Request::post("/oauth2/v1/token")
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        send(router, request.body(Body::from(body)).unwrap()).await
    }

    fn assertion(key: &SigningKey, aud: &str) -> String {
        jose::client_assertion(key, None, "0oasvc", aud, now()).unwrap()
    }

    async fn api(
        router: &axum::Router,
        path: &str,
        scheme: &str,
        token: &str,
        proof: &str,
    ) -> (StatusCode, HeaderMap, Value) {
        let request = Request::get(path)
            .header("authorization", format!("{scheme} {token}"))
            .header("dpop", proof)
            .body(Body::empty())
            .unwrap();
        send(router, request).await
    }

    #[tokio::test]
    async fn token_endpoint_and_api_refuse_what_okta_refuses() {
        let app_key = SigningKey::generate_es256().unwrap();
        let dpop = SigningKey::generate_es256().unwrap();
        let stranger = SigningKey::generate_es256().unwrap();
        let read = "okta.users.read okta.groups.read";
        let (router, _dir) = app_router(&app_key, &["okta.users.read", "okta.groups.read"]);
        let proof = |nonce: Option<&str>| {
            jose::dpop_proof(&dpop, "POST", TOKEN_URL, None, nonce, now()).unwrap()
        };

        let (status, _, body) =
            token_request(&router, &assertion(&app_key, TOKEN_URL), None, read).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
        );
        // The first proof has no nonce: Okta's challenge.
        let first = assertion(&app_key, TOKEN_URL);
        let (status, headers, body) =
            token_request(&router, &first, Some(&proof(None)), read).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("use_dpop_nonce"))
        );
        let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
        // An assertion is good once; another audience, signer or client is refused.
        let (status, _, body) =
            token_request(&router, &first, Some(&proof(Some(&nonce))), read).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("already been used")
        );
        for bad in [
            assertion(&app_key, "http://127.0.0.1:1/oauth2/default/v1/token"),
            assertion(&stranger, TOKEN_URL),
            jose::client_assertion(&app_key, None, "0oaother", TOKEN_URL, now()).unwrap(),
        ] {
            let (status, _, body) =
                token_request(&router, &bad, Some(&proof(Some(&nonce))), read).await;
            assert_eq!(
                (status, body["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_client"))
            );
        }
        // A proof for another URL, or an ungranted scope.
        let elsewhere =
            jose::dpop_proof(&dpop, "POST", "http://x/token", None, Some(&nonce), now()).unwrap();
        let (_, _, body) = token_request(
            &router,
            &assertion(&app_key, TOKEN_URL),
            Some(&elsewhere),
            read,
        )
        .await;
        assert_eq!(body["error"], "invalid_dpop_proof");
        let (_, _, body) = token_request(
            &router,
            &assertion(&app_key, TOKEN_URL),
            Some(&proof(Some(&nonce))),
            "okta.logs.read",
        )
        .await;
        assert_eq!(body["error"], "invalid_scope");

        let (status, _, body) = token_request(
            &router,
            &assertion(&app_key, TOKEN_URL),
            Some(&proof(Some(&nonce))),
            read,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "DPoP");
        assert_eq!(body["scope"], read);
        let token = body["access_token"].as_str().unwrap().to_owned();

        let users = format!("{BASE}/api/v1/users");
        let good = jose::dpop_proof(&dpop, "GET", &users, Some(&token), None, now()).unwrap();
        let (status, _, body) = api(&router, "/api/v1/users?limit=1", "DPoP", &token, &good).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        // Replayed, without ath, by another key, for another method, or the token as Bearer.
        let (status, headers, _) = api(&router, "/api/v1/users", "DPoP", &token, &good).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_dpop_proof")
        );
        for proof in [
            jose::dpop_proof(&dpop, "GET", &users, None, None, now()).unwrap(),
            jose::dpop_proof(&stranger, "GET", &users, Some(&token), None, now()).unwrap(),
            jose::dpop_proof(&dpop, "POST", &users, Some(&token), None, now()).unwrap(),
            jose::dpop_proof(&dpop, "GET", &users, Some(&token), None, now() - 600).unwrap(),
        ] {
            let (status, _, body) = api(&router, "/api/v1/users", "DPoP", &token, &proof).await;
            assert_eq!(
                (status, body["errorCode"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("E0000011"))
            );
        }
        let fresh = jose::dpop_proof(&dpop, "GET", &users, Some(&token), None, now()).unwrap();
        let (status, _, _) = api(&router, "/api/v1/users", "Bearer", &token, &fresh).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // A scope the token lacks: Okta's 403 naming it.
        let logs = format!("{BASE}/api/v1/logs");
        let proof = jose::dpop_proof(&dpop, "GET", &logs, Some(&token), None, now()).unwrap();
        let (status, headers, body) = api(&router, "/api/v1/logs", "DPoP", &token, &proof).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["errorCode"], "E0000006");
        let challenge = headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.contains(r#"scope="okta.logs.read""#)
                && challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
    }

    #[test]
    fn scopes_by_endpoint_and_method() {
        let scope = |m: Method, p: &str| required_scope(&m, p);
        assert_eq!(
            scope(Method::GET, "/users").as_deref(),
            Some("okta.users.read")
        );
        assert_eq!(
            scope(Method::DELETE, "/users/00u1/factors/f1").as_deref(),
            Some("okta.users.manage")
        );
        assert_eq!(
            scope(Method::PUT, "/groups/g/users/u").as_deref(),
            Some("okta.groups.manage")
        );
        assert_eq!(
            scope(Method::GET, "/zones").as_deref(),
            Some("okta.networkZones.read")
        );
        assert_eq!(
            scope(Method::GET, "/logs").as_deref(),
            Some("okta.logs.read")
        );
        assert_eq!(scope(Method::GET, "/nothing"), None);
    }

    #[test]
    fn rfc7638_thumbprint_example() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(thumbprint(&json!({"kty": "oct", "k": "x"})), None);
    }
}
