//! What the policy hides of a wrapped server: the tools the caller's role may not use.
//!
//! The same [`ToolPolicy::allows`] as for the Okta tools filters `tools/list` results and
//! refuses `tools/call` before it reaches the child. A refused call must not reveal that the
//! tool exists, so it gets the answer the wrapped server itself gives for a tool that does not
//! exist: once per session the wrapper asks the child for a tool with a random name nobody can
//! have registered, keeps that answer as a template, and fills in the refused name (see
//! [`UnknownToolAnswer`]).

use okta_mcp_common::logging::escaped;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use super::jsonrpc::INVALID_PARAMS;
use crate::metrics::METRICS;
use crate::policy::ToolPolicy;

/// The policy, applied to one wrapped server's tools.
pub(crate) struct ToolGate {
    policy: Arc<ToolPolicy>,
    checked_names: AtomicBool,
}

impl ToolGate {
    pub(crate) fn new(policy: Arc<ToolPolicy>) -> Self {
        Self {
            policy,
            checked_names: AtomicBool::new(false),
        }
    }

    /// Whether `role` may see and call `tool`.
    pub(crate) fn allows(&self, role: &str, tool: &str) -> bool {
        self.policy.allows(role, tool)
    }

    /// `role` as a metrics label (see [`ToolPolicy::role_label`]).
    pub(crate) fn role_label<'a>(&'a self, role: &str) -> &'a str {
        self.policy.role_label(role)
    }

    /// Removes from a `tools/list` response the tools `role` may not use. `complete` says the
    /// request asked for the first page; if the answer is also the last page, the first such
    /// answer is checked for tools the policy names that the server does not offer.
    pub(crate) fn filter_tools_list(&self, role: &str, response: &mut Value, complete: bool) {
        let Some(result) = response.get_mut("result") else {
            return;
        };
        let last_page = result.get("nextCursor").is_none_or(Value::is_null);
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            return;
        };
        // The tools the child offers become tool labels of their own (up to a cap).
        METRICS.know_tools(
            tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str)),
        );
        if complete && last_page && !self.checked_names.swap(true, Ordering::Relaxed) {
            let offered: BTreeSet<&str> = tools
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .collect();
            for missing in self.policy.named_tools().difference(&offered) {
                tracing::warn!(
                    tool = %escaped(missing),
                    "the policy names a tool the wrapped server does not offer (at its first tools/list)"
                );
            }
        }
        tools.retain(|tool| {
            tool.get("name")
                .and_then(Value::as_str)
                .is_some_and(|name| self.allows(role, name))
        });
    }
}

/// The tool name of a `tools/call` as the gate sees it: a string, or the JSON text of anything
/// else (which no policy names, so it is refused rather than coerced by the child).
pub(crate) fn called_tool(request: &Value) -> Result<&str, String> {
    match request.pointer("/params/name") {
        Some(Value::String(name)) => Ok(name),
        Some(other) => Err(other.to_string()),
        None => Err(String::new()),
    }
}

/// The wrapped server's answer to a call of a tool that does not exist, as a template.
#[derive(Debug, Clone)]
pub(crate) struct UnknownToolAnswer {
    template: Value,
    placeholder: Option<String>,
}

impl UnknownToolAnswer {
    /// A tool name no server has: asked for once per session to learn the answer's shape.
    pub(crate) fn probe_name() -> String {
        format!("okta-mcp-no-such-tool-{:032x}", rand::random::<u128>())
    }

    /// The template from the child's answer to a call of `probe_name`; `None` unless that
    /// answer is a JSON-RPC error or an `isError` result (anything else is not trusted).
    pub(crate) fn from_probe(probe_name: &str, mut answer: Value) -> Option<Self> {
        let refused = answer.get("error").is_some_and(Value::is_object)
            || answer.pointer("/result/isError") == Some(&Value::Bool(true));
        if !refused {
            return None;
        }
        if let Some(object) = answer.as_object_mut() {
            object.remove("id");
        }
        Some(Self {
            template: answer,
            placeholder: Some(probe_name.to_owned()),
        })
    }

    /// The Okta tool server's own answer, for when the child's cannot be learned.
    pub(crate) fn builtin() -> Self {
        Self {
            template: json!({
                "jsonrpc": "2.0",
                "error": {"code": INVALID_PARAMS, "message": "Unknown tool: \u{0}"}
            }),
            placeholder: Some("\u{0}".to_owned()),
        }
    }

    /// The answer to request `id` that called `tool`.
    pub(crate) fn answer(&self, id: &Value, tool: &str) -> Value {
        let mut answer = self.template.clone();
        if let Some(placeholder) = &self.placeholder {
            replace_in_strings(&mut answer, placeholder, tool);
        }
        if let Some(object) = answer.as_object_mut() {
            object.insert("id".into(), id.clone());
        }
        answer
    }
}

fn replace_in_strings(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| replace_in_strings(v, from, to)),
        Value::Object(map) => map
            .values_mut()
            .for_each(|v| replace_in_strings(v, from, to)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> ToolGate {
        let policy = ToolPolicy::parse(
            r#"
            [roles.viewer]
            tools = ["echo", "get-sum", "not-offered"]
            [roles.super-admin]
            tools = ["*"]
            "#,
            "test",
        )
        .unwrap();
        ToolGate::new(Arc::new(policy))
    }

    fn list() -> Value {
        json!({"jsonrpc": "2.0", "id": 3, "result": {"tools": [
            {"name": "echo", "inputSchema": {"type": "object"}},
            {"name": "get-env"},
            {"name": "get-sum"},
            {"nameless": true}
        ]}})
    }

    fn names(response: &Value) -> Vec<&str> {
        response["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect()
    }

    #[test]
    fn tools_list_is_filtered_by_role_and_keeps_the_rest_untouched() {
        let gate = gate();
        let mut viewer = list();
        gate.filter_tools_list("viewer", &mut viewer, true);
        assert_eq!(names(&viewer), ["echo", "get-sum"]);
        assert_eq!(
            viewer["result"]["tools"][0]["inputSchema"]["type"],
            "object"
        );
        assert_eq!(viewer["id"], 3);
        let mut admin = list();
        gate.filter_tools_list("super-admin", &mut admin, true);
        assert_eq!(names(&admin), ["echo", "get-env", "get-sum"]);
        let mut nobody = list();
        gate.filter_tools_list("contractor", &mut nobody, true);
        assert!(names(&nobody).is_empty());
        // Errors and odd results pass through.
        let mut error = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 1, "message": "x"}});
        gate.filter_tools_list("viewer", &mut error, true);
        assert_eq!(error["error"]["code"], 1);
    }

    #[test]
    fn refused_calls_get_the_childs_unknown_tool_answer() {
        let probe = UnknownToolAnswer::probe_name();
        let child_says = json!({"jsonrpc": "2.0", "id": "p", "result": {
            "content": [{"type": "text", "text": format!("MCP error -32602: Tool {probe} not found")}],
            "isError": true
        }});
        let answer = UnknownToolAnswer::from_probe(&probe, child_says).unwrap();
        let got = answer.answer(&json!(7), "get-env");
        assert_eq!(
            got,
            json!({"jsonrpc": "2.0", "id": 7, "result": {
                "content": [{"type": "text", "text": "MCP error -32602: Tool get-env not found"}],
                "isError": true
            }})
        );
        // A child that answers an unknown tool with success is not used as a template.
        let odd = json!({"jsonrpc": "2.0", "id": "p", "result": {"content": []}});
        assert!(UnknownToolAnswer::from_probe(&probe, odd).is_none());
        let builtin = UnknownToolAnswer::builtin().answer(&json!("a"), "x\"y");
        assert_eq!(
            builtin,
            json!({"jsonrpc": "2.0", "id": "a", "error": {"code": -32602, "message": "Unknown tool: x\"y"}})
        );
    }

    #[test]
    fn tool_names_that_are_not_strings_are_not_names() {
        // A JavaScript server would coerce ["get-env"] to "get-env": the session refuses any
        // call whose name is not a string, whatever the role.
        assert_eq!(
            called_tool(&json!({"params": {"name": ["get-env"]}})),
            Err("[\"get-env\"]".to_owned())
        );
        assert_eq!(
            called_tool(&json!({"params": {"name": 5}})),
            Err("5".to_owned())
        );
        assert_eq!(called_tool(&json!({"params": {}})), Err(String::new()));
        assert_eq!(
            called_tool(&json!({"params": {"name": "echo"}})),
            Ok("echo")
        );
    }
}
