//! `/api/v1/policies` (the `type` parameter is required), one policy, its rules and one rule.
//! Rules come on one page: Okta's spec declares a `limit` for them but no `after`.

use super::request::{
    ApiRequest, PathIds, list_response, not_found, object_response, paged, starts_with_ci,
};
use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::LimitRule;
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::response::Response;

/// Policy types Okta accepts in `type`: its spec's `PolicyType` (the fake has policies for some).
const POLICY_TYPES: &[&str] = &[
    "OKTA_SIGN_ON",
    "PASSWORD",
    "MFA_ENROLL",
    "IDP_DISCOVERY",
    "ACCESS_POLICY",
    "PROFILE_ENROLLMENT",
    "POST_AUTH_SESSION",
    "ENTITY_RISK",
    "DEVICE_SIGNAL_COLLECTION",
    "SESSION_VIOLATION_DETECTION",
    "CLIENT_UPDATE",
    "IDENTITY_CLAIM_SOURCING",
];

/// A policy's rules: all of them unless `limit` asks for fewer (none past 200); no cursor.
const RULES_LIMIT: LimitRule = LimitRule {
    default: None,
    max: 200,
    min: 1,
};

/// `GET /api/v1/policies?type=…`.
pub async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let url = &request.url;
    let policy_type = match url.non_empty_param("type") {
        Some(t) if POLICY_TYPES.contains(&t) => t,
        Some(_) | None => {
            return Err(ApiError::invalid_param(
                "type",
                format!("is required and must be one of {}", POLICY_TYPES.join(", ")),
            ));
        }
    };
    let status = match url.non_empty_param("status") {
        None => None,
        Some(s @ ("ACTIVE" | "INACTIVE")) => Some(s),
        Some(_) => {
            return Err(ApiError::invalid_param(
                "status",
                "must be ACTIVE or INACTIVE",
            ));
        }
    };
    let q = url.non_empty_param("q");
    let policies = &state.org().dataset.policies;
    let mut selected: Vec<usize> = (0..policies.len())
        .filter(|&i| policies[i].policy_type == policy_type)
        .filter(|&i| status.is_none_or(|s| policies[i].status == s))
        .filter(|&i| q.is_none_or(|q| starts_with_ci(&policies[i].name, q)))
        .collect();
    if url.non_empty_param("sortBy") == Some("name") {
        selected.sort_by(|&a, &b| policies[a].name.cmp(&policies[b].name));
    }
    paged(url, LimitRule::new(20, 200), &selected, |&i| {
        policies[i].to_json(&url.base)
    })
}

fn policy_index(state: &AppState, id: &str) -> Result<usize, ApiError> {
    state
        .org()
        .find_policy(id)
        .ok_or_else(|| not_found(id, "Policy"))
}

/// `GET /api/v1/policies/{id}`.
pub async fn get(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = policy_index(&state, ids.get(0))?;
    Ok(object_response(
        state.org().dataset.policies[index].to_json(&request.url.base),
    ))
}

/// `GET /api/v1/policies/{id}/rules`: rules in priority order, one page.
pub async fn rules(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = policy_index(&state, ids.get(0))?;
    let policy = &state.org().dataset.policies[index];
    let limit = RULES_LIMIT.resolve(request.url.param("limit"))?;
    let items = policy
        .rules
        .iter()
        .take(limit)
        .map(|rule| rule.to_json(&policy.id, &request.url.base))
        .collect();
    Ok(list_response(&request.url, items, None, limit))
}

/// `GET /api/v1/policies/{id}/rules/{ruleId}`.
pub async fn rule(
    State(state): State<AppState>,
    request: ApiRequest,
    ids: PathIds,
) -> Result<Response, ApiError> {
    let index = policy_index(&state, ids.get(0))?;
    let policy = &state.org().dataset.policies[index];
    let rule_id = ids.get(1);
    let rule = policy
        .rules
        .iter()
        .find(|r| r.id == rule_id)
        .ok_or_else(|| not_found(rule_id, "PolicyRule"))?;
    Ok(object_response(rule.to_json(&policy.id, &request.url.base)))
}
