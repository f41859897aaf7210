//! `GET|POST …/v1/userinfo`: the claims of the access token's scopes, `groups` included with the
//! `groups` scope (even when ID tokens leave them out).

use super::{AuthServer, may_use_tokens};
use crate::fake_okta::state::AppState;
use axum::Extension;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
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
    headers: HeaderMap,
) -> Response {
    let Some(provider) = &state.oidc else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..7)
                .filter(|scheme| scheme.eq_ignore_ascii_case("bearer "))
                .map(|_| v[7..].trim())
        })
        .filter(|t| !t.is_empty());
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
