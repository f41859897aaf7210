//! `POST …/v1/par`: pushed authorization requests (RFC 9126). The client authenticates as at
//! the token endpoint (the assertion's `aud` is this endpoint's URL); the parameters are kept
//! for 60 seconds under a one-time `request_uri` that authorize accepts instead of them.

use super::token::{OAuthError, authenticate};
use super::{AuthServer, base_url, now_epoch, parse_params};
use crate::fake_okta::error::random_token;
use crate::fake_okta::state::AppState;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How long a pushed request may wait for the browser.
const PUSHED_TTL_SECS: i64 = 60;

/// `POST …/v1/par`.
pub async fn par(
    State(state): State<AppState>,
    Extension(server): Extension<AuthServer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(provider) = &state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let par_url = format!("{}/par", server.endpoints(&base_url(&headers, &state)));
    let mut params = match parse_params(&body) {
        Ok(params) => params,
        Err(_) => {
            return OAuthError::new("invalid_request", "A parameter was given more than once.")
                .into_response();
        }
    };
    if let Err(error) = authenticate(provider, &headers, &params, &par_url) {
        return error.into_response();
    }
    if params.contains_key("request_uri") {
        return OAuthError::new(
            "invalid_request",
            "The 'request_uri' parameter must not be pushed.",
        )
        .into_response();
    }
    if !params
        .get("redirect_uri")
        .is_some_and(|uri| provider.redirect_uris.contains(uri))
    {
        return OAuthError::new(
            "invalid_request",
            "The 'redirect_uri' parameter must be a Login redirect URI in the client app settings.",
        )
        .into_response();
    }
    for name in ["client_assertion", "client_assertion_type", "client_secret"] {
        params.remove(name);
    }
    params.insert("client_id".into(), provider.client_id.clone());
    let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_token("", 32));
    provider.runtime().pushed.insert(
        request_uri.clone(),
        (params, server, now_epoch() + PUSHED_TTL_SECS),
    );
    (
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "request_uri": request_uri, "expires_in": PUSHED_TTL_SECS })),
    )
        .into_response()
}
