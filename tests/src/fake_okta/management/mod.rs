//! The Okta Management API half of the fake: the read-only `/api/v1` endpoints the tool server
//! calls, behind one gate that does authentication, rate limits, injected faults and stats.
//!
//! Each endpoint family has its own file; they share `request` (extraction, filters, pagination
//! responses) so a rule such as "limit above the maximum is capped" lives in one place.

mod apps;
pub mod gate;
mod groups;
mod logs;
mod policies;
pub mod request;
mod users;
mod zones;

use crate::fake_okta::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, get};

/// A GET route whose other methods answer Okta's 405 body.
fn read_only<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).fallback(gate::method_not_allowed)
}

/// Routes to nest under `/api/v1`. Path parameters are named `{id}` (and `{ruleId}`) so the
/// per-route counters in `/__fake/stats` read like `/api/v1/groups/{id}/users`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/users", read_only(users::list))
        .route("/users/{id}", read_only(users::get))
        .route("/users/{id}/groups", read_only(users::groups))
        .route("/users/{id}/appLinks", read_only(users::app_links))
        .route("/users/{id}/factors", read_only(users::factors))
        .route("/groups", read_only(groups::list))
        .route("/groups/{id}", read_only(groups::get))
        .route("/groups/{id}/users", read_only(groups::members))
        .route("/apps", read_only(apps::list))
        .route("/apps/{id}", read_only(apps::get))
        .route("/apps/{id}/users", read_only(apps::users))
        .route("/apps/{id}/groups", read_only(apps::groups))
        .route("/logs", read_only(logs::list))
        .route("/policies", read_only(policies::list))
        .route("/policies/{id}", read_only(policies::get))
        .route("/policies/{id}/rules", read_only(policies::rules))
        .route("/policies/{id}/rules/{ruleId}", read_only(policies::rule))
        .route("/zones", read_only(zones::list))
        .route("/zones/{id}", read_only(zones::get))
        .fallback(gate::unknown_endpoint)
        .layer(axum::middleware::from_fn_with_state(state, gate::gate))
}
