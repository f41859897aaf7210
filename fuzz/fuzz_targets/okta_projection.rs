//! The projection's JSON reader, which reads every Okta answer: it must accept what serde_json
//! accepts (with the same kept values) and refuse what serde_json refuses. Input: a body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::okta::fuzzing::parse_projected;

fuzz_target!(|data: &[u8]| {
    let ours = parse_projected(data, &["id", "profile.login", "target.alternateId"]);
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(_) => assert!(ours.is_ok(), "refused valid JSON: {ours:?}"),
        // Out-of-range numbers and lone surrogates are refused only where a value is built.
        Err(_) if serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok() => {}
        Err(_) => assert!(ours.is_err(), "accepted invalid JSON"),
    }
});
