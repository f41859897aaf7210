//! `/api/v1/users` and its sub-resources.
//!
//! The list has Okta's three query modes: `q` (prefix match on names and email, default limit 10,
//! no pagination), `filter` (a few attributes, exact values) and `search` (any attribute,
//! case-insensitive values, `sortBy`/`sortOrder`). Without `filter` or `search`, deprovisioned
//! users are left out, as Okta does.

use super::request::{
    ApiRequest, PathIds, descending, list_response, not_found, object_response, paged,
    parse_filter, parse_search, passes, sort_by_attribute, starts_with_ci,
};
use crate::fake_okta::dataset::{UserOmissions, UserStatus, app_link_json};
use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::LimitRule;
use crate::fake_okta::scim::CaseRule;
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::response::Response;

/// Attributes Okta's users `filter` supports.
const FILTER_ATTRIBUTES: &[&str] = &[
    "status",
    "lastUpdated",
    "id",
    "profile.login",
    "profile.email",
    "profile.firstName",
    "profile.lastName",
];

/// `GET /api/v1/users`.
pub async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let org = state.org();
    let url = &request.url;
    let q = url.non_empty_param("q");
    let search = parse_search(url.non_empty_param("search"))?;
    let filter = if search.is_none() {
        parse_filter(url.non_empty_param("filter"), FILTER_ATTRIBUTES, false)?
    } else {
        None
    };
    let users = &org.dataset.users;
    let mut selected: Vec<usize> = (0..users.len())
        .filter(|&i| {
            let doc = &org.user_docs[i];
            if search.is_some() {
                passes(search.as_ref(), doc, CaseRule::Insensitive)
            } else if filter.is_some() {
                passes(filter.as_ref(), doc, CaseRule::Sensitive)
            } else {
                users[i].status != UserStatus::Deprovisioned
            }
        })
        .filter(|&i| {
            q.is_none_or(|q| {
                let p = &users[i].profile;
                [&p.first_name, &p.last_name, &p.email, &p.login]
                    .iter()
                    .any(|value| starts_with_ci(value, q))
            })
        })
        .collect();
    if search.is_some()
        && let Some(sort_by) = url.non_empty_param("sortBy")
    {
        let desc = descending(url.param("sortOrder"))?;
        sort_by_attribute(&mut selected, &org.user_docs, sort_by, desc);
    }
    let omit = UserOmissions::from_values(&request.okta_response);
    let render = |&i: &usize| users[i].to_list_json(&url.base, omit);
    if q.is_some() && search.is_none() && filter.is_none() {
        // A `q` lookup is one page only (Okta: "doesn't support pagination"), 10 by default.
        let limit = LimitRule::new(10, 200).resolve(url.param("limit"))?;
        let items = selected.iter().take(limit).map(render).collect();
        return Ok(list_response(url, items, None, limit));
    }
    paged(url, LimitRule::new(200, 200), &selected, render)
}

fn user_index(state: &AppState, id: &str) -> Result<usize, ApiError> {
    state
        .org()
        .find_user(id)
        .ok_or_else(|| not_found(id, "User"))
}

/// `GET /api/v1/users/{id}` (id or login).
pub async fn get(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = user_index(&state, ids.get(0))?;
    let omit = UserOmissions::from_values(&request.okta_response);
    Ok(object_response(
        state.org().dataset.users[index].to_json_omitting(&request.url.base, omit),
    ))
}

/// `GET /api/v1/users/{id}/groups`: every group of the user, one page.
pub async fn groups(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = user_index(&state, ids.get(0))?;
    let org = state.org();
    let items = org.user_groups[index]
        .iter()
        .map(|&g| org.dataset.groups[g].to_json(&request.url.base))
        .collect();
    Ok(list_response(&request.url, items, None, usize::MAX))
}

/// `GET /api/v1/users/{id}/appLinks`: apps assigned directly or through groups.
pub async fn app_links(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = user_index(&state, ids.get(0))?;
    let org = state.org();
    let user = &org.dataset.users[index];
    let items = org.user_apps[index]
        .iter()
        .filter(|&&a| org.dataset.apps[a].status == "ACTIVE")
        .enumerate()
        .map(|(order, &a)| app_link_json(user, &org.dataset.apps[a], order, &request.url.base))
        .collect();
    Ok(list_response(&request.url, items, None, usize::MAX))
}

/// `GET /api/v1/users/{id}/factors`: enrolled factors.
pub async fn factors(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = user_index(&state, ids.get(0))?;
    let org = state.org();
    let items = org.user_factors[index]
        .iter()
        .map(|&f| org.dataset.factors[f].to_json(&request.url.base))
        .collect();
    Ok(list_response(&request.url, items, None, usize::MAX))
}
