//! Okta's error answers: the body a tool turns into its error, and the 429 headers that set
//! the wait. Input: two bytes of status, then the body; the body's first three lines are also
//! the `X-Rate-Limit-Reset`, `Date` and `Retry-After` values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::okta::fuzzing::{error_from_response, rate_limit_wait};

fuzz_target!(|data: &[u8]| {
    let [a, b, body @ ..] = data else {
        return;
    };
    let error = error_from_response(u16::from_be_bytes([*a, *b]), body);
    let message = error.to_string();
    assert!(!message.is_empty() && message.len() <= body.len() + 80);
    let _ = error.to_json();

    let mut lines = body.split(|&b| b == b'\n');
    let (reset, date, retry_after) = (lines.next(), lines.next(), lines.next());
    let wait = rate_limit_wait(reset, date, retry_after, 1_767_225_600);
    assert!(wait.as_secs() <= 60);
});
