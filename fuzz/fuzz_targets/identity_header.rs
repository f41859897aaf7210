//! The tool server's check of the identity headers (`X-MCP-Identity` and the three it signs).
//! Input: header values separated by `\n` (identity, role, subject, email, session id); the
//! same fields are also signed and must verify once, then be a replay.
#![no_main]

use libfuzzer_sys::fuzz_target;
use okta_mcp_common::identity::{
    EMAIL_HEADER, IDENTITY_HEADER, Identity, IdentityError, IdentityKey, IdentityVerifier,
    ROLE_HEADER, RequestBinding, SESSION_HEADER, SUBJECT_HEADER, sign, sign_v2,
};

const KEY: &str = "okta-mcp-fuzz-key-0123456789abcdef-0123456789";
const NOW: i64 = 1_767_225_600;
const NOW_MS: i64 = NOW * 1000;

fuzz_target!(|data: &[u8]| {
    let key = IdentityKey::new(KEY).unwrap();
    // Started at the epoch, so headers signed at NOW are after its start.
    let verifier = IdentityVerifier::started_at(key.clone(), 0);
    let mut parts = data.split(|&b| b == b'\n');
    let names = [
        IDENTITY_HEADER,
        ROLE_HEADER,
        SUBJECT_HEADER,
        EMAIL_HEADER,
        SESSION_HEADER,
    ];
    let mut headers = http::HeaderMap::new();
    for name in names {
        if let Some(value) = parts
            .next()
            .and_then(|v| http::HeaderValue::from_bytes(v).ok())
        {
            headers.insert(name, value);
        }
    }
    // Junk is never accepted and never reaches the nonce cache.
    match verifier.verify("POST", "/mcp", &headers, NOW_MS) {
        Ok(identity) => panic!("accepted unsigned headers as {identity:?}"),
        Err(IdentityError::Replayed | IdentityError::Busy) => {
            panic!("junk reached the nonce cache")
        }
        Err(_) => {}
    }

    // The same values, signed as the proxy signs them, verify once.
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let identity = Identity {
        role: text(ROLE_HEADER),
        subject: text(SUBJECT_HEADER),
        email: text(EMAIL_HEADER),
    };
    let session = text(SESSION_HEADER);
    if identity.role.is_empty() {
        return;
    }
    let nonce = {
        use base64::Engine;
        let mut bytes = [0u8; 16];
        for (i, b) in data.iter().enumerate() {
            bytes[i % 16] ^= b.rotate_left(i as u32 % 8);
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    let binding = RequestBinding {
        method: "POST",
        path: "/mcp",
        session_id: &session,
    };
    let value = sign(&key, NOW, &nonce, binding, &identity);
    let mut signed = http::HeaderMap::new();
    signed.insert(IDENTITY_HEADER, value.parse().unwrap());
    signed.insert(ROLE_HEADER, identity.role.parse().unwrap());
    signed.insert(SUBJECT_HEADER, identity.subject.parse().unwrap());
    signed.insert(EMAIL_HEADER, identity.email.parse().unwrap());
    if !session.is_empty() {
        signed.insert(SESSION_HEADER, session.parse().unwrap());
    }
    assert_eq!(
        verifier.verify("POST", "/mcp", &signed, NOW_MS),
        Ok(identity.clone())
    );
    assert_eq!(
        verifier.verify("POST", "/mcp", &signed, NOW_MS),
        Err(IdentityError::Replayed)
    );

    // v2 (values percent-encoded): the same values with another nonce verify as themselves.
    let nonce_v2 = {
        use base64::Engine;
        let mut bytes = [0xa5u8; 16];
        bytes[..nonce.len().min(16)].copy_from_slice(&nonce.as_bytes()[..nonce.len().min(16)]);
        bytes[15] ^= 0xff;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    if let Ok(v2) = sign_v2(&key, NOW_MS, &nonce_v2, binding, &identity) {
        let mut signed = http::HeaderMap::new();
        signed.insert(IDENTITY_HEADER, v2.identity.parse().unwrap());
        signed.insert(ROLE_HEADER, v2.role.parse().unwrap());
        signed.insert(SUBJECT_HEADER, v2.subject.parse().unwrap());
        signed.insert(EMAIL_HEADER, v2.email.parse().unwrap());
        if !session.is_empty() {
            signed.insert(SESSION_HEADER, session.parse().unwrap());
        }
        assert_eq!(
            verifier.verify("POST", "/mcp", &signed, NOW_MS),
            Ok(identity)
        );
    }
});
