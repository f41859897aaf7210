//! Tool results: structured content for programs, one compact text for the model.
//!
//! Okta objects carry `_links` (and `_embedded` with `expand`) that only cost tokens, so both
//! forms drop them. The text is one line per list item with the fields an administrator looks
//! at first, or `field: value` lines for one object, never a raw JSON dump.

use std::borrow::Cow;

use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use super::shape::{Shape, conform_all};
use crate::okta::{OktaError, Page};

/// Most `field: value` lines the text of one object gets; the rest is in structured content.
const MAX_OBJECT_LINES: usize = 200;
/// Longest single value shown in text.
const MAX_VALUE_CHARS: usize = 300;

/// Why a tool call failed: the caller's arguments, or Okta.
#[derive(Debug)]
pub(crate) enum ToolFailure {
    /// An argument is missing or wrong; the message says what to fix.
    InvalidArgument(String),
    /// Okta refused or could not be reached.
    Okta(OktaError),
}

impl From<OktaError> for ToolFailure {
    fn from(err: OktaError) -> Self {
        match err {
            OktaError::InvalidRequest(message) => Self::InvalidArgument(message),
            other => Self::Okta(other),
        }
    }
}

impl ToolFailure {
    /// An invalid-argument failure.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }

    /// The failure as an `isError` result: a one-line text and a JSON object.
    pub(crate) fn into_result(self) -> CallToolResult {
        let (text, structured) = match self {
            Self::InvalidArgument(message) => (
                format!("Invalid argument: {message}"),
                json!({ "error": "invalid_argument", "message": message }),
            ),
            Self::Okta(err) => (err.to_string(), err.to_json()),
        };
        let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
        result.structured_content = Some(structured);
        result
    }
}

impl IntoCallToolResult for ToolFailure {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        Ok(self.into_result().into())
    }
}

/// What a tool returns: a result, or a failure rendered as an `isError` result.
pub(crate) type ToolResult = Result<CallToolResult, ToolFailure>;

/// Removes `_links` and `_embedded` at every depth: for answers parsed with `_embedded` kept
/// (an `expand`), once what was needed from it has been copied out.
pub(crate) fn strip_links(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("_links");
            map.remove("_embedded");
            map.values_mut().for_each(strip_links);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_links),
        _ => {}
    }
}

/// A successful result from its structured form and its text.
pub(crate) fn success(structured: Value, text: String) -> CallToolResult {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    result
}

/// A list result: `{key: [...], "count": n, "after": cursor}` (`after` only when more exist,
/// `"truncated": true` when items were cut without a cursor, and the `extra` keys), and a text
/// with a header line and `line(item)` per item. The items hold what `shape` declares (and the
/// caller's `fields`): the Okta client parsed only those (`okta::projection`).
pub(crate) fn list_result(
    key: &str,
    noun: &str,
    page: Page,
    shape: &Shape,
    line: impl Fn(&Value) -> String,
    extra: Map<String, Value>,
) -> CallToolResult {
    let mut items = page.items;
    if !page.types_checked {
        conform_all(shape, &mut items);
    }
    let count = items.len();
    // Room for a typical line per item, so the text is not copied as it grows.
    let mut text = String::with_capacity(64 + count * 96);
    if count == 0 {
        text.push_str(&format!("No {noun} found."));
    } else {
        text.push_str(&format!("{count} {noun}:"));
    }
    for item in &items {
        text.push('\n');
        text.push_str(&line(item));
    }
    if let Some(after) = &page.next_after {
        text.push_str(&format!(
            "\nMore {noun} exist: call again with after=\"{after}\" (and the same filters)."
        ));
    } else if page.truncated {
        text.push_str(&format!(
            "\nOnly the first {count} are shown (limit reached, and Okta gave no cursor to resume \
             from: ask again with a larger limit)."
        ));
    }
    let mut structured = Map::new();
    structured.insert(key.to_string(), Value::Array(items));
    structured.insert("count".into(), json!(count));
    if let Some(after) = page.next_after {
        structured.insert("after".into(), json!(after));
    }
    if page.truncated {
        structured.insert("truncated".into(), json!(true));
    }
    structured.extend(extra);
    success(Value::Object(structured), text)
}

/// `result` with `note` appended to its text.
pub(crate) fn with_note(mut result: CallToolResult, note: &str) -> CallToolResult {
    if let Some(ContentBlock::Text(content)) = result.content.first_mut() {
        content.text.push('\n');
        content.text.push_str(note);
    }
    result
}

/// A one-object result: `{key: object}` and a text with `title` then `field: value` lines.
pub(crate) fn object_result(key: &str, title: String, object: Value) -> CallToolResult {
    let mut lines = vec![title];
    let mut fields = Vec::new();
    flatten("", &object, &mut fields);
    let total = fields.len();
    lines.extend(fields.into_iter().take(MAX_OBJECT_LINES));
    if total > MAX_OBJECT_LINES {
        lines.push(format!(
            "… {} more fields in the structured result",
            total - MAX_OBJECT_LINES
        ));
    }
    let mut structured = Map::new();
    structured.insert(key.to_string(), object);
    success(Value::Object(structured), lines.join("\n"))
}

/// `path: value` lines for every non-empty leaf; arrays of scalars on one line.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            // An object's own scalars first, then its nested objects: `id`, `status`, … read
            // before the long `profile.*` and `credentials.*` runs.
            let (scalars, containers): (Vec<_>, Vec<_>) = map
                .iter()
                .partition(|(_, child)| !child.is_object() && !is_object_array(child));
            for (key, child) in scalars.into_iter().chain(containers) {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, child, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            let joined: Vec<String> = items.iter().filter_map(scalar).collect();
            if !joined.is_empty() {
                out.push(format!("{prefix}: {}", clip(&joined.join(", "))));
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), child, out);
            }
        }
        other => {
            if let Some(text) = scalar(other) {
                out.push(format!("{prefix}: {}", clip(&text)));
            }
        }
    }
}

fn is_object_array(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().any(|i| i.is_object() || i.is_array()))
}

/// A scalar as text; `None` for null, empty strings and containers.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn clip(text: &str) -> Cow<'_, str> {
    // Most values are short single lines: borrowed as they are.
    if text.len() <= MAX_VALUE_CHARS && !text.bytes().any(|b| b == b'\n' || b == b'\r') {
        return Cow::Borrowed(text);
    }
    let single_line = text.replace(['\n', '\r'], " ");
    Cow::Owned(if single_line.chars().count() <= MAX_VALUE_CHARS {
        single_line
    } else {
        let cut: String = single_line.chars().take(MAX_VALUE_CHARS).collect();
        format!("{cut}…")
    })
}

/// The scalar at a dotted path (`profile.login`, `target.0.alternateId`), as text.
pub(crate) fn field(value: &Value, path: &str) -> Option<String> {
    text_at(value, path).map(Cow::into_owned)
}

/// [`field`], borrowed from `value` when the text is shown as it is (most values).
fn text_at<'a>(value: &'a Value, path: &str) -> Option<Cow<'a, str>> {
    let mut current = value;
    for part in path.split('.') {
        current = match current {
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            other => other.get(part)?,
        };
    }
    shown(current)
}

/// A scalar as a list line or a `field: value` line shows it: `None` for null, empty strings
/// and containers, long or multi-line text clipped.
pub(crate) fn shown(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(clip(s)),
        other => scalar(other).map(|s| Cow::Owned(clip(&s).into_owned())),
    }
}

/// The `id` of an object Okta answered (`what` names it in the error, e.g. "the user x").
pub(crate) fn okta_id(object: &Value, what: &str) -> Result<String, OktaError> {
    object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| OktaError::BadResponse(format!("{what} came back without an id")))
}

/// The first of `paths` that has a value.
pub(crate) fn first_field(value: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|p| field(value, p))
}

/// Joins the present parts with two spaces: the shape of every list line.
pub(crate) fn join_parts(parts: impl IntoIterator<Item = Option<String>>) -> String {
    let mut line = Line::default();
    for part in parts {
        line.push(part.as_deref());
    }
    line.finish()
}

/// A list line built in one buffer: the present parts joined by two spaces ([`join_parts`]
/// for parts that are already owned).
#[derive(Default)]
pub(crate) struct Line(String);

impl Line {
    /// Adds `part` when there is one.
    pub(crate) fn push(&mut self, part: Option<&str>) {
        if let Some(part) = part {
            self.push_words(&[part]);
        }
    }

    /// Adds one part made of `words` joined by a space (a first and last name).
    pub(crate) fn push_words(&mut self, words: &[&str]) {
        if self.0.is_empty() {
            self.0.reserve(96);
        } else {
            self.0.push_str("  ");
        }
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                self.0.push(' ');
            }
            self.0.push_str(word);
        }
    }

    /// The line, or `(no fields)` when no part was present.
    pub(crate) fn finish(self) -> String {
        if self.0.is_empty() {
            "(no fields)".into()
        } else {
            self.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shape that declares nothing: items pass as they are.
    const AS_IS: Shape = Shape {
        what: "test items",
        fields: &[],
    };

    fn text_of(result: &CallToolResult) -> &str {
        assert_eq!(result.content.len(), 1);
        &result.content[0].as_text().unwrap().text
    }

    #[test]
    fn links_and_embedded_are_removed_at_every_depth() {
        let mut value = json!({
            "id": "00u1",
            "_links": {"self": {"href": "https://x"}},
            "profile": {"login": "a@b.c", "_links": {}},
            "list": [{"_embedded": {"user": {}}, "keep": 1}],
            "_embedded": {"stats": {}}
        });
        strip_links(&mut value);
        assert_eq!(
            value,
            json!({"id": "00u1", "profile": {"login": "a@b.c"}, "list": [{"keep": 1}]})
        );
    }

    /// `value` as the Okta client hands it over: parsed without `_links`.
    fn as_from_okta(value: Value) -> Value {
        crate::okta::projection::parse_whole(&serde_json::to_vec(&value).unwrap(), false).unwrap()
    }

    #[test]
    fn a_list_is_one_line_per_item_with_the_cursor() {
        let page = Page {
            items: vec![
                as_from_okta(json!({"id": "00u1", "status": "ACTIVE", "_links": {"self": {}}})),
                json!({"id": "00u2", "status": "SUSPENDED"}),
            ],
            next_after: Some("00u2".into()),
            truncated: false,
            types_checked: false,
        };
        let result = list_result(
            "users",
            "users",
            page,
            &AS_IS,
            |u| join_parts([field(u, "id"), field(u, "status")]),
            Map::new(),
        );
        assert_eq!(
            text_of(&result),
            "2 users:\n00u1  ACTIVE\n00u2  SUSPENDED\n\
             More users exist: call again with after=\"00u2\" (and the same filters)."
        );
        let structured = result.structured_content.unwrap();
        assert_eq!(structured["count"], 2);
        assert_eq!(structured["after"], "00u2");
        assert!(structured["users"][0].get("_links").is_none());
        assert!(structured.get("truncated").is_none());
        assert_eq!(result.is_error, Some(false));
    }

    #[test]
    fn an_empty_or_truncated_list_says_so() {
        let empty = list_result(
            "groups",
            "groups",
            Page::default(),
            &AS_IS,
            |_| String::new(),
            Map::new(),
        );
        assert_eq!(text_of(&empty), "No groups found.");
        assert_eq!(empty.structured_content.unwrap()["after"], Value::Null);
        let cut = Page {
            items: vec![json!({"id": 1})],
            next_after: None,
            truncated: true,
            types_checked: false,
        };
        let cut = list_result(
            "factors",
            "factors",
            cut,
            &AS_IS,
            |f| join_parts([field(f, "id")]),
            Map::new(),
        );
        assert!(text_of(&cut).contains("Only the first 1 are shown"));
        assert_eq!(cut.structured_content.unwrap()["truncated"], true);
    }

    #[test]
    fn an_object_is_field_lines_without_nulls_or_links() {
        let result = object_result(
            "user",
            "User 00u1".into(),
            as_from_okta(json!({
                "id": "00u1",
                "status": "ACTIVE",
                "lastLogin": null,
                "profile": {"login": "a@b.c", "nickName": "", "tags": ["x", "y"]},
                "credentials": {"emails": [{"value": "a@b.c"}]},
                "_links": {"self": {"href": "https://x"}}
            })),
        );
        assert_eq!(
            text_of(&result),
            "User 00u1\nid: 00u1\nstatus: ACTIVE\ncredentials.emails[0].value: a@b.c\n\
             profile.login: a@b.c\nprofile.tags: x, y"
        );
        let structured = result.structured_content.unwrap();
        assert!(structured["user"].get("_links").is_none());
    }

    #[test]
    fn fields_follow_dotted_paths_and_clip_long_values() {
        let event = json!({"target": [{"alternateId": "app"}], "n": 3, "long": "x".repeat(400)});
        assert_eq!(
            field(&event, "target.0.alternateId").as_deref(),
            Some("app")
        );
        assert_eq!(field(&event, "target.1.alternateId"), None);
        assert_eq!(field(&event, "n").as_deref(), Some("3"));
        assert_eq!(field(&event, "missing.path"), None);
        assert_eq!(
            field(&event, "long").unwrap().chars().count(),
            MAX_VALUE_CHARS + 1
        );
        assert_eq!(first_field(&event, &["nope", "n"]).as_deref(), Some("3"));
    }

    #[test]
    fn failures_are_error_results_with_oktas_code() {
        let err = OktaError::from_response(
            404,
            br#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)"}"#,
        );
        let result = ToolFailure::from(err).into_result();
        assert_eq!(result.is_error, Some(true));
        assert_eq!(
            text_of(&result),
            "Okta error E0000007: Not found: Resource not found: x (User)"
        );
        let structured = result.structured_content.unwrap();
        assert_eq!(structured["errorCode"], "E0000007");
        assert_eq!(structured["status"], 404);

        let result = ToolFailure::invalid("limit must be between 1 and 1000 (got 0)").into_result();
        assert_eq!(result.is_error, Some(true));
        assert!(text_of(&result).starts_with("Invalid argument: limit"));
        assert_eq!(
            result.structured_content.unwrap()["error"],
            "invalid_argument"
        );
    }
}
