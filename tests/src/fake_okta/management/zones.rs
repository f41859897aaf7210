//! `/api/v1/zones` and one zone. The `filter` takes only `eq` on `id` and `usage`; without a
//! `limit` every zone comes on one page (Okta's default of -1).

use super::request::{
    ApiRequest, PathIds, not_found, object_response, paged, parse_filter, passes,
};
use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::LimitRule;
use crate::fake_okta::scim::CaseRule;
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::response::Response;

const LIMIT: LimitRule = LimitRule {
    default: None,
    max: 200,
    min: 1,
};

/// `GET /api/v1/zones`.
pub async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let org = state.org();
    let url = &request.url;
    let filter = parse_filter(url.non_empty_param("filter"), &["id", "usage"], true)?;
    let zones = &org.dataset.zones;
    let selected: Vec<usize> = (0..zones.len())
        .filter(|&i| passes(filter.as_ref(), &org.zone_docs[i], CaseRule::Sensitive))
        .collect();
    paged(url, LIMIT, &selected, |&i| zones[i].to_json(&url.base))
}

/// `GET /api/v1/zones/{id}`.
pub async fn get(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let id = ids.get(0);
    let index = state
        .org()
        .find_zone(id)
        .ok_or_else(|| not_found(id, "Zone"))?;
    Ok(object_response(
        state.org().dataset.zones[index].to_json(&request.url.base),
    ))
}
