//! The signed browser-session cookie, as every request with a `Cookie` header has it read.
//! Input: `Cookie` header values separated by `\n`; also sealed as a session that must open.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::session_cookie::SessionCookies;

const NOW: i64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    let cookies = SessionCookies::new(
        b"fuzz-session-secret-0123456789abcdef",
        false,
        Duration::from_secs(600),
        Duration::from_secs(900),
    );
    let mut headers = http::HeaderMap::new();
    for value in data.split(|&b| b == b'\n') {
        if let Ok(value) = http::HeaderValue::from_bytes(value) {
            headers.append(http::header::COOKIE, value);
        }
    }
    assert_eq!(
        cookies.read(&headers, NOW),
        None,
        "opened a cookie we never sealed"
    );
    let text = String::from_utf8_lossy(data);
    let session = cookies.new_session(&text, &text, &text, NOW);
    let set = cookies.set_cookie(&session);
    let pair = set.split(';').next().unwrap_or("");
    let mut sealed = http::HeaderMap::new();
    sealed.insert(http::header::COOKIE, pair.parse().unwrap());
    // A value longer than 4096 bytes is not read back, by design.
    let value = pair.split_once('=').map_or("", |(_, v)| v);
    if value.len() <= 4096 {
        assert_eq!(cookies.read(&sealed, NOW), Some(session));
    } else {
        assert_eq!(cookies.read(&sealed, NOW), None);
    }
});
