//! The tool policy file (`policies/okta-tools.toml`). Input: the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::policy::ToolPolicy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = ToolPolicy::parse(text, "policy.toml") {
        for tool in policy.named_tools() {
            assert!(!tool.trim().is_empty());
        }
        let _ = policy.markdown_table(&["get_okta_user", "list_okta_users"]);
        // Not a valid role name, so no file can grant it anything.
        assert!(!policy.allows("No Such Role", "get_okta_user"));
    }
});
