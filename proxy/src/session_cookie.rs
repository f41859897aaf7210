//! The browser session cookie: who is logged in at this proxy, for same-origin web apps and
//! for skipping a consent page the user already approved.
//!
//! The value is `{sub, email, role, sid, exp, chk, seen}` (base64url JSON) signed with HMAC-SHA256 by
//! the `cookie` crate's signed jar, so the expiry cannot be stretched and the role cannot be
//! raised; a cookie that fails the check is simply absent. `sid` lets logout revoke a copied
//! cookie. `role` is trusted only until `chk`; after that the role is re-read from Okta
//! (`oauth::session_check`). `seen` (when the login read the user from Okta) is compared with
//! the subject's cut-offs (`revocations`).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key, SameSite};
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use crate::tokens::{derive_key, key_id, random_token};

/// Cookies longer than this are not ours; skip them without decoding.
const MAX_COOKIE_VALUE: usize = 4096;

/// A logged-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Okta user id.
    pub sub: String,
    pub email: String,
    pub role: String,
    /// Session id (for revocation at logout).
    pub sid: String,
    /// Unix seconds after which the cookie is no longer accepted.
    pub exp: i64,
    /// Unix seconds until which `role` is current; after it, the role is re-checked with Okta.
    /// Absent in cookies from before it existed: due at once.
    #[serde(default)]
    pub chk: i64,
    /// Unix milliseconds at which the login read the user from Okta. Absent in cookies from
    /// before it existed: the epoch, which any cut-off of the subject refuses.
    #[serde(default)]
    pub seen: i64,
}

/// Issues and reads the signed session cookie.
///
/// The cookie's value is `<key id>.<signed value>`: the id names the key that signed it, so
/// after `SESSION_SECRET_KEY` is rotated, cookies signed under a previous secret (listed in
/// `SESSION_SECRET_KEYS_PREVIOUS`) keep working until they expire.
pub struct SessionCookies {
    key: Key,
    kid: String,
    /// Keys of previous session secrets, still accepted: (kid, key).
    previous: Vec<(String, Key)>,
    secure: bool,
    ttl: Duration,
    role_ttl: Duration,
}

impl SessionCookies {
    /// Cookies signed with a key derived from `secret`, living `ttl`, whose role is current for
    /// `role_ttl`; `secure` (https) adds `Secure` and the `__Host-` name prefix.
    pub fn new(secret: &[u8], secure: bool, ttl: Duration, role_ttl: Duration) -> Self {
        let (kid, key) = cookie_key(secret);
        Self {
            key,
            kid,
            previous: Vec::new(),
            secure,
            ttl,
            role_ttl,
        }
    }

    /// Also accepts cookies signed under `secrets` (previous session secrets).
    pub fn with_previous(mut self, secrets: &[Vec<u8>]) -> Self {
        self.previous = secrets.iter().map(|secret| cookie_key(secret)).collect();
        self
    }

    /// The key that signed a cookie value: named by its prefix, or the current one for a value
    /// without a known prefix (cookies from before key ids); and the signed part.
    fn key_for<'v>(&self, value: &'v str) -> Option<(&Key, &'v str)> {
        let Some((kid, signed)) = value.split_once('.') else {
            return Some((&self.key, value));
        };
        if kid == self.kid {
            return Some((&self.key, signed));
        }
        self.previous
            .iter()
            .find(|(id, _)| id == kid)
            .map(|(_, key)| (key, signed))
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-mcp_session"
        } else {
            "mcp_session"
        }
    }

    /// A new session for a user, expiring after the configured lifetime, read from Okta `now`
    /// (unix seconds; set `seen` for a more exact time).
    pub fn new_session(&self, sub: &str, email: &str, role: &str, now: i64) -> Session {
        Session {
            sub: sub.to_owned(),
            email: email.to_owned(),
            role: role.to_owned(),
            sid: random_token(16),
            exp: now.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
            chk: now.saturating_add(i64::try_from(self.role_ttl.as_secs()).unwrap_or(i64::MAX)),
            seen: now.saturating_mul(1000),
        }
    }

    /// The `Set-Cookie` value that stores `session`.
    pub fn set_cookie(&self, session: &Session) -> String {
        let value = URL_SAFE_NO_PAD.encode(serde_json::to_vec(session).unwrap_or_default());
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.key)
            .add(Cookie::new(self.name(), value));
        let signed = jar
            .get(self.name())
            .map(|c| format!("{}.{}", self.kid, c.value()))
            .unwrap_or_default();
        build_cookie(self.name(), &signed, self.secure, Some(self.ttl))
    }

    /// The `Set-Cookie` value that removes the cookie.
    pub fn clear_cookie(&self) -> String {
        build_cookie(self.name(), "", self.secure, Some(Duration::ZERO))
    }

    /// The session of this request, if its cookie is present, authentic and unexpired.
    pub fn read(&self, headers: &HeaderMap, now: i64) -> Option<Session> {
        let jar = CookieJar::new();
        cookie_values(headers, self.name()).find_map(|value| {
            if value.len() > MAX_COOKIE_VALUE {
                return None;
            }
            let (key, value) = self.key_for(&value)?;
            let verified = jar
                .signed(key)
                .verify(Cookie::new(self.name(), value.to_owned()))?;
            let bytes = URL_SAFE_NO_PAD.decode(verified.value()).ok()?;
            let session: Session = serde_json::from_slice(&bytes).ok()?;
            (session.exp > now).then_some(session)
        })
    }
}

/// The cookie key derived from one session secret, with its id.
fn cookie_key(secret: &[u8]) -> (String, Key) {
    let sign = derive_key(secret, "session-cookie/sign");
    let mut material = [0u8; 64];
    material[..32].copy_from_slice(&sign);
    material[32..].copy_from_slice(&derive_key(secret, "session-cookie/unused"));
    let key = match Key::try_from(material.as_slice()) {
        Ok(key) => key,
        Err(_) => unreachable!("64 bytes is a valid cookie key"),
    };
    (key_id(&sign), key)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, plus `Secure` when `secure`.
/// `max_age: None` makes a cookie that ends with the browser session.
pub fn build_cookie(name: &str, value: &str, secure: bool, max_age: Option<Duration>) -> String {
    let mut cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure);
    if let Some(max_age) = max_age {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
    }
    cookie.build().to_string()
}

/// Every value the request's `Cookie` headers carry under `name` (a browser may send several).
pub fn cookie_values<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(move |pair| {
            let (n, v) = pair.trim().split_once('=')?;
            (n.trim() == name).then(|| v.trim().trim_matches('"').to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const NOW: i64 = 1_750_000_000;

    fn cookies(secure: bool) -> SessionCookies {
        SessionCookies::new(
            &[9u8; 32],
            secure,
            Duration::from_secs(3600),
            Duration::from_secs(900),
        )
    }

    fn request_with(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}; last=2")).unwrap(),
        );
        headers
    }

    #[test]
    fn cookies_signed_under_a_previous_secret_are_read_until_it_is_dropped() {
        let old = SessionCookies::new(
            &[1u8; 32],
            false,
            Duration::from_secs(3600),
            Duration::from_secs(900),
        );
        let session = old.new_session("00u1", "a@example.com", "viewer", NOW);
        let header = old.set_cookie(&session);
        let rotated = SessionCookies::new(
            &[2u8; 32],
            false,
            Duration::from_secs(3600),
            Duration::from_secs(900),
        )
        .with_previous(&[vec![1u8; 32]]);
        assert_eq!(rotated.read(&request_with(&header), NOW), Some(session));
        let fresh =
            rotated.set_cookie(&rotated.new_session("00u2", "b@example.com", "viewer", NOW));
        let (kid, _) = fresh
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .split_once('.')
            .unwrap();
        assert_eq!(kid, key_id(&derive_key(&[2u8; 32], "session-cookie/sign")));
        let dropped = SessionCookies::new(
            &[2u8; 32],
            false,
            Duration::from_secs(3600),
            Duration::from_secs(900),
        );
        assert_eq!(dropped.read(&request_with(&header), NOW), None);
        assert!(dropped.read(&request_with(&fresh), NOW).is_some());
    }

    #[test]
    fn a_session_round_trips() {
        let c = cookies(false);
        let session = c.new_session("00u1", "alice@example.com", "viewer", NOW);
        let header = c.set_cookie(&session);
        assert!(header.starts_with("mcp_session="), "{header}");
        assert!(header.contains("HttpOnly"));
        assert!(header.contains("SameSite=Lax"));
        assert!(header.contains("Path=/"));
        assert!(header.contains("Max-Age=3600"));
        assert!(!header.contains("Secure"));
        assert_eq!(c.read(&request_with(&header), NOW + 10), Some(session));
    }

    #[test]
    fn https_cookies_are_secure_host_cookies() {
        let c = cookies(true);
        let session = c.new_session("00u1", "a@example.com", "viewer", NOW);
        let header = c.set_cookie(&session);
        assert!(header.starts_with("__Host-mcp_session="), "{header}");
        assert!(header.contains("Secure"));
        assert!(!header.contains("Domain"));
        assert_eq!(c.read(&request_with(&header), NOW), Some(session));
    }

    #[test]
    fn expired_sessions_are_absent() {
        let c = cookies(false);
        let session = c.new_session("00u1", "a@example.com", "viewer", NOW);
        let header = c.set_cookie(&session);
        assert_eq!(c.read(&request_with(&header), NOW + 3600), None);
    }

    #[test]
    fn tampered_cookies_are_absent() {
        let c = cookies(false);
        let session = c.new_session("00u1", "a@example.com", "viewer", NOW);
        let header = c.set_cookie(&session);
        let pair = header.split(';').next().unwrap();
        let (_, value) = pair.split_once('=').unwrap();
        // Same MAC, payload with a higher role.
        let (mac, _) = value.split_at(44);
        let raised = Session {
            role: "super-admin".into(),
            ..session.clone()
        };
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&raised).unwrap());
        let tampered = format!("mcp_session={mac}{forged}");
        assert_eq!(c.read(&request_with(&tampered), NOW), None);
        // Unsigned, junk, empty, and another key's cookie.
        for junk in [
            format!("mcp_session={forged}"),
            "mcp_session=".to_owned(),
            "mcp_session=%%%%".to_owned(),
            format!("mcp_session={}", "A".repeat(5000)),
        ] {
            assert_eq!(c.read(&request_with(&junk), NOW), None, "{junk}");
        }
        let other = SessionCookies::new(
            &[1u8; 32],
            false,
            Duration::from_secs(3600),
            Duration::from_secs(900),
        );
        assert_eq!(other.read(&request_with(&header), NOW), None);
    }

    #[test]
    fn a_valid_cookie_next_to_a_planted_one_still_counts() {
        let c = cookies(false);
        let session = c.new_session("00u1", "a@example.com", "viewer", NOW);
        let header = c.set_cookie(&session);
        let pair = header.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            HeaderValue::from_static("mcp_session=planted"),
        );
        headers.append(http::header::COOKIE, HeaderValue::from_str(pair).unwrap());
        assert_eq!(c.read(&headers, NOW), Some(session));
    }

    #[test]
    fn clearing_expires_the_cookie() {
        let header = cookies(true).clear_cookie();
        assert!(header.starts_with("__Host-mcp_session=;"), "{header}");
        assert!(header.contains("Max-Age=0"));
    }
}
