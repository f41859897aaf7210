//! `POST /register` bodies (RFC 7591 client metadata). Input: the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_proxy::oauth::fuzzing::registration_accepted;

fuzz_target!(|data: &[u8]| {
    let _ = registration_accepted(data);
});
