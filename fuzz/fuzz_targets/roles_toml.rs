//! The roles file (`policies/roles.toml`) and `GROUP_TO_ROLE_*` variables. Input: the file;
//! its lines of the form `NAME=value` are also applied as environment variables.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::roles::RoleMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let map = RoleMap::from_toml_str(text, "roles.toml").unwrap_or_default();
    let vars = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (format!("GROUP_TO_ROLE_{}", k.trim()), v.to_owned()));
    if let Ok(map) = map.with_env_overrides(vars) {
        for (role, groups) in map.granting_groups() {
            assert!(!role.is_empty() && role.len() <= 64);
            // A user in a role's group gets that role or a higher one.
            if let Some(group) = groups.first() {
                assert!(map.role_for(std::slice::from_ref(group)).is_some());
            }
        }
    }
});
