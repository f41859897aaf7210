//! `/__fake/*`: the test-only control surface (no authentication, never under `/api`).
//!
//! Tests use it to inject faults before exercising a client and to read back what the client did
//! (how many requests, on which routes, how many at once).

use super::state::AppState;
use super::traffic::FaultsUpdate;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
    let d = &state.org.dataset;
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

/// Routes to nest under `/__fake`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/faults", get(faults).post(set_faults))
        .route("/faults/reset", post(reset_faults))
        .route("/stats", get(stats))
        .route("/stats/reset", post(reset_stats))
        .route("/dataset", get(dataset))
}
