//! What every Management API handler needs from a request, extracted without ever failing on odd
//! input (bad UTF-8, repeated parameters, strange hosts), and the shared ways to answer.

use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::{Cursor, LimitRule, Page, RequestUrl};
use crate::fake_okta::scim::{self, CaseRule, Filter};
use crate::fake_okta::state::AppState;
use crate::fake_okta::traffic::SeenRequest;
use axum::Json;
use axum::extract::{FromRequestParts, MatchedPath, OriginalUri, Path};
use axum::http::header::{HeaderValue, LINK};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use url::form_urlencoded;

/// The absolute request URL with decoded query parameters. Extracting it also records the
/// request in `/__fake/stats` (every handler extracts it first).
#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub url: RequestUrl,
    /// The values of the `okta-response` parameter of `Content-Type` (Okta's users API reads
    /// it on GET: `application/json; okta-response="omitCredentials,omitCredentialsLinks"`).
    pub okta_response: Vec<String>,
}

/// The comma-separated values of the `okta-response` parameter of a `Content-Type` value
/// (quoted or not; parameter names are case-insensitive, as in every media type).
pub fn okta_response_values(content_type: &str) -> Vec<String> {
    content_type
        .split(';')
        .skip(1)
        .filter_map(|parameter| parameter.split_once('='))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("okta-response"))
        .flat_map(|(_, value)| {
            value
                .trim()
                .trim_matches('"')
                .split(',')
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn usable_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

impl FromRequestParts<AppState> for ApiRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| usable_host(h))
            .unwrap_or(&state.authority);
        // Inside the nested `/api/v1` router the URI has lost its prefix; links need all of it.
        let uri = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.clone(), |original| original.0.clone());
        let query: Vec<(String, String)> = uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        state.traffic.record_request(SeenRequest {
            method: parts.method.to_string(),
            route: parts
                .extensions
                .get::<MatchedPath>()
                .map_or_else(|| "(unmatched)".to_owned(), |m| m.as_str().to_owned()),
            path: uri.path().to_owned(),
            query: query.clone(),
        });
        let okta_response = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(okta_response_values)
            .unwrap_or_default();
        Ok(Self {
            okta_response,
            url: RequestUrl {
                base: format!("http://{host}"),
                path: uri.path().to_owned(),
                query,
            },
        })
    }
}

/// Path parameters (`{id}`, `{ruleId}`) in route order; an undecodable path is a 404, as in Okta.
#[derive(Debug, Clone)]
pub struct PathIds(pub Vec<String>);

impl FromRequestParts<AppState> for PathIds {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Path::<Vec<String>>::from_request_parts(parts, state).await {
            Ok(Path(ids)) => Ok(Self(ids)),
            Err(_) => Err(ApiError::UnknownEndpoint {
                path: truncate(original_path(parts)),
            }),
        }
    }
}

impl PathIds {
    /// The `n`-th path parameter (empty when absent).
    pub fn get(&self, n: usize) -> &str {
        self.0.get(n).map_or("", String::as_str)
    }
}

/// The full request path, as the client sent it (before any router nesting stripped a prefix).
pub fn original_path(parts: &Parts) -> &str {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path(), |original| original.0.path())
}

/// Caps echoed input so a huge id cannot blow up an error body.
pub fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

/// A "not found" for object `kind` with the id as the client sent it.
pub fn not_found(id: &str, kind: &'static str) -> ApiError {
    ApiError::NotFound {
        id: truncate(id),
        kind,
    }
}

/// Parses a `search` expression (no attribute restrictions).
pub fn parse_search(raw: Option<&str>) -> Result<Option<Filter>, ApiError> {
    raw.map(|expression| {
        Filter::parse(expression).map_err(|e| ApiError::InvalidSearch { cause: e.message })
    })
    .transpose()
}

/// Parses a `filter` expression that may only name `allowed` attributes (and, when `eq_only`,
/// only use `eq`), as Okta's per-endpoint filters do.
pub fn parse_filter(
    raw: Option<&str>,
    allowed: &[&str],
    eq_only: bool,
) -> Result<Option<Filter>, ApiError> {
    let Some(expression) = raw else {
        return Ok(None);
    };
    let filter = Filter::parse_restricted(expression, allowed)
        .map_err(|e| ApiError::InvalidSearch { cause: e.message })?;
    if eq_only && !filter.uses_only_eq() {
        return Err(ApiError::InvalidSearch {
            cause: "only the eq operator is supported in this filter".to_owned(),
        });
    }
    Ok(Some(filter))
}

/// Whether `doc` passes the optional filter.
pub fn passes(filter: Option<&Filter>, doc: &Value, case: CaseRule) -> bool {
    filter.is_none_or(|f| f.matches(doc, case))
}

/// Case-insensitive "starts with" used by every `q` parameter.
pub fn starts_with_ci(value: &str, prefix: &str) -> bool {
    value.to_lowercase().starts_with(&prefix.to_lowercase())
}

/// `sortOrder` for search queries: `asc` (default) or `desc`; `true` means descending.
pub fn descending(raw: Option<&str>) -> Result<bool, ApiError> {
    match raw.map(|s| s.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(s) if s.is_empty() || s == "asc" => Ok(false),
        Some(s) if s == "desc" => Ok(true),
        Some(_) => Err(ApiError::invalid_param("sortOrder", "must be asc or desc")),
    }
}

fn sort_key(doc: &Value, attribute: &str) -> Option<String> {
    scim::lookup(doc, attribute)
        .into_iter()
        .find_map(|v| match v {
            Value::String(s) => Some(s.to_ascii_lowercase()),
            Value::Number(n) => Some(format!("{:>30}", n.to_string())),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
}

/// Sorts `indexes` by `attribute` of their documents (missing values last, ties by `id`), as
/// Okta does for `search` with `sortBy`.
pub fn sort_by_attribute(indexes: &mut [usize], docs: &[Value], attribute: &str, descending: bool) {
    let id = |i: usize| docs[i]["id"].as_str().unwrap_or_default().to_owned();
    indexes.sort_by(|&a, &b| {
        let (ka, kb) = (sort_key(&docs[a], attribute), sort_key(&docs[b], attribute));
        let ordering = match (&ka, &kb) {
            (Some(x), Some(y)) if descending => y.cmp(x),
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        ordering.then_with(|| id(a).cmp(&id(b)))
    });
}

/// A JSON array response with Okta's `Link` headers.
pub fn list_response(
    url: &RequestUrl,
    items: Vec<Value>,
    next: Option<Cursor>,
    limit: usize,
) -> Response {
    let limit = (limit != usize::MAX).then_some(limit);
    let mut response = Json(Value::Array(items)).into_response();
    for link in url.link_headers(next, limit) {
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().append(LINK, value);
        }
    }
    response
}

/// Cuts one page of `indexes` per `limit`/`after` and renders it with `render`.
pub fn paged<T>(
    url: &RequestUrl,
    rule: LimitRule,
    items: &[T],
    render: impl Fn(&T) -> Value,
) -> Result<Response, ApiError> {
    let limit = rule.resolve(url.param("limit"))?;
    let page = Page::cut(items.len(), url.param("after"), limit)?;
    let rendered = items[page.start..page.end].iter().map(render).collect();
    Ok(list_response(url, rendered, page.next, limit))
}

/// A single-object response (no `Link` headers).
pub fn object_response(value: Value) -> Response {
    Json(value).into_response()
}
