//! Okta's cursor pagination: `limit` with a per-endpoint default and maximum, an opaque `after`
//! cursor, and `Link` headers (`rel="self"` always, `rel="next"` while more pages exist).
//!
//! Clients must follow the `next` link verbatim rather than build URLs, so the cursor is opaque
//! on purpose and the links are absolute, keep every other query parameter, and carry the limit
//! actually used (a capped limit shows in the link).

use super::error::ApiError;
use url::form_urlencoded;

/// Default and bounds of the `limit` parameter of one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitRule {
    /// Page size when `limit` is absent; `None` means "everything on one page".
    pub default: Option<usize>,
    /// Larger requests are capped to this (Okta caps rather than rejects).
    pub max: usize,
    /// Smallest accepted value (1 everywhere except the System Log, which accepts 0).
    pub min: usize,
}

impl LimitRule {
    /// A rule with `default` and `max`, rejecting values below 1.
    pub const fn new(default: usize, max: usize) -> Self {
        Self {
            default: Some(default),
            max,
            min: 1,
        }
    }

    /// The page size for a raw `limit` value. Okta answers 400 to a non-numeric or too small
    /// limit and silently caps one above the maximum.
    pub fn resolve(&self, raw: Option<&str>) -> Result<usize, ApiError> {
        let Some(raw) = raw else {
            return Ok(self.default.unwrap_or(usize::MAX));
        };
        let trimmed = raw.trim();
        let invalid = || {
            ApiError::invalid_param(
                "limit",
                format!("must be an integer greater than or equal to {}", self.min),
            )
        };
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return Err(invalid());
        }
        match trimmed.parse::<i64>() {
            Ok(value) if value < self.min as i64 => Err(invalid()),
            Ok(value) => Ok((value as u64).min(self.max as u64) as usize),
            // Digits only but too long for i64: a huge positive number, so cap it.
            Err(_) if !trimmed.starts_with('-') && trimmed.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(self.max)
            }
            Err(_) => Err(invalid()),
        }
    }
}

/// Position in a result list, handed to clients only in its opaque form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(pub usize);

/// Mixed into the offset so cursors do not read as page numbers.
const CURSOR_MASK: u64 = 0x5eed_0ffb_a5e1_c0de;

impl Cursor {
    /// The opaque `after` value.
    pub fn encode(self) -> String {
        format!("c{:016x}", self.0 as u64 ^ CURSOR_MASK)
    }

    /// Reads an `after` value this server produced; anything else is a 400.
    pub fn decode(raw: &str) -> Result<Self, ApiError> {
        let invalid = || ApiError::invalid_param("after", "invalid pagination cursor");
        let hex = raw.strip_prefix('c').ok_or_else(invalid)?;
        if hex.len() != 16 {
            return Err(invalid());
        }
        let value = u64::from_str_radix(hex, 16).map_err(|_| invalid())? ^ CURSOR_MASK;
        usize::try_from(value).map(Cursor).map_err(|_| invalid())
    }
}

/// One page cut from a result list of `total` items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Index of the first item of the page.
    pub start: usize,
    /// One past the last item of the page.
    pub end: usize,
    /// Cursor of the following page, if there is one.
    pub next: Option<Cursor>,
}

impl Page {
    /// The page of `limit` items after `after` (from the start when absent).
    pub fn cut(total: usize, after: Option<&str>, limit: usize) -> Result<Self, ApiError> {
        let start = match after {
            Some(raw) if !raw.is_empty() => Cursor::decode(raw)?.0,
            _ => 0,
        };
        let start = start.min(total);
        let end = start.saturating_add(limit).min(total);
        // A zero limit cannot advance, so it must not promise a next page (no endless loop).
        let next = (end < total && limit > 0).then_some(Cursor(end));
        Ok(Self { start, end, next })
    }
}

/// The absolute URL of a request, for building `Link` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl {
    /// Scheme and authority, e.g. `http://127.0.0.1:3003`.
    pub base: String,
    /// Path, e.g. `/api/v1/users`.
    pub path: String,
    /// Decoded query parameters in their original order.
    pub query: Vec<(String, String)>,
}

impl RequestUrl {
    /// First value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// First non-empty value of query parameter `name`.
    pub fn non_empty_param(&self, name: &str) -> Option<&str> {
        self.param(name).filter(|value| !value.trim().is_empty())
    }

    /// This URL with `replacements` set (others kept in order, replaced ones appended).
    pub fn with_params(&self, replacements: &[(&str, String)]) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.query {
            if !replacements.iter().any(|(name, _)| name == key) {
                serializer.append_pair(key, value);
            }
        }
        for (key, value) in replacements {
            serializer.append_pair(key, value);
        }
        self.with_query(serializer.finish())
    }

    /// This URL with its own query re-encoded.
    pub fn self_url(&self) -> String {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.query {
            serializer.append_pair(key, value);
        }
        self.with_query(serializer.finish())
    }

    fn with_query(&self, query: String) -> String {
        if query.is_empty() {
            format!("{}{}", self.base, self.path)
        } else {
            format!("{}{}?{}", self.base, self.path, query)
        }
    }

    /// `Link` header values: `self`, then `next` when a next cursor exists.
    pub fn link_headers(&self, next: Option<Cursor>, limit: Option<usize>) -> Vec<String> {
        let mut links = vec![format!("<{}>; rel=\"self\"", self.self_url())];
        if let Some(cursor) = next {
            let mut params = vec![("after", cursor.encode())];
            if let Some(limit) = limit {
                params.push(("limit", limit.to_string()));
            }
            links.push(format!("<{}>; rel=\"next\"", self.with_params(&params)));
        }
        links
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_defaults_caps_and_rejects() {
        let rule = LimitRule::new(200, 200);
        assert_eq!(rule.resolve(None), Ok(200));
        assert_eq!(rule.resolve(Some("5")), Ok(5));
        assert_eq!(rule.resolve(Some(" 7 ")), Ok(7));
        assert_eq!(rule.resolve(Some("1000")), Ok(200));
        assert_eq!(rule.resolve(Some("99999999999999999999999999")), Ok(200));
        for bad in [
            "0",
            "-1",
            "abc",
            "",
            "1.5",
            "1e3",
            "--1",
            "-99999999999999999999999",
        ] {
            let err = rule.resolve(Some(bad)).unwrap_err();
            assert_eq!(err.code(), "E0000001", "{bad}");
        }
        let logs = LimitRule {
            default: Some(100),
            max: 1000,
            min: 0,
        };
        assert_eq!(logs.resolve(Some("0")), Ok(0));
        assert_eq!(logs.resolve(Some("5000")), Ok(1000));
        let everything = LimitRule {
            default: None,
            max: 200,
            min: 1,
        };
        assert_eq!(everything.resolve(None), Ok(usize::MAX));
    }

    #[test]
    fn cursor_round_trip() {
        for offset in [0, 1, 199, 1500, 123_456] {
            let encoded = Cursor(offset).encode();
            assert!(!encoded.contains(&offset.to_string()) || offset < 10);
            assert_eq!(Cursor::decode(&encoded), Ok(Cursor(offset)));
        }
        for bad in [
            "",
            "c",
            "x0000000000000000",
            "czzzzzzzzzzzzzzzz",
            "c00",
            "00u123",
            "c😀",
        ] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pages_cover_everything_once() {
        let total = 1500;
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = Page::cut(total, after.as_deref(), 200).unwrap();
            seen.extend(page.start..page.end);
            match page.next {
                Some(cursor) => after = Some(cursor.encode()),
                None => break,
            }
        }
        assert_eq!(seen, (0..total).collect::<Vec<_>>());
        let last = Page::cut(10, None, 10).unwrap();
        assert_eq!(last.next, None);
        let beyond = Page::cut(10, Some(&Cursor(50).encode()), 10).unwrap();
        assert_eq!((beyond.start, beyond.end, beyond.next), (10, 10, None));
        assert_eq!(
            Page::cut(usize::MAX, None, usize::MAX).unwrap().end,
            usize::MAX
        );
    }

    #[test]
    fn links_are_absolute_and_keep_params() {
        let url = RequestUrl {
            base: "http://127.0.0.1:9".into(),
            path: "/api/v1/users".into(),
            query: vec![
                (
                    "search".into(),
                    "profile.department eq \"Eng & Ops\"".into(),
                ),
                ("limit".into(), "500".into()),
                ("after".into(), "old".into()),
            ],
        };
        let links = url.link_headers(Some(Cursor(200)), Some(200));
        assert_eq!(links.len(), 2);
        assert!(links[0].starts_with("<http://127.0.0.1:9/api/v1/users?search="));
        assert!(links[0].ends_with("&limit=500&after=old>; rel=\"self\""));
        let next = &links[1];
        assert!(next.ends_with(&format!(
            "&after={}&limit=200>; rel=\"next\"",
            Cursor(200).encode()
        )));
        assert!(next.contains("search=profile.department+eq+%22Eng+%26+Ops%22"));
        assert!(!next.contains("old"));
        let plain = RequestUrl {
            base: "http://h".into(),
            path: "/api/v1/zones".into(),
            query: vec![],
        };
        assert_eq!(
            plain.link_headers(None, None),
            vec!["<http://h/api/v1/zones>; rel=\"self\"".to_string()]
        );
    }
}
