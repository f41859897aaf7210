//! What the Okta client reads from Okta's answers, reachable from the property tests
//! (`tool-server/tests/properties.rs`) and the fuzz targets (`fuzz/`). Not an API: each function
//! only forwards to the code the client runs.

use std::time::Duration;

use chrono::DateTime;
use reqwest::header::{DATE, HeaderMap, HeaderName, HeaderValue, LINK, RETRY_AFTER};

use super::OktaError;
use super::pagination;
use super::retry;

/// The entries of one `Link` header value: each target with its relations (lower case).
pub fn parse_link_header(value: &str) -> Vec<(String, Vec<String>)> {
    pagination::parse_link_header(value)
        .into_iter()
        .map(|link| (link.target, link.rels))
        .collect()
}

/// The `rel="next"` target among several `Link` header values (values that are not valid
/// header bytes are left out, as the HTTP client would never hand them over).
pub fn next_link(values: &[&[u8]]) -> Option<String> {
    let mut headers = HeaderMap::new();
    for value in values {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(LINK, value);
        }
    }
    pagination::next_link(&headers)
}

/// The error a tool reports for an Okta answer with `status` and `body`.
pub fn error_from_response(status: u16, body: &[u8]) -> OktaError {
    OktaError::from_response(status, body)
}

/// How long a 429 with these `X-Rate-Limit-Reset`, `Date` and `Retry-After` values makes the
/// client wait, with our clock at `now` (unix seconds).
pub fn rate_limit_wait(
    reset: Option<&[u8]>,
    date: Option<&[u8]>,
    retry_after: Option<&[u8]>,
    now: i64,
) -> Duration {
    let mut headers = HeaderMap::new();
    let names = [
        HeaderName::from_static("x-rate-limit-reset"),
        DATE,
        RETRY_AFTER,
    ];
    for (name, value) in names.into_iter().zip([reset, date, retry_after]) {
        if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(name, value);
        }
    }
    let now = DateTime::from_timestamp(now, 0).unwrap_or_default();
    retry::rate_limit_wait(&headers, now)
}

/// Okta's answer parsed keeping only `paths` (dotted), as a list tool parses it.
pub fn parse_projected(
    body: &[u8],
    paths: &[&str],
) -> Result<serde_json::Value, super::projection::ParseError> {
    super::projection::parse(body, &super::projection::Fields::of(paths.iter().copied()))
}
