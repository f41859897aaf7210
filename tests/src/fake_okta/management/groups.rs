//! `/api/v1/groups`, one group, and its members.
//!
//! A `q` query is a prefix match on the name that Okta does not paginate (default limit 300);
//! `filter` takes id, type and the two timestamps; `search` takes any attribute.

use super::request::{
    ApiRequest, PathIds, descending, list_response, not_found, object_response, paged,
    parse_filter, parse_search, passes, sort_by_attribute, starts_with_ci,
};
use crate::fake_okta::dataset::UserOmissions;
use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::LimitRule;
use crate::fake_okta::scim::CaseRule;
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::response::Response;

/// Attributes Okta's groups `filter` supports.
const FILTER_ATTRIBUTES: &[&str] = &["id", "type", "lastUpdated", "lastMembershipUpdated"];

/// `GET /api/v1/groups`.
pub async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let org = state.org();
    let url = &request.url;
    let q = url.non_empty_param("q");
    let search = parse_search(url.non_empty_param("search"))?;
    let filter = parse_filter(url.non_empty_param("filter"), FILTER_ATTRIBUTES, false)?;
    let groups = &org.dataset.groups;
    let mut selected: Vec<usize> = (0..groups.len())
        .filter(|&i| passes(search.as_ref(), &org.group_docs[i], CaseRule::Insensitive))
        .filter(|&i| passes(filter.as_ref(), &org.group_docs[i], CaseRule::Sensitive))
        .filter(|&i| q.is_none_or(|q| starts_with_ci(&groups[i].name, q)))
        .collect();
    if search.is_some()
        && let Some(sort_by) = url.non_empty_param("sortBy")
    {
        let desc = descending(url.param("sortOrder"))?;
        sort_by_attribute(&mut selected, &org.group_docs, sort_by, desc);
    }
    let render = |&i: &usize| groups[i].to_json(&url.base);
    if q.is_some() && search.is_none() && filter.is_none() {
        // "Paging and searching are currently mutually exclusive": one page, 300 by default.
        let limit = LimitRule::new(300, 10_000).resolve(url.param("limit"))?;
        let items = selected.iter().take(limit).map(render).collect();
        return Ok(list_response(url, items, None, limit));
    }
    paged(url, LimitRule::new(10_000, 10_000), &selected, render)
}

fn group_index(state: &AppState, id: &str) -> Result<usize, ApiError> {
    state
        .org()
        .find_group(id)
        .ok_or_else(|| not_found(id, "UserGroup"))
}

/// `GET /api/v1/groups/{id}`.
pub async fn get(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = group_index(&state, ids.get(0))?;
    Ok(object_response(
        state.org().dataset.groups[index].to_json(&request.url.base),
    ))
}

/// `GET /api/v1/groups/{id}/users`: members in user order, 1,000 a page at most.
pub async fn members(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = group_index(&state, ids.get(0))?;
    let org = state.org();
    paged(
        &request.url,
        LimitRule::new(1000, 1000),
        &org.group_members[index],
        |&u| org.dataset.users[u].to_list_json(&request.url.base, UserOmissions::default()),
    )
}
