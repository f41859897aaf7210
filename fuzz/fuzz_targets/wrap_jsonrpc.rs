//! What `wrap` reads as JSON-RPC: a client's POST body (one message or a batch) and each
//! message's kind. Input: the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_tool_server::wrap::fuzzing::{MessageKind, classify, parse_post_body};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = classify(&value);
        if let Some(batch) = value.as_array() {
            for message in batch {
                let _ = classify(message);
            }
        }
    }
    match parse_post_body(data) {
        Ok(messages) => {
            assert!(!messages.is_empty());
            for message in &messages {
                match classify(message) {
                    MessageKind::Invalid => panic!("accepted an invalid message: {message}"),
                    MessageKind::Notification { method } => {
                        assert!(method.starts_with("notifications/"))
                    }
                    _ => {}
                }
            }
        }
        Err(refusal) => assert_eq!(refusal.status.as_u16(), 400),
    }
});
