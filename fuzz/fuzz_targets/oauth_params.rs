//! `/authorize` and `/token` parameters (query strings and form bodies) and the client
//! credentials of `Authorization: Basic`. Input: the query or form; also the header value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::oauth::fuzzing::{basic_client_credentials, parse_params};

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = parse_params(data) {
        // Whatever parsed answers lookups without panicking.
        for name in ["client_id", "redirect_uri", "code_verifier", "state", ""] {
            let _ = params.get(name);
        }
    }
    if let Ok(Some((id, secret))) = basic_client_credentials(data) {
        // Decoding never makes text longer than the header it came from.
        assert!(id.len() + secret.len() <= data.len());
    }
});
