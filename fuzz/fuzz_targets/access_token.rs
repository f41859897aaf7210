//! Our access tokens (HS256 JWTs) as `/mcp` checks them. Input: a bearer token; its text is
//! also minted into a token's claims, which must decode to the same claims.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::tokens::{AccessTokens, Grant};

const NOW: i64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    let tokens = AccessTokens::new(
        [7; 32],
        "https://mcp.example.com",
        "https://mcp.example.com/mcp",
    );
    let text = String::from_utf8_lossy(data);
    assert!(
        tokens.decode(&text, NOW).is_err(),
        "accepted a token we never minted"
    );
    let mut fields = text.split('\n').map(str::to_owned);
    let mut next = || fields.next().unwrap_or_default();
    let grant = Grant {
        subject: next(),
        email: next(),
        role: next(),
        client_id: next(),
        scope: next(),
        family: next(),
    };
    let (token, claims) = tokens.mint(&grant, NOW, Duration::from_secs(60));
    assert_eq!(tokens.decode(&token, NOW), Ok(claims));
});
