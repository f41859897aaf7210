//! `GET /api/v1/logs`, the System Log.
//!
//! The part clients get wrong: without `until` a query is a *polling* query and Okta always sends
//! a `next` link, even on an empty page, so a client that pages "until there is no next link"
//! never stops. With `until` (a bounded query) the last page has no `next`. `since` defaults to
//! seven days before `until`, `limit` to 100 (0–1000), `sortOrder` to `ASCENDING`; `q` holds up to
//! ten keywords of at most 40 characters that must all match; bad filters answer E0000053.

use super::request::{ApiRequest, list_response};
use crate::fake_okta::error::ApiError;
use crate::fake_okta::pagination::{Cursor, LimitRule, Page};
use crate::fake_okta::scim::{CaseRule, Filter};
use crate::fake_okta::state::AppState;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

const LIMIT: LimitRule = LimitRule {
    default: Some(100),
    max: 1000,
    min: 0,
};

fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::Validation {
            field: format!("'{name}': The date format in your query is not recognized. Please enter dates using ISO8601 string format.. '{name}': must be a valid date-time or empty."),
            causes: vec![
                format!("{name}: The date format in your query is not recognized. Please enter dates using ISO8601 string format."),
                format!("{name}: must be a valid date-time or empty."),
            ],
        })
}

fn keywords(raw: Option<&str>) -> Result<Vec<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let words: Vec<String> = raw.split_whitespace().map(str::to_lowercase).collect();
    if words.iter().any(|w| w.chars().count() > 40) {
        return Err(ApiError::Validation {
            field: "'q': Freeform search cannot contain items longer than 40 characters. Please shorten the items in your search or use an advanced filter to query by specific fields.".to_owned(),
            causes: Vec::new(),
        });
    }
    if words.len() > 10 {
        return Err(ApiError::invalid_param(
            "q",
            "at most 10 keywords are allowed",
        ));
    }
    Ok(words)
}

/// Whether some string value of `doc` equals `keyword` as a whole, as a word, or as a hyphen part.
fn contains_keyword(doc: &Value, keyword: &str) -> bool {
    match doc {
        Value::String(s) => {
            let lower = s.to_lowercase();
            lower == keyword
                || lower
                    .split_whitespace()
                    .any(|word| word == keyword || word.split('-').any(|part| part == keyword))
        }
        Value::Array(items) => items.iter().any(|v| contains_keyword(v, keyword)),
        Value::Object(map) => map.values().any(|v| contains_keyword(v, keyword)),
        _ => false,
    }
}

/// `GET /api/v1/logs`.
pub async fn list(
    State(state): State<AppState>,
    request: ApiRequest,
) -> Result<Response, ApiError> {
    let url = &request.url;
    let org = state.org();
    let now = Utc::now();
    let limit = LIMIT.resolve(url.param("limit"))?;
    let descending = match url.non_empty_param("sortOrder").map(str::trim) {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "sortOrder",
                "must be ASCENDING or DESCENDING",
            ));
        }
    };
    let until = url
        .non_empty_param("until")
        .map(|u| parse_time("until", u))
        .transpose()?;
    let polling = until.is_none();
    let until = until.unwrap_or(now);
    let since = match url.non_empty_param("since") {
        Some(raw) => parse_time("since", raw)?,
        None => until - Duration::days(7),
    };
    if since < now - Duration::days(180) {
        return Err(ApiError::InvalidLogQuery {
            summary:
                "Invalid parameter: The since parameter is over 180 days prior to the current day."
                    .to_owned(),
        });
    }
    let filter = match url.non_empty_param("filter") {
        None => None,
        Some(raw) => {
            let filter = Filter::parse(raw).map_err(|e| ApiError::InvalidLogQuery {
                summary: format!(
                    "Invalid filter '{}': {}",
                    super::request::truncate(raw),
                    e.message
                ),
            })?;
            if filter.attributes().contains(&"published") {
                return Err(ApiError::InvalidLogQuery {
                    summary: "Invalid filter: the published attribute cannot be filtered on; use since and until".to_owned(),
                });
            }
            Some(filter)
        }
    };
    let words = keywords(url.non_empty_param("q"))?;

    let events = &org.dataset.log_events;
    let mut selected: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].published >= since && events[i].published < until)
        .filter(|&i| {
            filter
                .as_ref()
                .is_none_or(|f| f.matches(&org.event_docs[i], CaseRule::Sensitive))
        })
        .filter(|&i| {
            words
                .iter()
                .all(|w| contains_keyword(&org.event_docs[i], w))
        })
        .collect();
    if descending {
        selected.reverse();
    }
    let page = Page::cut(selected.len(), url.param("after"), limit)?;
    let next = match page.next {
        Some(cursor) => Some(cursor),
        // A polling query never ends: the next page may hold events that arrive later.
        None if polling => Some(Cursor(page.end)),
        None => None,
    };
    let items = selected[page.start..page.end]
        .iter()
        .map(|&i| org.event_docs[i].clone())
        .collect();
    Ok(list_response(url, items, next, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keywords_match_whole_words_and_hyphen_parts() {
        let doc = json!({"a": "Jane Doe", "b": ["XOxBw-2JIRn"], "c": {"d": "alice@example.com"}});
        for keyword in [
            "jane",
            "doe",
            "xoxbw",
            "2jirn",
            "xoxbw-2jirn",
            "alice@example.com",
            "jane doe",
        ] {
            assert!(contains_keyword(&doc, keyword), "{keyword}");
        }
        for keyword in ["jan", "example", "bob"] {
            assert!(!contains_keyword(&doc, keyword), "{keyword}");
        }
    }

    #[test]
    fn keyword_limits() {
        assert_eq!(keywords(Some("a b")).map(|k| k.len()), Ok(2));
        assert!(keywords(Some(&"x".repeat(41))).is_err());
        assert!(keywords(Some("1 2 3 4 5 6 7 8 9 10 11")).is_err());
    }

    #[test]
    fn times_parse_or_fail_like_okta() {
        assert!(parse_time("since", "2017-05-03T16:22:18Z").is_ok());
        assert!(parse_time("since", "2017-05-03T16:22:18.123+02:00").is_ok());
        let err = parse_time("until", "yesterday").unwrap_err();
        assert_eq!(err.code(), "E0000001");
    }
}
