//! The browser side: the binding cookie that ties a consent and an Okta login to one browser,
//! and `/oauth/login` / `/oauth/logout` for same-origin web apps.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, StatusCode, header};
use sha2::Sha256;

use super::callback::LoginFlow;
use super::params::Params;
use super::{AuthServer, no_store, now, pages};
use crate::session_cookie::{build_cookie, cookie_values};
use crate::tokens::{random_token, same_text};
use crate::web::{WebRequest, WebResponse};

/// Longest `return_to` kept.
const MAX_RETURN_TO: usize = 1024;

/// A same-origin relative path to return to after login; anything else becomes `/`.
pub(super) fn safe_return_to(raw: Option<&str>) -> String {
    let Some(path) = raw else {
        return "/".to_owned();
    };
    let safe = path.len() <= MAX_RETURN_TO
        && path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.chars().all(|c| c.is_ascii_graphic());
    if safe {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

/// Whether `value` looks like a browser id we issued (32 random bytes, base64url).
fn is_browser_id(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AuthServer {
    /// The binding cookie's name (`__Host-` under https).
    fn browser_cookie_name(&self) -> &'static str {
        if self.secure_cookies {
            "__Host-mcp_browser"
        } else {
            "mcp_browser"
        }
    }

    /// This browser's id from its binding cookie.
    pub(super) fn browser_id(&self, headers: &HeaderMap) -> Option<String> {
        cookie_values(headers, self.browser_cookie_name()).find(|v| is_browser_id(v))
    }

    /// This browser's id, or a new one with the `Set-Cookie` that gives it to the browser.
    pub(super) fn browser_binding(&self, headers: &HeaderMap) -> (String, Option<String>) {
        match self.browser_id(headers) {
            Some(id) => (id, None),
            None => {
                let id = random_token(32);
                let cookie =
                    build_cookie(self.browser_cookie_name(), &id, self.secure_cookies, None);
                (id, Some(cookie))
            }
        }
    }

    /// `GET /oauth/login?return_to=/path`: log in at Okta, then come back with a session cookie.
    pub(super) async fn browser_login(&self, request: &WebRequest) -> WebResponse {
        let params = match pages::browser_get_query(request, "Use GET to log in.") {
            Ok(params) => params,
            Err(page) => return page,
        };
        let return_to = safe_return_to(params.get("return_to"));
        let (browser, set_browser) = self.browser_binding(&request.headers);
        self.start_login(LoginFlow::Browser { return_to }, &browser, set_browser)
            .await
    }

    /// `/oauth/logout`: forget the session (here, on every replica and in a copied cookie) and
    /// go to `/`.
    ///
    /// Only when the request comes from this site: a `GET` the browser labels `same-origin` (a
    /// link in the app) or `none` (typed in, a bookmark), or a `POST` carrying the CSRF token of
    /// the confirmation page. Any other `GET` (another site's link or image, or a browser that
    /// sends no `Sec-Fetch-Site`) gets that page instead of logging the user out.
    pub(super) async fn browser_logout(&self, request: &WebRequest) -> WebResponse {
        let now = now();
        let session = self.sessions.read(&request.headers, now);
        let from_this_site = matches!(
            request.header("sec-fetch-site"),
            Some("same-origin" | "none")
        );
        match request.method {
            Method::GET if !from_this_site => {
                return match &session {
                    Some(session) => pages::logout_page(&self.logout_token(&session.sid)),
                    // Nothing to end: no question to ask.
                    None => no_store(WebResponse::redirect("/")),
                };
            }
            Method::GET => {}
            Method::POST => {
                let token = Params::parse(&request.body)
                    .ok()
                    .and_then(|form| form.get("csrf").map(str::to_owned));
                let verified = match (&session, token) {
                    (Some(session), Some(token)) => std::iter::once(&self.csrf_key)
                        .chain(&self.previous_csrf_keys)
                        .any(|key| same_text(&token, &logout_token_with(key, &session.sid))),
                    (None, _) => true,
                    (Some(_), None) => from_this_site,
                };
                if !verified {
                    return pages::error_page(
                        StatusCode::FORBIDDEN,
                        "Request not verified",
                        "The logout form could not be verified (CSRF check failed). Log out from this site's own page.",
                    );
                }
            }
            _ => {
                return pages::error_page(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "Not allowed",
                    "Use GET or POST to log out.",
                );
            }
        }
        if let Some(session) = session {
            let remaining = Duration::from_secs(u64::try_from(session.exp - now).unwrap_or(0));
            self.end_session(&session, remaining).await;
        }
        no_store(WebResponse::redirect("/"))
            .append_header(header::SET_COOKIE, &self.sessions.clear_cookie())
    }

    /// The logout form's CSRF token: HMAC(key, session id), so only a page this proxy showed to
    /// this session can end it.
    fn logout_token(&self, sid: &str) -> String {
        logout_token_with(&self.csrf_key, sid)
    }
}

fn logout_token_with(key: &[u8; 32], sid: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts every key length"),
    };
    mac.update(b"logout\n");
    mac.update(sid.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn return_to_accepts_only_same_origin_paths() {
        assert_eq!(safe_return_to(Some("/app/page?x=1")), "/app/page?x=1");
        assert_eq!(safe_return_to(Some("/")), "/");
        assert_eq!(safe_return_to(None), "/");
        for bad in [
            "//evil.example.com",
            "///evil.example.com",
            "https://evil.example.com/",
            "http:evil",
            "/\\evil.example.com",
            "\\\\evil.example.com",
            "/a\\b",
            "javascript:alert(1)",
            "evil.example.com",
            "/a\nLocation: x",
            "/a b",
            "/caf\u{e9}",
            "",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_to(Some(&format!("/{}", "a".repeat(3000)))), "/");
    }

    #[tokio::test]
    async fn login_sets_the_session_cookie_and_returns() {
        let t = Harness::new();
        let to_okta = t
            .browse_get("/oauth/login?return_to=%2Fdashboard%3Ftab%3D2")
            .await;
        assert_eq!(to_okta.status, StatusCode::FOUND);
        let back = t.okta_returns(&to_okta).await;
        assert_eq!(back.status, StatusCode::FOUND);
        assert_eq!(location(&back), "/dashboard?tab=2");
        assert!(t.browser.lock().unwrap().contains_key("__Host-mcp_session"));
        let principal = t
            .with_browser_cookies()
            .await
            .expect("session cookie accepted");
        assert_eq!(principal.subject, "00u-alice");
        assert_eq!(principal.role, "viewer");
        assert_eq!(principal.client_id, None);
    }

    #[tokio::test]
    async fn login_never_returns_off_site() {
        let t = Harness::new();
        for return_to in [
            "%2F%2Fevil.example.com",
            "https%3A%2F%2Fevil.example.com",
            "%2F%5Cevil.example.com",
        ] {
            let to_okta = t
                .browse_get(&format!("/oauth/login?return_to={return_to}"))
                .await;
            let back = t.okta_returns(&to_okta).await;
            assert_eq!(location(&back), "/", "{return_to}");
        }
    }

    #[tokio::test]
    async fn logout_clears_and_revokes_the_session() {
        let t = Harness::new();
        let to_okta = t.browse_get("/oauth/login").await;
        t.okta_returns(&to_okta).await;
        let stolen_copy = t.browser.lock().unwrap().clone();
        let out = t
            .browse(request(
                Method::GET,
                "/oauth/logout",
                None,
                &[("sec-fetch-site", "same-origin")],
                "",
            ))
            .await;
        assert_eq!(out.status, StatusCode::FOUND);
        assert_eq!(location(&out), "/");
        assert!(header(&out, "set-cookie").unwrap().contains("Max-Age=0"));
        assert!(!t.browser.lock().unwrap().contains_key("__Host-mcp_session"));
        assert!(t.with_browser_cookies().await.is_err());
        // a copy of the cookie taken before logout no longer works either
        *t.browser.lock().unwrap() = stolen_copy;
        assert_eq!(
            t.with_browser_cookies().await.unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn a_user_without_a_role_gets_no_session() {
        let t = Harness::new();
        t.okta
            .log_in_as("00u-dave", "dave@example.com", &["Everyone"]);
        let to_okta = t.browse_get("/oauth/login").await;
        let page = t.okta_returns(&to_okta).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        assert!(text(&page).contains("sso-help-desk"));
        assert!(!t.browser.lock().unwrap().contains_key("__Host-mcp_session"));
    }

    #[tokio::test]
    async fn plain_http_uses_cookies_without_the_host_prefix() {
        let t = Harness::with_url(
            "http://localhost:3001",
            |_| {},
            crate::store::MemoryStore::default(),
        );
        let to_okta = t.browse_get("/oauth/login").await;
        let set = header(&to_okta, "set-cookie").unwrap();
        assert!(set.starts_with("mcp_browser="), "{set}");
        assert!(!set.contains("Secure"));
        t.okta_returns(&to_okta).await;
        assert!(t.browser.lock().unwrap().contains_key("mcp_session"));
        assert!(t.with_browser_cookies().await.is_ok());
    }
}
