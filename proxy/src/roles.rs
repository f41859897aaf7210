//! Okta groups → one role (policies/roles.toml plus `GROUP_TO_ROLE_*`).
//!
//! The file lists roles highest first; a user gets the first role any of their groups grants
//! ("highest role wins", as in the original Python server). Group names compare ASCII
//! case-insensitively.
//!
//! `GROUP_TO_ROLE_<ROLE>="Group A,Group B"` (the original server's variables) REPLACE the groups
//! of that role from the file, so an operator who names the groups in the environment gets exactly
//! those (a group from the shipped demo file never grants a role by accident). A variable for a
//! role the file does not list appends that role BELOW every role of the file (several such roles
//! in the order of their names): the file's precedence stays the authority, and a role unknown to
//! the tool policy grants no tools anyway. An empty value leaves the role with no granting group.

use std::path::Path;

use serde::Deserialize;

/// Prefix of the environment variables that map groups to a role.
pub const ENV_PREFIX: &str = "GROUP_TO_ROLE_";

/// Longest role name accepted.
const MAX_ROLE_NAME: usize = 64;

/// Roles in precedence order with the groups that grant each.
#[derive(Debug, Clone, Default)]
pub struct RoleMap {
    /// (role, lower-cased group names), highest precedence first.
    roles: Vec<(String, Vec<String>)>,
}

impl RoleMap {
    /// The highest role any of `groups` grants (names compared case-insensitively).
    pub fn role_for(&self, groups: &[String]) -> Option<&str> {
        self.roles
            .iter()
            .find(|(_, granting)| {
                groups
                    .iter()
                    .any(|g| granting.iter().any(|x| x.eq_ignore_ascii_case(g)))
            })
            .map(|(role, _)| role.as_str())
    }

    /// Each role with the groups that grant it, highest first (for the access-denied page).
    pub fn granting_groups(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.roles.iter().map(|(r, g)| (r.as_str(), g.as_slice()))
    }
}

/// Why a roles file or a `GROUP_TO_ROLE_*` variable was refused.
#[derive(Debug, thiserror::Error)]
pub enum RolesError {
    #[error("cannot read roles file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error(
        "{origin}: role name {name:?} is not valid (lower-case letters, digits, '-' and '_', at most 64)"
    )]
    InvalidRoleName { origin: String, name: String },
    #[error("{origin}: role {name:?} is listed more than once")]
    DuplicateRole { origin: String, name: String },
    #[error("{origin}: role {role:?} has an empty group name")]
    EmptyGroup { origin: String, role: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    #[serde(default)]
    roles: Vec<RoleEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    name: String,
    groups: Vec<String>,
}

impl RoleMap {
    /// Parses the roles file format; `origin` names the file in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<RoleMap, RolesError> {
        let file: RolesFile = toml::from_str(text).map_err(|e| RolesError::Syntax {
            origin: origin.to_string(),
            message: e.message().to_string(),
        })?;
        let mut map = RoleMap::default();
        for entry in file.roles {
            check_role_name(&entry.name, origin)?;
            if map.position(&entry.name).is_some() {
                return Err(RolesError::DuplicateRole {
                    origin: origin.to_string(),
                    name: entry.name,
                });
            }
            let mut groups = Vec::with_capacity(entry.groups.len());
            for group in &entry.groups {
                let group = group.trim();
                if group.is_empty() {
                    return Err(RolesError::EmptyGroup {
                        origin: origin.to_string(),
                        role: entry.name,
                    });
                }
                push_unique(&mut groups, group);
            }
            map.roles.push((entry.name, groups));
        }
        Ok(map)
    }

    /// Reads and parses a roles file.
    pub fn load(path: impl AsRef<Path>) -> Result<RoleMap, RolesError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|error| RolesError::Read {
            path: path.display().to_string(),
            error,
        })?;
        RoleMap::from_toml_str(&text, &path.display().to_string())
    }

    /// Applies `GROUP_TO_ROLE_<ROLE>` variables (see the module doc for precedence);
    /// other variables are ignored. Pass `std::env::vars()`.
    pub fn with_env_overrides(
        mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<RoleMap, RolesError> {
        let mut overrides: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in vars {
            let Some(suffix) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let role = suffix.to_ascii_lowercase().replace('_', "-");
            check_role_name(&role, &key)?;
            overrides.push((role, parse_group_list(&value)));
        }
        // Environment order is arbitrary: sort so that appended roles get a stable order.
        overrides.sort_by(|a, b| a.0.cmp(&b.0));
        for (role, groups) in overrides {
            match self.position(&role) {
                Some(i) => self.roles[i].1 = groups,
                None => self.roles.push((role, groups)),
            }
        }
        Ok(self)
    }

    /// Whether no role is defined (nobody can get a token).
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty()
    }

    fn position(&self, role: &str) -> Option<usize> {
        self.roles.iter().position(|(r, _)| r == role)
    }
}

/// `"Group A, 'Group B',"` → `["group a", "group b"]`: comma list, quotes and blanks stripped.
fn parse_group_list(value: &str) -> Vec<String> {
    let mut groups = Vec::new();
    for part in value.split(',') {
        let group = part.trim().trim_matches(['"', '\'']).trim();
        if !group.is_empty() {
            push_unique(&mut groups, group);
        }
    }
    groups
}

fn push_unique(groups: &mut Vec<String>, group: &str) {
    let group = group.to_ascii_lowercase();
    if !groups.contains(&group) {
        groups.push(group);
    }
}

fn check_role_name(name: &str, origin: &str) -> Result<(), RolesError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_ROLE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(RolesError::InvalidRoleName {
            origin: origin.to_string(),
            name: name.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = r#"
[[roles]]
name = "super-admin"
groups = ["sso-super-admins"]

[[roles]]
name = "security-admin"
groups = ["sso-security-admins"]

[[roles]]
name = "viewer"
groups = ["sso-help-desk"]
"#;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn default_map() -> RoleMap {
        RoleMap::from_toml_str(DEFAULT, "roles.toml").expect("default roles parse")
    }

    fn order(map: &RoleMap) -> Vec<&str> {
        map.granting_groups().map(|(r, _)| r).collect()
    }

    #[test]
    fn shipped_policy_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/roles.toml");
        let map = RoleMap::load(&path).expect("policies/roles.toml loads");
        assert_eq!(map.role_for(&groups(&["sso-help-desk"])), Some("viewer"));
        assert!(!map.is_empty());
    }

    #[test]
    fn demo_users_get_their_roles() {
        let map = default_map();
        assert_eq!(map.role_for(&groups(&["sso-help-desk"])), Some("viewer"));
        assert_eq!(
            map.role_for(&groups(&["Everyone", "sso-security-admins"])),
            Some("security-admin")
        );
        assert_eq!(
            map.role_for(&groups(&["sso-super-admins"])),
            Some("super-admin")
        );
        assert_eq!(map.role_for(&groups(&["Everyone"])), None);
        assert_eq!(map.role_for(&[]), None);
    }

    #[test]
    fn highest_role_wins_whatever_the_order_of_groups() {
        let map = default_map();
        let all = groups(&["sso-help-desk", "sso-super-admins", "sso-security-admins"]);
        assert_eq!(map.role_for(&all), Some("super-admin"));
        let two = groups(&["sso-help-desk", "sso-security-admins"]);
        assert_eq!(map.role_for(&two), Some("security-admin"));
        assert_eq!(order(&map), ["super-admin", "security-admin", "viewer"]);
    }

    #[test]
    fn group_names_match_case_insensitively() {
        let text = r#"
[[roles]]
name = "viewer"
groups = ["SSO-Help-Desk", "  Read Only  "]
"#;
        let map = RoleMap::from_toml_str(text, "t").expect("parses");
        assert_eq!(map.role_for(&groups(&["sso-help-desk"])), Some("viewer"));
        assert_eq!(map.role_for(&groups(&["SSO-HELP-DESK"])), Some("viewer"));
        assert_eq!(map.role_for(&groups(&["read only"])), Some("viewer"));
        let (_, stored) = map.granting_groups().next().expect("one role");
        assert_eq!(stored, ["sso-help-desk", "read only"]);
    }

    #[test]
    fn empty_file_and_role_without_groups_are_allowed() {
        let map = RoleMap::from_toml_str("", "t").expect("empty parses");
        assert!(map.is_empty());
        assert_eq!(map.role_for(&groups(&["anything"])), None);
        let map = RoleMap::from_toml_str("[[roles]]\nname = \"viewer\"\ngroups = []\n", "t")
            .expect("parses");
        assert_eq!(map.role_for(&groups(&["viewer"])), None);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let top = "[[roles]]\nname = \"viewer\"\ngroups = []\n[extra]\nx = 1\n";
        let err = RoleMap::from_toml_str(top, "roles.toml").expect_err("unknown table");
        assert!(matches!(err, RolesError::Syntax { .. }), "{err}");
        assert!(err.to_string().starts_with("roles.toml: "), "{err}");
        let inner = "[[roles]]\nname = \"viewer\"\ngroups = []\nprecedence = 1\n";
        let err = RoleMap::from_toml_str(inner, "t").expect_err("unknown key");
        assert!(err.to_string().contains("precedence"), "{err}");
        let typo = "[[role]]\nname = \"viewer\"\ngroups = []\n";
        assert!(RoleMap::from_toml_str(typo, "t").is_err());
    }

    #[test]
    fn missing_fields_and_bad_syntax_are_refused() {
        assert!(RoleMap::from_toml_str("[[roles]]\nname = \"viewer\"\n", "t").is_err());
        assert!(RoleMap::from_toml_str("[[roles]]\ngroups = [\"g\"]\n", "t").is_err());
        assert!(RoleMap::from_toml_str("[[roles]\n", "t").is_err());
        assert!(RoleMap::from_toml_str("[[roles]]\nname = 1\ngroups = []\n", "t").is_err());
    }

    #[test]
    fn bad_role_names_are_refused() {
        for name in [
            "Viewer",
            "super admin",
            "",
            "viewer!",
            "rôle",
            &"a".repeat(65),
        ] {
            let text = format!("[[roles]]\nname = {name:?}\ngroups = [\"g\"]\n");
            let err = RoleMap::from_toml_str(&text, "t").expect_err(name);
            assert!(
                matches!(err, RolesError::InvalidRoleName { .. }),
                "{name}: {err}"
            );
        }
        for name in ["viewer", "super-admin", "read_only", "tier2"] {
            let text = format!("[[roles]]\nname = {name:?}\ngroups = [\"g\"]\n");
            assert!(RoleMap::from_toml_str(&text, "t").is_ok(), "{name}");
        }
    }

    #[test]
    fn duplicate_roles_and_empty_groups_are_refused() {
        let dup = "[[roles]]\nname = \"viewer\"\ngroups = [\"a\"]\n\
                   [[roles]]\nname = \"viewer\"\ngroups = [\"b\"]\n";
        let err = RoleMap::from_toml_str(dup, "t").expect_err("duplicate");
        assert!(matches!(err, RolesError::DuplicateRole { .. }), "{err}");
        let empty = "[[roles]]\nname = \"viewer\"\ngroups = [\"a\", \"  \"]\n";
        let err = RoleMap::from_toml_str(empty, "t").expect_err("empty group");
        assert!(matches!(err, RolesError::EmptyGroup { .. }), "{err}");
    }

    #[test]
    fn load_reports_the_path_of_a_missing_file() {
        let err = RoleMap::load("/nonexistent/roles.toml").expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/roles.toml"), "{err}");
    }

    #[test]
    fn env_replaces_the_groups_of_a_known_role() {
        let map = default_map()
            .with_env_overrides(env(&[("GROUP_TO_ROLE_VIEWER", "Okta Readers")]))
            .expect("valid");
        assert_eq!(map.role_for(&groups(&["okta readers"])), Some("viewer"));
        assert_eq!(map.role_for(&groups(&["sso-help-desk"])), None);
        assert_eq!(order(&map), ["super-admin", "security-admin", "viewer"]);
    }

    #[test]
    fn env_role_name_is_lower_cased_with_hyphens() {
        let map = default_map()
            .with_env_overrides(env(&[("GROUP_TO_ROLE_SUPER_ADMIN", "Admins")]))
            .expect("valid");
        assert_eq!(map.role_for(&groups(&["ADMINS"])), Some("super-admin"));
        assert_eq!(map.role_for(&groups(&["sso-super-admins"])), None);
        let map = default_map()
            .with_env_overrides(env(&[("GROUP_TO_ROLE_Security_Admin", "Sec")]))
            .expect("valid");
        assert_eq!(map.role_for(&groups(&["sec"])), Some("security-admin"));
    }

    #[test]
    fn env_values_strip_quotes_and_whitespace() {
        let map = RoleMap::default()
            .with_env_overrides(env(&[(
                "GROUP_TO_ROLE_VIEWER",
                r#""Group A, Group B" , 'Group C',,  "Group D"  "#,
            )]))
            .expect("valid");
        let (_, stored) = map.granting_groups().next().expect("one role");
        assert_eq!(stored, ["group a", "group b", "group c", "group d"]);
        assert_eq!(map.role_for(&groups(&["GROUP B"])), Some("viewer"));
        assert_eq!(map.role_for(&groups(&["Group C"])), Some("viewer"));
    }

    #[test]
    fn env_empty_value_leaves_the_role_without_groups() {
        for value in ["", "  ", "\"\"", " , ,"] {
            let map = default_map()
                .with_env_overrides(env(&[("GROUP_TO_ROLE_VIEWER", value)]))
                .expect("valid");
            assert_eq!(map.role_for(&groups(&["sso-help-desk"])), None, "{value:?}");
            assert_eq!(order(&map), ["super-admin", "security-admin", "viewer"]);
        }
    }

    #[test]
    fn env_roles_unknown_to_the_file_are_appended_lowest_in_name_order() {
        let map = default_map()
            .with_env_overrides(env(&[
                ("GROUP_TO_ROLE_ZETA", "Everyone"),
                ("GROUP_TO_ROLE_AUDITOR", "Auditors, Everyone"),
            ]))
            .expect("valid");
        assert_eq!(
            order(&map),
            ["super-admin", "security-admin", "viewer", "auditor", "zeta"]
        );
        assert_eq!(map.role_for(&groups(&["Everyone"])), Some("auditor"));
        assert_eq!(
            map.role_for(&groups(&["Everyone", "sso-help-desk"])),
            Some("viewer")
        );
    }

    #[test]
    fn env_only_configuration_works_without_a_file() {
        let map = RoleMap::default()
            .with_env_overrides(env(&[
                ("GROUP_TO_ROLE_VIEWER", "Users"),
                ("GROUP_TO_ROLE_SUPER_ADMIN", "Admins"),
                ("PATH", "/usr/bin"),
                ("group_to_role_viewer", "ignored: prefix is case-sensitive"),
            ]))
            .expect("valid");
        assert_eq!(order(&map), ["super-admin", "viewer"]);
        assert_eq!(
            map.role_for(&groups(&["users", "admins"])),
            Some("super-admin")
        );
    }

    #[test]
    fn env_bad_role_names_are_refused() {
        for key in [
            "GROUP_TO_ROLE_",
            "GROUP_TO_ROLE_SUPER.ADMIN",
            "GROUP_TO_ROLE_RÔLE",
        ] {
            let err = RoleMap::default()
                .with_env_overrides(env(&[(key, "g")]))
                .expect_err(key);
            assert!(
                matches!(err, RolesError::InvalidRoleName { .. }),
                "{key}: {err}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
