//! The Management API's write endpoints the tool server's write tools call, answered as Okta
//! answers them (statuses and bodies from Okta's published spec).
//!
//! | endpoint | success | refused |
//! |---|---|---|
//! | `POST /users/{id}/lifecycle/suspend`, `/unsuspend` | 200 `{}` (see below) | 400 E0000001 when the status does not allow it |
//! | `POST /users/{id}/lifecycle/expire_password` | 200, the user | 400 E0000001 likewise |
//! | `DELETE /users/{id}/sessions` (`oauthTokens`, `forgetDevices`) | 204 | |
//! | `GET`, `DELETE /users/{id}/factors/{factorId}` | 200 the factor / 204 | 404 E0000007 `(User)` for a deactivated user |
//! | `PUT`, `DELETE /groups/{groupId}/users/{userId}` | 204 (also when nothing changes) | 403 E0000006 for a group that is not `OKTA_GROUP` |
//!
//! Unknown users, groups and factors are 404 E0000007. Suspend and unsuspend answer `{}` as Okta's
//! Users API reference says ("Returns an empty object"), though the spec's 200 declares no body
//! (`tests/tests/okta_contract.rs` names the exception). Every handler extracts [`ApiRequest`],
//! which records the request in `/__fake/stats`. Every change goes through
//! [`Shared::change_org`](crate::fake_okta::state::Shared::change_org) and its System Log event
//! is published, so the System Log and Event Hooks see what the API did.

use super::request::{ApiRequest, PathIds, not_found, object_response};
use crate::fake_okta::changes::Lifecycle;
use crate::fake_okta::dataset::{GroupType, UserStatus};
use crate::fake_okta::error::ApiError;
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

fn user_index(state: &AppState, id: &str) -> Result<usize, ApiError> {
    state
        .org()
        .find_user(id)
        .ok_or_else(|| not_found(id, "User"))
}

/// A refused transition, as Okta reports it: 400 E0000001 naming the operation, with the reason.
fn not_allowed(operation: &str, why: String) -> ApiError {
    ApiError::Validation {
        field: operation.to_owned(),
        causes: vec![why],
    }
}

async fn lifecycle(
    state: AppState,
    ids: PathIds,
    operation: Lifecycle,
    operation_id: &str,
) -> Result<usize, ApiError> {
    let user = user_index(&state, ids.get(0))?;
    let event = state
        .change_org(|org| org.apply_lifecycle(user, operation, Utc::now()))
        .map_err(|e| not_allowed(operation_id, e.to_string()))?;
    state.publish([event]);
    Ok(user)
}

/// `POST /api/v1/users/{id}/lifecycle/suspend`: 200 with an empty object.
pub async fn suspend(
    State(state): State<AppState>,
    _: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    lifecycle(state, ids, Lifecycle::Suspend, "suspendUser").await?;
    Ok(object_response(json!({})))
}

/// `POST /api/v1/users/{id}/lifecycle/unsuspend`: 200 with an empty object.
pub async fn unsuspend(
    State(state): State<AppState>,
    _: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    lifecycle(state, ids, Lifecycle::Unsuspend, "unsuspendUser").await?;
    Ok(object_response(json!({})))
}

/// `POST /api/v1/users/{id}/lifecycle/expire_password`: 200 with the user, now `PASSWORD_EXPIRED`.
pub async fn expire_password(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let user = lifecycle(
        state.clone(),
        ids,
        Lifecycle::ExpirePassword,
        "expirePassword",
    )
    .await?;
    Ok(object_response(
        state.org().dataset.users[user].to_json(&request.url.base),
    ))
}

/// `DELETE /api/v1/users/{id}/sessions`: 204. `oauthTokens` and `forgetDevices` are accepted
/// (booleans, as Okta declares them) and change nothing else here: the fake keeps no sessions.
pub async fn clear_sessions(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    for name in ["oauthTokens", "forgetDevices"] {
        if let Some(value) = request.url.param(name)
            && value != "true"
            && value != "false"
        {
            return Err(ApiError::invalid_param(name, "must be true or false"));
        }
    }
    let user = user_index(&state, ids.get(0))?;
    let event = state.change_org(|org| org.clear_sessions(user, Utc::now()));
    state.publish([event]);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The user's and the factor's indexes; 404 for an unknown user or a factor not (or no longer)
/// enrolled by this user. A deactivated user's factors cannot be read or unenrolled ("You can't
/// unenroll a factor from a deactivated user", says the spec): Okta answers 404 E0000007 naming
/// the user (okta/okta-sdk-java#646), a status the spec declares, where 400 is not.
fn factor_of(state: &AppState, ids: &PathIds) -> Result<(usize, usize), ApiError> {
    let user = user_index(state, ids.get(0))?;
    let org = state.org();
    if org.dataset.users[user].status == UserStatus::Deprovisioned {
        return Err(not_found(ids.get(0), "User"));
    }
    let factor_id = ids.get(1);
    org.user_factors[user]
        .iter()
        .copied()
        .find(|&f| org.dataset.factors[f].id == factor_id)
        .map(|factor| (user, factor))
        .ok_or_else(|| not_found(factor_id, "UserFactor"))
}

/// `GET /api/v1/users/{id}/factors/{factorId}`.
pub async fn factor(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let (_, factor) = factor_of(&state, &ids)?;
    Ok(object_response(
        state.org().dataset.factors[factor].to_json(&request.url.base),
    ))
}

/// `DELETE /api/v1/users/{id}/factors/{factorId}`: 204.
pub async fn reset_factor(
    State(state): State<AppState>,
    _: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let (user, factor) = factor_of(&state, &ids)?;
    let event = state.change_org(|org| org.reset_factor(user, factor, Utc::now()));
    state.publish([event]);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The group's and the user's indexes for a membership change; only `OKTA_GROUP` memberships
/// can be changed through the API (app imports own `APP_GROUP`s, Okta owns `Everyone`).
fn membership_of(state: &AppState, ids: &PathIds) -> Result<(usize, usize), ApiError> {
    let org = state.org();
    let group = org
        .find_group(ids.get(0))
        .ok_or_else(|| not_found(ids.get(0), "UserGroup"))?;
    let user = org
        .find_user(ids.get(1))
        .ok_or_else(|| not_found(ids.get(1), "User"))?;
    if org.dataset.groups[group].group_type != GroupType::OktaGroup {
        return Err(ApiError::Forbidden);
    }
    Ok((group, user))
}

/// `PUT /api/v1/groups/{groupId}/users/{userId}`: 204, also when the user already is a member.
pub async fn add_member(
    State(state): State<AppState>,
    _: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let (group, user) = membership_of(&state, &ids)?;
    let event = state.change_org(|org| org.add_member(group, user, Utc::now()));
    state.publish(event);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/groups/{groupId}/users/{userId}`: 204, also when the user was no member.
pub async fn remove_member(
    State(state): State<AppState>,
    _: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let (group, user) = membership_of(&state, &ids)?;
    let event = state.change_org(|org| org.remove_member(group, user, Utc::now()));
    state.publish(event);
    Ok(StatusCode::NO_CONTENT.into_response())
}
