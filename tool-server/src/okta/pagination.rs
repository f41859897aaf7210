//! Okta's cursor pagination: `Link: <…?after=X>; rel="next"` headers.
//!
//! Okta sends one `Link` header per relation (or, behind some proxies, several joined by commas),
//! so every header value is parsed. A `next` link is only ever followed to the org's own origin:
//! the link comes from a response, and following it elsewhere would send our token there.

use reqwest::header::{HeaderMap, LINK};
use serde_json::Value;
use url::Url;

/// One page of a list, or several pages collected up to a limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The items, as Okta sent them.
    pub items: Vec<Value>,
    /// The `after` cursor of the next page, when there is one.
    pub next_after: Option<String>,
    /// True when items were cut at the limit where Okta gives no cursor to resume from
    /// (an endpoint without pagination, or a server that ignored `limit`).
    pub truncated: bool,
    /// True when the parse checked the type of every declared field
    /// ([`super::projection::Fields::checks_types`]), so the items need no second pass.
    pub types_checked: bool,
}

/// One entry of a `Link` header: its target and its relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub target: String,
    pub rels: Vec<String>,
}

/// Parses a `Link` header value (RFC 8288): `<url>; rel="next", <url>; rel="self"`.
/// Malformed entries are skipped, never an error.
pub(crate) fn parse_link_header(value: &str) -> Vec<Link> {
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
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_link_header)
        .find(|link| link.rels.iter().any(|r| r == "next"))
        .map(|link| link.target)
}

/// The `after` query parameter of a next-page URL: the cursor a tool hands back to the model.
pub fn after_cursor(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Whether `candidate` is on the same scheme, host and port as `org`.
pub(crate) fn same_origin(org: &Url, candidate: &Url) -> bool {
    org.scheme() == candidate.scheme()
        && org.host_str().map(str::to_ascii_lowercase)
            == candidate.host_str().map(str::to_ascii_lowercase)
        && org.port_or_known_default() == candidate.port_or_known_default()
}

/// Endpoints whose `limit` has a floor in Okta's Management API spec: Okta refuses a smaller
/// page, so such a request asks for the floor and [`super::OktaClient::list`] cuts the surplus
/// (then without a cursor, as it cannot resume in the middle of a page).
const SMALLEST_PAGES: &[(&[&str], usize)] = &[
    // listApplicationGroupAssignments: `limit` minimum 20, maximum 200, default 20.
    (&["apps", "*", "groups"], 20),
];

/// The smallest `limit` the endpoint at URL path `path` (…`/api/v1/apps/0oa1/groups`) accepts.
fn smallest_page(path: &str) -> usize {
    // Ids are single percent-encoded segments, so the last `/api/v1/` is where the API starts.
    let Some((_, endpoint)) = path.rsplit_once("/api/v1/") else {
        return 1;
    };
    let segments: Vec<&str> = endpoint.split('/').collect();
    SMALLEST_PAGES
        .iter()
        .find(|(pattern, _)| {
            pattern.len() == segments.len()
                && pattern
                    .iter()
                    .zip(&segments)
                    .all(|(want, got)| *want == "*" || want == got)
        })
        .map_or(1, |(_, smallest)| *smallest)
}

/// `url` with its `limit` parameter replaced by `limit` (or removed when `None`), so the last
/// page asks for exactly what is still wanted and the cursor after it is exact; never below
/// the endpoint's smallest page.
pub(crate) fn with_limit(url: &Url, limit: Option<usize>) -> Url {
    let limit = limit.map(|limit| limit.max(smallest_page(url.path())));
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "limit")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut out = url.clone();
    out.set_query(None);
    {
        let mut query = out.query_pairs_mut();
        for (k, v) in &pairs {
            query.append_pair(k, v);
        }
        if let Some(limit) = limit {
            query.append_pair("limit", &limit.to_string());
        }
    }
    if out.query() == Some("") {
        out.set_query(None);
    }
    out
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
        let next = next_link(&headers).unwrap();
        let url = Url::parse(&next).unwrap();
        assert_eq!(after_cursor(&url).as_deref(), Some("1700000000000_1"));
    }

    #[test]
    fn cursor_is_the_decoded_after_parameter() {
        let url = Url::parse("https://x.okta.com/api/v1/users?limit=2&after=a%2Bb%3D").unwrap();
        assert_eq!(after_cursor(&url).as_deref(), Some("a+b="));
        let url = Url::parse("https://x.okta.com/api/v1/users?limit=2&after=").unwrap();
        assert_eq!(after_cursor(&url), None);
        let url = Url::parse("https://x.okta.com/api/v1/users?limit=2").unwrap();
        assert_eq!(after_cursor(&url), None);
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

    #[test]
    fn limit_is_replaced_and_other_parameters_kept() {
        let url = Url::parse("https://x/api/v1/users?limit=200&after=00u9&search=a+b").unwrap();
        let out = with_limit(&url, Some(50));
        let pairs: Vec<(String, String)> = out.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("after".into(), "00u9".into()),
                ("search".into(), "a b".into()),
                ("limit".into(), "50".into())
            ]
        );
        assert_eq!(
            with_limit(&Url::parse("https://x/a?limit=3").unwrap(), None).as_str(),
            "https://x/a"
        );
    }

    #[test]
    fn app_group_pages_have_oktas_floor_of_20_and_nothing_else_does() {
        let limit_of = |url: &str, limit| {
            let url = with_limit(&Url::parse(url).unwrap(), Some(limit));
            limit_param(&url)
        };
        assert_eq!(limit_of("https://x/api/v1/apps/0oa1/groups", 5), "20");
        assert_eq!(
            limit_of("https://x/p/api/v1/apps/0oa1/groups?after=a", 1),
            "20"
        );
        assert_eq!(limit_of("https://x/api/v1/apps/0oa1/groups", 50), "50");
        assert_eq!(limit_of("https://x/api/v1/apps/0oa1/users", 5), "5");
        assert_eq!(limit_of("https://x/api/v1/groups", 5), "5");
        assert_eq!(limit_of("https://x/api/v1/apps/0oa1/groups/00g1", 5), "5");
        assert_eq!(limit_of("https://x/api/v1/apps/groups", 5), "5");
    }

    fn limit_param(url: &Url) -> String {
        url.query_pairs()
            .find(|(k, _)| k == "limit")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    }
}
