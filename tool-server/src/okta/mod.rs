//! The one Okta Management API client.
//!
//! Every Okta request of the tool server goes through [`OktaClient`], so the rules live in one
//! place: the `Authorization` (an `SSWS` API token or a service app's DPoP-bound access token,
//! from `okta_mcp_common::okta_auth`, which the proxy shares), a semaphore that bounds requests
//! in flight (`OKTA_CONCURRENT_LIMIT`), a timeout per request, retries (429 waits for Okta's reset time,
//! 5xx and lost connections back off), Link-header pagination that never follows a link off the
//! org, and per-tool-call counters for the audit line. Writes ([`OktaClient::write`]) are
//! retried only when Okta cannot have processed them (`retry::write_may_retry`). Results stay `serde_json::Value`, so a
//! field or enum value Okta adds tomorrow never breaks a tool.

mod error;
#[doc(hidden)]
pub mod fuzzing;
mod pagination;
mod path;
pub(crate) mod projection;
mod retry;
#[cfg(test)]
mod tests;

use bytes::Bytes;
use std::fmt;
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use crate::metrics::{METRICS, okta_endpoint};
use crate::traces;
use tracing::Instrument;

pub use error::OktaError;
use okta_mcp_common::okta_auth::{self, describe};
pub use okta_mcp_common::okta_auth::{OktaCredentials, ServiceAppSettings, jose};
pub use pagination::{Page, after_cursor};
pub use path::ApiPath;

/// Default for `OKTA_CONCURRENT_LIMIT`: Okta's default concurrency allowance per org.
pub const DEFAULT_CONCURRENT_LIMIT: usize = 15;
/// Default timeout of one HTTP request to Okta.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default number of retries after a 429, a 5xx or a lost connection.
pub const DEFAULT_MAX_RETRIES: u32 = 4;

/// Per-tool-call counters the audit line reads.
#[derive(Default, Debug)]
pub struct CallStats {
    /// HTTP attempts made to Okta, retries included.
    pub calls: AtomicU32,
    /// Status of the last attempt (0 when it got no HTTP answer).
    pub last_status: AtomicU16,
    /// Okta's `X-Okta-Request-Id` of the last answer, which Okta support can look up.
    pub last_request_id: Mutex<Option<String>>,
}

impl CallStats {
    /// The request id of the last answer, if it had one.
    pub fn request_id(&self) -> Option<String> {
        self.last_request_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Okta's id of one request, echoed in its answer.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-okta-request-id");

/// An HTTP method that changes something at Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMethod {
    Post,
    Put,
    Delete,
}

impl WriteMethod {
    fn method(self) -> Method {
        match self {
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Delete => Method::DELETE,
        }
    }
}

/// Okta's answer to a write that succeeded.
#[derive(Debug, Clone)]
pub struct Written {
    /// The HTTP status (200 or 204).
    pub status: u16,
    /// The JSON body, when there was one (`_links` removed).
    pub body: Option<Value>,
    /// Okta's `X-Okta-Request-Id`.
    pub request_id: Option<String>,
}

tokio::task_local! {
    /// The counters of the tool call running on this task, when the server set them.
    pub static CALL_STATS: Arc<CallStats>;
}

/// How to reach and treat the Okta org.
#[derive(Clone)]
pub struct OktaConfig {
    /// The org, e.g. `https://example.okta.com` (`OKTA_ORG_URL`).
    pub org_url: Url,
    /// How to authenticate: an API token or a service app. Never logged.
    pub credentials: OktaCredentials,
    /// Requests in flight at once (`OKTA_CONCURRENT_LIMIT`).
    pub concurrent_limit: usize,
    /// Timeout of one HTTP request, body included.
    pub request_timeout: Duration,
    /// Retries after a 429, a 5xx or a lost connection.
    pub max_retries: u32,
}

impl OktaConfig {
    /// A configuration with an API token and the default limits.
    pub fn new(org_url: Url, api_token: impl Into<String>) -> Self {
        Self {
            org_url,
            credentials: OktaCredentials::ApiToken(api_token.into()),
            concurrent_limit: DEFAULT_CONCURRENT_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

impl fmt::Debug for OktaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OktaConfig")
            .field("org_url", &self.org_url.as_str())
            .field("credentials", &self.credentials)
            .field("concurrent_limit", &self.concurrent_limit)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// The Okta Management API client: one connection pool, one concurrency limit.
pub struct OktaClient {
    http: reqwest::Client,
    authorizer: okta_auth::Authorizer,
    org_url: Url,
    limiter: Semaphore,
    request_timeout: Duration,
    max_retries: u32,
}

impl fmt::Debug for OktaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OktaClient")
            .field("org_url", &self.org_url.as_str())
            .field("available_permits", &self.limiter.available_permits())
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// A 2xx answer, body read.
struct Answer {
    headers: HeaderMap,
    body: Bytes,
}

impl OktaClient {
    /// Builds the client; refuses an org URL that is not plain `http(s)://host[:port][/prefix]`,
    /// an empty or unprintable token, and a concurrency limit of 0.
    pub fn new(config: OktaConfig) -> Result<Self, OktaError> {
        let org_url = okta_auth::org_url(&config.org_url)?;
        let authorizer = okta_auth::Authorizer::new(config.credentials, &org_url)?;
        if config.concurrent_limit == 0 {
            return Err(OktaError::Config(
                "OKTA_CONCURRENT_LIMIT must be at least 1".into(),
            ));
        }
        let http = okta_auth::http_client(
            config.request_timeout,
            config.request_timeout.min(Duration::from_secs(10)),
        )?;
        Ok(Self {
            http,
            authorizer,
            org_url,
            limiter: Semaphore::new(config.concurrent_limit),
            request_timeout: config.request_timeout,
            max_retries: config.max_retries,
        })
    }

    /// The org this client talks to.
    pub fn org_url(&self) -> &Url {
        &self.org_url
    }

    /// `GET /api/v1/{path}?{query}`: one JSON document (an object for the `get_*` endpoints).
    pub async fn get(&self, path: &ApiPath, query: &[(&str, String)]) -> Result<Value, OktaError> {
        let url = self.url(path, query);
        let answer = self.send(&url, None).await?;
        parse_json(&answer.body, &url)
    }

    /// `POST`, `PUT` or `DELETE /api/v1/{path}?{query}` without a body. Sent again only when Okta
    /// cannot have processed it: after a 429 that says when the limit resets, or when no
    /// connection could be opened. Never after a 5xx or a timeout, when the change may be made.
    pub async fn write(
        &self,
        method: WriteMethod,
        path: &ApiPath,
        query: &[(&str, String)],
    ) -> Result<Written, OktaError> {
        let url = self.url(path, query);
        let mut retries = 0;
        let mut renewed = false;
        loop {
            let started = Instant::now();
            let attempt = self.attempt(method.method(), &url, None).await?;
            let status = attempt.as_ref().map_or(0, |(status, _, _)| status.as_u16());
            record_attempt(status, attempt.as_ref().ok().map(|(_, h, _)| h));
            tracing::debug!(
                method = method.method().as_str(),
                path = url.path(),
                status,
                duration_ms = started.elapsed().as_millis() as u64,
                retry = retries,
                "okta request"
            );
            // A refused token means Okta did not process the write: safe to send again.
            if self.renew_token(&attempt, &mut renewed).await {
                continue;
            }
            missing_scope(&attempt)?;
            let exhausted = retries >= self.max_retries;
            let (status, headers, body) = match attempt {
                Ok(answer) => answer,
                Err(err) if err.is_builder() => return Err(OktaError::Transport(describe(&err))),
                Err(err) if err.is_timeout() => {
                    return Err(OktaError::Timeout {
                        after: self.request_timeout,
                    });
                }
                Err(err) => {
                    if exhausted
                        || retry::write_may_retry(None, None, err.is_connect())
                            != retry::WriteRetry::AfterBackoff
                    {
                        return Err(OktaError::Transport(describe(&err)));
                    }
                    tokio::time::sleep(retry::backoff(retries) + retry::jitter(100)).await;
                    retries += 1;
                    continue;
                }
            };
            if status.is_success() {
                let body = if body.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    Some(parse_json(&body, &url)?)
                };
                return Ok(Written {
                    status: status.as_u16(),
                    body,
                    request_id: request_id(&headers),
                });
            }
            let again = retry::write_may_retry(Some(status.as_u16()), Some(&headers), false);
            if status == StatusCode::TOO_MANY_REQUESTS
                && (exhausted || again != retry::WriteRetry::AfterReset)
            {
                let parsed = error::OktaErrorBody::parse(&body);
                return Err(OktaError::RateLimited {
                    error_code: parsed.code,
                    error_summary: parsed.summary.unwrap_or_else(|| "too many requests".into()),
                    retries,
                    reset_in: retry::rate_limit_wait(&headers, Utc::now()),
                });
            }
            if again != retry::WriteRetry::AfterReset {
                return Err(OktaError::from_response(status.as_u16(), &body));
            }
            let wait = retry::rate_limit_wait(&headers, Utc::now()) + retry::jitter(250);
            METRICS.rate_limit_wait(wait);
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// Lists up to `limit` items of a collection, following `next` links.
    ///
    /// With `page_size` (the endpoint's largest page), each request asks for
    /// `min(page_size, still wanted)`, so N items cost ⌈N / page_size⌉ requests and the
    /// returned cursor resumes exactly after the last item returned. `None` is for endpoints
    /// without paging: nothing is sent and the answer is cut at `limit`. Put a caller's
    /// `after` cursor in `query`.
    ///
    /// Only `fields` of each item are parsed (see [`projection`]); the rest of Okta's answer is
    /// checked as JSON and skipped.
    pub async fn list(
        &self,
        path: &ApiPath,
        query: &[(&str, String)],
        limit: usize,
        page_size: Option<usize>,
        fields: &projection::Fields,
    ) -> Result<Page, OktaError> {
        let mut page = Page {
            types_checked: fields.checks_types(),
            ..Page::default()
        };
        if limit == 0 {
            return Ok(page);
        }
        let mut url = self.url(path, query);
        let media_type = users_media_type(path, fields);
        loop {
            let wanted = limit - page.items.len();
            url = pagination::with_limit(&url, page_size.map(|size| size.min(wanted)));
            let answer = self.send(&url, media_type).await?;
            let items = match parse_projected(&answer.body, &url, fields)? {
                Value::Array(items) => items,
                other => {
                    return Err(OktaError::BadResponse(format!(
                        "expected a JSON array from {}, got {}",
                        url.path(),
                        json_kind(&other)
                    )));
                }
            };
            let received = items.len();
            page.items.extend(items);
            if page.items.len() > limit {
                page.items.truncate(limit);
                page.truncated = true;
                return Ok(page);
            }
            let Some(next) = self.next_url(&answer.headers, &url) else {
                return Ok(page);
            };
            // An empty page with a next link would loop forever; hand the cursor back instead.
            if page.items.len() == limit || received == 0 {
                page.next_after = after_cursor(&next);
                return Ok(page);
            }
            url = next;
        }
    }

    fn url(&self, path: &ApiPath, query: &[(&str, String)]) -> Url {
        let mut url = self.org_url.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}/api/v1/{}", path.as_str()));
        let mut pairs = url.query_pairs_mut();
        for (key, value) in query {
            pairs.append_pair(key, value);
        }
        // Without `until` the System Log is a poll whose `next` link never ends.
        if path.as_str() == "logs" && !query.iter().any(|(key, _)| *key == "until") {
            let now = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
            pairs.append_pair("until", &now);
        }
        drop(pairs);
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// The `rel="next"` link of an answer, only when it stays on the org's API.
    fn next_url(&self, headers: &HeaderMap, current: &Url) -> Option<Url> {
        let raw = pagination::next_link(headers)?;
        let next = current.join(&raw).ok()?;
        let api_prefix = format!("{}/api/v1/", self.org_url.path().trim_end_matches('/'));
        if pagination::same_origin(&self.org_url, &next) && next.path().starts_with(&api_prefix) {
            Some(next)
        } else {
            tracing::warn!(
                path = current.path(),
                "ignoring a next link that leaves the Okta org's API"
            );
            None
        }
    }

    /// One GET with the retry rules; the permit is held per attempt, never across a wait.
    /// `media_type` is sent as `Content-Type` (see [`users_media_type`]).
    async fn send(&self, url: &Url, media_type: Option<&'static str>) -> Result<Answer, OktaError> {
        let mut retries = 0;
        let mut renewed = false;
        loop {
            let started = Instant::now();
            let attempt = self.attempt(Method::GET, url, media_type).await?;
            let status = attempt.as_ref().map_or(0, |(status, _, _)| status.as_u16());
            record_attempt(status, attempt.as_ref().ok().map(|(_, h, _)| h));
            tracing::debug!(
                method = "GET",
                path = url.path(),
                status,
                duration_ms = started.elapsed().as_millis() as u64,
                retry = retries,
                "okta request"
            );
            if self.renew_token(&attempt, &mut renewed).await {
                continue;
            }
            missing_scope(&attempt)?;
            let exhausted = retries >= self.max_retries;
            let wait = match attempt {
                Ok((status, headers, body)) if status.is_success() => {
                    return Ok(Answer { headers, body });
                }
                Ok((StatusCode::TOO_MANY_REQUESTS, headers, body)) => {
                    let wait = retry::rate_limit_wait(&headers, Utc::now());
                    if exhausted {
                        let parsed = error::OktaErrorBody::parse(&body);
                        return Err(OktaError::RateLimited {
                            error_code: parsed.code,
                            error_summary: parsed
                                .summary
                                .unwrap_or_else(|| "too many requests".into()),
                            retries,
                            reset_in: wait,
                        });
                    }
                    let wait = wait + retry::jitter(250);
                    METRICS.rate_limit_wait(wait);
                    wait
                }
                // Every request here is a GET, so a server error is safe to repeat.
                Ok((status, _, _)) if status.is_server_error() && !exhausted => {
                    retry::backoff(retries) + retry::jitter(100)
                }
                Ok((status, _, body)) => {
                    return Err(OktaError::from_response(status.as_u16(), &body));
                }
                // A request we could not even build will not build on a retry either.
                Err(err) if err.is_builder() => return Err(OktaError::Transport(describe(&err))),
                Err(err) if err.is_timeout() => {
                    return Err(OktaError::Timeout {
                        after: self.request_timeout,
                    });
                }
                Err(err) if exhausted => return Err(OktaError::Transport(describe(&err))),
                Err(_) => retry::backoff(retries) + retry::jitter(100),
            };
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }

    /// A 401 to a service app's token: try once more, with the nonce the API asked for or
    /// with a new token (Okta may end a token before its `expires_in`, e.g. when the app's keys
    /// change).
    async fn renew_token(&self, attempt: &Attempt, renewed: &mut bool) -> bool {
        let Ok((StatusCode::UNAUTHORIZED, headers, _)) = attempt else {
            return false;
        };
        if !*renewed && self.authorizer.refused(headers).await {
            *renewed = true;
            return true;
        }
        false
    }

    /// One HTTP attempt; `Err` only when no authorization could be had (a service app's token
    /// request failed), the inner result is the HTTP exchange.
    async fn attempt(
        &self,
        method: Method,
        url: &Url,
        media_type: Option<&'static str>,
    ) -> Result<Attempt, OktaError> {
        let auth = self.authorizer.headers(&self.http, &method, url).await?;
        // The semaphore lives as long as the client and is never closed.
        let _permit = self.limiter.acquire().await.ok();
        let started = Instant::now();
        let method_name = method.clone();
        let span = traces::okta_request(method_name.as_str(), &okta_endpoint(url.path()));
        let attempt = async {
            let mut request = self.http.request(method, url.clone());
            for (name, value) in auth {
                request = request.header(name, value);
            }
            if let Some(media_type) = media_type {
                request = request.header(CONTENT_TYPE, media_type);
            }
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            // Kept as received: a page is ~380 KB, and a copy of it was 2% of a listing.
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .instrument(span.clone())
        .await;
        let status = attempt.as_ref().map_or(0, |(status, _, _)| status.as_u16());
        span.record("http.response.status_code", status);
        METRICS.okta_request(method_name.as_str(), url.path(), status, started.elapsed());
        Ok(attempt)
    }
}

/// What listUsers is asked to leave out (Okta's `okta-response` media-type parameter of
/// `Content-Type`, declared for listUsers and getUser): the credential links always (a tool
/// never keeps `_links`), and the `credentials` object and `transitioningToStatus` unless the
/// caller's `fields` keep them. Okta applies its own "performance optimization" only when all
/// three are asked for; the page is smaller either way.
fn users_media_type(path: &ApiPath, fields: &projection::Fields) -> Option<&'static str> {
    if path.as_str() != "users" {
        return None;
    }
    Some(
        match (
            fields.keeps("credentials"),
            fields.keeps("transitioningToStatus"),
        ) {
            (false, false) => {
                "application/json; okta-response=\"omitCredentials,omitCredentialsLinks,omitTransitioningToStatus\""
            }
            (false, true) => {
                "application/json; okta-response=\"omitCredentials,omitCredentialsLinks\""
            }
            (true, false) => {
                "application/json; okta-response=\"omitCredentialsLinks,omitTransitioningToStatus\""
            }
            (true, true) => "application/json; okta-response=omitCredentialsLinks",
        },
    )
}

/// The outcome of one HTTP exchange with Okta.
type Attempt = Result<(StatusCode, HeaderMap, Bytes), reqwest::Error>;

/// Okta's 403 for a service app token without the scope an endpoint needs, as an error that
/// names the scope.
fn missing_scope(attempt: &Attempt) -> Result<(), OktaError> {
    let Ok((StatusCode::FORBIDDEN, headers, body)) = attempt else {
        return Ok(());
    };
    let Some(scope) = headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(okta_auth::insufficient_scope)
    else {
        return Ok(());
    };
    let parsed = error::OktaErrorBody::parse(body);
    Err(OktaError::MissingScope {
        scope: scope.chars().take(100).collect(),
        error_code: parsed.code,
    })
}

fn record_attempt(status: u16, headers: Option<&HeaderMap>) {
    let _ = CALL_STATS.try_with(|stats| {
        stats.calls.fetch_add(1, Ordering::Relaxed);
        stats.last_status.store(status, Ordering::Relaxed);
        *stats
            .last_request_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = headers.and_then(request_id);
    });
}

/// Okta's `X-Okta-Request-Id`, when it is a plausible one (printable, at most 100 bytes): it is
/// written to the audit log.
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|id| {
            !id.is_empty()
                && id.len() <= 100
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
}

/// Okta's answer, without `_links` (and `_embedded`, unless the request asked to `expand`).
fn parse_json(body: &[u8], url: &Url) -> Result<Value, OktaError> {
    let expands = url.query_pairs().any(|(key, _)| key == "expand");
    projection::parse_whole(body, expands)
        .map_err(|e| OktaError::BadResponse(format!("invalid JSON from {}: {e}", url.path())))
}

/// Okta's answer with only `fields` of each item.
fn parse_projected(
    body: &[u8],
    url: &Url,
    fields: &projection::Fields,
) -> Result<Value, OktaError> {
    projection::parse(body, fields)
        .map_err(|e| OktaError::BadResponse(format!("invalid JSON from {}: {e}", url.path())))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
