//! Role → tool allowlist, read from a TOML policy file.
//!
//! Default deny: a role the file does not name, or a tool a role does not list, gets nothing.
//! The same [`ToolPolicy::allows`] decides both what `tools/list` shows and what `tools/call`
//! runs, so the two can never disagree. Write tools ([`crate::tools::is_write`]) are granted only
//! by name: `"*"` grants every read tool, so a policy written before they existed, or one that
//! grants "everything", does not hand out changes to Okta.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

/// The wildcard that grants every tool the server offers, except write tools (named only).
pub const ALL_TOOLS: &str = "*";

/// Why a policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("policy file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "policy file {path}: role `{role}` names tools that do not exist: {tools}; the tools are: {known}"
    )]
    UnknownTools {
        path: String,
        role: String,
        tools: String,
        known: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    roles: BTreeMap<String, RoleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    #[serde(default)]
    description: String,
    tools: Vec<String>,
}

/// What one role may use.
#[derive(Debug, Clone)]
pub struct RoleTools {
    pub description: String,
    all: bool,
    tools: BTreeSet<String>,
}

/// The role → tools rules of one policy file.
#[derive(Debug, Clone)]
pub struct ToolPolicy {
    source: String,
    roles: BTreeMap<String, RoleTools>,
}

impl ToolPolicy {
    /// Reads and parses a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses policy text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, PolicyError> {
        let invalid = |message: String| PolicyError::Invalid {
            path: source.to_owned(),
            message,
        };
        let file: PolicyFile = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut roles = BTreeMap::new();
        for (name, entry) in file.roles {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                return Err(invalid(format!(
                    "role name `{name}` must be lower-case letters, digits, `-` or `_`"
                )));
            }
            let all = entry.tools.iter().any(|t| t == ALL_TOOLS);
            let tools: BTreeSet<String> =
                entry.tools.into_iter().filter(|t| t != ALL_TOOLS).collect();
            if let Some(bad) = tools.iter().find(|t| t.trim().is_empty()) {
                return Err(invalid(format!(
                    "role `{name}` lists an empty tool name {bad:?}"
                )));
            }
            roles.insert(
                name,
                RoleTools {
                    description: entry.description,
                    all,
                    tools,
                },
            );
        }
        Ok(Self {
            source: source.to_owned(),
            roles,
        })
    }

    /// `role` as a metrics label: itself when the policy defines it, else `other`.
    pub fn role_label<'a>(&'a self, role: &str) -> &'a str {
        self.roles
            .get_key_value(role)
            .map_or(okta_mcp_common::metrics::OTHER, |(name, _)| name.as_str())
    }

    /// Whether `role` may see and call `tool`.
    pub fn allows(&self, role: &str, tool: &str) -> bool {
        self.roles
            .get(role)
            .is_some_and(|r| r.tools.contains(tool) || (r.all && !crate::tools::is_write(tool)))
    }

    /// Fails naming the first role that lists a tool not in `known`.
    pub fn check_tools_exist(&self, known: &[&str]) -> Result<(), PolicyError> {
        for (role, rule) in &self.roles {
            let missing: Vec<&str> = rule
                .tools
                .iter()
                .map(String::as_str)
                .filter(|t| !known.contains(t))
                .collect();
            if !missing.is_empty() {
                return Err(PolicyError::UnknownTools {
                    path: self.source.clone(),
                    role: role.clone(),
                    tools: missing.join(", "),
                    known: known.join(", "),
                });
            }
        }
        Ok(())
    }

    /// Every tool name the policy lists by name (not through `*`), for warnings about absent tools.
    pub fn named_tools(&self) -> BTreeSet<&str> {
        self.roles
            .values()
            .flat_map(|r| r.tools.iter().map(String::as_str))
            .collect()
    }

    /// Each role (sorted by name) with the tools of `known` it may use, in `known`'s order.
    pub fn explain<'a>(&self, known: &[&'a str]) -> Vec<(&str, &RoleTools, Vec<&'a str>)> {
        self.roles
            .iter()
            .map(|(role, rule)| {
                let tools = known
                    .iter()
                    .copied()
                    .filter(|t| self.allows(role, t))
                    .collect();
                (role.as_str(), rule, tools)
            })
            .collect()
    }

    /// A Markdown table of `known` tools × roles (fewest tools first), with whether each tool
    /// reads or writes, as the README shows it.
    pub fn markdown_table(&self, known: &[&str]) -> String {
        let mut roles = self.explain(known);
        roles.sort_by(|a, b| a.2.len().cmp(&b.2.len()).then(a.0.cmp(b.0)));
        let mut out = String::from("| tool | reads or writes |");
        for (role, _, tools) in &roles {
            out.push_str(&format!(" {role} ({}) |", tools.len()));
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---|".repeat(roles.len()));
        out.push('\n');
        for tool in known {
            let kind = if crate::tools::is_write(tool) {
                "**write**"
            } else {
                "read"
            };
            out.push_str(&format!("| `{tool}` | {kind} |"));
            for (_, _, tools) in &roles {
                out.push_str(if tools.contains(tool) { " ✓ |" } else { " |" });
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
        [roles.viewer]
        description = "reads"
        tools = ["get_okta_user", "list_okta_users"]

        [roles.super-admin]
        tools = ["*"]
    "#;

    #[test]
    fn default_deny_and_wildcard() {
        let p = ToolPolicy::parse(POLICY, "test").unwrap();
        assert!(p.allows("viewer", "get_okta_user"));
        assert!(!p.allows("viewer", "list_okta_network_zones"));
        assert!(!p.allows("nobody", "get_okta_user"));
        assert!(!p.allows("", "get_okta_user"));
        assert!(!p.allows("VIEWER", "get_okta_user"));
        assert!(p.allows("super-admin", "anything"));
    }

    #[test]
    fn the_wildcard_grants_no_write_tool_naming_one_does() {
        let p = ToolPolicy::parse(
            r#"
            [roles.all-reads]
            tools = ["*"]
            [roles.desk]
            tools = ["*", "unsuspend_okta_user"]
            "#,
            "test",
        )
        .unwrap();
        for write in crate::tools::WRITE_TOOL_NAMES {
            assert!(!p.allows("all-reads", write), "{write}");
            assert_eq!(p.allows("desk", write), write == "unsuspend_okta_user");
        }
        assert!(p.allows("all-reads", "list_okta_network_zones"));
    }

    #[test]
    fn unknown_tools_are_named() {
        let p = ToolPolicy::parse(POLICY, "okta-tools.toml").unwrap();
        let err = p
            .check_tools_exist(&["get_okta_user"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("list_okta_users"), "{err}");
        assert!(err.contains("viewer"), "{err}");
        assert!(
            p.check_tools_exist(&["get_okta_user", "list_okta_users"])
                .is_ok()
        );
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        for (text, needle) in [
            ("roles = 3", "invalid type"),
            ("[roles.viewer]\ntool = [\"a\"]", "unknown field"),
            ("[roles.Viewer]\ntools = []", "lower-case"),
            ("[roles.viewer]\ntools = [\"\"]", "empty tool name"),
            (
                "[roles.viewer]\ntools = [\"a\"]\n[other]\nx = 1",
                "unknown field",
            ),
            ("not toml at all [", "TOML"),
        ] {
            let err = ToolPolicy::parse(text, "p.toml").unwrap_err().to_string();
            assert!(err.contains("p.toml"), "{err}");
            assert!(
                err.to_lowercase().contains(&needle.to_lowercase()),
                "{text:?}: {err}"
            );
        }
    }

    #[test]
    fn shipped_policy_has_the_default_roles() {
        let text = include_str!("../../policies/okta-tools.toml");
        let p = ToolPolicy::parse(text, "okta-tools.toml").unwrap();
        let count = |role: &str| {
            crate::tools::TOOL_NAMES
                .iter()
                .filter(|t| p.allows(role, t))
                .count()
        };
        assert_eq!(count("viewer"), 12);
        assert_eq!(count("security-admin"), 20);
        assert_eq!(count("super-admin"), 26);
        assert!(!p.allows("security-admin", "list_okta_network_zones"));
        // Writes: every one for super-admin; signing out and unsuspending for security-admin.
        for write in crate::tools::WRITE_TOOL_NAMES {
            assert!(p.allows("super-admin", write), "{write}");
            assert!(!p.allows("viewer", write), "{write}");
            assert_eq!(
                p.allows("security-admin", write),
                matches!(write, "clear_okta_user_sessions" | "unsuspend_okta_user"),
                "{write}"
            );
        }
        for hidden in [
            "list_okta_user_factors",
            "list_okta_application_users",
            "list_okta_application_groups",
        ] {
            assert!(!p.allows("viewer", hidden), "{hidden}");
        }
        p.check_tools_exist(&crate::tools::TOOL_NAMES).unwrap();
    }

    #[test]
    fn readme_role_table_matches_the_shipped_policy() {
        let text = include_str!("../../policies/okta-tools.toml");
        let p = ToolPolicy::parse(text, "okta-tools.toml").unwrap();
        let table = p.markdown_table(&crate::tools::TOOL_NAMES);
        let readme = include_str!("../../README.md");
        assert!(
            readme.contains(&table),
            "README's role table is out of date; paste the output of \
             `okta-mcp-tool-server policy explain --markdown policies/okta-tools.toml`:\n{table}"
        );
    }
}
