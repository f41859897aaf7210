//! Redirect URIs: which may be registered, and which match at `/authorize`. Input: registered
//! URIs and, last, the requested one, separated by `\n`. The match must be the documented rule:
//! byte for byte, except the port of a loopback http URI (RFC 8252 §7.3).
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::oauth::fuzzing::{redirect_uri_allowed, redirect_uri_matches};

/// `uri` without the port of its authority, textually (RFC 3986: `port = *DIGIT`).
fn strip_port(uri: &str) -> String {
    let Some(start) = uri.find("://").map(|i| i + 3) else {
        return uri.to_owned();
    };
    let end = start
        + uri[start..]
            .find(['/', '?', '#'])
            .unwrap_or(uri.len() - start);
    let authority = &uri[start..end];
    match authority.rsplit_once(':') {
        Some((host, port))
            if port.bytes().all(|b| b.is_ascii_digit())
                && (host.ends_with(']') || !host.contains(':')) =>
        {
            format!("{}{host}{}", &uri[..start], &uri[end..])
        }
        _ => uri.to_owned(),
    }
}

fn loopback(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = &strip_port(&format!("http://{authority}"))["http://".len()..];
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "[::1]"
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut uris: Vec<&str> = text.split('\n').collect();
    let requested = uris.pop().unwrap_or("");
    // Only URIs registration allows can be registered.
    let registered: Vec<String> = uris
        .into_iter()
        .filter(|u| redirect_uri_allowed(u).is_ok())
        .map(str::to_owned)
        .collect();
    let allowed = redirect_uri_allowed(requested).is_ok();
    if allowed {
        assert!(!requested.contains('#') && requested.len() <= 2048);
    }
    let documented = registered.iter().any(|r| {
        r == requested
            || (allowed
                && loopback(r)
                && loopback(requested)
                && strip_port(r) == strip_port(requested))
    });
    assert_eq!(
        redirect_uri_matches(&registered, requested),
        documented,
        "registered {registered:?}, requested {requested:?}"
    );
});
