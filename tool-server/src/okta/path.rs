//! Okta API paths built from untrusted ids.
//!
//! An id comes from a model's arguments. Every segment is percent-encoded (`/`, `?`, `#`, `%`
//! included) and dot segments are refused, because URL parsers resolve `..` (and `%2e%2e`)
//! and an id like `../../apps` would otherwise reach another Okta endpoint with our token.

use std::fmt;

use super::OktaError;

/// A path under `/api/v1/`, made of percent-encoded segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath(String);

impl ApiPath {
    /// Joins `segments` (e.g. `["users", user_id, "groups"]`), encoding each one.
    /// Empty, `.` and `..` segments are refused.
    pub fn new<'a>(segments: impl IntoIterator<Item = &'a str>) -> Result<Self, OktaError> {
        let mut path = String::new();
        for segment in segments {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(OktaError::InvalidRequest(format!(
                    "{segment:?} is not a valid Okta id"
                )));
            }
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(&encode_segment(segment));
        }
        if path.is_empty() {
            return Err(OktaError::InvalidRequest("empty Okta API path".into()));
        }
        Ok(Self(path))
    }

    /// The encoded path relative to `/api/v1/`, e.g. `users/00u1/groups`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/api/v1/{}", self.0)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `@` (logins keep
/// their readable form; `@` is legal in a path segment).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_as_one_segment() {
        let path = ApiPath::new(["users", "alice+x@example.com", "groups"]).unwrap();
        assert_eq!(path.as_str(), "users/alice%2Bx@example.com/groups");
        let path = ApiPath::new(["users", "../../apps"]).unwrap();
        assert_eq!(path.as_str(), "users/..%2F..%2Fapps");
        let path = ApiPath::new(["apps", "a?b#c%2e d/é"]).unwrap();
        assert_eq!(path.as_str(), "apps/a%3Fb%23c%252e%20d%2F%C3%A9");
        assert_eq!(path.to_string(), "/api/v1/apps/a%3Fb%23c%252e%20d%2F%C3%A9");
    }

    #[test]
    fn dot_and_empty_segments_are_refused() {
        for bad in ["", ".", ".."] {
            let err = ApiPath::new(["users", bad, "groups"]).unwrap_err();
            assert!(matches!(err, OktaError::InvalidRequest(_)), "{bad:?}");
        }
        assert!(ApiPath::new([]).is_err());
        // Three dots are an ordinary segment, not a traversal.
        assert_eq!(
            ApiPath::new(["users", "..."]).unwrap().as_str(),
            "users/..."
        );
    }

    #[test]
    fn encoded_paths_stay_under_the_endpoint_when_joined_to_a_url() {
        let base = url::Url::parse("https://x.okta.com/").unwrap();
        for id in [
            "../../apps",
            "..%2F..%2Fapps",
            "%2e%2e",
            "a/../../b",
            "?x=1",
            "#f",
        ] {
            let path = ApiPath::new(["users", id]).unwrap();
            let url = base.join(&path.to_string()).unwrap();
            assert!(url.path().starts_with("/api/v1/users/"), "{id} -> {url}");
            assert_eq!(url.path().matches('/').count(), 4, "{id} -> {url}");
            assert_eq!(url.query(), None, "{id} -> {url}");
            assert_eq!(url.fragment(), None, "{id} -> {url}");
        }
    }
}
