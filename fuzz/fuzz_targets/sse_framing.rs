//! SSE framing: `wrap` frames messages as events, and a reader that follows the WHATWG rules
//! reads them back. Input: read as an SSE stream (no panic, bounded output); when it is JSON
//! (a value or an array of them), framed by `wrap` and read back to the same text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::wrap::fuzzing::{sse_body, sse_data};

fuzz_target!(|data: &[u8]| {
    let events = sse_data(data);
    let total: usize = events.iter().map(String::len).sum();
    assert!(total <= 3 * data.len());

    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let messages = match value {
        serde_json::Value::Array(items) => items,
        single => vec![single],
    };
    let texts: Vec<String> = messages.iter().map(ToString::to_string).collect();
    assert_eq!(sse_data(&sse_body(messages)), texts);
});
