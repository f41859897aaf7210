//! The front door of `/api/v1`: every request passes here before and after its handler.
//!
//! Order matters and mirrors what a client of Okta observes: the request is counted (stats,
//! in-flight), delayed by any injected latency, then checked for the `SSWS` token (a 401 spends
//! no budget and consumes no injected fault), then injected faults and the family's rate-limit
//! budget decide whether the handler runs. Whatever the outcome, the response carries `Date`,
//! `X-Rate-Limit-*` and `X-Okta-Request-Id` headers, because clients time their retries by them.

use crate::fake_okta::error::{ApiError, random_token};
use crate::fake_okta::state::AppState;
use crate::fake_okta::traffic::{Budget, Family, Verdict};
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest injected latency honoured, so a typo cannot hang a test run.
const MAX_LATENCY_MS: u64 = 60_000;

/// Whether `headers` carry `Authorization: SSWS <token>` (scheme case-insensitive).
pub fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, presented)) = value.trim().split_once(' ') else {
        return false;
    };
    let presented = presented.trim().as_bytes();
    scheme.eq_ignore_ascii_case("SSWS")
        && !token.is_empty()
        && presented.len() == token.len()
        // Compare every byte so the time taken does not reveal the matching prefix.
        && presented
            .iter()
            .zip(token.as_bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// An `SSWS` API token, or a service app's DPoP-bound token with the endpoint's scope; `Err` is
/// Okta's answer (401, or 403 for a missing scope).
fn access(state: &AppState, request: &Request) -> Result<(), Box<Response>> {
    let headers = request.headers();
    if authorized(headers, &state.api_token) {
        return Ok(());
    }
    let dpop = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("dpop "));
    if !dpop || state.service_app.is_none() {
        return Err(Box::new(ApiError::InvalidToken.into_response()));
    }
    let full = full_path(request);
    let api_path = full.strip_prefix("/api/v1").unwrap_or(&full);
    crate::fake_okta::service_app::check_resource(state, headers, request.method(), &full, api_path)
}

fn epoch_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn set_header(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// Middleware for every `/api/v1` route (and the unknown-endpoint fallback).
pub async fn gate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |m| m.as_str().to_owned());
    let family = Family::of_path(&full_path(&request));
    let traffic = &state.traffic;
    let _in_flight = traffic.begin(&route);

    let latency = traffic.latency_ms().min(MAX_LATENCY_MS);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }

    let now = SystemTime::now();
    let seconds = epoch_seconds(now);
    let (mut response, budget): (Response, Budget) = if let Err(refused) = access(&state, &request)
    {
        (*refused, traffic.peek(family, seconds))
    } else {
        match traffic.admit(family, seconds) {
            Verdict::Serve(budget) => (next.run(request).await, budget),
            Verdict::RateLimited(budget) => (ApiError::RateLimited.into_response(), budget),
            Verdict::Unavailable(budget) => (ApiError::Unavailable.into_response(), budget),
        }
    };
    traffic.record_status(response.status().as_u16());

    set_header(
        &mut response,
        "x-rate-limit-limit",
        budget.limit.to_string(),
    );
    set_header(
        &mut response,
        "x-rate-limit-remaining",
        budget.remaining.to_string(),
    );
    set_header(
        &mut response,
        "x-rate-limit-reset",
        budget.reset.to_string(),
    );
    set_header(&mut response, "x-okta-request-id", random_token("", 27));
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        response.headers_mut().insert(header::DATE, date);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    response
}

/// Answer for a method other than GET on a served path.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The request path including any prefix a nesting router removed.
fn full_path(request: &Request) -> String {
    request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |original| original.0.path())
        .to_owned()
}

/// Answer for a path under `/api/v1` that the fake does not serve.
pub async fn unknown_endpoint(request: Request) -> ApiError {
    ApiError::UnknownEndpoint {
        path: super::request::truncate(&full_path(&request)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.insert(header::AUTHORIZATION, v);
        }
        headers
    }

    #[test]
    fn ssws_token_required() {
        assert!(authorized(&headers(b"SSWS secret"), "secret"));
        assert!(authorized(&headers(b"ssws   secret "), "secret"));
        assert!(!authorized(&headers(b"Bearer secret"), "secret"));
        assert!(!authorized(&headers(b"SSWS secrets"), "secret"));
        assert!(!authorized(&headers(b"SSWS secreT"), "secret"));
        assert!(!authorized(&headers(b"SSWS"), "secret"));
        assert!(!authorized(&headers(b"secret"), "secret"));
        assert!(!authorized(&headers(b"SSWS \xff\xfe"), "secret"));
        assert!(!authorized(&HeaderMap::new(), "secret"));
        assert!(!authorized(&headers(b"SSWS "), ""));
    }
}
