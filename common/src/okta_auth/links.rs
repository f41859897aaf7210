//! Okta's cursor pagination: `Link: <…?after=X>; rel="next"` headers.
//!
//! Okta sends one `Link` header per relation (or, behind some proxies, several joined by commas),
//! so every header value is parsed. A `next` link must only ever be followed to the org's own
//! origin ([`same_origin`]): the link comes from a response, and following it elsewhere would
//! send our token there.

use reqwest::header::{HeaderMap, LINK};
use url::Url;

/// One entry of a `Link` header: its target and its relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URI between `<` and `>`, as written (possibly relative).
    pub target: String,
    /// The `rel` values, lower case.
    pub rels: Vec<String>,
}

/// Parses a `Link` header value (RFC 8288): `<url>; rel="next", <url>; rel="self"`.
/// Malformed entries are skipped, never an error.
pub fn parse_link_header(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_open) = rest.strip_prefix('<') else {
            return links;
        };
        let Some(close) = after_open.find('>') else {
            return links;
        };
        let target = after_open[..close].trim().to_string();
        rest = &after_open[close + 1..];
        // The parameters run to the next comma outside quotes.
        let mut end = rest.len();
        let mut in_quotes = false;
        for (i, c) in rest.char_indices() {
            match c {
                '"' => in_quotes = !in_quotes,
                ',' if !in_quotes => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let params = &rest[..end];
        rest = &rest[end..];
        let mut rels = Vec::new();
        // Parameters end at a `;` outside quotes: `title="a; rel=next"` names no relation.
        let mut in_quotes = false;
        let param_end = |c: char| {
            in_quotes ^= c == '"';
            c == ';' && !in_quotes
        };
        for param in params.split(param_end) {
            let Some((name, val)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("rel") {
                let val = val.trim().trim_matches('"');
                rels.extend(val.split_whitespace().map(str::to_ascii_lowercase));
            }
        }
        links.push(Link { target, rels });
    }
}

/// The `rel="next"` target among all `Link` headers, if any.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_link_header)
        .find(|link| link.rels.iter().any(|r| r == "next"))
        .map(|link| link.target)
}

/// Whether `candidate` is on the same scheme, host and port as `org`.
pub fn same_origin(org: &Url, candidate: &Url) -> bool {
    org.scheme() == candidate.scheme()
        && org.host_str().map(str::to_ascii_lowercase)
            == candidate.host_str().map(str::to_ascii_lowercase)
        && org.port_or_known_default() == candidate.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn parses_okta_style_links() {
        let links = parse_link_header(
            r#"<https://x.okta.com/api/v1/users?limit=200>; rel="self", <https://x.okta.com/api/v1/users?after=00u2&limit=200>; rel="next""#,
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].rels, ["self"]);
        assert_eq!(
            links[1].target,
            "https://x.okta.com/api/v1/users?after=00u2&limit=200"
        );
        assert_eq!(links[1].rels, ["next"]);
    }

    #[test]
    fn tolerates_odd_spacing_quotes_and_multiple_rels() {
        let links = parse_link_header(
            r#"  <https://a/x?a=1,2> ;rel=next ; title="a, b" ,<https://a/y>; REL="prev last""#,
        );
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "https://a/x?a=1,2");
        assert_eq!(links[0].rels, ["next"]);
        assert_eq!(links[1].rels, ["prev", "last"]);
        assert!(parse_link_header("garbage").is_empty());
        assert!(parse_link_header("<unterminated; rel=next").is_empty());
        assert!(parse_link_header("").is_empty());
    }

    #[test]
    fn finds_next_among_several_link_headers() {
        let mut headers = HeaderMap::new();
        headers.append(
            LINK,
            HeaderValue::from_static(r#"<https://x.okta.com/api/v1/logs?since=a>; rel="self""#),
        );
        assert_eq!(next_link(&headers), None);
        headers.append(
            LINK,
            HeaderValue::from_static(
                r#"<https://x.okta.com/api/v1/logs?after=1700000000000_1&limit=1000>; rel="next""#,
            ),
        );
        assert_eq!(
            next_link(&headers).as_deref(),
            Some("https://x.okta.com/api/v1/logs?after=1700000000000_1&limit=1000")
        );
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let org = Url::parse("https://X.okta.com").unwrap();
        let ok = Url::parse("https://x.okta.com:443/api/v1/users?after=1").unwrap();
        assert!(same_origin(&org, &ok));
        for other in [
            "http://x.okta.com/api/v1/users",
            "https://x.okta.com.evil.example/api/v1/users",
            "https://x.okta.com:8443/api/v1/users",
            "https://evil.example/api/v1/users",
        ] {
            assert!(!same_origin(&org, &Url::parse(other).unwrap()), "{other}");
        }
    }
}
