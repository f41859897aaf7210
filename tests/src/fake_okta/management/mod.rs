//! The Okta Management API half of the fake: the `/api/v1` endpoints the tool server calls (reads,
//! and the few writes of its write tools), behind one gate that does authentication, rate
//! limits, injected faults and stats.
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
mod writes;
mod zones;

use crate::fake_okta::state::AppState;
use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodRouter, delete, get, post, put};

/// A GET route whose other methods answer Okta's 405 body.
fn read_only<H, T>(handler: H) -> MethodRouter<AppState>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    get(handler).fallback(gate::method_not_allowed)
}

/// A route for the methods `methods` sets up; any other method answers Okta's 405 body.
fn only(methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    methods.fallback(gate::method_not_allowed)
}

/// Routes to nest under `/api/v1`. Path parameters are named `{id}` (and `{ruleId}`, `{userId}`,
/// `{factorId}`) so the per-route counters in `/__fake/stats` read like `/api/v1/groups/{id}/users`.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/users", read_only(users::list))
        .route("/users/{id}", read_only(users::get))
        .route("/users/{id}/groups", read_only(users::groups))
        .route("/users/{id}/appLinks", read_only(users::app_links))
        .route("/users/{id}/factors", read_only(users::factors))
        .route(
            "/users/{id}/factors/{factorId}",
            only(get(writes::factor).delete(writes::reset_factor)),
        )
        .route("/users/{id}/lifecycle/suspend", only(post(writes::suspend)))
        .route(
            "/users/{id}/lifecycle/unsuspend",
            only(post(writes::unsuspend)),
        )
        .route(
            "/users/{id}/lifecycle/expire_password",
            only(post(writes::expire_password)),
        )
        .route("/users/{id}/sessions", only(delete(writes::clear_sessions)))
        .route("/groups", read_only(groups::list))
        .route("/groups/{id}", read_only(groups::get))
        .route("/groups/{id}/users", read_only(groups::members))
        .route(
            "/groups/{id}/users/{userId}",
            only(put(writes::add_member).delete(writes::remove_member)),
        )
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
