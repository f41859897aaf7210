//! Just enough JSON-RPC 2.0 to route messages without re-typing them.
//!
//! Messages stay `serde_json::Value`s from end to end, so fields this crate does not know (new
//! protocol revisions, `_meta`, extensions) reach the other side untouched.

use serde_json::{Value, json};

/// A JSON-RPC id as a map key: its JSON text, so `1` and `"1"` stay distinct ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct IdKey(String);

impl IdKey {
    /// The key of an id (or of a progress token, which has the same shape).
    pub(crate) fn of(id: &Value) -> Self {
        Self(id.to_string())
    }
}

/// What a message is, judged by its fields.
#[derive(Debug, PartialEq)]
pub(crate) enum Kind<'a> {
    /// Has a method and an id: it expects a response.
    Request { id: &'a Value, method: &'a str },
    /// Has a method and no id.
    Notification { method: &'a str },
    /// Has an id and a result or an error, no method.
    Response { id: &'a Value },
    /// Anything else.
    Invalid,
}

/// Classifies one message.
pub(crate) fn kind(message: &Value) -> Kind<'_> {
    let Some(object) = message.as_object() else {
        return Kind::Invalid;
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Kind::Invalid;
    }
    let method = object.get("method").and_then(Value::as_str);
    let id = object.get("id");
    match (method, id) {
        (Some(method), Some(id)) if id.is_string() || id.is_number() => {
            Kind::Request { id, method }
        }
        (Some(method), None) => Kind::Notification { method },
        (None, Some(id)) if object.contains_key("result") || object.contains_key("error") => {
            Kind::Response { id }
        }
        _ => Kind::Invalid,
    }
}

/// Whether a message is a response (which must never be sent on another request's stream).
pub(crate) fn is_response(message: &Value) -> bool {
    matches!(kind(message), Kind::Response { .. })
}

/// `params._meta.progressToken` of a request, if it asked for progress.
pub(crate) fn progress_token(message: &Value) -> Option<&Value> {
    message
        .pointer("/params/_meta/progressToken")
        .filter(|t| t.is_string() || t.is_number())
}

/// A JSON-RPC error response.
pub(crate) fn error_response(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Invalid Request.
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// Invalid params: also the Okta tools' answer for an unknown tool.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// The method does not exist or is not available.
pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
/// Internal error.
pub(crate) const INTERNAL_ERROR: i64 = -32603;
/// The request took too long (the code the MCP TypeScript SDK uses for its own timeouts).
pub(crate) const REQUEST_TIMEOUT: i64 = -32001;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
        assert_eq!(
            kind(&request),
            Kind::Request {
                id: &json!(1),
                method: "tools/list"
            }
        );
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(
            kind(&note),
            Kind::Notification {
                method: "notifications/initialized"
            }
        );
        let response = json!({"jsonrpc": "2.0", "id": "a", "result": {}});
        assert_eq!(kind(&response), Kind::Response { id: &json!("a") });
        let error = json!({"jsonrpc": "2.0", "id": 7, "error": {"code": 1, "message": "x"}});
        assert!(is_response(&error));
        for bad in [
            json!([]),
            json!("x"),
            json!({"id": 1, "method": "m"}),
            json!({"jsonrpc": "1.0", "id": 1, "method": "m"}),
            json!({"jsonrpc": "2.0", "id": null, "method": "tools/call"}),
            json!({"jsonrpc": "2.0", "id": [1], "method": "m"}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!({"jsonrpc": "2.0", "method": 5}),
        ] {
            assert_eq!(kind(&bad), Kind::Invalid, "{bad}");
        }
    }

    #[test]
    fn ids_of_different_types_are_different_keys() {
        assert_ne!(IdKey::of(&json!(1)), IdKey::of(&json!("1")));
        assert_eq!(IdKey::of(&json!("x")), IdKey::of(&json!("x")));
    }

    #[test]
    fn progress_tokens() {
        let with = json!({"params": {"_meta": {"progressToken": "t1"}}});
        assert_eq!(progress_token(&with), Some(&json!("t1")));
        assert_eq!(progress_token(&json!({"params": {}})), None);
        assert_eq!(
            progress_token(&json!({"params": {"_meta": {"progressToken": {}}}})),
            None
        );
    }
}
