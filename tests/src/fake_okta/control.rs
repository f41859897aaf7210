//! `/__fake/*`: the test-only control surface (no authentication, never under `/api`).
//!
//! Tests use it to inject faults before exercising a client and to read back what the client did
//! (how many requests, on which routes, how many at once).

use super::changes::Lifecycle;
use super::state::AppState;
use super::traffic::FaultsUpdate;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::json;

/// `GET /__fake/faults`.
async fn faults(State(state): State<AppState>) -> Response {
    Json(state.traffic.settings()).into_response()
}

/// `POST /__fake/faults` with any subset of the settings.
async fn set_faults(State(state): State<AppState>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultsUpdate>(&body) {
        Ok(update) => {
            state.traffic.update(&update);
            tracing::info!(?update, "faults updated");
            Json(state.traffic.settings()).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("invalid faults body: {e}") })),
        )
            .into_response(),
    }
}

/// `POST /__fake/faults/reset`: back to the start-up settings.
async fn reset_faults(State(state): State<AppState>) -> Response {
    state.traffic.reset_faults();
    Json(state.traffic.settings()).into_response()
}

/// `GET /__fake/stats`.
async fn stats(State(state): State<AppState>) -> Response {
    Json(state.traffic.stats()).into_response()
}

/// `POST /__fake/stats/reset`.
async fn reset_stats(State(state): State<AppState>) -> Response {
    state.traffic.reset_stats();
    Json(state.traffic.stats()).into_response()
}

/// `GET /__fake/dataset`: the seed and headline facts, so a test can rebuild the same dataset.
async fn dataset(State(state): State<AppState>) -> Response {
    let d = &state.org().dataset;
    Json(json!({
        "seed": d.seed,
        "generated_at": super::dataset::timestamp(d.generated_at),
        "users": d.users.len(),
        "groups": d.groups.len(),
        "apps": d.apps.len(),
        "factors": d.factors.len(),
        "log_events": d.log_events.len(),
        "policies": d.policies.len(),
        "zones": d.zones.len(),
    }))
    .into_response()
}

/// `POST /__fake/users/{id}/lifecycle/{operation}`: what an admin does in Okta's console
/// (`deactivate`, `suspend`, `unsuspend`, `activate`, `unlock`, `expire_password`) or what too many
/// failed sign-ins do (`lock`). Answers the user's new status, or 400 when the status does not allow it.
async fn lifecycle(
    State(state): State<AppState>,
    Path((id, operation)): Path<(String, String)>,
) -> Response {
    let Some(operation) = Lifecycle::parse(&operation) else {
        return control_error(StatusCode::NOT_FOUND, "unknown lifecycle operation");
    };
    let Some(user) = state.org().find_user(&id) else {
        return control_error(StatusCode::NOT_FOUND, "no such user");
    };
    match state.change_org(|org| org.apply_lifecycle(user, operation, Utc::now())) {
        Ok(event) => {
            state.publish([event]);
            let org = state.org();
            let user = &org.dataset.users[user];
            Json(json!({ "id": user.id, "status": user.status.as_str() })).into_response()
        }
        Err(e) => control_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// `POST /__fake/users/{id}/sessions/clear`: an admin clears the user's sessions.
async fn clear_sessions(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(user) = state.org().find_user(&id) else {
        return control_error(StatusCode::NOT_FOUND, "no such user");
    };
    let event = state.change_org(|org| org.clear_sessions(user, Utc::now()));
    state.publish([event]);
    StatusCode::NO_CONTENT.into_response()
}

/// `PUT` / `DELETE /__fake/groups/{groupId}/users/{userId}`: an admin changes a membership.
/// Answers whether anything changed.
async fn membership(
    State(state): State<AppState>,
    method: axum::http::Method,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Response {
    let org = state.org();
    let (Some(group), Some(user)) = (org.find_group(&group_id), org.find_user(&user_id)) else {
        return control_error(StatusCode::NOT_FOUND, "no such group or user");
    };
    let add = method == axum::http::Method::PUT;
    let event = state.change_org(|org| {
        if add {
            org.add_member(group, user, Utc::now())
        } else {
            org.remove_member(group, user, Utc::now())
        }
    });
    let changed = event.is_some();
    state.publish(event);
    Json(json!({ "changed": changed })).into_response()
}

fn control_error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Routes to nest under `/__fake`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/faults", get(faults).post(set_faults))
        .route("/faults/reset", post(reset_faults))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/dataset", get(dataset))
        .route("/users/{id}/lifecycle/{operation}", post(lifecycle))
        .route("/users/{id}/sessions/clear", post(clear_sessions))
        .route(
            "/groups/{groupId}/users/{userId}",
            axum::routing::put(membership).delete(membership),
        )
}
