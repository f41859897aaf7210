//! Okta's cursor pagination: pages, `after` cursors and page sizes. The `Link` headers are read
//! by `okta_mcp_common::okta_auth::links`, which the proxy shares; a `next` link is only ever
//! followed to the org's own origin, as following it elsewhere would send our token there.

use serde_json::Value;
use url::Url;

pub(crate) use okta_mcp_common::okta_auth::links::{next_link, parse_link_header, same_origin};

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

/// The `after` query parameter of a next-page URL: the cursor a tool hands back to the model.
pub fn after_cursor(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
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
