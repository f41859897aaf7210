//! `/api/v1/apps`, one app, its assigned users and its assigned groups.
//!
//! The apps `filter` supports only `eq` on status, name, `user.id`, `group.id` and the signing
//! key; `user.id` matches apps the user reaches directly or through a group, as in Okta. Group
//! assignments embed their group with `expand=group`, and refuse a `limit` below 20 as Okta's
//! spec has it.

use super::request::{
    ApiRequest, PathIds, not_found, object_response, paged, parse_filter, passes, starts_with_ci,
};
use crate::fake_okta::dataset::{app_group_json, app_user_json};
use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::LimitRule;
use crate::fake_okta::scim::CaseRule;
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

/// Attributes Okta's apps `filter` supports.
const FILTER_ATTRIBUTES: &[&str] = &[
    "status",
    "name",
    "user.id",
    "group.id",
    "credentials.signing.kid",
];

/// listApplicationGroupAssignments: `limit` minimum 20, maximum 200, default 20 (Okta's spec).
const GROUPS_LIMIT: LimitRule = LimitRule {
    default: Some(20),
    max: 200,
    min: 20,
};

/// `GET /api/v1/apps`.
pub async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let org = state.org();
    let url = &request.url;
    let q = url.non_empty_param("q");
    let filter = parse_filter(url.non_empty_param("filter"), FILTER_ATTRIBUTES, true)?;
    let apps = &org.dataset.apps;
    let selected: Vec<usize> = (0..apps.len())
        .filter(|&i| passes(filter.as_ref(), &org.app_docs[i], CaseRule::Sensitive))
        .filter(|&i| {
            q.is_none_or(|q| starts_with_ci(&apps[i].name, q) || starts_with_ci(&apps[i].label, q))
        })
        .collect();
    paged(url, LimitRule::new(20, 200), &selected, |&i| {
        apps[i].to_json(&url.base)
    })
}

fn app_index(state: &AppState, id: &str) -> Result<usize, ApiError> {
    state
        .org()
        .find_app(id)
        .ok_or_else(|| not_found(id, "AppInstance"))
}

/// `GET /api/v1/apps/{id}`.
pub async fn get(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = app_index(&state, ids.get(0))?;
    Ok(object_response(
        state.org().dataset.apps[index].to_json(&request.url.base),
    ))
}

/// `GET /api/v1/apps/{id}/users`: every assigned user (directly or through a group).
pub async fn users(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = app_index(&state, ids.get(0))?;
    let org = state.org();
    let d = &org.dataset;
    let q = request.url.non_empty_param("q");
    let selected: Vec<_> = org.app_assignments[index]
        .iter()
        .filter(|(u, _)| {
            q.is_none_or(|q| {
                let p = &d.users[*u].profile;
                [&p.login, &p.first_name, &p.last_name, &p.email]
                    .iter()
                    .any(|value| starts_with_ci(value, q))
            })
        })
        .copied()
        .collect();
    paged(
        &request.url,
        LimitRule::new(50, 500),
        &selected,
        |&(u, scope)| {
            app_user_json(
                &d.apps[index],
                &d.users[u],
                scope,
                &d.groups,
                &request.url.base,
            )
        },
    )
}

/// `GET /api/v1/apps/{id}/groups`: assigned groups in priority order; with `expand=group` each
/// carries its group in `_embedded.group` (other `expand` values embed nothing).
pub async fn groups(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = app_index(&state, ids.get(0))?;
    let org = state.org();
    let d = &org.dataset;
    let q = request.url.non_empty_param("q");
    let selected: Vec<(usize, usize)> = org.app_groups[index]
        .iter()
        .enumerate()
        .filter(|(_, g)| q.is_none_or(|q| starts_with_ci(&d.groups[**g].name, q)))
        .map(|(priority, g)| (priority, *g))
        .collect();
    let base = &request.url.base;
    let expand_group = request.url.param("expand") == Some("group");
    paged(&request.url, GROUPS_LIMIT, &selected, |&(priority, g)| {
        let mut assignment = app_group_json(&d.apps[index], &d.groups[g], priority, base);
        if expand_group {
            assignment["_embedded"] = json!({ "group": d.groups[g].to_json(base) });
        }
        assignment
    })
}
