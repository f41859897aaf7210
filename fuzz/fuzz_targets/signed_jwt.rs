//! Signed JWTs from outside: ID-JAGs and `private_key_jwt` client assertions, as `/token`
//! reads them (`jws::peek_header`, `jws::verify` against a key set) before any claim is trusted.
//! Input: a compact JWS; its first line is also tried as a JWKS (the clients file's `jwks`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::jws::{self, JwsError};

/// An EC P-256 public key (RFC 7517 A.1) and a shared secret the verifier must never use.
const KEYS: &str = r#"{"keys":[
  {"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
  {"kty":"oct","kid":"k2","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}]}"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let keys = jws::parse_key_set(KEYS).expect("test keys");
    let _ = jws::peek_header(&text);
    // Nobody holds the private half of k1, and k2 is a symmetric key: nothing verifies.
    match jws::verify(&text, &keys) {
        Ok(_) => panic!("a JWT verified without the key's private half"),
        Err(JwsError::Malformed(_) | JwsError::Algorithm(_) | JwsError::UnknownKey | JwsError::Signature) => {}
    }
    if let Some(first) = text.lines().next()
        && let Some(set) = jws::parse_key_set(first)
    {
        let _ = jws::verify(&text, &set);
    }
});
