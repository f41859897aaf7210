//! Who a user is at Okta now: status, email and group names, read from the Management API
//! (`GET /api/v1/users/{id}` and `/users/{id}/groups`).
//!
//! It authenticates exactly as the tool server does, with the shared
//! [`okta_auth::Authorizer`] (an API token, or a service app with DPoP), and follows Okta's
//! `Link` pagination with the shared parser. Since the answer decides what a user may do, a
//! partial answer is an error, never a shorter group list: a `next` link off the org, too many
//! pages or an oversized body fail the lookup.

use std::fmt;
use std::time::{Duration, Instant};

use okta_mcp_common::okta_auth::{self, AuthError, Authorizer, OktaCredentials, links};
use reqwest::header::{CONTENT_LENGTH, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use url::Url;

/// The scopes a service app needs here; the default for `OKTA_SCOPES` in the proxy.
pub const SCOPES: &[&str] = &["okta.users.read", "okta.groups.read"];

/// Pages of groups followed at most; a user in more groups is an error, not a partial list.
const MAX_PAGES: usize = 50;
/// The largest answer read from Okta.
const MAX_BODY: usize = 4 << 20;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Who a user is at Okta now, as the Management API says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// Okta's user id (`00u…`).
    pub id: String,
    /// Okta's status: `ACTIVE`, `DEPROVISIONED`, `SUSPENDED`, `LOCKED_OUT`, …
    pub status: String,
    /// `profile.email`, or `profile.login` when the profile has no email.
    pub email: String,
    /// The `profile.name` of every group the user is in.
    pub groups: Vec<String>,
}

/// Why a user could not be looked up; no message ever holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// 404 from Okta (E0000007): no such user. Also an id that cannot be an Okta id.
    #[error("no such user at Okta")]
    NotFound,
    /// Okta refused our credentials (401/403); the message names what to fix.
    #[error("{0}")]
    Refused(String),
    /// Network failure, timeout, 429 or 5xx; the message says which.
    #[error("{0}")]
    Unavailable(String),
    /// Okta's answer could not be read (not JSON, wrong shape, too big).
    #[error("unexpected answer from Okta: {0}")]
    BadAnswer(String),
}

/// Reads users from a directory; [`OktaDirectory`] in production.
#[async_trait::async_trait]
pub trait UserDirectory: Send + Sync {
    /// The user with Okta id `user_id`, with their groups.
    async fn user(&self, user_id: &str) -> Result<DirectoryUser, DirectoryError>;
}

/// The Okta org's Management API as a [`UserDirectory`].
pub struct OktaDirectory {
    http: reqwest::Client,
    authorizer: Authorizer,
    org_url: Url,
}

impl fmt::Debug for OktaDirectory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OktaDirectory")
            .field("org_url", &self.org_url.as_str())
            .finish_non_exhaustive()
    }
}

impl OktaDirectory {
    /// `org_url` is the Okta org URL (`OKTA_ORG_URL`); credentials as the tool server's (see
    /// `okta_auth::settings::okta_credentials`, with [`SCOPES`] as the default scopes).
    pub fn new(org_url: &Url, credentials: OktaCredentials) -> Result<Self, AuthError> {
        let org_url = okta_auth::org_url(org_url)?;
        let authorizer = Authorizer::new(credentials, &org_url)?;
        let http = okta_auth::http_client(REQUEST_TIMEOUT, CONNECT_TIMEOUT)?;
        Ok(Self {
            http,
            authorizer,
            org_url,
        })
    }

    /// `{org}/api/v1/users/{id}[/groups]`, the id percent-encoded as one segment.
    fn user_url(&self, id: &str, groups: bool) -> Url {
        let mut url = self.org_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().extend(["api", "v1", "users", id]);
            if groups {
                segments.push("groups");
            }
        }
        url
    }

    async fn read_user(&self, id: &str) -> Result<Value, DirectoryError> {
        let (_, body) = self.get(&self.user_url(id, false)).await?;
        parse(&body)
    }

    /// Every group name, following `next` links on the org's API only.
    async fn read_groups(&self, id: &str) -> Result<Vec<String>, DirectoryError> {
        let mut url = self.user_url(id, true);
        let api = format!("{}/api/v1/", self.org_url.path().trim_end_matches('/'));
        let mut names = Vec::new();
        for _ in 0..MAX_PAGES {
            let (headers, body) = self.get(&url).await?;
            names.extend(group_names(&parse(&body)?)?);
            let Some(next) = links::next_link(&headers) else {
                return Ok(names);
            };
            let next = url
                .join(&next)
                .map_err(|_| DirectoryError::BadAnswer("a next link that is not a URL".into()))?;
            if !links::same_origin(&self.org_url, &next) || !next.path().starts_with(&api) {
                return Err(DirectoryError::BadAnswer(
                    "a next link that leaves the Okta org's API".into(),
                ));
            }
            url = next;
        }
        Err(DirectoryError::BadAnswer(format!(
            "the user's groups run past {MAX_PAGES} pages; not following more"
        )))
    }

    /// One GET: the headers and body of a 2xx answer. A 401 to a service app's token is tried
    /// once more (with the nonce the API asked for, or a new token).
    async fn get(&self, url: &Url) -> Result<(HeaderMap, Vec<u8>), DirectoryError> {
        let mut renewed = false;
        loop {
            let started = Instant::now();
            let auth = self
                .authorizer
                .headers(&self.http, &Method::GET, url)
                .await
                .map_err(from_auth_error)?;
            let mut request = self.http.get(url.clone());
            for (name, value) in auth {
                request = request.header(name, value);
            }
            let response = request.send().await.map_err(from_transport)?;
            let status = response.status();
            let headers = response.headers().clone();
            tracing::debug!(
                path = url.path(),
                status = status.as_u16(),
                duration_ms = started.elapsed().as_millis() as u64,
                "okta directory request"
            );
            if status == StatusCode::UNAUTHORIZED
                && !renewed
                && self.authorizer.refused(&headers).await
            {
                renewed = true;
                continue;
            }
            let body = read_body(response).await?;
            if status.is_success() {
                return Ok((headers, body));
            }
            let api_token = matches!(self.authorizer, Authorizer::ApiToken(_));
            return Err(from_status(status, &headers, &body, api_token));
        }
    }
}

#[async_trait::async_trait]
impl UserDirectory for OktaDirectory {
    async fn user(&self, user_id: &str) -> Result<DirectoryUser, DirectoryError> {
        if !is_okta_id(user_id) {
            return Err(DirectoryError::NotFound);
        }
        let (user, groups) = tokio::try_join!(self.read_user(user_id), self.read_groups(user_id))?;
        directory_user(&user, groups)
    }
}

/// Whether `id` can be an Okta id (`00u…`: letters and digits): only such an id goes into a
/// URL path.
fn is_okta_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The user from Okta's user object and the group names.
fn directory_user(user: &Value, groups: Vec<String>) -> Result<DirectoryUser, DirectoryError> {
    let text = |value: &Value| value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let missing = |what: &str| DirectoryError::BadAnswer(format!("the user has no {what}"));
    Ok(DirectoryUser {
        id: text(&user["id"]).ok_or_else(|| missing("id"))?,
        status: text(&user["status"]).ok_or_else(|| missing("status"))?,
        email: text(&user["profile"]["email"])
            .or_else(|| text(&user["profile"]["login"]))
            .ok_or_else(|| missing("profile.email or profile.login"))?,
        groups,
    })
}

/// The `profile.name` of each group in a page.
fn group_names(page: &Value) -> Result<Vec<String>, DirectoryError> {
    let groups = page
        .as_array()
        .ok_or_else(|| DirectoryError::BadAnswer("the groups are not a JSON array".into()))?;
    groups
        .iter()
        .map(|group| {
            group["profile"]["name"]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| DirectoryError::BadAnswer("a group has no profile.name".into()))
        })
        .collect()
}

fn parse(body: &[u8]) -> Result<Value, DirectoryError> {
    serde_json::from_slice(body).map_err(|e| DirectoryError::BadAnswer(format!("not JSON: {e}")))
}

/// The body, read chunk by chunk up to [`MAX_BODY`].
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, DirectoryError> {
    let too_big = || DirectoryError::BadAnswer(format!("an answer over {MAX_BODY} bytes"));
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY) {
        return Err(too_big());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = response.chunk().await.map_err(from_transport)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_big());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn from_transport(err: reqwest::Error) -> DirectoryError {
    if err.is_timeout() {
        DirectoryError::Unavailable(format!(
            "Okta did not answer within {} s",
            REQUEST_TIMEOUT.as_secs()
        ))
    } else {
        DirectoryError::Unavailable(format!(
            "could not reach Okta: {}",
            okta_auth::describe(&err)
        ))
    }
}

/// A failed token request is a refusal when Okta answered it, else Okta is unavailable.
fn from_auth_error(err: AuthError) -> DirectoryError {
    match &err {
        AuthError::TokenRequest { status, .. }
            if *status == 0 || *status == 429 || *status >= 500 =>
        {
            DirectoryError::Unavailable(err.to_string())
        }
        AuthError::BadResponse(_) => DirectoryError::BadAnswer(err.to_string()),
        AuthError::TokenRequest { .. } | AuthError::Config(_) => {
            DirectoryError::Refused(err.to_string())
        }
    }
}

/// An error answer as the error a caller can act on.
fn from_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    api_token: bool,
) -> DirectoryError {
    let okta = okta_error(status, body);
    match status.as_u16() {
        404 => DirectoryError::NotFound,
        401 if api_token => DirectoryError::Refused(format!(
            "Okta refused the API token ({okta}); check OKTA_API_TOKEN"
        )),
        401 => DirectoryError::Refused(format!(
            "Okta refused the service app's access token ({okta}); check the key registered \
             for OKTA_SERVICE_CLIENT_ID"
        )),
        403 => match headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(okta_auth::insufficient_scope)
        {
            Some(scope) => DirectoryError::Refused(okta_auth::missing_scope_message(
                &scope.chars().take(100).collect::<String>(),
            )),
            None => DirectoryError::Refused(format!(
                "Okta refused the request ({okta}); the API token's admin or the service app \
                 needs an admin role that can read users and groups ({})",
                SCOPES.join(", ")
            )),
        },
        429 => DirectoryError::Unavailable(format!("Okta rate limit exceeded ({okta})")),
        500.. => DirectoryError::Unavailable(format!("Okta is unavailable ({okta})")),
        _ => DirectoryError::BadAnswer(okta),
    }
}

/// `HTTP 403, E0000006: You do not have permission…`: the status and Okta's error body, short.
fn okta_error(status: StatusCode, body: &[u8]) -> String {
    let parsed: Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |key: &str| -> Option<String> {
        parsed[key]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(200).collect())
    };
    let mut text = format!("HTTP {}", status.as_u16());
    match (field("errorCode"), field("errorSummary")) {
        (Some(code), Some(summary)) => text.push_str(&format!(", {code}: {summary}")),
        (Some(code), None) => text.push_str(&format!(", {code}")),
        (None, Some(summary)) => text.push_str(&format!(": {summary}")),
        (None, None) => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn status_error(status: u16, pairs: &[(&'static str, &str)], body: &str) -> DirectoryError {
        from_status(
            StatusCode::from_u16(status).unwrap(),
            &headers(pairs),
            body.as_bytes(),
            false,
        )
    }

    #[test]
    fn only_okta_shaped_ids_go_into_a_path() {
        assert!(is_okta_id("00u1abcDEF23"));
        for bad in [
            "",
            "../groups",
            "00u1/groups",
            "a%2Fb",
            "00u1?x=1",
            "alice@example.com",
            "00u 1",
            "ü",
            &"a".repeat(65),
        ] {
            assert!(!is_okta_id(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_bad_id_is_not_found_without_asking_okta() {
        // Port 9 (discard) on loopback: a request would fail as Unavailable, not NotFound.
        let org = Url::parse("http://127.0.0.1:9").unwrap();
        let directory = OktaDirectory::new(&org, OktaCredentials::ApiToken("t".into())).unwrap();
        assert!(matches!(
            directory.user("../apps").await,
            Err(DirectoryError::NotFound)
        ));
    }

    #[test]
    fn user_urls_keep_the_org_prefix() {
        let org = Url::parse("https://x.okta.com/prefix/").unwrap();
        let directory = OktaDirectory::new(&org, OktaCredentials::ApiToken("t".into())).unwrap();
        assert_eq!(
            directory.user_url("00u1", true).as_str(),
            "https://x.okta.com/prefix/api/v1/users/00u1/groups"
        );
        let org = Url::parse("https://x.okta.com").unwrap();
        let directory = OktaDirectory::new(&org, OktaCredentials::ApiToken("t".into())).unwrap();
        assert_eq!(
            directory.user_url("00u1", false).as_str(),
            "https://x.okta.com/api/v1/users/00u1"
        );
    }

    #[test]
    fn a_missing_scope_is_a_refusal_that_names_it() {
        let err = status_error(
            403,
            &[(
                "www-authenticate",
                r#"DPoP error="insufficient_scope", scope="okta.groups.read""#,
            )],
            r#"{"errorCode":"E0000006","errorSummary":"You do not have permission"}"#,
        );
        let DirectoryError::Refused(text) = err else {
            panic!("{err:?}");
        };
        assert!(text.contains("lacks the scope okta.groups.read"), "{text}");
        assert!(text.contains("OKTA_SCOPES"), "{text}");
    }

    #[test]
    fn statuses_map_to_what_a_caller_can_do() {
        let not_found = r#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: 00u1 (User)"}"#;
        assert!(matches!(
            status_error(404, &[], not_found),
            DirectoryError::NotFound
        ));
        let forbidden = status_error(403, &[], r#"{"errorCode":"E0000006"}"#).to_string();
        assert!(forbidden.contains("HTTP 403, E0000006"), "{forbidden}");
        assert!(forbidden.contains("okta.users.read"), "{forbidden}");
        let limited = status_error(429, &[], r#"{"errorCode":"E0000047"}"#);
        assert!(
            matches!(&limited, DirectoryError::Unavailable(t) if t.contains("HTTP 429")),
            "{limited:?}"
        );
        let down = status_error(503, &[], "<html>busy</html>");
        assert!(
            matches!(&down, DirectoryError::Unavailable(t) if t.contains("HTTP 503")),
            "{down:?}"
        );
        assert!(matches!(
            status_error(400, &[], ""),
            DirectoryError::BadAnswer(_)
        ));
        let token = from_status(StatusCode::UNAUTHORIZED, &HeaderMap::new(), b"", true);
        assert!(token.to_string().contains("OKTA_API_TOKEN"), "{token}");
    }

    #[test]
    fn token_request_failures_are_refusals_or_unavailability() {
        let token = |status| AuthError::TokenRequest {
            status,
            error: "invalid_client".into(),
            description: String::new(),
        };
        assert!(matches!(
            from_auth_error(token(401)),
            DirectoryError::Refused(_)
        ));
        for status in [0, 429, 502] {
            assert!(matches!(
                from_auth_error(token(status)),
                DirectoryError::Unavailable(_)
            ));
        }
    }

    #[test]
    fn users_and_groups_are_read_from_oktas_objects() {
        let user = serde_json::json!({
            "id": "00u1", "status": "SUSPENDED",
            "profile": {"login": "alice@example.com", "email": "alice@mail.example"}
        });
        let read = directory_user(&user, vec!["Everyone".into()]).unwrap();
        assert_eq!(
            read,
            DirectoryUser {
                id: "00u1".into(),
                status: "SUSPENDED".into(),
                email: "alice@mail.example".into(),
                groups: vec!["Everyone".into()],
            }
        );
        let login_only =
            serde_json::json!({"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@b"}});
        assert_eq!(directory_user(&login_only, vec![]).unwrap().email, "a@b");
        let no_status = serde_json::json!({"id": "00u1", "profile": {"login": "a@b"}});
        assert!(matches!(
            directory_user(&no_status, vec![]),
            Err(DirectoryError::BadAnswer(_))
        ));
        let page = serde_json::json!([{"profile": {"name": "A"}}, {"profile": {"name": "B"}}]);
        assert_eq!(group_names(&page).unwrap(), ["A", "B"]);
        assert!(group_names(&serde_json::json!({"a": 1})).is_err());
        assert!(group_names(&serde_json::json!([{"profile": {}}])).is_err());
    }

    /// A tiny HTTP/1.1 server on loopback that answers each request with `route`.
    mod local_okta {
        use std::sync::{Arc, Mutex};

        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        use url::Url;

        /// One request as the server saw it; header names lower case.
        #[derive(Debug, Clone)]
        pub struct Seen {
            pub method: String,
            pub target: String,
            pub headers: Vec<(String, String)>,
        }

        impl Seen {
            pub fn header(&self, name: &str) -> Option<&str> {
                self.headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.as_str())
            }
        }

        /// Status, extra headers, body.
        pub type Reply = (u16, Vec<(&'static str, String)>, String);

        pub async fn start(
            route: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
        ) -> (Url, Arc<Mutex<Vec<Seen>>>) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (route, log) = (Arc::new(route), seen.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (route, log) = (route.clone(), log.clone());
                    tokio::spawn(async move {
                        let mut stream = BufReader::new(stream);
                        let mut line = String::new();
                        stream.read_line(&mut line).await.unwrap();
                        let mut parts = line.split_whitespace();
                        let method = parts.next().unwrap_or_default().to_owned();
                        let target = parts.next().unwrap_or_default().to_owned();
                        let mut headers = Vec::new();
                        loop {
                            line.clear();
                            stream.read_line(&mut line).await.unwrap();
                            let Some((name, value)) = line.trim_end().split_once(':') else {
                                break;
                            };
                            headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
                        }
                        let seen = Seen {
                            method,
                            target,
                            headers,
                        };
                        let length = seen
                            .header("content-length")
                            .map_or(0, |v| v.parse().unwrap());
                        let mut body = vec![0; length];
                        stream.read_exact(&mut body).await.unwrap();
                        let (status, extra, body) = route(&seen);
                        log.lock().unwrap().push(seen);
                        let mut head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                            body.len()
                        );
                        for (name, value) in extra {
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                        head.push_str("\r\n");
                        let stream = stream.get_mut();
                        let _ = stream.write_all(head.as_bytes()).await;
                        let _ = stream.write_all(body.as_bytes()).await;
                        let _ = stream.shutdown().await;
                    });
                }
            });
            (url, seen)
        }
    }

    fn json(body: Value) -> local_okta::Reply {
        (200, vec![], body.to_string())
    }

    const ALICE: &str = r#"{"id":"00u1","status":"ACTIVE","profile":{"login":"alice@example.com","email":"alice@example.com"}}"#;

    #[tokio::test]
    async fn reads_a_user_and_every_page_of_groups_with_an_api_token() {
        let (org, seen) = local_okta::start(|req| match req.target.as_str() {
            "/api/v1/users/00u1" => (200, vec![], ALICE.into()),
            "/api/v1/users/00u1/groups" => (
                200,
                vec![(
                    "link",
                    r#"</api/v1/users/00u1/groups?after=00g2>; rel="next""#.into(),
                )],
                serde_json::json!([{"profile": {"name": "Everyone"}}]).to_string(),
            ),
            "/api/v1/users/00u1/groups?after=00g2" => {
                json(serde_json::json!([{"profile": {"name": "sso-help-desk"}}]))
            }
            _ => (404, vec![], r#"{"errorCode":"E0000007"}"#.into()),
        })
        .await;
        let directory = OktaDirectory::new(&org, OktaCredentials::ApiToken("t0k".into())).unwrap();
        let user = directory.user("00u1").await.unwrap();
        assert_eq!(user.status, "ACTIVE");
        assert_eq!(user.email, "alice@example.com");
        assert_eq!(user.groups, ["Everyone", "sso-help-desk"]);
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        for req in &seen {
            assert_eq!(req.header("authorization"), Some("SSWS t0k"));
            assert_eq!(req.header("accept"), Some("application/json"));
            assert!(req.header("user-agent").unwrap().starts_with("okta-mcp/"));
        }
        assert!(matches!(
            directory.user("00u9").await,
            Err(DirectoryError::NotFound)
        ));
    }

    #[tokio::test]
    async fn partial_group_lists_are_errors() {
        let (org, _) = local_okta::start(|req| match req.target.as_str() {
            "/api/v1/users/00u1" => (200, vec![], ALICE.into()),
            "/api/v1/users/00u2" => (200, vec![], ALICE.into()),
            "/api/v1/users/00u3" => (200, vec![], ALICE.into()),
            // Off the org: following it would send the token elsewhere.
            "/api/v1/users/00u1/groups" => (
                200,
                vec![(
                    "link",
                    r#"<http://evil.example/api/v1/x>; rel="next""#.into(),
                )],
                "[]".into(),
            ),
            // A next link forever.
            "/api/v1/users/00u2/groups" => (
                200,
                vec![("link", r#"</api/v1/users/00u2/groups>; rel="next""#.into())],
                "[]".into(),
            ),
            _ => (200, vec![], format!("[{}]", " ".repeat(MAX_BODY))),
        })
        .await;
        let directory = OktaDirectory::new(&org, OktaCredentials::ApiToken("t".into())).unwrap();
        for (id, want) in [
            ("00u1", "leaves the Okta org"),
            ("00u2", "past 50 pages"),
            ("00u3", "over 4194304 bytes"),
        ] {
            match directory.user(id).await {
                Err(DirectoryError::BadAnswer(text)) => assert!(text.contains(want), "{text}"),
                other => panic!("{id}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn rate_limits_and_unreachable_orgs_are_unavailable() {
        let (org, _) = local_okta::start(|_| {
            (429, vec![], r#"{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}"#.into())
        })
        .await;
        let directory = OktaDirectory::new(&org, OktaCredentials::ApiToken("t".into())).unwrap();
        match directory.user("00u1").await {
            Err(DirectoryError::Unavailable(text)) => assert!(text.contains("HTTP 429, E0000047")),
            other => panic!("{other:?}"),
        }
        let closed = Url::parse("http://127.0.0.1:9").unwrap();
        let directory = OktaDirectory::new(&closed, OktaCredentials::ApiToken("t".into())).unwrap();
        assert!(matches!(
            directory.user("00u1").await,
            Err(DirectoryError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn a_service_app_answers_the_nonce_challenge_and_sends_dpop() {
        use base64::Engine;
        // The claims of the request's DPoP proof.
        fn proof(req: &local_okta::Seen) -> Value {
            let claims = req.header("dpop").and_then(|p| p.split('.').nth(1));
            let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims.unwrap_or_default())
                .unwrap_or_default();
            serde_json::from_slice(&claims).unwrap_or_default()
        }
        let (org, seen) = local_okta::start(|req| {
            let nonce = proof(req)["nonce"].clone();
            // Okta's nonce challenge: 400 from the token endpoint, 401 from the API.
            let challenge = |status: u16| -> local_okta::Reply {
                let mut headers = vec![("dpop-nonce", "n1".to_owned())];
                if status == 401 {
                    headers.push(("www-authenticate", r#"DPoP error="use_dpop_nonce""#.into()));
                }
                (status, headers, r#"{"error":"use_dpop_nonce"}"#.into())
            };
            match req.target.as_str() {
                "/oauth2/v1/token" if nonce == "n1" => json(serde_json::json!({
                    "access_token": "at1", "token_type": "DPoP", "expires_in": 3600,
                    "scope": "okta.users.read okta.groups.read"
                })),
                "/oauth2/v1/token" => challenge(400),
                // The API asks for its own nonce too (RFC 9449 §9).
                _ if nonce != "n1" => challenge(401),
                "/api/v1/users/00u1" => (200, vec![], ALICE.into()),
                "/api/v1/users/00u1/groups" => (
                    403,
                    vec![(
                        "www-authenticate",
                        r#"DPoP error="insufficient_scope", scope="okta.groups.read""#.into(),
                    )],
                    r#"{"errorCode":"E0000006"}"#.into(),
                ),
                _ => (404, vec![], String::new()),
            }
        })
        .await;
        let key = jose_test_key();
        let credentials = OktaCredentials::ServiceApp(okta_auth::ServiceAppSettings {
            client_id: "0oasvc".into(),
            private_key_pem: key,
            key_id: None,
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        });
        let directory = OktaDirectory::new(&org, credentials).unwrap();
        let err = directory.user("00u1").await.unwrap_err();
        assert!(
            err.to_string().contains("lacks the scope okta.groups.read"),
            "{err}"
        );
        let seen = seen.lock().unwrap().clone();
        let tokens = seen.iter().filter(|r| r.method == "POST").count();
        assert_eq!(tokens, 2, "one nonce challenge, then the token");
        let api: Vec<_> = seen.iter().filter(|r| r.method == "GET").collect();
        for req in &api {
            assert_eq!(req.header("authorization"), Some("DPoP at1"));
            assert_eq!(proof(req)["htm"], "GET");
        }
        assert!(
            api.iter()
                .any(|r| r.target.ends_with("/groups") && proof(r)["nonce"] == "n1"),
            "the API's nonce challenge was answered"
        );
        let text = format!("{err} {err:?} {directory:?}");
        assert!(
            !text.contains("at1") && !text.contains("PRIVATE KEY"),
            "{text}"
        );
    }

    /// A PKCS#8 PEM EC P-256 key, made for the test.
    fn jose_test_key() -> String {
        use base64::Engine;
        let rng = ring::rand::SystemRandom::new();
        let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_ref())
        )
    }
}
