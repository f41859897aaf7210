//! `/.well-known/openid-configuration` (and `oauth-authorization-server`) of both authorization
//! servers, and their JWKS (`…/v1/keys`).

use super::{AuthServer, base_url};
use crate::fake_okta::state::AppState;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Scopes both servers know.
pub const SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "groups",
    "offline_access",
];

/// The discovery document of `server` as seen from `base`.
pub fn document(server: AuthServer, base: &str) -> Value {
    let issuer = server.issuer(base);
    let endpoints = server.endpoints(base);
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{endpoints}/authorize"),
        "token_endpoint": format!("{endpoints}/token"),
        "userinfo_endpoint": format!("{endpoints}/userinfo"),
        "jwks_uri": format!("{endpoints}/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": SCOPES,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "claims_supported": [
            "iss", "ver", "sub", "aud", "iat", "exp", "jti", "auth_time", "amr", "idp", "nonce",
            "name", "nickname", "preferred_username", "given_name", "family_name", "email",
            "email_verified", "locale", "zoneinfo", "updated_at", "at_hash", "groups"
        ],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

/// `GET …/.well-known/openid-configuration`.
pub async fn metadata(
    State(state): State<AppState>,
    Extension(server): Extension<AuthServer>,
    headers: HeaderMap,
) -> Response {
    let base = base_url(&headers, &state);
    let mut document = document(server, &base);
    let exchanges = state.oidc.as_ref().is_some_and(|p| p.id_jag.is_some());
    if server == AuthServer::Org
        && exchanges
        && let Some(grants) = document["grant_types_supported"].as_array_mut()
    {
        grants.push(json!(crate::fake_okta::id_jag::TOKEN_EXCHANGE));
    }
    if let Some(provider) = &state.oidc {
        let endpoints = server.endpoints(&base);
        document["pushed_authorization_request_endpoint"] = json!(format!("{endpoints}/par"));
        document["require_pushed_authorization_requests"] = json!(provider.require_par);
        document["authorization_response_iss_parameter_supported"] = json!(true);
        document["dpop_signing_alg_values_supported"] = json!(["ES256", "RS256"]);
        document["scopes_supported"] = json!(provider.supported_scopes());
        if provider.client_keys.is_some()
            && let Some(methods) = document["token_endpoint_auth_methods_supported"].as_array_mut()
        {
            methods.push(json!("private_key_jwt"));
        }
    }
    (
        [(header::CACHE_CONTROL, "max-age=86400, must-revalidate")],
        Json(document),
    )
        .into_response()
}

/// `GET …/v1/keys`.
pub async fn keys(State(state): State<AppState>) -> Response {
    match &state.oidc {
        Some(provider) => (
            [(header::CACHE_CONTROL, "max-age=86400, must-revalidate")],
            Json(provider.key.jwks()),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
