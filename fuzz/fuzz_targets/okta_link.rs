//! Okta's `Link` headers (RFC 8288), which decide the next page the client fetches. Input:
//! header values separated by `\n`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::okta::fuzzing::{next_link, parse_link_header};

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    for value in &values {
        let text = String::from_utf8_lossy(value);
        let links = parse_link_header(&text);
        assert!(links.len() <= text.matches('<').count());
        for (target, _) in &links {
            assert!(!target.contains('>'));
        }
    }
    if let Some(next) = next_link(&values) {
        assert!(!next.contains('>'));
    }
});
