//! Test switches of the OIDC provider (no authentication, like the rest of `/__fake`):
//! `/__fake/oidc` (log in without a page, groups in ID tokens or not, refresh rotation) and
//! `/__fake/users/{id}/groups` (change the groups a user's tokens and userinfo carry).

use super::{AuthorizeIss, Controls, Provider};
use crate::fake_okta::dataset::UserStatus;
use crate::fake_okta::state::{AppState, Org};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

/// Most group names one override may hold.
const MAX_GROUPS: usize = 1000;

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlsUpdate {
    /// A login, email or user id; `null` turns the page back on.
    #[serde(default, deserialize_with = "present")]
    auto_login: Option<Option<String>>,
    groups_in_id_token: Option<bool>,
    rotate_refresh_tokens: Option<bool>,
    /// The `iss` authorize sends back: a string, or `null` for none (reset: the issuer).
    #[serde(default, deserialize_with = "present")]
    authorize_iss: Option<Option<String>>,
    /// Userinfo answers this status (400–599); `null` for claims again.
    #[serde(default, deserialize_with = "present")]
    userinfo_status: Option<Option<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupsUpdate {
    /// The group names claims carry from now on; `null` goes back to the dataset's.
    #[serde(default, deserialize_with = "present")]
    groups: Option<Option<Vec<String>>>,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// The answer when the provider is off (routes are not mounted then; in-process use only).
fn off() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": "the OIDC provider is off (no --client-id)" })),
    )
        .into_response()
}

fn view(provider: &Provider, org: &Org) -> Value {
    let controls: Controls = provider.runtime().controls.clone();
    let login = |user: usize| {
        org.dataset
            .users
            .get(user)
            .map_or(Value::Null, |u| json!(u.profile.login))
    };
    let overrides: Map<String, Value> = controls
        .group_overrides
        .iter()
        .filter_map(|(&user, groups)| {
            org.dataset
                .users
                .get(user)
                .map(|u| (u.id.clone(), json!(groups)))
        })
        .collect();
    json!({
        "auto_login": controls.auto_login.map_or(Value::Null, login),
        "groups_in_id_token": controls.groups_in_id_token,
        "rotate_refresh_tokens": controls.rotate_refresh_tokens,
        "group_overrides": overrides,
        "authorize_iss": match &controls.authorize_iss {
            AuthorizeIss::Issuer => json!("issuer"),
            AuthorizeIss::Fixed(value) => json!(value),
            AuthorizeIss::Omitted => Value::Null,
        },
        "userinfo_status": controls.userinfo_status,
    })
}

/// `GET /__fake/oidc`.
pub async fn get(State(state): State<AppState>) -> Response {
    match &state.oidc {
        Some(provider) => Json(view(provider, &state.org())).into_response(),
        None => off(),
    }
}

/// `POST /__fake/oidc` with any subset of `auto_login`, `groups_in_id_token`,
/// `rotate_refresh_tokens`, `authorize_iss` and `userinfo_status`.
pub async fn set(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(provider) = &state.oidc else {
        return off();
    };
    let update: ControlsUpdate = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => return bad_request(format!("invalid body: {e}")),
    };
    if let Some(Some(status)) = update.userinfo_status
        && !(400..=599).contains(&status)
    {
        return bad_request(format!(
            "userinfo_status {status} is not an error status (400-599)"
        ));
    }
    let auto_login = match update.auto_login {
        None => None,
        Some(None) => Some(None),
        Some(Some(who)) => match state.org().find_user(&who) {
            Some(user) if state.org().dataset.users[user].status == UserStatus::Active => {
                Some(Some(user))
            }
            Some(_) => return bad_request(format!("user {who:?} is not ACTIVE")),
            None => return bad_request(format!("no user {who:?}")),
        },
    };
    {
        let mut runtime = provider.runtime();
        let controls = &mut runtime.controls;
        if let Some(auto_login) = auto_login {
            controls.auto_login = auto_login;
        }
        if let Some(on) = update.groups_in_id_token {
            controls.groups_in_id_token = on;
        }
        if let Some(on) = update.rotate_refresh_tokens {
            controls.rotate_refresh_tokens = on;
        }
        if let Some(iss) = update.authorize_iss {
            controls.authorize_iss = iss.map_or(AuthorizeIss::Omitted, AuthorizeIss::Fixed);
        }
        if let Some(status) = update.userinfo_status {
            controls.userinfo_status = status;
        }
    }
    tracing::info!(controls = %view(provider, &state.org()), "OIDC controls updated");
    Json(view(provider, &state.org())).into_response()
}

/// `POST /__fake/oidc/reset`: switches and group overrides back to the start (grants stay).
pub async fn reset(State(state): State<AppState>) -> Response {
    match &state.oidc {
        Some(provider) => {
            provider.runtime().controls = Controls::default();
            Json(view(provider, &state.org())).into_response()
        }
        None => off(),
    }
}

fn user_view(provider: &Provider, org: &Org, user: usize) -> Value {
    let overridden = provider
        .runtime()
        .controls
        .group_overrides
        .contains_key(&user);
    let u = &org.dataset.users[user];
    json!({
        "id": u.id,
        "login": u.profile.login,
        "groups": provider.groups_of(org, user),
        "overridden": overridden,
    })
}

fn no_user(id: &str) -> Response {
    let id: String = id.chars().take(200).collect();
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("no user {id:?}") })),
    )
        .into_response()
}

/// `GET /__fake/users/{id}/groups`: the group names the user's claims carry now.
pub async fn user_groups(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(provider) = &state.oidc else {
        return off();
    };
    match state.org().find_user(&id) {
        Some(user) => Json(user_view(provider, &state.org(), user)).into_response(),
        None => no_user(&id),
    }
}

/// `POST /__fake/users/{id}/groups` `{"groups": [...]}` (or `null` for the dataset's groups).
pub async fn set_user_groups(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(provider) = &state.oidc else {
        return off();
    };
    let Some(user) = state.org().find_user(&id) else {
        return no_user(&id);
    };
    let update: GroupsUpdate = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => return bad_request(format!("invalid body: {e}")),
    };
    match update.groups {
        None => return bad_request("body needs \"groups\": a list of names or null".into()),
        Some(Some(groups)) if groups.len() > MAX_GROUPS => {
            return bad_request(format!("at most {MAX_GROUPS} groups"));
        }
        Some(Some(groups)) => {
            provider
                .runtime()
                .controls
                .group_overrides
                .insert(user, groups);
        }
        Some(None) => {
            provider.runtime().controls.group_overrides.remove(&user);
        }
    }
    let view = user_view(provider, &state.org(), user);
    tracing::info!(user = %view["login"], groups = %view["groups"], "OIDC groups changed");
    Json(view).into_response()
}
