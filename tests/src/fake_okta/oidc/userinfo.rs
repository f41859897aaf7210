//! `GET|POST …/v1/userinfo`: the claims of the access token's scopes, `groups` included with the
//! `groups` scope (even when ID tokens leave them out). A DPoP-bound token must come as
//! `Authorization: DPoP <token>` with a proof for this request carrying `ath` and the nonce
//! (the first is answered 401 `use_dpop_nonce`); `userinfo_status` makes it fail on purpose.

use super::{AuthServer, Provider, base_url, may_use_tokens};
use crate::fake_okta::service_app::check_bound_request;
use crate::fake_okta::state::AppState;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn refuse(status: StatusCode, error: &str, description: &str) -> Response {
    let challenge = format!(
        "Bearer authorization_uri=\"\", error=\"{error}\", error_description=\"{description}\""
    );
    let mut response = (status, [(header::CACHE_CONTROL, "no-store")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `GET|POST …/v1/userinfo` with `Authorization: Bearer <access token>`.
pub async fn userinfo(
    State(state): State<AppState>,
    Extension(server): Extension<AuthServer>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let Some(provider) = &state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(status) = provider.runtime().controls.userinfo_status {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            "userinfo failed on purpose",
        )
            .into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (scheme, token) = authorization
        .split_once(' ')
        .map(|(scheme, token)| (scheme.to_ascii_lowercase(), token.trim()))
        .unwrap_or_default();
    let token =
        Some(token).filter(|t| !t.is_empty() && matches!(scheme.as_str(), "bearer" | "dpop"));
    let Some(token) = token else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The access token is missing.",
        );
    };
    let grant = provider.runtime().grants.access_token(token);
    let Some(grant) = grant.filter(|g| g.server == server) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid.",
        );
    };
    let htu = format!("{}/userinfo", server.endpoints(&base_url(&headers, &state)));
    if let Some(refusal) = check_binding(provider, &headers, &method, &htu, &scheme, token) {
        return refusal;
    }
    let has = |scope: &str| grant.scopes.iter().any(|s| s == scope);
    if !has("openid") {
        return refuse(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The access token must provide access to at least one of these scopes - profile, email, address or phone",
        );
    }
    let org = state.org();
    let Some(user) = org
        .dataset
        .users
        .get(grant.user)
        .filter(|u| may_use_tokens(u.status))
    else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The access token is invalid.",
        );
    };
    let mut claims = json!({ "sub": user.id });
    if has("profile") {
        claims["name"] = json!(format!(
            "{} {}",
            user.profile.first_name, user.profile.last_name
        ));
        claims["preferred_username"] = json!(user.profile.login);
        claims["given_name"] = json!(user.profile.first_name);
        claims["family_name"] = json!(user.profile.last_name);
        claims["locale"] = json!("en_US");
        claims["zoneinfo"] = json!("America/Los_Angeles");
        claims["updated_at"] = json!(user.last_updated.timestamp());
    }
    if has("email") {
        claims["email"] = json!(user.profile.email);
        claims["email_verified"] = json!(true);
    }
    if has("groups") {
        claims["groups"] = json!(provider.groups_of(&state.org(), grant.user));
    }
    ([(header::CACHE_CONTROL, "no-store")], Json(claims)).into_response()
}

/// A DPoP-bound token needs the `DPoP` scheme and a proof by its key for this request, with
/// `ath` and the current nonce; a plain token must not come as `DPoP`. `Some`: the refusal.
fn check_binding(
    provider: &Provider,
    headers: &HeaderMap,
    method: &Method,
    htu: &str,
    scheme: &str,
    token: &str,
) -> Option<Response> {
    let bound = provider.runtime().bound_tokens.get(token).cloned();
    let dpop_refusal = |error: &str, description: &str| {
        let mut response = refuse(StatusCode::UNAUTHORIZED, error, description);
        let challenge = format!("DPoP error=\"{error}\", error_description=\"{description}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(jkt) = bound else {
        return match scheme {
            "dpop" => Some(dpop_refusal(
                "invalid_token",
                "The access token is not DPoP-bound.",
            )),
            _ => None,
        };
    };
    if scheme != "dpop" {
        return Some(dpop_refusal(
            "invalid_token",
            "A DPoP-bound access token must be presented with the DPoP scheme.",
        ));
    }
    let nonce = provider.runtime().dpop_nonce.clone();
    let refusal =
        check_bound_request(provider, headers, method, htu, token, &jkt, Some(&nonce)).err()?;
    let mut response = dpop_refusal(refusal.error(), &refusal.description());
    refusal.add_nonce(&mut response);
    Some(response)
}
